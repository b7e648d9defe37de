//! Trigger rules across `kill -9`: the real `touchpoint serve` is killed with SIGKILL while
//! firings are being decided, retried and timed ("not followed within"), and started
//! again on the same data directory. Afterwards every acknowledged event has exactly one
//! decision per rule (nothing decided twice, nothing lost), and every firing not held out
//! reached the webhook receiver — which checks each signature with the Standard Webhooks
//! reference implementation and fails each id's first attempt — under its one id.

#[path = "common/serve.rs"]
mod serve;
use serve::serve;

#[path = "../../act/tests/common/receivers.rs"]
mod receivers;

use receivers::{available, Receiver};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    c.env_remove("TOUCHPOINT_CONFIG").env_remove("TOUCHPOINT_META_STORE");
    // Retries a thousand times sooner than Standard Webhooks' schedule: 5 ms, 300 ms, 1.8 s …
    c.env("TOUCHPOINT_RETRY_SPEEDUP", "1000");
    c
}

fn now_iso() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    touchpoint_core::event::format_time(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firings_survive_kill_9_decided_once_and_delivered() {
    if !available("firings_survive_kill_9_decided_once_and_delivered") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = bin().args(["project", "create", "crash", "--json", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let write = keys["write_key"].as_str().unwrap().to_string();
    let secret = keys["secret_key"].as_str().unwrap().to_string();
    let hook_secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&hook_secret, &json!({"fail_first": 1, "fail_status": 503}));
    let client = reqwest::Client::new();

    let (mut child, base) = serve(bin(), dir.path());
    let track = |user: String, event: &'static str, id: String| json!({"type": "track", "userId": user, "event": event, "messageId": id, "timestamp": now_iso()});
    // The touchpoints the rules name, then the rules.
    let warm: Vec<Value> =
        vec![track("w".into(), "Crash Order", "w1".into()), track("w".into(), "Crash Call", "w2".into())];
    let r = client
        .post(format!("{base}/v1/batch"))
        .basic_auth(&write, Some(""))
        .json(&json!({"batch": warm}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (key, when) in [
        ("order", json!({"kind": "happens", "touchpoint": "track:Crash Order"})),
        (
            "no-call",
            json!({"kind": "not_followed", "touchpoint": "track:Crash Order", "followed_by": ["track:Crash Call"], "within": "3s"}),
        ),
    ] {
        let rule = json!({"name": key, "when": when, "then": {"kind": "webhook", "endpoint": {"url": hook.url(), "secret": hook_secret}}});
        let r = client
            .post(format!("{base}/api/triggers"))
            .bearer_auth(&secret)
            .json(&json!({"key": key, "definition": rule, "live": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    // Orders in batches of 20 customers until well after deliveries began; every third
    // customer calls, which cancels their "no-call" timer.
    let mut acked: Vec<(String, bool)> = Vec::new();
    let t0 = Instant::now();
    let mut b = 0;
    while t0.elapsed() < Duration::from_millis(1500) {
        let mut batch = vec![];
        let mut users = vec![];
        for k in 0..20 {
            let n = b * 20 + k;
            let user = format!("u{n}");
            batch.push(track(user.clone(), "Crash Order", format!("o{n}")));
            let calls = n % 3 == 0;
            if calls {
                batch.push(track(user.clone(), "Crash Call", format!("c{n}")));
            }
            users.push((user, calls));
        }
        let r = client
            .post(format!("{base}/v1/batch"))
            .basic_auth(&write, Some(""))
            .json(&json!({"batch": batch}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        acked.extend(users);
        b += 1;
    }
    // Pull the plug while retries are pending and every timer is still running.
    child.kill().unwrap();
    child.wait().unwrap();
    let before = hook.requests().len();

    let (mut child, base) = serve(bin(), dir.path());
    let firings = |key: &'static str| {
        let (client, base, secret) = (client.clone(), base.clone(), secret.clone());
        async move {
            let mut all: Vec<Value> = vec![];
            let mut before: Option<i64> = None;
            loop {
                let mut url = format!("{base}/api/triggers/{key}/firings?limit=1000");
                if let Some(b) = before {
                    url.push_str(&format!("&before={b}"));
                }
                let page: Vec<Value> = client.get(url).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
                let n = page.len();
                before = page.last().and_then(|f| f["seq"].as_i64());
                all.extend(page);
                if n < 1000 {
                    return all;
                }
            }
        }
    };
    let customers = acked.len();
    let calls = acked.iter().filter(|(_, c)| *c).count();
    let t = Instant::now();
    loop {
        let (o, n) = (firings("order").await, firings("no-call").await);
        let open = |v: &[Value]| v.iter().filter(|f| f["state"] == "waiting" || f["state"] == "pending").count();
        if o.len() == customers && n.len() == customers && open(&o) == 0 && open(&n) == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "not finished: {} and {} of {customers} decided, {} and {} open",
            o.len(),
            n.len(),
            open(&o),
            open(&n)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let requests = hook.requests();
    assert!(requests.iter().all(|r| r["valid"] == true), "every request verifies");
    let mut delivered_ids: HashSet<String> = HashSet::new();
    for r in &requests {
        if r["status"] == 200 {
            delivered_ids.insert(r["id"].as_str().unwrap().to_string());
        }
    }
    for key in ["order", "no-call"] {
        let list = firings(key).await;
        // One decision per customer (each ordered once): nothing decided twice or lost.
        let per_customer: HashMap<i64, usize> = list.iter().fold(HashMap::new(), |mut m, f| {
            *m.entry(f["customer_id"].as_i64().unwrap()).or_default() += 1;
            m
        });
        assert_eq!(per_customer.len(), customers, "{key}: every acknowledged order decided");
        assert!(per_customer.values().all(|&n| n == 1), "{key}: decided once each");
        let states: HashMap<&str, usize> = list.iter().fold(HashMap::new(), |mut m, f| {
            *m.entry(f["state"].as_str().unwrap()).or_default() += 1;
            m
        });
        let expect_cancelled = if key == "no-call" { calls } else { 0 };
        assert_eq!(states.get("cancelled").copied().unwrap_or(0), expect_cancelled, "{key}: {states:?}");
        assert_eq!(states.get("dead"), None, "{key}: {states:?}");
        for f in list.iter().filter(|f| f["state"] == "delivered") {
            assert!(delivered_ids.contains(f["id"].as_str().unwrap()), "{key}: {} reached the receiver", f["id"]);
        }
        let held = states.get("held_out").copied().unwrap_or(0);
        assert_eq!(
            states.get("delivered").copied().unwrap_or(0) + held + expect_cancelled,
            customers,
            "{key}: {states:?}"
        );
    }
    // Every request carried a firing the server knows; each id was answered 200 once at
    // most more than needed (at least once delivery: a retry after the kill may repeat).
    let known: HashSet<String> = [firings("order").await, firings("no-call").await]
        .concat()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(requests.iter().all(|r| known.contains(r["id"].as_str().unwrap())));
    assert!(before > 0, "deliveries had begun before the kill");
    child.kill().unwrap();
    child.wait().unwrap();
}
