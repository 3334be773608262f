//! The run's summary: `summary.json` for machines, and the tables printed at the end of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::cracks::{Cracks, CLASSES};
use crate::gate::{Comparison, Verdict};
use crate::measure::Snapshot;
use crate::vocab::{Stage, Step, OUTCOME_CLASSES};

pub const FILE_NAME: &str = "summary.json";

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
    /// Scenario seconds per wall second.
    pub time_scale: f64,
    /// Real-world length of the arrival curve in seconds (0 for a closed run).
    pub span_s: f64,
    /// Scenario clock at the curve's start, `HH:MM:SS`.
    pub clock_start: String,
    /// Seconds of wall time per row of `timeline.csv` and per histogram of `latency.hlog`.
    pub interval_s: f64,
    pub visits: Visits,
    /// Whether the load generator delivered the load it was asked for.
    pub generator: Generator,
    pub steps: BTreeMap<String, StepSummary>,
    /// Whole visits, from intended start to outcome.
    pub visit_latency: Latency,
    pub funnel: BTreeMap<String, u64>,
    /// Time visitors spent on a waiting room's holding page.
    #[serde(default)]
    pub waiting_room: WaitingRoom,
    /// Applicants who selected a plan, reconciled with the insurers' records, per insurer.
    #[serde(default)]
    pub cracks: Cracks,
    /// The funnel from plan selection on, per insurer (HIOS id).
    #[serde(default)]
    pub funnel_by_insurer: BTreeMap<String, InsurerSummary>,
    pub failures: Vec<FailureRow>,
    /// Verdicts of the threshold rules (filled in by the gate).
    #[serde(default)]
    pub thresholds: Vec<Verdict>,
    /// Comparisons with a baseline run, when one was given (filled in by `surge gate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<Comparison>,
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
pub struct Generator {
    pub valid: bool,
    /// Why not, when not valid; empty when valid.
    pub reason: String,
    /// The limit on lateness p99 (`traffic.late_after`), in ms.
    pub late_after_ms: f64,
    pub pool: u64,
    pub max_in_flight: u64,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaitingRoom {
    /// Times a visitor was held (and waited) before being let in or giving up.
    pub waits: u64,
    pub gave_up: u64,
    pub wait_p50_ms: f64,
    pub wait_p95_ms: f64,
    pub wait_max_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InsurerSummary {
    pub name: String,
    pub selected: u64,
    pub redirected: u64,
    pub paid: u64,
    pub effectuated: u64,
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
    pub completed: bool,
    pub planned: u64,
    pub time_scale: f64,
    pub span_s: f64,
    pub clock_start: String,
    pub interval_s: f64,
    pub late_after_ms: f64,
    pub pool: u64,
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
        let lateness_p99_ms = percentile_ms(&snap.lateness, 99.0);
        let generator = judge_generator(&facts, snap, lateness_p99_ms);
        Summary {
            format_version: FORMAT_VERSION,
            surge_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: facts.scenario,
            target: facts.target,
            seed: facts.seed,
            started_at: facts.started_at,
            duration_s: facts.duration_s,
            ending: facts.ending,
            time_scale: facts.time_scale,
            span_s: facts.span_s,
            clock_start: facts.clock_start,
            interval_s: facts.interval_s,
            visits: Visits {
                planned: facts.planned,
                started: snap.visits_started,
                completed: snap.visits_completed,
                late: snap.visits_late,
                lateness_p99_ms,
            },
            generator,
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
            cracks: Cracks::default(),
            waiting_room: WaitingRoom {
                waits: snap.waiting.len(),
                gave_up: snap.gave_up_waiting,
                wait_p50_ms: percentile_ms(&snap.waiting, 50.0),
                wait_p95_ms: percentile_ms(&snap.waiting, 95.0),
                wait_max_ms: micros_to_ms(snap.waiting.max()),
            },
            funnel_by_insurer: snap
                .insurers
                .iter()
                .map(|(id, f)| {
                    let summary = InsurerSummary {
                        name: f.name.clone(),
                        selected: f.selected,
                        redirected: f.redirected,
                        paid: f.paid,
                        effectuated: f.effectuated,
                    };
                    (id.clone(), summary)
                })
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
            thresholds: Vec::new(),
            baseline: Vec::new(),
        }
    }

    /// Read `summary.json` from a run directory, or a summary file itself. A summary written by
    /// another version of surge is refused with a message, not misread.
    pub fn read(path: &Path) -> Result<Summary, String> {
        let file = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            let written_by = value
                .get("surge_version")
                .and_then(|v| v.as_str())
                .unwrap_or("an older surge");
            return Err(format!(
                "{} was written by surge {written_by} (summary format {}); this surge {} reads format {FORMAT_VERSION}",
                file.display(),
                version.map_or("none".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION"),
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Write `summary.json` into a run directory.
    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(run_dir.join(FILE_NAME), json + "\n")
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
            "visits: {} planned, {} started, {} completed, {} late (lateness p99 {:.1} ms)",
            self.visits.planned,
            self.visits.started,
            self.visits.completed,
            self.visits.late,
            self.visits.lateness_p99_ms
        );
        if self.generator.valid {
            let _ = writeln!(out, "generator: valid\n");
        } else {
            let _ = writeln!(out, "generator: NOT VALID — {}\n", self.generator.reason);
        }
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

        let w = &self.waiting_room;
        if w.waits > 0 {
            let _ = writeln!(
                out,
                "(waiting)    {:>9} waits in the waiting room, {} gave up; wait p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                w.waits, w.gave_up, w.wait_p50_ms, w.wait_p95_ms, w.wait_max_ms
            );
        }

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

        let cracked: Vec<&str> = CLASSES
            .iter()
            .copied()
            .filter(|c| self.cracks.total(c) > 0)
            .collect();
        if !self.cracks.insurers.is_empty() {
            let records = if self.cracks.insurer_records {
                "reconciled with the insurers' 834 inboxes"
            } else {
                "insurers' records not available"
            };
            let _ = writeln!(out, "\ncracks ({records})");
            if cracked.is_empty() {
                let _ = writeln!(
                    out,
                    "  none: every applicant who selected a plan is accounted for"
                );
            } else {
                let _ = write!(
                    out,
                    "  {:<28} {:>6} {:>6} {:>6} {:>6} {:>6}",
                    "insurer", "apps", "redir", "payp", "paid", "effec"
                );
                for class in &cracked {
                    let _ = write!(out, " {class:>18}");
                }
                let _ = writeln!(out);
                for (id, i) in &self.cracks.insurers {
                    let name: String = format!("{id} {}", i.name).chars().take(28).collect();
                    let _ = write!(
                        out,
                        "  {name:<28} {:>6} {:>6} {:>6} {:>6} {:>6}",
                        i.applications, i.redirected, i.reached_payment, i.paid, i.effectuated
                    );
                    for class in &cracked {
                        let _ = write!(out, " {:>18}", i.classes.get(*class).copied().unwrap_or(0));
                    }
                    let _ = writeln!(out);
                }
            }
        }

        if !self.thresholds.is_empty() {
            let _ = writeln!(out, "\nthresholds");
            for v in &self.thresholds {
                let mark = if v.pass { "pass" } else { "FAIL" };
                let _ = writeln!(
                    out,
                    "  {mark}  {:<40} limit {:<12} observed {}",
                    v.name, v.limit, v.observed_text
                );
            }
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

/// A load test that could not deliver its load must not pass: not every visit started, or they
/// started too late.
fn judge_generator(facts: &RunFacts, snap: &Snapshot, lateness_p99_ms: f64) -> Generator {
    let reason = if !facts.completed {
        format!("the run did not complete ({})", facts.ending)
    } else if snap.visits_started < facts.planned {
        format!(
            "{} of {} visits started",
            snap.visits_started, facts.planned
        )
    } else if lateness_p99_ms > facts.late_after_ms {
        format!(
            "visits started late: lateness p99 {lateness_p99_ms:.1} ms is above late_after {:.1} ms \
             ({} of {} visits late; peak {} in flight for a pool of {}): raise traffic.pool, \
             or lower time_scale",
            facts.late_after_ms, snap.visits_late, snap.visits_started, snap.max_in_flight, facts.pool
        )
    } else {
        String::new()
    };
    Generator {
        valid: reason.is_empty(),
        reason,
        late_after_ms: facts.late_after_ms,
        pool: facts.pool,
        max_in_flight: snap.max_in_flight,
    }
}

fn percentile_ms(histogram: &Histogram<u64>, percentile: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    micros_to_ms(crate::measure::percentile(histogram, percentile))
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Recorder;
    use crate::vocab::Outcome;
    use std::time::Duration;

    fn facts() -> RunFacts {
        RunFacts {
            scenario: "t".into(),
            target: "http://127.0.0.1:1".into(),
            seed: 1,
            started_at: "2026-11-27T00:00:00Z".into(),
            duration_s: 1.0,
            ending: "completed".into(),
            completed: true,
            planned: 2,
            time_scale: 1.0,
            span_s: 0.0,
            clock_start: "00:00:00".into(),
            interval_s: 1.0,
            late_after_ms: 100.0,
            pool: 4,
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
        // One visit finished but none started: the generator did not deliver the plan.
        assert_eq!(json["generator"]["valid"], false);
    }

    #[test]
    fn late_visits_make_the_generator_invalid() {
        let recorder = Recorder::new();
        for late_ms in [0, 0, 250] {
            recorder.visit_started(Duration::from_millis(late_ms), Duration::from_millis(100));
        }
        let mut facts = facts();
        facts.planned = 3;
        let summary = Summary::new(facts, &recorder.snapshot());
        assert!(!summary.generator.valid);
        assert!(
            summary.generator.reason.contains("late"),
            "{}",
            summary.generator.reason
        );
        assert_eq!(summary.visits.late, 1);

        let on_time = Recorder::new();
        for _ in 0..3 {
            on_time.visit_started(Duration::from_millis(2), Duration::from_millis(100));
        }
        let mut facts = self::facts();
        facts.planned = 3;
        assert!(Summary::new(facts, &on_time.snapshot()).generator.valid);
    }
}
