//! `touchpoint bench analytics`: our journey kernels against the ClickHouse engine (chdb),
//! DuckDB and ChannelAttribution, side by side in one run on the same generated journeys,
//! checking that the answers agree and printing each time and the ratio.
//!
//! The journeys come from the seeded generator, classified by the demo catalog (the
//! generator's customer index is the customer: its ids are stitched by construction).
//! The peers get the same journeys as CSV through `bench/peers.py`.

use crate::anyhow_lite::{msg, Result};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use touchpoint_analytics::index::EPOCH_S;
use touchpoint_analytics::{attribution, funnel, journey_map, paths, retention, Dictionary, JourneySet, Tp};
use touchpoint_gen::{brand_catalog, BrandClassifier, GenConfig, Generator};

/// Build the demo brand's journeys straight from the generator, in parallel.
pub fn journeys(events: usize, seed: u64) -> (JourneySet, Dictionary) {
    let cfg = GenConfig::for_events(events, seed);
    let generator = Generator::new(cfg);
    let classifier = BrandClassifier::new(&cfg);
    let points: Vec<(i64, i64, Tp)> = (0..cfg.customers)
        .into_par_iter()
        .flat_map_iter(|i| classifier.touchpoints(&generator, i).into_iter().map(move |(t, tp)| (i as i64, t, tp)))
        .collect();
    (JourneySet::from_events(EPOCH_S, points), Dictionary::from_catalog(&brand_catalog()))
}

fn write_csv(set: &JourneySet, dict: &Dictionary, path: &Path) -> Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(w, "customer_id,ts,seq,touchpoint,channel")?;
    let mut seq = 0u64;
    for j in set.iter() {
        for (t, tp) in j.times.iter().zip(j.touchpoints) {
            let d = dict.get(*tp);
            writeln!(w, "{},{},{},{},{}", j.customer, set.epoch_s + *t as i64, seq, d.key, d.channel.as_str())?;
            seq += 1;
        }
    }
    w.flush()?;
    Ok(())
}

/// Median seconds of `runs` runs after one warm-up, and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut r = f();
    let mut times = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        r = f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], r)
}

struct Row {
    query: &'static str,
    ours: f64,
    peers: Vec<(String, Option<f64>, &'static str)>,
}

pub async fn run(events: usize, runs: usize, peers_script: &Path, json_out: bool) -> Result<()> {
    eprintln!("Generating and classifying about {events} events…");
    let t = Instant::now();
    let (set, dict) = journeys(events, 7);
    eprintln!(
        "  {} customers, {} touchpoint events in {:.1} s",
        set.customer_count(),
        set.event_count(),
        t.elapsed().as_secs_f64()
    );
    let bytes_per_event = set.resident_bytes() as f64 / set.event_count().max(1) as f64;
    let now_s = set.times.iter().max().map(|&t| set.epoch_s + t as i64 + 1).unwrap_or(0);

    let steps = vec!["product-page", "cart", "checkout", "order-completed"];
    let fq = funnel::FunnelQuery { window_s: 7 * 86_400, ..funnel::FunnelQuery::new(steps.clone()) };
    let tq = paths::TransitionsQuery { top: 20, ..Default::default() };
    let rq = retention::RetentionQuery { period: retention::Period::Week, periods: 8, ..Default::default() };
    let jq: journey_map::JourneyMapQuery =
        serde_json::from_value(json!({"goal": "order-completed", "now_s": now_s, "churn_horizon_s": 7_776_000}))
            .map_err(|e| msg(e.to_string()))?;
    let aq: attribution::AttributionQuery =
        serde_json::from_value(json!({"goal": "order-completed", "by": "channel", "models": ["markov"]}))
            .map_err(|e| msg(e.to_string()))?;

    eprintln!("Running our kernels ({runs} runs each, median)…");
    let (f_s, f_r) = time(runs, || funnel::run(&set, &dict, &fq));
    let (t_s, t_r) = time(runs, || paths::transitions(&set, &dict, &tq));
    let (r_s, r_r) = time(runs, || retention::run(&set, &dict, &rq));
    let (j_s, j_r) = time(runs, || journey_map::journey_map(&set, &dict, &jq));
    let (a_s, a_r) = time(runs, || attribution::run(&set, &dict, &aq));
    let f_r = f_r.map_err(|e| msg(e.to_string()))?;
    let t_r = t_r.map_err(|e| msg(e.to_string()))?;
    let r_r = r_r.map_err(|e| msg(e.to_string()))?;
    let j_r = serde_json::to_value(j_r.map_err(|e| msg(e.to_string()))?)?;
    // Reach and exits per touchpoint (the journey map's other columns are ours alone).
    let our_map: HashMap<String, (u64, u64)> = j_r["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|st| st["touchpoints"].as_array().cloned().unwrap_or_default())
        .map(|t| {
            (
                t["key"].as_str().unwrap_or("").to_string(),
                (t["reach"].as_u64().unwrap_or(0), t["exits"].as_u64().unwrap_or(0)),
            )
        })
        .collect();
    let a_r = serde_json::to_value(a_r.map_err(|e| msg(e.to_string()))?)?;

    // The same queries as plans, the way the API and `touchpoint report` run them (the
    // query parsed and checked, the filter, the report as JSON), without HTTP.
    eprintln!("Running them as plans ({runs} runs each, median)…");
    let traits = touchpoint_analytics::select::Traits::new();
    use touchpoint_analytics::select::{Breakdown, Filter};
    let as_plan_by = |kind: &str, query: Value, filter: Filter, breakdown: Option<Breakdown>| {
        let plan = touchpoint_analytics::plan::Plan { query, filter, breakdown, max_groups: 10 };
        time(runs, || touchpoint_analytics::plan::execute(kind, &set, &dict, &plan, now_s, &traits)).0
    };
    let as_plan_with = |kind: &str, query: Value, filter: Filter| as_plan_by(kind, query, filter, None);
    let as_plan = |kind: &str, query: Value| as_plan_with(kind, query, Default::default());
    // Filters the API takes often, compared with the kernel on the whole set: the last 90
    // days of events (each journey cut in place), two channels (each journey's kept events
    // copied on its core), and a breakdown by first-touch channel (one run per group).
    let last_90_days = Filter { from: Some(now_s - 90 * 86_400), ..Default::default() };
    let two_channels = Filter { channels: vec!["web".into(), "email".into()], ..Default::default() };
    let funnel = || json!({"steps": steps, "window_s": 7 * 86_400});
    let planned = [
        ("funnel4", f_s, as_plan("funnel", funnel())),
        ("top_transitions", t_s, as_plan("transitions", json!({"top": 20}))),
        ("weekly_retention", r_s, as_plan("retention", json!({"period": "week", "periods": 8}))),
        ("journey_map", j_s, as_plan("journey-map", serde_json::to_value(&jq)?)),
        ("markov_channels", a_s, as_plan("attribution", serde_json::to_value(&aq)?)),
        ("funnel4, last 90 days", f_s, as_plan_with("funnel", funnel(), last_90_days.clone())),
        ("weekly_retention, last 90 days", r_s, as_plan_with("retention", json!({"period": "week"}), last_90_days)),
        ("funnel4, web and e-mail", f_s, as_plan_with("funnel", funnel(), two_channels)),
        (
            "funnel4 by first-touch channel",
            f_s,
            as_plan_by("funnel", funnel(), Filter::default(), Some(Breakdown::FirstTouchChannel)),
        ),
    ];

    let mut rows = vec![
        Row { query: "funnel4", ours: f_s, peers: vec![] },
        Row { query: "top_transitions", ours: t_s, peers: vec![] },
        Row { query: "weekly_retention", ours: r_s, peers: vec![] },
        Row { query: "journey_map", ours: j_s, peers: vec![] },
        Row { query: "markov_channels", ours: a_s, peers: vec![] },
    ];

    let peer_lines = if peers_script.exists() {
        let dir = tempfile::tempdir()?;
        let csv = dir.path().join("journeys.csv");
        eprintln!("Writing the journeys for the peers ({})…", csv.display());
        write_csv(&set, &dict, &csv)?;
        let queries = json!([
            {"name": "funnel4", "kind": "funnel", "steps": steps, "window_s": 7 * 86_400},
            {"name": "top_transitions", "kind": "transitions", "top": 20},
            {"name": "weekly_retention", "kind": "retention", "periods": 8},
            {"name": "journey_map", "kind": "journey_map", "goal": "order-completed", "now_s": now_s, "churn_horizon_s": 7_776_000,
             "churn_touchpoints": dict.churn_signals().iter().map(|&t| dict.key(t).to_string()).collect::<Vec<_>>()},
            {"name": "markov_channels", "kind": "markov", "goal": "order-completed", "by": "channel"},
        ]);
        let qpath = dir.path().join("queries.json");
        std::fs::write(&qpath, serde_json::to_vec(&queries)?)?;
        eprintln!("Running the peers (bench/peers.py)…");
        let out = std::process::Command::new("python3")
            .arg(peers_script)
            .arg("--data")
            .arg(&csv)
            .arg("--queries")
            .arg(&qpath)
            .args(["--threads", "2", "--runs", &runs.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    } else {
        eprintln!("{} not found: peers skipped", peers_script.display());
        vec![]
    };

    // Check the answers and collect the peers' times.
    let our_funnel: Vec<u64> = f_r.steps.iter().map(|s| s.customers).collect();
    let our_trans: Vec<(String, String, u64)> =
        t_r.transitions.iter().map(|t| (t.from.clone(), t.to.clone(), t.count)).collect();
    let mut problems = vec![];
    for line in &peer_lines {
        let engine = line["engine"].as_str().unwrap_or("?").to_string();
        if let Some(e) = line["error"].as_str() {
            eprintln!("  {engine}{}: {e}", line["query"].as_str().map(|q| format!(" {q}")).unwrap_or_default());
            continue;
        }
        let q = line["query"].as_str().unwrap_or("");
        let res = &line["result"];
        let verdict: &'static str = match q {
            "funnel4" => {
                let theirs: Vec<u64> =
                    res["steps"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
                if theirs == our_funnel {
                    "same answer"
                } else {
                    problems.push(format!("{engine} funnel {theirs:?} vs ours {our_funnel:?}"));
                    "DIFFERENT"
                }
            }
            "top_transitions" => {
                let theirs: Vec<(String, String, u64)> = res["transitions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|t| {
                                (
                                    t[0].as_str().unwrap_or("").into(),
                                    t[1].as_str().unwrap_or("").into(),
                                    t[2].as_u64().unwrap_or(0),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if theirs == our_trans {
                    "same answer"
                } else {
                    problems.push(format!("{engine} transitions differ"));
                    "DIFFERENT"
                }
            }
            "weekly_retention" => {
                let ours: Vec<(u64, Vec<u64>)> = r_r
                    .cohorts
                    .iter()
                    .map(|c| (c.size, c.retained.iter().skip(1).map_while(|x| *x).collect()))
                    .collect();
                let theirs: Vec<(u64, Vec<u64>)> = res["cohorts"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|c| {
                                (
                                    c[1].as_u64().unwrap_or(0),
                                    c[2].as_array()
                                        .map(|v| v.iter().filter_map(Value::as_u64).collect())
                                        .unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let same = ours.len() == theirs.len()
                    && ours.iter().zip(&theirs).all(|(o, t)| o.0 == t.0 && t.1.starts_with(&o.1));
                if same {
                    "same answer"
                } else {
                    problems.push(format!("{engine} retention differs"));
                    "DIFFERENT"
                }
            }
            "journey_map" => {
                let theirs = res["touchpoints"].as_object().cloned().unwrap_or_default();
                let diff: Vec<String> = theirs
                    .iter()
                    .filter(|(k, v)| {
                        our_map.get(*k).copied() != Some((v[0].as_u64().unwrap_or(0), v[2].as_u64().unwrap_or(0)))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                if diff.is_empty() && theirs.len() == our_map.values().filter(|v| v.0 > 0).count() {
                    "same reach and exits"
                } else {
                    problems.push(format!("{engine} journey map reach/exits differ for {diff:?}"));
                    "DIFFERENT"
                }
            }
            "markov_channels" => {
                let ours = &a_r;
                let total: f64 = ours["conversions"].as_f64().unwrap_or(0.0);
                let credits = res["credits"].as_object().cloned().unwrap_or_default();
                let worst = credits
                    .iter()
                    .map(|(k, v)| {
                        let mine = ours["rows"]
                            .as_array()
                            .and_then(|rows| rows.iter().find(|r| r["key"] == *k))
                            .and_then(|r| r["credits"]["markov"]["credit"].as_f64())
                            .unwrap_or(0.0);
                        (mine - v.as_f64().unwrap_or(0.0)).abs() / total.max(1.0)
                    })
                    .fold(0.0, f64::max);
                if worst <= 0.02 {
                    "within 2 % (simulation)"
                } else {
                    problems.push(format!("{engine} Markov credits differ by {:.1} % of conversions", worst * 100.0));
                    "DIFFERENT"
                }
            }
            _ => "timed",
        };
        if let Some(r) = rows.iter_mut().find(|r| r.query == q) {
            r.peers.push((engine, line["seconds"].as_f64(), verdict));
        }
    }

    println!(
        "Journey analytics on {} events, {} customers, 2 cores ({:.1} bytes resident per event)",
        set.event_count(),
        set.customer_count(),
        bytes_per_event
    );
    let mut table = vec![];
    for r in &rows {
        if r.peers.is_empty() {
            table.push(vec![
                r.query.to_string(),
                format!("{:.1} ms", r.ours * 1e3),
                "–".into(),
                "–".into(),
                "–".into(),
                "no peer ran".into(),
            ]);
        }
        for (engine, secs, verdict) in &r.peers {
            table.push(vec![
                r.query.to_string(),
                format!("{:.1} ms", r.ours * 1e3),
                engine.clone(),
                secs.map(|s| format!("{:.1} ms", s * 1e3)).unwrap_or_else(|| "–".into()),
                secs.map(|s| format!("{:.1}×", s / r.ours.max(1e-9))).unwrap_or_else(|| "–".into()),
                verdict.to_string(),
            ]);
        }
    }
    crate::tables::table(&["query", "touchpoint", "peer", "peer time", "peer / ours", "answers"], &table);
    println!();
    println!("The same queries as plans, as the API runs them (parse, check, filter, report as JSON):");
    let plan_rows: Vec<Vec<String>> = planned
        .iter()
        .map(|(q, kernel, plan)| {
            vec![
                q.to_string(),
                format!("{:.1} ms", kernel * 1e3),
                format!("{:.1} ms", plan * 1e3),
                format!("{:.2}×", plan / kernel.max(1e-9)),
            ]
        })
        .collect();
    crate::tables::table(&["query", "kernel", "as a plan", "plan / kernel"], &plan_rows);
    if json_out {
        println!(
            "{}",
            json!({"bench": "analytics", "events": set.event_count(), "bytes_per_event": bytes_per_event,
            "ours_s": rows.iter().map(|r| (r.query, r.ours)).collect::<HashMap<_, _>>(), "peers": peer_lines})
        );
    }
    if !problems.is_empty() {
        return Err(msg(format!("answers differ: {}", problems.join("; "))));
    }
    Ok(())
}
