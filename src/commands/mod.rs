//! The commands, each as a function from its arguments to an [`Outcome`] or an [`Error`], and the
//! one place that turns either into the process's exit code and prints the error. No module below
//! this one knows an exit code.

pub mod capacity;
pub mod check;
pub mod cracks;
pub mod exchange;
pub mod gate;
pub mod journey;
pub mod merge;
pub mod replay;
pub mod report;
pub mod run;
pub mod trace;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, JourneyCommand};
use crate::gate::{GateStatus, RuleError};
use crate::report::ReportError;
use crate::rundir::RunDirError;
use crate::scenario::ScenarioError;

/// Exit codes, as `surge --help` documents them.
pub mod exit {
    /// The run completed and every gate passed (or the command did what it was asked).
    pub const OK: u8 = 0;
    /// A threshold or baseline comparison failed (or a rule aborted the run).
    pub const GATE_FAILED: u8 = 1;
    /// Bad command line, scenario file, threshold rule or run directory; nothing was sent.
    pub const USAGE: u8 = 2;
    /// The rules held, but the load generator did not deliver the planned load (late or missing
    /// visits, or stopped by max_duration): the run proves nothing.
    pub const GENERATOR_INVALID: u8 = 3;
    /// The run could not be carried out (exchange could not start, output not writable, …), or
    /// not one request got an answer.
    pub const RUN_ERROR: u8 = 4;
    /// Interrupted by SIGINT (Ctrl-C) or SIGTERM; what was measured is still written.
    pub const INTERRUPTED: u8 = 130;
}

/// How a command ended when it did its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (a report drawn, an exchange served).
    Done,
    /// A run or a gate, judged.
    Judged(GateStatus),
    /// Stopped by SIGINT (Ctrl-C) or SIGTERM; what was measured is written.
    Interrupted,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done | Outcome::Judged(GateStatus::Passed) => exit::OK,
            Outcome::Judged(GateStatus::Failed) => exit::GATE_FAILED,
            Outcome::Judged(GateStatus::GeneratorInvalid) => exit::GENERATOR_INVALID,
            Outcome::Judged(GateStatus::RunError) => exit::RUN_ERROR,
            Outcome::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A file or flag that cannot be used, with what is wrong: flags that do not go together, or a
    /// value only the command can judge (a window outside the run, a shard's summary).
    #[error("{0}")]
    Usage(String),
    /// The baseline given to `surge gate` cannot be read.
    #[error("baseline: {0}")]
    Baseline(RunDirError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error("{}: cannot write it: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("--public-url `{url}` is not a URL: {source}")]
    PublicUrl {
        url: String,
        source: url::ParseError,
    },
    #[error(transparent)]
    Shape(#[from] crate::exchange::shape::ShapeError),
    /// A fault the exchange's shape makes meaningless: the faults file's mistake.
    #[error("{}: {source}", file.display())]
    FaultsShape {
        file: std::path::PathBuf,
        source: crate::exchange::shape::ShapeError,
    },
    /// `surge exchange --faults FILE` cannot be read or is not a faults file.
    #[error(transparent)]
    Faults(#[from] crate::behaviour::BehaviourFileError),
    #[error("cannot wait for signals: {0}")]
    Signals(std::io::Error),
    /// `surge trace` could not set up the one visit's Goose user.
    #[error("cannot start the visit: {0}")]
    Visit(goose::GooseError),
    /// The run directory (or baseline) given to read cannot be read.
    #[error(transparent)]
    Input(RunDirError),
    /// The run's own files could not be written.
    #[error(transparent)]
    Output(RunDirError),
    #[error(transparent)]
    Report(ReportError),
    #[error("cannot start the embedded exchange: {0}")]
    ExchangeStart(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the load generator failed: {0}")]
    Engine(goose::GooseError),
    /// Visits ran, but not one request got an answer: the run proves nothing.
    #[error("{0}")]
    NothingReached(String),
    #[error("the plan cannot be made: {0}")]
    Plan(#[from] crate::plan::PlanError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_)
            | Error::Rule(_)
            | Error::Usage(_)
            | Error::Faults(_)
            | Error::Baseline(_)
            | Error::Recording(_)
            | Error::Write { .. }
            | Error::PublicUrl { .. }
            | Error::Shape(_)
            | Error::FaultsShape { .. }
            | Error::Signals(_)
            | Error::Visit(_)
            | Error::Input(_)
            | Error::Plan(_) => exit::USAGE,
            Error::Output(e) if e.is_usage() => exit::USAGE,
            Error::Report(ReportError::RunDir(e)) if e.is_usage() => exit::USAGE,
            _ => exit::RUN_ERROR,
        }
    }
}

/// `surge`: parse the command line, run the command, print any error, and exit with its code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
        .and_then(|runtime| runtime.block_on(dispatch(cli.command)));
    let code = match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    ExitCode::from(code)
}

async fn dispatch(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Run(args) => run::run(args).await,
        Command::Gate(args) => gate::gate(args),
        Command::Report(args) => report::report(args),
        Command::Capacity(args) => capacity::capacity(args).await,
        Command::Exchange(args) => exchange::serve(args).await,
        Command::Check(args) => check::check(args),
        Command::Cracks(args) => cracks::cracks(args).await,
        Command::Trace(args) => trace::trace(args).await,
        Command::Replay(args) => replay::replay(args).await,
        Command::Merge(args) => merge::merge(args).await,
        Command::Journey(JourneyCommand::FromHar(args)) => journey::from_har(args),
    }
}
