//! The resolved run: what clap read (`RunArgs`) turned once into everything the run needs, decided.
//! The scenario is loaded with its overrides, the rules parsed and checked, the plan made (and
//! sharded), the run directory chosen; the run's own options (quiet, live metrics, Goose's report,
//! the shared start) sit beside them. [`super::execute`] and [`super::conclude`] read only this,
//! never the command line — so `surge replay` and each step of `surge capacity`, which are runs
//! without a `surge run` command line, build a [`RunConfig`] from what they know instead of
//! pretending to be one (ripgrep's LowArgs → HiArgs).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::cli::RunArgs;
use crate::engine;
use crate::gate::Rule;
use crate::journey_file::Program;
use crate::plan::RunPlan;
use crate::rundir;
use crate::scenario::Scenario;

use super::descriptors::Connections;
use super::{load, LoadRequest, Loaded};
use crate::commands::Error;

/// Everything a run needs, checked before any traffic.
pub struct RunConfig {
    pub scenario: Scenario,
    /// The journeys, compiled from the scenario's journey file.
    pub program: Arc<Program>,
    pub rules: Vec<Rule>,
    pub plan: Arc<RunPlan>,
    /// `--target`, else the scenario's `target`; `None` or `"embedded"` for the embedded exchange.
    pub target: Option<String>,
    pub run_dir: PathBuf,
    /// Wall time per interval of the latency log and timeline.
    pub interval: Duration,
    /// `--start-at`: the shared origin of the scenario clock.
    pub start_at: Option<SystemTime>,
    /// `--metrics-bind`: live Prometheus metrics while the run goes.
    pub live_metrics: Option<LiveMetrics>,
    /// `--goose-report`: Goose's own reports to write (they need the pooled engine).
    pub goose_reports: Vec<String>,
    /// Print only errors and the final tables.
    pub quiet: bool,
    /// The connections the process can hold at once, its open-file limit raised (`None` where the
    /// platform has no such limit).
    pub connections: Option<Connections>,
}

/// Where the live metrics are served, and how long the final values stay after the run.
#[derive(Debug, Clone, Copy)]
pub struct LiveMetrics {
    pub bind: SocketAddr,
    pub linger: Duration,
}

impl RunConfig {
    /// A run of `loaded` into `run_dir` with nothing besides: 1 s intervals, no shared start, no
    /// live metrics, no Goose report, not quiet. Replay and capacity start here. The open-file limit
    /// is raised now, and a scenario asking for more connections than it holds is refused.
    pub fn new(loaded: Loaded, run_dir: PathBuf) -> Result<Self, Error> {
        let Loaded {
            scenario,
            program,
            rules,
            plan,
            target,
        } = loaded;
        let connections = Connections::for_run(&scenario, target.as_deref())?;
        Ok(RunConfig {
            scenario,
            program,
            rules,
            plan,
            target,
            run_dir,
            interval: Duration::from_secs(1),
            start_at: None,
            live_metrics: None,
            goose_reports: Vec::new(),
            quiet: false,
            connections,
        })
    }

    /// `surge run`'s command line resolved: the scenario loaded with its overrides and checked,
    /// the plan sharded, the run directory chosen. Nothing is written; see [`Self::make_run_dir`].
    pub fn resolve(args: &RunArgs) -> Result<Self, Error> {
        let mut loaded = load(LoadRequest {
            scenario: &args.scenario,
            target: args.target.clone(),
            visits: args.visits,
            time_scale: args.time_scale,
            seed: args.seed,
            thresholds: &args.thresholds,
            ignore_exchange_section: args.ignore_exchange_section,
        })?;
        if let Some(shard) = args.shard {
            if loaded.scenario.targets_embedded(loaded.target.as_deref()) {
                return Err(Error::Usage(format!(
                    "--shard {shard}: the shards of a run must load one exchange together, and the \
                     embedded exchange lives inside each process; start one (`surge exchange`) or \
                     use your staging exchange, and give every shard the same --target URL"
                )));
            }
            Arc::get_mut(&mut loaded.plan)
                .ok_or_else(|| Error::Usage("the plan is shared before the run starts".into()))?
                .shard(shard);
        }
        let run_dir = args
            .out
            .clone()
            .unwrap_or_else(|| default_run_dir(loaded.scenario.name()));
        Ok(RunConfig {
            interval: args.interval,
            start_at: args.start_at,
            live_metrics: args.metrics_bind.map(|bind| LiveMetrics {
                bind,
                linger: args.metrics_linger,
            }),
            goose_reports: args.goose_report.clone(),
            quiet: args.quiet,
            ..RunConfig::new(loaded, run_dir)?
        })
    }

    /// Make the run directory ready: created, refused if it holds a run (unless `force`), the
    /// scenario copied into it.
    pub fn make_run_dir(&self, force: bool) -> Result<(), Error> {
        rundir::prepare(&self.run_dir, &self.scenario.source.path, force).map_err(Error::Output)
    }

    /// The most visits in flight at once (`None`: as many as are due).
    pub fn concurrency(&self) -> Option<usize> {
        engine::concurrency_limit(&self.plan, !self.goose_reports.is_empty())
    }
}

fn default_run_dir(scenario: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{scenario}-{stamp}"))
}
