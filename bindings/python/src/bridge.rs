//! The Twilio Media Streams <-> OpenAI Realtime hot path, one call per message.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyString};
use teledsp::bridge::{BridgeConfig, TwilioBridge};

use crate::buffer::with_buffer;
use crate::{MalformedMessageError, to_py};

/// A text message as `&str`: str as is, bytes-like checked as UTF-8.
pub(crate) fn with_text<R>(message: &Bound<'_, PyAny>, f: impl FnOnce(&str) -> PyResult<R>) -> PyResult<R> {
    if let Ok(s) = message.cast::<PyString>() {
        return f(s.to_str()?);
    }
    with_buffer(message, |buf| {
        let text = std::str::from_utf8(buf.bytes())
            .map_err(|e| MalformedMessageError::new_err(format!("message is not UTF-8 text: {e}")))?;
        f(text)
    })
}

/// One call's bridge between Twilio Media Streams and OpenAI Realtime.
///
/// `twilio_to_openai(msg)` takes one Twilio message (str or bytes) and
/// returns the `input_audio_buffer.append` JSON to send to OpenAI (base64
/// decode, mu-law decode, 8->24 kHz, base64 encode and JSON in one native
/// call), or None for messages without audio; `start`, `mark` and `stop`
/// update the state properties.
///
/// `openai_to_twilio(msg)` takes one OpenAI server event and returns the
/// Twilio messages to send: for an audio delta, exact 160-byte (20 ms)
/// `media` frames (the remainder waits for the next delta) then one `mark`;
/// for `input_audio_buffer.speech_started`, a `clear` (barge-in).
///
/// api: "ga" (`response.output_audio.delta`) or "beta"
/// (`response.audio.delta`). audio: "pcm24k" (OpenAI `audio/pcm`, resampled
/// here) or "pcmu" (OpenAI `audio/pcmu`, passed through). quality: the
/// resampler preset.
///
/// >>> import teledsp, json
/// >>> b = teledsp.TwilioBridge()
/// >>> b.twilio_to_openai('{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}') is None
/// True
/// >>> out = b.twilio_to_openai('{"event":"media","media":{"payload":"/w=="}}')
/// >>> json.loads(out)["type"], b.stream_sid
/// ('input_audio_buffer.append', 'MZ1')
#[pyclass(module = "teledsp", name = "TwilioBridge")]
pub struct PyTwilioBridge {
    inner: TwilioBridge,
}

#[pymethods]
impl PyTwilioBridge {
    #[new]
    #[pyo3(signature = (api = "ga", audio = "pcm24k", quality = "telephony"))]
    fn new(api: &str, audio: &str, quality: &str) -> PyResult<Self> {
        let cfg = BridgeConfig {
            api: api.parse().map_err(to_py)?,
            audio: audio.parse().map_err(to_py)?,
            quality: quality.parse().map_err(to_py)?,
        };
        Ok(PyTwilioBridge { inner: TwilioBridge::new(cfg).map_err(to_py)? })
    }

    /// One Twilio message in; the OpenAI message to send, or None.
    fn twilio_to_openai<'py>(&mut self, message: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyString>>> {
        let py = message.py();
        let out = with_text(message, |m| self.inner.twilio_to_openai(m).map_err(to_py))?;
        Ok(out.map(|s| PyString::new(py, &s)))
    }

    /// One OpenAI server event in; the Twilio messages to send, in order.
    fn openai_to_twilio<'py>(&mut self, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = message.py();
        let out = with_text(message, |m| self.inner.openai_to_twilio(m).map_err(to_py))?;
        PyList::new(py, out)
    }

    /// Twilio's streamSid, once known.
    #[getter]
    fn stream_sid(&self) -> Option<&str> {
        self.inner.stream_sid()
    }
    /// Twilio's callSid, from `start`.
    #[getter]
    fn call_sid(&self) -> Option<&str> {
        self.inner.call_sid()
    }
    /// The TwiML `<Parameter>`s from `start`, as a dict.
    #[getter]
    fn custom_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let text = serde_json::to_string(self.inner.custom_parameters()).map_err(|e| to_py_json(&e))?;
        LOADS.import(py, "json", "loads")?.call1((text,))
    }
    /// The last mark name Twilio echoed back (audio played up to there).
    #[getter]
    fn last_mark(&self) -> Option<&str> {
        self.inner.last_mark()
    }
    /// Marks sent to Twilio so far.
    #[getter]
    fn marks_sent(&self) -> u64 {
        self.inner.marks_sent()
    }
    /// Whether Twilio sent `stop`.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.stopped()
    }
}

fn to_py_json(e: &serde_json::Error) -> PyErr {
    MalformedMessageError::new_err(format!("custom parameters do not serialize: {e}"))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTwilioBridge>()
}
