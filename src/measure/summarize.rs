//! From what the recorder measured to `summary.json`: per-step percentiles and outcomes, the funnel,
//! the waiting room, failures by reason, and whether the generator delivered its load.

use crate::histogram::{from_base64, micros_to_ms, percentile_ms, to_base64, HistogramError};
use crate::rundir::summary::{
    Cracks, FailureRow, Generator, Histograms, InsurerSummary, Latency, ShardOf, StepSummary,
    Summary, Visits, WaitingRoom, FORMAT_VERSION,
};
use crate::vocab::{Stage, Steps, OUTCOME_CLASSES};

use super::{FailureReason, InsurerFunnel, Snapshot, StepSnapshot};

/// Facts about the run that the measurements do not hold.
pub struct RunFacts {
    pub scenario: String,
    /// The scenario file, as an absolute path.
    pub scenario_path: String,
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_s: f64,
    /// How long after its `--start-at` the run began sending, in s (0 when on time).
    pub started_behind_s: f64,
    pub ending: String,
    pub completed: bool,
    pub planned: u64,
    pub time_scale: f64,
    pub span_s: f64,
    pub clock_start: String,
    pub interval_s: f64,
    pub late_after_ms: f64,
    pub pool: u64,
    /// `--shard`: the part of the schedule this run sent.
    pub shard: Option<ShardOf>,
    /// Stopped part-way by a signal or an engine failure.
    pub partial: bool,
}

/// The summary of a run: its facts and what the recorder measured.
pub fn summarize(facts: RunFacts, snap: &Snapshot) -> Summary {
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
            (s.name.clone(), summary)
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
        step_order: snap.steps.iter().map(|s| s.name.clone()).collect(),
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
        funnel_attempted: Stage::ALL
            .iter()
            .map(|stage| (stage.name().to_string(), snap.attempted[*stage as usize]))
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
                step: snap.steps[step.index()].name.clone(),
                reason: reason.clone(),
                count: row.count,
                // The first visits to fail, listed by id for reading.
                example_visits: {
                    let mut visits = row.visits.clone();
                    visits.sort_unstable();
                    visits
                },
            })
            .collect(),
        thresholds: Vec::new(),
        spikes: Vec::new(),
        knee: None,
        replay: None,
        scenario_path: facts.scenario_path,
        run_error: snap.nothing_reached(),
        baseline: Vec::new(),
        shard: facts.shard,
        shards: Vec::new(),
        partial: facts.partial,
        open_files: None,
        histograms: Some(Histograms {
            steps: snap
                .steps
                .iter()
                .map(|s| (s.name.clone(), to_base64(&s.latency)))
                .collect(),
            visit: to_base64(&snap.visit_latency),
            lateness: to_base64(&snap.lateness),
            waiting: to_base64(&snap.waiting),
        }),
    }
}

/// Why a summary cannot be read back into what the run measured.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("summary.json has no histograms (written by surge {0}, before runs could be merged)")]
    NoHistograms(String),
    #[error("summary.json: histograms.{name}: {source}")]
    Histogram {
        name: String,
        source: HistogramError,
    },
    #[error("summary.json: step_order names `{0}`, steps has no such step")]
    UnknownStep(String),
    #[error("summary.json: a failure names step `{0}`, which the run has not")]
    UnknownFailureStep(String),
}

/// What a run measured, read back from its summary (counts, and the histograms it carries): the
/// inverse of [`summarize`], so shards' measurements add up to the whole run's.
pub fn snapshot_of(summary: &Summary) -> Result<Snapshot, SnapshotError> {
    let histograms = summary
        .histograms
        .as_ref()
        .ok_or_else(|| SnapshotError::NoHistograms(summary.surge_version.clone()))?;
    let histogram = |name: &str, text: &str| {
        from_base64(text).map_err(|source| SnapshotError::Histogram {
            name: name.to_string(),
            source,
        })
    };
    let names = summary.step_names();
    let steps = names
        .iter()
        .map(|name| {
            let counts = summary
                .steps
                .get(*name)
                .ok_or_else(|| SnapshotError::UnknownStep(name.to_string()))?;
            let text = histograms.steps.get(*name).map_or("", String::as_str);
            Ok(StepSnapshot {
                name: name.to_string(),
                requests: counts.requests,
                failures: counts.failures,
                outcomes: std::array::from_fn(|i| {
                    counts
                        .outcomes
                        .get(OUTCOME_CLASSES[i])
                        .copied()
                        .unwrap_or(0)
                }),
                latency: histogram(name, text)?,
            })
        })
        .collect::<Result<Vec<_>, SnapshotError>>()?;
    let stage_counts = |map: &std::collections::BTreeMap<String, u64>| -> [u64; Stage::COUNT] {
        std::array::from_fn(|i| map.get(Stage::ALL[i].name()).copied().unwrap_or(0))
    };
    let ids = Steps::of(names.iter().copied());
    let mut reasons = std::collections::BTreeMap::new();
    for row in &summary.failures {
        let step = ids
            .named(&row.step)
            .ok_or_else(|| SnapshotError::UnknownFailureStep(row.step.clone()))?;
        reasons.insert(
            (step, row.reason.clone()),
            FailureReason {
                count: row.count,
                visits: row.example_visits.clone(),
            },
        );
    }
    Ok(Snapshot {
        steps,
        visit_latency: histogram("visit", &histograms.visit)?,
        lateness: histogram("lateness", &histograms.lateness)?,
        funnel: stage_counts(&summary.funnel),
        attempted: stage_counts(&summary.funnel_attempted),
        visits_started: summary.visits.started,
        visits_completed: summary.visits.completed,
        visits_late: summary.visits.late,
        max_in_flight: summary.generator.max_in_flight,
        // A summary says how many in its `ending`; merged shards abandoned none of their own.
        requests_abandoned: 0,
        reasons,
        insurers: summary
            .funnel_by_insurer
            .iter()
            .map(|(id, f)| {
                let funnel = InsurerFunnel {
                    name: f.name.clone(),
                    selected: f.selected,
                    redirected: f.redirected,
                    paid: f.paid,
                    effectuated: f.effectuated,
                };
                (id.clone(), funnel)
            })
            .collect(),
        waiting: histogram("waiting", &histograms.waiting)?,
        gave_up_waiting: summary.waiting_room.gave_up,
    })
}

impl Snapshot {
    /// Add another run's measurements of the same steps (another shard's): counts summed,
    /// histograms added, the most visits in flight at once summed (an upper bound: the shards'
    /// peaks need not coincide).
    pub fn add(&mut self, other: &Snapshot) {
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            mine.requests += theirs.requests;
            mine.failures += theirs.failures;
            for (a, b) in mine.outcomes.iter_mut().zip(theirs.outcomes) {
                *a += b;
            }
            let _ = mine.latency.add(&theirs.latency);
        }
        let _ = self.visit_latency.add(&other.visit_latency);
        let _ = self.lateness.add(&other.lateness);
        let _ = self.waiting.add(&other.waiting);
        for i in 0..Stage::COUNT {
            self.funnel[i] += other.funnel[i];
            self.attempted[i] += other.attempted[i];
        }
        self.visits_started += other.visits_started;
        self.visits_completed += other.visits_completed;
        self.visits_late += other.visits_late;
        self.max_in_flight += other.max_in_flight;
        self.gave_up_waiting += other.gave_up_waiting;
        for (key, theirs) in &other.reasons {
            let mine = self.reasons.entry(key.clone()).or_default();
            mine.count += theirs.count;
            mine.visits.extend(&theirs.visits);
            mine.visits.sort_unstable();
            mine.visits.truncate(super::EXAMPLES_PER_REASON);
        }
        for (id, theirs) in &other.insurers {
            let mine = self
                .insurers
                .entry(id.clone())
                .or_insert_with(|| InsurerFunnel {
                    name: theirs.name.clone(),
                    ..InsurerFunnel::default()
                });
            mine.selected += theirs.selected;
            mine.redirected += theirs.redirected;
            mine.paid += theirs.paid;
            mine.effectuated += theirs.effectuated;
        }
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
        let why = if facts.started_behind_s * 1000.0 > facts.late_after_ms {
            format!(
                "the run began {:.1} s after its --start-at, and the visits due by then started \
                 late: start every shard before the shared start time",
                facts.started_behind_s
            )
        } else if facts.pool > 0 && snap.max_in_flight >= facts.pool {
            format!(
                "peak {} in flight reached the pool of {}: raise traffic.pool, or lower time_scale",
                snap.max_in_flight, facts.pool
            )
        } else {
            format!(
                "peak {} in flight{}: the machine could not keep up; lower time_scale",
                snap.max_in_flight,
                if facts.pool > 0 {
                    format!(" of a pool of {}", facts.pool)
                } else {
                    String::new()
                }
            )
        };
        format!(
            "visits started late: lateness p99 {lateness_p99_ms:.1} ms is above late_after {:.1} ms \
             ({} of {} visits late; {why})",
            facts.late_after_ms, snap.visits_late, snap.visits_started
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
        peak_rss_mib: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Recorder;
    use crate::vocab::{Outcome, Steps};
    use std::time::Duration;

    fn facts() -> RunFacts {
        RunFacts {
            scenario: "t".into(),
            scenario_path: "/tmp/t.toml".into(),
            target: "http://127.0.0.1:1".into(),
            seed: 1,
            started_at: "2026-11-27T00:00:00Z".into(),
            duration_s: 1.0,
            started_behind_s: 0.0,
            ending: "completed".into(),
            completed: true,
            planned: 2,
            time_scale: 1.0,
            span_s: 0.0,
            clock_start: "00:00:00".into(),
            interval_s: 1.0,
            late_after_ms: 100.0,
            pool: 4,
            shard: None,
            partial: false,
        }
    }

    #[test]
    fn summary_has_the_documented_keys_and_percentiles_from_the_histograms() {
        let steps = Steps::of(["login", "browse"]);
        let recorder = Recorder::new(&steps);
        for ms in 1..=100 {
            recorder.request(
                steps.named("browse").unwrap(),
                Duration::from_millis(ms),
                Outcome::Status(200),
                ms != 100,
            );
        }
        recorder.visit_finished(
            Duration::from_millis(300),
            Stage::Effectuated,
            &Stage::ALL[1..],
        );
        let summary = summarize(facts(), &recorder.snapshot());
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
        assert_eq!(json["steps"]["login"]["requests"], 0);
        assert_eq!(
            json["step_order"],
            serde_json::json!(["login", "browse"]),
            "the journey file's order, which the map's keys lose"
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
        // One visit finished but none started: the generator did not deliver the plan.
        assert_eq!(json["generator"]["valid"], false);
    }

    #[test]
    fn late_visits_make_the_generator_invalid() {
        let recorder = Recorder::new(&Steps::of(["browse"]));
        for late_ms in [0, 0, 250] {
            recorder.visit_started(Duration::from_millis(late_ms), Duration::from_millis(100));
        }
        let mut facts = facts();
        facts.planned = 3;
        let summary = summarize(facts, &recorder.snapshot());
        assert!(!summary.generator.valid);
        assert!(
            summary.generator.reason.contains("late"),
            "{}",
            summary.generator.reason
        );
        assert_eq!(summary.visits.late, 1);

        let on_time = Recorder::new(&Steps::of(["browse"]));
        for _ in 0..3 {
            on_time.visit_started(Duration::from_millis(2), Duration::from_millis(100));
        }
        let mut facts = self::facts();
        facts.planned = 3;
        assert!(summarize(facts, &on_time.snapshot()).generator.valid);
    }
}
