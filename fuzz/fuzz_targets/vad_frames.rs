//! Arbitrary audio at every supported rate and frame size: probabilities
//! stay in [0, 1] (no NaN), events alternate, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::vad::{Vad, VadEvent};

fuzz_target!(|data: &[u8]| {
    let [sel, rest @ ..] = data else { return };
    let rate = [8000, 16000, 24000][(*sel % 3) as usize];
    let ms = [10, 20, 30][((*sel / 3) % 3) as usize];
    let mut vad = Vad::new(rate, ms).unwrap();
    let pcm: Vec<i16> = rest.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut speaking = false;
    for frame in pcm.chunks_exact(vad.frame_len()) {
        let p = vad.process(frame).unwrap();
        assert!((0.0..=1.0).contains(&p), "{p}");
        match vad.last_event() {
            Some(VadEvent::SpeechStart { at_ms }) => {
                assert!(!speaking && at_ms >= 0.0);
                speaking = true;
            }
            Some(VadEvent::SpeechEnd { .. }) => {
                assert!(speaking);
                speaking = false;
            }
            None => {}
        }
    }
    if rate == 8000 {
        let mut v = Vad::new(8000, ms).unwrap();
        for frame in rest.chunks_exact(v.frame_len()) {
            let p = v.process_ulaw(frame).unwrap();
            assert!((0.0..=1.0).contains(&p));
        }
    }
});
