//! The Marketplace error shape, returned by every route on every failure.

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An error in the Marketplace shape: `{"code","status","message","error"}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {message}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
    pub detail: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    status: &'a str,
    message: &'a str,
    error: &'a str,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        message: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message,
            detail: detail.into(),
        }
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "1000",
            "Internal error",
            detail,
        )
    }
    pub fn county_not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1001", "County not found", detail)
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "1003", "Invalid input", detail)
    }
    pub fn issuer_not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1004", "Issuer not found", detail)
    }
    pub fn plan_not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1006", "Plan not found", detail)
    }
    pub fn enrollment_not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "2001",
            "Application or enrollment not found",
            detail,
        )
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "2002", "Conflict", detail)
    }
    pub fn saml_refused(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "2003",
            "SAML Response refused",
            detail,
        )
    }
    pub fn payment_refused(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "2004", "Payment refused", detail)
    }
    /// 500/1007: the request timed out inside the exchange.
    pub fn timed_out(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "1007",
            "request timed-out, try again",
            detail,
        )
    }
    /// 503/1012: the exchange is saturated.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "1012",
            "coverage data temporarily unavailable",
            detail,
        )
    }
    /// The message of a Marketplace error code.
    pub fn message_of(code: &str) -> &'static str {
        match code {
            "1000" => "Internal error",
            "1007" => "request timed-out, try again",
            "1012" => "coverage data temporarily unavailable",
            _ => "Service error",
        }
    }
    pub fn no_route(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1003", "No such route", detail)
    }
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "1003",
            "Method not allowed",
            detail,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            status: self.status.as_str(),
            message: self.message,
            error: &self.detail,
        };
        // Serialising four strings cannot fail; fall back to an empty object rather than panic.
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response()
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

/// A JSON body parsed whatever the Content-Type, with every failure in the Marketplace shape (400/1003).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("malformed JSON body: {e}")))
    }
}

/// A body that is either JSON (Content-Type application/json) or an urlencoded form.
pub struct FormOrJson<T>(pub T);

impl<S, T> FromRequest<S> for FormOrJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            let JsonBody(t) = JsonBody::from_request(req, state).await?;
            Ok(FormOrJson(t))
        } else {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::invalid(e.body_text()))?;
            serde_urlencoded::from_bytes(&bytes)
                .map(FormOrJson)
                .map_err(|e| ApiError::invalid(format!("malformed form body: {e}")))
        }
    }
}
