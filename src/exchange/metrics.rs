//! Prometheus metrics: request counts by route template, method and status, a latency histogram,
//! and the counters and gauges of the faults, the waiting room and the capacity.
//! Hand-written text exposition keeps the dependency list short.
//!
//! The metrics own the request statistics ([`Metrics`]); the other parts own their counters and
//! gauges, and [`MetricsState`] holds handles on them to report them. The `track` middleware and
//! the `/metrics` handler take only this part of the exchange's state (axum's `FromRef`). Every
//! family is written the same way, by [`Exposition`], from its name, type and help in one table.

use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::capacity::{CapacityState, Gate};
use super::faults::{FaultCounters, Kind};
use super::waiting_room::RoomState;

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A metric family: its name, its type and its help line.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

const fn family(name: &'static str, kind: &'static str, help: &'static str) -> Family {
    Family { name, kind, help }
}

const REQUESTS: Family = family(
    "exchange_requests_total",
    "counter",
    "Requests served, by route template, method and status.",
);
const DURATION: Family = family(
    "exchange_request_duration_seconds",
    "histogram",
    "Request latency, by route template.",
);
const FAULTS: Family = family(
    "exchange_faults_total",
    "counter",
    "Faults injected on purpose, by kind.",
);
const HOLDING_PAGES: Family = family(
    "exchange_waiting_room_holding_pages_total",
    "counter",
    "Holding pages served to new visitors.",
);
const ACTIVE_SESSIONS: Family = family(
    "exchange_waiting_room_active_sessions",
    "gauge",
    "Sessions active within session_idle.",
);
const IN_SERVICE: Family = family(
    "exchange_capacity_in_service",
    "gauge",
    "Requests being served, by endpoint class.",
);
const WAITING: Family = family(
    "exchange_capacity_waiting",
    "gauge",
    "Requests waiting for a server, by endpoint class.",
);

/// A gauge reported for every gate, and how to read it.
type GateGauge = (&'static Family, fn(&Gate) -> u32);

const GATE_GAUGES: [GateGauge; 2] = [(&IN_SERVICE, Gate::in_service), (&WAITING, Gate::waiting)];

/// Prometheus text exposition format 0.0.4, written family by family.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    /// The `# HELP` and `# TYPE` lines that open a family.
    fn family(&mut self, f: &Family) {
        let _ = writeln!(self.0, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(self.0, "# TYPE {} {}", f.name, f.kind);
    }

    /// One sample of family `f`: `name{labels} value`, the name followed by `suffix` (`_bucket`,
    /// `_sum`, `_count` for a histogram), no braces when there are no labels.
    fn sample(&mut self, f: &Family, suffix: &str, labels: &[(&str, &str)], value: impl Display) {
        let out = &mut self.0;
        out.push_str(f.name);
        out.push_str(suffix);
        for (i, (label, v)) in labels.iter().enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            let _ = write!(out, "{label}=\"{}\"", escape(v));
        }
        if !labels.is_empty() {
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
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

    /// The request families alone, in Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        self.write(&mut out);
        out.0
    }

    fn write(&self, out: &mut Exposition) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        out.family(&REQUESTS);
        for name in &names {
            for (method, status, count) in &routes[*name].counts {
                let labels = [
                    ("route", name.as_str()),
                    ("method", method.as_str()),
                    ("status", &status.to_string()),
                ];
                out.sample(&REQUESTS, "", &labels, count);
            }
        }
        out.family(&DURATION);
        for name in &names {
            let r = &routes[*name];
            let route = ("route", name.as_str());
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(r.buckets) {
                cumulative += n;
                out.sample(
                    &DURATION,
                    "_bucket",
                    &[route, ("le", &b.to_string())],
                    cumulative,
                );
            }
            out.sample(&DURATION, "_bucket", &[route, ("le", "+Inf")], r.count);
            out.sample(&DURATION, "_sum", &[route], r.sum);
            out.sample(&DURATION, "_count", &[route], r.count);
        }
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
pub struct MetricsState(Arc<Reported>);

impl MetricsState {
    pub fn new(faults: FaultCounters, capacity: CapacityState, room: RoomState) -> Self {
        MetricsState(Arc::new(Reported {
            requests: Metrics::default(),
            faults,
            capacity,
            room,
        }))
    }

    /// The request statistics.
    pub fn requests(&self) -> &Metrics {
        &self.0.requests
    }

    /// Request metrics, then faults, the waiting room and capacity: the text of `/metrics`.
    pub fn render(&self) -> String {
        let Reported {
            requests,
            faults,
            capacity,
            room,
        } = &*self.0;
        let mut out = Exposition::default();
        requests.write(&mut out);
        out.family(&FAULTS);
        for kind in Kind::ALL {
            out.sample(&FAULTS, "", &[("kind", kind.label())], faults.get(kind));
        }
        if let Some(room) = room.room() {
            out.family(&HOLDING_PAGES);
            out.sample(&HOLDING_PAGES, "", &[], room.holding_pages());
            out.family(&ACTIVE_SESSIONS);
            out.sample(&ACTIVE_SESSIONS, "", &[], room.active());
        }
        if capacity.iter().next().is_some() {
            for (family, value) in GATE_GAUGES {
                out.family(family);
                for gate in capacity.iter() {
                    out.sample(family, "", &[("class", gate.class().label())], value(gate));
                }
            }
        }
        out.0
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
            "text/plain; version=0.0.4; charset=utf-8",
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

    /// The exposition scrapers have always read, byte for byte.
    const PINNED: &str = r#"# HELP exchange_requests_total Requests served, by route template, method and status.
# TYPE exchange_requests_total counter
exchange_requests_total{route="/a\"b\\c",method="POST",status="201"} 1
exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="200"} 2
exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="404"} 1
# HELP exchange_request_duration_seconds Request latency, by route template.
# TYPE exchange_request_duration_seconds histogram
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.0005"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.001"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.0025"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.005"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.01"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.025"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.05"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.1"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.25"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="0.5"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="1"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="2.5"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="5"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="10"} 0
exchange_request_duration_seconds_bucket{route="/a\"b\\c",le="+Inf"} 1
exchange_request_duration_seconds_sum{route="/a\"b\\c"} 12.5
exchange_request_duration_seconds_count{route="/a\"b\\c"} 1
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.0005"} 1
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.001"} 1
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.0025"} 1
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.005"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.01"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.025"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.05"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.1"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.25"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="0.5"} 2
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="1"} 3
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="2.5"} 3
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="5"} 3
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="10"} 3
exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="+Inf"} 3
exchange_request_duration_seconds_sum{route="/api/v1/plans/{plan_id}"} 0.7034999999999999
exchange_request_duration_seconds_count{route="/api/v1/plans/{plan_id}"} 3
# HELP exchange_faults_total Faults injected on purpose, by kind.
# TYPE exchange_faults_total counter
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
# HELP exchange_waiting_room_holding_pages_total Holding pages served to new visitors.
# TYPE exchange_waiting_room_holding_pages_total counter
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
=====
# HELP exchange_requests_total Requests served, by route template, method and status.
# TYPE exchange_requests_total counter
exchange_requests_total{route="unmatched",method="GET",status="404"} 1
# HELP exchange_request_duration_seconds Request latency, by route template.
# TYPE exchange_request_duration_seconds histogram
exchange_request_duration_seconds_bucket{route="unmatched",le="0.0005"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.001"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.0025"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.005"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.01"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.025"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.05"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.1"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.25"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="0.5"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="1"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="2.5"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="5"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="10"} 1
exchange_request_duration_seconds_bucket{route="unmatched",le="+Inf"} 1
exchange_request_duration_seconds_sum{route="unmatched"} 0.0001
exchange_request_duration_seconds_count{route="unmatched"} 1
# HELP exchange_faults_total Faults injected on purpose, by kind.
# TYPE exchange_faults_total counter
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
