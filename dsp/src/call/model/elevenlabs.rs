//! The ElevenLabs Agents adapter (the Agents Platform conversation
//! WebSocket). Message shapes from its API reference
//! (<https://elevenlabs.io/docs/agents-platform/api-reference/agents-platform/websocket>)
//! and client events guide
//! (<https://elevenlabs.io/docs/agents-platform/customization/events/client-events>):
//! `conversation_initiation_client_data`, `user_audio_chunk`, `pong`,
//! `client_tool_result`, `contextual_update` out;
//! `conversation_initiation_metadata`, `audio`, `interruption`, `ping`,
//! `agent_response`, `user_transcript`, `client_tool_call` in.
//!
//! - Audio: the agent's formats, set in its settings and stated in
//!   `conversation_initiation_metadata` (`user_input_audio_format`,
//!   `agent_output_audio_format`: `pcm_16000`, `ulaw_8000`, ...). The call's
//!   `audio` (`pcm16k` or `pcmu`) must match both: a mismatch is reported as
//!   a model error (code `audio_format`), not played as noise.
//! - Turns: `audio_event.event_id` numbers the agent's responses; each is
//!   one item (`elevenlabs-N`). Audio of an id at or below the last
//!   `interruption_event.event_id` is stale and dropped, as the SDKs do.
//!   ElevenLabs sends no end-of-audio event: an item ends at the next
//!   response's audio, at the caller's `user_transcript`, or on a barge-in.
//! - Barge-in: ElevenLabs detects the caller itself and sends `interruption`.
//!   `ping` is answered with `pong` at once.
//!
//! What the caller heard: the protocol has no truncate. ElevenLabs cuts
//! its own record of the interrupted response (`agent_response_correction`)
//! at what it had streamed, not what the phone played. This adapter
//! therefore sends the exact figure as a `contextual_update` (non-
//! interrupting context for the agent): "The caller heard only the first
//! 1.24 s of your last reply; the rest was not heard." A reply the caller
//! never heard is reported the same way with 0 s.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use crate::call::protocol::{ModelAdapter, ModelAudio, ModelEvent, ModelEvents, Session};
use crate::error::Error;
use crate::frame::Format;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    audio_event: Option<AudioEvent<'a>>,
    interruption_event: Option<IdEvent>,
    ping_event: Option<IdEvent>,
    conversation_initiation_metadata_event: Option<Metadata>,
    client_tool_call: Option<ToolCall>,
}

#[derive(Deserialize)]
struct AudioEvent<'a> {
    #[serde(borrow)]
    audio_base_64: Cow<'a, str>,
    event_id: u64,
}

#[derive(Deserialize)]
struct IdEvent {
    event_id: u64,
}

#[derive(Deserialize)]
struct Metadata {
    user_input_audio_format: Option<String>,
    agent_output_audio_format: Option<String>,
}

#[derive(Deserialize)]
struct ToolCall {
    tool_name: String,
    tool_call_id: String,
    #[serde(default)]
    parameters: serde_json::Value,
}

/// ElevenLabs Agents. See the module docs.
///
/// ```
/// use teledsp::call::{ModelAdapter, ModelEvent, elevenlabs::ElevenLabs};
/// let mut e = ElevenLabs::new(teledsp::call::ModelAudio::Pcm16k)?;
/// let ev = e.parse(r#"{"type":"ping","ping_event":{"event_id":7,"ping_ms":50}}"#)?;
/// assert!(matches!(&ev[..], [ModelEvent::Reply(t)] if t == r#"{"event_id":7,"type":"pong"}"#));
/// let ev = e.parse(r#"{"type":"audio","audio_event":{"audio_base_64":"AAAA","event_id":3}}"#)?;
/// assert!(matches!(&ev[..], [.., ModelEvent::AudioDelta { .. }]));
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ElevenLabs {
    format: Format,
    /// The response whose audio is in progress.
    current: Option<u64>,
    last_interrupt: Option<u64>,
}

impl ElevenLabs {
    /// An adapter for an agent whose audio is `audio` both ways (`pcm16k`,
    /// ElevenLabs' default `pcm_16000`, or `pcmu`, `ulaw_8000`).
    pub fn new(audio: ModelAudio) -> Result<Self, Error> {
        let format = match audio {
            ModelAudio::Pcm16k => Format::Pcm16 { rate: 16000 },
            ModelAudio::Pcm24k => Format::Pcm16 { rate: 24000 },
            ModelAudio::Pcmu => Format::Ulaw,
            ModelAudio::Pcma => {
                return Err(Error::InvalidConfig("ElevenLabs Agents has no A-law format: use pcm16k or pcmu".into()));
            }
        };
        Ok(ElevenLabs { format, current: None, last_interrupt: None })
    }

    fn format_name(&self) -> String {
        match self.format {
            Format::Ulaw => "ulaw_8000".into(),
            Format::Alaw => "alaw_8000".into(),
            Format::Pcm16 { rate } => format!("pcm_{rate}"),
        }
    }

    fn end<'a>(&mut self, ev: &mut ModelEvents<'a>) {
        if let Some(id) = self.current.take() {
            let item = item_id(id);
            ev.push(ModelEvent::AudioDone { item_id: Cow::Owned(item.clone()) });
            ev.push(ModelEvent::ResponseDone { response_id: Some(item) });
        }
    }
}

fn item_id(event_id: u64) -> String {
    format!("elevenlabs-{event_id}")
}

impl ModelAdapter for ElevenLabs {
    fn name(&self) -> &'static str {
        "ElevenLabs Agents"
    }

    fn formats(&self) -> (Format, Format) {
        (self.format, self.format)
    }

    fn parse<'a>(&mut self, text: &'a str) -> Result<ModelEvents<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("ElevenLabs event is not the expected JSON", e))?;
        let mut ev = ModelEvents::new();
        match &*m.kind {
            "conversation_initiation_metadata" => {
                let md = m
                    .conversation_initiation_metadata_event
                    .ok_or_else(|| Error::malformed("ElevenLabs metadata without its event"))?;
                let want = self.format_name();
                let (i, o) =
                    (md.user_input_audio_format.unwrap_or_default(), md.agent_output_audio_format.unwrap_or_default());
                if i == want && o == want {
                    ev.push(ModelEvent::SessionUpdated);
                } else {
                    ev.push(ModelEvent::Error {
                        code: Some("audio_format".into()),
                        message: format!(
                            "the agent's audio is {i} in and {o} out, but this call was set up for {want} both ways: change the agent's settings or the call's audio"
                        ),
                    });
                }
            }
            "audio" => {
                let a = m.audio_event.ok_or_else(|| Error::malformed("ElevenLabs audio without audio_event"))?;
                if self.last_interrupt.is_some_and(|l| a.event_id <= l) {
                    ev.push(ModelEvent::Other);
                    return Ok(ev);
                }
                if self.current != Some(a.event_id) {
                    self.end(&mut ev);
                    self.current = Some(a.event_id);
                    let id = item_id(a.event_id);
                    ev.push(ModelEvent::ResponseCreated { response_id: Some(id.clone()) });
                    ev.push(ModelEvent::ItemAdded { item_id: id.clone(), response_id: Some(id) });
                }
                let id = item_id(a.event_id);
                ev.push(ModelEvent::AudioDelta {
                    item_id: Some(Cow::Owned(id.clone())),
                    response_id: Some(Cow::Owned(id)),
                    delta: a.audio_base_64,
                });
            }
            "interruption" => {
                let i = m
                    .interruption_event
                    .ok_or_else(|| Error::malformed("ElevenLabs interruption without its event"))?;
                self.last_interrupt = Some(i.event_id.max(self.last_interrupt.unwrap_or(0)));
                ev.push(ModelEvent::SpeechStarted);
                self.end(&mut ev);
            }
            "user_transcript" => self.end(&mut ev),
            "ping" => {
                let p = m.ping_event.ok_or_else(|| Error::malformed("ElevenLabs ping without ping_event"))?;
                ev.push(ModelEvent::Reply(json!({"type": "pong", "event_id": p.event_id}).to_string()));
            }
            "client_tool_call" => {
                let t = m
                    .client_tool_call
                    .ok_or_else(|| Error::malformed("ElevenLabs client_tool_call without its body"))?;
                ev.push(ModelEvent::ToolCall {
                    call_id: t.tool_call_id,
                    name: t.tool_name,
                    arguments: t.parameters.to_string(),
                });
            }
            k if KNOWN.contains(&k) => ev.push(ModelEvent::Other),
            _ => ev.push(ModelEvent::Unknown(m.kind.clone())),
        }
        Ok(ev)
    }

    fn session_update(&self, c: &Session<'_>) -> String {
        json!({
            "type": "conversation_initiation_client_data",
            "conversation_config_override": {"agent": {"prompt": {"prompt": c.instructions}}},
        })
        .to_string()
    }

    fn append(&self, audio_b64: &str, out: &mut String) {
        out.reserve(24 + audio_b64.len());
        out.push_str(r#"{"user_audio_chunk":""#);
        out.push_str(audio_b64);
        out.push_str(r#""}"#);
    }

    fn truncate(&self, _item_id: &str, audio_end_ms: u64) -> Option<String> {
        let text = format!(
            "The caller heard only the first {:.2} s of your last reply; the rest was not heard.",
            audio_end_ms as f64 / 1000.0
        );
        Some(json!({"type": "contextual_update", "text": text}).to_string())
    }

    fn delete(&self, item_id: &str) -> Option<String> {
        self.truncate(item_id, 0)
    }

    fn cancel(&self) -> Option<String> {
        None
    }

    fn tool_output(&mut self, call_id: &str, output: &str) -> String {
        json!({"type": "client_tool_result", "tool_call_id": call_id, "result": output, "is_error": false}).to_string()
    }

    fn response_create(&self) -> Option<String> {
        None
    }
}

/// Server events ElevenLabs documents that need nothing done here; any other
/// type is [`ModelEvent::Unknown`].
const KNOWN: &[&str] = &[
    "agent_response",
    "agent_response_correction",
    "agent_chat_response_part",
    "agent_tool_response",
    "agent_tool_request",
    "internal_tentative_agent_response",
    "tentative_user_transcript",
    "vad_score",
    "mcp_tool_call",
    "mcp_connection_status",
    "contextual_update",
    "audio_alignment",
];
