//! Node.js binding for teledsp (napi-rs v3).
//!
//! Thin by design: every DSP decision lives in the `teledsp` crate; this
//! crate converts JavaScript values to slices and `teledsp::Error` to JS
//! errors with a `code`. One module per concept, as in `dsp`:
//! [`g711`] (`mulaw`/`alaw` namespaces), [`resample`], [`frame`], [`vad`],
//! [`echo`], [`bridge`], [`call`]; [`js`] holds the typed-array plumbing they share.

use napi_derive::napi;

pub mod bridge;
pub mod call;
pub mod echo;
pub mod frame;
pub mod g711;
pub mod gate;
pub mod js;
mod raw;
pub mod resample;
pub mod vad;

// The PCM16 paths view little-endian bytes as native i16.
#[cfg(target_endian = "big")]
compile_error!("teledsp's Node binding assumes a little-endian target");

/// The `code` of every error this binding throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// A buffer of the wrong length: odd-length PCM16, a VAD frame of the
    /// wrong size, an output too small, lengths that must match.
    InvalidLength,
    /// A sample rate or rate pair teledsp does not take.
    UnsupportedRate,
    /// A Twilio or OpenAI message that is not the JSON, base64 or audio it should be.
    Malformed,
    /// A setting teledsp does not take: frame size, quality preset, API name.
    Config,
    /// A tool result for a call id the model has no pending call with.
    UnknownToolCall,
    /// An argument of the wrong JavaScript type.
    ArgType,
    /// A number outside the range it must be in (a sample, a code).
    OutOfRange,
    /// A Node-API call failed (out of memory, a terminating environment).
    Internal,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidLength => "ERR_TELEDSP_INVALID_LENGTH",
            Code::UnsupportedRate => "ERR_TELEDSP_UNSUPPORTED_RATE",
            Code::Malformed => "ERR_TELEDSP_MALFORMED",
            Code::Config => "ERR_TELEDSP_CONFIG",
            Code::UnknownToolCall => "ERR_TELEDSP_UNKNOWN_TOOL_CALL",
            // Node's own code for the same mistake.
            Code::ArgType => "ERR_INVALID_ARG_TYPE",
            Code::OutOfRange => "ERR_OUT_OF_RANGE",
            Code::Internal => "ERR_TELEDSP_INTERNAL",
        }
    }
}

/// This binding's error: a message and a [`Code`].
pub type Error = napi::Error<Code>;
/// This binding's result.
pub type Result<T> = std::result::Result<T, Error>;

/// An error with `code` and `message`.
pub fn err(code: Code, msg: impl ToString) -> Error {
    napi::Error::new(code, msg)
}

/// `teledsp::Error` as a JS error with the matching code and the crate's
/// message: the crate classifies ([`teledsp::ErrorKind`]), this maps each
/// class to its code. The one place errors cross into JS.
pub fn to_js(e: teledsp::Error) -> Error {
    use teledsp::ErrorKind as K;
    let code = match e.kind() {
        K::InvalidLength => Code::InvalidLength,
        K::UnsupportedRate => Code::UnsupportedRate,
        K::Malformed => Code::Malformed,
        K::Config => Code::Config,
        K::UnknownToolCall => Code::UnknownToolCall,
        _ => Code::Internal,
    };
    err(code, e)
}

/// A failed Node-API call as an `ERR_TELEDSP_INTERNAL` error.
pub fn internal(e: napi::Error) -> Error {
    err(Code::Internal, format!("Node-API call failed: {e}"))
}

/// The SIMD instruction set the kernels use on this CPU: "avx512", "avx2",
/// "neon" or "scalar".
///
/// ```js
/// const { isa } = require('teledsp');
/// console.log(isa()); // e.g. 'avx512'
/// ```
#[napi]
pub fn isa() -> String {
    teledsp::Isa::detect().to_string()
}
