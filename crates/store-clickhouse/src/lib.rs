//! ClickHouse as Touchpoint's event store: [`ClickHouseEvents`], an [`EventStore`] (and the
//! [`EventHalf`] of `touchpoint-store-postgres`'s `SplitStore`, whose metadata is on
//! PostgreSQL) on one ClickHouse server or several (shards), through their HTTP interface
//! ([`http`]). Chosen by `event_store = "clickhouse://host:8123/database"` in the
//! configuration, or a comma-separated list of such URLs, one per shard.
//!
//! **Shards.** An event goes to the shard its customer hashes to ([`shard_of`]), with its
//! messageId row, so a customer's events lie on one shard (a customer merged into another
//! keeps its own id, so its events may lie on another shard). Reads ask every shard at once
//! and merge the small results in order (by id, by time, sums); failed events and refusal
//! counts live on the first shard; re-classifications are written to every shard, so each
//! maps its own events. The list of shards is fixed once events are stored: adding one
//! would move customers (resharding is not done).
//!
//! **Tables** ([`schema`]): events in a `ReplacingMergeTree` ordered by project, customer
//! and time and partitioned by month; a `(project, messageId) → id` table for dedup;
//! re-classifications as an overlay mapped at query time (history is not rewritten);
//! failed events; refusal counts.
//!
//! **Writes.** Only the writer of one node appends (the group commits of
//! `touchpoint_store::writer`). A write: refuses what the adopted suppression lists name
//! and the events of customers this handle erased; drops repeats within the batch; looks
//! the rest up in `message_ids` (so a repeat of any stored event, however old, answers
//! `None`); gives the new ones ids after the highest stored; inserts the events, then their
//! messageIds, then failed events and refusal counts. An `INSERT` that fails part-way
//! (a server restarted mid-write) leaves events whose messageIds were not recorded: the
//! next write first *reconciles* (records the messageIds of every event above the highest
//! recorded id, and takes the next id from the stored maximum), so the client's retry of
//! the unacknowledged batch finds its stored events and stores only the rest — every
//! acknowledged event once. A shard that is down fails the write the same way (the events
//! of the other shards are stored, the request is not acknowledged, the retry finds them).
//! A row stored twice with the same key by a retried `INSERT` would collapse at the next
//! merge (`ReplacingMergeTree`). Every insert is a data part per shard and table, so the
//! store asks the writer to gather ([`EventHalf::gather`]): one larger group after each
//! commit rather than a small one built beside it.
//!
//! **Copies** (`touchpoint migrate`): [`ClickHouseEvents::copy_in`] stores events with the
//! ids they had, a page at a time, each page checkpointed in `copy_progress`;
//! [`ClickHouseEvents::copy_resume`] takes up a copy cut short (removing the rows above the
//! last checkpoint), and a writer refuses a database whose copy has not finished.
//!
//! **Ids.** Ids grow in the order events were stored (a cursor for the journey index) and
//! are unique because one process allocates them: the engine opens a writer only while
//! it holds a PostgreSQL advisory lock named after the server and database
//! ([`ClickHouseEvents::writer_lock_name`]), so a second node is refused; and a writer
//! that lost the lock while frozen mid-write stores nothing when it runs again, since the
//! servers themselves drop what an older writer sends once a newer one raised the fence
//! ([`schema`]: `writer_fence`, the `…_in` tables). *Not done yet:*
//! several writing nodes (ids from a PostgreSQL sequence and a low watermark for the
//! readers' cursors), a `Distributed` table for hand-written queries, and a SQL executor —
//! the analyses run on the node's in-memory journey index, loaded from ClickHouse.
//!
//! **Erasure.** [`EventStore::erase_subject_events`] deletes the subject's events, their
//! messageIds and re-classifications and the failed events that name the subject with
//! `ALTER TABLE … DELETE` mutations on every shard, waits until each reports them done, and
//! notes the data parts they replace; [`EventHalf::purge_erased`] waits until those parts
//! have left every shard's disk (a few seconds, `old_parts_lifetime`) and says so, shard
//! by shard.

pub mod http;
pub mod schema;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use futures::future::try_join_all;
use http::{number_list, quote, quote_list, ChUrl, Http};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use touchpoint_core::{CustomerId, EventType, ProjectId};
use touchpoint_store::erasure::{EventErasure, PurgeReport, Subject, SuppressionList};
use touchpoint_store::{
    CommitBatch, EventHalf, EventStore, FailedEvent, FailedUsage, Fence, NewEvent, NewFailedEvent, Result, StoreError,
    StoredEvent, VolumeRow,
};

const DAY_MS: i64 = 86_400_000;
/// At most this many bytes of values in one statement's `IN (…)` list (ClickHouse's
/// `max_query_size` is 256 KiB).
const LIST_BYTES: usize = 128 * 1024;
/// How long a mutation or a purge may take before the store gives up waiting.
const MUTATION_WAIT: Duration = Duration::from_secs(600);
const PURGE_WAIT: Duration = Duration::from_secs(90);
/// How long the writer lets answered clients send again before it builds the next group
/// ([`touchpoint_store::Store::gather`]).
const GATHER: Duration = Duration::from_millis(2);

/// How long the guard's answer holds ([`ClickHouseEvents::hold`]): a writer that lost its
/// lock writes nothing this long after it was last seen held.
pub const FENCE_FRESH: Duration = Duration::from_millis(200);

/// The tables an erasure deletes rows from.
const ERASED_TABLES: [&str; 4] = ["events", "message_ids", "reclassified", "failed_events"];

/// How long a writer that raised the fence waits before it reads what is stored: an insert
/// the servers let through the old fence just before (decided as its block arrived)
/// finishes meanwhile, being the servers' own work from then on.
const FENCE_SETTLE: Duration = Duration::from_millis(500);

/// How a handle is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The node's writer: reconciles at open and allocates ids from memory.
    Writer,
    /// Administration beside a running writer (reads, erasure); a write reads the highest
    /// id first.
    Shared,
    /// A copy from an embedded store (`touchpoint migrate`): a writer that may open a
    /// database whose copy has not finished.
    Copy,
}

/// Where a copy into this store stands ([`ClickHouseEvents::copy_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    /// No copy was started here.
    None,
    /// A copy was started; events up to this id are in.
    InProgress(i64),
    /// A copy finished and was verified.
    Done,
}

/// The shard (index into the list of shards) of a customer's events: a fixed mix of its
/// id, so customers spread evenly whatever their ids look like.
pub fn shard_of(customer: CustomerId, shards: usize) -> usize {
    let mut x = customer as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x % shards.max(1) as u64) as usize
}

/// The ClickHouse event store (see the crate documentation).
pub struct ClickHouseEvents {
    /// One client per shard, in the configured order.
    shards: Vec<Http>,
    role: Role,
    state: Mutex<State>,
    erasures: AtomicU64,
    /// What keeps other writers out while this handle lives ([`ClickHouseEvents::hold`]).
    guard: Option<Box<dyn Fence>>,
}

impl std::fmt::Debug for ClickHouseEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&ChUrl> = self.shards.iter().map(|h| &h.url).collect();
        f.debug_struct("ClickHouseEvents").field("shards", &urls).field("role", &self.role).finish()
    }
}

/// What a handle keeps between writes.
#[derive(Debug, Default)]
struct State {
    /// The next event id (writer).
    next_id: i64,
    /// The next failed-event id (writer).
    next_failed: i64,
    /// The last re-classification version given.
    version: u64,
    /// Suppression lists adopted from the metadata store, per project.
    suppression: HashMap<ProjectId, Arc<SuppressionList>>,
    /// Customers this handle erased: their events are refused.
    erased: HashSet<CustomerId>,
    /// A write failed part-way: reconcile before the next.
    reconcile: bool,
    /// The fence epoch this handle writes with ([`schema`]'s `writer_fence`): a writer's
    /// own, raised when it opened; 0 for a shared handle, which reads the newest before
    /// each write.
    epoch: u64,
    /// When the guard last said it was held ([`ClickHouseEvents::hold`]).
    fenced: Option<Instant>,
    /// Data parts (shard, table, name) that erasures replaced and that may still be on disk.
    replaced_parts: Vec<(usize, String, String)>,
}

/// A row of `events`, as written and read.
#[derive(Debug, Serialize, Deserialize)]
struct EventRow {
    project: i64,
    id: i64,
    message_id: String,
    kind: String,
    name: Option<String>,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    customer: i64,
    touchpoint: i64,
    ts: i64,
    received_at: i64,
    flags: u32,
    body: String,
}

impl EventRow {
    fn of(e: &NewEvent, id: i64) -> EventRow {
        let ev = &e.event;
        EventRow {
            project: e.project,
            id,
            message_id: ev.message_id.clone(),
            kind: ev.kind.as_str().to_string(),
            name: ev.name.clone(),
            user_id: ev.user_id.clone(),
            anonymous_id: ev.anonymous_id.clone(),
            customer: e.customer,
            touchpoint: e.touchpoint.unwrap_or(0),
            ts: ev.timestamp,
            received_at: ev.received_at,
            flags: ev.flags.0,
            body: ev.body_json.clone(),
        }
    }

    fn stored(self) -> Result<StoredEvent> {
        let kind = EventType::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event {}: unknown type {:?}", self.id, self.kind)))?;
        Ok(StoredEvent {
            id: self.id,
            project_id: self.project,
            message_id: self.message_id,
            kind,
            name: self.name,
            user_id: self.user_id,
            anonymous_id: self.anonymous_id,
            customer_id: self.customer,
            touchpoint_id: (self.touchpoint != 0).then_some(self.touchpoint),
            timestamp: self.ts,
            received_at: self.received_at,
            flags: self.flags,
            body: self.body,
        })
    }
}

/// A row of `failed_events`.
#[derive(Debug, Serialize, Deserialize)]
struct FailedRow {
    project: i64,
    id: i64,
    received_at: i64,
    source: String,
    field: String,
    reason: String,
    raw_hex: String,
    raw_len: u64,
}

impl FailedRow {
    fn failed(self) -> Result<FailedEvent> {
        let raw = hex::decode(&self.raw_hex)
            .map_err(|e| StoreError::Corrupt(format!("failed event {}: raw bytes: {e}", self.id)))?;
        Ok(FailedEvent {
            id: self.id,
            event: NewFailedEvent {
                project: self.project,
                received_at: self.received_at,
                source: self.source,
                field: self.field,
                reason: self.reason,
                raw,
            },
        })
    }
}

#[derive(Deserialize)]
struct MessageIdRow {
    message_id: String,
}

#[derive(Serialize)]
struct NewMessageId<'a> {
    project: i64,
    message_id: &'a str,
    id: i64,
}

#[derive(Deserialize)]
struct One {
    n: i64,
}

/// The columns of [`EventRow`], in order.
const EVENT_COLUMNS: &str =
    "project, id, message_id, kind, name, user_id, anonymous_id, customer, touchpoint, ts, received_at, flags, body";

/// A row on its way through the fence: its columns and the writer's epoch.
#[derive(Serialize)]
struct Fenced<'a, T> {
    #[serde(flatten)]
    row: &'a T,
    writer: u64,
}

/// `rows` with the writer's epoch.
fn fenced<T>(rows: &[T], writer: u64) -> Vec<Fenced<'_, T>> {
    rows.iter().map(|row| Fenced { row, writer }).collect()
}

/// Split values into lists of at most [`LIST_BYTES`] when written out.
fn chunks_by_size<T>(values: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = vec![];
    let (mut start, mut bytes) = (0, 0);
    for (i, v) in values.iter().enumerate() {
        let n = size(v) + 4;
        if bytes + n > LIST_BYTES && i > start {
            out.push(&values[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < values.len() {
        out.push(&values[start..]);
    }
    out
}

impl ClickHouseEvents {
    /// Connect to the servers a URL (or a comma-separated list of URLs, one per shard)
    /// names ([`ChUrl::parse`]), make the database and the tables where missing and, for
    /// the writer, reconcile what a write cut short left.
    pub async fn open(url: &str, role: Role) -> Result<ClickHouseEvents> {
        let shards = http::parse_shards(url)?.into_iter().map(Http::new).collect::<Result<Vec<Http>>>()?;
        try_join_all(shards.iter().map(|h| async move {
            h.exec_server(&format!("CREATE DATABASE IF NOT EXISTS {}", h.url.database)).await?;
            for sql in schema::create_tables() {
                h.exec(&sql).await?;
            }
            Ok::<_, StoreError>(())
        }))
        .await?;
        let store = ClickHouseEvents {
            shards,
            role,
            state: Mutex::new(State::default()),
            erasures: AtomicU64::new(0),
            guard: None,
        };
        if role == Role::Writer {
            if let CopyState::InProgress(_) = store.copy_state().await? {
                return Err(StoreError::Locked(
                    "a migration into these stores has not finished; run `touchpoint migrate` again to finish it"
                        .into(),
                ));
            }
        }
        {
            let mut state = store.state.lock().await;
            if role != Role::Shared {
                state.epoch = store.raise_fence().await?;
            }
            store.reconcile(&mut state).await?;
            let versions = store.numbers("SELECT toInt64(max(version)) AS n FROM reclassified").await?;
            state.version = versions.into_iter().max().unwrap_or(0) as u64;
        }
        Ok(store)
    }

    /// Put a new epoch in the fence on every shard: from now on the servers store nothing
    /// a writer with an older one sends, even an insert already on its way (see
    /// [`schema`]); then let what got through just before settle. The new epoch.
    async fn raise_fence(&self) -> Result<u64> {
        let newest = self.fence_epoch().await?;
        let epoch = newest + 1;
        let sql = format!("INSERT INTO writer_fence VALUES ({epoch})");
        try_join_all(self.shards.iter().map(|h| h.exec(&sql))).await?;
        if newest > 0 {
            tokio::time::sleep(FENCE_SETTLE).await;
        }
        Ok(epoch)
    }

    /// The newest epoch in the fence on any shard (0: none yet).
    async fn fence_epoch(&self) -> Result<u64> {
        let newest = self.numbers("SELECT toInt64(max(epoch)) AS n FROM writer_fence").await?;
        Ok(newest.into_iter().max().unwrap_or(0) as u64)
    }

    /// Keep `guard` (a lock that keeps other writers out) for as long as this handle lives,
    /// and write only while it is held: asked before a write when it last answered more
    /// than [`FENCE_FRESH`] ago.
    pub fn hold(mut self, guard: Box<dyn Fence>) -> ClickHouseEvents {
        self.guard = Some(guard);
        self
    }

    /// The name of the lock a writer of these shards holds: the first shard's server and
    /// database (a shard belongs to one list).
    pub fn writer_lock_name(&self) -> String {
        format!("clickhouse-writer {} {}", self.shards[0].url.base, self.shards[0].url.database)
    }

    /// Where the first shard is (for messages; no password).
    pub fn url(&self) -> &ChUrl {
        &self.shards[0].url
    }

    /// The shards' clients, in order (tests look at the tables with them).
    pub fn shards(&self) -> &[Http] {
        &self.shards
    }

    /// The first shard's client (tests look at the tables with it).
    pub fn http(&self) -> &Http {
        &self.shards[0]
    }

    /// Run a `SELECT` on every shard at once; the rows of all.
    async fn rows_all<T: DeserializeOwned + Send>(&self, sql: &str) -> Result<Vec<T>> {
        let parts = try_join_all(self.shards.iter().map(|h| h.rows::<T>(sql))).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// Run a `SELECT … AS n` on every shard at once; each shard's number.
    async fn numbers(&self, sql: &str) -> Result<Vec<i64>> {
        Ok(self.rows_all::<One>(sql).await?.into_iter().map(|r| r.n).collect())
    }

    /// Record, on every shard, the messageIds of stored events whose ids are above the
    /// highest recorded there, and take the next ids from what is stored (see the crate
    /// documentation).
    async fn reconcile(&self, state: &mut State) -> Result<()> {
        if self.role != Role::Shared {
            try_join_all(self.shards.iter().map(|h| {
                h.exec(
                    "INSERT INTO message_ids SELECT project, message_id, id FROM events
                     WHERE id > (SELECT max(id) FROM message_ids)",
                )
            }))
            .await?;
        }
        state.next_id = self.numbers("SELECT max(id) AS n FROM events").await?.into_iter().max().unwrap_or(0) + 1;
        state.next_failed = self.shards[0].number("SELECT max(id) AS n FROM failed_events").await? + 1;
        state.reconcile = false;
        Ok(())
    }

    /// The messageIds among `ids` that a project has stored (on any shard: a customer
    /// merged since may have sent the first copy under its old id).
    async fn stored_message_ids(&self, project: ProjectId, ids: &[&str]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in chunks_by_size(ids, |s| s.len()) {
            let rows: Vec<MessageIdRow> = self
                .rows_all(&format!(
                    "SELECT message_id FROM message_ids WHERE project = {project} AND message_id IN ({})",
                    quote_list(chunk.iter().copied())
                ))
                .await?;
            found.extend(rows.into_iter().map(|r| r.message_id));
        }
        Ok(found)
    }

    async fn append(
        &self,
        state: &mut State,
        events: &[NewEvent],
        failed: &[NewFailedEvent],
    ) -> Result<Vec<Option<i64>>> {
        if let Some(guard) = &self.guard {
            if state.fenced.is_none_or(|t| t.elapsed() > FENCE_FRESH) {
                if !guard.held().await {
                    return Err(StoreError::Locked(
                        "this node lost its writer lock (its PostgreSQL session ended); another node writes now".into(),
                    ));
                }
                state.fenced = Some(Instant::now());
            }
        }
        if state.reconcile || self.role == Role::Shared {
            self.reconcile(state).await?;
        }
        // Refusals (suppression lists, erased customers), counted per project.
        let mut refused_counts: HashMap<ProjectId, u64> = HashMap::new();
        let list = |state: &State, project: ProjectId| state.suppression.get(&project).cloned();
        let mut candidate = vec![false; events.len()];
        let mut in_batch: HashSet<(ProjectId, &str)> = HashSet::new();
        for (i, e) in events.iter().enumerate() {
            let suppressed = list(state, e.project).is_some_and(|l| l.refuses_event(&e.event));
            if suppressed || state.erased.contains(&e.customer) {
                *refused_counts.entry(e.project).or_default() += 1;
            } else if in_batch.insert((e.project, e.event.message_id.as_str())) {
                candidate[i] = true;
            }
        }
        let kept_failed: Vec<&NewFailedEvent> = failed
            .iter()
            .filter(|f| {
                let refused = list(state, f.project).is_some_and(|l| l.refuses_raw(&f.raw));
                if refused {
                    *refused_counts.entry(f.project).or_default() += 1;
                }
                !refused
            })
            .collect();
        // Dedup against what is stored.
        let mut by_project: BTreeMap<ProjectId, Vec<&str>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            if candidate[i] {
                by_project.entry(e.project).or_default().push(&e.event.message_id);
            }
        }
        let mut stored: HashMap<ProjectId, HashSet<String>> = HashMap::new();
        for (project, ids) in &by_project {
            stored.insert(*project, self.stored_message_ids(*project, ids).await?);
        }
        let mut out = vec![None; events.len()];
        let mut rows: Vec<Vec<EventRow>> = (0..self.shards.len()).map(|_| vec![]).collect();
        let mut next = state.next_id;
        for (i, e) in events.iter().enumerate() {
            if candidate[i] && !stored.get(&e.project).is_some_and(|s| s.contains(&e.event.message_id)) {
                out[i] = Some(next);
                rows[shard_of(e.customer, self.shards.len())].push(EventRow::of(e, next));
                next += 1;
            }
        }
        let failed_rows: Vec<FailedRow> = kept_failed
            .iter()
            .enumerate()
            .map(|(k, f)| FailedRow {
                project: f.project,
                id: state.next_failed + k as i64,
                received_at: f.received_at,
                source: f.source.clone(),
                field: f.field.clone(),
                reason: f.reason.clone(),
                raw_hex: hex::encode(&f.raw),
                raw_len: f.raw.len() as u64,
            })
            .collect();
        if let Err(e) = self.write(state, &rows, &failed_rows, &refused_counts).await {
            state.reconcile = true;
            return Err(e);
        }
        state.next_id = next;
        state.next_failed += failed_rows.len() as i64;
        Ok(out)
    }

    /// The inserts of one write, through the fence with the handle's epoch (a shared
    /// handle's: the newest): on each shard (at once) its events, then their messageIds;
    /// then, on the first shard, failed events and refusal counts. A newer epoch in the
    /// fence after them means another writer took over meanwhile and the servers may have
    /// dropped any of it: refused, so nothing of it is acknowledged.
    async fn write(
        &self,
        state: &State,
        rows: &[Vec<EventRow>],
        failed: &[FailedRow],
        refused: &HashMap<ProjectId, u64>,
    ) -> Result<()> {
        // Nothing new (a retried batch, every event found): nothing to write or to fence.
        if rows.iter().all(Vec::is_empty) && failed.is_empty() && refused.is_empty() {
            return Ok(());
        }
        let epoch = self.write_epoch(state).await?;
        try_join_all(self.shards.iter().zip(rows).map(|(h, rows)| async move {
            h.insert("events_in", &fenced(rows, epoch)).await?;
            let ids: Vec<NewMessageId<'_>> =
                rows.iter().map(|r| NewMessageId { project: r.project, message_id: &r.message_id, id: r.id }).collect();
            h.insert("message_ids_in", &fenced(&ids, epoch)).await
        }))
        .await?;
        let first = &self.shards[0];
        first.insert("failed_events_in", &fenced(failed, epoch)).await?;
        #[derive(Serialize)]
        struct Refused {
            project: i64,
            n: u64,
        }
        let refused: Vec<Refused> = refused.iter().map(|(&project, &n)| Refused { project, n }).collect();
        first.insert("refused_in", &fenced(&refused, epoch)).await?;
        self.still_fenced_in(epoch).await
    }

    /// The epoch this handle's writes go through the fence with: its own, or a shared
    /// handle's, the newest.
    async fn write_epoch(&self, state: &State) -> Result<u64> {
        match state.epoch {
            0 => self.fence_epoch().await,
            e => Ok(e),
        }
    }

    /// After inserts through the fence with `epoch`: refused when a newer epoch is in the
    /// fence, as the servers may have dropped any of them.
    async fn still_fenced_in(&self, epoch: u64) -> Result<()> {
        if self.fence_epoch().await? > epoch {
            return Err(StoreError::Locked(
                "another node took over writing events while this one was writing (it was stopped or cut off); \
                 nothing of this write is acknowledged"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Events read through [`schema::events_view`] on every shard, merged by `order` and
    /// cut at `limit`.
    async fn events_where(&self, filter: &str, order: Order, limit: usize) -> Result<Vec<StoredEvent>> {
        let tail = match order {
            Order::IdAsc => format!("ORDER BY id LIMIT {limit}"),
            Order::IdDesc => format!("ORDER BY id DESC LIMIT {limit}"),
            Order::TimeDesc => format!("ORDER BY ts DESC, id DESC LIMIT {limit}"),
        };
        let rows: Vec<EventRow> =
            self.rows_all(&format!("SELECT {EVENT_COLUMNS} FROM {} {tail}", schema::events_view(filter))).await?;
        let mut events = rows.into_iter().map(EventRow::stored).collect::<Result<Vec<_>>>()?;
        match order {
            Order::IdAsc => events.sort_by_key(|e| e.id),
            Order::IdDesc => events.sort_by_key(|e| std::cmp::Reverse(e.id)),
            Order::TimeDesc => events.sort_by_key(|e| std::cmp::Reverse((e.timestamp, e.id))),
        }
        events.truncate(limit);
        Ok(events)
    }

    /// Wait until every mutation of the store's database is done on every shard.
    async fn wait_for_mutations(&self) -> Result<()> {
        let started = Instant::now();
        for h in &self.shards {
            let sql = format!(
                "SELECT count() AS n FROM system.mutations WHERE database = {} AND is_done = 0",
                quote(&h.url.database)
            );
            while h.number(&sql).await? > 0 {
                if started.elapsed() > MUTATION_WAIT {
                    return Err(StoreError::Backend(format!(
                        "ClickHouse at {} has not finished deleting after {} s (see system.mutations)",
                        h.url.base,
                        MUTATION_WAIT.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The data parts (shard, table, name) of the tables an erasure rewrites, active or not
    /// (the others, `writer_fence` among them, keep theirs).
    async fn parts(&self) -> Result<Vec<(usize, String, String)>> {
        #[derive(Deserialize)]
        struct Part {
            table: String,
            name: String,
        }
        let per_shard = try_join_all(self.shards.iter().map(|h| async move {
            let sql = format!(
                "SELECT table, name FROM system.parts WHERE database = {} AND table IN ({})",
                quote(&h.url.database),
                quote_list(ERASED_TABLES)
            );
            h.rows::<Part>(&sql).await
        }))
        .await?;
        Ok(per_shard
            .into_iter()
            .enumerate()
            .flat_map(|(i, parts)| parts.into_iter().map(move |p| (i, p.table, p.name)))
            .collect())
    }

    /// Run `ALTER TABLE table DELETE WHERE filter id IN (…)` over `ids` in chunks, on the
    /// given shards; how many mutations.
    async fn delete_ids(&self, shards: &[usize], table: &str, filter: &str, ids: &[i64]) -> Result<u64> {
        let mut mutations = 0;
        for chunk in chunks_by_size(ids, |_| 20) {
            let sql =
                format!("ALTER TABLE {table} DELETE WHERE {filter} id IN ({})", number_list(chunk.iter().copied()));
            try_join_all(shards.iter().map(|&i| self.shards[i].exec(&sql))).await?;
            mutations += shards.len() as u64;
        }
        Ok(mutations)
    }

    /// The highest stored event id on any shard (0 without events): where a copy
    /// ([`ClickHouseEvents::copy_in`]) resumes.
    pub async fn max_event_id(&self) -> Result<i64> {
        Ok(self.numbers("SELECT max(id) AS n FROM events").await?.into_iter().max().unwrap_or(0))
    }

    /// The highest stored failed-event id (0 without any).
    pub async fn max_failed_id(&self) -> Result<i64> {
        self.shards[0].number("SELECT max(id) AS n FROM failed_events").await
    }

    /// Store events copied from another store as they are there — same ids, customers,
    /// touchpoints — each on its customer's shard, with its messageId for dedup
    /// (`touchpoint migrate`). The events must be new here and in id order, and no writer
    /// may run meanwhile; the next write takes its ids after them.
    pub async fn copy_in(&self, events: &[StoredEvent]) -> Result<()> {
        let mut rows: Vec<Vec<EventRow>> = (0..self.shards.len()).map(|_| vec![]).collect();
        for e in events {
            rows[shard_of(e.customer_id, self.shards.len())].push(EventRow {
                project: e.project_id,
                id: e.id,
                message_id: e.message_id.clone(),
                kind: e.kind.as_str().to_string(),
                name: e.name.clone(),
                user_id: e.user_id.clone(),
                anonymous_id: e.anonymous_id.clone(),
                customer: e.customer_id,
                touchpoint: e.touchpoint_id.unwrap_or(0),
                ts: e.timestamp,
                received_at: e.received_at,
                flags: e.flags,
                body: e.body.clone(),
            });
        }
        let mut state = self.state.lock().await;
        if let Err(e) = self.write(&state, &rows, &[], &HashMap::new()).await {
            state.reconcile = true;
            return Err(e);
        }
        let upto = events.iter().map(|e| e.id).max().unwrap_or(0);
        self.checkpoint(upto).await?;
        state.next_id = state.next_id.max(upto + 1);
        Ok(())
    }

    async fn checkpoint(&self, upto: i64) -> Result<()> {
        #[derive(Serialize)]
        struct Checkpoint {
            upto: i64,
        }
        self.shards[0].insert("copy_progress", &[Checkpoint { upto }]).await
    }

    /// Where a copy into this store stands.
    pub async fn copy_state(&self) -> Result<CopyState> {
        #[derive(Deserialize)]
        struct Progress {
            n: u64,
            upto: i64,
        }
        let rows: Vec<Progress> =
            self.shards[0].rows("SELECT count() AS n, max(upto) AS upto FROM copy_progress").await?;
        Ok(match rows.first() {
            Some(p) if p.n == 0 => CopyState::None,
            Some(p) if p.upto == i64::MAX => CopyState::Done,
            Some(p) => CopyState::InProgress(p.upto),
            None => CopyState::None,
        })
    }

    /// Start a copy, or take up one cut short: the rows a page being written left above
    /// the last checkpoint are removed (on every shard), and the copy goes on after it;
    /// returns the last id copied (0 for a new copy). A new copy needs a database without
    /// events.
    pub async fn copy_resume(&self) -> Result<i64> {
        match self.copy_state().await? {
            CopyState::Done => Err(StoreError::Exists("a finished copy in this ClickHouse database".into())),
            CopyState::None => {
                if self.max_event_id().await? > 0 {
                    return Err(StoreError::Exists(
                        "events in this ClickHouse database (not from a migration); migrate into an empty one".into(),
                    ));
                }
                self.checkpoint(0).await?;
                Ok(0)
            }
            CopyState::InProgress(upto) => {
                if self.max_event_id().await? > upto {
                    let sql = |t: &str| format!("ALTER TABLE {t} DELETE WHERE id > {upto}");
                    try_join_all(self.shards.iter().map(|h| async move {
                        h.exec(&sql("events")).await?;
                        h.exec(&sql("message_ids")).await
                    }))
                    .await?;
                    self.wait_for_mutations().await?;
                }
                let mut state = self.state.lock().await;
                self.reconcile(&mut state).await?;
                Ok(upto)
            }
        }
    }

    /// Mark the copy finished (after it was verified): writers may open the database.
    pub async fn copy_finish(&self) -> Result<()> {
        self.checkpoint(i64::MAX).await
    }

    /// Store failed events copied from another store, with their ids (see
    /// [`ClickHouseEvents::copy_in`]).
    pub async fn copy_failed_in(&self, failed: &[FailedEvent]) -> Result<()> {
        let rows: Vec<FailedRow> = failed
            .iter()
            .map(|f| FailedRow {
                project: f.event.project,
                id: f.id,
                received_at: f.event.received_at,
                source: f.event.source.clone(),
                field: f.event.field.clone(),
                reason: f.event.reason.clone(),
                raw_hex: hex::encode(&f.event.raw),
                raw_len: f.event.raw.len() as u64,
            })
            .collect();
        let mut state = self.state.lock().await;
        self.shards[0].insert("failed_events", &rows).await?;
        state.next_failed = state.next_failed.max(failed.iter().map(|f| f.id + 1).max().unwrap_or(0));
        Ok(())
    }

    /// Every shard's index.
    fn all(&self) -> Vec<usize> {
        (0..self.shards.len()).collect()
    }
}

/// How [`ClickHouseEvents::events_where`] orders what it merges.
#[derive(Debug, Clone, Copy)]
enum Order {
    IdAsc,
    IdDesc,
    TimeDesc,
}

#[async_trait]
impl EventStore for ClickHouseEvents {
    async fn append_events(&self, events: &[NewEvent], failed: &[NewFailedEvent]) -> Result<Vec<Option<i64>>> {
        let mut state = self.state.lock().await;
        self.append(&mut state, events, failed).await
    }

    async fn scan_events(&self, project: Option<ProjectId>, after_id: i64, limit: usize) -> Result<Vec<StoredEvent>> {
        let filter = match project {
            Some(p) => format!("project = {p} AND id > {after_id}"),
            None => format!("id > {after_id}"),
        };
        self.events_where(&filter, Order::IdAsc, limit).await
    }

    async fn recent_events(&self, project: ProjectId, limit: usize) -> Result<Vec<StoredEvent>> {
        self.events_where(&format!("project = {project}"), Order::IdDesc, limit).await
    }

    async fn customer_events(
        &self,
        customers: &[CustomerId],
        before: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        if customers.is_empty() {
            return Ok(vec![]);
        }
        let mut filter = format!("customer IN ({})", number_list(customers.iter().copied()));
        if let Some((ts, id)) = before {
            filter.push_str(&format!(" AND (ts < {ts} OR (ts = {ts} AND id < {id}))"));
        }
        self.events_where(&filter, Order::TimeDesc, limit).await
    }

    async fn scan_points(
        &self,
        project: ProjectId,
        after_id: i64,
        upto_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, CustomerId, i64, i64)>> {
        #[derive(Deserialize)]
        struct Point {
            id: i64,
            customer: i64,
            ts: i64,
            touchpoint: i64,
        }
        let mut filter = format!("project = {project} AND id > {after_id}");
        if let Some(upto) = upto_id {
            filter.push_str(&format!(" AND id <= {upto}"));
        }
        let rows: Vec<Point> = self
            .rows_all(&format!(
                "SELECT id, customer, ts, touchpoint FROM {} WHERE touchpoint != 0 ORDER BY id LIMIT {limit}",
                schema::points_view(&filter)
            ))
            .await?;
        let mut points: Vec<_> = rows.into_iter().map(|p| (p.id, p.customer, p.ts, p.touchpoint)).collect();
        points.sort_by_key(|p| p.0);
        points.truncate(limit);
        Ok(points)
    }

    async fn event_id_range(&self, project: ProjectId) -> Result<Option<(i64, i64)>> {
        #[derive(Deserialize)]
        struct Range {
            lo: i64,
            hi: i64,
            n: u64,
        }
        let rows: Vec<Range> = self
            .rows_all(&format!(
                "SELECT min(id) AS lo, max(id) AS hi, count() AS n FROM events WHERE project = {project}"
            ))
            .await?;
        Ok(rows.iter().filter(|r| r.n > 0).fold(None, |acc, r| match acc {
            None => Some((r.lo, r.hi)),
            Some((lo, hi)) => Some((r.lo.min(lo), r.hi.max(hi))),
        }))
    }

    async fn count_events(&self, project: ProjectId) -> Result<i64> {
        Ok(self
            .numbers(&format!("SELECT toInt64(count()) AS n FROM events WHERE project = {project}"))
            .await?
            .iter()
            .sum())
    }

    async fn failed_events(
        &self,
        project: ProjectId,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FailedEvent>> {
        let before = before_id.unwrap_or(i64::MAX);
        let rows: Vec<FailedRow> = self.shards[0]
            .rows(&format!(
                "SELECT * FROM failed_events WHERE project = {project} AND id < {before} ORDER BY id DESC LIMIT {limit}"
            ))
            .await?;
        rows.into_iter().map(FailedRow::failed).collect()
    }

    async fn failed_usage(&self, project: ProjectId) -> Result<FailedUsage> {
        #[derive(Deserialize)]
        struct Usage {
            events: u64,
            bytes: u64,
        }
        let rows: Vec<Usage> = self.shards[0]
            .rows(&format!(
                "SELECT count() AS events, sum(raw_len) AS bytes FROM failed_events WHERE project = {project}"
            ))
            .await?;
        Ok(rows.first().map(|u| FailedUsage { events: u.events, bytes: u.bytes }).unwrap_or_default())
    }

    async fn clear_failed_events(&self, project: ProjectId) -> Result<u64> {
        let first = &self.shards[0];
        let n =
            first.number(&format!("SELECT toInt64(count()) AS n FROM failed_events WHERE project = {project}")).await?;
        if n > 0 {
            first.exec(&format!("ALTER TABLE failed_events DELETE WHERE project = {project}")).await?;
            self.wait_for_mutations().await?;
        }
        Ok(n as u64)
    }

    async fn set_touchpoints(&self, updates: &[(i64, Option<i64>)]) -> Result<()> {
        #[derive(Serialize)]
        struct Reclassified {
            id: i64,
            touchpoint: i64,
            version: u64,
        }
        let mut state = self.state.lock().await;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let first = now.max(state.version + 1);
        let rows: Vec<Reclassified> = updates
            .iter()
            .enumerate()
            .map(|(k, &(id, tp))| Reclassified { id, touchpoint: tp.unwrap_or(0), version: first + k as u64 })
            .collect();
        // Every shard maps its own events; an id of another shard's event matches nothing.
        // Through the fence: a writer frozen while another took over and re-classified
        // must not put its older rules' touchpoints over the newer ones (its versions,
        // taken from its clock when it runs again, would be the newest).
        let epoch = self.write_epoch(&state).await?;
        let rows = fenced(&rows, epoch);
        try_join_all(self.shards.iter().map(|h| h.insert("reclassified_in", &rows))).await?;
        self.still_fenced_in(epoch).await?;
        state.version = first + rows.len() as u64;
        Ok(())
    }

    async fn rebuild_volume(&self, _project: ProjectId) -> Result<()> {
        // Volumes are counted from the events when asked for: nothing to rebuild.
        Ok(())
    }

    async fn daily_volume(&self, project: ProjectId, from_day: i64, to_day: i64) -> Result<Vec<VolumeRow>> {
        let (from_ms, to_ms) = (from_day.saturating_mul(DAY_MS), to_day.saturating_add(1).saturating_mul(DAY_MS));
        let rows: Vec<VolumeRow> = self
            .rows_all(&format!(
                "SELECT intDiv(ts - if(ts < 0, {last}, 0), {DAY_MS}) AS day, touchpoint AS touchpoint_id,
                        toInt64(count()) AS events
                 FROM {} GROUP BY day, touchpoint_id",
                schema::events_view(&format!("project = {project} AND ts >= {from_ms} AND ts < {to_ms}")),
                last = DAY_MS - 1,
            ))
            .await?;
        let mut sums: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for r in rows {
            *sums.entry((r.day, r.touchpoint_id)).or_default() += r.events;
        }
        Ok(sums.into_iter().map(|((day, touchpoint_id), events)| VolumeRow { day, touchpoint_id, events }).collect())
    }

    async fn subject_events(&self, subject: &Subject) -> Result<Vec<StoredEvent>> {
        let mut any = vec![format!("customer IN ({})", number_list(subject.customers.iter().copied()))];
        if !subject.values.is_empty() {
            let values = quote_list(subject.values.iter().map(String::as_str));
            any.push(format!("user_id IN ({values}) OR anonymous_id IN ({values})"));
        }
        any.push(format!("kind = {}", quote(EventType::Alias.as_str())));
        let filter = format!("project = {} AND ({})", subject.project, any.join(" OR "));
        let events = self.events_where(&filter, Order::IdAsc, usize::MAX).await?;
        Ok(events.into_iter().filter(|e| subject.owns(e)).collect())
    }

    async fn subject_failed_events(&self, subject: &Subject) -> Result<Vec<FailedEvent>> {
        let rows: Vec<FailedRow> = self.shards[0]
            .rows(&format!("SELECT * FROM failed_events WHERE project = {} ORDER BY id", subject.project))
            .await?;
        let mut out = vec![];
        for r in rows {
            let f = r.failed()?;
            if subject.mentions(&f.event.raw) {
                out.push(f);
            }
        }
        Ok(out)
    }

    async fn erase_subject_events(&self, subject: &Subject) -> Result<EventErasure> {
        // From here on this handle's writes refuse the subject's events; a write that
        // finished before is in what the reads below find.
        self.state.lock().await.erased.extend(subject.customers.iter().copied());
        let before = self.parts().await?;
        let events: Vec<i64> = self.subject_events(subject).await?.iter().map(|e| e.id).collect();
        let failed: Vec<i64> = self.subject_failed_events(subject).await?.iter().map(|f| f.id).collect();
        let in_project = format!("project = {} AND", subject.project);
        let all = self.all();
        let mut mutations = 0;
        let [events_table, message_ids, reclassified, failed_events] = ERASED_TABLES;
        mutations += self.delete_ids(&all, events_table, &in_project, &events).await?;
        mutations += self.delete_ids(&all, message_ids, &in_project, &events).await?;
        mutations += self.delete_ids(&all, reclassified, "", &events).await?;
        mutations += self.delete_ids(&[0], failed_events, &in_project, &failed).await?;
        self.wait_for_mutations().await?;
        if mutations > 0 {
            self.state.lock().await.replaced_parts.extend(before);
        }
        self.erasures.fetch_add(1, Ordering::SeqCst);
        Ok(EventErasure {
            events: events.len() as u64,
            segments_rewritten: mutations,
            failed_events: failed.len() as u64,
        })
    }
}

#[async_trait]
impl EventHalf for ClickHouseEvents {
    async fn commit_events(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        self.append_events(&batch.events, &batch.failed).await
    }

    async fn adopt_suppression(&self, project: ProjectId, key: &[u8], hashes: &[[u8; 32]]) -> Result<()> {
        let list = SuppressionList::new(key, hashes.iter().copied());
        self.state.lock().await.suppression.insert(project, Arc::new(list));
        Ok(())
    }

    fn writer_lock(&self) -> Option<String> {
        (self.role == Role::Shared).then(|| self.writer_lock_name())
    }

    async fn refused_events(&self, project: ProjectId) -> Result<u64> {
        let sql = format!("SELECT toInt64(sum(n)) AS n FROM refused WHERE project = {project}");
        Ok(self.shards[0].number(&sql).await? as u64)
    }

    async fn purge_erased(&self) -> Result<PurgeReport> {
        self.wait_for_mutations().await?;
        let replaced: HashSet<(usize, String, String)> =
            std::mem::take(&mut self.state.lock().await.replaced_parts).into_iter().collect();
        let name = |i: usize| {
            format!("ClickHouse shard {} ({}/{})", i + 1, self.shards[i].url.base, self.shards[i].url.database)
        };
        let mut steps: Vec<String> =
            (0..self.shards.len()).map(|i| format!("{}: every mutation done", name(i))).collect();
        let started = Instant::now();
        loop {
            let left: Vec<(usize, String, String)> =
                self.parts().await?.into_iter().filter(|p| replaced.contains(p)).collect();
            if left.is_empty() {
                for i in 0..self.shards.len() {
                    let n = replaced.iter().filter(|p| p.0 == i).count();
                    steps.push(format!("{}: {n} replaced data parts removed from disk", name(i)));
                }
                return Ok(PurgeReport { purged: true, steps });
            }
            if started.elapsed() > PURGE_WAIT {
                for i in 0..self.shards.len() {
                    let n = left.iter().filter(|p| p.0 == i).count();
                    steps.push(format!(
                        "{}: {n} replaced data parts still on disk after {} s (ClickHouse removes them after \
                         old_parts_lifetime)",
                        name(i),
                        PURGE_WAIT.as_secs()
                    ));
                }
                self.state.lock().await.replaced_parts.extend(left);
                return Ok(PurgeReport { purged: false, steps });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::SeqCst)
    }

    fn gather(&self) -> Option<Duration> {
        // Every insert is a data part per shard and table: fewer, larger ones.
        Some(GATHER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_spread_over_the_shards_and_stay_put() {
        for shards in [1, 2, 3, 5] {
            let mut counts = vec![0usize; shards];
            for c in 1..=10_000 {
                let s = shard_of(c, shards);
                assert_eq!(s, shard_of(c, shards), "stable");
                counts[s] += 1;
            }
            let even = 10_000 / shards;
            assert!(counts.iter().all(|&n| n.abs_diff(even) < even / 10), "{shards} shards: {counts:?}");
        }
        assert_eq!(shard_of(42, 0), 0, "no shards is one");
    }
}
