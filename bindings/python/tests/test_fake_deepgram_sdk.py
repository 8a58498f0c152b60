"""The fake Deepgram servers are faithful: every message they send, and
every message the pipeline relay sends them, validates as the official
`deepgram-sdk`'s models (its Fern-generated pydantic types for the listen
v1 and speak v1 WebSockets), with no field the models do not name."""

import asyncio
import pathlib
import sys
import time

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
dg_listen = pytest.importorskip("deepgram.listen.v1.types")
dg_speak = pytest.importorskip("deepgram.speak.v1.types")

import fake_deepgram  # noqa: E402
from test_pipeline_relay import Relay, phone_sim_voice, run_call  # noqa: E402

SERVER = {
    "Results": dg_listen.ListenV1Results,
    "Metadata": dg_listen.ListenV1Metadata,
    "SpeechStarted": dg_listen.ListenV1SpeechStarted,
}
TTS_SERVER = {
    "Metadata": dg_speak.SpeakV1Metadata,
    "Flushed": dg_speak.SpeakV1Flushed,
    "Cleared": dg_speak.SpeakV1Cleared,
    "Warning": dg_speak.SpeakV1Warning,
}
TTS_CLIENT = {
    "Speak": dg_speak.SpeakV1Text,
    "Flush": dg_speak.SpeakV1Flush,
    "Clear": dg_speak.SpeakV1Clear,
    "Close": dg_speak.SpeakV1Close,
}


def valid(models: dict, msg: dict) -> None:
    model = models[msg["type"]]
    m = model.model_validate(msg)
    unknown = set(msg) - set(model.model_fields)
    assert not unknown, f"{msg['type']}: fields the SDK does not name: {unknown}"
    assert m.type == msg["type"]


def test_every_message_both_ways_validates_as_the_sdks_models():
    fake = fake_deepgram.FakeDeepgram(["What are your opening hours?"], voice=fake_deepgram.buzz_voice).start_in_thread()
    relay = Relay(fake, barge_in="both", greeting="Hello there, how can I help you today?")
    caller = b"\xff" * 8 * 1500 + phone_sim_voice(1500)
    rep = run_call(relay, caller, 7.0)
    relay.stop()
    time.sleep(0.2)
    stt = [m for _, m in fake.log.stt_sent]
    tts = [m for _, m in fake.log.tts_sent if isinstance(m, dict)]
    sent = [m for _, m in fake.log.tts_received]
    kinds = {m["type"] for m in stt} | {m["type"] for m in tts} | {m["type"] for m in sent}
    # The run reached every message the relay depends on.
    assert {"Results", "SpeechStarted", "Flushed", "Cleared", "Speak", "Flush", "Clear"} <= kinds, kinds
    assert any(m["type"] == "Results" and m["is_final"] is False for m in stt), "no interim result"
    for m in stt:
        valid(SERVER, m)
    for m in tts:
        valid(TTS_SERVER, m)
    for m in sent:
        valid(TTS_CLIENT, m)
    assert rep.close_code == 1000


def test_stt_metadata_on_close_stream_validates():
    fake = fake_deepgram.FakeDeepgram().start_in_thread()

    async def run():
        from websockets.asyncio.client import connect

        url = f"{fake.url}/v1/listen?encoding=mulaw&sample_rate=8000&channels=1"
        async with connect(url, additional_headers={"Authorization": f"Token {fake.key}"}) as ws:
            await ws.send(b"\xff" * 1600)
            await ws.send('{"type": "CloseStream"}')
            return [m async for m in ws]

    msgs = asyncio.run(run())
    import json

    (meta,) = [json.loads(m) for m in msgs]
    valid(SERVER, meta)
