//! A [`Draft`] as a journey file: an opening comment that tells the user what to do before the
//! first `surge check` (the variables to set, the scenario's `[http]` and think time, what could
//! not be correlated, what was left out), one journey of every request, and each request as
//! docs/journeys.md writes them, with the recording's own line above it and a suggested stage
//! commented out for the user to confirm. Values are written by the `toml` crate, so any text the
//! recording holds comes out as a valid TOML string.

use std::fmt::Write as _;

use super::correlate::Capture;
use super::draft::{Address, Draft, DraftBody, DraftRequest};
use super::secrets::Secret;

/// The journey file's text.
pub fn render(draft: &Draft) -> String {
    let mut out = String::new();
    opening(draft, &mut out);
    let names: Vec<String> = draft.requests.iter().map(|r| string(&r.name)).collect();
    let _ = writeln!(
        out,
        "\n[[journeys]]\nname = {}\nweight = 1\nrequests = [{}]",
        string(&draft.journey),
        names.join(", ")
    );
    for request in &draft.requests {
        out.push('\n');
        write_request(request, &mut out);
    }
    out
}

fn opening(draft: &Draft, out: &mut String) {
    let by = match (&draft.creator, &draft.recorded_at) {
        (Some(creator), Some(at)) => format!(" (recorded by {creator}, {at})"),
        (Some(creator), None) => format!(" (recorded by {creator})"),
        (None, Some(at)) => format!(" (recorded {at})"),
        (None, None) => String::new(),
    };
    paragraph(
        out,
        &format!(
            "Journey `{}`, converted by `surge journey from-har` from {}{by}: {} requests to {} \
             and the hosts it led to, in the order the browser made them. Every key is explained \
             in docs/journeys.md. Check it with a scenario that names it (`journeys = \"…\"`): \
             `surge check SCENARIO`, then `surge trace SCENARIO`.",
            draft.journey,
            draft.file,
            draft.requests.len(),
            draft.base.as_str().trim_end_matches('/'),
        ),
    );
    secrets(&draft.secrets, out);
    scenario(draft, out);
    correlation(draft, out);
    think(draft, out);
    left_out(draft, out);
    if !draft.notes.is_empty() {
        out.push_str("#\n# Also:\n");
        for note in &draft.notes {
            let _ = writeln!(out, "#   {}", clean(note));
        }
    }
    out.push_str("#\n");
    paragraph(
        out,
        "Each request's step is suggested from its route, and so is the funnel stage it may \
         prove, written commented out: uncomment the stages this journey proves (each once, in \
         funnel order; docs/journeys.md §3).",
    );
}

/// Text as comment lines of at most 100 columns, never broken inside `code`.
fn paragraph(out: &mut String, text: &str) {
    let text = clean(text);
    let mut words: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in text.split_whitespace() {
        match words.last_mut() {
            Some(last) if in_code => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
        if word.matches('`').count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    let mut line = String::from("#");
    for word in &words {
        if line.len() + 1 + word.len() > 100 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

fn secrets(secrets: &[Secret], out: &mut String) {
    if secrets.is_empty() {
        out.push_str(
            "#\n# Secrets: none found (no API key, Authorization, password or session cookie).\n",
        );
        return;
    }
    out.push_str("#\n");
    paragraph(
        out,
        "Secrets are not written here: each is read from an environment variable. Set them \
         before `surge check`, `trace` or `run`:",
    );
    let width = secrets.iter().map(|s| s.env.len()).max().unwrap_or(0);
    for secret in secrets {
        let sent = match (secret.shared, secret.requests) {
            (true, n) => format!("sent by every request to the exchange ({n}): see [http] below"),
            (false, 1) => "sent by 1 request".to_string(),
            (false, n) => format!("sent by {n} requests"),
        };
        let _ = writeln!(
            out,
            "#   {:width$}  {}, {sent}",
            secret.env,
            clean(&secret.place.describe(&secret.name)),
        );
    }
}

fn scenario(draft: &Draft, out: &mut String) {
    out.push_str("#\n# For the scenario that runs it (a journey file cannot hold [http]):\n");
    let _ = writeln!(
        out,
        "#   target = {}    # the recording's exchange; point it at yours",
        string(draft.base.as_str().trim_end_matches('/'))
    );
    out.push_str("#   [http]\n");
    for (key, place) in [
        ("query", super::secrets::Place::Query),
        ("headers", super::secrets::Place::Header),
    ] {
        let entries: Vec<String> = draft
            .shared
            .iter()
            .filter(|(p, _, _)| *p == place)
            .map(|(_, name, written)| format!("{} = {}", key_name(name), string(written)))
            .collect();
        if !entries.is_empty() {
            let _ = writeln!(
                out,
                "#   {key} = {{ {} }}    # every request to the exchange sent it: the requests below do not",
                entries.join(", ")
            );
        }
    }
    let hosts: Vec<String> = draft.other_hosts.iter().map(|h| string(h)).collect();
    if hosts.is_empty() {
        out.push_str("#   allowed_hosts = []    # every request goes to the target's host\n");
    } else {
        let _ = writeln!(
            out,
            "#   allowed_hosts = [{}]    # the other hosts the journey goes to",
            hosts.join(", ")
        );
    }
}

fn correlation(draft: &Draft, out: &mut String) {
    let captures: usize = draft.requests.iter().map(|r| r.captures.len()).sum();
    out.push_str("#\n");
    paragraph(
        out,
        &format!(
            "Correlated: {captures} capture{} take what the exchange gave in a reply \
             (`capture.NAME`), and later requests send it back (`{{{{ NAME }}}}`), so each visit \
             uses its own ids and tokens.",
            if captures == 1 { "" } else { "s" }
        ),
    );
    if draft.uncorrelated.is_empty() {
        paragraph(
            out,
            "Not correlated: nothing that looks generated (an id, a token) was left as recorded.",
        );
        return;
    }
    paragraph(
        out,
        "Not correlated: these look generated (ids, tokens) but no earlier reply held them, so \
         they are sent as recorded; a second visit may not get away with it (capture them, or \
         take them from [vars] or a [data] file):",
    );
    for item in &draft.uncorrelated {
        let _ = writeln!(
            out,
            "#   requests.{} ({}): {}",
            item.request,
            clean(&item.place),
            clean(&shortened(&item.value))
        );
    }
}

fn think(draft: &Draft, out: &mut String) {
    let pauses: Vec<f64> = draft.requests.iter().filter_map(|r| r.think).collect();
    if pauses.is_empty() {
        out.push_str("#\n");
        paragraph(
            out,
            "Think time: the recording has no pause of 1 s or more between requests; no request \
             has `think = true`.",
        );
        return;
    }
    let low = pauses.iter().copied().fold(f64::INFINITY, f64::min);
    let high = pauses.iter().copied().fold(0.0, f64::max);
    out.push_str("#\n");
    paragraph(
        out,
        &format!(
            "Think time: the recording paused {low:.1} s to {high:.1} s before {} request{} \
             (`think = true`). A journey file has no durations of its own: the scenario's \
             [traffic.think_time] gives them, e.g.",
            pauses.len(),
            if pauses.len() == 1 { "" } else { "s" },
        ),
    );
    let _ = writeln!(
        out,
        "#   [traffic.think_time]\n#   min_ms = {}\n#   max_ms = {}",
        (low * 1000.0).round() as u64,
        (high * 1000.0).round() as u64,
    );
}

fn left_out(draft: &Draft, out: &mut String) {
    let left = &draft.left_out;
    let mut parts = Vec::new();
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if left.assets > 0 {
        parts.push(count(left.assets, "static asset", "static assets"));
    }
    let others: usize = left.other_hosts.values().sum();
    if others > 0 {
        let hosts: Vec<String> = left
            .other_hosts
            .iter()
            .map(|(host, n)| format!("{host} {n}"))
            .collect();
        parts.push(format!(
            "{} to other hosts ({})",
            count(others, "request", "requests"),
            hosts.join(", ")
        ));
    }
    if left.browser > 0 {
        parts.push(count(
            left.browser,
            "request the browser made on its own (CORS preflight, beacon, web socket)",
            "requests the browser made on its own (CORS preflights, beacons, web sockets)",
        ));
    }
    if left.no_reply > 0 {
        parts.push(count(
            left.no_reply,
            "request without a reply",
            "requests without a reply",
        ));
    }
    if left.other_methods > 0 {
        parts.push(count(
            left.other_methods,
            "request with a method a journey cannot send",
            "requests with a method a journey cannot send",
        ));
    }
    let mut text = if parts.is_empty() {
        "Left out: nothing.".to_string()
    } else {
        let keep = if left.assets + others > 0 {
            " (--keep-assets keeps assets and other hosts)"
        } else {
            ""
        };
        format!("Left out: {}{keep}.", parts.join(", "))
    };
    if left.redirect_hops > 0 {
        let _ = write!(
            text,
            " {} folded into the request redirected: surge follows redirects itself.",
            count(left.redirect_hops, "redirect hop is", "redirect hops are")
        );
    }
    out.push_str("#\n");
    paragraph(out, &text);
}

fn write_request(request: &DraftRequest, out: &mut String) {
    let _ = writeln!(out, "# {}", clean(&request.recorded));
    let _ = writeln!(out, "[requests.{}]", key_name(&request.name));
    let _ = writeln!(out, "step = {}", string(request.step));
    if request.method != "GET" {
        let _ = writeln!(out, "method = {}", string(&request.method));
    }
    match &request.address {
        Address::Url(url) => {
            let _ = writeln!(out, "url = {}", string(url));
        }
        Address::Follow(url) => {
            let _ = writeln!(out, "follow = {}", string(url));
        }
    }
    if !request.query.is_empty() {
        let _ = writeln!(out, "query = {}", inline_pairs(&request.query));
    }
    if !request.headers.is_empty() {
        let _ = writeln!(out, "headers = {}", inline_pairs(&request.headers));
    }
    match &request.body {
        DraftBody::None => {}
        DraftBody::Json(json) => {
            let _ = writeln!(out, "json = {}", toml_of_json(json));
        }
        DraftBody::Form(fields) => {
            let _ = writeln!(out, "form = {}", inline_pairs(fields));
        }
    }
    if request.expect != 200 {
        let _ = writeln!(out, "expect = {}", request.expect);
    }
    if let Some(seconds) = request.think {
        let _ = writeln!(
            out,
            "think = true    # the recording paused {seconds:.1} s before it"
        );
    }
    for (name, capture) in &request.captures {
        let _ = writeln!(
            out,
            "capture.{} = {}",
            key_name(name),
            capture_value(capture)
        );
    }
    if let Some(stage) = request.stage {
        let _ = writeln!(out, "# stage = {}", string(stage.name()));
    }
}

fn capture_value(capture: &Capture) -> String {
    match capture {
        Capture::Pointer(pointer) => format!("{{ pointer = {} }}", string(pointer)),
        Capture::Form => "{ form = true }".to_string(),
        Capture::Header(header) => format!("{{ header = {} }}", string(header)),
        Capture::Cookie(cookie) => format!("{{ cookie = {} }}", string(cookie)),
        Capture::Url => "{ url = true }".to_string(),
        Capture::Regex(pattern) => format!("{{ regex = {} }}", string(pattern)),
    }
}

/// Text from the recording made safe for a comment line: control characters (a newline would
/// end the comment) written as escapes.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A long value cut to its first 60 characters, for a comment.
fn shortened(value: &str) -> String {
    if value.chars().count() <= 60 {
        return value.to_string();
    }
    let head: String = value.chars().take(60).collect();
    format!("{head}… ({} characters)", value.chars().count())
}

/// A TOML string, escaped by the toml crate.
fn string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A bare key where TOML allows one, a quoted key otherwise.
fn key_name(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        string(name)
    }
}

fn inline_pairs(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", key_name(k), string(v)))
        .collect();
    if items.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

/// A JSON body as an inline TOML value (`null` was made `{{ none }}` before).
fn toml_of_json(json: &serde_json::Value) -> String {
    use serde_json::Value;
    match json {
        Value::Object(map) if map.is_empty() => "{}".to_string(),
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", key_name(k), toml_of_json(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_of_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => string(s),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            // Beyond TOML's integers: sent as the text it was.
            (None, _) if n.is_u64() => string(&n.to_string()),
            (None, Some(f)) => toml::Value::Float(f).to_string(),
            (None, None) => string(&n.to_string()),
        },
        Value::Bool(b) => b.to_string(),
        Value::Null => string("{{ none }}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_become_inline_toml() {
        let json = serde_json::json!({
            "household": {"income": 32000, "people": [{"age": 34, "uses_tobacco": false}]},
            "rate": 0.5,
            "big": 18446744073709551615u64,
            "odd key": "a \"quoted\"\nline",
            "empty": {},
        });
        let text = format!("json = {}", toml_of_json(&json));
        let back: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            back["json"]["household"]["people"][0]["age"].as_integer(),
            Some(34)
        );
        assert_eq!(back["json"]["rate"].as_float(), Some(0.5));
        assert_eq!(back["json"]["big"].as_str(), Some("18446744073709551615"));
        assert_eq!(back["json"]["odd key"].as_str(), Some("a \"quoted\"\nline"));
    }

    #[test]
    fn comments_wrap_at_100_columns_but_not_inside_code() {
        let mut out = String::new();
        let text = format!("{} `surge check SCENARIO` then", "word ".repeat(18));
        paragraph(&mut out, &text);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines.iter().all(|l| l.len() <= 100 && l.starts_with("# ")),
            "{out}"
        );
        assert_eq!(lines[1], "# `surge check SCENARIO` then");
    }

    #[test]
    fn text_from_the_recording_cannot_end_a_comment() {
        assert_eq!(clean("a\nb\u{0}c"), "a\\nb\\u{0}c");
        let long = "x".repeat(100);
        assert_eq!(
            shortened(&long),
            format!("{}… (100 characters)", "x".repeat(60))
        );
    }

    #[test]
    fn keys_are_bare_only_where_toml_allows() {
        assert_eq!(key_name("plan_id"), "plan_id");
        assert_eq!(key_name("X-Api-Key"), "X-Api-Key");
        assert_eq!(key_name("a.b"), "\"a.b\"");
        assert_eq!(inline_pairs(&[]), "{}");
    }
}
