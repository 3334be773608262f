//! Gates for CI: threshold rules judged over a run (overall and in every window), comparison with a
//! baseline run, and the verdicts as `junit.xml`, `gate.md` and `thresholds` in `summary.json`.
//! `surge run` and `surge gate` judge the same files the same way. What the verdicts mean for the
//! process's exit code is the command layer's business: this module says only pass or fail.

pub mod baseline;
pub mod judge;
pub mod report;
pub mod rule;

use std::path::Path;

pub use baseline::Tolerance;
pub use judge::Judge;
pub use rule::{parse, Rule, RuleError};

use crate::monitor::Watch;
use crate::rundir::summary::{Comparison, Knee, Spike, Summary, Verdict};
use crate::rundir::{for_each_interval, RunDirError, GATE_FILE, JUNIT_FILE};

/// Everything a gate decided.
#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub verdicts: Vec<Verdict>,
    pub comparisons: Vec<Comparison>,
    pub generator_valid: bool,
    pub generator_reason: String,
    /// Why the run could not be carried out (not one request got an answer, …), if so.
    pub run_error: Option<String>,
    /// The run's spike windows, found from its files (they inform; they pass or fail nothing).
    pub spikes: Vec<Spike>,
    /// The run's knee, found from its files (it informs; it passes or fails nothing).
    pub knee: Option<Knee>,
}

/// What a gate decided, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateStatus {
    /// Every rule and comparison held, and the generator delivered its load.
    Passed,
    /// A rule or a baseline comparison failed.
    Failed,
    /// The rules held, but the generator did not deliver its load: the run proves nothing.
    GeneratorInvalid,
    /// The run could not be carried out (not one request got an answer): nothing was measured
    /// that a rule could pass.
    RunError,
}

impl GateOutcome {
    pub fn status(&self) -> GateStatus {
        let rules_passed =
            self.verdicts.iter().all(|v| v.pass) && self.comparisons.iter().all(|c| c.pass);
        if self.run_error.is_some() {
            GateStatus::RunError
        } else if !rules_passed {
            GateStatus::Failed
        } else if !self.generator_valid {
            GateStatus::GeneratorInvalid
        } else {
            GateStatus::Passed
        }
    }

    pub fn passed(&self) -> bool {
        self.status() == GateStatus::Passed
    }
}

/// The rules with `abort` among `rules`, judged interval by interval while a run goes: what the
/// monitor calls with each interval and the wall seconds since the start, stopping the run on the
/// reason it returns (see [`Judge::abort_now`]). `None` when no rule aborts. `interval_s` is the
/// wall time per interval and `time_scale` the run's, as for [`Judge::new`].
pub fn watch(rules: &[Rule], interval_s: f64, time_scale: f64) -> Option<Watch> {
    let rules: Vec<Rule> = rules
        .iter()
        .filter(|r| r.abort.is_some())
        .cloned()
        .collect();
    if rules.is_empty() {
        return None;
    }
    let mut judge = Judge::new(rules, interval_s, time_scale);
    Some(Box::new(move |interval, elapsed_s| {
        judge.add(interval);
        judge.abort_now(elapsed_s)
    }))
}

/// Parse rules about a run with these steps; the first bad one is the error.
pub fn parse_rules<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    steps: &[&str],
) -> Result<Vec<Rule>, RuleError> {
    texts
        .into_iter()
        .map(|text| {
            let rule = rule::parse(text)?;
            rule.check_step(steps)?;
            Ok(rule)
        })
        .collect()
}

/// Judge the run in `run_dir` (whose summary is `summary`) by `rules` and, if given, against a
/// baseline summary.
pub fn judge_run(
    run_dir: &Path,
    summary: &Summary,
    rules: Vec<Rule>,
    baseline: Option<(&Summary, Tolerance)>,
) -> Result<GateOutcome, RunDirError> {
    let mut judge = Judge::new(rules, summary.interval_s, summary.time_scale);
    let mut spikes = crate::spikes::Detector::of(summary);
    let mut knee = crate::knee::Detector::of(summary);
    for_each_interval(run_dir, &summary.step_names(), |interval| {
        judge.add(&interval);
        spikes.add(&interval);
        knee.add(&interval);
    })?;
    Ok(GateOutcome {
        verdicts: judge.verdicts(),
        comparisons: baseline
            .map(|(base, tolerance)| baseline::compare(summary, base, tolerance))
            .unwrap_or_default(),
        generator_valid: summary.generator.valid,
        generator_reason: summary.generator.reason.clone(),
        run_error: summary.run_error.clone(),
        spikes: spikes.spikes(run_dir)?,
        knee: knee.knee(),
    })
}

/// Write the verdicts into the run directory: `junit.xml`, `gate.md`, and `summary.json` with its
/// `thresholds` and `baseline` arrays.
pub fn write(
    run_dir: &Path,
    summary: &mut Summary,
    outcome: &GateOutcome,
) -> Result<(), RunDirError> {
    summary.thresholds = outcome.verdicts.clone();
    summary.spikes = outcome.spikes.clone();
    summary.knee = outcome.knee.clone();
    summary.baseline = outcome.comparisons.clone();
    summary.write(run_dir)?;
    for (file, text) in [
        (JUNIT_FILE, report::junit(outcome, &summary.scenario)),
        (GATE_FILE, report::markdown(outcome, &summary.scenario)),
    ] {
        crate::rundir::write_whole(&run_dir.join(file), text.as_bytes())?;
    }
    Ok(())
}
