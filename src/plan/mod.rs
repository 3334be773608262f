//! The plan of a run, all from the scenario and its seed: when each visit is meant to arrive
//! ([`schedule`], shaped by a rate [`curve`]), who the visitor is ([`visitors`]), and the resolved
//! numbers the engine runs by ([`RunPlan`]).

pub mod curve;
pub mod data;
pub mod schedule;
pub mod visitors;

use std::time::Duration;

pub use curve::Curve;
pub use schedule::{IntendedCounter, Schedule, MAX_VISITS};
pub use visitors::{Household, Person, Visit, VisitPlanner};

use crate::scenario::{Scenario, Traffic};

/// A scenario the plan cannot be made from. The scenario's checks refuse these first, so this
/// means a check is missing.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the arrival curve is not usable: it needs two points, increasing times and a rate above 0"
    )]
    Curve,
    #[error("{0} visits is more than a run can plan (at most {MAX_VISITS}); lower traffic.visits or --visits")]
    TooManyVisits(u64),
    #[error("[data] households: {0}")]
    Data(#[from] data::DataError),
}

/// Everything the engine needs, resolved from the scenario and the command line.
pub struct RunPlan {
    pub visits: u64,
    /// Goose users of a fixed pool (runs that write a Goose report, and closed runs).
    pub pool: usize,
    /// The most visits in flight at once: the scenario's `pool`, else [`DEFAULT_POOL_CAP`] (a closed
    /// run: `pool`). Below it, concurrency follows the visits that are due.
    pub pool_cap: Option<usize>,
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
    /// When set, the run ends this long (wall time) after it starts and abandons the visits still
    /// in flight (`Ending::TimeUp`): a capacity step measures its hold, not a saturated target's
    /// tail. `surge run` never sets it.
    pub cut_after: Option<Duration>,
    pub visitors: VisitPlanner,
    /// Visits per wall-clock second at the curve's peak (0 for a closed run).
    pub peak_wall_rate: f64,
    /// A replay's window: only the visits meant to start in it run, the run's clock starting at its
    /// start. `None`: every visit.
    pub window: Option<Window>,
    /// This machine's share of the schedule (`--shard K/N`). `None`: every visit.
    pub shard: Option<Shard>,
    /// Visits of the whole schedule, every shard's and window's together.
    pub visits_total: u64,
}

/// One of `count` shards of a schedule: the visits whose id is `index` modulo `count`, so the
/// shards' union is the whole schedule, visit for visit, and each shard's arrivals follow the same
/// curve at a `count`-th of the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0 to `count - 1`, as a Kubernetes Indexed Job numbers its pods.
    pub index: u64,
    pub count: u64,
}

/// Why `K/N` names no shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not K/N (shard K of N, K from 0 to N-1), e.g. 0/4")]
    Malformed(String),
    #[error("`{index}/0`: there must be at least one shard (N ≥ 1)")]
    NoShards { index: u64 },
    #[error(
        "`{index}/{count}`: shard {index} does not exist; the {count} shards are numbered 0 to {}",
        count - 1
    )]
    NoSuchShard { index: u64, count: u64 },
}

impl Shard {
    /// Shard `index` of `count`, when it exists.
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards { index });
        }
        if index >= count {
            return Err(ShardError::NoSuchShard { index, count });
        }
        Ok(Shard { index, count })
    }

    pub fn holds(self, visit: u64) -> bool {
        visit % self.count == self.index
    }

    /// How many of the ids `0..visits` this shard holds.
    pub fn share_of(self, visits: u64) -> u64 {
        visits / self.count + u64::from(visits % self.count > self.index)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    /// `K/N`: shard K (0 to N-1) of N.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let malformed = || ShardError::Malformed(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(malformed)?;
        let index: u64 = index.trim().parse().map_err(|_| malformed())?;
        let count: u64 = count.trim().parse().map_err(|_| malformed())?;
        Shard::new(index, count)
    }
}

/// Part of a schedule, in scenario seconds from the curve's start: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from: f64,
    pub to: f64,
}

impl RunPlan {
    /// Resolve a checked scenario. `weights` are the journeys' shares in the journey file's order;
    /// `default_zips` are the ZIP codes households are drawn from when the scenario lists none (the
    /// embedded exchange's catalog).
    pub fn new(
        scenario: &Scenario,
        weights: &[f64],
        default_zips: &[&str],
    ) -> Result<RunPlan, PlanError> {
        let traffic = &scenario.traffic;
        let curve = match traffic.curve_points() {
            Some(points) => Some(Curve::new(points).ok_or(PlanError::Curve)?),
            None => None,
        };
        let visits = visit_count(traffic, curve.as_ref());
        if visits > MAX_VISITS {
            return Err(PlanError::TooManyVisits(visits));
        }
        let data = match &scenario.data {
            None => None,
            Some(spec) => {
                let path = match scenario.source.path.parent() {
                    Some(dir) if spec.households.is_relative() => dir.join(&spec.households),
                    _ => spec.households.clone(),
                };
                Some(std::sync::Arc::new(data::DataSet::load(&path, spec.order)?))
            }
        };
        let schedule = curve
            .as_ref()
            .map(|c| Schedule::new(c, visits, traffic.arrivals, traffic.seed));
        Ok(RunPlan {
            visits,
            pool: pool_size(traffic, curve.as_ref()) as usize,
            pool_cap: match (traffic.pool, &curve) {
                (Some(pool), _) => Some(pool.0 as usize),
                (None, None) => Some(pool_size(traffic, None) as usize),
                (None, Some(_)) => Some(DEFAULT_POOL_CAP),
            },
            schedule,
            time_scale: traffic.time_scale.0,
            clock_start: traffic.clock_start(),
            late_after: traffic.late_after,
            patience: traffic.patience.div_f64(traffic.time_scale.0),
            max_duration: max_duration(traffic, curve.as_ref()),
            cut_after: None,
            visitors: VisitPlanner::new(scenario, weights, default_zips).with_data(data),
            peak_wall_rate: curve.as_ref().map_or(0.0, |c| peak_wall_rate(traffic, c)),
            curve,
            window: None,
            shard: None,
            visits_total: visits,
        })
    }

    /// Keep only this shard's visits, with their ids, visitors and intended times. An open run's
    /// `pool` caps each shard's visits in flight (the shards' load adds up through the schedule);
    /// a closed run's pool is the run's concurrency, so each shard takes its share of it.
    pub fn shard(&mut self, shard: Shard) {
        self.shard = Some(shard);
        self.visits = match self.window {
            Some(_) => self.planned().map_or(0, |visits| visits.count() as u64),
            None => shard.share_of(self.visits_total),
        };
        self.peak_wall_rate /= shard.count as f64;
        let share = |pool: usize| pool.div_ceil(shard.count as usize).max(1);
        if self.curve.is_none() {
            self.pool = share(self.pool);
            self.pool_cap = self.pool_cap.map(share);
        }
    }

    /// Keep only the visits meant to start in `window` — with the same ids, visitors and offsets —
    /// and start the run's clock (and the embedded exchange's) at the window's start. A closed run
    /// has no schedule to cut: `false`.
    pub fn restrict(&mut self, window: Window) -> bool {
        if self.schedule.is_none() {
            return false;
        }
        self.window = Some(window);
        self.visits = self.planned().map_or(0, |visits| visits.count() as u64);
        self.clock_start += window.from;
        true
    }

    /// Every visit of this run (its window's, its shard's): its id and its intended start in
    /// scenario seconds from the run's origin (a replay's: from its window's start), in time
    /// order; `None` for a closed run.
    pub fn planned(&self) -> Option<impl Iterator<Item = (u64, f64)> + Send + 'static> {
        let (from, to) = self.window.map_or((0.0, f64::INFINITY), |w| (w.from, w.to));
        let shard = self.shard.unwrap_or(Shard { index: 0, count: 1 });
        self.schedule.as_ref().map(move |s| {
            s.times()
                .enumerate()
                .map(|(id, t)| (id as u64, t))
                .skip_while(move |(_, t)| *t < from)
                .take_while(move |(_, t)| *t < to)
                .filter(move |(id, _)| shard.holds(*id))
                .map(move |(id, t)| (id, t - from))
        })
    }

    /// A closed run's visit ids, in the order they start (this shard's only).
    pub fn closed_ids(&self) -> impl Iterator<Item = u64> + Send + 'static {
        let shard = self.shard.unwrap_or(Shard { index: 0, count: 1 });
        (shard.index..self.visits_total).step_by(shard.count as usize)
    }

    /// Wall-clock offsets from the run's origin at which the visits are meant to start, in visit
    /// order; `None` for a closed run.
    pub fn intended_offsets(
        &self,
    ) -> Option<impl Iterator<Item = (u64, Duration)> + Send + 'static> {
        let scale = self.time_scale;
        self.planned()
            .map(|visits| visits.map(move |(id, t)| (id, Duration::from_secs_f64(t / scale))))
    }

    /// Counts of intended arrivals for the timeline, on the run's scenario clock.
    pub fn intended_counter(&self) -> Option<IntendedCounter> {
        self.planned()
            .map(|visits| IntendedCounter::new(Box::new(visits.map(|(_, t)| t))))
    }

    /// The scenario clock (seconds since midnight) at a wall-clock offset from the origin.
    pub fn clock_at(&self, offset: Duration) -> f64 {
        self.clock_start + offset.as_secs_f64() * self.time_scale
    }
}

/// The most visits in flight when the scenario sets no `pool`: far above what a morning on one
/// machine needs (the first morning peaks near 14,000), low enough that a curve asking for
/// millions at once makes visits late — and the run invalid — instead of exhausting memory.
pub const DEFAULT_POOL_CAP: usize = 50_000;

/// Visits to run: `visits`, or the area under a curve of absolute rates.
fn visit_count(traffic: &Traffic, curve: Option<&Curve>) -> u64 {
    match (traffic.visits, curve) {
        (Some(visits), _) => visits.0,
        (None, Some(curve)) => curve.area().round().max(1.0) as u64,
        (None, None) => 1,
    }
}

/// Visits per wall-clock second at the curve's peak.
fn peak_wall_rate(traffic: &Traffic, curve: &Curve) -> f64 {
    let visits = visit_count(traffic, Some(curve)) as f64;
    curve.peak() / curve.area() * visits * traffic.time_scale.0
}

/// Pauses in the deepest journey (between its six steps).
const THINKS_PER_VISIT: f64 = 5.0;

/// The pool: `pool`, or enough users for the peak if each visit lasts its (scaled) think times
/// plus one second of responses, with room to spare; 32 for a closed run.
fn pool_size(traffic: &Traffic, curve: Option<&Curve>) -> u64 {
    if let Some(pool) = traffic.pool {
        return pool.0;
    }
    let Some(curve) = curve else { return 32 };
    let think = (traffic.think_time.min_ms + traffic.think_time.max_ms) as f64 / 2.0 / 1000.0;
    let visit_seconds = THINKS_PER_VISIT * think / traffic.time_scale.0 + 1.0;
    let wanted = 2.0 * peak_wall_rate(traffic, curve) * visit_seconds;
    (wanted.ceil() as u64).clamp(16, 20_000)
}

/// The run's wall-time limit: `max_duration`, or the scaled curve plus 5 minutes, or 10 minutes.
fn max_duration(traffic: &Traffic, curve: Option<&Curve>) -> Duration {
    traffic.max_duration.unwrap_or_else(|| match curve {
        Some(curve) => Duration::from_secs_f64(curve.span() / traffic.time_scale.0 + 300.0),
        None => Duration::from_secs(600),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(text: &str) -> RunPlan {
        let scenario = Scenario::parse(Path::new("t.toml"), text).unwrap();
        RunPlan::new(&scenario, &[1.0], &["27601"]).unwrap()
    }

    #[test]
    fn a_closed_run_has_no_curve_and_a_pool_of_32() {
        let plan = plan("[traffic]\nvisits = 10\n[traffic.mix]\nbrowse = 1\n");
        assert!(plan.curve.is_none());
        assert_eq!(plan.pool, 32);
        assert_eq!(plan.visits, 10);
    }

    #[test]
    fn profile_on_the_clock_makes_a_curve() {
        let plan = plan(
            "[traffic]\nvisits = 1000\ntime_scale = 60\nprofile = [{at = \"06:00\", rate = 1}, \
             {at = \"08:00\", rate = 5}, {at = \"12:00\", rate = 5}]\n[traffic.mix]\nbrowse = 1\n",
        );
        let curve = plan.curve.as_ref().unwrap();
        assert_eq!(curve.span(), 6.0 * 3600.0);
        assert_eq!(plan.clock_start, 6.0 * 3600.0);
        // 1000 visits over 6 h at 60x: area 21,600 + 72,000: peak 1000·5/93,600 per second, times 60.
        assert!((plan.peak_wall_rate - 1000.0 * 5.0 / 93_600.0 * 60.0).abs() < 1e-6);
        assert_eq!(plan.max_duration.as_secs(), 360 + 300);
    }

    #[test]
    fn an_absurd_number_of_visits_is_refused_not_allocated() {
        let scenario = Scenario::parse(
            Path::new("t.toml"),
            "[traffic]\nvisits = 1000000000000\nspan = \"1h\"\n[traffic.mix]\nbrowse = 1\n",
        )
        .unwrap();
        let err = RunPlan::new(&scenario, &[1.0], &["27601"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn the_shards_together_are_the_whole_schedule_visit_for_visit() {
        let text = "[traffic]\nvisits = 1001\nspan = \"10m\"\narrivals = \"poisson\"\nseed = 5\n\
                    [traffic.mix]\nbrowse = 1\n";
        let whole: Vec<(u64, f64)> = plan(text).planned().unwrap().collect();
        assert_eq!(whole.len(), 1001);
        for count in 1..=4 {
            let mut union = Vec::new();
            let mut planned = 0;
            for index in 0..count {
                let mut shard = plan(text);
                shard.shard(Shard { index, count });
                let visits: Vec<(u64, f64)> = shard.planned().unwrap().collect();
                assert_eq!(
                    visits.len() as u64,
                    shard.visits,
                    "{index}/{count} plans its own"
                );
                assert!(visits.iter().all(|(id, _)| id % count == index));
                planned += shard.visits;
                union.extend(visits);
            }
            union.sort_by_key(|a| a.0);
            assert_eq!(union, whole, "{count} shards: same ids at the same times");
            assert_eq!(planned, 1001);
        }
        // The same applicant for the same id, whichever shard sends it.
        let mut shard = plan(text);
        shard.shard(Shard { index: 2, count: 3 });
        assert_eq!(
            format!("{:?}", shard.visitors.visit(5)),
            format!("{:?}", plan(text).visitors.visit(5))
        );
        // A closed run's ids split the same way.
        let closed = "[traffic]\nvisits = 10\n[traffic.mix]\nbrowse = 1\n";
        let mut shard = plan(closed);
        shard.shard(Shard { index: 1, count: 3 });
        assert_eq!(shard.closed_ids().collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(shard.visits, 3);
    }

    #[test]
    fn a_shard_is_k_of_n_with_k_below_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "5/4", "0/0", "x/2", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stages_with_absolute_rates_give_the_visit_count() {
        let plan = plan(
            "[traffic]\nstages = [{duration = \"10s\", rate = 20}, {duration = \"20s\", rate = 20}]\n\
             [traffic.mix]\nbrowse = 1\n",
        );
        // Ramp 0→20 over 10 s (100 visits), then hold 20/s for 20 s (400 visits).
        assert_eq!(plan.visits, 500);
    }
}
