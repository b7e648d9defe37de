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

/// The secret a brand's own servers hold to vouch, in a web page, for a customer's e-mail
/// address (identity verification, as Intercom's `user_hash`): derived from the project's
/// secret under its own label, so it signs nothing but addresses, and it is the same on
/// every node. `tpiv_` and 64 hex digits.
pub fn identity_secret(project_secret: &[u8]) -> String {
    format!("tpiv_{}", hex::encode(mac(project_secret, &[b"identity-verification"]).finalize().into_bytes()))
}

/// Whether `sent` is the HMAC-SHA256 that vouches for a customer's address: of their
/// user id, a newline and the address, under an identity secret ([`identity_secret`], the
/// whole text as the key), in hex (either case) — what the brand's server computes and the
/// page sends as `context.email_hmac`. The user id is in it so that an HMAC copied out of
/// one customer's page cannot give their address to another customer. Compared in
/// constant time.
pub fn check_email_hmac(identity_secret: &str, user_id: &str, email: &str, sent: &str) -> bool {
    let Ok(tag) = hex::decode(sent.trim()) else { return false };
    email_mac(identity_secret, user_id, email).verify_slice(&tag).is_ok()
}

fn email_mac(identity_secret: &str, user_id: &str, email: &str) -> HmacSha256 {
    let mut m = <HmacSha256 as Mac>::new_from_slice(identity_secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(user_id.as_bytes());
    m.update(b"\n");
    m.update(email.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_hmac_binds_the_secret_the_user_and_the_address() {
        let k = identity_secret(b"project secret");
        assert!(k.starts_with("tpiv_") && k.len() == 69, "{k}");
        assert_eq!(k, identity_secret(b"project secret"));
        assert_ne!(k, identity_secret(b"another project's secret"));
        let mac = hex::encode(email_mac(&k, "u-42", "jana@example.cz").finalize().into_bytes());
        assert!(check_email_hmac(&k, "u-42", "jana@example.cz", &mac));
        assert!(check_email_hmac(&k, "u-42", "jana@example.cz", &format!(" {} ", mac.to_uppercase())));
        for (key, user, email, sent) in [
            (k.as_str(), "u-43", "jana@example.cz", mac.as_str()),
            (k.as_str(), "u-42", "eve@example.cz", mac.as_str()),
            ("tpiv_other", "u-42", "jana@example.cz", mac.as_str()),
            (k.as_str(), "u-42", "jana@example.cz", &mac[..62]),
            (k.as_str(), "u-42", "jana@example.cz", "zz"),
            (k.as_str(), "u-42", "jana@example.cz", ""),
            (k.as_str(), "u-42\njana@example.cz", "", mac.as_str()),
        ] {
            assert!(!check_email_hmac(key, user, email, sent), "{key} {user} {email} {sent}");
        }
    }
}
