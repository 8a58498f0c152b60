//! Encode a 16-bit mono WAV (or, with no argument, the ITU G.191 sweep of
//! all 65,536 sample values) to mu-law and A-law, decode it back, write the
//! results to `out/`, and print throughput per kernel set.
//!
//! `cargo run --release -p teledsp --example g711_file -- [input.wav]`

use std::time::Instant;

use teledsp::{Isa, g711::Kernels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let (pcm, rate) = match &arg {
        Some(path) => {
            let mut r = hound::WavReader::open(path)?;
            let spec = r.spec();
            if spec.channels != 1 || spec.bits_per_sample != 16 {
                return Err(format!(
                    "{path}: need 16-bit mono, got {} ch / {} bit",
                    spec.channels, spec.bits_per_sample
                )
                .into());
            }
            (r.samples::<i16>().collect::<Result<Vec<_>, _>>()?, spec.sample_rate)
        }
        None => {
            let raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/itu-g711/sweep.src"))?;
            (raw.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect(), 8000)
        }
    };
    let name = arg.as_deref().unwrap_or("ITU G.191 sweep.src");
    println!("input: {name}: {} samples at {rate} Hz ({:.2} s)", pcm.len(), pcm.len() as f64 / rate as f64);

    let k = Kernels::detect();
    let ulaw = teledsp::g711::ulaw_encode_vec(&pcm);
    let alaw = teledsp::g711::alaw_encode_vec(&pcm);
    let ulaw_back = teledsp::g711::ulaw_decode_vec(&ulaw);
    let alaw_back = teledsp::g711::alaw_decode_vec(&alaw);
    if arg.is_none() {
        // The sweep has published reference outputs: check them.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/itu-g711/");
        let low_bytes = |f: &str| -> std::io::Result<Vec<u8>> {
            Ok(std::fs::read(format!("{dir}{f}"))?.chunks_exact(2).map(|b| b[0]).collect())
        };
        let ok = low_bytes("sweep-r.u")? == ulaw && low_bytes("sweep-r.a")? == alaw;
        println!("ITU G.191 reference outputs: {}", if ok { "match" } else { "MISMATCH" });
        if !ok {
            return Err("encoder output differs from the ITU vectors".into());
        }
    }
    println!("round-trip SNR: mu-law {:.1} dB, A-law {:.1} dB", snr(&pcm, &ulaw_back), snr(&pcm, &alaw_back));

    std::fs::create_dir_all("out")?;
    std::fs::write("out/g711.ul", &ulaw)?;
    std::fs::write("out/g711.al", &alaw)?;
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create("out/g711_ulaw_decoded.wav", spec)?;
    for s in &ulaw_back {
        w.write_sample(*s)?;
    }
    w.finalize()?;
    println!("wrote out/g711.ul, out/g711.al, out/g711_ulaw_decoded.wav");

    println!("\nthroughput (best of 20 passes, M samples/s; dispatched path = {}):", k.isa());
    println!("{:<8} {:>12} {:>12} {:>12} {:>12}", "isa", "ulaw enc", "ulaw dec", "alaw enc", "alaw dec");
    let mut codes = vec![0u8; pcm.len()];
    let mut lin = vec![0i16; pcm.len()];
    for isa in Isa::available() {
        let k = Kernels::new(isa)?;
        let rates = [
            best(&pcm, || k.ulaw_encode(&pcm, &mut codes).unwrap()),
            best(&pcm, || k.ulaw_decode(&ulaw, &mut lin).unwrap()),
            best(&pcm, || k.alaw_encode(&pcm, &mut codes).unwrap()),
            best(&pcm, || k.alaw_decode(&alaw, &mut lin).unwrap()),
        ];
        println!("{:<8} {:>12.0} {:>12.0} {:>12.0} {:>12.0}", isa.name(), rates[0], rates[1], rates[2], rates[3]);
    }
    println!("(indicative only; `cargo bench -p teledsp-benches --bench g711` measures properly)");
    Ok(())
}

fn best(pcm: &[i16], mut f: impl FnMut()) -> f64 {
    (0..20)
        .map(|_| {
            let t = Instant::now();
            f();
            pcm.len() as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .fold(0.0, f64::max)
}

fn snr(x: &[i16], y: &[i16]) -> f64 {
    let (mut s, mut n) = (0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        s += (a as f64).powi(2);
        n += (a as f64 - b as f64).powi(2);
    }
    10.0 * (s / n.max(1e-9)).log10()
}
