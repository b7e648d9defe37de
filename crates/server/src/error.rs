//! The one error type of the HTTP API. Each variant maps to a status, a stable
//! machine-readable code and a message a person understands. Internal errors are logged
//! with their cause and answered with a generic message: storage details never leak.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One rejected item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// Index in the batch.
    pub index: usize,
    /// The field that is wrong (`batch[3].userId`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` says where, `failed` lists rejected batch items.
    #[error("{message}")]
    BadRequest {
        /// Stable code (`invalid_json`, `invalid_event`, `invalid_batch`, `invalid_query`).
        code: &'static str,
        /// What is wrong.
        message: String,
        /// Where.
        field: Option<String>,
        /// Rejected items of a batch.
        failed: Vec<ItemError>,
    },
    /// No key, or an unknown one.
    #[error("{message}")]
    Unauthorized {
        /// `missing_key` or `invalid_key`.
        code: &'static str,
        /// Details.
        message: String,
    },
    /// The key may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Something a request names, or needs, does not exist (a survey, a question of the
    /// kind an analysis reads, the touchpoint of a rule); `field` says which part of the
    /// request named it.
    #[error("{message}")]
    Missing {
        /// Stable code (`not_found`, …).
        code: &'static str,
        /// Where.
        field: String,
        /// What is missing.
        message: String,
    },
    /// The request conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// The request is well formed but what exists does not allow it (answers that do not
    /// fit the survey's questions, an edit that would change old answers' meaning, too few
    /// answers for an analysis); `field` says which part, `failed` lists rejected items.
    #[error("{message}")]
    Refused {
        /// Stable code (`incompatible_edit`, `invalid_responses`, `not_enough_data`).
        code: &'static str,
        /// Where.
        field: Option<String>,
        /// Why.
        message: String,
        /// Rejected items.
        failed: Vec<ItemError>,
    },
    /// The body is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A Content-Encoding we do not speak.
    #[error("{0}")]
    UnsupportedEncoding(String),
    /// The key's rate limit is used up.
    #[error("rate limit exceeded for this key; retry after {retry_after} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The store cannot keep up (or is down); nothing was stored.
    #[error("{message}")]
    Unavailable {
        /// Seconds to wait.
        retry_after: u64,
        /// What happened.
        message: String,
    },
    /// A bug or a failure inside; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
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
    message: String,
    /// The field that is wrong, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A 400 about a field.
    pub fn invalid(code: &'static str, field: Option<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { code, message: message.into(), field, failed: vec![] }
    }

    /// A 404 about a field.
    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Missing { code: "not_found", field: field.into(), message: message.into() }
    }

    /// A 409 about a field.
    pub fn refused(code: &'static str, field: Option<String>, message: impl Into<String>) -> ApiError {
        ApiError::Refused { code, field, message: message.into(), failed: vec![] }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Missing { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Refused { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Missing { code, .. }
            | ApiError::Refused { code, .. } => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "overloaded",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<touchpoint_store::StoreError> for ApiError {
    fn from(e: touchpoint_store::StoreError) -> Self {
        use touchpoint_store::StoreError::*;
        match e {
            NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            Exists(what) => ApiError::Conflict(format!("{what} already exists")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "something went wrong inside Touchpoint; the cause is in the server log".to_string()
            }
            other => other.to_string(),
        };
        let (field, failed) = match &self {
            ApiError::BadRequest { field, failed, .. } | ApiError::Refused { field, failed, .. } => {
                (field.as_deref(), failed.as_slice())
            }
            ApiError::Missing { field, .. } => (Some(field.as_str()), &[][..]),
            _ => (None, &[][..]),
        };
        let body = Body { success: false, error: ErrorBody { code: self.code(), message, field }, failed };
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after, .. } = self {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        }
        resp
    }
}
