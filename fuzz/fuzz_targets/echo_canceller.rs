//! Arbitrary far and near audio, at both rates and frame sizes, with the
//! suppressor on or off and any delay hint, the far end now and then
//! forgotten (a clear) or its newest frame amended (a spurt sent within
//! it): nothing panics, every frame is processed, and with a far end of
//! zeros the near end passes unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::echo::{EchoCanceller, EchoConfig};

fuzz_target!(|data: &[u8]| {
    let [sel, hint, rest @ ..] = data else { return };
    let cfg = EchoConfig {
        sample_rate: [8000, 16000][(*sel & 1) as usize],
        frame_ms: [10, 20][((*sel >> 1) & 1) as usize],
        suppress: *sel & 4 != 0,
        ..EchoConfig::default()
    };
    let silent_far = *sel & 8 != 0;
    let mut aec = EchoCanceller::with_config(cfg).unwrap();
    aec.set_delay_hint(u32::from(*hint) * 4);
    let n = aec.frame_len();
    let pcm: Vec<i16> = rest.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let zeros = vec![0i16; n];
    let mut out = vec![0i16; n];
    for pair in pcm.chunks_exact(2 * n) {
        let (far, near) = pair.split_at(n);
        let far = if silent_far { &zeros[..] } else { far };
        aec.process(far, near, &mut out).unwrap();
        if silent_far {
            assert_eq!(out, near, "no far end, nothing to cancel");
        }
        match near[0] as u16 % 16 {
            0 => aec.forget_far(near[n - 1] as u16 as u32 % 2000),
            1 => aec.amend_far(far).unwrap(),
            _ => {}
        }
    }
    let s = aec.stats();
    assert!(s.erle_db.is_finite() && s.erle_db >= 0.0, "{s:?}");
    assert!(s.delay_ms <= cfg.max_delay_ms, "{s:?}");
});
