//! Echo canceller cost per 20 ms frame at 8 kHz (default settings: 640 ms
//! of delay search, a 200 ms filter, the suppressor), converged on a
//! speech-like far end through a short echo path, every instruction set
//! this CPU has (they give the same bits).
//!
//! `cargo bench -p teledsp-benches --bench echo`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teledsp::Isa;
use teledsp::echo::{EchoCanceller, EchoConfig};

fn bench(c: &mut Criterion) {
    let far = teledsp_benches::speechlike(8000 * 4, 8000.0);
    // The echo: 100 ms later, 6 dB down.
    let near: Vec<i16> = (0..far.len()).map(|i| if i >= 800 { far[i - 800] / 2 } else { 0 }).collect();
    let mut g = c.benchmark_group("echo/frame_20ms_8k");
    g.throughput(Throughput::Elements(1));
    for isa in Isa::available() {
        let mut aec = EchoCanceller::with_isa(EchoConfig::default(), isa).unwrap();
        let mut out = [0i16; 160];
        // Converged first: the steady state is what a call pays.
        for (f, d) in far.chunks_exact(160).zip(near.chunks_exact(160)) {
            aec.process(f, d, &mut out).unwrap();
        }
        let mut i = 0;
        g.bench_function(isa.name(), |b| {
            b.iter(|| {
                i = (i + 160) % (far.len() - 160);
                aec.process(&far[i..i + 160], &near[i..i + 160], &mut out).unwrap();
                black_box(out[0])
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = teledsp_benches::config(); targets = bench }
criterion_main!(benches);
