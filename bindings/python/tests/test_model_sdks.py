"""What teledsp.Call sends to Gemini Live and ElevenLabs Agents, against
their official SDKs, and what it reads from them, as the SDKs write it.

- Gemini: every message of the Gemini conformance scenario validates as
  `google.genai.types.LiveClientMessage` (its pydantic model forbids
  unknown fields); server messages built with the SDK's `LiveServerMessage`
  and serialized as it does drive a call through audio, a tool call and an
  interruption.
- ElevenLabs: `conversation_initiation_client_data` validates as the SDK's
  `ConversationInitiationClientDataRequestInput`; `contextual_update` is
  exactly the SDK's `ContextualUpdateClientToOrchestratorEvent`; audio and
  pong have the shapes the SDK's own `Conversation` sends."""

import base64
import json

import pytest

import teledsp

genai = pytest.importorskip("google.genai.types")
el_types = pytest.importorskip("elevenlabs.types")
from elevenlabs.conversational_ai.conversation import ContextualUpdateClientToOrchestratorEvent  # noqa: E402

from test_conformance import SCENARIOS, run_step  # noqa: E402

TWILIO_START = json.dumps({"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}})


def sent_to_model(path):
    sc = json.loads(path.read_text())
    call = teledsp.Call(**sc["config"])
    for step in sc["steps"]:
        for target, payload in run_step(call, step):
            if target == "model":
                yield json.loads(payload)


def scenario(name):
    return next(p for p in SCENARIOS if name in p.stem)


def validate_gemini(msg):
    """`setup.realtimeInputConfig` is on the wire (the SDK's own converter
    writes it there from `LiveConnectConfig.realtime_input_config`) but not
    in its `LiveClientSetup` model: it is checked as a `RealtimeInputConfig`,
    the rest as a `LiveClientMessage`."""
    msg = json.loads(json.dumps(msg))
    ric = msg.get("setup", {}).pop("realtimeInputConfig", None)
    if ric is not None:
        genai.RealtimeInputConfig.model_validate(ric)
    return genai.LiveClientMessage.model_validate(msg)


def test_every_gemini_message_is_a_valid_sdk_client_message():
    sent = list(sent_to_model(scenario("gemini")))
    assert sent
    for msg in sent:
        validate_gemini(msg)


def test_gemini_server_messages_as_the_sdk_writes_them():
    tools = [{"type": "function", "name": "lookup", "description": "Look up.", "parameters": {"type": "object"}}]
    call = teledsp.Call(model="gemini", tools=tools)
    call.receive_phone(TWILIO_START, 0)
    setup = json.loads(call.open_model(0)[0][1])
    validate_gemini(setup)
    assert setup["setup"]["tools"][0]["functionDeclarations"][0]["name"] == "lookup"

    def server(**kw):
        return genai.LiveServerMessage(**kw).model_dump_json(by_alias=True, exclude_none=True)

    call.receive_model(server(setup_complete=genai.LiveServerSetupComplete()), 5)
    assert call.model_ready
    pcm = b"\x10\x00" * 2400  # 100 ms at 24 kHz
    part = genai.Part(inline_data=genai.Blob(data=pcm, mime_type="audio/pcm;rate=24000"))
    out = call.receive_model(server(server_content=genai.LiveServerContent(model_turn=genai.Content(role="model", parts=[part]))), 10)
    assert [t for t, _ in out].count("media") == 5
    out = call.receive_model(server(tool_call=genai.LiveServerToolCall(function_calls=[genai.FunctionCall(id="c1", name="lookup", args={"q": 1})])), 20)
    (ev,) = [p for t, p in out if t == "event"]
    assert ev == {"type": "tool_call", "call_id": "c1", "name": "lookup", "arguments": '{"q":1}'}
    ((_, reply),) = call.tool_result("c1", '{"ok": true}', 30)
    msg = validate_gemini(json.loads(reply))
    assert msg.tool_response.function_responses[0].name == "lookup"
    out = call.receive_model(server(server_content=genai.LiveServerContent(interrupted=True)), 50)
    assert [t for t, _ in out] == ["clear", "event"]
    (items,) = [p["items"] for t, p in out if t == "event"]
    assert items[0]["item_id"] == "gemini-turn-1" and items[0]["heard_ms"] == 40


def test_elevenlabs_messages_are_the_sdks():
    sent = list(sent_to_model(scenario("elevenlabs")))
    init = sent[0]
    el_types.ConversationInitiationClientDataRequestInput.model_validate(init)
    assert init["type"] == "conversation_initiation_client_data"
    kinds = {m.get("type", "user_audio_chunk" if "user_audio_chunk" in m else None) for m in sent}
    assert kinds == {"conversation_initiation_client_data", "user_audio_chunk", "pong", "contextual_update"}
    for m in sent:
        if "user_audio_chunk" in m:
            assert set(m) == {"user_audio_chunk"} and base64.b64decode(m["user_audio_chunk"])
        elif m["type"] == "pong":
            assert set(m) == {"type", "event_id"} and isinstance(m["event_id"], int)
        elif m["type"] == "contextual_update":
            assert m == ContextualUpdateClientToOrchestratorEvent(text=m["text"]).to_dict()
            assert "1.50 s" in m["text"]
