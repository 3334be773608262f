//! The Marketplace error shape, returned by every route on every failure.
//!
//! Each error the exchange answers with (HTTP status, Marketplace code and message) is declared
//! once, in one table, which gives both its constructor and what an error window's code means.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection, QueryRejection};
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

/// Declares every Marketplace error once: a constructor per line, taking the detail, and the table
/// [`ApiError::message_of`] reads.
macro_rules! marketplace_errors {
    ($($(#[$doc:meta])* $name:ident => $status:ident, $code:literal, $message:literal;)*) => {
        impl ApiError {
            $(
                $(#[$doc])*
                pub fn $name(detail: impl Into<String>) -> Self {
                    Self {
                        status: StatusCode::$status,
                        code: $code,
                        message: $message,
                        detail: detail.into(),
                    }
                }
            )*
        }

        /// (status, code, message) of every Marketplace error.
        const MARKETPLACE_ERRORS: &[(StatusCode, &str, &str)] =
            &[$((StatusCode::$status, $code, $message)),*];
    };
}

marketplace_errors! {
    internal => INTERNAL_SERVER_ERROR, "1000", "Internal error";
    county_not_found => NOT_FOUND, "1001", "County not found";
    invalid => BAD_REQUEST, "1003", "Invalid input";
    issuer_not_found => NOT_FOUND, "1004", "Issuer not found";
    plan_not_found => NOT_FOUND, "1006", "Plan not found";
    enrollment_not_found => NOT_FOUND, "2001", "Application or enrollment not found";
    conflict => CONFLICT, "2002", "Conflict";
    saml_refused => FORBIDDEN, "2003", "SAML Response refused";
    payment_refused => FORBIDDEN, "2004", "Payment refused";
    /// 500/1007: the request timed out inside the exchange.
    timed_out => INTERNAL_SERVER_ERROR, "1007", "request timed-out, try again";
    /// 503/1012: the exchange is saturated.
    unavailable => SERVICE_UNAVAILABLE, "1012", "coverage data temporarily unavailable";
    no_route => NOT_FOUND, "1003", "No such route";
    method_not_allowed => METHOD_NOT_ALLOWED, "1003", "Method not allowed";
    /// 413/1003: a request body over [`MAX_BODY`].
    too_large => PAYLOAD_TOO_LARGE, "1003", "Request body too large";
    /// 408/1003: the request body did not arrive within the exchange's body timeout.
    body_timed_out => REQUEST_TIMEOUT, "1003", "Request body too slow";
}

/// The largest request body the exchange reads, in bytes (2 MiB, axum's default limit, which the
/// extractors apply): a larger one is answered 413, at once when its Content-Length says so.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

impl ApiError {
    /// The message of a Marketplace server error code (an error window's body): that of the
    /// exchange's own 5xx error with this code, else `Service error`.
    pub fn message_of(code: &str) -> &'static str {
        MARKETPLACE_ERRORS
            .iter()
            .find(|(status, c, _)| status.is_server_error() && *c == code)
            .map_or("Service error", |(_, _, message)| message)
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
        Self::unreadable_body(r.status(), r.body_text(), &r)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        Self::unreadable_body(r.status(), r.body_text(), &r)
    }
}

impl ApiError {
    /// A body that could not be read (or parsed): 413 past [`MAX_BODY`], 408 when it did not arrive
    /// in time ([`super::serve::BodyTimedOut`] somewhere in `error`'s sources), else 400.
    fn unreadable_body(
        status: StatusCode,
        detail: String,
        error: &(dyn std::error::Error + 'static),
    ) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::too_large(format!("the request body is over {MAX_BODY} bytes"));
        }
        let mut source = Some(error);
        while let Some(e) = source {
            if let Some(timed_out) = e.downcast_ref::<super::serve::BodyTimedOut>() {
                return Self::body_timed_out(timed_out.to_string());
            }
            source = e.source();
        }
        Self::invalid(detail)
    }
}

/// The request's body, at most [`MAX_BODY`] bytes: a Content-Length over it is refused before
/// anything is read.
async fn body_of<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = declared.filter(|&length| length > MAX_BODY as u64) {
        return Err(ApiError::too_large(format!(
            "the request body is {length} bytes, over {MAX_BODY}"
        )));
    }
    Ok(Bytes::from_request(req, state).await?)
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
        let bytes = body_of(req, state).await?;
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
            let bytes = body_of(req, state).await?;
            serde_urlencoded::from_bytes(&bytes)
                .map(FormOrJson)
                .map_err(|e| ApiError::invalid(format!("malformed form body: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bodies clients have always received, byte for byte.
    #[tokio::test]
    async fn every_error_keeps_its_status_and_body() {
        let cases = [
            (
                ApiError::internal("d\"1"),
                500,
                r#"{"code":"1000","status":"500","message":"Internal error","error":"d\"1"}"#,
            ),
            (
                ApiError::county_not_found("d"),
                404,
                r#"{"code":"1001","status":"404","message":"County not found","error":"d"}"#,
            ),
            (
                ApiError::invalid("d"),
                400,
                r#"{"code":"1003","status":"400","message":"Invalid input","error":"d"}"#,
            ),
            (
                ApiError::issuer_not_found("d"),
                404,
                r#"{"code":"1004","status":"404","message":"Issuer not found","error":"d"}"#,
            ),
            (
                ApiError::plan_not_found("d"),
                404,
                r#"{"code":"1006","status":"404","message":"Plan not found","error":"d"}"#,
            ),
            (
                ApiError::enrollment_not_found("d"),
                404,
                r#"{"code":"2001","status":"404","message":"Application or enrollment not found","error":"d"}"#,
            ),
            (
                ApiError::conflict("d"),
                409,
                r#"{"code":"2002","status":"409","message":"Conflict","error":"d"}"#,
            ),
            (
                ApiError::saml_refused("d"),
                403,
                r#"{"code":"2003","status":"403","message":"SAML Response refused","error":"d"}"#,
            ),
            (
                ApiError::payment_refused("d"),
                403,
                r#"{"code":"2004","status":"403","message":"Payment refused","error":"d"}"#,
            ),
            (
                ApiError::timed_out("d"),
                500,
                r#"{"code":"1007","status":"500","message":"request timed-out, try again","error":"d"}"#,
            ),
            (
                ApiError::unavailable("d"),
                503,
                r#"{"code":"1012","status":"503","message":"coverage data temporarily unavailable","error":"d"}"#,
            ),
            (
                ApiError::no_route("d"),
                404,
                r#"{"code":"1003","status":"404","message":"No such route","error":"d"}"#,
            ),
            (
                ApiError::method_not_allowed("d"),
                405,
                r#"{"code":"1003","status":"405","message":"Method not allowed","error":"d"}"#,
            ),
            (
                ApiError::too_large("d"),
                413,
                r#"{"code":"1003","status":"413","message":"Request body too large","error":"d"}"#,
            ),
            (
                ApiError::body_timed_out("d"),
                408,
                r#"{"code":"1003","status":"408","message":"Request body too slow","error":"d"}"#,
            ),
        ];
        assert_eq!(cases.len(), MARKETPLACE_ERRORS.len());
        for (error, status, body) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status, "{body}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), body);
        }
    }

    #[test]
    fn error_window_codes_read_as_server_errors() {
        for (code, message) in [
            ("1000", "Internal error"),
            ("1007", "request timed-out, try again"),
            ("1012", "coverage data temporarily unavailable"),
            ("1001", "Service error"),
            ("1003", "Service error"),
            ("2003", "Service error"),
            ("x", "Service error"),
        ] {
            assert_eq!(ApiError::message_of(code), message, "{code}");
        }
    }
}
