//! `teledsp-relay serve`: the HTTP + WebSocket server Twilio talks to, and
//! one upstream OpenAI Realtime socket per call.
//!
//! Every wait on a peer has a bound in time and every buffer a bound in
//! size ([`Limits`], and the README's table):
//!
//! - HTTP: request headers must arrive within [`Limits::header_read`]
//!   (hyper's timer; it also closes keep-alive connections that sit idle
//!   that long); `/twiml` bodies are capped at [`MAX_TWIML_BODY`].
//! - `/media`: messages are capped at [`MAX_MEDIA_MESSAGE`] (close 1009
//!   beyond); `start` must come within [`Limits::start`], and nothing
//!   before it is kept (the engine refuses media before `start`); a started
//!   call that sends no media for [`Limits::media_idle`] is ended.
//! - Upstream: connected and `session.updated` within [`Limits::session`],
//!   or the Twilio stream is closed so the TwiML after `<Connect>` runs.
//! - Writes: any single write to either peer must complete within
//!   [`Limits::write`], or the call ends. Messages to Twilio go through a
//!   queue of [`PHONE_QUEUE`] messages (about 10 s of audio); when a
//!   Twilio reader falls that far behind, further outbound audio is dropped
//!   and counted (`frames_dropped`). Every message is either delivered or
//!   counted as dropped. Messages to OpenAI are sent in order from the
//!   call's task, so a slow upstream slows that call only.
//! - Shutdown: on SIGTERM new calls are refused, live ones drain for up to
//!   `--drain-timeout`, then get a close frame (1001); the process exits
//!   whatever any client does. A second signal exits at once.
//!
//! The server is stateless across calls: any instance can take any call, so
//! it scales out behind any WebSocket-capable load balancer. Autoscale on
//! `teledsp_relay_active_calls` (started calls, per instance).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use teledsp::call::{Call, CallConfig, Event, Output, PhoneKind};
use teledsp::signature::{CallToken, RequestValidator};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tracing::{info, warn};

use crate::metrics::{Metrics, Phase};
use crate::providers::{self, WebhookKey, xml_attr};
use teledsp::call::Telephony;

/// Largest WebSocket message taken from OpenAI (a delta of a few seconds fits).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Largest WebSocket message taken on `/media`. Twilio's own messages are
/// under 1 KiB (a 20 ms media frame is ~300 bytes; `start` grows with the
/// `<Parameter>`s); larger ones close the stream with 1009.
pub const MAX_MEDIA_MESSAGE: usize = 16 * 1024;
/// Largest `/twiml` request body (Twilio's form posts are a few KiB).
pub const MAX_TWIML_BODY: usize = 64 * 1024;
/// Messages queued for one call's Twilio socket before outbound audio is dropped.
pub const PHONE_QUEUE: usize = 512;
/// WebSocket read buffer. tungstenite zero-fills the free part of its read
/// buffer before every read; at its 128 KiB default that memset was a third
/// of the relay's CPU. Messages larger than this still arrive whole.
pub const READ_BUFFER: usize = 8 * 1024;
/// Read buffer for Twilio's socket: its messages (media ~350 bytes, marks,
/// `start`) fit in one read, and the zero-fill before each read is smaller.
pub const TWILIO_READ_BUFFER: usize = 1024;
/// Time allowed for the tools webhook.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(8);
/// After the drain, time live calls get to send their close frames.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Warnings logged per call for each kind of fault; further ones are
/// counted and summed up in the call's last line.
pub const WARNINGS_PER_CALL: u32 = 3;
/// The `<Parameter>` that carries the per-call token.
pub const CALL_TOKEN_PARAMETER: &str = "teledspCallToken";

/// Time bounds, each a command-line option of `serve`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whole request head, from a connection's first byte or from the end
    /// of its previous request (`--header-read-timeout`).
    pub header_read: Duration,
    /// From the WebSocket upgrade to Twilio's `start` (`--start-timeout`).
    pub start: Duration,
    /// Longest gap in inbound media while a call is up (`--media-timeout`).
    pub media_idle: Duration,
    /// From `start` to the upstream's `session.updated`, connection
    /// included (`--session-timeout`).
    pub session: Duration,
    /// One write to a peer (`--write-timeout`).
    pub write: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            start: Duration::from_secs(5),
            media_idle: Duration::from_secs(10),
            session: Duration::from_secs(10),
            write: Duration::from_secs(5),
        }
    }
}

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The https base URL Twilio reaches (for the Stream URL and signatures).
    pub public_url: String,
    /// The model API's WebSocket URL (`--model-url`; OpenAI Realtime by default).
    pub model_url: String,
    /// The model API's key (never logged): OpenAI's bearer token, Azure's
    /// `api-key`, Gemini's `x-goog-api-key`, ElevenLabs' `xi-api-key`.
    pub model_api_key: String,
    /// Per-call settings.
    pub call: CallConfig,
    /// Where tool calls are POSTed.
    pub tools_webhook: Option<String>,
    /// Checks `X-Twilio-Signature` (Twilio, and SignalWire's same scheme);
    /// `None` only with `--insecure-no-signature` or another provider.
    pub validator: Option<RequestValidator>,
    /// Checks the answer webhook of Telnyx, Plivo or Vonage.
    pub webhook_key: Option<WebhookKey>,
    /// Per-call tokens (`--call-tokens`): issued in `/twiml`, required in `start`.
    pub call_tokens: Option<CallToken>,
    /// How long a call token is valid after `/twiml` answered.
    pub call_token_ttl: Duration,
    /// Time bounds.
    pub limits: Limits,
}

impl Settings {
    /// Settings for `public_url` and `model_url`, the rest at defaults: no
    /// API key, default call settings, no webhook, no signature check
    /// (set `validator` for production), no call tokens, default limits.
    pub fn new(public_url: impl Into<String>, model_url: impl Into<String>) -> Self {
        Settings {
            public_url: public_url.into(),
            model_url: model_url.into(),
            model_api_key: String::new(),
            call: CallConfig::default(),
            tools_webhook: None,
            validator: None,
            webhook_key: None,
            call_tokens: None,
            call_token_ttl: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

/// Shared by every request.
pub struct App {
    /// Settings.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Metrics,
    draining: AtomicBool,
    /// Media sockets open (started or not): what the drain waits for.
    sockets: AtomicI64,
    socket_closed: Notify,
    /// Set when the drain ends: live calls close with 1001.
    cut: watch::Sender<bool>,
    http: reqwest::Client,
}

impl App {
    /// The state for `settings`.
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(App {
            settings,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            sockets: AtomicI64::new(0),
            socket_closed: Notify::new(),
            cut: watch::Sender::new(false),
            http: reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().expect("HTTP client"),
        })
    }

    /// Stop accepting calls (503 on `/twiml` and `/healthz`, refused upgrades on `/media`).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Calls in progress (started).
    pub fn active_calls(&self) -> i64 {
        self.metrics.active_calls.get()
    }

    /// Media sockets open, started or not.
    pub fn open_sockets(&self) -> i64 {
        self.sockets.load(Ordering::SeqCst)
    }

    /// Waits until no media socket is open, or `timeout` passes; true if drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let closed = self.socket_closed.notified();
            if self.open_sockets() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, closed).await.is_err() {
                return self.open_sockets() == 0;
            }
        }
    }

    /// Ends every live call now, with a close frame (1001).
    pub fn cut_calls(&self) {
        self.cut.send_replace(true);
    }
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/twiml", post(twiml))
        .route("/texml", post(texml))
        .route("/answer", get(answer).post(answer))
        .route("/media", get(media))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_TWIML_BODY))
        .with_state(app)
}

/// Serves `router(app)` on `listener` until `shutdown` resolves, then
/// drains live calls for up to `drain_timeout`, closes the ones left
/// (1001), and returns within [`CLOSE_GRACE`] more, whatever the clients do.
///
/// Connections are served by hyper directly (axum's `serve` sets no timer,
/// so no header-read timeout): HTTP/1.1 with upgrades, and
/// [`Limits::header_read`] on every request head.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let routes = router(app.clone());
    // HTTP/1.1 only: Twilio's requests and WebSocket upgrades are HTTP/1.1.
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    http.http1().timer(TokioTimer::new()).header_read_timeout(app.settings.limits.header_read);
    let http = Arc::new(http);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();

    // The drain runs beside the accept loop, which goes on answering
    // /healthz (503) so load balancers see the instance leave.
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let drain_app = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        drain_app.start_draining();
        info!(active = drain_app.active_calls(), sockets = drain_app.open_sockets(), "draining");
        let drained = drain_app.drain(drain_timeout).await;
        if !drained {
            info!(left = drain_app.open_sockets(), "drain timeout: closing the calls left (1001)");
            drain_app.cut_calls();
            drain_app.drain(CLOSE_GRACE).await;
        }
        info!(drained, left = drain_app.open_sockets(), "stopping");
        let _ = stop_tx.send(());
    });
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop_rx => break,
        };
        // Small real-time messages: no Nagle delay on any connection.
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(routes.clone());
        let watcher = graceful.watcher();
        let http = http.clone();
        tokio::spawn(async move {
            let _ = watcher.watch(http.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned()).await;
        });
    }
    // Connections still in HTTP (a request in flight, or half a request
    // head) get the grace too; upgraded sockets were handled above.
    let _ = timeout(CLOSE_GRACE, graceful.shutdown()).await;
    Ok(())
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
    // SignalWire signs as Twilio does, in its own header (and Twilio's).
    let sig = ["x-twilio-signature", "x-signalwire-signature"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|s| s.to_str().ok()))
        .unwrap_or("");
    let ok = v.validate(url, params, sig);
    if !ok {
        app.metrics.signature_rejections.inc();
    }
    ok
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn twiml(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = draining(&app) {
        return r;
    }
    if !matches!(app.settings.call.telephony, Telephony::Twilio | Telephony::SignalWire) {
        return (StatusCode::NOT_FOUND, "this relay's telephony answers elsewhere (see --telephony)\n").into_response();
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if !signed(&app, &headers, &public(&app, &uri, false), &params) {
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature\n").into_response();
    }
    let call_sid = params.iter().find(|(k, _)| k == "CallSid").map(|(_, v)| v.as_str());
    // Twilio drops query strings from Stream URLs: what the stream needs
    // travels as <Parameter>s and comes back in `start.customParameters`.
    let stream = format!("{}/media", public_base(&app, true));
    let signalwire = app.settings.call.telephony == Telephony::SignalWire;
    let token = match (&app.settings.call_tokens, call_sid) {
        (Some(tokens), Some(sid)) => Some(tokens.issue(sid, unix_now(), app.settings.call_token_ttl.as_secs())),
        (Some(_), None) => return (StatusCode::BAD_REQUEST, "no CallSid: cannot issue a call token\n").into_response(),
        (None, _) => None,
    };
    let mut xml =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{}""#, xml_attr(&stream));
    // SignalWire documents no signature on the stream's upgrade, only
    // `Authorization: Bearer` with the <Stream>'s `authBearerToken`.
    if let (true, Some(t)) = (signalwire, &token) {
        xml.push_str(&format!(r#" authBearerToken="{}""#, xml_attr(t)));
    }
    xml.push('>');
    let param = |xml: &mut String, k: &str, v: &str| {
        xml.push_str(&format!(r#"<Parameter name="{}" value="{}"/>"#, xml_attr(k), xml_attr(v)));
    };
    for key in ["CallSid", "From", "To"] {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
            param(&mut xml, key, v);
        }
    }
    if let (false, Some(t)) = (signalwire, &token) {
        param(&mut xml, CALL_TOKEN_PARAMETER, t);
    }
    // Runs when the stream ends without the call ending (e.g. upstream down).
    xml.push_str("</Stream></Connect><Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>");
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// 503 while draining: no new calls.
fn draining(app: &App) -> Option<Response> {
    app.draining.load(Ordering::SeqCst).then(|| (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response())
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect()
}

/// Checks a Telnyx, Plivo or Vonage answer webhook against its key (none
/// configured: only with `--insecure-no-signature`).
fn webhook_ok(
    app: &App,
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &[(String, String)],
) -> bool {
    let Some(key) = &app.settings.webhook_key else { return true };
    let h = header_pairs(headers);
    let r = match key {
        WebhookKey::Telnyx(k) => providers::telnyx_verify(k, &h, body, unix_now()),
        WebhookKey::Plivo(t) => providers::plivo_verify(t, method, url, params, &h),
        WebhookKey::Vonage(s) => providers::vonage_verify(s, &h, body, unix_now()),
    };
    if let Err(e) = &r {
        app.metrics.signature_rejections.inc();
        warn!("answer webhook refused: {e}");
    }
    r.is_ok()
}

/// Telnyx's TeXML answer webhook.
async fn texml(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = draining(&app) {
        return r;
    }
    if app.settings.call.telephony != Telephony::Telnyx {
        return (StatusCode::NOT_FOUND, "this relay's telephony is not Telnyx\n").into_response();
    }
    if !webhook_ok(&app, "POST", &public(&app, &uri, false), &headers, &body, &[]) {
        return (StatusCode::FORBIDDEN, "invalid telnyx-signature-ed25519\n").into_response();
    }
    let xml = providers::texml(&format!("{}/media", public_base(&app, true)));
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// Plivo's (XML) or Vonage's (NCCO) answer webhook.
async fn answer(
    State(app): State<Arc<App>>,
    method: axum::http::Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = draining(&app) {
        return r;
    }
    let stream = format!("{}/media", public_base(&app, true));
    let url = public(&app, &uri, false);
    match app.settings.call.telephony {
        Telephony::Plivo => {
            let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
            if !webhook_ok(&app, method.as_str(), &url, &headers, &body, &params) {
                return (StatusCode::FORBIDDEN, "invalid X-Plivo-Signature-V3\n").into_response();
            }
            ([(header::CONTENT_TYPE, "text/xml")], providers::plivo_xml(&stream)).into_response()
        }
        Telephony::Vonage => {
            if !webhook_ok(&app, method.as_str(), &url, &headers, &body, &[]) {
                return (StatusCode::FORBIDDEN, "invalid webhook JWT\n").into_response();
            }
            // Vonage sends the call's uuid in the query (GET) or the JSON body (POST).
            let from_query = uri.query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "uuid").map(|(_, v)| v.into_owned())
            });
            let from_body =
                || serde_json::from_slice::<serde_json::Value>(&body).ok()?["uuid"].as_str().map(str::to_owned);
            let uuid = from_query.or_else(from_body).unwrap_or_default();
            ([(header::CONTENT_TYPE, "application/json")], providers::vonage_ncco(&stream, &uuid)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "this relay's telephony is not Plivo or Vonage\n").into_response(),
    }
}

async fn media(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(r) = draining(&app) {
        return r;
    }
    // Only Twilio documents a signature on the upgrade itself. SignalWire
    // documents `Authorization: Bearer <authBearerToken>` (the call token
    // /twiml put in the <Stream>, checked against the call's SID once
    // `start` names it).
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    let refused = match app.settings.call.telephony {
        Telephony::Twilio => {
            (!signed(&app, &headers, &public(&app, &uri, true), &[])).then_some("invalid X-Twilio-Signature")
        }
        Telephony::SignalWire if app.settings.call_tokens.is_some() && bearer.is_none() => {
            app.metrics.signature_rejections.inc();
            Some("no Authorization: Bearer token")
        }
        _ => None,
    };
    let ws =
        ws.max_message_size(MAX_MEDIA_MESSAGE).max_frame_size(MAX_MEDIA_MESSAGE).read_buffer_size(TWILIO_READ_BUFFER);
    if let Some(reason) = refused {
        return ws.on_upgrade(move |mut socket| async move {
            let frame = CloseFrame { code: 1008, reason: reason.into() };
            let _ = timeout(Duration::from_secs(1), socket.send(Message::Close(Some(frame)))).await;
        });
    }
    ws.on_upgrade(move |socket| async move {
        app.sockets.fetch_add(1, Ordering::SeqCst);
        run_call(&app, socket, bearer).await;
        app.sockets.fetch_sub(1, Ordering::SeqCst);
        app.socket_closed.notify_waiters();
    })
}

type Upstream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the upstream socket (its time bound is the caller's).
async fn connect_upstream(app: &App) -> Result<Upstream, String> {
    let s = &app.settings;
    let mut req = s.model_url.as_str().into_client_request().map_err(|e| format!("bad model URL: {e}"))?;
    // Each API's own key header.
    for (name, value) in s.call.model_headers(&s.model_api_key) {
        let value = value.parse().map_err(|_| format!("{name} is not a valid header value"))?;
        req.headers_mut().insert(name, value);
    }
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER);
    match tokio_tungstenite::connect_async_with_config(req, Some(config), true).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(format!("connect failed: {e}")),
    }
}

/// One message for Twilio's socket.
struct Outgoing {
    generation: u64,
    /// A media frame (counted in `frames_out` once written), not a mark.
    media: bool,
    /// Text, or binary audio (Vonage).
    msg: Message,
}

/// The Twilio socket's writer. Media and marks go through a bounded queue
/// and are dropped (and counted) when a stalled reader fills it; a `clear`
/// is never dropped: it travels on a watch channel (clears are idempotent,
/// so only the latest matters), and audio queued before it is discarded, as
/// Twilio would discard it (counted in `frames_dropped` too). Each write
/// has [`Limits::write`]; past it the writer gives up and the call ends.
struct PhoneOut {
    audio: mpsc::Sender<Outgoing>,
    clear: watch::Sender<(u64, String)>,
    close: Option<oneshot::Sender<CloseFrame>>,
    generation: u64,
}

/// How the writer ended.
enum WriterEnd {
    /// The call ended; the close frame went out (or the peer was gone).
    Closed,
    /// A write did not complete within the bound.
    TimedOut,
}

impl PhoneOut {
    fn spawn(
        mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
        app: &Arc<App>,
    ) -> (Self, tokio::task::JoinHandle<WriterEnd>) {
        let (audio, mut queue) = mpsc::channel::<Outgoing>(PHONE_QUEUE);
        let (clear, mut clears) = watch::channel((0u64, String::new()));
        let (close, close_rx) = oneshot::channel::<CloseFrame>();
        let limit = app.settings.limits.write;
        let (dropped, sent) = (app.metrics.frames_dropped.clone(), app.metrics.frames_out.clone());
        let task = tokio::spawn(async move {
            let mut generation = 0;
            let mut batch = Vec::with_capacity(16);
            let mut clears_open = true;
            // Err(true): timed out; Err(false): the peer is gone.
            let result: Result<(), bool> = async {
                loop {
                    // A clear goes first; everything queued goes out in one
                    // flush (a delta's frames and its mark cost one write, not six).
                    tokio::select! {
                        biased;
                        changed = clears.changed(), if clears_open => {
                            if changed.is_err() {
                                clears_open = false;
                                continue;
                            }
                            let (g, text) = clears.borrow_and_update().clone();
                            generation = g;
                            bounded(limit, sink.send(Message::Text(text.into()))).await?;
                        }
                        n = queue.recv_many(&mut batch, 64) => {
                            if n == 0 {
                                return Ok(());
                            }
                            if clears.has_changed().unwrap_or(false) {
                                let (g, text) = clears.borrow_and_update().clone();
                                generation = g;
                                bounded(limit, sink.feed(Message::Text(text.into()))).await?;
                            }
                            let mut media = 0;
                            for o in batch.drain(..) {
                                if o.generation < generation {
                                    dropped.inc();
                                } else {
                                    bounded(limit, sink.feed(o.msg)).await?;
                                    media += u64::from(o.media);
                                }
                            }
                            bounded(limit, sink.flush()).await?;
                            sent.inc_by(media);
                        }
                    }
                }
            }
            .await;
            match result {
                Err(true) => WriterEnd::TimedOut,
                Err(false) => WriterEnd::Closed,
                Ok(()) => {
                    // A normal close: Twilio then runs the TwiML after <Connect>.
                    let frame = close_rx.await.unwrap_or(CloseFrame { code: 1000, reason: "".into() });
                    let _ = bounded(limit, sink.send(Message::Close(Some(frame)))).await;
                    WriterEnd::Closed
                }
            }
        });
        (PhoneOut { audio, clear, close: Some(close), generation: 0 }, task)
    }

    /// Queues audio or a mark; false if the queue is full (dropped).
    fn send_audio(&self, msg: Message, media: bool) -> bool {
        self.audio.try_send(Outgoing { generation: self.generation, media, msg }).is_ok()
    }

    fn send_clear(&mut self, text: String) {
        self.generation += 1;
        let _ = self.clear.send((self.generation, text));
    }

    /// Ends the stream with `code` once what is queued went out.
    fn finish(mut self, code: u16, reason: &'static str) {
        if let Some(close) = self.close.take() {
            let _ = close.send(CloseFrame { code, reason: reason.into() });
        }
    }
}

/// `fut` within `limit`: Err(true) on timeout, Err(false) on a send error.
async fn bounded<T, E>(limit: Duration, fut: impl Future<Output = Result<T, E>>) -> Result<T, bool> {
    match timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(false),
        Err(_) => Err(true),
    }
}

/// Per-call warnings, [`WARNINGS_PER_CALL`] of each kind; the rest counted.
#[derive(Default)]
struct Warnings {
    logged: [u32; 4],
    suppressed: u64,
}

#[derive(Clone, Copy)]
enum WarnKind {
    Malformed = 0,
    ModelError = 1,
    Other = 2,
    Unknown = 3,
}

impl Warnings {
    fn warn(&mut self, kind: WarnKind, sid: &str, text: std::fmt::Arguments<'_>) {
        let n = &mut self.logged[kind as usize];
        if *n < WARNINGS_PER_CALL {
            *n += 1;
            warn!(call_sid = sid, "{text}");
        } else {
            self.suppressed += 1;
        }
    }
}

/// Why a call ended, and the close code Twilio gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Twilio hung up (`stop` or its close).
    Hangup,
    /// The upstream closed, failed or timed out: 1000, so the TwiML fallback runs.
    Upstream,
    /// A Twilio message over [`MAX_MEDIA_MESSAGE`]: 1009.
    TooBig,
    /// A bound of [`Limits`] passed: 1000 (the fallback runs).
    Timeout(Phase),
    /// The call token was missing or wrong: 1008.
    Unauthorized,
    /// The drain ended: 1001.
    Shutdown,
}

impl End {
    fn close(self) -> (u16, &'static str) {
        match self {
            End::Hangup | End::Upstream => (1000, ""),
            End::Timeout(_) => (1000, "timeout"),
            End::TooBig => (1009, "message too big"),
            End::Unauthorized => (1008, "invalid call token"),
            End::Shutdown => (1001, "relay shutting down"),
        }
    }
}

/// What a phone socket read gave.
enum Inbound {
    Text(String),
    /// Binary audio (Vonage's; refused by the engine for the others).
    Binary(Vec<u8>),
    /// Ping, pong.
    Control,
    Gone(End),
}

fn inbound(msg: Option<Result<Message, axum::Error>>) -> Inbound {
    match msg {
        Some(Ok(Message::Text(t))) => Inbound::Text(t.as_str().to_owned()),
        Some(Ok(Message::Binary(b))) => Inbound::Binary(b.to_vec()),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Control,
        Some(Ok(Message::Close(_))) | None => Inbound::Gone(End::Hangup),
        Some(Err(e)) => {
            let too_big = e
                .into_inner()
                .downcast_ref::<tungstenite::Error>()
                .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
            Inbound::Gone(if too_big { End::TooBig } else { End::Hangup })
        }
    }
}

async fn run_call(app: &Arc<App>, socket: WebSocket, bearer: Option<String>) {
    let (tw_tx, mut tw_rx) = socket.split();
    let mut call = match Call::new(app.settings.call.clone()) {
        Ok(c) => c,
        Err(e) => {
            warn!("call setup failed: {e}");
            return;
        }
    };
    let limits = app.settings.limits;
    let epoch = Instant::now();
    let now = move || epoch.elapsed().as_millis() as u64;
    let (twilio, writer) = PhoneOut::spawn(tw_tx, app);
    let mut warnings = Warnings::default();
    let mut cut = app.cut.subscribe();
    let mut out = Vec::new();

    // Phase 1: until `start`, within its bound. Nothing is kept meanwhile.
    let start_deadline = tokio::time::Instant::now() + limits.start;
    let pre: Option<End> = loop {
        if call.stopped() {
            break Some(End::Hangup);
        }
        if call.stream().is_some() {
            break None;
        }
        tokio::select! {
            msg = tw_rx.next() => match inbound(msg) {
                Inbound::Text(t) => {
                    handle(app, &mut call, Peer::Phone, Input::Text(&t), now(), &mut out, &mut warnings);
                    drain_unknown(&mut warnings, &mut out);
                }
                Inbound::Binary(b) => {
                    handle(app, &mut call, Peer::Phone, Input::Binary(&b), now(), &mut out, &mut warnings);
                    drain_unknown(&mut warnings, &mut out);
                }
                Inbound::Control => {}
                Inbound::Gone(end) => break Some(end),
            },
            _ = tokio::time::sleep_until(start_deadline) => break Some(End::Timeout(Phase::Start)),
            _ = cut.wait_for(|c| *c) => break Some(End::Shutdown),
        }
    };
    let sid = call.stream().and_then(|s| s.call_sid.clone()).unwrap_or_else(|| "unknown".into());
    let pre = pre.or_else(|| check_token(app, &call, &sid, bearer.as_deref()).err());
    if let Some(end) = pre {
        if let End::Timeout(p) = end {
            app.metrics.timeout(p);
        }
        warn!(call_sid = %sid, ?end, "stream ended before the call started");
        let (code, reason) = end.close();
        twilio.finish(code, reason);
        let _ = writer.await;
        return;
    }

    app.metrics.active_calls.inc();
    app.metrics.calls.inc();
    let end = run_started(app, &mut call, &sid, epoch, twilio, &mut tw_rx, &mut warnings, &mut cut).await;
    let ended = writer.await;
    if matches!(ended, Ok(WriterEnd::TimedOut)) {
        app.metrics.timeout(Phase::Write);
    }
    app.metrics.active_calls.dec();
    let c = call.counters();
    info!(call_sid = %sid, ?end, frames_in = c.frames_in, frames_out = c.frames_out, barge_ins = c.barge_ins,
          warnings_not_logged = warnings.suppressed, "call ended");
}

/// The per-call token, when required: issued by `/twiml` for this call SID,
/// back as the upgrade's bearer token (SignalWire) or a `<Parameter>`.
fn check_token(app: &App, call: &Call, sid: &str, bearer: Option<&str>) -> Result<(), End> {
    let Some(tokens) = &app.settings.call_tokens else { return Ok(()) };
    let param = || call.stream().and_then(|s| s.custom_parameters.get(CALL_TOKEN_PARAMETER)).and_then(|v| v.as_str());
    let token = if app.settings.call.telephony == Telephony::SignalWire { bearer } else { param() }.unwrap_or("");
    let why = if token.is_empty() {
        format!("no {CALL_TOKEN_PARAMETER} parameter or bearer token")
    } else {
        match tokens.verify(token, sid, unix_now()) {
            Ok(()) => return Ok(()),
            Err(e) => e.to_string(),
        }
    };
    app.metrics.signature_rejections.inc();
    warn!(call_sid = sid, "call refused: {why}");
    Err(End::Unauthorized)
}

/// Logs (rate-limited) a message the engine did not know.
fn warn_unknown(warnings: &mut Warnings, sid: &str, peer: &str, kind: &str) {
    warnings.warn(
        WarnKind::Unknown,
        sid,
        format_args!("a {peer} message of a type teledsp does not know ({kind:?}); nothing was done with it"),
    );
}

/// Before the stream starts: outputs are dropped (the Started event; the
/// engine keeps no audio before it), unknown messages logged.
fn drain_unknown(warnings: &mut Warnings, out: &mut Vec<Output>) {
    for o in out.drain(..) {
        if let Output::Event(Event::Unknown { peer, kind }) = o {
            warn_unknown(warnings, "unknown", peer, &kind);
        }
    }
}

/// A started call: upstream, then messages both ways until one side ends.
#[allow(clippy::too_many_arguments)]
async fn run_started(
    app: &Arc<App>,
    call: &mut Call,
    sid: &str,
    epoch: Instant,
    mut twilio: PhoneOut,
    tw_rx: &mut futures_util::stream::SplitStream<WebSocket>,
    warnings: &mut Warnings,
    cut: &mut watch::Receiver<bool>,
) -> End {
    let limits = app.settings.limits;
    let now = move || epoch.elapsed().as_millis() as u64;
    let session_deadline = tokio::time::Instant::now() + limits.session;
    let finish = |twilio: PhoneOut, end: End| {
        let (code, reason) = end.close();
        twilio.finish(code, reason);
        end
    };
    // Caller audio meanwhile is held by the engine (bounded by hold_ms), but
    // Twilio is not read: TCP holds the rest.
    let upstream = tokio::select! {
        r = tokio::time::timeout_at(session_deadline, connect_upstream(app)) => match r {
            Ok(Ok(u)) => u,
            Ok(Err(e)) => {
                app.metrics.upstream_errors.inc();
                warn!(call_sid = sid, "model upstream: {e}; closing the stream so the fallback plays");
                return finish(twilio, End::Upstream);
            }
            Err(_) => {
                app.metrics.timeout(Phase::Session);
                warn!(call_sid = sid, "model upstream: no connection within {:?}; closing the stream", limits.session);
                return finish(twilio, End::Timeout(Phase::Session));
            }
        },
        _ = cut.wait_for(|c| *c) => return finish(twilio, End::Shutdown),
    };
    info!(call_sid = sid, "call started");
    let (mut ai_tx, mut ai_rx) = upstream.split();
    let (tool_tx, mut tool_rx) = mpsc::channel::<(String, String)>(8);
    let mut out = Vec::new();
    call.open_model(now(), &mut out);
    let mut media_deadline = tokio::time::Instant::now() + limits.media_idle;
    let mut frames_in = call.counters().frames_in;
    let mut end: Option<End> = None;
    loop {
        for o in out.drain(..) {
            match o {
                Output::Phone { kind: PhoneKind::Clear, text } => twilio.send_clear(text),
                Output::Phone { kind, text } => {
                    if !twilio.send_audio(Message::Text(text.into()), kind == PhoneKind::Media) {
                        app.metrics.frames_dropped.inc();
                    }
                }
                Output::PhoneBinary(data) => {
                    if !twilio.send_audio(Message::Binary(data.into()), true) {
                        app.metrics.frames_dropped.inc();
                    }
                }
                Output::Model(t) if end.is_none() => {
                    match bounded(limits.write, ai_tx.send(tungstenite::Message::Text(t.into()))).await {
                        Ok(()) => {}
                        Err(timed_out) => {
                            if timed_out {
                                app.metrics.timeout(Phase::Write);
                                warn!(call_sid = sid, "model upstream: a write took over {:?}", limits.write);
                            } else {
                                app.metrics.upstream_errors.inc();
                            }
                            end = Some(End::Upstream);
                        }
                    }
                }
                Output::Model(_) => {}
                Output::CallerAudio(_) => unreachable!("a Call sends caller audio to the model itself"),
                Output::Event(Event::ToolCall { call_id, name, arguments }) => {
                    spawn_tool(app, call, ToolCall { call_id, name, arguments }, tool_tx.clone())
                }
                Output::Event(Event::Stopped) => end = end.or(Some(End::Hangup)),
                Output::Event(Event::ModelError { code, message }) => warnings.warn(
                    WarnKind::ModelError,
                    sid,
                    format_args!("model error event ({}): {message}", code.as_deref().unwrap_or("no code")),
                ),
                Output::Event(e @ Event::BargeIn { .. }) => tracing::debug!(call_sid = sid, "{}", e.to_json()),
                Output::Event(Event::Unknown { peer, kind }) => warn_unknown(warnings, sid, peer, &kind),
                Output::Event(_) => {}
            }
        }
        if let Some(end) = end {
            if let End::Timeout(p) = end {
                app.metrics.timeout(p);
            }
            let _ = timeout(limits.write, ai_tx.send(tungstenite::Message::Close(None))).await;
            return finish(twilio, end);
        }
        let ready = call.model_ready();
        tokio::select! {
            msg = tw_rx.next() => match inbound(msg) {
                Inbound::Text(t) => {
                    handle(app, call, Peer::Phone, Input::Text(&t), now(), &mut out, warnings);
                    let n = call.counters().frames_in;
                    if n != frames_in {
                        frames_in = n;
                        media_deadline = tokio::time::Instant::now() + limits.media_idle;
                    }
                }
                Inbound::Binary(b) => {
                    handle(app, call, Peer::Phone, Input::Binary(&b), now(), &mut out, warnings);
                    let n = call.counters().frames_in;
                    if n != frames_in {
                        frames_in = n;
                        media_deadline = tokio::time::Instant::now() + limits.media_idle;
                    }
                }
                Inbound::Control => {}
                Inbound::Gone(e) => end = Some(e),
            },
            msg = ai_rx.next() => match msg {
                Some(Ok(tungstenite::Message::Text(t))) => handle(app, call, Peer::Model, Input::Text(t.as_str()), now(), &mut out, warnings),
                // Gemini Live sends its JSON in binary frames.
                Some(Ok(tungstenite::Message::Binary(b))) => handle(app, call, Peer::Model, Input::Binary(&b), now(), &mut out, warnings),
                Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => {
                    app.metrics.upstream_errors.inc();
                    warn!(call_sid = sid, "model upstream closed mid-call; closing the stream");
                    end = Some(End::Upstream);
                }
                Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
            },
            Some((call_id, output)) = tool_rx.recv() => {
                if let Err(e) = call.tool_result(&call_id, &output, now(), &mut out) {
                    warnings.warn(WarnKind::Other, sid, format_args!("tool result dropped: {e}"));
                }
            }
            _ = tokio::time::sleep_until(session_deadline), if !ready => {
                warn!(call_sid = sid, "model upstream: no session confirmation within {:?}; closing the stream so the fallback plays", limits.session);
                end = Some(End::Timeout(Phase::Session));
            }
            _ = tokio::time::sleep_until(media_deadline) => {
                warn!(call_sid = sid, "no media from Twilio for {:?}; ending the call", limits.media_idle);
                end = Some(End::Timeout(Phase::Media));
            }
            // The writer gave up (a write past its bound, or the peer is gone).
            _ = twilio.audio.closed() => end = Some(End::Hangup),
            _ = cut.wait_for(|c| *c) => end = Some(End::Shutdown),
        }
    }
}

/// Which peer a message came from.
#[derive(Clone, Copy)]
enum Peer {
    Phone,
    Model,
}

/// A WebSocket message's payload, by frame type.
#[derive(Clone, Copy)]
enum Input<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// One message through the call, with its metrics: the counters' growth is
/// added to the server's, malformed messages are counted and skipped.
fn handle(
    app: &App,
    call: &mut Call,
    from: Peer,
    input: Input<'_>,
    now_ms: u64,
    out: &mut Vec<Output>,
    warnings: &mut Warnings,
) {
    let t0 = Instant::now();
    let before = call.counters();
    let result = match (from, input) {
        (Peer::Phone, Input::Text(t)) => call.receive_phone(t, now_ms, out),
        (Peer::Phone, Input::Binary(b)) => call.receive_phone_binary(b, now_ms, out),
        (Peer::Model, Input::Text(t)) => call.receive_model(t, now_ms, out),
        (Peer::Model, Input::Binary(b)) => call.receive_model_binary(b, now_ms, out),
    };
    if let Err(e) = result {
        app.metrics.malformed.inc();
        let side = match from {
            Peer::Phone => "phone message",
            Peer::Model => "model event",
        };
        let sid = call.stream().and_then(|s| s.call_sid.clone()).unwrap_or_else(|| "unknown".into());
        warnings.warn(WarnKind::Malformed, &sid, format_args!("skipped {side}: {e}"));
    }
    let after = call.counters();
    // Shared counters are atomics every call's thread writes: add only what
    // changed. frames_out is counted by the writer, as frames are written.
    let m = &app.metrics;
    for (counter, delta) in [
        (&m.frames_in, after.frames_in - before.frames_in),
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
