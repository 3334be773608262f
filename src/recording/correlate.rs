//! Correlation: a value a request sends that an earlier reply gave first (an application id in a
//! path, a plan id in a body, the SAML Response a Pay Now page carries, a payment token) differs on
//! every visit, so replaying the recorded one would fail. As k6's and Gatling's correlation rules
//! do, each such value becomes a capture on the reply it came from and a template reference in the
//! request that sends it.
//!
//! The rules, so that ordinary values do not correlate by accident:
//! - values that are short or common (`1`, `true`, small numbers, words) are never correlated;
//! - a value the visitor sent before any reply held it (a ZIP code typed, a year) is the visitor's
//!   own input, not the exchange's;
//! - the most recent earlier reply that holds the value is the one it is taken from, and within a
//!   reply a JSON field comes before a form field, a header, a cookie, then the body's text.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use url::Url;

use super::recorded::{Recorded, SentBody};
use super::sources::{self, Kind, Offer, Source};
use crate::journey_file::json;
use crate::journey_file::program::RESERVED;

/// How a capture takes its value from a reply (one `capture.NAME = { … }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    Pointer(String),
    Form,
    Header(String),
    Cookie(String),
    Url,
    Regex(String),
}

/// A value found in an earlier reply: the expression that gives it on every visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// A minijinja expression: `plan_id`, `pay_now_form.fields.SAMLResponse`.
    pub expr: String,
    /// What the reply held it as.
    pub kind: Kind,
}

/// A URL found in an earlier reply, to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundUrl {
    pub found: Found,
    /// The URL it gives, resolved against the page the visitor is on (its query included).
    pub url: Url,
    /// The request whose reply offered it, when it is that reply's form's action: the request
    /// then submits that form.
    pub form_of: Option<usize>,
}

/// Words minijinja reads as something else than a name.
const KEYWORDS: [&str; 14] = [
    "true", "false", "none", "and", "or", "not", "in", "is", "if", "else", "for", "loop", "self",
    "super",
];

/// Whether a value is too short or too common to be correlated safely.
pub fn is_trivial(value: &str) -> bool {
    let value = value.trim();
    let chars = value.chars().count();
    let numeric = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    chars < 4
        || (numeric && digits < 6)
        // Words (`Individual`, `application/json`, a route's `counties`) name things; what an
        // exchange generates for a visit has digits in it, or is long.
        || (digits == 0 && chars < 20)
        || matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "none" | "undefined"
        )
}

/// Whether a value looks made by a machine (an id, a token) rather than typed or chosen.
pub fn looks_generated(value: &str) -> bool {
    let value = value.trim();
    if value.len() < 6
        || value.contains(char::is_whitespace)
        || value.contains('@')
        || value.contains("://")
        || value.starts_with('/')
    {
        return false;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let letters = value.chars().filter(char::is_ascii_alphabetic).count();
    (digits > 0 && letters > 0)
        || (digits == value.len() && digits >= 8)
        || (value.len() >= 20
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
}

/// Every value a request sends, wherever it sends it (path segments, query, headers, cookies,
/// body fields).
pub fn sent_values(recorded: &Recorded) -> Vec<String> {
    let mut out: Vec<String> = recorded
        .url
        .path_segments()
        .into_iter()
        .flatten()
        .map(decode)
        .collect();
    out.extend(recorded.url.query_pairs().map(|(_, v)| v.into_owned()));
    for (_, value) in &recorded.headers {
        out.push(value.clone());
        out.push(super::secrets::split_scheme(value).1.to_string());
    }
    out.extend(recorded.cookies.iter().map(|(_, v)| v.clone()));
    match &recorded.body {
        SentBody::Json(json) => json_leaves(json, &mut out),
        SentBody::Form(fields) => out.extend(fields.iter().map(|(_, v)| v.clone())),
        SentBody::None | SentBody::Other { .. } => {}
    }
    out
}

/// A path segment as the server reads it.
pub fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn json_leaves(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::Object(map) => map.values().for_each(|v| json_leaves(v, out)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_leaves(v, out)),
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Number(n) => out.push(n.to_string()),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// Finds where values came from, and remembers the captures that take them.
pub struct Correlator<'a> {
    kept: &'a [Recorded],
    /// The requests' names (form, URL and regex captures are named after their request).
    names: &'a [String],
    offers: Vec<Vec<Offer>>,
    /// Value → the (request, offer) pairs that hold it, in request order.
    by_value: HashMap<String, Vec<(usize, usize)>>,
    /// Value → the first request that sent it.
    first_sent: HashMap<String, usize>,
    /// The captures made, per request.
    captures: Vec<Vec<(String, Capture)>>,
    /// The capture made for a source of a request, by its name.
    made: HashMap<(usize, Source), String>,
    taken: HashSet<String>,
}

impl<'a> Correlator<'a> {
    pub fn new(kept: &'a [Recorded], names: &'a [String]) -> Self {
        let offers: Vec<Vec<Offer>> = kept
            .iter()
            .map(|r| sources::offers(&r.reply, r.reply.url != r.url))
            .collect();
        let mut by_value: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (request, list) in offers.iter().enumerate() {
            for (offer, item) in list.iter().enumerate() {
                if !is_trivial(&item.value) {
                    by_value
                        .entry(item.value.clone())
                        .or_default()
                        .push((request, offer));
                }
            }
        }
        let mut first_sent = HashMap::new();
        for (request, recorded) in kept.iter().enumerate() {
            for value in sent_values(recorded) {
                first_sent.entry(value).or_insert(request);
            }
        }
        Self {
            kept,
            names,
            offers,
            by_value,
            first_sent,
            captures: vec![Vec::new(); kept.len()],
            made: HashMap::new(),
            taken: HashSet::new(),
        }
    }

    /// Whether the visitor sent `value` before (or in) request `request`: their own input.
    fn sent_by_visitor(&self, value: &str, request: usize) -> bool {
        self.first_sent
            .get(value)
            .is_some_and(|first| *first <= request)
    }

    /// Whether an earlier reply gave `value` first (without making a capture).
    pub fn given_by_reply(&self, at: usize, value: &str) -> bool {
        !is_trivial(value)
            && self
                .by_value
                .get(value)
                .and_then(|places| places.first())
                .is_some_and(|(first, _)| *first < at && !self.sent_by_visitor(value, *first))
    }

    /// The expression for a value request `at` sends, when an earlier reply gave it first.
    pub fn value(&mut self, at: usize, value: &str) -> Option<Found> {
        if is_trivial(value) {
            return None;
        }
        if let Some(places) = self.by_value.get(value) {
            let first = places.first().map(|(request, _)| *request)?;
            if first < at && !self.sent_by_visitor(value, first) {
                let (request, offer) = *places.iter().rev().find(|(r, _)| *r < at)?;
                return Some(self.take(request, offer));
            }
            return None;
        }
        self.in_text(at, value)
    }

    /// A value that only the text of a reply holds: a regex capture on the latest such reply.
    /// Only for values that look generated: a page's script holds many words a request sends.
    fn in_text(&mut self, at: usize, value: &str) -> Option<Found> {
        if value.chars().count() < 8 || !looks_generated(value) {
            return None;
        }
        let holds = |r: &Recorded| r.reply.body.as_deref().is_some_and(|b| b.contains(value));
        let first = self.kept[..at].iter().position(holds)?;
        if self.sent_by_visitor(value, first) {
            return None;
        }
        let (request, body) = self.kept[..at]
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, r)| Some((i, r.reply.body.as_deref().filter(|b| b.contains(value))?)))?;
        let pattern = sources::regex_around(body, value)?;
        self.offers[request].push(Offer {
            value: value.to_string(),
            source: Source::Regex(pattern),
            kind: Kind::Text,
        });
        let offer = self.offers[request].len() - 1;
        Some(self.take(request, offer))
    }

    /// The URL request `at` goes to, when an earlier reply offered it: resolved as `follow`
    /// resolves it, against `page` (the previous request's URL), it must give `url` (the query
    /// aside).
    pub fn url(&mut self, at: usize, url: &Url, page: Option<&Url>) -> Option<FoundUrl> {
        let wanted = super::select::without_query(url);
        for request in (0..at).rev() {
            for (offer, item) in self.offers[request].iter().enumerate() {
                if !item.value.contains('/') {
                    continue;
                }
                let resolved = match page {
                    Some(page) => page.join(&item.value),
                    None => Url::parse(&item.value),
                };
                let Ok(resolved) = resolved else { continue };
                if super::select::without_query(&resolved) == wanted {
                    let form_of = (item.source == Source::FormAction).then_some(request);
                    return Some(FoundUrl {
                        found: self.take(request, offer),
                        url: resolved,
                        form_of,
                    });
                }
            }
        }
        None
    }

    /// A field of the form request `form_of`'s reply holds, as a browser submits it: every field
    /// of the page comes from the page, however short or common its value (an amount, a flag).
    pub fn form_field(&mut self, form_of: usize, field: &str, value: &str) -> Option<Found> {
        let offer = self.offers[form_of]
            .iter()
            .position(|o| o.source == Source::FormField(field.to_string()) && o.value == value)?;
        Some(self.take(form_of, offer))
    }

    /// The expression for an offer, making its capture the first time.
    fn take(&mut self, request: usize, offer: usize) -> Found {
        let item = self.offers[request][offer].clone();
        let capture_key = match &item.source {
            Source::FormField(_) | Source::FormAction => Source::FormAction,
            other => other.clone(),
        };
        let name = match self.made.get(&(request, capture_key.clone())) {
            Some(name) => name.clone(),
            None => {
                let (wanted, capture) = self.capture_for(request, &item.source);
                let name = self.unique(&wanted);
                self.captures[request].push((name.clone(), capture));
                self.made.insert((request, capture_key), name.clone());
                name
            }
        };
        let expr = match &item.source {
            Source::FormField(field) => format!("{name}.fields{}", attribute(field)),
            Source::FormAction => format!("{name}.action"),
            _ => name,
        };
        Found {
            expr,
            kind: item.kind,
        }
    }

    fn capture_for(&self, request: usize, source: &Source) -> (String, Capture) {
        let request_name = &self.names[request];
        match source {
            Source::Pointer(pointer) => (
                pointer_name(pointer, request_name),
                Capture::Pointer(pointer.clone()),
            ),
            Source::FormField(_) | Source::FormAction => {
                (format!("{request_name}_form"), Capture::Form)
            }
            Source::Header(header) => (identifier(header), Capture::Header(header.clone())),
            Source::Cookie(cookie) => (identifier(cookie), Capture::Cookie(cookie.clone())),
            Source::FinalUrl => (format!("{request_name}_url"), Capture::Url),
            Source::Regex(pattern) => (
                format!("{request_name}_match"),
                Capture::Regex(pattern.clone()),
            ),
        }
    }

    fn unique(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        if RESERVED.contains(&name.as_str()) || KEYWORDS.contains(&name.as_str()) {
            name = format!("{name}_value");
        }
        let stem = name.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{stem}_{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    /// The captures made, per request, in the order they were made.
    pub fn into_captures(self) -> Vec<Vec<(String, Capture)>> {
        self.captures
    }
}

/// `.name`, or `['na-me']` for a name that is not an identifier.
fn attribute(name: &str) -> String {
    if is_identifier(name) {
        format!(".{name}")
    } else {
        format!("[{}]", serde_json::to_string(name).unwrap_or_default())
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A template name from any text: lower case, `_` for anything but letters and digits.
fn identifier(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .split('_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if name.is_empty() {
        name = "value".to_string();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("v{name}");
    }
    name
}

/// Words that name no thing on their own: the thing is the object they sit in.
const GENERIC: [&str; 7] = ["id", "uuid", "value", "key", "code", "token", "number"];

/// `/plans/3/id` as `plan_id`, `/enrollment/pay_now_url` as `pay_now_url`, `` as `NAME_reply`.
fn pointer_name(pointer: &str, request_name: &str) -> String {
    let words: Vec<String> = json::pointer_tokens(pointer)
        .map(Cow::into_owned)
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let Some(last) = words.last() else {
        return format!("{request_name}_reply");
    };
    let last = identifier(last);
    match words.len().checked_sub(2).map(|i| &words[i]) {
        Some(parent) if GENERIC.contains(&last.as_str()) => {
            format!("{}_{last}", singular(&identifier(parent)))
        }
        _ => last,
    }
}

fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        method: &str,
        url: &str,
        body: SentBody,
        reply_mime: &str,
        reply: &str,
    ) -> Recorded {
        let mut recorded = Recorded::fixture(method, url);
        recorded.body = body;
        recorded.reply.mime = reply_mime.into();
        recorded.reply.body = Some(reply.into());
        recorded
    }

    fn json(value: serde_json::Value) -> SentBody {
        SentBody::Json(value)
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}")).collect()
    }

    #[test]
    fn trivial_values_are_never_correlated() {
        for value in [
            "1",
            "true",
            "2014",
            "12345",
            "-1.5",
            "premium",
            "Individual",
            "application/json",
        ] {
            assert!(is_trivial(value), "{value}");
        }
        for value in [
            "A000000000123",
            "123456",
            "12345NC0010001",
            "312.07a",
            "abcdefghijklmnopqrstuvwxyz",
        ] {
            assert!(!is_trivial(value), "{value}");
        }
    }

    #[test]
    fn generated_looking_values_are_told_from_typed_ones() {
        for value in [
            "A000000000123",
            "12345678",
            "3f2c9a1e-77aa-4c1e-9a4f-0b1c2d3e4f50",
            "tok_abc123",
        ] {
            assert!(looks_generated(value), "{value}");
        }
        for value in [
            "27601",
            "jane.doe@example.com",
            "Individual",
            "/a/b1",
            "JANE DOE",
            "2014",
        ] {
            assert!(!looks_generated(value), "{value}");
        }
    }

    #[test]
    fn a_value_from_an_earlier_json_reply_becomes_a_pointer_capture() {
        let kept = [
            exchange(
                "POST",
                "http://ex/api/plans/search",
                json(serde_json::json!({"zip": "27601"})),
                "application/json",
                r#"{"plans": [{"id": "11111NC0010001"}, {"id": "22222NC0010002"}], "total": 2}"#,
            ),
            exchange(
                "GET",
                "http://ex/api/plans/22222NC0010002",
                SentBody::None,
                "application/json",
                r#"{"plan": {"id": "22222NC0010002", "year": 2014}}"#,
            ),
            exchange(
                "POST",
                "http://ex/api/select",
                json(serde_json::json!({"plan_id": "22222NC0010002", "year": 2014})),
                "application/json",
                "{}",
            ),
        ];
        let names = names(3);
        let mut correlator = Correlator::new(&kept, &names);
        // The details request takes it from the search; the selection from the details, the latest.
        assert_eq!(
            correlator.value(1, "22222NC0010002").unwrap().expr,
            "plan_id"
        );
        let found = correlator.value(2, "22222NC0010002").unwrap();
        assert_eq!((found.expr.as_str(), found.kind), ("plan_id_2", Kind::Text));
        assert_eq!(correlator.value(2, "2014"), None, "a small number");
        assert_eq!(
            correlator.value(0, "11111NC0010001"),
            None,
            "no earlier reply"
        );
        let captures = correlator.into_captures();
        assert_eq!(
            captures[0],
            [(
                "plan_id".to_string(),
                Capture::Pointer("/plans/1/id".into())
            )]
        );
        assert_eq!(
            captures[1],
            [("plan_id_2".to_string(), Capture::Pointer("/plan/id".into()))]
        );
        assert!(captures[2].is_empty());
    }

    #[test]
    fn what_the_visitor_sent_first_is_their_input_not_a_reply_value() {
        let kept = [
            exchange(
                "GET",
                "http://ex/api/zip/27601-1234",
                SentBody::None,
                "application/json",
                r#"{"zipcode": "27601-1234"}"#,
            ),
            exchange(
                "POST",
                "http://ex/api/search",
                json(serde_json::json!({"zipcode": "27601-1234"})),
                "application/json",
                "{}",
            ),
        ];
        let names = names(2);
        let mut correlator = Correlator::new(&kept, &names);
        assert_eq!(correlator.value(1, "27601-1234"), None);
    }

    #[test]
    fn a_form_is_captured_once_and_its_fields_and_action_referenced() {
        let page = r#"<form method="post" action="/issuers/1/landing">
            <input type="hidden" name="SAMLResponse" value="PHNhbWw+c2lnbmVk"/>
            <input type="hidden" name="Relay-State" value="0000000000042"/></form>"#;
        let kept = [
            exchange(
                "GET",
                "http://ex/pay-now",
                SentBody::None,
                "text/html",
                page,
            ),
            exchange(
                "POST",
                "http://ex/issuers/1/landing",
                SentBody::Form(vec![]),
                "text/html",
                "",
            ),
        ];
        let names = ["pay_now".to_string(), "landing".to_string()];
        let mut correlator = Correlator::new(&kept, &names);
        let url = correlator
            .url(1, &kept[1].url, Some(&kept[0].reply.url))
            .unwrap();
        assert_eq!(url.found.expr, "pay_now_form.action");
        assert_eq!(
            correlator.value(1, "PHNhbWw+c2lnbmVk").unwrap().expr,
            "pay_now_form.fields.SAMLResponse"
        );
        assert_eq!(
            correlator.value(1, "0000000000042").unwrap().expr,
            r#"pay_now_form.fields["Relay-State"]"#
        );
        assert_eq!(url.form_of, Some(0));
        assert_eq!(
            correlator
                .form_field(0, "SAMLResponse", "other")
                .map(|f| f.expr),
            None,
            "a value the page did not give"
        );
        assert_eq!(
            correlator.into_captures()[0],
            [("pay_now_form".to_string(), Capture::Form)]
        );
    }

    #[test]
    fn headers_cookies_and_text_are_looked_in_when_json_and_forms_have_nothing() {
        let mut login = exchange(
            "POST",
            "http://ex/login",
            SentBody::None,
            "text/html",
            "<html>\n<meta name=\"csrf-token\" content=\"c5rfT0kenValue\">",
        );
        login.reply.headers = vec![("X-Session-Ref".into(), "ref-998877".into())];
        login.reply.set_cookies = vec![("XSRF-TOKEN".into(), "xsrf-112233".into())];
        let kept = [
            login,
            exchange("GET", "http://ex/home", SentBody::None, "text/html", ""),
        ];
        let names = ["login".to_string(), "home".to_string()];
        let mut correlator = Correlator::new(&kept, &names);
        assert_eq!(
            correlator.value(1, "ref-998877").unwrap().expr,
            "x_session_ref"
        );
        assert_eq!(
            correlator.value(1, "xsrf-112233").unwrap().expr,
            "xsrf_token"
        );
        assert_eq!(
            correlator.value(1, "c5rfT0kenValue").unwrap().expr,
            "login_match"
        );
        let captures = correlator.into_captures();
        assert_eq!(
            captures[0],
            [
                (
                    "x_session_ref".to_string(),
                    Capture::Header("X-Session-Ref".into())
                ),
                (
                    "xsrf_token".to_string(),
                    Capture::Cookie("XSRF-TOKEN".into())
                ),
                (
                    "login_match".to_string(),
                    Capture::Regex(r#"content="([A-Za-z0-9]+)"#.into())
                ),
            ]
        );
    }

    #[test]
    fn a_url_from_a_json_reply_is_followed_from_the_page_the_visitor_is_on() {
        let kept = [
            exchange(
                "POST",
                "http://ex/api/selection",
                SentBody::None,
                "application/json",
                r#"{"enrollment": {"pay_now_url": "/api/enrollment/0000000000042/pay-now"}}"#,
            ),
            exchange(
                "GET",
                "http://ex/api/enrollment/0000000000042/pay-now?apikey=k",
                SentBody::None,
                "text/html",
                "",
            ),
        ];
        let names = names(2);
        let mut correlator = Correlator::new(&kept, &names);
        let found = correlator
            .url(1, &kept[1].url, Some(&kept[0].reply.url))
            .unwrap();
        assert_eq!(found.found.expr, "pay_now_url");
        assert_eq!(
            found.url.as_str(),
            "http://ex/api/enrollment/0000000000042/pay-now"
        );
        let elsewhere = Url::parse("http://other/").unwrap();
        let mut correlator = Correlator::new(&kept, &names);
        assert_eq!(
            correlator.url(1, &kept[1].url, Some(&elsewhere)),
            None,
            "it would resolve elsewhere"
        );
    }

    #[test]
    fn capture_names_say_what_they_hold() {
        assert_eq!(pointer_name("/plans/3/id", "search"), "plan_id");
        assert_eq!(pointer_name("/application/id", "x"), "application_id");
        assert_eq!(pointer_name("/counties/0/id", "x"), "county_id");
        assert_eq!(
            pointer_name("/enrollment/payment_transaction_id", "x"),
            "payment_transaction_id"
        );
        assert_eq!(pointer_name("/SAMLResponse", "x"), "samlresponse");
        assert_eq!(pointer_name("", "pay_now"), "pay_now_reply");
        assert_eq!(pointer_name("/0", "pay_now"), "pay_now_reply");
        assert_eq!(identifier("9-lives"), "v9_lives");
    }
}
