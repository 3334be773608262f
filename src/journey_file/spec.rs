//! The journey file as written: plain data, parsed with serde + toml, unknown keys refused.
//! `docs/journeys.md` explains every key with examples.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole journey file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyFileSpec {
    /// Values templates see as `vars.NAME`; a scenario's `[vars]` overrides them.
    #[serde(default)]
    pub vars: toml::Table,
    /// The journeys, in the order reports list them.
    pub journeys: Vec<JourneySpec>,
    /// Every request a journey may make, by name.
    pub requests: BTreeMap<String, RequestSpec>,
    /// What a visit that reached `selected` is written down as in `enrollments.csv` (for the cracks
    /// report); leave it out when the journeys enroll nobody.
    #[serde(default)]
    pub enrollment: Option<EnrollmentSpec>,
}

/// One journey: a name, its share of visits, and its requests in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySpec {
    pub name: String,
    /// Relative share of visits (a scenario's `[traffic.mix]` overrides it).
    #[serde(default = "one")]
    pub weight: f64,
    /// Names of `[requests.*]`, in the order a visitor makes them.
    pub requests: Vec<String>,
}

fn one() -> f64 {
    1.0
}

/// One request of a journey.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The step the request is measured under: any lowercase word (`browse`, `login`, …). Steps
    /// get their latency, error rate, timeline columns and report panel, in the order the
    /// journeys first use them.
    pub step: String,
    /// Its name in reports and Goose's request table; default "STEP: REQUEST".
    #[serde(default)]
    pub label: Option<String>,
    /// HTTP method; default GET.
    #[serde(default)]
    pub method: Option<String>,
    /// URL template relative to the target (its path prefix kept), or absolute.
    #[serde(default)]
    pub url: Option<String>,
    /// URL template from a reply (a link, a form's action), resolved as a browser would against
    /// the page the visitor is on: the previous request's URL.
    #[serde(default)]
    pub follow: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON body: any TOML value; a string that is one `{{ expression }}` becomes the expression's
    /// value (a number, a list, an object), any other string is rendered as text.
    #[serde(default)]
    pub json: Option<toml::Value>,
    /// Form body: a table of field templates, or one `{{ expression }}` giving a table (a captured
    /// form's `fields`).
    #[serde(default)]
    pub form: Option<toml::Value>,
    /// Accepted statuses; default 200.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Values computed before the request is sent, by name (expressions).
    #[serde(default, rename = "let")]
    pub bindings: BTreeMap<String, String>,
    /// Conditions checked before sending (after `let`); a visit that fails one fails the step.
    #[serde(default)]
    pub before: Vec<CheckSpec>,
    /// Conditions on the reply; a reply that fails one fails the step.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Values taken from the reply, by name, for later templates.
    #[serde(default)]
    pub capture: BTreeMap<String, CaptureSpec>,
    /// Send it more than once (result pages).
    #[serde(default)]
    pub repeat: Option<RepeatSpec>,
    /// Pause before this request, as a person reads the page (the scenario's `think_time`).
    #[serde(default)]
    pub think: bool,
    /// The funnel stage a visit has reached once this request succeeded.
    #[serde(default)]
    pub stage: Option<String>,
}

/// One status or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    One(u16),
    Any(Vec<u16>),
}

/// A condition; exactly one of `pointer`, `contains`, `header` or `that`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// A JSON pointer into the reply (`/plans/0/id`): it must exist (default), or `equals` a
    /// value, or `matches` a regular expression.
    #[serde(default)]
    pub pointer: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default)]
    pub matches: Option<String>,
    /// Text the reply's body must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// A header the reply must have.
    #[serde(default)]
    pub header: Option<String>,
    /// An expression that must be true (it sees `reply`, the captures, `vars`, …).
    #[serde(default)]
    pub that: Option<String>,
    /// The failure's reason in the report (keep it short: it keys the failure table).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A value taken from the reply; exactly one source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    /// A JSON pointer into the reply's body.
    #[serde(default)]
    pub pointer: Option<String>,
    /// A reply header.
    #[serde(default)]
    pub header: Option<String>,
    /// A cookie the reply sets.
    #[serde(default)]
    pub cookie: Option<String>,
    /// A regular expression on the body: its first group (or the whole match).
    #[serde(default)]
    pub regex: Option<String>,
    /// The first HTML form of the reply: `{action, method, fields}`, the action made absolute.
    #[serde(default)]
    pub form: bool,
    /// The URL the request went to.
    #[serde(default)]
    pub url: bool,
    /// An expression evaluated on the reply (`reply`) and everything captured before.
    #[serde(default)]
    pub expr: Option<String>,
    /// Over repetitions, collect every page's list into one list (instead of keeping the last).
    #[serde(default)]
    pub append: bool,
    /// The value when the request was made but the source is missing.
    #[serde(default)]
    pub default: Option<toml::Value>,
}

/// Send a request up to `times` times (`page` counts from 0), stopping early when `until` is true.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatSpec {
    /// An expression or a number: the most times to send it.
    pub times: toml::Value,
    /// An expression on the reply; true ends the repetition.
    #[serde(default)]
    pub until: Option<String>,
}

/// Templates for a visit's row in `enrollments.csv`, rendered when the visit ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentSpec {
    pub issuer_id: String,
    #[serde(default)]
    pub issuer_name: Option<String>,
    pub payment_transaction_id: String,
    /// An expression: did the exchange's Pay Now page come with its form.
    #[serde(default)]
    pub pay_now: Option<String>,
    /// The insurer's answer when asked, empty when the visit did not ask: one of surge's words
    /// (`effectuated`, `awaiting_payment`, `awaiting_834`, `unknown`), or a word `status_map` maps.
    #[serde(default)]
    pub confirmed: Option<String>,
    /// The insurer's own status words, each mapped to surge's: `{ ACTIVE = "effectuated" }`.
    #[serde(default)]
    pub status_map: BTreeMap<String, String>,
}
