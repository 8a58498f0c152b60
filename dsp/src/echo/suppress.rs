//! The residual-echo suppressor: what the linear filter leaves (its
//! misadjustment, the tail past its span, nonlinearity) taken out bin by
//! bin, driven by the filter's own echo estimate.
//!
//! The residual in a bin is the linear echo estimate there times the
//! leakage ([`OVER`] / the filter's ERLE, learnt on the fly, fast to rise and slow
//! to fall so a burst of double talk does not make it suppress the
//! caller), or the last frame's residual decayed by [`TAIL_DECAY`] for a
//! room's reverberation, whichever is larger. The gain is the spectral
//! subtraction rule `1 - residual / error`, at least 0, smoothed over
//! three bins. No comfort noise is added: the output feeds a VAD, and
//! invented noise would be taken for sound.
//!
//! The leakage is learnt twice: while the agent's audio plays, and on the
//! echo's tail (the estimate 10 dB under its recent peak), where the
//! filter cancels less: its later taps carry the least energy and converge
//! slowest.
//!
//! Where the caller talks, the error is far above the residual and the
//! gain is near 1: the caller is not cut.

/// Over-estimation of the residual: 128, 21 dB. The ERLE tracked here
/// sits near the filter's best (it rises fast and falls slowly, so a
/// burst of double talk does not lower it), and a frame's actual residual
/// is often far above the best's: where the agent's speech ends, in a
/// band the far end rarely excites. On the echo benchmark
/// (`benches/python/echo_bargein.py`), 2 (3 dB) left 26 dB of ERLE and
/// residuals that set off the VAD on a silent line; 128 reaches 38 dB,
/// while a caller in double talk loses 0.1 to 1.3 dB (0 and -10 dB
/// callers, hybrid and room): the caller is far above the residual, so
/// the gain there stays near 1.
const OVER: f32 = 128.0;
/// Per-frame decay of the residual's tail: 3 dB per 20 ms frame, a room
/// with an RT60 of about 400 ms.
pub const TAIL_DECAY: f32 = 0.5;
/// ERLE tracking: the share of the gap closed per frame, rising and falling.
const RISE: f32 = 0.2;
const FALL: f32 = 0.02;
/// The ERLE assumed at the start and at most, as a power ratio.
const ERLE_START: f32 = 1.0;
const ERLE_MAX: f32 = 10_000.0;
/// Per-frame decay of the echo estimate's recent peak (1 dB).
const PEAK_DECAY: f32 = 0.79;
/// A frame's echo estimate (power, samples scaled to +-1, summed over the
/// frame pair's bins) below which it says nothing about the ERLE.
const ECHO_FLOOR: f32 = 1e-5;

#[derive(Debug)]
pub(crate) struct Suppressor {
    residual: Vec<f32>,
    raw: Vec<f32>,
    pub gains: Vec<f32>,
    /// The linear filter's ERLE, a power ratio, while the agent's audio
    /// plays.
    pub erle: f32,
    /// Its ERLE on the echo's tail, when the agent has paused and only the
    /// path's reverberation comes back: the filter's later taps converge
    /// slowest (they carry the least energy), so it cancels the tail less.
    tail_erle: f32,
    /// Recent peak of the echo estimate's energy (decays 1 dB per frame).
    peak: f32,
}

impl Suppressor {
    pub fn new(bins: usize) -> Self {
        Suppressor {
            residual: vec![0.0; bins],
            raw: vec![1.0; bins],
            gains: vec![1.0; bins],
            erle: ERLE_START,
            tail_erle: ERLE_START,
            peak: 0.0,
        }
    }

    /// One frame: `echo` and `error` are power per bin of the linear echo
    /// estimate and of the filter's output; `near_energy` and
    /// `out_energy` the frame's energies before and after the filter.
    /// Returns whether any gain is below 1 (if none, the output is the
    /// error itself).
    pub fn update(&mut self, echo: &[f32], error: &[f32], near_energy: f32, out_energy: f32) -> bool {
        let e_echo: f32 = echo.iter().sum();
        self.peak = e_echo.max(self.peak * PEAK_DECAY);
        // The tail: the echo estimate 10 dB under its recent peak.
        let tail = e_echo < 0.1 * self.peak;
        let erle = if tail { &mut self.tail_erle } else { &mut self.erle };
        if e_echo > ECHO_FLOOR {
            // What the filter achieved, not what it estimates: a wrong
            // estimate (a moved path) must not pass for a good one.
            let inst = (near_energy / out_energy.max(1e-12)).clamp(1.0, ERLE_MAX);
            let rate = if inst > *erle { RISE } else { FALL };
            *erle += (inst - *erle) * rate;
        }
        let leak = OVER / *erle;
        let mut any = false;
        for (((r, g), &y), &e) in self.residual.iter_mut().zip(&mut self.raw).zip(echo).zip(error) {
            *r = (leak * y).max(*r * TAIL_DECAY);
            *g = if e > 0.0 { (1.0 - *r / e).max(0.0) } else { 1.0 };
            any |= *g < 1.0;
        }
        if !any {
            self.gains.fill(1.0);
            return false;
        }
        let n = self.raw.len();
        for k in 0..n {
            let (a, b, c) = (self.raw[k.saturating_sub(1)], self.raw[k], self.raw[(k + 1).min(n - 1)]);
            self.gains[k] = (a + 2.0 * b + c) * 0.25;
        }
        true
    }

    /// Forgets the residual's tail (the echo path moved in time).
    pub fn reset_tail(&mut self) {
        self.residual.fill(0.0);
    }
}
