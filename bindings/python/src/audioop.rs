//! The codec and `ratecv` functions of CPython's `audioop` (removed in 3.13),
//! for `teledsp.audioop`.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use teledsp::g711;
use teledsp::resample::{Quality, Resampler};

use crate::buffer::{as_i16, new_bytes, with_buffer, with_i16_out};
use crate::g711::{decode, encode};
use crate::resample::rate;
use crate::{ConfigError, to_py};

fn check_width(width: i64) -> PyResult<()> {
    if width == 2 {
        Ok(())
    } else {
        Err(ConfigError::new_err(format!("teledsp.audioop supports width=2 (16-bit PCM) only, got width={width}")))
    }
}

/// audioop.lin2ulaw: byte-for-byte what CPython's audioop returns (its
/// mu-law encoder rounds 508 negative inputs differently from G.711;
/// `teledsp.ulaw_encode` is the ITU-exact one). width must be 2.
///
/// >>> from teledsp import audioop
/// >>> audioop.lin2ulaw(b"\x00\x00\xff\xff", 2)   # -1 -> 0x7E here, 0x7F in G.711
/// b'\xff~'
#[pyfunction]
fn lin2ulaw<'py>(fragment: &Bound<'py, PyAny>, width: i64) -> PyResult<Bound<'py, PyBytes>> {
    check_width(width)?;
    encode(fragment, "fragment", g711::ulaw_encode_audioop)
}

/// audioop.ulaw2lin (G.711 mu-law decode). width must be 2.
///
/// >>> from teledsp import audioop
/// >>> audioop.ulaw2lin(b"\xff", 2)
/// b'\x00\x00'
#[pyfunction]
fn ulaw2lin<'py>(fragment: &Bound<'py, PyAny>, width: i64) -> PyResult<Bound<'py, PyBytes>> {
    check_width(width)?;
    decode(fragment, "fragment", g711::ulaw_decode)
}

/// audioop.lin2alaw (G.711 A-law encode). width must be 2.
///
/// >>> from teledsp import audioop
/// >>> audioop.lin2alaw(b"\x00\x00", 2)
/// b'\xd5'
#[pyfunction]
fn lin2alaw<'py>(fragment: &Bound<'py, PyAny>, width: i64) -> PyResult<Bound<'py, PyBytes>> {
    check_width(width)?;
    encode(fragment, "fragment", g711::alaw_encode)
}

/// audioop.alaw2lin (G.711 A-law decode). width must be 2.
///
/// >>> from teledsp import audioop
/// >>> audioop.alaw2lin(b"\xd5", 2)
/// b'\x08\x00'
#[pyfunction]
fn alaw2lin<'py>(fragment: &Bound<'py, PyAny>, width: i64) -> PyResult<Bound<'py, PyBytes>> {
    check_width(width)?;
    decode(fragment, "fragment", g711::alaw_decode)
}

/// The state `ratecv` hands back: a resampler's history. Immutable: each
/// call returns a new one, as audioop's tuples are.
#[pyclass(module = "teledsp.audioop", frozen)]
pub struct RatecvState {
    inner: Resampler,
}

#[pymethods]
impl RatecvState {
    fn __repr__(&self) -> String {
        format!("<RatecvState {} -> {} Hz>", self.inner.in_rate(), self.inner.out_rate())
    }
}

/// audioop.ratecv's calling contract (pass state=None first, then feed back
/// the state it returns), with teledsp's anti-aliased polyphase resampler
/// ("telephony" preset) instead of audioop's unfiltered interpolation: no
/// aliasing or imaging, 1.7 ms of delay at 8<->24 kHz. Exactly
/// floor(total_in * outrate / inrate) samples come out over a stream.
///
/// Takes mono (nchannels=1) 16-bit (width=2) audio at 8000, 16000, 24000 or
/// 48000 Hz, any pair; anything else raises a ValueError naming what is
/// supported. weightA/weightB tune audioop's own filter and must stay 1, 0.
/// The output differs from audioop's sample for sample: it is filtered.
///
/// >>> from teledsp import audioop
/// >>> out, state = audioop.ratecv(bytes(320), 2, 1, 8000, 24000, None)
/// >>> len(out), type(state).__name__
/// (960, 'RatecvState')
#[pyfunction]
#[pyo3(signature = (fragment, width, nchannels, inrate, outrate, state, weightA=1, weightB=0))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn ratecv<'py>(
    fragment: &Bound<'py, PyAny>,
    width: i64,
    nchannels: i64,
    inrate: i64,
    outrate: i64,
    state: &Bound<'py, PyAny>,
    weightA: i64,
    weightB: i64,
) -> PyResult<(Bound<'py, PyBytes>, RatecvState)> {
    check_width(width)?;
    if nchannels != 1 {
        return Err(ConfigError::new_err(format!("teledsp.audioop.ratecv supports nchannels=1 only, got {nchannels}")));
    }
    if (weightA, weightB) != (1, 0) {
        return Err(ConfigError::new_err(format!(
            "weightA/weightB tune audioop's interpolation filter, which teledsp replaces; \
             leave them at 1, 0 (got {weightA}, {weightB})"
        )));
    }
    let (inrate, outrate) = (rate("inrate", inrate)?, rate("outrate", outrate)?);
    let mut r = if state.is_none() {
        Resampler::new(inrate, outrate, Quality::Telephony).map_err(to_py)?
    } else {
        let s = state.cast::<RatecvState>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(
                "state must be None or the state a previous teledsp.audioop.ratecv call returned",
            )
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
        new_bytes(fragment.py(), n_out * 2, bytes.len(), |out| {
            with_i16_out(out, |o| r.process_i16(&as_i16(bytes), o)).map(|_| ())
        })
    })?;
    Ok((out, RatecvState { inner: r }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lin2ulaw, m)?)?;
    m.add_function(wrap_pyfunction!(ulaw2lin, m)?)?;
    m.add_function(wrap_pyfunction!(lin2alaw, m)?)?;
    m.add_function(wrap_pyfunction!(alaw2lin, m)?)?;
    m.add_function(wrap_pyfunction!(ratecv, m)?)?;
    m.add_class::<RatecvState>()?;
    Ok(())
}
