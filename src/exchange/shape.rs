//! How the exchange's API looks from outside. Real exchanges differ from the embedded one in ways a
//! journey file must cope with (../docs/exchange-api.md): the CMS Marketplace API wants an `apikey`
//! on every call, exchanges live under a path prefix, and some answer Pay Now with JSON for their
//! own page script instead of an auto-submitting HTML form. Behind the API, insurers differ too:
//! the 834s they receive are written another way (see `edi834::Style`), and their status route
//! answers in their own words (see `status_words`). These switches let the embedded exchange take those
//! shapes, so one binary can be shown to drive differently shaped exchanges from files.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::behaviour::Behaviour;
use super::edi834::{self, Premiums};
use super::state::AppState;
use super::status_words::StatusWords;

/// The shape of the exchange's API.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Every `/api/…` request must carry `apikey=KEY` in its query (the Marketplace API's rule).
    pub api_key: Option<String>,
    /// Everything is served under this path (`/marketplace`); empty for the root.
    pub base_path: String,
    /// What `GET …/pay-now` answers.
    pub pay_now: PayNow,
    /// How the insurers' 834s are written.
    pub edi834: edi834::Style,
    /// The words the insurers' status route answers in.
    pub status_words: StatusWords,
}

/// A shape that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("--base-path `{0}` must look like /marketplace")]
    BasePath(String),
    /// `key` is the faults' key path, e.g. `insurers."*".no_premium_834`.
    #[error(
        "{key}: this exchange's 834s carry no premium loops (--834-premiums none), so none can be \
         left out; drop the key or the flag"
    )]
    NoPremiumsToLeaveOut { key: String },
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
    pub fn normalized_base_path(path: &str) -> Result<String, ShapeError> {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Ok(String::new());
        }
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            return Err(ShapeError::BasePath(path.to_string()));
        }
        Ok(path.to_string())
    }

    /// Refuse faults this shape makes meaningless: an 834 cannot lose premium loops it never has.
    pub fn check(&self, behaviour: &Behaviour) -> Result<(), ShapeError> {
        if self.edi834.premiums != Premiums::None {
            return Ok(());
        }
        match behaviour
            .insurers
            .iter()
            .find(|(_, faults)| faults.no_premium_834 > 0.0)
        {
            Some((id, _)) => Err(ShapeError::NoPremiumsToLeaveOut {
                key: format!("insurers.\"{id}\".no_premium_834"),
            }),
            None => Ok(()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::behaviour::InsurerFaults;

    #[test]
    fn an_exchange_without_premium_loops_refuses_to_leave_them_out() {
        let faults = |share| Behaviour {
            insurers: [(
                "11512".to_string(),
                InsurerFaults {
                    no_premium_834: share,
                    ..InsurerFaults::default()
                },
            )]
            .into(),
            ..Behaviour::default()
        };
        let bare = Shape {
            edi834: edi834::Style {
                premiums: Premiums::None,
                ..edi834::Style::default()
            },
            ..Shape::default()
        };
        let e = bare.check(&faults(0.1)).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "insurers.\"11512\".no_premium_834: this exchange's 834s carry no premium loops"
            ),
            "{e}"
        );
        assert_eq!(bare.check(&faults(0.0)), Ok(()));
        assert_eq!(Shape::default().check(&faults(0.1)), Ok(()));
    }

    #[test]
    fn a_base_path_is_checked() {
        assert_eq!(
            Shape::normalized_base_path("/shaped/"),
            Ok("/shaped".into())
        );
        assert_eq!(Shape::normalized_base_path(""), Ok(String::new()));
        assert_eq!(
            Shape::normalized_base_path("shaped")
                .unwrap_err()
                .to_string(),
            "--base-path `shaped` must look like /marketplace"
        );
    }
}
