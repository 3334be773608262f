//! What the judge reads: one interval at a time, either live from the monitor or back from a run
//! directory's `latency.hlog` and `timeline.csv` — so `surge run` and `surge gate` judge the same data.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::measure::{hlog, timeline, Interval};

/// One interval's numbers, as the rules need them.
#[derive(Debug, Clone, Default)]
pub struct IntervalData {
    /// Scenario clock at the interval's end (empty before the first arrival).
    pub clock: String,
    /// Latency per tag: the step names and `visit`.
    pub latencies: BTreeMap<String, Histogram<u64>>,
    pub step_requests: [u64; 6],
    pub step_failures: [u64; 6],
    /// Visits finishing in the interval having reached each funnel stage (`visits` first).
    pub funnel: [u64; 7],
    pub started: u64,
    pub late: u64,
}

impl IntervalData {
    pub fn from_interval(interval: &Interval, clock: String) -> IntervalData {
        let mut funnel = interval.funnel;
        funnel[0] = interval.completed;
        IntervalData {
            clock,
            latencies: interval
                .latencies
                .iter()
                .map(|(tag, h)| (tag.to_string(), h.clone()))
                .collect(),
            step_requests: interval.step_requests,
            step_failures: interval.step_failures,
            funnel,
            started: interval.started,
            late: interval.late,
        }
    }
}

/// Feed a run directory's intervals, in order, to `each`. The timeline gives the counts, the
/// interval log the latencies; both have one entry per interval, written together. Only one
/// interval's histograms are in memory at a time, so a 12-hour run reads in constant memory.
/// Returns how many intervals there were.
pub fn for_each_interval(
    run_dir: &Path,
    mut each: impl FnMut(IntervalData),
) -> Result<usize, String> {
    let timeline_path = run_dir.join(timeline::FILE_NAME);
    let mut rows = timeline::read(&timeline_path)?.into_iter().map(|row| {
        let mut funnel = [0; 7];
        funnel[0] = row.completed;
        funnel[1..].copy_from_slice(&row.stages);
        IntervalData {
            clock: row.clock,
            latencies: BTreeMap::new(),
            step_requests: row.step_requests,
            step_failures: row.step_failures,
            funnel,
            started: row.started,
            late: row.late,
        }
    });

    let hlog_path = run_dir.join(hlog::FILE_NAME);
    let bytes = std::fs::read(&hlog_path)
        .map_err(|e| format!("cannot read {}: {e}", hlog_path.display()))?;
    let inconsistent = || {
        format!(
            "{} has more intervals than {}: the run directory is inconsistent",
            hlog_path.display(),
            timeline_path.display()
        )
    };
    let mut current: Option<(std::time::Duration, IntervalData)> = None;
    let mut count = 0;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry
            .map_err(|e| format!("{} is not a valid interval log: {e:?}", hlog_path.display()))?;
        let LogEntry::Interval(logged) = entry else {
            continue;
        };
        let start = logged.start_timestamp();
        if current.as_ref().is_none_or(|(s, _)| *s != start) {
            if let Some((_, done)) = current.take() {
                each(done);
                count += 1;
            }
            current = Some((start, rows.next().ok_or_else(inconsistent)?));
        }
        let tag = logged
            .tag()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let bytes = base64_decode(logged.encoded_histogram())
            .ok_or_else(|| format!("{}: a histogram is not base64", hlog_path.display()))?;
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| {
                format!(
                    "{}: a histogram does not decode: {e:?}",
                    hlog_path.display()
                )
            })?;
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
