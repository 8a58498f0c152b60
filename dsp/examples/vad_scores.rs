//! Prints teledsp's speech probability for each 20 ms frame of a mu-law
//! 8 kHz file, one per line: the `--cmd` detector for `tools/vad/vad_eval.py`.
//!
//! `cargo run --release -p teledsp --example vad_scores -- FILE.ulaw`

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: vad_scores FILE.ulaw")?;
    let data = std::fs::read(&path)?;
    let mut vad = teledsp::vad::Vad::new(8000, 20)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for frame in data.chunks_exact(160) {
        writeln!(out, "{:.6}", vad.process_ulaw(frame)?)?;
    }
    Ok(())
}
