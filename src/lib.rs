//! surge: rehearse a launch morning.
//!
//! Two worlds that talk only over HTTP:
//! - the harness: [`scenario`] (the file) → [`plan`] (visitors from the seed) → [`engine`] (Goose pool)
//!   running [`journeys`] → [`measure`] (histograms, funnel) → [`summary`] (summary.json, tables),
//!   wired together by [`run`] and [`cli`];
//! - the embedded staging [`exchange`]: an axum server that behaves like a health-insurance exchange
//!   and its insurers.

pub mod cli;
pub mod cracks;
pub mod engine;
pub mod exchange;
pub mod gate;
pub mod journeys;
pub mod logging;
pub mod measure;
pub mod monitor;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod summary;
pub mod units;
pub mod vocab;
