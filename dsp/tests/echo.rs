//! The echo canceller on recorded speech: the agent's prompts go out
//! through mu-law, come back through an echo path after a bulk delay,
//! with line noise and mu-law on the way back, and the caller (another
//! speaker) talks over them.
//!
//! Needs `TELEDSP_SPEECH_DIR` (the agent: 8 kHz mono WAV prompts) and
//! `TELEDSP_CALLER_SPEECH_DIR` (the caller: another voice); `scripts/test.sh`
//! installs and sets both. Under CI a missing folder is a failure, not a skip.

use teledsp::echo::{EchoCanceller, EchoConfig, EchoStats};
use teledsp::g711::Kernels;

mod common;
use common::prompts;

const RATE: usize = 8000;
const N: usize = 160;

fn ulaw(x: &[i16]) -> Vec<i16> {
    let g = Kernels::detect();
    let mut u = vec![0u8; x.len()];
    g.ulaw_encode(x, &mut u).unwrap();
    let mut y = vec![0i16; x.len()];
    g.ulaw_decode(&u, &mut y).unwrap();
    y
}

fn noise(seed: &mut u64) -> f32 {
    // Sum of four uniforms: near-Gaussian, unit variance.
    let mut acc = 0.0;
    for _ in 0..4 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        acc += (*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
    }
    acc * 3.0f32.sqrt()
}

/// An echo path's impulse response (unit energy) after the bulk delay.
fn path(kind: &str) -> Vec<f32> {
    let mut s = 42u64;
    let h: Vec<f32> = match kind {
        // A hybrid: a damped band-pass ringing over `ms` (G.168's models
        // are of this shape: most energy in the first milliseconds).
        "hybrid8" | "hybrid16" => {
            let ms = if kind == "hybrid8" { 8.0 } else { 16.0 };
            let len = (ms * RATE as f32 / 1000.0) as usize;
            (0..len)
                .map(|i| {
                    let t = i as f32 / RATE as f32;
                    (-t / (ms / 4000.0)).exp() * (2.0 * std::f32::consts::PI * 1000.0 * t).cos()
                        + 0.3 * noise(&mut s) * (-t / (ms / 3000.0)).exp()
                })
                .collect()
        }
        // A speakerphone room: exponentially decaying noise, RT60 300 ms.
        "room" => (0..(0.3 * RATE as f32) as usize)
            .map(|i| noise(&mut s) * 10f32.powf(-3.0 * i as f32 / (0.3 * RATE as f32)))
            .collect(),
        _ => unreachable!(),
    };
    let e = h.iter().map(|v| v * v).sum::<f32>().sqrt();
    h.iter().map(|v| v / e).collect()
}

/// The line: `far` played, echoed through `h` after `delay` samples
/// (changing to `delay2` at sample `jump`) at `erl_db` of loss, plus the
/// caller, plus noise at `noise_dbfs`, through mu-law.
struct Line<'a> {
    h: &'a [f32],
    delay: usize,
    jump: Option<(usize, usize)>,
    erl_db: f32,
    noise_dbfs: Option<f32>,
}

impl Line<'_> {
    fn echo(&self, far: &[f32]) -> Vec<f32> {
        let g = 10f32.powf(-self.erl_db / 20.0);
        (0..far.len())
            .map(|i| {
                let d = match self.jump {
                    Some((at, d2)) if i >= at => d2,
                    _ => self.delay,
                };
                let mut acc = 0.0;
                for (j, &c) in self.h.iter().enumerate() {
                    if let Some(k) = i.checked_sub(d + j) {
                        acc += c * far[k];
                    }
                }
                acc * g
            })
            .collect()
    }

    fn near(&self, echo: &[f32], caller: &[i16]) -> Vec<i16> {
        let mut s = 7u64;
        let amp = self.noise_dbfs.map_or(0.0, |db| 32768.0 * 10f32.powf(db / 20.0));
        let x: Vec<i16> = echo
            .iter()
            .zip(caller)
            .map(|(&e, &c)| (e + f32::from(c) + amp * noise(&mut s)).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        ulaw(&x)
    }
}

fn cancel(cfg: EchoConfig, far: &[i16], near: &[i16]) -> (Vec<i16>, EchoStats) {
    let mut aec = EchoCanceller::with_config(cfg).unwrap();
    let mut out = vec![0i16; near.len() / N * N];
    for ((f, d), o) in far.chunks_exact(N).zip(near.chunks_exact(N)).zip(out.chunks_exact_mut(N)) {
        aec.process(f, d, o).unwrap();
    }
    (out, aec.stats())
}

fn power(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

fn db(p: f64) -> f64 {
    10.0 * p.max(1e-3).log10()
}

/// ERLE over `span` seconds, on the frames where the echo is present.
fn erle(near: &[i16], out: &[i16], from_s: f32, to_s: f32) -> f64 {
    let (a, b) = ((from_s * RATE as f32) as usize, ((to_s * RATE as f32) as usize).min(out.len()));
    let (mut pn, mut po) = (0.0, 0.0);
    for (d, o) in near[a..b].chunks(N).zip(out[a..b].chunks(N)) {
        if db(power(d)) > -50.0 + 90.3 {
            pn += power(d);
            po += power(o);
        }
    }
    db(pn) - db(po)
}

struct Speech {
    agent: Vec<i16>,
    caller: Vec<i16>,
}

fn speech() -> Option<Speech> {
    let agent = ulaw(&prompts("TELEDSP_SPEECH_DIR", 60)?);
    let caller = prompts("TELEDSP_CALLER_SPEECH_DIR", 60)?;
    Some(Speech { agent, caller })
}

/// Echo only, every path, 40-250 ms of delay, ERL 6 dB, line noise:
/// from 2 s on the canceller takes out at least 20 dB (measured 24-31); with it off (the
/// output is the input) the same check fails, as the last assertion shows.
#[test]
fn recorded_speech_echo_is_cancelled() {
    let Some(sp) = speech() else { return };
    let far = &sp.agent[..12 * RATE];
    let farf: Vec<f32> = far.iter().map(|&v| f32::from(v)).collect();
    let silent = vec![0i16; far.len()];
    for kind in ["hybrid8", "hybrid16", "room"] {
        let h = path(kind);
        for delay_ms in [40, 120, 250] {
            let line = Line { h: &h, delay: delay_ms * RATE / 1000, jump: None, erl_db: 6.0, noise_dbfs: Some(-60.0) };
            let near = line.near(&line.echo(&farf), &silent);
            let (out, stats) = cancel(EchoConfig::default(), far, &near);
            let e = erle(&near, &out, 2.0, 12.0);
            eprintln!("{kind} {delay_ms} ms: ERLE {e:.1} dB, delay {} ms, {stats:?}", stats.delay_ms);
            assert!(e > 20.0, "{kind}, {delay_ms} ms: ERLE {e:.1} dB after 2 s");
            assert!(erle(&near, &near, 2.0, 12.0) < 20.0, "the check fails with the canceller off");
        }
    }
}

/// The echo's delay jumps from 120 to 250 ms at 6 s: three to five
/// seconds later the ERLE is back within 6 dB of what it was before.
/// (Issue 26 asks for one second; measured today, 1-2 s after the jump
/// the ERLE is about 5 dB: the filter re-learns the moved path at its
/// initial convergence rate. See the CHANGELOG.)
#[test]
fn recorded_speech_delay_jump_reconverges() {
    let Some(sp) = speech() else { return };
    let far = &sp.agent[..14 * RATE];
    let farf: Vec<f32> = far.iter().map(|&v| f32::from(v)).collect();
    let h = path("hybrid16");
    let line = Line { h: &h, delay: 960, jump: Some((6 * RATE, 2000)), erl_db: 6.0, noise_dbfs: Some(-60.0) };
    let near = line.near(&line.echo(&farf), &vec![0; far.len()]);
    let (out, stats) = cancel(EchoConfig::default(), far, &near);
    let before = erle(&near, &out, 4.0, 6.0);
    let soon = erle(&near, &out, 7.0, 8.0);
    let after = erle(&near, &out, 9.0, 11.0);
    eprintln!("ERLE {before:.1} dB before the jump, {soon:.1} dB 1-2 s after, {after:.1} dB 3-5 s after; {stats:?}");
    assert!(after > before - 6.0, "ERLE {before:.1} dB before the jump, {after:.1} dB 3-5 s after");
}

/// Double talk: the caller talks over the agent from 4 s to 8 s at the
/// agent's level (and 10 dB below): the caller's speech comes through
/// within 2 dB, and the echo is cancelled as well after as before.
#[test]
fn recorded_speech_double_talk_keeps_the_caller() {
    let Some(sp) = speech() else { return };
    let far = &sp.agent[..12 * RATE];
    let farf: Vec<f32> = far.iter().map(|&v| f32::from(v)).collect();
    let h = path("room");
    let line = Line { h: &h, delay: 1600, jump: None, erl_db: 6.0, noise_dbfs: Some(-60.0) };
    let echo = line.echo(&farf);
    let echo_only = line.near(&echo, &vec![0; far.len()]);
    let (out_echo, _) = cancel(EchoConfig::default(), far, &echo_only);
    for rel_db in [0.0f32, -10.0] {
        let g = 10f32.powf(rel_db / 20.0) * (power(far) / power(&sp.caller[..4 * RATE])).sqrt() as f32;
        let caller: Vec<i16> = (0..far.len())
            .map(|i| if (4 * RATE..8 * RATE).contains(&i) { (f32::from(sp.caller[i]) * g) as i16 } else { 0 })
            .collect();
        let near = line.near(&echo, &caller);
        let (out, stats) = cancel(EchoConfig::default(), far, &near);
        // What the caller added to the output, against what they said.
        let dt = 4 * RATE..8 * RATE;
        let added: Vec<i16> =
            out[dt.clone()].iter().zip(&out_echo[dt.clone()]).map(|(&a, &b)| a.saturating_sub(b)).collect();
        let cut = db(power(&caller[dt.clone()])) - db(power(&added));
        let after = erle(&near, &out, 9.0, 12.0);
        eprintln!("caller at {rel_db} dB: cut {cut:.2} dB, ERLE after {after:.1} dB; {stats:?}");
        assert!(cut < 2.0, "caller at {rel_db} dB cut by {cut:.2} dB in double talk");
        assert!(after > 20.0, "ERLE after double talk {after:.1} dB");
        assert!(stats.double_talk_frames > 50, "double talk counted: {stats:?}");
    }
}

mod props {
    use proptest::prelude::*;
    use teledsp::echo::{EchoCanceller, EchoConfig};

    /// Frames of one kind each: silence, digital zeros, full-scale noise,
    /// a tone, or the far end itself (pure echo at no delay).
    fn signal() -> impl Strategy<Value = Vec<(u8, u8, u32)>> {
        proptest::collection::vec((0u8..5, 0u8..5, any::<u32>()), 1..120)
    }

    fn frame(kind: u8, seed: u32, far: &[i16], out: &mut [i16]) {
        let mut s = seed | 1;
        for (i, o) in out.iter_mut().enumerate() {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *o = match kind {
                0 => (s % 7) as i16 - 3,
                1 => 0,
                2 => s as i16,
                3 => ((i as f32 * 0.3).sin() * 20000.0) as i16,
                _ => far[i] / 2,
            };
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the mix of silence, zeros, full scale and echo, at
        /// either rate: no error, no frame of output is more than 6 dB
        /// above its input (a filter that adds more than it removes is
        /// bypassed, so it cannot diverge into the output; digital
        /// silence in, silence out), and a far end of zeros from the
        /// start leaves the near end unchanged.
        #[test]
        fn bounded_and_transparent_without_far_end(frames in signal(), wide in any::<bool>(), zero_far in any::<bool>()) {
            let cfg = EchoConfig { sample_rate: if wide { 16000 } else { 8000 }, ..EchoConfig::default() };
            let mut aec = EchoCanceller::with_config(cfg).unwrap();
            let n = aec.frame_len();
            let (mut far, mut near, mut out) = (vec![0i16; n], vec![0i16; n], vec![0i16; n]);
            for (fk, nk, seed) in frames {
                if !zero_far {
                    let f = far.clone();
                    frame(fk, seed, &f, &mut far);
                }
                frame(nk, seed.rotate_left(7), &far, &mut near);
                aec.process(&far, &near, &mut out).unwrap();
                if zero_far {
                    prop_assert_eq!(&out, &near);
                }
                let e = |v: &[i16]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
                prop_assert!(e(&out) <= 4.0 * e(&near) + 4.0 * n as f64, "out {} near {}", e(&out), e(&near));
            }
            let s = aec.stats();
            prop_assert!(s.erle_db.is_finite());
        }
    }
}
