"""What the Python relays share (fastapi_relay.py, flask_relay.py,
pipeline_relay.py): the command line, TwiML, the tool webhook, the bounds,
and for the ASGI relays the phone writer, the Twilio endpoints and the
server's life (FastAPI and uvicorn are imported where those are used, so
the Flask relay needs neither). No audio or protocol here: that is
teledsp's. No example imports another: they all import this."""

import argparse
import asyncio
import collections
import contextlib
import contextvars
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

WEBHOOK_TIMEOUT = 8.0
MAX_MESSAGE = 1 << 20  # from the model or Deepgram
MAX_MEDIA_MESSAGE = 16 * 1024  # from Twilio (1009 beyond)
PHONE_QUEUE = 512  # messages queued for the phone (~10 s of audio)
WARNINGS_PER_CALL = 3
CLOSE_GRACE = 1.0  # after the drain, time live calls get to send their close frames
DEFAULT_OPENAI_URL = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
NO_TOKEN = ("TWILIO_AUTH_TOKEN is not set: refusing to accept unsigned Twilio requests "
            "(pass --insecure-no-signature, or set RELAY_INSECURE_NO_SIGNATURE=1, for local development)")
ANSWER_PATHS = ("/twiml", "/texml", "/answer")  # every provider's; teledsp.Gate answers the one of --telephony
TELEPHONIES = ["twilio", "telnyx", "plivo", "vonage", "exotel", "signalwire"]


def post_json(url: str, body: dict) -> str:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=WEBHOOK_TIMEOUT) as r:
        return r.read(MAX_MESSAGE).decode()


def tool_output(webhook: str | None, ev: dict, call_sid: str | None, custom_parameters: dict) -> str:
    """The tool webhook's answer to a tool_call event, or an error text the
    model can speak about. Blocks up to WEBHOOK_TIMEOUT."""
    name = ev["name"]
    if not webhook:
        return json.dumps({"error": "no tools are configured on this relay"})
    body = {k: ev[k] for k in ("call_id", "name", "arguments")} | {"call_sid": call_sid, "custom_parameters": custom_parameters}
    try:
        return post_json(webhook, body)
    except TimeoutError:
        return json.dumps({"error": f"tool {name} timed out"})
    except urllib.error.HTTPError as e:
        return json.dumps({"error": f"tool {name} failed with HTTP {e.code}"})
    except Exception:  # noqa: BLE001 - any failure is an answer the model can use
        return json.dumps({"error": f"tool {name} is unreachable"})


def serve_parser(prog: str, description: str, server: str) -> argparse.ArgumentParser:
    """The Twilio <-> OpenAI relays' common command line (the Rust relay's
    and the Nest gateway's too)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the relay")
    s.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT")
    s.add_argument("--public-url", default=os.environ.get("PUBLIC_URL", "http://127.0.0.1:8080"))
    s.add_argument("--model-url", "--openai-url", dest="model_url",
                   default=os.environ.get("OPENAI_REALTIME_URL", DEFAULT_OPENAI_URL),
                   help="the model's WebSocket URL (--openai-url: its old name)")
    s.add_argument("--telephony", choices=TELEPHONIES, default="twilio",
                   help="the phone side: its answer webhook (/twiml, /texml, /answer), signature and media messages; "
                        "its signing secret from TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, PLIVO_AUTH_TOKEN, "
                        "VONAGE_SIGNATURE_SECRET or SIGNALWIRE_SIGNING_KEY (teledsp says which: Gate.secret_env)")
    s.add_argument("--model", choices=["openai", "azure", "gemini", "elevenlabs"], default="openai",
                   help="the model API; its key comes from OPENAI_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY "
                        "or ELEVENLABS_API_KEY (teledsp says which: Call.model_key_env)")
    s.add_argument("--openai-api", choices=["ga", "beta"], default="ga")
    s.add_argument("--audio", choices=list(AUDIO), default="pcm",
                   help="the model side's audio: pcm (24 kHz PCM16, converted here), pcmu (passed through from a "
                        "mu-law phone), pcma, pcm16k (ElevenLabs)")
    s.add_argument("--instructions")
    s.add_argument("--voice", default="marin")
    s.add_argument("--tools-webhook", help="POST tool calls here: {call_id, name, arguments, call_sid, custom_parameters}")
    s.add_argument("--tools-file", help="a JSON file with the session's tools array")
    s.add_argument("--local-vad", action="store_true", help="barge in on teledsp's VAD onset too")
    s.add_argument("--echo-cancel", action="store_true",
                   help="run teledsp's echo canceller on the caller's audio (the local VAD hears the cancelled audio)")
    s.add_argument("--echo-cancel-to-model", action="store_true",
                   help="with --echo-cancel, send the model the cancelled audio too")
    s.add_argument("--resume-false-interruptions", action="store_true",
                   help="with --local-vad: pause on the caller's sound over the agent, then commit the barge-in (speech "
                        "lasting --commit-after-ms, or a new turn) or resume from what was heard (a backchannel, a cough); "
                        "use with --echo-cancel: the level guard alone hears a caller's next words late under the "
                        "resumed echo")
    s.add_argument("--commit-after-ms", type=int, default=700,
                   help="with --resume-false-interruptions: speech this long is an interruption")
    s.add_argument("--call-tokens", action="store_true",
                   help="issue a per-call token in /twiml and require it in start (Twilio, SignalWire; needs the "
                        "signing secret): a replayed /media signature then opens no call this relay did not answer")
    s.add_argument("--call-token-ttl", type=int, default=60, help="seconds a call token stays valid after /twiml")
    s.add_argument("--insecure-no-signature", action="store_true", help="accept unsigned requests (development only)")
    seconds = lambda v: float(v) if float(v) > 0 else p.error(f"not a positive number of seconds: {v}")  # noqa: E731
    s.add_argument("--drain-timeout", type=seconds, default=30.0, help="seconds live calls get after SIGTERM")
    s.add_argument("--pre-stop", type=lambda v: float(v) if float(v) >= 0 else p.error(f"not 0 or more seconds: {v}"),
                   default=5.0, help="seconds after SIGTERM during which calls are still taken while /healthz says 503")
    s.add_argument("--header-read-timeout", type=seconds, default=10.0,
                   help=f"seconds to read a request's headers ({server})")
    s.add_argument("--start-timeout", type=seconds, default=5.0, help="seconds from the upgrade to Twilio's start")
    s.add_argument("--media-timeout", type=seconds, default=10.0, help="seconds without inbound media before a call ends")
    s.add_argument("--session-timeout", type=seconds, default=10.0, help="seconds from start to the model's session.updated")
    s.add_argument("--write-timeout", type=seconds, default=5.0, help="seconds one write to a peer may take")
    return p


# --audio's names (the Rust relay's) -> teledsp.Call's.
AUDIO = {"pcm": "pcm24k", "pcmu": "pcmu", "pcma": "pcma", "pcm16k": "pcm16k"}


def call_config(a: argparse.Namespace) -> dict:
    """teledsp.Call's settings from the command line; checked here, so a bad
    setting fails at start, not on the first call."""
    import teledsp

    if a.echo_cancel_to_model and not a.echo_cancel:
        raise SystemExit("--echo-cancel-to-model needs --echo-cancel")
    call = {"telephony": a.telephony, "model": a.model, "api": a.openai_api, "audio": AUDIO[a.audio], "voice": a.voice, "local_vad": a.local_vad,
            "echo_cancel": a.echo_cancel, "echo_cancel_to_model": a.echo_cancel_to_model,
            "resume_false_interruptions": a.resume_false_interruptions, "commit_after_ms": a.commit_after_ms}
    if a.instructions:
        call["instructions"] = a.instructions
    if a.tools_file:
        with open(a.tools_file) as f:
            call["tools"] = json.load(f)
    try:
        teledsp.Call(**call)
    except teledsp.ConfigError as e:
        raise SystemExit(str(e)) from None
    return call


def gate(a: argparse.Namespace):
    """teledsp.Gate from the command line and the provider's secret (its
    variable is teledsp's to name). Exits with teledsp's message when the
    secret is missing or malformed (and not --insecure-no-signature)."""
    import teledsp

    env = teledsp.Gate.secret_env(a.telephony)
    insecure = a.insecure_no_signature or os.environ.get("RELAY_INSECURE_NO_SIGNATURE") == "1"
    try:
        return teledsp.Gate(a.telephony, a.public_url, os.environ.get(env) if env else None, a.call_tokens,
                            a.call_token_ttl, insecure)
    except teledsp.ConfigError as e:
        raise SystemExit(str(e)) from None


# Libraries whose DEBUG lines carry the model's upgrade headers (the API
# key) or whole messages (caller audio): capped at INFO whatever
# RELAY_LOG_LEVEL says, as the Rust relay caps its crates (NEVER_VERBOSE).
NEVER_VERBOSE = ("websockets", "uvicorn", "fastapi", "starlette", "httpx", "httpcore", "urllib3", "werkzeug",
                 "simple_websocket", "flask_sock", "wsproto", "h11", "asyncio")


def model_key(call: dict) -> str:
    """The model's API key, from the variable teledsp names for the model
    (OPENAI_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY, ELEVENLABS_API_KEY)."""
    import teledsp

    return os.environ.get(teledsp.Call(**call).model_key_env, "")


def setup_logging() -> None:
    """Log lines as `LEVEL name: message`, at RELAY_LOG_LEVEL (default
    INFO), with the NEVER_VERBOSE libraries at INFO or quieter."""
    logging.basicConfig(level=os.environ.get("RELAY_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    for name in NEVER_VERBOSE:
        lib = logging.getLogger(name)
        if lib.getEffectiveLevel() < logging.INFO:
            lib.setLevel(logging.INFO)


def openai_headers(api_key: str, api: str) -> dict:
    """OpenAI's upgrade headers, for the audioop baseline (which uses no
    teledsp); the teledsp relays take `Call.model_headers`."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if api == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    return headers


# ---- the server's life and metrics (every Python relay) -------------------


class Lifecycle:
    """The relay's life on SIGTERM, as the Rust relay's (its `Drain`):
    /healthz red at once; calls still taken for --pre-stop (the load
    balancer's time to see it: HAProxy and nginx retry no 503); then new
    calls refused; live calls run until --drain-timeout from the signal,
    the ones left get a close frame (1001), and the process exits within
    CLOSE_GRACE more. A second signal exits at once (status 1). From the
    signal on every HTTP answer says Connection: close; /livez and /metrics
    answer to the end. One per process (`LIFE`), for the asyncio relays
    (`run_socket`) and the threaded one (`run_socket_blocking`) alike: the
    drain runs on a thread of its own and cuts a socket through the
    callback that socket registered."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics

        disable_created_metrics()
        self.draining = False  # /healthz red
        self.stopping = False  # new calls refused
        self.lock = threading.Lock()
        self.sockets = 0  # media sockets open: what the drain waits for
        self.cuts = set()  # one callback per live socket, called at the deadline: it closes with 1001
        self.registry = CollectorRegistry()
        # The Rust relay's names (teledsp-relay's /metrics).
        self.active_calls = Gauge("teledsp_relay_active_calls", "Calls in progress (started, not ended).",
                                  registry=self.registry)
        self.calls = Counter("teledsp_relay_calls", "Calls started since the relay started.", registry=self.registry)
        self._started = contextvars.ContextVar("teledsp_call_started")

    def call_started(self) -> None:
        """The call on this socket sent `start`: it counts as a call."""
        box = self._started.get(None)
        if box is not None and not box[0]:
            box[0] = True
            self.active_calls.inc()
            self.calls.inc()

    def metrics_text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    @contextlib.contextmanager
    def _socket(self, cut):
        """Counts one media socket for the drain, with `cut` (called on the
        drain's thread at the deadline) registered meanwhile."""
        box = [False]
        self._started.set(box)
        with self.lock:
            self.sockets += 1
            self.cuts.add(cut)
        try:
            yield
        finally:
            with self.lock:
                self.cuts.discard(cut)
                self.sockets -= 1
            if box[0]:
                self.active_calls.dec()

    async def run_socket(self, run, ws) -> None:
        """`run()` (a coroutine) for one media socket `ws` of an ASGI relay;
        at the drain's deadline it is cancelled and `ws` closed with 1001."""
        loop = asyncio.get_running_loop()
        # A future of this socket's loop (tests run apps in several loops).
        cut = loop.create_future()
        # The task is made inside: it copies the context that call_started reads.
        with self._socket(lambda: loop.call_soon_threadsafe(lambda: cut.done() or cut.set_result(None))):
            task = asyncio.ensure_future(run())
            try:
                await asyncio.wait({task, cut}, return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    with contextlib.suppress(Exception):
                        await ws.close(1001, "relay shutting down")
                elif task.exception() is not None:
                    raise task.exception()
            finally:
                cut.cancel()

    def run_socket_blocking(self, run, cut) -> None:
        """`run()` for one media socket of a threaded relay, on this thread;
        `cut()` is its way to end early (the caller closes with 1001)."""
        with self._socket(cut):
            run()

    def drain(self, drain_timeout: float, pre_stop: float, stop) -> None:
        """From the signal, on a thread of its own: the pre-stop window, the
        drain, the cut; then `stop()` (the server's exit)."""
        log = logging.getLogger("relay")
        self.draining = True
        deadline = time.monotonic() + drain_timeout
        log.info("draining: /healthz red, still taking calls for %ss (%d sockets)", pre_stop, self.sockets)
        time.sleep(min(pre_stop, drain_timeout))
        self.stopping = True
        log.info("pre-stop over: new calls refused (%d sockets)", self.sockets)
        while self.sockets and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.sockets:
            log.info("drain timeout: closing the %d calls left (1001)", self.sockets)
            with self.lock:
                cuts = list(self.cuts)
            for cut in cuts:
                cut()
            grace = time.monotonic() + CLOSE_GRACE
            while self.sockets and time.monotonic() < grace:
                time.sleep(0.02)
        log.info("stopping (%d left)", self.sockets)
        stop()

    def on_signal(self, drain_timeout: float, pre_stop: float, stop) -> None:
        """The SIGTERM/SIGINT handler's work: the first starts the drain on
        its own thread, a second exits at once (status 1)."""
        import sys

        if self.draining:
            print("second signal: exiting now", file=sys.stderr, flush=True)
            os._exit(1)
        self.draining = True
        threading.Thread(target=self.drain, args=(drain_timeout, pre_stop, stop), name="drain", daemon=True).start()


LIFE = Lifecycle()


# ---- the ASGI relays (fastapi_relay.py, pipeline_relay.py) ----------------


class PhoneOut:
    """The phone socket's writer (an ASGI WebSocket): audio and marks queue up to PHONE_QUEUE
    and are dropped beyond; a clear drops what is queued (Twilio would) and
    always goes out."""

    def __init__(self, ws, write_timeout: float):
        self.ws, self.queue, self.wake, self.dropped, self.done = ws, collections.deque(), asyncio.Event(), 0, False
        self.write_timeout, self.failed = write_timeout, asyncio.Event()

    def put(self, target: str, msg: str | bytes) -> None:
        if target == "clear":
            self.queue.clear()
        elif len(self.queue) >= PHONE_QUEUE:
            self.dropped += 1
            return
        self.queue.append(msg)
        self.wake.set()

    async def run(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.queue:
                    msg = self.queue.popleft()
                    # Text for every telephony; binary audio for Vonage.
                    send = self.ws.send_bytes if isinstance(msg, bytes) else self.ws.send_text
                    await asyncio.wait_for(send(msg), self.write_timeout)
                if self.done:
                    return
        except Exception:  # noqa: BLE001 - a write past its bound, or the peer is gone: the call ends
            self.failed.set()


def relay_app(title: str, settings, run, media_paths: tuple[str, ...]):
    """A FastAPI app with the relays' endpoints: GET /healthz, /livez,
    /metrics; the answer webhooks (POST /twiml, /texml, GET and POST
    /answer), answered by `settings.gate` (a teledsp.Gate: another
    provider's path gets 404); and the media stream at `media_paths`,
    its upgrade checked by the gate (1008 and why if refused), each call
    handed to `run(settings, websocket, bearer)`."""

    # Imported here: the Flask relay shares this module without FastAPI.
    from fastapi import FastAPI, Request, Response, WebSocket

    app = FastAPI(title=title)

    @app.get("/healthz")
    async def healthz() -> Response:
        if LIFE.draining:
            return Response("draining\n", status_code=503, media_type="text/plain")
        return Response("ok\n", media_type="text/plain")

    @app.get("/livez")
    async def livez() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(LIFE.metrics_text(), media_type="text/plain; version=0.0.4")

    @app.middleware("http")
    async def close_when_draining(request: Request, call_next):
        response = await call_next(request)
        if LIFE.draining:
            response.headers["connection"] = "close"
        return response

    async def answer(request: Request) -> Response:
        if LIFE.stopping:
            return Response("stopping\n", status_code=503)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        r = settings.gate.answer(request.method, path, request.headers, await request.body())
        if r.refused:
            logging.getLogger("relay").warning("answer webhook refused: %s", r.refused)
        return Response(r.body, status_code=r.status, media_type=r.content_type)

    for path in ANSWER_PATHS:
        app.add_api_route(path, answer, methods=["GET", "POST"] if path == "/answer" else ["POST"])

    async def media(ws: WebSocket) -> None:
        if LIFE.stopping:  # refused before the upgrade (an HTTP 403)
            await ws.close(1013, "relay stopping")
            return
        path = ws.url.path + (f"?{ws.url.query}" if ws.url.query else "")
        up = settings.gate.upgrade(path, ws.headers)
        await ws.accept()
        if up.refused:
            await ws.close(1008, up.refused)
            return
        await LIFE.run_socket(lambda: run(settings, ws, up.bearer), ws)

    for path in media_paths:
        app.add_api_websocket_route(path, media)
    return app


async def serve(app, host: str, port: int, drain_timeout: float = 30.0, pre_stop: float = 5.0) -> None:
    """uvicorn until SIGTERM or SIGINT, then `Lifecycle.drain` and an exit
    with status 0; a second signal exits at once (status 1). uvicorn's own
    shutdown would close every WebSocket with 1012 at once: it runs only
    when the drain is over."""
    import signal

    import uvicorn

    # ws_max_size is the server's, i.e. Twilio's side: 16 KiB (1009 beyond).
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws_max_size=MAX_MEDIA_MESSAGE,
                            timeout_graceful_shutdown=CLOSE_GRACE)
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal after shutting down; a service exits 0 instead.
    server.capture_signals = contextlib.nullcontext
    loop = asyncio.get_running_loop()
    # should_exit is polled by uvicorn's loop: set from the drain's thread.
    stop = lambda: setattr(server, "should_exit", True)  # noqa: E731
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, LIFE.on_signal, drain_timeout, pre_stop, stop)
    await server.serve()
