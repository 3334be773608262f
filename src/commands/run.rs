//! `surge run`, in four stages, each a typed value handed to the next:
//! [`prepare`] (the command line resolved into a [`RunConfig`]: scenario, rules, plan, options,
//! and the run directory made ready; nothing is sent if it fails) →
//! [`start_target`] (the given URL, or the embedded exchange in-process) →
//! [`execute`] (the visits, with the monitor writing every interval) →
//! [`conclude`] (summary, cracks, verdicts, report — written also when the run was interrupted).

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::cli::RunArgs;
use crate::cracks;
use crate::engine::{self, Ending, RunControl, RunOptions};
use crate::exchange::behaviour::ScenarioClock;
use crate::exchange::{self, ExchangeConfig, RunningExchange};
use crate::gate::{self, GateStatus, Rule};
use crate::journey_file::{self, Program};
use crate::measure::summarize::{summarize, RunFacts};
use crate::measure::{Recorder, Snapshot};
use crate::metrics::MetricsServer;
use crate::monitor::{stderr_is_terminal, Monitor, MonitorConfig};
use crate::plan::{RunPlan, Shard};
use crate::report;
use crate::rundir::enrollments::{self, EnrollmentLog};
use crate::rundir::summary::{OpenFiles, ShardOf, Summary};
use crate::rundir::RunDirError;
use crate::scenario::Scenario;
use crate::units::format_clock;

use super::{Error, Outcome};

mod config;
mod descriptors;

pub use config::{LiveMetrics, RunConfig};
pub use descriptors::Connections;

/// Run and return how it ended; every file of the run directory is written whenever traffic was sent.
pub async fn run(args: RunArgs) -> Result<Outcome, Error> {
    // From here on SIGINT and SIGTERM stop the run and keep what it measured.
    engine::catch_signals();
    let config = prepare(&args)?;
    let concluded = run_configured(&config).await?;
    if !config.quiet {
        // Apart from the opening line and the progress.
        sayln!();
    }
    say!("{}", report::text::tables(&concluded.summary));
    sayln!("\nrun directory: {}", config.run_dir.display());
    concluded.result
}

/// Start the target, run the visits and conclude: everything of a run after [`prepare`].
pub async fn run_configured(config: &RunConfig) -> Result<Concluded, Error> {
    if let Some(warning) = config.program.access.insecure_warning() {
        eprintln!("{warning}");
    }
    let control = Arc::new(RunControl::default());
    if let Some(at) = config.start_at {
        // Set now, so the embedded exchange's clock shares it; waited for just before the visits.
        let _ = control.origin.set(origin_at(at)?);
    }
    let target = start_target(
        config.target.as_deref(),
        &config.scenario,
        &config.plan,
        &control,
    )
    .await?;
    if !config.quiet {
        sayln!("{}", describe(config, &target.url));
    }
    let recorder = Arc::new(Recorder::new(&config.program.steps));
    let metrics = match config.live_metrics.map(|live| live.bind) {
        Some(addr) => Some(
            MetricsServer::start(
                addr,
                recorder.clone(),
                config.plan.visits,
                config.scenario.name(),
                &config
                    .plan
                    .shard
                    .unwrap_or(Shard { index: 0, count: 1 })
                    .to_string(),
            )
            .await
            .map_err(|source| Error::Listen { addr, source })?,
        ),
        None => None,
    };
    if let Some(metrics) = metrics.as_ref().filter(|_| !config.quiet) {
        sayln!("surge: live metrics at http://{}/metrics", metrics.addr);
    }
    let executed = execute(config, &target.url, control.clone(), recorder).await?;
    let concluded = conclude(config, &target.url, executed).await;
    if let Some(running) = target.embedded {
        running.shutdown().await;
    }
    if let (Some(metrics), Some(LiveMetrics { linger, .. })) = (metrics, config.live_metrics) {
        metrics.finish();
        // The final values, for the last scrape; a signal ends the wait.
        if !config.quiet && !linger.is_zero() {
            sayln!(
                "serving the final metrics at http://{}/metrics for {} s",
                metrics.addr,
                linger.as_secs_f64()
            );
        }
        let until = tokio::time::Instant::now() + linger;
        control.stop.sleep_until_or_signal(until).await;
        metrics.stop();
    }
    Ok(concluded)
}

/// The scenario clock's zero for `--start-at`: the wall-clock time `at` on this process's clock.
/// Started after it, the visits already due start at once, and count as late.
fn origin_at(at: SystemTime) -> Result<Instant, Error> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match at.duration_since(wall) {
        Ok(ahead) => Ok(now + ahead),
        Err(behind) => now.checked_sub(behind.duration()).ok_or_else(|| {
            Error::Usage(format!(
                "--start-at {}: {:.0} s ago, before this machine's clock can count back to",
                chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339(),
                behind.duration().as_secs_f64()
            ))
        }),
    }
}

/// Wait for a scenario-clock zero set ahead (`--start-at`), everything else being ready; a signal
/// ends the wait and the run.
async fn wait_for_origin(control: &RunControl, quiet: bool) {
    let Some(origin) = control.origin.get().copied() else {
        return;
    };
    let now = Instant::now();
    if origin <= now {
        return;
    }
    if !quiet {
        sayln!(
            "surge: waiting {:.1} s for the shared start (--start-at)",
            (origin - now).as_secs_f64()
        );
    }
    control
        .stop
        .sleep_until_or_signal(tokio::time::Instant::from_std(origin))
        .await;
}

/// What `surge run`, `check` and `trace` read from the command line before loading a scenario.
pub struct LoadRequest<'a> {
    pub scenario: &'a Path,
    pub target: Option<String>,
    pub visits: Option<u64>,
    pub time_scale: Option<f64>,
    pub seed: Option<u64>,
    pub thresholds: &'a [String],
    pub ignore_exchange_section: bool,
}

impl<'a> LoadRequest<'a> {
    /// The scenario as written, against `target` (or its own), with no override.
    pub fn as_written(scenario: &'a Path, target: Option<String>, ignore_exchange: bool) -> Self {
        Self {
            scenario,
            target,
            visits: None,
            time_scale: None,
            seed: None,
            thresholds: &[],
            ignore_exchange_section: ignore_exchange,
        }
    }
}

/// A scenario, its journeys and rules, checked, and the plan resolved; nothing sent or written.
pub struct Loaded {
    pub scenario: Scenario,
    pub program: Arc<Program>,
    pub rules: Vec<Rule>,
    pub plan: Arc<RunPlan>,
    /// `--target`, else the scenario's `target`; `None` or `"embedded"` for the embedded exchange.
    pub target: Option<String>,
}

/// A target URL with a user name or password would put them in every file that names the target:
/// refused, without echoing the password, with the way to pass credentials instead.
fn refuse_credentials_in(url: &str) -> Result<(), Error> {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return Ok(());
    }
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    Err(Error::Usage(format!(
        "the target URL holds a user name or password (`{parsed}` without them): surge writes its \
         target into every run file, so credentials go in a header read from the environment \
         instead, e.g. [http] headers = {{ Authorization = \"Basic ${{env:TARGET_BASIC_AUTH}}\" }}"
    )))
}

/// Load and check the scenario, its journey file and rules, and resolve the plan.
pub fn load(request: LoadRequest<'_>) -> Result<Loaded, Error> {
    let mut scenario = Scenario::load(request.scenario)?;
    scenario.override_with(request.visits, request.time_scale, request.seed);
    let mut rules = Vec::new();
    for (index, text) in scenario.thresholds.iter().enumerate() {
        rules.push(gate::parse(text).map_err(|e| scenario.threshold_error(index, e.to_string()))?);
    }
    for text in request.thresholds {
        rules.push(gate::parse(text)?);
    }
    let target = request.target.clone().or_else(|| scenario.target.clone());
    if scenario.exchange.is_some()
        && !request.ignore_exchange_section
        && !scenario.targets_embedded(request.target.as_deref())
    {
        return Err(Error::Usage(format!(
            "{}: the [exchange] section (capacity and faults) applies to the embedded \
             exchange only; remove it, or pass --ignore-exchange-section to run against {} without it",
            request.scenario.display(),
            target.as_deref().unwrap_or_default()
        )));
    }
    if let Some(url) = target.as_deref().filter(|t| *t != "embedded") {
        // `localhost:8080` parses as a URL of scheme `localhost`: only http(s) is a target.
        let http = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !http {
            let hint = match url.contains("://") {
                true => String::new(),
                false => format!("; write e.g. http://{url}"),
            };
            return Err(Error::Usage(format!(
                "--target `{url}` is not an http(s) URL{hint}"
            )));
        }
        refuse_credentials_in(url)?;
    }
    let program = Arc::new(journey_file::load(&scenario)?);
    // A rule may name any step of the journey file, and no other.
    let steps: Vec<&str> = program.steps.names().iter().map(String::as_str).collect();
    let proved = program.proved_stages();
    for (index, rule) in rules.iter().enumerate() {
        let checked = rule
            .check_step(&steps)
            .and_then(|()| rule.check_stages(&proved));
        checked.map_err(|e| {
            if index < scenario.thresholds.len() {
                Error::from(scenario.threshold_error(index, e.to_string()))
            } else {
                Error::from(e)
            }
        })?;
    }
    let plan = Arc::new(RunPlan::new(
        &scenario,
        &program.weights(),
        &exchange::catalog::zips(),
    )?);
    Ok(Loaded {
        scenario,
        program,
        rules,
        plan,
        target,
    })
}

/// Resolve the command line into a [`RunConfig`], and make the run directory ready.
pub fn prepare(args: &RunArgs) -> Result<RunConfig, Error> {
    let config = RunConfig::resolve(args)?;
    config.make_run_dir(args.force)?;
    Ok(config)
}

/// Where the visits go.
pub struct Target {
    pub url: String,
    /// The embedded exchange, when the run started one.
    pub embedded: Option<RunningExchange>,
}

/// The target URL, or the embedded exchange started on a free loopback port, its scenario clock
/// shared with the run.
pub async fn start_target(
    target: Option<&str>,
    scenario: &Scenario,
    plan: &RunPlan,
    control: &RunControl,
) -> Result<Target, Error> {
    if let Some(url) = target.filter(|t| *t != "embedded") {
        return Ok(Target {
            url: url.trim_end_matches('/').to_string(),
            embedded: None,
        });
    }
    let mut behaviour = scenario.exchange.clone().unwrap_or_default();
    behaviour.seed.get_or_insert(scenario.traffic.seed);
    let running = exchange::threads::start_on_own_threads(ExchangeConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        behaviour,
        clock: ScenarioClock {
            origin: control.origin.clone(),
            time_scale: plan.time_scale,
            clock_start: plan.clock_start,
        },
        ..ExchangeConfig::default()
    })
    .await
    .map_err(Error::ExchangeStart)?;
    Ok(Target {
        url: running.url().to_string(),
        embedded: Some(running),
    })
}

/// What the visits produced.
pub struct Executed {
    pub snapshot: Snapshot,
    pub ending: Ending,
    /// The engine's own failure, if it failed (the run is then concluded as stopped).
    pub engine_error: Option<goose::GooseError>,
    /// Writing the interval log, timeline or enrollments failed.
    pub files_error: Option<RunDirError>,
    pub started_at: String,
    pub duration_s: f64,
    /// How long after its `--start-at` the run began sending (0 when on time or without one).
    pub started_behind_s: f64,
}

/// Run the visits with the monitor writing every interval; an error here comes before any traffic.
pub async fn execute(
    config: &RunConfig,
    target: &str,
    control: Arc<RunControl>,
    recorder: Arc<Recorder>,
) -> Result<Executed, Error> {
    wait_for_origin(&control, config.quiet).await;
    let started_behind_s = match (config.start_at, control.origin.get()) {
        (Some(_), Some(origin)) => Instant::now()
            .saturating_duration_since(*origin)
            .as_secs_f64(),
        _ => 0.0,
    };
    let monitor = Monitor::start(MonitorConfig {
        run_dir: config.run_dir.clone(),
        run_name: config.scenario.name().to_string(),
        interval: config.interval,
        plan: config.plan.clone(),
        recorder: recorder.clone(),
        control: control.clone(),
        abort: gate::watch(
            &config.rules,
            config.interval.as_secs_f64(),
            config.plan.time_scale,
        ),
        progress: !config.quiet && stderr_is_terminal(),
        concurrency: config.concurrency(),
    })
    .map_err(Error::Output)?;
    let enrollments = Arc::new(
        EnrollmentLog::create(&config.run_dir.join(enrollments::FILE_NAME))
            .map_err(Error::Output)?,
    );
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let clock = Instant::now();
    let scenario = &config.scenario;
    let options = RunOptions {
        enrollments: Some(enrollments.clone()),
        target: target.to_string(),
        goose_reports: config.goose_reports.clone(),
        think_time: scenario.traffic.think_time.clone(),
        http_timeout: scenario.http.timeout,
        max_connections: scenario.http.max_connections.0 as usize,
        program: config.program.clone(),
        allowed_hosts: scenario.http.allowed_hosts.clone(),
        max_redirects: scenario.http.max_redirects,
        max_reply: scenario.http.max_reply.0,
    };
    let outcome = engine::run(config.plan.clone(), &options, recorder.clone(), control).await;
    let duration_s = clock.elapsed().as_secs_f64();
    let files_error = monitor.finish().await.and(enrollments.flush()).err();
    let (ending, engine_error) = match outcome {
        Ok(ending) => (ending, None),
        Err(e) => (
            Ending::Deadline(format!("the load generator failed: {e}")),
            Some(e),
        ),
    };
    Ok(Executed {
        snapshot: recorder.snapshot(),
        ending,
        engine_error,
        files_error,
        started_at,
        started_behind_s,
        duration_s,
    })
}

/// The summary, and how the run ended.
pub struct Concluded {
    pub summary: Summary,
    pub result: Result<Outcome, Error>,
}

/// Summarise, reconcile the cracks, judge, and draw the report; every file is written even when the
/// run was interrupted or failed part-way.
pub async fn conclude(config: &RunConfig, target: &str, executed: Executed) -> Concluded {
    let plan = &config.plan;
    let mut summary = summarize(
        RunFacts {
            scenario: config.scenario.name().to_string(),
            scenario_path: std::path::absolute(&config.scenario.source.path)
                .unwrap_or_else(|_| config.scenario.source.path.clone())
                .display()
                .to_string(),
            target: target.to_string(),
            seed: config.scenario.traffic.seed,
            started_at: executed.started_at,
            duration_s: executed.duration_s,
            started_behind_s: executed.started_behind_s,
            completed: matches!(executed.ending, Ending::Completed | Ending::TimeUp),
            ending: match executed.snapshot.requests_abandoned {
                0 => executed.ending.describe(),
                n => format!(
                    "{} ({n} request{} abandoned in flight)",
                    executed.ending.describe(),
                    if n == 1 { "" } else { "s" }
                ),
            },
            planned: plan.visits,
            time_scale: plan.time_scale,
            span_s: plan.curve.as_ref().map_or(0.0, |c| c.span()),
            clock_start: format_clock(plan.clock_start),
            interval_s: config.interval.as_secs_f64(),
            late_after_ms: plan.late_after.as_secs_f64() * 1000.0,
            pool: config.concurrency().unwrap_or(0) as u64,
            shard: plan.shard.map(|shard| ShardOf {
                index: shard.index,
                count: shard.count,
                visits_total: plan.visits_total,
                start_at: config.start_at.map(|at| {
                    chrono::DateTime::<chrono::Utc>::from(at)
                        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                        .to_string()
                }),
            }),
            // Its schedule was not all sent, whatever the reason but the run's own rules and limits.
            partial: matches!(
                executed.ending,
                Ending::Interrupted | Ending::DataExhausted(_)
            ) || executed.engine_error.is_some(),
        },
        &executed.snapshot,
    );
    summary.generator.peak_rss_mib = peak_rss_mib();
    summary.open_files = config.connections.map(|connections| OpenFiles {
        limit: connections.open_files,
        connections: Some(connections.holds),
        bounded: summary.failures.iter().any(|f| out_of_files(&f.reason)),
    });
    if let Some(files) = summary.open_files.as_ref().filter(|f| f.bounded) {
        eprintln!(
            "warning: the open-file limit ({}) bounded the run: requests failed with \"Too many \
             open files\"; raise the hard limit (ulimit -Hn, or the container runtime's), or \
             spread the visits over more shards",
            files.limit
        );
    }
    if let Ending::DataExhausted(why) = &executed.ending {
        // The run could not be carried out as planned: it ends like a run that reached nobody.
        summary.run_error = Some(why.clone());
    }
    let run_dir = &config.run_dir;
    // With a file lost, enrollments.csv may be cut short: reconciling it would only mislead.
    if executed.files_error.is_none() {
        let how = cracks::Reconciling {
            target: &summary.target,
            access: &config.program.access,
            spec: &config.scenario.cracks,
            scenario_path: &config.scenario.source.path,
            confirmed_at: confirmed_at(&config.program),
        };
        match cracks::report(run_dir, &how).await {
            Ok(cracks) => summary.cracks = cracks,
            Err(e) => eprintln!("error: cannot reconcile the applicants: {e}"),
        }
    }
    let judged = judge(
        run_dir,
        &mut summary,
        config.rules.clone(),
        executed.files_error,
    );
    let result = match (judged, executed.engine_error) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(e)) => Err(Error::Engine(e)),
        // A signal's exit code, whatever was in flight: the shell's convention, and what a CI
        // runner or Kubernetes expects of a stopped process.
        (Ok(_), None) if executed.ending == Ending::Interrupted => Ok(Outcome::Interrupted),
        (Ok(_), None) if summary.run_error.is_some() => Err(Error::NothingReached(
            summary.run_error.clone().unwrap_or_default(),
        )),
        (Ok(status), None) => Ok(Outcome::Judged(status)),
    };
    Concluded { summary, result }
}

/// Where the journey file writes the insurer's answer (`[enrollment] confirmed`), `FILE:LINE`.
pub fn confirmed_at(program: &Program) -> Option<String> {
    program.enrollment.as_ref()?.confirmed_at.clone()
}

/// This process's peak resident memory so far (`VmHWM` in /proc/self/status), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// A failure that means the process ran out of file descriptors (EMFILE).
fn out_of_files(reason: &str) -> bool {
    reason.contains("Too many open files") || reason.contains("os error 24")
}

/// Write the summary, judge the run from its files (exactly as `surge gate` will), write the
/// verdicts, and draw the report.
fn judge(
    run_dir: &Path,
    summary: &mut Summary,
    rules: Vec<Rule>,
    files_error: Option<RunDirError>,
) -> Result<GateStatus, Error> {
    if let Some(e) = files_error {
        let _ = summary.write(run_dir);
        return Err(Error::Output(e));
    }
    summary.write(run_dir).map_err(Error::Output)?;
    let outcome = gate::judge_run(run_dir, summary, rules, None).map_err(Error::Output)?;
    gate::write(run_dir, summary, &outcome).map_err(Error::Output)?;
    let status = outcome.status();
    match report::render(run_dir) {
        Ok(()) => Ok(status),
        // A verdict that failed stays the outcome; otherwise the missing report is the error.
        Err(e) if status == GateStatus::Passed => Err(Error::Report(e)),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(status)
        }
    }
}

/// The line that opens a run: what is about to happen, and where the results go.
fn describe(config: &RunConfig, target: &str) -> String {
    let plan = &config.plan;
    let scenario = &config.scenario;
    let shape = match &plan.curve {
        Some(curve) => format!(
            "{} of scenario time from {} at {}x ({:.0} s of wall time, peak {:.0} visits/s)",
            format_span(curve.span()),
            format_clock(plan.clock_start),
            plan.time_scale,
            curve.span() / plan.time_scale,
            plan.peak_wall_rate
        ),
        None => "each as soon as a place is free".to_string(),
    };
    let connections = match config.connections {
        Some(c) => format!(
            ", {} connections at once (this process holds {}: open-file limit {})",
            scenario.http.max_connections.0, c.holds, c.open_files
        ),
        None => String::new(),
    };
    format!(
        "surge: {} visits of {} against {target}, {shape}; {}{connections}, seed {} → {}",
        plan.visits,
        scenario.name(),
        match config.concurrency() {
            Some(limit) => format!("at most {limit} in flight"),
            None => "as many in flight as are due".to_string(),
        },
        scenario.traffic.seed,
        config.run_dir.display()
    )
}

fn format_span(seconds: f64) -> String {
    if seconds >= 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}
