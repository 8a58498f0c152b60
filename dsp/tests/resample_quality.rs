//! Measured quality of the resampler, from its actual streaming output:
//! passband error, image (up) and alias (down) rejection, latency, and
//! agreement with a naive f64 reference.

use teledsp::resample::{Quality, Resampler};

/// Feeds `x` in chunks of `chunk` samples through the f32 API.
fn stream_f32(r: &mut Resampler, x: &[f32], chunk: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for c in x.chunks(chunk) {
        let mut o = vec![0.0; r.output_len(c.len())];
        assert_eq!(r.process_f32(c, &mut o).unwrap(), o.len());
        out.extend_from_slice(&o);
    }
    out
}

fn tone(freq: f64, rate: u32, n: usize) -> Vec<f32> {
    (0..n).map(|i| (std::f64::consts::TAU * freq * i as f64 / rate as f64).sin() as f32).collect()
}

/// Amplitude of `freq` in `y` by a single-bin DFT over a window holding a
/// whole number of cycles (so no leakage, no window needed).
fn amplitude(y: &[f32], freq: f64, rate: u32) -> f64 {
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (n, &v) in y.iter().enumerate() {
        let ph = std::f64::consts::TAU * freq * n as f64 / rate as f64;
        re += v as f64 * ph.cos();
        im -= v as f64 * ph.sin();
    }
    // DC and Nyquist have no mirror bin: their amplitude is |X| / N.
    let scale = if freq == 0.0 || 2.0 * freq == rate as f64 { 1.0 } else { 2.0 };
    scale * (re * re + im * im).sqrt() / y.len() as f64
}

fn db(x: f64) -> f64 {
    20.0 * x.max(1e-20).log10()
}

/// Runs a unit tone through at 20 ms chunks; returns the steady-state output
/// (100 ms, an integer number of cycles of every multiple of 10 Hz).
fn steady_output(r: &mut Resampler, freq: f64) -> Vec<f32> {
    let (fi, fo) = (r.in_rate(), r.out_rate());
    let x = tone(freq, fi, fi as usize * 3 / 10); // 300 ms
    let y = stream_f32(r, &x, fi as usize / 50);
    let skip = fo as usize / 10; // 100 ms: far past every filter's transient
    y[skip..skip + fo as usize / 10].to_vec()
}

#[test]
fn telephony_passband_within_0_1_db_at_20ms_chunks() {
    for (a, b) in [(8000, 24000), (24000, 8000), (8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000)] {
        for q in Quality::ALL {
            let mut r = Resampler::new(a, b, q).unwrap();
            let mut worst = 0.0f64;
            for f in (100..=3400).step_by(100) {
                r.reset();
                let y = steady_output(&mut r, f as f64);
                worst = worst.max(db(amplitude(&y, f as f64, b)).abs());
            }
            assert!(worst <= 0.1, "{a}->{b} {q:?}: passband error {worst:.4} dB");
        }
    }
}

#[test]
fn upsampling_images_rejected_by_90_db() {
    // A tone f at 8 kHz images to k*8000 +/- f at 24 kHz. For f <= 3400 Hz
    // every image sits at or above 4600 Hz: all must be >= 90 dB down.
    for q in [Quality::Telephony, Quality::LowLatency, Quality::Transparent] {
        let mut r = Resampler::new(8000, 24000, q).unwrap();
        let mut worst = f64::MIN;
        for f in (100..=3400).step_by(300) {
            r.reset();
            let y = steady_output(&mut r, f as f64);
            for img in [8000 - f, 8000 + f, 16000 - f, 16000 + f] {
                worst = worst.max(db(amplitude(&y, img as f64, 24000)));
            }
        }
        assert!(worst <= -90.0, "{q:?}: worst image {worst:.1} dB");
    }
}

#[test]
fn downsampling_aliases_rejected_by_90_db() {
    // Content at or above the stopband edge (4.6 kHz telephony, 4 kHz
    // transparent) must fold back >= 90 dB down.
    for (q, lo) in [(Quality::Telephony, 4600), (Quality::LowLatency, 4600), (Quality::Transparent, 4000)] {
        for (fi, fo) in [(24000u32, 8000u32), (48000, 8000), (16000, 8000)] {
            let mut r = Resampler::new(fi, fo, q).unwrap();
            let mut worst = (f64::MIN, 0);
            for f in (lo..fi / 2).step_by(370) {
                r.reset();
                let y = steady_output(&mut r, f as f64);
                // Where f lands after decimation to fo.
                let m = f % fo;
                let alias = if m > fo / 2 { fo - m } else { m };
                let level = db(amplitude(&y, alias as f64, fo));
                if level > worst.0 {
                    worst = (level, f);
                }
            }
            assert!(worst.0 <= -90.0, "{q:?} {fi}->{fo}: {} Hz aliases at {:.1} dB", worst.1, worst.0);
        }
    }
}

#[test]
fn audioop_style_folding_is_what_we_fix() {
    // 5-11 kHz content in 24 kHz TTS is what audioop.ratecv folds into the
    // phone band; here it must vanish.
    let mut r = Resampler::new(24000, 8000, Quality::Telephony).unwrap();
    for f in [5000u32, 7000, 9000, 11000] {
        r.reset();
        let y = steady_output(&mut r, f as f64);
        let alias = 8000 - f % 8000;
        let alias = if alias > 4000 { 8000 - alias } else { alias };
        assert!(db(amplitude(&y, alias as f64, 8000)) < -90.0, "{f} Hz");
    }
}

/// Feeds a unit impulse at the last sample of a 1 ms chunk and returns the
/// time from that chunk's feed to the emission of the output peak, in ms.
fn measured_latency_ms(r: &mut Resampler) -> f64 {
    let (fi, fo) = (r.in_rate() as usize, r.out_rate() as usize);
    let chunk = fi / 1000;
    let mut x = vec![0.0f32; fi / 10];
    let impulse_chunk = 20;
    let i0 = impulse_chunk * chunk + chunk - 1;
    x[i0] = 1.0;
    let (mut peak, mut peak_call, mut peak_idx, mut k) = (0.0f32, 0, 0, 0);
    for (call, c) in x.chunks(chunk).enumerate() {
        let mut o = vec![0.0; r.output_len(c.len())];
        r.process_f32(c, &mut o).unwrap();
        for &v in &o {
            if v.abs() > peak {
                (peak, peak_call, peak_idx) = (v.abs(), call, k);
            }
            k += 1;
        }
    }
    // The peak must have been emitted by the call whose input covers its
    // time: chunking adds no delay of its own.
    let emitted_ms = (peak_call - impulse_chunk) as f64;
    let algorithmic_ms = (peak_idx + 1) as f64 * 1000.0 / fo as f64 - (i0 + 1) as f64 * 1000.0 / fi as f64;
    assert!(emitted_ms <= algorithmic_ms.ceil() + 1e-9, "emitted {emitted_ms} ms after a {algorithmic_ms} ms delay");
    algorithmic_ms
}

#[test]
fn latency_measured_with_1ms_chunks() {
    for (a, b) in [(8000, 24000), (24000, 8000), (8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000)] {
        let t = measured_latency_ms(&mut Resampler::new(a, b, Quality::Telephony).unwrap());
        assert!(t <= 2.5 && t > 0.0, "telephony {a}->{b}: {t:.3} ms");
        let t = measured_latency_ms(&mut Resampler::new(a, b, Quality::LowLatency).unwrap());
        assert!((0.0..=1.0).contains(&t), "low_latency {a}->{b}: {t:.3} ms");
    }
}

#[test]
fn report_agrees_with_measurement() {
    for q in Quality::ALL {
        let mut r = Resampler::new(8000, 24000, q).unwrap();
        let rep = r.report();
        let t = measured_latency_ms(&mut r);
        // Streaming emits an upsampled output as soon as its newest input is
        // in, up to one input period before its nominal time.
        assert!((t - rep.latency_ms).abs() <= 1000.0 / 8000.0 + 1e-9, "{q:?}: {t} vs {}", rep.latency_ms);
        assert!(rep.passband_ripple_db <= 0.1 && rep.stopband_rejection_db >= 90.0, "{q:?}: {rep:?}");
    }
}

#[test]
fn matches_a_naive_f64_polyphase_reference() {
    // Recover the prototype from the impulse response, then compute
    // y[k] = sum_i x[i] h[(k+1)M - 1 - iL] in f64 and compare.
    for (a, b) in [(8000u32, 24000u32), (24000, 8000), (16000, 24000), (24000, 16000), (48000, 8000)] {
        for q in Quality::ALL {
            let g = gcd(a, b);
            let (l, m) = ((b / g) as usize, (a / g) as usize);
            let mut r = Resampler::new(a, b, q).unwrap();
            let taps = r.report().taps;
            // Impulse at input 0: output k = h[(k+1)M - 1]. Shifting the
            // impulse to inputs 0..M reaches every coefficient.
            let mut h = vec![0.0f64; taps];
            for s in 0..m.max(1) {
                r.reset();
                let mut x = vec![0.0f32; taps + 2 * m];
                x[s] = 1.0;
                let y = stream_f32(&mut r, &x, x.len());
                for (k, &v) in y.iter().enumerate() {
                    let t = ((k + 1) * m) as isize - 1 - (s * l) as isize;
                    if t >= 0 && (t as usize) < taps {
                        h[t as usize] = v as f64;
                    }
                }
            }
            let x: Vec<f32> = (0..4000).map(|i| ((i * 7919 % 2003) as f32 / 1001.0 - 1.0) * 0.9).collect();
            r.reset();
            let got = stream_f32(&mut r, &x, 333);
            let mut max_err = 0.0f64;
            for (k, &g) in got.iter().enumerate() {
                let t = ((k + 1) * m - 1) as isize;
                let mut acc = 0.0f64;
                for (i, &xi) in x.iter().enumerate() {
                    let d = t - (i * l) as isize;
                    if d < 0 {
                        break;
                    }
                    if (d as usize) < taps {
                        acc += xi as f64 * h[d as usize];
                    }
                }
                max_err = max_err.max((acc - g as f64).abs());
            }
            assert!(max_err < 2e-5, "{a}->{b} {q:?}: max error {max_err:e}");
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}
