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

use std::sync::{Arc, Mutex, OnceLock};

use super::design::{self, FilterReport, Spec};
use super::kernel::{Fir, Tap, fir_upsample};
use crate::error::{Error, Expected};
use crate::isa::Isa;
use pulp::{Simd, WithSimd};

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
        Quality::ALL.into_iter().find(|q| q.name() == s).ok_or_else(|| Error::UnknownName {
            setting: "quality preset",
            expected: "telephony, transparent, low_latency",
            actual: s.to_owned(),
        })
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
    /// The designed filter bank, shared by every resampler of this pair and preset.
    bank: Arc<Bank>,
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
}

/// A designed polyphase filter bank: immutable, built once per (rates,
/// preset) and shared, so constructing a resampler per call is cheap.
#[derive(Debug)]
struct Bank {
    l: usize,
    m: usize,
    /// Taps per branch (the prototype, zero-padded to a multiple of L).
    k: usize,
    hist_rows: i64,
    cap: usize,
    /// Per output class `k mod L`: its branch's taps, in summation order.
    classes: Vec<Vec<Tap>>,
    /// Integer upsampling (M = 1): `classes`' coefficients, tap-major.
    up_coefs: Vec<f32>,
    h: Vec<f32>,
    spec: Spec,
    latency_ms: f64,
}

impl Bank {
    fn get(in_rate: u32, out_rate: u32, quality: Quality) -> Result<Arc<Bank>, Error> {
        if !SUPPORTED_RATES.contains(&in_rate) || !SUPPORTED_RATES.contains(&out_rate) {
            return Err(Error::UnsupportedRate {
                rate: in_rate,
                out_rate: Some(out_rate),
                supported: &SUPPORTED_RATES,
            });
        }
        type Cache = Mutex<Vec<((u32, u32, Quality), Arc<Bank>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let key = (in_rate, out_rate, quality);
        let cache = CACHE.get_or_init(Default::default);
        if let Some((_, b)) = cache.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key) {
            return Ok(b.clone());
        }
        // Designed outside the lock; a concurrent duplicate design is harmless.
        let bank = Arc::new(Bank::design(in_rate, out_rate, quality));
        cache.lock().unwrap_or_else(|e| e.into_inner()).push((key, bank.clone()));
        Ok(bank)
    }

    fn design(in_rate: u32, out_rate: u32, quality: Quality) -> Bank {
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
            let proto = design::lowpass(spec);
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
                // Every branch has exactly k taps (zero-padded), so the
                // per-branch and all-branch kernels sum identically.
                (0..k)
                    .map(|j| {
                        let coef = h.get(p + j * l).copied().unwrap_or(0.0);
                        let d = sigma as isize - j as isize;
                        let (stream, off) = (d.rem_euclid(m as isize), d.div_euclid(m as isize));
                        Tap { coef, idx: stream * cap as isize + off }
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<Vec<Tap>>>();
        // Tap-major table for the all-branch upsampling kernel (M == 1).
        let up_coefs = (0..k).flat_map(|j| classes.iter().map(move |c| c[j].coef)).collect();
        let latency_ms = if h.len() == 1 { 0.0 } else { design::peak_ms(&h, rate) };
        Bank { l, m, k, hist_rows, cap, classes, up_coefs, h, spec, latency_ms }
    }
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
        let bank = Bank::get(in_rate, out_rate, quality)?;
        let mut r = Resampler {
            in_rate,
            out_rate,
            quality,
            l: bank.l as u64,
            m: bank.m as u64,
            taps_per_phase: bank.k,
            hist_rows: bank.hist_rows,
            cap: bank.cap,
            buf: vec![0.0; bank.m * bank.cap],
            row_base: 0,
            n_in: 0,
            n_out: 0,
            scratch: vec![0.0; bank.l * OUT_BLOCK],
            isa,
            bank,
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
    /// The designed filter, measured from its coefficients on a dense
    /// frequency grid: taps, ripple, rejection, delay. (Takes milliseconds:
    /// call it for reporting, not per frame.)
    pub fn report(&self) -> FilterReport {
        let b = &self.bank;
        if b.h.len() == 1 {
            let nyq = self.in_rate.min(self.out_rate) as f64 / 2.0;
            return FilterReport {
                taps: 1,
                taps_per_phase: 1,
                passband_hz: nyq,
                stopband_hz: nyq,
                passband_ripple_db: 0.0,
                stopband_rejection_db: f64::INFINITY,
                group_delay_ms: (0.0, 0.0),
                latency_ms: 0.0,
            };
        }
        design::evaluate(&b.h, b.spec, b.k)
    }
    /// Algorithmic latency in ms (time of the impulse response's peak).
    pub fn latency_ms(&self) -> f64 {
        self.bank.latency_ms
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
    pub fn process_from_ulaw(&mut self, input: &[u8], output: &mut [i16]) -> Result<usize, Error> {
        self.run(input, output, |c| crate::g711::ulaw_decode_sample(c) as f32, round_i16)
    }

    /// Fused: A-law bytes in, PCM16 out, in one pass.
    pub fn process_from_alaw(&mut self, input: &[u8], output: &mut [i16]) -> Result<usize, Error> {
        self.run(input, output, |c| crate::g711::alaw_decode_sample(c) as f32, round_i16)
    }

    /// Fused: PCM16 in, G.711 mu-law bytes out, in one pass (e.g. 24 kHz
    /// model audio to 8 kHz Twilio media).
    pub fn process_to_ulaw(&mut self, input: &[i16], output: &mut [u8]) -> Result<usize, Error> {
        self.run(input, output, |x| x as f32, |y| crate::g711::encode_fast_ulaw(round_i16(y)))
    }

    /// Fused: PCM16 in, G.711 A-law bytes out, in one pass.
    pub fn process_to_alaw(&mut self, input: &[i16], output: &mut [u8]) -> Result<usize, Error> {
        self.run(input, output, |x| x as f32, |y| crate::g711::encode_fast_alaw(round_i16(y)))
    }

    /// Allocating form of [`Resampler::process_i16`].
    pub fn process_i16_vec(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = vec![0; self.output_len(input.len())];
        self.process_i16(input, &mut out).expect("sized by output_len");
        out
    }

    /// Ends the stream: pushes the filter's tail out (as if one branch
    /// length of zero input followed), writes [`Resampler::flush_len`]
    /// samples, and resets.
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

    fn flush_with<O: Copy + Default>(&mut self, output: &mut [O], store: impl Fn(f32) -> O) -> Result<usize, Error> {
        let needed = self.flush_len();
        if output.len() < needed {
            return Err(Error::InvalidLength {
                what: "output buffer",
                expected: Expected::AtLeast(needed),
                actual: output.len(),
            });
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

    fn run<I: Copy, O: Copy + Default>(
        &mut self,
        input: &[I],
        output: &mut [O],
        load: impl Fn(I) -> f32,
        store: impl Fn(f32) -> O,
    ) -> Result<usize, Error> {
        let needed = self.output_len(input.len());
        if output.len() < needed {
            return Err(Error::InvalidLength {
                what: "output buffer",
                expected: Expected::AtLeast(needed),
                actual: output.len(),
            });
        }
        // One dispatch per call: the input conversion, the FIR and the
        // output conversion are all compiled for the chosen instruction set.
        let written = self.isa.vectorize(Run { r: self, input, output, load, store });
        debug_assert_eq!(written, needed);
        Ok(written)
    }

    #[inline(always)]
    fn run_simd<S: Simd, I: Copy, O: Copy + Default>(
        &mut self,
        simd: S,
        mut input: &[I],
        output: &mut [O],
        load: &impl Fn(I) -> f32,
        store: &impl Fn(f32) -> O,
    ) -> usize {
        let mut written = 0;
        while !input.is_empty() {
            let room = ((self.row_base + self.cap as i64) as u64 * self.m - self.n_in) as usize;
            let (now, later) = input.split_at(room.min(input.len()));
            self.write_input(now, load);
            written += self.emit(simd, &mut output[written..], store);
            self.compact();
            input = later;
        }
        written
    }

    /// Appends samples to the streams (row-major across the `M` streams).
    #[inline(always)]
    fn write_input<I: Copy>(&mut self, mut now: &[I], load: &impl Fn(I) -> f32) {
        let m = self.m as usize;
        let row = |n_in: u64, base: i64| ((n_in / m as u64) as i64 - base) as usize;
        // Finish a partial row one sample at a time.
        while !now.is_empty() && !self.n_in.is_multiple_of(self.m) {
            let s = (self.n_in % self.m) as usize;
            self.buf[s * self.cap + row(self.n_in, self.row_base)] = load(now[0]);
            self.n_in += 1;
            now = &now[1..];
        }
        // Whole rows: a deinterleave with a constant stride, which vectorises.
        let r0 = row(self.n_in, self.row_base);
        let rows = now.len() / m;
        match m {
            1 => deinterleave::<1, I>(&mut self.buf, self.cap, r0, &now[..rows], load),
            2 => deinterleave::<2, I>(&mut self.buf, self.cap, r0, &now[..rows * 2], load),
            3 => deinterleave::<3, I>(&mut self.buf, self.cap, r0, &now[..rows * 3], load),
            6 => deinterleave::<6, I>(&mut self.buf, self.cap, r0, &now[..rows * 6], load),
            _ => unreachable!("M is in_rate / gcd over the supported rates"),
        }
        self.n_in += (rows * m) as u64;
        // The start of the next partial row.
        for &x in &now[rows * m..] {
            let s = (self.n_in % self.m) as usize;
            self.buf[s * self.cap + row(self.n_in, self.row_base)] = load(x);
            self.n_in += 1;
        }
    }

    /// Newest input row of output `k`.
    #[inline]
    fn newest_row(&self, k: u64) -> i64 {
        ((((k + 1) * self.m - 1) / self.l) / self.m) as i64
    }

    /// Runs the branch of class `c` for `n` outputs starting at output
    /// `first`, into `scratch[c]`.
    #[inline(always)]
    fn branch<S: Simd>(&mut self, simd: S, c: usize, first: u64, n: usize) {
        let row0 = (self.newest_row(first) - self.row_base) as usize;
        let out = &mut self.scratch[c * OUT_BLOCK..c * OUT_BLOCK + n];
        Fir { taps: &self.bank.classes[c], buf: &self.buf, row0, out }.with_simd(simd);
    }

    /// Computes every output whose inputs are all in; returns how many.
    #[inline(always)]
    fn emit<S: Simd, O: Copy + Default>(&mut self, simd: S, output: &mut [O], store: &impl Fn(f32) -> O) -> usize {
        let target = self.n_in * self.l / self.m;
        let l = self.l as usize;
        let mut written = 0;
        while self.n_out < target {
            let start = self.n_out;
            let left = (target - start) as usize;
            let dst = &mut output[written..];
            let count = if start.is_multiple_of(self.l) && left >= l {
                // Whole groups of L outputs: every class has the same count,
                // and class c lands at g * L + c.
                let groups = (left / l).min(OUT_BLOCK);
                if self.m == 1 && l > 1 {
                    // All branches share one input window: one pass.
                    let row0 = (self.newest_row(start) - self.row_base) as usize;
                    let (co, bu) = (&self.bank.up_coefs, &self.buf);
                    let mut sc = self.scratch.chunks_exact_mut(OUT_BLOCK).map(|s| &mut s[..groups]);
                    match l {
                        2 => fir_upsample::<S, 2>(simd, co, bu, row0, core::array::from_fn(|_| sc.next().unwrap())),
                        3 => fir_upsample::<S, 3>(simd, co, bu, row0, core::array::from_fn(|_| sc.next().unwrap())),
                        6 => fir_upsample::<S, 6>(simd, co, bu, row0, core::array::from_fn(|_| sc.next().unwrap())),
                        _ => unreachable!("L is out_rate / gcd over the supported rates"),
                    }
                } else {
                    for c in 0..l {
                        self.branch(simd, c, start + c as u64, groups);
                    }
                }
                let sc = &self.scratch;
                match l {
                    1 => interleave::<1, O>(sc, groups, dst, store),
                    2 => interleave::<2, O>(sc, groups, dst, store),
                    3 => interleave::<3, O>(sc, groups, dst, store),
                    6 => interleave::<6, O>(sc, groups, dst, store),
                    _ => unreachable!("L is out_rate / gcd over the supported rates"),
                }
                groups * l
            } else {
                // Up to the next group boundary (or the last partial group),
                // one output at a time per class.
                let count = left.min(l - (start % self.l) as usize);
                for (i, d) in dst[..count].iter_mut().enumerate() {
                    let k = start + i as u64;
                    let c = (k % self.l) as usize;
                    self.branch(simd, c, k, 1);
                    *d = store(self.scratch[c * OUT_BLOCK]);
                }
                count
            };
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
///
/// Adding 1.5 * 2^23 rounds to an integer in the default nearest-even mode
/// and leaves it, two's complement, in the low mantissa bits: plain adds and
/// a truncation, which vectorise on every ISA (`round_ties_even` and
/// saturating casts do not on baseline x86-64).
#[inline(always)]
fn round_i16(y: f32) -> i16 {
    const MAGIC: f32 = 12_582_912.0;
    (y.clamp(-32768.0, 32767.0) + MAGIC).to_bits() as u16 as i16
}

/// Writes whole rows of `M` samples into the `M` streams of `buf` from row `r0`.
#[inline(always)]
fn deinterleave<const M: usize, I: Copy>(buf: &mut [f32], cap: usize, r0: usize, src: &[I], load: &impl Fn(I) -> f32) {
    let rows = src.len() / M;
    let mut streams = buf.chunks_exact_mut(cap).map(|s| &mut s[r0..r0 + rows]);
    let dst: [&mut [f32]; M] = core::array::from_fn(|_| streams.next().expect("M streams"));
    for (r, row) in src.chunks_exact(M).enumerate() {
        for s in 0..M {
            dst[s][r] = load(row[s]);
        }
    }
}

/// Writes `groups` outputs of each of the `L` classes, class-major in
/// `scratch`, to `dst` in time order: a contiguous (vectorisable)
/// conversion per class, then `L`-strided stores of the converted values.
#[inline(always)]
fn interleave<const L: usize, O: Copy + Default>(
    scratch: &[f32],
    groups: usize,
    dst: &mut [O],
    store: &impl Fn(f32) -> O,
) {
    let dst = &mut dst[..groups * L];
    if L == 1 {
        for (d, &y) in dst.iter_mut().zip(&scratch[..groups]) {
            *d = store(y);
        }
        return;
    }
    let mut tmp = [[O::default(); OUT_BLOCK]; L];
    for (c, t) in tmp.iter_mut().enumerate() {
        for (t, &y) in t[..groups].iter_mut().zip(&scratch[c * OUT_BLOCK..c * OUT_BLOCK + groups]) {
            *t = store(y);
        }
    }
    for (g, d) in dst.chunks_exact_mut(L).enumerate() {
        for (c, o) in d.iter_mut().enumerate() {
            *o = tmp[c][g];
        }
    }
}

/// One call of the resampler as a `pulp` operation.
struct Run<'a, I, O, LF, SF> {
    r: &'a mut Resampler,
    input: &'a [I],
    output: &'a mut [O],
    load: LF,
    store: SF,
}

impl<I: Copy, O: Copy + Default, LF: Fn(I) -> f32, SF: Fn(f32) -> O> WithSimd for Run<'_, I, O, LF, SF> {
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> usize {
        self.r.run_simd(simd, self.input, self.output, &self.load, &self.store)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}
