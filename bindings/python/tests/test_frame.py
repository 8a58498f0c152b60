"""The framer through the binding."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import teledsp


@settings(max_examples=200, deadline=None)
@given(
    frame_bytes=st.sampled_from([1, 2, 160, 320, 960, 1000]),
    chunks=st.lists(st.binary(max_size=2500), max_size=20),
    pad=st.sampled_from([None, 0xFF, 0]),
)
def test_frames_are_exact_and_nothing_is_lost(frame_bytes, chunks, pad):
    f = teledsp.Framer(frame_bytes, pad=pad)
    frames = []
    for c in chunks:
        got = f.push(c)
        assert all(type(x) is bytes and len(x) == frame_bytes for x in got)
        frames += got
    data = b"".join(chunks)
    assert f.pending == len(data) % frame_bytes
    assert f.frames_emitted == len(frames) == len(data) // frame_bytes
    last = f.flush()
    if len(data) % frame_bytes == 0:
        assert last is None
    elif pad is None:
        assert last == data[len(data) - len(data) % frame_bytes :]
        frames.append(last)
    else:
        assert len(last) == frame_bytes
        assert last[len(data) % frame_bytes :] == bytes([pad]) * (frame_bytes - len(data) % frame_bytes)
        frames.append(last[: len(data) % frame_bytes])
    assert b"".join(frames) == data
    assert f.pending == 0


def test_buffers_and_reset():
    f = teledsp.Framer(160, pad=b"\xff")
    assert f.push(memoryview(bytes(100))) == []
    assert len(f.push(bytearray(100))) == 1 and f.pending == 40
    f.reset()
    assert f.pending == 0 and f.frames_emitted == 0 and f.flush() is None
    assert repr(f) == "Framer(160, pad=255)"
    assert repr(teledsp.Framer(320)) == "Framer(320, pad=None)"


def test_errors_say_what_was_wrong():
    with pytest.raises(teledsp.InvalidLengthError, match="frame size 0 bytes is not a positive multiple"):
        teledsp.Framer(0)
    with pytest.raises(teledsp.InvalidLengthError, match="frame_bytes must be > 0, got -5"):
        teledsp.Framer(-5)
    with pytest.raises(teledsp.ConfigError, match="pad must be a byte value 0..=255, got 256"):
        teledsp.Framer(160, pad=256)
    with pytest.raises(teledsp.ConfigError, match="pad must be None, an int 0..=255 or one byte"):
        teledsp.Framer(160, pad=b"ab")
    with pytest.raises(TypeError):
        teledsp.Framer(160).push("text")
