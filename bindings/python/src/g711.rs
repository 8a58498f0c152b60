//! ITU-T G.711 codecs on Python buffers.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use teledsp::{Error, g711};

use crate::buffer::{as_i16, new_bytes, with_buffer, with_i16_out};
use crate::raw;

type EncodeFn = fn(&[i16], &mut [u8]) -> Result<(), Error>;
type DecodeFn = fn(&[u8], &mut [i16]) -> Result<(), Error>;
type TranscodeFn = fn(&[u8], &mut [u8]) -> Result<(), Error>;

/// PCM16 buffer in, one code byte per sample out.
pub fn encode<'py>(pcm: &Bound<'py, PyAny>, what: &str, f: EncodeFn) -> PyResult<Bound<'py, PyBytes>> {
    with_buffer(pcm, |buf| {
        let bytes = buf.pcm16(what)?;
        new_bytes(pcm.py(), bytes.len() / 2, buf.gil_free_work(), |out| f(&as_i16(bytes), out))
    })
}

/// Code bytes in, PCM16 little-endian bytes out.
pub fn decode<'py>(data: &Bound<'py, PyAny>, what: &str, f: DecodeFn) -> PyResult<Bound<'py, PyBytes>> {
    with_buffer(data, |buf| {
        let codes = buf.codes(what)?;
        new_bytes(data.py(), codes.len() * 2, buf.gil_free_work(), |out| with_i16_out(out, |o| f(codes, o)))
    })
}

fn transcode<'py>(data: &Bound<'py, PyAny>, what: &str, f: TranscodeFn) -> PyResult<Bound<'py, PyBytes>> {
    with_buffer(data, |buf| {
        let codes = buf.codes(what)?;
        new_bytes(data.py(), codes.len(), buf.gil_free_work(), |out| f(codes, out))
    })
}

raw::meth_o!(ulaw_encode => |pcm| encode(pcm, "pcm", g711::ulaw_encode));
raw::meth_o!(ulaw_decode => |data| decode(data, "data", g711::ulaw_decode));
raw::meth_o!(alaw_encode => |pcm| encode(pcm, "pcm", g711::alaw_encode));
raw::meth_o!(alaw_decode => |data| decode(data, "data", g711::alaw_decode));
raw::meth_o!(ulaw_to_alaw => |data| transcode(data, "data", g711::ulaw_to_alaw));
raw::meth_o!(alaw_to_ulaw => |data| transcode(data, "data", g711::alaw_to_ulaw));

// Registered as METH_O builtins (see `raw`): these are the per-frame calls.
// Docstrings start with the signature line CPython parses for `inspect`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    raw::add(
        m,
        c"ulaw_encode",
        c"ulaw_encode(pcm, /)
--

G.711 mu-law encode (ITU-exact): 16-bit little-endian PCM in (any
buffer: bytes, bytearray, memoryview, array('h'), numpy int16), one byte
per sample out.

>>> import teledsp
>>> teledsp.ulaw_encode(b\"\\x00\\x00\\xff\\x7f\\x00\\x80\")
b'\\xff\\x80\\x00'",
        ulaw_encode,
    )?;
    raw::add(
        m,
        c"ulaw_decode",
        c"ulaw_decode(data, /)
--

G.711 mu-law decode: one byte per sample in, 16-bit little-endian PCM out.

>>> import teledsp
>>> teledsp.ulaw_decode(b\"\\xff\\x80\\x00\")
b'\\x00\\x00|}\\x84\\x82'",
        ulaw_decode,
    )?;
    raw::add(
        m,
        c"alaw_encode",
        c"alaw_encode(pcm, /)
--

G.711 A-law encode (ITU-exact): 16-bit little-endian PCM in, one byte
per sample out.

>>> import teledsp
>>> teledsp.alaw_encode(b\"\\x00\\x00\\xff\\x7f\")
b'\\xd5\\xaa'",
        alaw_encode,
    )?;
    raw::add(
        m,
        c"alaw_decode",
        c"alaw_decode(data, /)
--

G.711 A-law decode: one byte per sample in, 16-bit little-endian PCM out.

>>> import teledsp
>>> teledsp.alaw_decode(b\"\\xd5\")
b'\\x08\\x00'",
        alaw_decode,
    )?;
    raw::add(
        m,
        c"ulaw_to_alaw",
        c"ulaw_to_alaw(data, /)
--

mu-law to A-law by the G.711 transcoding table (with its 1994 erratum),
not through linear PCM.

>>> import teledsp
>>> teledsp.ulaw_to_alaw(b\"\\xff\")
b'\\xd5'",
        ulaw_to_alaw,
    )?;
    raw::add(
        m,
        c"alaw_to_ulaw",
        c"alaw_to_ulaw(data, /)
--

A-law to mu-law by the G.711 transcoding table.

>>> import teledsp
>>> teledsp.alaw_to_ulaw(b\"\\xd5\")   # A-law's smallest positive level, +8
b'\\xfe'",
        alaw_to_ulaw,
    )?;
    Ok(())
}
