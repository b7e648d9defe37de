//! Errors as HTTP answers. Every failure is an engine [`Error`] with a stable [`Code`];
//! this is the one place that maps codes (by their [`Class`]) to HTTP statuses and writes
//! the one JSON shape of every error answer. Internal errors are logged with their cause
//! and answered with a generic message: storage details never leak.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
pub use touchpoint_engine::error::{Class, Code, Error, ItemError};

/// An engine error on its way to becoming an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<touchpoint_store::StoreError> for ApiError {
    fn from(e: touchpoint_store::StoreError) -> Self {
        ApiError(e.into())
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct Body<'a> {
    /// Always false.
    success: bool,
    /// What went wrong.
    error: ErrorBody<'a>,
    /// Rejected items of a batch (kept as failed events).
    #[serde(skip_serializing_if = "<[ItemError]>::is_empty")]
    failed: &'a [ItemError],
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub struct ErrorBody<'a> {
    /// Stable code: `invalid_json`, `invalid_event`, `missing_key`, `not_found` ….
    code: &'a str,
    /// What is wrong, in words.
    message: &'a str,
    /// The field that is wrong, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// The HTTP status of a class of errors: the one mapping.
pub fn status(class: Class) -> StatusCode {
    match class {
        Class::Invalid => StatusCode::BAD_REQUEST,
        Class::Unauthenticated => StatusCode::UNAUTHORIZED,
        Class::Forbidden => StatusCode::FORBIDDEN,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Conflict => StatusCode::CONFLICT,
        Class::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Class::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Class::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status(self.0.class())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let message = match e.code {
            Code::Internal => {
                tracing::error!(cause = %e.message, "internal error");
                "something went wrong inside Touchpoint; the cause is in the server log"
            }
            _ => e.message.as_str(),
        };
        let body = Body {
            success: false,
            error: ErrorBody { code: e.code.as_str(), message, field: e.field.as_deref() },
            failed: &e.failed,
        };
        let mut resp = (status(e.class()), axum::Json(body)).into_response();
        if let Some(seconds) = e.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code has a 4xx or 5xx status, and only `internal` is a 500.
    #[test]
    fn every_code_maps_to_an_error_status() {
        for &c in Code::ALL {
            let s = status(c.class());
            assert!(s.is_client_error() || s.is_server_error(), "{c}: {s}");
            assert_eq!(s == StatusCode::INTERNAL_SERVER_ERROR, c == Code::Internal, "{c}");
        }
    }
}
