//! `teledsp.audioop`: CPython's `audioop` (removed in 3.13), exactly, from
//! `teledsp::audioop`; and `teledsp.ratecv`, audioop's calling convention
//! over teledsp's anti-aliased resampler.
//!
//! The exact functions are registered as `audioop_<name>`; `teledsp/audioop.py`
//! gives them their audioop names. Arguments parse as audioop's do: any
//! bytes-like fragment (a `str` is a TypeError), `int` widths (a float is a
//! TypeError), states as audioop's tuples.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use teledsp::audioop as ao;
use teledsp::resample::{Quality, Resampler};

use crate::buffer::{as_i16, new_bytes, with_buffer, with_i16_out};
use crate::raw;
use crate::resample::rate;
use crate::{ConfigError, to_py};

/// The fragment's bytes (any C-contiguous buffer), for `f`.
fn frag<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> Result<R, teledsp::Error>) -> PyResult<R> {
    with_buffer(obj, |v| f(v.bytes()).map_err(to_py))
}

fn out<'py>(py: Python<'py>, v: Vec<u8>) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &v)
}

/// A new `bytes` of `len(fragment)` bytes, written in place by an
/// `audioop::*_into` function (no intermediate `Vec`). A wrong `len` cannot
/// write out of bounds: the `_into` function checks it.
fn frag_into<'py>(
    fragment: &Bound<'py, PyAny>,
    len: impl FnOnce(&[u8]) -> Result<usize, teledsp::Error>,
    fill: impl FnOnce(&[u8], &mut [u8]) -> Result<(), teledsp::Error> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    with_buffer(fragment, |v| {
        let b = v.bytes();
        let n = len(b).map_err(to_py)?;
        new_bytes(fragment.py(), n, v.gil_free_work(), |o| fill(b, o))
    })
}

// getsample does no work beyond its call, so the call is its cost: a
// METH_FASTCALL entry, as audioop's own, not pyo3's wrapper.
raw::meth_fastcall!(getsample, "getsample", 3 => |[fragment, width, index]| {
    let (width, index): (CInt, CSsize) = (width.extract()?, index.extract()?);
    let (width, index) = (width.0, index.0);
    let v = frag(&fragment, |b| ao::getsample(b, width, index))?;
    Ok(v.into_pyobject(fragment.py())?.into_any())
});
/// audioop.max(fragment, width)
#[pyfunction(name = "audioop_max")]
#[pyo3(signature = (fragment, width, /))]
fn max(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<u32> {
    let width = width.0;
    frag(fragment, |b| ao::max(b, width))
}
/// audioop.minmax(fragment, width)
#[pyfunction(name = "audioop_minmax")]
#[pyo3(signature = (fragment, width, /))]
fn minmax(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<(i32, i32)> {
    let width = width.0;
    frag(fragment, |b| ao::minmax(b, width))
}
/// audioop.avg(fragment, width)
#[pyfunction(name = "audioop_avg")]
#[pyo3(signature = (fragment, width, /))]
fn avg(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<i32> {
    let width = width.0;
    frag(fragment, |b| ao::avg(b, width))
}
/// audioop.rms(fragment, width)
#[pyfunction(name = "audioop_rms")]
#[pyo3(signature = (fragment, width, /))]
fn rms(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<u32> {
    let width = width.0;
    frag(fragment, |b| ao::rms(b, width))
}
/// audioop.avgpp(fragment, width)
#[pyfunction(name = "audioop_avgpp")]
#[pyo3(signature = (fragment, width, /))]
fn avgpp(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<u32> {
    let width = width.0;
    frag(fragment, |b| ao::avgpp(b, width))
}
/// audioop.maxpp(fragment, width)
#[pyfunction(name = "audioop_maxpp")]
#[pyo3(signature = (fragment, width, /))]
fn maxpp(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<u32> {
    let width = width.0;
    frag(fragment, |b| ao::maxpp(b, width))
}
/// audioop.cross(fragment, width)
#[pyfunction(name = "audioop_cross")]
#[pyo3(signature = (fragment, width, /))]
fn cross(fragment: &Bound<'_, PyAny>, width: CInt) -> PyResult<isize> {
    let width = width.0;
    frag(fragment, |b| ao::cross(b, width))
}
/// audioop.findfit(fragment, reference)
#[pyfunction(name = "audioop_findfit")]
#[pyo3(signature = (fragment, reference, /))]
fn findfit(fragment: &Bound<'_, PyAny>, reference: &Bound<'_, PyAny>) -> PyResult<(usize, f64)> {
    with_buffer(reference, |r| frag(fragment, |b| ao::findfit(b, r.bytes())))
}
/// audioop.findfactor(fragment, reference)
#[pyfunction(name = "audioop_findfactor")]
#[pyo3(signature = (fragment, reference, /))]
fn findfactor(fragment: &Bound<'_, PyAny>, reference: &Bound<'_, PyAny>) -> PyResult<f64> {
    with_buffer(reference, |r| frag(fragment, |b| ao::findfactor(b, r.bytes())))
}
/// audioop.findmax(fragment, length)
#[pyfunction(name = "audioop_findmax")]
#[pyo3(signature = (fragment, length, /))]
fn findmax(fragment: &Bound<'_, PyAny>, length: CSsize) -> PyResult<usize> {
    let length = length.0;
    frag(fragment, |b| ao::findmax(b, length))
}
/// audioop.mul(fragment, width, factor)
#[pyfunction(name = "audioop_mul")]
#[pyo3(signature = (fragment, width, factor, /))]
fn mul<'py>(fragment: &Bound<'py, PyAny>, width: CInt, factor: f64) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len()), |b, o| ao::mul_into(b, width, factor, o))
}
/// audioop.tomono(fragment, width, lfactor, rfactor)
#[pyfunction(name = "audioop_tomono")]
#[pyo3(signature = (fragment, width, lfactor, rfactor, /))]
fn tomono<'py>(fragment: &Bound<'py, PyAny>, width: CInt, lfactor: f64, rfactor: f64) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() / 2), |b, o| ao::tomono_into(b, width, lfactor, rfactor, o))
}
/// audioop.tostereo(fragment, width, lfactor, rfactor)
#[pyfunction(name = "audioop_tostereo")]
#[pyo3(signature = (fragment, width, lfactor, rfactor, /))]
fn tostereo<'py>(
    fragment: &Bound<'py, PyAny>,
    width: CInt,
    lfactor: f64,
    rfactor: f64,
) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() * 2), |b, o| ao::tostereo_into(b, width, lfactor, rfactor, o))
}
/// audioop.add(fragment1, fragment2, width)
#[pyfunction(name = "audioop_add")]
#[pyo3(signature = (fragment1, fragment2, width, /))]
fn add<'py>(
    fragment1: &Bound<'py, PyAny>,
    fragment2: &Bound<'py, PyAny>,
    width: CInt,
) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    with_buffer(fragment2, |v2| {
        with_buffer(fragment1, |v1| {
            let (b, f2) = (v1.bytes(), v2.bytes());
            let work = v1.gil_free_work().min(v2.gil_free_work());
            new_bytes(fragment1.py(), b.len(), work, |o| ao::add_into(b, f2, width, o))
        })
    })
}
/// audioop.bias(fragment, width, bias)
#[pyfunction(name = "audioop_bias")]
#[pyo3(signature = (fragment, width, bias, /))]
fn bias<'py>(fragment: &Bound<'py, PyAny>, width: CInt, bias: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    let bias = bias.0;
    frag_into(fragment, |b| Ok(b.len()), |b, o| ao::bias_into(b, width, bias, o))
}
/// audioop.reverse(fragment, width)
#[pyfunction(name = "audioop_reverse")]
#[pyo3(signature = (fragment, width, /))]
fn reverse<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len()), |b, o| ao::reverse_into(b, width, o))
}
/// audioop.byteswap(fragment, width)
#[pyfunction(name = "audioop_byteswap")]
#[pyo3(signature = (fragment, width, /))]
fn byteswap<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len()), |b, o| ao::byteswap_into(b, width, o))
}
/// audioop.lin2lin(fragment, width, newwidth)
#[pyfunction(name = "audioop_lin2lin")]
#[pyo3(signature = (fragment, width, newwidth, /))]
fn lin2lin<'py>(fragment: &Bound<'py, PyAny>, width: CInt, newwidth: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    let newwidth = newwidth.0;
    frag_into(fragment, |b| ao::lin2lin_len(b.len(), width, newwidth), |b, o| ao::lin2lin_into(b, width, newwidth, o))
}
/// audioop.lin2ulaw(fragment, width): byte for byte CPython's (its mu-law
/// encoder rounds 508 negative inputs differently from G.711;
/// `teledsp.ulaw_encode` is the ITU-exact one).
///
/// >>> from teledsp import audioop
/// >>> audioop.lin2ulaw(b"\x00\x00\xff\xff", 2)   # -1 -> 0x7E here, 0x7F in G.711
/// b'\xff~'
#[pyfunction(name = "audioop_lin2ulaw")]
#[pyo3(signature = (fragment, width, /))]
fn lin2ulaw<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() / ao::check_width(width)?), |b, o| ao::lin2ulaw_into(b, width, o))
}
/// audioop.ulaw2lin(fragment, width)
///
/// >>> from teledsp import audioop
/// >>> audioop.ulaw2lin(b"\xff", 2)
/// b'\x00\x00'
#[pyfunction(name = "audioop_ulaw2lin")]
#[pyo3(signature = (fragment, width, /))]
fn ulaw2lin<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() * ao::check_width(width)?), |b, o| ao::ulaw2lin_into(b, width, o))
}
/// audioop.lin2alaw(fragment, width)
///
/// >>> from teledsp import audioop
/// >>> audioop.lin2alaw(b"\x00\x00", 2)
/// b'\xd5'
#[pyfunction(name = "audioop_lin2alaw")]
#[pyo3(signature = (fragment, width, /))]
fn lin2alaw<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() / ao::check_width(width)?), |b, o| ao::lin2alaw_into(b, width, o))
}
/// audioop.alaw2lin(fragment, width)
///
/// >>> from teledsp import audioop
/// >>> audioop.alaw2lin(b"\xd5", 2)
/// b'\x08\x00'
#[pyfunction(name = "audioop_alaw2lin")]
#[pyo3(signature = (fragment, width, /))]
fn alaw2lin<'py>(fragment: &Bound<'py, PyAny>, width: CInt) -> PyResult<Bound<'py, PyBytes>> {
    let width = width.0;
    frag_into(fragment, |b| Ok(b.len() * ao::check_width(width)?), |b, o| ao::alaw2lin_into(b, width, o))
}

/// An `int` argument as Argument Clinic's `int` converter takes it: out of
/// C int range is "Python int too large to convert to C int".
#[derive(Clone, Copy)]
struct CInt(i32);

impl FromPyObject<'_, '_> for CInt {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        clinic_int(obj, "int").map(CInt)
    }
}

/// A `Py_ssize_t` argument: out of range is "Python int too large to
/// convert to C ssize_t".
#[derive(Clone, Copy)]
struct CSsize(isize);

impl FromPyObject<'_, '_> for CSsize {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        clinic_int(obj, "ssize_t").map(CSsize)
    }
}

/// An integer argument as Argument Clinic converts it to C type `c_type`:
/// `__index__` (its TypeError as is), then "Python int too large to convert
/// to C {c_type}" when it does not fit.
fn clinic_int<T: TryFrom<i64>>(obj: Borrowed<'_, '_, PyAny>, c_type: &str) -> PyResult<T> {
    let too_big = || PyOverflowError::new_err(format!("Python int too large to convert to C {c_type}"));
    let n: i64 =
        obj.extract().map_err(|e: PyErr| if e.is_instance_of::<PyOverflowError>(obj.py()) { too_big() } else { e })?;
    T::try_from(n).map_err(|_| too_big())
}

/// An `int` inside a state tuple, as `PyArg_ParseTuple`'s `"i"` converts
/// it: any object with `__index__` (else the TypeError `PyLong_AsLong`
/// raises), a C long ("Python int too large to convert to C long"), then a
/// C int ("signed integer is greater than maximum" / "less than minimum").
fn parse_tuple_int(v: &Bound<'_, PyAny>) -> PyResult<i32> {
    let n: i64 = v.extract()?;
    if n > i64::from(i32::MAX) {
        Err(PyOverflowError::new_err("signed integer is greater than maximum"))
    } else if n < i64::from(i32::MIN) {
        Err(PyOverflowError::new_err("signed integer is less than minimum"))
    } else {
        Ok(n as i32)
    }
}

/// A tuple of exactly two ints, as `PyArg_ParseTuple(t, "ii;...")` takes it:
/// another length is `illegal`; each int as [`parse_tuple_int`].
fn int_pair(t: &Bound<'_, PyTuple>, illegal: impl Fn() -> PyErr) -> PyResult<(i32, i32)> {
    if t.len() != 2 {
        return Err(illegal());
    }
    Ok((parse_tuple_int(&t.get_item(0)?)?, parse_tuple_int(&t.get_item(1)?)?))
}

/// An ADPCM state as audioop takes it: None, or a tuple of two ints.
fn adpcm_state(state: &Bound<'_, PyAny>, func: &str) -> PyResult<Option<ao::AdpcmState>> {
    if state.is_none() {
        return Ok(None);
    }
    let t = state.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("state must be a tuple or None"))?;
    int_pair(t, || PyTypeError::new_err(format!("{func}(): illegal state argument"))).map(Some)
}

/// audioop.lin2adpcm(fragment, width, state) -> (adpcm, (valpred, index))
#[pyfunction(name = "audioop_lin2adpcm")]
#[pyo3(signature = (fragment, width, state, /))]
fn lin2adpcm<'py>(
    fragment: &Bound<'py, PyAny>,
    width: CInt,
    state: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyBytes>, (i32, i32))> {
    let width = width.0;
    let s = adpcm_state(state, "lin2adpcm")?;
    let mut next = (0, 0);
    let len = |b: &[u8]| Ok(b.len() / (ao::check_width(width)? * 2));
    let bytes = frag_into(fragment, len, |b, o| ao::lin2adpcm_into(b, width, s, o).map(|s| next = s))?;
    Ok((bytes, next))
}
/// audioop.adpcm2lin(fragment, width, state) -> (pcm, (valpred, index))
#[pyfunction(name = "audioop_adpcm2lin")]
#[pyo3(signature = (fragment, width, state, /))]
fn adpcm2lin<'py>(
    fragment: &Bound<'py, PyAny>,
    width: CInt,
    state: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyBytes>, (i32, i32))> {
    let width = width.0;
    let s = adpcm_state(state, "adpcm2lin")?;
    let mut next = (0, 0);
    let len = |b: &[u8]| Ok(b.len() * 2 * ao::check_width(width)?);
    let bytes = frag_into(fragment, len, |b, o| ao::adpcm2lin_into(b, width, s, o).map(|s| next = s))?;
    Ok((bytes, next))
}

/// audioop's ratecv state: `(d, ((prev, cur), ...))`.
type RatecvTuple<'py> = (i32, Bound<'py, PyTuple>);

/// A ratecv state as audioop takes it: None, or `(d, ((prev, cur), ...))`.
fn ratecv_state(state: &Bound<'_, PyAny>) -> PyResult<Option<ao::RatecvState>> {
    if state.is_none() {
        return Ok(None);
    }
    let illegal = || PyTypeError::new_err("ratecv(): illegal state argument");
    let t = state.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("state must be a tuple or None"))?;
    if t.len() != 2 {
        return Err(illegal());
    }
    let d = parse_tuple_int(&t.get_item(0)?)?;
    let samps = t.get_item(1)?;
    let samps = samps.cast::<PyTuple>().map_err(|_| illegal())?;
    let mut samples = Vec::with_capacity(samps.len());
    for ch in samps.iter() {
        let ch = ch.cast::<PyTuple>().map_err(|_| illegal())?;
        samples.push(int_pair(ch, illegal)?);
    }
    Ok(Some(ao::RatecvState { d, samples }))
}

/// audioop.ratecv(fragment, width, nchannels, inrate, outrate, state,
/// weightA=1, weightB=0) -> (fragment, state): audioop's own linear
/// interpolation, exactly (it aliases: `teledsp.ratecv` and
/// `teledsp.Resampler` filter).
///
/// >>> from teledsp import audioop
/// >>> audioop.ratecv(b"\x00\x10\x00\x20", 2, 1, 8000, 16000, None)
/// (b'\x00\x10\x00\x18\x00 ', (-1, ((268435456, 536870912),)))
#[pyfunction(name = "audioop_ratecv")]
#[pyo3(signature = (fragment, width, nchannels, inrate, outrate, state, weightA=CInt(1), weightB=CInt(0), /))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn ratecv_exact<'py>(
    fragment: &Bound<'py, PyAny>,
    width: CInt,
    nchannels: CInt,
    inrate: CInt,
    outrate: CInt,
    state: &Bound<'py, PyAny>,
    weightA: CInt,
    weightB: CInt,
) -> PyResult<(Bound<'py, PyBytes>, RatecvTuple<'py>)> {
    let width = width.0;
    let nchannels = nchannels.0;
    let inrate = inrate.0;
    let outrate = outrate.0;
    let weightA = weightA.0;
    let weightB = weightB.0;
    let py = fragment.py();
    ao::check_width(width).map_err(to_py)?;
    if nchannels >= 1 && width as i64 * nchannels as i64 > i32::MAX as i64 {
        return Err(PyOverflowError::new_err("width * nchannels too big for a C int"));
    }
    // audioop checks the arguments before it parses the state.
    let s = match ratecv_state(state) {
        Ok(s) => s,
        Err(e) => {
            frag(fragment, |b| ao::ratecv(b, width, nchannels, inrate, outrate, None, weightA, weightB).map(|_| ()))?;
            return Err(e);
        }
    };
    let (v, s) = frag(fragment, |b| ao::ratecv(b, width, nchannels, inrate, outrate, s.as_ref(), weightA, weightB))?;
    // Tuples all the way down, as audioop's state is.
    let samples = PyTuple::new(py, s.samples)?;
    Ok((out(py, v), (s.d, samples)))
}

/// The state `teledsp.ratecv` hands back: a resampler's history.
/// Immutable: each call returns a new one, as audioop's tuples are.
#[pyclass(module = "teledsp", frozen)]
pub struct RatecvState {
    inner: Resampler,
}

#[pymethods]
impl RatecvState {
    fn __repr__(&self) -> String {
        format!("<RatecvState {} -> {} Hz>", self.inner.in_rate(), self.inner.out_rate())
    }
}

/// teledsp.ratecv: audioop.ratecv's calling convention (pass state=None
/// first, then feed back the state it returns) over teledsp's anti-aliased
/// polyphase resampler ("telephony" preset) instead of audioop's unfiltered
/// interpolation: no aliasing or imaging, 1.7 ms of delay at 8<->24 kHz.
/// Exactly floor(total_in * outrate / inrate) samples come out over a
/// stream. Mono (nchannels=1) 16-bit (width=2) audio at 8000, 16000, 24000
/// or 48000 Hz, any pair; anything else raises a ValueError naming what is
/// supported. `teledsp.audioop.ratecv` is audioop's own algorithm, exactly.
///
/// >>> import teledsp
/// >>> out, state = teledsp.ratecv(bytes(320), 2, 1, 8000, 24000, None)
/// >>> len(out), type(state).__name__
/// (960, 'RatecvState')
#[pyfunction]
#[pyo3(signature = (fragment, width, nchannels, inrate, outrate, state))]
fn ratecv<'py>(
    fragment: &Bound<'py, PyAny>,
    width: i64,
    nchannels: i64,
    inrate: i64,
    outrate: i64,
    state: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyBytes>, RatecvState)> {
    if width != 2 {
        return Err(ConfigError::new_err(format!("teledsp.ratecv takes width=2 (16-bit PCM) only, got width={width}")));
    }
    if nchannels != 1 {
        return Err(ConfigError::new_err(format!("teledsp.ratecv takes nchannels=1 only, got {nchannels}")));
    }
    let (inrate, outrate) = (rate("inrate", inrate)?, rate("outrate", outrate)?);
    let mut r = if state.is_none() {
        Resampler::new(inrate, outrate, Quality::Telephony).map_err(to_py)?
    } else {
        let s = state.cast::<RatecvState>().map_err(|_| {
            PyTypeError::new_err("state must be None or the state a previous teledsp.ratecv call returned")
        })?;
        let s = &s.get().inner;
        if (s.in_rate(), s.out_rate()) != (inrate, outrate) {
            return Err(ConfigError::new_err(format!(
                "state is for {} -> {} Hz, this call is {inrate} -> {outrate} Hz",
                s.in_rate(),
                s.out_rate()
            )));
        }
        s.clone()
    };
    let out = with_buffer(fragment, |buf| {
        let bytes = buf.pcm16("fragment")?;
        let n_out = r.output_len(bytes.len() / 2);
        new_bytes(fragment.py(), n_out * 2, buf.gil_free_work(), |out| {
            with_i16_out(out, |o| r.process_i16(&as_i16(bytes), o)).map(|_| ())
        })
    })?;
    Ok((out, RatecvState { inner: r }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    raw::add_fastcall(
        m,
        c"audioop_getsample",
        c"getsample(fragment, width, index, /)\n--\n\naudioop.getsample: the sample at `index`.",
        getsample,
    )?;
    for f in [
        wrap_pyfunction!(max, m)?,
        wrap_pyfunction!(minmax, m)?,
        wrap_pyfunction!(avg, m)?,
        wrap_pyfunction!(rms, m)?,
        wrap_pyfunction!(avgpp, m)?,
        wrap_pyfunction!(maxpp, m)?,
        wrap_pyfunction!(cross, m)?,
        wrap_pyfunction!(findfit, m)?,
        wrap_pyfunction!(findfactor, m)?,
        wrap_pyfunction!(findmax, m)?,
        wrap_pyfunction!(mul, m)?,
        wrap_pyfunction!(tomono, m)?,
        wrap_pyfunction!(tostereo, m)?,
        wrap_pyfunction!(add, m)?,
        wrap_pyfunction!(bias, m)?,
        wrap_pyfunction!(reverse, m)?,
        wrap_pyfunction!(byteswap, m)?,
        wrap_pyfunction!(lin2lin, m)?,
        wrap_pyfunction!(lin2ulaw, m)?,
        wrap_pyfunction!(ulaw2lin, m)?,
        wrap_pyfunction!(lin2alaw, m)?,
        wrap_pyfunction!(alaw2lin, m)?,
        wrap_pyfunction!(lin2adpcm, m)?,
        wrap_pyfunction!(adpcm2lin, m)?,
        wrap_pyfunction!(ratecv_exact, m)?,
        wrap_pyfunction!(ratecv, m)?,
    ] {
        m.add_function(f)?;
    }
    m.add_class::<RatecvState>()?;
    Ok(())
}
