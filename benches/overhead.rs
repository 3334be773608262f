//! Recording overhead: plain Goose against surge's recording path, at saturation, in one process.
//!
//! `cargo bench --bench overhead` (harness = false). Starts the embedded exchange on 127.0.0.1:0 and
//! alternates, for `BENCH_ROUNDS` rounds (default 3):
//!  (a) plain Goose: `BENCH_USERS` users (default 50), Goose's default per-user clients, one
//!      transaction `GET /api/v1/plans/{id}` that reads the body, no wait, `BENCH_SECS` s (default 10);
//!  (b) surge's journey path: the same endpoint and users, one shared client without cookies, every
//!      request a one-request visit of a journey file (`surge::journeys::run_visit`: templates,
//!      checks, recording) with a shared `Recorder`, a `JourneyEnv`, and a fresh `VisitState` per
//!      iteration.
//! Requests/s = total requests / `GooseMetrics::duration` (whole seconds, after the ramp). Also printed:
//! requests/s over the wall time of `execute()` (ramp and shutdown included) as a cross-check.
//! One machine-readable line per attack: `RESULT {json}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::metrics::GooseMetrics;
use goose::prelude::*;
use surge::journey_file;
use surge::journeys::{run_visit, HttpLimits, JourneyEnv, Target, Users, VisitState};
use surge::measure::Recorder;
use surge::plan::{Visit, VisitPlanner};
use surge::scenario::{Scenario as SurgeScenario, Source, ThinkTime};

mod support;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(host: &str, users: usize, secs: u64) -> GooseConfiguration {
    let mut cfg = GooseConfiguration::default();
    cfg.host = Some(host.to_string());
    cfg.users = Some(users);
    // Start every user within ~0.1 s; the metrics reset after the ramp excludes it anyway.
    cfg.increase_rate = Some((users * 10).to_string());
    cfg.run_time = Some(format!("{secs}s"));
    cfg.no_telnet = true;
    cfg.no_print_metrics = true;
    cfg.quiet = 1;
    cfg
}

fn totals(metrics: &GooseMetrics) -> (usize, usize) {
    metrics.requests.values().fold((0, 0), |(ok, bad), r| {
        (ok + r.success_count, bad + r.fail_count)
    })
}

fn plain_transaction(path: Arc<str>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let path = path.clone();
        Box::pin(async move {
            let goose = user.get(&path).await?;
            if let Ok(response) = goose.response {
                let _ = response.text().await;
            }
            Ok(())
        })
    }))
}

fn surge_transaction(env: Arc<JourneyEnv>, visit: Arc<Visit>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let env = env.clone();
        let visit = visit.clone();
        Box::pin(async move {
            let mut state = VisitState::new(Users::Own(user), &env, &visit, Instant::now());
            let _ = run_visit(&mut state).await;
            Ok(())
        })
    }))
}

struct Run {
    requests: usize,
    failures: usize,
    duration_s: usize,
    wall_s: f64,
}

async fn attack(
    kind: &str,
    host: &str,
    users: usize,
    secs: u64,
    path: Arc<str>,
    env: &Arc<JourneyEnv>,
    visit: &Arc<Visit>,
) -> Run {
    let mut attack = GooseAttack::initialize_with_config(config(host, users, secs)).expect("goose");
    let scenario = match kind {
        "plain" => scenario!("plain").register_transaction(plain_transaction(path)),
        _ => {
            attack = attack
                .set_client_builder_without_cookies(
                    goose::client::GooseClientBuilder::new().without_cookies(),
                )
                .expect("shared client");
            scenario!("surge").register_transaction(surge_transaction(env.clone(), visit.clone()))
        }
    };
    let started = Instant::now();
    let metrics = attack
        .register_scenario(scenario)
        .execute()
        .await
        .expect("attack");
    let wall_s = started.elapsed().as_secs_f64();
    let (ok, bad) = totals(&metrics);
    Run {
        requests: ok + bad,
        failures: bad,
        duration_s: metrics.duration,
        wall_s,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let rounds = env_or("BENCH_ROUNDS", 3) as usize;
    let secs = env_or("BENCH_SECS", 10);
    let users = env_or("BENCH_USERS", 50) as usize;

    let (running, host) = support::loopback_exchange().await;

    let catalog = surge::exchange::catalog::Catalog::build();
    let plan_id = catalog.plans[0].id.clone();
    let path: Arc<str> = format!("/api/v1/plans/{plan_id}").into();
    let check = reqwest::get(format!("{host}{path}"))
        .await
        .expect("GET plan");
    assert_eq!(check.status().as_u16(), 200, "plan {plan_id} not served");
    let body_len = check.text().await.map(|b| b.len()).unwrap_or(0);

    let scenario = SurgeScenario::parse(
        std::path::Path::new("bench.toml"),
        "[traffic]\nvisits = 1\n",
    )
    .expect("scenario");
    let journeys = Source {
        path: "bench-journeys.toml".into(),
        text: format!(
            "[[journeys]]\nname = \"bench\"\nrequests = [\"plan\"]\n\
             [requests.plan]\nstep = \"browse\"\nlabel = \"bench\"\nurl = \"{path}\"\n"
        ),
    };
    let program = Arc::new(journey_file::compile(&journeys, &scenario).expect("journeys"));
    let visit = Arc::new(
        VisitPlanner::new(
            &scenario,
            &program.weights(),
            &surge::exchange::catalog::zips(),
        )
        .visit(0),
    );
    let recorder = Arc::new(Recorder::new(&program.steps));
    let env = Arc::new(JourneyEnv {
        recorder: recorder.clone(),
        enrollments: None,
        patience: std::time::Duration::from_secs(60),
        connections: tokio::sync::Semaphore::new(2000),
        think_time: ThinkTime::default(),
        time_scale: 1.0,
        target: Target::new(&host, Vec::new()),
        limits: HttpLimits {
            max_redirects: 10,
            max_reply: 10 << 20,
            timeout: std::time::Duration::from_secs(30),
        },
        trace: None,
        program,
    });

    println!(
        "overhead: {users} users, {secs} s per attack, {rounds} rounds of (plain, surge); GET {path} ({body_len} B) at {host}"
    );
    let mut ratios = Vec::new();
    let mut plain_rates = Vec::new();
    let mut surge_rates = Vec::new();
    for round in 1..=rounds {
        let mut rates = [0.0f64; 2];
        for (slot, kind) in ["plain", "surge"].iter().enumerate() {
            let run = attack(kind, &host, users, secs, path.clone(), &env, &visit).await;
            let rate = run.requests as f64 / run.duration_s.max(1) as f64;
            let wall_rate = run.requests as f64 / run.wall_s;
            rates[slot] = rate;
            println!(
                "round {round} {kind:5}: {rate:9.0} req/s ({} requests / {} s; {} failures; {wall_rate:.0} req/s over {:.1} s wall)",
                run.requests, run.duration_s, run.failures, run.wall_s
            );
            println!(
                "RESULT {{\"round\":{round},\"kind\":\"{kind}\",\"requests\":{},\"failures\":{},\"duration_s\":{},\"wall_s\":{:.3},\"req_per_s\":{rate:.1},\"wall_req_per_s\":{wall_rate:.1}}}",
                run.requests, run.failures, run.duration_s, run.wall_s
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        plain_rates.push(rates[0]);
        surge_rates.push(rates[1]);
        ratios.push(rates[1] / rates[0]);
    }
    let snapshot = recorder.snapshot();
    let recorded: u64 = snapshot.steps.iter().map(|s| s.requests).sum();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
    println!(
        "plain median {:.0} req/s, surge median {:.0} req/s, ratio surge/plain median {:.3} (range {lo:.3}-{hi:.3}); recorder saw {recorded} requests",
        median(&mut plain_rates),
        median(&mut surge_rates),
        median(&mut ratios.clone()),
    );
    println!(
        "RESULT {{\"summary\":true,\"ratio_median\":{:.4},\"ratio_min\":{lo:.4},\"ratio_max\":{hi:.4},\"recorded\":{recorded}}}",
        median(&mut ratios)
    );
    running.shutdown().await;
}
