//! The cascaded-agent engine (`Pipeline`) on arbitrary phone messages, TTS
//! audio, utterance calls, barge-ins and clock steps, with the local VAD,
//! pause mode and the echo canceller on or off: no panic; a refused
//! input produces nothing; every phone message is JSON and every frame 20
//! ms; a barge-in never says more was heard than was sent or pushed, and an
//! utterance is deleted exactly when none of it was heard.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::call::{Event, Output, Pipeline, PipelineConfig, pipeline::Encoding};

fuzz_target!(|data: &[u8]| {
    let (encoding, sample_rate) = match data.first().map_or(0, |b| b & 3) {
        0 => (Encoding::Linear16, 24000),
        1 => (Encoding::Linear16, 16000),
        2 => (Encoding::Linear16, 8000),
        _ => (Encoding::Mulaw, 8000),
    };
    let flag = |bit: u8| data.first().is_some_and(|b| b & bit == bit);
    // Pause mode (it needs the local VAD) and the canceller, whose far end
    // is cleared, forgotten and placed as audio stops and starts.
    let resume_false_interruptions = flag(8);
    let local_vad = flag(4) || resume_false_interruptions;
    let cfg = PipelineConfig {
        encoding,
        sample_rate,
        local_vad,
        echo_cancel: flag(16),
        resume_false_interruptions,
        ..Default::default()
    };
    let mut p = Pipeline::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut now = 0u64;
    let mut sent_ms = 0u64;
    let start = r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#;
    // Inputs separated by 0x00; the byte before each picks the input and the clock step.
    for chunk in data.split(|&b| b == 0) {
        let Some((&ctl, msg)) = chunk.split_first() else { continue };
        now += u64::from(ctl >> 4) * 17;
        out.clear();
        let id = ["u1", "u2", "u3"][(msg.first().copied().unwrap_or(0) % 3) as usize];
        let r = match ctl & 7 {
            0 => p.receive_phone(start, now, &mut out),
            1 => match std::str::from_utf8(msg) {
                Ok(text) => p.receive_phone(text, now, &mut out),
                Err(_) => continue,
            },
            2 | 3 => p.push_audio(id, msg, now, &mut out),
            4 => {
                p.end_utterance(id, now, &mut out);
                Ok(())
            }
            5 => {
                p.begin_utterance(id, now);
                Ok(())
            }
            6 => {
                p.barge_in(now, &mut out);
                Ok(())
            }
            _ => {
                let name = format!("teledsp-{}", msg.first().copied().unwrap_or(1));
                p.receive_phone(
                    &format!(r#"{{"event":"mark","streamSid":"MZ1","mark":{{"name":"{name}"}}}}"#),
                    now,
                    &mut out,
                )
            }
        };
        if r.is_err() {
            assert!(out.is_empty(), "a refused input produced {out:?}");
        }
        for o in &out {
            match o {
                Output::PhoneBinary(_) => panic!("Twilio messages are text"),
                Output::Phone { text, .. } => {
                    let v: serde_json::Value = serde_json::from_str(text).expect("phone output is JSON");
                    if v["event"] == "media" {
                        sent_ms += 20;
                        let n = v["media"]["payload"].as_str().unwrap().len();
                        assert_eq!(n, 216, "a frame that is not 160 bytes");
                    }
                }
                Output::Event(Event::BargeIn { items, .. }) => {
                    for h in items {
                        assert!(
                            h.heard_ms <= h.sent_ms && h.heard_ms <= h.generated_ms && h.sent_ms <= sent_ms,
                            "{h:?}"
                        );
                        assert_eq!(h.action == "delete", h.heard_ms == 0);
                    }
                }
                Output::Event(e) => {
                    serde_json::from_str::<serde_json::Value>(&e.to_json()).expect("events are JSON");
                }
                Output::CallerAudio(_) => {}
                Output::Model(m) => panic!("a pipeline has no model: {m}"),
            }
        }
    }
});
