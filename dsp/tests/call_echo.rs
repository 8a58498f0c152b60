//! Echo on the line, through the engine: a simulated Twilio phone plays the
//! agent's audio 20 ms per 20 ms after a network and jitter-buffer delay
//! (`PLAYOUT_DELAY_MS`), the line returns it through a hybrid after an
//! uplink delay, and the caller's audio reaches the engine 20 ms per 20 ms.
//! The agent speaks recorded prompts; the caller is another voice.
//!
//! With the echo canceller on, the echo alone never barges in (a hybrid
//! with line noise; a speakerphone room over a silent line), a caller
//! 10 dB below the agent does within 1.5 s, and the recogniser's audio
//! has the echo taken out; with it off, the same line barges in on echo
//! (the first test shows the check can fail).

use std::collections::VecDeque;

use base64_simd::STANDARD as B64;
use serde_json::json;
use teledsp::call::pipeline::Encoding;
use teledsp::call::{Event, Output, Pipeline, PipelineConfig};

mod common;
use common::{Phone, mark_msg, prompts};

/// Uplink delay, ms: with the phone's 120 ms of playout delay, the echo
/// comes back 200 ms after the engine's far-end queue plays it.
const UPLINK_MS: usize = 80;

struct Line {
    h: Vec<f32>,
    gain: f32,
    uplink_ms: usize,
    /// Line noise at -60 dBFS, or a digitally silent line.
    noise: bool,
}

impl Line {
    /// A 16 ms hybrid at `erl_db` of echo return loss, with line noise.
    fn hybrid(erl_db: f32) -> Self {
        let h: Vec<f32> = (0..128)
            .map(|i| {
                let t = i as f32 / 8000.0;
                (-t / 0.004).exp() * (2.0 * std::f32::consts::PI * 1000.0 * t).cos()
            })
            .collect();
        Line { h: unit(h), gain: 10f32.powf(-erl_db / 20.0), uplink_ms: UPLINK_MS, noise: true }
    }

    /// A speakerphone room (exponentially decaying noise, RT60 300 ms) at
    /// `erl_db`, the echo `uplink_ms` after the phone plays, on a
    /// digitally silent line: nothing hides the canceller's residual.
    fn room(erl_db: f32, uplink_ms: usize) -> Self {
        let mut s = 7u32;
        let h: Vec<f32> = (0..2400)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let t = i as f32 / 8000.0;
                (s as f32 / u32::MAX as f32 - 0.5) * 10f32.powf(-3.0 * t / 0.3)
            })
            .collect();
        Line { h: unit(h), gain: 10f32.powf(-erl_db / 20.0), uplink_ms, noise: false }
    }

    /// Sample `i` of the echo of `played` (the phone's output, sample by sample).
    fn echo(&self, played: &[f32], i: usize) -> f32 {
        let mut acc = 0.0;
        for (j, &c) in self.h.iter().enumerate() {
            if let Some(k) = i.checked_sub(self.uplink_ms * 8 + j) {
                acc += c * played.get(k).copied().unwrap_or(0.0);
            }
        }
        acc * self.gain
    }
}

/// `h` scaled to unit energy.
fn unit(h: Vec<f32>) -> Vec<f32> {
    let e = h.iter().map(|v| v * v).sum::<f32>().sqrt();
    h.iter().map(|v| v / e).collect()
}

struct Run {
    barge_ins: Vec<u64>,
    /// Pause mode's `paused` and `resumed` events, ms.
    pauses: Vec<u64>,
    resumes: Vec<u64>,
    /// What the recogniser got, decoded, and what the line carried, per 20 ms.
    caller_audio: Vec<i16>,
    line: Vec<i16>,
}

/// `secs` of call: the agent speaks `agent` from 0 (again after any
/// barge-in), the caller says `caller` from `caller_at` ms at `caller_db`
/// relative to the agent's level; in pause mode if `resume`.
fn run(
    echo_cancel: bool,
    resume: bool,
    guard_db: f32,
    line: &Line,
    agent: &[i16],
    caller: Option<(&[i16], u64, f32)>,
    secs: u64,
) -> Run {
    let cfg = PipelineConfig {
        encoding: Encoding::Mulaw,
        sample_rate: 8000,
        echo_cancel,
        echo_loss_db: guard_db,
        resume_false_interruptions: resume,
        ..PipelineConfig::default()
    };
    let mut p = Pipeline::new(cfg).unwrap();
    let mut phone = Phone::default();
    let mut out = Vec::new();
    p.receive_phone(r#"{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}"#, 0, &mut out)
        .unwrap();
    let agent_ulaw = teledsp::g711::ulaw_encode_vec(agent);
    let rms = |x: &[i16]| (power(x)).sqrt() as f32;
    let caller_gain = caller.map_or(0.0, |(speech, _, db)| 10f32.powf(db / 20.0) * rms(agent) / rms(speech));
    let mut utterance = 0;
    let mut say = |p: &mut Pipeline, now: u64, out: &mut Vec<Output>| {
        utterance += 1;
        let id = format!("u{utterance}");
        p.begin_utterance(&id, now);
        p.push_audio(&id, &agent_ulaw, now, out).unwrap();
        p.end_utterance(&id, now, out);
    };
    say(&mut p, 0, &mut out);
    let (mut played, mut played_frames) = (Vec::<f32>::new(), 0);
    let mut marks: VecDeque<(u64, String)> = VecDeque::new();
    let mut r = Run {
        barge_ins: Vec::new(),
        pauses: Vec::new(),
        resumes: Vec::new(),
        caller_audio: Vec::new(),
        line: Vec::new(),
    };
    let mut noise = 1u32;
    for tick in 0..secs * 50 {
        let now = tick * 20;
        // Engine outputs to the phone and the recogniser, one tick after
        // they were made (the agent's first words too: every spurt has
        // the same way to the phone).
        let due: Vec<Output> = if tick > 0 { std::mem::take(&mut out) } else { Vec::new() };
        for o in due {
            match o {
                Output::Phone { text, .. } => {
                    for m in phone.receive(&text, "agent", now) {
                        marks.push_back((now, m));
                    }
                }
                Output::CallerAudio(b) => r.caller_audio.extend(teledsp::g711::ulaw_decode_vec(&b)),
                Output::Event(Event::BargeIn { at_ms, .. }) => r.barge_ins.push(at_ms),
                Output::Event(Event::Paused { at_ms, .. }) => r.pauses.push(at_ms),
                Output::Event(Event::Resumed { at_ms, .. }) => r.resumes.push(at_ms),
                _ => {}
            }
        }
        if r.barge_ins.last().is_some_and(|&b| b + 500 == now) {
            say(&mut p, now, &mut out); // the agent answers again
        }
        marks.extend(phone.run_until(now));
        while marks.front().is_some_and(|(t, _)| *t <= now) {
            let (t, m) = marks.pop_front().unwrap();
            p.receive_phone(&mark_msg(&m), t.max(now.saturating_sub(20)), &mut out).unwrap();
        }
        // What the phone played in this tick (silence if nothing).
        let new = &phone.played[played_frames..];
        played_frames = phone.played.len();
        if new.is_empty() {
            played.extend([0.0; 160]);
        }
        for (_, f) in new {
            played.extend(teledsp::g711::ulaw_decode_vec(f).iter().map(|&v| f32::from(v)));
        }
        // The caller's 20 ms: echo, the caller, line noise at -60 dBFS.
        let base = tick as usize * 160;
        let frame: Vec<i16> = (0..160)
            .map(|k| {
                let i = base + k;
                let mut v = line.echo(&played, i);
                if let Some((speech, at, _)) = caller {
                    let at = at as usize * 8;
                    if i >= at && i - at < speech.len() {
                        v += f32::from(speech[i - at]) * caller_gain;
                    }
                }
                if line.noise {
                    noise ^= noise << 13;
                    noise ^= noise >> 17;
                    noise ^= noise << 5;
                    v += (noise as f32 / u32::MAX as f32 - 0.5) * 57.0;
                }
                v.round().clamp(-32768.0, 32767.0) as i16
            })
            .collect();
        r.line.extend(&frame);
        let media = json!({"event": "media", "streamSid": "MZ1",
            "media": {"payload": B64.encode_to_string(teledsp::g711::ulaw_encode_vec(&frame))}});
        p.receive_phone(&media.to_string(), now, &mut out).unwrap();
    }
    r
}

fn power(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

/// Echo alone, at 6 and 10 dB of loss, 20 s of agent speech: no barge-in
/// with the canceller, even with the level guard off; without either, the
/// same line barges in on echo (the check failing).
#[test]
fn echo_alone_never_barges_in_with_the_canceller() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 20) else { return };
    for erl in [6.0, 10.0] {
        for guard in [6.0, 0.0] {
            let on = run(true, false, guard, &Line::hybrid(erl), &agent, None, 20);
            assert!(on.barge_ins.is_empty(), "ERL {erl} dB, guard {guard}: barged in on echo at {:?} ms", on.barge_ins);
        }
        let guard_only = run(false, false, 6.0, &Line::hybrid(erl), &agent, None, 20);
        eprintln!("ERL {erl} dB: the level guard alone barged in at {:?} ms", guard_only.barge_ins);
    }
    let neither = run(false, false, 0.0, &Line::hybrid(6.0), &agent, None, 20);
    assert!(!neither.barge_ins.is_empty(), "with neither canceller nor guard the echo barges in");
}

/// A speakerphone room over a digitally silent line, the echo 250 or
/// 380 ms after the engine plays the agent (the phone's 120 ms, then 130 or
/// 260 ms back), at 6 and 10 dB of loss: no barge-in with the canceller.
/// Where the agent's speech ends, the residual is all there is on such a
/// line, and it echoes audio the agent played 250 ms and more before: a
/// guard comparing it with what plays now let it through at 5.7 s (shown
/// red without the canceller's far-end level as the guard's reference).
#[test]
fn a_room_over_a_silent_line_never_barges_in() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 20) else { return };
    for (erl, back_ms) in [(6.0, 130), (10.0, 130), (6.0, 260)] {
        let on = run(true, false, 6.0, &Line::room(erl, back_ms), &agent, None, 20);
        assert!(
            on.barge_ins.is_empty(),
            "room, ERL {erl} dB, {back_ms} ms back: barged in on echo at {:?} ms",
            on.barge_ins
        );
    }
}

/// A caller 10 dB below the agent (by RMS over their speech), starting
/// at 4, 6, 8 or 10 s over the agent's speech: barged in within 1.5 s
/// with the canceller. (The level guard alone is printed beside it.)
#[test]
fn a_soft_caller_barges_in_over_the_echo() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 20) else { return };
    let Some(caller) = prompts("TELEDSP_CALLER_SPEECH_DIR", 6) else { return };
    for at in [4000, 6000, 8000, 10000] {
        let on = run(true, false, 6.0, &Line::hybrid(6.0), &agent, Some((&caller, at, -10.0)), at / 1000 + 3);
        let off = run(false, false, 6.0, &Line::hybrid(6.0), &agent, Some((&caller, at, -10.0)), at / 1000 + 3);
        eprintln!(
            "soft caller at {at} ms: barge-ins at {:?} ms with the canceller, {:?} with the guard alone",
            on.barge_ins, off.barge_ins
        );
        let first = on.barge_ins.first().copied();
        assert!(
            first.is_some_and(|t| (at..at + 1500).contains(&t)),
            "caller at {at} ms: barge-ins at {:?} ms",
            on.barge_ins
        );
    }
}

/// The recogniser's audio has the echo taken out: from 3 s on, at least
/// 20 dB below the line's; without the canceller it is the line's.
#[test]
fn the_recogniser_hears_the_cancelled_audio() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 12) else { return };
    let (a, b) = (3 * 8000, 12 * 8000 - 320);
    let below = |r: &Run| 10.0 * (power(&r.line[a..b]) / power(&r.caller_audio[a..b])).log10();
    let on = below(&run(true, false, 6.0, &Line::hybrid(6.0), &agent, None, 12));
    let off = below(&run(false, false, 6.0, &Line::hybrid(6.0), &agent, None, 12));
    eprintln!("recogniser's audio {on:.1} dB below the line with the canceller, {off:.1} dB without");
    assert!(on > 20.0, "the recogniser's audio is only {on:.1} dB below the line");
    assert!(off.abs() < 0.5, "without the canceller the recogniser gets the line: {off:.1} dB");
}

/// Pause mode: a 350 ms sound of the caller's 4 s into the agent's
/// speech pauses it and resumes it, and the resumed audio's echo is
/// cancelled from its first frames, as before the pause: the audio the
/// phone dropped at the clear never played (the canceller forgets it), and
/// the resumed spurt's echo comes the same delay after its sending as the
/// rest (the far end places it by its time). Otherwise the filter, learnt
/// for the old alignment, adds echo for a while, and the echo pauses the
/// agent again.
#[test]
fn a_resumed_answers_echo_is_cancelled_at_once() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 12) else { return };
    let Some(caller) = prompts("TELEDSP_CALLER_SPEECH_DIR", 6) else { return };
    let from = caller.iter().position(|v| v.unsigned_abs() > 2000).unwrap_or(0);
    let sound = &caller[from..from + 2800];
    let r = run(true, true, 6.0, &Line::hybrid(10.0), &agent, Some((sound, 4000, 0.0)), 10);
    assert_eq!((r.pauses.len(), r.resumes.len(), r.barge_ins.len()), (1, 1, 0), "{:?} {:?}", r.pauses, r.resumes);
    // The resumed audio's echo: from the phone's playing it (120 ms) and
    // the line's 80 ms, for a second.
    let at = (r.resumes[0] as usize + 200) * 8;
    let (a, b) = (at, at + 8000);
    let below = 10.0 * (power(&r.line[a..b]) / power(&r.caller_audio[a..b])).log10();
    eprintln!("resumed audio's echo: the recogniser's audio {below:.1} dB below the line in its first second");
    assert!(below > 20.0, "the resumed echo is only {below:.1} dB below the line");
    // During the pause, once the line's echo has ended (the clear reaches
    // the phone 20 ms after it is sent, the line returns 80 ms later), the
    // canceller has nothing to take out: the recogniser gets the line
    // (the caller), not the line less an echo of audio the phone dropped.
    let (a, b) = ((r.pauses[0] as usize + 120) * 8, (r.pauses[0] as usize + 220) * 8);
    let diff: Vec<i16> = r.line[a..b].iter().zip(&r.caller_audio[a..b]).map(|(x, y)| x - y).collect();
    let added = 10.0 * (power(&diff) / power(&r.line[a..b])).log10();
    eprintln!("during the pause, the recogniser's audio differs from the line by {added:.1} dB");
    assert!(added < -20.0, "during the pause the canceller took out {added:.1} dB of an echo that never played");
}

mod chunking {
    use base64_simd::STANDARD as B64;
    use proptest::prelude::*;
    use serde_json::json;
    use teledsp::call::pipeline::Encoding;
    use teledsp::call::{Output, Pipeline, PipelineConfig};

    /// The recogniser's cancelled audio for `line` (L16 at 16 kHz over
    /// SignalWire) cut into messages of `sizes` samples (cycled), with the
    /// agent's `agent` pushed first.
    fn cancelled(agent: &[i16], line: &[i16], sizes: &[usize]) -> Vec<u8> {
        let cfg = PipelineConfig {
            telephony: teledsp::call::Telephony::SignalWire,
            encoding: Encoding::Linear16,
            sample_rate: 16000,
            echo_cancel: true,
            // No barge-in: it would come at a time that depends on the
            // messages' times, and clear the far end.
            local_vad: false,
            ..PipelineConfig::default()
        };
        let mut p = Pipeline::new(cfg).unwrap();
        let mut out = Vec::new();
        let start = json!({"event": "start", "streamSid": "MZ", "start": {"streamSid": "MZ", "callSid": "CA",
            "mediaFormat": {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}}});
        p.receive_phone(&start.to_string(), 0, &mut out).unwrap();
        let bytes: Vec<u8> = agent.iter().flat_map(|s| s.to_le_bytes()).collect();
        p.begin_utterance("u", 0);
        p.push_audio("u", &bytes, 0, &mut out).unwrap();
        p.end_utterance("u", 0, &mut out);
        let mut heard = Vec::new();
        let (mut at, mut i) = (0, 0);
        while at < line.len() {
            let n = sizes[i % sizes.len()].min(line.len() - at);
            let payload: Vec<u8> = line[at..at + n].iter().flat_map(|s| s.to_le_bytes()).collect();
            let msg =
                json!({"event": "media", "streamSid": "MZ", "media": {"payload": B64.encode_to_string(&payload)}});
            out.clear();
            // Time as the audio's: the caller's clock.
            p.receive_phone(&msg.to_string(), (at / 16) as u64, &mut out).unwrap();
            for o in out.drain(..) {
                if let Output::CallerAudio(b) = o {
                    heard.extend(b);
                }
            }
            at += n;
            i += 1;
        }
        heard
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// However the caller's audio is cut into messages (any sizes, not
        /// whole frames), the cancelled audio handed on is the same, to the
        /// byte, and in 20 ms frames (a partial frame waits for the rest);
        /// echo-guarded or not, the canceller sees one stream.
        #[test]
        fn cancelled_audio_does_not_depend_on_chunking(sizes in proptest::collection::vec(1usize..900, 1..6), seed in 1u32..1000) {
            let mut s = seed;
            let mut noise = move || { s ^= s << 13; s ^= s >> 17; s ^= s << 5; (s % 4000) as i16 - 2000 };
            let agent: Vec<i16> = (0..16000).map(|_| noise()).collect();
            // The line: the agent 100 ms later at half level, plus a little noise.
            let line: Vec<i16> = (0..24000).map(|i| if (1600..17600).contains(&i) { agent[i - 1600] / 2 } else { 0 } + noise() / 64).collect();
            let whole = cancelled(&agent, &line, &[320]);
            let cut = cancelled(&agent, &line, &sizes);
            prop_assert_eq!(whole.len(), line.len() / 320 * 640);
            prop_assert_eq!(cut.len(), whole.len());
            prop_assert!(cut == whole, "chunking {:?} changed the cancelled audio", sizes);
        }
    }
}

/// Pause mode with the level guard alone, a caller talking over the
/// agent: a sound starts only where the VAD is sure of it. A frame in the
/// VAD's hangover that passes the guard used to start a sound that was
/// over as it began: a pause and a resume at one instant (a clear and the
/// audio again, for nothing).
#[test]
fn no_pause_ends_as_it_begins() {
    let Some(agent) = prompts("TELEDSP_SPEECH_DIR", 12) else { return };
    let Some(caller) = prompts("TELEDSP_CALLER_SPEECH_DIR", 4) else { return };
    let mut instant = Vec::new();
    for at in (3000..6000).step_by(250) {
        let r = run(false, true, 10.0, &Line::hybrid(10.0), &agent, Some((&caller, at, 0.0)), at / 1000 + 5);
        instant.extend(r.resumes.iter().filter(|t| r.pauses.contains(t)).map(|t| (at, *t)));
    }
    assert!(instant.is_empty(), "(caller at, paused and resumed at) ms: {instant:?}");
}
