//! One direction of a call's audio, from one [`Format`] to another: the
//! phone's codec and rate to the model's, or back. The path is chosen once,
//! at construction, from the two formats alone (never from the provider),
//! so every adapter pair uses the same resampler pairs and fused kernels:
//!
//! | from → to | path |
//! |---|---|
//! | the same format | passed through |
//! | mu-law ↔ A-law | the G.711 transcoding tables |
//! | G.711 → PCM16 at r | fused decode + resample (`process_from_ulaw`/`alaw`) |
//! | PCM16 at r → G.711 | fused resample + encode (`process_to_ulaw`/`alaw`) |
//! | PCM16 at r → PCM16 at s | the polyphase resampler |
//!
//! Scratch buffers grow to the largest chunk seen and are reused: no
//! allocation per frame once warm.

use crate::error::Error;
use crate::frame::Format;
use crate::resample::{Quality, Resampler};

/// Little-endian PCM16 bytes as samples, into `out` (resized).
pub(crate) fn le_samples(bytes: &[u8], out: &mut Vec<i16>) {
    out.clear();
    out.extend(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
}

/// Audio of `f` as PCM16 samples at its own rate, into `out` (resized).
pub(crate) fn decode(f: Format, bytes: &[u8], out: &mut Vec<i16>) {
    match f {
        Format::Pcm16 { .. } => le_samples(bytes, out),
        Format::Ulaw => {
            out.resize(bytes.len(), 0);
            crate::g711::ulaw_decode(bytes, out).expect("same lengths");
        }
        Format::Alaw => {
            out.resize(bytes.len(), 0);
            crate::g711::alaw_decode(bytes, out).expect("same lengths");
        }
    }
}

/// The RMS level of PCM16 samples, dBFS (-100 for digital silence).
pub(crate) fn dbfs(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return -100.0;
    }
    let sum: i64 = pcm.iter().map(|&s| i64::from(s).pow(2)).sum();
    let rms = (sum as f64 / pcm.len() as f64).sqrt();
    (20.0 * (rms.max(1e-5 * 32768.0) / 32768.0).log10()).max(-100.0) as f32
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Converter {
    from: Format,
    to: Format,
    /// `Some` when the rates differ.
    rs: Option<Resampler>,
    src: Vec<i16>,
    pcm: Vec<i16>,
}

impl Converter {
    pub fn new(from: Format, to: Format, quality: Quality) -> Result<Self, Error> {
        let rs = if from.rate() == to.rate() { None } else { Some(Resampler::new(from.rate(), to.rate(), quality)?) };
        Ok(Converter { from, to, rs, src: Vec::new(), pcm: Vec::new() })
    }

    pub fn from(&self) -> Format {
        self.from
    }

    pub fn to(&self) -> Format {
        self.to
    }

    /// Whether audio passes through unchanged.
    pub fn passthrough(&self) -> bool {
        self.from == self.to
    }

    /// Converts `input` (whole samples of `from`) and appends the result to `out`.
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let n0 = out.len();
        match (self.from, self.to, &mut self.rs) {
            (a, b, _) if a == b => out.extend_from_slice(input),
            (Format::Ulaw, Format::Alaw, _) => {
                out.resize(n0 + input.len(), 0);
                crate::g711::ulaw_to_alaw(input, &mut out[n0..])?;
            }
            (Format::Alaw, Format::Ulaw, _) => {
                out.resize(n0 + input.len(), 0);
                crate::g711::alaw_to_ulaw(input, &mut out[n0..])?;
            }
            // G.711 to PCM at another rate: decode fused with the resampler.
            (Format::Ulaw | Format::Alaw, Format::Pcm16 { .. }, Some(rs)) => {
                self.pcm.resize(rs.output_len(input.len()), 0);
                let n = if self.from == Format::Ulaw {
                    rs.process_from_ulaw(input, &mut self.pcm)?
                } else {
                    rs.process_from_alaw(input, &mut self.pcm)?
                };
                push_le(&self.pcm[..n], out);
            }
            // PCM at another rate to G.711: resampler fused with the encoder.
            (Format::Pcm16 { .. }, Format::Ulaw | Format::Alaw, Some(rs)) => {
                le_samples(input, &mut self.src);
                out.resize(n0 + rs.output_len(self.src.len()), 0);
                let n = if self.to == Format::Ulaw {
                    rs.process_to_ulaw(&self.src, &mut out[n0..])?
                } else {
                    rs.process_to_alaw(&self.src, &mut out[n0..])?
                };
                out.truncate(n0 + n);
            }
            (_, _, rs) => {
                decode(self.from, input, &mut self.src);
                let pcm: &[i16] = match rs {
                    Some(rs) => {
                        self.pcm.resize(rs.output_len(self.src.len()), 0);
                        let n = rs.process_i16(&self.src, &mut self.pcm)?;
                        &self.pcm[..n]
                    }
                    None => &self.src,
                };
                encode(self.to, pcm, out);
            }
        }
        Ok(())
    }

    /// As [`Converter::process`], given `input` already decoded to PCM16
    /// (`decoded`, as [`decode`] gives it): G.711 to PCM then skips the
    /// second decode (the same samples: decode, then resample, is what the
    /// fused path computes). Other paths take `input`.
    pub fn process_decoded(&mut self, input: &[u8], decoded: &[i16], out: &mut Vec<u8>) -> Result<(), Error> {
        match (self.from, self.to, &mut self.rs) {
            (Format::Ulaw | Format::Alaw, Format::Pcm16 { .. }, Some(rs)) => {
                self.pcm.resize(rs.output_len(decoded.len()), 0);
                let n = rs.process_i16(decoded, &mut self.pcm)?;
                push_le(&self.pcm[..n], out);
            }
            (Format::Ulaw | Format::Alaw, Format::Pcm16 { .. }, None) => push_le(decoded, out),
            _ => self.process(input, out)?,
        }
        Ok(())
    }

    /// The resampler's tail (its delay line drained with zeros), appended
    /// to `out` in `to`'s format; nothing when no resampler is involved.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if let Some(rs) = &mut self.rs {
            self.pcm.resize(rs.flush_len(), 0);
            let n = rs.flush_i16(&mut self.pcm).expect("sized by flush_len");
            encode(self.to, &self.pcm[..n], out);
        }
    }

    /// Forgets the audio so far (a barge-in): the next chunk starts afresh.
    pub fn reset(&mut self) {
        if let Some(rs) = &mut self.rs {
            rs.reset();
        }
    }
}

fn push_le(pcm: &[i16], out: &mut Vec<u8>) {
    // Sized once, then written in place: one capacity check, not one per
    // sample (it was a tenth of the engine's time per Twilio frame).
    let n0 = out.len();
    out.resize(n0 + pcm.len() * 2, 0);
    for (d, s) in out[n0..].chunks_exact_mut(2).zip(pcm) {
        d.copy_from_slice(&s.to_le_bytes());
    }
}

/// PCM16 samples in `f`, appended to `out`.
pub(crate) fn encode(f: Format, pcm: &[i16], out: &mut Vec<u8>) {
    let n0 = out.len();
    match f {
        Format::Pcm16 { .. } => push_le(pcm, out),
        Format::Ulaw => {
            out.resize(n0 + pcm.len(), 0);
            crate::g711::ulaw_encode(pcm, &mut out[n0..]).expect("same lengths");
        }
        Format::Alaw => {
            out.resize(n0 + pcm.len(), 0);
            crate::g711::alaw_encode(pcm, &mut out[n0..]).expect("same lengths");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Format; 6] = [
        Format::Ulaw,
        Format::Alaw,
        Format::Pcm16 { rate: 8000 },
        Format::Pcm16 { rate: 16000 },
        Format::Pcm16 { rate: 24000 },
        Format::Pcm16 { rate: 48000 },
    ];

    /// Every path agrees with the naive one: decode, resample as i16,
    /// encode; and the output length is exactly the resampler's promise.
    #[test]
    fn every_pair_matches_decode_resample_encode() {
        let tone: Vec<i16> = (0..4800).map(|i| ((i as f32 * 0.07).sin() * 9000.0) as i16).collect();
        for from in ALL {
            for to in ALL {
                let mut input = Vec::new();
                let src: Vec<i16> = tone.iter().step_by((48000 / from.rate()) as usize).copied().collect();
                encode(from, &src, &mut input);
                let mut c = Converter::new(from, to, Quality::Telephony).unwrap();
                let mut got = Vec::new();
                for chunk in input.chunks(from.width() * 37) {
                    c.process(chunk, &mut got).unwrap();
                }
                c.flush(&mut got);
                // The path given the chunks already decoded (the VAD's) too.
                let mut c = Converter::new(from, to, Quality::Telephony).unwrap();
                let (mut got_decoded, mut chunk_pcm) = (Vec::new(), Vec::new());
                for chunk in input.chunks(from.width() * 37) {
                    decode(from, chunk, &mut chunk_pcm);
                    c.process_decoded(chunk, &chunk_pcm, &mut got_decoded).unwrap();
                }
                c.flush(&mut got_decoded);
                assert_eq!(got_decoded, got, "{from:?} -> {to:?}, decoded once");
                let mut pcm = Vec::new();
                decode(from, &input, &mut pcm);
                let mut want = Vec::new();
                if from == to {
                    want = input.clone();
                } else if matches!((from, to), (Format::Ulaw, Format::Alaw) | (Format::Alaw, Format::Ulaw)) {
                    let mut t = vec![0; input.len()];
                    if from == Format::Ulaw {
                        crate::g711::ulaw_to_alaw(&input, &mut t).unwrap();
                    } else {
                        crate::g711::alaw_to_ulaw(&input, &mut t).unwrap();
                    }
                    want = t;
                } else {
                    let out_pcm = if from.rate() == to.rate() {
                        pcm
                    } else {
                        let mut rs = Resampler::new(from.rate(), to.rate(), Quality::Telephony).unwrap();
                        let mut v = rs.process_i16_vec(&pcm);
                        v.extend(rs.flush_i16_vec());
                        v
                    };
                    encode(to, &out_pcm, &mut want);
                }
                assert_eq!(got, want, "{from:?} -> {to:?}");
            }
        }
    }
}
