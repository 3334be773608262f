//! What a run measures: latency per step (HdrHistogram, microseconds), request and failure counts,
//! failures by reason, and the enrollment funnel.
//!
//! One `Recorder` is shared by every pool user. Histograms sit behind a mutex each: a record costs
//! nanoseconds against tens of microseconds of Goose work per request, so the lock is never the limit.
//! Every value goes into the run's total and into the current interval; [`Recorder::take_interval`]
//! hands the interval to the writers of `latency.hlog` and `timeline.csv` and starts the next one.

pub mod exemplars;
pub mod summarize;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::histogram::{new_histogram, percentile_ms, HIGHEST_MICROS};
use crate::rundir::exemplars::Exemplar;
use crate::rundir::failures::FailedVisit;
use crate::rundir::timeline::{Row, StepCount};
use crate::rundir::IntervalData;
use crate::vocab::{Outcome, Stage, StepId, Steps};

/// A latency distribution for the whole run and for the interval in progress.
struct Latencies(Mutex<(Histogram<u64>, Histogram<u64>)>);

impl Latencies {
    fn new() -> Self {
        Self(Mutex::new((new_histogram(), new_histogram())))
    }

    fn record(&self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, HIGHEST_MICROS);
        let mut both = lock(&self.0);
        // In range by the clamp above, so recording cannot fail.
        let _ = both.0.record(micros);
        let _ = both.1.record(micros);
    }

    fn total(&self) -> Histogram<u64> {
        lock(&self.0).0.clone()
    }

    /// The interval's histogram; the next interval starts empty.
    fn take_interval(&self) -> Histogram<u64> {
        let mut both = lock(&self.0);
        let interval = both.1.clone();
        both.1.reset();
        interval
    }
}

struct StepStats {
    name: String,
    latency: Latencies,
    requests: AtomicU64,
    failures: AtomicU64,
    outcomes: [AtomicU64; Outcome::CLASS_COUNT],
    /// Counts since the last interval was taken.
    interval_requests: AtomicU64,
    interval_failures: AtomicU64,
}

impl StepStats {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            interval_requests: AtomicU64::new(0),
            interval_failures: AtomicU64::new(0),
            latency: Latencies::new(),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            outcomes: Default::default(),
        }
    }
}

/// Counts since the last interval was taken.
#[derive(Default)]
struct IntervalCounts {
    started: AtomicU64,
    held: AtomicU64,
    late: AtomicU64,
    completed: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    outcomes: [AtomicU64; Outcome::CLASS_COUNT],
    funnel: [AtomicU64; Stage::COUNT],
}

pub use crate::rundir::hlog::VISIT_TAG;

/// One interval's measurements, handed to the run directory's writers.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Latency per step, then whole visits (`visit`), in that order.
    pub latencies: Vec<(String, Histogram<u64>)>,
    pub started: u64,
    /// Visits that started later than `late_after`.
    pub late: u64,
    /// Waits in a waiting room that ended in the interval.
    pub held: u64,
    pub completed: u64,
    pub requests: u64,
    pub failures: u64,
    /// Requests and failures per step, in the run's step order.
    pub steps: Vec<StepCount>,
    /// Requests by outcome class, in `OUTCOME_CLASSES` order.
    pub outcomes: [u64; Outcome::CLASS_COUNT],
    /// Visits that finished in the interval having reached each funnel stage.
    pub funnel: [u64; Stage::COUNT],
    /// Visits in flight when the interval was taken.
    pub in_flight: u64,
    /// Visits that failed in the interval, for `failures.csv`.
    pub failed: Vec<FailedVisit>,
    /// Example requests of the interval, for `exemplars.jsonl` (without their clock yet).
    pub exemplars: Vec<Exemplar>,
}

impl Interval {
    /// The interval as a `timeline.csv` row, ending `elapsed` after the run started; `clock` is the
    /// scenario clock then (empty before the first arrival), `intended` the arrivals scheduled in it.
    pub fn row(&self, elapsed: Duration, clock: String, intended: Option<u64>) -> Row {
        let visit = self
            .latencies
            .iter()
            .find(|(tag, _)| *tag == VISIT_TAG)
            .map(|(_, h)| h);
        let mut stages = [0; Stage::COUNT - 1];
        stages.copy_from_slice(&self.funnel[1..]);
        Row {
            elapsed_s: elapsed.as_secs_f64(),
            clock,
            intended,
            started: self.started,
            completed: self.completed,
            in_flight: self.in_flight,
            requests: self.requests,
            failures: self.failures,
            outcomes: self.outcomes,
            stages,
            visit_p95_ms: visit.map_or(0.0, |h| percentile_ms(h, 95.0)),
            late: self.late,
            steps: self.steps.clone(),
            held: self.held,
        }
    }

    /// The interval as the gate reads it from a run directory.
    pub fn data(&self, start: Duration, row: Row) -> IntervalData {
        IntervalData {
            start,
            row,
            latencies: self
                .latencies
                .iter()
                .map(|(tag, h)| (tag.clone(), h.clone()))
                .collect(),
        }
    }
}

/// Distinct failure reasons kept per run; more are folded into one "other" row.
const MAX_REASONS: usize = 200;

/// Collects every measurement of a run. Shared by all pool users.
pub struct Recorder {
    steps: Vec<StepStats>,
    visit_latency: Latencies,
    lateness: Mutex<Histogram<u64>>,
    funnel: [AtomicU64; Stage::COUNT],
    /// Visits whose journey tried each stage (it proves that stage, and the visit reached the
    /// journey's stage before it): the denominator of each stage's conversion.
    attempted: [AtomicU64; Stage::COUNT],
    visits_started: AtomicU64,
    visits_completed: AtomicU64,
    visits_late: AtomicU64,
    max_in_flight: AtomicU64,
    reasons: Mutex<BTreeMap<(StepId, String), FailureReason>>,
    /// Visits failed since the last interval was taken.
    failed: Mutex<Vec<(u64, StepId, String)>>,
    /// Example requests, within their caps.
    pub exemplars: exemplars::Collector,
    insurers: Mutex<BTreeMap<String, InsurerFunnel>>,
    waiting: Mutex<Histogram<u64>>,
    gave_up_waiting: AtomicU64,
    /// Requests sent and not yet ended: at the end of a run, those abandoned in flight.
    requests_in_flight: AtomicU64,
    interval: IntervalCounts,
}

/// The funnel from plan selection on, for one insurer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsurerFunnel {
    pub name: String,
    pub selected: u64,
    pub redirected: u64,
    pub paid: u64,
    pub effectuated: u64,
}

/// How often one failure reason occurred, with the first visits it hit (to reproduce them).
#[derive(Debug, Clone, Default)]
pub struct FailureReason {
    pub count: u64,
    pub visits: Vec<u64>,
}

/// Visits kept as examples per failure reason.
pub(crate) const EXAMPLES_PER_REASON: usize = 5;

impl Recorder {
    /// A recorder for a run whose journeys have these steps.
    pub fn new(steps: &Steps) -> Self {
        Self {
            steps: steps.iter().map(|(_, name)| StepStats::new(name)).collect(),
            visit_latency: Latencies::new(),
            lateness: Mutex::new(new_histogram()),
            funnel: Default::default(),
            attempted: Default::default(),
            visits_started: AtomicU64::new(0),
            visits_completed: AtomicU64::new(0),
            visits_late: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            reasons: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(Vec::new()),
            exemplars: exemplars::Collector::new(steps.len()),
            insurers: Mutex::new(BTreeMap::new()),
            waiting: Mutex::new(new_histogram()),
            gave_up_waiting: AtomicU64::new(0),
            requests_in_flight: AtomicU64::new(0),
            interval: IntervalCounts::default(),
        }
    }

    /// One HTTP request of `step` took `latency` and ended with `outcome`; `ok` is the journey's
    /// verdict (status *and* body as expected).
    pub fn request(&self, step: StepId, latency: Duration, outcome: Outcome, ok: bool) {
        let stats = &self.steps[step.index()];
        let class = outcome.class_index();
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats.interval_requests.fetch_add(1, Ordering::Relaxed);
        self.interval.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            stats.interval_failures.fetch_add(1, Ordering::Relaxed);
            self.interval.failures.fetch_add(1, Ordering::Relaxed);
        }
        stats.outcomes[class].fetch_add(1, Ordering::Relaxed);
        self.interval.outcomes[class].fetch_add(1, Ordering::Relaxed);
        stats.latency.record(latency);
    }

    /// A visit failed at `step` for `reason` (a short, low-cardinality text).
    pub fn failure(&self, step: StepId, reason: &str, visit: u64) {
        lock(&self.failed).push((visit, step, reason.to_string()));
        let mut reasons = lock(&self.reasons);
        let key =
            if reasons.len() < MAX_REASONS || reasons.contains_key(&(step, reason.to_string())) {
                (step, reason.to_string())
            } else {
                (step, "other".to_string())
            };
        let entry = reasons.entry(key).or_default();
        entry.count += 1;
        if entry.visits.len() < EXAMPLES_PER_REASON {
            entry.visits.push(visit);
        }
    }

    /// A visit started `late` after its intended start (zero when on time).
    pub fn visit_started(&self, late: Duration, late_threshold: Duration) {
        let started = self.visits_started.fetch_add(1, Ordering::Relaxed) + 1;
        self.interval.started.fetch_add(1, Ordering::Relaxed);
        let in_flight = started.saturating_sub(self.visits_completed.load(Ordering::Relaxed));
        self.max_in_flight.fetch_max(in_flight, Ordering::Relaxed);
        if late > late_threshold {
            self.visits_late.fetch_add(1, Ordering::Relaxed);
            self.interval.late.fetch_add(1, Ordering::Relaxed);
        }
        let micros = (late.as_micros() as u64).clamp(1, HIGHEST_MICROS);
        let _ = lock(&self.lateness).record(micros);
    }

    /// A visit ended (success or not) after `latency` from its intended start, having reached
    /// `reached`; its journey proves `stages`, in order. A visit counts at a stage only if its
    /// journey has that stage, so a mix of short and long journeys does not read as lost visitors.
    pub fn visit_finished(&self, latency: Duration, reached: Stage, stages: &[Stage]) {
        self.visits_completed.fetch_add(1, Ordering::Relaxed);
        self.interval.completed.fetch_add(1, Ordering::Relaxed);
        self.visit_latency.record(latency);
        let count = |stage: Stage, reached_it: bool| {
            self.attempted[stage as usize].fetch_add(1, Ordering::Relaxed);
            if reached_it {
                self.funnel[stage as usize].fetch_add(1, Ordering::Relaxed);
                self.interval.funnel[stage as usize].fetch_add(1, Ordering::Relaxed);
            }
        };
        count(Stage::Visits, true);
        let mut before = Stage::Visits;
        for &stage in stages {
            if reached < before {
                break;
            }
            count(stage, reached >= stage);
            before = stage;
        }
    }

    /// A visit that selected a plan of insurer `id` (called `name`) got as far as `reached`.
    pub fn insurer_reached(&self, id: &str, name: &str, reached: Stage) {
        if reached < Stage::Selected {
            return;
        }
        let mut insurers = lock(&self.insurers);
        let funnel = insurers.entry(id.to_string()).or_default();
        if funnel.name.is_empty() {
            funnel.name = name.to_string();
        }
        funnel.selected += 1;
        funnel.redirected += u64::from(reached >= Stage::Redirected);
        funnel.paid += u64::from(reached >= Stage::Paid);
        funnel.effectuated += u64::from(reached >= Stage::Effectuated);
    }

    /// A request goes out; [`Recorder::request_ended`] when it ends. One never ended (its visit was
    /// abandoned by an interruption) stays counted as abandoned.
    pub fn request_sent(&self) {
        self.requests_in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_ended(&self) {
        self.requests_in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// A visit spent `wait` in a waiting room before being let in (or giving up).
    pub fn waited(&self, wait: Duration, gave_up: bool) {
        let micros = (wait.as_micros() as u64).clamp(1, HIGHEST_MICROS);
        let _ = lock(&self.waiting).record(micros);
        self.interval.held.fetch_add(1, Ordering::Relaxed);
        if gave_up {
            self.gave_up_waiting.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The run's step names, in order.
    pub fn step_names(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.name.clone()).collect()
    }

    /// Visits started and not yet finished.
    pub fn in_flight(&self) -> u64 {
        let completed = self.visits_completed.load(Ordering::Relaxed);
        self.visits_started
            .load(Ordering::Relaxed)
            .saturating_sub(completed)
    }

    /// Everything measured since the last call, and start the next interval.
    pub fn take_interval(&self) -> Interval {
        let take = |counter: &AtomicU64| counter.swap(0, Ordering::Relaxed);
        let mut latencies: Vec<(String, Histogram<u64>)> = self
            .steps
            .iter()
            .map(|stats| (stats.name.clone(), stats.latency.take_interval()))
            .collect();
        latencies.push((VISIT_TAG.to_string(), self.visit_latency.take_interval()));
        Interval {
            latencies,
            started: take(&self.interval.started),
            late: take(&self.interval.late),
            held: take(&self.interval.held),
            completed: take(&self.interval.completed),
            requests: take(&self.interval.requests),
            failures: take(&self.interval.failures),
            steps: self
                .steps
                .iter()
                .map(|stats| StepCount {
                    step: stats.name.clone(),
                    requests: take(&stats.interval_requests),
                    failures: take(&stats.interval_failures),
                })
                .collect(),
            outcomes: std::array::from_fn(|i| take(&self.interval.outcomes[i])),
            funnel: std::array::from_fn(|i| take(&self.interval.funnel[i])),
            in_flight: self.in_flight(),
            failed: std::mem::take(&mut *lock(&self.failed))
                .into_iter()
                .map(|(visit, step, reason)| FailedVisit {
                    visit,
                    clock: String::new(),
                    step: self.steps[step.index()].name.clone(),
                    reason,
                })
                .collect(),
            exemplars: self.exemplars.take(),
        }
    }

    /// A consistent copy of everything measured so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            steps: self
                .steps
                .iter()
                .map(|stats| StepSnapshot {
                    name: stats.name.clone(),
                    requests: stats.requests.load(Ordering::Relaxed),
                    failures: stats.failures.load(Ordering::Relaxed),
                    outcomes: std::array::from_fn(|i| stats.outcomes[i].load(Ordering::Relaxed)),
                    latency: stats.latency.total(),
                })
                .collect(),
            visit_latency: self.visit_latency.total(),
            lateness: lock(&self.lateness).clone(),
            funnel: std::array::from_fn(|i| self.funnel[i].load(Ordering::Relaxed)),
            attempted: std::array::from_fn(|i| self.attempted[i].load(Ordering::Relaxed)),
            visits_started: self.visits_started.load(Ordering::Relaxed),
            visits_completed: self.visits_completed.load(Ordering::Relaxed),
            visits_late: self.visits_late.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            reasons: lock(&self.reasons).clone(),
            insurers: lock(&self.insurers).clone(),
            waiting: lock(&self.waiting).clone(),
            gave_up_waiting: self.gave_up_waiting.load(Ordering::Relaxed),
            requests_abandoned: self.requests_in_flight.load(Ordering::Relaxed),
        }
    }
}

/// Everything measured, frozen.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Per step, in the run's step order (index by `StepId::index`).
    pub steps: Vec<StepSnapshot>,
    pub visit_latency: Histogram<u64>,
    pub lateness: Histogram<u64>,
    pub funnel: [u64; Stage::COUNT],
    /// Visits that tried each stage (see [`Recorder::visit_finished`]).
    pub attempted: [u64; Stage::COUNT],
    pub visits_started: u64,
    pub visits_completed: u64,
    pub visits_late: u64,
    pub max_in_flight: u64,
    pub reasons: BTreeMap<(StepId, String), FailureReason>,
    pub insurers: BTreeMap<String, InsurerFunnel>,
    /// Time spent in waiting rooms, one value per wait.
    pub waiting: Histogram<u64>,
    pub gave_up_waiting: u64,
    /// Requests still in flight when the run ended (an interruption abandons them).
    pub requests_abandoned: u64,
}

#[derive(Debug, Clone)]
pub struct StepSnapshot {
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub outcomes: [u64; Outcome::CLASS_COUNT],
    pub latency: Histogram<u64>,
}

impl Snapshot {
    pub fn funnel(&self, stage: Stage) -> u64 {
        self.funnel[stage as usize]
    }

    /// When visits ran but not one request reached the target (target down, DNS, TLS, every
    /// connection refused or not made in time): the most frequent failure, as the cause. Such a
    /// run proves nothing, whatever its thresholds say. Every outcome but `connect` reached it (a
    /// reply, a connection reset or cut short, an answer that never came); so may a request
    /// abandoned in flight.
    pub fn nothing_reached(&self) -> Option<String> {
        let reached = |class: usize| class != Outcome::Connect.class_index();
        let answered: u64 = self
            .steps
            .iter()
            .flat_map(|s| s.outcomes.iter().enumerate())
            .filter(|(class, _)| reached(*class))
            .map(|(_, count)| count)
            .sum();
        if self.visits_started == 0 || answered > 0 || self.requests_abandoned > 0 {
            return None;
        }
        let cause = self
            .reasons
            .iter()
            .max_by_key(|(_, reason)| reason.count)
            .map_or("no request was sent".to_string(), |((_, why), reason)| {
                format!("{why} ({} visits)", reason.count)
            });
        Some(format!("no request reached the target: {cause}"))
    }
}

/// A poisoned lock only means another user panicked mid-record; the counts are still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::percentile;

    /// A recorder for a run whose journeys have `browse`, `redirect` and `pay` steps, and those.
    fn recorder() -> (Recorder, [StepId; 3]) {
        let steps = Steps::of(["browse", "redirect", "pay"]);
        let ids = ["browse", "redirect", "pay"].map(|name| steps.named(name).unwrap());
        (Recorder::new(&steps), ids)
    }

    #[test]
    fn funnel_counts_every_stage_up_to_the_one_reached() {
        let (recorder, _) = recorder();
        recorder.visit_finished(Duration::from_millis(5), Stage::Browsed, ALL_STAGES);
        recorder.visit_finished(Duration::from_millis(5), Stage::Paid, ALL_STAGES);
        let snap = recorder.snapshot();
        assert_eq!(snap.funnel(Stage::Visits), 2);
        assert_eq!(snap.funnel(Stage::Browsed), 2);
        assert_eq!(snap.funnel(Stage::Selected), 1);
        assert_eq!(snap.funnel(Stage::Paid), 1);
        assert_eq!(snap.funnel(Stage::Effectuated), 0);
        assert_eq!(snap.visits_completed, 2);
    }

    /// Every stage a journey can prove: the vocabulary's, less `visits`.
    const ALL_STAGES: &[Stage] = Stage::ALL.as_slice().split_at(1).1;

    #[test]
    fn a_stage_counts_only_the_visits_whose_journey_tries_it() {
        let (recorder, _) = recorder();
        let browse = [Stage::Browsed];
        let confirm = ALL_STAGES;
        // Healthy: two browsers, two confirmers who got all the way.
        for _ in 0..2 {
            recorder.visit_finished(Duration::from_millis(5), Stage::Browsed, &browse);
            recorder.visit_finished(Duration::from_millis(5), Stage::Effectuated, confirm);
        }
        // One confirmer who stopped at payment: it tried `paid`, never tried `effectuated`.
        recorder.visit_finished(Duration::from_millis(5), Stage::Redirected, confirm);
        let snap = recorder.snapshot();
        assert_eq!(snap.attempted[Stage::Browsed as usize], 5);
        assert_eq!(snap.funnel(Stage::Browsed), 5);
        assert_eq!(snap.attempted[Stage::Selected as usize], 3);
        assert_eq!(snap.funnel(Stage::Selected), 3);
        assert_eq!(snap.attempted[Stage::Paid as usize], 3);
        assert_eq!(snap.funnel(Stage::Paid), 2);
        assert_eq!(
            snap.attempted[Stage::Effectuated as usize],
            2,
            "the stuck one never tried"
        );
        assert_eq!(
            snap.funnel(Stage::Effectuated),
            2,
            "100% of those who tried"
        );
    }

    #[test]
    fn requests_are_counted_by_step_and_class() {
        let (recorder, [browse_step, _, pay_step]) = recorder();
        recorder.request(
            pay_step,
            Duration::from_micros(1500),
            Outcome::Status(200),
            true,
        );
        recorder.request(
            pay_step,
            Duration::from_micros(2500),
            Outcome::Status(503),
            false,
        );
        recorder.request(pay_step, Duration::from_secs(30), Outcome::Timeout, false);
        let snap = recorder.snapshot();
        let pay = &snap.steps[pay_step.index()];
        assert_eq!((pay.requests, pay.failures), (3, 2));
        assert_eq!(pay.outcomes, [1, 0, 0, 1, 1, 0, 0]);
        assert_eq!(pay.latency.len(), 3);
        assert!(pay.latency.max() >= 29_000_000);
        assert_eq!(snap.steps[browse_step.index()].requests, 0);
    }

    #[test]
    fn failure_reasons_keep_a_few_example_visits() {
        let (recorder, [_, redirect_step, _]) = recorder();
        for visit in 0..20 {
            recorder.failure(redirect_step, "insurer answered 404", visit);
        }
        let snap = recorder.snapshot();
        let reason = &snap.reasons[&(redirect_step, "insurer answered 404".to_string())];
        assert_eq!(reason.count, 20);
        assert_eq!(reason.visits, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn percentiles_follow_the_c_go_python_rank_rule() {
        let mut histogram = new_histogram();
        for v in 1..=158u64 {
            histogram.record(v * 1000).unwrap();
        }
        // round(0.99 · 158) = 156 (C, Go, Python); Java's and the crate's ceil rule give 157.
        assert_eq!(
            histogram.highest_equivalent(percentile(&histogram, 99.0)),
            histogram.highest_equivalent(156_000)
        );
        assert_eq!(
            percentile(&histogram, 100.0),
            histogram.highest_equivalent(158_000)
        );
        assert_eq!(
            percentile(&histogram, 0.0),
            histogram.highest_equivalent(1_000)
        );
        assert_eq!(percentile(&new_histogram(), 50.0), 0);
    }

    #[test]
    fn intervals_partition_the_totals() {
        let (recorder, [browse_step, _, _]) = recorder();
        recorder.visit_started(Duration::ZERO, Duration::from_millis(100));
        recorder.request(
            browse_step,
            Duration::from_millis(3),
            Outcome::Status(200),
            true,
        );
        let first = recorder.take_interval();
        recorder.request(
            browse_step,
            Duration::from_millis(7),
            Outcome::Status(500),
            false,
        );
        recorder.visit_finished(Duration::from_millis(12), Stage::Browsed, &[Stage::Browsed]);
        let second = recorder.take_interval();
        let empty = recorder.take_interval();

        assert_eq!(
            (
                first.started,
                first.requests,
                first.failures,
                first.in_flight
            ),
            (1, 1, 0, 1)
        );
        assert_eq!(
            (second.completed, second.requests, second.failures),
            (1, 1, 1)
        );
        assert_eq!(second.outcomes[3], 1);
        let browse_count = &second.steps[browse_step.index()];
        assert_eq!(
            (
                browse_count.step.as_str(),
                browse_count.requests,
                browse_count.failures
            ),
            ("browse", 1, 1)
        );
        assert_eq!(second.funnel[Stage::Browsed as usize], 1);
        assert_eq!((empty.requests, empty.in_flight), (0, 0));
        let browse = |i: &Interval| i.latencies[0].1.len();
        assert_eq!((browse(&first), browse(&second), browse(&empty)), (1, 1, 0));
        // The interval log's tags: every step, in order, then whole visits.
        let tags: Vec<&str> = second
            .latencies
            .iter()
            .map(|(tag, _)| tag.as_str())
            .collect();
        assert_eq!(tags, ["browse", "redirect", "pay", VISIT_TAG]);

        let snap = recorder.snapshot();
        assert_eq!(
            snap.steps[browse_step.index()].latency.len(),
            2,
            "totals keep everything"
        );
        assert_eq!(snap.max_in_flight, 1);
    }
}
