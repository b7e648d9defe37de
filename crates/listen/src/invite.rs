//! Signed survey invitations and the other small signatures the survey pages need.
//!
//! An invitation link carries its claims — which invitation, project, survey, customer,
//! triggering touchpoint, language and expiry — and an HMAC-SHA256 over them with the
//! project's secret: `base64url(claims JSON) "." base64url(mac)`. Anyone can read a link;
//! nobody without the secret can change a byte of it, so a tampered, expired or foreign
//! link is refused before the store is asked. Single use is the store's part (one response
//! per invitation, enforced by a unique key). The same secret signs CSRF tokens (bound to
//! a browser's session cookie) and the cookie that keeps one response per browser on open
//! links.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What an invitation link says, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Invitation id in the store.
    #[serde(rename = "i")]
    pub invitation: i64,
    /// Project.
    #[serde(rename = "p")]
    pub project: i64,
    /// Survey id.
    #[serde(rename = "s")]
    pub survey: i64,
    /// The customer's user id.
    #[serde(rename = "c")]
    pub customer: String,
    /// The touchpoint that triggered the invitation.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub touchpoint: Option<String>,
    /// The language to ask in.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Expiry, unix seconds.
    #[serde(rename = "e")]
    pub expires_s: i64,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link we could have made (cut short, wrong characters).
    #[error("the link is damaged")]
    Malformed,
    /// The signature does not match: changed, or made by someone else.
    #[error("the link has been altered")]
    Tampered,
    /// Past its expiry.
    #[error("the link has expired")]
    Expired,
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for p in parts {
        m.update(p);
        m.update(&[0]);
    }
    m
}

/// Sign claims into a link token.
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let tag = mac(secret, &[b"invite", &body]).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(tag))
}

/// Check a link token's signature and expiry at `now_s` and return its claims.
pub fn verify(token: &str, secret: &[u8], now_s: i64) -> Result<Claims, LinkError> {
    let (body, tag) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| LinkError::Malformed)?;
    mac(secret, &[b"invite", &body]).verify_slice(&tag).map_err(|_| LinkError::Tampered)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| LinkError::Malformed)?;
    if now_s >= claims.expires_s {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

/// A token that proves a form was served to the browser holding `session` for `scope`
/// (a survey page): put in a hidden field, checked on submit.
pub fn csrf_token(secret: &[u8], session: &str, scope: &str) -> String {
    URL_SAFE_NO_PAD.encode(&mac(secret, &[b"csrf", session.as_bytes(), scope.as_bytes()]).finalize().into_bytes()[..18])
}

/// Check a CSRF token in constant time.
pub fn check_csrf(secret: &[u8], session: &str, scope: &str, token: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else { return false };
    mac(secret, &[b"csrf", session.as_bytes(), scope.as_bytes()]).verify_truncated_left(&tag).is_ok() && tag.len() == 18
}

/// Sign a short value for a cookie: `value "." mac`.
pub fn sign_value(secret: &[u8], value: &str) -> String {
    let tag = mac(secret, &[b"cookie", value.as_bytes()]).finalize().into_bytes();
    format!("{value}.{}", URL_SAFE_NO_PAD.encode(&tag[..18]))
}

/// The value of a signed cookie, if its signature holds.
pub fn unsign_value<'a>(secret: &[u8], signed: &'a str) -> Option<&'a str> {
    let (value, tag) = signed.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    (tag.len() == 18 && mac(secret, &[b"cookie", value.as_bytes()]).verify_truncated_left(&tag).is_ok())
        .then_some(value)
}
