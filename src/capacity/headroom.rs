//! The scenario's own curve laid over the capacity: does the forecast morning fit, and if not, for
//! how long and for how many visitors is it over? Capacity planners want the answer as a sentence
//! ("over capacity from 08:31 to 11:05, 31 % of the morning's visits arrive above it"), so this
//! module computes the crossings and shares and says them.
//!
//! The forecast is samples of the arrival rate, linear between samples; crossings and areas are
//! computed exactly on that piecewise-linear curve, not on the samples.

use serde::{Deserialize, Serialize};

use crate::units::format_clock;

/// A forecast against a capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// The forecast's highest rate, visits/s.
    pub peak_rate: f64,
    /// When it first reaches it, HH:MM:SS.
    pub peak_clock: String,
    /// The capacity the forecast is laid over, visits/s.
    pub capacity: f64,
    /// When the rate first rises above the capacity and when it last falls back below it (the
    /// forecast's end if it never does), HH:MM:SS; `None` when it never rises above.
    pub over: Option<(String, String)>,
    /// The share of the forecast's visits that arrive while the rate is above the capacity, 0..1
    /// (all of them, not only the excess over the capacity).
    pub share_above: f64,
    /// peak_rate / capacity: how many times today's capacity the forecast needs.
    pub needs: f64,
}

/// Lay `forecast`, (seconds since midnight, visits/s) samples in time order, over `capacity`
/// visits/s. `None` when the forecast is empty, a value is not finite, a rate is negative, time
/// goes backwards, or the capacity is not above 0.
pub fn against(forecast: &[(f64, f64)], capacity: f64) -> Option<Headroom> {
    let valid = |&(t, rate): &(f64, f64)| t.is_finite() && rate.is_finite() && rate >= 0.0;
    if forecast.is_empty()
        || !forecast.iter().all(valid)
        || forecast.windows(2).any(|w| w[1].0 < w[0].0)
        || !(capacity.is_finite() && capacity > 0.0)
    {
        return None;
    }
    let (peak_at, peak_rate) =
        forecast
            .iter()
            .copied()
            .fold((forecast[0].0, f64::NEG_INFINITY), |best, (t, rate)| {
                if rate > best.1 {
                    (t, rate)
                } else {
                    best
                }
            });

    let mut first_above: Option<f64> = None;
    let mut last_below: Option<f64> = None;
    let (mut visits, mut visits_above) = (0.0, 0.0);
    if forecast[0].1 > capacity {
        first_above = Some(forecast[0].0);
    }
    for pair in forecast.windows(2) {
        let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
        let area = (r0 + r1) / 2.0 * (t1 - t0);
        visits += area;
        // Where the segment crosses the capacity, if it does (strictly one side to the other).
        let crossing = || t0 + (capacity - r0) / (r1 - r0) * (t1 - t0);
        match (r0 > capacity, r1 > capacity) {
            (true, true) => visits_above += area,
            (false, false) => {}
            (false, true) => {
                let at = crossing();
                first_above.get_or_insert(at);
                visits_above += (capacity + r1) / 2.0 * (t1 - at);
            }
            (true, false) => {
                let at = crossing();
                last_below = Some(at);
                visits_above += (r0 + capacity) / 2.0 * (at - t0);
            }
        }
    }
    let end = forecast[forecast.len() - 1];
    let over = first_above.map(|start| {
        // Still above at the end: over until the forecast ends.
        let stop = if end.1 > capacity {
            end.0
        } else {
            last_below.unwrap_or(end.0)
        };
        (format_clock(start), format_clock(stop))
    });
    // A forecast with no duration (one sample) has no area: its visits are all above or none.
    let share_above = if visits > 0.0 {
        (visits_above / visits).clamp(0.0, 1.0)
    } else if over.is_some() {
        1.0
    } else {
        0.0
    };
    Some(Headroom {
        peak_rate,
        peak_clock: format_clock(peak_at),
        capacity,
        over,
        share_above,
        needs: peak_rate / capacity,
    })
}

impl Headroom {
    /// The answer in one sentence, calling the forecast "the forecast".
    pub fn sentence(&self) -> String {
        self.sentence_about("the forecast")
    }

    /// The answer in one sentence, calling the forecast `what` (e.g. "the first morning").
    pub fn sentence_about(&self, what: &str) -> String {
        let peak = format!(
            "{what} peaks at {} visits/s at {}",
            rate(self.peak_rate),
            self.peak_clock
        );
        match &self.over {
            Some((from, to)) => format!(
                "{peak}; the exchange holds {}: over capacity from {from} to {to}, {} of {what}'s \
                 visits arrive while it is over; it needs {:.1}× the capacity",
                rate(self.capacity),
                percent(self.share_above),
                self.needs
            ),
            None => format!(
                "{peak}, {} of the capacity ({} visits/s): headroom {:.1}×",
                percent(self.needs),
                rate(self.capacity),
                1.0 / self.needs
            ),
        }
    }
}

/// A rate as people read it: two decimals below 1, one below 100, whole numbers with thousands
/// separators above.
pub fn rate(value: f64) -> String {
    // Below 100 a tenth still matters: a search is precise to 5 %; below 1, a hundredth.
    if value.abs() < 1.0 {
        return format!("{value:.2}");
    }
    if value.abs() < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 {
        grouped.insert(0, '-');
    }
    grouped
}

/// A share 0..1 as a whole percentage; a share that is not 0 never reads as 0 %.
fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.005 {
        "< 1 %".to_string()
    } else {
        format!("{:.0} %", share * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 at 08:00, up to `peak` at 09:00, back to 0 at 10:00.
    fn triangle(peak: f64) -> Vec<(f64, f64)> {
        vec![
            (8.0 * 3600.0, 0.0),
            (9.0 * 3600.0, peak),
            (10.0 * 3600.0, 0.0),
        ]
    }

    #[test]
    fn a_triangle_over_half_its_peak_is_over_for_its_middle_hour_with_three_quarters_of_its_visits()
    {
        // Every 16 s: the apex (3600 s) is a sample, the crossings (1800 s either side) are not.
        let samples: Vec<(f64, f64)> = (0..=7200)
            .step_by(16)
            .map(|s| {
                let t = 8.0 * 3600.0 + s as f64;
                (t, 2000.0 * (1.0 - (s as f64 - 3600.0).abs() / 3600.0))
            })
            .collect();
        let h = against(&samples, 1000.0).unwrap();
        assert_eq!(h.over, Some(("08:30:00".into(), "09:30:00".into())));
        // While over, the middle half of the base, the visits are the top triangle (a quarter
        // of the area) and the band under it, up to the capacity (half): three quarters.
        assert!((h.share_above - 0.75).abs() < 0.01 * 0.75, "{h:?}");
        assert_eq!(h.needs, 2.0);
        assert_eq!(h.peak_rate, 2000.0);
        assert_eq!(h.peak_clock, "09:00:00");
    }

    #[test]
    fn crossings_between_samples_are_interpolated() {
        let h = against(&triangle(2000.0), 1000.0).unwrap();
        assert_eq!(h.over, Some(("08:30:00".into(), "09:30:00".into())));
        assert_eq!(h.share_above, 0.75);
        assert_eq!(h.needs, 2.0);
        assert_eq!(h.peak_clock, "09:00:00");
        assert_eq!(
            h.sentence_about("the morning"),
            "the morning peaks at 2,000 visits/s at 09:00:00; the exchange holds 1,000: over \
             capacity from 08:30:00 to 09:30:00, 75 % of the morning's visits arrive while it is \
             over; it needs 2.0× the capacity"
        );
    }

    #[test]
    fn a_forecast_entirely_below_has_headroom() {
        let h = against(&triangle(1000.0), 2100.0).unwrap();
        assert_eq!(h.over, None);
        assert_eq!(h.share_above, 0.0);
        assert!((h.needs - 1000.0 / 2100.0).abs() < 1e-12);
        assert_eq!(
            h.sentence(),
            "the forecast peaks at 1,000 visits/s at 09:00:00, 48 % of the capacity \
             (2,100 visits/s): headroom 2.1×"
        );
    }

    #[test]
    fn a_forecast_that_touches_the_capacity_is_not_over_it() {
        let h = against(&triangle(1000.0), 1000.0).unwrap();
        assert_eq!(h.over, None);
        assert_eq!(h.needs, 1.0);
    }

    #[test]
    fn a_forecast_above_from_the_start_and_at_the_end_is_over_throughout() {
        let h = against(&[(0.0, 50.0), (60.0, 80.0), (120.0, 60.0)], 40.0).unwrap();
        assert_eq!(h.over, Some(("00:00:00".into(), "00:02:00".into())));
        assert_eq!(h.share_above, 1.0);
    }

    #[test]
    fn two_peaks_over_capacity_span_from_the_first_crossing_to_the_last() {
        let forecast = [
            (0.0, 0.0),
            (100.0, 200.0),
            (200.0, 0.0),
            (300.0, 200.0),
            (400.0, 0.0),
        ];
        let h = against(&forecast, 100.0).unwrap();
        assert_eq!(h.over, Some(("00:00:50".into(), "00:05:50".into())));
        // Each peak: three quarters of its visits arrive while it is over; the valley is below.
        assert!((h.share_above - 0.75).abs() < 1e-12, "{h:?}");
        assert_eq!(h.peak_clock, "00:01:40");
    }

    #[test]
    fn one_sample_is_a_forecast_without_duration() {
        let above = against(&[(3600.0, 12.5)], 10.0).unwrap();
        assert_eq!(above.over, Some(("01:00:00".into(), "01:00:00".into())));
        assert_eq!(above.share_above, 1.0);
        let below = against(&[(3600.0, 2.5)], 10.0).unwrap();
        assert_eq!(below.share_above, 0.0);
        assert_eq!(
            below.sentence(),
            "the forecast peaks at 2.5 visits/s at 01:00:00, 25 % of the capacity (10.0 \
             visits/s): headroom 4.0×"
        );
    }

    #[test]
    fn nothing_to_lay_over_gives_none() {
        assert_eq!(against(&[], 100.0), None);
        assert_eq!(against(&triangle(10.0), 0.0), None);
        assert_eq!(against(&triangle(10.0), -5.0), None);
        assert_eq!(against(&triangle(10.0), f64::NAN), None);
        assert_eq!(against(&[(0.0, 1.0), (1.0, f64::NAN)], 5.0), None);
        assert_eq!(against(&[(0.0, 1.0), (1.0, -1.0)], 5.0), None);
        assert_eq!(against(&[(10.0, 1.0), (5.0, 2.0)], 5.0), None);
    }

    #[test]
    fn a_small_share_above_never_reads_as_zero() {
        // A blip over capacity for a moment in a long flat day.
        let forecast = [
            (0.0, 100.0),
            (36_000.0, 100.0),
            (36_001.0, 150.0),
            (36_002.0, 100.0),
        ];
        let h = against(&forecast, 120.0).unwrap();
        assert!(h.share_above > 0.0 && h.share_above < 0.005, "{h:?}");
        assert!(
            h.sentence()
                .contains("< 1 % of the forecast's visits arrive while"),
            "{}",
            h.sentence()
        );
    }

    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(rate(7.46), "7.5");
        assert_eq!(rate(0.0), "0.00");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(rate(13.46), "13.5");
        assert_eq!(rate(100.0), "100");
        assert_eq!(rate(999.6), "1,000");
        assert_eq!(rate(2_900.0), "2,900");
        assert_eq!(rate(1_234_567.0), "1,234,567");
        assert_eq!(rate(-2_900.0), "-2,900");
    }
}
