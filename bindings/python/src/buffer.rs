//! Any Python buffer (bytes, bytearray, memoryview, array.array, numpy
//! arrays) borrowed in place as contiguous bytes, and `bytes` results built
//! in place.

use std::borrow::Cow;
use std::ffi::CStr;

use pyo3::exceptions::PyTypeError;
use pyo3::types::PyBytes;
use pyo3::{ffi, prelude::*};

use crate::{InvalidLengthError, to_py};

/// Work (input bytes) from which a call releases the GIL. Below it, a
/// release/reacquire pair costs more than the kernel: a 20 ms frame is
/// 160-960 bytes and takes well under a microsecond.
pub const GIL_RELEASE_BYTES: usize = 64 * 1024;

/// What a buffer's elements are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Elem {
    /// bytes, bytearray, `B`/`b`/`c` formats: raw bytes.
    Byte,
    /// `h`: native (little-endian) 16-bit integers.
    I16,
    /// `f`: native 32-bit floats.
    F32,
}

/// A held `Py_buffer`, released on drop (with the GIL: `'py` ties it to it).
pub struct Buffer<'py> {
    // Boxed: the exporter may keep pointers into the struct until release.
    view: Box<ffi::Py_buffer>,
    elem: Elem,
    _py: Python<'py>,
}

impl<'py> Buffer<'py> {
    /// Borrows `obj`'s buffer; C-contiguous or a `BufferError` from the exporter.
    pub fn get(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut view = Box::new(ffi::Py_buffer::new());
        let flags = ffi::PyBUF_FORMAT | ffi::PyBUF_C_CONTIGUOUS;
        // SAFETY: `obj` is a live object (we hold the GIL through `'py`) and
        // `view` is a valid, writable Py_buffer.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // From here on `Drop` releases the view, also on the error below.
        let mut b = Buffer { view, elem: Elem::Byte, _py: obj.py() };
        b.elem = b.parse_format()?;
        Ok(b)
    }

    fn parse_format(&self) -> PyResult<Elem> {
        let fmt = if self.view.format.is_null() {
            "B"
        } else {
            // SAFETY: a non-null format is a NUL-terminated string owned by the view.
            unsafe { CStr::from_ptr(self.view.format) }.to_str().unwrap_or("?")
        };
        // '@', '=' and '<' are all little-endian here (see the compile_error in lib.rs).
        let code = fmt.strip_prefix(['@', '=', '<']).unwrap_or(fmt);
        match (code, self.view.itemsize) {
            ("B" | "b" | "c", 1) => Ok(Elem::Byte),
            ("h", 2) => Ok(Elem::I16),
            ("f", 4) => Ok(Elem::F32),
            _ => Err(PyTypeError::new_err(format!(
                "unsupported buffer element format '{fmt}' ({} bytes per item); \
                 expected bytes/uint8, int16 or float32, little-endian",
                self.view.itemsize
            ))),
        }
    }

    /// The element type.
    pub fn elem(&self) -> Elem {
        self.elem
    }

    /// The whole buffer as bytes.
    pub fn bytes(&self) -> &[u8] {
        let len = self.view.len as usize;
        if len == 0 {
            return &[];
        }
        // SAFETY: the exporter guarantees `len` readable contiguous bytes at
        // `buf` until release, which `Drop` does after this borrow ends.
        unsafe { std::slice::from_raw_parts(self.view.buf as *const u8, len) }
    }

    /// The bytes of 16-bit PCM: raw bytes (even count) or int16 items.
    pub fn pcm16(&self, what: &str) -> PyResult<&[u8]> {
        match self.elem {
            Elem::F32 => Err(PyTypeError::new_err(format!(
                "{what} must be 16-bit PCM (bytes or int16), got float32; Resampler.process takes float32"
            ))),
            _ if !self.bytes().len().is_multiple_of(2) => Err(InvalidLengthError::new_err(format!(
                "{what} has {} bytes, not a whole number of 16-bit samples",
                self.bytes().len()
            ))),
            _ => Ok(self.bytes()),
        }
    }

    /// The bytes of 8-bit G.711 codes: raw bytes only.
    pub fn codes(&self, what: &str) -> PyResult<&[u8]> {
        match self.elem {
            Elem::Byte => Ok(self.bytes()),
            Elem::I16 => Err(PyTypeError::new_err(format!(
                "{what} is G.711 (one byte per sample), got int16 samples; did you mean an encode function?"
            ))),
            Elem::F32 => Err(PyTypeError::new_err(format!("{what} is G.711 (one byte per sample), got float32"))),
        }
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and
        // is released once; the GIL is held (`'py`).
        unsafe { ffi::PyBuffer_Release(&mut *self.view) }
    }
}

/// Little-endian PCM16 bytes as samples: in place when aligned, else copied.
pub fn as_i16(bytes: &[u8]) -> Cow<'_, [i16]> {
    match bytemuck::try_cast_slice(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()),
    }
}

/// Runs `f` on `out` viewed as samples: in place when aligned, else through a copy.
pub fn with_i16_out<R>(out: &mut [u8], f: impl FnOnce(&mut [i16]) -> R) -> R {
    match bytemuck::try_cast_slice_mut(out) {
        Ok(s) => f(s),
        Err(_) => {
            let mut tmp = vec![0i16; out.len() / 2];
            let r = f(&mut tmp);
            out.copy_from_slice(bytemuck::cast_slice(&tmp));
            r
        }
    }
}

/// As [`with_i16_out`], for f32 samples.
pub fn with_f32_out<R>(out: &mut [u8], f: impl FnOnce(&mut [f32]) -> R) -> R {
    match bytemuck::try_cast_slice_mut(out) {
        Ok(s) => f(s),
        Err(_) => {
            let mut tmp = vec![0f32; out.len() / 4];
            let r = f(&mut tmp);
            out.copy_from_slice(bytemuck::cast_slice(&tmp));
            r
        }
    }
}

/// Runs `f`, without the GIL when `work` bytes make that worth it.
pub fn maybe_detached<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= GIL_RELEASE_BYTES { py.detach(f) } else { f() }
}

/// A new `bytes` of `len` bytes, filled in place by `fill` (without the GIL
/// when `work` is large).
pub fn new_bytes<'py>(
    py: Python<'py>,
    len: usize,
    work: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), teledsp::Error> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, len, |out| maybe_detached(py, work, || fill(out)).map_err(to_py))
}

/// Native float32 bytes as samples: in place when aligned, else copied.
pub fn as_f32(bytes: &[u8]) -> Cow<'_, [f32]> {
    match bytemuck::try_cast_slice(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
    }
}
