//! Trigger rules end to end, through the HTTP API into real receivers: a real SMTP server
//! (`aiosmtpd`) for the Czech and Polish e-mails, and a webhook receiver that checks every
//! signature with the Standard Webhooks reference implementation, fails when told to and
//! answers 410 when told to. Events go in through `/v1`, rules through `/api/triggers`,
//! and what arrived is read back with Python's own e-mail parser.

mod common;
#[path = "../../act/tests/common/receivers.rs"]
mod receivers;

use common::{spawn_app_with, TestApp};
use receivers::{available, Receiver, TestCa};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const LATE: &str = "track:Delivery Late";
const SUPPORT: &str = "track:Support Contact";

fn now_iso(offset_ms: i64) -> String {
    let ms = chrono::Utc::now().timestamp_millis() + offset_ms;
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An identify from the brand's servers (a server key: its e-mail addresses are believed).
async fn identify(app: &TestApp, user: &str, traits: Value) {
    let (st, body) = app.post_from_server("/v1/identify", &json!({"userId": user, "traits": traits})).await;
    assert_eq!(st, 200, "{body}");
}

/// An identify through the public write key, as anyone holding it can send.
async fn identify_in_page(app: &TestApp, user: &str, traits: Value) {
    let (st, body) = app.post("/v1/identify", &json!({"userId": user, "traits": traits})).await;
    assert_eq!(st, 200, "{body}");
}

async fn track(app: &TestApp, user: &str, event: &str, props: Value, at: &str) {
    let (st, body) =
        app.post("/v1/track", &json!({"userId": user, "event": event, "properties": props, "timestamp": at})).await;
    assert_eq!(st, 200, "{body}");
}

/// Track one event per (user, properties) in one `/v1/batch` request, at now plus
/// `offset_ms`.
async fn track_all(app: &TestApp, users: impl IntoIterator<Item = (String, Value)>, event: &str, offset_ms: i64) {
    let at = now_iso(offset_ms);
    let batch: Vec<Value> = users
        .into_iter()
        .map(|(u, props)| json!({"type": "track", "userId": u, "event": event, "properties": props, "timestamp": at}))
        .collect();
    let (st, body) = app.post("/v1/batch", &json!({"batch": batch})).await;
    assert_eq!(st, 200, "{body}");
}

/// Make the touchpoints the rules name exist (discovery names them `track:<event>`), all
/// at one time a day ago (events a few milliseconds apart could fall in two seconds, and
/// one would then follow the other in a rule's preview).
async fn warm_up(app: &TestApp, events: &[&str]) {
    let at = now_iso(-86_400_000);
    for e in events {
        track(app, "warm-up", e, json!({}), &at).await;
    }
}

async fn api(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.send(method, path, body.as_ref()).await
}

async fn wait_until(secs: u64, mut check: impl AsyncFnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn counts(v: &Value) -> Value {
    v["firings"].clone()
}

/// The rule: a late delivery not followed by a support contact within the window
/// gets a Czech or Polish apology with a survey invitation; one followed in time gets
/// nothing; the unsubscribe link works, and after it the customer gets no more.
#[tokio::test]
async fn late_delivery_without_support_gets_an_apology_in_the_customers_language() {
    if !available("late_delivery_without_support_gets_an_apology_in_the_customers_language") {
        return;
    }
    let smtp = Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| {
        c.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.smtp_from = "Zahrada a dům <obchod@zahrada.example>".into();
        c.public_url = "https://feedback.zahrada.example".into();
    })
    .await;
    warm_up(&app, &["Delivery Late", "Support Contact", "Order Completed"]).await;
    let (st, _) =
        api(&app, Method::POST, "/api/surveys", Some(json!({"key": "csat-delivery", "template": "nps"}))).await;
    assert_eq!(st, 200);
    api(&app, Method::POST, "/api/surveys/csat-delivery/publish", None).await;

    let rule = json!({
        "name": "Late delivery apology",
        "when": {"kind": "not_followed", "touchpoint": LATE, "followed_by": [SUPPORT], "within": "2s"},
        "who": {"traits": [{"field": "country", "op": "in", "value": ["CZ", "PL"]}]},
        "then": {"kind": "email", "survey": "csat-delivery", "templates": {
            "cs": {"subject": "Omlouváme se za zpoždění, {{ first_name }}", "text": "Dobrý den, {{ first_name }}, zásilka od {{ event.carrier }} nedorazila včas. Jak jsme to zvládli? {{ survey_url }}"},
            "pl": {"subject": "Przepraszamy za opóźnienie, {{ first_name }}", "text": "Dzień dobry, {{ first_name }}, przesyłka od {{ event.carrier }} się spóźniła. Jak nam poszło? {{ survey_url }}"}
        }},
        "holdout": 0,
        "goal": {"touchpoint": "order-completed", "within": "7d"}
    });
    // A typo is named, with where it is.
    let mut bad = rule.clone();
    bad["when"]["within"] = json!("2 days");
    let (st, e) = api(&app, Method::POST, "/api/triggers", Some(json!({"key": "late", "definition": bad}))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("definition.when")), "{e}");
    let (st, e) = api(&app, Method::POST, "/api/triggers", Some(json!({"key": "late", "definition": [1, 2]}))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("definition")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("must be an object"), "{e}");
    let (st, created) =
        api(&app, Method::POST, "/api/triggers", Some(json!({"key": "late-delivery-apology", "definition": rule})))
            .await;
    assert_eq!(st, 200, "{created}");
    assert_eq!(created["status"], "draft");
    let (st, v) = api(&app, Method::POST, "/api/triggers/late-delivery-apology/resume", None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("live")), "{v}");

    identify(
        &app,
        "jana",
        json!({"email": "jana@example.cz", "first_name": "Jana", "country": "CZ", "language": "cs"}),
    )
    .await;
    identify(
        &app,
        "lukasz",
        json!({"email": "lukasz@example.pl", "first_name": "Łukasz", "country": "PL", "language": "pl-PL"}),
    )
    .await;
    identify(
        &app,
        "petr",
        json!({"email": "petr@example.cz", "first_name": "Petr", "country": "CZ", "language": "cs"}),
    )
    .await;
    identify(
        &app,
        "hans",
        json!({"email": "hans@example.de", "first_name": "Hans", "country": "DE", "language": "de"}),
    )
    .await;
    // A stranger with the page's write key makes up a customer with someone else's address
    // (and claims it is verified), and changes Łukasz's: neither address gets mail.
    let forged = json!({"email": "victim@example.cz", "$verified_email": "victim@example.cz", "first_name": "Eva",
        "country": "CZ", "language": "cs"});
    identify_in_page(&app, "eve", forged).await;
    identify_in_page(&app, "lukasz", json!({"email": "attacker@example.cz"})).await;
    for u in ["jana", "lukasz", "petr", "hans", "eve"] {
        track(&app, u, "Delivery Late", json!({"carrier": "PPL"}), &now_iso(0)).await;
    }
    // Petr calls support within the window: no apology for him.
    track(&app, "petr", "Support Contact", json!({}), &now_iso(500)).await;

    let got = smtp
        .wait_for(20, |r| {
            let m = r.messages();
            (m.len() >= 2).then_some(m)
        })
        .await;
    let got = got.expect("two e-mails within 20 s");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 2, "only Jana and Łukasz");
    let (_, eve) = app.get("/api/customers/lookup?user_id=eve").await;
    assert_eq!(eve["traits"]["email"], "victim@example.cz", "the trait is kept for analyses: {eve}");
    assert!(eve["traits"].get("$verified_email").is_none(), "a write key cannot say an address is verified: {eve}");
    let by_to = |to: &str| got.iter().find(|m| m["envelope"]["to"][0] == to).cloned().unwrap();
    let cs = by_to("jana@example.cz");
    assert_eq!(cs["subject"], "Omlouváme se za zpoždění, Jana");
    let text = cs["text"].as_str().unwrap();
    assert!(text.contains("zásilka od PPL nedorazila včas"), "{text}");
    let survey = text.split_whitespace().find(|w| w.starts_with("https://feedback.zahrada.example/s/")).unwrap();
    let pl = by_to("lukasz@example.pl");
    assert_eq!(pl["subject"], "Przepraszamy za opóźnienie, Łukasz");
    assert!(pl["text"].as_str().unwrap().contains("Wypisz się: https://feedback.zahrada.example/u/"));
    assert!(pl["list_unsubscribe"].as_str().unwrap().ends_with("?lang=pl>"), "{pl}");
    assert!(cs["message_id"].as_str().unwrap().starts_with("<msg_"));

    // The survey link opens the survey (on this server, whatever the public address).
    let path = survey.trim_start_matches("https://feedback.zahrada.example");
    let page = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // The rule's firings: two delivered, Petr's cancelled by his call, Hans not for the rule,
    // Eve's suppressed: her address came only through the public write key.
    let want = json!({"cancelled": 1, "delivered": 2, "suppressed": 1});
    let rule_now = async || api(&app, Method::GET, "/api/triggers/late-delivery-apology", None).await.1;
    assert!(wait_until(10, async || counts(&rule_now().await) == want).await, "{}", rule_now().await);
    let (_, f) = api(&app, Method::GET, "/api/triggers/late-delivery-apology/firings?state=suppressed", None).await;
    assert_eq!(f[0]["reason"], "unverified_email", "{f}");
    // The rule's view counts every suppressed firing by reason.
    assert_eq!(rule_now().await["suppressed_reasons"], json!([{"reason": "unverified_email", "count": 1}]));

    // One click on the unsubscribe link (as a mail client does), then Jana gets no more.
    let unsub = cs["list_unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(['<', '>'])
        .trim_start_matches("https://feedback.zahrada.example")
        .to_string();
    assert!(unsub.ends_with("?lang=cs"), "the link keeps the message's language: {unsub}");
    // An English browser still gets the page in the language of the e-mail.
    let page = app.client.get(format!("{}{unsub}", app.base)).header("accept-language", "en").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Odhlásit odběr") && html.contains("?lang=cs"), "{html}");
    let done = app
        .client
        .post(format!("{}{unsub}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let tampered = app.client.post(format!("{}{}", app.base, unsub.replace("?lang", "x?lang"))).send().await.unwrap();
    assert_eq!(tampered.status(), 404);
    track(&app, "jana", "Delivery Late", json!({"carrier": "DPD"}), &now_iso(0)).await;
    let suppressed = wait_until(15, async || {
        let (_, f) = api(&app, Method::GET, "/api/triggers/late-delivery-apology/firings?state=suppressed", None).await;
        f.as_array().is_some_and(|a| a.iter().filter(|x| x["reason"] == "consent").count() == 1)
    })
    .await;
    assert!(suppressed, "Jana's second firing is suppressed for consent");
    assert_eq!(smtp.messages().len(), 2);

    // Erasing Jana takes her firings and her preference with her.
    let (_, c) = app.get("/api/customers/lookup?user_id=jana").await;
    let jana = c["id"].as_i64().unwrap();
    let (st, receipt) = api(&app, Method::DELETE, &format!("/api/customers/{jana}"), None).await;
    assert_eq!(st, 200, "{receipt}");
    let removed = &receipt["stores"]["removed"];
    assert_eq!((removed["firings"].as_u64(), removed["preferences"].as_u64()), (Some(2), Some(1)), "{receipt}");
    assert_eq!(receipt["verified"], true, "{receipt}");
    let (_, f) = api(&app, Method::GET, "/api/triggers/late-delivery-apology/firings", None).await;
    assert!(f.as_array().unwrap().iter().all(|x| x["customer_id"] != jana), "{f}");
    assert_eq!(f.as_array().unwrap().len(), 3, "Łukasz's, Petr's and Eve's stay: {f}");
    app.stop().await;
}

/// A webhook that fails twice gets the same firing id three times, every one signed; a
/// receiver that fails every attempt sends the firing to the dead-letter list, from which
/// a replay delivers it with its id; a 410 pauses the rule.
#[tokio::test]
async fn webhooks_retry_with_one_id_go_dead_replay_and_stop_at_410() {
    if !available("webhooks_retry_with_one_id_go_dead_replay_and_stop_at_410") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let flaky = Receiver::webhook(&secret, &json!({"fail_first": 2, "fail_status": 503}));
    let dead = Receiver::webhook(&secret, &json!({"fail_first": 8, "fail_status": 500}));
    let gone = Receiver::webhook(&secret, &json!({"status": 410}));
    let app = spawn_app_with(|c| c.retry_speedup = 10_000.0).await;
    warm_up(&app, &["Order Completed"]).await;
    for (key, r) in [("flaky", &flaky), ("dead", &dead), ("gone", &gone)] {
        let rule = json!({
            "name": key,
            "when": {"kind": "happens", "touchpoint": "order-completed", "where": [{"field": "total", "op": "gte", "value": 100}]},
            "then": {"kind": "webhook", "endpoint": {"url": r.url(), "secret": secret}},
            "holdout": 0
        });
        let (st, v) =
            api(&app, Method::POST, "/api/triggers", Some(json!({"key": key, "definition": rule, "live": true}))).await;
        assert_eq!(st, 200, "{v}");
        assert!(v["definition"]["then"]["endpoint"]["secret"].as_str().unwrap().starts_with("whsec_…"), "masked: {v}");
    }
    // One request, so the three orders are decided together: a's and c's firings are on
    // their way before the first 410 comes back, however fast the store commits.
    track_all(
        &app,
        [("a", 150), ("b", 20), ("c", 300)].map(|(u, total)| (u.to_string(), json!({"total": total}))),
        "Order Completed",
        0,
    )
    .await;
    // Flaky: a and c (b's order is too small), three attempts each, one id each, all signed.
    let log = flaky
        .wait_for(30, |r| {
            let l = r.requests();
            (l.iter().filter(|x| x["status"] == 200).count() == 2).then_some(l)
        })
        .await
        .expect("both delivered");
    assert_eq!(log.len(), 6, "{log:?}");
    assert!(log.iter().all(|x| x["valid"] == true));
    let mut ids: Vec<&str> = log.iter().map(|x| x["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2);
    let users: Vec<&str> = log
        .iter()
        .filter(|x| x["status"] == 200)
        .map(|x| x["body"]["data"]["customer"]["user_id"].as_str().unwrap())
        .collect();
    assert!(users.contains(&"a") && users.contains(&"c"), "{users:?}");
    assert!(
        wait_until(10, async || {
            let (_, v) = api(&app, Method::GET, "/api/triggers/flaky/firings", None).await;
            v.as_array().unwrap().iter().all(|f| f["state"] == "delivered" && f["attempts"] == 3)
        })
        .await
    );

    // Dead: eight attempts, then the dead-letter list; a replay delivers with the same id.
    assert!(
        wait_until(30, async || {
            let (_, v) = api(&app, Method::GET, "/api/triggers/dead/firings?state=dead", None).await;
            v.as_array().unwrap().len() == 2
        })
        .await,
        "both firings dead after eight attempts"
    );
    let (_, d) = api(&app, Method::GET, "/api/triggers/dead/firings?state=dead", None).await;
    assert!(d[0]["last_error"].as_str().unwrap().contains("gave up after 8 attempts"), "{d}");
    assert_eq!(dead.requests().len(), 16);
    let one = d[0]["id"].as_str().unwrap().to_string();
    let (st, r) = api(&app, Method::POST, "/api/triggers/dead/replay", Some(json!({"id": one}))).await;
    assert_eq!((st, r["replayed"].as_u64()), (200, Some(1)), "{r}");
    let last =
        dead.wait_for(15, |r| r.requests().into_iter().find(|x| x["status"] == 200)).await.expect("the replay arrives");
    assert_eq!(last["id"], one.as_str());
    let (st, e) = api(&app, Method::POST, "/api/triggers/dead/replay", Some(json!({"id": "msg_nothing"}))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (404, Some("id")), "{e}");

    // Gone: the first 410 pauses the rule and disables its endpoint.
    assert!(
        wait_until(15, async || {
            let (_, v) = api(&app, Method::GET, "/api/triggers/gone", None).await;
            v["status"] == "paused" && v["definition"]["then"]["endpoint"]["disabled"].is_string()
        })
        .await
    );
    // a's and c's firings were both on their way before the first 410; nothing after it.
    track(&app, "d", "Order Completed", json!({"total": 500}), &now_iso(0)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(gone.requests().len() <= 2, "nothing more to a gone endpoint: {:?}", gone.requests());
    let (_, f) = api(&app, Method::GET, "/api/triggers/gone/firings", None).await;
    assert_eq!(f.as_array().unwrap().len(), 2, "d's order decided nothing: {f}");
    assert!(f.as_array().unwrap().iter().all(|x| x["state"] == "dead"), "{f}");
    app.stop().await;
}

/// Half the customers held out: the groups split by the stable hash within binomial
/// bounds, held-out firings send nothing, and the report's counts and uplift are those
/// the firings and the goal events give by hand.
#[tokio::test]
async fn hold_out_and_the_report() {
    if !available("hold_out_and_the_report") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&secret, &json!({}));
    let app = spawn_app_with(|c| c.messages_per_customer_per_day = 0).await;
    warm_up(&app, &["Checkout Started", "Order Completed"]).await;
    let rule = json!({
        "name": "Checkout nudge",
        "when": {"kind": "happens", "touchpoint": "track:Checkout Started"},
        "then": {"kind": "webhook", "endpoint": {"url": hook.url(), "secret": secret}},
        "holdout": 0.5,
        "goal": {"touchpoint": "order-completed", "within": "3s"}
    });
    let (st, v) =
        api(&app, Method::POST, "/api/triggers", Some(json!({"key": "nudge", "definition": rule, "live": true}))).await;
    assert_eq!(st, 200, "{v}");
    let n = 120;
    // One request: every firing is decided and sent at about the same time, so each
    // customer's 3 s goal window starts together whatever the store's speed.
    track_all(&app, (0..n).map(|i| (format!("u{i}"), json!({}))), "Checkout Started", 0).await;
    assert!(
        wait_until(30, async || {
            let (_, v) = api(&app, Method::GET, "/api/triggers/nudge", None).await;
            v["firings"]["delivered"].as_i64().unwrap_or(0) + v["firings"]["held_out"].as_i64().unwrap_or(0) == n
        })
        .await
    );
    let (_, firings) = api(&app, Method::GET, "/api/triggers/nudge/firings?limit=1000", None).await;
    let firings = firings.as_array().unwrap().clone();
    let held: Vec<i64> =
        firings.iter().filter(|f| f["held_out"] == true).map(|f| f["customer_id"].as_i64().unwrap()).collect();
    let sd = (n as f64 * 0.25).sqrt();
    assert!((held.len() as f64 - n as f64 / 2.0).abs() < 4.0 * sd, "{} held of {n}", held.len());
    assert_eq!(hook.requests().len(), n as usize - held.len(), "held-out customers get nothing");
    // Every third customer orders within the horizon.
    let mut converted = std::collections::HashSet::new();
    let buyers: Vec<String> = (0..n as usize).step_by(3).map(|i| format!("u{i}")).collect();
    track_all(&app, buyers.iter().map(|u| (u.clone(), json!({}))), "Order Completed", 1000).await;
    for u in &buyers {
        let (_, c) = app.get(&format!("/api/customers/lookup?user_id={u}")).await;
        converted.insert(c["id"].as_i64().unwrap());
    }
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let (st, report) = api(&app, Method::GET, "/api/triggers/nudge/report", None).await;
    assert_eq!(st, 200, "{report}");
    let held_n = held.len() as u64;
    let held_x = held.iter().filter(|c| converted.contains(c)).count() as u64;
    let treated_n = n as u64 - held_n;
    let treated_x = converted.len() as u64 - held_x;
    assert_eq!((report["treated"].as_u64(), report["held_out"].as_u64()), (Some(treated_n), Some(held_n)), "{report}");
    let u = &report["uplift"];
    assert_eq!(
        (u["treated"]["converted"].as_u64(), u["held_out"]["converted"].as_u64()),
        (Some(treated_x), Some(held_x)),
        "{report}"
    );
    let want = touchpoint_act::uplift::uplift(treated_x, treated_n, held_x, held_n).unwrap();
    assert!((u["interval"]["low"].as_f64().unwrap() - want.interval.low).abs() < 1e-12);
    assert!(report["summary"].as_str().unwrap().contains("95 % interval"));
    app.stop().await;
}

/// The preview replays the journeys: on past events, it counts what the rule would have
/// done — fired, cancelled by the follow-up, kept out by re-entry — as a hand count does.
#[tokio::test]
async fn preview_counts_what_the_rule_would_have_done() {
    let app = spawn_app_with(|_| {}).await;
    warm_up(&app, &["Delivery Late", "Support Contact"]).await;
    let day = 86_400_000;
    // 6 customers late 10 days ago; customers 0 and 1 called within a day; customer 2
    // called after three days; customer 5 was late again 5 days ago.
    for i in 0..6 {
        track(
            &app,
            &format!("p{i}"),
            "Delivery Late",
            json!({"carrier": if i % 2 == 0 { "PPL" } else { "DPD" }}),
            &now_iso(-10 * day),
        )
        .await;
    }
    track(&app, "p0", "Support Contact", json!({}), &now_iso(-10 * day + 3_600_000)).await;
    track(&app, "p1", "Support Contact", json!({}), &now_iso(-9 * day - 3_600_000)).await;
    track(&app, "p2", "Support Contact", json!({}), &now_iso(-7 * day)).await;
    track(&app, "p5", "Delivery Late", json!({"carrier": "PPL"}), &now_iso(-5 * day)).await;
    let rule = |reentry: &str, conditions: Value| {
        json!({
            "name": "late",
            "when": {"kind": "not_followed", "touchpoint": LATE, "followed_by": [SUPPORT], "within": "2d", "where": conditions},
            "then": {"kind": "webhook", "endpoint": {"url": "http://127.0.0.1:9/x"}},
            "guard": {"reentry": reentry}
        })
    };
    // The journey index folds every 250 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let preview = async |def: Value| {
        let (st, p) =
            api(&app, Method::POST, "/api/triggers/preview", Some(json!({"definition": def, "days": 30}))).await;
        assert_eq!(st, 200, "{p}");
        p
    };
    let p = preview(rule("every_time", json!([]))).await;
    assert_eq!(
        (p["fired"].as_u64(), p["customers"].as_u64(), p["cancelled_by_follow_up"].as_u64()),
        (Some(5), Some(4), Some(2)),
        "p2, p3, p4, p5 twice fire; p0, p1 cancelled: {p}"
    );
    let p = preview(rule("once", json!([]))).await;
    assert_eq!((p["fired"].as_u64(), p["skipped_by_reentry"].as_u64()), (Some(4), Some(1)), "{p}");
    let p = preview(rule("every_time", json!([{"field": "carrier", "op": "eq", "value": "PPL"}]))).await;
    assert_eq!(
        (p["fired"].as_u64(), p["cancelled_by_follow_up"].as_u64()),
        (Some(3), Some(1)),
        "p2, p4, p5 (second); p0 cancelled: {p}"
    );
    // Saved, previewed by key with the same answer.
    api(&app, Method::POST, "/api/triggers", Some(json!({"key": "late", "definition": rule("once", json!([]))}))).await;
    let (st, p) = api(&app, Method::GET, "/api/triggers/late/preview?days=30", None).await;
    assert_eq!((st, p["fired"].as_u64()), (200, Some(4)), "{p}");
    let (st, e) = api(&app, Method::GET, "/api/triggers/lat/preview", None).await;
    assert_eq!(st, 404);
    assert!(e["error"]["message"].as_str().unwrap().contains("late"), "a hint: {e}");
    app.stop().await;
}

/// Caps hold when firings race: three rules fire on the same event for one customer, and
/// with one message a day per channel exactly one webhook leaves, whichever is first; the
/// others are suppressed by the channel's cap. An event from two days ago (an import)
/// starts nothing.
#[tokio::test]
async fn one_event_three_rules_one_message_under_the_channel_cap() {
    if !available("one_event_three_rules_one_message_under_the_channel_cap") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&secret, &json!({}));
    let app = spawn_app_with(|c| c.messages_per_customer_per_day = 1).await;
    warm_up(&app, &["Payment Failed"]).await;
    for i in 0..3 {
        let rule = json!({
            "name": format!("payment {i}"),
            "when": {"kind": "happens", "touchpoint": "track:Payment Failed"},
            "then": {"kind": "webhook", "endpoint": {"url": hook.url(), "secret": secret}},
            "holdout": 0
        });
        let (st, v) =
            api(&app, Method::POST, "/api/triggers", Some(json!({"key": format!("pay-{i}"), "definition": rule})))
                .await;
        assert_eq!(st, 200, "{v}");
        api(&app, Method::POST, &format!("/api/triggers/pay-{i}/resume"), None).await;
    }
    track(&app, "old", "Payment Failed", json!({}), &now_iso(-2 * 86_400_000)).await;
    track(&app, "eva", "Payment Failed", json!({}), &now_iso(0)).await;
    let states = async || {
        let mut all = vec![];
        for i in 0..3 {
            let (_, f) = api(&app, Method::GET, &format!("/api/triggers/pay-{i}/firings"), None).await;
            all.extend(f.as_array().unwrap().iter().map(|x| (x["state"].as_str().unwrap().to_string(), x.clone())));
        }
        all
    };
    assert!(
        wait_until(15, async || {
            let s = states().await;
            s.len() == 3 && s.iter().all(|(st, _)| st == "delivered" || st == "suppressed")
        })
        .await,
        "{:?}",
        states().await
    );
    let s = states().await;
    assert_eq!(s.iter().filter(|(st, _)| st == "delivered").count(), 1, "{s:?}");
    for (st, f) in &s {
        if st == "suppressed" {
            assert_eq!(f["reason"], "channel_cap", "{f}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.requests().len(), 1, "one message: {:?}", hook.requests());
    app.stop().await;
}

/// Messages over TLS to servers whose certificate the company's own CA signed, trusted
/// through `tls_ca_file`: one failed payment, a signed webhook to an HTTPS receiver and an
/// e-mail through an SMTP relay that requires STARTTLS, both delivered.
#[tokio::test]
async fn rules_send_over_tls_to_servers_of_the_companys_own_ca() {
    let test = "rules_send_over_tls_to_servers_of_the_companys_own_ca";
    if !available(test) {
        return;
    }
    let Some(ca) = TestCa::new(test) else { return };
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook_tls(&secret, &json!({}), &ca);
    let smtp = Receiver::smtp_tls("starttls", &ca);
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), &ca.ca_pem).unwrap();
    let port = smtp.port;
    let app = spawn_app_with(|c| {
        c.smtp_url = format!("smtp://127.0.0.1:{port}?tls=required");
        c.tls_ca_file = ca_file.path().display().to_string();
    })
    .await;
    warm_up(&app, &["Payment Failed"]).await;
    let rules = [
        (
            "hook",
            json!({"kind": "webhook", "endpoint": {"url": format!("https://127.0.0.1:{}/hook", hook.port), "secret": secret}}),
        ),
        (
            "mail",
            json!({"kind": "email", "templates": {"cs": {"subject": "Platba neprošla, {{ first_name }}", "text": "Zkuste to prosím znovu."}}}),
        ),
    ];
    for (key, then) in rules {
        let rule = json!({"name": key, "when": {"kind": "happens", "touchpoint": "track:Payment Failed"}, "then": then, "holdout": 0});
        let (st, v) =
            api(&app, Method::POST, "/api/triggers", Some(json!({"key": key, "definition": rule, "live": true}))).await;
        assert_eq!(st, 200, "{v}");
    }
    identify(&app, "eva", json!({"email": "eva@example.cz", "first_name": "Eva", "language": "cs"})).await;
    track(&app, "eva", "Payment Failed", json!({}), &now_iso(0)).await;
    let got = hook.wait_for(15, |r| r.requests().into_iter().next()).await.expect("the webhook arrives over HTTPS");
    assert_eq!((got["valid"].as_bool(), got["status"].as_u64()), (Some(true), Some(200)), "{got}");
    let mail = smtp.wait_for(15, |r| r.messages().into_iter().next()).await.expect("the e-mail arrives over STARTTLS");
    assert_eq!(mail["subject"], "Platba neprošla, Eva");
    assert_eq!(mail["envelope"]["to"], json!(["eva@example.cz"]));
    app.stop().await;
}

/// A customer's preferences through the API: recorded, read back, obeyed by the next
/// firing (suppressed for consent) on the channel they are about and no other; a category
/// or channel that is not one is named with where it is, and a customer of no one is not
/// found.
#[tokio::test]
async fn preferences_set_through_the_api_are_obeyed() {
    if !available("preferences_set_through_the_api_are_obeyed") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&secret, &json!({}));
    let app = spawn_app_with(|_| {}).await;
    warm_up(&app, &["Payment Failed"]).await;
    identify(&app, "vera", json!({"email": "vera@example.cz"})).await;
    let (st, profile) = api(&app, Method::GET, "/api/customers/lookup?user_id=vera", None).await;
    assert_eq!(st, 200, "{profile}");
    let id = profile["id"].as_i64().unwrap();
    let path = format!("/api/customers/{id}/preferences");
    let (st, p) = api(&app, Method::GET, &path, None).await;
    assert_eq!((st, p), (200, json!([])));

    let (st, e) = api(
        &app,
        Method::PUT,
        &path,
        Some(
            json!({"preferences": [{"category": "service", "allowed": false}, {"category": "   ", "allowed": false}]}),
        ),
    )
    .await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("preferences[1].category")), "{e}");
    let (_, p) = api(&app, Method::GET, &path, None).await;
    assert_eq!(p, json!([]), "all or nothing");
    let sms = json!({"preferences": [{"category": "service", "allowed": false}, {"category": "service", "channel": "sms", "allowed": false}]});
    let (st, e) = api(&app, Method::PUT, &path, Some(sms)).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("preferences[1].channel")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("email, webhook or in_page"), "{e}");
    // Ida refuses service e-mails only: the rule's webhook (the brand's text messages) still goes.
    identify(&app, "ida", json!({"email": "ida@example.cz"})).await;
    let (_, ida) = api(&app, Method::GET, "/api/customers/lookup?user_id=ida", None).await;
    let ida = ida["id"].as_i64().unwrap();
    let only_email = json!({"preferences": [{"category": "service", "channel": "email", "allowed": false}]});
    let (st, p) = api(&app, Method::PUT, &format!("/api/customers/{ida}/preferences"), Some(only_email)).await;
    assert_eq!((st, p[0]["channel"].as_str(), p[0]["allowed"].as_bool()), (200, Some("email"), Some(false)), "{p}");
    let (st, p) =
        api(&app, Method::PUT, &path, Some(json!({"preferences": [{"category": "service", "allowed": false}]}))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        (p[0]["category"].as_str(), p[0]["channel"].as_str(), p[0]["allowed"].as_bool(), p[0]["source"].as_str()),
        (Some("service"), Some("all"), Some(false), Some("api")),
        "{p}"
    );
    let (st, _) = api(&app, Method::GET, "/api/customers/999999/preferences", None).await;
    assert_eq!(st, 404);

    let rule = json!({
        "name": "payment",
        "when": {"kind": "happens", "touchpoint": "track:Payment Failed"},
        "then": {"kind": "webhook", "endpoint": {"url": hook.url(), "secret": secret}},
        "holdout": 0
    });
    api(&app, Method::POST, "/api/triggers", Some(json!({"key": "pay", "definition": rule, "live": true}))).await;
    track(&app, "vera", "Payment Failed", json!({}), &now_iso(0)).await;
    track(&app, "otto", "Payment Failed", json!({}), &now_iso(0)).await;
    track(&app, "ida", "Payment Failed", json!({}), &now_iso(0)).await;
    let done = async || {
        let (_, f) = api(&app, Method::GET, "/api/triggers/pay/firings", None).await;
        f.as_array().unwrap().iter().filter(|x| x["state"] != "pending").cloned().collect::<Vec<_>>()
    };
    assert!(wait_until(15, async || done().await.len() == 3).await, "{:?}", done().await);
    let f = done().await;
    let vera = f.iter().find(|x| x["customer_id"] == id).unwrap();
    assert_eq!((vera["state"].as_str(), vera["reason"].as_str()), (Some("suppressed"), Some("consent")), "{vera}");
    assert_eq!(f.iter().filter(|x| x["customer_id"] != id && x["state"] == "delivered").count(), 2, "{f:?}");
    assert!(f.iter().any(|x| x["customer_id"] == ida && x["state"] == "delivered"), "{f:?}");
    assert_eq!(hook.requests().len(), 2, "Otto's and Ida's");
    app.stop().await;
}

/// `who.stage`: the rule is for customers whose latest staged touchpoint, up to the event,
/// is in one of its stages — live and in the preview alike.
#[tokio::test]
async fn who_by_stage_live_and_in_the_preview() {
    let app = spawn_app_with(|_| {}).await;
    warm_up(&app, &["Checkout Started", "Payment Failed"]).await;
    let (st, v) =
        api(&app, Method::PUT, "/api/touchpoints/track:Checkout%20Started", Some(json!({"stage": "purchase"}))).await;
    assert_eq!(st, 200, "{v}");
    let rule = json!({
        "name": "failed at the till",
        "when": {"kind": "happens", "touchpoint": "track:Payment Failed"},
        "who": {"stage": ["purchase"]},
        "then": {"kind": "webhook", "endpoint": {"url": "http://127.0.0.1:9/x"}},
        "holdout": 0
    });
    let mut typo = rule.clone();
    typo["who"]["stage"] = json!(["purchse"]);
    let (st, e) = api(&app, Method::POST, "/api/triggers", Some(json!({"key": "till", "definition": typo}))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("definition.who.stage[0]")), "{e}");
    let (st, v) =
        api(&app, Method::POST, "/api/triggers", Some(json!({"key": "till", "definition": rule, "live": true}))).await;
    assert_eq!(st, 200, "{v}");
    track(&app, "buyer", "Checkout Started", json!({}), &now_iso(-1000)).await;
    track(&app, "buyer", "Payment Failed", json!({}), &now_iso(0)).await;
    track(&app, "browser", "Payment Failed", json!({}), &now_iso(0)).await;
    let firings = async || {
        let (_, f) = api(&app, Method::GET, "/api/triggers/till/firings", None).await;
        f.as_array().unwrap().clone()
    };
    assert!(wait_until(10, async || firings().await.len() == 1).await, "{:?}", firings().await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let f = firings().await;
    assert_eq!(f.len(), 1, "the buyer's only: {f:?}");
    let (_, buyer) = api(&app, Method::GET, "/api/customers/lookup?user_id=buyer", None).await;
    assert_eq!(f[0]["customer_id"], buyer["id"]);
    let (st, p) = api(&app, Method::GET, "/api/triggers/till/preview?days=30", None).await;
    // The warm-up customer's checkout and failed payment of a day ago count too; the
    // browser's, with no stage, does not.
    assert_eq!((st, p["fired"].as_u64(), p["not_for_them"].as_u64()), (200, Some(2), Some(1)), "{p}");
    app.stop().await;
}

/// A firing belongs to the person, not to the id its event arrived with: an anonymous
/// visitor who then signs in is the known customer they merged into — whose opt-out
/// stops the message, and whose follow-up, done signed in, cancels the timer.
#[tokio::test]
async fn a_visitor_who_signs_in_is_the_customer_they_became() {
    if !available("a_visitor_who_signs_in_is_the_customer_they_became") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&secret, &json!({}));
    let app = spawn_app_with(|_| {}).await;
    warm_up(&app, &["Checkout Started", "Order Completed"]).await;
    let rule = json!({
        "name": "checkout left",
        "when": {"kind": "not_followed", "touchpoint": "track:Checkout Started", "followed_by": ["order-completed"], "within": "2s"},
        "then": {"kind": "webhook", "endpoint": {"url": hook.url(), "secret": secret}},
        "holdout": 0
    });
    let (st, v) =
        api(&app, Method::POST, "/api/triggers", Some(json!({"key": "left", "definition": rule, "live": true}))).await;
    assert_eq!(st, 200, "{v}");
    for user in ["mila", "noah", "ida"] {
        identify(&app, user, json!({"email": format!("{user}@example.cz")})).await;
    }
    let (_, mila) = api(&app, Method::GET, "/api/customers/lookup?user_id=mila", None).await;
    let path = format!("/api/customers/{}/preferences", mila["id"]);
    let (st, _) =
        api(&app, Method::PUT, &path, Some(json!({"preferences": [{"category": "service", "allowed": false}]}))).await;
    assert_eq!(st, 200);
    // Each starts a checkout anonymously, then signs in; Noah then orders, signed in.
    for user in ["mila", "noah", "ida"] {
        let anon = format!("anon-{user}");
        let ev = json!({"anonymousId": anon, "event": "Checkout Started", "timestamp": now_iso(0)});
        assert_eq!(app.post("/v1/track", &ev).await.0, 200);
        let (st, b) = app.post("/v1/identify", &json!({"anonymousId": anon, "userId": user})).await;
        assert_eq!(st, 200, "{b}");
    }
    track(&app, "noah", "Order Completed", json!({}), &now_iso(500)).await;
    let done = async || {
        let (_, f) = api(&app, Method::GET, "/api/triggers/left/firings", None).await;
        f.as_array()
            .unwrap()
            .iter()
            .filter(|x| !matches!(x["state"].as_str(), Some("waiting" | "pending")))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(wait_until(15, async || done().await.len() == 3).await, "{:?}", done().await);
    let mut got: Vec<(String, String)> = done()
        .await
        .iter()
        .map(|x| (x["state"].as_str().unwrap().to_string(), x["reason"].as_str().unwrap_or("").to_string()))
        .collect();
    got.sort();
    let want = [("cancelled", "followed"), ("delivered", ""), ("suppressed", "consent")];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())), "Noah ordered, Ida is sent, Mila opted out");
    let sent = hook.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["body"]["data"]["customer"]["traits"]["email"], "ida@example.cz", "{:?}", sent[0]);
    app.stop().await;
}

/// `GET /v1/in-page` as a page and as a hostile client holding the public write key: the
/// visitor's next in-page survey, taken once and by that person's browser only (a known
/// customer's through the anonymous id joined to them, never by their user id), in their
/// language, at the rule's touchpoint; a consent refused on the
/// event suppresses it; bad parameters are 400s naming them, keys are checked as capture
/// checks them. The snippet itself is served small, gzipped and cacheable.
#[tokio::test]
async fn the_in_page_endpoint_gives_each_visitor_their_survey_once() {
    let app = spawn_app_with(|c| c.public_url = "https://tp.zahrada.example".into()).await;
    warm_up(&app, &["Cart Viewed"]).await;
    let (st, v) = api(&app, Method::POST, "/api/surveys", Some(json!({"key": "cart", "template": "nps"}))).await;
    assert_eq!(st, 200, "{v}");
    let public_id = v["open_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(api(&app, Method::POST, "/api/surveys/cart/publish", None).await.0, 200);
    let rule = json!({"name": "Ask at the cart", "when": {"kind": "happens", "touchpoint": "track:Cart Viewed"},
        "then": {"kind": "in_page", "survey": "cart"}, "holdout": 0});
    let (st, v) =
        api(&app, Method::POST, "/api/triggers", Some(json!({"key": "ask-cart", "definition": rule, "live": true})))
            .await;
    assert_eq!(st, 200, "{v}");
    // Quiet hours make no sense for a page the customer has open: refused, by name.
    let mut quiet = rule.clone();
    quiet["guard"] = json!({"quiet_hours": {"from": "21:00", "to": "08:00"}});
    let (st, e) = api(&app, Method::POST, "/api/triggers", Some(json!({"key": "quiet", "definition": quiet}))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("definition.guard.quiet_hours")), "{e}");

    let ask = |query: String| {
        let url = format!("{}/v1/in-page?{query}", app.base);
        async move {
            let r = reqwest::get(url).await.unwrap();
            let st = r.status().as_u16();
            let cache = r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
            (st, r.json::<Value>().await.unwrap(), cache)
        }
    };
    let wk = app.write_key.clone();
    // An anonymous visitor who views the cart in Polish, one who refused surveys, and a
    // known customer (an identify joined their browser to their user id).
    for (visitor, consent, locale) in
        [("anon-pl", json!({"surveys": true}), "pl-PL"), ("anon-no", json!({"surveys": false}), "cs-CZ")]
    {
        let event = json!({"anonymousId": visitor, "event": "Cart Viewed", "properties": {},
            "context": {"locale": locale, "consent": {"categoryPreferences": consent}}});
        assert_eq!(app.post("/v1/track", &event).await.0, 200);
    }
    assert_eq!(
        app.post("/v1/identify", &json!({"anonymousId": "anon-jana", "userId": "jana", "traits": {"language": "cs"}}))
            .await
            .0,
        200
    );
    track(&app, "jana", "Cart Viewed", json!({}), &now_iso(0)).await;
    assert!(
        wait_until(10, async || {
            let (_, f) = api(&app, Method::GET, "/api/triggers/ask-cart/firings", None).await;
            let f = f.as_array().cloned().unwrap_or_default();
            f.len() == 3 && f.iter().all(|f| f["state"] == "ready" || f["state"] == "suppressed")
        })
        .await,
        "three firings decided and past their guards"
    );
    let (_, f) = api(&app, Method::GET, "/api/triggers/ask-cart/firings?state=suppressed", None).await;
    assert_eq!(f.as_array().unwrap().len(), 1, "{f}");
    assert_eq!(f[0]["reason"], "consent", "{f}");

    // Hostile and careless calls.
    let (st, e, _) = ask("anonymousId=anon-pl".into()).await;
    assert_eq!((st, e["error"]["code"].as_str()), (401, Some("missing_key")), "{e}");
    let (st, e, _) = ask(format!("writeKey={}&anonymousId=anon-pl", app.secret_key)).await;
    assert_eq!(st, 403, "a secret key is never sent from a page: {e}");
    let (st, e, _) = ask(format!("writeKey={wk}")).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("anonymousId")), "{e}");
    let (st, e, _) = ask(format!("writeKey={wk}&anonymousId={}", "x".repeat(201))).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("anonymousId")), "{e}");
    let (st, v, _) = ask(format!("writeKey={}&anonymousId=anon-pl", app.other_write_key)).await;
    assert_eq!((st, v), (200, json!({"actions": []})), "another project's key sees nothing");
    let (st, v, _) = ask(format!("writeKey={wk}&anonymousId=nobody-ever")).await;
    assert_eq!((st, v), (200, json!({"actions": []})));
    let (_, v, _) = ask(format!("writeKey={wk}&anonymousId=anon-no")).await;
    assert_eq!(v, json!({"actions": []}), "consent refused: nothing to show");

    // The Polish visitor's survey, once, in Polish, at the cart.
    let (st, v, cache) = ask(format!("writeKey={wk}&anonymousId=anon-pl&lang=en-GB")).await;
    assert_eq!((st, cache.as_deref()), (200, Some("no-store")), "{v}");
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{v}");
    assert_eq!((actions[0]["rule"].as_str(), actions[0]["kind"].as_str()), (Some("ask-cart"), Some("survey")));
    assert_eq!(
        actions[0]["url"],
        format!(
            "https://tp.zahrada.example/o/{public_id}?embed=1&lang=pl-PL&aid=anon-pl&touchpoint=track%3ACart+Viewed"
        )
    );
    let (_, again, _) = ask(format!("writeKey={wk}&anonymousId=anon-pl")).await;
    assert_eq!(again, json!({"actions": []}), "taken once");
    // Jana's is not for whoever knows her user id (user ids are guessable; the key public);
    // her own browser, by the anonymous id it keeps, gets it, in her language.
    let (st, v, _) = ask(format!("writeKey={wk}&anonymousId=attacker&userId=jana")).await;
    assert_eq!((st, v), (200, json!({"actions": []})), "a user id is not asked for");
    let (_, v, _) = ask(format!("writeKey={wk}&anonymousId=anon-jana")).await;
    let url = v["actions"][0]["url"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(url.contains("lang=cs&aid=anon-jana&"), "{url}");
    let (_, f) = api(&app, Method::GET, "/api/triggers/ask-cart/firings?state=delivered", None).await;
    assert_eq!(f.as_array().unwrap().len(), 2, "{f}");

    // The snippet: small, gzipped for browsers, cached for five minutes.
    let r =
        app.client.get(format!("{}/touchpoint.js", app.base)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz = r.bytes().await.unwrap();
    assert!(gz.len() < 4096, "a few KB: {} bytes gzipped", gz.len());
    let plain = reqwest::get(format!("{}/touchpoint.js", app.base)).await.unwrap().text().await.unwrap();
    assert!(plain.contains("/v1/in-page") && plain.len() < 12_000, "{} bytes", plain.len());
}

/// A touchpoint's health, end to end: 28 steady days of checkouts and page views, then a
/// day when checkouts fall to a fifth. A live health rule is checked at once: one signed
/// `touchpoint.health_alert` webhook and one e-mail to the team (the default text, into a
/// real SMTP server) about the checkouts, none about the steady page views though every
/// touchpoint was tested; checking again (a rule change) records nothing new; the preview
/// counts the alert. Days are the project's own: in Tokyo (UTC+9, no summer time) every
/// event is at 05:00 local, 20:00 UTC the day before, and the alert names the local day.
#[tokio::test]
async fn a_touchpoint_off_its_baseline_alerts_the_team_once() {
    if !available("a_touchpoint_off_its_baseline_alerts_the_team_once") {
        return;
    }
    let secret = touchpoint_act::webhook::sign::new_secret();
    let hook = Receiver::webhook(&secret, &json!({}));
    let smtp = Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| c.smtp_url = format!("smtp://127.0.0.1:{port}")).await;
    let (st, v) = api(&app, Method::PUT, "/api/project", Some(json!({"timezone": "Asia/Tokyo"}))).await;
    assert_eq!(st, 200, "{v}");
    const TOKYO_MS: i64 = 9 * 3_600_000;
    let today = (chrono::Utc::now().timestamp_millis() + TOKYO_MS).div_euclid(86_400_000);
    for d in (today - 29)..today {
        let checkouts = if d == today - 1 { 8 } else { 40 + d % 3 };
        let mut batch = Vec::new();
        for k in 0..checkouts.max(30) {
            // 05:00 in Tokyo on local day `d`.
            let at =
                chrono::DateTime::from_timestamp_millis(d * 86_400_000 + 5 * 3_600_000 - TOKYO_MS + k * 1000).unwrap();
            let ts = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let user = format!("c-{d}-{k}");
            if k < checkouts {
                batch.push(json!({"type": "track", "userId": user, "event": "Checkout Started", "timestamp": ts}));
            }
            if k < 30 {
                batch.push(json!({"type": "page", "userId": user, "name": "Home", "timestamp": ts}));
            }
        }
        let (st, v) = app.post("/v1/batch", &json!({"batch": batch})).await;
        assert_eq!(st, 200, "{v}");
    }
    // The journey index folds what was stored within a quarter second.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let team = |endpoint: Value| json!({"kind": "team_alert", "endpoint": endpoint});
    let hook_rule = json!({"name": "Checkouts falling", "when": {"kind": "health_alert", "touchpoint": "track:Checkout Started",
        "metric": "volume", "direction": "down"}, "then": team(json!({"url": hook.url(), "secret": secret}))});
    let mail_rule = json!({"name": "Any touchpoint off", "when": {"kind": "health_alert"},
        "then": {"kind": "team_alert", "email": "provoz@zahrada.example"}});
    let (st, v) =
        api(&app, Method::POST, "/api/triggers/preview", Some(json!({"definition": hook_rule, "days": 3}))).await;
    assert_eq!((st, v["fired"].as_u64()), (200, Some(1)), "the preview finds yesterday's fall: {v}");
    assert!(v["notes"][0].as_str().unwrap().contains("track:Checkout Started volume"), "{v}");
    for (key, rule) in [("checkouts", &hook_rule), ("anything", &mail_rule)] {
        let (st, v) =
            api(&app, Method::POST, "/api/triggers", Some(json!({"key": key, "definition": rule, "live": true}))).await;
        assert_eq!(st, 200, "{v}");
    }
    let got =
        hook.wait_for(15, |r| r.requests().into_iter().find(|x| x["status"] == 200)).await.expect("the alert arrives");
    assert_eq!(got["valid"], true, "signed to the Standard Webhooks spec");
    let body = &got["body"];
    assert_eq!(
        (body["type"].as_str(), body["data"]["rule"].as_str()),
        (Some("touchpoint.health_alert"), Some("checkouts"))
    );
    let alert = &body["data"]["alert"];
    let yesterday =
        chrono::DateTime::from_timestamp_millis((today - 1) * 86_400_000).unwrap().format("%Y-%m-%d").to_string();
    assert_eq!(
        (alert["touchpoint"].as_str(), alert["metric"].as_str(), alert["direction"].as_str(), alert["day"].as_str()),
        (Some("track:Checkout Started"), Some("volume"), Some("down"), Some(yesterday.as_str()))
    );
    assert_eq!((alert["observed"].as_f64(), alert["baseline_n"].as_u64()), (Some(8.0), Some(28)));
    let expected = alert["expected"].as_f64().unwrap();
    assert!((expected - 41.0).abs() < 0.2, "{alert}");
    assert!(alert["q"].as_f64().unwrap() < 0.01 && alert["p"].as_f64().unwrap() <= alert["q"].as_f64().unwrap());
    let mail = smtp.wait_for(15, |r| r.messages().into_iter().next()).await.expect("the team's e-mail arrives");
    assert_eq!(mail["envelope"]["to"], json!(["provoz@zahrada.example"]), "{mail}");
    let subject = mail["subject"].as_str().unwrap();
    assert!(subject.contains("volume down on") && subject.contains(&yesterday), "{subject}");
    assert!(mail["text"].as_str().unwrap().contains("8 events, against 41"), "{mail}");
    // Every touchpoint was tested, only the one that fell alerts; the page views' steady
    // days do not, and checking again decides nothing new.
    assert_eq!(api(&app, Method::POST, "/api/triggers/anything/pause", None).await.0, 200);
    assert_eq!(api(&app, Method::POST, "/api/triggers/anything/resume", None).await.0, 200);
    tokio::time::sleep(Duration::from_secs(5)).await;
    for key in ["checkouts", "anything"] {
        let (_, f) = api(&app, Method::GET, &format!("/api/triggers/{key}/firings"), None).await;
        let f = f.as_array().unwrap();
        assert_eq!(f.len(), 1, "{key}: {f:?}");
        assert_eq!(f[0]["state"], "delivered", "{key}: {f:?}");
    }
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(smtp.messages().len(), 1);
}

/// Identity verification in the page: an address sent through the public write key is one
/// rule e-mails may go to only with the HMAC the brand's server computed of it with the
/// project's identity secret; a wrong, borrowed or malformed HMAC is stored as sent and
/// vouches for nothing, and never makes the event fail.
#[tokio::test]
async fn an_address_the_brand_signed_in_the_page_is_verified() {
    let app = spawn_app_with(|_| {}).await;
    let (st, s) = app.get("/api/project/identity-secret").await;
    assert_eq!(st, 200, "{s}");
    let secret = s["identity_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tpiv_") && secret.len() == 69, "{secret}");
    assert_eq!(app.get("/api/project/identity-secret").await.1, s, "the same secret every time");
    // Only a secret key reads it.
    let page = app
        .client
        .get(format!("{}/api/project/identity-secret", app.base))
        .bearer_auth(&app.write_key)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 403, "a write key cannot read the identity secret");

    let verified = async |user: &str| {
        let (_, c) = app.get(&format!("/api/customers/lookup?user_id={user}")).await;
        c["traits"].get("$verified_email").and_then(Value::as_str).map(str::to_string)
    };
    let send = async |body: Value| {
        let (st, r) = app.post("/v1/identify", &body).await;
        assert_eq!(st, 200, "{r}");
    };
    let mac = common::python_hmac(&secret, "jana\njana@example.cz");
    // Jana's page, as the brand's server rendered it (the snippet and Segment's SDK send
    // the HMAC in the identify's context).
    send(json!({"userId": "jana", "traits": {"email": "jana@example.cz"}, "context": {"email_hmac": mac}})).await;
    // A stranger copies Jana's HMAC to give another customer her address, or his own
    // address with her HMAC, or sends an HMAC made with another key, or junk.
    send(json!({"userId": "eve", "traits": {"email": "jana@example.cz"}, "context": {"email_hmac": mac}})).await;
    send(json!({"userId": "mallory", "traits": {"email": "mallory@example.cz"}, "context": {"email_hmac": mac}})).await;
    let other = common::python_hmac("tpiv_not-the-secret", "oskar\noskar@example.cz");
    send(json!({"userId": "oskar", "traits": {"email": "oskar@example.cz"}, "context": {"email_hmac": other}})).await;
    send(json!({"userId": "zoe", "traits": {"email": "zoe@example.cz"}, "context": {"email_hmac": [1, 2]}})).await;
    send(json!({"userId": "yan", "traits": {"email": "yan@example.cz"}, "context": {"email_hmac": "zz"}})).await;
    // In a batch, with the address padded as a form might send it.
    let petr = common::python_hmac(&secret, "petr\npetr@example.cz");
    let (st, r) = app
        .post(
            "/v1/batch",
            &json!({"batch": [{"type": "identify", "userId": "petr", "traits": {"email": " petr@example.cz "},
                "context": {"email_hmac": petr.to_uppercase()}}]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");

    assert_eq!(verified("jana").await.as_deref(), Some("jana@example.cz"));
    assert_eq!(verified("petr").await.as_deref(), Some("petr@example.cz"));
    for u in ["eve", "mallory", "oskar", "zoe", "yan"] {
        assert_eq!(verified(u).await, None, "{u}'s address is not vouched for");
    }
}
