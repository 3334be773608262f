//! surge: rehearse a launch morning.
//!
//! Data flows one way, down this list (`scripts/check-structure.py` checks it):
//! - leaves, importing nothing of the crate: [`units`] (durations, clock times, shares), [`vocab`]
//!   (step, stage, outcome), [`histogram`] (HdrHistogram as surge keeps it);
//! - the embedded staging [`exchange`]: an axum server that behaves like a health-insurance exchange
//!   and its insurers; it imports only the leaves, and the harness talks to it only over HTTP;
//! - [`scenario`] (the file, as data, with located errors) → [`plan`] (arrivals and visitors from
//!   the seed) and [`journey_file`] (what visitors do, compiled) → [`engine`] (Goose) running
//!   [`journeys`] → [`measure`] (histograms, funnel) →
//!   [`rundir`] (every file of a run directory) ← [`monitor`] (writes it while the run goes);
//! - after the run, reading only the run directory: [`gate`] (verdicts), [`report`] (charts, pages,
//!   tables), [`cracks`] (applicants × the insurers' 834s);
//! - [`cli`] (clap definitions) and [`commands`] (each command as stages; the one place that turns
//!   errors into exit codes).

// First: the modules below print with its `say!` and `sayln!`.
#[macro_use]
pub mod logging;

pub mod capacity;
pub mod cli;
pub mod commands;
pub mod cracks;
pub mod engine;
pub mod exchange;
pub mod gate;
pub mod histogram;
pub mod journey_file;
pub mod journeys;
pub mod knee;
pub mod measure;
pub mod merge;
pub mod metrics;
pub mod monitor;
pub mod plan;
pub mod recording;
pub mod replay;
pub mod report;
pub mod rundir;
pub mod scenario;
pub mod spikes;
pub mod units;
pub mod vocab;
