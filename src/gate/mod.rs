//! Gates for CI: threshold rules judged over a run (overall and in every window), comparison with a
//! baseline run, and the verdicts as exit code, `junit.xml`, `gate.md` and `thresholds` in
//! `summary.json`. `surge run` and `surge gate` judge the same files the same way.

pub mod baseline;
pub mod command;
pub mod data;
pub mod judge;
pub mod report;
pub mod rule;

use std::path::Path;

pub use baseline::{Comparison, Tolerance};
pub use judge::{Judge, Verdict};
pub use rule::{parse, Rule, RuleError};

use crate::cli::exit;
use crate::summary::Summary;

/// Everything a gate decided.
#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub verdicts: Vec<Verdict>,
    pub comparisons: Vec<Comparison>,
    pub generator_valid: bool,
    pub generator_reason: String,
}

impl GateOutcome {
    /// Passed: every rule and comparison held, and the generator delivered its load.
    pub fn passed(&self) -> bool {
        self.rules_passed() && self.generator_valid
    }

    fn rules_passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.pass) && self.comparisons.iter().all(|c| c.pass)
    }

    /// 0 passed, 1 a rule or comparison failed, 3 the rules held but the generator was not valid.
    pub fn exit_code(&self) -> u8 {
        if !self.rules_passed() {
            exit::GATE_FAILED
        } else if !self.generator_valid {
            exit::GENERATOR_INVALID
        } else {
            exit::OK
        }
    }
}

/// Parse rules; the first bad one is the error.
pub fn parse_rules<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Vec<Rule>, RuleError> {
    texts.into_iter().map(rule::parse).collect()
}

/// Judge the run in `run_dir` (whose summary is `summary`) by `rules` and, if given, against a
/// baseline summary.
pub fn judge_run(
    run_dir: &Path,
    summary: &Summary,
    rules: Vec<Rule>,
    baseline: Option<(&Summary, Tolerance)>,
) -> Result<GateOutcome, String> {
    let mut judge = Judge::new(rules, summary.interval_s, summary.time_scale);
    data::for_each_interval(run_dir, |interval| judge.add(&interval))?;
    Ok(GateOutcome {
        verdicts: judge.verdicts(),
        comparisons: baseline
            .map(|(base, tolerance)| baseline::compare(summary, base, tolerance))
            .unwrap_or_default(),
        generator_valid: summary.generator.valid,
        generator_reason: summary.generator.reason.clone(),
    })
}

/// Write the verdicts into the run directory: `junit.xml`, `gate.md`, and `summary.json` with its
/// `thresholds` and `baseline` arrays.
pub fn write(run_dir: &Path, summary: &mut Summary, outcome: &GateOutcome) -> std::io::Result<()> {
    summary.thresholds = outcome.verdicts.clone();
    summary.baseline = outcome.comparisons.clone();
    summary.write(run_dir)?;
    std::fs::write(
        run_dir.join(report::JUNIT_FILE),
        report::junit(outcome, &summary.scenario),
    )?;
    std::fs::write(
        run_dir.join(report::MARKDOWN_FILE),
        report::markdown(outcome, &summary.scenario),
    )
}
