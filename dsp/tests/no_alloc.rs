//! Hot paths never allocate: a counting global allocator watches the
//! G.711 kernels and the resampler after construction.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    f();
    ALLOCS.load(Ordering::Relaxed) - before
}

#[test]
fn hot_paths_do_not_allocate() {
    use teledsp::resample::{Quality, Resampler};
    let pcm8 = vec![1234i16; 160];
    let pcm24 = vec![-999i16; 480];
    let mut codes = vec![0u8; 160];
    let mut lin = vec![0i16; 160];
    let mut up_out = vec![0i16; 480 * 100];
    let mut down_out = vec![0u8; 160];
    let mut resamplers: Vec<Resampler> = Quality::ALL
        .into_iter()
        .flat_map(|q| [Resampler::new(8000, 24000, q).unwrap(), Resampler::new(24000, 8000, q).unwrap()])
        .collect();
    let big = vec![5i16; 160 * 100];
    let mut vads = [teledsp::vad::Vad::new(8000, 20).unwrap(), teledsp::vad::Vad::new(24000, 20).unwrap()];
    let mut framer = teledsp::frame::Framer::new(teledsp::frame::Format::Ulaw, 20).unwrap();
    let deltas: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    // One call each first, so lazily initialised runtime state (CPU feature
    // detection) is not counted.
    teledsp::g711::ulaw_encode(&pcm8, &mut codes).unwrap();
    let n = allocations(|| {
        for _ in 0..100 {
            teledsp::g711::ulaw_encode(&pcm8, &mut codes).unwrap();
            teledsp::g711::alaw_encode(&pcm8, &mut codes).unwrap();
            teledsp::g711::ulaw_decode(&codes, &mut lin).unwrap();
            teledsp::g711::ulaw_to_alaw(&codes, &mut down_out).unwrap();
            vads[0].process(&pcm8).unwrap();
            vads[0].process_ulaw(&codes).unwrap();
            vads[1].process(&pcm24).unwrap();
            let mut sent = 0;
            framer.push(&deltas[..337], |f| sent += f.len());
            framer.flush(teledsp::frame::Flush::Pad);
            for r in resamplers.iter_mut() {
                if r.in_rate() == 8000 {
                    r.process_i16(&pcm8, &mut up_out).unwrap();
                    r.process_from_ulaw(&codes, &mut up_out).unwrap();
                    r.process_i16(&big, &mut up_out).unwrap();
                } else {
                    r.process_to_ulaw(&pcm24, &mut down_out).unwrap();
                }
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations on the hot path");
}
