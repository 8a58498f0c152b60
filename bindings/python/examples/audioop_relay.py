"""The same relay as fastapi_relay.py, written the way the seeds' services do
it today: json + base64 + audioop + soxr per message, in Python. It is the
baseline `teledsp-sim loadtest` compares against (BENCHMARKS.md, "Relay load");
use fastapi_relay.py (teledsp) for real work.

Run it:  OPENAI_REALTIME_URL=ws://127.0.0.1:8090/v1/realtime uvicorn audioop_relay:app --port 5051
"""

import asyncio
import base64
import json
import os
import warnings

import numpy as np
import soxr
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # removed in Python 3.13: the reason teledsp exists

from websockets.asyncio.client import connect

from relay_common import DEFAULT_OPENAI_URL, MAX_MESSAGE, openai_headers


def openai_connection():
    url = os.environ.get("OPENAI_REALTIME_URL", DEFAULT_OPENAI_URL)
    return connect(url, additional_headers=openai_headers(os.environ.get("OPENAI_API_KEY", ""), "ga"), max_size=MAX_MESSAGE)


def session_update() -> str:
    fmt = {"type": "audio/pcm", "rate": 24000}
    return json.dumps({"type": "session.update", "session": {
        "type": "realtime", "instructions": "You are a helpful phone agent. Keep answers short.",
        "audio": {"input": {"format": fmt, "turn_detection": {"type": "server_vad"}}, "output": {"format": fmt, "voice": "marin"}}}})

app = FastAPI(title="audioop + soxr relay (baseline)")


@app.websocket("/media-stream")
async def media_stream(twilio: WebSocket) -> None:
    await twilio.accept()
    up = soxr.ResampleStream(8000, 24000, 1, dtype="int16", quality="HQ")
    down = soxr.ResampleStream(24000, 8000, 1, dtype="int16", quality="HQ")
    state = {"sid": None, "pending": b"", "marks": 0}
    async with openai_connection() as openai:
        await openai.send(session_update())

        async def from_twilio() -> None:
            try:
                async for text in twilio.iter_text():
                    msg = json.loads(text)
                    if msg["event"] == "start":
                        state["sid"] = msg["start"]["streamSid"]
                    elif msg["event"] == "media":
                        pcm8 = audioop.ulaw2lin(base64.b64decode(msg["media"]["payload"]), 2)
                        pcm24 = up.resample_chunk(np.frombuffer(pcm8, dtype=np.int16)).tobytes()
                        await openai.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24).decode()}))
                    elif msg["event"] == "stop":
                        break
            except WebSocketDisconnect:
                pass
            finally:
                await openai.close()

        async def from_openai() -> None:
            async for text in openai:
                msg = json.loads(text)
                if msg["type"] == "response.output_audio.delta":
                    pcm24 = np.frombuffer(base64.b64decode(msg["delta"]), dtype=np.int16)
                    ulaw = audioop.lin2ulaw(down.resample_chunk(pcm24).tobytes(), 2)
                    data = state["pending"] + ulaw
                    n = len(data) // 160 * 160
                    for i in range(0, n, 160):
                        payload = base64.b64encode(data[i : i + 160]).decode()
                        await twilio.send_text(json.dumps({"event": "media", "streamSid": state["sid"], "media": {"payload": payload}}))
                    state["pending"] = data[n:]
                    if n:
                        state["marks"] += 1
                        await twilio.send_text(json.dumps({"event": "mark", "streamSid": state["sid"], "mark": {"name": f"m-{state['marks']}"}}))
                elif msg["type"] == "input_audio_buffer.speech_started":
                    state["pending"] = b""
                    await twilio.send_text(json.dumps({"event": "clear", "streamSid": state["sid"]}))

        await asyncio.gather(from_twilio(), from_openai())
