//! Exact frames from arbitrarily sized chunks: 20 ms of mu-law for Twilio,
//! whatever sizes the model's audio deltas arrive in.
//!
//! Frames that lie wholly inside a pushed chunk are handed out as slices of
//! it (zero-copy); only a frame that straddles two chunks is assembled in
//! the framer's own buffer, which is allocated once at construction.

use crate::error::{Error, Expected};

/// What the bytes are: decides the frame size and the silence to pad with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// G.711 mu-law at 8 kHz, one byte per sample; silence is 0xFF.
    Ulaw,
    /// G.711 A-law at 8 kHz, one byte per sample; silence is 0xD5.
    Alaw,
    /// PCM16 little-endian at `rate` Hz (8, 16, 24 or 48 kHz); silence is 0.
    Pcm16 {
        /// Sample rate, Hz.
        rate: u32,
    },
}

impl Format {
    /// Bytes per sample: 1 for G.711, 2 for PCM16.
    ///
    /// ```
    /// use teledsp::frame::Format;
    /// assert_eq!((Format::Ulaw.width(), Format::Pcm16 { rate: 16000 }.width()), (1, 2));
    /// ```
    pub fn width(self) -> usize {
        match self {
            Format::Pcm16 { .. } => 2,
            _ => 1,
        }
    }
    /// Samples per second: 8000 for G.711.
    ///
    /// ```
    /// use teledsp::frame::Format;
    /// assert_eq!((Format::Alaw.rate(), Format::Pcm16 { rate: 24000 }.rate()), (8000, 24000));
    /// ```
    pub fn rate(self) -> u32 {
        match self {
            Format::Pcm16 { rate } => rate,
            _ => 8000,
        }
    }
    /// The byte that encodes silence in this format.
    pub fn silence(self) -> u8 {
        match self {
            Format::Ulaw => 0xFF,
            Format::Alaw => 0xD5,
            Format::Pcm16 { .. } => 0,
        }
    }
}

/// How [`Framer::flush`] treats a last partial frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Pad it to a whole frame with the format's silence (or the byte set
    /// with [`Framer::with_pad`]).
    Pad,
    /// Return it as it is, short.
    Short,
}

/// Turns a byte stream into exact frames, carrying the remainder.
///
/// ```
/// use teledsp::frame::{Flush, Format, Framer};
/// let mut f = Framer::new(Format::Ulaw, 20)?; // 160-byte frames
/// let mut frames = Vec::new();
/// f.push(&[0x7F; 250], |frame| frames.push(frame.to_vec()));
/// f.push(&[0x7F; 100], |frame| frames.push(frame.to_vec()));
/// assert_eq!(frames.len(), 2);                  // 350 bytes: two frames, 30 carried
/// assert_eq!(f.pending(), 30);
/// let last = f.flush(Flush::Pad).unwrap();      // padded with mu-law silence
/// assert_eq!((last.len(), last[29], last[30]), (160, 0x7F, 0xFF));
/// assert_eq!(f.next_timestamp_ms(), 60.0);
/// # Ok::<(), teledsp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Framer {
    format: Format,
    frame_bytes: usize,
    pad: u8,
    buf: Vec<u8>,
    /// What the last flush returned.
    out: Vec<u8>,
    frames: u64,
}

impl Framer {
    /// Frame durations a framer accepts, ms.
    pub const FRAME_MS: [u32; 5] = [10, 20, 30, 40, 50];

    /// A framer for `frame_ms` (10, 20, 30, 40 or 50) frames of `format`.
    pub fn new(format: Format, frame_ms: u32) -> Result<Self, Error> {
        if !Self::FRAME_MS.contains(&frame_ms) {
            return Err(Error::UnsupportedFrame { frame_ms, supported: &Self::FRAME_MS });
        }
        if let Format::Pcm16 { rate } = format
            && !crate::resample::SUPPORTED_RATES.contains(&rate)
        {
            return Err(Error::UnsupportedRate { rate, out_rate: None, supported: &crate::resample::SUPPORTED_RATES });
        }
        let frame_bytes = format.rate() as usize * frame_ms as usize / 1000 * format.width();
        Self::with_frame_bytes(format, frame_bytes)
    }

    /// A framer for frames of exactly `frame_bytes` bytes of `format`, for
    /// sizes that are not a whole number of ms (or for callers that think in
    /// bytes). `frame_bytes` must be a positive whole number of samples.
    ///
    /// ```
    /// use teledsp::frame::{Flush, Format, Framer};
    /// let mut f = Framer::with_frame_bytes(Format::Pcm16 { rate: 24000 }, 4)?.with_pad(0x55);
    /// assert_eq!(f.push_vec(&[1, 2, 3, 4, 5, 6]), vec![vec![1, 2, 3, 4]]);
    /// assert_eq!(f.flush(Flush::Pad), Some(&[5, 6, 0x55, 0x55][..]));
    /// assert!(Framer::with_frame_bytes(Format::Pcm16 { rate: 24000 }, 3).is_err());
    /// # Ok::<(), teledsp::Error>(())
    /// ```
    pub fn with_frame_bytes(format: Format, frame_bytes: usize) -> Result<Self, Error> {
        let sample = format.width();
        if frame_bytes == 0 || !frame_bytes.is_multiple_of(sample) {
            return Err(Error::InvalidLength {
                what: "frame size",
                expected: Expected::MultipleOf(sample),
                actual: frame_bytes,
            });
        }
        Ok(Framer {
            format,
            frame_bytes,
            pad: format.silence(),
            buf: Vec::with_capacity(frame_bytes),
            out: Vec::with_capacity(frame_bytes),
            frames: 0,
        })
    }

    /// Pads with `byte` instead of the format's silence on [`Flush::Pad`].
    pub fn with_pad(mut self, byte: u8) -> Self {
        self.pad = byte;
        self
    }

    /// Bytes per frame (160 for 20 ms of mu-law, 960 for 20 ms of 24 kHz PCM16).
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// The format being framed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes carried over, waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Whole frames emitted so far.
    pub fn frames_emitted(&self) -> u64 {
        self.frames
    }

    /// Samples in the frames emitted so far.
    pub fn samples_emitted(&self) -> u64 {
        self.frames * (self.frame_bytes / self.format.width()) as u64
    }

    /// Start time of the next frame, ms from the start of the stream.
    pub fn next_timestamp_ms(&self) -> f64 {
        self.samples_emitted() as f64 * 1000.0 / self.format.rate() as f64
    }

    /// Feeds a chunk of any size; calls `emit` once per completed frame, in
    /// order. Frames inside `chunk` are passed as slices of it.
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        let n = self.frame_bytes;
        if !self.buf.is_empty() {
            let take = (n - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.buf.len() < n {
                return;
            }
            emit(&self.buf);
            self.buf.clear();
            self.frames += 1;
        }
        let mut frames = chunk.chunks_exact(n);
        for frame in &mut frames {
            emit(frame);
            self.frames += 1;
        }
        self.buf.extend_from_slice(frames.remainder());
    }

    /// Allocating form of [`Framer::push`]: the completed frames, copied.
    pub fn push_vec(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.push(chunk, |f| out.push(f.to_vec()));
        out
    }

    /// Ends the stream: the carried partial frame, padded with silence or
    /// short as asked, or `None` if nothing is pending.
    pub fn flush(&mut self, mode: Flush) -> Option<&[u8]> {
        if self.buf.is_empty() {
            return None;
        }
        if mode == Flush::Pad {
            self.buf.resize(self.frame_bytes, self.pad);
            self.frames += 1;
        }
        // Hand out the carried bytes and start the next push clean; both
        // buffers were allocated at construction.
        core::mem::swap(&mut self.buf, &mut self.out);
        self.buf.clear();
        Some(&self.out)
    }

    /// Drops any carried bytes and restarts the timestamps.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.frames = 0;
    }
}
