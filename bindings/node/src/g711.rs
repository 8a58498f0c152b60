//! ITU-T G.711 codecs as the `mulaw` and `alaw` namespaces, with the names
//! and shapes of the `alawmulaw` package (`encode`, `decode`, `encodeSample`,
//! `decodeSample`) plus allocation-free `encodeInto`/`decodeInto`.

use std::ffi::CStr;

use napi::bindgen_prelude::{Object, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;
use teledsp::{Error as DspError, g711};

use crate::js::{Bytes, Elem, Out, Value, as_i16, new_array, with_i16_out};
use crate::{Code, Result, err, raw, to_js};

type EncodeFn = fn(&[i16], &mut [u8]) -> std::result::Result<(), DspError>;
type DecodeFn = fn(&[u8], &mut [i16]) -> std::result::Result<(), DspError>;
type TranscodeFn = fn(&[u8], &mut [u8]) -> std::result::Result<(), DspError>;

fn encode(env: &Env, samples: &Unknown<'_>, f: EncodeFn) -> Result<Value> {
    let src = Bytes::arg(samples)?;
    let pcm = src.pcm16("samples")?;
    new_array(env, Out::U8, pcm.len() / 2, |out| f(&as_i16(pcm), out).map(|_| out.len()).map_err(to_js))
}

fn decode(env: &Env, samples: &Unknown<'_>, f: DecodeFn) -> Result<Value> {
    let src = Bytes::arg(samples)?;
    let codes = src.codes("samples")?;
    new_array(env, Out::I16, codes.len(), |out| with_i16_out(out, |o| f(codes, o)).map(|_| codes.len()).map_err(to_js))
}

fn transcode(env: &Env, samples: &Unknown<'_>, f: TranscodeFn) -> Result<Value> {
    let src = Bytes::arg(samples)?;
    let codes = src.codes("samples")?;
    new_array(env, Out::U8, codes.len(), |out| f(codes, out).map(|_| out.len()).map_err(to_js))
}

/// The room `dst` has, in `unit`-byte samples, checked against `need`.
fn room(dst: &Bytes<'_>, need: usize, unit: usize) -> Result<()> {
    let have = dst.bytes().len() / unit;
    if have < need {
        return Err(err(Code::InvalidLength, format!("dst ({}) holds {have} samples, src has {need}", dst.kind())));
    }
    Ok(())
}

/// Runs `f(src, dst)` with src copied aside first if the two share memory.
fn disjoint<R>(src: &[u8], alias: bool, f: impl FnOnce(&[u8]) -> R) -> R {
    // The copy is the point: dst is about to be written through a `&mut`
    // over the same memory, so src must not be read from there.
    #[allow(clippy::unnecessary_to_owned)]
    if alias { f(&src.to_vec()) } else { f(src) }
}

/// # Safety
/// `env`, `samples` and `dst` are the current call's.
unsafe fn encode_into(env: sys::napi_env, samples: sys::napi_value, dst: sys::napi_value, f: EncodeFn) -> Result<u32> {
    // SAFETY: per the function's contract.
    let (src, mut out) = unsafe { (Bytes::from_raw(env, samples)?, Bytes::from_raw(env, dst)?) };
    if out.elem() != Elem::Byte {
        return Err(err(Code::ArgType, format!("dst must be a Uint8Array or Buffer, got {}", out.kind())));
    }
    let alias = !src.disjoint(&out);
    let pcm = src.pcm16("src")?;
    let n = pcm.len() / 2;
    room(&out, n, 1)?;
    // SAFETY: `disjoint` copies src aside when it shares memory with dst,
    // and `out` is the only view of dst.
    disjoint(pcm, alias, |pcm| f(&as_i16(pcm), &mut unsafe { out.bytes_mut() }[..n])).map_err(to_js)?;
    Ok(n as u32)
}

/// # Safety
/// `env`, `samples` and `dst` are the current call's.
unsafe fn decode_into(env: sys::napi_env, samples: sys::napi_value, dst: sys::napi_value, f: DecodeFn) -> Result<u32> {
    // SAFETY: per the function's contract.
    let (src, mut out) = unsafe { (Bytes::from_raw(env, samples)?, Bytes::from_raw(env, dst)?) };
    if out.elem() == Elem::F32 {
        return Err(err(Code::ArgType, "dst must be an Int16Array or a Buffer for PCM16LE, got Float32Array"));
    }
    let alias = !src.disjoint(&out);
    let codes = src.codes("src")?;
    let n = codes.len();
    room(&out, n, 2)?;
    // SAFETY: as in `encode_into`.
    disjoint(codes, alias, |codes| with_i16_out(&mut unsafe { out.bytes_mut() }[..2 * n], |o| f(codes, o)))
        .map_err(to_js)?;
    Ok(n as u32)
}

fn sample_in(sample: f64) -> Result<i16> {
    if sample.is_finite() && sample.fract() == 0.0 && (-32768.0..=32767.0).contains(&sample) {
        Ok(sample as i16)
    } else {
        Err(err(Code::OutOfRange, format!("sample must be an integer in -32768..=32767, got {sample}")))
    }
}

fn code_in(code: f64) -> Result<u8> {
    if code.is_finite() && code.fract() == 0.0 && (0.0..=255.0).contains(&code) {
        Ok(code as u8)
    } else {
        Err(err(Code::OutOfRange, format!("code must be an integer in 0..=255, got {code}")))
    }
}

// The doc comments are plain `///` lines: napi-rs copies only literal doc
// attributes into index.d.ts (a `#[doc = concat!(..)]` line is dropped), so
// each one is written for both namespaces.
macro_rules! law {
    ($ns:literal, $enc:ident, $dec:ident, $enc_into:ident, $dec_into:ident, $enc1:ident, $dec1:ident,
     $to_other:ident, $to_other_js:literal, $kenc:path, $kdec:path, $ktrans:path, $enc1_out:path, $dec1_out:path) => {
        /// G.711 encode (ITU-exact; `mulaw` or `alaw` by namespace): 16-bit
        /// PCM in (`Int16Array`, or a `Buffer` of PCM16LE), one code per
        /// sample out as a new `Uint8Array`.
        ///
        /// ```js
        /// const { mulaw, alaw } = require('teledsp');
        /// mulaw.encode(new Int16Array([0, 1000, -1000])); // Uint8Array [255, 206, 78]
        /// alaw.encode(new Int16Array([0, 1000, -1000])); // Uint8Array [213, 250, 122]
        /// ```
        #[napi(namespace = $ns, js_name = "encode", ts_args_type = "samples: Int16Array | Buffer", ts_return_type = "Uint8Array", catch_unwind)]
        pub fn $enc(env: &Env, samples: Unknown<'_>) -> Result<Value> {
            encode(env, &samples, $kenc)
        }

        /// G.711 decode: one code per sample in (`Uint8Array` or `Buffer`),
        /// a new `Int16Array` out.
        ///
        /// ```js
        /// const { mulaw, alaw } = require('teledsp');
        /// mulaw.decode(Buffer.from([0xff, 0x80])); // Int16Array [0, 32124]
        /// alaw.decode(Buffer.from([0xd5])); // Int16Array [8]
        /// ```
        #[napi(namespace = $ns, js_name = "decode", ts_args_type = "samples: Uint8Array | Buffer", ts_return_type = "Int16Array", catch_unwind)]
        pub fn $dec(env: &Env, samples: Unknown<'_>) -> Result<Value> {
            decode(env, &samples, $kdec)
        }

        /// G.711 encode into a caller's buffer: writes `src.length` codes to
        /// the start of `dst` (a `Uint8Array` or `Buffer` with at least that
        /// room) and returns how many it wrote. No allocation: reuse `dst`
        /// per frame.
        ///
        /// ```js
        /// const { mulaw } = require('teledsp');
        /// const out = new Uint8Array(160);
        /// mulaw.encodeInto(new Int16Array(160), out); // 160
        /// ```
        #[napi(namespace = $ns, js_name = "encodeInto", ts_args_type = "src: Int16Array | Buffer, dst: Uint8Array | Buffer", catch_unwind)]
        pub fn $enc_into(env: &Env, src: Unknown<'_>, dst: Unknown<'_>) -> Result<u32> {
            // SAFETY: the raw values of this call's arguments.
            unsafe { encode_into(env.raw(), src.raw(), dst.raw(), $kenc) }
        }

        /// G.711 decode into a caller's buffer: writes `src.length` samples
        /// to the start of `dst` (an `Int16Array`, or a `Buffer` receiving
        /// PCM16LE) and returns how many samples it wrote.
        ///
        /// ```js
        /// const { alaw } = require('teledsp');
        /// const pcm = new Int16Array(160);
        /// alaw.decodeInto(new Uint8Array(160), pcm); // 160
        /// ```
        #[napi(namespace = $ns, js_name = "decodeInto", ts_args_type = "src: Uint8Array | Buffer, dst: Int16Array | Buffer", catch_unwind)]
        pub fn $dec_into(env: &Env, src: Unknown<'_>, dst: Unknown<'_>) -> Result<u32> {
            // SAFETY: the raw values of this call's arguments.
            unsafe { decode_into(env.raw(), src.raw(), dst.raw(), $kdec) }
        }

        /// G.711 encode of one sample (an integer in -32768..=32767), with
        /// alawmulaw's return values: `alaw` gives the code (0..=255);
        /// `mulaw` gives the code minus 256 (-256..=-1), the bitwise NOT
        /// alawmulaw returns (`& 0xff` gives the code).
        ///
        /// ```js
        /// const { mulaw, alaw } = require('teledsp');
        /// mulaw.encodeSample(1000); // -50 (code 206)
        /// alaw.encodeSample(1000); // 250
        /// ```
        #[napi(namespace = $ns, js_name = "encodeSample", catch_unwind)]
        pub fn $enc1(sample: f64) -> Result<i32> {
            let mut out = [0u8];
            $kenc(&[sample_in(sample)?], &mut out).map_err(to_js)?;
            Ok($enc1_out(out[0]))
        }

        /// G.711 decode of one code (an integer in 0..=255). As alawmulaw,
        /// `mulaw.decodeSample(0x7f)` is -0 (mu-law's negative zero).
        ///
        /// ```js
        /// const { mulaw, alaw } = require('teledsp');
        /// alaw.decodeSample(0xd5); // 8
        /// Object.is(mulaw.decodeSample(0x7f), -0); // true
        /// ```
        #[napi(namespace = $ns, js_name = "decodeSample", catch_unwind)]
        pub fn $dec1(code: f64) -> Result<f64> {
            let code = code_in(code)?;
            let mut out = [0i16];
            $kdec(&[code], &mut out).map_err(to_js)?;
            Ok($dec1_out(code, out[0]))
        }

        /// Transcodes codes to the other law by the G.711 conversion table
        /// (not through linear PCM): `mulaw.toAlaw`, `alaw.toMulaw`.
        ///
        /// ```js
        /// const { mulaw, alaw } = require('teledsp');
        /// mulaw.toAlaw(Buffer.from([0xff])); // Uint8Array [213]
        /// alaw.toMulaw(Buffer.from([0xd5])); // Uint8Array [255]
        /// ```
        #[napi(namespace = $ns, js_name = $to_other_js, ts_args_type = "samples: Uint8Array | Buffer", ts_return_type = "Uint8Array", catch_unwind)]
        pub fn $to_other(env: &Env, samples: Unknown<'_>) -> Result<Value> {
            transcode(env, &samples, $ktrans)
        }
    };
}

/// alawmulaw's `mulaw.encodeSample` returns `~(sign | exponent | mantissa)`
/// unmasked: the code minus 256.
fn ulaw_sample_out(code: u8) -> i32 {
    i32::from(code) - 256
}

/// alawmulaw's `alaw.encodeSample` returns the code itself.
fn alaw_sample_out(code: u8) -> i32 {
    i32::from(code)
}

/// alawmulaw negates mu-law magnitudes for codes 0x00..=0x7f, so 0x7f
/// decodes to -0.
fn ulaw_decoded(code: u8, v: i16) -> f64 {
    if code & 0x80 == 0 { -f64::from(v.unsigned_abs()) } else { f64::from(v) }
}

/// A-law has no zero level: the value as is.
fn alaw_decoded(_code: u8, v: i16) -> f64 {
    f64::from(v)
}

law!(
    "mulaw",
    mulaw_encode,
    mulaw_decode,
    mulaw_encode_into,
    mulaw_decode_into,
    mulaw_encode_sample,
    mulaw_decode_sample,
    mulaw_to_alaw,
    "toAlaw",
    g711::ulaw_encode,
    g711::ulaw_decode,
    g711::ulaw_to_alaw,
    ulaw_sample_out,
    ulaw_decoded
);
law!(
    "alaw",
    alaw_encode,
    alaw_decode,
    alaw_encode_into,
    alaw_decode_into,
    alaw_encode_sample,
    alaw_decode_sample,
    alaw_to_mulaw,
    "toMulaw",
    g711::alaw_encode,
    g711::alaw_decode,
    g711::alaw_to_ulaw,
    alaw_sample_out,
    alaw_decoded
);

/// The `Into` codecs as bare Node-API callbacks (see `raw`): they replace
/// the generated entry points of the same functions when the module loads.
#[napi(module_exports)]
pub fn register_raw_codecs(exports: Object<'_>, env: Env) -> napi::Result<()> {
    let (env, exports) = (env.raw(), exports.raw());
    // SAFETY (each body): a `Body2` runs with a live call's env and
    // arguments, which is what `encode_into`, `decode_into` and `uint` need.
    let bodies: [(&CStr, &CStr, raw::Body2); 4] = [
        (c"mulaw", c"encodeInto", |e, [s, d]| unsafe { raw::uint(e, encode_into(e, s, d, g711::ulaw_encode)?) }),
        (c"mulaw", c"decodeInto", |e, [s, d]| unsafe { raw::uint(e, decode_into(e, s, d, g711::ulaw_decode)?) }),
        (c"alaw", c"encodeInto", |e, [s, d]| unsafe { raw::uint(e, encode_into(e, s, d, g711::alaw_encode)?) }),
        (c"alaw", c"decodeInto", |e, [s, d]| unsafe { raw::uint(e, decode_into(e, s, d, g711::alaw_decode)?) }),
    ];
    for (ns, name, body) in bodies {
        // SAFETY: `env` and `exports` are this module init's.
        unsafe { raw::add2(env, raw::property(env, exports, ns)?, name, body)? };
    }
    Ok(())
}
