//! Framer invariants: any chunking yields the same frames; nothing lost,
//! nothing duplicated; flush pads with the right silence.

use proptest::prelude::*;
use teledsp::Error;
use teledsp::frame::{Flush, Format, Framer};

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::Ulaw),
        Just(Format::Alaw),
        (0usize..4).prop_map(|i| Format::Pcm16 { rate: teledsp::resample::SUPPORTED_RATES[i] }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_gives_the_same_frames_and_loses_nothing(
        fmt in format(),
        ms in prop::sample::select(vec![10u32, 20, 30, 40, 50]),
        data in proptest::collection::vec(any::<u8>(), 0..8000),
        sizes in proptest::collection::vec(0usize..3000, 1..10),
    ) {
        let mut one = Framer::new(fmt, ms).unwrap();
        let whole = one.push_vec(&data);
        let mut f = Framer::new(fmt, ms).unwrap();
        let mut got = Vec::new();
        // Zero sizes are empty pushes; if every size is zero, the rest goes in one (else this never ends).
        let all_zero = sizes.iter().all(|&s| s == 0);
        let (mut at, mut i) = (0, 0);
        while at < data.len() {
            let n = if all_zero { data.len() - at } else { sizes[i % sizes.len()].min(data.len() - at) };
            f.push(&data[at..at + n], |fr| got.push(fr.to_vec()));
            at += n;
            i += 1;
        }
        prop_assert_eq!(&got, &whole);
        let n = f.frame_bytes();
        prop_assert!(got.iter().all(|fr| fr.len() == n));
        // Frames plus the carried remainder are exactly the input, in order.
        let mut all: Vec<u8> = got.concat();
        prop_assert_eq!(f.pending(), data.len() % n);
        let tail = f.flush(Flush::Short).map(|t| t.to_vec()).unwrap_or_default();
        all.extend_from_slice(&tail);
        prop_assert_eq!(all, data);
        prop_assert_eq!(f.frames_emitted(), got.len() as u64);
    }
}

#[test]
fn frame_sizes_per_format() {
    assert_eq!(Framer::new(Format::Ulaw, 20).unwrap().frame_bytes(), 160);
    assert_eq!(Framer::new(Format::Alaw, 10).unwrap().frame_bytes(), 80);
    assert_eq!(Framer::new(Format::Pcm16 { rate: 24000 }, 20).unwrap().frame_bytes(), 960);
    assert_eq!(Framer::new(Format::Pcm16 { rate: 16000 }, 50).unwrap().frame_bytes(), 1600);
}

#[test]
fn flush_pads_with_the_formats_silence() {
    for (fmt, silence) in [(Format::Ulaw, 0xFF), (Format::Alaw, 0xD5), (Format::Pcm16 { rate: 8000 }, 0x00)] {
        let mut f = Framer::new(fmt, 20).unwrap();
        f.push(&[0x11; 7], |_| panic!("no whole frame yet"));
        let frame = f.flush(Flush::Pad).unwrap().to_vec();
        assert_eq!(frame.len(), f.frame_bytes());
        assert!(frame[..7].iter().all(|&b| b == 0x11));
        assert!(frame[7..].iter().all(|&b| b == silence), "{fmt:?}");
        assert_eq!(f.frames_emitted(), 1);
        assert_eq!(f.flush(Flush::Pad), None);
    }
}

#[test]
fn timestamps_follow_emitted_samples() {
    let mut f = Framer::new(Format::Pcm16 { rate: 24000 }, 20).unwrap();
    let mut stamps = Vec::new();
    for _ in 0..5 {
        let t = f.next_timestamp_ms();
        f.push(&[0; 960], |_| stamps.push(t));
    }
    assert_eq!(stamps, [0.0, 20.0, 40.0, 60.0, 80.0]);
    assert_eq!(f.samples_emitted(), 2400);
    f.reset();
    assert_eq!((f.next_timestamp_ms(), f.pending()), (0.0, 0));
}

#[test]
fn middle_frames_are_zero_copy_slices_of_the_chunk() {
    let mut f = Framer::new(Format::Ulaw, 20).unwrap();
    f.push(&[1; 100], |_| {});
    let chunk = vec![2u8; 500];
    let range = chunk.as_ptr_range();
    let mut inside = Vec::new();
    f.push(&chunk, |fr| inside.push(range.contains(&fr.as_ptr())));
    // The first frame straddles the two chunks (copied); the rest are slices.
    assert_eq!(inside, [false, true, true]);
}

#[test]
fn bad_configuration_is_an_error() {
    assert_eq!(
        Framer::new(Format::Ulaw, 25).unwrap_err(),
        Error::UnsupportedFrame { frame_ms: 25, supported: &Framer::FRAME_MS }
    );
    assert!(Framer::new(Format::Ulaw, 25).unwrap_err().to_string().contains("10, 20, 30, 40, 50"));
    assert!(matches!(
        Framer::new(Format::Pcm16 { rate: 44100 }, 20),
        Err(Error::UnsupportedRate { rate: 44100, out_rate: None, .. })
    ));
}
