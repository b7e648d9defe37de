//! [`EventStore`] for the embedded SQLite store: events in segments ([`crate::segment`]),
//! one row per up to [`SEGMENT_EVENTS`] events of a project, plus a timeline index of which
//! segments hold a customer's events, in the same file and the same transactions as the
//! rest of the store — so crash safety is SQLite's.
//!
//! Dedup by `(project, messageId)` uses the stored 128-bit hashes: the [`Appender`] holds
//! them in memory (20–40 bytes per remembered event) and catches up whenever the file has
//! segments it has not seen, so a store never trusts a stale set. A write adds its hashes
//! at once and takes them back if its transaction does not commit.
//!
//! **What dedup guarantees.** With a window of `W` events ([`SqliteOptions::dedup_window`],
//! the server's default 2 M per project), a repeat of any of a project's last `W` stored
//! events is never stored twice: the appender keeps two generations of at most `W` hashes
//! each (memory bounded by `2 W` hashes per project, whatever the store holds), loads the
//! newest segments' hashes when the store opens (so the first write after a restart does
//! not wait for them) and drops the older generation when the newer one is full. Without a
//! window (`None`: `touchpoint import`), every stored event is remembered, so importing
//! the same file twice never stores anything twice however large the store.
//!
//!
//! **Erasure.** An erased event leaves an empty slot in its segment (see [`crate::segment`]):
//! every reader here skips such slots, the `events` column counts only the others, and the
//! dedup set never holds their hashes. A write refuses events and failed events that name
//! a suppressed identity value ([`touchpoint_store::erasure::SuppressionList`], cached per project and
//! read again whenever the file's lists change) or belong to a customer this handle erased.
//!
//! [`SqliteOptions::dedup_window`]: crate::sqlite::SqliteOptions::dedup_window

use crate::error::Db;
use crate::segment::{
    self, decode_event, message_hash, unpack, HashSet128, Points, Row, SegmentBuilder, SEGMENT_EVENTS,
};
use crate::sqlite::{with_raw, SqliteStore};
use crate::sqlite_erasure;
use crate::sqlite_erasure::{count_refused_raw, state, suppression_list_raw, SUPPRESSION_VERSION};
use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::{Row as _, SqlitePool};
use std::collections::HashMap;
use touchpoint_core::{CustomerId, EventType, ProjectId};
use touchpoint_store::erasure::{EventErasure, Subject, SuppressionList};
use touchpoint_store::{
    EventStore, FailedEvent, FailedUsage, NewEvent, NewFailedEvent, Result, StoreError, StoredEvent, VolumeRow,
};

pub(crate) const DAY_MS: i64 = 86_400_000;

/// The messageId hashes a project's dedup remembers: two generations, the newer one of at
/// most `window` hashes, so together they hold at least the last `window` hashes added.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    current: HashSet128,
    previous: HashSet128,
}

impl Recent {
    /// Add a hash; false when it is remembered already.
    fn insert(&mut self, h: u128, window: usize) -> bool {
        if self.previous.contains(&h) || self.current.contains(&h) {
            return false;
        }
        if self.current.len() >= window {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(h)
    }

    pub(crate) fn remove(&mut self, h: &u128) {
        self.current.remove(h);
        self.previous.remove(h);
    }

    /// Hashes remembered.
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// What appending events needs to know about the events stored already.
#[derive(Debug, Default)]
pub(crate) struct Appender {
    /// The highest segment id whose hashes were looked at (0: none loaded yet).
    upto: i64,
    /// Whether the newest hashes of every project have been loaded.
    loaded: bool,
    /// How many of a project's most recent events dedup must remember (`None`: all).
    pub(crate) window: Option<usize>,
    /// messageId hashes of the most recent stored events, per project (looked up once per event).
    pub(crate) seen: foldhash::HashMap<ProjectId, Recent>,
    /// Buffers for encoding segments, kept from one write to the next (fresh buffers of
    /// a few hundred KiB each time cost the kernel more in zeroed pages than the copying).
    scratch: Scratch,
    /// Customers this handle erased: events attributed to them are refused and identity
    /// changes naming them dropped (a writer that has not reloaded its graph yet).
    pub(crate) erased: std::collections::HashSet<CustomerId>,
    /// Suppression lists of the projects written to, as of `suppression_version`.
    suppression: foldhash::HashMap<ProjectId, std::sync::Arc<SuppressionList>>,
    /// The file's `suppression_version` the lists were read at (-1: none read).
    suppression_version: i64,
}

/// What one write added to the [`Appender`], to confirm or take back.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    hashes: Vec<(ProjectId, u128)>,
    upto: i64,
}

impl Appender {
    /// An appender that remembers `window` events per project (`None`: all).
    pub(crate) fn new(window: Option<usize>) -> Appender {
        Appender { window, suppression_version: -1, ..Default::default() }
    }

    /// Forget the cached suppression lists if the file's lists changed since they were
    /// read (by this process or another).
    pub(crate) fn refresh_suppression(&mut self, c: &rusqlite::Connection) -> Result<()> {
        let version = state(c, SUPPRESSION_VERSION)?;
        if version != self.suppression_version {
            self.suppression.clear();
            self.suppression_version = version;
        }
        Ok(())
    }

    /// A project's suppression list, as cached (see [`Appender::refresh_suppression`]).
    pub(crate) fn cached_suppression(
        &mut self,
        c: &rusqlite::Connection,
        project: ProjectId,
    ) -> Result<std::sync::Arc<SuppressionList>> {
        if let Some(list) = self.suppression.get(&project) {
            return Ok(list.clone());
        }
        let list = std::sync::Arc::new(suppression_list_raw(c, project)?);
        self.suppression.insert(project, list.clone());
        Ok(list)
    }

    /// Which events and failed events of a write are refused (they name a suppressed
    /// identity value, or belong to an erased customer); counts them per project.
    fn refusals(
        &mut self,
        c: &rusqlite::Connection,
        events: &[NewEvent],
        failed: &[NewFailedEvent],
    ) -> Result<(Vec<bool>, Vec<bool>)> {
        self.refresh_suppression(c)?;
        let mut counts: foldhash::HashMap<ProjectId, u64> = Default::default();
        let mut list: Option<(ProjectId, std::sync::Arc<SuppressionList>)> = None;
        let mut refused_events = vec![false; events.len()];
        for (i, e) in events.iter().enumerate() {
            if list.as_ref().is_none_or(|(p, _)| *p != e.project) {
                list = Some((e.project, self.cached_suppression(c, e.project)?));
            }
            let (_, l) = list.as_ref().expect("just set");
            if self.erased.contains(&e.customer) || l.refuses_event(&e.event) {
                refused_events[i] = true;
                *counts.entry(e.project).or_default() += 1;
            }
        }
        let mut refused_failed = vec![false; failed.len()];
        for (i, f) in failed.iter().enumerate() {
            if self.cached_suppression(c, f.project)?.refuses_raw(&f.raw) {
                refused_failed[i] = true;
                *counts.entry(f.project).or_default() += 1;
            }
        }
        for (project, n) in counts {
            count_refused_raw(c, project, n)?;
        }
        Ok((refused_events, refused_failed))
    }

    /// A write has committed: its segments are known.
    fn committed(&mut self, pending: Pending) {
        self.upto = self.upto.max(pending.upto);
    }

    /// A write did not commit: forget its hashes. Should it have reached the file after
    /// all, the next [`Appender::catch_up`] finds its segments, whose ids are above `upto`.
    fn rolled_back(&mut self, pending: Pending) {
        for (p, h) in pending.hashes {
            if let Some(recent) = self.seen.get_mut(&p) {
                recent.remove(&h);
            }
        }
    }

    /// Run a write of events (`f` gets the appender and the pending list) in one
    /// transaction on `conn`, and keep the dedup set true to what committed.
    ///
    /// The transaction is begun and ended on the raw handle too, so a write costs one
    /// hand-over of the connection instead of three trips to sqlx's worker thread (begin,
    /// the work, commit); the connection goes back to the pool outside any transaction.
    pub(crate) async fn write<T>(
        &mut self,
        conn: &mut sqlx::SqliteConnection,
        f: impl FnOnce(&rusqlite::Connection, &mut Appender, &mut Pending) -> Result<T>,
    ) -> Result<T> {
        let mut pending = Pending::default();
        let done = with_raw(conn, |c| {
            c.execute_batch("BEGIN IMMEDIATE").db()?;
            let done = f(c, self, &mut pending).and_then(|r| c.execute_batch("COMMIT").map(|()| r).db());
            if done.is_err() && !c.is_autocommit() {
                // Whatever the failure, end the transaction here; an error ending it is
                // not the one to report.
                let _ = c.execute_batch("ROLLBACK");
            }
            done
        })
        .await;
        match done {
            Ok(r) => {
                self.committed(pending);
                Ok(r)
            }
            Err(e) => {
                self.rolled_back(pending);
                Err(e)
            }
        }
    }

    fn window(&self) -> usize {
        self.window.unwrap_or(usize::MAX)
    }

    /// Load the hashes of segments written since the last look (by this process before
    /// it knew of them, or by another one); returns the highest segment id. The first
    /// look loads, per project, only the newest segments that cover the window.
    pub(crate) fn catch_up(&mut self, c: &rusqlite::Connection) -> Result<i64> {
        let max: i64 = c.query_row("SELECT COALESCE(MAX(last_id), 0) FROM event_segments", [], |r| r.get(0)).db()?;
        if !self.loaded {
            self.loaded = true;
            if let Some(window) = self.window {
                self.load_newest(c, window, max)?;
                self.upto = max;
                return Ok(max);
            }
        }
        if max > self.upto {
            let window = self.window();
            let mut st =
                c.prepare("SELECT project_id, points FROM event_segments WHERE last_id > ?1 ORDER BY last_id").db()?;
            let mut rows = st.query([self.upto]).db()?;
            while let Some(r) = rows.next().db()? {
                let project: ProjectId = r.get(0).db()?;
                let bytes =
                    r.get_ref(1).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("segment points: {e}")))?;
                let points = points_of(bytes)?;
                let recent = self.seen.entry(project).or_default();
                for i in (0..points.len()).filter(|&i| !points.is_erased(i)) {
                    recent.insert(points.hash(i), window);
                }
            }
            self.upto = max;
        }
        Ok(max)
    }

    /// Per project, the hashes of the newest segments up to `max` until `window` are loaded.
    fn load_newest(&mut self, c: &rusqlite::Connection, window: usize, max: i64) -> Result<()> {
        let projects: Vec<ProjectId> = c
            .prepare("SELECT DISTINCT project_id FROM event_segments")
            .db()?
            .query_map([], |r| r.get(0))
            .db()?
            .collect::<std::result::Result<_, _>>()
            .db()?;
        let mut st = c
            .prepare("SELECT points FROM event_segments WHERE project_id = ?1 AND last_id <= ?2 ORDER BY last_id DESC")
            .db()?;
        for project in projects {
            let recent = self.seen.entry(project).or_default();
            let mut rows = st.query(rusqlite::params![project, max]).db()?;
            while recent.previous.len() < window {
                let Some(r) = rows.next().db()? else { break };
                let bytes =
                    r.get_ref(0).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("segment points: {e}")))?;
                let points = points_of(bytes)?;
                recent.previous.extend((0..points.len()).filter(|&i| !points.is_erased(i)).map(|i| points.hash(i)));
            }
        }
        Ok(())
    }
}

pub(crate) fn points_of(bytes: &[u8]) -> Result<Points<'_>> {
    Points::new(bytes).ok_or_else(|| StoreError::Corrupt(format!("segment points of {} bytes", bytes.len())))
}

/// Buffers for encoding a segment.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    segment: SegmentBuilder,
    points: Vec<u8>,
    data: Vec<u8>,
}

/// Write one encoded segment of `n` events and its timeline entries.
fn insert_segment(
    c: &rusqlite::Connection,
    project: ProjectId,
    first_id: i64,
    n: usize,
    encoded: (&[u8], &[u8]),
    customers: &[CustomerId],
) -> Result<()> {
    let last_id = first_id + n as i64 - 1;
    c.prepare_cached(
        "INSERT INTO event_segments (last_id, project_id, first_id, events, points, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(rusqlite::params![last_id, project, first_id, n as i64, encoded.0, encoded.1])
    .db()?;
    let mut timeline =
        c.prepare_cached("INSERT OR IGNORE INTO event_timeline (customer_id, segment_id) VALUES (?1, ?2)").db()?;
    for &customer in customers {
        timeline.execute([customer, last_id]).db()?;
    }
    Ok(())
}

impl Scratch {
    /// Write the segment encoded here (see [`Scratch::encode`]) with its timeline entries.
    fn insert(&mut self, c: &rusqlite::Connection, project: ProjectId, first_id: i64) -> Result<()> {
        let customers = self.segment.customers();
        insert_segment(c, project, first_id, self.segment.len(), (&self.points, &self.data), &customers)?;
        self.segment.clear();
        Ok(())
    }

    /// Encode the events pushed into `self.segment`.
    fn encode(&mut self) {
        self.segment.finish_into(&mut self.points, &mut self.data);
    }

    /// Encode the events `run` of `events` (whose messageId hashes are `hashes`) as one
    /// segment, whatever was pushed before (an earlier write may have failed half-way).
    fn encode_run(&mut self, events: &[NewEvent], hashes: &[u128], run: &[usize]) {
        self.segment.clear();
        for &i in run {
            self.segment.push(hashes[i], &row_of(&events[i]));
        }
        self.encode();
    }
}

fn row_of(e: &NewEvent) -> Row<'_> {
    let ev = &e.event;
    Row {
        message_id: &ev.message_id,
        kind: ev.kind,
        name: ev.name.as_deref(),
        user_id: ev.user_id.as_deref(),
        anonymous_id: ev.anonymous_id.as_deref(),
        customer: e.customer,
        touchpoint: e.touchpoint,
        timestamp: ev.timestamp,
        received_at: ev.received_at,
        flags: ev.flags.0,
        body: &ev.body_json,
    }
}

/// A batch's segments encoded ahead of its commit ([`touchpoint_store::Store::prepare`]), as if every
/// event were new: the commit writes a chunk as it is when all its events turn out new, and
/// encodes the new ones again otherwise (a repeated messageId is rare).
#[derive(Debug)]
pub(crate) struct PreparedSegments {
    /// The messageId hash of every event of the batch, in order.
    hashes: Vec<u128>,
    /// Per project, in order of first appearance, its events in runs of at most
    /// [`SEGMENT_EVENTS`].
    chunks: Vec<PreparedChunk>,
}

#[derive(Debug)]
struct PreparedChunk {
    project: ProjectId,
    /// Indexes of the events in the batch.
    events: Vec<usize>,
    points: Vec<u8>,
    data: Vec<u8>,
    customers: Vec<CustomerId>,
}

/// The events of each project, in order of the project's first appearance.
fn by_project(events: &[NewEvent], keep: impl Fn(usize) -> bool) -> Vec<(ProjectId, Vec<usize>)> {
    let mut out: Vec<(ProjectId, Vec<usize>)> = vec![];
    for (i, e) in events.iter().enumerate().filter(|&(i, _)| keep(i)) {
        match out.last_mut() {
            Some((p, v)) if *p == e.project => v.push(i),
            _ => match out.iter_mut().find(|(p, _)| *p == e.project) {
                Some((_, v)) => v.push(i),
                None => out.push((e.project, vec![i])),
            },
        }
    }
    out
}

thread_local! {
    /// Encoding buffers of the thread preparing segments, kept from one batch to the next.
    static PREPARING: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Hash and encode a batch's events (see [`PreparedSegments`]).
pub(crate) fn prepare_segments(events: &[NewEvent]) -> PreparedSegments {
    let hashes: Vec<u128> = events.iter().map(|e| message_hash(&e.event.message_id)).collect();
    let mut chunks = vec![];
    PREPARING.with_borrow_mut(|scratch| {
        for (project, all) in by_project(events, |_| true) {
            for run in all.chunks(SEGMENT_EVENTS) {
                scratch.encode_run(events, &hashes, run);
                chunks.push(PreparedChunk {
                    project,
                    events: run.to_vec(),
                    // Copies of the exact size: the buffers stay for the next run.
                    points: scratch.points.clone(),
                    data: scratch.data.clone(),
                    customers: scratch.segment.customers(),
                });
            }
        }
    });
    PreparedSegments { hashes, chunks }
}

/// Store events (skipping those whose `(project, messageId)` is stored already or came
/// earlier in this call) and failed events, and count the new events into `daily_volume`.
/// Returns the new id of each event, `None` for a duplicate. A project's new events get
/// consecutive ids in the order given. Events and failed events that name a suppressed
/// identity value (or belong to a customer this handle erased) are refused: not stored,
/// answered `None`, and counted in `suppression_counts`.
///
/// The hashes of the new events go into the appender's set at once and are listed in
/// `pending`, so that [`Appender::write`] can take them back if the transaction fails.
pub(crate) fn append_raw(
    c: &rusqlite::Connection,
    appender: &mut Appender,
    pending: &mut Pending,
    events: &[NewEvent],
    failed: &[NewFailedEvent],
    prepared: Option<&PreparedSegments>,
) -> Result<Vec<Option<i64>>> {
    let prepared = prepared.filter(|p| p.hashes.len() == events.len());
    let mut next = appender.catch_up(c)? + 1;
    let hashes: std::borrow::Cow<'_, [u128]> = match prepared {
        Some(p) => (&p.hashes[..]).into(),
        None => events.iter().map(|e| message_hash(&e.event.message_id)).collect::<Vec<_>>().into(),
    };
    let (refused, refused_failed) = appender.refusals(c, events, failed)?;
    let mut new = vec![false; events.len()];
    let window = appender.window();
    for (i, (e, &h)) in events.iter().zip(hashes.iter()).enumerate() {
        if !refused[i] && appender.seen.entry(e.project).or_default().insert(h, window) {
            pending.hashes.push((e.project, h));
            new[i] = true;
        }
    }
    let mut inserted = vec![None; events.len()];
    let mut volume: foldhash::HashMap<(ProjectId, i64, i64), i64> = Default::default();
    let mut assign = |i: usize, id: i64| {
        let e = &events[i];
        inserted[i] = Some(id);
        let day = e.event.timestamp.div_euclid(DAY_MS);
        *volume.entry((e.project, day, e.touchpoint.unwrap_or(0))).or_default() += 1;
    };
    // Encode the new events of a run of one project here, and write them.
    let scratch = &mut appender.scratch;
    let mut encode_and_insert = |project: ProjectId, run: &[usize], first_id: i64| -> Result<()> {
        scratch.encode_run(events, &hashes, run);
        scratch.insert(c, project, first_id)
    };
    match prepared {
        Some(p) => {
            for chunk in &p.chunks {
                let first_id = next;
                let fresh: Vec<usize> = chunk.events.iter().copied().filter(|&i| new[i]).collect();
                if fresh.len() == chunk.events.len() {
                    let encoded = (chunk.points.as_slice(), chunk.data.as_slice());
                    insert_segment(c, chunk.project, first_id, fresh.len(), encoded, &chunk.customers)?;
                } else if !fresh.is_empty() {
                    encode_and_insert(chunk.project, &fresh, first_id)?;
                }
                for i in fresh {
                    assign(i, next);
                    next += 1;
                }
            }
        }
        None => {
            for (project, fresh) in by_project(events, |i| new[i]) {
                for run in fresh.chunks(SEGMENT_EVENTS) {
                    encode_and_insert(project, run, next)?;
                    for &i in run {
                        assign(i, next);
                        next += 1;
                    }
                }
            }
        }
    }
    pending.upto = next - 1;
    let mut count = c
        .prepare_cached(
            "INSERT INTO daily_volume (project_id, day, touchpoint_id, events) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project_id, day, touchpoint_id) DO UPDATE SET events = daily_volume.events + excluded.events",
        )
        .db()?;
    for ((project, day, tp), n) in volume {
        count.execute(rusqlite::params![project, day, tp, n]).db()?;
    }
    let mut fail = c.prepare_cached(
        "INSERT INTO failed_events (project_id, received_ms, source, field, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    ).db()?;
    for (f, _) in failed.iter().zip(refused_failed).filter(|(_, refused)| !refused) {
        fail.execute(rusqlite::params![f.project, f.received_at, f.source, f.field, f.reason, f.raw]).db()?;
    }
    Ok(inserted)
}

/// Files made before segments kept one row per event in `events`: move those rows into
/// segments, keeping their ids, and drop the table. One transaction; a no-op once done.
pub(crate) async fn convert_row_events(pool: &SqlitePool) -> Result<()> {
    let old: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'")
            .fetch_optional(pool)
            .await
            .db()?;
    if old.is_none() {
        return Ok(());
    }
    let mut tx = crate::error::begin(pool).await?;
    let moved = with_raw(&mut tx, |c| {
        let mut st = c.prepare(
            "SELECT id, project_id, message_id, type, name, user_id, anonymous_id, customer_id, touchpoint_id, ts_ms,
                 received_ms, flags, body FROM events ORDER BY id",
        ).db()?;
        let mut rows = st.query([]).db()?;
        // The open segment: its project and first id.
        let mut open: Option<(ProjectId, i64)> = None;
        let mut scratch = Scratch::default();
        let mut moved = 0u64;
        while let Some(r) = rows.next().db()? {
            let kind: String = r.get(3).db()?;
            let e = StoredEvent {
                id: r.get(0).db()?,
                project_id: r.get(1).db()?,
                message_id: r.get(2).db()?,
                kind: EventType::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("event type {kind}")))?,
                name: r.get(4).db()?,
                user_id: r.get(5).db()?,
                anonymous_id: r.get(6).db()?,
                customer_id: r.get(7).db()?,
                touchpoint_id: r.get(8).db()?,
                timestamp: r.get(9).db()?,
                received_at: r.get(10).db()?,
                flags: r.get::<_, i64>(11).db()? as u32,
                body: r.get(12).db()?,
            };
            // A segment holds consecutive ids of one project.
            let n = scratch.segment.len();
            let continues =
                open.is_some_and(|(p, first)| p == e.project_id && first + n as i64 == e.id && n < SEGMENT_EVENTS);
            if !continues {
                if let Some((p, first)) = open {
                    scratch.encode();
                    scratch.insert(c, p, first)?;
                }
                open = Some((e.project_id, e.id));
            }
            scratch.segment.push(message_hash(&e.message_id), &Row::of_stored(&e));
            moved += 1;
        }
        if let Some((p, first)) = open {
            scratch.encode();
            scratch.insert(c, p, first)?;
        }
        drop(rows);
        drop(st);
        c.execute_batch("DROP TABLE events").db()?;
        Ok(moved)
    })
    .await?;
    tx.commit().await.db()?;
    if moved > 0 {
        tracing::info!(events = moved, "moved events from rows into segments");
    }
    Ok(())
}

/// A segment's points and where it starts, read from a query row.
struct SegPoints {
    last_id: i64,
    project: ProjectId,
    first_id: i64,
    points: Vec<u8>,
}

impl SegPoints {
    fn points(&self) -> Result<Points<'_>> {
        points_of(&self.points)
    }
}

fn decode_all(
    project: ProjectId,
    first_id: i64,
    points: &[u8],
    data: &[u8],
    after_id: i64,
    limit: usize,
    out: &mut Vec<StoredEvent>,
) -> Result<()> {
    let p = points_of(points)?;
    let data = unpack(data)?;
    let from = (after_id + 1 - first_id).max(0) as usize;
    for i in (from..p.len()).filter(|&i| !p.is_erased(i)) {
        if out.len() >= limit {
            break;
        }
        out.push(decode_event(project, first_id, &p, &data, i)?);
    }
    Ok(())
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_events(&self, events: &[NewEvent], failed: &[NewFailedEvent]) -> Result<Vec<Option<i64>>> {
        let mut appender = self.appender.lock().await;
        let mut conn = self.pool().acquire().await.db()?;
        appender.write(&mut conn, |c, a, pending| append_raw(c, a, pending, events, failed, None)).await
    }

    async fn scan_events(&self, project: Option<ProjectId>, after_id: i64, limit: usize) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::with_capacity(limit.min(SEGMENT_EVENTS));
        let mut after = after_id;
        while out.len() < limit {
            let rows = match project {
                Some(p) => sqlx::query(
                    "SELECT last_id, project_id, first_id, points, data FROM event_segments
                         WHERE project_id = ? AND last_id > ? ORDER BY last_id LIMIT 4",
                )
                .bind(p)
                .bind(after)
                .fetch_all(self.pool())
                .await
                .db()?,
                None => sqlx::query(
                    "SELECT last_id, project_id, first_id, points, data FROM event_segments
                         WHERE last_id > ? ORDER BY last_id LIMIT 4",
                )
                .bind(after)
                .fetch_all(self.pool())
                .await
                .db()?,
            };
            let Some(last) = rows.last() else { break };
            after = last.try_get(0).db()?;
            for r in &rows {
                let (p, first): (ProjectId, i64) = (r.try_get(1).db()?, r.try_get(2).db()?);
                decode_all(p, first, r.try_get(3).db()?, r.try_get(4).db()?, after_id, limit, &mut out)?;
            }
        }
        Ok(out)
    }

    async fn recent_events(&self, project: ProjectId, limit: usize) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::with_capacity(limit.min(SEGMENT_EVENTS));
        let mut before = i64::MAX;
        while out.len() < limit {
            let rows = sqlx::query(
                "SELECT last_id, first_id, points, data FROM event_segments
                     WHERE project_id = ? AND last_id < ? ORDER BY last_id DESC LIMIT 4",
            )
            .bind(project)
            .bind(before)
            .fetch_all(self.pool())
            .await
            .db()?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                before = r.try_get(0).db()?;
                let mut segment = vec![];
                decode_all(
                    project,
                    r.try_get(1).db()?,
                    r.try_get(2).db()?,
                    r.try_get(3).db()?,
                    0,
                    usize::MAX,
                    &mut segment,
                )?;
                let room = limit - out.len();
                out.extend(segment.into_iter().rev().take(room));
            }
        }
        Ok(out)
    }

    async fn customer_events(
        &self,
        customers: &[CustomerId],
        before: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        if customers.is_empty() || limit == 0 {
            return Ok(vec![]);
        }
        let marks = vec!["?"; customers.len()].join(",");
        let sql = format!(
            "SELECT last_id, project_id, first_id, points FROM event_segments
             WHERE last_id IN (SELECT segment_id FROM event_timeline WHERE customer_id IN ({marks}))"
        );
        let mut q = sqlx::query(&sql);
        for c in customers {
            q = q.bind(c);
        }
        let segs = q
            .fetch_all(self.pool())
            .await
            .db()?
            .iter()
            .map(|r| {
                Ok(SegPoints {
                    last_id: r.try_get(0).db()?,
                    project: r.try_get(1).db()?,
                    first_id: r.try_get(2).db()?,
                    points: r.try_get(3).db()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cursor = before.unwrap_or((i64::MAX, i64::MAX));
        // (time, id, segment, position) of every event of these customers before the cursor.
        let mut found = vec![];
        for (s, seg) in segs.iter().enumerate() {
            let p = seg.points()?;
            for i in 0..p.len() {
                let key = (p.time(i), seg.first_id + i as i64);
                if key < cursor && !p.is_erased(i) && customers.contains(&p.customer(i)) {
                    found.push((key, s, i));
                }
            }
        }
        found.sort_unstable_by_key(|f| std::cmp::Reverse(f.0));
        found.truncate(limit);
        // Bodies only of the segments that hold a chosen event, each read once.
        let mut out = Vec::with_capacity(found.len());
        let mut by_segment: Vec<(usize, usize)> = found.iter().map(|&(_, s, i)| (s, i)).collect();
        by_segment.sort_unstable();
        for group in by_segment.chunk_by(|a, b| a.0 == b.0) {
            let seg = &segs[group[0].0];
            let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM event_segments WHERE last_id = ?")
                .bind(seg.last_id)
                .fetch_one(self.pool())
                .await
                .db()?;
            let data = unpack(&data)?;
            let p = seg.points()?;
            for &(_, i) in group {
                out.push(decode_event(seg.project, seg.first_id, &p, &data, i)?);
            }
        }
        out.sort_unstable_by_key(|e| std::cmp::Reverse((e.timestamp, e.id)));
        Ok(out)
    }

    async fn scan_points(
        &self,
        project: ProjectId,
        after_id: i64,
        upto_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, CustomerId, i64, i64)>> {
        // Only the points column is read: the journey index never touches event bodies.
        let upto = upto_id.unwrap_or(i64::MAX);
        let mut out = Vec::with_capacity(limit.min(1 << 20));
        let mut rows = sqlx::query(
            "SELECT first_id, points FROM event_segments
             WHERE project_id = ? AND last_id > ? AND first_id <= ? ORDER BY last_id",
        )
        .bind(project)
        .bind(after_id)
        .bind(upto)
        .fetch(self.pool());
        'segments: while let Some(r) = rows.try_next().await.db()? {
            let first: i64 = r.try_get(0).db()?;
            let p = points_of(r.try_get(1).db()?)?;
            for i in 0..p.len() {
                let id = first + i as i64;
                if id <= after_id || p.touchpoint(i) == 0 || p.is_erased(i) {
                    continue;
                }
                if id > upto || out.len() >= limit {
                    break 'segments;
                }
                out.push((id, p.customer(i), p.time(i), p.touchpoint(i)));
            }
        }
        Ok(out)
    }

    async fn event_id_range(&self, project: ProjectId) -> Result<Option<(i64, i64)>> {
        let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT first_id FROM event_segments WHERE project_id = ?1 AND events > 0 ORDER BY last_id LIMIT 1),
                    (SELECT MAX(last_id) FROM event_segments WHERE project_id = ?1 AND events > 0)",
        )
        .bind(project)
        .fetch_one(self.pool())
        .await.db()?;
        Ok(lo.zip(hi))
    }

    async fn count_events(&self, project: ProjectId) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(SUM(events), 0) FROM event_segments WHERE project_id = ?")
            .bind(project)
            .fetch_one(self.pool())
            .await
            .db()?)
    }

    async fn failed_usage(&self, project: ProjectId) -> Result<FailedUsage> {
        let (events, bytes): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(length(raw)), 0) FROM failed_events WHERE project_id = ?")
                .bind(project)
                .fetch_one(self.pool())
                .await
                .db()?;
        Ok(FailedUsage { events: events as u64, bytes: bytes as u64 })
    }

    async fn clear_failed_events(&self, project: ProjectId) -> Result<u64> {
        let done = sqlx::query("DELETE FROM failed_events WHERE project_id = ?")
            .bind(project)
            .execute(self.pool())
            .await
            .db()?;
        Ok(done.rows_affected())
    }

    async fn failed_events(
        &self,
        project: ProjectId,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FailedEvent>> {
        let rows = sqlx::query(
            "SELECT id, project_id, received_ms, source, field, reason, raw FROM failed_events
             WHERE project_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(project)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.iter().map(failed_event_row).collect()
    }

    async fn set_touchpoints(&self, updates: &[(i64, Option<i64>)]) -> Result<()> {
        let mut updates = updates.to_vec();
        updates.sort_unstable_by_key(|u| u.0);
        let _appender = self.appender.lock().await;
        let mut tx = crate::error::begin(self.pool()).await?;
        let mut k = 0;
        while k < updates.len() {
            let seg: Option<(i64, i64, Vec<u8>)> = sqlx::query_as(
                "SELECT last_id, first_id, points FROM event_segments WHERE last_id >= ? ORDER BY last_id LIMIT 1",
            )
            .bind(updates[k].0)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            let Some((last_id, first_id, mut points)) = seg else { break };
            let n = points_of(&points)?.len() as i64;
            let mut changed = false;
            while k < updates.len() && updates[k].0 <= last_id {
                let (id, tp) = updates[k];
                // An erased slot stays empty.
                if id >= first_id && id - first_id < n && !points_of(&points)?.is_erased((id - first_id) as usize) {
                    segment::set_touchpoint(&mut points, (id - first_id) as usize, tp);
                    changed = true;
                }
                k += 1;
            }
            if changed {
                sqlx::query("UPDATE event_segments SET points = ? WHERE last_id = ?")
                    .bind(points)
                    .bind(last_id)
                    .execute(&mut *tx)
                    .await
                    .db()?;
            }
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn rebuild_volume(&self, project: ProjectId) -> Result<()> {
        let mut tx = crate::error::begin(self.pool()).await?;
        let mut volume: HashMap<(i64, i64), i64> = HashMap::new();
        {
            let mut rows =
                sqlx::query("SELECT points FROM event_segments WHERE project_id = ?").bind(project).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.db()? {
                let p = points_of(r.try_get(0).db()?)?;
                for i in (0..p.len()).filter(|&i| !p.is_erased(i)) {
                    *volume.entry((p.time(i).div_euclid(DAY_MS), p.touchpoint(i))).or_default() += 1;
                }
            }
        }
        sqlx::query("DELETE FROM daily_volume WHERE project_id = ?").bind(project).execute(&mut *tx).await.db()?;
        for ((day, tp), n) in volume {
            sqlx::query("INSERT INTO daily_volume (project_id, day, touchpoint_id, events) VALUES (?, ?, ?, ?)")
                .bind(project)
                .bind(day)
                .bind(tp)
                .bind(n)
                .execute(&mut *tx)
                .await
                .db()?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn subject_events(&self, subject: &Subject) -> Result<Vec<StoredEvent>> {
        sqlite_erasure::subject_events(self, subject).await
    }

    async fn subject_failed_events(&self, subject: &Subject) -> Result<Vec<FailedEvent>> {
        sqlite_erasure::subject_failed_events(self, subject).await
    }

    async fn erase_subject_events(&self, subject: &Subject) -> Result<EventErasure> {
        sqlite_erasure::erase_subject_events(self, subject).await
    }

    async fn daily_volume(&self, project: ProjectId, from_day: i64, to_day: i64) -> Result<Vec<VolumeRow>> {
        let rows = sqlx::query(
            "SELECT day, touchpoint_id, events FROM daily_volume WHERE project_id = ? AND day >= ? AND day <= ?
             ORDER BY day, touchpoint_id",
        )
        .bind(project)
        .bind(from_day)
        .bind(to_day)
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.iter()
            .map(|r| {
                Ok(VolumeRow { day: r.try_get(0).db()?, touchpoint_id: r.try_get(1).db()?, events: r.try_get(2).db()? })
            })
            .collect()
    }
}

/// A failed event from `id, project_id, received_ms, source, field, reason, raw`.
pub(crate) fn failed_event_row(r: &sqlx::sqlite::SqliteRow) -> Result<FailedEvent> {
    Ok(FailedEvent {
        id: r.try_get("id").db()?,
        event: NewFailedEvent {
            project: r.try_get("project_id").db()?,
            received_at: r.try_get("received_ms").db()?,
            source: r.try_get("source").db()?,
            field: r.try_get("field").db()?,
            reason: r.try_get("reason").db()?,
            raw: r.try_get("raw").db()?,
        },
    })
}
