//! Voice activity detection with speech start/end events.

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use teledsp::vad::{Vad as Inner, VadConfig, VadEvent as Event};

use crate::js::{Bytes, as_i16, whole};
use crate::{Code, Result, to_js};

/// Options for `new Vad(options)`; every field is optional.
#[napi(object)]
#[derive(Default)]
pub struct VadOptions {
    /// 8000 (default) or 16000 Hz.
    pub sample_rate: Option<f64>,
    /// 10, 20 (default) or 30 ms.
    pub frame_ms: Option<f64>,
    /// Probability at which speech starts (hysteresis upper bound).
    pub threshold_on: Option<f64>,
    /// Probability below which speech may end.
    pub threshold_off: Option<f64>,
    /// Speech must last this long before `speech_start` fires.
    pub min_speech_ms: Option<f64>,
    /// Silence must last this long before `speech_end` fires.
    pub min_silence_ms: Option<f64>,
    /// `speech_start`'s `atMs` is moved back by this much.
    pub pre_roll_ms: Option<f64>,
}

/// A speech boundary found by the last `process` call.
#[napi(object)]
pub struct VadEvent {
    /// "speech_start" or "speech_end".
    #[napi(ts_type = "'speech_start' | 'speech_end'")]
    pub kind: String,
    /// Stream time of the boundary, milliseconds from the first frame.
    pub at_ms: f64,
}

/// Per-frame speech probability with hysteresis events, for barge-in.
///
/// ```js
/// const { Vad } = require('teledsp');
/// const vad = new Vad({ sampleRate: 8000, frameMs: 20 });
/// const p = vad.process(new Int16Array(160)); // ~0 for silence
/// if (vad.event?.kind === 'speech_start') { /* barge in */ }
/// ```
#[napi]
pub struct Vad {
    inner: Inner,
}

fn ms(name: &str, v: Option<f64>, default: u32) -> Result<u32> {
    v.map_or(Ok(default), |v| whole(name, v, 60_000, Code::Config))
}

#[napi]
impl Vad {
    /// See `VadOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: Option<VadOptions>) -> Result<Self> {
        let o = options.unwrap_or_default();
        let d = VadConfig::default();
        let cfg = VadConfig {
            sample_rate: o.sample_rate.map_or(Ok(8000), |v| whole("sampleRate", v, u32::MAX, Code::UnsupportedRate))?,
            frame_ms: ms("frameMs", o.frame_ms, 20)?,
            threshold_on: o.threshold_on.map_or(d.threshold_on, |v| v as f32),
            threshold_off: o.threshold_off.map_or(d.threshold_off, |v| v as f32),
            min_speech_ms: ms("minSpeechMs", o.min_speech_ms, d.min_speech_ms)?,
            min_silence_ms: ms("minSilenceMs", o.min_silence_ms, d.min_silence_ms)?,
            pre_roll_ms: ms("preRollMs", o.pre_roll_ms, d.pre_roll_ms)?,
        };
        Ok(Vad { inner: Inner::with_config(cfg).map_err(to_js)? })
    }

    /// Scores one frame of PCM16 (`frameLen` samples) and returns the speech
    /// probability, 0..1; `event` then tells whether speech started or ended.
    #[napi(ts_args_type = "frame: Int16Array | Buffer", catch_unwind)]
    pub fn process(&mut self, frame: Unknown<'_>) -> Result<f64> {
        let src = Bytes::arg(&frame)?;
        let p = self.inner.process(&as_i16(src.pcm16("frame")?)).map_err(to_js)?;
        Ok(f64::from(p))
    }

    /// As `process`, for one frame of mu-law codes (`frameLen` bytes).
    #[napi(ts_args_type = "frame: Uint8Array | Buffer", catch_unwind)]
    pub fn process_mulaw(&mut self, frame: Unknown<'_>) -> Result<f64> {
        let src = Bytes::arg(&frame)?;
        let p = self.inner.process_ulaw(src.codes("frame")?).map_err(to_js)?;
        Ok(f64::from(p))
    }

    /// The boundary the last `process` call found, or `null`.
    #[napi(getter)]
    pub fn event(&self) -> Option<VadEvent> {
        self.inner.last_event().map(|e| match e {
            Event::SpeechStart { at_ms } => VadEvent { kind: "speech_start".into(), at_ms },
            Event::SpeechEnd { at_ms } => VadEvent { kind: "speech_end".into(), at_ms },
        })
    }

    /// Whether the detector is inside speech.
    #[napi(getter)]
    pub fn is_speaking(&self) -> bool {
        self.inner.is_speaking()
    }

    /// The last frame's probability.
    #[napi(getter)]
    pub fn probability(&self) -> f64 {
        f64::from(self.inner.probability())
    }

    /// Samples per frame.
    #[napi(getter)]
    pub fn frame_len(&self) -> u32 {
        self.inner.frame_len() as u32
    }

    /// Bytes per PCM16 frame.
    #[napi(getter)]
    pub fn frame_bytes(&self) -> u32 {
        self.inner.frame_len() as u32 * 2
    }

    /// Sample rate, Hz.
    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.inner.config().sample_rate
    }

    /// Frame duration, ms.
    #[napi(getter)]
    pub fn frame_ms(&self) -> u32 {
        self.inner.config().frame_ms
    }

    /// Back to the initial state (a new stream).
    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}
