//! The streaming polyphase FIR resampler for rational ratios L/M.
//!
//! Output `k` sits at upsampled time `t = (k+1)·M − 1`: the latest instant
//! whose input is complete once `floor(n·L/M)` outputs are due, so output
//! sizes are exact from the first call and no sample is held back beyond
//! the filter's own delay. Its branch is `t mod L` and its newest input
//! `t div L`. Outputs `k` and `k + L` share a branch and their newest inputs
//! are `M` apart, so the input is kept as `M` interleaved streams and each
//! branch becomes a contiguous FIR across outputs, which is what the SIMD
//! kernel computes.

use super::design::{self, FilterReport, Spec};
use super::kernel::{Fir, Tap};
use crate::error::Error;
use crate::isa::Isa;

/// Sample rates the resampler converts between, in any pair.
pub const SUPPORTED_RATES: [u32; 4] = [8000, 16000, 24000, 48000];

/// Filter presets. Edges are relative to the lower rate's Nyquist
/// frequency `fn` (4 kHz when either side is 8 kHz).
///
/// ```
/// use teledsp::resample::Quality;
/// assert_eq!("low_latency".parse::<Quality>()?, Quality::LowLatency);
/// assert_eq!(Quality::default(), Quality::Telephony);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Quality {
    /// Passband to 0.85·fn (3.4 kHz) within ±0.1 dB; everything at or above
    /// 1.15·fn (4.6 kHz) rejected by ≥ 90 dB, so only content between fn and
    /// 1.15·fn can fold, and only into 0.85–1·fn, outside the phone band.
    /// Linear phase, ≤ 2.5 ms latency at 8 kHz.
    #[default]
    Telephony,
    /// Passband to 0.85·fn within ±0.1 dB, stopband from fn itself: nothing
    /// folds. Linear phase; about twice the taps and latency of `Telephony`.
    Transparent,
    /// The `Telephony` magnitude response, minimum phase: ≤ 1 ms latency at
    /// the cost of a non-constant group delay.
    LowLatency,
}

impl Quality {
    /// Every preset.
    pub const ALL: [Quality; 3] = [Quality::Telephony, Quality::Transparent, Quality::LowLatency];

    /// The preset's name as the bindings spell it.
    pub fn name(self) -> &'static str {
        match self {
            Quality::Telephony => "telephony",
            Quality::Transparent => "transparent",
            Quality::LowLatency => "low_latency",
        }
    }
}

impl core::str::FromStr for Quality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Quality::ALL.into_iter().find(|q| q.name() == s).ok_or(Error::UnknownQuality)
    }
}

/// Outputs per branch per kernel call, and input rows taken per fill.
const OUT_BLOCK: usize = 256;
const IN_ROWS: usize = 1024;

/// A streaming resampler between two of [`SUPPORTED_RATES`].
///
/// ```
/// use teledsp::resample::{Quality, Resampler};
/// let mut up = Resampler::new(8000, 24000, Quality::Telephony)?;
/// let frame = [0i16; 160]; // 20 ms at 8 kHz
/// let mut out = [0i16; 480];
/// assert_eq!(up.process_i16(&frame, &mut out)?, 480); // exactly 3n, every call
/// let mut down = Resampler::new(24000, 8000, Quality::Telephony)?;
/// assert_eq!(down.process_i16(&out, &mut [0i16; 160])?, 160);
/// assert!(up.report().latency_ms <= 2.5);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resampler {
    in_rate: u32,
    out_rate: u32,
    quality: Quality,
    l: u64,
    m: u64,
    /// Per output class `k mod L`: its branch's taps, in summation order.
    classes: Vec<Vec<Tap>>,
    taps_per_phase: usize,
    /// Rows of history kept behind the newest row an output needs.
    hist_rows: i64,
    /// Rows per stream.
    cap: usize,
    /// `M` streams of `cap` rows each: global input `i` lives in stream
    /// `i mod M`, row `i div M`.
    buf: Vec<f32>,
    /// Global row of physical row 0.
    row_base: i64,
    n_in: u64,
    n_out: u64,
    scratch: Vec<f32>,
    isa: Isa,
    report: FilterReport,
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz, on the fastest kernels
    /// for this CPU. Errors on a rate pair outside [`SUPPORTED_RATES`].
    pub fn new(in_rate: u32, out_rate: u32, quality: Quality) -> Result<Self, Error> {
        Self::with_isa(in_rate, out_rate, quality, Isa::detect())
    }

    /// As [`Resampler::new`], on the given instruction set (tests, benchmarks).
    pub fn with_isa(in_rate: u32, out_rate: u32, quality: Quality, isa: Isa) -> Result<Self, Error> {
        let isa = isa.require()?;
        if !SUPPORTED_RATES.contains(&in_rate) || !SUPPORTED_RATES.contains(&out_rate) {
            return Err(Error::UnsupportedRate { in_rate, out_rate });
        }
        let g = gcd(in_rate, out_rate);
        let (l, m) = ((out_rate / g) as usize, (in_rate / g) as usize);
        let rate = in_rate as f64 * l as f64;
        let nyq = in_rate.min(out_rate) as f64 / 2.0;
        let (stop, atten) = match quality {
            Quality::Transparent => (nyq, 92.0),
            _ => (1.15 * nyq, 92.5),
        };
        let spec = Spec { rate, pass: 0.85 * nyq, stop, atten_db: atten, gain: l as f64 };
        let h: Vec<f32> = if l == 1 && m == 1 {
            vec![1.0] // same rate: identity
        } else {
            let proto = design::kaiser_lowpass(spec);
            let h = if quality == Quality::LowLatency { design::minimum_phase(&proto) } else { proto };
            h.into_iter().map(|x| x as f32).collect()
        };
        let k = h.len().div_ceil(l);
        let hist_rows = (k as i64 - 1 + m as i64 - 1) / m as i64 + 1;
        let cap = hist_rows as usize + IN_ROWS + 1;
        let classes = (0..l)
            .map(|c| {
                let t = (c + 1) * m - 1;
                let (p, sigma) = (t % l, (t / l) % m);
                (0..k)
                    .filter_map(|j| {
                        let coef = *h.get(p + j * l)?;
                        let d = sigma as isize - j as isize;
                        let (stream, off) = (d.rem_euclid(m as isize), d.div_euclid(m as isize));
                        Some(Tap { coef, idx: stream * cap as isize + off })
                    })
                    .collect()
            })
            .collect();
        let report = if h.len() == 1 {
            FilterReport {
                taps: 1,
                taps_per_phase: 1,
                passband_hz: nyq,
                stopband_hz: nyq,
                passband_ripple_db: 0.0,
                stopband_rejection_db: f64::INFINITY,
                group_delay_ms: (0.0, 0.0),
                latency_ms: 0.0,
            }
        } else {
            design::evaluate(&h, spec, k)
        };
        let mut r = Resampler {
            in_rate,
            out_rate,
            quality,
            l: l as u64,
            m: m as u64,
            classes,
            taps_per_phase: k,
            hist_rows,
            cap,
            buf: vec![0.0; m * cap],
            row_base: 0,
            n_in: 0,
            n_out: 0,
            scratch: vec![0.0; l * OUT_BLOCK],
            isa,
            report,
        };
        r.reset();
        Ok(r)
    }

    /// Forgets all history: the next call starts a new stream.
    pub fn reset(&mut self) {
        self.buf.fill(0.0);
        self.row_base = -self.hist_rows; // zero history before input 0
        self.n_in = 0;
        self.n_out = 0;
    }

    /// Input rate, Hz.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }
    /// Output rate, Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }
    /// The preset this resampler was built with.
    pub fn quality(&self) -> Quality {
        self.quality
    }
    /// The kernels it runs on.
    pub fn isa(&self) -> Isa {
        self.isa
    }
    /// The designed filter, measured: taps, ripple, rejection, delay.
    pub fn report(&self) -> FilterReport {
        self.report
    }
    /// Algorithmic latency in ms (time of the impulse response's peak).
    pub fn latency_ms(&self) -> f64 {
        self.report.latency_ms
    }

    /// Outputs the next call with `input_len` samples will write: exactly
    /// `floor(total_in * out_rate / in_rate)` minus what was already written.
    pub fn output_len(&self, input_len: usize) -> usize {
        ((self.n_in + input_len as u64) * self.l / self.m - self.n_out) as usize
    }

    /// Outputs [`Resampler::flush_i16`] will write.
    pub fn flush_len(&self) -> usize {
        self.output_len(self.taps_per_phase - 1)
    }

    /// Resamples PCM16. Returns the number of samples written, which is
    /// [`Resampler::output_len`]; errors if `output` is shorter than that.
    pub fn process_i16(&mut self, input: &[i16], output: &mut [i16]) -> Result<usize, Error> {
        self.run(input, output, |x| x as f32, round_i16)
    }

    /// Resamples f32 samples (any scale; the filter is linear).
    pub fn process_f32(&mut self, input: &[f32], output: &mut [f32]) -> Result<usize, Error> {
        self.run(input, output, |x| x, |y| y)
    }

    /// Fused: mu-law bytes in, PCM16 out, in one pass (e.g. 8 kHz Twilio
    /// media to 24 kHz model input).
    pub fn process_ulaw_to_i16(&mut self, input: &[u8], output: &mut [i16]) -> Result<usize, Error> {
        self.run(input, output, |c| crate::g711::ulaw_decode_sample(c) as f32, round_i16)
    }

    /// Fused: A-law bytes in, PCM16 out, in one pass.
    pub fn process_alaw_to_i16(&mut self, input: &[u8], output: &mut [i16]) -> Result<usize, Error> {
        self.run(input, output, |c| crate::g711::alaw_decode_sample(c) as f32, round_i16)
    }

    /// Fused: PCM16 in, G.711 mu-law bytes out, in one pass (e.g. 24 kHz
    /// model audio to 8 kHz Twilio media).
    pub fn process_i16_to_ulaw(&mut self, input: &[i16], output: &mut [u8]) -> Result<usize, Error> {
        self.run(input, output, |x| x as f32, |y| crate::g711::encode_fast_ulaw(round_i16(y)))
    }

    /// Fused: PCM16 in, G.711 A-law bytes out, in one pass.
    pub fn process_i16_to_alaw(&mut self, input: &[i16], output: &mut [u8]) -> Result<usize, Error> {
        self.run(input, output, |x| x as f32, |y| crate::g711::encode_fast_alaw(round_i16(y)))
    }

    /// Allocating form of [`Resampler::process_i16`].
    pub fn process_i16_vec(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = vec![0; self.output_len(input.len())];
        self.process_i16(input, &mut out).expect("sized by output_len");
        out
    }

    /// Ends the stream: pushes the filter's tail out (as if `taps_per_phase
    /// - 1` zero inputs followed), writes [`Resampler::flush_len`] samples,
    /// and resets.
    pub fn flush_i16(&mut self, output: &mut [i16]) -> Result<usize, Error> {
        self.flush_with(output, round_i16)
    }

    /// f32 form of [`Resampler::flush_i16`].
    pub fn flush_f32(&mut self, output: &mut [f32]) -> Result<usize, Error> {
        self.flush_with(output, |y| y)
    }

    /// Allocating form of [`Resampler::flush_i16`].
    pub fn flush_i16_vec(&mut self) -> Vec<i16> {
        let mut out = vec![0; self.flush_len()];
        self.flush_i16(&mut out).expect("sized by flush_len");
        out
    }

    fn flush_with<O>(&mut self, output: &mut [O], store: impl Fn(f32) -> O) -> Result<usize, Error> {
        let needed = self.flush_len();
        if output.len() < needed {
            return Err(Error::OutputTooSmall { needed, actual: output.len() });
        }
        let mut remaining = self.taps_per_phase - 1;
        let mut written = 0;
        const ZEROS: [f32; 64] = [0.0; 64];
        while remaining > 0 {
            let n = remaining.min(ZEROS.len());
            written += self.run(&ZEROS[..n], &mut output[written..], |x| x, &store)?;
            remaining -= n;
        }
        self.reset();
        Ok(written)
    }

    fn run<I: Copy, O>(
        &mut self,
        mut input: &[I],
        output: &mut [O],
        load: impl Fn(I) -> f32,
        store: impl Fn(f32) -> O,
    ) -> Result<usize, Error> {
        let needed = self.output_len(input.len());
        if output.len() < needed {
            return Err(Error::OutputTooSmall { needed, actual: output.len() });
        }
        let mut written = 0;
        while !input.is_empty() {
            let room = ((self.row_base + self.cap as i64) as u64 * self.m - self.n_in) as usize;
            let (now, later) = input.split_at(room.min(input.len()));
            let m = self.m as usize;
            for (i, &x) in now.iter().enumerate() {
                let g = self.n_in + i as u64;
                let row = (g / self.m) as i64 - self.row_base;
                self.buf[(g % self.m) as usize * self.cap + row as usize] = load(x);
            }
            let _ = m;
            self.n_in += now.len() as u64;
            written += self.emit(&mut output[written..], &store);
            self.compact();
            input = later;
        }
        debug_assert_eq!(written, needed);
        Ok(written)
    }

    /// Newest input row of output `k`.
    #[inline]
    fn newest_row(&self, k: u64) -> i64 {
        ((((k + 1) * self.m - 1) / self.l) / self.m) as i64
    }

    /// Computes every output whose inputs are all in; returns how many.
    fn emit<O>(&mut self, output: &mut [O], store: &impl Fn(f32) -> O) -> usize {
        let target = self.n_in * self.l / self.m;
        let l = self.l as usize;
        let mut written = 0;
        while self.n_out < target {
            let count = (target - self.n_out).min((l * OUT_BLOCK) as u64) as usize;
            let start = self.n_out;
            for c in 0..l {
                // First output of class c at or after `start`.
                let first = start + ((c as u64 + self.l - start % self.l) % self.l);
                let offset = (first - start) as usize;
                if offset >= count {
                    continue;
                }
                let n = (count - offset).div_ceil(l);
                let row0 = (self.newest_row(first) - self.row_base) as usize;
                let out = &mut self.scratch[c * OUT_BLOCK..c * OUT_BLOCK + n];
                self.isa.vectorize(Fir { taps: &self.classes[c], buf: &self.buf, row0, out });
                let dst = &mut output[written + offset..];
                for (g, &y) in self.scratch[c * OUT_BLOCK..c * OUT_BLOCK + n].iter().enumerate() {
                    dst[g * l] = store(y);
                }
            }
            self.n_out += count as u64;
            written += count;
        }
        written
    }

    /// Drops rows no future output needs, moving the rest to the front.
    fn compact(&mut self) {
        let filled_row = (self.n_in.div_ceil(self.m)) as i64;
        let keep_from = (self.newest_row(self.n_out) - self.hist_rows).min(filled_row - 1).max(self.row_base);
        let shift = (keep_from - self.row_base) as usize;
        if shift == 0 {
            return;
        }
        let used = (filled_row - self.row_base) as usize;
        for s in 0..self.m as usize {
            let base = s * self.cap;
            self.buf.copy_within(base + shift..base + used.max(shift), base);
        }
        self.row_base = keep_from;
    }
}

/// Round half to even and saturate to the i16 range (NaN -> 0).
#[inline(always)]
fn round_i16(y: f32) -> i16 {
    y.round_ties_even() as i16
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}
