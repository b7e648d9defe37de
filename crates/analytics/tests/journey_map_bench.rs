//! Speed of the journey map and churn kernels on two synthetic 10 M-event sets, run in
//! release: `cargo test --release -p touchpoint-analytics --test journey_map_bench --
//! --ignored --nocapture --test-threads 1`.
//!
//! * **demo-shaped**: 1 M events of the demo brand from `touchpoint-gen` (parsed,
//!   classified and stitched as in `journey_map_demo.rs`), each customer repeated 10 times
//!   under new ids with its times shifted by up to a week: real journey shapes (about a
//!   quarter of the events are a customer's first touch of a touchpoint);
//! * **random walk**: 200 000 customers × 50 events drawn uniformly from the brand's 35
//!   touchpoints, walking through the stages with detours: a harsher case (40 % first
//!   touches, a stage change at 40 % of events).

use std::collections::HashMap;
use std::time::{Duration, Instant};
use touchpoint_analytics::churn::{churn, ChurnQuery};
use touchpoint_analytics::journey_map::{journey_map, JourneyMapQuery};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::catalog::Classifier;
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::Event;
use touchpoint_gen::{brand_catalog, GenConfig, Generator};

const DAY: i64 = 86_400;

/// The demo brand's journeys: `events` generated events, each customer repeated `copies`
/// times (new ids, times shifted by up to a week).
fn demo_shaped(events: usize, copies: i64) -> (JourneySet, Dictionary, i64) {
    use rayon::prelude::*;
    let cfg = GenConfig::for_events(events, 7);
    let gen = Generator::new(cfg);
    let catalog = brand_catalog();
    let classifier = Classifier::new(catalog.rules.clone());
    let dict = Dictionary::from_catalog(&catalog);
    let cx = ParseContext { received_at: cfg.end_ms + DAY * 1000, ..Default::default() };
    // (anonymousId, userId, unix s, touchpoint) per event, customers in parallel.
    type Row = (Option<String>, Option<String>, i64, Option<Tp>);
    let rows: Vec<Row> = (0..cfg.customers)
        .into_par_iter()
        .flat_map_iter(|i| gen.customer(i))
        .map(|v| {
            let e = Event::parse(v, &cx, &Limits::default()).expect("valid");
            let tp = classifier.classify(&e).map(|c| dict.find(&c.key).expect("in the catalog"));
            (e.anonymous_id, e.user_id, e.timestamp.div_euclid(1000), tp)
        })
        .collect();
    let mut user_of: HashMap<&str, &str> = HashMap::new();
    for (anon, user, _, _) in &rows {
        if let (Some(a), Some(u)) = (anon, user) {
            user_of.entry(a).or_insert(u);
        }
    }
    let mut ids: HashMap<&str, i64> = HashMap::new();
    let mut base = vec![];
    for (anon, user, t, tp) in &rows {
        let Some(tp) = tp else { continue };
        let person = user.as_deref().or_else(|| anon.as_deref().map(|a| user_of.get(a).copied().unwrap_or(a))).unwrap();
        let next = ids.len() as i64;
        base.push((*ids.entry(person).or_insert(next), *t, *tp));
    }
    let people = ids.len() as i64;
    let mut events = Vec::with_capacity(base.len() * copies as usize);
    for copy in 0..copies {
        for &(c, t, tp) in &base {
            let shift = ((c * 7919 + copy * 104_729) % (7 * DAY)) - 7 * DAY;
            events.push((copy * people + c, t + shift, tp));
        }
    }
    let start = cfg.start_ms() / 1000 - 7 * DAY;
    (JourneySet::from_events(start, events), dict, cfg.end_ms / 1000)
}

fn synthetic(customers: i64, per: u64) -> (JourneySet, Dictionary, i64) {
    let catalog = brand_catalog();
    let dict = Dictionary::from_catalog(&catalog);
    let by_stage: Vec<Vec<Tp>> = (0..dict.stages.len())
        .map(|s| (0..dict.touchpoints.len() as Tp).filter(|&t| dict.stage_index(t) == Some(s)).collect())
        .collect();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let start = 1_777_000_000i64;
    let mut events = Vec::with_capacity((customers as u64 * per) as usize);
    for c in 0..customers {
        let mut t = start + next(180 * DAY as u64) as i64;
        let mut stage = 0usize;
        let len = 1 + next(2 * per - 1);
        for _ in 0..len {
            match next(10) {
                0..=2 => stage = (stage + 1).min(by_stage.len() - 1),
                3 => stage = next(by_stage.len() as u64) as usize,
                _ => {}
            }
            let options = &by_stage[stage];
            events.push((c, t, options[next(options.len() as u64) as usize]));
            let gap = if next(20) == 0 { 20 * DAY as u64 } else { 3_600 };
            t += next(gap) as i64;
        }
    }
    (JourneySet::from_events(start, events), dict, start + 200 * DAY)
}

/// CPU time used by the process so far (user + system), from `/proc/self/stat`: on a
/// shared machine, wall time also counts waiting for a core.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

/// Best and median wall time of `runs` runs; prints the mean CPU time per run.
fn best_of(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let cpu = cpu_time();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    if let (Some(a), Some(b)) = (cpu, cpu_time()) {
        eprintln!("  cpu per run {:.1?}", (b - a) / runs as u32);
    }
    times.sort();
    (times[0], times[runs / 2])
}

fn run(name: &str, set: &JourneySet, dict: &Dictionary, now: i64) {
    eprintln!(
        "{name}: {} customers, {} events, {} MB; {} threads",
        set.customer_count(),
        set.event_count(),
        set.resident_bytes() >> 20,
        rayon::current_num_threads()
    );
    let q = JourneyMapQuery::new(now);
    let report = journey_map(set, dict, &q).unwrap();
    let keys: Vec<&str> = report.pain_points.iter().take(5).map(|p| p.touchpoint.as_str()).collect();
    eprintln!("  journey map: {} tests, {} pain points, top {keys:?}", report.tests, report.pain_points.len());
    let (best, median) = best_of(15, || {
        std::hint::black_box(journey_map(set, dict, &q).unwrap());
    });
    eprintln!("  journey map: best {best:.1?}, median {median:.1?}");
    let q = ChurnQuery::new(now);
    let (best, median) = best_of(15, || {
        std::hint::black_box(churn(set, dict, &q));
    });
    eprintln!("  churn: best {best:.1?}, median {median:.1?}");
}

#[test]
#[ignore]
fn ten_million_events() {
    let t = Instant::now();
    let (set, dict, now) = demo_shaped(1_000_000, 10);
    eprintln!("demo-shaped set built in {:.1?}", t.elapsed());
    run("demo-shaped", &set, &dict, now);
    drop(set);
    let (set, dict, now) = synthetic(200_000, 50);
    run("random walk", &set, &dict, now);
}

/// For profiling: the journey map alone, many times (`JM_SET=demo` for the demo-shaped set).
#[test]
#[ignore]
fn journey_map_only() {
    let (set, dict, now) = if std::env::var("JM_SET").as_deref() == Ok("demo") {
        demo_shaped(1_000_000, 10)
    } else {
        synthetic(200_000, 50)
    };
    let q = JourneyMapQuery::new(now);
    let (best, median) = best_of(40, || {
        std::hint::black_box(journey_map(&set, &dict, &q).unwrap());
    });
    eprintln!("journey map: best {best:.1?}, median {median:.1?}");
}
/// For profiling: the cost of a trivial pass (the floor).
#[test]
#[ignore]
fn trivial_pass() {
    let (set, _dict, _) = synthetic(200_000, 50);
    let (best, median) = best_of(40, || {
        let s = set.fold(|| 0u64, |a, j| a + j.touchpoints.iter().map(|&t| u64::from(t)).sum::<u64>(), |a, b| a + b);
        std::hint::black_box(s);
    });
    eprintln!("sum of touchpoints: best {best:.1?}, median {median:.1?}");
    let (best, median) = best_of(40, || {
        let s = set.fold(
            || (vec![u32::MAX; 64], 0u64),
            |(mut seen, mut a), j| {
                for (i, &t) in j.touchpoints.iter().enumerate() {
                    let old = seen[t as usize];
                    a += u64::from(old == u32::MAX);
                    seen[t as usize] = old.min(i as u32);
                }
                for &t in j.touchpoints {
                    seen[t as usize] = u32::MAX;
                }
                (seen, a)
            },
            |a, b| (a.0, a.1 + b.1),
        );
        std::hint::black_box(s);
    });
    eprintln!("first occurrences: best {best:.1?}, median {median:.1?}");
}
