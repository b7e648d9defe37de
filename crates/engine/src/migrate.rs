//! Moving up (`touchpoint migrate --to CONFIG`): an embedded data directory moved to
//! PostgreSQL (the metadata) and ClickHouse (the events), with the same ids everywhere,
//! resumable after an interruption, and counted at the end.
//!
//! The order: the data directory is opened as the writer (no server may run on it); the
//! target's writer lock is taken in PostgreSQL (no node may run on the target); the
//! metadata is copied in one PostgreSQL transaction
//! ([`touchpoint_store_postgres::PgMetaStore::copy_from_embedded`], which recognises a
//! copy made by an earlier run); the events are copied in id order, a page at a time, each
//! page checkpointed in ClickHouse ([`ClickHouseEvents::copy_in`]) — a run that was cut
//! short resumes after the last checkpoint, removing the rows of the page it was writing
//! ([`ClickHouseEvents::copy_resume`]); then the failed events; then every project's
//! events and failed events are counted in both stores, and only when they agree is the
//! copy marked finished. Until then no node opens the ClickHouse database as its writer.
//! The data directory is left as it was.

use crate::backends::{meta_backend, EventBackend, MetaBackend};
use crate::Config;
use std::path::Path;
use touchpoint_store::{EventStore, MetaStore, StoreError};
use touchpoint_store_clickhouse::{ClickHouseEvents, CopyState, Role};
use touchpoint_store_postgres::{PgMetaStore, PgOptions};
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

/// Events per page of the copy.
const PAGE: usize = 5_000;

/// Where a migration stands, for a progress display.
pub trait MigrateProgress: Send + Sync {
    /// A metadata table was copied, with its rows.
    fn table(&self, name: &str, rows: i64);
    /// `copied` of `total` events are in ClickHouse.
    fn events(&self, copied: u64, total: u64);
}

/// No display.
impl MigrateProgress for () {
    fn table(&self, _: &str, _: i64) {}
    fn events(&self, _: u64, _: u64) {}
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Whether an earlier run had finished it (nothing was copied now).
    pub already_done: bool,
    /// Whether this run resumed one that was cut short.
    pub resumed: bool,
    /// Rows per metadata table, equal in both stores.
    pub tables: Vec<(String, i64)>,
    /// Per project: name, events and failed events, equal in both stores.
    pub projects: Vec<(String, i64, u64)>,
}

/// The PostgreSQL and ClickHouse URLs a target configuration names, or what is wrong
/// with it, in words.
pub fn target_stores(target: &Config) -> Result<(String, String), String> {
    let meta = meta_backend(target.meta_store.as_deref()).map_err(|e| e.to_string())?;
    let events = crate::backends::event_backend(target.event_store.as_deref()).map_err(|e| e.to_string())?;
    match (meta, events) {
        (MetaBackend::Postgres(m), EventBackend::ClickHouse(e)) => Ok((m, e)),
        _ => Err("the target configuration must name meta_store = \"postgres://…\" and event_store = \
                  \"clickhouse://…\" (the stores to move to)"
            .into()),
    }
}

/// Move the embedded store in `data_dir` to the stores `target` names (see the module
/// documentation).
pub async fn migrate(
    data_dir: &Path,
    target: &Config,
    progress: &dyn MigrateProgress,
) -> Result<MigrateReport, StoreError> {
    let (meta_url, events_url) = target_stores(target).map_err(StoreError::Backend)?;
    if !SqliteStore::exists(data_dir) {
        return Err(StoreError::NotFound(format!("Touchpoint data in {}", data_dir.display())));
    }
    let source = SqliteStore::open(data_dir, OpenMode::Writer, &SqliteOptions::default()).await?;
    let meta = PgMetaStore::connect(&meta_url, &PgOptions { max_connections: 4, ..Default::default() }).await?;
    let events = ClickHouseEvents::open(&events_url, Role::Copy).await?;
    let Some(_lock) = meta.try_hold_lock(&events.writer_lock_name()).await? else {
        return Err(StoreError::Locked(
            "a Touchpoint node is running on the target stores; stop it before migrating into them".into(),
        ));
    };
    let state = events.copy_state().await?;
    if state == CopyState::Done {
        let projects = verify(&source, &events).await.map_err(|e| {
            StoreError::Exists(format!(
                "a finished copy in this ClickHouse database that differs from {} now ({e}: events were stored \
                 there since, or it is another directory's); migrate into empty stores",
                data_dir.display()
            ))
        })?;
        return Ok(MigrateReport { already_done: true, resumed: false, tables: vec![], projects });
    }
    let copied = meta.copy_from_embedded(&source, |t, n| progress.table(t, n)).await?;
    let after = events.copy_resume().await?;
    let resumed = matches!(state, CopyState::InProgress(_));
    let mut total = 0u64;
    for p in source.projects().await? {
        total += source.count_events(p.id).await? as u64;
    }
    let mut done = 0u64;
    for p in source.projects().await? {
        // What earlier runs copied (nothing above `after` is left).
        done += events.count_events(p.id).await? as u64;
    }
    progress.events(done, total);
    let mut cursor = after;
    loop {
        let page = source.scan_events(None, cursor, PAGE).await?;
        let Some(last) = page.last().map(|e| e.id) else { break };
        events.copy_in(&page).await?;
        done += page.len() as u64;
        cursor = last;
        progress.events(done, total);
    }
    let failed_after = events.max_failed_id().await?;
    for p in source.projects().await? {
        let mut failed = vec![];
        let mut before = None;
        loop {
            let page = source.failed_events(p.id, before, 1_000).await?;
            let Some(last) = page.last().map(|f| f.id) else { break };
            failed.extend(page.into_iter().filter(|f| f.id > failed_after));
            before = Some(last);
        }
        failed.sort_by_key(|f| f.id);
        events.copy_failed_in(&failed).await?;
    }
    let projects = verify(&source, &events).await?;
    events.copy_finish().await?;
    Ok(MigrateReport { already_done: false, resumed, tables: copied.tables, projects })
}

/// Every project's events and failed events, counted in both stores; an error naming the
/// first that differs.
async fn verify(source: &SqliteStore, events: &ClickHouseEvents) -> Result<Vec<(String, i64, u64)>, StoreError> {
    let mut out = vec![];
    for p in source.projects().await? {
        let (here, there) = (source.count_events(p.id).await?, events.count_events(p.id).await?);
        let (f_here, f_there) = (source.failed_usage(p.id).await?.events, events.failed_usage(p.id).await?.events);
        if here != there || f_here != f_there {
            return Err(StoreError::Corrupt(format!(
                "project {:?}: {here} events and {f_here} failed events in the data directory, {there} and {f_there} \
                 in ClickHouse",
                p.name
            )));
        }
        out.push((p.name, here, f_here));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use touchpoint_core::catalog::default_catalog;
    use touchpoint_core::Event;
    use touchpoint_store::writer::{Submission, Writer, WriterConfig};
    use touchpoint_store::{NewFailedEvent, Store};

    /// An embedded store with two projects, customers merged and not, failed events.
    async fn source(dir: &Path, batches: usize) -> (i64, i64) {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir, OpenMode::Writer, &SqliteOptions::default()).await.unwrap());
        let p = store.create_project("shop", &default_catalog()).await.unwrap().id;
        let q = store.create_project("other", &default_catalog()).await.unwrap().id;
        let (writer, task) = Writer::start(store.clone(), WriterConfig::default(), None).await.unwrap();
        let ev = |v: serde_json::Value| Event::parse(v, &Default::default(), &Default::default()).unwrap();
        for b in 0..batches {
            let events: Vec<Event> = (0..1_000)
                .map(|i| {
                    let n = b * 1_000 + i;
                    if n % 97 == 0 {
                        ev(serde_json::json!({"type":"identify","messageId":format!("m{n}"),"userId":format!("u{}", n % 50),
                            "anonymousId":format!("a{}", n % 70),"traits":{"email":format!("u{}@example.cz", n % 50)}}))
                    } else {
                        let name = ["Product Viewed", "Cart Viewed", "Order Completed"][n % 3];
                        ev(serde_json::json!({"type":"track","messageId":format!("m{n}"),"anonymousId":format!("a{}", n % 70),
                            "event":name}))
                    }
                })
                .collect();
            let failed = vec![NewFailedEvent {
                project: p,
                received_at: 1,
                source: "api".into(),
                field: "userId".into(),
                reason: "test".into(),
                raw: vec![0xff, b'x', b as u8],
            }];
            writer.submit_wait(Submission { project: p, events, failed }).await.unwrap();
        }
        let e = ev(serde_json::json!({"type":"track","messageId":"q1","userId":"z","event":"X"}));
        writer.submit_wait(Submission { project: q, events: vec![e], failed: vec![] }).await.unwrap();
        drop(writer);
        task.await.unwrap();
        (p, q)
    }

    /// Stops the copy (by panicking) once `after` events are in.
    struct StopAfter(u64, AtomicU64);

    impl MigrateProgress for StopAfter {
        fn table(&self, _: &str, _: i64) {}
        fn events(&self, copied: u64, _: u64) {
            self.1.store(copied, Ordering::SeqCst);
            assert!(copied < self.0, "stopped on purpose");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_data_directory_moves_up_resumes_and_is_counted() {
        let Some(ch) = touchpoint_store_clickhouse::testing::fresh_sharded_url() else { return };
        let Some(pg) = touchpoint_store_postgres::testing::fresh_database().await else { return };
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = source(dir.path(), 12).await;
        let target = Config { meta_store: Some(pg.clone()), event_store: Some(ch.clone()), ..Config::default() };

        // Cut short after the first page (the panic stands for a kill).
        use futures::FutureExt;
        let stop = StopAfter(5_000, AtomicU64::new(0));
        let cut = std::panic::AssertUnwindSafe(migrate(dir.path(), &target, &stop)).catch_unwind().await;
        assert!(cut.is_err(), "the first run stops");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await; // its lock's session ends
                                                                         // A page being written when it stopped left rows above the checkpoint.
        let events = ClickHouseEvents::open(&ch, Role::Copy).await.unwrap();
        let CopyState::InProgress(upto) = events.copy_state().await.unwrap() else { panic!("a copy in progress") };
        assert_eq!(upto, 5_000);
        events
            .http()
            .exec(&format!(
                "INSERT INTO events (project, id, message_id, kind, customer, ts, received_at, flags, body)
                 VALUES ({p}, {}, 'half-written', 'track', 1, 0, 0, 0, '{{}}')",
                upto + 1
            ))
            .await
            .unwrap();
        drop(events);
        // No node may write there meanwhile.
        let err = crate::backends::open_store(&Config { data_dir: dir.path().join("node"), ..target.clone() }, None)
            .await
            .err()
            .expect("a node on a half-moved store is refused");
        assert!(err.to_string().contains("migration into these stores has not finished"), "{err}");

        let report = migrate(dir.path(), &target, &()).await.unwrap();
        assert!(report.resumed && !report.already_done, "{report:?}");
        assert_eq!(
            report.projects.iter().map(|(n, e, f)| (n.as_str(), *e, *f)).collect::<Vec<_>>(),
            [("shop", 12_000, 12), ("other", 1, 0)]
        );
        // The scale-out store holds what the directory held, with the same ids.
        let moved = crate::backends::open_store(&Config { data_dir: dir.path().join("node"), ..target.clone() }, None)
            .await
            .unwrap();
        let embedded = SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
        let a = embedded.scan_events(None, 0, 20_000).await.unwrap();
        let b = moved.scan_events(None, 0, 20_000).await.unwrap();
        assert_eq!(a, b, "every event, its id, customer and touchpoint");
        assert_eq!(embedded.customers(p, 0, 1_000).await.unwrap(), moved.customers(p, 0, 1_000).await.unwrap());
        assert_eq!(embedded.merged_customers(p).await.unwrap(), moved.merged_customers(p).await.unwrap());
        assert_eq!(
            embedded.failed_events(p, None, 100).await.unwrap(),
            moved.failed_events(p, None, 100).await.unwrap()
        );
        let key = embedded.keys(p).await.unwrap();
        assert_eq!(key, moved.keys(p).await.unwrap(), "the keys go on working");
        // Run again: nothing to do, the counts still agree.
        drop(moved);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await; // its lock's session ends
        let again = migrate(dir.path(), &target, &()).await.unwrap();
        assert!(again.already_done, "{again:?}");
        // A node on the new stores: a new customer gets a new id, a new event one after
        // the copied ones.
        let moved = crate::backends::open_store(&Config { data_dir: dir.path().join("node"), ..target.clone() }, None)
            .await
            .unwrap();
        let highest = moved.customers(p, 0, 1_000).await.unwrap().iter().map(|c| c.id).max().unwrap();
        let (writer, task) = Writer::start(moved.clone(), WriterConfig::default(), None).await.unwrap();
        let e = Event::parse(
            serde_json::json!({"type":"track","messageId":"after-the-move","userId":"newbie","event":"X"}),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        writer.submit_wait(Submission { project: p, events: vec![e], failed: vec![] }).await.unwrap();
        drop(writer);
        task.await.unwrap();
        let newest = moved.recent_events(p, 1).await.unwrap().remove(0);
        assert_eq!(newest.message_id, "after-the-move");
        assert!(newest.customer_id > highest && newest.id > a.last().unwrap().id, "{newest:?}");
        drop(moved);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // Migrating again now would not match: refused, nothing touched.
        let err = migrate(dir.path(), &target, &()).await.unwrap_err();
        assert!(err.to_string().contains("stored there since"), "{err}");
        // Another directory into the same stores is refused: they hold its data.
        let other = tempfile::tempdir().unwrap();
        source(other.path(), 3).await;
        let pg2 = touchpoint_store_postgres::testing::fresh_database().await.unwrap();
        let err = migrate(other.path(), &Config { meta_store: Some(pg2), ..target.clone() }, &()).await.unwrap_err();
        assert!(err.to_string().contains("finished copy"), "{err}");
    }
}
