//! What someone holding only the public write key (it sits in every web page) can and
//! cannot do, and what Segment's browser SDK needs from the capture API: its short routes,
//! its settings document, numeric ids, and no credentials kept in stored bodies.

mod common;

use common::{spawn_app, spawn_app_with};
use serde_json::{json, Value};

#[tokio::test]
async fn the_browser_sdk_short_routes_store_like_the_long_ones() {
    let app = spawn_app().await;
    // analytics-next posts text/plain with the write key in the body, and no auth header.
    let cases = [
        ("/v1/t", json!({"type":"track","anonymousId":"a1","event":"Product Viewed"})),
        ("/v1/p", json!({"type":"page","anonymousId":"a1","properties":{"path":"/kosik"}})),
        ("/v1/s", json!({"type":"screen","anonymousId":"a1","name":"Basket"})),
        ("/v1/i", json!({"type":"identify","anonymousId":"a1","userId":"jana"})),
        ("/v1/g", json!({"type":"group","userId":"jana","groupId":"acme"})),
        ("/v1/a", json!({"type":"alias","previousId":"jana","userId":"jana@example.cz"})),
        ("/v1/b", json!({"batch":[{"type":"track","userId":"jana","event":"Order Completed"}]})),
    ];
    for (path, mut body) in cases {
        body["writeKey"] = json!(app.write_key);
        let r = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "text/plain")
            .header("origin", "https://zahradka.cz")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "https://zahradka.cz", "{path}: CORS");
        assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1, "{path}");
    }
    let stored = app.store.scan_events(Some(1), 0, 100).await.unwrap();
    assert_eq!(stored.len(), 7);
    for e in &stored {
        assert!(!e.body.contains("writeKey") && !e.body.contains(&app.write_key), "a credential was kept: {}", e.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn numeric_ids_are_the_same_customer_as_their_string_form() {
    let app = spawn_app().await;
    for id in [json!(4711), json!("4711")] {
        let (s, v) = app.post("/v1/track", &json!({"userId": id, "event":"Order Completed"})).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, profile) = app.get("/api/customers/lookup?user_id=4711").await;
    assert_eq!(s, 200, "{profile}");
    let (_, tl) = app.get(&format!("/api/customers/{}/timeline", profile["id"])).await;
    assert_eq!(tl["items"].as_array().unwrap().len(), 2, "both events are one customer's: {tl}");
    app.stop().await;
}

#[tokio::test]
async fn the_settings_document_points_the_sdk_back_here() {
    let app = spawn_app().await;
    let url = format!("{}/v1/projects/{}/settings", app.base, app.write_key);
    let r = app.client.get(&url).header("origin", "https://zahradka.cz").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://zahradka.cz");
    let doc: Value = r.json().await.unwrap();
    let seg = &doc["integrations"]["Segment.io"];
    assert_eq!(seg["apiKey"], app.write_key.as_str());
    let host = app.base.trim_start_matches("http://");
    assert_eq!(seg["apiHost"], format!("{host}/v1"), "{doc}");
    assert_eq!(seg["protocol"], "http");
    // Unknown keys and secret keys get no document.
    let r = app.client.get(format!("{}/v1/projects/tpw_nope/settings", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.client.get(format!("{}/v1/projects/{}/settings", app.base, app.secret_key)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;

    // Behind a proxy, the public address is the configured one.
    let app = spawn_app_with(|c| c.public_url = "https://cx.zahradka.cz/".into()).await;
    let doc: Value = app
        .client
        .get(format!("{}/v1/projects/{}/settings", app.base, app.write_key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["integrations"]["Segment.io"]["apiHost"], "cx.zahradka.cz/v1");
    assert_eq!(doc["integrations"]["Segment.io"]["protocol"], "https");
    app.stop().await;
}

#[tokio::test]
async fn a_secret_key_is_not_a_write_key() {
    let app = spawn_app().await;
    let ev = json!({"userId":"u","event":"E"});
    let r =
        app.client.post(format!("{}/v1/track", app.base)).bearer_auth(&app.secret_key).json(&ev).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("write key"), "{body}");
    let mut in_body = ev.clone();
    in_body["writeKey"] = json!(app.secret_key);
    let r = app.client.post(format!("{}/v1/t", app.base)).json(&in_body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.stored().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn api_routes_check_the_key_before_the_body() {
    let app = spawn_app().await;
    let cases: [(reqwest::Method, &str, &str); 4] = [
        (reqwest::Method::POST, "/api/analytics/funnel", "not json at all"),
        (reqwest::Method::POST, "/api/rules", "{"),
        (reqwest::Method::PUT, "/api/project", "[]"),
        (reqwest::Method::GET, "/api/customers/not-a-number", ""),
    ];
    for (method, path, body) in cases {
        let r = app.client.request(method.clone(), format!("{}{path}", app.base)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without a key");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "missing_key");
        let r = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(&app.write_key)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path} with a write key");
    }
    app.stop().await;
}

#[tokio::test]
async fn rejected_input_cannot_fill_the_disk() {
    let app = spawn_app_with(|c| {
        c.failed_max_raw_bytes = 1000;
        c.failed_max_events = 5;
        c.failed_max_bytes = 1_000_000;
    })
    .await;
    // Forty bodies of 400 KB that are not JSON: each would have kept 400 KB.
    let junk = vec![b'x'; 400_000];
    for _ in 0..40 {
        let (s, v, _) = app.post_raw("/v1/batch", junk.clone(), &[]).await;
        assert_eq!(s, 400, "{v}");
    }
    let kept = app.store.failed_events(1, None, 100).await.unwrap();
    assert_eq!(kept.len(), 5, "the project's quota");
    for f in &kept {
        assert_eq!(f.event.raw.len(), 1000, "each keeps at most the per-event bytes");
        assert!(f.event.reason.contains("cut from 400000 to 1000 bytes"), "{}", f.event.reason);
    }
    let (_, metrics) = {
        let r = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(metrics.contains("touchpoint_failed_events_dropped_total 35"), "{metrics}");
    // Clearing them (a person's decision) makes room again.
    let (s, v) = app.send(reqwest::Method::DELETE, "/api/failed-events", None).await;
    assert_eq!((s, v["deleted"].as_u64()), (200, Some(5)));
    let (s, _, _) = app.post_raw("/v1/batch", junk.clone(), &[]).await;
    assert_eq!(s, 400);
    assert_eq!(app.failed().await, 1);
    // Another project's write key cannot touch this project's quota or failed events.
    let r = app
        .client
        .post(format!("{}/v1/batch", app.base))
        .basic_auth(&app.other_write_key, Some(""))
        .body(junk.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(app.failed().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn rejections_count_against_the_rate_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit = 1.0;
        c.rate_burst = 3.0;
    })
    .await;
    let mut statuses = vec![];
    for _ in 0..6 {
        let (s, _, h) = app.post_raw("/v1/track", "{not json", &[]).await;
        if s == 429 {
            assert!(h.contains_key("retry-after"));
        }
        statuses.push(s);
    }
    assert_eq!(&statuses[..3], &[400, 400, 400], "{statuses:?}");
    assert!(statuses[3..].iter().all(|&s| s == 429), "past the burst, rejections are refused: {statuses:?}");
    assert_eq!(app.failed().await, 3, "only what the limit let through is kept");
    app.stop().await;
}

#[tokio::test]
async fn survey_pages_are_framed_only_by_their_own_origins() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/o/nope", app.base)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
    assert!(!csp.contains('*'), "{csp}");
    app.stop().await;
    let app = spawn_app_with(|c| {
        c.survey_frame_origins = "https://zahradka.cz https://www.zahradka.cz https://x.cz;script-src *".into();
    })
    .await;
    let r = app.client.get(format!("{}/o/nope", app.base)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.ends_with("frame-ancestors 'self' https://zahradka.cz https://www.zahradka.cz"), "{csp}");
    assert!(!csp.contains("script-src"), "nothing but origins gets in: {csp}");
    app.stop().await;
}

#[tokio::test]
async fn a_project_names_the_sites_that_may_frame_its_survey_pages() {
    let app = spawn_app().await;
    let (s, created) =
        app.send(reqwest::Method::POST, "/api/surveys", Some(&json!({"key": "nps", "template": "nps"}))).await;
    assert_eq!(s, 200, "{created}");
    app.send(reqwest::Method::POST, "/api/surveys/nps/publish", Some(&json!({}))).await;
    let page = created["open_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let csp = |app: &common::TestApp| {
        let url = format!("{}/o/{page}", app.base);
        let client = app.client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.headers()["content-security-policy"].to_str().unwrap().to_string()
        }
    };
    assert!(csp(&app).await.ends_with("frame-ancestors 'self'"));
    let (s, v) = app
        .send(
            reqwest::Method::PUT,
            "/api/project",
            Some(&json!({"site_origins": " https://zahradka.cz   https://www.zahradka.cz "})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["site_origins"], "https://zahradka.cz https://www.zahradka.cz");
    assert!(csp(&app).await.ends_with("frame-ancestors 'self' https://zahradka.cz https://www.zahradka.cz"));
    for bad in ["zahradka.cz", "https://zahradka.cz; script-src *", "javascript:alert(1)"] {
        let (s, v) = app.send(reqwest::Method::PUT, "/api/project", Some(&json!({"site_origins": bad}))).await;
        assert_eq!((s, v["error"]["field"].as_str()), (400, Some("site_origins")), "{bad}: {v}");
    }
    assert_eq!(app.send(reqwest::Method::PUT, "/api/project", Some(&json!({"site_origins": ""}))).await.0, 200);
    assert!(csp(&app).await.ends_with("frame-ancestors 'self'"), "blank removes them");
    app.stop().await;
}

#[tokio::test]
async fn invented_event_names_cannot_grow_the_catalog_without_bound() {
    let catalog = touchpoint_core::catalog::default_catalog().touchpoints.len();
    let app = spawn_app_with(|c| c.max_touchpoints = catalog + 5).await;
    let batch: Vec<Value> =
        (0..30).map(|i| json!({"type":"track","userId":"attacker","event":format!("Invented {i}")})).collect();
    let (s, v) = app.post("/v1/batch", &json!({"batch": batch})).await;
    assert_eq!((s, v["stored"].as_u64()), (200, Some(30)), "every event is still stored: {v}");
    let tps = app.store.touchpoints(1).await.unwrap();
    assert_eq!(tps.len(), catalog + 5, "discovery stopped at the project's cap");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("touchpoint_discovery_capped_total 25"), "{metrics}");
    let unclassified =
        app.store.scan_events(Some(1), 0, 100).await.unwrap().iter().filter(|e| e.touchpoint_id.is_none()).count();
    assert_eq!(unclassified, 25);
    app.stop().await;
}

/// An id or an event name with the NUL character is refused at the edge (400, kept as a
/// failed event), never a failed group commit: PostgreSQL cannot keep NUL in text, and a
/// 503 for everyone in the group would be a denial of service from the public write key.
#[tokio::test]
async fn a_nul_character_is_refused_not_a_failed_commit() {
    let app = spawn_app().await;
    for body in [
        json!({"userId": "a\u{0}b", "event": "A"}),
        json!({"userId": "u", "event": "A\u{0}"}),
        json!({"anonymousId": "x", "event": "A", "messageId": "m\u{0}"}),
    ] {
        let (s, r) = app.post("/v1/track", &body).await;
        assert_eq!(s, 400, "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("NUL"), "{r}");
    }
    // The same group commits carry on for everyone else.
    let (s, r) = app.post("/v1/track", &json!({"userId": "u", "event": "A"})).await;
    assert_eq!((s, r["stored"].clone()), (200, json!(1)), "{r}");
    assert_eq!(app.failed().await, 3);
    app.stop().await;
}
