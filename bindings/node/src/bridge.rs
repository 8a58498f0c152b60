//! The Twilio Media Streams <-> OpenAI Realtime hot path, one call per message.

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use teledsp::bridge::{BridgeConfig, TwilioBridge as Inner};

use napi::Env;

use crate::js::{self, Text, Value};
use crate::{Result, to_js};

/// Options for `new TwilioBridge(options)`; every field is optional.
#[napi(object)]
#[derive(Default)]
pub struct TwilioBridgeOptions {
    /// OpenAI event names: "ga" (default: `response.output_audio.delta`) or
    /// "beta" (`response.audio.delta`).
    #[napi(ts_type = "'ga' | 'beta'")]
    pub api: Option<String>,
    /// What OpenAI gets: "pcm24k" (default: 24 kHz PCM16, resampled here) or
    /// "pcmu" (Twilio's mu-law passed through).
    #[napi(ts_type = "'pcm24k' | 'pcmu' | 'audio/pcm' | 'audio/pcmu' | 'pcm16' | 'g711_ulaw'")]
    pub audio: Option<String>,
    /// Resampler preset, "telephony" by default.
    #[napi(ts_type = "'telephony' | 'transparent' | 'low_latency'")]
    pub quality: Option<String>,
}

/// One Twilio Media Stream <-> one OpenAI Realtime session: base64, G.711,
/// resampling, 20 ms framing and JSON in one native call per message.
///
/// ```js
/// const { TwilioBridge } = require('teledsp');
/// const bridge = new TwilioBridge({ api: 'ga' });
/// // twilioWs.on('message', (m) => { const out = bridge.twilioToOpenai(m); if (out) openaiWs.send(out); });
/// // openaiWs.on('message', (m) => { for (const t of bridge.openaiToTwilio(m)) twilioWs.send(t); });
/// ```
#[napi]
pub struct TwilioBridge {
    inner: Inner,
}

#[napi]
impl TwilioBridge {
    /// See `TwilioBridgeOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: Option<TwilioBridgeOptions>) -> Result<Self> {
        let o = options.unwrap_or_default();
        let d = BridgeConfig::default();
        let cfg = BridgeConfig {
            api: o.api.map_or(Ok(d.api), |s| s.parse()).map_err(to_js)?,
            audio: o.audio.map_or(Ok(d.audio), |s| s.parse()).map_err(to_js)?,
            quality: o.quality.map_or(Ok(d.quality), |s| s.parse()).map_err(to_js)?,
        };
        Ok(TwilioBridge { inner: Inner::new(cfg).map_err(to_js)? })
    }

    /// One Twilio Media Streams message in; the OpenAI
    /// `input_audio_buffer.append` text to send out, or `null` for messages
    /// that carry no audio (`connected`, `start`, `mark`, `dtmf`, `stop`,
    /// whose state the bridge records).
    #[napi(ts_args_type = "message: string | Buffer", ts_return_type = "string | null", catch_unwind)]
    pub fn twilio_to_openai(&mut self, env: &Env, message: Unknown<'_>) -> Result<Option<Value>> {
        let text = Text::arg(&message)?;
        let out = self.inner.twilio_to_openai(text.as_str()?).map_err(to_js)?;
        out.map(|s| js::string(env, &s)).transpose()
    }

    /// One OpenAI Realtime server event in; the Twilio messages to send out:
    /// exact 20 ms `media` frames plus a uniquely named `mark` for audio
    /// deltas (the remainder waits for the next delta), `clear` on
    /// `input_audio_buffer.speech_started`, nothing for other events.
    #[napi(ts_args_type = "message: string | Buffer", ts_return_type = "string[]", catch_unwind)]
    pub fn openai_to_twilio(&mut self, env: &Env, message: Unknown<'_>) -> Result<Value> {
        let text = Text::arg(&message)?;
        let out = self.inner.openai_to_twilio(text.as_str()?).map_err(to_js)?;
        js::strings(env, &out)
    }

    /// The stream SID from Twilio's `start` message.
    #[napi(getter)]
    pub fn stream_sid(&self) -> Option<String> {
        self.inner.stream_sid().map(str::to_owned)
    }

    /// The call SID from Twilio's `start` message.
    #[napi(getter)]
    pub fn call_sid(&self) -> Option<String> {
        self.inner.call_sid().map(str::to_owned)
    }

    /// The `<Parameter>`s from the TwiML, as sent in `start.customParameters`.
    #[napi(getter, ts_return_type = "Record<string, string>")]
    pub fn custom_parameters(&self) -> serde_json::Value {
        serde_json::Value::Object(self.inner.custom_parameters().clone())
    }

    /// The name of the last `mark` sent to Twilio.
    #[napi(getter)]
    pub fn last_mark(&self) -> Option<String> {
        self.inner.last_mark().map(str::to_owned)
    }

    /// Marks sent to Twilio so far.
    #[napi(getter)]
    pub fn marks_sent(&self) -> f64 {
        self.inner.marks_sent() as f64
    }

    /// Whether Twilio sent `stop`.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner.stopped()
    }
}
