//! Spike windows: where a step's errors or latency rose well above its recent level.
//!
//! The rule, in one sentence: an interval is a **spike** of a step when its error rate is at least
//! 3× and 5 points above the step's recent level (with at least 5 failures), or its p99 is at least
//! 3× and 50 ms above it (with at least 5 requests), the recent level being the median of the step's
//! last 30 ordinary (non-spike) intervals; spike intervals at most one interval apart merge into one
//! window. The median ignores a few noisy intervals, the floors keep microsecond wobbles and single
//! failures from being spikes, and leaving spikes out of the level keeps a long spike a spike.
//!
//! Found from the run directory alone (timeline, interval log, failures, exemplars), so `surge
//! report` and `surge gate` find the same windows in a run made yesterday; each feeds the detector
//! in the pass over the intervals it makes anyway.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use crate::histogram::{median, percentile_ms};
use crate::rundir::exemplars::{self, Exemplar};
use crate::rundir::failures::{self, FailedVisit};
use crate::rundir::summary::{ReasonCount, Spike, Summary};
use crate::rundir::timeline::StepCount;
use crate::rundir::{IntervalData, RunDirError};
use crate::units::{ends_within, parse_clock};

/// Ordinary intervals the recent level is the median of.
const HISTORY: usize = 30;
/// How many times the recent level an interval must reach.
const FACTOR: f64 = 3.0;
/// Floors: an error-rate spike is at least this much above the level, with this many failures…
const ERROR_RISE: f64 = 0.05;
const MIN_FAILURES: u64 = 5;
/// … a latency spike at least this many ms above it, with this many requests.
const LATENCY_RISE_MS: f64 = 50.0;
const MIN_REQUESTS: u64 = 5;
/// Ordinary intervals needed before a latency level is known.
const MIN_LATENCY_HISTORY: usize = 5;
/// Reasons and visits listed per window.
const TOP_REASONS: usize = 3;
const EXAMPLE_VISITS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Errors,
    Latency,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Errors => "errors",
            Kind::Latency => "latency",
        }
    }
}

/// A window being built: intervals by index, clocks in seconds since midnight.
#[derive(Debug, Clone)]
struct Window {
    /// The index of its last spike interval.
    last: usize,
    start: f64,
    end: f64,
    peak: f64,
    level_before: f64,
    requests: u64,
    failures: u64,
}

/// One step's recent ordinary intervals.
#[derive(Default)]
struct StepLevels {
    errors: VecDeque<f64>,
    p99: VecDeque<f64>,
}

fn remember(history: &mut VecDeque<f64>, value: f64) {
    if history.len() == HISTORY {
        history.pop_front();
    }
    history.push_back(value);
}

/// Finds spike windows in intervals fed in order.
pub struct Detector {
    levels: BTreeMap<String, StepLevels>,
    open: BTreeMap<(String, Kind), Window>,
    closed: Vec<(String, Kind, Window)>,
    index: usize,
    /// Scenario clock at the end of the last interval (the next one's start).
    previous_clock: f64,
}

impl Detector {
    /// `clock_start`: the scenario clock at the curve's start, in seconds since midnight.
    pub fn new(clock_start: f64) -> Self {
        Self {
            levels: BTreeMap::new(),
            open: BTreeMap::new(),
            closed: Vec::new(),
            index: 0,
            previous_clock: clock_start,
        }
    }

    pub fn add(&mut self, interval: &IntervalData) {
        let Ok(end) = parse_clock(&interval.row.clock) else {
            // Before the first arrival: nothing is measured on the scenario clock yet.
            return;
        };
        let start = self.previous_clock.min(end);
        self.previous_clock = end;
        self.index += 1;
        for count in &interval.row.steps {
            let levels = self.levels.entry(count.step.clone()).or_default();
            let error_level = median(levels.errors.iter().copied()).unwrap_or(0.0);
            let latency_level = median(levels.p99.iter().copied())
                .filter(|_| levels.p99.len() >= MIN_LATENCY_HISTORY);
            let rate = (count.requests > 0).then(|| count.failures as f64 / count.requests as f64);
            let p99 = interval
                .latencies
                .get(&count.step)
                .filter(|h| !h.is_empty() && count.requests >= MIN_REQUESTS)
                .map(|h| percentile_ms(h, 99.0));

            let error_spike = rate.filter(|rate| {
                count.failures >= MIN_FAILURES
                    && *rate >= FACTOR * error_level
                    && *rate >= error_level + ERROR_RISE
            });
            let latency_spike = p99
                .zip(latency_level)
                .filter(|(p99, level)| *p99 >= FACTOR * level && *p99 >= level + LATENCY_RISE_MS);
            let span = (start, end);
            if let Some(rate) = error_spike {
                self.mark(&count.step, Kind::Errors, span, (rate, error_level), count);
            }
            if let Some((p99, level)) = latency_spike {
                self.mark(&count.step, Kind::Latency, span, (p99, level), count);
            }
            if error_spike.is_none() && latency_spike.is_none() {
                let levels = self.levels.entry(count.step.clone()).or_default();
                if let Some(rate) = rate {
                    remember(&mut levels.errors, rate);
                }
                if let Some(p99) = p99 {
                    remember(&mut levels.p99, p99);
                }
            }
        }
    }

    /// A spike interval of `step` over `(start, end)`: its `(value, level before)`.
    fn mark(
        &mut self,
        step: &str,
        kind: Kind,
        (start, end): (f64, f64),
        (value, level): (f64, f64),
        count: &StepCount,
    ) {
        let key = (step.to_string(), kind);
        let index = self.index;
        if let Some(window) = self.open.get_mut(&key) {
            // One ordinary interval between two spike intervals does not split the window.
            if window.last + 2 >= index {
                window.last = index;
                window.end = end;
                window.peak = window.peak.max(value);
                window.requests += count.requests;
                window.failures += count.failures;
                return;
            }
        }
        if let Some(done) = self.open.remove(&key) {
            self.closed.push((key.0.clone(), kind, done));
        }
        self.open.insert(
            key,
            Window {
                last: index,
                start,
                end,
                peak: value,
                level_before: level,
                requests: count.requests,
                failures: count.failures,
            },
        );
    }

    /// The spike windows of the intervals fed, with their top failure reasons and example visits
    /// from the run directory's `failures.csv` and `exemplars.jsonl` (read only when there is a
    /// window).
    pub fn spikes(self, run_dir: &Path) -> Result<Vec<Spike>, RunDirError> {
        let windows = self.finish();
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let failed = match run_dir.join(failures::FILE_NAME) {
            path if path.exists() => failures::read(&path)?,
            _ => Vec::new(),
        };
        let examples = exemplars::read(run_dir)?;
        Ok(windows
            .into_iter()
            .map(|(step, kind, window)| describe(step, kind, window, &failed, &examples))
            .collect())
    }

    /// The windows found, by start then step; their reasons and examples not yet filled in.
    fn finish(mut self) -> Vec<(String, Kind, Window)> {
        let open = std::mem::take(&mut self.open);
        self.closed
            .extend(open.into_iter().map(|((step, kind), w)| (step, kind, w)));
        self.closed.sort_by(|a, b| {
            a.2.start
                .total_cmp(&b.2.start)
                .then_with(|| a.0.cmp(&b.0))
                .then_with(|| a.1.cmp(&b.1))
        });
        self.closed
    }
}

impl Detector {
    /// A detector for the run `summary` describes (its scenario clock's start).
    pub fn of(summary: &Summary) -> Detector {
        Detector::new(summary.clock_start_s())
    }
}

fn describe(
    step: String,
    kind: Kind,
    window: Window,
    failed: &[FailedVisit],
    examples: &[Exemplar],
) -> Spike {
    // Clocks mark interval ends: a row belongs to the window when its end is in (start, end].
    let within = |clock: &str| ends_within(clock, window.start, window.end);
    let in_window: Vec<&FailedVisit> = failed
        .iter()
        .filter(|f| f.step == step && within(&f.clock))
        .collect();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &in_window {
        *reasons.entry(f.reason.as_str()).or_default() += 1;
    }
    let mut top_reasons: Vec<ReasonCount> = reasons
        .into_iter()
        .map(|(reason, count)| ReasonCount {
            reason: reason.to_string(),
            count,
        })
        .collect();
    top_reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    top_reasons.truncate(TOP_REASONS);
    let example_visits = match kind {
        Kind::Errors => in_window
            .iter()
            .map(|f| f.visit)
            .take(EXAMPLE_VISITS)
            .collect(),
        Kind::Latency => examples
            .iter()
            .filter(|e| e.kind == "slowest" && e.step == step && within(&e.clock))
            .map(|e| e.visit)
            .take(EXAMPLE_VISITS)
            .collect(),
    };
    Spike {
        start: crate::units::format_clock(window.start),
        end: crate::units::format_clock(window.end),
        step,
        kind: kind.name().to_string(),
        peak: window.peak,
        level_before: window.level_before,
        size: (window.level_before > 0.0).then(|| window.peak / window.level_before),
        requests: window.requests,
        failures: window.failures,
        top_reasons,
        example_visits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_histogram;

    /// An interval ending at `second` with `requests` of `pay`, `failures` failed, all taking `ms`.
    fn interval(second: u32, requests: u64, failures: u64, ms: u64) -> IntervalData {
        let mut data = IntervalData::default();
        data.row.clock = crate::units::format_clock(f64::from(second));
        data.row.steps = vec![StepCount {
            step: "pay".into(),
            requests,
            failures,
        }];
        let mut histogram = new_histogram();
        for _ in 0..requests {
            histogram.record(ms * 1000).unwrap();
        }
        data.latencies.insert("pay".into(), histogram);
        data
    }

    fn detect(intervals: &[IntervalData]) -> Vec<(String, Kind, Window)> {
        let mut detector = Detector::new(0.0);
        for data in intervals {
            detector.add(data);
        }
        detector.finish()
    }

    #[test]
    fn an_error_burst_is_one_window_with_its_size_against_the_level_before() {
        // 1% errors, then 40% for 3 intervals with one ordinary interval in the middle, then 1%.
        let mut intervals: Vec<IntervalData> = (1..=40).map(|s| interval(s, 100, 1, 10)).collect();
        for (s, failures) in [(41, 40), (42, 1), (43, 40), (44, 40)] {
            intervals.push(interval(s, 100, failures, 10));
        }
        intervals.extend((45..=60).map(|s| interval(s, 100, 1, 10)));
        let windows = detect(&intervals);
        assert_eq!(windows.len(), 1, "{windows:?}");
        let (step, kind, window) = &windows[0];
        assert_eq!((step.as_str(), *kind), ("pay", Kind::Errors));
        assert_eq!((window.start, window.end), (40.0, 44.0));
        assert!((window.peak - 0.4).abs() < 1e-9 && (window.level_before - 0.01).abs() < 1e-9);
    }

    #[test]
    fn noise_and_tiny_numbers_are_not_spikes() {
        // Errors wobbling 0–4%, a single failure out of 2 requests, latency from 1 to 3 ms.
        let intervals: Vec<IntervalData> = (1..=60)
            .map(|s| match s {
                30 => interval(s, 2, 1, 3),
                _ => interval(s, 100, u64::from(s % 5), 1 + u64::from(s % 3)),
            })
            .collect();
        assert!(detect(&intervals).is_empty(), "{:?}", detect(&intervals));
    }

    #[test]
    fn a_latency_spike_needs_a_level_and_a_real_rise() {
        let mut intervals: Vec<IntervalData> = (1..=20).map(|s| interval(s, 50, 0, 20)).collect();
        intervals.push(interval(21, 50, 0, 400));
        intervals.push(interval(22, 50, 0, 20));
        let windows = detect(&intervals);
        assert_eq!(windows.len(), 1, "{windows:?}");
        assert_eq!(windows[0].1, Kind::Latency);
        assert_eq!((windows[0].2.start, windows[0].2.end), (20.0, 21.0));
    }
}
