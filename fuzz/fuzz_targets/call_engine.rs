//! The call engine on arbitrary phone and model messages, application
//! calls and clock steps, with the local VAD, pause mode and the echo
//! canceller on or off: no panic; a refused input produces nothing;
//! every output is JSON; what a barge-in tells the model never exceeds what
//! was sent or generated, and an item is deleted exactly when none of it
//! was heard.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::call::{Call, CallConfig, Event, Output};

fuzz_target!(|data: &[u8]| {
    let flag = |bit: u8| data.first().is_some_and(|b| b & bit == bit);
    // Pause mode needs the local VAD; the canceller runs behind it.
    let resume_false_interruptions = flag(4);
    let cfg = CallConfig {
        local_vad: flag(1) || resume_false_interruptions,
        audio: if flag(2) { "pcmu" } else { "pcm24k" }.parse().unwrap(),
        hold_ms: 100,
        echo_cancel: flag(8),
        resume_false_interruptions,
        ..Default::default()
    };
    let mut call = Call::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut now = 0u64;
    let mut sent_ms = 0u64;
    // Inputs separated by 0x00; the byte before each picks the input and the
    // clock step. Inputs 8-15 are well-formed messages built from the bytes
    // (so the fuzzer reaches deep states), the others raw text.
    let start = r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#;
    let mut started = false; // a second start is refused, by design
    for chunk in data.split(|&b| b == 0) {
        let Some((&ctl, msg)) = chunk.split_first() else { continue };
        now += u64::from(ctl >> 4) * 13;
        out.clear();
        let arg = |i: usize| u64::from(msg.get(i).copied().unwrap_or(1));
        let item = ["A", "B", "C"][(arg(0) % 3) as usize];
        let resp = ["R1", "R2"][(arg(1) % 2) as usize];
        let built = match ctl & 15 {
            8 => {
                // 6 bytes per 8 base64 characters: whole PCM16 samples.
                let audio = "AAAAAAAA".repeat((arg(2) * 37 + arg(3)) as usize);
                Some((
                    false,
                    format!(
                        r#"{{"type":"response.output_audio.delta","item_id":"{item}","response_id":"{resp}","delta":"{audio}"}}"#
                    ),
                ))
            }
            9 => {
                Some((true, format!(r#"{{"event":"mark","streamSid":"MZ1","mark":{{"name":"teledsp-{}"}}}}"#, arg(0))))
            }
            10 => Some((false, r#"{"type":"input_audio_buffer.speech_started"}"#.to_string())),
            11 => Some((
                false,
                format!(r#"{{"type":"response.output_audio.done","item_id":"{item}","response_id":"{resp}"}}"#),
            )),
            12 => Some((false, format!(r#"{{"type":"response.created","response":{{"id":"{resp}"}}}}"#))),
            13 => Some((false, format!(r#"{{"type":"response.done","response":{{"id":"{resp}"}}}}"#))),
            14 => Some((
                true,
                if arg(0) % 4 == 0 && !std::mem::replace(&mut started, true) {
                    start.to_string()
                } else {
                    format!(
                        r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{}"}}}}"#,
                        "////".repeat(53 + (arg(1) % 2) as usize) + "/w=="
                    )
                },
            )),
            15 => Some((
                false,
                format!(
                    r#"{{"type":"response.function_call_arguments.done","call_id":"c{}","name":"f","arguments":"{{}}"}}"#,
                    arg(0) % 3
                ),
            )),
            _ => None,
        };
        if let Some((phone, text)) = built {
            let r =
                if phone { call.receive_phone(&text, now, &mut out) } else { call.receive_model(&text, now, &mut out) };
            // (A raw start may have come first: a second start is refused.
            // Media before any start is refused by design: nothing is kept.)
            let media_before_start = call.stream().is_none() && text.contains(r#""event":"media""#);
            assert!(
                r.is_ok() || text == start || media_before_start,
                "a well-formed message was refused: {text}: {r:?}"
            );
            if media_before_start {
                assert!(r.is_err() && out.is_empty(), "media before start was taken: {r:?} {out:?}");
            }
            check(&out, &mut sent_ms);
            continue;
        }
        let Ok(text) = std::str::from_utf8(msg) else { continue };
        let r = match ctl & 7 {
            0 | 1 => call.receive_phone(text, now, &mut out),
            2..=4 => call.receive_model(text, now, &mut out),
            5 => {
                call.open_model(now, &mut out);
                Ok(())
            }
            6 => {
                call.barge_in(now, &mut out);
                Ok(())
            }
            _ => call.tool_result(text, "{}", now, &mut out),
        };
        if r.is_err() {
            assert!(out.is_empty(), "a refused input produced {out:?}");
        }
        check(&out, &mut sent_ms);
    }
});

fn check(out: &[Output], sent_ms: &mut u64) {
    for o in out {
        match o {
            Output::PhoneBinary(_) => panic!("Twilio messages are text"),
            Output::Phone { text, .. } => {
                let v: serde_json::Value = serde_json::from_str(text).expect("phone output is JSON");
                if v["event"] == "media" {
                    *sent_ms += 20;
                }
            }
            Output::Model(t) => {
                serde_json::from_str::<serde_json::Value>(t).expect("model output is JSON");
            }
            Output::Event(Event::BargeIn { items, .. }) => {
                for h in items {
                    assert!(h.heard_ms <= h.sent_ms && h.heard_ms <= h.generated_ms && h.sent_ms <= *sent_ms);
                    assert_eq!(h.action == "delete", h.heard_ms == 0);
                }
            }
            Output::Event(e) => {
                serde_json::from_str::<serde_json::Value>(&e.to_json()).expect("events are JSON");
            }
            Output::CallerAudio(_) => panic!("a Call sends caller audio to the model, not out"),
        }
    }
}
