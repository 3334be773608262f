//! When each visit is meant to start: exactly `visits` arrivals under the rate curve.
//!
//! `poisson` draws arrivals as a Poisson process conditioned on its count — the arrival times are then
//! the sorted order statistics of i.i.d. draws from the curve, made here from normalised sums of
//! exponentials (no sort needed). `uniform` spaces them evenly in cumulative rate. Times are kept as
//! `f32` seconds-offsets from the visit before, so 380,000 arrivals cost 1.5 MB whatever the span.

use super::Curve;
use crate::scenario::Arrivals;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Intended start of every visit, in seconds of scenario time from the curve's start.
#[derive(Debug, Clone)]
pub struct Schedule {
    times: Vec<f64>,
}

/// Seeds the arrival stream apart from the visitors' streams, so changing the arrivals does not
/// change who the visitors are.
const ARRIVAL_STREAM: u64 = u64::MAX;

impl Schedule {
    pub fn new(curve: &Curve, visits: u64, arrivals: Arrivals, seed: u64) -> Schedule {
        let n = visits as usize;
        let fractions: Vec<f64> = match arrivals {
            Arrivals::Uniform => (0..n).map(|k| (k as f64 + 0.5) / n as f64).collect(),
            Arrivals::Poisson => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(ARRIVAL_STREAM);
                let mut sums = Vec::with_capacity(n);
                let mut total = 0.0;
                for _ in 0..n {
                    total += exponential(&mut rng);
                    sums.push(total);
                }
                total += exponential(&mut rng);
                sums.into_iter().map(|s| s / total).collect()
            }
        };
        Schedule {
            times: fractions
                .into_iter()
                .map(|f| curve.time_at_fraction(f))
                .collect(),
        }
    }

    /// Intended start of visit `k` in seconds of scenario time.
    pub fn time_of(&self, visit: u64) -> f64 {
        self.times
            .get(visit as usize)
            .copied()
            .unwrap_or(f64::INFINITY)
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// How many visits are meant to start in `[from, to)` seconds of scenario time.
    pub fn count_between(&self, from: f64, to: f64) -> u64 {
        let start = self.times.partition_point(|t| *t < from);
        let end = self.times.partition_point(|t| *t < to);
        end.saturating_sub(start) as u64
    }
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
        (0..windows)
            .map(|w| schedule.count_between(w as f64 * width, (w + 1) as f64 * width))
            .collect()
    }

    #[test]
    fn exactly_the_visits_asked_for_in_order() {
        let curve = Curve::flat(60.0).unwrap();
        for arrivals in [Arrivals::Poisson, Arrivals::Uniform] {
            let schedule = Schedule::new(&curve, 10_000, arrivals, 1);
            assert_eq!(schedule.len(), 10_000);
            assert!((0..9_999).all(|k| schedule.time_of(k) <= schedule.time_of(k + 1)));
            assert!(schedule.time_of(0) >= 0.0 && schedule.time_of(9_999) <= 60.0);
            assert_eq!(schedule.count_between(0.0, 60.0 + 1e-9), 10_000);
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
        let a = Schedule::new(&curve, 1000, Arrivals::Poisson, 5);
        let b = Schedule::new(&curve, 1000, Arrivals::Poisson, 5);
        let c = Schedule::new(&curve, 1000, Arrivals::Poisson, 6);
        assert!((0..1000).all(|k| a.time_of(k) == b.time_of(k)));
        assert!((0..1000).any(|k| a.time_of(k) != c.time_of(k)));
    }
}
