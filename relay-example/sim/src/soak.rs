//! `teledsp-relay soak`: long calls against a running relay (whose upstream
//! is `fake-openai --mode echo-frames`), with a share of the callers
//! misbehaving in every way the relay bounds, for the whole run. Reports
//! the relay's memory minute by minute, its calls and file descriptors at
//! the end, and whether every well-behaved call got all its frames back.
//!
//! Each misbehaving slot repeats one [`Misbehaviour`] until the run ends.

use std::time::{Duration, Instant};

use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::caller::{self, CallerConfig};
use crate::demo::rss_bytes;

/// What a misbehaving caller does, over and over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Half an HTTP request head, then nothing (slowloris).
    Slowloris,
    /// A WebSocket that never sends `start`.
    NoStart,
    /// 50 media messages of 12 KiB before `start`, then nothing.
    PreStartFlood,
    /// `start`, then one 64 KiB message.
    Oversize,
    /// `start` and real-time media, never reading; after 30 s, silent too.
    StalledReader,
    /// `start`, then no media.
    Silent,
    /// A real-time call with a binary frame and a junk message every 5th frame.
    Garbage,
    /// `start`, 2 s of media, then the TCP connection dropped without a close.
    Vanish,
}

impl Misbehaviour {
    /// All of them, in slot order.
    pub const ALL: [Misbehaviour; 8] = [
        Misbehaviour::Slowloris,
        Misbehaviour::NoStart,
        Misbehaviour::PreStartFlood,
        Misbehaviour::Oversize,
        Misbehaviour::StalledReader,
        Misbehaviour::Silent,
        Misbehaviour::Garbage,
        Misbehaviour::Vanish,
    ];
}

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The relay's Media Stream URL (`ws://host:port/media`).
    pub target: String,
    /// Concurrent callers, misbehaving ones included.
    pub calls: usize,
    /// Length of the run (and of each well-behaved call).
    pub duration: Duration,
    /// Share of callers that misbehave.
    pub misbehave: f64,
    /// The relay's pid (memory, file descriptors).
    pub relay_pid: u32,
    /// Calls are started evenly over this time.
    pub ramp: Duration,
}

/// Per misbehaviour: rounds run and how the relay ended them.
#[derive(Debug, Default, Clone)]
pub struct Rounds {
    /// Rounds run.
    pub rounds: u64,
    /// Rounds the relay ended (closed the connection or the stream).
    pub ended_by_relay: u64,
    /// Close codes seen, with counts.
    pub codes: std::collections::BTreeMap<String, u64>,
}

/// Runs the soak; returns the printed report and whether it passed.
pub async fn run(cfg: SoakConfig) -> (String, bool) {
    let bad = ((cfg.calls as f64) * cfg.misbehave).round() as usize;
    let good = cfg.calls - bad;
    let frames = (cfg.duration.as_millis() / 20) as usize;
    let deadline = Instant::now() + cfg.duration;
    let fds0 = fd_count(cfg.relay_pid);
    let t0 = Instant::now();
    let mut good_tasks = Vec::new();
    for i in 0..good {
        let delay = cfg.ramp.mul_f64(i as f64 / cfg.calls.max(1) as f64);
        let audio: Vec<u8> = (0..frames * caller::FRAME).map(|k| if k % 16 < 8 { 0xE0 } else { 0x60 }).collect();
        let mut c = CallerConfig::new(cfg.target.clone(), audio, 0);
        c.call_sid = format!("CA{i:032}");
        c.record = false;
        good_tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            caller::run(c).await
        }));
    }
    let mut bad_tasks = Vec::new();
    for i in 0..bad {
        let m = Misbehaviour::ALL[i % Misbehaviour::ALL.len()];
        let target = cfg.target.clone();
        bad_tasks.push(tokio::spawn(async move {
            let mut r = Rounds::default();
            while Instant::now() < deadline {
                r.rounds += 1;
                let code = misbehave(m, &target).await;
                if let Some(code) = code {
                    r.ended_by_relay += 1;
                    *r.codes.entry(code).or_default() += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (m, r)
        }));
    }
    // RSS every 5 s; the report takes each minute's mean.
    let pid = cfg.relay_pid;
    let (stop_sampler, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut samples: Vec<(f64, u64)> = Vec::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = &mut stopped => return samples,
            }
            match rss_bytes(pid) {
                Some(r) => samples.push((t0.elapsed().as_secs_f64(), r)),
                None => return samples,
            }
        }
    });
    let (mut held, mut lost, mut failed) = (0usize, 0u64, 0usize);
    for t in good_tasks {
        match t.await {
            Ok(Ok(r)) if r.sent as usize == frames && r.close_code.is_none_or(|c| c == 1000) => {
                held += 1;
                lost += r.sent.saturating_sub(r.received);
            }
            Ok(Ok(r)) => {
                failed += 1;
                lost += r.sent.saturating_sub(r.received);
            }
            _ => failed += 1,
        }
    }
    let mut rounds: std::collections::BTreeMap<String, Rounds> = Default::default();
    for t in bad_tasks {
        if let Ok((m, r)) = t.await {
            let e = rounds.entry(format!("{m:?}")).or_default();
            e.rounds += r.rounds;
            e.ended_by_relay += r.ended_by_relay;
            for (k, v) in r.codes {
                *e.codes.entry(k).or_default() += v;
            }
        }
    }
    // Bounds are at most ~15 s: give the relay that long to end what is left.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let _ = stop_sampler.send(());
    let samples = sampler.await.unwrap_or_default();
    let fds1 = fd_count(cfg.relay_pid);
    let metrics = relay_metrics(&cfg.target).await;

    let mut out = String::new();
    use std::fmt::Write;
    let _ =
        writeln!(out, "soak: {} callers ({good} well-behaved, {bad} misbehaving) for {:?}", cfg.calls, cfg.duration);
    let _ = writeln!(out, "well-behaved calls: {held} held to the end, {failed} failed; frames lost: {lost}");
    let _ = writeln!(out, "misbehaving rounds (each ended by the relay, close codes):");
    for (m, r) in &rounds {
        let _ = writeln!(
            out,
            "  {m:<14} {:>5} rounds, {:>5} ended by the relay, {:?}",
            r.rounds, r.ended_by_relay, r.codes
        );
    }
    let minutes = per_minute(&samples);
    let _ = writeln!(
        out,
        "relay RSS by minute (MiB): {}",
        minutes.iter().map(|m| format!("{:.1}", m / 1048576.0)).collect::<Vec<_>>().join(" ")
    );
    let first = minutes.first().copied().unwrap_or(0.0);
    let worst = minutes.iter().copied().fold(0.0, f64::max);
    let growth = if first > 0.0 { worst / first - 1.0 } else { f64::NAN };
    let _ = writeln!(out, "RSS: largest minute {:+.1}% against the first", growth * 100.0);
    let _ = writeln!(out, "relay file descriptors: {fds0:?} before, {fds1:?} after");
    for name in [
        "teledsp_relay_active_calls ",
        "teledsp_relay_calls_total",
        "teledsp_relay_timeouts_total",
        "teledsp_relay_malformed_total",
        "teledsp_relay_frames_dropped_total",
        "teledsp_relay_upstream_errors_total",
    ] {
        for l in metrics.lines().filter(|l| l.starts_with(name)) {
            let _ = writeln!(out, "  {l}");
        }
    }
    let active = metrics
        .lines()
        .find(|l| l.starts_with("teledsp_relay_active_calls "))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    let ok = failed == 0 && lost == 0 && growth <= 0.10 && active == Some(0.0) && fds1 <= fds0;
    let _ = writeln!(out, "{}", if ok { "PASS" } else { "FAIL" });
    (out, ok)
}

/// Mean RSS of each whole minute.
fn per_minute(samples: &[(f64, u64)]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut m = 0;
    loop {
        let (lo, hi) = (m as f64 * 60.0, (m + 1) as f64 * 60.0);
        let v: Vec<u64> = samples.iter().filter(|(t, _)| *t >= lo && *t < hi).map(|(_, r)| *r).collect();
        if v.len() < 6 {
            return out;
        }
        out.push(v.iter().sum::<u64>() as f64 / v.len() as f64);
        m += 1;
    }
}

fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(|d| d.count())
}

async fn relay_metrics(target: &str) -> String {
    let url = target.replacen("ws://", "http://", 1).replace("/media", "/metrics");
    match reqwest::get(url).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => format!("# metrics unavailable: {e}"),
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn start() -> Message {
    let sid = "MZ00000000000000000000000000000bad";
    Message::Text(
        json!({"event": "start", "streamSid": sid, "start": {"streamSid": sid, "callSid": "CA0000000000000000000000000000bad",
               "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        .to_string()
        .into(),
    )
}

fn media(bytes: usize) -> Message {
    let payload = STANDARD.encode_to_string(vec![0xFFu8; bytes]);
    let sid = "MZ00000000000000000000000000000bad";
    Message::Text(json!({"event": "media", "streamSid": sid, "media": {"payload": payload}}).to_string().into())
}

/// Reads until the relay closes (within `within`): the close code, or
/// "eof" when the connection ended without one; None if it never ended.
async fn until_closed(ws: &mut Ws, within: Duration) -> Option<String> {
    tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => {
                    return f.map_or("no code".to_string(), |f| u16::from(f.code).to_string());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return "eof".to_string(),
            }
        }
    })
    .await
    .ok()
}

/// One round of `m`; how the relay ended it, if it did.
async fn misbehave(m: Misbehaviour, target: &str) -> Option<String> {
    let bound = Duration::from_secs(60);
    match m {
        Misbehaviour::Slowloris => {
            let addr = target.trim_start_matches("ws://").split('/').next().unwrap_or("");
            let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
            tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ").await.ok()?;
            let mut buf = [0u8; 256];
            match tokio::time::timeout(bound, tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => Some("eof".into()),
                Ok(Ok(_)) => Some("answered".into()),
                Err(_) => None,
            }
        }
        Misbehaviour::NoStart => {
            let (mut ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            let connected = json!({"event": "connected", "protocol": "Call", "version": "1.0.0"});
            ws.send(Message::Text(connected.to_string().into())).await.ok()?;
            until_closed(&mut ws, bound).await
        }
        Misbehaviour::PreStartFlood => {
            let (mut ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            for _ in 0..50 {
                if ws.send(media(12_000)).await.is_err() {
                    break;
                }
            }
            until_closed(&mut ws, bound).await
        }
        Misbehaviour::Oversize => {
            let (mut ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            ws.send(start()).await.ok()?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = ws.send(media(48 * 1024)).await;
            until_closed(&mut ws, bound).await
        }
        Misbehaviour::StalledReader => {
            let sock = tokio::net::TcpSocket::new_v4().ok()?;
            sock.set_recv_buffer_size(4096).ok()?;
            let addr = target.trim_start_matches("ws://").split('/').next().unwrap_or("");
            let tcp = sock.connect(addr.parse().ok()?).await.ok()?;
            let (ws, _) = tokio_tungstenite::client_async(target, tcp).await.ok()?;
            let (mut tx, mut rx) = ws.split();
            tx.send(start()).await.ok()?;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for _ in 0..1500 {
                tick.tick().await;
                if tx.send(media(160)).await.is_err() {
                    break;
                }
            }
            // Now a dead peer: neither reads nor writes. Only then read, to see the end.
            tokio::time::sleep(Duration::from_secs(20)).await;
            let ended = tokio::time::timeout(bound, async {
                loop {
                    match rx.next().await {
                        Some(Ok(Message::Close(f))) => {
                            return f.map_or("no code".into(), |f| u16::from(f.code).to_string());
                        }
                        Some(Ok(_)) => {}
                        _ => return "eof".to_string(),
                    }
                }
            });
            ended.await.ok()
        }
        Misbehaviour::Silent => {
            let (mut ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            ws.send(start()).await.ok()?;
            until_closed(&mut ws, bound).await
        }
        Misbehaviour::Garbage => {
            let (ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            let (mut tx, mut rx) = ws.split();
            tx.send(start()).await.ok()?;
            let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for i in 0..1500 {
                tick.tick().await;
                let m = match i % 5 {
                    1 => Message::Binary(vec![0u8; 160].into()),
                    3 => Message::Text("{\"event\":\"media\",\"media\":{\"payload\":\"@@@\"}}".into()),
                    _ => media(160),
                };
                if tx.send(m).await.is_err() {
                    break;
                }
            }
            let _ = tx.send(Message::Close(None)).await;
            let _ = tokio::time::timeout(bound, reader).await;
            // A normal hang-up: the relay did not have to end it.
            None
        }
        Misbehaviour::Vanish => {
            let (ws, _) = tokio_tungstenite::connect_async(target).await.ok()?;
            let (mut tx, rx) = ws.split();
            tx.send(start()).await.ok()?;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for _ in 0..100 {
                tick.tick().await;
                let _ = tx.send(media(160)).await;
            }
            drop((tx, rx)); // the TCP connection goes, no close frame
            None
        }
    }
}
