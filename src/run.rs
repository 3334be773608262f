//! `surge run`: load the scenario, pick the target (starting the embedded exchange if needed), run
//! the visits, and write what was measured — also when the run is interrupted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{exit, RunArgs};
use crate::cracks;
use crate::engine::{self, Ending, RunControl, RunOptions};
use crate::exchange::behaviour::ScenarioClock;
use crate::exchange::{self, ExchangeConfig, RunningExchange};
use crate::gate::{self, Rule};
use crate::measure::enrollments::{self, EnrollmentLog};
use crate::measure::Recorder;
use crate::monitor::{stdout_is_terminal, Monitor, MonitorConfig};
use crate::plan::RunPlan;
use crate::report;
use crate::scenario::Scenario;
use crate::summary::{RunFacts, Summary};
use crate::units::format_clock;

/// Run and return the process exit code.
pub async fn run(request: RunArgs) -> u8 {
    let mut scenario = match Scenario::load(&request.scenario) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    scenario.override_with(request.visits, request.time_scale, request.seed);
    let rules = match gate::parse_rules(
        scenario
            .thresholds
            .iter()
            .chain(&request.thresholds)
            .map(String::as_str),
    ) {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let plan = Arc::new(RunPlan::new(&scenario));
    let target_choice = request.target.clone().or_else(|| scenario.target.clone());
    if scenario.exchange.is_some()
        && !request.ignore_exchange_section
        && !scenario.targets_embedded(request.target.as_deref())
    {
        eprintln!(
            "error: {}: the [exchange] section (capacity and faults) applies to the embedded \
             exchange only; remove it, or pass --ignore-exchange-section to run against {} without it",
            request.scenario.display(),
            target_choice.as_deref().unwrap_or_default()
        );
        return exit::USAGE;
    }
    if let Some(url) = target_choice.as_deref().filter(|t| *t != "embedded") {
        if let Err(e) = reqwest::Url::parse(url) {
            eprintln!("error: --target `{url}` is not a URL: {e}");
            return exit::USAGE;
        }
    }

    let run_dir = request
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(scenario.name()));
    if let Err(e) = prepare_run_dir(&run_dir, &request.scenario) {
        eprintln!(
            "error: cannot write the run directory {}: {e}",
            run_dir.display()
        );
        return exit::RUN_ERROR;
    }

    let control = Arc::new(RunControl::default());
    let (target, embedded) = match target_choice.as_deref() {
        Some(url) if url != "embedded" => (url.trim_end_matches('/').to_string(), None),
        _ => match start_embedded(&scenario, &plan, &control).await {
            Ok(running) => (running.url().to_string(), Some(running)),
            Err(e) => {
                eprintln!("error: cannot start the embedded exchange: {e}");
                return exit::RUN_ERROR;
            }
        },
    };

    if !request.quiet {
        println!("{}", describe(&scenario, &plan, &target, &run_dir));
    }

    let recorder = Arc::new(Recorder::new());
    let monitor = Monitor::start(MonitorConfig {
        run_dir: run_dir.clone(),
        run_name: scenario.name().to_string(),
        interval: request.interval,
        plan: plan.clone(),
        recorder: recorder.clone(),
        control: control.clone(),
        abort_rules: rules
            .iter()
            .filter(|r| r.abort.is_some())
            .cloned()
            .collect(),
        progress: !request.quiet && stdout_is_terminal(),
    });
    let monitor = match monitor {
        Ok(monitor) => monitor,
        Err(e) => {
            eprintln!(
                "error: cannot write the run's logs in {}: {e}",
                run_dir.display()
            );
            return exit::RUN_ERROR;
        }
    };
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let clock = Instant::now();
    let enrollments = match EnrollmentLog::create(&run_dir.join(enrollments::FILE_NAME)) {
        Ok(log) => Arc::new(log),
        Err(e) => {
            eprintln!(
                "error: cannot write {}: {e}",
                run_dir.join(enrollments::FILE_NAME).display()
            );
            return exit::RUN_ERROR;
        }
    };
    let options = RunOptions {
        enrollments: Some(enrollments.clone()),
        target: target.clone(),
        goose_reports: request.goose_report.clone(),
        think_time: scenario.traffic.think_time.clone(),
        http_timeout: scenario.http.timeout,
        max_connections: scenario.http.max_connections.0 as usize,
    };
    let outcome = engine::run(plan.clone(), &options, recorder.clone(), control).await;
    let duration_s = clock.elapsed().as_secs_f64();
    let monitor_result = monitor.finish().await.and(enrollments.flush());

    let ending = match &outcome {
        Ok(ending) => ending.clone(),
        Err(e) => {
            eprintln!("error: the load generator failed: {e}");
            Ending::Deadline(format!("the load generator failed: {e}"))
        }
    };
    let mut summary = Summary::new(
        RunFacts {
            scenario: scenario.name().to_string(),
            target,
            seed: scenario.traffic.seed,
            started_at,
            duration_s,
            completed: ending == Ending::Completed,
            ending: ending.describe(),
            planned: plan.visits,
            time_scale: plan.time_scale,
            span_s: plan.curve.as_ref().map_or(0.0, |c| c.span()),
            clock_start: format_clock(plan.clock_start),
            interval_s: request.interval.as_secs_f64(),
            late_after_ms: plan.late_after.as_secs_f64() * 1000.0,
            pool: plan.pool as u64,
        },
        &recorder.snapshot(),
    );
    match cracks::report(&run_dir, &summary.target).await {
        Ok(cracks) => summary.cracks = cracks,
        Err(e) => eprintln!("error: cannot reconcile the applicants: {e}"),
    }
    let mut code = conclude(&run_dir, &mut summary, rules, monitor_result);
    if outcome.is_err() {
        code = exit::RUN_ERROR;
    } else if ending == Ending::Interrupted {
        code = exit::INTERRUPTED;
    }
    print!("{}", summary.to_text());
    println!("\nrun directory: {}", run_dir.display());

    if let Some(running) = embedded {
        running.shutdown().await;
    }
    code
}

/// Judge the finished run, write its verdicts beside what it measured, and pick the exit code.
fn conclude(
    run_dir: &Path,
    summary: &mut Summary,
    rules: Vec<Rule>,
    monitor_result: std::io::Result<()>,
) -> u8 {
    if let Err(e) = monitor_result {
        eprintln!("error: writing the interval log or timeline failed: {e}");
        let _ = summary.write(run_dir);
        return exit::RUN_ERROR;
    }
    // The gate reads the run's files, exactly as `surge gate` will.
    if let Err(e) = summary.write(run_dir) {
        eprintln!(
            "error: cannot write summary.json in {}: {e}",
            run_dir.display()
        );
        return exit::RUN_ERROR;
    }
    let outcome = match gate::judge_run(run_dir, summary, rules, None) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: cannot judge the run: {e}");
            return exit::RUN_ERROR;
        }
    };
    if let Err(e) = gate::write(run_dir, summary, &outcome) {
        eprintln!(
            "error: cannot write the verdicts in {}: {e}",
            run_dir.display()
        );
        return exit::RUN_ERROR;
    }
    if let Err(e) = report::render(run_dir) {
        eprintln!("error: {e}");
        // A verdict that failed stays the exit code; otherwise the missing report is the error.
        return match outcome.exit_code() {
            exit::OK => exit::RUN_ERROR,
            code => code,
        };
    }
    outcome.exit_code()
}

/// The line that opens a run: what is about to happen, and where the results go.
fn describe(scenario: &Scenario, plan: &RunPlan, target: &str, run_dir: &Path) -> String {
    let shape = match &plan.curve {
        Some(curve) => format!(
            "{} of scenario time from {} at {}x ({:.0} s of wall time, peak {:.0} visits/s)",
            format_span(curve.span()),
            format_clock(plan.clock_start),
            plan.time_scale,
            curve.span() / plan.time_scale,
            scenario.traffic.peak_wall_rate(curve)
        ),
        None => "each as soon as a pool user is free".to_string(),
    };
    format!(
        "surge: {} visits of {} against {target}, {shape}; pool {}, seed {} → {}",
        plan.visits,
        scenario.name(),
        plan.pool,
        scenario.traffic.seed,
        run_dir.display()
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

async fn start_embedded(
    scenario: &Scenario,
    plan: &RunPlan,
    control: &RunControl,
) -> std::io::Result<RunningExchange> {
    let mut behaviour = scenario.exchange.clone().unwrap_or_default();
    behaviour.seed.get_or_insert(scenario.traffic.seed);
    exchange::start(ExchangeConfig {
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
}

fn default_run_dir(scenario: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{scenario}-{stamp}"))
}

/// Create the run directory and keep a copy of the scenario beside the results.
fn prepare_run_dir(run_dir: &Path, scenario: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(run_dir)?;
    std::fs::copy(scenario, run_dir.join("scenario.toml"))?;
    Ok(())
}
