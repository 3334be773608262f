//! Error windows: from `at` on the scenario clock, for `lasting`, a share of requests on some paths
//! fail with a Marketplace error, or are answered late.
//!
//! The windows own their state, [`WindowsState`]: the windows with their per-route counters, the
//! scenario clock they open and close on, the seed of their draws, and a handle on the fault
//! counters. The `inject` middleware takes only that part of the exchange's state (axum's
//! `FromRef`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::behaviour::{ErrorWindow, ScenarioClock};
use super::error::ApiError;
use super::faults::{self, FaultCounters, Kind};

/// One window, ready to use.
pub struct Window {
    /// Seconds since midnight on the scenario clock: `[start, end)`.
    start: f64,
    end: f64,
    paths: Vec<String>,
    share: f64,
    status: StatusCode,
    body: Vec<u8>,
    delay: Option<Duration>,
    /// Requests seen per route template while the window is open: the item of each draw.
    counters: Mutex<HashMap<String, u64>>,
}

impl Window {
    fn new(w: &ErrorWindow) -> Self {
        let start = crate::units::parse_clock(&w.at).unwrap_or(f64::INFINITY);
        let status = StatusCode::from_u16(w.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "code": w.code,
            "status": status.as_str(),
            "message": ApiError::message_of(&w.code),
            "error": format!("error window from {} for {:?}", w.at, w.lasting),
        });
        Window {
            start,
            end: start + w.lasting.as_secs_f64(),
            paths: w.paths.clone(),
            share: w.share,
            status,
            body: serde_json::to_vec(&body).unwrap_or_default(),
            delay: w.delay,
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn applies(&self, now: f64, path: &str) -> bool {
        (self.start..self.end).contains(&now)
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p.as_str())))
    }

    /// Does the window hit this request? Drawn from the request's identity when surge sent one
    /// (so the same visits fail whatever the timing), else from its count on the route.
    fn hits(&self, seed: u64, index: usize, route: &str, identity: Option<u64>) -> bool {
        if let Some(identity) = identity {
            let item = faults::hash(index as u64, route, identity);
            return faults::hits(seed, "error_window", item, self.share);
        }
        let n = {
            let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let n = match counters.get_mut(route) {
                Some(n) => n,
                None => counters.entry(route.to_string()).or_default(),
            };
            *n += 1;
            *n
        };
        let item = faults::hash(index as u64, route, n);
        faults::hits(seed, "error_window", item, self.share)
    }
}

/// Every window of the behaviour, with what they need to open, draw and count.
pub struct Windows {
    windows: Vec<Window>,
    clock: ScenarioClock,
    seed: u64,
    faults: FaultCounters,
}

/// The error windows' part of the exchange's state: a cheap handle on its [`Windows`].
#[derive(Clone)]
pub struct WindowsState(Arc<Windows>);

impl WindowsState {
    pub fn new(
        windows: &[ErrorWindow],
        clock: ScenarioClock,
        seed: u64,
        faults: FaultCounters,
    ) -> Self {
        WindowsState(Arc::new(Windows {
            windows: windows.iter().map(Window::new).collect(),
            clock,
            seed,
            faults,
        }))
    }
}

/// Middleware: fail or delay the requests an open window hits; never the operational routes
/// (`/metrics`, `/healthz`, `/staging/…`).
pub async fn inject(
    State(WindowsState(windows)): State<WindowsState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if windows.windows.is_empty() || super::capacity::operational(path) {
        return next.run(request).await;
    }
    let now = windows.clock.now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(path, MatchedPath::as_str);
    let identity = faults::request_identity(request.headers());
    for (i, w) in windows.windows.iter().enumerate() {
        if !w.applies(now, path) || !w.hits(windows.seed, i, route, identity) {
            continue;
        }
        if let Some(delay) = w.delay {
            windows.faults.add(Kind::ErrorWindowDelay);
            tokio::time::sleep(windows.clock.to_wall(delay)).await;
            return next.run(request).await;
        }
        windows.faults.add(Kind::ErrorWindow);
        let mut response = Response::new(Body::from(w.body.clone()));
        *response.status_mut() = w.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        return response;
    }
    next.run(request).await
}
