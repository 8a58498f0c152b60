//! The streaming polyphase resampler.

use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use teledsp::resample::{Quality, Resampler as Inner};

use crate::js::{Bytes, Elem, Out, Value, as_f32, as_i16, new_array, whole, with_f32_out, with_i16_out};
use crate::{Code, Result, err, to_js};

/// Options for `new Resampler(inRate, outRate, options)`.
#[napi(object)]
pub struct ResamplerOptions {
    /// "telephony" (default: 1.7 ms latency at 8 <-> 24 kHz), "transparent" or
    /// "low_latency"; see the crate README's "choosing a resampler".
    #[napi(ts_type = "'telephony' | 'transparent' | 'low_latency'")]
    pub quality: Option<String>,
}

/// A streaming resampler between telephony rates (8, 16, 24, 48 kHz). Feed
/// chunks of any size: the output is the same as one call on the whole
/// signal, with no clicks at chunk edges.
///
/// ```js
/// const { Resampler } = require('teledsp');
/// const up = new Resampler(8000, 24000);
/// const out = up.process(new Int16Array(160)); // Int16Array(480)
/// ```
#[napi]
pub struct Resampler {
    inner: Inner,
}

impl Resampler {
    fn out_len(&self, src: &Bytes<'_>, what: &str) -> Result<(usize, usize)> {
        let in_len = match src.elem() {
            Elem::F32 => src.bytes().len() / 4,
            _ => src.pcm16(what)?.len() / 2,
        };
        Ok((in_len, self.inner.output_len(in_len)))
    }
}

#[napi]
impl Resampler {
    /// `inRate` to `outRate` Hz; `options.quality` picks the filter.
    #[napi(constructor, catch_unwind)]
    pub fn new(in_rate: f64, out_rate: f64, options: Option<ResamplerOptions>) -> Result<Self> {
        let quality: Quality = match options.and_then(|o| o.quality) {
            Some(q) => q.parse().map_err(to_js)?,
            None => Quality::default(),
        };
        let in_rate = whole("inRate", in_rate, u32::MAX, Code::UnsupportedRate)?;
        let out_rate = whole("outRate", out_rate, u32::MAX, Code::UnsupportedRate)?;
        Ok(Resampler { inner: Inner::new(in_rate, out_rate, quality).map_err(to_js)? })
    }

    /// Resamples one chunk: an `Int16Array` (or `Buffer` of PCM16LE) gives
    /// an `Int16Array`; a `Float32Array` gives a `Float32Array`.
    #[napi(
        ts_args_type = "samples: Int16Array | Buffer | Float32Array",
        ts_return_type = "Int16Array | Float32Array",
        catch_unwind
    )]
    pub fn process(&mut self, env: &Env, samples: Unknown<'_>) -> Result<Value> {
        let src = Bytes::arg(&samples)?;
        let (_, n) = self.out_len(&src, "samples")?;
        let r = &mut self.inner;
        if src.elem() == Elem::F32 {
            return new_array(env, Out::F32, n, |o| {
                with_f32_out(o, |o| r.process_f32(&as_f32(src.bytes()), o)).map_err(to_js)
            });
        }
        new_array(env, Out::I16, n, |o| with_i16_out(o, |o| r.process_i16(&as_i16(src.bytes()), o)).map_err(to_js))
    }

    /// Resamples one chunk into `dst` (same sample type as `src`, room for
    /// `outputLen(src.length)` samples) and returns the samples written.
    #[napi(
        ts_args_type = "src: Int16Array | Buffer | Float32Array, dst: Int16Array | Buffer | Float32Array",
        catch_unwind
    )]
    pub fn process_into(&mut self, src: Unknown<'_>, dst: Unknown<'_>) -> Result<u32> {
        let src = Bytes::arg(&src)?;
        let mut dst = Bytes::arg(&dst)?;
        let (_, n) = self.out_len(&src, "src")?;
        let (src_f32, dst_f32) = (src.elem() == Elem::F32, dst.elem() == Elem::F32);
        if src_f32 != dst_f32 {
            return Err(err(
                Code::ArgType,
                format!(
                    "src is {} but dst is {}: both must be 16-bit PCM or both Float32Array",
                    src.kind(),
                    dst.kind()
                ),
            ));
        }
        // The filter reads src while writing dst: the same memory cannot be both.
        let input =
            if src.disjoint(&dst) { std::borrow::Cow::Borrowed(src.bytes()) } else { src.bytes().to_vec().into() };
        let r = &mut self.inner;
        // SAFETY: `input` is a copy when src and dst share memory, and no
        // other view of dst exists in this call.
        let out = unsafe { dst.bytes_mut() };
        let written = if src_f32 {
            with_f32_out(whole_samples(out, 4), |o| r.process_f32(&as_f32(&input), o))
        } else {
            with_i16_out(whole_samples(out, 2), |o| r.process_i16(&as_i16(&input), o))
        }
        .map_err(to_js)?;
        debug_assert_eq!(written, n);
        Ok(written as u32)
    }

    /// mu-law codes in (8 kHz from Twilio, say), resampled PCM16 out: the
    /// decode fused into the filter's input.
    #[napi(ts_args_type = "codes: Uint8Array | Buffer", ts_return_type = "Int16Array", catch_unwind)]
    pub fn process_from_ulaw(&mut self, env: &Env, codes: Unknown<'_>) -> Result<Value> {
        let src = Bytes::arg(&codes)?;
        let codes = src.codes("codes")?;
        let r = &mut self.inner;
        new_array(env, Out::I16, r.output_len(codes.len()), |o| {
            with_i16_out(o, |o| r.process_from_ulaw(codes, o)).map_err(to_js)
        })
    }

    /// A-law codes in, resampled PCM16 out.
    #[napi(ts_args_type = "codes: Uint8Array | Buffer", ts_return_type = "Int16Array", catch_unwind)]
    pub fn process_from_alaw(&mut self, env: &Env, codes: Unknown<'_>) -> Result<Value> {
        let src = Bytes::arg(&codes)?;
        let codes = src.codes("codes")?;
        let r = &mut self.inner;
        new_array(env, Out::I16, r.output_len(codes.len()), |o| {
            with_i16_out(o, |o| r.process_from_alaw(codes, o)).map_err(to_js)
        })
    }

    /// PCM16 in (24 kHz from OpenAI, say), resampled mu-law codes out: the
    /// encode fused into the filter's output.
    #[napi(ts_args_type = "samples: Int16Array | Buffer", ts_return_type = "Uint8Array", catch_unwind)]
    pub fn process_to_ulaw(&mut self, env: &Env, samples: Unknown<'_>) -> Result<Value> {
        let src = Bytes::arg(&samples)?;
        let (_, n) = self.out_len(&src, "samples")?;
        let r = &mut self.inner;
        new_array(env, Out::U8, n, |o| r.process_to_ulaw(&as_i16(src.bytes()), o).map_err(to_js))
    }

    /// PCM16 in, resampled A-law codes out.
    #[napi(ts_args_type = "samples: Int16Array | Buffer", ts_return_type = "Uint8Array", catch_unwind)]
    pub fn process_to_alaw(&mut self, env: &Env, samples: Unknown<'_>) -> Result<Value> {
        let src = Bytes::arg(&samples)?;
        let (_, n) = self.out_len(&src, "samples")?;
        let r = &mut self.inner;
        new_array(env, Out::U8, n, |o| r.process_to_alaw(&as_i16(src.bytes()), o).map_err(to_js))
    }

    /// The filter's tail at the end of a stream (then the state is as new).
    #[napi(ts_return_type = "Int16Array", catch_unwind)]
    pub fn flush(&mut self, env: &Env) -> Result<Value> {
        let r = &mut self.inner;
        new_array(env, Out::I16, r.flush_len(), |o| with_i16_out(o, |o| r.flush_i16(o)).map_err(to_js))
    }

    /// As `flush`, as a `Float32Array`.
    #[napi(ts_return_type = "Float32Array", catch_unwind)]
    pub fn flush_f32(&mut self, env: &Env) -> Result<Value> {
        let r = &mut self.inner;
        new_array(env, Out::F32, r.flush_len(), |o| with_f32_out(o, |o| r.flush_f32(o)).map_err(to_js))
    }

    /// Forgets all history: the next chunk starts a new stream.
    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// How many samples the next `process` of `inputLen` samples returns.
    #[napi(catch_unwind)]
    pub fn output_len(&self, input_len: f64) -> Result<u32> {
        let n = whole("inputLen", input_len, u32::MAX / 8, Code::InvalidLength)?;
        Ok(self.inner.output_len(n as usize) as u32)
    }

    /// Input rate, Hz.
    #[napi(getter)]
    pub fn in_rate(&self) -> u32 {
        self.inner.in_rate()
    }

    /// Output rate, Hz.
    #[napi(getter)]
    pub fn out_rate(&self) -> u32 {
        self.inner.out_rate()
    }

    /// The quality preset's name.
    #[napi(getter)]
    pub fn quality(&self) -> String {
        self.inner.quality().name().to_owned()
    }

    /// The filter's group delay, milliseconds.
    #[napi(getter)]
    pub fn latency_ms(&self) -> f64 {
        self.inner.latency_ms()
    }
}

/// `bytes` cut to a whole number of `unit`-byte samples.
fn whole_samples(bytes: &mut [u8], unit: usize) -> &mut [u8] {
    let n = bytes.len() / unit * unit;
    &mut bytes[..n]
}
