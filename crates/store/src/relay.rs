//! Several nodes, one writer: what a node that does not write events hands the node that
//! does, and what the writing node tells every node about its commits.
//!
//! On PostgreSQL + ClickHouse any number of nodes serve the same data. One of them writes
//! events (it holds the writer lock: ids, dedup and identity stitching are decided in one
//! place, so a retried event is stored once and two known customers are never merged,
//! whichever node the events reached). The others are *relaying* nodes: their
//! [`crate::writer::Writer`] ([`crate::writer::Writer::relayed`]) hands each
//! [`Command`] — a submission of events, a reload, a re-classification, an erasure — to a
//! [`Relay`], which keeps it durably (a row in PostgreSQL) until the writing node has
//! carried it out and answered with a [`Reply`]. A submission is acknowledged once the
//! writing node has committed it (the same receipt as on the writing node), or, when the
//! writing node does not answer within [`SUBMIT_WAIT`], as *queued*: kept durably and
//! stored when a writing node takes it.
//!
//! The writing node publishes a [`Notice`] after each commit (which event ids are
//! committed, which customers merged) and after each change that invalidates what other
//! nodes hold (a re-classification, an erasure, a changed touchpoint), in commit order;
//! every other node's journey index follows them.

use crate::erasure::ErasureReceipt;
use crate::writer::{Receipt, ReclassifyReport};
use crate::{NewFailedEvent, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use touchpoint_core::{CustomerId, Event, ProjectId};

/// How long a relaying node waits for the writing node to commit a submission before it
/// acknowledges it as queued.
pub const SUBMIT_WAIT: Duration = Duration::from_secs(3);
/// How long a relaying node waits for a reload (rules or touchpoints changed).
pub const RELOAD_WAIT: Duration = Duration::from_secs(10);
/// How long a relaying node waits for an erasure or a re-classification.
pub const LONG_WAIT: Duration = Duration::from_secs(300);

/// What a relaying node asks of the writing node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Store these events (validated by the relaying node; their messageIds are set).
    Submit {
        /// Project.
        project: ProjectId,
        /// Valid events.
        events: Vec<Event>,
        /// Rejected events, to be kept.
        failed: Vec<NewFailedEvent>,
    },
    /// Read the project's rules, touchpoints and failed-event usage again.
    Reload {
        /// Project.
        project: ProjectId,
    },
    /// Re-classify the project's events with its current rules.
    Reclassify {
        /// Project.
        project: ProjectId,
    },
    /// Erase a customer.
    Erase {
        /// The customer.
        customer: CustomerId,
    },
}

/// The writing node's answer to a [`Command`]: the receipt or report as JSON, or what went
/// wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Done: a [`Receipt`], an [`ErasureReceipt`], a [`ReclassifyReport`], or `null`.
    Ok(Value),
    /// Not done, in words.
    Error(String),
}

impl Reply {
    /// The answer read as `T`.
    pub fn read<T: serde::de::DeserializeOwned>(self) -> std::result::Result<T, String> {
        match self {
            Reply::Ok(v) => serde_json::from_value(v).map_err(|e| format!("the writing node's answer: {e}")),
            Reply::Error(e) => Err(e),
        }
    }

    /// A result as a reply.
    pub fn of<T: Serialize, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Reply {
        match r {
            Ok(v) => Reply::Ok(serde_json::to_value(v).unwrap_or(Value::Null)),
            Err(e) => Reply::Error(e.to_string()),
        }
    }
}

/// What the writing node tells every node, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Every event with an id up to this one is committed (`None`: no new event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto: Option<i64>,
    /// Identity merges committed, `(from, into)`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<(CustomerId, CustomerId)>,
    /// Projects whose journeys must be read again from the store (re-classified, or a
    /// customer of theirs erased).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reload: Vec<ProjectId>,
    /// Projects whose touchpoints changed (names, stages, flags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refresh: Vec<ProjectId>,
    /// Customers erased: what is queued for them is dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<CustomerId>,
    /// The writing node lost track of its own commits (its log subscriber fell behind):
    /// every project is read again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reload_all: bool,
}

/// Where relaying nodes hand their commands and find the answers (PostgreSQL:
/// `touchpoint_store_postgres::cluster`).
#[async_trait]
pub trait Relay: Send + Sync {
    /// Keep `command` durably for the writing node; its sequence number.
    async fn send(&self, command: &Command) -> Result<i64>;
    /// The writing node's answer to command `seq`, waiting up to `wait` for it (`None`:
    /// not answered yet; the command stays queued).
    async fn reply(&self, seq: i64, wait: Duration) -> Result<Option<Reply>>;
}

/// A submission's receipt from the writing node's answer, or a queued receipt when it has
/// not answered yet.
pub(crate) fn receipt_of(reply: Option<Reply>, events: usize, failed: usize) -> std::result::Result<Receipt, String> {
    match reply {
        Some(r) => r.read(),
        None => Ok(Receipt { queued: events + failed, ..Default::default() }),
    }
}

/// An erasure's receipt from the writing node's answer.
pub(crate) fn erasure_of(reply: Option<Reply>) -> Result<ErasureReceipt> {
    answer(reply, "erasure")
}

/// A re-classification's report from the writing node's answer.
pub(crate) fn reclassify_of(reply: Option<Reply>) -> Result<ReclassifyReport> {
    answer(reply, "re-classification")
}

fn answer<T: serde::de::DeserializeOwned>(reply: Option<Reply>, what: &str) -> Result<T> {
    match reply {
        Some(r) => r.read().map_err(crate::StoreError::Backend),
        None => Err(crate::StoreError::Backend(format!(
            "the writing node has not finished the {what} yet; it is queued and will be done when it does"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands, replies and notices keep their meaning through JSON (the relay's rows).
    #[test]
    fn commands_replies_and_notices_round_trip() {
        let event = Event::parse(
            serde_json::json!({"type":"track","messageId":"m-1","userId":"u1","event":"Order Completed",
                "properties":{"total":12.5,"items":[1,2]},"timestamp":"2026-01-02T03:04:05.678Z"}),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        for c in [
            Command::Submit { project: 3, events: vec![event], failed: vec![] },
            Command::Reload { project: 3 },
            Command::Reclassify { project: 4 },
            Command::Erase { customer: 99 },
        ] {
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c, "{text}");
        }
        let receipt = Receipt { stored: 2, duplicates: 1, ..Default::default() };
        let reply: Reply =
            serde_json::from_str(&serde_json::to_string(&Reply::of::<_, String>(Ok(&receipt))).unwrap()).unwrap();
        assert_eq!(receipt_of(Some(reply), 3, 0).unwrap(), receipt);
        assert_eq!(receipt_of(None, 3, 1).unwrap(), Receipt { queued: 4, ..Default::default() });
        assert_eq!(receipt_of(Some(Reply::Error("disk full".into())), 1, 0).unwrap_err(), "disk full");
        let e = erasure_of(None).unwrap_err().to_string();
        assert!(e.contains("erasure") && e.contains("queued"), "{e}");
        let n = Notice { upto: Some(7), merges: vec![(1, 2)], ..Default::default() };
        let text = serde_json::to_string(&n).unwrap();
        assert_eq!(text, r#"{"upto":7,"merges":[[1,2]]}"#);
        assert_eq!(serde_json::from_str::<Notice>(&text).unwrap(), n);
        assert!(serde_json::from_str::<Notice>(r#"{"reload_all":true}"#).unwrap().reload_all);
    }
}
