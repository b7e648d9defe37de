//! Standard Webhooks signatures. A secret is `whsec_` and the base64 of 24 to 64 random
//! bytes; the signature of a message is `v1,` and the base64 of HMAC-SHA256(secret,
//! `{webhook-id}.{webhook-timestamp}.{body}`). During a rotation the header carries one
//! signature per secret, separated by spaces, so a receiver holding either verifies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key bytes of a `whsec_` secret, if it is one.
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    let b = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    (24..=64).contains(&b.len()).then_some(b)
}

/// A new secret: `whsec_` and 32 random bytes.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!("whsec_{}", STANDARD.encode(b))
}

/// One `v1,` signature of a message with one secret's key.
pub fn signature(key: &[u8], id: &str, timestamp_s: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp_s.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret (the current first).
pub fn header(secrets: &[&str], id: &str, timestamp_s: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| secret_bytes(s))
        .map(|k| signature(&k, id, timestamp_s, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A receiver's check: whether any signature in `header` is the message's under `secret`.
pub fn verify(secret: &str, id: &str, timestamp_s: i64, body: &[u8], header: &str) -> bool {
    let Some(key) = secret_bytes(secret) else { return false };
    let want = signature(&key, id, timestamp_s, body);
    header.split(' ').any(|s| constant_time_eq(s.as_bytes(), want.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn the_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let key = secret_bytes(secret).unwrap();
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_signs_with_both_and_either_verifies() {
        let (old, new) = (new_secret(), new_secret());
        let h = header(&[&new, &old], "msg_1", 1_700_000_000, b"{}");
        assert_eq!(h.split(' ').count(), 2);
        assert!(verify(&new, "msg_1", 1_700_000_000, b"{}", &h));
        assert!(verify(&old, "msg_1", 1_700_000_000, b"{}", &h));
        assert!(!verify(&new_secret(), "msg_1", 1_700_000_000, b"{}", &h));
        assert!(!verify(&new, "msg_1", 1_700_000_001, b"{}", &h));
        assert!(!verify(&new, "msg_1", 1_700_000_000, b"{ }", &h));
    }

    #[test]
    fn secrets() {
        assert!(secret_bytes(&new_secret()).is_some());
        assert!(secret_bytes("whsec_short").is_none());
        assert!(secret_bytes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
    }
}
