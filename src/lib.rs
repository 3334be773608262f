//! surge: rehearse a launch morning.
//!
//! The modules stand in layers, each importing only its own layer and those below (the list is
//! `LAYERS` in `scripts/check-structure.py`, which CI runs; the README shows it), bottom up:
//! - leaves: [`units`] (durations, clock times, shares), [`vocab`] (step, stage, outcome),
//!   [`histogram`] (HdrHistogram as surge keeps it), [`logging`], [`access`] (what every request
//!   to the target carries, and the secrets never written), [`behaviour`] (the embedded exchange's
//!   capacity and faults, which a scenario's `[exchange]` section holds);
//! - [`rundir`] (every file of a run directory) → [`scenario`] (the file, as data, with located
//!   errors) → [`plan`] (arrivals and visitors from the seed) and [`journey_file`] (what visitors
//!   do, compiled) → [`measure`] (histograms, funnel) → [`journeys`] (a visit walking its journey)
//!   → [`recording`] (journey files from a browser's recording) → [`engine`] (Goose) →
//!   [`monitor`] (writes the run directory while the run goes) and [`metrics`] (Prometheus);
//! - after the run, reading the run directory: [`knee`], [`spikes`], [`gate`] (verdicts),
//!   [`cracks`] (applicants × the insurers' 834s), [`report`] (charts, pages, tables), [`merge`],
//!   [`replay`], [`capacity`];
//! - the embedded staging [`exchange`]: an axum server that behaves like a health-insurance
//!   exchange and its insurers; it imports only the leaves, nothing of the harness imports it but
//!   the two layers above, and the journeys talk to it only over HTTP;
//! - [`cli`] (clap definitions) and [`commands`] (each command as stages; the one place that turns
//!   errors into exit codes).

// First: the modules below print with its `say!` and `sayln!`.
#[macro_use]
pub mod logging;

pub mod access;
pub mod behaviour;
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
