"""A Twilio Media Streams <-> OpenAI Realtime relay in Flask (seed 003's
stack: synchronous, threads, no asyncio), on teledsp's call engine. The
same relay as fastapi_relay.py, `teledsp-relay serve` and the Nest gateway,
with the same command line and endpoints:

    python flask_relay.py serve --listen 0.0.0.0:8080 --public-url https://relay.example.com \\
        --model-url wss://api.openai.com/v1/realtime?model=gpt-realtime [--tools-webhook URL]

The model's key (OPENAI_API_KEY, or by --model AZURE_OPENAI_API_KEY,
GEMINI_API_KEY, ELEVENLABS_API_KEY) and TWILIO_AUTH_TOKEN come from the
environment; without the
token it refuses to start unless --insecure-no-signature. POST /twiml, GET
/media (flask-sock; also /voice/stream, the seed's path), GET /healthz.

Threads per call: Flask's (reads Twilio), one reading OpenAI (websockets'
sync client), one writing to Twilio, one per tool call. One lock guards the
call's teledsp.Call and the hand-off of its outputs, so outputs leave in the
engine's order whichever thread produced them. A message costs the engine
microseconds with the GIL held (too short to be worth releasing it), so
calls on other threads wait for each other only that long.

This file is I/O only: every protocol decision is teledsp.Call's. Bounds,
as in the other relays: Twilio's queue 512 messages (~10 s of audio;
beyond, audio is dropped and counted, a clear never is); `start` within
--start-timeout; the model connected and its session.updated within
--session-timeout, else the stream closes so the TwiML fallback plays;
inbound media at least every --media-timeout; each socket write within
--write-timeout (SO_SNDTIMEO); request headers within
--header-read-timeout (the socket's timeout, which then also bounds a
silent Twilio); /media messages 16 KiB (1009 beyond), the model's 1 MiB;
tool webhook 8 s. On SIGTERM it drains as the other relays
(relay_common.Lifecycle): /healthz red at once, calls still taken for
--pre-stop, then refused with 503; live calls run until --drain-timeout
from the signal, then get 1001 (each call's thread sees the cut within
0.1 s and closes its socket itself: no daemon thread dies mid-call); /livez
and /metrics (the Rust relay's names) answer through the drain.
Werkzeug's threaded server is used here; in production run the same app
under gunicorn with threads (``create_app(settings)``).
"""

import collections
import contextlib
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from flask import Flask, Response, request
from flask_sock import ConnectionClosed, Sock
from websockets.sync.client import connect
from werkzeug.serving import WSGIRequestHandler, make_server

import teledsp
from relay_common import (setup_logging, model_key, LIFE, MAX_MEDIA_MESSAGE, MAX_MESSAGE, NO_TOKEN, PHONE_QUEUE, WARNINGS_PER_CALL, call_config,
                          serve_parser, tool_output, twiml)

log = logging.getLogger("flask_relay")


@dataclass
class Settings:
    public_url: str
    model_url: str
    model_api_key: str
    validator: teledsp.RequestValidator | None
    tools_webhook: str | None = None
    call: dict = field(default_factory=dict)  # teledsp.Call's settings
    start_timeout: float = 5.0
    media_timeout: float = 10.0
    session_timeout: float = 10.0
    write_timeout: float = 5.0


def send_timeout(sock: socket.socket, seconds: float) -> None:
    """Bounds each blocking send on `sock` (reads are left alone)."""
    sec = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", sec, int((seconds - sec) * 1e6)))


class PhoneOut:
    """The Twilio socket's writer thread: audio and marks queue up to
    PHONE_QUEUE and are dropped beyond; a clear drops what is queued
    (Twilio would) and always goes out."""

    def __init__(self, ws):
        self.ws, self.queue, self.cv = ws, collections.deque(), threading.Condition()
        self.dropped, self.done, self.failed = 0, False, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def put(self, target: str, text: str) -> None:
        with self.cv:
            if target == "clear":
                self.queue.clear()
            elif len(self.queue) >= PHONE_QUEUE:
                self.dropped += 1
                return
            self.queue.append(text)
            self.cv.notify()

    def close(self) -> None:
        with self.cv:
            self.done = True
            self.cv.notify()
        self.thread.join(10)

    def run(self) -> None:
        try:
            while True:
                with self.cv:
                    while not self.queue and not self.done:
                        self.cv.wait()
                    if not self.queue:
                        return
                    text = self.queue.popleft()
                self.ws.send(text)
        except Exception:  # noqa: BLE001 - a write past its bound, or the peer is gone: the call ends
            self.failed.set()


class Relay:
    """One call: the engine, its lock, and the threads around it."""

    def __init__(self, settings: Settings, ws):
        self.settings, self.ws = settings, ws
        self.call = teledsp.Call(**settings.call)
        self.lock = threading.RLock()  # warn() reads the engine while a method holds it
        self.out = PhoneOut(ws)
        self.stopped = threading.Event()
        self.upstream = None
        self.warned = collections.Counter()
        self.was_cut = False  # by the drain's deadline: the phone gets 1001

    def cut(self) -> None:
        """The drain's deadline (called on the drain's thread): run() ends
        within 0.1 s and the caller closes the socket with 1001."""
        self.was_cut = True
        self.stopped.set()

    def warn(self, kind: str, text: str, *args) -> None:
        """At most WARNINGS_PER_CALL lines per kind and call."""
        self.warned[kind] += 1
        if self.warned[kind] <= WARNINGS_PER_CALL:
            log.warning("call %s: " + text, self.state("call_sid"), *args)

    def engine(self, method: str, *args) -> None:
        """Runs one engine method and hands its outputs on, under the lock."""
        with self.lock:
            try:
                outputs = getattr(self.call, method)(*args)
            except teledsp.TeledspError as e:  # counted by the engine; the call goes on
                self.warn("malformed", "skipped a message (%s): %s", method, e)
                return
            for target, payload in outputs:
                if target == "model":
                    # In order, under the lock: a slow model slows everything
                    # else (bounded by the send timeout), as in the other relays.
                    try:
                        self.upstream.send(payload)
                    except Exception as e:  # noqa: BLE001 - past its bound, or closed: the call ends
                        self.warn("upstream", "OpenAI upstream: a write failed: %r", e)
                        self.stopped.set()
                        return
                elif target == "event":
                    self.on_event(payload)
                else:
                    self.out.put(target, payload)

    def on_event(self, ev: dict) -> None:
        if ev["type"] == "tool_call":
            threading.Thread(target=self.answer_tool, args=(ev,), daemon=True).start()
        elif ev["type"] == "stopped":
            self.stopped.set()
        elif ev["type"] == "model_error":
            self.warn("model_error", "OpenAI error %s: %s", ev["code"], ev["message"])

    def answer_tool(self, ev: dict) -> None:
        sid, params = self.state("call_sid"), self.state("custom_parameters")
        output = tool_output(self.settings.tools_webhook, ev, sid, params)
        if not self.stopped.is_set():
            with contextlib.suppress(Exception):
                self.engine("tool_result", ev["call_id"], output)

    def state(self, name: str):
        """An attribute of the engine, read under the lock (a pyclass is
        borrowed while another thread's method runs with the GIL released)."""
        with self.lock:
            return getattr(self.call, name)

    def phone_text(self, timeout: float) -> str | None:
        """The next Twilio message, or None (nothing within `timeout`, or a
        binary frame, which is not Twilio's and is skipped)."""
        msg = self.ws.receive(timeout=timeout)
        if isinstance(msg, bytes):
            self.warn("malformed", "skipped a binary frame: Twilio sends text")
            return None
        return msg

    def from_openai(self) -> None:
        try:
            for text in self.upstream:
                self.engine("receive_model", text)
        except Exception as e:  # noqa: BLE001 - a dropped upstream ends the call
            self.warn("upstream", "OpenAI upstream closed: %s", e)
        self.stopped.set()

    def run(self) -> None:
        s = self.settings
        try:
            deadline = time.monotonic() + s.start_timeout
            while self.state("stream_sid") is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no start within {s.start_timeout}s")
                if self.stopped.is_set():
                    raise ConnectionAbortedError("cut by the drain before start")
                text = self.phone_text(left)
                if text is not None:
                    self.engine("receive_phone", text)
            LIFE.call_started()
            session_deadline = time.monotonic() + s.session_timeout
            self.upstream = connect(s.model_url, additional_headers=dict(self.call.model_headers(s.model_api_key)),
                                    max_size=MAX_MESSAGE, open_timeout=s.session_timeout)
            send_timeout(self.upstream.socket, s.write_timeout)
        except Exception as e:  # noqa: BLE001 - no start, or no upstream: end this call only
            log.warning("call %s: not started (%r); closing so the TwiML fallback plays", self.state("call_sid"), e)
            self.out.close()
            return
        with self.upstream:  # closed at the end of the block (websockets 17 wants the with)
            reader = threading.Thread(target=self.from_openai, daemon=True)
            self.engine("open_model")
            reader.start()
            last_media, frames = time.monotonic(), self.state("counters")["frames_in"]
            try:
                while not self.stopped.is_set():
                    text = self.phone_text(0.1)
                    if text is not None:
                        self.engine("receive_phone", text)
                    now = time.monotonic()
                    if not self.state("model_ready") and now > session_deadline:
                        self.warn("timeout", "no session.updated within %ss; closing so the TwiML fallback plays", s.session_timeout)
                        break
                    n = self.state("counters")["frames_in"]
                    if n != frames:
                        frames, last_media = n, now
                    elif now - last_media > s.media_timeout:
                        self.warn("timeout", "no media for %ss; ending the call", s.media_timeout)
                        break
                    if self.out.failed.is_set():
                        break
            except ConnectionClosed:
                pass
            self.stopped.set()
        reader.join(5)
        self.out.close()
        not_logged = sum(max(0, n - WARNINGS_PER_CALL) for n in self.warned.values())
        log.info("call %s ended: %s, %d frames dropped, %d warnings not logged",
                 self.state("call_sid"), self.state("counters"), self.out.dropped, not_logged)


def create_app(settings: Settings) -> Flask:
    app = Flask("flask_relay")
    # Twilio's side: 16 KiB per message (simple-websocket closes with 1009 beyond).
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_MEDIA_MESSAGE}
    sock = Sock(app)
    base = settings.public_url.rstrip("/")
    ws_base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)

    def signed(url: str, params: list, signature: str | None) -> bool:
        return settings.validator is None or settings.validator.validate(url, params, signature or "")

    def full(url_base: str) -> str:
        q = request.query_string.decode()
        return url_base + request.path + (f"?{q}" if q else "")

    @app.get("/healthz")
    def healthz():
        if LIFE.draining:
            return Response("draining\n", status=503, mimetype="text/plain")
        return Response("ok\n", mimetype="text/plain")

    @app.get("/livez")
    def livez():
        return Response("ok\n", mimetype="text/plain")

    @app.get("/metrics")
    def metrics():
        return Response(LIFE.metrics_text(), mimetype="text/plain; version=0.0.4")

    @app.before_request
    def refuse_when_stopping():
        # Before the upgrade: a stopping relay answers /media with 503 too.
        if LIFE.stopping and request.path in ("/twiml", "/media", "/voice/stream"):
            return Response("stopping\n", status=503)
        return None

    @app.after_request
    def close_when_draining(response):
        if LIFE.draining and response.status_code != 101:
            response.headers["Connection"] = "close"
        return response

    @app.post("/twiml")
    def twiml_route():
        params = urllib.parse.parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
        if not signed(full(base), params, request.headers.get("x-twilio-signature")):
            return Response("invalid X-Twilio-Signature\n", status=403)
        return Response(twiml(params, ws_base), mimetype="text/xml")

    def media(ws):
        if not signed(full(ws_base), [], request.headers.get("x-twilio-signature")):
            ws.close(reason=1008, message="invalid X-Twilio-Signature")
            return
        relay = Relay(settings, ws)
        LIFE.run_socket_blocking(relay.run, relay.cut)
        if relay.was_cut:
            ws.close(reason=1001, message="relay shutting down")
        else:
            ws.close(reason=1000)  # Twilio then runs the TwiML after <Connect>

    sock.route("/media")(media)
    sock.route("/voice/stream", endpoint="seed_stream")(media)  # the seed's path
    return app


def main(argv=None) -> int:
    p = serve_parser("flask_relay.py", __doc__.split("\n\n")[0], "the socket's timeout, Werkzeug's server")
    a = p.parse_args(argv)
    setup_logging()
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    if not token and not a.insecure_no_signature:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    call = call_config(a)
    settings = Settings(a.public_url, a.model_url, model_key(call),
                        teledsp.RequestValidator(token) if token else None, a.tools_webhook, call,
                        start_timeout=a.start_timeout, media_timeout=a.media_timeout,
                        session_timeout=a.session_timeout, write_timeout=a.write_timeout)
    app = create_app(settings)

    class Handler(WSGIRequestHandler):
        timeout = a.header_read_timeout  # applied to each connection's socket

    host, _, port = a.listen.rpartition(":")
    server = make_server(host or "127.0.0.1", int(port), app, threaded=True, request_handler=Handler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # The drain's thread calls server.shutdown() (it waits for serve_forever
    # to return, so not from this thread) when every call has closed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: LIFE.on_signal(a.drain_timeout, a.pre_stop, server.shutdown))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
