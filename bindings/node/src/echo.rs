//! The echo canceller: the far end (what the phone was sent) and the near
//! end (the caller, with the agent's echo) in, the near end cancelled out.

use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use teledsp::echo::{EchoCanceller as Inner, EchoConfig};

use crate::js::{Bytes, Out, Value, as_i16, new_array, whole, with_i16_out};
use crate::{Code, Result, to_js};

/// Options for `new EchoCanceller(options)`; every field is optional.
#[napi(object)]
#[derive(Default)]
pub struct EchoOptions {
    /// 8000 (default) or 16000 Hz.
    pub sample_rate: Option<f64>,
    /// 10 or 20 (default) ms.
    pub frame_ms: Option<f64>,
    /// The longest bulk delay looked for, ms (default 640, at most 1000).
    pub max_delay_ms: Option<f64>,
    /// The echo path's span after the bulk delay, ms (default 200, at most 500).
    pub filter_ms: Option<f64>,
    /// Run the residual suppressor (default true).
    pub suppress: Option<bool>,
}

/// What the canceller has measured.
#[napi(object)]
pub struct EchoStats {
    pub frames: f64,
    /// The linear filter's ERLE estimate, dB.
    pub erle_db: f64,
    /// The bulk delay in use, ms.
    pub delay_ms: u32,
    /// Whether `delayMs` is the estimate (not the hint).
    pub delay_found: bool,
    pub delay_changes: f64,
    /// Frames where the caller talked over the agent's echo.
    pub double_talk_frames: f64,
}

/// A streaming echo canceller for telephony: the bulk delay is estimated,
/// an adaptive filter spans the echo path after it, and a residual
/// suppressor (no comfort noise) takes out the rest. Deterministic: the
/// same input gives the same samples on every CPU.
///
/// ```js
/// const { EchoCanceller } = require('teledsp');
/// const aec = new EchoCanceller({ sampleRate: 8000, frameMs: 20 });
/// const out = aec.process(farFrame, nearFrame); // Int16Array, 160 samples each
/// ```
#[napi]
pub struct EchoCanceller {
    inner: Inner,
}

fn opt(name: &str, v: Option<f64>, default: u32, code: Code) -> Result<u32> {
    v.map_or(Ok(default), |v| whole(name, v, u32::MAX, code))
}

#[napi]
impl EchoCanceller {
    /// See `EchoOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: Option<EchoOptions>) -> Result<Self> {
        let o = options.unwrap_or_default();
        let d = EchoConfig::default();
        let cfg = EchoConfig {
            sample_rate: opt("sampleRate", o.sample_rate, d.sample_rate, Code::UnsupportedRate)?,
            frame_ms: opt("frameMs", o.frame_ms, d.frame_ms, Code::Config)?,
            max_delay_ms: opt("maxDelayMs", o.max_delay_ms, d.max_delay_ms, Code::Config)?,
            filter_ms: opt("filterMs", o.filter_ms, d.filter_ms, Code::Config)?,
            suppress: o.suppress.unwrap_or(d.suppress),
        };
        Ok(EchoCanceller { inner: Inner::with_config(cfg).map_err(to_js)? })
    }

    /// One frame: `far` (what the phone was sent for this frame, in the
    /// order it plays) and `near` (the caller's audio), `frameLen` samples
    /// of PCM16 each; returns `near` with the echo taken out.
    #[napi(
        ts_args_type = "far: Int16Array | Buffer, near: Int16Array | Buffer",
        ts_return_type = "Int16Array",
        catch_unwind
    )]
    pub fn process(&mut self, env: &Env, far: Unknown<'_>, near: Unknown<'_>) -> Result<Value> {
        let (f, d) = (Bytes::arg(&far)?, Bytes::arg(&near)?);
        let (f, d) = (as_i16(f.pcm16("far")?), as_i16(d.pcm16("near")?));
        let n = self.inner.frame_len();
        let aec = &mut self.inner;
        new_array(env, Out::I16, n, |o| with_i16_out(o, |o| aec.process(&f, &d, o).map(|()| n)).map_err(to_js))
    }

    /// The bulk delay to assume until it is estimated, ms.
    #[napi]
    pub fn set_delay_hint(&mut self, ms: u32) {
        self.inner.set_delay_hint(ms);
    }

    /// The far end's newest `ms` were never played (the phone dropped
    /// them at a clear): forgotten, so no echo of them is taken out.
    #[napi]
    pub fn forget_far(&mut self, ms: u32) {
        self.inner.forget_far(ms);
    }

    /// The far end's newest frame (the last `process`'s) was, after all,
    /// `far` (`frameLen` samples): audio sent within that frame.
    #[napi(ts_args_type = "far: Int16Array | Buffer", catch_unwind)]
    pub fn amend_far(&mut self, far: Unknown<'_>) -> Result<()> {
        let f = Bytes::arg(&far)?;
        self.inner.amend_far(&as_i16(f.pcm16("far")?)).map_err(to_js)
    }

    /// What has been measured so far.
    #[napi(getter)]
    pub fn stats(&self) -> EchoStats {
        let s = self.inner.stats();
        EchoStats {
            frames: s.frames as f64,
            erle_db: f64::from(s.erle_db),
            delay_ms: s.delay_ms,
            delay_found: s.delay_found,
            delay_changes: s.delay_changes as f64,
            double_talk_frames: s.double_talk_frames as f64,
        }
    }

    /// Whether the filter has learnt the echo path (ERLE past 10 dB).
    #[napi(getter)]
    pub fn converged(&self) -> bool {
        self.inner.converged()
    }

    /// The loudest far-end frame the echo in the last caller frame can have
    /// come from (the filter's window by the delay in use), dBFS; -120 if
    /// silent: an echo guard's reference.
    #[napi(getter)]
    pub fn far_level_dbfs(&self) -> f64 {
        f64::from(self.inner.far_level_dbfs())
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
}
