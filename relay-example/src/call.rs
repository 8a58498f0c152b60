//! One call's protocol state, without I/O: Twilio and OpenAI messages in,
//! messages to send out. The audio (base64, G.711, resampling, 20 ms
//! framing) is teledsp's [`TwilioBridge`]; this adds what a relay decides:
//! the session settings, barge-in bookkeeping (truncate at what was really
//! heard, cancel, stale marks, late deltas) and tool calls.
//!
//! Barge-in, precisely. Each outbound delta's frames end with a uniquely
//! named mark; Twilio echoes a mark when the audio before it has played. On
//! `input_audio_buffer.speech_started` (or local VAD onset):
//! - Twilio gets `clear`, and the bridge drops its carried partial frame;
//! - the playing item is truncated at `min(confirmed + elapsed, sent)`: the
//!   audio confirmed by the last echoed mark of that item, plus the time
//!   since that echo (or since its first frame went out), never past the
//!   audio actually sent;
//! - an open response is cancelled;
//! - marks Twilio echoes afterwards for the cleared audio are ignored, and
//!   later deltas of the truncated item are dropped.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use teledsp::Error;
use teledsp::bridge::{Api, Audio, BridgeConfig, TwilioBridge};
use teledsp::vad::{Vad, VadEvent};

/// What a call is set up with.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// OpenAI event names.
    pub api: Api,
    /// Audio format on the OpenAI side.
    pub audio: Audio,
    /// System instructions for the session.
    pub instructions: String,
    /// Output voice.
    pub voice: String,
    /// Tool definitions for the session (`tools` array), if any.
    pub tools: Option<serde_json::Value>,
    /// Detect the caller's speech locally too, and barge in on its onset.
    pub local_vad: bool,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            api: Api::Ga,
            audio: Audio::Pcm24k,
            instructions: "You are a helpful phone agent. Keep answers short.".into(),
            voice: "marin".into(),
            tools: None,
            local_vad: false,
        }
    }
}

/// Something to do after a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this text to Twilio.
    Twilio(String),
    /// Send this text to OpenAI.
    OpenAi(String),
    /// The model called a tool: run it, then give `Call::tool_result` the output.
    Tool(ToolCall),
    /// Twilio ended the stream.
    Stop,
}

/// A function call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// OpenAI's id for the call, to answer with.
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// JSON arguments, as the model wrote them.
    pub arguments: String,
}

/// Counters a call keeps (the server's metrics sum them).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Twilio media frames received.
    pub frames_in: u64,
    /// 20 ms frames sent to Twilio.
    pub frames_out: u64,
    /// Barge-ins (server or local VAD).
    pub barge_ins: u64,
    /// Deltas dropped because their item was truncated.
    pub late_deltas: u64,
    /// Marks ignored because their audio was cleared.
    pub stale_marks: u64,
    /// `error` events from OpenAI.
    pub upstream_errors: u64,
}

#[derive(Debug)]
struct Playing {
    item_id: String,
    /// Audio sent to Twilio for this item, ms.
    sent_ms: u64,
    /// Audio of this item Twilio confirmed played (by mark), ms.
    confirmed_ms: u64,
    /// When `confirmed_ms` was last updated (or the first frame went out).
    since: Instant,
}

#[derive(Debug)]
struct Mark {
    number: u64,
    item_id: String,
    end_ms: u64,
}

// What routing needs, and the delta itself: each event is parsed once, here,
// and the delta handed to the bridge as it is.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow)]
    item_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<Cow<'a, str>>,
}

const FRAME_MS: u64 = 20;

/// One call. See the module docs.
#[derive(Debug)]
pub struct Call {
    cfg: CallConfig,
    bridge: TwilioBridge,
    playing: Option<Playing>,
    marks: VecDeque<Mark>,
    /// Marks numbered up to this were outstanding at the last clear.
    stale_upto: u64,
    truncated: HashSet<String>,
    response_open: bool,
    vad: Option<Vad>,
    /// Echoed marks already accounted for (the bridge's count).
    marks_seen: u64,
    counters: Counters,
}

impl Call {
    /// A new call.
    pub fn new(cfg: CallConfig) -> Result<Self, Error> {
        let bridge = TwilioBridge::new(BridgeConfig { api: cfg.api, audio: cfg.audio, ..Default::default() })?;
        let vad = if cfg.local_vad { Some(Vad::new(8000, 20)?) } else { None };
        Ok(Call {
            cfg,
            bridge,
            playing: None,
            marks: VecDeque::new(),
            stale_upto: 0,
            truncated: HashSet::new(),
            response_open: false,
            vad,
            marks_seen: 0,
            counters: Counters::default(),
        })
    }

    /// The Twilio call SID, once `start` arrived.
    pub fn call_sid(&self) -> Option<&str> {
        self.bridge.call_sid()
    }

    /// The `<Parameter>`s Twilio passed in `start`.
    pub fn custom_parameters(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.bridge.custom_parameters()
    }

    /// Whether Twilio sent `start`.
    pub fn started(&self) -> bool {
        self.bridge.stream_sid().is_some()
    }

    /// This call's counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The first message to OpenAI: the session settings.
    pub fn session_update(&self) -> String {
        let c = &self.cfg;
        let session = match c.api {
            Api::Ga => {
                let format = match c.audio {
                    Audio::Pcm24k => json!({"type": "audio/pcm", "rate": 24000}),
                    Audio::Pcmu => json!({"type": "audio/pcmu"}),
                };
                let mut s = json!({
                    "type": "realtime",
                    "instructions": c.instructions,
                    "audio": {
                        "input": {"format": format, "turn_detection": {"type": "server_vad"}},
                        "output": {"format": format, "voice": c.voice},
                    },
                });
                if let Some(t) = &c.tools {
                    s["tools"] = t.clone();
                }
                s
            }
            Api::Beta => {
                let format = match c.audio {
                    Audio::Pcm24k => "pcm16",
                    Audio::Pcmu => "g711_ulaw",
                };
                let mut s = json!({
                    "modalities": ["audio", "text"],
                    "instructions": c.instructions,
                    "voice": c.voice,
                    "input_audio_format": format,
                    "output_audio_format": format,
                    "turn_detection": {"type": "server_vad"},
                });
                if let Some(t) = &c.tools {
                    s["tools"] = t.clone();
                }
                s
            }
        };
        json!({"type": "session.update", "session": session}).to_string()
    }

    /// One Twilio message in.
    pub fn on_twilio(&mut self, message: &str, now: Instant, out: &mut Vec<Action>) -> Result<(), Error> {
        if let Some(append) = self.bridge.twilio_to_openai(message)? {
            self.counters.frames_in += 1;
            out.push(Action::OpenAi(append));
            if let Some(vad) = &mut self.vad {
                let onset = match self.bridge.last_inbound_ulaw() {
                    Some(frame) if frame.len() == vad.frame_len() => {
                        vad.process_ulaw(frame)?;
                        matches!(vad.last_event(), Some(VadEvent::SpeechStart { .. }))
                    }
                    _ => false,
                };
                if onset && self.playing.is_some() {
                    self.barge_in(now, out);
                }
            }
        }
        if self.bridge.marks_received() != self.marks_seen {
            self.marks_seen = self.bridge.marks_received();
            let number = self.bridge.last_mark().and_then(|n| n.strip_prefix("teledsp-")).and_then(|n| n.parse().ok());
            if let Some(number) = number {
                self.on_mark(number, now);
            }
        }
        if self.bridge.stopped() {
            out.push(Action::Stop);
        }
        Ok(())
    }

    /// One OpenAI server event in.
    pub fn on_openai(&mut self, message: &str, now: Instant, out: &mut Vec<Action>) -> Result<(), Error> {
        let peek: Peek = serde_json::from_str(message)
            .map_err(|e| Error::malformed_by("OpenAI event is not the expected JSON", e))?;
        match &*peek.kind {
            k if k == self.bridge.delta_type() => {
                let item = peek.item_id.as_deref().unwrap_or("");
                if self.truncated.contains(item) {
                    self.counters.late_deltas += 1;
                    return Ok(());
                }
                let delta = peek.delta.ok_or_else(|| Error::malformed("OpenAI audio delta without delta"))?;
                let msgs = self.bridge.audio_delta_to_twilio(&delta)?;
                let frames = msgs.len().saturating_sub(1) as u64; // the last one is the mark
                if frames == 0 {
                    return Ok(());
                }
                let p = match &mut self.playing {
                    Some(p) if p.item_id == item => p,
                    slot => slot.insert(Playing { item_id: item.to_owned(), sent_ms: 0, confirmed_ms: 0, since: now }),
                };
                p.sent_ms += frames * FRAME_MS;
                self.marks.push_back(Mark {
                    number: self.bridge.marks_sent(),
                    item_id: item.to_owned(),
                    end_ms: p.sent_ms,
                });
                self.counters.frames_out += frames;
                out.extend(msgs.into_iter().map(Action::Twilio));
            }
            "input_audio_buffer.speech_started" => self.barge_in(now, out),
            "response.created" => self.response_open = true,
            "error" => self.counters.upstream_errors += 1,
            "response.done" | "response.cancelled" => self.response_open = false,
            "response.function_call_arguments.done" => {
                let (Some(call_id), Some(name)) = (peek.call_id, peek.name) else {
                    return Err(Error::malformed("function call without call_id or name"));
                };
                out.push(Action::Tool(ToolCall {
                    call_id: call_id.into_owned(),
                    name: name.into_owned(),
                    arguments: peek.arguments.map(Cow::into_owned).unwrap_or_else(|| "{}".into()),
                }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The messages that answer a tool call: its output (or error text, which
    /// the model can speak about), then a request for the next response.
    pub fn tool_result(&self, call_id: &str, output: &str) -> [String; 2] {
        [
            json!({
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            })
            .to_string(),
            json!({"type": "response.create"}).to_string(),
        ]
    }

    /// Twilio echoed mark `teledsp-{number}`.
    fn on_mark(&mut self, number: u64, now: Instant) {
        if number <= self.stale_upto {
            self.counters.stale_marks += 1;
            return;
        }
        while let Some(m) = self.marks.front() {
            if m.number > number {
                break;
            }
            let m = self.marks.pop_front().expect("front exists");
            if let Some(p) = &mut self.playing
                && p.item_id == m.item_id
            {
                p.confirmed_ms = m.end_ms;
                p.since = now;
            }
        }
    }

    fn barge_in(&mut self, now: Instant, out: &mut Vec<Action>) {
        // Twilio's `clear`; the bridge also drops its partial frame.
        out.push(Action::Twilio(self.bridge.clear()));
        // A barge-in interrupts something; a turn start over silence does not count.
        if self.playing.is_some() || self.response_open {
            self.counters.barge_ins += 1;
        }
        if let Some(p) = self.playing.take()
            && p.sent_ms > p.confirmed_ms
        {
            let elapsed = now.saturating_duration_since(p.since).as_millis() as u64;
            let end = (p.confirmed_ms + elapsed).min(p.sent_ms);
            out.push(Action::OpenAi(
                json!({"type": "conversation.item.truncate", "item_id": p.item_id, "content_index": 0, "audio_end_ms": end})
                    .to_string(),
            ));
            self.truncated.insert(p.item_id);
        }
        if self.response_open {
            out.push(Action::OpenAi(json!({"type": "response.cancel"}).to_string()));
            self.response_open = false;
        }
        self.stale_upto = self.bridge.marks_sent();
        self.marks.clear();
    }
}

/// Playing time of `frames` 20 ms frames.
pub fn frames_duration(frames: u64) -> Duration {
    Duration::from_millis(frames * FRAME_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64_simd::STANDARD;

    const SID: &str = "MZ1";

    fn start() -> String {
        json!({"event": "start", "streamSid": SID, "start": {"streamSid": SID, "callSid": "CA1", "customParameters": {"k": "v"}}})
            .to_string()
    }

    fn delta(item: &str, ms: usize) -> String {
        let pcm = vec![0u8; ms * 48]; // 24 kHz PCM16
        json!({"type": "response.output_audio.delta", "item_id": item, "delta": STANDARD.encode_to_string(pcm)})
            .to_string()
    }

    fn mark(n: u64) -> String {
        json!({"event": "mark", "streamSid": SID, "mark": {"name": format!("teledsp-{n}")}}).to_string()
    }

    fn openai_sent(out: &[Action]) -> Vec<serde_json::Value> {
        out.iter()
            .filter_map(|a| match a {
                Action::OpenAi(t) => Some(serde_json::from_str(t).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn twilio_events(out: &[Action]) -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Twilio(t) => {
                    Some(serde_json::from_str::<serde_json::Value>(t).unwrap()["event"].as_str().unwrap().to_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// A call that has played item A: 3 deltas of 200 ms sent at t0, the
    /// first mark echoed at t0 + 200 ms, a response open.
    fn playing(t0: Instant) -> (Call, Vec<Action>) {
        let mut c = Call::new(CallConfig::default()).unwrap();
        let mut out = Vec::new();
        c.on_twilio(&start(), t0, &mut out).unwrap();
        c.on_openai(r#"{"type":"response.created","response":{"id":"r1"}}"#, t0, &mut out).unwrap();
        for _ in 0..3 {
            c.on_openai(&delta("A", 200), t0, &mut out).unwrap();
        }
        assert_eq!(twilio_events(&out).iter().filter(|e| *e == "media").count(), 30);
        assert_eq!(twilio_events(&out).iter().filter(|e| *e == "mark").count(), 3);
        out.clear();
        c.on_twilio(&mark(1), t0 + Duration::from_millis(200), &mut out).unwrap();
        assert!(out.is_empty());
        (c, out)
    }

    #[test]
    fn barge_in_truncates_at_confirmed_plus_elapsed() {
        let t0 = Instant::now();
        let (mut c, mut out) = playing(t0);
        // 150 ms after the first mark's echo: 200 + 150 = 350 ms heard.
        c.on_openai(
            r#"{"type":"input_audio_buffer.speech_started","audio_start_ms":900,"item_id":"U1"}"#,
            t0 + Duration::from_millis(350),
            &mut out,
        )
        .unwrap();
        assert_eq!(twilio_events(&out), ["clear"]);
        let sent = openai_sent(&out);
        assert_eq!(
            sent[0],
            json!({"type": "conversation.item.truncate", "item_id": "A", "content_index": 0, "audio_end_ms": 350})
        );
        assert_eq!(sent[1], json!({"type": "response.cancel"}));
        assert_eq!(sent.len(), 2);
        assert_eq!(c.counters().barge_ins, 1);
    }

    #[test]
    fn truncation_never_passes_the_audio_sent() {
        let t0 = Instant::now();
        let (mut c, mut out) = playing(t0);
        // Long after: everything sent (600 ms) may have played, no more.
        c.on_openai(r#"{"type":"input_audio_buffer.speech_started"}"#, t0 + Duration::from_secs(5), &mut out).unwrap();
        assert_eq!(openai_sent(&out)[0]["audio_end_ms"], 600);
    }

    #[test]
    fn without_any_mark_elapsed_counts_from_the_first_frame() {
        let t0 = Instant::now();
        let mut c = Call::new(CallConfig::default()).unwrap();
        let mut out = Vec::new();
        c.on_twilio(&start(), t0, &mut out).unwrap();
        c.on_openai(&delta("A", 400), t0, &mut out).unwrap();
        out.clear();
        c.on_openai(r#"{"type":"input_audio_buffer.speech_started"}"#, t0 + Duration::from_millis(120), &mut out)
            .unwrap();
        let sent = openai_sent(&out);
        assert_eq!(sent[0]["audio_end_ms"], 120);
        assert_eq!(sent.len(), 1, "no response was open, so nothing to cancel");
    }

    #[test]
    fn stale_marks_and_late_deltas_are_ignored_after_a_clear() {
        let t0 = Instant::now();
        let (mut c, mut out) = playing(t0);
        c.on_openai(r#"{"type":"input_audio_buffer.speech_started"}"#, t0 + Duration::from_millis(300), &mut out)
            .unwrap();
        out.clear();
        // Twilio echoes the cleared marks 2 and 3 after the clear.
        c.on_twilio(&mark(2), t0 + Duration::from_millis(310), &mut out).unwrap();
        c.on_twilio(&mark(3), t0 + Duration::from_millis(311), &mut out).unwrap();
        assert_eq!(c.counters().stale_marks, 2);
        // A late delta of the truncated item is dropped; the next item plays.
        c.on_openai(&delta("A", 200), t0 + Duration::from_millis(320), &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(c.counters().late_deltas, 1);
        c.on_openai(&delta("B", 200), t0 + Duration::from_millis(400), &mut out).unwrap();
        assert_eq!(twilio_events(&out).len(), 11);
        // B's own mark (4) is not stale: a second barge-in uses it.
        out.clear();
        c.on_twilio(&mark(4), t0 + Duration::from_millis(600), &mut out).unwrap();
        c.on_openai(&delta("B", 200), t0 + Duration::from_millis(600), &mut out).unwrap();
        out.clear();
        c.on_openai(r#"{"type":"input_audio_buffer.speech_started"}"#, t0 + Duration::from_millis(650), &mut out)
            .unwrap();
        assert_eq!(
            openai_sent(&out)[0],
            json!({"type": "conversation.item.truncate", "item_id": "B", "content_index": 0, "audio_end_ms": 250})
        );
    }

    #[test]
    fn fully_played_items_are_not_truncated() {
        let t0 = Instant::now();
        let (mut c, mut out) = playing(t0);
        c.on_twilio(&mark(3), t0 + Duration::from_millis(600), &mut out).unwrap();
        c.on_openai(
            r#"{"type":"response.done","response":{"status":"completed"}}"#,
            t0 + Duration::from_millis(600),
            &mut out,
        )
        .unwrap();
        c.on_openai(r#"{"type":"input_audio_buffer.speech_started"}"#, t0 + Duration::from_millis(900), &mut out)
            .unwrap();
        assert_eq!(twilio_events(&out), ["clear"]);
        assert!(openai_sent(&out).is_empty());
    }

    #[test]
    fn tool_calls_and_their_answers() {
        let mut c = Call::new(CallConfig::default()).unwrap();
        let mut out = Vec::new();
        let now = Instant::now();
        c.on_openai(
            r#"{"type":"response.function_call_arguments.done","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"}"#,
            now,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            [Action::Tool(ToolCall {
                call_id: "call_1".into(),
                name: "weather".into(),
                arguments: r#"{"city":"Paris"}"#.into()
            })]
        );
        let [item, create] = c.tool_result("call_1", r#"{"temp":21}"#);
        let item: serde_json::Value = serde_json::from_str(&item).unwrap();
        assert_eq!(
            item["item"],
            json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\":21}"})
        );
        assert_eq!(create, r#"{"type":"response.create"}"#);
        assert!(c.on_openai(r#"{"type":"response.function_call_arguments.done"}"#, now, &mut out).is_err());
    }

    #[test]
    fn session_update_shapes() {
        let ga: serde_json::Value =
            serde_json::from_str(&Call::new(CallConfig::default()).unwrap().session_update()).unwrap();
        assert_eq!(ga["session"]["type"], "realtime");
        assert_eq!(ga["session"]["audio"]["input"]["format"], json!({"type": "audio/pcm", "rate": 24000}));
        assert_eq!(ga["session"]["audio"]["input"]["turn_detection"]["type"], "server_vad");
        let beta = CallConfig { api: Api::Beta, audio: Audio::Pcmu, ..CallConfig::default() };
        let beta: serde_json::Value = serde_json::from_str(&Call::new(beta).unwrap().session_update()).unwrap();
        assert_eq!(beta["session"]["input_audio_format"], "g711_ulaw");
        assert!(beta["session"].get("type").is_none());
    }

    #[test]
    fn openai_error_events_are_counted() {
        let mut c = Call::new(CallConfig::default()).unwrap();
        let mut out = Vec::new();
        let e = r#"{"type":"error","error":{"type":"invalid_request_error","code":"x","message":"y"}}"#;
        c.on_openai(e, Instant::now(), &mut out).unwrap();
        assert_eq!(c.counters().upstream_errors, 1);
        assert!(out.is_empty());
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let mut c = Call::new(CallConfig::default()).unwrap();
        let mut out = Vec::new();
        let now = Instant::now();
        for bad in [
            "",
            "{",
            "[]",
            r#"{"type":"response.output_audio.delta","delta":"%%%"}"#,
            r#"{"type":"response.output_audio.delta","item_id":"A","delta":"AAEC"}"#,
        ] {
            assert!(c.on_openai(bad, now, &mut out).is_err(), "{bad}");
        }
        for bad in ["", "{}", r#"{"event":"media","media":{"payload":"@@"}}"#] {
            assert!(c.on_twilio(bad, now, &mut out).is_err(), "{bad}");
        }
        assert!(out.is_empty());
    }
}
