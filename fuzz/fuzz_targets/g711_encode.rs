//! Every available encoder (G.711 mu, audioop mu, A) equals the scalar
//! reference on arbitrary samples, lengths and start alignments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::{Isa, g711::Kernels};

fuzz_target!(|data: &[u8]| {
    let Some((&off, rest)) = data.split_first() else { return };
    let pcm: Vec<i16> = rest.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let src = &pcm[(off as usize % 8).min(pcm.len())..];
    let scalar = Kernels::new(Isa::Scalar).unwrap();
    let mut want = vec![0u8; src.len()];
    let mut got = vec![0u8; src.len()];
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        scalar.ulaw_encode(src, &mut want).unwrap();
        k.ulaw_encode(src, &mut got).unwrap();
        assert_eq!(want, got, "{isa} ulaw");
        scalar.ulaw_encode_audioop(src, &mut want).unwrap();
        k.ulaw_encode_audioop(src, &mut got).unwrap();
        assert_eq!(want, got, "{isa} audioop");
        scalar.alaw_encode(src, &mut want).unwrap();
        k.alaw_encode(src, &mut got).unwrap();
        assert_eq!(want, got, "{isa} alaw");
    }
});
