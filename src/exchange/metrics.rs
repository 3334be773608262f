//! Prometheus metrics: request counts by route template, method and status, and a latency histogram.
//! Hand-written text exposition keeps the dependency list short.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::capacity;
use super::faults::Kind;
use super::state::AppState;

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct RouteStats {
    /// (method, status) → count; a route sees only a handful of combinations.
    counts: Vec<(Method, u16, u64)>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

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

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP exchange_requests_total Requests served, by route template, method and status.\n");
        out.push_str("# TYPE exchange_requests_total counter\n");
        for name in &names {
            let r = &routes[*name];
            for (m, s, c) in &r.counts {
                let _ = writeln!(
                    out,
                    "exchange_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}",
                    escape(name),
                    m,
                    s,
                    c
                );
            }
        }
        out.push_str(
            "# HELP exchange_request_duration_seconds Request latency, by route template.\n",
        );
        out.push_str("# TYPE exchange_request_duration_seconds histogram\n");
        for name in &names {
            let r = &routes[*name];
            let route = escape(name);
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(r.buckets) {
                cumulative += n;
                let _ = writeln!(out, "exchange_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(
                out,
                "exchange_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                r.count
            );
            let _ = writeln!(
                out,
                "exchange_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                r.sum
            );
            let _ = writeln!(
                out,
                "exchange_request_duration_seconds_count{{route=\"{route}\"}} {}",
                r.count
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: time the request and count it under its route template (never the raw path).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // MatchedPath holds an Arc<str>: cloning it is cheap.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state.metrics.observe(
        route,
        &method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_all(&state),
    )
}

/// Request metrics, then faults, capacity and the waiting room.
pub fn render_all(state: &AppState) -> String {
    let mut out = state.metrics.render();
    out.push_str("# HELP exchange_faults_total Faults injected on purpose, by kind.\n");
    out.push_str("# TYPE exchange_faults_total counter\n");
    for kind in Kind::ALL {
        let _ = writeln!(
            out,
            "exchange_faults_total{{kind=\"{}\"}} {}",
            kind.label(),
            state.faults.get(kind)
        );
    }
    if let Some(room) = &state.room {
        out.push_str("# HELP exchange_waiting_room_holding_pages_total Holding pages served to new visitors.\n");
        out.push_str("# TYPE exchange_waiting_room_holding_pages_total counter\n");
        let _ = writeln!(
            out,
            "exchange_waiting_room_holding_pages_total {}",
            room.holding_pages()
        );
        out.push_str(
            "# HELP exchange_waiting_room_active_sessions Sessions active within session_idle.\n",
        );
        out.push_str("# TYPE exchange_waiting_room_active_sessions gauge\n");
        let _ = writeln!(
            out,
            "exchange_waiting_room_active_sessions {}",
            room.active()
        );
    }
    if state.gates.iter().next().is_some() {
        out.push_str(
            "# HELP exchange_capacity_in_service Requests being served, by endpoint class.\n",
        );
        out.push_str("# TYPE exchange_capacity_in_service gauge\n");
        for gate in state.gates.iter() {
            let _ = writeln!(
                out,
                "exchange_capacity_in_service{{class=\"{}\"}} {}",
                capacity::label(gate.class()),
                gate.in_service()
            );
        }
        out.push_str(
            "# HELP exchange_capacity_waiting Requests waiting for a server, by endpoint class.\n",
        );
        out.push_str("# TYPE exchange_capacity_waiting gauge\n");
        for gate in state.gates.iter() {
            let _ = writeln!(
                out,
                "exchange_capacity_waiting{{class=\"{}\"}} {}",
                capacity::label(gate.class()),
                gate.waiting()
            );
        }
    }
    out
}
