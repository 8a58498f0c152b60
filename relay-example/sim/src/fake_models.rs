//! Stand-ins for Gemini Live and ElevenLabs Agents, for the relay's tests:
//! real WebSocket servers speaking each API's messages as its docs give
//! them (Gemini: <https://ai.google.dev/api/live>; ElevenLabs:
//! <https://elevenlabs.io/docs/agents-platform/api-reference/agents-platform/websocket>).
//!
//! Scripted like the fake OpenAI's test modes: the session handshake
//! (Gemini `setup` -> `setupComplete`; ElevenLabs
//! `conversation_initiation_client_data` -> `conversation_initiation_metadata`
//! and a `ping`), then, once `turn_after_ms` of caller audio has arrived,
//! an answer of `answer_ms` of a tone at the API's output rate, streamed in
//! 100 ms pieces at 5x real time; `barge_in_at_ms` after the answer started
//! the caller is reported talking (Gemini `serverContent.interrupted`,
//! ElevenLabs `interruption`) and the rest of the answer is dropped, as the
//! services do. Every client message is checked against the API's shapes;
//! what is wrong is logged in `errors`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64_simd::STANDARD as B64;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Gemini Live (`BidiGenerateContent`): 16 kHz in, 24 kHz out.
    Gemini,
    /// ElevenLabs Agents, `pcm_16000` both ways.
    ElevenLabs,
}

/// The script.
#[derive(Debug, Clone, Copy)]
pub struct ModelFakeConfig {
    /// The API.
    pub api: Api,
    /// Caller audio before the answer, ms.
    pub turn_after_ms: u64,
    /// The answer's length, ms.
    pub answer_ms: u64,
    /// When the caller is reported talking over the answer, ms after it started.
    pub barge_in_at_ms: Option<u64>,
}

/// What the fake saw.
#[derive(Debug, Default, Clone)]
pub struct ModelLog {
    /// Every client message.
    pub messages: Vec<Value>,
    /// Client messages that are not the API's shape, and why.
    pub errors: Vec<String>,
    /// Caller audio received, ms.
    pub appended_ms: u64,
    /// The API key header was present.
    pub key_header: bool,
    /// Pongs received for the fake's pings (ElevenLabs).
    pub pongs: u64,
    /// Answer audio sent, ms.
    pub answered_ms: u64,
}

/// A running fake.
#[derive(Clone)]
pub struct ModelFake {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub log: Arc<Mutex<ModelLog>>,
}

impl ModelFake {
    /// Its WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
    /// Client messages with a top-level key (Gemini) or `type` (ElevenLabs) `kind`.
    pub fn messages(&self, kind: &str) -> Vec<Value> {
        let log = self.log.lock().unwrap();
        log.messages.iter().filter(|m| m.get(kind).is_some() || m["type"] == kind).cloned().collect()
    }
}

#[derive(Clone)]
struct Shared {
    cfg: ModelFakeConfig,
    log: Arc<Mutex<ModelLog>>,
}

/// Starts a fake on `listener`.
pub fn spawn(listener: tokio::net::TcpListener, cfg: ModelFakeConfig) -> std::io::Result<ModelFake> {
    let addr = listener.local_addr()?;
    let log = Arc::new(Mutex::new(ModelLog::default()));
    let app = Router::new().route("/ws", get(upgrade)).with_state(Shared { cfg, log: log.clone() });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(ModelFake { addr, log })
}

async fn upgrade(State(s): State<Shared>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let key = match s.cfg.api {
        Api::Gemini => "x-goog-api-key",
        Api::ElevenLabs => "xi-api-key",
    };
    s.log.lock().unwrap().key_header = headers.get(key).is_some_and(|v| !v.is_empty());
    ws.on_upgrade(move |socket| session(s, socket))
}

/// A tone at `rate`, `ms` long, PCM16LE.
fn tone(rate: u64, ms: u64) -> Vec<u8> {
    (0..rate * ms / 1000)
        .flat_map(|i| {
            (((2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin() * 8000.0) as i16).to_le_bytes()
        })
        .collect()
}

async fn session(s: Shared, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let cfg = s.cfg;
    tokio::spawn(async move {
        while let Some(t) = out_rx.recv().await {
            // Gemini Live's service sends its JSON in binary frames (opcode
            // 2; google-genai reads frames whatever their type); ElevenLabs
            // sends text.
            let m = match cfg.api {
                Api::Gemini => Message::Binary(t.into_bytes().into()),
                Api::ElevenLabs => Message::Text(t.into()),
            };
            if tx.send(m).await.is_err() {
                break;
            }
        }
    });
    let err = |why: String| s.log.lock().unwrap().errors.push(why);
    let mut answered = false;
    while let Some(Ok(msg)) = rx.next().await {
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => {
                err("a binary message: both APIs take JSON text".into());
                continue;
            }
            _ => continue, // ping, pong, close
        };
        let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
            err(format!("not JSON: {}", &text.as_str()[..text.len().min(80)]));
            continue;
        };
        let audio = match cfg.api {
            Api::Gemini => gemini(&v, &out, &err),
            Api::ElevenLabs => elevenlabs(&v, &out, &err, &s.log),
        };
        let appended = {
            let mut log = s.log.lock().unwrap();
            log.messages.push(v);
            log.appended_ms += audio;
            log.appended_ms
        };
        if !answered && appended >= cfg.turn_after_ms {
            answered = true;
            tokio::spawn(answer(cfg, out.clone(), s.log.clone()));
        }
    }
}

/// Checks one Gemini client message; answers `setup`; returns the caller
/// audio it carried, ms.
fn gemini(v: &Value, out: &mpsc::UnboundedSender<String>, err: &impl Fn(String)) -> u64 {
    let keys: Vec<&str> = v.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    if keys.len() != 1 || !["setup", "realtimeInput", "clientContent", "toolResponse"].contains(&keys[0]) {
        err(format!("a Gemini client message has one of setup, realtimeInput, clientContent, toolResponse: {keys:?}"));
        return 0;
    }
    match keys[0] {
        "setup" => {
            if !v["setup"]["model"].as_str().is_some_and(|m| m.starts_with("models/")) {
                err("setup.model is not models/...".into());
            }
            if v["setup"]["generationConfig"]["responseModalities"] != json!(["AUDIO"]) {
                err("setup.generationConfig.responseModalities is not [AUDIO]".into());
            }
            let _ = out.send(json!({"setupComplete": {}}).to_string());
            0
        }
        "realtimeInput" => {
            let a = &v["realtimeInput"]["audio"];
            if a.is_null() {
                return 0; // activityStart / activityEnd
            }
            if a["mimeType"] != "audio/pcm;rate=16000" {
                err(format!("realtimeInput.audio.mimeType is {}", a["mimeType"]));
            }
            match a["data"].as_str().and_then(|d| B64.decode_to_vec(d).ok()) {
                Some(b) if b.len() % 2 == 0 => b.len() as u64 / 32,
                _ => {
                    err("realtimeInput.audio.data is not base64 PCM16".into());
                    0
                }
            }
        }
        _ => 0,
    }
}

/// Checks one ElevenLabs client message; answers the initiation; returns
/// the caller audio it carried, ms.
fn elevenlabs(v: &Value, out: &mpsc::UnboundedSender<String>, err: &impl Fn(String), log: &Mutex<ModelLog>) -> u64 {
    if let Some(chunk) = v.get("user_audio_chunk") {
        if v.as_object().is_some_and(|m| m.len() != 1) {
            err("user_audio_chunk carries other fields".into());
        }
        return match chunk.as_str().and_then(|d| B64.decode_to_vec(d).ok()) {
            Some(b) if b.len() % 2 == 0 => b.len() as u64 / 32,
            _ => {
                err("user_audio_chunk is not base64 PCM16".into());
                0
            }
        };
    }
    match v["type"].as_str() {
        Some("conversation_initiation_client_data") => {
            let _ = out.send(
                json!({"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event": {
                    "conversation_id": "conv_fake", "agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000"}})
                .to_string(),
            );
            let _ = out.send(json!({"type": "ping", "ping_event": {"event_id": 1, "ping_ms": 20}}).to_string());
        }
        Some("pong") => {
            if v["event_id"] != 1 {
                err(format!("pong for event {} (the ping was 1)", v["event_id"]));
            }
            log.lock().unwrap().pongs += 1;
        }
        Some("contextual_update") => {
            if !v["text"].is_string() {
                err("contextual_update without text".into());
            }
        }
        Some("client_tool_result" | "user_message" | "user_activity") => {}
        other => err(format!("unknown ElevenLabs client message type {other:?}")),
    }
    0
}

/// Streams the answer, 100 ms per 20 ms, until it ends or the barge-in.
async fn answer(cfg: ModelFakeConfig, out: mpsc::UnboundedSender<String>, log: Arc<Mutex<ModelLog>>) {
    let rate = if cfg.api == Api::Gemini { 24000 } else { 16000 };
    let piece = tone(rate, 100);
    if cfg.api == Api::ElevenLabs {
        let _ = out
            .send(json!({"type": "agent_response", "agent_response_event": {"agent_response": "A tone."}}).to_string());
    }
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let started = tokio::time::Instant::now();
    while sent < cfg.answer_ms {
        tick.tick().await;
        if cfg.barge_in_at_ms.is_some_and(|b| started.elapsed() >= Duration::from_millis(b)) {
            break;
        }
        let data = B64.encode_to_string(&piece);
        let msg = match cfg.api {
            Api::Gemini => {
                json!({"serverContent": {"modelTurn": {"role": "model", "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}}})
            }
            Api::ElevenLabs => json!({"type": "audio", "audio_event": {"audio_base_64": data, "event_id": 2}}),
        };
        let _ = out.send(msg.to_string());
        sent += 100;
        log.lock().unwrap().answered_ms = sent;
    }
    if let Some(b) = cfg.barge_in_at_ms {
        let wait = Duration::from_millis(b).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let msg = match cfg.api {
            Api::Gemini => json!({"serverContent": {"interrupted": true}}),
            Api::ElevenLabs => json!({"type": "interruption", "interruption_event": {"event_id": 2}}),
        };
        let _ = out.send(msg.to_string());
    } else if cfg.api == Api::Gemini {
        let _ = out.send(json!({"serverContent": {"generationComplete": true}}).to_string());
        let _ = out.send(json!({"serverContent": {"turnComplete": true}}).to_string());
    }
}
