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
