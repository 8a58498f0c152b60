//! The model adapters, one per speech-to-speech API: each parses its API's
//! events into [`ModelEvent`](super::ModelEvent)s and writes its requests
//! ([`ModelAdapter`](super::ModelAdapter)).

pub mod elevenlabs;
pub mod gemini;
pub mod openai;
