//! A simulated caller: the telephony provider's side of the media stream,
//! as the provider behaves. It sends the stream's start and caller audio at
//! real-time pace (one message per 20 ms; Exotel's per 100 ms), plays what
//! comes back at real-time pace [`PLAYOUT_DELAY`] after it arrives (network
//! plus jitter buffer: a phone that played at once would make a relay that
//! ignores playback confirmations look accurate), confirms each playback
//! mark when the audio before it has played, and on a clear drops its
//! queued audio. [`CallerConfig::confirm_playback`] and
//! [`CallerConfig::obey_clear`] make a broken phone, for tests that must
//! see a check fail.
//!
//! Twilio (the default) as its Media Streams docs describe it
//! (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>):
//! `connected`, `start`, mu-law `media`; `mark` echoes; on `clear` the
//! pending marks are echoed at once. The other providers, each from its own
//! docs (the same pages the engine's adapters cite):
//!
//! | provider | stream as set up by the relay's answer | playback confirmation | on clear |
//! |---|---|---|---|
//! | Telnyx | PCMU, RTP mode, `media.chunk` numbered | `mark` | queue dropped |
//! | Plivo | `audio/x-mulaw` 8 kHz | `playedStream` for a `checkpoint` | `clearedAudio` |
//! | Vonage | L16 16 kHz, binary 20 ms messages | `websocket:notify` for a `notify` | `websocket:cleared` |
//! | Exotel | 16-bit PCM 8 kHz, 100 ms messages | `mark` | queue dropped |
//! | SignalWire | L16 24 kHz (`L16@24000h`), Twilio's messages | `mark` | marks echoed, as Twilio |

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use teledsp::call::{Format, Telephony};
use tokio_tungstenite::tungstenite::Message;

/// Twilio's frame: 20 ms of 8 kHz mu-law.
pub const FRAME: usize = 160;
const TICK: Duration = Duration::from_millis(20);
/// Network plus jitter buffer: audio plays this long after it arrives.
pub const PLAYOUT_DELAY: Duration = Duration::from_millis(120);
/// After its last frame, a caller waits up to this long for answers still in
/// flight (fewer frames back than sent) and for its playback to finish
/// before hanging up.
const LINGER: Duration = Duration::from_secs(2);
/// After hanging up (`stop`), how long a caller waits for the relay's close
/// frame before it reports none (`close_code: None`): generous, because the
/// rolling-restart test runs twelve relay processes on two cores.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// One simulated call.
#[derive(Debug, Clone)]
pub struct CallerConfig {
    /// The relay's Media Stream URL (`ws://host:port/media`).
    pub url: String,
    /// mu-law audio the caller says, sent in 160-byte frames.
    pub audio: Vec<u8>,
    /// mu-law silence (0xFF) frames sent after the audio before hanging up.
    pub tail_frames: usize,
    /// `<Parameter>`s, as Twilio passes them in `start.customParameters`.
    pub params: Value,
    /// Value of `X-Twilio-Signature` on the upgrade, if any.
    pub signature: Option<String>,
    /// Call SID to announce.
    pub call_sid: String,
    /// Round trips are timed on every this-many-th frame received (frames
    /// k with (k + 1) % n == 0): when the far end echoes n frames per
    /// delta, that is the frame completing each delta, the one that waited
    /// for no later frame.
    pub measure_every: usize,
    /// Keep what was heard in [`CallerReport::heard`] (the load test does not).
    pub record: bool,
    /// The provider whose stream this is (its messages and codec).
    pub telephony: Telephony,
    /// `Authorization: Bearer` on the upgrade (SignalWire's `authBearerToken`).
    pub bearer: Option<String>,
    /// Confirm playback marks (a real phone does; off: a broken one).
    pub confirm_playback: bool,
    /// Drop queued audio on a clear (a real phone does; off: a broken one).
    pub obey_clear: bool,
}

impl CallerConfig {
    /// A call to `url` saying `audio`, then `tail_frames` of silence.
    pub fn new(url: impl Into<String>, audio: Vec<u8>, tail_frames: usize) -> Self {
        CallerConfig {
            url: url.into(),
            audio,
            tail_frames,
            params: json!({}),
            signature: None,
            call_sid: "CA00000000000000000000000000000001".into(),
            measure_every: 1,
            record: true,
            telephony: Telephony::Twilio,
            bearer: None,
            confirm_playback: true,
            obey_clear: true,
        }
    }
}

/// What the caller saw.
#[derive(Debug, Default, Clone)]
pub struct CallerReport {
    /// `media` frames sent.
    pub sent: u64,
    /// `media` frames received.
    pub received: u64,
    /// The audio played (what the caller heard), in the stream's codec
    /// (mu-law for Twilio).
    pub heard: Vec<u8>,
    /// Milliseconds of audio played.
    pub heard_ms: u64,
    /// For each timed received frame (see [`CallerConfig::measure_every`]),
    /// in order: time since the frame with the same index was sent (the
    /// round trip when the far end echoes frames).
    pub round_trips: Vec<Duration>,
    /// Marks echoed back to the relay.
    pub marks_echoed: u64,
    /// `clear` messages received.
    pub clears: u64,
    /// Received messages that were not the provider's shape (or audio not
    /// exactly one chunk).
    pub bad_messages: u64,
    /// How the relay closed the stream (close code), if it did.
    pub close_code: Option<u16>,
    /// The headers of the upgrade's answer (a proxy may say there which
    /// relay took the call).
    pub upgrade_headers: tokio_tungstenite::tungstenite::http::HeaderMap,
}

enum Queued {
    /// Audio, and when it arrived.
    Frame(Vec<u8>, Instant),
    Mark(String),
}

/// Runs one call to the end: connects, talks, hangs up with `stop`, and
/// waits up to 2 s for what is still in flight.
pub async fn run(cfg: CallerConfig) -> Result<CallerReport, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = cfg.url.as_str().into_client_request().map_err(|e| format!("bad URL {}: {e}", cfg.url))?;
    if let Some(sig) = &cfg.signature {
        req.headers_mut().insert("X-Twilio-Signature", sig.parse().map_err(|_| "bad signature header")?);
    }
    if let Some(t) = &cfg.bearer {
        req.headers_mut().insert("Authorization", format!("Bearer {t}").parse().map_err(|_| "bad bearer token")?);
    }
    let (ws, answer) = tokio_tungstenite::connect_async_with_config(req, Some(ws_config()), true)
        .await
        .map_err(|e| format!("connect {}: {e}", cfg.url))?;
    let (mut tx, mut rx) = ws.split();
    let d = Dialect::new(cfg.telephony);
    let sid = "MZ00000000000000000000000000000001";
    let mut report = CallerReport { upgrade_headers: answer.headers().clone(), ..Default::default() };
    for m in d.hello(sid, &cfg.call_sid, &cfg.params) {
        if tx.send(m).await.is_err() {
            // Refused at once (a bad signature, say): report how it closed.
            let closed = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(Ok(msg)) = rx.next().await {
                    if let Message::Close(f) = msg {
                        return f.map(|f| u16::from(f.code)).or(Some(1005));
                    }
                }
                None
            });
            report.close_code = closed.await.ok().flatten();
            return Ok(report);
        }
    }
    // The caller's audio in the stream's codec, in the provider's chunks.
    let audio = d.encode_ulaw(&cfg.audio);
    let chunk = d.chunk_bytes();
    let ticks_per_chunk = (d.chunk_ms / 20) as usize;
    let mut chunks = audio.chunks(chunk).map(|f| {
        let mut f = f.to_vec();
        f.resize(chunk, d.silence());
        f
    });
    let total = audio.len().div_ceil(chunk) + cfg.tail_frames / ticks_per_chunk;
    let slice = d.frame_bytes();
    let mut sent_at: VecDeque<Instant> = VecDeque::new();
    let mut queue: VecDeque<Queued> = VecDeque::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq = 2u64;
    let mut tick = 0usize;
    let mut hangup_at: Option<Instant> = None;
    let mut linger_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                tick += 1;
                // Talk: one chunk per chunk's duration.
                if (report.sent as usize) < total {
                    if tick.is_multiple_of(ticks_per_chunk) {
                        let c = chunks.next().unwrap_or_else(|| vec![d.silence(); chunk]);
                        let msg = d.media(seq, report.sent + 1, sid, &c);
                        seq += 1;
                        sent_at.push_back(Instant::now());
                        if tx.send(msg).await.is_err() { break; }
                        report.sent += 1;
                    }
                } else if hangup_at.is_none() && (report.received < report.sent || !queue.is_empty()) && linger_since.get_or_insert_with(Instant::now).elapsed() < LINGER {
                    // Stay on the line a moment for what is still in flight.
                } else if hangup_at.is_none() {
                    if let Some(m) = d.stop(seq, sid, &cfg.call_sid) {
                        let _ = tx.send(m).await;
                    } else {
                        // No stop message (Vonage): the call ends by closing the socket.
                        let _ = tx.send(Message::Close(None)).await;
                    }
                    hangup_at = Some(Instant::now());
                }
                // Play 20 ms, confirming the marks reached.
                let mut played = false;
                while let Some(q) = queue.front() {
                    match q {
                        Queued::Mark(_) => {
                            if let Some(Queued::Mark(name)) = queue.pop_front()
                                && cfg.confirm_playback
                            {
                                let _ = tx.send(d.echo(seq, sid, &name)).await;
                                seq += 1;
                                report.marks_echoed += 1;
                            }
                        }
                        Queued::Frame(..) if played => break,
                        Queued::Frame(_, at) if at.elapsed() < PLAYOUT_DELAY => break,
                        Queued::Frame(..) => {
                            if let Some(Queued::Frame(f, _)) = queue.pop_front()
                                && cfg.record
                            {
                                report.heard.extend_from_slice(&f);
                            }
                            report.heard_ms += 20;
                            played = true;
                        }
                    }
                }
                if hangup_at.is_some_and(|t| t.elapsed() > CLOSE_WAIT) { break; }
            }
            msg = rx.next() => {
                let got = match msg {
                    Some(Ok(Message::Text(t))) => d.read_text(t.as_str()),
                    Some(Ok(Message::Binary(b))) => d.read_binary(&b),
                    Some(Ok(Message::Close(frame))) => { report.close_code = frame.map(|f| u16::from(f.code)).or(Some(1005)); break; }
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => break,
                };
                match got {
                    Some(FromRelay::Media(f)) => {
                        if f.len() != d.reply_bytes() { report.bad_messages += 1; }
                        if (report.received as usize + 1).is_multiple_of(cfg.measure_every.max(1))
                            && let Some(t0) = sent_at.get(report.received as usize)
                        {
                            report.round_trips.push(t0.elapsed());
                        }
                        report.received += 1;
                        let at = Instant::now();
                        for s in f.chunks(slice) {
                            queue.push_back(Queued::Frame(s.to_vec(), at));
                        }
                    }
                    Some(FromRelay::Mark(name)) => queue.push_back(Queued::Mark(name)),
                    Some(FromRelay::Clear) if !cfg.obey_clear => report.clears += 1,
                    Some(FromRelay::Clear) => {
                        report.clears += 1;
                        let marks: Vec<String> = queue.drain(..).filter_map(|q| match q { Queued::Mark(m) => Some(m), _ => None }).collect();
                        for m in d.on_clear(seq, sid, if cfg.confirm_playback { &marks } else { &[] }) {
                            let _ = tx.send(m).await;
                            seq += 1;
                            report.marks_echoed += u64::from(d.echoes_marks_on_clear());
                        }
                    }
                    None => report.bad_messages += 1,
                }
            }
        }
    }
    Ok(report)
}

/// What a relay sent the caller.
enum FromRelay {
    Media(Vec<u8>),
    Mark(String),
    Clear,
}

/// One provider's side of the stream (see the module docs).
struct Dialect {
    t: Telephony,
    format: Format,
    chunk_ms: u64,
}

impl Dialect {
    fn new(t: Telephony) -> Self {
        let (format, chunk_ms) = match t {
            Telephony::Twilio | Telephony::Plivo => (Format::Ulaw, 20),
            Telephony::Telnyx => (Format::Ulaw, 20),
            Telephony::Vonage => (Format::Pcm16 { rate: 16000 }, 20),
            // Exotel sends 100 ms; it takes back at least 3,200 bytes (200 ms
            // at 8 kHz): `chunk_bytes` is what it sends, `reply_bytes` what
            // it expects.
            Telephony::Exotel => (Format::Pcm16 { rate: 8000 }, 100),
            Telephony::SignalWire => (Format::Pcm16 { rate: 24000 }, 20),
        };
        Dialect { t, format, chunk_ms }
    }

    fn rate(&self) -> usize {
        match self.format {
            Format::Pcm16 { rate } => rate as usize,
            _ => 8000,
        }
    }

    fn frame_bytes(&self) -> usize {
        let w = if matches!(self.format, Format::Pcm16 { .. }) { 2 } else { 1 };
        self.rate() / 50 * w
    }

    fn chunk_bytes(&self) -> usize {
        self.frame_bytes() * (self.chunk_ms / 20) as usize
    }

    /// The size of each audio message the provider takes back: one 20 ms
    /// frame; Exotel, at least 3,200 bytes and 100 ms (its docs' "Chunk
    /// Size Requirements").
    fn reply_bytes(&self) -> usize {
        if self.t == Telephony::Exotel { (self.frame_bytes() * 5).max(3200) } else { self.chunk_bytes() }
    }

    fn silence(&self) -> u8 {
        self.format.silence()
    }

    /// The caller's mu-law 8 kHz speech in the stream's codec and rate.
    fn encode_ulaw(&self, ulaw: &[u8]) -> Vec<u8> {
        match self.format {
            Format::Ulaw => ulaw.to_vec(),
            Format::Alaw => {
                let mut out = vec![0; ulaw.len()];
                teledsp::g711::ulaw_to_alaw(ulaw, &mut out).expect("same lengths");
                out
            }
            Format::Pcm16 { rate } => {
                let pcm = teledsp::g711::ulaw_decode_vec(ulaw);
                let pcm = if rate == 8000 {
                    pcm
                } else {
                    let mut r =
                        teledsp::resample::Resampler::new(8000, rate, Default::default()).expect("supported rates");
                    let mut v = r.process_i16_vec(&pcm);
                    v.extend(r.flush_i16_vec());
                    v
                };
                pcm.iter().flat_map(|s| s.to_le_bytes()).collect()
            }
        }
    }

    fn hello(&self, sid: &str, call: &str, params: &Value) -> Vec<Message> {
        let v = match self.t {
            Telephony::Twilio | Telephony::SignalWire => {
                let (encoding, rate) =
                    if self.t == Telephony::Twilio { ("audio/x-mulaw", 8000) } else { ("audio/x-L16", 24000) }; // SignalWire's docs' spelling
                vec![
                    json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
                    json!({"event": "start", "sequenceNumber": "1", "streamSid": sid, "start": {
                        "accountSid": "AC00000000000000000000000000000001", "streamSid": sid, "callSid": call,
                        "tracks": ["inbound"], "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1},
                        "customParameters": params}}),
                ]
            }
            Telephony::Telnyx => vec![
                json!({"event": "connected", "version": "1.0.0"}),
                json!({"event": "start", "sequence_number": "1", "stream_id": sid, "start": {
                    "user_id": "u1", "call_control_id": call, "client_state": null,
                    "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}}),
            ],
            Telephony::Plivo => vec![json!({"event": "start", "sequenceNumber": 1, "start": {
                "callId": call, "streamId": sid, "accountId": "MA1", "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}, "extra_headers": ""})],
            Telephony::Vonage => {
                let mut v =
                    json!({"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "uuid": call});
                if let (Some(m), Some(p)) = (v.as_object_mut(), params.as_object()) {
                    m.extend(p.clone());
                }
                vec![v]
            }
            Telephony::Exotel => vec![
                json!({"event": "connected"}),
                json!({"event": "start", "sequence_number": "1", "stream_sid": sid, "start": {
                    "stream_sid": sid, "call_sid": call, "account_sid": "A1", "from": "+15551230000", "to": "+15559870000",
                    "custom_parameters": params, "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}}),
            ],
        };
        v.into_iter().map(|m| Message::Text(m.to_string().into())).collect()
    }

    fn media(&self, seq: u64, n: u64, sid: &str, audio: &[u8]) -> Message {
        let p = STANDARD.encode_to_string(audio);
        let ts = (n - 1) * self.chunk_ms;
        // Written directly: this runs 50 times a second per simulated call,
        // beside the relay it measures.
        let text = match self.t {
            Telephony::Twilio | Telephony::SignalWire => format!(
                r#"{{"event":"media","sequenceNumber":"{seq}","streamSid":"{sid}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{ts}","payload":"{p}"}}}}"#
            ),
            Telephony::Telnyx => format!(
                r#"{{"event":"media","sequence_number":"{seq}","stream_id":"{sid}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{ts}","payload":"{p}"}}}}"#
            ),
            Telephony::Plivo => format!(
                r#"{{"event":"media","sequenceNumber":{seq},"streamId":"{sid}","media":{{"track":"inbound","timestamp":"{ts}","chunk":{n},"payload":"{p}"}}}}"#
            ),
            Telephony::Vonage => return Message::Binary(audio.to_vec().into()),
            Telephony::Exotel => format!(
                r#"{{"event":"media","sequence_number":"{seq}","stream_sid":"{sid}","media":{{"chunk":"{n}","timestamp":"{ts}","payload":"{p}"}}}}"#
            ),
        };
        Message::Text(text.into())
    }

    fn stop(&self, seq: u64, sid: &str, call: &str) -> Option<Message> {
        let v = match self.t {
            Telephony::Twilio | Telephony::SignalWire => {
                json!({"event": "stop", "sequenceNumber": seq.to_string(), "streamSid": sid,
                "stop": {"accountSid": "AC00000000000000000000000000000001", "callSid": call}})
            }
            Telephony::Telnyx => json!({"event": "stop", "sequence_number": seq.to_string(), "stream_id": sid,
                "stop": {"user_id": "u1", "call_control_id": call}}),
            Telephony::Exotel => json!({"event": "stop", "sequence_number": seq.to_string(), "stream_sid": sid,
                "stop": {"call_sid": call, "account_sid": "A1", "reason": "callended"}}),
            // Plivo and Vonage end by closing the socket.
            Telephony::Plivo | Telephony::Vonage => return None,
        };
        Some(Message::Text(v.to_string().into()))
    }

    fn echo(&self, seq: u64, sid: &str, name: &str) -> Message {
        let v = match self.t {
            Telephony::Twilio | Telephony::SignalWire => {
                json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": sid, "mark": {"name": name}})
            }
            Telephony::Telnyx => {
                json!({"event": "mark", "sequence_number": seq.to_string(), "stream_id": sid, "mark": {"name": name}})
            }
            Telephony::Plivo => json!({"event": "playedStream", "sequenceNumber": seq, "streamId": sid, "name": name}),
            Telephony::Vonage => json!({"event": "websocket:notify", "payload": {"name": name}}),
            Telephony::Exotel => {
                json!({"event": "mark", "sequence_number": seq.to_string(), "stream_sid": sid, "mark": {"name": name}})
            }
        };
        Message::Text(v.to_string().into())
    }

    fn echoes_marks_on_clear(&self) -> bool {
        matches!(self.t, Telephony::Twilio | Telephony::SignalWire)
    }

    /// What the provider sends when its queue is cleared.
    fn on_clear(&self, seq: u64, sid: &str, marks: &[String]) -> Vec<Message> {
        match self.t {
            Telephony::Twilio | Telephony::SignalWire => marks.iter().map(|m| self.echo(seq, sid, m)).collect(),
            Telephony::Plivo => {
                vec![Message::Text(
                    json!({"event": "clearedAudio", "sequenceNumber": seq, "streamId": sid}).to_string().into(),
                )]
            }
            Telephony::Vonage => vec![Message::Text(json!({"event": "websocket:cleared"}).to_string().into())],
            Telephony::Telnyx | Telephony::Exotel => vec![],
        }
    }

    fn read_binary(&self, b: &[u8]) -> Option<FromRelay> {
        (self.t == Telephony::Vonage).then(|| FromRelay::Media(b.to_vec()))
    }

    fn read_text(&self, t: &str) -> Option<FromRelay> {
        let v: Value = serde_json::from_str(t).ok()?;
        let payload = |v: &Value| STANDARD.decode_to_vec(v["media"]["payload"].as_str()?.as_bytes()).ok();
        let name = |n: &Value| n.as_str().map(str::to_owned);
        match self.t {
            Telephony::Twilio | Telephony::SignalWire | Telephony::Telnyx | Telephony::Exotel => {
                match v["event"].as_str()? {
                    "media" => payload(&v).map(FromRelay::Media),
                    "mark" => name(&v["mark"]["name"]).map(FromRelay::Mark),
                    "clear" => Some(FromRelay::Clear),
                    _ => None,
                }
            }
            Telephony::Plivo => match v["event"].as_str()? {
                "playAudio" if v["media"]["contentType"] == "audio/x-mulaw" && v["media"]["sampleRate"] == 8000 => {
                    payload(&v).map(FromRelay::Media)
                }
                "checkpoint" => name(&v["name"]).map(FromRelay::Mark),
                "clearAudio" => Some(FromRelay::Clear),
                _ => None,
            },
            Telephony::Vonage => match v["action"].as_str()? {
                "notify" => name(&v["payload"]["name"]).map(FromRelay::Mark),
                "clear" => Some(FromRelay::Clear),
                _ => None,
            },
        }
    }
}

fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(teledsp_relay::server::READ_BUFFER)
}

/// mu-law audio from a WAV file (8 kHz 16-bit mono, as the asterisk prompts are).
pub fn ulaw_from_wav(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let mut r = hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = r.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(format!("{}: need 16-bit mono, got {spec:?}", path.display()));
    }
    let pcm: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let pcm = if spec.sample_rate == 8000 {
        pcm
    } else {
        let mut rs =
            teledsp::resample::Resampler::new(spec.sample_rate, 8000, Default::default()).map_err(|e| e.to_string())?;
        let mut out = rs.process_i16_vec(&pcm);
        out.extend(rs.flush_i16_vec());
        out
    };
    Ok(teledsp::g711::ulaw_encode_vec(&pcm))
}
