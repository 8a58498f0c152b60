//! Exact frames from chunks of any size.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use teledsp::frame::{Flush, Format, Framer};

use crate::buffer::with_buffer;
use crate::{ConfigError, InvalidLengthError, to_py};

/// Cuts a byte stream into frames of exactly `frame_bytes` bytes, carrying
/// the remainder to the next push (160 bytes = 20 ms of 8 kHz mu-law, what
/// Twilio plays; 960 = 20 ms of 24 kHz PCM16).
///
/// `flush()` returns the last partial frame: padded to a whole frame with
/// the byte `pad` (0xFF is mu-law silence, 0xD5 A-law, 0 PCM), or short as
/// it is when `pad` is None; None when nothing is pending.
///
/// >>> import teledsp
/// >>> f = teledsp.Framer(160, pad=0xFF)
/// >>> [len(x) for x in f.push(bytes(400))]
/// [160, 160]
/// >>> f.pending
/// 80
/// >>> last = f.flush()
/// >>> len(last), last[-1]
/// (160, 255)
#[pyclass(module = "teledsp", name = "Framer")]
pub struct PyFramer {
    inner: Framer,
    pad: Option<u8>,
}

fn pad_byte(pad: &Bound<'_, PyAny>) -> PyResult<u8> {
    if let Ok(v) = pad.extract::<i64>() {
        return u8::try_from(v).map_err(|_| ConfigError::new_err(format!("pad must be a byte value 0..=255, got {v}")));
    }
    match pad.extract::<Vec<u8>>() {
        Ok(b) if b.len() == 1 && pad.is_instance_of::<PyBytes>() => Ok(b[0]),
        _ => Err(ConfigError::new_err(format!("pad must be None, an int 0..=255 or one byte, got {pad}"))),
    }
}

#[pymethods]
impl PyFramer {
    #[new]
    #[pyo3(signature = (frame_bytes, pad = None))]
    fn new(frame_bytes: i64, pad: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let n = usize::try_from(frame_bytes)
            .map_err(|_| InvalidLengthError::new_err(format!("frame_bytes must be > 0, got {frame_bytes}")))?;
        let pad = pad.map(pad_byte).transpose()?;
        // Framing by bytes: a one-byte-per-sample format takes any size, and
        // the binding exposes nothing else the format decides.
        let inner = Framer::with_frame_bytes(Format::Ulaw, n).map_err(to_py)?;
        Ok(PyFramer { inner: inner.with_pad(pad.unwrap_or(0)), pad })
    }

    /// Feeds a chunk of any size (any buffer); returns the completed frames.
    fn push<'py>(&mut self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = data.py();
        let mut frames = Vec::new();
        with_buffer(data, |buf| {
            self.inner.push(buf.bytes(), |f| frames.push(PyBytes::new(py, f)));
            Ok(())
        })?;
        PyList::new(py, frames)
    }

    /// Ends the stream: the pending partial frame (padded if `pad` was
    /// given, else short), or None if nothing is pending.
    fn flush<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let mode = if self.pad.is_some() { Flush::Pad } else { Flush::Short };
        self.inner.flush(mode).map(|b| PyBytes::new(py, b))
    }

    /// Drops pending bytes and the frame count (barge-in: start clean).
    fn reset(&mut self) {
        self.inner.reset();
    }

    #[getter]
    fn frame_bytes(&self) -> usize {
        self.inner.frame_bytes()
    }
    /// Bytes carried over, waiting for the rest of their frame.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }
    /// Whole frames returned so far (a padded flush counts).
    #[getter]
    fn frames_emitted(&self) -> u64 {
        self.inner.frames_emitted()
    }

    fn __repr__(&self) -> String {
        let pad = self.pad.map_or("None".to_string(), |b| b.to_string());
        format!("Framer({}, pad={pad})", self.inner.frame_bytes())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFramer>()
}
