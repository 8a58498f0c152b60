//! Filter design and evaluation for the polyphase resampler.
//!
//! Linear-phase prototypes are Kaiser-windowed sincs (Kaiser's formulas for
//! length and beta). The minimum-phase variant is the cepstral (homomorphic)
//! transform of the same prototype, via `realfft`. Everything here runs at
//! construction, never per call.

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

/// A lowpass specification at the filter's own (upsampled) rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Sampling rate the filter runs at (in_rate * L), Hz.
    pub rate: f64,
    /// Passband edge, Hz.
    pub pass: f64,
    /// Stopband edge, Hz.
    pub stop: f64,
    /// Stopband attenuation to design for, dB.
    pub atten_db: f64,
    /// DC gain (L, to undo zero-stuffing).
    pub gain: f64,
}

/// Zeroth-order modified Bessel function of the first kind, by its series.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..200 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Kaiser-windowed sinc lowpass meeting `spec` (linear phase).
pub(crate) fn kaiser_lowpass(spec: Spec) -> Vec<f64> {
    let a = spec.atten_db;
    let beta = if a > 50.0 {
        0.1102 * (a - 8.7)
    } else if a >= 21.0 {
        0.5842 * (a - 21.0).powf(0.4) + 0.07886 * (a - 21.0)
    } else {
        0.0
    };
    let dw = (spec.stop - spec.pass) / spec.rate; // cycles/sample
    // Even lengths are fine: a half-sample delay costs nothing in a polyphase bank.
    let n = ((a - 7.95) / (14.36 * dw)).ceil() as usize + 1;
    let fc = (spec.pass + spec.stop) / 2.0 / spec.rate;
    let mid = (n - 1) as f64 / 2.0;
    let i0b = bessel_i0(beta);
    (0..n)
        .map(|i| {
            let t = i as f64 - mid;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
            };
            let r = t / mid;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0b;
            spec.gain * sinc * w
        })
        .collect()
}

/// The shortest linear-phase lowpass meeting `spec` with margin: an
/// equiripple (Remez) design of the least odd length whose measured
/// passband ripple is within ±0.08 dB and rejection at least
/// `spec.atten_db - 1` dB, else the Kaiser design. Equiripple spends the
/// ripple budget the Kaiser window wastes (its passband is flat to 0.0002
/// dB), which takes about a third of the taps, latency and work away.
pub(crate) fn lowpass(spec: Spec) -> Vec<f64> {
    let kaiser = kaiser_lowpass(spec);
    let (dp, ds) = (0.004, 10f64.powf(-(spec.atten_db + 0.5) / 20.0));
    // Herrmann's length estimate for equiripple lowpass filters, less a
    // margin; then the first length whose Remez ripple fits, verified by
    // measuring the f32 coefficients.
    let df = (spec.stop - spec.pass) / spec.rate;
    let est = ((-20.0 * (dp * ds).sqrt().log10() - 13.0) / (14.6 * df)) as usize;
    let start = (est.saturating_sub(est / 8)).max(3) | 1;
    for n in (start..kaiser.len()).step_by(2) {
        let Some((h, delta)) = remez_lowpass(spec, n, dp, ds) else { continue };
        if delta > dp {
            continue;
        }
        let h32: Vec<f32> = h.iter().map(|&v| v as f32).collect();
        let r = evaluate(&h32, spec, n);
        if r.passband_ripple_db <= 0.08 && r.stopband_rejection_db >= spec.atten_db - 1.0 {
            return h;
        }
    }
    kaiser
}

/// Minimum-phase filter with (nearly) the magnitude response of `h`, same
/// length, by folding the real cepstrum of log|H|.
pub(crate) fn minimum_phase(h: &[f64]) -> Vec<f64> {
    const NFFT: usize = 1 << 16;
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(NFFT);
    let inv = planner.plan_fft_inverse(NFFT);

    let mut time = vec![0.0; NFFT];
    time[..h.len()].copy_from_slice(h);
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut time, &mut spec).expect("sizes from the plan");
    // Floor the stopband zeros: ln(0) has no cepstrum. -200 dB below the
    // peak is far under anything the tests can measure.
    let peak = spec.iter().map(|c| c.norm()).fold(0.0, f64::max);
    let floor = peak * 1e-10;
    let mut logmag: Vec<Complex<f64>> = spec.iter().map(|c| Complex::new(c.norm().max(floor).ln(), 0.0)).collect();
    let mut cep = inv.make_output_vec();
    inv.process(&mut logmag, &mut cep).expect("sizes from the plan");
    // Fold the (even) cepstrum onto positive quefrencies.
    for (i, c) in cep.iter_mut().enumerate() {
        let s = if i == 0 || i == NFFT / 2 {
            1.0
        } else if i < NFFT / 2 {
            2.0
        } else {
            0.0
        };
        *c *= s / NFFT as f64;
    }
    let mut hmin = fwd.make_output_vec();
    fwd.process(&mut cep, &mut hmin).expect("sizes from the plan");
    for c in hmin.iter_mut() {
        *c = c.exp();
    }
    // The inverse transform wants real DC and Nyquist bins.
    hmin[0].im = 0.0;
    hmin[NFFT / 2].im = 0.0;
    let mut out = inv.make_output_vec();
    inv.process(&mut hmin, &mut out).expect("sizes from the plan");
    out.truncate(h.len());
    out.iter_mut().for_each(|x| *x /= NFFT as f64);
    out
}

/// What a designed filter measures, evaluated from its coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterReport {
    /// Prototype length (taps at the upsampled rate).
    pub taps: usize,
    /// Taps per polyphase branch: the multiply-adds per output sample.
    pub taps_per_phase: usize,
    /// Passband edge, Hz.
    pub passband_hz: f64,
    /// Stopband edge, Hz.
    pub stopband_hz: f64,
    /// Peak passband deviation from unity gain, +/- dB.
    pub passband_ripple_db: f64,
    /// Smallest attenuation anywhere in the stopband, dB.
    pub stopband_rejection_db: f64,
    /// Group delay across the passband, min and max, ms.
    pub group_delay_ms: (f64, f64),
    /// Time of the impulse response's peak, ms: the algorithmic latency.
    pub latency_ms: f64,
}

/// Evaluates `h` (at `spec.rate`, DC gain `spec.gain`) on a dense grid.
pub(crate) fn evaluate(h: &[f32], spec: Spec, taps_per_phase: usize) -> FilterReport {
    let resp = |f: f64| -> (Complex<f64>, Complex<f64>) {
        let w = 2.0 * std::f64::consts::PI * f / spec.rate;
        let (mut s, mut ns) = (Complex::new(0.0, 0.0), Complex::new(0.0, 0.0));
        for (n, &c) in h.iter().enumerate() {
            let e = Complex::from_polar(c as f64, -w * n as f64);
            s += e;
            ns += e * n as f64;
        }
        (s, ns)
    };
    const GRID: usize = 1500;
    let (mut ripple, mut gd_min, mut gd_max) = (0.0f64, f64::MAX, f64::MIN);
    for i in 0..=GRID {
        let f = spec.pass * i as f64 / GRID as f64;
        let (s, ns) = resp(f);
        ripple = ripple.max((20.0 * (s.norm() / spec.gain).log10()).abs());
        let gd = (ns / s).re / spec.rate * 1e3;
        gd_min = gd_min.min(gd);
        gd_max = gd_max.max(gd);
    }
    let mut worst = f64::MIN;
    let nyq = spec.rate / 2.0;
    for i in 0..=GRID * 4 {
        let f = spec.stop + (nyq - spec.stop) * i as f64 / (GRID * 4) as f64;
        worst = worst.max(20.0 * (resp(f).0.norm() / spec.gain).log10());
    }
    let latency_ms = peak_ms(h, spec.rate);
    FilterReport {
        taps: h.len(),
        taps_per_phase,
        passband_hz: spec.pass,
        stopband_hz: spec.stop,
        passband_ripple_db: ripple,
        stopband_rejection_db: -worst,
        group_delay_ms: (gd_min, gd_max),
        latency_ms,
    }
}

/// Time of the impulse response's largest tap, ms.
pub(crate) fn peak_ms(h: &[f32], rate: f64) -> f64 {
    let peak = h.iter().enumerate().fold((0, 0.0f32), |m, (i, &c)| if c.abs() > m.1 { (i, c.abs()) } else { m }).0;
    peak as f64 / rate * 1e3
}

/// Barycentric Lagrange weights of `pts` (scaled by 2 per factor to keep
/// the products in range).
fn bary(pts: &[f64]) -> Vec<f64> {
    (0..pts.len())
        .map(|k| {
            1.0 / pts.iter().enumerate().filter(|&(j, _)| j != k).map(|(_, &xj)| 2.0 * (pts[k] - xj)).product::<f64>()
        })
        .collect()
}

/// The Remez step for one extremal set: the levelled ripple `delta` and the
/// polynomial through the first `m + 1` extremal values, in barycentric form.
struct Interp {
    xe: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

impl Interp {
    fn new(ext: &[usize], x: &[f64], des: &[f64], wt: &[f64], m: usize) -> (f64, Interp) {
        let xe: Vec<f64> = ext.iter().map(|&i| x[i]).collect();
        let sign = |k: usize| if k.is_multiple_of(2) { 1.0 } else { -1.0 };
        let b = bary(&xe);
        let num: f64 = ext.iter().enumerate().map(|(k, &i)| b[k] * des[i]).sum();
        let den: f64 = ext.iter().enumerate().map(|(k, &i)| b[k] * sign(k) / wt[i]).sum();
        let delta = num / den;
        let c = ext.iter().enumerate().map(|(k, &i)| des[i] - sign(k) * delta / wt[i]).collect();
        let d = bary(&xe[..m + 1]);
        (delta, Interp { xe, c, d })
    }

    fn at(&self, xg: f64) -> f64 {
        let (mut nu, mut de) = (0.0, 0.0);
        for k in 0..self.d.len() {
            let t = xg - self.xe[k];
            if t.abs() < 1e-14 {
                return self.c[k];
            }
            nu += self.d[k] / t * self.c[k];
            de += self.d[k] / t;
        }
        nu / de
    }
}

/// Equiripple (minimax) linear-phase lowpass by the Parks-McClellan /
/// Remez exchange algorithm, odd length `n`, passband ripple `dp` and
/// stopband ripple `ds` (linear, relative to unity), at `spec.rate`.
/// Returns the taps and the achieved weighted ripple (passband deviation;
/// the stopband's is that times `ds / dp`), or `None` if the exchange does
/// not converge.
pub(crate) fn remez_lowpass(spec: Spec, n: usize, dp: f64, ds: f64) -> Option<(Vec<f64>, f64)> {
    assert!(n % 2 == 1, "odd lengths only");
    let m = (n - 1) / 2; // A(x) has degree m; m + 2 extremal points
    let (wp, ws) = (std::f64::consts::TAU * spec.pass / spec.rate, std::f64::consts::TAU * spec.stop / spec.rate);
    // Dense grid over both bands, ~16 points per extremum.
    let dens = 16 * (m + 1);
    let np = ((dens as f64) * wp / (wp + std::f64::consts::PI - ws)).round().max(8.0) as usize;
    let ns = dens.saturating_sub(np).max(8);
    let mut om: Vec<f64> = (0..=np).map(|i| wp * i as f64 / np as f64).collect();
    om.extend((0..=ns).map(|i| ws + (std::f64::consts::PI - ws) * i as f64 / ns as f64));
    let x: Vec<f64> = om.iter().map(|w| w.cos()).collect();
    let des: Vec<f64> = om.iter().map(|&w| if w <= wp { 1.0 } else { 0.0 }).collect();
    let wt: Vec<f64> = om.iter().map(|&w| if w <= wp { 1.0 } else { dp / ds }).collect();
    let g = x.len();
    let mut ext: Vec<usize> = (0..m + 2).map(|i| i * (g - 1) / (m + 1)).collect();
    let mut a_grid = vec![0.0; g];
    for _iter in 0..60 {
        let (delta, interp) = Interp::new(&ext, &x, &des, &wt, m);
        for (a, &xg) in a_grid.iter_mut().zip(&x) {
            *a = interp.at(xg);
        }
        let err: Vec<f64> = (0..g).map(|i| wt[i] * (des[i] - a_grid[i])).collect();
        // Local extrema of the error (band edges included), then enforce
        // alternation and trim to m + 2 points.
        let mut cand: Vec<usize> = Vec::new();
        for i in 0..g {
            let e = err[i];
            let left = if i == 0 || i == np + 1 { f64::NEG_INFINITY } else { err[i - 1].abs() };
            let right = if i == g - 1 || i == np { f64::NEG_INFINITY } else { err[i + 1].abs() };
            let same_left = i == 0 || i == np + 1 || (err[i - 1] * e >= 0.0);
            let same_right = i == g - 1 || i == np || (err[i + 1] * e >= 0.0);
            if e.abs() >= left.max(0.0) * (same_left as u8 as f64)
                && e.abs() >= right.max(0.0) * (same_right as u8 as f64)
            {
                cand.push(i);
            }
        }
        let mut alt: Vec<usize> = Vec::new();
        for i in cand {
            match alt.last() {
                Some(&p) if err[p] * err[i] > 0.0 => {
                    if err[i].abs() > err[p].abs() {
                        *alt.last_mut().unwrap() = i;
                    }
                }
                _ => alt.push(i),
            }
        }
        while alt.len() > m + 2 {
            // Drop the smaller end.
            if err[alt[0]].abs() < err[*alt.last().unwrap()].abs() {
                alt.remove(0);
            } else {
                alt.pop();
            }
        }
        if alt.len() < m + 2 {
            return None;
        }
        let emax = alt.iter().map(|&i| err[i].abs()).fold(0.0, f64::max);
        let done = alt == ext || (emax - delta.abs()) / delta.abs() < 1e-6;
        ext = alt;
        if done {
            break;
        }
    }
    // Sample A(omega) at the DFT frequencies and invert the cosine series.
    let (delta, interp) = Interp::new(&ext, &x, &des, &wt, m);
    let a_at = |xg: f64| interp.at(xg);
    let samples: Vec<f64> = (0..n).map(|k| a_at((std::f64::consts::TAU * k as f64 / n as f64).cos())).collect();
    // h[m + t] = (1/n) sum_k A_k cos(2 pi k t / n), symmetric.
    let mut h = vec![0.0; n];
    for t in 0..=m {
        let mut s = 0.0;
        for (k, &a) in samples.iter().enumerate() {
            s += a * (std::f64::consts::TAU * (k * t) as f64 / n as f64).cos();
        }
        let v = s / n as f64 * spec.gain;
        h[m + t] = v;
        h[m - t] = v;
    }
    Some((h, delta.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remez_meets_the_telephony_spec_with_fewer_taps_than_kaiser() {
        let spec = Spec { rate: 24000.0, pass: 3400.0, stop: 4600.0, atten_db: 92.5, gain: 3.0 };
        let kaiser = kaiser_lowpass(spec).len();
        for n in (61..121).step_by(2) {
            if let Some((h, _)) = remez_lowpass(spec, n, 0.005, 2.0e-5) {
                let h32: Vec<f32> = h.iter().map(|&v| v as f32).collect();
                let r = evaluate(&h32, spec, n.div_ceil(3));
                if r.passband_ripple_db <= 0.1 && r.stopband_rejection_db >= 90.0 {
                    eprintln!("remez: {n} taps ({r:?}); kaiser: {kaiser}");
                    assert!(n < kaiser);
                    return;
                }
            }
        }
        panic!("no remez design met the spec below {kaiser} taps");
    }
}
