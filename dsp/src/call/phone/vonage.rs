//! The Vonage Voice API WebSocket adapter (an NCCO `connect` to a
//! `websocket` endpoint). Messages from Vonage's "WebSockets" guide
//! (<https://developer.vonage.com/en/voice/voice-api/concepts/websockets>):
//!
//! - in: the text `websocket:connected` first, whose `content-type`
//!   (`audio/l16;rate=8000` or `16000`) is the audio both ways and whose
//!   other fields are the NCCO's `headers`; then binary messages of 16-bit
//!   linear PCM, 20 ms each; text `websocket:dtmf`, `websocket:notify`,
//!   `websocket:cleared`;
//! - out: binary messages of exactly 20 ms; text `{"action":"clear"}` to
//!   drop queued audio and `{"action":"notify","payload":{...}}`, which
//!   Vonage echoes as `websocket:notify` with the same payload once the
//!   audio sent before it has played: the playback mark.
//!
//! The first message may come without `event` (Vonage's older guide,
//! <https://developer.vonage.com/en/voice/voice-api/guides/websockets>,
//! shows `{"app": ..., "content-type": ...}`): a text message with a
//! `content-type` and no `event` is taken as `websocket:connected`.
//! Vonage sends no stop message: the socket closes. The stream id is the
//! `uuid` header when the NCCO sets one, else `"vonage"`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::call::protocol::{Message, Payload, PhoneAdapter, PhoneEvent, json_str};
use crate::error::Error;
use crate::frame::Format;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(rename = "content-type")]
    content_type: Option<String>,
    #[serde(borrow)]
    payload: Option<Notify<'a>>,
    digit: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Notify<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// Vonage's WebSocket endpoint. See the module docs.
///
/// ```
/// use teledsp::call::{Format, PhoneAdapter, PhoneEvent, Payload, vonage::Vonage};
/// let v = Vonage::new();
/// let hello = r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","uuid":"u1","tenant":"acme"}"#;
/// assert!(matches!(v.parse(hello)?, PhoneEvent::Start { format: Some(Format::Pcm16 { rate: 16000 }), .. }));
/// assert!(matches!(v.parse_binary(&[0; 640])?, PhoneEvent::Media { payload: Payload::Raw(b), .. } if b.len() == 640));
/// assert_eq!(v.mark("m1"), r#"{"action":"notify","payload":{"name":"m1"}}"#);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Vonage {}

impl Vonage {
    /// An adapter with no stream yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PhoneAdapter for Vonage {
    fn name(&self) -> &'static str {
        "Vonage"
    }

    fn default_format(&self) -> Format {
        Format::Pcm16 { rate: 16000 }
    }

    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("Vonage message is not the expected JSON", e))?;
        // Vonage's older guide shows the first message without `event`
        // (`{"content-type": ..., "app": ...}`): it is the connected one.
        let event = match &m.event {
            Some(e) => &**e,
            None if m.content_type.is_some() => "websocket:connected",
            None => return Err(Error::malformed("Vonage text message with neither event nor content-type")),
        };
        Ok(match event {
            "websocket:connected" => {
                let ct = m.content_type.as_deref().unwrap_or("");
                let format = match ct.replace(' ', "").to_ascii_lowercase().as_str() {
                    "audio/l16;rate=8000" => Format::Pcm16 { rate: 8000 },
                    "audio/l16;rate=16000" => Format::Pcm16 { rate: 16000 },
                    "audio/l16;rate=24000" => Format::Pcm16 { rate: 24000 },
                    _ => {
                        return Err(Error::malformed_by(
                            "Vonage websocket:connected content-type is not audio/l16 at 8000, 16000 or 24000 Hz",
                            format_args!("{ct:?}"),
                        ));
                    }
                };
                let stream_id = m.rest.get("uuid").and_then(|u| u.as_str()).unwrap_or("vonage").to_owned();
                PhoneEvent::Start {
                    stream_id: stream_id.clone(),
                    call_id: Some(stream_id),
                    custom_parameters: m.rest,
                    format: Some(format),
                }
            }
            "websocket:notify" => PhoneEvent::Mark {
                name: m
                    .payload
                    .and_then(|p| p.name)
                    .ok_or_else(|| Error::malformed("Vonage websocket:notify without payload.name"))?,
            },
            "websocket:dtmf" => PhoneEvent::Dtmf {
                digit: m.digit.ok_or_else(|| Error::malformed("Vonage websocket:dtmf without digit"))?,
            },
            "websocket:cleared" | "websocket:media:update" => PhoneEvent::Other,
            other => PhoneEvent::Unknown(Cow::Owned(other.to_owned())),
        })
    }

    fn parse_binary<'a>(&self, data: &'a [u8]) -> Result<PhoneEvent<'a>, Error> {
        Ok(PhoneEvent::Media { payload: Payload::Raw(data), seq: None })
    }

    fn set_stream(&mut self, _stream_id: &str, _format: Format) {}

    fn media(&self, chunk: &[u8]) -> Message {
        Message::Binary(chunk.to_vec())
    }

    fn mark(&self, name: &str) -> String {
        format!(r#"{{"action":"notify","payload":{{"name":{}}}}}"#, json_str(name))
    }

    fn clear(&self) -> String {
        r#"{"action":"clear"}"#.to_owned()
    }
}
