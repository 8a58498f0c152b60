//! `teledsp-relay serve`: the HTTP + WebSocket server the phone provider
//! talks to, and one upstream model socket per call. Rooms:
//!
//! - this module: settings, bounds, the router and the server's life
//!   (drain on SIGTERM);
//! - `answer`: the answer webhooks and their signature checks;
//! - `call`: the `/media` upgrade and the call loop around the engine;
//! - `phone_out`: the bounded writer to the phone;
//! - `upstream`: the model connection.
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
//! - Shutdown ([`Drain`]): on SIGTERM `/healthz` turns red at once, calls
//!   are still taken for `--pre-stop` (the load balancer's time to see the
//!   red check and send new calls elsewhere), then new calls get 503. Every
//!   HTTP answer from the signal on says `Connection: close`, so keep-alive
//!   connections move to other instances. The listener stays open, so
//!   `/metrics` and `/livez` answer through the drain. Live calls have
//!   until `--drain-timeout` from the signal; the ones left get a close
//!   frame (1001), and the process exits within [`CLOSE_GRACE`] more
//!   whatever any client does. A second signal exits at once.
//!
//! The server is stateless across calls: any instance can take any call, so
//! it scales out behind any WebSocket-capable load balancer. Autoscale on
//! `teledsp_relay_active_calls` (started calls, per instance).

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use teledsp::call::CallConfig;
use teledsp::providers::{Gate, GateConfig, WebhookKey};
use teledsp::signature::{CallToken, RequestValidator};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::timeout;
use tracing::{info, warn};

mod answer;
mod call;
mod phone_out;
mod upstream;

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
pub const PHONE_READ_BUFFER: usize = 1024;
/// Time allowed for the tools webhook.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(8);
/// After the drain, time live calls get to send their close frames.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Warnings logged per call for each kind of fault; further ones are
/// counted and summed up in the call's last line.
pub const WARNINGS_PER_CALL: u32 = 3;
/// The `<Parameter>` that carries the per-call token.
pub use teledsp::providers::CALL_TOKEN_PARAMETER;

/// How the relay leaves on SIGTERM (see the module docs).
///
/// It keeps taking calls through the pre-stop window rather than refusing
/// them from the signal on: a load balancer needs a few health checks to
/// see an instance leave (HAProxy's default, 2 x 2 s; Kubernetes' readiness
/// probe, its period x failure threshold), and neither HAProxy nor nginx
/// retries a 503 by default, so a call refused in that window would be a
/// failed call. It keeps its listener open after the window (closing it is
/// the other way to send calls elsewhere): the autoscaler's metric and the
/// liveness probe must still be read while live calls drain, on the one
/// port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// From the signal, how long calls are still taken (`--pre-stop`).
    pub pre_stop: Duration,
    /// From the signal, how long live calls may take before they are
    /// closed with 1001 (`--drain-timeout`). The pre-stop window is within
    /// it.
    pub timeout: Duration,
}

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
    /// Set when the pre-stop window has passed: new calls get 503.
    stopping: AtomicBool,
    /// Media sockets open (started or not): what the drain waits for.
    sockets: AtomicI64,
    socket_closed: Notify,
    /// Set when the drain ends: live calls close with 1001.
    cut: watch::Sender<bool>,
    http: reqwest::Client,
    /// The answer webhooks' and `/media`'s checks, from `settings`.
    gate: Gate,
}

impl App {
    /// The state for `settings`.
    pub fn new(settings: Settings) -> Arc<Self> {
        let gate = Gate::new(GateConfig {
            telephony: settings.call.telephony,
            public_url: settings.public_url.clone(),
            validator: settings.validator.clone(),
            webhook_key: settings.webhook_key.clone(),
            call_tokens: settings.call_tokens.clone(),
            call_token_ttl_s: settings.call_token_ttl.as_secs(),
        });
        Arc::new(App {
            gate,
            settings,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            sockets: AtomicI64::new(0),
            socket_closed: Notify::new(),
            cut: watch::Sender::new(false),
            http: reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().expect("HTTP client"),
        })
    }

    /// `/healthz` turns red (503); calls are still taken.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The pre-stop window has passed: new calls are refused (503).
    pub fn stop_taking_calls(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether new calls are refused (503).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether SIGTERM has come (`/healthz` red).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
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
        .route("/twiml", post(answer::answer))
        .route("/texml", post(answer::answer))
        .route("/answer", get(answer::answer).post(answer::answer))
        .route("/media", get(call::media))
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_TWIML_BODY))
        .layer(axum::middleware::map_response_with_state(app.clone(), close_when_draining))
        .with_state(app)
}

/// Serves `router(app)` on `listener` until `shutdown` resolves, then
/// leaves as [`Drain`] says: `/healthz` red at once, calls taken until
/// `pre_stop`, then refused, live calls drained until `timeout`, the ones
/// left closed (1001); returns within [`CLOSE_GRACE`] more, whatever the
/// clients do.
///
/// Connections are served by hyper directly (axum's `serve` sets no timer,
/// so no header-read timeout): HTTP/1.1 with upgrades, and
/// [`Limits::header_read`] on every request head.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Drain,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let routes = router(app.clone());
    // HTTP/1.1 only: Twilio's requests and WebSocket upgrades are HTTP/1.1.
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    http.http1().timer(TokioTimer::new()).header_read_timeout(app.settings.limits.header_read);
    let http = Arc::new(http);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();

    // The drain runs beside the accept loop, which goes on taking calls
    // through the pre-stop window while /healthz says 503, and answering
    // /metrics and /livez until the end.
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let drain_app = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        let signalled = tokio::time::Instant::now();
        let deadline = signalled + drain.timeout;
        drain_app.start_draining();
        info!(active = drain_app.active_calls(), pre_stop = ?drain.pre_stop, "draining: /healthz red, still taking calls");
        tokio::time::sleep_until((signalled + drain.pre_stop).min(deadline)).await;
        drain_app.stop_taking_calls();
        info!(
            active = drain_app.active_calls(),
            sockets = drain_app.open_sockets(),
            "pre-stop over: new calls refused"
        );
        let drained = drain_app.drain(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
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

/// Alive while the process serves, draining or not (a liveness probe must
/// not kill a pod that is draining its calls).
async fn livez() -> &'static str {
    "ok\n"
}

/// From SIGTERM on, every HTTP answer closes its connection, so a load
/// balancer's keep-alive connections move to other instances.
async fn close_when_draining(State(app): State<Arc<App>>, mut response: Response) -> Response {
    // (Not on a WebSocket upgrade's 101: that connection is the call's.)
    if app.draining() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}
