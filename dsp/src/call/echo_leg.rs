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
    /// Samples sent beyond the bound, not queued.
    pub dropped: u64,
}

impl FarQueue {
    pub fn new(rate: u32) -> Self {
        FarQueue { samples: VecDeque::new(), cap: rate as usize * FAR_QUEUE_MS / 1000, dropped: 0 }
    }

    /// Audio sent to the phone.
    pub fn push(&mut self, pcm: &[i16]) {
        let room = self.cap - self.samples.len();
        let take = pcm.len().min(room);
        self.samples.extend(&pcm[..take]);
        self.dropped += (pcm.len() - take) as u64;
    }

    /// The next frame the phone plays (silence once nothing is queued).
    pub fn pop(&mut self, out: &mut [i16]) {
        let take = out.len().min(self.samples.len());
        for (o, s) in out.iter_mut().zip(self.samples.drain(..take)) {
            *o = s;
        }
        out[take..].fill(0);
    }

    /// The phone dropped what it had not played.
    pub fn clear(&mut self) {
        self.samples.clear();
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

    /// Caller audio (`pcm`, decoded), with the agent's audio from `far`;
    /// the playout timeline's latency, if learnt, as the delay's prior.
    /// The cancelled audio of each frame completed is in [`EchoLeg::out`].
    pub fn process(&mut self, pcm: &[i16], far: &mut FarQueue, latency_ms: Option<u64>) -> Result<(), Error> {
        if let Some(ms) = latency_ms {
            self.aec.set_delay_hint(ms.min(u64::from(u32::MAX)) as u32);
        }
        self.out.clear();
        let n = self.aec.frame_len();
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (n - self.near.len()).min(rest.len());
            self.near.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.near.len() == n {
                far.pop(&mut self.far);
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
