//! The bulk delay between the far end (what the phone was sent, in the
//! order it plays) and its echo in the caller's audio, to the frame.
//!
//! The method is the binary spectrum estimator of WebRTC's AECM and AEC
//! (Bjorn Volcker's `delay_estimator`): each frame's spectrum becomes 32
//! bits, one per band between 200 and 3400 Hz, set where the band is above
//! its running mean. For every candidate delay the estimator keeps a
//! smoothed count of the bits where the caller's frame and the far end's
//! frame that many frames back disagree; the echo's delay is where they
//! agree most. Bits make it indifferent to the echo path's gain and
//! colour, and a count per delay costs one XOR and one popcount.
//!
//! The playout timeline gives the prior ([`DelayEstimator::hint`]): used
//! until the counts show a clear minimum. A delay that changes in a call
//! is taken once another delay has been clearly better for
//! [`SWITCH_FRAMES`] frames in a row.

/// Bands of the binary spectrum (bits of a `u32`).
const BANDS: usize = 32;
/// The first band's lower edge and each band's width, Hz (the spectra are
/// of two frames: 25 Hz per bin with 20 ms frames, 50 Hz with 10 ms).
const FIRST_HZ: usize = 200;
const BAND_HZ: usize = 100;
/// Smoothing of the per-delay disagreement counts, per frame with far-end
/// activity.
const ALPHA: f32 = 1.0 / 16.0;
/// Smoothing of the band thresholds.
const THRESHOLD_ALPHA: f32 = 1.0 / 64.0;
/// Frames with far-end activity before the counts are trusted.
const MIN_UPDATES: u32 = 25;
/// How much clearer (bits) than the average delay's count the best must be.
const CLEAR_BITS: f32 = 3.0;
/// How much better (bits) than the current delay another must be to switch.
const SWITCH_BITS: f32 = 2.0;
/// Delays within this many bits of the best count as the best.
const NEAR_BEST_BITS: f32 = 0.5;
/// How much worse (bits) than the current delay's while it was the best a
/// challenger may match.
const LOCKED_BITS: f32 = 2.0;
/// Frames in a row another delay must win to be taken.
pub const SWITCH_FRAMES: u32 = 10;
/// A frame's power (sum over the bands' bins of the frame pair's spectrum,
/// samples scaled to +-1) below which it carries no delay information:
/// white noise at about -66 dBFS.
const ACTIVE_POWER: f32 = 1e-2;

#[derive(Debug)]
pub(crate) struct DelayEstimator {
    first_bin: usize,
    band_bins: usize,
    /// Far-end bits per past frame, newest at `head`; `None`: inactive.
    far: Vec<Option<u32>>,
    head: usize,
    far_threshold: [f32; BANDS],
    near_threshold: [f32; BANDS],
    far_started: bool,
    near_started: bool,
    /// Frames of far end pushed (up to the delays considered): delays
    /// further back have no history yet.
    filled: usize,
    /// Smoothed disagreement (bits) per delay, frames.
    cost: Vec<f32>,
    updates: u32,
    hint: usize,
    delay: Option<usize>,
    /// The current delay's count when it was last the best.
    locked: f32,
    challenger: usize,
    streak: u32,
    bands: [f32; BANDS],
}

impl DelayEstimator {
    /// Delays `0..=max_frames` for spectra of `bins` bins at `hz_per_bin`.
    pub fn new(max_frames: usize, hz_per_bin: usize) -> Self {
        DelayEstimator {
            first_bin: FIRST_HZ / hz_per_bin,
            band_bins: (BAND_HZ / hz_per_bin).max(1),
            far: vec![None; max_frames + 1],
            head: 0,
            far_threshold: [0.0; BANDS],
            near_threshold: [0.0; BANDS],
            far_started: false,
            near_started: false,
            filled: 0,
            cost: vec![BANDS as f32 / 2.0; max_frames + 1],
            updates: 0,
            hint: 0,
            delay: None,
            locked: 0.0,
            challenger: 0,
            streak: 0,
            bands: [0.0; BANDS],
        }
    }

    /// The largest delay considered, frames.
    pub fn max_frames(&self) -> usize {
        self.far.len() - 1
    }

    /// The delay to use until the estimate is clear.
    pub fn hint(&mut self, frames: usize) {
        self.hint = frames.min(self.max_frames());
    }

    /// The delay in use, frames: the estimate once clear, else the hint.
    pub fn delay(&self) -> usize {
        self.delay.unwrap_or(self.hint)
    }

    /// Whether the estimate is the counts' and not the hint.
    pub fn found(&self) -> bool {
        self.delay.is_some()
    }

    fn bits(&mut self, power: &[f32], near: bool, learn: bool) -> Option<u32> {
        let mut total = 0.0;
        for (k, b) in self.bands.iter_mut().enumerate() {
            let from = self.first_bin + k * self.band_bins;
            *b = power[from..from + self.band_bins].iter().sum();
            total += *b;
        }
        if total < ACTIVE_POWER {
            return None;
        }
        let (threshold, started) = if near {
            (&mut self.near_threshold, &mut self.near_started)
        } else {
            (&mut self.far_threshold, &mut self.far_started)
        };
        if !*started {
            // The running means start at the first frame heard, not at 0
            // (where every band would be above them, every bit set, and
            // every delay would match).
            *threshold = self.bands;
            *started = true;
        }
        // A band's bit: above its running mean, relative to the frame's
        // level (the mean of the bands' ratios), so a change of level (an
        // onset, the means still catching up) does not set or clear every
        // bit at once.
        let mut ratio = [0.0f32; BANDS];
        for ((r, &b), t) in ratio.iter_mut().zip(&self.bands).zip(threshold.iter_mut()) {
            *r = b / t.max(1e-12);
            if learn {
                *t += (b - *t) * THRESHOLD_ALPHA;
            }
        }
        let level = ratio.iter().sum::<f32>() / BANDS as f32;
        let mut bits = 0u32;
        for (k, &r) in ratio.iter().enumerate() {
            if r > level {
                bits |= 1 << k;
            }
        }
        Some(bits)
    }

    /// The far end's newest frame, as power per bin (of the frame-pair spectrum).
    pub fn push_far(&mut self, power: &[f32]) {
        let bits = self.bits(power, false, true);
        self.head = (self.head + self.far.len() - 1) % self.far.len();
        self.far[self.head] = bits;
        self.filled = (self.filled + 1).min(self.far.len());
    }

    /// The newest far-end frame was, after all, `power` (see
    /// `EchoCanceller::amend_far`): its bits, the band means not moved
    /// twice for one frame.
    pub fn amend_far(&mut self, power: &[f32]) {
        self.far[self.head] = self.bits(power, false, false);
    }

    /// The newest `frames` far-end frames were never played: no delay
    /// can be learnt from them.
    pub fn forget_far(&mut self, frames: usize) {
        for l in 0..frames.min(self.far.len()) {
            let at = (self.head + l) % self.far.len();
            self.far[at] = None;
        }
    }

    /// The caller's frame matching the last far frame pushed, as power per
    /// bin: updates the counts and the delay.
    pub fn push_near(&mut self, power: &[f32], may_switch: bool) {
        let Some(near) = self.bits(power, true, true) else { return };
        let lags = self.far.len();
        let mut any = false;
        for (l, c) in self.cost.iter_mut().enumerate() {
            if let Some(far) = self.far[(self.head + l) % lags] {
                *c += ((near ^ far).count_ones() as f32 - *c) * ALPHA;
                any = true;
            }
        }
        if !any {
            return;
        }
        self.updates = self.updates.saturating_add(1);
        if self.updates < MIN_UPDATES {
            return;
        }
        // Only delays with a far-end history count yet.
        let costs = &self.cost[..self.filled.max(1)];
        let low = costs.iter().copied().fold(f32::INFINITY, f32::min);
        // The earliest delay about as good as the best: a room's
        // reverberation matches best a little after the direct path,
        // and the filter must start before that.
        let best = costs.iter().position(|&c| c <= low + NEAR_BEST_BITS).expect("at least one delay");
        let mean = costs.iter().sum::<f32>() / costs.len() as f32;
        if low > mean - CLEAR_BITS {
            return;
        }
        if self.delay == Some(best) || self.delay.is_none() {
            self.locked = self.cost[best];
        }
        match self.delay {
            None => self.delay = Some(best),
            // Double talk leaves every delay matching badly, and one of
            // them a little less badly by chance: a challenger must match
            // about as well as the current delay did while it worked.
            Some(_) if self.cost[best] > self.locked + LOCKED_BITS => self.streak = 0,
            Some(d) if may_switch && d != best && low < self.cost[d] - SWITCH_BITS => {
                if self.challenger == best {
                    self.streak += 1;
                } else {
                    (self.challenger, self.streak) = (best, 1);
                }
                if self.streak >= SWITCH_FRAMES {
                    self.delay = Some(best);
                    self.streak = 0;
                }
            }
            Some(_) => self.streak = 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random band patterns, echoed `d` frames later with a gain: found,
    /// and found again after the delay jumps.
    #[test]
    fn finds_a_delay_and_follows_a_jump() {
        let bins = 161;
        let mut est = DelayEstimator::new(32, 25);
        est.hint(3);
        assert_eq!(est.delay(), 3);
        let mut s = 5u32;
        let mut frames: Vec<Vec<f32>> = Vec::new();
        let mut run = |est: &mut DelayEstimator, frames: &mut Vec<Vec<f32>>, d: usize, n: usize| {
            for _ in 0..n {
                let f: Vec<f32> = (0..bins)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 17;
                        s ^= s << 5;
                        // Band powers spread like speech's: cubed uniform.
                        ((s % 1000) as f32 * 1e-3).powi(3) * 0.1
                    })
                    .collect();
                frames.push(f);
                est.push_far(&frames[frames.len() - 1]);
                let near: Vec<f32> = frames
                    .get(frames.len().wrapping_sub(1 + d))
                    .map_or(vec![0.0; bins], |f| f.iter().map(|v| v * 0.25).collect());
                est.push_near(&near, true);
            }
        };
        run(&mut est, &mut frames, 12, 60);
        assert!(est.found());
        assert_eq!(est.delay(), 12);
        run(&mut est, &mut frames, 25, 50);
        assert_eq!(est.delay(), 25, "after the jump");
    }
}
