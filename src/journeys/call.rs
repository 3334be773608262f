//! One HTTP request of a journey: sent through Goose (so Goose's own report counts it), timed to the
//! end of the body, held in a waiting room as a person would be, and recorded in the run's
//! `Recorder` once the journey has judged the reply ([`send`] then [`settle`]).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use goose::goose::GooseResponse;
use goose::metrics::GooseRequestMetric;
use goose::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::RequestError;
use super::reply::Reply;
use super::{HttpLimits, VisitState};
use crate::journey_file::program::Method;
use crate::measure::exemplars::{excerpt, head, BODY_BYTES};
use crate::rundir::exemplars::Exemplar;
use crate::units::ByteSize;
use crate::vocab::{Outcome, StepId, OUTCOME_CLASSES, REQUEST_HEADER, VISIT_HEADER};

impl From<Method> for reqwest::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
        }
    }
}

impl From<Method> for GooseMethod {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => GooseMethod::Get,
            Method::Post => GooseMethod::Post,
            Method::Put => GooseMethod::Put,
            Method::Patch => GooseMethod::Patch,
            Method::Delete => GooseMethod::Delete,
            Method::Head => GooseMethod::Head,
        }
    }
}

/// What to send.
pub enum Body {
    None,
    /// Serialised as the request is built (no `serde_json::Value` tree in between); shared, not
    /// copied, by each hop that sends it.
    Json(Bytes),
    Form(Vec<(String, String)>),
}

/// Why a visit stopped at a step. The text is short and low-cardinality: it keys the failure table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailed {
    pub step: StepId,
    pub reason: String,
}

/// A request, as the journey file describes it, ready to send.
pub struct Outgoing<'a> {
    pub step: StepId,
    pub label: &'a str,
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

/// A reply received, not yet judged.
pub struct Sent {
    step: StepId,
    method: Method,
    metric: GooseRequestMetric,
    latency: Duration,
    pub reply: Reply,
}

/// Send `outgoing` and wait for the whole reply, following redirects and holding in a waiting room
/// when asked. A request that got no reply to judge is recorded and returned as the step's failure.
pub async fn send(state: &mut VisitState<'_>, outgoing: Outgoing<'_>) -> Result<Sent, StepFailed> {
    let Outgoing {
        step,
        label,
        method,
        mut url,
        headers,
        query,
        body,
    } = outgoing;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(&query);
    }
    let fail = |reason: String| StepFailed {
        step,
        reason: state.run.program.access.redact(&reason),
    };
    if !state.run.target.allows(&url) {
        return Err(fail(format!(
            "{label}: refused: host {} is not in http.allowed_hosts",
            url.host_str().unwrap_or("(none)")
        )));
    }
    let mut started = state.request_start();
    let mut held_since: Option<Instant> = None;
    // Who is asking, for the embedded exchange's fault draws and a real exchange's logs.
    let identity = [
        (HeaderName::from_static(VISIT_HEADER), state.visit.id.into()),
        (HeaderName::from_static(REQUEST_HEADER), state.sent.into()),
    ];
    state.sent += 1;
    let first = Hop {
        method,
        url,
        headers,
        body,
    };
    let Exchanged {
        metric,
        received,
        started,
    } = loop {
        if held_since.is_none() {
            let Hop {
                url, headers, body, ..
            } = &first;
            super::trace::request(state.run, label, method, url, headers, body);
        }
        let exchanged = follow(state, step, label, &first, &identity, started)
            .await
            .map_err(|e| fail(format!("{label}: not sent ({e})")))?;
        let hold = match &exchanged.received {
            Ok(reply) => {
                super::trace::reply(state.run, reply, exchanged.started.elapsed());
                waiting_room_hold(reply.status, &reply.headers)
            }
            Err(_) => None,
        };
        // Retry-After is the exchange's word in real-world (scenario) seconds; a morning replayed
        // `time_scale` times faster waits it that much faster.
        let Some(retry_after) = hold.map(|r| r.div_f64(state.run.time_scale)) else {
            if let Some(since) = held_since {
                state.run.recorder.waited(since.elapsed(), false);
            }
            break exchanged;
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
    match received {
        Ok(reply) => {
            state.page = Some(reply.url.clone());
            Ok(Sent {
                step,
                method,
                metric,
                latency,
                reply,
            })
        }
        Err(NoReply {
            outcome,
            reason,
            url,
        }) => {
            state.run.recorder.request(step, latency, outcome, false);
            super::trace::note(state.run, || format!("✗ {reason}"));
            let failed = fail(reason);
            let seen = Seen {
                step,
                label,
                method,
                url: &url,
                latency,
                outcome,
                reply: None,
            };
            offer(state, &seen, Some(&failed.reason));
            Err(failed)
        }
    }
}

/// A request as it goes out: the journey's, or a redirect's next hop.
struct Hop {
    method: Method,
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Body,
}

/// What one request (its redirects followed) brought back.
struct Exchanged {
    metric: GooseRequestMetric,
    /// The final reply, or why there was none to judge.
    received: Result<Reply, NoReply>,
    /// When the last hop was sent (the first: the request's start).
    started: Instant,
}

/// A request that brought back no reply to judge.
struct NoReply {
    outcome: Outcome,
    reason: String,
    /// Where its last hop went.
    url: url::Url,
}

/// Send `first` and follow its redirects as a browser would, every hop's host checked against the
/// allowed hosts before anything is sent there, and measured and counted as a request of `step`.
/// Credentials never cross to another origin. Err: the request could not be sent at all.
async fn follow(
    state: &mut VisitState<'_>,
    step: StepId,
    label: &str,
    first: &Hop,
    identity: &[(HeaderName, HeaderValue)],
    mut started: Instant,
) -> Result<Exchanged, Box<TransactionError>> {
    // The run's shared parts, borrowed apart from the visit (whose Goose user each hop borrows).
    let run = state.run;
    let limits = run.limits;
    let no_body = Body::None;
    let (mut method, mut body) = (first.method, &first.body);
    // Owned only once a redirect leads elsewhere.
    let mut url = Cow::Borrowed(&first.url);
    let mut headers = Cow::Borrowed(first.headers.as_slice());
    let mut hops = 0;
    loop {
        let builder = request_builder(state, method, &url, &headers, body, identity);
        let request = GooseRequest::builder()
            .method(method.into())
            .path(url.as_str())
            .name(label)
            .set_request_builder(builder)
            .build();
        // Wait for a free connection inside the measured time: a saturated generator shows up as
        // latency, never as requests that were quietly not sent.
        let permit = run.connections.acquire().await;
        // Ended on every way out below; a request whose visit is abandoned (an interruption)
        // never ends, and is counted as abandoned.
        let recorder = &run.recorder;
        recorder.request_sent();
        let GooseResponse {
            request: metric,
            response,
        } = state.users.request(request).await.inspect_err(|_| {
            recorder.request_ended();
        })?;
        let ended = |metric, broken: Broken, url: Cow<url::Url>| {
            let (outcome, reason) = broken.describe(label, &limits);
            let url = url.into_owned();
            Exchanged {
                metric,
                received: Err(NoReply {
                    outcome,
                    reason,
                    url,
                }),
                started,
            }
        };
        let mut response = match response {
            Ok(response) => response,
            Err(e) => {
                recorder.request_ended();
                return Ok(ended(metric, Broken::of_request(&e), url));
            }
        };
        let status = response.status().as_u16();
        // Taken, not copied: the reply keeps them.
        let reply_headers = std::mem::take(response.headers_mut());
        store_cookies(&mut state.cookies, &reply_headers, &url);
        let Some(location) = redirect_location(status, &reply_headers, &url) else {
            let read = read_body(&mut response, limits.max_reply).await;
            // A body cut off unread closes its connection rather than return it to the pool.
            drop(response);
            drop(permit);
            recorder.request_ended();
            return Ok(match read {
                Ok(bytes) => Exchanged {
                    metric,
                    received: Ok(Reply::new(
                        status,
                        reply_headers,
                        text(bytes),
                        url.into_owned(),
                        run.program.reply_keys.clone(),
                    )),
                    started,
                },
                Err(broken) => ended(metric, broken, url),
            });
        };
        drop(response);
        drop(permit);
        recorder.request_ended();
        let refused = |why: String| Broken::RedirectRefused { status, why };
        let next = match location {
            Ok(next) => next,
            Err(unfollowable) => return Ok(ended(metric, refused(unfollowable.to_string()), url)),
        };
        if hops == limits.max_redirects {
            let why = format!(
                "more than {} redirects (http.max_redirects)",
                limits.max_redirects
            );
            return Ok(ended(metric, refused(why), url));
        }
        if !run.target.allows(&next) {
            let host = next.host_str().unwrap_or("(no host)");
            let why = format!("redirect to {host}, not in http.allowed_hosts");
            return Ok(ended(metric, refused(why), url));
        }
        recorder.request(step, started.elapsed(), Outcome::Status(status), true);
        super::trace::note(run, || format!("↪ {status} to {next}"));
        if next.origin() != url.origin() {
            let access = &run.program.access;
            let kept = headers.iter().filter(|(n, v)| !access.is_credential(n, v));
            headers = Cow::Owned(kept.cloned().collect());
        }
        // As browsers do: 303, and 301/302 after a POST, go on as a GET without the body.
        if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
            method = Method::Get;
            body = &no_body;
        }
        url = Cow::Owned(next);
        hops += 1;
        started = Instant::now();
    }
}

/// The request as the journey (or a redirect) wrote it, with the visit's identity and cookies.
fn request_builder(
    state: &VisitState<'_>,
    method: Method,
    url: &url::Url,
    headers: &[(String, String)],
    body: &Body,
    identity: &[(HeaderName, HeaderValue)],
) -> reqwest::RequestBuilder {
    // The URL is already parsed: hand it to the Goose user's client as it is, instead of as text
    // to be parsed twice more (Goose's build_url, then reqwest).
    let mut builder = state.users.client().request(method.into(), url.clone());
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    for (name, value) in identity {
        builder = builder.header(name, value);
    }
    builder = match body {
        Body::None => builder,
        Body::Json(bytes) => {
            // As reqwest's `json()`: the content type unless the journey set its own.
            let typed = headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
            let builder = match typed {
                true => builder,
                false => builder.header(reqwest::header::CONTENT_TYPE, "application/json"),
            };
            builder.body(bytes.clone())
        }
        Body::Form(fields) => builder.form(fields),
    };
    match cookie_header(&state.cookies, url) {
        Some(cookies) => builder.header(reqwest::header::COOKIE, cookies),
        None => builder,
    }
}

/// A redirect whose Location cannot be followed.
#[derive(Debug, thiserror::Error)]
enum Unfollowable {
    #[error("a redirect whose Location is not text")]
    NotText,
    #[error("a redirect to `{0}`, not an http(s) URL")]
    NotHttp(String),
}

/// Where a redirect goes: None when `status` is not one a browser follows (or it names no
/// Location).
fn redirect_location(
    status: u16,
    headers: &HeaderMap,
    from: &url::Url,
) -> Option<Result<url::Url, Unfollowable>> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let written = headers.get(reqwest::header::LOCATION)?;
    let Ok(text) = written.to_str() else {
        return Some(Err(Unfollowable::NotText));
    };
    Some(
        from.join(text)
            .ok()
            .filter(|next| matches!(next.scheme(), "http" | "https"))
            .ok_or_else(|| Unfollowable::NotHttp(text.to_string())),
    )
}

/// The most a reply's declared length reserves ahead of its bytes.
const RESERVE_AT_MOST: u64 = 1 << 20;

/// The body, read as it arrives and given up past `limit` decoded bytes (the connection then
/// goes): a reply of any size costs at most `limit` of memory.
async fn read_body(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, Broken> {
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(Broken::TooLarge);
    }
    // Sized once from the declared length (capped: a declared length is only a claim) rather than
    // grown chunk by chunk.
    let declared = response.content_length().unwrap_or(0).min(RESERVE_AT_MOST);
    let mut body = Vec::with_capacity(declared as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| Broken::of_body(&e))? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Broken::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Bytes as text, checked as UTF-8 in place (`text()` would copy every body through a lossy
/// decoder first: a profile at saturation put most of surge's gap to Goose there).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Why a request brought back no reply to judge: each kind has its own reason in the failure table.
#[derive(Debug)]
enum Broken {
    /// No reply within `http.timeout`.
    Timeout,
    Connect(String),
    /// The connection was reset, before or during the reply.
    Reset(String),
    /// Any other transport error before the reply.
    Transport(String),
    /// The connection ended before the body did.
    BodyCut(String),
    /// The body was still arriving when `http.timeout` ran out.
    BodyTimeout,
    /// The body passed `http.max_reply`.
    TooLarge,
    /// A redirect not followed: to a host not allowed, one too many, or to no URL.
    RedirectRefused {
        status: u16,
        why: String,
    },
}

impl Broken {
    fn of_request(error: &reqwest::Error) -> Broken {
        // A connect timeout is both: it never reached the target, so it is `connect`.
        if error.is_connect() {
            Broken::Connect(root_cause(error))
        } else if error.is_timeout() {
            Broken::Timeout
        } else if was_reset(error) {
            Broken::Reset(root_cause(error))
        } else {
            Broken::Transport(root_cause(error))
        }
    }

    fn of_body(error: &reqwest::Error) -> Broken {
        if error.is_timeout() {
            Broken::BodyTimeout
        } else if was_reset(error) {
            Broken::Reset(root_cause(error))
        } else {
            Broken::BodyCut(root_cause(error))
        }
    }

    /// The outcome class it is counted under, and its reason.
    fn describe(&self, label: &str, limits: &HttpLimits) -> (Outcome, String) {
        let timeout = format!("{:?}", limits.timeout);
        match self {
            Broken::Timeout => (Outcome::Timeout, format!("{label}: timed out")),
            Broken::Connect(cause) => (
                Outcome::Connect,
                format!("{label}: cannot connect ({cause})"),
            ),
            Broken::Reset(cause) => (
                Outcome::Transport,
                format!("{label}: reset: the connection was reset ({cause})"),
            ),
            Broken::Transport(cause) => (
                Outcome::Transport,
                format!("{label}: transport error ({cause})"),
            ),
            Broken::BodyCut(cause) => (
                Outcome::Transport,
                format!("{label}: body_cut: the reply ended before its body did ({cause})"),
            ),
            Broken::BodyTimeout => (
                Outcome::Timeout,
                format!("{label}: body_timeout: the body was still arriving after {timeout} (http.timeout)"),
            ),
            Broken::TooLarge => (
                Outcome::Transport,
                format!(
                    "{label}: too_large: reply larger than {} (http.max_reply)",
                    ByteSize(limits.max_reply)
                ),
            ),
            Broken::RedirectRefused { status, why } => (
                Outcome::Status(*status),
                format!("{label}: redirect_refused: {why}"),
            ),
        }
    }
}

/// Record a judged reply: `verdict` is the journey's (status, captures, checks).
pub fn settle(
    state: &mut VisitState<'_>,
    mut sent: Sent,
    label: &str,
    verdict: Result<(), RequestError>,
) -> Result<Reply, StepFailed> {
    let status = sent.reply.status;
    state.run.recorder.request(
        sent.step,
        sent.latency,
        Outcome::Status(status),
        verdict.is_ok(),
    );
    let seen = Seen {
        step: sent.step,
        label,
        method: sent.method,
        url: &sent.reply.url,
        latency: sent.latency,
        outcome: Outcome::Status(status),
        reply: Some(&sent.reply),
    };
    match verdict {
        Ok(()) => {
            offer(state, &seen, None);
            super::trace::note(state.run, || "✓ passed".to_string());
            Ok(sent.reply)
        }
        Err(why) => {
            let reason = state.run.program.access.redact(&format!("{label}: {why}"));
            offer(state, &seen, Some(&reason));
            super::trace::note(state.run, || format!("✗ {reason}"));
            // Goose counts a 2xx reply as a success; tell it otherwise, so its report agrees.
            if sent.metric.success {
                state.users.set_failure(&reason, &mut sent.metric);
            }
            Err(StepFailed {
                step: sent.step,
                reason,
            })
        }
    }
}

/// A request as it ended, for an example in `exemplars.jsonl`.
struct Seen<'a> {
    step: StepId,
    label: &'a str,
    method: Method,
    url: &'a url::Url,
    latency: Duration,
    outcome: Outcome,
    reply: Option<&'a Reply>,
}

/// Headers an example keeps: why the visitor was held or what kind of page came back. Never
/// cookies.
const EXAMPLE_HEADERS: [&str; 3] = ["retry-after", "x-waiting-room", "content-type"];

/// Offer the request to the run's examples: as its step's slowest of the interval, and as an
/// example of its failure `reason`. Built only if kept; secrets and the visit's cookie values
/// redacted (a page may echo its session token).
fn offer(state: &VisitState<'_>, seen: &Seen<'_>, reason: Option<&str>) {
    let build = |kind: &str, reason: &str| {
        let access = &state.run.program.access;
        let cookies: Vec<&str> = state
            .cookies
            .iter_any()
            .map(|cookie| cookie.value())
            .filter(|value| value.len() >= 4)
            .collect();
        let redact = |text: &str| {
            cookies.iter().fold(access.redact(text), |text, value| {
                text.replace(value, "[redacted]")
            })
        };
        let reply = seen.reply;
        Exemplar {
            clock: String::new(),
            elapsed_s: 0.0,
            kind: kind.to_string(),
            step: state.run.program.steps.name(seen.step).to_string(),
            reason: reason.to_string(),
            visit: state.visit.id,
            label: seen.label.to_string(),
            method: seen.method.as_str().to_string(),
            url: redact(seen.url.as_str()),
            status: reply.map(|r| r.status),
            outcome: OUTCOME_CLASSES[seen.outcome.class_index()].to_string(),
            latency_ms: seen.latency.as_secs_f64() * 1000.0,
            headers: reply.map_or_else(Default::default, |r| {
                EXAMPLE_HEADERS
                    .iter()
                    .filter_map(|name| {
                        let value = r.headers.get(*name)?.to_str().ok()?;
                        Some((name.to_string(), redact(value)))
                    })
                    .collect()
            }),
            // Redacted before it is cut (a secret cut in two would no longer be recognised), with
            // room to spare for a secret's longest encoding.
            body: reply.map_or_else(String::new, |r| {
                excerpt(&redact(head(&r.body, BODY_BYTES + 4096)))
            }),
        }
    };
    let examples = &state.run.recorder.exemplars;
    examples.offer_slowest(seen.step, seen.latency, || build("slowest", ""));
    if let Some(reason) = reason {
        examples.offer_failure(seen.step, reason, || build("failure", reason));
    }
}

/// "HTTP 404 (code 1006)" — the Marketplace error code, when the body has one. A success the
/// request did not expect would read like no failure at all: it says what was expected.
pub fn status_reason(reply: &Reply, expected: &[u16]) -> RequestError {
    if (200..300).contains(&reply.status) {
        return RequestError::Unexpected {
            status: reply.status,
            expected: expected.to_vec(),
        };
    }
    RequestError::Status {
        status: reply.status,
        code: reply.at("/code").and_then(|c| c.as_str().map(String::from)),
    }
}

fn cookie_header(cookies: &cookie_store::CookieStore, url: &url::Url) -> Option<String> {
    let pairs: Vec<String> = cookies
        .get_request_values(url)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

fn store_cookies(cookies: &mut cookie_store::CookieStore, headers: &HeaderMap, url: &url::Url) {
    for header in headers.get_all(reqwest::header::SET_COOKIE) {
        if let Ok(text) = header.to_str() {
            // A cookie the browser rules refuse (another domain, say) is dropped, as a browser would.
            let _ = cookies.parse(text, url);
        }
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
    // A day is past any visitor's patience; longer would not even be a Duration.
    Some(Duration::from_secs_f64(seconds.clamp(0.05, 86_400.0)))
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

/// Whether the connection was reset or aborted by the other end.
fn was_reset(error: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(inner) = cause {
        let reset = inner.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        });
        if reset {
            return true;
        }
        cause = inner.source();
    }
    false
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::journey_file::program::ReplyKeys;

    /// Reply headers setting these cookies (the reply's tests use it too).
    pub(in crate::journeys) fn headers(set_cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in set_cookies {
            headers.append(reqwest::header::SET_COOKIE, cookie.parse().unwrap());
        }
        headers
    }

    #[test]
    fn cookies_go_back_only_where_a_browser_would_send_them() {
        let mut jar = cookie_store::CookieStore::default();
        let exchange = url::Url::parse("http://exchange.example/api/v1/plans").unwrap();
        store_cookies(
            &mut jar,
            &headers(&["room=abc; Path=/", "cart=1; Path=/api/v1/enrollment"]),
            &exchange,
        );
        let at = |u: &str| cookie_header(&jar, &url::Url::parse(u).unwrap());
        assert_eq!(
            at("http://exchange.example/api/v1/plans/1").as_deref(),
            Some("room=abc")
        );
        let enrollment = at("http://exchange.example/api/v1/enrollment/x").unwrap();
        assert!(
            enrollment.contains("room=abc") && enrollment.contains("cart=1"),
            "{enrollment}"
        );
        assert_eq!(
            at("http://insurer.example/pay"),
            None,
            "never to another host"
        );
    }

    #[test]
    fn a_status_not_expected_is_said_with_what_was() {
        let reply = |status: u16, body: &str| {
            let url = url::Url::parse("http://exchange.example/api").unwrap();
            let keys = std::sync::Arc::new(ReplyKeys::everything());
            Reply::new(status, HeaderMap::new(), body.to_string(), url, keys)
        };
        assert_eq!(
            status_reason(&reply(404, r#"{"code": "1006"}"#), &[200]).to_string(),
            "HTTP 404 (code 1006)"
        );
        assert_eq!(
            status_reason(&reply(503, "busy"), &[200]).to_string(),
            "HTTP 503"
        );
        assert_eq!(
            status_reason(&reply(201, "{}"), &[200]).to_string(),
            "HTTP 201, expected 200 (set expect = 201 if that is right)"
        );
    }

    #[test]
    fn a_waiting_room_asking_for_forever_holds_a_day_at_most() {
        let mut headers = HeaderMap::new();
        headers.insert("x-waiting-room", "1".parse().unwrap());
        headers.insert(reqwest::header::RETRY_AFTER, "1e300".parse().unwrap());
        assert_eq!(
            waiting_room_hold(503, &headers),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(waiting_room_hold(200, &headers), None);
    }

    #[test]
    fn a_redirect_goes_where_its_location_says_and_nowhere_else() {
        let from = url::Url::parse("http://exchange.example/a/b?x=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::LOCATION, "../c".parse().unwrap());
        let next = redirect_location(302, &headers, &from).unwrap().unwrap();
        assert_eq!(next.as_str(), "http://exchange.example/c");
        assert!(
            redirect_location(200, &headers, &from).is_none(),
            "not a redirect"
        );
        assert!(
            redirect_location(304, &headers, &from).is_none(),
            "not followed"
        );
        headers.insert(
            reqwest::header::LOCATION,
            "javascript:alert(1)".parse().unwrap(),
        );
        let refused = redirect_location(303, &headers, &from)
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not an http(s) URL"), "{refused}");
    }

    #[test]
    fn an_expired_cookie_is_forgotten() {
        let mut jar = cookie_store::CookieStore::default();
        let exchange = url::Url::parse("http://exchange.example/").unwrap();
        store_cookies(&mut jar, &headers(&["room=abc"]), &exchange);
        store_cookies(&mut jar, &headers(&["room=gone; Max-Age=0"]), &exchange);
        assert_eq!(cookie_header(&jar, &exchange), None);
    }
}
