//! ITU-T G.191 conformance: every available kernel set against the STL
//! vectors on all 65,536 inputs and all 256 codes.

use teledsp::{Isa, g711::Kernels};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/itu-g711/");

fn words(name: &str) -> Vec<u16> {
    let raw = std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(raw.len(), 131_072, "{name}: every STL vector holds 65,536 words");
    raw.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()
}

/// CRC-32 (IEEE, reflected), to check the copied vectors against the CRCs the STL publishes.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[test]
fn vectors_are_the_published_ones() {
    for (name, crc) in [
        ("sweep.src", 0xC8BA7682),
        ("sweep-r.u", 0xCD170E15),
        ("sweep-r.a", 0x74719FE4),
        ("sweep-r.reu", 0x63641C01),
        ("sweep-r.u-u", 0x63641C01),
        ("sweep-r.rea", 0xABCEAA69),
        ("sweep-r.a-a", 0xABCEAA69),
    ] {
        let raw = std::fs::read(format!("{DIR}{name}")).unwrap();
        assert_eq!(crc32(&raw), crc, "{name}");
    }
}

fn sweep() -> Vec<i16> {
    words("sweep.src").into_iter().map(|w| w as i16).collect()
}

#[test]
fn sweep_covers_every_16_bit_value() {
    let mut s = sweep();
    s.sort_unstable();
    assert!(s.iter().copied().eq(i16::MIN..=i16::MAX));
}

#[test]
fn encoders_match_itu_on_all_65536_inputs_on_every_isa() {
    let src = sweep();
    let want_u: Vec<u8> = words("sweep-r.u").iter().map(|&w| w as u8).collect();
    let want_a: Vec<u8> = words("sweep-r.a").iter().map(|&w| w as u8).collect();
    let avail = Isa::available();
    assert!(avail.contains(&Isa::Scalar));
    for isa in avail {
        let k = Kernels::new(isa).unwrap();
        let mut got = vec![0u8; src.len()];
        k.ulaw_encode(&src, &mut got).unwrap();
        let bad = got.iter().zip(&want_u).filter(|(a, b)| a != b).count();
        assert_eq!(bad, 0, "{isa}: mu-law encode differs on {bad} inputs");
        k.alaw_encode(&src, &mut got).unwrap();
        let bad = got.iter().zip(&want_a).filter(|(a, b)| a != b).count();
        assert_eq!(bad, 0, "{isa}: A-law encode differs on {bad} inputs");
    }
}

#[test]
fn decoders_match_itu_on_every_code_on_every_isa() {
    let codes_u: Vec<u8> = words("sweep-r.u").iter().map(|&w| w as u8).collect();
    let codes_a: Vec<u8> = words("sweep-r.a").iter().map(|&w| w as u8).collect();
    let want_u: Vec<i16> = words("sweep-r.reu").iter().map(|&w| w as i16).collect();
    let want_a: Vec<i16> = words("sweep-r.rea").iter().map(|&w| w as i16).collect();
    // The sweep's codes reach all 256 values of each law.
    for codes in [&codes_u, &codes_a] {
        let mut seen = [false; 256];
        codes.iter().for_each(|&c| seen[c as usize] = true);
        assert!(seen.iter().all(|&s| s));
    }
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        let mut got = vec![0i16; codes_u.len()];
        k.ulaw_decode(&codes_u, &mut got).unwrap();
        assert_eq!(got, want_u, "{isa}: mu-law decode");
        k.alaw_decode(&codes_a, &mut got).unwrap();
        assert_eq!(got, want_a, "{isa}: A-law decode");
    }
}

/// CPython 3.11's `audioop.lin2ulaw`, transcribed from Modules/audioop.c
/// (`st_14linear2ulaw(val >> 2)` with its `seg_uend` search), as an
/// independent reference for the audioop-compatible variant.
fn cpython_lin2ulaw(x: i16) -> u8 {
    const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    let mut v = (x >> 2) as i32;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(8159) + 33;
    let seg = SEG_UEND.iter().position(|&e| v <= e).unwrap_or(8) as i32;
    if seg >= 8 { (0x7F ^ mask) as u8 } else { (((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask) as u8 }
}

#[test]
fn audioop_variant_matches_cpython_and_differs_from_g711_on_508_inputs() {
    let src = sweep();
    let want: Vec<u8> = src.iter().map(|&x| cpython_lin2ulaw(x)).collect();
    let itu: Vec<u8> = words("sweep-r.u").iter().map(|&w| w as u8).collect();
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        let mut got = vec![0u8; src.len()];
        k.ulaw_encode_audioop(&src, &mut got).unwrap();
        assert_eq!(got, want, "{isa}");
        let diff: Vec<i16> =
            src.iter().zip(got.iter().zip(&itu)).filter(|(_, (a, b))| a != b).map(|(&x, _)| x).collect();
        assert_eq!(diff.len(), 508, "{isa}");
        assert!(diff.iter().all(|&x| x < 0));
    }
    assert_eq!(teledsp::g711::ulaw_encode_audioop_sample(-1), 0x7E);
    assert_eq!(teledsp::g711::ulaw_encode_sample(-1), 0x7F);
}

#[test]
fn transcoding_is_identical_on_every_isa() {
    let codes: Vec<u8> = (0..=255u8).cycle().take(256 * 5 + 77).collect();
    let s = Kernels::new(Isa::Scalar).unwrap();
    let (mut a, mut b) = (vec![0u8; codes.len()], vec![0u8; codes.len()]);
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        s.ulaw_to_alaw(&codes, &mut a).unwrap();
        k.ulaw_to_alaw(&codes, &mut b).unwrap();
        assert_eq!(a, b, "{isa} u->a");
        s.alaw_to_ulaw(&codes, &mut a).unwrap();
        k.alaw_to_ulaw(&codes, &mut b).unwrap();
        assert_eq!(a, b, "{isa} a->u");
    }
}

#[test]
fn transcoding_spot_checks_against_g711_tables() {
    // Silence maps to silence; full scale to full scale; the corrected
    // table entry (mu magnitude index 80 -> A index 79).
    let u2a = teledsp::g711::ulaw_to_alaw_vec(&[0xFF, 0x7F, 0x80, 0x00, 0xFF ^ 80]);
    assert_eq!(u2a, [0xD5, 0x55, 0xAA, 0x2A, 0xD5 ^ 79]);
    let a2u = teledsp::g711::alaw_to_ulaw_vec(&[0xD5, 0x55, 0xAA, 0x2A]);
    assert_eq!(a2u, [0xFE, 0x7E, 0x80, 0x00]);
}

#[test]
fn mismatched_lengths_are_errors_not_panics() {
    use teledsp::{Error, Expected};
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        assert_eq!(
            k.ulaw_encode(&[0; 10], &mut [0; 9]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(10), actual: 9 })
        );
        assert_eq!(
            k.alaw_encode(&[0; 0], &mut [0; 1]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(0), actual: 1 })
        );
        assert_eq!(
            k.ulaw_decode(&[0; 3], &mut [0; 4]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(3), actual: 4 })
        );
        assert_eq!(
            k.alaw_decode(&[0; 64], &mut [0; 63]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(64), actual: 63 })
        );
        assert_eq!(
            k.ulaw_to_alaw(&[0; 5], &mut [0; 6]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(5), actual: 6 })
        );
        assert_eq!(
            k.alaw_to_ulaw(&[0; 6], &mut [0; 5]),
            Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(6), actual: 5 })
        );
    }
}

#[test]
fn unavailable_isa_is_an_error() {
    for isa in Isa::ALL {
        match Kernels::new(isa) {
            Ok(k) => assert!(isa.is_available() && k.isa() == isa),
            Err(e) => {
                assert!(!isa.is_available());
                assert_eq!(e, teledsp::Error::IsaUnavailable(isa));
                assert!(e.to_string().contains(isa.name()));
            }
        }
    }
}

#[test]
fn this_x86_machine_tests_its_simd_paths() {
    // On x86-64 the CI machines have AVX2 (and this kind AVX-512); make sure
    // the suite is not silently running scalar only. TELEDSP_ALLOW_NO_SIMD=1
    // opts out on older hardware.
    if cfg!(target_arch = "x86_64") && std::env::var_os("TELEDSP_ALLOW_NO_SIMD").is_none() {
        assert!(Isa::Avx2.is_available(), "AVX2 missing: set TELEDSP_ALLOW_NO_SIMD=1 to run scalar-only");
    }
    eprintln!("kernel sets tested here: {:?}", Isa::available());
}
