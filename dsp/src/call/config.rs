//! What a call is set up with, and the facts of each provider that every
//! relay needs (the key's environment variable and header, the answer
//! endpoint): in one place, so the Rust, Python and Node relays agree.

use serde::{Deserialize, Deserializer};

use super::model::{elevenlabs, gemini, openai};
use super::phone::{exotel, plivo, telnyx, twilio, vonage};
use super::protocol::{ModelAdapter, ModelAudio, PhoneAdapter, RealtimeVersion, Session};
use crate::error::Error;
use crate::resample::Quality;

pub(crate) fn by_name<'de, D: Deserializer<'de>, T: core::str::FromStr<Err = Error>>(d: D) -> Result<T, D::Error> {
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
    pub api: RealtimeVersion,
    /// Audio on the model side: `"pcm24k"` (PCM16 at 24 kHz), `"pcm16k"`
    /// (ElevenLabs `pcm_16000`), `"pcmu"` or `"pcma"` (G.711 at 8 kHz).
    /// Whatever differs from the phone's codec and rate is converted here.
    /// Gemini Live's formats are fixed (16 kHz in, 24 kHz out).
    #[serde(deserialize_with = "by_name")]
    pub audio: ModelAudio,
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
    /// Run the echo canceller ([`crate::echo`]) on the caller's audio, with
    /// what the phone was sent as its reference: the local VAD hears the
    /// cancelled audio. Phone streams at 8 or 16 kHz.
    pub echo_cancel: bool,
    /// With [`echo_cancel`](Self::echo_cancel): the model gets the cancelled
    /// audio too, so its server-side VAD stops hearing the agent. Turn it
    /// on when the model API does no echo cancellation of its own on the
    /// input (OpenAI Realtime, Gemini Live and ElevenLabs do none on a
    /// telephony stream; their noise reduction is not echo cancellation);
    /// leave it off to give the model the caller's audio untouched.
    pub echo_cancel_to_model: bool,
    /// Inbound audio held while the model connection opens, ms.
    pub hold_ms: u32,
    /// Pause, then commit or resume (needs `local_vad`; OpenAI or Azure):
    /// the caller's sound over the agent clears the phone at once but
    /// keeps the agent's audio; speech that lasts `commit_after_ms`, a new
    /// turn or [`Call::barge_in`](super::Call::barge_in) commits the barge-in
    /// (truncate, `barge_in` event); a sound that ends first (a backchannel,
    /// a cough) resumes the agent from what was heard, and the model is
    /// told nothing. Off (false, the default) keeps every onset a barge-in
    /// at once. With OpenAI's server turn detection the engine sets
    /// `interrupt_response` and `create_response` to false and decides
    /// itself: `response.create` at the end of a real turn, the
    /// backchannel's input item deleted after a resume.
    pub resume_false_interruptions: bool,
    /// Caller speech this long over the agent is an interruption, ms
    /// (700: on recorded speech every single-word backchannel of 200-600 ms
    /// resumed and 99% of real interruptions committed; BENCHMARKS.md,
    /// "False interruptions").
    pub commit_after_ms: u32,
    /// A resume may go back this far before the heard point, to the
    /// quietest 20 ms frame there (a pause between words), ms; 0: none.
    pub resume_rewind_ms: u32,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            telephony: Telephony::Twilio,
            model: ModelApi::OpenAi,
            api: RealtimeVersion::Ga,
            audio: ModelAudio::Pcm24k,
            quality: Quality::default(),
            model_id: None,
            instructions: "You are a helpful phone agent. Keep answers short.".into(),
            voice: "marin".into(),
            tools: None,
            turn_detection: server_vad(),
            local_vad: false,
            echo_loss_db: 6.0,
            echo_cancel: false,
            echo_cancel_to_model: false,
            hold_ms: 1000,
            resume_false_interruptions: false,
            commit_after_ms: 700,
            resume_rewind_ms: 300,
        }
    }
}

impl CallConfig {
    /// Every header of the model socket's upgrade: the key's, and OpenAI's
    /// `OpenAI-Beta: realtime=v1` for the beta interface.
    ///
    /// ```
    /// use teledsp::call::{CallConfig, RealtimeVersion};
    /// let beta = CallConfig { api: RealtimeVersion::Beta, ..Default::default() };
    /// assert_eq!(beta.model_headers("sk")[1], ("OpenAI-Beta", "realtime=v1".to_owned()));
    /// ```
    pub fn model_headers(&self, key: &str) -> Vec<(&'static str, String)> {
        let mut h = vec![self.model.key_header(key)];
        if matches!(self.model, ModelApi::OpenAi | ModelApi::Azure) && self.api == RealtimeVersion::Beta {
            h.push(("OpenAI-Beta", "realtime=v1".to_owned()));
        }
        h
    }

    /// What every model API's session is set up with.
    pub fn session(&self) -> Session<'_> {
        Session {
            instructions: &self.instructions,
            voice: &self.voice,
            tools: self.tools.as_ref(),
            turn_detection: &self.turn_detection,
        }
    }

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

    /// The environment variable a relay reads the provider's webhook
    /// signing secret from (`None`: Exotel signs nothing).
    ///
    /// ```
    /// use teledsp::call::Telephony;
    /// assert_eq!(Telephony::Twilio.secret_env(), Some("TWILIO_AUTH_TOKEN"));
    /// ```
    pub fn secret_env(self) -> Option<&'static str> {
        match self {
            Telephony::Twilio => Some("TWILIO_AUTH_TOKEN"),
            Telephony::SignalWire => Some("SIGNALWIRE_SIGNING_KEY"),
            Telephony::Telnyx => Some("TELNYX_PUBLIC_KEY"),
            Telephony::Plivo => Some("PLIVO_AUTH_TOKEN"),
            Telephony::Vonage => Some("VONAGE_SIGNATURE_SECRET"),
            Telephony::Exotel => None,
        }
    }

    /// The path of the answer webhook a relay serves, which connects the
    /// call to its media socket (`None`: Exotel's Voicebot URL is set in its
    /// dashboard).
    ///
    /// ```
    /// use teledsp::call::Telephony;
    /// assert_eq!(Telephony::Telnyx.answer_path(), Some("/texml"));
    /// ```
    pub fn answer_path(self) -> Option<&'static str> {
        match self {
            Telephony::Twilio | Telephony::SignalWire => Some("/twiml"),
            Telephony::Telnyx => Some("/texml"),
            Telephony::Plivo | Telephony::Vonage => Some("/answer"),
            Telephony::Exotel => None,
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

    /// The environment variable a relay reads the API key from.
    ///
    /// ```
    /// use teledsp::call::ModelApi;
    /// assert_eq!(ModelApi::Gemini.key_env(), "GEMINI_API_KEY");
    /// ```
    pub fn key_env(self) -> &'static str {
        match self {
            ModelApi::OpenAi => "OPENAI_API_KEY",
            ModelApi::Azure => "AZURE_OPENAI_API_KEY",
            ModelApi::Gemini => "GEMINI_API_KEY",
            ModelApi::ElevenLabs => "ELEVENLABS_API_KEY",
        }
    }

    /// The header that carries `key` on the model socket's upgrade, as
    /// (name, value).
    ///
    /// ```
    /// use teledsp::call::ModelApi;
    /// assert_eq!(ModelApi::OpenAi.key_header("sk"), ("Authorization", "Bearer sk".to_owned()));
    /// assert_eq!(ModelApi::Azure.key_header("k"), ("api-key", "k".to_owned()));
    /// ```
    pub fn key_header(self, key: &str) -> (&'static str, String) {
        match self {
            ModelApi::OpenAi => ("Authorization", format!("Bearer {key}")),
            ModelApi::Azure => ("api-key", key.to_owned()),
            ModelApi::Gemini => ("x-goog-api-key", key.to_owned()),
            ModelApi::ElevenLabs => ("xi-api-key", key.to_owned()),
        }
    }

    /// A fresh adapter for one call set up with `cfg`; an error if the API
    /// cannot take `cfg.audio`.
    pub fn adapter(self, cfg: &CallConfig) -> Result<Box<dyn ModelAdapter>, Error> {
        Ok(match self {
            ModelApi::OpenAi => Box::new(openai::OpenAi::with_audio(cfg.api, cfg.audio)?),
            ModelApi::Azure => Box::new(openai::OpenAi::azure(cfg.api, cfg.audio)?),
            ModelApi::Gemini => {
                Box::new(gemini::Gemini::new(cfg.audio, cfg.model_id.clone(), !cfg.turn_detection.is_null())?)
            }
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
