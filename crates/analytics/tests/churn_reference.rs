//! The churn kernel against a slow, obviously correct reference written here from the
//! definitions (per customer: observed events, first churn signal, silence, the last k
//! events before the churn point as a set), on a hand-checked golden case and on random
//! journey sets with random dictionaries: ties, one-event customers, events after `now`,
//! customers exactly at the churn-horizon edge, touchpoints outside the dictionary, a
//! period's start (`left_from_s`) before, at and after the moments customers left.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use touchpoint_analytics::churn::{churn, ChurnQuery, ChurnReport};
use touchpoint_analytics::stats::{benjamini_hochberg, two_proportion_z};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{Channel, Touchpoint};

/// One expected number: a name, what the kernel gave, what it should be, allowed error.
fn check(rows: &[(&str, f64, f64, f64)]) {
    let failed: Vec<String> = rows
        .iter()
        .filter(|(_, got, want, tol)| (got - want).abs() > *tol)
        .map(|(name, got, want, _)| format!("{name}: got {got}, want {want}"))
        .collect();
    assert!(failed.is_empty(), "{} of {} checks failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
}

fn tp(key: &str, stage: Option<&str>, churn: bool) -> Touchpoint {
    Touchpoint {
        stage: stage.map(str::to_string),
        churn,
        discovered: false,
        ..Touchpoint::discovered(key, key, Channel::Web)
    }
}

#[test]
fn golden_churn() {
    let dict = Dictionary {
        touchpoints: vec![
            tp("ad", Some("awareness"), false),
            tp("page", Some("consideration"), false),
            tp("cart", Some("purchase"), false),
            tp("order", Some("purchase"), false),
            tp("late", Some("service"), false),
            tp("leave", Some("retention"), true),
            tp("misc", None, false),
        ],
        stages: vec![],
    };
    let (ad, page, cart, order, late, leave, misc) = (0, 1, 2, 3, 4, 5, 6);
    #[rustfmt::skip]
    let events = vec![
        (1, 0, ad), (1, 10, page), (1, 20, cart), (1, 30, order), (1, 100, late), (1, 200, leave),
        (2, 0, ad), (2, 5, page),
        (3, 600, page), (3, 650, cart), (3, 700, order),
        (4, 400, misc), (4, 450, ad), (4, 500, page),
        (5, 100, ad), (5, 200, cart), (5, 300, page),
        (6, 2000, ad),
    ];
    let set = JourneySet::from_events(0, events);
    let q = ChurnQuery { churn_horizon_s: 500, last_k: 2, min_customers: 0, ..ChurnQuery::new(1000) };
    let r = churn(&set, &dict, &q);
    // Customer 1 left by signal (last two before it: order, late); 2 and 5 went silent
    // (last events at 5 and 300, more than 500 s before 1000); 4's last event is exactly
    // 500 s before: not yet silence. 6 has no event by 1000.
    assert_eq!(r.churned_customers, vec![1, 2, 5]);
    assert_eq!(r.signals.len(), 1);
    assert_eq!((r.signals[0].touchpoint.as_str(), r.signals[0].customers), ("leave", 1));
    let d = |k: &str| r.drivers.iter().find(|d| d.touchpoint == k).unwrap_or_else(|| panic!("{k} not tested"));
    // Last two: churned {order, late}, {ad, page}, {cart, page}; stayed {cart, order}, {ad, page}.
    let page_test = two_proportion_z(2, 3, 1, 2);
    check(&[
        ("customers", r.customers as f64, 5.0, 0.0),
        ("churned", r.churned as f64, 3.0, 0.0),
        ("rate", r.churn_rate, 0.6, 1e-15),
        ("by signal", r.by_signal as f64, 1.0, 0.0),
        ("by silence", r.by_silence as f64, 2.0, 0.0),
        ("stayed", r.stayed as f64, 2.0, 0.0),
        ("tested", r.tested as f64, 5.0, 0.0),
        ("page churned with", d("page").churned_with as f64, 2.0, 0.0),
        ("page churned share", d("page").churned_share, 2.0 / 3.0, 1e-15),
        ("page stayed share", d("page").stayed_share, 0.5, 0.0),
        ("page lift", d("page").lift.unwrap(), 4.0 / 3.0, 1e-15),
        ("page z", d("page").z, page_test.z, 0.0),
        // pooled 3/5: z = (2/3 − 1/2) / sqrt(6/25 · 5/6) = 0.372678...
        ("page z by hand", d("page").z, 0.372_677_996_249_964_9, 1e-15),
        ("late stayed with", d("late").stayed_with as f64, 0.0, 0.0),
        ("cart churned with", d("cart").churned_with as f64, 1.0, 0.0),
        ("order stayed with", d("order").stayed_with as f64, 1.0, 0.0),
        ("ad churned with", d("ad").churned_with as f64, 1.0, 0.0),
    ]);
    assert!(d("late").lift.is_none(), "no stayer has it: unbounded lift");
    assert!(r.drivers.iter().all(|d| !d.driver), "nothing is significant with five customers");
    assert!(r.drivers.iter().all(|d| d.touchpoint != "leave" && d.touchpoint != "misc"));
    // The id list is capped, keeping the smallest ids.
    let r = churn(&set, &dict, &ChurnQuery { max_customer_ids: 2, ..q.clone() });
    assert_eq!(r.churned_customers, vec![1, 2]);
    // The query is a plan: JSON with defaults.
    let parsed: ChurnQuery = serde_json::from_str(r#"{"now_s": 1000, "last_k": 2}"#).unwrap();
    assert_eq!(parsed, ChurnQuery { last_k: 2, ..ChurnQuery::new(1000) });
    assert!(serde_json::to_string(&r).is_ok());
    // Who left from 600 on: 1 left at its signal (200) and 2 when its silence reached the
    // horizon (5 + 500): both had gone before, and are not counted at all; 5 left at
    // 300 + 500 = 800, within the period.
    let r = churn(&set, &dict, &ChurnQuery { left_from_s: Some(600), ..q.clone() });
    assert_eq!((r.customers, r.churned, r.by_silence, r.by_signal, r.stayed), (3, 1, 1, 0, 2));
    assert_eq!(r.churned_customers, vec![5]);
    // Exactly at the start of the period is within it.
    let r = churn(&set, &dict, &ChurnQuery { left_from_s: Some(800), ..q.clone() });
    assert_eq!(r.churned_customers, vec![5]);
    let r = churn(&set, &dict, &ChurnQuery { left_from_s: Some(801), ..q.clone() });
    assert_eq!((r.customers, r.churned), (2, 0));
    // Now before the epoch: nobody.
    let r = churn(&set, &dict, &ChurnQuery::new(-1));
    assert_eq!((r.customers, r.churned, r.churn_rate), (0, 0, 0.0));
}

/// The reference: per churned / stayed customer, the set of touchpoints in the last k.
fn compare(set: &JourneySet, dict: &Dictionary, q: &ChurnQuery) -> Result<ChurnReport, TestCaseError> {
    let report = churn(set, dict, q);
    let n = dict.touchpoints.len();
    let known = |tp: Tp| (tp as usize) < n;
    let (mut customers, mut signal, mut silence) = (0usize, 0usize, 0usize);
    let mut ids = vec![];
    let mut first_signals: BTreeMap<String, usize> = BTreeMap::new();
    let mut with: BTreeMap<Tp, (usize, usize)> = BTreeMap::new();
    for j in set.iter() {
        let ev: Vec<(i64, Tp)> = j
            .times
            .iter()
            .zip(j.touchpoints)
            .map(|(&t, &tp)| (set.epoch_s + t as i64, tp))
            .filter(|&(t, _)| t <= q.now_s)
            .collect();
        if ev.is_empty() {
            continue;
        }
        let fs = ev.iter().position(|&(_, tp)| known(tp) && dict.get(tp).churn);
        let silent = q.now_s - ev.last().unwrap().0 > q.churn_horizon_s;
        let churned = fs.is_some() || silent;
        // When they left: at the signal, or when the silence reached the horizon.
        let left = match fs {
            Some(f) => ev[f].0,
            None => ev.last().unwrap().0 + q.churn_horizon_s,
        };
        if churned && q.left_from_s.is_some_and(|from| left < from) {
            continue;
        }
        customers += 1;
        if let Some(f) = fs {
            signal += 1;
            *first_signals.entry(dict.key(ev[f].1).to_string()).or_default() += 1;
        } else if silent {
            silence += 1;
        }
        if churned {
            ids.push(j.customer);
        }
        let end = fs.unwrap_or(ev.len());
        let last: BTreeSet<Tp> =
            ev[end.saturating_sub(q.last_k)..end].iter().map(|e| e.1).filter(|&tp| known(tp)).collect();
        for tp in last {
            let e = with.entry(tp).or_default();
            if churned {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    let churned = signal + silence;
    let stayed = customers - churned;
    prop_assert_eq!(report.customers, customers);
    prop_assert_eq!(
        (report.by_signal, report.by_silence, report.churned, report.stayed),
        (signal, silence, churned, stayed)
    );
    ids.truncate(q.max_customer_ids);
    prop_assert_eq!(&report.churned_customers, &ids);
    let got_signals: BTreeMap<String, usize> =
        report.signals.iter().map(|s| (s.touchpoint.clone(), s.customers)).collect();
    prop_assert_eq!(got_signals, first_signals);
    for w in report.signals.windows(2) {
        prop_assert!(w[0].customers >= w[1].customers);
    }

    let tested: Vec<(Tp, usize, usize)> = with
        .iter()
        .filter(|(&tp, &(c, s))| !dict.get(tp).churn && c + s >= q.min_customers)
        .map(|(&tp, &(c, s))| (tp, c, s))
        .collect();
    prop_assert_eq!(report.tested, tested.len());
    prop_assert_eq!(report.drivers.len(), tested.len());
    let tests: Vec<_> =
        tested.iter().map(|&(_, c, s)| two_proportion_z(c as u64, churned as u64, s as u64, stayed as u64)).collect();
    let qs = benjamini_hochberg(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
    for ((&(tp, c, s), t), qv) in tested.iter().zip(&tests).zip(&qs) {
        let d = report.drivers.iter().find(|d| d.touchpoint == dict.key(tp));
        let d = d.ok_or_else(|| TestCaseError::fail(format!("{} missing", dict.key(tp))))?;
        prop_assert_eq!((d.churned_with, d.stayed_with), (c, s), "{}", d.touchpoint);
        let share = |x: usize, of: usize| if of == 0 { 0.0 } else { x as f64 / of as f64 };
        prop_assert!((d.churned_share - share(c, churned)).abs() < 1e-15);
        prop_assert!((d.stayed_share - share(s, stayed)).abs() < 1e-15);
        prop_assert!((d.z - t.z).abs() < 1e-12 && (d.p - t.p).abs() < 1e-12 && (d.q - qv).abs() < 1e-12);
        prop_assert_eq!(d.driver, *qv <= q.alpha && d.churned_share > d.stayed_share);
        prop_assert_eq!(&d.stage, &dict.get(tp).stage);
    }
    // Drivers first, by lift; the rest by p.
    let split = report.drivers.iter().take_while(|d| d.driver).count();
    prop_assert!(report.drivers[split..].iter().all(|d| !d.driver));
    let lift = |d: &touchpoint_analytics::churn::ChurnDriver| d.lift.unwrap_or(f64::INFINITY);
    for w in report.drivers[..split].windows(2) {
        prop_assert!(lift(&w[0]) >= lift(&w[1]));
    }
    for w in report.drivers[split..].windows(2) {
        prop_assert!(w[0].p <= w[1].p);
    }
    Ok(report)
}

fn arb_case() -> impl Strategy<Value = (JourneySet, Dictionary, ChurnQuery)> {
    (1usize..8)
        .prop_flat_map(|n| {
            let flags = prop::collection::vec(prop::bool::weighted(0.2), n);
            let events = prop::collection::vec((0i64..25, 0i64..40, 0..n as u16 + 1), 0..120);
            let left_from = prop::option::of(-5i64..50);
            (flags, events, 0i64..50, 0i64..40, 0usize..6, 0usize..4, 0usize..30, (0.01f64..0.9, left_from))
        })
        .prop_map(|(flags, events, now, horizon, k, min, max_ids, (alpha, left_from))| {
            let dict = Dictionary {
                touchpoints: flags.iter().enumerate().map(|(i, &c)| tp(&format!("t{i}"), None, c)).collect(),
                stages: vec![],
            };
            let epoch = 5_000;
            let set = JourneySet::from_events(epoch, events.into_iter().map(|(c, t, tp)| (c, epoch + t, tp)));
            let q = ChurnQuery {
                churn_horizon_s: horizon,
                last_k: k,
                alpha,
                min_customers: min,
                max_customer_ids: max_ids,
                left_from_s: left_from.map(|f| epoch + f),
                ..ChurnQuery::new(epoch + now)
            };
            (set, dict, q)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn kernel_matches_the_reference((set, dict, q) in arb_case()) {
        compare(&set, &dict, &q)?;
    }
}

#[test]
fn kernel_matches_the_reference_on_a_larger_set() {
    // Several parallel chunks, significant drivers: touchpoint 3 precedes most churn.
    let dict = Dictionary { touchpoints: (0..6).map(|i| tp(&format!("t{i}"), None, i == 5)).collect(), stages: vec![] };
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut events = vec![];
    for c in 0..4000i64 {
        let mut t = next(100 * 86_400) as i64;
        let len = 1 + next(12);
        for i in 0..len {
            let leaving = c % 3 == 0 && i + 2 >= len;
            let tp = if leaving && i + 1 == len && c % 2 == 0 {
                5
            } else if leaving {
                3
            } else {
                next(5) as u16
            };
            events.push((c, t, tp));
            t += next(10 * 86_400) as i64;
        }
    }
    let set = JourneySet::from_events(0, events);
    let report =
        compare(&set, &dict, &ChurnQuery { churn_horizon_s: 20 * 86_400, ..ChurnQuery::new(120 * 86_400) }).unwrap();
    assert_eq!(report.drivers[0].touchpoint, "t3");
    assert!(report.drivers[0].driver);
}
