//! The cascaded-agent engine (`teledsp::call::Pipeline`) against a Twilio
//! that plays in real (virtual) time and echoes marks when their audio has
//! played; TTS audio comes faster than real time, as a streaming TTS sends it.

use base64_simd::STANDARD as B64;
use proptest::prelude::*;
use serde_json::{Value, json};
use teledsp::call::{Cause, Event, Heard, Output, PhoneKind, Pipeline, PipelineConfig, pipeline::Encoding};

mod common;
use common::{Phone, mark_msg, recorded_prompt};

const START: &str = r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#;

fn pipeline(encoding: Encoding, sample_rate: u32, local_vad: bool) -> Pipeline {
    let cfg = PipelineConfig { encoding, sample_rate, local_vad, ..PipelineConfig::default() };
    let mut p = Pipeline::new(cfg).unwrap();
    let mut out = Vec::new();
    p.receive_phone(START, 0, &mut out).unwrap();
    assert!(matches!(&out[..], [Output::Event(Event::Started { .. })]));
    p
}

/// `ms` of a 24 kHz PCM16 square wave at `level` (0: digital silence).
fn tts(ms: usize, level: i16) -> Vec<u8> {
    (0..ms * 24).flat_map(|i| (if (i / 24) % 2 == 0 { level } else { -level }).to_le_bytes()).collect()
}

/// The engine with its phone, in virtual time.
struct Sim {
    p: Pipeline,
    phone: Phone,
    now: u64,
    /// Marks the phone echoes, with their times.
    echoes: Vec<(u64, String)>,
    events: Vec<Event>,
    clears: usize,
}

impl Sim {
    fn new(p: Pipeline) -> Self {
        Sim { p, phone: Phone::default(), now: 0, echoes: Vec::new(), events: Vec::new(), clears: 0 }
    }

    /// Plays until `t`, delivering mark echoes at their times.
    fn advance(&mut self, t: u64) {
        while self.now < t {
            self.now = (self.now + 10).min(t);
            self.echoes.extend(self.phone.run_until(self.now));
            let due: Vec<_> = self.echoes.iter().filter(|(at, _)| *at <= self.now).cloned().collect();
            self.echoes.retain(|(at, _)| *at > self.now);
            for (at, name) in due {
                let mut out = Vec::new();
                self.p.receive_phone(&mark_msg(&name), at, &mut out).unwrap();
                assert!(out.is_empty(), "a mark echo makes no output: {out:?}");
            }
        }
    }

    fn route(&mut self, out: Vec<Output>, label: &str) {
        for o in out {
            match o {
                Output::Phone { kind, text } => {
                    self.clears += usize::from(kind == PhoneKind::Clear);
                    for m in self.phone.receive(&text, label, self.now) {
                        self.echoes.push((self.now, m));
                    }
                }
                Output::Event(e) => self.events.push(e),
                Output::CallerAudio(_) => {}
                Output::PhoneBinary(_) => panic!("Twilio messages are text"),
                Output::Model(m) => panic!("a pipeline has no model: {m}"),
            }
        }
    }

    fn push(&mut self, id: &str, audio: &[u8]) {
        let mut out = Vec::new();
        self.p.push_audio(id, audio, self.now, &mut out).unwrap();
        self.route(out, id);
    }

    fn end(&mut self, id: &str) {
        let mut out = Vec::new();
        self.p.end_utterance(id, self.now, &mut out);
        self.route(out, id);
    }

    fn barge_in(&mut self) -> Vec<Heard> {
        let mut out = Vec::new();
        self.p.barge_in(self.now, &mut out);
        self.route(out, "");
        match self.events.pop() {
            Some(Event::BargeIn { cause: Cause::Application, items, .. }) => items,
            e => panic!("expected a barge-in, got {e:?}"),
        }
    }

    fn played_ms(&self, id: &str) -> u64 {
        self.phone.played.iter().filter(|(i, _)| i == id).count() as u64 * 20
    }
}

/// Two sentences of 1 s each, streamed in 100 ms chunks 5x faster than real time.
fn two_utterances(sim: &mut Sim) {
    for id in ["u1", "u2"] {
        for _ in 0..10 {
            sim.push(id, &tts(100, 8000));
            sim.advance(sim.now + 20);
        }
        sim.end(id);
    }
}

#[test]
fn interrupted_in_the_first_of_two_queued_utterances() {
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, false));
    two_utterances(&mut sim);
    sim.advance(610);
    let items = sim.barge_in();
    assert_eq!(sim.clears, 1);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!((items[0].item_id.as_str(), items[0].action), ("u1", "truncate"));
    assert!(items[0].heard_ms.abs_diff(sim.played_ms("u1")) <= 20, "{items:?}, played {}", sim.played_ms("u1"));
    assert_eq!((items[1].item_id.as_str(), items[1].heard_ms, items[1].action), ("u2", 0, "delete"));
    assert_eq!(items[1].generated_ms, 1000);
    // TTS audio still in flight for them is dropped; nothing more plays.
    let before = sim.phone.played.len();
    sim.push("u2", &tts(100, 8000));
    sim.end("u2");
    sim.advance(3000);
    assert_eq!(sim.phone.played.len(), before);
    assert_eq!(sim.p.counters().deltas_dropped, 1);
    assert!(!sim.p.speaking(sim.now));
}

#[test]
fn interrupted_in_the_second_utterance() {
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, false));
    two_utterances(&mut sim);
    sim.advance(1600);
    let items = sim.barge_in();
    assert_eq!(items.len(), 1, "u1 was wholly heard: {items:?}");
    assert_eq!(items[0].item_id, "u2");
    assert!(items[0].heard_ms.abs_diff(sim.played_ms("u2")) <= 20, "{items:?}, played {}", sim.played_ms("u2"));
    assert_eq!(sim.played_ms("u1"), 1020); // 1 s and the padded tail frame (the resampler's delay)
}

#[test]
fn the_next_utterance_starts_clean_after_a_barge_in() {
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, false));
    two_utterances(&mut sim);
    sim.advance(300);
    sim.barge_in();
    sim.push("u3", &tts(500, 0));
    sim.end("u3");
    sim.advance(2000);
    let u3: Vec<&Vec<u8>> = sim.phone.played.iter().filter(|(i, _)| i == "u3").map(|(_, f)| f).collect();
    assert_eq!(u3.len(), 26, "500 ms and the padded tail frame");
    assert!(u3.iter().all(|f| f.iter().all(|&b| b == 0xFF || b == 0x7F)), "interrupted audio bled into u3");
}

#[test]
fn a_begun_utterance_without_audio_is_deleted_and_its_audio_dropped() {
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, false));
    sim.p.begin_utterance("u1", 0);
    assert!(sim.p.speaking(0), "the TTS is working on u1");
    let items = sim.barge_in();
    assert_eq!((items[0].item_id.as_str(), items[0].heard_ms, items[0].action), ("u1", 0, "delete"));
    sim.push("u1", &tts(200, 8000));
    sim.advance(1000);
    assert!(sim.phone.played.is_empty());
}

#[test]
fn nothing_to_interrupt_makes_a_clear_but_no_event() {
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, false));
    let mut out = Vec::new();
    sim.p.barge_in(0, &mut out);
    assert!(matches!(&out[..], [Output::Phone { kind: PhoneKind::Clear, .. }]), "{out:?}");
    assert_eq!(sim.p.counters().barge_ins, 0);
}

#[test]
fn every_tts_rate_gives_whole_frames_of_the_right_duration() {
    for (encoding, rate) in [
        (Encoding::Linear16, 8000),
        (Encoding::Linear16, 16000),
        (Encoding::Linear16, 24000),
        (Encoding::Linear16, 48000),
    ] {
        let mut p = pipeline(encoding, rate, false);
        let mut out = Vec::new();
        let pcm: Vec<u8> = (0..rate as usize) // 1 s of a 440 Hz tone
            .flat_map(|i| {
                ((8000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / rate as f64).sin()) as i16).to_le_bytes()
            })
            .collect();
        for c in pcm.chunks(rate as usize / 50 * 2 + 6) {
            p.push_audio("u", c, 0, &mut out).unwrap();
        }
        p.end_utterance("u", 0, &mut out);
        let frames: Vec<Vec<u8>> = out.iter().filter_map(media_bytes).collect();
        assert!(frames.iter().all(|f| f.len() == 160), "{rate}");
        // 1 s is 50 frames; the resampler's delay adds at most one padded frame.
        assert!((50..=51).contains(&frames.len()), "{rate} Hz: {} frames", frames.len());
        assert_eq!(p.counters().frames_out, frames.len() as u64);
    }
}

fn media_bytes(o: &Output) -> Option<Vec<u8>> {
    match o {
        Output::Phone { kind: PhoneKind::Media, text } => {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["streamSid"], "MZ1");
            Some(B64.decode_to_vec(v["media"]["payload"].as_str().unwrap()).unwrap())
        }
        _ => None,
    }
}

/// Phone frames for `audio` pushed in chunks cut at `cuts`, then ended.
fn framed(encoding: Encoding, rate: u32, audio: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut p = pipeline(encoding, rate, false);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([audio.len()].iter()) {
        let c = c.clamp(at, audio.len());
        p.push_audio("u", &audio[at..c], 0, &mut out).unwrap();
        at = c;
    }
    p.end_utterance("u", 0, &mut out);
    out.iter().filter_map(media_bytes).flatten().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Mu-law TTS audio reaches the phone byte for byte, in whole 160-byte
    /// frames, the last padded with mu-law silence, however it is chunked.
    #[test]
    fn mulaw_passes_through_exactly(audio in prop::collection::vec(any::<u8>(), 0..2000),
                                    mut cuts in prop::collection::vec(0usize..2000, 0..8)) {
        cuts.sort_unstable();
        let phone = framed(Encoding::Mulaw, 8000, &audio, &cuts);
        prop_assert_eq!(phone.len(), audio.len().div_ceil(160) * 160);
        prop_assert_eq!(&phone[..audio.len()], &audio[..]);
        prop_assert!(phone[audio.len()..].iter().all(|&b| b == 0xFF));
    }

    /// Linear16 at any rate: the phone gets the same frames however the
    /// TTS chunks its audio (no click at chunk edges, no sample lost).
    #[test]
    fn linear16_framing_is_independent_of_chunking(rate in prop::sample::select(vec![8000u32, 16000, 24000, 48000]),
                                                   samples in prop::collection::vec(any::<i16>(), 0..3000),
                                                   mut cuts in prop::collection::vec(0usize..3000, 0..8)) {
        cuts.sort_unstable();
        let audio: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let cuts: Vec<usize> = cuts.iter().map(|c| c * 2).collect();
        prop_assert_eq!(framed(Encoding::Linear16, rate, &audio, &cuts), framed(Encoding::Linear16, rate, &audio, &[]));
    }
}

#[test]
fn odd_linear16_is_an_error_and_changes_nothing() {
    let mut p = pipeline(Encoding::Linear16, 24000, false);
    let mut out = Vec::new();
    let e = p.push_audio("u", &[0; 3], 0, &mut out).unwrap_err();
    assert_eq!(e.kind(), teledsp::ErrorKind::InvalidLength, "{e}");
    assert!(out.is_empty() && !p.speaking(0));
}

#[test]
fn caller_audio_comes_out_as_sent_and_media_before_start_is_refused() {
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": B64.encode_to_string([1u8, 2, 3])}});
    let mut out = Vec::new();
    assert!(p.receive_phone(&media.to_string(), 0, &mut out).is_err());
    assert!(out.is_empty());
    assert_eq!(p.counters().malformed_phone, 1);
    p.receive_phone(START, 0, &mut out).unwrap();
    out.clear();
    p.receive_phone(&media.to_string(), 0, &mut out).unwrap();
    assert_eq!(out, [Output::CallerAudio(vec![1, 2, 3])]);
    p.receive_phone(r#"{"event":"stop","streamSid":"MZ1"}"#, 0, &mut out).unwrap();
    out.clear();
    p.push_audio("u", &tts(100, 100), 0, &mut out).unwrap();
    assert!(out.is_empty(), "nothing goes to a stopped phone");
}

/// The caller says a recorded prompt over the agent: local VAD onset barges in.
fn caller_speech_over(sim: &mut Sim, agent_ms: usize, speech_at: u64, prompt: &[u8]) -> Option<Event> {
    for k in 0..agent_ms / 100 {
        sim.push("u1", &tts(100, 8000));
        sim.advance(20 * k as u64);
    }
    let audio: Vec<u8> = std::iter::repeat_n(0xFF, 8 * speech_at as usize).chain(prompt.iter().copied()).collect();
    for (k, frame) in audio.chunks_exact(160).enumerate() {
        sim.advance(20 * k as u64);
        let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": B64.encode_to_string(frame)}});
        let mut out = Vec::new();
        sim.p.receive_phone(&media.to_string(), sim.now, &mut out).unwrap();
        assert!(matches!(out[0], Output::CallerAudio(ref a) if a == frame));
        sim.route(out, "");
        if let Some(e) = sim.events.pop() {
            return Some(e);
        }
    }
    None
}

#[test]
fn local_vad_onset_on_real_speech_barges_in_while_the_agent_talks() {
    let Some(prompt) = recorded_prompt("tt-weasels") else { return };
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, true));
    let e = caller_speech_over(&mut sim, 5000, 1000, &prompt).expect("the caller's speech barged in");
    let Event::BargeIn { at_ms, cause: Cause::Vad, items, .. } = e else { panic!("{e:?}") };
    assert!((1000..1500).contains(&at_ms), "onset at {at_ms} ms, speech began at 1000");
    assert!(items[0].heard_ms.abs_diff(sim.played_ms("u1")) <= 20, "{items:?}, played {}", sim.played_ms("u1"));
    assert_eq!(sim.clears, 1);
}

#[test]
fn caller_speech_while_the_agent_is_silent_interrupts_nothing() {
    let Some(prompt) = recorded_prompt("tt-weasels") else { return };
    let mut sim = Sim::new(pipeline(Encoding::Linear16, 24000, true));
    assert!(caller_speech_over(&mut sim, 0, 200, &prompt).is_none());
    assert_eq!(sim.clears, 0);
}

/// The agent says a recorded prompt; the caller is silent, but the phone
/// line returns what it plays `echo_db` lower. Whether that barges in.
fn echo_barges_in(echo_loss_db: f32, echo_db: f64) -> Option<bool> {
    echo_run(echo_loss_db, echo_db, false, 0).map(|(barged, _)| barged)
}

/// As [`echo_barges_in`], the prompt's trailing silence cut off when
/// `trim` (so the agent stops at its last word, as a TTS voice does), the
/// line followed for `tail_ms` more after the prompt. Whether it barged in,
/// and the caller speech `caller_speech_ms` found over the whole call.
fn echo_run(echo_loss_db: f32, echo_db: f64, trim: bool, tail_ms: u64) -> Option<(bool, u64)> {
    let mut prompt = recorded_prompt("tt-weasels")?;
    if trim {
        while prompt.last().is_some_and(|&c| teledsp::g711::ulaw_decode_sample(c).unsigned_abs() < 300) {
            prompt.pop();
        }
    }
    let cfg = PipelineConfig { local_vad: true, echo_loss_db, ..PipelineConfig::default() };
    let mut sim = Sim::new(Pipeline::new(cfg).unwrap());
    let mut out = Vec::new();
    sim.p.receive_phone(START, 0, &mut out).unwrap();
    // The TTS sends the prompt (8 kHz, as 24 kHz PCM16) at once.
    let pcm: Vec<i16> = prompt.iter().map(|&c| teledsp::g711::ulaw_decode_sample(c)).collect();
    let mut up = teledsp::resample::Resampler::new(8000, 24000, Default::default()).unwrap();
    let mut pcm24 = vec![0i16; up.output_len(pcm.len())];
    let n = up.process_i16(&pcm, &mut pcm24).unwrap();
    let bytes: Vec<u8> = pcm24[..n].iter().flat_map(|s| s.to_le_bytes()).collect();
    sim.push("u1", &bytes);
    sim.end("u1");
    let gain = 10f64.powf(echo_db / 20.0);
    let mut played = 0;
    let frames = (prompt.len() / 160) as u64 + tail_ms / 20;
    for k in 1..frames {
        sim.advance(20 * k);
        // What the phone played in the last 20 ms comes back as echo.
        let echo: Vec<u8> = match sim.phone.played.get(played..).and_then(|p| p.last()) {
            Some((_, f)) => f
                .iter()
                .map(|&c| {
                    teledsp::g711::ulaw_encode_sample((f64::from(teledsp::g711::ulaw_decode_sample(c)) * gain) as i16)
                })
                .collect(),
            None => vec![0xFF; 160],
        };
        played = sim.phone.played.len();
        let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": B64.encode_to_string(&echo)}});
        let mut out = Vec::new();
        sim.p.receive_phone(&media.to_string(), sim.now, &mut out).unwrap();
        sim.route(out, "");
        if sim.clears > 0 {
            return Some((true, sim.p.caller_speech_ms(0, 20 * frames)));
        }
    }
    Some((false, sim.p.caller_speech_ms(0, 20 * frames)))
}

/// The VAD's hangover after the agent's last word (quiet frames it still
/// calls speech) is neither a barge-in nor the caller's speech, once the
/// agent has stopped: a recogniser's final for the echo, which comes then,
/// finds no caller in its span.
#[test]
fn the_echos_tail_after_the_agent_stops_is_not_the_caller() {
    let Some((barged, speech)) = echo_run(6.0, -20.0, true, 1500) else { return };
    assert!(!barged, "the echo's tail barged in");
    assert_eq!(speech, 0, "echo taken for caller speech");
    // The check can fail: without the guard the same echo is the caller.
    let (_, unguarded) = echo_run(0.0, -20.0, true, 1500).unwrap();
    assert!(unguarded > 0, "the VAD did not hear the echo at all: the test proves nothing");
}

#[test]
fn the_agents_own_echo_does_not_barge_in() {
    let Some(guarded) = echo_barges_in(6.0, -20.0) else { return };
    assert!(!guarded, "echo at -20 dB barged in through the 6 dB guard");
    // The check can fail: without the guard the same echo barges in.
    assert_eq!(echo_barges_in(0.0, -20.0), Some(true), "the VAD did not hear the echo at all: the test proves nothing");
}
