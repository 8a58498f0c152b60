//! The relay with every telephony protocol and every model API, over real
//! WebSockets on loopback: each telephony provider's simulated caller
//! (`caller`, playing in real time and confirming playback the provider's
//! way) against the fake OpenAI, and a Twilio caller against Azure (the
//! fake OpenAI, keyed by `api-key`), Gemini Live and ElevenLabs Agents
//! (`fake_models`). In each, the model's answer is cut by the caller's
//! speech, and what the model is told (or what the event says) is checked
//! against what the caller actually heard. Then each provider's answer
//! webhook with a good and a bad signature.

mod common;

use std::time::Duration;

use base64_simd::STANDARD as B64;
use common::{fake, relay_with, tone_ulaw};
use teledsp::call::{ModelApi, Telephony};
use teledsp::providers::WebhookKey;
use teledsp_sim::caller::{self, CallerConfig, CallerReport};
use teledsp_sim::fake_models::{self, Api, ModelFakeConfig};
use teledsp_sim::fake_openai::FakeConfig;

async fn call(relay: &common::Relay, telephony: Telephony) -> CallerReport {
    call_with(relay, telephony, |_| {}).await
}

async fn call_with(relay: &common::Relay, telephony: Telephony, f: impl FnOnce(&mut CallerConfig)) -> CallerReport {
    let mut c = CallerConfig::new(relay.media(), tone_ulaw(1000, 300.0, 6000.0), 100);
    c.telephony = telephony;
    f(&mut c);
    let r = caller::run(c).await.unwrap();
    assert_eq!(r.bad_messages, 0, "{telephony:?}: messages not in the provider's shape");
    r
}

/// How a simulated phone behaves: as its provider does, or broken.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PhoneKind {
    Real,
    NeverConfirms,
    IgnoresClear,
}

/// One provider against OpenAI: the caller says 1 s; the fake answers with
/// items A and B (each the 1 s echo); the caller talks 600 ms into the
/// response. Returns (A truncated at, the caller heard) and the report.
async fn against_openai(t: Telephony, kind: PhoneKind) -> (u64, CallerReport) {
    let fake =
        fake(FakeConfig { turn_after_ms: Some(1000), items: 2, barge_in_at_ms: Some(600), ..Default::default() }).await;
    let relay = relay_with(fake.url(), |s| s.call.telephony = t).await;
    let r = call_with(&relay, t, |c| {
        c.confirm_playback = kind != PhoneKind::NeverConfirms;
        c.obey_clear = kind != PhoneKind::IgnoresClear;
    })
    .await;
    let errors = fake.log.lock().unwrap().errors.clone();
    assert!(errors.is_empty(), "{t:?}: the fake refused client events: {errors:?}");
    let truncates = fake.events("conversation.item.truncate");
    let deletes = fake.events("conversation.item.delete");
    // (A later speech_started, with nothing playing, clears again: harmless.)
    assert_eq!((truncates.len(), deletes.len()), (1, 1), "{t:?} {kind:?}: {truncates:?} {deletes:?}");
    assert!(r.clears >= 1, "{t:?}: no clear");
    (truncates[0]["audio_end_ms"].as_u64().unwrap(), r)
}

/// The error allowed between what OpenAI is told and what the caller heard
/// (measured: 0-2 ms for every provider, Exotel's 200 ms messages too).
fn slack(_t: Telephony) -> u64 {
    50
}

/// Each telephony protocol against OpenAI, with phones that play 120 ms
/// after receipt (network plus jitter buffer): A is truncated at what the
/// caller heard, B deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_telephony_against_openai() {
    let runs = Telephony::ALL.into_iter().map(|t| async move { (t, against_openai(t, PhoneKind::Real).await) });
    for (t, (told, r)) in futures_util::future::join_all(runs).await {
        eprintln!("{t:?} -> OpenAI: A truncated at {told} ms; the caller heard {} ms", r.heard_ms);
        assert!(told.abs_diff(r.heard_ms) <= slack(t), "{t:?}: truncated at {told}, the caller heard {}", r.heard_ms);
        assert!(r.heard_ms > 300 && r.heard_ms < 1000, "{t:?}: the cut was mid-A: {}", r.heard_ms);
    }
}

/// The check above can fail: for each provider, a phone that never
/// confirms playback (so the relay cannot know the phone's latency: the
/// same as a relay that ignores confirmations) and a phone that ignores the
/// clear (it keeps playing what was cut) each break it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_phones_fail_the_truncation_check() {
    let runs = Telephony::ALL.into_iter().flat_map(|t| {
        [PhoneKind::NeverConfirms, PhoneKind::IgnoresClear].map(|k| async move { (t, k, against_openai(t, k).await) })
    });
    for (t, k, (told, r)) in futures_util::future::join_all(runs).await {
        eprintln!("{t:?} {k:?}: A truncated at {told} ms; the caller heard {} ms", r.heard_ms);
        assert!(
            told.abs_diff(r.heard_ms) > slack(t),
            "{t:?} {k:?}: truncated at {told}, heard {}: the check would not have failed",
            r.heard_ms
        );
    }
}

/// Twilio against Azure (OpenAI's events, `api-key`), Gemini Live and
/// ElevenLabs Agents: the answer (2 s) is cut 600 ms after it started by
/// the model's own barge-in signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_against_every_model() {
    // Azure: the fake OpenAI, which takes `api-key` as Azure does.
    let azure = async {
        let fake =
            fake(FakeConfig { turn_after_ms: Some(1000), items: 1, barge_in_at_ms: Some(600), ..Default::default() })
                .await;
        let relay = relay_with(fake.url(), |s| s.call.model = ModelApi::Azure).await;
        let r = call(&relay, Telephony::Twilio).await;
        let errors = fake.log.lock().unwrap().errors.clone();
        assert!(errors.is_empty(), "Azure: {errors:?}");
        let truncates = fake.events("conversation.item.truncate");
        assert_eq!(truncates.len(), 1, "Azure");
        assert!(r.clears >= 1, "Azure: no clear");
        let told = truncates[0]["audio_end_ms"].as_u64().unwrap();
        eprintln!("Twilio -> Azure: truncated at {told} ms; the caller heard {} ms", r.heard_ms);
        assert!(told.abs_diff(r.heard_ms) <= 50, "Azure: truncated at {told}, heard {}", r.heard_ms);
    };
    let model = |api: Api| async move {
        let cfg = ModelFakeConfig { api, turn_after_ms: 1000, answer_ms: 2000, barge_in_at_ms: Some(600) };
        let fake = fake_models::spawn(common::listener().await, cfg).unwrap();
        let relay = relay_with(fake.url(), |s| {
            s.call.model = if api == Api::Gemini { ModelApi::Gemini } else { ModelApi::ElevenLabs };
            if api == Api::ElevenLabs {
                s.call.audio = teledsp::call::ModelAudio::Pcm16k;
            }
        })
        .await;
        let r = call(&relay, Telephony::Twilio).await;
        let log = fake.log.lock().unwrap().clone();
        assert!(log.errors.is_empty(), "{api:?}: the fake refused client messages: {:?}", log.errors);
        assert!(log.key_header, "{api:?}: no API key header");
        assert!(log.appended_ms >= 1000, "{api:?}: caller audio reached the model: {} ms", log.appended_ms);
        assert_eq!(r.clears, 1, "{api:?}: the model's barge-in cleared the phone");
        eprintln!("Twilio -> {api:?}: the caller heard {} ms of {} ms sent", r.heard_ms, log.answered_ms);
        assert!(r.heard_ms >= 300 && r.heard_ms < 1000, "{api:?}: cut about 600 ms in: {}", r.heard_ms);
        (fake, r)
    };
    let (_, (gemini, _), (eleven, r)) = tokio::join!(azure, model(Api::Gemini), model(Api::ElevenLabs));
    // Gemini has no truncate: nothing but setup and audio went to it.
    assert_eq!(gemini.messages("setup").len(), 1);
    assert!(
        gemini
            .log
            .lock()
            .unwrap()
            .messages
            .iter()
            .all(|m| m.get("setup").is_some() || m.get("realtimeInput").is_some())
    );
    // ElevenLabs: ping answered, and told what was heard.
    assert_eq!(eleven.log.lock().unwrap().pongs, 1);
    let updates = eleven.messages("contextual_update");
    assert_eq!(updates.len(), 1, "{updates:?}");
    let text = updates[0]["text"].as_str().unwrap();
    let secs: f64 = text.split("first ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    let told = (secs * 1000.0).round() as u64;
    assert!(told.abs_diff(r.heard_ms) <= 50, "ElevenLabs told {told} ms, the caller heard {}", r.heard_ms);
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Each provider's answer webhook: the right document with a good
/// signature, 403 with a bad one, 404 on another provider's endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_webhooks_check_signatures() {
    use ed25519_dalek::Signer;
    let http = reqwest::Client::new();
    // Telnyx: Ed25519 over "timestamp|body".
    let sk = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let key =
        WebhookKey::from_env_value(Telephony::Telnyx, &B64.encode_to_string(sk.verifying_key().as_bytes())).unwrap();
    let relay = relay_with("ws://127.0.0.1:9/unused".into(), |s| {
        s.call.telephony = Telephony::Telnyx;
        s.webhook_key = key;
    })
    .await;
    let body = r#"{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:1"}}}"#;
    let ts = now().to_string();
    let sig = B64.encode_to_string(sk.sign(format!("{ts}|{body}").as_bytes()).to_bytes());
    let post = |sig: String| {
        http.post(relay.http("/texml"))
            .header("telnyx-timestamp", ts.clone())
            .header("telnyx-signature-ed25519", sig)
            .body(body)
            .send()
    };
    let ok = post(sig.clone()).await.unwrap();
    assert_eq!(ok.status(), 200);
    let xml = ok.text().await.unwrap();
    assert!(xml.contains(r#"<Stream url="wss://relay.example.com/media" codec="PCMU" bidirectionalMode="rtp" bidirectionalCodec="PCMU""#), "{xml}");
    let bad = B64.encode_to_string(sk.sign(b"something else").to_bytes());
    assert_eq!(post(bad).await.unwrap().status(), 403);
    assert_eq!(http.post(relay.http("/twiml")).send().await.unwrap().status(), 404);

    // Plivo: V3, HMAC-SHA256 of URL, sorted params and nonce.
    let relay = relay_with("ws://127.0.0.1:9/unused".into(), |s| {
        s.call.telephony = Telephony::Plivo;
        s.webhook_key = Some(WebhookKey::Plivo("PlivoToken".into()));
    })
    .await;
    let params = [("CallUUID".to_string(), "c-1".to_string()), ("From".into(), "+15551230000".into())];
    let sig =
        teledsp::providers::plivo_v3_signature("PlivoToken", "POST", "https://relay.example.com/answer", &params, "n1");
    let post = |sig: &str| {
        http.post(relay.http("/answer"))
            .header("X-Plivo-Signature-V3", sig.to_owned())
            .header("X-Plivo-Signature-V3-Nonce", "n1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("CallUUID=c-1&From=%2B15551230000")
            .send()
    };
    let ok = post(&sig).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains(r#"<Stream bidirectional="true""#));
    assert_eq!(post("AAAA").await.unwrap().status(), 403);

    // Vonage: a JWT (HS256) with the body's hash.
    let relay = relay_with("ws://127.0.0.1:9/unused".into(), |s| {
        s.call.telephony = Telephony::Vonage;
        s.webhook_key = Some(WebhookKey::Vonage("VonageSecret".into()));
    })
    .await;
    let jwt = |secret: &[u8]| {
        let claims = serde_json::json!({"iat": now(), "jti": "j1", "iss": "Vonage"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let get = |token: String| {
        http.get(relay.http("/answer?uuid=u-42&from=15551230000"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    let ok = get(jwt(b"VonageSecret")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let ncco: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(ncco[0]["endpoint"][0]["content-type"], "audio/l16;rate=16000");
    assert_eq!(ncco[0]["endpoint"][0]["headers"]["uuid"], "u-42");
    assert_eq!(get(jwt(b"wrong")).await.unwrap().status(), 403);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The command line: `--telephony` and `--model` pick the endpoints, the
/// signing secret's variable and the model's; bad combinations are refused
/// before serving, with a message that says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_picks_the_protocols() {
    use std::process::{Command, Stdio};
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_teledsp-relay"));
        cmd.arg("serve").args(args);
        for v in [
            "TWILIO_AUTH_TOKEN",
            "PLIVO_AUTH_TOKEN",
            "TELNYX_PUBLIC_KEY",
            "VONAGE_SIGNATURE_SECRET",
            "SIGNALWIRE_SIGNING_KEY",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    };
    let refused = |args: &[&str], env: &[(&str, &str)]| {
        let out = run(args, env).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(refused(&["--telephony", "plivo"], &[]).contains("PLIVO_AUTH_TOKEN is not set"));
    assert!(refused(&["--telephony", "exotel"], &[]).contains("exotel signs nothing"));
    assert!(refused(&["--telephony", "telnyx"], &[("TELNYX_PUBLIC_KEY", "AAAA")]).contains("32"));
    let e = refused(&["--model", "gemini", "--audio", "pcmu", "--insecure-no-signature"], &[]);
    assert!(e.contains("Gemini Live takes PCM only"), "{e}");
    let e = refused(&["--model", "elevenlabs", "--audio", "pcma", "--insecure-no-signature"], &[]);
    assert!(e.contains("no A-law"), "{e}");

    // Vonage with its secret: /answer is the NCCO, /twiml is not served.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = run(
        &["--telephony", "vonage", "--model", "elevenlabs", "--audio", "pcm16k", "--listen", &listen],
        &[("VONAGE_SIGNATURE_SECRET", "s3cret")],
    )
    .spawn()
    .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the relay did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let claims = serde_json::json!({"iat": now(), "jti": "j", "iss": "Vonage"});
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    let r = http.get(format!("{base}/answer?uuid=u1")).bearer_auth(jwt).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("websocket"));
    assert_eq!(http.get(format!("{base}/answer?uuid=u1")).send().await.unwrap().status(), 403);
    assert_eq!(http.post(format!("{base}/twiml")).send().await.unwrap().status(), 404);
    child.kill().unwrap();
    child.wait().unwrap();
}
