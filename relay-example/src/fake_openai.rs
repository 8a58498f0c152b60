//! `teledsp-relay fake-openai`: a local stand-in for the OpenAI Realtime API,
//! faithful enough to run calls, barge-ins and tool calls offline.
//!
//! Per connection it sends `session.created`, validates every client event
//! (GA or beta names, decided by the `session.update` shape or the
//! `OpenAI-Beta` header), and answers `error` events for invalid ones, as
//! the real service does. It runs server VAD on the appended audio
//! (teledsp's VAD): `speech_started`, `speech_stopped`, `committed`, then a
//! response that echoes the caller's utterance back as 24 kHz audio deltas
//! (100 ms each, streamed at [`PACE`] per delta), or, when configured, a
//! function call first. `response.cancel` and `conversation.item.truncate`
//! are honoured and logged for tests. [`Mode::EchoFrames`] instead echoes
//! all appended audio straight back, in deltas of
//! [`FakeConfig::echo_delta_ms`]: the load test's mode.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use teledsp::resample::{Quality, Resampler};
use teledsp::vad::{Vad, VadEvent};
use tokio::sync::mpsc;

/// Time between two 100 ms deltas of a response (faster than real time, as
/// the real service streams).
pub const PACE: Duration = Duration::from_millis(20);

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Server VAD; each utterance is echoed back as a response.
    #[default]
    Conversation,
    /// Appended audio comes straight back: once `echo_delta_ms` of it has
    /// arrived, it is sent as one delta (full-duplex audio, all call long).
    EchoFrames,
}

/// What the fake runs with.
#[derive(Debug, Clone, Default)]
pub struct FakeConfig {
    /// Answering mode.
    pub mode: Mode,
    /// If set, the first utterance is answered by a call of this function;
    /// the echo follows the function's output.
    pub tool: Option<String>,
    /// Scripted turn (tests): after this much appended audio, end the
    /// caller's turn whatever the VAD says, and answer with all of it.
    pub turn_after_ms: Option<u64>,
    /// Scripted interruption (tests): this long into a response's audio,
    /// report `input_audio_buffer.speech_started`, as server VAD does when
    /// the caller talks over the agent.
    pub barge_in_after_ms: Option<u64>,
    /// Scripted interruption by the clock (tests): this long after a
    /// response starts, report `input_audio_buffer.speech_started`, whether
    /// or not its audio is still streaming (the caller is still hearing it).
    pub barge_in_at_ms: Option<u64>,
    /// Answer each turn with this many assistant items (each the echo),
    /// as a response around a tool call does; 0 counts as 1.
    pub items: usize,
    /// Keep the appended audio in the log (tests).
    pub capture: bool,
    /// [`Mode::EchoFrames`]: audio per echoed delta, ms; 0 answers every
    /// append at once with its own audio.
    pub echo_delta_ms: u64,
}

/// Client events the fake received and what it made of them, for tests.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Every client event, as received.
    pub events: Vec<Value>,
    /// `error` events sent back (invalid client events).
    pub errors: Vec<String>,
    /// Audio appended, in ms.
    pub appended_ms: u64,
    /// Connections accepted.
    pub connections: u64,
    /// The appended audio, when `FakeConfig::capture` is set.
    pub audio: Vec<u8>,
}

/// A running fake: its address and its log.
#[derive(Clone)]
pub struct Fake {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub log: Arc<Mutex<Log>>,
}

impl Fake {
    /// `ws://addr/v1/realtime?model=gpt-realtime`.
    pub fn url(&self) -> String {
        format!("ws://{}/v1/realtime?model=gpt-realtime", self.addr)
    }

    /// Client events of type `kind` received so far.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.log.lock().unwrap().events.iter().filter(|e| e["type"] == kind).cloned().collect()
    }
}

#[derive(Clone)]
struct Shared {
    cfg: FakeConfig,
    log: Arc<Mutex<Log>>,
}

/// Starts a fake on `listener` (in the background) and returns its handle.
pub fn spawn(listener: tokio::net::TcpListener, cfg: FakeConfig) -> std::io::Result<Fake> {
    let addr = listener.local_addr()?;
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = Shared { cfg, log: log.clone() };
    let app = Router::new().route("/v1/realtime", get(upgrade)).with_state(shared);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Fake { addr, log })
}

async fn upgrade(State(s): State<Shared>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let beta = headers.get("openai-beta").is_some_and(|v| v.as_bytes().starts_with(b"realtime"));
    let bearer = headers.get("authorization").is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
    ws.max_message_size(16 << 20)
        .read_buffer_size(crate::server::READ_BUFFER)
        .on_upgrade(move |socket| session(s, socket, beta, bearer))
}

struct Conn {
    shared: Shared,
    beta: bool,
    pcmu: bool,
    next_id: u64,
    vad: Vad,
    down: Resampler,
    /// The utterance being spoken (24 kHz PCM, or mu-law), with pre-roll.
    utterance: Vec<u8>,
    /// The last 300 ms before speech, kept for pre-roll.
    recent: std::collections::VecDeque<u8>,
    speaking: bool,
    last_utterance: Vec<u8>,
    audio_ms: u64,
    tool_pending: Option<String>,
    tool_used: bool,
    /// Audio ms sent per item, for validating truncation.
    items: Vec<(String, u64)>,
    cancel: Option<tokio::sync::watch::Sender<bool>>,
    /// [`Mode::EchoFrames`]: appended audio not yet echoed.
    echo: Vec<u8>,
}

impl Conn {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{:04}", self.next_id)
    }
    fn delta_type(&self) -> &'static str {
        if self.beta { "response.audio.delta" } else { "response.output_audio.delta" }
    }
    fn bytes_per_ms(&self) -> usize {
        if self.pcmu { 8 } else { 48 }
    }
}

async fn session(s: Shared, socket: WebSocket, beta: bool, bearer: bool) {
    s.log.lock().unwrap().connections += 1;
    let (mut tx, mut rx) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(t) = out_rx.recv().await {
            if tx.send(Message::Text(t.into())).await.is_err() {
                break;
            }
        }
    });
    let mut c = Conn {
        shared: s.clone(),
        beta,
        pcmu: false,
        next_id: 0,
        vad: Vad::new(8000, 20).expect("8 kHz, 20 ms is supported"),
        down: Resampler::new(24000, 8000, Quality::Telephony).expect("supported pair"),
        utterance: Vec::new(),
        recent: Default::default(),
        speaking: false,
        last_utterance: Vec::new(),
        audio_ms: 0,
        tool_pending: None,
        tool_used: false,
        items: Vec::new(),
        cancel: None,
        echo: Vec::new(),
    };
    let sid = c.id("sess");
    let _ = out.send(
        json!({"type": "session.created", "event_id": c.id("event"), "session": {"id": sid, "type": "realtime"}})
            .to_string(),
    );
    if !bearer {
        error(&c, &out, "invalid_api_key", "missing bearer token");
    }
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Text(text) = msg else { continue };
        handle(&mut c, &out, text.as_str());
    }
    drop(out);
    let _ = writer.await;
}

fn error(c: &Conn, out: &mpsc::UnboundedSender<String>, code: &str, message: &str) {
    c.shared.log.lock().unwrap().errors.push(format!("{code}: {message}"));
    let _ = out.send(
        json!({"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message}})
            .to_string(),
    );
}

/// The shape of the one event that comes 50 times a second, read without
/// building a `Value` (anything else takes the general path).
#[derive(serde::Deserialize)]
struct Append<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    audio: Option<std::borrow::Cow<'a, str>>,
}

fn on_append(c: &mut Conn, out: &mpsc::UnboundedSender<String>, b64: Option<&str>) {
    let Some(b64) = b64 else { return error(c, out, "missing_audio", "append without audio") };
    let Ok(audio) = STANDARD.decode_to_vec(b64) else { return error(c, out, "invalid_base64", "audio is not base64") };
    if !c.pcmu && audio.len() % 2 != 0 {
        return error(c, out, "invalid_audio", "PCM16 audio with an odd byte count");
    }
    let ms = (audio.len() / c.bytes_per_ms()) as u64;
    {
        let mut log = c.shared.log.lock().unwrap();
        log.appended_ms += ms;
        if c.shared.cfg.capture {
            log.audio.extend_from_slice(&audio);
        }
    }
    if c.shared.cfg.mode == Mode::EchoFrames {
        c.echo.extend_from_slice(&audio);
        if c.echo.len() >= c.shared.cfg.echo_delta_ms as usize * c.bytes_per_ms() {
            let echo = std::mem::take(&mut c.echo);
            let _ = out.send(delta_json(c, "resp_echo", "item_echo", &echo));
            c.echo = echo;
            c.echo.clear();
        }
        return;
    }
    append(c, out, &audio);
}

fn handle(c: &mut Conn, out: &mpsc::UnboundedSender<String>, text: &str) {
    if let Ok(a) = serde_json::from_str::<Append>(text)
        && a.kind == "input_audio_buffer.append"
    {
        return on_append(c, out, a.audio.as_deref());
    }
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return error(c, out, "invalid_json", &format!("not JSON: {e}")),
    };
    let kind = v["type"].as_str().unwrap_or("").to_owned();
    if kind != "input_audio_buffer.append" {
        c.shared.log.lock().unwrap().events.push(v.clone());
    }
    match kind.as_str() {
        "session.update" => session_update(c, out, &v),
        "input_audio_buffer.append" => on_append(c, out, v["audio"].as_str()),
        "conversation.item.truncate" => {
            let item = v["item_id"].as_str().unwrap_or("");
            let end = v["audio_end_ms"].as_u64();
            match (c.items.iter().find(|(i, _)| i == item), end) {
                (None, _) => error(c, out, "item_not_found", &format!("no item {item}")),
                (_, None) => error(c, out, "missing_audio_end_ms", "truncate without audio_end_ms"),
                (Some((_, sent)), Some(end)) if end > *sent => {
                    error(c, out, "invalid_audio_end_ms", &format!("audio_end_ms {end} is past the {sent} ms of audio"))
                }
                (Some(_), Some(end)) => {
                    let _ = out.send(json!({"type": "conversation.item.truncated", "item_id": item, "content_index": 0, "audio_end_ms": end}).to_string());
                }
            }
        }
        "conversation.item.delete" => {
            let item = v["item_id"].as_str().unwrap_or("");
            match c.items.iter().position(|(i, _)| i == item) {
                Some(i) => {
                    c.items.remove(i);
                    let _ = out.send(
                        json!({"type": "conversation.item.deleted", "event_id": c.id("event"), "item_id": item})
                            .to_string(),
                    );
                }
                None => error(c, out, "item_not_found", &format!("no item {item}")),
            }
        }
        "response.cancel" => match c.cancel.take() {
            Some(stop) => {
                let _ = stop.send(true);
            }
            None => error(c, out, "response_cancel_not_active", "no response in progress"),
        },
        "conversation.item.create" => {
            let item = &v["item"];
            let call_id = item["call_id"].as_str().unwrap_or("");
            if item["type"] != "function_call_output" || c.tool_pending.as_deref() != Some(call_id) {
                return error(c, out, "invalid_item", "expected the function_call_output of the pending call");
            }
            c.tool_pending = None;
            let _ = out.send(json!({"type": "conversation.item.created", "item": item}).to_string());
        }
        "response.create" => respond(c, out),
        "input_audio_buffer.commit" | "input_audio_buffer.clear" => {}
        other => error(c, out, "unknown_event", &format!("unknown client event type {other:?}")),
    }
}

fn session_update(c: &mut Conn, out: &mpsc::UnboundedSender<String>, v: &Value) {
    let s = &v["session"];
    if s["type"] == "realtime" {
        c.beta = false;
        let fmt = &s["audio"]["input"]["format"];
        match (fmt["type"].as_str(), fmt["rate"].as_u64()) {
            (Some("audio/pcm"), Some(24000)) => c.pcmu = false,
            (Some("audio/pcmu"), _) => c.pcmu = true,
            _ => return error(c, out, "invalid_format", &format!("unsupported GA input format {fmt}")),
        }
    } else if c.beta {
        match s["input_audio_format"].as_str() {
            Some("pcm16") => c.pcmu = false,
            Some("g711_ulaw") => c.pcmu = true,
            other => return error(c, out, "invalid_format", &format!("unsupported beta input format {other:?}")),
        }
    } else {
        return error(c, out, "invalid_session", "GA sessions need session.type = \"realtime\"");
    }
    let _ = out.send(json!({"type": "session.updated", "session": s}).to_string());
}

fn append(c: &mut Conn, out: &mpsc::UnboundedSender<String>, audio: &[u8]) {
    if let Some(turn) = c.shared.cfg.turn_after_ms {
        // Scripted: everything is the utterance; the turn ends at `turn` ms, once.
        if c.audio_ms < turn {
            c.utterance.extend_from_slice(audio);
            c.audio_ms += (audio.len() / c.bytes_per_ms()) as u64;
            if c.audio_ms >= turn {
                let item = c.id("item");
                for kind in [
                    "input_audio_buffer.speech_started",
                    "input_audio_buffer.speech_stopped",
                    "input_audio_buffer.committed",
                ] {
                    let _ = out.send(
                        json!({"type": kind, "event_id": c.id("event"), "item_id": item, "audio_start_ms": 0})
                            .to_string(),
                    );
                }
                c.last_utterance = std::mem::take(&mut c.utterance);
                respond(c, out);
            }
        }
        return;
    }
    // The VAD runs at 8 kHz on 20 ms frames: 24 kHz PCM is resampled down.
    let frames: Vec<Vec<u8>> = if c.pcmu {
        audio.chunks_exact(160).map(<[u8]>::to_vec).collect()
    } else {
        let pcm: Vec<i16> = audio.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let down = c.down.process_i16_vec(&pcm);
        teledsp::g711::ulaw_encode_vec(&down).chunks_exact(160).map(<[u8]>::to_vec).collect()
    };
    for f in frames {
        if c.vad.process_ulaw(&f).is_err() {
            continue;
        }
        c.audio_ms += 20;
        match c.vad.last_event() {
            Some(VadEvent::SpeechStart { at_ms }) => {
                c.speaking = true;
                c.utterance = c.recent.iter().copied().collect();
                let item = c.id("item");
                let _ = out.send(json!({"type": "input_audio_buffer.speech_started", "event_id": c.id("event"), "audio_start_ms": at_ms as u64, "item_id": item}).to_string());
            }
            Some(VadEvent::SpeechEnd { at_ms }) => {
                c.speaking = false;
                let item = c.id("item");
                let _ = out.send(json!({"type": "input_audio_buffer.speech_stopped", "event_id": c.id("event"), "audio_end_ms": at_ms as u64, "item_id": item}).to_string());
                let _ = out.send(
                    json!({"type": "input_audio_buffer.committed", "event_id": c.id("event"), "item_id": item})
                        .to_string(),
                );
                c.last_utterance = std::mem::take(&mut c.utterance);
                respond(c, out);
            }
            None => {}
        }
    }
    if c.speaking {
        c.utterance.extend_from_slice(audio);
    } else {
        c.recent.extend(audio.iter().copied());
        let keep = 300 * c.bytes_per_ms();
        while c.recent.len() > keep {
            c.recent.pop_front();
        }
    }
}

fn delta_json(c: &mut Conn, resp: &str, item: &str, audio: &[u8]) -> String {
    // Written directly (serde_json checks each base64 character for escapes):
    // the type and ids are the fake's own ASCII names, base64 needs no escaping.
    let mut s = format!(
        r#"{{"type":"{}","event_id":"{}","response_id":"{resp}","item_id":"{item}","output_index":0,"content_index":0,"delta":""#,
        c.delta_type(),
        c.id("event")
    );
    STANDARD.encode_append(audio, &mut s);
    s.push_str("\"}");
    s
}

/// Starts a response: a function call first if configured, else the echo of
/// the last utterance, streamed as 100 ms deltas.
fn respond(c: &mut Conn, out: &mpsc::UnboundedSender<String>) {
    if let Some(stop) = c.cancel.take() {
        let _ = stop.send(true);
    }
    let resp = c.id("resp");
    let _ = out.send(json!({"type": "response.created", "event_id": c.id("event"), "response": {"id": resp, "status": "in_progress"}}).to_string());
    if let (Some(name), false) = (c.shared.cfg.tool.clone(), c.tool_used) {
        c.tool_used = true;
        let call_id = c.id("call");
        c.tool_pending = Some(call_id.clone());
        let _ = out.send(
            json!({"type": "response.function_call_arguments.done", "event_id": c.id("event"), "response_id": resp,
                               "item_id": c.id("item"), "output_index": 0, "call_id": call_id, "name": name,
                               "arguments": "{\"city\":\"Paris\"}"})
            .to_string(),
        );
        let _ = out.send(json!({"type": "response.done", "event_id": c.id("event"), "response": {"id": resp, "status": "completed"}}).to_string());
        return;
    }
    // Each item: output_item.added, its deltas, its audio done.
    let chunk = 100 * c.bytes_per_ms();
    let ms = (c.last_utterance.len() / c.bytes_per_ms()) as u64;
    let done_type = if c.beta { "response.audio.done" } else { "response.output_audio.done" };
    let mut script: Vec<(bool, String)> = Vec::new(); // (is a delta, message)
    for index in 0..c.shared.cfg.items.max(1) {
        let item = c.id("item");
        script.push((
            false,
            json!({"type": "response.output_item.added", "event_id": c.id("event"), "response_id": resp,
            "output_index": index, "item": {"id": item, "object": "realtime.item", "type": "message",
            "status": "in_progress", "role": "assistant", "content": []}})
            .to_string(),
        ));
        for a in c.last_utterance.clone().chunks(chunk) {
            script.push((true, delta_json(c, &resp, &item, a)));
        }
        script.push((
            false,
            json!({"type": done_type, "event_id": c.id("event"), "response_id": resp, "item_id": item,
            "output_index": index, "content_index": 0})
            .to_string(),
        ));
        c.items.push((item, ms));
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    c.cancel = Some(stop_tx);
    let out = out.clone();
    let (ev_resp, ev_barge) = (c.id("event"), c.id("event"));
    let barge_after = c.shared.cfg.barge_in_after_ms.map(|ms| (ms / 100) as usize);
    let barge_at = c.shared.cfg.barge_in_at_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let speech_started = json!({"type": "input_audio_buffer.speech_started", "event_id": ev_barge, "audio_start_ms": 0, "item_id": "item_caller"}).to_string();
    tokio::spawn(async move {
        let mut cancelled = false;
        let mut deltas = 0;
        for (is_delta, msg) in script {
            if is_delta {
                if barge_after == Some(deltas) {
                    let _ = out.send(speech_started.clone());
                }
                deltas += 1;
            }
            if *stop_rx.borrow() {
                cancelled = true;
                break;
            }
            let _ = out.send(msg);
            if is_delta {
                tokio::select! {
                    _ = tokio::time::sleep(PACE) => {}
                    _ = stop_rx.changed() => { cancelled = true; break; }
                }
            }
        }
        let status = if cancelled { "cancelled" } else { "completed" };
        let _ = out.send(
            json!({"type": "response.done", "event_id": ev_resp, "response": {"id": resp, "status": status}})
                .to_string(),
        );
        if let Some(at) = barge_at {
            tokio::time::sleep_until(at).await;
            let _ = out.send(speech_started);
        }
    });
}
