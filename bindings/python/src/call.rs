//! The call engine (`teledsp::call`) and Twilio request signatures.

use std::sync::OnceLock;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use teledsp::call::{Call, CallConfig, Output, PhoneKind};
use teledsp::signature::RequestValidator;

use crate::bridge::with_text;
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
/// Keyword settings (all optional): api ("ga" or "beta"), audio ("pcm24k"
/// or "pcmu" on the model side), quality (resampler preset), instructions,
/// voice, tools (the session's tools list), turn_detection (OpenAI's object,
/// or None for manual turns), local_vad (barge in on teledsp's VAD onset
/// too), hold_ms (caller audio held until open_model, default 1000).
///
/// Every method returns a list of ``(target, payload)`` pairs, in order:
/// "media", "mark" and "clear" (text for the phone), "model" (text for the
/// model), "event" (a dict for the application: started, dtmf, stopped,
/// tool_call, barge_in, model_error). ``now_ms`` is monotonic milliseconds;
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

impl PyCall {
    /// The outputs gathered so far, as a list of (target, payload) tuples.
    fn take<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        static NAMES: PyOnceLock<[Py<PyString>; 5]> = PyOnceLock::new();
        let names = NAMES
            .get_or_init(py, || ["media", "mark", "clear", "model", "event"].map(|n| PyString::intern(py, n).unbind()));
        let list = PyList::empty(py);
        for o in self.out.drain(..) {
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
            };
            list.append(PyTuple::new(py, [name.bind(py).clone().into_any(), payload])?)?;
        }
        Ok(list)
    }
}

#[pymethods]
impl PyCall {
    #[new]
    #[pyo3(signature = (**config))]
    fn new(config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let cfg = match config {
            Some(d) => CallConfig::from_json(&json_dumps(d.as_any())?).map_err(to_py)?,
            None => CallConfig::default(),
        };
        Ok(PyCall { inner: Call::new(cfg).map_err(to_py)?, out: Vec::new() })
    }

    /// One message from the phone (str or UTF-8 bytes). A malformed one
    /// raises MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (message, now_ms = None))]
    fn receive_phone<'py>(&mut self, message: &Bound<'py, PyAny>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_text(message, |m| self.inner.receive_phone(m, now, &mut self.out).map_err(to_py))?;
        self.take(message.py())
    }

    /// One event from the model (str or UTF-8 bytes). A malformed one
    /// raises MalformedMessageError, is counted, and changes nothing.
    #[pyo3(signature = (message, now_ms = None))]
    fn receive_model<'py>(&mut self, message: &Bound<'py, PyAny>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        let now = now_ms.unwrap_or_else(monotonic_ms);
        with_text(message, |m| self.inner.receive_model(m, now, &mut self.out).map_err(to_py))?;
        self.take(message.py())
    }

    /// The model connection is open: session.update, then the caller audio
    /// held meanwhile.
    #[pyo3(signature = (now_ms = None))]
    fn open_model<'py>(&mut self, py: Python<'py>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        self.inner.open_model(now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        self.take(py)
    }

    /// The application's own barge-in (a detector of its own, a button).
    #[pyo3(signature = (now_ms = None))]
    fn barge_in<'py>(&mut self, py: Python<'py>, now_ms: Option<u64>) -> PyResult<Bound<'py, PyList>> {
        self.inner.barge_in(now_ms.unwrap_or_else(monotonic_ms), &mut self.out);
        self.take(py)
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
        self.take(py)
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
        let text = match self.inner.stream() {
            Some(s) => serde_json::Value::Object(s.custom_parameters.clone()).to_string(),
            None => "{}".into(),
        };
        json_loads(py, &text)
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
    /// The call's counters, as a dict.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, &serde_json::to_string(&self.inner.counters()).expect("counters serialize"))
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
    m.add_class::<PyRequestValidator>()
}
