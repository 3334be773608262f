//! `surge gate RUN_DIR`: judge a finished run again — by the rules it was run with, any added on
//! the command line, and optionally against a baseline run.

use std::path::PathBuf;

use super::{judge_run, parse_rules, write, Tolerance};
use crate::cli::exit;
use crate::summary::Summary;

/// What the command line asked for.
pub struct GateRequest {
    pub run_dir: PathBuf,
    pub baseline: Option<PathBuf>,
    pub tolerance: Tolerance,
    pub thresholds: Vec<String>,
}

/// Judge, write the verdicts into the run directory, print the Markdown, return the exit code.
pub fn gate(request: GateRequest) -> u8 {
    let mut summary = match Summary::read(&request.run_dir) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let baseline = match request.baseline.as_deref().map(Summary::read).transpose() {
        Ok(baseline) => baseline,
        Err(e) => {
            eprintln!("error: baseline: {e}");
            return exit::USAGE;
        }
    };
    // The run's own rules (as its summary lists them), then the command line's.
    let mut texts: Vec<String> = summary.thresholds.iter().map(|v| v.name.clone()).collect();
    for text in &request.thresholds {
        if !texts.contains(text) {
            texts.push(text.clone());
        }
    }
    let rules = match parse_rules(texts.iter().map(String::as_str)) {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let outcome = match judge_run(
        &request.run_dir,
        &summary,
        rules,
        baseline.as_ref().map(|b| (b, request.tolerance)),
    ) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Err(e) = write(&request.run_dir, &mut summary, &outcome) {
        eprintln!(
            "error: cannot write the verdicts in {}: {e}",
            request.run_dir.display()
        );
        return exit::RUN_ERROR;
    }
    print!("{}", super::report::markdown(&outcome, &summary.scenario));
    outcome.exit_code()
}
