//! The command line: clap definitions and nothing else. What each command does is in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use crate::plan::Shard;
use crate::units::{parse_clock, parse_duration, parse_percent, parse_positive, UnitError};

const EXIT_CODES: &str = "Exit codes: 0 the run completed and every threshold passed; \
1 a threshold or baseline comparison failed (or a rule aborted the run); \
2 bad command line, scenario file or threshold rule (nothing was sent); \
3 the thresholds held but the load generator was not valid (visits late or not started, or \
max_duration reached), so the \
run proves nothing; 4 the run could not be carried out, or not one request got an answer; 130 interrupted by Ctrl-C or SIGTERM (a second signal exits at once). \
The run directory always holds what was measured.";

const CAPACITY_EXIT_CODES: &str = "Exit codes: 0 a capacity was found (or every rate up to \
--max-rate held); 1 no rate held, or the step budget ran out; 2 bad command line, scenario or SLO \
rule (nothing was sent); 3 surge itself could not deliver a rate (the answer is then a lower \
bound, never a capacity); 4 the target could not be reached; 130 interrupted (every step measured \
so far is written, with the answer so far).";

#[derive(Debug, Parser)]
#[command(
    name = "surge",
    version,
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
    Gate(GateArgs),
    /// Draw a run's charts (SVG and PNG), index.html and summary.md again from its saved files.
    Report(ReportArgs),
    /// Find the target's capacity: offer the scenario's journey mix at constant arrival rates
    /// (ramping ×1.5 until an SLO fails, then bisecting to within 5 %, then confirming), each step a
    /// run directory; write capacity.json, capacity.md and charts, with a Universal Scalability
    /// Law fit and the headroom against the scenario's own curve. See docs/capacity.md.
    #[command(after_help = CAPACITY_EXIT_CODES)]
    Capacity(CapacityArgs),
    /// Serve the staging exchange and its insurers until Ctrl-C or SIGTERM.
    Exchange(ExchangeArgs),
    /// Reconcile a finished run's applicants (enrollments.csv) with the insurers' 834s, delivered
    /// later as files (or fetched from an exchange's inboxes), and rewrite the cracks report, the
    /// verdicts and the pages of RUN_DIR.
    Cracks(CracksArgs),
    /// Check a scenario, its journey file and its threshold rules without sending anything, and
    /// say what a run would do. Exit 0 when all is well, 2 naming file:line and key when not.
    Check(CheckArgs),
    /// Walk one visit of a scenario against its target and print every request and reply
    /// (secrets redacted): where a journey breaks, and why. Exit 0 when the visit succeeded, 1
    /// when it failed.
    Trace(TraceArgs),
    /// Run again exactly the visits of a finished run whose intended start fell in a window of its
    /// scenario clock — same visit ids, applicants and offsets, against the same embedded exchange
    /// on the same clock (or --target) — into a new run directory, and compare which visits failed
    /// in both runs, only in the original, only in the replay. See docs/spikes.md.
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Combine the run directories of a sharded run (`surge run --shard K/N`) into one run
    /// directory: latency histograms added interval by interval, counts summed, enrollments and
    /// failures joined, the summary recomputed from them, the cracks reconciled once, and the
    /// thresholds judged on the whole. Exit 2 naming the directory when a shard is missing,
    /// duplicated or of another run; otherwise as `surge gate`.
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// Write journey files: `surge journey from-har FILE.har` turns a browser's recording into a
    /// journey file that `surge check` accepts. See docs/journeys.md, "From a recording".
    #[command(subcommand)]
    Journey(JourneyCommand),
}

/// `surge journey`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum JourneyCommand {
    /// Convert a HAR 1.2 recording (Chrome, Firefox, Playwright) into a journey file: requests in
    /// order, values correlated into captures, secrets turned into ${env:NAME} references.
    FromHar(FromHarArgs),
}

/// `surge journey from-har`'s options.
#[derive(Debug, clap::Args)]
pub struct FromHarArgs {
    /// The recording (HAR 1.2 JSON).
    pub har: PathBuf,
    /// The exchange's base URL in the recording; requests under it are kept, paths made relative
    /// to it. Default: the origin of the first API call (a fetch, or a JSON reply), else of the
    /// first page.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Keep static assets (scripts, styles, images, fonts) and third-party hosts (left out by
    /// default; hosts the flow itself led to, as an insurer's Pay Now page, are always kept).
    #[arg(long)]
    pub keep_assets: bool,
    /// Write the journey file here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `surge replay`'s options.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The original run directory (it needs summary.json, scenario.toml and failures.csv).
    pub run_dir: PathBuf,
    /// Start of the window on the run's scenario clock, e.g. 09:40 or 09:40:30.
    #[arg(long, value_name = "CLOCK")]
    pub from: String,
    /// End of the window (not included), e.g. 09:45.
    #[arg(long, value_name = "CLOCK")]
    pub to: String,
    /// Also replay the visits of this much scenario time before the window, to rebuild the load
    /// the window's visits met (e.g. 2m); they are not compared.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lead_in: Duration,
    /// Base URL of the exchange to replay against. Default: the scenario's `target`, else the
    /// embedded exchange, started again with the scenario's configuration.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Replay N times faster than real time. Default: the original run's time scale.
    #[arg(long, value_name = "N", value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// Write the replay's run directory into DIR. Default: reports/<scenario>-replay-<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: replace the run already in DIR.
    #[arg(long)]
    pub force: bool,
    /// Print only errors, the final tables and the comparison.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `surge cracks`' options.
#[derive(Debug, clap::Args)]
pub struct CracksArgs {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The insurers' 834s: a directory of X12 files (each interchange goes to the insurer it is
    /// addressed to, GS03 or ISA08; separators are read from each ISA), one file, or the base URL
    /// of an exchange serving `/issuers/{id}/834` inboxes. Default: the `[cracks] source` of the
    /// run's scenario.toml.
    #[arg(long = "834", value_name = "DIR|FILE|URL")]
    pub edi: Option<String>,
    /// The REF qualifier that carries the applicant's Payment Transaction ID in an 834 (`1L` the
    /// exchange's policy id, `17`, `0F`, …). Default: `[cracks] reference`, else 1L.
    #[arg(long, value_name = "QUALIFIER")]
    pub reference: Option<String>,
    /// Match ids whatever their leading zeros (`0000000012345` is `12345`).
    #[arg(long)]
    pub ignore_leading_zeros: bool,
    /// Match ids whatever their case (`pt-12a` is `PT-12A`).
    #[arg(long)]
    pub ignore_case: bool,
    /// A regular expression whose first capture group is the id, applied to both sides' ids
    /// (`'PT-(\d+)'`).
    #[arg(long, value_name = "REGEX")]
    pub id_pattern: Option<String>,
    /// This exchange's 834s carry no premium loops: an 834 without them is no defect, and an
    /// applicant who paid and has their 834 is covered.
    #[arg(long)]
    pub no_premiums: bool,
}

/// `surge check`'s options.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Scenario file (TOML); its journey file and rules are checked too.
    pub scenario: PathBuf,
    /// Base URL a run would load (checked as a URL; nothing is sent).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Accept an [exchange] section with a --target (as `surge run --ignore-exchange-section`).
    #[arg(long)]
    pub ignore_exchange_section: bool,
}

/// `surge trace`'s options.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Base URL of the exchange. Default: the scenario's `target`, or the embedded exchange.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Which visit (its id in the run: the same applicant and journey as in `surge run`).
    #[arg(long, value_name = "N", default_value = "0")]
    pub visit: u64,
    /// Trace the first visit from --visit on that takes this journey.
    #[arg(long, value_name = "NAME")]
    pub journey: Option<String>,
    /// Seed for the visitors (default: the scenario's).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Bytes of each body to print (0: none).
    #[arg(long, value_name = "BYTES", default_value = "600")]
    pub body_bytes: usize,
    /// Run against --target without the scenario's [exchange] section.
    #[arg(long)]
    pub ignore_exchange_section: bool,
}

/// `surge gate`'s options.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The run directory to judge.
    pub run_dir: PathBuf,
    /// A baseline run directory (or its summary.json) to compare per-step p50/p95/p99, error
    /// rates and funnel conversion with.
    #[arg(long, value_name = "RUN_DIR|summary.json")]
    pub baseline: Option<PathBuf>,
    /// Relative change that still passes a baseline comparison.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_percent)]
    pub tolerance: f64,
    /// Latency changes below this never fail a comparison (so 0.2 ms → 0.3 ms passes).
    #[arg(long, value_name = "DURATION", default_value = "2ms", value_parser = parse_duration)]
    pub latency_floor: Duration,
    /// Error-rate and conversion changes below this many percentage points never fail.
    #[arg(long, value_name = "PERCENT", default_value = "0.5%", value_parser = parse_percent)]
    pub rate_floor: f64,
    /// Add a threshold rule to the run's own; may repeat.
    #[arg(long = "threshold", value_name = "RULE")]
    pub thresholds: Vec<String>,
}

/// `surge report`'s options.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

/// `surge exchange`'s options.
#[derive(Debug, clap::Args)]
pub struct ExchangeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub bind: SocketAddr,
    /// The base URL other machines reach this exchange by (e.g. a Kubernetes Service,
    /// http://surge-exchange.surge.svc:8080), written into Pay Now forms and insurer links.
    /// Default: the bound address, or 127.0.0.1 for a wildcard bind (0.0.0.0), which only this
    /// machine can follow.
    #[arg(long, value_name = "URL", env = "SURGE_EXCHANGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Key for the HMAC-SHA256 signature of Pay Now SAML Responses (shared with the insurers).
    /// Default: a fixed development key, the same in every run.
    #[arg(long, value_name = "KEY")]
    pub saml_key: Option<String>,
    /// Time added to every API and insurer request (e.g. 50ms; scenario time, so divided by
    /// --time-scale): a deliberately slow exchange. Default: none (or the --faults file's).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub service_time: Option<Duration>,
    /// Capacity, waiting room and faults, as a TOML file with the keys of a scenario's
    /// [exchange] section (see scenarios/README.md). Its clock starts when the exchange does.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Run the fault file's clock this many times faster than real time.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_positive)]
    pub time_scale: f64,
    /// The fault file's clock at start-up, HH:MM[:SS].
    #[arg(long, value_name = "HH:MM", default_value = "00:00", value_parser = parse_clock)]
    pub clock_start: f64,
    /// Require `apikey=KEY` in the query of every /api call, as the CMS Marketplace API does
    /// (a call without it gets 401 API_KEY_MISSING).
    #[arg(long, value_name = "KEY", env = "SURGE_EXCHANGE_API_KEY")]
    pub api_key: Option<String>,
    /// Serve everything under this path, e.g. /marketplace (Pay Now and insurer URLs include it).
    #[arg(long, value_name = "PATH", default_value = "")]
    pub base_path: String,
    /// What Pay Now answers: `html` (a page whose form auto-submits the SAML Response) or `json`
    /// (`{"SAMLResponse", "RelayState", "action"}` for the exchange's own page script).
    #[arg(long, value_name = "SHAPE", value_enum, default_value = "html")]
    pub pay_now: crate::exchange::shape::PayNow,
    /// How the 834s write the exchange's ids (REF*1L, REF*0F, REF*17): `padded`
    /// (REF*1L*0000000000123, as the FFM does) or `unpadded` (REF*1L*123). The API and Pay Now
    /// keep the padded Payment Transaction ID.
    #[arg(
        long = "834-ids",
        value_name = "FORM",
        value_enum,
        default_value = "padded"
    )]
    pub ids_834: crate::exchange::edi834::Ids,
    /// The 834s' element separator, declared in each ISA as X12 allows, e.g. '|': one ASCII
    /// punctuation character other than ~ : ^ . -
    #[arg(long = "834-separator", value_name = "CHAR", default_value = "*")]
    pub separator_834: crate::exchange::edi834::Separator,
    /// `loops`: every 834 carries the premium (its 2700/2750 loops); `none`: no 834 does, and the
    /// insurers effectuate on the binder payment alone (a --faults file's no_premium_834 is then
    /// refused: there is nothing to leave out).
    #[arg(
        long = "834-premiums",
        value_name = "WHICH",
        value_enum,
        default_value = "loops"
    )]
    pub premiums_834: crate::exchange::edi834::Premiums,
    /// The insurers' own status words on GET /issuers/{id}/enrollments/{ptid}, e.g.
    /// effectuated=ACTIVE,awaiting_payment=PENDING_PAYMENT,awaiting_834=PENDING_834 (a status left
    /// out keeps surge's word). A journey file maps them back with [enrollment] status_map.
    #[arg(long, value_name = "STATUS=WORD,…")]
    pub status_words: Option<crate::exchange::status_words::StatusWords>,
    /// The longest a connection may take to send a request's headers (also how long an idle
    /// keep-alive connection is kept); then it is closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// The longest the exchange waits for a request body it reads; then it answers 408 and closes
    /// the connection. Bodies over 2 MiB are refused with 413.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish before their
    /// connections are closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

/// `surge run`'s options. Every one can also come from the environment variable shown in
/// `--help` (`SURGE_*`), which is how a Kubernetes Job template sets them; a flag wins over it.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); see scenarios/README.md for every key.
    #[arg(env = "SURGE_SCENARIO")]
    pub scenario: PathBuf,
    /// Base URL of the exchange to load. Default: the scenario's `target`, or the embedded
    /// exchange started in-process on a free loopback port.
    #[arg(long, value_name = "URL", env = "SURGE_TARGET")]
    pub target: Option<String>,
    /// Write the run's files into DIR itself. Default: reports/<scenario>-<UTC timestamp>/.
    /// A DIR that already holds a run is refused (exit 2) unless --force is given.
    #[arg(long, value_name = "DIR", env = "SURGE_OUT")]
    pub out: Option<PathBuf>,
    /// With --out: replace the run already in DIR (its files are removed first; other files stay).
    #[arg(long, env = "SURGE_FORCE")]
    pub force: bool,
    /// Override the scenario's number of visits.
    #[arg(long, value_name = "N", env = "SURGE_VISITS", value_parser = clap::value_parser!(u64).range(1..))]
    pub visits: Option<u64>,
    /// Override the scenario's time_scale: run the curve N times faster than real time.
    #[arg(long, value_name = "N", env = "SURGE_TIME_SCALE", value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long, value_name = "N", env = "SURGE_SEED")]
    pub seed: Option<u64>,
    /// Run only shard K of N (K from 0 to N-1): the visits whose id is K modulo N, with the same
    /// applicants and intended times as in the whole run, so N shards on N machines send the
    /// whole schedule between them. Needs --target (the embedded exchange cannot be shared).
    /// Combine the shards' run directories with `surge merge`. See docs/distributed.md.
    #[arg(long, value_name = "K/N", env = "SURGE_SHARD")]
    pub shard: Option<Shard>,
    /// Start the scenario clock at this wall-clock time (RFC 3339, e.g. 2026-11-28T09:00:00Z), so
    /// shards started seconds apart send the curve together. Before it, the run waits; started
    /// after it, the visits already due count as late.
    #[arg(long, value_name = "TIME", env = "SURGE_START_AT", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
    /// Serve live Prometheus metrics at http://ADDR/metrics while the run goes (e.g.
    /// 0.0.0.0:9898): visits, requests and failures by step and outcome, the funnel, latency
    /// histograms, labelled by scenario and shard.
    #[arg(long, value_name = "ADDR", env = "SURGE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// With --metrics-bind: keep serving the final values this long after the run, so the last
    /// scrape sees them (a signal ends the wait).
    #[arg(long, value_name = "DURATION", env = "SURGE_METRICS_LINGER", default_value = "15s", value_parser = parse_duration)]
    pub metrics_linger: Duration,
    /// Wall time per interval of latency.hlog and timeline.csv (e.g. 1s, 500ms).
    #[arg(long, value_name = "DURATION", env = "SURGE_INTERVAL", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Also write Goose's own report (.html, .json or .md by extension); may repeat (in the
    /// environment: separated by commas).
    #[arg(
        long,
        value_name = "FILE",
        env = "SURGE_GOOSE_REPORT",
        value_delimiter = ',',
        value_parser = parse_goose_report
    )]
    pub goose_report: Vec<String>,
    /// Add a threshold rule to the scenario's, e.g. "p95(browse) < 800ms"; may repeat (in the
    /// environment: separated by semicolons). See docs/gates.md for the grammar.
    #[arg(
        long = "threshold",
        value_name = "RULE",
        env = "SURGE_THRESHOLD",
        value_delimiter = ';'
    )]
    pub thresholds: Vec<String>,
    /// With --target: run a scenario that has an [exchange] section (faults for the embedded
    /// exchange) anyway, without it.
    #[arg(long, env = "SURGE_IGNORE_EXCHANGE_SECTION")]
    pub ignore_exchange_section: bool,
    /// Print only errors and the final tables.
    #[arg(long, short, env = "SURGE_QUIET")]
    pub quiet: bool,
}

/// `surge capacity`'s options.
#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    /// Scenario file (TOML): its journeys, mix, think times, data, [http] and thresholds are used;
    /// its arrival curve is the forecast the capacity is compared with.
    pub scenario: PathBuf,
    /// Base URL of the exchange to load. Default: the scenario's `target`, or the embedded exchange
    /// (started afresh for every step).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Never offer more than R visits/s (scenario time). Required with a --target: a capacity
    /// search pushes its target past what it holds. Default on the embedded exchange: 10× the
    /// scenario's peak.
    #[arg(long, value_name = "R", value_parser = parse_positive)]
    pub max_rate: Option<f64>,
    /// The first rate offered, visits/s. Default: --max-rate / 20.
    #[arg(long, value_name = "R", value_parser = parse_positive)]
    pub start_rate: Option<f64>,
    /// A rule every step must hold, in the gate's grammar (e.g. "p95(visit) < 2s",
    /// "error_rate < 1%", "conversion(paid/selected) > 95%"); may repeat. Default: the scenario's
    /// thresholds.
    #[arg(long = "slo", value_name = "RULE")]
    pub slo: Vec<String>,
    /// Wall time each rate is held and measured.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub step: Duration,
    /// Wall time each step runs before its hold is measured (queues and pools reach their level).
    /// Default: a sixth of --step, at least 1 s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Option<Duration>,
    /// Override the scenario's time_scale (rates stay in scenario time).
    #[arg(long, value_name = "N", value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// Write the capacity directory (capacity.json, capacity.md, charts/, one run directory per
    /// step) into DIR. Default: reports/<scenario>-capacity-<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: replace what DIR holds.
    #[arg(long)]
    pub force: bool,
    /// With --target: use a scenario that has an [exchange] section anyway, without it.
    #[arg(long)]
    pub ignore_exchange_section: bool,
    /// Print only errors and the answer.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `surge merge`'s options.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The merged run directory to write (refused if it already holds a run, unless --force).
    pub out: PathBuf,
    /// The shards' run directories, one for every shard of the run, in any order.
    #[arg(required = true, num_args = 1..)]
    pub shards: Vec<PathBuf>,
    /// Merge even when a shard was stopped mid-run (a signal, or its engine failed); the merged
    /// summary names it, and its generator is not valid.
    #[arg(long)]
    pub allow_partial: bool,
    /// Replace the run already in OUT.
    #[arg(long)]
    pub force: bool,
    /// Print only errors (the verdicts are in OUT's gate.md).
    #[arg(long, short)]
    pub quiet: bool,
}

/// An RFC 3339 time, e.g. 2026-11-28T09:00:00Z.
fn parse_start_at(text: &str) -> Result<SystemTime, StartAtError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(SystemTime::from)
        .map_err(|source| StartAtError {
            text: text.to_string(),
            source,
        })
}

#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 time such as 2026-11-28T09:00:00Z ({source})")]
struct StartAtError {
    text: String,
    source: chrono::ParseError,
}

/// A time scale: a number above 0, and at least 0.001 — slower than that, a scenario's
/// durations would outlast any deadline surge can keep (and a scenario file's own time_scale is
/// checked against its curve when it is loaded).
fn parse_time_scale(text: &str) -> Result<f64, TimeScaleError> {
    let scale = parse_positive(text)?;
    if scale < MIN_TIME_SCALE {
        return Err(TimeScaleError::TooSlow(text.to_string()));
    }
    Ok(scale)
}

const MIN_TIME_SCALE: f64 = 0.001;

#[derive(Debug, thiserror::Error)]
enum TimeScaleError {
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error(
        "`{0}` would slow the scenario down more than {slowest}×; the smallest time scale is {MIN_TIME_SCALE}",
        slowest = 1.0 / MIN_TIME_SCALE
    )]
    TooSlow(String),
}

/// A wall-time interval of at least 100 ms.
fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let interval = parse_duration(text)?;
    if interval < Duration::from_millis(100) {
        return Err(IntervalError::TooShort);
    }
    Ok(interval)
}

#[derive(Debug, thiserror::Error)]
enum IntervalError {
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error("the interval must be at least 100ms")]
    TooShort,
}

/// A Goose report file. Goose picks the format by the extension and refuses an unknown one only
/// after the run, so it is checked before any traffic.
fn parse_goose_report(text: &str) -> Result<String, GooseReportError> {
    let inner = text.strip_suffix(".gz").unwrap_or(text);
    match std::path::Path::new(inner)
        .extension()
        .and_then(|e| e.to_str())
    {
        Some("html" | "htm" | "json" | "md") => Ok(text.to_string()),
        _ => Err(GooseReportError(text.to_string())),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Goose writes its report as .html, .json or .md (optionally .gz), not `{0}`")]
struct GooseReportError(String);
