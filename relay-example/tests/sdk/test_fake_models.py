"""`teledsp-sim fake-model` against the official SDKs of the APIs it stands in for.

- Gemini Live: every server message the fake sends validates as
  `google.genai.types.LiveServerMessage` (a pydantic model that forbids
  unknown fields); what is sent to it here validates as `LiveClientMessage`.
- ElevenLabs Agents: every message the fake sends goes through the
  `elevenlabs` SDK's own `Conversation` message handler, which must play
  its audio, honour its interruption and answer its ping (with the pong the
  SDK itself writes, which the fake then accepts).

Run by `scripts/test.sh` with the release binary in `TELEDSP_SIM_BIN`.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import socket
import subprocess
import time

import pytest
from websockets.sync.client import connect

genai = pytest.importorskip("google.genai.types")
pytest.importorskip("elevenlabs")
from elevenlabs.conversational_ai.conversation import AudioInterface, Conversation  # noqa: E402
from elevenlabs.types import ConversationInitiationClientDataRequestInput  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[3]


def binary() -> str:
    path = os.environ.get("TELEDSP_SIM_BIN") or str(ROOT / "target/release/teledsp-sim")
    if not os.path.exists(path):
        pytest.fail(f"no teledsp-sim binary at {path}: build it (cargo build --release -p teledsp-sim)")
    return path


class Fake:
    def __init__(self, api: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [binary(), "fake-model", "--api", api, "--listen", f"127.0.0.1:{self.port}",
             "--turn-after-ms", "200", "--answer-ms", "1000", "--barge-in-at-ms", "150"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "fake-model did not start"
                time.sleep(0.05)

    def __enter__(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def pcm(ms: int, rate: int) -> str:
    return base64.b64encode(b"\x10\x00" * (rate * ms // 1000)).decode()


def gemini_client(msg: dict) -> None:
    """As in test_model_sdks: realtimeInputConfig is on the wire but not in `LiveClientSetup`."""
    msg = json.loads(json.dumps(msg))
    ric = msg.get("setup", {}).pop("realtimeInputConfig", None)
    if ric is not None:
        genai.RealtimeInputConfig.model_validate(ric)
    genai.LiveClientMessage.model_validate(msg)


def test_fake_gemini_speaks_the_sdks_messages():
    with Fake("gemini") as url, connect(url, additional_headers={"x-goog-api-key": "k"}) as ws:
        def send(msg):
            gemini_client(msg)
            ws.send(json.dumps(msg))

        send({"setup": {"model": "models/gemini-live-2.5-flash-preview", "generationConfig": {"responseModalities": ["AUDIO"]},
                        "realtimeInputConfig": {"automaticActivityDetection": {"disabled": False}}}})
        first = genai.LiveServerMessage.model_validate(json.loads(ws.recv(timeout=5)))
        assert first.setup_complete is not None
        for _ in range(10):  # 200 ms of caller audio
            send({"realtimeInput": {"audio": {"data": pcm(20, 16000), "mimeType": "audio/pcm;rate=16000"}}})
        audio, interrupted = 0, False
        while not interrupted:
            m = genai.LiveServerMessage.model_validate(json.loads(ws.recv(timeout=5)))
            sc = m.server_content
            assert sc is not None, m
            for part in (sc.model_turn.parts if sc.model_turn else []):
                assert part.inline_data.mime_type == "audio/pcm;rate=24000"
                audio += len(part.inline_data.data)
            interrupted = bool(sc.interrupted)
        assert audio > 0 and audio % 2 == 0


class Recorder(AudioInterface):
    def __init__(self):
        self.played, self.interrupts = b"", 0

    def start(self, input_callback):
        pass

    def stop(self):
        pass

    def output(self, audio: bytes):
        self.played += audio

    def interrupt(self):
        self.interrupts += 1


class Socket:
    """What the SDK's handler writes back (its pong), forwarded to the fake."""

    def __init__(self, ws):
        self.ws, self.sent = ws, []

    def send(self, text):
        self.sent.append(json.loads(text))
        self.ws.send(text)


def test_fake_elevenlabs_is_read_by_the_sdks_own_handler():
    rec = Recorder()
    conv = Conversation(client=None, agent_id="agent_fake", requires_auth=False, audio_interface=rec)
    with Fake("elevenlabs") as url, connect(url, additional_headers={"xi-api-key": "k"}) as ws:
        init = {"type": "conversation_initiation_client_data",
                "conversation_config_override": {"agent": {"prompt": {"prompt": "Be brief."}}}}
        ConversationInitiationClientDataRequestInput.model_validate(init)
        ws.send(json.dumps(init))
        sock = Socket(ws)
        for _ in range(10):  # 200 ms of caller audio, as the SDK sends it
            ws.send(json.dumps({"user_audio_chunk": pcm(20, 16000)}))
        types = []
        while "interruption" not in types:
            msg = json.loads(ws.recv(timeout=5))
            types.append(msg["type"])
            conv._handle_message(msg, sock)
        assert types[0] == "conversation_initiation_metadata" and "ping" in types and "audio" in types
        assert conv._conversation_id == "conv_fake"
        assert rec.played and len(rec.played) % 2 == 0, "the SDK played the fake's audio"
        assert rec.interrupts == 1
        assert sock.sent == [{"type": "pong", "event_id": 1}]
