//! The journey map kernel against a slow, obviously correct reference written here from
//! the definitions (naive loops over each journey, per-customer sets), on hand-checked
//! golden cases and on random journey sets with random dictionaries: ties, one-event
//! customers, events after `now`, customers exactly at the churn-horizon edge, touchpoints
//! without a stage or outside the dictionary.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use touchpoint_analytics::journey_map::{journey_map, Comparison, JourneyMapQuery, JourneyMapReport, UNCLASSIFIED};
use touchpoint_analytics::stats::{benjamini_hochberg, median_sorted, two_proportion_z};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{Channel, Touchpoint};

/// One expected number: what to call it, what the kernel gave, what it should be (NaN
/// for "none"), and the allowed absolute error.
fn check(rows: &[(String, f64, f64, f64)]) {
    let failed: Vec<String> = rows
        .iter()
        .filter(|(_, got, want, tol)| !((got.is_nan() && want.is_nan()) || (got - want).abs() <= *tol))
        .map(|(name, got, want, _)| format!("{name}: got {got}, want {want}"))
        .collect();
    assert!(failed.is_empty(), "{} of {} checks failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
}

fn opt(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

fn tp(key: &str, stage: Option<&str>, conversion: bool, churn: bool) -> Touchpoint {
    Touchpoint {
        stage: stage.map(str::to_string),
        conversion,
        churn,
        discovered: false,
        ..Touchpoint::discovered(key, key, Channel::Web)
    }
}

/// The golden example: seven touchpoints over five stages, five customers (and one whose
/// only event is after `now`).
fn golden() -> (JourneySet, Dictionary) {
    let dict = Dictionary {
        touchpoints: vec![
            tp("ad", Some("awareness"), false, false),
            tp("page", Some("consideration"), false, false),
            tp("cart", Some("purchase"), false, false),
            tp("order", Some("purchase"), true, false),
            tp("late", Some("service"), false, false),
            tp("leave", Some("retention"), false, true),
            tp("misc", None, false, false),
        ],
        stages: ["awareness", "consideration", "purchase", "service", "retention"].map(String::from).to_vec(),
    };
    let (ad, page, cart, order, late, leave, misc) = (0, 1, 2, 3, 4, 5, 6);
    let events = vec![
        (1, 0, ad),
        (1, 10, page),
        (1, 20, cart),
        (1, 30, order),
        (1, 100, late),
        (1, 200, leave),
        (2, 0, ad),
        (2, 5, page),
        (3, 600, page),
        (3, 650, cart),
        (3, 700, order),
        (4, 400, misc),
        (4, 450, ad),
        (4, 500, page),
        (5, 100, ad),
        (5, 200, cart),
        (5, 300, page),
        (6, 2000, ad),
    ];
    (JourneySet::from_events(0, events), dict)
}

#[test]
fn golden_journey_map() {
    let (set, dict) = golden();
    let q = JourneyMapQuery { churn_horizon_s: 500, min_customers: 1, ..JourneyMapQuery::new(1000) };
    let r = journey_map(&set, &dict, &q).unwrap();
    assert_eq!(r.goal.as_deref(), Some("order"));
    let b = &r.baseline;
    let mut rows = vec![
        ("journeys".to_string(), b.journeys as f64, 5.0, 0.0),
        ("converted".into(), b.converted as f64, 2.0, 0.0),
        ("conversion".into(), opt(b.conversion_rate), 0.4, 1e-15),
        ("churned".into(), b.churned as f64, 3.0, 0.0),
        ("churn".into(), opt(b.churn_rate), 0.6, 1e-15),
        ("by signal".into(), b.churned_by_signal as f64, 1.0, 0.0),
    ];
    // key: reach, before goal, converted, before churn, churned, exits, to next, median.
    let nan = f64::NAN;
    let want: &[(&str, [f64; 8])] = &[
        ("ad", [4.0, 4.0, 1.0, 4.0, 3.0, 0.0, 4.0, 30.0]),
        ("page", [5.0, 5.0, 2.0, 5.0, 3.0, 2.0, 2.0, 30.0]),
        ("cart", [3.0, 3.0, 2.0, 3.0, 2.0, 0.0, 1.0, 80.0]),
        ("order", [2.0, 0.0, 0.0, 2.0, 1.0, 0.0, 1.0, 70.0]),
        ("late", [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 100.0]),
        ("leave", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan]),
        ("misc", [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, nan]),
        ("awareness", [4.0, 4.0, 1.0, 4.0, 3.0, 0.0, 4.0, 30.0]),
        ("consideration", [5.0, 5.0, 2.0, 5.0, 3.0, 2.0, 2.0, 30.0]),
        ("purchase", [3.0, 3.0, 2.0, 3.0, 2.0, 0.0, 1.0, 80.0]),
        ("service", [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 100.0]),
        ("retention", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan]),
        (UNCLASSIFIED, [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, nan]),
    ];
    let names = ["reach", "before goal", "converted", "before churn", "churned", "exits", "to next", "median"];
    let got = flatten(&r);
    for (key, w) in want {
        let g = got.get(*key).unwrap_or_else(|| panic!("{key} is missing"));
        for i in 0..8 {
            rows.push((format!("{key} {}", names[i]), g[i], w[i], 0.0));
        }
    }
    assert_eq!(
        r.stages.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
        ["awareness", "consideration", "purchase", "service", "retention", UNCLASSIFIED]
    );
    let ad = &r.stages[0].touchpoints[0];
    rows.push(("ad conversion".into(), opt(ad.conversion_rate), 0.25, 1e-15));
    rows.push(("ad conversion lift".into(), opt(ad.conversion_lift), 0.625, 1e-15));
    rows.push(("ad churn".into(), opt(ad.churn_rate), 0.75, 1e-15));
    rows.push(("ad churn lift".into(), opt(ad.churn_lift), 1.25, 1e-15));
    rows.push(("ad share".into(), ad.share, 0.8, 1e-15));
    let page = &r.stages[1].touchpoints[0];
    rows.push(("page exit rate".into(), page.exit_rate, 0.4, 1e-15));
    // Most touchpoints are alone with their column's customers (no peers, no test). Three
    // tests run: order's churn (1 of 2 vs customer 5, 1 of 1), and misc, unclassified so
    // compared with everyone: churn 0 of 1 vs 3 of 4, conversion 0 of 1 vs 2 of 4.
    assert_eq!(r.tests, 3);
    let order = r.stages[2].touchpoints.iter().find(|t| t.key == "order").unwrap();
    let misc = &r.stages[5].touchpoints[0];
    let (oc, mc, mv) =
        (order.churn_test.clone().unwrap(), misc.churn_test.clone().unwrap(), misc.conversion_test.clone().unwrap());
    assert!(order.conversion_test.is_none(), "the goal is not tested for conversion");
    rows.extend([
        ("order churn groups".into(), (oc.customers * 10 + oc.peers) as f64, 21.0, 0.0),
        // pooled 2/3: z = (1/2 − 1) / sqrt(2/9 · 3/2)
        ("order churn z".into(), oc.z, -0.866_025_403_784_438_6, 1e-15),
        ("misc churn groups".into(), (mc.customers * 10 + mc.peers) as f64, 14.0, 0.0),
        // pooled 3/5: z = (0 − 3/4) / sqrt(6/25 · 5/4)
        ("misc churn z".into(), mc.z, -1.369_306_393_762_915_3, 1e-14),
        ("misc conversion peer rate".into(), mv.peer_rate, 0.5, 0.0),
    ]);
    assert!(r.pain_points.is_empty(), "nothing is significant with so few customers");
    check(&rows);

    // Against all customers: ad churned 3 of 4 vs 0 of 1 (customer 3); pooled 0.6, so
    // z = 0.75 / sqrt(0.6 · 0.4 · (1/4 + 1)) = 1.3693063937629153.
    let all = JourneyMapQuery { compare: Comparison::All, ..q };
    let r = journey_map(&set, &dict, &all).unwrap();
    let t = r.stages[0].touchpoints[0].churn_test.clone().expect("tested");
    check(&[
        ("ad churn n1".into(), t.customers as f64, 4.0, 0.0),
        ("ad churn n2".into(), t.peers as f64, 1.0, 0.0),
        ("ad churn rate".into(), t.rate, 0.75, 0.0),
        ("ad churn peer rate".into(), t.peer_rate, 0.0, 0.0),
        ("ad churn z".into(), t.z, 1.369_306_393_762_915_3, 1e-14),
    ]);

    // An explicit goal, and an unknown one.
    let cart_goal = JourneyMapQuery { goal: Some("cart".into()), ..JourneyMapQuery::new(1000) };
    let r = journey_map(&set, &dict, &cart_goal).unwrap();
    assert_eq!(r.baseline.converted, 3);
    assert!(
        journey_map(&set, &dict, &JourneyMapQuery { goal: Some("nope".into()), ..JourneyMapQuery::new(0) }).is_err()
    );
    // The query is a plan: JSON with defaults, and the report serializes.
    let parsed: JourneyMapQuery = serde_json::from_str(r#"{"now_s": 1000}"#).unwrap();
    assert_eq!(parsed, JourneyMapQuery::new(1000));
    assert_eq!(parsed.churn_horizon_s, 90 * 86_400);
    assert!(serde_json::to_string(&journey_map(&set, &dict, &parsed).unwrap()).unwrap().contains("\"emotion_curve\""));
    // Before the epoch nothing is observed.
    let r = journey_map(&set, &dict, &JourneyMapQuery::new(-5)).unwrap();
    assert_eq!(r.baseline.journeys, 0);
    assert!(r.pain_points.is_empty());
}

/// key → [reach, before goal, converted, before churn, churned, exits, to next, median].
fn flatten(r: &JourneyMapReport) -> BTreeMap<String, [f64; 8]> {
    let mut out = BTreeMap::new();
    for c in &r.stages {
        out.insert(
            c.key.clone(),
            [
                c.customers as f64,
                c.before_goal as f64,
                c.converted as f64,
                c.before_churn as f64,
                c.churned as f64,
                c.exits as f64,
                c.to_next_stage as f64,
                opt(c.median_s_to_next_stage),
            ],
        );
        for t in &c.touchpoints {
            out.insert(
                t.key.clone(),
                [
                    t.reach as f64,
                    t.before_goal as f64,
                    t.converted as f64,
                    t.before_churn as f64,
                    t.churned as f64,
                    t.exits as f64,
                    t.to_next_stage as f64,
                    opt(t.median_s_to_next_stage),
                ],
            );
        }
    }
    out
}

/// The reference: everything from the definitions, customer by customer.
struct Reference {
    journeys: usize,
    converted: usize,
    churned: usize,
    by_signal: usize,
    /// Per touchpoint index and per column ("col:i"): the customers in each role.
    reach: BTreeMap<String, BTreeSet<usize>>,
    before_goal: BTreeMap<String, BTreeSet<usize>>,
    before_churn: BTreeMap<String, BTreeSet<usize>>,
    exits: BTreeMap<String, usize>,
    durations: BTreeMap<String, Vec<u32>>,
    churned_set: BTreeSet<usize>,
    converted_set: BTreeSet<usize>,
    /// Customers with any known event before their churn point / before their goal.
    any_before_churn: BTreeSet<usize>,
    any_before_goal: BTreeSet<usize>,
}

fn reference(set: &JourneySet, dict: &Dictionary, goal: Option<Tp>, now_s: i64, horizon: i64) -> Reference {
    let n = dict.touchpoints.len();
    let stages = dict.stages.len();
    let col = |tp: Tp| dict.stage_index(tp).unwrap_or(stages);
    let mut r = Reference {
        journeys: 0,
        converted: 0,
        churned: 0,
        by_signal: 0,
        reach: BTreeMap::new(),
        before_goal: BTreeMap::new(),
        before_churn: BTreeMap::new(),
        exits: BTreeMap::new(),
        durations: BTreeMap::new(),
        churned_set: BTreeSet::new(),
        converted_set: BTreeSet::new(),
        any_before_churn: BTreeSet::new(),
        any_before_goal: BTreeSet::new(),
    };
    for (c, j) in set.iter().enumerate() {
        // Observed events, as (unix time, touchpoint).
        let ev: Vec<(i64, Tp)> = j
            .times
            .iter()
            .zip(j.touchpoints)
            .map(|(&t, &tp)| (set.epoch_s + t as i64, tp))
            .filter(|&(t, _)| t <= now_s)
            .collect();
        if ev.is_empty() {
            continue;
        }
        r.journeys += 1;
        let known = |tp: Tp| (tp as usize) < n;
        let fs = ev.iter().position(|&(_, tp)| known(tp) && dict.get(tp).churn);
        let fg = ev.iter().position(|&(_, tp)| Some(tp) == goal);
        let silent = now_s - ev.last().unwrap().0 > horizon;
        let churned = fs.is_some() || silent;
        if churned {
            r.churned += 1;
            r.churned_set.insert(c);
        }
        if fs.is_some() {
            r.by_signal += 1;
        }
        if fg.is_some() {
            r.converted += 1;
            r.converted_set.insert(c);
        }
        let fs = fs.unwrap_or(ev.len());
        let fg = fg.unwrap_or(ev.len());
        if fs > 0 {
            r.any_before_churn.insert(c);
        }
        if fg > 0 {
            r.any_before_goal.insert(c);
        }
        for (i, &(_, tp)) in ev.iter().enumerate() {
            if !known(tp) {
                continue;
            }
            for key in [format!("{tp}"), format!("col:{}", col(tp))] {
                r.reach.entry(key.clone()).or_default().insert(c);
                if i < fg {
                    r.before_goal.entry(key.clone()).or_default().insert(c);
                }
                if i < fs {
                    r.before_churn.entry(key.clone()).or_default().insert(c);
                }
            }
        }
        if churned {
            let e = if fs < ev.len() { fs.checked_sub(1) } else { Some(ev.len() - 1) };
            if let Some(e) = e {
                if known(ev[e].1) {
                    *r.exits.entry(format!("{}", ev[e].1)).or_default() += 1;
                    *r.exits.entry(format!("col:{}", col(ev[e].1))).or_default() += 1;
                }
            }
        }
        // Time to the next stage, from the first event of each touchpoint and column.
        let mut firsts: BTreeMap<String, usize> = BTreeMap::new();
        for (i, &(_, tp)) in ev.iter().enumerate() {
            if known(tp) && col(tp) < stages {
                firsts.entry(format!("{tp}")).or_insert(i);
                firsts.entry(format!("col:{}", col(tp))).or_insert(i);
            }
        }
        for (key, i) in firsts {
            let s = col(ev[i].1);
            let next = ev[i + 1..].iter().find(|&&(_, tp)| known(tp) && col(tp) < stages && col(tp) > s);
            if let Some(&(t, _)) = next {
                r.durations.entry(key).or_default().push((t - ev[i].0) as u32);
            }
        }
    }
    r
}

/// Compare the kernel's report with the reference, number by number.
fn compare(set: &JourneySet, dict: &Dictionary, q: &JourneyMapQuery) -> Result<(), TestCaseError> {
    let goal = match &q.goal {
        Some(k) => dict.find(k),
        None => dict.goals().first().copied(),
    };
    let report = journey_map(set, dict, q).unwrap();
    let r = reference(set, dict, goal, q.now_s, q.churn_horizon_s);
    let b = &report.baseline;
    prop_assert_eq!(b.journeys, r.journeys);
    prop_assert_eq!(b.converted, if goal.is_some() { r.converted } else { 0 });
    prop_assert_eq!(b.churned, r.churned);
    prop_assert_eq!(b.churned_by_signal, r.by_signal);
    let stages = dict.stages.len();
    let size = |m: &BTreeMap<String, BTreeSet<usize>>, k: &str| m.get(k).map_or(0, BTreeSet::len);
    let count_in = |m: &BTreeMap<String, BTreeSet<usize>>, k: &str, among: &BTreeSet<usize>| {
        m.get(k).map_or(0, |s| s.intersection(among).count())
    };
    let median = |k: &str| {
        let mut v = r.durations.get(k).cloned().unwrap_or_default();
        v.sort_unstable();
        (v.len(), median_sorted(&v))
    };
    // Columns.
    let has_unclassified = (0..dict.touchpoints.len()).any(|i| dict.stage_index(i as Tp).is_none());
    prop_assert_eq!(report.stages.len(), stages + usize::from(has_unclassified));
    prop_assert_eq!(report.emotion_curve.len(), report.stages.len());
    let mut seen_tps = BTreeSet::new();
    for (ci, c) in report.stages.iter().enumerate() {
        let key = format!("col:{ci}");
        prop_assert_eq!(&c.key, &if ci < stages { dict.stages[ci].clone() } else { UNCLASSIFIED.to_string() });
        prop_assert_eq!(c.customers, size(&r.reach, &key), "{} customers", c.key);
        prop_assert_eq!(c.before_goal, if goal.is_some() { size(&r.before_goal, &key) } else { c.before_goal });
        prop_assert_eq!(c.converted, count_in(&r.before_goal, &key, &r.converted_set));
        prop_assert_eq!(c.before_churn, size(&r.before_churn, &key));
        prop_assert_eq!(c.churned, count_in(&r.before_churn, &key, &r.churned_set));
        prop_assert_eq!(c.exits, r.exits.get(&key).copied().unwrap_or(0));
        prop_assert_eq!((c.to_next_stage, c.median_s_to_next_stage), median(&key), "{} to next stage", c.key);
        for t in &c.touchpoints {
            let i = dict.find(&t.key).unwrap();
            seen_tps.insert(i as usize);
            let key = format!("{i}");
            prop_assert_eq!(t.reach, size(&r.reach, &key), "{} reach", t.key);
            prop_assert!((t.share - t.reach as f64 / r.journeys as f64).abs() < 1e-15);
            if goal.is_some() {
                prop_assert_eq!(t.before_goal, size(&r.before_goal, &key), "{} before goal", t.key);
                prop_assert_eq!(t.converted, count_in(&r.before_goal, &key, &r.converted_set));
                let want = (t.before_goal > 0).then(|| t.converted as f64 / t.before_goal as f64);
                prop_assert_eq!(t.conversion_rate, want);
            } else {
                prop_assert_eq!(t.conversion_rate, None);
            }
            prop_assert_eq!(t.before_churn, size(&r.before_churn, &key), "{} before churn", t.key);
            prop_assert_eq!(t.churned, count_in(&r.before_churn, &key, &r.churned_set), "{} churned", t.key);
            let exits = r.exits.get(&key).copied().unwrap_or(0);
            prop_assert_eq!(t.exits, exits, "{} exits", t.key);
            prop_assert!((t.exit_rate - exits as f64 / t.reach as f64).abs() < 1e-15);
            prop_assert_eq!((t.to_next_stage, t.median_s_to_next_stage), median(&key), "{} to next stage", t.key);
            prop_assert_eq!(t.satisfaction, None);
        }
    }
    let reached: BTreeSet<usize> = r.reach.keys().filter_map(|k| k.parse().ok()).collect();
    prop_assert_eq!(seen_tps, reached);

    // The tests: peers from the reference's sets, z and p from scratch, one BH family.
    let mut expected = vec![]; // (tp, churn?, x1, n1, x2, n2)
    for i in 0..dict.touchpoints.len() {
        let key = format!("{i}");
        if !r.reach.contains_key(&key) || dict.get(i as Tp).churn {
            continue;
        }
        let ci = dict.stage_index(i as Tp).unwrap_or(stages);
        let by_col = q.compare == Comparison::Stage && ci < stages;
        let empty = BTreeSet::new();
        let groups = [
            (true, &r.before_churn, &r.any_before_churn, &r.churned_set),
            (false, &r.before_goal, &r.any_before_goal, &r.converted_set),
        ];
        for (is_churn, role, any, outcome) in groups {
            if !is_churn && (goal.is_none() || goal == Some(i as Tp)) {
                continue;
            }
            let touched = role.get(&key).unwrap_or(&empty);
            let universe = if by_col { role.get(&format!("col:{ci}")).unwrap_or(&empty) } else { any };
            let peers: BTreeSet<usize> = universe.difference(touched).copied().collect();
            let min = q.min_customers.max(1);
            if touched.len() >= min && peers.len() >= min {
                let x1 = touched.intersection(outcome).count();
                let x2 = peers.intersection(outcome).count();
                expected.push((i, is_churn, x1, touched.len(), x2, peers.len()));
            }
        }
    }
    prop_assert_eq!(report.tests, expected.len());
    let z: Vec<_> = expected.iter().map(|e| two_proportion_z(e.2 as u64, e.3 as u64, e.4 as u64, e.5 as u64)).collect();
    let qs = benjamini_hochberg(&z.iter().map(|z| z.p).collect::<Vec<_>>());
    let mut pain = BTreeSet::new();
    for ((e, z), qv) in expected.iter().zip(&z).zip(&qs) {
        let key = dict.key(e.0 as Tp);
        let t = report.stages.iter().flat_map(|c| &c.touchpoints).find(|t| t.key == key).unwrap();
        let got = if e.1 { t.churn_test.clone() } else { t.conversion_test.clone() };
        let got = got.ok_or_else(|| TestCaseError::fail(format!("{key} not tested")))?;
        prop_assert_eq!((got.customers, got.peers), (e.3, e.5), "{} groups", key);
        prop_assert!((got.rate - e.2 as f64 / e.3 as f64).abs() < 1e-15);
        prop_assert!((got.peer_rate - e.4 as f64 / e.5 as f64).abs() < 1e-15);
        prop_assert!((got.z - z.z).abs() < 1e-12 && (got.p - z.p).abs() < 1e-12 && (got.q - qv).abs() < 1e-12);
        let gap = if e.1 { got.rate - got.peer_rate } else { got.peer_rate - got.rate };
        prop_assert_eq!(got.adverse, *qv <= q.alpha && gap > 0.0);
        // Whole customers; the lower bound from the unpooled standard error of the gap.
        let (r1, r2) = (e.2 as f64 / e.3 as f64, e.4 as f64 / e.5 as f64);
        let se = (r1 * (1.0 - r1) / e.3 as f64 + r2 * (1.0 - r2) / e.5 as f64).sqrt();
        prop_assert_eq!(got.customers_lost, (e.3 as f64 * gap).round());
        prop_assert_eq!(got.customers_lost_low, (e.3 as f64 * (gap - 1.96 * se)).max(0.0).floor());
        prop_assert!(got.customers_lost_low <= got.customers_lost.max(0.0) + 1.0);
        if got.adverse {
            pain.insert(key.to_string());
        }
    }
    let listed: BTreeSet<String> = report.pain_points.iter().map(|p| p.touchpoint.clone()).collect();
    prop_assert_eq!(listed, pain);
    for w in report.pain_points.windows(2) {
        prop_assert!(
            (w[0].customers_lost_low, w[0].customers_lost) >= (w[1].customers_lost_low, w[1].customers_lost),
            "pain points ranked by the cost's lower bound, then the estimate"
        );
    }
    Ok(())
}

/// A random dictionary (stages, some touchpoints without a known stage, random goal and
/// churn flags) and journey set (times from a small range, so ties and horizon edges are
/// common; now somewhere inside; a few touchpoint indexes outside the dictionary).
fn arb_case() -> impl Strategy<Value = (JourneySet, Dictionary, JourneyMapQuery)> {
    (1usize..8, 0usize..5)
        .prop_flat_map(|(n, stages)| {
            let tps = prop::collection::vec((0..stages + 2, prop::bool::weighted(0.25), prop::bool::weighted(0.2)), n);
            let events = prop::collection::vec((0i64..25, 0i64..40, 0..n as u16 + 1), 0..120);
            let goal = prop::option::of(0..n);
            (Just(stages), tps, events, goal, 0i64..50, 0i64..40, 0usize..4, any::<bool>(), 0.01f64..0.5)
        })
        .prop_map(|(stages, tps, events, goal, now, horizon, min, all, alpha)| {
            let dict = Dictionary {
                touchpoints: tps
                    .iter()
                    .enumerate()
                    .map(|(i, &(s, conversion, churn))| {
                        // s < stages: a stage; s == stages: none; s == stages + 1: one not listed.
                        let stage = if s < stages {
                            Some(format!("s{s}"))
                        } else if s == stages {
                            None
                        } else {
                            Some("x".into())
                        };
                        tp(&format!("t{i}"), stage.as_deref(), conversion, churn)
                    })
                    .collect(),
                stages: (0..stages).map(|s| format!("s{s}")).collect(),
            };
            let epoch = 1_000;
            let set = JourneySet::from_events(epoch, events.into_iter().map(|(c, t, tp)| (c, epoch + t, tp)));
            let q = JourneyMapQuery {
                goal: goal.map(|g| format!("t{g}")),
                churn_horizon_s: horizon,
                alpha,
                min_customers: min,
                compare: if all { Comparison::All } else { Comparison::Stage },
                ..JourneyMapQuery::new(epoch + now)
            };
            (set, dict, q)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn kernel_matches_the_reference((set, dict, q) in arb_case()) {
        compare(&set, &dict, &q)?;
        // The default goal too.
        compare(&set, &dict, &JourneyMapQuery { goal: None, ..q })?;
    }
}

#[test]
fn kernel_matches_the_reference_on_a_larger_set() {
    // Enough customers for several parallel chunks and for tests to run at the defaults.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let (set, dict, _) = golden_like(&mut next);
    for compare_with in [Comparison::Stage, Comparison::All] {
        let q = JourneyMapQuery {
            churn_horizon_s: 30 * 86_400,
            compare: compare_with,
            ..JourneyMapQuery::new(200 * 86_400)
        };
        compare(&set, &dict, &q).unwrap();
        let r = journey_map(&set, &dict, &q).unwrap();
        assert!(r.tests > 0);
    }
}

/// 3 000 customers over the golden dictionary, random walks through the stages.
fn golden_like(next: &mut impl FnMut(u64) -> u64) -> (JourneySet, Dictionary, ()) {
    let (_, dict) = golden();
    let mut events = vec![];
    for c in 0..3000i64 {
        let mut t = next(150 * 86_400) as i64;
        for _ in 0..1 + next(15) {
            let tp = next(dict.touchpoints.len() as u64) as Tp;
            events.push((c, t, tp));
            t += next(20 * 86_400) as i64;
        }
    }
    (JourneySet::from_events(0, events), dict, ())
}
