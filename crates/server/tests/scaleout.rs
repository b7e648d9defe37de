//! The scale-out configuration gives the same answers as the embedded store: one server
//! on the embedded store and one on PostgreSQL + real ClickHouse servers (one shard, then
//! two) are fed the same generated events (the demo's generator, with repeats of a batch
//! as a client's retry), and every stored event and every journey analysis is compared,
//! field by field.

mod common;

use common::{spawn_cluster, spawn_embedded_app, spawn_scaled_out_app, TestApp};
use serde_json::{json, Value};
use std::time::Duration;
use touchpoint_gen::{GenConfig, Generator};

/// The analyses compared, as the dashboard asks for them.
fn analyses() -> Vec<(&'static str, Value)> {
    let steps = json!(["cart", "checkout", "order-completed"]);
    vec![
        ("journey-map", json!({"query": {"goal": "order-completed"}})),
        ("funnel", json!({"query": {"steps": steps, "window_s": 604_800}})),
        ("funnel", json!({"query": {"steps": steps, "window_s": 604_800}, "breakdown": {"by": "first_touch_channel"}})),
        (
            "funnel",
            json!({"query": {"steps": ["organic-search", "cart", "order-completed"], "window_s": 86_400, "mode": "strict"}}),
        ),
        ("transitions", json!({"query": {"top": 30}})),
        ("sankey", json!({"query": {"end": "order-completed", "steps": 4, "min_share": 0.01}})),
        ("retention", json!({"query": {"period": "week", "periods": 8}})),
        ("retention", json!({"query": {"period": "day", "periods": 14}, "filter": {"channels": ["web", "email"]}})),
        ("churn", json!({})),
        ("attribution", json!({"query": {"goal": "order-completed", "by": "channel"}})),
        ("attribution", json!({"query": {"goal": "order-completed", "by": "touchpoint"}})),
    ]
}

/// An analysis's answer without what may differ between two runs (timings).
async fn analysis(app: &TestApp, kind: &str, body: &Value) -> (u16, Value) {
    let (status, mut v) = app.send(reqwest::Method::POST, &format!("/api/analytics/{kind}"), Some(body)).await;
    strip(&mut v);
    (status, v)
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("_ms") || k == "window_ms");
            m.values_mut().for_each(strip);
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clickhouse_shard_answers_as_the_embedded_store() {
    same_answers(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clickhouse_shards_answer_as_the_embedded_store() {
    same_answers(2).await;
}

async fn same_answers(shards: usize) {
    let Some(scaled) = spawn_scaled_out_app(shards).await else { return };
    let embedded = spawn_embedded_app().await;
    let generator = Generator::new(GenConfig::for_events(3_000, 11));
    let mut batch: Vec<Value> = vec![];
    let mut sent = 0;
    for i in 0..generator.config().customers {
        batch.extend(generator.customer(i));
        if batch.len() >= 250 || i + 1 == generator.config().customers {
            for app in [&embedded, &scaled] {
                let (status, v) = app.post("/v1/batch", &json!({"batch": batch})).await;
                assert_eq!(status, 200, "{v}");
            }
            // A client's retry of the first batch: stored once on both.
            if sent == 0 {
                for app in [&embedded, &scaled] {
                    assert_eq!(app.post("/v1/batch", &json!({"batch": batch})).await.0, 200);
                }
            }
            sent += batch.len();
            batch.clear();
        }
    }
    assert!(sent > 2_000, "{sent} events");

    let stored = compare_events(&embedded, &scaled).await;
    assert!(stored < sent + 250, "the retried batch was stored once");

    // Every analysis. The journey index follows the commit bus: give both a moment.
    compare_analyses(&embedded, &scaled).await;
    // A rule that re-classifies stored events (ClickHouse maps them at query time; the
    // embedded store rewrites them), and every analysis again.
    let rule = json!({"priority": 1, "touchpoint": "cart", "event_name": "Product Added"});
    let mut changed = vec![];
    for app in [&embedded, &scaled] {
        let (status, v) = app.send(reqwest::Method::POST, "/api/rules", Some(&rule)).await;
        assert_eq!(status, 200, "{v}");
        changed.push(v["reclassified"]["changed"].as_u64().unwrap());
    }
    assert!(changed[0] > 0 && changed[0] == changed[1], "{changed:?}");
    compare_events(&embedded, &scaled).await;
    compare_analyses(&embedded, &scaled).await;
    embedded.stop().await;
    scaled.stop().await;
}

/// Two nodes in front of two ClickHouse shards, the batches alternating between them and
/// the first retried on the other node: the same stored events and the same answers, on
/// either node, as one embedded node fed the same events; a rule added through the
/// relaying node re-classifies on both; a customer erased through it is gone from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_answer_as_one_embedded_node() {
    let Some((writing, relaying)) = spawn_cluster(2).await else { return };
    let embedded = spawn_embedded_app().await;
    let generator = Generator::new(GenConfig::for_events(3_000, 12));
    let mut batch: Vec<Value> = vec![];
    let mut sent = 0;
    let mut n = 0;
    for i in 0..generator.config().customers {
        batch.extend(generator.customer(i));
        if batch.len() >= 250 || i + 1 == generator.config().customers {
            let (node, other) = if n % 2 == 0 { (&writing, &relaying) } else { (&relaying, &writing) };
            for app in [&embedded, node] {
                let (status, v) = app.post("/v1/batch", &json!({"batch": batch})).await;
                assert_eq!(status, 200, "{v}");
                assert_eq!(v["stored"].as_u64(), Some(batch.len() as u64), "committed before the answer: {v}");
            }
            if n == 1 {
                // The client's retry reaches the other node: nothing stored twice.
                let (status, v) = other.post("/v1/batch", &json!({"batch": batch})).await;
                assert_eq!(
                    (status, v["stored"].as_u64(), v["duplicates"].as_u64()),
                    (200, Some(0), Some(batch.len() as u64)),
                    "{v}"
                );
            }
            n += 1;
            sent += batch.len();
            batch.clear();
        }
    }
    assert!(n > 4 && sent > 2_000, "{sent} events in {n} batches");
    assert_eq!(compare_events(&embedded, &writing).await, sent);
    compare_events(&embedded, &relaying).await;
    compare_analyses(&embedded, &writing).await;
    compare_analyses(&embedded, &relaying).await;

    // A rule through the relaying node: the writing node re-classifies, both reload.
    let rule = json!({"priority": 1, "touchpoint": "cart", "event_name": "Product Added"});
    let mut changed = vec![];
    for app in [&embedded, &relaying] {
        let (status, v) = app.send(reqwest::Method::POST, "/api/rules", Some(&rule)).await;
        assert_eq!(status, 200, "{v}");
        changed.push(v["reclassified"]["changed"].as_u64().unwrap());
    }
    assert!(changed[0] > 0 && changed[0] == changed[1], "{changed:?}");
    compare_analyses(&embedded, &writing).await;
    compare_analyses(&embedded, &relaying).await;

    // A customer erased through the relaying node, on the embedded node too.
    let user = generator.customer(3).iter().find_map(|e| e["userId"].as_str().map(str::to_string)).unwrap();
    for app in [&embedded, &relaying] {
        let (status, v) = app.send(reqwest::Method::GET, &format!("/api/customers/lookup?user_id={user}"), None).await;
        assert_eq!(status, 200, "{v}");
        let id = v["id"].as_i64().or(v["customer_id"].as_i64()).unwrap_or_else(|| panic!("an id: {v}"));
        let (status, v) = app.send(reqwest::Method::DELETE, &format!("/api/customers/{id}"), None).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["verified"], json!(true), "{v}");
    }
    compare_events(&embedded, &relaying).await;
    compare_analyses(&embedded, &writing).await;
    compare_analyses(&embedded, &relaying).await;
    for app in [embedded, relaying, writing] {
        app.stop().await;
    }
}

/// A relayed batch whose answer cannot be written for a while (PostgreSQL refuses it) is
/// carried out once: the writing node keeps trying to answer instead of taking the batch
/// again, so its failed event is kept once, not once per try, and the sender gets the
/// answer when it can be written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_batch_is_carried_out_once_while_its_answer_cannot_be_written() {
    use touchpoint_store_postgres::testing::execute;
    let Some((writing, relaying)) = spawn_cluster(1).await else { return };
    let url = writing.meta_url.clone().expect("the cluster's database");
    execute(
        &url,
        "CREATE FUNCTION hold_answers() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'answers held by the test'; END $$; \
         CREATE TRIGGER hold_answers BEFORE INSERT ON relay_replies FOR EACH ROW EXECUTE FUNCTION hold_answers();",
    )
    .await;
    let batch = json!({"batch": [
        {"type": "track", "event": "Product Viewed", "userId": "u-relay", "messageId": "relay-1"},
        {"type": "track", "userId": "u-relay", "messageId": "relay-2"},
    ]});
    // Mended well over a poll of the relay (250 ms) later: the old loop took the batch
    // again at each one.
    let mend = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        execute(&url, "DROP TRIGGER hold_answers ON relay_replies").await;
    };
    let ((status, v), ()) = tokio::join!(relaying.post("/v1/batch", &batch), mend);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["stored"].as_u64(), v["failed"].as_array().map(Vec::len)),
        (Some(1), Some(1)),
        "answered once mended: {v}"
    );
    assert_eq!(writing.stored().await, 1);
    assert_eq!(writing.failed().await, 1, "the failed event is kept once");
    for app in [relaying, writing] {
        app.stop().await;
    }
}

/// Every analysis of [`analyses`] on both servers, until they agree (the journey index
/// follows the commit bus) or for five seconds.
async fn compare_analyses(embedded: &TestApp, scaled: &TestApp) {
    for (kind, body) in analyses() {
        let mut last = None;
        for _ in 0..50 {
            let (x, y) = (analysis(embedded, kind, &body).await, analysis(scaled, kind, &body).await);
            assert_eq!(x.0, 200, "{kind} {body}: {}", x.1);
            if x == y {
                last = None;
                break;
            }
            last = Some((x, y));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some((x, y)) = last {
            panic!("{kind} {body} differs:\nembedded: {}\nscaled out: {}", x.1, y.1);
        }
    }
}

/// Every stored event of both servers, as each store keeps it: the same ids, messageIds,
/// customers, touchpoints, times and bodies. Returns how many.
async fn compare_events(embedded: &TestApp, scaled: &TestApp) -> usize {
    let events = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            let mut all = vec![];
            let mut after = 0;
            loop {
                let page = store.scan_events(None, after, 1000).await.unwrap();
                let Some(last) = page.last() else { break };
                after = last.id;
                all.extend(page.into_iter().map(|e| {
                    (e.id, e.message_id, e.kind, e.name, e.customer_id, e.touchpoint_id, e.timestamp, e.flags, e.body)
                }));
            }
            all
        }
    };
    let (a, b) = (events(embedded).await, events(scaled).await);
    assert_eq!(a.len(), b.len(), "as many events stored");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "the same event, customer and touchpoint");
    }
    a.len()
}
