//! Branch-free, lane-parallel formulation of the codecs: the same arithmetic
//! the x86 kernels do, one lane at a time, in plain Rust over fixed-size
//! blocks. On aarch64 it is compiled under `pulp::aarch64::Neon::vectorize`,
//! where LLVM turns it into NEON (`clz`, `ushl`, `tbl`); on x86 it is tested
//! against the scalar reference like every other path.

use super::Enc;

const BLOCK: usize = 16;

/// One sample, as the SIMD kernels compute it.
#[inline(always)]
pub(crate) fn encode_one<const K: u8>(x: i16) -> u8 {
    let s = x >> 15; // 0 or -1
    if K == Enc::ALAW {
        let ix = ((x >> 4) ^ s) as u16; // one's-complement magnitude, 0..2047
        let e = (16 - ix.leading_zeros() as u16).saturating_sub(4); // segment 0..7
        let m = (ix >> e.saturating_sub(1)) & 0xF;
        ((e << 4) | m) as u8 ^ 0xD5 ^ (s as u8 & 0x80)
    } else {
        let t = x >> 2;
        let mag = if K == Enc::ULAW_AUDIOOP { (t ^ s) - s } else { t ^ s } as u16;
        let absno = (mag + 33).min(0x1FFF);
        let e = 10 - absno.leading_zeros() as u16; // absno >= 33: bit length 6..13
        let m = (absno >> (e + 1)) & 0xF;
        ((e << 4) | m) as u8 ^ 0xFF ^ (s as u8 & 0x80)
    }
}

#[inline(always)]
pub(crate) fn decode_one<const K: u8>(c: u8) -> i16 {
    if K == Enc::ALAW {
        let ix = ((c ^ 0x55) & 0x7F) as u16;
        let e = ix >> 4;
        let m = (ix & 0xF) | (e.min(1) << 4);
        let mag = (((m << 4) + 8) << e.saturating_sub(1)) as i16;
        if c & 0x80 != 0 { mag } else { -mag }
    } else {
        let u = !c as u16;
        let e = (u >> 4) & 7;
        let m = u & 0xF;
        let mag = ((((m << 3) + 132) << e) - 132) as i16;
        if c & 0x80 != 0 { mag } else { -mag }
    }
}

#[inline(always)]
pub(crate) fn encode<const K: u8>(src: &[i16], dst: &mut [u8]) {
    let (sb, st) = src.as_chunks::<BLOCK>();
    let (db, dt) = dst.as_chunks_mut::<BLOCK>();
    for (s, d) in sb.iter().zip(db) {
        for i in 0..BLOCK {
            d[i] = encode_one::<K>(s[i]);
        }
    }
    for (d, &s) in dt.iter_mut().zip(st) {
        *d = encode_one::<K>(s);
    }
}

#[inline(always)]
pub(crate) fn decode<const K: u8>(src: &[u8], dst: &mut [i16]) {
    let (sb, st) = src.as_chunks::<BLOCK>();
    let (db, dt) = dst.as_chunks_mut::<BLOCK>();
    for (s, d) in sb.iter().zip(db) {
        for i in 0..BLOCK {
            d[i] = decode_one::<K>(s[i]);
        }
    }
    for (d, &s) in dt.iter_mut().zip(st) {
        *d = decode_one::<K>(s);
    }
}
