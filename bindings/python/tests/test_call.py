"""teledsp.Call and teledsp.RequestValidator across the Python boundary:
settings, outputs, errors, time. The protocol itself is covered by the
conformance scenarios (test_conformance.py)."""

import pytest

import teledsp

START = '{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{"k":"v"}}}'


def test_settings_are_keywords_and_unknown_ones_are_refused():
    teledsp.Call(api="beta", audio="pcmu", local_vad=True, hold_ms=0, tools=[{"type": "function", "name": "f"}])
    with pytest.raises(teledsp.ConfigError, match="local_vda"):
        teledsp.Call(local_vda=True)
    with pytest.raises(teledsp.ConfigError, match="audio"):
        teledsp.Call(audio="opus")


def test_session_update_carries_the_settings():
    import json

    call = teledsp.Call(instructions="Be brief.", voice="alloy", turn_detection=None, tools=[{"type": "function", "name": "f"}])
    [(target, text)] = call.open_model(0)
    s = json.loads(text)["session"]
    assert target == "model"
    assert (s["instructions"], s["audio"]["output"]["voice"], s["tools"][0]["name"]) == ("Be brief.", "alloy", "f")
    assert s["audio"]["input"]["turn_detection"] is None
    assert call.open_model(1) == [], "once"


def test_start_event_and_state():
    call = teledsp.Call()
    [(target, ev)] = call.receive_phone(START.encode(), 0)  # bytes work too
    assert target == "event"
    assert ev == {"type": "started", "stream_sid": "MZ1", "call_sid": "CA1", "custom_parameters": {"k": "v"}}
    assert (call.stream_sid, call.call_sid, call.custom_parameters) == ("MZ1", "CA1", {"k": "v"})
    assert not call.stopped and not call.model_open and not call.responding


def test_malformed_input_raises_is_counted_and_changes_nothing():
    call = teledsp.Call()
    with pytest.raises(teledsp.MalformedMessageError, match="Twilio message"):
        call.receive_phone("{", 0)
    with pytest.raises(teledsp.MalformedMessageError, match="UTF-8"):
        call.receive_model(b"\xff\xfe", 0)
    with pytest.raises(teledsp.MalformedMessageError):
        call.receive_model('{"type":"response.output_audio.delta","item_id":"A","delta":"%%"}', 0)
    assert call.counters["malformed_phone"] == 1
    assert call.counters["malformed_model"] == 1
    with pytest.raises(TypeError):
        call.receive_phone(12, 0)


def test_unknown_tool_call_is_an_error():
    call = teledsp.Call()
    with pytest.raises(teledsp.UnknownToolCallError, match="no tool call"):
        call.tool_result("call_9", "{}", 0)


def test_time_defaults_to_a_monotonic_clock():
    call = teledsp.Call()
    call.receive_phone(START)
    delta = '{"type":"response.output_audio.delta","item_id":"A","response_id":"R","delta":"%s"}' % ("AAAA" * 1600)
    assert [t for t, _ in call.receive_model(delta)][-1] == "mark"
    heard = call.heard_ms("A")
    assert heard is not None and 0 <= heard <= 100
    assert call.heard_ms("nope") is None


def test_request_validator():
    v = teledsp.RequestValidator("12345")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030", "To": "+18005551212"}
    # Twilio's documented example.
    assert v.sign(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" == v.sign(url, list(params.items()))
    assert v.validate(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not v.validate(url, {**params, "Digits": "9999"}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert "12345" not in repr(v)


def test_provider_facts_come_from_the_engine():
    # What every relay needs to open the model socket: the key's variable and headers.
    assert teledsp.Call().model_key_env == "OPENAI_API_KEY"
    assert teledsp.Call().model_headers("sk") == [("Authorization", "Bearer sk")]
    assert teledsp.Call(api="beta").model_headers("sk") == [("Authorization", "Bearer sk"), ("OpenAI-Beta", "realtime=v1")]
    assert teledsp.Call(model="azure").model_headers("k") == [("api-key", "k")]
    assert teledsp.Call(model="gemini").model_key_env == "GEMINI_API_KEY"
    assert teledsp.Call(model="elevenlabs").model_headers("x") == [("xi-api-key", "x")]
