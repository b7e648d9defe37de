//! Storage for Touchpoint, behind two traits: [`EventStore`] (raw events, failed events,
//! volumes — the part that moves to ClickHouse at scale) and [`MetaStore`] (projects, keys,
//! the touchpoint catalog, customers and identities — the part that moves to PostgreSQL)
//! and [`ListenStore`] (surveys, invitations, responses; PostgreSQL too) and
//! [`AccountStore`] (people who sign in to the dashboard; PostgreSQL too).
//! [`Store`] joins them and adds the one write the ingest path makes per group commit.
//!
//! This crate is the interface: traits, row types, the single writer, the commit bus, the
//! generic part of erasure and the schema's text ([`migrate`]); it knows no SQL driver. The
//! backends live in their own crates: `touchpoint-store-sqlite` (the embedded store, both
//! halves in one SQLite file) and `touchpoint-store-postgres` (metadata on PostgreSQL).
//! Every backend must pass the conformance suite (`touchpoint-store-conformance`); the
//! single writer ([`writer`]) is the only code that writes events, so a backend never has
//! to think about concurrent ingest.
//!
//! Every store can also export and erase one customer ([`erasure`]: GDPR articles 15, 17
//! and 20): each finds and removes its own part ([`EventStore::erase_subject_events`],
//! [`MetaStore::erase_subject_meta`], [`ListenStore::erase_subject_listen`]) and
//! [`Store::export_customer`] / [`Store::erase_customer`] put the parts together.

pub mod accounts;
pub mod bus;
pub mod erasure;
pub mod kb;
pub mod listen;
pub mod migrate;
pub mod relay;
pub mod service;
pub mod triggers;
pub mod writer;

pub use accounts::{AccountStore, Grant, Session, User};
pub use erasure::{
    CustomerExport, ErasureCounts, ErasureReceipt, EventErasure, ListenErasure, MetaErasure, PurgeReport, Subject,
    SuppressionList, SuppressionStats,
};
pub use kb::{Article, ArticleDraft, KbStore};
pub use listen::ListenStore;
pub use service::ServiceStore;
pub use triggers::TriggerStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use touchpoint_core::{
    catalog::Catalog, CustomerId, Event, EventType, IdentityKind, IdentityOp, KeyKind, ProjectId, Rule, Stage,
    Touchpoint,
};

/// A storage failure. Callers log it and answer 500/503; its text is never shown to API clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A backend's database said no (its driver's error, in words; no driver types).
    #[error("database error: {0}")]
    Backend(String),
    /// Something stored could not be read back.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A unique name or key was taken.
    #[error("{0} already exists")]
    Exists(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The data directory is in use by another process.
    #[error("{0}")]
    Locked(String),
    /// What was asked for cannot be: the message says what and why.
    #[error("{0}")]
    Invalid(String),
    /// I/O outside the database.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result of storage calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: ProjectId,
    /// Unique name.
    pub name: String,
    /// IANA time zone for daily, weekly and monthly buckets.
    pub timezone: String,
    /// Days of silence after which a customer counts as churned.
    pub churn_horizon_days: i64,
    /// Ordered journey stages.
    pub stages: Vec<Stage>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The brand on its survey pages (shown as flat fields: `brand_name`, `brand_color` …).
    #[serde(flatten)]
    pub brand: Brand,
}

/// How a project's survey pages look and which language they open in. Every field may be
/// missing; the server checks them before they are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    /// The brand's name, in the pages' header.
    pub brand_name: Option<String>,
    /// Its colour as `#rrggbb`: buttons, progress, chosen answers.
    pub brand_color: Option<String>,
    /// Its logo (an https URL), in the pages' header.
    pub brand_logo_url: Option<String>,
    /// Its privacy page (an https URL), linked in the pages' footer.
    pub privacy_url: Option<String>,
    /// The language (`en`, `cs`, `pl`) pages open in when the respondent asks for none the
    /// survey has.
    pub default_lang: Option<String>,
    /// The brand's own websites (origins, separated by spaces): the sites that may show
    /// its survey pages in a frame (the widget).
    pub site_origins: Option<String>,
}

/// A key as listed (never the token itself, which is shown once at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Id.
    pub id: i64,
    /// Project.
    pub project_id: ProjectId,
    /// Write or secret.
    pub kind: KeyKind,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_ms: i64,
}

/// A touchpoint with its store id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTouchpoint {
    /// Store id (what events reference).
    pub id: i64,
    /// The touchpoint.
    #[serde(flatten)]
    pub touchpoint: Touchpoint,
}

/// An event on its way into the store, with what the writer worked out about it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Project.
    pub project: ProjectId,
    /// The validated event.
    pub event: Event,
    /// The customer it belongs to.
    pub customer: CustomerId,
    /// Its touchpoint, if it is a contact.
    pub touchpoint: Option<i64>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Arrival order within the store.
    pub id: i64,
    /// Project.
    pub project_id: ProjectId,
    /// Dedup key.
    pub message_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Track event, page or screen name.
    pub name: Option<String>,
    /// User id as sent.
    pub user_id: Option<String>,
    /// Anonymous id as sent.
    pub anonymous_id: Option<String>,
    /// The customer it was attributed to when it arrived (follow merges for the current one).
    pub customer_id: CustomerId,
    /// Touchpoint id.
    pub touchpoint_id: Option<i64>,
    /// Event time, ms.
    pub timestamp: i64,
    /// Receipt time, ms.
    pub received_at: i64,
    /// Flags (see `EventFlags`).
    pub flags: u32,
    /// The event as received, JSON text.
    pub body: String,
}

/// A rejected event on its way into the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFailedEvent {
    /// Project.
    pub project: ProjectId,
    /// When it arrived.
    pub received_at: i64,
    /// `api` or `import`.
    pub source: String,
    /// The field that was wrong.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
    /// The raw bytes as sent (possibly not UTF-8, possibly cut at the size limit).
    pub raw: Vec<u8>,
}

/// What a project's failed events take up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedUsage {
    /// Failed events kept.
    pub events: u64,
    /// Bytes of their raw bodies.
    pub bytes: u64,
}

/// A stored failed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedEvent {
    /// Id.
    pub id: i64,
    /// What was rejected and why.
    #[serde(flatten)]
    pub event: NewFailedEvent,
}

/// Events per day and touchpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRow {
    /// Day, as days since 1970-01-01 (UTC).
    pub day: i64,
    /// Touchpoint id (0: events that are not touchpoints, such as identify).
    pub touchpoint_id: i64,
    /// Number of events.
    pub events: i64,
}

/// A customer as the profile shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Id.
    pub id: CustomerId,
    /// Project.
    pub project_id: ProjectId,
    /// Known user id.
    pub user_id: Option<String>,
    /// If merged away, the customer it now is.
    pub merged_into: Option<CustomerId>,
    /// Traits from identify calls (later values win).
    pub traits: Map<String, Value>,
    /// When first seen.
    pub created_ms: i64,
}

/// An identity of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Kind.
    pub kind: IdentityKind,
    /// The id.
    pub value: String,
    /// The customer row it was attached to (a merged one, possibly).
    pub customer_id: CustomerId,
}

/// A refused merge, kept for a person to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Id.
    pub id: i64,
    /// The customer the event went to.
    pub customer_id: CustomerId,
    /// The other known customer.
    pub other_customer_id: CustomerId,
    /// The linking identity.
    pub identity: String,
    /// What happened.
    pub detail: String,
    /// When.
    pub created_ms: i64,
}

/// Everything one group commit writes.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// Identity changes, in order.
    pub identity_ops: Vec<IdentityOp>,
    /// Trait patches (RFC 7396 merge) per customer, in order.
    pub traits: Vec<(CustomerId, Map<String, Value>)>,
    /// Events. A messageId repeated in its project (in this batch too) is stored once: the
    /// store answers `None` for the repeats.
    pub events: Vec<NewEvent>,
    /// Failed events.
    pub failed: Vec<NewFailedEvent>,
    /// What [`Store::prepare`] worked out for exactly this batch, if anything.
    pub prepared: Option<Prepared>,
    /// Events the writer refused because they named a suppressed identity value
    /// ([`erasure::SuppressionList`]), per project: the store adds them to the project's
    /// count ([`MetaStore::suppression_stats`]) in the same commit.
    pub refused: Vec<(ProjectId, u64)>,
}

/// A store's own work on one [`CommitBatch`], done ahead of its commit
/// ([`Store::prepare`]); only the store that made it knows what is inside.
pub struct Prepared(pub Box<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared(..)")
    }
}

/// A lock that keeps other writers out of a store several processes share, held in
/// another database (the writer lock in PostgreSQL of a ClickHouse event store): the
/// store asks it before it writes, so a writer that lost its lock stops writing.
#[async_trait]
pub trait Fence: Send + Sync {
    /// Whether the lock is still held.
    async fn held(&self) -> bool;
}

/// Raw events, failed events and their volumes.
///
/// What callers may assume of event ids, and nothing more: an id is unique in the store
/// and ids grow in the order events were stored, so an id is a cursor (`after_id`, the
/// last one read). Ids are not dense (nothing counts events by subtracting ids, and the
/// "last n events" are [`EventStore::recent_events`]), and an id says nothing about a
/// project or a time. Dedup answers at append time (`None` for a duplicate; the journey
/// index trusts it): the embedded store from its messageId hashes, ClickHouse from its
/// messageId table. Re-classification is [`EventStore::set_touchpoints`]: the embedded
/// store rewrites the events, ClickHouse keeps an overlay read at query time; readers see
/// the new touchpoint either way.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Store events; returns for each its new id, or `None` when its messageId was already
    /// stored in its project. Also counts the new ones into the daily volumes.
    async fn append_events(&self, events: &[NewEvent], failed: &[NewFailedEvent]) -> Result<Vec<Option<i64>>>;
    /// Events in arrival order after `after_id`, optionally of one project.
    async fn scan_events(&self, project: Option<ProjectId>, after_id: i64, limit: usize) -> Result<Vec<StoredEvent>>;
    /// A project's last `limit` stored events, the most recent first.
    async fn recent_events(&self, project: ProjectId, limit: usize) -> Result<Vec<StoredEvent>>;
    /// Events of these customers, newest first, strictly before the cursor (time, id).
    async fn customer_events(
        &self,
        customers: &[CustomerId],
        before: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>>;
    /// The touchpoint events of a project with ids in `(after_id, upto_id]` (no upper bound
    /// when `None`), in arrival order, without bodies: `(id, customer_id, ts_ms,
    /// touchpoint_id)`. What the journey index loads.
    async fn scan_points(
        &self,
        project: ProjectId,
        after_id: i64,
        upto_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, CustomerId, i64, i64)>>;
    /// The lowest and highest event id of a project (`None` without events).
    async fn event_id_range(&self, project: ProjectId) -> Result<Option<(i64, i64)>>;
    /// Number of stored events of a project.
    async fn count_events(&self, project: ProjectId) -> Result<i64>;
    /// Failed events of a project, newest first, with ids below `before_id`.
    async fn failed_events(&self, project: ProjectId, before_id: Option<i64>, limit: usize)
        -> Result<Vec<FailedEvent>>;
    /// How many failed events a project keeps and the bytes of their raw bodies: what the
    /// writer holds against the project's failed-event quota.
    async fn failed_usage(&self, project: ProjectId) -> Result<FailedUsage>;
    /// Delete every failed event of a project (asked for by a person); returns how many.
    async fn clear_failed_events(&self, project: ProjectId) -> Result<u64>;
    /// Set events' touchpoints (re-classification).
    async fn set_touchpoints(&self, updates: &[(i64, Option<i64>)]) -> Result<()>;
    /// Recount a project's daily volumes from its events.
    async fn rebuild_volume(&self, project: ProjectId) -> Result<()>;
    /// Daily volumes of a project between two days (inclusive).
    async fn daily_volume(&self, project: ProjectId, from_day: i64, to_day: i64) -> Result<Vec<VolumeRow>>;

    /// Every stored event of a subject ([`Subject::owns`]), whole, in arrival order.
    async fn subject_events(&self, subject: &Subject) -> Result<Vec<StoredEvent>>;
    /// The failed events of the subject's project whose raw bytes name one of its identity
    /// values ([`Subject::mentions`]), oldest first.
    async fn subject_failed_events(&self, subject: &Subject) -> Result<Vec<FailedEvent>>;
    /// Remove a subject's events ([`EventStore::subject_events`]) and the failed events
    /// that name it ([`EventStore::subject_failed_events`]). Every other event keeps its id
    /// and its content; counts and daily volumes drop by exactly the removed events; the
    /// dedup set forgets the removed events' messageIds (a repeat is refused by
    /// suppression, not taken for a duplicate).
    async fn erase_subject_events(&self, subject: &Subject) -> Result<EventErasure>;
}

/// An event store that can be the event half of a store whose metadata lives elsewhere
/// (PostgreSQL: `touchpoint-store-postgres`'s `SplitStore`): what such a store needs of its
/// event half besides [`EventStore`]. The embedded SQLite store and the ClickHouse event
/// store implement it.
#[async_trait]
pub trait EventHalf: EventStore {
    /// Write a group commit's events and failed events (its metadata is committed
    /// elsewhere, first), with what [`EventHalf::prepare`] made of it.
    async fn commit_events(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>>;
    /// Work on a batch ahead of its commit ([`Store::prepare`]). None by default.
    fn prepare(&self, _batch: &CommitBatch) -> Option<Prepared> {
        None
    }
    /// Take a project's suppression list (its key and hashes, as the metadata half keeps
    /// them): the half's writes refuse what it names from now on.
    async fn adopt_suppression(&self, project: ProjectId, key: &[u8], hashes: &[[u8; 32]]) -> Result<()>;
    /// How many events and failed events of a project this half's writes refused.
    async fn refused_events(&self, project: ProjectId) -> Result<u64>;
    /// Keep other processes from writing while a shared handle erases (the embedded
    /// store's data directory lock), held until the guard is dropped; `None` when nothing
    /// needs holding.
    fn erasure_guard(&self) -> Result<Option<Box<dyn std::any::Any + Send>>> {
        Ok(None)
    }
    /// The name of the lock in the metadata store that this half's writer holds, when this
    /// handle is not the writer: a store whose metadata is elsewhere takes it for an
    /// erasure through this handle, so none runs beside a writer that would not learn of
    /// it. `None` by default (nothing to take, or this handle is the writer).
    fn writer_lock(&self) -> Option<String> {
        None
    }
    /// Make the half's storage forget what was removed ([`Store::purge_erased`]).
    async fn purge_erased(&self) -> Result<PurgeReport>;
    /// How many erasures this handle has committed ([`Store::erasures`]).
    fn erasures(&self) -> u64;
    /// [`Store::gather`] for a store with this event half. None by default.
    fn gather(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Projects, keys, the catalog, customers and identities.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Create a project with a starting catalog.
    async fn create_project(&self, name: &str, catalog: &Catalog) -> Result<Project>;
    /// All projects.
    async fn projects(&self) -> Result<Vec<Project>>;
    /// One project by id.
    async fn project(&self, id: ProjectId) -> Result<Option<Project>>;
    /// One project by name.
    async fn project_by_name(&self, name: &str) -> Result<Option<Project>>;
    /// Change a project's time zone (IANA name, checked by the caller) and churn horizon.
    async fn update_project(&self, id: ProjectId, timezone: &str, churn_horizon_days: i64) -> Result<Project>;
    /// Replace a project's brand (checked by the caller).
    async fn set_project_brand(&self, id: ProjectId, brand: &Brand) -> Result<Project>;
    /// Store a key by the hash of its token.
    async fn create_key(&self, project: ProjectId, kind: KeyKind, token_hash: &str, prefix: &str) -> Result<KeyInfo>;
    /// Find a live key by the hash of its token.
    async fn key_by_hash(&self, token_hash: &str) -> Result<Option<KeyInfo>>;
    /// Keys of a project (not the revoked ones).
    async fn keys(&self, project: ProjectId) -> Result<Vec<KeyInfo>>;
    /// Revoke a project's key at `at_ms`: it is found by its hash no more — unless it is
    /// the project's last secret key (nothing could administer the project with a key),
    /// decided in one transaction with the project's row locked, so two revocations of
    /// its last two secret keys at once leave one.
    async fn revoke_key(&self, project: ProjectId, id: i64, at_ms: i64) -> Result<Revoked>;
    /// Touchpoints of a project.
    async fn touchpoints(&self, project: ProjectId) -> Result<Vec<StoredTouchpoint>>;
    /// Insert or replace a touchpoint by key; returns its id.
    async fn upsert_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64>;
    /// Insert a touchpoint unless one with its key exists; returns the id either way.
    async fn ensure_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64>;
    /// Rules of a project.
    async fn rules(&self, project: ProjectId) -> Result<Vec<Rule>>;
    /// Add a rule; returns it with its id.
    async fn add_rule(&self, project: ProjectId, rule: &Rule) -> Result<Rule>;
    /// Replace a rule.
    async fn update_rule(&self, project: ProjectId, rule: &Rule) -> Result<()>;
    /// Delete a rule.
    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()>;
    /// Persist identity changes and trait patches.
    async fn apply_identity(&self, ops: &[IdentityOp], traits: &[(CustomerId, Map<String, Value>)]) -> Result<()>;
    /// Rebuild the identity graph of every project.
    async fn load_identity_graph(&self) -> Result<touchpoint_core::IdentityGraph>;
    /// The customer an identity was attached to (follow `merged_into` for the current one).
    async fn find_identity(&self, project: ProjectId, kind: IdentityKind, value: &str) -> Result<Option<CustomerId>>;
    /// One customer.
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>>;
    /// Customers of a project (canonical ones), by id, after a cursor.
    async fn customers(&self, project: ProjectId, after_id: i64, limit: usize) -> Result<Vec<Customer>>;
    /// Every merged-away customer of a project and the customer it is now: `(from, into)`.
    async fn merged_customers(&self, project: ProjectId) -> Result<Vec<(CustomerId, CustomerId)>>;
    /// The value of one trait for every customer of a project that has it (as text).
    async fn trait_values(&self, project: ProjectId, key: &str) -> Result<Vec<(CustomerId, String)>>;
    /// The customers of a project (canonical ones) whose trait `key`, as text (as
    /// [`MetaStore::trait_values`] gives it) and trimmed, equals `value` trimmed, ignoring
    /// ASCII case: [`matching_trait_values`] of the trait's values. `(id, value as text)`
    /// in id order, the first `limit` of them. Through an index for
    /// [`migrate::INDEXED_TRAITS`] and the traits [`MetaStore::index_traits`] indexed; by
    /// reading every customer's traits (this default) for the others — inside the database
    /// on SQLite for a key that could have an index, in id order until `limit` are found,
    /// so that only those matches come out.
    async fn customers_with_trait(
        &self,
        project: ProjectId,
        key: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<(CustomerId, String)>> {
        let mut found = matching_trait_values(self.trait_values(project, key).await?, value);
        found.truncate(limit);
        Ok(found)
    }
    /// Keep an index for finding customers by each of these traits (besides
    /// [`migrate::INDEXED_TRAITS`]), made now where it is not there yet; a key that is not
    /// a [`migrate::indexable_trait`] is refused, naming it, and nothing is made.
    /// [`MetaStore::customers_with_trait`] uses a trait's index whenever it exists.
    async fn index_traits(&self, keys: &[String]) -> Result<()>;
    /// A customer and every customer merged into it.
    async fn merged_ids(&self, id: CustomerId) -> Result<Vec<CustomerId>>;
    /// Identities of a customer and of those merged into it.
    async fn identities(&self, id: CustomerId) -> Result<Vec<Identity>>;
    /// Refused merges of a project, newest first.
    async fn conflicts(&self, project: ProjectId, limit: usize) -> Result<Vec<Conflict>>;

    /// The subject a customer id belongs to: its canonical customer (the id itself, or the
    /// one it was merged into), every customer merged into that, and their identity values
    /// (identities and user ids). `None` for an unknown id.
    async fn subject(&self, id: CustomerId) -> Result<Option<Subject>> {
        let Some(asked) = self.customer(id).await? else { return Ok(None) };
        let canonical = match asked.merged_into {
            Some(into) => self.customer(into).await?.unwrap_or(asked),
            None => asked,
        };
        let customers = self.merged_ids(canonical.id).await?;
        let mut values: Vec<String> = self.identities(canonical.id).await?.into_iter().map(|i| i.value).collect();
        for &c in &customers {
            if let Some(user_id) = self.customer(c).await?.and_then(|row| row.user_id) {
                values.push(user_id);
            }
        }
        Ok(Some(Subject::new(canonical.project_id, canonical.id, customers, values)))
    }
    /// Customer rows of a subject: its customers, and any customer of its project whose
    /// user id is one of its values; by id.
    async fn subject_customers(&self, subject: &Subject) -> Result<Vec<Customer>>;
    /// Identities attached to one of a subject's customers, or of its project with one of
    /// its values.
    async fn subject_identities(&self, subject: &Subject) -> Result<Vec<Identity>>;
    /// Identity conflicts of the subject's project that name it ([`Subject::names_conflict`]),
    /// oldest first.
    async fn subject_conflicts(&self, subject: &Subject) -> Result<Vec<Conflict>>;
    /// Remove a subject's customers (with their traits), identities and conflicts
    /// ([`MetaStore::subject_customers`], [`MetaStore::subject_identities`],
    /// [`MetaStore::subject_conflicts`]). The removed customer ids are never given to a new
    /// customer ([`MetaStore::load_identity_graph`] starts numbering above them).
    async fn erase_subject_meta(&self, subject: &Subject) -> Result<MetaErasure>;
    /// Add identity values to a project's suppression list (as keyed hashes, never the
    /// values); returns how many were not on it yet.
    async fn suppress(&self, project: ProjectId, values: &[String]) -> Result<u64>;
    /// A project's suppression list, to check events against.
    async fn suppression_list(&self, project: ProjectId) -> Result<SuppressionList>;
    /// How many values a project suppresses and how many events it refused for them.
    async fn suppression_stats(&self, project: ProjectId) -> Result<SuppressionStats>;
    /// Count `n` events refused for a project because they named a suppressed value.
    async fn count_refused(&self, project: ProjectId, n: u64) -> Result<()>;
}

/// All stores, and the write the ingest path makes per group commit.
/// What revoking a key did ([`MetaStore::revoke_key`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Revoked {
    /// Revoked: the key as it was.
    Done(KeyInfo),
    /// The project has no such key, or it is revoked already.
    NoSuchKey,
    /// It is the project's last secret key: kept.
    LastSecret,
}

/// `keys` as [`MetaStore::index_traits`] takes them: an error naming the first key that is
/// not a [`migrate::indexable_trait`].
pub fn check_trait_keys(keys: &[String]) -> Result<()> {
    match keys.iter().find(|k| !migrate::indexable_trait(k)) {
        Some(k) => Err(StoreError::Invalid(format!(
            "trait {k:?} cannot be indexed: a key of 1 to 64 letters, digits, '_', '-' or '.' can"
        ))),
        None => Ok(()),
    }
}

/// The customers among `values` whose value, trimmed, equals `value` trimmed, ignoring
/// ASCII case, in id order: what [`Store::customers_with_trait`] answers.
pub fn matching_trait_values(values: Vec<(CustomerId, String)>, value: &str) -> Vec<(CustomerId, String)> {
    let value = value.trim();
    let mut found: Vec<_> = values.into_iter().filter(|(_, v)| v.trim().eq_ignore_ascii_case(value)).collect();
    found.sort_by_key(|(id, _)| *id);
    found
}

#[async_trait]
pub trait Store: EventStore + MetaStore + ListenStore + AccountStore + TriggerStore + KbStore + ServiceStore {
    /// Write one group commit. A backend with both halves in one database does it in one
    /// transaction; the default writes the metadata first, then the events.
    async fn commit(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        self.apply_identity(&batch.identity_ops, &batch.traits).await?;
        for &(project, n) in &batch.refused {
            self.count_refused(project, n).await?;
        }
        self.append_events(&batch.events, &batch.failed).await
    }

    /// Work on a group commit that needs nothing from the stored data (hashing, encoding),
    /// which the writer runs beside the commit of the group before, so that the commits —
    /// one at a time, the ingest path's bottleneck — are shorter. The writer puts the result
    /// into [`CommitBatch::prepared`] and changes the batch no more; [`Store::commit`] gives
    /// the same result with or without it. The default prepares nothing.
    fn prepare(&self, _batch: &CommitBatch) -> Option<Prepared> {
        None
    }

    /// Everything stored about a customer (and the customers merged into it) as one
    /// document (GDPR articles 15 and 20). NotFound for an unknown id.
    async fn export_customer(&self, id: CustomerId) -> Result<CustomerExport> {
        erasure::export_customer(self, id).await
    }

    /// Erase a customer (and the customers merged into it) from every store, suppress its
    /// identity values, purge the backend's files and re-read every store (GDPR article
    /// 17; see [`erasure`] for the order, the guarantee and what is not covered).
    /// NotFound for an unknown id. With a [`writer::Writer`] running on this store, erase
    /// through [`writer::Writer::erase_customer`], which keeps ingest out meanwhile.
    async fn erase_customer(&self, id: CustomerId) -> Result<ErasureReceipt> {
        erasure::erase_customer(self, id).await
    }

    /// Make the backend's files forget everything removed so far (free pages, logs,
    /// journals), so that no file holds the removed bytes. Part of every erasure; call it
    /// again when a receipt's purge failed.
    async fn purge_erased(&self) -> Result<PurgeReport>;

    /// How many erasures this store handle has committed: the writer reloads its identity
    /// graph and suppression lists when the number changes.
    fn erasures(&self) -> u64 {
        0
    }

    /// For a store whose group commits are slow and cost about the same whatever their
    /// size: the writer then builds the next group only after the last one committed, and
    /// this long after (what the clients it answered send meanwhile joins the group),
    /// instead of building it while the last one commits. `None` (the default): build
    /// beside the commit.
    fn gather(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Hash a key token for storage and lookup.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Make a new random key token of a kind (`tpw_…` or `tps_…`, 32 random characters).
pub fn new_token(kind: KeyKind) -> String {
    use rand::{distributions::Alphanumeric, Rng};
    let body: String = rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
    format!("{}{body}", kind.prefix())
}

/// Create a key and return its token (shown once) with its listing.
pub async fn issue_key(store: &dyn MetaStore, project: ProjectId, kind: KeyKind) -> Result<(String, KeyInfo)> {
    let token = new_token(kind);
    let info = store.create_key(project, kind, &hash_token(&token), &token[..8]).await?;
    Ok((token, info))
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
