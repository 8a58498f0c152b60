//! Typed arrays, `Buffer`s and `ArrayBuffer`s borrowed in place as bytes,
//! and typed arrays created and filled in place.
//!
//! Alignment: an `Int16Array` is always 2-byte aligned, but a `Buffer`
//! holding PCM16LE may start at an odd address (small `Buffer`s are slices
//! of a shared pool). Such input is copied once to an aligned scratch
//! vector; output into an odd-aligned `Buffer` goes through a scratch
//! vector too. Results are the same either way; aligned is faster.

use std::marker::PhantomData;
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, Unknown};
use napi::{Env, JsValue, ValueType, sys};

use crate::{Code, Result, err, internal};

/// What a view's elements are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Elem {
    /// `Uint8Array`, `Int8Array`, `Uint8ClampedArray`, `Buffer`, `ArrayBuffer`.
    Byte,
    /// `Int16Array`.
    I16,
    /// `Float32Array`.
    F32,
}

const TYPED_ARRAY_NAMES: [&str; 11] = [
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
];

/// Fails with `ERR_INVALID_ARG_TYPE` when a Node-API status is not ok.
fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(err(Code::Internal, format!("Node-API {what} failed with status {status}")))
    }
}

/// What `v` is, for messages.
///
/// # Safety
/// `env` and `v` come from a live call.
unsafe fn type_of(env: sys::napi_env, v: sys::napi_value) -> &'static str {
    let mut t = 0;
    // SAFETY: `env` and `v` come from a live call; `t` is a local. On
    // failure `t` stays 0 (undefined), which only affects a message.
    unsafe { sys::napi_typeof(env, v, &mut t) };
    match t {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "boolean",
        sys::ValueType::napi_number => "number",
        sys::ValueType::napi_string => "string",
        sys::ValueType::napi_symbol => "symbol",
        sys::ValueType::napi_function => "function",
        sys::ValueType::napi_bigint => "bigint",
        _ => {
            let mut is_array = false;
            // SAFETY: as above; `is_array` is a local.
            unsafe { sys::napi_is_array(env, v, &mut is_array) };
            if is_array { "Array" } else { "object" }
        }
    }
}

/// The memory of a typed array, `Buffer` or `ArrayBuffer` argument, for
/// `'a`: at most the call that received it (the argument keeps the memory
/// alive; JavaScript cannot run, so cannot detach or write it, until the
/// call returns).
///
/// Two arguments may name the same memory, so reading is safe but writing
/// is not: [`Bytes::bytes_mut`] is `unsafe`, and its callers check
/// [`Bytes::disjoint`] first.
pub struct Bytes<'a> {
    ptr: *mut u8,
    len: usize,
    elem: Elem,
    kind: &'static str,
    _arg: PhantomData<&'a [u8]>,
}

impl<'a> Bytes<'a> {
    /// Reads a call's argument as a byte view, or says what it got instead.
    /// The view lives no longer than the borrow of the argument.
    pub fn arg(v: &'a Unknown<'_>) -> Result<Self> {
        // SAFETY: an argument of the current call, borrowed for 'a.
        unsafe { Bytes::from_value(v.value().env, v.raw()) }
    }

    /// As [`Bytes::arg`], from raw handles.
    ///
    /// # Safety
    /// `env` and `v` come from the current call, and `'a` ends before it
    /// returns.
    pub unsafe fn from_raw(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        // SAFETY: per this function's contract.
        unsafe { Bytes::from_value(env, v) }
    }

    /// # Safety
    /// As [`Bytes::from_raw`].
    unsafe fn from_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        // Asking for the typed-array info straight away answers "is it one"
        // too (napi_invalid_arg, no exception): one Node-API call per
        // argument on the per-frame path instead of two.
        let (mut ty, mut len, mut data, mut ab, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        // SAFETY: `env` and `v` are live (contract); the out-pointers are locals.
        let status = unsafe { sys::napi_get_typedarray_info(env, v, &mut ty, &mut len, &mut data, &mut ab, &mut off) };
        if status == sys::Status::napi_ok {
            let kind = TYPED_ARRAY_NAMES.get(ty as usize).copied().unwrap_or("TypedArray");
            let (elem, size) = match ty {
                sys::TypedarrayType::int8_array
                | sys::TypedarrayType::uint8_array
                | sys::TypedarrayType::uint8_clamped_array => (Elem::Byte, 1),
                sys::TypedarrayType::int16_array => (Elem::I16, 2),
                sys::TypedarrayType::float32_array => (Elem::F32, 4),
                _ => {
                    return Err(err(
                        Code::ArgType,
                        format!("{kind} is not supported; expected Int16Array, Uint8Array, Buffer or Float32Array"),
                    ));
                }
            };
            return Ok(Bytes { ptr: data.cast(), len: len * size, elem, kind, _arg: PhantomData });
        }
        let mut is_ab = false;
        // SAFETY: as above.
        check(unsafe { sys::napi_is_arraybuffer(env, v, &mut is_ab) }, "napi_is_arraybuffer")?;
        if is_ab {
            let (mut data, mut len) = (ptr::null_mut(), 0usize);
            // SAFETY: as above.
            check(unsafe { sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len) }, "napi_get_arraybuffer_info")?;
            return Ok(Bytes { ptr: data.cast(), len, elem: Elem::Byte, kind: "ArrayBuffer", _arg: PhantomData });
        }
        // SAFETY: as above.
        let got = unsafe { type_of(env, v) };
        let hint = if got == "Array" { " (wrap a plain array: new Int16Array(array))" } else { "" };
        Err(err(Code::ArgType, format!("expected a typed array or Buffer, got {got}{hint}")))
    }

    /// The element type.
    pub fn elem(&self) -> Elem {
        self.elem
    }

    /// The JavaScript type, for messages ("Int16Array", "Uint8Array", ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// All of it, as bytes.
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the engine guarantees `len` bytes at `ptr` while the value
        // is alive, which is at least `'a`; no `&mut` into it exists unless
        // an `unsafe` caller of `bytes_mut` broke that method's contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// All of it, writable.
    ///
    /// # Safety
    /// No other reference into this memory may be live while the result is:
    /// another argument may name the same memory, so a caller that also
    /// reads one checks [`Bytes::disjoint`] (and copies if not) first.
    pub unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: `len` bytes at `ptr` for `'a` (as `bytes`); exclusive by
        // this function's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// The bytes of 16-bit PCM: an `Int16Array`, or bytes of PCM16LE (even count).
    pub fn pcm16(&self, what: &str) -> Result<&[u8]> {
        match self.elem {
            Elem::F32 => Err(err(
                Code::ArgType,
                format!("{what} must be 16-bit PCM (Int16Array or Buffer of PCM16LE), got Float32Array"),
            )),
            _ if !self.len.is_multiple_of(2) => Err(err(
                Code::InvalidLength,
                format!("{what} has {} bytes, not a whole number of 16-bit samples", self.len),
            )),
            _ => Ok(self.bytes()),
        }
    }

    /// The bytes of 8-bit G.711 codes: a byte array only.
    pub fn codes(&self, what: &str) -> Result<&[u8]> {
        match self.elem {
            Elem::Byte => Ok(self.bytes()),
            Elem::I16 => Err(err(
                Code::ArgType,
                format!("{what} is G.711 (one byte per sample), got Int16Array; did you mean an encode function?"),
            )),
            Elem::F32 => Err(err(Code::ArgType, format!("{what} is G.711 (one byte per sample), got Float32Array"))),
        }
    }

    /// Whether two arguments share no memory (so one may be read while the
    /// other is written).
    pub fn disjoint(&self, other: &Bytes<'_>) -> bool {
        let (a, b) = (self.ptr as usize, other.ptr as usize);
        self.len == 0 || other.len == 0 || a + self.len <= b || b + other.len <= a
    }
}

/// A JavaScript message: a string, or UTF-8 bytes in a `Buffer`/`Uint8Array`.
pub enum Text<'a> {
    /// Copied out of a JS string.
    Owned(String),
    /// Borrowed from a Buffer.
    Bytes(Bytes<'a>),
}

impl Text<'_> {
    /// The text, or `ERR_TELEDSP_MALFORMED` if the bytes are not UTF-8.
    pub fn as_str(&self) -> Result<&str> {
        match self {
            Text::Owned(s) => Ok(s),
            Text::Bytes(b) => std::str::from_utf8(b.bytes())
                .map_err(|e| err(Code::Malformed, format!("message is not UTF-8 text: {e}"))),
        }
    }
}

impl<'a> Text<'a> {
    /// Reads a call's argument as a message.
    pub fn arg(v: &'a Unknown<'_>) -> Result<Self> {
        let (env, raw) = (v.value().env, v.raw());
        if v.get_type().map_err(internal)? == ValueType::String {
            // SAFETY: a string argument of the current call.
            return unsafe { String::from_napi_value(env, raw) }.map(Text::Owned).map_err(internal);
        }
        // SAFETY: an argument of the current call, borrowed for 'a.
        match unsafe { Bytes::from_value(env, raw) } {
            Ok(b) if b.elem == Elem::Byte => Ok(Text::Bytes(b)),
            Ok(b) => Err(err(Code::ArgType, format!("message must be a string or a Buffer of UTF-8, got {}", b.kind))),
            Err(_) => Err(err(
                Code::ArgType,
                // SAFETY: an argument of the current call.
                format!("message must be a string or a Buffer of UTF-8, got {}", unsafe { type_of(env, raw) }),
            )),
        }
    }
}

/// A JavaScript value made by this module in the current call, returned
/// as is. Only this module makes them (the field is private), each from a
/// Node-API call that succeeded, so a safe caller cannot hand Node-API a
/// made-up handle.
#[derive(Clone, Copy)]
pub struct Value(sys::napi_value);

impl ToNapiValue for Value {
    unsafe fn to_napi_value(_env: sys::napi_env, v: Self) -> napi::Result<sys::napi_value> {
        Ok(v.0)
    }
}

impl TypeName for Value {
    fn type_name() -> &'static str {
        "TypedArray"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// A JS string of `s`: Latin-1 (a plain copy) when it is ASCII, as the
/// bridge's JSON output is; UTF-8 otherwise.
pub fn string(env: &Env, s: &str) -> Result<Value> {
    let env = env.raw();
    let mut out = ptr::null_mut();
    let (p, n) = (s.as_ptr().cast(), s.len() as isize);
    // SAFETY: a live env; `s` is readable for its length. ASCII is the same
    // bytes in Latin-1 and UTF-8, so the cheaper one-byte path is exact.
    let status = unsafe {
        if s.is_ascii() {
            sys::napi_create_string_latin1(env, p, n, &mut out)
        } else {
            sys::napi_create_string_utf8(env, p, n, &mut out)
        }
    };
    check(status, "napi_create_string")?;
    Ok(Value(out))
}

/// A JS array of the given values (made in the current call).
pub fn array(env: &Env, items: &[Value]) -> Result<Value> {
    let mut arr = ptr::null_mut();
    // SAFETY: a live env.
    check(unsafe { sys::napi_create_array_with_length(env.raw(), items.len(), &mut arr) }, "napi_create_array")?;
    for (i, &Value(v)) in items.iter().enumerate() {
        // SAFETY: `arr` and `v` are live values of this call.
        check(unsafe { sys::napi_set_element(env.raw(), arr, i as u32, v) }, "napi_set_element")?;
    }
    Ok(Value(arr))
}

/// A JS value of the JSON value `v` (objects, arrays, strings, numbers).
pub fn json(env: &Env, v: serde_json::Value) -> Result<Value> {
    // SAFETY: a live env; napi-rs's own conversion of serde_json values.
    unsafe { <serde_json::Value as ToNapiValue>::to_napi_value(env.raw(), v) }.map(Value).map_err(internal)
}

/// A JS array of strings.
pub fn strings(env: &Env, items: &[String]) -> Result<Value> {
    let mut arr = ptr::null_mut();
    // SAFETY: a live env.
    check(unsafe { sys::napi_create_array_with_length(env.raw(), items.len(), &mut arr) }, "napi_create_array")?;
    for (i, s) in items.iter().enumerate() {
        let Value(v) = string(env, s)?;
        // SAFETY: `arr` and `v` are live values of this call.
        check(unsafe { sys::napi_set_element(env.raw(), arr, i as u32, v) }, "napi_set_element")?;
    }
    Ok(Value(arr))
}

/// Typed arrays this binding returns.
#[derive(Clone, Copy)]
pub enum Out {
    U8,
    I16,
    F32,
}

/// A new typed array of `len` elements filled in place by `fill`, which
/// returns how many elements it wrote (the array is cut to that).
pub fn new_array(env: &Env, ty: Out, len: usize, fill: impl FnOnce(&mut [u8]) -> Result<usize>) -> Result<Value> {
    let (size, tty) = match ty {
        Out::U8 => (1, sys::TypedarrayType::uint8_array),
        Out::I16 => (2, sys::TypedarrayType::int16_array),
        Out::F32 => (4, sys::TypedarrayType::float32_array),
    };
    let env = env.raw();
    let (mut data, mut ab) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live env; V8 zero-fills the new buffer.
    check(unsafe { sys::napi_create_arraybuffer(env, len * size, &mut data, &mut ab) }, "napi_create_arraybuffer")?;
    let buf: &mut [u8] = if len == 0 {
        &mut []
    } else {
        // SAFETY: `len * size` writable bytes, owned by the new ArrayBuffer,
        // which nothing else references yet.
        unsafe { std::slice::from_raw_parts_mut(data.cast(), len * size) }
    };
    let written = fill(buf)?;
    let mut out = ptr::null_mut();
    // SAFETY: `written <= len` elements of the array buffer just made.
    check(
        unsafe { sys::napi_create_typedarray(env, tty, written.min(len), ab, 0, &mut out) },
        "napi_create_typedarray",
    )?;
    Ok(Value(out))
}

/// A new `Buffer` holding a copy of `data`.
pub fn new_buffer(env: &Env, data: &[u8]) -> Result<Value> {
    let (mut copy, mut out) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live env; `data` is readable for its length.
    check(
        unsafe { sys::napi_create_buffer_copy(env.raw(), data.len(), data.as_ptr().cast(), &mut copy, &mut out) },
        "napi_create_buffer_copy",
    )?;
    Ok(Value(out))
}

// Bytes <-> samples of any alignment: the crate's, shared with the Python binding.
pub use teledsp::pcm::{
    f32_le as as_f32, i16_le as as_i16, with_f32_le_mut as with_f32_out, with_i16_le_mut as with_i16_out,
};

/// A JS number that must be a whole number in `0..=max`, or a clear error.
pub fn whole(name: &str, v: f64, max: u32, code: Code) -> Result<u32> {
    if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && v <= f64::from(max) {
        Ok(v as u32)
    } else {
        Err(err(code, format!("{name} must be a whole number in 0..={max}, got {v}")))
    }
}
