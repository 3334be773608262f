//! The scenario file: what to run, how much of it, and against what.
//!
//! Parsed with serde + toml. Unknown keys are refused (a misspelled key must not be silently ignored),
//! and every error names the file, the line and the key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::journeys::Journey;

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
    pub traffic: Traffic,
    #[serde(default)]
    pub households: Households,
    #[serde(default)]
    pub http: Http,
}

/// How many visits, how they are spread over the journeys, and how many run at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Total visits to run; each one is a new visitor.
    pub visits: Positive,
    /// The most visits in flight at once (the pool of Goose users).
    #[serde(default = "default_pool")]
    pub pool: Positive,
    /// Seed for households and choices: the same seed gives the same visitors, visit by visit.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Arrivals per second, evenly spaced. Absent: each visit starts as soon as a pool slot is free.
    #[serde(default)]
    pub rate: Option<PositiveFloat>,
    /// Share of visits per journey (relative weights; they need not sum to 1).
    pub mix: Mix,
    /// Pause between a visit's steps, as a person reads the page.
    #[serde(default)]
    pub think_time: ThinkTime,
    /// Hard limit on the run's wall time; visits not started by then are reported as not started.
    #[serde(default = "default_max_duration", with = "humantime_serde_compat")]
    pub max_duration: std::time::Duration,
}

fn default_pool() -> Positive {
    Positive(32)
}
fn default_seed() -> u64 {
    2013
}
fn default_max_duration() -> std::time::Duration {
    std::time::Duration::from_secs(600)
}

/// Relative share of visits for each journey.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    #[serde(default)]
    pub browse: Share,
    #[serde(default)]
    pub eligibility: Share,
    #[serde(default)]
    pub enroll: Share,
    #[serde(default)]
    pub confirm: Share,
}

impl Mix {
    /// Weights in `Journey::ALL` order.
    pub fn weights(&self) -> [f64; 4] {
        [
            self.browse.0,
            self.eligibility.0,
            self.enroll.0,
            self.confirm.0,
        ]
    }

    pub fn share_of(&self, journey: Journey) -> f64 {
        let weights = self.weights();
        let total: f64 = weights.iter().sum();
        weights[journey as usize] / total
    }
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
    #[serde(default = "default_timeout", with = "humantime_serde_compat")]
    pub timeout: std::time::Duration,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(30)
}

/// A whole number above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positive(pub u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        if n == 0 {
            return Err(serde::de::Error::custom("must be at least 1"));
        }
        Ok(Positive(n))
    }
}

/// A number above zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositiveFloat(pub f64);

impl<'de> Deserialize<'de> for PositiveFloat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if !(n.is_finite() && n > 0.0) {
            return Err(serde::de::Error::custom("must be a number above 0"));
        }
        Ok(PositiveFloat(n))
    }
}

/// A share: a number from 0 upward (relative weight or fraction).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if !(n.is_finite() && n >= 0.0) {
            return Err(serde::de::Error::custom("must be a number of 0 or more"));
        }
        Ok(Share(n))
    }
}

/// Durations are written as `"30s"`, `"500ms"`, `"10m"`, `"1h"`.
mod humantime_serde_compat {
    use serde::Deserialize;
    use std::time::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Parse `"250ms"`, `"30s"`, `"10m"`, `"2h"` (a number, then a unit).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; write e.g. \"500ms\", \"30s\", \"10m\" or \"1h\"")
    })?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "`{text}` has no known unit; write e.g. \"500ms\", \"30s\", \"10m\" or \"1h\""
            ))
        }
    };
    Ok(std::time::Duration::from_secs_f64(seconds))
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
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
            path: path.to_owned(),
            location: e.span().map(|span| line_and_column(text, span.start)),
            message: e.message().trim().to_string(),
        })?;
        scenario.check(path, text)?;
        if scenario.name.is_none() {
            scenario.name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned());
        }
        Ok(scenario)
    }

    /// Checks that span several keys, located by the key's line.
    fn check(&self, path: &Path, text: &str) -> Result<(), ScenarioError> {
        let fail = |key: &str, message: String| ScenarioError {
            path: path.to_owned(),
            location: find_key(text, key),
            message: format!("{key}: {message}"),
        };
        if self.traffic.mix.weights().iter().sum::<f64>() <= 0.0 {
            return Err(fail(
                "mix",
                "at least one journey needs a share above 0 (browse, eligibility, enroll, confirm)"
                    .into(),
            ));
        }
        let think = &self.traffic.think_time;
        if think.min_ms > think.max_ms {
            return Err(fail(
                "max_ms",
                format!(
                    "think_time.max_ms ({}) is below min_ms ({})",
                    think.max_ms, think.min_ms
                ),
            ));
        }
        let households = &self.households;
        if households.income[0] > households.income[1] {
            return Err(fail(
                "income",
                "households.income must be [low, high] with low <= high".into(),
            ));
        }
        let [low, high] = households.size;
        if !(1..=8).contains(&low) || !(1..=8).contains(&high) || low > high {
            return Err(fail(
                "size",
                "households.size must be [low, high] with 1 <= low <= high <= 8".into(),
            ));
        }
        if households.tobacco_share.0 > 1.0 {
            return Err(fail(
                "tobacco_share",
                "households.tobacco_share is a fraction from 0 to 1".into(),
            ));
        }
        if let Some(zips) = &households.zips {
            if zips.is_empty() {
                return Err(fail(
                    "zips",
                    "households.zips must list at least one ZIP code".into(),
                ));
            }
            if let Some(bad) = zips
                .iter()
                .find(|z| z.len() != 5 || !z.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(fail("zips", format!("`{bad}` is not a 5-digit ZIP code")));
            }
        }
        if let Some(target) = &self.target {
            if target != "embedded"
                && !(target.starts_with("http://") || target.starts_with("https://"))
            {
                return Err(fail(
                    "target",
                    format!("`{target}` is neither \"embedded\" nor an http(s) URL"),
                ));
            }
        }
        Ok(())
    }

    /// The scenario's name (the file stem unless the file says otherwise).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("scenario")
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The first line that assigns `key` (or opens a table named `key`), for messages about checks
/// that involve more than one value.
fn find_key(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let trimmed = line.trim_start();
        let is_assignment = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        let is_table = trimmed.starts_with('[')
            && trimmed.trim_end().ends_with(&format!(".{key}]"))
            || trimmed.trim_end() == format!("[{key}]");
        (is_assignment || is_table).then(|| (index + 1, line.len() - trimmed.len() + 1))
    })
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
        assert_eq!(scenario.traffic.visits, Positive(10));
        assert_eq!(scenario.traffic.pool, Positive(32));
        assert_eq!(scenario.traffic.seed, 2013);
        assert_eq!(scenario.traffic.mix.share_of(Journey::Browse), 1.0);
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
        assert!(err.message.contains("at least 1"), "{err}");
    }

    #[test]
    fn empty_mix_is_refused_naming_mix() {
        let err = parse("[traffic]\nvisits = 10\n[traffic.mix]\nbrowse = 0\n").unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3));
        assert!(err.message.starts_with("mix:"), "{err}");
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
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert!(parse_duration("5 parsecs").is_err());
    }
}
