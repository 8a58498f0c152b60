"""A phone <-> voice-model relay in FastAPI (Twilio Media Streams <->
OpenAI Realtime by default), on teledsp's call engine. The same relay as
`teledsp-relay serve` (Rust), flask_relay.py and the Nest gateway (Node),
with the same command line and endpoints:

    python fastapi_relay.py serve --listen 0.0.0.0:8080 --public-url https://relay.example.com \\
        [--telephony twilio|telnyx|plivo|vonage|exotel|signalwire] [--model openai|azure|gemini|elevenlabs] \\
        [--model-url URL] [--call-tokens] [--tools-webhook URL]

The model's key (OPENAI_API_KEY, or by --model AZURE_OPENAI_API_KEY,
GEMINI_API_KEY, ELEVENLABS_API_KEY) and the provider's signing secret
(TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, PLIVO_AUTH_TOKEN,
VONAGE_SIGNATURE_SECRET, SIGNALWIRE_SIGNING_KEY) come from the
environment; without the secret it refuses to start unless
--insecure-no-signature. `uvicorn fastapi_relay:app` works too, with the
settings in the environment (RELAY_TELEPHONY, PUBLIC_URL,
OPENAI_REALTIME_URL, RELAY_TOOLS_WEBHOOK, RELAY_INSECURE_NO_SIGNATURE=1,
RELAY_INSTRUCTIONS, RELAY_VOICE).

- The provider's answer webhook (POST /twiml, POST /texml, GET or POST
  /answer): the document that connects the call to wss://PUBLIC/media,
  signature checked, with a call token under --call-tokens (teledsp.Gate).
- GET /media: the media stream (the upgrade and `start` checked by the
  Gate; 1008 and why if refused).
- GET /healthz, /livez, /metrics.

This file is I/O only: every protocol decision (audio, framing, marks,
barge-in, truncation, tools) is teledsp.Call's. Bounds, as in the Rust
relay (options of the same names): Twilio's queue holds 512 messages (~10 s
of audio; beyond, audio is dropped and counted, a clear never is); sends to
the model are awaited in order (a slow model slows the reading of Twilio, by
TCP backpressure); `start` within --start-timeout (5 s); the model connected
and its session.updated within --session-timeout (10 s), else the stream is
closed so the TwiML fallback plays; inbound media at least every
--media-timeout (10 s); each write within --write-timeout (5 s); /media
messages 16 KiB (1009 beyond), the model's 1 MiB; tool webhook 8 s. On
SIGTERM (relay_common.Lifecycle, as the Rust relay): /healthz red at once,
calls still taken for --pre-stop (5 s), then refused; live calls drain
until --drain-timeout (30 s) from the signal, then get 1001; /livez and
/metrics (the Rust relay's names) answer through the drain. uvicorn has no
header-read timeout: put a proxy in front (see the README's Hardening).
"""

import asyncio
import collections
import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

import teledsp
from relay_common import (setup_logging, model_key, gate, LIFE, DEFAULT_OPENAI_URL, MAX_MESSAGE, WARNINGS_PER_CALL,
                          WEBHOOK_TIMEOUT, PhoneOut, call_config, relay_app, serve, serve_parser, tool_output)

log = logging.getLogger("fastapi_relay")


@dataclass
class Settings:
    gate: teledsp.Gate  # the answer webhook's, the upgrade's and start's checks
    model_url: str
    model_api_key: str
    tools_webhook: str | None = None
    call: dict = field(default_factory=dict)  # teledsp.Call's settings
    start_timeout: float = 5.0
    media_timeout: float = 10.0
    session_timeout: float = 10.0
    write_timeout: float = 5.0

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings `uvicorn fastapi_relay:app` runs with. Raises
        teledsp.ConfigError when the provider's secret is missing (and
        unsigned requests were not asked for) or malformed."""
        telephony = os.environ.get("RELAY_TELEPHONY", "twilio")
        env = teledsp.Gate.secret_env(telephony)
        call = {k: os.environ[f"RELAY_{k.upper()}"] for k in ("instructions", "voice") if f"RELAY_{k.upper()}" in os.environ}
        g = teledsp.Gate(telephony, os.environ.get("PUBLIC_URL", "http://127.0.0.1:8080"),
                         os.environ.get(env) if env else None,
                         insecure_no_signature=os.environ.get("RELAY_INSECURE_NO_SIGNATURE") == "1")
        return cls(
            gate=g,
            model_url=os.environ.get("OPENAI_REALTIME_URL", DEFAULT_OPENAI_URL),
            model_api_key=os.environ.get("OPENAI_API_KEY", ""),
            tools_webhook=os.environ.get("RELAY_TOOLS_WEBHOOK"),
            call={"telephony": telephony, **call},
        )


async def run_tool(settings: Settings, call: teledsp.Call, ev: dict) -> str:
    """The tool webhook's answer, or an error text the model can speak about."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(tool_output, settings.tools_webhook, ev, call.call_sid, call.custom_parameters),
            WEBHOOK_TIMEOUT + 1)
    except (TimeoutError, asyncio.TimeoutError):
        return json.dumps({"error": f"tool {ev['name']} timed out"})


def create_app(settings: Settings) -> FastAPI:
    return relay_app("teledsp FastAPI relay", settings, run_call, ("/media", "/media-stream"))  # and the seeds' path


async def run_call(settings: Settings, twilio: WebSocket, bearer: str | None = None) -> None:
    call = teledsp.Call(**settings.call)
    out = PhoneOut(twilio, settings.write_timeout)
    writer = asyncio.create_task(out.run())
    tools: set[asyncio.Task] = set()
    stopped = asyncio.Event()
    upstream = None
    warned = collections.Counter()

    def warn(kind: str, text: str, *args) -> None:
        """At most WARNINGS_PER_CALL lines per kind and call: a caller cannot flood the log."""
        warned[kind] += 1
        if warned[kind] <= WARNINGS_PER_CALL:
            log.warning("call %s: " + text, call.call_sid, *args)

    async def dispatch(outputs) -> None:
        for target, payload in outputs:
            if target == "model":
                # Awaited in order: a slow upstream slows the reading of
                # Twilio (TCP backpressure), as in the Rust relay.
                await asyncio.wait_for(upstream.send(payload), settings.write_timeout)
            elif target == "event":
                if payload["type"] == "tool_call":
                    task = asyncio.create_task(answer_tool(payload))
                    tools.add(task)
                    task.add_done_callback(tools.discard)
                elif payload["type"] == "stopped":
                    stopped.set()
                elif payload["type"] == "model_error":
                    warn("model_error", "OpenAI error %s: %s", payload["code"], payload["message"])
            else:
                out.put(target, payload)

    async def answer_tool(ev: dict) -> None:
        output = await run_tool(settings, call, ev)
        await dispatch(call.tool_result(ev["call_id"], output))

    async def receive(msg: str | bytes, side: str) -> None:
        try:
            if side == "model":
                await dispatch(call.receive_model(msg))
            elif isinstance(msg, bytes):  # Vonage's audio; refused (and counted) by the engine for the others
                await dispatch(call.receive_phone_binary(msg))
            else:
                await dispatch(call.receive_phone(msg))
        except teledsp.TeledspError as e:  # counted by the engine; the call goes on
            warn("malformed", "skipped a %s message: %s", side, e)

    async def phone_message() -> str | bytes:
        """The phone's next message, text or binary."""
        msg = await twilio.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        return msg["text"] if msg.get("text") is not None else msg.get("bytes") or b""

    async def from_twilio() -> None:
        try:
            while not stopped.is_set():
                await receive(await phone_message(), "phone")
        except Exception:  # noqa: BLE001 - disconnect
            pass
        stopped.set()

    async def watchdog() -> None:
        """The session and media bounds, checked every 100 ms."""
        loop = asyncio.get_running_loop()
        last_media = loop.time()
        frames = call.counters["frames_in"]
        while not stopped.is_set():
            await asyncio.sleep(0.1)
            now = loop.time()
            if not call.model_ready and now > session_deadline:
                warn("timeout", "no session.updated within %ss; closing so the TwiML fallback plays", settings.session_timeout)
                break
            n = call.counters["frames_in"]
            if n != frames:
                frames, last_media = n, now
            elif now - last_media > settings.media_timeout:
                warn("timeout", "no media for %ss; ending the call", settings.media_timeout)
                break
            if out.failed.is_set():
                break
        stopped.set()

    async def give_up(code: int, reason: str | None = None) -> None:
        """Ends a call that never ran: what is queued goes out, then the close
        (1000: the TwiML fallback plays; 1008: refused)."""
        out.done = True
        out.wake.set()
        await writer
        with contextlib.suppress(Exception):
            await twilio.close(code, reason)

    try:
        # Twilio sends start first; caller audio meanwhile is held by the engine.
        async with asyncio.timeout(settings.start_timeout):
            while call.stream_sid is None:
                await receive(await phone_message(), "phone")
    except Exception as e:  # noqa: BLE001 - no start: end this call only
        log.warning("call %s: not started (%r); closing so the TwiML fallback plays", call.call_sid, e)
        return await give_up(1000)
    why = settings.gate.admit(call, bearer)
    if why:  # a call token missing, expired or another call's
        log.warning("call %s refused: %s", call.call_sid, why)
        return await give_up(1008, "invalid call token")
    try:
        LIFE.call_started()
        # Connected and session.updated, both within the session bound.
        session_deadline = asyncio.get_running_loop().time() + settings.session_timeout
        headers = dict(call.model_headers(settings.model_api_key))
        async with asyncio.timeout(settings.session_timeout):
            upstream = await connect(settings.model_url, additional_headers=headers, max_size=MAX_MESSAGE)
    except Exception as e:  # noqa: BLE001 - no start, or no upstream: end this call only
        log.warning("call %s: not started (%r); closing so the TwiML fallback plays", call.call_sid, e)
        return await give_up(1000)

    async def from_openai() -> None:
        try:
            async for text in upstream:
                await receive(text, "model")
        except Exception as e:  # noqa: BLE001 - a dropped upstream ends the call
            warn("upstream", "OpenAI upstream closed: %s", e)
        stopped.set()

    async with upstream:
        await dispatch(call.open_model())
        tasks = [asyncio.create_task(t()) for t in (from_twilio, from_openai, watchdog)]
        await stopped.wait()
        for t in [*tasks, *tools]:
            t.cancel()
    out.done = True
    out.wake.set()
    await writer
    with contextlib.suppress(Exception):
        await twilio.close(1000)  # Twilio then runs the TwiML after <Connect>
    not_logged = sum(max(0, n - WARNINGS_PER_CALL) for n in warned.values())
    log.info("call %s ended: %s, %d frames dropped, %d warnings not logged",
             call.call_sid, call.counters, out.dropped, not_logged)


def refusing_app(why: str) -> FastAPI:
    """An app that will not start, and says why: `uvicorn fastapi_relay:app`
    without the provider's secret (the relay never runs unsigned by accident)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        raise RuntimeError(why)
        yield  # noqa: unreachable - a lifespan is a generator

    return FastAPI(lifespan=lifespan)


try:  # `uvicorn fastapi_relay:app`
    app = create_app(Settings.from_env())
except teledsp.ConfigError as e:
    app = refusing_app(str(e))


def main(argv=None) -> int:
    p = serve_parser("fastapi_relay.py", __doc__.split("\n\n")[0], "uvicorn has none: accepted for the common command line; use a proxy")
    a = p.parse_args(argv)
    setup_logging()
    call = call_config(a)
    settings = Settings(gate(a), a.model_url, model_key(call), a.tools_webhook, call,
                        start_timeout=a.start_timeout, media_timeout=a.media_timeout,
                        session_timeout=a.session_timeout, write_timeout=a.write_timeout)
    host, _, port = a.listen.rpartition(":")
    asyncio.run(serve(create_app(settings), host or "127.0.0.1", int(port), a.drain_timeout, a.pre_stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
