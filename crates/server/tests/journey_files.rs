//! The journey index survives a restart through its file, events stored while the server
//! was down are replayed from the store, and a bulk load builds it once at its end.

use serde_json::json;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::KeyKind;
use touchpoint_server::{Config, Node, Server};
use touchpoint_store::{issue_key, CommitBatch, MetaStore, NewEvent, Store};
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

async fn open(dir: &std::path::Path) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(dir, OpenMode::Writer, &SqliteOptions { durable: true, cache_mib: 8, ..Default::default() })
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn the_index_is_saved_on_shutdown_and_catches_up_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let store = open(dir.path()).await;
    let p = store.create_project("p", &default_catalog()).await.unwrap();
    let (key, _) = issue_key(&*store, p.id, KeyKind::Write).await.unwrap();

    // Serve, send three page views, stop.
    let server = Server::new(Node::with_store(config.clone(), store.clone() as Arc<dyn Store>).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/batch", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let batch: Vec<_> = ["/kosik", "/pokladna", "/kosik"]
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"type":"page","userId":"u","timestamp":format!("2026-01-01T00:00:0{i}Z"),"properties":{"path":p}}))
        .collect();
    let r = reqwest::Client::new()
        .post(&url)
        .basic_auth(&key, Some(""))
        .json(&json!({"batch": batch}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let file = dir.path().join("journeys").join(format!("{}.tpj", p.id));
    assert!(file.exists(), "the journey file is written on shutdown");

    // While the server is down, two more events reach the store (as an import would).
    let tps = store.touchpoints(p.id).await.unwrap();
    let cart = tps.iter().find(|t| t.touchpoint.key == "cart").unwrap().id;
    let customer = store.customers(p.id, 0, 10).await.unwrap()[0].id;
    let mut batch = CommitBatch::default();
    for (i, mid) in ["late-1", "late-2"].iter().enumerate() {
        let e = touchpoint_core::Event::parse(
            json!({"type":"page","userId":"u","messageId":mid,"timestamp":format!("2026-01-02T00:00:0{i}Z"),"properties":{"path":"/kosik"}}),
            &touchpoint_core::event::ParseContext { received_at: 1_790_000_000_000, ..Default::default() },
            &touchpoint_core::Limits::default(),
        )
        .unwrap();
        batch.events.push(NewEvent { project: p.id, event: e, customer, touchpoint: Some(cart) });
    }
    store.commit(&batch).await.unwrap();

    // Start again: the file plus the replay give all five, in order.
    let server = Node::with_store(config, store.clone() as Arc<dyn Store>).await.unwrap();
    let snap = server.engine().journeys.index.snapshot(p.id).unwrap();
    assert_eq!(snap.set.event_count(), 5);
    let keys: Vec<&str> = snap.set.journey(0).touchpoints.iter().map(|&t| snap.dict.key(t)).collect();
    assert_eq!(keys, ["cart", "checkout", "cart", "cart", "cart"]);
    server.close().await.unwrap();

    // A damaged file is not trusted: the store is scanned instead.
    std::fs::write(&file, b"garbage").unwrap();
    let server =
        Node::with_store(Config { data_dir: dir.path().to_path_buf(), ..Config::default() }, store as Arc<dyn Store>)
            .await
            .unwrap();
    assert_eq!(server.engine().journeys.index.snapshot(p.id).unwrap().set.event_count(), 5);
    server.close().await.unwrap();
}

/// `n` page views of the cart by customer `customer`, from `from` seconds on.
fn cart_views(project: i64, customer: i64, cart: i64, from: usize, n: usize) -> Vec<NewEvent> {
    (from..from + n)
        .map(|i| {
            let e = touchpoint_core::Event::parse(
                json!({"type":"page","userId":"u","messageId":format!("m{i}"),"timestamp":format!("2026-01-02T00:{:02}:{:02}Z", i / 60, i % 60),"properties":{"path":"/kosik"}}),
                &touchpoint_core::event::ParseContext { received_at: 1_790_000_000_000, ..Default::default() },
                &touchpoint_core::Limits::default(),
            )
            .unwrap();
            NewEvent { project, event: e, customer, touchpoint: Some(cart) }
        })
        .collect()
}

#[tokio::test]
async fn a_bulk_load_builds_the_index_when_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let store = open(dir.path()).await;
    let p = store.create_project("p", &default_catalog()).await.unwrap();
    let cart = store.touchpoints(p.id).await.unwrap().iter().find(|t| t.touchpoint.key == "cart").unwrap().id;
    let file = dir.path().join("journeys").join(format!("{}.tpj", p.id));
    let commit = |events: Vec<NewEvent>| {
        let store = store.clone();
        async move { store.commit(&CommitBatch { events, ..Default::default() }).await.unwrap() }
    };

    // A first load into a new project: nothing is indexed while it runs, all of it after.
    let server = Node::bulk_with_store(config.clone(), store.clone() as Arc<dyn Store>).await.unwrap();
    commit(cart_views(p.id, 1, cart, 0, 4)).await;
    assert!(server.engine().journeys.index.snapshot(p.id).is_none(), "no live index during a bulk load");
    server.close().await.unwrap();
    assert!(file.exists(), "closing writes the journey file");
    let server = Node::with_store(config.clone(), store.clone() as Arc<dyn Store>).await.unwrap();
    assert_eq!(server.engine().journeys.index.snapshot(p.id).unwrap().set.event_count(), 4);
    server.close().await.unwrap();

    // A second load on top: the file is read and only the new events are added.
    let server = Node::bulk_with_store(config.clone(), store.clone() as Arc<dyn Store>).await.unwrap();
    commit(cart_views(p.id, 2, cart, 4, 3)).await;
    server.close().await.unwrap();
    let before = std::fs::metadata(&file).unwrap().len();
    let server = Node::with_store(config, store.clone() as Arc<dyn Store>).await.unwrap();
    let snap = server.engine().journeys.index.snapshot(p.id).unwrap();
    assert_eq!((snap.set.event_count(), snap.set.customer_count()), (7, 2));
    server.close().await.unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), before, "the file already held all seven");
}
