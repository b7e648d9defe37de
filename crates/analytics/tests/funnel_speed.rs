//! How fast the funnel, transitions, Sankey and retention kernels are on the size the
//! product's reference figures use: 10 M events of 200 k customers (a synthetic set built
//! straight into columns). Ignored by default; run in release:
//!
//! ```text
//! cargo test -p touchpoint-analytics --release --test funnel_speed -- --ignored --nocapture
//! ```
//!
//! It prints the best and median of several runs on the machine's threads and on one
//! thread, and fails only on a gross regression (the budget is 50 ms for funnel and
//! transitions on 2 cores; the assertion allows noise from a busy machine).

use std::time::{Duration, Instant};
use touchpoint_analytics::funnel::{self, FunnelMode, FunnelQuery};
use touchpoint_analytics::paths::{self, SankeyQuery, TransitionsQuery};
use touchpoint_analytics::retention::{self, RetentionQuery};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{Channel, Touchpoint};

const CUSTOMERS: usize = 200_000;
const EVENTS: usize = 10_000_000;
const TOUCHPOINTS: usize = 40;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 200 k customers with 1–99 events each (50 on average), over 180 days, 10 % of events in
/// the same second as the previous one; touchpoints 0–3 are the funnel steps, each next
/// step likelier after the previous one.
fn synthetic() -> (JourneySet, Dictionary) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dict = Dictionary {
        touchpoints: (0..TOUCHPOINTS).map(|i| Touchpoint::discovered(&format!("tp{i}"), "tp", Channel::Web)).collect(),
        stages: vec![],
    };
    let mut set = JourneySet { epoch_s: 1_777_000_000, offsets: vec![0], ..Default::default() };
    set.times.reserve(EVENTS + 100);
    set.touchpoints.reserve(EVENTS + 100);
    for c in 0..CUSTOMERS {
        set.customers.push(c as i64 * 3 + 1);
        let n = 1 + rng.below(99) as usize;
        let mut t = rng.below(180 * 86_400) as u32;
        let mut last: Tp = 0;
        for _ in 0..n {
            if rng.below(10) != 0 {
                let longest = if rng.below(20) == 0 { 14 * 86_400 } else { 1_800 };
                t += rng.below(longest) as u32;
            }
            let tp = if last < 3 && rng.below(4) == 0 { last + 1 } else { rng.below(TOUCHPOINTS as u64) as Tp };
            last = tp;
            set.times.push(t);
            set.touchpoints.push(tp);
        }
        set.offsets.push(set.times.len() as u32);
    }
    (set, dict)
}

/// CPU time of the calling thread so far (Linux), unaffected by other processes on a busy
/// machine; `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(text.split_whitespace().next()?.parse().ok()?))
}

/// Best CPU time of `runs` runs on the calling thread.
fn cpu_time<T>(runs: usize, mut f: impl FnMut() -> T) -> Option<Duration> {
    (0..runs)
        .map(|_| {
            let start = thread_cpu()?;
            std::hint::black_box(f());
            Some(thread_cpu()? - start)
        })
        .min()
        .flatten()
}

/// Best and median of `runs` runs.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    std::hint::black_box(f());
    let mut d: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    d.sort();
    (d[0], d[runs / 2])
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn ten_million_events() {
    let (set, dict) = synthetic();
    eprintln!(
        "{} events, {} customers, {} threads",
        set.event_count(),
        set.customer_count(),
        rayon::current_num_threads()
    );
    let funnel4 = FunnelQuery { window_s: 7 * 86_400, ..FunnelQuery::new(["tp0", "tp1", "tp2", "tp3"]) };
    let strict4 = FunnelQuery { mode: FunnelMode::Strict, ..funnel4.clone() };
    let with_drop = FunnelQuery { dropped_step: Some(2), ..funnel4.clone() };
    let top20 = TransitionsQuery::default();
    let sankey = SankeyQuery::from_start("tp0");
    let weekly = RetentionQuery::default();
    let r = funnel::run(&set, &dict, &funnel4).unwrap();
    eprintln!("funnel: {:?}", r.steps.iter().map(|s| s.customers).collect::<Vec<_>>());

    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut budget_ok = true;
    let mut report = |name: &str, budget_ms: Option<u128>, f: &(dyn Fn() + Sync)| {
        let (best, median) = time(9, f);
        let (best1, median1) = one.install(|| time(5, f));
        let cpu1 = one.install(|| cpu_time(5, f)).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        eprintln!(
            "{name:<28} all threads: best {:>5.1} ms, median {:>5.1} ms | one thread: best {:>5.1} ms, median {:>5.1} ms, CPU {cpu1:>5.1} ms",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            best1.as_secs_f64() * 1e3,
            median1.as_secs_f64() * 1e3,
        );
        if let Some(ms) = budget_ms {
            budget_ok &= best.as_millis() <= ms;
        }
    };
    report("funnel, 4 steps, 7 days", Some(250), &|| {
        funnel::run(&set, &dict, &funnel4).unwrap();
    });
    report("funnel, strict", Some(250), &|| {
        funnel::run(&set, &dict, &strict4).unwrap();
    });
    report("funnel with drop-off list", Some(250), &|| {
        funnel::run(&set, &dict, &with_drop).unwrap();
    });
    report("top-20 transitions", Some(250), &|| {
        paths::transitions(&set, &dict, &top20).unwrap();
    });
    report("Sankey, 4 steps from tp0", None, &|| {
        paths::sankey(&set, &dict, &sankey).unwrap();
    });
    report("weekly retention, 8 weeks", None, &|| {
        retention::run(&set, &dict, &weekly).unwrap();
    });
    assert!(budget_ok, "a kernel took far longer than its budget");
}
