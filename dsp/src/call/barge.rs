//! Local barge-in: teledsp's VAD on the caller's audio, with an echo guard.
//!
//! The caller starts talking over the agent at the first frame of a speech
//! segment (by the VAD) that is louder than the agent's audio playing at
//! that instant minus [`echo_loss_db`](super::CallConfig::echo_loss_db). A
//! quieter frame may be the agent's own voice coming back down the line
//! (line echo: ITU-T G.168 expects at least 6 dB of loss on the echo path),
//! and the agent must not interrupt itself; the segment's later, louder
//! frames (the caller, or the agent pausing) still count. While nothing
//! plays, the guard is off. One onset per speech segment.

use super::FRAME_MS;
use super::outbound::{Outbound, ulaw_dbfs};
use crate::error::Error;
use crate::vad::Vad;

#[derive(Debug)]
pub(crate) struct LocalBarge {
    vad: Vad,
    /// This speech segment already had its onset.
    fired: bool,
    echo_loss_db: f32,
}

impl LocalBarge {
    pub fn new(echo_loss_db: f32) -> Result<Self, Error> {
        if !(0.0..=60.0).contains(&echo_loss_db) {
            return Err(Error::InvalidConfig(format!("echo_loss_db is 0 (off) to 60 dB, not {echo_loss_db}")));
        }
        Ok(LocalBarge { vad: Vad::new(8000, FRAME_MS as u32)?, fired: false, echo_loss_db })
    }

    /// One caller frame (8 kHz mu-law): whether the caller's speech began
    /// with it (not echo). Frames of another length are not looked at.
    pub fn onset(&mut self, ulaw: &[u8], outbound: &Outbound, now: u64) -> Result<bool, Error> {
        if ulaw.len() != self.vad.frame_len() {
            return Ok(false);
        }
        self.vad.process_ulaw(ulaw)?;
        if !self.vad.is_speaking() {
            self.fired = false;
            return Ok(false);
        }
        if self.fired {
            return Ok(false);
        }
        if self.echo_loss_db > 0.0
            && let Some(agent) = outbound.agent_level(now)
            && ulaw_dbfs(ulaw) < agent - self.echo_loss_db
        {
            return Ok(false);
        }
        self.fired = true;
        Ok(true)
    }
}
