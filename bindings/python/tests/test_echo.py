"""The echo canceller through the binding, and in Call and Pipeline."""

import base64
import json

import pytest

import teledsp

np = pytest.importorskip("numpy")


def echo_line(seconds=4, delay=800, gain=0.5, seed=1):
    """White-ish far end at about -20 dBFS and its echo `delay` samples later."""
    rng = np.random.default_rng(seed)
    far = (rng.standard_normal(8000 * seconds) * 3000).astype(np.int16)
    near = np.zeros_like(far)
    near[delay:] = (far[:-delay] * gain).astype(np.int16)
    near += rng.integers(-3, 4, len(near)).astype(np.int16)  # line noise, so the ERLE is finite
    return far, near


def test_no_far_end_passes_the_caller_unchanged():
    aec = teledsp.EchoCanceller(8000, 20)
    near = (np.arange(160) * 37 % 2000 - 1000).astype(np.int16).tobytes()
    for _ in range(20):
        assert aec.process(bytes(320), near) == near
    assert aec.far_level_dbfs == -120.0
    assert aec.frame_len == 160 and aec.frame_bytes == 320
    assert repr(aec) == "EchoCanceller(8000, 20)"


def test_echo_is_cancelled_and_the_delay_found():
    far, near = echo_line()
    # The linear filter alone (the suppressor would zero this residual,
    # line noise and all, and the ratio would be infinite).
    aec = teledsp.EchoCanceller(8000, 20, suppress=False)
    out = b"".join(aec.process(far[i : i + 160].tobytes(), near[i : i + 160].tobytes()) for i in range(0, len(far), 160))
    out = np.frombuffer(out, np.int16).astype(float)
    tail = slice(3 * 8000, None)
    erle = 10 * np.log10(np.mean(near[tail].astype(float) ** 2) / np.mean(out[tail] ** 2))
    assert erle > 20, erle
    s = aec.stats
    assert s["delay_found"] and 80 <= s["delay_ms"] <= 100, s  # 100 ms, the filter a frame before
    assert set(s) == {"frames", "erle_db", "delay_ms", "delay_found", "delay_changes", "double_talk_frames"}
    assert aec.converged
    # The guard's reference: the loudest far frame in the filter's window,
    # which starts a frame before the delay (lag k is the frame k back).
    db = [10 * np.log10(max(np.mean((f.astype(float) / 32768) ** 2), 1e-12)) for f in far.reshape(-1, 160)]
    last = len(db) - 1
    assert db[last - 5] - 0.01 <= aec.far_level_dbfs <= max(db[last - 14 : last - 2]) + 0.01, aec.far_level_dbfs


def test_forget_and_amend_the_far_end():
    aec = teledsp.EchoCanceller(8000, 20)
    loud = (np.ones(160) * 3000).astype(np.int16).tobytes()
    aec.process(loud, bytes(320))
    assert abs(aec.far_level_dbfs - -20.8) < 0.1
    aec.forget_far(20)  # the phone dropped it
    assert aec.far_level_dbfs == -120.0
    late = np.zeros(160, np.int16)
    late[80:] = 3000  # sent half way through the frame
    aec.amend_far(late.tobytes())
    assert abs(aec.far_level_dbfs - -23.8) < 0.1
    with pytest.raises(teledsp.InvalidLengthError, match="far-end frame"):
        aec.amend_far(bytes(318))


def test_bad_input_says_what_was_wrong():
    with pytest.raises(teledsp.UnsupportedRateError, match=r"24000 Hz; supported: \[8000, 16000\] Hz"):
        teledsp.EchoCanceller(24000, 20)
    with pytest.raises(teledsp.ConfigError, match=r"unsupported frame duration 30 ms; supported: \[10, 20\] ms"):
        teledsp.EchoCanceller(8000, 30)
    with pytest.raises(teledsp.ConfigError, match="1 to 500 ms"):
        teledsp.EchoCanceller(8000, 20, filter_ms=0)
    aec = teledsp.EchoCanceller()
    with pytest.raises(teledsp.InvalidLengthError, match="far-end frame"):
        aec.process(bytes(318), bytes(320))
    with pytest.raises(ValueError, match="not a whole number of 16-bit samples"):
        aec.process(bytes(320), bytes(319))


def test_call_and_pipeline_take_the_settings_and_count():
    call = teledsp.Call(echo_cancel=True, echo_cancel_to_model=True, local_vad=True)
    call.receive_phone(json.dumps({"event": "start", "streamSid": "MZ", "start": {"streamSid": "MZ", "callSid": "CA"}}), 0)
    call.open_model(0)
    payload = base64.b64encode(bytes([0xFF]) * 160).decode()
    media = json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": payload}})
    outs = call.receive_phone(media, 20)
    assert [t for t, _ in outs] == ["model"], outs
    with pytest.raises(teledsp.ConfigError, match="8000 or 16000 Hz"):
        teledsp.Pipeline(telephony="vonage", echo_cancel=True).receive_phone(
            json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=24000"}), 0
        )
    p = teledsp.Pipeline(echo_cancel=True)
    assert p.counters.get("echo_delay_ms") is None  # absent while 0
