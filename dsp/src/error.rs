//! The crate's one error type.

use core::fmt;

use crate::isa::Isa;

/// Everything that can go wrong in teledsp. Variants carry the expected and
/// actual values so the message says exactly what was wrong.
///
/// ```
/// use teledsp::{g711, Error};
/// let mut out = [0u8; 3];
/// let err = g711::ulaw_encode(&[0i16; 4], &mut out).unwrap_err();
/// assert_eq!(err, Error::LengthMismatch { expected: 4, actual: 3 });
/// assert_eq!(err.to_string(), "output buffer holds 3 samples, 4 needed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The output slice does not have the length the input requires.
    LengthMismatch {
        /// Length the output must have.
        expected: usize,
        /// Length it has.
        actual: usize,
    },
    /// An explicit instruction set was asked for that this CPU (or build) lacks.
    IsaUnavailable(Isa),
    /// The output slice is shorter than the samples the call produces.
    OutputTooSmall {
        /// Samples the call writes.
        needed: usize,
        /// Room the output slice has.
        actual: usize,
    },
    /// A resampler was asked for a rate pair it does not support.
    UnsupportedRate {
        /// Requested input rate, Hz.
        in_rate: u32,
        /// Requested output rate, Hz.
        out_rate: u32,
    },
    /// A setting given by name (quality preset, API flavour, audio format)
    /// that does not exist.
    UnknownName {
        /// Which setting.
        setting: &'static str,
        /// The names it takes.
        expected: &'static str,
        /// The name given.
        actual: String,
    },
    /// A protocol message that could not be used.
    Malformed {
        /// Which message or field was wrong.
        what: &'static str,
        /// The parser's account of it (serde_json's or base64's), or empty.
        detail: String,
    },
    /// A frame of the wrong length was handed to a per-frame processor.
    FrameLength {
        /// Samples per frame the processor was built for.
        expected: usize,
        /// Samples the frame has.
        actual: usize,
    },
    /// A component was asked for a sample rate it does not take.
    UnsupportedSampleRate {
        /// Requested rate, Hz.
        rate: u32,
        /// The rates it takes, Hz.
        supported: &'static [u32],
    },
    /// A frame size in bytes that is zero or not a whole number of samples.
    InvalidFrameSize {
        /// Requested frame size, bytes.
        frame_bytes: usize,
        /// Bytes per sample of the format.
        sample_bytes: usize,
    },
    /// A configuration that does not parse (unknown field, wrong type).
    InvalidConfig(String),
    /// A tool result for a call id the model has no pending call with.
    UnknownToolCall {
        /// The id given.
        call_id: String,
    },
    /// A frame duration the framer does not support.
    UnsupportedFrame {
        /// Requested duration, ms.
        frame_ms: u32,
        /// The durations it takes, ms.
        supported: &'static [u32],
    },
    /// CPython `audioop`'s own error, with its message (`teledsp::audioop`
    /// reproduces that module, errors included).
    Audioop(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Audioop(msg) => f.write_str(msg),
            Error::LengthMismatch { expected, actual } => {
                write!(f, "output buffer holds {actual} samples, {expected} needed")
            }
            Error::IsaUnavailable(isa) => {
                write!(f, "instruction set {isa} is not available on this CPU")
            }
            Error::OutputTooSmall { needed, actual } => {
                write!(f, "output buffer holds {actual} samples, this call writes {needed}")
            }
            Error::UnsupportedRate { in_rate, out_rate } => write!(
                f,
                "unsupported rate pair {in_rate} -> {out_rate} Hz; supported: 8000, 16000, 24000 and 48000 Hz in any pair"
            ),
            Error::Malformed { what, detail } if detail.is_empty() => f.write_str(what),
            Error::Malformed { what, detail } => write!(f, "{what}: {detail}"),
            Error::UnsupportedFrame { frame_ms, supported } => {
                write!(f, "unsupported frame duration {frame_ms} ms; supported: {supported:?} ms")
            }
            Error::FrameLength { expected, actual } => {
                write!(f, "frame has {actual} samples, {expected} expected")
            }
            Error::UnsupportedSampleRate { rate, supported } => {
                write!(f, "unsupported sample rate {rate} Hz; supported: {supported:?} Hz")
            }
            Error::InvalidFrameSize { frame_bytes, sample_bytes } => {
                write!(f, "frame size {frame_bytes} bytes is not a positive multiple of the {sample_bytes}-byte sample")
            }
            Error::InvalidConfig(detail) => write!(f, "invalid call config: {detail}"),
            Error::UnknownToolCall { call_id } => {
                write!(f, "no tool call {call_id:?} is pending (answered already, or never made)")
            }
            Error::UnknownName { setting, expected, actual } => {
                write!(f, "unknown {setting} {actual:?}; expected one of: {expected}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// A [`Error::Malformed`] with no further detail (for code that handles
    /// messages around the bridge, as a relay does).
    ///
    /// ```
    /// let e = teledsp::Error::malformed("function call without call_id");
    /// assert_eq!(e.to_string(), "function call without call_id");
    /// ```
    pub fn malformed(what: &'static str) -> Self {
        Error::Malformed { what, detail: String::new() }
    }
    /// A [`Error::Malformed`] carrying the parser's message.
    ///
    /// ```
    /// let e = teledsp::Error::malformed_by("event is not JSON", "expected value at line 1 column 1");
    /// assert_eq!(e.to_string(), "event is not JSON: expected value at line 1 column 1");
    /// ```
    pub fn malformed_by(what: &'static str, cause: impl fmt::Display) -> Self {
        Error::Malformed { what, detail: cause.to_string() }
    }
}

/// Returns `LengthMismatch` unless `actual == expected`.
#[inline]
pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual { Ok(()) } else { Err(Error::LengthMismatch { expected, actual }) }
}
