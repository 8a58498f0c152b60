//! The crate's one error type.

use core::fmt;

use crate::isa::Isa;

/// Everything that can go wrong in teledsp. Variants carry the expected and
/// actual values so the message says exactly what was wrong.
///
/// ```
/// use teledsp::{g711, Error, Expected};
/// let mut out = [0u8; 3];
/// let err = g711::ulaw_encode(&[0i16; 4], &mut out).unwrap_err();
/// assert_eq!(err, Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(4), actual: 3 });
/// assert_eq!(err.to_string(), "output buffer has 3 samples, 4 expected");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A buffer, frame or frame size of the wrong length: an output slice
    /// that does not match its input or is too short for what the call
    /// writes, a frame a per-frame processor was not built for, a frame
    /// size that is not a whole number of samples.
    InvalidLength {
        /// What has the wrong length ("output buffer", "frame", "frame size").
        what: &'static str,
        /// The length it must have.
        expected: Expected,
        /// The length it has.
        actual: usize,
    },
    /// An explicit instruction set was asked for that this CPU (or build) lacks.
    IsaUnavailable(Isa),
    /// A sample rate, or a resampler's rate pair, that is not supported.
    UnsupportedRate {
        /// The rate asked for, Hz (a resampler's input rate).
        rate: u32,
        /// A resampler's output rate, Hz; `None` for a single-rate component.
        out_rate: Option<u32>,
        /// The rates it takes, Hz (a resampler takes any pair of them).
        supported: &'static [u32],
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
    /// A configuration that does not parse (unknown field, wrong type), or
    /// settings that do not go together (a provider without its secret).
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

/// The length an [`Error::InvalidLength`] buffer must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Exactly this many samples.
    Exactly(usize),
    /// At least this many samples (what the call writes).
    AtLeast(usize),
    /// A positive multiple of this many bytes (one sample).
    MultipleOf(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Audioop(msg) => f.write_str(msg),
            Error::InvalidLength { what, expected: Expected::Exactly(n), actual } => {
                write!(f, "{what} has {actual} samples, {n} expected")
            }
            Error::InvalidLength { what, expected: Expected::AtLeast(n), actual } => {
                write!(f, "{what} holds {actual} samples, this call writes {n}")
            }
            Error::InvalidLength { what, expected: Expected::MultipleOf(n), actual } => {
                write!(f, "{what} {actual} bytes is not a positive multiple of the {n}-byte sample")
            }
            Error::IsaUnavailable(isa) => {
                write!(f, "instruction set {isa} is not available on this CPU")
            }
            Error::UnsupportedRate { rate, out_rate: Some(out), supported } => {
                write!(f, "unsupported rate pair {rate} -> {out} Hz; supported: ")?;
                for (i, r) in supported.iter().enumerate() {
                    let sep = if i == 0 {
                        ""
                    } else if i + 1 == supported.len() {
                        " and "
                    } else {
                        ", "
                    };
                    write!(f, "{sep}{r}")?;
                }
                f.write_str(" Hz in any pair")
            }
            Error::UnsupportedRate { rate, out_rate: None, supported } => {
                write!(f, "unsupported sample rate {rate} Hz; supported: {supported:?} Hz")
            }
            Error::Malformed { what, detail } if detail.is_empty() => f.write_str(what),
            Error::Malformed { what, detail } => write!(f, "{what}: {detail}"),
            Error::UnsupportedFrame { frame_ms, supported } => {
                write!(f, "unsupported frame duration {frame_ms} ms; supported: {supported:?} ms")
            }
            Error::InvalidConfig(detail) => write!(f, "invalid config: {detail}"),
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

/// The class of an [`Error`], the one classification the bindings map to
/// their own types: Python exception classes (`InvalidLengthError`, ...) and
/// Node error codes (`ERR_TELEDSP_INVALID_LENGTH`, ...), one for one.
///
/// ```
/// use teledsp::{Error, ErrorKind};
/// assert_eq!(Error::malformed("bad").kind(), ErrorKind::Malformed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::InvalidLength`].
    InvalidLength,
    /// [`Error::UnsupportedRate`].
    UnsupportedRate,
    /// [`Error::Malformed`].
    Malformed,
    /// A setting teledsp does not take: [`Error::UnsupportedFrame`],
    /// [`Error::UnknownName`], [`Error::InvalidConfig`].
    Config,
    /// [`Error::UnknownToolCall`].
    UnknownToolCall,
    /// [`Error::Audioop`]: `audioop.error` in Python.
    Audioop,
    /// [`Error::IsaUnavailable`].
    IsaUnavailable,
}

impl Error {
    /// This error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidLength { .. } => ErrorKind::InvalidLength,
            Error::UnsupportedRate { .. } => ErrorKind::UnsupportedRate,
            Error::Malformed { .. } => ErrorKind::Malformed,
            Error::UnsupportedFrame { .. } | Error::UnknownName { .. } | Error::InvalidConfig(_) => ErrorKind::Config,
            Error::UnknownToolCall { .. } => ErrorKind::UnknownToolCall,
            Error::Audioop(_) => ErrorKind::Audioop,
            Error::IsaUnavailable(_) => ErrorKind::IsaUnavailable,
        }
    }
}

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

/// Returns `InvalidLength` for the output buffer unless `actual == expected`.
#[inline]
pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::InvalidLength { what: "output buffer", expected: Expected::Exactly(expected), actual })
    }
}
