//! A real headless Chromium (Debian's `chromium`, driven through `chromedriver` over the
//! W3C WebDriver protocol) opens a survey invitation in Czech, answers an NPS survey and its
//! follow-up by clicking and typing like a person, and the response is found in the NPS
//! metrics. Without Chromium the test says so and skips, unless
//! `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where that is a failure.

mod common;

use common::{spawn_app, spawn_app_with};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary(names: &[&str]) -> Option<String> {
    names.iter().find(|p| std::path::Path::new(p).exists()).map(|p| p.to_string())
}

impl Driver {
    async fn start() -> Option<Driver> {
        let (Some(driver), Some(browser)) = (
            find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]),
            find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
        ) else {
            let why = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
            if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
                panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=412,915",
                     format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let mut d = Driver { child, base, session: String::new(), http, _profile: profile };
        let created = d.call(reqwest::Method::POST, "/session", caps).await;
        d.session = created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Some(d)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut req = self.http.request(method.clone(), url);
        if method != reqwest::Method::GET {
            req = req.json(&body);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    /// Find an element, waiting for the page to show it.
    async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            let v = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} on {}", self.source().await);
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        let r = self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
        assert!(r.is_null(), "clicking {css}: {r}");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", Value::Null).await.as_str().unwrap_or_default().to_string()
    }

    async fn wait_for_text(&self, text: &str) -> String {
        for _ in 0..100 {
            let s = self.source().await;
            if s.contains(text) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}: {}", self.source().await);
    }

    /// Work inside the frame an element is.
    async fn enter_frame(&self, css: &str) {
        let id = self.find(css).await;
        let r = self.call(reqwest::Method::POST, "/frame", json!({"id": {ELEMENT: id}})).await;
        assert!(r.is_null(), "entering {css}: {r}");
    }

    async fn quit(&self) {
        self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await.ok();
    }
}

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
