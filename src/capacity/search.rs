//! Which rate to offer next: ramp ×1.5 a step until a step fails, bisect between the last rate that
//! held and the first that failed until they are within the precision, then hold the best rate once
//! more to confirm it. Pure: the command runs each step and tells the search how it went, so the
//! rules are tested here without a target.
//!
//! A step where surge itself could not deliver the rate ends the search at once: it says nothing
//! about the target, so the answer is "at least the last rate that held", never a capacity that is
//! really surge's own.

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every SLO held and the generator was valid.
    Holds,
    /// An SLO failed (the generator was valid).
    Fails,
    /// The generator could not deliver the offered rate.
    GeneratorLimit,
}

/// What the search asks for next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Offer this rate for a step.
    Try(f64),
    /// Offer this rate once more, to confirm it holds.
    Confirm(f64),
    /// The search is over.
    Done(Found),
}

/// The search's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Found {
    /// The highest rate that held, confirmed; every rate tried above it (within the precision)
    /// failed.
    Capacity(f64),
    /// Every rate up to `--max-rate` held: the capacity is at least that.
    AtLeastMaxRate(f64),
    /// surge could not deliver `tried`: the target held `held` (if any rate held), and may hold more.
    SurgeWasTheLimit { held: Option<f64>, tried: f64 },
    /// Not even the lowest rate tried held.
    BelowLowest(f64),
    /// The step budget ran out before the bounds met.
    Unfinished {
        held: Option<f64>,
        failed: Option<f64>,
    },
}

/// Growth of the offered rate while ramping.
const RAMP: f64 = 1.5;
/// Steps down (÷1.5 each) from the first rate, when nothing holds, before giving up.
const MAX_STEPS_DOWN: usize = 6;
/// Steps in all before giving up.
const MAX_STEPS: usize = 30;

#[derive(Debug, Clone)]
pub struct Search {
    start: f64,
    max_rate: f64,
    /// Relative width at which bisection stops (0.05: within 5 %).
    precision: f64,
    /// Every step so far: (rate, verdict), in order.
    history: Vec<(f64, Verdict)>,
    /// A confirmation of this rate is under way.
    confirming: Option<f64>,
    /// Rates that failed their confirmation: never a capacity again.
    unconfirmed: Vec<f64>,
}

impl Search {
    /// A search starting at `start` visits/s, never above `max_rate`.
    pub fn new(start: f64, max_rate: f64, precision: f64) -> Search {
        Search {
            start: start.min(max_rate),
            max_rate,
            precision,
            history: Vec::new(),
            confirming: None,
            unconfirmed: Vec::new(),
        }
    }

    /// The steps so far.
    pub fn history(&self) -> &[(f64, Verdict)] {
        &self.history
    }

    /// Record how the step at `rate` went.
    pub fn record(&mut self, rate: f64, verdict: Verdict) {
        if self.confirming.take() == Some(rate) && verdict == Verdict::Fails {
            self.unconfirmed.push(rate);
        }
        self.history.push((rate, verdict));
    }

    /// The highest rate that held (and was not refuted by a failed confirmation).
    fn held(&self) -> Option<f64> {
        self.history
            .iter()
            .filter(|(rate, v)| *v == Verdict::Holds && !self.unconfirmed.contains(rate))
            .map(|(rate, _)| *rate)
            .fold(None, |best, rate| {
                Some(best.map_or(rate, |b: f64| b.max(rate)))
            })
    }

    /// The lowest rate that failed an SLO above the best rate that held.
    fn failed_above(&self, held: Option<f64>) -> Option<f64> {
        self.history
            .iter()
            .filter(|(rate, v)| *v == Verdict::Fails && held.is_none_or(|h| *rate > h))
            .map(|(rate, _)| *rate)
            .fold(None, |low, rate| {
                Some(low.map_or(rate, |l: f64| l.min(rate)))
            })
    }

    /// What to offer next, given the steps so far.
    pub fn next_step(&mut self) -> Next {
        let held = self.held();
        if let Some(&(tried, Verdict::GeneratorLimit)) = self.history.last() {
            return Next::Done(Found::SurgeWasTheLimit { held, tried });
        }
        let Some(&(last, _)) = self.history.last() else {
            return Next::Try(self.start);
        };
        let failed = self.failed_above(held);
        if self.history.len() >= MAX_STEPS {
            return Next::Done(Found::Unfinished { held, failed });
        }
        match (held, failed) {
            // Nothing has failed yet: ramp, up to the limit.
            (Some(held), None) if held >= self.max_rate => {
                Next::Done(Found::AtLeastMaxRate(self.max_rate))
            }
            (Some(held), None) => Next::Try((held * RAMP).min(self.max_rate)),
            // Nothing has held yet: step down from the lowest failure.
            (None, Some(failed)) => {
                if failed * RAMP.powi(MAX_STEPS_DOWN as i32) < self.start * 1.001 {
                    Next::Done(Found::BelowLowest(failed))
                } else {
                    Next::Try(failed / RAMP)
                }
            }
            (Some(held), Some(failed)) if (failed - held) / held > self.precision => {
                Next::Try((held + failed) / 2.0)
            }
            // The bounds met: confirm the best rate once, unless the last step just did.
            (Some(held), Some(_)) => {
                let confirmed = last == held
                    && self
                        .history
                        .iter()
                        .filter(|(rate, _)| *rate == held)
                        .count()
                        >= 2;
                if confirmed {
                    Next::Done(Found::Capacity(held))
                } else {
                    self.confirming = Some(held);
                    Next::Confirm(held)
                }
            }
            (None, None) => Next::Try(self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a search against a target that holds every rate up to `capacity`, and a generator that
    /// delivers up to `surge_limit`; the rates tried, and the answer.
    fn search(start: f64, max_rate: f64, capacity: f64, surge_limit: f64) -> (Vec<f64>, Found) {
        let mut search = Search::new(start, max_rate, 0.05);
        let mut tried = Vec::new();
        loop {
            let rate = match search.next_step() {
                Next::Try(rate) | Next::Confirm(rate) => rate,
                Next::Done(found) => return (tried, found),
            };
            assert!(rate <= max_rate, "{rate} above the max rate");
            tried.push(rate);
            let verdict = if rate > surge_limit {
                Verdict::GeneratorLimit
            } else if rate <= capacity {
                Verdict::Holds
            } else {
                Verdict::Fails
            };
            search.record(rate, verdict);
        }
    }

    #[test]
    fn the_capacity_is_found_within_the_precision_and_confirmed() {
        for capacity in [7.0, 13.3, 40.0, 95.5] {
            let (tried, found) = search(2.0, 1000.0, capacity, f64::INFINITY);
            let Found::Capacity(rate) = found else {
                panic!("{capacity}: {found:?} after {tried:?}");
            };
            assert!(
                rate <= capacity && rate >= capacity / 1.05,
                "{capacity}: {rate}"
            );
            assert_eq!(tried[0], 2.0);
            assert_eq!(tried[1], 3.0, "ramps ×1.5");
            let last_two = &tried[tried.len() - 2..];
            assert_eq!(
                last_two,
                [rate, rate],
                "confirmed by a second step at the same rate"
            );
            assert!(tried.len() < 20, "{tried:?}");
        }
    }

    #[test]
    fn a_first_rate_that_fails_steps_down_before_bisecting() {
        let (tried, found) = search(100.0, 1000.0, 30.0, f64::INFINITY);
        assert!(tried[1] < tried[0] && tried[2] < tried[1], "{tried:?}");
        let Found::Capacity(rate) = found else {
            panic!("{found:?}")
        };
        assert!((28.5..=30.0).contains(&rate), "{rate}");
    }

    #[test]
    fn never_above_the_max_rate_and_says_so_when_it_all_held() {
        let (tried, found) = search(10.0, 50.0, 1e9, f64::INFINITY);
        assert_eq!(found, Found::AtLeastMaxRate(50.0));
        assert_eq!(tried.last(), Some(&50.0));
    }

    #[test]
    fn a_generator_that_cannot_keep_up_is_never_a_capacity() {
        let (_, found) = search(10.0, 10_000.0, 1e9, 40.0);
        assert_eq!(
            found,
            Found::SurgeWasTheLimit {
                held: Some(33.75),
                tried: 50.625
            }
        );
        let (_, found) = search(100.0, 10_000.0, 1e9, 40.0);
        assert_eq!(
            found,
            Found::SurgeWasTheLimit {
                held: None,
                tried: 100.0
            }
        );
    }

    #[test]
    fn a_confirmation_that_fails_is_not_the_capacity() {
        // Holds once at 20, then fails there: the search goes on below.
        let mut search = Search::new(20.0, 100.0, 0.05);
        let mut outcomes = vec![
            Verdict::Holds, // 20
            Verdict::Fails, // 30
        ]
        .into_iter();
        let mut tried = Vec::new();
        let found = loop {
            let rate = match search.next_step() {
                Next::Try(rate) | Next::Confirm(rate) => rate,
                Next::Done(found) => break found,
            };
            tried.push(rate);
            let verdict = outcomes.next().unwrap_or(if rate < 19.0 {
                Verdict::Holds
            } else {
                Verdict::Fails
            });
            search.record(rate, verdict);
        };
        let Found::Capacity(rate) = found else {
            panic!("{found:?} after {tried:?}")
        };
        assert!(rate < 19.0, "{rate} after {tried:?}");
    }

    #[test]
    fn nothing_holding_ends_below_the_lowest_rate_tried() {
        let (tried, found) = search(10.0, 100.0, 0.001, f64::INFINITY);
        assert!(matches!(found, Found::BelowLowest(_)), "{found:?}");
        assert!(tried.len() <= MAX_STEPS_DOWN + 1, "{tried:?}");
    }
}
