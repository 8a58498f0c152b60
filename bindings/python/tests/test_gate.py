"""teledsp.Gate across the Python boundary: the constructor's settings,
the header shapes the frameworks give (Starlette's and Flask's mappings,
pairs), Call and Pipeline in admit, errors. The checks themselves are the
crate's (teledsp::providers::Gate's tests)."""

import json
import re

import pytest

import teledsp

PUBLIC = "https://relay.example.com"
NOW = 1_700_000_000


def start(sid: str, params: dict) -> str:
    return json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": sid, "customParameters": params}})


def test_a_twilio_call_token_is_issued_by_twiml_and_required_at_start():
    gate = teledsp.Gate("twilio", PUBLIC, secret="tok", call_tokens=True)
    assert (gate.telephony, gate.answer_path, gate.call_tokens) == ("twilio", "/twiml", True)
    v = teledsp.RequestValidator("tok")
    sig = v.sign(PUBLIC + "/twiml", {"CallSid": "CA9"})
    r = gate.answer("POST", "/twiml", {"X-Twilio-Signature": sig}, b"CallSid=CA9", NOW)
    assert (r.status, r.content_type, r.refused) == (200, "text/xml", None), r.body
    token = re.search(r'name="teledspCallToken" value="([^"]+)"', r.body).group(1)
    ok = teledsp.Call()
    ok.receive_phone(start("CA9", {"teledspCallToken": token}), 0)
    assert gate.admit(ok, now=NOW + 30) is None
    assert "expired" in gate.admit(ok, now=NOW + 60)
    other = teledsp.Pipeline()
    other.receive_phone(start("CA10", {"teledspCallToken": token}), 0)
    assert "not issued for this call SID" in gate.admit(other, now=NOW)
    assert gate.admit(teledsp.Call()) == "the stream has not started"
    bad = gate.answer("POST", "/twiml", [("x-twilio-signature", "AAAA")], b"CallSid=CA9")
    assert bad.status == 403 and "does not match" in bad.refused
    up = gate.upgrade("/media", {"x-twilio-signature": v.sign("wss://relay.example.com/media")})
    assert (up.refused, up.bearer) == (None, None)
    assert gate.upgrade("/media", {}).refused == "invalid X-Twilio-Signature"
    assert "tok" not in repr(gate)


def test_signalwire_takes_the_token_as_a_bearer():
    gate = teledsp.Gate("signalwire", PUBLIC, secret="k")
    sig = teledsp.RequestValidator("k").sign(PUBLIC + "/twiml", {"CallSid": "CA1"})
    r = gate.answer("POST", "/twiml", {"X-SignalWire-Signature": sig}, b"CallSid=CA1", NOW)
    token = re.search(r'authBearerToken="([^"]+)"', r.body).group(1)
    assert gate.upgrade("/media", {}).refused == "no Authorization: Bearer token"
    up = gate.upgrade("/media", {"Authorization": f"Bearer {token}"})
    assert (up.refused, up.bearer) == (None, token)
    call = teledsp.Call(telephony="signalwire")
    call.receive_phone(start("CA1", {}), 0)
    assert gate.admit(call, up.bearer, NOW) is None
    assert gate.admit(call, None, NOW) is not None


@pytest.mark.parametrize("telephony,path", [("telnyx", "/texml"), ("plivo", "/answer"), ("vonage", "/answer")])
def test_each_provider_answers_at_its_own_path(telephony, path):
    gate = teledsp.Gate(telephony, PUBLIC, insecure_no_signature=True)
    assert gate.answer("POST", path, {}, b"CallUUID=c1").status == 200
    assert gate.answer("POST", "/twiml", {}, b"").status == 404


def test_bad_settings_say_what_was_wrong():
    with pytest.raises(teledsp.ConfigError, match="PLIVO_AUTH_TOKEN is not set"):
        teledsp.Gate("plivo", PUBLIC)
    with pytest.raises(teledsp.ConfigError, match="twillio"):
        teledsp.Gate("twillio", PUBLIC, insecure_no_signature=True)
    with pytest.raises(teledsp.ConfigError, match="32"):
        teledsp.Gate("telnyx", PUBLIC, secret="AAAA")
    assert teledsp.Gate.secret_env("telnyx") == "TELNYX_PUBLIC_KEY" and teledsp.Gate.secret_env("exotel") is None
    gate = teledsp.Gate("twilio", PUBLIC, insecure_no_signature=True)
    with pytest.raises(TypeError):
        gate.admit(object())
    with pytest.raises(ValueError, match="length 2"):
        gate.answer("POST", "/twiml", [("only-a-name",)], b"")
