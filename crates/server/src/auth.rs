//! API keys on requests: HTTP Basic with the key as user name (what Segment SDKs send),
//! `Authorization: Bearer <key>`, or `writeKey` in a capture request's body. Keys are
//! looked up by their SHA-256 hash; found keys are cached for the life of the process.

use crate::error::{ApiError, Code, Error};
use crate::AppState;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::collections::HashMap;
use std::sync::RwLock;
use touchpoint_store::{hash_token, KeyInfo};

/// Found keys by token hash.
#[derive(Debug, Default)]
pub struct KeyCache {
    found: RwLock<HashMap<String, KeyInfo>>,
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
        if let Some(k) = self.keys.found.read().expect("key cache lock").get(&hash) {
            return Ok(k.clone());
        }
        match self.store.key_by_hash(&hash).await? {
            Some(k) => {
                self.keys.found.write().expect("key cache lock").insert(hash, k.clone());
                Ok(k)
            }
            None => Err(Error::new(Code::InvalidKey, "this API key is not known (or was revoked)").into()),
        }
    }

    /// The key of a read or admin request: a secret key in the headers.
    async fn secret_key(&self, headers: &HeaderMap) -> Result<KeyInfo, ApiError> {
        let key = self.key(header_token(headers)?.as_deref()).await?;
        if !key.kind.can_read() {
            return Err(Error::forbidden(
                "a write key can only send events; use a secret key (tps_…) to read and administer",
            )
            .into());
        }
        Ok(key)
    }
}

/// Middleware of every `/api` route: a request without a valid secret key is answered 401
/// or 403 before its body or its parameters are read, so what is wrong with it first is
/// what is said. The key found goes with the request to its handler as [`SecretKey`]:
/// a key is looked up once per request, and no handler reads the headers for it.
pub async fn require_secret_key(
    axum::extract::State(s): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match s.secret_key(req.headers()).await {
        Ok(key) => {
            req.extensions_mut().insert(SecretKey(key));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The secret key of an `/api` request, as [`require_secret_key`] found it.
#[derive(Debug, Clone)]
pub struct SecretKey(pub KeyInfo);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SecretKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        // Only a route without the middleware lacks it: a bug, not the client's mistake.
        parts.extensions.get::<SecretKey>().cloned().ok_or_else(|| {
            Error::internal(format!("{} is served without the secret-key middleware", parts.uri.path())).into()
        })
    }
}
