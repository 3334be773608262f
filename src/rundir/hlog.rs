//! `latency.hlog`: one histogram per step (and whole visits) per interval, in the standard
//! HdrHistogram interval-log format (V2, deflate-compressed, tagged by step), so the HdrHistogram
//! tools of other languages read it and logs from several machines merge.
//!
//! Values are microseconds; the log's max column is in milliseconds (`MaxValueDivisor: 1000`).

use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

pub const FILE_NAME: &str = "latency.hlog";

/// The tag of whole visits, beside the step names (which is why no step may be called `visit`).
pub const VISIT_TAG: &str = "visit";

/// Start a log in `file`: comments naming the run, then the standard headers.
pub fn begin<'a, 'b, W: io::Write>(
    file: &'a mut W,
    serializer: &'b mut V2DeflateSerializer,
    run_name: &str,
    started: SystemTime,
) -> io::Result<IntervalLogWriter<'a, 'b, W, V2DeflateSerializer>> {
    IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "surge {} interval log: {run_name}",
            env!("CARGO_PKG_VERSION")
        ))
        .add_comment(
            "Values are microseconds; tags are the journeys' steps and visit (whole visits).",
        )
        .with_start_time(started)
        .with_base_time(started)
        .with_max_value_divisor(1000.0)
        .begin_log_with(file, serializer)
}

/// Write every histogram of one interval, tagged, `start` after the log's base time.
pub fn write_interval<'h, W: io::Write>(
    log: &mut IntervalLogWriter<'_, '_, W, V2DeflateSerializer>,
    tagged: impl IntoIterator<Item = (&'h str, &'h Histogram<u64>)>,
    start: Duration,
    length: Duration,
) -> io::Result<()> {
    for (name, histogram) in tagged {
        log.write_histogram(histogram, start, length, Tag::new(name))
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_histogram;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn log_round_trips_tagged_histograms() {
        // One interval as the recorder hands it over: a histogram per step, whole visits last.
        let mut latencies: Vec<(String, Histogram<u64>)> = ["browse", "login", "pay", VISIT_TAG]
            .into_iter()
            .map(|tag| (tag.to_string(), new_histogram()))
            .collect();
        for ms in [2, 4, 8] {
            latencies[2].1.record(ms * 1000).unwrap();
        }
        let mut buffer = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut log =
                begin(&mut buffer, &mut serializer, "test", SystemTime::UNIX_EPOCH).unwrap();
            write_interval(
                &mut log,
                latencies.iter().map(|(tag, h)| (tag.as_str(), h)),
                Duration::from_secs(3),
                Duration::from_secs(1),
            )
            .unwrap();
        }
        let text = String::from_utf8(buffer.clone()).unwrap();
        assert!(text.contains("#[StartTime: 0.000"), "{text}");

        let mut pay = None;
        let mut tags = Vec::new();
        for entry in IntervalLogIterator::new(&buffer) {
            if let LogEntry::Interval(h) = entry.unwrap() {
                let tag = h.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
                assert_eq!(h.start_timestamp(), Duration::from_secs(3));
                if tag == "pay" {
                    let bytes = base64_decode(h.encoded_histogram());
                    let decoded: hdrhistogram::Histogram<u64> = Deserializer::new()
                        .deserialize(&mut bytes.as_slice())
                        .unwrap();
                    pay = Some(decoded);
                }
                tags.push(tag);
            }
        }
        assert_eq!(tags, ["browse", "login", "pay", "visit"]);
        let pay = pay.unwrap();
        assert_eq!(pay.len(), 3);
        assert!((pay.max() as i64 - 8000).abs() < 10);
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    }
}
