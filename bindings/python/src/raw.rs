//! Functions registered as plain CPython `METH_O` and `METH_FASTCALL`
//! builtins.
//!
//! A per-frame codec call does ~15 ns of work; pyo3's `#[pyfunction]`
//! wrapper (vectorcall argument parsing with keyword support, thread-local
//! attach bookkeeping) adds ~20 ns on top of CPython's own call cost, which
//! is most of the call. `METH_O` hands the argument straight over, as
//! `audioop` does. The bodies are ordinary pyo3 code; only the entry differs.

use std::ffi::CStr;

use pyo3::exceptions::PyTypeError;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::{PyErr, ffi};

/// Runs `body` on the borrowed argument `arg` and converts its result to
/// what CPython expects of a `METH_O` function: a new reference, or NULL
/// with an exception set. Panics become `PanicException`, never unwind into C.
///
/// # Safety
/// Call only from a `METH_O` entry point: the thread is attached and `arg`
/// is a valid borrowed reference for the duration of the call.
#[inline(always)]
pub unsafe fn call(
    arg: *mut ffi::PyObject,
    body: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls METH_O functions attached; the token does not
    // outlive this call.
    let py = unsafe { Python::assume_attached() };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `arg` is a valid borrowed reference for this call.
        // Borrowed, not Bound: no reference-count traffic.
        let arg = unsafe { Borrowed::from_ptr(py, arg) };
        body(&arg).map(Bound::into_ptr)
    }));
    finish(py, result)
}

/// A call's outcome as CPython expects it: the new reference, or NULL with
/// the exception set (a panic becomes `PanicException`).
fn finish(py: Python<'_>, result: std::thread::Result<PyResult<*mut ffi::PyObject>>) -> *mut ffi::PyObject {
    let err = match result {
        Ok(Ok(ptr)) => return ptr,
        Ok(Err(e)) => e,
        Err(payload) => panic_err(payload),
    };
    err.restore(py);
    std::ptr::null_mut()
}

fn panic_err(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned());
    PanicException::new_err(msg)
}

/// Defines a `METH_O` entry point `$entry` that runs `$body(arg)`.
macro_rules! meth_o {
    ($entry:ident => $body:expr) => {
        unsafe extern "C" fn $entry(
            _module: *mut pyo3::ffi::PyObject,
            arg: *mut pyo3::ffi::PyObject,
        ) -> *mut pyo3::ffi::PyObject {
            // SAFETY: registered with METH_O by `raw::add`, so CPython
            // calls it attached with one borrowed argument.
            unsafe { $crate::raw::call(arg, $body) }
        }
    };
}
pub(crate) use meth_o;

/// Runs `body` on the `N` positional arguments of a `METH_FASTCALL` call
/// (audioop's functions take no keywords either), with `N` checked first.
/// Results and panics are handled as in [`call`].
///
/// # Safety
/// Call only from a `METH_FASTCALL` entry point: the thread is attached and
/// `args` points to `nargs` valid borrowed references for the call.
#[inline(always)]
pub unsafe fn call_fast<const N: usize>(
    name: &str,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    body: impl for<'py> FnOnce([Borrowed<'_, 'py, PyAny>; N]) -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls METH_FASTCALL functions attached; the token does
    // not outlive this call.
    let py = unsafe { Python::assume_attached() };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if nargs as usize != N || nargs < 0 {
            return Err(PyTypeError::new_err(format!("{name} expected {N} arguments, got {nargs}")));
        }
        // SAFETY: `args` holds `nargs` == N valid borrowed references.
        let args = std::array::from_fn(|i| unsafe { Borrowed::from_ptr(py, *args.add(i)) });
        body(args).map(Bound::into_ptr)
    }));
    finish(py, result)
}

/// Defines a `METH_FASTCALL` entry point `$entry` that runs `$body` on its
/// `$n` positional arguments (see [`call_fast`]).
macro_rules! meth_fastcall {
    ($entry:ident, $name:literal, $n:literal => $body:expr) => {
        unsafe extern "C" fn $entry(
            _module: *mut pyo3::ffi::PyObject,
            args: *mut *mut pyo3::ffi::PyObject,
            nargs: pyo3::ffi::Py_ssize_t,
        ) -> *mut pyo3::ffi::PyObject {
            // SAFETY: registered with METH_FASTCALL by `raw::add_fastcall`,
            // so CPython calls it attached with `nargs` borrowed arguments.
            unsafe { $crate::raw::call_fast::<$n>($name, args, nargs, $body) }
        }
    };
}
pub(crate) use meth_fastcall;

/// As [`add`], for a `METH_FASTCALL` entry point.
pub fn add_fastcall(
    m: &Bound<'_, PyModule>,
    name: &'static CStr,
    doc: &'static CStr,
    entry: ffi::PyCFunctionFast,
) -> PyResult<()> {
    add_def(m, name, doc, ffi::PyMethodDefPointer { PyCFunctionFast: entry }, ffi::METH_FASTCALL)
}

/// Adds `entry` to `m` as the builtin function `name`. `doc` starts with the
/// `name(arg, /)\n--\n\n` signature line, so `inspect.signature` and `help`
/// work as for any builtin.
pub fn add(m: &Bound<'_, PyModule>, name: &'static CStr, doc: &'static CStr, entry: ffi::PyCFunction) -> PyResult<()> {
    add_def(m, name, doc, ffi::PyMethodDefPointer { PyCFunction: entry }, ffi::METH_O)
}

/// Adds a builtin whose `meth` matches `flags` (the callers above pair them).
fn add_def(
    m: &Bound<'_, PyModule>,
    name: &'static CStr,
    doc: &'static CStr,
    meth: ffi::PyMethodDefPointer,
    flags: std::os::raw::c_int,
) -> PyResult<()> {
    // CPython keeps a pointer to the definition for the function's lifetime,
    // i.e. the process's: one small leak per function per module init.
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: meth,
        ml_flags: flags,
        ml_doc: doc.as_ptr(),
    }));
    let py = m.py();
    let module_name = m.name()?;
    // SAFETY: `def` is 'static and its pointer matches its flags; `m` and
    // `module_name` are live; the result is a new reference or NULL.
    let f = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyCFunction_NewEx(def, m.as_ptr(), module_name.as_ptr()))? };
    m.add(name.to_str().expect("ASCII function name"), f)
}
