"""A Twilio Media Streams <-> Deepgram STT -> LLM -> Deepgram TTS relay in
FastAPI (seed 002's architecture), on teledsp's Pipeline:

    python pipeline_relay.py serve --listen 0.0.0.0:8080 --public-url https://relay.example.com \\
        [--deepgram-url wss://api.deepgram.com] [--llm mymodule:answer] [--barge-in vad|transcript|both]

Environment: DEEPGRAM_API_KEY (checked against Deepgram at startup: a
wrong key refuses to start), TWILIO_AUTH_TOKEN (without it the relay
refuses to start unless --insecure-no-signature or
RELAY_INSECURE_NO_SIGNATURE=1), DEEPGRAM_URL and PUBLIC_URL (the defaults
of --deepgram-url and --public-url). The examples' own dependencies:
``pip install -r requirements.txt`` beside this file.

The LLM: ``--llm module:function`` (the module is looked up in the current
directory too) is called with the history, a list of OpenAI-style messages:
``{"role": "system", "content": --instructions}`` first, then ``user``
(the caller's final transcripts of a turn, joined) and ``assistant`` (each
answer, cut to what the caller heard if interrupted; answers heard not at
all are left out). It returns a str, an awaitable str, or an async
iterator of text chunks.

- Caller audio (8 kHz mu-law, as Twilio sends it) goes to Deepgram's live
  STT as binary frames; its final results, up to ``speech_final``, make the
  caller's turn.
- The LLM is a callable ``llm(history)`` (``--llm module:function``; the
  default echoes the caller): history is OpenAI-style ``[{"role",
  "content"}]``; it returns a str, an awaitable str, or an async iterator of
  text chunks. Each chunk goes to Deepgram's TTS WebSocket as ``Speak``, then
  one ``Flush`` per answer (Deepgram allows 20 flushes a minute).
- TTS audio (linear16, 24 kHz) goes to ``Pipeline.push_audio``: exact 20 ms
  mu-law frames and marks to Twilio.
- Barge-in: on teledsp's VAD onset in the caller's audio (``--barge-in
  vad``, the default), or on Deepgram's first interim transcript while the
  agent speaks (``transcript``, the seed's rule), or both. With ``vad``, a
  final transcript that comes while the agent still speaks (the VAD, which
  is echo-guarded, did not hear the caller) is taken for the agent's echo
  and dropped. In every mode, a final transcript counts only if the
  caller was heard (teledsp's echo-guarded VAD, ``Pipeline.caller_speech_ms``)
  during its time span: a recogniser transcribes whatever is audible, the
  agent's own echo too, and its final for the answer's last words comes
  after the agent stopped. On a barge-in Twilio gets
  ``clear``, the TTS ``Clear``, the answer being generated is cancelled, and
  the history keeps only what the caller heard of each answer: the engine
  says how many ms were heard; the text is cut in proportion to the
  answer's audio when all of it had come, else at the speaking rate of the
  answers that finished earlier in the call (``--chars-per-second`` until
  one has: Deepgram's TTS gives no word timings), at a word boundary.

This file is I/O and the application's choices (prompting, history); every
audio and playout decision is teledsp.Pipeline's. Bounds: Twilio's queue
as in fastapi_relay.py (512 messages; audio dropped beyond, a clear never);
`start` within --start-timeout (5 s); both Deepgram sockets open within
--session-timeout (10 s), else the call closes so the TwiML fallback plays;
inbound media at least every --media-timeout (10 s); each write within
--write-timeout (5 s); an LLM answer within --llm-timeout (20 s, else an
apology is spoken); /media messages 16 KiB, Deepgram's 1 MiB.
"""

import argparse
import asyncio
import collections
import contextlib
import importlib
import inspect
import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

import teledsp
from relay_common import setup_logging, LIFE, MAX_MESSAGE, WARNINGS_PER_CALL, PhoneOut, relay_app, serve

log = logging.getLogger("pipeline_relay")

DEFAULT_DEEPGRAM_URL = "wss://api.deepgram.com"
SORRY = "Sorry, I could not answer that. Could you say it again?"
# Caller speech (by the echo-guarded VAD) a final transcript's span needs to
# count as the caller's: two VAD frames.
MIN_CALLER_SPEECH_MS = 40


async def echo_llm(history: list[dict]):
    """The offline default: repeats what the caller said."""
    yield "You said: "
    yield history[-1]["content"] + "."


@dataclass
class Settings:
    public_url: str
    deepgram_url: str
    deepgram_api_key: str
    gate: teledsp.Gate  # /twiml, the upgrade's and start's checks (Twilio)
    llm: Callable[[list[dict]], Any] = echo_llm
    barge_in: str = "vad"  # vad | transcript | both
    greeting: str | None = "Hello! How can I help you today?"
    instructions: str = "You are a helpful phone agent. Keep answers short."
    stt_model: str = "nova-3"
    tts_model: str = "aura-2-thalia-en"
    endpointing_ms: int = 300
    chars_per_second: float = 14.0
    echo_loss_db: float = 6.0  # teledsp's echo guard on the local VAD (0: off)
    echo_cancel: bool = False  # teledsp's echo canceller: the VAD and the recogniser hear the cancelled audio
    start_timeout: float = 5.0
    media_timeout: float = 10.0
    session_timeout: float = 10.0
    write_timeout: float = 5.0
    llm_timeout: float = 20.0
    on_call_end: Callable[[dict], None] | None = None  # gets the call's record (tests, analytics)


def heard_text(text: str, heard_ms: int, generated_ms: int, complete: bool, chars_per_second: float) -> str:
    """The part of an answer's text the caller heard, at a word boundary (a
    word heard to its last letter is kept)."""
    n = len(text) * heard_ms / generated_ms if complete and generated_ms else heard_ms * chars_per_second / 1000
    n = min(len(text), int(n))
    if n == len(text) or text[n].isspace():
        return text[:n].rstrip()
    cut = text[:n]
    return cut.rsplit(" ", 1)[0] if " " in cut else ""


@dataclass
class Answer:
    entry: dict  # its history entry
    text: str = ""
    complete: bool = False  # all its audio came (Flushed)
    audio_ms: float = 0.0  # TTS audio received for it


@dataclass
class Conversation:
    """The application's side: the LLM history, answers by utterance id,
    and which answer the TTS audio now arriving belongs to."""

    instructions: str
    chars_per_second: float
    history: list = field(default_factory=list)
    answers: dict = field(default_factory=dict)
    fifo: collections.deque = field(default_factory=collections.deque)  # flushed or speaking, in TTS order
    clearing: bool = False  # a Clear was sent; its Cleared has not come
    user_parts: list = field(default_factory=list)
    next_id: int = 0
    spoken: tuple = (0, 0.0)  # (characters, seconds) of the answers whose audio all came

    def speaking_rate(self) -> float:
        """Characters per second of this call's voice, from its finished
        answers (the configured rate until one has finished)."""
        chars, secs = self.spoken
        return chars / secs if secs >= 1.0 else self.chars_per_second

    def finished(self, uid: str) -> None:
        a = self.answers[uid]
        a.complete = True
        if a.text and a.audio_ms > 0:
            self.spoken = (self.spoken[0] + len(a.text), self.spoken[1] + a.audio_ms / 1000)

    def __post_init__(self):
        self.history.append({"role": "system", "content": self.instructions})

    def begin(self) -> str:
        self.next_id += 1
        uid = f"u{self.next_id}"
        entry = {"role": "assistant", "content": ""}
        self.history.append(entry)
        self.answers[uid] = Answer(entry)
        self.fifo.append(uid)
        return uid

    def add_text(self, uid: str, chunk: str) -> None:
        a = self.answers[uid]
        a.text += chunk
        a.entry["content"] = a.text

    def cut(self, items: list[dict]) -> None:
        """A barge-in: each interrupted answer keeps what was heard."""
        for it in items:
            a = self.answers.get(it["item_id"])
            if a is None:
                continue
            a.entry["content"] = heard_text(a.text, it["heard_ms"], it["generated_ms"], a.complete, self.speaking_rate())
        self.history[:] = [e for e in self.history if e["role"] != "assistant" or e["content"]]
        self.fifo.clear()
        self.clearing = True


async def llm_chunks(llm, history):
    r = llm(history)
    if hasattr(r, "__aiter__"):
        async for c in r:
            yield c
    elif inspect.isawaitable(r):
        yield await r
    else:
        yield r


def create_app(settings: Settings) -> FastAPI:
    return relay_app("teledsp pipeline relay", settings, run_call, ("/media", "/api/v1/voice/media-stream"))  # and the seed's


async def run_call(settings: Settings, twilio: WebSocket, bearer: str | None = None) -> None:
    call = teledsp.Pipeline(encoding="linear16", sample_rate=24000, local_vad=settings.barge_in in ("vad", "both"),
                            echo_loss_db=settings.echo_loss_db, echo_cancel=settings.echo_cancel)
    conv = Conversation(settings.instructions, settings.chars_per_second)
    out = PhoneOut(twilio, settings.write_timeout)
    writer = asyncio.create_task(out.run())
    stopped = asyncio.Event()
    warned = collections.Counter()
    record = {"barge_ins": [], "tts_dropped": 0, "llm_calls": []}
    stt = tts = None
    turn: asyncio.Task | None = None

    def warn(kind: str, text: str, *args) -> None:
        """At most WARNINGS_PER_CALL lines per kind and call."""
        warned[kind] += 1
        if warned[kind] <= WARNINGS_PER_CALL:
            log.warning("call %s: " + text, call.call_sid, *args)

    async def send(ws, msg) -> None:
        await asyncio.wait_for(ws.send(msg if isinstance(msg, bytes) else json.dumps(msg)), settings.write_timeout)

    async def dispatch(outputs) -> None:
        for target, payload in outputs:
            if target == "caller_audio":
                if stt is not None:
                    await send(stt, payload)
            elif target == "event":
                if payload["type"] == "stopped":
                    stopped.set()
                elif payload["type"] == "barge_in":
                    await barge_in(payload)
            else:
                out.put(target, payload)

    async def barge_in(ev: dict) -> None:
        nonlocal turn
        record["barge_ins"].append(ev)
        conv.cut(ev["items"])
        if turn is not None:
            turn.cancel()
            turn = None
        await send(tts, {"type": "Clear"})

    def answer(user_text: str | None, fixed: str | None = None) -> None:
        """Starts an answer: the LLM's to the history, or a fixed text."""
        nonlocal turn
        if user_text is not None:
            conv.history.append({"role": "user", "content": user_text})
        uid = conv.begin()
        call.begin_utterance(uid)
        turn = asyncio.create_task(speak(uid, fixed))

    async def speak(uid: str, fixed: str | None) -> None:
        """Streams an answer's text to the TTS, then Flush. A failing or
        slow LLM is apologised for; a failing TTS socket ends the call."""
        if fixed is not None:
            chunks = _aiter([fixed])
        else:
            history = [dict(e) for e in conv.history if e is not conv.answers[uid].entry]
            record["llm_calls"].append(history)
            chunks = llm_chunks(settings.llm, history)
        deadline = asyncio.get_running_loop().time() + settings.llm_timeout
        sent = False
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except Exception as e:  # noqa: BLE001 - an LLM failure or timeout: say so rather than go silent
                    warn("llm", "LLM failed (%r)", e)
                    if not sent:
                        conv.add_text(uid, SORRY)
                        await send(tts, {"type": "Speak", "text": SORRY})
                    break
                if chunk:
                    conv.add_text(uid, chunk)
                    await send(tts, {"type": "Speak", "text": chunk})
                    sent = True
            await send(tts, {"type": "Flush"})
        except asyncio.CancelledError:
            raise  # a barge-in: the TTS gets Clear instead
        except Exception as e:  # noqa: BLE001 - the TTS socket failed
            if not stopped.is_set():
                warn("upstream", "Deepgram TTS write failed (%r); ending the call", e)
                stopped.set()

    async def on_stt(msg: str) -> None:
        m = json.loads(msg)
        if m.get("type") != "Results":
            return  # Metadata, SpeechStarted, UtteranceEnd
        text = m["channel"]["alternatives"][0]["transcript"].strip()
        if not m.get("is_final"):
            if text and settings.barge_in in ("transcript", "both") and call.speaking():
                await dispatch(call.barge_in())
            return
        if text:
            start_ms = int(float(m.get("start", 0)) * 1000)
            end_ms = start_ms + int(float(m.get("duration", 0)) * 1000)
            if call.caller_speech_ms(start_ms, end_ms) < MIN_CALLER_SPEECH_MS:
                # Deepgram heard it, teledsp's echo-guarded VAD did not hear
                # the caller then: the agent's own voice on the line.
                warn("echo", "dropped a transcript of the agent's echo (%d-%d ms): %r", start_ms, end_ms, text)
            else:
                conv.user_parts.append(text)
        if m.get("speech_final") and conv.user_parts:
            said = " ".join(conv.user_parts)
            conv.user_parts.clear()
            if call.speaking():
                if settings.barge_in == "vad":
                    # teledsp's echo-guarded VAD did not hear the caller over
                    # the agent: the recogniser heard the agent's own echo.
                    warn("echo", "dropped a transcript heard while the agent spoke: %r", said)
                    return
                await dispatch(call.barge_in())  # the caller said a whole sentence over the agent
            answer(said)

    async def on_tts(msg) -> None:
        if isinstance(msg, bytes):
            if conv.clearing or not conv.fifo:
                record["tts_dropped"] += 1  # audio of a cleared answer
            else:
                conv.answers[conv.fifo[0]].audio_ms += len(msg) / 48  # linear16 at 24 kHz
                await dispatch(call.push_audio(conv.fifo[0], msg))
            return
        m = json.loads(msg)
        if m.get("type") == "Flushed" and not conv.clearing and conv.fifo:
            uid = conv.fifo.popleft()
            conv.finished(uid)
            await dispatch(call.end_utterance(uid))
        elif m.get("type") == "Cleared":
            conv.clearing = False
        elif m.get("type") == "Warning":
            warn("tts", "Deepgram TTS warning %s: %s", m.get("code"), m.get("description"))

    async def phone_text() -> str | None:
        msg = await twilio.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        if msg.get("text") is None:
            warn("malformed", "skipped a binary frame: Twilio sends text")
            return None
        return msg["text"]

    async def receive_phone(text: str) -> None:
        try:
            await dispatch(call.receive_phone(text))
        except teledsp.TeledspError as e:  # counted by the engine; the call goes on
            warn("malformed", "skipped a Twilio message: %s", e)

    async def from_twilio() -> None:
        with contextlib.suppress(Exception):
            while not stopped.is_set():
                text = await phone_text()
                if text is not None:
                    await receive_phone(text)
        stopped.set()

    async def from_peer(ws, handle, name) -> None:
        try:
            async for msg in ws:
                await handle(msg)
        except Exception as e:  # noqa: BLE001 - a dropped peer ends the call
            warn("upstream", "Deepgram %s closed: %r", name, e)
        stopped.set()

    async def watchdog() -> None:
        loop = asyncio.get_running_loop()
        last, frames = loop.time(), call.counters["frames_in"]
        while not stopped.is_set():
            await asyncio.sleep(0.1)
            n = call.counters["frames_in"]
            if n != frames:
                frames, last = n, loop.time()
            elif loop.time() - last > settings.media_timeout:
                warn("timeout", "no media for %ss; ending the call", settings.media_timeout)
                break
            if out.failed.is_set():
                break
        stopped.set()

    headers = {"Authorization": f"Token {settings.deepgram_api_key}"}
    base = settings.deepgram_url.rstrip("/")
    stt_q = {"model": settings.stt_model, "encoding": "mulaw", "sample_rate": 8000, "channels": 1, "interim_results": "true",
             "endpointing": settings.endpointing_ms, "vad_events": "true", "smart_format": "true"}
    tts_q = {"model": settings.tts_model, "encoding": "linear16", "sample_rate": 24000}
    try:
        async with asyncio.timeout(settings.start_timeout):
            while call.stream_sid is None:
                text = await phone_text()
                if text is not None:
                    await receive_phone(text)
        why = settings.gate.admit(call, bearer)
        if why:  # a call token missing, expired or another call's
            raise PermissionError(why)
        LIFE.call_started()
        async with asyncio.timeout(settings.session_timeout):
            stt = await connect(f"{base}/v1/listen?{urllib.parse.urlencode(stt_q)}", additional_headers=headers, max_size=MAX_MESSAGE)
            tts = await connect(f"{base}/v1/speak?{urllib.parse.urlencode(tts_q)}", additional_headers=headers, max_size=MAX_MESSAGE)
    except Exception as e:  # noqa: BLE001 - no start, or no Deepgram: end this call only
        log.warning("call %s: not started (%r); closing so the TwiML fallback plays", call.call_sid, e)
        for ws in (stt, tts):
            if ws is not None:
                await ws.close()
        out.done = True
        out.wake.set()
        await writer
        with contextlib.suppress(Exception):
            # 1008: refused by the gate (no fallback for a stranger's stream).
            await twilio.close(*((1008, "invalid call token") if isinstance(e, PermissionError) else (1000,)))
        return

    async with stt, tts:
        if settings.greeting:
            answer(None, settings.greeting)
        tasks = [asyncio.create_task(t) for t in (from_twilio(), from_peer(stt, on_stt, "STT"), from_peer(tts, on_tts, "TTS"), watchdog())]
        await stopped.wait()
        for t in [*tasks, *([turn] if turn else [])]:
            t.cancel()
        with contextlib.suppress(Exception):
            await send(stt, {"type": "CloseStream"})
            await send(tts, {"type": "Close"})
    out.done = True
    out.wake.set()
    await writer
    with contextlib.suppress(Exception):
        await twilio.close(1000)
    record |= {"call_sid": call.call_sid, "history": conv.history, "counters": call.counters}
    log.info("call %s ended: %s, %d barge-ins, %d TTS chunks dropped after a clear", call.call_sid, call.counters,
             len(record["barge_ins"]), record["tts_dropped"])
    if settings.on_call_end:
        settings.on_call_end(record)


async def _aiter(items):
    for i in items:
        yield i


def load_llm(spec: str):
    """``module:function`` to the callable; the module may be a file in the
    current directory (as ``python -m`` would find it)."""
    mod, _, fn = spec.partition(":")
    if not fn:
        raise ValueError(f"--llm takes module:function, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return getattr(importlib.import_module(mod), fn)


def check_deepgram_key(deepgram_url: str, key: str, timeout: float = 5.0) -> str | None:
    """Asks Deepgram whether ``key`` is valid (``GET /v1/projects``, which
    any valid key may call): the reason it is not, or None. A Deepgram that
    cannot be reached is not a wrong key: the calls will say so."""
    if not key:
        return "DEEPGRAM_API_KEY is not set"
    base = deepgram_url.rstrip("/").replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    req = urllib.request.Request(f"{base}/v1/projects", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            return None
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            return f"Deepgram refused DEEPGRAM_API_KEY (HTTP {e.code})"
        log.warning("could not check DEEPGRAM_API_KEY: HTTP %s", e.code)
    except (OSError, ValueError) as e:
        log.warning("could not check DEEPGRAM_API_KEY: %s", e)
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pipeline_relay.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the relay", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT")
    s.add_argument("--public-url", default=os.environ.get("PUBLIC_URL", "http://127.0.0.1:8080"))
    s.add_argument("--deepgram-url", default=os.environ.get("DEEPGRAM_URL", DEFAULT_DEEPGRAM_URL))
    s.add_argument("--llm", help="module:function answering the history (default: echo the caller)")
    s.add_argument("--barge-in", choices=["vad", "transcript", "both"], default="vad")
    s.add_argument("--greeting", default=Settings.greeting, help="said when the call starts ('' for none)")
    s.add_argument("--instructions", default=Settings.instructions, help="the system message")
    s.add_argument("--echo-loss-db", type=float, default=6.0,
                   help="caller audio this much quieter than the agent's is taken for echo (0: no guard)")
    s.add_argument("--echo-cancel", action="store_true",
                   help="run teledsp's echo canceller: the VAD and the recogniser hear the cancelled audio")
    s.add_argument("--chars-per-second", type=float, default=14.0, help="speaking rate, to cut an answer heard in part")
    s.add_argument("--insecure-no-signature", action="store_true", help="accept unsigned requests (development only)")
    seconds = lambda v: float(v) if float(v) > 0 else p.error(f"not a positive number of seconds: {v}")  # noqa: E731
    s.add_argument("--drain-timeout", type=seconds, default=30.0, help="seconds live calls get after SIGTERM")
    s.add_argument("--pre-stop", type=lambda v: float(v) if float(v) >= 0 else p.error(f"not 0 or more seconds: {v}"),
                   default=5.0, help="seconds after SIGTERM during which calls are still taken while /healthz says 503")
    s.add_argument("--start-timeout", type=seconds, default=5.0, help="seconds from the upgrade to Twilio's start")
    s.add_argument("--media-timeout", type=seconds, default=10.0, help="seconds without inbound media before a call ends")
    s.add_argument("--session-timeout", type=seconds, default=10.0, help="seconds to open both Deepgram sockets")
    s.add_argument("--write-timeout", type=seconds, default=5.0, help="seconds one write to a peer may take")
    s.add_argument("--llm-timeout", type=seconds, default=20.0, help="seconds an LLM answer may take")
    a = p.parse_args(argv)
    setup_logging()
    insecure = a.insecure_no_signature or os.environ.get("RELAY_INSECURE_NO_SIGNATURE") == "1"
    try:
        gate = teledsp.Gate("twilio", a.public_url, os.environ.get("TWILIO_AUTH_TOKEN"), insecure_no_signature=insecure)
    except teledsp.ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    key = os.environ.get("DEEPGRAM_API_KEY", "")
    why = check_deepgram_key(a.deepgram_url, key)
    if why:
        print(f"{why}: refusing to start (every call would fail)", file=sys.stderr)
        return 2
    settings = Settings(a.public_url, a.deepgram_url, key, gate,
                        llm=load_llm(a.llm) if a.llm else echo_llm, barge_in=a.barge_in, greeting=a.greeting or None,
                        instructions=a.instructions, chars_per_second=a.chars_per_second, echo_loss_db=a.echo_loss_db,
                        echo_cancel=a.echo_cancel,
                        start_timeout=a.start_timeout, media_timeout=a.media_timeout,
                        session_timeout=a.session_timeout, write_timeout=a.write_timeout, llm_timeout=a.llm_timeout)
    host, _, port = a.listen.rpartition(":")
    asyncio.run(serve(create_app(settings), host or "127.0.0.1", int(port), a.drain_timeout, a.pre_stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
