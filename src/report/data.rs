//! What the report draws, read from a run directory alone: the summary, the run's latency
//! histograms in total, and the timeline downsampled to at most `MAX_POINTS` points, each with its
//! own latency percentiles (merged from the interval histograms, so they stay exact).

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::histogram::{new_histogram, percentile};
use crate::rundir::exemplars::{self, Exemplar};
use crate::rundir::summary::{Spike, Summary};
use crate::rundir::{for_each_interval, timeline, IntervalData, RunDirError};
use crate::units::{ends_within, parse_clock};
use crate::vocab::Outcome;

/// Points per time series at most: a 12-hour run still draws quickly and reads cleanly.
pub const MAX_POINTS: usize = 600;

/// One point of the time series: one or more intervals merged.
#[derive(Debug, Clone, Default)]
pub struct Point {
    /// Run time at the end of the point, in seconds.
    pub elapsed_s: f64,
    /// Scenario clock at the end of the point, seconds since midnight (`None` before the first arrival).
    pub clock_s: Option<f64>,
    /// Wall seconds the point covers.
    pub seconds: f64,
    pub intended: Option<u64>,
    pub started: u64,
    pub late: u64,
    /// Waits on a waiting room's holding page that ended in the point.
    pub held: u64,
    pub requests: u64,
    pub failures: u64,
    /// Requests by outcome class, in `OUTCOME_CLASSES` order.
    pub outcomes: [u64; Outcome::CLASS_COUNT],
    /// p50, p95, p99 in ms per step (in the summary's step order), `None` where the step had no
    /// requests.
    pub step_percentiles: Vec<Option<[f64; 3]>>,
}

/// Everything the charts and pages need.
pub struct RunData {
    pub summary: Summary,
    pub points: Vec<Point>,
    /// Whole-run latency per step, and `visit`.
    pub totals: BTreeMap<String, Histogram<u64>>,
    /// Intervals merged into each point.
    pub intervals_per_point: usize,
    /// A few example requests of each spike window (in `summary.spikes` order).
    pub spike_examples: Vec<Vec<Exemplar>>,
}

impl RunData {
    pub fn read(run_dir: &Path) -> Result<RunData, RunDirError> {
        let mut summary = Summary::read_run_dir(run_dir)?;
        // Spikes are found again from the files, in the same pass, so a run from before spikes
        // were found gets them too.
        let mut detector = crate::spikes::Detector::of(&summary);
        // The knee too: the summary of a run from before knees were found gets one.
        let mut knee = crate::knee::Detector::of(&summary);
        let names = summary.step_names();
        let steps: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        // Points are a whole number of intervals each: count them first (the timeline alone is
        // cheap), then merge in one pass over the intervals.
        let intervals = timeline::read(&run_dir.join(timeline::FILE_NAME), &names)?.len();
        let per_point = intervals.div_ceil(MAX_POINTS).max(1);
        let mut totals: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        let mut points = Vec::new();
        let mut pending: Vec<IntervalData> = Vec::new();
        let mut previous_elapsed = 0.0;
        for_each_interval(run_dir, &names, |interval| {
            detector.add(&interval);
            knee.add(&interval);
            for (tag, histogram) in &interval.latencies {
                let _ = totals
                    .entry(tag.clone())
                    .or_insert_with(new_histogram)
                    .add(histogram);
            }
            pending.push(interval);
            if pending.len() == per_point {
                let point = merge(&pending, previous_elapsed, &steps);
                previous_elapsed = point.elapsed_s;
                points.push(point);
                pending.clear();
            }
        })?;
        if !pending.is_empty() {
            points.push(merge(&pending, previous_elapsed, &steps));
        }
        summary.spikes = detector.spikes(run_dir)?;
        summary.knee = knee.knee();
        let spike_examples = if summary.spikes.is_empty() {
            Vec::new()
        } else {
            let all = exemplars::read(run_dir)?;
            summary
                .spikes
                .iter()
                .map(|spike| examples_of(spike, &all))
                .collect()
        };
        Ok(RunData {
            summary,
            points,
            totals,
            intervals_per_point: per_point,
            spike_examples,
        })
    }

    /// Points that have a scenario clock, with it.
    pub fn clocked(&self) -> impl Iterator<Item = (f64, &Point)> {
        self.points.iter().filter_map(|p| p.clock_s.map(|c| (c, p)))
    }

    /// The scenario clock's range over the run, in seconds since midnight.
    pub fn clock_range(&self) -> (f64, f64) {
        let start = self.summary.clock_start_s();
        let end = self.clocked().map(|(c, _)| c).fold(start + 1.0, f64::max);
        (start, end)
    }
}

/// Examples shown per spike window.
const EXAMPLES_PER_SPIKE: usize = 3;

/// The window's examples: failed requests of its step for an error spike, the slowest for a latency
/// one, seen in intervals that ended within the window.
fn examples_of(spike: &Spike, all: &[Exemplar]) -> Vec<Exemplar> {
    let kind = if spike.kind == "latency" {
        "slowest"
    } else {
        "failure"
    };
    let (start, end) = (
        parse_clock(&spike.start).unwrap_or(0.0),
        parse_clock(&spike.end).unwrap_or(0.0),
    );
    all.iter()
        .filter(|e| e.kind == kind && e.step == spike.step)
        .filter(|e| ends_within(&e.clock, start, end))
        .take(EXAMPLES_PER_SPIKE)
        .cloned()
        .collect()
}

fn merge(group: &[IntervalData], previous_elapsed: f64, steps: &[String]) -> Point {
    let last = &group[group.len() - 1].row;
    let mut point = Point {
        elapsed_s: last.elapsed_s,
        clock_s: parse_clock(&last.clock).ok(),
        seconds: (last.elapsed_s - previous_elapsed).max(1e-3),
        ..Point::default()
    };
    let mut latencies: Vec<Histogram<u64>> = steps.iter().map(|_| new_histogram()).collect();
    for interval in group {
        let row = &interval.row;
        point.intended = match (point.intended, row.intended) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        point.started += row.started;
        point.late += row.late;
        point.held += row.held;
        point.requests += row.requests;
        point.failures += row.failures;
        for (total, n) in point.outcomes.iter_mut().zip(row.outcomes) {
            *total += n;
        }
        for (total, step) in latencies.iter_mut().zip(steps) {
            if let Some(h) = interval.latencies.get(step) {
                let _ = total.add(h);
            }
        }
    }
    point.step_percentiles = latencies
        .iter()
        .map(|histogram| {
            let ms = |p: f64| percentile(histogram, p) as f64 / 1000.0;
            (!histogram.is_empty()).then(|| [ms(50.0), ms(95.0), ms(99.0)])
        })
        .collect();
    point
}
