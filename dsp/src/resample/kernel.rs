//! The FIR inner loop, vectorised across output samples.
//!
//! Each lane computes one output with a fixed summation order: two partial
//! sums, `even = fma(c_j, x_j, even)` over even taps and `odd` likewise over
//! odd taps, in tap order, then `even + odd`. Scalar, AVX2, AVX-512 and NEON
//! run exactly that per lane (fused multiply-add is correctly rounded
//! everywhere), so every path gives bit-identical output. Two chains per
//! output halve the dependency chain, so a few vectors in flight already
//! saturate the FMA units.

// Register arrays (accumulators, loads) are indexed in lockstep; index loops
// read clearer than zipped iterators and unroll the same.
#![allow(clippy::needless_range_loop)]

use pulp::{Simd, WithSimd};

/// One tap of a polyphase branch: its coefficient and where its input sits
/// in the stream buffer, relative to the newest row of the first output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tap {
    pub coef: f32,
    pub idx: isize,
}

/// `out[g] = sum_j taps[j].coef * buf[row0 + taps[j].idx + g]`.
pub(crate) struct Fir<'a> {
    pub taps: &'a [Tap],
    pub buf: &'a [f32],
    pub row0: usize,
    pub out: &'a mut [f32],
}

impl WithSimd for Fir<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Fir { taps, buf, row0, out } = self;
        let w = S::F32_LANES;
        let n = out.len();
        // Validate every read once, so the tap loop can load unchecked.
        if let (Some(lo), Some(hi)) = (taps.iter().map(|t| t.idx).min(), taps.iter().map(|t| t.idx).max()) {
            assert!(
                row0 as isize + lo >= 0 && (row0 as isize + hi) as usize + n <= buf.len(),
                "FIR window out of range"
            );
        }
        let mut g = 0usize;
        if w >= 16 {
            // 32 registers: take up to 12 vectors in one pass, so a 20 ms
            // chunk (10 vectors) never leaves a latency-bound remainder.
            while g + 8 * w <= n {
                let v = ((n - g) / w).min(12);
                let o = &mut out[g..g + v * w];
                match v {
                    8 => block::<S, 8>(simd, taps, buf, row0 + g, o),
                    9 => block::<S, 9>(simd, taps, buf, row0 + g, o),
                    10 => block::<S, 10>(simd, taps, buf, row0 + g, o),
                    11 => block::<S, 11>(simd, taps, buf, row0 + g, o),
                    _ => block::<S, 12>(simd, taps, buf, row0 + g, o),
                }
                g += v * w;
            }
        }
        while g + 4 * w <= n {
            block::<S, 4>(simd, taps, buf, row0 + g, &mut out[g..g + 4 * w]);
            g += 4 * w;
        }
        while g + 2 * w <= n {
            block::<S, 2>(simd, taps, buf, row0 + g, &mut out[g..g + 2 * w]);
            g += 2 * w;
        }
        while g + w <= n {
            block::<S, 1>(simd, taps, buf, row0 + g, &mut out[g..g + w]);
            g += w;
        }
        for (gi, o) in out.iter_mut().enumerate().skip(g) {
            let x = |t: &Tap| buf[(row0 as isize + t.idx) as usize + gi];
            let (mut even, mut odd) = (0.0f32, 0.0f32);
            for pair in taps.chunks(2) {
                even = pair[0].coef.mul_add(x(&pair[0]), even);
                if let Some(t) = pair.get(1) {
                    odd = t.coef.mul_add(x(t), odd);
                }
            }
            *o = even + odd;
        }
    }
}

/// `V` vectors of outputs at once, two partial sums each.
#[inline(always)]
fn block<S: Simd, const V: usize>(simd: S, taps: &[Tap], buf: &[f32], row: usize, out: &mut [f32]) {
    let w = S::F32_LANES as isize;
    let base = buf.as_ptr();
    // SAFETY: the caller checked that every tap's window of `out.len()`
    // samples lies inside `buf`; `f32s` is plain data, read unaligned.
    let load = |at: isize| -> S::f32s { unsafe { base.offset(at).cast::<S::f32s>().read_unaligned() } };
    let z = simd.splat_f32s(0.0);
    let mut even = [z; V];
    let mut odd = [z; V];
    let row = row as isize;
    let mut pairs = taps.chunks_exact(2);
    for pair in &mut pairs {
        let (c0, c1) = (simd.splat_f32s(pair[0].coef), simd.splat_f32s(pair[1].coef));
        let (i0, i1) = (row + pair[0].idx, row + pair[1].idx);
        for v in 0..V {
            even[v] = simd.mul_add_f32s(c0, load(i0 + v as isize * w), even[v]);
            odd[v] = simd.mul_add_f32s(c1, load(i1 + v as isize * w), odd[v]);
        }
    }
    if let [t] = pairs.remainder() {
        let c = simd.splat_f32s(t.coef);
        for v in 0..V {
            even[v] = simd.mul_add_f32s(c, load(row + t.idx + v as isize * w), even[v]);
        }
    }
    for v in 0..V {
        let w = w as usize;
        S::as_mut_simd_f32s(&mut out[v * w..(v + 1) * w]).0[0] = simd.add_f32s(even[v], odd[v]);
    }
}

/// All `L` branches of an integer upsampler (M = 1) at once: they read the
/// same input window (tap `j` of every branch is `x[newest - j]`), so each
/// loaded vector feeds `L` FMAs. `coefs` is tap-major (`coefs[j * L + c]`),
/// every branch padded to the same length with zeros, and the summation
/// order per lane is exactly `Fir`'s. `out[c]` receives branch `c`.
#[inline(always)]
pub(crate) fn fir_upsample<S: Simd, const L: usize>(
    simd: S,
    coefs: &[f32],
    buf: &[f32],
    row0: usize,
    out: [&mut [f32]; L],
) {
    let n = out[0].len();
    let k = coefs.len() / L;
    let w = S::F32_LANES;
    assert!(row0 + 1 >= k && row0 + n <= buf.len() && out.iter().all(|o| o.len() == n), "FIR window out of range");
    let mut out = out;
    let mut g = 0;
    if w >= 16 && L <= 3 {
        while g + 4 * w <= n {
            up_block::<S, L, 4>(simd, coefs, buf, row0 + g, &mut out, g);
            g += 4 * w;
        }
    }
    while g + 2 * w <= n {
        up_block::<S, L, 2>(simd, coefs, buf, row0 + g, &mut out, g);
        g += 2 * w;
    }
    while g + w <= n {
        up_block::<S, L, 1>(simd, coefs, buf, row0 + g, &mut out, g);
        g += w;
    }
    for gi in g..n {
        for (c, o) in out.iter_mut().enumerate() {
            let (mut even, mut odd) = (0.0f32, 0.0f32);
            for j in 0..k {
                let v = coefs[j * L + c].mul_add(buf[row0 + gi - j], if j % 2 == 0 { even } else { odd });
                if j % 2 == 0 {
                    even = v;
                } else {
                    odd = v;
                }
            }
            o[gi] = even + odd;
        }
    }
}

#[inline(always)]
fn up_block<S: Simd, const L: usize, const V: usize>(
    simd: S,
    coefs: &[f32],
    buf: &[f32],
    row: usize,
    out: &mut [&mut [f32]; L],
    g: usize,
) {
    let w = S::F32_LANES;
    let base = buf.as_ptr();
    // SAFETY: the caller checked row0 - (k-1) >= 0 and row0 + n <= len, and
    // this block reads [row - (k-1), row + V*w) within that.
    let load = |at: usize| -> S::f32s { unsafe { base.add(at).cast::<S::f32s>().read_unaligned() } };
    let z = simd.splat_f32s(0.0);
    let mut even = [[z; V]; L];
    let mut odd = [[z; V]; L];
    let mut pairs = coefs.chunks_exact(2 * L);
    let mut j = 0;
    for pair in &mut pairs {
        let x: [S::f32s; V] = core::array::from_fn(|v| load(row - j + v * w));
        for c in 0..L {
            let cf = simd.splat_f32s(pair[c]);
            for v in 0..V {
                even[c][v] = simd.mul_add_f32s(cf, x[v], even[c][v]);
            }
        }
        let x: [S::f32s; V] = core::array::from_fn(|v| load(row - j - 1 + v * w));
        for c in 0..L {
            let cf = simd.splat_f32s(pair[L + c]);
            for v in 0..V {
                odd[c][v] = simd.mul_add_f32s(cf, x[v], odd[c][v]);
            }
        }
        j += 2;
    }
    if !pairs.remainder().is_empty() {
        let x: [S::f32s; V] = core::array::from_fn(|v| load(row - j + v * w));
        for c in 0..L {
            let cf = simd.splat_f32s(pairs.remainder()[c]);
            for v in 0..V {
                even[c][v] = simd.mul_add_f32s(cf, x[v], even[c][v]);
            }
        }
    }
    for c in 0..L {
        for v in 0..V {
            S::as_mut_simd_f32s(&mut out[c][g + v * w..g + (v + 1) * w]).0[0] = simd.add_f32s(even[c][v], odd[c][v]);
        }
    }
}
