//! How fast the exchange answers: a fixed service time added to every API and insurer request,
//! and a capacity per class of endpoint (servers, a queue, log-normal service times). Service is
//! simulated by sleeping, so a slow or saturated exchange costs no CPU.
//!
//! The capacity owns its state, [`CapacityState`]: the gates and a handle on the fault counters its
//! refusals count in. The `gate` middleware takes only that part of the exchange's state (axum's
//! `FromRef`), so the capacity knows nothing of the catalog, the records or the other faults.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;

use super::behaviour::{Capacity, EndpointClass};
use super::error::ApiError;
use super::faults::{self, FaultCounters, Kind};

/// Wrap `app` so that every request except the operational routes waits `service_time` first.
pub fn with_service_time(app: Router, service_time: Duration) -> Router {
    if service_time.is_zero() {
        return app;
    }
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        slow(service_time, request, next)
    }))
}

async fn slow(service_time: Duration, request: Request, next: Next) -> Response {
    if !operational(request.uri().path()) {
        tokio::time::sleep(service_time).await;
    }
    next.run(request).await
}

/// The routes that report on the exchange rather than serve it (`/metrics`, `/healthz`, and the
/// truth under `/staging/`): no service time or error window ever touches them.
pub fn operational(path: &str) -> bool {
    path == "/metrics" || path == "/healthz" || path.starts_with("/staging/")
}

/// Which class of endpoint serves `path`; `None` for the operational routes.
pub fn class_of(path: &str) -> Option<EndpointClass> {
    if path.starts_with("/issuers/") {
        Some(EndpointClass::Insurer)
    } else if path.starts_with("/api/v1/enrollment/") {
        Some(EndpointClass::Enrollment)
    } else if path.starts_with("/api/v1/households/eligibility") {
        Some(EndpointClass::Eligibility)
    } else if ["/api/v1/counties", "/api/v1/plans", "/api/v1/issuers"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        Some(EndpointClass::Browse)
    } else {
        None
    }
}

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// One class's servers and queue.
pub struct Gate {
    class: EndpointClass,
    concurrency: u32,
    permits: Semaphore,
    waiting: AtomicU32,
    queue: u32,
    /// How long a request waits in line before a 503, in scenario time (for messages) and wall time.
    queue_timeout: Duration,
    queue_timeout_wall: Duration,
    /// ln(median), in wall seconds: service times are scenario time, replayed `time_scale` faster.
    mu: f64,
    sigma: f64,
    seed: u64,
    draws: AtomicU64,
}

impl Gate {
    /// A gate whose times (`median`, `p99`, `queue_timeout`: scenario time) run `time_scale` times
    /// faster than written, so a compressed morning is the same morning, only faster.
    fn new(class: EndpointClass, c: &Capacity, seed: u64, time_scale: f64) -> Self {
        let median = c.median.as_secs_f64() / time_scale;
        let p99 = (c.p99.as_secs_f64() / time_scale).max(median);
        let sigma = if median > 0.0 {
            (p99 / median).ln() / Z99
        } else {
            0.0
        };
        Gate {
            class,
            concurrency: c.concurrency.max(1),
            permits: Semaphore::new(c.concurrency.max(1) as usize),
            waiting: AtomicU32::new(0),
            queue: c.queue,
            queue_timeout: c.queue_timeout,
            queue_timeout_wall: c.queue_timeout.div_f64(time_scale),
            mu: median.ln(),
            sigma,
            seed,
            draws: AtomicU64::new(0),
        }
    }

    /// A service time from the log-normal distribution (Box-Muller over two deterministic draws),
    /// drawn for the request with this identity, or for the next request in arrival order.
    pub fn service_time(&self, identity: Option<u64>) -> Duration {
        if !self.mu.is_finite() {
            return Duration::ZERO;
        }
        if self.sigma == 0.0 {
            return Duration::from_secs_f64(self.mu.exp());
        }
        let i = identity.unwrap_or_else(|| self.draws.fetch_add(1, Ordering::Relaxed));
        let name = match self.class {
            EndpointClass::Browse => "service_time:browse",
            EndpointClass::Eligibility => "service_time:eligibility",
            EndpointClass::Enrollment => "service_time:enrollment",
            EndpointClass::Insurer => "service_time:insurer",
        };
        let u1 = 1.0 - faults::unit(self.seed, name, i.wrapping_mul(2)); // (0, 1]
        let u2 = faults::unit(self.seed, name, i.wrapping_mul(2).wrapping_add(1));
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let seconds = (self.mu + self.sigma * z).exp();
        // A draw past an hour is a configuration accident, not a service time.
        Duration::from_secs_f64(seconds.min(3600.0))
    }

    pub fn class(&self) -> EndpointClass {
        self.class
    }

    /// Requests being served now.
    pub fn in_service(&self) -> u32 {
        self.concurrency - self.permits.available_permits() as u32
    }

    /// Requests waiting for a server now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// The gates of the classes that have a capacity, and where their refusals are counted.
#[derive(Default)]
pub struct Gates {
    gates: Vec<Gate>,
    faults: FaultCounters,
}

impl Gates {
    pub fn new(
        capacity: &BTreeMap<EndpointClass, Capacity>,
        seed: u64,
        time_scale: f64,
        faults: FaultCounters,
    ) -> Self {
        Gates {
            gates: capacity
                .iter()
                .map(|(&class, c)| Gate::new(class, c, seed, time_scale))
                .collect(),
            faults,
        }
    }

    pub fn get(&self, class: EndpointClass) -> Option<&Gate> {
        self.gates.iter().find(|g| g.class == class)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Gate> {
        self.gates.iter()
    }
}

/// The capacity's part of the exchange's state: a cheap handle on its [`Gates`].
#[derive(Clone, Default)]
pub struct CapacityState(Arc<Gates>);

impl CapacityState {
    pub fn new(
        capacity: &BTreeMap<EndpointClass, Capacity>,
        seed: u64,
        time_scale: f64,
        faults: FaultCounters,
    ) -> Self {
        CapacityState(Arc::new(Gates::new(capacity, seed, time_scale, faults)))
    }
}

impl std::ops::Deref for CapacityState {
    type Target = Gates;
    fn deref(&self) -> &Gates {
        &self.0
    }
}

/// Leaves the queue when dropped, also when the client goes away while waiting.
struct InQueue<'a>(&'a AtomicU32);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware: take a server of the request's class (or wait in line for one, or be refused with
/// 503/1012), hold it for a service time, then serve.
pub async fn gate(State(capacity): State<CapacityState>, request: Request, next: Next) -> Response {
    let Some(gate) = class_of(request.uri().path()).and_then(|c| capacity.get(c)) else {
        return next.run(request).await;
    };
    let _permit = match gate.permits.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            let queue = gate.queue;
            let joined = gate
                .waiting
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                    (w < queue).then_some(w + 1)
                });
            if joined.is_err() {
                capacity.faults.add(Kind::CapacityQueueFull);
                return ApiError::unavailable(format!(
                    "the {} servers are busy and their queue is full",
                    gate.class.label()
                ))
                .into_response();
            }
            let in_queue = InQueue(&gate.waiting);
            let waited =
                tokio::time::timeout(gate.queue_timeout_wall, gate.permits.acquire()).await;
            drop(in_queue);
            match waited {
                Ok(Ok(permit)) => permit,
                _ => {
                    capacity.faults.add(Kind::CapacityQueueTimeout);
                    return ApiError::unavailable(format!(
                        "waited {:?} in the {} queue",
                        gate.queue_timeout,
                        gate.class.label()
                    ))
                    .into_response();
                }
            }
        }
    };
    let identity = faults::request_identity(request.headers());
    tokio::time::sleep(gate.service_time(identity)).await;
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_times_follow_the_log_normal() {
        let c = Capacity {
            median: Duration::from_millis(100),
            p99: Duration::from_millis(800),
            concurrency: 1,
            queue: 0,
            queue_timeout: Duration::from_secs(1),
        };
        let gate = Gate::new(EndpointClass::Browse, &c, 5, 1.0);
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| gate.service_time(None).as_secs_f64())
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[draws.len() / 2];
        let p99 = draws[draws.len() * 99 / 100];
        assert!((median - 0.1).abs() < 0.01, "median {median}");
        assert!((p99 - 0.8).abs() < 0.12, "p99 {p99}");
        // Deterministic: a gate with the same seed draws the same times.
        let again = Gate::new(EndpointClass::Browse, &c, 5, 1.0);
        assert_eq!(
            again.service_time(None),
            Duration::from_secs_f64(draws_first(&c))
        );
    }

    #[test]
    fn a_faster_morning_serves_in_proportionally_less_wall_time() {
        let c = Capacity {
            median: Duration::from_secs(6),
            p99: Duration::from_secs(48),
            concurrency: 1,
            queue: 0,
            queue_timeout: Duration::from_secs(60),
        };
        // The same draws, scaled: at 60x every service time is a sixtieth of the 1x one.
        let real = Gate::new(EndpointClass::Browse, &c, 5, 1.0);
        let fast = Gate::new(EndpointClass::Browse, &c, 5, 60.0);
        for _ in 0..100 {
            let (a, b) = (
                real.service_time(None).as_secs_f64(),
                fast.service_time(None).as_secs_f64(),
            );
            assert!((a / 60.0 - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(fast.queue_timeout_wall, Duration::from_secs(1));
    }

    fn draws_first(c: &Capacity) -> f64 {
        Gate::new(EndpointClass::Browse, c, 5, 1.0)
            .service_time(None)
            .as_secs_f64()
    }

    #[test]
    fn routes_map_to_classes() {
        assert_eq!(
            class_of("/api/v1/plans/search"),
            Some(EndpointClass::Browse)
        );
        assert_eq!(
            class_of("/api/v1/households/eligibility/estimates"),
            Some(EndpointClass::Eligibility)
        );
        assert_eq!(
            class_of("/api/v1/enrollment/applications"),
            Some(EndpointClass::Enrollment)
        );
        assert_eq!(class_of("/issuers/11512/834"), Some(EndpointClass::Insurer));
        assert_eq!(class_of("/metrics"), None);
    }
}
