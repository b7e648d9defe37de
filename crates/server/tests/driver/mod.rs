//! A real headless Chromium (Debian's `chromium`, driven through `chromedriver` over the
//! W3C WebDriver protocol) for the browser tests: start it, go, find, click, type, wait for
//! text, resize, photograph, run axe-core. Shared by the server's browser tests and the
//! CLI's demo test (`#[path]`). Without Chromium `Driver::start` says so and gives `None`,
//! unless `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where that is a failure.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
    /// One browser at a time: six Chromiums at once on two cores (beside the servers under
    /// test) made chromedriver drop connections.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Whose turn it is to drive a browser.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    pub async fn start() -> Option<Driver> {
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
        let turn = TURN.lock().await;
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
        let mut d = Driver { child, base, session: String::new(), http, _profile: profile, _turn: turn };
        let created = d.call(reqwest::Method::POST, "/session", caps).await;
        d.session = created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Some(d)
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
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

    pub async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    /// Find an element, waiting for the page to show it.
    pub async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            let v = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} on {}", self.source().await);
    }

    /// Click an element; found again if the page redrew it between finding and clicking.
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.find(css).await;
            let r = self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
            if r["error"] == "stale element reference" {
                continue;
            }
            assert!(r.is_null(), "clicking {css}: {r}");
            return;
        }
        panic!("{css} was redrawn five times while being clicked");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", Value::Null).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn wait_for_text(&self, text: &str) -> String {
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
    pub async fn enter_frame(&self, css: &str) {
        let id = self.find(css).await;
        let r = self.call(reqwest::Method::POST, "/frame", json!({"id": {ELEMENT: id}})).await;
        assert!(r.is_null(), "entering {css}: {r}");
    }

    /// Resize the window (CSS pixels).
    pub async fn size(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", json!({"width": width, "height": height})).await;
    }

    /// A PNG of the viewport, written to `target/…/tmp/screenshots/<name>.png` for a person
    /// to look at.
    pub async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Run a script in the page; its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": []})).await
    }

    /// The serious and critical accessibility violations axe-core finds on the page (its
    /// rule and the elements), or `None` when axe-core is not installed (then the test
    /// says so, or fails under `TOUCHPOINT_REQUIRE_SERVERS`).
    pub async fn axe(&self) -> Option<Vec<String>> {
        let dir = std::env::var_os("TOUCHPOINT_NPM_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/touchpoint-npm")))?;
        let Ok(source) = std::fs::read_to_string(dir.join("node_modules/axe-core/axe.min.js")) else {
            let why = format!("axe-core is not in {} (npm install --prefix {} axe-core)", dir.display(), dir.display());
            if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
                panic!("TOUCHPOINT_REQUIRE_SERVERS is set but {why}");
            }
            eprintln!("SKIPPED (accessibility check): {why}");
            return None;
        };
        self.eval(&format!("{source}\nreturn true;")).await;
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))));";
        let v = self.call(reqwest::Method::POST, "/execute/async", json!({"script": script, "args": []})).await;
        Some(
            v.as_array().unwrap_or_else(|| panic!("axe-core did not run: {v}")).iter().map(|x| x.to_string()).collect(),
        )
    }

    pub async fn quit(&self) {
        self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await.ok();
    }
}

/// Wait until the dashboard has drawn its view (it marks the view busy while it loads).
pub async fn drawn(browser: &Driver) {
    for _ in 0..100 {
        if browser.eval("return document.getElementById('view').getAttribute('aria-busy')").await.is_null() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the view never finished loading: {}", browser.source().await);
}

/// axe-core finds nothing serious or critical; screenshots at 1280 and 360 px (the
/// latter scrolled to the view).
pub async fn look(browser: &Driver, name: &str) {
    drawn(browser).await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on {name}: {found:?}");
    }
    browser.screenshot(&format!("dashboard-{name}-1280")).await;
    browser.size(360, 800).await;
    // The page redraws its charts for the new width a quarter second after a resize.
    tokio::time::sleep(Duration::from_millis(400)).await;
    drawn(browser).await;
    if let Some(found) = browser.axe().await {
        assert!(found.is_empty(), "axe-core on {name} at 360 px: {found:?}");
    }
    // A phone shows the header first: the picture is of the view itself.
    browser.eval("document.getElementById('view')?.scrollIntoView(); return 1").await;
    browser.screenshot(&format!("dashboard-{name}-360")).await;
    browser.eval("window.scrollTo(0, 0); return 1").await;
    browser.size(1280, 900).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    drawn(browser).await;
}
