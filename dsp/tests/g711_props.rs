//! Property tests: every available kernel set equals the scalar reference
//! for arbitrary lengths and unaligned starts; round trips stay within the
//! G.711 quantisation step.

use proptest::prelude::*;
use teledsp::{Isa, g711::Kernels};

fn scalar() -> Kernels {
    Kernels::new(Isa::Scalar).unwrap()
}

/// A buffer plus an offset, so slices start at every alignment.
fn pcm_with_offset() -> impl Strategy<Value = (Vec<i16>, usize)> {
    let lens = prop_oneof![Just(0usize), Just(1), Just(15), Just(63), Just(65), Just(160), 0usize..600,];
    (lens, 0usize..64).prop_flat_map(|(n, off)| (proptest::collection::vec(any::<i16>(), n + off), Just(off)))
}

fn codes_with_offset() -> impl Strategy<Value = (Vec<u8>, usize)> {
    (prop_oneof![Just(0usize), Just(1), Just(15), Just(63), Just(65), 0usize..600], 0usize..64)
        .prop_flat_map(|(n, off)| (proptest::collection::vec(any::<u8>(), n + off), Just(off)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoders_equal_scalar((buf, off) in pcm_with_offset(), dst_off in 0usize..32) {
        let src = &buf[off..];
        let n = src.len();
        let mut want = vec![0u8; n];
        // Unaligned destination too.
        let mut got_buf = vec![0u8; n + dst_off];
        for isa in Isa::available() {
            let k = Kernels::new(isa).unwrap();
            let got = &mut got_buf[dst_off..];
            scalar().ulaw_encode(src, &mut want).unwrap();
            k.ulaw_encode(src, got).unwrap();
            prop_assert_eq!(&want[..], &got[..], "{} ulaw", isa);
            scalar().ulaw_encode_audioop(src, &mut want).unwrap();
            k.ulaw_encode_audioop(src, got).unwrap();
            prop_assert_eq!(&want[..], &got[..], "{} audioop", isa);
            scalar().alaw_encode(src, &mut want).unwrap();
            k.alaw_encode(src, got).unwrap();
            prop_assert_eq!(&want[..], &got[..], "{} alaw", isa);
        }
    }

    #[test]
    fn decoders_and_transcoders_equal_scalar((buf, off) in codes_with_offset(), dst_off in 0usize..32) {
        let src = &buf[off..];
        let n = src.len();
        let mut want = vec![0i16; n];
        let mut got_buf = vec![0i16; n + dst_off];
        let mut want8 = vec![0u8; n];
        let mut got8_buf = vec![0u8; n + dst_off];
        for isa in Isa::available() {
            let k = Kernels::new(isa).unwrap();
            let got = &mut got_buf[dst_off..];
            scalar().ulaw_decode(src, &mut want).unwrap();
            k.ulaw_decode(src, got).unwrap();
            prop_assert_eq!(&want[..], &got[..], "{} ulaw", isa);
            scalar().alaw_decode(src, &mut want).unwrap();
            k.alaw_decode(src, got).unwrap();
            prop_assert_eq!(&want[..], &got[..], "{} alaw", isa);
            let got8 = &mut got8_buf[dst_off..];
            scalar().ulaw_to_alaw(src, &mut want8).unwrap();
            k.ulaw_to_alaw(src, got8).unwrap();
            prop_assert_eq!(&want8[..], &got8[..], "{} u->a", isa);
            scalar().alaw_to_ulaw(src, &mut want8).unwrap();
            k.alaw_to_ulaw(src, got8).unwrap();
            prop_assert_eq!(&want8[..], &got8[..], "{} a->u", isa);
        }
    }

    #[test]
    fn round_trip_within_the_quantisation_step(x in any::<i16>()) {
        use teledsp::g711::{alaw_decode_sample, alaw_encode_sample, ulaw_decode_sample, ulaw_encode_sample};
        let xi = x as i32;
        // mu-law: segment e of the code has intervals of 8 << e (16-bit
        // units); the decoder returns the interval's midpoint, so the error
        // is at most half a step, plus the 2 bits the encoder truncates.
        let c = ulaw_encode_sample(x);
        let u = ulaw_decode_sample(c) as i32;
        let step = 8 << ((!c >> 4) & 7);
        if (!c & 0x7F) == 0x7F {
            prop_assert_eq!(u.abs(), 32124); // top code: clipping region
            prop_assert!(xi.abs() >= 32124 - step / 2 - 4);
        } else {
            prop_assert!((u - xi).abs() <= step / 2 + 4, "mu {} -> {} (step {})", x, u, step);
        }
        // A-law: segments 0 and 1 step 16, segment e >= 1 steps 16 << (e - 1);
        // the encoder truncates 4 bits.
        let c = alaw_encode_sample(x);
        let a = alaw_decode_sample(c) as i32;
        let e = ((c ^ 0x55) >> 4) & 7;
        let step = 16 << e.saturating_sub(1);
        if ((c ^ 0x55) & 0x7F) == 0x7F {
            prop_assert_eq!(a.abs(), 32256);
            prop_assert!(xi.abs() >= 32256 - step / 2 - 8);
        } else {
            prop_assert!((a - xi).abs() <= step / 2 + 8, "A {} -> {} (step {})", x, a, step);
        }
        // Re-encoding a decoded level gives the same level. (Not always the
        // same code: mu-law has two zeros, and -1..-3 encode to the negative
        // one, 0x7F, which decodes to 0 and re-encodes to 0xFF.)
        prop_assert_eq!(ulaw_decode_sample(ulaw_encode_sample(u as i16)) as i32, u);
        prop_assert_eq!(alaw_decode_sample(alaw_encode_sample(a as i16)) as i32, a);
    }
}
