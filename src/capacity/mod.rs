//! `surge capacity`: how much the target takes, where it breaks, and whether that is enough for the
//! morning the scenario forecasts. The scenario's journey mix is offered at a series of constant
//! arrival rates ([`search`]), each a run directory of its own; what each step measured
//! ([`Step`]) gives the capacity, the curves ([`charts`]), a Universal Scalability Law fit
//! ([`usl`]) and the headroom against the scenario's own curve ([`headroom`]), written as
//! `capacity.json` and `capacity.md` ([`answer`]).

pub mod answer;
pub mod charts;
pub mod headroom;
pub mod search;
pub mod step;
pub mod usl;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one step of the search measured over its hold (the settle left out). Rates are per second
/// of scenario time (wall seconds × the scenario's time scale), as the scenario's curve is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Its place in the search, from 0.
    pub index: usize,
    /// The arrival rate offered, visits per second.
    pub offered: f64,
    /// Visits completed per second.
    pub served: f64,
    /// Mean visits in flight over the hold, by Little's law: served × the mean visit time (both
    /// in the same clock).
    pub in_flight: f64,
    /// Requests per second, by step name, and `all`.
    pub requests_per_s: BTreeMap<String, f64>,
    /// Latency in ms (p50, p95, p99), by step name and `visit`.
    pub latency_ms: BTreeMap<String, [f64; 3]>,
    /// Failed requests among all requests.
    pub error_rate: f64,
    /// Visits that reached the deepest stage the journeys prove, among those that tried it.
    pub conversion: f64,
    /// Whether surge delivered the offered rate (see `Summary::generator`); a step where it did not
    /// says nothing about the target.
    pub generator_valid: bool,
    pub generator_reason: String,
    /// Every SLO held, and the generator was valid.
    pub holds: bool,
    /// The first SLO (in rule order) that failed, when one did.
    pub failed: Option<FailedSlo>,
    /// The step's run directory.
    pub run_dir: String,
}

impl Step {
    /// The step's verdict in words: `holds`, `fails RULE (observed X)`, or `surge was the limit
    /// (why)`.
    pub fn verdict(&self) -> String {
        match &self.failed {
            _ if !self.generator_valid => {
                format!("surge was the limit ({})", self.generator_reason)
            }
            Some(failed) => format!("fails `{}` (observed {})", failed.rule, failed.observed),
            None => "holds".to_string(),
        }
    }

    /// Visit latency at the 95th percentile, in ms (0 when no visit ended in the hold).
    pub fn visit_p95_ms(&self) -> f64 {
        self.latency_ms.get("visit").map_or(0.0, |l| l[1])
    }
}

/// An SLO that did not hold over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedSlo {
    /// The rule as written, e.g. `p95(visit) < 2s`.
    pub rule: String,
    /// What was observed, in the rule's unit, e.g. `3.4 s`.
    pub observed: String,
    /// The limit, for people: `< 2000.0 ms`.
    #[serde(default)]
    pub limit: String,
    /// By how much: the observed value over the limit (1.16 is 16 % past a `<` limit, 0.9 is 10 %
    /// short of a `>` one); absent without data.
    #[serde(default)]
    pub ratio: Option<f64>,
}
