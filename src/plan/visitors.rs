//! Visitors from the seed: who arrives, which journey they take and what they choose.
//!
//! Each visit draws from its own ChaCha stream (seed, visit index), so visit 1234 is the same applicant
//! whatever the pool size, the order visits finish in, or how many visits the run has. Visits are made
//! on demand, so memory does not grow with the number of visits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use std::sync::Arc;

use super::data::{DataSet, Row};
use crate::scenario::{DataOrder, Scenario};

/// One person of a household.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub age: u8,
    pub uses_tobacco: bool,
}

/// One applicant's household, as the journeys send it to the exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Household {
    pub zip: String,
    pub income: u32,
    pub people: Vec<Person>,
}

/// Everything a visit needs that is drawn from the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub id: u64,
    /// Index of the journey taken, in the journey file's order.
    pub journey: usize,
    pub household: Household,
    /// How many result pages the visitor reads (1 or more).
    pub pages: u32,
    /// Which of the plans seen the visitor picks: a fraction in [0, 1) of the cheapest-first list.
    pub pick: f64,
    /// Seed for the visit's own later draws (think times).
    pub think_seed: u64,
    /// Its row of the scenario's `[data]` file, if it has one (`data` in templates).
    pub data: Option<Row>,
}

/// Makes the visits of a scenario from its seed.
#[derive(Debug, Clone)]
pub struct VisitPlanner {
    seed: u64,
    weights: Vec<f64>,
    zips: Vec<String>,
    income: [u32; 2],
    size: [u8; 2],
    tobacco_share: f64,
    max_pages: u32,
    data: Option<Arc<DataSet>>,
}

impl VisitPlanner {
    /// `weights` are the journeys' shares, in the journey file's order; `default_zips` are drawn
    /// from when the scenario lists no ZIP codes.
    pub fn new(scenario: &Scenario, weights: &[f64], default_zips: &[&str]) -> Self {
        let households = &scenario.households;
        let zips = households
            .zips
            .clone()
            .unwrap_or_else(|| default_zips.iter().map(|z| z.to_string()).collect());
        Self {
            seed: scenario.traffic.seed,
            weights: weights.to_vec(),
            zips,
            income: households.income,
            size: households.size,
            tobacco_share: households.tobacco_share.0,
            max_pages: households.max_pages.0.min(50) as u32,
            data: None,
        }
    }

    /// Feed the visits rows of `data` (households from the file where a row has a `zip`).
    pub fn with_data(mut self, data: Option<Arc<DataSet>>) -> Self {
        self.data = data;
        self
    }

    /// With a `unique` feeder, how many visits the file can serve.
    pub fn unique_rows(&self) -> Option<(u64, &std::path::Path)> {
        self.data
            .as_ref()
            .filter(|d| d.order == DataOrder::Unique)
            .map(|d| (d.len(), d.path.as_path()))
    }

    /// The visit with this index (0-based).
    pub fn visit(&self, id: u64) -> Visit {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(id);
        let journey = pick_weighted(&mut rng, &self.weights);
        let zip = self.zips[rng.random_range(0..self.zips.len())].clone();
        let size = rng.random_range(self.size[0]..=self.size[1]);
        let income = rng.random_range(self.income[0]..=self.income[1]);
        let people = (0..size)
            .map(|index| {
                // The first two people are adults (subscriber, partner); the rest are children.
                let age = if index < 2 {
                    rng.random_range(21..=64)
                } else {
                    rng.random_range(0..=20)
                };
                let uses_tobacco = age >= 18 && rng.random_bool(self.tobacco_share);
                Person { age, uses_tobacco }
            })
            .collect();
        let mut visit = Visit {
            id,
            journey,
            household: Household {
                zip,
                income,
                people,
            },
            pages: rng.random_range(1..=self.max_pages),
            pick: rng.random::<f64>(),
            think_seed: rng.random(),
            data: None,
        };
        // Drawn after everything else, so a data file changes no other choice of the visit.
        if let Some((row, household)) = self.data.as_ref().and_then(|d| d.row(id, self.seed)) {
            if let Some(household) = household {
                visit.household = household.clone();
            }
            visit.data = Some(row.clone());
        }
        visit
    }

    /// Which journey visit `id` takes (without drawing the rest of the visit).
    pub fn journey(&self, id: u64) -> usize {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(id);
        pick_weighted(&mut rng, &self.weights)
    }

    /// Share of visits per journey, in the journey file's order.
    pub fn shares(&self) -> Vec<f64> {
        let total: f64 = self.weights.iter().sum();
        self.weights.iter().map(|w| w / total).collect()
    }
}

/// The index of a journey drawn by weight.
fn pick_weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut point = rng.random::<f64>() * total;
    for (journey, weight) in weights.iter().enumerate() {
        if point < *weight {
            return journey;
        }
        point -= weight;
    }
    // Rounding can leave `point` a hair above the last weight: take the last journey with a share.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Weights in the shipped order: browse, eligibility, enroll, confirm.
    fn planner(seed: u64, weights: [f64; 4]) -> VisitPlanner {
        let text = format!(
            "[traffic]\nvisits = 100\nseed = {seed}\n[households]\nzips = [\"27601\", \"33101\"]\n"
        );
        VisitPlanner::new(
            &Scenario::parse(Path::new("t.toml"), &text).unwrap(),
            &weights,
            &[],
        )
    }

    const CONFIRM: usize = 3;
    const ENROLL: usize = 2;

    #[test]
    fn same_seed_same_visitors() {
        let a = planner(7, [1.0, 0.0, 0.0, 1.0]);
        let b = planner(7, [1.0, 0.0, 0.0, 1.0]);
        for id in [0, 1, 99, 123_456] {
            assert_eq!(a.visit(id), b.visit(id));
        }
    }

    #[test]
    fn other_seed_other_visitors() {
        let a = planner(7, [1.0, 0.0, 0.0, 1.0]);
        let b = planner(8, [1.0, 0.0, 0.0, 1.0]);
        let differing = (0..50).filter(|id| a.visit(*id) != b.visit(*id)).count();
        assert!(differing > 45, "only {differing} of 50 visits differ");
    }

    #[test]
    fn mix_shares_are_respected() {
        let planner = planner(1, [3.0, 0.0, 0.0, 1.0]);
        let confirm = (0..10_000)
            .filter(|id| planner.journey(*id) == CONFIRM)
            .count();
        assert!(
            (2_300..2_700).contains(&confirm),
            "{confirm} confirm visits of 10000"
        );
        assert!((0..1000).all(|id| planner.journey(id) != ENROLL));
    }

    #[test]
    fn households_stay_in_bounds() {
        let planner = planner(3, [1.0, 0.0, 0.0, 0.0]);
        for id in 0..500 {
            let visit = planner.visit(id);
            assert!(["27601", "33101"].contains(&visit.household.zip.as_str()));
            assert!((1..=4).contains(&visit.household.people.len()));
            assert!(visit.household.people[0].age >= 21);
            assert!((1..=3).contains(&visit.pages));
            assert_eq!(planner.journey(id), visit.journey);
        }
    }
}
