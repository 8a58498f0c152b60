"""examples/fastapi_relay.py end to end: FastAPI's TestClient plays Twilio, a
real WebSocket server on loopback plays OpenAI Realtime."""

import asyncio
import base64
import importlib.util
import json
import pathlib
import threading
import time

import pytest

import teledsp
import twilio_openai as m

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

np = pytest.importorskip("numpy")
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "fastapi_relay.py"


class FakeOpenAI:
    """Speaks the GA Realtime protocol's audio subset: records what it gets;
    after 10 appends answers with 100 ms of audio in two deltas, after 20
    reports that the caller started speaking."""

    def __init__(self):
        self.received = []
        self.reply = (8000 * np.sin(2 * np.pi * 440 * np.arange(2400) / 24000)).astype(np.int16).tobytes()
        self.ready = threading.Event()
        self.headers = None

    async def handler(self, ws):
        self.headers = ws.request.headers
        await ws.send(m.session_created())
        appends = 0
        async for text in ws:
            msg = json.loads(text)
            self.received.append(msg)
            if msg["type"] == "input_audio_buffer.append":
                appends += 1
                if appends == 10:
                    await ws.send(m.audio_delta(self.reply[:3000], n=1))
                    await ws.send(m.audio_delta(self.reply[3000:], n=2))
                    await ws.send(m.response_done())
                if appends == 20:
                    await ws.send(m.speech_started())

    def run(self):
        async def main():
            async with serve(self.handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                await asyncio.Future()

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True).start()
        assert self.ready.wait(10)


@pytest.fixture
def relay(monkeypatch):
    fake = FakeOpenAI()
    fake.run()
    monkeypatch.setenv("OPENAI_REALTIME_URL", f"ws://127.0.0.1:{fake.port}/v1/realtime?model=gpt-realtime")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("RELAY_INSECURE_NO_SIGNATURE", "1")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    spec = importlib.util.spec_from_file_location("fastapi_relay", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.app, fake


@pytest.mark.timeout(60)
def test_relay_carries_a_call_both_ways(relay):
    app, fake = relay
    rng = np.random.default_rng(5)
    caller = teledsp.ulaw_encode((rng.standard_normal(160 * 30) * 2000).astype(np.int16).tobytes())
    with TestClient(app) as client:
        assert client.get("/healthz").text == "ok\n"
        with client.websocket_connect("/media-stream") as tw:
            tw.send_text(m.connected())
            tw.send_text(m.start({"caller": "+15550100"}))
            # The reply (after 10 appends) is read before the caller talks
            # on: sent at once, the 20th append's barge-in could clear the
            # reply's marks from the phone queue before they went out (as
            # Twilio would): the order this test checks would then be a race.
            for i in range(10):
                tw.send_text(m.media(caller[160 * i : 160 * (i + 1)], i))
            got = []
            while sum(x["event"] == "mark" for x in got) < 3:
                got.append(json.loads(tw.receive_text()))
            for i in range(10, 30):
                tw.send_text(m.media(caller[160 * i : 160 * (i + 1)], i))
            tw.send_text("this is not JSON")  # logged and dropped, the call goes on
            while got[-1]["event"] != "clear":
                got.append(json.loads(tw.receive_text()))
            tw.send_text(m.mark("teledsp-1"))
            tw.send_text(m.stop())
    # OpenAI got the session settings, then 30 appends of 20 ms at 24 kHz
    # equal to teledsp's streaming conversion of the caller's audio.
    assert fake.headers["Authorization"] == "Bearer sk-test"
    assert fake.received[0]["type"] == "session.update"
    # The fake records on its own thread: the last appends may land just
    # after the call closed (a loaded machine); wait for them, bounded.
    deadline = time.monotonic() + 5
    while sum(x["type"] == "input_audio_buffer.append" for x in fake.received) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    appends = [x for x in fake.received if x["type"] == "input_audio_buffer.append"]
    assert len(appends) == 30
    up = teledsp.Resampler(8000, 24000)
    for i, a in enumerate(appends):
        assert base64.b64decode(a["audio"]) == up.process_from_ulaw(caller[160 * i : 160 * (i + 1)])
    # Twilio got 100 ms of the reply as five exact 20 ms frames, a mark per
    # delta that completed frames, the resampler's tail in a padded frame
    # when the response ended, then the barge-in clear.
    media = [x for x in got if x["event"] == "media"]
    assert [x["event"] for x in got if x["event"] != "media"] == ["mark", "mark", "mark", "clear"]
    assert len(media) == 6  # 2400 samples at 24 kHz = 800 at 8 kHz, and the tail
    frames = [base64.b64decode(x["media"]["payload"]) for x in media]
    assert all(len(f) == 160 for f in frames)
    down, framer = teledsp.Resampler(24000, 8000), teledsp.Framer(160)
    want = framer.push(down.process_to_ulaw(fake.reply[:3000])) + framer.push(down.process_to_ulaw(fake.reply[3000:]))
    assert frames[:5] == want
    # The caller talked before the reply had played (this client plays
    # nothing in real time): the model is told what the wall clock allows,
    # never more than was sent. The mark echoed after the clear is stale.
    [truncate] = [x for x in fake.received if x["type"] == "conversation.item.truncate"]
    assert truncate["item_id"] == "item_001" and truncate["audio_end_ms"] <= 120
    assert all(x["streamSid"] == m.SID for x in got)


def test_without_the_providers_secret_the_app_will_not_start(monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RELAY_INSECURE_NO_SIGNATURE", raising=False)
    spec = importlib.util.spec_from_file_location("fastapi_relay_unsigned", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(RuntimeError, match="TWILIO_AUTH_TOKEN is not set"):
        with TestClient(mod.app):
            pass
