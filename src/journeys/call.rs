//! One HTTP request of a journey: sent through Goose (so Goose's own report counts it), timed to the
//! end of the body, judged by the journey, and recorded in the run's `Recorder`.

use goose::prelude::*;
use serde::de::DeserializeOwned;

use super::VisitState;
use crate::measure::{Outcome, Step};

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

/// A finished request: status and body text.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("unexpected body ({e})"))
    }
}

/// Send one request of `step`, named `name` in Goose's report, and accept it only if the status is
/// `expected` and `judge` accepts the body.
#[allow(clippy::too_many_arguments)]
pub async fn call<T>(
    user: &mut GooseUser,
    state: &mut VisitState<'_>,
    step: Step,
    name: &'static str,
    method: GooseMethod,
    url: &str,
    body: Body<'_>,
    expected: u16,
    judge: impl FnOnce(&Reply) -> Result<T, String>,
) -> Result<T, StepFailed> {
    let fail = |reason: String| StepFailed { step, reason };
    let builder = user
        .get_request_builder(&method, url)
        .map_err(|e| fail(format!("{name}: bad URL {url} ({e})")))?;
    let builder = match body {
        Body::None => builder,
        Body::Json(value) => builder.json(value),
        Body::Form(fields) => builder.form(fields),
    };
    let request = GooseRequest::builder()
        .method(method)
        .path(url)
        .name(name)
        .expect_status_code(expected)
        .set_request_builder(builder)
        .build();

    let started = state.request_start();
    let mut goose = match user.request(request).await {
        Ok(goose) => goose,
        Err(e) => return Err(fail(format!("{name}: not sent ({e})"))),
    };
    let received = match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(body) => Ok(Reply { status, body }),
                Err(e) => Err((classify(&e), format!("{name}: body cut short"))),
            }
        }
        Err(ref e) => {
            let outcome = classify(e);
            let what = match outcome {
                Outcome::Timeout => "timed out",
                Outcome::Connect => "connection refused",
                _ => "transport error",
            };
            Err((outcome, format!("{name}: {what}")))
        }
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
        judge(&reply).map_err(|why| format!("{name}: {why}"))
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
                let _ = user.set_failure(&reason, &mut goose.request, None, None);
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

fn classify(error: &reqwest::Error) -> Outcome {
    if error.is_timeout() {
        Outcome::Timeout
    } else if error.is_connect() {
        Outcome::Connect
    } else {
        Outcome::Transport
    }
}
