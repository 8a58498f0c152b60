//! Twilio Media Streams <-> OpenAI Realtime message bridge: one call per
//! WebSocket text message, with all decoding, G.711, resampling, framing and
//! encoding done here, so a relay in any language is a loop of
//! `twilio_to_openai` / `openai_to_twilio`.
//!
//! Inbound (`twilio_to_openai`): a Twilio `media` message (base64 mu-law,
//! 8 kHz) becomes an OpenAI `input_audio_buffer.append` (base64 PCM16 at
//! 24 kHz, or the mu-law passed through with [`ModelAudio::Pcmu`]); `start`,
//! `mark` and `stop` update the bridge's state and produce nothing.
//!
//! Outbound (`openai_to_twilio`): an audio delta (GA
//! `response.output_audio.delta`, beta `response.audio.delta`) of any size
//! becomes exact 20 ms mu-law `media` messages (the remainder is carried to
//! the next delta) followed by one uniquely named `mark`; a
//! `input_audio_buffer.speech_started` becomes a Twilio `clear` (and drops
//! the carried remainder). Other server events produce nothing.

use base64_simd::STANDARD as B64;

use crate::call::openai::OpenAi;
use crate::call::playout::Playout;
use crate::call::twilio::Twilio;
use crate::call::{
    Message, ModelAdapter, ModelAudio, ModelEvent, Payload, PhoneAdapter, PhoneEvent, RealtimeVersion, b64_decode,
};
use crate::error::Error;
use crate::frame::{Format, Framer};
use crate::resample::{Quality, Resampler};

/// Which OpenAI Realtime interface to speak.
#[deprecated(since = "0.2.0", note = "renamed teledsp::call::RealtimeVersion")]
pub type Api = RealtimeVersion;

/// The audio format on the OpenAI side.
#[deprecated(since = "0.2.0", note = "renamed teledsp::call::ModelAudio")]
pub type Audio = ModelAudio;

/// Settings of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeConfig {
    /// Event names on the OpenAI side.
    pub api: RealtimeVersion,
    /// Audio format on the OpenAI side.
    pub audio: ModelAudio,
    /// Resampler preset for the PCM path.
    pub quality: Quality,
}

/// One call's bridge. See the module docs.
///
/// ```
/// use teledsp::bridge::TwilioBridge;
/// let mut b = TwilioBridge::new(Default::default())?;
/// b.twilio_to_openai(r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"},"streamSid":"MZ1"}"#)?;
/// // 20 ms of mu-law silence (160 bytes of 0xFF, base64) in.
/// let payload = format!("{}/w==", "/".repeat(212));
/// let media = format!(r#"{{"event":"media","media":{{"payload":"{payload}"}},"streamSid":"MZ1"}}"#);
/// let out = b.twilio_to_openai(&media)?.unwrap();
/// let v: serde_json::Value = serde_json::from_str(&out).unwrap();
/// assert_eq!(v["type"], "input_audio_buffer.append");
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug)]
pub struct TwilioBridge {
    cfg: BridgeConfig,
    // The call engine's adapters parse and write the messages.
    twilio: Twilio,
    openai: OpenAi,
    stream_sid: Option<String>,
    call_sid: Option<String>,
    custom_parameters: serde_json::Map<String, serde_json::Value>,
    up: Resampler,
    down: Resampler,
    framer: Framer,
    marks_sent: u64,
    marks_received: u64,
    last_mark: Option<String>,
    stopped: bool,
    /// Decoded base64: the last inbound mu-law payload, or an outbound delta.
    bytes: Vec<u8>,
    /// Whether `bytes` holds the last Twilio message's mu-law payload.
    bytes_inbound: bool,
    pcm: Vec<i16>,
    /// PCM16LE bytes of the resampled inbound frame.
    pcm_bytes: Vec<u8>,
    ulaw: Vec<u8>,
}

impl TwilioBridge {
    /// A bridge for one call.
    pub fn new(cfg: BridgeConfig) -> Result<Self, Error> {
        if matches!(cfg.audio, ModelAudio::Pcma | ModelAudio::Pcm16k) {
            return Err(Error::InvalidConfig(
                "the bridge speaks pcm24k or pcmu; the call engine (teledsp::call) takes every format".into(),
            ));
        }
        Ok(TwilioBridge {
            cfg,
            twilio: Twilio::new(),
            openai: OpenAi::new(cfg.api),
            stream_sid: None,
            call_sid: None,
            custom_parameters: Default::default(),
            up: Resampler::new(8000, 24000, cfg.quality)?,
            down: Resampler::new(24000, 8000, cfg.quality)?,
            framer: Framer::new(Format::Ulaw, 20)?,
            marks_sent: 0,
            marks_received: 0,
            last_mark: None,
            stopped: false,
            bytes: Vec::new(),
            bytes_inbound: false,
            pcm: Vec::new(),
            pcm_bytes: Vec::new(),
            ulaw: Vec::new(),
        })
    }

    /// The Twilio `streamSid`, once `start` (or any message carrying it) arrived.
    pub fn stream_sid(&self) -> Option<&str> {
        self.stream_sid.as_deref()
    }
    /// The Twilio `callSid` from `start`.
    pub fn call_sid(&self) -> Option<&str> {
        self.call_sid.as_deref()
    }
    /// The `<Parameter>`s of the TwiML `<Stream>`, from `start`.
    pub fn custom_parameters(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.custom_parameters
    }
    /// The last mark name Twilio echoed (audio played up to there).
    pub fn last_mark(&self) -> Option<&str> {
        self.last_mark.as_deref()
    }
    /// Marks sent to Twilio so far.
    pub fn marks_sent(&self) -> u64 {
        self.marks_sent
    }
    /// Marks Twilio echoed so far: when it grows, [`Self::last_mark`] is new.
    pub fn marks_received(&self) -> u64 {
        self.marks_received
    }
    /// Whether Twilio sent `stop`.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The mu-law payload of the last Twilio message, if it was `media` (for
    /// a local VAD, say), until the next message of either side.
    pub fn last_inbound_ulaw(&self) -> Option<&[u8]> {
        self.bytes_inbound.then_some(&self.bytes[..])
    }

    /// One Twilio message in; the OpenAI message to send, if any.
    pub fn twilio_to_openai(&mut self, message: &str) -> Result<Option<String>, Error> {
        self.bytes_inbound = false;
        match self.twilio.parse(message)? {
            PhoneEvent::Media { payload, .. } => {
                let Payload::Base64(payload) = payload else {
                    return Err(Error::malformed("Twilio media is base64 text"));
                };
                self.bytes.clear();
                b64_decode("Twilio media.payload is not valid base64", &payload, &mut self.bytes)?;
                self.bytes_inbound = true;
                let mut out = String::new();
                match self.cfg.audio {
                    ModelAudio::Pcmu | ModelAudio::Pcma => self.openai.append(&payload, &mut out),
                    ModelAudio::Pcm24k | ModelAudio::Pcm16k => {
                        self.pcm.resize(self.up.output_len(self.bytes.len()), 0);
                        let n = self.up.process_from_ulaw(&self.bytes, &mut self.pcm)?;
                        self.pcm_bytes.resize(2 * n, 0);
                        for (b, s) in self.pcm_bytes.chunks_exact_mut(2).zip(&self.pcm[..n]) {
                            b.copy_from_slice(&s.to_le_bytes());
                        }
                        let mut b64 = String::with_capacity(self.pcm_bytes.len() * 4 / 3 + 4);
                        B64.encode_append(&self.pcm_bytes, &mut b64);
                        self.openai.append(&b64, &mut out);
                    }
                }
                Ok(Some(out))
            }
            PhoneEvent::Start { stream_id, call_id, custom_parameters, .. } => {
                self.twilio.set_stream(&stream_id, Format::Ulaw);
                self.stream_sid = Some(stream_id);
                self.call_sid = call_id;
                self.custom_parameters = custom_parameters;
                Ok(None)
            }
            PhoneEvent::Mark { name } => {
                self.last_mark = Some(name.into_owned());
                self.marks_received += 1;
                Ok(None)
            }
            PhoneEvent::Stop => {
                self.stopped = true;
                Ok(None)
            }
            PhoneEvent::Dtmf { .. } | PhoneEvent::Other | PhoneEvent::Unknown(_) => Ok(None),
        }
    }

    /// One OpenAI server event in; the Twilio messages to send, in order.
    ///
    /// An audio delta goes through [`TwilioBridge::audio_delta_to_twilio`],
    /// `input_audio_buffer.speech_started` through [`TwilioBridge::clear`];
    /// other events give nothing. Callers that parse the event themselves
    /// (to route on more fields) call those two directly.
    pub fn openai_to_twilio(&mut self, message: &str) -> Result<Vec<String>, Error> {
        self.bytes_inbound = false;
        let events = self.openai.parse(message)?;
        match events.into_iter().next() {
            Some(ModelEvent::SpeechStarted) => Ok(vec![self.clear()]),
            Some(ModelEvent::AudioDelta { delta, .. }) => self.audio_delta_to_twilio(&delta),
            _ => Ok(Vec::new()),
        }
    }

    /// The audio delta event's name for the configured API (GA
    /// `response.output_audio.delta`, beta `response.audio.delta`).
    pub fn delta_type(&self) -> &'static str {
        match self.cfg.api {
            RealtimeVersion::Ga => "response.output_audio.delta",
            RealtimeVersion::Beta => "response.audio.delta",
        }
    }

    /// The caller talks over the agent: drops the partial frame carried
    /// between deltas and returns Twilio's `clear` (which drops what Twilio
    /// has queued).
    ///
    /// ```
    /// let mut b = teledsp::bridge::TwilioBridge::new(Default::default())?;
    /// assert!(b.clear().starts_with(r#"{"event":"clear""#));
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn clear(&mut self) -> String {
        self.bytes_inbound = false;
        self.framer.reset();
        self.twilio.clear()
    }

    /// The base64 `delta` of an OpenAI audio delta in; exact 160-byte mu-law
    /// `media` messages plus one uniquely named `mark` out (nothing while
    /// less than a frame is in hand; the remainder is carried).
    ///
    /// ```
    /// let mut b = teledsp::bridge::TwilioBridge::new(Default::default())?;
    /// let out = b.audio_delta_to_twilio(&"AAAA".repeat(1600))?; // 100 ms of 24 kHz PCM16
    /// let (mark, frames) = out.split_last().unwrap();
    /// assert!(mark.starts_with(r#"{"event":"mark""#));
    /// assert!(frames.iter().all(|f| f.starts_with(r#"{"event":"media""#)));
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn audio_delta_to_twilio(&mut self, delta: &str) -> Result<Vec<String>, Error> {
        self.bytes_inbound = false;
        self.bytes.clear();
        b64_decode("OpenAI delta is not valid base64", delta, &mut self.bytes)?;
        let ulaw: &[u8] = match self.cfg.audio {
            ModelAudio::Pcmu | ModelAudio::Pcma => &self.bytes,
            ModelAudio::Pcm24k | ModelAudio::Pcm16k => {
                if !self.bytes.len().is_multiple_of(2) {
                    return Err(Error::malformed("OpenAI PCM16 delta has an odd byte count"));
                }
                // Written in place (resize + zip), which compiles to a plain
                // copy on little-endian targets; `extend` from a `map` did not.
                self.pcm.resize(self.bytes.len() / 2, 0);
                for (s, b) in self.pcm.iter_mut().zip(self.bytes.chunks_exact(2)) {
                    *s = i16::from_le_bytes([b[0], b[1]]);
                }
                self.ulaw.resize(self.down.output_len(self.pcm.len()), 0);
                let n = self.down.process_to_ulaw(&self.pcm, &mut self.ulaw)?;
                &self.ulaw[..n]
            }
        };
        let (twilio, mut out) = (&self.twilio, Vec::new());
        self.framer.push(ulaw, |frame| {
            if let Message::Text(text) = twilio.media(frame) {
                out.push(text);
            }
        });
        if !out.is_empty() {
            self.marks_sent += 1;
            out.push(self.twilio.mark(&Playout::mark_name(self.marks_sent)));
        }
        Ok(out)
    }
}
