//! Voice activity detection for phone audio: a per-frame speech
//! probability and a hysteresis state machine with `speech_start` /
//! `speech_end` events for local barge-in.
//!
//! The detector is a small neural network (one hidden layer) over classical
//! features (`features.rs`: band SNRs against tracked noise floors, spectral
//! flatness and centroid, pitch-range periodicity, syllabic modulation, and
//! their short and long averages), trained on real recorded telephone speech
//! mixed with noise, music and babble and passed through mu-law
//! (`scripts/vad_train.py`; weights in `weights.rs`, generated). It runs at
//! 8 kHz in 10 ms hops; 16 and 24 kHz input is first resampled to 8 kHz with
//! the `telephony` resampler.

mod features;
mod model;
#[rustfmt::skip]
mod weights;

pub use features::{Features, HOP, N_FEATURES};

use crate::error::{Error, Expected};
use crate::resample::{Quality, Resampler};

/// A state change of the hysteresis machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VadEvent {
    /// Speech began. `at_ms` is the onset minus the configured pre-roll
    /// (never before 0): where forwarding buffered audio should start.
    SpeechStart {
        /// Stream time, ms.
        at_ms: f64,
    },
    /// Speech ended; `at_ms` is when the trailing silence began.
    SpeechEnd {
        /// Stream time, ms.
        at_ms: f64,
    },
}

/// Thresholds and timings of the event machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Input rate: 8000, 16000 or 24000 Hz.
    pub sample_rate: u32,
    /// Frame duration: 10, 20 or 30 ms.
    pub frame_ms: u32,
    /// Probability at or above which a frame counts as speech.
    pub threshold_on: f32,
    /// Probability below which a frame counts as silence once speaking.
    pub threshold_off: f32,
    /// Speech must last this long before `SpeechStart`.
    pub min_speech_ms: u32,
    /// Silence must last this long before `SpeechEnd`.
    pub min_silence_ms: u32,
    /// How far before the detected onset `SpeechStart::at_ms` points.
    pub pre_roll_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            sample_rate: 8000,
            frame_ms: 20,
            threshold_on: 0.5,
            threshold_off: 0.35,
            min_speech_ms: 60,
            min_silence_ms: 400,
            pre_roll_ms: 200,
        }
    }
}

/// The detector.
///
/// ```
/// use teledsp::vad::{Vad, VadEvent};
/// let mut vad = Vad::new(8000, 20)?;
/// let silence = [0i16; 160];
/// let p = vad.process(&silence)?;
/// assert!((0.0..=1.0).contains(&p) && p < 0.5);
/// assert_eq!(vad.last_event(), None);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vad {
    cfg: VadConfig,
    features: Features,
    down: Option<Resampler>,
    frame_len: usize,
    pcm8: Vec<i16>,
    hops_per_frame: usize,
    speaking: bool,
    run_ms: u32,
    run_start_ms: f64,
    frames: u64,
    event: Option<VadEvent>,
    last_p: f32,
}

fn check_frame(expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::InvalidLength { what: "frame", expected: Expected::Exactly(expected), actual })
    }
}

impl Vad {
    /// Sample rates a detector takes, Hz.
    pub const SAMPLE_RATES: [u32; 3] = [8000, 16000, 24000];
    /// Frame durations a detector takes, ms.
    pub const FRAME_MS: [u32; 3] = [10, 20, 30];

    /// A detector for `frame_ms` frames (10, 20, 30) at `sample_rate`
    /// (8000, 16000, 24000) with the default event settings.
    pub fn new(sample_rate: u32, frame_ms: u32) -> Result<Self, Error> {
        Self::with_config(VadConfig { sample_rate, frame_ms, ..VadConfig::default() })
    }

    /// A detector with explicit settings.
    pub fn with_config(cfg: VadConfig) -> Result<Self, Error> {
        if !Self::FRAME_MS.contains(&cfg.frame_ms) {
            return Err(Error::UnsupportedFrame { frame_ms: cfg.frame_ms, supported: &Self::FRAME_MS });
        }
        if !Self::SAMPLE_RATES.contains(&cfg.sample_rate) {
            return Err(Error::UnsupportedRate {
                rate: cfg.sample_rate,
                out_rate: None,
                supported: &Self::SAMPLE_RATES,
            });
        }
        let down = if cfg.sample_rate == 8000 {
            None
        } else {
            Some(Resampler::new(cfg.sample_rate, 8000, Quality::Telephony)?)
        };
        let hops_per_frame = cfg.frame_ms as usize * 8 / HOP;
        Ok(Vad {
            cfg,
            features: Features::new(),
            down,
            frame_len: (cfg.sample_rate / 1000 * cfg.frame_ms) as usize,
            pcm8: vec![0; hops_per_frame * HOP],
            hops_per_frame,
            speaking: false,
            run_ms: 0,
            run_start_ms: 0.0,
            frames: 0,
            event: None,
            last_p: 0.0,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> VadConfig {
        self.cfg
    }

    /// Samples per frame this detector takes.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Speech probability of one PCM16 frame (exactly [`Vad::frame_len`]
    /// samples), and one step of the event machine.
    pub fn process(&mut self, frame: &[i16]) -> Result<f32, Error> {
        check_frame(self.frame_len, frame.len())?;
        match &mut self.down {
            Some(r) => {
                r.process_i16(frame, &mut self.pcm8)?;
            }
            None => self.pcm8.copy_from_slice(frame),
        }
        Ok(self.step())
    }

    /// As [`Vad::process`], on a frame of G.711 mu-law bytes (8 kHz only).
    pub fn process_ulaw(&mut self, frame: &[u8]) -> Result<f32, Error> {
        if self.cfg.sample_rate != 8000 {
            return Err(Error::UnsupportedRate { rate: self.cfg.sample_rate, out_rate: None, supported: &[8000] });
        }
        check_frame(self.frame_len, frame.len())?;
        crate::g711::ulaw_decode(frame, &mut self.pcm8)?;
        Ok(self.step())
    }

    /// The event the last `process*` call produced, if any.
    pub fn last_event(&self) -> Option<VadEvent> {
        self.event
    }

    /// Whether the machine is in the speech state.
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// The last frame's probability.
    pub fn probability(&self) -> f32 {
        self.last_p
    }

    /// Forgets everything: features, noise floors, events, time.
    pub fn reset(&mut self) {
        self.features.reset();
        if let Some(r) = &mut self.down {
            r.reset();
        }
        self.speaking = false;
        self.run_ms = 0;
        self.frames = 0;
        self.event = None;
        self.last_p = 0.0;
    }

    fn step(&mut self) -> f32 {
        let mut p_max = 0.0f32;
        let mut x = [0.0f32; N_FEATURES];
        for h in 0..self.hops_per_frame {
            let hop: [f32; HOP] = core::array::from_fn(|i| self.pcm8[h * HOP + i] as f32);
            self.features.compute(&hop, &mut x);
            p_max = p_max.max(model::predict(&x));
        }
        let p = p_max;
        self.last_p = p;
        let now_ms = self.frames as f64 * self.cfg.frame_ms as f64;
        self.frames += 1;
        self.event = None;
        let fm = self.cfg.frame_ms;
        if !self.speaking {
            if p >= self.cfg.threshold_on {
                if self.run_ms == 0 {
                    self.run_start_ms = now_ms;
                }
                self.run_ms += fm;
                if self.run_ms >= self.cfg.min_speech_ms.max(fm) {
                    self.speaking = true;
                    self.run_ms = 0;
                    let at_ms = (self.run_start_ms - self.cfg.pre_roll_ms as f64).max(0.0);
                    self.event = Some(VadEvent::SpeechStart { at_ms });
                }
            } else {
                self.run_ms = 0;
            }
        } else if p < self.cfg.threshold_off {
            if self.run_ms == 0 {
                self.run_start_ms = now_ms;
            }
            self.run_ms += fm;
            if self.run_ms >= self.cfg.min_silence_ms.max(fm) {
                self.speaking = false;
                self.run_ms = 0;
                self.event = Some(VadEvent::SpeechEnd { at_ms: self.run_start_ms });
            }
        } else {
            self.run_ms = 0;
        }
        p
    }
}
