//! The answer of a capacity search, for machines (`capacity.json`) and people (`capacity.md`, and
//! the console): the capacity or why there is none, what failed first above it, the curves' points,
//! the USL fit and the headroom against the scenario's own curve.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use super::headroom::rate;
use super::headroom::Headroom;
use super::search::Found;
use super::usl::UslFit;
use super::Step;
use crate::rundir::{write_whole, RunDirError};

pub const JSON_FILE: &str = "capacity.json";
pub const MARKDOWN_FILE: &str = "capacity.md";

/// Everything `surge capacity` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub scenario: String,
    pub target: String,
    pub time_scale: f64,
    /// The rules a step had to hold.
    pub slo: Vec<String>,
    pub max_rate: f64,
    /// Wall time of each step's hold, and of the settle before it, in seconds.
    pub step_s: f64,
    pub settle_s: f64,
    /// `capacity`, `at_least_max_rate`, `surge_was_the_limit`, `below_lowest_rate`, `unfinished`
    /// or `interrupted`.
    pub result: String,
    /// The capacity in visits/s, when one was found.
    pub capacity: Option<f64>,
    /// Requests/s by step (and `all`) at the capacity.
    pub capacity_requests_per_s: BTreeMap<String, f64>,
    /// The lowest rate above the capacity that failed, and the SLO that failed first there.
    pub failed_above: Option<FailedAbove>,
    /// The answer in one sentence.
    pub sentence: String,
    /// The first offered rate at which served throughput fell below 90 % of it.
    pub knee: Option<f64>,
    pub usl: Option<UslFit>,
    /// Why the fit should not be trusted, when it should not.
    pub usl_note: Option<String>,
    pub headroom: Option<Headroom>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedAbove {
    pub rate: f64,
    pub rule: String,
    pub observed: String,
    /// The observed value over the rule's limit.
    pub ratio: Option<f64>,
}

/// The result's name and its sentence.
pub fn describe(found: &Found, steps: &[Step]) -> (&'static str, String) {
    match *found {
        Found::Capacity(capacity) => {
            let above = failed_above(capacity, steps);
            let why = above.map_or(String::new(), |a| {
                let by = a
                    .ratio
                    .map_or(String::new(), |r| format!(", {:.2}× the limit", r));
                format!(
                    "; above it, at {} visits/s, `{}` failed first (observed {}{by})",
                    rate(a.rate),
                    a.rule,
                    a.observed
                )
            });
            (
                "capacity",
                format!("capacity: {} visits/s{why}", rate(capacity)),
            )
        }
        Found::AtLeastMaxRate(max) => (
            "at_least_max_rate",
            format!(
                "capacity ≥ {} visits/s: every rate up to --max-rate held; raise --max-rate to \
                 look further",
                rate(max)
            ),
        ),
        Found::SurgeWasTheLimit { held, tried } => (
            "surge_was_the_limit",
            format!(
                "capacity ≥ {} visits/s: surge was the limit — it could not deliver {} visits/s \
                 on this machine, so that step says nothing about the target; run the search in \
                 shards (docs/distributed.md) or on a bigger machine to look further",
                rate(held.unwrap_or(0.0)),
                rate(tried)
            ),
        ),
        Found::BelowLowest(lowest) => (
            "below_lowest_rate",
            format!(
                "capacity below {} visits/s: not even the lowest rate tried held; check the SLOs \
                 and the target with `surge trace`",
                rate(lowest)
            ),
        ),
        Found::Unfinished { held, failed } => (
            "unfinished",
            format!(
                "no capacity within the step budget: {} held, {} failed",
                held.map_or("nothing".into(), |h| format!("{} visits/s", rate(h))),
                failed.map_or("nothing".into(), |f| format!("{} visits/s", rate(f)))
            ),
        ),
    }
}

/// The lowest step above `capacity` that failed an SLO, and the SLO.
pub fn failed_above(capacity: f64, steps: &[Step]) -> Option<FailedAbove> {
    steps
        .iter()
        .filter(|s| s.offered > capacity && s.generator_valid)
        .filter_map(|s| s.failed.as_ref().map(|f| (s.offered, f)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(rate, failed)| FailedAbove {
            rate,
            rule: failed.rule.clone(),
            observed: failed.observed.clone(),
            ratio: failed.ratio,
        })
}

/// The first offered rate (in rate order) at which served throughput fell below 90 % of it.
pub fn knee(steps: &[Step]) -> Option<f64> {
    let mut by_rate: Vec<&Step> = steps.iter().filter(|s| s.generator_valid).collect();
    by_rate.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    by_rate
        .iter()
        .find(|s| s.served < 0.9 * s.offered)
        .map(|s| s.offered)
}

impl Answer {
    /// Write `capacity.json` and `capacity.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), RunDirError> {
        let path = dir.join(JSON_FILE);
        let json = serde_json::to_string_pretty(self).map_err(|e| RunDirError::json(&path, e))?;
        write_whole(&path, (json + "\n").as_bytes())?;
        write_whole(&dir.join(MARKDOWN_FILE), self.markdown().as_bytes())
    }

    /// The step table and the findings, as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# surge capacity: {}\n", self.scenario);
        let _ = writeln!(out, "**{}**\n", self.sentence);
        let _ = writeln!(
            out,
            "Target `{}`, SLOs {}, steps of {:.0} s after {:.0} s of settle, at most {} visits/s; \
             rates are per second of scenario time (time scale {}).\n",
            self.target,
            self.slo
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            self.step_s,
            self.settle_s,
            rate(self.max_rate),
            self.time_scale
        );
        if let Some(headroom) = &self.headroom {
            let _ = writeln!(out, "Against the forecast: {}.\n", headroom.sentence());
        }
        if let Some(knee) = self.knee {
            let _ = writeln!(
                out,
                "Knee: from {} visits/s offered, served throughput fell below 90 % of it.\n",
                rate(knee)
            );
        }
        match (&self.usl, &self.usl_note) {
            (Some(fit), note) => {
                let peak = match fit.peak_concurrency {
                    Some(n) => format!(
                        "predicted peak {} visits/s at {:.0} visits in flight",
                        rate(fit.peak_throughput),
                        n
                    ),
                    None => format!(
                        "no peak: it levels off at {} visits/s",
                        rate(fit.peak_throughput)
                    ),
                };
                let _ = writeln!(
                    out,
                    "Universal Scalability Law: σ {:.4} (contention), κ {:.6} (coherency), λ {:.3} \
                     visits/s per visit in flight, R² {:.3}; {peak}.{}\n",
                    fit.sigma,
                    fit.kappa,
                    fit.lambda,
                    fit.r2,
                    note.as_ref().map_or(String::new(), |n| format!(" {n}"))
                );
            }
            (None, Some(note)) => {
                let _ = writeln!(out, "Universal Scalability Law: {note}\n");
            }
            (None, None) => {}
        }
        let _ = writeln!(
            out,
            "| step | offered/s | served/s | in flight | requests/s | p95 visit | errors | conversion | verdict |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for step in &self.steps {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {:.0} ms | {:.2} % | {:.1} % | {} |",
                step.index,
                rate(step.offered),
                rate(step.served),
                step.in_flight,
                rate(step.requests_per_s.get("all").copied().unwrap_or(0.0)),
                step.visit_p95_ms(),
                step.error_rate * 100.0,
                step.conversion * 100.0,
                step.verdict()
            );
        }
        let _ = writeln!(
            out,
            "\nEach step is a run directory (`surge report`, `surge gate`, `surge replay` work on \
             it); charts in `charts/`."
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::FailedSlo;

    fn step(offered: f64, served: f64, failed: Option<&str>) -> Step {
        Step {
            offered,
            served,
            generator_valid: true,
            holds: failed.is_none(),
            failed: failed.map(|rule| FailedSlo {
                rule: rule.to_string(),
                observed: "3.1 s".into(),
                limit: "< 2.0 s".into(),
                ratio: Some(1.55),
            }),
            ..Step::default()
        }
    }

    #[test]
    fn the_sentence_names_the_capacity_and_what_failed_above_it() {
        let steps = [
            step(10.0, 10.0, None),
            step(15.0, 14.9, None),
            step(22.5, 18.0, Some("p95(visit) < 2s")),
            step(18.75, 17.9, Some("error_rate < 1%")),
        ];
        let (result, sentence) = describe(&Found::Capacity(15.0), &steps);
        assert_eq!(result, "capacity");
        assert_eq!(
            sentence,
            "capacity: 15.0 visits/s; above it, at 18.8 visits/s, `error_rate < 1%` failed first \
             (observed 3.1 s, 1.55× the limit)"
        );
        assert_eq!(knee(&steps), Some(22.5));
    }

    #[test]
    fn surge_as_the_limit_never_reads_as_a_capacity() {
        let (result, sentence) = describe(
            &Found::SurgeWasTheLimit {
                held: Some(300.0),
                tried: 450.0,
            },
            &[],
        );
        assert_eq!(result, "surge_was_the_limit");
        assert!(
            sentence.starts_with("capacity ≥ 300 visits/s: surge was the limit"),
            "{sentence}"
        );
    }
}
