//! Why one request of a journey failed before or in its reply: each cause its own variant, printed
//! after the request's label (`choose plan: capture plan_id: not in the reply`). The text keys the
//! failure table, so it stays short and never carries a value that changes visit to visit.

use crate::journey_file::template::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A template the request is built from cannot be evaluated.
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("let {name}: {source}")]
    Let { name: String, source: TemplateError },
    #[error("repeat: {0}")]
    Repeat(TemplateError),
    #[error("repeat.times is not a whole number")]
    RepeatNotWhole,
    #[error("repeat.until: {0}")]
    Until(TemplateError),
    /// A check (`before`, `checks`) did not hold: its reason, as the journey file words it.
    #[error("{0}")]
    Check(String),
    #[error("bad URL {url} ({source})")]
    BadUrl {
        url: String,
        source: url::ParseError,
    },
    #[error("cannot follow {written} ({source})")]
    Follow {
        written: String,
        source: url::ParseError,
    },
    #[error(transparent)]
    JsonBody(serde_json::Error),
    #[error("form: not a table of fields")]
    NotFields,
    #[error(transparent)]
    Field(minijinja::Error),
    /// A 2xx the request does not expect: maybe the journey's `expect` is wrong.
    #[error(
        "HTTP {status}, expected {} (set expect = {status} if that is right)",
        expected.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
    )]
    Unexpected { status: u16, expected: Vec<u16> },
    /// A status that is not a success, with the reply's own error code if its JSON has one.
    #[error("HTTP {status}{}", code.as_ref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Status { status: u16, code: Option<String> },
    #[error("capture {name}: not in the reply{hint}")]
    NotCaptured { name: String, hint: &'static str },
}
