//! A streaming acoustic/line echo canceller for telephony: the far end
//! (exactly what the phone was sent) and the near end (the caller's audio,
//! with the agent's echo in it) in, the near end with the echo removed out,
//! one 20 ms frame at a time.
//!
//! The method is the multidelay block frequency-domain adaptive filter
//! (MDF, Soo and Pang 1990; the family of speexdsp's canceller and of
//! WebRTC AEC3's linear stage): the echo path's impulse response is cut
//! into partitions of one frame each, every partition is a complex gain per
//! FFT bin, and the filter adapts by normalised LMS in the frequency domain.
//! The gradient constraint (which keeps each partition's response causal
//! and one frame long) is applied to every partition on every frame: two
//! FFTs per partition. speexdsp constrains one partition per frame in turn;
//! measured here, that left the filter's wrap-around error at an ERLE of
//! 18 dB where the full constraint reaches 35 dB (white noise, 4 s).
//!
//! Step control: after the first second (full step, to converge), the step
//! is the full step times (echo estimate / error)^4, at most 1: when the
//! error is much larger than the echo estimate, the caller is talking and
//! the filter all but stops, so double talk does not drive it away (the
//! tests: with a full step throughout, a caller as loud as the far end
//! takes the filter from 34 dB of ERLE to 0). The price is slow
//! re-convergence when the echo path itself changes, which looks the same;
//! a second, background filter (speexdsp's two-path scheme) is the next
//! step, with the delay estimator.
//!
//! This is the linear stage only. Delay estimation (so the filter need not
//! span the whole bulk delay), the residual-echo suppressor and the SIMD
//! kernels are the next steps of issue 26; see the crate's CHANGELOG.
//!
//! Bounds: all state is allocated at construction (the far-end history of
//! `tail_ms`, the filter, FFT scratch); `process` allocates nothing.
//!
//! ```
//! use teledsp::echo::EchoCanceller;
//! let mut aec = EchoCanceller::new(8000, 20, 200)?; // 8 kHz, 20 ms frames, a 200 ms tail
//! let far = [0i16; 160];
//! let near = [100i16; 160];
//! let mut out = [0i16; 160];
//! aec.process(&far, &near, &mut out)?;
//! assert_eq!(out, near); // no far end, nothing to cancel
//! # Ok::<(), teledsp::Error>(())
//! ```

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{Error, Expected};

/// The longest echo tail the canceller takes, ms (bulk delay plus the
/// path's dispersion).
pub const MAX_TAIL_MS: u32 = 1000;

/// Full step of the normalised LMS update.
const MU: f32 = 0.5;
/// Frames at the full step after the start, before step control applies
/// (one second of 20 ms frames).
const WARMUP_FRAMES: u64 = 50;
/// Regularisation of the per-bin normalisation, relative to a full-scale
/// frame's power per bin.
const DELTA: f32 = 1e-6;

/// See the module docs.
pub struct EchoCanceller {
    n: usize,
    parts: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    /// The last two frames of the far end (the FFT's input).
    far: Vec<f32>,
    /// Far-end spectra, `parts` of them, newest at `head`.
    xf: Vec<Complex<f32>>,
    head: usize,
    /// The filter: `parts` partitions of `n + 1` bins.
    w: Vec<Complex<f32>>,
    /// Far-end power per bin, summed over the partitions' spectra.
    power: Vec<f32>,
    frames: u64,
    // Scratch.
    time: Vec<f32>,
    spec: Vec<Complex<f32>>,
    err_spec: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
}

impl core::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EchoCanceller").field("frame", &self.n).field("partitions", &self.parts).finish()
    }
}

impl EchoCanceller {
    /// A canceller for `sample_rate` (8000 or 16000 Hz) in frames of
    /// `frame_ms` (10 or 20), modelling `tail_ms` of echo (1 to
    /// [`MAX_TAIL_MS`]: the bulk delay plus the path's dispersion).
    pub fn new(sample_rate: u32, frame_ms: u32, tail_ms: u32) -> Result<Self, Error> {
        if sample_rate != 8000 && sample_rate != 16000 {
            return Err(Error::InvalidConfig(format!(
                "the echo canceller runs at 8000 or 16000 Hz, not {sample_rate}"
            )));
        }
        if frame_ms != 10 && frame_ms != 20 {
            return Err(Error::InvalidConfig(format!("echo canceller frames are 10 or 20 ms, not {frame_ms}")));
        }
        if tail_ms == 0 || tail_ms > MAX_TAIL_MS {
            return Err(Error::InvalidConfig(format!("the echo tail is 1 to {MAX_TAIL_MS} ms, not {tail_ms}")));
        }
        let n = (sample_rate * frame_ms / 1000) as usize;
        let parts = tail_ms.div_ceil(frame_ms) as usize;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(2 * n);
        let inv = planner.plan_fft_inverse(2 * n);
        let scratch = fwd.get_scratch_len().max(inv.get_scratch_len());
        let zero = Complex::new(0.0, 0.0);
        Ok(EchoCanceller {
            n,
            parts,
            fwd,
            inv,
            far: vec![0.0; 2 * n],
            xf: vec![zero; parts * (n + 1)],
            head: 0,
            w: vec![zero; parts * (n + 1)],
            power: vec![0.0; n + 1],
            frames: 0,
            time: vec![0.0; 2 * n],
            spec: vec![zero; n + 1],
            err_spec: vec![zero; n + 1],
            fft_scratch: vec![zero; scratch],
        })
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.n
    }

    /// One frame: `far` is what the phone was sent for this frame's time
    /// (aligned as the phone plays it, up to the tail), `near` the caller's
    /// audio; `out` gets `near` with the echo estimate taken out. All three
    /// are [`frame_len`](Self::frame_len) samples.
    pub fn process(&mut self, far: &[i16], near: &[i16], out: &mut [i16]) -> Result<(), Error> {
        let n = self.n;
        for (what, len) in [("far-end frame", far.len()), ("near-end frame", near.len()), ("output buffer", out.len())]
        {
            if len != n {
                return Err(Error::InvalidLength { what, expected: Expected::Exactly(n), actual: len });
            }
        }
        let bins = n + 1;
        // The far end's newest spectrum, of its last two frames.
        self.far.copy_within(n.., 0);
        for (d, &s) in self.far[n..].iter_mut().zip(far) {
            *d = f32::from(s) / 32768.0;
        }
        self.head = (self.head + self.parts - 1) % self.parts;
        self.time.copy_from_slice(&self.far);
        let slot = self.head * bins;
        self.fwd
            .process_with_scratch(&mut self.time, &mut self.xf[slot..slot + bins], &mut self.fft_scratch)
            .expect("sized at construction");
        // The echo estimate: every partition's filter on its far-end frame.
        self.spec.fill(Complex::new(0.0, 0.0));
        for k in 0..self.parts {
            let x = &self.xf[((self.head + k) % self.parts) * bins..][..bins];
            let w = &self.w[k * bins..][..bins];
            for ((y, x), w) in self.spec.iter_mut().zip(x).zip(w) {
                *y += x * w;
            }
        }
        self.inverse();
        let scale = 1.0 / (2 * n) as f32;
        // The error (the output), and the powers that steer the step.
        let (mut echo_power, mut err_power) = (0.0f32, 0.0f32);
        for i in 0..n {
            let y = self.time[n + i] * scale;
            let d = f32::from(near[i]) / 32768.0;
            let e = d - y;
            echo_power += y * y;
            err_power += e * e;
            out[i] = (e * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            self.time[n + i] = e;
        }
        self.time[..n].fill(0.0);
        self.fwd.process_with_scratch(&mut self.time, &mut self.err_spec, &mut self.fft_scratch).expect("sized");
        // Far-end power per bin over the filter's span (the NLMS
        // normaliser: the sum over every partition's far-end frame).
        self.power.fill(0.0);
        for k in 0..self.parts {
            let x = &self.xf[k * bins..][..bins];
            for (p, x) in self.power.iter_mut().zip(x) {
                *p += x.norm_sqr();
            }
        }
        self.frames += 1;
        let mu = if self.frames <= WARMUP_FRAMES {
            MU
        } else {
            // Double talk or a changed path: the error dwarfs the echo
            // estimate, and the step shrinks with it.
            MU * (echo_power / err_power.max(1e-12)).min(1.0).powi(4)
        };
        if mu <= 0.0 {
            return Ok(());
        }
        // Regularised by the spectrum's mean, so quiet bins of a coloured
        // far end do not take huge steps.
        let mean = self.power.iter().sum::<f32>() / bins as f32;
        let delta = DELTA * (2 * n) as f32 + 1e-2 * mean;
        for k in 0..self.parts {
            let x = &self.xf[((self.head + k) % self.parts) * bins..][..bins];
            let w = &mut self.w[k * bins..][..bins];
            for (((g, x), e), p) in self.spec.iter_mut().zip(x).zip(&self.err_spec).zip(&self.power) {
                *g = x.conj() * e * (mu / (p + delta));
            }
            // Keep the partition's response one frame long and causal.
            self.spec[0].im = 0.0;
            self.spec[n].im = 0.0;
            let mut spec = std::mem::take(&mut self.spec);
            self.inv.process_with_scratch(&mut spec, &mut self.time, &mut self.fft_scratch).expect("sized");
            self.time[n..].fill(0.0);
            for t in &mut self.time[..n] {
                *t *= scale;
            }
            self.fwd.process_with_scratch(&mut self.time, &mut spec, &mut self.fft_scratch).expect("sized");
            for (w, g) in w.iter_mut().zip(&spec) {
                *w += g;
            }
            self.spec = spec;
        }
        Ok(())
    }

    /// `self.spec` to `self.time` (unscaled).
    fn inverse(&mut self) {
        // realfft wants real DC and Nyquist bins.
        self.spec[0].im = 0.0;
        self.spec[self.n].im = 0.0;
        self.inv.process_with_scratch(&mut self.spec, &mut self.time, &mut self.fft_scratch).expect("sized");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise source (xorshift), uniform in [-1, 1).
    fn uniform(seed: &mut u32) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        (*seed as f32 / u32::MAX as f32 - 0.5) * 2.0
    }

    fn noise(seed: &mut u32, amp: f32) -> i16 {
        (uniform(seed) * amp) as i16
    }

    fn db(p: f64) -> f64 {
        10.0 * p.max(1e-20).log10()
    }

    /// An echo path: `delay` samples of bulk delay, then a decaying
    /// 16 ms (128-sample) response, 6 dB of loss.
    fn path(delay: usize) -> Vec<f32> {
        let mut h = vec![0.0; delay + 128];
        let mut s = 12345u32;
        for (i, v) in h[delay..].iter_mut().enumerate() {
            *v = uniform(&mut s) * (-(i as f32) / 24.0).exp() * 0.2;
        }
        h
    }

    fn convolve(x: &[i16], h: &[f32]) -> Vec<i16> {
        (0..x.len())
            .map(|i| {
                let acc: f32 =
                    h.iter().enumerate().filter(|(j, _)| *j <= i).map(|(j, &c)| c * f32::from(x[i - j])).sum();
                acc.clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    /// Echo-only: after 3 s the output is far below the echo (ERLE), with a
    /// 120 ms bulk delay inside a 200 ms tail.
    #[test]
    fn converges_on_echo() {
        let mut s = 1u32;
        let far: Vec<i16> = (0..8000 * 4).map(|_| noise(&mut s, 8000.0)).collect();
        let near = convolve(&far, &path(960));
        let mut aec = EchoCanceller::new(8000, 20, 200).unwrap();
        let mut out = vec![0i16; far.len()];
        for ((f, d), o) in far.chunks(160).zip(near.chunks(160)).zip(out.chunks_mut(160)) {
            aec.process(f, d, o).unwrap();
        }
        let last = 8000 * 3..;
        let p = |v: &[i16]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        let erle = db(p(&near[last.clone()])) - db(p(&out[last]));
        assert!(erle > 20.0, "ERLE {erle:.1} dB");
    }

    /// With no far end, the near end passes unchanged, whatever it is.
    #[test]
    fn no_far_end_passes_the_caller() {
        let mut s = 7u32;
        let mut aec = EchoCanceller::new(16000, 20, 100).unwrap();
        let far = [0i16; 320];
        for _ in 0..100 {
            let near: Vec<i16> = (0..320).map(|_| noise(&mut s, 30000.0)).collect();
            let mut out = [0i16; 320];
            aec.process(&far, &near, &mut out).unwrap();
            assert_eq!(&out[..], &near[..]);
        }
    }

    /// Double talk after two seconds of echo: the filter does not diverge
    /// (the residual echo stays where it was), the caller's speech is not
    /// cut by more than 1 dB, and the echo is still removed after.
    #[test]
    fn double_talk_neither_cuts_the_caller_nor_diverges() {
        let mut s = 3u32;
        let secs = 6;
        let far: Vec<i16> = (0..8000 * secs).map(|_| noise(&mut s, 8000.0)).collect();
        let echo = convolve(&far, &path(320));
        let mut s2 = 99u32;
        // The caller talks from 2 s to 4 s, as loud as the far end.
        let caller: Vec<i16> =
            (0..far.len()).map(|i| if (16000..32000).contains(&i) { noise(&mut s2, 8000.0) } else { 0 }).collect();
        let near: Vec<i16> = echo.iter().zip(&caller).map(|(&e, &c)| e.saturating_add(c)).collect();
        let mut aec = EchoCanceller::new(8000, 20, 100).unwrap();
        let mut out = vec![0i16; far.len()];
        for ((f, d), o) in far.chunks(160).zip(near.chunks(160)).zip(out.chunks_mut(160)) {
            aec.process(f, d, o).unwrap();
        }
        let p = |v: &[i16]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        // The canceller is linear: output = caller + residual echo, so the
        // residual during double talk is the output minus the caller.
        let dt = 16000..32000;
        let residual: Vec<i16> =
            out[dt.clone()].iter().zip(&caller[dt.clone()]).map(|(&o, &c)| o.saturating_sub(c)).collect();
        let erle_dt = db(p(&echo[dt.clone()])) - db(p(&residual));
        let before = 12000..16000;
        let erle_before = db(p(&near[before.clone()])) - db(p(&out[before]));
        // No divergence: the filter holds what it had learnt (with a full
        // step throughout, the caller drives it to about 0 dB).
        assert!(
            erle_dt > erle_before - 3.0,
            "ERLE {erle_before:.1} dB before double talk, {erle_dt:.1} dB in it: the caller drove the filter off"
        );
        let cut = db(p(&caller[dt.clone()])) - db(p(&out[dt]));
        assert!(cut < 1.0, "caller cut by {cut:.2} dB");
        let after = 40000..48000;
        let erle = db(p(&near[after.clone()])) - db(p(&out[after]));
        assert!(erle > 15.0, "ERLE after double talk {erle:.1} dB");
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert!(EchoCanceller::new(24000, 20, 100).unwrap_err().to_string().contains("8000 or 16000"));
        assert!(EchoCanceller::new(8000, 30, 100).is_err());
        assert!(EchoCanceller::new(8000, 20, 0).is_err());
        let mut aec = EchoCanceller::new(8000, 20, 100).unwrap();
        let err = aec.process(&[0; 159], &[0; 160], &mut [0; 160]).unwrap_err();
        assert_eq!(err, Error::InvalidLength { what: "far-end frame", expected: Expected::Exactly(160), actual: 159 });
    }
}
