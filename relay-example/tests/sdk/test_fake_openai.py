"""`teledsp-sim fake-openai` against the official `openai` SDK's models.

Every event the fake sends must validate as the SDK's server event of its
type (GA `openai.types.realtime`, beta `openai.types.beta.realtime`), and
every client event sent here is first validated as the SDK's client event,
so the fake is shown to accept valid client events and to answer them as
the service documents. Run by `scripts/test.sh` with the release binary in
`TELEDSP_SIM_BIN`.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import socket
import subprocess
import time
import typing

import pydantic
import pytest
from websockets.sync.client import connect

from openai.types.beta.realtime import RealtimeClientEvent as BetaClient
from openai.types.beta.realtime import RealtimeServerEvent as BetaServer
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

ROOT = pathlib.Path(__file__).resolve().parents[3]


def by_type(union) -> dict[str, pydantic.TypeAdapter]:
    """The union's models, keyed by their `type` literal (precise errors)."""
    out = {}
    for model in typing.get_args(typing.get_args(union)[0]):
        for t in typing.get_args(model.model_fields["type"].annotation):
            out[t] = pydantic.TypeAdapter(model)
    return out


GA_SERVER, GA_CLIENT = by_type(RealtimeServerEvent), by_type(RealtimeClientEvent)
BETA_SERVER, BETA_CLIENT = by_type(BetaServer), by_type(BetaClient)


def binary() -> str:
    path = os.environ.get("TELEDSP_SIM_BIN") or str(ROOT / "target/release/teledsp-sim")
    if not os.path.exists(path):
        pytest.fail(f"no teledsp-sim binary at {path}: build it (cargo build --release -p teledsp-sim)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fake:
    def __init__(self, *args: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary(), "fake-openai", "--listen", f"127.0.0.1:{self.port}", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "fake-openai did not start"
                time.sleep(0.05)

    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def fake_tool():
    f = Fake("--tool", "get_weather")
    yield f
    f.close()


class Session:
    """A client that validates what it sends and everything it receives."""

    def __init__(self, url: str, server: dict, client: dict, headers: dict):
        self.ws = connect(url, additional_headers=headers, max_size=None)
        self.server, self.client = server, client
        self.seen: list[dict] = []

    def __enter__(self) -> Session:
        self.ws.__enter__()
        return self

    def __exit__(self, *exc):
        self.ws.__exit__(*exc)

    def send(self, event: dict):
        self.client[event["type"]].validate_python(event)  # a valid client event
        self.ws.send(json.dumps(event))

    def recv(self, timeout: float = 5.0) -> dict:
        event = json.loads(self.ws.recv(timeout=timeout))
        model = self.server.get(event["type"])
        assert model is not None, f"the SDK has no server event {event['type']!r}"
        model.validate_python(event)
        self.seen.append(event)
        return event

    def until(self, kind: str) -> list[dict]:
        """Events up to and including the first of type `kind`."""
        got = []
        while True:
            e = self.recv()
            got.append(e)
            if e["type"] == kind:
                return got

    def errors(self) -> list[str]:
        return [e["error"]["code"] for e in self.seen if e["type"] == "error"]


def test_ga_events_validate_and_every_client_event_is_answered(fake_tool):
    s = Session(fake_tool.url(), GA_SERVER, GA_CLIENT, {"Authorization": "Bearer sk-test"}).__enter__()
    created = s.recv()
    assert created["type"] == "session.created"

    # A partial update keeps the rest of the session.
    s.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
    updated = s.until("session.updated")[-1]["session"]
    assert updated["instructions"] == "Be brief."
    assert updated["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}

    # A-law both ways, manual turns.
    s.send({"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"format": {"type": "audio/pcma"}, "turn_detection": None},
        "output": {"format": {"type": "audio/pcma"}}}}})
    updated = s.until("session.updated")[-1]["session"]
    assert updated["audio"]["input"]["format"] == {"type": "audio/pcma"}

    # A user text message: added, done, retrievable, deletable.
    s.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}})
    added = s.until("conversation.item.added")[-1]
    item_id = added["item"]["id"]
    assert s.until("conversation.item.done")[-1]["item"]["id"] == item_id
    s.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert s.until("conversation.item.retrieved")[-1]["item"]["content"][0]["text"] == "hello"
    s.send({"type": "conversation.item.delete", "item_id": item_id})
    assert s.until("conversation.item.deleted")[-1]["item_id"] == item_id

    # Committing an empty buffer is an error; 500 ms is a user turn; clear.
    s.send({"type": "input_audio_buffer.commit"})
    assert s.until("error")[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
    speech = bytes((i * 37) % 256 for i in range(4000))  # 500 ms of A-law
    for i in range(0, len(speech), 160):
        s.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(speech[i:i + 160]).decode()})
    s.send({"type": "input_audio_buffer.commit"})
    committed = s.until("input_audio_buffer.committed")[-1]
    assert s.until("conversation.item.added")[-1]["item"]["id"] == committed["item_id"]
    s.send({"type": "input_audio_buffer.clear"})
    s.until("input_audio_buffer.cleared")

    # The first response is a function call; its output, then the audio answer.
    s.send({"type": "response.create"})
    call = s.until("response.done")
    done = next(e for e in call if e["type"] == "response.function_call_arguments.done")
    assert [e["type"] for e in call] == [
        "response.created", "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done", "response.done"]
    s.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": done["call_id"], "output": '{"temperature_c": 21}'}})
    s.until("conversation.item.done")
    s.send({"type": "response.create"})
    answer = s.until("response.done")
    kinds = [e["type"] for e in answer]
    assert kinds[:3] == ["response.created", "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_audio.done", "response.content_part.done",
                          "response.output_item.done", "response.done"]
    deltas = [e for e in answer if e["type"] == "response.output_audio.delta"]
    assert b"".join(base64.b64decode(e["delta"]) for e in deltas) == speech, "the turn echoed in A-law"
    assert answer[-1]["response"]["status"] == "completed"

    # Truncation within what was sent; past it is an error.
    item = deltas[0]["item_id"]
    s.send({"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 200})
    assert s.until("conversation.item.truncated")[-1]["audio_end_ms"] == 200
    s.send({"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 9000})
    assert s.until("error")[-1]["error"]["code"] == "invalid_value"

    # Cancel: mid-response, and with nothing in progress.
    s.send({"type": "response.create"})
    s.until("response.created")
    s.send({"type": "response.cancel"})
    assert s.until("response.done")[-1]["response"]["status"] == "cancelled"
    s.send({"type": "response.cancel"})
    assert s.until("error")[-1]["error"]["code"] == "response_cancel_not_active"

    # WebRTC/SIP only, as the service says over WebSocket.
    s.send({"type": "output_audio_buffer.clear"})
    assert s.until("error")[-1]["error"]["code"] == "invalid_value"

    assert s.errors() == ["input_audio_buffer_commit_empty", "invalid_value", "response_cancel_not_active",
                          "invalid_value"], "no error for any valid client event"
    assert len(s.seen) > 40


def test_beta_events_validate_against_the_beta_models():
    fake = Fake()
    try:
        s = Session(fake.url(), BETA_SERVER, BETA_CLIENT,
                    {"Authorization": "Bearer sk-test", "OpenAI-Beta": "realtime=v1"}).__enter__()
        assert s.recv()["type"] == "session.created"
        s.send({"type": "session.update", "session": {"input_audio_format": "g711_ulaw",
                                                      "output_audio_format": "g711_ulaw", "turn_detection": None}})
        assert s.until("session.updated")[-1]["session"]["input_audio_format"] == "g711_ulaw"
        audio = bytes((i * 11) % 256 for i in range(1600))
        s.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()})
        s.send({"type": "input_audio_buffer.commit"})
        s.until("conversation.item.created")
        s.send({"type": "response.create"})
        answer = s.until("response.done")
        deltas = [e for e in answer if e["type"] == "response.audio.delta"]
        assert b"".join(base64.b64decode(e["delta"]) for e in deltas) == audio
        assert "response.audio.done" in [e["type"] for e in answer]
        assert s.errors() == []
    finally:
        fake.close()


def test_echo_frames_mode_sends_valid_deltas():
    fake = Fake("--mode", "echo-frames", "--echo-delta-ms", "100")
    try:
        s = Session(fake.url(), GA_SERVER, GA_CLIENT, {"Authorization": "Bearer sk-test"}).__enter__()
        s.recv()
        pcm = bytes(4800)  # 100 ms at 24 kHz
        s.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
        delta = s.until("response.output_audio.delta")[-1]
        assert base64.b64decode(delta["delta"]) == pcm
    finally:
        fake.close()
