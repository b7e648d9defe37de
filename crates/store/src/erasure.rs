//! Export and erasure of one customer (GDPR articles 15, 17 and 20), for every backend.
//!
//! A **subject** ([`Subject`]) is one person in one project: the canonical customer, the
//! customers merged into it, and their identity values (user ids, anonymous ids). Each store
//! finds, exports and removes its own part of a subject — [`crate::EventStore`] the events
//! and failed events, [`crate::MetaStore`] the customers, identities, traits and conflicts,
//! [`crate::ListenStore`] the survey invitations and responses — and [`crate::Store`] puts
//! the parts together: [`export_customer`] into one [`CustomerExport`] document,
//! [`erase_customer`] into an [`ErasureReceipt`].
//!
//! What belongs to a subject:
//! - events attributed to one of its customers, and events of other customers sent with one
//!   of its identity values as `userId`, `anonymousId` or (alias) `previousId` (a shared
//!   device: the link was refused and recorded as a conflict);
//! - failed events whose raw bytes name one of its identity values ([`Subject::mentions`]);
//! - its customer rows (with their traits) and identities, and every identity conflict that
//!   names one of its customers or identity values;
//! - survey invitations addressed to one of its identity values and responses given by one
//!   (or through such an invitation);
//! - trigger firings and message preferences of its customers, and the service requests
//!   its customers opened, with every entry of their timelines (the team's replies too).
//!
//! **Erasure** runs in this order, so that an erasure cut short (a crash, an error) is
//! completed by running it again: suppress the identity values, remove the events and
//! failed events, the listening data, then the customers and identities (which name the
//! subject, so they go last), make the backend's files forget the removed bytes
//! ([`crate::Store::purge_erased`]), and read every store again for the subject. The
//! receipt is `verified` only when that re-read finds nothing, every value is suppressed
//! and the purge succeeded.
//!
//! **Suppression.** Each erased identity value is kept as a keyed hash (HMAC-SHA-256 with a
//! random key per project, [`SuppressionList`]), never as the value. From then on the
//! writer and the store refuse events sent with a suppressed id (and failed events whose
//! raw bytes hold one as a JSON string or number): they are neither stored nor kept as
//! failed events, and are counted per project ([`crate::MetaStore::suppression_stats`]).
//! A repeat of an erased event is refused this way, however long ago it was erased (the
//! writer's dedup window is bounded; suppression is not).
//!
//! **What is guaranteed.** After a verified receipt, no store holds the subject's events,
//! failed events naming its ids, customers, traits, identities, conflicts, invitations,
//! responses, firings, preferences or requests, and (embedded store) no file in the data directory holds their bytes: the
//! database is rebuilt (`VACUUM`) with `secure_delete` on and its write-ahead log truncated.
//! Erased customer ids are never given to a new customer.
//!
//! **What is not covered.** Backups, copies and exports made before the erasure; the
//! operating system's page cache, swap, the blocks a file system or disk keeps of a file's
//! old contents (copy-on-write file systems and their snapshots, remapped SSD blocks);
//! files outside the data directory (logs, SQLite's temporary file while it rebuilds,
//! which holds only data that is kept); files the server keeps beside the store (saved
//! journey files) and its in-memory indexes, which the server must rebuild; personal data
//! about the subject inside *other* people's data (another customer's event body, a survey
//! answer that names them, a response given on an open link without a customer, a
//! touchpoint discovered from an event name); identity values sent in another Unicode form
//! or JSON escaping than the stored one; and aggregates (daily volumes are decremented,
//! reports computed earlier are not). The suppression key is kept in the store: whoever
//! holds the store can test a guessed id against the list, though not read it.

use crate::listen::{InvitationRow, ResponseRow};
use crate::{Conflict, Customer, FailedEvent, Identity, Result, Store, StoreError, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use touchpoint_core::{CustomerId, Event, EventType, IdentityOp, ProjectId};

/// One person in one project: what every store looks for when it exports or erases them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The project.
    pub project: ProjectId,
    /// The canonical customer (the one others were merged into).
    pub customer: CustomerId,
    /// The canonical customer and every customer merged into it, ascending.
    pub customers: Vec<CustomerId>,
    /// Their identity values (user ids and anonymous ids), each once, sorted; never empty
    /// strings.
    pub values: Vec<String>,
}

impl Subject {
    /// A subject; values are deduplicated and sorted, empty ones dropped.
    pub fn new(
        project: ProjectId,
        customer: CustomerId,
        mut customers: Vec<CustomerId>,
        values: impl IntoIterator<Item = String>,
    ) -> Subject {
        if !customers.contains(&customer) {
            customers.push(customer);
        }
        customers.sort_unstable();
        customers.dedup();
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort_unstable();
        values.dedup();
        Subject { project, customer, customers, values }
    }

    /// Whether a customer id is one of the subject's.
    pub fn has_customer(&self, c: CustomerId) -> bool {
        self.customers.binary_search(&c).is_ok()
    }

    /// Whether a string is one of the subject's identity values.
    pub fn has_value(&self, v: &str) -> bool {
        self.values.binary_search_by(|x| x.as_str().cmp(v)).is_ok()
    }

    /// Whether an event belongs to the subject: attributed to one of its customers, or sent
    /// with one of its identity values as `userId`, `anonymousId` or (alias) `previousId`.
    pub fn owns_event(
        &self,
        customer: CustomerId,
        kind: EventType,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        body: &str,
    ) -> bool {
        if self.has_customer(customer) || [user_id, anonymous_id].into_iter().flatten().any(|v| self.has_value(v)) {
            return true;
        }
        kind == EventType::Alias && previous_id_of(body).is_some_and(|v| self.has_value(&v))
    }

    /// Whether a stored event belongs to the subject (see [`Subject::owns_event`]).
    pub fn owns(&self, e: &StoredEvent) -> bool {
        e.project_id == self.project
            && self.owns_event(e.customer_id, e.kind, e.user_id.as_deref(), e.anonymous_id.as_deref(), &e.body)
    }

    /// Whether raw bytes (a failed event) name one of the subject's identity values: the
    /// value, as is or JSON-escaped, not run into letters or digits on either side (so the
    /// user id `42` is not found in `1425`; it is in `"userId":42`). Rejected input may be
    /// cut or not JSON at all, so this is a byte search, not a parse.
    pub fn mentions(&self, raw: &[u8]) -> bool {
        self.values.iter().any(|v| {
            let escaped = serde_json::to_string(v).expect("a string serializes");
            let escaped = &escaped[1..escaped.len() - 1];
            contains_word(raw, v.as_bytes()) || (escaped != v && contains_word(raw, escaped.as_bytes()))
        })
    }

    /// Whether a conflict names one of the subject's customers or identity values.
    pub fn names_conflict(&self, c: &Conflict) -> bool {
        self.has_customer(c.customer_id)
            || self.has_customer(c.other_customer_id)
            || c.identity.split_once(':').is_some_and(|(_, v)| self.has_value(v))
    }

    /// The conflict identity strings (`user:…`, `anonymous:…`) that name the subject.
    pub fn conflict_identities(&self) -> Vec<String> {
        self.values.iter().flat_map(|v| [format!("user:{v}"), format!("anonymous:{v}")]).collect()
    }
}

/// The `previousId` of an alias event's body, as the event parser reads it (a string or a
/// number).
fn previous_id_of(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Alias {
        #[serde(rename = "previousId")]
        previous_id: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Alias>(body).ok()?.previous_id? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `needle` occurs in `hay` not run into an ASCII letter or digit on a side where
/// the needle itself starts or ends with one.
fn contains_word(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return false };
    let last = needle[needle.len() - 1];
    let word = |b: u8| b.is_ascii_alphanumeric();
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let Some(at) = hay[from..=hay.len() - needle.len()].iter().position(|&b| b == first) else { return false };
        let at = from + at;
        if &hay[at..at + needle.len()] == needle {
            let before_ok = !word(first) || at == 0 || !word(hay[at - 1]);
            let end = at + needle.len();
            let after_ok = !word(last) || end == hay.len() || !word(hay[end]);
            if before_ok && after_ok {
                return true;
            }
        }
        from = at + 1;
    }
    false
}

/// HMAC-SHA-256 with a fixed key, its pads hashed once.
#[derive(Clone)]
struct Mac {
    inner: Sha256,
    outer: Sha256,
}

impl Mac {
    fn new(key: &[u8]) -> Mac {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        inner.update(k.map(|b| b ^ 0x36));
        outer.update(k.map(|b| b ^ 0x5c));
        Mac { inner, outer }
    }

    fn of(&self, value: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(value);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// The keyed hash a suppression list keeps of an identity value: HMAC-SHA-256 under the
/// project's suppression key.
pub fn suppression_hash(key: &[u8], value: &str) -> [u8; 32] {
    Mac::new(key).of(value.as_bytes())
}

/// Most string and number literals of one failed event's raw bytes that
/// [`SuppressionList::refuses_raw`] hashes (a bound on the writer's work per failed event).
const MAX_LITERALS: usize = 8192;

/// Longest literal [`SuppressionList::refuses_raw`] hashes, in bytes (ids are shorter).
const MAX_LITERAL_BYTES: usize = 4096;

/// A project's suppressed identity values, as keyed hashes: what the writer and the store
/// check every event against. Its `Debug` output shows neither key nor hashes.
#[derive(Clone, Default)]
pub struct SuppressionList {
    mac: Option<Mac>,
    hashes: HashSet<[u8; 32]>,
}

impl std::fmt::Debug for SuppressionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SuppressionList({} ids)", self.hashes.len())
    }
}

impl SuppressionList {
    /// A list of these hashes made with `key`.
    pub fn new(key: &[u8], hashes: impl IntoIterator<Item = [u8; 32]>) -> SuppressionList {
        SuppressionList { mac: Some(Mac::new(key)), hashes: hashes.into_iter().collect() }
    }

    /// Number of suppressed values.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether nothing is suppressed (then nothing is hashed either).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether an identity value is suppressed.
    pub fn contains(&self, value: &str) -> bool {
        self.contains_bytes(value.as_bytes())
    }

    fn contains_bytes(&self, value: &[u8]) -> bool {
        match &self.mac {
            Some(mac) if !self.hashes.is_empty() && !value.is_empty() => self.hashes.contains(&mac.of(value)),
            _ => false,
        }
    }

    /// Whether an event must be refused: its `userId`, `anonymousId` or `previousId` is
    /// suppressed.
    pub fn refuses_event(&self, e: &Event) -> bool {
        !self.is_empty()
            && [&e.user_id, &e.anonymous_id, &e.previous_id].into_iter().flatten().any(|v| self.contains(v))
    }

    /// Whether a failed event's raw bytes must not be kept: one of its JSON string or
    /// number literals (read leniently: the bytes may be cut or not JSON) is suppressed.
    pub fn refuses_raw(&self, raw: &[u8]) -> bool {
        !self.is_empty() && literals(raw, |lit| self.contains_bytes(lit))
    }
}

/// Call `found` with the JSON string literals (unescaped) and number literals of `raw`,
/// leniently, until it answers true; returns whether it did.
fn literals(raw: &[u8], mut found: impl FnMut(&[u8]) -> bool) -> bool {
    let mut i = 0;
    let mut seen = 0;
    while i < raw.len() && seen < MAX_LITERALS {
        match raw[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                while j < raw.len() && raw[j] != b'"' {
                    escaped |= raw[j] == b'\\';
                    j += if raw[j] == b'\\' { 2 } else { 1 };
                }
                if j >= raw.len() {
                    return false;
                }
                let lit = &raw[start..j];
                seen += 1;
                if lit.len() <= MAX_LITERAL_BYTES {
                    let hit = if escaped {
                        match serde_json::from_slice::<String>(&raw[i..=j]) {
                            Ok(s) => found(s.as_bytes()),
                            Err(_) => found(lit),
                        }
                    } else {
                        found(lit)
                    };
                    if hit {
                        return true;
                    }
                }
                i = j + 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < raw.len() && matches!(raw[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                seen += 1;
                if found(&raw[start..i]) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// What a project's suppression list holds and what it refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionStats {
    /// Identity values suppressed (kept as keyed hashes).
    pub ids: u64,
    /// Events and failed events refused because they named a suppressed value.
    pub refused_events: u64,
}

/// What an [`crate::EventStore`] removed of a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventErasure {
    /// Events removed.
    pub events: u64,
    /// Storage units rewritten to remove them (segments, for the embedded store).
    pub segments_rewritten: u64,
    /// Failed events removed.
    pub failed_events: u64,
}

/// What a [`crate::MetaStore`] removed of a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaErasure {
    /// Customer rows removed (the canonical one and those merged into it).
    pub customers: u64,
    /// Identities removed.
    pub identities: u64,
    /// Traits removed (keys of the removed customers' traits).
    pub traits: u64,
    /// Identity conflicts removed.
    pub conflicts: u64,
}

/// What a [`crate::ListenStore`] removed of a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenErasure {
    /// Survey responses removed.
    pub responses: u64,
    /// Survey invitations removed.
    pub invitations: u64,
}

/// Counts per kind of stored data: what an erasure removed, or what a re-read still found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCounts {
    /// Events.
    pub events: u64,
    /// Storage units (segments) rewritten; 0 in a re-read.
    pub segments_rewritten: u64,
    /// Identities.
    pub identities: u64,
    /// Trait keys.
    pub traits: u64,
    /// Customer rows.
    pub customers: u64,
    /// Identity conflicts.
    pub conflicts: u64,
    /// Failed events.
    pub failed_events: u64,
    /// Survey responses.
    pub responses: u64,
    /// Survey invitations.
    pub invitations: u64,
    /// Trigger firings (decisions about the customer, their payloads naming them).
    #[serde(default)]
    pub firings: u64,
    /// Message preferences.
    #[serde(default)]
    pub preferences: u64,
    /// Service requests the customer opened.
    #[serde(default)]
    pub requests: u64,
    /// Entries of those requests' timelines (messages, status changes).
    #[serde(default)]
    pub request_entries: u64,
    /// Removed: identity values added to the suppression list. Re-read: identity values
    /// that are *not* suppressed.
    pub suppressed_ids: u64,
}

impl ErasureCounts {
    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == ErasureCounts::default()
    }
}

/// What a backend did to make its files forget removed data ([`crate::Store::purge_erased`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Whether every step succeeded: nothing removed is left in the backend's files.
    pub purged: bool,
    /// What was done, in order (`vacuum`, `wal_checkpoint(TRUNCATE)` …), and what failed.
    pub steps: Vec<String>,
}

/// What erasing a customer did, store by store, and what a re-read found afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReceipt {
    /// The project.
    pub project_id: ProjectId,
    /// The customer id asked for.
    pub requested_id: CustomerId,
    /// The canonical customer erased (differs when a merged-away id was asked for).
    pub customer_id: CustomerId,
    /// Every customer id erased (the canonical one and those merged into it).
    pub customer_ids: Vec<CustomerId>,
    /// How many identity values were erased (and suppressed); the values themselves are
    /// not in the receipt.
    pub identity_values: u64,
    /// When the erasure started, ms since the epoch.
    pub started_ms: i64,
    /// When it ended, ms since the epoch.
    pub finished_ms: i64,
    /// What was removed.
    pub removed: ErasureCounts,
    /// What the re-read of every store found afterwards (all zero when erased).
    pub found: ErasureCounts,
    /// What the backend did to its files.
    pub purge: PurgeReport,
    /// True only when the re-read found nothing, every identity value is suppressed and
    /// the purge succeeded.
    pub verified: bool,
}

/// A failed event in an export: as stored, with its raw bytes as text when they are UTF-8.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedFailedEvent {
    /// The failed event as stored (raw bytes as an array of numbers).
    #[serde(flatten)]
    pub failed: FailedEvent,
    /// The raw bytes as text, when they are UTF-8.
    pub raw_text: Option<String>,
}

/// Everything stored about one customer, as one JSON document (GDPR articles 15 and 20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerExport {
    /// Version of this document's layout (1).
    pub version: u32,
    /// When it was made, ms since the epoch.
    pub exported_ms: i64,
    /// The project.
    pub project_id: ProjectId,
    /// The customer id asked for.
    pub requested_id: CustomerId,
    /// The canonical customer: the profile, with its traits.
    pub profile: Customer,
    /// Customers merged into it (earlier anonymous visits), with their own traits.
    pub merged: Vec<Customer>,
    /// Identities (user ids, anonymous ids) of the customer and those merged into it.
    pub identities: Vec<Identity>,
    /// Every stored event of the subject, whole (body included), in arrival order.
    pub events: Vec<StoredEvent>,
    /// Failed events whose raw bytes name one of the identity values.
    pub failed_events: Vec<ExportedFailedEvent>,
    /// Refused merges that name the customer.
    pub conflicts: Vec<Conflict>,
    /// Survey invitations addressed to the customer.
    pub invitations: Vec<InvitationRow>,
    /// Survey responses given by the customer.
    pub responses: Vec<ResponseRow>,
    /// Trigger firings decided about the customer (sent, held out, suppressed …).
    #[serde(default)]
    pub firings: Vec<crate::triggers::FiringRow>,
    /// The customer's message preferences.
    #[serde(default)]
    pub preferences: Vec<crate::triggers::Preference>,
    /// The customer's service requests, each with its timeline.
    #[serde(default)]
    pub requests: Vec<crate::service::RequestWithEntries>,
}

/// Trait patches per customer, as a commit carries them ([`crate::CommitBatch::traits`]).
pub type TraitPatches = [(CustomerId, Map<String, Value>)];

/// The project and identity value an identity change attaches, if any (what suppression
/// is checked against).
fn attached_value(op: &IdentityOp) -> Option<(ProjectId, &str)> {
    match op {
        IdentityOp::NewCustomer { project, user_id: Some(u), .. } => Some((*project, u.as_str())),
        IdentityOp::AddIdentity { project, value, .. } => Some((*project, value.as_str())),
        IdentityOp::Conflict { project, identity, .. } => identity.split_once(':').map(|(_, v)| (*project, v)),
        _ => None,
    }
}

/// The projects whose suppression lists [`admitted_identity`] looks at for these changes
/// (each once, in order of first mention).
pub fn identity_projects(ops: &[IdentityOp]) -> Vec<ProjectId> {
    let mut out = vec![];
    for (project, _) in ops.iter().filter_map(attached_value) {
        if !out.contains(&project) {
            out.push(project);
        }
    }
    out
}

/// The identity changes and trait patches of a commit, without what would bring an erased
/// customer back: changes that name a customer in `erased` (erased through this store
/// handle), and those that attach an identity value `suppressed(project, value)` says is
/// suppressed (with the new customer it would have created, and the traits sent along).
/// The writer refuses such events before it stitches them; this is for a writer whose
/// graph or lists are older than an erasure. Every backend applies it in the transaction
/// that writes the changes, so they all keep erased customers erased the same way.
pub fn admitted_identity<'a>(
    ops: &'a [IdentityOp],
    traits: &'a TraitPatches,
    suppressed: impl Fn(ProjectId, &str) -> bool,
    erased: &HashSet<CustomerId>,
) -> (Cow<'a, [IdentityOp]>, Cow<'a, TraitPatches>) {
    // Customers this batch would give a suppressed value, and the values.
    let mut gone: HashSet<CustomerId> = Default::default();
    let mut values: HashSet<(CustomerId, &str)> = Default::default();
    // Conflicts (by position) whose linking identity is suppressed.
    let mut conflicts: HashSet<usize> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        let Some((project, value)) = attached_value(op) else { continue };
        if !suppressed(project, value) {
            continue;
        }
        match op {
            IdentityOp::NewCustomer { id, .. } => {
                gone.insert(*id);
            }
            IdentityOp::AddIdentity { customer, .. } => {
                values.insert((*customer, value));
            }
            _ => {
                conflicts.insert(i);
            }
        }
    }
    if gone.is_empty() && values.is_empty() && conflicts.is_empty() && erased.is_empty() {
        return (Cow::Borrowed(ops), Cow::Borrowed(traits));
    }
    let out = |id: &CustomerId| erased.contains(id) || gone.contains(id);
    let mut keep = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        keep.push(match op {
            IdentityOp::NewCustomer { id, .. } => !out(id),
            IdentityOp::AddIdentity { value, customer, .. } => {
                !out(customer) && !values.contains(&(*customer, value.as_str()))
            }
            IdentityOp::SetUserId { customer, user_id } => {
                !out(customer) && !values.contains(&(*customer, user_id.as_str()))
            }
            IdentityOp::Merge { from, into } => !out(from) && !out(into),
            IdentityOp::Conflict { customer, other, .. } => !out(customer) && !out(other) && !conflicts.contains(&i),
        });
    }
    let ops = if keep.iter().all(|&k| k) {
        Cow::Borrowed(ops)
    } else {
        Cow::Owned(ops.iter().zip(&keep).filter(|(_, &k)| k).map(|(op, _)| op.clone()).collect())
    };
    // Traits of those customers came with the refused events.
    let dropped = |id: &CustomerId| out(id) || values.iter().any(|(c, _)| c == id);
    let traits = if traits.iter().any(|(c, _)| dropped(c)) {
        Cow::Owned(traits.iter().filter(|(c, _)| !dropped(c)).cloned().collect())
    } else {
        Cow::Borrowed(traits)
    };
    (ops, traits)
}

/// The subject of a customer id, or NotFound.
async fn subject_of<S: Store + ?Sized>(store: &S, id: CustomerId) -> Result<Subject> {
    store.subject(id).await?.ok_or_else(|| StoreError::NotFound(format!("customer {id}")))
}

/// [`crate::Store::export_customer`] from the stores' parts.
pub async fn export_customer<S: Store + ?Sized>(store: &S, id: CustomerId) -> Result<CustomerExport> {
    let subject = subject_of(store, id).await?;
    let mut profile = None;
    let mut merged = vec![];
    for row in store.subject_customers(&subject).await? {
        if row.id == subject.customer {
            profile = Some(row);
        } else {
            merged.push(row);
        }
    }
    let profile = profile.ok_or_else(|| StoreError::NotFound(format!("customer {id}")))?;
    let failed_events = store
        .subject_failed_events(&subject)
        .await?
        .into_iter()
        .map(|f| ExportedFailedEvent { raw_text: String::from_utf8(f.event.raw.clone()).ok(), failed: f })
        .collect();
    Ok(CustomerExport {
        version: 1,
        exported_ms: crate::now_ms(),
        project_id: subject.project,
        requested_id: id,
        profile,
        merged,
        identities: store.subject_identities(&subject).await?,
        events: store.subject_events(&subject).await?,
        failed_events,
        conflicts: store.subject_conflicts(&subject).await?,
        invitations: store.subject_invitations(&subject).await?,
        responses: store.subject_responses(&subject).await?,
        firings: store.subject_firings(&subject).await?,
        preferences: store.subject_preferences(&subject).await?,
        requests: store.subject_requests(&subject).await?,
    })
}

/// [`crate::Store::erase_customer`] from the stores' parts, in the order the module
/// documentation gives.
pub async fn erase_customer<S: Store + ?Sized>(store: &S, id: CustomerId) -> Result<ErasureReceipt> {
    let started_ms = crate::now_ms();
    let subject = subject_of(store, id).await?;
    tracing::info!(
        project = subject.project,
        customer = subject.customer,
        customers = subject.customers.len(),
        "erasing a customer"
    );
    let suppressed = store.suppress(subject.project, &subject.values).await?;
    let events = store.erase_subject_events(&subject).await?;
    let listen = store.erase_subject_listen(&subject).await?;
    let (firings, preferences) = store.erase_subject_triggers(&subject).await?;
    let (requests, request_entries) = store.erase_subject_requests(&subject).await?;
    let meta = store.erase_subject_meta(&subject).await?;
    let purge = store.purge_erased().await?;
    let removed = ErasureCounts {
        events: events.events,
        segments_rewritten: events.segments_rewritten,
        identities: meta.identities,
        traits: meta.traits,
        customers: meta.customers,
        conflicts: meta.conflicts,
        failed_events: events.failed_events,
        responses: listen.responses,
        invitations: listen.invitations,
        firings,
        preferences,
        requests,
        request_entries,
        suppressed_ids: suppressed,
    };
    let found = reread(store, &subject).await?;
    let verified = found.is_zero() && purge.purged;
    let receipt = ErasureReceipt {
        project_id: subject.project,
        requested_id: id,
        customer_id: subject.customer,
        customer_ids: subject.customers.clone(),
        identity_values: subject.values.len() as u64,
        started_ms,
        finished_ms: crate::now_ms(),
        removed,
        found,
        purge,
        verified,
    };
    if verified {
        tracing::info!(project = subject.project, customer = subject.customer, "customer erased and verified");
    } else {
        tracing::error!(project = subject.project, customer = subject.customer, found = ?receipt.found,
            purge = ?receipt.purge, "customer erasure NOT verified");
    }
    Ok(receipt)
}

/// Read every store again for a subject: what is still there.
pub async fn reread<S: Store + ?Sized>(store: &S, subject: &Subject) -> Result<ErasureCounts> {
    let mut found = ErasureCounts::default();
    let customers = store.subject_customers(subject).await?;
    found.customers = customers.len() as u64;
    found.traits = customers.iter().map(|c| c.traits.len() as u64).sum();
    found.identities = store.subject_identities(subject).await?.len() as u64;
    found.events = store.subject_events(subject).await?.len() as u64;
    found.failed_events = store.subject_failed_events(subject).await?.len() as u64;
    found.conflicts = store.subject_conflicts(subject).await?.len() as u64;
    found.invitations = store.subject_invitations(subject).await?.len() as u64;
    found.responses = store.subject_responses(subject).await?.len() as u64;
    found.firings = store.subject_firings(subject).await?.len() as u64;
    found.preferences = store.subject_preferences(subject).await?.len() as u64;
    let requests = store.subject_requests(subject).await?;
    found.requests = requests.len() as u64;
    found.request_entries = requests.iter().map(|r| r.entries.len() as u64).sum();
    let list = store.suppression_list(subject.project).await?;
    found.suppressed_ids = subject.values.iter().filter(|v| !list.contains(v)).count() as u64;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = suppression_hash(b"Jefe", "what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block.
        let mac = Mac::new(&[0xaa; 131]).of(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    fn subject(values: &[&str]) -> Subject {
        Subject::new(1, 5, vec![5, 3], values.iter().map(|v| v.to_string()))
    }

    #[test]
    fn mentions_finds_whole_values_only() {
        let s = subject(&["42", "jan@novak.cz", "a\"b"]);
        assert!(s.mentions(br#"{"userId":42,"x":1}"#));
        assert!(!s.mentions(br#"{"count":1425}"#), "inside a longer number");
        assert!(s.mentions(br#"{"email":"mailto:jan@novak.cz"}"#));
        assert!(!s.mentions(br#"{"email":"xjan@novak.cz"}"#));
        assert!(s.mentions(br#"{"userId":"a\"b"}"#), "JSON-escaped");
        assert!(s.mentions(b"cut {\"userId\":\"jan@novak.cz"), "raw bytes cut short");
        assert!(!s.mentions(b""));
        assert!(!subject(&[]).mentions(b"anything"));
        assert_eq!(s.customers, vec![3, 5]);
    }

    #[test]
    fn suppression_refuses_ids_and_raw_literals() {
        let key = b"0123456789abcdef0123456789abcdef";
        let list = SuppressionList::new(key, [suppression_hash(key, "erased-user"), suppression_hash(key, "77")]);
        assert!(list.contains("erased-user") && list.contains("77"));
        assert!(!list.contains("erased-user2") && !list.contains(""));
        assert!(list.refuses_raw(br#"{"userId":"erased-user","event":5}"#));
        assert!(list.refuses_raw(br#"{"userId":77}"#));
        assert!(list.refuses_raw(br#"{"userId":"erased\u002duser"}"#), "escaped in JSON");
        assert!(!list.refuses_raw(br#"[{"userId": " erased-user "}"#), "another id (ids are not trimmed)");
        assert!(!list.refuses_raw(br#"{"userId":"someone","n":770}"#));
        assert!(!list.refuses_raw(b"{\"userId\":\"erased-us"), "cut before the end of the id");
        assert!(!SuppressionList::default().refuses_raw(b"\"erased-user\""));
        assert_eq!(format!("{list:?}"), "SuppressionList(2 ids)");
    }

    #[test]
    fn alias_previous_ids_are_owned() {
        let s = subject(&["old-anon"]);
        let body = r#"{"type":"alias","previousId":"old-anon","userId":"new"}"#;
        assert!(s.owns_event(9, EventType::Alias, Some("new"), None, body));
        assert!(!s.owns_event(9, EventType::Track, Some("new"), None, body));
        assert!(s.owns_event(3, EventType::Track, None, None, "{}"), "a merged customer's");
    }
}
