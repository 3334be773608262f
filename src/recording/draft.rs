//! The journey file a recording becomes, before it is written: each request with its template
//! texts (literals escaped, references to captures, `${env:…}` for secrets), the captures that
//! feed them, and what the file's opening comment must tell the user — the secrets to set, what
//! could not be correlated, what was left out, the pauses, the scenario snippet.

use url::Url;

use super::correlate::Capture;
use super::secrets::{Place, Secret};
use super::select::LeftOut;
use crate::access::secrets::Secrets as Redactor;
use crate::vocab::Stage;

/// A whole journey file to write.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The journey's name (the recording's file stem).
    pub journey: String,
    /// The recording's file name, for the opening comment.
    pub file: String,
    /// The program that recorded it (`Chromium 131`).
    pub creator: Option<String>,
    /// When the first kept request started.
    pub recorded_at: Option<String>,
    pub base: Url,
    pub requests: Vec<DraftRequest>,
    pub secrets: Vec<Secret>,
    /// Secrets every request to the exchange sent, for the scenario's `[http]`: where (query or
    /// header), under which name, and the variable.
    pub shared: Vec<(Place, String, String)>,
    pub uncorrelated: Vec<Uncorrelated>,
    pub left_out: LeftOut,
    /// Hosts besides the base URL's that kept requests go to.
    pub other_hosts: Vec<String>,
    /// What the requests' bodies or queries could not carry, a line each.
    pub notes: Vec<String>,
    /// Finds any secret of the recording in any encoding (never printed).
    pub redactor: Redactor,
}

/// One request to write.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    pub name: String,
    pub step: &'static str,
    /// Suggested, written commented out.
    pub stage: Option<Stage>,
    /// Upper case.
    pub method: String,
    pub address: Address,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: DraftBody,
    /// The status the recording got.
    pub expect: u16,
    pub captures: Vec<(String, Capture)>,
    /// The pause before it in the recording, in seconds, when long enough to be a person reading.
    pub think: Option<f64>,
    /// What the recording shows, for a comment: `POST /api/v1/plans/search → 200 application/json`.
    pub recorded: String,
}

/// Where the request goes: a URL template, or a URL from a reply to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Url(String),
    Follow(String),
}

/// The body to send.
#[derive(Debug, Clone, PartialEq)]
pub enum DraftBody {
    None,
    /// String leaves are templates; `null` is written as `{{ none }}`.
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// A value that looks generated but that no earlier reply held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncorrelated {
    pub request: String,
    /// `path`, `query apikey`, `header X-Id`, `body plan_id`.
    pub place: String,
    pub value: String,
}
