//! The command line: clap definitions and wiring, nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::exchange::behaviour::{Behaviour, ScenarioClock};
use crate::exchange::{self, ExchangeConfig};
use crate::gate::command::GateRequest;
use crate::gate::Tolerance;
use crate::run;

/// Exit codes, shared by every command.
pub mod exit {
    /// The run completed and every gate passed (or the command did what it was asked).
    pub const OK: u8 = 0;
    /// A threshold or baseline comparison failed (or a rule aborted the run).
    pub const GATE_FAILED: u8 = 1;
    /// Bad command line, scenario file or threshold rule; nothing was sent.
    pub const USAGE: u8 = 2;
    /// The rules held, but the load generator did not deliver the planned load (late or missing
    /// visits, or stopped by max_duration): the run proves nothing.
    pub const GENERATOR_INVALID: u8 = 3;
    /// The run could not be carried out (exchange could not start, output not writable, …).
    pub const RUN_ERROR: u8 = 4;
    /// Interrupted by Ctrl-C; what was measured is still written.
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES: &str = "Exit codes: 0 the run completed and every threshold passed; \
1 a threshold or baseline comparison failed (or a rule aborted the run); \
2 bad command line, scenario file or threshold rule (nothing was sent); \
3 the thresholds held but the load generator was not valid (visits late or not started), so the \
run proves nothing; 4 the run could not be carried out; 130 interrupted by Ctrl-C. \
The run directory always holds what was measured.";

#[derive(Debug, Parser)]
#[command(
    name = "surge",
    about = "Rehearse a launch morning: synthetic applicants walk an exchange's enrollment funnel under load.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario's visits and write summary.json and the tables to the run directory.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Judge a finished run again: its thresholds, any added here, and a baseline comparison.
    /// Writes junit.xml, gate.md and the verdicts in summary.json into RUN_DIR.
    #[command(after_help = EXIT_CODES)]
    Gate {
        /// The run directory to judge.
        run_dir: PathBuf,
        /// A baseline run directory (or its summary.json) to compare per-step p50/p95/p99, error
        /// rates and funnel conversion with.
        #[arg(long, value_name = "RUN_DIR|summary.json")]
        baseline: Option<PathBuf>,
        /// Relative change that still passes a baseline comparison.
        #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_percent)]
        tolerance: f64,
        /// Latency changes below this never fail a comparison (so 0.2 ms → 0.3 ms passes).
        #[arg(long, value_name = "DURATION", default_value = "2ms", value_parser = crate::units::parse_duration)]
        latency_floor: Duration,
        /// Error-rate and conversion changes below this many percentage points never fail.
        #[arg(long, value_name = "PERCENT", default_value = "0.5%", value_parser = parse_percent)]
        rate_floor: f64,
        /// Add a threshold rule to the run's own; may repeat.
        #[arg(long = "threshold", value_name = "RULE")]
        thresholds: Vec<String>,
    },
    /// Draw a run's charts (SVG and PNG), index.html and summary.md again from its saved files.
    Report {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Serve the staging exchange and its insurers until Ctrl-C.
    Exchange {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        bind: SocketAddr,
        /// Key for the HMAC-SHA256 signature of Pay Now SAML Responses (shared with the insurers).
        #[arg(long, value_name = "KEY")]
        saml_key: Option<String>,
        /// Time added to every API and insurer request (e.g. 50ms): a deliberately slow exchange.
        #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
        service_time: Option<Duration>,
        /// Capacity, waiting room and faults, as a TOML file with the keys of a scenario's
        /// [exchange] section (see scenarios/README.md). Its clock starts when the exchange does.
        #[arg(long, value_name = "FILE")]
        faults: Option<PathBuf>,
        /// Run the fault file's clock this many times faster than real time.
        #[arg(long, value_name = "N", default_value = "1", value_parser = parse_time_scale)]
        time_scale: f64,
        /// The fault file's clock at start-up, HH:MM[:SS].
        #[arg(long, value_name = "HH:MM", default_value = "00:00", value_parser = crate::units::parse_clock)]
        clock_start: f64,
    },
}

/// `surge run`'s options.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); see scenarios/README.md for every key.
    pub scenario: PathBuf,
    /// Base URL of the exchange to load. Default: the scenario's `target`, or the embedded
    /// exchange started in-process on a free loopback port.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Write the run's files into DIR itself. Default: reports/<scenario>-<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the scenario's number of visits.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub visits: Option<u64>,
    /// Override the scenario's time_scale: run the curve N times faster than real time.
    #[arg(long, value_name = "N", value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Wall time per interval of latency.hlog and timeline.csv (e.g. 1s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Also write Goose's own report (.html, .json or .md by extension); may repeat.
    #[arg(long, value_name = "FILE")]
    pub goose_report: Vec<String>,
    /// Add a threshold rule to the scenario's, e.g. "p95(browse) < 800ms"; may repeat.
    /// See docs/gates.md for the grammar.
    #[arg(long = "threshold", value_name = "RULE")]
    pub thresholds: Vec<String>,
    /// With --target: run a scenario that has an [exchange] section (faults for the embedded
    /// exchange) anyway, without it.
    #[arg(long)]
    pub ignore_exchange_section: bool,
    /// Print only errors and the final tables.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::RUN_ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Gate {
                run_dir,
                baseline,
                tolerance,
                latency_floor,
                rate_floor,
                thresholds,
            } => crate::gate::command::gate(GateRequest {
                run_dir,
                baseline,
                tolerance: Tolerance {
                    relative: tolerance,
                    latency_floor_ms: latency_floor.as_secs_f64() * 1000.0,
                    rate_floor,
                },
                thresholds,
            }),
            Command::Report { run_dir } => match crate::report::render(&run_dir) {
                Ok(()) => {
                    println!(
                        "report: {}",
                        run_dir.join(crate::report::HTML_FILE).display()
                    );
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::USAGE
                }
            },
            Command::Exchange {
                bind,
                saml_key,
                service_time,
                faults,
                time_scale,
                clock_start,
            } => {
                let mut behaviour = match faults.as_deref().map(read_faults).transpose() {
                    Ok(behaviour) => behaviour.unwrap_or_default(),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return exit::USAGE;
                    }
                };
                if service_time.is_some() {
                    behaviour.service_time = service_time;
                }
                let clock = ScenarioClock {
                    time_scale,
                    clock_start,
                    ..ScenarioClock::default()
                };
                let _ = clock.origin.set(std::time::Instant::now());
                serve_exchange(bind, saml_key, behaviour, clock).await
            }
        }
    });
    ExitCode::from(code)
}

/// "10%" or "0.1" as a fraction.
fn parse_percent(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(number) => (number, 100.0),
        None => (text.trim(), 1.0),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n / scale),
        _ => Err(format!(
            "`{text}` is not a percentage; write e.g. 10% or 0.1"
        )),
    }
}

fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("`{text}` is not a number above 0")),
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = crate::units::parse_duration(text).map_err(|e| e.to_string())?;
    if interval < Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".into());
    }
    Ok(interval)
}

/// Read `surge exchange --faults FILE`.
fn read_faults(path: &std::path::Path) -> Result<Behaviour, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the faults file: {e}", path.display()))?;
    let behaviour: Behaviour = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(line) => format!("{}:{line}: {}", path.display(), e.message().trim()),
            None => format!("{}: {}", path.display(), e.message().trim()),
        }
    })?;
    behaviour
        .check()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(behaviour)
}

async fn serve_exchange(
    bind: SocketAddr,
    saml_key: Option<String>,
    behaviour: Behaviour,
    clock: ScenarioClock,
) -> u8 {
    let mut config = ExchangeConfig {
        bind,
        behaviour,
        clock,
        ..ExchangeConfig::default()
    };
    if let Some(key) = saml_key {
        config.saml_key = key.into_bytes();
    }
    let running = match exchange::start(config).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on {bind}: {e}");
            return exit::RUN_ERROR;
        }
    };
    println!("surge exchange listening on {}", running.url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    running.shutdown().await;
    exit::OK
}
