//! Latency histograms as surge keeps them: HdrHistogram of microseconds, 1 µs to one hour at 3
//! significant digits, read with the rank rule of HdrHistogram's C, Go and Python libraries. A leaf: it imports nothing of the
//! crate, so the recorder, the run directory, the gate and the report read percentiles alike.

use hdrhistogram::Histogram;

/// Latency histograms cover 1 µs to one hour at 3 significant digits.
pub const HIGHEST_MICROS: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("static histogram bounds are valid")
}

/// The value at `percentile` (0–100): the highest value equivalent to the sample of rank
/// `round(p/100 · count)`, at least 1 — the rank rule of HdrHistogram_c, hdrhistogram-go and
/// HdrHistogram_py (HdrHistogram_py reads latency.hlog back to the same p50/p95/p99;
/// `scripts/check-hlog.py` checks it in CI). HdrHistogram's Java library and the Rust crate's
/// `value_at_quantile` round the rank up (ceil) instead, which reads one sample higher on small
/// counts (p99 of 158 values: the 157th, not the 156th).
pub fn percentile(histogram: &Histogram<u64>, percentile: f64) -> u64 {
    let total = histogram.len();
    if total == 0 {
        return 0;
    }
    let rank = ((percentile.clamp(0.0, 100.0) / 100.0 * total as f64) + 0.5).floor() as u64;
    let rank = rank.clamp(1, total);
    let mut seen = 0;
    for value in histogram.iter_recorded() {
        seen += value.count_since_last_iteration();
        if seen >= rank {
            return histogram.highest_equivalent(value.value_iterated_to());
        }
    }
    histogram.max()
}

/// The percentile in milliseconds; 0 for an empty histogram.
pub fn percentile_ms(histogram: &Histogram<u64>, p: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    micros_to_ms(percentile(histogram, p))
}

pub fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// A histogram as text: HdrHistogram's V2 deflate encoding in base64, as in an interval log line,
/// so a whole run's histograms travel in `summary.json` and add up losslessly across shards.
pub fn to_base64(histogram: &Histogram<u64>) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        // Serializing into memory fails only on an invalid histogram: keep an empty one.
        Err(_) => String::new(),
    }
}

/// Why a text is not a histogram [`to_base64`] wrote.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an HdrHistogram: {0:?}")]
    Deserialize(hdrhistogram::serialization::DeserializeError),
    #[error("values out of range: {0:?}")]
    OutOfRange(hdrhistogram::AdditionError),
}

/// The histogram [`to_base64`] wrote; an empty text is an empty histogram.
pub fn from_base64(text: &str) -> Result<Histogram<u64>, HistogramError> {
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    if text.is_empty() {
        return Ok(new_histogram());
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistogramError::Deserialize)?;
    // Re-bound as surge's own, so any two add without loss.
    let mut histogram = new_histogram();
    histogram
        .add(&decoded)
        .map_err(HistogramError::OutOfRange)?;
    Ok(histogram)
}

/// The median of a few measured levels (an interval's latency, a step's error rate): the mean of
/// the two middle values of an even count; None when there are none. The knee and the spike
/// windows judge against it, so a few odd intervals do not move a level.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut sorted: Vec<f64> = values.into_iter().collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_base64_and_two_add_up() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        for v in 1..=1000 {
            a.record(v * 7).unwrap();
            b.record(v * 13).unwrap();
        }
        let mut sum = from_base64(&to_base64(&a)).unwrap();
        assert_eq!(sum, a);
        sum.add(from_base64(&to_base64(&b)).unwrap()).unwrap();
        let mut expected = a.clone();
        expected.add(&b).unwrap();
        assert_eq!(sum, expected);
        assert!(from_base64("").unwrap().is_empty());
        assert!(from_base64("not base64!").is_err());
    }
}
