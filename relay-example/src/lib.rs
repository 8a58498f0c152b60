//! `teledsp-relay`: the reference relay between phone media streams
//! (Twilio, Telnyx, Plivo, Vonage, Exotel, SignalWire) and speech-to-speech
//! models (OpenAI, Azure, Gemini Live, ElevenLabs), with teledsp doing the
//! audio.
//!
//! Every protocol decision is `teledsp::call`'s; this crate is I/O.
//!
//! - [`server`]: `serve`, the axum server the phone provider talks to;
//! - the answer webhooks' paths, documents and signatures are the
//!   library's (`teledsp::providers`), shared with the Python and Node relays;
//! - [`metrics`]: Prometheus metrics;
//! - [`process`]: logging and shutdown signals.
//!
//! Its test rig (fake models, simulated callers, demo, load test, soak) is
//! the separate, unpublished `teledsp-sim` crate.

#[cfg(feature = "runtime")]
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod process;
#[cfg(feature = "runtime")]
pub mod server;
