//! The telephony adapters, one per protocol: each parses its provider's
//! media-stream messages into [`PhoneEvent`](super::PhoneEvent)s and writes
//! its replies ([`PhoneAdapter`](super::PhoneAdapter)).

pub mod exotel;
pub mod plivo;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
