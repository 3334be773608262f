//! One HTTP request of a journey: sent through Goose (so Goose's own report counts it), timed to the
//! end of the body, judged by the journey, and recorded in the run's `Recorder`.

use std::time::{Duration, Instant};

use goose::goose::GooseResponse;
use goose::prelude::*;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::VisitState;
use crate::vocab::{Outcome, Step};

/// The HTTP methods the journeys use (Goose's own type stays inside this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl From<Method> for GooseMethod {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => GooseMethod::Get,
            Method::Post => GooseMethod::Post,
        }
    }
}

impl VisitState<'_> {
    /// A path made absolute against the target (a full URL is kept as it is).
    pub fn absolute_url(&self, path: &str) -> Option<String> {
        self.user.build_url(path).ok()
    }
}

/// What to send.
pub enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Form(&'a [(String, String)]),
}

/// Why a visit stopped at a step. The text is short and low-cardinality: it keys the failure table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailed {
    pub step: Step,
    pub reason: String,
}

/// Why a reply is not the right answer: a short, low-cardinality reason (it keys the failure table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongReply(pub String);

impl From<String> for WrongReply {
    fn from(reason: String) -> Self {
        WrongReply(reason)
    }
}

impl From<&str> for WrongReply {
    fn from(reason: &str) -> Self {
        WrongReply(reason.to_string())
    }
}

/// A finished request: status and body text.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, WrongReply> {
        serde_json::from_str(&self.body).map_err(|e| WrongReply(format!("unexpected body ({e})")))
    }
}

/// Send one request of `step`, named `name` in Goose's report, and accept it only if the status is
/// `expected` and `judge` accepts the body.
#[allow(clippy::too_many_arguments)]
pub async fn call<T>(
    state: &mut VisitState<'_>,
    step: Step,
    name: &'static str,
    method: Method,
    url: &str,
    body: Body<'_>,
    expected: u16,
    judge: impl FnOnce(&Reply) -> Result<T, WrongReply>,
) -> Result<T, StepFailed> {
    let fail = |reason: String| StepFailed { step, reason };
    let mut started = state.request_start();
    let mut held_since: Option<Instant> = None;
    let (mut metric, received) = loop {
        let builder = state
            .user
            .get_request_builder(&method.into(), url)
            .map_err(|e| fail(format!("{name}: bad URL {url} ({e})")))?;
        let builder = match &body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(fields) => builder.form(fields),
        };
        let builder = match state.cookies.header() {
            Some(cookies) => builder.header(reqwest::header::COOKIE, cookies),
            None => builder,
        };
        let request = GooseRequest::builder()
            .method(method.into())
            .path(url)
            .name(name)
            .expect_status_code(expected)
            .set_request_builder(builder)
            .build();
        // Wait for a free connection inside the measured time: a saturated generator shows up as
        // latency, never as requests that were quietly not sent.
        let permit = state.run.connections.acquire().await;
        let GooseResponse {
            request: metric,
            response,
        } = match state.user.request(request).await {
            Ok(goose) => goose,
            Err(e) => return Err(fail(format!("{name}: not sent ({e})"))),
        };
        let (received, hold) = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                state.cookies.store(response.headers());
                let hold = waiting_room_hold(status, response.headers());
                let body = response.text().await;
                drop(permit);
                match body {
                    Ok(body) => (Ok(Reply { status, body }), hold),
                    Err(e) => (Err((classify(&e), format!("{name}: body cut short"))), None),
                }
            }
            Err(e) => {
                let outcome = classify(&e);
                let what = match outcome {
                    Outcome::Timeout => "timed out".to_string(),
                    Outcome::Connect => format!("cannot connect ({})", root_cause(&e)),
                    _ => format!("transport error ({})", root_cause(&e)),
                };
                (Err((outcome, format!("{name}: {what}"))), None)
            }
        };
        // Retry-After is the exchange's word in real-world (scenario) seconds; a morning replayed
        // `time_scale` times faster waits it that much faster.
        let Some(retry_after) = hold.map(|r| r.div_f64(state.run.time_scale)) else {
            if let Some(since) = held_since {
                state.run.recorder.waited(since.elapsed(), false);
            }
            break (metric, received);
        };
        // The holding page: wait as a person would, then ask again. The wait counts in the
        // visit's latency and on its own, not in this request's.
        let since = *held_since.get_or_insert(started);
        if since.elapsed() + retry_after > state.run.patience {
            state.run.recorder.waited(since.elapsed(), true);
            state
                .run
                .recorder
                .request(step, started.elapsed(), Outcome::Status(503), false);
            return Err(fail("waiting room: gave up waiting".to_string()));
        }
        tokio::time::sleep(retry_after).await;
        started = Instant::now();
    };
    let latency = started.elapsed();
    let recorder = &state.run.recorder;

    let reply = match received {
        Ok(reply) => reply,
        Err((outcome, reason)) => {
            recorder.request(step, latency, outcome, false);
            return Err(fail(reason));
        }
    };
    let verdict = if reply.status != expected {
        Err(status_reason(name, &reply))
    } else {
        judge(&reply).map_err(|why| format!("{name}: {}", why.0))
    };
    recorder.request(
        step,
        latency,
        Outcome::Status(reply.status),
        verdict.is_ok(),
    );
    match verdict {
        Ok(value) => Ok(value),
        Err(reason) => {
            if reply.status == expected {
                // Goose saw a good status; tell it the answer was wrong so its report agrees with ours.
                let _ = state.user.set_failure(&reason, &mut metric, None, None);
            }
            Err(fail(reason))
        }
    }
}

/// "plan search: HTTP 404 (code 1006)" — the Marketplace error code, when the body has one.
fn status_reason(name: &str, reply: &Reply) -> String {
    let code = serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str().map(String::from)));
    match code {
        Some(code) => format!("{name}: HTTP {} (code {code})", reply.status),
        None => format!("{name}: HTTP {}", reply.status),
    }
}

/// A waiting room's holding page (503 with `X-Waiting-Room`): how long it asks us to wait.
fn waiting_room_hold(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if status != 503 || !headers.contains_key("x-waiting-room") {
        return None;
    }
    let seconds = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Some(Duration::from_secs_f64(seconds.max(0.05)))
}

/// The innermost cause of a transport error — "Connection refused (os error 111)", "Too many open
/// files (os error 24)" — so the failure table says which wall was hit.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

fn classify(error: &reqwest::Error) -> Outcome {
    if error.is_timeout() {
        Outcome::Timeout
    } else if error.is_connect() {
        Outcome::Connect
    } else {
        Outcome::Transport
    }
}
