//! A complete `Call` driven by hand, in virtual time: a Twilio phone that
//! sends 20 ms of caller audio every 20 ms and confirms each mark when its
//! audio has played (120 ms after receipt, its jitter buffer), and an
//! OpenAI Realtime model that answers with one second of audio. The caller
//! talks over the answer at 700 ms; the engine clears the phone and tells
//! the model exactly what was heard.
//!
//! The phone plays 120 ms behind what it was sent, and no mark has come
//! back by 700 ms to tell the engine so: it counts 600 ms heard of the
//! caller's 480. From the first confirmed mark on it learns the phone's
//! latency (see `playout`'s docs).
//!
//! This is the loop every relay runs, minus the sockets:
//!
//! ```sh
//! cargo run --release -p teledsp --example call_loop
//! ```

use std::collections::VecDeque;

use teledsp::call::{Call, CallConfig, Event, Output, PhoneKind};

/// What the phone plays after receiving it, ms (network + jitter buffer).
const PLAYOUT_DELAY_MS: u64 = 120;

fn main() -> Result<(), teledsp::Error> {
    let mut call = Call::new(CallConfig::default())?;
    let mut out = Vec::new();
    // The phone's queue: (play-out end, mark name or None for audio).
    let mut phone: VecDeque<(u64, Option<String>)> = VecDeque::new();
    let mut play_end = 0;

    call.receive_phone(
        r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{}}}"#,
        0,
        &mut out,
    )?;
    call.open_model(0, &mut out);
    call.receive_model(r#"{"type":"session.updated","session":{}}"#, 5, &mut out)?;

    for now in (0..1500).step_by(20) {
        // 20 ms of caller audio (mu-law silence: 160 bytes of 0xFF).
        let payload = format!("{}/w==", "/".repeat(212));
        let media = format!(r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{payload}"}}}}"#);
        call.receive_phone(&media, now, &mut out)?;

        // The model answers at 100 ms: one second of 24 kHz PCM16 in one delta.
        if now == 100 {
            for ev in [
                r#"{"type":"response.created","response":{"id":"R1"}}"#.to_owned(),
                r#"{"type":"response.output_item.added","response_id":"R1","item":{"id":"A","type":"message","role":"assistant"}}"#.to_owned(),
                format!(
                    r#"{{"type":"response.output_audio.delta","response_id":"R1","item_id":"A","delta":"{}"}}"#,
                    "AAAA".repeat(16000)
                ),
                r#"{"type":"response.output_audio.done","response_id":"R1","item_id":"A"}"#.to_owned(),
                r#"{"type":"response.done","response":{"id":"R1"}}"#.to_owned(),
            ] {
                call.receive_model(&ev, now, &mut out)?;
            }
        }
        // The caller talks over the agent at 700 ms (the model's server VAD says so).
        if now == 700 {
            call.receive_model(r#"{"type":"input_audio_buffer.speech_started"}"#, now, &mut out)?;
        }

        // The phone confirms marks whose audio has played.
        while phone.front().is_some_and(|(end, _)| *end <= now) {
            if let Some((_, Some(name))) = phone.pop_front() {
                let mark = format!(r#"{{"event":"mark","streamSid":"MZ1","mark":{{"name":"{name}"}}}}"#);
                call.receive_phone(&mark, now, &mut out)?;
            }
        }

        // Carry out what the engine asked for.
        for o in out.drain(..) {
            match o {
                Output::Phone { kind: PhoneKind::Media, .. } => {
                    play_end = play_end.max(now + PLAYOUT_DELAY_MS) + 20;
                    phone.push_back((play_end, None));
                }
                Output::Phone { kind: PhoneKind::Mark, text } => {
                    let v: serde_json::Value = serde_json::from_str(&text).expect("marks are JSON");
                    phone.push_back((play_end, v["mark"]["name"].as_str().map(str::to_owned)));
                }
                Output::Phone { kind: PhoneKind::Clear, .. } => {
                    // Twilio drops what it has not played and echoes the marks at once.
                    println!("{now:>5} ms  phone <- clear");
                    play_end = now;
                    phone.clear();
                }
                Output::Model(text) if !text.contains("input_audio_buffer.append") => {
                    println!("{now:>5} ms  model <- {text}");
                }
                Output::Event(Event::BargeIn { items, .. }) => {
                    for h in items {
                        println!(
                            "{now:>5} ms  barge-in: {} heard {} ms of {} ms sent ({})",
                            h.item_id, h.heard_ms, h.sent_ms, h.action
                        );
                    }
                }
                Output::Event(e) => println!("{now:>5} ms  event {}", e.to_json()),
                _ => {}
            }
        }
    }
    let c = call.counters();
    println!("frames in {}, frames out {}, barge-ins {}", c.frames_in, c.frames_out, c.barge_ins);
    Ok(())
}
