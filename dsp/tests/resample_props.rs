//! Streaming invariants of the resampler (proptest): chunking never changes
//! the output, sizes are exact on every call, every ISA equals scalar.

use proptest::prelude::*;
use teledsp::resample::{Quality, Resampler, SUPPORTED_RATES};
use teledsp::{Error, Expected, Isa};

fn pair() -> impl Strategy<Value = (u32, u32)> {
    (0usize..4, 0usize..4)
        .prop_filter("distinct rates", |(a, b)| a != b)
        .prop_map(|(a, b)| (SUPPORTED_RATES[a], SUPPORTED_RATES[b]))
}

fn quality() -> impl Strategy<Value = Quality> {
    prop_oneof![Just(Quality::Telephony), Just(Quality::Transparent), Just(Quality::LowLatency)]
}

/// Splits `n` samples into chunks of the given sizes (cycled), including 0.
fn chunks(n: usize, sizes: &[usize]) -> Vec<(usize, usize)> {
    // A zero size is an empty chunk (a call with no input); when every size
    // is zero, the rest is one chunk (else this would loop, growing `out`
    // until the machine runs out of memory: a CI run was OOM-killed so).
    let all_zero = sizes.iter().all(|&s| s == 0);
    let (mut out, mut at, mut i) = (vec![], 0, 0);
    while at < n {
        let s = if all_zero { n - at } else { sizes[i % sizes.len()].min(n - at) };
        out.push((at, at + s));
        at += s;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_chunking_equals_one_shot_with_exact_sizes(
        (a, b) in pair(),
        q in quality(),
        x in proptest::collection::vec(any::<i16>(), 0..3000),
        sizes in proptest::collection::vec(0usize..700, 1..12),
    ) {
        let mut one = Resampler::new(a, b, q).unwrap();
        let whole = one.process_i16_vec(&x);
        prop_assert_eq!(whole.len() as u64, x.len() as u64 * b as u64 / a as u64);
        let mut r = Resampler::new(a, b, q).unwrap();
        let mut got = Vec::new();
        let mut fed = 0u64;
        for (s, e) in chunks(x.len(), &sizes) {
            let mut o = vec![0i16; r.output_len(e - s)];
            let n = r.process_i16(&x[s..e], &mut o).unwrap();
            fed += (e - s) as u64;
            got.extend_from_slice(&o[..n]);
            // Exact: total out == floor(total in * out / in), after every call.
            prop_assert_eq!(got.len() as u64, fed * b as u64 / a as u64);
        }
        prop_assert_eq!(&got, &whole);
        // Flush drains the same tail either way.
        prop_assert_eq!(r.flush_i16_vec(), one.flush_i16_vec());
    }

    #[test]
    fn every_isa_is_bit_identical_to_scalar(
        (a, b) in pair(),
        q in quality(),
        x in proptest::collection::vec(-1.5f32..1.5, 0..2500),
        chunk in 1usize..800,
    ) {
        let mut s = Resampler::with_isa(a, b, q, Isa::Scalar).unwrap();
        let want: Vec<f32> = x.chunks(chunk).flat_map(|c| {
            let mut o = vec![0.0; s.output_len(c.len())];
            s.process_f32(c, &mut o).unwrap();
            o
        }).collect();
        for isa in Isa::available() {
            let mut r = Resampler::with_isa(a, b, q, isa).unwrap();
            let got: Vec<f32> = x.chunks(chunk).flat_map(|c| {
                let mut o = vec![0.0; r.output_len(c.len())];
                r.process_f32(c, &mut o).unwrap();
                o
            }).collect();
            prop_assert!(want.iter().zip(&got).all(|(p, q)| p.to_bits() == q.to_bits()), "{} differs", isa);
            prop_assert_eq!(want.len(), got.len());
        }
    }

    #[test]
    fn fused_g711_paths_equal_their_composition(
        codes in proptest::collection::vec(any::<u8>(), 0..1200),
        pcm in proptest::collection::vec(any::<i16>(), 0..3600),
        chunk in 1usize..500,
    ) {
        // mu-law / A-law 8 kHz -> PCM16 24 kHz
        for alaw in [false, true] {
            let mut fused = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
            let mut plain = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
            for c in codes.chunks(chunk) {
                let mut o = vec![0i16; fused.output_len(c.len())];
                if alaw { fused.process_from_alaw(c, &mut o).unwrap(); } else { fused.process_from_ulaw(c, &mut o).unwrap(); }
                let lin = if alaw { teledsp::g711::alaw_decode_vec(c) } else { teledsp::g711::ulaw_decode_vec(c) };
                prop_assert_eq!(o, plain.process_i16_vec(&lin));
            }
        }
        // PCM16 24 kHz -> mu-law / A-law 8 kHz
        for alaw in [false, true] {
            let mut fused = Resampler::new(24000, 8000, Quality::Telephony).unwrap();
            let mut plain = Resampler::new(24000, 8000, Quality::Telephony).unwrap();
            for c in pcm.chunks(chunk) {
                let mut o = vec![0u8; fused.output_len(c.len())];
                if alaw { fused.process_to_alaw(c, &mut o).unwrap(); } else { fused.process_to_ulaw(c, &mut o).unwrap(); }
                let lin = plain.process_i16_vec(c);
                let want = if alaw { teledsp::g711::alaw_encode_vec(&lin) } else { teledsp::g711::ulaw_encode_vec(&lin) };
                prop_assert_eq!(o, want);
            }
        }
    }
}

#[test]
fn unsupported_rates_fail_at_construction_with_a_clear_error() {
    for (a, b) in [(44100, 8000), (8000, 11025), (0, 8000), (8000, 96000), (22050, 24000)] {
        let e = Resampler::new(a, b, Quality::Telephony).unwrap_err();
        assert!(matches!(e, Error::UnsupportedRate { rate, out_rate: Some(o), .. } if rate == a && o == b));
        let msg = e.to_string();
        assert!(msg.contains(&a.to_string()) && msg.contains("8000, 16000, 24000 and 48000"), "{msg}");
    }
    let e = "best".parse::<Quality>().unwrap_err();
    assert!(matches!(e, Error::UnknownName { setting: "quality preset", .. }));
    assert_eq!(e.to_string(), "unknown quality preset \"best\"; expected one of: telephony, transparent, low_latency");
}

#[test]
fn same_rate_is_an_exact_passthrough() {
    let mut r = Resampler::new(8000, 8000, Quality::Telephony).unwrap();
    let x: Vec<i16> = (0..500).map(|i| (i * 131 % 65536 - 32768) as i16).collect();
    assert_eq!(r.process_i16_vec(&x), x);
    assert_eq!(r.latency_ms(), 0.0);
}

#[test]
fn short_output_is_an_error_and_consumes_nothing() {
    let mut r = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
    let x = [1000i16; 160];
    assert_eq!(
        r.process_i16(&x, &mut [0; 479]),
        Err(Error::InvalidLength { what: "output buffer", expected: Expected::AtLeast(480), actual: 479 })
    );
    // The failed call left the stream untouched.
    let mut fresh = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
    assert_eq!(r.process_i16_vec(&x), fresh.process_i16_vec(&x));
}

#[test]
fn twenty_ms_frames_have_fixed_sizes_both_ways() {
    let mut up = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
    let mut down = Resampler::new(24000, 8000, Quality::Telephony).unwrap();
    for _ in 0..50 {
        assert_eq!(up.output_len(160), 480);
        assert_eq!(up.process_i16_vec(&[7; 160]).len(), 480);
        assert_eq!(down.output_len(480), 160);
        assert_eq!(down.process_i16_vec(&[7; 480]).len(), 160);
    }
}

#[test]
fn reset_starts_a_new_stream() {
    let mut r = Resampler::new(24000, 16000, Quality::LowLatency).unwrap();
    let x: Vec<i16> = (0..999).map(|i| (i * 37) as i16).collect();
    let first = r.process_i16_vec(&x);
    r.process_i16_vec(&x[..123]);
    r.reset();
    assert_eq!(r.process_i16_vec(&x), first);
}

#[test]
fn chunk_boundaries_do_not_click() {
    // A 1 kHz tone resampled in 20 ms chunks: the output's sample-to-sample
    // step never exceeds what a clean 1 kHz sine allows (no discontinuity
    // at chunk edges, unlike per-chunk resample_poly / np.interp).
    let x: Vec<i16> =
        (0..8000).map(|i| (16000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 8000.0).sin()) as i16).collect();
    let mut r = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
    let y: Vec<i16> = x.chunks(160).flat_map(|c| r.process_i16_vec(c)).collect();
    let max_step = 16000.0 * std::f64::consts::TAU * 1000.0 / 24000.0; // peak slope per sample
    for w in y[240..].windows(2) {
        assert!(((w[1] as f64) - (w[0] as f64)).abs() <= max_step * 1.01 + 2.0);
    }
}
