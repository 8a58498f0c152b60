//! VAD cost per 20 ms frame, with the `webrtc-vad` and `earshot` crates in
//! the same run. Each detector gets its native frame: teledsp and webrtc-vad
//! 160 samples at 8 kHz; earshot 16 kHz only, 256 samples (16 ms), so its
//! figure is per 16 ms at 16 kHz, reported per call.
//!
//! `cargo bench -p teledsp-benches --bench vad`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let x8 = teledsp_benches::speechlike(8000 * 2, 8000.0);
    let x16 = teledsp_benches::speechlike(16000 * 2, 16000.0);
    let mut g = c.benchmark_group("vad/frame_20ms_8k");
    g.throughput(Throughput::Elements(1));

    let mut ours = teledsp::vad::Vad::new(8000, 20).unwrap();
    let mut i = 0;
    g.bench_function("teledsp", |b| {
        b.iter(|| {
            i = (i + 160) % (x8.len() - 160);
            black_box(ours.process(&x8[i..i + 160]).unwrap())
        })
    });
    let codes = teledsp::g711::ulaw_encode_vec(&x8);
    let mut ours_u = teledsp::vad::Vad::new(8000, 20).unwrap();
    g.bench_function("teledsp_ulaw", |b| {
        b.iter(|| {
            i = (i + 160) % (codes.len() - 160);
            black_box(ours_u.process_ulaw(&codes[i..i + 160]).unwrap())
        })
    });
    let mut w =
        webrtc_vad::Vad::new_with_rate_and_mode(webrtc_vad::SampleRate::Rate8kHz, webrtc_vad::VadMode::VeryAggressive);
    g.bench_function("peer_webrtc-vad_mode3", |b| {
        b.iter(|| {
            i = (i + 160) % (x8.len() - 160);
            black_box(w.is_voice_segment(&x8[i..i + 160]).unwrap())
        })
    });
    let mut e = earshot::Detector::default();
    g.bench_function("peer_earshot_16k_16ms", |b| {
        b.iter(|| {
            i = (i + 256) % (x16.len() - 256);
            black_box(e.predict_i16(&x16[i..i + 256]))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = teledsp_benches::config();
    targets = bench
}
criterion_main!(benches);
