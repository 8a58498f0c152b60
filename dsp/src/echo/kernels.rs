//! The canceller's per-bin loops, written once and compiled per instruction
//! set through [`Isa::run`]: element-wise complex arithmetic with no sum
//! reordered and no fused multiply-add, so every path gives the scalar
//! path's bits (the test below holds them to it). The FFTs are in `fft`.

use rustfft::num_complex::Complex;

use crate::isa::Isa;

type C = Complex<f32>;

#[inline(always)]
fn cmul(a: C, b: C) -> C {
    C::new(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}

/// `acc += x * w`, bin by bin.
#[inline(always)]
pub(crate) fn mac(isa: Isa, acc: &mut [C], x: &[C], w: &[C]) {
    isa.run(
        #[inline(always)]
        || {
            for ((a, x), w) in acc.iter_mut().zip(x).zip(w) {
                *a += cmul(*x, *w);
            }
        },
    )
}

/// `p += |x|^2`, bin by bin.
#[inline(always)]
pub(crate) fn power_add(isa: Isa, p: &mut [f32], x: &[C]) {
    isa.run(
        #[inline(always)]
        || {
            for (p, x) in p.iter_mut().zip(x) {
                *p += x.re * x.re + x.im * x.im;
            }
        },
    )
}

/// The NLMS gradient: `g = conj(x) * e * mu / (p + delta)`, bin by bin.
#[inline(always)]
pub(crate) fn gradient(isa: Isa, g: &mut [C], x: &[C], e: &[C], p: &[f32], mu: f32, delta: f32) {
    isa.run(
        #[inline(always)]
        || {
            for (((g, x), e), p) in g.iter_mut().zip(x).zip(e).zip(p) {
                let s = mu / (p + delta);
                let v = cmul(x.conj(), *e);
                *g = C::new(v.re * s, v.im * s);
            }
        },
    )
}

/// `w += g`, bin by bin.
#[inline(always)]
pub(crate) fn add(isa: Isa, w: &mut [C], g: &[C]) {
    isa.run(
        #[inline(always)]
        || {
            for (w, g) in w.iter_mut().zip(g) {
                *w += *g;
            }
        },
    )
}

/// `x *= s` for real samples.
#[inline(always)]
pub(crate) fn scale(isa: Isa, x: &mut [f32], s: f32) {
    isa.run(
        #[inline(always)]
        || {
            for x in x.iter_mut() {
                *x *= s;
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<C> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let a = (s >> 8) as f32 / (1 << 24) as f32 - 0.5;
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let b = (s >> 8) as f32 / (1 << 24) as f32 - 0.5;
                C::new(a * 3.0, b * 1e-3)
            })
            .collect()
    }

    /// Every available path gives the scalar path's bits, at lengths that
    /// leave remainders after any vector width.
    #[test]
    fn every_isa_matches_scalar_bit_for_bit() {
        for n in [1usize, 7, 161, 321] {
            let (x, w, e) = (data(n, 1), data(n, 2), data(n, 3));
            let p: Vec<f32> = data(n, 4).iter().map(|c| c.re.abs()).collect();
            let run = |isa: Isa| {
                let mut acc = data(n, 5);
                mac(isa, &mut acc, &x, &w);
                let mut pw = p.clone();
                power_add(isa, &mut pw, &x);
                let mut g = vec![C::new(0.0, 0.0); n];
                gradient(isa, &mut g, &x, &e, &pw, 0.37, 1e-6);
                let mut ww = w.clone();
                add(isa, &mut ww, &g);
                let mut r: Vec<f32> = pw.clone();
                scale(isa, &mut r, 1.0 / 640.0);
                let bits = |v: &[C]| v.iter().flat_map(|c| [c.re.to_bits(), c.im.to_bits()]).collect::<Vec<_>>();
                (bits(&acc), bits(&g), bits(&ww), r.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            };
            let want = run(Isa::Scalar);
            for isa in Isa::available() {
                assert_eq!(run(isa), want, "{isa} at n = {n}");
            }
        }
    }
}
