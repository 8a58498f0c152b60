//! One call: the `/media` upgrade, then the loop that feeds the engine the
//! phone's and the model's messages and the time, and carries out what it
//! returns.

use super::answer::{header_pairs, stopping, unix_now};
use super::phone_out::{PhoneOut, WriterEnd, bounded};
use super::upstream::connect_upstream;
use super::{App, MAX_MEDIA_MESSAGE, PHONE_READ_BUFFER, WARNINGS_PER_CALL};
use crate::metrics::Phase;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use teledsp::call::{Call, Event, Output, PhoneKind};
use teledsp::providers::Upgrade;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{self};
use tracing::{info, warn};

pub(super) async fn media(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(r) = stopping(&app) {
        return r;
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/media");
    let (refused, bearer) = match app.gate.upgrade(path, &header_pairs(&headers)) {
        Upgrade::Accept { bearer } => (None, bearer),
        Upgrade::Refuse(reason) => {
            app.metrics.signature_rejections.inc();
            (Some(reason), None)
        }
    };
    let ws =
        ws.max_message_size(MAX_MEDIA_MESSAGE).max_frame_size(MAX_MEDIA_MESSAGE).read_buffer_size(PHONE_READ_BUFFER);
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

/// Per-call warnings, [`WARNINGS_PER_CALL`] of each kind; the rest counted.
#[derive(Default)]
pub(super) struct Warnings {
    logged: [u32; 4],
    suppressed: u64,
}

#[derive(Clone, Copy)]
pub(super) enum WarnKind {
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
pub(super) enum End {
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
pub(super) enum Inbound {
    Text(String),
    /// Binary audio (Vonage's; refused by the engine for the others).
    Binary(Vec<u8>),
    /// Ping, pong.
    Control,
    Gone(End),
}

pub(super) fn inbound(msg: Option<Result<Message, axum::Error>>) -> Inbound {
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

pub(super) async fn run_call(app: &Arc<App>, socket: WebSocket, bearer: Option<String>) {
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
pub(super) fn check_token(app: &App, call: &Call, sid: &str, bearer: Option<&str>) -> Result<(), End> {
    let Some(stream) = call.stream() else { return Ok(()) };
    app.gate.admit(stream, bearer, unix_now()).map_err(|why| {
        app.metrics.signature_rejections.inc();
        warn!(call_sid = sid, "call refused: {why}");
        End::Unauthorized
    })
}

/// Logs (rate-limited) a message the engine did not know.
pub(super) fn warn_unknown(warnings: &mut Warnings, sid: &str, peer: &str, kind: &str) {
    warnings.warn(
        WarnKind::Unknown,
        sid,
        format_args!("a {peer} message of a type teledsp does not know ({kind:?}); nothing was done with it"),
    );
}

/// Before the stream starts: outputs are dropped (the Started event; the
/// engine keeps no audio before it), unknown messages logged.
pub(super) fn drain_unknown(warnings: &mut Warnings, out: &mut Vec<Output>) {
    for o in out.drain(..) {
        if let Output::Event(Event::Unknown { peer, kind }) = o {
            warn_unknown(warnings, "unknown", peer, &kind);
        }
    }
}

/// A started call: upstream, then messages both ways until one side ends.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_started(
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
pub(super) enum Peer {
    Phone,
    Model,
}

/// A WebSocket message's payload, by frame type.
#[derive(Clone, Copy)]
pub(super) enum Input<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// One message through the call, with its metrics: the counters' growth is
/// added to the server's, malformed messages are counted and skipped.
pub(super) fn handle(
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
pub(super) struct ToolCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// Runs one tool call through the webhook; the output (or an error text the
/// model can speak about) comes back on `done`.
pub(super) fn spawn_tool(app: &Arc<App>, call: &Call, tc: ToolCall, done: mpsc::Sender<(String, String)>) {
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
