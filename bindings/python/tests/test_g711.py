"""G.711 through the binding: ITU vectors, audioop parity, buffer types, errors."""

import array
import sys
import warnings
import zlib

import pytest

import teledsp
from teledsp import audioop as tda
from conftest import low_bytes

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # CPython <= 3.12: the reference
except ImportError:  # pragma: no cover - 3.13+
    audioop = None

try:
    import numpy as np
except ImportError:  # numpy is optional for the package, not for this suite
    np = None

needs_audioop = pytest.mark.skipif(
    audioop is None, reason=f"LOUD SKIP: CPython {sys.version.split()[0]} has no audioop; parity not checked"
)

ALL_PCM = array.array("h", range(-32768, 32768)).tobytes()
ALL_CODES = bytes(range(256))


def test_vectors_are_the_published_ones(itu):
    assert zlib.crc32(itu["sweep.src"]) == 0xC8BA7682
    assert zlib.crc32(itu["sweep-r.u"]) == 0xCD170E15
    assert zlib.crc32(itu["sweep-r.a"]) == 0x74719FE4


def test_itu_encode_all_65536_inputs(itu):
    assert teledsp.ulaw_encode(itu["sweep.src"]) == low_bytes(itu["sweep-r.u"])
    assert teledsp.alaw_encode(itu["sweep.src"]) == low_bytes(itu["sweep-r.a"])


def test_itu_decode_every_code(itu):
    assert teledsp.ulaw_decode(low_bytes(itu["sweep-r.u"])) == itu["sweep-r.reu"]
    assert teledsp.alaw_decode(low_bytes(itu["sweep-r.a"])) == itu["sweep-r.rea"]


def test_transcoding_tables():
    u2a = teledsp.ulaw_to_alaw(ALL_CODES)
    a2u = teledsp.alaw_to_ulaw(ALL_CODES)
    assert len(u2a) == len(a2u) == 256
    assert u2a[0xFF] == 0xD5  # mu-law zero to A-law silence (A-law has no zero)
    # Every code keeps its level to within the coarser law's step.
    lin_u = array.array("h", teledsp.ulaw_decode(ALL_CODES))
    lin_a = array.array("h", teledsp.alaw_decode(ALL_CODES))
    lin_u2a = array.array("h", teledsp.alaw_decode(u2a))
    lin_a2u = array.array("h", teledsp.ulaw_decode(a2u))
    for c in range(256):
        assert abs(lin_u2a[c] - lin_u[c]) <= max(16, abs(lin_u[c]) // 16), (c, lin_u[c], lin_u2a[c])
        assert abs(lin_a2u[c] - lin_a[c]) <= max(16, abs(lin_a[c]) // 16), (c, lin_a[c], lin_a2u[c])


@needs_audioop
def test_audioop_parity_on_all_65536_inputs():
    assert tda.lin2ulaw(ALL_PCM, 2) == audioop.lin2ulaw(ALL_PCM, 2)
    assert tda.lin2alaw(ALL_PCM, 2) == audioop.lin2alaw(ALL_PCM, 2)
    assert tda.ulaw2lin(ALL_CODES, 2) == audioop.ulaw2lin(ALL_CODES, 2)
    assert tda.alaw2lin(ALL_CODES, 2) == audioop.alaw2lin(ALL_CODES, 2)


@needs_audioop
def test_itu_and_audioop_mu_law_differ_on_exactly_508_negative_inputs():
    itu = teledsp.ulaw_encode(ALL_PCM)
    ours = tda.lin2ulaw(ALL_PCM, 2)
    diff = [i - 32768 for i, (a, b) in enumerate(zip(itu, ours)) if a != b]
    assert len(diff) == 508 and all(x < 0 for x in diff)


def pcm_buffers(pcm: bytes):
    yield "bytes", pcm
    yield "bytearray", bytearray(pcm)
    yield "memoryview", memoryview(pcm)
    yield "memoryview.cast(h)", memoryview(pcm).cast("h")
    yield "array(h)", array.array("h", pcm)
    # Unaligned: a memoryview starting one byte into a buffer.
    yield "unaligned memoryview", memoryview(b"\x00" + pcm)[1:]
    if np is not None:
        yield "numpy int16", np.frombuffer(pcm, dtype=np.int16)
        yield "numpy uint8", np.frombuffer(pcm, dtype=np.uint8)
        yield "numpy <i2", np.frombuffer(pcm, dtype="<i2")


def test_every_buffer_type_is_accepted():
    pcm = ALL_PCM[: 2 * 1001]
    want = teledsp.ulaw_encode(pcm)
    for name, buf in pcm_buffers(pcm):
        assert teledsp.ulaw_encode(buf) == want, name
        assert teledsp.alaw_encode(buf) == teledsp.alaw_encode(pcm), name
    codes = want
    for name, buf in [
        ("bytes", codes),
        ("bytearray", bytearray(codes)),
        ("memoryview", memoryview(codes)),
        ("array(B)", array.array("B", codes)),
        ("array(b)", array.array("b", codes)),
    ] + ([("numpy uint8", np.frombuffer(codes, dtype=np.uint8))] if np is not None else []):
        assert teledsp.ulaw_decode(buf) == teledsp.ulaw_decode(codes), name


def test_outputs_are_bytes_and_empty_input_is_fine():
    for f in (teledsp.ulaw_encode, teledsp.alaw_encode, teledsp.ulaw_decode, teledsp.alaw_decode):
        out = f(b"")
        assert type(out) is bytes and out == b""


def test_large_buffers_release_the_gil_and_give_the_same_result():
    # Above GIL_RELEASE_BYTES the call runs detached; the answer must not change.
    big = ALL_PCM * 4
    assert len(big) >= teledsp._native.GIL_RELEASE_BYTES
    want = b"".join(teledsp.ulaw_encode(big[i : i + 320]) for i in range(0, len(big), 320))
    assert teledsp.ulaw_encode(big) == want


def test_large_calls_let_other_threads_run():
    import threading
    import time

    big = bytes(64 << 20)  # 64 MiB of PCM: tens of ms of encoding
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    start = time.perf_counter()
    for _ in range(8):
        teledsp.ulaw_encode(big)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # With the GIL held the ticker could not run at all during the calls
    # (Python switches threads only between bytecodes).
    assert len(during) >= 3, f"{len(during)} ticks in {end - start:.3f} s"


def test_errors_say_what_was_wrong():
    with pytest.raises(teledsp.InvalidLengthError, match="has 3 bytes, not a whole number of 16-bit samples"):
        teledsp.ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(ValueError):  # the base class is a ValueError
        teledsp.alaw_encode(bytearray(5))
    with pytest.raises(TypeError, match="bytes-like object is required"):
        teledsp.ulaw_encode("not bytes")
    with pytest.raises(TypeError, match="got int16 samples"):
        teledsp.ulaw_decode(array.array("h", [1, 2]))
    with pytest.raises(TypeError, match="unsupported buffer element format 'd'"):
        teledsp.ulaw_encode(array.array("d", [1.0]))
    with pytest.raises(TypeError, match="got float32"):
        teledsp.ulaw_encode(array.array("f", [1.0]))
    if np is not None:
        # Non-contiguous views are refused by the exporter, not copied silently.
        with pytest.raises((BufferError, ValueError), match="contiguous"):
            teledsp.ulaw_encode(np.arange(10, dtype=np.int16)[::2])
        with pytest.raises(TypeError, match=r"'>h'"):
            teledsp.ulaw_encode(np.arange(4, dtype=">i2"))


def test_audioop_codecs_take_every_width_audioop_takes():
    # The top 16 bits of each sample are encoded; decoding widens back.
    for width in (1, 2, 3, 4):
        pcm = b"".join(v.to_bytes(width, "little", signed=True) for v in (0, 1 << (8 * width - 2), -(1 << (8 * width - 2))))
        assert len(tda.lin2ulaw(pcm, width)) == 3
        assert len(tda.ulaw2lin(b"\xff\x7f", width)) == 2 * width
    with pytest.raises(tda.error, match="Size should be 1, 2, 3 or 4"):
        tda.lin2ulaw(b"\x00\x00", 5)


CODEC_FUNCTIONS = ("ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode", "ulaw_to_alaw", "alaw_to_ulaw")


@pytest.mark.parametrize("name", CODEC_FUNCTIONS)
def test_codec_functions_are_positional_only_builtins(name):
    # The per-frame codecs are METH_O builtins (no pyo3 argument parsing):
    # check they still behave as documented builtins do.
    import inspect

    f = getattr(teledsp, name)
    param = "pcm" if name.endswith("_encode") else "data"
    assert str(inspect.signature(f)) == f"({param}, /)"
    assert f.__module__ == "teledsp._native"
    assert f.__doc__ and ">>> teledsp." + name in f.__doc__
    with pytest.raises(TypeError, match="takes exactly one argument"):
        f()
    with pytest.raises(TypeError, match="takes exactly one argument"):
        f(b"", b"")
    with pytest.raises(TypeError, match="keyword"):
        f(**{param: b""})
    assert f(b"") == b""
