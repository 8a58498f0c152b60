//! Prints every preset's designed filter, measured from its coefficients:
//! the README's filter table.
//!
//! `cargo run --release -p teledsp --example resampler_report`

use teledsp::resample::{Quality, Resampler, SUPPORTED_RATES};

fn main() -> Result<(), teledsp::Error> {
    println!(
        "| pair (Hz) | preset | taps | taps/output | passband | ripple (±dB) | stopband | rejection (dB) | group delay (ms) | latency (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &a in &SUPPORTED_RATES {
        for &b in &SUPPORTED_RATES {
            if a == b {
                continue;
            }
            for q in Quality::ALL {
                let r = Resampler::new(a, b, q)?.report();
                let gd = if (r.group_delay_ms.1 - r.group_delay_ms.0).abs() < 0.005 {
                    format!("{:.2}", r.group_delay_ms.0)
                } else {
                    format!("{:.2}–{:.2}", r.group_delay_ms.0, r.group_delay_ms.1)
                };
                println!(
                    "| {a} -> {b} | {} | {} | {} | 0–{:.0} Hz | {:.4} | {:.0} Hz | {:.1} | {gd} | {:.3} |",
                    q.name(),
                    r.taps,
                    r.taps_per_phase,
                    r.passband_hz,
                    r.passband_ripple_db,
                    r.stopband_hz,
                    r.stopband_rejection_db,
                    r.latency_ms
                );
            }
        }
    }
    Ok(())
}
