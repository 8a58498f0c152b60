//! Scalar reference kernels, written the way ITU-T G.191 (STL `g711.c`)
//! states the algorithm. Every SIMD path is tested against these.

/// mu-law code of one sample (G.711 / G.191 `ulaw_compress`).
#[inline]
pub const fn ulaw_encode_sample(x: i16) -> u8 {
    // One's complement for negatives: G.711 has no negative zero level.
    let mag = if x < 0 { (!x) >> 2 } else { x >> 2 } as i32;
    ulaw_code(mag, x < 0)
}

/// mu-law code as CPython's `audioop.lin2ulaw` computes it: the magnitude of
/// a negative sample is `-(x >> 2)` instead of `(!x) >> 2`, so 508 negative
/// inputs land one code away from G.711.
#[inline]
pub const fn ulaw_encode_audioop_sample(x: i16) -> u8 {
    let t = (x >> 2) as i32;
    ulaw_code(if t < 0 { -t } else { t }, x < 0)
}

#[inline]
const fn ulaw_code(mag: i32, negative: bool) -> u8 {
    let mut absno = mag + 33;
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x8 - segno;
    let low_nibble = 0xF - ((absno >> segno) & 0xF);
    let code = (high_nibble << 4) | low_nibble;
    (if negative { code } else { code | 0x80 }) as u8
}

/// Linear value of one mu-law code (G.191 `ulaw_expand`).
#[inline]
pub const fn ulaw_decode_sample(code: u8) -> i16 {
    let mantissa = !code as i32;
    let exponent = (mantissa >> 4) & 0x7;
    let segment = exponent + 1;
    let mantissa = mantissa & 0xF;
    let step = 4 << segment;
    let mag = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    (if code < 0x80 { -mag } else { mag }) as i16
}

/// A-law code of one sample (G.191 `alaw_compress`).
#[inline]
pub const fn alaw_encode_sample(x: i16) -> u8 {
    let mut ix = (if x < 0 { !x } else { x } >> 4) as i32;
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

/// Linear value of one A-law code (G.191 `alaw_expand`).
#[inline]
pub const fn alaw_decode_sample(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let iexp = ix >> 4;
    let mut mant = ix & 0xF;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 8;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

pub fn ulaw_encode(src: &[i16], dst: &mut [u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ulaw_encode_sample(s);
    }
}

pub fn ulaw_encode_audioop(src: &[i16], dst: &mut [u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ulaw_encode_audioop_sample(s);
    }
}

pub fn alaw_encode(src: &[i16], dst: &mut [u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = alaw_encode_sample(s);
    }
}

pub fn ulaw_decode(src: &[u8], dst: &mut [i16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ulaw_decode_sample(s);
    }
}

pub fn alaw_decode(src: &[u8], dst: &mut [i16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = alaw_decode_sample(s);
    }
}

/// Transcoding: one byte through a 256-entry table.
pub fn lookup(table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = table[s as usize];
    }
}
