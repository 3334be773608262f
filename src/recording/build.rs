//! The kept requests made into a [`Draft`]: for every value each request sends — path segment,
//! query parameter, header, cookie, body field — one of three things is written. A reference to a
//! capture when an earlier reply gave the value ([`correlate`](super::correlate)); `${env:NAME}`
//! when it is a secret ([`secrets`](super::secrets)); otherwise the value as recorded, escaped so
//! that it stays text (and noted when it looks generated: a second visit may not get away with
//! it). Browser noise — the headers every browser adds, cookies the jar keeps — is left out.

use std::collections::BTreeSet;

use url::Url;

use super::correlate::{self, is_trivial, looks_generated, Correlator, Found};
use super::draft::{Address, Draft, DraftBody, DraftRequest, Uncorrelated};
use super::har::Har;
use super::recorded::{Recorded, SentBody};
use super::secrets::{is_secret, split_scheme, Place, Vault};
use super::select::Selection;
use super::sources::Kind;
use super::steps;

/// A pause this long before a request is a person reading the page.
const THINK_SECONDS: f64 = 1.0;

/// Request headers that are the browser's, not the exchange's: left out.
const BROWSER_HEADERS: [&str; 22] = [
    "host",
    "connection",
    "content-length",
    "user-agent",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "pragma",
    "origin",
    "referer",
    "cookie",
    "upgrade-insecure-requests",
    "dnt",
    "priority",
    "te",
    "if-none-match",
    "if-modified-since",
    "keep-alive",
    "purpose",
    "proxy-connection",
    "save-data",
    "x-client-data",
];

/// Build the draft of the journey called `journey` from the kept requests.
pub fn build(har_path: &std::path::Path, har: &Har, selection: Selection, journey: &str) -> Draft {
    let kept = &selection.kept;
    let suggestions = steps::suggest(kept);
    let names: Vec<String> = suggestions.iter().map(|s| s.name.clone()).collect();
    let mut correlator = Correlator::new(kept, &names);
    let mut vault = Vault::new(journey);
    let shared = find_secrets(&selection, &correlator, &mut vault);
    let mut builder = Builder {
        vault,
        uncorrelated: Vec::new(),
        notes: Vec::new(),
        sending: BTreeSet::new(),
    };
    let mut requests = Vec::with_capacity(kept.len());
    for (index, (recorded, suggestion)) in kept.iter().zip(&suggestions).enumerate() {
        let page = index.checked_sub(1).map(|i| &kept[i].reply.url);
        let at = At {
            index,
            name: &suggestion.name,
        };
        let mut request = builder.request(&mut correlator, &selection, &shared, at, recorded, page);
        request.step = suggestion.step;
        request.stage = suggestion.stage;
        request.think = index
            .checked_sub(1)
            .and_then(|i| pause(&kept[i], recorded))
            .filter(|seconds| *seconds >= THINK_SECONDS);
        requests.push(request);
    }
    for (request, captures) in requests.iter_mut().zip(correlator.into_captures()) {
        request.captures = captures;
    }
    let Builder {
        vault,
        uncorrelated,
        notes,
        ..
    } = builder;
    Draft {
        journey: journey.to_string(),
        file: har_path.file_name().map_or_else(
            || har_path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        creator: har
            .log
            .creator
            .as_ref()
            .map(|c| format!("{} {}", c.name, c.version).trim().to_string()),
        recorded_at: kept.first().and_then(|r| r.started).map(|t| t.to_rfc3339()),
        base: selection.base.clone(),
        other_hosts: selection.other_hosts().into_iter().collect(),
        left_out: selection.left_out.clone(),
        requests,
        shared: shared
            .iter()
            .filter_map(|(place, name, value)| {
                let env = vault.env_of(split_scheme(value).1)?;
                let written = value.replace(split_scheme(value).1, &format!("${{env:{env}}}"));
                Some((*place, name.clone(), written))
            })
            .collect(),
        secrets: vault.secrets().into_iter().cloned().collect(),
        redactor: vault.redactor(),
        uncorrelated,
        notes,
    }
}

/// Seconds between the end of one request and the start of the next.
fn pause(previous: &Recorded, next: &Recorded) -> Option<f64> {
    let gap = next.started? - previous.ended()?;
    Some(gap.num_milliseconds() as f64 / 1000.0)
}

/// A secret sent as a query parameter or a header, by where it is sent.
type Sent = (Place, String, String);

/// Every secret of the recording gets its variable before any request is written (so a secret
/// that a literal happens to contain is scrubbed from it too); returns those every request to the
/// exchange sent, which belong in the scenario's `[http]`.
fn find_secrets(
    selection: &Selection,
    correlator: &Correlator,
    vault: &mut Vault,
) -> BTreeSet<Sent> {
    let mut every: Option<BTreeSet<Sent>> = None;
    for (at, recorded) in selection.kept.iter().enumerate() {
        let mut this: BTreeSet<Sent> = BTreeSet::new();
        for (name, value) in recorded.url.query_pairs() {
            if is_secret(Place::Query, &name, &value) && !correlator.given_by_reply(at, &value) {
                vault.env_for(Place::Query, &name, &value);
                this.insert((Place::Query, name.into_owned(), value.into_owned()));
            }
        }
        for (name, value) in &recorded.headers {
            let credential = split_scheme(value).1;
            if !is_browser_header(name)
                && is_secret(Place::Header, name, credential)
                && !correlator.given_by_reply(at, credential)
            {
                this.insert((Place::Header, name.clone(), value.clone()));
                vault.env_for(Place::Header, name, credential);
            }
        }
        for (name, value) in &recorded.cookies {
            if is_secret(Place::Cookie, name, value) && !set_before(selection, at, name) {
                vault.env_for(Place::Cookie, name, value);
            }
        }
        for (name, value) in fields(&recorded.body) {
            if is_secret(Place::Field, &name, &value) && !correlator.given_by_reply(at, &value) {
                vault.env_for(Place::Field, &name, &value);
            }
        }
        if selection.under_base(&recorded.url) {
            every = Some(match every {
                None => this,
                Some(before) => before.intersection(&this).cloned().collect(),
            });
        }
    }
    let shared = every.unwrap_or_default();
    for (_, _, value) in &shared {
        vault.share(split_scheme(value).1);
    }
    shared
}

/// Every field of a body, with its name (JSON leaves by their key).
fn fields(body: &SentBody) -> Vec<(String, String)> {
    fn walk(name: &str, json: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match json {
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| walk(k, v, out)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(name, v, out)),
            serde_json::Value::String(s) => out.push((name.to_string(), s.clone())),
            _ => {}
        }
    }
    match body {
        SentBody::Json(json) => {
            let mut out = Vec::new();
            walk("", json, &mut out);
            out
        }
        SentBody::Form(fields) => fields.clone(),
        SentBody::None | SentBody::Other { .. } => Vec::new(),
    }
}

/// Whether a reply before request `at` set the cookie (the visit's cookie jar then sends it).
fn set_before(selection: &Selection, at: usize, cookie: &str) -> bool {
    selection.kept[..at]
        .iter()
        .any(|r| r.reply.set_cookies.iter().any(|(name, _)| name == cookie))
}

fn is_browser_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    BROWSER_HEADERS.contains(&lower.as_str())
        || lower.starts_with("sec-")
        || lower.starts_with(':')
        || lower == crate::vocab::VISIT_HEADER
        || lower == crate::vocab::REQUEST_HEADER
}

/// `{% raw %}…{% endraw %}` around text that templates would read as code.
pub fn escape(text: &str) -> String {
    if text.contains("{{") || text.contains("{%") || text.contains("{#") {
        format!("{{% raw %}}{text}{{% endraw %}}")
    } else {
        text.to_string()
    }
}

fn reference(found: &Found) -> String {
    format!("{{{{ {} }}}}", found.expr)
}

/// Writes requests, remembering what the opening comment must say.
struct Builder {
    vault: Vault,
    uncorrelated: Vec<Uncorrelated>,
    notes: Vec<String>,
    /// Secret values the request being written sends.
    sending: BTreeSet<String>,
}

/// The request being written: its place among the kept ones, and its name.
#[derive(Clone, Copy)]
struct At<'a> {
    index: usize,
    name: &'a str,
}

impl Builder {
    fn request(
        &mut self,
        correlator: &mut Correlator,
        selection: &Selection,
        shared: &BTreeSet<Sent>,
        at: At,
        recorded: &Recorded,
        page: Option<&Url>,
    ) -> DraftRequest {
        self.sending.clear();
        let followed = correlator
            .url(at.index, &recorded.url, page)
            .filter(|found| worth_following(selection, recorded, found));
        let in_followed_url: Vec<(String, String)> = followed
            .as_ref()
            .map(|f| f.url.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let address = match &followed {
            Some(found) => Address::Follow(reference(&found.found)),
            None => Address::Url(self.url(correlator, selection, at, &recorded.url)),
        };
        let query = self.query(correlator, shared, at, recorded, &in_followed_url);
        let headers = self.headers(correlator, selection, shared, at, recorded);
        let body = match &recorded.body {
            SentBody::None => DraftBody::None,
            SentBody::Json(json) => DraftBody::Json(self.json(correlator, at, "", json)),
            SentBody::Form(fields) => {
                // Posting a page's form: its fields come from the page, as the browser sent them.
                let form_of = followed.as_ref().and_then(|f| f.form_of);
                DraftBody::Form(
                    fields
                        .iter()
                        .map(|(key, value)| {
                            let from_page =
                                form_of.and_then(|page| correlator.form_field(page, key, value));
                            let written = match from_page {
                                Some(found) => reference(&found),
                                None => self.text(
                                    correlator,
                                    at,
                                    Place::Field,
                                    key,
                                    value,
                                    &format!("body {key}"),
                                ),
                            };
                            (key.clone(), written)
                        })
                        .collect(),
                )
            }
            SentBody::Other { mime, bytes } => {
                self.notes.push(format!(
                    "requests.{}: its body ({bytes} bytes of {mime}) is not sent: a journey file sends JSON or form bodies",
                    at.name
                ));
                DraftBody::None
            }
        };
        // Secrets the scenario's [http] sends count as sent by this request too.
        for (place, _, value) in shared {
            let sends = match place {
                Place::Query => recorded.url.query_pairs().any(|(_, v)| v == value.as_str()),
                _ => recorded.headers.iter().any(|(_, v)| v == value),
            };
            if sends {
                self.sending.insert(split_scheme(value).1.to_string());
            }
        }
        for value in std::mem::take(&mut self.sending) {
            self.vault.sent(&value);
        }
        DraftRequest {
            name: at.name.to_string(),
            step: "browse",
            stage: None,
            method: recorded.method.clone(),
            address,
            query,
            headers,
            body,
            expect: recorded.reply.status,
            captures: Vec::new(),
            think: None,
            recorded: self.recorded_line(selection, recorded),
        }
    }

    /// The path under the base URL (or the whole URL elsewhere), each segment a reference or text.
    fn url(
        &mut self,
        correlator: &mut Correlator,
        selection: &Selection,
        at: At,
        url: &Url,
    ) -> String {
        let under_base = selection.under_base(url);
        let prefix = if under_base {
            selection.base.path().trim_end_matches('/').len()
        } else {
            0
        };
        let mut segments = Vec::new();
        for segment in url.path()[prefix..].split('/').skip(1) {
            let decoded = correlate::decode(segment);
            segments.push(match correlator.value(at.index, &decoded) {
                Some(found) => reference(&found),
                None => {
                    self.note_generated(at, "path", &decoded);
                    escape(&self.vault.scrub(segment))
                }
            });
        }
        let path = format!("/{}", segments.join("/"));
        if under_base {
            path
        } else {
            format!("{}{path}", url.origin().ascii_serialization())
        }
    }

    fn query(
        &mut self,
        correlator: &mut Correlator,
        shared: &BTreeSet<Sent>,
        at: At,
        recorded: &Recorded,
        in_followed_url: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = Vec::new();
        for (key, value) in recorded.url.query_pairs().into_owned() {
            let pair = (key.clone(), value.clone());
            if in_followed_url.contains(&pair)
                || shared.contains(&(Place::Query, key.clone(), value.clone()))
            {
                continue;
            }
            let written = self.text(
                correlator,
                at,
                Place::Query,
                &key,
                &value,
                &format!("query {key}"),
            );
            match query.iter_mut().find(|(k, _)| *k == key) {
                Some(previous) => {
                    self.notes.push(format!(
                        "requests.{}: the query parameter `{key}` was sent more than once; the journey sends the last",
                        at.name
                    ));
                    previous.1 = written;
                }
                None => query.push((key, written)),
            }
        }
        query
    }

    fn headers(
        &mut self,
        correlator: &mut Correlator,
        selection: &Selection,
        shared: &BTreeSet<Sent>,
        at: At,
        recorded: &Recorded,
    ) -> Vec<(String, String)> {
        let body_sets_type = matches!(recorded.body, SentBody::Json(_) | SentBody::Form(_));
        let mut headers: Vec<(String, String)> = Vec::new();
        for (key, value) in &recorded.headers {
            let lower = key.to_ascii_lowercase();
            let browser_default_accept =
                lower == "accept" && (value.starts_with("text/html") || value.trim() == "*/*");
            if is_browser_header(key)
                || browser_default_accept
                || (lower == "content-type" && body_sets_type)
                || shared.contains(&(Place::Header, key.clone(), value.clone()))
            {
                continue;
            }
            let (scheme, credential) = split_scheme(value);
            let written = if !scheme.is_empty() && is_secret(Place::Header, key, credential) {
                let credential = self.text(
                    correlator,
                    at,
                    Place::Header,
                    key,
                    credential,
                    &format!("header {key}"),
                );
                format!("{}{credential}", escape(scheme))
            } else {
                self.text(
                    correlator,
                    at,
                    Place::Header,
                    key,
                    value,
                    &format!("header {key}"),
                )
            };
            headers.push((key.clone(), written));
        }
        // Cookies a reply set go back by the visit's cookie jar; those the browser had before the
        // recording began are sent as a header.
        let mut earlier = Vec::new();
        for (cookie, value) in &recorded.cookies {
            if set_before(selection, at.index, cookie) {
                continue;
            }
            let written = if is_secret(Place::Cookie, cookie, value) {
                self.text(
                    correlator,
                    at,
                    Place::Cookie,
                    cookie,
                    value,
                    &format!("cookie {cookie}"),
                )
            } else {
                escape(&self.vault.scrub(value))
            };
            earlier.push(format!("{cookie}={written}"));
        }
        if !earlier.is_empty() {
            headers.push(("Cookie".to_string(), earlier.join("; ")));
        }
        headers
    }

    fn recorded_line(&mut self, selection: &Selection, recorded: &Recorded) -> String {
        let path = self.vault.scrub(recorded.url.path());
        let url = if selection.under_base(&recorded.url) {
            path
        } else {
            format!("{}{path}", recorded.url.origin().ascii_serialization())
        };
        let mime = if recorded.reply.mime.is_empty() {
            String::new()
        } else {
            format!(" {}", recorded.reply.mime)
        };
        format!(
            "{} {url} → {}{mime}",
            recorded.method, recorded.reply.status
        )
    }

    /// The template text for one value: a capture's reference, a secret's variable, or the value.
    fn text(
        &mut self,
        correlator: &mut Correlator,
        at: At,
        place: Place,
        key: &str,
        value: &str,
        where_: &str,
    ) -> String {
        if let Some(found) = correlator.value(at.index, value) {
            return reference(&found);
        }
        if is_secret(place, key, value) {
            let env = self.vault.env_for(place, key, value);
            self.sending.insert(value.to_string());
            return format!("${{env:{env}}}");
        }
        self.note_generated(at, where_, value);
        escape(&self.vault.scrub(value))
    }

    fn note_generated(&mut self, at: At, place: &str, value: &str) {
        if looks_generated(value) && !is_trivial(value) && self.vault.scrub(value) == value {
            self.uncorrelated.push(Uncorrelated {
                request: at.name.to_string(),
                place: place.to_string(),
                value: value.to_string(),
            });
        }
    }

    /// A JSON body with its string leaves made templates (numbers stay numbers unless correlated).
    fn json(
        &mut self,
        correlator: &mut Correlator,
        at: At,
        key: &str,
        json: &serde_json::Value,
    ) -> serde_json::Value {
        use serde_json::Value;
        match json {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.json(correlator, at, k, v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.json(correlator, at, key, v))
                    .collect(),
            ),
            Value::String(s) => Value::String(match correlator.value(at.index, s) {
                // Sent as text, held as a number: keep sending text.
                Some(found) if found.kind == Kind::Number => {
                    format!("{{{{ {} | string }}}}", found.expr)
                }
                Some(found) => reference(&found),
                None => self.text(correlator, at, Place::Field, key, s, &format!("body {key}")),
            }),
            Value::Number(n) => match correlator.value(at.index, &n.to_string()) {
                Some(found) if found.kind == Kind::Text => {
                    let cast = if n.is_f64() { "float" } else { "int" };
                    Value::String(format!("{{{{ {} | {cast} }}}}", found.expr))
                }
                Some(found) => Value::String(reference(&found)),
                None => json.clone(),
            },
            Value::Bool(_) => json.clone(),
            Value::Null => Value::String("{{ none }}".to_string()),
        }
    }
}

/// Follow a URL from a reply only where it matters: it leaves the exchange, came from a form or a
/// redirect, or carries a value of the visit; a plain route that a reply happens to link to is
/// clearer written as a path.
fn worth_following(
    selection: &Selection,
    recorded: &Recorded,
    found: &correlate::FoundUrl,
) -> bool {
    let from_page = found.found.expr.ends_with(".action") || found.found.expr.ends_with("_url");
    let carries_value = recorded
        .url
        .path_segments()
        .into_iter()
        .flatten()
        .any(|s| !is_trivial(&correlate::decode(s)) && s.chars().any(|c| c.is_ascii_digit()));
    from_page || carries_value || !selection.under_base(&recorded.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_syntax_in_a_value_stays_text() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a{{b}}"), "{% raw %}a{{b}}{% endraw %}");
    }

    #[test]
    fn browser_headers_are_noise() {
        for name in [
            "User-Agent",
            "sec-ch-ua",
            ":authority",
            "Referer",
            "X-Surge-Visit",
        ] {
            assert!(is_browser_header(name), "{name}");
        }
        for name in ["Authorization", "X-Api-Key", "Accept", "X-CSRF-Token"] {
            assert!(!is_browser_header(name), "{name}");
        }
    }
}
