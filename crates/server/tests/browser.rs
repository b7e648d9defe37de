//! A real headless Chromium (Debian's `chromium`, driven through `chromedriver` over the
//! W3C WebDriver protocol) opens a survey invitation in Czech, answers an NPS survey and its
//! follow-up by clicking and typing like a person, and the response is found in the NPS
//! metrics. Without Chromium the test says so and skips, unless
//! `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where that is a failure.

mod common;
mod driver;
#[path = "../../act/tests/common/receivers.rs"]
mod receivers;

use common::{spawn_app, spawn_app_with};
use driver::{drawn, look, Driver};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn chromium_answers_a_czech_nps_invitation_and_the_metrics_count_it() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let admin = |path: &str, body: Value| {
        app.client.post(format!("{}{path}", app.base)).bearer_auth(&app.secret_key).json(&body).send()
    };
    assert!(admin("/api/surveys", json!({"key": "nps", "template": "nps"})).await.unwrap().status().is_success());
    assert!(admin("/api/surveys/nps/publish", json!({})).await.unwrap().status().is_success());
    let links: Value = admin(
        "/api/surveys/nps/invitations",
        json!({"customers": [{"customer": "jana.novakova", "touchpoint": "delivery", "lang": "cs"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let url = links[0]["url"].as_str().unwrap();

    browser.go(url).await;
    browser.wait_for_text("Jak pravděpodobně byste nás doporučili").await;
    // Sending nothing shows the error in Czech; then choose 4 on the scale and go on.
    browser.click("button[type=submit]").await;
    browser.wait_for_text("odpovězte prosím na tuto otázku").await;
    browser.click("input[name='q.nps'][value='4']").await;
    browser.click("button[type=submit]").await;
    // A detractor gets the follow-up.
    browser.wait_for_text("Co se nepovedlo?").await;
    browser.type_into("textarea[name='q.wrong']", "Zásilka přišla o týden později.").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Děkujeme").await;
    browser.quit().await;

    let nps: Value = admin("/api/listening/nps", json!({"survey": "nps"})).await.unwrap().json().await.unwrap();
    let result = &nps["result"]["result"];
    assert_eq!(result["n"], 1, "{nps}");
    assert_eq!(result["score"], -100.0, "one detractor: NPS −100 ({nps})");
    let (_, text) = app.get("/api/surveys/nps/responses?format=json").await;
    assert_eq!(text[0]["answers"]["wrong"]["text"], "Zásilka přišla o týden později.");
    assert_eq!(text[0]["lang"], "cs");
}

#[tokio::test]
async fn the_widget_opens_a_survey_in_a_frame_on_another_site_and_takes_an_answer() {
    let Some(browser) = Driver::start().await else { return };
    // A shop's page on another site (`localhost` is another site than `127.0.0.1`), served
    // by a minimal HTTP server of its own, that embeds the widget: the shop's origin is
    // the one allowed to frame survey pages.
    let shop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_port = shop.local_addr().unwrap().port();
    let app = spawn_app_with(|c| c.survey_frame_origins = format!("http://localhost:{shop_port}")).await;
    let admin = |path: &str, body: Value| {
        app.client.post(format!("{}{path}", app.base)).bearer_auth(&app.secret_key).json(&body).send()
    };
    let def = json!({"title": {"en": "Quick question", "pl": "Szybkie pytanie"}, "questions": [
        {"id": "csat", "type": "csat", "required": true,
         "text": {"en": "How satisfied are you?", "pl": "Jak bardzo jesteś zadowolony?"}},
        {"id": "why", "type": "text", "show_if": {"question": "csat", "max": 3},
         "text": {"en": "What was missing?", "pl": "Czego zabrakło?"}}]});
    let created: Value =
        admin("/api/surveys", json!({"key": "csat", "definition": def})).await.unwrap().json().await.unwrap();
    assert!(admin("/api/surveys/csat/publish", json!({})).await.unwrap().status().is_success());
    let public_id = created["open_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let html = format!(
        "<!doctype html><html lang=pl><body><h1>Sklep</h1>\
         <script src=\"{}/widget.js\" data-survey=\"{public_id}\" data-lang=\"pl\"></script></body></html>",
        app.base
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = shop.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    browser.go(&format!("http://localhost:{shop_port}/")).await;
    browser.wait_for_text("Opinia").await;
    browser.click("button").await;
    browser.enter_frame("iframe").await;
    browser.wait_for_text("Jak bardzo jesteś zadowolony?").await;
    browser.click("input[name='csat'][value='2'], input[name='q.csat'][value='2']").await;
    browser.click("button[type=submit]").await;
    // A low score asks what was missing, on the next step, still inside the frame.
    browser.wait_for_text("Czego zabrakło?").await;
    browser.type_into("textarea[name='q.why']", "Dostawa w weekend").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Dziękujemy").await;
    browser.quit().await;

    let (_, rows) = app.get("/api/surveys/csat/responses?format=json").await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["answers"], json!({"csat": {"score": 2}, "why": {"text": "Dostawa w weekend"}}));
    assert_eq!((rows[0]["source"].as_str(), rows[0]["lang"].as_str()), (Some("widget"), Some("pl")));
}

/// The capture snippet (`/touchpoint.js`) on a shop's own site: it sends the page views
/// with their UTM campaign and referrer, the identify and consent the page queued before it
/// loaded; and when a live rule with an in-page action fires at the pricing page, the
/// survey opens in the page in the customer's language, takes an answer that lands at the
/// rule's touchpoint, and is not shown again; a single-page app's move to another address
/// is a page view whose referrer is the page it moved from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snippet_captures_the_visit_and_shows_the_survey_a_rule_decides() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let (tp, wk) = (app.base.clone(), app.write_key.clone());
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        app.client.request(method, format!("{}{path}", app.base)).bearer_auth(&app.secret_key).json(&body).send()
    };
    let def = json!({"title": {"en": "Quick question", "cs": "Krátká otázka"}, "questions": [
        {"id": "csat", "type": "csat", "required": true,
         "text": {"en": "How clear are our prices?", "cs": "Jak srozumitelné jsou naše ceny?"}}]});
    let created: Value = admin(reqwest::Method::POST, "/api/surveys", json!({"key": "prices", "definition": def}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["open_url"].is_string(), "{created}");
    assert!(admin(reqwest::Method::POST, "/api/surveys/prices/publish", json!({}))
        .await
        .unwrap()
        .status()
        .is_success());
    // The pricing page's touchpoint exists once someone has seen it.
    let (st, _) = app
        .post("/v1/page", &json!({"anonymousId": "earlier-visitor", "properties": {"path": "/cenik"}, "context": {"page": {"path": "/cenik"}}}))
        .await;
    assert_eq!(st, 200);
    let rule = json!({"name": "Ask about prices on the pricing page",
        "when": {"kind": "happens", "touchpoint": "page:/cenik"},
        "then": {"kind": "in_page", "survey": "prices"}, "holdout": 0, "guard": {"reentry": "once"}});
    let r =
        admin(reqwest::Method::POST, "/api/triggers", json!({"key": "ask-prices", "definition": rule, "live": true}))
            .await
            .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The shop's server vouches for Jana's address with the project's identity secret.
    let (_, secret) = app.get("/api/project/identity-secret").await;
    let mac = common::python_hmac(secret["identity_secret"].as_str().unwrap(), "jana\njana@example.cz");
    let snippet = format!(
        r#"<script>window.touchpoint = window.touchpoint || [];
        touchpoint.push(['identify', 'jana', {{ email: 'jana@example.cz', language: 'cs' }}, {{ emailHmac: '{mac}' }}]);
        touchpoint.push(['consent', {{ surveys: true, marketing: false }}]);</script>
        <script src="{tp}/touchpoint.js" data-key="{wk}" async></script>"#
    );
    let home = format!(
        "<!doctype html><html lang=cs><head><title>Zahrádka</title></head><body><main><h1>Zahrádka</h1>\
         <a id=prices href=/cenik>Ceník</a></main>{snippet}</body></html>"
    );
    let prices = format!(
        "<!doctype html><html lang=cs><head><title>Ceník</title></head><body><main><h1>Ceník</h1><p>Sazenice od 49 Kč.</p></main>{snippet}</body></html>"
    );
    let port = serve_site(vec![
        ("/?utm_source=newsletter&utm_medium=email&utm_campaign=jaro", "text/html; charset=utf-8", home.into_bytes()),
        ("/cenik", "text/html; charset=utf-8", prices.into_bytes()),
    ])
    .await;
    let site = format!("http://localhost:{port}");
    // The shop's site may show its survey pages in a frame.
    let r = admin(reqwest::Method::PUT, "/api/project", json!({"site_origins": site})).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    browser.size(1280, 900).await;
    // From the newsletter to the home page, then a click to the pricing page.
    let landing = format!("{site}/?utm_source=newsletter&utm_medium=email&utm_campaign=jaro");
    browser.go(&landing).await;
    browser.click("#prices").await;
    // The survey opens by itself, in Czech (the customer's language), within seconds.
    let dialog = browser.find("[role=dialog][data-touchpoint] iframe").await;
    assert!(!dialog.is_empty());
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on the shop's page with the survey: {found:?}");
    }
    browser.screenshot("snippet-survey-1280").await;
    browser.size(360, 800).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fits = browser
        .eval("const r = document.querySelector('[role=dialog]').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && r.top >= 0;")
        .await;
    assert_eq!(fits, json!(true), "the survey fits a 360 px phone");
    browser.screenshot("snippet-survey-360").await;
    browser.enter_frame("[role=dialog] iframe").await;
    browser.wait_for_text("Jak srozumitelné jsou naše ceny?").await;
    browser.click("input[name='q.csat'][value='5']").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Děkujeme").await;
    browser.call(reqwest::Method::POST, "/frame", json!({"id": null})).await;
    let anonymous_id = browser.eval("return touchpoint.ids().anonymousId").await;
    let anonymous_id = anonymous_id.as_str().unwrap().to_string();
    assert!(anonymous_id.len() >= 32, "a random id: {anonymous_id}");

    // Shown once: another view of the pricing page opens nothing (the rule enters once).
    browser.go(&format!("{site}/cenik")).await;
    // A single-page app's move to another address is a page view; a #fragment is not.
    browser.eval("history.pushState({}, '', '/cenik/sazenice'); location.hash = 'top'; return true").await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(browser.eval("return document.querySelectorAll('[role=dialog]').length").await, json!(0));
    browser.quit().await;

    let (_, rows) = app.get("/api/surveys/prices/responses?format=json").await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["answers"], json!({"csat": {"score": 5}}));
    assert_eq!(
        (rows[0]["lang"].as_str(), rows[0]["touchpoint"].as_str(), rows[0]["source"].as_str()),
        (Some("cs"), Some("page:/cenik"), Some("widget")),
        "{rows}"
    );
    let (_, firings) = app.get("/api/triggers/ask-prices/firings").await;
    let states: Vec<&str> = firings.as_array().unwrap().iter().map(|f| f["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "delivered").count(), 1, "{firings}");
    assert!(!states.contains(&"ready"), "nothing left to show: {firings}");

    // What the page sent: the newsletter's campaign on the landing, the referrer of the
    // click, the queued identify and consent, all under the browser's one anonymous id.
    let events = app.store.scan_events(Some(1), 0, 1000).await.unwrap();
    let bodies: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap())
        .filter(|b| b["anonymousId"] == anonymous_id.as_str())
        .collect();
    let page = |path: &str| {
        bodies
            .iter()
            .find(|b| b["type"] == "page" && b["properties"]["path"] == path)
            .unwrap_or_else(|| panic!("no page view of {path}: {bodies:?}"))
    };
    let (home, pricing) = (page("/"), page("/cenik"));
    assert_eq!(home["context"]["campaign"], json!({"source": "newsletter", "medium": "email", "name": "jaro"}));
    assert_eq!(home["properties"]["url"], landing);
    assert_eq!(pricing["context"]["page"]["referrer"], landing);
    assert_eq!(pricing["context"]["campaign"], Value::Null, "a campaign is the landing's only");
    assert_eq!(pricing["userId"], "jana");
    assert_eq!(pricing["context"]["consent"]["categoryPreferences"], json!({"surveys": true, "marketing": false}));
    let touchpoint = |b: &Value| {
        events.iter().find(|e| e.message_id == b["messageId"].as_str().unwrap()).and_then(|e| e.touchpoint_id)
    };
    let (_, tps) = app.get("/api/touchpoints").await;
    let key =
        |id: Option<i64>| tps.as_array().unwrap().iter().find(|t| t["id"].as_i64() == id).map(|t| t["key"].clone());
    assert_eq!(key(touchpoint(home)), Some(json!("email-campaign")), "the newsletter's landing");
    assert_eq!(key(touchpoint(pricing)), Some(json!("page:/cenik")));
    assert!(!pricing.to_string().contains(&wk), "the write key is not kept in a stored body");
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    // Each of the three pages runs the queue (identify, then consent) and sends its view.
    assert_eq!(kinds.iter().filter(|k| **k == "identify").count(), 6, "{kinds:?}");
    let tracked = bodies.iter().filter(|b| b["type"] == "track").map(|b| b["event"].clone()).collect::<Vec<_>>();
    assert_eq!(tracked, [json!("Survey Answered")], "the answer is in the visitor's journey");
    assert_eq!(kinds.iter().filter(|k| **k == "page").count(), 4, "home, pricing, pricing again, seedlings: {kinds:?}");
    let moved = page("/cenik/sazenice");
    assert_eq!(moved["context"]["page"]["referrer"], format!("{site}/cenik"), "the page it moved from");
    let (st, profile) = app.get("/api/customers/lookup?user_id=jana").await;
    assert_eq!((st, profile["traits"]["language"].as_str()), (200, Some("cs")), "{profile}");
    assert_eq!(profile["traits"]["$verified_email"], "jana@example.cz", "the shop vouched for it: {profile}");
}

/// Where `.ci/run` installs the browser SDKs from npm (`TOUCHPOINT_NPM_DIR`, or
/// `~/.cache/touchpoint-npm`): Segment's `@segment/analytics-next` and RudderStack's
/// `@rudderstack/analytics-js` v3, as a website would load them.
fn sdk_bundles() -> Option<(Vec<u8>, Vec<u8>)> {
    let dir = std::env::var_os("TOUCHPOINT_NPM_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/touchpoint-npm")))?;
    let modules = dir.join("node_modules");
    let segment = std::fs::read(modules.join("@segment/analytics-next/dist/umd/index.js"));
    let rudder = std::fs::read(modules.join("@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js"));
    match (segment, rudder) {
        (Ok(s), Ok(r)) => Some((s, r)),
        _ => {
            let why = format!(
                "the browser SDKs are not in {} (npm install --prefix {} @segment/analytics-next @rudderstack/analytics-js@3)",
                modules.display(),
                dir.display()
            );
            if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
                panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// A website of its own origin: serves `pages` by path (`/segment.html`, `/segment.js` …).
async fn serve_site(pages: Vec<(&'static str, &'static str, Vec<u8>)>) -> u16 {
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = site.local_addr().unwrap().port();
    let pages = std::sync::Arc::new(pages);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = site.accept().await {
            let pages = pages.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let reply = match pages.iter().find(|(p, _, _)| *p == path) {
                    Some((_, kind, body)) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(body);
                        r
                    }
                    None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                };
                let _ = conn.write_all(&reply).await;
            });
        }
    });
    port
}

/// Wait until the project has `n` events stored, then a little longer to see that no
/// retry adds any; return them.
async fn stored_events(app: &common::TestApp, n: usize) -> Vec<touchpoint_store::StoredEvent> {
    for _ in 0..200 {
        if app.store.scan_events(Some(1), 0, 1000).await.unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.store.scan_events(Some(1), 0, 1000).await.unwrap()
}

#[tokio::test]
async fn segment_and_rudderstack_browser_sdks_send_every_event_exactly_once() {
    let Some(browser) = Driver::start().await else { return };
    let Some((segment_js, rudder_js)) = sdk_bundles() else { return };
    let app = spawn_app().await;
    let (tp, wk) = (app.base.clone(), app.write_key.clone());
    // The shop's server vouches for Jana's address (identity verification): Segment's SDK
    // moves an identify's options into its context.
    let (_, secret) = app.get("/api/project/identity-secret").await;
    let mac = common::python_hmac(secret["identity_secret"].as_str().unwrap(), "seg-jana\njana@example.cz");
    // Each page loads its SDK with nothing but the write key and Touchpoint's address.
    let segment_page = format!(
        r#"<!doctype html><html><body><h1>Zahrádka</h1><script src="/segment.js"></script><script>
        const analytics = AnalyticsNext.AnalyticsBrowser.load({{ writeKey: "{wk}", cdnURL: "{tp}" }});
        analytics.page("Home");
        analytics.identify("seg-jana", {{ email: "jana@example.cz" }}, {{ email_hmac: "{mac}" }});
        analytics.track("Segment Clicked", {{ n: 1 }});
        analytics.group("acme", {{ name: "ACME s.r.o." }});
        analytics.screen("Basket");
        analytics.alias("seg-jana-2", "seg-jana");
        analytics.ready(() => {{ document.title = "ready"; }});
        </script></body></html>"#
    );
    let rudder_page = format!(
        r#"<!doctype html><html><body><h1>Ogród</h1><script src="/rudder.js"></script><script>
        const rudderanalytics = new window.rudderanalytics.RudderAnalytics();
        rudderanalytics.load("{wk}", "{tp}", {{ configUrl: "{tp}", polyfillIfRequired: false, logLevel: "ERROR" }});
        rudderanalytics.page();
        rudderanalytics.identify("rs-piotr", {{ email: "piotr@example.pl" }});
        rudderanalytics.track("Rudder Clicked", {{ n: 2 }});
        rudderanalytics.group("acme-pl", {{ name: "ACME sp. z o.o." }});
        rudderanalytics.alias("rs-piotr-2", "rs-piotr");
        </script></body></html>"#
    );
    let port = serve_site(vec![
        ("/segment.html", "text/html; charset=utf-8", segment_page.into_bytes()),
        ("/segment.js", "text/javascript", segment_js),
        ("/rudder.html", "text/html; charset=utf-8", rudder_page.into_bytes()),
        ("/rudder.js", "text/javascript", rudder_js),
    ])
    .await;
    // `localhost` is another origin than the server's `127.0.0.1`: every call is cross-origin.
    browser.go(&format!("http://localhost:{port}/segment.html")).await;
    let events = stored_events(&app, 6).await;
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["alias", "group", "identify", "page", "screen", "track"], "Segment's six calls, once each");

    browser.go(&format!("http://localhost:{port}/rudder.html")).await;
    let events = stored_events(&app, 11).await;
    browser.quit().await;
    assert_eq!(events.len(), 11, "RudderStack's five calls, once each");
    let mut ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11, "eleven distinct messages");
    for e in &events {
        assert!(!e.body.contains(&wk), "the write key is not kept in a stored body: {}", e.body);
    }
    let libraries: Vec<String> = events
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap()["context"]["library"]["name"].to_string())
        .collect();
    assert_eq!(libraries.iter().filter(|l| l.contains("analytics.js")).count(), 6, "{libraries:?}");
    assert_eq!(libraries.iter().filter(|l| l.contains("RudderLabs")).count(), 5, "{libraries:?}");
    // Both identifies carried traits: Segment's at the top, RudderStack's in the context.
    for (user, email) in [("seg-jana", "jana@example.cz"), ("rs-piotr", "piotr@example.pl")] {
        let (s, profile) = app.get(&format!("/api/customers/lookup?user_id={user}")).await;
        assert_eq!(s, 200, "{user}: {profile}");
        assert_eq!(profile["traits"]["email"], email, "{profile}");
        let verified = profile["traits"]["$verified_email"].as_str();
        assert_eq!(verified, (user == "seg-jana").then_some(email), "only the address the shop vouched for: {profile}");
    }
}

/// A branded Czech project's NPS page on a 360 px phone: the 0–10 scale is one row with its
/// ends labelled under it, nothing scrolls sideways, the brand's colour is on the button
/// and the chosen number. With `TOUCHPOINT_SCREENSHOTS` set, the page is also saved as
/// `/tmp/survey-360.png` and `/tmp/survey-1280.png`, for a person to look at.
#[tokio::test]
async fn an_nps_scale_stays_one_row_on_a_360_px_phone_under_the_brand() {
    /// Make the page's viewport `width` CSS pixels wide (the window may count a frame).
    async fn viewport(browser: &Driver, width: i64, height: i64) {
        let mut asked = width;
        for _ in 0..3 {
            browser.call(reqwest::Method::POST, "/window/rect", json!({"width": asked, "height": height})).await;
            let inner = run(browser, "return window.innerWidth").await.as_i64().unwrap();
            if inner == width {
                return;
            }
            asked += width - inner;
        }
        panic!("the viewport could not be made {width} px wide");
    }
    async fn run(browser: &Driver, script: &str) -> Value {
        browser.call(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": []})).await
    }
    async fn screenshot(browser: &Driver, path: &str) {
        use base64::Engine;
        let png = browser.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        eprintln!("saved {path}");
    }
    const MEASURE: &str = r#"
        const rect = (e) => e.getBoundingClientRect();
        const labels = [...document.querySelectorAll("input[name='q.nps']")].map((i) => i.closest("label"));
        const ends = [...document.querySelectorAll(".ends > span")].map(rect);
        const chosen = document.querySelector("input[name='q.nps']:checked + span");
        return {
            tops: labels.map((l) => Math.round(rect(l).top)),
            inputs: [...document.querySelectorAll("input[name='q.nps']")].map((i) => Math.round(rect(i).top)),
            widths: labels.map((l) => rect(l).width),
            first: rect(labels[0]).left, last: rect(labels[labels.length - 1]).right,
            ends: ends.map((r) => [r.left, r.right, Math.round(r.top)]),
            below: Math.round(rect(labels[0]).bottom),
            scroll: document.documentElement.scrollWidth,
            button: getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor,
            chosen: chosen ? [getComputedStyle(chosen).backgroundColor, getComputedStyle(chosen).color] : null,
        };"#;

    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        app.client.request(method, format!("{}{path}", app.base)).bearer_auth(&app.secret_key).json(&body).send()
    };
    let brand = json!({"brand_name": "Zahrádka", "brand_color": "#2e7d32", "default_lang": "cs",
                       "privacy_url": "https://zahradka.example/ochrana-osobnich-udaju"});
    assert!(admin(reqwest::Method::PUT, "/api/project", brand).await.unwrap().status().is_success());
    let created: Value = admin(reqwest::Method::POST, "/api/surveys", json!({"key": "nps", "template": "nps"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(admin(reqwest::Method::POST, "/api/surveys/nps/publish", json!({})).await.unwrap().status().is_success());
    // Chromium asks for English first; a Czech customer's browser would not need `?lang=`.
    let url = format!("{}?lang=cs", created["open_url"].as_str().unwrap());

    for (width, height) in [(360, 800), (412, 915), (1280, 900)] {
        viewport(&browser, width, height).await;
        browser.go(&url).await;
        browser.wait_for_text("Vůbec ne").await;
        let m = run(&browser, MEASURE).await;
        let tops: Vec<i64> = m["tops"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
        assert_eq!(tops.len(), 11, "{m}");
        assert!(tops.iter().all(|t| *t == tops[0]), "at {width} px the 11 numbers are one row: {m}");
        let inputs = m["inputs"].as_array().unwrap();
        assert!(inputs.iter().all(|t| t.as_i64() == Some(tops[0])), "every radio lies on its number: {m}");
        assert!(m["scroll"].as_i64().unwrap() <= width, "at {width} px nothing scrolls sideways: {m}");
        assert!(
            m["widths"].as_array().unwrap().iter().all(|w| w.as_f64().unwrap() >= 24.0),
            "every number is a target of at least 24 px: {m}"
        );
        // The ends' labels sit under the ends of the scale.
        let (first, last, below) = (m["first"].as_f64().unwrap(), m["last"].as_f64().unwrap(), m["below"].as_i64());
        let ends = &m["ends"];
        assert!((ends[0][0].as_f64().unwrap() - first).abs() < 1.0, "{m}");
        assert!((ends[1][1].as_f64().unwrap() - last).abs() < 1.0, "{m}");
        assert!(ends[0][2].as_i64() >= below && ends[0][2] == ends[1][2], "both under the scale, one line: {m}");
        assert_eq!(m["button"], "rgb(46, 125, 50)", "the brand's colour: {m}");
        browser.click("input[name='q.nps'][value='9']").await;
        let m = run(&browser, MEASURE).await;
        assert_eq!(m["chosen"], json!(["rgb(46, 125, 50)", "rgb(255, 255, 255)"]), "white on the brand's green: {m}");
        if std::env::var_os("TOUCHPOINT_SCREENSHOTS").is_some() && width != 412 {
            screenshot(&browser, &format!("/tmp/survey-{width}.png")).await;
        }
    }
    browser.quit().await;
}

/// The dashboard as a person meets it: the address sends them to sign in; a wrong password
/// is refused in their language; signed in, the overview's event count is the API's for
/// the same days; Czech and Polish are a choice away and stay after a reload; the journey
/// map is one click further and its address, shared, opens the same view. Screenshots of
/// both views at 360 and 1280 px are written for a person to look at.
/// Forty customers over the last eight days: each visits Home an hour after viewing a
/// product, every third completes an order; and Ana, an owner of the project.
async fn dashboard_data(app: &common::TestApp, now: chrono::DateTime<chrono::Utc>) {
    let mut batch = vec![];
    for c in 0..40 {
        for (i, ev) in [("page", "Home"), ("track", "Product Viewed"), ("track", "Order Completed")].iter().enumerate()
        {
            if i == 2 && c % 3 != 0 {
                continue;
            }
            let ts = now - chrono::Duration::hours(c * 5 + i as i64);
            let mut e = json!({"type": ev.0, "userId": format!("c{c}"), "timestamp": ts.to_rfc3339(), "messageId": format!("m{c}-{i}")});
            e[if ev.0 == "page" { "name" } else { "event" }] = json!(ev.1);
            batch.push(e);
        }
    }
    let (status, _) = app.post("/v1/batch", &json!({ "batch": batch })).await;
    assert_eq!(status, 200);
    touchpoint_engine::accounts::create_user(
        &*app.store,
        "ana@eshop.cz",
        Some("ana's long password"),
        touchpoint_core::access::Role::Owner,
        Some(1),
    )
    .await
    .unwrap();
}

/// Sign in as Ana and wait for the overview.
async fn sign_in(browser: &Driver, app: &common::TestApp) {
    browser.go(&format!("{}/login", app.base)).await;
    browser.type_into("#email", "ana@eshop.cz").await;
    browser.type_into("#password", "ana's long password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Events per day and channel").await;
}

#[tokio::test]
async fn the_dashboard_signs_in_and_shows_the_numbers_the_api_gives() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    dashboard_data(&app, now).await;

    browser.size(1280, 900).await;
    browser.go(&format!("{}/", app.base)).await;
    browser.wait_for_text("Sign in").await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on the sign-in page: {found:?}");
    }
    browser.type_into("#email", "ana@eshop.cz").await;
    browser.type_into("#password", "not the password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("The e-mail address or the password is wrong.").await;
    browser.type_into("#password", "ana's long password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Events per day and channel").await;

    // The overview's count is the API's for the same 30 days.
    let today = now.date_naive();
    let from = today - chrono::Duration::days(29);
    let (_, volume) = app.get(&format!("/api/volume?from={from}&to={today}")).await;
    let want: i64 = volume.as_array().unwrap().iter().map(|r| r["events"].as_i64().unwrap()).sum();
    assert!(want >= 90, "{volume}");
    let shown = browser.eval("return document.getElementById('total-events').dataset.v").await;
    assert_eq!(shown.as_str().and_then(|v| v.parse::<i64>().ok()), Some(want));
    // A period that began less than the 90-day churn horizon ago (the dashboard's: the last
    // 90 days, today included): the server says no silence can be seen in it yet, and the
    // pain points say their churn is only the churn touchpoints.
    let (_, map) = app
        .send(
            reqwest::Method::POST,
            "/api/analytics/journey-map",
            Some(&json!({"filter": {"from": (now - chrono::Duration::days(29)).timestamp()}})),
        )
        .await;
    assert_eq!(map["clock"]["silence_seen"], "none", "{map}");
    let note = browser.eval("return document.querySelector('.silence-note')?.textContent || ''").await;
    assert!(note.as_str().is_some_and(|n| n.contains("90 days")), "{note}");
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on the overview: {found:?}");
    }
    browser.screenshot("dashboard-overview-1280").await;
    browser.size(360, 800).await;
    browser.screenshot("dashboard-overview-360").await;

    // Czech, remembered across a reload; then the journey map, shared by its address.
    browser.click("#lang option[value=cs]").await;
    browser.wait_for_text("Události po dnech a kanálech").await;
    browser.click("nav.views a[data-view=journey]").await;
    browser.wait_for_text("Mapa cesty").await;
    browser.wait_for_text("Dosah").await;
    let note = browser.eval("return document.querySelector('.silence-note')?.textContent || ''").await;
    assert!(note.as_str().is_some_and(|n| n.contains("90 dní")), "{note}");
    let url = browser.eval("return location.href").await;
    let url = url.as_str().unwrap().to_string();
    assert!(url.contains("view=journey") && url.contains("lang=cs"), "{url}");
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on the journey map: {found:?}");
    }
    browser.screenshot("dashboard-journey-360").await;
    browser.size(1280, 900).await;
    browser.screenshot("dashboard-journey-1280").await;
    // The funnel builder, churn and listening, still in Czech.
    browser.click("nav.views a[data-view=funnel]").await;
    browser.wait_for_text("Okno konverze").await;
    // Steps picked from the catalog: Product Viewed, then Home (each customer's product
    // view came an hour before their visit to Home).
    let (_, tps) = app.get("/api/touchpoints").await;
    let key_of = |name: &str| {
        let t = tps
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["names"]["en"] == name)
            .unwrap_or_else(|| panic!("{name}: {tps}"));
        t["key"].as_str().unwrap().to_string()
    };
    let steps = format!("{},{}", key_of("Product Viewed"), key_of("Home"));
    browser.eval(&format!("const p = new URLSearchParams(location.hash.slice(1)); p.set('steps', {steps:?}); location.hash = p; return 1")).await;
    browser.wait_for_text("Krok 2").await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on the funnel: {found:?}");
    }
    // Bars take their widths from the data (set through the DOM: the page's policy
    // forbids inline styles): step 1 is the whole bar.
    let widths =
        browser.eval("return [...document.querySelectorAll('.funnel .meter span')].map((s) => s.style.width)").await;
    assert_eq!(widths, json!(["100%", "100%"]), "every customer who viewed a product came to Home");
    browser.screenshot("dashboard-funnel-1280").await;
    browser.click("nav.views a[data-view=churn]").await;
    browser.wait_for_text("Zákazníci, kteří odešli").await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on churn: {found:?}");
    }
    browser.screenshot("dashboard-churn-1280").await;
    browser.click("nav.views a[data-view=listening]").await;
    browser.wait_for_text("Zatím žádné průzkumy").await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on listening: {found:?}");
    }
    browser.go(&format!("{}/", app.base)).await;
    browser.go(&url).await;
    browser.wait_for_text("Mapa cesty").await;
    browser.click("#lang option[value=pl]").await;
    browser.wait_for_text("Mapa ścieżki").await;

    // Signing out ends the session: the API refuses the cookie, the address asks to sign in.
    browser.click(".who button[type=submit]").await;
    browser.wait_for_text("Wylogowano").await;
    browser.go(&format!("{}/", app.base)).await;
    browser.wait_for_text("Logowanie").await;
    browser.quit().await;
}

/// The later views in Chromium, each checked by axe-core and photographed at 1280 and
/// 360 px: paths, retention and attribution answer what the API answers for the same
/// query (and change with a filter); a discovered touchpoint is classified in the catalog;
/// a survey is created, published and its page opened; an event sent through the API is
/// on the data-health page in under 2 s; every view has its title in Czech and Polish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_opens_answers_like_the_api_and_acts() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    dashboard_data(&app, now).await;
    let gift = json!({"type": "track", "event": "Gift Card Redeemed", "userId": "c1", "timestamp": now.to_rfc3339()});
    assert_eq!(app.post("/v1/track", &gift).await.0, 200);
    // Twenty of them first came twelve days ago: their later visits are returns.
    let early: Vec<Value> = (0..20)
        .map(|c| json!({"type": "track", "event": "Product Viewed", "userId": format!("c{c}"), "messageId": format!("early-{c}"),
            "timestamp": (now - chrono::Duration::days(12)).to_rfc3339()}))
        .collect();
    assert_eq!(app.post("/v1/batch", &json!({ "batch": early })).await.0, 200);
    let (_, tps) = app.get("/api/touchpoints").await;
    let key_of = |name: &str| {
        let t = tps.as_array().unwrap().iter().find(|t| t["names"]["en"] == name);
        t.unwrap_or_else(|| panic!("{name}: {tps}"))["key"].as_str().unwrap().to_string()
    };
    // "Order Completed" is the catalog's order-completed (a goal); the others were discovered.
    let order = "order-completed".to_string();
    assert!(tps.as_array().unwrap().iter().any(|t| t["key"] == order.as_str() && t["conversion"] == true), "{tps}");
    let gift_key = key_of("Gift Card Redeemed");
    // The period the dashboard asks for: the last 30 days, today included (UTC).
    let to = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() + 86_400;
    let from = to - 30 * 86_400;
    browser.size(1280, 900).await;
    sign_in(&browser, &app).await;
    let view = |rest: &str| format!("{}/#project=1&range=30&lang=en&{rest}", app.base);

    // A period of one's own: the overview counts what the API counts for those days.
    let (d1, d2) = (now.date_naive() - chrono::Duration::days(3), now.date_naive() - chrono::Duration::days(1));
    browser.go(&format!("{}/#project=1&view=overview&lang=en&range=custom&from={d1}&to={d2}", app.base)).await;
    browser.wait_for_text("Custom dates").await;
    drawn(&browser).await;
    let (_, volume) = app.get(&format!("/api/volume?from={d1}&to={d2}")).await;
    let want: i64 = volume.as_array().unwrap().iter().map(|r| r["events"].as_i64().unwrap()).sum();
    assert!(want > 0, "{volume}");
    let shown = browser.eval("return document.getElementById('total-events').dataset.v").await;
    assert_eq!(shown, json!(want.to_string()));
    assert_eq!(browser.eval("return document.getElementById('from').value").await, json!(d1.to_string()));
    let goals: i64 = volume
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["touchpoint"] == "order-completed")
        .map(|r| r["events"].as_i64().unwrap())
        .sum();
    assert!(goals > 0, "{volume}");
    let shown = browser.eval("return document.getElementById('conversions-kpi').dataset.v").await;
    assert_eq!(shown, json!(goals.to_string()), "conversions are the goal's events");

    // A funnel from product view to order; who dropped after step 1, and one of them.
    browser.go(&view(&format!("view=funnel&steps={},{order}", key_of("Product Viewed")))).await;
    browser.wait_for_text("Who dropped here").await;
    browser.click("a[data-dropped='1']").await;
    browser.wait_for_text("Dropped after step 1").await;
    browser.click("#dropped-ids a").await;
    browser.wait_for_text("Timeline").await;
    let shown = browser.eval("return document.querySelector('#view h1').textContent").await;
    assert!(shown.as_str().unwrap().starts_with("Customer #"), "{shown}");
    look(&browser, "customer").await;
    // Found by the id the shop knows them by.
    let (_, c5) = app.get("/api/customers/lookup?user_id=c5").await;
    browser.type_into("#q", "c5").await;
    browser.click("#find button[type=submit]").await;
    browser.wait_for_text(&format!("Customer #{}", c5["id"])).await;
    // And by a trait: the e-mail address the shop sent with identify.
    let identify = json!({"type": "identify", "userId": "c7", "traits": {"email": "Jana.Novakova@eshop.cz"}});
    assert_eq!(app.post("/v1/identify", &identify).await.0, 200);
    let (_, c7) = app.get("/api/customers/lookup?user_id=c7").await;
    let (_, found) = app.get("/api/customers/search?trait=email&value=jana.novakova@eshop.cz").await;
    assert_eq!(
        found["items"].as_array().map(|v| v.iter().map(|c| c["id"].clone()).collect::<Vec<_>>()),
        Some(vec![c7["id"].clone()]),
        "{found}"
    );
    let (status, _) = app.get("/api/customers/search?trait=&value=x").await;
    assert_eq!(status, 400, "an empty trait name");
    let q = browser.find("#q").await;
    browser.call(reqwest::Method::POST, &format!("/element/{q}/clear"), json!({})).await;
    browser.type_into("#q", "jana.novakova@eshop.cz").await;
    browser.click("#find button[type=submit]").await;
    browser.wait_for_text(&format!("Customer #{}", c7["id"])).await;
    // A colleague notes on the phone that she wants no offers as text messages: one box.
    browser.wait_for_text("Messages they accept").await;
    let all_yes = "return [...document.querySelectorAll('[data-pref]')].every(x => x.checked)";
    assert_eq!(browser.eval(all_yes).await, json!(true), "nothing said is a yes");
    browser.click("input[data-pref='marketing/webhook']").await;
    browser.click("#prefs-save").await;
    browser.wait_for_text("Saved.").await;
    let (_, prefs) = app.get(&format!("/api/customers/{}/preferences", c7["id"])).await;
    let no: Vec<_> = prefs.as_array().unwrap().iter().filter(|p| p["allowed"] == false).collect();
    assert_eq!(
        no.iter().map(|p| (p["category"].as_str(), p["channel"].as_str())).collect::<Vec<_>>(),
        [(Some("marketing"), Some("webhook"))],
        "{prefs}"
    );

    // A filter: customers who first came through the web. The funnel's counts change and
    // are the API's for the same plan.
    let product = key_of("Product Viewed");
    let funnel = |ftc: Option<&str>| {
        let mut filter = json!({"from": from, "to": to});
        if let Some(c) = ftc {
            filter["first_touch_channels"] = json!([c]);
        }
        json!({"filter": filter, "max_groups": 6, "query": {"steps": [product, order], "window_s": 604_800, "mode": "default"}})
    };
    let counts = |v: &Value| {
        v["groups"][0]["report"]["steps"].as_array().unwrap().iter().map(|s| s["customers"].clone()).collect::<Vec<_>>()
    };
    let (_, all) = app.send(reqwest::Method::POST, "/api/analytics/funnel", Some(&funnel(None))).await;
    let (_, web) = app.send(reqwest::Method::POST, "/api/analytics/funnel", Some(&funnel(Some("web")))).await;
    assert_ne!(counts(&all), counts(&web), "the filter changes the answer");
    browser.go(&view(&format!("view=funnel&steps={product},{order}"))).await;
    browser.wait_for_text("Events of channel").await;
    drawn(&browser).await;
    browser.click("#f-ftc option[value=web]").await;
    let shown = || async {
        let v = browser.eval("return [...document.querySelectorAll('.funnel-table tbody tr')].map((r) => Number(r.cells[2].dataset.v))").await;
        v.as_array().unwrap().clone()
    };
    for _ in 0..50 {
        if shown().await == counts(&web) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown().await, counts(&web));
    assert!(browser.eval("return location.hash").await.as_str().unwrap().contains("ftc=web"));

    // Paths before the order: one table row per link of the API's Sankey.
    browser.go(&view(&format!("view=paths&dir=before&at={order}"))).await;
    browser.wait_for_text("Paths before").await;
    drawn(&browser).await;
    let (_, sankey) = app
        .send(
            reqwest::Method::POST,
            "/api/analytics/sankey",
            Some(&json!({"filter": {"from": from, "to": to}, "query": {"end": order, "steps": 4, "min_share": 0.03}})),
        )
        .await;
    let links = sankey["groups"][0]["report"]["links"].as_array().unwrap().len();
    assert!(links >= 1, "{sankey}");
    let rows = browser.eval("return document.querySelectorAll('#paths-table tbody tr').length").await;
    assert_eq!(rows, json!(links));
    look(&browser, "paths").await;
    // Drawn: no coordinate is missing (a path that starts late leaves columns empty).
    let svg = browser.eval("return document.querySelector('.sankey svg').outerHTML").await;
    assert!(!svg.as_str().unwrap().contains("NaN"), "{svg}");

    // Retention: the overall row is the API's; counting only a gift card as coming back
    // changes it. Rates to 12 digits: serde_json's default float parsing may land one
    // unit in the last place off the value the server wrote (4/22 read back as
    // 0.18181818181818185), the page's own text is parsed exactly.
    let digits = |x: f64| (x * 1e12).round() / 1e12;
    let overall = |v: &Value| {
        let rates = v["groups"][0]["report"]["overall"]["rates"].as_array().unwrap().clone();
        rates.iter().map(|r| r.as_f64().map(digits)).collect::<Vec<_>>()
    };
    let shown = || async {
        let v = browser.eval("return [...document.querySelector('#retention-table tbody tr').cells].slice(2).map((c) => c.dataset.v)").await;
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().parse::<f64>().ok().map(digits)).collect::<Vec<_>>()
    };
    let retention = |returning: Option<&str>| {
        let mut q = json!({"period": "week", "periods": 4, "from": from, "to": to});
        if let Some(r) = returning {
            q["returning"] = json!(r);
        }
        json!({ "query": q })
    };
    browser.go(&view("view=retention")).await;
    browser.wait_for_text("Coming back means").await;
    drawn(&browser).await;
    let (_, any) = app.send(reqwest::Method::POST, "/api/analytics/retention", Some(&retention(None))).await;
    assert_eq!(shown().await, overall(&any), "{any}");
    browser.click(&format!("#returning option[value='{gift_key}']")).await;
    let (_, back) =
        app.send(reqwest::Method::POST, "/api/analytics/retention", Some(&retention(Some(&gift_key)))).await;
    assert_ne!(overall(&any), overall(&back), "a filter that changes nothing tests nothing");
    for _ in 0..50 {
        if shown().await == overall(&back) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown().await, overall(&back));
    look(&browser, "retention").await;

    // Attribution: the conversions the API counts.
    browser.go(&view("view=attribution")).await;
    browser.wait_for_text("Credit by").await;
    drawn(&browser).await;
    let (_, attr) = app
        .send(
            reqwest::Method::POST,
            "/api/analytics/attribution",
            Some(&json!({"filter": {"from": from, "to": to}, "query": {"goal": order, "by": "touchpoint"}})),
        )
        .await;
    let conversions = attr["groups"][0]["report"]["conversions"].as_u64().unwrap();
    assert!(conversions >= 10, "{attr}");
    let kpi = browser.eval("return document.getElementById('conversions').textContent").await;
    assert_eq!(kpi, json!(conversions.to_string()));
    look(&browser, "attribution").await;

    // Catalog: the discovered touchpoint, classified through the form.
    browser.go(&view("view=catalog")).await;
    browser.wait_for_text("Unclassified touchpoints").await;
    look(&browser, "catalog").await;
    let form = format!("form[data-key='{gift_key}']");
    browser.click(&format!("{form} select[name=stage] option[value=retention]")).await;
    browser.click(&format!("{form} select[name=channel] option[value=store]")).await;
    let cs = browser.find(&format!("{form} input[name=name-cs]")).await;
    browser.call(reqwest::Method::POST, &format!("/element/{cs}/clear"), json!({})).await;
    browser.type_into(&format!("{form} input[name=name-cs]"), "Uplatněná dárková karta").await;
    browser.click(&format!("{form} button[type=submit]")).await;
    browser.wait_for_text("Classified").await;
    let (_, tp) = app.get("/api/touchpoints").await;
    let tp = tp.as_array().unwrap().iter().find(|t| t["key"] == gift_key.as_str()).unwrap().clone();
    assert_eq!(
        (&tp["stage"], &tp["channel"], &tp["discovered"]),
        (&json!("retention"), &json!("store"), &json!(false)),
        "{tp}"
    );
    assert_eq!(tp["names"]["cs"], "Uplatněná dárková karta");

    // The catalog is drawn again without the classified touchpoint's form.
    let gone = format!("return document.querySelector(\"form[data-key='{gift_key}']\") === null");
    for _ in 0..50 {
        if browser.eval(&gone).await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(browser.eval(&gone).await, json!(true), "the classified touchpoint left the list");
    drawn(&browser).await;

    // A rule, previewed as it is typed: what it would take of the last 1,000 events is
    // what the API says.
    browser.type_into("#rule-name", "Product Viewed").await;
    let rule = json!({"priority": 50, "touchpoint": tps[0]["key"], "event_type": "track", "event_name": "Product Viewed", "conditions": []});
    let (_, test) = app.send(reqwest::Method::POST, "/api/rules/test?last=1000", Some(&rule)).await;
    assert_eq!(test["matched"], 60, "{test}");
    browser.wait_for_text(&format!("It would take 60 of the last {} events", test["scanned"])).await;

    // A rule changed (its priority) and another deleted, in the page.
    let (_, rules) = app.get("/api/rules").await;
    // Two rules for events this test never sends (the order's rule stays).
    let spare: Vec<&Value> =
        rules.as_array().unwrap().iter().filter(|r| r["touchpoint"] != "order-completed").collect();
    assert!(spare.len() >= 2, "{rules}");
    let (changed, deleted) = (spare[0]["id"].clone(), spare[1]["id"].clone());
    let changed_value = spare[0]["conditions"][0]["value"].clone();
    browser.click(&format!("[data-rule-edit='{changed}']")).await;
    browser.wait_for_text(&format!("Changing rule {changed}")).await;
    assert_eq!(browser.eval("return document.getElementById('rule-value').value").await, changed_value);
    let priority = browser.find("#rule-priority").await;
    browser.call(reqwest::Method::POST, &format!("/element/{priority}/clear"), json!({})).await;
    browser.type_into("#rule-priority", "77").await;
    browser.click("#rule-form button[type=submit]").await;
    browser.wait_for_text("Saved;").await;
    browser.wait_for_text(&format!("data-rule-delete=\"{deleted}\"")).await;
    drawn(&browser).await;
    browser.click(&format!("[data-rule-delete='{deleted}']")).await;
    let accepted = browser.call(reqwest::Method::POST, "/alert/accept", json!({})).await;
    assert!(accepted.is_null(), "the confirmation: {accepted}");
    browser.wait_for_text("Deleted;").await;
    let (_, after) = app.get("/api/rules").await;
    let after = after.as_array().unwrap();
    assert!(after.iter().all(|r| r["id"] != deleted), "deleted");
    assert_eq!(after.iter().find(|r| r["id"] == changed).unwrap()["priority"], 77);

    // Surveys: create one from the NPS template, publish it, open its page.
    browser.go(&view("view=surveys")).await;
    browser.wait_for_text("New NPS survey").await;
    look(&browser, "surveys").await;
    browser.type_into("#survey-key", "nps-after-gift").await;
    browser.click(&format!("#survey-trigger option[value='{gift_key}']")).await;
    browser.click("#new-survey button[type=submit]").await;
    browser.wait_for_text("nps-after-gift").await;
    // The builder: a fourth question, a single choice, written in English and Czech and
    // previewed in Czech, then saved.
    browser.click("button[data-act=edit][data-key=nps-after-gift]").await;
    browser.wait_for_text("Add a question").await;
    look(&browser, "survey-builder").await;
    let before = browser.eval("return document.querySelectorAll('fieldset.question').length").await.as_u64().unwrap();
    browser.click("#b-add").await;
    let i = before;
    browser.click(&format!("#q{i}-type option[value=single]")).await;
    browser.type_into(&format!("#q{i}-choices"), "fast | Fast delivery | Rychlé doručení | Szybka dostawa").await;
    browser.type_into(&format!("#q{i}-text-en"), "What pleased you?").await;
    browser.type_into(&format!("#q{i}-text-cs"), "Co vás potěšilo?").await;
    browser.type_into(&format!("#q{i}-help-cs"), "Vyberte jednu možnost.").await;
    browser.type_into(&format!("#q{i}-area"), "delivery").await;
    browser.eval("const x = document.querySelector('#b-thanks-cs'); x.value = 'Díky, že jste nám pomohli!'; x.dispatchEvent(new Event('input', {bubbles: true}));").await;
    browser.click("#b-lang option[value=cs]").await;
    browser.wait_for_text("Co vás potěšilo?").await;
    browser.wait_for_text("Rychlé doručení").await;
    browser.wait_for_text("Vyberte jednu možnost.").await;
    browser.wait_for_text("Díky, že jste nám pomohli!").await;
    browser.click("#b-save").await;
    // Saved: the builder closes.
    for _ in 0..50 {
        if browser.eval("return document.getElementById('b-add') === null").await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drawn(&browser).await;
    let (_, saved) = app.get("/api/surveys/nps-after-gift").await;
    let q = &saved["definition"]["questions"][i as usize];
    assert_eq!(
        (&q["type"], &q["text"]["cs"], &q["options"][0]["label"]["cs"]),
        (&json!("single"), &json!("Co vás potěšilo?"), &json!("Rychlé doručení")),
        "{saved}"
    );
    assert_eq!((&q["help"], &q["area"]), (&json!({"cs": "Vyberte jednu možnost."}), &json!("delivery")), "{saved}");
    assert_eq!(saved["definition"]["thank_you"]["cs"], "Díky, že jste nám pomohli!", "{saved}");
    assert!(saved["definition"]["intro"]["en"].is_string(), "the template's intro is kept: {saved}");
    browser.click("button[data-act=publish][data-key=nps-after-gift]").await;
    browser.wait_for_text("Open link").await;
    let (_, survey) = app.get("/api/surveys/nps-after-gift").await;
    assert_eq!(survey["status"], "live", "{survey}");
    let open = browser.eval("return document.querySelector('a[href*=\"/o/\"]').href").await;
    browser.go(open.as_str().unwrap()).await;
    browser.wait_for_text("How likely are you to recommend us").await;

    // Listening, with answers over three weeks: the score is the API's, the charts are
    // drawn and accessible; a pair question added to the live survey (a new version) gives
    // the expectation gap the API gives.
    let (_, live) = app.get("/api/surveys/nps-after-gift").await;
    let mut def = live["definition"].clone();
    def["questions"].as_array_mut().unwrap().push(json!({"id": "speed", "type": "pair", "area": "delivery-speed",
        "text": {"en": "Delivery speed", "cs": "Rychlost doručení", "pl": "Szybkość dostawy"}}));
    let (st, v) = app.send(reqwest::Method::PUT, "/api/surveys/nps-after-gift", Some(&def)).await;
    assert_eq!(st, 200, "{v}");
    let answers: Vec<Value> = (0..60)
        .map(|i| {
            let score = (i * 7) % 11;
            let mut said = json!({"nps": score, "speed": {"expectation": 8, "experience": 5 + i % 3}});
            if score <= 6 {
                said["wrong"] = json!("Delivery was late again");
            }
            json!({"answers": said, "customer": format!("c{}", i % 40), "touchpoint": gift_key, "external_id": format!("r{i}"),
                "answered_at": (now - chrono::Duration::days(i % 21)).to_rfc3339()})
        })
        .collect();
    let (status, receipt) =
        app.send(reqwest::Method::POST, "/api/surveys/nps-after-gift/responses", Some(&json!(answers))).await;
    assert_eq!((status, &receipt["stored"]), (200, &json!(60)), "{receipt}");
    browser.go(&view("view=listening&survey=nps-after-gift&metric=nps")).await;
    browser.wait_for_text("Trend by week").await;
    drawn(&browser).await;
    let listen = json!({"survey": "nps-after-gift", "by": "touchpoint",
        "from": chrono::DateTime::from_timestamp(from, 0).unwrap().to_rfc3339(), "to": chrono::DateTime::from_timestamp(to, 0).unwrap().to_rfc3339()});
    let (_, nps) = app.send(reqwest::Method::POST, "/api/listening/nps", Some(&listen)).await;
    let score = nps["result"]["result"]["score"].as_f64().unwrap_or_else(|| panic!("{nps}"));
    let shown = browser.eval("return document.getElementById('score').textContent").await;
    assert_eq!(shown, json!(format!("{}", score.round() as i64)), "{nps}");
    browser.wait_for_text("Expectations and experience").await;
    let (_, gaps) = app.send(reqwest::Method::POST, "/api/listening/gaps", Some(&listen)).await;
    let gap = gaps["result"]["areas"][0]["gap"]["gap"].as_f64().unwrap_or_else(|| panic!("{gaps}"));
    assert!((gap + 2.0).abs() < 1e-9, "experience 5–7 against 8: {gaps}");
    let shown = browser.eval("return Number(document.querySelector('#gaps-table td[data-v]').dataset.v)").await;
    assert_eq!(shown.as_f64(), Some(gap), "the chart's table says what the API says");
    let named = browser.eval("return document.querySelector('#gaps-table td').textContent").await;
    assert_eq!(named, json!("Delivery speed"), "the area in the survey's words");
    look(&browser, "listening").await;
    for (w, h) in [(1280, 900), (360, 800)] {
        browser.size(w, h).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser.eval("document.getElementById('l6').scrollIntoView(); return true").await;
        browser.screenshot(&format!("dashboard-gaps-{w}")).await;
    }
    browser.size(1280, 900).await;

    // Trigger rules: a draft is previewed with the numbers the API gives, switched on, and
    // its effect asked for (nothing to compare yet, said so).
    let (_, tps) = app.get("/api/touchpoints").await;
    let key_of = |needle: &str| {
        tps.as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["key"].as_str())
            .find(|k| k.to_lowercase().contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {tps}"))
            .to_string()
    };
    let (viewed, ordered) = (key_of("product"), key_of("order"));
    let rule = json!({"name": "Viewed, not ordered",
        "when": {"kind": "not_followed", "touchpoint": viewed, "followed_by": [ordered], "within": "1h"},
        "then": {"kind": "webhook", "endpoint": {"url": "http://127.0.0.1:9/x"}},
        "goal": {"touchpoint": ordered, "within": "7d"}});
    let (st, v) = app
        .send(reqwest::Method::POST, "/api/triggers", Some(&json!({"key": "viewed-not-ordered", "definition": rule})))
        .await;
    assert_eq!(st, 200, "{v}");
    browser.go(&view("view=triggers")).await;
    browser.wait_for_text("Viewed, not ordered").await;
    look(&browser, "triggers").await;
    browser.click("button[data-act=preview]").await;
    browser.wait_for_text("Over the last 30 days").await;
    let (_, p) = app.get("/api/triggers/viewed-not-ordered/preview?days=30").await;
    assert!(p["fired"].as_u64().unwrap() > 0, "{p}");
    let shown = browser.eval("return document.querySelector('[data-k=preview]').textContent").await;
    let want = format!("fired {} times for {} customers", p["fired"], p["customers"]);
    assert!(shown.as_str().unwrap().contains(&want), "{shown} against {p}");
    look(&browser, "triggers-preview").await;
    browser.click("button[data-act=resume]").await;
    browser.wait_for_text("Pause").await;
    let (_, r) = app.get("/api/triggers/viewed-not-ordered").await;
    assert_eq!(r["status"], "live");
    browser.click("button[data-act=report]").await;
    browser.wait_for_text("Not enough to compare yet").await;

    // An e-mail rule fires for a customer whose address only the page's write key gave:
    // suppressed, and the rule's panel says why when asked.
    let before = (now - chrono::Duration::days(2)).to_rfc3339();
    let warm = json!({"userId": "warm", "event": "Parcel Lost", "timestamp": before});
    assert_eq!(app.post("/v1/track", &warm).await.0, 200);
    let rule = json!({"name": "Parcel lost", "when": {"kind": "happens", "touchpoint": "track:Parcel Lost"},
        "then": {"kind": "email", "templates": {"en": {"subject": "Sorry", "text": "Your parcel is lost."}}}, "holdout": 0});
    let body = json!({"key": "parcel-lost", "definition": rule, "live": true});
    let (st, v) = app.send(reqwest::Method::POST, "/api/triggers", Some(&body)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(app.post("/v1/identify", &json!({"userId": "z1", "traits": {"email": "z1@example.cz"}})).await.0, 200);
    assert_eq!(app.post("/v1/track", &json!({"userId": "z1", "event": "Parcel Lost"})).await.0, 200);
    let started = std::time::Instant::now();
    loop {
        let (_, f) = app.get("/api/triggers/parcel-lost/firings?state=suppressed").await;
        if f.as_array().is_some_and(|a| a.iter().any(|x| x["reason"] == "unverified_email")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no suppressed firing: {f}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same view: opened again to list the new rule.
    browser.eval("location.reload(); return true").await;
    browser.wait_for_text("Parcel lost").await;
    browser.click("details.why[data-key=parcel-lost] summary").await;
    browser.wait_for_text("address not verified").await;
    let n = browser.eval("return document.querySelector('[data-reason=unverified_email]').textContent").await;
    assert_eq!(n, "1", "one firing, for z1");
    look(&browser, "triggers-why").await;
    for (w, h) in [(1280, 900), (360, 800)] {
        browser.size(w, h).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Drawn again for the new width: opened again.
        browser
            .eval("const d = document.querySelector('details.why'); d.open = true; d.scrollIntoView(); return true")
            .await;
        browser.wait_for_text("address not verified").await;
        browser.screenshot(&format!("dashboard-triggers-why-{w}")).await;
    }
    browser.size(1280, 900).await;

    // A rule written in the dashboard's form: not followed within 2 days → a Czech and a
    // Polish e-mail about offers with a survey invitation, 10 % held out; previewed with
    // the numbers the API gives for the JSON the form wrote, saved as a draft.
    let pick = |css: &str, values: &[&str]| {
        format!(
            "const s = document.querySelector('{css}'); const want = {};
             [...s.options].forEach(o => {{ o.selected = want.includes(o.value); }});
             s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value;",
            json!(values)
        )
    };
    let (_, surveys) = app.get("/api/surveys").await;
    let survey = surveys[0]["key"].as_str().expect("the dashboard data has a survey").to_string();
    browser.click("#rule-new").await;
    browser.wait_for_text("Kind of message").await;
    browser.type_into("#re-name", "Viewed, not ordered: a nudge").await;
    assert_eq!(browser.eval("return document.querySelector('#re-key').value").await, "viewed-not-ordered-a-nudge");
    browser.eval(&pick("#re-tp", &[&viewed])).await;
    browser.eval(&pick("#re-followed", &[&ordered])).await;
    browser.eval(&pick("#re-category", &["marketing"])).await;
    browser.eval(&pick("#re-invite", &[&survey])).await;
    browser.eval(&pick("#re-goal", &[&ordered])).await;
    browser.type_into("#re-subj-cs", "Zapomněli jste na něco?").await;
    browser.type_into("#re-text-cs", "Dobrý den, {{ first_name }}: {{ survey_url }}").await;
    browser.type_into("#re-subj-pl", "Czy o czymś zapomniałeś?").await;
    browser.type_into("#re-text-pl", "Dzień dobry: {{ survey_url }}").await;
    let hidden = |css: &str| format!("return document.querySelector('{css}').closest('[data-show]').hidden");
    assert_eq!(browser.eval(&hidden("#re-url")).await, json!(true), "a webhook's URL is not asked for an e-mail");
    assert_eq!(browser.eval(&hidden("#re-within")).await, json!(false));
    look(&browser, "triggers-editor").await;
    let written: Value =
        serde_json::from_str(browser.eval("return document.querySelector('#re-json').value").await.as_str().unwrap())
            .unwrap();
    browser.click("#re-preview").await;
    browser.wait_for_text("Over the last 30 days").await;
    let (st, p) = app
        .send(reqwest::Method::POST, "/api/triggers/preview", Some(&json!({"definition": written, "days": 30})))
        .await;
    assert_eq!(st, 200, "{p}");
    let shown = browser.eval("return document.querySelector('#rule-editor [data-k=preview]').textContent").await;
    let want = format!("fired {} times for {} customers", p["fired"], p["customers"]);
    assert!(shown.as_str().unwrap().contains(&want), "{shown} against {p}");
    // A wait that is not one is named, with where, and nothing is saved.
    browser.eval("const w = document.querySelector('#re-within'); w.value = 'soon'; w.dispatchEvent(new Event('input', {bubbles: true}));").await;
    browser.click("#rule-editor button[type=submit]").await;
    browser.wait_for_text("\"soon\" is not a length of time").await;
    assert_eq!(app.get("/api/triggers/viewed-not-ordered-a-nudge").await.0, 404);
    browser.eval("const w = document.querySelector('#re-within'); w.value = '2d'; w.dispatchEvent(new Event('input', {bubbles: true}));").await;
    browser.click("#rule-editor button[type=submit]").await;
    browser.wait_for_text("Saved. Preview it, then switch it on.").await;
    let (st, r) = app.get("/api/triggers/viewed-not-ordered-a-nudge").await;
    assert_eq!((st, r["status"].as_str()), (200, Some("draft")), "{r}");
    let d = &r["definition"];
    assert_eq!(
        (&d["when"]["kind"], &d["when"]["touchpoint"], &d["when"]["followed_by"], &d["when"]["within"]),
        (&json!("not_followed"), &json!(viewed), &json!([ordered]), &json!("2d")),
        "{d}"
    );
    assert_eq!(
        (&d["then"]["kind"], &d["then"]["category"], &d["then"]["survey"], &d["holdout"], &d["goal"]["touchpoint"]),
        (&json!("email"), &json!("marketing"), &json!(survey), &json!(0.1), &json!(ordered)),
        "{d}"
    );
    assert_eq!(d["then"]["templates"]["cs"]["subject"], "Zapomněli jste na něco?", "{d}");
    assert_eq!(d["then"]["templates"]["pl"]["text"], "Dzień dobry: {{ survey_url }}", "{d}");
    assert!(d["then"]["templates"].get("en").is_none(), "an empty language is not written: {d}");
    // Changed in the same form: the hold-out, and what the form does not show is kept.
    browser.click("button[data-act=edit][data-key=viewed-not-ordered-a-nudge]").await;
    browser.wait_for_text("Save the changes").await;
    browser.eval("const h = document.querySelector('#re-holdout'); h.value = '20'; h.dispatchEvent(new Event('input', {bubbles: true}));").await;
    browser.click("#rule-editor button[type=submit]").await;
    browser.wait_for_text("Saved. Preview it, then switch it on.").await;
    let (_, r) = app.get("/api/triggers/viewed-not-ordered-a-nudge").await;
    assert_eq!((&r["definition"]["holdout"], &r["status"]), (&json!(0.2), &json!("draft")), "{r}");
    assert_eq!(r["definition"]["then"]["templates"], d["then"]["templates"], "{r}");

    // Self-service: the report, and an article written and changed in the dashboard.
    browser.go(&view("view=selfservice")).await;
    browser.wait_for_text("Knowledge base").await;
    look(&browser, "selfservice").await;
    browser.click("#kb-new").await;
    browser.type_into("#kb-title", "Returns within 14 days").await;
    browser.type_into("#kb-body", "Send it back free of charge.").await;
    browser.click("#kb-editor button[type=submit]").await;
    browser.wait_for_text("Saved as version 1.").await;
    browser.wait_for_text("Returns within 14 days").await;
    let (_, list) = app.get("/api/kb/articles").await;
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(
        (list[0]["title"].as_str(), list[0]["lang"].as_str()),
        (Some("Returns within 14 days"), Some("en")),
        "{list}"
    );
    browser.click(&format!("button[data-edit='{id}']")).await;
    browser.type_into("#kb-body", " Refunds in 5 days.").await;
    browser.click("#kb-editor button[type=submit]").await;
    browser.wait_for_text("Saved as version 2.").await;
    let (_, found) = app.get("/api/kb/search?q=refund&lang=en").await;
    assert_eq!(found["hits"][0]["id"].as_i64(), Some(id), "the edit is searched: {found}");
    look(&browser, "selfservice-edited").await;

    // Requests: a customer's request answered, assigned and resolved from the dashboard.
    let c3 = app.store.find_identity(1, touchpoint_core::IdentityKind::User, "c3").await.unwrap().unwrap();
    let asked = touchpoint_store::service::NewRequest {
        customer_id: c3,
        subject: "Where is my parcel?".into(),
        body: "It should have arrived on Monday.".into(),
        lang: "en".into(),
        email: None,
    };
    let rid = app.store.create_request(1, &asked, touchpoint_store::now_ms()).await.unwrap().id;
    browser.go(&view("view=requests")).await;
    browser.wait_for_text("Where is my parcel?").await;
    look(&browser, "requests").await;
    browser.click(&format!("a[data-request='{rid}']")).await;
    browser.wait_for_text("It should have arrived on Monday.").await;
    browser.type_into("#req-body", "It is on its way and arrives tomorrow.").await;
    browser.type_into("#req-assignee", "eva@eshop.cz").await;
    browser.click("#req-form button[type=submit]").await;
    browser.wait_for_text("the customer gave no e-mail address").await;
    browser.wait_for_text("Assigned to eva@eshop.cz").await;
    let (_, r) = app.get(&format!("/api/requests/{rid}")).await;
    assert_eq!((r["status"].as_str(), r["assignee"].as_str()), (Some("waiting"), Some("eva@eshop.cz")), "{r}");
    assert_eq!(r["entries"][1]["body"], "It is on its way and arrives tomorrow.");
    look(&browser, "request").await;
    browser.eval("const s = document.querySelector('#req-status'); s.value = 'resolved'; return true").await;
    browser.click("#req-form button[type=submit]").await;
    browser.wait_for_text("Status: Resolved").await;
    let (_, r) = app.get(&format!("/api/requests/{rid}")).await;
    assert_eq!(r["status"], "resolved", "{r}");

    // Data health: an event sent now is on screen in under 2 s.
    browser.go(&view("view=health")).await;
    browser.wait_for_text("Arriving now").await;
    drawn(&browser).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = std::time::Instant::now();
    let live = json!({"type": "track", "event": "Live Check", "userId": "c2"});
    assert_eq!(app.post("/v1/track", &live).await.0, 200);
    browser.wait_for_text("Live Check").await;
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(2), "the event took {took:?} to show");
    look(&browser, "health").await;
    browser.click("button[data-key-kind=write]").await;
    browser.wait_for_text("Copy it now").await;
    let token = browser.eval("return document.getElementById('new-key-token').textContent").await;
    assert!(token.as_str().unwrap().starts_with("tpw_"), "{token}");
    // The new key sends events; revoked (after a confirmation), it is refused at once.
    let token = token.as_str().unwrap().to_string();
    let send_with = |t: String| {
        let url = format!("{}/v1/track", app.base);
        async move {
            let body = json!({"userId": "k1", "event": "Key Check"});
            reqwest::Client::new().post(url).basic_auth(t, Some("")).json(&body).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(send_with(token.clone()).await, 200);
    // A server key (for the brand's own servers) sends events too.
    browser.click("button[data-key-kind=server]").await;
    browser.wait_for_text("tpsrv_").await;
    let server = browser.eval("return document.getElementById('new-key-token').textContent").await;
    assert_eq!(send_with(server.as_str().unwrap().to_string()).await, 200, "{server}");
    // Opened again, the view lists the new key.
    browser.eval("location.reload(); return true").await;
    browser.wait_for_text("Arriving now").await;
    drawn(&browser).await;
    let found = browser
        .eval(&format!(
            "return [...document.querySelectorAll('[data-revoke-key]')].find((b) => '{token}'.startsWith(b.dataset.prefix))?.dataset.prefix;"
        ))
        .await;
    let prefix = found.as_str().unwrap_or_else(|| panic!("the new key is listed with its button: {found}"));
    browser.click(&format!("[data-revoke-key][data-prefix='{prefix}']")).await;
    let accepted = browser.call(reqwest::Method::POST, "/alert/accept", json!({})).await;
    assert!(accepted.is_null(), "a confirmation was asked: {accepted}");
    browser.wait_for_text("Revoked: tpw_").await;
    for (w, h) in [(1280, 900), (360, 800)] {
        browser.size(w, h).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser.eval("document.getElementById('he3').scrollIntoView(); return true").await;
        browser.screenshot(&format!("dashboard-keys-{w}")).await;
    }
    browser.size(1280, 900).await;
    assert_eq!(send_with(token).await, 401, "a revoked key is refused at once");

    // Her account: she invites a colleague and gets the link to send.
    browser.go(&view("view=account")).await;
    browser.wait_for_text("Invite a colleague").await;
    look(&browser, "account").await;
    browser.type_into("#invite-email", "bo@eshop.cz").await;
    browser.click("#invite-role option[value=analyst]").await;
    browser.click("#invite-form button[type=submit]").await;
    browser.wait_for_text("Send this link").await;
    let link = browser.eval("return document.getElementById('invite-link').textContent").await;
    assert!(link.as_str().unwrap().contains("/set-password?link="), "{link}");

    // Every view has its title in Czech and Polish.
    for (lang, titles) in [
        (
            "cs",
            [
                "Cesty",
                "Udržení",
                "Atribuce",
                "Katalog",
                "Průzkumy",
                "Pravidla akcí",
                "Samoobsluha",
                "Požadavky",
                "Stav dat",
                "Váš účet",
            ],
        ),
        (
            "pl",
            [
                "Ścieżki",
                "Retencja",
                "Atrybucja",
                "Katalog",
                "Ankiety",
                "Reguły działań",
                "Samoobsługa",
                "Zgłoszenia",
                "Stan danych",
                "Twoje konto",
            ],
        ),
    ] {
        for (v, title) in [
            "paths",
            "retention",
            "attribution",
            "catalog",
            "surveys",
            "triggers",
            "selfservice",
            "requests",
            "health",
            "account",
        ]
        .iter()
        .zip(titles)
        {
            browser.go(&format!("{}/#project=1&view={v}&lang={lang}", app.base)).await;
            drawn(&browser).await;
            let h1 = browser.eval("return document.querySelector('#view h1')?.textContent").await;
            assert_eq!(h1, json!(title), "{v} in {lang}");
        }
    }
    browser.quit().await;
}

/// The help centre in Chromium: a Czech customer searches with an inflected word, finds
/// the article, opens it and says it helped; a Polish search; axe-core on each page and
/// screenshots at 1280 and 360 px; every step in the visitor's journey.
#[tokio::test]
async fn a_czech_customer_finds_an_article_in_the_help_centre_and_rates_it() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let admin = |path: &str, body: Value| {
        app.client.post(format!("{}{path}", app.base)).bearer_auth(&app.secret_key).json(&body).send()
    };
    let put = app.client.put(format!("{}/api/project", app.base)).bearer_auth(&app.secret_key);
    let r = put.json(&json!({"brand_name": "Zahrádka", "brand_color": "#2e7d32"})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for a in touchpoint_gen::kb::articles() {
        let r = admin("/api/kb/articles", json!({"lang": a.lang, "title": a.title, "body": a.body})).await.unwrap();
        assert!(r.status().is_success());
    }
    let shots = |name: &'static str| portal_look(&browser, name);

    browser.size(1280, 900).await;
    browser.go(&format!("{}/portal/1?lang=cs", app.base)).await;
    browser.wait_for_text("Centrum nápovědy").await;
    shots("home").await;
    browser.type_into("#q", "reklamaci").await;
    browser.click("form.search button").await;
    let page = browser.wait_for_text("1 článek pro „reklamaci“").await;
    assert!(page.contains("<mark>Reklamace</mark> zboží"), "{page}");
    let url = browser.eval("return location.href").await;
    assert!(url.as_str().unwrap().contains("q=reklamaci"), "a shareable address: {url}");
    shots("search").await;
    browser.click("ol.hits a").await;
    browser.wait_for_text("Pomohl vám tento článek?").await;
    shots("article").await;
    browser.click("button[value=yes]").await;
    browser.wait_for_text("Děkujeme za zpětnou vazbu.").await;

    // In Polish, through the language switch, and a search that finds nothing.
    browser.click("a.back").await;
    browser.click("a[hreflang=pl]").await;
    browser.wait_for_text("Centrum pomocy").await;
    browser.type_into("#q", "zwrotu").await;
    browser.click("form.search button").await;
    let page = browser.wait_for_text("1 artykuł dla „zwrotu”").await;
    assert!(page.contains("<mark>Zwroty</mark> towaru"), "{page}");
    browser.find("#q").await;
    browser.eval("document.querySelector('#q').value = ''; return true").await;
    browser.type_into("#q", "opóźnienie dostawy").await;
    browser.click("form.search button").await;
    browser.wait_for_text("Żaden artykuł nie pasuje").await;
    shots("nothing-found").await;
    let session: Value = browser.call(reqwest::Method::GET, "/cookie/tp_session", Value::Null).await;
    let anonymous = session["value"].as_str().expect("the visitor's cookie").to_string();
    browser.quit().await;

    // Every step is in the journey.
    let mut names = vec![];
    for _ in 0..100 {
        let (s, profile) = app.get(&format!("/api/customers/lookup?anonymous_id={anonymous}")).await;
        if s == 200 {
            let (_, t) = app.get(&format!("/api/customers/{}/timeline", profile["id"])).await;
            names = t["items"]
                .as_array()
                .unwrap()
                .iter()
                .rev()
                .map(|e| e["touchpoint"].as_str().unwrap().to_string())
                .collect();
            if names.len() >= 6 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        names,
        ["portal-visit", "kb-search", "kb-article", "kb-helpful", "kb-search", "kb-search"],
        "one visit; the thank-you page and the language link are no steps of their own"
    );
}

/// axe-core on a portal page and its screenshots at 1280 and 360 px.
async fn portal_look(browser: &Driver, name: &str) {
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on {name}: {found:?}");
    }
    browser.screenshot(&format!("portal-{name}-1280")).await;
    browser.size(360, 800).await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on {name} at 360 px: {found:?}");
    }
    browser.screenshot(&format!("portal-{name}-360")).await;
    browser.size(1280, 900).await;
}

/// Every file under a directory that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

/// The portal from sign-in to erasure in Chromium, with a real SMTP server: a Czech
/// customer signs in by a link e-mailed to her, searches with an inflected word, opens a
/// request (an article suggested first), the team replies through the API and she reads
/// the reply on the page and in her e-mail; a Polish search; another customer's request,
/// a reused link and a tampered one are refused with a clear page; she erases her data
/// and no file of the store holds her marker. axe-core and screenshots at 1280 and 360 px.
#[tokio::test]
async fn a_czech_customer_signs_in_by_e_mail_gets_an_answer_and_erases_her_data() {
    if !receivers::available("a_czech_customer_signs_in_by_e_mail_gets_an_answer_and_erases_her_data") {
        return;
    }
    let Some(browser) = Driver::start().await else { return };
    let smtp = receivers::Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| {
        c.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.smtp_from = "Zahrádka <pomoc@zahradka.example>".into();
    })
    .await;
    let put = app.client.put(format!("{}/api/project", app.base)).bearer_auth(&app.secret_key);
    let r = put.json(&json!({"brand_name": "Zahrádka", "brand_color": "#2e7d32"})).send().await.unwrap();
    assert!(r.status().is_success());
    for a in touchpoint_gen::kb::articles() {
        let (s, v) = app
            .send(
                reqwest::Method::POST,
                "/api/kb/articles",
                Some(&json!({"lang": a.lang, "title": a.title, "body": a.body})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let marker = "qz-portal-marker-51c7";
    // Petr, a known customer with a request of his own; Jana has never been here.
    let (s, v) = app.post("/v1/identify", &json!({"userId": "petr-78", "traits": {"email": "petr@zahradka.example", "note": format!("{marker}-petr-78")}})).await;
    assert_eq!(s, 200, "{v}");
    let petr = loop {
        if let Some(c) = app.store.find_identity(1, touchpoint_core::IdentityKind::User, "petr-78").await.unwrap() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let others = touchpoint_store::service::NewRequest {
        customer_id: petr,
        subject: "Petrova objednávka".into(),
        body: "Jen pro Petra.".into(),
        lang: "cs".into(),
        email: None,
    };
    let petrs = app.store.create_request(1, &others, touchpoint_store::now_ms()).await.unwrap().id;
    let shots = |name: &'static str| portal_look(&browser, name);
    // A link from an e-mail, on this test's server (the mail names the configured address).
    let here = |link: &str| format!("{}/portal/{}", app.base, link.split_once("/portal/").unwrap().1);
    let link_in = |text: &str| {
        let at = text.find("http").expect("a link");
        text[at..].split_whitespace().next().unwrap().to_string()
    };

    // Sign in by e-mail.
    browser.size(1280, 900).await;
    browser.go(&format!("{}/portal/1?lang=cs", app.base)).await;
    browser.wait_for_text("Centrum nápovědy").await;
    browser.click("nav.pnav a[href*=signin]").await;
    browser.wait_for_text("pošleme vám odkaz").await;
    shots("signin").await;
    browser.type_into("#email", "jana@zahradka.example").await;
    browser.click("main form button").await;
    browser.wait_for_text("Poslali jsme odkaz pro přihlášení na jana@zahradka.example").await;
    let mail = smtp.wait_for(10, |r| r.messages().into_iter().next()).await.expect("the sign-in link arrives");
    assert_eq!(mail["envelope"]["to"], json!(["jana@zahradka.example"]));
    assert_eq!(mail["subject"], "Přihlášení do centra nápovědy Zahrádka");
    let link = here(&link_in(mail["text"].as_str().unwrap()));
    browser.go(&link).await;
    browser.wait_for_text("Stisknutím tlačítka se přihlásíte").await;
    browser.click("main form button").await;
    browser.wait_for_text("Zatím nemáte žádné požadavky.").await;
    shots("requests-empty").await;

    // A search with an inflected word, signed in.
    browser.click("nav.pnav a[aria-current] ~ a, nav.pnav a:first-child").await;
    browser.type_into("#q", "reklamaci").await;
    browser.click("form.search button").await;
    browser.wait_for_text("<mark>Reklamace</mark> zboží").await;

    // A request: the matching article first, then sent.
    browser.go(&format!("{}/portal/1/requests?lang=cs", app.base)).await;
    browser.type_into("#subject", "Zpožděná zásilka").await;
    browser.type_into("#body", &format!("Moje zásilka se zpozdila. Kód {marker}.")).await;
    // Suggested while she writes (the portal's script), before anything is sent.
    let mut live = Value::Null;
    for _ in 0..100 {
        live = browser
            .eval("const b = document.querySelector('#live-suggest'); return b.hidden ? null : b.textContent")
            .await;
        if live.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let live = live.as_str().expect("articles suggested while typing").to_string();
    assert!(live.starts_with("Než požadavek odešlete") && live.contains("zásilk"), "{live}");
    shots("request-typing").await;
    browser.click("main form:not(.out) button").await;
    browser.wait_for_text("Než požadavek odešlete").await;
    shots("request-suggestions").await;
    browser.click("main form:not(.out) button").await;
    let page = browser.wait_for_text("Přijato").await;
    assert!(page.contains(&format!("Kód {marker}.")), "{page}");
    let (_, list) = app.get("/api/requests").await;
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["email"], "jana@zahradka.example", "{list}");
    let jana = list[0]["customer_id"].as_i64().unwrap();
    assert_ne!(jana, petr);

    // The team replies through the API: on the page, and by e-mail in Czech.
    let (s, v) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/requests/{id}"),
            Some(&json!({"body": "Zásilka je na cestě, dorazí zítra."})),
        )
        .await;
    assert_eq!((s, v["email"].as_str()), (200, Some("sent")), "{v}");
    let mail = smtp.wait_for(10, |r| r.messages().into_iter().nth(1)).await.expect("the reply arrives");
    assert_eq!(mail["subject"], "Odpověď na váš požadavek: Zpožděná zásilka");
    assert!(mail["text"].as_str().unwrap().contains("Zásilka je na cestě, dorazí zítra."));
    browser.go(&format!("{}/portal/1/requests/{id}?lang=cs", app.base)).await;
    browser.wait_for_text("Zásilka je na cestě, dorazí zítra.").await;
    browser.wait_for_text("Čeká na vás").await;
    shots("request").await;
    browser.type_into("#body", "Děkuji, počkám.").await;
    browser.click("main form:not(.out) button").await;
    browser.wait_for_text("Děkuji, počkám.").await;
    let (s, _) =
        app.send(reqwest::Method::PATCH, &format!("/api/requests/{id}"), Some(&json!({"status": "resolved"}))).await;
    assert_eq!(s, 200);
    browser.go(&format!("{}/portal/1/requests?lang=cs", app.base)).await;
    browser.wait_for_text("Vyřešeno").await;

    // In Polish.
    browser.go(&format!("{}/portal/1?lang=pl&q=zwrotu", app.base)).await;
    browser.wait_for_text("<mark>Zwroty</mark> towaru").await;

    // Another customer's request, a used link, a tampered one: refused, clearly.
    browser.go(&format!("{}/portal/1/requests/{petrs}?lang=cs", app.base)).await;
    let page = browser.wait_for_text("Požadavek nenalezen").await;
    assert!(!page.contains("Jen pro Petra."));
    assert!(link.ends_with("?lang=cs"), "the link opens the portal in her language: {link}");
    browser.go(&link).await;
    browser.wait_for_text("Tento odkaz už byl použit").await;
    let pressed = browser.source().await;
    assert!(!pressed.contains("Stisknutím tlačítka"), "a used link offers no button");
    shots("link-used").await;
    let (token, query) = link.split_once('?').unwrap();
    let mut tampered = token.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'x' { 'y' } else { 'x' });
    browser.go(&format!("{tampered}?{query}")).await;
    browser.wait_for_text("Tento odkaz není platný").await;

    // My data: preferences saved, then everything erased after the confirmation.
    browser.go(&format!("{}/portal/1/account?lang=cs", app.base)).await;
    browser.wait_for_text("Zprávy, které od nás chcete").await;
    shots("account").await;
    // Offers by e-mail yes, as text messages no: one box, one channel.
    browser.click("input[value='marketing/webhook']").await;
    browser.click("form.prefs button").await;
    browser.wait_for_text("Vaše volby jsou uložené.").await;
    let (_, prefs) = app.get(&format!("/api/customers/{jana}/preferences")).await;
    let said = |cat: &str, ch: &str| {
        prefs.as_array().unwrap().iter().find(|p| p["category"] == cat && p["channel"] == ch).map(|p| {
            assert_eq!(p["source"], "portal", "{p}");
            p["allowed"].as_bool().unwrap()
        })
    };
    assert_eq!((said("marketing", "webhook"), said("marketing", "email")), (Some(false), Some(true)), "{prefs}");
    let shown = browser.eval("return [...document.querySelectorAll('form.prefs input[type=checkbox]')].map(x => x.value + '=' + x.checked).join(' ')").await;
    let shown = shown.as_str().unwrap().to_string();
    assert!(shown.contains("marketing/webhook=false") && shown.contains("marketing/email=true"), "shown back: {shown}");
    browser.click("form.danger input[name=confirm]").await;
    browser.click("form.danger button").await;
    browser.wait_for_text("Vaše údaje byly smazány").await;
    shots("erased").await;
    browser.go(&format!("{}/portal/1/requests?lang=cs", app.base)).await;
    browser.wait_for_text("pošleme vám odkaz").await;
    browser.quit().await;

    assert!(app.store.customer(jana).await.unwrap().is_none());
    let (_, list) = app.get("/api/requests").await;
    assert_eq!(
        list.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        [petrs],
        "{list}"
    );
    // Let the server's page cache go: the store's files are what is checked.
    let dir = app.dir.path().to_path_buf();
    let hers = format!("Kód {marker}.");
    for needle in [hers.as_str(), "jana@zahradka.example", "Moje zásilka se zpozdila", "Děkuji, počkám."] {
        let holding = files_holding(&dir, needle.as_bytes());
        assert!(holding.is_empty(), "{needle} is still in {holding:?}");
    }
    assert!(!files_holding(&dir, format!("{marker}-petr-78").as_bytes()).is_empty(), "petr's data is kept");
    drop(smtp);
}
