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
