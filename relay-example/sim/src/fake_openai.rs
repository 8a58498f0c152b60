//! `teledsp-relay fake-openai`: a local stand-in for the OpenAI Realtime API,
//! faithful enough to run calls, barge-ins and tool calls offline.
//!
//! Every event it sends validates against the official `openai` SDK's
//! server-event models (checked in `tests/sdk/`), GA or beta (decided by
//! the `OpenAI-Beta` header). It takes the client events the service takes
//! over WebSocket and answers as the service documents: `session.updated`
//! with the whole merged session, `committed`, `cleared`, item
//! `added`/`done` (beta `created`), `retrieved`, `deleted`, `truncated`,
//! and `error` events with the service's codes for invalid ones. It runs
//! server VAD (teledsp's VAD) on the appended audio, or takes manual turns
//! (`turn_detection: null` and `commit`), and answers each turn by echoing
//! it as 100 ms audio deltas in the session's format (streamed at [`PACE`]
//! per delta), framed by `output_item` and `content_part` events as the
//! service frames them, or, when configured, with a function call first.
//! [`Mode::EchoFrames`] instead echoes all appended audio straight back, in
//! deltas of [`FakeConfig::echo_delta_ms`]: the load test's mode. Its
//! limits are in the README.

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
    // OpenAI's bearer token, or Azure OpenAI's `api-key` (the same events).
    let bearer = headers.get("authorization").is_some_and(|v| v.as_bytes().starts_with(b"Bearer "))
        || headers.get("api-key").is_some_and(|v| !v.is_empty());
    ws.max_message_size(16 << 20)
        .read_buffer_size(teledsp_relay::server::READ_BUFFER)
        .on_upgrade(move |socket| session(s, socket, beta, bearer))
}

/// The session's audio format (input and output alike: the fake echoes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Pcm,
    Pcmu,
    Pcma,
}

/// One conversation item, for retrieve, delete and truncate.
struct ItemRec {
    id: String,
    item: Value,
    /// Audio sent for it, ms (assistant audio items).
    audio_ms: u64,
}

struct Conn {
    shared: Shared,
    beta: bool,
    format: Format,
    /// The session as configured so far (what `session.updated` returns).
    session: Value,
    next_id: u64,
    vad: Vad,
    down: Resampler,
    /// Server VAD on (`turn_detection` not null).
    server_vad: bool,
    /// The utterance being spoken (session format), with pre-roll.
    utterance: Vec<u8>,
    /// The last 300 ms before speech, kept for pre-roll.
    recent: std::collections::VecDeque<u8>,
    speaking: bool,
    /// The caller item `speech_started` named, until it is committed.
    user_item: Option<String>,
    last_utterance: Vec<u8>,
    /// Audio appended since the last commit or clear (manual turns).
    buffer: Vec<u8>,
    audio_ms: u64,
    tool_pending: Option<String>,
    tool_used: bool,
    items: Vec<ItemRec>,
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
        if self.format == Format::Pcm { 48 } else { 8 }
    }
    /// `v` with an `event_id`, as text.
    fn event(&mut self, mut v: Value) -> String {
        v["event_id"] = Value::String(self.id("event"));
        v.to_string()
    }
    fn emit(&mut self, out: &mpsc::UnboundedSender<String>, v: Value) {
        let t = self.event(v);
        let _ = out.send(t);
    }
    fn last_item_id(&self) -> Value {
        self.items.last().map_or(Value::Null, |i| Value::String(i.id.clone()))
    }
    /// Adds `item` to the conversation and says so, as the service does:
    /// GA `conversation.item.added` then `.done`, beta `conversation.item.created`.
    fn add_item(&mut self, out: &mpsc::UnboundedSender<String>, item: Value, audio_ms: u64) {
        let previous = self.last_item_id();
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        if self.beta {
            self.emit(out, json!({"type": "conversation.item.created", "previous_item_id": previous, "item": item}));
        } else {
            self.emit(out, json!({"type": "conversation.item.added", "previous_item_id": previous, "item": item}));
            self.emit(out, json!({"type": "conversation.item.done", "previous_item_id": previous, "item": item}));
        }
        self.items.push(ItemRec { id, item, audio_ms });
    }
}

/// The session the service starts with (GA or beta shape).
fn initial_session(beta: bool, id: &str) -> Value {
    if beta {
        json!({"id": id, "object": "realtime.session", "model": "gpt-4o-realtime-preview",
               "modalities": ["audio", "text"], "voice": "alloy", "instructions": "",
               "input_audio_format": "pcm16", "output_audio_format": "pcm16",
               "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}})
    } else {
        json!({"type": "realtime", "object": "realtime.session", "id": id, "model": "gpt-realtime",
               "output_modalities": ["audio"], "instructions": "",
               "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                   "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}},
                         "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0}}})
    }
}

/// Merges `update` into `base`: objects key by key, anything else replaced,
/// and so are tagged objects (`format`, `turn_detection`: they have a `type`).
fn merge(base: &mut Value, update: &Value) {
    match (base, update) {
        (Value::Object(b), Value::Object(u)) => {
            for (k, v) in u {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() && v.get("type").is_none() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, u) => *b = u.clone(),
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
        format: Format::Pcm,
        session: Value::Null,
        next_id: 0,
        vad: Vad::new(8000, 20).expect("8 kHz, 20 ms is supported"),
        down: Resampler::new(24000, 8000, Quality::Telephony).expect("supported pair"),
        server_vad: true,
        utterance: Vec::new(),
        recent: Default::default(),
        speaking: false,
        user_item: None,
        last_utterance: Vec::new(),
        buffer: Vec::new(),
        audio_ms: 0,
        tool_pending: None,
        tool_used: false,
        items: Vec::new(),
        cancel: None,
        echo: Vec::new(),
    };
    let sid = c.id("sess");
    c.session = initial_session(beta, &sid);
    let session = c.session.clone();
    c.emit(&out, json!({"type": "session.created", "session": session}));
    if !bearer {
        error(&mut c, &out, "invalid_api_key", "missing bearer token (or Azure api-key)");
    }
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Text(text) = msg else { continue };
        handle(&mut c, &out, text.as_str());
    }
    drop(out);
    let _ = writer.await;
}

fn error(c: &mut Conn, out: &mpsc::UnboundedSender<String>, code: &str, message: &str) {
    c.shared.log.lock().unwrap().errors.push(format!("{code}: {message}"));
    c.emit(out, json!({"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message}}));
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
    let Some(b64) = b64 else { return error(c, out, "missing_required_parameter", "append without audio") };
    let Ok(audio) = STANDARD.decode_to_vec(b64) else { return error(c, out, "invalid_value", "audio is not base64") };
    if c.format == Format::Pcm && audio.len() % 2 != 0 {
        return error(c, out, "invalid_value", "PCM16 audio with an odd byte count");
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
    if !c.server_vad && c.shared.cfg.turn_after_ms.is_none() {
        // Manual turns: held until input_audio_buffer.commit (bounded: 15 min).
        if c.buffer.len() < 15 * 60_000 * c.bytes_per_ms() {
            c.buffer.extend_from_slice(&audio);
        }
        return;
    }
    append(c, out, &audio);
}

fn handle(c: &mut Conn, out: &mpsc::UnboundedSender<String>, text: &str) {
    if let Ok(a) = serde_json::from_str::<Append<'_>>(text)
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
        "input_audio_buffer.commit" => commit(c, out),
        "input_audio_buffer.clear" => {
            c.buffer.clear();
            c.utterance.clear();
            c.emit(out, json!({"type": "input_audio_buffer.cleared"}));
        }
        "conversation.item.truncate" => {
            let item = v["item_id"].as_str().unwrap_or("").to_owned();
            let end = v["audio_end_ms"].as_u64();
            let found = c.items.iter().find(|i| i.id == item).map(|i| i.audio_ms);
            match (found, end, v["content_index"].as_u64()) {
                (None, _, _) => error(c, out, "item_not_found", &format!("no item {item}")),
                (_, None, _) | (_, _, None) => {
                    error(c, out, "missing_required_parameter", "truncate needs audio_end_ms and content_index")
                }
                (Some(sent), Some(end), _) if end > sent => {
                    error(c, out, "invalid_value", &format!("audio_end_ms {end} is past the {sent} ms of audio"))
                }
                (Some(_), Some(end), Some(ci)) => c.emit(
                    out,
                    json!({"type": "conversation.item.truncated", "item_id": item, "content_index": ci, "audio_end_ms": end}),
                ),
            }
        }
        "conversation.item.delete" => {
            let item = v["item_id"].as_str().unwrap_or("").to_owned();
            match c.items.iter().position(|i| i.id == item) {
                Some(i) => {
                    c.items.remove(i);
                    c.emit(out, json!({"type": "conversation.item.deleted", "item_id": item}));
                }
                None => error(c, out, "item_not_found", &format!("no item {item}")),
            }
        }
        "conversation.item.retrieve" => {
            let item = v["item_id"].as_str().unwrap_or("");
            match c.items.iter().find(|i| i.id == item).map(|i| i.item.clone()) {
                Some(it) => c.emit(out, json!({"type": "conversation.item.retrieved", "item": it})),
                None => error(c, out, "item_not_found", &format!("no item {item}")),
            }
        }
        "response.cancel" => match c.cancel.take() {
            Some(stop) => {
                let _ = stop.send(true);
            }
            None => error(c, out, "response_cancel_not_active", "no response in progress"),
        },
        "conversation.item.create" => item_create(c, out, &v["item"]),
        "response.create" => respond(c, out),
        "output_audio_buffer.clear" => {
            // The service takes it over WebRTC and SIP only.
            error(c, out, "invalid_value", "output_audio_buffer.clear is for WebRTC and SIP connections")
        }
        other => error(c, out, "invalid_value", &format!("unknown client event type {other:?}")),
    }
}

fn item_create(c: &mut Conn, out: &mpsc::UnboundedSender<String>, item: &Value) {
    let kind = item["type"].as_str().unwrap_or("");
    let ok = match kind {
        "message" => {
            matches!(item["role"].as_str(), Some("user" | "system" | "assistant")) && item["content"].is_array()
        }
        "function_call" => item["call_id"].is_string() && item["name"].is_string(),
        "function_call_output" => item["call_id"].is_string() && item["output"].is_string(),
        _ => false,
    };
    if !ok {
        return error(c, out, "invalid_value", &format!("not a conversation item the service takes: {item}"));
    }
    if kind == "function_call_output" && c.tool_pending.as_deref() == item["call_id"].as_str() {
        c.tool_pending = None;
    }
    let mut item = item.clone();
    if !item["id"].is_string() {
        item["id"] = Value::String(c.id("item"));
    }
    item["object"] = json!("realtime.item");
    if kind == "message" {
        item["status"] = json!("completed");
    }
    c.add_item(out, item, 0);
}

/// Manual turn end: the buffer becomes a user item; too little is an error.
fn commit(c: &mut Conn, out: &mpsc::UnboundedSender<String>) {
    let audio = if c.server_vad { std::mem::take(&mut c.utterance) } else { std::mem::take(&mut c.buffer) };
    let ms = (audio.len() / c.bytes_per_ms()) as u64;
    if ms < 100 {
        return error(
            c,
            out,
            "input_audio_buffer_commit_empty",
            &format!("buffer too small: expected at least 100ms of audio, but buffer only has {ms}ms"),
        );
    }
    committed(c, out, audio);
}

/// The caller's turn is in the conversation: `committed`, then its item.
fn committed(c: &mut Conn, out: &mpsc::UnboundedSender<String>, audio: Vec<u8>) {
    let item = c.user_item.take().unwrap_or_else(|| c.id("item"));
    let previous = c.last_item_id();
    c.emit(out, json!({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item}));
    let user = json!({"id": item, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                      "content": [{"type": "input_audio", "transcript": null}]});
    c.add_item(out, user, 0);
    c.last_utterance = audio;
}

fn session_update(c: &mut Conn, out: &mpsc::UnboundedSender<String>, v: &Value) {
    let s = &v["session"];
    if !s.is_object() {
        return error(c, out, "missing_required_parameter", "session.update without session");
    }
    let (format, turn) = if s["type"] == "realtime" {
        c.beta = false;
        let format = match &s["audio"]["input"]["format"] {
            Value::Null => c.format,
            fmt => match (fmt["type"].as_str(), fmt["rate"].as_u64()) {
                (Some("audio/pcm"), None | Some(24000)) => Format::Pcm,
                (Some("audio/pcmu"), _) => Format::Pcmu,
                (Some("audio/pcma"), _) => Format::Pcma,
                _ => return error(c, out, "invalid_value", &format!("unsupported GA input format {fmt}")),
            },
        };
        (format, s["audio"]["input"].get("turn_detection"))
    } else if c.beta {
        let format = match s.get("input_audio_format").map(|f| f.as_str()) {
            None => c.format,
            Some(Some("pcm16")) => Format::Pcm,
            Some(Some("g711_ulaw")) => Format::Pcmu,
            Some(Some("g711_alaw")) => Format::Pcma,
            Some(other) => return error(c, out, "invalid_value", &format!("unsupported beta input format {other:?}")),
        };
        (format, s.get("turn_detection"))
    } else {
        return error(c, out, "missing_required_parameter", "Missing required parameter: 'session.type'.");
    };
    c.format = format;
    if let Some(t) = turn {
        c.server_vad = !t.is_null();
    }
    merge(&mut c.session, s);
    let session = c.session.clone();
    c.emit(out, json!({"type": "session.updated", "session": session}));
}

/// 20 ms mu-law frames of `audio` (session format) for the VAD.
fn vad_frames(c: &mut Conn, audio: &[u8]) -> Vec<Vec<u8>> {
    let ulaw = match c.format {
        Format::Pcmu => audio.to_vec(),
        Format::Pcma => teledsp::g711::alaw_to_ulaw_vec(audio),
        Format::Pcm => {
            let pcm: Vec<i16> = audio.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
            teledsp::g711::ulaw_encode_vec(&c.down.process_i16_vec(&pcm))
        }
    };
    ulaw.chunks_exact(160).map(<[u8]>::to_vec).collect()
}

fn append(c: &mut Conn, out: &mpsc::UnboundedSender<String>, audio: &[u8]) {
    if let Some(turn) = c.shared.cfg.turn_after_ms {
        // Scripted: everything is the utterance; the turn ends at `turn` ms, once.
        if c.audio_ms < turn {
            c.utterance.extend_from_slice(audio);
            c.audio_ms += (audio.len() / c.bytes_per_ms()) as u64;
            if c.audio_ms >= turn {
                let item = c.id("item");
                c.user_item = Some(item.clone());
                c.emit(out, json!({"type": "input_audio_buffer.speech_started", "item_id": item, "audio_start_ms": 0}));
                let end = c.audio_ms;
                c.emit(out, json!({"type": "input_audio_buffer.speech_stopped", "item_id": item, "audio_end_ms": end}));
                let utterance = std::mem::take(&mut c.utterance);
                committed(c, out, utterance);
                respond(c, out);
            }
        }
        return;
    }
    for f in vad_frames(c, audio) {
        if c.vad.process_ulaw(&f).is_err() {
            continue;
        }
        c.audio_ms += 20;
        match c.vad.last_event() {
            Some(VadEvent::SpeechStart { at_ms }) => {
                c.speaking = true;
                c.utterance = c.recent.iter().copied().collect();
                let item = c.id("item");
                c.user_item = Some(item.clone());
                c.emit(
                    out,
                    json!({"type": "input_audio_buffer.speech_started", "audio_start_ms": at_ms as u64, "item_id": item}),
                );
            }
            Some(VadEvent::SpeechEnd { at_ms }) => {
                c.speaking = false;
                let item = c.user_item.clone().unwrap_or_default();
                c.emit(
                    out,
                    json!({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms as u64, "item_id": item}),
                );
                let utterance = std::mem::take(&mut c.utterance);
                committed(c, out, utterance);
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
/// the last utterance, streamed as 100 ms deltas, each item framed as the
/// service frames it (`output_item.added`, `content_part.added`, deltas,
/// audio done, `content_part.done`, `output_item.done`).
fn respond(c: &mut Conn, out: &mpsc::UnboundedSender<String>) {
    if let Some(stop) = c.cancel.take() {
        let _ = stop.send(true);
    }
    let resp = c.id("resp");
    let response = |status: &str, output: Value| {
        json!({"id": resp, "object": "realtime.response", "status": status, "output": output,
               "conversation_id": "conv_0001", "output_modalities": ["audio"]})
    };
    c.emit(out, json!({"type": "response.created", "response": response("in_progress", json!([]))}));
    if let (Some(name), false) = (c.shared.cfg.tool.clone(), c.tool_used) {
        c.tool_used = true;
        let call_id = c.id("call");
        let item = c.id("item");
        c.tool_pending = Some(call_id.clone());
        let args = "{\"city\":\"Paris\"}";
        let call = |status: &str, arguments: &str| {
            json!({"id": item, "object": "realtime.item", "type": "function_call", "status": status,
                   "call_id": call_id, "name": name, "arguments": arguments})
        };
        c.emit(out, json!({"type": "response.output_item.added", "response_id": resp, "output_index": 0, "item": call("in_progress", "")}));
        c.emit(
            out,
            json!({"type": "response.function_call_arguments.delta", "response_id": resp, "item_id": item,
                           "output_index": 0, "call_id": call_id, "delta": args}),
        );
        c.emit(
            out,
            json!({"type": "response.function_call_arguments.done", "response_id": resp, "item_id": item,
                           "output_index": 0, "call_id": call_id, "name": name, "arguments": args}),
        );
        let done = call("completed", args);
        c.emit(out, json!({"type": "response.output_item.done", "response_id": resp, "output_index": 0, "item": done}));
        c.items.push(ItemRec { id: item.clone(), item: done.clone(), audio_ms: 0 });
        c.emit(out, json!({"type": "response.done", "response": response("completed", json!([done]))}));
        return;
    }
    let chunk = 100 * c.bytes_per_ms();
    let ms = (c.last_utterance.len() / c.bytes_per_ms()) as u64;
    let (done_type, part_type) =
        if c.beta { ("response.audio.done", "audio") } else { ("response.output_audio.done", "audio") };
    let mut script: Vec<(bool, String)> = Vec::new(); // (is a delta, message)
    let mut outputs = Vec::new();
    for index in 0..c.shared.cfg.items.max(1) {
        let item = c.id("item");
        let message = |status: &str, content: Value| {
            json!({"id": item, "object": "realtime.item", "type": "message", "status": status,
                   "role": "assistant", "content": content})
        };
        let part = json!({"type": part_type, "transcript": ""});
        let content_type = if c.beta { "audio" } else { "output_audio" };
        let done = message("completed", json!([{"type": content_type, "transcript": ""}]));
        let frame = |c: &mut Conn, v: Value| c.event(v);
        script.push((false, frame(c, json!({"type": "response.output_item.added", "response_id": resp, "output_index": index, "item": message("in_progress", json!([]))}))));
        script.push((false, frame(c, json!({"type": "response.content_part.added", "response_id": resp, "item_id": item, "output_index": index, "content_index": 0, "part": part}))));
        for a in c.last_utterance.clone().chunks(chunk) {
            script.push((true, delta_json(c, &resp, &item, a)));
        }
        script.push((false, frame(c, json!({"type": done_type, "response_id": resp, "item_id": item, "output_index": index, "content_index": 0}))));
        script.push((false, frame(c, json!({"type": "response.content_part.done", "response_id": resp, "item_id": item, "output_index": index, "content_index": 0, "part": part}))));
        script.push((
            false,
            frame(
                c,
                json!({"type": "response.output_item.done", "response_id": resp, "output_index": index, "item": done}),
            ),
        ));
        c.items.push(ItemRec { id: item.clone(), item: done.clone(), audio_ms: ms });
        outputs.push(done);
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    c.cancel = Some(stop_tx);
    let out = out.clone();
    let done_completed = c.event(json!({"type": "response.done", "response": response("completed", json!(outputs))}));
    let done_cancelled = c.event(json!({"type": "response.done", "response": response("cancelled", json!([]))}));
    let barge_after = c.shared.cfg.barge_in_after_ms.map(|ms| (ms / 100) as usize);
    let barge_at = c.shared.cfg.barge_in_at_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let speech_started =
        c.event(json!({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "item_caller"}));
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
        let _ = out.send(if cancelled { done_cancelled } else { done_completed });
        if let Some(at) = barge_at {
            tokio::time::sleep_until(at).await;
            let _ = out.send(speech_started);
        }
    });
}
