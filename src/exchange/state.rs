//! In-memory exchange state: applications, enrollments and the insurers' 834 inboxes.
//!
//! Records are compact structs in sharded maps (short lock holds under load); 834 text is rendered
//! only when an inbox is read, so hundreds of thousands of enrollments stay within modest memory.
//!
//! [`AppState`] is made of parts that each own their state: [`Shared`] for the handlers (catalog,
//! records, keys, the insurers' faults), and the capacity, the error windows, the waiting room and
//! the metrics with theirs. The middleware of each part takes only its own through axum's
//! `FromRef`, so none of those modules depends on this one, and a change to one part's state
//! touches only that part. The fault counters are the one thing they share: a handle each.

use super::shape::Shape;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::FromRef;

use super::behaviour::{Behaviour, InsurerFaults, ScenarioClock};
use super::capacity::CapacityState;
use super::catalog::{Catalog, Member};
use super::eligibility::Csr;
use super::faults::{Defect834, FaultCounters, Kind};
use super::marketplace::PlanJson;
use super::metrics::MetricsState;
use super::waiting_room::RoomState;
use super::windows::WindowsState;

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
    /// The exchange served its Pay Now page (the hand-off to the insurer).
    pub pay_now_served: bool,
    /// The insurer's landing page accepted its SAML Response and showed the payment page.
    pub landed: bool,
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

/// What the handlers share: the catalog, the records, the keys and the insurers' faults.
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
    /// Capacity, waiting room and faults; the default behaves perfectly.
    pub behaviour: Behaviour,
    /// `behaviour.seed`, or 0.
    pub seed: u64,
    /// Faults injected so far, by kind (a handle on the counters every part counts in).
    pub faults: FaultCounters,
    /// How the API looks from outside (API key, base path, Pay Now answer).
    pub shape: Shape,
    /// The catalog's plans as JSON, written once (see [`PlanJson`]).
    pub plan_json: PlanJson,
}

struct Parts {
    shared: Shared,
    capacity: CapacityState,
    windows: WindowsState,
    room: RoomState,
    metrics: MetricsState,
}

/// Cheap-to-clone handle on the exchange's state (axum `State`); it dereferences to the handlers'
/// [`Shared`] part, and each other part is a sub-state (`FromRef`).
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0.shared
    }
}

impl FromRef<AppState> for CapacityState {
    fn from_ref(state: &AppState) -> Self {
        state.0.capacity.clone()
    }
}

impl FromRef<AppState> for WindowsState {
    fn from_ref(state: &AppState) -> Self {
        state.0.windows.clone()
    }
}

impl FromRef<AppState> for RoomState {
    fn from_ref(state: &AppState) -> Self {
        state.0.room.clone()
    }
}

impl FromRef<AppState> for MetricsState {
    fn from_ref(state: &AppState) -> Self {
        state.0.metrics.clone()
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
        Self::with_shape(saml_key, base_url, behaviour, clock, Shape::default())
    }

    /// An exchange with a shape of its own (see `shape`).
    pub fn with_shape(
        saml_key: Vec<u8>,
        base_url: impl Into<String>,
        behaviour: Behaviour,
        clock: ScenarioClock,
        shape: Shape,
    ) -> Self {
        let seed = behaviour.seed.unwrap_or(0);
        let faults = FaultCounters::default();
        let capacity =
            CapacityState::new(&behaviour.capacity, seed, clock.time_scale, faults.clone());
        let windows = WindowsState::new(&behaviour.errors, clock.clone(), seed, faults.clone());
        let room = RoomState::new(
            behaviour.waiting_room.as_ref(),
            &clock,
            seed,
            faults.clone(),
        );
        let metrics = MetricsState::new(faults.clone(), capacity.clone(), room.clone());
        let catalog = Catalog::build();
        let plan_json = PlanJson::new(&catalog);
        let inboxes = catalog
            .issuers
            .iter()
            .map(|_| Mutex::new(Vec::new()))
            .collect();
        let shared = Shared {
            catalog,
            applications: Sharded::default(),
            enrollments: Sharded::default(),
            inboxes,
            next_application: AtomicU64::new(1),
            next_enrollment: AtomicU64::new(1),
            saml_key,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            behaviour,
            seed,
            faults,
            shape,
            plan_json,
        };
        AppState(Arc::new(Parts {
            shared,
            capacity,
            windows,
            room,
            metrics,
        }))
    }

    /// The metrics' part: what `/metrics` reports.
    pub fn metrics(&self) -> &MetricsState {
        &self.0.metrics
    }
}

impl Shared {
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

    /// Every enrollment so far, by number: a copy, taken one shard lock at a time.
    pub fn all_enrollments(&self) -> Vec<(u64, Enrollment)> {
        let mut all: Vec<(u64, Enrollment)> = (0..SHARDS as u64)
            .flat_map(|shard| {
                self.enrollments
                    .shard(shard)
                    .iter()
                    .map(|(&n, e)| (n, e.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by_key(|&(n, _)| n);
        all
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
