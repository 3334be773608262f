//! The plan of a run, all from the scenario and its seed: when each visit is meant to arrive
//! ([`schedule`], shaped by a rate [`curve`]), who the visitor is ([`visitors`]), and the resolved
//! numbers the engine runs by ([`RunPlan`]).

pub mod curve;
pub mod schedule;
pub mod visitors;

use std::time::Duration;

pub use curve::Curve;
pub use schedule::{Arrivals, Schedule};
pub use visitors::{Household, Person, Visit, VisitPlanner};

use crate::scenario::Scenario;

/// Everything the engine needs, resolved from the scenario and the command line.
pub struct RunPlan {
    pub visits: u64,
    pub pool: usize,
    /// `None` for a closed run: each visit starts as soon as a pool user is free.
    pub schedule: Option<Schedule>,
    pub curve: Option<Curve>,
    pub time_scale: f64,
    /// Scenario clock at the curve's start, in seconds since midnight.
    pub clock_start: f64,
    pub late_after: Duration,
    /// How long a visitor waits in a waiting room, in wall time.
    pub patience: Duration,
    pub max_duration: Duration,
    pub visitors: VisitPlanner,
}

impl RunPlan {
    /// Resolve a checked scenario. The curve was validated when the scenario was loaded.
    pub fn new(scenario: &Scenario) -> RunPlan {
        let traffic = &scenario.traffic;
        let curve = traffic.curve().ok().flatten();
        let visits = traffic.visit_count(curve.as_ref());
        let schedule = curve
            .as_ref()
            .map(|c| Schedule::new(c, visits, traffic.arrivals, traffic.seed));
        RunPlan {
            visits,
            pool: traffic.pool_size(curve.as_ref()) as usize,
            schedule,
            time_scale: traffic.time_scale.0,
            clock_start: traffic.clock_start(),
            late_after: traffic.late_after,
            patience: traffic.patience.div_f64(traffic.time_scale.0),
            max_duration: traffic.max_duration(curve.as_ref()),
            visitors: VisitPlanner::new(scenario),
            curve,
        }
    }

    /// Wall-clock offset from the run's origin at which visit `k` is meant to start.
    pub fn intended_offset(&self, visit: u64) -> Option<Duration> {
        self.schedule
            .as_ref()
            .map(|s| Duration::from_secs_f64(s.time_of(visit) / self.time_scale))
    }

    /// Visits meant to start between two wall-clock offsets from the origin.
    pub fn intended_between(&self, from: Duration, to: Duration) -> Option<u64> {
        self.schedule.as_ref().map(|s| {
            s.count_between(
                from.as_secs_f64() * self.time_scale,
                to.as_secs_f64() * self.time_scale,
            )
        })
    }

    /// The scenario clock (seconds since midnight) at a wall-clock offset from the origin.
    pub fn clock_at(&self, offset: Duration) -> f64 {
        self.clock_start + offset.as_secs_f64() * self.time_scale
    }
}
