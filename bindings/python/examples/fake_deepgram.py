"""Fake Deepgram streaming STT (``/v1/listen``) and TTS (``/v1/speak``)
WebSocket servers, for running the pipeline relay offline. They speak the
documented message shapes; what they cannot do (recognise words, speak
text) they stand in for, as said below. Used by the tests and the barge-in
benchmark; ``python fake_deepgram.py --listen 127.0.0.1:8090`` runs one.

STT, after https://developers.deepgram.com/reference/speech-to-text/listen-streaming
- Query: ``encoding`` (mulaw only here), ``sample_rate`` (8000),
  ``channels`` (1), ``interim_results``, ``endpointing`` (ms of silence
  that ends an utterance with ``speech_final``; default 10), ``vad_events``.
  ``Authorization: Token <key>`` (401 without it).
- In: binary audio; ``{"type": "KeepAlive"}``, ``{"type": "Finalize"}``,
  ``{"type": "CloseStream"}`` (then ``Metadata`` and a normal close). No
  data for 10 s closes with 1011 (Deepgram's NET-0001).
- Out: ``Results`` (``channel_index``, ``duration``, ``start``,
  ``is_final``, ``speech_final``, ``channel.alternatives[0]`` with
  ``transcript``, ``confidence`` and ``words``, ``metadata``,
  ``from_finalize``), the shape of the JS SDK's LiveTranscriptionEvent;
  ``SpeechStarted`` with ``vad_events``; ``Metadata`` at the end.
- Stand-in for recognition: a 20 ms frame louder than ``speech_dbfs``
  (-55 dBFS: audible) is voice, as a real recogniser transcribes whatever
  is audible, the agent's own echo on the line too. An utterance starts at
  the first voiced frame and ends after ``endpointing`` ms without one; its
  words are the next of the scripted ``transcripts`` (then
  ``default_transcript``), or, if it never got louder than ``loud_dbfs``
  (-35 dBFS; line echo of the agent, 20 dB down), ``faint_transcript``,
  standing in for the words of the faint speech it heard. Interim results come every ``interim_ms`` (1000) of
  stream time while an utterance has at least 200 ms of voice (the cadence
  of Deepgram's interim-results example, whose interim transcripts cover
  0-1.1 s, 0-2.1 s, ...: https://developers.deepgram.com/docs/using-interim-results),
  revealing the words in proportion to the voice heard.

TTS, after https://developers.deepgram.com/docs/streaming-text-to-speech,
/docs/tts-ws-flush and /docs/tts-ws-clear
- Query: ``model``, ``encoding`` (linear16 or mulaw), ``sample_rate``.
- ``GET /v1/projects`` (HTTP, the key check): 200 with the project list for
  the right key, 401 otherwise, as Deepgram answers.
- In: ``{"type": "Speak", "text": ...}``, ``{"type": "Flush"}``,
  ``{"type": "Clear"}``, ``{"type": "Close"}``.
- Out: ``Metadata`` on connect; binary audio; ``{"type": "Flushed",
  "sequence_id": n}`` after a flush's last audio; ``{"type": "Cleared",
  "sequence_id": n}`` once a clear stopped the audio; a ``Warning`` beyond
  20 flushes per 60 s (the documented limit; that flush is ignored).
- Stand-in for synthesis: ``voice(text)`` gives 24 kHz PCM16 (default: a
  recorded prompt from TELEDSP_SPEECH_DIR chosen by the text, else a voiced
  buzz of 60 ms per character), sent ``first_byte_ms`` after the flush, in
  ``chunk_ms`` chunks at ``speed`` times real time.
"""

import argparse
import array
import asyncio
import collections
import hashlib
import json
import math
import os
import pathlib
import threading
import time
import urllib.parse
import uuid
import wave
from dataclasses import dataclass, field

from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers

import teledsp

FLUSH_LIMIT = (20, 60.0)  # flushes per seconds, as documented
IDLE_CLOSE = 10.0  # NET-0001: no audio or message for this long


def dbfs(ulaw: bytes) -> float:
    pcm = array.array("h", teledsp.ulaw_decode(ulaw))
    if not pcm:
        return -120.0
    rms = math.sqrt(sum(s * s for s in pcm) / len(pcm))
    return 20 * math.log10(max(rms, 1e-3) / 32768)


def recorded_voice(speech_dir: str | None = None):
    """A voice that says any text as one of the recorded prompts (24 kHz)."""
    d = speech_dir or os.environ.get("TELEDSP_SPEECH_DIR")
    prompts = sorted(pathlib.Path(d).glob("*.wav")) if d else []
    clips = []
    for p in prompts:
        with wave.open(str(p)) as w:
            if w.getframerate() == 8000 and w.getnchannels() == 1 and 1.5 <= w.getnframes() / 8000 <= 4.0:
                clips.append(p)
    if not clips:
        return buzz_voice

    def voice(text: str) -> bytes:
        p = clips[int(hashlib.sha256(text.encode()).hexdigest(), 16) % len(clips)]
        with wave.open(str(p)) as w:
            pcm8 = w.readframes(w.getnframes())
        r = teledsp.Resampler(8000, 24000)
        return r.process(pcm8) + r.flush()

    return voice


def buzz_voice(text: str) -> bytes:
    """A voiced buzz (150 Hz harmonics, 4 Hz syllables), 60 ms per character."""
    n = 24 * 60 * max(1, len(text))
    return array.array(
        "h",
        (
            int(6000 * max(0.0, math.sin(math.pi * 4 * i / 24000)) * sum(math.sin(2 * math.pi * 150 * k * i / 24000) / k for k in (1, 2, 3)))
            for i in range(n)
        ),
    ).tobytes()


@dataclass
class Log:
    """What the fakes saw and sent, for tests to check."""

    stt_queries: list = field(default_factory=list)
    tts_queries: list = field(default_factory=list)
    stt_audio_bytes: int = 0
    stt_sent: list = field(default_factory=list)  # (monotonic s, message)
    tts_received: list = field(default_factory=list)  # (monotonic s, message)
    tts_sent: list = field(default_factory=list)  # (monotonic s, message or "<N bytes>")
    errors: list = field(default_factory=list)


class FakeDeepgram:
    def __init__(self, transcripts=(), voice=None, *, default_transcript="", interim_ms=1000, speech_dbfs=-55.0, first_byte_ms=150,
                 chunk_ms=100, speed=4.0, key="dg-test", loud_dbfs=-35.0, faint_transcript="okay thank you"):
        self.transcripts = collections.deque(transcripts)
        self.default_transcript = default_transcript  # once the scripted ones are used up
        self.voice = voice or recorded_voice()
        self.interim_ms, self.speech_dbfs, self.loud_dbfs = interim_ms, speech_dbfs, loud_dbfs
        self.faint_transcript = faint_transcript
        self.first_byte_ms, self.chunk_ms, self.speed, self.key = first_byte_ms, chunk_ms, speed, key
        self.log = Log()
        self.port = None

    # ---- server ----------------------------------------------------------

    def process_request(self, conn, request):
        if request.headers.get("Authorization") != f"Token {self.key}":
            self.log.errors.append("missing or wrong Authorization header")
            body = json.dumps({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}).encode()
            return Response(401, "Unauthorized", Headers([("Content-Type", "application/json")]), body)
        if urllib.parse.urlsplit(request.path).path == "/v1/projects":
            body = json.dumps({"projects": [{"project_id": "00000000-0000-0000-0000-000000000001", "name": "fake"}]}).encode()
            return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)
        return None

    async def handler(self, ws):
        url = urllib.parse.urlsplit(ws.request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/v1/listen":
            await self.stt(ws, query)
        elif url.path == "/v1/speak":
            await self.tts(ws, query)
        else:
            await ws.close(1008, f"no such endpoint {url.path}")

    async def serve(self, host="127.0.0.1", port=0):
        """Serves until cancelled; ``self.port`` is set once listening."""
        async with serve(self.handler, host, port, process_request=self.process_request, max_size=1 << 20) as server:
            self.port = server.sockets[0].getsockname()[1]
            await asyncio.Future()

    def start_in_thread(self) -> "FakeDeepgram":
        ready = threading.Event()

        async def main():
            task = asyncio.create_task(self.serve())
            while self.port is None:
                await asyncio.sleep(0.01)
            ready.set()
            await task

        threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
        assert ready.wait(10), "fake Deepgram did not start"
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # ---- STT -------------------------------------------------------------

    async def stt(self, ws, q):
        self.log.stt_queries.append(q)
        if q.get("encoding") != "mulaw" or q.get("sample_rate") != "8000" or q.get("channels", "1") != "1":
            self.log.errors.append(f"STT query this fake does not take: {q}")
            await ws.close(1008, "this fake takes encoding=mulaw&sample_rate=8000&channels=1")
            return
        endpointing = int(q.get("endpointing", "10"))
        interim = q.get("interim_results") == "true"
        vad_events = q.get("vad_events") == "true"
        request_id = str(uuid.uuid4())
        t = 0  # stream time, ms of audio received
        pending = b""
        digest = hashlib.sha256()  # of the audio, for Metadata
        seg = None  # {"start": ms, "voice": ms, "last": ms, "words": [...]}

        async def send(msg):
            self.log.stt_sent.append((time.monotonic(), msg))
            await ws.send(json.dumps(msg))

        def results(words, start_ms, end_ms, is_final, speech_final, from_finalize=False):
            n = len(words)
            span = (end_ms - start_ms) / 1000
            ws_ = [{"word": w.strip(".,?!").lower(), "start": start_ms / 1000 + span * i / max(n, 1),
                    "end": start_ms / 1000 + span * (i + 1) / max(n, 1), "confidence": 0.98, "punctuated_word": w}
                   for i, w in enumerate(words)]
            return {
                "type": "Results", "channel_index": [0, 1], "duration": span, "start": start_ms / 1000,
                "is_final": is_final, "speech_final": speech_final,
                "channel": {"alternatives": [{"transcript": " ".join(words), "confidence": 0.98 if n else 0.0, "words": ws_}]},
                "metadata": {"request_id": request_id, "model_info": {"name": "2-general-nova", "version": "2024-01-18.26916", "arch": "nova-3"},
                             "model_uuid": "c0d1a568-ce81-4fea-97e7-bd45cb1fdf3c"},
                "from_finalize": from_finalize,
            }

        async def end_segment(from_finalize=False):
            nonlocal seg
            await send(results(seg["words"], seg["start"], t, True, not from_finalize, from_finalize))
            seg = None

        try:
            while True:
                try:
                    msg = await asyncio.wait_for(ws.recv(), IDLE_CLOSE)
                except TimeoutError:
                    await ws.close(1011, "NET-0001: no audio received within the timeout window")
                    return
                if isinstance(msg, str):
                    kind = json.loads(msg).get("type")
                    if kind == "CloseStream":
                        if seg:
                            await end_segment()
                        await send({"type": "Metadata", "transaction_key": "deprecated", "request_id": request_id,
                                    "sha256": digest.hexdigest(),
                                    "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                                    "duration": t / 1000, "channels": 1})
                        await ws.close(1000)
                        return
                    if kind == "Finalize" and seg:
                        await end_segment(from_finalize=True)
                    elif kind not in ("KeepAlive", "Finalize"):
                        self.log.errors.append(f"STT message of unknown type {kind}")
                    continue
                if not msg:
                    # Deepgram: "Sending an empty byte (e.g., b'') will cause
                    # unexpected closures".
                    self.log.errors.append("an empty audio message (Deepgram closes the stream on one)")
                    await ws.close(1011, "empty audio message")
                    return
                self.log.stt_audio_bytes += len(msg)
                digest.update(msg)
                pending += msg
                while len(pending) >= 160:
                    frame, pending = pending[:160], pending[160:]
                    level = dbfs(frame)
                    voiced = level > self.speech_dbfs
                    if voiced and seg is None:
                        seg = {"start": t, "voice": 0, "last": t, "words": None, "peak": level}
                        if vad_events:
                            await send({"type": "SpeechStarted", "channel": [0], "timestamp": t / 1000})
                    t += 20
                    if seg is None:
                        continue
                    if voiced:
                        seg["voice"] += 20
                        seg["last"] = t
                        seg["peak"] = max(seg["peak"], level)
                    if seg["words"] is None and (seg["voice"] >= 200 or t - seg["last"] >= max(endpointing, 20)):
                        # Words by what it heard: speech, or faint speech (echo).
                        if seg["peak"] > self.loud_dbfs:
                            text = self.transcripts.popleft() if self.transcripts else self.default_transcript
                        else:
                            text = self.faint_transcript
                        seg["words"] = text.split()
                    if t - seg["last"] >= max(endpointing, 20):
                        await end_segment()
                    elif interim and t % self.interim_ms == 0 and seg["voice"] >= 200:
                        shown = seg["words"][: math.ceil(len(seg["words"]) * min(1.0, seg["voice"] / 1500))]
                        await send(results(shown, seg["start"], t, False, False))
        except Exception:  # noqa: BLE001 - the client went away
            return

    # ---- TTS -------------------------------------------------------------

    async def tts(self, ws, q):
        self.log.tts_queries.append(q)
        encoding, rate = q.get("encoding", "linear16"), int(q.get("sample_rate", "24000"))
        if (encoding, rate) not in (("linear16", 24000), ("linear16", 8000), ("linear16", 16000), ("linear16", 48000), ("mulaw", 8000)):
            await ws.close(1008, f"unsupported encoding/sample_rate {encoding}/{rate}")
            return
        await ws.send(json.dumps({"type": "Metadata", "request_id": str(uuid.uuid4()), "model_name": q.get("model", "aura-2-thalia-en"),
                                  "model_version": "2025-04-07.0", "model_uuid": str(uuid.uuid4())}))
        text = []
        jobs: asyncio.Queue = asyncio.Queue()
        flushes = collections.deque()
        seq = 0

        async def send(msg):
            self.log.tts_sent.append((time.monotonic(), msg if isinstance(msg, dict) else f"<{len(msg)} bytes>"))
            await ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)

        def encode(pcm24: bytes) -> bytes:
            if (encoding, rate) == ("linear16", 24000):
                return pcm24
            r = teledsp.Resampler(24000, rate)
            pcm = r.process(pcm24) + r.flush()
            return teledsp.ulaw_encode(pcm) if encoding == "mulaw" else pcm

        async def speaker():
            while True:
                sid, words = await jobs.get()
                audio = encode(self.voice(words))
                chunk = self.chunk_ms * (8 if encoding == "mulaw" else rate * 2 // 1000)
                await asyncio.sleep(self.first_byte_ms / 1000)
                for i in range(0, len(audio), chunk):
                    await send(audio[i : i + chunk])
                    await asyncio.sleep(self.chunk_ms / 1000 / self.speed)
                await send({"type": "Flushed", "sequence_id": sid})

        task = asyncio.create_task(speaker())
        try:
            async for msg in ws:
                m = json.loads(msg)
                self.log.tts_received.append((time.monotonic(), m))
                kind = m.get("type")
                if kind == "Speak":
                    text.append(m.get("text", ""))
                elif kind == "Flush":
                    now = time.monotonic()
                    while flushes and now - flushes[0] > FLUSH_LIMIT[1]:
                        flushes.popleft()
                    if len(flushes) >= FLUSH_LIMIT[0]:
                        await send({"type": "Warning", "description": "Exceeded max flushes per minute", "code": "FLUSH_LIMIT"})
                        continue
                    flushes.append(now)
                    if text:
                        jobs.put_nowait((seq, " ".join(text)))
                        text = []
                    else:
                        await send({"type": "Flushed", "sequence_id": seq})
                    seq += 1
                elif kind == "Clear":
                    task.cancel()
                    text = []
                    while not jobs.empty():
                        jobs.get_nowait()
                    await send({"type": "Cleared", "sequence_id": seq})
                    seq += 1
                    task = asyncio.create_task(speaker())
                elif kind == "Close":
                    break
                else:
                    self.log.errors.append(f"TTS message of unknown type {kind}")
        except Exception:  # noqa: BLE001 - the client went away
            pass
        finally:
            task.cancel()
        await ws.close(1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:8090")
    p.add_argument("--transcript", action="append", default=[], help="what the caller says, utterance by utterance")
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    fake = FakeDeepgram(a.transcript, key=os.environ.get("DEEPGRAM_API_KEY", "dg-test"))
    asyncio.run(fake.serve(host, int(port)))


if __name__ == "__main__":
    main()
