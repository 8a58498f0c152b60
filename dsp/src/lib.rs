#![doc = include_str!("../README.md")]
// The published crate documents every public item (the workspace lints
// apply to all crates; this one is the library's own).
#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs` (see Cargo.toml): feature-gated items
// say which feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "audioop")]
#[cfg_attr(docsrs, doc(cfg(feature = "audioop")))]
pub mod audioop;
#[cfg(feature = "call")]
#[cfg_attr(docsrs, doc(cfg(feature = "call")))]
pub mod bridge;
#[cfg(feature = "call")]
#[cfg_attr(docsrs, doc(cfg(feature = "call")))]
pub mod call;
#[cfg(feature = "echo")]
#[cfg_attr(docsrs, doc(cfg(feature = "echo")))]
pub mod echo;
mod error;
#[cfg(feature = "frame")]
#[cfg_attr(docsrs, doc(cfg(feature = "frame")))]
pub mod frame;
pub mod g711;
pub mod isa;
pub mod pcm;
#[cfg(feature = "providers")]
#[cfg_attr(docsrs, doc(cfg(feature = "providers")))]
pub mod providers;
#[cfg(feature = "resample")]
#[cfg_attr(docsrs, doc(cfg(feature = "resample")))]
pub mod resample;
#[cfg(feature = "signature")]
#[cfg_attr(docsrs, doc(cfg(feature = "signature")))]
pub mod signature;
#[cfg(feature = "vad")]
#[cfg_attr(docsrs, doc(cfg(feature = "vad")))]
pub mod vad;

pub use error::{Error, ErrorKind, Expected};
pub use isa::Isa;
