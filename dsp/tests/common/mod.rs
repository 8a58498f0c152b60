//! Shared by the call tests: a Twilio media stream that plays in real
//! (virtual) time, and the recorded prompts.
#![allow(dead_code)] // each test crate uses its part

use std::collections::VecDeque;

use base64_simd::STANDARD as B64;
use serde_json::{Value, json};

/// Network plus jitter buffer: the phone starts playing what it receives
/// this long after it arrives (a phone that played at once would make an
/// engine that ignores playback confirmations look accurate).
pub const PLAYOUT_DELAY_MS: u64 = 120;

/// A Twilio media stream playing in real time, [`PLAYOUT_DELAY_MS`] after
/// the audio arrives.
#[derive(Default)]
pub struct Phone {
    /// Queued: frames (as mu-law bytes) and marks, in order.
    queue: VecDeque<Queued>,
    /// When the frame now playing ends.
    busy_until: u64,
    /// Mu-law frames played, with the item they were sent for.
    pub played: Vec<(String, Vec<u8>)>,
}

enum Queued {
    Frame(String, Vec<u8>),
    Mark(String),
}

impl Phone {
    /// Plays up to `now`; returns the marks to echo, with their times.
    pub fn run_until(&mut self, now: u64) -> Vec<(u64, String)> {
        let mut echoes = Vec::new();
        while let Some(q) = self.queue.front() {
            match q {
                Queued::Mark(name) => {
                    echoes.push((self.busy_until, name.clone()));
                    self.queue.pop_front();
                }
                Queued::Frame(..) if self.busy_until + 20 <= now => {
                    let Some(Queued::Frame(item, f)) = self.queue.pop_front() else { unreachable!() };
                    self.busy_until += 20;
                    self.played.push((item, f));
                }
                Queued::Frame(..) => break,
            }
        }
        echoes
    }

    pub fn receive(&mut self, text: &str, item: &str, now: u64) -> Vec<String> {
        let v: Value = serde_json::from_str(text).unwrap();
        if self.queue.is_empty() {
            self.busy_until = self.busy_until.max(now + PLAYOUT_DELAY_MS);
        }
        match v["event"].as_str().unwrap() {
            "media" => {
                let f = B64.decode_to_vec(v["media"]["payload"].as_str().unwrap()).unwrap();
                self.queue.push_back(Queued::Frame(item.into(), f));
                vec![]
            }
            "mark" => {
                self.queue.push_back(Queued::Mark(v["mark"]["name"].as_str().unwrap().into()));
                vec![]
            }
            "clear" => {
                let marks = self
                    .queue
                    .drain(..)
                    .filter_map(|q| match q {
                        Queued::Mark(m) => Some(m),
                        Queued::Frame(..) => None,
                    })
                    .collect();
                self.busy_until = self.busy_until.min(now);
                marks
            }
            e => panic!("unexpected {e}"),
        }
    }
}

pub fn mark_msg(name: &str) -> String {
    json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": name}}).to_string()
}

/// A recorded prompt from `TELEDSP_SPEECH_DIR` (8 kHz mono WAV), as mu-law.
pub fn recorded_prompt(name: &str) -> Option<Vec<u8>> {
    let Some(dir) = std::env::var_os("TELEDSP_SPEECH_DIR") else {
        eprintln!("SKIPPED a real-speech test: set TELEDSP_SPEECH_DIR (scripts/test.sh does)");
        return None;
    };
    let path = std::path::Path::new(&dir).join(format!("{name}.wav"));
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pcm: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    Some(teledsp::g711::ulaw_encode_vec(&pcm))
}

/// Recorded prompts from the folder in `var` (8 kHz mono WAV), every
/// seventh file, 200 ms apart, up to `max_s` seconds: an agent's (or a
/// caller's) speech. `None` (and a note) when `var` is unset; under CI that
/// is a failure instead, so the test cannot pass by skipping.
pub fn prompts(var: &str, max_s: usize) -> Option<Vec<i16>> {
    let Some(dir) = std::env::var_os(var) else {
        assert!(std::env::var_os("CI").is_none(), "{var} is not set under CI");
        eprintln!("SKIPPED a recorded-speech test: set {var} (scripts/test.sh does)");
        return None;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.to_string_lossy()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    let mut x = Vec::new();
    for p in files.iter().step_by(7) {
        let mut r = hound::WavReader::open(p).unwrap();
        if r.spec().sample_rate != 8000 || r.spec().channels != 1 {
            continue;
        }
        x.extend(r.samples::<i16>().map(|s| s.unwrap()));
        x.extend(std::iter::repeat_n(0, 1600));
        if x.len() > max_s * 8000 {
            break;
        }
    }
    Some(x)
}
