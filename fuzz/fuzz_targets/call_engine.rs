//! The call engine on arbitrary phone and model messages, application
//! calls and clock steps: no panic; a refused input produces nothing;
//! every output is JSON; what a barge-in tells the model never exceeds what
//! was sent or generated, and an item is deleted exactly when none of it
//! was heard.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::call::{Call, CallConfig, Event, Output};

fuzz_target!(|data: &[u8]| {
    let cfg = CallConfig {
        local_vad: data.first().is_some_and(|b| b & 1 == 1),
        audio: if data.first().is_some_and(|b| b & 2 == 2) { "pcmu" } else { "pcm24k" }.parse().unwrap(),
        hold_ms: 100,
        ..Default::default()
    };
    let mut call = Call::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut now = 0u64;
    let mut sent_ms = 0u64;
    // Inputs separated by 0x00; the byte before each picks the input and the clock step.
    for chunk in data.split(|&b| b == 0) {
        let Some((&ctl, msg)) = chunk.split_first() else { continue };
        let Ok(text) = std::str::from_utf8(msg) else { continue };
        now += u64::from(ctl >> 3) * 7;
        out.clear();
        let r = match ctl & 7 {
            0 | 1 => call.receive_phone(text, now, &mut out),
            2..=4 => call.receive_model(text, now, &mut out),
            5 => {
                call.open_model(now, &mut out);
                Ok(())
            }
            6 => {
                call.barge_in(now, &mut out);
                Ok(())
            }
            _ => call.tool_result(text, "{}", now, &mut out),
        };
        if r.is_err() {
            assert!(out.is_empty(), "a refused input produced {out:?}");
        }
        for o in &out {
            match o {
                Output::Phone { text, .. } => {
                    let v: serde_json::Value = serde_json::from_str(text).expect("phone output is JSON");
                    if v["event"] == "media" {
                        sent_ms += 20;
                    }
                }
                Output::Model(t) => {
                    serde_json::from_str::<serde_json::Value>(t).expect("model output is JSON");
                }
                Output::Event(Event::BargeIn { items, .. }) => {
                    for h in items {
                        assert!(h.heard_ms <= h.sent_ms && h.heard_ms <= h.generated_ms && h.sent_ms <= sent_ms);
                        assert_eq!(h.action == "delete", h.heard_ms == 0);
                    }
                }
                Output::Event(e) => {
                    serde_json::from_str::<serde_json::Value>(&e.to_json()).expect("events are JSON");
                }
            }
        }
    }
});
