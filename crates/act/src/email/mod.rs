//! The e-mail integration: messages rendered per language (`template`) and sent over SMTP
//! (`send`, with lettre): plain text and HTML, a `Message-ID` made of the firing's id (so
//! a repeat is recognisable), and a one-click `List-Unsubscribe` (RFC 2369, RFC 8058) whose
//! link is also in the body. Its integration test (`tests/email.rs`) sends Czech and
//! Polish messages through a real SMTP server (Python's `aiosmtpd`).

pub mod send;
pub mod template;

use serde::{Deserialize, Serialize};

/// Where and as whom to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server: `smtp://host:port` (plain, for a relay on the same machine or
    /// network), `smtps://host:port` (TLS from the first byte) or
    /// `smtp://host:port?tls=required` (STARTTLS).
    pub url: String,
    /// The sender, `Name <address>`.
    pub from: String,
    /// Certificate authorities to trust besides the public ones, PEM (a relay with a
    /// certificate of the company's own CA); `None`: the public ones only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}
