//! The relay end to end, with real WebSocket servers and clients on loopback:
//! the relay (axum), the fake OpenAI server, and a simulated Twilio caller.

use std::time::Duration;

use base64_simd::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use teledsp::call::RealtimeVersion as Api;
use teledsp::signature::RequestValidator as Validator;
use teledsp_sim::caller::{self, CallerConfig};
use teledsp_sim::fake_openai::{FakeConfig, Mode};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

/// An upstream that answers at once with 10 minutes of audio: 6,000 deltas
/// of 100 ms, i.e. 30,000 media frames and 6,000 marks for Twilio, about
/// 8 MB: more than the kernel's socket buffers can take (4 MB at most here);
/// then sends `then`, if any.
async fn flooding_upstream(then: Option<Value>) -> String {
    scripted_upstream(|mut ws| async move {
        ws.next().await; // session.update
        let pcm = STANDARD.encode_to_string(vec![0u8; 4800]);
        let delta = json!({"type": "response.output_audio.delta", "item_id": "item_1", "delta": pcm}).to_string();
        for _ in 0..6000 {
            if ws.send(Message::Text(delta.clone().into())).await.is_err() {
                return;
            }
        }
        if let Some(m) = then {
            let _ = ws.send(Message::Text(m.to_string().into())).await;
        }
        while ws.next().await.is_some() {}
    })
    .await
}

/// Limits for tests that stall a peer on purpose (the bounds are tested in
/// `hardening.rs`).
fn patient(s: &mut teledsp_relay::server::Settings) {
    s.limits.write = Duration::from_secs(120);
    s.limits.media_idle = Duration::from_secs(120);
}

/// A Twilio side with a small receive window that has sent `start` and
/// reads nothing until the test does.
async fn stalled_twilio(relay: &Relay) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(relay.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(relay.media(), tcp).await.unwrap();
    let start = json!({"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    ws
}

/// Amplitude of `hz` in `x` at `rate` (Hann-windowed DFT bin).
fn level(x: &[i16], hz: f64, rate: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im, mut w) = (0.0, 0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let h = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1.0)).cos();
        let ph = 2.0 * std::f64::consts::PI * hz * i as f64 / rate;
        re += h * s as f64 * ph.cos();
        im += h * s as f64 * ph.sin();
        w += h;
    }
    2.0 * (re * re + im * im).sqrt() / w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tone_in_arrives_at_openai_as_24k_pcm_of_the_same_frequency_without_clicks() {
    let fake = fake(FakeConfig { capture: true, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(1000, 1000.0, 8000.0), 0)).await.unwrap();
    assert_eq!(report.sent, 50);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.appended_ms, 1000, "every 20 ms frame arrives as 20 ms at 24 kHz");
    let pcm: Vec<i16> = log.audio.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    assert_eq!(pcm.len(), 24000);
    let steady = &pcm[2400..];
    let main = level(steady, 1000.0, 24000.0);
    assert!((main - 8000.0).abs() < 400.0, "1 kHz at {main}");
    for image in [7000.0, 9000.0, 15000.0, 17000.0] {
        let db = 20.0 * (level(steady, image, 24000.0) / main).log10();
        assert!(db < -60.0, "image at {image} Hz: {db:.1} dB");
    }
    // No clicks: a 1 kHz sine of amplitude A moves at most 2*pi*1000/24000*A
    // per sample; frame edges (every 480 samples) must not jump more.
    let max_step = 2.0 * std::f64::consts::PI * 1000.0 / 24000.0 * 8000.0 * 1.15;
    for (i, w) in steady.windows(2).enumerate() {
        let step = (w[1] as f64 - w[0] as f64).abs();
        assert!(step <= max_step, "jump of {step} at sample {}", i + 2400);
    }
    let session = fake.events("session.update");
    assert_eq!(session.len(), 1);
    assert_eq!(session[0]["session"]["audio"]["input"]["format"], json!({"type": "audio/pcm", "rate": 24000}));
    assert!(fake.log.lock().unwrap().errors.is_empty(), "{:?}", fake.log.lock().unwrap().errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_out_arrives_at_twilio_as_160_byte_mulaw_frames_with_marks() {
    // The fake echoes every frame: 24 kHz PCM back, 20 ms per frame.
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(2000, 440.0, 6000.0), 0)).await.unwrap();
    assert_eq!(report.sent, 100);
    assert_eq!(report.received, 100, "one 160-byte frame back per frame sent");
    assert_eq!(report.bad_messages, 0, "every frame is 160 bytes of mu-law, every message Twilio-shaped");
    assert_eq!(report.marks_echoed, 100, "each delta's frames end with a mark");
    // What came back is the tone, through 8k -> 24k -> 8k.
    let heard = teledsp::g711::ulaw_decode_vec(&report.heard);
    assert!((level(&heard[800..], 440.0, 8000.0) - 6000.0).abs() < 600.0);
    assert_eq!(relay.metric("teledsp_relay_frames_out_total"), 100.0);
    assert_eq!(relay.metric("teledsp_relay_frames_in_total"), 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_test_echo_comes_back_in_100_ms_deltas_timed_on_each_last_frame() {
    // The load test's setting: the fake answers every 100 ms of appended
    // audio with one delta, so five frames and one mark come back at once.
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, echo_delta_ms: 100, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let mut cfg = CallerConfig::new(relay.media(), tone_ulaw(2000, 440.0, 6000.0), 0);
    cfg.measure_every = 5;
    let report = caller::run(cfg).await.unwrap();
    assert_eq!((report.sent, report.received), (100, 100), "every frame comes back");
    assert_eq!(report.marks_echoed, 20, "one mark per 100 ms delta");
    assert_eq!(report.round_trips.len(), 20, "timed once per delta");
    assert_eq!(report.bad_messages, 0);
    // The timed frame completed its delta: it waited for no later frame, so
    // its round trip is a few ms here; the delta's first frame waits ~80 ms.
    // (A wide margin: this checks which frame is timed, not speed.)
    let worst = report.round_trips.iter().max().unwrap();
    assert!(*worst < Duration::from_millis(40), "worst round trip {worst:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_sends_clear_truncates_at_what_was_heard_and_cancels() {
    // The caller talks 400 ms; the fake answers with that audio (4 deltas of
    // 100 ms) and reports the caller speaking again 200 ms into it.
    let fake = fake(FakeConfig { turn_after_ms: Some(400), barge_in_after_ms: Some(200), ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(400, 300.0, 6000.0), 60)).await.unwrap();
    // One clear at the caller's turn start (nothing playing yet), one at the interruption.
    assert_eq!(report.clears, 2, "Twilio got clear");
    let truncates = fake.events("conversation.item.truncate");
    assert_eq!(truncates.len(), 1, "{truncates:?}");
    let end = truncates[0]["audio_end_ms"].as_u64().unwrap();
    // Two 100 ms deltas had been sent when the interruption came; the caller
    // had played at most that much.
    assert!(end <= 200, "audio_end_ms {end} is past the audio sent");
    assert!(end > 0, "some audio had played");
    assert_eq!(fake.events("response.cancel").len(), 1);
    assert!(fake.log.lock().unwrap().errors.is_empty(), "{:?}", fake.log.lock().unwrap().errors);
    // What the caller heard stops at the clear: less than the full answer.
    assert!(report.heard.len() / 8 < 400, "heard {} ms", report.heard.len() / 8);
    assert_eq!(relay.metric("teledsp_relay_barge_ins_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_round_trip_through_a_local_webhook() {
    let (hook_url, seen) = webhook().await;
    let fake =
        fake(FakeConfig { turn_after_ms: Some(300), tool: Some("get_weather".into()), ..Default::default() }).await;
    let relay = relay_with(fake.url(), |s| s.tools_webhook = Some(hook_url)).await;
    let mut cfg = CallerConfig::new(relay.media(), tone_ulaw(300, 300.0, 6000.0), 40);
    cfg.params = json!({"customer": "42"});
    let report = caller::run(cfg).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["name"], "get_weather");
    assert_eq!(seen[0]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(seen[0]["call_sid"], "CA00000000000000000000000000000001");
    assert_eq!(seen[0]["custom_parameters"], json!({"customer": "42"}));
    let items = fake.events("conversation.item.create");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["item"]["type"], "function_call_output");
    assert_eq!(items[0]["item"]["output"], r#"{"temperature_c":21}"#);
    assert_eq!(fake.events("response.create").len(), 1);
    assert!(report.received > 0, "the answer after the tool output played");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_gives_the_model_an_error_to_speak_about() {
    let fake = fake(FakeConfig { turn_after_ms: Some(200), tool: Some("book".into()), ..Default::default() }).await;
    // Nothing listens there.
    let dead = listener().await.local_addr().unwrap();
    let relay = relay_with(fake.url(), |s| s.tools_webhook = Some(format!("http://{dead}/tools"))).await;
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(200, 300.0, 6000.0), 30)).await.unwrap();
    let items = fake.events("conversation.item.create");
    assert_eq!(items.len(), 1);
    assert!(items[0]["item"]["output"].as_str().unwrap().contains("tool book is unreachable"));
    assert!(report.close_code.is_none_or(|c| c == 1000), "the call went on to a normal end: {:?}", report.close_code);
    assert!(report.received > 0, "the model's answer after the error output played");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_checked_on_twiml_and_media() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let v = Validator::new("test-token");
    let relay = relay_with(fake.url(), |s| s.validator = Some(Validator::new("test-token"))).await;
    let http = reqwest::Client::new();
    let params = [("CallSid", "CA1"), ("From", "+15550100"), ("To", "+15550199")];
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let good = v.sign("https://relay.example.com/twiml", &owned);
    let r = http.post(relay.http("/twiml")).header("X-Twilio-Signature", &good).form(&params).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(xml.contains(r#"<Stream url="wss://relay.example.com/media">"#), "{xml}");
    assert!(xml.contains(r#"<Parameter name="CallSid" value="CA1"/>"#), "{xml}");
    let r = http.post(relay.http("/twiml")).header("X-Twilio-Signature", "AAAA").form(&params).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http.post(relay.http("/twiml")).form(&params).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // Media: a bad signature gets close code 1008 at once.
    let mut bad = CallerConfig::new(relay.media(), tone_ulaw(100, 300.0, 6000.0), 0);
    bad.signature = Some("AAAA".into());
    let report = caller::run(bad).await.unwrap();
    assert_eq!(report.close_code, Some(1008));
    assert_eq!(report.received, 0);
    // The right one is accepted.
    let mut ok = CallerConfig::new(relay.media(), tone_ulaw(200, 300.0, 6000.0), 0);
    ok.signature = Some(v.sign("wss://relay.example.com/media", &[]));
    let report = caller::run(ok).await.unwrap();
    assert_eq!(report.received, 10);
    assert_eq!(relay.metric("teledsp_relay_signature_rejections_total"), 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_twilio_frames_are_counted_and_skipped() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.media()).await.unwrap();
    let start = json!({"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let media =
        |payload: &str| json!({"event": "media", "streamSid": "MZ1", "media": {"payload": payload}}).to_string();
    for bad in ["{not json".to_string(), media("@@@@"), r#"{"no":"event"}"#.to_string()] {
        ws.send(Message::Text(bad.into())).await.unwrap();
    }
    ws.send(Message::Text(media(&STANDARD.encode_to_string([0xFFu8; 160])).into())).await.unwrap();
    // The good frame still comes back.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["event"] == "media" {
                    return v;
                }
            }
        }
        panic!("stream ended")
    })
    .await
    .unwrap();
    assert_eq!(STANDARD.decode_to_vec(got["media"]["payload"].as_str().unwrap()).unwrap().len(), 160);
    assert_eq!(relay.metric("teledsp_relay_malformed_total"), 3.0);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_twilio_reader_costs_dropped_audio_not_memory_and_every_message_is_accounted_for() {
    let relay = relay_with(flooding_upstream(None).await, patient).await;
    let mut ws = stalled_twilio(&relay).await;
    // The relay reads all of OpenAI's audio while Twilio stalls: drops grow,
    // then stop growing once the upstream has sent everything.
    let all_in = tokio::time::timeout(Duration::from_secs(20), async {
        let mut last = -1.0;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let d = relay.metric("teledsp_relay_frames_dropped_total");
            if d > 0.0 && d == last {
                break;
            }
            last = d;
        }
    });
    assert!(all_in.await.is_ok(), "the relay kept reading OpenAI while Twilio stalled");
    // What the relay may hold for one call: the queue, tungstenite's write
    // buffer (128 KiB) and the kernel's socket buffers; the rest is dropped.
    let dropped = relay.metric("teledsp_relay_frames_dropped_total");
    assert!(dropped > 0.0, "nothing dropped: the relay buffered 10 minutes of audio for a stalled reader");
    assert_eq!(relay.metric("teledsp_relay_active_calls"), 1.0, "the call is still up");
    // Hang up, then read everything the relay still delivers: every message
    // is either delivered or counted as dropped, none silently lost.
    let stop = json!({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}});
    ws.send(Message::Text(stop.to_string().into())).await.unwrap();
    let (mut media, mut marks, mut close) = (0u32, 0u32, None);
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => match serde_json::from_str::<Value>(t.as_str()).unwrap()["event"].as_str() {
                    Some("media") => media += 1,
                    Some("mark") => marks += 1,
                    other => panic!("unexpected {other:?}"),
                },
                Message::Close(f) => {
                    close = f.map(|f| u16::from(f.code));
                    break;
                }
                _ => {}
            }
        }
    });
    assert!(read.await.is_ok(), "the relay closed the stream");
    assert_eq!(close, Some(1000));
    let dropped = relay.metric("teledsp_relay_frames_dropped_total");
    assert_eq!(f64::from(media + marks) + dropped, 36000.0, "{media} media + {marks} marks + {dropped} dropped");
    assert_eq!(
        relay.metric("teledsp_relay_frames_out_total"),
        f64::from(media),
        "frames_out counts written frames only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_twilio_queue_drops_audio_never_the_clear() {
    // The upstream sends 10 minutes of audio at once, then the caller talks;
    // Twilio reads nothing until the barge-in happened.
    let speech = json!({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u1"});
    let relay = relay_with(flooding_upstream(Some(speech)).await, patient).await;
    let mut ws = stalled_twilio(&relay).await;
    let barged = tokio::time::timeout(Duration::from_secs(20), async {
        while relay.metric("teledsp_relay_barge_ins_total") < 1.0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(barged.await.is_ok(), "the relay kept reading OpenAI and barged in");
    assert!(relay.metric("teledsp_relay_frames_dropped_total") > 0.0, "the queue was full");
    // Now read: the clear arrives, and nothing of the interrupted audio after it.
    let (mut before, mut after, mut clears) = (0u32, 0u32, 0u32);
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                match serde_json::from_str::<Value>(t.as_str()).unwrap()["event"].as_str() {
                    Some("clear") => {
                        clears += 1;
                        let stop = json!({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}});
                        ws.send(Message::Text(stop.to_string().into())).await.unwrap();
                    }
                    Some(_) if clears == 0 => before += 1,
                    Some(_) => after += 1,
                    None => panic!("not a Twilio message: {t}"),
                }
            }
        }
    });
    assert!(read.await.is_ok(), "the relay closed the stream");
    assert_eq!(clears, 1, "the clear got through a full queue ({before} messages before it)");
    assert_eq!(after, 0, "audio queued before the clear is discarded, not played after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_refused_closes_the_twilio_stream_cleanly() {
    let dead = listener().await.local_addr().unwrap(); // bound then dropped: refused
    let relay = relay_with(format!("ws://{dead}/v1/realtime"), |_| {}).await;
    let t0 = std::time::Instant::now();
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(2000, 300.0, 6000.0), 0)).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5), "closed promptly");
    assert!(report.sent < 100, "the stream was closed before the caller finished");
    assert_eq!(report.close_code, Some(1000), "a normal close, so Twilio runs the TwiML after <Connect>");
    assert_eq!(relay.metric("teledsp_relay_upstream_errors_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_dropped_mid_call_closes_the_twilio_stream() {
    // An upstream that accepts, reads session.update and a few frames, then drops.
    let url = scripted_upstream(|mut ws| async move {
        for _ in 0..5 {
            ws.next().await;
        }
        drop(ws);
    })
    .await;
    let relay = relay_with(url, |_| {}).await;
    let report = caller::run(CallerConfig::new(relay.media(), tone_ulaw(3000, 300.0, 6000.0), 0)).await.unwrap();
    assert!(report.sent < 150, "closed mid-call, sent {}", report.sent);
    assert_eq!(report.close_code, Some(1000));
    assert_eq!(relay.metric("teledsp_relay_upstream_errors_total"), 1.0);
    assert_eq!(relay.metric("teledsp_relay_active_calls"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_api_and_pcmu_passthrough() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, capture: true, ..Default::default() }).await;
    let relay = relay_with(fake.url(), |s| {
        s.call.api = Api::Beta;
        s.call.audio = teledsp::call::ModelAudio::Pcmu;
    })
    .await;
    let audio = tone_ulaw(400, 500.0, 6000.0);
    let report = caller::run(CallerConfig::new(relay.media(), audio.clone(), 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.log.lock().unwrap().audio, audio, "mu-law passed through untouched");
    assert_eq!(report.heard, audio, "and back");
    assert_eq!(fake.events("session.update")[0]["session"]["input_audio_format"], "g711_ulaw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_healthz_red_takes_calls_through_pre_stop_then_refuses_and_drains() {
    let fake = fake(FakeConfig { mode: Mode::EchoFrames, ..Default::default() }).await;
    let mut relay = relay_with(fake.url(), |_| {}).await;
    let live = tokio::spawn(caller::run(CallerConfig::new(relay.media(), tone_ulaw(1500, 300.0, 6000.0), 0)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    relay.stop.take().unwrap().send(()).unwrap(); // what SIGTERM does in `serve`
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Red at once, for the load balancer; a call sent before it has
    // noticed is still taken, and runs to its end.
    let health = reqwest::get(relay.http("/healthz")).await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(health.headers()["connection"], "close", "keep-alive connections move elsewhere");
    let late = tokio::spawn(caller::run(CallerConfig::new(relay.media(), tone_ulaw(1000, 300.0, 1000.0), 0)));
    // After the pre-stop window new calls are refused; liveness and the
    // autoscaler's metric still answer while the live calls drain.
    tokio::time::sleep(PRE_STOP.saturating_sub(signalled.elapsed()) + Duration::from_millis(100)).await;
    let refused = tokio_tungstenite::connect_async(relay.media()).await;
    assert!(refused.is_err(), "new calls are refused after the pre-stop window");
    assert_eq!(reqwest::get(relay.http("/livez")).await.unwrap().status(), 200);
    let metrics = reqwest::get(relay.http("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("teledsp_relay_active_calls 2"), "both calls live in the drain:\n{metrics}");
    let late = late.await.unwrap().unwrap();
    assert_eq!((late.sent, late.received), (50, 50), "the call taken in the pre-stop window ran to its end");
    let report = live.await.unwrap().unwrap();
    assert_eq!(report.sent, 75, "the live call ran to its end");
    assert_eq!(report.received, 75);
    tokio::time::timeout(Duration::from_secs(5), relay.task).await.unwrap().unwrap().unwrap();
}

#[test]
fn sigterm_stops_the_binary_and_no_token_means_no_start() {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_teledsp-relay");
    // Without TWILIO_AUTH_TOKEN and without the insecure flag: refuses to start.
    let out =
        Command::new(bin).args(["serve", "--listen", "127.0.0.1:0"]).env_remove("TWILIO_AUTH_TOKEN").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TWILIO_AUTH_TOKEN is not set"));
    // With the flag it serves; SIGTERM stops it (no calls to drain).
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-no-signature"])
        .env_remove("TWILIO_AUTH_TOKEN")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "running");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let t0 = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "exit status {s}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `wss://` model URL is dialled with TLS (the Mozilla roots are built
/// in, for an image with no certificate store): the model's port gets a
/// TLS ClientHello. Without a TLS feature, tungstenite refuses `wss://`
/// before connecting, and nothing arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_model_url_is_dialled_with_tls() {
    use tokio::io::AsyncReadExt;
    let model = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://localhost:{}/v1/realtime", model.local_addr().unwrap().port());
    let relay = relay_with(url, |_| {}).await;
    let call = tokio::spawn(caller::run(CallerConfig::new(relay.media(), tone_ulaw(200, 300.0, 1000.0), 0)));
    let (mut tcp, _) =
        tokio::time::timeout(Duration::from_secs(5), model.accept()).await.expect("the relay dialled").unwrap();
    let mut first = [0u8; 3];
    tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut first)).await.unwrap().unwrap();
    assert_eq!(first, [0x16, 0x03, 0x01], "a TLS handshake record (ClientHello) opens the connection");
    drop(tcp);
    let _ = call.await;
}
