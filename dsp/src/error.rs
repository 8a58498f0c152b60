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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// A quality preset name that does not exist.
    UnknownQuality,
    /// A protocol message that could not be used; says what was wrong.
    Malformed(&'static str),
    /// A frame duration the framer does not support.
    UnsupportedFrame {
        /// Requested duration, ms.
        frame_ms: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
            Error::Malformed(what) => f.write_str(what),
            Error::UnsupportedFrame { frame_ms } => {
                write!(f, "unsupported frame duration {frame_ms} ms; supported: 10, 20, 30, 40, 50 ms")
            }
            Error::UnknownQuality => {
                f.write_str("unknown quality preset; expected one of: telephony, transparent, low_latency")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Returns `LengthMismatch` unless `actual == expected`.
#[inline]
pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual { Ok(()) } else { Err(Error::LengthMismatch { expected, actual }) }
}
