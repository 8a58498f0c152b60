//! The Twilio <-> OpenAI bridge on realistic messages (shapes from Twilio's
//! Media Streams docs and OpenAI's Realtime GA / beta events).

use base64_simd::STANDARD as B64;
use serde_json::Value;
use teledsp::Error;
use teledsp::bridge::{BridgeConfig, TwilioBridge};
use teledsp::call::{ModelAudio as Audio, RealtimeVersion as Api};

const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ42","callSid":"CA7","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"tenant":"acme"}},"streamSid":"MZ42"}"#;

fn media(payload: &[u8]) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"1","timestamp":"5","payload":"{}"}},"streamSid":"MZ42"}}"#,
        B64.encode_to_string(payload)
    )
}

fn delta(api: Api, pcm: &[i16]) -> String {
    let kind = if api == Api::Ga { "response.output_audio.delta" } else { "response.audio.delta" };
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    format!(
        r#"{{"type":"{kind}","response_id":"r1","item_id":"i1","output_index":0,"content_index":0,"delta":"{}"}}"#,
        B64.encode_to_string(bytes)
    )
}

#[test]
fn start_mark_stop_update_state_and_send_nothing() {
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    assert_eq!(b.twilio_to_openai(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#).unwrap(), None);
    assert_eq!(b.twilio_to_openai(START).unwrap(), None);
    assert_eq!((b.stream_sid(), b.call_sid()), (Some("MZ42"), Some("CA7")));
    assert_eq!(b.custom_parameters()["tenant"], "acme");
    let mark = r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ42","mark":{"name":"teledsp-1"}}"#;
    assert_eq!(b.twilio_to_openai(mark).unwrap(), None);
    assert_eq!(b.last_mark(), Some("teledsp-1"));
    assert_eq!(b.marks_received(), 1);
    assert!(!b.stopped());
    let stop =
        r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZ42","stop":{"accountSid":"AC1","callSid":"CA7"}}"#;
    assert_eq!(b.twilio_to_openai(stop).unwrap(), None);
    assert!(b.stopped());
}

#[test]
fn inbound_media_becomes_24k_pcm_append() {
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    b.twilio_to_openai(START).unwrap();
    let mut reference = teledsp::resample::Resampler::new(8000, 24000, Default::default()).unwrap();
    for k in 0..5 {
        let ulaw: Vec<u8> = (0..160).map(|i| (i * 7 + k * 13) as u8).collect();
        let out = b.twilio_to_openai(&media(&ulaw)).unwrap().unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["type"], "input_audio_buffer.append");
        let bytes = B64.decode_to_vec(v["audio"].as_str().unwrap()).unwrap();
        assert_eq!(bytes.len(), 960, "20 ms at 24 kHz, PCM16");
        let mut want = vec![0i16; 480];
        reference.process_from_ulaw(&ulaw, &mut want).unwrap();
        let got: Vec<i16> = bytes.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn pcmu_passthrough_forwards_the_payload() {
    let mut b = TwilioBridge::new(BridgeConfig { audio: Audio::Pcmu, ..Default::default() }).unwrap();
    let ulaw = [0x12u8; 160];
    let v: Value = serde_json::from_str(&b.twilio_to_openai(&media(&ulaw)).unwrap().unwrap()).unwrap();
    assert_eq!(v["audio"], B64.encode_to_string(ulaw));
}

#[test]
fn outbound_deltas_become_exact_20ms_frames_and_one_mark_each() {
    for api in [Api::Ga, Api::Beta] {
        let mut b = TwilioBridge::new(BridgeConfig { api, ..Default::default() }).unwrap();
        b.twilio_to_openai(START).unwrap();
        let pcm: Vec<i16> = (0..24000).map(|i| ((i as f64 * 0.05).sin() * 8000.0) as i16).collect();
        let mut down = teledsp::resample::Resampler::new(24000, 8000, Default::default()).unwrap();
        let want = {
            let mut u = vec![0u8; 8000];
            down.process_to_ulaw(&pcm, &mut u).unwrap();
            u
        };
        let (mut got, mut marks) = (Vec::new(), Vec::new());
        for chunk in pcm.chunks(1234) {
            for msg in b.openai_to_twilio(&delta(api, chunk)).unwrap() {
                let v: Value = serde_json::from_str(&msg).unwrap();
                assert_eq!(v["streamSid"], "MZ42");
                match v["event"].as_str().unwrap() {
                    "media" => {
                        let f = B64.decode_to_vec(v["media"]["payload"].as_str().unwrap()).unwrap();
                        assert_eq!(f.len(), 160, "every frame is 20 ms of mu-law");
                        got.extend(f);
                    }
                    "mark" => marks.push(v["mark"]["name"].as_str().unwrap().to_string()),
                    e => panic!("unexpected {e}"),
                }
            }
        }
        // 1 s of audio is exactly 50 frames: everything went out, in order,
        // though no delta (1234 samples) was a whole number of frames.
        assert_eq!(got.len(), 8000);
        assert_eq!(&got[..], &want[..got.len()]);
        let mut unique = marks.clone();
        unique.dedup();
        assert_eq!(unique.len(), marks.len(), "mark names are unique");
        assert_eq!(b.marks_sent() as usize, marks.len());
    }
}

#[test]
fn speech_started_clears_twilio_and_other_events_are_ignored() {
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    b.twilio_to_openai(START).unwrap();
    b.openai_to_twilio(&delta(Api::Ga, &[100; 100])).unwrap(); // a partial frame carried
    let out = b
        .openai_to_twilio(r#"{"type":"input_audio_buffer.speech_started","audio_start_ms":1000,"item_id":"i2"}"#)
        .unwrap();
    assert_eq!(out.len(), 1);
    let v: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!((v["event"].as_str(), v["streamSid"].as_str()), (Some("clear"), Some("MZ42")));
    assert!(b.openai_to_twilio(r#"{"type":"session.updated","session":{}}"#).unwrap().is_empty());
    // A tolerant reader: a GA bridge takes the beta spelling of audio too
    // (200 ms: ten frames and a mark).
    assert_eq!(b.openai_to_twilio(&delta(Api::Beta, &[5; 4800])).unwrap().len(), 11);
}

#[test]
fn malformed_input_is_a_clear_error() {
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    let cases: [(&str, bool); 5] = [
        ("not json", true),
        (r#"{"event":"media","streamSid":"MZ"}"#, true),
        (r#"{"event":"media","media":{"payload":"@@@"},"streamSid":"MZ"}"#, true),
        (r#"{"type":"response.output_audio.delta","delta":"AA=="}"#, false),
        (r#"{"type":"response.output_audio.delta","delta":"%%"}"#, false),
    ];
    for (msg, twilio) in cases {
        let e = if twilio { b.twilio_to_openai(msg).unwrap_err() } else { b.openai_to_twilio(msg).unwrap_err() };
        let Error::Malformed { what, .. } = &e else { panic!("{e:?}") };
        assert!(!what.is_empty(), "{msg}: {what}");
        eprintln!("{msg} -> {e}");
    }
    assert_eq!(
        b.openai_to_twilio(r#"{"type":"response.output_audio.delta","delta":"AA=="}"#).unwrap_err().to_string(),
        "OpenAI PCM16 delta has an odd byte count"
    );
    // The parser's detail says where and what.
    let e = b.twilio_to_openai(r#"{"media":{"payload":""}}"#).unwrap_err().to_string();
    assert_eq!(e, "Twilio message is not the expected JSON: missing field `event` at line 1 column 24");
    let e = b.twilio_to_openai(r#"{"event":"media","media":{"payload":"AB$D"}}"#).unwrap_err().to_string();
    assert_eq!(e, "Twilio media.payload is not valid base64: invalid symbol 36 at offset 2");
}

#[test]
fn settings_parse_from_our_names_and_openais() {
    assert_eq!("ga".parse::<Api>(), Ok(Api::Ga));
    assert_eq!("beta".parse::<Api>(), Ok(Api::Beta));
    for name in ["pcm24k", "audio/pcm", "pcm16"] {
        assert_eq!(name.parse::<Audio>(), Ok(Audio::Pcm24k), "{name}");
    }
    for name in ["pcmu", "audio/pcmu", "g711_ulaw"] {
        assert_eq!(name.parse::<Audio>(), Ok(Audio::Pcmu), "{name}");
    }
    for name in ["pcma", "audio/pcma", "g711_alaw"] {
        assert_eq!(name.parse::<Audio>(), Ok(Audio::Pcma), "{name}");
    }
    assert_eq!("pcm_16000".parse::<Audio>(), Ok(Audio::Pcm16k));
    let e = "opus".parse::<Audio>().unwrap_err().to_string();
    assert!(e.starts_with("unknown model audio format \"opus\"; expected one of: pcm24k"), "{e}");
    // The bridge predates A-law and 16 kHz: it says so rather than mangle them.
    let cfg = BridgeConfig { audio: Audio::Pcma, ..Default::default() };
    assert!(TwilioBridge::new(cfg).unwrap_err().to_string().contains("call engine"));
    assert!("GA".parse::<Api>().unwrap_err().to_string().contains("ga, beta"));
}

#[test]
fn escaped_json_strings_are_read_like_plain_ones() {
    // `\/` is legal JSON for `/`; base64 payloads are full of slashes.
    let mut a = TwilioBridge::new(Default::default()).unwrap();
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    let payload = format!("{}/w==", "/".repeat(212));
    let plain = format!(r#"{{"event":"media","media":{{"payload":"{payload}"}},"streamSid":"MZ1"}}"#);
    let escaped = plain.replace('/', r"\/").replace("media", r"\u006dedia");
    assert_eq!(a.twilio_to_openai(&plain).unwrap(), b.twilio_to_openai(&escaped).unwrap());
    let delta = B64.encode_to_string([0u8; 960]);
    let plain = format!(r#"{{"type":"response.output_audio.delta","delta":"{delta}"}}"#);
    let escaped = plain.replace('/', r"\/").replace("delta\"", r#"d\u0065lta""#);
    assert_eq!(a.openai_to_twilio(&plain).unwrap(), b.openai_to_twilio(&escaped).unwrap());
}

#[test]
fn stream_sids_that_need_escaping_stay_valid_json() {
    let mut b = TwilioBridge::new(Default::default()).unwrap();
    b.twilio_to_openai(r#"{"event":"start","start":{"streamSid":"MZ\"x\\y"},"streamSid":"MZ\"x\\y"}"#).unwrap();
    for msg in b.openai_to_twilio(r#"{"type":"input_audio_buffer.speech_started"}"#).unwrap() {
        let v: Value = serde_json::from_str(&msg).unwrap();
        assert_eq!(v["streamSid"], "MZ\"x\\y");
    }
}

#[test]
fn the_building_blocks_give_what_the_whole_event_gives() {
    // `Call`-style routing parses the event itself and hands over the delta.
    let pcm: Vec<i16> = (0..2400).map(|k| ((k as f32 * 0.1).sin() * 8000.0) as i16).collect();
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    for api in [Api::Ga, Api::Beta] {
        let cfg = BridgeConfig { api, ..Default::default() };
        let (mut whole, mut parts) = (TwilioBridge::new(cfg).unwrap(), TwilioBridge::new(cfg).unwrap());
        let ev: Value = serde_json::from_str(&delta(api, &pcm)).unwrap();
        assert_eq!(ev["type"], parts.delta_type());
        for _ in 0..3 {
            assert_eq!(
                whole.openai_to_twilio(&delta(api, &pcm)).unwrap(),
                parts.audio_delta_to_twilio(&B64.encode_to_string(&bytes)).unwrap()
            );
        }
        let speech = r#"{"type":"input_audio_buffer.speech_started"}"#;
        assert_eq!(whole.openai_to_twilio(speech).unwrap(), [parts.clear()]);
        assert_eq!(
            whole.openai_to_twilio(&delta(api, &pcm)).unwrap(),
            parts.audio_delta_to_twilio(&B64.encode_to_string(&bytes)).unwrap()
        );
    }
}
