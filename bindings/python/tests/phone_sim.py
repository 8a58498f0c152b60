"""A Twilio phone on a Media Stream, in real time: it plays what it is sent
20 ms per 20 ms, ``PLAYOUT_DELAY`` after it arrives (network plus jitter
buffer: a phone that played at once would make a relay that ignores
playback confirmations look accurate), echoes each mark when the audio
before it has played (at once if nothing is queued), and on ``clear`` drops its queue and echoes the
queued marks, as Twilio does. It sends the caller's audio 20 ms per 20 ms,
optionally with the agent's audio it is playing fed back as line echo."""

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect

import teledsp

SILENCE = b"\xff" * 160
PLAYOUT_DELAY = 0.12  # s


@dataclass
class Report:
    clears: list = field(default_factory=list)  # ms since the call began
    played: list = field(default_factory=list)  # (ms, frame) played
    frames_received: int = 0
    bad_frames: int = 0  # media that is not 160 bytes
    marks_echoed: int = 0
    close_code: int | None = None

    def played_between(self, t0: float, t1: float) -> int:
        """Ms of agent audio played in [t0, t1)."""
        return 20 * sum(1 for t, _ in self.played if t0 <= t < t1)


def mix(caller: bytes, echo: bytes, gain: float) -> bytes:
    a = memoryview(teledsp.ulaw_decode(caller)).cast("h")
    b = memoryview(teledsp.ulaw_decode(echo)).cast("h")
    out = bytearray(len(caller) * 2)
    o = memoryview(out).cast("h")
    for i in range(len(a)):
        o[i] = max(-32768, min(32767, a[i] + int(b[i] * gain)))
    return teledsp.ulaw_encode(bytes(out))


async def call(url: str, caller: bytes, seconds: float, *, echo_db: float | None = None, headers=None,
               params: dict | None = None, sid: str = "MZ0001", call_sid: str = "CA0001",
               empty_media_at: int | None = None) -> Report:
    """One call of ``seconds``: ``caller`` (8 kHz mu-law) from t = 0, then silence.
    ``empty_media_at``: also send a media message with an empty payload
    before that frame (Twilio's docs do not forbid one)."""
    rep = Report()
    queue: list = []  # ("f", frame) | ("m", name)
    gain = None if echo_db is None else 10 ** (echo_db / 20)
    async with connect(url, additional_headers=headers or {}) as ws:
        async def send(msg):
            await ws.send(json.dumps(msg))

        async def echo_mark(name):
            rep.marks_echoed += 1
            await send({"event": "mark", "streamSid": sid, "mark": {"name": name}})

        t0 = time.monotonic()
        ms = lambda: (time.monotonic() - t0) * 1000  # noqa: E731

        async def receive():
            try:
                await receive_all()
            except Exception:  # noqa: BLE001 - the relay closed with an error code: close_code says which
                pass

        async def receive_all():
            async for text in ws:
                m = json.loads(text)
                if m["event"] == "media":
                    f = base64.b64decode(m["media"]["payload"])
                    rep.frames_received += 1
                    rep.bad_frames += len(f) != 160
                    queue.append(("f", (time.monotonic(), f)))
                elif m["event"] == "mark":
                    if queue:
                        queue.append(("m", m["mark"]["name"]))
                    else:
                        await echo_mark(m["mark"]["name"])
                elif m["event"] == "clear":
                    rep.clears.append(ms())
                    marks = [x for k, x in queue if k == "m"]
                    queue.clear()
                    for name in marks:
                        await echo_mark(name)

        rx = asyncio.create_task(receive())
        try:
            # (A relay that refuses the call closes at once: these may fail.)
            await send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await send({"event": "start", "sequenceNumber": "1", "streamSid": sid,
                        "start": {"streamSid": sid, "callSid": call_sid, "tracks": ["inbound"],
                                  "customParameters": params or {},
                                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
            for k in range(int(seconds * 50)):
                await asyncio.sleep(max(0.0, t0 + k * 0.02 - time.monotonic()))
                played = None
                if queue and queue[0][0] == "f" and queue[0][1][0] + PLAYOUT_DELAY <= time.monotonic():
                    played = queue.pop(0)[1][1]
                    rep.played.append((ms(), played))
                while queue and queue[0][0] == "m":
                    await echo_mark(queue.pop(0)[1])
                if k == empty_media_at:
                    await send({"event": "media", "streamSid": sid, "media": {"track": "inbound", "payload": ""}})
                frame = caller[k * 160:(k + 1) * 160].ljust(160, b"\xff")
                if gain is not None and played is not None:
                    frame = mix(frame, played, gain)
                await send({"event": "media", "streamSid": sid, "sequenceNumber": str(k + 2),
                            "media": {"track": "inbound", "chunk": str(k + 1), "timestamp": str(20 * k),
                                      "payload": base64.b64encode(frame).decode()}})
            await send({"event": "stop", "streamSid": sid, "stop": {"callSid": call_sid}})
            await asyncio.wait_for(rx, 5)
        except (TimeoutError, asyncio.TimeoutError):
            rx.cancel()
        except Exception:  # noqa: BLE001 - the relay closed
            pass
        rep.close_code = ws.close_code
    return rep
