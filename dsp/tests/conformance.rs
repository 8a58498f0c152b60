//! The cross-language conformance scenarios in `tests/scenarios/` (at the
//! repository root) run against the call engine: [`Call`], or [`Pipeline`]
//! where a scenario's `kind` is `"pipeline"`. The Python and Node suites
//! run the same files; all three must give the same outputs, step by step,
//! and the same digest of every message text sent.
//!
//! The format is described in `tests/README.md`. `TELEDSP_BLESS=1` rewrites
//! each file's expectations from the engine's outputs (review the diff).

use std::path::{Path, PathBuf};

use base64_simd::STANDARD as B64;
use serde_json::{Value, json};
use teledsp::call::{Call, CallConfig, Output, PhoneKind, Pipeline, PipelineConfig};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// The bytes a `{"gen": ..., "ms": ..., "seed": ...}` object describes
/// (see tests/README.md).
fn generate(m: &serde_json::Map<String, Value>) -> Vec<u8> {
    let ms = m["ms"].as_u64().expect("gen.ms");
    let seed = m.get("seed").and_then(Value::as_u64).unwrap_or(0);
    // PCM only: each sample shifted right (6 dB quieter per step), for echoes.
    let shift = m.get("shift").and_then(Value::as_u64).unwrap_or(0);
    let pcm = |rate: u64| -> Vec<u8> {
        (0..ms * rate / 1000)
            .flat_map(|i| {
                let s = if seed == 0 { 0 } else { ((seed * 7919 + i * 37) % 4001) as i16 - 2000 };
                (s >> shift).to_le_bytes()
            })
            .collect()
    };
    let g711 = |silence: u8| -> Vec<u8> {
        (0..ms * 8).map(|i| if seed == 0 { silence } else { ((seed * 31 + i * 7) % 256) as u8 }).collect()
    };
    match m["gen"].as_str().expect("gen kind") {
        "pcm24k" => pcm(24000),
        "pcm16" => pcm(m["rate"].as_u64().expect("gen.rate")),
        "ulaw" => g711(0xFF),
        "alaw" => g711(0xD5),
        other => panic!("unknown gen {other}"),
    }
}

/// Replaces every gen object with the base64 audio it describes.
fn expand(v: &mut Value) {
    match v {
        Value::Object(m) if m.contains_key("gen") => {
            *v = Value::String(B64.encode_to_string(generate(m)));
        }
        Value::Object(m) => m.values_mut().for_each(expand),
        Value::Array(a) => a.iter_mut().for_each(expand),
        _ => {}
    }
}

/// A media message: extends the run of media messages alike in silence.
fn push_media(v: &mut Vec<Value>, payload: &[u8]) {
    // Silence in any phone codec: mu-law 0xFF/0x7F, A-law 0xD5/0x55, PCM 0.
    let silent = payload.iter().all(|&b| b == 0xFF || b == 0x7F)
        || payload.iter().all(|&b| b == 0xD5 || b == 0x55)
        || payload.iter().all(|&b| b == 0);
    if let Some(last) = v.last_mut()
        && last["phone"] == "media"
        && last["silent"] == silent
    {
        last["frames"] = json!(last["frames"].as_u64().unwrap() + 1);
        return;
    }
    v.push(json!({"phone": "media", "frames": 1, "silent": silent}));
}

/// A playback mark's name, wherever its protocol puts it.
fn mark_name(msg: &Value) -> Value {
    [&msg["mark"]["name"], &msg["name"], &msg["payload"]["name"]].into_iter().find(|n| n.is_string()).cloned().unwrap()
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
                        push_media(&mut v, &payload);
                    }
                    PhoneKind::Mark => v.push(json!({"phone": "mark", "name": mark_name(&msg)})),
                    PhoneKind::Clear => v.push(json!({"phone": "clear"})),
                }
            }
            Output::PhoneBinary(data) => {
                digest.update(data);
                digest.update(b"\n");
                push_media(&mut v, data);
            }
            Output::Model(text) => {
                digest.update(text.as_bytes());
                digest.update(b"\n");
                let msg: Value = serde_json::from_str(text).unwrap();
                // Caller audio, in each API's message.
                let append = if msg["type"] == "input_audio_buffer.append" {
                    Some(("input_audio_buffer.append", &msg["audio"]))
                } else if msg["realtimeInput"]["audio"].is_object() {
                    Some(("realtimeInput.audio", &msg["realtimeInput"]["audio"]["data"]))
                } else if msg["user_audio_chunk"].is_string() {
                    Some(("user_audio_chunk", &msg["user_audio_chunk"]))
                } else {
                    None
                };
                match append {
                    Some((name, audio)) => {
                        let n = B64.decode_to_vec(audio.as_str().unwrap()).unwrap().len();
                        v.push(json!({"model": name, "audio_bytes": n}));
                    }
                    None => v.push(json!({"model": msg})),
                }
            }
            Output::Event(e) => v.push(json!({"event": serde_json::from_str::<Value>(&e.to_json()).unwrap()})),
            Output::CallerAudio(data) => {
                digest.update(data);
                digest.update(b"\n");
                v.push(json!({"caller_audio": data.len()}));
            }
        }
    }
    v
}

/// The engine a scenario drives.
enum Engine {
    Call(Box<Call>),
    Pipeline(Box<Pipeline>),
}

impl Engine {
    /// One step's input; `None` if the step has none this engine takes.
    fn step(&mut self, step: &Value, at: u64, out: &mut Vec<Output>) -> Option<Result<(), teledsp::Error>> {
        let expanded = |m: &Value| {
            let mut m = m.clone();
            expand(&mut m);
            m.to_string()
        };
        // The phone side is the same for both.
        let phone: &mut dyn Phone = match self {
            Engine::Call(c) => &mut **c,
            Engine::Pipeline(p) => &mut **p,
        };
        if let Some(m) = step.get("phone") {
            return Some(phone.text(&expanded(m), at, out));
        } else if let Some(Value::Object(g)) = step.get("phone_binary") {
            return Some(phone.binary(&generate(g), at, out));
        } else if let Some(t) = step.get("phone_text") {
            return Some(phone.text(t.as_str().unwrap(), at, out));
        }
        Some(match self {
            Engine::Call(call) => {
                if let Some(m) = step.get("model") {
                    call.receive_model(&expanded(m), at, out)
                } else if let Some(t) = step.get("model_text") {
                    call.receive_model(t.as_str().unwrap(), at, out)
                } else if step.get("open_model").is_some() {
                    call.open_model(at, out);
                    Ok(())
                } else if step.get("barge_in").is_some() {
                    call.barge_in(at, out);
                    Ok(())
                } else if let Some(t) = step.get("tool_result") {
                    call.tool_result(t["call_id"].as_str().unwrap(), t["output"].as_str().unwrap(), at, out)
                } else {
                    return None;
                }
            }
            Engine::Pipeline(p) => {
                if let Some(a) = step.get("push_audio") {
                    let Value::Object(g) = &a["audio"] else { panic!("push_audio.audio is a gen object") };
                    p.push_audio(a["id"].as_str().unwrap(), &generate(g), at, out)
                } else if let Some(id) = step.get("begin_utterance") {
                    p.begin_utterance(id.as_str().unwrap(), at);
                    Ok(())
                } else if let Some(id) = step.get("end_utterance") {
                    p.end_utterance(id.as_str().unwrap(), at, out);
                    Ok(())
                } else if step.get("barge_in").is_some() {
                    p.barge_in(at, out);
                    Ok(())
                } else {
                    return None;
                }
            }
        })
    }

    fn counters(&self) -> teledsp::call::Counters {
        match self {
            Engine::Call(c) => c.counters(),
            Engine::Pipeline(p) => p.counters(),
        }
    }
}

/// The phone side both engines take.
trait Phone {
    fn text(&mut self, text: &str, at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error>;
    fn binary(&mut self, data: &[u8], at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error>;
}

impl Phone for Call {
    fn text(&mut self, text: &str, at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error> {
        self.receive_phone(text, at, out)
    }
    fn binary(&mut self, data: &[u8], at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error> {
        self.receive_phone_binary(data, at, out)
    }
}

impl Phone for Pipeline {
    fn text(&mut self, text: &str, at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error> {
        self.receive_phone(text, at, out)
    }
    fn binary(&mut self, data: &[u8], at: u64, out: &mut Vec<Output>) -> Result<(), teledsp::Error> {
        self.receive_phone_binary(data, at, out)
    }
}

fn run(path: &Path, bless: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut engine = match sc["kind"].as_str().unwrap_or("call") {
        "call" => Engine::Call(Box::new(
            Call::new(CallConfig::from_json(&sc["config"].to_string()).map_err(|e| e.to_string())?).unwrap(),
        )),
        "pipeline" => Engine::Pipeline(Box::new(
            Pipeline::new(PipelineConfig::from_json(&sc["config"].to_string()).map_err(|e| e.to_string())?).unwrap(),
        )),
        other => return Err(format!("{}: unknown kind {other}", path.display())),
    };
    let mut digest = crc32fast::Hasher::new();
    let mut failures = Vec::new();
    let steps = sc["steps"].as_array_mut().unwrap();
    for (i, step) in steps.iter_mut().enumerate() {
        let at = step["at"].as_u64().expect("step.at");
        let mut out = Vec::new();
        let result =
            engine.step(step, at, &mut out).unwrap_or_else(|| panic!("{}: step {i} has no input", path.display()));
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
    let counters = serde_json::to_value(engine.counters()).unwrap();
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
