//! `touchpoint bench dashboard`: the dashboard's budgets, measured on a real server. A
//! store of about N demo events is made once (kept in `--data-dir`), a `touchpoint serve`
//! process is started on it, and each view's requests — the same ones the dashboard's
//! script sends, at once, as it does — are timed: a view's data is ready when its slowest
//! request has answered. Also what the first view downloads (the page, script and style,
//! gzipped as a browser takes them). Budgets: every view's data in ≤ 100 ms at 10 M events,
//! the first view ≤ 400 KB.

use crate::anyhow_lite::{msg, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use touchpoint_engine::{Config, Node};
use touchpoint_gen::{brand_catalog, GenConfig};

/// One request a view sends: a GET path, or a POST path and its body.
struct Call {
    path: String,
    body: Option<Value>,
}

fn get(path: impl Into<String>) -> Call {
    Call { path: path.into(), body: None }
}

fn post(path: impl Into<String>, body: Value) -> Call {
    Call { path: path.into(), body: Some(body) }
}

/// The requests of each view, for the 90 days that end on the data's last day (the
/// dashboard's default period; anchored to the data so a store made last month measures
/// the same thing).
fn views(last_day: chrono::NaiveDate) -> Vec<(&'static str, Vec<Call>)> {
    let from_day = last_day - chrono::Duration::days(89);
    let prev_to = from_day - chrono::Duration::days(1);
    let prev_from = prev_to - chrono::Duration::days(89);
    let from = from_day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0);
    let to = from + 90 * 86_400;
    let filter = json!({"from": from, "to": to});
    let volume = format!("/api/volume?from={from_day}&to={last_day}&lang=cs");
    let tps = || get("/api/touchpoints?lang=cs");
    vec![
        (
            "overview (with the previous period)",
            vec![
                get(&volume),
                tps(),
                get(format!("/api/volume?from={prev_from}&to={prev_to}&lang=cs")),
                post("/api/analytics/journey-map", json!({"filter": filter, "query": {}})),
                get("/api/project"),
                post("/api/analytics/churn", json!({"filter": filter, "query": {}})),
                // The store has no surveys: the satisfaction trend's request is not sent.
                get("/api/surveys"),
            ],
        ),
        (
            "journey map",
            vec![
                post("/api/analytics/journey-map", json!({"filter": filter, "query": {}})),
                tps(),
                get("/api/project"),
            ],
        ),
        (
            "funnel",
            vec![
                tps(),
                post(
                    "/api/analytics/funnel",
                    json!({"filter": filter, "max_groups": 6, "query": {"steps": ["product-page", "cart", "checkout", "order-completed"], "window_s": 604_800, "mode": "default"}}),
                ),
            ],
        ),
        (
            "funnel by first-touch channel",
            vec![
                tps(),
                post(
                    "/api/analytics/funnel",
                    json!({"filter": filter, "breakdown": {"by": "first_touch_channel"}, "max_groups": 6, "query": {"steps": ["product-page", "cart", "checkout", "order-completed"], "window_s": 604_800, "mode": "default"}}),
                ),
            ],
        ),
        (
            "paths",
            vec![
                tps(),
                post(
                    "/api/analytics/sankey",
                    json!({"filter": filter, "query": {"end": "order-completed", "steps": 4, "min_share": 0.03}}),
                ),
            ],
        ),
        (
            "retention",
            vec![
                tps(),
                post(
                    "/api/analytics/retention",
                    json!({"query": {"period": "week", "periods": 4, "from": from, "to": to}}),
                ),
            ],
        ),
        ("churn", vec![post("/api/analytics/churn", json!({"filter": filter, "query": {}})), tps()]),
        (
            "attribution",
            vec![
                tps(),
                post(
                    "/api/analytics/attribution",
                    json!({"filter": filter, "query": {"goal": "order-completed", "by": "touchpoint"}}),
                ),
            ],
        ),
        ("customers", vec![get("/api/customers?limit=50")]),
        ("customer search by a trait", vec![get("/api/customers/search?trait=email&value=nobody@example.com")]),
        // `city` is in the server's `searchable_traits`, `segment` is not.
        ("customer search, a searchable trait", vec![get("/api/customers/search?trait=city&value=Nowhere")]),
        ("customer search, any other trait", vec![get("/api/customers/search?trait=segment&value=nobody")]),
        // A value 45 % of the customers have: the first page of them.
        ("customer search, a common value", vec![get("/api/customers/search?trait=segment&value=hobby-gardener")]),
        ("catalog", vec![tps(), get("/api/project"), get("/api/rules")]),
        ("surveys", vec![get("/api/surveys"), tps()]),
        ("data health", vec![get(&volume), get("/api/failed-events?limit=100")]),
    ]
}

/// Make (once) the store, start a server on it, time every view `runs` times.
pub async fn run(events: usize, dir: &Path, runs: usize) -> Result<()> {
    let keys_file = dir.join("bench-keys.json");
    if !keys_file.exists() {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(msg(format!("{} is not empty and was not made by this benchmark", dir.display())));
        }
        eprintln!("Making a store of about {events} events in {} (once; kept for later runs)", dir.display());
        let node = Node::open(Config { data_dir: dir.to_path_buf(), durable: false, ..Config::default() }).await?;
        let state = node.engine().clone();
        let (project, write, secret) =
            crate::admin::create_project(&*state.store, "bench-dashboard", &brand_catalog()).await?;
        let s = crate::demo::load(&state.writer, project.id, GenConfig::for_events(events, 42), false).await?;
        eprintln!("Loaded {} events in {:.0} s", s.stored, s.seconds);
        drop(state);
        node.close().await?;
        std::fs::write(&keys_file, json!({"write_key": write, "secret_key": secret, "events": s.stored}).to_string())?;
    }
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(&keys_file)?)?;
    let secret = keys["secret_key"].as_str().unwrap_or_default().to_string();
    let (mut child, base) = crate::bench::serve_on_with(dir, &[("TOUCHPOINT_SEARCHABLE_TRAITS", "city")])?;
    let result = measure(&base, &secret, &keys, runs).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn measure(base: &str, secret: &str, keys: &Value, runs: usize) -> Result<()> {
    let client = reqwest::Client::new();
    // One request, answered and read whole: its status and, when it failed, its body.
    let send = |c: &Call| {
        let r = match &c.body {
            None => client.get(format!("{base}{}", c.path)),
            Some(b) => client.post(format!("{base}{}", c.path)).json(b),
        };
        let r = r.bearer_auth(secret);
        async move {
            let a = r.send().await?;
            let status = a.status();
            let body = a.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    };
    // The journey index is read in the background after start-up: wait for it.
    let waiting = Instant::now();
    let last = loop {
        let (status, body) =
            send(&post("/api/analytics/funnel", json!({"query": {"steps": ["cart", "checkout"]}}))).await?;
        if status.is_success() {
            let v: Value = serde_json::from_slice(&body)?;
            if v["snapshot"]["events"].as_u64().unwrap_or(0) > 0 {
                break v["clock"]["events_to"].as_str().unwrap_or_default().to_string();
            }
        }
        if waiting.elapsed() > Duration::from_secs(600) {
            return Err(msg("the server's journey index was not ready in 10 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let last_day = chrono::DateTime::parse_from_rfc3339(&last).map_err(|e| msg(format!("events_to {last:?}: {e}")))?;
    println!(
        "Dashboard budgets on {} events, 2 cores; each view's requests sent at once, {runs} runs (median, slowest)",
        keys["events"]
    );
    println!("{:<38} {:>9} {:>9} {:>9}  budget", "view", "requests", "median", "slowest");
    let mut over = 0;
    for (name, calls) in views(last_day.date_naive()) {
        let mut times = vec![];
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let mut all = tokio::task::JoinSet::new();
            for (i, c) in calls.iter().enumerate() {
                let answer = send(c);
                all.spawn(async move { (i, answer.await) });
            }
            while let Some(done) = all.join_next().await {
                let (i, answer) = done.map_err(|e| msg(format!("a request task: {e}")))?;
                let (status, body) = answer?;
                if !status.is_success() {
                    let body = String::from_utf8_lossy(&body);
                    return Err(msg(format!("{name}: {} answered {status}: {body}", calls[i].path)));
                }
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let ok = median <= 100.0;
        over += usize::from(!ok);
        println!(
            "{name:<38} {:>9} {:>6.1} ms {:>6.1} ms  {}",
            calls.len(),
            median,
            times[times.len() - 1],
            if ok { "≤ 100 ms" } else { "OVER 100 ms" }
        );
    }
    // What the first view downloads: the sign-in page, then the dashboard's script and
    // style, gzipped as a browser takes them (the dashboard's own page is about the size
    // of the sign-in page).
    let mut bytes = 0;
    for path in ["/login", "/assets/app.js", "/assets/app.css"] {
        let r = client.get(format!("{base}{path}")).header("accept-encoding", "gzip").send().await?;
        bytes += r.bytes().await?.len();
    }
    println!(
        "first view: {:.1} KB gzipped (page, script, style; budget 400 KB){}",
        bytes as f64 / 1024.0,
        if bytes <= 400 * 1024 { "" } else { " OVER" }
    );
    if over > 0 {
        println!("{over} views over their budget");
    }
    Ok(())
}
