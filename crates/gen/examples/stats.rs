//! Prints what the generated data looks like — events per customer, conversion, churn and
//! the planted pain points — so that the simulation's constants can be tuned by looking.
//!
//! `cargo run --release -p touchpoint-gen --example stats -- [customers] [seed]`

use std::collections::{BTreeMap, HashSet};
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::{Classifier, Event};
use touchpoint_gen::{brand_catalog, GenConfig, Generator};

fn main() {
    // Exit quietly when piped into `head`.
    std::panic::set_hook(Box::new(|_| std::process::exit(0)));
    let mut args = std::env::args().skip(1);
    let customers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let cfg = GenConfig { customers, ..GenConfig::for_events(50, seed) };
    let gen = Generator::new(cfg);
    let cat = brand_catalog();
    let classifier = Classifier::new(cat.rules.clone());
    let cx = ParseContext { received_at: cfg.end_ms + 86_400_000, ..Default::default() };
    let mut sizes = Vec::new();
    let mut by_key: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ordered, mut churned, mut known) = (0, 0, 0);
    // [with, without] × [customers, churned]
    let mut late = [[0u32; 2]; 2];
    let mut wait = [[0u32; 2]; 2];
    let mut pay = [[0u32; 2]; 2]; // attempts: [failed, not] × [attempts, no order]
    let mut repeat_after = [[0u32; 2]; 2]; // [late, not] × [customers, ordered again]
    let mut bytes = 0usize;
    for i in 0..customers {
        let evs = gen.customer(i);
        sizes.push(evs.len());
        let mut keys = Vec::new();
        for v in &evs {
            bytes += serde_json::to_string(v).unwrap().len() + 1;
            let e = Event::parse(v.clone(), &cx, &Limits::default()).unwrap();
            if let Some(c) = classifier.classify(&e) {
                *by_key.entry(c.key.clone()).or_default() += 1;
                keys.push(c.key);
            } else if e.user_id.is_some() {
                keys.push("(identify)".into());
            }
        }
        let has = |k: &str| keys.iter().any(|x| x == k);
        let churn = has("switched-to-competitor") || has("account-closed");
        ordered += has("order-completed") as u32;
        churned += churn as u32;
        known += has("(identify)") as u32;
        if has("order-shipped") {
            let l = has("delivery-late") as usize;
            late[1 - l][0] += 1;
            late[1 - l][1] += churn as u32;
            // Orders after the first delivery event (late or on time).
            let mark = if l == 1 { "delivery-late" } else { "order-delivered" };
            if let Some(first) = keys.iter().position(|k| k == mark) {
                let again = keys[first..].iter().any(|k| k == "order-completed");
                repeat_after[1 - l][0] += 1;
                repeat_after[1 - l][1] += again as u32;
            }
        }
        if has("support-call") || has("support-call-long-wait") {
            let l = has("support-call-long-wait") as usize;
            wait[1 - l][0] += 1;
            wait[1 - l][1] += churn as u32;
        }
        // Checkout attempts: from one "checkout" track to the next.
        let mut attempt: Option<(bool, bool)> = None;
        let tracks: Vec<&str> = evs.iter().filter_map(|v| v["event"].as_str()).collect();
        let mut close = |a: Option<(bool, bool)>| {
            if let Some((failed, done)) = a {
                let f = if failed { 0 } else { 1 };
                pay[f][0] += 1;
                pay[f][1] += (!done) as u32;
            }
        };
        for t in tracks {
            match t {
                "Checkout Started" => {
                    close(attempt.take());
                    attempt = Some((false, false));
                }
                "Payment Failed" => {
                    if let Some(a) = attempt.as_mut() {
                        a.0 = true
                    }
                }
                "Order Completed" => {
                    if let Some(a) = attempt.as_mut() {
                        a.1 = true
                    }
                }
                _ => {}
            }
        }
        close(attempt);
    }
    let n = sizes.len() as f64;
    let mean = sizes.iter().sum::<usize>() as f64 / n;
    let sd = (sizes.iter().map(|&s| (s as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    for block in [400usize, 4000] {
        let means: Vec<f64> =
            sizes.chunks_exact(block).map(|c| c.iter().sum::<usize>() as f64 / block as f64).collect();
        let off = means.iter().filter(|m| (*m / mean - 1.0).abs() > 0.15).count();
        let lo = means.iter().cloned().fold(f64::MAX, f64::min);
        let hi = means.iter().cloned().fold(0.0, f64::max);
        println!(
            "blocks of {block}: {} blocks, {off} off by >15 %, range {lo:.1}..{hi:.1}; sd per customer {sd:.1}",
            means.len()
        );
    }
    let total: usize = sizes.iter().sum();
    sizes.sort();
    let q = |p: f64| sizes[((sizes.len() - 1) as f64 * p) as usize];
    println!(
        "customers {customers}, events {total}, mean {:.2}, bytes/event {:.0}",
        total as f64 / n,
        bytes as f64 / total as f64
    );
    println!(
        "per customer: p10 {} p25 {} p50 {} p75 {} p90 {} p99 {} max {}; 1-5 events {:.1} %",
        q(0.1),
        q(0.25),
        q(0.5),
        q(0.75),
        q(0.9),
        q(0.99),
        q(1.0),
        100.0 * sizes.iter().filter(|&&s| (1..=5).contains(&s)).count() as f64 / n
    );
    println!(
        "identified {:.1} %, ordered {:.1} %, explicit churn {:.1} %",
        100.0 * known as f64 / n,
        100.0 * ordered as f64 / n,
        100.0 * churned as f64 / n
    );
    let r = |a: [u32; 2]| 100.0 * a[1] as f64 / a[0].max(1) as f64;
    println!(
        "late delivery: churn {:.1} % of {} vs {:.1} % of {}  ratio {:.2}",
        r(late[0]),
        late[0][0],
        r(late[1]),
        late[1][0],
        r(late[0]) / r(late[1])
    );
    println!(
        "  ordered again after the first late / on-time delivery: late {:.1} % vs on time {:.1} %",
        r(repeat_after[0]),
        r(repeat_after[1])
    );
    println!(
        "payment failed: no order {:.1} % of {} attempts vs {:.1} % of {}  ratio {:.2}",
        r(pay[0]),
        pay[0][0],
        r(pay[1]),
        pay[1][0],
        r(pay[0]) / r(pay[1])
    );
    println!(
        "long wait: churn {:.1} % of {} vs {:.1} % of {}  ratio {:.2}",
        r(wait[0]),
        wait[0][0],
        r(wait[1]),
        wait[1][0],
        r(wait[0]) / r(wait[1])
    );
    let known_keys: HashSet<&str> = cat.touchpoints.iter().map(|t| t.key.as_str()).collect();
    for (k, c) in &by_key {
        let mark = if known_keys.contains(k.as_str()) { "" } else { "   <-- NOT IN CATALOG" };
        println!("{c:>10}  {k}{mark}");
    }
    for t in &cat.touchpoints {
        if !by_key.contains_key(&t.key) {
            println!("         0  {}   <-- never generated", t.key);
        }
    }
}
