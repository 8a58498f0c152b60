//! `teledsp-relay serve`: the HTTP + WebSocket server Twilio talks to, and
//! one upstream OpenAI Realtime socket per call.
//!
//! Per-call memory is bounded: messages to Twilio go through a queue of
//! [`TWILIO_QUEUE`] messages (about 10 s of audio); when a Twilio reader
//! falls that far behind, further outbound audio is dropped and counted
//! (`frames_dropped`), never buffered without limit. Beyond the queue, a
//! stalled reader holds at most tungstenite's write buffer (128 KiB) and the
//! kernel's socket buffers (up to `net.ipv4.tcp_wmem`'s maximum, 4 MB by
//! default). Every message is either delivered or counted as dropped. Messages to OpenAI are
//! sent in order from the call's task, so a slow upstream slows that call's
//! reading of Twilio (TCP backpressure), not other calls. Inbound WebSocket
//! messages are capped at [`MAX_MESSAGE`] bytes.
//!
//! The server is stateless across calls: any instance can take any call, so
//! it scales out behind any WebSocket-capable load balancer. Autoscale on
//! `teledsp_relay_active_calls` (per instance).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use teledsp::call::{Call, CallConfig, Event, Output, PhoneKind};
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tracing::{info, warn};

use crate::metrics::Metrics;
use teledsp::signature::RequestValidator;

/// Largest WebSocket message taken from either side (an OpenAI delta of a
/// few seconds fits; a Twilio frame is ~300 bytes).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Messages queued for one call's Twilio socket before outbound audio is dropped.
pub const TWILIO_QUEUE: usize = 512;
/// WebSocket read buffer. tungstenite zero-fills the free part of its read
/// buffer before every read; at its 128 KiB default that memset was a third
/// of the relay's CPU. Messages larger than this still arrive whole.
pub const READ_BUFFER: usize = 8 * 1024;
/// Read buffer for Twilio's socket: its messages (media ~350 bytes, marks,
/// `start`) fit in one read, and the zero-fill before each read is smaller.
pub const TWILIO_READ_BUFFER: usize = 1024;
/// Time allowed for the upstream connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for the tools webhook.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(8);

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The https base URL Twilio reaches (for the Stream URL and signatures).
    pub public_url: String,
    /// The OpenAI Realtime WebSocket URL.
    pub openai_url: String,
    /// Bearer token for OpenAI (never logged).
    pub openai_api_key: String,
    /// Per-call settings.
    pub call: CallConfig,
    /// Where tool calls are POSTed.
    pub tools_webhook: Option<String>,
    /// Checks `X-Twilio-Signature`; `None` only with `--insecure-no-signature`.
    pub validator: Option<RequestValidator>,
}

/// Shared by every request.
pub struct App {
    /// Settings.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Metrics,
    draining: AtomicBool,
    call_ended: Notify,
    http: reqwest::Client,
}

impl App {
    /// The state for `settings`.
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(App {
            settings,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            call_ended: Notify::new(),
            http: reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().expect("HTTP client"),
        })
    }

    /// Stop accepting calls (503 on `/twiml`, refused upgrades on `/media`).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> i64 {
        self.metrics.active_calls.get()
    }

    /// Waits until no call is in progress, or `timeout` passes; true if drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.active_calls() > 0 {
            if tokio::time::timeout_at(deadline, self.call_ended.notified()).await.is_err() {
                return self.active_calls() == 0;
            }
        }
        true
    }
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/twiml", post(twiml))
        .route("/media", get(media))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

/// Serves `router(app)` on `listener` until `shutdown` resolves, then drains
/// live calls for up to `drain_timeout`.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let drain_app = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        drain_app.start_draining();
        info!(active = drain_app.active_calls(), "draining");
        let drained = drain_app.drain(drain_timeout).await;
        info!(drained, left = drain_app.active_calls(), "stopping");
        let _ = stop_tx.send(());
    });
    // Small real-time messages: no Nagle delay on any connection.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(app).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        })
        .await
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    if app.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

/// The URL Twilio requested, on the public base.
fn public(app: &App, uri: &axum::http::Uri, scheme_ws: bool) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{path}", public_base(app, scheme_ws))
}

/// The public base URL, as `wss://`/`ws://` for WebSocket URLs.
fn public_base(app: &App, scheme_ws: bool) -> String {
    let base = app.settings.public_url.trim_end_matches('/');
    if scheme_ws { base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1) } else { base.to_owned() }
}

fn signed(app: &App, headers: &HeaderMap, url: &str, params: &[(String, String)]) -> bool {
    let Some(v) = &app.settings.validator else { return true };
    let sig = headers.get("x-twilio-signature").and_then(|s| s.to_str().ok()).unwrap_or("");
    let ok = v.validate(url, params, sig);
    if !ok {
        app.metrics.signature_rejections.inc();
    }
    ok
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;")
}

async fn twiml(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if app.draining.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if !signed(&app, &headers, &public(&app, &uri, false), &params) {
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature\n").into_response();
    }
    // Twilio drops query strings from Stream URLs: what the stream needs
    // travels as <Parameter>s and comes back in `start.customParameters`.
    let stream = format!("{}/media", public_base(&app, true));
    let mut xml =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{}">"#, xml_attr(&stream));
    for key in ["CallSid", "From", "To"] {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
            xml.push_str(&format!(r#"<Parameter name="{}" value="{}"/>"#, xml_attr(key), xml_attr(v)));
        }
    }
    // Runs when the stream ends without the call ending (e.g. upstream down).
    xml.push_str("</Stream></Connect><Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>");
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

async fn media(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if app.draining.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let ok = signed(&app, &headers, &public(&app, &uri, true), &[]);
    let ws = ws.max_message_size(MAX_MESSAGE).read_buffer_size(TWILIO_READ_BUFFER);
    if !ok {
        return ws.on_upgrade(|mut socket| async move {
            let frame = CloseFrame { code: 1008, reason: "invalid X-Twilio-Signature".into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
        });
    }
    ws.on_upgrade(move |socket| async move {
        app.metrics.active_calls.inc();
        app.metrics.calls.inc();
        run_call(&app, socket).await;
        app.metrics.active_calls.dec();
        app.call_ended.notify_waiters();
    })
}

type Upstream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_upstream(app: &App) -> Result<Upstream, String> {
    let s = &app.settings;
    let mut req = s.openai_url.as_str().into_client_request().map_err(|e| format!("bad OpenAI URL: {e}"))?;
    let auth = format!("Bearer {}", s.openai_api_key)
        .parse()
        .map_err(|_| "API key is not a valid header value".to_string())?;
    req.headers_mut().insert("Authorization", auth);
    if s.call.api == teledsp::bridge::Api::Beta {
        req.headers_mut().insert("OpenAI-Beta", "realtime=v1".parse().expect("static header"));
    }
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER);
    let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("connect failed: {e}")),
        Err(_) => Err(format!("connect timed out after {CONNECT_TIMEOUT:?}")),
    }
}

/// The Twilio socket's writer. Media and marks go through a bounded queue
/// and are dropped (and counted) when a stalled reader fills it; a `clear`
/// is never dropped: it travels on a watch channel (clears are idempotent,
/// so only the latest matters), and audio queued before it is discarded, as
/// Twilio would discard it (counted in `frames_dropped` too).
struct TwilioOut {
    audio: mpsc::Sender<(u64, String)>,
    clear: watch::Sender<(u64, String)>,
    generation: u64,
}

impl TwilioOut {
    fn spawn(
        mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
        dropped: prometheus_client::metrics::counter::Counter,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (audio, mut queue) = mpsc::channel::<(u64, String)>(TWILIO_QUEUE);
        let (clear, mut clears) = watch::channel((0u64, String::new()));
        let task = tokio::spawn(async move {
            let mut generation = 0;
            let mut batch = Vec::with_capacity(16);
            let mut clears_open = true;
            loop {
                // A clear goes first; everything queued goes out in one flush
                // (a delta's frames and its mark cost one write, not six).
                tokio::select! {
                    biased;
                    changed = clears.changed(), if clears_open => {
                        if changed.is_err() {
                            clears_open = false;
                            continue;
                        }
                        let (g, text) = clears.borrow_and_update().clone();
                        generation = g;
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    n = queue.recv_many(&mut batch, 64) => {
                        if n == 0 {
                            break;
                        }
                        if clears.has_changed().unwrap_or(false) {
                            let (g, text) = clears.borrow_and_update().clone();
                            generation = g;
                            if sink.feed(Message::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                        let mut failed = false;
                        for (g, text) in batch.drain(..) {
                            if g < generation {
                                dropped.inc();
                            } else if sink.feed(Message::Text(text.into())).await.is_err() {
                                failed = true;
                                break;
                            }
                        }
                        if failed || sink.flush().await.is_err() {
                            break;
                        }
                    }
                }
            }
            // A normal close: Twilio then runs the TwiML after <Connect>.
            let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
        });
        (TwilioOut { audio, clear, generation: 0 }, task)
    }

    /// Queues audio or a mark; false if the queue is full (dropped).
    fn send_audio(&self, text: String) -> bool {
        self.audio.try_send((self.generation, text)).is_ok()
    }

    fn send_clear(&mut self, text: String) {
        self.generation += 1;
        let _ = self.clear.send((self.generation, text));
    }
}

async fn run_call(app: &Arc<App>, socket: WebSocket) {
    let (tw_tx, mut tw_rx) = socket.split();
    let mut call = match Call::new(app.settings.call.clone()) {
        Ok(c) => c,
        Err(e) => {
            warn!("call setup failed: {e}");
            return;
        }
    };
    let epoch = Instant::now();
    let now = move || epoch.elapsed().as_millis() as u64;
    let (mut twilio, writer) = TwilioOut::spawn(tw_tx, app.metrics.frames_dropped.clone());

    // Read Twilio until `start` (it comes first), so failures carry the call
    // SID. Caller audio meanwhile is held by the engine (bounded).
    let mut out = Vec::new();
    let started = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(msg)) = tw_rx.next().await {
            match msg {
                Message::Text(t) => {
                    handle(app, &mut call, Peer::Twilio, t.as_str(), now(), &mut out);
                    out.retain(|o| !matches!(o, Output::Event(Event::Started { .. })));
                    if call.stream().is_some() {
                        return true;
                    }
                }
                Message::Close(_) => return false,
                _ => {}
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let sid = call.stream().and_then(|s| s.call_sid.clone()).unwrap_or_else(|| "unknown".into());
    if !started {
        warn!(call_sid = %sid, "Twilio stream ended before start");
        drop(twilio);
        let _ = writer.await;
        return;
    }
    let upstream = match connect_upstream(app).await {
        Ok(u) => u,
        Err(e) => {
            app.metrics.upstream_errors.inc();
            warn!(call_sid = %sid, "OpenAI upstream: {e}; closing the stream so the TwiML fallback plays");
            drop(twilio);
            let _ = writer.await;
            return;
        }
    };
    info!(call_sid = %sid, "call started");
    let (mut ai_tx, mut ai_rx) = upstream.split();
    let (tool_tx, mut tool_rx) = mpsc::channel::<(String, String)>(8);
    call.open_model(now(), &mut out);
    let mut stop = false;
    loop {
        for o in out.drain(..) {
            match o {
                Output::Phone { kind: PhoneKind::Clear, text } => twilio.send_clear(text),
                Output::Phone { text, .. } => {
                    if !twilio.send_audio(text) {
                        app.metrics.frames_dropped.inc();
                    }
                }
                Output::Model(t) => {
                    if ai_tx.send(tungstenite::Message::Text(t.into())).await.is_err() {
                        app.metrics.upstream_errors.inc();
                        stop = true;
                    }
                }
                Output::Event(Event::ToolCall { call_id, name, arguments }) => {
                    spawn_tool(app, &call, ToolCall { call_id, name, arguments }, tool_tx.clone())
                }
                Output::Event(Event::Stopped) => stop = true,
                Output::Event(Event::ModelError { code, message }) => {
                    warn!(call_sid = %sid, code = code.as_deref().unwrap_or(""), "OpenAI error event: {message}")
                }
                Output::Event(e @ Event::BargeIn { .. }) => tracing::debug!(call_sid = %sid, "{}", e.to_json()),
                Output::Event(_) => {}
            }
        }
        if stop {
            break;
        }
        tokio::select! {
            msg = tw_rx.next() => match msg {
                Some(Ok(Message::Text(t))) => handle(app, &mut call, Peer::Twilio, t.as_str(), now(), &mut out),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => stop = true,
                Some(Ok(_)) => {}
            },
            msg = ai_rx.next() => match msg {
                Some(Ok(tungstenite::Message::Text(t))) => handle(app, &mut call, Peer::OpenAi, t.as_str(), now(), &mut out),
                Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => {
                    app.metrics.upstream_errors.inc();
                    warn!(call_sid = %sid, "OpenAI upstream closed mid-call; closing the stream");
                    stop = true;
                }
                Some(Ok(_)) => {}
            },
            Some((call_id, output)) = tool_rx.recv() => {
                if let Err(e) = call.tool_result(&call_id, &output, now(), &mut out) {
                    warn!(call_sid = %sid, "tool result dropped: {e}");
                }
            }
        }
    }
    let _ = ai_tx.send(tungstenite::Message::Close(None)).await;
    drop(twilio);
    let _ = writer.await;
    let c = call.counters();
    info!(call_sid = %sid, frames_in = c.frames_in, frames_out = c.frames_out, barge_ins = c.barge_ins, "call ended");
}

/// Which peer a message came from.
#[derive(Clone, Copy)]
enum Peer {
    Twilio,
    OpenAi,
}

/// One message through the call, with its metrics: the counters' growth is
/// added to the server's, malformed messages are counted and skipped.
fn handle(app: &App, call: &mut Call, from: Peer, text: &str, now_ms: u64, out: &mut Vec<Output>) {
    let t0 = Instant::now();
    let before = call.counters();
    let result = match from {
        Peer::Twilio => call.receive_phone(text, now_ms, out),
        Peer::OpenAi => call.receive_model(text, now_ms, out),
    };
    if let Err(e) = result {
        app.metrics.malformed.inc();
        let side = match from {
            Peer::Twilio => "Twilio message",
            Peer::OpenAi => "OpenAI event",
        };
        let sid = call.stream().and_then(|s| s.call_sid.as_deref()).unwrap_or("unknown");
        warn!(call_sid = sid, "skipped {side}: {e}");
    }
    let after = call.counters();
    // Shared counters are atomics every call's thread writes: add only what changed.
    let m = &app.metrics;
    for (counter, delta) in [
        (&m.frames_in, after.frames_in - before.frames_in),
        (&m.frames_out, after.frames_out - before.frames_out),
        (&m.barge_ins, after.barge_ins - before.barge_ins),
        (&m.upstream_errors, after.model_errors - before.model_errors),
    ] {
        if delta > 0 {
            counter.inc_by(delta);
        }
    }
    m.processing_seconds.observe(t0.elapsed().as_secs_f64());
}

/// A function call the model made.
struct ToolCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// Runs one tool call through the webhook; the output (or an error text the
/// model can speak about) comes back on `done`.
fn spawn_tool(app: &Arc<App>, call: &Call, tc: ToolCall, done: mpsc::Sender<(String, String)>) {
    app.metrics.tool_calls.inc();
    let Some(url) = app.settings.tools_webhook.clone() else {
        let _ = done.try_send((tc.call_id, r#"{"error":"no tools are configured on this relay"}"#.into()));
        return;
    };
    let stream = call.stream();
    let body = serde_json::json!({
        "call_id": tc.call_id,
        "name": tc.name,
        "arguments": tc.arguments,
        "call_sid": stream.and_then(|s| s.call_sid.as_deref()),
        "custom_parameters": stream.map(|s| &s.custom_parameters),
    });
    let http = app.http.clone();
    tokio::spawn(async move {
        let output = match http.post(&url).json(&body).send().await {
            Ok(r) if r.status().is_success() => match r.text().await {
                Ok(t) => t,
                Err(e) => serde_json::json!({"error": format!("tool {} failed: {e}", tc.name)}).to_string(),
            },
            Ok(r) => {
                serde_json::json!({"error": format!("tool {} failed with HTTP {}", tc.name, r.status())}).to_string()
            }
            Err(e) if e.is_timeout() => serde_json::json!({"error": format!("tool {} timed out", tc.name)}).to_string(),
            Err(_) => serde_json::json!({"error": format!("tool {} is unreachable", tc.name)}).to_string(),
        };
        let _ = done.send((tc.call_id, output)).await;
    });
}
