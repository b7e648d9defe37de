//! A real cluster on this machine: PostgreSQL, two ClickHouse servers as two shards and
//! two real `touchpoint serve` processes in front. Clients send Segment batches to the
//! nodes in turn and retry a batch on the other node when one fails; meanwhile the
//! relaying node is killed with SIGKILL and started again; the writing node is killed and
//! the other node takes over its work; one shard is killed and started again; the writing
//! node's PostgreSQL session is ended under it (it stops writing, and one node writes
//! again); the writing node stops running but stays alive (SIGSTOP: the other node ends
//! its silent session and takes over; running again, it relays); the writing node is
//! killed while a batch is on its way to the other one.
//! Every acknowledged event is stored exactly once, and both nodes give the same answers.

#[path = "common/serve.rs"]
mod serve;
use serve::serve;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use touchpoint_store::EventStore;
use touchpoint_store_clickhouse::testing::{skip, ChServer};
use touchpoint_store_clickhouse::{ClickHouseEvents, Role};

/// A `touchpoint serve` process, killed when dropped (also when the test fails).
struct Node(std::process::Child);

impl Node {
    /// Start one on `dir`; with the address it listens at.
    fn start(binary: Command, dir: &std::path::Path) -> (Node, String) {
        let (child, base) = serve(binary, dir);
        (Node(child), base)
    }

    /// Send it a signal (`STOP`, `CONT`).
    fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.0.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// SIGKILL, and wait until it is gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The part a node says it has (`writes`, `relays`), or why it does not answer.
async fn role(base: &str) -> String {
    let r = reqwest::Client::new().get(format!("{base}/readyz")).timeout(Duration::from_secs(5)).send().await;
    match r {
        Ok(r) => match r.json::<Value>().await {
            Ok(v) => v["role"].as_str().unwrap_or("none").to_string(),
            Err(e) => format!("{e}"),
        },
        Err(e) => format!("{e}"),
    }
}

/// Wait until the nodes at `bases` have the parts `want` (`""`: any, a node that is down)
/// or fail after a minute; how long it took.
async fn until_roles(bases: &Mutex<[String; 2]>, want: [&str; 2]) -> Duration {
    let t = Instant::now();
    loop {
        let bases = bases.lock().unwrap().clone();
        let now = [role(&bases[0]).await, role(&bases[1]).await];
        if now.iter().zip(want).all(|(n, w)| w.is_empty() || n == w) {
            return t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the nodes are {now:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until one node writes and the other relays (or fail after a minute): which one
/// writes.
async fn until_one_writes(bases: &Mutex<[String; 2]>) -> usize {
    let t = Instant::now();
    loop {
        let bases = bases.lock().unwrap().clone();
        match [role(&bases[0]).await.as_str(), role(&bases[1]).await.as_str()] {
            ["writes", "relays"] => return 0,
            ["relays", "writes"] => return 1,
            now => assert!(t.elapsed() < Duration::from_secs(60), "the nodes are {now:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until `acked` holds `n` more events than `from` (or a minute).
async fn until(acked: &Mutex<Vec<String>>, n: usize) {
    let from = acked.lock().unwrap().len();
    let t = Instant::now();
    while acked.lock().unwrap().len() < from + n && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_lose_nothing_when_either_node_or_a_shard_is_killed() {
    let Some(pg) = touchpoint_store_postgres::testing::fresh_database().await else { return };
    let (mut one, two) = match (ChServer::start(), ChServer::start()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err((true, why)), _) | (_, Err((true, why))) => return skip(&why),
        (Err((_, why)), _) | (_, Err((_, why))) => panic!("a ClickHouse server did not start: {why}"),
    };
    let ch = format!("{},{}", one.fresh_url(), two.fresh_url());
    let bin = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
        c.env_remove("TOUCHPOINT_CONFIG").env("TOUCHPOINT_META_STORE", &pg).env("TOUCHPOINT_EVENT_STORE", &ch);
        c
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = bin().args(["project", "create", "cluster", "--json", "--data-dir"]).arg(dir_a.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (write, secret) =
        (keys["write_key"].as_str().unwrap().to_string(), keys["secret_key"].as_str().unwrap().to_string());

    let (mut a, base_a) = Node::start(bin(), dir_a.path());
    let (mut b, base_b) = Node::start(bin(), dir_b.path());
    let bases = Arc::new(Mutex::new([base_a, base_b]));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let queued = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = vec![];
    for c in 0..4 {
        let (acked, bases, write, stop, queued) =
            (acked.clone(), bases.clone(), write.clone(), stop.clone(), queued.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut b = 0;
            while !stop.load(Ordering::SeqCst) {
                let ids: Vec<String> = (0..40).map(|k| format!("c{c}-b{b}-e{k}")).collect();
                let batch: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(k, id)| {
                        let event = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"][k % 4];
                        json!({"type": "track", "userId": format!("u{c}-{}", b % 25), "event": event, "messageId": id,
                               "timestamp": format!("2026-11-{:02}T10:00:{:02}Z", 1 + b % 28, k)})
                    })
                    .collect();
                // Node by turn; the other one when it fails (the same batch: a retry).
                let mut node = (c + b) % 2;
                for _attempt in 0..100 {
                    let base = bases.lock().unwrap()[node].clone();
                    let r = client
                        .post(format!("{base}/v1/batch"))
                        .basic_auth(&write, Some(""))
                        .json(&json!({"batch": batch}))
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    if let Ok(r) = r {
                        if r.status() == 200 {
                            let v: Value = r.json().await.unwrap();
                            *queued.lock().unwrap() += v["queued"].as_u64().unwrap_or(0) as usize;
                            acked.lock().unwrap().extend(ids.iter().cloned());
                            break;
                        }
                    }
                    node = 1 - node;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                b += 1;
            }
        }));
    }
    until_roles(&bases, ["writes", "relays"]).await;
    until(&acked, 2_000).await;
    b.kill(); // SIGKILL, the relaying node
    until(&acked, 1_000).await;
    let (b2, base_b) = Node::start(bin(), dir_b.path());
    b = b2;
    bases.lock().unwrap()[1] = base_b;
    until_roles(&bases, ["writes", "relays"]).await;
    until(&acked, 2_000).await;
    a.kill(); // SIGKILL, the writing node: the other one takes over
    bases.lock().unwrap()[0] = "http://127.0.0.1:9".into();
    let took = until_roles(&bases, ["", "writes"]).await;
    eprintln!("the relaying node wrote {took:?} after the writing node was killed");
    until(&acked, 500).await;
    let (a2, base_a) = Node::start(bin(), dir_a.path());
    a = a2;
    bases.lock().unwrap()[0] = base_a;
    until_roles(&bases, ["relays", "writes"]).await;
    until(&acked, 2_000).await;
    one.restart(); // SIGKILL and start again, one shard
    until(&acked, 2_000).await;
    // The writing node's session ends (PostgreSQL restarted, the connection cut): it stops
    // writing, both nodes open again, and one of them writes.
    assert_eq!(touchpoint_store_postgres::testing::end_lock_sessions(&pg).await, 1);
    // Both notice within a check and a fence's patience (until then each still says the
    // part it had); then one writes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    until_one_writes(&bases).await;
    until(&acked, 2_000).await;
    // The writing node stops running but stays alive (SIGSTOP: a frozen process keeps its
    // connections, so its session and its lock): the other node ends its silent session
    // and writes; the stopped node, running again, finds its lock gone and relays.
    let mut nodes = [a, b];
    // Which node writes now (the parts have settled: nothing changes them here).
    let writer = until_one_writes(&bases).await;
    nodes[writer].signal("STOP");
    let mut want = ["", ""];
    want[1 - writer] = "writes";
    let took = until_roles(&bases, want).await;
    eprintln!("the relaying node wrote {took:?} after the writing node stopped running");
    assert!(took > Duration::from_secs(8), "taken over before the stopped node was silent for 10 s: {took:?}");
    until(&acked, 200).await;
    nodes[writer].signal("CONT");
    assert_eq!(until_one_writes(&bases).await, 1 - writer, "the node that was stopped relays");
    let writer = 1 - writer;
    until(&acked, 2_000).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    // The writing node dies with a batch on its way to the other node: acknowledged (stored
    // or queued, depending on whether the other node has taken over yet), stored once.
    nodes[writer].kill();
    let ids: Vec<String> = (0..40).map(|k| format!("queued-{k}")).collect();
    let batch: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "track", "userId": "u-queued", "event": "Order Completed", "messageId": id}))
        .collect();
    let other = bases.lock().unwrap()[1 - writer].clone();
    // Sent as an SDK sends it: again, the same batch, when the connection fails (the node
    // may be opening again just then: the writing node is gone).
    let mut attempts = 0;
    let r = loop {
        let r = reqwest::Client::new()
            .post(format!("{other}/v1/batch"))
            .basic_auth(&write, Some(""))
            .json(&json!({"batch": batch}))
            .send()
            .await;
        attempts += 1;
        match r {
            Ok(r) => break r,
            Err(e) if attempts < 20 => eprintln!("sent again after {e}"),
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stored"].as_u64().unwrap() + v["queued"].as_u64().unwrap_or(0), 40, "{v}");
    *queued.lock().unwrap() += v["queued"].as_u64().unwrap_or(0) as usize;
    acked.lock().unwrap().extend(ids);
    let (node, base) = Node::start(bin(), [dir_a.path(), dir_b.path()][writer]);
    nodes[writer] = node;
    bases.lock().unwrap()[writer] = base;
    // Either node may write now: the one started again may have taken the lock first.
    until_one_writes(&bases).await;
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 8_000, "{} acknowledged", acked.len());

    // Every acknowledged event exactly once (the queued ones once a writing node took them).
    let events = ClickHouseEvents::open(&ch, Role::Shared).await.unwrap();
    let t = Instant::now();
    let (stored, counts) = loop {
        let stored = events.scan_events(None, 0, usize::MAX).await.unwrap();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for e in &stored {
            *counts.entry(e.message_id.clone()).or_default() += 1;
        }
        if acked.iter().all(|m| counts.contains_key(m)) || t.elapsed() > Duration::from_secs(30) {
            break (stored, counts);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing: Vec<&String> = acked.iter().filter(|m| !counts.contains_key(*m)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "stored twice: {:?}", &twice[..twice.len().min(3)]);
    assert_eq!(stored.len(), counts.len());
    eprintln!(
        "{} events acknowledged ({} of them queued while no node wrote), {} stored",
        acked.len(),
        queued.lock().unwrap(),
        stored.len()
    );

    // Both nodes answer the same, with every event.
    let client = reqwest::Client::new();
    let bases = bases.lock().unwrap().clone();
    for (kind, body) in [
        (
            "funnel",
            json!({"query": {"steps": ["track:Product Viewed", "track:Product Added", "track:Checkout Started", "order-completed"]}}),
        ),
        ("journey-map", json!({"query": {"goal": "order-completed"}})),
    ] {
        let t = Instant::now();
        loop {
            let mut answers = vec![];
            for base in &bases {
                let r = client
                    .post(format!("{base}/api/analytics/{kind}"))
                    .bearer_auth(&secret)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let mut v: Value = r.json().await.unwrap();
                // Not the timings.
                v.as_object_mut().unwrap().remove("took_ms");
                v["snapshot"].as_object_mut().unwrap().remove("age_ms");
                answers.push(v);
            }
            let events = answers[0]["groups"][0]["events"].as_u64();
            if answers[0] == answers[1] && events == Some(stored.len() as u64) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{kind}: the nodes differ or miss events:\n{}\n{}",
                answers[0],
                answers[1]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    drop(nodes);
}
