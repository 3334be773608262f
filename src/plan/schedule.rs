//! When each visit is meant to start: exactly `visits` arrivals under the rate curve.
//!
//! `poisson` draws arrivals as a Poisson process conditioned on its count — the arrival times are then
//! the sorted order statistics of i.i.d. draws from the curve, made here in ascending order one at a
//! time (no sort, no pass ahead). `uniform` spaces them evenly in cumulative rate. Times are made one
//! at a time as the run goes, so a schedule costs the same few bytes and starts as soon for 300 visits
//! as for two billion.

use super::Curve;
use crate::scenario::Arrivals;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The most visits a run can plan: the timeline counts every intended arrival as the run goes
/// (a few ns each), and far beyond this that bookkeeping alone would outrun any run.
pub const MAX_VISITS: u64 = 10_000_000_000;

/// Intended starts of a run's visits, in seconds of scenario time from the curve's start, made as
/// the run goes: memory does not grow with the number of visits, and the first visit's time is
/// ready at once. Visit `k`'s time depends only on the seed and the draws before it, so every
/// reader of the schedule (the engine, a shard, a replay, the timeline) sees the same times.
#[derive(Debug, Clone)]
pub struct Schedule {
    curve: Curve,
    visits: u64,
    arrivals: Arrivals,
    seed: u64,
}

/// Seeds the arrival stream apart from the visitors' streams, so changing the arrivals does not
/// change who the visitors are.
const ARRIVAL_STREAM: u64 = u64::MAX;

impl Schedule {
    pub fn new(curve: &Curve, visits: u64, arrivals: Arrivals, seed: u64) -> Schedule {
        Schedule {
            curve: curve.clone(),
            visits,
            arrivals,
            seed,
        }
    }

    /// Every visit's intended start, in visit order (which is time order).
    pub fn times(&self) -> Times {
        Times {
            schedule: self.clone(),
            next: 0,
            rng: arrival_stream(self.seed),
            log_gap: 0.0,
        }
    }
}

/// The intended starts, one visit at a time.
#[derive(Debug, Clone)]
pub struct Times {
    schedule: Schedule,
    next: u64,
    rng: ChaCha8Rng,
    /// Poisson: ln(1 − the last fraction drawn), the log of the gap left above it.
    log_gap: f64,
}

impl Iterator for Times {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let s = &self.schedule;
        if self.next >= s.visits {
            return None;
        }
        let fraction = match s.arrivals {
            Arrivals::Uniform => (self.next as f64 + 0.5) / s.visits as f64,
            Arrivals::Poisson => {
                // Above the last of the sorted draws, the `m` still to come are uniform in the gap
                // to 1, and the least of `m` uniforms is 1 − V^(1/m). Kept in logs (the gap shrinks
                // to about 1/visits) and read back with exp_m1, exact near 0 (Rényi's representation).
                let still_to_come = (s.visits - self.next) as f64;
                self.log_gap -= exponential(&mut self.rng) / still_to_come;
                -self.log_gap.exp_m1()
            }
        };
        self.next += 1;
        Some(s.curve.time_at_fraction(fraction))
    }
}

/// The most intended arrivals counted for one interval of `timeline.csv`.
pub const MAX_COUNTED_PER_INTERVAL: u64 = 10_000_000;

/// Counts the visits meant to start before a moving time, for intervals that follow each other.
pub struct IntendedCounter {
    times: std::iter::Peekable<Box<dyn Iterator<Item = f64> + Send>>,
}

impl IntendedCounter {
    /// Counts over intended starts given in time order.
    pub fn new(times: Box<dyn Iterator<Item = f64> + Send>) -> Self {
        Self {
            times: times.peekable(),
        }
    }

    /// Visits meant to start before `to` seconds of scenario time and not counted yet, at most
    /// [`MAX_COUNTED_PER_INTERVAL`]: past that (a curve asking for tens of millions of visits in one
    /// interval, far beyond what any run can start) the rest are counted in later intervals, so the
    /// bookkeeping never holds up the run or its stop.
    pub fn count_until(&mut self, to: f64) -> u64 {
        let mut count = 0;
        while count < MAX_COUNTED_PER_INTERVAL && self.times.next_if(|t| *t < to).is_some() {
            count += 1;
        }
        count
    }
}

fn arrival_stream(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(ARRIVAL_STREAM);
    rng
}

fn exponential(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - U is in (0, 1], so the log is finite.
    -(1.0 - rng.random::<f64>()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_per_window(schedule: &Schedule, span: f64, windows: usize) -> Vec<u64> {
        let width = span / windows as f64;
        let mut counter = IntendedCounter::new(Box::new(schedule.times()));
        (1..=windows)
            .map(|w| counter.count_until(w as f64 * width))
            .collect()
    }

    /// The schedule made all at once: every draw of the seed's stream first, then the fractions
    /// from them (Rényi: the k-th smallest of n uniforms is 1 − exp(−Σ_{j≤k} E_j / (n − j + 1))).
    fn precomputed(curve: &Curve, visits: u64, arrivals: Arrivals, seed: u64) -> Vec<f64> {
        let n = visits as usize;
        let fractions: Vec<f64> = match arrivals {
            Arrivals::Uniform => (0..n).map(|k| (k as f64 + 0.5) / n as f64).collect(),
            Arrivals::Poisson => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(ARRIVAL_STREAM);
                let draws: Vec<f64> = (0..n).map(|_| exponential(&mut rng)).collect();
                let mut exponent = 0.0;
                draws
                    .iter()
                    .enumerate()
                    .map(|(k, e)| {
                        exponent += e / (n - k) as f64;
                        1.0 - (-exponent).exp()
                    })
                    .collect()
            }
        };
        fractions
            .into_iter()
            .map(|f| curve.time_at_fraction(f))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_times_as_the_precomputed_schedule() {
        let morning = Curve::new(vec![(0.0, 1.0), (3600.0, 9.0), (7200.0, 2.0)]).unwrap();
        for (curve, visits, seed) in [
            (Curve::flat(60.0).unwrap(), 1000, 2013),
            (morning.clone(), 20_000, 7),
            (morning, 1, 1),
        ] {
            for arrivals in [Arrivals::Poisson, Arrivals::Uniform] {
                let lazy: Vec<f64> = Schedule::new(&curve, visits, arrivals, seed)
                    .times()
                    .collect();
                let all_at_once = precomputed(&curve, visits, arrivals, seed);
                assert_eq!(lazy.len(), all_at_once.len());
                for (k, (a, b)) in lazy.iter().zip(&all_at_once).enumerate() {
                    // exp_m1 and 1 − exp differ in the last bits only.
                    assert!((a - b).abs() < 1e-9, "{arrivals:?} visit {k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn exactly_the_visits_asked_for_in_order() {
        let curve = Curve::flat(60.0).unwrap();
        for arrivals in [Arrivals::Poisson, Arrivals::Uniform] {
            let times: Vec<f64> = Schedule::new(&curve, 10_000, arrivals, 1).times().collect();
            assert_eq!(times.len(), 10_000);
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            assert!(times[0] >= 0.0 && times[9_999] <= 60.0);
        }
    }

    #[test]
    fn a_huge_schedule_costs_no_memory_and_starts_at_once() {
        let curve = Curve::flat(3600.0).unwrap();
        for arrivals in [Arrivals::Poisson, Arrivals::Uniform] {
            // Made lazily: two billion visits planned cost nothing until their times are read
            // (a pass over the seed's stream ahead of the first visit took 12 s at this size).
            let schedule = Schedule::new(&curve, 2_000_000_000, arrivals, 1);
            assert!(std::mem::size_of_val(&schedule) < 256);
            let first: Vec<f64> = schedule.times().take(3).collect();
            assert_eq!(first.len(), 3);
            assert!(first[0] > 0.0 && first[0] < 1e-4, "{arrivals:?}: {first:?}");
            assert!(first.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn poisson_times_are_sorted_independent_draws_from_the_curve() {
        // A Poisson process conditioned on its count: its arrivals are i.i.d. draws from the
        // curve, sorted. On a flat curve the fractions of the span must then be uniform:
        // one-sample Kolmogorov–Smirnov, D under its 1 % critical value 1.63/√n.
        let n = 20_000;
        let span = 1000.0;
        for seed in [1, 2013] {
            let times: Vec<f64> =
                Schedule::new(&Curve::flat(span).unwrap(), n, Arrivals::Poisson, seed)
                    .times()
                    .collect();
            let d = times
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let f = t / span;
                    (f - k as f64 / n as f64).max((k + 1) as f64 / n as f64 - f)
                })
                .fold(0.0, f64::max);
            assert!(d < 1.63 / (n as f64).sqrt(), "seed {seed}: D = {d}");
        }
    }

    #[test]
    fn arrivals_follow_the_curve() {
        // Rate 1 for 50 s, then rate 3 for 50 s: three times as many arrivals in the second half.
        let curve = Curve::new(vec![
            (0.0, 1.0),
            (50.0, 1.0),
            (50.000001, 3.0),
            (100.0, 3.0),
        ])
        .unwrap();
        let schedule = Schedule::new(&curve, 40_000, Arrivals::Poisson, 7);
        let halves = counts_per_window(&schedule, 100.0, 2);
        let ratio = halves[1] as f64 / halves[0] as f64;
        assert!((ratio - 3.0).abs() < 0.1, "{halves:?}");
    }

    #[test]
    fn uniform_is_even_and_poisson_is_not() {
        let curve = Curve::flat(100.0).unwrap();
        let uniform = counts_per_window(
            &Schedule::new(&curve, 10_000, Arrivals::Uniform, 1),
            100.0,
            100,
        );
        assert!(uniform.iter().all(|c| *c == 100), "{uniform:?}");
        let poisson = counts_per_window(
            &Schedule::new(&curve, 10_000, Arrivals::Poisson, 1),
            100.0,
            100,
        );
        assert!(poisson.iter().any(|c| *c != 100));
        // Poisson counts of mean 100 have a standard deviation of 10.
        let mean = poisson.iter().sum::<u64>() as f64 / 100.0;
        let variance = poisson
            .iter()
            .map(|c| (*c as f64 - mean).powi(2))
            .sum::<f64>()
            / 100.0;
        assert!((50.0..200.0).contains(&variance), "variance {variance}");
    }

    #[test]
    fn same_seed_same_arrivals() {
        let curve = Curve::flat(10.0).unwrap();
        let times = |seed| -> Vec<f64> {
            Schedule::new(&curve, 1000, Arrivals::Poisson, seed)
                .times()
                .collect()
        };
        assert_eq!(times(5), times(5));
        assert_ne!(times(5), times(6));
    }
}
