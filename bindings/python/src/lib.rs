//! `teledsp._native`: the Python binding of the `teledsp` crate.
//!
//! Thin by design: every DSP decision lives in `teledsp`; this crate turns
//! Python buffers into slices, results into `bytes`/`str`, and
//! `teledsp::Error` into `ValueError` subclasses. One module per concept,
//! as in the crate.

// PCM crosses the boundary as little-endian bytes, read in place as i16.
#[cfg(target_endian = "big")]
compile_error!("teledsp's Python binding reads PCM16 little-endian bytes in place: little-endian hosts only");

mod audioop;
mod bridge;
mod buffer;
mod call;
mod echo;
mod frame;
mod g711;
mod gate;
mod raw;
mod resample;
mod vad;

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(teledsp, TeledspError, PyValueError, "Base of teledsp's errors; a ValueError.");
create_exception!(
    teledsp,
    InvalidLengthError,
    TeledspError,
    "A buffer, frame or frame size of the wrong length: odd-length PCM16, a VAD frame of the wrong size, a framer's frame size that is not a whole number of samples."
);
create_exception!(teledsp, UnsupportedRateError, TeledspError, "A sample rate or rate pair teledsp does not take.");
create_exception!(
    teledsp,
    MalformedMessageError,
    TeledspError,
    "A Twilio or OpenAI message that is not the JSON, base64 or audio it should be."
);
create_exception!(
    teledsp,
    UnknownToolCallError,
    TeledspError,
    "A tool result for a call id the model has no pending call with (answered already, or never made)."
);
create_exception!(
    teledsp,
    ConfigError,
    TeledspError,
    "A setting teledsp does not take: frame size or duration, quality preset, API name, audio width."
);

/// `teledsp::Error` as the matching Python exception, with the crate's
/// message: the crate classifies ([`teledsp::ErrorKind`]), this maps each
/// class to its exception. The one place errors cross into Python.
pub(crate) fn to_py(e: teledsp::Error) -> PyErr {
    use teledsp::ErrorKind as K;
    let msg = e.to_string();
    match e.kind() {
        K::InvalidLength => InvalidLengthError::new_err(msg),
        K::UnsupportedRate => UnsupportedRateError::new_err(msg),
        K::Malformed => MalformedMessageError::new_err(msg),
        K::Config => ConfigError::new_err(msg),
        K::UnknownToolCall => UnknownToolCallError::new_err(msg),
        // audioop.error is TeledspError itself, as the stdlib's is one class.
        _ => TeledspError::new_err(msg),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TeledspError", py.get_type::<TeledspError>())?;
    m.add("InvalidLengthError", py.get_type::<InvalidLengthError>())?;
    m.add("UnsupportedRateError", py.get_type::<UnsupportedRateError>())?;
    m.add("MalformedMessageError", py.get_type::<MalformedMessageError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("UnknownToolCallError", py.get_type::<UnknownToolCallError>())?;
    m.add("GIL_RELEASE_BYTES", buffer::GIL_RELEASE_BYTES)?;
    m.add("ISA", teledsp::Isa::detect().to_string())?;
    g711::register(m)?;
    audioop::register(m)?;
    resample::register(m)?;
    frame::register(m)?;
    vad::register(m)?;
    echo::register(m)?;
    bridge::register(m)?;
    call::register(m)?;
    gate::register(m)?;
    Ok(())
}
