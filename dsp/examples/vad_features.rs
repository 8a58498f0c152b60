//! Writes the VAD's per-10 ms features of a mu-law 8 kHz file as raw
//! little-endian f32 rows (`N_FEATURES` per hop) to stdout: the training
//! script's input, so training sees exactly what inference computes.
//!
//! `cargo run --release -p teledsp --example vad_features -- FILE.ulaw > FILE.f32`

use std::io::Write;

use teledsp::vad::{Features, HOP, N_FEATURES};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: vad_features FILE.ulaw")?;
    let pcm = teledsp::g711::ulaw_decode_vec(&std::fs::read(&path)?);
    let mut f = Features::new();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut x = [0.0f32; N_FEATURES];
    for hop in pcm.chunks_exact(HOP) {
        let h: [f32; HOP] = core::array::from_fn(|i| hop[i] as f32);
        f.compute(&h, &mut x);
        for v in x {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    Ok(())
}
