//! The call engine: one phone call's protocol state as a sans-I/O object, in
//! the spirit of h11 and wsproto. Messages and the current time go in;
//! messages to send and events for the application come out. No sockets,
//! clocks or threads, so Rust, Python and Node relays run the same logic and
//! tests are exact.
//!
//! ```text
//!   phone text ──► receive_phone ─┐                  ┌─► Output::Phone  (media, mark, clear)
//!   model text ──► receive_model ─┤      Call        ├─► Output::Model  (append, session, truncate, ...)
//!   app        ──► barge_in, tool_result, open_model ┘─► Output::Event  (started, tool_call, barge_in, ...)
//! ```
//!
//! Rooms, each with one job:
//! - `config`: [`CallConfig`], the provider registries [`Telephony`] and
//!   [`ModelApi`] with the facts every relay needs (key variable, headers,
//!   answer endpoint).
//! - `protocol`: what messages mean ([`PhoneEvent`], [`ModelEvent`]), the
//!   adapter traits ([`PhoneAdapter`], [`ModelAdapter`]), [`Output`], and
//!   the wire helpers the adapters share.
//! - `events`: what the application is told ([`Event`], [`Counters`]).
//! - [`phone`] and [`model`]: one adapter per telephony protocol
//!   ([`twilio`], [`telnyx`], [`plivo`], [`vonage`], [`exotel`]) and per
//!   model API ([`openai`], [`gemini`], [`elevenlabs`]).
//! - `phone_leg`: the phone side, shared by [`Call`] and [`Pipeline`]:
//!   stream state, caller audio in order, the agent's audio out as exact
//!   frames with marks ([`playout`]: what the caller has heard at any
//!   instant), the local VAD and its echo guard.
//! - This module: every state transition of a speech-to-speech call, in
//!   [`Call`]'s `on_*` methods.
//! - [`pipeline`]: the same for a cascaded agent (STT -> LLM -> TTS), whose
//!   application pushes TTS audio per utterance: [`Pipeline`].
//!
//! Barge-in (model `input_audio_buffer.speech_started`, local VAD onset with
//! [`CallConfig::local_vad`], or [`Call::barge_in`]):
//! 1. the phone gets `clear`;
//! 2. a response in progress gets `response.cancel`;
//! 3. every item not wholly heard is truncated at what was heard, by the
//!    playout timeline: items with audio sent but not yet played, and the
//!    item still being generated (the model holds more of it than was sent,
//!    even when everything sent has played). An item never heard at all is
//!    deleted (`conversation.item.delete`): truncating it to 0 ms would
//!    leave an empty assistant turn in the model's context, which the
//!    caller never heard either;
//! 4. later deltas of those items (and of the cancelled response) are
//!    dropped, marks of the cleared audio ignored, and the outbound
//!    resampler and framer reset, so no sample of the interrupted audio
//!    reaches the next response.
//!
//! Item ends: when an item's audio is done (`response.output_audio.done`,
//! beta `response.audio.done`; also when the next item starts or the
//! response ends), its resampler tail and last partial frame are sent, the
//! frame padded with mu-law silence.
//!
//! Bounds: phone media before the stream's `start` is refused (malformed,
//! nothing kept); inbound audio held before [`Call::open_model`] is capped
//! at [`CallConfig::hold_ms`] of audio, measured in samples, not messages
//! (older frames dropped and counted); the playout
//! timeline at [`playout::MAX_SEGMENTS`] unconfirmed segments; the sets of
//! interrupted items and cancelled responses at [`REMEMBERED`] each.

mod barge;
mod config;
mod convert;
mod echo_leg;
mod events;
pub mod model;
mod outbound;
pub mod phone;
mod phone_leg;
pub mod pipeline;
pub mod playout;
mod protocol;
mod reorder;

use std::collections::VecDeque;

use base64_simd::STANDARD as B64;

use crate::error::Error;
pub use crate::frame::Format;
pub use barge::SPEECH_SPANS;
pub use config::{CallConfig, ModelApi, Telephony};
use convert::Converter;
pub use events::{Cause, Counters, Event, Heard, Stream};
pub use model::{elevenlabs, gemini, openai};
pub use outbound::REMEMBERED;
use outbound::Recent;
pub use phone::{exotel, plivo, telnyx, twilio, vonage};
use phone_leg::{PhoneLeg, Received};
pub use pipeline::{Pipeline, PipelineConfig};
pub(crate) use protocol::b64_decode;
pub use protocol::{
    Message, ModelAdapter, ModelAudio, ModelEvent, ModelEvents, Output, Payload, PhoneAdapter, PhoneEvent, PhoneKind,
    RealtimeVersion, Session,
};

/// How long after a resume the model's committed turn is taken for the
/// resumed backchannel, ms: OpenAI's server VAD commits a turn after 500 ms
/// of silence by default; a turn committed later is the caller's own.
pub const RESUMED_TURN_MS: u64 = 1500;

/// One call. See the module docs.
///
/// ```
/// use teledsp::call::{Call, Output};
/// let mut call = Call::new(Default::default())?;
/// let mut out = Vec::new();
/// call.receive_phone(r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"},"streamSid":"MZ1"}"#, 0, &mut out)?;
/// call.open_model(0, &mut out); // the model socket is up: session.update goes first
/// // 100 ms of 24 kHz PCM16 from the model: five 20 ms frames and a mark to the phone.
/// let delta = format!(r#"{{"type":"response.output_audio.delta","item_id":"A","response_id":"R","delta":"{}"}}"#, "AAAA".repeat(1600));
/// out.clear();
/// call.receive_model(&delta, 10, &mut out)?;
/// assert_eq!(out.iter().filter(|o| matches!(o, Output::Phone { .. })).count(), 6);
/// // The caller talks 50 ms later: clear, and the item is truncated at 40 ms heard.
/// out.clear();
/// call.receive_model(r#"{"type":"input_audio_buffer.speech_started"}"#, 50, &mut out)?;
/// assert!(matches!(&out[1], Output::Model(t) if t.contains(r#""audio_end_ms":40"#)));
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug)]
pub struct Call {
    cfg: CallConfig,
    /// The phone side: stream, caller audio in order, the agent's audio
    /// out, the playout timeline, the local VAD.
    leg: PhoneLeg,
    model: Box<dyn ModelAdapter>,
    /// `None` once the model is open; before, inbound appends held, each
    /// with its length in phone samples.
    held: Option<VecDeque<(usize, String)>>,
    /// Samples in `held`.
    held_samples: usize,
    /// The model confirmed the session (see [`Call::model_ready`]).
    model_ready: bool,
    /// Caller audio: the phone's format -> the model's.
    up: Converter,
    /// The response in progress (its id, or empty).
    response: Option<String>,
    cancelled_responses: Recent,
    pending_tools: Vec<String>,
    /// A `response.create` waits for the current response to end.
    want_response: bool,
    /// When a pause last resumed, if no caller turn began since: the
    /// model's next committed turn within [`RESUMED_TURN_MS`] is that
    /// backchannel, and its input item is deleted.
    resumed_turn: Option<u64>,
    now: u64,
    // Scratch, reused across messages.
    bytes: Vec<u8>,
    converted: Vec<u8>,
    /// The cancelled caller audio in the phone's format (scratch).
    cancelled: Vec<u8>,
    b64: String,
}

impl Call {
    /// A call over the config's `telephony` and `model` (by default
    /// Twilio <-> OpenAI).
    pub fn new(mut cfg: CallConfig) -> Result<Self, Error> {
        if cfg.resume_false_interruptions {
            if !cfg.local_vad {
                return Err(Error::InvalidConfig(
                    "resume_false_interruptions needs local_vad: the engine decides on the caller's audio".into(),
                ));
            }
            if !matches!(cfg.model, ModelApi::OpenAi | ModelApi::Azure) {
                return Err(Error::InvalidConfig(format!(
                    "resume_false_interruptions needs a model whose answer the engine can hold (OpenAI, Azure): {} cuts its own answers",
                    cfg.model.name()
                )));
            }
            // The server must not cancel or answer on its own: the engine
            // decides (OpenAI's `interrupt_response`, `create_response`).
            if let Some(td) = cfg.turn_detection.as_object_mut() {
                td.insert("interrupt_response".into(), false.into());
                td.insert("create_response".into(), false.into());
            }
        }
        let model = cfg.model.adapter(&cfg)?;
        Self::with_adapters(cfg.clone(), cfg.telephony.adapter(), model)
    }

    /// A call over the given phone and model adapters.
    pub fn with_adapters(
        cfg: CallConfig,
        phone: Box<dyn PhoneAdapter>,
        model: Box<dyn ModelAdapter>,
    ) -> Result<Self, Error> {
        let phone_format = phone.default_format();
        let (model_in, model_out) = model.formats();
        let mut leg = PhoneLeg::new(phone, model_out, cfg.quality, cfg.echo_loss_db, cfg.local_vad, cfg.echo_cancel)?;
        if cfg.resume_false_interruptions {
            leg.pause_mode(cfg.commit_after_ms, cfg.resume_rewind_ms);
        }
        Ok(Call {
            up: Converter::new(phone_format, model_in, cfg.quality)?,
            leg,
            cfg,
            model,
            held: Some(VecDeque::new()),
            held_samples: 0,
            model_ready: false,
            response: None,
            cancelled_responses: Recent::default(),
            pending_tools: Vec::new(),
            want_response: false,
            resumed_turn: None,
            now: 0,
            bytes: Vec::new(),
            converted: Vec::new(),
            cancelled: Vec::new(),
            b64: String::new(),
        })
    }

    /// The phone stream's audio format (the adapter's default until its
    /// start message says).
    pub fn phone_format(&self) -> Format {
        self.leg.format()
    }

    /// The model's audio formats: (caller audio to it, its audio).
    pub fn model_formats(&self) -> (Format, Format) {
        self.model.formats()
    }

    /// The settings.
    pub fn config(&self) -> &CallConfig {
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
    /// Whether [`Call::open_model`] was called.
    pub fn model_open(&self) -> bool {
        self.held.is_none()
    }
    /// Whether the model confirmed the session settings (OpenAI
    /// `session.updated`). Until then the caller hears nothing: a relay
    /// bounds this wait and gives up on the call (`session.created` alone
    /// does not count: it comes before the settings were applied, and a
    /// model that answers them with `error` would leave the caller in silence).
    pub fn model_ready(&self) -> bool {
        self.model_ready
    }
    /// Whether a model response is in progress.
    pub fn responding(&self) -> bool {
        self.response.is_some()
    }
    /// This call's counters.
    pub fn counters(&self) -> Counters {
        self.leg.counters()
    }
    /// Milliseconds of `item_id` the caller has heard by `now_ms`, if the
    /// item is still tracked (not wholly heard and forgotten, nor interrupted).
    pub fn heard_ms(&self, item_id: &str, now_ms: u64) -> Option<u64> {
        self.leg.outbound.heard_ms(item_id, now_ms.max(self.now))
    }

    fn tick(&mut self, now_ms: u64) -> u64 {
        // Time is monotonic: an earlier instant counts as the latest seen.
        self.now = self.now.max(now_ms);
        self.now
    }

    // ---- inputs -------------------------------------------------------

    /// The model connection is open: its session settings go first, then
    /// the caller audio held meanwhile. Later calls do nothing.
    pub fn open_model(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        self.tick(now_ms);
        if let Some(held) = self.held.take() {
            out.push(Output::Model(self.model.session_update(&self.cfg.session())));
            out.extend(held.into_iter().map(|(_, text)| Output::Model(text)));
            self.held_samples = 0;
        }
    }

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

    /// One binary message from the phone (Vonage's audio). A malformed
    /// one, or any from a protocol without them, is an error, counted, and
    /// changes nothing.
    pub fn receive_phone_binary(&mut self, data: &[u8], now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.leg.parse_binary(data).and_then(|ev| self.on_phone(ev, now, out));
        if r.is_err() {
            self.leg.counters.malformed_phone += 1;
        }
        r
    }
    /// One event from the model. A malformed one is an error, counted, and
    /// changes nothing.
    pub fn receive_model(&mut self, text: &str, now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.on_model(text, now, out);
        if r.is_err() {
            self.leg.counters.malformed_model += 1;
        }
        r
    }

    /// One binary message from the model: the same events as
    /// [`Call::receive_model`], in UTF-8. Gemini Live sends its JSON
    /// messages as binary WebSocket frames (google-genai reads frames
    /// whatever their type); a relay passes each model frame here or to
    /// `receive_model` by its type. Bytes that are not UTF-8 are an error,
    /// counted, and change nothing.
    ///
    /// ```
    /// use teledsp::call::{Call, CallConfig, ModelApi};
    /// let mut call = Call::new(CallConfig { model: ModelApi::Gemini, ..Default::default() })?;
    /// let mut out = Vec::new();
    /// call.receive_model_binary(br#"{"setupComplete":{}}"#, 0, &mut out)?;
    /// assert!(call.model_ready());
    /// assert!(call.receive_model_binary(&[0xff, 0xfe], 0, &mut out).is_err());
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn receive_model_binary(&mut self, data: &[u8], now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        match std::str::from_utf8(data) {
            Ok(text) => self.receive_model(text, now_ms, out),
            Err(e) => {
                self.tick(now_ms);
                self.leg.counters.malformed_model += 1;
                Err(Error::malformed_by("binary model message is not UTF-8 text", e))
            }
        }
    }

    /// The application decided the caller is talking over the agent (its
    /// own detector, a button): a barge-in as described in the module docs.
    pub fn barge_in(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let now = self.tick(now_ms);
        self.interrupt(now, Cause::Application, out);
    }

    /// Whether the agent is paused on a caller's sound (see
    /// [`CallConfig::resume_false_interruptions`]).
    pub fn paused(&self) -> bool {
        self.leg.paused().is_some()
    }

    /// The output of tool call `call_id` (what the model reads; an error
    /// text it can speak about is fine). Sends it, then asks for the next
    /// response once every pending call of the turn is answered and no
    /// response is in progress.
    pub fn tool_result(
        &mut self,
        call_id: &str,
        output: &str,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), Error> {
        self.tick(now_ms);
        let Some(i) = self.pending_tools.iter().position(|c| c == call_id) else {
            return Err(Error::UnknownToolCall { call_id: call_id.to_owned() });
        };
        self.pending_tools.remove(i);
        out.push(Output::Model(self.model.tool_output(call_id, output)));
        self.want_response = true;
        self.maybe_respond(out);
        Ok(())
    }

    // ---- state transitions ------------------------------------------

    fn on_phone(&mut self, ev: PhoneEvent<'_>, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        // A start in another format than assumed: the model side's
        // converter is made first, so a start that fails changes nothing.
        let up = match &ev {
            PhoneEvent::Start { format, .. } if self.leg.stream().is_none() => {
                let format = self.leg.start_format(*format);
                let model_in = self.model.formats().0;
                (format != self.up.from()).then(|| Converter::new(format, model_in, self.cfg.quality)).transpose()?
            }
            _ => None,
        };
        match self.leg.receive(ev, now, out)? {
            Received::Nothing => {}
            Received::Started => {
                if let Some(up) = up {
                    self.up = up;
                }
            }
            Received::Audio { chunks, b64 } => {
                for i in 0..chunks {
                    self.inbound(i, b64.as_deref(), now, out)?;
                }
            }
        }
        // The caller hung up: a pause ends with nothing resumed.
        if self.leg.stopped() {
            self.leg.end_pause(now);
        }
        Ok(())
    }

    /// Caller audio chunk `i`, in order: to the model (or held), and to the
    /// local VAD.
    fn inbound(&mut self, i: usize, b64: Option<&str>, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        // The VAD first: it decodes the chunk once, for the converter too.
        let onset = self.leg.onset(i, now)?;
        let bytes = self.leg.chunk(i);
        let mut n = bytes.len() / self.up.from().width();
        let mut text = String::new();
        let cancelled = if self.cfg.echo_cancel_to_model { self.leg.cancelled() } else { None };
        match b64 {
            // The cancelled audio (a partial frame waits for the next
            // chunk): to the converter as PCM where it takes PCM, else in
            // the phone's format.
            _ if cancelled.is_some() => {
                let pcm = cancelled.expect("matched");
                n = pcm.len();
                if n > 0 {
                    self.cancelled.clear();
                    convert::encode(self.up.from(), pcm, &mut self.cancelled);
                    self.converted.clear();
                    self.up.process_decoded(&self.cancelled, pcm, &mut self.converted)?;
                    self.b64.clear();
                    B64.encode_append(&self.converted, &mut self.b64);
                    self.model.append(&self.b64, &mut text);
                }
            }
            // Passed through: the phone's base64 is the model's.
            Some(b64) if self.up.passthrough() => self.model.append(b64, &mut text),
            _ => {
                self.converted.clear();
                match self.leg.decoded() {
                    Some(pcm) => self.up.process_decoded(bytes, pcm, &mut self.converted)?,
                    None => self.up.process(bytes, &mut self.converted)?,
                }
                self.b64.clear();
                B64.encode_append(&self.converted, &mut self.b64);
                self.model.append(&self.b64, &mut text);
            }
        }
        match &mut self.held {
            // No whole frame out of the canceller yet: nothing to append.
            _ if text.is_empty() => {}
            None => out.push(Output::Model(text)),
            Some(held) => {
                // Bounded by audio time, not by message count: a message may
                // carry more than one frame.
                let cap = self.cfg.hold_ms as usize * self.up.from().rate() as usize / 1000;
                if n > cap {
                    self.leg.counters.inbound_dropped += 1;
                } else {
                    while self.held_samples + n > cap {
                        let (m, _) = held.pop_front().expect("held_samples counts what is held");
                        self.held_samples -= m;
                        self.leg.counters.inbound_dropped += 1;
                    }
                    held.push_back((n, text));
                    self.held_samples += n;
                }
            }
        }
        if onset && self.interruptible(now) {
            self.onset(now, Cause::Vad, out);
        } else if onset {
            // The caller starts a turn of their own (nothing playing): the
            // next committed turn is theirs, not a backchannel's.
            self.resumed_turn = None;
        }
        self.decide(now, out);
        Ok(())
    }

    /// The caller's sound over the agent: a barge-in at once, or with
    /// `resume_false_interruptions` a pause (the barge-in where a pause
    /// cannot be resumed).
    fn onset(&mut self, now: u64, cause: Cause, out: &mut Vec<Output>) {
        if !self.leg.pause(now, cause, self.response.is_some(), out) {
            self.interrupt(now, cause, out);
        }
    }

    /// A pause's end, decided on the caller's audio (see [`PhoneLeg::decide`]).
    fn decide(&mut self, now: u64, out: &mut Vec<Output>) {
        let was = self.leg.paused().is_some();
        match self.leg.decide(now, out) {
            Some(cause) => self.interrupt(now, cause, out),
            None if was && self.leg.paused().is_none() => self.resumed_turn = Some(now),
            None => {}
        }
    }

    fn on_model(&mut self, text: &str, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        for ev in self.model.parse(text)? {
            self.on_model_event(ev, now, out)?;
        }
        Ok(())
    }

    fn on_model_event(&mut self, ev: ModelEvent<'_>, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        match ev {
            ModelEvent::AudioDelta { item_id, response_id, delta } => {
                let item_id = item_id.ok_or_else(|| Error::malformed("model audio delta without item_id"))?;
                self.on_delta(&item_id, response_id.as_deref(), &delta, now, out)?
            }
            ModelEvent::AudioDone { item_id } => self.leg.done(&item_id, now, out),
            ModelEvent::ItemAdded { item_id, response_id } => {
                let cancelled = response_id.as_deref().is_some_and(|r| self.cancelled_responses.contains(r));
                if !cancelled && !self.leg.outbound.interrupted(&item_id) {
                    self.leg.outbound.announce(&item_id, response_id.as_deref());
                }
            }
            ModelEvent::ResponseCreated { response_id } => {
                // A new turn while paused: the sound was an interruption.
                if self.leg.paused().is_some() {
                    self.interrupt(now, Cause::Model, out);
                }
                self.response = Some(response_id.unwrap_or_default())
            }
            ModelEvent::ResponseDone { .. } => {
                self.leg.all_done(now, out);
                self.response = None;
                self.maybe_respond(out);
            }
            // With resume_false_interruptions the engine decides on its own
            // VAD (the server's `interrupt_response` is off).
            ModelEvent::SpeechStarted if self.cfg.resume_false_interruptions => {}
            ModelEvent::SpeechStarted => self.interrupt(now, Cause::Model, out),
            ModelEvent::InputCommitted { item_id } if self.cfg.resume_false_interruptions => {
                // The server ended a caller turn and, by our settings, does
                // not answer it: a backchannel that resumed is deleted; a
                // real turn commits a pause still on, and is answered.
                if self.leg.paused().is_some() {
                    self.interrupt(now, Cause::Model, out);
                }
                let backchannel = self.resumed_turn.take().is_some_and(|at| now - at <= RESUMED_TURN_MS);
                if backchannel {
                    if let Some(id) = item_id {
                        out.extend(self.model.delete(&id).map(Output::Model));
                    }
                } else {
                    self.want_response = true;
                    self.maybe_respond(out);
                }
            }
            ModelEvent::InputCommitted { .. } => {}
            ModelEvent::SessionUpdated => self.model_ready = true,
            ModelEvent::ToolCall { call_id, name, arguments } => {
                self.pending_tools.push(call_id.clone());
                out.push(Output::Event(Event::ToolCall { call_id, name, arguments }));
            }
            ModelEvent::Error { code, message } => {
                self.leg.counters.model_errors += 1;
                out.push(Output::Event(Event::ModelError { code, message }));
            }
            ModelEvent::Reply(text) => out.push(Output::Model(text)),
            ModelEvent::Other => {}
            ModelEvent::Unknown(kind) => {
                self.leg.counters.unknown_model += 1;
                out.push(Output::Event(Event::Unknown { peer: "model", kind: kind.into_owned() }));
            }
        }
        Ok(())
    }

    fn on_delta(
        &mut self,
        item_id: &str,
        response_id: Option<&str>,
        delta: &str,
        now: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), Error> {
        // Decode and check first: a bad delta changes nothing.
        self.bytes.clear();
        b64_decode("model audio delta is not valid base64", delta, &mut self.bytes)?;
        self.leg.outbound.check(&self.bytes, "model PCM16 delta has an odd byte count")?;
        let cancelled = response_id.is_some_and(|r| self.cancelled_responses.contains(r));
        if cancelled || !self.leg.accepts(item_id) {
            self.leg.counters.deltas_dropped += 1;
            return Ok(());
        }
        self.leg.audio(item_id, response_id, &self.bytes, now, out)
    }

    /// Whether a barge-in at `now` would interrupt anything.
    fn interruptible(&self, now: u64) -> bool {
        self.response.is_some() || self.leg.outbound.unheard(now)
    }

    fn interrupt(&mut self, now: u64, cause: Cause, out: &mut Vec<Output>) {
        // A commit: the turn is the caller's, not a backchannel.
        let paused_ms = self.leg.end_pause(now);
        self.resumed_turn = None;
        let cuts = self.leg.interrupt(now, out);
        let mut interrupted = false;
        if let Some(r) = self.response.take() {
            out.extend(self.model.cancel().map(Output::Model));
            if !r.is_empty() {
                self.cancelled_responses.insert(&r);
            }
            interrupted = true;
        }
        // Each item not wholly heard is cut at what was heard (deleted if
        // nothing was), and later deltas of it and of its response dropped.
        let mut items = Vec::with_capacity(cuts.len());
        for c in cuts {
            let msg = if c.heard.heard_ms == 0 {
                self.model.delete(&c.heard.item_id)
            } else {
                self.model.truncate(&c.heard.item_id, c.heard.heard_ms)
            };
            out.extend(msg.map(Output::Model));
            if let Some(r) = &c.response_id {
                self.cancelled_responses.insert(r);
            }
            items.push(c.heard);
        }
        interrupted |= !items.is_empty();
        if interrupted {
            self.leg.counters.barge_ins += 1;
            out.push(Output::Event(Event::BargeIn { at_ms: now, cause, items, paused_ms }));
        }
    }

    fn maybe_respond(&mut self, out: &mut Vec<Output>) {
        if self.want_response && self.pending_tools.is_empty() && self.response.is_none() {
            self.want_response = false;
            out.extend(self.model.response_create().map(Output::Model));
        }
    }
}
