//! Every route through the real server, and the bad inputs a collector meets in the wild:
//! each answered with the right status and a message naming the field, and nothing lost —
//! every rejected event is kept as a failed event.

mod common;

use common::{spawn_app, spawn_app_with};
use serde_json::{json, Value};
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn every_capture_route_stores_its_event() {
    let app = spawn_app().await;
    let cases = [
        ("/v1/track", json!({"anonymousId":"a1","event":"Product Viewed","properties":{"sku":"X"}})),
        ("/v1/page", json!({"anonymousId":"a1","properties":{"path":"/kosik"}})),
        ("/v1/screen", json!({"anonymousId":"a1","name":"Basket"})),
        ("/v1/identify", json!({"anonymousId":"a1","userId":"jana","traits":{"name":"Jana Nováková","city":"Brno"}})),
        ("/v1/group", json!({"userId":"jana","groupId":"acme","traits":{"name":"ACME s.r.o."}})),
        ("/v1/alias", json!({"previousId":"jana","userId":"jana@example.cz"})),
        (
            "/v1/batch",
            json!({"batch":[{"type":"track","userId":"jana","event":"Order Completed","properties":{"total":990}}]}),
        ),
    ];
    for (path, body) in &cases {
        let (status, resp) = app.post(path, body).await;
        assert_eq!(status, 200, "{path}: {resp}");
        assert_eq!(resp["success"], true);
        assert_eq!(resp["stored"], 1, "{path}");
    }
    assert_eq!(app.stored().await, 7);

    // All seven are one customer: anonymous a1, identified as jana, aliased to the e-mail.
    let (s, profile) = app.get("/api/customers/lookup?anonymous_id=a1").await;
    assert_eq!(s, 200, "{profile}");
    assert_eq!(profile["user_id"], "jana");
    assert_eq!(profile["traits"]["name"], "Jana Nováková");
    let ids: Vec<&str> =
        profile["identities"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert!(ids.contains(&"a1") && ids.contains(&"jana") && ids.contains(&"jana@example.cz"), "{ids:?}");
    let id = profile["id"].as_i64().unwrap();
    let (_, tl) = app.get(&format!("/api/customers/{id}/timeline?lang=cs")).await;
    let items = tl["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let cart = items.iter().find(|e| e["touchpoint"] == "cart").expect("page /kosik is the cart");
    assert_eq!(cart["touchpoint_name"], "Košík");
    assert_eq!(items[0]["touchpoint"], "order-completed", "newest first");
    app.stop().await;
}

#[tokio::test]
async fn keys_are_checked() {
    let app = spawn_app().await;
    let url = format!("{}/v1/track", app.base);
    let ev = json!({"userId":"u","event":"E"});
    let r = app.client.post(&url).json(&ev).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_key");
    let r = app.client.post(&url).basic_auth("tpw_wrong", Some("")).json(&ev).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_key");
    let r = app.client.post(&url).header("authorization", "Digest abc").json(&ev).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // writeKey in the body, and a Bearer token, both work.
    let mut with_key = ev.clone();
    with_key["writeKey"] = json!(app.write_key);
    assert_eq!(app.client.post(&url).json(&with_key).send().await.unwrap().status(), 200);
    assert_eq!(app.client.post(&url).bearer_auth(&app.write_key).json(&ev).send().await.unwrap().status(), 200);
    // Neither a write key nor a server key can read; the answer names the key's kind.
    for (key, kind) in [(&app.write_key, "write"), (&app.server_key, "server")] {
        let r = app.client.get(format!("{}/api/touchpoints", app.base)).basic_auth(key, Some("")).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let e: Value = r.json().await.unwrap();
        let message = e["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(message.starts_with(&format!("a {kind} key can only send events")), "{e}");
    }
    let r = app.client.get(format!("{}/api/touchpoints", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

/// Revoking keys: a leaked write key is refused from the next request on (also when the
/// CLI revokes it beside the server, within the re-check time); another project's key, an
/// unknown id and the project's last secret key are refused with their reason; a write key
/// cannot revoke anything.
#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = spawn_app().await;
    let track = |key: String| {
        let url = format!("{}/v1/track", app.base);
        async move {
            let ev = json!({"userId": "u", "event": "E"});
            reqwest::Client::new().post(url).basic_auth(key, Some("")).json(&ev).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(track(app.write_key.clone()).await, 200);
    let (_, keys) = app.get("/api/keys").await;
    let id_of =
        |kind: &str| keys.as_array().unwrap().iter().find(|k| k["kind"] == kind).unwrap()["id"].as_i64().unwrap();
    let (write, secret) = (id_of("write"), id_of("secret"));
    // A write key may not; the last secret key may not go; nor an unknown id.
    let r =
        app.client.delete(format!("{}/api/keys/{write}", app.base)).bearer_auth(&app.write_key).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let (st, e) = app.send(reqwest::Method::DELETE, &format!("/api/keys/{secret}"), None).await;
    assert_eq!((st, e["error"]["code"].as_str()), (409, Some("conflict")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("make another first"), "{e}");
    let (st, e) = app.send(reqwest::Method::DELETE, "/api/keys/9999", None).await;
    assert_eq!((st, e["error"]["field"].as_str()), (404, Some("id")), "{e}");
    let (st, e) = app.send(reqwest::Method::DELETE, "/api/keys/abc", None).await;
    assert_eq!(st, 400, "{e}");
    // The other project's write key is not this project's to revoke.
    let other = app.store.key_by_hash(&touchpoint_store::hash_token(&app.other_write_key)).await.unwrap().unwrap();
    let (st, _) = app.send(reqwest::Method::DELETE, &format!("/api/keys/{}", other.id), None).await;
    assert_eq!(st, 404);
    assert_eq!(track(app.other_write_key.clone()).await, 200);
    // Revoked: refused on the next request, gone from the list, not revoked twice.
    let (st, k) = app.send(reqwest::Method::DELETE, &format!("/api/keys/{write}"), None).await;
    assert_eq!((st, k["id"].as_i64(), k["kind"].as_str()), (200, Some(write), Some("write")), "{k}");
    let r = app
        .client
        .post(format!("{}/v1/track", app.base))
        .basic_auth(&app.write_key, Some(""))
        .json(&json!({"userId": "u", "event": "E"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_key");
    let (_, keys) = app.get("/api/keys").await;
    assert!(keys.as_array().unwrap().iter().all(|k| k["id"] != write), "{keys}");
    assert_eq!(app.send(reqwest::Method::DELETE, &format!("/api/keys/{write}"), None).await.0, 404);
    // Revoked by another process (straight in the store, as `touchpoint key revoke` does):
    // refused once the server re-checks it.
    let (st, made) = app.send(reqwest::Method::POST, "/api/keys", Some(&json!({"kind": "write"}))).await;
    assert_eq!(st, 200, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(track(token.clone()).await, 200);
    let id = made["key"]["id"].as_i64().unwrap();
    touchpoint_engine::read::revoke_key(&*app.store, 1, id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(touchpoint_engine::read::KEY_RECHECK_S)).await;
    assert_eq!(track(token).await, 401);
    app.stop().await;
}

#[tokio::test]
async fn browsers_can_send_cors_beacons_and_gzip() {
    let app = spawn_app().await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/v1/batch", app.base))
        .header("origin", "https://zahradka.cz")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "https://zahradka.cz");
    // sendBeacon posts text/plain.
    let body = json!({"userId":"u","event":"Beacon"}).to_string();
    let (s, v, _) = app.post_raw("/v1/track", body.clone(), &[("content-type", "text/plain;charset=UTF-8")]).await;
    assert_eq!(s, 200, "{v}");
    let (s, v, _) = app.post_raw("/v1/track", gzip(body.as_bytes()), &[("content-encoding", "gzip")]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["duplicates"], 0);
    assert_eq!(app.stored().await, 2);
    app.stop().await;
}

/// One bad request: what is sent, the status and code wanted, and text the message must contain.
struct Bad {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    code: &'static str,
    message: &'static str,
}

fn bad(
    name: &'static str,
    path: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
    message: &'static str,
) -> Bad {
    Bad { name, path, body: body.into(), headers: vec![], status, code, message }
}

#[tokio::test]
async fn bad_inputs_get_clear_errors_and_are_kept() {
    let app = spawn_app().await;
    let mut deep = json!("x");
    for _ in 0..40 {
        deep = json!({"n": deep});
    }
    let very_deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let huge_prop = "x".repeat(40 * 1024);
    let cases = vec![
        bad("truncated JSON", "/v1/track", r#"{"userId":"u","event":"A""#, 400, "invalid_json", "not valid JSON"),
        bad("not JSON", "/v1/track", "userId=u&event=A", 400, "invalid_json", "not valid JSON"),
        bad(
            "invalid UTF-8",
            "/v1/track",
            b"{\"userId\":\"u\xff\xfe\",\"event\":\"A\"}".to_vec(),
            400,
            "invalid_json",
            "not valid JSON",
        ),
        bad(
            "batch not an array",
            "/v1/batch",
            r#"{"batch":{"type":"track"}}"#,
            400,
            "invalid_batch",
            "batch: must be an array of events, not an object",
        ),
        bad("batch missing", "/v1/batch", r#"{"events":[]}"#, 400, "invalid_batch", "not missing"),
        bad("body is an array", "/v1/batch", r#"[{"type":"track"}]"#, 400, "invalid_batch", "must be an object"),
        bad(
            "wrong type of userId",
            "/v1/track",
            r#"{"userId":["u"],"event":"A"}"#,
            400,
            "invalid_event",
            "userId: must be a string, not an array",
        ),
        bad(
            "event not a string",
            "/v1/track",
            r#"{"userId":"u","event":{"x":1}}"#,
            400,
            "invalid_event",
            "event: must be a string",
        ),
        bad(
            "properties not an object",
            "/v1/track",
            r#"{"userId":"u","event":"A","properties":"x"}"#,
            400,
            "invalid_event",
            "properties: must be an object",
        ),
        bad(
            "no ids",
            "/v1/track",
            r#"{"event":"A"}"#,
            400,
            "invalid_event",
            "either userId or anonymousId is required",
        ),
        bad("no event name", "/v1/track", r#"{"userId":"u"}"#, 400, "invalid_event", "event: is required"),
        bad(
            "bad timestamp",
            "/v1/track",
            r#"{"userId":"u","event":"A","timestamp":"31/02/2026 25:00"}"#,
            400,
            "invalid_event",
            "timestamp:",
        ),
        bad(
            "oversized event",
            "/v1/track",
            json!({"userId":"u","event":"A","properties":{"blob":huge_prop}}).to_string(),
            400,
            "invalid_event",
            "at most 32768 are allowed",
        ),
        bad(
            "deep nesting",
            "/v1/track",
            json!({"userId":"u","event":"A","properties":deep}).to_string(),
            400,
            "invalid_event",
            "levels deep",
        ),
        bad(
            "nesting past the parser",
            "/v1/track",
            format!(r#"{{"userId":"u","event":"A","properties":{{"x":{very_deep}}}}}"#),
            400,
            "invalid_json",
            "nested more than 128 levels",
        ),
        bad("empty body", "/v1/track", "", 400, "invalid_json", "not valid JSON"),
        Bad {
            headers: vec![("content-encoding", "gzip")],
            ..bad("corrupt gzip", "/v1/track", "not gzip at all", 400, "invalid_body", "not valid gzip")
        },
        Bad {
            headers: vec![("content-encoding", "br")],
            ..bad("brotli", "/v1/track", "x", 415, "unsupported_encoding", "\"br\" is not supported")
        },
    ];
    let mut kept = app.failed().await;
    for c in cases {
        let headers: Vec<(&str, &str)> = c.headers.clone();
        let (status, v, _) = app.post_raw(c.path, c.body.clone(), &headers).await;
        assert_eq!(status, c.status, "{}: {v}", c.name);
        assert_eq!(v["success"], false, "{}", c.name);
        assert_eq!(v["error"]["code"], c.code, "{}: {v}", c.name);
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(c.message), "{}: message {msg:?} lacks {:?}", c.name, c.message);
        let now = app.failed().await;
        assert_eq!(now, kept + 1, "{}: the rejected request is kept as a failed event", c.name);
        kept = now;
    }
    assert_eq!(app.stored().await, 0, "nothing bad was stored as an event");
    let (_, failed) = app.get("/api/failed-events?limit=100").await;
    let items = failed["items"].as_array().unwrap();
    let utf8 = items.iter().find(|f| f["raw_is_utf8"] == false).expect("the invalid UTF-8 body is kept as it came");
    assert!(utf8["reason"].as_str().unwrap().contains("not valid JSON"));
    assert!(items.iter().any(|f| f["field"] == "userId"), "the field is recorded");
    app.stop().await;
}

#[tokio::test]
async fn a_batch_keeps_the_good_and_reports_the_bad() {
    let app = spawn_app().await;
    let batch = json!({"sentAt": "2026-11-22T10:00:00Z", "batch": [
        {"type":"track","userId":"u","event":"Good","messageId":"g1"},
        {"type":"track","userId":5.5,"event":"Odd but fine","messageId":"g2"},
        {"type":"track","event":"No ids"},
        {"type":"fly","userId":"u"},
        {"type":"identify","userId":"u","traits":"not an object"},
        "a string",
    ]});
    let (s, v) = app.post("/v1/batch", &batch).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stored"], 2);
    let failed = v["failed"].as_array().unwrap();
    let got: Vec<(u64, &str)> =
        failed.iter().map(|f| (f["index"].as_u64().unwrap(), f["field"].as_str().unwrap())).collect();
    assert_eq!(got, vec![(2, "batch[2].userId"), (3, "batch[3].type"), (4, "batch[4].traits"), (5, "batch[5]")]);
    assert_eq!(app.failed().await, 4);
    // A batch with nothing valid is a 400, and still kept.
    let (s, v) = app.post("/v1/batch", &json!({"batch":[{"type":"track"}]})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["failed"][0]["field"], "batch[0].userId");
    assert_eq!(app.failed().await, 5);
    // An empty batch is fine and stores nothing.
    let (s, v) = app.post("/v1/batch", &json!({"batch":[]})).await;
    assert_eq!((s, v["stored"].as_u64()), (200, Some(0)));
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_are_refused() {
    let app = spawn_app().await;
    let big: Vec<Value> = (0..3000)
        .map(|i| json!({"type":"track","userId":"u","event":"E","properties":{"i":i,"pad":"x".repeat(200)}}))
        .collect();
    let body = serde_json::to_vec(&json!({"batch": big})).unwrap();
    assert!(body.len() > 500 * 1024);
    let (s, v, _) = app.post_raw("/v1/batch", body.clone(), &[]).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    // A gzip bomb: 50 MB of zeros in a tiny body.
    let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
    assert!(bomb.len() < 200 * 1024);
    let (s, v, _) = app.post_raw("/v1/batch", bomb, &[("content-encoding", "gzip")]).await;
    assert_eq!(s, 413, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("after gzip decompression"));
    assert_eq!(app.stored().await, 0);
    assert_eq!(app.failed().await, 2, "both kept (cut at the limit) as failed events");
    app.stop().await;
}

#[tokio::test]
async fn duplicates_are_acknowledged_and_stored_once() {
    let app = spawn_app().await;
    let ev = |mid: &str| json!({"type":"track","userId":"u","event":"E","messageId":mid});
    let (_, v) = app.post("/v1/batch", &json!({"batch":[ev("m1"), ev("m1"), ev("m2")]})).await;
    assert_eq!((v["stored"].as_u64(), v["duplicates"].as_u64()), (Some(2), Some(1)), "inside one batch");
    let (s, v) = app.post("/v1/batch", &json!({"batch":[ev("m1"), ev("m3")]})).await;
    assert_eq!(s, 200);
    assert_eq!((v["stored"].as_u64(), v["duplicates"].as_u64()), (Some(1), Some(1)), "across batches");
    let (s, v) = app.post("/v1/track", &ev("m2")).await;
    assert_eq!((s, v["duplicates"].as_u64()), (200, Some(1)));
    assert_eq!(app.stored().await, 3);
    // The same messageId in another project is another event.
    let r = app
        .client
        .post(format!("{}/v1/track", app.base))
        .basic_auth(&app.other_write_key, Some(""))
        .json(&ev("m1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    assert_eq!(app.store.count_events(2).await.unwrap(), 1);
    // Without a messageId, each send is a new event.
    let (_, a) = app.post("/v1/track", &json!({"userId":"u","event":"E"})).await;
    let (_, b) = app.post("/v1/track", &json!({"userId":"u","event":"E"})).await;
    assert_eq!((a["stored"].as_u64(), b["stored"].as_u64()), (Some(1), Some(1)));
    app.stop().await;
}

#[tokio::test]
async fn times_from_1970_to_9999_and_text_in_any_normal_form() {
    let app = spawn_app().await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(20)).to_rfc3339();
    let batch = json!({"batch":[
        {"type":"track","userId":"u","event":"Old","timestamp":"1970-01-01T00:00:00Z","messageId":"t1"},
        {"type":"track","userId":"u","event":"Far","timestamp":"9999-12-31T23:59:59Z","messageId":"t2"},
        {"type":"track","userId":"u","event":"Soon","timestamp":tomorrow,"messageId":"t3"},
        {"type":"track","userId":"u","event":"Objedna\u{301}vka","messageId":"n1","properties":{"pozna\u{301}mka":"žluťoučký kůň"}},
        {"type":"track","userId":"u","event":"Objednávka","messageId":"n2"},
        {"type":"track","userId":"u","event":"Zamówienie","messageId":"n3","properties":{"uwagi":"zażółć gęślą jaźń"}},
        {"type":"track","userId":"u","event":"Robert'); DROP TABLE events;--","messageId":"s1",
         "properties":{"'; DELETE FROM customers; --":"x","SELECT":1,"\"quoted\"":true}},
    ]});
    let (s, v) = app.post("/v1/batch", &batch).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stored"], 7);
    let evs = app.store.scan_events(Some(1), 0, 100).await.unwrap();
    let by = |m: &str| evs.iter().find(|e| e.message_id == m).unwrap();
    assert_eq!(by("t1").timestamp, 0);
    assert_eq!(by("t2").flags & touchpoint_core::EventFlags::TIMESTAMP_CLAMPED, 1, "9999 is clamped and flagged");
    assert!((by("t2").timestamp - by("t2").received_at).abs() < 1000);
    assert_eq!(by("t3").flags & touchpoint_core::EventFlags::TIMESTAMP_CLAMPED, 0, "tomorrow is kept");
    assert_eq!(by("n1").touchpoint_id, by("n2").touchpoint_id, "NFD and NFC names are one touchpoint");
    assert!(by("n1").body.contains("pozna\u{301}mka"), "properties are kept exactly as sent");
    assert!(by("s1").body.contains("DELETE FROM customers"));
    let (_, tps) = app.get("/api/touchpoints").await;
    let keys: Vec<&str> = tps.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"track:Objednávka") && keys.contains(&"track:Zamówienie"));
    assert!(keys.contains(&"track:Robert'); DROP TABLE events;--"));
    assert_eq!(
        app.get("/api/customers").await.1["items"].as_array().unwrap().len(),
        1,
        "the customers table is intact"
    );
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 10.0;
    })
    .await;
    let batch = |n: usize| json!({"batch": (0..n).map(|_| json!({"type":"track","userId":"u","event":"E"})).collect::<Vec<_>>()});
    let (s, _) = app.post("/v1/batch", &batch(10)).await;
    assert_eq!(s, 200);
    let (s, v, h) = app.post_raw("/v1/batch", serde_json::to_vec(&batch(5)).unwrap(), &[]).await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(app.stored().await, 10);
    // Another project's key has its own budget.
    let r = app
        .client
        .post(format!("{}/v1/batch", app.base))
        .basic_auth(&app.other_write_key, Some(""))
        .json(&batch(10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_503_and_stores_only_what_it_acknowledged() {
    let app = spawn_app_with(|c| {
        c.queue_events = 1;
        c.rate_limit = 0.0;
    })
    .await;
    let mut tasks = vec![];
    for i in 0..60 {
        let client = app.client.clone();
        let url = format!("{}/v1/track", app.base);
        let key = app.write_key.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .basic_auth(key, Some(""))
                .json(&json!({"userId":"u","event":"E","messageId":format!("q{i}")}))
                .send()
                .await
                .unwrap();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry)
        }));
    }
    let mut ok = 0;
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            (200, _) => ok += 1,
            (503, Some(r)) => {
                assert_eq!(r, "1");
                busy += 1
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(busy > 0, "with room for one event some of 60 concurrent requests are turned away");
    assert_eq!(app.stored().await, ok, "exactly the acknowledged events are stored");
    app.stop().await;
}

#[tokio::test]
async fn changing_a_rule_reclassifies_past_events() {
    let app = spawn_app().await;
    let call = |wait: u32, mid: &str| json!({"type":"track","userId":"u","event":"Support Call","messageId":mid,"properties":{"wait_minutes":wait}});
    let (s, _) = app.post("/v1/batch", &json!({"batch":[call(3, "c1"), call(25, "c2"), call(40, "c3")]})).await;
    assert_eq!(s, 200);
    // Create the touchpoint, then a rule for long waits.
    let (s, v) = app
        .send(reqwest::Method::POST, "/api/touchpoints", Some(&json!({"key":"long-wait-call","names":{"en":"Support call, long wait","cs":"Hovor na podporu, dlouhé čekání","pl":"Połączenie z infolinią, długie oczekiwanie"},
            "channel":"phone","kind":"direct","stage":"service","department":"customer-service","churn":false})))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.send(reqwest::Method::POST, "/api/touchpoints", Some(&json!({"key":"long-wait-call"}))).await;
    assert_eq!(s, 409, "a taken key: {v}");
    // PUT changes only what it sends.
    let (s, v) = app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-call", Some(&json!({"churn":true}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["churn"].as_bool(), v["channel"].as_str(), v["stage"].as_str()),
        (Some(true), Some("phone"), Some("service"))
    );
    let (s, v) = app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-call", Some(&json!({"stage":null}))).await;
    assert_eq!(
        (s, v["stage"].clone(), v["department"].as_str()),
        (200, Value::Null, Some("customer-service")),
        "null clears"
    );
    app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-call", Some(&json!({"stage":"service"}))).await;
    // A mistyped key is not a new touchpoint: 404, with the nearest keys.
    let (s, v) = app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-cal", Some(&json!({"churn":true}))).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("did you mean long-wait-call?"), "{v}");
    let (s, v) =
        app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-call", Some(&json!({"stage":"nirvana"}))).await;
    assert_eq!(s, 404, "a stage the project does not have: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("not one of this project's stages"));
    let (s, v) =
        app.send(reqwest::Method::PUT, "/api/touchpoints/long-wait-call", Some(&json!({"channel":"pigeon"}))).await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (400, Some("invalid_json"), Some("channel")),
        "{v}"
    );
    assert!(v["error"]["message"].as_str().unwrap().starts_with("channel: "), "{v}");
    // Where in a nested body the wrong value is.
    let (s, v) =
        app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({"filter": {"from": "yesterday"}}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("filter.from")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("filter.from: invalid type: string \"yesterday\""), "{v}");
    // A breakdown as the command line writes it; a wrong one says the forms there are.
    let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({"breakdown": "channel"}))).await;
    assert_eq!((s, v["groups"].is_array()), (200, true), "{v}");
    let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({"breakdown": "country"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("breakdown")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("or trait:NAME"), "{v}");

    let rule = json!({"priority":1,"touchpoint":"long-wait-call","event_name":"Support Call",
        "conditions":[{"field":"property","name":"wait_minutes","op":"one_of","value":"25|40|60"}]});
    let (s, v) = app.send(reqwest::Method::POST, "/api/rules", Some(&rule)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["reclassified"]["scanned"], 3);
    assert_eq!(v["reclassified"]["changed"], 2);
    let rule_id = v["rule"]["id"].as_i64().unwrap();
    let (_, p) = app.get("/api/customers/lookup?user_id=u").await;
    let (_, tl) = app.get(&format!("/api/customers/{}/timeline", p["id"])).await;
    let mut tps: Vec<&str> =
        tl["items"].as_array().unwrap().iter().map(|e| e["touchpoint"].as_str().unwrap()).collect();
    tps.sort();
    assert_eq!(tps, ["long-wait-call", "long-wait-call", "track:Support Call"]);
    // New events follow the rule at once.
    app.post("/v1/track", &call(60, "c4")).await;
    let (_, vol) = app.get("/api/volume?from=2000-01-01&to=2100-01-01").await;
    let long: i64 = vol
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["touchpoint"] == "long-wait-call")
        .map(|r| r["events"].as_i64().unwrap())
        .sum();
    assert_eq!(long, 3, "the daily volume follows re-classification");
    // Deleting the rule puts them back.
    let (s, v) = app.send(reqwest::Method::DELETE, &format!("/api/rules/{rule_id}"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["reclassified"]["changed"], 3);
    let (s, _) = app.send(reqwest::Method::DELETE, &format!("/api/rules/{rule_id}"), None).await;
    assert_eq!(s, 404);
    let (s, v) = app.send(reqwest::Method::POST, "/api/rules", Some(&json!({"priority":1,"touchpoint":"nope"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (404, Some("touchpoint")), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn identity_conflicts_are_recorded_not_merged() {
    let app = spawn_app().await;
    app.post("/v1/identify", &json!({"userId":"alice","anonymousId":"shared-tablet"})).await;
    app.post("/v1/identify", &json!({"userId":"bob","anonymousId":"shared-tablet"})).await;
    let (_, a) = app.get("/api/customers/lookup?user_id=alice").await;
    let (_, b) = app.get("/api/customers/lookup?user_id=bob").await;
    assert_ne!(a["id"], b["id"]);
    let (_, c) = app.get("/api/identity-conflicts").await;
    assert_eq!(c.as_array().unwrap().len(), 1);
    assert_eq!(b["conflicts"].as_array().unwrap().len(), 1, "the profile shows it");
    let (s, _) = app.get("/api/customers/lookup?user_id=carol").await;
    assert_eq!(s, 404);
    let (s, v) = app.get("/api/customers/lookup").await;
    assert_eq!(s, 404, "no id, no customer: {v}");
    let (s, _) = app.get("/api/customers/999999").await;
    assert_eq!(s, 404);
    let (s, v) = app.get(&format!("/api/customers/{}/timeline?cursor=garbage", a["id"])).await;
    assert_eq!(s, 400, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn timelines_page_through_every_event() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..25).map(|i| json!({"type":"page","userId":"u","timestamp":format!("2026-03-01T10:{i:02}:00Z"),"properties":{"path":format!("/p{i}")}})).collect();
    app.post("/v1/batch", &json!({"batch": batch})).await;
    let (_, p) = app.get("/api/customers/lookup?user_id=u").await;
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (s, page) = app.get(&format!("/api/customers/{}/timeline?limit=10{q}", p["id"])).await;
        assert_eq!(s, 200);
        for e in page["items"].as_array().unwrap() {
            seen.push(e["timestamp"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");
    app.stop().await;
}

#[tokio::test]
async fn operations_endpoints() {
    let app = spawn_app().await;
    app.post("/v1/batch", &json!({"batch":[{"type":"track","userId":"u","event":"E","messageId":"x"},{"type":"track","userId":"u","event":"E","messageId":"x"},{"type":"track"}]})).await;
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: Value = app.client.get(format!("{}/readyz", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    for line in [
        "touchpoint_events_accepted_total 1",
        "touchpoint_events_duplicate_total 1",
        "touchpoint_events_failed_total 1",
        "touchpoint_ingest_queue_depth 0",
        "touchpoint_commit_seconds_count",
        "touchpoint_http_requests_total{route=\"/v1/batch\",status=\"200\"} 1",
    ] {
        assert!(metrics.contains(line), "metrics lack {line:?}:\n{metrics}");
    }
    let doc: Value = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let silence = doc["components"]["schemas"]["SilenceSeen"].to_string();
    assert!(["\"all\"", "\"partly\"", "\"none\""].iter().all(|v| silence.contains(v)), "{silence}");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/track",
        "/v1/page",
        "/v1/screen",
        "/v1/identify",
        "/v1/group",
        "/v1/alias",
        "/v1/batch",
        "/api/project",
        "/api/touchpoints",
        "/api/touchpoints/{key}",
        "/api/rules",
        "/api/rules/{id}",
        "/api/customers",
        "/api/customers/lookup",
        "/api/customers/{id}",
        "/api/customers/{id}/timeline",
        "/api/failed-events",
        "/api/identity-conflicts",
        "/api/volume",
        "/api/live",
        "/api/surveys",
        "/api/surveys/{key}",
        "/api/surveys/{key}/publish",
        "/api/surveys/{key}/close",
        "/api/surveys/{key}/invitations",
        "/api/surveys/{key}/responses",
        "/api/analytics/funnel",
        "/api/listening/nps",
        "/api/benchmarks",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/projects/{write_key}/settings",
        "/sourceConfig",
        "/api/customers/{id}/export",
        "/api/triggers",
        "/api/triggers/preview",
        "/api/triggers/{key}",
        "/api/triggers/{key}/pause",
        "/api/triggers/{key}/resume",
        "/api/triggers/{key}/rotate-secret",
        "/api/triggers/{key}/preview",
        "/api/triggers/{key}/report",
        "/api/triggers/{key}/firings",
        "/api/triggers/{key}/replay",
        "/api/customers/{id}/preferences",
        "/api/kb/articles",
        "/api/kb/articles/{id}",
        "/api/kb/articles/{id}/versions",
        "/api/kb/search",
        "/api/self-service",
        "/api/project/identity-secret",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    // Every JSON route is documented, each analysis (7) and listening analysis (9) as its own
    // path with its own query; the survey, unsubscribe and portal pages (/s, /o, /u,
    // /widget.js, /portal) are HTML for people,
    // and the browser SDK's short capture routes (/v1/t …) are the long ones' aliases.
    assert_eq!(paths.len(), 76, "every documented path is a route and every route is documented");
    let (s, v) = app.get("/nope").await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, v) = app.get("/api/project").await;
    assert_eq!((s, v["name"].as_str()), (200, Some("test")));
    let (s, v) = app.get("/api/volume?from=yesterday").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "from");
    app.stop().await;
}

#[tokio::test]
async fn analyses_see_acknowledged_events_and_reclassification() {
    let app = spawn_app().await;
    // Three customers walk a funnel; one stops at the cart.
    let mut batch = vec![];
    for (user, pages) in [("a", 3), ("b", 3), ("c", 2)] {
        for (i, path) in ["/produkt/1", "/kosik", "/pokladna"].iter().take(pages).enumerate() {
            batch.push(json!({"type":"page","userId":user,"timestamp":format!("2026-06-01T10:0{i}:00Z"),"properties":{"path":path}}));
        }
    }
    batch.push(json!({"type":"track","userId":"a","event":"Order Completed","timestamp":"2026-06-01T10:05:00Z"}));
    let (s, v) = app.post("/v1/batch", &json!({"batch": batch})).await;
    assert_eq!(s, 200, "{v}");
    let plan = json!({"query": {"steps": ["page:/produkt", "cart", "checkout", "order-completed"], "window_s": 3600}});
    let counts = |v: &Value| -> Vec<u64> {
        v["groups"][0]["report"]["steps"]
            .as_array()
            .map(|a| a.iter().map(|s| s["customers"].as_u64().unwrap()).collect())
            .unwrap_or_default()
    };
    // Acknowledged events (and the touchpoints they made known) reach the index within a
    // tick; poll rather than sleep.
    let mut got = vec![];
    for _ in 0..100 {
        let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/funnel", Some(&plan)).await;
        assert!(s == 200 || v["error"]["message"].as_str().unwrap_or("").contains("unknown touchpoint"), "{v}");
        got = counts(&v);
        if got == [3, 3, 2, 1] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(got, vec![3, 3, 2, 1]);

    // Re-classify: checkout pages become "cart"; the index follows.
    let rule = json!({"priority":1,"touchpoint":"cart","event_type":"page","conditions":[{"field":"path","op":"prefix","value":"/pokladna"}]});
    let (s, v) = app.send(reqwest::Method::POST, "/api/rules", Some(&rule)).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = app.send(reqwest::Method::POST, "/api/analytics/transitions", Some(&json!({}))).await;
    let pairs: Vec<(String, String)> = v["groups"][0]["report"]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap().to_string(), t["to"].as_str().unwrap().to_string()))
        .collect();
    assert!(pairs.contains(&("cart".into(), "cart".into())), "{pairs:?}");
    assert!(!pairs.iter().any(|(a, b)| a == "checkout" || b == "checkout"), "{pairs:?}");

    // Breakdowns and filters; clear errors for bad plans.
    let (s, v) = app
        .send(
            reqwest::Method::POST,
            "/api/analytics/transitions",
            Some(&json!({"breakdown": {"by": "first_touch_channel"}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["groups"][0]["group"], "web");
    let (s, v) =
        app.send(reqwest::Method::POST, "/api/analytics/funnel", Some(&json!({"query": {"steps": ["nope"]}}))).await;
    assert_eq!(s, 404, "a step the project does not have: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("nope"), "{v}");
    let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/horoscope", Some(&json!({}))).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("there are: journey-map, funnel"), "{v}");
    let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/funnel", Some(&json!({"filtre": {}}))).await;
    assert_eq!(s, 400, "{v}");
    // `curl -d` sends a form content type; the JSON body is read all the same.
    let r = app
        .client
        .post(format!("{}/api/analytics/transitions", app.base))
        .bearer_auth(&app.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("{\"query\":{\"top\":3}}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn retention_weeks_follow_the_project_time_zone_with_daylight_saving() {
    let app = spawn_app().await;
    let (s, v) = app.send(reqwest::Method::PUT, "/api/project", Some(&json!({"timezone": "Europe/Praha"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("timezone")), "{v}");
    let (s, v) = app.send(reqwest::Method::PUT, "/api/project", Some(&json!({"timezone": "Europe/Prague"}))).await;
    assert_eq!((s, v["timezone"].as_str()), (200, Some("Europe/Prague")), "{v}");
    // 22:30 UTC on Sunday 29 March 2026 is 00:30 on Monday in Prague (summer time since 01:00 UTC).
    let ev = |id: &str, user: &str, ts: &str| json!({"type": "page", "userId": user, "messageId": id, "timestamp": ts, "properties": {"path": "/checkout"}});
    let batch = json!({"batch": [
        ev("1", "a", "2026-03-23T10:00:00Z"), ev("2", "a", "2026-03-29T22:30:00Z"), ev("3", "b", "2026-04-10T10:00:00Z")]});
    assert_eq!(app.post("/v1/batch", &batch).await.0, 200);
    let q = |tz: Option<i64>| {
        let mut query = json!({"period": "week", "periods": 1, "from": 1_774_224_000, "to": 1_774_828_800});
        if let Some(o) = tz {
            query["tz_offset_s"] = json!(o);
        }
        json!({ "query": query })
    };
    let mut local = Value::Null;
    for _ in 0..50 {
        let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/retention", Some(&q(None))).await;
        assert_eq!(s, 200, "{v}");
        if v["groups"][0]["report"]["cohorts"][0]["size"] == 1 {
            local = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let cohort = &local["groups"][0]["report"]["cohorts"][0];
    assert_eq!((cohort["start"].as_str(), cohort["retained"][1].as_u64()), (Some("2026-03-23"), Some(1)), "{local}");
    // A query that names its own offset keeps it: at a fixed +1 h the return is still Sunday.
    let (_, fixed) = app.send(reqwest::Method::POST, "/api/analytics/retention", Some(&q(Some(3_600)))).await;
    assert_eq!(fixed["groups"][0]["report"]["cohorts"][0]["retained"][1], 0, "{fixed}");
}

#[tokio::test]
async fn now_is_the_wall_clock_unless_the_query_names_it() {
    let app = spawn_app().await;
    let now_s = touchpoint_store::now_ms() / 1000;
    let iso = |s: i64| touchpoint_core::event::format_time(s * 1000);
    // Twenty customers last seen 89½ days ago: not yet churned (the horizon is 90 days).
    let seen = now_s - 89 * 86_400 - 12 * 3600;
    let batch: Vec<Value> = (0..20)
        .map(|i| json!({"type":"track","userId":format!("quiet-{i}"),"event":"Order Completed","timestamp":iso(seen)}))
        .collect();
    assert_eq!(app.post("/v1/batch", &json!({"batch": batch})).await.0, 200);
    let churned = |v: &Value| v["groups"][0]["report"]["churned"].as_u64();
    let mut v = Value::Null;
    for _ in 0..100 {
        // An empty plan: every analysis has documented defaults.
        let (s, got) = app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({}))).await;
        assert_eq!(s, 200, "{got}");
        v = got;
        if v["snapshot"]["events"] == 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(churned(&v), Some(0), "{v}");
    assert_eq!(v["clock"]["now_from"], "wall_clock");
    let clock_now = touchpoint_core::event::parse_time_str(v["clock"]["now"].as_str().unwrap()).unwrap() / 1000;
    assert!((clock_now - now_s).abs() < 60, "{v}");
    assert_eq!(v["clock"]["timezone"], "UTC");
    assert!(v["clock"]["events_from"].as_str().is_some());
    assert_eq!(v["clock"]["silence_seen"], "all", "churn as of now, no period: {v}");
    // Over the last day, with data from 89½ days ago (less than a horizon before the
    // period): who went silent before the data began is not seen.
    let yesterday = json!({"filter": {"from": now_s - 86_400}});
    let (s, got) = app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&yesterday)).await;
    assert_eq!((s, &got["clock"]["silence_seen"]), (200, &json!("partly")), "{got}");
    // One test event dated 20 hours ahead (kept: within the day of clock skew allowed) must
    // not move "now": with now taken from the newest event, all twenty would have churned.
    let (s, _) =
        app.post("/v1/track", &json!({"userId":"tester","event":"Test","timestamp":iso(now_s + 20 * 3600)})).await;
    assert_eq!(s, 200);
    for _ in 0..100 {
        let (_, got) = app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({}))).await;
        v = got;
        if v["snapshot"]["events"] == 21 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(churned(&v), Some(0), "one future test event changed the churn figures: {v}");
    // A query that names "now" gets that now, and says so.
    let later = now_s + 2 * 86_400;
    let (s, v) =
        app.send(reqwest::Method::POST, "/api/analytics/churn", Some(&json!({"query": {"now_s": later}}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["clock"]["now_from"].as_str(), churned(&v)), (Some("query"), Some(20)), "{v}");
    let (s, v) = app.send(reqwest::Method::POST, "/api/analytics/journey-map", Some(&json!({}))).await;
    assert_eq!(s, 200, "the journey map takes an empty plan too: {v}");
    app.stop().await;
}

/// A customer's data through the API: the export holds every event and trait; erase
/// answers a verified receipt, the customer is gone from the API and the analyses, the
/// other customer stays, and a new event with an erased id is acknowledged but not stored.
#[tokio::test]
async fn a_customer_is_exported_and_erased_through_the_api() {
    let app = spawn_app().await;
    for (user, page) in [("ewa", "/kosik"), ("ewa", "/"), ("piotr", "/")] {
        let (s, r) = app.post("/v1/page", &json!({"userId": user, "properties": {"path": page, "note": "x"}})).await;
        assert_eq!((s, r["stored"].clone()), (200, json!(1)), "{r}");
    }
    app.post("/v1/identify", &json!({"userId": "ewa", "traits": {"city": "Kraków"}})).await;
    let (_, ewa) = app.get("/api/customers/lookup?user_id=ewa").await;
    let id = ewa["id"].as_i64().unwrap();
    let (s, doc) = app.get(&format!("/api/customers/{id}/export")).await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["events"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(doc["profile"]["traits"]["city"], "Kraków");
    // The journey index sees both customers within a tick.
    async fn journeys(app: &common::TestApp) -> u64 {
        let (_, r) = app.send(reqwest::Method::POST, "/api/analytics/transitions", Some(&json!({}))).await;
        r["snapshot"]["customers"].as_u64().unwrap_or(0)
    }
    let mut before = 0;
    for _ in 0..50 {
        before = journeys(&app).await;
        if before == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(before, 2);
    let (s, receipt) = app.send(reqwest::Method::DELETE, &format!("/api/customers/{id}"), None).await;
    assert_eq!(s, 200, "{receipt}");
    assert_eq!(receipt["verified"], true, "{receipt}");
    assert_eq!(receipt["stores"]["removed"]["events"], 3, "{receipt}");
    assert_eq!(receipt["journeys"]["customers_after"], 1, "{receipt}");
    assert_eq!(app.get(&format!("/api/customers/{id}")).await.0, 404);
    assert_eq!(app.get("/api/customers/lookup?user_id=ewa").await.0, 404);
    assert_eq!(app.get("/api/customers/lookup?user_id=piotr").await.0, 200);
    assert_eq!(journeys(&app).await, 1);
    let (s, r) = app.post("/v1/track", &json!({"userId": "ewa", "event": "Came Back"})).await;
    assert_eq!((s, r["stored"].clone()), (200, json!(0)), "{r}");
    assert_eq!(app.stored().await, 1);
    assert_eq!(app.send(reqwest::Method::DELETE, &format!("/api/customers/{id}"), None).await.0, 404);
    app.stop().await;
}

/// A trait named in `searchable_traits` is searched through its index (made when the
/// server opened) with the same answers as any other: trimmed, ASCII case ignored, the
/// project's own canonical customers, in id order.
#[tokio::test]
async fn customers_are_found_by_a_searchable_trait() {
    let app = spawn_app_with(|c| c.searchable_traits = "country, plan".into()).await;
    for (user, country, plan) in [("a", "CZ", "pro"), ("b", " cz ", "free"), ("c", "PL", "pro")] {
        let identify = json!({"userId": user, "traits": {"country": country, "plan": plan, "city": "Brno"}});
        assert_eq!(app.post("/v1/identify", &identify).await.0, 200);
    }
    let id = |user: &str| {
        let app = &app;
        let user = user.to_string();
        async move { app.get(&format!("/api/customers/lookup?user_id={user}")).await.1["id"].clone() }
    };
    let (a, b, c) = (id("a").await, id("b").await, id("c").await);
    for (key, value, want) in [
        ("country", "cz", vec![a.clone(), b.clone()]),
        ("plan", "PRO", vec![a.clone(), c.clone()]),
        ("city", "brno", vec![a.clone(), b.clone(), c.clone()]),
        ("country", "SK", vec![]),
    ] {
        let (status, found) = app.get(&format!("/api/customers/search?trait={key}&value={value}")).await;
        assert_eq!(status, 200, "{found}");
        let ids: Vec<Value> = found["items"].as_array().unwrap().iter().map(|x| x["id"].clone()).collect();
        assert_eq!(ids, want, "{key} = {value}: {found}");
    }
}
