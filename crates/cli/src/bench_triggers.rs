//! `touchpoint bench triggers`: what acting at key moments costs ingest, and how soon a
//! firing leaves. One run, the same generated batches — played as a live stream, since
//! rules act on the present — sent to fresh real servers on loopback, without trigger
//! rules and with 50 live rules on the brand's key moments (half fire a signed webhook at
//! once — to a receiver in this process —, half start "not followed within an hour"
//! timers), in rounds whose order alternates (without-with, then with-without: whatever
//! the first or second send of a pair gains from the machine, both sides get it); it
//! prints the mean throughputs and their ratio. During each send with rules a probe event
//! every 50 ms, alone in its request, fires a rule of its own: the time from its
//! acknowledgement to its webhook's arrival is the firing latency (p50, p99), measured on
//! a quiet server at the end.

use crate::anyhow_lite::{msg, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use touchpoint_engine::Config;
use touchpoint_gen::brand_catalog;

use touchpoint_server::Server;

/// Rules in a send with rules.
const RULES: usize = 50;

/// Run the benchmark.
pub async fn run(events: usize, rounds: usize, batch: usize, connections: usize, json_out: bool) -> Result<()> {
    // A live stream: the events happen in the run's last minutes, as today's traffic does;
    // history starts no rule (`decide::stale`).
    let live_from = touchpoint_store::now_ms() - events as i64;
    let bodies = Arc::new(crate::bench::batches(events, batch, Some(live_from))?);
    let rounds = rounds.max(1);
    eprintln!(
        "Sending {events} events in batches of {batch} over {connections} connections, {rounds} rounds of \
         without and with {RULES} live rules (a probe every 50 ms), the order alternating…"
    );
    let (mut bases, mut withs) = (vec![], vec![]);
    for round in 0..rounds {
        for with_rules in if round % 2 == 0 { [false, true] } else { [true, false] } {
            let sent = send(&bodies, events, connections, with_rules, 0).await?;
            eprintln!(
                "  round {}: {} rules  {:>8.0} events/s",
                round + 1,
                if with_rules { RULES } else { 0 },
                sent.rate
            );
            if with_rules {
                withs.push(sent)
            } else {
                bases.push(sent)
            }
        }
    }
    eprintln!("…and 200 probes alone, with the 50 rules, on a quiet server.");
    let quiet = send(&Arc::new(vec![]), 0, connections, true, 200).await?;
    let mean = |s: &[Sent]| s.iter().map(|s| s.rate).sum::<f64>() / s.len() as f64;
    let (base_rate, with_rate) = (mean(&bases), mean(&withs));
    let ratio = with_rate / base_rate;
    let with = withs.swap_remove(0);
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let (lat, busy) = (sorted(quiet.firing_ms.clone()), sorted(with.firing_ms.clone()));
    let at = |v: &[f64], p: f64| v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN);
    let pct = |p: f64| at(&lat, p);
    println!("HTTP ingest with trigger rules, batches of {batch}, {connections} connections, durable acks, 127.0.0.1");
    println!("  without rules        {:>10.0} events/s   (mean of {rounds})", base_rate);
    println!("  with {RULES} rules        {:>10.0} events/s   ({:.2} of the throughput without)", with_rate, ratio);
    println!("  firings decided      {:>10}   (sent, held out, waiting: the first run of the rules)", with.decided);
    println!("  webhooks received    {:>10}   (by the end of that run and up to 10 s after)", with.webhooks);
    println!(
        "  firing latency p50   {:>10.1} ms   (acknowledged probe → its webhook received; quiet server, {} probes)",
        pct(0.5),
        lat.len()
    );
    println!("  firing latency p99   {:>10.1} ms", pct(0.99));
    println!(
        "  under the load       {:>10}   of {} probes' webhooks arrived within 10 s of the end (p50 {:.0} ms)",
        busy.len(),
        with.probes,
        at(&busy, 0.5)
    );
    if json_out {
        println!(
            "{}",
            json!({"bench": "triggers", "events": events, "rounds": rounds, "rules": RULES, "events_per_s_without": base_rate,
                "events_per_s_with": with_rate, "ratio": ratio, "firing_p50_ms": pct(0.5), "firing_p99_ms": pct(0.99),
                "probes": lat.len(), "webhooks": with.webhooks, "decided": with.decided,
                "busy_probes_sent": with.probes, "busy_probes_arrived": busy.len(), "busy_p50_ms": at(&busy, 0.5)})
        );
    }
    Ok(())
}

/// What one send measured.
struct Sent {
    rate: f64,
    firing_ms: Vec<f64>,
    webhooks: usize,
    decided: i64,
    probes: usize,
}

/// A webhook receiver in this process: answers 204 to everything, and notes when each
/// probe's webhook arrived (by the probe number in its body) and how many came.
async fn receiver() -> Result<(String, Arc<Mutex<HashMap<u64, Instant>>>, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrived: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let (a, c) = (arrived.clone(), count.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (a, c) = (a.clone(), c.clone());
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut chunk = [0u8; 8192];
                loop {
                    // One request at a time on a keep-alive connection.
                    let Some(head_end) = find(&buf, b"\r\n\r\n") else {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                        .unwrap_or(0);
                    while buf.len() < head_end + 4 + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let now = Instant::now();
                    let body: Value =
                        serde_json::from_slice(&buf[head_end + 4..head_end + 4 + len]).unwrap_or(Value::Null);
                    c.fetch_add(1, Ordering::Relaxed);
                    if let Some(p) = body["data"]["event"]["properties"]["probe"].as_u64() {
                        a.lock().expect("probe map").entry(p).or_insert(now);
                    }
                    buf.drain(..head_end + 4 + len);
                    if sock.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, arrived, count))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The key moments the 50 rules act on: the brand's purchase, service, retention and
/// advocacy touchpoints (a failed payment, a late delivery, a long wait on the line, a
/// complaint …), not its page views — rules act on moments, and what they cost ingest
/// is measured at the volume such moments have in the generated history.
const MOMENTS: &[&str] = &[
    "payment-failed",
    "order-shipped",
    "order-delivered",
    "delivery-late",
    "store-pickup",
    "chat",
    "support-call",
    "support-call-long-wait",
    "return-request",
    "complaint",
    "account-closed",
    "switched-to-competitor",
    "review-written",
    "product-shared",
    "sign-up",
    "survey-answered",
];

/// The 50 rules: on the key moments in turn, half at once to the webhook (every tenth
/// customer held out), half as hour-long "not followed" timers; plus the probe's.
fn rules(hook: &str) -> Vec<(String, Value)> {
    let endpoint = json!({"url": hook});
    let mut out = vec![];
    for i in 0..RULES - 1 {
        let tp = MOMENTS[i % MOMENTS.len()];
        let when = if i % 2 == 0 {
            json!({"kind": "happens", "touchpoint": tp})
        } else {
            json!({"kind": "not_followed", "touchpoint": tp, "followed_by": [MOMENTS[(i + 1) % MOMENTS.len()]], "within": "1h"})
        };
        out.push((
            format!("bench-{i}"),
            json!({"name": format!("bench {i}"), "when": when, "then": {"kind": "webhook", "endpoint": endpoint}}),
        ));
    }
    out.push((
        "probe".into(),
        json!({"name": "probe", "when": {"kind": "happens", "touchpoint": "track:Bench Probe"},
            "then": {"kind": "webhook", "endpoint": endpoint}, "holdout": 0}),
    ));
    out
}

async fn send(
    bodies: &Arc<Vec<(usize, Vec<u8>)>>,
    events: usize,
    connections: usize,
    with_rules: bool,
    min_probes: u64,
) -> Result<Sent> {
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        rate_limit: 0.0,
        // No cap across rules: every firing is sent.
        messages_per_customer_per_day: 0,
        ..Config::default()
    };
    let server = Server::open(config).await?;
    let store = server.state().store.clone();
    let engine = server.state().engine.clone();
    let (project, write, _) = crate::admin::create_project(&*store, "bench", &brand_catalog()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let (hook, arrived, count) = receiver().await?;
    if with_rules {
        // The probe's touchpoint is discovered from its first event.
        let warm =
            json!({"type": "track", "userId": "probe", "event": "Bench Probe", "properties": {"probe": u64::MAX}});
        client.post(format!("{base}/v1/track")).basic_auth(&write, Some("")).json(&warm).send().await?;
        for (key, def) in rules(&hook) {
            touchpoint_engine::triggers::create(&*store, project.id, &key, &def, true).await?;
        }
        engine.triggers_changed();
    }
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/v1/batch");
    let started = Instant::now();
    let tasks = crate::bench::send_all(bodies, &url, &write, connections, &next);
    // The probes: one event per request, every 50 ms while the load runs.
    let mut acked: HashMap<u64, Instant> = HashMap::new();
    if with_rules {
        let mut p = 0u64;
        while next.load(Ordering::Relaxed) < bodies.len() || p < min_probes {
            let ev = json!({"type": "track", "userId": format!("probe-{p}"), "event": "Bench Probe", "properties": {"probe": p}});
            let r = client.post(format!("{base}/v1/track")).basic_auth(&write, Some("")).json(&ev).send().await?;
            if r.status().is_success() {
                acked.insert(p, Instant::now());
            }
            p += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.map_err(|e| msg(e.to_string()))?.1;
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the last probes' webhooks arrive.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) && arrived.lock().expect("probe map").len() < acked.len() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut decided = 0;
    for r in touchpoint_store::TriggerStore::trigger_rules(&*store, Some(project.id)).await? {
        decided += touchpoint_store::TriggerStore::firing_counts(&*store, project.id, r.id)
            .await?
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>();
    }
    drop(engine);
    let _ = stop.send(());
    serving.await.map_err(|e| msg(e.to_string()))??;
    if errors > 0 {
        return Err(msg(format!("{errors} requests failed")));
    }
    let arrived = arrived.lock().expect("probe map").clone();
    let firing_ms = acked
        .iter()
        .filter_map(|(p, at)| arrived.get(p).map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    Ok(Sent {
        rate: events as f64 / secs,
        firing_ms,
        webhooks: count.load(Ordering::Relaxed),
        decided,
        probes: acked.len(),
    })
}
