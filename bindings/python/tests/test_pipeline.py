"""teledsp.Pipeline across the Python boundary: settings, outputs (caller
audio as bytes), errors, time. The engine is tested in Rust
(dsp/tests/pipeline.rs, a phone in virtual time) and end to end by
test_pipeline_relay.py."""

import array

import pytest

import teledsp

START = '{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}'


def test_settings_are_checked():
    teledsp.Pipeline(encoding="mulaw", sample_rate=8000, local_vad=False)
    with pytest.raises(teledsp.ConfigError, match="8000 Hz"):
        teledsp.Pipeline(encoding="mulaw", sample_rate=24000)
    with pytest.raises(teledsp.UnsupportedRateError):
        teledsp.Pipeline(sample_rate=44100)
    with pytest.raises(teledsp.ConfigError, match="encodng"):
        teledsp.Pipeline(encodng="mulaw")


def test_outputs_and_barge_in():
    call = teledsp.Pipeline()
    assert call.receive_phone(START, 0)[0][1]["type"] == "started"
    assert call.receive_phone(b'{"event":"media","streamSid":"MZ1","media":{"payload":"/////w=="}}', 5) == [
        ("caller_audio", b"\xff\xff\xff\xff")
    ]
    call.begin_utterance("u2", 5)
    out = call.push_audio("u1", array.array("h", bytes(4800)), 10)  # any buffer
    assert [t for t, _ in out] == ["media"] * 5 + ["mark"]
    assert call.speaking(20) and call.heard_ms("u1", 50) == 40
    out = call.barge_in(50)
    assert [t for t, _ in out] == ["clear", "event"]
    assert [(i["item_id"], i["heard_ms"], i["action"]) for i in out[1][1]["items"]] == [
        ("u2", 0, "delete"),
        ("u1", 40, "truncate"),
    ]
    assert call.push_audio("u1", bytes(960), 60) == []  # late audio of an interrupted utterance
    assert call.counters["deltas_dropped"] == 1 and call.counters["barge_ins"] == 1
    assert (call.stream_sid, call.call_sid, call.stopped) == ("MZ1", "CA1", False)


def test_bad_input_raises_and_changes_nothing():
    call = teledsp.Pipeline()
    call.receive_phone(START, 0)
    with pytest.raises(teledsp.InvalidLengthError, match="linear16 TTS audio"):
        call.push_audio("u", b"abc", 0)
    with pytest.raises(TypeError):
        call.push_audio("u", "text", 0)
    with pytest.raises(teledsp.MalformedMessageError):
        call.receive_phone("{", 0)
    assert not call.speaking(0) and call.end_utterance("u", 1) == []
    assert call.counters["malformed_phone"] == 1
