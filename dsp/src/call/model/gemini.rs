//! The Gemini Live adapter (`BidiGenerateContent` over WebSocket). Message
//! shapes from the Live API reference (<https://ai.google.dev/api/live>):
//! `setup`, `realtimeInput`, `toolResponse` out; `setupComplete`,
//! `serverContent` (`modelTurn` parts with `inlineData` audio,
//! `interrupted`, `generationComplete`, `turnComplete`), `toolCall` in.
//!
//! - Audio: PCM16 at 16 kHz in (`audio/pcm;rate=16000`), 24 kHz out; the
//!   engine converts from and to the phone's codec and rate.
//! - Turns: Gemini has no item or response ids; this adapter numbers the
//!   model's turns (`gemini-turn-1`, ...) and reports each as one response
//!   with one item, started by its first audio and ended by `turnComplete`
//!   (or `interrupted`).
//! - Barge-in: with automatic activity detection (the default; the
//!   config's `turn_detection` not null) Gemini detects the caller itself
//!   and sends `serverContent.interrupted`, which the engine takes as the
//!   caller starting to speak. With `turn_detection` null, automatic
//!   activity detection is disabled in `setup`, and a barge-in the engine
//!   decides (local VAD, the application) sends `activityStart`, which
//!   interrupts the model; `activityEnd` is then the application's to send.
//!
//! What the caller heard: Gemini has no truncate. Per the Live API docs, on
//! an interruption the generation is cancelled and only what was already
//! sent to the client is kept in the session history. So Gemini believes
//! the caller heard everything it sent, which is `generated_ms` of the
//! engine's `barge_in` event, while the caller heard `heard_ms`: the
//! difference (the phone's queue, up to a few seconds) stays in the model's
//! context as if heard. The `barge_in` event carries both figures for an
//! application that wants to tell the model in its own words.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use crate::call::protocol::{ModelAdapter, ModelAudio, ModelEvent, ModelEvents, Session};
use crate::error::Error;
use crate::frame::Format;

/// The model `setup` names when the config gives none.
pub const DEFAULT_MODEL: &str = "models/gemini-live-2.5-flash-preview";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Msg<'a> {
    setup_complete: Option<serde_json::Value>,
    #[serde(borrow)]
    server_content: Option<ServerContent<'a>>,
    tool_call: Option<ToolCall>,
    error: Option<serde_json::Value>,
    // Documented messages that need nothing done here.
    tool_call_cancellation: Option<serde::de::IgnoredAny>,
    go_away: Option<serde::de::IgnoredAny>,
    session_resumption_update: Option<serde::de::IgnoredAny>,
    usage_metadata: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerContent<'a> {
    #[serde(borrow)]
    model_turn: Option<Turn<'a>>,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    generation_complete: bool,
    #[serde(default)]
    turn_complete: bool,
}

#[derive(Deserialize)]
struct Turn<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow)]
    inline_data: Option<Blob<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    #[serde(borrow)]
    mime_type: Cow<'a, str>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolCall {
    #[serde(default)]
    function_calls: Vec<FunctionCall>,
}

#[derive(Deserialize)]
struct FunctionCall {
    id: String,
    name: String,
    #[serde(default)]
    args: serde_json::Value,
}

/// Gemini Live. See the module docs.
///
/// ```
/// use teledsp::call::{ModelAdapter, ModelEvent, gemini::Gemini};
/// let mut g = Gemini::new(Default::default(), None, true)?;
/// let audio = r#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAA"}}]}}}"#;
/// let ev = g.parse(audio)?;
/// assert!(matches!(&ev[..], [ModelEvent::ResponseCreated { .. }, ModelEvent::ItemAdded { .. }, ModelEvent::AudioDelta { .. }]));
/// assert!(matches!(g.parse(r#"{"serverContent":{"interrupted":true}}"#)?[..], [ModelEvent::SpeechStarted, ..]));
/// assert_eq!(g.truncate("gemini-turn-1", 500), None); // Gemini has no truncate
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Gemini {
    turns: u64,
    /// The turn with audio in progress.
    turn: Option<String>,
    /// Function call ids and names (a tool response names its function).
    calls: Vec<(String, String)>,
    aad_disabled: bool,
    /// The model named in `setup`.
    model: Option<String>,
}

impl Gemini {
    /// An adapter for `model` (default [`DEFAULT_MODEL`]); `audio` must be
    /// PCM (Gemini's formats are fixed). With `activity_detection` off,
    /// turns are the application's: the adapter marks the caller's
    /// activity itself.
    pub fn new(audio: ModelAudio, model: Option<String>, activity_detection: bool) -> Result<Self, Error> {
        if matches!(audio, ModelAudio::Pcmu | ModelAudio::Pcma) {
            return Err(Error::InvalidConfig(
                "Gemini Live takes PCM only (16 kHz in, 24 kHz out): audio must be pcm24k or pcm16k".into(),
            ));
        }
        Ok(Gemini { aad_disabled: !activity_detection, model, ..Self::default() })
    }

    fn end_turn<'a>(&mut self, ev: &mut ModelEvents<'a>) {
        if let Some(id) = self.turn.take() {
            ev.push(ModelEvent::AudioDone { item_id: Cow::Owned(id.clone()) });
            ev.push(ModelEvent::ResponseDone { response_id: Some(id) });
        }
    }
}

impl ModelAdapter for Gemini {
    fn name(&self) -> &'static str {
        "Gemini Live"
    }

    fn formats(&self) -> (Format, Format) {
        (Format::Pcm16 { rate: 16000 }, Format::Pcm16 { rate: 24000 })
    }

    fn parse<'a>(&mut self, text: &'a str) -> Result<ModelEvents<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("Gemini Live message is not the expected JSON", e))?;
        let mut ev = ModelEvents::new();
        if m.setup_complete.is_some() {
            ev.push(ModelEvent::SessionUpdated);
        }
        let server_content = m.server_content.is_some();
        if let Some(sc) = m.server_content {
            if sc.interrupted {
                ev.push(ModelEvent::SpeechStarted);
                self.end_turn(&mut ev);
            }
            for part in sc.model_turn.into_iter().flat_map(|t| t.parts) {
                let Some(blob) = part.inline_data else { continue };
                if !blob.mime_type.starts_with("audio/pcm") {
                    continue;
                }
                if !matches!(&*blob.mime_type, "audio/pcm" | "audio/pcm;rate=24000") {
                    return Err(Error::malformed_by("Gemini audio is not audio/pcm at 24 kHz", &*blob.mime_type));
                }
                let id = match &self.turn {
                    Some(id) => id.clone(),
                    None => {
                        self.turns += 1;
                        let id = format!("gemini-turn-{}", self.turns);
                        self.turn = Some(id.clone());
                        ev.push(ModelEvent::ResponseCreated { response_id: Some(id.clone()) });
                        ev.push(ModelEvent::ItemAdded { item_id: id.clone(), response_id: Some(id.clone()) });
                        id
                    }
                };
                ev.push(ModelEvent::AudioDelta {
                    item_id: Some(Cow::Owned(id.clone())),
                    response_id: Some(Cow::Owned(id)),
                    delta: blob.data,
                });
            }
            if sc.generation_complete
                && let Some(id) = &self.turn
            {
                ev.push(ModelEvent::AudioDone { item_id: Cow::Owned(id.clone()) });
            }
            if sc.turn_complete {
                self.end_turn(&mut ev);
            }
        }
        if let Some(tc) = m.tool_call {
            for f in tc.function_calls {
                if self.calls.len() == crate::call::outbound::REMEMBERED {
                    self.calls.remove(0);
                }
                self.calls.push((f.id.clone(), f.name.clone()));
                ev.push(ModelEvent::ToolCall { call_id: f.id, name: f.name, arguments: f.args.to_string() });
            }
        }
        if let Some(e) = m.error {
            ev.push(ModelEvent::Error { code: None, message: e.to_string() });
        }
        if ev.is_empty() {
            let known = m.setup_complete.is_some()
                || m.tool_call_cancellation.is_some()
                || m.go_away.is_some()
                || m.session_resumption_update.is_some()
                || m.usage_metadata.is_some()
                || server_content;
            ev.push(if known { ModelEvent::Other } else { ModelEvent::Unknown(Cow::Owned(top_keys(text))) });
        }
        Ok(ev)
    }

    fn session_update(&self, c: &Session<'_>) -> String {
        let mut setup = json!({
            "model": self.model.as_deref().unwrap_or(DEFAULT_MODEL),
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": c.voice}}},
            },
            "systemInstruction": {"parts": [{"text": c.instructions}]},
            "realtimeInputConfig": {"automaticActivityDetection": {"disabled": self.aad_disabled}},
        });
        if let Some(tools) = c.tools {
            // OpenAI's tool list shape ({type, name, description, parameters}) as Gemini's.
            let decls: Vec<_> = tools
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| json!({"name": t["name"], "description": t["description"], "parameters": t["parameters"]}))
                .collect();
            setup["tools"] = json!([{"functionDeclarations": decls}]);
        }
        json!({"setup": setup}).to_string()
    }

    fn append(&self, audio_b64: &str, out: &mut String) {
        out.reserve(80 + audio_b64.len());
        out.push_str(r#"{"realtimeInput":{"audio":{"data":""#);
        out.push_str(audio_b64);
        out.push_str(r#"","mimeType":"audio/pcm;rate=16000"}}}"#);
    }

    fn truncate(&self, _item_id: &str, _audio_end_ms: u64) -> Option<String> {
        None
    }

    fn delete(&self, _item_id: &str) -> Option<String> {
        None
    }

    fn cancel(&self) -> Option<String> {
        // With automatic activity detection Gemini interrupts itself on the
        // caller's speech; without it, the caller's activity start does.
        self.aad_disabled.then(|| r#"{"realtimeInput":{"activityStart":{}}}"#.to_owned())
    }

    fn tool_output(&mut self, call_id: &str, output: &str) -> String {
        let name = match self.calls.iter().position(|(id, _)| id == call_id) {
            Some(i) => self.calls.remove(i).1,
            None => String::new(),
        };
        let response = serde_json::from_str::<serde_json::Value>(output)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| json!({"output": output}));
        json!({"toolResponse": {"functionResponses": [{"id": call_id, "name": name, "response": response}]}})
            .to_string()
    }

    fn response_create(&self) -> Option<String> {
        // Gemini continues by itself once it has the tool responses.
        None
    }
}

/// A message's top-level keys, to name an unknown one.
fn top_keys(text: &str) -> String {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(m) => m.keys().cloned().collect::<Vec<_>>().join(","),
        Err(_) => "(not an object)".into(),
    }
}
