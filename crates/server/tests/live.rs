//! `GET /api/live`, the live stream of arriving events, over HTTP as the dashboard reads it:
//! an acknowledged event is in a `tick` within two seconds (measured), only the stream's
//! own project's events are in it and a duplicate is not counted; the node serves at most
//! 64 streams and refuses the next with `too_many_streams`, and a stream whose client went
//! away gives its place back and leaves the commit bus; signed-in people watch with
//! `?project=` (an `EventSource` sends no headers), viewers included, and only projects
//! they have a role on. A real server on a fresh data directory; and a node that relays to
//! another (PostgreSQL + ClickHouse) streams what arrives through either node.

mod common;

use common::{spawn_app, spawn_cluster, TestApp};
use reqwest::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use touchpoint_core::access::Role;
use touchpoint_engine::accounts;

/// An open event stream and what was read of it.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    /// The stream a request opens; it must be one.
    async fn open(req: reqwest::RequestBuilder) -> Stream {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "the stream opens");
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/event-stream");
        Stream { resp, buf: String::new() }
    }

    /// The next message (its `event:` name and its `data:` as JSON), skipping keep-alive
    /// comments; `None` when none came within `within` or the stream ended.
    async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let until = Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut data) = (None, vec![]);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if let Some(name) = name {
                    return Some((name, serde_json::from_str(&data.join("\n")).expect("data is JSON")));
                }
            }
            let left = until.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(_) | Err(_) => return None,
            }
        }
    }

    /// The next `tick`, failing on anything else.
    async fn tick(&mut self, within: Duration) -> Value {
        match self.next(within).await {
            Some((name, data)) if name == "tick" => data,
            other => panic!("expected a tick, got {other:?}"),
        }
    }
}

/// `GET /api/live` with the test project's secret key.
fn with_key(app: &TestApp) -> reqwest::RequestBuilder {
    app.client.get(format!("{}/api/live", app.base)).bearer_auth(&app.secret_key)
}

/// Send a track event with a write key; it is acknowledged.
async fn track(app: &TestApp, key: &str, event: &str, message_id: &str) {
    let r = app
        .client
        .post(format!("{}/v1/track", app.base))
        .basic_auth(key, Some(""))
        .json(&json!({"event": event, "anonymousId": "visitor-7", "userId": "u-7", "messageId": message_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// The names of a tick's samples.
fn names(tick: &Value) -> Vec<String> {
    tick["samples"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// A gauge of `/metrics`.
async fn gauge(app: &TestApp, name: &str) -> u64 {
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Poll until `check` holds, for at most `within`; false if it never did.
async fn eventually<F: std::future::Future<Output = bool>>(within: Duration, mut check: impl FnMut() -> F) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn an_acknowledged_event_is_on_the_stream_within_two_seconds_once_and_alone() {
    let app = spawn_app().await;
    let mut live = Stream::open(with_key(&app)).await;
    let hello = live.tick(Duration::from_secs(2)).await;
    assert_eq!((hello["events"].as_u64(), hello["samples"].as_array().map(Vec::len)), (Some(0), Some(0)), "{hello}");
    assert!(hello["at_ms"].as_i64().unwrap() >= hello["since_ms"].as_i64().unwrap(), "{hello}");

    // Another project's event, then one of this project.
    track(&app, &app.other_write_key.clone(), "Elsewhere", "other-1").await;
    let sent = Instant::now();
    track(&app, &app.write_key.clone(), "Live Test", "m-1").await;
    let (mut counted, mut seen) = (0, vec![]);
    let tick = loop {
        let t = live.tick(Duration::from_secs(3)).await;
        counted += t["events"].as_u64().unwrap();
        seen.extend(names(&t));
        if names(&t).contains(&"Live Test".to_string()) {
            break t;
        }
    };
    let took = sent.elapsed();
    eprintln!("an acknowledged event was on the stream {} ms after it was sent", took.as_millis());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let sample = &tick["samples"][0];
    assert_eq!((sample["type"].as_str(), sample["name"].as_str()), (Some("track"), Some("Live Test")), "{tick}");
    assert_eq!(sample["customer"]["anonymous_id"], "visitor-7", "{tick}");
    assert_eq!(sample["customer"]["user_id"], "u-7", "{tick}");
    assert!(sample["customer"]["id"].is_i64() && sample["id"].is_i64(), "{tick}");
    assert!(sample["received_ms"].as_i64().unwrap() <= tick["at_ms"].as_i64().unwrap(), "{tick}");
    // A new kind of event gets its own touchpoint at once; its channel is counted.
    let (tp, channel) = (sample["touchpoint"].as_str().unwrap(), sample["channel"].as_str().unwrap());
    assert!(tp.contains("Live Test"), "{tick}");
    assert_eq!(tick["by_channel"][channel].as_u64(), Some(1), "{tick}");

    // The same messageId again is acknowledged and not counted; the marker after it is.
    track(&app, &app.write_key.clone(), "Live Test", "m-1").await;
    track(&app, &app.other_write_key.clone(), "Elsewhere", "other-2").await;
    track(&app, &app.write_key.clone(), "Marker", "m-2").await;
    loop {
        let t = live.tick(Duration::from_secs(3)).await;
        counted += t["events"].as_u64().unwrap();
        seen.extend(names(&t));
        if names(&t).contains(&"Marker".to_string()) {
            break;
        }
    }
    assert_eq!(counted, 2, "the event and the marker; not the duplicate, nor another project's: {seen:?}");
    assert_eq!(seen, vec!["Live Test", "Marker"]);

    // Nothing else arrives: no tick until the heartbeat (after 15 s), only keep-alives.
    assert_eq!(live.next(Duration::from_secs(3)).await, None);
    // An open stream does not hold the server's shutdown.
    tokio::time::timeout(Duration::from_secs(10), app.stop()).await.expect("the server stops with a stream open");
    assert_eq!(live.next(Duration::from_secs(2)).await, None, "and the stream ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relaying_node_streams_what_arrives_through_any_node_once() {
    let Some((writing, relaying)) = spawn_cluster(1).await else { return };
    let mut live = Stream::open(with_key(&relaying)).await;
    let hello = live.tick(Duration::from_secs(2)).await;
    assert_eq!(hello["events"].as_u64(), Some(0), "{hello}");
    track(&writing, &writing.write_key.clone(), "Through The Writer", "w-1").await;
    track(&relaying, &relaying.write_key.clone(), "Through The Relay", "r-1").await;
    // A retry of the first through the other node: acknowledged, not counted.
    track(&relaying, &relaying.write_key.clone(), "Through The Writer", "w-1").await;
    track(&writing, &writing.other_write_key.clone(), "Elsewhere", "o-1").await;
    track(&writing, &writing.write_key.clone(), "Marker", "w-2").await;
    let (mut counted, mut seen) = (0, vec![]);
    while !seen.contains(&"Marker".to_string()) {
        let t = live.tick(Duration::from_secs(10)).await;
        counted += t["events"].as_u64().unwrap();
        seen.extend(names(&t));
    }
    seen.sort();
    assert_eq!(seen, vec!["Marker", "Through The Relay", "Through The Writer"]);
    assert_eq!(counted, 3, "each event once, not the retry nor another project's");
    // The stream's events are not counted again in the relaying node's journeys.
    let body = json!({"query": {"goal": "order-completed"}});
    for app in [&writing, &relaying] {
        let ok = eventually(Duration::from_secs(10), || async {
            let (status, v) = app.send(reqwest::Method::POST, "/api/analytics/journey-map", Some(&body)).await;
            status == 200 && v["groups"][0]["events"].as_u64() == Some(3)
        })
        .await;
        assert!(ok, "three events in the journeys of {}", app.base);
    }
    tokio::time::timeout(Duration::from_secs(10), relaying.stop()).await.expect("the relaying node stops");
    writing.stop().await;
}

#[tokio::test]
async fn at_most_64_streams_and_a_closed_one_gives_its_place_back() {
    let app = spawn_app().await;
    let mut open = vec![];
    for _ in 0..64 {
        open.push(Stream::open(with_key(&app)).await);
    }
    assert_eq!(gauge(&app, "touchpoint_live_streams").await, 64);
    assert_eq!(
        gauge(&app, "touchpoint_bus_subscribers").await,
        66,
        "the journey index, the trigger decider and 64 streams"
    );
    let r = with_key(&app).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()[RETRY_AFTER], "5");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "too_many_streams", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("at most 64 live streams"), "{e}");

    // A client goes away: its place is free again and its subscription leaves the bus.
    let gone = Instant::now();
    drop(open.pop());
    let mut again = None;
    while again.is_none() && gone.elapsed() < Duration::from_secs(20) {
        let r = with_key(&app).send().await.unwrap();
        if r.status() == 200 {
            again = Some(r);
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(again.is_some(), "the place of a closed stream is given back");
    eprintln!("a closed stream's place was free after {} ms", gone.elapsed().as_millis());
    drop(again);
    drop(open);
    assert!(eventually(Duration::from_secs(20), || async { gauge(&app, "touchpoint_live_streams").await == 0 }).await);
    // The bus drops a closed subscription on its next publish.
    track(&app, &app.write_key.clone(), "After", "after-1").await;
    assert_eq!(gauge(&app, "touchpoint_bus_subscribers").await, 2, "only the journey index and the trigger decider");
    app.stop().await;
}

#[tokio::test]
async fn people_watch_their_projects_with_the_project_in_the_query() {
    let app = spawn_app().await;
    for (email, project) in [("viewer@eshop.cz", 1), ("other@eshop.cz", 2)] {
        accounts::create_user(&*app.store, email, Some("a long enough password"), Role::Viewer, Some(project))
            .await
            .unwrap();
    }
    let session = |email: &'static str| {
        let store = app.store.clone();
        async move {
            let limiter = accounts::SignInLimiter::default();
            let now = touchpoint_store::now_ms();
            accounts::sign_in(&*store, &limiter, email, "a long enough password", "test", now).await.unwrap().token
        }
    };
    let (viewer, other) = (session("viewer@eshop.cz").await, session("other@eshop.cz").await);
    let get = |query: &str, token: &str| {
        app.client.get(format!("{}/api/live{query}", app.base)).header(COOKIE, format!("tp_dash={token}"))
    };
    let refused = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let e: Value = r.json().await.unwrap();
        (status, e["error"]["code"].as_str().unwrap_or_default().to_string())
    };

    // A viewer watches the project they have a role on, named in the query.
    let mut live = Stream::open(get("?project=1", &viewer)).await;
    live.tick(Duration::from_secs(2)).await;
    track(&app, &app.write_key.clone(), "Watched", "w-1").await;
    let t = live.tick(Duration::from_secs(3)).await;
    assert_eq!(names(&t), vec!["Watched"], "{t}");
    // The header works as on every route.
    Stream::open(get("", &viewer).header("x-touchpoint-project", "1")).await;

    // Not a project they have no role on, nor another person's.
    assert_eq!(refused(get("?project=2", &viewer)).await, (403, "forbidden".into()));
    assert_eq!(refused(get("?project=1", &other)).await, (403, "forbidden".into()));
    // The project must be named, and named once: the header and the query agree.
    assert_eq!(refused(get("", &viewer)).await, (400, "invalid_query".into()));
    assert_eq!(refused(get("?project=one", &viewer)).await, (400, "invalid_query".into()));
    assert_eq!(
        refused(get("?project=2", &viewer).header("x-touchpoint-project", "1")).await,
        (403, "forbidden".into())
    );
    // The query names the project on this route only.
    let r =
        app.client.get(format!("{}/api/touchpoints?project=1", app.base)).header(COOKIE, format!("tp_dash={viewer}"));
    assert_eq!(refused(r).await, (400, "invalid_query".into()));
    // A key watches its own project only; a write key not at all.
    assert_eq!(refused(with_key(&app).query(&[("project", "2")])).await, (403, "forbidden".into()));
    Stream::open(with_key(&app).query(&[("project", "1")])).await;
    let w = app.client.get(format!("{}/api/live", app.base)).basic_auth(&app.write_key, Some(""));
    assert_eq!(refused(w).await, (403, "forbidden".into()));
    // Without a session or a key: nothing.
    assert_eq!(refused(app.client.get(format!("{}/api/live", app.base))).await, (401, "missing_key".into()));
    app.stop().await;
}

/// The document describes the stream and the JSON of its two messages, field by field as
/// they are sent.
#[tokio::test]
async fn the_document_describes_the_stream_and_its_messages() {
    let app = spawn_app().await;
    let doc: Value = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let op = &doc["paths"]["/api/live"]["get"];
    assert!(op["responses"]["200"]["content"]["text/event-stream"].is_object(), "{op}");
    assert_eq!(op["responses"]["503"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error");
    let fields = |schema: &str| {
        let mut f: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} in the document"))
            .keys()
            .cloned()
            .collect();
        f.sort();
        f
    };
    assert_eq!(fields("LiveTick"), ["at_ms", "by_channel", "events", "samples", "since_ms"]);
    assert_eq!(
        fields("LiveEvent"),
        ["channel", "customer", "id", "name", "received_ms", "timestamp_ms", "touchpoint", "type"]
    );
    assert_eq!(fields("LiveCustomer"), ["anonymous_id", "id", "user_id"]);
    assert_eq!(fields("LiveLagged"), ["at_ms", "missed_commits"]);
    app.stop().await;
}
