//! A real FFT that gives the same bits on every CPU.
//!
//! The canceller's output reaches the conformance digests (the audio sent
//! to a model, the barge-in instants), which must agree across machines
//! and across Rust, Python and Node. rustfft's AVX, SSE and NEON plans
//! order their arithmetic differently from its scalar plan, so this
//! module takes the scalar plan (`FftPlannerScalar`) and does the real-input
//! split itself: a real FFT of length `2h` is a complex FFT of length `h`
//! of the even and odd samples packed as real and imaginary parts, then
//! one pass to separate them. The element-wise work around it is
//! vectorised through [`Isa`](crate::Isa) instead (see `kernels`), which
//! keeps results identical.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlannerScalar};

/// A forward and inverse real FFT of one even length; unnormalised, so
/// `inverse(forward(x)) == len * x`.
pub(crate) struct RealFft {
    half: usize,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
    /// `exp(-2 pi i k / len)` for `k` in `0..=half`.
    twiddle: Vec<Complex<f32>>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl RealFft {
    /// For real signals of `len` samples (even), spectra of `len / 2 + 1` bins.
    pub fn new(len: usize) -> Self {
        debug_assert!(len >= 2 && len.is_multiple_of(2));
        let half = len / 2;
        let mut planner = FftPlannerScalar::new();
        let fwd = planner.plan_fft_forward(half);
        let inv = planner.plan_fft_inverse(half);
        let scratch = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len());
        let twiddle = (0..=half)
            .map(|k| {
                let a = -2.0 * core::f64::consts::PI * k as f64 / len as f64;
                Complex::new(a.cos() as f32, a.sin() as f32)
            })
            .collect();
        let zero = Complex::new(0.0, 0.0);
        RealFft { half, fwd, inv, twiddle, buf: vec![zero; half], scratch: vec![zero; scratch] }
    }

    /// `x` (`len` samples) to `spec` (`len / 2 + 1` bins).
    pub fn forward(&mut self, x: &[f32], spec: &mut [Complex<f32>]) {
        let h = self.half;
        debug_assert!(x.len() == 2 * h && spec.len() == h + 1);
        for (z, p) in self.buf.iter_mut().zip(x.chunks_exact(2)) {
            *z = Complex::new(p[0], p[1]);
        }
        self.fwd.process_with_scratch(&mut self.buf, &mut self.scratch);
        let z = &self.buf;
        for k in 0..=h {
            let a = z[k % h];
            let b = z[(h - k) % h].conj();
            let even = (a + b) * 0.5;
            // (a - b) / 2i
            let d = (a - b) * 0.5;
            let odd = Complex::new(d.im, -d.re);
            spec[k] = even + self.twiddle[k] * odd;
        }
    }

    /// `spec` (`len / 2 + 1` bins; the imaginary parts of the first and
    /// last are ignored) to `x` (`len` samples), times `len`.
    pub fn inverse(&mut self, spec: &[Complex<f32>], x: &mut [f32]) {
        let h = self.half;
        debug_assert!(x.len() == 2 * h && spec.len() == h + 1);
        let (first, last) = (Complex::new(spec[0].re, 0.0), Complex::new(spec[h].re, 0.0));
        let bin = |k: usize| {
            if k == 0 {
                first
            } else if k == h {
                last
            } else {
                spec[k]
            }
        };
        for k in 0..h {
            let a = bin(k);
            let b = bin(h - k).conj();
            let even = a + b;
            let odd = (a - b) * self.twiddle[k].conj();
            // even + i odd
            self.buf[k] = Complex::new(even.re - odd.im, even.im + odd.re);
        }
        self.inv.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (p, z) in x.chunks_exact_mut(2).zip(&self.buf) {
            p[0] = z.re;
            p[1] = z.im;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the naive DFT, both ways, at the canceller's lengths.
    #[test]
    fn matches_the_naive_dft() {
        for len in [20usize, 320, 640] {
            let x: Vec<f32> = (0..len).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 50.0).collect();
            let mut spec = vec![Complex::new(0.0, 0.0); len / 2 + 1];
            let mut fft = RealFft::new(len);
            fft.forward(&x, &mut spec);
            for (k, s) in spec.iter().enumerate() {
                let mut want = Complex::new(0.0f64, 0.0);
                for (i, &v) in x.iter().enumerate() {
                    let a = -2.0 * core::f64::consts::PI * (k * i) as f64 / len as f64;
                    want += Complex::new(a.cos(), a.sin()) * f64::from(v);
                }
                let err = ((f64::from(s.re) - want.re).powi(2) + (f64::from(s.im) - want.im).powi(2)).sqrt();
                assert!(err < 1e-3 * len as f64, "len {len} bin {k}: {s} vs {want}");
            }
            let mut back = vec![0.0; len];
            fft.inverse(&spec, &mut back);
            for (a, b) in back.iter().zip(&x) {
                assert!((a / len as f32 - b).abs() < 1e-4, "inverse: {a} vs {b}");
            }
        }
    }
}
