//! The call engine for a cascaded agent (speech-to-text -> LLM ->
//! text-to-speech), where no speech-to-speech model holds the conversation:
//! the application pushes its TTS audio per *utterance* and gets exact 20 ms
//! frames with marks for the phone, the caller's audio for its recogniser,
//! and barge-ins that say, per utterance, how much the caller heard.
//!
//! ```text
//!   phone text ──► receive_phone ─┐                  ┌─► Output::Phone       (media, mark, clear)
//!   TTS audio  ──► push_audio     ┤     Pipeline     ├─► Output::CallerAudio (mu-law 8 kHz, for the STT)
//!   app        ──► end_utterance, barge_in           ┘─► Output::Event       (started, barge_in, ...)
//! ```
//!
//! The same parts as [`Call`](super::Call): the phone adapter, the playout
//! timeline, the outbound framing; only the agent side differs.
//!
//! Barge-in (local VAD onset on the caller's audio with
//! [`PipelineConfig::local_vad`], or [`Pipeline::barge_in`], e.g. on an
//! interim transcript): the phone gets `clear`; the application gets
//! [`Event::BargeIn`] with each utterance not wholly heard, its `heard_ms`
//! and `action` (`"truncate"`: keep what was heard in the LLM history;
//! `"delete"`: nothing was heard); it should then stop its TTS (Deepgram
//! `Clear`). Audio of those utterances still in flight is dropped here
//! (counted in `deltas_dropped`), so none of it reaches the caller.
//!
//! The VAD is echo-guarded (see [`PipelineConfig::echo_loss_db`]): the
//! agent's own voice coming back down the line at least that many dB
//! quieter does not stop it. A VAD onset only interrupts while something
//! of the agent's is unheard
//! (audio playing, queued, or an utterance begun with
//! [`Pipeline::begin_utterance`] whose audio has not come yet).
//!
//! Bounds: those of the outbound side (unheard utterances, the playout
//! timeline's segments, [`REMEMBERED`](super::REMEMBERED) interrupted ids);
//! caller audio is handed out as it comes, nothing is held.

use serde::Deserialize;

use super::config::Telephony;
use super::convert;
use super::events::{Cause, Counters, Event, Stream};
use super::phone_leg::{PhoneLeg, Received};
use super::protocol::{Output, PhoneAdapter, PhoneEvent};
use crate::error::Error;
use crate::frame::Format;
use crate::resample::Quality;

/// How the TTS audio is encoded (Deepgram's names for the two it streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Little-endian PCM16 at [`PipelineConfig::sample_rate`].
    #[default]
    Linear16,
    /// G.711 mu-law at 8 kHz, framed as it is.
    Mulaw,
}

/// What a pipeline call is set up with. `PipelineConfig::from_json` takes
/// the same fields by name (the bindings' keyword arguments).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// The phone side's protocol (as [`CallConfig::telephony`](super::CallConfig::telephony)).
    #[serde(deserialize_with = "super::config::by_name")]
    pub telephony: Telephony,
    /// The TTS audio's encoding: `"linear16"` (default) or `"mulaw"`.
    pub encoding: Encoding,
    /// The TTS audio's rate: 8000, 16000, 24000 (default) or 48000 Hz
    /// (8000 for mu-law).
    pub sample_rate: u32,
    /// Resampler preset for PCM above 8 kHz.
    #[serde(deserialize_with = "super::config::by_name")]
    pub quality: Quality,
    /// Barge in on teledsp's VAD onset in the caller's audio (default on).
    pub local_vad: bool,
    /// The least loss of the line echo, dB: caller audio quieter than the
    /// agent's audio playing minus this is taken for the agent's own echo
    /// and does not barge in (0: no guard). G.168 assumes 6 dB.
    pub echo_loss_db: f32,
    /// Run the echo canceller ([`crate::echo`]) on the caller's audio: the
    /// local VAD hears the cancelled audio, and so does the recogniser
    /// ([`Output::CallerAudio`] is the cancelled audio), so it stops
    /// transcribing the agent. Phone streams at 8 or 16 kHz.
    pub echo_cancel: bool,
    /// Pause, then commit or resume (needs `local_vad`): the caller's sound
    /// over the agent clears the phone but keeps the TTS audio (a `paused`
    /// event; audio pushed meanwhile is held); speech lasting
    /// `commit_after_ms` or [`Pipeline::barge_in`] (the recogniser's new
    /// turn) commits the barge-in; a sound that ends first resumes the
    /// agent from what was heard (a `resumed` event). Off by default.
    pub resume_false_interruptions: bool,
    /// Caller speech this long over the agent is an interruption, ms.
    pub commit_after_ms: u32,
    /// A resume may go back this far, to the quietest frame, ms.
    pub resume_rewind_ms: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            telephony: Telephony::Twilio,
            encoding: Encoding::Linear16,
            sample_rate: 24000,
            quality: Quality::default(),
            local_vad: true,
            echo_loss_db: 6.0,
            echo_cancel: false,
            resume_false_interruptions: false,
            commit_after_ms: 700,
            resume_rewind_ms: 300,
        }
    }
}

impl PipelineConfig {
    /// A config from a JSON object of its fields; missing ones default.
    ///
    /// ```
    /// let c = teledsp::call::PipelineConfig::from_json(r#"{"encoding":"mulaw","sample_rate":8000}"#)?;
    /// assert!(c.local_vad);
    /// assert!(teledsp::call::PipelineConfig::from_json(r#"{"encoding":"mulaw","sample_rate":24000}"#).is_err());
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        cfg.source().map(|_| cfg)
    }

    fn source(&self) -> Result<Format, Error> {
        match self.encoding {
            Encoding::Mulaw if self.sample_rate != 8000 => Err(Error::InvalidConfig(format!(
                "mulaw TTS audio is 8000 Hz, not {} (use linear16 for other rates)",
                self.sample_rate
            ))),
            Encoding::Mulaw => Ok(Format::Ulaw),
            Encoding::Linear16 => Ok(Format::Pcm16 { rate: self.sample_rate }),
        }
    }
}

/// One cascaded-agent call. See the module docs.
///
/// ```
/// use teledsp::call::{Event, Output, Pipeline};
/// let mut call = Pipeline::new(Default::default())?; // TTS: linear16 at 24 kHz
/// let mut out = Vec::new();
/// call.receive_phone(r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"},"streamSid":"MZ1"}"#, 0, &mut out)?;
/// // Caller audio comes out for the recogniser.
/// out.clear();
/// call.receive_phone(r#"{"event":"media","streamSid":"MZ1","media":{"payload":"/////w=="}}"#, 5, &mut out)?;
/// assert_eq!(out, [Output::CallerAudio(vec![0xff; 4])]);
/// // 100 ms of TTS audio: five 20 ms frames and a mark to the phone.
/// out.clear();
/// call.push_audio("u1", &[0u8; 4800], 10, &mut out)?;
/// assert_eq!(out.len(), 6);
/// // The application barges in 50 ms later: clear, and u1 was heard for 40 ms.
/// out.clear();
/// call.barge_in(50, &mut out);
/// let Output::Event(Event::BargeIn { items, .. }) = &out[1] else { panic!() };
/// assert_eq!((items[0].item_id.as_str(), items[0].heard_ms), ("u1", 40));
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipeline {
    cfg: PipelineConfig,
    /// The phone side: stream, caller audio in order, the TTS audio out,
    /// the playout timeline, the VAD.
    leg: PhoneLeg,
    now: u64,
}

impl Pipeline {
    /// A call over the config's `telephony` (Twilio by default).
    pub fn new(cfg: PipelineConfig) -> Result<Self, Error> {
        let phone = cfg.telephony.adapter();
        Self::with_phone(cfg, phone)
    }

    /// A call over the given phone adapter.
    pub fn with_phone(cfg: PipelineConfig, phone: Box<dyn PhoneAdapter>) -> Result<Self, Error> {
        // The VAD runs even without local barge-in: it also keeps when the
        // caller was heard (see `caller_speech_ms`).
        let mut leg = PhoneLeg::new(phone, cfg.source()?, cfg.quality, cfg.echo_loss_db, true, cfg.echo_cancel)?;
        if cfg.resume_false_interruptions {
            if !cfg.local_vad {
                return Err(Error::InvalidConfig(
                    "resume_false_interruptions needs local_vad: the engine decides on the caller's audio".into(),
                ));
            }
            leg.pause_mode(cfg.commit_after_ms, cfg.resume_rewind_ms);
        }
        Ok(Pipeline { cfg, leg, now: 0 })
    }

    /// The settings.
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }
    /// The phone stream, once it started.
    pub fn stream(&self) -> Option<&Stream> {
        self.leg.stream()
    }
    /// Whether the phone stream ended.
    pub fn stopped(&self) -> bool {
        self.leg.stopped()
    }
    /// This call's counters (`deltas_dropped` counts TTS chunks dropped).
    pub fn counters(&self) -> Counters {
        self.leg.counters()
    }
    /// Whether something of the agent's is not wholly heard at `now_ms`
    /// (the rule for barging in on an interim transcript).
    pub fn speaking(&self, now_ms: u64) -> bool {
        self.leg.outbound.unheard(now_ms.max(self.now))
    }
    /// Milliseconds of utterance `id` the caller has heard by `now_ms`, if
    /// it is still tracked (not wholly heard and forgotten, nor interrupted).
    pub fn heard_ms(&self, id: &str, now_ms: u64) -> Option<u64> {
        self.leg.outbound.heard_ms(id, now_ms.max(self.now))
    }

    /// Milliseconds of caller audio in `[from_ms, to_ms)` (caller-audio
    /// time: ms from the stream's first sample, as a recogniser's
    /// timestamps count it) in which the caller was heard: speech by the
    /// VAD, louder than the echo guard allows the agent's own voice to be.
    /// A transcript of a span with none is the agent's echo. Spans are kept
    /// for the last [`SPEECH_SPANS`](super::SPEECH_SPANS) stretches
    /// of speech.
    ///
    /// ```
    /// use teledsp::call::Pipeline;
    /// let call = Pipeline::new(Default::default())?;
    /// assert_eq!(call.caller_speech_ms(0, 1000), 0);
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn caller_speech_ms(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.leg.speech_ms(from_ms, to_ms)
    }

    fn tick(&mut self, now_ms: u64) -> u64 {
        self.now = self.now.max(now_ms);
        self.now
    }

    // ---- inputs -------------------------------------------------------

    /// One message from the phone. A malformed one is an error, counted,
    /// and changes nothing.
    pub fn receive_phone(&mut self, text: &str, now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.leg.parse(text).and_then(|ev| self.on_phone(ev, now, out));
        if r.is_err() {
            self.leg.counters.malformed_phone += 1;
        }
        r
    }

    /// One binary message from the phone (Vonage's audio), as
    /// [`Call::receive_phone_binary`](super::Call::receive_phone_binary).
    pub fn receive_phone_binary(&mut self, data: &[u8], now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.leg.parse_binary(data).and_then(|ev| self.on_phone(ev, now, out));
        if r.is_err() {
            self.leg.counters.malformed_phone += 1;
        }
        r
    }

    /// The phone stream's audio format: what `caller_audio` carries.
    pub fn phone_format(&self) -> Format {
        self.leg.format()
    }

    /// The application will speak utterance `id` (its text went to the
    /// TTS): a barge-in before its audio comes cancels it (`"delete"`, and
    /// its audio is dropped). Optional: [`Pipeline::push_audio`] begins an
    /// utterance too.
    pub fn begin_utterance(&mut self, id: &str, now_ms: u64) {
        self.tick(now_ms);
        if !self.leg.outbound.interrupted(id) {
            self.leg.outbound.announce(id, None);
        }
    }

    /// TTS audio of utterance `id`, in the configured encoding and rate:
    /// whole 20 ms frames go to the phone with a mark, the rest waits for
    /// more or for [`Pipeline::end_utterance`]. Audio of an interrupted
    /// utterance, or before the stream started or after it stopped, is
    /// dropped and counted. Linear16 with an odd byte count is an error
    /// and changes nothing.
    pub fn push_audio(&mut self, id: &str, audio: &[u8], now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        if self.cfg.encoding == Encoding::Linear16 && !audio.len().is_multiple_of(2) {
            return Err(Error::InvalidLength {
                what: "linear16 TTS audio",
                expected: crate::error::Expected::MultipleOf(2),
                actual: audio.len(),
            });
        }
        if !self.leg.accepts(id) {
            self.leg.counters.deltas_dropped += 1;
            return Ok(());
        }
        self.leg.audio(id, None, audio, now, out)
    }

    /// Utterance `id` has no more audio: its tail (the resampler's and the
    /// last partial frame, padded with silence) goes out.
    pub fn end_utterance(&mut self, id: &str, now_ms: u64, out: &mut Vec<Output>) {
        let now = self.tick(now_ms);
        self.leg.done(id, now, out);
    }

    /// The application decided the caller is talking over the agent (an
    /// interim transcript, a detector of its own): a barge-in as described
    /// in the module docs.
    pub fn barge_in(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let now = self.tick(now_ms);
        self.interrupt(now, Cause::Application, out);
    }

    // ---- state transitions ------------------------------------------

    fn on_phone(&mut self, ev: PhoneEvent<'_>, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        if let Received::Audio { chunks, .. } = self.leg.receive(ev, now, out)? {
            // Caller audio in order (Telnyx chunks reordered) for the recogniser.
            for i in 0..chunks {
                let onset = self.leg.onset(i, now)?;
                // With the canceller on, the recogniser gets the cancelled
                // audio (whole frames; nothing when a frame is still partial).
                match self.leg.cancelled() {
                    Some([]) => {}
                    Some(pcm) => {
                        let mut bytes = Vec::with_capacity(pcm.len() * self.leg.format().width());
                        convert::encode(self.leg.format(), pcm, &mut bytes);
                        out.push(Output::CallerAudio(bytes));
                    }
                    None => out.push(Output::CallerAudio(self.leg.chunk(i).to_vec())),
                }
                if onset
                    && self.cfg.local_vad
                    && self.leg.outbound.unheard(now)
                    && !self.leg.pause(now, Cause::Vad, false, out)
                {
                    self.interrupt(now, Cause::Vad, out);
                }
                if let Some(cause) = self.leg.decide(now, out) {
                    self.interrupt(now, cause, out);
                }
            }
        }
        if self.leg.stopped() {
            self.leg.end_pause(now);
        }
        Ok(())
    }

    /// Whether the agent is paused on a caller's sound (see
    /// [`PipelineConfig::resume_false_interruptions`]).
    pub fn paused(&self) -> bool {
        self.leg.paused().is_some()
    }

    fn interrupt(&mut self, now: u64, cause: Cause, out: &mut Vec<Output>) {
        let paused_ms = self.leg.end_pause(now);
        let items: Vec<_> = self.leg.interrupt(now, out).into_iter().map(|c| c.heard).collect();
        if !items.is_empty() {
            self.leg.counters.barge_ins += 1;
            out.push(Output::Event(Event::BargeIn { at_ms: now, cause, items, paused_ms }));
        }
    }
}
