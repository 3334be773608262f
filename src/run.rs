//! `surge run`: load the scenario, pick the target (starting the embedded exchange if needed), run
//! the visits, and write what was measured — also when the run is interrupted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::exit;
use crate::engine::{self, Ending, RunOptions};
use crate::exchange::{self, ExchangeConfig, RunningExchange};
use crate::measure::Recorder;
use crate::scenario::Scenario;
use crate::summary::{RunFacts, Summary};

/// What the command line asked for.
pub struct RunRequest {
    pub scenario: PathBuf,
    pub target: Option<String>,
    pub out: Option<PathBuf>,
    pub visits: Option<u64>,
    pub seed: Option<u64>,
    pub goose_reports: Vec<String>,
    pub quiet: bool,
}

/// Run and return the process exit code.
pub async fn run(request: RunRequest) -> u8 {
    let mut scenario = match Scenario::load(&request.scenario) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Some(seed) = request.seed {
        scenario.traffic.seed = seed;
    }
    let visits = request.visits.unwrap_or(scenario.traffic.visits.0);
    let target_choice = request.target.clone().or_else(|| scenario.target.clone());
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

    let (target, embedded) = match target_choice.as_deref() {
        Some(url) if url != "embedded" => (url.trim_end_matches('/').to_string(), None),
        _ => match start_embedded().await {
            Ok(running) => (running.url().to_string(), Some(running)),
            Err(e) => {
                eprintln!("error: cannot start the embedded exchange: {e}");
                return exit::RUN_ERROR;
            }
        },
    };

    if !request.quiet {
        println!(
            "surge: {} visits of {} against {} (pool {}, seed {}) → {}",
            visits,
            scenario.name(),
            target,
            scenario.traffic.pool.0,
            scenario.traffic.seed,
            run_dir.display()
        );
    }

    let recorder = Arc::new(Recorder::new());
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let clock = Instant::now();
    let options = RunOptions {
        target: target.clone(),
        visits,
        goose_reports: request.goose_reports.clone(),
    };
    let outcome = engine::run(&scenario, &options, recorder.clone()).await;
    let duration_s = clock.elapsed().as_secs_f64();

    let (ending, mut code) = match &outcome {
        Ok(Ending::Completed) => ("completed".to_string(), exit::OK),
        Ok(Ending::Stopped(reason)) => (format!("stopped: {reason}"), exit::STOPPED),
        Err(e) => {
            eprintln!("error: the load generator failed: {e}");
            (format!("failed: {e}"), exit::RUN_ERROR)
        }
    };
    let summary = Summary::new(
        RunFacts {
            scenario: scenario.name().to_string(),
            target,
            seed: scenario.traffic.seed,
            started_at,
            duration_s,
            ending,
            planned: visits,
        },
        &recorder.snapshot(),
    );
    if let Err(e) = write_summary(&run_dir, &summary) {
        eprintln!(
            "error: cannot write summary.json in {}: {e}",
            run_dir.display()
        );
        code = exit::RUN_ERROR;
    }
    print!("{}", summary.to_text());
    println!("\nrun directory: {}", run_dir.display());

    if let Some(running) = embedded {
        running.shutdown().await;
    }
    code
}

async fn start_embedded() -> std::io::Result<RunningExchange> {
    exchange::start(ExchangeConfig {
        bind: ([127, 0, 0, 1], 0).into(),
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

fn write_summary(run_dir: &Path, summary: &Summary) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    std::fs::write(run_dir.join("summary.json"), json + "\n")
}
