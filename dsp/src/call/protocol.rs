//! The protocol layer's vocabulary: what a model session is set up with
//! ([`Session`], [`ModelAudio`], [`RealtimeVersion`]), what a phone or model message means
//! ([`PhoneEvent`], [`ModelEvent`]), the two adapter traits that parse and
//! write them, what the engine asks a relay to do ([`Output`]), and the
//! wire helpers the adapters share (base64 with a reason on failure, the
//! Twilio-style `media`/`mark`/`dtmf` bodies four protocols use).

use std::borrow::Cow;

use base64_simd::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize};

use super::events::Event;
use crate::error::Error;
use crate::frame::Format;

/// The session content a [`ModelAdapter`] writes in its own API's shape:
/// the part of [`CallConfig`] that every model API takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session<'a> {
    /// System instructions.
    pub instructions: &'a str,
    /// Output voice.
    pub voice: &'a str,
    /// The `tools` array (OpenAI's shape), if any.
    pub tools: Option<&'a serde_json::Value>,
    /// OpenAI's `turn_detection` object (`null`: turns are the application's).
    pub turn_detection: &'a serde_json::Value,
}

/// Which OpenAI Realtime interface to speak: its event names and session
/// shape differ (formerly `bridge::Api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RealtimeVersion {
    /// The GA interface (`response.output_audio.delta`).
    #[default]
    Ga,
    /// The beta interface (`response.audio.delta`).
    Beta,
}

impl core::str::FromStr for RealtimeVersion {
    type Err = Error;
    /// `"ga"` or `"beta"`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "ga" => Ok(RealtimeVersion::Ga),
            "beta" => Ok(RealtimeVersion::Beta),
            _ => Err(Error::UnknownName { setting: "OpenAI Realtime API", expected: "ga, beta", actual: s.to_owned() }),
        }
    }
}

/// The audio format on the model side of a call (formerly `bridge::Audio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelAudio {
    /// PCM16 at 24 kHz, transcoded here (`audio/pcm`).
    #[default]
    Pcm24k,
    /// G.711 mu-law at 8 kHz passed through (`audio/pcmu`).
    Pcmu,
    /// G.711 A-law at 8 kHz (`audio/pcma`; the call engine only).
    Pcma,
    /// PCM16 at 16 kHz (ElevenLabs `pcm_16000`; the call engine only).
    Pcm16k,
}

impl core::str::FromStr for ModelAudio {
    type Err = Error;
    /// Our names (`pcm24k`, `pcmu`) or OpenAI's (GA `audio/pcm`, `audio/pcmu`;
    /// beta `pcm16`, `g711_ulaw`).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "pcm24k" | "audio/pcm" | "pcm16" => Ok(ModelAudio::Pcm24k),
            "pcmu" | "audio/pcmu" | "g711_ulaw" | "ulaw_8000" => Ok(ModelAudio::Pcmu),
            "pcma" | "audio/pcma" | "g711_alaw" => Ok(ModelAudio::Pcma),
            "pcm16k" | "pcm_16000" => Ok(ModelAudio::Pcm16k),
            _ => Err(Error::UnknownName {
                setting: "model audio format",
                expected: "pcm24k (audio/pcm, pcm16), pcm16k (pcm_16000), pcmu (audio/pcmu, g711_ulaw, ulaw_8000), pcma (audio/pcma, g711_alaw)",
                actual: s.to_owned(),
            }),
        }
    }
}

/// The phone side's frame: 20 ms, whatever the codec and rate.
pub(crate) const FRAME_MS: u64 = 20;

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
    /// [`Counters::unknown_phone`](super::Counters::unknown_phone) and told as [`Event::Unknown`]).
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
    fn media(&self, chunk: &[u8]) -> Message;
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
    /// The model's turn detection ended a caller turn: its audio is now
    /// input item `item_id` (OpenAI `input_audio_buffer.committed`).
    InputCommitted {
        /// The user item made of it.
        item_id: Option<String>,
    },
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
    /// [`Counters::unknown_model`](super::Counters::unknown_model) and told as [`Event::Unknown`]).
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
    fn session_update(&self, session: &Session<'_>) -> String;
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

/// One WebSocket message to a peer, as its protocol frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message (Vonage's audio).
    Binary(Vec<u8>),
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
    /// mu-law from Twilio) ([`Pipeline`](super::Pipeline) only; [`Call`](super::Call) sends it to the
    /// model itself).
    CallerAudio(Vec<u8>),
    /// Tell the application.
    Event(Event),
}

// ---- wire helpers shared by the adapters ----------------------------

// `media`, `mark` and `dtmf` bodies are shaped alike in the Twilio-style
// protocols (Twilio, SignalWire, Telnyx, Exotel), which share these.
#[derive(Deserialize)]
pub(crate) struct Media<'a> {
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(crate) struct Mark<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(crate) struct Dtmf {
    pub digit: String,
}

/// A JSON string literal, quotes included.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
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
    Ok(match Option::<N<'_>>::deserialize(d)? {
        None => None,
        Some(N::N(n)) => Some(n),
        Some(N::S(s)) => Some(s.parse().map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number")))?),
    })
}
