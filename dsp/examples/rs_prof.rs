use teledsp::resample::{Quality, Resampler};
fn main() {
    let down = std::env::args().nth(1).is_some();
    let (fi, fo) = if down { (24000, 8000) } else { (8000, 24000) };
    let mut r = Resampler::new(fi, fo, Quality::Telephony).unwrap();
    let x: Vec<i16> = (0..fi / 50).map(|i| (i * 100) as i16).collect();
    let mut o = vec![0i16; fo as usize / 50];
    for _ in 0..2_000_000 {
        r.process_i16(std::hint::black_box(&x), &mut o).unwrap();
    }
    std::hint::black_box(&o);
}
