//! The Goose side of a run. Goose is closed-loop: a fixed number of users, each waiting for its own
//! responses. An open model needs visits to start on the clock whether or not earlier ones are done,
//! so surge runs Goose in one of two ways, both releasing each visit at its intended start from a
//! dispatcher that sleeps until the next is due (nothing polls; a [`Stop`] reaches every waiter):
//!
//! - **elastic** (the default): one Goose user drives the run; each visit runs in a task of its own,
//!   its requests sent through copies of that user lent one request at a time, so concurrency — and
//!   memory — follow the visits actually in flight (think time and waiting rooms included), up to
//!   the scenario's `pool` when it sets one. Goose keeps no per-request metrics then, so a copy
//!   loses nothing.
//! - **pooled** (with `--goose-report`): Goose's own report needs every request from a user Goose
//!   launched, so a fixed pool of Goose users per journey takes that journey's visits from a queue.
//!
//! Either way the requests go through a `GooseUser`, and a visit that cannot start on time (the cap
//! or the pool is full, or the machine is too slow) starts late and says so.

#[cfg(unix)]
mod quiet;
mod stop;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub use stop::{catch_signals, Stop};

use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::journey_file::Program;
use crate::journeys::{
    run_visit, HttpLimits, JourneyEnv, Target, Trace, UserStock, Users, VisitEnd, VisitState,
};
use crate::measure::Recorder;
use crate::plan::RunPlan;
use crate::rundir::enrollments::EnrollmentLog;
use crate::scenario::ThinkTime;

/// What a run needs besides the plan.
pub struct RunOptions {
    pub target: String,
    /// Goose report files to write (`.html`, `.json`, `.md`), empty for none.
    pub goose_reports: Vec<String>,
    pub think_time: ThinkTime,
    pub http_timeout: Duration,
    /// Where to write applicants who selected a plan.
    pub enrollments: Option<Arc<EnrollmentLog>>,
    /// The most requests in flight at once.
    pub max_connections: usize,
    /// The journeys, compiled from their file.
    pub program: Arc<Program>,
    /// Hosts besides the target's that requests may reach (`http.allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// Redirects and reply bytes one request may take (`http.max_redirects`, `http.max_reply`).
    pub max_redirects: u32,
    pub max_reply: u64,
}

impl RunOptions {
    fn limits(&self) -> HttpLimits {
        HttpLimits {
            max_redirects: self.max_redirects,
            max_reply: self.max_reply,
            timeout: self.http_timeout,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every planned visit ran.
    Completed,
    /// SIGINT (Ctrl-C) or SIGTERM.
    Interrupted,
    /// The scenario's `max_duration` passed before every visit started.
    Deadline(String),
    /// A threshold rule with `abort` failed.
    Aborted(String),
    /// A `unique` data feeder had no row left for the next visit.
    DataExhausted(String),
    /// One of the run's files could not be written: what it measured would be lost.
    WriteFailed(String),
    /// A run with a time limit of its own (a capacity step, `RunPlan::cut_after`) reached it after
    /// every visit was due: the visits still in flight are abandoned, and the run counts as
    /// completed, its load delivered.
    TimeUp,
}

impl Ending {
    pub fn describe(&self) -> String {
        match self {
            Ending::Completed => "completed".into(),
            Ending::TimeUp => {
                "completed (its time was up; visits still in flight abandoned)".into()
            }
            Ending::Interrupted => "stopped: interrupted".into(),
            Ending::Deadline(why)
            | Ending::Aborted(why)
            | Ending::DataExhausted(why)
            | Ending::WriteFailed(why) => format!("stopped: {why}"),
        }
    }
}

/// What the engine and the monitor share while a run goes.
#[derive(Debug, Default)]
pub struct RunControl {
    /// The scenario clock's zero: set when the first visit is taken, so Goose's start-up is not
    /// counted as lateness. Shared with the embedded exchange, whose faults follow the same clock.
    pub origin: Arc<OnceLock<Instant>>,
    /// The run's stop, with its reason.
    pub stop: Stop,
}

impl RunControl {
    /// Stop the run because a rule failed.
    pub fn abort(&self, reason: String) {
        self.stop.trigger(Ending::Aborted(reason));
    }
}

/// A visit released to the pool at its intended start.
#[derive(Debug, Clone, Copy)]
struct Due {
    id: u64,
    intended: Instant,
}

/// Everything the pool users share.
struct Pool {
    plan: Arc<RunPlan>,
    control: Arc<RunControl>,
    /// One queue per journey, fed by the dispatcher; a free pool user of that journey takes the next.
    queues: Vec<flume::Receiver<Due>>,
    env: JourneyEnv,
    /// The one HTTP client every pool user sends through.
    client: reqwest::Client,
    /// Told when the first pool user is ready, so Goose's start-up is not counted as lateness.
    first_ready: tokio::sync::Notify,
}

impl Pool {
    /// Whether the run must stop taking visits.
    fn must_stop(&self) -> bool {
        self.control.stop.reason().is_some()
    }

    /// When a visit released at `intended` is meant to start: then, or — a closed run's visit —
    /// now, when it gets its place.
    fn start_of(&self, intended: Instant) -> Instant {
        match self.plan.curve {
            Some(_) => intended,
            None => Instant::now(),
        }
    }
}

/// The visits' intended starts on the run's clock, in visit order, each waited for.
struct Starts {
    origin: Instant,
    /// Visit ids with their offsets from `origin`; `None` for a closed run, whose visits are due
    /// at once, in id order.
    offsets: Option<Box<dyn Iterator<Item = (u64, Duration)> + Send>>,
    /// A closed run's visit ids.
    closed: Box<dyn Iterator<Item = u64> + Send>,
}

impl Starts {
    /// Start the scenario clock now.
    fn from_now(pool: &Pool) -> Starts {
        Starts {
            origin: *pool.control.origin.get_or_init(Instant::now),
            offsets: pool
                .plan
                .intended_offsets()
                .map(|o| Box::new(o) as Box<dyn Iterator<Item = (u64, Duration)> + Send>),
            closed: Box::new(pool.plan.closed_ids()),
        }
    }

    /// Sleep until the next visit's intended start and return its id and that start; `None` when
    /// every visit has been released, or the run stops first.
    async fn next(&mut self, stop: &Stop) -> Option<(u64, Instant)> {
        let (id, intended) = match self.offsets.as_mut() {
            Some(offsets) => {
                let (id, offset) = offsets.next()?;
                (id, self.origin + offset)
            }
            None => (self.closed.next()?, Instant::now()),
        };
        stop.sleep_until(tokio::time::Instant::from_std(intended))
            .await
            .then_some((id, intended))
    }
}

/// The most visits in flight at once: the pool cap of an elastic run (`None`: no cap), or the pool
/// of a pooled one.
pub fn concurrency_limit(plan: &RunPlan, writes_goose_report: bool) -> Option<usize> {
    if !writes_goose_report {
        plan.pool_cap
    } else {
        Some(plan.pool)
    }
}

/// Run the plan's visits against `options.target`, recording into `recorder`.
pub async fn run(
    plan: Arc<RunPlan>,
    options: &RunOptions,
    recorder: Arc<Recorder>,
    control: Arc<RunControl>,
) -> Result<Ending, GooseError> {
    let elastic = options.goose_reports.is_empty();
    // The pooled engine's Goose users per journey and their queues. A closed run hands a visit over
    // only when a pool user takes it; an open run queues the visits that are due while every pool
    // user is busy (they start late, and say so).
    let pools = match elastic {
        true => vec![0; options.program.journeys.len()],
        false => pool_sizes(
            plan.pool,
            plan.visits,
            &plan.visitors.shares(),
            &options
                .program
                .journeys
                .iter()
                .map(|j| j.requests.len() as f64)
                .collect::<Vec<_>>(),
        ),
    };
    let (senders, queues): (Vec<_>, Vec<_>) = pools
        .iter()
        .filter(|_| !elastic)
        .map(|_| match plan.curve {
            None => flume::bounded(0),
            Some(_) => flume::unbounded(),
        })
        .unzip();

    let pool = Arc::new(Pool {
        plan: plan.clone(),
        control: control.clone(),
        queues,
        env: JourneyEnv {
            recorder,
            enrollments: options.enrollments.clone(),
            patience: plan.patience,
            connections: tokio::sync::Semaphore::new(options.max_connections),
            think_time: options.think_time.clone(),
            time_scale: plan.time_scale,
            program: options.program.clone(),
            target: Target::new(&options.target, options.allowed_hosts.clone()),
            limits: options.limits(),
            trace: None,
        },
        client: http_client(options)?,
        first_ready: tokio::sync::Notify::new(),
    });

    let users: usize = if elastic { 1 } else { pools.iter().sum() };
    let mut attack = GooseAttack::initialize_with_config(goose_config(options, users))?
        .set_client_builder_without_cookies(
            goose::client::GooseClientBuilder::new()
                .without_cookies()
                .timeout(options.http_timeout)
                .user_agent(concat!("surge/", env!("CARGO_PKG_VERSION"))),
        )?;
    if elastic {
        attack = attack.register_scenario(
            goose::goose::Scenario::new("visitors")
                .register_transaction(drive(pool.clone()).set_name("visitors")),
        );
    }
    for (journey, &size) in pools.iter().enumerate() {
        if size == 0 {
            continue;
        }
        let name = &options.program.journeys[journey].name;
        attack = attack.register_scenario(
            goose::goose::Scenario::new(name)
                .set_weight(size)?
                .register_transaction(serve_visits(journey, pool.clone()).set_name(name)),
        );
    }
    // The reasons to stop early, each waiting for its moment: a signal, or max_duration.
    let watchers = [
        tokio::spawn({
            let control = control.clone();
            async move { control.stop.on_signal().await }
        }),
        tokio::spawn({
            let control = control.clone();
            let limit = plan.max_duration;
            async move {
                if control
                    .stop
                    .sleep_until(tokio::time::Instant::now() + limit)
                    .await
                {
                    control.stop.trigger(Ending::Deadline(format!(
                        "max_duration of {} s reached",
                        limit.as_secs()
                    )));
                }
            }
        }),
        tokio::spawn({
            let control = control.clone();
            let cut = plan.cut_after;
            async move {
                let Some(cut) = cut else { return };
                if control
                    .stop
                    .sleep_until(tokio::time::Instant::now() + cut)
                    .await
                {
                    control.stop.trigger(Ending::TimeUp);
                }
            }
        }),
    ];
    let dispatcher = (!elastic).then(|| tokio::spawn(dispatch(pool.clone(), senders, pools)));
    let executed = if users > 0 {
        // Only surge speaks: Goose's "630 users launched." goes nowhere (see `quiet`).
        #[cfg(unix)]
        let _goose_quiet = quiet::StdoutShut::new();
        attack.execute().await.map(|_| ())
    } else {
        Ok(())
    };
    for watcher in watchers.into_iter().chain(dispatcher) {
        watcher.abort();
    }
    executed?;
    Ok(control.stop.reason().cloned().unwrap_or(Ending::Completed))
}

/// Release every visit at its intended start to its journey's queue, sleeping in between: nothing
/// wakes while no visit is due. The scenario clock starts when the first pool user is ready.
async fn dispatch(pool: Arc<Pool>, senders: Vec<flume::Sender<Due>>, pools: Vec<usize>) {
    let stop = &pool.control.stop;
    tokio::select! {
        _ = pool.first_ready.notified() => {}
        _ = stop.stopped() => return,
    }
    let mut starts = Starts::from_now(&pool);
    while let Some((id, intended)) = starts.next(stop).await {
        if data_ran_dry(&pool, id) {
            return;
        }
        let journey = pool.plan.visitors.journey(id);
        if pools[journey] == 0 {
            // Rounding gave this journey no pool user (its share is tiny): skip it, so the run
            // ends; such a visit never starts, and the summary says so.
            continue;
        }
        let sent = tokio::select! {
            sent = senders[journey].send_async(Due { id, intended }) => sent.is_ok(),
            _ = stop.stopped() => false,
        };
        if !sent {
            return;
        }
    }
}

/// The transaction each pool user runs once: take visits of `journey` as they come due, until none
/// are left or the run stops.
fn serve_visits(journey: usize, pool: Arc<Pool>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let pool = pool.clone();
        Box::pin(async move {
            // Every pool user sends through the same client: its connection pool is bounded, which
            // Goose's own client settings cannot do.
            user.client = pool.client.clone();
            let queue = &pool.queues[journey];
            pool.first_ready.notify_one();
            loop {
                let due = tokio::select! {
                    due = queue.recv_async() => due,
                    _ = pool.control.stop.stopped() => break,
                };
                // The dispatcher has released every visit (or stopped).
                let Ok(Due { id, intended }) = due else { break };
                if pool.must_stop() {
                    break;
                }
                let intended = pool.start_of(intended);
                tokio::select! {
                    _ = visit(&pool, Users::Own(user), journey, id, intended) => {}
                    _ = pool.control.stop.interrupted() => break,
                }
            }
            Ok(())
        })
    }))
}

/// Run visit `id` of `journey`, meant to start at `intended`, through `users`, and record it.
async fn visit(pool: &Pool, users: Users<'_>, journey: usize, id: u64, intended: Instant) {
    let recorder = &pool.env.recorder;
    recorder.visit_started(
        Instant::now().saturating_duration_since(intended),
        pool.plan.late_after,
    );
    let visit = pool.plan.visitors.visit(id);
    let mut state = VisitState::new(users, &pool.env, &visit, intended);
    let VisitEnd {
        reached,
        failure,
        insurer,
        enrollment,
    } = run_visit(&mut state).await;
    let latency = Instant::now().saturating_duration_since(intended);
    if let Some(failure) = &failure {
        recorder.failure(failure.step, &failure.reason, id);
    }
    recorder.visit_finished(latency, reached, &pool.env.program.journeys[journey].stages);
    if let Some((id, name)) = &insurer {
        recorder.insurer_reached(id, name, reached);
    }
    if let (Some(log), Some(enrollment)) = (&pool.env.enrollments, &enrollment) {
        if let Err(e) = log.record(enrollment) {
            pool.control
                .stop
                .trigger(Ending::WriteFailed(e.to_string()));
        }
    }
    // Whole visits show up in Goose's own report too (a pooled run's), timed from their intended
    // start.
    let Users::Own(user) = state.users else {
        return;
    };
    let _ = user
        .record_custom_request_duration(
            "VISIT",
            &pool.env.program.journeys[journey].name,
            latency,
            failure.is_none(),
            None,
            failure.as_ref().map(|f| f.reason.as_str()),
        )
        .await;
}

/// The elastic run's one Goose transaction: release every visit at its intended start into a task
/// of its own, up to the pool cap if there is one, its requests sent through copies of this Goose
/// user lent for each request; then wait for the visits in flight to finish.
fn drive(pool: Arc<Pool>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let pool = pool.clone();
        Box::pin(async move {
            user.client = pool.client.clone();
            let users = Arc::new(UserStock::new(user.clone()));
            let stop = &pool.control.stop;
            let mut starts = Starts::from_now(&pool);
            let cap = pool
                .plan
                .pool_cap
                .map(|cap| Arc::new(tokio::sync::Semaphore::new(cap)));
            let mut in_flight = tokio::task::JoinSet::new();
            loop {
                // Finished visits are reaped as we go, so the set holds only those in flight.
                while in_flight.try_join_next().is_some() {}
                let Some((id, intended)) = starts.next(stop).await else {
                    break;
                };
                if data_ran_dry(&pool, id) {
                    break;
                }
                // At the cap the visit waits for a place, and starts late.
                let permit = match &cap {
                    Some(cap) => tokio::select! {
                        permit = cap.clone().acquire_owned() => permit.ok(),
                        _ = stop.stopped() => break,
                    },
                    None => None,
                };
                let intended = pool.start_of(intended);
                let journey = pool.plan.visitors.journey(id);
                let (pool, users) = (pool.clone(), users.clone());
                in_flight.spawn(async move {
                    tokio::select! {
                        _ = visit(&pool, Users::Lent(&users), journey, id, intended) => {}
                        _ = pool.control.stop.interrupted() => {}
                    }
                    drop(permit);
                });
            }
            while in_flight.join_next().await.is_some() {}
            Ok(())
        })
    }))
}

/// With a `unique` data feeder and no row left for visit `id`: stop the run, saying so.
fn data_ran_dry(pool: &Pool, id: u64) -> bool {
    match pool.plan.visitors.unique_rows() {
        Some((rows, path)) if id >= rows => {
            pool.control.stop.trigger(Ending::DataExhausted(format!(
                "[data] ran dry: {} has {rows} rows for unique visits, and visit {} needed one more",
                path.display(),
                id + 1
            )));
            true
        }
        _ => false,
    }
}

/// Walk visit `id` alone, printing every request and reply (`surge trace`): no schedule, no
/// Goose attack, no think time; the request still goes through a Goose user, as in a run.
pub async fn trace_visit(
    plan: &RunPlan,
    program: Arc<Program>,
    target: &str,
    scenario: &crate::scenario::Scenario,
    id: u64,
    body_bytes: usize,
) -> Result<VisitEnd, GooseError> {
    let options = RunOptions {
        target: target.to_string(),
        goose_reports: Vec::new(),
        think_time: ThinkTime::default(),
        http_timeout: scenario.http.timeout,
        enrollments: None,
        max_connections: 1,
        allowed_hosts: scenario.http.allowed_hosts.clone(),
        max_redirects: scenario.http.max_redirects,
        max_reply: scenario.http.max_reply.0,
        program: program.clone(),
    };
    let env = JourneyEnv {
        recorder: Arc::new(Recorder::new(&program.steps)),
        enrollments: None,
        patience: plan.patience,
        connections: tokio::sync::Semaphore::new(1),
        think_time: ThinkTime::default(),
        time_scale: plan.time_scale,
        target: Target::new(target, options.allowed_hosts.clone()),
        limits: options.limits(),
        program,
        trace: Some(Trace { body_bytes }),
    };
    let base = reqwest::Url::parse(target).map_err(|e| GooseError::InvalidOption {
        option: "--target".into(),
        value: target.to_string(),
        detail: e.to_string(),
    })?;
    let mut user = GooseUser::single(base, &goose_config(&options, 1))?;
    user.client = http_client(&options)?;
    let visit = plan.visitors.visit(id);
    let mut state = VisitState::new(Users::Own(&mut user), &env, &visit, Instant::now());
    Ok(run_visit(&mut state).await)
}

/// Split the pool over the journeys by the work each brings (expected visits × typical requests):
/// shares rounded by largest remainder so they add up to the pool, at least one user for every
/// journey that has a share, and never more users than the visits it expects.
fn pool_sizes(pool: usize, visits: u64, shares: &[f64], requests: &[f64]) -> Vec<usize> {
    let expected: Vec<f64> = shares.iter().map(|s| s * visits as f64).collect();
    let work: Vec<f64> = expected.iter().zip(requests).map(|(e, r)| e * r).collect();
    let total: f64 = work.iter().sum();
    if total == 0.0 {
        return vec![0; work.len()];
    }
    let exact: Vec<f64> = work.iter().map(|w| pool as f64 * w / total).collect();
    let mut sizes: Vec<usize> = exact
        .iter()
        .zip(&expected)
        .map(|(e, v)| {
            if *v == 0.0 {
                0
            } else {
                (e.floor() as usize).max(1)
            }
        })
        .collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).filter(|i| expected[*i] > 0.0).collect();
    by_remainder.sort_by(|a, b| {
        (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor()))
    });
    for index in by_remainder.iter().cycle().take(by_remainder.len()) {
        if sizes.iter().sum::<usize>() >= pool {
            break;
        }
        sizes[*index] += 1;
    }
    sizes
        .iter()
        .zip(&expected)
        .map(|(s, v)| (*s).min(v.ceil().max(1.0) as usize))
        .collect()
}

/// The shared HTTP client: no cookies (each visit keeps its own), a bounded pool of idle
/// connections that are closed after a few idle seconds, so that with `max_connections` requests in
/// flight the open sockets stay bounded too.
fn http_client(options: &RunOptions) -> Result<reqwest::Client, GooseError> {
    let builder = options.program.access.tls(reqwest::Client::builder());
    builder
        .timeout(options.http_timeout)
        // A connection not made in time fails as `connect` (the target was never reached), a
        // little before the whole request's timeout would call it `timeout`.
        .connect_timeout(
            options
                .http_timeout
                .mul_f64(0.95)
                .min(Duration::from_secs(10)),
        )
        .user_agent(concat!("surge/", env!("CARGO_PKG_VERSION")))
        // Redirects are followed by the journeys, each hop checked against the allowed hosts.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .pool_max_idle_per_host(options.max_connections)
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| GooseError::InvalidOption {
            option: "http client".into(),
            value: e.to_string(),
            detail: "cannot build the HTTP client".into(),
        })
}

fn goose_config(options: &RunOptions, users: usize) -> GooseConfiguration {
    let mut config = GooseConfiguration::default();
    config.host = Some(options.target.clone());
    config.users = Some(users.max(1));
    // Launch the pool quickly — visits wait for their own start times — but not so fast that
    // Goose's launch loop starves the runtime of a large pool.
    config.increase_rate = Some((users.max(1) * 10).min(5000).to_string());
    config.iterations = Some(1);
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.quiet = 1;
    config.report_file = options.goose_reports.clone();
    // Goose's own per-request metrics cost CPU on every request; surge records its own, so Goose
    // keeps them only when its report is asked for.
    config.no_metrics = options.goose_reports.is_empty();
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests per visit of the shipped journeys (browse, eligibility, enroll, confirm).
    const REQUESTS: [f64; 4] = [3.0, 4.0, 9.0, 10.0];

    #[test]
    fn pool_is_split_by_work_with_one_user_at_least() {
        // 100 browse, 100 eligibility, no enroll, 2 confirm visits expected.
        let sizes = pool_sizes(
            20,
            202,
            &[100.0 / 202.0, 100.0 / 202.0, 0.0, 2.0 / 202.0],
            &REQUESTS,
        );
        assert_eq!(sizes[2], 0, "no users for a journey without visits");
        assert_eq!(sizes[3], 1);
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes[0] >= 8 && sizes[1] > sizes[0], "{sizes:?}");
    }

    #[test]
    fn pool_never_exceeds_the_visits_it_serves() {
        assert_eq!(
            pool_sizes(64, 3, &[1.0, 0.0, 0.0, 0.0], &REQUESTS),
            vec![3, 0, 0, 0]
        );
    }

    #[test]
    fn pool_adds_up_for_the_smoke_mix() {
        let shares = [0.3, 0.2, 0.2, 0.3];
        for pool in [4, 7, 24, 33, 100] {
            assert_eq!(
                pool_sizes(pool, 300, &shares, &REQUESTS)
                    .iter()
                    .sum::<usize>(),
                pool,
                "pool {pool}"
            );
        }
    }
}
