//! G.711 throughput: every available kernel set, the dispatched path, a
//! peer crate and `memcpy` of the same output size, in one run.
//!
//! `cargo bench -p teledsp-benches --bench g711` then
//! `python3 scripts/bench_table.py g711` for the README table.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use teledsp::{Isa, g711::Kernels};

/// 60 s at 8 kHz, and one 20 ms frame.
const SIZES: [(&str, usize); 2] = [("bulk_480000", 480_000), ("frame_160", 160)];

fn speechlike(n: usize) -> Vec<i16> {
    // Deterministic, full-range-ish signal: a chirp with a slow envelope, so
    // every segment of the companding curve is exercised.
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let env = 0.05 + 0.95 * (0.5 + 0.5 * (t * 1.3).sin());
            (env * 30000.0 * (t * (300.0 + 40.0 * t) * std::f64::consts::TAU).sin()) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (label, n) in SIZES {
        let pcm = speechlike(n);
        let ulaw = teledsp::g711::ulaw_encode_vec(&pcm);
        let alaw = teledsp::g711::alaw_encode_vec(&pcm);
        let mut codes = vec![0u8; n];
        let mut lin = vec![0i16; n];
        let paths: Vec<(String, Kernels)> = Isa::available()
            .into_iter()
            .map(|i| (i.name().to_string(), Kernels::new(i).unwrap()))
            .chain([("dispatched".to_string(), Kernels::detect())])
            .collect();

        let mut g = c.benchmark_group(format!("g711_ulaw_encode/{label}"));
        g.throughput(Throughput::Elements(n as u64));
        for (name, k) in &paths {
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| k.ulaw_encode(black_box(&pcm), black_box(&mut codes)).unwrap())
            });
        }
        g.bench_function(BenchmarkId::from_parameter("peer_audio-codec-algorithms"), |b| {
            b.iter(|| {
                for (d, &s) in codes.iter_mut().zip(black_box(&pcm)) {
                    *d = audio_codec_algorithms::encode_ulaw(s);
                }
            })
        });
        let src = ulaw.clone();
        g.bench_function(BenchmarkId::from_parameter("memcpy"), |b| b.iter(|| codes.copy_from_slice(black_box(&src))));
        g.finish();

        let mut g = c.benchmark_group(format!("g711_alaw_encode/{label}"));
        g.throughput(Throughput::Elements(n as u64));
        for (name, k) in &paths {
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| k.alaw_encode(black_box(&pcm), black_box(&mut codes)).unwrap())
            });
        }
        g.bench_function(BenchmarkId::from_parameter("peer_audio-codec-algorithms"), |b| {
            b.iter(|| {
                for (d, &s) in codes.iter_mut().zip(black_box(&pcm)) {
                    *d = audio_codec_algorithms::encode_alaw(s);
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("memcpy"), |b| b.iter(|| codes.copy_from_slice(black_box(&src))));
        g.finish();

        for (law, input, peer) in [
            ("ulaw", &ulaw, audio_codec_algorithms::decode_ulaw as fn(u8) -> i16),
            ("alaw", &alaw, audio_codec_algorithms::decode_alaw as fn(u8) -> i16),
        ] {
            let mut g = c.benchmark_group(format!("g711_{law}_decode/{label}"));
            g.throughput(Throughput::Elements(n as u64));
            for (name, k) in &paths {
                g.bench_function(BenchmarkId::from_parameter(name), |b| {
                    b.iter(|| {
                        if law == "ulaw" {
                            k.ulaw_decode(black_box(input), black_box(&mut lin)).unwrap()
                        } else {
                            k.alaw_decode(black_box(input), black_box(&mut lin)).unwrap()
                        }
                    })
                });
            }
            g.bench_function(BenchmarkId::from_parameter("peer_audio-codec-algorithms"), |b| {
                b.iter(|| {
                    for (d, &s) in lin.iter_mut().zip(black_box(input.as_slice())) {
                        *d = peer(s);
                    }
                })
            });
            let src = pcm.clone();
            g.bench_function(BenchmarkId::from_parameter("memcpy"), |b| {
                b.iter(|| lin.copy_from_slice(black_box(&src)))
            });
            g.finish();
        }

        let mut g = c.benchmark_group(format!("g711_ulaw_to_alaw/{label}"));
        g.throughput(Throughput::Elements(n as u64));
        for (name, k) in &paths {
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| k.ulaw_to_alaw(black_box(&ulaw), black_box(&mut codes)).unwrap())
            });
        }
        g.bench_function(BenchmarkId::from_parameter("peer_audio-codec-algorithms"), |b| {
            b.iter(|| {
                for (d, &s) in codes.iter_mut().zip(black_box(&ulaw)) {
                    *d = audio_codec_algorithms::convert_ulaw_to_alaw(s);
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = teledsp_benches::config();
    targets = bench
}
criterion_main!(benches);
