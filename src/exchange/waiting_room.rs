//! The waiting room: when `at` sessions are active, new visitors get a holding page (503 with
//! `Retry-After`) until a place frees up. A session is an `exchange_session` cookie handed out on
//! admission; it stays active while it makes a request at least every `session_idle` (scenario
//! time, converted to wall time with the scenario clock's scale).
//!
//! The room owns its state, [`RoomState`]: its sessions and counts, and a handle on the fault
//! counters. The `admit` middleware takes only that part of the exchange's state (axum's
//! `FromRef`); an exchange without a waiting room has an empty `RoomState`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::behaviour::{ScenarioClock, WaitingRoom};
use super::faults::{self, FaultCounters, Kind};

pub const COOKIE: &str = "exchange_session";

/// How often, at most, a full room looks for idle sessions to expire.
const SWEEP_EVERY: Duration = Duration::from_millis(20);

pub const HOLDING_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Please wait | HealthCare.gov</title></head>
<body>
<h1>Please wait</h1>
<p>HealthCare.gov has a lot of visitors right now! We need you to wait here for a few minutes. Please
don't leave this page: we'll take you to the next step as soon as we can.</p>
</body></html>
"#;

struct Sessions {
    last_seen: HashMap<u64, Instant>,
    last_sweep: Instant,
}

/// The room's live state.
pub struct Room {
    at: usize,
    /// `session_idle` in wall time.
    idle: Duration,
    /// `Retry-After`, whole wall seconds, at least 1.
    retry_after: u64,
    seed: u64,
    sessions: Mutex<Sessions>,
    issued: AtomicU64,
    holding_pages: AtomicU64,
    faults: FaultCounters,
}

impl Room {
    pub fn new(
        room: &WaitingRoom,
        clock: &ScenarioClock,
        seed: u64,
        faults: FaultCounters,
    ) -> Self {
        Room {
            at: usize::try_from(room.at).unwrap_or(usize::MAX),
            idle: clock.to_wall(room.session_idle),
            // Scenario seconds, as the exchange would say them; a visitor replaying the morning
            // faster waits them `time_scale` times faster.
            retry_after: (room.retry_after.as_secs_f64().ceil() as u64).max(1),
            seed,
            sessions: Mutex::new(Sessions {
                last_seen: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            issued: AtomicU64::new(0),
            holding_pages: AtomicU64::new(0),
            faults,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A returning visitor: is `token` an active session? If so it is refreshed; an idle one is
    /// forgotten.
    fn touch(&self, token: u64, now: Instant) -> bool {
        let mut s = self.lock();
        match s.last_seen.get_mut(&token) {
            Some(last) if now.saturating_duration_since(*last) < self.idle => {
                *last = now;
                true
            }
            Some(_) => {
                s.last_seen.remove(&token);
                false
            }
            None => false,
        }
    }

    /// A new visitor: a new session token if there is room.
    fn enter(&self, now: Instant) -> Option<u64> {
        let mut s = self.lock();
        if s.last_seen.len() >= self.at
            && now.saturating_duration_since(s.last_sweep) >= SWEEP_EVERY
        {
            let idle = self.idle;
            s.last_seen
                .retain(|_, last| now.saturating_duration_since(*last) < idle);
            s.last_sweep = now;
        }
        if s.last_seen.len() >= self.at {
            return None;
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let token = faults::hash(self.seed, "session", n);
        s.last_seen.insert(token, now);
        Some(token)
    }

    /// Sessions that made a request within `session_idle`.
    pub fn active(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .last_seen
            .values()
            .filter(|last| now.saturating_duration_since(**last) < self.idle)
            .count()
    }

    /// Holding pages served so far.
    pub fn holding_pages(&self) -> u64 {
        self.holding_pages.load(Ordering::Relaxed)
    }
}

/// The waiting room's part of the exchange's state: a cheap handle on its [`Room`], if the
/// behaviour has one.
#[derive(Clone, Default)]
pub struct RoomState(Option<Arc<Room>>);

impl RoomState {
    /// The room of `room`, or none.
    pub fn new(
        room: Option<&WaitingRoom>,
        clock: &ScenarioClock,
        seed: u64,
        faults: FaultCounters,
    ) -> Self {
        RoomState(room.map(|r| Arc::new(Room::new(r, clock, seed, faults))))
    }

    /// The room, when the behaviour has one.
    pub fn room(&self) -> Option<&Room> {
        self.0.as_deref()
    }
}

/// The `exchange_session` token in the request's cookies.
fn session_token(request: &Request) -> Option<u64> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| u64::from_str_radix(value.trim(), 16).ok())?
        })
}

/// The routes the room guards: the API (but its docs) and the insurers.
fn guarded(path: &str) -> bool {
    (path.starts_with("/api/v1/") && path != "/api/v1/docs") || path.starts_with("/issuers/")
}

/// Middleware: admit sessions, let new visitors in while there is room, hold the others.
pub async fn admit(State(room): State<RoomState>, request: Request, next: Next) -> Response {
    let Some(room) = room.room() else {
        return next.run(request).await;
    };
    if !guarded(request.uri().path()) {
        return next.run(request).await;
    }
    let now = Instant::now();
    if let Some(token) = session_token(&request) {
        if room.touch(token, now) {
            return next.run(request).await;
        }
    }
    match room.enter(now) {
        Some(token) => {
            let mut response = next.run(request).await;
            if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token:016x}; Path=/")) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        None => {
            room.holding_pages.fetch_add(1, Ordering::Relaxed);
            room.faults.add(Kind::WaitingRoom);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                    (header::RETRY_AFTER, room.retry_after.to_string()),
                    (
                        header::HeaderName::from_static("x-waiting-room"),
                        "1".to_string(),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                HOLDING_PAGE,
            )
                .into_response()
        }
    }
}
