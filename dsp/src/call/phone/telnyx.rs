//! The Telnyx media streaming adapter, bidirectional RTP mode
//! (`stream_bidirectional_mode: "rtp"`). Messages from Telnyx's "Stream
//! call media over WebSocket" reference
//! (<https://developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket>):
//! `connected`, `start` (with `start.media_format`), `media`, `dtmf`,
//! `mark`, `error`, `stop` in; `media`, `mark`, `clear` out.
//!
//! - Audio: PCMU or PCMA at 8 kHz as base64 RTP payloads, the codec of
//!   `start.media_format`; the answer is sent in the same codec, so set
//!   `stream_bidirectional_codec` to the stream's codec.
//! - Order: Telnyx does not promise media frames in order. Each carries
//!   `media.chunk` (1, 2, ...), which the engine reorders by (a window of
//!   4 chunks, 80 ms; a gap still open then is skipped and counted).
//!   `sequence_number` counts every message, marks included, so a gap in it
//!   is not lost audio.
//! - Only the `inbound` track is the caller; `outbound` track media
//!   (`both_tracks`) is ignored.

use std::borrow::Cow;

use base64_simd::STANDARD as B64;
use serde::Deserialize;

use crate::call::protocol::{Dtmf, Mark, Message, Payload, PhoneAdapter, PhoneEvent, json_str, num_or_str};
use crate::error::Error;
use crate::frame::Format;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    stream_id: Option<String>,
    #[serde(borrow)]
    media: Option<Media<'a>>,
    start: Option<Start>,
    #[serde(borrow)]
    mark: Option<Mark<'a>>,
    dtmf: Option<Dtmf>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(default, deserialize_with = "num_or_str")]
    chunk: Option<u64>,
    track: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Start {
    call_control_id: Option<String>,
    client_state: Option<String>,
    media_format: Option<MediaFormat>,
}

#[derive(Deserialize)]
struct MediaFormat {
    encoding: String,
    #[serde(default, deserialize_with = "num_or_str")]
    sample_rate: Option<u64>,
}

/// Telnyx media streaming. See the module docs.
///
/// ```
/// use teledsp::call::{Format, PhoneAdapter, PhoneEvent, telnyx::Telnyx};
/// let t = Telnyx::new();
/// let start = r#"{"event":"start","sequence_number":"1","stream_id":"S1","start":{"call_control_id":"v3:1","media_format":{"encoding":"PCMA","sample_rate":8000,"channels":1}}}"#;
/// assert!(matches!(t.parse(start)?, PhoneEvent::Start { format: Some(Format::Alaw), .. }));
/// let media = r#"{"event":"media","sequence_number":"4","stream_id":"S1","media":{"track":"inbound","chunk":"2","timestamp":"20","payload":"1dXV1Q=="}}"#;
/// assert!(matches!(t.parse(media)?, PhoneEvent::Media { seq: Some(2), .. }));
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Telnyx {}

impl Telnyx {
    /// An adapter with no stream yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PhoneAdapter for Telnyx {
    fn name(&self) -> &'static str {
        "Telnyx"
    }

    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("Telnyx message is not the expected JSON", e))?;
        Ok(match &*m.event {
            "media" => {
                let media = m.media.ok_or_else(|| Error::malformed("Telnyx media message without media.payload"))?;
                if media.track.as_deref().is_some_and(|t| t != "inbound") {
                    return Ok(PhoneEvent::Other);
                }
                PhoneEvent::Media { payload: Payload::Base64(media.payload), seq: media.chunk }
            }
            "start" => {
                let s = m.start.ok_or_else(|| Error::malformed("Telnyx start message without start"))?;
                let format = match s.media_format {
                    None => None,
                    Some(f) => Some(match (f.encoding.to_ascii_uppercase().as_str(), f.sample_rate.unwrap_or(8000)) {
                        ("PCMU", 8000) => Format::Ulaw,
                        ("PCMA", 8000) => Format::Alaw,
                        (enc, rate) => {
                            return Err(Error::malformed_by(
                                "Telnyx start.media_format is not PCMU or PCMA at 8000 Hz",
                                format_args!("{enc} at {rate} Hz"),
                            ));
                        }
                    }),
                };
                let mut custom_parameters = serde_json::Map::new();
                if let Some(c) = s.client_state {
                    custom_parameters.insert("client_state".into(), c.into());
                }
                PhoneEvent::Start {
                    stream_id: m.stream_id.ok_or_else(|| Error::malformed("Telnyx start message without stream_id"))?,
                    call_id: s.call_control_id,
                    custom_parameters,
                    format,
                }
            }
            "mark" => {
                PhoneEvent::Mark { name: m.mark.ok_or_else(|| Error::malformed("Telnyx mark without mark.name"))?.name }
            }
            "dtmf" => PhoneEvent::Dtmf {
                digit: m.dtmf.ok_or_else(|| Error::malformed("Telnyx dtmf without dtmf.digit"))?.digit,
            },
            "stop" => PhoneEvent::Stop,
            "connected" => PhoneEvent::Other,
            // `error` too: told to the application, which logs it.
            _ => PhoneEvent::Unknown(m.event),
        })
    }

    fn set_stream(&mut self, _stream_id: &str, _format: Format) {}

    fn media(&self, chunk: &[u8]) -> Message {
        let mut out = String::with_capacity(48 + chunk.len() * 4 / 3);
        out.push_str(r#"{"event":"media","media":{"payload":""#);
        B64.encode_append(chunk, &mut out);
        out.push_str(r#""}}"#);
        Message::Text(out)
    }

    fn mark(&self, name: &str) -> String {
        format!(r#"{{"event":"mark","mark":{{"name":{}}}}}"#, json_str(name))
    }

    fn clear(&self) -> String {
        r#"{"event":"clear"}"#.to_owned()
    }
}
