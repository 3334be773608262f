//! The run's summary: `summary.json` for machines, and the tables printed at the end of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::measure::{Snapshot, Stage, Step, OUTCOME_CLASSES};

/// Version of the summary's shape, so later tools can refuse what they cannot read.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub format_version: u32,
    pub surge_version: String,
    pub scenario: String,
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_s: f64,
    /// `"completed"`, or why the run stopped early.
    pub ending: String,
    pub visits: Visits,
    pub steps: BTreeMap<String, StepSummary>,
    /// Whole visits, from intended start to outcome.
    pub visit_latency: Latency,
    pub funnel: BTreeMap<String, u64>,
    pub failures: Vec<FailureRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Visits {
    pub planned: u64,
    pub started: u64,
    pub completed: u64,
    pub late: u64,
    pub lateness_p99_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepSummary {
    pub requests: u64,
    pub failures: u64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Requests by outcome class: 2xx, 3xx, 4xx, 5xx, timeout, connect.
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRow {
    pub step: String,
    pub reason: String,
    pub count: u64,
    /// The first visits that failed this way (replay them with the same seed).
    pub example_visits: Vec<u64>,
}

/// Facts about the run that the measurements do not hold.
pub struct RunFacts {
    pub scenario: String,
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_s: f64,
    pub ending: String,
    pub planned: u64,
}

impl Summary {
    pub fn new(facts: RunFacts, snap: &Snapshot) -> Summary {
        let steps = snap
            .steps
            .iter()
            .map(|s| {
                let error_rate = if s.requests == 0 {
                    0.0
                } else {
                    s.failures as f64 / s.requests as f64
                };
                let summary = StepSummary {
                    requests: s.requests,
                    failures: s.failures,
                    error_rate,
                    p50_ms: percentile_ms(&s.latency, 50.0),
                    p95_ms: percentile_ms(&s.latency, 95.0),
                    p99_ms: percentile_ms(&s.latency, 99.0),
                    p999_ms: percentile_ms(&s.latency, 99.9),
                    max_ms: micros_to_ms(s.latency.max()),
                    outcomes: OUTCOME_CLASSES
                        .iter()
                        .zip(s.outcomes)
                        .map(|(name, n)| (name.to_string(), n))
                        .collect(),
                };
                (s.step.name().to_string(), summary)
            })
            .collect();
        Summary {
            format_version: FORMAT_VERSION,
            surge_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: facts.scenario,
            target: facts.target,
            seed: facts.seed,
            started_at: facts.started_at,
            duration_s: facts.duration_s,
            ending: facts.ending,
            visits: Visits {
                planned: facts.planned,
                started: snap.visits_started,
                completed: snap.visits_completed,
                late: snap.visits_late,
                lateness_p99_ms: percentile_ms(&snap.lateness, 99.0),
            },
            steps,
            visit_latency: Latency {
                count: snap.visit_latency.len(),
                p50_ms: percentile_ms(&snap.visit_latency, 50.0),
                p95_ms: percentile_ms(&snap.visit_latency, 95.0),
                p99_ms: percentile_ms(&snap.visit_latency, 99.0),
                max_ms: micros_to_ms(snap.visit_latency.max()),
            },
            funnel: Stage::ALL
                .iter()
                .map(|stage| (stage.name().to_string(), snap.funnel(*stage)))
                .collect(),
            failures: snap
                .reasons
                .iter()
                .map(|((step, reason), row)| FailureRow {
                    step: step.name().to_string(),
                    reason: reason.clone(),
                    count: row.count,
                    example_visits: row.visits.clone(),
                })
                .collect(),
        }
    }

    /// The tables printed at the end of a run.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nsurge: {} against {} — {} ({:.1} s, seed {})",
            self.scenario, self.target, self.ending, self.duration_s, self.seed
        );
        let _ = writeln!(
            out,
            "visits: {} planned, {} started, {} completed, {} late (lateness p99 {:.1} ms)\n",
            self.visits.planned,
            self.visits.started,
            self.visits.completed,
            self.visits.late,
            self.visits.lateness_p99_ms
        );
        let _ = writeln!(
            out,
            "{:<12} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "step", "requests", "failures", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for step in Step::ALL {
            let Some(s) = self.steps.get(step.name()) else {
                continue;
            };
            let _ = writeln!(
                out,
                "{:<12} {:>9} {:>9} {:>7.2}% {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                step.name(),
                s.requests,
                s.failures,
                s.error_rate * 100.0,
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.max_ms
            );
        }
        let v = &self.visit_latency;
        let _ = writeln!(
            out,
            "{:<12} {:>9} {:>9} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            "(visit)", v.count, "", "", v.p50_ms, v.p95_ms, v.p99_ms, v.max_ms
        );

        let _ = writeln!(out, "\nfunnel");
        let mut previous: Option<u64> = None;
        for stage in Stage::ALL {
            let count = self.funnel.get(stage.name()).copied().unwrap_or(0);
            let conversion = match previous {
                Some(0) | None => String::new(),
                Some(before) => {
                    format!("{:>6.1}% of previous", 100.0 * count as f64 / before as f64)
                }
            };
            let _ = writeln!(out, "  {:<12} {:>9}  {}", stage.name(), count, conversion);
            previous = Some(count);
        }

        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nfailures");
            for row in &self.failures {
                let _ = writeln!(
                    out,
                    "  {:>7}  {:<12} {}  (e.g. visits {:?})",
                    row.count, row.step, row.reason, row.example_visits
                );
            }
        }
        out
    }
}

fn percentile_ms(histogram: &Histogram<u64>, percentile: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    micros_to_ms(histogram.value_at_percentile(percentile))
}

fn micros_to_ms(micros: u64) -> f64 {
    // Three decimals: microsecond resolution, without float noise in the JSON.
    (micros as f64 / 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Outcome, Recorder};
    use std::time::Duration;

    fn facts() -> RunFacts {
        RunFacts {
            scenario: "t".into(),
            target: "http://127.0.0.1:1".into(),
            seed: 1,
            started_at: "2026-11-27T00:00:00Z".into(),
            duration_s: 1.0,
            ending: "completed".into(),
            planned: 2,
        }
    }

    #[test]
    fn summary_has_the_documented_keys_and_percentiles_from_the_histograms() {
        let recorder = Recorder::new();
        for ms in 1..=100 {
            recorder.request(
                Step::Browse,
                Duration::from_millis(ms),
                Outcome::Status(200),
                ms != 100,
            );
        }
        recorder.visit_finished(Duration::from_millis(300), Stage::Effectuated);
        let summary = Summary::new(facts(), &recorder.snapshot());
        let json = serde_json::to_value(&summary).unwrap();
        let browse = &json["steps"]["browse"];
        assert_eq!(browse["requests"], 100);
        assert_eq!(browse["failures"], 1);
        assert!(
            (browse["p50_ms"].as_f64().unwrap() - 50.0).abs() < 0.1,
            "{browse}"
        );
        assert!(
            (browse["p99_ms"].as_f64().unwrap() - 99.0).abs() < 0.1,
            "{browse}"
        );
        assert!(
            (browse["max_ms"].as_f64().unwrap() - 100.0).abs() < 0.1,
            "{browse}"
        );
        assert_eq!(json["funnel"]["effectuated"], 1);
        assert_eq!(json["visits"]["planned"], 2);
        assert_eq!(json["visits"]["completed"], 1);
        for stage in [
            "visits",
            "browsed",
            "eligibility",
            "selected",
            "redirected",
            "paid",
            "effectuated",
        ] {
            assert!(
                json["funnel"].get(stage).is_some(),
                "funnel.{stage} missing"
            );
        }
        assert!(summary.to_text().contains("browse"));
    }
}
