//! What `surge trace` prints for each request of a visit: the request as sent, the reply as
//! received, captures and the verdict; every line redacted of secrets, bodies cut at `body_bytes`.

use std::time::Duration;

use super::call::Body;
use super::reply::Reply;
use super::JourneyEnv;
use crate::journey_file::program::Method;

fn excerpt(text: &str, bytes: usize) -> String {
    if text.len() <= bytes {
        return text.to_string();
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

fn print(env: &JourneyEnv, line: &str) {
    sayln!("{}", env.program.access.redact(line));
}

/// A body, redacted before it is cut: a secret cut in two would no longer be recognised.
fn print_body(env: &JourneyEnv, body: &str, bytes: usize) {
    let redacted = env.program.access.redact(body);
    sayln!("  {}", excerpt(&redacted, bytes));
}

pub fn request(
    env: &JourneyEnv,
    label: &str,
    method: Method,
    url: &url::Url,
    headers: &[(String, String)],
    body: &Body,
) {
    let Some(trace) = env.trace else { return };
    print(env, &format!("\n→ {} {url}   [{label}]", method.as_str()));
    for (name, value) in headers {
        print(env, &format!("  {name}: {value}"));
    }
    let body = match body {
        Body::None => return,
        Body::Json(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Form(fields) => serde_urlencoded::to_string(fields).unwrap_or_default(),
    };
    if trace.body_bytes > 0 {
        print_body(env, &body, trace.body_bytes);
    }
}

pub fn reply(env: &JourneyEnv, reply: &Reply, took: Duration) {
    let Some(trace) = env.trace else { return };
    let content_type = reply
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    print(
        env,
        &format!(
            "← {} in {:.1} ms, {content_type}, {} bytes",
            reply.status,
            took.as_secs_f64() * 1000.0,
            reply.body.len()
        ),
    );
    for name in ["location", "retry-after", "x-waiting-room", "set-cookie"] {
        for value in reply.headers.get_all(name) {
            print(env, &format!("  {name}: {}", value.to_str().unwrap_or("?")));
        }
    }
    if trace.body_bytes > 0 && !reply.body.is_empty() {
        print_body(env, &reply.body, trace.body_bytes);
    }
}

/// A line about the request (a capture, the verdict), made only when tracing: `line` is called
/// only then, so a run pays nothing for it.
pub fn note(env: &JourneyEnv, line: impl FnOnce() -> String) {
    if env.trace.is_some() {
        print(env, &format!("  {}", line()));
    }
}
