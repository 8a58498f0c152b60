//! Voice activity detection with speech start/end events.

use pyo3::prelude::*;
use teledsp::vad::{Vad, VadConfig, VadEvent};

use crate::buffer::{as_i16, with_buffer};
use crate::to_py;

/// A speech start or end. `at_ms` is stream time: for "speech_start", the
/// onset minus the pre-roll (where forwarding buffered audio should begin);
/// for "speech_end", when the trailing silence began.
#[pyclass(module = "teledsp", name = "VadEvent", frozen, eq)]
#[derive(PartialEq)]
pub struct PyVadEvent {
    /// "speech_start" or "speech_end".
    #[pyo3(get)]
    kind: &'static str,
    /// Stream time, ms.
    #[pyo3(get)]
    at_ms: f64,
}

#[pymethods]
impl PyVadEvent {
    fn __repr__(&self) -> String {
        format!("VadEvent(kind={:?}, at_ms={})", self.kind, self.at_ms)
    }
}

/// Speech probability per frame (a small network on spectral features,
/// trained on real telephone speech) and a hysteresis machine that turns it
/// into speech_start / speech_end events for barge-in.
///
/// Frames are exactly `frame_ms` (10, 20, 30) of 16-bit PCM at
/// `sample_rate` (8000, 16000, 24000), or of mu-law at 8000 via
/// `process_ulaw`.
///
/// >>> import teledsp
/// >>> vad = teledsp.Vad(8000, 20)
/// >>> p = vad.process(bytes(320))       # 20 ms of silence
/// >>> 0.0 <= p < 0.5, vad.event, vad.is_speaking
/// (True, None, False)
#[pyclass(module = "teledsp", name = "Vad")]
pub struct PyVad {
    inner: Vad,
}

#[pymethods]
impl PyVad {
    #[new]
    #[pyo3(signature = (
        sample_rate = 8000, frame_ms = 20, *, threshold_on = None, threshold_off = None,
        min_speech_ms = None, min_silence_ms = None, pre_roll_ms = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        sample_rate: u32,
        frame_ms: u32,
        threshold_on: Option<f32>,
        threshold_off: Option<f32>,
        min_speech_ms: Option<u32>,
        min_silence_ms: Option<u32>,
        pre_roll_ms: Option<u32>,
    ) -> PyResult<Self> {
        let d = VadConfig::default();
        let cfg = VadConfig {
            sample_rate,
            frame_ms,
            threshold_on: threshold_on.unwrap_or(d.threshold_on),
            threshold_off: threshold_off.unwrap_or(d.threshold_off),
            min_speech_ms: min_speech_ms.unwrap_or(d.min_speech_ms),
            min_silence_ms: min_silence_ms.unwrap_or(d.min_silence_ms),
            pre_roll_ms: pre_roll_ms.unwrap_or(d.pre_roll_ms),
        };
        Ok(PyVad { inner: Vad::with_config(cfg).map_err(to_py)? })
    }

    /// Speech probability (0..1) of one frame of 16-bit PCM, and one step of
    /// the event machine (see `event`).
    fn process(&mut self, frame: &Bound<'_, PyAny>) -> PyResult<f32> {
        with_buffer(frame, |buf| self.inner.process(&as_i16(buf.pcm16("frame")?)).map_err(to_py))
    }

    /// As `process`, on one frame of mu-law bytes (sample_rate 8000 only).
    fn process_ulaw(&mut self, frame: &Bound<'_, PyAny>) -> PyResult<f32> {
        with_buffer(frame, |buf| self.inner.process_ulaw(buf.codes("frame")?).map_err(to_py))
    }

    /// The event the last `process` produced, or None.
    #[getter]
    fn event(&self) -> Option<PyVadEvent> {
        self.inner.last_event().map(|e| match e {
            VadEvent::SpeechStart { at_ms } => PyVadEvent { kind: "speech_start", at_ms },
            VadEvent::SpeechEnd { at_ms } => PyVadEvent { kind: "speech_end", at_ms },
        })
    }
    /// Whether the machine is in the speech state.
    #[getter]
    fn is_speaking(&self) -> bool {
        self.inner.is_speaking()
    }
    /// The last frame's probability.
    #[getter]
    fn probability(&self) -> f32 {
        self.inner.probability()
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
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.inner.config().sample_rate
    }
    #[getter]
    fn frame_ms(&self) -> u32 {
        self.inner.config().frame_ms
    }

    /// Forgets everything: features, noise floors, events, time.
    fn reset(&mut self) {
        self.inner.reset();
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!("Vad({}, {})", c.sample_rate, c.frame_ms)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVad>()?;
    m.add_class::<PyVadEvent>()
}
