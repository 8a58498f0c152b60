//! A streaming line and acoustic echo canceller for telephony: the far end
//! (exactly what the phone was sent, in the order it plays) and the near
//! end (the caller's audio, with the agent's echo in it) in, the near end
//! with the echo removed out, one 10 or 20 ms frame at a time, at 8 or
//! 16 kHz.
//!
//! Three stages, one module each:
//!
//! - **Delay** (`delay`): the bulk delay between the far end and its echo
//!   (the phone's network and jitter buffer, both ways, plus the echo
//!   path's own) is found by matching binary spectra, up to
//!   [`EchoConfig::max_delay_ms`], and followed when it changes. The
//!   engine gives the playout timeline's latency as the prior.
//! - **Linear filter**: a partitioned-block frequency-domain adaptive filter
//!   (MDF, Soo and Pang 1990; the family of speexdsp's canceller and of
//!   AEC3's linear stage) spanning [`EchoConfig::filter_ms`] from one frame
//!   before the delay, so it models the path's dispersion (hybrids, rooms),
//!   not the bulk delay. Each partition is one frame, adapted by
//!   normalised LMS, every partition's weights constrained every other
//!   frame (the constraint is a projection, so this removes what
//!   constraining every gradient would, for half the FFTs; speexdsp
//!   constrains one partition per frame, which measured here left the
//!   wrap-around error at 18 dB of ERLE where the full constraint reaches
//!   35). Two filters, as speexdsp does: a background filter that always
//!   adapts at the full step, and a foreground filter that makes the
//!   output and only takes the background's coefficients when the
//!   background has been clearly better. Double talk drives the background
//!   off, never the foreground, and the background is reset from the
//!   foreground once it is clearly worse; a changed path is learnt at the
//!   full step. When the delay moves, both filters move with it.
//! - **Residual suppressor** (`suppress`): per bin, from the filter's own
//!   echo estimate and its measured ERLE; no comfort noise.
//!
//! **Deterministic.** The same input gives the same output bits on every
//! CPU: the FFTs are rustfft's scalar plan (see `fft`), the per-bin loops
//! go through [`Isa`] and are tested bit for bit against the
//! scalar path, and nothing in the signal path calls a transcendental
//! function. The call engine's conformance digests rely on it.
//!
//! **Bounds.** All state is allocated at construction and `process`
//! allocates nothing: the far end's spectra over `max_delay_ms +
//! filter_ms` (at the defaults, 8 kHz: 42 frames of 161 bins, 54 KiB;
//! 16 kHz: 108 KiB), two filters of `filter_ms`, the delay estimator's 33
//! counts, and FFT scratch.
//!
//! ```
//! use teledsp::echo::EchoCanceller;
//! let mut aec = EchoCanceller::new(8000, 20)?; // 8 kHz, 20 ms frames
//! let far = [0i16; 160];
//! let near = [100i16; 160];
//! let mut out = [0i16; 160];
//! aec.process(&far, &near, &mut out)?;
//! assert_eq!(out, near); // no far end, nothing to cancel
//! # Ok::<(), teledsp::Error>(())
//! ```

mod delay;
mod fft;
mod kernels;
mod suppress;

use rustfft::num_complex::Complex;

use self::delay::DelayEstimator;
use self::fft::RealFft;
use self::suppress::Suppressor;
use crate::error::{Error, Expected};
use crate::isa::Isa;

/// The sample rates the canceller takes, Hz.
pub const SAMPLE_RATES: [u32; 2] = [8000, 16000];
/// The frame durations it takes, ms.
pub const FRAME_MS: [u32; 2] = [10, 20];
/// The longest bulk delay that can be estimated, ms.
pub const MAX_DELAY_MS: u32 = 1000;
/// The longest linear filter, ms.
pub const MAX_FILTER_MS: u32 = 500;

/// Step of the background filter's normalised LMS update: the full step,
/// as the foreground is what protects the output.
const MU: f32 = 1.0;
/// Regularisation: of the far end's mean power per bin, and of the
/// error's floor (line noise), so quiet far-end bins do not take steps
/// on noise.
const REG_FAR: f32 = 1e-2;
const REG_NOISE: f32 = 10.0;
/// Regularisation of the per-bin normalisation, relative to a full-scale
/// frame's power per bin.
const DELTA: f32 = 1e-6;
/// A frame's far-end power (samples scaled to +-1, summed over the
/// frame pair's bins) below which it is not playing.
const FAR_ACTIVE: f32 = 1e-5;

type C = Complex<f32>;

/// Settings of an [`EchoCanceller`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoConfig {
    /// 8000 or 16000 Hz.
    pub sample_rate: u32,
    /// 10 or 20 ms.
    pub frame_ms: u32,
    /// The longest bulk delay looked for, ms (up to [`MAX_DELAY_MS`];
    /// 640 by default: a phone's network and jitter buffer both ways).
    pub max_delay_ms: u32,
    /// The echo path's span after the bulk delay that the linear filter
    /// models, ms (up to [`MAX_FILTER_MS`]; 200 by default: G.168 hybrids
    /// disperse over up to 64 ms, a speakerphone room's reverberation is
    /// 30 dB down after about 150 ms, and the suppressor takes the rest).
    pub filter_ms: u32,
    /// Run the residual suppressor (on by default).
    pub suppress: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig { sample_rate: 8000, frame_ms: 20, max_delay_ms: 640, filter_ms: 200, suppress: true }
    }
}

/// What the canceller has measured so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EchoStats {
    /// Frames processed.
    pub frames: u64,
    /// The linear filter's echo return loss enhancement, dB, as the
    /// suppressor tracks it (rises fast, falls slowly).
    pub erle_db: f32,
    /// The bulk delay in use, ms: estimated, or the hint until found.
    pub delay_ms: u32,
    /// Whether `delay_ms` is the estimate (not the hint).
    pub delay_found: bool,
    /// Times the estimated delay changed.
    pub delay_changes: u64,
    /// Frames where the far end played and the caller talked over it (the
    /// output stayed well above the residual echo of a converged filter).
    pub double_talk_frames: u64,
}

/// See the module docs.
pub struct EchoCanceller {
    cfg: EchoConfig,
    isa: Isa,
    n: usize,
    parts: usize,
    slots: usize,
    fft: RealFft,
    /// The last two frames of each signal: the FFTs' inputs.
    far: Vec<f32>,
    near: Vec<f32>,
    err: Vec<f32>,
    /// Far-end spectra and their power per bin, `slots` frames, newest at `head`.
    xf: Vec<C>,
    xpow: Vec<f32>,
    /// Each far-end frame's mean square (samples scaled to +-1), per slot.
    far_msq: Vec<f32>,
    head: usize,
    delay: DelayEstimator,
    /// The far-end frame (frames back) the filters' first partition is on.
    start: usize,
    fg: Vec<C>,
    bg: Vec<C>,
    /// Smoothed frame energies: foreground error, background error, and
    /// their difference.
    fg_avg: f32,
    bg_avg: f32,
    diff_avg: f32,
    /// The foreground's ERLE over the last few frames, a power ratio.
    recent_erle: f32,
    /// The error's floor, a frame energy (line noise).
    noise_floor: f32,
    suppress: Suppressor,
    stats: EchoStats,
    // Scratch.
    time: Vec<f32>,
    y_fg: Vec<C>,
    spec: Vec<C>,
    grad: Vec<C>,
    power: Vec<f32>,
    p_echo: Vec<f32>,
    p_err: Vec<f32>,
    e_bg: Vec<f32>,
}

impl core::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EchoCanceller").field("config", &self.cfg).field("stats", &self.stats).finish()
    }
}

impl EchoCanceller {
    /// A canceller with the default settings at `sample_rate` (8000 or
    /// 16000 Hz) in frames of `frame_ms` (10 or 20).
    pub fn new(sample_rate: u32, frame_ms: u32) -> Result<Self, Error> {
        Self::with_config(EchoConfig { sample_rate, frame_ms, ..EchoConfig::default() })
    }

    /// A canceller with `cfg`, on the fastest instruction set here.
    pub fn with_config(cfg: EchoConfig) -> Result<Self, Error> {
        Self::with_isa(cfg, Isa::detect())
    }

    /// A canceller on `isa` (every path gives the same bits; this is for
    /// tests and benchmarks).
    pub fn with_isa(cfg: EchoConfig, isa: Isa) -> Result<Self, Error> {
        let isa = isa.require()?;
        let EchoConfig { sample_rate, frame_ms, max_delay_ms, filter_ms, .. } = cfg;
        if !SAMPLE_RATES.contains(&sample_rate) {
            return Err(Error::UnsupportedRate { rate: sample_rate, out_rate: None, supported: &SAMPLE_RATES });
        }
        if !FRAME_MS.contains(&frame_ms) {
            return Err(Error::UnsupportedFrame { frame_ms, supported: &FRAME_MS });
        }
        if max_delay_ms > MAX_DELAY_MS {
            return Err(Error::InvalidConfig(format!(
                "the echo's bulk delay is looked for up to 0 to {MAX_DELAY_MS} ms, not {max_delay_ms}"
            )));
        }
        if filter_ms == 0 || filter_ms > MAX_FILTER_MS {
            return Err(Error::InvalidConfig(format!(
                "the echo filter spans 1 to {MAX_FILTER_MS} ms, not {filter_ms}"
            )));
        }
        let n = (sample_rate * frame_ms / 1000) as usize;
        let bins = n + 1;
        let parts = filter_ms.div_ceil(frame_ms) as usize;
        let lags = (max_delay_ms / frame_ms) as usize;
        let slots = lags + parts + 1;
        let zero = C::new(0.0, 0.0);
        Ok(EchoCanceller {
            cfg,
            isa,
            n,
            parts,
            slots,
            fft: RealFft::new(2 * n),
            far: vec![0.0; 2 * n],
            near: vec![0.0; 2 * n],
            err: vec![0.0; 2 * n],
            xf: vec![zero; slots * bins],
            xpow: vec![0.0; slots * bins],
            far_msq: vec![0.0; slots],
            head: 0,
            delay: DelayEstimator::new(lags, (sample_rate as usize) / (2 * n)),
            start: 0,
            fg: vec![zero; parts * bins],
            bg: vec![zero; parts * bins],
            fg_avg: 0.0,
            bg_avg: 0.0,
            diff_avg: 0.0,
            recent_erle: 1.0,
            noise_floor: 1.0,
            suppress: Suppressor::new(bins),
            stats: EchoStats::default(),
            time: vec![0.0; 2 * n],
            y_fg: vec![zero; bins],
            spec: vec![zero; bins],
            grad: vec![zero; bins],
            power: vec![0.0; bins],
            p_echo: vec![0.0; bins],
            p_err: vec![0.0; bins],
            e_bg: vec![0.0; n],
        })
    }

    /// The settings.
    pub fn config(&self) -> EchoConfig {
        self.cfg
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.n
    }

    /// What has been measured so far.
    pub fn stats(&self) -> EchoStats {
        EchoStats {
            erle_db: 10.0 * self.suppress.erle.log10(),
            delay_ms: (self.delay.delay() * self.n * 1000) as u32 / self.cfg.sample_rate,
            delay_found: self.delay.found(),
            ..self.stats
        }
    }

    /// Whether the linear filter has learnt the echo path (the delay is
    /// found and the ERLE it achieves is past 10 dB): until then, echo
    /// passes through mostly uncancelled.
    pub fn converged(&self) -> bool {
        self.delay.found() && self.suppress.erle > 10.0
    }

    /// The loudest far-end frame the echo in the last caller frame can
    /// have come from (the filter's window: from a frame before the delay
    /// in use, over the filter's span), dBFS; -120 if all are silent. An
    /// echo guard's reference where the echo returns later than the
    /// agent's current audio (a long delay, a room's reverberation).
    ///
    /// ```
    /// use teledsp::echo::EchoCanceller;
    ///
    /// let mut aec = EchoCanceller::new(8000, 20).unwrap();
    /// let (far, near, mut out) = (vec![3000i16; 160], vec![0i16; 160], vec![0i16; 160]);
    /// aec.process(&far, &near, &mut out).unwrap();
    /// assert!((aec.far_level_dbfs() - -20.8).abs() < 0.1); // 3000 / 32768
    /// ```
    pub fn far_level_dbfs(&self) -> f32 {
        let loudest = (self.start..self.start + self.parts)
            .map(|lag| self.far_msq[(self.head + lag) % self.slots])
            .fold(0.0f32, f32::max);
        if loudest > 1e-12 { 10.0 * loudest.log10() } else { -120.0 }
    }

    /// The bulk delay to assume until it is estimated, ms (the playout
    /// timeline's latency: what the phone's marks took to come back).
    pub fn set_delay_hint(&mut self, ms: u32) {
        self.delay.hint((ms * self.cfg.sample_rate / 1000) as usize / self.n);
    }

    /// The far end's newest `ms` were never played: the phone dropped
    /// them (a barge-in's `clear` empties its buffer, and what the
    /// canceller was given as playing within the phone's latency never
    /// plays). They are silence in the history, so the filter neither
    /// predicts an echo of them (its output would be the echo's negative,
    /// over the caller) nor adapts toward a path that returns nothing.
    ///
    /// ```
    /// use teledsp::echo::EchoCanceller;
    ///
    /// let mut aec = EchoCanceller::new(8000, 20).unwrap();
    /// let (far, near, mut out) = (vec![3000i16; 160], vec![0i16; 160], vec![0i16; 160]);
    /// aec.process(&far, &near, &mut out).unwrap();
    /// aec.forget_far(20);
    /// assert_eq!(aec.far_level_dbfs(), -120.0); // nothing that could echo
    /// ```
    pub fn forget_far(&mut self, ms: u32) {
        let frames = ((ms / self.cfg.frame_ms) as usize).min(self.slots);
        let bins = self.n + 1;
        for lag in 0..frames {
            let s = self.slot(lag);
            self.xf[s..s + bins].fill(C::new(0.0, 0.0));
            self.xpow[s..s + bins].fill(0.0);
            self.far_msq[(self.head + lag) % self.slots] = 0.0;
        }
        if frames > 0 {
            // The next spectrum's first half is the newest frame.
            self.far.fill(0.0);
        }
        self.delay.forget_far(frames);
    }

    /// The far end's newest frame (the last [`process`](Self::process)'s)
    /// was, after all, `far`: audio sent to the phone within the frame
    /// just paired with caller audio (a spurt that began in it) belongs in
    /// it, at the time it was sent. Its echo has not come back yet (the
    /// delay is at least the phone's buffer), so nothing is lost.
    ///
    /// ```
    /// use teledsp::echo::EchoCanceller;
    ///
    /// let mut aec = EchoCanceller::new(8000, 20).unwrap();
    /// let (silence, near, mut out) = (vec![0i16; 160], vec![0i16; 160], vec![0i16; 160]);
    /// aec.process(&silence, &near, &mut out).unwrap();
    /// let mut late = vec![0i16; 160];
    /// late[80..].fill(3000); // sent half way through the frame
    /// aec.amend_far(&late).unwrap();
    /// assert!((aec.far_level_dbfs() - -23.8).abs() < 0.1);
    /// assert!(aec.amend_far(&[0; 80]).is_err()); // not a frame
    /// ```
    pub fn amend_far(&mut self, far: &[i16]) -> Result<(), Error> {
        let n = self.n;
        if far.len() != n {
            return Err(Error::InvalidLength {
                what: "far-end frame",
                expected: Expected::Exactly(n),
                actual: far.len(),
            });
        }
        let bins = n + 1;
        for (d, &s) in self.far[n..].iter_mut().zip(far) {
            *d = f32::from(s) / 32768.0;
        }
        self.far_msq[self.head] = self.far[n..].iter().map(|v| v * v).sum::<f32>() / n as f32;
        let at = self.slot(0);
        self.fft.forward(&self.far, &mut self.xf[at..at + bins]);
        self.xpow[at..at + bins].fill(0.0);
        kernels::power_add(self.isa, &mut self.xpow[at..at + bins], &self.xf[at..at + bins]);
        self.delay.amend_far(&self.xpow[at..at + bins]);
        Ok(())
    }

    fn slot(&self, lag: usize) -> usize {
        (self.head + lag) % self.slots * (self.n + 1)
    }

    /// One frame: `far` is what the phone was sent for this frame, in the
    /// order the phone plays it (the canceller finds the delay), `near`
    /// the caller's audio; `out` gets `near` with the echo taken out. All
    /// three are [`frame_len`](Self::frame_len) samples.
    pub fn process(&mut self, far: &[i16], near: &[i16], out: &mut [i16]) -> Result<(), Error> {
        let n = self.n;
        for (what, len) in [("far-end frame", far.len()), ("near-end frame", near.len()), ("output buffer", out.len())]
        {
            if len != n {
                return Err(Error::InvalidLength { what, expected: Expected::Exactly(n), actual: len });
            }
        }
        let (isa, bins, scale) = (self.isa, n + 1, 1.0 / (2 * n) as f32);
        self.stats.frames += 1;
        // The far end's newest spectrum, of its last two frames.
        push_frame(&mut self.far, far);
        self.head = (self.head + self.slots - 1) % self.slots;
        self.far_msq[self.head] = self.far[n..].iter().map(|v| v * v).sum::<f32>() / n as f32;
        let at = self.slot(0);
        self.fft.forward(&self.far, &mut self.xf[at..at + bins]);
        self.xpow[at..at + bins].fill(0.0);
        kernels::power_add(isa, &mut self.xpow[at..at + bins], &self.xf[at..at + bins]);
        self.delay.push_far(&self.xpow[at..at + bins]);
        // The caller's, for the delay.
        push_frame(&mut self.near, near);
        self.fft.forward(&self.near, &mut self.spec);
        self.power.fill(0.0);
        kernels::power_add(isa, &mut self.power, &self.spec);
        // A delay that works is kept: another may take over only while
        // the filter is not cancelling (a jump shows as a collapse).
        self.delay.push_near(&self.power, self.recent_erle < 4.0);
        // The filter's window moves to the delay when the delay leaves it,
        // or when the filter is not cancelling; a window that works stays
        // (moving it drops what the filter learnt outside the new one).
        let delay = self.delay.delay();
        let inside = (self.start..self.start + self.parts).contains(&delay);
        let start = if inside && self.recent_erle >= 4.0 { self.start } else { delay.saturating_sub(1) };
        if start != self.start {
            shift(&mut self.fg, bins, start as isize - self.start as isize);
            shift(&mut self.bg, bins, start as isize - self.start as isize);
            self.suppress.reset_tail();
            self.start = start;
            self.stats.delay_changes += 1;
        }
        // Both filters' echo estimates and errors.
        let mut far_power = 0.0;
        for k in 0..self.parts {
            let s = self.slot(start + k);
            far_power += self.xpow[s..s + bins].iter().sum::<f32>();
        }
        self.estimate(true);
        let (mut e_fg, mut echo_fg) = (0.0f32, 0.0f32);
        for ((d, &t), &x) in self.err[n..].iter_mut().zip(&self.time[n..]).zip(&self.near[n..]) {
            let y = t * scale;
            let e = x - y;
            *d = e;
            echo_fg += y * y;
            e_fg += e * e;
        }
        self.estimate(false);
        let mut e_bg = 0.0f32;
        for ((d, &t), &x) in self.e_bg.iter_mut().zip(&self.time[n..]).zip(&self.near[n..]) {
            let e = x - t * scale;
            *d = e;
            e_bg += e * e;
        }
        if echo_fg > FAR_ACTIVE / 4.0 {
            let inst = (echo_fg / e_fg.max(1e-12)).clamp(1.0, 10_000.0);
            self.recent_erle += (inst - self.recent_erle) * 0.3;
        }
        // The error's floor (line noise): its frame energy, tracked down
        // fast and up slowly.
        self.noise_floor = if e_fg < self.noise_floor { e_fg } else { self.noise_floor * 1.02 + 1e-12 };
        if far_power > FAR_ACTIVE {
            self.adapt(far_power / bins as f32 / self.parts as f32);
            self.compare(e_fg, e_bg);
        }
        // A filter that adds clearly more than it removes (the path moved
        // under it): this frame passes as it came. Clearly: with the caller
        // talking, the output is above the input in about half the frames
        // by chance (caller and echo add with either sign).
        let e_near: f32 = self.near[n..].iter().map(|v| v * v).sum();
        if e_fg > 4.0 * e_near {
            self.err[n..].copy_from_slice(&self.near[n..]);
        }
        // The residual suppressor, on the foreground's output: gains on
        // the spectrum of this frame alone (zero-padded), so no output
        // sample comes from another frame: silence in, silence out.
        self.time[..n].fill(0.0);
        self.time[n..].copy_from_slice(&self.err[n..]);
        self.fft.forward(&self.time, &mut self.spec);
        self.p_err.fill(0.0);
        kernels::power_add(isa, &mut self.p_err, &self.spec);
        self.p_echo.fill(0.0);
        kernels::power_add(isa, &mut self.p_echo, &self.y_fg);
        let e_out: f32 = self.err[n..].iter().map(|v| v * v).sum();
        let suppressing = self.suppress.update(&self.p_echo, &self.p_err, e_near, e_out) && self.cfg.suppress;
        if self.converged() && echo_fg > FAR_ACTIVE / 4.0 && e_fg > 0.5 * echo_fg {
            self.stats.double_talk_frames += 1;
        }
        if suppressing {
            for (s, g) in self.spec.iter_mut().zip(&self.suppress.gains) {
                *s = C::new(s.re * g, s.im * g);
            }
            self.fft.inverse(&self.spec, &mut self.time);
            for (o, &t) in out.iter_mut().zip(&self.time[n..]) {
                *o = to_i16(t * scale);
            }
        } else {
            for (o, &e) in out.iter_mut().zip(&self.err[n..]) {
                *o = to_i16(e);
            }
        }
        Ok(())
    }

    /// The foreground's (`fg`) or background's echo estimate, in
    /// `self.time[n..]` (unscaled); the foreground's spectrum stays in `y_fg`.
    fn estimate(&mut self, fg: bool) {
        let bins = self.n + 1;
        let y = if fg { &mut self.y_fg } else { &mut self.grad };
        y.fill(C::new(0.0, 0.0));
        let w = if fg { &self.fg } else { &self.bg };
        for k in 0..self.parts {
            let s = (self.head + self.start + k) % self.slots * bins;
            kernels::mac(self.isa, y, &self.xf[s..s + bins], &w[k * bins..(k + 1) * bins]);
        }
        self.fft.inverse(y, &mut self.time);
    }

    /// The background filter's NLMS step on its error, every partition
    /// constrained to one frame. `mean` is the far end's mean power per bin
    /// per partition (the regularisation's scale).
    fn adapt(&mut self, mean: f32) {
        let (n, bins, isa) = (self.n, self.n + 1, self.isa);
        self.time[..n].fill(0.0);
        self.time[n..].copy_from_slice(&self.e_bg);
        self.fft.forward(&self.time, &mut self.spec);
        self.power.fill(0.0);
        for k in 0..self.parts {
            let s = self.slot(self.start + k);
            for (p, q) in self.power.iter_mut().zip(&self.xpow[s..s + bins]) {
                *p += q;
            }
        }
        let delta = DELTA * (2 * n) as f32
            + REG_FAR * mean * self.parts as f32
            + REG_NOISE * self.noise_floor * self.parts as f32;
        for k in 0..self.parts {
            let s = self.slot(self.start + k);
            kernels::gradient(isa, &mut self.grad, &self.xf[s..s + bins], &self.spec, &self.power, MU, delta);
            let w = &mut self.bg[k * bins..(k + 1) * bins];
            kernels::add(isa, w, &self.grad);
            // Keep the partition's response one frame long and causal: the
            // constraint is a linear projection, so applying it to the
            // weights every other frame takes out exactly what applying it
            // to every gradient would, for half the FFTs (the filter runs
            // one frame in two with one unprojected gradient in it).
            if (k as u64 + self.stats.frames).is_multiple_of(2) {
                self.fft.inverse(w, &mut self.time);
                self.time[n..].fill(0.0);
                kernels::scale(isa, &mut self.time[..n], 1.0 / (2 * n) as f32);
                self.fft.forward(&self.time, w);
            }
        }
    }

    /// Two-path control: the background's coefficients go to the
    /// foreground when its error has been clearly lower; the background is
    /// reset from the foreground when its error has been clearly higher
    /// (it adapted on double talk).
    fn compare(&mut self, e_fg: f32, e_bg: f32) {
        self.fg_avg = 0.7 * self.fg_avg + 0.3 * e_fg;
        self.bg_avg = 0.7 * self.bg_avg + 0.3 * e_bg;
        self.diff_avg = 0.6 * self.diff_avg + 0.4 * (e_fg - e_bg);
        // Clearly better: half the error, over several frames and in this
        // one. Double talk makes the background better by chance now and
        // then; by half, over frames, it does not.
        if self.diff_avg > 0.5 * self.fg_avg && self.bg_avg < 0.5 * self.fg_avg && e_bg < e_fg {
            self.fg.copy_from_slice(&self.bg);
            self.fg_avg = self.bg_avg;
            self.diff_avg = 0.0;
        } else if self.bg_avg > 2.0 * self.fg_avg + 1e-9 {
            self.bg.copy_from_slice(&self.fg);
            self.bg_avg = self.fg_avg;
            self.diff_avg = 0.0;
        }
    }
}

/// Shifts the newest frame into a two-frame window, scaled to +-1.
fn push_frame(window: &mut [f32], frame: &[i16]) {
    let n = frame.len();
    window.copy_within(n.., 0);
    for (d, &s) in window[n..].iter_mut().zip(frame) {
        *d = f32::from(s) / 32768.0;
    }
}

/// Moves a partitioned filter by `by` partitions (positive: the first
/// partition moves to a later far-end frame), zeros where nothing was.
fn shift(w: &mut [C], bins: usize, by: isize) {
    let len = w.len();
    let k = by.unsigned_abs() * bins;
    if k >= len {
        w.fill(C::new(0.0, 0.0));
    } else if by > 0 {
        w.copy_within(k.., 0);
        w[len - k..].fill(C::new(0.0, 0.0));
    } else {
        w.copy_within(..len - k, k);
        w[..k].fill(C::new(0.0, 0.0));
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
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
        let mut aec = EchoCanceller::new(8000, 20).unwrap();
        let mut out = vec![0i16; far.len()];
        for ((f, d), o) in far.chunks(160).zip(near.chunks(160)).zip(out.chunks_mut(160)) {
            aec.process(f, d, o).unwrap();
        }
        let last = 8000 * 3..;
        let p = |v: &[i16]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        let erle = db(p(&near[last.clone()])) - db(p(&out[last]));
        assert!(erle > 20.0, "ERLE {erle:.1} dB");
        // White noise from the first frame: the delay's running means
        // must not start at zero (every bit set, every delay matching).
        assert_eq!(aec.stats().delay_ms, 120, "{:?}", aec.stats());
    }

    /// With no far end, the near end passes unchanged, whatever it is.
    #[test]
    fn no_far_end_passes_the_caller() {
        let mut s = 7u32;
        let mut aec = EchoCanceller::new(16000, 20).unwrap();
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
        // The linear stage alone: its output minus the caller is its residual.
        let linear = EchoConfig { suppress: false, ..EchoConfig::default() };
        let mut aec = EchoCanceller::with_config(linear).unwrap();
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
        assert_eq!(
            EchoCanceller::new(24000, 20).unwrap_err().to_string(),
            "unsupported sample rate 24000 Hz; supported: [8000, 16000] Hz"
        );
        assert_eq!(
            EchoCanceller::new(8000, 30).unwrap_err(),
            Error::UnsupportedFrame { frame_ms: 30, supported: &[10, 20] }
        );
        let cfg = EchoConfig::default();
        assert!(EchoCanceller::with_config(EchoConfig { filter_ms: 0, ..cfg }).is_err());
        assert!(EchoCanceller::with_config(EchoConfig { max_delay_ms: 2000, ..cfg }).is_err());
        let mut aec = EchoCanceller::new(8000, 20).unwrap();
        let err = aec.process(&[0; 159], &[0; 160], &mut [0; 160]).unwrap_err();
        assert_eq!(err, Error::InvalidLength { what: "far-end frame", expected: Expected::Exactly(160), actual: 159 });
    }
}
