//! Every telephony and model adapter through the call engine, on arbitrary
//! text and binary messages: no panic; a refused input produces nothing;
//! text outputs are JSON; a barge-in never reports more heard than sent or
//! generated. The first byte picks the pair and the config.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::call::{Call, CallConfig, Event, ModelApi, Output, Telephony};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let model = ModelApi::ALL[(sel as usize / 6) % 4];
    let cfg = CallConfig {
        telephony: Telephony::ALL[sel as usize % 6],
        model,
        audio: match model {
            ModelApi::ElevenLabs => "pcm16k",
            ModelApi::Gemini => "pcm24k",
            _ if sel & 0x80 != 0 => "pcma",
            _ => "pcm24k",
        }
        .parse()
        .unwrap(),
        local_vad: sel & 0x40 != 0,
        hold_ms: 100,
        ..Default::default()
    };
    let mut call = Call::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut now = 0u64;
    for chunk in rest.split(|&b| b == 0) {
        let Some((&ctl, msg)) = chunk.split_first() else { continue };
        now += u64::from(ctl >> 4) * 13;
        out.clear();
        let r = match ctl & 3 {
            0 => call.receive_phone(&String::from_utf8_lossy(msg), now, &mut out),
            1 => call.receive_phone_binary(msg, now, &mut out),
            2 => call.receive_model(&String::from_utf8_lossy(msg), now, &mut out),
            _ => {
                call.barge_in(now, &mut out);
                call.open_model(now, &mut out);
                Ok(())
            }
        };
        if r.is_err() {
            assert!(out.is_empty(), "a refused input produced {out:?}");
        }
        for o in &out {
            match o {
                Output::Phone { text, .. } | Output::Model(text) => {
                    serde_json::from_str::<serde_json::Value>(text).expect("text outputs are JSON");
                }
                Output::Event(Event::BargeIn { items, .. }) => {
                    for h in items {
                        assert!(h.heard_ms <= h.sent_ms && h.heard_ms <= h.generated_ms, "{h:?}");
                    }
                }
                _ => {}
            }
        }
    }
});
