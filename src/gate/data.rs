//! What the judge reads: one interval at a time, either live from the monitor or back from a run
//! directory's `latency.hlog` and `timeline.csv` — so `surge run` and `surge gate` judge the same data.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::measure::{hlog, timeline, Interval, Step};

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

/// Read a run directory's intervals, in order. The timeline gives the counts, the interval log the
/// latencies; both have one entry per interval, written together.
pub fn read_intervals(run_dir: &Path) -> Result<Vec<IntervalData>, String> {
    let timeline_path = run_dir.join(timeline::FILE_NAME);
    let text = std::fs::read_to_string(&timeline_path)
        .map_err(|e| format!("cannot read {}: {e}", timeline_path.display()))?;
    let mut rows = text.lines();
    let header: Vec<&str> = rows
        .next()
        .ok_or_else(|| format!("{} is empty", timeline_path.display()))?
        .split(',')
        .collect();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            format!(
                "{} has no column `{name}`: it was written by another version of surge",
                timeline_path.display()
            )
        })
    };
    let clock = column("clock")?;
    let started = column("started")?;
    let late = column("late")?;
    let completed = column("completed")?;
    let stages = [
        "browsed",
        "eligibility",
        "selected",
        "redirected",
        "paid",
        "effectuated",
    ]
    .iter()
    .map(|s| column(s))
    .collect::<Result<Vec<_>, _>>()?;
    let step_columns = Step::ALL
        .iter()
        .map(|s| {
            Ok((
                column(&format!("{}_requests", s.name()))?,
                column(&format!("{}_failures", s.name()))?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;

    let mut intervals = Vec::new();
    for (index, row) in rows.enumerate() {
        let fields: Vec<&str> = row.split(',').collect();
        let number = |i: usize| -> Result<u64, String> {
            fields.get(i).and_then(|f| f.parse().ok()).ok_or_else(|| {
                format!(
                    "{} line {}: column `{}` is not a count",
                    timeline_path.display(),
                    index + 2,
                    header.get(i).unwrap_or(&"?")
                )
            })
        };
        let mut data = IntervalData {
            clock: fields.get(clock).unwrap_or(&"").to_string(),
            started: number(started)?,
            late: number(late)?,
            ..IntervalData::default()
        };
        data.funnel[0] = number(completed)?;
        for (i, c) in stages.iter().enumerate() {
            data.funnel[i + 1] = number(*c)?;
        }
        for (i, (requests, failures)) in step_columns.iter().enumerate() {
            data.step_requests[i] = number(*requests)?;
            data.step_failures[i] = number(*failures)?;
        }
        intervals.push(data);
    }

    let hlog_path = run_dir.join(hlog::FILE_NAME);
    let bytes = std::fs::read(&hlog_path)
        .map_err(|e| format!("cannot read {}: {e}", hlog_path.display()))?;
    let mut index = 0;
    let mut last_start = None;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry
            .map_err(|e| format!("{} is not a valid interval log: {e:?}", hlog_path.display()))?;
        let LogEntry::Interval(logged) = entry else {
            continue;
        };
        if last_start.is_some_and(|s| s != logged.start_timestamp()) {
            index += 1;
        }
        last_start = Some(logged.start_timestamp());
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
        let Some(data) = intervals.get_mut(index) else {
            return Err(format!(
                "{} has more intervals than {}: the run directory is inconsistent",
                hlog_path.display(),
                timeline_path.display()
            ));
        };
        data.latencies.insert(tag, histogram);
    }
    Ok(intervals)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
