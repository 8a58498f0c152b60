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

use crate::error::{Error, check_len};
use crate::isa::Isa;

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
/// truncation (exact inside the i32 range), so the loops vectorise without
/// a libm call or a saturating conversion per sample. NaN gives what C's
/// `(int)NAN` gives on x86, `i32::MIN` (audioop casts without a check).
#[inline(always)]
fn fbound(v: f64, min: f64, max: f64) -> i32 {
    let c = if v.is_nan() { i32::MIN as f64 } else { v.clamp(min, max) };
    // SAFETY: `c` is finite and inside [i32::MIN, i32::MAX] (the bounds are).
    let t = unsafe { c.to_int_unchecked::<i32>() };
    if (t as f64) > c { t - 1 } else { t }
}

/// The instruction set the kernels run on: the best this CPU has, or the
/// one a test forces (so every path is checked against the scalar one).
#[cfg(not(test))]
#[inline(always)]
fn isa() -> Isa {
    Isa::detect()
}
#[cfg(test)]
thread_local!(static FORCED: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) });
#[cfg(test)]
fn isa() -> Isa {
    FORCED.with(|f| f.get()).unwrap_or_else(Isa::detect)
}

/// Runs `$e` compiled for [`isa`]: the loops are written once, plainly, and
/// the compiler vectorises them per instruction set (see [`Isa::run`]).
/// Vectorising never changes a result: floating-point sums stay in order
/// and integer ones are exact.
macro_rules! simd {
    ($e:expr) => {
        isa().run(
            #[inline(always)]
            || $e,
        )
    };
}

/// Checks that `out` has the `expected` length of a `*_into` function's output.
fn check_out(out: &[u8], expected: usize) -> Result<(), Error> {
    check_len(expected, out.len())
}

/// Bytes out of a `*_into` function, in a new `Vec`.
fn to_vec(len: usize, fill: impl FnOnce(&mut [u8]) -> Result<(), Error>) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; len];
    fill(&mut out)?;
    Ok(out)
}

/// Largest sum of squares (or of products) of 16-bit samples that is exact
/// in f64 whatever the order: below it, an integer sum is bit for bit the
/// double audioop accumulates, and it vectorises.
const EXACT: u64 = 1 << 53;
/// Samples of 16 bits whose squares always sum below [`EXACT`] (2^30 each).
const EXACT_SAMPLES16: usize = 1 << 22;

/// `audioop.getsample`.
pub fn getsample(b: &[u8], width: i32, index: isize) -> Result<i32, Error> {
    let w = check(b.len(), width)?;
    if index < 0 || index as usize >= b.len() / w {
        return Err(err("Index out of range"));
    }
    let i = index as usize * w;
    Ok(by_width!(w, get(&b[i..i + w])))
}

#[inline(always)]
fn max_w<const W: usize>(b: &[u8]) -> u32 {
    b.chunks_exact(W).map(|c| get::<W>(c).unsigned_abs()).fold(0, u32::max)
}

/// `audioop.max`: the largest absolute value.
pub fn max(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    Ok(simd!(by_width!(w, max_w(b))))
}

#[inline(always)]
fn minmax_w<const W: usize>(b: &[u8]) -> (i32, i32) {
    let lo = b.chunks_exact(W).map(get::<W>).fold(i32::MAX, i32::min);
    let hi = b.chunks_exact(W).map(get::<W>).fold(i32::MIN, i32::max);
    (lo, hi)
}

/// `audioop.minmax`: `(min, max)`; `(0x7fffffff, -0x80000000)` when empty.
pub fn minmax(b: &[u8], width: i32) -> Result<(i32, i32), Error> {
    let w = check(b.len(), width)?;
    Ok(simd!(by_width!(w, minmax_w(b))))
}

#[inline(always)]
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
    Ok((simd!(by_width!(w, sum_w(b))) / (b.len() / w) as f64).floor() as i32)
}

#[inline(always)]
fn sum_squares_w<const W: usize>(b: &[u8]) -> f64 {
    if W <= 2 && b.len() / W <= EXACT_SAMPLES16 {
        let s: u64 = b.chunks_exact(W).map(|c| (get::<W>(c) as i64 * get::<W>(c) as i64) as u64).sum();
        return s as f64;
    }
    // audioop's own order, for wide samples or huge buffers.
    b.chunks_exact(W).map(|c| get::<W>(c) as f64).map(|v| v * v).fold(0.0, |a, x| a + x)
}

/// `audioop.rms`.
pub fn rms(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    if b.is_empty() {
        return Ok(0);
    }
    Ok((simd!(by_width!(w, sum_squares_w(b))) / (b.len() / w) as f64).sqrt() as u32)
}

/// audioop's peak-to-peak walk, as state: the last sample, the last
/// direction (1 down, 0 up, 17 none yet), the last extreme, and the
/// differences between consecutive extremes (exact sum, count, largest).
struct Walk {
    prevval: i32,
    prevdiff: i32,
    prevextreme: i32,
    valid: bool,
    sum: u64,
    n: u64,
    max: u32,
}

impl Walk {
    /// An extreme at `e`: the difference from the previous one is counted.
    #[inline(always)]
    fn extreme(&mut self, e: i32) {
        if self.valid {
            let d = e.abs_diff(self.prevextreme);
            self.sum += d as u64;
            self.n += 1;
            self.max = self.max.max(d);
        }
        self.valid = true;
        self.prevextreme = e;
    }

    /// audioop's loop body for one sample.
    #[inline(always)]
    fn step(&mut self, val: i32) {
        if val != self.prevval {
            let diff = (val < self.prevval) as i32;
            if self.prevdiff == (diff == 0) as i32 {
                self.extreme(self.prevval); // the derivative changed sign
            }
            self.prevval = val;
            self.prevdiff = diff;
        }
    }
}

/// The peak-to-peak walk as `(exact sum, count, largest)` of the
/// differences between consecutive extremes.
///
/// audioop branches on every sample, and in speech the direction changes
/// unpredictably. Here 64 samples at a time become two bit masks (equal to
/// the previous sample, below it) without branches; when no sample in the
/// block repeats its predecessor, the direction changes are the bits where
/// the "below" mask differs from itself shifted by one, and only those are
/// visited. A block with a repeat (a plateau, digital silence) takes
/// audioop's loop. The results are the same either way.
#[inline(always)]
fn peaks<const W: usize>(b: &[u8]) -> (u64, u64, u32) {
    let n = b.len() / W;
    if n <= 1 {
        return (0, 0, 0);
    }
    let at = |i: usize| get::<W>(&b[i * W..i * W + W]);
    let mut w = Walk { prevval: at(0), prevdiff: 17, prevextreme: 0, valid: false, sum: 0, n: 0, max: 0 };
    let mut i = 1;
    while i + 64 <= n {
        // a[j] is sample i - 1 + j: the block and the sample before it.
        let mut a = [0i32; 65];
        for (j, v) in a.iter_mut().enumerate() {
            *v = at(i - 1 + j);
        }
        let (mut eq, mut down) = (0u64, 0u64);
        for j in 0..64 {
            eq |= ((a[j + 1] == a[j]) as u64) << j;
            down |= ((a[j + 1] < a[j]) as u64) << j;
        }
        if eq == 0 && w.prevdiff != 17 {
            // Every sample changes, so each one's previous direction is the
            // last one's: a turn is where `down` differs from it.
            let mut turns = down ^ ((down << 1) | w.prevdiff as u64);
            while turns != 0 {
                let j = turns.trailing_zeros() as usize;
                w.extreme(a[j]);
                turns &= turns - 1;
            }
            w.prevdiff = (down >> 63) as i32;
            w.prevval = a[64];
        } else {
            for &v in &a[1..] {
                w.step(v);
            }
        }
        i += 64;
    }
    for j in i..n {
        w.step(at(j));
    }
    (w.sum, w.n, w.max)
}

/// audioop's avgpp sum, in its order (in double), for sums past [`EXACT`].
fn avgpp_f64<const W: usize>(b: &[u8]) -> f64 {
    let mut prevval = get::<W>(&b[..W]);
    let mut prevdiff = 17;
    let (mut prevextreme, mut valid, mut sum) = (0i32, false, 0.0f64);
    for c in b[W..].chunks_exact(W) {
        let val = get::<W>(c);
        if val != prevval {
            let diff = (val < prevval) as i32;
            if prevdiff == (diff == 0) as i32 {
                if valid {
                    sum += (prevval.abs_diff(prevextreme)) as f64;
                }
                valid = true;
                prevextreme = prevval;
            }
            prevval = val;
            prevdiff = diff;
        }
    }
    sum
}

/// `audioop.avgpp`: the mean peak-to-peak value.
pub fn avgpp(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    let (sum, n, _) = simd!(by_width!(w, peaks(b)));
    if n == 0 {
        return Ok(0);
    }
    // Every partial sum is below the total: exact in double when it is.
    let sum = if sum < EXACT { sum as f64 } else { by_width!(w, avgpp_f64(b)) };
    Ok((sum / n as f64) as u32)
}

/// `audioop.maxpp`: the largest peak-to-peak value.
pub fn maxpp(b: &[u8], width: i32) -> Result<u32, Error> {
    let w = check(b.len(), width)?;
    Ok(simd!(by_width!(w, peaks(b))).2)
}

#[inline(always)]
fn cross_w<const W: usize>(b: &[u8]) -> isize {
    if b.is_empty() {
        return -1; // audioop's count starts at -1 and the first sample adds one
    }
    let neg = |c: &[u8]| get::<W>(c) < 0;
    b.chunks_exact(W).zip(b[W..].chunks_exact(W)).filter(|(p, c)| neg(p) != neg(c)).count() as isize
}

/// `audioop.cross`: zero crossings (-1 for an empty fragment, as audioop).
pub fn cross(b: &[u8], width: i32) -> Result<isize, Error> {
    let w = check(b.len(), width)?;
    Ok(simd!(by_width!(w, cross_w(b))))
}

#[inline(always)]
fn i16_at(b: &[u8], j: usize) -> i64 {
    i16::from_ne_bytes([b[2 * j], b[2 * j + 1]]) as i64
}

/// audioop's `_sum2`: the dot product of two 16-bit fragments, in double.
/// Computed as an exact integer when that is the same double (fewer than
/// [`EXACT_SAMPLES16`] products), which vectorises.
#[inline(always)]
fn sum2(a: &[u8], b: &[u8]) -> f64 {
    let s = |c: &[u8]| i16::from_ne_bytes([c[0], c[1]]);
    let (a, b) = (a.chunks_exact(2).map(s), b.chunks_exact(2).map(s));
    if a.len() <= EXACT_SAMPLES16 {
        a.zip(b).map(|(x, y)| x as i64 * y as i64).sum::<i64>() as f64
    } else {
        a.zip(b).fold(0.0, |acc, (x, y)| acc + x as f64 * y as f64)
    }
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
    let a = |j: usize| i16_at(fragment, j) as f64;
    simd!({
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
    })
}

/// `audioop.findfactor` (16-bit).
pub fn findfactor(fragment: &[u8], reference: &[u8]) -> Result<f64, Error> {
    if !fragment.len().is_multiple_of(2) || !reference.len().is_multiple_of(2) {
        return Err(err("Strings should be even-sized"));
    }
    if fragment.len() != reference.len() {
        return Err(err("Samples should be same size"));
    }
    Ok(simd!(sum2(fragment, reference) / sum2(reference, reference)))
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
    let sq = |j: usize| i16_at(fragment, j) * i16_at(fragment, j);
    if length < EXACT_SAMPLES16 {
        // audioop's running sum in double is an exact integer here (the
        // window plus one square stays below 2^53): the same in i64, with
        // one add on the loop's critical path instead of two.
        let mut result: i64 = simd!((0..length).map(sq).sum());
        let (mut best, mut best_j) = (result, 0);
        let s = |c: &[u8]| i16::from_ne_bytes([c[0], c[1]]) as i64;
        let (entering, leaving) = (fragment[2 * length..].chunks_exact(2), fragment.chunks_exact(2));
        for (j, (e, l)) in entering.zip(leaving).enumerate() {
            result += s(e) * s(e) - s(l) * s(l);
            // Branch-free: a new best is rare but unpredictable.
            let better = result > best;
            best = if better { result } else { best };
            best_j = if better { j + 1 } else { best_j };
        }
        return Ok(best_j);
    }
    let mut result = sum2(&fragment[..2 * length], &fragment[..2 * length]);
    let (mut best, mut best_j) = (result, 0);
    for j in 1..=len1 - length {
        result = result + sq(j + length - 1) as f64 - sq(j - 1) as f64;
        if result > best {
            best = result;
            best_j = j;
        }
    }
    Ok(best_j)
}

#[inline(always)]
fn mul_w<const W: usize>(b: &[u8], factor: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        set::<W>(o, fbound(get::<W>(c) as f64 * factor, min, max));
    }
}

/// `audioop.mul` into `out` (`b.len()` bytes).
pub fn mul_into(b: &[u8], width: i32, factor: f64, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len())?;
    simd!(by_width!(w, mul_w(b, factor, out)));
    Ok(())
}

/// `audioop.mul`.
pub fn mul(b: &[u8], width: i32, factor: f64) -> Result<Vec<u8>, Error> {
    to_vec(b.len(), |o| mul_into(b, width, factor, o))
}

#[inline(always)]
fn tomono_w<const W: usize>(b: &[u8], l: f64, r: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(2 * W)) {
        let v = get::<W>(&c[..W]) as f64 * l + get::<W>(&c[W..]) as f64 * r;
        set::<W>(o, fbound(v, min, max));
    }
}

/// `audioop.tomono` into `out` (`b.len() / 2` bytes).
pub fn tomono_into(b: &[u8], width: i32, lfactor: f64, rfactor: f64, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    if !(b.len() / w).is_multiple_of(2) {
        return Err(err("not a whole number of frames"));
    }
    check_out(out, b.len() / 2)?;
    simd!(by_width!(w, tomono_w(b, lfactor, rfactor, out)));
    Ok(())
}

/// `audioop.tomono`.
pub fn tomono(b: &[u8], width: i32, lfactor: f64, rfactor: f64) -> Result<Vec<u8>, Error> {
    to_vec(b.len() / 2, |o| tomono_into(b, width, lfactor, rfactor, o))
}

#[inline(always)]
fn tostereo_w<const W: usize>(b: &[u8], l: f64, r: f64, out: &mut [u8]) {
    let (min, max) = (MINVALS[W] as f64, MAXVALS[W] as f64);
    for (o, c) in out.chunks_exact_mut(2 * W).zip(b.chunks_exact(W)) {
        let v = get::<W>(c) as f64;
        set::<W>(&mut o[..W], fbound(v * l, min, max));
        set::<W>(&mut o[W..], fbound(v * r, min, max));
    }
}

/// `audioop.tostereo` into `out` (`2 * b.len()` bytes).
pub fn tostereo_into(b: &[u8], width: i32, lfactor: f64, rfactor: f64, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len() * 2)?;
    simd!(by_width!(w, tostereo_w(b, lfactor, rfactor, out)));
    Ok(())
}

/// `audioop.tostereo`.
pub fn tostereo(b: &[u8], width: i32, lfactor: f64, rfactor: f64) -> Result<Vec<u8>, Error> {
    to_vec(b.len() * 2, |o| tostereo_into(b, width, lfactor, rfactor, o))
}

#[inline(always)]
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

/// `audioop.add` into `out` (`a.len()` bytes).
pub fn add_into(a: &[u8], b: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    let w = check(a.len(), width)?;
    if a.len() != b.len() {
        return Err(err("Lengths should be the same"));
    }
    check_out(out, a.len())?;
    simd!(by_width!(w, add_w(a, b, out)));
    Ok(())
}

/// `audioop.add`.
pub fn add(a: &[u8], b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(a.len(), |o| add_into(a, b, width, o))
}

#[inline(always)]
fn bias_w<const W: usize>(b: &[u8], bias: i32, out: &mut [u8]) {
    // Wraps around, as audioop does (unsigned arithmetic on the raw bits).
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        set::<W>(o, get::<W>(c).wrapping_add(bias));
    }
}

/// `audioop.bias` into `out` (`b.len()` bytes).
pub fn bias_into(b: &[u8], width: i32, bias: i32, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len())?;
    simd!(by_width!(w, bias_w(b, bias, out)));
    Ok(())
}

/// `audioop.bias`.
pub fn bias(b: &[u8], width: i32, bias: i32) -> Result<Vec<u8>, Error> {
    to_vec(b.len(), |o| bias_into(b, width, bias, o))
}

#[inline(always)]
fn reverse_w<const W: usize>(b: &[u8], out: &mut [u8]) {
    for (o, c) in out.chunks_exact_mut(W).zip(b.rchunks_exact(W)) {
        set::<W>(o, get::<W>(c));
    }
}

/// `audioop.reverse` into `out` (`b.len()` bytes): the samples in reverse order.
pub fn reverse_into(b: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len())?;
    simd!(by_width!(w, reverse_w(b, out)));
    Ok(())
}

/// `audioop.reverse`: the samples in reverse order.
pub fn reverse(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(b.len(), |o| reverse_into(b, width, o))
}

#[inline(always)]
fn byteswap_w<const W: usize>(b: &[u8], out: &mut [u8]) {
    for (o, c) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        match W {
            2 => o.copy_from_slice(&u16::from_ne_bytes([c[0], c[1]]).swap_bytes().to_ne_bytes()),
            4 => o.copy_from_slice(&u32::from_ne_bytes([c[0], c[1], c[2], c[3]]).swap_bytes().to_ne_bytes()),
            _ => {
                for (k, x) in o.iter_mut().enumerate() {
                    *x = c[W - 1 - k];
                }
            }
        }
    }
}

/// `audioop.byteswap` into `out` (`b.len()` bytes): each sample's bytes in reverse order.
pub fn byteswap_into(b: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len())?;
    simd!(by_width!(w, byteswap_w(b, out)));
    Ok(())
}

/// `audioop.byteswap`: each sample's bytes in reverse order.
pub fn byteswap(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(b.len(), |o| byteswap_into(b, width, o))
}

#[inline(always)]
fn lin2lin_w<const W: usize, const N: usize>(b: &[u8], out: &mut [u8]) {
    for (o, c) in out.chunks_exact_mut(N).zip(b.chunks_exact(W)) {
        set32::<N>(o, get32::<W>(c));
    }
}

#[inline(always)]
fn lin2lin_from<const W: usize>(b: &[u8], n: usize, out: &mut [u8]) {
    match n {
        1 => lin2lin_w::<W, 1>(b, out),
        2 => lin2lin_w::<W, 2>(b, out),
        3 => lin2lin_w::<W, 3>(b, out),
        _ => lin2lin_w::<W, 4>(b, out),
    }
}

/// The length of `lin2lin`'s output, after audioop's checks.
pub fn lin2lin_len(len: usize, width: i32, newwidth: i32) -> Result<usize, Error> {
    let w = check(len, width)?;
    Ok(len / w * check_width(newwidth)?)
}

/// `audioop.lin2lin` into `out` ([`lin2lin_len`] bytes).
pub fn lin2lin_into(b: &[u8], width: i32, newwidth: i32, out: &mut [u8]) -> Result<(), Error> {
    check_out(out, lin2lin_len(b.len(), width, newwidth)?)?;
    let (w, n) = (width as usize, newwidth as usize);
    simd!(by_width!(w, lin2lin_from(b, n, out)));
    Ok(())
}

/// `audioop.lin2lin`: to another width (the top bits kept).
pub fn lin2lin(b: &[u8], width: i32, newwidth: i32) -> Result<Vec<u8>, Error> {
    to_vec(lin2lin_len(b.len(), width, newwidth)?, |o| lin2lin_into(b, width, newwidth, o))
}

#[inline(always)]
fn encode_w<const W: usize>(b: &[u8], out: &mut [u8], encode: impl Fn(i16) -> u8) {
    for (o, c) in out.iter_mut().zip(b.chunks_exact(W)) {
        *o = encode((get32::<W>(c) >> 16) as i16);
    }
}

/// Encodes the top 16 bits of each sample: 16-bit input goes straight to
/// the G.711 kernels, other widths through the same per-sample encoder.
fn lin2law_into(
    b: &[u8],
    width: i32,
    out: &mut [u8],
    kernel: fn(&[i16], &mut [u8]) -> Result<(), Error>,
    encode: fn(i16) -> u8,
) -> Result<(), Error> {
    let w = check(b.len(), width)?;
    check_out(out, b.len() / w)?;
    if w == 2 {
        return kernel(&crate::pcm::i16_le(b), out);
    }
    simd!(by_width!(w, encode_w(b, out, encode)));
    Ok(())
}

/// `audioop.lin2ulaw` into `out` (one byte per sample): CPython's encoder,
/// which differs from G.711 on 508 negative 16-bit inputs (see
/// [`crate::g711::ulaw_encode_audioop`]). Like audioop, it encodes the top
/// 16 bits of each sample.
pub fn lin2ulaw_into(b: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    lin2law_into(b, width, out, crate::g711::ulaw_encode_audioop, crate::g711::ulaw_encode_audioop_sample)
}

/// `audioop.lin2ulaw`.
pub fn lin2ulaw(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(b.len() / check_width(width)?, |o| lin2ulaw_into(b, width, o))
}

/// `audioop.lin2alaw` into `out` (one byte per sample): G.711 A-law, which
/// audioop's encoder is, of the top 16 bits of each sample.
pub fn lin2alaw_into(b: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    lin2law_into(b, width, out, crate::g711::alaw_encode, crate::g711::encode_fast_alaw)
}

/// `audioop.lin2alaw`.
pub fn lin2alaw(b: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(b.len() / check_width(width)?, |o| lin2alaw_into(b, width, o))
}

#[inline(always)]
fn decode_w<const W: usize>(codes: &[u8], out: &mut [u8], decode: impl Fn(u8) -> i16) {
    for (o, &c) in out.chunks_exact_mut(W).zip(codes) {
        set32::<W>(o, (decode(c) as i32) << 16);
    }
}

fn law2lin_into(
    codes: &[u8],
    width: i32,
    out: &mut [u8],
    kernel: fn(&[u8], &mut [i16]) -> Result<(), Error>,
    decode: fn(u8) -> i16,
) -> Result<(), Error> {
    let w = check_width(width)?;
    check_out(out, codes.len() * w)?;
    if w == 2 {
        return crate::pcm::with_i16_le_mut(out, |o| kernel(codes, o));
    }
    simd!(by_width!(w, decode_w(codes, out, decode)));
    Ok(())
}

/// `audioop.ulaw2lin` into `out` (`width` bytes per code): G.711 mu-law decode.
pub fn ulaw2lin_into(codes: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    law2lin_into(codes, width, out, crate::g711::ulaw_decode, crate::g711::ulaw_decode_sample)
}

/// `audioop.ulaw2lin`.
pub fn ulaw2lin(codes: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(codes.len() * check_width(width)?, |o| ulaw2lin_into(codes, width, o))
}

/// `audioop.alaw2lin` into `out` (`width` bytes per code): G.711 A-law decode.
pub fn alaw2lin_into(codes: &[u8], width: i32, out: &mut [u8]) -> Result<(), Error> {
    law2lin_into(codes, width, out, crate::g711::alaw_decode, crate::g711::alaw_decode_sample)
}

/// `audioop.alaw2lin`.
pub fn alaw2lin(codes: &[u8], width: i32) -> Result<Vec<u8>, Error> {
    to_vec(codes.len() * check_width(width)?, |o| alaw2lin_into(codes, width, o))
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

/// `audioop.lin2adpcm` into `out` (one byte per two samples): 4-bit
/// Intel/DVI ADPCM; returns the state to pass next.
pub fn lin2adpcm_into(b: &[u8], width: i32, state: Option<AdpcmState>, out: &mut [u8]) -> Result<AdpcmState, Error> {
    let w = check(b.len(), width)?;
    let state = check_adpcm_state(state)?;
    check_out(out, b.len() / (w * 2))?;
    Ok(by_width!(w, lin2adpcm_w(b, state, out)))
}

/// `audioop.lin2adpcm`: 4-bit Intel/DVI ADPCM, and the state to pass next.
pub fn lin2adpcm(b: &[u8], width: i32, state: Option<AdpcmState>) -> Result<(Vec<u8>, AdpcmState), Error> {
    let mut out = vec![0u8; b.len() / (check_width(width)? * 2)];
    let state = lin2adpcm_into(b, width, state, &mut out)?;
    Ok((out, state))
}

/// The decoder's signed `vpdiff` for each step index and 4-bit code:
/// audioop's shift-and-add, tabulated (89 x 16), so a sample costs one load
/// and no branch on the data.
const VPDIFF: [[i32; 16]; 89] = {
    let mut t = [[0; 16]; 89];
    let mut i = 0;
    while i < 89 {
        let step = STEPSIZE_TABLE[i];
        let mut d = 0;
        while d < 8 {
            let mut v = step >> 3;
            if d & 4 != 0 {
                v += step;
            }
            if d & 2 != 0 {
                v += step >> 1;
            }
            if d & 1 != 0 {
                v += step >> 2;
            }
            t[i][d] = v;
            t[i][d | 8] = -v;
            d += 1;
        }
        i += 1;
    }
    t
};

/// audioop's decoder, one nibble per output sample (each code byte holds
/// two, the high nibble first).
fn adpcm2lin_w<const W: usize>(codes: &[u8], (mut valpred, mut index): AdpcmState, out: &mut [u8]) -> AdpcmState {
    let mut decode = |delta: usize| {
        // The step of the index before this sample's update, as audioop.
        let vpdiff = VPDIFF[index as usize][delta];
        index = (index + INDEX_TABLE[delta]).clamp(0, 88);
        valpred = (valpred + vpdiff).clamp(-32768, 32767);
        valpred << 16
    };
    for (o, &c) in out.chunks_exact_mut(2 * W).zip(codes) {
        let (hi, lo) = o.split_at_mut(W);
        set32::<W>(hi, decode((c >> 4) as usize));
        set32::<W>(lo, decode((c & 0xf) as usize));
    }
    (valpred, index)
}

/// `audioop.adpcm2lin` into `out` (`2 * width` bytes per code byte):
/// decodes 4-bit Intel/DVI ADPCM; returns the state to pass next.
pub fn adpcm2lin_into(
    codes: &[u8],
    width: i32,
    state: Option<AdpcmState>,
    out: &mut [u8],
) -> Result<AdpcmState, Error> {
    let w = check_width(width)?;
    let state = check_adpcm_state(state)?;
    check_out(out, codes.len() * 2 * w)?;
    Ok(by_width!(w, adpcm2lin_w(codes, state, out)))
}

/// `audioop.adpcm2lin`: decodes 4-bit Intel/DVI ADPCM; and the state to pass next.
pub fn adpcm2lin(codes: &[u8], width: i32, state: Option<AdpcmState>) -> Result<(Vec<u8>, AdpcmState), Error> {
    let mut out = vec![0u8; codes.len() * 2 * check_width(width)?];
    let state = adpcm2lin_into(codes, width, state, &mut out)?;
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
    if s.prev.len() == 1 {
        return ratecv_mono::<W>(b, s, out);
    }
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
                let v = ((s.prev[ch] as f64 * s.d as f64 + s.cur[ch] as f64 * s.outrate.wrapping_sub(s.d) as f64)
                    / s.outrate as f64) as i32;
                set32::<W>(out.get_mut(o..o + W)?, v);
                o += W;
            }
            s.d -= s.inrate;
        }
    }
}

/// [`ratecv_w`] for one channel (the usual case), with the state in
/// registers: the same operations in the same order.
fn ratecv_mono<const W: usize>(b: &[u8], s: &mut Interp, out: &mut [u8]) -> Option<usize> {
    let (mut d, mut prev, mut cur) = (s.d, s.prev[0], s.cur[0]);
    let (inrate, outrate, wa, wb) = (s.inrate, s.outrate, s.wa, s.wb);
    // weightA 1 and weightB 0 (the default): the filter gives v back exactly.
    let unweighted = wa == 1.0 && wb == 0.0;
    let mut input = b.chunks_exact(W);
    let total = out.len() / W;
    let mut slots = out.chunks_exact_mut(W);
    let written = 'run: loop {
        while d < 0 {
            let Some(c) = input.next() else { break 'run total - slots.len() };
            prev = cur;
            let v = get32::<W>(c);
            cur = if unweighted { v } else { ((wa * v as f64 + wb * prev as f64) / (wa + wb)) as i32 };
            d += outrate;
        }
        while d >= 0 {
            let v = ((prev as f64 * d as f64 + cur as f64 * outrate.wrapping_sub(d) as f64) / outrate as f64) as i32;
            set32::<W>(slots.next()?, v);
            d -= inrate;
        }
    };
    (s.d, s.prev[0], s.cur[0]) = (d, prev, cur);
    Some(written * W)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic test fragments: noise, full-scale square waves, runs of
    /// equal samples and silence, at every width and a spread of lengths.
    fn fragments() -> Vec<Vec<u8>> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut v = vec![Vec::new()];
        for len in [1usize, 2, 3, 7, 12, 63, 64, 65, 320, 961, 4096] {
            v.push((0..len * 4).map(|_| rnd() as u8).collect());
            v.push((0..len * 4).map(|i| if (i / 8) % 2 == 0 { 0x7f } else { 0x80 }).collect());
            v.push((0..len * 4).map(|i| ((i / 24) as u8).wrapping_mul(37)).collect());
            v.push(vec![0; len * 4]);
        }
        v
    }

    /// Every function's result for `b`, at every width, as text.
    fn all_results(b: &[u8]) -> Vec<String> {
        let mut r = Vec::new();
        for w in 1..=4 {
            let b = &b[..b.len() / (2 * w as usize) * (2 * w as usize)];
            r.push(format!("{:?}", (max(b, w), minmax(b, w), avg(b, w), rms(b, w), avgpp(b, w), maxpp(b, w))));
            r.push(format!("{:?}", (cross(b, w), mul(b, w, 0.7), mul(b, w, -3.1), tomono(b, w, 0.5, 0.75))));
            r.push(format!("{:?}", (tostereo(b, w, 1.0, -0.8), add(b, &reverse(b, w).unwrap(), w), bias(b, w, -9))));
            r.push(format!("{:?}", (byteswap(b, w), lin2ulaw(b, w), lin2alaw(b, w), ulaw2lin(b, w), alaw2lin(b, w))));
            for n in 1..=4 {
                r.push(format!("{:?}", lin2lin(b, w, n)));
            }
            r.push(format!("{:?}", ratecv(b, w, 1, 8000, 24000, None, 1, 0)));
            r.push(format!("{:?}", ratecv(b, w, 2, 24000, 8000, None, 3, 2)));
        }
        let h = &b[..b.len() / 4 * 2];
        r.push(format!("{:?}", (findfactor(h, h), findmax(b, 5), findfit(b, &b[..b.len().min(40)]))));
        r
    }

    #[test]
    fn every_instruction_set_gives_the_scalar_results() {
        let frags = fragments();
        FORCED.with(|f| f.set(Some(Isa::Scalar)));
        let want: Vec<_> = frags.iter().map(|b| all_results(b)).collect();
        for isa in Isa::available() {
            FORCED.with(|f| f.set(Some(isa)));
            for (b, want) in frags.iter().zip(&want) {
                assert_eq!(&all_results(b), want, "{isa} on {} bytes", b.len());
            }
        }
        FORCED.with(|f| f.set(None));
    }

    /// CPython's avgpp/maxpp loop, transcribed: `(sum, count, max)`.
    fn reference_peaks(x: &[i32]) -> (u64, u64, u32) {
        let (mut sum, mut n, mut max) = (0u64, 0u64, 0u32);
        if x.len() <= 1 {
            return (0, 0, 0);
        }
        let (mut prevval, mut prevdiff, mut prevextreme, mut valid) = (x[0], 17, 0i32, false);
        for &val in &x[1..] {
            if val != prevval {
                let diff = (val < prevval) as i32;
                if prevdiff == (diff == 0) as i32 {
                    if valid {
                        let d = if prevval < prevextreme {
                            (prevextreme as u32).wrapping_sub(prevval as u32)
                        } else {
                            (prevval as u32).wrapping_sub(prevextreme as u32)
                        };
                        sum += d as u64;
                        n += 1;
                        max = max.max(d);
                    }
                    valid = true;
                    prevextreme = prevval;
                }
                prevval = val;
                prevdiff = diff;
            }
        }
        (sum, n, max)
    }

    #[test]
    fn the_blockwise_peak_walk_is_audioops_loop() {
        // Noise (no repeats: the mask path), plateaus of every length, and
        // their mixes, across block boundaries.
        let mut frags = fragments();
        let mut x = 7u64;
        let mut walk = Vec::new();
        let mut v = 0i16;
        for i in 0..20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (x >> 33) as i16;
            if (i / 300) % 3 != 1 {
                v = v.wrapping_add(r % 2000);
            }
            walk.extend_from_slice(&v.to_ne_bytes());
        }
        frags.push(walk);
        for b in &frags {
            for w in [1, 2, 3, 4] {
                let b = &b[..b.len() / w * w];
                let samples: Vec<i32> = b.chunks_exact(w).map(|c| by_width!(w, get(c))).collect();
                assert_eq!(by_width!(w, peaks(b)), reference_peaks(&samples), "width {w}, {} bytes", b.len());
            }
        }
    }

    /// The integer fast paths give audioop's doubles: checked against the
    /// sums in audioop's order on full-scale input (the largest terms).
    #[test]
    fn exact_integer_sums_are_audioops_doubles() {
        for b in fragments().iter().filter(|b| b.len() >= 4) {
            let h = &b[..b.len() / 2 * 2];
            let seq =
                |x: &[u8], y: &[u8]| (0..x.len() / 2).fold(0.0, |a, j| a + i16_at(x, j) as f64 * i16_at(y, j) as f64);
            assert_eq!(sum2(h, h).to_bits(), seq(h, h).to_bits());
            let r = reverse(h, 2).unwrap();
            assert_eq!(sum2(h, &r).to_bits(), seq(h, &r).to_bits());
            let sq = |v: f64| v * v;
            let rms_seq = (0..h.len() / 2).fold(0.0, |a, j| a + sq(i16_at(h, j) as f64));
            assert_eq!(sum_squares_w::<2>(h).to_bits(), rms_seq.to_bits());
            for w in [1, 2, 4] {
                let b = &b[..b.len() / w * w];
                let (sum, _, _) = by_width!(w, peaks(b));
                assert_eq!(sum as f64, by_width!(w, avgpp_f64(b)));
            }
            // findmax's i64 walk against audioop's double walk.
            let len = (h.len() / 2).min(17) as isize;
            let mut result = seq(&h[..2 * len as usize], &h[..2 * len as usize]);
            let (mut best, mut best_j) = (result, 0);
            for j in 1..=h.len() / 2 - len as usize {
                let (a, b) = (i16_at(h, j + len as usize - 1) as f64, i16_at(h, j - 1) as f64);
                result = result + a * a - b * b;
                if result > best {
                    (best, best_j) = (result, j);
                }
            }
            assert_eq!(findmax(h, len).unwrap(), best_j);
        }
    }
}
