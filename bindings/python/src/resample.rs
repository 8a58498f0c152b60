//! The streaming resampler.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes};
use teledsp::resample::{Quality, Resampler as Inner};

use crate::buffer::{Elem, as_f32, as_i16, maybe_detached, new_bytes, with_buffer, with_f32_out, with_i16_out};
use crate::{InvalidLengthError, UnsupportedRateError, to_py};

/// A Python int as a sample rate, with a clear error for nonsense.
pub fn rate(name: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v)
        .ok()
        .filter(|&r| r > 0)
        .ok_or_else(|| UnsupportedRateError::new_err(format!("{name} must be > 0, got {v}")))
}

/// float32 samples as a numpy array (or `array('f')` without numpy), filled in place.
fn f32_array<'py>(
    py: Python<'py>,
    n: usize,
    work: usize,
    fill: impl FnOnce(&mut [f32]) -> Result<usize, teledsp::Error> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    static FROMBUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let data = PyByteArray::new_with(py, n * 4, |out| {
        maybe_detached(py, work, || with_f32_out(out, fill)).map(|_| ()).map_err(to_py)
    })?;
    match FROMBUFFER.import(py, "numpy", "frombuffer") {
        Ok(frombuffer) => frombuffer.call1((data, "float32")),
        Err(_) => {
            let arr = py.import("array")?.getattr("array")?.call1(("f",))?;
            arr.call_method1("frombytes", (data,))?;
            Ok(arr)
        }
    }
}

/// A streaming polyphase resampler between 8000, 16000, 24000 and 48000 Hz
/// (any pair). Feed chunks of any size; after every call exactly
/// floor(total_in * out_rate / in_rate) samples have come out, so 20 ms in
/// is always 20 ms out, with no clicks at chunk edges.
///
/// quality: "telephony" (81 taps at 8<->24 kHz, 93 dB rejection, 1.7 ms),
/// "transparent" (flatter and longer, 3.3 ms) or "low_latency" (minimum
/// phase, 0.3 ms).
///
/// `process` takes 16-bit little-endian PCM (bytes-like or int16) and
/// returns bytes, or float32 arrays (numpy) and returns float32.
///
/// >>> import teledsp
/// >>> up = teledsp.Resampler(8000, 24000)
/// >>> len(up.process(bytes(320)))   # 20 ms at 8 kHz -> 20 ms at 24 kHz
/// 960
/// >>> round(up.latency_ms, 2)
/// 1.67
#[pyclass(module = "teledsp", name = "Resampler")]
pub struct PyResampler {
    inner: Inner,
}

#[pymethods]
impl PyResampler {
    #[new]
    #[pyo3(signature = (in_rate, out_rate, quality = "telephony"))]
    fn new(in_rate: i64, out_rate: i64, quality: &str) -> PyResult<Self> {
        let q: Quality = quality.parse().map_err(to_py)?;
        let inner = Inner::new(rate("in_rate", in_rate)?, rate("out_rate", out_rate)?, q).map_err(to_py)?;
        Ok(PyResampler { inner })
    }

    /// Resamples the next chunk: PCM16 bytes-like in, bytes out; or float32
    /// array in, float32 array out.
    fn process<'py>(&mut self, pcm: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = pcm.py();
        let r = &mut self.inner;
        with_buffer(pcm, |buf| {
            if buf.elem() == Elem::F32 {
                let bytes = buf.bytes();
                let n = r.output_len(bytes.len() / 4);
                return f32_array(py, n, buf.gil_free_work(), |o| r.process_f32(&as_f32(bytes), o));
            }
            let bytes = buf.pcm16("pcm")?;
            let n = r.output_len(bytes.len() / 2);
            let out = new_bytes(py, n * 2, buf.gil_free_work(), |out| {
                with_i16_out(out, |o| r.process_i16(&as_i16(bytes), o)).map(|_| ())
            })?;
            Ok(out.into_any())
        })
    }

    /// G.711 mu-law in (decoded and resampled in one pass), PCM16 bytes out.
    fn process_from_ulaw<'py>(&mut self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let r = &mut self.inner;
        with_buffer(data, |buf| {
            let codes = buf.codes("data")?;
            let n = r.output_len(codes.len());
            new_bytes(data.py(), n * 2, buf.gil_free_work(), |out| {
                with_i16_out(out, |o| r.process_from_ulaw(codes, o)).map(|_| ())
            })
        })
    }

    /// G.711 A-law in, PCM16 bytes out.
    fn process_from_alaw<'py>(&mut self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let r = &mut self.inner;
        with_buffer(data, |buf| {
            let codes = buf.codes("data")?;
            let n = r.output_len(codes.len());
            new_bytes(data.py(), n * 2, buf.gil_free_work(), |out| {
                with_i16_out(out, |o| r.process_from_alaw(codes, o)).map(|_| ())
            })
        })
    }

    /// PCM16 in, resampled and G.711 mu-law encoded (ITU-exact) in one pass.
    fn process_to_ulaw<'py>(&mut self, pcm: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let r = &mut self.inner;
        with_buffer(pcm, |buf| {
            let bytes = buf.pcm16("pcm")?;
            let n = r.output_len(bytes.len() / 2);
            new_bytes(pcm.py(), n, buf.gil_free_work(), |o| r.process_to_ulaw(&as_i16(bytes), o).map(|_| ()))
        })
    }

    /// PCM16 in, resampled and G.711 A-law encoded in one pass.
    fn process_to_alaw<'py>(&mut self, pcm: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let r = &mut self.inner;
        with_buffer(pcm, |buf| {
            let bytes = buf.pcm16("pcm")?;
            let n = r.output_len(bytes.len() / 2);
            new_bytes(pcm.py(), n, buf.gil_free_work(), |o| r.process_to_alaw(&as_i16(bytes), o).map(|_| ()))
        })
    }

    /// Ends the stream: the samples still inside the filter, as PCM16 bytes
    /// (the filter's delay). The next `process` starts a new stream.
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let r = &mut self.inner;
        let n = r.flush_len();
        new_bytes(py, n * 2, 0, |out| with_i16_out(out, |o| r.flush_i16(o)).map(|_| ()))
    }

    /// As `flush`, as a float32 array.
    fn flush_f32<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = &mut self.inner;
        let n = r.flush_len();
        f32_array(py, n, 0, |o| r.flush_f32(o))
    }

    /// Forgets all history: the next call starts a new stream.
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// Samples the next `process` of `n` input samples returns.
    fn output_len(&self, n: i64) -> PyResult<usize> {
        usize::try_from(n)
            .map(|n| self.inner.output_len(n))
            .map_err(|_| InvalidLengthError::new_err(format!("n must be >= 0, got {n}")))
    }

    #[getter]
    fn in_rate(&self) -> u32 {
        self.inner.in_rate()
    }
    #[getter]
    fn out_rate(&self) -> u32 {
        self.inner.out_rate()
    }
    #[getter]
    fn quality(&self) -> &'static str {
        self.inner.quality().name()
    }
    /// Group delay of the filter at its passband, ms.
    #[getter]
    fn latency_ms(&self) -> f64 {
        self.inner.latency_ms()
    }

    fn __repr__(&self) -> String {
        format!(
            "Resampler({}, {}, quality='{}')",
            self.inner.in_rate(),
            self.inner.out_rate(),
            self.inner.quality().name()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyResampler>()
}
