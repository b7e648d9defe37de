//! The commit bus under a real writer and a real store: a subscriber that never reads does
//! not stall ingest, learns exactly which commits it missed, and one that keeps up sees
//! every commit, in order, with the ids the store gave, before its events are acknowledged.

use serde_json::json;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, Limits};
use touchpoint_store::bus::{CommitBus, Delivery};
use touchpoint_store::writer::{Submission, Writer, WriterConfig};
use touchpoint_store::Store;
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_subscriber_does_not_stall_ingest_nor_lose_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap());
    let p = store.create_project("bus", &default_catalog()).await.unwrap().id;
    let bus = CommitBus::new();
    let mut stuck = bus.subscribe("stuck", 1);
    let mut follower = bus.subscribe("follower", 1_000);
    let (writer, task) = Writer::start(store.clone(), WriterConfig::default(), Some(bus.clone())).await.unwrap();
    let n = 40;
    for i in 0..n {
        let e = Event::parse(
            json!({"type": "track", "messageId": format!("m{i}"), "userId": format!("u{}", i % 7), "event": "A"}),
            &ParseContext::default(),
            &Limits::default(),
        )
        .unwrap();
        // One submission at a time: one group commit each.
        let r = writer.submit_wait(Submission { project: p, events: vec![e], failed: vec![] }).await.unwrap();
        assert_eq!(r.stored, 1);
    }
    // The follower saw every commit, in order, with the ids the store gave.
    let (mut seqs, mut ids) = (vec![], vec![]);
    while let Some(Delivery::Commit(c)) = follower.try_recv() {
        seqs.push(c.seq);
        ids.extend(c.inserted.iter().flatten().copied());
    }
    assert_eq!(seqs, (1..=n).collect::<Vec<u64>>());
    assert_eq!(ids.len(), n as usize);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // The stuck one got the first commit, then is told it missed all the others.
    assert!(matches!(stuck.try_recv(), Some(Delivery::Commit(c)) if c.seq == 1));
    assert!(
        matches!(stuck.try_recv(), Some(Delivery::Lagged { first_missed_seq: 2, missed }) if missed == n - 1),
        "the lag notice names the first commit missed and how many"
    );
    let stats = bus.stats();
    assert_eq!((stats[0].lags, stats[0].missed, stats[1].missed), (1, n - 1, 0));
    drop(writer);
    task.await.unwrap();
    // The writer is gone: the bus with it, and every subscription ends.
    drop(bus);
    assert!(follower.recv().await.is_none());
}
