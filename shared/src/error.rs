//! The one error type handlers return, and its one mapping to RFC 9457 problem+json.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::Feature;
use crate::domain::rate_limit::RateLimited;
pub use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("unknown fields: {}", .0.join(", "))]
    UnknownFields(Vec<String>),
    #[error("request body exceeds the size limit")]
    PayloadTooLarge,
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("{detail}")]
    Unauthenticated {
        code: &'static str,
        detail: &'static str,
    },
    #[error("{0}")]
    Forbidden(&'static str),
    /// A 403 with its own code, for refusals a client must tell apart.
    #[error("{detail}")]
    Refused {
        code: &'static str,
        detail: &'static str,
    },
    #[error("feature {} is disabled", .0.name())]
    FeatureDisabled(Feature),
    #[error("resource not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the resource has changed since it was read")]
    PreconditionFailed,
    #[error("too many requests")]
    RateLimited(RateLimited),
    #[error("cursor is invalid or was made for another query")]
    InvalidCursor,
    /// A dependency is slow, unreachable or throttling. The cause is for the log only.
    #[error("a dependency is unavailable; try again shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// 503 `unavailable` with `Retry-After`; `cause` goes to the log, never to the client.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::Unavailable(cause.into())
    }

    pub const fn unauthorized() -> Self {
        Self::Unauthenticated {
            code: "unauthorized",
            detail: "authentication is required",
        }
    }

    pub const fn invalid_token() -> Self {
        Self::Unauthenticated {
            code: "invalid_token",
            detail: "the access token is invalid, expired or revoked",
        }
    }

    pub const fn invalid_credentials() -> Self {
        Self::Unauthenticated {
            code: "invalid_credentials",
            detail: "the credentials are not valid",
        }
    }

    pub const fn invalid_grant() -> Self {
        Self::Unauthenticated {
            code: "invalid_grant",
            detail: "the refresh token is invalid, expired or revoked",
        }
    }

    /// Login with the right password to an account whose email is not verified yet, when
    /// `REQUIRE_VERIFIED_EMAIL` is on.
    pub const fn email_not_verified() -> Self {
        Self::Refused {
            code: "email_not_verified",
            detail: "the email address of this account is not verified yet",
        }
    }

    /// A one-time link that was used, has expired, was superseded, or never existed.
    pub fn invalid_link() -> Self {
        Self::bad_request(
            "invalid_token",
            "the link is invalid, expired or already used",
        )
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::BadRequest { .. }
            | Self::UnknownFields(_)
            | Self::InvalidCursor => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused { .. } | Self::FeatureDisabled(_) => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::Refused { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::UnknownFields(_) => "unknown_fields",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Forbidden(_) => "forbidden",
            Self::FeatureDisabled(_) => "feature_disabled",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PreconditionFailed => "precondition_failed",
            Self::RateLimited(_) => "rate_limited",
            Self::InvalidCursor => "invalid_cursor",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The problem document for this error (bulk results embed one per failed item).
    pub fn into_problem(self) -> Problem {
        let mut problem = Problem::new(self.status(), self.code(), self.to_string());
        problem.errors = self.field_errors();
        problem
    }

    fn field_errors(self) -> Option<Vec<FieldError>> {
        match self {
            Self::Validation(errors) => Some(errors),
            Self::UnknownFields(fields) => Some(
                fields
                    .into_iter()
                    .map(|f| FieldError::new(f, "unknown field"))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The problem document. Handlers never build one: `Error` does, and the request
/// middleware stamps the request id on it before it leaves.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            request_id: None,
            errors: None,
        }
    }

    /// The problem for a bare status some layer produced without going through `Error`.
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        let detail = status.canonical_reason().unwrap_or("error").to_lowercase();
        Self::new(status, code, detail)
    }

    pub fn into_response_with_id(mut self, request_id: Option<&str>) -> Response {
        self.request_id = request_id.map(str::to_owned);
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            // The cause is logged inside the request span (which carries the request id)
            // and never reaches the client.
            tracing::error!(error = %source, cause = ?source, "internal error");
        }
        if let Self::Unavailable(cause) = &self {
            tracing::warn!(error = %cause, "dependency unavailable");
        }
        let mut headers = Vec::new();
        match &self {
            Self::Unauthenticated { code, .. } => headers.push((
                header::WWW_AUTHENTICATE,
                format!("Bearer realm=\"userhub\", error=\"{code}\""),
            )),
            Self::RateLimited(info) => {
                let reset = info.reset_secs.max(1).to_string();
                headers.push((header::RETRY_AFTER, reset.clone()));
                headers.push((
                    header::HeaderName::from_static("ratelimit-limit"),
                    info.limit.to_string(),
                ));
                headers.push((
                    header::HeaderName::from_static("ratelimit-remaining"),
                    info.remaining.to_string(),
                ));
                headers.push((header::HeaderName::from_static("ratelimit-reset"), reset));
            }
            Self::Unavailable(_) => headers.push((
                header::RETRY_AFTER,
                crate::faults::RETRY_AFTER_SECS.to_string(),
            )),
            _ => {}
        }
        let problem = self.into_problem();
        let mut res = problem.clone().into_response_with_id(None);
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, value);
            }
        }
        // The request middleware re-renders the body with the request id.
        res.extensions_mut().insert(problem);
        res
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_unavailable() {
            Error::unavailable(crate::telemetry::error_chain(&err))
        } else {
            Error::internal(err)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Call, StoreError};

    #[test]
    fn an_unavailable_table_is_a_503_with_retry_after_and_no_aws_text() {
        let cause = "request has timed out: operation timeout occurred after 3.5s";
        let err = StoreError::Unavailable {
            call: Call::new("GetItem", "profile"),
            source: cause.into(),
        };
        let res = Error::from(err).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            res.headers()[header::RETRY_AFTER],
            crate::faults::RETRY_AFTER_SECS.to_string()
        );
        let problem = res.extensions().get::<Problem>().expect("problem");
        assert_eq!(problem.code, "unavailable");
        assert!(!problem.detail.contains("timed out"), "{}", problem.detail);
    }

    #[test]
    fn any_other_store_failure_stays_a_500() {
        let err = StoreError::failed(Call::new("GetItem", "profile"), "ValidationException");
        let res = Error::from(err).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }
}
