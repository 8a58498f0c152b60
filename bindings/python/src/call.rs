//! The call engine (`teledsp::call`) and Twilio request signatures.

use std::sync::OnceLock;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use teledsp::call::{Call, CallConfig, Output, PhoneKind, Pipeline, PipelineConfig, Stream};
use teledsp::signature::RequestValidator;

use crate::bridge::with_text;
use crate::buffer::with_buffer;
use crate::to_py;

/// Milliseconds on this process's monotonic clock (the default `now_ms`).
fn monotonic_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOADS.import(py, "json", "loads")?.call1((text,))
}

fn json_dumps(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    DUMPS.import(obj.py(), "json", "dumps")?.call1((obj,))?.extract()
}

/// One phone call's protocol state, with no I/O: messages and the time in,
/// messages to send and events out. The same engine as the Rust crate's
/// `teledsp::call::Call` and the Node package's `Call`.
///
/// Keyword settings (all optional): telephony ("twilio", "telnyx", "plivo",
/// "vonage", "exotel" or "signalwire"), model ("openai", "azure", "gemini"
/// or "elevenlabs"), api ("ga" or "beta": OpenAI's interface), audio (the
/// model side's format: "pcm24k", "pcm16k", "pcmu" or "pcma", or OpenAI's
/// own names), model_id (Gemini's model), quality (resampler preset), instructions,
/// voice, tools (the session's tools list), turn_detection (OpenAI's object,
/// or None for manual turns), local_vad (barge in on teledsp's VAD onset
/// too), echo_loss_db (caller audio this much quieter than the agent's
/// playing audio is taken for line echo; default 6, 0 is off), echo_cancel
/// (teledsp's echo canceller on the caller's audio, for the local VAD;
/// default False), echo_cancel_to_model (the model gets the cancelled
/// audio too; default False), hold_ms (caller audio held until
/// open_model, default 1000), resume_false_interruptions (pause on the
/// caller's sound, then commit the barge-in after commit_after_ms of speech
/// or resume from what was heard, rewound up to resume_rewind_ms; needs
/// local_vad; default False).
///
/// Every method returns a list of ``(target, payload)`` pairs, in order:
/// "media", "mark" and "clear" (text for the phone), "model" (text for the
/// model), "event" (a dict for the application: started, dtmf, stopped,
/// tool_call, barge_in, paused, resumed, model_error). ``now_ms`` is monotonic milliseconds;
/// when omitted, this process's monotonic clock is used (pass it always or
/// never).
///
/// >>> import teledsp
/// >>> call = teledsp.Call(instructions="Be brief.")
/// >>> call.receive_phone('{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}', 0)[0][1]["type"]
/// 'started'
/// >>> [t for t, _ in call.open_model(0)]
/// ['model']
/// >>> delta = '{"type":"response.output_audio.delta","item_id":"A","response_id":"R","delta":"%s"}' % ("AAAA" * 1600)
/// >>> [t for t, _ in call.receive_model(delta, 10)]
/// ['media', 'media', 'media', 'media', 'media', 'mark']
/// >>> out = call.receive_model('{"type":"input_audio_buffer.speech_started"}', 50)
/// >>> [t for t, _ in out], out[1][1]
/// (['clear', 'model', 'event'], '{"audio_end_ms":40,"content_index":0,"item_id":"A","type":"conversation.item.truncate"}')
#[pyclass(module = "teledsp", name = "Call")]
pub struct PyCall {
    inner: Call,
    out: Vec<Output>,
}

/// Outputs as a list of ``(target, payload)`` tuples, draining `out`: the
/// one place both call objects' outputs become Python values.
fn take<'py>(py: Python<'py>, out: &mut Vec<Output>) -> PyResult<Bound<'py, PyList>> {
    static NAMES: PyOnceLock<[Py<PyString>; 6]> = PyOnceLock::new();
    let names = NAMES.get_or_init(py, || {
        ["media", "mark", "clear", "model", "event", "caller_audio"].map(|n| PyString::intern(py, n).unbind())
    });
    let list = PyList::empty(py);
    for o in out.drain(..) {
        let (name, payload) = match o {
            Output::Phone { kind, text } => {
                let i = match kind {
                    PhoneKind::Media => 0,
                    PhoneKind::Mark => 1,
                    PhoneKind::Clear => 2,
                };
                (&names[i], PyString::new(py, &text).into_any())
            }
            Output::Model(text) => (&names[3], PyString::new(py, &text).into_any()),
            Output::Event(e) => (&names[4], json_loads(py, &e.to_json())?),
            Output::CallerAudio(b) => (&names[5], PyBytes::new(py, &b).into_any()),
            // Binary audio (Vonage): send it as a binary message.
            Output::PhoneBinary(b) => (&names[0], PyBytes::new(py, &b).into_any()),
        };
        list.append(PyTuple::new(py, [name.bind(py).clone().into_any(), payload])?)?;
    }
    Ok(list)
}

/// A config from keyword arguments, by way of the crate's JSON form.
fn config<T: Default>(kw: Option<&Bound<'_, PyDict>>, parse: fn(&str) -> Result<T, teledsp::Error>) -> PyResult<T> {
    match kw {
        Some(d) => parse(&json_dumps(d.as_any())?).map_err(to_py),
        None => Ok(T::default()),
    }
}

fn custom_parameters<'py>(py: Python<'py>, stream: Option<&Stream>) -> PyResult<Bound<'py, PyAny>> {
    let text = match stream {
        Some(s) => serde_json::Value::Object(s.custom_parameters.clone()).to_string(),
        None => "{}".into(),
    };
    json_loads(py, &text)
}

fn counters<'py>(py: Python<'py>, c: teledsp::call::Counters) -> PyResult<Bound<'py, PyAny>> {
    json_loads(py, &serde_json::to_string(&c).expect("counters serialize"))
}

impl PyCall {
    /// The stream, once `start` came (for `Gate.admit`).
    pub(crate) fn stream(&self) -> Option<&Stream> {
        self.inner.stream()
    }
}

#[pymethods]
impl PyCall {
    #[new]
    #[pyo3(signature = (**config))]
    fn new(config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let cfg = self::config(config, CallConfig::from_json)?;
        Ok(PyCall { inner: Call::new(cfg).map_err(to_py)?, out: Vec::new() })
    }

    /// One message from the phone (str or UTF-8 bytes). A malformed one
    /// raises MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (message, now_ms = None))]
    fn receive_phone<'py>(&mut self, message: &Bound<'py, PyAny>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_text(message, |m| self.inner.receive_phone(m, now, &mut self.out).map_err(to_py))?;
        take(message.py(), &mut self.out)
    }

    /// One binary message from the phone (Vonage's audio). A malformed
    /// one, or any from a protocol that sends only text, raises
    /// MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (data, now_ms = None))]
    fn receive_phone_binary<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        self.inner.receive_phone_binary(data, now, &mut self.out).map_err(to_py)?;
        take(py, &mut self.out)
    }

    /// One event from the model (str or UTF-8 bytes). A malformed one
    /// raises MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (message, now_ms = None))]
    fn receive_model<'py>(&mut self, message: &Bound<'py, PyAny>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_text(message, |m| self.inner.receive_model(m, now, &mut self.out).map_err(to_py))?;
        take(message.py(), &mut self.out)
    }

    /// One binary frame from the model (Gemini Live sends its JSON in
    /// binary frames): the same as receive_model; bytes that are not UTF-8
    /// raise MalformedMessageError, are counted, and change nothing.
    #[pyo3(signature = (data, now_ms = None))]
    fn receive_model_binary<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        self.inner.receive_model_binary(data, now, &mut self.out).map_err(to_py)?;
        take(py, &mut self.out)
    }

    /// The model connection is open: session.update, then the caller audio
    /// held meanwhile.
    #[pyo3(signature = (now_ms = None))]
    fn open_model<'py>(&mut self, py: Python<'py>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        self.inner.open_model(now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        take(py, &mut self.out)
    }

    /// The application's own barge-in (a detector of its own, a button).
    #[pyo3(signature = (now_ms = None))]
    fn barge_in<'py>(&mut self, py: Python<'py>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        self.inner.barge_in(now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        take(py, &mut self.out)
    }

    /// The output of tool call ``call_id``: sent to the model, followed by
    /// response.create once no call of the turn is pending and no response
    /// is in progress. Raises UnknownToolCallError for a call id that is not pending.
    #[pyo3(signature = (call_id, output, now_ms = None))]
    fn tool_result<'py>(
        &mut self,
        py: Python<'py>,
        call_id: &str,
        output: &str,
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        self.inner.tool_result(call_id, output, now, &mut self.out).map_err(to_py)?;
        take(py, &mut self.out)
    }

    /// Milliseconds of item ``item_id`` the caller has heard, if it is tracked.
    #[pyo3(signature = (item_id, now_ms = None))]
    fn heard_ms(&self, item_id: &str, now_ms: Option<u64>) -> Option<u64> {
        self.inner.heard_ms(item_id, now_ms.unwrap_or_else(monotonic_ms))
    }

    /// Twilio's streamSid, once the stream started.
    #[getter]
    fn stream_sid(&self) -> Option<&str> {
        self.inner.stream().map(|s| s.stream_sid.as_str())
    }
    /// Twilio's callSid, from start.
    #[getter]
    fn call_sid(&self) -> Option<&str> {
        self.inner.stream().and_then(|s| s.call_sid.as_deref())
    }
    /// The TwiML <Parameter>s from start, as a dict.
    #[getter]
    fn custom_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        custom_parameters(py, self.inner.stream())
    }
    /// Whether the phone stream ended.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.stopped()
    }
    /// Whether open_model was called.
    #[getter]
    fn model_open(&self) -> bool {
        self.inner.model_open()
    }
    /// Whether the model confirmed the session settings (session.updated).
    #[getter]
    fn model_ready(&self) -> bool {
        self.inner.model_ready()
    }
    /// Whether a model response is in progress.
    #[getter]
    fn responding(&self) -> bool {
        self.inner.responding()
    }
    /// Whether the agent is paused on a caller's sound (resume_false_interruptions).
    #[getter]
    fn paused(&self) -> bool {
        self.inner.paused()
    }
    /// The environment variable the model API's key is read from
    /// (OPENAI_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY or ELEVENLABS_API_KEY).
    #[getter]
    fn model_key_env(&self) -> &'static str {
        self.inner.config().model.key_env()
    }
    /// The headers of the model socket's upgrade for ``api_key``, as
    /// (name, value) pairs: the API's key header, and OpenAI's beta header
    /// for api="beta".
    ///
    /// >>> teledsp.Call(model="azure").model_headers("k")
    /// [('api-key', 'k')]
    fn model_headers(&self, api_key: &str) -> Vec<(&'static str, String)> {
        self.inner.config().model_headers(api_key)
    }
    /// The call's counters, as a dict.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        counters(py, self.inner.counters())
    }
}

/// A cascaded agent's call (speech-to-text -> LLM -> text-to-speech), with
/// no I/O: the phone's messages, the TTS audio per utterance and the time
/// in; frames and marks for the phone, caller audio for the recogniser and
/// barge-ins out. The same engine as the Rust crate's
/// `teledsp::call::Pipeline` and the Node package's `Pipeline`.
///
/// Keyword settings (all optional): encoding ("linear16" or "mulaw", the
/// TTS audio's), sample_rate (8000, 16000, 24000 or 48000; 8000 for
/// mulaw), quality (resampler preset), local_vad (barge in on teledsp's
/// VAD onset in the caller's audio; default True), echo_loss_db (caller
/// audio this much quieter than the agent's playing audio is taken for line
/// echo; default 6, 0 is off), echo_cancel (teledsp's echo canceller on
/// the caller's audio: the VAD and "caller_audio" get the cancelled audio;
/// default False), resume_false_interruptions (pause on the caller's sound:
/// commit after commit_after_ms of speech or on barge_in, else resume from
/// what was heard, rewound up to resume_rewind_ms; default False).
///
/// Methods return ``(target, payload)`` pairs as ``Call``'s do, with
/// "caller_audio" (bytes: 8 kHz mu-law for the recogniser) in place of
/// "model". A barge_in event lists each utterance not wholly heard with its
/// heard_ms and action ("truncate": keep what was heard in the LLM history;
/// "delete": nothing was); stop the TTS then (Deepgram ``Clear``): audio
/// of those utterances still in flight is dropped here.
///
/// >>> import teledsp
/// >>> call = teledsp.Pipeline(encoding="linear16", sample_rate=24000)
/// >>> call.receive_phone('{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}', 0)[0][1]["type"]
/// 'started'
/// >>> call.receive_phone('{"event":"media","media":{"payload":"/////w=="}}', 5)
/// [('caller_audio', b'\xff\xff\xff\xff')]
/// >>> [t for t, _ in call.push_audio("u1", bytes(4800), 10)]
/// ['media', 'media', 'media', 'media', 'media', 'mark']
/// >>> out = call.barge_in(50)
/// >>> [t for t, _ in out], [(i["item_id"], i["heard_ms"], i["action"]) for i in out[1][1]["items"]]
/// (['clear', 'event'], [('u1', 40, 'truncate')])
#[pyclass(module = "teledsp", name = "Pipeline")]
pub struct PyPipeline {
    inner: Pipeline,
    out: Vec<Output>,
}

impl PyPipeline {
    /// The stream, once `start` came (for `Gate.admit`).
    pub(crate) fn stream(&self) -> Option<&Stream> {
        self.inner.stream()
    }
}

#[pymethods]
impl PyPipeline {
    #[new]
    #[pyo3(signature = (**config))]
    fn new(config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let cfg = self::config(config, PipelineConfig::from_json)?;
        Ok(PyPipeline { inner: Pipeline::new(cfg).map_err(to_py)?, out: Vec::new() })
    }

    /// One message from the phone (str or UTF-8 bytes). A malformed one
    /// raises MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (message, now_ms = None))]
    fn receive_phone<'py>(&mut self, message: &Bound<'py, PyAny>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_text(message, |m| self.inner.receive_phone(m, now, &mut self.out).map_err(to_py))?;
        take(message.py(), &mut self.out)
    }

    /// One binary message from the phone (Vonage's audio). A malformed
    /// one, or any from a protocol that sends only text, raises
    /// MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (data, now_ms = None))]
    fn receive_phone_binary<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        self.inner.receive_phone_binary(data, now, &mut self.out).map_err(to_py)?;
        take(py, &mut self.out)
    }

    /// The application will speak utterance ``utterance_id``: a barge-in
    /// before its audio comes deletes it and drops its audio. Optional.
    #[pyo3(signature = (utterance_id, now_ms = None))]
    fn begin_utterance(&mut self, utterance_id: &str, now_ms: Option<u64>) {
        self.inner.begin_utterance(utterance_id, now_ms.unwrap_or_else(monotonic_ms));
    }

    /// TTS audio (bytes-like, in the configured encoding and rate) of
    /// utterance ``utterance_id``: whole 20 ms frames to the phone, with a
    /// mark. Audio of an interrupted utterance is dropped and counted.
    /// Odd-length linear16 raises InvalidLengthError.
    #[pyo3(signature = (utterance_id, audio, now_ms = None))]
    fn push_audio<'py>(
        &mut self,
        utterance_id: &str,
        audio: &Bound<'py, PyAny>,
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_buffer(audio, |b| self.inner.push_audio(utterance_id, b.bytes(), now, &mut self.out).map_err(to_py))?;
        take(audio.py(), &mut self.out)
    }

    /// Utterance ``utterance_id`` has no more audio: its tail goes out.
    #[pyo3(signature = (utterance_id, now_ms = None))]
    fn end_utterance<'py>(
        &mut self,
        py: Python<'py>,
        utterance_id: &str,
        now_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.inner.end_utterance(utterance_id, now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        take(py, &mut self.out)
    }

    /// The application's own barge-in (an interim transcript, a button).
    #[pyo3(signature = (now_ms = None))]
    fn barge_in<'py>(&mut self, py: Python<'py>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        self.inner.barge_in(now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        take(py, &mut self.out)
    }

    /// Whether something of the agent's is not wholly heard (the rule for
    /// barging in on an interim transcript).
    #[pyo3(signature = (now_ms = None))]
    fn speaking(&self, now_ms: Option<u64>) -> bool {
        self.inner.speaking(now_ms.unwrap_or_else(monotonic_ms))
    }

    /// Milliseconds of utterance ``utterance_id`` the caller has heard, if it is tracked.
    #[pyo3(signature = (utterance_id, now_ms = None))]
    fn heard_ms(&self, utterance_id: &str, now_ms: Option<u64>) -> Option<u64> {
        self.inner.heard_ms(utterance_id, now_ms.unwrap_or_else(monotonic_ms))
    }

    /// Milliseconds of ``[from_ms, to_ms)`` of caller audio (from the
    /// stream's first sample, as a recogniser's timestamps count) in which
    /// the caller was heard: VAD speech louder than the echo guard allows
    /// the agent's own voice. A transcript of a span with none is echo.
    fn caller_speech_ms(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.inner.caller_speech_ms(from_ms, to_ms)
    }

    /// Twilio's streamSid, once the stream started.
    #[getter]
    fn stream_sid(&self) -> Option<&str> {
        self.inner.stream().map(|s| s.stream_sid.as_str())
    }
    /// Twilio's callSid, from start.
    #[getter]
    fn call_sid(&self) -> Option<&str> {
        self.inner.stream().and_then(|s| s.call_sid.as_deref())
    }
    /// The TwiML <Parameter>s from start, as a dict.
    #[getter]
    fn custom_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        custom_parameters(py, self.inner.stream())
    }
    /// Whether the agent is paused on a caller's sound (resume_false_interruptions).
    #[getter]
    fn paused(&self) -> bool {
        self.inner.paused()
    }
    /// Whether the phone stream ended.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.stopped()
    }
    /// The call's counters, as a dict (deltas_dropped: TTS chunks dropped).
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        counters(py, self.inner.counters())
    }
}

/// Checks ``X-Twilio-Signature`` with an account's auth token, by the
/// algorithm of twilio-python's RequestValidator: HMAC-SHA1 of the full URL
/// and the sorted POST parameters, base64, compared in constant time, with
/// and without the URL's default port.
///
/// >>> import teledsp
/// >>> v = teledsp.RequestValidator("12345")
/// >>> sig = v.sign("https://relay.example.com/twiml", {"CallSid": "CA1"})
/// >>> v.validate("https://relay.example.com:443/twiml", {"CallSid": "CA1"}, sig)
/// True
/// >>> v.validate("https://relay.example.com/twiml", {}, sig)
/// False
#[pyclass(module = "teledsp", name = "RequestValidator", frozen)]
pub struct PyRequestValidator {
    inner: RequestValidator,
}

/// POST parameters: a mapping, or pairs; None is none.
fn params(p: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    match p {
        None => Ok(Vec::new()),
        Some(p) if p.is_none() => Ok(Vec::new()),
        Some(p) => match p.cast::<PyDict>() {
            Ok(d) => d.iter().map(|(k, v)| Ok((k.extract()?, v.extract()?))).collect(),
            Err(_) => p.extract(),
        },
    }
}

#[pymethods]
impl PyRequestValidator {
    #[new]
    fn new(auth_token: &str) -> Self {
        PyRequestValidator { inner: RequestValidator::new(auth_token) }
    }

    /// The signature Twilio sends for ``url`` and POST ``params``.
    #[pyo3(signature = (url, params = None))]
    fn sign(&self, url: &str, params: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        Ok(self.inner.sign(url, &self::params(params)?))
    }

    /// Whether ``signature`` is Twilio's for ``url`` and ``params``.
    #[pyo3(signature = (url, params, signature))]
    fn validate(&self, url: &str, params: Option<&Bound<'_, PyAny>>, signature: &str) -> PyResult<bool> {
        Ok(self.inner.validate(url, &self::params(params)?, signature))
    }

    fn __repr__(&self) -> &'static str {
        "RequestValidator(<token redacted>)"
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCall>()?;
    m.add_class::<PyPipeline>()?;
    m.add_class::<PyRequestValidator>()
}
