//! Tolerant readers: every documented form of a provider's message is
//! taken, what is unknown is counted and told (never dropped silently), and
//! no empty audio message is ever sent. Each message here is spelled as a
//! provider's own documents spell it (cited per test).

use teledsp::call::{Call, CallConfig, Event, ModelApi, Output, Pipeline, PipelineConfig, Telephony};

fn call(telephony: Telephony) -> Call {
    Call::new(CallConfig { telephony, ..Default::default() }).unwrap()
}

fn events(out: &[Output]) -> Vec<&Event> {
    out.iter().filter_map(|o| if let Output::Event(e) = o { Some(e) } else { None }).collect()
}

/// SignalWire's cXML `<Stream>` docs spell the codec `audio/x-L16` (media
/// types are case-insensitive, RFC 2045).
#[test]
fn signalwire_l16_in_the_docs_spelling() {
    let mut c = call(Telephony::SignalWire);
    let mut out = Vec::new();
    let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-L16","sampleRate":24000,"channels":1}}}"#;
    c.receive_phone(start, 0, &mut out).unwrap();
    assert_eq!(c.phone_format(), teledsp::call::Format::Pcm16 { rate: 24000 });
}

/// Plivo's main docs confirm a checkpoint with `playedStream`, its support
/// FAQ with `played`: both confirm playback, and so pin what was heard.
#[test]
fn plivo_played_and_played_stream_both_confirm() {
    let heard = |spelling: Option<&str>| {
        let mut c = call(Telephony::Plivo);
        let mut out = Vec::new();
        c.receive_phone(r#"{"event":"start","sequenceNumber":1,"start":{"callId":"c1","streamId":"s1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":""}"#, 0, &mut out).unwrap();
        c.open_model(0, &mut out);
        let delta = |ms: usize| {
            format!(
                r#"{{"type":"response.output_audio.delta","item_id":"A","response_id":"R","delta":"{}"}}"#,
                "AAAA".repeat(16 * ms)
            )
        };
        out.clear();
        c.receive_model(&delta(200), 0, &mut out).unwrap(); // 200 ms sent at 0, then a checkpoint
        let name = out
            .iter()
            .find_map(|o| match o {
                Output::Phone { kind: teledsp::call::PhoneKind::Mark, text } => {
                    Some(serde_json::from_str::<serde_json::Value>(text).unwrap()["name"].as_str().unwrap().to_owned())
                }
                _ => None,
            })
            .unwrap();
        c.receive_model(&delta(800), 0, &mut out).unwrap();
        // The phone played the first 200 ms 200 ms late: confirmed at 400.
        if let Some(spelling) = spelling {
            let echo = format!(r#"{{"event":"{spelling}","sequenceNumber":3,"streamId":"s1","name":"{name}"}}"#);
            c.receive_phone(&echo, 400, &mut out).unwrap();
        }
        out.clear();
        c.receive_model(r#"{"type":"input_audio_buffer.speech_started"}"#, 600, &mut out).unwrap();
        match events(&out).as_slice() {
            [Event::BargeIn { items, .. }] => items[0].heard_ms,
            e => panic!("{e:?}"),
        }
    };
    // Without a confirmation, playback is taken from the send time: 600 ms.
    assert_eq!(heard(None), 600);
    assert_eq!(heard(Some("playedStream")), 400);
    assert_eq!(heard(Some("played")), 400);
}

/// Vonage's older WebSockets guide shows the first message without `event`.
#[test]
fn vonage_first_message_without_event() {
    let mut c = call(Telephony::Vonage);
    let mut out = Vec::new();
    c.receive_phone(r#"{"app":"audiosocket","content-type":"audio/l16;rate=16000","uuid":"u1"}"#, 0, &mut out).unwrap();
    assert!(c.stream().is_some(), "the call did not start");
    assert!(c.receive_phone(r#"{"app":"audiosocket"}"#, 0, &mut out).is_err());
}

/// Unknown messages on either side are counted and told, by their type;
/// documented ones that need nothing are not.
#[test]
fn unknown_messages_are_counted_and_told() {
    let mut c = call(Telephony::Twilio);
    let mut out = Vec::new();
    c.receive_phone(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#, 0, &mut out).unwrap();
    c.receive_model(r#"{"type":"session.created","session":{}}"#, 0, &mut out).unwrap();
    c.receive_model(r#"{"type":"rate_limits.updated","rate_limits":[]}"#, 0, &mut out).unwrap();
    assert!(events(&out).is_empty());
    c.receive_phone(r#"{"event":"hologram","streamSid":"MZ1"}"#, 0, &mut out).unwrap();
    c.receive_model(r#"{"type":"response.telepathy.delta"}"#, 0, &mut out).unwrap();
    assert_eq!(
        events(&out),
        [
            &Event::Unknown { peer: "phone", kind: "hologram".into() },
            &Event::Unknown { peer: "model", kind: "response.telepathy.delta".into() },
        ]
    );
    assert_eq!((c.counters().unknown_phone, c.counters().unknown_model), (1, 1));

    let mut g = Call::new(CallConfig { model: ModelApi::Gemini, ..Default::default() }).unwrap();
    out.clear();
    g.receive_model(r#"{"usageMetadata":{"totalTokenCount":3}}"#, 0, &mut out).unwrap();
    g.receive_model(r#"{"brandNewThing":{}}"#, 0, &mut out).unwrap();
    assert_eq!(events(&out), [&Event::Unknown { peer: "model", kind: "brandNewThing".into() }]);
}

/// Gemini Live sends its JSON as binary frames: the same events.
#[test]
fn gemini_binary_frames_are_its_messages() {
    let mut g = Call::new(CallConfig { model: ModelApi::Gemini, ..Default::default() }).unwrap();
    let mut out = Vec::new();
    g.receive_phone(r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"},"streamSid":"MZ1"}"#, 0, &mut out)
        .unwrap();
    g.receive_model_binary(br#"{"setupComplete":{}}"#, 0, &mut out).unwrap();
    assert!(g.model_ready());
    let audio = format!(
        r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{}"}}}}]}}}}}}"#,
        "AAAA".repeat(1600)
    );
    out.clear();
    g.receive_model_binary(audio.as_bytes(), 10, &mut out).unwrap();
    assert_eq!(
        out.iter().filter(|o| matches!(o, Output::Phone { kind: teledsp::call::PhoneKind::Media, .. })).count(),
        5
    );
    assert!(g.receive_model_binary(&[0xc3, 0x28], 20, &mut out).is_err());
    assert_eq!(g.counters().malformed_model, 1);
}

/// An empty media payload is no audio: nothing goes to the model or the
/// recogniser (Deepgram closes its stream on an empty message).
#[test]
fn empty_media_sends_nothing() {
    let start = r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"},"streamSid":"MZ1"}"#;
    let empty = r#"{"event":"media","streamSid":"MZ1","media":{"payload":""}}"#;
    let mut c = call(Telephony::Twilio);
    let mut out = Vec::new();
    c.receive_phone(start, 0, &mut out).unwrap();
    c.open_model(0, &mut out);
    out.clear();
    c.receive_phone(empty, 5, &mut out).unwrap();
    assert!(out.is_empty(), "{out:?}");
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    p.receive_phone(start, 0, &mut out).unwrap();
    out.clear();
    p.receive_phone(empty, 5, &mut out).unwrap();
    assert!(out.is_empty(), "{out:?}");
}
