//! The call engine (`teledsp::call`) and Twilio request signatures.

use std::sync::OnceLock;
use std::time::Instant;

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use serde_json::Value as Json;
use teledsp::call::{Call as Inner, CallConfig, Output, PhoneKind, Pipeline as InnerPipeline, PipelineConfig};
use teledsp::signature::RequestValidator as InnerValidator;

use napi::Env;

use crate::js::{self, Bytes, Text, Value};
use crate::{Code, Result, err, to_js};

/// Settings of `new Call(options)`; every field is optional. Unknown
/// fields are refused (`ERR_TELEDSP_CONFIG`).
#[napi(object)]
pub struct CallOptions {
    /// The phone side's protocol ("twilio" by default).
    #[napi(ts_type = "'twilio' | 'telnyx' | 'plivo' | 'vonage' | 'exotel' | 'signalwire'")]
    pub telephony: Option<String>,
    /// The model API ("openai" by default).
    #[napi(ts_type = "'openai' | 'azure' | 'gemini' | 'elevenlabs'")]
    pub model: Option<String>,
    /// OpenAI event names: "ga" (default) or "beta".
    #[napi(ts_type = "'ga' | 'beta'")]
    pub api: Option<String>,
    /// Audio on the model side: "pcm24k" (default; PCM16 at 24 kHz),
    /// "pcm16k" (ElevenLabs `pcm_16000`), "pcmu" or "pcma" (G.711);
    /// converted here from and to the phone's codec and rate. Gemini's
    /// formats are fixed; ElevenLabs' must match the agent's settings.
    #[napi(
        ts_type = "'pcm24k' | 'pcm16k' | 'pcmu' | 'pcma' | 'audio/pcm' | 'audio/pcmu' | 'audio/pcma' | 'pcm16' | 'g711_ulaw' | 'g711_alaw' | 'pcm_16000' | 'ulaw_8000'"
    )]
    pub audio: Option<String>,
    /// The model's name where the API takes it in the session (Gemini's `setup.model`).
    pub model_id: Option<String>,
    /// Resampler preset, "telephony" by default.
    #[napi(ts_type = "'telephony' | 'transparent' | 'low_latency'")]
    pub quality: Option<String>,
    /// System instructions for the session.
    pub instructions: Option<String>,
    /// Output voice ("marin" by default).
    pub voice: Option<String>,
    /// The session's `tools` array.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub tools: Option<Json>,
    /// OpenAI's `turn_detection` object; `null` for manual turns
    /// (default `{ type: 'server_vad' }`).
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub turn_detection: Option<Json>,
    /// Barge in on teledsp's local VAD onset too.
    pub local_vad: Option<bool>,
    /// Caller audio this much quieter than the agent's playing audio is
    /// taken for line echo and does not barge in locally (dB; default 6, 0 is off).
    pub echo_loss_db: Option<f64>,
    /// Run teledsp's echo canceller on the caller's audio (phone streams at
    /// 8 or 16 kHz): the local VAD hears the cancelled audio (default false).
    pub echo_cancel: Option<bool>,
    /// With `echoCancel`, the model gets the cancelled audio too: turn it on
    /// when the model API cancels no echo itself (OpenAI Realtime, Gemini
    /// Live and ElevenLabs do not on a telephony stream; default false).
    pub echo_cancel_to_model: Option<bool>,
    /// Caller audio held until `openModel`, ms (default 1000).
    pub hold_ms: Option<u32>,
    /// Pause, then commit or resume (needs `localVad`; OpenAI, Azure): the
    /// caller's sound over the agent pauses it (a `paused` event); speech
    /// lasting `commitAfterMs`, a new turn or `bargeIn` commits (`barge_in`);
    /// a sound that ends first resumes from what was heard (`resumed`), the
    /// model told nothing (default false).
    pub resume_false_interruptions: Option<bool>,
    /// Speech this long over the agent is an interruption, ms (default 700).
    pub commit_after_ms: Option<u32>,
    /// A resume goes back up to this far, to the quietest frame, ms (default 300).
    pub resume_rewind_ms: Option<u32>,
}

/// Milliseconds on this process's monotonic clock (the default `nowMs`).
fn monotonic_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

fn now(now_ms: Option<f64>) -> Result<u64> {
    match now_ms {
        None => Ok(monotonic_ms()),
        Some(t) if t.is_finite() && t >= 0.0 => Ok(t as u64),
        Some(t) => Err(err(Code::OutOfRange, format!("nowMs must be a finite number >= 0, got {t}"))),
    }
}

/// JS option names to the engine's.
fn snake(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 2);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// One phone call's protocol state, with no I/O: messages and the time in,
/// messages to send and events out. The same engine as the Rust crate's
/// `teledsp::call::Call` and Python's `teledsp.Call`.
///
/// Every method returns `[target, payload]` pairs, in order: `'media'`,
/// `'mark'` and `'clear'` (text for the phone), `'model'` (text for the
/// model), `'event'` (an object for the application: `started`, `dtmf`,
/// `stopped`, `tool_call`, `barge_in`, `model_error`, and `unknown`: a
/// message of a type the adapter does not know, to log). `nowMs` is monotonic
/// milliseconds; when omitted, this process's monotonic clock is used (pass
/// it always or never).
///
/// ```js
/// const { Call } = require('teledsp');
/// const call = new Call({ instructions: 'Be brief.' });
/// call.receivePhone('{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}', 0); // [['event', {type: 'started', ...}]]
/// call.openModel(0);                                                     // [['model', '{"type":"session.update",...}']]
/// const delta = JSON.stringify({ type: 'response.output_audio.delta', item_id: 'A', response_id: 'R', delta: 'AAAA'.repeat(1600) });
/// call.receiveModel(delta, 10).map(([t]) => t);                          // ['media', 'media', 'media', 'media', 'media', 'mark']
/// call.receiveModel('{"type":"input_audio_buffer.speech_started"}', 50); // clear, truncate at 40 ms, barge_in event
/// ```
#[napi]
pub struct Call {
    inner: Inner,
    out: Vec<Output>,
}

/// Outputs as `[target, payload]` pairs, draining `out`: the one place both
/// call objects' outputs become JS values. Message texts are made as JS
/// strings directly (Latin-1 when ASCII); caller audio as a Buffer.
fn take(env: &Env, out: &mut Vec<Output>) -> Result<Value> {
    let mut pairs = Vec::with_capacity(out.len());
    for o in out.drain(..) {
        let (target, payload) = match o {
            Output::Phone { kind, text } => {
                let target = match kind {
                    PhoneKind::Media => "media",
                    PhoneKind::Mark => "mark",
                    PhoneKind::Clear => "clear",
                };
                (target, js::string(env, &text)?)
            }
            Output::Model(text) => ("model", js::string(env, &text)?),
            Output::Event(e) => ("event", js::json(env, serde_json::to_value(&e).expect("events serialize"))?),
            Output::CallerAudio(b) => ("caller_audio", js::new_buffer(env, &b)?),
            // Binary audio (Vonage): send it as a binary message.
            Output::PhoneBinary(b) => ("media", js::new_buffer(env, &b)?),
        };
        pairs.push(js::array(env, &[js::string(env, target)?, payload])?);
    }
    js::array(env, &pairs)
}

/// A config from a JS options object (camelCase keys), by way of the
/// crate's JSON form, which refuses unknown fields.
fn config<T: Default>(options: Option<Json>, parse: fn(&str) -> std::result::Result<T, teledsp::Error>) -> Result<T> {
    match options {
        None | Some(Json::Null) => Ok(T::default()),
        Some(Json::Object(m)) => {
            let m: serde_json::Map<String, Json> = m.into_iter().map(|(k, v)| (snake(&k), v)).collect();
            parse(&Json::Object(m).to_string()).map_err(to_js)
        }
        Some(_) => Err(err(Code::ArgType, "options must be an object")),
    }
}

impl Call {
    /// The stream, once `start` came (for `Gate.admit`).
    pub(crate) fn stream(&self) -> Option<&teledsp::call::Stream> {
        self.inner.stream()
    }
}

#[napi]
impl Call {
    /// See `CallOptions`.
    #[napi(constructor, ts_args_type = "options?: CallOptions", catch_unwind)]
    pub fn new(options: Option<Json>) -> Result<Self> {
        let cfg = config(options, CallConfig::from_json)?;
        Ok(Call { inner: Inner::new(cfg).map_err(to_js)?, out: Vec::new() })
    }

    /// One message from the phone (string or Buffer). A malformed one
    /// throws `ERR_TELEDSP_MALFORMED`, is counted, and changes nothing.
    #[napi(
        ts_args_type = "message: string | Buffer, nowMs?: number",
        ts_return_type = "Array<['media' | 'mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_phone(&mut self, env: &Env, message: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let text = Text::arg(&message)?;
        self.inner.receive_phone(text.as_str()?, t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// One binary message from the phone (Vonage's audio: a Buffer or typed
    /// array). A malformed one, or any from a protocol that sends only
    /// text, throws `ERR_TELEDSP_MALFORMED`, is counted, and changes nothing.
    #[napi(
        ts_args_type = "data: Buffer | Uint8Array, nowMs?: number",
        ts_return_type = "Array<['media', string | Buffer] | ['mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_phone_binary(&mut self, env: &Env, data: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let data = Bytes::arg(&data)?;
        self.inner.receive_phone_binary(data.bytes(), t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// One binary frame from the model (Gemini Live sends its JSON in
    /// binary frames): the same as `receiveModel`; bytes that are not UTF-8
    /// throw `ERR_TELEDSP_MALFORMED`, are counted, and change nothing.
    #[napi(
        ts_args_type = "data: Buffer | Uint8Array, nowMs?: number",
        ts_return_type = "Array<['media', string | Buffer] | ['mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_model_binary(&mut self, env: &Env, data: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let data = Bytes::arg(&data)?;
        self.inner.receive_model_binary(data.bytes(), t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// One event from the model (string or Buffer). A malformed one throws
    /// `ERR_TELEDSP_MALFORMED`, is counted, and changes nothing.
    #[napi(
        ts_args_type = "message: string | Buffer, nowMs?: number",
        ts_return_type = "Array<['media' | 'mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_model(&mut self, env: &Env, message: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let text = Text::arg(&message)?;
        self.inner.receive_model(text.as_str()?, t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// The model connection is open: `session.update`, then the caller
    /// audio held meanwhile.
    #[napi(
        ts_return_type = "Array<['media' | 'mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn open_model(&mut self, env: &Env, now_ms: Option<f64>) -> Result<Value> {
        self.inner.open_model(now(now_ms)?, &mut self.out);
        take(env, &mut self.out)
    }

    /// The application's own barge-in (a detector of its own, a button).
    #[napi(
        ts_return_type = "Array<['media' | 'mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn barge_in(&mut self, env: &Env, now_ms: Option<f64>) -> Result<Value> {
        self.inner.barge_in(now(now_ms)?, &mut self.out);
        take(env, &mut self.out)
    }

    /// The output of tool call `callId`: sent to the model, then
    /// `response.create` once no call of the turn is pending and no response
    /// is in progress. Throws `ERR_TELEDSP_UNKNOWN_TOOL_CALL` for an id that
    /// is not pending.
    #[napi(
        ts_return_type = "Array<['media' | 'mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn tool_result(&mut self, env: &Env, call_id: String, output: String, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        self.inner.tool_result(&call_id, &output, t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// Milliseconds of item `itemId` the caller has heard, if it is tracked.
    #[napi(catch_unwind)]
    pub fn heard_ms(&self, item_id: String, now_ms: Option<f64>) -> Result<Option<f64>> {
        Ok(self.inner.heard_ms(&item_id, now(now_ms)?).map(|ms| ms as f64))
    }

    /// Twilio's streamSid, once the stream started.
    #[napi(getter)]
    pub fn stream_sid(&self) -> Option<String> {
        self.inner.stream().map(|s| s.stream_sid.clone())
    }
    /// Twilio's callSid, from `start`.
    #[napi(getter)]
    pub fn call_sid(&self) -> Option<String> {
        self.inner.stream().and_then(|s| s.call_sid.clone())
    }
    /// The TwiML `<Parameter>`s from `start`.
    #[napi(getter, ts_return_type = "Record<string, string>")]
    pub fn custom_parameters(&self) -> Json {
        Json::Object(self.inner.stream().map(|s| s.custom_parameters.clone()).unwrap_or_default())
    }
    /// Whether the phone stream ended.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner.stopped()
    }
    /// Whether `openModel` was called.
    #[napi(getter)]
    pub fn model_open(&self) -> bool {
        self.inner.model_open()
    }
    /// Whether the model confirmed the session settings (`session.updated`).
    #[napi(getter)]
    pub fn model_ready(&self) -> bool {
        self.inner.model_ready()
    }
    /// Whether a model response is in progress.
    #[napi(getter)]
    pub fn responding(&self) -> bool {
        self.inner.responding()
    }
    /// Whether the agent is paused on a caller's sound (`resumeFalseInterruptions`).
    #[napi(getter)]
    pub fn paused(&self) -> bool {
        self.inner.paused()
    }
    /// The environment variable the model API's key is read from
    /// (`OPENAI_API_KEY`, `AZURE_OPENAI_API_KEY`, `GEMINI_API_KEY` or `ELEVENLABS_API_KEY`).
    #[napi(getter)]
    pub fn model_key_env(&self) -> &'static str {
        self.inner.config().model.key_env()
    }
    /// The headers of the model socket's upgrade for `apiKey`, as
    /// `[name, value]` pairs: the API's key header, and OpenAI's beta
    /// header for `api: 'beta'`.
    ///
    /// ```js
    /// new Call({ model: 'azure' }).modelHeaders('k'); // [['api-key', 'k']]
    /// ```
    #[napi(ts_return_type = "Array<[string, string]>")]
    pub fn model_headers(&self, api_key: String) -> Json {
        Json::Array(
            self.inner
                .config()
                .model_headers(&api_key)
                .into_iter()
                .map(|(n, v)| Json::Array(vec![n.into(), v.into()]))
                .collect(),
        )
    }
    /// The call's counters (snake_case names, as in Rust and Python).
    #[napi(getter, ts_return_type = "Record<string, number>")]
    pub fn counters(&self) -> Json {
        serde_json::to_value(self.inner.counters()).expect("counters serialize")
    }
}

/// Settings of `new Pipeline(options)`; every field is optional. Unknown
/// fields are refused (`ERR_TELEDSP_CONFIG`).
#[napi(object)]
pub struct PipelineOptions {
    /// The phone side's protocol ("twilio" by default).
    #[napi(ts_type = "'twilio' | 'telnyx' | 'plivo' | 'vonage' | 'exotel' | 'signalwire'")]
    pub telephony: Option<String>,
    /// The TTS audio's encoding: "linear16" (default) or "mulaw".
    #[napi(ts_type = "'linear16' | 'mulaw'")]
    pub encoding: Option<String>,
    /// The TTS audio's rate: 8000, 16000, 24000 (default) or 48000 (8000 for mulaw).
    #[napi(ts_type = "8000 | 16000 | 24000 | 48000")]
    pub sample_rate: Option<u32>,
    /// Resampler preset, "telephony" by default.
    #[napi(ts_type = "'telephony' | 'transparent' | 'low_latency'")]
    pub quality: Option<String>,
    /// Barge in on teledsp's VAD onset in the caller's audio (default true).
    pub local_vad: Option<bool>,
    /// Caller audio this much quieter than the agent's playing audio is
    /// taken for line echo and does not barge in (dB; default 6, 0 is off).
    pub echo_loss_db: Option<f64>,
    /// Run teledsp's echo canceller on the caller's audio: the VAD and
    /// `caller_audio` get the cancelled audio, so the recogniser stops
    /// transcribing the agent (default false).
    pub echo_cancel: Option<bool>,
    /// Pause, then commit or resume (needs `localVad`): the caller's sound
    /// over the agent pauses it (`paused`; audio pushed meanwhile is held);
    /// speech lasting `commitAfterMs` or `bargeIn` commits (`barge_in`); a
    /// sound that ends first resumes from what was heard (`resumed`).
    pub resume_false_interruptions: Option<bool>,
    /// Speech this long over the agent is an interruption, ms (default 700).
    pub commit_after_ms: Option<u32>,
    /// A resume goes back up to this far, to the quietest frame, ms (default 300).
    pub resume_rewind_ms: Option<u32>,
}

/// A cascaded agent's call (speech-to-text -> LLM -> text-to-speech), with
/// no I/O: the phone's messages, the TTS audio per utterance and the time
/// in; frames and marks for the phone, caller audio for the recogniser and
/// barge-ins out. The same engine as the Rust crate's
/// `teledsp::call::Pipeline` and Python's `teledsp.Pipeline`.
///
/// Methods return `[target, payload]` pairs as `Call`'s do, with
/// `'caller_audio'` (a Buffer of 8 kHz mu-law for the recogniser) in place
/// of `'model'`. A `barge_in` event lists each utterance not wholly heard
/// with its `heard_ms` and `action` (`'truncate'`: keep what was heard in
/// the LLM history; `'delete'`: nothing was); stop the TTS then (Deepgram
/// `Clear`): audio of those utterances still in flight is dropped here.
///
/// ```js
/// const { Pipeline } = require('teledsp');
/// const call = new Pipeline({ encoding: 'linear16', sampleRate: 24000 });
/// call.receivePhone('{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}', 0); // [['event', {type: 'started', ...}]]
/// call.receivePhone('{"event":"media","media":{"payload":"/////w=="}}', 5);             // [['caller_audio', <Buffer ff ff ff ff>]]
/// call.pushAudio('u1', Buffer.alloc(4800), 10).map(([t]) => t);                           // ['media', 'media', 'media', 'media', 'media', 'mark']
/// call.bargeIn(50); // [['clear', ...], ['event', {type: 'barge_in', items: [{item_id: 'u1', heard_ms: 40, action: 'truncate', ...}]}]]
/// ```
#[napi]
pub struct Pipeline {
    inner: InnerPipeline,
    out: Vec<Output>,
}

impl Pipeline {
    /// The stream, once `start` came (for `Gate.admit`).
    pub(crate) fn stream(&self) -> Option<&teledsp::call::Stream> {
        self.inner.stream()
    }
}

#[napi]
impl Pipeline {
    /// See `PipelineOptions`.
    #[napi(constructor, ts_args_type = "options?: PipelineOptions", catch_unwind)]
    pub fn new(options: Option<Json>) -> Result<Self> {
        let cfg = config(options, PipelineConfig::from_json)?;
        Ok(Pipeline { inner: InnerPipeline::new(cfg).map_err(to_js)?, out: Vec::new() })
    }

    /// One message from the phone (string or Buffer). A malformed one
    /// throws `ERR_TELEDSP_MALFORMED`, is counted, and changes nothing.
    #[napi(
        ts_args_type = "message: string | Buffer, nowMs?: number",
        ts_return_type = "Array<['media' | 'mark' | 'clear', string] | ['caller_audio', Buffer] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_phone(&mut self, env: &Env, message: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let text = Text::arg(&message)?;
        self.inner.receive_phone(text.as_str()?, t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// One binary message from the phone (Vonage's audio: a Buffer or typed
    /// array). A malformed one, or any from a protocol that sends only
    /// text, throws `ERR_TELEDSP_MALFORMED`, is counted, and changes nothing.
    #[napi(
        ts_args_type = "data: Buffer | Uint8Array, nowMs?: number",
        ts_return_type = "Array<['media', string | Buffer] | ['mark' | 'clear' | 'model', string] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn receive_phone_binary(&mut self, env: &Env, data: Unknown<'_>, now_ms: Option<f64>) -> Result<Value> {
        let t = now(now_ms)?;
        let data = Bytes::arg(&data)?;
        self.inner.receive_phone_binary(data.bytes(), t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// The application will speak utterance `utteranceId`: a barge-in
    /// before its audio comes deletes it and drops its audio. Optional.
    #[napi(catch_unwind)]
    pub fn begin_utterance(&mut self, utterance_id: String, now_ms: Option<f64>) -> Result<()> {
        self.inner.begin_utterance(&utterance_id, now(now_ms)?);
        Ok(())
    }

    /// TTS audio (a Buffer or typed array, in the configured encoding and
    /// rate) of utterance `utteranceId`: whole 20 ms frames to the phone,
    /// with a mark. Audio of an interrupted utterance is dropped and
    /// counted. Odd-length linear16 throws `ERR_TELEDSP_INVALID_LENGTH`.
    #[napi(
        ts_args_type = "utteranceId: string, audio: Uint8Array | Int16Array, nowMs?: number",
        ts_return_type = "Array<['media' | 'mark' | 'clear', string] | ['caller_audio', Buffer] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn push_audio(
        &mut self,
        env: &Env,
        utterance_id: String,
        audio: Unknown<'_>,
        now_ms: Option<f64>,
    ) -> Result<Value> {
        let t = now(now_ms)?;
        let audio = Bytes::arg(&audio)?;
        self.inner.push_audio(&utterance_id, audio.bytes(), t, &mut self.out).map_err(to_js)?;
        take(env, &mut self.out)
    }

    /// Utterance `utteranceId` has no more audio: its tail goes out.
    #[napi(
        ts_return_type = "Array<['media' | 'mark' | 'clear', string] | ['caller_audio', Buffer] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn end_utterance(&mut self, env: &Env, utterance_id: String, now_ms: Option<f64>) -> Result<Value> {
        self.inner.end_utterance(&utterance_id, now(now_ms)?, &mut self.out);
        take(env, &mut self.out)
    }

    /// The application's own barge-in (an interim transcript, a button).
    #[napi(
        ts_return_type = "Array<['media' | 'mark' | 'clear', string] | ['caller_audio', Buffer] | ['event', { type: string; [field: string]: any }]>",
        catch_unwind
    )]
    pub fn barge_in(&mut self, env: &Env, now_ms: Option<f64>) -> Result<Value> {
        self.inner.barge_in(now(now_ms)?, &mut self.out);
        take(env, &mut self.out)
    }

    /// Whether something of the agent's is not wholly heard (the rule for
    /// barging in on an interim transcript).
    #[napi(catch_unwind)]
    pub fn speaking(&self, now_ms: Option<f64>) -> Result<bool> {
        Ok(self.inner.speaking(now(now_ms)?))
    }

    /// Milliseconds of utterance `utteranceId` the caller has heard, if it is tracked.
    #[napi(catch_unwind)]
    pub fn heard_ms(&self, utterance_id: String, now_ms: Option<f64>) -> Result<Option<f64>> {
        Ok(self.inner.heard_ms(&utterance_id, now(now_ms)?).map(|ms| ms as f64))
    }

    /// Milliseconds of `[fromMs, toMs)` of caller audio (from the stream's
    /// first sample, as a recogniser's timestamps count) in which the
    /// caller was heard: VAD speech louder than the echo guard allows the
    /// agent's own voice. A transcript of a span with none is echo.
    #[napi(catch_unwind)]
    pub fn caller_speech_ms(&self, from_ms: f64, to_ms: f64) -> Result<f64> {
        for (name, v) in [("fromMs", from_ms), ("toMs", to_ms)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err(Code::OutOfRange, format!("{name} must be a finite number >= 0, got {v}")));
            }
        }
        Ok(self.inner.caller_speech_ms(from_ms as u64, to_ms as u64) as f64)
    }

    /// Whether the agent is paused on a caller's sound (`resumeFalseInterruptions`).
    #[napi(getter)]
    pub fn paused(&self) -> bool {
        self.inner.paused()
    }
    /// Twilio's streamSid, once the stream started.
    #[napi(getter)]
    pub fn stream_sid(&self) -> Option<String> {
        self.inner.stream().map(|s| s.stream_sid.clone())
    }
    /// Twilio's callSid, from `start`.
    #[napi(getter)]
    pub fn call_sid(&self) -> Option<String> {
        self.inner.stream().and_then(|s| s.call_sid.clone())
    }
    /// The TwiML `<Parameter>`s from `start`.
    #[napi(getter, ts_return_type = "Record<string, string>")]
    pub fn custom_parameters(&self) -> Json {
        Json::Object(self.inner.stream().map(|s| s.custom_parameters.clone()).unwrap_or_default())
    }
    /// Whether the phone stream ended.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner.stopped()
    }
    /// The call's counters (snake_case names; `deltas_dropped`: TTS chunks dropped).
    #[napi(getter, ts_return_type = "Record<string, number>")]
    pub fn counters(&self) -> Json {
        serde_json::to_value(self.inner.counters()).expect("counters serialize")
    }
}

/// Checks `X-Twilio-Signature` with an account's auth token, by the
/// algorithm of twilio-python's `RequestValidator`: HMAC-SHA1 of the full
/// URL and the sorted POST parameters, base64, compared in constant time,
/// with and without the URL's default port.
///
/// ```js
/// const { RequestValidator } = require('teledsp');
/// const v = new RequestValidator(process.env.TWILIO_AUTH_TOKEN);
/// const ok = v.validate('https://relay.example.com/twiml', { CallSid: 'CA1' }, req.headers['x-twilio-signature']);
/// ```
#[napi]
pub struct RequestValidator {
    inner: InnerValidator,
}

/// `[name, value]` string pairs (POST parameters, headers); `None` if any
/// element is not one.
pub(crate) fn string_pairs(a: Vec<Json>) -> Option<Vec<(String, String)>> {
    a.into_iter()
        .map(|pair| match pair {
            Json::Array(kv) => match <[Json; 2]>::try_from(kv) {
                Ok([Json::String(k), Json::String(v)]) => Some((k, v)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// POST parameters: an object of strings, or `[name, value]` pairs.
fn params(p: Option<Json>) -> Result<Vec<(String, String)>> {
    let bad = || err(Code::ArgType, "params must be an object of strings or an array of [name, value] string pairs");
    match p {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                Json::String(v) => Ok((k, v)),
                _ => Err(bad()),
            })
            .collect(),
        Some(Json::Array(a)) => string_pairs(a).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

#[napi]
impl RequestValidator {
    /// A validator for `authToken` (never logged or shown).
    #[napi(constructor)]
    pub fn new(auth_token: String) -> Self {
        RequestValidator { inner: InnerValidator::new(&auth_token) }
    }

    /// The signature Twilio sends for `url` and POST `params`.
    #[napi(ts_args_type = "url: string, params?: Record<string, string> | Array<[string, string]>", catch_unwind)]
    pub fn sign(&self, url: String, params: Option<Json>) -> Result<String> {
        Ok(self.inner.sign(&url, &self::params(params)?))
    }

    /// Whether `signature` is Twilio's for `url` and `params`.
    #[napi(
        ts_args_type = "url: string, params: Record<string, string> | Array<[string, string]> | null, signature: string",
        catch_unwind
    )]
    pub fn validate(&self, url: String, params: Option<Json>, signature: String) -> Result<bool> {
        Ok(self.inner.validate(&url, &self::params(params)?, &signature))
    }
}
