//! Plain Node-API entry points for the per-frame calls.
//!
//! A 20 ms `encodeInto` does ~20 ns of work; napi-rs's generated callback
//! (its borrow-scope bookkeeping allocates per call) roughly doubles what
//! Node-API itself costs around it. The `Into` codecs are therefore also
//! registered as bare `napi_callback`s that replace the generated ones at
//! load: same argument handling, same errors, same code underneath. The
//! generated `#[napi]` functions stay as the source of the typings.

use std::ffi::{CStr, c_void};
use std::ptr;

use napi::sys;

use crate::{Code, Error, Result, err};

/// A two-argument call body: the raw arguments in, the JS result out.
///
/// # Safety
/// Call only with the env and arguments of a live call (`call2` does).
pub type Body2 = unsafe fn(sys::napi_env, [sys::napi_value; 2]) -> Result<sys::napi_value>;

/// Throws `e` as a JS `Error` with `e.code` set.
///
/// # Safety
/// `env` is the env of a live call.
unsafe fn throw(env: sys::napi_env, e: &Error) {
    let (code, msg) = (e.status.as_ref(), e.reason.as_str());
    let (mut c, mut m, mut obj) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live env inside a callback; the strings are valid UTF-8 of
    // the given lengths. On any failure there is nothing better to do than
    // return without an exception (the call then yields `undefined`).
    unsafe {
        if sys::napi_create_string_utf8(env, code.as_ptr().cast(), code.len() as isize, &mut c) == sys::Status::napi_ok
            && sys::napi_create_string_utf8(env, msg.as_ptr().cast(), msg.len() as isize, &mut m)
                == sys::Status::napi_ok
            && sys::napi_create_error(env, c, m, &mut obj) == sys::Status::napi_ok
        {
            sys::napi_throw(env, obj);
        }
    }
}

/// The callback every raw two-argument function shares; the body to run
/// travels in the function's `data` pointer. Missing arguments arrive as
/// `undefined` (Node-API fills them) and fail the body's type checks.
unsafe extern "C" fn call2(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: called by Node-API with a live env and info; argv has room for argc.
    let ok = unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data) };
    if ok != sys::Status::napi_ok || data.is_null() {
        // SAFETY: Node-API's live env for this callback.
        unsafe { throw(env, &err(Code::Internal, "Node-API napi_get_cb_info failed")) };
        return ptr::null_mut();
    }
    // SAFETY: `data` is the `Body2` that `add2` stored for this function.
    let body: Body2 = unsafe { std::mem::transmute::<*mut c_void, Body2>(data) };
    // SAFETY: `env` and `argv` are this live call's (Body2's contract).
    let result = std::panic::catch_unwind(|| unsafe { body(env, argv) });
    let e = match result {
        Ok(Ok(v)) => return v,
        Ok(Err(e)) => e,
        Err(_) => err(Code::Internal, "teledsp panicked; this is a bug, please report it"),
    };
    // SAFETY: as above.
    unsafe { throw(env, &e) };
    ptr::null_mut()
}

/// Sets `object[name]` to a new native function running `body`.
///
/// # Safety
/// `env` and `object` are live values of the current module init.
pub unsafe fn add2(env: sys::napi_env, object: sys::napi_value, name: &CStr, body: Body2) -> napi::Result<()> {
    let mut f = ptr::null_mut();
    let bytes = name.to_bytes();
    // SAFETY: per the function's contract; `body` is a plain fn pointer,
    // valid for the life of the process.
    let status = unsafe {
        sys::napi_create_function(env, name.as_ptr(), bytes.len() as isize, Some(call2), body as *mut c_void, &mut f)
    };
    if status == sys::Status::napi_ok {
        // SAFETY: as above.
        if unsafe { sys::napi_set_named_property(env, object, name.as_ptr(), f) } == sys::Status::napi_ok {
            return Ok(());
        }
    }
    Err(napi::Error::from_reason(format!("could not register {}", name.to_string_lossy())))
}

/// `exports[name]` (a namespace object), or an error.
///
/// # Safety
/// `env` and `exports` are live values of the current module init.
pub unsafe fn property(env: sys::napi_env, exports: sys::napi_value, name: &CStr) -> napi::Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    // SAFETY: per the function's contract.
    if unsafe { sys::napi_get_named_property(env, exports, name.as_ptr(), &mut v) } == sys::Status::napi_ok {
        Ok(v)
    } else {
        Err(napi::Error::from_reason(format!("exports.{} missing", name.to_string_lossy())))
    }
}

/// A JS number from a count.
///
/// # Safety
/// `env` is the env of a live call.
pub unsafe fn uint(env: sys::napi_env, n: u32) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    // SAFETY: a live env (contract); `v` is a local.
    if unsafe { sys::napi_create_uint32(env, n, &mut v) } == sys::Status::napi_ok {
        Ok(v)
    } else {
        Err(err(Code::Internal, "Node-API napi_create_uint32 failed"))
    }
}
