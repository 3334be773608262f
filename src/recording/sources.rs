//! What a reply offers a later request, and how a journey would take it: every leaf of a JSON body
//! (a pointer capture), the fields and action of an HTML page's first form (a form capture, as
//! surge reads the page), reply headers (a header capture), cookies the reply sets (a cookie
//! capture), and, for a redirected request, the URL it ended at (a url capture). These are the
//! places k6's and Gatling's correlation rules look in; a value found nowhere else may still sit in
//! the body's text (a regex capture, made by [`regex_around`]).

use super::recorded::{is_json, Reply};
use crate::journeys::first_form;

/// Where in a reply a value sits: the capture that takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A JSON pointer into the body (`""` for a body that is one value).
    Pointer(String),
    /// A field of the page's first form.
    FormField(String),
    /// The first form's action, made absolute.
    FormAction,
    Header(String),
    Cookie(String),
    /// The URL the request ended at after redirects.
    FinalUrl,
    /// A regular expression on the body whose first group is the value.
    Regex(String),
}

/// Whether a value was a JSON string or a JSON number (a JSON body keeps the type it is sent as).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
}

/// One value a reply offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub value: String,
    pub source: Source,
    pub kind: Kind,
}

/// Reply headers that say nothing a later request could send back.
const PLAIN_HEADERS: [&str; 28] = [
    "date",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "server",
    "set-cookie",
    "location",
    "vary",
    "cache-control",
    "expires",
    "last-modified",
    "pragma",
    "age",
    "via",
    "accept-ranges",
    "alt-svc",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "referrer-policy",
    "content-security-policy",
    "permissions-policy",
    "report-to",
    "nel",
];

/// Every value the reply offers, JSON leaves first, then the form, headers, cookies, the URL.
pub fn offers(reply: &Reply, redirected: bool) -> Vec<Offer> {
    let mut out = Vec::new();
    let body = reply.body.as_deref().unwrap_or("");
    if let Some(json) = json_body(reply) {
        leaves(&json, &mut String::new(), &mut out);
    } else if let Some(form) = first_form(body) {
        let action = reply
            .url
            .join(&form.action)
            .map_or(form.action.clone(), |u| u.to_string());
        out.push(text(action, Source::FormAction));
        for (name, value) in form.fields {
            out.push(text(value, Source::FormField(name)));
        }
    }
    for (name, value) in &reply.headers {
        let lower = name.to_ascii_lowercase();
        if !PLAIN_HEADERS.contains(&lower.as_str()) && !lower.starts_with("access-control-") {
            out.push(text(value.clone(), Source::Header(name.clone())));
        }
    }
    for (name, value) in &reply.set_cookies {
        out.push(text(value.clone(), Source::Cookie(name.clone())));
        if let Ok(decoded) = percent_encoding::percent_decode_str(value).decode_utf8() {
            if decoded != value.as_str() {
                out.push(text(decoded.into_owned(), Source::Cookie(name.clone())));
            }
        }
    }
    if redirected {
        out.push(text(reply.url.to_string(), Source::FinalUrl));
    }
    out
}

/// The absolute URLs a reply offers (links a browser could follow next), without query.
pub fn offered_urls(reply: &Reply) -> Vec<String> {
    offers(reply, false)
        .into_iter()
        .filter(|o| o.value.starts_with('/') || o.value.starts_with("http"))
        .filter_map(|o| reply.url.join(&o.value).ok())
        .map(|url| super::select::without_query(&url))
        .chain(reply.location.iter().map(super::select::without_query))
        .collect()
}

fn json_body(reply: &Reply) -> Option<serde_json::Value> {
    let body = reply.body.as_deref()?;
    let looks_json = is_json(&reply.mime)
        || (reply.mime.is_empty() || reply.mime == "text/plain")
            && body.trim_start().starts_with(['{', '[']);
    looks_json
        .then(|| serde_json::from_str(body).ok())
        .flatten()
}

fn text(value: String, source: Source) -> Offer {
    Offer {
        value,
        source,
        kind: Kind::Text,
    }
}

fn leaves(value: &serde_json::Value, pointer: &mut String, out: &mut Vec<Offer>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                leaves(item, pointer, out);
                pointer.truncate(len);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                leaves(item, pointer, out);
                pointer.truncate(len);
            }
        }
        serde_json::Value::String(s) => out.push(text(s.clone(), Source::Pointer(pointer.clone()))),
        serde_json::Value::Number(n) => out.push(Offer {
            value: n.to_string(),
            source: Source::Pointer(pointer.clone()),
            kind: Kind::Number,
        }),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// Characters a value found by a regex may hold: the value's own kind of text, so the group stops
/// where the value does on another visit.
fn value_class(value: &str) -> &'static str {
    if value.chars().all(|c| c.is_ascii_alphanumeric()) {
        "[A-Za-z0-9]+"
    } else if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c))
    {
        "[A-Za-z0-9_.~+/=-]+"
    } else {
        r#"[^"'<>&\s]+"#
    }
}

/// A regular expression whose first group finds `value` in `body` where it first appears, from
/// the text just before it (up to 24 characters of the same line, from a word's start); `None` when the value is not
/// in the body, or the expression would find something else first.
pub fn regex_around(body: &str, value: &str) -> Option<String> {
    let at = body.find(value)?;
    let line_start = body[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut left_start = at.saturating_sub(24).max(line_start);
    while !body.is_char_boundary(left_start) {
        left_start += 1;
    }
    // Cut at a word's start, so the expression reads as the page does (`name="csrf" content="`).
    if left_start > line_start {
        if let Some(space) = body[left_start..at].find(char::is_whitespace) {
            if left_start + space + 1 < at {
                left_start += space + 1;
            }
        }
    }
    let left = &body[left_start..at];
    if left.trim().is_empty() {
        return None;
    }
    let pattern = format!("{}({})", regex::escape(left), value_class(value));
    let found = regex::Regex::new(&pattern).ok()?.captures(body)?;
    (found.get(1)?.as_str() == value).then_some(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn reply(mime: &str, body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("Date".into(), "Mon".into()),
                ("X-Request-Id".into(), "r-123456".into()),
            ],
            set_cookies: vec![("XSRF-TOKEN".into(), "a%2Fb".into())],
            mime: mime.into(),
            body: Some(body.into()),
            url: Url::parse("http://ex/pages/one").unwrap(),
            location: None,
        }
    }

    #[test]
    fn json_leaves_are_offered_by_pointer_with_their_kind() {
        let offers = offers(
            &reply(
                "application/json",
                r#"{"plans": [{"id": "P1", "a/b": 7}], "ok": true}"#,
            ),
            false,
        );
        assert!(offers.contains(&text("P1".into(), Source::Pointer("/plans/0/id".into()))));
        assert!(offers.contains(&Offer {
            value: "7".into(),
            source: Source::Pointer("/plans/0/a~1b".into()),
            kind: Kind::Number
        }));
        assert!(!offers
            .iter()
            .any(|o| o.source == Source::Pointer("/ok".into())));
        assert!(offers.contains(&text(
            "r-123456".into(),
            Source::Header("X-Request-Id".into())
        )));
        assert!(
            !offers.iter().any(|o| o.value == "Mon"),
            "plain headers are no offer"
        );
        assert!(offers.contains(&text("a/b".into(), Source::Cookie("XSRF-TOKEN".into()))));
    }

    #[test]
    fn the_first_form_is_offered_with_its_action_made_absolute() {
        let offers = offers(
            &reply(
                "text/html",
                r#"<form action="../pay"><input name="token" value="T9"></form><form action="/b"></form>"#,
            ),
            true,
        );
        assert_eq!(offers[0], text("http://ex/pay".into(), Source::FormAction));
        assert_eq!(
            offers[1],
            text("T9".into(), Source::FormField("token".into()))
        );
        assert!(offers.contains(&text("http://ex/pages/one".into(), Source::FinalUrl)));
        assert!(
            offered_urls(&reply("text/html", r#"<form action="/b?x=1"></form>"#))
                .contains(&"http://ex/b".to_string())
        );
    }

    #[test]
    fn a_regex_is_made_only_when_it_finds_the_value_first() {
        let body = "<meta name=\"csrf\" content=\"abc123XYZ\">\n";
        let pattern = regex_around(body, "abc123XYZ").unwrap();
        assert_eq!(pattern, r#"name="csrf" content="([A-Za-z0-9]+)"#);
        assert_eq!(regex_around(body, "nothere"), None);
        assert_eq!(
            regex_around("abc123XYZ", "abc123XYZ"),
            None,
            "nothing before it"
        );
        assert_eq!(
            regex_around("x id=aaa1\nid=bbb2", "bbb2"),
            None,
            "`id=` finds aaa1 first"
        );
    }
}
