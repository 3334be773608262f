//! How the exchange's API looks from outside. Real exchanges differ from the embedded one in ways a
//! journey file must cope with (../docs/exchange-api.md): the CMS Marketplace API wants an `apikey`
//! on every call, exchanges live under a path prefix, and some answer Pay Now with JSON for their
//! own page script instead of an auto-submitting HTML form. These switches let the embedded exchange
//! take those shapes, so one binary can be shown to drive differently shaped exchanges from files.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::state::AppState;

/// The shape of the exchange's API.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Every `/api/…` request must carry `apikey=KEY` in its query (the Marketplace API's rule).
    pub api_key: Option<String>,
    /// Everything is served under this path (`/marketplace`); empty for the root.
    pub base_path: String,
    /// What `GET …/pay-now` answers.
    pub pay_now: PayNow,
}

/// The Pay Now answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PayNow {
    /// An HTML page whose form auto-submits the SAML Response to the insurer.
    #[default]
    Html,
    /// `{"SAMLResponse": …, "RelayState": …, "action": …}` for the exchange's own page script.
    Json,
}

impl Shape {
    /// The base path, checked: empty, or `/` then segments, without a trailing `/`.
    pub fn normalized_base_path(path: &str) -> Result<String, String> {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Ok(String::new());
        }
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            return Err(format!("--base-path `{path}` must look like /marketplace"));
        }
        Ok(path.to_string())
    }
}

/// Refuse an API request without the right `apikey`, as the Marketplace API does.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.shape.api_key.as_deref() else {
        return next.run(request).await;
    };
    let given = request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "apikey")
            .map(|(_, value)| value.into_owned())
    });
    let code = match given {
        Some(key) if key == expected => return next.run(request).await,
        Some(_) => "API_KEY_INVALID",
        None => "API_KEY_MISSING",
    };
    let message = match code {
        "API_KEY_MISSING" => "no apikey was supplied: every call needs ?apikey=…",
        _ => "the apikey given is not valid",
    };
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}
