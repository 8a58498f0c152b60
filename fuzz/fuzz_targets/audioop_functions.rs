//! Every `teledsp::audioop` function on arbitrary fragments, widths (valid
//! or not), factors and states, including ratecv states a caller made up:
//! no panic, errors instead, and output sizes as audioop's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::audioop as ao;

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (head, frag) = data.split_at(12);
    let width = (head[0] % 6) as i32; // 0..=5: invalid ones too
    let factor = f64::from(i16::from_le_bytes([head[1], head[2]])) / 256.0;
    let bias = i32::from_le_bytes([head[3], head[4], head[5], head[6]]);
    let d = i32::from(i16::from_le_bytes([head[7], head[8]]));
    let nch = i32::from(head[9] % 4);
    let rates = [8000, 11025, 16000, 24000, 44100, 48000, 1, 0];
    let (inrate, outrate) = (rates[(head[10] % 8) as usize], rates[(head[11] % 8) as usize]);

    if let Ok(out) = ao::mul(frag, width, factor) {
        assert_eq!(out.len(), frag.len());
    }
    if let Ok(out) = ao::tomono(frag, width, factor, -factor) {
        assert_eq!(out.len(), frag.len() / 2);
    }
    if let Ok(out) = ao::tostereo(frag, width, factor, 1.0) {
        assert_eq!(out.len(), frag.len() * 2);
    }
    let _ = ao::add(frag, frag, width);
    let _ = ao::bias(frag, width, bias);
    let _ = ao::reverse(frag, width);
    let _ = ao::byteswap(frag, width);
    let _ = ao::lin2lin(frag, width, (head[1] % 6) as i32);
    let _ = (ao::max(frag, width), ao::minmax(frag, width), ao::avg(frag, width), ao::rms(frag, width));
    let _ = (ao::avgpp(frag, width), ao::maxpp(frag, width), ao::cross(frag, width));
    let _ = ao::getsample(frag, width, bias as isize);
    let _ =
        (ao::lin2ulaw(frag, width), ao::lin2alaw(frag, width), ao::ulaw2lin(frag, width), ao::alaw2lin(frag, width));
    let adpcm_state = Some((d, i32::from(head[9]) - 5));
    let _ = ao::lin2adpcm(frag, width, adpcm_state);
    let _ = ao::adpcm2lin(frag, width, adpcm_state);
    let _ = ao::findfit(frag, &frag[..frag.len() / 3]);
    let _ = ao::findfactor(frag, frag);
    let _ = ao::findmax(frag, bias as isize % 64);
    let state = ao::RatecvState { d, samples: vec![(bias, bias.wrapping_neg()); nch.max(0) as usize] };
    let _ =
        ao::ratecv(frag, width, nch, inrate, outrate, Some(&state), 1 + i32::from(head[1] % 3), i32::from(head[2] % 3));
    let _ = ao::ratecv(frag, width, nch, inrate, outrate, None, 1, 0);
});
