//! Prometheus metrics: request counts by route template, method and status, a latency histogram,
//! and the counters and gauges of the faults, the waiting room and the capacity.
//!
//! The metrics own the request statistics ([`Metrics`]); the other parts own their counters and
//! gauges, and [`MetricsState`] holds handles on them to report them. The `track` middleware and
//! the `/metrics` handler take only this part of the exchange's state (axum's `FromRef`). Every
//! family is written by `prometheus-client`'s text encoder, from its name, type and help in one
//! table, when `/metrics` is read: a collector reads the figures where they are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::capacity::{CapacityState, Gate};
use super::faults::{FaultCounters, Kind};
use super::waiting_room::RoomState;

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A metric family: its name (a counter's samples get `_total` from the encoder), its type and its
/// help line.
struct Family {
    name: &'static str,
    kind: MetricType,
    help: &'static str,
}

const fn family(name: &'static str, kind: MetricType, help: &'static str) -> Family {
    Family { name, kind, help }
}

const REQUESTS: Family = family(
    "exchange_requests",
    MetricType::Counter,
    "Requests served, by route template, method and status.",
);
const DURATION: Family = family(
    "exchange_request_duration_seconds",
    MetricType::Histogram,
    "Request latency, by route template.",
);
const FAULTS: Family = family(
    "exchange_faults",
    MetricType::Counter,
    "Faults injected on purpose, by kind.",
);
const HOLDING_PAGES: Family = family(
    "exchange_waiting_room_holding_pages",
    MetricType::Counter,
    "Holding pages served to new visitors.",
);
const ACTIVE_SESSIONS: Family = family(
    "exchange_waiting_room_active_sessions",
    MetricType::Gauge,
    "Sessions active within session_idle.",
);
const IN_SERVICE: Family = family(
    "exchange_capacity_in_service",
    MetricType::Gauge,
    "Requests being served, by endpoint class.",
);
const WAITING: Family = family(
    "exchange_capacity_waiting",
    MetricType::Gauge,
    "Requests waiting for a server, by endpoint class.",
);

/// A gauge reported for every gate, and how to read it.
type GateGauge = (&'static Family, fn(&Gate) -> u32);

const GATE_GAUGES: [GateGauge; 2] = [(&IN_SERVICE, Gate::in_service), (&WAITING, Gate::waiting)];

/// The `# HELP` and `# TYPE` lines that open family `f`; its samples follow through the encoder.
fn open<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    f: &Family,
) -> Result<MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(f.name, f.help, None, f.kind)
}

#[derive(Default)]
struct RouteStats {
    /// (method, status) → count; a route sees only a handful of combinations.
    counts: Vec<(Method, u16, u64)>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request counts and latencies by route template, as the `track` middleware records them.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<HashMap<String, RouteStats>>,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        // Look up by &str first so the common case allocates nothing.
        let stats = match routes.get_mut(route) {
            Some(s) => s,
            None => routes.entry(route.to_string()).or_default(),
        };
        match stats
            .counts
            .iter_mut()
            .find(|(m, s, _)| m == method && *s == status)
        {
            Some(c) => c.2 += 1,
            None => stats.counts.push((method.clone(), status, 1)),
        }
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            stats.buckets[i] += 1;
        }
        stats.sum += seconds;
        stats.count += 1;
    }

    /// The request families: counts by route, method and status, then latencies by route.
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        let mut requests = open(encoder, &REQUESTS)?;
        for name in &names {
            for (method, status, count) in &routes[*name].counts {
                let status = status.to_string();
                let labels = [
                    ("route", name.as_str()),
                    ("method", method.as_str()),
                    ("status", status.as_str()),
                ];
                ConstCounter::new(*count).encode(requests.encode_family(&labels)?)?;
            }
        }
        let mut duration = open(encoder, &DURATION)?;
        for name in &names {
            let r = &routes[*name];
            // Counts per bucket (the encoder adds them up); above the last bound, the rest.
            let mut buckets: Vec<(f64, u64)> = BUCKETS.iter().copied().zip(r.buckets).collect();
            buckets.push((f64::INFINITY, r.count - r.buckets.iter().sum::<u64>()));
            duration
                .encode_family(&[("route", name.as_str())])?
                .encode_histogram::<NoLabelSet>(r.sum, r.count, &buckets, None)?;
        }
        Ok(())
    }
}

struct Reported {
    requests: Metrics,
    faults: FaultCounters,
    capacity: CapacityState,
    room: RoomState,
}

/// The metrics' part of the exchange's state: the request statistics they own, and handles on the
/// fault counters, the capacity and the waiting room, whose figures `/metrics` reports.
#[derive(Clone)]
pub struct MetricsState {
    reported: Arc<Reported>,
    registry: Arc<Registry>,
}

impl MetricsState {
    pub fn new(faults: FaultCounters, capacity: CapacityState, room: RoomState) -> Self {
        let reported = Arc::new(Reported {
            requests: Metrics::default(),
            faults,
            capacity,
            room,
        });
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposed(reported.clone())));
        MetricsState {
            reported,
            registry: Arc::new(registry),
        }
    }

    /// The request statistics.
    pub fn requests(&self) -> &Metrics {
        &self.reported.requests
    }

    /// The text of `/metrics` (OpenMetrics text, which Prometheus reads).
    pub fn render(&self) -> String {
        let mut body = String::new();
        // Writing into a String cannot fail, nor can the collector: its figures are all there.
        let _ = prometheus_client::encoding::text::encode(&mut body, &self.registry);
        body
    }
}

/// What `/metrics` reports, read when it is asked for.
struct Exposed(Arc<Reported>);

impl std::fmt::Debug for Exposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exposed")
    }
}

impl Collector for Exposed {
    /// Request metrics, then faults, the waiting room and capacity.
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Reported {
            requests,
            faults,
            capacity,
            room,
        } = &*self.0;
        requests.encode(&mut encoder)?;
        let mut family = open(&mut encoder, &FAULTS)?;
        for kind in Kind::ALL {
            let labels = [("kind", kind.label())];
            ConstCounter::new(faults.get(kind)).encode(family.encode_family(&labels)?)?;
        }
        if let Some(room) = room.room() {
            ConstCounter::new(room.holding_pages()).encode(open(&mut encoder, &HOLDING_PAGES)?)?;
            ConstGauge::new(room.active() as i64).encode(open(&mut encoder, &ACTIVE_SESSIONS)?)?;
        }
        if capacity.iter().next().is_some() {
            for (f, value) in GATE_GAUGES {
                let mut family = open(&mut encoder, f)?;
                for gate in capacity.iter() {
                    let labels = [("class", gate.class().label())];
                    ConstGauge::new(i64::from(value(gate)))
                        .encode(family.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}

/// Middleware: time the request and count it under its route template (never the raw path).
pub async fn track(State(metrics): State<MetricsState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // MatchedPath holds an Arc<str>: cloning it is cheap.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.requests().observe(
        route,
        &method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

pub async fn handler(State(metrics): State<MetricsState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::exchange::behaviour::{
        Behaviour, Capacity, EndpointClass, ScenarioClock, WaitingRoom,
    };
    use crate::exchange::AppState;

    /// The exposition, byte for byte: the sample names, labels and values scrapers have always
    /// read, in OpenMetrics text as prometheus-client writes it (a counter's family is named
    /// without `_total`, `le` comes first, `# EOF` ends it).
    const PINNED: &str = r#"# HELP exchange_requests Requests served, by route template, method and status.
# TYPE exchange_requests counter
exchange_requests_total{route="/a\"b\\c",method="POST",status="201"} 1
exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="200"} 2
exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="404"} 1
# HELP exchange_request_duration_seconds Request latency, by route template.
# TYPE exchange_request_duration_seconds histogram
exchange_request_duration_seconds_sum{route="/a\"b\\c"} 12.5
exchange_request_duration_seconds_count{route="/a\"b\\c"} 1
exchange_request_duration_seconds_bucket{le="0.0005",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.001",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.0025",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.005",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.01",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.025",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.05",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.1",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.25",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="0.5",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="1.0",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="2.5",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="5.0",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="10.0",route="/a\"b\\c"} 0
exchange_request_duration_seconds_bucket{le="+Inf",route="/a\"b\\c"} 1
exchange_request_duration_seconds_sum{route="/api/v1/plans/{plan_id}"} 0.7034999999999999
exchange_request_duration_seconds_count{route="/api/v1/plans/{plan_id}"} 3
exchange_request_duration_seconds_bucket{le="0.0005",route="/api/v1/plans/{plan_id}"} 1
exchange_request_duration_seconds_bucket{le="0.001",route="/api/v1/plans/{plan_id}"} 1
exchange_request_duration_seconds_bucket{le="0.0025",route="/api/v1/plans/{plan_id}"} 1
exchange_request_duration_seconds_bucket{le="0.005",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.01",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.025",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.05",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.1",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.25",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="0.5",route="/api/v1/plans/{plan_id}"} 2
exchange_request_duration_seconds_bucket{le="1.0",route="/api/v1/plans/{plan_id}"} 3
exchange_request_duration_seconds_bucket{le="2.5",route="/api/v1/plans/{plan_id}"} 3
exchange_request_duration_seconds_bucket{le="5.0",route="/api/v1/plans/{plan_id}"} 3
exchange_request_duration_seconds_bucket{le="10.0",route="/api/v1/plans/{plan_id}"} 3
exchange_request_duration_seconds_bucket{le="+Inf",route="/api/v1/plans/{plan_id}"} 3
# HELP exchange_faults Faults injected on purpose, by kind.
# TYPE exchange_faults counter
exchange_faults_total{kind="broken_link"} 2
exchange_faults_total{kind="dead_link"} 0
exchange_faults_total{kind="saml_rejected"} 0
exchange_faults_total{kind="payment_fails"} 0
exchange_faults_total{kind="missing_834"} 0
exchange_faults_total{kind="duplicate_834"} 0
exchange_faults_total{kind="no_premium_834"} 0
exchange_faults_total{kind="wrong_insurer_834"} 0
exchange_faults_total{kind="error_window"} 0
exchange_faults_total{kind="error_window_delay"} 0
exchange_faults_total{kind="capacity_queue_full"} 0
exchange_faults_total{kind="capacity_queue_timeout"} 0
exchange_faults_total{kind="waiting_room"} 1
# HELP exchange_waiting_room_holding_pages Holding pages served to new visitors.
# TYPE exchange_waiting_room_holding_pages counter
exchange_waiting_room_holding_pages_total 0
# HELP exchange_waiting_room_active_sessions Sessions active within session_idle.
# TYPE exchange_waiting_room_active_sessions gauge
exchange_waiting_room_active_sessions 0
# HELP exchange_capacity_in_service Requests being served, by endpoint class.
# TYPE exchange_capacity_in_service gauge
exchange_capacity_in_service{class="browse"} 0
exchange_capacity_in_service{class="insurer"} 0
# HELP exchange_capacity_waiting Requests waiting for a server, by endpoint class.
# TYPE exchange_capacity_waiting gauge
exchange_capacity_waiting{class="browse"} 0
exchange_capacity_waiting{class="insurer"} 0
# EOF
=====
# HELP exchange_requests Requests served, by route template, method and status.
# TYPE exchange_requests counter
exchange_requests_total{route="unmatched",method="GET",status="404"} 1
# HELP exchange_request_duration_seconds Request latency, by route template.
# TYPE exchange_request_duration_seconds histogram
exchange_request_duration_seconds_sum{route="unmatched"} 0.0001
exchange_request_duration_seconds_count{route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.0005",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.001",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.0025",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.005",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.01",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.025",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.05",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.1",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.25",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="0.5",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="1.0",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="2.5",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="5.0",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="10.0",route="unmatched"} 1
exchange_request_duration_seconds_bucket{le="+Inf",route="unmatched"} 1
# HELP exchange_faults Faults injected on purpose, by kind.
# TYPE exchange_faults counter
exchange_faults_total{kind="broken_link"} 0
exchange_faults_total{kind="dead_link"} 0
exchange_faults_total{kind="saml_rejected"} 0
exchange_faults_total{kind="payment_fails"} 0
exchange_faults_total{kind="missing_834"} 0
exchange_faults_total{kind="duplicate_834"} 0
exchange_faults_total{kind="no_premium_834"} 0
exchange_faults_total{kind="wrong_insurer_834"} 0
exchange_faults_total{kind="error_window"} 0
exchange_faults_total{kind="error_window_delay"} 0
exchange_faults_total{kind="capacity_queue_full"} 0
exchange_faults_total{kind="capacity_queue_timeout"} 0
exchange_faults_total{kind="waiting_room"} 0
# EOF
"#;

    #[test]
    fn the_exposition_is_pinned() {
        let capacity = Capacity {
            median: Duration::from_millis(10),
            p99: Duration::from_millis(20),
            concurrency: 3,
            queue: 1,
            queue_timeout: Duration::from_secs(1),
        };
        let behaviour = Behaviour {
            capacity: BTreeMap::from([
                (EndpointClass::Browse, capacity.clone()),
                (EndpointClass::Insurer, capacity),
            ]),
            waiting_room: Some(WaitingRoom {
                at: 5,
                session_idle: Duration::from_secs(60),
                retry_after: Duration::from_secs(60),
            }),
            ..Default::default()
        };
        let state = AppState::with_behaviour(
            b"k".to_vec(),
            "http://x",
            behaviour,
            ScenarioClock::default(),
        );
        let requests = state.metrics().requests();
        requests.observe("/api/v1/plans/{plan_id}", &Method::GET, 200, 0.003);
        requests.observe("/api/v1/plans/{plan_id}", &Method::GET, 404, 0.7);
        requests.observe("/api/v1/plans/{plan_id}", &Method::GET, 200, 0.0005);
        requests.observe("/a\"b\\c", &Method::POST, 201, 12.5);
        state.fault(Kind::BrokenLink);
        state.fault(Kind::BrokenLink);
        state.fault(Kind::WaitingRoom);
        let plain = AppState::new(b"k".to_vec(), "http://x");
        plain
            .metrics()
            .requests()
            .observe("unmatched", &Method::GET, 404, 0.0001);
        let text = format!(
            "{}=====\n{}",
            state.metrics().render(),
            plain.metrics().render()
        );
        assert_eq!(text, PINNED);
    }
}
