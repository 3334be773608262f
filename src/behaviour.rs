//! How the embedded exchange misbehaves on purpose: its capacity (service times, concurrency and a
//! queue per class of endpoint), a waiting room, error windows on the scenario's clock, and per
//! insurer broken payment links, refused SAML, failing payment pages and defective 834s; and the
//! scenario clock a run shares with the exchange it starts.
//!
//! Read from a scenario's `[exchange]` section, or from the file `surge exchange --faults FILE`
//! ([`Behaviour::load`]). Their errors are typed ([`BehaviourError`], [`BehaviourFileError`]) and
//! name the key path, so whoever reads the section can place an error in its file without parsing
//! the message, and the exchange needs nothing of the scenario or the command line.
//!
//! A leaf (it imports only `units`): the scenario holds a `Behaviour` and the exchange obeys one,
//! and neither imports the other. The exchange re-exports it as `exchange::behaviour`.
//!
//! Every random choice is drawn from `seed` and the request's own identity (the applicant — their
//! e-mail or name and the plan chosen — or a path and a per-path counter), so the same scenario fails
//! the same visits the same way whatever order they arrive in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::units::{duration, duration_option, UnitError};

/// Everything the `[exchange]` section can say.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// A fixed time added to every API and insurer request (the simplest slow exchange).
    #[serde(default, with = "duration_option")]
    pub service_time: Option<Duration>,
    /// Seed for every fault; default: the scenario's `traffic.seed`.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Capacity per endpoint class: `browse`, `eligibility`, `enrollment`, `insurer`.
    #[serde(default)]
    pub capacity: BTreeMap<EndpointClass, Capacity>,
    #[serde(default)]
    pub waiting_room: Option<WaitingRoom>,
    /// Error windows on the scenario's clock.
    #[serde(default)]
    pub errors: Vec<ErrorWindow>,
    /// Faults per insurer, by 5-digit HIOS id, or `"*"` for every insurer.
    #[serde(default)]
    pub insurers: BTreeMap<String, InsurerFaults>,
}

impl Behaviour {
    /// Read a faults file (what `surge exchange --faults FILE` reads): the TOML of an `[exchange]`
    /// section without its header, checked. Every error names the file, and the line when TOML
    /// knows it.
    pub fn load(path: &Path) -> Result<Behaviour, BehaviourFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BehaviourFileError::Unreadable {
                path: path.to_owned(),
                source,
            })?;
        let behaviour: Behaviour = toml::from_str(&text).map_err(|e| BehaviourFileError::Toml {
            path: path.to_owned(),
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().to_string(),
        })?;
        behaviour
            .check()
            .map_err(|source| BehaviourFileError::Invalid {
                path: path.to_owned(),
                source,
            })?;
        Ok(behaviour)
    }

    /// Check values serde cannot: shares are fractions, clocks parse, ids are HIOS ids. Errors name
    /// the key.
    pub fn check(&self) -> Result<(), BehaviourError> {
        let fraction = |key: String, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(BehaviourError::NotAFraction { key, value })
            }
        };
        for (&class, capacity) in &self.capacity {
            if capacity.concurrency == 0 {
                return Err(BehaviourError::NoServers { class });
            }
            if capacity.median > capacity.p99 {
                return Err(BehaviourError::MedianAboveP99 { class });
            }
        }
        if let Some(room) = &self.waiting_room {
            if room.at == 0 {
                return Err(BehaviourError::EmptyWaitingRoom);
            }
        }
        for (index, window) in self.errors.iter().enumerate() {
            crate::units::parse_clock(&window.at)
                .map_err(|source| BehaviourError::WindowStart { index, source })?;
            fraction(format!("errors[{index}].share"), window.share)?;
            if !(100..=599).contains(&window.status) {
                return Err(BehaviourError::NotAStatus {
                    index,
                    status: window.status,
                });
            }
        }
        for (id, faults) in &self.insurers {
            if id != "*" && !(id.len() == 5 && id.bytes().all(|b| b.is_ascii_digit())) {
                return Err(BehaviourError::NotAnInsurer { id: id.clone() });
            }
            for (key, value) in [
                ("broken_link", faults.broken_link),
                ("dead_link", faults.dead_link),
                ("saml_rejected", faults.saml_rejected),
                ("payment_fails", faults.payment_fails),
                ("missing_834", faults.missing_834),
                ("duplicate_834", faults.duplicate_834),
                ("no_premium_834", faults.no_premium_834),
                ("wrong_insurer_834", faults.wrong_insurer_834),
            ] {
                fraction(format!("insurers.\"{id}\".{key}"), value)?;
            }
            if faults.broken_link + faults.dead_link > 1.0 {
                return Err(BehaviourError::LinksAboveOne { id: id.clone() });
            }
        }
        Ok(())
    }

    /// The faults of insurer `id`: its own entry, else the `"*"` entry.
    pub fn insurer(&self, id: &str) -> Option<&InsurerFaults> {
        self.insurers.get(id).or_else(|| self.insurers.get("*"))
    }
}

/// A value of the `[exchange]` section that serde accepts but the exchange cannot use. The message
/// starts with the key path (`capacity.browse.concurrency`, `errors[0].at`, …), relative to the
/// section, so a scenario can print it as `exchange.{message}`; [`BehaviourError::key`] gives the
/// path alone, to locate it in the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BehaviourError {
    #[error("capacity.{}.concurrency must be at least 1", .class.label())]
    NoServers { class: EndpointClass },
    #[error("capacity.{}: median is above p99", .class.label())]
    MedianAboveP99 { class: EndpointClass },
    #[error("waiting_room.at must be at least 1 session")]
    EmptyWaitingRoom,
    #[error("errors[{index}].at: {source}")]
    WindowStart { index: usize, source: UnitError },
    #[error("errors[{index}].status {status} is not an HTTP status")]
    NotAStatus { index: usize, status: u16 },
    /// `key` is the whole path, e.g. `errors[0].share` or `insurers."*".dead_link`.
    #[error("{key} = {value}: a share is a fraction from 0 to 1")]
    NotAFraction { key: String, value: f64 },
    #[error("insurers.\"{id}\": an insurer is a 5-digit HIOS id, or \"*\" for all")]
    NotAnInsurer { id: String },
    #[error("insurers.\"{id}\": broken_link + dead_link is above 1")]
    LinksAboveOne { id: String },
}

impl BehaviourError {
    /// The key path the error is about, relative to the `[exchange]` section, e.g.
    /// `capacity.browse.concurrency`, `errors[0].at` or `insurers."12345"`; the message starts with
    /// it.
    pub fn key(&self) -> String {
        match self {
            BehaviourError::NoServers { class } => {
                format!("capacity.{}.concurrency", class.label())
            }
            BehaviourError::MedianAboveP99 { class } => format!("capacity.{}", class.label()),
            BehaviourError::EmptyWaitingRoom => "waiting_room.at".into(),
            BehaviourError::WindowStart { index, .. } => format!("errors[{index}].at"),
            BehaviourError::NotAStatus { index, .. } => format!("errors[{index}].status"),
            BehaviourError::NotAFraction { key, .. } => key.clone(),
            BehaviourError::NotAnInsurer { id } | BehaviourError::LinksAboveOne { id } => {
                format!("insurers.\"{id}\"")
            }
        }
    }
}

/// A faults file that cannot be used: unreadable, not TOML of the `[exchange]` section, or with a
/// value the exchange cannot use. The message names the file (and the line, when TOML knows it), as
/// `surge exchange --faults FILE` prints it.
#[derive(Debug, thiserror::Error)]
pub enum BehaviourFileError {
    #[error("{}: cannot read the faults file: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", .path.display(), at_line(.line))]
    Toml {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{}: {source}", .path.display())]
    Invalid {
        path: PathBuf,
        source: BehaviourError,
    },
}

/// `:12` for line 12; nothing when the line is unknown.
fn at_line(line: &Option<usize>) -> String {
    line.map(|line| format!(":{line}")).unwrap_or_default()
}

/// Endpoints grouped by the part of the exchange that serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointClass {
    /// Counties, plan search, plan details, issuers.
    Browse,
    /// Eligibility estimates.
    Eligibility,
    /// Applications, plan selection, the Pay Now page.
    Enrollment,
    /// Every `/issuers/{id}/…` route.
    Insurer,
}

impl EndpointClass {
    /// The class as the `[exchange.capacity]` keys and the metrics' `class` label write it.
    pub fn label(self) -> &'static str {
        match self {
            EndpointClass::Browse => "browse",
            EndpointClass::Eligibility => "eligibility",
            EndpointClass::Enrollment => "enrollment",
            EndpointClass::Insurer => "insurer",
        }
    }
}

/// One class's capacity: `concurrency` requests served at once, each taking a service time drawn
/// from a log-normal distribution with the given median and p99; up to `queue` more wait in line,
/// for at most `queue_timeout`. A request that finds the queue full, or waits too long, is answered
/// 503 (Marketplace error 1012). Service is simulated by sleeping: it costs no CPU.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    #[serde(with = "duration")]
    pub median: Duration,
    #[serde(with = "duration")]
    pub p99: Duration,
    pub concurrency: u32,
    #[serde(default)]
    pub queue: u32,
    #[serde(default = "default_queue_timeout", with = "duration")]
    pub queue_timeout: Duration,
}

fn default_queue_timeout() -> Duration {
    Duration::from_secs(30)
}

/// The holding page: when `at` sessions are active, a new visitor gets
/// `503` with `Retry-After` and the page instead of the site, until a place frees up.
/// A session is a visitor admitted with the `exchange_session` cookie; it stays active while it
/// has made a request within `session_idle` of scenario time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitingRoom {
    pub at: u64,
    #[serde(default = "default_session_idle", with = "duration")]
    pub session_idle: Duration,
    /// What `Retry-After` asks for, in scenario time.
    #[serde(default = "default_retry_after", with = "duration")]
    pub retry_after: Duration,
}

fn default_session_idle() -> Duration {
    Duration::from_secs(300)
}
fn default_retry_after() -> Duration {
    Duration::from_secs(60)
}

/// From `at` on the scenario clock, for `lasting`, a `share` of requests whose path starts with one
/// of `paths` (all paths when empty) are answered with `status` and the Marketplace error `code`, or,
/// when `delay` is set, answered late instead.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorWindow {
    /// Scenario clock, `"HH:MM"` or `"HH:MM:SS"`.
    pub at: String,
    #[serde(with = "duration")]
    pub lasting: Duration,
    #[serde(default)]
    pub paths: Vec<String>,
    pub share: f64,
    #[serde(default = "default_status")]
    pub status: u16,
    /// Marketplace error code for the body, e.g. `"1007"` (request timed-out).
    #[serde(default = "default_code")]
    pub code: String,
    #[serde(default, with = "duration_option")]
    pub delay: Option<Duration>,
}

fn default_status() -> u16 {
    500
}
fn default_code() -> String {
    "1007".into()
}

/// Faults of one insurer. Every share is a fraction from 0 to 1 of that insurer's enrollments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsurerFaults {
    /// The Pay Now form points at a page the insurer does not have (404).
    #[serde(default)]
    pub broken_link: f64,
    /// The Pay Now form points at a host where nothing listens (connection refused).
    #[serde(default)]
    pub dead_link: f64,
    /// The insurer refuses the SAML Response (403, code 2003).
    #[serde(default)]
    pub saml_rejected: f64,
    /// The insurer's payment page fails when the applicant pays (500).
    #[serde(default)]
    pub payment_fails: f64,
    /// The initial 834 is never sent.
    #[serde(default)]
    pub missing_834: f64,
    /// The initial 834 is sent twice.
    #[serde(default)]
    pub duplicate_834: f64,
    /// The initial 834 is sent without its premium amounts (no 2750 loops).
    #[serde(default)]
    pub no_premium_834: f64,
    /// The initial 834 goes to another insurer's inbox.
    #[serde(default)]
    pub wrong_insurer_834: f64,
}

/// The scenario's clock as the exchange sees it: where a run's first visit is its zero.
#[derive(Debug, Clone)]
pub struct ScenarioClock {
    /// Set by the run when its first visit is meant to start; until then the clock reads its start.
    pub origin: Arc<OnceLock<Instant>>,
    pub time_scale: f64,
    /// Seconds since midnight at the origin.
    pub clock_start: f64,
}

impl Default for ScenarioClock {
    fn default() -> Self {
        ScenarioClock {
            origin: Arc::new(OnceLock::new()),
            time_scale: 1.0,
            clock_start: 0.0,
        }
    }
}

impl ScenarioClock {
    /// Seconds since midnight on the scenario clock now.
    pub fn now(&self) -> f64 {
        match self.origin.get() {
            Some(origin) => {
                self.clock_start
                    + Instant::now()
                        .saturating_duration_since(*origin)
                        .as_secs_f64()
                        * self.time_scale
            }
            None => self.clock_start,
        }
    }

    /// A span of scenario time, in wall time.
    pub fn to_wall(&self, scenario: Duration) -> Duration {
        scenario.div_f64(self.time_scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(f: impl FnOnce(&mut InsurerFaults)) -> Behaviour {
        let mut faults = InsurerFaults::default();
        f(&mut faults);
        Behaviour {
            insurers: BTreeMap::from([("*".to_string(), faults)]),
            ..Default::default()
        }
    }

    fn window(at: &str, share: f64, status: u16) -> Behaviour {
        Behaviour {
            errors: vec![ErrorWindow {
                at: at.into(),
                lasting: Duration::from_secs(60),
                paths: Vec::new(),
                share,
                status,
                code: default_code(),
                delay: None,
            }],
            ..Default::default()
        }
    }

    fn capacity(median: u64, p99: u64, concurrency: u32) -> Behaviour {
        Behaviour {
            capacity: BTreeMap::from([(
                EndpointClass::Eligibility,
                Capacity {
                    median: Duration::from_millis(median),
                    p99: Duration::from_millis(p99),
                    concurrency,
                    queue: 0,
                    queue_timeout: default_queue_timeout(),
                },
            )]),
            ..Default::default()
        }
    }

    /// (behaviour, message, key, section): the messages are those the scenario loader has always
    /// printed after `exchange.`.
    fn cases() -> Vec<(Behaviour, &'static str, &'static str)> {
        let mut insurer = faults(|_| {});
        insurer.insurers = BTreeMap::from([("1234".to_string(), InsurerFaults::default())]);
        vec![
            (
                capacity(10, 20, 0),
                "capacity.eligibility.concurrency must be at least 1",
                "capacity.eligibility.concurrency",
            ),
            (
                capacity(30, 20, 1),
                "capacity.eligibility: median is above p99",
                "capacity.eligibility",
            ),
            (
                Behaviour {
                    waiting_room: Some(WaitingRoom {
                        at: 0,
                        session_idle: default_session_idle(),
                        retry_after: default_retry_after(),
                    }),
                    ..Default::default()
                },
                "waiting_room.at must be at least 1 session",
                "waiting_room.at",
            ),
            (
                window("8h30", 0.5, 500),
                "errors[0].at: `8h30` is not a time of day; write \"HH:MM\" or \"HH:MM:SS\"",
                "errors[0].at",
            ),
            (
                window("08:30", 1.5, 500),
                "errors[0].share = 1.5: a share is a fraction from 0 to 1",
                "errors[0].share",
            ),
            (
                window("08:30", 0.5, 99),
                "errors[0].status 99 is not an HTTP status",
                "errors[0].status",
            ),
            (
                insurer,
                "insurers.\"1234\": an insurer is a 5-digit HIOS id, or \"*\" for all",
                "insurers.\"1234\"",
            ),
            (
                faults(|f| f.dead_link = -0.1),
                "insurers.\"*\".dead_link = -0.1: a share is a fraction from 0 to 1",
                "insurers.\"*\".dead_link",
            ),
            (
                faults(|f| {
                    f.broken_link = 0.6;
                    f.dead_link = 0.5;
                }),
                "insurers.\"*\": broken_link + dead_link is above 1",
                "insurers.\"*\"",
            ),
        ]
    }

    #[test]
    fn check_names_the_key_its_message_starts_with() {
        for (behaviour, message, key) in cases() {
            let e = behaviour.check().expect_err(message);
            assert_eq!(e.to_string(), message);
            assert_eq!(e.key(), key, "{message}");
            assert!(message.starts_with(&e.key()), "{message}");
        }
        assert_eq!(Behaviour::default().check(), Ok(()));
        assert_eq!(faults(|f| f.broken_link = 1.0).check(), Ok(()));
    }

    fn scratch(name: &str, text: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("surge-behaviour-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        path
    }

    #[test]
    fn load_reads_a_faults_file_and_locates_its_errors() {
        let good = scratch(
            "good.toml",
            Some("seed = 3\n[insurers.\"*\"]\nbroken_link = 0.2\n"),
        );
        let behaviour = Behaviour::load(&good).unwrap();
        assert_eq!(behaviour.seed, Some(3));
        assert_eq!(behaviour.insurer("11512").unwrap().broken_link, 0.2);

        let typo = scratch(
            "typo.toml",
            Some("seed = 3\n[insurers.\"*\"]\nbroken_lnk = 0.2\n"),
        );
        let e = Behaviour::load(&typo).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:3: unknown field `broken_lnk`", typo.display())),
            "{e}"
        );

        let invalid = scratch("invalid.toml", Some("[insurers.\"*\"]\ndead_link = 2\n"));
        assert_eq!(
            Behaviour::load(&invalid).unwrap_err().to_string(),
            format!(
                "{}: insurers.\"*\".dead_link = 2: a share is a fraction from 0 to 1",
                invalid.display()
            )
        );
        match Behaviour::load(&invalid) {
            Err(BehaviourFileError::Invalid { source, .. }) => {
                assert_eq!(source.key(), "insurers.\"*\".dead_link")
            }
            other => panic!("{other:?}"),
        }

        let missing = scratch("missing.toml", None);
        let e = Behaviour::load(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}: cannot read the faults file: ",
                missing.display()
            )),
            "{e}"
        );
    }
}
