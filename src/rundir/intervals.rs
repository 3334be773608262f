//! One pass over a run's intervals: each `timeline.csv` row with its histograms from
//! `latency.hlog`, in order. The gate, the report and a merge all read a run through this, and the
//! live monitor hands the gate the same shape, so `surge run` and `surge gate` judge the same data.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::timeline::{self, Row};
use super::{hlog, RunDirError};

/// One interval: its timeline row and its latency histograms.
#[derive(Debug, Clone, Default)]
pub struct IntervalData {
    /// When the interval started, after the run's (or the interval log's) start.
    pub start: std::time::Duration,
    pub row: Row,
    /// Latency per tag: the step names and `visit`.
    pub latencies: BTreeMap<String, Histogram<u64>>,
}

/// Feed a run directory's intervals, in order, to `each`; `steps` are the run's (from its summary).
/// The timeline gives the counts, the
/// interval log the latencies; both have one entry per interval, written together. Only one
/// interval's histograms are in memory at a time, so a 12-hour run reads in constant memory.
/// Returns how many intervals there were.
pub fn for_each_interval(
    run_dir: &Path,
    steps: &[&str],
    mut each: impl FnMut(IntervalData),
) -> Result<usize, RunDirError> {
    let timeline_path = run_dir.join(timeline::FILE_NAME);
    let mut rows = timeline::read(&timeline_path, steps)?.into_iter();

    let hlog_path = run_dir.join(hlog::FILE_NAME);
    let bytes = std::fs::read(&hlog_path).map_err(|e| RunDirError::read(&hlog_path, e))?;
    let bad_log = |what: String| RunDirError::BadIntervalLog {
        path: hlog_path.clone(),
        what,
    };
    let mut current: Option<(std::time::Duration, IntervalData)> = None;
    let mut count = 0;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| bad_log(format!("not a valid interval log: {e:?}")))?;
        let LogEntry::Interval(logged) = entry else {
            continue;
        };
        let start = logged.start_timestamp();
        if current.as_ref().is_none_or(|(s, _)| *s != start) {
            if let Some((_, done)) = current.take() {
                each(done);
                count += 1;
            }
            let row = rows.next().ok_or_else(|| {
                bad_log(format!(
                    "more intervals than {}: the run directory is inconsistent",
                    timeline_path.display()
                ))
            })?;
            current = Some((
                start,
                IntervalData {
                    start,
                    row,
                    latencies: BTreeMap::new(),
                },
            ));
        }
        let tag = logged
            .tag()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let bytes = base64_decode(logged.encoded_histogram())
            .ok_or_else(|| bad_log("a histogram is not base64".into()))?;
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| bad_log(format!("a histogram does not decode: {e:?}")))?;
        if let Some((_, data)) = current.as_mut() {
            data.latencies.insert(tag, histogram);
        }
    }
    if let Some((_, done)) = current {
        each(done);
        count += 1;
    }
    Ok(count)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
