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
mod convert;
pub mod elevenlabs;
pub mod exotel;
pub mod gemini;
pub mod openai;
mod outbound;
pub mod pipeline;
pub mod playout;
pub mod plivo;
mod reorder;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

use std::borrow::Cow;
use std::collections::VecDeque;

use base64_simd::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize};

use crate::bridge::{Api, Audio};
use crate::error::Error;
pub use crate::frame::Format;
use crate::resample::Quality;
use barge::LocalBarge;
pub use barge::SPEECH_SPANS;
use convert::Converter;
pub use outbound::REMEMBERED;
use outbound::{Outbound, Recent};
pub use pipeline::{Pipeline, PipelineConfig};
use playout::MarkEcho;
use reorder::Reorder;

/// The phone side's frame: 20 ms, whatever the codec and rate.
const FRAME_MS: u64 = 20;

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
    /// The phone side's protocol: `"twilio"`, `"telnyx"`, `"plivo"`,
    /// `"vonage"`, `"exotel"` or `"signalwire"`.
    #[serde(deserialize_with = "by_name")]
    pub telephony: Telephony,
    /// The model API: `"openai"`, `"azure"`, `"gemini"` or `"elevenlabs"`.
    #[serde(deserialize_with = "by_name")]
    pub model: ModelApi,
    /// OpenAI event names: `"ga"` or `"beta"`.
    #[serde(deserialize_with = "by_name")]
    pub api: Api,
    /// Audio on the model side: `"pcm24k"` (PCM16 at 24 kHz), `"pcm16k"`
    /// (ElevenLabs `pcm_16000`), `"pcmu"` or `"pcma"` (G.711 at 8 kHz).
    /// Whatever differs from the phone's codec and rate is converted here.
    /// Gemini Live's formats are fixed (16 kHz in, 24 kHz out).
    #[serde(deserialize_with = "by_name")]
    pub audio: Audio,
    /// Resampler preset for the PCM path.
    #[serde(deserialize_with = "by_name")]
    pub quality: Quality,
    /// The model, where the API names it in the session rather than the
    /// URL (Gemini's `setup.model`; default [`gemini::DEFAULT_MODEL`]).
    pub model_id: Option<String>,
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
            telephony: Telephony::Twilio,
            model: ModelApi::OpenAi,
            api: Api::Ga,
            audio: Audio::Pcm24k,
            quality: Quality::default(),
            model_id: None,
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

/// The telephony protocols teledsp speaks (see each adapter's module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Telephony {
    /// [`twilio`]: Twilio Media Streams.
    #[default]
    Twilio,
    /// [`telnyx`]: Telnyx media streaming, bidirectional RTP mode.
    Telnyx,
    /// [`plivo`]: Plivo audio streams.
    Plivo,
    /// [`vonage`]: the Vonage Voice API's WebSocket endpoint.
    Vonage,
    /// [`exotel`]: the Exotel Voicebot applet.
    Exotel,
    /// SignalWire's Twilio-compatible `<Stream>` ([`twilio::Twilio::signalwire`]).
    SignalWire,
}

impl Telephony {
    /// Every protocol.
    pub const ALL: [Telephony; 6] = [
        Telephony::Twilio,
        Telephony::Telnyx,
        Telephony::Plivo,
        Telephony::Vonage,
        Telephony::Exotel,
        Telephony::SignalWire,
    ];

    /// The name as the config and the relay's `--telephony` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Telephony::Twilio => "twilio",
            Telephony::Telnyx => "telnyx",
            Telephony::Plivo => "plivo",
            Telephony::Vonage => "vonage",
            Telephony::Exotel => "exotel",
            Telephony::SignalWire => "signalwire",
        }
    }

    /// A fresh adapter for one call.
    pub fn adapter(self) -> Box<dyn PhoneAdapter> {
        match self {
            Telephony::Twilio => Box::new(twilio::Twilio::new()),
            Telephony::Telnyx => Box::new(telnyx::Telnyx::new()),
            Telephony::Plivo => Box::new(plivo::Plivo::new()),
            Telephony::Vonage => Box::new(vonage::Vonage::new()),
            Telephony::Exotel => Box::new(exotel::Exotel::new()),
            Telephony::SignalWire => Box::new(twilio::Twilio::signalwire()),
        }
    }
}

impl core::str::FromStr for Telephony {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Telephony::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| Error::UnknownName {
            setting: "telephony",
            expected: "twilio, telnyx, plivo, vonage, exotel, signalwire",
            actual: s.to_owned(),
        })
    }
}

/// The speech-to-speech model APIs teledsp speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelApi {
    /// [`openai`]: OpenAI Realtime, GA or beta.
    #[default]
    OpenAi,
    /// Azure OpenAI Realtime: OpenAI's events on a deployment URL.
    Azure,
    /// [`gemini`]: Gemini Live.
    Gemini,
    /// [`elevenlabs`]: ElevenLabs Agents.
    ElevenLabs,
}

impl ModelApi {
    /// Every API.
    pub const ALL: [ModelApi; 4] = [ModelApi::OpenAi, ModelApi::Azure, ModelApi::Gemini, ModelApi::ElevenLabs];

    /// The name as the config and the relay's `--model` spell it.
    pub fn name(self) -> &'static str {
        match self {
            ModelApi::OpenAi => "openai",
            ModelApi::Azure => "azure",
            ModelApi::Gemini => "gemini",
            ModelApi::ElevenLabs => "elevenlabs",
        }
    }

    /// A fresh adapter for one call set up with `cfg`; an error if the API
    /// cannot take `cfg.audio`.
    pub fn adapter(self, cfg: &CallConfig) -> Result<Box<dyn ModelAdapter>, Error> {
        Ok(match self {
            ModelApi::OpenAi => Box::new(openai::OpenAi::with_audio(cfg.api, cfg.audio)?),
            ModelApi::Azure => Box::new(openai::OpenAi::azure(cfg.api, cfg.audio)?),
            ModelApi::Gemini => Box::new(gemini::Gemini::new(cfg)?),
            ModelApi::ElevenLabs => Box::new(elevenlabs::ElevenLabs::new(cfg.audio)?),
        })
    }
}

impl core::str::FromStr for ModelApi {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ModelApi::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| Error::UnknownName {
            setting: "model API",
            expected: "openai, azure, gemini, elevenlabs",
            actual: s.to_owned(),
        })
    }
}

/// Caller audio in a phone message.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<'a> {
    /// Base64 text (JSON protocols).
    Base64(Cow<'a, str>),
    /// The bytes themselves (a binary WebSocket message: Vonage).
    Raw(&'a [u8]),
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
        /// The stream's audio both ways, if the message says (else the
        /// adapter's default).
        format: Option<Format>,
    },
    /// Caller audio in the stream's format.
    Media {
        /// The audio.
        payload: Payload<'a>,
        /// Its place in the stream, where the protocol numbers chunks and
        /// does not promise their order (Telnyx): the engine reorders.
        seq: Option<u64>,
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
    /// A documented message that needs nothing done (Twilio `connected`,
    /// Plivo `clearedAudio`).
    Other,
    /// A message the adapter does not know, by its type (counted in
    /// [`Counters::unknown_phone`] and told as [`Event::Unknown`]).
    Unknown(Cow<'a, str>),
}

/// A telephony protocol: parses its messages and writes its replies. It
/// makes no DSP or timing decisions: the engine converts and frames audio
/// to the format the adapter reports and keeps the playout timeline.
pub trait PhoneAdapter: Send + Sync + core::fmt::Debug {
    /// The protocol's name, for messages.
    fn name(&self) -> &'static str;
    /// The stream's audio until its start message says otherwise.
    fn default_format(&self) -> Format {
        Format::Ulaw
    }
    /// One text message from the phone.
    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error>;
    /// One binary message from the phone (only Vonage sends them).
    fn parse_binary<'a>(&self, data: &'a [u8]) -> Result<PhoneEvent<'a>, Error> {
        let _ = data;
        Err(Error::malformed_by("binary phone message", format_args!("{} sends text messages only", self.name())))
    }
    /// The stream replies go to, and its audio format.
    fn set_stream(&mut self, stream_id: &str, format: Format);
    /// Duration of each outbound audio message in `format`, ms: a
    /// multiple of 20.
    fn chunk_ms(&self, format: Format) -> u32 {
        let _ = format;
        20
    }
    /// One outbound audio message: [`chunk_ms`](Self::chunk_ms) of audio
    /// in the stream's format.
    fn media(&self, chunk: &[u8]) -> Output;
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
    /// The protocol wants this sent back to the model now (ElevenLabs
    /// `pong` to its `ping`).
    Reply(String),
    /// The model reported an error.
    Error {
        /// Its code, if any.
        code: Option<String>,
        /// Its message.
        message: String,
    },
    /// A documented event that needs nothing done (OpenAI `session.created`).
    Other,
    /// An event the adapter does not know, by its type (counted in
    /// [`Counters::unknown_model`] and told as [`Event::Unknown`]).
    Unknown(Cow<'a, str>),
}

/// The events of one model message: most carry one, a Gemini
/// `serverContent` may carry several (inline, no allocation, up to 2).
pub type ModelEvents<'a> = smallvec::SmallVec<[ModelEvent<'a>; 2]>;

/// A speech-to-speech model API: parses its events and writes its requests.
/// Where the API has no such request (Gemini has no truncate), the writer
/// returns `None` and the engine sends nothing; the module docs of each
/// adapter say what that means for what the model believes was heard.
pub trait ModelAdapter: Send + Sync + core::fmt::Debug {
    /// The API's name, for messages.
    fn name(&self) -> &'static str;
    /// Audio formats: (caller audio to the model, the model's audio).
    fn formats(&self) -> (Format, Format);
    /// One event from the model. Adapters whose API has no item or
    /// response ids (Gemini, ElevenLabs) number the turns themselves.
    fn parse<'a>(&mut self, text: &'a str) -> Result<ModelEvents<'a>, Error>;
    /// The session settings, sent first.
    fn session_update(&self, cfg: &CallConfig) -> String;
    /// Appends a caller-audio message (base64 in the session's format) to `out`.
    fn append(&self, audio_b64: &str, out: &mut String);
    /// Cut an item's audio (and transcript) at `audio_end_ms`.
    fn truncate(&self, item_id: &str, audio_end_ms: u64) -> Option<String>;
    /// Remove an item the caller never heard.
    fn delete(&self, item_id: &str) -> Option<String>;
    /// Stop the response in progress.
    fn cancel(&self) -> Option<String>;
    /// A function call's output.
    fn tool_output(&mut self, call_id: &str, output: &str) -> String;
    /// Ask for the next response (after tool outputs).
    fn response_create(&self) -> Option<String>;
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
    /// Send these bytes to the phone as one binary message (Vonage audio).
    PhoneBinary(Vec<u8>),
    /// Send this text to the model.
    Model(String),
    /// Caller audio for a speech recogniser, as the phone sent it (8 kHz
    /// mu-law from Twilio) ([`Pipeline`] only; [`Call`] sends it to the
    /// model itself).
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
    /// A message of a type the adapter does not know arrived: nothing was
    /// done with it. A relay logs these (rate-limited): a provider may have
    /// added or renamed a message.
    Unknown {
        /// `"phone"` or `"model"`.
        peer: &'static str,
        /// The message's type as it was spelled.
        kind: String,
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
    /// Phone audio that arrived after later audio had been passed on
    /// (Telnyx numbers its chunks), dropped.
    pub frames_late: u64,
    /// Phone audio chunks that never arrived (a gap the reorder window
    /// gave up on).
    pub frames_missing: u64,
    /// Phone messages of a type the adapter does not know.
    pub unknown_phone: u64,
    /// Model messages of a type the adapter does not know.
    pub unknown_model: u64,
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
    /// with its length in phone samples.
    held: Option<VecDeque<(usize, String)>>,
    /// Samples in `held`.
    held_samples: usize,
    /// The model confirmed the session (see [`Call::model_ready`]).
    model_ready: bool,
    /// Caller audio: the phone's format -> the model's.
    up: Converter,
    /// Telnyx-style numbered chunks back in order.
    reorder: Reorder,
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
    converted: Vec<u8>,
    b64: String,
}

impl Call {
    /// A call over the config's `telephony` and `model` (by default
    /// Twilio <-> OpenAI).
    pub fn new(cfg: CallConfig) -> Result<Self, Error> {
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
        Ok(Call {
            up: Converter::new(phone_format, model_in, cfg.quality)?,
            reorder: Reorder::default(),
            outbound: Outbound::new(model_out, phone_format, phone.chunk_ms(phone_format), cfg.quality)?,
            vad: if cfg.local_vad { Some(LocalBarge::new(cfg.echo_loss_db, phone_format)?) } else { None },
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
            converted: Vec::new(),
            b64: String::new(),
        })
    }

    /// The phone stream's audio format (the adapter's default until its
    /// start message says).
    pub fn phone_format(&self) -> Format {
        self.up.from()
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
        Counters {
            frames_out: self.outbound.frames_out(),
            frames_late: self.reorder.late,
            frames_missing: self.reorder.missing,
            ..self.counters
        }
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
        let r = self.phone.parse(text).and_then(|ev| self.on_phone(ev, now, out));
        if r.is_err() {
            self.counters.malformed_phone += 1;
        }
        r
    }

    /// One binary message from the phone (Vonage's audio). A malformed
    /// one, or any from a protocol without them, is an error, counted, and
    /// changes nothing.
    pub fn receive_phone_binary(&mut self, data: &[u8], now_ms: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        let now = self.tick(now_ms);
        let r = self.phone.parse_binary(data).and_then(|ev| self.on_phone(ev, now, out));
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
                self.counters.malformed_model += 1;
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
        match ev {
            PhoneEvent::Media { payload, seq } => self.on_media(payload, seq, now, out)?,
            PhoneEvent::Mark { name } => {
                if self.outbound.on_mark(&name, now) == MarkEcho::Stale {
                    self.counters.stale_marks += 1;
                }
            }
            PhoneEvent::Start { stream_id, call_id, custom_parameters, format } => {
                if self.stream.is_some() {
                    return Err(Error::malformed("a second start message on one stream"));
                }
                let format = format.unwrap_or_else(|| self.phone.default_format());
                if format != self.phone_format() {
                    // The stream's codec and rate, known now: nothing has
                    // been converted yet, so the parts start afresh.
                    let (model_in, model_out) = self.model.formats();
                    self.up = Converter::new(format, model_in, self.cfg.quality)?;
                    self.outbound = Outbound::new(model_out, format, self.phone.chunk_ms(format), self.cfg.quality)?;
                    if self.vad.is_some() {
                        self.vad = Some(LocalBarge::new(self.cfg.echo_loss_db, format)?);
                    }
                }
                start_stream(&mut *self.phone, &mut self.stream, stream_id, call_id, custom_parameters, format, out)?
            }
            PhoneEvent::Dtmf { digit } => out.push(Output::Event(Event::Dtmf { digit })),
            PhoneEvent::Stop => {
                if !self.stopped {
                    self.stopped = true;
                    out.push(Output::Event(Event::Stopped));
                }
            }
            PhoneEvent::Other => {}
            PhoneEvent::Unknown(kind) => {
                self.counters.unknown_phone += 1;
                out.push(Output::Event(Event::Unknown { peer: "phone", kind: kind.into_owned() }));
            }
        }
        Ok(())
    }

    fn on_media(
        &mut self,
        payload: Payload<'_>,
        seq: Option<u64>,
        now: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), Error> {
        if self.stream.is_none() {
            // The phone says `start` first; audio before it has no call to
            // belong to, and holding it would be memory for anyone to fill.
            return Err(Error::malformed("phone media before the stream's start message"));
        }
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let b64 = match &payload {
            Payload::Base64(t) => {
                if let Err(e) = b64_decode("phone media payload is not valid base64", t, &mut bytes) {
                    self.bytes = bytes;
                    return Err(e);
                }
                Some(&**t)
            }
            Payload::Raw(b) => {
                bytes.extend_from_slice(b);
                None
            }
        };
        let width = convert::width(self.phone_format());
        let r = if !bytes.len().is_multiple_of(width) {
            Err(Error::malformed_by("phone audio is not whole 16-bit samples", format_args!("{} bytes", bytes.len())))
        } else {
            self.counters.frames_in += 1;
            match seq {
                None => self.inbound(&bytes, b64, now, out),
                Some(seq) => {
                    let mut reorder = std::mem::take(&mut self.reorder);
                    let r = reorder.push(seq, &bytes, |chunk| self.inbound(chunk, None, now, out));
                    self.reorder = reorder;
                    r
                }
            }
        };
        self.bytes = bytes;
        r
    }

    /// Caller audio in order, whole samples of the phone's format: to the
    /// model (or held), and to the local VAD.
    fn inbound(&mut self, bytes: &[u8], b64: Option<&str>, now: u64, out: &mut Vec<Output>) -> Result<(), Error> {
        if bytes.is_empty() {
            // No audio (an empty payload): an empty append is no use to any
            // model API, and some end the stream on one.
            return Ok(());
        }
        let mut text = String::new();
        match b64 {
            // Passed through: the phone's base64 is the model's.
            Some(b64) if self.up.passthrough() => self.model.append(b64, &mut text),
            _ => {
                self.converted.clear();
                self.up.process(bytes, &mut self.converted)?;
                self.b64.clear();
                B64.encode_append(&self.converted, &mut self.b64);
                self.model.append(&self.b64, &mut text);
            }
        }
        let n = bytes.len() / convert::width(self.phone_format());
        match &mut self.held {
            None => out.push(Output::Model(text)),
            Some(held) => {
                // Bounded by audio time, not by message count: a message may
                // carry more than one frame.
                let cap = self.cfg.hold_ms as usize * convert::rate(self.up.from()) as usize / 1000;
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
            Some(vad) => vad.onset(bytes, &self.outbound, now)?,
            None => false,
        };
        if onset && self.interruptible(now) {
            self.interrupt(now, Cause::Vad, out);
        }
        Ok(())
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
            ModelEvent::Reply(text) => out.push(Output::Model(text)),
            ModelEvent::Other => {}
            ModelEvent::Unknown(kind) => {
                self.counters.unknown_model += 1;
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
            out.extend(self.model.cancel().map(Output::Model));
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
            self.counters.barge_ins += 1;
            out.push(Output::Event(Event::BargeIn { at_ms: now, cause, items }));
        }
    }

    fn maybe_respond(&mut self, out: &mut Vec<Output>) {
        if self.want_response && self.pending_tools.is_empty() && self.response.is_none() {
            self.want_response = false;
            out.extend(self.model.response_create().map(Output::Model));
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
    format: Format,
    out: &mut Vec<Output>,
) -> Result<(), Error> {
    if stream.is_some() {
        return Err(Error::malformed("a second start message on one stream"));
    }
    phone.set_stream(&stream_id, format);
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

/// A number that a protocol may send as a JSON number or a string (Telnyx
/// and Exotel send `"chunk": "2"`).
pub(crate) fn num_or_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N<'a> {
        N(u64),
        S(Cow<'a, str>),
    }
    Ok(match Option::<N>::deserialize(d)? {
        None => None,
        Some(N::N(n)) => Some(n),
        Some(N::S(s)) => Some(s.parse().map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number")))?),
    })
}
