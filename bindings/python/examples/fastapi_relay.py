"""A Twilio Media Streams <-> OpenAI Realtime relay in FastAPI, with teledsp
doing the audio: one native call per message in each direction.

This is the relay the seeds describe (Twilio <Connect><Stream> to
/media-stream, one OpenAI Realtime socket per call, barge-in by `clear`),
minus their per-frame audioop/numpy conversions:

    twilio -> openai:  bridge.twilio_to_openai(text)   mu-law 8 kHz -> PCM16 24 kHz
    openai -> twilio:  bridge.openai_to_twilio(text)   PCM16 24 kHz -> exact 20 ms mu-law frames + marks

Run it:  OPENAI_API_KEY=sk-... uvicorn fastapi_relay:app --port 5050
Settings (environment): OPENAI_REALTIME_URL (default: the GA endpoint with
model gpt-realtime), OPENAI_API_KEY, RELAY_VOICE, RELAY_INSTRUCTIONS.
"""

import asyncio
import json
import logging
import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

import teledsp

log = logging.getLogger("fastapi_relay")
app = FastAPI(title="teledsp FastAPI relay")

DEFAULT_URL = "wss://api.openai.com/v1/realtime?model=gpt-realtime"


def session_update() -> str:
    """GA session settings: PCM16 at 24 kHz both ways, server VAD for turns."""
    return json.dumps(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": os.environ.get("RELAY_INSTRUCTIONS", "You are a helpful phone agent."),
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "turn_detection": {"type": "server_vad"},
                    },
                    "output": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "voice": os.environ.get("RELAY_VOICE", "marin"),
                    },
                },
            },
        }
    )


def openai_connection():
    """The upstream Realtime socket, from OPENAI_REALTIME_URL and OPENAI_API_KEY."""
    url = os.environ.get("OPENAI_REALTIME_URL", DEFAULT_URL)
    headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"}
    return connect(url, additional_headers=headers, max_size=None)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok", "teledsp": teledsp.__version__, "isa": teledsp.ISA}


@app.websocket("/media-stream")
async def media_stream(twilio: WebSocket) -> None:
    await twilio.accept()
    bridge = teledsp.TwilioBridge(api="ga", audio="pcm24k")
    async with openai_connection() as openai:
        await openai.send(session_update())

        async def from_twilio() -> None:
            try:
                async for text in twilio.iter_text():
                    try:
                        out = bridge.twilio_to_openai(text)
                    except teledsp.TeledspError as e:  # a bad message is logged, not fatal
                        log.warning("dropped Twilio message: %s", e)
                        continue
                    if out is not None:
                        await openai.send(out)
                    if bridge.stopped:
                        break
            except WebSocketDisconnect:
                pass
            finally:
                await openai.close()

        async def from_openai() -> None:
            async for text in openai:
                try:
                    for msg in bridge.openai_to_twilio(text):
                        await twilio.send_text(msg)
                except teledsp.TeledspError as e:
                    log.warning("dropped OpenAI event: %s", e)

        await asyncio.gather(from_twilio(), from_openai())
    log.info("call %s ended after %d marks", bridge.call_sid, bridge.marks_sent)
