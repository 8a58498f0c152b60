//! VAD behaviour on synthetic signals and on real recorded speech.
//!
//! Real speech comes from Debian's asterisk prompt packages, found through
//! `TELEDSP_SPEECH_DIR` (a folder of 8 kHz mono WAV prompts), which
//! `scripts/test.sh` installs and sets. Without it that test says SKIPPED.

use teledsp::vad::{Vad, VadConfig, VadEvent};
use teledsp::{Error, Expected};

const RATE: f64 = 8000.0;

fn run(vad: &mut Vad, x: &[i16]) -> (Vec<f32>, Vec<VadEvent>) {
    let n = vad.frame_len();
    let (mut ps, mut ev) = (Vec::new(), Vec::new());
    for f in x.chunks_exact(n) {
        ps.push(vad.process(f).unwrap());
        ev.extend(vad.last_event());
    }
    (ps, ev)
}

fn frac_speech(ps: &[f32]) -> f64 {
    ps.iter().filter(|&&p| p >= 0.5).count() as f64 / ps.len().max(1) as f64
}

fn noise(n: usize, amp: f64, seed: u64) -> Vec<i16> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            // Sum of 4 uniforms: near-Gaussian.
            let mut acc = 0.0;
            for _ in 0..4 {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                acc += ((s >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
            }
            (acc * amp) as i16
        })
        .collect()
}

fn tones(n: usize, freqs: &[f64], amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE;
            (freqs.iter().map(|f| (std::f64::consts::TAU * f * t).sin()).sum::<f64>() * amp / freqs.len() as f64) as i16
        })
        .collect()
}

#[test]
fn digital_silence_is_not_speech() {
    let mut v = Vad::new(8000, 20).unwrap();
    let (ps, ev) = run(&mut v, &vec![0; 8000 * 3]);
    assert!(ps.iter().all(|&p| p < 0.5), "max {}", ps.iter().cloned().fold(0.0, f32::max));
    assert!(ev.is_empty());
}

#[test]
fn stationary_white_noise_is_not_speech_once_the_floor_is_learned() {
    // Up to -17 dBFS RMS: louder than any line noise a call carries.
    for amp in [300.0, 3000.0, 8000.0] {
        let mut v = Vad::new(8000, 20).unwrap();
        let (ps, _) = run(&mut v, &noise(8000 * 6, amp, 7));
        let late = frac_speech(&ps[100..]); // after 2 s
        assert!(late < 0.05, "noise amp {amp}: {:.1}% speech frames", late * 100.0);
    }
}

#[test]
fn steady_tones_are_not_speech_once_learned() {
    for f in [[440.0].as_slice(), &[1000.0], &[350.0, 440.0]] {
        let mut v = Vad::new(8000, 20).unwrap();
        let (ps, _) = run(&mut v, &tones(8000 * 8, f, 8000.0));
        let late = frac_speech(&ps[250..]); // after 5 s
        assert!(late < 0.05, "tone {f:?}: {:.1}% speech frames", late * 100.0);
    }
}

#[test]
fn sustained_music_like_signal_is_mostly_not_speech() {
    // A melody of harmonic notes (5 partials, 1/k amplitudes) changing every
    // 400 ms over a held two-note chord: tonal and steady, unlike syllables.
    let notes = [262.0, 294.0, 330.0, 349.0, 392.0, 440.0, 494.0, 523.0];
    let mut x = Vec::new();
    for (i, &f) in notes.iter().cycle().take(25).enumerate() {
        let n = 3200;
        x.extend((0..n).map(|j| {
            let t = (i * n + j) as f64 / RATE;
            let melody: f64 = (1..=5).map(|k| (std::f64::consts::TAU * f * k as f64 * t).sin() / k as f64).sum();
            let chord = (std::f64::consts::TAU * 131.0 * t).sin() + (std::f64::consts::TAU * 196.0 * t).sin();
            (3000.0 * melody + 1500.0 * chord) as i16
        }));
    }
    let mut v = Vad::new(8000, 20).unwrap();
    let (ps, _) = run(&mut v, &x);
    let late = frac_speech(&ps[100..]);
    eprintln!("music-like: {:.0}% of frames over 0.5", late * 100.0);
    assert!(late < 0.2, "music-like signal scored as speech in {:.0}% of frames", late * 100.0);
}

#[test]
fn dtmf_digits_on_a_quiet_line_are_mostly_not_speech() {
    // Ten digits, 100 ms tone / 100 ms gap, after 1 s of line noise at
    // RMS ~300 (-40 dBFS), through mu-law as Twilio delivers them. (On a
    // noisy line, RMS ~1000, the gaps still score as speech: see README.)
    let digits = [(697.0, 1209.0), (770.0, 1336.0), (852.0, 1477.0), (941.0, 1336.0)];
    let mut x = noise(8000, 520.0, 3);
    for i in 0..10 {
        let (a, b) = digits[i % 4];
        x.extend(
            tones(800, &[a, b], 10000.0).iter().zip(noise(800, 520.0, 50 + i as u64)).map(|(t, n)| t.saturating_add(n)),
        );
        x.extend(noise(800, 520.0, i as u64));
    }
    let codes = teledsp::g711::ulaw_encode_vec(&x);
    let mut v = Vad::new(8000, 20).unwrap();
    let ps: Vec<f32> = codes.chunks_exact(160).map(|f| v.process_ulaw(f).unwrap()).collect();
    let frac = frac_speech(&ps[50..]);
    eprintln!("DTMF: {:.0}% of frames over 0.5", frac * 100.0);
    assert!(frac < 0.25, "DTMF scored as speech in {:.0}% of frames", frac * 100.0);
}

#[test]
fn reset_restores_the_initial_state() {
    let x = noise(8000 * 2, 2000.0, 11);
    let mut v = Vad::new(8000, 20).unwrap();
    let (a, _) = run(&mut v, &x);
    run(&mut v, &tones(4000, &[500.0], 9000.0));
    v.reset();
    let (b, _) = run(&mut v, &x);
    assert_eq!(a, b);
    assert!(!v.is_speaking());
}

#[test]
fn no_nan_or_out_of_range_on_hostile_input() {
    let square: Vec<i16> = (0..16000).map(|i| if (i / 3) % 2 == 0 { i16::MAX } else { i16::MIN }).collect();
    let clicks: Vec<i16> = (0..16000).map(|i| if i % 997 == 0 { i16::MIN } else { 0 }).collect();
    for (fs, ms) in [(8000, 10), (8000, 20), (8000, 30), (16000, 20), (24000, 20)] {
        for x in [&square, &clicks, &noise(16000, 40000.0, 5)] {
            let mut v = Vad::new(fs, ms).unwrap();
            let (ps, _) = run(&mut v, x);
            assert!(ps.iter().all(|p| (0.0..=1.0).contains(p)), "{fs}/{ms}");
        }
    }
}

#[test]
fn bad_frames_and_settings_are_errors() {
    let mut v = Vad::new(8000, 20).unwrap();
    assert_eq!(
        v.process(&[0; 159]),
        Err(Error::InvalidLength { what: "frame", expected: Expected::Exactly(160), actual: 159 })
    );
    assert_eq!(
        v.process_ulaw(&[0xFF; 161]),
        Err(Error::InvalidLength { what: "frame", expected: Expected::Exactly(160), actual: 161 })
    );
    assert!(matches!(Vad::new(8000, 25), Err(Error::UnsupportedFrame { frame_ms: 25, .. })));
    assert!(matches!(Vad::new(44100, 20), Err(Error::UnsupportedRate { rate: 44100, .. })));
    assert_eq!(
        Vad::new(48000, 20).unwrap_err().to_string(),
        "unsupported sample rate 48000 Hz; supported: [8000, 16000, 24000] Hz"
    );
    let mut wide = Vad::new(16000, 20).unwrap();
    assert_eq!(wide.frame_len(), 320);
    assert!(wide.process_ulaw(&[0xFF; 160]).is_err(), "mu-law frames are 8 kHz only");
}

/// Real prompts, 8 kHz mono 16-bit, with 1.5 s silences and low line noise between.
/// Samples and the (start, end) sample span of each prompt.
type Speech = (Vec<i16>, Vec<(usize, usize)>);

fn real_speech() -> Option<Speech> {
    let Some(dir) = std::env::var_os("TELEDSP_SPEECH_DIR") else {
        eprintln!("SKIPPED real-speech VAD test: set TELEDSP_SPEECH_DIR (scripts/test.sh does)");
        return None;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.to_string_lossy()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "need a few prompts in {}", dir.to_string_lossy());
    let (mut x, mut spans) = (noise(12000, 60.0, 1), Vec::new());
    for (i, p) in files.iter().step_by(files.len() / 6).take(6).enumerate() {
        let mut r = hound::WavReader::open(p).unwrap();
        assert_eq!(r.spec().sample_rate, 8000, "{}", p.display());
        let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        spans.push((x.len(), x.len() + s.len()));
        x.extend(s.iter().zip(noise(s.len(), 60.0, i as u64)).map(|(a, b)| a.saturating_add(b)));
        x.extend(noise(12000, 60.0, 100 + i as u64));
    }
    Some((x, spans))
}

#[test]
fn real_speech_is_detected_with_start_and_end_events() {
    let Some((x, spans)) = real_speech() else { return };
    let cfg = VadConfig { min_silence_ms: 600, ..VadConfig::default() };
    let mut v = Vad::with_config(cfg).unwrap();
    let (ps, ev) = run(&mut v, &x);
    // Inside prompts most frames are speech; in the 1.5 s gaps (past the
    // prompt's tail) almost none are.
    let frame_of = |s: usize| s / 160;
    let inside: Vec<f32> = spans.iter().flat_map(|&(a, b)| ps[frame_of(a)..frame_of(b)].to_vec()).collect();
    let gaps: Vec<f32> = spans.windows(2).flat_map(|w| ps[frame_of(w[0].1) + 15..frame_of(w[1].0)].to_vec()).collect();
    assert!(frac_speech(&inside) > 0.6, "recall {:.2}", frac_speech(&inside));
    assert!(frac_speech(&gaps) < 0.1, "false alarms {:.2}", frac_speech(&gaps));
    // One start per prompt, each within 300 ms of its onset (before it, by
    // at most the pre-roll), and an end after each.
    let starts: Vec<f64> =
        ev.iter().filter_map(|e| if let VadEvent::SpeechStart { at_ms } = e { Some(*at_ms) } else { None }).collect();
    let ends = ev.iter().filter(|e| matches!(e, VadEvent::SpeechEnd { .. })).count();
    assert_eq!(starts.len(), spans.len(), "starts {starts:?}");
    assert_eq!(ends, spans.len());
    for (s, &(a, _)) in starts.iter().zip(&spans) {
        let onset_ms = a as f64 / 8.0;
        assert!(*s >= onset_ms - 200.0 - 60.0 && *s <= onset_ms + 300.0, "start {s} vs onset {onset_ms}");
    }
    // The same audio at 24 kHz (through the resampler) gives the same picture.
    let mut up = teledsp::resample::Resampler::new(8000, 24000, Default::default()).unwrap();
    let x24 = up.process_i16_vec(&x);
    let mut v24 = Vad::new(24000, 20).unwrap();
    let (p24, _) = run(&mut v24, &x24);
    let agree = ps.iter().zip(&p24).filter(|(a, b)| (**a >= 0.5) == (**b >= 0.5)).count() as f64 / ps.len() as f64;
    assert!(agree > 0.9, "8 vs 24 kHz agreement {agree:.2}");
}

#[test]
fn mu_law_frames_score_like_their_pcm() {
    let x = noise(8000 * 2, 3000.0, 9);
    let codes = teledsp::g711::ulaw_encode_vec(&x);
    let lin = teledsp::g711::ulaw_decode_vec(&codes);
    let (mut a, mut b) = (Vad::new(8000, 20).unwrap(), Vad::new(8000, 20).unwrap());
    for (c, l) in codes.chunks_exact(160).zip(lin.chunks_exact(160)) {
        assert_eq!(a.process_ulaw(c).unwrap(), b.process(l).unwrap());
    }
}
