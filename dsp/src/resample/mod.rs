//! Streaming polyphase resampling between 8, 16, 24 and 48 kHz.
//!
//! See [`Resampler`]. One file per family: `polyphase.rs` is the only one
//! today; `design.rs` designs and measures its filters; `kernel.rs` is the
//! vectorised FIR.

mod design;
mod kernel;
mod polyphase;

pub use design::FilterReport;
pub use polyphase::{Quality, Resampler, SUPPORTED_RATES};
