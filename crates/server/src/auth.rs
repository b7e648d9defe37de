//! API keys on requests: HTTP Basic with the key as user name (what Segment SDKs send),
//! `Authorization: Bearer <key>`, or `writeKey` in a capture request's body. Keys are
//! looked up by their SHA-256 hash; a found key is trusted for
//! [`KEY_RECHECK_S`](touchpoint_engine::read::KEY_RECHECK_S) seconds before the store is
//! asked again (a key revoked by another process is refused within that), and one revoked
//! through this server is forgotten at once.

use crate::error::{ApiError, Code, Error};
use crate::AppState;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::collections::HashMap;
use std::sync::RwLock;
use touchpoint_store::{hash_token, KeyInfo};

/// Found keys by token hash, with when they were found.
#[derive(Debug, Default)]
pub struct KeyCache {
    found: RwLock<HashMap<String, (KeyInfo, std::time::Instant)>>,
}

impl KeyCache {
    /// Forget a key (it was revoked).
    pub fn forget(&self, id: i64) {
        self.found.write().expect("key cache lock").retain(|_, (k, _)| k.id != id);
    }
}

/// The token a request carries in its headers, if any.
pub fn header_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = |why: &str| {
        Error::new(
            Code::InvalidKey,
            format!("the Authorization header {why}; send `Basic base64(<key>:)` or `Bearer <key>`"),
        )
    };
    let value = value.to_str().map_err(|_| bad("is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').ok_or_else(|| bad("has no scheme"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| bad("is not valid base64"))?;
            let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8"))?;
            let user = text.split(':').next().unwrap_or("");
            Ok((!user.is_empty()).then(|| user.to_string()))
        }
        "bearer" => Ok(Some(rest.trim().to_string())),
        _ => Err(bad("has an unknown scheme").into()),
    }
}

impl AppState {
    /// Find the key a token names, or answer 401.
    pub async fn key(&self, token: Option<&str>) -> Result<KeyInfo, ApiError> {
        let token = token.ok_or_else(|| {
            Error::new(
                Code::MissingKey,
                "no API key: send the write key as the Basic auth user name, as a Bearer token, or as writeKey in the body",
            )
        })?;
        let hash = hash_token(token);
        let fresh = std::time::Duration::from_secs(touchpoint_engine::read::KEY_RECHECK_S);
        if let Some((k, at)) = self.keys.found.read().expect("key cache lock").get(&hash) {
            if at.elapsed() < fresh {
                return Ok(k.clone());
            }
        }
        match self.store.key_by_hash(&hash).await? {
            Some(k) => {
                self.keys.found.write().expect("key cache lock").insert(hash, (k.clone(), std::time::Instant::now()));
                Ok(k)
            }
            None => {
                self.keys.found.write().expect("key cache lock").remove(&hash);
                Err(Error::new(Code::InvalidKey, "this API key is not known (or was revoked)").into())
            }
        }
    }

    /// The key of a read or admin request: a secret key in the headers.
    async fn secret_key(&self, headers: &HeaderMap) -> Result<KeyInfo, ApiError> {
        let key = self.key(header_token(headers)?.as_deref()).await?;
        if !key.kind.can_read() {
            let kind = key.kind.as_str();
            return Err(Error::forbidden(format!(
                "a {kind} key can only send events; use a secret key (tps_…) to read and administer"
            ))
            .into());
        }
        Ok(key)
    }
}

/// Middleware of every `/api` route: a request without a valid secret key or a
/// signed-in session allowed this request is answered 401 or 403 before its body or its
/// parameters are read, so what is wrong with it first is what is said. Who called goes
/// with the request to its handler as [`ApiCaller`]: looked up once per request, and no
/// handler reads the headers for it. A request with an `Authorization` header is a
/// machine's (a key); one without, carrying the dashboard's session cookie, a person's
/// (see [`crate::dashboard::session_caller`]).
pub async fn require_secret_key(
    axum::extract::State(s): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let caller = match crate::dashboard::session_token(req.headers()) {
        Some(token) if !req.headers().contains_key(header::AUTHORIZATION) => {
            crate::dashboard::session_caller(&s, &token, req.method(), req.uri(), req.headers()).await
        }
        _ => s.secret_key(req.headers()).await.map(|k| Caller { project_id: k.project_id, by: By::Key(k.id) }),
    };
    match caller {
        Ok(caller) => {
            req.extensions_mut().insert(ApiCaller(caller));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Who called an `/api` route, and for which project.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The project the request is about.
    pub project_id: touchpoint_core::ProjectId,
    /// A key or a person.
    pub by: By,
}

/// A machine's key or a signed-in person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// A secret key, by id.
    Key(i64),
    /// A person, by account id, with their role on the project.
    Person {
        /// The account.
        user_id: i64,
        /// Their role on the project.
        role: touchpoint_core::access::Role,
    },
}

/// The caller of an `/api` request, as [`require_secret_key`] found it.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        // Only a route without the middleware lacks it: a bug, not the client's mistake.
        parts.extensions.get::<ApiCaller>().cloned().ok_or_else(|| {
            Error::internal(format!("{} is served without the secret-key middleware", parts.uri.path())).into()
        })
    }
}
