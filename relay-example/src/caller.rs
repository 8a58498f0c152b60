//! A simulated Twilio caller: the Media Streams client side, as Twilio
//! behaves. It sends `connected`, `start` and one `media` message per 20 ms
//! of audio at real-time pace, plays what comes back at real-time pace,
//! echoes each `mark` when the audio before it has played, and on `clear`
//! drops its queued audio and echoes the pending marks at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Twilio's frame: 20 ms of 8 kHz mu-law.
pub const FRAME: usize = 160;
const TICK: Duration = Duration::from_millis(20);
/// After its last frame, a caller waits up to this long for answers still in
/// flight (fewer frames back than sent) and for its playback to finish
/// before hanging up.
const LINGER: Duration = Duration::from_secs(2);

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
    /// The audio played (what the caller heard), mu-law.
    pub heard: Vec<u8>,
    /// For each timed received frame (see [`CallerConfig::measure_every`]),
    /// in order: time since the frame with the same index was sent (the
    /// round trip when the far end echoes frames).
    pub round_trips: Vec<Duration>,
    /// Marks echoed back to the relay.
    pub marks_echoed: u64,
    /// `clear` messages received.
    pub clears: u64,
    /// Received messages that were not Twilio-shaped.
    pub bad_messages: u64,
    /// How the relay closed the stream (close code), if it did.
    pub close_code: Option<u16>,
}

enum Queued {
    Frame(Vec<u8>),
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
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(ws_config()), true)
        .await
        .map_err(|e| format!("connect {}: {e}", cfg.url))?;
    let (mut tx, mut rx) = ws.split();
    let sid = "MZ00000000000000000000000000000001";
    let send = |v: Value| Message::Text(v.to_string().into());
    let mut report = CallerReport::default();
    let hello = [
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json!({"event": "start", "sequenceNumber": "1", "streamSid": sid, "start": {
            "accountSid": "AC00000000000000000000000000000001", "streamSid": sid, "callSid": cfg.call_sid,
            "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": cfg.params}}),
    ];
    for m in hello {
        if tx.send(send(m)).await.is_err() {
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
    let mut frames = cfg.audio.chunks(FRAME).map(|f| {
        let mut f = f.to_vec();
        f.resize(FRAME, 0xFF);
        f
    });
    let total = cfg.audio.len().div_ceil(FRAME) + cfg.tail_frames;
    let mut sent_at: VecDeque<Instant> = VecDeque::new();
    let mut queue: VecDeque<Queued> = VecDeque::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq = 2u64;
    let mut hangup_at: Option<Instant> = None;
    let mut linger_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                // Talk.
                if (report.sent as usize) < total {
                    let frame = frames.next().unwrap_or_else(|| vec![0xFF; FRAME]);
                    // Twilio's exact shape, written directly: this runs 50 times a
                    // second per simulated call, beside the relay it measures.
                    let msg = format!(
                        r#"{{"event":"media","sequenceNumber":"{seq}","streamSid":"{sid}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{}"}}}}"#,
                        report.sent + 1, report.sent * 20, STANDARD.encode_to_string(&frame));
                    seq += 1;
                    sent_at.push_back(Instant::now());
                    if tx.send(Message::Text(msg.into())).await.is_err() { break; }
                    report.sent += 1;
                } else if hangup_at.is_none() && (report.received < report.sent || !queue.is_empty()) && linger_since.get_or_insert_with(Instant::now).elapsed() < LINGER {
                    // Stay on the line a moment for what is still in flight.
                } else if hangup_at.is_none() {
                    let _ = tx.send(send(json!({"event": "stop", "sequenceNumber": seq.to_string(), "streamSid": sid,
                        "stop": {"accountSid": "AC00000000000000000000000000000001", "callSid": cfg.call_sid}}))).await;
                    hangup_at = Some(Instant::now());
                }
                // Play one frame, echoing the marks reached.
                let mut played = false;
                while let Some(q) = queue.front() {
                    match q {
                        Queued::Mark(_) => {
                            if let Some(Queued::Mark(name)) = queue.pop_front() {
                                let _ = tx.send(mark_echo(seq, sid, &name)).await;
                                seq += 1;
                                report.marks_echoed += 1;
                            }
                        }
                        Queued::Frame(_) if played => break,
                        Queued::Frame(_) => {
                            if let Some(Queued::Frame(f)) = queue.pop_front()
                                && cfg.record
                            {
                                report.heard.extend_from_slice(&f);
                            }
                            played = true;
                        }
                    }
                }
                if hangup_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) { break; }
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(m) = serde_json::from_str::<FromRelay>(t.as_str()) else { report.bad_messages += 1; continue };
                    match m.event.as_ref() {
                        "media" => {
                            let Some(f) = m.media.and_then(|m| STANDARD.decode_to_vec(m.payload.as_bytes()).ok()) else { report.bad_messages += 1; continue };
                            if f.len() != FRAME { report.bad_messages += 1; }
                            if (report.received as usize + 1).is_multiple_of(cfg.measure_every.max(1))
                                && let Some(t0) = sent_at.get(report.received as usize)
                            {
                                report.round_trips.push(t0.elapsed());
                            }
                            report.received += 1;
                            queue.push_back(Queued::Frame(f));
                        }
                        "mark" => queue.push_back(Queued::Mark(m.mark.map(|m| m.name.into_owned()).unwrap_or_default())),
                        "clear" => {
                            report.clears += 1;
                            let marks: Vec<String> = queue.drain(..).filter_map(|q| match q { Queued::Mark(m) => Some(m), _ => None }).collect();
                            for name in marks {
                                let _ = tx.send(mark_echo(seq, sid, &name)).await;
                                seq += 1;
                                report.marks_echoed += 1;
                            }
                        }
                        _ => report.bad_messages += 1,
                    }
                }
                Some(Ok(Message::Close(frame))) => { report.close_code = frame.map(|f| u16::from(f.code)).or(Some(1005)); break; }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            }
        }
    }
    Ok(report)
}

/// What the relay sends a caller (`media`, `mark`, `clear`), borrowed.
#[derive(serde::Deserialize)]
struct FromRelay<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    media: Option<MediaPayload<'a>>,
    #[serde(borrow)]
    mark: Option<MarkName<'a>>,
}

#[derive(serde::Deserialize)]
struct MediaPayload<'a> {
    #[serde(borrow)]
    payload: std::borrow::Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct MarkName<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

/// The `mark` message Twilio sends back when playback reaches a mark.
fn mark_echo(seq: u64, sid: &str, name: &str) -> Message {
    let v = json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": sid, "mark": {"name": name}});
    Message::Text(v.to_string().into())
}

fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(crate::server::READ_BUFFER)
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
