//! Shared settings for the criterion benchmarks in `benches/`.

use std::time::Duration;

/// Short warm-up and measurement: the suite covers many paths and peers,
/// and this machine is shared; medians over 2 s are stable enough.
pub fn config() -> criterion::Criterion {
    criterion::Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

/// A voiced, speech-like signal at `rate` Hz: a 150 Hz pulse train through a
/// decaying resonance, a 4 Hz syllabic envelope and a little noise
/// (deterministic). The VAD and echo benchmarks' input.
pub fn speechlike(n: usize, rate: f64) -> Vec<i16> {
    let mut y = 0.0f64;
    let mut s = 12345u64;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let pulse = if (t * 150.0).fract() < 150.0 / rate { 1.0 } else { 0.0 };
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            let noise = ((s >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.05;
            y = 0.95 * y + pulse + noise;
            (y * 3000.0 * (0.5 + 0.5 * (t * 4.0 * std::f64::consts::TAU).sin())) as i16
        })
        .collect()
}
