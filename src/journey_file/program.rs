//! A journey file compiled: what the journeys run, with every template compiled and every name
//! resolved to the shared vocabulary (steps, stages).

use minijinja::Value;
use regex::Regex;

use super::template::{TemplateId, Templates};
use crate::access::Access;
use crate::rundir::enrollments::STATUS_WORDS;
use crate::vocab::{Stage, StepId, Steps};

/// Everything the journeys of a run do.
#[derive(Debug)]
pub struct Program {
    /// The journey file, for messages.
    pub path: std::path::PathBuf,
    /// The steps the requests are measured under, in the order the journeys first use them.
    pub steps: Steps,
    pub journeys: Vec<Journey>,
    pub requests: Vec<Request>,
    pub templates: Templates,
    /// `vars`: the journey file's, overridden by the scenario's.
    pub vars: Value,
    /// Headers, query parameters and secrets every request to the target carries.
    pub access: Access,
    pub enrollment: Option<EnrollmentTemplates>,
    /// What its templates and pointers could read of a reply.
    pub reply_keys: std::sync::Arc<ReplyKeys>,
}

impl Program {
    /// The journey's weights, in order (the mix).
    pub fn weights(&self) -> Vec<f64> {
        self.journeys.iter().map(|j| j.weight).collect()
    }

    /// The funnel stages some journey proves, in funnel order.
    pub fn proved_stages(&self) -> Vec<Stage> {
        Stage::ALL
            .into_iter()
            .filter(|s| self.journeys.iter().any(|j| j.stages.contains(s)))
            .collect()
    }

    pub fn names(&self) -> Vec<&str> {
        self.journeys.iter().map(|j| j.name.as_str()).collect()
    }
}

/// One journey: its name, share and requests.
#[derive(Debug)]
pub struct Journey {
    pub name: String,
    pub weight: f64,
    /// Indexes into [`Program::requests`], in order.
    pub requests: Vec<usize>,
    /// The funnel stages its requests prove, in order: the stages its visits try.
    pub stages: Vec<Stage>,
    /// After each of its requests, the names a later request or the enrollment row still reads,
    /// sorted: a visit lets go of the rest (the pages of plans it has chosen from), so a visit
    /// thinking between pages holds only what it will use.
    pub live_after: Vec<Vec<String>>,
}

/// HTTP methods a journey may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    pub fn named(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            _ => return None,
        })
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy)]
pub enum Address {
    /// Relative to the target's base URL, its path prefix kept (or absolute).
    Target(TemplateId),
    /// From a reply, resolved against the page the visitor is on.
    Follow(TemplateId),
}

/// A JSON body with templates at its leaves.
#[derive(Debug)]
pub enum JsonTemplate {
    Literal(serde_json::Value),
    Value(TemplateId),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

#[derive(Debug)]
pub enum BodyTemplate {
    None,
    Json(JsonTemplate),
    /// Field templates.
    Fields(Vec<(String, TemplateId)>),
    /// One expression giving a table of fields.
    FieldsFrom(TemplateId),
}

/// One request of a journey.
#[derive(Debug)]
pub struct Request {
    /// Its key in the file (`[requests.NAME]`).
    pub name: String,
    pub step: StepId,
    /// Name in reports and in Goose's table.
    pub label: String,
    pub method: Method,
    pub address: Address,
    pub headers: Vec<(String, TemplateId)>,
    pub query: Vec<(String, TemplateId)>,
    pub body: BodyTemplate,
    pub expect: Vec<u16>,
    pub bindings: Vec<(String, TemplateId)>,
    pub before: Vec<Check>,
    pub checks: Vec<Check>,
    pub captures: Vec<Capture>,
    pub repeat: Option<Repeat>,
    pub think: bool,
    pub stage: Option<Stage>,
}

impl Request {
    /// Every template the request evaluates.
    pub fn templates(&self) -> Vec<TemplateId> {
        let mut ids: Vec<TemplateId> = self.bindings.iter().map(|(_, id)| *id).collect();
        ids.push(match self.address {
            Address::Target(id) | Address::Follow(id) => id,
        });
        ids.extend(self.headers.iter().chain(&self.query).map(|(_, id)| *id));
        match &self.body {
            BodyTemplate::None => {}
            BodyTemplate::Json(json) => ids.extend(json.templates()),
            BodyTemplate::Fields(fields) => ids.extend(fields.iter().map(|(_, id)| *id)),
            BodyTemplate::FieldsFrom(id) => ids.push(*id),
        }
        ids.extend(
            self.before
                .iter()
                .chain(&self.checks)
                .filter_map(|check| match check.kind {
                    CheckKind::That(id) => Some(id),
                    _ => None,
                }),
        );
        ids.extend(self.captures.iter().filter_map(|c| match c.source {
            CaptureSource::Expr(id) => Some(id),
            _ => None,
        }));
        if let Some(repeat) = &self.repeat {
            ids.push(repeat.times);
            ids.extend(repeat.until);
        }
        ids
    }
}

impl JsonTemplate {
    /// The templates at its leaves.
    pub fn templates(&self) -> Vec<TemplateId> {
        match self {
            JsonTemplate::Literal(_) => Vec::new(),
            JsonTemplate::Value(id) => vec![*id],
            JsonTemplate::Array(items) => items.iter().flat_map(Self::templates).collect(),
            JsonTemplate::Object(fields) => {
                fields.iter().flat_map(|(_, v)| v.templates()).collect()
            }
        }
    }
}

#[derive(Debug)]
pub struct Repeat {
    pub times: TemplateId,
    pub until: Option<TemplateId>,
}

/// A condition and the reason given when it fails.
#[derive(Debug)]
pub struct Check {
    pub kind: CheckKind,
    pub reason: String,
}

#[derive(Debug)]
pub enum CheckKind {
    Pointer { pointer: String, test: PointerTest },
    Contains(String),
    Header(String),
    That(TemplateId),
}

#[derive(Debug)]
pub enum PointerTest {
    Exists(bool),
    Equals(Value),
    Matches(Regex),
}

/// A value taken from a reply.
#[derive(Debug)]
pub struct Capture {
    pub name: String,
    pub source: CaptureSource,
    pub append: bool,
    pub default: Option<Value>,
}

#[derive(Debug)]
pub enum CaptureSource {
    Pointer(String),
    Header(String),
    Cookie(String),
    Regex(Regex),
    Form,
    Url,
    Expr(TemplateId),
}

/// Templates of a visit's row in `enrollments.csv`.
#[derive(Debug)]
pub struct EnrollmentTemplates {
    pub issuer_id: TemplateId,
    pub issuer_name: Option<TemplateId>,
    pub payment_transaction_id: TemplateId,
    pub pay_now: Option<TemplateId>,
    pub confirmed: Option<TemplateId>,
    /// The insurer's status words, each with surge's word for it (checked at load).
    pub status_map: Vec<(String, String)>,
    /// Where `confirmed` is written, `FILE:LINE`, for the warning about words surge does not know.
    pub confirmed_at: Option<String>,
}

impl EnrollmentTemplates {
    /// Every template of the row.
    pub fn templates(&self) -> impl Iterator<Item = TemplateId> {
        [
            Some(self.issuer_id),
            self.issuer_name,
            Some(self.payment_transaction_id),
            self.pay_now,
            self.confirmed,
        ]
        .into_iter()
        .flatten()
    }

    /// The insurer's answer in surge's words: through `status_map` (its exact word first, then
    /// ignoring case), else surge's own word whatever its case, else as the insurer wrote it — the
    /// cracks report then counts it as a word it does not know.
    pub fn status(&self, answer: String) -> String {
        let answer_trimmed = answer.trim();
        let mapped = self
            .status_map
            .iter()
            .find(|(word, _)| word == answer_trimmed)
            .or_else(|| {
                self.status_map
                    .iter()
                    .find(|(word, _)| word.eq_ignore_ascii_case(answer_trimmed))
            });
        if let Some((_, surge)) = mapped {
            return surge.clone();
        }
        match STATUS_WORDS
            .iter()
            .find(|word| word.eq_ignore_ascii_case(answer_trimmed))
        {
            Some(word) => word.to_string(),
            None => answer,
        }
    }
}

/// Names templates see besides the captures; a capture or `let` may not take them.
pub const RESERVED: [&str; 8] = [
    "visit",
    "household",
    "vars",
    "data",
    "reply",
    "status",
    "page",
    "loop",
];

/// The member names anything in a journey file could read from a reply: every word of its
/// templates and every token of its JSON pointers. A reply's members under other names are skipped
/// when it is read and parsed only if something reaches them after all (a whole capture sent on in
/// a body), so what this leaves out costs time, never a value.
#[derive(Debug, Default)]
pub struct ReplyKeys {
    /// By length, for a lookup that costs a few byte comparisons on every member of every reply.
    by_len: Vec<Vec<Box<str>>>,
    /// Read every member (no journey file to say which).
    all: bool,
}

impl ReplyKeys {
    pub fn everything() -> Self {
        ReplyKeys {
            by_len: Vec::new(),
            all: true,
        }
    }

    pub fn of(words: impl IntoIterator<Item = String>) -> Self {
        let mut keys = ReplyKeys::default();
        for word in words {
            let len = word.len();
            if keys.by_len.len() <= len {
                keys.by_len.resize_with(len + 1, Vec::new);
            }
            if !keys.by_len[len].iter().any(|w| **w == *word) {
                keys.by_len[len].push(word.into());
            }
        }
        keys
    }

    pub fn contains(&self, key: &str) -> bool {
        self.all
            || self
                .by_len
                .get(key.len())
                .is_some_and(|words| words.iter().any(|w| **w == *key))
    }
}
