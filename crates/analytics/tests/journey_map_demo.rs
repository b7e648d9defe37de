//! The journey map and the churn analysis on the demo brand's generated data: the pain
//! points planted by `touchpoint-gen` ([`PAIN_POINTS`]) must come out on top.
//!
//! The data set goes through the real pipeline: events parsed with
//! [`touchpoint_core::Event::parse`], classified with the brand catalog's rules, mapped to
//! dictionary indexes, customers stitched from `anonymousId` to `userId` (every event that
//! carries both links them, identify calls included), and built into a [`JourneySet`].
//! Both analyses live in this one file so the data set is built once.

use std::collections::HashMap;
use std::sync::OnceLock;
use touchpoint_analytics::churn::{churn, ChurnQuery, ChurnReport};
use touchpoint_analytics::journey_map::{journey_map, Comparison, JourneyMapQuery, JourneyMapReport, PainReason};
use touchpoint_analytics::{Dictionary, JourneySet};
use touchpoint_core::catalog::Classifier;
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::Event;
use touchpoint_gen::{brand_catalog, GenConfig, Generator, PAIN_POINTS};

/// About this many events.
const EVENTS: usize = 150_000;
const SEED: u64 = 2026;

/// The demo data set: journeys, dictionary, and the end of the generated period (unix s).
struct Demo {
    set: JourneySet,
    dict: Dictionary,
    now_s: i64,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| build(EVENTS, SEED))
}

fn build(events: usize, seed: u64) -> Demo {
    let cfg = GenConfig::for_events(events, seed);
    let gen = Generator::new(cfg);
    let catalog = brand_catalog();
    let classifier = Classifier::new(catalog.rules.clone());
    let dict = Dictionary::from_catalog(&catalog);
    let cx = ParseContext { received_at: cfg.end_ms + 86_400_000, ..Default::default() };
    let limits = Limits::default();
    // Generate and parse on two threads (debug builds are slow).
    let parse = |range: std::ops::Range<usize>| -> Vec<Event> {
        range
            .flat_map(|i| gen.customer(i))
            .map(|v| Event::parse(v, &cx, &limits).expect("generated events are valid"))
            .collect()
    };
    let half = cfg.customers / 2;
    let parsed: Vec<Event> = std::thread::scope(|s| {
        let a = s.spawn(|| parse(0..half));
        let mut b = parse(half..cfg.customers);
        let mut all = a.join().expect("parser thread");
        all.append(&mut b);
        all
    });
    // Stitching: an anonymous id seen together with a user id belongs to that user.
    let mut user_of: HashMap<&str, &str> = HashMap::new();
    for e in &parsed {
        if let (Some(user), Some(anon)) = (&e.user_id, &e.anonymous_id) {
            user_of.entry(anon.as_str()).or_insert(user.as_str());
        }
    }
    let mut ids: HashMap<&str, i64> = HashMap::new();
    let mut rows = Vec::with_capacity(parsed.len());
    for e in &parsed {
        let Some(classified) = classifier.classify(e) else { continue };
        let person = match (&e.user_id, &e.anonymous_id) {
            (Some(user), _) => user.as_str(),
            (None, Some(anon)) => user_of.get(anon.as_str()).copied().unwrap_or(anon.as_str()),
            (None, None) => panic!("an event without ids"),
        };
        let next = ids.len() as i64;
        let customer = *ids.entry(person).or_insert(next);
        let tp = dict.find(&classified.key).unwrap_or_else(|| panic!("{} is not in the catalog", classified.key));
        rows.push((customer, e.timestamp.div_euclid(1000), tp));
    }
    Demo { set: JourneySet::from_events(cfg.start_ms().div_euclid(1000), rows), dict, now_s: cfg.end_ms / 1000 }
}

fn print_map(r: &JourneyMapReport) {
    let b = &r.baseline;
    eprintln!(
        "{} journeys, conversion {:.3}, churn {:.3} ({} by signal); {} tests",
        b.journeys,
        b.conversion_rate.unwrap_or(f64::NAN),
        b.churn_rate.unwrap_or(f64::NAN),
        b.churned_by_signal,
        r.tests
    );
    for (i, p) in r.pain_points.iter().enumerate() {
        let show = |t: &Option<touchpoint_analytics::journey_map::TestResult>| match t {
            Some(t) => format!(
                "{:.3} of {} vs {:.3} of {} (z {:+.2}, q {:.1e}, lost {:.1})",
                t.rate, t.customers, t.peer_rate, t.peers, t.z, t.q, t.customers_lost
            ),
            None => "-".into(),
        };
        eprintln!(
            "{:2}. {:24} {:14} lost {:6.1} {:?}\n      churn {}\n      conversion {}",
            i + 1,
            p.touchpoint,
            p.stage,
            p.customers_lost,
            p.reasons,
            show(&p.churn),
            show(&p.conversion)
        );
    }
}

fn rank(r: &JourneyMapReport, key: &str) -> Option<usize> {
    r.pain_points.iter().position(|p| p.touchpoint == key).map(|i| i + 1)
}

#[test]
fn planted_pain_points_top_the_journey_map() {
    let d = demo();
    eprintln!("{} customers, {} events", d.set.customer_count(), d.set.event_count());
    let report = journey_map(&d.set, &d.dict, &JourneyMapQuery::new(d.now_s)).unwrap();
    print_map(&report);
    let [late, payment, wait] = [PAIN_POINTS[0], PAIN_POINTS[1], PAIN_POINTS[2]];
    let ranks: Vec<Option<usize>> = PAIN_POINTS.iter().map(|k| rank(&report, k)).collect();
    eprintln!("ranks of {PAIN_POINTS:?}: {ranks:?}");
    assert!(rank(&report, late).is_some_and(|r| r <= 3), "{late} not in the top 3: {ranks:?}");
    assert!(rank(&report, payment).is_some_and(|r| r <= 3), "{payment} not in the top 3: {ranks:?}");
    assert!(ranks.iter().all(|r| r.is_some_and(|r| r <= 5)), "not all in the top 5: {ranks:?}");
    // And for the reasons planted: late deliveries and long waits drive customers away; a
    // failed payment loses the order.
    let reasons = |k: &str| report.pain_points.iter().find(|p| p.touchpoint == k).unwrap().reasons.clone();
    assert!(reasons(late).contains(&PainReason::Churn));
    assert!(reasons(wait).contains(&PainReason::Churn));
    assert!(reasons(payment).contains(&PainReason::Conversion));
    assert_eq!(report.stages.len(), d.dict.stages.len(), "every brand touchpoint has a stage");
    assert!(report.emotion_curve.iter().all(Option::is_none));

    // Against all customers instead of the stage column, the failed payment is hidden by
    // funnel depth: whoever reaches checkout converts more than the average visitor.
    let all = JourneyMapQuery { compare: Comparison::All, ..JourneyMapQuery::new(d.now_s) };
    let report_all = journey_map(&d.set, &d.dict, &all).unwrap();
    eprintln!("--- compared with all customers:");
    print_map(&report_all);
}

fn print_churn(report: &ChurnReport) {
    eprintln!(
        "{} customers, {} churned ({:.3}): {} by signal {:?}, {} by silence; {} tested",
        report.customers,
        report.churned,
        report.churn_rate,
        report.by_signal,
        report.signals.iter().map(|s| (&s.touchpoint, s.customers)).collect::<Vec<_>>(),
        report.by_silence,
        report.tested
    );
    for (i, x) in report.drivers.iter().enumerate().take(12) {
        eprintln!(
            "{:2}. {:24} {} churned {:.3} ({}) vs stayed {:.3} ({}), lift {:.2}, z {:+.2}, q {:.1e}",
            i + 1,
            x.touchpoint,
            if x.driver { "DRIVER" } else { "      " },
            x.churned_share,
            x.churned_with,
            x.stayed_share,
            x.stayed_with,
            x.lift.unwrap_or(f64::INFINITY),
            x.z,
            x.q
        );
    }
}

/// 1-based rank of a touchpoint among the drivers (significant and over-represented).
fn driver_rank(report: &ChurnReport, key: &str) -> Option<usize> {
    report.drivers.iter().filter(|x| x.driver).position(|x| x.touchpoint == key).map(|i| i + 1)
}

#[test]
fn late_delivery_and_long_wait_drive_churn() {
    let d = demo();
    let report = churn(&d.set, &d.dict, &ChurnQuery::new(d.now_s));
    print_churn(&report);
    let late = PAIN_POINTS[0];
    assert!(driver_rank(&report, late) == Some(1), "{late} is not the top churn driver");
    assert_eq!(report.churned, report.by_signal + report.by_silence);
    assert_eq!(report.churned_customers.len(), report.churned.min(1000));

    // A long wait on the support line is rare at this size (35 customers have one, 24 of
    // them among their last three touchpoints), below the default 30 customers a test
    // needs. With 20 the test is still sound (each cell of the 2 × 2 table expects more
    // than 5 customers) and the long wait is a top driver.
    let wait = PAIN_POINTS[2];
    let q = ChurnQuery { min_customers: 20, ..ChurnQuery::new(d.now_s) };
    let report = churn(&d.set, &d.dict, &q);
    eprintln!("--- min_customers 20:");
    print_churn(&report);
    for key in [late, wait] {
        let r = driver_rank(&report, key);
        assert!(r.is_some_and(|r| r <= 3), "{key} is not among the top 3 churn drivers: {r:?}");
    }
}

/// Robustness over seeds and sizes (release: `cargo test --release -p touchpoint-analytics
/// --test journey_map_demo -- --ignored --nocapture`).
#[test]
#[ignore]
fn pain_points_across_seeds_and_sizes() {
    for (events, seed) in [(150_000, 1), (150_000, 7), (150_000, 42), (150_000, 2026), (1_000_000, 7)] {
        let d = build(events, seed);
        let map = journey_map(&d.set, &d.dict, &JourneyMapQuery::new(d.now_s)).unwrap();
        let top: Vec<String> = map
            .pain_points
            .iter()
            .take(6)
            .map(|p| {
                let t = if p.reasons[0] == PainReason::Churn { &p.churn } else { &p.conversion };
                let t = t.as_ref().expect("an adverse test");
                let (rate, peers) = (t.rate, t.peer_rate);
                format!(
                    "{} {:?}: {rate:.3} of {} vs {peers:.3} of {}, lost {:.1}",
                    p.touchpoint, p.reasons, t.customers, t.peers, p.customers_lost
                )
            })
            .collect();
        let q = ChurnQuery { min_customers: 20, ..ChurnQuery::new(d.now_s) };
        let ch = churn(&d.set, &d.dict, &q);
        let drivers: Vec<&str> =
            ch.drivers.iter().filter(|x| x.driver).take(6).map(|x| x.touchpoint.as_str()).collect();
        eprintln!("{events} events, seed {seed}: {} customers", d.set.customer_count());
        top.iter().for_each(|t| eprintln!("  pain point {t}"));
        eprintln!("  churn drivers {drivers:?}");
    }
}
