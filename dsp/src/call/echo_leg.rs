//! The echo canceller on a call's phone leg: the agent's audio as the
//! phone plays it (the far end) against the caller's (the near end).
//!
//! The far end is a queue: every frame sent to the phone is queued decoded,
//! and one frame leaves it for every frame of caller audio that arrives.
//! The phone plays 20 ms per 20 ms and sends 20 ms per 20 ms, so the
//! queue plays the agent's audio in the phone's order and at its pace,
//! whatever bursts the agent's audio came in; what is left is a constant
//! delay (the network and jitter buffer both ways, and the echo path's
//! own), which the canceller estimates, starting from the playout
//! timeline's latency (what the marks took to come back). A barge-in's
//! `clear` empties the phone's buffer, and the queue with it.
//!
//! Bounds: the queue holds at most [`FAR_QUEUE_MS`] of audio (a phone's
//! buffer ahead of playback); audio sent beyond that is not queued, and is
//! counted ([`FarQueue::dropped`]): the canceller sees silence for it.

use std::collections::VecDeque;

use crate::echo::{EchoCanceller, EchoStats};
use crate::error::Error;
use crate::frame::Format;

use super::barge::Canceller;
use super::protocol::FRAME_MS;

/// The most agent audio queued ahead of the phone's playback, ms.
pub const FAR_QUEUE_MS: usize = 30_000;

/// What the phone was sent and has not played yet, decoded.
#[derive(Debug)]
pub(crate) struct FarQueue {
    samples: VecDeque<i16>,
    cap: usize,
    rate: u32,
    /// Samples sent beyond the bound, not queued.
    pub dropped: u64,
    /// Cleared since the canceller last looked (see [`FarQueue::clear`]).
    cleared: bool,
    /// The frame that left last, when (the caller audio it was paired with
    /// arrived, ms), and how much of it was queued audio.
    last: Vec<i16>,
    popped_at: Option<u64>,
    last_filled: usize,
    /// A spurt into the empty queue: when it was sent, ms, and where its
    /// audio goes on in `last` (audio sent within the frame that left).
    placed_at: Option<u64>,
    cursor: Option<usize>,
    /// `last` has audio the canceller has not seen (see [`FarQueue::take_amended`]).
    amended: bool,
}

/// The most silence put before a spurt, ms: caller audio later than this
/// is a stalled uplink, not a phase to follow.
const MAX_LEAD_MS: u64 = 100;

impl FarQueue {
    pub fn new(rate: u32) -> Self {
        FarQueue {
            samples: VecDeque::new(),
            cap: rate as usize * FAR_QUEUE_MS / 1000,
            rate,
            dropped: 0,
            cleared: false,
            last: Vec::new(),
            popped_at: None,
            last_filled: 0,
            placed_at: None,
            cursor: None,
            amended: false,
        }
    }

    fn samples_of(&self, ms: u64) -> usize {
        (ms * u64::from(self.rate) / 1000) as usize
    }

    /// Audio sent to the phone at `now`.
    ///
    /// Back to back with what is queued, it follows it. Into an empty
    /// queue (a new spurt: an answer after silence, a resume), it is
    /// placed by the time it was sent: the phone plays a spurt on arrival,
    /// so its echo comes the same delay after its sending as any other
    /// audio's. Frames leave the queue one per caller frame, the last
    /// covering the 20 ms from its arrival: audio sent within that frame
    /// goes into it, from its time (the canceller amends its newest frame,
    /// [`FarQueue::take_amended`]); audio sent after it waits behind
    /// silence. Without this the delay would move by up to a frame at
    /// every spurt, and the filter learnt for the old one would add echo
    /// instead of removing it until it re-learnt.
    pub fn push(&mut self, pcm: &[i16], now: u64) {
        let mut pcm = pcm;
        if self.samples.is_empty() {
            if self.placed_at != Some(now) {
                self.placed_at = Some(now);
                self.cursor = None;
                if let Some(p) = self.popped_at {
                    let due = p + FRAME_MS;
                    if now < due {
                        self.cursor = Some(self.samples_of(now - p).max(self.last_filled));
                    } else {
                        let lead = self.samples_of((now - due).min(MAX_LEAD_MS));
                        self.samples.extend(std::iter::repeat_n(0, lead));
                    }
                }
            }
            if let Some(at) = self.cursor {
                let n = self.last.len().saturating_sub(at).min(pcm.len());
                self.last[at..at + n].copy_from_slice(&pcm[..n]);
                self.amended |= n > 0;
                self.cursor = Some(at + n);
                pcm = &pcm[n..];
            }
        }
        let room = self.cap - self.samples.len();
        let take = pcm.len().min(room);
        self.samples.extend(&pcm[..take]);
        self.dropped += (pcm.len() - take) as u64;
    }

    /// The next frame the phone plays (silence once nothing is queued),
    /// paired with caller audio that arrived at `now`.
    pub fn pop(&mut self, out: &mut [i16], now: u64) {
        let take = out.len().min(self.samples.len());
        for (o, s) in out.iter_mut().zip(self.samples.drain(..take)) {
            *o = s;
        }
        out[take..].fill(0);
        self.last.clear();
        self.last.extend_from_slice(out);
        self.last_filled = take;
        self.popped_at = Some(now);
        self.cursor = None;
        self.amended = false;
    }

    /// The frame that left last, if audio sent since went into it.
    pub fn take_amended(&mut self) -> Option<&[i16]> {
        std::mem::take(&mut self.amended).then_some(&self.last[..])
    }

    /// The phone dropped what it had not played: what is queued, and what
    /// left the queue within the phone's latency (the canceller is told,
    /// [`EchoLeg::process`]).
    pub fn clear(&mut self) {
        self.samples.clear();
        // The frame that left last was in the phone's buffer too: a spurt
        // sent within it goes into silence.
        self.last.fill(0);
        self.last_filled = 0;
        self.cleared = true;
        self.placed_at = None;
        self.cursor = None;
        self.amended = false;
    }
}

/// The canceller and its framing: caller audio of any length in, the
/// cancelled audio of every frame it completed out.
#[derive(Debug)]
pub(crate) struct EchoLeg {
    aec: EchoCanceller,
    /// Caller samples of the frame being gathered.
    near: Vec<i16>,
    far: Vec<i16>,
    frame: Vec<i16>,
    /// The cancelled audio of the last [`EchoLeg::process`].
    pub out: Vec<i16>,
}

impl EchoLeg {
    /// For a phone stream in `format` (8 or 16 kHz).
    pub fn new(format: Format) -> Result<Self, Error> {
        let rate = format.rate();
        if rate != 8000 && rate != 16000 {
            return Err(Error::InvalidConfig(format!(
                "the echo canceller runs on phone audio at 8000 or 16000 Hz; this stream is {rate} Hz"
            )));
        }
        let aec = EchoCanceller::new(rate, FRAME_MS as u32)?;
        let n = aec.frame_len();
        Ok(EchoLeg { aec, near: Vec::with_capacity(n), far: vec![0; n], frame: vec![0; n], out: Vec::new() })
    }

    /// Caller audio (`pcm`, decoded) that arrived at `now`, with the agent's audio from `far`;
    /// the playout timeline's latency, if learnt, as the delay's prior.
    /// The cancelled audio of each frame completed is in [`EchoLeg::out`].
    pub fn process(&mut self, pcm: &[i16], far: &mut FarQueue, latency_ms: Option<u64>, now: u64) -> Result<(), Error> {
        let latency = latency_ms.map(|ms| ms.min(u64::from(u32::MAX)) as u32);
        if let Some(ms) = latency {
            self.aec.set_delay_hint(ms);
        }
        if std::mem::take(&mut far.cleared) {
            // Frames leave the queue as the phone's clock goes, a latency
            // ahead of its playing them: those of the last latency were in
            // its buffer when the clear came, and never played. Before a
            // mark has shown the latency, the echo's delay bounds it (it
            // adds the echo path and the way back): better a little of
            // what played left in during the caller's sound than the
            // negative of an echo that never comes.
            let stats = self.aec.stats();
            let bound = stats.delay_found.then_some(stats.delay_ms);
            self.aec.forget_far(latency.or(bound).unwrap_or(0));
        }
        if let Some(frame) = far.take_amended() {
            self.aec.amend_far(frame)?;
        }
        self.out.clear();
        let n = self.aec.frame_len();
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (n - self.near.len()).min(rest.len());
            self.near.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.near.len() == n {
                far.pop(&mut self.far, now);
                self.aec.process(&self.far, &self.near, &mut self.frame)?;
                self.out.extend_from_slice(&self.frame);
                self.near.clear();
            }
        }
        Ok(())
    }

    /// How much more than the line's assumed echo loss the canceller takes
    /// out, dB, for the echo guard: its measured ERLE less a margin, once
    /// it has converged (0 before).
    fn extra_loss_db(&self) -> f32 {
        if self.aec.converged() { (self.aec.stats().erle_db - 6.0).clamp(0.0, 40.0) } else { 0.0 }
    }

    /// What the echo guard needs to know from the canceller.
    pub fn guard(&self) -> Canceller {
        Canceller { extra_loss_db: self.extra_loss_db(), far_dbfs: self.aec.far_level_dbfs() }
    }

    pub fn stats(&self) -> EchoStats {
        self.aec.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn popped(q: &mut FarQueue, now: u64) -> Vec<i16> {
        let mut f = vec![0; 160];
        q.pop(&mut f, now);
        f
    }

    #[test]
    fn a_spurt_sent_within_the_frame_that_left_goes_into_it() {
        let mut q = FarQueue::new(8000);
        assert_eq!(popped(&mut q, 100), vec![0; 160]);
        q.push(&[1000; 200], 110); // 10 ms into the frame paired at 100
        let amended = q.take_amended().expect("the frame that left is amended").to_vec();
        assert_eq!((&amended[..80], &amended[80..]), (&[0; 80][..], &[1000; 80][..]));
        assert!(q.take_amended().is_none(), "told once");
        let next = popped(&mut q, 120);
        assert_eq!((&next[..120], &next[120..]), (&[1000; 120][..], &[0; 40][..]));
    }

    #[test]
    fn a_spurt_sent_after_the_frame_that_left_waits_behind_silence() {
        let mut q = FarQueue::new(8000);
        popped(&mut q, 100);
        q.push(&[1000; 160], 130); // 10 ms after the next frame's start
        assert!(q.take_amended().is_none());
        let next = popped(&mut q, 120);
        assert_eq!((&next[..80], &next[80..]), (&[0; 80][..], &[1000; 80][..]));
        // A stalled uplink is not followed past MAX_LEAD_MS.
        let mut q = FarQueue::new(8000);
        popped(&mut q, 100);
        q.push(&[1000; 160], 5000);
        assert_eq!(q.samples.len(), 160 + 8 * MAX_LEAD_MS as usize);
    }

    #[test]
    fn audio_back_to_back_follows_what_is_queued() {
        let mut q = FarQueue::new(8000);
        q.push(&[1; 320], 0); // before any caller audio: nothing to place by
        assert_eq!(popped(&mut q, 0), vec![1; 160]);
        q.push(&[2; 160], 15); // the queue still holds audio: it follows it
        assert!(q.take_amended().is_none());
        assert_eq!(popped(&mut q, 20), vec![1; 160]);
        assert_eq!(popped(&mut q, 40), vec![2; 160]);
        // Sent while that frame plays, a spurt follows it.
        q.push(&[5; 10], 50);
        assert!(q.take_amended().is_none());
        assert_eq!(&popped(&mut q, 60)[..10], &[5; 10]);
        // Two pushes at one instant into the empty queue are one spurt.
        popped(&mut q, 80);
        q.push(&[3; 100], 90);
        q.push(&[4; 100], 90);
        let amended = q.take_amended().unwrap().to_vec();
        assert_eq!((&amended[..80], &amended[80..]), (&[0; 80][..], &[3; 80][..]));
        let next = popped(&mut q, 100);
        assert_eq!((&next[..20], &next[20..120]), (&[3; 20][..], &[4; 100][..]));
    }

    #[test]
    fn a_clear_drops_the_queue_and_any_amendment() {
        let mut q = FarQueue::new(8000);
        popped(&mut q, 100);
        q.push(&[1000; 400], 105);
        q.clear();
        assert!(q.take_amended().is_none());
        assert!(std::mem::take(&mut q.cleared));
        assert_eq!(popped(&mut q, 120), vec![0; 160]);
        // A resume at the instant of a clear: the frame that left, dropped
        // with the rest, is silence before the resumed audio.
        let mut q = FarQueue::new(8000);
        q.push(&[7; 160], 0);
        popped(&mut q, 0);
        q.clear();
        q.push(&[9; 160], 10);
        let amended = q.take_amended().unwrap().to_vec();
        assert_eq!((&amended[..80], &amended[80..]), (&[0; 80][..], &[9; 80][..]));
    }
}
