//! The knee of a run: where the target stopped keeping up with the load.
//!
//! The rule, in one sentence: the knee is the first interval from which, for at least 5 intervals in
//! a row, either the visits completed over the last 5 intervals fall below 80 % of the visits
//! started one visit time earlier (served throughput stops following arrivals), or a step's median
//! latency stays at least 2× and 20 ms above its base (latency leaves its base), the base being the
//! median of the step's first 5 intervals with at least 20 requests, and the visit time the median
//! of the mean visit over the first 5 intervals with completed visits (Little's law: visits complete
//! one visit time after they start). None when no interval qualifies.
//!
//! Where a latency sign is confirmed, the knee is placed where the rise began, not where it was
//! confirmed: at the first interval after the step's excess over its base was last zero, the
//! excess summing, interval by interval, how far the median stands above 1.25× the base (on a log
//! scale, at most log 2 an interval; an interval below 1.25× takes away). This is Page's CUSUM
//! estimate of a change's onset: a queue that builds moves the median a little before it moves it
//! a lot, and the confirmation comes `SUSTAINED` intervals after the doubling, which comes later
//! still (bench/RESULTS.md: on the first morning the median doubles 5 minutes after the exchange's
//! queue lasts, and leaves 1.25× about when it does).
//!
//! Found from the run directory alone (timeline and interval log), like the spike windows: `surge
//! run`, `surge gate` and `surge merge` feed the detector in the pass the gate makes over the
//! intervals, and `surge report` in the pass it makes to draw, so a run made yesterday gets its knee.
//!
//! Why the median and not the p95: a queue adds the same wait to every request that waits in it, so
//! it moves the median as far as the p95, but the median starts lower, so it doubles sooner — on the
//! embedded exchange's log-normal service (p95 ≈ 5× the median) the p95 doubles only when the
//! queue's wait reaches 5 medians; and an interval's median is steady on 20 requests where its p95
//! is not.

use std::collections::{BTreeMap, VecDeque};

use crate::histogram::median;
use crate::rundir::summary::{Knee, Summary};
use crate::rundir::IntervalData;
use crate::units::{format_clock, parse_clock};

/// Intervals in a row a sign must hold for: at 1 s intervals, 5 s of wall time (5 minutes of the
/// morning at 60×). One slow interval (a pause of the machine, a burst of Poisson arrivals) is a
/// spike, not a knee; past a real knee the signs last as long as the overload.
pub const SUSTAINED: usize = 5;
/// A step's base: the median of its first `BASE_INTERVALS` intervals with at least `MIN_REQUESTS`
/// requests. The median of 5 ignores two odd ones (a cold connection pool at the start); 20 requests
/// make an interval's median steady.
pub const BASE_INTERVALS: usize = 5;
pub const MIN_REQUESTS: u64 = 20;
/// The percentile a step's latency is judged by (see the module's doc for why the median).
pub const PERCENTILE: f64 = 50.0;
/// How far above its base a step's latency must stay: at least `LATENCY_FACTOR` times it and
/// `LATENCY_RISE_MS` above it. Doubling is well past the wobble of a healthy target's median (the
/// embedded exchange's eligibility median goes from 36 to 55 ms between intervals of the first
/// morning, 1.5×), and costs little where a queue builds: on the first morning any factor from
/// 1.25× to 2× puts the knee within a minute of the same place (bench/RESULTS.md). The floor keeps
/// a loaded machine's scheduling noise on a sub-millisecond target (0.1 → 0.3 ms) from being a knee.
pub const LATENCY_FACTOR: f64 = 2.0;
pub const LATENCY_RISE_MS: f64 = 20.0;
/// Where a latency rise begins: the median above `RISE_ALLOWANCE` times its base adds to the
/// step's excess, below it takes away. A quarter above the base is past a healthy median's usual
/// wobble from one interval to the next (a few per cent on 20+ requests), so a healthy step's
/// excess stays at zero, yet well below the doubling that confirms a knee.
pub const RISE_ALLOWANCE: f64 = 1.25;
/// Served throughput stops following arrivals when the visits completed over the last `SUSTAINED`
/// intervals fall below `SERVED_SHARE` of those started a visit time earlier, with at least
/// `MIN_VISITS` started: on 100 visits the share's noise (two Poisson counts) is about ±14 %, so
/// 80 % is 1.4 standard deviations below a healthy share of 1 in one window, and 5 windows in a row
/// span 9 intervals of counts. On the first morning at 60× (valid) the share never fell below 88 %.
pub const SERVED_SHARE: f64 = 0.8;
pub const MIN_VISITS: u64 = 100;
/// Visit times longer than this many intervals are not followed (the lag is capped).
const MAX_LAG: usize = 600;

/// A sign that has held since `first`, for `count` intervals.
#[derive(Debug, Clone)]
struct Streak {
    count: usize,
    knee: Knee,
}

/// One step's base, its current streak, and where its latency last began to rise.
#[derive(Default)]
struct StepState {
    samples: Vec<f64>,
    base_ms: Option<f64>,
    streak: Option<Streak>,
    /// The excess over the base (see the module's doc), never below zero.
    excess: f64,
    /// `(clock, elapsed_s)` of the interval the excess last rose from zero in.
    rise_from: Option<(f64, f64)>,
}

impl StepState {
    /// Add one interval's median to the excess; remember where it left zero.
    fn follow_rise(&mut self, value: f64, base: f64, start: (f64, f64)) {
        let step = (value / (RISE_ALLOWANCE * base))
            .ln()
            .min(LATENCY_FACTOR.ln());
        if self.excess == 0.0 && step > 0.0 {
            self.rise_from = Some(start);
        }
        self.excess = (self.excess + step).max(0.0);
        if self.excess == 0.0 {
            self.rise_from = None;
        }
    }
}

/// Finds the knee in intervals fed in order.
pub struct Detector {
    interval_s: f64,
    steps: BTreeMap<String, StepState>,
    /// Mean visit times (ms) of the base intervals, then the lag in intervals.
    visit_samples: Vec<f64>,
    lag: Option<usize>,
    /// `(started, completed)` of the last intervals: enough for the lag and the window.
    recent: VecDeque<(u64, u64)>,
    served: Option<Streak>,
    found: Option<Knee>,
    previous_clock: f64,
    previous_elapsed: f64,
}

impl Detector {
    /// `clock_start`: the scenario clock at the curve's start (seconds since midnight);
    /// `interval_s`: wall seconds per interval.
    pub fn new(clock_start: f64, interval_s: f64) -> Self {
        Self {
            interval_s: if interval_s > 0.0 { interval_s } else { 1.0 },
            steps: BTreeMap::new(),
            visit_samples: Vec::new(),
            lag: None,
            recent: VecDeque::new(),
            served: None,
            found: None,
            previous_clock: clock_start,
            previous_elapsed: 0.0,
        }
    }

    /// A detector for the run `summary` describes.
    pub fn of(summary: &Summary) -> Self {
        Self::new(summary.clock_start_s(), summary.interval_s)
    }

    pub fn add(&mut self, interval: &IntervalData) {
        let row = &interval.row;
        let Ok(end) = parse_clock(&row.clock) else {
            // Before the first arrival: nothing is measured on the scenario clock yet.
            self.previous_elapsed = row.elapsed_s;
            return;
        };
        let start_clock = self.previous_clock.min(end);
        let start_elapsed = self.previous_elapsed;
        self.previous_clock = end;
        self.previous_elapsed = row.elapsed_s;
        if self.found.is_some() {
            return;
        }
        let at_time = |(clock, elapsed): (f64, f64), why: String, step: Option<String>| Knee {
            clock: format_clock(clock),
            elapsed_s: (elapsed * 1000.0).round() / 1000.0,
            why,
            step,
        };
        let at =
            |why: String, step: Option<String>| at_time((start_clock, start_elapsed), why, step);

        // Latency: each step's median against its base.
        let mut candidates: Vec<Knee> = Vec::new();
        for count in &row.steps {
            let state = self.steps.entry(count.step.clone()).or_default();
            let value = interval
                .latencies
                .get(&count.step)
                .filter(|h| !h.is_empty() && count.requests >= MIN_REQUESTS)
                .map(|h| crate::histogram::percentile_ms(h, PERCENTILE));
            let Some(value) = value else {
                state.streak = None;
                continue;
            };
            let Some(base) = state.base_ms else {
                state.samples.push(value);
                if state.samples.len() == BASE_INTERVALS {
                    state.base_ms = median(state.samples.iter().copied());
                }
                continue;
            };
            state.follow_rise(value, base, (start_clock, start_elapsed));
            if value >= LATENCY_FACTOR * base && value >= base + LATENCY_RISE_MS {
                let rise_from = state.rise_from.unwrap_or((start_clock, start_elapsed));
                let streak = state.streak.get_or_insert_with(|| Streak {
                    count: 0,
                    knee: at_time(
                        rise_from,
                        format!(
                            "{} p{PERCENTILE} rising from its base of {}, {:.1}× it by {}",
                            count.step,
                            show_ms(base),
                            value / base,
                            format_clock(start_clock),
                        ),
                        Some(count.step.clone()),
                    ),
                });
                streak.count += 1;
                if streak.count >= SUSTAINED {
                    candidates.push(streak.knee.clone());
                }
            } else {
                state.streak = None;
            }
        }

        // Throughput: visits completed against visits started one visit time earlier.
        self.recent.push_back((row.started, row.completed));
        if self.lag.is_none() {
            if let Some(visit) = interval.latencies.get(crate::rundir::hlog::VISIT_TAG) {
                if row.completed > 0
                    && !visit.is_empty()
                    && self.visit_samples.len() < BASE_INTERVALS
                {
                    self.visit_samples.push(visit.mean() / 1000.0);
                }
            }
            // The visit time is taken once the steps' bases are: over the same stretch of the run.
            if self.visit_samples.len() >= BASE_INTERVALS
                && self.steps.values().any(|s| s.base_ms.is_some())
            {
                let visit_ms = median(self.visit_samples.iter().copied()).unwrap_or(0.0);
                let lag = (visit_ms / 1000.0 / self.interval_s).round() as usize;
                self.lag = Some(lag.min(MAX_LAG));
            }
        }
        if let Some(lag) = self.lag {
            while self.recent.len() > SUSTAINED + lag {
                self.recent.pop_front();
            }
            if self.recent.len() == SUSTAINED + lag {
                let completed: u64 = self.recent.iter().rev().take(SUSTAINED).map(|r| r.1).sum();
                let started: u64 = self.recent.iter().take(SUSTAINED).map(|r| r.0).sum();
                let share = completed as f64 / started.max(1) as f64;
                if started >= MIN_VISITS && share < SERVED_SHARE {
                    let streak = self.served.get_or_insert_with(|| Streak {
                        count: 0,
                        knee: at(
                            format!(
                                "served {:.0} % of arrivals ({completed} visits completed, {started} started)",
                                share * 100.0
                            ),
                            None,
                        ),
                    });
                    streak.count += 1;
                    if streak.count >= SUSTAINED {
                        candidates.push(streak.knee.clone());
                    }
                } else {
                    self.served = None;
                }
            }
        }

        // Two signs confirmed by the same interval: the one that began first.
        self.found = candidates
            .into_iter()
            .min_by(|a, b| a.elapsed_s.total_cmp(&b.elapsed_s));
    }

    /// The knee of the intervals fed, if any.
    pub fn knee(self) -> Option<Knee> {
        self.found
    }
}

/// `850 ms`, `1.9 s`, `0.4 ms`.
fn show_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_histogram;
    use crate::rundir::timeline::StepCount;

    /// An interval ending at `second` (1 s intervals, the clock starting at 0): `started` and
    /// `completed` visits, 50 browse requests taking `browse_ms`, visits taking `visit_ms`.
    fn interval(second: u32, started: u64, completed: u64, browse_ms: u64) -> IntervalData {
        interval_with(second, started, completed, (50, browse_ms), 3000)
    }

    fn interval_with(
        second: u32,
        started: u64,
        completed: u64,
        (requests, browse_ms): (u64, u64),
        visit_ms: u64,
    ) -> IntervalData {
        let mut data = IntervalData::default();
        data.row.elapsed_s = f64::from(second);
        data.row.clock = format_clock(f64::from(second));
        data.row.started = started;
        data.row.completed = completed;
        data.row.steps = vec![StepCount {
            step: "browse".into(),
            requests,
            failures: 0,
        }];
        let mut browse = new_histogram();
        for k in 0..requests {
            // A spread around the value: 80 % to 120 % of it.
            browse
                .record(browse_ms * (800 + 400 * k / requests.max(1)))
                .unwrap();
        }
        data.latencies.insert("browse".into(), browse);
        let mut visit = new_histogram();
        for _ in 0..completed {
            visit.record(visit_ms * 1000).unwrap();
        }
        data.latencies.insert("visit".into(), visit);
        data
    }

    fn detect(intervals: &[IntervalData]) -> Option<Knee> {
        let mut detector = Detector::new(0.0, 1.0);
        for data in intervals {
            detector.add(data);
        }
        detector.knee()
    }

    #[test]
    fn a_queue_that_builds_is_a_knee_where_the_median_doubles_and_stays() {
        // 30 ms for 40 s, then a queue adds 10 ms a second: 60 ms (2× and 30 ms up) from second 43.
        let intervals: Vec<IntervalData> = (1..=80)
            .map(|s: u32| {
                let ms = 30 + 10 * u64::from(s.saturating_sub(40));
                interval(s, 200, 200, ms)
            })
            .collect();
        let knee = detect(&intervals).expect("a knee");
        // Confirmed from the interval ending at 43 (60 ms), but the rise began in the interval
        // ending at 41 (40 ms, past 1.25× the base), which starts at 40.
        assert_eq!(knee.clock, "00:00:40", "{knee:?}");
        assert_eq!(knee.elapsed_s, 40.0);
        assert_eq!(knee.step.as_deref(), Some("browse"));
        assert_eq!(
            knee.why,
            "browse p50 rising from its base of 30 ms, 2.0× it by 00:00:42"
        );
    }

    #[test]
    fn a_rise_that_falters_before_it_doubles_is_placed_where_it_began() {
        // As on the first morning: 30 ms, then 40 and 48 ms, back to 38 and 36 ms (under 1.25×
        // only once, briefly), then the climb for good. The knee is where the rise began.
        let ms = |s: u32| match s {
            ..=40 => 30,
            41 => 40,
            42 => 48,
            43 => 38,
            44 => 36,
            _ => 30 + 12 * u64::from(s - 44),
        };
        let intervals: Vec<IntervalData> = (1..=80).map(|s| interval(s, 200, 200, ms(s))).collect();
        let knee = detect(&intervals).expect("a knee");
        assert_eq!(knee.clock, "00:00:40", "{knee:?}");
    }

    #[test]
    fn a_blip_long_before_a_knee_does_not_drag_it_back() {
        // Five times the base for 4 intervals at 20, then healthy, then a queue from 60.
        let ms = |s: u32| match s {
            20..=23 => 150,
            ..=60 => 30,
            _ => 30 + 10 * u64::from(s - 60),
        };
        let intervals: Vec<IntervalData> =
            (1..=100).map(|s| interval(s, 200, 200, ms(s))).collect();
        let knee = detect(&intervals).expect("a knee");
        assert_eq!(knee.clock, "00:01:00", "{knee:?}");
    }

    #[test]
    fn arrivals_that_outrun_what_is_served_are_a_knee() {
        // Arrivals rise 10 a second; the target completes them 3 s later (the visit time) until it
        // serves 400 a second at most. Latency of the steps stays put (say, failures are fast).
        let started = |s: u32| 100 + 10 * u64::from(s);
        let intervals: Vec<IntervalData> = (1..=90)
            .map(|s| {
                let completed = if s > 3 { started(s - 3).min(400) } else { 0 };
                interval(s, started(s), completed, 30)
            })
            .collect();
        let knee = detect(&intervals).expect("a knee");
        assert_eq!(knee.step, None, "{knee:?}");
        // Completions stop following from the interval ending at 33 (the visits started at 30, the
        // first above 400); the 5 completed up to interval i (2,000) fall below 80 % of the 5
        // started 3 s earlier (500 + 50 (i - 5)) at i = 46, and stay below: the knee is the
        // interval ending at 46, which starts at 45 — 12 s after the crossing, since the shortfall
        // grows by 2.5 % a second on this ramp.
        assert_eq!((knee.clock.as_str(), knee.elapsed_s), ("00:00:45", 45.0));
        assert_eq!(
            knee.why,
            "served 78 % of arrivals (2000 visits completed, 2550 started)"
        );
    }

    #[test]
    fn a_steep_healthy_ramp_is_not_a_knee_however_long_the_visits() {
        // Arrivals rise from 100 to 990 a second; every visit completes 4 s after it starts.
        let started = |s: u32| 100 + 10 * u64::from(s);
        let intervals: Vec<IntervalData> = (1..=90)
            .map(|s| {
                let completed = if s > 4 { started(s - 4) } else { 0 };
                interval_with(s, started(s), completed, (50, 30), 4000)
            })
            .collect();
        assert_eq!(detect(&intervals), None);
    }

    #[test]
    fn a_steady_healthy_run_has_no_knee() {
        let intervals: Vec<IntervalData> = (1..=300)
            .map(|s| {
                interval(
                    s,
                    200 + u64::from(s % 7) * 10,
                    200 + u64::from(s % 5) * 10,
                    30,
                )
            })
            .collect();
        assert_eq!(detect(&intervals), None);
    }

    #[test]
    fn blips_noise_and_tiny_numbers_are_not_a_knee() {
        let intervals: Vec<IntervalData> = (1..=200)
            .map(|s| match s {
                // Latency 5× for one interval less than it must last, twice.
                50..=53 | 120..=123 => interval(s, 200, 200, 150),
                // Completions dip to half for a moment.
                80..=82 => interval(s, 200, 100, 30),
                // A handful of requests, all slow.
                100..=130 if s % 2 == 0 => interval_with(s, 5, 5, (3, 900), 3000),
                // A sub-millisecond step doubling: under the floor.
                150..=199 => interval(s, 200, 200, 1),
                // The median wobbling ±30 %.
                _ => interval(s, 200, 200, 25 + u64::from(s % 3) * 5),
            })
            .collect();
        assert_eq!(detect(&intervals), None);
    }

    #[test]
    fn intervals_before_the_first_arrival_are_skipped() {
        let mut intervals = vec![IntervalData::default(), IntervalData::default()];
        intervals.extend((1..=30).map(|s| interval(s, 200, 200, 30)));
        assert_eq!(detect(&intervals), None);
    }
}
