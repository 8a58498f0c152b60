//! The FIR inner loop, vectorised across output samples.
//!
//! Each lane computes one output as `acc = fma(coef_j, x_j, acc)` for
//! `j = 0..taps` in order, starting from 0. Scalar, AVX2, AVX-512 and NEON
//! run exactly that per lane (fused multiply-add is correctly rounded
//! everywhere), so every path gives bit-identical output.

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
        let load = |at: usize| -> S::f32s { S::as_simd_f32s(&buf[at..at + w]).0[0] };
        let at = |t: &Tap, g: usize| (row0 as isize + t.idx) as usize + g;
        let mut g = 0;
        // Four accumulators per tap pass: amortises the coefficient broadcast
        // and keeps the FMA ports busy.
        while g + 4 * w <= n {
            let z = simd.splat_f32s(0.0);
            let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
            for t in taps {
                let c = simd.splat_f32s(t.coef);
                let i = at(t, g);
                a0 = simd.mul_add_f32s(c, load(i), a0);
                a1 = simd.mul_add_f32s(c, load(i + w), a1);
                a2 = simd.mul_add_f32s(c, load(i + 2 * w), a2);
                a3 = simd.mul_add_f32s(c, load(i + 3 * w), a3);
            }
            for (k, a) in [a0, a1, a2, a3].into_iter().enumerate() {
                S::as_mut_simd_f32s(&mut out[g + k * w..g + (k + 1) * w]).0[0] = a;
            }
            g += 4 * w;
        }
        while g + w <= n {
            let mut a = simd.splat_f32s(0.0);
            for t in taps {
                a = simd.mul_add_f32s(simd.splat_f32s(t.coef), load(at(t, g)), a);
            }
            S::as_mut_simd_f32s(&mut out[g..g + w]).0[0] = a;
            g += w;
        }
        for (gi, o) in out.iter_mut().enumerate().skip(g) {
            let mut a = 0.0f32;
            for t in taps {
                a = t.coef.mul_add(buf[at(t, gi)], a);
            }
            *o = a;
        }
    }
}
