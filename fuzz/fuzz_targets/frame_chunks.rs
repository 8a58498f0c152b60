//! Arbitrary format, duration and chunking: frames are exact, nothing is
//! lost or duplicated, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::frame::{Flush, Format, Framer};

fuzz_target!(|data: &[u8]| {
    let [sel, ms, step, rest @ ..] = data else { return };
    let fmt = match sel % 6 {
        0 => Format::Ulaw,
        1 => Format::Alaw,
        n => Format::Pcm16 { rate: teledsp::resample::SUPPORTED_RATES[(n - 2) as usize] },
    };
    let Ok(mut f) = Framer::new(fmt, *ms as u32) else { return };
    let step = *step as usize + 1;
    let mut out = Vec::new();
    for chunk in rest.chunks(step) {
        f.push(chunk, |fr| {
            assert_eq!(fr.len(), f_len(fmt, *ms));
            out.extend_from_slice(fr)
        });
    }
    if let Some(t) = f.flush(Flush::Short) {
        out.extend_from_slice(t);
    }
    assert_eq!(out, rest);
});

fn f_len(fmt: Format, ms: u8) -> usize {
    Framer::new(fmt, ms as u32).unwrap().frame_bytes()
}
