"""The resampler and audioop.ratecv through the binding: streaming invariants,
fused paths, float32, quality against audioop, errors."""

import array
import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import teledsp
from teledsp import audioop as tda

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
except ImportError:  # pragma: no cover
    audioop = None

np = pytest.importorskip("numpy")

RATES = [8000, 16000, 24000, 48000]
PAIRS = [(a, b) for a in RATES for b in RATES if a != b]


def noise(n, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 6000).clip(-32768, 32767).astype(np.int16).tobytes()


def sine(freq, rate, n, amp=16000.0):
    t = np.arange(n) / rate
    return (amp * np.sin(2 * math.pi * freq * t)).astype(np.int16).tobytes()


@settings(max_examples=60, deadline=None)
@given(
    pair=st.sampled_from(PAIRS),
    quality=st.sampled_from(["telephony", "transparent", "low_latency"]),
    cuts=st.lists(st.integers(0, 700), max_size=12),
)
def test_any_chunking_gives_the_one_shot_output_with_exact_sizes(pair, quality, cuts):
    a, b = pair
    pcm = noise(3000)
    whole = teledsp.Resampler(a, b, quality).process(pcm)
    r = teledsp.Resampler(a, b, quality)
    parts, n_in, n_out = [], 0, 0
    pos = 0
    for c in cuts + [1500 * 2]:
        chunk = pcm[pos : pos + 2 * c]
        pos += len(chunk)
        out = r.process(chunk)
        n_in += len(chunk) // 2
        n_out += len(out) // 2
        assert n_out == n_in * b // a  # exact after every call
        parts.append(out)
    rest = r.process(pcm[pos:])
    assert b"".join(parts) + rest == whole


@pytest.mark.parametrize("a,b", PAIRS)
def test_fused_paths_equal_the_composition(a, b):
    pcm = noise(2400, seed=a + b)
    codes = teledsp.ulaw_encode(pcm)
    r1, r2 = teledsp.Resampler(a, b), teledsp.Resampler(a, b)
    assert r1.process_from_ulaw(codes) == r2.process(teledsp.ulaw_decode(codes))
    r1.reset(), r2.reset()
    assert r1.process_to_ulaw(pcm) == teledsp.ulaw_encode(r2.process(pcm))
    r1.reset(), r2.reset()
    assert r1.process_from_alaw(teledsp.alaw_encode(pcm)) == r2.process(teledsp.alaw_decode(teledsp.alaw_encode(pcm)))
    r1.reset(), r2.reset()
    assert r1.process_to_alaw(pcm) == teledsp.alaw_encode(r2.process(pcm))


def test_float32_in_float32_out_matches_int16_path():
    pcm = noise(4000)
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    r = teledsp.Resampler(8000, 24000)
    y = r.process(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and len(y) == 12000
    yi = np.frombuffer(teledsp.Resampler(8000, 24000).process(pcm), dtype=np.int16)
    assert np.max(np.abs(y * 32768 - yi)) <= 1.0
    tail = r.flush_f32()
    assert tail.dtype == np.float32 and len(tail) > 0
    y.flags.writeable  # a normal array, owned
    y[0] = 0.5  # writable: frombuffer over a bytearray


def test_float32_without_numpy_falls_back_to_array(monkeypatch):
    # array('f') in works without numpy; the result is a float32 buffer either way.
    r = teledsp.Resampler(24000, 8000)
    y = r.process(array.array("f", [0.0] * 480))
    assert len(y) == 160 and memoryview(y).format == "f"


def test_flush_returns_the_filter_tail_and_restarts():
    r = teledsp.Resampler(8000, 24000)
    impulse = b"\xff\x7f" + bytes(318)
    out = r.process(impulse)
    tail = r.flush()
    assert len(tail) > 0 and len(tail) % 2 == 0
    assert r.flush() == bytes(len(tail))  # a fresh stream: its (silent) tail
    # After a flush the next call is a fresh stream.
    assert r.process(impulse) == out
    r.reset()
    assert r.process(impulse) == out


def test_latency_and_properties():
    r = teledsp.Resampler(8000, 24000)
    assert (r.in_rate, r.out_rate, r.quality) == (8000, 24000, "telephony")
    assert 1.0 < r.latency_ms < 2.5
    assert teledsp.Resampler(8000, 24000, "low_latency").latency_ms < 1.0
    assert r.output_len(160) == 480
    assert repr(r) == "Resampler(8000, 24000, quality='telephony')"


def image_db(pcm24: bytes, tone: float) -> float:
    """Level of the strongest image of an 8 kHz tone in a 24 kHz signal, dB re the tone."""
    y = np.frombuffer(pcm24, dtype=np.int16).astype(np.float64)[2400:]
    w = np.hanning(len(y))
    spec = np.abs(np.fft.rfft(y * w))
    freqs = np.fft.rfftfreq(len(y), 1 / 24000)
    peak = spec[np.argmin(np.abs(freqs - tone))]
    images = [spec[np.argmin(np.abs(freqs - f))] for f in (8000 - tone, 8000 + tone, 16000 - tone)]
    return 20 * math.log10(max(images) / peak)


def test_ratecv_contract_chunking_and_value_semantics():
    pcm = noise(1600)
    state, parts = None, []
    for i in range(0, len(pcm), 320):
        out, state = teledsp.ratecv(pcm[i : i + 320], 2, 1, 8000, 24000, state)
        assert len(out) == 960
        parts.append(out)
    assert b"".join(parts) == teledsp.Resampler(8000, 24000).process(pcm)
    # States are values, as audioop's tuples are: reusing one repeats the call.
    _, s1 = teledsp.ratecv(pcm[:320], 2, 1, 8000, 24000, None)
    a, _ = teledsp.ratecv(pcm[320:640], 2, 1, 8000, 24000, s1)
    b, _ = teledsp.ratecv(pcm[320:640], 2, 1, 8000, 24000, s1)
    assert a == b
    assert "8000 -> 24000" in repr(s1)


def test_ratecv_is_anti_aliased_where_audioop_is_not():
    tone = sine(1000, 8000, 8000)
    state, ours = None, []
    for i in range(0, len(tone), 320):
        out, state = teledsp.ratecv(tone[i : i + 320], 2, 1, 8000, 24000, state)
        ours.append(out)
    ours_db = image_db(b"".join(ours), 1000)
    assert ours_db < -85, ours_db
    # audioop's algorithm (teledsp.audioop.ratecv reproduces it exactly).
    state, theirs = None, []
    for i in range(0, len(tone), 320):
        out, state = tda.ratecv(tone[i : i + 320], 2, 1, 8000, 24000, state)
        theirs.append(out)
    theirs_db = image_db(b"".join(theirs)[: len(b"".join(ours))], 1000)
    assert theirs_db > -40, theirs_db  # audioop's linear interpolation leaves loud images


def test_errors_say_what_was_wrong():
    with pytest.raises(teledsp.UnsupportedRateError, match="unsupported rate pair 44100 -> 8000 Hz; supported: 8000"):
        teledsp.Resampler(44100, 8000)
    with pytest.raises(teledsp.UnsupportedRateError, match="in_rate must be > 0, got -8000"):
        teledsp.Resampler(-8000, 8000)
    with pytest.raises(teledsp.ConfigError, match='unknown quality preset "[a-z_]+"; expected one of: telephony'):
        teledsp.Resampler(8000, 24000, "best")
    r = teledsp.Resampler(8000, 24000)
    with pytest.raises(teledsp.InvalidLengthError, match="pcm has 3 bytes"):
        r.process(b"abc")
    with pytest.raises(TypeError, match="G.711"):
        r.process_from_ulaw(array.array("h", [0]))
    with pytest.raises(teledsp.ConfigError, match="width=2 \\(16-bit PCM\\) only, got width=3"):
        teledsp.ratecv(b"", 3, 1, 8000, 24000, None)
    with pytest.raises(teledsp.ConfigError, match="nchannels=1 only, got 2"):
        teledsp.ratecv(b"", 2, 2, 8000, 24000, None)
    with pytest.raises(teledsp.UnsupportedRateError, match="44100 -> 8000"):
        teledsp.ratecv(b"", 2, 1, 44100, 8000, None)
    with pytest.raises(TypeError, match="state must be None or the state a previous"):
        teledsp.ratecv(b"", 2, 1, 8000, 24000, (-1, ((0, 0),)))
    _, s = teledsp.ratecv(b"", 2, 1, 8000, 24000, None)
    with pytest.raises(teledsp.ConfigError, match="state is for 8000 -> 24000 Hz, this call is 8000 -> 16000 Hz"):
        teledsp.ratecv(b"", 2, 1, 8000, 16000, s)
    with pytest.raises(teledsp.InvalidLengthError):
        teledsp.ratecv(b"\x00", 2, 1, 8000, 24000, None)
