//! Project ids and API key kinds. Keys are random tokens whose prefix tells their kind;
//! only their SHA-256 hash is ever stored (hashing lives in the store crate).

use serde::{Deserialize, Serialize};

/// A project: one brand's isolated space of events, customers and touchpoints.
pub type ProjectId = i64;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Write keys only send events (they live in web pages and apps, so they are public).
    Write,
    /// Server keys only send events too, but from the brand's own servers (Segment's
    /// server SDKs, a CRM): they are never in a page, so what they say is believed — an
    /// identify's `email` through a server key is an address e-mails may go to
    /// ([`crate::event::VERIFIED_EMAIL`]); through a write key it is not.
    Server,
    /// Secret keys read data and administer the project; they can also send events.
    Secret,
}

impl KeyKind {
    /// The token prefix that shows a key's kind at a glance.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Write => "tpw_",
            KeyKind::Server => "tpsrv_",
            KeyKind::Secret => "tps_",
        }
    }

    /// Parse the kind name used by the CLI and the API.
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s.to_ascii_lowercase().as_str() {
            "write" => Some(KeyKind::Write),
            "server" => Some(KeyKind::Server),
            "secret" | "admin" => Some(KeyKind::Secret),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Write => "write",
            KeyKind::Server => "server",
            KeyKind::Secret => "secret",
        }
    }

    /// Whether this kind may send events (the capture API): every kind but secret keys,
    /// which must never be in a request a page or an app could make.
    pub fn can_send(self) -> bool {
        self != KeyKind::Secret
    }

    /// Whether what this kind sends is believed (see [`KeyKind::Server`]).
    pub fn vouches(self) -> bool {
        self == KeyKind::Server
    }

    /// Whether this kind may read and administer.
    pub fn can_read(self) -> bool {
        self == KeyKind::Secret
    }
}
