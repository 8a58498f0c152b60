//! Little-endian PCM bytes as samples, for callers that hold audio as bytes
//! (wire payloads, Python `bytes`, Node `Buffer`s) of any alignment.
//!
//! Aligned bytes are viewed in place; unaligned ones go through one copy.
//! The results are the same either way.

use std::borrow::Cow;

/// PCM16LE bytes as samples: borrowed when aligned, else copied. A trailing
/// odd byte is ignored (check lengths first: see [`crate::Error::InvalidLength`]).
///
/// ```
/// let s = teledsp::pcm::i16_le(&[0x01, 0x00, 0xff, 0x7f]);
/// assert_eq!(&*s, &[1, 32767]);
/// ```
pub fn i16_le(bytes: &[u8]) -> Cow<'_, [i16]> {
    match bytemuck::try_cast_slice(&bytes[..bytes.len() / 2 * 2]) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()),
    }
}

/// Native (little-endian) f32 bytes as samples: borrowed when aligned, else copied.
///
/// ```
/// let bytes = 1.5f32.to_le_bytes();
/// assert_eq!(&*teledsp::pcm::f32_le(&bytes), &[1.5]);
/// ```
pub fn f32_le(bytes: &[u8]) -> Cow<'_, [f32]> {
    match bytemuck::try_cast_slice(&bytes[..bytes.len() / 4 * 4]) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
    }
}

/// Runs `f` on `out` viewed as i16 samples: in place when aligned, else
/// through a scratch copy written back afterwards.
///
/// ```
/// let mut out = [0u8; 4];
/// teledsp::pcm::with_i16_le_mut(&mut out, |s| s.copy_from_slice(&[1, -1]));
/// assert_eq!(out, [1, 0, 0xff, 0xff]);
/// ```
pub fn with_i16_le_mut<R>(out: &mut [u8], f: impl FnOnce(&mut [i16]) -> R) -> R {
    with_mut(out, f)
}

/// As [`with_i16_le_mut`], for f32 samples.
///
/// ```
/// let mut out = [0u8; 4];
/// teledsp::pcm::with_f32_le_mut(&mut out, |s| s[0] = 1.0);
/// assert_eq!(out, 1.0f32.to_le_bytes());
/// ```
pub fn with_f32_le_mut<R>(out: &mut [u8], f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_mut(out, f)
}

fn with_mut<T: bytemuck::Pod + Default + Clone, R>(out: &mut [u8], f: impl FnOnce(&mut [T]) -> R) -> R {
    let size = size_of::<T>();
    let whole = out.len() / size * size;
    let out = &mut out[..whole];
    match bytemuck::try_cast_slice_mut(out) {
        Ok(s) => f(s),
        Err(_) => {
            let mut tmp = vec![T::default(); whole / size];
            let r = f(&mut tmp);
            out.copy_from_slice(bytemuck::cast_slice(&tmp));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_views_equal_aligned_ones() {
        let data: Vec<u8> = (0..41u8).collect();
        for start in 0..2 {
            let b = &data[start..start + 32];
            let want: Vec<i16> = b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
            assert_eq!(&*i16_le(b), &want[..]);
        }
        let mut buf = [0u8; 33];
        for start in 0..2 {
            with_i16_le_mut(&mut buf[start..start + 8], |s| s.copy_from_slice(&[1, 2, 3, -4]));
            assert_eq!(&buf[start..start + 8], &[1, 0, 2, 0, 3, 0, 0xfc, 0xff]);
        }
    }
}
