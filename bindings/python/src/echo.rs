//! The echo canceller: the far end (what the phone was sent) and the near
//! end (the caller, with the agent's echo) in, the near end cancelled out.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use teledsp::echo::{EchoCanceller, EchoConfig};

use crate::buffer::{as_i16, new_bytes, with_buffer, with_i16_out};
use crate::to_py;

/// A streaming echo canceller for telephony: bulk delay estimated up to
/// `max_delay_ms`, a `filter_ms` adaptive filter after it, a residual
/// suppressor (no comfort noise). 8000 or 16000 Hz, 10 or 20 ms frames of
/// 16-bit PCM. Deterministic: the same input gives the same bytes on every
/// CPU.
///
/// >>> import teledsp
/// >>> aec = teledsp.EchoCanceller(8000, 20)
/// >>> aec.process(bytes(320), b"\x10\x00" * 160) == b"\x10\x00" * 160  # no far end
/// True
#[pyclass(module = "teledsp", name = "EchoCanceller")]
pub struct PyEchoCanceller {
    inner: EchoCanceller,
}

#[pymethods]
impl PyEchoCanceller {
    #[new]
    #[pyo3(signature = (sample_rate = 8000, frame_ms = 20, *, max_delay_ms = None, filter_ms = None, suppress = None))]
    fn new(
        sample_rate: u32,
        frame_ms: u32,
        max_delay_ms: Option<u32>,
        filter_ms: Option<u32>,
        suppress: Option<bool>,
    ) -> PyResult<Self> {
        let d = EchoConfig::default();
        let cfg = EchoConfig {
            sample_rate,
            frame_ms,
            max_delay_ms: max_delay_ms.unwrap_or(d.max_delay_ms),
            filter_ms: filter_ms.unwrap_or(d.filter_ms),
            suppress: suppress.unwrap_or(d.suppress),
        };
        Ok(PyEchoCanceller { inner: EchoCanceller::with_config(cfg).map_err(to_py)? })
    }

    /// One frame: `far` (what the phone was sent for this frame, in the
    /// order it plays) and `near` (the caller's audio), PCM16, `frame_len`
    /// samples each; returns `near` with the echo taken out.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        far: &Bound<'py, PyAny>,
        near: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let n = self.inner.frame_len();
        let aec = &mut self.inner;
        with_buffer(far, |f| {
            with_buffer(near, |d| {
                let (f, d) = (as_i16(f.pcm16("far")?), as_i16(d.pcm16("near")?));
                new_bytes(py, 2 * n, 0, |out| with_i16_out(out, |o| aec.process(&f, &d, o)))
            })
        })
    }

    /// The bulk delay to assume until it is estimated, ms.
    fn set_delay_hint(&mut self, ms: u32) {
        self.inner.set_delay_hint(ms);
    }

    /// The far end's newest `ms` were never played (the phone dropped
    /// them at a clear): forgotten, so no echo of them is taken out.
    fn forget_far(&mut self, ms: u32) {
        self.inner.forget_far(ms);
    }

    /// The far end's newest frame (the last `process`'s) was, after all,
    /// `far` (`frame_len` samples): audio sent within that frame.
    fn amend_far(&mut self, far: &Bound<'_, PyAny>) -> PyResult<()> {
        let aec = &mut self.inner;
        with_buffer(far, |f| aec.amend_far(&as_i16(f.pcm16("far")?)).map_err(to_py))
    }

    /// What has been measured: frames, erle_db, delay_ms, delay_found,
    /// delay_changes, double_talk_frames.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("frames", s.frames)?;
        d.set_item("erle_db", s.erle_db)?;
        d.set_item("delay_ms", s.delay_ms)?;
        d.set_item("delay_found", s.delay_found)?;
        d.set_item("delay_changes", s.delay_changes)?;
        d.set_item("double_talk_frames", s.double_talk_frames)?;
        Ok(d)
    }

    /// Whether the filter has learnt the echo path (ERLE past 10 dB).
    #[getter]
    fn converged(&self) -> bool {
        self.inner.converged()
    }
    /// The loudest far-end frame the echo in the last caller frame can have
    /// come from (the filter's window by the delay in use), dBFS; -120 if
    /// silent: an echo guard's reference.
    #[getter]
    fn far_level_dbfs(&self) -> f32 {
        self.inner.far_level_dbfs()
    }
    /// Samples per frame.
    #[getter]
    fn frame_len(&self) -> usize {
        self.inner.frame_len()
    }
    /// Bytes per PCM16 frame.
    #[getter]
    fn frame_bytes(&self) -> usize {
        self.inner.frame_len() * 2
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!("EchoCanceller({}, {})", c.sample_rate, c.frame_ms)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEchoCanceller>()
}
