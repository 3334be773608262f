//! How the embedded exchange misbehaves on purpose: its capacity (service times, concurrency and a
//! queue per class of endpoint), a waiting room, error windows on the scenario's clock, and per
//! insurer broken payment links, refused SAML, failing payment pages and defective 834s.
//!
//! Read from a scenario's `[exchange]` section, or from the file `surge exchange --faults FILE`.
//! Every random choice is drawn from `seed` and the request's own identity (enrollment id, path and
//! a per-path counter), so the same scenario fails the same visits the same way.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::units::{duration, duration_option};

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
    /// Check values serde cannot: shares are fractions, clocks parse, ids are HIOS ids. Errors name
    /// the key.
    pub fn check(&self) -> Result<(), String> {
        let fraction = |key: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{key} = {value}: a share is a fraction from 0 to 1"
                ))
            }
        };
        for (class, capacity) in &self.capacity {
            if capacity.concurrency == 0 {
                return Err(
                    format!("capacity.{class:?}.concurrency must be at least 1").to_lowercase()
                );
            }
            if capacity.median > capacity.p99 {
                return Err(format!("capacity.{class:?}: median is above p99").to_lowercase());
            }
        }
        if let Some(room) = &self.waiting_room {
            if room.at == 0 {
                return Err("waiting_room.at must be at least 1 session".into());
            }
        }
        for (i, window) in self.errors.iter().enumerate() {
            crate::units::parse_clock(&window.at).map_err(|e| format!("errors[{i}].at: {e}"))?;
            fraction(&format!("errors[{i}].share"), window.share)?;
            if !(100..=599).contains(&window.status) {
                return Err(format!(
                    "errors[{i}].status {} is not an HTTP status",
                    window.status
                ));
            }
        }
        for (id, faults) in &self.insurers {
            if id != "*" && !(id.len() == 5 && id.bytes().all(|b| b.is_ascii_digit())) {
                return Err(format!(
                    "insurers.\"{id}\": an insurer is a 5-digit HIOS id, or \"*\" for all"
                ));
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
                fraction(&format!("insurers.\"{id}\".{key}"), value)?;
            }
            if faults.broken_link + faults.dead_link > 1.0 {
                return Err(format!(
                    "insurers.\"{id}\": broken_link + dead_link is above 1"
                ));
            }
        }
        Ok(())
    }

    /// The faults of insurer `id`: its own entry, else the `"*"` entry.
    pub fn insurer(&self, id: &str) -> Option<&InsurerFaults> {
        self.insurers.get(id).or_else(|| self.insurers.get("*"))
    }
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
