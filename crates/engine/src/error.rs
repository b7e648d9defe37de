//! The one error type of every use case, and the one enum of stable error codes.
//!
//! Every failure a front end can meet is an [`Error`]: a [`Code`] (stable, machine-readable,
//! documented in the OpenAPI document), a message a person understands, the part of the
//! request that is wrong when one is, and the rejected items of a batch. Each code belongs
//! to one [`Class`], and a front end maps classes once: the server to HTTP statuses, the
//! CLI to exit messages. Internal errors carry their cause for the log; front ends show a
//! generic message instead, so storage details never leak.

use serde::Serialize;
use touchpoint_store::StoreError;

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

/// What kind of failure a code is: what a front end needs to decide how to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The request is malformed (HTTP 400).
    Invalid,
    /// No key, or an unknown one (401).
    Unauthenticated,
    /// The key may not do this (403).
    Forbidden,
    /// Something named does not exist (404).
    NotFound,
    /// Well formed, but what exists does not allow it (409).
    Conflict,
    /// The body is too large (413).
    TooLarge,
    /// A content encoding that is not spoken (415).
    Unsupported,
    /// The key's rate limit is used up (429).
    RateLimited,
    /// The server cannot do it now: the store cannot keep up or is down (nothing was
    /// stored), or a limit of the server is reached; retry later (503).
    Unavailable,
    /// A bug or a failure inside (500).
    Internal,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $class:ident,)*) => {
        /// The stable error codes. A code's name never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order above.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as it is sent (`invalid_json`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The code's class.
            pub fn class(self) -> Class {
                match self {
                    $(Code::$variant => Class::$class,)*
                }
            }
        }
    };
}

codes! {
    /// A body that is not JSON, or not the JSON expected.
    InvalidJson = "invalid_json" => Invalid,
    /// A body that is not what the route takes (size, encoding, shape).
    InvalidBody = "invalid_body" => Invalid,
    /// An event that breaks the Segment spec.
    InvalidEvent = "invalid_event" => Invalid,
    /// A batch with rejected items (listed in `failed`).
    InvalidBatch = "invalid_batch" => Invalid,
    /// A query (string or analysis body) that is wrong.
    InvalidQuery = "invalid_query" => Invalid,
    /// A path parameter that is wrong.
    InvalidPath = "invalid_path" => Invalid,
    /// Project settings that are wrong.
    InvalidProject = "invalid_project" => Invalid,
    /// A field of a catalog entry that is wrong.
    InvalidField = "invalid_field" => Invalid,
    /// A survey definition that is wrong.
    InvalidSurvey = "invalid_survey" => Invalid,
    /// A CSV file that is wrong.
    InvalidCsv = "invalid_csv" => Invalid,
    /// Responses that are wrong by themselves (a weight, a time).
    InvalidResponse = "invalid_response" => Invalid,
    /// An invitation list that is wrong.
    InvalidInvitation = "invalid_invitation" => Invalid,
    /// A trigger rule that is wrong.
    InvalidTrigger = "invalid_trigger" => Invalid,
    /// An e-mail address or password that is not acceptable.
    InvalidAccount = "invalid_account" => Invalid,
    /// A service request or a change of one that is not acceptable.
    InvalidRequest = "invalid_request" => Invalid,
    /// No key was given.
    MissingKey = "missing_key" => Unauthenticated,
    /// The e-mail address and password do not match an account.
    BadCredentials = "bad_credentials" => Unauthenticated,
    /// A set-password link that is unknown, used or expired.
    InvalidLink = "invalid_link" => NotFound,
    /// The key given is not known.
    InvalidKey = "invalid_key" => Unauthenticated,
    /// The key may not do this.
    Forbidden = "forbidden" => Forbidden,
    /// Nothing by that name, id or route.
    NotFound = "not_found" => NotFound,
    /// The thing to create exists already.
    Conflict = "conflict" => Conflict,
    /// An edit that would change what answers already given mean.
    IncompatibleEdit = "incompatible_edit" => Conflict,
    /// Responses that do not fit the survey's questions.
    InvalidResponses = "invalid_responses" => Conflict,
    /// Too little data for the analysis.
    NotEnoughData = "not_enough_data" => Conflict,
    /// The analysis cannot be computed on this data.
    NotComputable = "not_computable" => Conflict,
    /// The body is larger than the route takes.
    PayloadTooLarge = "payload_too_large" => TooLarge,
    /// A content encoding that is not spoken.
    UnsupportedEncoding = "unsupported_encoding" => Unsupported,
    /// The key's rate limit is used up.
    RateLimited = "rate_limited" => RateLimited,
    /// The store cannot keep up; retry later.
    Overloaded = "overloaded" => Unavailable,
    /// The server serves as many live streams as it may (`live_streams`); retry later.
    TooManyStreams = "too_many_streams" => Unavailable,
    /// Something went wrong inside.
    Internal = "internal" => Internal,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A use case's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The stable code.
    pub code: Code,
    /// What is wrong, in words; for [`Code::Internal`] the cause, for the log only.
    pub message: String,
    /// The part of the request that is wrong, when one is (`definition.questions[2].id`).
    pub field: Option<String>,
    /// Rejected items of a batch.
    pub failed: Vec<ItemError>,
    /// Seconds to wait before retrying ([`Class::RateLimited`], [`Class::Unavailable`]).
    pub retry_after: Option<u64>,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), field: None, failed: vec![], retry_after: None }
    }

    /// The same error, about a field.
    pub fn at(mut self, field: impl Into<String>) -> Error {
        self.field = Some(field.into());
        self
    }

    /// The same error, with rejected items.
    pub fn with_failed(mut self, failed: Vec<ItemError>) -> Error {
        self.failed = failed;
        self
    }

    /// A malformed request (an `invalid_…` code), about a field when one is named.
    pub fn invalid(code: Code, field: Option<String>, message: impl Into<String>) -> Error {
        Error { field, ..Error::new(code, message) }
    }

    /// Something the request names does not exist; `field` says which part named it.
    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(Code::NotFound, message).at(field)
    }

    /// Nothing by that name or id.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Code::NotFound, message)
    }

    /// Well formed, but what exists does not allow it.
    pub fn refused(code: Code, field: Option<String>, message: impl Into<String>) -> Error {
        Error { field, ..Error::new(code, message) }
    }

    /// The thing exists already.
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(Code::Conflict, message)
    }

    /// The key may not do this.
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(Code::Forbidden, message)
    }

    /// A failure inside; `cause` is for the log.
    pub fn internal(cause: impl Into<String>) -> Error {
        Error::new(Code::Internal, cause)
    }

    /// The rate limit is used up; retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Error {
        Error {
            retry_after: Some(seconds),
            ..Error::new(Code::RateLimited, format!("rate limit exceeded for this key; retry after {seconds} s"))
        }
    }

    /// The store cannot keep up; nothing was stored.
    pub fn overloaded(seconds: u64, message: impl Into<String>) -> Error {
        Error { retry_after: Some(seconds), ..Error::new(Code::Overloaded, message) }
    }

    /// The code's class.
    pub fn class(&self) -> Class {
        self.code.class()
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Error::not_found(format!("{what} not found")),
            StoreError::Exists(what) => Error::conflict(format!("{what} already exists")),
            StoreError::Invalid(what) => Error::invalid(Code::InvalidQuery, None, what),
            other => Error::internal(other.to_string()),
        }
    }
}

/// A use case's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_names() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{s}");
        }
    }

    #[test]
    fn store_errors_keep_their_kind_and_hide_their_cause() {
        let e = Error::from(StoreError::NotFound("survey nps".into()));
        assert_eq!((e.code, e.message.as_str()), (Code::NotFound, "survey nps not found"));
        assert_eq!(Error::from(StoreError::Exists("project".into())).class(), Class::Conflict);
        assert_eq!(Error::from(StoreError::Corrupt("x".into())).class(), Class::Internal);
    }
}
