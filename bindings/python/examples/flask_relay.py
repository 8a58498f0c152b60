"""A phone <-> voice-model relay in Flask (seed 003's stack: synchronous,
threads, no asyncio), on teledsp's call engine; Twilio Media Streams <->
OpenAI Realtime by default. The same relay as fastapi_relay.py,
`teledsp-relay serve` and the Nest gateway, with the same command line and
endpoints:

    python flask_relay.py serve --listen 0.0.0.0:8080 --public-url https://relay.example.com \\
        [--telephony twilio|telnyx|plivo|vonage|exotel|signalwire] [--model openai|azure|gemini|elevenlabs] \\
        [--model-url URL] [--call-tokens] [--tools-webhook URL]

The model's key (OPENAI_API_KEY, or by --model AZURE_OPENAI_API_KEY,
GEMINI_API_KEY, ELEVENLABS_API_KEY) and the provider's signing secret
(TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, PLIVO_AUTH_TOKEN,
VONAGE_SIGNATURE_SECRET, SIGNALWIRE_SIGNING_KEY) come from the
environment; without the secret it refuses to start unless
--insecure-no-signature. The provider's answer webhook (POST /twiml, POST
/texml, GET or POST /answer; teledsp.Gate answers and checks), GET /media
(flask-sock; also /voice/stream, the seed's path), GET /healthz, /livez,
/metrics.

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
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, Response, request
from flask_sock import ConnectionClosed, Sock
from websockets.sync.client import connect
from werkzeug.serving import WSGIRequestHandler, make_server

import teledsp
from relay_common import (setup_logging, model_key, gate, ANSWER_PATHS, LIFE, MAX_MEDIA_MESSAGE, MAX_MESSAGE, PHONE_QUEUE,
                          WARNINGS_PER_CALL, call_config, serve_parser, tool_output)

log = logging.getLogger("flask_relay")


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

    def put(self, target: str, msg: str | bytes) -> None:
        """Text for every telephony; binary audio for Vonage (sent as a binary frame)."""
        with self.cv:
            if target == "clear":
                self.queue.clear()
            elif len(self.queue) >= PHONE_QUEUE:
                self.dropped += 1
                return
            self.queue.append(msg)
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
                    msg = self.queue.popleft()
                self.ws.send(msg)
        except Exception:  # noqa: BLE001 - a write past its bound, or the peer is gone: the call ends
            self.failed.set()


class Relay:
    """One call: the engine, its lock, and the threads around it."""

    def __init__(self, settings: Settings, ws, bearer: str | None = None):
        self.settings, self.ws, self.bearer = settings, ws, bearer
        self.call = teledsp.Call(**settings.call)
        self.lock = threading.RLock()  # warn() reads the engine while a method holds it
        self.out = PhoneOut(ws)
        self.stopped = threading.Event()
        self.upstream = None
        self.warned = collections.Counter()
        self.was_cut = False  # by the drain's deadline: the phone gets 1001
        self.refused = False  # by the gate at start (a call token): the phone gets 1008

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

    def phone_message(self, timeout: float) -> None:
        """The phone's next message (text, or Vonage's binary audio) into
        the engine; nothing if none came within `timeout`."""
        msg = self.ws.receive(timeout=timeout)
        if isinstance(msg, bytes):  # refused (and counted) by the engine for the others
            self.engine("receive_phone_binary", msg)
        elif msg is not None:
            self.engine("receive_phone", msg)

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
                self.phone_message(left)
            with self.lock:
                why = s.gate.admit(self.call, self.bearer)
            if why:  # a call token missing, expired or another call's
                self.refused = True
                raise PermissionError(why)
            LIFE.call_started()
            session_deadline = time.monotonic() + s.session_timeout
            self.upstream = connect(s.model_url, additional_headers=dict(self.call.model_headers(s.model_api_key)),
                                    max_size=MAX_MESSAGE, open_timeout=s.session_timeout)
            send_timeout(self.upstream.socket, s.write_timeout)
        except Exception as e:  # noqa: BLE001 - no start, refused, or no upstream: end this call only
            if self.refused:
                log.warning("call %s refused: %s", self.state("call_sid"), e)
            else:
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
                    self.phone_message(0.1)
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

    def path() -> str:
        q = request.query_string.decode()
        return request.path + (f"?{q}" if q else "")

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
        if LIFE.stopping and request.path in (*ANSWER_PATHS, "/media", "/voice/stream"):
            return Response("stopping\n", status=503)
        return None

    @app.after_request
    def close_when_draining(response):
        if LIFE.draining and response.status_code != 101:
            response.headers["Connection"] = "close"
        return response

    def answer():
        r = settings.gate.answer(request.method, path(), request.headers, request.get_data())
        if r.refused:
            log.warning("answer webhook refused: %s", r.refused)
        return Response(r.body, status=r.status, content_type=r.content_type)

    for p in ANSWER_PATHS:
        app.add_url_rule(p, endpoint=p, view_func=answer, methods=["GET", "POST"] if p == "/answer" else ["POST"])

    def media(ws):
        up = settings.gate.upgrade(path(), request.headers)
        if up.refused:
            ws.close(reason=1008, message=up.refused)
            return
        relay = Relay(settings, ws, up.bearer)

        def call():
            relay.run()
            # Inside the socket's count: the drain waits for this close frame
            # before the process exits (after it, the phone would see none).
            if relay.was_cut:
                ws.close(reason=1001, message="relay shutting down")
            elif relay.refused:
                ws.close(reason=1008, message="invalid call token")
            else:
                ws.close(reason=1000)  # Twilio then runs the TwiML after <Connect>

        LIFE.run_socket_blocking(call, relay.cut)

    sock.route("/media")(media)
    sock.route("/voice/stream", endpoint="seed_stream")(media)  # the seed's path
    return app


def main(argv=None) -> int:
    p = serve_parser("flask_relay.py", __doc__.split("\n\n")[0], "the socket's timeout, Werkzeug's server")
    a = p.parse_args(argv)
    setup_logging()
    call = call_config(a)
    settings = Settings(gate(a), a.model_url, model_key(call), a.tools_webhook, call,
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
