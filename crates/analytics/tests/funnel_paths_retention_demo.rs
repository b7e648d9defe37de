//! The funnel, paths and retention kernels on the demo brand's data (`touchpoint-gen`,
//! about 2 000 customers classified with the brand catalog): things that must hold there,
//! whatever the seed — the checkout funnel is monotone and a failed payment converts worse
//! than a checkout, cart → checkout is a top transition, the Sankey after checkout shows
//! orders and failed payments, and weekly retention is well formed.

use std::sync::OnceLock;
use touchpoint_analytics::funnel::{self, FunnelMode, FunnelQuery};
use touchpoint_analytics::paths::{self, SankeyNodeKind, SankeyQuery, TransitionsQuery};
use touchpoint_analytics::retention::{self, RetentionQuery};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::CustomerId;
use touchpoint_gen::{brand_catalog, BrandClassifier, GenConfig, Generator, DEFAULT_DAYS, DEFAULT_END_MS};

const CUSTOMERS: usize = 2_000;

/// Generate the demo customers, classify every event with the brand catalog, and build the
/// journey set (customer `i` of the generator is customer id `i`). Built once for all tests.
fn demo() -> &'static (JourneySet, Dictionary) {
    static DATA: OnceLock<(JourneySet, Dictionary)> = OnceLock::new();
    DATA.get_or_init(|| {
        let cfg = GenConfig { seed: 2026, customers: CUSTOMERS, end_ms: DEFAULT_END_MS, days: DEFAULT_DAYS };
        let gen = Generator::new(cfg);
        let classifier = BrandClassifier::new(&cfg);
        let events: Vec<(CustomerId, i64, Tp)> = (0..CUSTOMERS)
            .flat_map(|i| classifier.touchpoints(&gen, i).into_iter().map(move |(t, tp)| (i as CustomerId, t, tp)))
            .collect();
        (JourneySet::from_events(cfg.start_ms() / 1000, events), Dictionary::from_catalog(&brand_catalog()))
    })
}

/// The customers of `set` for which `keep` holds, as a set of their own.
fn subset(set: &JourneySet, keep: impl Fn(&[Tp]) -> bool) -> JourneySet {
    let mut events = vec![];
    for j in set.iter().filter(|j| keep(j.touchpoints)) {
        for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
            events.push((j.customer, set.epoch_s + i64::from(t), tp));
        }
    }
    JourneySet::from_events(set.epoch_s, events)
}

fn funnel_counts(set: &JourneySet, dict: &Dictionary, steps: &[&str], window_s: i64, mode: FunnelMode) -> Vec<u64> {
    let q = FunnelQuery { window_s, mode, ..FunnelQuery::new(steps.iter().copied()) };
    funnel::run(set, dict, &q).unwrap().steps.iter().map(|s| s.customers).collect()
}

#[test]
fn demo_data_is_there() {
    let (set, dict) = demo();
    assert!(set.customer_count() > CUSTOMERS * 9 / 10, "{} customers", set.customer_count());
    assert!(set.event_count() > 20 * CUSTOMERS, "{} events", set.event_count());
    for key in ["checkout", "cart", "order-completed", "payment-failed"] {
        assert!(dict.find(key).is_some(), "{key}");
    }
}

#[test]
fn checkout_funnel_is_monotone_and_failed_payments_convert_worse() {
    let (set, dict) = demo();
    let steps = ["product-page", "cart", "checkout", "order-completed"];
    let mut previous: Option<Vec<u64>> = None;
    for window in [3_600, 86_400, 7 * 86_400, 60 * 86_400] {
        let counts = funnel_counts(set, dict, &steps, window, FunnelMode::Default);
        eprintln!("window {window:>7} s: {counts:?}");
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "monotone along the steps: {counts:?}");
        assert!(counts[3] > 0, "some customers order within {window} s");
        if let Some(p) = &previous {
            assert!(p.iter().zip(&counts).all(|(a, b)| a <= b), "a longer window never loses anyone");
        }
        let strict = funnel_counts(set, dict, &steps, window, FunnelMode::Strict);
        assert!(strict.iter().zip(&counts).all(|(s, d)| s <= d), "strict {strict:?} ≤ default {counts:?}");
        previous = Some(counts);
    }

    // After a failed payment, an order within a day is rarer than after a checkout.
    let day = 86_400;
    let rate = |steps: &[&str], set: &JourneySet| {
        let c = funnel_counts(set, dict, steps, day, FunnelMode::Default);
        c[1] as f64 / c[0] as f64
    };
    let after_checkout = rate(&["checkout", "order-completed"], set);
    let after_failure = rate(&["payment-failed", "order-completed"], set);
    eprintln!("order within a day: after checkout {after_checkout:.3}, after a failed payment {after_failure:.3}");
    assert!(after_failure < after_checkout, "{after_failure} vs {after_checkout}");

    // And customers who ever had a failed payment convert from checkout worse than the rest.
    let failed = dict.find("payment-failed").unwrap();
    let with = subset(set, |tps| tps.contains(&failed));
    let without = subset(set, |tps| !tps.contains(&failed));
    let (w, wo) = (rate(&["checkout", "order-completed"], &with), rate(&["checkout", "order-completed"], &without));
    eprintln!("checkout → order within a day: {w:.3} with a failed payment, {wo:.3} without");
    assert!(with.customer_count() > 20 && w < wo, "{w} vs {wo}");
}

#[test]
fn drop_off_list_names_customers_who_stopped_at_checkout() {
    let (set, dict) = demo();
    let q =
        FunnelQuery { dropped_step: Some(1), dropped_limit: 10, ..FunnelQuery::new(["checkout", "order-completed"]) };
    let r = funnel::run(set, dict, &q).unwrap();
    let dropped = r.dropped.unwrap();
    assert_eq!(dropped.total, r.steps[0].customers - r.steps[1].customers);
    assert_eq!(dropped.customers.len() as u64, dropped.total.min(10));
    let (checkout, order) = (dict.find("checkout").unwrap(), dict.find("order-completed").unwrap());
    for id in dropped.customers {
        let i = set.customers.binary_search(&id).unwrap();
        let j = set.journey(i);
        let first = j.touchpoints.iter().position(|&t| t == checkout).expect("they reached checkout");
        let first_t = j.times[first];
        // No order within the window after any checkout, so none within 14 days of the first.
        assert!(
            !j.times
                .iter()
                .zip(j.touchpoints)
                .any(|(&t, &tp)| tp == order && t >= first_t && t - first_t <= 14 * 86_400),
            "customer {id}"
        );
    }
}

#[test]
fn cart_to_checkout_is_a_top_transition() {
    let (set, dict) = demo();
    for collapse_repeats in [false, true] {
        let r = paths::transitions(set, dict, &TransitionsQuery { top: 20, collapse_repeats }).unwrap();
        for t in r.transitions.iter().take(5) {
            eprintln!("{} → {}: {} ({:.1} %)", t.from, t.to, t.count, 100.0 * t.share);
        }
        assert!(r.transitions.iter().any(|t| t.from == "cart" && t.to == "checkout"), "collapse {collapse_repeats}");
        assert_eq!(r.transitions.len(), 20);
        assert!(r.transitions.windows(2).all(|w| w[0].count >= w[1].count));
        if collapse_repeats {
            assert!(r.transitions.iter().all(|t| t.from != t.to));
        }
    }
}

#[test]
fn sankey_after_checkout_shows_orders_and_failed_payments() {
    let (set, dict) = demo();
    let r = paths::sankey(set, dict, &SankeyQuery { steps: 3, ..SankeyQuery::from_start("checkout") }).unwrap();
    let at = |step: usize| -> Vec<&str> {
        r.nodes
            .iter()
            .filter(|n| n.step == step && n.kind == SankeyNodeKind::Touchpoint)
            .map(|n| n.key.as_str())
            .collect()
    };
    assert_eq!(at(0), ["checkout"]);
    assert!(at(1).contains(&"order-completed") && at(1).contains(&"payment-failed"), "{:?}", at(1));
    let customers_at = |step: usize| r.nodes.iter().filter(|n| n.step == step).map(|n| n.customers).sum::<u64>();
    assert_eq!(customers_at(1), r.customers, "everyone has a node at step 1, if only (end)");

    let back = paths::sankey(set, dict, &SankeyQuery { steps: 2, ..SankeyQuery::from_end("order-completed") }).unwrap();
    let before: Vec<&str> = back.nodes.iter().filter(|n| n.step == 1).map(|n| n.key.as_str()).collect();
    assert!(before.contains(&"checkout"), "{before:?}");
}

#[test]
fn weekly_retention_is_well_formed() {
    let (set, dict) = demo();
    let r = retention::run(set, dict, &RetentionQuery::default()).unwrap();
    assert_eq!(r.overall.size, set.customer_count() as u64, "everyone enters a first-seen cohort");
    assert!(r.cohorts.len() >= 20, "{} weekly cohorts over 180 days", r.cohorts.len());
    let week1 = r.overall.rates[1].unwrap();
    eprintln!("week-1 retention {:.1} %", 100.0 * week1);
    assert!(week1 > 0.0 && week1 < 1.0);
    let last = r.cohorts.last().unwrap();
    assert!(last.retained[8].is_none(), "the newest cohort's 8th week is not observed yet");
    assert!(r.cohorts[0].retained.iter().all(Option::is_some), "the oldest cohort is observed throughout");

    let buyers = RetentionQuery {
        cohort: retention::CohortBy::FirstTouchpoint("order-completed".into()),
        returning: Some("order-completed".into()),
        period: retention::Period::Month,
        periods: 3,
        ..RetentionQuery::default()
    };
    let r = retention::run(set, dict, &buyers).unwrap();
    assert!(r.overall.size > 0);
    assert!(r.overall.rates[1].unwrap() < 1.0);
}
