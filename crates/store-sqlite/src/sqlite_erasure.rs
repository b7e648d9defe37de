//! The embedded store's part of erasure ([`touchpoint_store::erasure`]): finding, exporting and
//! removing a subject in the one SQLite file (`touchpoint.db` and its `-wal`/`-shm`
//! companions; the store keeps no other database file), the suppression list, and the
//! purge that makes the files forget what was removed.
//!
//! Events live in compressed segments: a segment that holds a subject's event is decoded
//! and written again with that event's slot emptied ([`crate::segment::ERASED`]), every
//! other event re-encoded from its decoded form (same content, same id); its timeline
//! entries are rebuilt and the daily volumes decremented by the removed events. A segment
//! left with no events is deleted, unless it is the newest of the file (its id is what the
//! next event's id follows). Finding a subject's events reads every segment of the project
//! (events of other customers may carry its ids): this scan runs before the write lock is
//! taken, and only segments written since are scanned again under it.
//!
//! The purge: every connection runs with `secure_delete = ON` (removed rows and freed pages
//! are overwritten with zeros), but SQLite can leave stale copies of moved cells in a
//! page's unused space, and older files were written without it, so each erasure rebuilds
//! the file (`VACUUM`, its temporary copy in a file rather than memory, holding only kept
//! data) and then truncates the write-ahead log (`wal_checkpoint(TRUNCATE)`, which waits for
//! readers). `purge_pending` in `erasure_state` stays 1 until both succeeded; a writer that
//! opens a file with it set purges first.

use crate::error::Db;
use crate::segment::{decode_event, event_ids, unpack, Points, Row, SegmentBuilder};
use crate::sqlite::{conflict_row, customer_row, with_raw, SqliteStore};
use crate::sqlite_events::{failed_event_row, points_of, DAY_MS};
use crate::sqlite_listen::{invitation_row, response_row};
use futures::TryStreamExt;
use rusqlite::OptionalExtension;
use sqlx::Row as _;
use std::collections::HashMap;
use touchpoint_core::{CustomerId, IdentityKind, ProjectId};
use touchpoint_store::erasure::{
    EventErasure, ListenErasure, MetaErasure, PurgeReport, Subject, SuppressionList, SuppressionStats,
};
use touchpoint_store::listen::{InvitationRow, ResponseRow};
use touchpoint_store::{now_ms, Conflict, Customer, FailedEvent, Identity, Result, StoreError, StoredEvent};

/// `erasure_state` names.
pub(crate) const SUPPRESSION_VERSION: &str = "suppression_version";
pub(crate) const CUSTOMER_ID_FLOOR: &str = "customer_id_floor";
pub(crate) const PURGE_PENDING: &str = "purge_pending";

/// A number kept in `erasure_state` (0 when unset).
pub(crate) fn state(c: &rusqlite::Connection, name: &str) -> Result<i64> {
    Ok(c.prepare_cached("SELECT value FROM erasure_state WHERE name = ?1")
        .db()?
        .query_row([name], |r| r.get(0))
        .optional()
        .db()?
        .unwrap_or(0))
}

fn set_state(c: &rusqlite::Connection, name: &str, value: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO erasure_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    ).db()?
    .execute(rusqlite::params![name, value]).db()?;
    Ok(())
}

/// Run `f` in a write transaction on the raw handle.
fn in_tx<T>(c: &rusqlite::Connection, f: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
    c.execute_batch("BEGIN IMMEDIATE").db()?;
    let done = f(c).and_then(|r| c.execute_batch("COMMIT").map(|()| r).db());
    if done.is_err() && !c.is_autocommit() {
        let _ = c.execute_batch("ROLLBACK");
    }
    done
}

/// `?, ?, ?` for `n` values (`NULL` for none: `IN (NULL)` matches nothing).
fn marks(n: usize) -> String {
    if n == 0 {
        "NULL".into()
    } else {
        vec!["?"; n].join(", ")
    }
}

fn int_values(ids: &[CustomerId]) -> impl Iterator<Item = rusqlite::types::Value> + '_ {
    ids.iter().map(|&i| rusqlite::types::Value::Integer(i))
}

fn text_values(values: &[String]) -> impl Iterator<Item = rusqlite::types::Value> + '_ {
    values.iter().map(|v| rusqlite::types::Value::Text(v.clone()))
}

// ---------------------------------------------------------------------------------------
// Events

/// The slots of a segment that hold one of the subject's events, ascending.
fn owned_slots(subject: &Subject, first_id: i64, p: &Points<'_>, data: &[u8]) -> Result<Vec<usize>> {
    let mut out = vec![];
    for i in (0..p.len()).filter(|&i| !p.is_erased(i)) {
        let customer = p.customer(i);
        if subject.has_customer(customer) {
            out.push(i);
        } else if !subject.values.is_empty() {
            let ids = event_ids(first_id, p, data, i)?;
            if subject.owns_event(customer, ids.kind, ids.user_id, ids.anonymous_id, ids.body) {
                out.push(i);
            }
        }
    }
    Ok(out)
}

/// Whether a segment can hold none of the subject's events without reading its data.
fn surely_not_owned(subject: &Subject, p: &Points<'_>) -> bool {
    subject.values.is_empty() && !(0..p.len()).any(|i| !p.is_erased(i) && subject.has_customer(p.customer(i)))
}

/// Scan the subject's project's segments after `after`: for each one that holds one of its
/// events, call `found` with the segment's id, first id, points, unpacked data and slots.
/// Returns the highest segment id looked at.
async fn scan_segments(
    store: &SqliteStore,
    subject: &Subject,
    after: i64,
    mut found: impl FnMut(i64, i64, &Points<'_>, &[u8], Vec<usize>) -> Result<()>,
) -> Result<i64> {
    let mut upto = after;
    let mut rows = sqlx::query(
        "SELECT last_id, first_id, points, data FROM event_segments WHERE project_id = ? AND last_id > ?
         ORDER BY last_id",
    )
    .bind(subject.project)
    .bind(after)
    .fetch(store.pool());
    while let Some(r) = rows.try_next().await.db()? {
        let (last_id, first_id): (i64, i64) = (r.try_get(0).db()?, r.try_get(1).db()?);
        upto = upto.max(last_id);
        let p = points_of(r.try_get(2).db()?)?;
        if surely_not_owned(subject, &p) {
            continue;
        }
        let data = unpack(r.try_get(3).db()?)?;
        let slots = owned_slots(subject, first_id, &p, &data)?;
        if !slots.is_empty() {
            found(last_id, first_id, &p, &data, slots)?;
        }
    }
    Ok(upto)
}

pub(crate) async fn subject_events(store: &SqliteStore, subject: &Subject) -> Result<Vec<StoredEvent>> {
    let mut out = vec![];
    scan_segments(store, subject, 0, |_, first_id, p, data, slots| {
        for i in slots {
            out.push(decode_event(subject.project, first_id, p, data, i)?);
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// The failed events of the subject's project that may name it (a byte search in SQL,
/// which [`Subject::mentions`] then narrows): the query and its arguments.
fn failed_query(subject: &Subject) -> (String, Vec<Vec<u8>>) {
    let mut needles: Vec<Vec<u8>> = vec![];
    for v in &subject.values {
        needles.push(v.as_bytes().to_vec());
        let escaped = serde_json::to_string(v).expect("a string serializes");
        let escaped = &escaped[1..escaped.len() - 1];
        if escaped != v {
            needles.push(escaped.as_bytes().to_vec());
        }
    }
    let terms =
        if needles.is_empty() { "FALSE".to_string() } else { vec!["instr(raw, ?) > 0"; needles.len()].join(" OR ") };
    let sql = format!(
        "SELECT id, project_id, received_ms, source, field, reason, raw FROM failed_events
         WHERE project_id = ? AND ({terms}) ORDER BY id"
    );
    (sql, needles)
}

pub(crate) async fn subject_failed_events(store: &SqliteStore, subject: &Subject) -> Result<Vec<FailedEvent>> {
    let (sql, needles) = failed_query(subject);
    let mut q = sqlx::query(&sql).bind(subject.project);
    for n in needles {
        q = q.bind(n);
    }
    let rows = q.fetch_all(store.pool()).await.db()?;
    let mut out = vec![];
    for r in &rows {
        let failed = failed_event_row(r)?;
        if subject.mentions(&failed.event.raw) {
            out.push(failed);
        }
    }
    Ok(out)
}

/// What rewriting segments removed.
#[derive(Default)]
struct Removed {
    events: u64,
    segments: u64,
    /// messageId hashes of the removed events (for the dedup set).
    hashes: Vec<u128>,
    /// Removed events per (day, touchpoint).
    volume: HashMap<(i64, i64), i64>,
}

/// Rewrite one segment without the subject's events (see the module documentation).
fn rewrite_segment(
    c: &rusqlite::Connection,
    subject: &Subject,
    last_id: i64,
    newest: i64,
    builder: &mut SegmentBuilder,
    removed: &mut Removed,
) -> Result<()> {
    let row: Option<(ProjectId, i64, Vec<u8>, Vec<u8>)> = c
        .prepare_cached("SELECT project_id, first_id, points, data FROM event_segments WHERE last_id = ?1")
        .db()?
        .query_row([last_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .db()?;
    let Some((project, first_id, points, data)) = row else { return Ok(()) };
    if project != subject.project {
        return Ok(());
    }
    let p = points_of(&points)?;
    let data = unpack(&data)?;
    let owned = owned_slots(subject, first_id, &p, &data)?;
    if owned.is_empty() {
        return Ok(());
    }
    builder.clear();
    let mut next = owned.iter().peekable();
    for i in 0..p.len() {
        if p.is_erased(i) {
            builder.push_erased();
        } else if next.next_if_eq(&&i).is_some() {
            builder.push_erased();
            removed.hashes.push(p.hash(i));
            *removed.volume.entry((p.time(i).div_euclid(DAY_MS), p.touchpoint(i))).or_default() += 1;
        } else {
            let e = decode_event(project, first_id, &p, &data, i)?;
            builder.push(p.hash(i), &Row::of_stored(&e));
        }
    }
    let live = p.live() - owned.len();
    let (mut new_points, mut new_data) = (vec![], vec![]);
    builder.finish_into(&mut new_points, &mut new_data);
    c.prepare_cached("DELETE FROM event_timeline WHERE segment_id = ?1").db()?.execute([last_id]).db()?;
    if live == 0 && last_id < newest {
        c.prepare_cached("DELETE FROM event_segments WHERE last_id = ?1").db()?.execute([last_id]).db()?;
    } else {
        c.prepare_cached("UPDATE event_segments SET points = ?1, data = ?2, events = ?3 WHERE last_id = ?4")
            .db()?
            .execute(rusqlite::params![new_points, new_data, live as i64, last_id])
            .db()?;
        let mut timeline =
            c.prepare_cached("INSERT OR IGNORE INTO event_timeline (customer_id, segment_id) VALUES (?1, ?2)").db()?;
        for customer in builder.customers() {
            timeline.execute([customer, last_id]).db()?;
        }
    }
    removed.events += owned.len() as u64;
    removed.segments += 1;
    Ok(())
}

pub(crate) async fn erase_subject_events(store: &SqliteStore, subject: &Subject) -> Result<EventErasure> {
    // The long part, reading every segment of the project, runs before the write lock.
    let mut candidates = vec![];
    let upto = scan_segments(store, subject, 0, |last_id, _, _, _, _| {
        candidates.push(last_id);
        Ok(())
    })
    .await?;
    let mut appender = store.appender.lock().await;
    appender.erased.extend(subject.customers.iter().copied());
    let mut conn = store.pool().acquire().await.db()?;
    let (done, hashes) = with_raw(&mut conn, |c| {
        in_tx(c, |c| {
            // Segments written since the scan.
            let mut st = c.prepare(
                "SELECT last_id, first_id, points, data FROM event_segments WHERE project_id = ?1 AND last_id > ?2
                 ORDER BY last_id",
            ).db()?;
            let mut rows = st.query(rusqlite::params![subject.project, upto]).db()?;
            while let Some(r) = rows.next().db()? {
                let (last_id, first_id): (i64, i64) = (r.get(0).db()?, r.get(1).db()?);
                let points = r.get_ref(2).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("segment points: {e}")))?;
                let p = points_of(points)?;
                if surely_not_owned(subject, &p) {
                    continue;
                }
                let data = r.get_ref(3).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("segment data: {e}")))?;
                if !owned_slots(subject, first_id, &p, &unpack(data)?)?.is_empty() {
                    candidates.push(last_id);
                }
            }
            drop(rows);
            drop(st);
            let newest: i64 = c.query_row("SELECT COALESCE(MAX(last_id), 0) FROM event_segments", [], |r| r.get(0)).db()?;
            let mut removed = Removed::default();
            let mut builder = SegmentBuilder::default();
            for &last_id in &candidates {
                rewrite_segment(c, subject, last_id, newest, &mut builder, &mut removed)?;
            }
            let mut decrement = c.prepare_cached(
                "UPDATE daily_volume SET events = events - ?1 WHERE project_id = ?2 AND day = ?3 AND touchpoint_id = ?4",
            ).db()?;
            for (&(day, tp), &n) in &removed.volume {
                decrement.execute(rusqlite::params![n, subject.project, day, tp]).db()?;
            }
            c.execute("DELETE FROM daily_volume WHERE project_id = ?1 AND events <= 0", [subject.project]).db()?;
            let sql = format!("DELETE FROM event_timeline WHERE customer_id IN ({})", marks(subject.customers.len()));
            c.execute(&sql, rusqlite::params_from_iter(int_values(&subject.customers))).db()?;
            // Failed events that name the subject.
            let (sql, needles) = failed_query(subject);
            let mut args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Integer(subject.project)];
            args.extend(needles.into_iter().map(rusqlite::types::Value::Blob));
            let mut st = c.prepare(&sql).db()?;
            let mut rows = st.query(rusqlite::params_from_iter(args)).db()?;
            let mut failed = vec![];
            while let Some(r) = rows.next().db()? {
                let raw = r.get_ref(6).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("failed event: {e}")))?;
                if subject.mentions(raw) {
                    failed.push(r.get::<_, i64>(0).db()?);
                }
            }
            drop(rows);
            drop(st);
            let mut delete = c.prepare_cached("DELETE FROM failed_events WHERE id = ?1").db()?;
            for id in &failed {
                delete.execute([id]).db()?;
            }
            set_state(c, PURGE_PENDING, 1)?;
            let done = EventErasure {
                events: removed.events,
                segments_rewritten: removed.segments,
                failed_events: failed.len() as u64,
            };
            Ok((done, removed.hashes))
        })
    })
    .await?;
    // The dedup set forgets the removed events: a repeat is refused by suppression.
    if let Some(recent) = appender.seen.get_mut(&subject.project) {
        for h in &hashes {
            recent.remove(h);
        }
    }
    Ok(done)
}

// ---------------------------------------------------------------------------------------
// Listening

/// `project_id = ? AND customer IN (values)`, with its arguments.
fn invitations_where(subject: &Subject) -> (String, Vec<rusqlite::types::Value>) {
    let sql = format!("project_id = ? AND customer IN ({})", marks(subject.values.len()));
    let mut args = vec![rusqlite::types::Value::Integer(subject.project)];
    args.extend(text_values(&subject.values));
    (sql, args)
}

/// `project_id = ? AND (customer IN (values) OR invitation_id IN (those invitations))`,
/// with its arguments.
fn responses_where(subject: &Subject) -> (String, Vec<rusqlite::types::Value>) {
    let (invitations, mut args) = invitations_where(subject);
    let sql = format!(
        "project_id = ? AND (customer IN ({}) OR invitation_id IN (SELECT id FROM invitations WHERE {invitations}))",
        marks(subject.values.len())
    );
    args.extend(args.clone());
    (sql, args)
}

pub(crate) async fn subject_invitations(store: &SqliteStore, subject: &Subject) -> Result<Vec<InvitationRow>> {
    let (cond, args) = invitations_where(subject);
    let sql = format!("SELECT * FROM invitations WHERE {cond} ORDER BY id");
    bind_all(sqlx::query(&sql), args).fetch_all(store.pool()).await.db()?.iter().map(invitation_row).collect()
}

pub(crate) async fn subject_responses(store: &SqliteStore, subject: &Subject) -> Result<Vec<ResponseRow>> {
    let (cond, args) = responses_where(subject);
    let sql = format!("SELECT * FROM responses WHERE {cond} ORDER BY id");
    bind_all(sqlx::query(&sql), args).fetch_all(store.pool()).await.db()?.iter().map(response_row).collect()
}

pub(crate) async fn erase_subject_listen(store: &SqliteStore, subject: &Subject) -> Result<ListenErasure> {
    let mut tx = crate::error::begin(store.pool()).await?;
    let (cond, args) = responses_where(subject);
    let sql = format!("DELETE FROM responses WHERE {cond}");
    let responses = bind_all(sqlx::query(&sql), args).execute(&mut *tx).await.db()?.rows_affected();
    let (cond, args) = invitations_where(subject);
    let sql = format!("DELETE FROM invitations WHERE {cond}");
    let invitations = bind_all(sqlx::query(&sql), args).execute(&mut *tx).await.db()?.rows_affected();
    with_raw(&mut tx, |c| set_state(c, PURGE_PENDING, 1)).await?;
    tx.commit().await.db()?;
    Ok(ListenErasure { responses, invitations })
}

// ---------------------------------------------------------------------------------------
// Customers, identities, conflicts

/// `id IN (customers) OR (project_id = ? AND <col> IN (values))`, with its arguments.
fn ids_or_values(subject: &Subject, id_col: &str, value_col: &str) -> (String, Vec<rusqlite::types::Value>) {
    let sql = format!(
        "{id_col} IN ({}) OR (project_id = ? AND {value_col} IN ({}))",
        marks(subject.customers.len()),
        marks(subject.values.len())
    );
    let mut args: Vec<rusqlite::types::Value> = int_values(&subject.customers).collect();
    args.push(rusqlite::types::Value::Integer(subject.project));
    args.extend(text_values(&subject.values));
    (sql, args)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    args: Vec<rusqlite::types::Value>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for a in args {
        q = match a {
            rusqlite::types::Value::Integer(i) => q.bind(i),
            rusqlite::types::Value::Text(t) => q.bind(t),
            rusqlite::types::Value::Blob(b) => q.bind(b),
            rusqlite::types::Value::Real(f) => q.bind(f),
            rusqlite::types::Value::Null => q.bind(None::<i64>),
        };
    }
    q
}

pub(crate) async fn subject_customers(store: &SqliteStore, subject: &Subject) -> Result<Vec<Customer>> {
    let (cond, args) = ids_or_values(subject, "id", "user_id");
    let sql = format!("SELECT * FROM customers WHERE {cond} ORDER BY id");
    bind_all(sqlx::query(&sql), args).fetch_all(store.pool()).await.db()?.iter().map(customer_row).collect()
}

pub(crate) async fn subject_identities(store: &SqliteStore, subject: &Subject) -> Result<Vec<Identity>> {
    let (cond, args) = ids_or_values(subject, "customer_id", "value");
    let sql =
        format!("SELECT kind, value, customer_id FROM identities WHERE {cond} ORDER BY kind DESC, created_ms, value");
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(store.pool()).await.db()?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get(0).db()?;
            Ok(Identity {
                kind: IdentityKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?,
                value: r.try_get(1).db()?,
                customer_id: r.try_get(2).db()?,
            })
        })
        .collect()
}

/// `project_id = ? AND (customer_id IN … OR other_customer_id IN … OR identity IN …)`.
fn conflicts_where(subject: &Subject) -> (String, Vec<rusqlite::types::Value>) {
    let identities = subject.conflict_identities();
    let m = marks(subject.customers.len());
    let sql = format!(
        "project_id = ? AND (customer_id IN ({m}) OR other_customer_id IN ({m}) OR identity IN ({}))",
        marks(identities.len())
    );
    let mut args = vec![rusqlite::types::Value::Integer(subject.project)];
    args.extend(int_values(&subject.customers));
    args.extend(int_values(&subject.customers));
    args.extend(text_values(&identities));
    (sql, args)
}

pub(crate) async fn subject_conflicts(store: &SqliteStore, subject: &Subject) -> Result<Vec<Conflict>> {
    let (cond, args) = conflicts_where(subject);
    let sql = format!(
        "SELECT id, customer_id, other_customer_id, identity, detail, created_ms FROM identity_conflicts
         WHERE {cond} ORDER BY id"
    );
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(store.pool()).await.db()?;
    rows.iter().map(conflict_row).collect()
}

pub(crate) async fn erase_subject_meta(store: &SqliteStore, subject: &Subject) -> Result<MetaErasure> {
    let rows = subject_customers(store, subject).await?;
    {
        // Commits from now on drop identity changes of these customers.
        let mut appender = store.appender.lock().await;
        appender.erased.extend(subject.customers.iter().copied());
        appender.erased.extend(rows.iter().map(|r| r.id));
    }
    let mut conn = store.pool().acquire().await.db()?;
    let done = with_raw(&mut conn, |c| {
        in_tx(c, |c| {
            // Customers as they are inside the transaction.
            let (cond, args) = ids_or_values(subject, "id", "user_id");
            let mut st = c.prepare(&format!("SELECT id, traits FROM customers WHERE {cond}")).db()?;
            let mut found: Vec<(CustomerId, u64)> = vec![];
            let mut rows = st.query(rusqlite::params_from_iter(args.clone())).db()?;
            while let Some(r) = rows.next().db()? {
                let traits: String = r.get(1).db()?;
                let n =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&traits).map_or(0, |t| t.len());
                found.push((r.get(0).db()?, n as u64));
            }
            drop(rows);
            drop(st);
            let customers =
                c.execute(&format!("DELETE FROM customers WHERE {cond}"), rusqlite::params_from_iter(args)).db()?;
            let (cond, args) = ids_or_values(subject, "customer_id", "value");
            let identities =
                c.execute(&format!("DELETE FROM identities WHERE {cond}"), rusqlite::params_from_iter(args)).db()?;
            let (cond, args) = conflicts_where(subject);
            let conflicts = c
                .execute(&format!("DELETE FROM identity_conflicts WHERE {cond}"), rusqlite::params_from_iter(args))
                .db()?;
            let highest = found.iter().map(|f| f.0).chain(subject.customers.iter().copied()).max().unwrap_or(0);
            set_state(c, CUSTOMER_ID_FLOOR, state(c, CUSTOMER_ID_FLOOR)?.max(highest))?;
            set_state(c, PURGE_PENDING, 1)?;
            Ok(MetaErasure {
                customers: customers as u64,
                identities: identities as u64,
                traits: found.iter().map(|f| f.1).sum(),
                conflicts: conflicts as u64,
            })
        })
    })
    .await?;
    store.erasures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(done)
}

// ---------------------------------------------------------------------------------------
// Suppression

/// A project's suppression list, read inside whatever transaction `c` has open.
pub(crate) fn suppression_list_raw(c: &rusqlite::Connection, project: ProjectId) -> Result<SuppressionList> {
    let key: Option<Vec<u8>> = c
        .prepare_cached("SELECT secret FROM suppression_keys WHERE project_id = ?1")
        .db()?
        .query_row([project], |r| r.get(0))
        .optional()
        .db()?;
    let Some(key) = key else { return Ok(SuppressionList::default()) };
    let mut st = c.prepare_cached("SELECT hash FROM suppressed_ids WHERE project_id = ?1").db()?;
    let mut rows = st.query([project]).db()?;
    let mut hashes = vec![];
    while let Some(r) = rows.next().db()? {
        let h = r.get_ref(0).db()?.as_blob().map_err(|e| StoreError::Corrupt(format!("suppressed id: {e}")))?;
        hashes.push(<[u8; 32]>::try_from(h).map_err(|_| StoreError::Corrupt("suppressed id hash size".into()))?);
    }
    Ok(SuppressionList::new(&key, hashes))
}

/// Add `n` to a project's count of refused events, inside whatever transaction `c` has open.
pub(crate) fn count_refused_raw(c: &rusqlite::Connection, project: ProjectId, n: u64) -> Result<()> {
    if n > 0 {
        c.prepare_cached(
            "INSERT INTO suppression_counts (project_id, refused) VALUES (?1, ?2)
             ON CONFLICT (project_id) DO UPDATE SET refused = suppression_counts.refused + excluded.refused",
        )
        .db()?
        .execute(rusqlite::params![project, n as i64])
        .db()?;
    }
    Ok(())
}

pub(crate) async fn suppress(store: &SqliteStore, project: ProjectId, values: &[String]) -> Result<u64> {
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let mut conn = store.pool().acquire().await.db()?;
    with_raw(&mut conn, |c| {
        in_tx(c, |c| {
            let now = now_ms();
            c.prepare_cached(
                "INSERT INTO suppression_keys (project_id, secret, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            ).db()?
            .execute(rusqlite::params![project, &fresh[..], now]).db()?;
            let key: Vec<u8> = c
                .prepare_cached("SELECT secret FROM suppression_keys WHERE project_id = ?1").db()?
                .query_row([project], |r| r.get(0)).db()?;
            let mut insert = c.prepare_cached(
                "INSERT INTO suppressed_ids (project_id, hash, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            ).db()?;
            let mut added = 0;
            for v in values.iter().filter(|v| !v.is_empty()) {
                let h = touchpoint_store::erasure::suppression_hash(&key, v);
                added += insert.execute(rusqlite::params![project, &h[..], now]).db()? as u64;
            }
            set_state(c, SUPPRESSION_VERSION, state(c, SUPPRESSION_VERSION)? + 1)?;
            Ok(added)
        })
    })
    .await
}

/// [`SqliteStore::adopt_suppression`]: the list's version changes only when the list did.
pub(crate) async fn adopt_suppression(
    store: &SqliteStore,
    project: ProjectId,
    key: &[u8],
    hashes: &[[u8; 32]],
) -> Result<()> {
    let mut conn = store.pool().acquire().await.db()?;
    with_raw(&mut conn, |c| {
        in_tx(c, |c| {
            let now = now_ms();
            let current: Option<Vec<u8>> = c
                .prepare_cached("SELECT secret FROM suppression_keys WHERE project_id = ?1")
                .db()?
                .query_row([project], |r| r.get(0))
                .optional()
                .db()?;
            let mut changed = current.as_deref() != Some(key);
            if changed {
                // Hashes under another key match nothing the new key hashes.
                c.prepare_cached("DELETE FROM suppressed_ids WHERE project_id = ?1").db()?.execute([project]).db()?;
                c.prepare_cached(
                    "INSERT INTO suppression_keys (project_id, secret, created_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (project_id) DO UPDATE SET secret = excluded.secret",
                )
                .db()?
                .execute(rusqlite::params![project, key, now])
                .db()?;
            }
            let mut insert = c.prepare_cached(
                "INSERT INTO suppressed_ids (project_id, hash, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            ).db()?;
            for h in hashes {
                changed |= insert.execute(rusqlite::params![project, &h[..], now]).db()? > 0;
            }
            if changed {
                set_state(c, SUPPRESSION_VERSION, state(c, SUPPRESSION_VERSION)? + 1)?;
            }
            Ok(())
        })
    })
    .await
}

pub(crate) async fn suppression_list(store: &SqliteStore, project: ProjectId) -> Result<SuppressionList> {
    let mut conn = store.pool().acquire().await.db()?;
    with_raw(&mut conn, |c| suppression_list_raw(c, project)).await
}

pub(crate) async fn suppression_stats(store: &SqliteStore, project: ProjectId) -> Result<SuppressionStats> {
    let (ids, refused): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM suppressed_ids WHERE project_id = ?1),
                COALESCE((SELECT refused FROM suppression_counts WHERE project_id = ?1), 0)",
    )
    .bind(project)
    .fetch_one(store.pool())
    .await
    .db()?;
    Ok(SuppressionStats { ids: ids as u64, refused_events: refused as u64 })
}

pub(crate) async fn count_refused(store: &SqliteStore, project: ProjectId, n: u64) -> Result<()> {
    let mut conn = store.pool().acquire().await.db()?;
    with_raw(&mut conn, |c| in_tx(c, |c| count_refused_raw(c, project, n))).await
}

// ---------------------------------------------------------------------------------------
// Purge

/// How often the log truncation is tried when readers keep it from completing (each try
/// waits up to the store's busy timeout for them).
const CHECKPOINT_TRIES: usize = 3;

pub(crate) async fn purge_erased(store: &SqliteStore) -> Result<PurgeReport> {
    // This process writes nothing meanwhile; readers go on (on the snapshot they began).
    let _appender = store.appender.lock().await;
    let mut conn = store.pool().acquire().await.db()?;
    let mut steps = vec![];
    let secure: i64 = sqlx::query_scalar("PRAGMA secure_delete").fetch_one(&mut *conn).await.db()?;
    steps.push(format!("secure_delete = {}", if secure == 1 { "ON" } else { "OFF" }));
    // The rebuild's temporary copy goes to a file: in memory it would take the whole
    // database's size.
    sqlx::query("PRAGMA temp_store = FILE").execute(&mut *conn).await.db()?;
    let vacuum = sqlx::query("VACUUM").execute(&mut *conn).await;
    sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *conn).await.db()?;
    let vacuumed = match vacuum {
        Ok(_) => {
            steps.push("VACUUM: the file was rebuilt from the data kept".into());
            true
        }
        Err(e) => {
            steps.push(format!("VACUUM failed: {e}"));
            false
        }
    };
    let mut truncated = false;
    for attempt in 1..=CHECKPOINT_TRIES {
        let (busy, log, done): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await.db()?;
        if busy == 0 && log == done {
            steps.push("wal_checkpoint(TRUNCATE): the write-ahead log is empty".into());
            truncated = true;
            break;
        }
        steps.push(format!(
            "wal_checkpoint(TRUNCATE) try {attempt}: busy (readers hold {} of {log} frames)",
            log - done
        ));
    }
    let purged = secure == 1 && vacuumed && truncated;
    if purged {
        with_raw(&mut conn, |c| in_tx(c, |c| set_state(c, PURGE_PENDING, 0))).await?;
        // Leave the log empty again (what it holds now is only that flag).
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await;
    }
    Ok(PurgeReport { purged, steps })
}

/// Whether a purge was left unfinished (a crash during an erasure).
pub(crate) async fn purge_pending(store: &SqliteStore) -> Result<bool> {
    let mut conn = store.pool().acquire().await.db()?;
    Ok(with_raw(&mut conn, |c| state(c, PURGE_PENDING)).await? != 0)
}
