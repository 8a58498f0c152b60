//! `teledsp-relay`: the reference relay between Twilio Media Streams and the
//! OpenAI Realtime API, with teledsp doing the audio.
//!
//! Every protocol decision is `teledsp::call`'s; this crate is I/O.
//!
//! - [`server`]: `serve`, the axum server Twilio talks to;
//! - [`metrics`]: Prometheus metrics;
//! - [`fake_openai`]: a faithful local OpenAI Realtime server for offline runs;
//! - [`caller`]: a simulated Twilio caller (the demo's and the load test's);
//! - [`demo`], [`loadtest`], [`soak`]: the subcommands of the same names.

#[cfg(feature = "runtime")]
pub mod caller;
#[cfg(feature = "runtime")]
pub mod demo;
#[cfg(feature = "runtime")]
pub mod fake_models;
#[cfg(feature = "runtime")]
pub mod fake_openai;
#[cfg(feature = "runtime")]
pub mod loadtest;
#[cfg(feature = "runtime")]
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod providers;
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
pub mod soak;
