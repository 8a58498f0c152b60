//! CPython's `audioop` (removed in Python 3.13), exactly: the same results
//! byte for byte and the same errors, for every width it takes (1, 2, 3 and
//! 4 bytes, signed, native byte order, 24-bit little-endian), so
//! `teledsp.audioop` can stand in for it. Written from the module's
//! documented behaviour and checked against CPython 3.11's `audioop` by a
//! differential test and CPython's own `test_audioop.py`.
//!
//! Each function is one loop per width (monomorphised, so the compiler
//! vectorises the simple ones); `ratecv` is audioop's own linear
//! interpolation with its state, not teledsp's anti-aliased resampler
//! ([`crate::resample`] is the one to use for new code).
//!
//! ```
//! use teledsp::audioop;
//! let pcm = [0x00, 0x40, 0x00, 0xc0]; // 16384, -16384 as 16-bit little-endian
//! assert_eq!(audioop::max(&pcm, 2)?, 16384);
//! assert_eq!(audioop::mul(&pcm, 2, 0.5)?, vec![0x00, 0x20, 0x00, 0xe0]);
//! # Ok::<(), teledsp::Error>(())
//! ```

use crate::error::Error;

const MAXVALS: [i32; 5] = [0, 0x7F, 0x7FFF, 0x7F_FFFF, 0x7FFF_FFFF];
const MINVALS: [i32; 5] = [0, -0x80, -0x8000, -0x80_0000, i32::MIN];

/// Intel/DVI ADPCM index changes.
const INDEX_TABLE: [i32; 16] = [-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8];
/// Intel/DVI ADPCM step sizes.
const STEPSIZE_TABLE: [i32; 89] = [
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97, 107,
    118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
    1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894,
    6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794,
    32767,
];

fn err(msg: &'static str) -> Error {
    Error::Audioop(msg)
}

/// audioop's width check.
pub fn check_width(width: i32) -> Result<usize, Error> {
    if (1..=4).contains(&width) { Ok(width as usize) } else { Err(err("Size should be 1, 2, 3 or 4")) }
}

/// audioop's width and length checks.
pub fn check(len: usize, width: i32) -> Result<usize, Error> {
    let w = check_width(width)?;
    if !len.is_multiple_of(w) {
        return Err(err("not a whole number of frames"));
    }
    Ok(w)
}

/// One sample of width `W` (native order, 24-bit little-endian).
#[inline(always)]
fn get<const W: usize>(b: &[u8]) -> i32 {
    match W {
        1 => b[0] as i8 as i32,
        2 => i16::from_ne_bytes([b[0], b[1]]) as i32,
        3 => (b[0] as i32) | ((b[1] as i32) << 8) | ((b[2] as i8 as i32) << 16),
        _ => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
    }
}

/// Stores the low `W` bytes of `v`.
#[inline(always)]
fn set<const W: usize>(b: &mut [u8], v: i32) {
    match W {
        1 => b[0] = v as u8,
        2 => b.copy_from_slice(&(v as i16).to_ne_bytes()),
        3 => b.copy_from_slice(&v.to_le_bytes()[..3]),
        _ => b.copy_from_slice(&v.to_ne_bytes()),
    }
}

/// A sample scaled to 32 bits (audioop's `GETSAMPLE32`).
#[inline(always)]
fn get32<const W: usize>(b: &[u8]) -> i32 {
    get::<W>(b).wrapping_shl(32 - 8 * W as u32)
}

/// Stores a 32-bit-scaled sample at width `W` (audioop's `SETSAMPLE32`).
#[inline(always)]
fn set32<const W: usize>(b: &mut [u8], v: i32) {
    set::<W>(b, v >> (32 - 8 * W as u32));
}

/// Runs `$f::<W>` for the runtime width `$w` (1..=4).
macro_rules! by_width {
    ($w:expr, $f:ident ( $($arg:expr),* )) => {
        match $w {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            _ => $f::<4>($($arg),*),
        }
    };
}

/// Clamps to `[min, max]` (anything below `min + 1` is `min`), then rounds
/// toward minus infinity: audioop's `fbound`. Floor after clamping equals
/// clamp after floor for integer bounds, and the floor is done by
/// truncation (exact inside the i32 range) so the loops vectorise without a
/// libm call per sample. NaN gives what C's `(int)NAN` gives on x86,
/// `i32::MIN` (audioop casts without a check).
#[inline(always)]
fn fbound(v: f64, min: f64, max: f64) -> i32 {
    let c = v.clamp(min, max);
    let t = c as i32;
    let floor = if (t as f64) > c { t - 1 } else { t };
    if v.is_nan() { i32::MIN } else { floor }
}

/// `audioop.getsample`.
pub fn getsample(b: &[u8], width: i32, index: isize) -> Result<i32, Error> {
    let w = check(b.len(), width)?;
    if index < 0 || index as usize >= b.len() / w {
        return Err(err("Index out of range"));
    }
    let i = index as usize * w;
    Ok(by_width!(w, get(&b[i..i + w])))
}

fn max_w<const W: usize>(b: &[u8]) -> u32 {
    b.chunks_exact(W).map(|c| get::<W>(c).unsigned_abs()).max().unwrap_or(0)
}

/// `audioop.max`: the largest absolute value.
pub fn max(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    Ok(by_width!(w, max_w(b)))
}

fn minmax_w<const W: usize>(b: &[u8]) -> (i32, i32) {
    b.chunks_exact(W).map(get::<W>).fold((i32::MAX, i32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// `audioop.minmax`: `(min, max)`; `(0x7fffffff, -0x80000000)` when empty.
pub fn minmax(b: &[u8], width: i32) -> Result<(i32, i32), Error> {
    let w = check(b.len(), width)?;
    Ok(by_width!(w, minmax_w(b)))
}

fn sum_w<const W: usize>(b: &[u8]) -> f64 {
    // Exact in i64 for any buffer under 2^31 samples of 4 bytes, and audioop
    // sums in double, which is exact as long as the i64 is: the same value.
    b.chunks_exact(W).map(|c| get::<W>(c) as i64).sum::<i64>() as f64
}

/// `audioop.avg`: the mean, rounded toward minus infinity.
pub fn avg(b: &[u8], width: i32) -> Result<i32, Error> {
    let w = check(b.len(), width)?;
    if b.is_empty() {
        return Ok(0);
    }
    Ok((by_width!(w, sum_w(b)) / (b.len() / w) as f64).floor() as i32)
}

fn sum_squares_w<const W: usize>(b: &[u8]) -> f64 {
    b.chunks_exact(W).map(|c| get::<W>(c) as f64).map(|v| v * v).fold(0.0, |a, x| a + x)
}

/// `audioop.rms`.
pub fn rms(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    if b.is_empty() {
        return Ok(0);
    }
    Ok((by_width!(w, sum_squares_w(b)) / (b.len() / w) as f64).sqrt() as u32)
}

/// audioop's peak-to-peak walk: calls `on_extreme` with each difference
/// between consecutive extremes.
fn extremes<const W: usize>(b: &[u8], mut on_extreme: impl FnMut(u32)) {
    if b.len() <= W {
        return;
    }
    let mut prevval = get::<W>(&b[..W]);
    let mut prevdiff = 17; // neither 0 nor 1
    let (mut prevextreme, mut valid) = (0i32, false);
    for c in b[W..].chunks_exact(W) {
        let val = get::<W>(c);
        if val != prevval {
            let diff = (val < prevval) as i32;
            if prevdiff == (diff == 0) as i32 {
                if valid {
                    on_extreme(if prevval < prevextreme {
                        (prevextreme as u32).wrapping_sub(prevval as u32)
                    } else {
                        (prevval as u32).wrapping_sub(prevextreme as u32)
                    });
                }
                valid = true;
                prevextreme = prevval;
            }
            prevval = val;
            prevdiff = diff;
        }
    }
}

fn avgpp_w<const W: usize>(b: &[u8]) -> u32 {
    let (mut sum, mut n) = (0.0f64, 0u64);
    extremes::<W>(b, |d| {
        sum += d as f64;
        n += 1;
    });
    if n == 0 { 0 } else { (sum / n as f64) as u32 }
}

/// `audioop.avgpp`: the mean peak-to-peak value.
pub fn avgpp(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    Ok(by_width!(w, avgpp_w(b)))
}

fn maxpp_w<const W: usize>(b: &[u8]) -> u32 {
    let mut m = 0;
    extremes::<W>(b, |d| m = m.max(d));
    m
}

/// `audioop.maxpp`: the largest peak-to-peak value.
pub fn maxpp(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    Ok(by_width!(w, maxpp_w(b)))
}

fn cross_w<const W: usize>(b: &[u8]) -> isize {
    let mut n = -1isize;
    let mut prev = 17;
    for c in b.chunks_exact(W) {
        let v = (get::<W>(c) < 0) as i32;
        n += (v != prev) as isize;
        prev = v;
    }
    n
}

/// `audioop.cross`: zero crossings (-1 for an empty fragment, as audioop).
pub fn cross(b: &[u8], width: i32) -> Result<isize, Error> {
    let w = check(b.len(), width)?;
    Ok(by_width!(w, cross_w(b)))
}

fn i16s(b: &[u8]) -> impl Iterator<Item = f64> + '_ {
    b.chunks_exact(2).map(|c| i16::from_ne_bytes([c[0], c[1]]) as f64)
}

fn sum2(a: &[u8], b: &[u8]) -> f64 {
    i16s(a).zip(i16s(b)).fold(0.0, |s, (x, y)| s + x * y)
}

/// `audioop.findfit` (16-bit): `(offset, factor)`.
pub fn findfit(fragment: &[u8], reference: &[u8]) -> Result<(usize, f64), Error> {
    if !fragment.len().is_multiple_of(2) || !reference.len().is_multiple_of(2) {
        return Err(err("Strings should be even-sized"));
    }
    let (len1, len2) = (fragment.len() / 2, reference.len() / 2);
    if len1 < len2 {
        return Err(err("First sample should be longer"));
    }
    let a = |j: usize| i16::from_ne_bytes([fragment[2 * j], fragment[2 * j + 1]]) as f64;
    let sum_ri_2 = sum2(reference, reference);
    let mut sum_aij_2 = sum2(&fragment[..2 * len2], &fragment[..2 * len2]);
    let sum_aij_ri = sum2(&fragment[..2 * len2], reference);
    let mut best = (sum_ri_2 * sum_aij_2 - sum_aij_ri * sum_aij_ri) / sum_aij_2;
    let mut best_j = 0;
    for j in 1..=len1 - len2 {
        let (aj_m1, aj_lm1) = (a(j - 1), a(j + len2 - 1));
        sum_aij_2 = sum_aij_2 + aj_lm1 * aj_lm1 - aj_m1 * aj_m1;
        let sum_aij_ri = sum2(&fragment[2 * j..2 * (j + len2)], reference);
        let result = (sum_ri_2 * sum_aij_2 - sum_aij_ri * sum_aij_ri) / sum_aij_2;
        if result < best {
            best = result;
            best_j = j;
        }
    }
    let factor = sum2(&fragment[2 * best_j..2 * (best_j + len2)], reference) / sum_ri_2;
    Ok((best_j, factor))
}

/// `audioop.findfactor` (16-bit).
pub fn findfactor(fragment: &[u8], reference: &[u8]) -> Result<f64, Error> {
    if !fragment.len().is_multiple_of(2) || !reference.len().is_multiple_of(2) {
        return Err(err("Strings should be even-sized"));
    }
    if fragment.len() != reference.len() {
        return Err(err("Samples should be same size"));
    }
    Ok(sum2(fragment, reference) / sum2(reference, reference))
}

/// `audioop.findmax` (16-bit): where the `length`-sample slice of most energy starts.
pub fn findmax(fragment: &[u8], length: isize) -> Result<usize, Error> {
    if !fragment.len().is_multiple_of(2) {
        return Err(err("Strings should be even-sized"));
    }
    let len1 = fragment.len() / 2;
    if length < 0 || len1 < length as usize {
        return Err(err("Input sample should be longer"));
    }
    let length = length as usize;
    let mut result = sum2(&fragment[..2 * length], &fragment[..2 * length]);
    let (mut best, mut best_j) = (result, 0);
    // The sample entering the window (j + length - 1) and the one leaving it (j - 1).
    let (mut entering, mut leaving) = (i16s(fragment).skip(length), i16s(fragment));
    for j in 1..=len1 - length {
        let (aj_lm1, aj_m1) = (entering.next().unwrap_or(0.0), leaving.next().unwrap_or(0.0));
        result = result + aj_lm1 * aj_lm1 - aj_m1 * aj_m1;
        if result > best {
            best = result;
            best_j = j;
        }
    }
    Ok(best_j)
}

fn mul_w<const W: usize>(b: &[u8], factor: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        set::<W>(o, fbound(get::<W>(c) as f64 * factor, min, max));
    }
}

/// `audioop.mul`.
pub fn mul(b: &[u8], width: i32, factor: f64) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len()];
    by_width!(w, mul_w(b, factor, &mut out));
    Ok(out)
}

fn tomono_w<const W: usize>(b: &[u8], l: f64, r: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(2 * W)) {
        let v = get::<W>(&c[..W]) as f64 * l + get::<W>(&c[W..]) as f64 * r;
        set::<W>(o, fbound(v, min, max));
    }
}

/// `audioop.tomono`.
pub fn tomono(b: &[u8], width: i32, lfactor: f64, rfactor: f64) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    if !(b.len() / w).is_multiple_of(2) {
        return Err(err("not a whole number of frames"));
    }
    let mut out = vec![0u8; b.len() / 2];
    by_width!(w, tomono_w(b, lfactor, rfactor, &mut out));
    Ok(out)
}

fn tostereo_w<const W: usize>(b: &[u8], l: f64, r: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(2 * W).zip(b.chunks_exact(W)) {
        let v = get::<W>(c) as f64;
        set::<W>(&mut o[..W], fbound(v * l, min, max));
        set::<W>(&mut o[W..], fbound(v * r, min, max));
    }
}

/// `audioop.tostereo`.
pub fn tostereo(b: &[u8], width: i32, lfactor: f64, rfactor: f64) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len() * 2];
    by_width!(w, tostereo_w(b, lfactor, rfactor, &mut out));
    Ok(out)
}

fn add_w<const W: usize>(a: &[u8], b: &[u8], out: &mut [u8]) {
    for ((o, x), y) in out.chunks_exact_mut(W).zip(a.chunks_exact(W)).zip(b.chunks_exact(W)) {
        let v = if W < 4 {
            (get::<W>(x) + get::<W>(y)).clamp(MINVALS[W], MAXVALS[W])
        } else {
            // audioop adds in double and bounds with fbound: the same as a
            // saturating i64 sum clamped to i32 (the sum is an exact integer).
            (get::<W>(x) as i64 + get::<W>(y) as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32
        };
        set::<W>(o, v);
    }
}

/// `audioop.add`.
pub fn add(a: &[u8], b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    let w = check(a.len(), width)?;
    if a.len() != b.len() {
        return Err(err("Lengths should be the same"));
    }
    let mut out = vec![0u8; a.len()];
    by_width!(w, add_w(a, b, &mut out));
    Ok(out)
}

fn bias_w<const W: usize>(b: &[u8], bias: i32, out: &mut [u8]) {
    // Wraps around, as audioop does (unsigned arithmetic on the raw bits).
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        set::<W>(o, get::<W>(c).wrapping_add(bias));
    }
}

/// `audioop.bias`.
pub fn bias(b: &[u8], width: i32, bias: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len()];
    by_width!(w, bias_w(b, bias, &mut out));
    Ok(out)
}

fn reverse_w<const W: usize>(b: &[u8], out: &mut [u8]) {
    for (o, c) in out.chunks_exact_mut(W).zip(b.rchunks_exact(W)) {
        o.copy_from_slice(c);
    }
}

/// `audioop.reverse`: the samples in reverse order.
pub fn reverse(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len()];
    by_width!(w, reverse_w(b, &mut out));
    Ok(out)
}

/// `audioop.byteswap`: each sample's bytes in reverse order.
pub fn byteswap(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = b.to_vec();
    for c in out.chunks_exact_mut(w) {
        c.reverse();
    }
    Ok(out)
}

fn lin2lin_w<const W: usize, const N: usize>(b: &[u8], out: &mut [u8]) {
    for (o, c) in out.chunks_exact_mut(N).zip(b.chunks_exact(W)) {
        set32::<N>(o, get32::<W>(c));
    }
}

fn lin2lin_from<const W: usize>(b: &[u8], n: usize, out: &mut [u8]) {
    match n {
        1 => lin2lin_w::<W, 1>(b, out),
        2 => lin2lin_w::<W, 2>(b, out),
        3 => lin2lin_w::<W, 3>(b, out),
        _ => lin2lin_w::<W, 4>(b, out),
    }
}

/// `audioop.lin2lin`: to another width (the top bits kept).
pub fn lin2lin(b: &[u8], width: i32, newwidth: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let n = check_width(newwidth)?;
    let mut out = vec![0u8; b.len() / w * n];
    by_width!(w, lin2lin_from(b, n, &mut out));
    Ok(out)
}

fn top16<const W: usize>(b: &[u8]) -> Vec<i16> {
    b.chunks_exact(W).map(|c| (get32::<W>(c) >> 16) as i16).collect()
}

/// `audioop.lin2ulaw` (CPython's encoder, which differs from G.711 on 508
/// negative 16-bit inputs; see [`crate::g711::ulaw_encode_audioop`]). Like
/// audioop, it encodes the top 16 bits of each sample.
pub fn lin2ulaw(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len() / w];
    crate::g711::ulaw_encode_audioop(&by_width!(w, top16(b)), &mut out)?;
    Ok(out)
}

/// `audioop.lin2alaw` (G.711 A-law, which audioop's encoder is), of the top
/// 16 bits of each sample.
pub fn lin2alaw(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    let w = check(b.len(), width)?;
    let mut out = vec![0u8; b.len() / w];
    crate::g711::alaw_encode(&by_width!(w, top16(b)), &mut out)?;
    Ok(out)
}

fn widen<const W: usize>(pcm: &[i16], out: &mut [u8]) {
    for (o, &v) in out.chunks_exact_mut(W).zip(pcm) {
        set32::<W>(o, (v as i32) << 16);
    }
}

fn law2lin(codes: &[u8], width: i32, decode: fn(&[u8], &mut [i16]) -> Result<(), Error>) -> Result<Vec<u8>, Error> {
    let w = check_width(width)?;
    if w == 2 {
        // 16-bit out is the decoder's own output: decode in place when the
        // allocation is aligned for i16 (it is, from any usual allocator).
        let mut out = vec![0u8; codes.len() * 2];
        if let Ok(pcm) = bytemuck::try_cast_slice_mut::<u8, i16>(&mut out) {
            decode(codes, pcm)?;
            return Ok(out);
        }
    }
    let mut pcm = vec![0i16; codes.len()];
    decode(codes, &mut pcm)?;
    let mut out = vec![0u8; codes.len() * w];
    by_width!(w, widen(&pcm, &mut out));
    Ok(out)
}

/// `audioop.ulaw2lin` (G.711 mu-law decode).
pub fn ulaw2lin(codes: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    law2lin(codes, width, crate::g711::ulaw_decode)
}

/// `audioop.alaw2lin` (G.711 A-law decode).
pub fn alaw2lin(codes: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    law2lin(codes, width, crate::g711::alaw_decode)
}

/// An ADPCM coder's state: `(valpred, index)`, as audioop passes it.
pub type AdpcmState = (i32, i32);

fn check_adpcm_state(s: Option<AdpcmState>) -> Result<AdpcmState, Error> {
    match s {
        None => Ok((0, 0)),
        Some((v, i)) if (-0x8000..0x8000).contains(&v) && (0..89).contains(&i) => Ok((v, i)),
        Some(_) => Err(err("bad state")),
    }
}

fn lin2adpcm_w<const W: usize>(b: &[u8], (mut valpred, mut index): AdpcmState, out: &mut [u8]) -> AdpcmState {
    let mut step = STEPSIZE_TABLE[index as usize];
    let mut outputbuffer = 0i32;
    let mut o = 0;
    for (k, c) in b.chunks_exact(W).enumerate() {
        let val = get32::<W>(c) >> 16;
        let (mut diff, sign) = if val < valpred { (valpred - val, 8) } else { (val - valpred, 0) };
        let mut delta = 0;
        let mut vpdiff = step >> 3;
        if diff >= step {
            delta = 4;
            diff -= step;
            vpdiff += step;
        }
        step >>= 1;
        if diff >= step {
            delta |= 2;
            diff -= step;
            vpdiff += step;
        }
        step >>= 1;
        if diff >= step {
            delta |= 1;
            vpdiff += step;
        }
        valpred = if sign != 0 { valpred - vpdiff } else { valpred + vpdiff }.clamp(-32768, 32767);
        delta |= sign;
        index = (index + INDEX_TABLE[delta as usize]).clamp(0, 88);
        step = STEPSIZE_TABLE[index as usize];
        if k % 2 == 0 {
            outputbuffer = (delta << 4) & 0xf0;
        } else {
            if o < out.len() {
                out[o] = ((delta & 0x0f) | outputbuffer) as u8;
            }
            o += 1;
        }
    }
    (valpred, index)
}

/// `audioop.lin2adpcm`: 4-bit Intel/DVI ADPCM, and the state to pass next.
pub fn lin2adpcm(b: &[u8], width: i32, state: Option<AdpcmState>) -> Result<(Vec<u8>, AdpcmState), Error> {
    let w = check(b.len(), width)?;
    let state = check_adpcm_state(state)?;
    let mut out = vec![0u8; b.len() / (w * 2)];
    let state = by_width!(w, lin2adpcm_w(b, state, &mut out));
    Ok((out, state))
}

fn adpcm2lin_w<const W: usize>(codes: &[u8], (mut valpred, mut index): AdpcmState, out: &mut [u8]) -> AdpcmState {
    let mut step = STEPSIZE_TABLE[index as usize];
    let mut decode = |delta: i32, o: &mut [u8]| {
        index = (index + INDEX_TABLE[delta as usize]).clamp(0, 88);
        let (sign, d) = (delta & 8, delta & 7);
        let mut vpdiff = step >> 3;
        if d & 4 != 0 {
            vpdiff += step;
        }
        if d & 2 != 0 {
            vpdiff += step >> 1;
        }
        if d & 1 != 0 {
            vpdiff += step >> 2;
        }
        valpred = if sign != 0 { valpred - vpdiff } else { valpred + vpdiff }.clamp(-32768, 32767);
        step = STEPSIZE_TABLE[index as usize];
        set32::<W>(o, valpred << 16);
    };
    // Each code byte holds two samples, the high nibble first.
    for (o, &c) in out.chunks_exact_mut(2 * W).zip(codes) {
        let (hi, lo) = o.split_at_mut(W);
        decode((c >> 4) as i32, hi);
        decode((c & 0xf) as i32, lo);
    }
    (valpred, index)
}

/// `audioop.adpcm2lin`: decodes 4-bit Intel/DVI ADPCM; and the state to pass next.
pub fn adpcm2lin(codes: &[u8], width: i32, state: Option<AdpcmState>) -> Result<(Vec<u8>, AdpcmState), Error> {
    let w = check_width(width)?;
    let state = check_adpcm_state(state)?;
    let mut out = vec![0u8; codes.len() * 2 * w];
    let state = by_width!(w, adpcm2lin_w(codes, state, &mut out));
    Ok((out, state))
}

/// `audioop.ratecv`'s state: `(d, ((prev, cur), ...))`, one pair per channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatecvState {
    /// The phase counter.
    pub d: i32,
    /// Per channel: the previous and current input sample (32-bit scaled).
    pub samples: Vec<(i32, i32)>,
}

fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b > 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `audioop.ratecv`: audioop's linear interpolation (with its optional
/// one-pole smoothing, `weight_a`/`weight_b`) from `inrate` to `outrate`,
/// any number of channels; returns the output and the state to pass next.
#[allow(clippy::too_many_arguments)]
pub fn ratecv(
    b: &[u8],
    width: i32,
    nchannels: i32,
    inrate: i32,
    outrate: i32,
    state: Option<&RatecvState>,
    weight_a: i32,
    weight_b: i32,
) -> Result<(Vec<u8>, RatecvState), Error> {
    let w = check_width(width)?;
    if nchannels < 1 {
        return Err(err("# of channels should be >= 1"));
    }
    let bytes_per_frame = w * nchannels as usize; // at most 4 * i32::MAX: no overflow in usize
    if weight_a < 1 || weight_b < 0 {
        return Err(err("weightA should be >= 1, weightB should be >= 0"));
    }
    if !b.len().is_multiple_of(bytes_per_frame) {
        return Err(err("not a whole number of frames"));
    }
    if inrate <= 0 || outrate <= 0 {
        return Err(err("sampling rate not > 0"));
    }
    let g = gcd(inrate, outrate);
    let (inrate, outrate) = (inrate / g, outrate / g);
    let g = gcd(weight_a, weight_b);
    let (wa, wb) = ((weight_a / g) as f64, (weight_b / g) as f64);
    let nch = nchannels as usize;
    let (d, prev, cur) = match state {
        None => (-outrate, vec![0i32; nch], vec![0i32; nch]),
        Some(s) => {
            if s.samples.len() != nch {
                return Err(err("illegal state argument"));
            }
            (s.d, s.samples.iter().map(|p| p.0).collect(), s.samples.iter().map(|p| p.1).collect())
        }
    };
    let frames = b.len() / bytes_per_frame;
    let cap = if frames == 0 { 0 } else { (1 + (frames - 1) / inrate as usize) * outrate as usize * bytes_per_frame };
    let mut out = vec![0u8; cap];
    let mut st = Interp { d, prev, cur, inrate, outrate, wa, wb };
    let n = by_width!(w, ratecv_w(b, &mut st, &mut out)).ok_or(err("illegal state argument"))?;
    out.truncate(n);
    let samples = st.prev.iter().copied().zip(st.cur.iter().copied()).collect();
    Ok((out, RatecvState { d: st.d, samples }))
}

/// ratecv's running state.
struct Interp {
    d: i32,
    prev: Vec<i32>,
    cur: Vec<i32>,
    inrate: i32,
    outrate: i32,
    wa: f64,
    wb: f64,
}

/// ratecv's loop for width `W`; returns the output bytes written, or None
/// if a state the caller made up (a `d` no call returns) asks for more
/// output than audioop's own bound, where audioop would write past its
/// buffer.
fn ratecv_w<const W: usize>(b: &[u8], s: &mut Interp, out: &mut [u8]) -> Option<usize> {
    let nch = s.prev.len();
    let mut input = b.chunks_exact(W);
    let mut frames = b.len() / (W * nch);
    let mut o = 0;
    loop {
        while s.d < 0 {
            if frames == 0 {
                return Some(o);
            }
            for ch in 0..nch {
                s.prev[ch] = s.cur[ch];
                let v = get32::<W>(input.next().expect("whole frames were checked"));
                s.cur[ch] = ((s.wa * v as f64 + s.wb * s.prev[ch] as f64) / (s.wa + s.wb)) as i32;
            }
            frames -= 1;
            s.d += s.outrate;
        }
        while s.d >= 0 {
            for ch in 0..nch {
                let v = ((s.prev[ch] as f64 * s.d as f64 + s.cur[ch] as f64 * (s.outrate - s.d) as f64)
                    / s.outrate as f64) as i32;
                set32::<W>(out.get_mut(o..o + W)?, v);
                o += W;
            }
            s.d -= s.inrate;
        }
    }
}
