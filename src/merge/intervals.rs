//! The shards' interval logs and timelines added interval by interval on the shared clock: the
//! interval starting `k` intervals after a shard's first cut (its scenario-clock zero with
//! `--start-at`, so the same instant for every shard; else its own start) is added to every other
//! shard's `k`th. HdrHistograms add losslessly, so the merged `latency.hlog` is the log one
//! machine would have written. Each shard is read on its own thread, one interval at a time, so a
//! merge holds a few intervals in memory whatever the run's length.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, IntoIter};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;

use crate::histogram::{new_histogram, percentile_ms};
use crate::rundir::hlog::{self, VISIT_TAG};
use crate::rundir::timeline::{self, Row, TimelineWriter};
use crate::rundir::{for_each_interval, IntervalData, RunDirError};

/// What the merged log says of itself.
pub struct MergedLog<'a> {
    pub run_name: &'a str,
    /// The shared start (`--start-at`), or the earliest shard's.
    pub started: SystemTime,
    pub interval: Duration,
    /// The run's steps, in order.
    pub steps: &'a [&'a str],
}

/// Add the shards' intervals into `out`'s `latency.hlog` and `timeline.csv`; returns how many
/// intervals the merged run has.
pub fn merge(shards: &[PathBuf], out: &Path, log: &MergedLog<'_>) -> Result<usize, RunDirError> {
    let hlog_path = out.join(hlog::FILE_NAME);
    let mut hlog_file =
        std::fs::File::create(&hlog_path).map_err(|e| RunDirError::write(&hlog_path, e))?;
    let mut serializer = V2DeflateSerializer::new();
    let mut writer = hlog::begin(&mut hlog_file, &mut serializer, log.run_name, log.started)
        .map_err(|e| RunDirError::write(&hlog_path, e))?;
    let step_names: Vec<String> = log.steps.iter().map(|s| s.to_string()).collect();
    let mut timeline = TimelineWriter::create(&out.join(timeline::FILE_NAME), &step_names)?;
    let key = |data: &IntervalData| {
        (data.start.as_secs_f64() / log.interval.as_secs_f64()).round() as u64
    };

    std::thread::scope(|scope| {
        let mut feeds: Vec<Peekable<IntoIter<IntervalData>>> = Vec::new();
        let mut readers = Vec::new();
        for dir in shards {
            let (send, receive) = sync_channel(4);
            readers.push(scope.spawn(move || {
                for_each_interval(dir, log.steps, |interval| {
                    // The merge stopped early on an error of its own: nothing left to do.
                    let _ = send.send(interval);
                })
            }));
            feeds.push(receive.into_iter().peekable());
        }
        let mut count = 0;
        while let Some(next) = feeds.iter_mut().filter_map(|f| f.peek().map(key)).min() {
            let mut merged: Option<IntervalData> = None;
            for feed in &mut feeds {
                while let Some(interval) = feed.next_if(|i| key(i) == next) {
                    match merged.as_mut() {
                        Some(sum) => add(sum, interval),
                        None => merged = Some(interval),
                    }
                }
            }
            if let Some(mut interval) = merged {
                interval.row.visit_p95_ms = interval
                    .latencies
                    .get(VISIT_TAG)
                    .map_or(0.0, |h| percentile_ms(h, 95.0));
                let tagged = log
                    .steps
                    .iter()
                    .copied()
                    .chain([VISIT_TAG])
                    .filter_map(|tag| interval.latencies.get(tag).map(|h| (tag, h)));
                // Every shard's elapsed_s was checked to be a duration before the merge began.
                let length = Duration::try_from_secs_f64(interval.row.elapsed_s)
                    .unwrap_or_default()
                    .saturating_sub(interval.start);
                hlog::write_interval(&mut writer, tagged, interval.start, length)
                    .map_err(|e| RunDirError::write(&hlog_path, e))?;
                timeline.write(&interval.row)?;
                count += 1;
            }
        }
        for reader in readers {
            reader.join().map_err(|_| {
                RunDirError::write(&hlog_path, std::io::Error::other("a shard's reader failed"))
            })??;
        }
        Ok(count)
    })
}

/// Add `other` (the same interval of another shard) into `sum`.
fn add(sum: &mut IntervalData, other: IntervalData) {
    sum.start = sum.start.min(other.start);
    for (tag, histogram) in other.latencies {
        let entry = sum.latencies.entry(tag).or_insert_with(new_histogram);
        let _ = entry.add(&histogram);
    }
    add_row(&mut sum.row, other.row);
}

/// Counts summed; the end and the clock are the later shard's.
fn add_row(sum: &mut Row, other: Row) {
    if other.elapsed_s > sum.elapsed_s {
        sum.elapsed_s = other.elapsed_s;
        if !other.clock.is_empty() {
            sum.clock = other.clock;
        }
    }
    sum.intended = match (sum.intended, other.intended) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    sum.started += other.started;
    sum.completed += other.completed;
    sum.in_flight += other.in_flight;
    sum.requests += other.requests;
    sum.failures += other.failures;
    for (a, b) in sum.outcomes.iter_mut().zip(other.outcomes) {
        *a += b;
    }
    for (a, b) in sum.stages.iter_mut().zip(other.stages) {
        *a += b;
    }
    sum.late += other.late;
    sum.held += other.held;
    let mut steps: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for step in &other.steps {
        steps.insert(step.step.clone(), (step.requests, step.failures));
    }
    for step in &mut sum.steps {
        if let Some((requests, failures)) = steps.get(&step.step) {
            step.requests += requests;
            step.failures += failures;
        }
    }
}
