//! What a capacity step measured, read back from its run directory: only the intervals of its hold
//! count (the settle before it lets queues and connection pools reach their level; the tail after
//! it is visits finishing), and the SLOs are judged over those intervals alone, by the gate's own
//! judge, so `surge gate` on the step's directory reads the same rules the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{FailedSlo, Step};
use crate::gate::{Judge, Rule};
use crate::histogram::{new_histogram, percentile_ms};
use crate::rundir::summary::Summary;
use crate::rundir::{for_each_interval, IntervalData, RunDirError};

/// The part of a step that is measured, in wall time from the step's start.
#[derive(Debug, Clone, Copy)]
pub struct Hold {
    pub from: Duration,
    pub until: Duration,
}

impl Hold {
    fn covers(&self, interval: &IntervalData) -> bool {
        interval.start >= self.from && interval.start < self.until
    }
}

/// Measure the step at `offered` visits/s whose run directory is `run_dir`: its hold, judged by
/// `rules`.
pub fn measure(
    run_dir: &Path,
    index: usize,
    offered: f64,
    hold: Hold,
    rules: &[Rule],
) -> Result<Step, RunDirError> {
    let summary = Summary::read_run_dir(run_dir)?;
    let mut judge = Judge::new(rules.to_vec(), summary.interval_s, summary.time_scale);
    let mut totals = Totals::default();
    for_each_interval(run_dir, &summary.step_names(), |interval| {
        if hold.covers(&interval) {
            judge.add(&interval);
            totals.add(&interval);
        }
    })?;
    let verdicts = judge.verdicts();
    let failed = verdicts
        .iter()
        .zip(rules)
        .find(|(v, _)| !v.pass)
        .map(|(v, rule)| FailedSlo {
            rule: v.name.clone(),
            observed: v.observed_text.clone(),
            limit: v.limit.clone(),
            ratio: v
                .observed
                .filter(|_| rule.limit != 0.0)
                .map(|observed| observed / rule.limit),
        });
    // Rates per second of scenario time, as the scenario's curve gives them.
    let seconds = totals.wall_s.max(1e-9) * summary.time_scale;
    let per_second = |count: u64| count as f64 / seconds;
    let mut requests_per_s: BTreeMap<String, f64> = totals
        .step_requests
        .iter()
        .map(|(step, count)| (step.clone(), per_second(*count)))
        .collect();
    requests_per_s.insert("all".into(), per_second(totals.requests));
    let latency_ms = totals
        .latencies
        .iter()
        .map(|(tag, h)| {
            let at = |p| {
                if h.is_empty() {
                    0.0
                } else {
                    percentile_ms(h, p)
                }
            };
            (tag.clone(), [at(50.0), at(95.0), at(99.0)])
        })
        .collect();
    let generator_valid = summary.generator.valid;
    let served = per_second(totals.completed);
    // Little's law, N = X × R: a mean over every visit of the hold, where the timeline's count in
    // flight is one sample per interval.
    let visit_s = totals
        .latencies
        .get("visit")
        .filter(|h| !h.is_empty())
        .map_or(0.0, |h| h.mean() / 1e6);
    Ok(Step {
        index,
        offered,
        served,
        // Visits per wall second × wall seconds per visit.
        in_flight: served * summary.time_scale * visit_s,
        requests_per_s,
        latency_ms,
        error_rate: match totals.requests {
            0 => 0.0,
            n => totals.failures as f64 / n as f64,
        },
        conversion: deepest_conversion(&summary),
        holds: generator_valid && failed.is_none(),
        generator_valid,
        generator_reason: summary.generator.reason.clone(),
        failed,
        run_dir: run_dir.display().to_string(),
    })
}

/// Of the visits that tried the deepest stage any journey proves, the share that reached it (the
/// whole step's funnel: stages are counted as visits end, not per interval of the hold).
fn deepest_conversion(summary: &Summary) -> f64 {
    crate::vocab::Stage::ALL
        .iter()
        .rev()
        .find_map(|stage| {
            let tried = *summary.funnel_attempted.get(stage.name())?;
            let reached = summary.funnel.get(stage.name()).copied().unwrap_or(0);
            (tried > 0 && *stage != crate::vocab::Stage::Visits)
                .then(|| reached as f64 / tried as f64)
        })
        .unwrap_or(1.0)
}

/// Sums over the hold's intervals.
#[derive(Default)]
struct Totals {
    wall_s: f64,
    completed: u64,
    requests: u64,
    failures: u64,
    step_requests: BTreeMap<String, u64>,
    latencies: BTreeMap<String, Histogram<u64>>,
}

impl Totals {
    fn add(&mut self, interval: &IntervalData) {
        let row = &interval.row;
        self.completed += row.completed;
        self.requests += row.requests;
        self.failures += row.failures;
        for step in &row.steps {
            *self.step_requests.entry(step.step.clone()).or_default() += step.requests;
        }
        for (tag, histogram) in &interval.latencies {
            let total = self
                .latencies
                .entry(tag.clone())
                .or_insert_with(new_histogram);
            // Same bounds (the recorder's): adding cannot fail.
            let _ = total.add(histogram);
        }
        // The interval's length: the timeline's elapsed time at its end minus its start.
        self.wall_s += (row.elapsed_s - interval.start.as_secs_f64()).max(0.0);
    }
}
