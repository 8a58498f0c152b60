//! The Twilio Media Streams adapter: Twilio's WebSocket messages in and
//! out. Message shapes from Twilio's "Media Streams - WebSocket Messages"
//! docs (bidirectional streams: `connected`, `start`, `media`, `mark`,
//! `dtmf`, `stop` in; `media`, `mark`, `clear` out). Audio is G.711 mu-law
//! at 8 kHz in 20 ms frames both ways.

use std::borrow::Cow;

use base64_simd::STANDARD as B64;
use serde::Deserialize;

use super::{PhoneAdapter, PhoneEvent};
use crate::error::Error;

// Strings are `Cow`: borrowed from the message unless it escapes them
// (`\/` is legal JSON for `/`, which base64 uses).
#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
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
}

#[derive(Deserialize)]
struct Start {
    #[serde(rename = "streamSid")]
    stream_sid: String,
    #[serde(rename = "callSid")]
    call_sid: Option<String>,
    #[serde(rename = "customParameters", default)]
    custom_parameters: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "mediaFormat")]
    media_format: Option<MediaFormat>,
}

#[derive(Deserialize)]
struct MediaFormat {
    encoding: Option<String>,
    #[serde(rename = "sampleRate")]
    sample_rate: Option<u32>,
}

#[derive(Deserialize)]
struct Mark<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Dtmf {
    digit: String,
}

/// A JSON string literal, quotes included.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

/// Twilio Media Streams. See the module docs.
///
/// ```
/// use teledsp::call::{PhoneAdapter, PhoneEvent, twilio::Twilio};
/// let t = Twilio::new();
/// let ev = t.parse(r#"{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"7"}}"#)?;
/// assert!(matches!(ev, PhoneEvent::Dtmf { ref digit } if digit == "7"));
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Twilio {
    /// The stream SID as a JSON literal, spliced into every outgoing message.
    sid_json: String,
}

impl Default for Twilio {
    fn default() -> Self {
        Twilio { sid_json: json_str("") }
    }
}

impl Twilio {
    /// An adapter with no stream yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PhoneAdapter for Twilio {
    fn name(&self) -> &'static str {
        "Twilio"
    }

    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("Twilio message is not the expected JSON", e))?;
        Ok(match &*m.event {
            "media" => PhoneEvent::Media {
                payload: m.media.ok_or_else(|| Error::malformed("Twilio media message without media.payload"))?.payload,
            },
            "start" => {
                let s = m.start.ok_or_else(|| Error::malformed("Twilio start message without start.streamSid"))?;
                if let Some(f) = s.media_format {
                    let ok = f.encoding.as_deref().is_none_or(|e| e == "audio/x-mulaw")
                        && f.sample_rate.is_none_or(|r| r == 8000);
                    if !ok {
                        return Err(Error::malformed("Twilio start.mediaFormat is not audio/x-mulaw at 8000 Hz"));
                    }
                }
                PhoneEvent::Start {
                    stream_id: s.stream_sid,
                    call_id: s.call_sid,
                    custom_parameters: s.custom_parameters,
                }
            }
            "mark" => PhoneEvent::Mark {
                name: m.mark.ok_or_else(|| Error::malformed("Twilio mark message without mark.name"))?.name,
            },
            "dtmf" => PhoneEvent::Dtmf {
                digit: m.dtmf.ok_or_else(|| Error::malformed("Twilio dtmf message without dtmf.digit"))?.digit,
            },
            "stop" => PhoneEvent::Stop,
            _ => PhoneEvent::Other, // connected, and events Twilio may add
        })
    }

    fn set_stream(&mut self, stream_id: &str) {
        self.sid_json = json_str(stream_id);
    }

    fn media(&self, frame: &[u8], out: &mut String) {
        out.reserve(80 + self.sid_json.len() + frame.len() * 4 / 3);
        out.push_str(r#"{"event":"media","media":{"payload":""#);
        B64.encode_append(frame, out);
        out.push_str(r#""},"streamSid":"#);
        out.push_str(&self.sid_json);
        out.push('}');
    }

    fn mark(&self, name: &str) -> String {
        format!(r#"{{"event":"mark","mark":{{"name":{}}},"streamSid":{}}}"#, json_str(name), self.sid_json)
    }

    fn clear(&self) -> String {
        format!(r#"{{"event":"clear","streamSid":{}}}"#, self.sid_json)
    }
}
