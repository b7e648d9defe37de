//! `touchpoint bench …`: the speed goals, measured (never in timed unit tests).
//!
//! - `ingest`: a real server on loopback and a load generator of ours in the same run:
//!   N keep-alive connections sending batches of generated events, durable acks; prints
//!   throughput and latency percentiles.
//! - `import`: the demo NDJSON imported by us, then loaded by DuckDB into a database file,
//!   on the same file in the same run; prints both and the ratio.
//! - `restart`: a store of N events (made once, kept in `--data-dir`), then a real
//!   `touchpoint serve` process started on it: its start-up time, the latency of its
//!   first writes, and its resident memory (the journey index and the dedup window).
//! - `dashboard`: each dashboard view's data from a real server on N events, and the first
//!   view's bytes (`bench_dashboard.rs`).
//! - `triggers`: ingest with 50 live trigger rules against none in one run, and the
//!   firing latency (`bench_triggers.rs`).
//! - `sql`: the SQL executor on ClickHouse against a hand-written query for the same
//!   analysis on the same servers, and against the journey index (`bench_sql.rs`).

use crate::anyhow_lite::{msg, Result};
use clap::Subcommand;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use touchpoint_engine::{Config, Node};
use touchpoint_gen::{brand_catalog, GenConfig, Generator};
use touchpoint_server::Server;

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchCmd {
    /// HTTP ingest throughput and latency on loopback.
    Ingest {
        /// Events to send.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// fsync before each acknowledgement.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        durable: bool,
        /// Keep the metadata on this PostgreSQL database (an empty one) instead of the
        /// data directory, to measure ingest with the split store.
        #[arg(long, value_name = "URL")]
        meta_store: Option<String>,
        /// Keep the events on this ClickHouse database (`clickhouse://host:8123/db`, a new
        /// one; needs --meta-store), to measure ingest in the scale-out configuration:
        /// through one node, then the same events through two (the second relays to the
        /// first), side by side.
        #[arg(long, value_name = "URL")]
        event_store: Option<String>,
        /// Print the result as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// HTTP ingest with 50 live trigger rules against none, in one run; firing latency.
    Triggers {
        /// Events to send (in each send).
        #[arg(long, default_value_t = 300_000)]
        events: usize,
        /// Rounds of two sends, without and with the rules, the order alternating
        /// (without-with, with-without, …) so that neither gains from going first.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Events per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Print the result as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// Journey analytics against chdb, DuckDB and ChannelAttribution on the same journeys.
    Analytics {
        /// About how many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Timed runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The peers' script.
        #[arg(long, default_value = "bench/peers.py")]
        peers: std::path::PathBuf,
        /// Print the result as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// The SQL executor on ClickHouse against a hand-written ClickHouse query and the
    /// journey index, on the same generated journeys.
    Sql {
        /// About how many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// The ClickHouse database to store them in (`clickhouse://host:8123/db`, an empty
        /// one, or one an earlier run of the same size filled; a comma-separated list for
        /// shards).
        #[arg(long, value_name = "URL")]
        event_store: String,
        /// Timed runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Print the result as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// A server restarted on a large store: start-up, first write, resident memory.
    Restart {
        /// Events in the store (made once through the writer if the directory is empty).
        #[arg(long, default_value_t = 10_000_000)]
        events: usize,
        /// Where the store is kept between runs.
        #[arg(long, default_value = "touchpoint-bench-restart")]
        data_dir: std::path::PathBuf,
        /// Restarts to time.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The dashboard's budgets on a real server: each view's data, the first view's bytes.
    Dashboard {
        /// Events in the store (made once if the directory is empty).
        #[arg(long, default_value_t = 10_000_000)]
        events: usize,
        /// Where the store is kept between runs.
        #[arg(long, default_value = "touchpoint-bench-dashboard")]
        data_dir: std::path::PathBuf,
        /// Timed runs of each view (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The knowledge base's search: N synthetic articles, customers' queries, p50/p99.
    Kb {
        /// Articles in the knowledge base.
        #[arg(long, default_value_t = 10_000)]
        articles: usize,
        /// Timed searches.
        #[arg(long, default_value_t = 5_000)]
        queries: usize,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// `touchpoint import` of the demo NDJSON against DuckDB on the same file.
    Import {
        /// Events in the file.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Print the result as JSON too.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Ingest { events, batch, connections, durable, meta_store, event_store, json } => {
            ingest(events, batch, connections, durable, (meta_store, event_store), json).await
        }
        BenchCmd::Import { events, json } => import(events, json).await,
        BenchCmd::Kb { articles, queries, json } => crate::bench_kb::run(articles, queries, json).await,
        BenchCmd::Triggers { events, rounds, batch, connections, json } => {
            crate::bench_triggers::run(events, rounds, batch, connections, json).await
        }
        BenchCmd::Restart { events, data_dir, runs } => restart(events, &data_dir, runs).await,
        BenchCmd::Dashboard { events, data_dir, runs } => crate::bench_dashboard::run(events, &data_dir, runs).await,
        BenchCmd::Sql { events, event_store, runs, json } => {
            crate::bench_sql::run(events, &event_store, runs, json).await
        }
        BenchCmd::Analytics { events, runs, peers, json } => {
            crate::bench_analytics::run(events, runs, &peers, json).await
        }
    }
}

/// The `p` quantile of sorted microseconds, in ms.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// The generated brand's first `events` events as `/v1/batch` bodies of `batch` events
/// each, with how many events each holds (shared by `ingest` and `triggers`). With
/// `live_from`, the events are played as a live stream: the k-th happens at
/// `live_from + k` ms (each customer's order kept), so trigger rules act on them as on
/// today's traffic rather than on history.
pub fn batches(events: usize, batch: usize, live_from: Option<i64>) -> Result<Vec<(usize, Vec<u8>)>> {
    let generator = Generator::new(GenConfig::for_events(events, 7));
    let mut bodies: Vec<(usize, Vec<u8>)> = vec![];
    let mut current = vec![];
    let mut total = 0;
    'outer: for i in 0.. {
        for mut v in generator.customer(i) {
            if let Some(from) = live_from {
                v["timestamp"] = serde_json::Value::String(touchpoint_core::event::format_time(from + total as i64));
            }
            current.push(v);
            total += 1;
            if current.len() == batch {
                bodies.push((
                    current.len(),
                    serde_json::to_vec(&serde_json::json!({"batch": std::mem::take(&mut current)}))?,
                ));
            }
            if total == events {
                break 'outer;
            }
        }
    }
    if !current.is_empty() {
        bodies.push((current.len(), serde_json::to_vec(&serde_json::json!({"batch": current}))?));
    }
    Ok(bodies)
}

/// Post `bodies` to `url` with the write key over `connections` keep-alive connections,
/// each taking the next body (counted in `next`) until none is left. Each task answers
/// with its requests' latencies (µs) and how many failed.
pub fn send_all(
    bodies: &Arc<Vec<(usize, Vec<u8>)>>,
    url: &str,
    write: &str,
    connections: usize,
    next: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<(Vec<u64>, usize)>> {
    (0..connections)
        .map(|_| {
            let (bodies, next, url, write) = (bodies.clone(), next.clone(), url.to_string(), write.to_string());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
                let mut lat = vec![];
                let mut errors = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, body)) = bodies.get(i) else { break };
                    let t = Instant::now();
                    match client.post(&url).basic_auth(&write, Some("")).body(body.clone()).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    lat.push(t.elapsed().as_micros() as u64);
                }
                (lat, errors)
            })
        })
        .collect()
}

/// One ingest run's measurements.
struct Run {
    secs: f64,
    lat: Vec<u64>,
    errors: usize,
    stored: i64,
}

/// Send every body to the `urls` in turn (the connections split between them) and wait
/// until the project holds them all (a relaying node may acknowledge some as queued).
async fn run_ingest(
    bodies: &Arc<Vec<(usize, Vec<u8>)>>,
    urls: &[String],
    write: &str,
    connections: usize,
    store: &Arc<dyn touchpoint_store::Store>,
    project: i64,
) -> Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let per = connections.div_ceil(urls.len()).max(1);
    let tasks: Vec<_> = urls.iter().flat_map(|url| send_all(bodies, url, write, per, &next)).collect();
    let mut lat = vec![];
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.map_err(|e| msg(e.to_string()))?;
        lat.extend(l);
        errors += e;
    }
    let sent: usize = bodies.iter().map(|(n, _)| n).sum();
    let mut stored = touchpoint_store::EventStore::count_events(&**store, project).await?;
    let waiting = Instant::now();
    while (stored as usize) < sent && errors == 0 && waiting.elapsed() < std::time::Duration::from_secs(60) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stored = touchpoint_store::EventStore::count_events(&**store, project).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok(Run { secs, lat, errors, stored })
}

/// Serve `server` on a free port of loopback: its `/v1/batch` URL, the stop signal and the task.
async fn serve_bench(
    server: Server,
) -> Result<(
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::result::Result<(), touchpoint_server::ServerError>>,
)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/batch", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok((url, stop, serving))
}

async fn ingest(
    events: usize,
    batch: usize,
    connections: usize,
    durable: bool,
    (meta_store, event_store): (Option<String>, Option<String>),
    json: bool,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let two_nodes = event_store.is_some();
    let config = Config {
        data_dir: dir.path().join("one"),
        durable,
        rate_limit: 0.0,
        meta_store,
        event_store,
        ..Config::default()
    };
    let stores = touchpoint_engine::backends::describe(&config);
    let server = Server::open(config.clone()).await?;
    let store = server.state().store.clone();
    let (project, write, _) = crate::admin::create_project(&*store, "bench", &brand_catalog()).await?;

    eprintln!("Preparing {events} events in batches of {batch}…");
    let bodies = Arc::new(batches(events, batch, None)?);
    let sent: usize = bodies.iter().map(|(n, _)| n).sum();
    let (url, stop, serving) = serve_bench(server).await?;
    eprintln!("Sending over {connections} connections (durable acks: {durable})…");
    let mut runs = vec![(
        "one node",
        run_ingest(&bodies, std::slice::from_ref(&url), &write, connections, &store, project.id).await?,
    )];
    let mut second = None;
    if two_nodes {
        // The same events into a second project, half the connections through a second
        // node, which relays to the first.
        let (project2, write2, _) = crate::admin::create_project(&*store, "bench-two-nodes", &brand_catalog()).await?;
        let relaying = Server::open(Config { data_dir: dir.path().join("two"), ..config.clone() }).await?;
        if !relaying.state().engine.writer.is_relayed() {
            return Err(msg("the second node did not join as a relaying node"));
        }
        let (url2, stop2, serving2) = serve_bench(relaying).await?;
        eprintln!("Sending again through two nodes…");
        let urls = [url.clone(), url2];
        runs.push(("two nodes", run_ingest(&bodies, &urls, &write2, connections, &store, project2.id).await?));
        second = Some((stop2, serving2));
    }
    if let Some((stop2, serving2)) = second {
        let _ = stop2.send(());
        serving2.await.map_err(|e| msg(e.to_string()))??;
    }
    let _ = stop.send(());
    serving.await.map_err(|e| msg(e.to_string()))??;
    println!("HTTP ingest, batches of {batch}, {connections} connections, durable={durable}, 127.0.0.1");
    println!("  stores           {stores}");
    println!("  events sent      {sent:>12}");
    for (name, r) in &runs {
        let rate = sent as f64 / r.secs;
        println!("  {name}:");
        println!("    events stored    {:>12}", r.stored);
        println!("    failed requests  {:>12}", r.errors);
        println!("    wall time        {:>12.2} s", r.secs);
        println!("    throughput       {rate:>12.0} events/s   ({:.0} requests/s)", bodies.len() as f64 / r.secs);
        println!("    latency p50      {:>12.2} ms", percentile(&r.lat, 0.50));
        println!("    latency p90      {:>12.2} ms", percentile(&r.lat, 0.90));
        println!("    latency p99      {:>12.2} ms", percentile(&r.lat, 0.99));
        println!("    latency max      {:>12.2} ms", percentile(&r.lat, 1.0));
    }
    let rate = sent as f64 / runs[0].1.secs;
    if let [(_, one), (_, two)] = &runs[..] {
        println!("  two nodes / one node throughput: {:.2}", one.secs / two.secs);
    }
    println!("  vs the published RudderStack gateway figure (1,700 events/s on 2 cores): {:.0}×", rate / 1700.0);
    if json {
        for (name, r) in &runs {
            println!(
                "{}",
                serde_json::json!({"bench":"ingest","nodes":name,"events":sent,"stored":r.stored,"errors":r.errors,"seconds":r.secs,
                    "events_per_s":sent as f64 / r.secs,"p50_ms":percentile(&r.lat,0.5),"p99_ms":percentile(&r.lat,0.99),
                    "durable":durable,"batch":batch,"connections":connections})
            );
        }
    }
    for (name, r) in &runs {
        if r.stored as usize != sent || r.errors > 0 {
            return Err(msg(format!(
                "{name}: {sent} events sent but {} stored and {} requests failed",
                r.stored, r.errors
            )));
        }
    }
    Ok(())
}

/// Time DuckDB loading an NDJSON file into a database file; `None` when DuckDB is not installed.
fn duckdb_load(file: &Path, db: &Path) -> Result<Option<(f64, u64)>> {
    let script = r#"
import sys, time
try:
    import duckdb
except ImportError:
    print("missing"); sys.exit(0)
con = duckdb.connect(sys.argv[2])
con.execute("SET threads TO 2")
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute("CREATE TABLE events AS SELECT * FROM read_json_auto(?, format='newline_delimited')", [sys.argv[1]])
con.execute("CHECKPOINT")
dt = time.perf_counter() - t
n = con.execute("SELECT count(*) FROM events").fetchone()[0]
print(f"{dt} {n}")
"#;
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(file).arg(db).output();
    let out = match out {
        Ok(o) => o,
        Err(_) => return Ok(None),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim() == "missing" || !out.status.success() {
        if !out.status.success() {
            eprintln!("DuckDB failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        return Ok(None);
    }
    let mut parts = text.lines().last().unwrap_or_default().split_whitespace();
    let secs: f64 =
        parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| msg(format!("unexpected DuckDB output {text:?}")))?;
    let rows: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(Some((secs, rows)))
}

async fn import(events: usize, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("demo.ndjson");
    eprintln!("Generating {events} events into {}…", file.display());
    let generator = Generator::new(GenConfig::for_events(events, 7));
    let n =
        generator.write_ndjson(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?), |_| {})?;
    let bytes = std::fs::metadata(&file)?.len();

    eprintln!("touchpoint import…");
    let config = Config { data_dir: dir.path().join("tp"), ..Config::default() };
    let node = Node::open_bulk(config).await?;
    let (project, _, _) = crate::admin::create_project(&*node.engine().store, "bench", &brand_catalog()).await?;
    let started = std::time::Instant::now();
    let s = crate::import::import_with(&node.engine().writer, project.id, &file, false).await?;
    // Closing builds the journey index and writes its file: part of the import's work.
    node.close().await?;
    let ours = started.elapsed().as_secs_f64();

    eprintln!("DuckDB read_json_auto into a database file…");
    let duck = duckdb_load(&file, &dir.path().join("duck.db"))?;
    println!("NDJSON load of {n} events ({:.0} MB), 2 threads", bytes as f64 / 1e6);
    println!(
        "  touchpoint import  {ours:>8.2} s  {:>10.0} events/s  (stored {}, duplicates {}, failed {})",
        n as f64 / ours,
        s.stored,
        s.duplicates,
        s.failed
    );
    match duck {
        Some((secs, rows)) => {
            println!("  DuckDB             {secs:>8.2} s  {:>10.0} events/s  (rows {rows})", n as f64 / secs);
            println!(
                "  ratio DuckDB time / touchpoint time: {:.2} ({})",
                secs / ours,
                if secs >= ours { "touchpoint is as fast or faster" } else { "DuckDB is faster" }
            );
        }
        None => println!("  DuckDB             skipped: not installed (pip install duckdb)"),
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"bench":"import","events":n,"touchpoint_s":ours,"duckdb_s":duck.map(|d| d.0),"ratio":duck.map(|d| d.0 / ours)})
        );
    }
    if s.stored != n {
        return Err(msg(format!("{n} events in the file but {} stored", s.stored)));
    }
    Ok(())
}

/// A `touchpoint serve` process on the data directory `dir`, at a free port of loopback,
/// and the address it said it listens at (once it is listening).
pub fn serve_on(dir: &Path) -> Result<(std::process::Child, String)> {
    serve_on_with(dir, &[])
}

/// [`serve_on`] with these environment variables set (`TOUCHPOINT_…` settings).
pub fn serve_on_with(dir: &Path, env: &[(&str, &str)]) -> Result<(std::process::Child, String)> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("TOUCHPOINT_CONFIG")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or_else(|| msg("no output from the server"))?;
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    match line.trim().strip_prefix("listening on ") {
        Some(base) => Ok((child, base.to_string())),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(msg(format!("the server said {line:?}")))
        }
    }
}

/// Make (once) a store of about `events` demo events in `dir`, then start `touchpoint
/// serve` on it `runs` times: time to listening, the first writes' latencies, and the
/// process's resident memory after them.
async fn restart(events: usize, dir: &Path, runs: usize) -> Result<()> {
    let keys_file = dir.join("bench-keys.json");
    if !keys_file.exists() {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(msg(format!("{} is not empty and was not made by this benchmark", dir.display())));
        }
        eprintln!("Making a store of about {events} events in {} (once; kept for later runs)", dir.display());
        let config = Config { data_dir: dir.to_path_buf(), durable: false, ..Config::default() };
        let node = Node::open(config).await?;
        let state = node.engine().clone();
        let (project, write, _) =
            crate::admin::create_project(&*state.store, "bench-restart", &brand_catalog()).await?;
        let cfg = GenConfig::for_events(events, 42);
        let s = crate::demo::load(&state.writer, project.id, cfg, false).await?;
        eprintln!("Loaded {} events in {:.0} s", s.stored, s.seconds);
        drop(state);
        node.close().await?;
        std::fs::write(&keys_file, serde_json::json!({"write_key": write, "events": s.stored}).to_string())?;
    }
    let keys: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&keys_file)?)?;
    let write = keys["write_key"].as_str().unwrap_or_default().to_string();
    println!("store: {} events in {}", keys["events"], dir.display());
    println!(
        "{:>4} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "run", "start s", "1st write ms", "2nd write ms", "RSS MB", "peak MB"
    );
    let client = reqwest::Client::new();
    for run in 1..=runs {
        let started = Instant::now();
        let (mut child, base) = serve_on(dir)?;
        let start_s = started.elapsed().as_secs_f64();
        let mut writes = vec![];
        for k in 0..2 {
            let body = serde_json::json!({"userId": format!("bench-{run}-{k}"), "event": "Bench Restart",
                "messageId": format!("bench-restart-{}-{run}-{k}", std::process::id())});
            let t = Instant::now();
            let r = client.post(format!("{base}/v1/track")).basic_auth(&write, Some("")).json(&body).send().await?;
            if !r.status().is_success() {
                return Err(msg(format!("write answered {}", r.status())));
            }
            writes.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let kb = |name: &str| -> f64 {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "{run:>4} {start_s:>12.2} {:>12.1} {:>12.1} {:>12.0} {:>12.0}",
            writes[0],
            writes[1],
            kb("VmRSS:") / 1024.0,
            kb("VmHWM:") / 1024.0
        );
    }
    Ok(())
}
