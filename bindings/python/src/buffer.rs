//! Any Python buffer (bytes, bytearray, memoryview, array.array, numpy
//! arrays) borrowed in place as contiguous bytes, and `bytes` results built
//! in place.

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

/// Calls `f` with `obj`'s contents borrowed in place: `bytes` directly (the
/// per-frame case, no buffer protocol), anything else through a C-contiguous
/// `Py_buffer` that lives on this stack frame and is released on return.
pub fn with_buffer<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(View<'_>) -> PyResult<R>) -> PyResult<R> {
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        return f(View { bytes: b.as_bytes(), elem: Elem::Byte, frozen: true });
    }
    struct Held(ffi::Py_buffer);
    impl Drop for Held {
        fn drop(&mut self) {
            // SAFETY: filled by a successful PyObject_GetBuffer, released
            // once, with the GIL held (we are inside a call from Python).
            unsafe { ffi::PyBuffer_Release(&mut self.0) }
        }
    }
    let mut raw = ffi::Py_buffer::new();
    let flags = ffi::PyBUF_FORMAT | ffi::PyBUF_C_CONTIGUOUS;
    // SAFETY: `obj` is live (GIL held) and `raw` is a valid, writable Py_buffer.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut raw, flags) } != 0 {
        return Err(PyErr::fetch(obj.py()));
    }
    // Not moved after this point: `held` stays in this frame until `f` returns.
    let held = Held(raw);
    let view = &held.0;
    let elem = parse_format(view)?;
    let len = view.len as usize;
    let bytes = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the exporter guarantees `len` readable contiguous bytes at
        // `buf` until release, which happens after `f` returns.
        unsafe { std::slice::from_raw_parts(view.buf as *const u8, len) }
    };
    f(View { bytes, elem, frozen: false })
}

fn parse_format(view: &ffi::Py_buffer) -> PyResult<Elem> {
    let fmt = if view.format.is_null() {
        "B"
    } else {
        // SAFETY: a non-null format is a NUL-terminated string owned by the view.
        unsafe { CStr::from_ptr(view.format) }.to_str().unwrap_or("?")
    };
    // '@', '=' and '<' are all little-endian here (see the compile_error in lib.rs).
    let code = fmt.strip_prefix(['@', '=', '<']).unwrap_or(fmt);
    match (code, view.itemsize) {
        ("B" | "b" | "c", 1) => Ok(Elem::Byte),
        ("h", 2) => Ok(Elem::I16),
        ("f", 4) => Ok(Elem::F32),
        _ => Err(PyTypeError::new_err(format!(
            "unsupported buffer element format '{fmt}' ({} bytes per item); \
             expected bytes/uint8, int16 or float32, little-endian",
            view.itemsize
        ))),
    }
}

/// A borrowed buffer: its bytes and what its elements are.
#[derive(Clone, Copy)]
pub struct View<'a> {
    bytes: &'a [u8],
    elem: Elem,
    /// The memory is a `bytes` object's, which no Python code can write.
    frozen: bool,
}

impl<'a> View<'a> {
    /// The element type.
    pub fn elem(&self) -> Elem {
        self.elem
    }

    /// The work (bytes) a call on this buffer may do without the GIL: all of
    /// it for `bytes`, which no Python code can change meanwhile; none for
    /// anything else. A bytearray, a numpy array or `array.array` can be
    /// written by another thread as soon as the GIL is released, and even a
    /// read-only memoryview may sit over a writable bytearray: those are read
    /// with the GIL held (copying them first would cost more than it frees).
    pub fn gil_free_work(&self) -> usize {
        if self.frozen { self.bytes.len() } else { 0 }
    }

    /// The whole buffer as bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes of 16-bit PCM: raw bytes (even count) or int16 items.
    pub fn pcm16(&self, what: &str) -> PyResult<&'a [u8]> {
        match self.elem {
            Elem::F32 => Err(PyTypeError::new_err(format!(
                "{what} must be 16-bit PCM (bytes or int16), got float32; Resampler.process takes float32"
            ))),
            _ if !self.bytes.len().is_multiple_of(2) => Err(InvalidLengthError::new_err(format!(
                "{what} has {} bytes, not a whole number of 16-bit samples",
                self.bytes.len()
            ))),
            _ => Ok(self.bytes),
        }
    }

    /// The bytes of 8-bit G.711 codes: raw bytes only.
    pub fn codes(&self, what: &str) -> PyResult<&'a [u8]> {
        match self.elem {
            Elem::Byte => Ok(self.bytes),
            Elem::I16 => Err(PyTypeError::new_err(format!(
                "{what} is G.711 (one byte per sample), got int16 samples; did you mean an encode function?"
            ))),
            Elem::F32 => Err(PyTypeError::new_err(format!("{what} is G.711 (one byte per sample), got float32"))),
        }
    }
}

/// Runs `f`, without the GIL when `work` bytes make that worth it. `work`
/// comes from [`View::gil_free_work`], which is 0 unless the input is
/// immutable: that is what makes releasing the GIL sound.
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

// Bytes <-> samples of any alignment: the crate's, shared with the Node binding.
pub use teledsp::pcm::{
    f32_le as as_f32, i16_le as as_i16, with_f32_le_mut as with_f32_out, with_i16_le_mut as with_i16_out,
};
