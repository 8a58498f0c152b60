//! Per-10 ms acoustic features for the VAD, at 8 kHz.
//!
//! Every 80 new samples, a 256-sample Hann window (32 ms) ending at the
//! newest sample goes through a real FFT. From its power spectrum: eight
//! band energies against per-band noise floors that fall fast and rise
//! slowly (minimum tracking), overall level and SNR, spectral flatness and
//! centroid, the normalised autocorrelation peak over the pitch range (from
//! the inverse FFT of the power spectrum), a syllabic-modulation measure,
//! and slower moving averages of the strongest cues for context. The
//! training script reads these through `Features::compute` (via the
//! `vad_features` example), so training and inference cannot drift apart.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Samples per analysis hop (10 ms at 8 kHz).
pub const HOP: usize = 80;
const WIN: usize = 256;
const BINS: usize = WIN / 2 + 1;
/// Band edges, Hz (8 bands over the telephone band).
const EDGES: [f32; 9] = [100.0, 300.0, 500.0, 750.0, 1000.0, 1400.0, 1900.0, 2600.0, 3600.0];
const NB: usize = 8;
/// Number of features per hop.
pub const N_FEATURES: usize = NB + 14;

/// Feature extractor state: history window, noise floors, smoothers, FFT
/// plans and scratch, all allocated at construction.
#[derive(Clone)]
pub struct Features {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    window: [f32; WIN],
    hist: [f32; WIN],
    time: Vec<f32>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    band_of: [u8; BINS],
    floor: [f32; NB],
    floor_total: f32,
    band_mean: [f32; NB],
    band_var: [f32; NB],
    slow: [f32; 5],
    prev_snr: f32,
    hops: u64,
}

impl core::fmt::Debug for Features {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Features").field("hops", &self.hops).finish_non_exhaustive()
    }
}

impl Default for Features {
    fn default() -> Self {
        Self::new()
    }
}

impl Features {
    /// A fresh extractor.
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(WIN);
        let inv = planner.plan_fft_inverse(WIN);
        let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
        let window = core::array::from_fn(|i| {
            let x = (std::f32::consts::PI * (i as f32 + 0.5) / WIN as f32).sin();
            x * x
        });
        let mut band_of = [u8::MAX; BINS];
        for (k, b) in band_of.iter_mut().enumerate() {
            let hz = k as f32 * 8000.0 / WIN as f32;
            if let Some(i) = EDGES.windows(2).position(|e| hz >= e[0] && hz < e[1]) {
                *b = i as u8;
            }
        }
        let mut f = Features {
            fwd,
            inv,
            window,
            hist: [0.0; WIN],
            time: vec![0.0; WIN],
            spec: vec![Complex::new(0.0, 0.0); BINS],
            scratch: vec![Complex::new(0.0, 0.0); scratch_len],
            band_of,
            floor: [0.0; NB],
            floor_total: 0.0,
            band_mean: [0.0; NB],
            band_var: [0.0; NB],
            slow: [0.0; 5],
            prev_snr: 0.0,
            hops: 0,
        };
        f.reset();
        f
    }

    /// Forgets the history and the noise estimates.
    pub fn reset(&mut self) {
        self.hist = [0.0; WIN];
        // Start the floors high: they fall to the first quiet frames at once.
        self.floor = [60.0; NB];
        self.floor_total = 60.0;
        self.band_mean = [0.0; NB];
        self.band_var = [0.0; NB];
        self.slow = [0.0; 5];
        self.prev_snr = 0.0;
        self.hops = 0;
    }

    /// Consumes exactly `HOP` samples (PCM16 scale) and writes the features.
    pub fn compute(&mut self, hop: &[f32; HOP], out: &mut [f32; N_FEATURES]) {
        self.hist.copy_within(HOP.., 0);
        self.hist[WIN - HOP..].copy_from_slice(hop);
        for ((t, &h), &w) in self.time.iter_mut().zip(&self.hist).zip(&self.window) {
            *t = h * w * (1.0 / 32768.0);
        }
        self.fwd.process_with_scratch(&mut self.time, &mut self.spec, &mut self.scratch).expect("sizes from the plan");

        // In-band power per bin (0 outside the telephone band), then every
        // spectral statistic from that one array.
        let mut pw = [0.0f32; BINS];
        let mut band = [1e-10f32; NB];
        let (mut total, mut num, mut log_sum, mut n_fl) = (1e-10f32, 0.0f32, 0.0f32, 0.0f32);
        for (k, c) in self.spec.iter_mut().enumerate() {
            let p = c.norm_sqr();
            let b = self.band_of[k];
            if b != u8::MAX {
                pw[k] = p;
                band[b as usize] += p;
                total += p;
                num += p * k as f32;
                log_sum += fast_ln(p + 1e-10);
                n_fl += 1.0;
            }
            // The power spectrum, for the autocorrelation below.
            *c = Complex::new(p, 0.0);
        }
        let lin_sum = total;
        // Tonality: the share of in-band power in the two strongest spectral
        // peaks (3 bins each). DTMF, ringback and beeps are near 1; speech
        // spreads its power over many harmonics and formants.
        let peak_share = {
            let around = |k: usize| pw[k.saturating_sub(1)..=(k + 1).min(BINS - 1)].iter().sum::<f32>();
            let (mut k1, mut k2) = (0, 0);
            for k in 0..BINS {
                if pw[k] > pw[k1] {
                    k1 = k;
                }
            }
            for k in 0..BINS {
                if k.abs_diff(k1) > 2 && pw[k] > pw[k2] {
                    k2 = k;
                }
            }
            ((around(k1) + around(k2)) / total).min(1.0)
        };
        let db = |x: f32| 10.0 * x.log10();
        let level = db(total) + 60.0; // ~0 for digital silence floor, ~90 for full scale
        let flatness = log_sum / n_fl - fast_ln(lin_sum / n_fl); // <= 0; 0 = white
        let centroid = num / total / BINS as f32;

        // Autocorrelation = inverse FFT of the power spectrum; the pitch
        // range 60-400 Hz is lags 20-133.
        self.spec[0].im = 0.0;
        self.spec[BINS - 1].im = 0.0;
        self.inv.process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch).expect("sizes from the plan");
        let r0 = self.time[0].max(1e-12);
        let periodicity = self.time[20..=133].iter().fold(0.0f32, |m, &r| m.max(r)) / r0;

        self.hops += 1;
        let warm = self.hops < 10;
        let mut snr_bands = [0.0f32; NB];
        let mut modulation = 0.0;
        for b in 0..NB {
            let e = db(band[b]) + 60.0;
            // Minimum tracking: fall fast, rise 0.1 dB per 10 ms (10 dB/s).
            self.floor[b] =
                if e < self.floor[b] || warm { e.min(self.floor[b] * 0.5 + e * 0.5) } else { self.floor[b] + 0.1 };
            snr_bands[b] = (e - self.floor[b]).clamp(0.0, 60.0);
            // Syllabic modulation: variance of the band level over ~200 ms.
            let d = e - self.band_mean[b];
            self.band_mean[b] += 0.1 * d;
            self.band_var[b] = 0.9 * self.band_var[b] + 0.1 * d * d;
            modulation += self.band_var[b].sqrt();
        }
        self.floor_total = if level < self.floor_total || warm {
            level.min(self.floor_total * 0.5 + level * 0.5)
        } else {
            self.floor_total + 0.1
        };
        let snr = (level - self.floor_total).clamp(0.0, 60.0);
        let delta = snr - self.prev_snr;
        self.prev_snr = snr;
        // Context: ~50 ms and ~300 ms averages of SNR and periodicity.
        self.slow[0] += 0.3 * (snr - self.slow[0]);
        self.slow[1] += 0.03 * (snr - self.slow[1]);
        self.slow[2] += 0.3 * (periodicity - self.slow[2]);
        self.slow[3] += 0.03 * (periodicity - self.slow[3]);
        // Tonality of the recent loud frames (~150 ms), so the quiet frames
        // right after a tone burst are not taken for a pause within speech.
        self.slow[4] += 0.07 * (peak_share * (snr / 20.0).min(1.0) - self.slow[4]);

        for b in 0..NB {
            out[b] = snr_bands[b] / 20.0;
        }
        let rest = [
            // Only "very quiet" is informative in absolute terms; above that the
            // detector is gain-invariant (phone levels vary by tens of dB).
            level.min(200.0) / 50.0,
            snr / 20.0,
            flatness / 5.0,
            centroid * 4.0,
            periodicity,
            modulation / (NB as f32 * 5.0),
            delta / 10.0,
            self.slow[0] / 20.0,
            self.slow[1] / 20.0,
            self.slow[2],
            self.slow[3],
            (self.hops.min(100) as f32) / 100.0,
            peak_share,
            self.slow[4],
        ];
        out[NB..].copy_from_slice(&rest);
        for v in out.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
    }
}

/// Natural log from the float's exponent and a quartic in its mantissa
/// (error under 2e-4): a per-bin `ln` was the extractor's largest cost, and
/// training sees the same function.
#[inline(always)]
fn fast_ln(x: f32) -> f32 {
    let bits = x.max(1e-30).to_bits();
    let e = ((bits >> 23) & 0xFF) as f32 - 127.0;
    let m = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000); // [1, 2)
    // Least-squares quartic for log2 on [1, 2] (max error 2e-4).
    let l2 = -2.496_846 + (4.028_548 + (-2.081_214 + (0.628_873_6 - 0.079_158_16 * m) * m) * m) * m;
    (e + l2) * core::f32::consts::LN_2
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_ln_is_close() {
        for x in [1e-10f32, 1e-5, 0.01, 0.5, 1.0, 1.5, 2.0, 3.7, 100.0, 1e6] {
            assert!((super::fast_ln(x) - x.ln()).abs() < 2e-3, "{x}");
        }
    }
}
