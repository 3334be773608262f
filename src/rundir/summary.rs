//! `summary.json`: the whole run for machines — what was measured, whether the generator delivered
//! its load, the cracks, and the gate's verdicts. Every tool after the run reads it from here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RunDirError;

pub const FILE_NAME: &str = "summary.json";

/// Version of the summary's shape, so later tools can refuse what they cannot read.
pub const FORMAT_VERSION: u32 = 2;

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
    /// Per step, by the journey file's step names.
    pub steps: BTreeMap<String, StepSummary>,
    /// The step names in the journey file's order (the order of the report's tables and panels).
    #[serde(default)]
    pub step_order: Vec<String>,
    /// Whole visits, from intended start to outcome.
    pub visit_latency: Latency,
    pub funnel: BTreeMap<String, u64>,
    /// Per stage, the visits that tried it: their journey has the stage and they reached the
    /// stage before it. A stage's conversion is `funnel` / `funnel_attempted`.
    #[serde(default)]
    pub funnel_attempted: BTreeMap<String, u64>,
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
    /// Why the run proves nothing although it ran: no request got an HTTP answer (exit 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_error: Option<String>,
    /// Intervals where a step's error rate or p99 rose well above its recent level, merged into
    /// windows (see `spikes`); recomputed by `surge report` and `surge gate` from the saved files.
    #[serde(default)]
    pub spikes: Vec<Spike>,
    /// Where the target stopped keeping up with the load (see `knee`): `null` when it kept up
    /// throughout; recomputed by `surge report` and `surge gate` from the saved files.
    #[serde(default)]
    pub knee: Option<Knee>,
    /// A replay's source, window and comparison with the original (`surge replay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// The scenario file the run was started with, as an absolute path (a replay reads it again,
    /// for the files it names relative to itself).
    #[serde(default)]
    pub scenario_path: String,
    /// Comparisons with a baseline run, when one was given (filled in by `surge gate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<Comparison>,
    /// `surge run --shard K/N`: which part of the schedule this run sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
    /// A merged run (`surge merge`): its shards, each with its directory and verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<MergedShard>,
    /// The run was stopped part-way, by a signal or a failure of the load generator: what it
    /// measured is written, but it did not send its whole schedule. `surge merge` refuses such a
    /// shard unless `--allow-partial`.
    #[serde(default)]
    pub partial: bool,
    /// The process's open-file limit during the run, and whether it bounded the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<OpenFiles>,
    /// The whole run's histograms (HdrHistogram V2 deflate, base64), so runs merge losslessly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<Histograms>,
}

/// Which shard of a schedule a run sent (`--shard index/count`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    pub index: u64,
    pub count: u64,
    /// Visits of the whole schedule, all shards together.
    pub visits_total: u64,
    /// `--start-at`, the shared origin of the shards' scenario clock (RFC 3339), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
}

/// One shard of a merged run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedShard {
    /// `K/N`.
    pub shard: String,
    pub run_dir: String,
    pub visits_planned: u64,
    pub visits_started: u64,
    pub generator_valid: bool,
    pub generator_reason: String,
    pub partial: bool,
    pub ending: String,
}

/// The open-file limit (`ulimit -n`) a run had: it bounds the connections a run can hold at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenFiles {
    /// The soft limit during the run (surge raises it to the hard limit at start).
    pub limit: u64,
    /// The connections that limit holds at once (half as many with the embedded exchange, which
    /// holds the other ends); absent in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
    /// Set when the limit bounded the run: connections failed with "Too many open files".
    pub bounded: bool,
}

/// Whole-run histograms, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Histograms {
    /// Per step, by name.
    pub steps: BTreeMap<String, String>,
    pub visit: String,
    pub lateness: String,
    pub waiting: String,
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
    /// The most visits in flight at once: the scenario's `pool` (50,000 by default), or the Goose
    /// pool of a run that writes a Goose report.
    pub pool: u64,
    pub max_in_flight: u64,
    /// The surge process's peak resident memory (VmHWM), in MiB; absent where the system does not
    /// say (not Linux) and in merged runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
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
    /// Requests by outcome class: 2xx, 3xx, 4xx, 5xx, timeout, connect, transport.
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

impl Summary {
    /// The scenario clock at the curve's start, in seconds since midnight.
    pub fn clock_start_s(&self) -> f64 {
        crate::units::parse_clock(&self.clock_start).unwrap_or(0.0)
    }

    /// The run's steps in the journey file's order; for a summary without `step_order`, its
    /// steps' names.
    pub fn step_names(&self) -> Vec<&str> {
        if self.step_order.is_empty() {
            self.steps.keys().map(String::as_str).collect()
        } else {
            self.step_order.iter().map(String::as_str).collect()
        }
    }

    /// The threshold rules the run was run with, as written (not those a `surge gate --threshold`
    /// added: they held for that call only).
    pub fn own_rules(&self) -> Vec<String> {
        self.thresholds
            .iter()
            .filter(|v| !v.added)
            .map(|v| v.name.clone())
            .collect()
    }

    /// Read the summary of the run directory `run_dir`, saying plainly when it is not one.
    pub fn read_run_dir(run_dir: &Path) -> Result<Summary, RunDirError> {
        let why = if run_dir.is_file() {
            "is a file; give the run directory that holds it"
        } else if !run_dir.exists() {
            "no such directory"
        } else if !run_dir.join(FILE_NAME).exists() {
            "not a run directory: it holds no summary.json (surge run writes one)"
        } else {
            return Summary::read(run_dir);
        };
        Err(RunDirError::NotARunDir {
            path: run_dir.to_path_buf(),
            why,
        })
    }

    /// Read `summary.json` from a run directory, or a summary file itself. A summary written by
    /// another version of surge is refused with a message, not misread.
    pub fn read(path: &Path) -> Result<Summary, RunDirError> {
        let file = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|e| RunDirError::read(&file, e))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| RunDirError::json(&file, e))?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            let written_by = value
                .get("surge_version")
                .and_then(|v| v.as_str())
                .unwrap_or("an older surge");
            return Err(RunDirError::OtherVersion {
                path: file,
                written_by: written_by.to_string(),
                format: version.map_or("none".to_string(), |v| v.to_string()),
            });
        }
        serde_json::from_value(value).map_err(|e| RunDirError::json(&file, e))
    }

    /// Write `summary.json` into a run directory.
    pub fn write(&self, run_dir: &Path) -> Result<(), RunDirError> {
        let path = run_dir.join(FILE_NAME);
        let json = serde_json::to_string_pretty(self).map_err(|e| RunDirError::json(&path, e))?;
        super::write_whole(&path, (json + "\n").as_bytes())
    }
}

/// What a replay replayed, and how its failures compare with the original's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// The original run directory.
    pub source: String,
    /// The window, on the scenario clock (`HH:MM:SS`), and the lead-in before it, in scenario
    /// seconds.
    pub from: String,
    pub to: String,
    pub lead_in_s: f64,
    pub comparison: ReplayComparison,
}

/// Of the visits whose intended start fell in the window (the lead-in's not counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayComparison {
    pub visits: u64,
    pub failed_original: u64,
    pub failed_replay: u64,
    /// Failed in both runs; of them, at the same step for the same reason.
    pub failed_both: u64,
    pub same_failure: u64,
    /// By step and reason (the original's, for a visit that failed in both).
    pub rows: Vec<ReplayRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRow {
    pub step: String,
    pub reason: String,
    pub both: u64,
    pub only_original: u64,
    pub only_replay: u64,
}

/// A window where one step's errors or latency spiked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    /// Scenario clock at the start of the window's first interval and the end of its last.
    pub start: String,
    pub end: String,
    pub step: String,
    /// `errors` (error rate) or `latency` (p99).
    pub kind: String,
    /// The worst interval's value: an error rate (0–1) or a p99 in ms.
    pub peak: f64,
    /// The step's level before the window: the median of its recent ordinary intervals.
    pub level_before: f64,
    /// `peak / level_before`; `None` when the level before was 0.
    pub size: Option<f64>,
    pub requests: u64,
    pub failures: u64,
    /// The most frequent failure reasons of the step in the window, most frequent first.
    pub top_reasons: Vec<ReasonCount>,
    /// Visits that failed (errors) or were the slowest (latency) in the window.
    pub example_visits: Vec<u64>,
}

/// The knee of a run: the first interval from which served throughput stopped following arrivals
/// or a step's latency left its base (the rule: `src/knee.rs`, docs/gates.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Scenario clock at the start of the knee's interval, `HH:MM:SS`.
    pub clock: String,
    /// Run time at the start of that interval, in seconds.
    pub elapsed_s: f64,
    /// The sign, for people: `browse p50 2.4× its base of 31 ms`, `served 61 % of arrivals (…)`.
    pub why: String,
    /// The step whose latency left its base; `None` when served throughput fell behind.
    pub step: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

/// A threshold rule's verdict (written by the gate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The rule as written.
    pub name: String,
    /// The limit, for people: `< 800.0 ms`.
    pub limit: String,
    /// What the rule measures, as rules write it: `p95(browse)`, `max(visit)`, `p99` (all steps),
    /// `error_rate` (all steps), `error_rate(pay)`, `conversion(paid/redirected)` or
    /// `late_arrivals`. Empty in a summary written before verdicts carried it (`surge gate`
    /// judges such a run again).
    #[serde(default)]
    pub metric: String,
    /// The limit in the metric's unit (ms for latency, a fraction for rates); `None` in a summary
    /// written before verdicts carried it.
    #[serde(default)]
    pub limit_value: Option<f64>,
    /// The observed value (ms for latency, a fraction for rates); for a windowed rule the worst
    /// window's. `None` when there was no data to judge.
    pub observed: Option<f64>,
    /// The observed value for people, with where it was seen.
    pub observed_text: String,
    pub pass: bool,
    /// A rule given to `surge gate --threshold`, not one the run was run with: judged and
    /// written by that call only; a later `surge gate` judges the run's own rules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub added: bool,
}

/// One comparison with a baseline run (written by `surge gate --baseline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What is compared: `p95(browse)`, `error_rate(pay)`, `conversion(paid/redirected)`.
    pub name: String,
    pub baseline: f64,
    pub observed: f64,
    /// `ms` for latency, `rate` for fractions.
    pub unit: String,
    pub pass: bool,
}

impl Comparison {
    /// The two values and the change, for people.
    pub fn describe(&self) -> String {
        let show = |v: f64| {
            if self.unit == "ms" {
                format!("{v:.2} ms")
            } else {
                format!("{:.2}%", v * 100.0)
            }
        };
        let change = if self.baseline != 0.0 {
            format!(" ({:+.1}%)", (self.observed / self.baseline - 1.0) * 100.0)
        } else {
            String::new()
        };
        format!("{} → {}{change}", show(self.baseline), show(self.observed))
    }
}

/// The cracks classes, in report order (the cracks module says what each means).
pub const CRACK_CLASSES: [&str; 8] = [
    "never_redirected",
    "broken_redirect",
    "paid_no_834",
    "834_no_payment",
    "unknown_to_insurer",
    "duplicate_834",
    "834_without_premium",
    "wrong_insurer_834",
];

/// One insurer's applicants and cracks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsurerCracks {
    pub name: String,
    /// Applicants who selected one of its plans.
    pub applications: u64,
    /// Given the exchange's Pay Now page with its form (the redirect to the insurer offered).
    pub pay_now: u64,
    /// Reached the insurer's payment page: the funnel's `redirected` stage.
    pub redirected: u64,
    pub paid: u64,
    /// Covered (834 + payment): paid, and the insurer holds their 834 with its premium (or
    /// without, when the scenario says its 834s carry none). Without the insurers' records: the
    /// visits whose insurer's policy API said `effectuated` (active at the insurer). Pages call
    /// the first "covered (834 + payment)", never "effectuated", which is the funnel's stage.
    pub effectuated: u64,
    /// Applicants in at least one class: those who fell through the cracks, each counted once
    /// (an applicant can be in two classes, e.g. a broken redirect and an 834 without payment).
    #[serde(default)]
    pub fell_through: u64,
    /// Count per class (every class present, zero or not).
    pub classes: BTreeMap<String, u64>,
    /// The first visits of each class that has any (replay them with the same seed).
    pub examples: BTreeMap<String, Vec<u64>>,
}

/// The cracks report: applicants who selected a plan, reconciled with the insurers' records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cracks {
    /// Whether the insurers' records (834 inboxes) could be read; without them only the classes
    /// the harness sees itself are counted.
    pub insurer_records: bool,
    /// Why the insurers' records could not be read, when the target offers them but fetching failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_error: Option<String>,
    pub insurers: BTreeMap<String, InsurerCracks>,
    /// Where the insurers' 834s were read: the target's inboxes, another exchange's, or files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How the 834s' ids were matched with the visits', and how many paid applicants matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<MatchReport>,
    /// Words of `enrollments.csv`'s `confirmed` that are not surge's (`effectuated`,
    /// `awaiting_payment`, `awaiting_834`, `unknown`), with how many applicants got each: the
    /// journey file's `[enrollment] status_map` should map them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped_status: BTreeMap<String, u64>,
    /// Where `confirmed` is written: the journey file's `[enrollment] confirmed`, `FILE:LINE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// What may make this report wrong, for people (an insurer's status word surge does not know).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// How the insurers' 834s were matched with the visits, and whether they were: a reconciliation
/// that matched under half of the paid applicants compared ids of two different forms, and its
/// classes say more about the ids than about the insurers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchReport {
    /// How ids are matched, for people: `REF*1L, leading zeros ignored`.
    pub rule: String,
    /// Applicants who paid, and of them those whose id an 834 holds (whatever its insurer).
    pub paid: u64,
    pub matched: u64,
    /// Distinct ids the 834s carry under the reference.
    pub ids_834: u64,
    /// An id of each side, when under half matched.
    #[serde(default)]
    pub examples: MatchExamples,
    /// The `[cracks]` key that would match them, when one would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// The sentence saying so, when under half matched: `0 of 169 matched: the 834s say 123, the
    /// visits 0000123; …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One id as each side wrote it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchExamples {
    #[serde(rename = "834", default, skip_serializing_if = "Option::is_none")]
    pub edi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visits: Option<String>,
}

impl Cracks {
    /// Applicants in `class`, over every insurer.
    pub fn total(&self, class: &str) -> u64 {
        self.insurers
            .values()
            .map(|i| i.classes.get(class).copied().unwrap_or(0))
            .sum()
    }

    /// Applicants who selected a plan, over every insurer.
    pub fn applications(&self) -> u64 {
        self.insurers.values().map(|i| i.applications).sum()
    }

    /// Applicants the insurers hold as covered (paid, with their 834 and its premium).
    pub fn effectuated(&self) -> u64 {
        self.insurers.values().map(|i| i.effectuated).sum()
    }

    /// Applicants who fell through the cracks, each counted once whatever their classes.
    pub fn fell_through(&self) -> u64 {
        self.insurers.values().map(|i| i.fell_through).sum()
    }

    /// Why the ids did not match, when under half of the paid applicants did.
    pub fn mismatch(&self) -> Option<&str> {
        self.matching.as_ref().and_then(|m| m.problem.as_deref())
    }

    /// Why the cracks could not be reconciled with the insurers' records, for people; `None` when
    /// they were.
    pub fn unreconciled(&self) -> Option<String> {
        if self.insurer_records {
            return None;
        }
        Some(match (&self.records_error, &self.source) {
            (Some(error), _) => format!("the insurers' records could not be read: {error}"),
            (None, Some(source)) => format!("{source} holds no insurers' records"),
            (None, None) => "the target serves no insurers' 834 inboxes and the scenario names \
                             no [cracks] source"
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_written_before_it_carried_its_metric_still_reads() {
        let old = r#"{"name": "error_rate < 1%", "limit": "< 1.00%", "observed": 0.0,
                      "observed_text": "0.00%", "pass": true}"#;
        let verdict: Verdict = serde_json::from_str(old).unwrap();
        assert_eq!((verdict.metric.as_str(), verdict.limit_value), ("", None));
        assert!(verdict.pass);
    }
}
