//! `teledsp-sim`: the test rig of `teledsp-relay`, in a crate of its own so
//! the production binary carries none of it (`publish = false`).
//!
//! - [`fake_openai`]: a faithful local OpenAI Realtime server for offline runs;
//! - [`fake_models`]: the same for Gemini Live and ElevenLabs Agents;
//! - [`caller`]: a simulated phone caller of every telephony protocol (the
//!   demo's, the tests' and the load test's), playing what it gets 20 ms
//!   per 20 ms after a jitter-buffer delay;
//! - [`demo`], [`loadtest`], [`soak`]: the subcommands of the same names.

pub mod caller;
pub mod demo;
pub mod fake_models;
pub mod fake_openai;
pub mod loadtest;
pub mod soak;
