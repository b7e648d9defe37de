//! Touchpoint's domain core: the types every other crate speaks, and the pure rules that
//! turn a raw Segment-shaped event into a validated, classified, identified touchpoint.
//!
//! This crate does no I/O and knows nothing of async, HTTP or SQL: it takes values in and
//! gives values out, so that every rule here can be tested exhaustively and reused by the
//! server, the importer, the demo generator and any later storage backend.

pub mod access;
pub mod calendar;
pub mod catalog;
pub mod csvsafe;
pub mod event;
pub mod i18n;
pub mod identity;
pub mod keys;
pub mod suggest;

pub use catalog::{Catalog, Channel, Classifier, Condition, Field, Memo, Op, Rule, Stage, Touchpoint, TouchpointKind};
pub use event::{Event, EventError, EventFlags, EventType, Limits};
pub use i18n::{Lang, Localized};
pub use identity::{CustomerId, IdentityGraph, IdentityKind, IdentityOp};
pub use keys::{KeyKind, ProjectId};
