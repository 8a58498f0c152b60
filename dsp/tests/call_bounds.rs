//! The call engine's memory bounds against hostile phone input: media
//! before `start` is refused, and audio held before the model opens is
//! capped by its duration whatever the message sizes.

use base64_simd::STANDARD as B64;
use serde_json::{Value, json};
use teledsp::call::{Call, CallConfig, Output};

fn media(bytes: usize) -> String {
    json!({"event": "media", "streamSid": "MZ1", "media": {"payload": B64.encode_to_string(vec![0xFFu8; bytes])}})
        .to_string()
}

fn start() -> String {
    json!({"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}}).to_string()
}

/// Audio ms the model is sent when it opens (PCM16 at 24 kHz in appends).
fn appended_ms(out: &[Output]) -> usize {
    out.iter()
        .filter_map(|o| match o {
            Output::Model(t) => Some(serde_json::from_str::<Value>(t).unwrap()),
            _ => None,
        })
        .filter(|v| v["type"] == "input_audio_buffer.append")
        .map(|v| B64.decode_to_vec(v["audio"].as_str().unwrap()).unwrap().len() / 48)
        .sum()
}

#[test]
fn media_before_start_is_refused_counted_and_never_reaches_the_model() {
    let mut call = Call::new(CallConfig::default()).unwrap();
    let mut out = Vec::new();
    for _ in 0..60 {
        let e = call.receive_phone(&media(160), 0, &mut out).unwrap_err();
        assert!(e.to_string().contains("before the stream's start"), "{e}");
    }
    assert!(out.is_empty());
    assert_eq!(call.counters().malformed_phone, 60);
    assert_eq!(call.counters().frames_in, 0);
    call.receive_phone(&start(), 0, &mut out).unwrap();
    out.clear();
    call.open_model(10, &mut out);
    assert_eq!(appended_ms(&out), 0, "nothing from before start was kept");
}

#[test]
fn audio_held_before_the_model_opens_is_capped_by_duration_not_message_count() {
    let mut call = Call::new(CallConfig { hold_ms: 1000, ..CallConfig::default() }).unwrap();
    let mut out = Vec::new();
    call.receive_phone(&start(), 0, &mut out).unwrap();
    // 20 messages of 500 ms each (10 s): only the last 1000 ms is held.
    for i in 0..20 {
        call.receive_phone(&media(4000), i * 500, &mut out).unwrap();
    }
    // And one message longer than the whole cap is dropped, not held.
    call.receive_phone(&media(16000), 10_000, &mut out).unwrap();
    out.clear();
    call.open_model(10_000, &mut out);
    let held = appended_ms(&out);
    assert!(held <= 1000, "held {held} ms");
    assert_eq!(held, 1000, "the newest second is kept");
    assert_eq!(call.counters().inbound_dropped, 19, "18 older messages and the oversize one");
}

#[test]
fn the_model_is_ready_on_session_updated_only() {
    let mut call = Call::new(CallConfig::default()).unwrap();
    let mut out = Vec::new();
    call.receive_phone(&start(), 0, &mut out).unwrap();
    call.open_model(0, &mut out);
    for ev in [
        json!({"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}}),
        json!({"type": "error", "event_id": "e2", "error": {"type": "invalid_request_error", "message": "no"}}),
    ] {
        call.receive_model(&ev.to_string(), 5, &mut out).unwrap();
        assert!(!call.model_ready(), "{ev} is not a confirmation of the settings");
    }
    let updated = json!({"type": "session.updated", "event_id": "e3", "session": {"type": "realtime"}});
    call.receive_model(&updated.to_string(), 10, &mut out).unwrap();
    assert!(call.model_ready());
}
