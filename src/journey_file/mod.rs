//! The journey file: what visitors do, as data. A TOML file the scenario names (`journeys = …`)
//! declares the journeys (name, mix weight, the requests they make in order) and each request: the
//! funnel step it is measured under, method, URL template, headers, query, body, accepted statuses,
//! checks, captures, repetition, think time and the funnel stage it proves. Templates are minijinja,
//! compiled once here; nothing of a journey is compiled into surge.
//!
//! This module reads and checks the file ([`spec`], plain data as written) and compiles it into a
//! [`Program`] ([`program`]) the journeys run. Every problem names the file, the line and the key.

mod compile;
pub mod json;
mod native;
pub mod program;
pub mod spec;
pub mod template;

use std::path::PathBuf;

pub use program::Program;

use crate::scenario::{resolve, Scenario, ScenarioError, Source};

/// The journey file shipped for the embedded exchange: used when a scenario names none.
pub const EMBEDDED: &str = include_str!("../../journeys/embedded.toml");
/// How the shipped file is named in messages when a scenario names none.
pub const EMBEDDED_NAME: &str = "journeys/embedded.toml (built in)";

/// Where a scenario's journeys come from: its `journeys` key, relative to the scenario file, or the
/// built-in copy of `journeys/embedded.toml`.
pub fn source_for(scenario: &Scenario) -> Result<Source, ScenarioError> {
    let Some(relative) = &scenario.journeys else {
        return Ok(Source {
            path: PathBuf::from(EMBEDDED_NAME),
            text: EMBEDDED.to_string(),
        });
    };
    let path = resolve(&scenario.source.path, relative);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        scenario.source.error_at(
            &crate::scenario::KeyPath::of(&["journeys"]),
            format!("journeys: cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(Source { path, text })
}

/// Read, check and compile the journeys a scenario runs, with its `[vars]` and mix applied.
pub fn load(scenario: &Scenario) -> Result<Program, ScenarioError> {
    let source = source_for(scenario)?;
    compile::compile(&source, scenario)
}

/// Check and compile journey-file text (`source.path` is used only in messages).
pub fn compile(source: &Source, scenario: &Scenario) -> Result<Program, ScenarioError> {
    compile::compile(source, scenario)
}
