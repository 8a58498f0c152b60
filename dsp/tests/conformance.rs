//! The cross-language conformance scenarios in `tests/scenarios/` (at the
//! repository root) run against the call engine. The Python and Node suites
//! run the same files; all three must give the same outputs, step by step,
//! and the same digest of every message text sent.
//!
//! The format is described in `tests/README.md`. `TELEDSP_BLESS=1` rewrites
//! each file's expectations from the engine's outputs (review the diff).

use std::path::{Path, PathBuf};

use base64_simd::STANDARD as B64;
use serde_json::{Value, json};
use teledsp::call::{Call, CallConfig, Output, PhoneKind};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// Replaces every `{"gen": ..., "ms": ..., "seed": ...}` object with the
/// base64 audio it describes (see tests/README.md).
fn expand(v: &mut Value) {
    match v {
        Value::Object(m) if m.contains_key("gen") => {
            let ms = m["ms"].as_u64().expect("gen.ms");
            let seed = m.get("seed").and_then(Value::as_u64).unwrap_or(0);
            let bytes: Vec<u8> = match m["gen"].as_str().expect("gen kind") {
                "pcm24k" => (0..ms * 24)
                    .flat_map(|i| {
                        let s = if seed == 0 { 0 } else { ((seed * 7919 + i * 37) % 4001) as i16 - 2000 };
                        s.to_le_bytes()
                    })
                    .collect(),
                "ulaw" => {
                    (0..ms * 8).map(|i| if seed == 0 { 0xFF } else { ((seed * 31 + i * 7) % 256) as u8 }).collect()
                }
                other => panic!("unknown gen {other}"),
            };
            *v = Value::String(B64.encode_to_string(bytes));
        }
        Value::Object(m) => m.values_mut().for_each(expand),
        Value::Array(a) => a.iter_mut().for_each(expand),
        _ => {}
    }
}

/// The outputs of one step in the scenarios' compact form.
fn summarize(outs: &[Output], digest: &mut crc32fast::Hasher) -> Vec<Value> {
    let mut v: Vec<Value> = Vec::new();
    for o in outs {
        match o {
            Output::Phone { kind, text } => {
                digest.update(text.as_bytes());
                digest.update(b"\n");
                let msg: Value = serde_json::from_str(text).unwrap();
                match kind {
                    PhoneKind::Media => {
                        let payload = B64.decode_to_vec(msg["media"]["payload"].as_str().unwrap()).unwrap();
                        let silent = payload.iter().all(|&b| b == 0xFF || b == 0x7F);
                        if let Some(last) = v.last_mut()
                            && last["phone"] == "media"
                            && last["silent"] == silent
                        {
                            last["frames"] = json!(last["frames"].as_u64().unwrap() + 1);
                            continue;
                        }
                        v.push(json!({"phone": "media", "frames": 1, "silent": silent}));
                    }
                    PhoneKind::Mark => v.push(json!({"phone": "mark", "name": msg["mark"]["name"]})),
                    PhoneKind::Clear => v.push(json!({"phone": "clear"})),
                }
            }
            Output::Model(text) => {
                digest.update(text.as_bytes());
                digest.update(b"\n");
                let msg: Value = serde_json::from_str(text).unwrap();
                if msg["type"] == "input_audio_buffer.append" {
                    let n = B64.decode_to_vec(msg["audio"].as_str().unwrap()).unwrap().len();
                    v.push(json!({"model": "input_audio_buffer.append", "audio_bytes": n}));
                } else {
                    v.push(json!({"model": msg}));
                }
            }
            Output::Event(e) => v.push(json!({"event": serde_json::from_str::<Value>(&e.to_json()).unwrap()})),
            Output::CallerAudio(_) => panic!("a Call sends caller audio to the model, not out"),
            Output::PhoneBinary(_) => panic!("binary phone messages are compacted below"),
        }
    }
    v
}

fn run(path: &Path, bless: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let cfg = CallConfig::from_json(&sc["config"].to_string()).map_err(|e| e.to_string())?;
    let mut call = Call::new(cfg).unwrap();
    let mut digest = crc32fast::Hasher::new();
    let mut failures = Vec::new();
    let steps = sc["steps"].as_array_mut().unwrap();
    for (i, step) in steps.iter_mut().enumerate() {
        let at = step["at"].as_u64().expect("step.at");
        let mut out = Vec::new();
        let result = if let Some(m) = step.get("phone") {
            let mut m = m.clone();
            expand(&mut m);
            call.receive_phone(&m.to_string(), at, &mut out)
        } else if let Some(m) = step.get("model") {
            let mut m = m.clone();
            expand(&mut m);
            call.receive_model(&m.to_string(), at, &mut out)
        } else if let Some(t) = step.get("phone_text") {
            call.receive_phone(t.as_str().unwrap(), at, &mut out)
        } else if let Some(t) = step.get("model_text") {
            call.receive_model(t.as_str().unwrap(), at, &mut out)
        } else if step.get("open_model").is_some() {
            call.open_model(at, &mut out);
            Ok(())
        } else if step.get("barge_in").is_some() {
            call.barge_in(at, &mut out);
            Ok(())
        } else if let Some(t) = step.get("tool_result") {
            call.tool_result(t["call_id"].as_str().unwrap(), t["output"].as_str().unwrap(), at, &mut out)
        } else {
            panic!("{}: step {i} has no input", path.display());
        };
        let mut got = summarize(&out, &mut digest);
        if let Err(e) = result {
            got.push(json!({"error": e.to_string()}));
        }
        if bless {
            step["expect"] = Value::Array(got);
        } else if step["expect"] != Value::Array(got.clone()) {
            failures.push(format!("step {i} (at {at}): expected {}\n  got {}", step["expect"], Value::Array(got)));
        }
    }
    let counters = serde_json::to_value(call.counters()).unwrap();
    let digest = format!("{:08x}", digest.finalize());
    if bless {
        sc["counters"] = counters;
        sc["digest"] = json!(digest);
        let mut text = serde_json::to_string_pretty(&sc).unwrap();
        text.push('\n');
        std::fs::write(path, text).unwrap();
        return Ok(());
    }
    if sc["counters"] != counters {
        failures.push(format!("counters: expected {}\n  got {counters}", sc["counters"]));
    }
    if sc["digest"] != json!(digest) {
        failures.push(format!("digest: expected {}, got {digest}", sc["digest"]));
    }
    if failures.is_empty() { Ok(()) } else { Err(format!("{}:\n{}", path.display(), failures.join("\n"))) }
}

#[test]
fn every_scenario_gives_its_expected_outputs() {
    let bless = std::env::var_os("TELEDSP_BLESS").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("tests/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 11, "the issue's scenarios are all there: {}", paths.len());
    let errors: Vec<String> = paths.iter().filter_map(|p| run(p, bless).err()).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}
