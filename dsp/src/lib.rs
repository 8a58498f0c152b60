//! # teledsp
//!
//! The audio core of a phone-call voice agent: everything between Twilio's
//! 8 kHz G.711 and a model's 24 kHz PCM16, done exactly and fast.
//!
//! | module | what it does |
//! |---|---|
//! | [`g711`] | ITU-exact mu-law / A-law encode, decode and transcode, SIMD per ISA |
//! | [`resample`] | streaming polyphase resampling 8/16/24/48 kHz, exact output sizes, fused G.711 paths |
//! | [`frame`] | exact 10-50 ms frames from arbitrary chunks, zero-copy where possible |
//! | [`vad`] | per-frame speech probability and speech start/end events for barge-in |
//! | [`call`] | the call engine: one call's protocol state, sans I/O (barge-in, playout, tools) |
//! | [`signature`] | Twilio's `X-Twilio-Signature` check (feature `signature`, on by default) |
//! | [`bridge`] | Twilio Media Streams <-> OpenAI Realtime messages, one call per message |
//! | [`isa`] | runtime instruction-set detection shared by every kernel |
//!
//! Every kernel family has a scalar reference and one module per instruction
//! set beside it; the dispatched path is tested bit-for-bit against the
//! scalar one. Slice-in, slice-out functions never allocate.
//!
//! ```
//! let ulaw = teledsp::g711::ulaw_encode_vec(&[0, 8159, -8159]);
//! assert_eq!(teledsp::g711::ulaw_decode_vec(&ulaw), [0, 8316, -8316]);
//! ```

#![deny(missing_docs)]

#[cfg(feature = "audioop")]
pub mod audioop;
#[cfg(feature = "call")]
pub mod bridge;
#[cfg(feature = "call")]
pub mod call;
mod error;
#[cfg(feature = "frame")]
pub mod frame;
pub mod g711;
pub mod isa;
pub mod pcm;
#[cfg(feature = "resample")]
pub mod resample;
#[cfg(feature = "signature")]
pub mod signature;
#[cfg(feature = "vad")]
pub mod vad;

pub use error::{Error, ErrorKind, Expected};
pub use isa::Isa;
