//! The call engine against a simulated Twilio in virtual time: the phone
//! plays 20 ms per 20 ms from when audio arrives, echoes each mark when the
//! audio before it has played, and on `clear` drops its queue and echoes
//! every queued mark at once. The model streams faster than real time.
//! Checks what the model is told against what the phone really played.

use std::collections::VecDeque;

use base64_simd::STANDARD as B64;
use serde_json::{Value, json};
use teledsp::call::{Call, CallConfig, Output};

mod common;
use common::{Phone, mark_msg, recorded_prompt};

fn delta(item: &str, response: &str, ms: usize, level: i16) -> String {
    // A square wave at `level` (0: digital silence), 24 kHz PCM16.
    let pcm: Vec<u8> =
        (0..ms * 24).flat_map(|i| (if (i / 24) % 2 == 0 { level } else { -level }).to_le_bytes()).collect();
    json!({"type": "response.output_audio.delta", "response_id": response, "item_id": item, "delta": B64.encode_to_string(pcm)})
        .to_string()
}

/// Delivers the engine's outputs: phone messages to the phone (a clear
/// makes it echo its queued marks), model messages to `to_model`.
fn route(
    out: &mut Vec<Output>,
    phone: &mut Phone,
    now: u64,
    item: &str,
    echoes: &mut VecDeque<(u64, String)>,
    to_model: &mut Vec<Value>,
) {
    for o in out.drain(..) {
        match o {
            Output::Phone { text, .. } => {
                for m in phone.receive(&text, item, now) {
                    echoes.push_back((now, m));
                }
            }
            Output::Model(t) => to_model.push(serde_json::from_str::<Value>(&t).unwrap()),
            Output::CallerAudio(_) => panic!("a Call sends caller audio to the model, not out"),
            Output::Event(_) => {}
            Output::PhoneBinary(_) => panic!("Twilio messages are text"),
        }
    }
}

/// Drives one call: `script` is (time, model event) in time order; the
/// phone's mark echoes are delivered at their times between them.
fn drive(script: &[(u64, String)], until: u64) -> (Vec<Value>, Phone) {
    let mut call = Call::new(CallConfig::default()).unwrap();
    let mut phone = Phone::default();
    let mut out = Vec::new();
    let start = r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#;
    call.receive_phone(start, 0, &mut out).unwrap();
    call.open_model(0, &mut out);
    let mut to_model = Vec::new();
    let mut pending_echoes: VecDeque<(u64, String)> = VecDeque::new();
    let mut item = String::new();
    let mut t = 0;
    let mut i = 0;
    while t <= until {
        // The phone plays; its echoes reach the engine when they happen.
        pending_echoes.extend(phone.run_until(t));
        while let Some((at, name)) = pending_echoes.pop_front() {
            call.receive_phone(&mark_msg(&name), at.max(t.saturating_sub(1)), &mut out).unwrap();
            route(&mut out, &mut phone, t, &item, &mut pending_echoes, &mut to_model);
        }
        while i < script.len() && script[i].0 <= t {
            let v: Value = serde_json::from_str(&script[i].1).unwrap();
            if let Some(id) = v["item_id"].as_str() {
                item = id.to_owned();
            }
            call.receive_model(&script[i].1, t, &mut out).unwrap();
            route(&mut out, &mut phone, t, &item, &mut pending_echoes, &mut to_model);
            i += 1;
        }
        t += 1;
    }
    (to_model, phone)
}

fn items_a_and_b() -> Vec<(u64, String)> {
    let mut s = vec![(0, r#"{"type":"response.created","response":{"id":"R1"}}"#.to_string())];
    for _ in 0..3 {
        s.push((0, delta("A", "R1", 1000, 8000)));
    }
    s.push((0, r#"{"type":"response.output_audio.done","response_id":"R1","item_id":"A"}"#.into()));
    for _ in 0..2 {
        s.push((50, delta("B", "R1", 1000, 8000)));
    }
    s.push((50, r#"{"type":"response.output_audio.done","response_id":"R1","item_id":"B"}"#.into()));
    s.push((50, r#"{"type":"response.done","response":{"id":"R1"}}"#.into()));
    s
}

fn played_ms(phone: &Phone, item: &str) -> u64 {
    phone.played.iter().filter(|(i, _)| i == item).count() as u64 * 20
}

#[test]
fn interrupted_in_the_first_of_two_queued_items() {
    let mut s = items_a_and_b();
    s.push((1500, r#"{"type":"input_audio_buffer.speech_started"}"#.into()));
    let (model, phone) = drive(&s, 6000);
    let truncates: Vec<&Value> = model.iter().filter(|m| m["type"] == "conversation.item.truncate").collect();
    assert_eq!(truncates.len(), 1, "{model:?}");
    assert_eq!(truncates[0]["item_id"], "A");
    let told = truncates[0]["audio_end_ms"].as_u64().unwrap();
    let heard = played_ms(&phone, "A");
    assert!(told.abs_diff(heard) <= 20, "told {told}, the phone played {heard}");
    assert_eq!(played_ms(&phone, "B"), 0);
    assert!(model.iter().any(|m| m["type"] == "conversation.item.delete" && m["item_id"] == "B"));
}

#[test]
fn interrupted_in_the_second_item() {
    let mut s = items_a_and_b();
    s.push((3700, r#"{"type":"input_audio_buffer.speech_started"}"#.into()));
    let (model, phone) = drive(&s, 6000);
    let cut: Vec<&Value> = model
        .iter()
        .filter(|m| m["type"] == "conversation.item.truncate" || m["type"] == "conversation.item.delete")
        .collect();
    assert_eq!(cut.len(), 1, "A was wholly heard: {model:?}");
    assert_eq!(cut[0]["item_id"], "B");
    let told = cut[0]["audio_end_ms"].as_u64().unwrap();
    assert!(told.abs_diff(played_ms(&phone, "B")) <= 20, "told {told}, played {}", played_ms(&phone, "B"));
    assert_eq!(played_ms(&phone, "A"), 3020); // 3 s and the padded tail frame
}

#[test]
fn the_next_response_starts_clean_after_a_clear() {
    let mut s = items_a_and_b();
    s.push((700, r#"{"type":"input_audio_buffer.speech_started"}"#.into()));
    s.push((900, r#"{"type":"response.created","response":{"id":"R2"}}"#.into()));
    s.push((900, delta("C", "R2", 500, 0)));
    s.push((900, r#"{"type":"response.done","response":{"id":"R2"}}"#.into()));
    let (_, phone) = drive(&s, 3000);
    let c: Vec<&Vec<u8>> = phone.played.iter().filter(|(i, _)| i == "C").map(|(_, f)| f).collect();
    assert_eq!(c.len(), 26, "500 ms and the padded tail");
    assert!(c.iter().all(|f| f.iter().all(|&b| b == 0xFF || b == 0x7F)), "interrupted audio bled into C");
}

#[test]
fn local_vad_onset_on_real_speech_barges_in_while_the_agent_talks() {
    let Some(prompt) = recorded_prompt("tt-weasels") else { return };
    let mut call = Call::new(CallConfig { local_vad: true, ..CallConfig::default() }).unwrap();
    let mut out = Vec::new();
    call.receive_phone(
        r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#,
        0,
        &mut out,
    )
    .unwrap();
    call.open_model(0, &mut out);
    call.receive_model(r#"{"type":"response.created","response":{"id":"R1"}}"#, 0, &mut out).unwrap();
    for _ in 0..5 {
        call.receive_model(&delta("A", "R1", 1000, 8000), 0, &mut out).unwrap();
    }
    // The caller is quiet for 1 s, then says the prompt, frame by frame in real time.
    let speech_at = 1000;
    let audio: Vec<u8> = std::iter::repeat_n(0xFF, 8 * speech_at as usize).chain(prompt).collect();
    let mut barge = None;
    for (k, frame) in audio.chunks_exact(160).enumerate() {
        let now = 20 * k as u64;
        let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": B64.encode_to_string(frame)}});
        out.clear();
        call.receive_phone(&media.to_string(), now, &mut out).unwrap();
        if let Some(Output::Event(e)) = out.iter().find(|o| matches!(o, Output::Event(_))) {
            barge = Some((e.to_json(), out.clone()));
            break;
        }
    }
    let (event, outs) = barge.expect("the caller's speech barged in");
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!((event["type"].as_str(), event["cause"].as_str()), (Some("barge_in"), Some("vad")));
    let at = event["at_ms"].as_u64().unwrap();
    assert!((speech_at..speech_at + 500).contains(&at), "onset at {at} ms, speech began at {speech_at}");
    // No marks came back: the phone is assumed to have played from t = 0.
    assert_eq!(event["items"][0]["heard_ms"].as_u64(), Some(at));
    // The frame's append first, then the clear, then the model is told.
    let clear = outs.iter().position(|o| matches!(o, Output::Phone { kind: teledsp::call::PhoneKind::Clear, .. }));
    let cut = outs.iter().position(|o| matches!(o, Output::Model(t) if t.contains("conversation.item.truncate")));
    assert!(matches!((clear, cut), (Some(c), Some(t)) if c < t), "{outs:?}");
}
