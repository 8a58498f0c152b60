//! The OpenAI Realtime adapter: server events in, client events out, in the
//! GA interface (`response.output_audio.*`, `session.type = "realtime"`) or
//! the beta one (`response.audio.*`, `OpenAI-Beta: realtime=v1`). Event
//! shapes from the Realtime API reference (client and server events,
//! <https://platform.openai.com/docs/api-reference/realtime>).
//!
//! Audio: `audio/pcm` at 24 kHz, `audio/pcmu` or `audio/pcma` (beta
//! `pcm16`, `g711_ulaw`, `g711_alaw`), the same both ways.
//!
//! Azure OpenAI's Realtime API takes the same events
//! (<https://learn.microsoft.com/azure/ai-foundry/openai/realtime-audio-reference>);
//! only the URL (a deployment) and the `api-key` header differ, which are
//! the relay's: [`OpenAi::azure`] is this adapter under Azure's name.
//!
//! What the caller heard: `conversation.item.truncate` with `audio_end_ms`
//! cuts the item's audio and its transcript at exactly what was played, so
//! the model's context holds only what the caller heard.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use crate::call::protocol::{ModelAdapter, ModelAudio, ModelEvent, ModelEvents, RealtimeVersion, Session};
use crate::error::Error;
use crate::frame::Format;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow)]
    item_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    response_id: Option<Cow<'a, str>>,
    call_id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
    response: Option<Response>,
    item: Option<Item>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Response {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// OpenAI Realtime, GA or beta. See the module docs.
///
/// ```
/// use teledsp::call::RealtimeVersion;
/// use teledsp::call::{ModelAdapter, ModelEvent, openai::OpenAi};
/// let mut m = OpenAi::new(RealtimeVersion::Ga);
/// let ev = m.parse(r#"{"type":"input_audio_buffer.speech_started","audio_start_ms":900,"item_id":"u1"}"#)?;
/// assert!(matches!(ev[..], [ModelEvent::SpeechStarted]));
/// assert_eq!(m.truncate("item_1", 1500).unwrap(), r#"{"audio_end_ms":1500,"content_index":0,"item_id":"item_1","type":"conversation.item.truncate"}"#);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenAi {
    api: RealtimeVersion,
    audio: ModelAudio,
    azure: bool,
}

impl OpenAi {
    /// An adapter speaking `api`'s event names, PCM16 at 24 kHz.
    pub fn new(api: RealtimeVersion) -> Self {
        OpenAi { api, audio: ModelAudio::Pcm24k, azure: false }
    }

    /// An adapter speaking `api`'s event names with `audio` both ways
    /// (`pcm24k`, `pcmu` or `pcma`).
    pub fn with_audio(api: RealtimeVersion, audio: ModelAudio) -> Result<Self, Error> {
        if audio == ModelAudio::Pcm16k {
            return Err(Error::InvalidConfig(
                "OpenAI Realtime takes audio/pcm at 24 kHz, audio/pcmu or audio/pcma, not pcm16k".into(),
            ));
        }
        Ok(OpenAi { api, audio, azure: false })
    }

    /// Azure OpenAI Realtime: the same events (see the module docs).
    pub fn azure(api: RealtimeVersion, audio: ModelAudio) -> Result<Self, Error> {
        Ok(OpenAi { azure: true, ..Self::with_audio(api, audio)? })
    }
}

fn owned(c: Option<Cow<'_, str>>) -> Option<String> {
    c.map(Cow::into_owned)
}

impl ModelAdapter for OpenAi {
    fn name(&self) -> &'static str {
        if self.azure { "Azure OpenAI" } else { "OpenAI" }
    }

    fn formats(&self) -> (Format, Format) {
        let f = match self.audio {
            ModelAudio::Pcmu => Format::Ulaw,
            ModelAudio::Pcma => Format::Alaw,
            ModelAudio::Pcm24k | ModelAudio::Pcm16k => Format::Pcm16 { rate: 24000 },
        };
        (f, f)
    }

    fn parse<'a>(&mut self, text: &'a str) -> Result<ModelEvents<'a>, Error> {
        self.parse_one(text).map(|e| smallvec::smallvec![e])
    }

    fn session_update(&self, c: &Session<'_>) -> String {
        let mut session = match self.api {
            RealtimeVersion::Ga => {
                let format = match self.audio {
                    ModelAudio::Pcm24k | ModelAudio::Pcm16k => json!({"type": "audio/pcm", "rate": 24000}),
                    ModelAudio::Pcmu => json!({"type": "audio/pcmu"}),
                    ModelAudio::Pcma => json!({"type": "audio/pcma"}),
                };
                json!({
                    "type": "realtime",
                    "instructions": c.instructions,
                    "audio": {
                        "input": {"format": format, "turn_detection": c.turn_detection},
                        "output": {"format": format, "voice": c.voice},
                    },
                })
            }
            RealtimeVersion::Beta => {
                let format = match self.audio {
                    ModelAudio::Pcm24k | ModelAudio::Pcm16k => "pcm16",
                    ModelAudio::Pcmu => "g711_ulaw",
                    ModelAudio::Pcma => "g711_alaw",
                };
                json!({
                    "modalities": ["audio", "text"],
                    "instructions": c.instructions,
                    "voice": c.voice,
                    "input_audio_format": format,
                    "output_audio_format": format,
                    "turn_detection": c.turn_detection,
                })
            }
        };
        if let Some(tools) = c.tools {
            session["tools"] = tools.clone();
        }
        json!({"type": "session.update", "session": session}).to_string()
    }

    fn append(&self, audio_b64: &str, out: &mut String) {
        // Keys in sorted order, as serde_json writes them; valid base64
        // needs no JSON escaping.
        out.reserve(48 + audio_b64.len());
        out.push_str(r#"{"audio":""#);
        out.push_str(audio_b64);
        out.push_str(r#"","type":"input_audio_buffer.append"}"#);
    }

    fn truncate(&self, item_id: &str, audio_end_ms: u64) -> Option<String> {
        Some(
            json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms})
                .to_string(),
        )
    }

    fn delete(&self, item_id: &str) -> Option<String> {
        Some(json!({"type": "conversation.item.delete", "item_id": item_id}).to_string())
    }

    fn cancel(&self) -> Option<String> {
        Some(json!({"type": "response.cancel"}).to_string())
    }

    fn tool_output(&mut self, call_id: &str, output: &str) -> String {
        json!({
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": output},
        })
        .to_string()
    }

    fn response_create(&self) -> Option<String> {
        Some(json!({"type": "response.create"}).to_string())
    }
}

impl OpenAi {
    fn parse_one<'a>(&self, text: &'a str) -> Result<ModelEvent<'a>, Error> {
        let e: Event<'a> =
            serde_json::from_str(text).map_err(|e| Error::malformed_by("OpenAI event is not the expected JSON", e))?;
        let kind = &*e.kind;
        // Both interfaces' audio spellings are taken, whichever was asked
        // for: a tolerant reader (an Azure deployment may answer in the
        // other one).
        Ok(if matches!(kind, "response.output_audio.delta" | "response.audio.delta") {
            ModelEvent::AudioDelta {
                item_id: e.item_id,
                response_id: e.response_id,
                delta: e.delta.ok_or_else(|| Error::malformed("OpenAI audio delta without delta"))?,
            }
        } else if matches!(kind, "response.output_audio.done" | "response.audio.done") {
            ModelEvent::AudioDone {
                item_id: e.item_id.ok_or_else(|| Error::malformed("OpenAI audio done without item_id"))?,
            }
        } else {
            match kind {
                "input_audio_buffer.speech_started" => ModelEvent::SpeechStarted,
                "input_audio_buffer.committed" => ModelEvent::InputCommitted { item_id: owned(e.item_id) },
                "session.updated" => ModelEvent::SessionUpdated,
                "response.created" => ModelEvent::ResponseCreated { response_id: e.response.and_then(|r| r.id) },
                "response.done" => ModelEvent::ResponseDone { response_id: e.response.and_then(|r| r.id) },
                "response.output_item.added" => match e.item {
                    Some(Item { id: Some(id), kind, role })
                        if kind.as_deref() == Some("message") && role.as_deref().is_none_or(|r| r == "assistant") =>
                    {
                        ModelEvent::ItemAdded { item_id: id, response_id: owned(e.response_id) }
                    }
                    Some(_) => ModelEvent::Other,
                    None => return Err(Error::malformed("OpenAI response.output_item.added without item")),
                },
                "response.function_call_arguments.done" => {
                    let (Some(call_id), Some(name)) = (e.call_id, e.name) else {
                        return Err(Error::malformed("OpenAI function call without call_id or name"));
                    };
                    ModelEvent::ToolCall { call_id, name, arguments: e.arguments.unwrap_or_else(|| "{}".into()) }
                }
                "error" => {
                    let b = e.error.ok_or_else(|| Error::malformed("OpenAI error event without error"))?;
                    ModelEvent::Error { code: b.code, message: b.message.unwrap_or_default() }
                }
                k if KNOWN.contains(&k) => ModelEvent::Other,
                _ => ModelEvent::Unknown(e.kind),
            }
        })
    }
}

/// Server events the Realtime reference documents (GA and beta) that need
/// nothing done here; any other type is [`ModelEvent::Unknown`].
const KNOWN: &[&str] = &[
    "session.created",
    "transcription_session.created",
    "transcription_session.updated",
    "conversation.created",
    "conversation.item.created",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.retrieved",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.failed",
    "conversation.item.input_audio_transcription.segment",
    "input_audio_buffer.cleared",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.timeout_triggered",
    "input_audio_buffer.dtmf_event_received",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
    "output_audio_buffer.cleared",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.text.delta",
    "response.text.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "response.function_call_arguments.delta",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "mcp_list_tools.failed",
    "rate_limits.updated",
];
