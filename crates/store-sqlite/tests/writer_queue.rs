//! The writer's bound on queued events, under a real store: a request holds its share of
//! the queue until it is answered and no longer, so a client that sends one batch after
//! another — each as large as the queue allows — is never told "busy" by its own last one.

use serde_json::json;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, Limits};
use touchpoint_store::writer::{Submission, Writer, WriterConfig};
use touchpoint_store::Store;
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

fn batch(project: i64, round: usize, n: usize) -> Submission {
    let events = (0..n)
        .map(|i| {
            let e = json!({"type": "track", "messageId": format!("r{round}-{i}"), "userId": "u", "event": "A"});
            Event::parse(e, &ParseContext::default(), &Limits::default()).unwrap()
        })
        .collect();
    Submission { project, events, failed: vec![] }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_request_leaves_the_queue_free_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap());
    let p = store.create_project("queue", &default_catalog()).await.unwrap().id;
    let config = WriterConfig { queue_events: 50, ..Default::default() };
    let (writer, task) = Writer::start(store.clone(), config, None).await.unwrap();
    for round in 0..2000 {
        // 30 of 50: two such batches at once would not fit; one after another always does.
        let r = writer.submit(batch(p, round, 30)).await;
        assert!(r.as_ref().is_ok_and(|r| r.stored == 30), "round {round}: {r:?}");
    }
    drop(writer);
    task.await.unwrap();
}
