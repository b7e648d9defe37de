//! Posting one firing to a Standard Webhooks endpoint, and what the answer means.

use super::sign;
use crate::rule::Endpoint;
use std::time::Duration;

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// A failure worth retrying; the receiver's `Retry-After` (429, 502, 504), if it gave one.
    Retry {
        /// What went wrong, for the dead-letter list.
        error: String,
        /// How long the receiver asked to wait, ms.
        retry_after_ms: Option<i64>,
    },
    /// 410 Gone: the endpoint is to be disabled and the firing given up.
    Gone,
}

/// A client for webhooks: a 15 s timeout per attempt, no redirects (a redirected webhook
/// is a failure, as in the spec), and a user agent naming Touchpoint.
pub fn client() -> reqwest::Client {
    builder().build().unwrap_or_default()
}

/// [`client`], trusting the certificate authorities in `pem` besides the public ones (a
/// receiver with a certificate of the company's own CA).
pub fn client_trusting(pem: &str) -> Result<reqwest::Client, String> {
    let roots =
        reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| format!("the CA certificates: {e}"))?;
    if roots.is_empty() {
        return Err("the CA certificates: no certificate in the PEM text".into());
    }
    roots.into_iter().fold(builder(), |b, c| b.add_root_certificate(c)).build().map_err(|e| e.to_string())
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Touchpoint-Webhooks/", env!("CARGO_PKG_VERSION")))
}

/// The secrets to sign with at `now_ms`: the current one, and the previous one while the
/// rotation's overlap lasts.
pub fn secrets(endpoint: &Endpoint, now_ms: i64) -> Vec<&str> {
    let mut out: Vec<&str> = endpoint.secret.as_deref().into_iter().collect();
    if let (Some(p), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until_ms) {
        if now_ms < until {
            out.push(p);
        }
    }
    out
}

/// POST `body` to the endpoint as message `id`, signed at `now_ms`.
pub async fn post(client: &reqwest::Client, endpoint: &Endpoint, id: &str, body: &[u8], now_ms: i64) -> Outcome {
    let ts = now_ms.div_euclid(1000);
    let signature = sign::header(&secrets(endpoint, now_ms), id, ts, body);
    let res = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "no answer within 15 s".to_string()
            } else if e.is_connect() {
                // The innermost cause says why (refused, a certificate not trusted, …).
                let mut cause: &dyn std::error::Error = &e;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                format!("could not connect: {cause}")
            } else {
                format!("request failed: {e}")
            };
            return Outcome::Retry { error: what, retry_after_ms: None };
        }
    };
    let status = res.status().as_u16();
    if (200..300).contains(&status) {
        return Outcome::Delivered;
    }
    if status == 410 {
        return Outcome::Gone;
    }
    let retry_after_ms = if matches!(status, 429 | 502 | 504) {
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|s| s.max(0) * 1000)
    } else {
        None
    };
    Outcome::Retry { error: format!("the endpoint answered {status}"), retry_after_ms }
}
