//! The Twilio Media Streams adapter: Twilio's WebSocket messages in and
//! out. Message shapes from Twilio's "Media Streams - WebSocket Messages"
//! docs (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>;
//! bidirectional streams: `connected`, `start`, `media`, `mark`, `dtmf`,
//! `stop` in; `media`, `mark`, `clear` out). Audio is G.711 mu-law at
//! 8 kHz in 20 ms frames both ways.
//!
//! SignalWire's `<Stream>` speaks the same messages
//! (<https://developer.signalwire.com/compatibility-api/cxml/voice/stream/>)
//! and its `codec` attribute also offers `PCMA@8000h`, `L16@16000h` and
//! `L16@24000h`: [`Twilio::signalwire`] takes the codec from the `start`
//! message's `mediaFormat` and answers in it. SignalWire's docs do not give
//! L16's byte order on the socket; it is taken as little-endian, like every
//! other provider here.

use std::borrow::Cow;

use base64_simd::STANDARD as B64;
use serde::Deserialize;

use crate::call::protocol::{Dtmf, Mark, Media, Message, Payload, PhoneAdapter, PhoneEvent, json_str};
use crate::error::Error;
use crate::frame::Format;

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
    /// SignalWire: other codecs than mu-law are allowed.
    signalwire: bool,
}

impl Default for Twilio {
    fn default() -> Self {
        Twilio { sid_json: json_str(""), signalwire: false }
    }
}

impl Twilio {
    /// An adapter with no stream yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// SignalWire's Twilio-compatible streams (see the module docs).
    ///
    /// ```
    /// use teledsp::call::{Format, PhoneAdapter, PhoneEvent, twilio::Twilio};
    /// let ev = Twilio::signalwire().parse(r#"{"event":"start","start":{"streamSid":"S1","mediaFormat":{"encoding":"audio/x-L16","sampleRate":16000,"channels":1}}}"#)?;
    /// assert!(matches!(ev, PhoneEvent::Start { format: Some(Format::Pcm16 { rate: 16000 }), .. }));
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn signalwire() -> Self {
        Twilio { sid_json: json_str(""), signalwire: true }
    }

    fn format(&self, f: MediaFormat) -> Result<Format, Error> {
        let enc = f.encoding.as_deref().unwrap_or("audio/x-mulaw");
        let rate = f.sample_rate.unwrap_or(8000);
        // Media types are case-insensitive (RFC 2045): SignalWire's docs
        // spell it `audio/x-L16`.
        match (enc.to_ascii_lowercase().as_str(), rate, self.signalwire) {
            ("audio/x-mulaw", 8000, _) => Ok(Format::Ulaw),
            ("audio/x-alaw", 8000, true) => Ok(Format::Alaw),
            ("audio/x-l16" | "audio/l16", 8000 | 16000 | 24000, true) => Ok(Format::Pcm16 { rate }),
            (_, _, false) => Err(Error::malformed("Twilio start.mediaFormat is not audio/x-mulaw at 8000 Hz")),
            _ => Err(Error::malformed_by(
                "SignalWire start.mediaFormat is not a codec teledsp takes",
                format_args!("{enc} at {rate} Hz; PCMU@8000h, PCMA@8000h, L16@8000h, L16@16000h and L16@24000h are"),
            )),
        }
    }
}

impl PhoneAdapter for Twilio {
    fn name(&self) -> &'static str {
        if self.signalwire { "SignalWire" } else { "Twilio" }
    }

    fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        let m: Msg<'a> = serde_json::from_str(text)
            .map_err(|e| Error::malformed_by("Twilio message is not the expected JSON", e))?;
        Ok(match &*m.event {
            "media" => PhoneEvent::Media {
                payload: Payload::Base64(
                    m.media.ok_or_else(|| Error::malformed("Twilio media message without media.payload"))?.payload,
                ),
                seq: None,
            },
            "start" => {
                let s = m.start.ok_or_else(|| Error::malformed("Twilio start message without start.streamSid"))?;
                let format = s.media_format.map(|f| self.format(f)).transpose()?;
                PhoneEvent::Start {
                    stream_id: s.stream_sid,
                    call_id: s.call_sid,
                    custom_parameters: s.custom_parameters,
                    format,
                }
            }
            "mark" => PhoneEvent::Mark {
                name: m.mark.ok_or_else(|| Error::malformed("Twilio mark message without mark.name"))?.name,
            },
            "dtmf" => PhoneEvent::Dtmf {
                digit: m.dtmf.ok_or_else(|| Error::malformed("Twilio dtmf message without dtmf.digit"))?.digit,
            },
            "stop" => PhoneEvent::Stop,
            "connected" => PhoneEvent::Other,
            _ => PhoneEvent::Unknown(m.event),
        })
    }

    fn set_stream(&mut self, stream_id: &str, _format: Format) {
        self.sid_json = json_str(stream_id);
    }

    fn media(&self, chunk: &[u8]) -> Message {
        let mut out = String::with_capacity(80 + self.sid_json.len() + chunk.len() * 4 / 3);
        out.push_str(r#"{"event":"media","media":{"payload":""#);
        B64.encode_append(chunk, &mut out);
        out.push_str(r#""},"streamSid":"#);
        out.push_str(&self.sid_json);
        out.push('}');
        Message::Text(out)
    }

    fn mark(&self, name: &str) -> String {
        format!(r#"{{"event":"mark","mark":{{"name":{}}},"streamSid":{}}}"#, json_str(name), self.sid_json)
    }

    fn clear(&self) -> String {
        format!(r#"{{"event":"clear","streamSid":{}}}"#, self.sid_json)
    }
}
