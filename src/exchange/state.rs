//! In-memory exchange state: applications, enrollments and the insurers' 834 inboxes.
//!
//! Records are compact structs in sharded maps (short lock holds under load); 834 text is rendered
//! only when an inbox is read, so hundreds of thousands of enrollments stay within modest memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::behaviour::{Behaviour, InsurerFaults, ScenarioClock};
use super::capacity::Gates;
use super::catalog::{Catalog, Member};
use super::eligibility::Csr;
use super::faults::{Defect834, FaultCounters, Kind};
use super::metrics::Metrics;
use super::waiting_room::Room;
use super::windows::Windows;

const SHARDS: usize = 32;

/// A map from sequential ids to records, split over mutexes.
pub struct Sharded<T> {
    shards: Vec<Mutex<HashMap<u64, T>>>,
}

impl<T> Default for Sharded<T> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl<T> Sharded<T> {
    /// Lock the shard holding `id`. A poisoned lock only means another handler panicked mid-update
    /// of a plain-data record, so keep serving.
    pub fn shard(&self, id: u64) -> MutexGuard<'_, HashMap<u64, T>> {
        let m = &self.shards[(id % SHARDS as u64) as usize];
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An application: the household, its place and its eligibility.
#[derive(Debug, Clone)]
pub struct Application {
    pub county: u16,
    pub people: Box<[Member]>,
    pub income: Option<f64>,
    pub aptc_cents: u32,
    pub csr: Csr,
    pub medicaid: bool,
    pub first_name: Option<Box<str>>,
    pub last_name: Option<Box<str>>,
    pub email: Option<Box<str>>,
    /// The enrollment made from this application, if a plan was selected.
    pub enrollment: Option<u64>,
}

/// An enrollment (plan selection); its number is also the payment transaction id.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub application: u64,
    pub plan: u16,
    pub issuer: u16,
    pub premium_cents: u32,
    pub aptc_cents: u32,
    /// Unix seconds of the selection (the 834's dates and REQUEST SUBMIT TIMESTAMP).
    pub selected_at: i64,
    pub paid: bool,
    /// What became of the initial 834 (drawn at selection from the insurer's faults).
    pub defect: Defect834,
    /// The item every fault of this enrollment is drawn for: the applicant's identity, not the
    /// enrollment number, because numbers follow the order selections happen to arrive in, and
    /// the same seed must fault the same applicants whatever the timing.
    pub fault_key: u64,
}

impl Enrollment {
    pub fn owed_cents(&self) -> u32 {
        self.premium_cents - self.aptc_cents.min(self.premium_cents)
    }
}

/// Everything the handlers share.
pub struct Shared {
    pub catalog: Catalog,
    pub applications: Sharded<Application>,
    pub enrollments: Sharded<Enrollment>,
    /// Per issuer: enrollment numbers in the order their 834 was queued; ISA13 = index + 1.
    pub inboxes: Vec<Mutex<Vec<u64>>>,
    pub next_application: AtomicU64,
    pub next_enrollment: AtomicU64,
    pub saml_key: Vec<u8>,
    /// Public base URL of this server, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub metrics: Metrics,
    /// Capacity, waiting room and faults; the default behaves perfectly.
    pub behaviour: Behaviour,
    /// The scenario clock that error windows and the waiting room follow.
    pub clock: ScenarioClock,
    /// `behaviour.seed`, or 0.
    pub seed: u64,
    /// Faults injected so far, by kind.
    pub faults: FaultCounters,
    /// Servers and queues per class of endpoint.
    pub gates: Gates,
    /// Error windows.
    pub windows: Windows,
    /// The waiting room, when the behaviour has one.
    pub room: Option<Room>,
}

/// Cheap-to-clone handle on the shared state (axum `State`).
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// An exchange that behaves perfectly.
    pub fn new(saml_key: Vec<u8>, base_url: impl Into<String>) -> Self {
        Self::with_behaviour(
            saml_key,
            base_url,
            Behaviour::default(),
            ScenarioClock::default(),
        )
    }

    /// An exchange with capacity limits and faults (see `behaviour`).
    pub fn with_behaviour(
        saml_key: Vec<u8>,
        base_url: impl Into<String>,
        behaviour: Behaviour,
        clock: ScenarioClock,
    ) -> Self {
        let seed = behaviour.seed.unwrap_or(0);
        let catalog = Catalog::build();
        let inboxes = catalog
            .issuers
            .iter()
            .map(|_| Mutex::new(Vec::new()))
            .collect();
        AppState(Arc::new(Shared {
            catalog,
            applications: Sharded::default(),
            enrollments: Sharded::default(),
            inboxes,
            next_application: AtomicU64::new(1),
            next_enrollment: AtomicU64::new(1),
            saml_key,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            metrics: Metrics::default(),
            seed,
            gates: Gates::new(&behaviour.capacity, seed),
            windows: Windows::new(&behaviour.errors),
            room: behaviour
                .waiting_room
                .as_ref()
                .map(|r| Room::new(r, &clock, seed)),
            behaviour,
            clock,
            faults: FaultCounters::default(),
        }))
    }

    /// The faults of issuer number `ii` (its own entry, else `"*"`).
    pub fn insurer_faults(&self, ii: usize) -> Option<&InsurerFaults> {
        let id = self.catalog.issuers.get(ii)?.id;
        self.behaviour.insurer(id)
    }

    /// Count one injected fault.
    pub fn fault(&self, kind: Kind) {
        self.faults.add(kind);
    }

    /// The insurer that receives another insurer's misrouted 834s: the next one of the catalog.
    pub fn misrouted_to(&self, issuer: usize) -> usize {
        (issuer + 1) % self.catalog.issuers.len().max(1)
    }

    pub fn new_application_id(&self) -> u64 {
        self.next_application.fetch_add(1, Ordering::Relaxed)
    }

    pub fn new_enrollment_id(&self) -> u64 {
        self.next_enrollment.fetch_add(1, Ordering::Relaxed)
    }

    /// Queue the initial 834 for an enrollment in its insurer's inbox; returns the ISA13 control number.
    pub fn queue_834(&self, issuer: usize, enrollment: u64) -> u32 {
        let Some(inbox) = self.inboxes.get(issuer) else {
            return 0;
        };
        let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.push(enrollment);
        inbox.len() as u32
    }

    /// Enrollment numbers in an insurer's inbox after control number `since`, with their control numbers.
    pub fn inbox_since(&self, issuer: usize, since: u64) -> Vec<(u32, u64)> {
        let Some(inbox) = self.inboxes.get(issuer) else {
            return Vec::new();
        };
        let inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
        let start = (since as usize).min(inbox.len());
        inbox[start..]
            .iter()
            .enumerate()
            .map(|(i, &e)| ((start + i + 1) as u32, e))
            .collect()
    }

    pub fn application(&self, id: u64) -> Option<Application> {
        self.applications.shard(id).get(&id).cloned()
    }

    pub fn enrollment(&self, id: u64) -> Option<Enrollment> {
        self.enrollments.shard(id).get(&id).cloned()
    }
}

/// `A000000000123`
pub fn application_id(n: u64) -> String {
    format!("A{n:012}")
}

/// `E000000000123`
pub fn enrollment_id(n: u64) -> String {
    format!("E{n:012}")
}

/// `0000000000123` (13 digits, as CMS pads it)
pub fn payment_transaction_id(n: u64) -> String {
    format!("{n:013}")
}

/// Parse an id of the form `<prefix><digits>`; None when ill-formed.
pub fn parse_id(s: &str, prefix: &str, digits: usize) -> Option<u64> {
    let rest = s.strip_prefix(prefix)?;
    if rest.len() != digits || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}
