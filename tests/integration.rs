//! surge's integration tests, one binary (ripgrep's layout): each module drives the `surge` binary
//! or the embedded exchange end to end, as a user or CI does; `util` holds what they share
//! (running `surge`, a separate `surge exchange` process, temporary directories). One binary links
//! once instead of once per file, and lets `cargo test NAME` pick tests across files.

mod util;

mod cli_capacity;
mod cli_check_trace;
mod cli_connections;
mod cli_cracks;
mod cli_cracks_shaped;
mod cli_data;
mod cli_faults;
mod cli_from_har;
mod cli_gate;
mod cli_goose_report;
mod cli_knee;
mod cli_marketplace;
mod cli_open_model;
mod cli_report;
mod cli_run_dir;
mod cli_shards;
mod cli_signals;
mod cli_smoke;
mod cli_spikes;
mod cli_steps;
mod cli_usage;
mod exchange_hardening;
mod exchange_http;
mod exchange_router_api;
mod exchange_router_faults;
mod har_chromium;
mod hostile_target;
mod no_input_panics;
