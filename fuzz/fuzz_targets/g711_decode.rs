//! Every available decoder equals the scalar reference on arbitrary codes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::{Isa, g711::Kernels};

fuzz_target!(|data: &[u8]| {
    let scalar = Kernels::new(Isa::Scalar).unwrap();
    let mut want = vec![0i16; data.len()];
    let mut got = vec![0i16; data.len()];
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        scalar.ulaw_decode(data, &mut want).unwrap();
        k.ulaw_decode(data, &mut got).unwrap();
        assert_eq!(want, got, "{isa} ulaw");
        scalar.alaw_decode(data, &mut want).unwrap();
        k.alaw_decode(data, &mut got).unwrap();
        assert_eq!(want, got, "{isa} alaw");
    }
    // A short output buffer is an error, never a panic.
    if !data.is_empty() {
        assert!(scalar.ulaw_decode(data, &mut want[1..]).is_err());
    }
});
