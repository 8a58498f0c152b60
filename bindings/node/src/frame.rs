//! Exact frames from chunks of any size.

use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use teledsp::frame::{Flush, Format, Framer as Inner};

use crate::js::{Bytes, Value, new_buffer, whole};
use crate::{Code, Result, to_js};

/// Options for `new Framer(options)`.
#[napi(object)]
pub struct FramerOptions {
    /// Bytes per frame: 160 is 20 ms of 8 kHz mu-law (Twilio's frame).
    pub frame_bytes: f64,
    /// If set (a byte 0..=255, e.g. 0xff for mu-law silence), `flush()` pads
    /// the last partial frame to full size with it; if not, `flush()` returns
    /// the partial frame short.
    pub pad: Option<f64>,
}

/// Cuts a byte stream into exact frames, carrying the remainder to the next
/// chunk.
///
/// ```js
/// const { Framer } = require('teledsp');
/// const framer = new Framer({ frameBytes: 160, pad: 0xff });
/// framer.push(Buffer.alloc(400)); // [Buffer(160), Buffer(160)], 80 bytes kept
/// framer.flush();                  // Buffer(160): the 80 bytes + 80 of 0xff
/// ```
#[napi]
pub struct Framer {
    inner: Inner,
    pad: Option<u8>,
}

#[napi]
impl Framer {
    /// See `FramerOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: FramerOptions) -> Result<Self> {
        let n = whole("frameBytes", options.frame_bytes, u32::MAX, Code::InvalidLength)?;
        let pad = options.pad.map(|p| whole("pad", p, 255, Code::Config).map(|b| b as u8)).transpose()?;
        // Framing by bytes: a one-byte-per-sample format takes any size.
        let inner = Inner::with_frame_bytes(Format::Ulaw, n as usize).map_err(to_js)?;
        Ok(Framer { inner: inner.with_pad(pad.unwrap_or(0)), pad })
    }

    /// Appends `chunk` and returns the whole frames now available, in order.
    #[napi(ts_args_type = "chunk: Uint8Array | Buffer | Int16Array", ts_return_type = "Buffer[]", catch_unwind)]
    pub fn push(&mut self, env: &Env, chunk: Unknown<'_>) -> Result<Vec<Value>> {
        let src = Bytes::arg(&chunk)?;
        let mut frames = Vec::new();
        let mut failed = None;
        self.inner.push(src.bytes(), |f| match new_buffer(env, f) {
            Ok(b) => frames.push(b),
            Err(e) => failed = Some(e),
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(frames),
        }
    }

    /// The remainder at the end of a stream: padded to a whole frame when the
    /// framer has a `pad` byte, else short; `null` when nothing is pending.
    #[napi(ts_return_type = "Buffer | null", catch_unwind)]
    pub fn flush(&mut self, env: &Env) -> Result<Option<Value>> {
        let mode = if self.pad.is_some() { Flush::Pad } else { Flush::Short };
        self.inner.flush(mode).map(|b| new_buffer(env, b)).transpose()
    }

    /// Drops anything pending and restarts the counters.
    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Bytes per frame.
    #[napi(getter)]
    pub fn frame_bytes(&self) -> u32 {
        self.inner.frame_bytes() as u32
    }

    /// Bytes held for the next frame.
    #[napi(getter)]
    pub fn pending(&self) -> u32 {
        self.inner.pending() as u32
    }

    /// Frames returned so far.
    #[napi(getter)]
    pub fn frames_emitted(&self) -> f64 {
        self.inner.frames_emitted() as f64
    }
}
