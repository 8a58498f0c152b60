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
//! Parts, each with one job:
//! - [`playout`]: what was sent to the phone and what the caller has heard
//!   at any instant, per item (mark names are made and parsed there).
//! - `outbound`: the agent's audio to the phone as exact 20 ms frames with
//!   marks, per item, and what was heard of each on a barge-in.
//! - [`twilio`] and [`openai`]: the first phone and model adapters
//!   ([`PhoneAdapter`], [`ModelAdapter`]); another telephony protocol or
//!   model API is another adapter.
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
pub mod openai;
mod outbound;
pub mod pipeline;
pub mod playout;
pub mod twilio;

use std::borrow::Cow;
use std::collections::VecDeque;

use base64_simd::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize};

use crate::bridge::{Api, Audio};
use crate::error::Error;
use crate::resample::{Quality, Resampler};
use barge::LocalBarge;
pub use outbound::REMEMBERED;
use outbound::{Outbound, Recent, Source};
pub use pipeline::{Pipeline, PipelineConfig};
use playout::MarkEcho;

/// Phone-side frame: 20 ms of G.711 mu-law at 8 kHz.
const FRAME_MS: u64 = 20;
const FRAME_BYTES: usize = 160;

fn by_name<'de, D: Deserializer<'de>, T: core::str::FromStr<Err = Error>>(d: D) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn server_vad() -> serde_json::Value {
    serde_json::json!({"type": "server_vad"})
}

/// What a call is set up with. `CallConfig::from_json` takes the same
/// fields by name (the bindings' keyword arguments), rejecting unknown ones.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallConfig {
    /// OpenAI event names: `"ga"` or `"beta"`.
    #[serde(deserialize_with = "by_name")]
    pub api: Api,
    /// Audio on the model side: `"pcm24k"` (PCM16 at 24 kHz, resampled
    /// here) or `"pcmu"` (G.711 mu-law at 8 kHz, passed through).
    #[serde(deserialize_with = "by_name")]
    pub audio: Audio,
    /// Resampler preset for the PCM path.
    #[serde(deserialize_with = "by_name")]
    pub quality: Quality,
    /// System instructions for the session.
    pub instructions: String,
    /// Output voice.
    pub voice: String,
    /// The session's `tools` array, if any.
    pub tools: Option<serde_json::Value>,
    /// The session's `turn_detection` object, as OpenAI takes it
    /// (`null`: turns are the application's).
    #[serde(default = "server_vad")]
    pub turn_detection: serde_json::Value,
    /// Detect the caller's speech locally too, and barge in on its onset.
    pub local_vad: bool,
    /// The least loss of the line echo, dB: caller audio quieter than the
    /// agent's audio playing minus this is taken for the agent's own echo
    /// and does not barge in locally (0: no guard). G.168 assumes 6 dB.
    pub echo_loss_db: f32,
    /// Inbound audio held while the model connection opens, ms.
    pub hold_ms: u32,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            api: Api::Ga,
            audio: Audio::Pcm24k,
            quality: Quality::default(),
            instructions: "You are a helpful phone agent. Keep answers short.".into(),
            voice: "marin".into(),
            tools: None,
            turn_detection: server_vad(),
            local_vad: false,
            echo_loss_db: 6.0,
            hold_ms: 1000,
        }
    }
}

impl CallConfig {
    /// A config from a JSON object of its fields; missing ones default.
    ///
    /// ```
    /// let c = teledsp::call::CallConfig::from_json(r#"{"audio":"pcmu","local_vad":true}"#)?;
    /// assert!(c.local_vad);
    /// assert!(teledsp::call::CallConfig::from_json(r#"{"local_vda":true}"#).is_err());
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::InvalidConfig(e.to_string()))
    }
}

/// A phone-side message, parsed by a [`PhoneAdapter`].
#[derive(Debug, Clone, PartialEq)]
pub enum PhoneEvent<'a> {
    /// The stream started.
    Start {
        /// The stream's id (Twilio `streamSid`).
        stream_id: String,
        /// The call's id (Twilio `callSid`).
        call_id: Option<String>,
        /// Parameters the call was set up with (TwiML `<Parameter>`s).
        custom_parameters: serde_json::Map<String, serde_json::Value>,
    },
    /// Caller audio: base64 of 8 kHz G.711 mu-law.
    Media {
        /// The base64 text.
        payload: Cow<'a, str>,
    },
    /// The phone played audio up to this mark.
    Mark {
        /// The mark's name.
        name: Cow<'a, str>,
    },
    /// The caller pressed a key.
    Dtmf {
        /// `0`-`9`, `*`, `#`.
        digit: String,
    },
    /// The stream ended.
    Stop,
    /// Anything else (e.g. Twilio `connected`).
    Other,
}

/// A telephony protocol: parses its messages and writes its replies.
pub trait PhoneAdapter: Send + Sync + core::fmt::Debug {
    /// The protocol's name, for messages.
    fn name(&self) -> &'static str;
    /// One message from the phone.
    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error>;
    /// The stream replies go to.
    fn set_stream(&mut self, stream_id: &str);
    /// Appends one outbound audio message (a 20 ms mu-law frame) to `out`.
    fn media(&self, frame: &[u8], out: &mut String);
    /// A playback marker the phone echoes once the audio before it played.
    fn mark(&self, name: &str) -> String;
    /// Drop the phone's queued audio.
    fn clear(&self) -> String;
}

/// A model-side event, parsed by a [`ModelAdapter`].
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent<'a> {
    /// Output audio for an item (base64 in the session's format).
    AudioDelta {
        /// The item (the call engine requires it; the bridge does not).
        item_id: Option<Cow<'a, str>>,
        /// The response it belongs to.
        response_id: Option<Cow<'a, str>>,
        /// Base64 audio.
        delta: Cow<'a, str>,
    },
    /// An item's audio is complete.
    AudioDone {
        /// The item.
        item_id: Cow<'a, str>,
    },
    /// An assistant message item was added to a response (audio may follow).
    ItemAdded {
        /// The item.
        item_id: String,
        /// The response.
        response_id: Option<String>,
    },
    /// A response started.
    ResponseCreated {
        /// Its id.
        response_id: Option<String>,
    },
    /// A response ended (completed, cancelled, failed).
    ResponseDone {
        /// Its id.
        response_id: Option<String>,
    },
    /// The model applied the session settings (OpenAI `session.updated`).
    SessionUpdated,
    /// The model heard the caller start speaking.
    SpeechStarted,
    /// The model called a function.
    ToolCall {
        /// Id to answer with.
        call_id: String,
        /// Function name.
        name: String,
        /// JSON arguments as the model wrote them.
        arguments: String,
    },
    /// The model reported an error.
    Error {
        /// Its code, if any.
        code: Option<String>,
        /// Its message.
        message: String,
    },
    /// Anything else.
    Other,
}

/// A speech-to-speech model API: parses its events and writes its requests.
pub trait ModelAdapter: Send + Sync + core::fmt::Debug {
    /// The API's name, for messages.
    fn name(&self) -> &'static str;
    /// One event from the model.
    fn parse<'a>(&self, text: &'a str) -> Result<ModelEvent<'a>, Error>;
    /// The session settings, sent first.
    fn session_update(&self, cfg: &CallConfig) -> String;
    /// Appends a caller-audio message (base64 in the session's format) to `out`.
    fn append(&self, audio_b64: &str, out: &mut String);
    /// Cut an item's audio (and transcript) at `audio_end_ms`.
    fn truncate(&self, item_id: &str, audio_end_ms: u64) -> String;
    /// Remove an item the caller never heard.
    fn delete(&self, item_id: &str) -> String;
    /// Stop the response in progress.
    fn cancel(&self) -> String;
    /// A function call's output.
    fn tool_output(&self, call_id: &str, output: &str) -> String;
    /// Ask for the next response.
    fn response_create(&self) -> String;
}

/// What a phone message carries, so a relay can treat audio and control
/// differently (e.g. drop audio, never a `clear`, when a queue is full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 20 ms of audio.
    Media,
    /// A playback marker.
    Mark,
    /// Drop queued audio.
    Clear,
}

/// Something to do after an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this text to the phone.
    Phone {
        /// What it is.
        kind: PhoneKind,
        /// The message.
        text: String,
    },
    /// Send this text to the model.
    Model(String),
    /// Caller audio for a speech recogniser: 8 kHz mu-law as the phone sent
    /// it ([`Pipeline`] only; [`Call`] sends it to the model itself).
    CallerAudio(Vec<u8>),
    /// Tell the application.
    Event(Event),
}

/// What started a barge-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The model's `input_audio_buffer.speech_started`.
    Model,
    /// Local VAD onset on the caller's audio.
    Vad,
    /// [`Call::barge_in`].
    Application,
}

/// What the caller heard of an interrupted item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heard {
    /// The item.
    pub item_id: String,
    /// Audio the caller heard, ms (what the model is told).
    pub heard_ms: u64,
    /// Audio sent to the phone, ms (whole 20 ms frames).
    pub sent_ms: u64,
    /// Audio the model generated for it so far, ms.
    pub generated_ms: u64,
    /// `"truncate"` or `"delete"`: what the model was sent.
    pub action: &'static str,
}

/// Events for the application.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The phone stream started.
    Started {
        /// Twilio `streamSid`.
        stream_sid: String,
        /// Twilio `callSid`.
        call_sid: Option<String>,
        /// The TwiML `<Parameter>`s.
        custom_parameters: serde_json::Map<String, serde_json::Value>,
    },
    /// The caller pressed a key.
    Dtmf {
        /// The key.
        digit: String,
    },
    /// The phone stream ended; nothing more goes to the phone.
    Stopped,
    /// The model called a function: answer with [`Call::tool_result`].
    ToolCall {
        /// Id to answer with.
        call_id: String,
        /// Function name.
        name: String,
        /// JSON arguments as the model wrote them.
        arguments: String,
    },
    /// The caller talked over the agent.
    BargeIn {
        /// When, ms.
        at_ms: u64,
        /// What detected it.
        cause: Cause,
        /// The interrupted items and what was heard of each.
        items: Vec<Heard>,
    },
    /// The model sent an `error` event.
    ModelError {
        /// Its code.
        code: Option<String>,
        /// Its message.
        message: String,
    },
}

impl Event {
    /// The event as a JSON object with a `type` field (what the bindings hand out).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

/// Counters a call keeps (a relay's metrics sum them).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Phone audio frames received.
    pub frames_in: u64,
    /// 20 ms frames sent to the phone.
    pub frames_out: u64,
    /// Inbound frames dropped while the model connection opened (beyond `hold_ms`).
    pub inbound_dropped: u64,
    /// Barge-ins that interrupted something.
    pub barge_ins: u64,
    /// Model audio deltas dropped: their item was interrupted, or the phone
    /// stream was not running.
    pub deltas_dropped: u64,
    /// Mark echoes ignored because their audio was cleared.
    pub stale_marks: u64,
    /// `error` events from the model.
    pub model_errors: u64,
    /// Phone messages skipped as malformed.
    pub malformed_phone: u64,
    /// Model events skipped as malformed.
    pub malformed_model: u64,
}

/// The phone stream's identity, from its start message.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Twilio `streamSid`.
    pub stream_sid: String,
    /// Twilio `callSid`.
    pub call_sid: Option<String>,
    /// The TwiML `<Parameter>`s.
    pub custom_parameters: serde_json::Map<String, serde_json::Value>,
}

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
    phone: Box<dyn PhoneAdapter>,
    model: Box<dyn ModelAdapter>,
    stream: Option<Stream>,
    stopped: bool,
    /// `None` once the model is open; before, inbound appends held, each
    /// with its length in 8 kHz samples.
    held: Option<VecDeque<(usize, String)>>,
    /// Samples in `held`.
    held_samples: usize,
    /// The model confirmed the session (see [`Call::model_ready`]).
    model_ready: bool,
    /// Inbound 8 kHz -> model rate.
    up: Resampler,
    vad: Option<LocalBarge>,
    /// The model's audio to the phone, and what the caller heard of it.
    outbound: Outbound,
    /// The response in progress (its id, or empty).
    response: Option<String>,
    cancelled_responses: Recent,
    pending_tools: Vec<String>,
    /// A `response.create` waits for the current response to end.
    want_response: bool,
    counters: Counters,
    now: u64,
    // Scratch, reused across messages.
    bytes: Vec<u8>,
    pcm: Vec<i16>,
    b64: String,
}

impl Call {
    /// A Twilio <-> OpenAI call.
    pub fn new(cfg: CallConfig) -> Result<Self, Error> {
        let model = openai::OpenAi::new(cfg.api);
        Self::with_adapters(cfg, Box::new(twilio::Twilio::new()), Box::new(model))
    }

    /// A call over the given phone and model adapters.
    pub fn with_adapters(
        cfg: CallConfig,
        phone: Box<dyn PhoneAdapter>,
        model: Box<dyn ModelAdapter>,
    ) -> Result<Self, Error> {
        let source = match cfg.audio {
            Audio::Pcmu => Source::Ulaw,
            Audio::Pcm24k => Source::Pcm16(24000),
        };
        Ok(Call {
            up: Resampler::new(8000, source.rate(), cfg.quality)?,
            outbound: Outbound::new(source, cfg.quality)?,
            vad: if cfg.local_vad { Some(LocalBarge::new(cfg.echo_loss_db)?) } else { None },
            cfg,
            phone,
            model,
            stream: None,
            stopped: false,
            held: Some(VecDeque::new()),
            held_samples: 0,
            model_ready: false,
            response: None,
            cancelled_responses: Recent::default(),
            pending_tools: Vec::new(),
            want_response: false,
            counters: Counters::default(),
            now: 0,
            bytes: Vec::new(),
            pcm: Vec::new(),
            b64: String::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &CallConfig {
        &self.cfg
    }
    /// The phone stream, once it started.
    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }
    /// Whether the phone stream ended.
    pub fn stopped(&self) -> bool {
        self.stopped
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
        Counters { frames_out: self.outbound.frames_out(), ..self.counters }
    }
    /// Milliseconds of `item_id` the caller has heard by `now_ms`, if the
    /// item is still tracked (not wholly heard and forgotten, nor interrupted).
    pub fn heard_ms(&self, item_id: &str, now_ms: u64) -> Option<u64> {
        self.outbound.heard_ms(item_id, now_ms.max(self.now))
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
            out.push(Output::Model(self.model.session_update(&self.cfg)));
            out.extend(held.into_iter().map(|(_, text)| Output::Model(text)));
            self.held_samples = 0;
        }
    }

    /// One message from the phone. A malformed one is an error, counted,
    /// and changes nothing.
    pub fn receive_phone(&mut self, text: &str, now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.on_phone(text, now, out);
        if r.is_err() {
            self.counters.malformed_phone += 1;
        }
        r
    }

    /// One event from the model. A malformed one is an error, counted, and
    /// changes nothing.
    pub fn receive_model(&mut self, text: &str, now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.on_model(text, now, out);
        if r.is_err() {
            self.counters.malformed_model += 1;
        }
        r
    }

    /// The application decided the caller is talking over the agent (its
    /// own detector, a button): a barge-in as described in the module docs.
    pub fn barge_in(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let now = self.tick(now_ms);
        self.interrupt(now, Cause::Application, out);
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

    fn on_phone(&mut self, text: &str, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        match self.phone.parse(text)? {
            PhoneEvent::Media { payload } => self.on_media(&payload, now, out)?,
            PhoneEvent::Mark { name } => {
                if self.outbound.on_mark(&name, now) == MarkEcho::Stale {
                    self.counters.stale_marks += 1;
                }
            }
            PhoneEvent::Start { stream_id, call_id, custom_parameters } => {
                start_stream(&mut *self.phone, &mut self.stream, stream_id, call_id, custom_parameters, out)?
            }
            PhoneEvent::Dtmf { digit } => out.push(Output::Event(Event::Dtmf { digit })),
            PhoneEvent::Stop => {
                if !self.stopped {
                    self.stopped = true;
                    out.push(Output::Event(Event::Stopped));
                }
            }
            PhoneEvent::Other => {}
        }
        Ok(())
    }

    fn on_media(&mut self, payload: &str, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        if self.stream.is_none() {
            // The phone says `start` first; audio before it has no call to
            // belong to, and holding it would be memory for anyone to fill.
            return Err(Error::malformed("phone media before the stream's start message"));
        }
        self.bytes.clear();
        b64_decode("phone media payload is not valid base64", payload, &mut self.bytes)?;
        self.counters.frames_in += 1;
        let mut text = String::new();
        match self.cfg.audio {
            Audio::Pcmu => self.model.append(payload, &mut text),
            Audio::Pcm24k => {
                self.pcm.resize(self.up.output_len(self.bytes.len()), 0);
                let n = self.up.process_from_ulaw(&self.bytes, &mut self.pcm)?;
                self.b64.clear();
                B64.encode_append(bytemuck::cast_slice::<i16, u8>(&self.pcm[..n]), &mut self.b64);
                self.model.append(&self.b64, &mut text);
            }
        }
        match &mut self.held {
            None => out.push(Output::Model(text)),
            Some(held) => {
                // Bounded by audio time, not by message count: a message may
                // carry more than one frame.
                let cap = self.cfg.hold_ms as usize * 8;
                let n = self.bytes.len();
                if n > cap {
                    self.counters.inbound_dropped += 1;
                } else {
                    while self.held_samples + n > cap {
                        let (m, _) = held.pop_front().expect("held_samples counts what is held");
                        self.held_samples -= m;
                        self.counters.inbound_dropped += 1;
                    }
                    held.push_back((n, text));
                    self.held_samples += n;
                }
            }
        }
        let onset = match &mut self.vad {
            Some(vad) => vad.onset(&self.bytes, &self.outbound, now)?,
            None => false,
        };
        if onset && self.interruptible(now) {
            self.interrupt(now, Cause::Vad, out);
        }
        Ok(())
    }

    fn on_model(&mut self, text: &str, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        match self.model.parse(text)? {
            ModelEvent::AudioDelta { item_id, response_id, delta } => {
                let item_id = item_id.ok_or_else(|| Error::malformed("model audio delta without item_id"))?;
                self.on_delta(&item_id, response_id.as_deref(), &delta, now, out)?
            }
            ModelEvent::AudioDone { item_id } => self.outbound.done(&*self.phone, &item_id, !self.stopped, now, out),
            ModelEvent::ItemAdded { item_id, response_id } => {
                let cancelled = response_id.as_deref().is_some_and(|r| self.cancelled_responses.contains(r));
                if !cancelled && !self.outbound.interrupted(&item_id) {
                    self.outbound.announce(&item_id, response_id.as_deref());
                }
            }
            ModelEvent::ResponseCreated { response_id } => self.response = Some(response_id.unwrap_or_default()),
            ModelEvent::ResponseDone { .. } => {
                self.outbound.all_done(&*self.phone, !self.stopped, now, out);
                self.response = None;
                self.maybe_respond(out);
            }
            ModelEvent::SpeechStarted => self.interrupt(now, Cause::Model, out),
            ModelEvent::SessionUpdated => self.model_ready = true,
            ModelEvent::ToolCall { call_id, name, arguments } => {
                self.pending_tools.push(call_id.clone());
                out.push(Output::Event(Event::ToolCall { call_id, name, arguments }));
            }
            ModelEvent::Error { code, message } => {
                self.counters.model_errors += 1;
                out.push(Output::Event(Event::ModelError { code, message }));
            }
            ModelEvent::Other => {}
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
        self.outbound.check(&self.bytes, "model PCM16 delta has an odd byte count")?;
        let interrupted =
            self.outbound.interrupted(item_id) || response_id.is_some_and(|r| self.cancelled_responses.contains(r));
        if interrupted || self.stream.is_none() || self.stopped {
            self.counters.deltas_dropped += 1;
            return Ok(());
        }
        self.outbound.audio(&*self.phone, item_id, response_id, &self.bytes, now, out)
    }

    /// Whether a barge-in at `now` would interrupt anything.
    fn interruptible(&self, now: u64) -> bool {
        self.response.is_some() || self.outbound.unheard(now)
    }

    fn interrupt(&mut self, now: u64, cause: Cause, out: &mut Vec<Output>) {
        if !self.stopped && self.stream.is_some() {
            out.push(Output::Phone { kind: PhoneKind::Clear, text: self.phone.clear() });
        }
        let mut interrupted = false;
        if let Some(r) = self.response.take() {
            out.push(Output::Model(self.model.cancel()));
            if !r.is_empty() {
                self.cancelled_responses.insert(&r);
            }
            interrupted = true;
        }
        // Each item not wholly heard is cut at what was heard (deleted if
        // nothing was), and later deltas of it and of its response dropped.
        let cuts = self.outbound.interrupt(now);
        let mut items = Vec::with_capacity(cuts.len());
        for c in cuts {
            out.push(Output::Model(if c.heard.heard_ms == 0 {
                self.model.delete(&c.heard.item_id)
            } else {
                self.model.truncate(&c.heard.item_id, c.heard.heard_ms)
            }));
            if let Some(r) = &c.response_id {
                self.cancelled_responses.insert(r);
            }
            items.push(c.heard);
        }
        interrupted |= !items.is_empty();
        if interrupted {
            self.counters.barge_ins += 1;
            out.push(Output::Event(Event::BargeIn { at_ms: now, cause, items }));
        }
    }

    fn maybe_respond(&mut self, out: &mut Vec<Output>) {
        if self.want_response && self.pending_tools.is_empty() && self.response.is_none() {
            self.want_response = false;
            out.push(Output::Model(self.model.response_create()));
        }
    }
}

/// The phone stream started: replies go to it, and the application hears of it.
fn start_stream(
    phone: &mut dyn PhoneAdapter,
    stream: &mut Option<Stream>,
    stream_id: String,
    call_id: Option<String>,
    custom_parameters: serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<Output>,
) -> Result<(), Error> {
    if stream.is_some() {
        return Err(Error::malformed("a second start message on one stream"));
    }
    phone.set_stream(&stream_id);
    out.push(Output::Event(Event::Started {
        stream_sid: stream_id.clone(),
        call_sid: call_id.clone(),
        custom_parameters: custom_parameters.clone(),
    }));
    *stream = Some(Stream { stream_sid: stream_id, call_sid: call_id, custom_parameters });
    Ok(())
}

/// Decodes base64 onto the end of `out`; on failure, where the text stops
/// being base64 (the SIMD decoder only says "invalid").
pub(crate) fn b64_decode(what: &'static str, text: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    B64.decode_append(text.as_bytes(), out).map_err(|_| Error::malformed_by(what, b64_problem(text.as_bytes())))
}

/// Why `b` is not standard padded base64: the first byte outside the
/// alphabet, padding before the end, or a length that is not a multiple of 4.
fn b64_problem(b: &[u8]) -> String {
    let symbol = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    if let Some(i) = b.iter().position(|&c| !symbol(c) && c != b'=') {
        return format!("invalid symbol {} at offset {i}", b[i]);
    }
    if let Some(i) = b.iter().position(|&c| c == b'=')
        && (b.len() - i > 2 || b[i..].iter().any(|&c| c != b'='))
    {
        return format!("padding at offset {i}, before the end");
    }
    if !b.len().is_multiple_of(4) {
        return format!("{} symbols, not a multiple of 4", b.len());
    }
    "non-zero bits after the last symbol".to_owned()
}
