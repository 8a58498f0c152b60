//! The relay against hostile and broken peers, with real sockets on
//! loopback: every fault is bounded in time and memory, closes say why,
//! counters count what happened, and secrets stay out of the logs. Each
//! test fails on the relay before these bounds existed.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use teledsp::signature::RequestValidator;
use teledsp_sim::caller::{self, CallerConfig};
use teledsp_sim::fake_openai::{FakeConfig, Mode};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn start_msg(call_sid: &str, params: Value) -> Message {
    let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"streamSid": "MZ1", "callSid": call_sid, "customParameters": params,
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
    Message::Text(start.to_string().into())
}

fn media_msg(stream_sid: &str, bytes: &[u8]) -> Message {
    let m = json!({"event": "media", "streamSid": stream_sid, "media": {"payload": STANDARD.encode_to_string(bytes)}});
    Message::Text(m.to_string().into())
}

/// Reads until the relay closes; returns the close code (None: no close frame).
async fn close_code(ws: &mut Client, within: Duration) -> Option<u16> {
    tokio::time::timeout(within, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("the relay did not close the stream within {within:?}"))
}

async fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_request_heads_and_idle_keep_alives_are_closed_at_the_header_read_timeout() {
    let fake = fake(FakeConfig::default()).await;
    let relay = relay_with(fake.url(), |s| s.limits.header_read = Duration::from_millis(800)).await;
    let addr = relay.addr;
    let t0 = Instant::now();
    let closed = tokio::task::spawn_blocking(move || {
        // Slowloris: 40 connections that each send part of a request head.
        let mut conns: Vec<std::net::TcpStream> = (0..40)
            .map(|_| {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ").unwrap();
                c
            })
            .collect();
        // And a keep-alive connection left idle after one full request.
        let mut idle = std::net::TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        let n = idle.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        conns.push(idle);
        conns
            .into_iter()
            .map(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut rest = Vec::new();
                // EOF (or a reset) within the bound; a timeout is an error here.
                match c.read_to_end(&mut rest) {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                }
            })
            .filter(|closed| *closed)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(closed, 41, "every stalled connection was closed by the relay");
    assert!(t0.elapsed() < Duration::from_secs(4), "closed after {:?}", t0.elapsed());
    let r = reqwest::get(relay.http("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_before_start_is_refused_not_buffered() {
    let fake = fake(FakeConfig { capture: true, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    // 200 messages of 1.5 s of audio each (12 KiB, under the message cap),
    // before `start`: the relay used to convert and hold every one.
    for _ in 0..200 {
        ws.send(media_msg("MZ1", &[0x7Fu8; 12_000])).await.unwrap();
    }
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    for _ in 0..10 {
        ws.send(media_msg("MZ1", &[0xFFu8; 160])).await.unwrap();
    }
    wait_for("the 10 frames after start reach OpenAI", Duration::from_secs(5), || {
        fake.log.lock().unwrap().appended_ms >= 200
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.log.lock().unwrap().appended_ms, 200, "only the audio after start went upstream");
    assert_eq!(relay.metric("teledsp_relay_malformed_total"), 200.0);
    assert_eq!(relay.metric("teledsp_relay_frames_in_total"), 10.0);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_closes_with_1009_and_binary_frames_count_as_malformed() {
    let fake = fake(FakeConfig::default()).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    ws.send(Message::Binary(vec![0u8; 160].into())).await.unwrap();
    ws.send(media_msg("MZ1", &[0xFFu8; 160])).await.unwrap();
    wait_for("the binary frame is counted", Duration::from_secs(5), || {
        relay.metric("teledsp_relay_malformed_total") == 1.0
    })
    .await;
    // 64 KiB: under the old 1 MiB cap, over the /media cap (16 KiB).
    ws.send(media_msg("MZ1", &vec![0xFFu8; 48 * 1024])).await.unwrap();
    assert_eq!(close_code(&mut ws, Duration::from_secs(5)).await, Some(1009));
    wait_for("the call ends", Duration::from_secs(5), || relay.metric("teledsp_relay_active_calls") == 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_start_times_out_and_is_never_an_active_call() {
    let fake = fake(FakeConfig::default()).await;
    let relay = relay_with(fake.url(), |s| s.limits.start = Duration::from_millis(500)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    let connected = json!({"event": "connected", "protocol": "Call", "version": "1.0.0"});
    ws.send(Message::Text(connected.to_string().into())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(relay.metric("teledsp_relay_active_calls"), 0.0, "a socket without start is not a call");
    assert_eq!(close_code(&mut ws, Duration::from_secs(3)).await, Some(1000));
    assert_eq!(relay.metric(r#"teledsp_relay_timeouts_total{phase="start"}"#), 1.0);
    assert_eq!(relay.metric("teledsp_relay_calls_total"), 0.0);
    assert_eq!(fake.log.lock().unwrap().connections, 0, "no upstream session was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_before_start_ends_the_stream_at_once() {
    let fake = fake(FakeConfig::default()).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    let t0 = Instant::now();
    ws.send(Message::Text(json!({"event": "stop", "streamSid": "MZ1"}).to_string().into())).await.unwrap();
    assert_eq!(close_code(&mut ws, Duration::from_secs(3)).await, Some(1000));
    assert!(t0.elapsed() < Duration::from_secs(1), "not held until the start bound: {:?}", t0.elapsed());
    assert_eq!(relay.metric("teledsp_relay_calls_total"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_call_that_sends_no_media_is_ended() {
    let fake = fake(FakeConfig::default()).await;
    let relay = relay_with(fake.url(), |s| s.limits.media_idle = Duration::from_millis(600)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    wait_for("the call starts", Duration::from_secs(5), || relay.metric("teledsp_relay_active_calls") == 1.0).await;
    assert_eq!(close_code(&mut ws, Duration::from_secs(3)).await, Some(1000));
    assert_eq!(relay.metric(r#"teledsp_relay_timeouts_total{phase="media"}"#), 1.0);
    wait_for("the call ends", Duration::from_secs(2), || relay.metric("teledsp_relay_active_calls") == 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_answers_the_session_only_with_error_gets_the_fallback() {
    // session.created, then `error` for the session.update, then silence.
    let url = scripted_upstream(|mut ws| async move {
        let created = json!({"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}});
        ws.send(Message::Text(created.to_string().into())).await.unwrap();
        ws.next().await; // session.update
        let err = json!({"type": "error", "event_id": "e2",
            "error": {"type": "invalid_request_error", "code": "invalid_value", "message": "no"}});
        ws.send(Message::Text(err.to_string().into())).await.unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let relay = relay_with(url, |s| s.limits.session = Duration::from_millis(800)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    let t0 = Instant::now();
    let feed = async {
        // The caller keeps streaming, as Twilio does.
        loop {
            if ws.send(media_msg("MZ1", &[0xFFu8; 160])).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), feed).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "the stream was closed at the session bound");
    assert_eq!(relay.metric(r#"teledsp_relay_timeouts_total{phase="session"}"#), 1.0);
    wait_for("the call ends", Duration::from_secs(2), || relay.metric("teledsp_relay_active_calls") == 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_side_that_stops_reading_ends_the_call_at_the_write_bound() {
    // 10 minutes of audio at once for a caller that reads nothing.
    let url = scripted_upstream(|mut ws| async move {
        ws.next().await; // session.update
        let ok = json!({"type": "session.updated", "event_id": "e1", "session": {"type": "realtime"}});
        ws.send(Message::Text(ok.to_string().into())).await.unwrap();
        let pcm = STANDARD.encode_to_string(vec![0u8; 4800]);
        let delta = json!({"type": "response.output_audio.delta", "item_id": "item_1", "delta": pcm}).to_string();
        for _ in 0..6000 {
            if ws.send(Message::Text(delta.clone().into())).await.is_err() {
                return;
            }
        }
        while ws.next().await.is_some() {}
    })
    .await;
    let relay = relay_with(url, |s| {
        s.limits.write = Duration::from_millis(500);
        s.limits.media_idle = Duration::from_secs(60);
    })
    .await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(relay.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(relay.media(), tcp).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    wait_for("the call starts", Duration::from_secs(5), || relay.metric("teledsp_relay_calls_total") == 1.0).await;
    wait_for("a stalled writer ends the call", Duration::from_secs(10), || {
        relay.metric("teledsp_relay_active_calls") == 0.0
    })
    .await;
    assert_eq!(relay.metric(r#"teledsp_relay_timeouts_total{phase="write"}"#), 1.0);
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_tokens_bind_a_stream_to_the_call_twiml_answered() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let v = RequestValidator::new("tok");
    let relay = relay_with(fake.url(), |s| {
        s.validator = Some(RequestValidator::new("tok"));
        s.call_tokens = Some(teledsp::signature::CallToken::new("tok"));
    })
    .await;
    let params = [("CallSid", "CA9"), ("From", "+15550100"), ("To", "+15550199")];
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig = v.sign("https://relay.example.com/twiml", &owned);
    let http = reqwest::Client::new();
    let xml = http.post(relay.http("/twiml")).header("X-Twilio-Signature", sig).form(&params).send().await.unwrap();
    let xml = xml.text().await.unwrap();
    let marker = r#"<Parameter name="teledspCallToken" value=""#;
    let token = &xml[xml.find(marker).unwrap_or_else(|| panic!("no token in {xml}")) + marker.len()..];
    let token = token[..token.find('"').unwrap()].to_string();
    // One captured /media signature, replayed for every attempt below.
    let media_sig = v.sign("wss://relay.example.com/media", &[]);
    let attempt = |call_sid: &str, params: Value| {
        let mut c = CallerConfig::new(relay.media(), tone_ulaw(200, 300.0, 6000.0), 0);
        c.signature = Some(media_sig.clone());
        c.call_sid = call_sid.into();
        c.params = params;
        caller::run(c)
    };
    let ok = attempt("CA9", json!({"CallSid": "CA9", "teledspCallToken": token})).await.unwrap();
    assert_eq!(ok.received, 10, "the call /twiml answered runs");
    let other = attempt("CA10", json!({"CallSid": "CA10", "teledspCallToken": token})).await.unwrap();
    assert_eq!((other.close_code, other.received), (Some(1008), 0), "a token is for one call SID");
    let none = attempt("CA11", json!({"CallSid": "CA11"})).await.unwrap();
    assert_eq!((none.close_code, none.received), (Some(1008), 0), "no token, no call");
    assert_eq!(relay.metric("teledsp_relay_signature_rejections_total"), 2.0);
    assert_eq!(relay.metric("teledsp_relay_calls_total"), 1.0, "refused streams are not calls");
}

/// SignalWire documents no signature on the stream's upgrade, only
/// `Authorization: Bearer <authBearerToken>` from the `<Stream>`: /twiml
/// puts a per-call token there, and /media takes the stream with that
/// bearer token (unsigned), for that call SID only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signalwire_streams_carry_the_call_token_as_a_bearer() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let v = RequestValidator::new("sw-key");
    let relay = relay_with(fake.url(), |s| {
        s.call.telephony = teledsp::call::Telephony::SignalWire;
        s.validator = Some(RequestValidator::new("sw-key"));
        s.call_tokens = Some(teledsp::signature::CallToken::new("sw-key"));
    })
    .await;
    let params = [("CallSid", "CA9"), ("From", "+15550100"), ("To", "+15550199")];
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig = v.sign("https://relay.example.com/twiml", &owned);
    let http = reqwest::Client::new();
    let xml = http.post(relay.http("/twiml")).header("X-SignalWire-Signature", sig).form(&params).send().await.unwrap();
    let xml = xml.text().await.unwrap();
    let marker = r#"authBearerToken=""#;
    let token = &xml[xml.find(marker).unwrap_or_else(|| panic!("no authBearerToken in {xml}")) + marker.len()..];
    let token = token[..token.find('"').unwrap()].to_string();
    assert!(!xml.contains("teledspCallToken"), "the token travels as the bearer only: {xml}");
    let attempt = |call_sid: &str, bearer: Option<String>| {
        let mut c = CallerConfig::new(relay.media(), tone_ulaw(200, 300.0, 6000.0), 0);
        c.telephony = teledsp::call::Telephony::SignalWire;
        c.call_sid = call_sid.into();
        c.bearer = bearer;
        caller::run(c)
    };
    let ok = attempt("CA9", Some(token.clone())).await.unwrap();
    assert!(ok.received > 0 && ok.close_code != Some(1008), "the call /twiml answered runs: {ok:?}");
    let other = attempt("CA10", Some(token.clone())).await.unwrap();
    assert_eq!((other.close_code, other.received), (Some(1008), 0), "a token is for one call SID");
    let none = attempt("CA11", None).await.unwrap();
    assert_eq!((none.close_code, none.received), (Some(1008), 0), "no bearer, no call");
    assert_eq!(relay.metric("teledsp_relay_signature_rejections_total"), 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbound_stream_sid_comes_from_start_only() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    for _ in 0..5 {
        ws.send(media_msg("MZevil", &[0xFFu8; 160])).await.unwrap();
    }
    let mut sids = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["event"] == "media" {
                    sids.push(v["streamSid"].as_str().unwrap().to_string());
                    if sids.len() == 5 {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert_eq!(sids, vec!["MZ1"; 5]);
    ws.close(None).await.unwrap();
}

// ---- the binary, as deployed --------------------------------------------

/// `teledsp-relay serve` on a free port with `args`; stderr captured.
struct Proc {
    child: Child,
    port: u16,
    /// stderr, read as it comes (a full pipe would block the relay).
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    async fn start(model_url: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_teledsp-relay"));
        cmd.args(["serve", "--listen", &listen, "--model-url", model_url, "--insecure-no-signature"])
            .args(args)
            .env_remove("TWILIO_AUTH_TOKEN")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut err, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let p = Proc { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(p.url("http", "/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "relay did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        p
    }
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }
    /// Waits for exit within `within`; the status.
    async fn exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(t0.elapsed() < within, "still running {within:?} after the signal");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    /// stderr so far (all of it once the process exited and a moment passed).
    fn stderr(&mut self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_at_the_drain_timeout_whatever_clients_hold_and_live_calls_get_1001() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let mut relay = Proc::start(&fake.url(), &["--drain-timeout", "1"], &[]).await;
    // A client holding half a request head, and a live call.
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", relay.port)).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, b"POST /twiml HTTP/1.1\r\nHost: r\r\n").await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.url("ws", "/media")).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    ws.send(media_msg("MZ1", &[0xFFu8; 160])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    relay.signal("-TERM");
    // The caller keeps talking; the relay closes it at the drain timeout.
    let talk = async {
        let mut code = None;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                _ = tick.tick() => { let _ = ws.send(media_msg("MZ1", &[0xFFu8; 160])).await; }
                m = ws.next() => match m {
                    Some(Ok(Message::Close(f))) => { code = f.map(|f| u16::from(f.code)); break; }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
        }
        code
    };
    let code = tokio::time::timeout(Duration::from_secs(5), talk).await.expect("the live call was closed");
    assert_eq!(code, Some(1001), "the live call got a close frame, not a dropped connection");
    let status = relay.exit(Duration::from_secs(5)).await;
    assert!(status.success(), "{status}");
    assert!(t0.elapsed() < Duration::from_secs(4), "exited {:?} after SIGTERM", t0.elapsed());
    drop(half);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let mut relay = Proc::start(&fake.url(), &["--drain-timeout", "60"], &[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.url("ws", "/media")).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(relay.child.try_wait().unwrap().is_none(), "draining the live call");
    relay.signal("-INT");
    let status = relay.exit(Duration::from_secs(2)).await;
    assert!(!status.success(), "an interrupted drain is not a clean exit: {status}");
    assert!(relay.stderr().contains("second signal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_carry_no_api_key_nor_audio_and_warnings_are_rate_limited() {
    const KEY: &str = "sk-never-log-this-3f9a";
    // session.updated, then an error event with a code, then silence.
    let url = scripted_upstream(|mut ws| async move {
        ws.next().await; // session.update
        let ok = json!({"type": "session.updated", "event_id": "e1", "session": {"type": "realtime"}});
        ws.send(Message::Text(ok.to_string().into())).await.unwrap();
        let err = json!({"type": "error", "event_id": "e2",
            "error": {"type": "invalid_request_error", "code": "code_for_the_log", "message": "bad"}});
        ws.send(Message::Text(err.to_string().into())).await.unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let mut relay = Proc::start(&url, &[], &[("RUST_LOG", "trace"), ("OPENAI_API_KEY", KEY)]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.url("ws", "/media")).await.unwrap();
    ws.send(start_msg("CA1", json!({}))).await.unwrap();
    // A distinctive frame: its base64 must not appear in the log.
    let frame: Vec<u8> = (0..160u32).map(|i| (i * 7 + 13) as u8).collect();
    let b64 = STANDARD.encode_to_string(&frame);
    for _ in 0..25 {
        ws.send(media_msg("MZ1", &frame)).await.unwrap();
    }
    for _ in 0..50 {
        ws.send(Message::Text("{not json".into())).await.unwrap();
    }
    // The upstream's error event arrives meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.send(Message::Text(json!({"event": "stop", "streamSid": "MZ1"}).to_string().into())).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), async { while ws.next().await.is_some() {} }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    relay.signal("-TERM");
    relay.exit(Duration::from_secs(10)).await;
    let log = relay.stderr();
    assert!(log.contains("call ended"), "the relay logged at all:\n{log}");
    assert!(!log.contains(KEY), "the API key is in the log");
    assert!(!log.contains(&b64[..40]), "caller audio is in the log");
    assert!(log.contains("code_for_the_log"), "the upstream error's code is logged:\n{log}");
    let skipped = log.matches("skipped phone message").count();
    assert_eq!(skipped, 3, "50 malformed messages, 3 warning lines");
    assert!(log.contains("warnings_not_logged=47"), "the rest are summed up");
}
