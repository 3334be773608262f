//! surge: rehearse a launch morning.
//!
//! The crate has two worlds that talk only over HTTP:
//! - the harness (`scenario` → `plan` → `engine` + `journeys` → `measure` → `summary`), built on Goose;
//! - the embedded staging `exchange`, an axum server that behaves like a health-insurance exchange and its insurers.

pub mod exchange;
