//! Local barge-in: teledsp's VAD on the caller's audio, with an echo guard.
//!
//! The caller starts talking over the agent at the first frame of a speech
//! segment (by the VAD) that passes three checks:
//!
//! - it is louder than [`LEVEL_FLOOR_DBFS`] (digital near-silence is
//!   nobody talking);
//! - it is louder than the agent's audio playing at that instant minus
//!   [`echo_loss_db`](super::CallConfig::echo_loss_db), plus what the echo
//!   canceller takes out when it runs and has converged; behind the
//!   canceller, the agent's level is also that of the loudest audio the
//!   echo can come from by the canceller's delay estimate. A quieter frame
//!   may be the agent's own voice coming back down the line (line echo:
//!   ITU-T G.168 expects at least 6 dB of loss on the echo path), and the
//!   agent must not interrupt itself;
//! - within a speech segment that has had echo in it and not the caller,
//!   the agent's level in that comparison does not fall: it is the loudest
//!   the agent played during the segment. Otherwise a pause in the agent's
//!   audio would let the segment's later echo (or the line noise under it)
//!   pass for the caller; the caller's own speech, as loud as before, still
//!   counts. Where nothing played during the segment (the VAD's hangover
//!   after the agent's last word), and always behind the echo canceller
//!   (whose residual is far below any caller), a frame must also be
//!   [`ECHO_MARGIN_DB`] louder than the segment's loudest echo.
//!
//! One onset per speech segment. With the echo canceller on
//! ([`CallConfig::echo_cancel`](super::CallConfig::echo_cancel)), the VAD
//! hears the cancelled audio and the guard is the fallback for what the
//! canceller has not (yet) removed.
//!
//! The caller's audio is the phone's, whatever its codec and rate (the VAD
//! runs at 8, 16 or 24 kHz); messages of any length are cut into 20 ms
//! frames here.
//!
//! It also keeps when the caller was heard (speech by the VAD that passed
//! the echo guard), in caller-audio time (ms from the stream's first
//! sample): a recogniser's transcript of a span where the caller was not
//! heard is the agent's own echo ([`LocalBarge::speech_ms`]). The last
//! [`SPEECH_SPANS`] spans are kept.

use std::collections::VecDeque;

use super::convert;
use super::outbound::Outbound;
use super::protocol::FRAME_MS;
use crate::error::Error;
use crate::frame::Format;
use crate::vad::Vad;

/// Within a speech segment that began as echo, once the agent stops
/// playing, how much louder than the segment's loudest echo a frame must be
/// to be the caller, dB.
pub const ECHO_MARGIN_DB: f32 = 6.0;

/// A speech frame quieter than this is not the caller, dBFS: below any
/// phone line's noise, above a canceller's residual on a digitally silent
/// line.
pub const LEVEL_FLOOR_DBFS: f32 = -55.0;

/// What an echo canceller in front of the VAD tells the guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canceller {
    /// What it takes out beyond the line's assumed echo loss, dB (0 until
    /// it has converged).
    pub extra_loss_db: f32,
    /// The loudest agent audio its echo can come from now, dBFS
    /// ([`EchoCanceller::far_level_dbfs`](crate::echo::EchoCanceller::far_level_dbfs)):
    /// the agent's level to compare with where the echo returns later than
    /// the agent's current audio (a long delay, a room's reverberation).
    pub far_dbfs: f32,
}

/// Spans of caller speech remembered (older ones are forgotten): at one
/// span per word or so, minutes of a call.
pub const SPEECH_SPANS: usize = 512;

#[derive(Debug)]
pub(crate) struct LocalBarge {
    vad: Vad,
    /// This speech segment already had its onset.
    fired: bool,
    /// The loudest frame of this speech segment taken for echo, dBFS.
    echo_peak: Option<f32>,
    /// The loudest the agent played during this speech segment, once the
    /// segment has had echo in it, dBFS: the guard's reference does not
    /// fall within such a segment when the agent pauses.
    segment_agent: Option<f32>,
    echo_loss_db: f32,
    /// Samples of the frame being gathered.
    frame: Vec<i16>,
    /// Caller-audio time at the end of the last whole frame, ms.
    at_ms: u64,
    /// Spans (start, end) of caller-audio time, ms, when the caller was heard.
    speech: VecDeque<(u64, u64)>,
    /// With pause mode: the caller's sound is over after this much quiet,
    /// ms, within the VAD's segment (whose hangover is longer), and the
    /// next sound is an onset again.
    sound_end_ms: Option<u64>,
    /// Quiet (VAD probability under its off threshold) since the last sound, ms.
    quiet_ms: u64,
}

impl LocalBarge {
    /// A detector for caller audio in `format`.
    pub fn new(echo_loss_db: f32, format: Format) -> Result<Self, Error> {
        if !(0.0..=60.0).contains(&echo_loss_db) {
            return Err(Error::InvalidConfig(format!("echo_loss_db is 0 (off) to 60 dB, not {echo_loss_db}")));
        }
        let vad = Vad::new(format.rate(), FRAME_MS as u32)?;
        let frame = Vec::with_capacity(vad.frame_len());
        Ok(LocalBarge {
            vad,
            fired: false,
            echo_peak: None,
            segment_agent: None,
            echo_loss_db,
            frame,
            at_ms: 0,
            speech: VecDeque::new(),
            sound_end_ms: None,
            quiet_ms: 0,
        })
    }

    /// Pause mode: a sound is over after `ms` of quiet (see `sound_end_ms`).
    pub fn end_sounds_after(&mut self, ms: u64) {
        self.sound_end_ms = Some(ms);
    }

    /// Whether the caller's sound that had its onset is still going: by
    /// the VAD's segment, or with `end_sounds_after`, until that much quiet.
    pub fn in_speech(&self) -> bool {
        self.fired
    }

    /// Milliseconds of `[from_ms, to_ms)` (caller-audio time) when the
    /// caller was heard: speech by the VAD that was not taken for echo.
    pub fn speech_ms(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.speech.iter().map(|&(a, b)| b.min(to_ms).saturating_sub(a.max(from_ms))).sum()
    }

    fn heard(speech: &mut VecDeque<(u64, u64)>, start: u64) {
        let end = start + FRAME_MS;
        match speech.back_mut() {
            Some((_, b)) if *b == start => *b = end,
            _ => {
                if speech.len() == SPEECH_SPANS {
                    speech.pop_front();
                }
                speech.push_back((start, end));
            }
        }
    }

    /// One caller message, decoded to PCM16 at the phone's rate: whether
    /// the caller's speech began in it (not echo). Messages are taken as
    /// consecutive caller audio.
    /// `canceller` is what an echo canceller in front says, when one runs
    /// (`pcm` is then its output).
    pub fn onset(
        &mut self,
        pcm: &[i16],
        outbound: &Outbound,
        now: u64,
        canceller: Option<Canceller>,
    ) -> Result<bool, Error> {
        let mut onset = false;
        let mut rest = pcm;
        let mut result = Ok(());
        while !rest.is_empty() {
            let take = (self.vad.frame_len() - self.frame.len()).min(rest.len());
            self.frame.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.frame.len() == self.vad.frame_len() {
                let start = self.at_ms;
                self.at_ms += FRAME_MS;
                let stepped = self.step(outbound, now, canceller);
                self.frame.clear();
                match stepped {
                    Ok((caller, mut fired)) => {
                        if caller {
                            Self::heard(&mut self.speech, start);
                        }
                        if let Some(end) = self.sound_end_ms {
                            let sound = caller && self.vad.probability() >= self.vad.config().threshold_off;
                            self.quiet_ms = if sound { 0 } else { self.quiet_ms + FRAME_MS };
                            if fired && !sound {
                                // A frame in the VAD's hangover (under its
                                // off threshold) starts no sound: it would
                                // be over as it began, a pause and a resume
                                // at one instant.
                                (fired, self.fired) = (false, false);
                            }
                            if self.fired && self.quiet_ms >= end {
                                self.fired = false;
                            }
                        }
                        onset |= fired;
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        result?;
        Ok(onset)
    }

    /// The frame gathered: (the caller was heard in it, it is the segment's onset).
    fn step(&mut self, outbound: &Outbound, now: u64, canceller: Option<Canceller>) -> Result<(bool, bool), Error> {
        self.vad.process(&self.frame)?;
        if !self.vad.is_speaking() {
            self.fired = false;
            self.echo_peak = None;
            self.segment_agent = None;
            return Ok((false, false));
        }
        let level = convert::dbfs(&self.frame);
        // Digital near-silence (a canceller's residual on a line without
        // noise) is nobody talking, whatever the VAD makes of its shape.
        if level < LEVEL_FLOOR_DBFS {
            return Ok((false, false));
        }
        if self.echo_loss_db > 0.0 {
            let loss = self.echo_loss_db + canceller.map_or(0.0, |c| c.extra_loss_db);
            // The agent's level: what plays now, or behind a canceller the
            // loudest audio its echo can come from, whichever is louder.
            // Within a segment that has had echo and not the caller, the
            // agent's level does not fall: a pause in the agent's audio
            // must not let the segment's later echo, or the line noise
            // under it, pass for the caller.
            let agent = match (outbound.agent_level(now), canceller) {
                (a, Some(c)) if c.far_dbfs > LEVEL_FLOOR_DBFS => Some(a.map_or(c.far_dbfs, |a| a.max(c.far_dbfs))),
                (a, _) => a,
            };
            let reference = match (agent, self.segment_agent) {
                (Some(a), Some(s)) => Some(a.max(s)),
                (a, s) => a.or(s),
            };
            // Clearly above the segment's loudest echo: where nothing played
            // in the segment (the VAD's hangover after the agent's last
            // word, an echo arriving late), and always behind a canceller,
            // whose residual echo is far below any caller.
            let above_echo = !self.fired && self.echo_peak.is_some_and(|peak| level < peak + ECHO_MARGIN_DB);
            let echo = match reference {
                Some(r) => level < r - loss || (canceller.is_some() && above_echo),
                None => above_echo,
            };
            if let (true, false, Some(a)) = (echo, self.fired, agent) {
                self.segment_agent = Some(self.segment_agent.map_or(a, |s| s.max(a)));
            }
            if echo {
                self.echo_peak = Some(self.echo_peak.map_or(level, |p| p.max(level)));
                return Ok((false, false));
            }
        }
        let onset = !self.fired;
        self.fired = true;
        Ok((true, onset))
    }
}
