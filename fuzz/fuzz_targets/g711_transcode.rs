//! Every available transcoder equals the scalar table on arbitrary codes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::{Isa, g711::Kernels};

fuzz_target!(|data: &[u8]| {
    let scalar = Kernels::new(Isa::Scalar).unwrap();
    let mut want = vec![0u8; data.len()];
    let mut got = vec![0u8; data.len()];
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        scalar.ulaw_to_alaw(data, &mut want).unwrap();
        k.ulaw_to_alaw(data, &mut got).unwrap();
        assert_eq!(want, got, "{isa} u->a");
        scalar.alaw_to_ulaw(data, &mut want).unwrap();
        k.alaw_to_ulaw(data, &mut got).unwrap();
        assert_eq!(want, got, "{isa} a->u");
    }
});
