//! The embedded SQLite backend against the conformance suite, on real files.

use std::sync::Arc;
use touchpoint_store::Store;
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let root = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    touchpoint_store_conformance::run_all(|| {
        let dir = root.path().join(counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst).to_string());
        async move {
            let s = SqliteStore::open(&dir, OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
            Arc::new(s) as Arc<dyn Store>
        }
    })
    .await;
}

/// A fresh embedded store, opened as the writer, and its data directory.
async fn fresh_store() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    Some((Arc::new(s) as Arc<dyn Store>, dir))
}

/// The same checks, one test each (what a backend with a failing check shows best).
mod checks {
    touchpoint_store_conformance::conformance_tests!(super::fresh_store);
}

#[tokio::test]
async fn a_second_writer_is_refused_and_readers_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let _w = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let err = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("in use by another touchpoint process"), "{err}");
    SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
        use touchpoint_store::MetaStore;
        s.create_project("keep", &touchpoint_core::catalog::default_catalog()).await.unwrap();
    }
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    use touchpoint_store::MetaStore;
    assert!(s.project_by_name("keep").await.unwrap().is_some());
}

mod events {
    //! What the segment layout must keep true beyond the conformance suite: dedup across
    //! restarts and beside another process, a failed commit that leaves nothing behind, and
    //! files from before segments.

    use serde_json::json;
    use std::path::Path;
    use touchpoint_core::catalog::default_catalog;
    use touchpoint_core::event::ParseContext;
    use touchpoint_core::{Event, IdentityOp, Limits};
    use touchpoint_store::{CommitBatch, EventStore, MetaStore, NewEvent, NewFailedEvent, Store};
    use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

    fn ev(project: i64, mid: &str) -> NewEvent {
        let v =
            json!({"type":"track","messageId":mid,"userId":"u","event":"Koupeno","timestamp":"2026-03-01T10:00:00Z"});
        let cx = ParseContext { received_at: 1_790_000_000_000, ..Default::default() };
        NewEvent { project, event: Event::parse(v, &cx, &Limits::default()).unwrap(), customer: 1, touchpoint: Some(3) }
    }

    async fn open(dir: &Path, mode: OpenMode) -> SqliteStore {
        SqliteStore::open(dir, mode, &SqliteOptions::default()).await.unwrap()
    }

    fn stored(ids: &[Option<i64>]) -> Vec<bool> {
        ids.iter().map(Option::is_some).collect()
    }

    #[tokio::test]
    async fn duplicates_are_caught_after_a_restart_and_beside_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let p = {
            let s = open(dir.path(), OpenMode::Writer).await;
            let p = s.create_project("p", &default_catalog()).await.unwrap().id;
            assert_eq!(stored(&s.append_events(&[ev(p, "a"), ev(p, "b")], &[]).await.unwrap()), [true, true]);
            p
        };
        let w = open(dir.path(), OpenMode::Writer).await;
        assert_eq!(stored(&w.append_events(&[ev(p, "a"), ev(p, "c")], &[]).await.unwrap()), [false, true]);
        // Another handle on the same file writes; this one must notice before it writes again.
        let other = open(dir.path(), OpenMode::Shared).await;
        assert_eq!(stored(&other.append_events(&[ev(p, "c"), ev(p, "d")], &[]).await.unwrap()), [false, true]);
        assert_eq!(stored(&w.append_events(&[ev(p, "d"), ev(p, "e")], &[]).await.unwrap()), [false, true]);
        let all = w.scan_events(Some(p), 0, 100).await.unwrap();
        let mids: Vec<&str> = all.iter().map(|e| e.message_id.as_str()).collect();
        assert_eq!(mids, ["a", "b", "c", "d", "e"]);
        assert!(all.windows(2).all(|x| x[0].id < x[1].id), "ids keep rising across handles");
    }

    /// What dedup guarantees with a window of W events (the server's mode): a repeat of any
    /// of a project's last W events is caught, in the same process and after a restart,
    /// whatever the data before; memory holds at most 2 W hashes per project. Without a
    /// window (imports), everything stored is remembered.
    #[tokio::test]
    async fn dedup_remembers_at_least_the_window_and_at_most_twice_it() {
        let dir = tempfile::tempdir().unwrap();
        let windowed = SqliteOptions { dedup_window: Some(5_000), ..Default::default() };
        let id = |i: usize| format!("m{i}");
        let batch = |p: i64, ids: std::ops::Range<usize>| ids.map(|i| ev(p, &id(i))).collect::<Vec<_>>();
        let (p, q) = {
            let s = SqliteStore::open(dir.path(), OpenMode::Writer, &windowed).await.unwrap();
            let p = s.create_project("p", &default_catalog()).await.unwrap().id;
            let q = s.create_project("q", &default_catalog()).await.unwrap().id;
            // 23 000 events in writes of 1 000 (segments of up to 2048 events).
            for k in 0..23 {
                assert!(s
                    .append_events(&batch(p, k * 1000..(k + 1) * 1000), &[])
                    .await
                    .unwrap()
                    .iter()
                    .all(Option::is_some));
            }
            s.append_events(&batch(q, 0..10), &[]).await.unwrap();
            assert!(s.remembered(p).await <= 10_000, "at most two generations: {}", s.remembered(p).await);
            // The last 5 000 are caught, at every position in the window.
            for i in (18_000..23_000).step_by(97) {
                assert_eq!(s.append_events(&[ev(p, &id(i))], &[]).await.unwrap(), [None], "m{i}");
            }
            (p, q)
        };
        // After a restart: the newest segments are loaded at open, the window again.
        let s = SqliteStore::open(dir.path(), OpenMode::Writer, &windowed).await.unwrap();
        let remembered = s.remembered(p).await;
        assert!((5_000..=5_000 + 2048).contains(&remembered), "{remembered}");
        for i in (18_000..23_000).step_by(89) {
            assert_eq!(s.append_events(&[ev(p, &id(i))], &[]).await.unwrap(), [None], "m{i} after a restart");
        }
        assert_eq!(s.append_events(&batch(q, 0..10), &[]).await.unwrap(), vec![None; 10], "every project's window");
        drop(s);
        // An import remembers everything: the oldest event is caught too.
        let all = SqliteOptions { dedup_window: None, ..Default::default() };
        let s = SqliteStore::open(dir.path(), OpenMode::Writer, &all).await.unwrap();
        assert_eq!(s.remembered(p).await, 23_000);
        assert_eq!(s.append_events(&batch(p, 0..23_000), &[]).await.unwrap(), vec![None; 23_000]);
        assert_eq!(s.count_events(p).await.unwrap(), 23_000);
    }

    /// A batch of events `m{i}` for `ids`, of project `p` where `i % 3 != 0` and of `q`
    /// otherwise, of a few customers and touchpoints.
    fn mixed(p: i64, q: i64, ids: impl Iterator<Item = usize>) -> CommitBatch {
        let events = ids
            .map(|i| {
                let mut e = ev(if i % 3 == 0 { q } else { p }, &format!("m{i}"));
                e.customer = (i % 37) as i64 + 1;
                e.touchpoint = (i % 5 != 0).then_some((i % 4) as i64 + 1);
                e.event.timestamp += i as i64 * 1000;
                e
            })
            .collect();
        CommitBatch { events, ..Default::default() }
    }

    #[tokio::test]
    async fn prepared_commits_store_exactly_what_plain_ones_do() {
        // Two stores get the same batches, the second with Store::prepare as the writer
        // does it: runs longer than a segment, two projects interleaved, repeats of stored
        // messageIds and repeats within a batch (which make a prepared run be encoded again).
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (open(da.path(), OpenMode::Writer).await, open(db.path(), OpenMode::Writer).await);
        let mut projects = vec![];
        for s in [&a, &b] {
            let p = s.create_project("p", &default_catalog()).await.unwrap().id;
            let q = s.create_project("q", &default_catalog()).await.unwrap().id;
            projects.push((p, q));
        }
        assert_eq!(projects[0], projects[1]);
        let (p, q) = projects[0];
        let batches: Vec<Box<dyn Fn() -> CommitBatch>> = vec![
            Box::new(move || mixed(p, q, 0..5000)),
            Box::new(move || mixed(p, q, (4000..7000).chain(6500..6600))),
            Box::new(move || mixed(p, q, (0..3000).map(|i| i * 3))),
            // One repeat in a run, and a run left with one new event.
            Box::new(move || mixed(p, q, (7000..9000).chain([7501]))),
            Box::new(move || mixed(p, q, [100, 9001].into_iter())),
        ];
        for make in &batches {
            let plain = a.commit(&make()).await.unwrap();
            let mut batch = make();
            batch.prepared = b.prepare(&batch);
            assert!(batch.prepared.is_some(), "the SQLite store prepares its commits");
            assert_eq!(b.commit(&batch).await.unwrap(), plain);
        }
        for project in [p, q] {
            let (ea, eb) = (
                a.scan_events(Some(project), 0, 100_000).await.unwrap(),
                b.scan_events(Some(project), 0, 100_000).await.unwrap(),
            );
            assert!(ea.len() > 2048, "more than a segment");
            assert_eq!(ea, eb);
            let (pa, pb) = (
                a.scan_points(project, 0, None, 100_000).await.unwrap(),
                b.scan_points(project, 0, None, 100_000).await.unwrap(),
            );
            assert_eq!(pa, pb);
            assert_eq!(
                a.daily_volume(project, 0, 100_000).await.unwrap(),
                b.daily_volume(project, 0, 100_000).await.unwrap()
            );
        }
        for customer in [1, 17, 37] {
            let (ta, tb) = (
                a.customer_events(&[customer], None, 10_000).await.unwrap(),
                b.customer_events(&[customer], None, 10_000).await.unwrap(),
            );
            assert!(!ta.is_empty());
            assert_eq!(ta, tb);
        }
    }

    #[tokio::test]
    async fn a_commit_that_fails_stores_nothing_and_forgets_its_messageids() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), OpenMode::Writer).await;
        let p = s.create_project("p", &default_catalog()).await.unwrap().id;
        // A trigger makes the last statement of the group (the failed event) fail, after
        // the events were written into the transaction.
        sqlx::raw_sql("CREATE TRIGGER refuse BEFORE INSERT ON failed_events BEGIN SELECT RAISE(ABORT, 'refused'); END")
            .execute(s.pool())
            .await
            .unwrap();
        let failed = NewFailedEvent {
            project: p,
            received_at: 1,
            source: "api".into(),
            field: "userId".into(),
            reason: "missing".into(),
            raw: b"{}".to_vec(),
        };
        let bad = CommitBatch {
            identity_ops: vec![IdentityOp::NewCustomer { id: 7, project: p, user_id: None }],
            events: vec![ev(p, "x"), ev(p, "y")],
            failed: vec![failed],
            ..Default::default()
        };
        let err = s.commit(&bad).await.unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(s.count_events(p).await.unwrap(), 0);
        assert!(s.customer(7).await.unwrap().is_none(), "the identity changes went too");
        sqlx::raw_sql("DROP TRIGGER refuse").execute(s.pool()).await.unwrap();
        let again = s.append_events(&[ev(p, "x"), ev(p, "y"), ev(p, "x")], &[]).await.unwrap();
        assert_eq!(stored(&again), [true, true, false], "x and y were never stored");
    }

    #[tokio::test]
    async fn files_with_one_row_per_event_are_converted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (p, q) = {
            let s = open(dir.path(), OpenMode::Writer).await;
            let p = s.create_project("p", &default_catalog()).await.unwrap().id;
            let q = s.create_project("q", &default_catalog()).await.unwrap().id;
            // The table as files before segments had it, with ids that interleave projects
            // and have a gap.
            sqlx::raw_sql(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, project_id BIGINT NOT NULL, message_id TEXT NOT NULL,
                     type TEXT NOT NULL, name TEXT, user_id TEXT, anonymous_id TEXT, customer_id BIGINT NOT NULL,
                     touchpoint_id BIGINT, ts_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL, flags INTEGER NOT NULL,
                     body TEXT NOT NULL, UNIQUE (project_id, message_id))",
            )
            .execute(s.pool())
            .await
            .unwrap();
            for (id, project, mid, tp) in
                [(5, p, "m5", Some(2)), (6, p, "m6", None), (7, q, "m7", Some(1)), (9, p, "m9", Some(4))]
            {
                sqlx::query(
                    "INSERT INTO events VALUES (?, ?, ?, 'page', 'Domů', NULL, 'anon-ž', 11, ?, 1767225600000, 1767225601000, 8, ?)",
                )
                .bind(id)
                .bind(project)
                .bind(mid)
                .bind(tp)
                .bind(format!("{{\"messageId\":\"{mid}\"}}"))
                .execute(s.pool())
                .await
                .unwrap();
            }
            (p, q)
        };
        let s = open(dir.path(), OpenMode::Writer).await;
        let gone: Option<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = 'events'")
            .fetch_optional(s.pool())
            .await
            .unwrap();
        assert_eq!(gone, None, "the old table is dropped");
        let of_p = s.scan_events(Some(p), 0, 10).await.unwrap();
        assert_eq!(
            of_p.iter().map(|e| (e.id, e.message_id.as_str(), e.touchpoint_id)).collect::<Vec<_>>(),
            [(5, "m5", Some(2)), (6, "m6", None), (9, "m9", Some(4))]
        );
        assert_eq!(of_p[0].anonymous_id.as_deref(), Some("anon-ž"));
        assert_eq!(
            (of_p[0].name.as_deref(), of_p[0].flags, of_p[0].body.as_str()),
            (Some("Domů"), 8, "{\"messageId\":\"m5\"}")
        );
        assert_eq!(s.scan_events(Some(q), 0, 10).await.unwrap()[0].id, 7);
        assert_eq!(s.customer_events(&[11], None, 10).await.unwrap().len(), 4, "the timeline index is built too");
        assert_eq!(stored(&s.append_events(&[ev(p, "m6"), ev(p, "new")], &[]).await.unwrap()), [false, true]);
        assert_eq!(s.scan_events(Some(p), 9, 10).await.unwrap()[0].id, 10, "new ids continue after the old ones");
    }
}
