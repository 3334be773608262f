//! The scenario file: what to run, how much of it, and against what.
//!
//! Plain data and its checks: what the user wrote, with defaults, nothing derived (the plan is
//! derived from it in `plan`). Parsed with serde + toml. Unknown keys are refused (a misspelled key
//! must not be silently ignored), and every error names the file, the line and the key, located with
//! the TOML parser's spans ([`locate`]).

pub mod env;
pub mod locate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::units::{
    duration, duration_option, ByteSize, ClockTime, Positive, PositiveFloat, Share,
};
pub use locate::KeyPath;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used in reports and the default output directory; defaults to the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// What to load: `"embedded"` (default) starts the staging exchange in-process; otherwise a base URL.
    #[serde(default)]
    pub target: Option<String>,
    /// The journey file (relative to this file); default: the shipped `journeys/embedded.toml`.
    #[serde(default)]
    pub journeys: Option<PathBuf>,
    /// Values the journeys' templates see as `vars.NAME`, overriding the journey file's.
    #[serde(default)]
    pub vars: toml::Table,
    pub traffic: Traffic,
    #[serde(default)]
    pub households: Households,
    #[serde(default)]
    pub http: Http,
    /// How the embedded exchange behaves (capacity, waiting room, faults); refused against any
    /// other target.
    #[serde(default)]
    pub exchange: Option<crate::behaviour::Behaviour>,
    /// Test data fed to the visits (a CSV of households or pre-registered consumers).
    #[serde(default)]
    pub data: Option<DataSpec>,
    /// Threshold rules judged at the end of the run (see docs/gates.md), e.g. `"p95(browse) < 800ms"`.
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// Where the insurers' 834s are and how their ids match the visits' (the cracks report).
    #[serde(default)]
    pub cracks: CracksSpec,
    /// The file it came from, to locate problems found after loading (a bad threshold rule).
    #[serde(skip)]
    pub source: Source,
}

/// A scenario file's path and text.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// An error at `key` of this file.
    pub fn error_at(&self, key: &KeyPath, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: self.path.clone(),
            location: key
                .offset_in(&self.text)
                .map(|offset| locate::line_and_column(&self.text, offset)),
            message: message.into(),
        }
    }
}

/// A path written in a scenario, relative to the scenario's own directory.
pub fn resolve(scenario_path: &Path, written: &Path) -> PathBuf {
    if written.is_absolute() {
        return written.to_owned();
    }
    scenario_path
        .parent()
        .map_or_else(|| written.to_owned(), |dir| dir.join(written))
}

/// How many visits, when they arrive, how they are spread over the journeys, and how many run at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Total visits to run; each one is a new visitor. May be left out when the curve's rates are
    /// absolute (visits per second): the area under the curve is then the number of visits.
    #[serde(default)]
    pub visits: Option<Positive>,
    /// Real-world length of a flat arrival curve (instead of `profile` or `stages`).
    #[serde(default, with = "duration_option")]
    pub span: Option<std::time::Duration>,
    /// Arrival rate at points of the scenario's clock, linear between them.
    #[serde(default)]
    pub profile: Option<Vec<ProfilePoint>>,
    /// Arrival rate as stages, each ramping linearly from the rate before to its own.
    #[serde(default)]
    pub stages: Option<Vec<StageSpec>>,
    /// Rate the first stage ramps from.
    #[serde(default)]
    pub start_rate: Share,
    /// Run the curve this many times faster than real time; think times shrink by the same factor.
    #[serde(default = "default_time_scale")]
    pub time_scale: PositiveFloat,
    /// How arrivals are spaced: `"poisson"` (default) or `"uniform"`.
    #[serde(default)]
    pub arrivals: Arrivals,
    /// The most visits in flight at once (the pool of Goose users). Default: derived from the curve.
    #[serde(default)]
    pub pool: Option<Positive>,
    /// Seed for arrivals, households and choices: the same seed gives the same visits, visit by visit.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Share of visits per journey by name (relative weights; they need not sum to 1). Default:
    /// the journey file's weights.
    #[serde(default)]
    pub mix: Option<std::collections::BTreeMap<String, Share>>,
    /// Pause between a visit's steps, as a person reads the page (real-world time).
    #[serde(default)]
    pub think_time: ThinkTime,
    /// A visit starting later than this (wall time) after its intended start is late; the run's
    /// generator is valid only while the lateness p99 stays within it.
    #[serde(default = "default_late_after", with = "duration")]
    pub late_after: std::time::Duration,
    /// How long a visitor waits in a waiting room (scenario time) before giving up.
    #[serde(default = "default_patience", with = "duration")]
    pub patience: std::time::Duration,
    /// Hard limit on the run's wall time. Default: the scaled curve plus 5 minutes, or 10 minutes.
    #[serde(default, with = "duration_option")]
    pub max_duration: Option<std::time::Duration>,
}

/// How arrivals are spaced along the curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Random, as independent visitors arrive (the default).
    #[default]
    Poisson,
    /// Evenly spaced in cumulative rate: deterministic pacing.
    Uniform,
}

impl Traffic {
    /// Seconds since midnight at which the curve starts (a profile's first point, otherwise 0).
    pub fn clock_start(&self) -> f64 {
        self.profile
            .as_ref()
            .and_then(|p| p.first())
            .map_or(0.0, |p| p.at.0)
    }

    /// The arrival curve as `(seconds of scenario time from its start, rate)` points, or `None` for
    /// a closed run (each visit starts as soon as a pool user is free). Checked when the scenario is
    /// loaded: at least two points, times strictly increasing, a rate above 0 somewhere.
    pub fn curve_points(&self) -> Option<Vec<(f64, f64)>> {
        if let Some(span) = self.span {
            return Some(vec![(0.0, 1.0), (span.as_secs_f64(), 1.0)]);
        }
        if let Some(profile) = &self.profile {
            let start = self.clock_start();
            return Some(profile.iter().map(|p| (p.at.0 - start, p.rate.0)).collect());
        }
        let stages = self.stages.as_ref()?;
        let mut points = vec![(0.0, self.start_rate.0)];
        let mut clock = 0.0;
        for stage in stages {
            clock += stage.duration.as_secs_f64();
            points.push((clock, stage.rate.0));
        }
        Some(points)
    }
}

/// One point of a clock profile: `{ at = "08:00", rate = 12 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePoint {
    pub at: ClockTime,
    pub rate: Share,
}

/// One stage: `{ duration = "30s", rate = 50 }` ramps from the previous rate to `rate` over `duration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    #[serde(with = "duration")]
    pub duration: std::time::Duration,
    pub rate: Share,
}

fn default_time_scale() -> PositiveFloat {
    PositiveFloat(1.0)
}
fn default_seed() -> u64 {
    2013
}
fn default_patience() -> std::time::Duration {
    std::time::Duration::from_secs(30 * 60)
}
fn default_late_after() -> std::time::Duration {
    std::time::Duration::from_millis(100)
}

/// Think time between steps, drawn uniformly from `[min_ms, max_ms]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThinkTime {
    #[serde(default)]
    pub min_ms: u64,
    #[serde(default)]
    pub max_ms: u64,
}

/// `[data]`: a CSV file whose rows are fed to the visits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The file, relative to the scenario; columns `zip`, `income`, `ages`, `tobacco` make the
    /// household, every column is `data.COLUMN` in templates.
    pub households: PathBuf,
    /// Which row a visit gets: `sequential` (default, visit id modulo rows), `random` (drawn from
    /// the seed), or `unique` (row = visit id; a run that needs more rows than the file has ends).
    #[serde(default)]
    pub order: DataOrder,
}

/// How rows are handed to visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataOrder {
    #[default]
    Sequential,
    Random,
    Unique,
}

/// `[cracks]`: where the insurers' 834s are, and how an 834 names the applicant a visit wrote down.
/// `surge cracks` reads the same keys from a run directory's `scenario.toml`; its flags override
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CracksSpec {
    /// A directory or file of X12 (relative to the scenario file), or the URL of an exchange
    /// serving `/issuers/{id}/834` inboxes. Default: the target's inboxes, when it offers them.
    #[serde(default)]
    pub source: Option<String>,
    /// The `REF` qualifier carrying the Payment Transaction ID.
    #[serde(default = "default_reference")]
    pub reference: String,
    /// `0000123` is `123`.
    #[serde(default)]
    pub ignore_leading_zeros: bool,
    /// `pt-123` is `PT-123`.
    #[serde(default)]
    pub ignore_case: bool,
    /// A regular expression whose first capture group is the id, on both sides (an id it does not
    /// match is kept whole).
    #[serde(default)]
    pub id_pattern: Option<String>,
    /// Whether this exchange's 834s carry premium loops. Without them an 834 is no defect, and an
    /// applicant who paid and has their 834 is covered.
    #[serde(default = "yes")]
    pub premiums: bool,
}

impl Default for CracksSpec {
    fn default() -> Self {
        Self {
            source: None,
            reference: default_reference(),
            ignore_leading_zeros: false,
            ignore_case: false,
            id_pattern: None,
            premiums: true,
        }
    }
}

fn default_reference() -> String {
    "1L".into()
}
fn yes() -> bool {
    true
}

/// Why a `[cracks]` value (or the command-line flag standing for it) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CracksKeyError {
    #[error("reference: `{0}` is not a REF qualifier (one to three letters or digits, e.g. \"1L\", \"17\", \"0F\")")]
    Reference(String),
    #[error("id_pattern: `{pattern}` is not a regular expression: {cause}")]
    Pattern { pattern: String, cause: String },
    #[error("id_pattern: `{0}` has no capture group: put the id's part in parentheses, e.g. 'PT-(\\d+)'")]
    NoGroup(String),
    #[error("source: `{0}` is neither a directory or file nor an http(s) URL")]
    Source(String),
}

impl CracksKeyError {
    /// The key at fault, under `[cracks]`.
    pub fn key(&self) -> &'static str {
        match self {
            CracksKeyError::Reference(_) => "reference",
            CracksKeyError::Pattern { .. } | CracksKeyError::NoGroup(_) => "id_pattern",
            CracksKeyError::Source(_) => "source",
        }
    }
}

impl CracksSpec {
    /// The id pattern, compiled: `None` without one.
    fn pattern(&self) -> Result<Option<regex::Regex>, CracksKeyError> {
        let Some(pattern) = &self.id_pattern else {
            return Ok(None);
        };
        let regex = regex::Regex::new(pattern).map_err(|e| CracksKeyError::Pattern {
            pattern: pattern.clone(),
            cause: e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string(),
        })?;
        if regex.captures_len() < 2 {
            return Err(CracksKeyError::NoGroup(pattern.clone()));
        }
        Ok(Some(regex))
    }

    /// Every value usable: a qualifier, a pattern with a group, a source that is a path or a URL.
    /// The pattern comes back compiled, for whoever matches ids with it.
    pub fn check(&self) -> Result<Option<regex::Regex>, CracksKeyError> {
        let reference = &self.reference;
        if reference.is_empty()
            || reference.len() > 3
            || !reference.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(CracksKeyError::Reference(reference.clone()));
        }
        let pattern = self.pattern()?;
        if let Some(source) = &self.source {
            let scheme = source.split_once("://").map(|(scheme, _)| scheme);
            let url_ok = match scheme {
                None => !source.trim().is_empty(),
                Some("http" | "https") => {
                    url::Url::parse(source).is_ok_and(|u| u.host_str().is_some())
                }
                Some(_) => false,
            };
            if !url_ok {
                return Err(CracksKeyError::Source(source.clone()));
            }
        }
        Ok(pattern)
    }

    /// The source, when it is a URL.
    pub fn source_url(&self) -> Option<&str> {
        self.source
            .as_deref()
            .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
    }
}

/// A scenario file read for its `[cracks]` section alone (what `surge cracks` needs of a run
/// directory's copy): the rest is not checked, so a variable unset since the run does not matter.
#[derive(Deserialize)]
struct CracksOnly {
    #[serde(default)]
    cracks: CracksSpec,
    #[serde(flatten)]
    _rest: toml::Table,
}

/// How households are generated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Households {
    /// ZIP codes to draw from. Default: every ZIP of the embedded exchange's catalog.
    #[serde(default)]
    pub zips: Option<Vec<String>>,
    /// Annual household income range in dollars, `[low, high]`.
    #[serde(default = "default_income")]
    pub income: [u32; 2],
    /// Household size range, `[low, high]`, 1 to 8.
    #[serde(default = "default_size")]
    pub size: [u8; 2],
    /// Share of adults who use tobacco.
    #[serde(default = "default_tobacco")]
    pub tobacco_share: Share,
    /// Result pages of plan search a visitor reads before choosing (1 to this).
    #[serde(default = "default_pages")]
    pub max_pages: Positive,
}

impl Default for Households {
    fn default() -> Self {
        Self {
            zips: None,
            income: default_income(),
            size: default_size(),
            tobacco_share: default_tobacco(),
            max_pages: default_pages(),
        }
    }
}

fn default_income() -> [u32; 2] {
    [12_000, 110_000]
}
fn default_size() -> [u8; 2] {
    [1, 4]
}
fn default_tobacco() -> Share {
    Share(0.15)
}
fn default_pages() -> Positive {
    Positive(3)
}

/// HTTP client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Per-request timeout; a request that takes longer fails with status class `timeout`.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: std::time::Duration,
    /// The most requests in flight at once (each holds a connection). Past it, requests wait for
    /// a free connection — and the wait counts in their latency — instead of exhausting the
    /// machine's file descriptors and failing with "Too many open files".
    #[serde(default = "default_max_connections")]
    pub max_connections: Positive,
    /// Headers every request carries (templates: `${env:NAME}` for a secret).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Query parameters every request carries, e.g. `apikey = "${env:MARKETPLACE_API_KEY}"`.
    #[serde(default)]
    pub query: std::collections::BTreeMap<String, String>,
    /// Hosts a run may reach besides the target's own (insurers' payment portals); a request to
    /// any other host is refused, never sent. `["*"]` allows every host.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// A PEM file of CA certificates to trust besides the system's (a staging exchange's own CA),
    /// relative to the scenario.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate. Only for a throwaway staging host: surge warns loudly.
    #[serde(default)]
    pub insecure: bool,
    /// Names of headers and query parameters above whose values are secrets (never written), besides
    /// `${env:…}` values and names that say so (authorization, cookie, *key*, *token*, *secret*,
    /// *passw*, *auth*, *session*).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Redirects followed for one request, each hop checked against `allowed_hosts`, measured and
    /// counted as a request of its step; past it the request fails.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
    /// The most bytes a reply may bring, once decoded (a gzip bomb counts as what it inflates to);
    /// past it the request fails and its connection is dropped.
    #[serde(default = "default_max_reply")]
    pub max_reply: ByteSize,
}

fn default_max_redirects() -> u32 {
    10
}

fn default_max_reply() -> ByteSize {
    ByteSize(10 * ByteSize::MIB)
}

fn default_max_connections() -> Positive {
    Positive(2000)
}

impl Default for Http {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            timeout: default_timeout(),
            headers: Default::default(),
            query: Default::default(),
            allowed_hosts: Vec::new(),
            ca_file: None,
            insecure: false,
            secrets: Vec::new(),
            max_redirects: default_max_redirects(),
            max_reply: default_max_reply(),
        }
    }
}

fn default_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(30)
}

/// A scenario file that cannot be used, located as precisely as the problem allows.
#[derive(Debug)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub location: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.path.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A check that failed: the key at fault and what is wrong.
struct Problem {
    key: KeyPath,
    message: String,
}

/// Keys of the scenario's top level (not of any table).
fn is_top_level_key(segment: Option<&locate::Segment>) -> bool {
    matches!(
        segment,
        Some(locate::Segment::Key(key))
            if ["name", "journeys", "target", "thresholds"].contains(&key.as_str())
    )
}

fn problem(keys: &[&str], message: impl Into<String>) -> Problem {
    let key = KeyPath::of(keys);
    Problem {
        message: format!("{}: {}", keys.join("."), message.into()),
        key,
    }
}

/// A scenario file TOML or serde refused, located, naming the key a wrong type or value belongs to.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ScenarioError {
    let message = e.message().trim();
    // Name the key a wrong type or value belongs to (a syntax error has none to name).
    let key = e.span().and_then(|span| KeyPath::holding(text, span.start));
    ScenarioError {
        path: path.to_owned(),
        location: e
            .span()
            .map(|span| locate::line_and_column(text, span.start)),
        message: match key {
            // A top-level key written under a table (after `[traffic]`, say).
            Some(key) if key.0.len() > 1 && is_top_level_key(key.0.last()) => {
                format!("{key}: {message}; it is a top-level key: write it above the first [table]")
            }
            Some(key) => format!("{key}: {message}"),
            None => message.to_string(),
        },
    }
}

/// Why an `allowed_hosts` entry is not a host name (hosts are matched by name alone: a port or
/// scheme would make it never match), with the name to write when there is one.
fn not_a_host(entry: &str) -> Option<String> {
    let bare = entry.trim();
    if bare.is_empty() {
        return Some("it is empty".into());
    }
    if bare.contains(',') || bare.contains(char::is_whitespace) {
        return Some("write each host as a string of its own".into());
    }
    if !(bare.contains('/') || (bare.contains(':') && !bare.starts_with('['))) {
        return None;
    }
    // The host the entry names, read as the host of a URL with or without its scheme.
    let without_scheme = bare.rsplit("://").next().unwrap_or_default();
    let host = url::Url::parse(&format!("http://{without_scheme}"))
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .filter(|h| !h.is_empty() && h != bare);
    let why = "hosts are matched by name alone, without scheme or port";
    Some(match host {
        Some(host) => format!("{why}; write \"{host}\""),
        None => why.to_string(),
    })
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_owned(),
            location: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parse and check scenario text; `path` is used only in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        Self::parse_with_env(path, text, env::process)
    }

    /// [`parse`](Self::parse), reading `${env:…}` with `read` (tests pass their own).
    fn parse_with_env(
        path: &Path,
        text: &str,
        read: impl Fn(&str) -> Option<String>,
    ) -> Result<Scenario, ScenarioError> {
        let source = Source {
            path: path.to_owned(),
            text: text.to_string(),
        };
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let checked = scenario
            .expand_allowed_hosts(read)
            .and_then(|()| scenario.check());
        if let Err(problem) = checked {
            return Err(source.error_at(&problem.key, problem.message));
        }
        if scenario.name.is_none() {
            scenario.name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned());
        }
        scenario.source = source;
        Ok(scenario)
    }

    /// The `[cracks]` section of a scenario file, checked (defaults without one); nothing else of
    /// the file is checked.
    pub fn read_cracks(path: &Path) -> Result<CracksSpec, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_owned(),
            location: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        let only: CracksOnly = toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))?;
        only.cracks.check().map_err(|e| {
            Source {
                path: path.to_owned(),
                text: text.clone(),
            }
            .error_at(&KeyPath::of(&["cracks", e.key()]), format!("cracks.{e}"))
        })?;
        Ok(only.cracks)
    }

    /// `[http] allowed_hosts` with every `${env:NAME}` replaced — a variable may hold one host or a
    /// comma-separated list — and every host checked to be a name alone.
    fn expand_allowed_hosts(
        &mut self,
        read: impl Fn(&str) -> Option<String>,
    ) -> Result<(), Problem> {
        let mut hosts = Vec::new();
        for (index, written) in self.http.allowed_hosts.iter().enumerate() {
            let key = KeyPath(vec![
                locate::Segment::Key("http".into()),
                locate::Segment::Key("allowed_hosts".into()),
                locate::Segment::Index(index),
            ]);
            let at = |message: String| Problem {
                key: key.clone(),
                message: format!("http.allowed_hosts[{index}]: {message}"),
            };
            let from_env = written.contains("${env:");
            let expanded = env::expand(written, &read).map_err(|e| at(e.to_string()))?;
            let entries: Vec<&str> = match from_env {
                true => expanded
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .collect(),
                false => vec![expanded.as_str()],
            };
            if from_env && entries.is_empty() {
                return Err(at(format!(
                    "`{written}` names no host (its variable is empty)"
                )));
            }
            for host in entries {
                if let Some(why) = not_a_host(host) {
                    let origin = match from_env {
                        true => format!(" (from `{written}`)"),
                        false => String::new(),
                    };
                    return Err(at(format!("`{host}`{origin} is not a host name: {why}")));
                }
                hosts.push(host.to_string());
            }
        }
        self.http.allowed_hosts = hosts;
        Ok(())
    }

    /// Checks serde cannot make: values that depend on each other.
    fn check(&self) -> Result<(), Problem> {
        if let Some(exchange) = &self.exchange {
            exchange.check().map_err(|e| Problem {
                key: KeyPath::parse(&e.key()).under(&["exchange"]),
                message: format!("exchange.{e}"),
            })?;
        }
        self.check_curve()?;
        self.check_durations()?;
        let traffic = &self.traffic;
        let think = &traffic.think_time;
        if think.min_ms > think.max_ms {
            return Err(problem(
                &["traffic", "think_time", "max_ms"],
                format!("{} is below min_ms ({})", think.max_ms, think.min_ms),
            ));
        }
        let households = &self.households;
        if households.income[0] > households.income[1] {
            return Err(problem(
                &["households", "income"],
                "must be [low, high] with low <= high",
            ));
        }
        let [low, high] = households.size;
        if !(1..=8).contains(&low) || !(1..=8).contains(&high) || low > high {
            return Err(problem(
                &["households", "size"],
                "must be [low, high] with 1 <= low <= high <= 8",
            ));
        }
        if households.tobacco_share.0 > 1.0 {
            return Err(problem(
                &["households", "tobacco_share"],
                format!(
                    "{} is not a fraction from 0 to 1",
                    households.tobacco_share.0
                ),
            ));
        }
        if let Some(zips) = &households.zips {
            if zips.is_empty() {
                return Err(problem(
                    &["households", "zips"],
                    "must list at least one ZIP code",
                ));
            }
            if let Some(bad) = zips
                .iter()
                .find(|z| z.len() != 5 || !z.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(problem(
                    &["households", "zips"],
                    format!("`{bad}` is not a 5-digit ZIP code"),
                ));
            }
        }
        self.cracks.check().map_err(|e| Problem {
            key: KeyPath::of(&["cracks", e.key()]),
            message: format!("cracks.{e}"),
        })?;
        if let Some(target) = &self.target {
            if target != "embedded"
                && !(target.starts_with("http://") || target.starts_with("https://"))
            {
                return Err(problem(
                    &["target"],
                    format!("`{target}` is neither \"embedded\" nor an http(s) URL"),
                ));
            }
        }
        Ok(())
    }

    /// Durations a run could not keep: a zero timeout fails every request, a zero `max_duration`
    /// ends the run before it starts, a zero `late_after` makes every visit late; and a curve
    /// slowed down so far that it would outlast any deadline.
    fn check_durations(&self) -> Result<(), Problem> {
        let traffic = &self.traffic;
        let zero = [
            (&["http", "timeout"][..], Some(self.http.timeout)),
            (&["traffic", "max_duration"][..], traffic.max_duration),
            (&["traffic", "late_after"][..], Some(traffic.late_after)),
        ];
        if let Some((keys, _)) = zero.iter().find(|(_, d)| d.is_some_and(|d| d.is_zero())) {
            return Err(problem(keys, "must be longer than 0"));
        }
        let max = crate::units::MAX_DURATION.as_secs_f64();
        if traffic.think_time.max_ms as f64 / 1000.0 > max {
            return Err(problem(
                &["traffic", "think_time", "max_ms"],
                format!(
                    "{} ms is longer than 8760h (a year), the longest surge can wait",
                    traffic.think_time.max_ms
                ),
            ));
        }
        // Scenario time becomes wall time divided by time_scale: it must still be a duration.
        let span = traffic.curve_points().map_or(0.0, |points| {
            points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0)
        });
        let longest = [
            ("arrival curve", span),
            ("patience", traffic.patience.as_secs_f64()),
            ("think_time", traffic.think_time.max_ms as f64 / 1000.0),
        ];
        if let Some((what, seconds)) = longest
            .iter()
            .find(|(_, seconds)| seconds / traffic.time_scale.0 > max)
        {
            return Err(problem(
                &["traffic", "time_scale"],
                format!(
                    "at time_scale {}, the {what}'s {seconds} s of scenario time would last \
                     longer than 8760h (a year) of wall time, the longest surge can wait",
                    traffic.time_scale.0
                ),
            ));
        }
        Ok(())
    }

    /// One arrival curve at most, and a usable one.
    fn check_curve(&self) -> Result<(), Problem> {
        let traffic = &self.traffic;
        let shapes = [
            ("span", traffic.span.is_some()),
            ("profile", traffic.profile.is_some()),
            ("stages", traffic.stages.is_some()),
        ];
        let given: Vec<&str> = shapes.iter().filter(|s| s.1).map(|s| s.0).collect();
        if given.len() > 1 {
            return Err(problem(
                &["traffic", given[1]],
                format!(
                    "give the arrival curve one way: {} and {} are both set",
                    given[0], given[1]
                ),
            ));
        }
        let Some(points) = traffic.curve_points() else {
            if traffic.visits.is_none() {
                return Err(problem(
                    &["traffic"],
                    "visits is required when there is no arrival curve (span, profile or stages)",
                ));
            }
            return Ok(());
        };
        let increasing = points.windows(2).all(|w| w[1].0 > w[0].0);
        let some_rate = points.iter().any(|(_, rate)| *rate > 0.0);
        let shape = given.first().copied().unwrap_or("span");
        let usable = match shape {
            "span" => points[1].0 > 0.0,
            _ => points.len() >= 2 && increasing && some_rate,
        };
        if !usable {
            let message = match shape {
                "span" => "must be longer than 0",
                "profile" => "needs at least two points, times that strictly increase, and a rate above 0 somewhere",
                _ => "needs at least one stage, every duration above 0, and a rate above 0 somewhere",
            };
            return Err(problem(&["traffic", shape], message));
        }
        Ok(())
    }

    /// An error at the `index`th threshold rule of the file (rules are parsed by the gate).
    pub fn threshold_error(&self, index: usize, message: impl Into<String>) -> ScenarioError {
        let key = KeyPath(vec![
            locate::Segment::Key("thresholds".into()),
            locate::Segment::Index(index),
        ]);
        self.source
            .error_at(&key, format!("thresholds: {}", message.into()))
    }

    /// Whether the scenario runs against the embedded exchange, given the command line's `--target`.
    pub fn targets_embedded(&self, target_flag: Option<&str>) -> bool {
        target_flag
            .or(self.target.as_deref())
            .is_none_or(|t| t == "embedded")
    }

    /// Apply command-line overrides, checking them as the file's values are checked.
    pub fn override_with(
        &mut self,
        visits: Option<u64>,
        time_scale: Option<f64>,
        seed: Option<u64>,
    ) {
        if let Some(visits) = visits {
            self.traffic.visits = Some(Positive(visits.max(1)));
        }
        if let Some(scale) = time_scale {
            self.traffic.time_scale = PositiveFloat(scale);
        }
        if let Some(seed) = seed {
            self.traffic.seed = seed;
        }
    }

    /// The scenario's name (the file stem unless the file says otherwise).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("scenario")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[traffic]\nvisits = 10\n[traffic.mix]\nbrowse = 1\n";

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("scenarios/test.toml"), text)
    }

    #[test]
    fn minimal_file_gets_defaults_and_name_from_stem() {
        let scenario = parse(MINIMAL).unwrap();
        assert_eq!(scenario.name(), "test");
        assert_eq!(scenario.traffic.visits, Some(Positive(10)));
        assert_eq!(
            scenario.traffic.curve_points(),
            None,
            "no curve: a closed run"
        );
        assert_eq!(scenario.traffic.seed, 2013);
        assert_eq!(scenario.traffic.mix.unwrap()["browse"], Share(1.0));
    }

    #[test]
    fn misspelled_key_is_refused_with_line() {
        let err =
            parse("[traffic]\nvisits = 10\nvisitz = 3\n[traffic.mix]\nbrowse = 1\n").unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3));
        assert!(err.message.contains("visitz"), "{err}");
        assert!(
            err.to_string().starts_with("scenarios/test.toml:3:"),
            "{err}"
        );
    }

    #[test]
    fn zero_pool_is_refused_at_its_line() {
        let err =
            parse("[traffic]\nvisits = 10\npool = 0\n[traffic.mix]\nbrowse = 1\n").unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3));
        assert!(err.message.contains("a whole number of 1 or more"), "{err}");
    }

    #[test]
    fn bad_duration_is_refused() {
        let err = parse(
            "[traffic]\nvisits = 1\nmax_duration = \"ten minutes\"\n[traffic.mix]\nbrowse = 1\n",
        )
        .unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3));
        assert!(err.message.contains("duration"), "{err}");
    }

    #[test]
    fn zero_timeouts_and_durations_a_run_cannot_keep_are_refused_at_their_line() {
        for (key, text) in [
            (
                "timeout",
                "[traffic]\nvisits = 1\n[traffic.mix]\nbrowse = 1\n[http]\ntimeout = \"0s\"\n",
            ),
            (
                "max_duration",
                "[traffic]\nvisits = 1\nmax_duration = \"0s\"\n[traffic.mix]\nbrowse = 1\n",
            ),
            (
                "late_after",
                "[traffic]\nvisits = 1\nlate_after = \"0ms\"\n[traffic.mix]\nbrowse = 1\n",
            ),
        ] {
            let err = parse(text).unwrap_err();
            let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
            assert_eq!(err.location.map(|l| l.0), Some(line), "{key}: {err}");
            assert!(
                err.message.contains("must be longer than 0"),
                "{key}: {err}"
            );
            assert!(err.message.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn durations_too_long_to_wait_are_refused_at_their_line_not_a_panic() {
        for (key, value) in [
            ("max_duration", "\"1e20s\""),
            ("patience", "\"100000000000000000000s\""),
            ("late_after", "\"9000h\""),
        ] {
            let err = parse(&format!(
                "[traffic]\nvisits = 1\n{key} = {value}\n[traffic.mix]\nbrowse = 1\n"
            ))
            .unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(3), "{key}: {err}");
            assert!(err.message.contains("at most 8760h"), "{key}: {err}");
        }
        // Slowed down so far that the curve would outlast any deadline.
        let err = parse(
            "[traffic]\nvisits = 1\nspan = \"1h\"\ntime_scale = 1e-300\n[traffic.mix]\nbrowse = 1\n",
        )
        .unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(4), "{err}");
        assert!(err.message.starts_with("traffic.time_scale:"), "{err}");
        let err = parse(&format!(
            "[traffic]\nvisits = 1\n[traffic.think_time]\nmax_ms = {}\n[traffic.mix]\nbrowse = 1\n",
            u64::MAX
        ))
        .unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(4), "{err}");
    }

    #[test]
    fn a_visit_count_that_is_not_a_whole_number_above_zero_says_so_at_its_line() {
        for bad in ["\"300\"", "-5", "0", "2.5"] {
            let err = parse(&format!(
                "[traffic]\nspan = \"1m\"\nvisits = {bad}\n[traffic.mix]\nbrowse = 1\n"
            ))
            .unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(3), "{bad}: {err}");
            assert!(
                err.message.starts_with("traffic.visits: ")
                    && err.message.contains("a whole number of 1 or more"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn an_allowed_host_with_a_port_or_scheme_is_refused_with_the_name_to_write() {
        for (bad, wanted) in [
            ("127.0.0.1:43703", "write \"127.0.0.1\""),
            ("http://pay.example", "write \"pay.example\""),
            ("pay.example/insurer", "write \"pay.example\""),
        ] {
            let err = parse(&format!(
                "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n[http]\nallowed_hosts = [\"{bad}\"]\n"
            ))
            .unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(6), "{bad}: {err}");
            assert!(err.message.contains(wanted), "{bad}: {err}");
        }
        assert!(parse(
            "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n[http]\nallowed_hosts = [\"pay.example\", \"*\", \"[::1]\"]\n"
        )
        .is_ok());
    }

    const HOSTS: &str = "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n[http]\nallowed_hosts = [\"pay.example\", \"${env:OTHER_INSURERS}\"]\n";

    fn insurers(name: &str) -> Option<String> {
        (name == "OTHER_INSURERS").then(|| "pay.b.example, pay.c.example,".to_string())
    }

    #[test]
    fn allowed_hosts_read_the_environment_and_a_variable_may_hold_a_list() {
        let scenario = Scenario::parse_with_env(Path::new("s.toml"), HOSTS, insurers).unwrap();
        assert_eq!(
            scenario.http.allowed_hosts,
            ["pay.example", "pay.b.example", "pay.c.example"]
        );
    }

    #[test]
    fn an_unset_variable_in_allowed_hosts_is_refused_at_its_line() {
        let err = Scenario::parse_with_env(Path::new("s.toml"), HOSTS, |_| None).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(6), "{err}");
        assert!(
            err.message
                .contains("allowed_hosts[1]: environment variable OTHER_INSURERS is not set"),
            "{err}"
        );
        // A host with a port from the environment says which entry it came from.
        let err = Scenario::parse_with_env(Path::new("s.toml"), HOSTS, |_| {
            Some("pay.b.example:8443".into())
        })
        .unwrap_err();
        assert!(
            err.message.contains("from `${env:OTHER_INSURERS}`"),
            "{err}"
        );
        assert!(err.message.contains("write \"pay.b.example\""), "{err}");
    }

    #[test]
    fn cracks_keys_are_read_and_bad_ones_refused_at_their_line() {
        let scenario = parse(&format!(
            "{MINIMAL}[cracks]\nsource = \"834/\"\nignore_leading_zeros = true\nid_pattern = 'PT-(\\d+)'\npremiums = false\n"
        ))
        .unwrap();
        let cracks = &scenario.cracks;
        assert_eq!(cracks.source.as_deref(), Some("834/"));
        assert_eq!(cracks.reference, "1L");
        assert!(cracks.ignore_leading_zeros && !cracks.ignore_case && !cracks.premiums);
        assert!(cracks.pattern().unwrap().is_some());
        assert_eq!(parse(MINIMAL).unwrap().cracks, CracksSpec::default());

        for (line, wanted) in [
            (
                "id_pattern = 'PT-(\\d+'",
                "cracks.id_pattern: `PT-(\\d+` is not a regular expression",
            ),
            ("id_pattern = 'PT-\\d+'", "has no capture group"),
            (
                "reference = \"REF1L\"",
                "cracks.reference: `REF1L` is not a REF qualifier",
            ),
            ("source = \"ftp://hub/834\"", "cracks.source:"),
            ("ignore_zeros = true", "unknown field `ignore_zeros`"),
        ] {
            let err = parse(&format!("{MINIMAL}[cracks]\n{line}\n")).unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(6), "{line}: {err}");
            assert!(err.message.contains(wanted), "{line}: {err}");
        }
    }

    #[test]
    fn two_curve_shapes_are_refused() {
        let err = parse(
            "[traffic]\nvisits = 5\nspan = \"1m\"\nstages = [{duration = \"10s\", rate = 1}]\n\
             [traffic.mix]\nbrowse = 1\n",
        )
        .unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(4), "{err}");
        assert!(err.message.starts_with("traffic.stages:"), "{err}");
    }

    #[test]
    fn backwards_profile_and_bad_clock_are_refused() {
        let backwards = parse(
            "[traffic]\nvisits = 5\nprofile = [{at = \"09:00\", rate = 1}, {at = \"08:00\", rate = 1}]\n\
             [traffic.mix]\nbrowse = 1\n",
        )
        .unwrap_err();
        assert_eq!(backwards.location.map(|l| l.0), Some(3), "{backwards}");
        let clock = parse(
            "[traffic]\nvisits = 5\nprofile = [{at = \"8am\", rate = 1}, {at = \"09:00\", rate = 1}]\n\
             [traffic.mix]\nbrowse = 1\n",
        )
        .unwrap_err();
        assert!(clock.message.contains("time of day"), "{clock}");
        assert_eq!(clock.location.map(|l| l.0), Some(3));
    }

    #[test]
    fn visits_are_required_without_a_curve() {
        let err = parse("[traffic]\npool = 3\n[traffic.mix]\nbrowse = 1\n").unwrap_err();
        assert!(err.message.contains("visits"), "{err}");
    }
}
