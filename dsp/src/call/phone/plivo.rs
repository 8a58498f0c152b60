//! The Plivo audio streams adapter (bidirectional `<Stream>`). Messages
//! from Plivo's "Stream Event Protocol"
//! (<https://plivo.com/docs/voice/audio-streaming/audio-streaming>):
//! `start` (with `start.mediaFormat`), `media`, `dtmf`, `playedStream`,
//! `clearedAudio` in; `playAudio`, `checkpoint`, `clearAudio` out.
//!
//! - Audio: `audio/x-mulaw` at 8 kHz or `audio/x-l16` (16-bit PCM) at 8 or
//!   16 kHz, as the `<Stream contentType>` chose; `playAudio` states the
//!   same content type and rate.
//! - Playback confirmation: a `checkpoint` after the audio; Plivo answers
//!   `playedStream` with its name once everything before it has played
//!   (<https://plivo.com/docs/voice/xml/the-stream-element/checkpoint-event>).
//!   Plivo's support FAQ spells the answer `played`: both are taken.
//! - Media types are compared without regard to case (RFC 2045).
//! - `extra_headers` (`k=v;k2=v2`) become the stream's custom parameters.

use std::borrow::Cow;

use base64_simd::STANDARD as B64;
use serde::Deserialize;

use crate::call::protocol::{Dtmf, Message, Payload, PhoneAdapter, PhoneEvent, json_str};
use crate::error::Error;
use crate::frame::Format;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow)]
    media: Option<Media<'a>>,
    start: Option<Start>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    dtmf: Option<Dtmf>,
    extra_headers: Option<String>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
    track: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    call_id: Option<String>,
    stream_id: String,
    media_format: Option<MediaFormat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaFormat {
    encoding: String,
    sample_rate: Option<u32>,
}

/// Plivo audio streams. See the module docs.
///
/// ```
/// use teledsp::call::{Format, PhoneAdapter, PhoneEvent, plivo::Plivo};
/// let mut p = Plivo::new();
/// let start = r#"{"event":"start","sequenceNumber":1,"start":{"callId":"c1","streamId":"s1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-l16","sampleRate":16000}},"extra_headers":"tenant=acme"}"#;
/// let PhoneEvent::Start { format, custom_parameters, .. } = p.parse(start)? else { panic!() };
/// assert_eq!((format, custom_parameters["tenant"].as_str()), (Some(Format::Pcm16 { rate: 16000 }), Some("acme")));
/// p.set_stream("s1", Format::Pcm16 { rate: 16000 });
/// assert_eq!(p.mark("m1"), r#"{"event":"checkpoint","streamId":"s1","name":"m1"}"#);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Plivo {
    sid_json: String,
    /// `"contentType":...,"sampleRate":...` of `playAudio`.
    format_json: String,
}

impl Default for Plivo {
    fn default() -> Self {
        let mut p = Plivo { sid_json: json_str(""), format_json: String::new() };
        p.set_stream("", Format::Ulaw);
        p
    }
}

impl Plivo {
    /// An adapter with no stream yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PhoneAdapter for Plivo {
    fn name(&self) -> &'static str {
        "Plivo"
    }

    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        let m: Msg<'a> =
            serde_json::from_str(text).map_err(|e| Error::malformed_by("Plivo message is not the expected JSON", e))?;
        Ok(match &*m.event {
            "media" => {
                let media = m.media.ok_or_else(|| Error::malformed("Plivo media message without media.payload"))?;
                if media.track.as_deref().is_some_and(|t| t != "inbound") {
                    return Ok(PhoneEvent::Other);
                }
                PhoneEvent::Media { payload: Payload::Base64(media.payload), seq: None }
            }
            "start" => {
                let s = m.start.ok_or_else(|| Error::malformed("Plivo start message without start.streamId"))?;
                let format = match s.media_format {
                    None => None,
                    Some(f) => Some(match (f.encoding.to_ascii_lowercase().as_str(), f.sample_rate.unwrap_or(8000)) {
                        ("audio/x-mulaw", 8000) => Format::Ulaw,
                        ("audio/x-l16", rate @ (8000 | 16000)) => Format::Pcm16 { rate },
                        (enc, rate) => {
                            return Err(Error::malformed_by(
                                "Plivo start.mediaFormat is not audio/x-mulaw at 8000 Hz or audio/x-l16 at 8000 or 16000 Hz",
                                format_args!("{enc} at {rate} Hz"),
                            ));
                        }
                    }),
                };
                let custom_parameters = m
                    .extra_headers
                    .iter()
                    .flat_map(|h| h.split(';'))
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_owned(), serde_json::Value::from(v.trim())))
                    .collect();
                PhoneEvent::Start { stream_id: s.stream_id, call_id: s.call_id, custom_parameters, format }
            }
            "playedStream" | "played" => {
                PhoneEvent::Mark { name: m.name.ok_or_else(|| Error::malformed("Plivo playedStream without name"))? }
            }
            "dtmf" => PhoneEvent::Dtmf {
                digit: m.dtmf.ok_or_else(|| Error::malformed("Plivo dtmf without dtmf.digit"))?.digit,
            },
            "stop" => PhoneEvent::Stop,
            "clearedAudio" => PhoneEvent::Other,
            _ => PhoneEvent::Unknown(m.event),
        })
    }

    fn set_stream(&mut self, stream_id: &str, format: Format) {
        self.sid_json = json_str(stream_id);
        self.format_json = match format {
            Format::Pcm16 { rate } => format!(r#""contentType":"audio/x-l16","sampleRate":{rate}"#),
            _ => r#""contentType":"audio/x-mulaw","sampleRate":8000"#.to_owned(),
        };
    }

    fn media(&self, chunk: &[u8]) -> Message {
        let mut out = String::with_capacity(96 + chunk.len() * 4 / 3);
        out.push_str(r#"{"event":"playAudio","media":{"#);
        out.push_str(&self.format_json);
        out.push_str(r#","payload":""#);
        B64.encode_append(chunk, &mut out);
        out.push_str(r#""}}"#);
        Message::Text(out)
    }

    fn mark(&self, name: &str) -> String {
        format!(r#"{{"event":"checkpoint","streamId":{},"name":{}}}"#, self.sid_json, json_str(name))
    }

    fn clear(&self) -> String {
        format!(r#"{{"event":"clearAudio","streamId":{}}}"#, self.sid_json)
    }
}
