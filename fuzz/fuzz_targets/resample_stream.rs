//! Arbitrary rate pair, preset, chunk sizes and samples: streaming equals
//! one-shot, sizes are exact, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::resample::{Quality, Resampler, SUPPORTED_RATES};

fuzz_target!(|data: &[u8]| {
    let [sel, q, c0, c1, rest @ ..] = data else { return };
    let a = SUPPORTED_RATES[(*sel & 3) as usize];
    let b = SUPPORTED_RATES[((*sel >> 2) & 3) as usize];
    let q = Quality::ALL[*q as usize % 3];
    let x: Vec<i16> = rest.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect();
    let mut one = Resampler::new(a, b, q).unwrap();
    let whole = one.process_i16_vec(&x);
    assert_eq!(whole.len() as u64, x.len() as u64 * b as u64 / a as u64);
    let mut r = Resampler::new(a, b, q).unwrap();
    let sizes = [*c0 as usize, *c1 as usize * 7 + 1];
    let (mut got, mut at, mut i) = (Vec::new(), 0, 0);
    while at < x.len() {
        let n = sizes[i % 2].min(x.len() - at);
        let mut o = vec![0i16; r.output_len(n)];
        assert_eq!(r.process_i16(&x[at..at + n], &mut o).unwrap(), o.len());
        got.extend_from_slice(&o);
        at += n;
        i += 1;
    }
    assert_eq!(got, whole);
    // A too-short output is an error, not a panic.
    if !whole.is_empty() {
        let mut fresh = Resampler::new(a, b, q).unwrap();
        assert!(fresh.process_i16(&x, &mut vec![0; whole.len() - 1]).is_err());
    }
    assert_eq!(r.flush_i16_vec(), one.flush_i16_vec());
});
