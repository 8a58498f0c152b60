//! Cost per message of the call engine against the bridge alone (the same
//! conversions without the bookkeeping), in the same run: a Twilio `media`
//! message (20 ms) in, and an OpenAI 100 ms audio delta in (five frames and
//! a mark out, with the mark echoed as Twilio would).
//!
//! Then one call-second, full duplex (50 Twilio `media` in, 10 model deltas
//! of 100 ms out, their marks echoed), with the model on `audio/pcm` at
//! 24 kHz against `audio/pcmu` passed through: what transcoding costs per
//! call-second. And the same for `Pipeline` with linear16 24 kHz TTS audio
//! against mu-law.
//!
//! Then the adapters, each beside Twilio and OpenAI in the same run: one
//! caller-audio message of each telephony protocol in (to OpenAI at 24 kHz;
//! Exotel's message is 100 ms, the others' 20 ms), and one 100 ms model
//! audio message of each model API in (to a Twilio phone, marks echoed).
//!
//! `cargo bench -p teledsp-benches --bench call`

use std::hint::black_box;

use base64_simd::STANDARD as B64;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use teledsp::bridge::TwilioBridge;
use teledsp::call::ModelAudio as Audio;
use teledsp::call::{
    Call, CallConfig, ModelApi, Output, PhoneKind, Pipeline, PipelineConfig, Telephony, pipeline::Encoding,
};

const START: &str = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","start":{"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","callSid":"CA1","customParameters":{}}}"#;

fn noise(n: usize, seed: u64) -> Vec<i16> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 48) as i16) / 8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let media: Vec<String> = (0..50)
        .map(|i| {
            let f = teledsp::g711::ulaw_encode_vec(&noise(160, i));
            format!(
                r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{i}","timestamp":"{}","payload":"{}"}},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}}"#,
                i + 2,
                20 * i,
                B64.encode_to_string(f)
            )
        })
        .collect();
    let pcm: Vec<u8> = noise(2400, 99).iter().flat_map(|s| s.to_le_bytes()).collect();
    let delta = format!(
        r#"{{"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":0,"content_index":0,"delta":"{}"}}"#,
        B64.encode_to_string(pcm)
    );

    let mut g = c.benchmark_group("message/twilio_media_20ms");
    g.throughput(Throughput::Elements(1));
    let mut bridge = TwilioBridge::new(Default::default()).unwrap();
    bridge.twilio_to_openai(START).unwrap();
    let mut i = 0;
    g.bench_function("bridge", |b| {
        b.iter(|| {
            i += 1;
            black_box(bridge.twilio_to_openai(&media[i % 50]).unwrap())
        })
    });
    let mut call = Call::new(Default::default()).unwrap();
    let mut out = Vec::with_capacity(8);
    call.receive_phone(START, 0, &mut out).unwrap();
    call.open_model(0, &mut out);
    let mut now = 0;
    g.bench_function("call", |b| {
        b.iter(|| {
            out.clear();
            i += 1;
            now += 20;
            call.receive_phone(&media[i % 50], now, &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("message/openai_delta_100ms");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bridge", |b| b.iter(|| black_box(bridge.openai_to_twilio(&delta).unwrap())));
    let mut echo = String::new();
    g.bench_function("call", |b| {
        b.iter(|| {
            // Echo the previous delta's mark first, as Twilio does once it
            // has played, so the timeline stays as in a live call.
            out.clear();
            if !echo.is_empty() {
                call.receive_phone(&echo, now, &mut out).unwrap();
            }
            now += 100;
            out.clear();
            call.receive_model(&delta, now, &mut out).unwrap();
            if let Some(Output::Phone { kind: PhoneKind::Mark, text }) = out.last() {
                let name = text.split("\"name\":\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("");
                echo = format!(r#"{{"event":"mark","streamSid":"MZ1","mark":{{"name":"{name}"}}}}"#);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

/// The mark's echo, as Twilio sends it once the audio before it played.
fn echo_of(out: &[Output]) -> Option<String> {
    out.iter().rev().find_map(|o| match o {
        Output::Phone { kind: PhoneKind::Mark, text } => {
            let name = text.split("\"name\":\"").nth(1)?.split('"').next()?;
            Some(format!(r#"{{"event":"mark","streamSid":"MZ1","mark":{{"name":"{name}"}}}}"#))
        }
        _ => None,
    })
}

fn call_second(c: &mut Criterion) {
    let media: Vec<String> = (0..50)
        .map(|i| {
            let f = teledsp::g711::ulaw_encode_vec(&noise(160, i));
            format!(r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{}"}}}}"#, B64.encode_to_string(f))
        })
        .collect();
    let mut g = c.benchmark_group("call_second/model_audio");
    g.throughput(Throughput::Elements(1));
    for (name, audio) in [("pcm24k", Audio::Pcm24k), ("pcmu", Audio::Pcmu)] {
        let bytes: Vec<u8> = match audio {
            Audio::Pcm24k => noise(2400, 7).iter().flat_map(|s| s.to_le_bytes()).collect(),
            _ => teledsp::g711::ulaw_encode_vec(&noise(800, 7)),
        };
        let delta = format!(
            r#"{{"type":"response.output_audio.delta","response_id":"r1","item_id":"i1","delta":"{}"}}"#,
            B64.encode_to_string(bytes)
        );
        let mut call = Call::new(CallConfig { audio, ..CallConfig::default() }).unwrap();
        let mut out = Vec::with_capacity(64);
        call.receive_phone(START, 0, &mut out).unwrap();
        call.open_model(0, &mut out);
        let mut now = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                for (k, m) in media.iter().enumerate() {
                    out.clear();
                    call.receive_phone(m, now + 20 * k as u64, &mut out).unwrap();
                }
                for k in 0..10 {
                    out.clear();
                    call.receive_model(&delta, now + 100 * k, &mut out).unwrap();
                    let echo = echo_of(&out).unwrap();
                    call.receive_phone(&echo, now + 100 * k + 100, &mut out).unwrap();
                }
                now += 1000;
                black_box(out.len())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("call_second/pipeline_tts");
    g.throughput(Throughput::Elements(1));
    for (name, encoding, rate) in [("linear16_24k", Encoding::Linear16, 24000), ("mulaw_8k", Encoding::Mulaw, 8000)] {
        let chunk: Vec<u8> = match encoding {
            Encoding::Linear16 => noise(2400, 7).iter().flat_map(|s| s.to_le_bytes()).collect(),
            Encoding::Mulaw => teledsp::g711::ulaw_encode_vec(&noise(800, 7)),
        };
        let cfg = PipelineConfig { encoding, sample_rate: rate, ..PipelineConfig::default() };
        let mut call = Pipeline::new(cfg).unwrap();
        let mut out = Vec::with_capacity(64);
        call.receive_phone(START, 0, &mut out).unwrap();
        let mut now = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                for (k, m) in media.iter().enumerate() {
                    out.clear();
                    call.receive_phone(m, now + 20 * k as u64, &mut out).unwrap();
                }
                for k in 0..10 {
                    out.clear();
                    call.push_audio("u1", &chunk, now + 100 * k, &mut out).unwrap();
                    let echo = echo_of(&out).unwrap();
                    call.receive_phone(&echo, now + 100 * k + 100, &mut out).unwrap();
                }
                now += 1000;
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// A phone input: text, or binary (Vonage).
enum PhoneIn {
    Text(String),
    Binary(Vec<u8>),
}

fn feed(call: &mut Call, m: &PhoneIn, now: u64, out: &mut Vec<Output>) {
    match m {
        PhoneIn::Text(t) => call.receive_phone(t, now, out).unwrap(),
        PhoneIn::Binary(b) => call.receive_phone_binary(b, now, out).unwrap(),
    }
}

/// Each telephony protocol's start and 50 caller-audio messages, from its docs.
fn phone_messages(t: Telephony) -> (String, Vec<PhoneIn>) {
    let pcm = |rate: usize, ms: usize, i: u64| -> Vec<u8> {
        noise(rate * ms / 1000, i).iter().flat_map(|s| s.to_le_bytes()).collect()
    };
    let start = match t {
        Telephony::Twilio => START.to_owned(),
        Telephony::SignalWire => {
            json!({"event": "start", "streamSid": "S1", "start": {"streamSid": "S1", "callSid": "C1",
            "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 24000, "channels": 1}}})
            .to_string()
        }
        Telephony::Telnyx => json!({"event": "start", "stream_id": "S1", "start": {"call_control_id": "v3:1",
            "media_format": {"encoding": "PCMA", "sample_rate": 8000, "channels": 1}}})
        .to_string(),
        Telephony::Plivo => json!({"event": "start", "start": {"callId": "C1", "streamId": "S1",
            "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000}}})
        .to_string(),
        Telephony::Vonage => {
            json!({"event": "websocket:connected", "content-type": "audio/l16;rate=16000"}).to_string()
        }
        Telephony::Exotel => {
            json!({"event": "start", "stream_sid": "S1", "start": {"stream_sid": "S1", "call_sid": "C1",
            "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}})
            .to_string()
        }
    };
    let msgs = (0..50u64)
        .map(|i| {
            let b64 = |b: Vec<u8>| B64.encode_to_string(b);
            match t {
                Telephony::Twilio => PhoneIn::Text(json!({"event": "media", "streamSid": "S1",
                    "media": {"payload": b64(teledsp::g711::ulaw_encode_vec(&noise(160, i)))}}).to_string()),
                Telephony::SignalWire => PhoneIn::Text(json!({"event": "media", "streamSid": "S1",
                    "media": {"payload": b64(pcm(24000, 20, i))}}).to_string()),
                // Telnyx numbers its chunks from 1; the benchmark cycles through 50.
                Telephony::Telnyx => PhoneIn::Text(json!({"event": "media", "stream_id": "S1",
                    "media": {"track": "inbound", "chunk": (i + 1).to_string(), "payload": b64(teledsp::g711::alaw_encode_vec(&noise(160, i)))}}).to_string()),
                Telephony::Plivo => PhoneIn::Text(json!({"event": "media", "streamId": "S1",
                    "media": {"track": "inbound", "payload": b64(pcm(16000, 20, i))}}).to_string()),
                Telephony::Vonage => PhoneIn::Binary(pcm(16000, 20, i)),
                Telephony::Exotel => PhoneIn::Text(json!({"event": "media", "stream_sid": "S1",
                    "media": {"chunk": (i + 1).to_string(), "payload": b64(pcm(8000, 100, i))}}).to_string()),
            }
        })
        .collect();
    (start, msgs)
}

/// Each model API's session confirmation and one 100 ms audio message.
fn model_messages(m: ModelApi) -> (String, String) {
    match m {
        ModelApi::OpenAi | ModelApi::Azure => (
            json!({"type": "session.updated", "session": {}}).to_string(),
            format!(r#"{{"type":"response.output_audio.delta","response_id":"r1","item_id":"i1","delta":"{}"}}"#,
                B64.encode_to_string(noise(2400, 99).iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>())),
        ),
        ModelApi::Gemini => (
            json!({"setupComplete": {}}).to_string(),
            json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000",
                "data": B64.encode_to_string(noise(2400, 99).iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>())}}]}}})
            .to_string(),
        ),
        ModelApi::ElevenLabs => (
            json!({"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event":
                {"agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000"}}).to_string(),
            json!({"type": "audio", "audio_event": {"event_id": 1,
                "audio_base_64": B64.encode_to_string(noise(1600, 99).iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>())}})
            .to_string(),
        ),
    }
}

fn adapters(c: &mut Criterion) {
    let mut g = c.benchmark_group("adapter/phone_media");
    g.throughput(Throughput::Elements(1));
    for t in Telephony::ALL {
        let (start, msgs) = phone_messages(t);
        let cfg = CallConfig { telephony: t, ..CallConfig::default() };
        let mut out = Vec::with_capacity(8);
        let mut call = Call::new(cfg.clone()).unwrap();
        call.receive_phone(&start, 0, &mut out).unwrap();
        call.open_model(0, &mut out);
        let (mut i, mut now) = (0usize, 0u64);
        let ms = if t == Telephony::Exotel { 100 } else { 20 };
        g.bench_function(format!("{}_{ms}ms", t.name()), |b| {
            b.iter(|| {
                if i.is_multiple_of(50) && t == Telephony::Telnyx {
                    // Telnyx chunk numbers restart: a fresh call keeps them in order.
                    call = Call::new(cfg.clone()).unwrap();
                    call.receive_phone(&start, 0, &mut out).unwrap();
                    call.open_model(0, &mut out);
                }
                out.clear();
                now += ms;
                feed(&mut call, &msgs[i % 50], now, &mut out);
                i += 1;
                black_box(out.len())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("adapter/model_audio_100ms");
    g.throughput(Throughput::Elements(1));
    for m in ModelApi::ALL {
        let audio = if m == ModelApi::ElevenLabs { Audio::Pcm16k } else { Audio::Pcm24k };
        let mut call = Call::new(CallConfig { model: m, audio, ..CallConfig::default() }).unwrap();
        let (ok, msg) = model_messages(m);
        let mut out = Vec::with_capacity(8);
        call.receive_phone(START, 0, &mut out).unwrap();
        call.open_model(0, &mut out);
        call.receive_model(&ok, 0, &mut out).unwrap();
        let (mut now, mut echo) = (0u64, None::<String>);
        g.bench_function(m.name(), |b| {
            b.iter(|| {
                out.clear();
                if let Some(e) = &echo {
                    call.receive_phone(e, now, &mut out).unwrap();
                }
                now += 100;
                out.clear();
                call.receive_model(&msg, now, &mut out).unwrap();
                echo = echo_of(&out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = teledsp_benches::config(); targets = bench, call_second, adapters }
criterion_main!(benches);
