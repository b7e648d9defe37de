//! Kill the real `touchpoint serve` process with SIGKILL while clients send, start it
//! again on the same data directory, and find every acknowledged event exactly once — with
//! everything in the data directory, and with the metadata on a real PostgreSQL
//! (`--meta-store`, here through `TOUCHPOINT_META_STORE`).

#[path = "common/serve.rs"]
mod serve;
use serve::serve;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use touchpoint_store::EventStore;

/// The binary, with the metadata store `meta` (`None`: the data directory).
fn bin(meta: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    c.env_remove("TOUCHPOINT_CONFIG");
    match meta {
        Some(url) => c.env("TOUCHPOINT_META_STORE", url),
        None => c.env_remove("TOUCHPOINT_META_STORE"),
    };
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_exactly_once() {
    survive_kill_9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_exactly_once_with_postgres_metadata() {
    // `None` after the harness said SKIPPED (no PostgreSQL here, and not required).
    if let Some(url) = touchpoint_store_postgres::testing::fresh_database().await {
        survive_kill_9(Some(&url)).await;
    }
}

async fn survive_kill_9(meta: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let out = bin(meta).args(["project", "create", "crash", "--json", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let write = keys["write_key"].as_str().unwrap().to_string();

    let (mut child, base) = serve(bin(meta), dir.path());
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = vec![];
    for c in 0..6 {
        let (acked, base, write) = (acked.clone(), base.clone(), write.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0.. {
                let ids: Vec<String> = (0..50).map(|k| format!("c{c}-b{b}-e{k}")).collect();
                let batch: Vec<Value> = ids
                    .iter()
                    .map(|id| json!({"type":"track","userId":format!("u{c}"),"event":"Crash Test","messageId":id}))
                    .collect();
                let r = client
                    .post(format!("{base}/v1/batch"))
                    .basic_auth(&write, Some(""))
                    .json(&json!({"batch": batch}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => acked.lock().unwrap().extend(ids),
                    _ => break,
                }
            }
        }));
    }
    // Let them send for a while, then pull the plug.
    let t = Instant::now();
    while acked.lock().unwrap().len() < 20_000 && t.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 1_000, "only {} events were acknowledged before the kill", acked.len());

    // Start again on the same directory: it must come up and hold every acknowledged event.
    let (mut child, base) = serve(bin(meta), dir.path());
    let store = touchpoint_store_sqlite::SqliteStore::open(
        dir.path(),
        touchpoint_store_sqlite::OpenMode::Shared,
        &Default::default(),
    )
    .await
    .unwrap();
    let events = store.scan_events(None, 0, usize::MAX).await.unwrap();
    let stored: HashSet<String> = events.iter().map(|e| e.message_id.clone()).collect();
    assert_eq!(stored.len(), events.len(), "no event is stored twice");
    let missing: Vec<&String> = acked.iter().filter(|m| !stored.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events were lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );

    // Sending the acknowledged ones again stores nothing new.
    let client = reqwest::Client::new();
    let sample: Vec<Value> = acked
        .iter()
        .take(100)
        .map(|id| json!({"type":"track","userId":"u0","event":"Crash Test","messageId":id}))
        .collect();
    let r: Value = client
        .post(format!("{base}/v1/batch"))
        .basic_auth(&write, Some(""))
        .json(&json!({"batch": sample}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((r["stored"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(100)));
    child.kill().unwrap();
    child.wait().unwrap();
}
