//! Resampler throughput, x realtime per core: per 20 ms chunk and bulk
//! (60 s), both directions of the relay's hot path, every preset, with
//! rubato's synchronous FFT resampler (its best fixed-ratio one) in the same
//! run, and libsoxr with `--features soxr` (needs Debian's libsoxr-dev).
//!
//! `cargo bench -p teledsp-benches --bench resample` then
//! `python3 scripts/bench_table.py resample_up --realtime 8000` and
//! `python3 scripts/bench_table.py resample_down --realtime 24000`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};
use teledsp::Isa;
use teledsp::resample::{Quality, Resampler};

fn signal(n: usize, rate: u32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            (12000.0 * (t * 440.0 * std::f64::consts::TAU).sin() + 3000.0 * (t * 3100.0 * std::f64::consts::TAU).sin())
                as i16
        })
        .collect()
}

fn bench_dir(c: &mut Criterion, name: &str, fi: u32, fo: u32) {
    for (label, secs_num, secs_den) in [("chunk_20ms", 1u32, 50u32), ("bulk_60s", 60, 1)] {
        let n_in = (fi * secs_num / secs_den) as usize;
        let x = signal(n_in, fi);
        let xf: Vec<f32> = x.iter().map(|&v| v as f32 / 32768.0).collect();
        let chunk = (fi / 50) as usize; // 20 ms
        let mut g = c.benchmark_group(format!("{name}/{label}"));
        g.throughput(Throughput::Elements(n_in as u64));

        let mut ours: Vec<(String, Resampler)> = Vec::new();
        for q in Quality::ALL {
            ours.push((format!("teledsp_{}", q.name()), Resampler::new(fi, fo, q).unwrap()));
        }
        for isa in Isa::available() {
            ours.push((
                format!("teledsp_telephony_{isa}"),
                Resampler::with_isa(fi, fo, Quality::Telephony, isa).unwrap(),
            ));
        }
        let mut out = vec![0i16; n_in * fo as usize / fi as usize + 16];
        for (id, r) in ours.iter_mut() {
            g.bench_function(BenchmarkId::from_parameter(id.as_str()), |b| {
                b.iter(|| {
                    let n = r.process_i16(black_box(&x), &mut out).unwrap();
                    black_box(&out[..n]);
                })
            });
        }

        // rubato: synchronous FFT resampler, fixed input chunk (20 ms, or
        // 100 ms blocks for bulk), f32.
        let rb_chunk = if n_in == chunk { chunk } else { chunk * 5 };
        let mut rb = Fft::<f32>::new(fi as usize, fo as usize, rb_chunk, 1, FixedSync::Input).unwrap();
        let mut rb_out = vec![0f32; rb.output_frames_max()];
        g.bench_function(BenchmarkId::from_parameter("peer_rubato_fft"), |b| {
            b.iter(|| {
                for blk in xf.chunks_exact(rb_chunk) {
                    let input = InterleavedSlice::new(blk, 1, rb_chunk).unwrap();
                    let frames = rb_out.len();
                    let mut output = InterleavedSlice::new_mut(&mut rb_out, 1, frames).unwrap();
                    black_box(rb.process_into_buffer(&input, &mut output, None).unwrap());
                }
            })
        });

        #[cfg(feature = "soxr")]
        for (qname, recipe) in
            [("hq", soxr::params::QualityRecipe::high()), ("mq", soxr::params::QualityRecipe::Medium)]
        {
            use soxr::{Soxr, format::Mono, params::QualitySpec, params::RuntimeSpec};
            let mut s =
                Soxr::<Mono<f32>>::new_with_params(fi as f64, fo as f64, QualitySpec::new(recipe), RuntimeSpec::new(1))
                    .unwrap();
            let mut sout = vec![0f32; n_in * fo as usize / fi as usize + 4096];
            g.bench_function(BenchmarkId::from_parameter(format!("peer_soxr_{qname}")), |b| {
                b.iter(|| {
                    for blk in xf.chunks(chunk.max(n_in.min(chunk * 5))) {
                        black_box(s.process(blk, &mut sout).unwrap());
                    }
                })
            });
        }
        g.finish();
    }
}

fn bench(c: &mut Criterion) {
    bench_dir(c, "resample_up_8k_24k", 8000, 24000);
    bench_dir(c, "resample_down_24k_8k", 24000, 8000);
    // The fused relay kernels: mu-law 8 kHz <-> PCM16 24 kHz in one pass.
    let codes = teledsp::g711::ulaw_encode_vec(&signal(160, 8000));
    let pcm24 = signal(480, 24000);
    let mut g = c.benchmark_group("resample_fused/chunk_20ms");
    g.throughput(Throughput::Elements(160));
    let mut up = Resampler::new(8000, 24000, Quality::Telephony).unwrap();
    let mut o16 = [0i16; 480];
    g.bench_function("ulaw8k_to_pcm24k", |b| b.iter(|| up.process_from_ulaw(black_box(&codes), &mut o16).unwrap()));
    let mut down = Resampler::new(24000, 8000, Quality::Telephony).unwrap();
    let mut o8 = [0u8; 160];
    g.bench_function("pcm24k_to_ulaw8k", |b| b.iter(|| down.process_to_ulaw(black_box(&pcm24), &mut o8).unwrap()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = teledsp_benches::config();
    targets = bench
}
criterion_main!(benches);
