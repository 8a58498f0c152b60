//! `teledsp.Gate` (`teledsp::providers::Gate`): the answer webhooks, the
//! `/media` upgrade and the call-token check, as the Rust relay does them.

use pyo3::prelude::*;
use teledsp::call::Telephony;
use teledsp::providers::{Gate, GateConfig, Request, Upgrade};

use crate::call::{PyCall, PyPipeline};
use crate::to_py;

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Headers: a mapping (its ``items()``: Starlette's, Flask's, a dict) or
/// ``(name, value)`` pairs.
fn headers(h: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    if h.is_none() {
        return Ok(Vec::new());
    }
    let pairs = if h.hasattr("items")? { h.call_method0("items")? } else { h.clone() };
    pairs.try_iter()?.map(|p| p?.extract::<(String, String)>()).collect()
}

/// The answer to an answer webhook: ``status``, ``content_type``, ``body``
/// (the document, or a line that says what was wrong) and ``refused`` (why
/// a signature was refused, for the log; else None).
#[pyclass(module = "teledsp", name = "Reply", frozen, get_all)]
pub struct PyReply {
    status: u16,
    content_type: &'static str,
    body: String,
    refused: Option<String>,
}

#[pymethods]
impl PyReply {
    fn __repr__(&self) -> String {
        format!("Reply(status={}, content_type={:?})", self.status, self.content_type)
    }
}

/// What a ``/media`` upgrade gets: ``refused`` (close it with 1008 and this
/// reason; None: take the stream) and ``bearer`` (SignalWire's token, for
/// ``Gate.admit``).
#[pyclass(module = "teledsp", name = "Upgrade", frozen, get_all)]
pub struct PyUpgrade {
    refused: Option<&'static str>,
    bearer: Option<String>,
}

/// What a relay checks and answers before a call's media flows, for one
/// telephony provider: its answer webhook (``/twiml``, ``/texml`` or
/// ``/answer``: signature, document, call token), the ``/media`` upgrade,
/// and the stream's ``start`` (the call token). ``secret`` is the value of
/// the provider's variable (``Gate.secret_env(telephony)``); without one it
/// raises ConfigError unless ``insecure_no_signature``.
///
/// >>> import teledsp
/// >>> gate = teledsp.Gate("plivo", "https://relay.example.com", insecure_no_signature=True)
/// >>> r = gate.answer("POST", "/answer", {}, b"CallUUID=c1")
/// >>> r.status, r.content_type, "wss://relay.example.com/media" in r.body
/// (200, 'text/xml', True)
/// >>> gate.answer("POST", "/twiml", {}, b"").status
/// 404
/// >>> teledsp.Gate("twilio", "https://relay.example.com")
/// Traceback (most recent call last):
///     ...
/// teledsp.ConfigError: invalid config: TWILIO_AUTH_TOKEN is not set: refusing to accept unsigned twilio requests (pass --insecure-no-signature for local development)
#[pyclass(module = "teledsp", name = "Gate", frozen)]
pub struct PyGate {
    inner: Gate,
}

#[pymethods]
impl PyGate {
    #[new]
    #[pyo3(signature = (telephony, public_url, secret = None, call_tokens = false, call_token_ttl = teledsp::providers::DEFAULT_CALL_TOKEN_TTL_S, insecure_no_signature = false))]
    fn new(
        telephony: &str,
        public_url: &str,
        secret: Option<&str>,
        call_tokens: bool,
        call_token_ttl: u64,
        insecure_no_signature: bool,
    ) -> PyResult<Self> {
        let t: Telephony = telephony.parse().map_err(to_py)?;
        let cfg = GateConfig::from_secret(t, public_url, secret, call_tokens, call_token_ttl, insecure_no_signature)
            .map_err(to_py)?;
        Ok(PyGate { inner: Gate::new(cfg) })
    }

    /// The variable that holds ``telephony``'s signing secret (None: Exotel
    /// signs nothing).
    #[staticmethod]
    fn secret_env(telephony: &str) -> PyResult<Option<&'static str>> {
        Ok(telephony.parse::<Telephony>().map_err(to_py)?.secret_env())
    }

    /// The provider's name.
    #[getter]
    fn telephony(&self) -> &'static str {
        self.inner.config().telephony.name()
    }

    /// Where its answer webhook is served (None for Exotel).
    #[getter]
    fn answer_path(&self) -> Option<&'static str> {
        teledsp::providers::answer_path(self.inner.config().telephony)
    }

    /// Whether streams need a call token at ``start``.
    #[getter]
    fn call_tokens(&self) -> bool {
        self.inner.config().call_tokens.is_some()
    }

    /// The answer to a request on an answer webhook (any of ``/twiml``,
    /// ``/texml``, ``/answer``: another provider's gets 404). ``path`` with
    /// its query, as received; ``now``: Unix seconds (default: the clock).
    #[pyo3(signature = (method, path, headers, body, now = None))]
    fn answer(
        &self,
        method: &str,
        path: &str,
        headers: &Bound<'_, PyAny>,
        body: &[u8],
        now: Option<u64>,
    ) -> PyResult<PyReply> {
        let h = self::headers(headers)?;
        let req = Request { method, path_and_query: path, headers: &h, body };
        let r = self.inner.answer(&req, now.unwrap_or_else(unix_now));
        Ok(PyReply { status: r.status, content_type: r.content_type, body: r.body, refused: r.refused })
    }

    /// Whether the ``/media`` upgrade of ``path`` (with its query) with
    /// ``headers`` may open a stream.
    fn upgrade(&self, path: &str, headers: &Bound<'_, PyAny>) -> PyResult<PyUpgrade> {
        Ok(match self.inner.upgrade(path, &self::headers(headers)?) {
            Upgrade::Accept { bearer } => PyUpgrade { refused: None, bearer },
            Upgrade::Refuse(why) => PyUpgrade { refused: Some(why), bearer: None },
        })
    }

    /// None if the started ``call`` (a Call or Pipeline) may run; else why
    /// not (close the stream with 1008). With call tokens, its token must
    /// be its call SID's and valid at ``now`` (Unix seconds).
    #[pyo3(signature = (call, bearer = None, now = None))]
    fn admit(&self, call: &Bound<'_, PyAny>, bearer: Option<&str>, now: Option<u64>) -> PyResult<Option<String>> {
        let now = now.unwrap_or_else(unix_now);
        let check = |s: Option<&teledsp::call::Stream>| match s {
            None => Some("the stream has not started".to_owned()),
            Some(s) => self.inner.admit(s, bearer, now).err(),
        };
        if let Ok(c) = call.cast::<PyCall>() {
            return Ok(check(c.borrow().stream()));
        }
        let p = call
            .cast::<PyPipeline>()
            .map_err(|_| pyo3::exceptions::PyTypeError::new_err("admit takes a teledsp.Call or teledsp.Pipeline"))?;
        Ok(check(p.borrow().stream()))
    }

    fn __repr__(&self) -> String {
        format!("Gate({:?}, <keys redacted>)", self.telephony())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGate>()?;
    m.add_class::<PyReply>()?;
    m.add_class::<PyUpgrade>()
}
