//! AVX-512 kernels (x86-64-v4), 32 samples per register.
//!
//! AVX-512BW has 16-bit variable shifts (`vpsrlvw`/`vpsllvw`) and mask
//! registers, so only the segment number still needs `pshufb` nibble tables.
//! With AVX-512 VBMI, `vpermi2b` does the G.711 transcoding tables 64 codes at a time.

use core::arch::x86_64::*;

use super::Enc;
use super::lanes;

const BITLEN_LO: [i8; 16] = [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4];
const BITLEN_HI: [i8; 16] = [0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8];

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn table(t: &[i8; 16]) -> __m512i {
    // SAFETY: reads 16 bytes from a 16-byte array.
    let v = unsafe { _mm_loadu_si128(t.as_ptr().cast()) };
    _mm512_broadcast_i32x4(v)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn splat(v: i16) -> __m512i {
    _mm512_set1_epi16(v)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn bitlen7(v: __m512i) -> __m512i {
    let hi = _mm512_shuffle_epi8(table(&BITLEN_HI), _mm512_srli_epi16(v, 4));
    let lo = _mm512_shuffle_epi8(table(&BITLEN_LO), _mm512_and_si512(v, splat(0xF)));
    _mm512_max_epu8(hi, lo)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn encode32<const K: u8>(x: __m512i) -> __m256i {
    let s = _mm512_srai_epi16(x, 15);
    let code = if K == Enc::ALAW {
        let ix = _mm512_xor_si512(_mm512_srai_epi16(x, 4), s);
        let e = bitlen7(_mm512_srli_epi16(ix, 4));
        let m = _mm512_srlv_epi16(ix, _mm512_subs_epu16(e, splat(1)));
        _mm512_or_si512(_mm512_slli_epi16(e, 4), _mm512_and_si512(m, splat(0xF)))
    } else {
        let t = _mm512_srai_epi16(x, 2);
        let mut mag = _mm512_xor_si512(t, s);
        if K == Enc::ULAW_AUDIOOP {
            mag = _mm512_sub_epi16(mag, s);
        }
        let absno = _mm512_min_epi16(_mm512_add_epi16(mag, splat(33)), splat(0x1FFF));
        let e = bitlen7(_mm512_srli_epi16(absno, 6));
        let m = _mm512_srlv_epi16(absno, _mm512_add_epi16(e, splat(1)));
        _mm512_or_si512(_mm512_slli_epi16(e, 4), _mm512_and_si512(m, splat(0xF)))
    };
    let xor = splat(if K == Enc::ALAW { 0xD5 } else { 0xFF });
    let code = _mm512_xor_si512(_mm512_xor_si512(code, xor), _mm512_and_si512(s, splat(0x80)));
    _mm512_cvtepi16_epi8(code)
}

#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn encode<const K: u8>(src: &[i16], dst: &mut [u8]) {
    let (sb, st) = src.as_chunks::<32>();
    let (db, dt) = dst.as_chunks_mut::<32>();
    for (s, d) in sb.iter().zip(db.iter_mut()) {
        // SAFETY: 32 i16 (64 bytes) loaded, 32 bytes stored.
        unsafe {
            let x = _mm512_loadu_si512(s.as_ptr().cast());
            _mm256_storeu_si256(d.as_mut_ptr().cast(), encode32::<K>(x));
        }
    }
    lanes::encode::<K>(st, dt);
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn decode32<const K: u8>(c: __m512i) -> __m512i {
    let mag = if K == Enc::ALAW {
        let ix = _mm512_and_si512(_mm512_xor_si512(c, splat(0x55)), splat(0x7F));
        let e = _mm512_srli_epi16(ix, 4);
        let m = _mm512_or_si512(_mm512_and_si512(ix, splat(0xF)), _mm512_slli_epi16(_mm512_min_epu16(e, splat(1)), 4));
        let mant = _mm512_add_epi16(_mm512_slli_epi16(m, 4), splat(8));
        _mm512_sllv_epi16(mant, _mm512_subs_epu16(e, splat(1)))
    } else {
        let u = _mm512_xor_si512(c, splat(0xFF));
        let e = _mm512_and_si512(_mm512_srli_epi16(u, 4), splat(7));
        let base = _mm512_add_epi16(_mm512_slli_epi16(_mm512_and_si512(u, splat(0xF)), 3), splat(132));
        _mm512_sub_epi16(_mm512_sllv_epi16(base, e), splat(132))
    };
    let neg = _mm512_cmplt_epu16_mask(c, splat(0x80));
    _mm512_mask_sub_epi16(mag, neg, _mm512_setzero_si512(), mag)
}

#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn decode<const K: u8>(src: &[u8], dst: &mut [i16]) {
    let (sb, st) = src.as_chunks::<32>();
    let (db, dt) = dst.as_chunks_mut::<32>();
    for (s, d) in sb.iter().zip(db.iter_mut()) {
        // SAFETY: 32 bytes loaded, 32 i16 (64 bytes) stored.
        unsafe {
            let c = _mm512_cvtepu8_epi16(_mm256_loadu_si256(s.as_ptr().cast()));
            _mm512_storeu_si512(d.as_mut_ptr().cast(), decode32::<K>(c));
        }
    }
    lanes::decode::<K>(st, dt);
}

/// Whether the VBMI transcoding kernel can run (beyond the V4 baseline).
#[inline]
pub(crate) fn has_vbmi() -> bool {
    std::arch::is_x86_feature_detected!("avx512vbmi")
}

/// 256-entry byte table lookup, 64 codes per step: two `vpermi2b` over the
/// halves of the table, picked by the top bit of each code.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn lookup(table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
    // SAFETY: four 64-byte loads from a 256-byte table.
    let t = unsafe { [0, 64, 128, 192].map(|o| _mm512_loadu_si512(table.as_ptr().add(o).cast())) };
    let (sb, st) = src.as_chunks::<64>();
    let (db, dt) = dst.as_chunks_mut::<64>();
    for (s, d) in sb.iter().zip(db.iter_mut()) {
        // SAFETY: 64 bytes loaded and stored.
        unsafe {
            let idx = _mm512_loadu_si512(s.as_ptr().cast());
            let lo = _mm512_permutex2var_epi8(t[0], idx, t[1]);
            let hi = _mm512_permutex2var_epi8(t[2], idx, t[3]);
            let r = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi);
            _mm512_storeu_si512(d.as_mut_ptr().cast(), r);
        }
    }
    super::scalar::lookup(table, st, dt);
}
