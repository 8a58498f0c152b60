//! AVX2 kernels (x86-64-v3), 16 samples per register.
//!
//! AVX2 has no 16-bit variable shifts and no lzcnt, so the segment number
//! comes from two `pshufb` nibble tables and the per-lane shifts from a
//! `pmulhuw`/`pmullw` by a power of two that a third `pshufb` looks up.
//! Lane-for-lane this is `lanes::encode_one` / `decode_one`.

use core::arch::x86_64::*;

use super::Enc;
use super::lanes;

/// Bit length of a nibble, for nibble index 0..15 (`BITLEN_LO`), and of
/// `h << 4` for the high nibble `h` of a 7-bit value (`BITLEN_HI`).
const BITLEN_LO: [i8; 16] = [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4];
const BITLEN_HI: [i8; 16] = [0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8];
/// High byte of 2^(15-e): `mulhi(x, that) == x >> (e + 1)` (mu-law mantissa).
const SHR_MU: [i8; 16] = [-128, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0];
/// High byte of 2^(15 - max(e-1, 0)): `mulhi(2x, that) == x >> max(e-1, 0)`.
const SHR_A: [i8; 16] = [-128, -128, 64, 32, 16, 8, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0];
/// 2^k in the low byte for k = 0..7: a `pmullw` multiplier for `x << k`.
const POW2: [i8; 16] = [1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0];

#[inline]
#[target_feature(enable = "avx2")]
fn table(t: &[i8; 16]) -> __m256i {
    // SAFETY: reads 16 bytes from a 16-byte array.
    let v = unsafe { _mm_loadu_si128(t.as_ptr().cast()) };
    _mm256_broadcastsi128_si256(v)
}

#[inline]
#[target_feature(enable = "avx2")]
fn splat(v: i16) -> __m256i {
    _mm256_set1_epi16(v)
}

/// Segment (0..7) = bit length of a 7-bit value held in 16-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn bitlen7(v: __m256i) -> __m256i {
    let hi = _mm256_shuffle_epi8(table(&BITLEN_HI), _mm256_srli_epi16(v, 4));
    let lo = _mm256_shuffle_epi8(table(&BITLEN_LO), _mm256_and_si256(v, splat(0xF)));
    _mm256_max_epu8(hi, lo)
}

/// Code bits before the final XOR, one per 16-bit lane.
#[inline]
#[target_feature(enable = "avx2")]
fn encode16<const K: u8>(x: __m256i) -> __m256i {
    let s = _mm256_srai_epi16(x, 15);
    let sign80 = _mm256_and_si256(s, splat(0x80));
    let code = if K == Enc::ALAW {
        let ix = _mm256_xor_si256(_mm256_srai_epi16(x, 4), s);
        let e = bitlen7(_mm256_srli_epi16(ix, 4));
        // Index byte for the high byte of each lane: e; low byte: 0x80 (zero).
        let mul = _mm256_shuffle_epi8(table(&SHR_A), _mm256_or_si256(_mm256_slli_epi16(e, 8), splat(0x80)));
        let m = _mm256_and_si256(_mm256_mulhi_epu16(_mm256_add_epi16(ix, ix), mul), splat(0xF));
        _mm256_or_si256(_mm256_slli_epi16(e, 4), m)
    } else {
        let t = _mm256_srai_epi16(x, 2);
        let mut mag = _mm256_xor_si256(t, s);
        if K == Enc::ULAW_AUDIOOP {
            mag = _mm256_sub_epi16(mag, s);
        }
        let absno = _mm256_min_epi16(_mm256_add_epi16(mag, splat(33)), splat(0x1FFF));
        let e = bitlen7(_mm256_srli_epi16(absno, 6));
        let mul = _mm256_shuffle_epi8(table(&SHR_MU), _mm256_or_si256(_mm256_slli_epi16(e, 8), splat(0x80)));
        let m = _mm256_and_si256(_mm256_mulhi_epu16(absno, mul), splat(0xF));
        _mm256_or_si256(_mm256_slli_epi16(e, 4), m)
    };
    _mm256_xor_si256(code, sign80)
}

#[target_feature(enable = "avx2")]
pub(crate) fn encode<const K: u8>(src: &[i16], dst: &mut [u8]) {
    let xor = _mm256_set1_epi8(if K == Enc::ALAW { 0xD5u8 as i8 } else { -1 });
    let (sb, st) = src.as_chunks::<32>();
    let (db, dt) = dst.as_chunks_mut::<32>();
    for (s, d) in sb.iter().zip(db.iter_mut()) {
        // SAFETY: 32 i16 = two 32-byte loads; 32 bytes stored.
        unsafe {
            let a = _mm256_loadu_si256(s.as_ptr().cast());
            let b = _mm256_loadu_si256(s.as_ptr().add(16).cast());
            // packus interleaves 128-bit halves; vpermq puts them back in order.
            let p = _mm256_packus_epi16(encode16::<K>(a), encode16::<K>(b));
            let p = _mm256_permute4x64_epi64(p, 0b11_01_10_00);
            _mm256_storeu_si256(d.as_mut_ptr().cast(), _mm256_xor_si256(p, xor));
        }
    }
    lanes::encode::<K>(st, dt);
}

#[inline]
#[target_feature(enable = "avx2")]
fn decode16<const K: u8>(c: __m256i) -> __m256i {
    let mag = if K == Enc::ALAW {
        let ix = _mm256_and_si256(_mm256_xor_si256(c, splat(0x55)), splat(0x7F));
        let e = _mm256_srli_epi16(ix, 4);
        let m = _mm256_or_si256(_mm256_and_si256(ix, splat(0xF)), _mm256_slli_epi16(_mm256_min_epu16(e, splat(1)), 4));
        let k = _mm256_subs_epu16(e, splat(1));
        let pow = _mm256_shuffle_epi8(table(&POW2), _mm256_or_si256(k, splat(0x8000u16 as i16)));
        _mm256_mullo_epi16(_mm256_add_epi16(_mm256_slli_epi16(m, 4), splat(8)), pow)
    } else {
        let u = _mm256_xor_si256(c, splat(0xFF));
        let e = _mm256_and_si256(_mm256_srli_epi16(u, 4), splat(7));
        let m = _mm256_and_si256(u, splat(0xF));
        let pow = _mm256_shuffle_epi8(table(&POW2), _mm256_or_si256(e, splat(0x8000u16 as i16)));
        let base = _mm256_add_epi16(_mm256_slli_epi16(m, 3), splat(132));
        _mm256_sub_epi16(_mm256_mullo_epi16(base, pow), splat(132))
    };
    // Codes below 0x80 are negative in both laws.
    let neg = _mm256_cmpgt_epi16(splat(0x80), c);
    _mm256_sub_epi16(_mm256_xor_si256(mag, neg), neg)
}

#[target_feature(enable = "avx2")]
pub(crate) fn decode<const K: u8>(src: &[u8], dst: &mut [i16]) {
    let (sb, st) = src.as_chunks::<16>();
    let (db, dt) = dst.as_chunks_mut::<16>();
    for (s, d) in sb.iter().zip(db.iter_mut()) {
        // SAFETY: 16 bytes loaded, 16 i16 (32 bytes) stored.
        unsafe {
            let c = _mm256_cvtepu8_epi16(_mm_loadu_si128(s.as_ptr().cast()));
            _mm256_storeu_si256(d.as_mut_ptr().cast(), decode16::<K>(c));
        }
    }
    lanes::decode::<K>(st, dt);
}
