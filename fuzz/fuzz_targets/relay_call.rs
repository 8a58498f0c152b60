//! The relay's call logic on arbitrary Twilio and OpenAI messages, in any
//! order and timing: no panic, errors for what is malformed, and the
//! barge-in invariants hold (a truncation never passes the audio sent).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use teledsp_relay::call::{Action, Call, CallConfig};

fuzz_target!(|data: &[u8]| {
    let mut call =
        Call::new(CallConfig { local_vad: data.first().is_some_and(|b| b & 1 == 1), ..Default::default() }).unwrap();
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut sent_ms = 0u64;
    // Messages separated by 0x00: the byte before each picks the side and the clock step.
    for (i, chunk) in data.split(|&b| b == 0).enumerate() {
        let Some((&ctl, msg)) = chunk.split_first() else { continue };
        let Ok(text) = std::str::from_utf8(msg) else { continue };
        let now = t0 + Duration::from_millis(i as u64 * u64::from(ctl >> 1));
        out.clear();
        let r = if ctl & 1 == 0 { call.on_twilio(text, now, &mut out) } else { call.on_openai(text, now, &mut out) };
        if r.is_err() {
            assert!(out.iter().all(|a| !matches!(a, Action::Tool(_))));
        }
        for a in &out {
            match a {
                Action::Twilio(t) => {
                    let v: serde_json::Value = serde_json::from_str(t).expect("Twilio output is JSON");
                    if v["event"] == "media" {
                        sent_ms += 20;
                    }
                }
                Action::OpenAi(t) => {
                    let v: serde_json::Value = serde_json::from_str(t).expect("OpenAI output is JSON");
                    if v["type"] == "conversation.item.truncate" {
                        assert!(v["audio_end_ms"].as_u64().unwrap() <= sent_ms);
                    }
                }
                Action::Tool(_) | Action::Stop => {}
            }
        }
    }
});
