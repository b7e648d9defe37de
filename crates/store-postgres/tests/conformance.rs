//! The PostgreSQL metadata store, joined to the embedded event store ([`SplitStore`]),
//! against the conformance suite — one test per check, each on a fresh database of a
//! throwaway server ([`touchpoint_store_postgres::testing`]) and a fresh data directory —
//! and what the split adds: the order of a group commit's halves, replays, migrations run
//! by processes starting together, and the same answers as SQLite where SQLite computes.

use serde_json::json;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, IdentityGraph, IdentityKind, Limits};
use touchpoint_store::writer::{Submission, Writer, WriterConfig};
use touchpoint_store::{CommitBatch, EventStore, MetaStore, NewEvent, Store};
use touchpoint_store_postgres::{testing, PgMetaStore, PgOptions, SplitStore};
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

/// A fresh split store and the data directory it keeps its events in.
async fn fresh_store() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::split_store(dir.path()).await?;
    Some((Arc::new(store) as Arc<dyn Store>, dir))
}

mod checks {
    touchpoint_store_conformance::conformance_tests!(super::fresh_store);
}

fn event(v: serde_json::Value) -> Event {
    Event::parse(v, &ParseContext { received_at: 1_790_000_000_000, ..Default::default() }, &Limits::default()).unwrap()
}

/// Make the event store refuse every write of events until `heal` (a stand-in for a full
/// disk or a crash between the two commits).
async fn break_events(s: &SplitStore) {
    sqlx::raw_sql(
        "CREATE TRIGGER broken BEFORE INSERT ON event_segments BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
    )
    .execute(s.events.pool())
    .await
    .unwrap();
}

async fn heal(s: &SplitStore) {
    sqlx::raw_sql("DROP TRIGGER broken").execute(s.events.pool()).await.unwrap();
}

/// The metadata half commits first: when the event half fails, the batch's customers
/// exist without its events; committing the same batch again stores its events once and
/// changes no customer (identity changes are idempotent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_commits_first_and_a_replay_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = testing::split_store(dir.path()).await else { return };
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = IdentityGraph::new();
    let mut batch = CommitBatch::default();
    let anon = g.resolve(p, None, Some("ck-1"), &mut batch.identity_ops);
    let alice = g.resolve(p, Some("alice"), None, &mut batch.identity_ops);
    g.resolve(p, Some("alice"), Some("ck-1"), &mut batch.identity_ops); // merges anon into alice
    let bob = g.resolve(p, Some("bob"), Some("ck-1"), &mut batch.identity_ops); // a refused merge
    batch.traits.push((alice, json!({"plan":"pro","city":"Brno"}).as_object().unwrap().clone()));
    for (i, c) in [anon, alice, bob].into_iter().enumerate() {
        let e = event(json!({"type":"track","messageId":format!("m{i}"),"userId":"x","event":"A"}));
        batch.events.push(NewEvent { project: p, event: e, customer: c, touchpoint: None });
    }
    batch.prepared = s.prepare(&batch);

    break_events(&s).await;
    let err = s.commit(&batch).await.unwrap_err();
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert_eq!(s.count_events(p).await.unwrap(), 0, "no event of the failed commit");
    let customers = s.customers(p, 0, 100).await.unwrap();
    assert_eq!(customers.iter().map(|c| c.id).collect::<Vec<_>>(), [alice, bob], "customers committed first");
    assert_eq!(s.customer(anon).await.unwrap().unwrap().merged_into, Some(alice));
    let conflicts = s.conflicts(p, 10).await.unwrap().len();

    heal(&s).await;
    let ids = s.commit(&batch).await.unwrap();
    assert!(ids.iter().all(Option::is_some), "{ids:?}");
    assert_eq!(s.count_events(p).await.unwrap(), 3);
    assert_eq!(s.customers(p, 0, 100).await.unwrap(), customers, "the same customers, traits and all");
    assert_eq!(s.merged_ids(alice).await.unwrap(), [anon, alice]);
    assert_eq!(s.find_identity(p, IdentityKind::Anonymous, "ck-1").await.unwrap(), Some(anon));
    assert_eq!(s.load_identity_graph().await.unwrap().lookup(p, IdentityKind::Anonymous, "ck-1"), Some(alice));
    assert_eq!(s.conflicts(p, 10).await.unwrap().len(), conflicts + 1, "a refused merge is recorded again");
    let graph = s.load_identity_graph().await.unwrap();
    assert_eq!(graph.lookup(p, IdentityKind::User, "bob"), Some(bob));
}

/// Through the writer: a group whose event half fails is not acknowledged, the writer
/// reloads its graph from PostgreSQL, and the retried events go to the customers already
/// there; nothing acknowledged is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_event_half_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = testing::split_store(dir.path()).await else { return };
    let s = Arc::new(s);
    let p = s.create_project("w", &default_catalog()).await.unwrap().id;
    let (writer, task) = Writer::start(s.clone(), WriterConfig::default(), None).await.unwrap();
    let sub = |mids: &[&str]| Submission {
        project: p,
        events: mids
            .iter()
            .map(|m| {
                event(json!({"type":"identify","messageId":m,"userId":"carol","anonymousId":"ck-c",
                "traits":{"tier":"gold"}}))
            })
            .collect(),
        failed: vec![],
    };
    assert_eq!(writer.submit(sub(&["a"])).await.unwrap().stored, 1);
    break_events(&s).await;
    assert!(writer.submit(sub(&["b", "c"])).await.is_err(), "not acknowledged");
    heal(&s).await;
    let r = writer.submit(sub(&["b", "c"])).await.unwrap();
    assert_eq!(r.stored, 2, "{r:?}");
    let carol = s.find_identity(p, IdentityKind::User, "carol").await.unwrap().unwrap();
    assert_eq!(s.customers(p, 0, 10).await.unwrap().len(), 1, "one customer, whatever failed");
    let events = s.scan_events(Some(p), 0, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.message_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(events.iter().all(|e| e.customer_id == carol));
    assert_eq!(s.customer(carol).await.unwrap().unwrap().traits["tier"], "gold");
    drop(writer);
    task.await.unwrap();
}

/// Processes starting together migrate the database once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let Some(url) = testing::fresh_database().await else { return };
    let opts = PgOptions { max_connections: 2, ..Default::default() };
    let (a, b, c) = tokio::join!(
        PgMetaStore::connect(&url, &opts),
        PgMetaStore::connect(&url, &opts),
        PgMetaStore::connect(&url, &opts)
    );
    let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(a.pool()).await.unwrap();
    assert_eq!(versions.len(), touchpoint_store::migrate::MIGRATIONS.len());
    assert!(versions.windows(2).all(|w| w[0] < w[1]));
    // Reconnecting runs nothing again.
    PgMetaStore::connect(&url, &opts).await.unwrap();
}

/// Trait values come back as SQLite's `CAST(json_extract(..) AS TEXT)` gives them, for
/// every kind of JSON value, and after patches that remove and nest keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trait_values_and_patches_match_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pg) = testing::split_store(dir.path()).await else { return };
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open(lite_dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let values = [
        json!("text"),
        json!("ünï \"quoted\" \\ back"),
        json!(true),
        json!(false),
        json!(42),
        json!(-7),
        json!(1.5),
        json!(2.0),
        json!(1e20),
        json!(0.1 + 0.2),
        json!(1.0e-5),
        json!(123_456_789_012_345_678_u64),
        json!(18_446_744_073_709_551_615_u64),
        json!([1, "a", {"b": null}]),
        json!({"z": 1, "a": {"y": [true]}}),
        json!(null),
    ];
    let stores: [&dyn Store; 2] = [&pg, &lite];
    let mut answers = vec![];
    for s in stores {
        let p = s.create_project("t", &default_catalog()).await.unwrap().id;
        let mut g = IdentityGraph::new();
        let mut ops = vec![];
        let mut traits = vec![];
        for (i, v) in values.iter().enumerate() {
            let c = g.resolve(p, Some(&format!("u{i}")), None, &mut ops);
            let patch = json!({"k": v, "other": i, "gone": 1, "nested": {"a": 1, "b": 2}});
            traits.push((c, patch.as_object().unwrap().clone()));
        }
        s.apply_identity(&ops, &traits).await.unwrap();
        // Remove and nest: keys keep their places.
        let later: Vec<_> = traits
            .iter()
            .map(|(c, _)| {
                (*c, json!({"gone": null, "nested": {"a": null, "c": 3}, "new": "x"}).as_object().unwrap().clone())
            })
            .collect();
        s.apply_identity(&[], &later).await.unwrap();
        let mut customers = vec![];
        for c in s.customers(p, 0, 100).await.unwrap() {
            customers.push(serde_json::to_string(&c.traits).unwrap());
        }
        answers.push((s.trait_values(p, "k").await.unwrap(), s.trait_values(p, "nested").await.unwrap(), customers));
    }
    assert_eq!(answers[0], answers[1], "PostgreSQL (left) and SQLite (right) agree");
    assert_eq!(answers[0].0.len(), values.len() - 1, "null is no value");
}
