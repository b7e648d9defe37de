//! Plans with filters and breakdowns, folded in place as selections, against the slow,
//! obvious way: copy the filtered journeys of each group into a set of their own (written
//! here from the filter's definition alone) and run the same analysis on the copy. Random
//! journey sets (with a touchpoint the dictionary does not have), random filters and
//! breakdowns, every analysis.

use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use touchpoint_analytics::churn::DEFAULT_CHURN_HORIZON_S;
use touchpoint_analytics::plan::{self, Plan};
use touchpoint_analytics::select::{self, Breakdown, Filter, Selection, Traits};
use touchpoint_analytics::{funnel, retention, Dictionary, JourneySet, Tp};
use touchpoint_core::CustomerId;

const EPOCH: i64 = 1_763_164_800;
const DAY: i64 = 86_400;
/// Touchpoints in the dictionary; the sets also hold index `KNOWN` (unknown to it).
const KNOWN: usize = 8;
const NOW: i64 = EPOCH + 60 * DAY;

fn dict() -> Dictionary {
    let mut catalog = touchpoint_core::catalog::default_catalog();
    catalog.touchpoints.truncate(KNOWN);
    catalog.touchpoints[KNOWN - 1].conversion = true;
    Dictionary::from_catalog(&catalog)
}

fn traits() -> Traits {
    let country = (0..20).filter(|c| c % 3 != 2).map(|c| (c, if c % 3 == 0 { "CZ" } else { "PL" }.to_string()));
    // Many values: more labels than a breakdown folds in one pass (in the larger sets).
    let city = (0..700).filter(|c| c % 7 != 0).map(|c| (c, format!("city {}", c % 90)));
    Traits::from([("country".to_string(), country.collect()), ("city".to_string(), city.collect())])
}

/// A customer and the events kept of their journey (unix seconds, touchpoint).
type Kept = (CustomerId, Vec<(i64, Tp)>);

/// The journeys the filter keeps, by the definition: trait values first, then the
/// events in the time range of kept touchpoints (known ones only), then the first touch.
fn filtered(set: &JourneySet, d: &Dictionary, f: &Filter, traits: &Traits) -> Vec<Kept> {
    let mut out = vec![];
    for j in set.iter() {
        if !f.traits.iter().all(|(k, v)| traits.get(k).and_then(|m| m.get(&j.customer)) == Some(v)) {
            continue;
        }
        let mut events = vec![];
        for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
            let abs = set.epoch_s + i64::from(t);
            if f.from.is_some_and(|from| abs < from) || f.to.is_some_and(|to| abs >= to) || usize::from(tp) >= KNOWN {
                continue;
            }
            let info = d.get(tp);
            let channel_ok = f.channels.is_empty() || f.channels.iter().any(|c| c == info.channel.as_str());
            let stage_ok = f.stages.is_empty() || info.stage.as_ref().is_some_and(|s| f.stages.contains(s));
            let kind_ok = f.kind.as_ref().is_none_or(|k| k == info.kind.as_str());
            if channel_ok && stage_ok && kind_ok && f.departments.is_empty() {
                events.push((abs, tp));
            }
        }
        let Some(&(_, first)) = events.first() else { continue };
        if !f.first_touch_channels.is_empty()
            && !f.first_touch_channels.iter().any(|c| c == d.get(first).channel.as_str())
        {
            continue;
        }
        out.push((j.customer, events));
    }
    out
}

/// The label of a kept journey.
fn label(d: &Dictionary, b: &Breakdown, traits: &Traits, c: CustomerId, first: Tp) -> String {
    let t = d.get(first);
    match b {
        Breakdown::FirstTouchChannel => t.channel.as_str().to_string(),
        Breakdown::FirstTouchStage => t.stage.clone().unwrap_or("(none)".into()),
        Breakdown::FirstTouchKind => t.kind.as_str().to_string(),
        Breakdown::FirstTouchDepartment => t.department.clone().unwrap_or("(none)".into()),
        Breakdown::Trait(k) => traits.get(k).and_then(|m| m.get(&c)).cloned().unwrap_or("(none)".into()),
    }
}

/// Numbers equal within a relative 1e-9 (sums of shares may add up in another order).
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// Run `kind` with the filter and breakdown as a plan, and the slow way; compare.
fn check(set: &JourneySet, kind: &str, query: Value, f: &Filter, b: Option<Breakdown>, max_groups: usize) {
    let (d, traits) = (dict(), traits());
    let p = Plan { query: query.clone(), filter: f.clone(), breakdown: b.clone(), max_groups };
    let got = plan::execute(kind, set, &d, &p, NOW, &traits);
    // The slow way: groups of copies. Churn over a period is who left from its start on,
    // read from one churn horizon before it.
    let (mut f, mut query) = (f.clone(), query);
    if kind == "churn" && query.get("left_from_s").is_none() {
        if let Some(from) = f.from {
            let horizon = query.get("churn_horizon_s").and_then(Value::as_i64).unwrap_or(DEFAULT_CHURN_HORIZON_S);
            query["left_from_s"] = json!(from);
            f.from = Some(from - horizon);
        }
    }
    let f = &f;
    let kept = filtered(set, &d, f, &traits);
    let mut groups: BTreeMap<String, Vec<Kept>> = BTreeMap::new();
    match &b {
        None => {
            groups.insert("all".into(), kept);
        }
        Some(b) => {
            let mut by: BTreeMap<String, Vec<_>> = BTreeMap::new();
            for (c, ev) in kept {
                by.entry(label(&d, b, &traits, c, ev[0].1)).or_default().push((c, ev));
            }
            let mut sizes: Vec<(String, usize)> = by.iter().map(|(l, v)| (l.clone(), v.len())).collect();
            sizes.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let top: Vec<String> = sizes.iter().take(max_groups.max(1)).map(|x| x.0.clone()).collect();
            for (l, v) in by {
                let g = if top.contains(&l) { l } else { "(other)".to_string() };
                groups.entry(g).or_default().extend(v);
            }
        }
    }
    let mut want: Vec<(String, usize, usize, Value)> = vec![];
    for (g, v) in groups {
        let copy =
            JourneySet::from_events(set.epoch_s, v.iter().flat_map(|(c, ev)| ev.iter().map(|&(t, tp)| (*c, t, tp))));
        let r = plan::execute(kind, &copy, &d, &Plan { query: query.clone(), ..Default::default() }, NOW, &traits);
        match r {
            Ok(mut r) => want.push((g, copy.customer_count(), copy.event_count(), r.remove(0).report)),
            Err(e) => {
                assert_eq!(got.as_ref().err().map(|e| e.message.clone()), Some(e.message), "{kind} {f:?} {b:?}");
                return;
            }
        }
    }
    want.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let got = got.unwrap_or_else(|e| panic!("{kind} {f:?} {b:?}: {e}"));
    let got: Vec<(String, usize, usize, Value)> =
        got.into_iter().map(|g| (g.group, g.customers, g.events, g.report)).collect();
    assert_eq!(got.len(), want.len(), "{kind} {f:?} {b:?}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g.0, g.1, g.2), (&w.0, w.1, w.2), "{kind} {f:?} {b:?}");
        assert!(close(&g.3, &w.3), "{kind} {f:?} {b:?}, group {}:\n{}\nvs\n{}", g.0, g.3, w.3);
    }
}

fn arb_set() -> impl Strategy<Value = JourneySet> {
    // 20 customers over 50 days, touchpoints 0..=KNOWN in half the sets (the last one
    // unknown: events a selection must drop), 0..KNOWN in the others (a time range alone
    // then cuts each journey in place).
    (prop::bool::ANY, prop::collection::vec((0..20i64, 0..50 * 24i64, 0..=KNOWN as u16), 1..120)).prop_map(
        |(unknown, evs)| {
            let tp = move |tp: Tp| if unknown { tp } else { tp % KNOWN as Tp };
            JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, h, t)| (c, EPOCH + h * 3_600, tp(t))))
        },
    )
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let d = dict();
    let mut channels: Vec<String> = d.touchpoints.iter().map(|t| t.channel.as_str().to_string()).collect();
    channels.dedup();
    let stages = d.stages.clone();
    let pick = |v: Vec<String>| prop::sample::subsequence(v.clone(), 0..=v.len().min(2));
    (
        prop::option::of(0..50i64),
        prop::option::of(0..50i64),
        pick(channels.clone()),
        pick(stages),
        prop::option::of(prop::sample::select(vec!["direct", "indirect"])),
        pick(channels),
        prop::option::of(prop::sample::select(vec!["CZ", "PL", "SK"])),
    )
        .prop_map(|(from, to, channels, stages, kind, first, country)| Filter {
            from: from.map(|d| EPOCH + d * DAY),
            to: to.map(|d| EPOCH + d * DAY),
            channels,
            stages,
            kind: kind.map(String::from),
            first_touch_channels: first,
            traits: country.map(|c| BTreeMap::from([("country".to_string(), c.to_string())])).unwrap_or_default(),
            ..Default::default()
        })
}

fn arb_breakdown() -> impl Strategy<Value = Option<Breakdown>> {
    prop::option::of(prop::sample::select(vec![
        Breakdown::FirstTouchChannel,
        Breakdown::FirstTouchStage,
        Breakdown::FirstTouchKind,
        Breakdown::FirstTouchDepartment,
        Breakdown::Trait("country".into()),
        Breakdown::Trait("city".into()),
    ]))
}

fn queries() -> Vec<(&'static str, Value)> {
    let d = dict();
    let key = |i: usize| d.touchpoints[i].key.clone();
    vec![
        ("funnel", json!({"steps": [key(0), key(1), key(7)], "window_s": 10 * DAY})),
        (
            "funnel",
            json!({"steps": [key(1), key(2), key(1), key(7)], "window_s": 20 * DAY, "mode": "strict",
                   "dropped_step": 1, "dropped_limit": 3}),
        ),
        ("transitions", json!({"top": 5})),
        ("sankey", json!({"start": key(1)})),
        ("retention", json!({"period": "week", "periods": 6})),
        ("journey-map", json!({"now_s": NOW})),
        ("churn", json!({"now_s": NOW, "churn_horizon_s": 10 * DAY, "min_customers": 1})),
        ("attribution", json!({"by": "channel"})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plans_on_selections_equal_the_analyses_of_copies(
        set in arb_set(), f in arb_filter(), b in arb_breakdown(), max_groups in 1..4usize,
    ) {
        for (kind, query) in queries() {
            check(&set, kind, query, &f, b.clone(), max_groups);
        }
    }
}

/// The funnels (default and strict, with a drop-off list) and retentions of a breakdown,
/// folded in one pass over the split selection, against each group's selection folded on
/// its own: the same reports, to the byte.
fn one_pass_equals_per_group(set: &JourneySet, f: &Filter, b: &Breakdown, max_groups: usize) {
    let (d, traits) = (dict(), traits());
    let key = |i: usize| d.touchpoints[i].key.clone();
    let sel = Selection::new(set, &d, f, &traits);
    let groups = select::breakdown(&sel, &d, b, &traits, max_groups);
    let by = select::Labeller::new(&d, b, &traits, max_groups);
    let Some(split) = sel.split(&by) else {
        // Too many labels for one pass (the city trait): the plan runs each group alone.
        assert!(matches!(b, Breakdown::Trait(k) if k == "city"), "{b:?}");
        return;
    };
    // The groups the one pass finds: those of the breakdown, with the same counts.
    let found: Vec<(String, usize, usize)> =
        split.groups().unwrap().iter().map(|g| (g.label.clone(), g.customers, g.events)).collect();
    let want: Vec<(String, usize, usize)> = (0..groups.labels.len())
        .map(|g| {
            let (c, e) = sel.group(&groups, g as u32).counts();
            (groups.labels[g].clone(), c, e)
        })
        .collect();
    assert_eq!(found, want, "{f:?} {b:?}");
    let funnels = [
        funnel::FunnelQuery { window_s: 10 * DAY, ..funnel::FunnelQuery::new([key(0), key(1), key(7)]) },
        funnel::FunnelQuery {
            mode: funnel::FunnelMode::Strict,
            dropped_step: Some(1),
            dropped_limit: 2,
            ..funnel::FunnelQuery::new([key(1), key(2), key(1), key(7)])
        },
        funnel::FunnelQuery { dropped_step: Some(2), ..funnel::FunnelQuery::new([key(2), key(3), key(5)]) },
    ];
    for q in &funnels {
        let one = funnel::run_groups(&split, &d, q).unwrap();
        assert_eq!(one.len(), groups.labels.len());
        for (g, r) in one.iter().enumerate() {
            let each = funnel::run(&sel.group(&groups, g as u32), &d, q).unwrap();
            assert_eq!(text(r), text(&each), "{q:?} {f:?} {b:?} group {}", groups.labels[g]);
        }
    }
    for q in [
        retention::RetentionQuery { period: retention::Period::Week, periods: 6, ..Default::default() },
        serde_json::from_value(json!({"period": "day", "periods": 20, "returning": key(7),
            "tz_offset_s": 3_600, "tz_transitions": [[EPOCH + 20 * DAY, 7_200]]}))
        .unwrap(),
    ] {
        let one = retention::run_groups(&split, &d, &q).unwrap();
        assert_eq!(one.len(), groups.labels.len());
        for (g, r) in one.iter().enumerate() {
            let each = retention::run(&sel.group(&groups, g as u32), &d, &q).unwrap();
            assert_eq!(text(r), text(&each), "{q:?} {f:?} {b:?} group {}", groups.labels[g]);
        }
    }
}

/// A report as JSON text, to compare reports byte for byte.
fn text<T: serde::Serialize>(report: &T) -> String {
    serde_json::to_string(report).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn breakdowns_in_one_pass_equal_each_group_on_its_own(
        set in arb_set(), f in arb_filter(), b in arb_breakdown(), max_groups in 1..4usize,
    ) {
        let b = b.unwrap_or(Breakdown::FirstTouchChannel);
        one_pass_equals_per_group(&set, &f, &b, max_groups);
    }
}

/// A few cases by hand: no filter, a time range only (the journeys are sub-slices), and
/// sets of many customers cut into ranges on every core, with and without a touchpoint
/// the dictionary does not have.
#[test]
fn golden_selections() {
    for tps in [KNOWN as i64, KNOWN as i64 + 1] {
        let set = JourneySet::from_events(
            EPOCH,
            (0..30_000i64).map(|i| ((i * 7919) % 700, EPOCH + (i % 1_000) * 3_600, (i % tps) as Tp)),
        );
        golden(&set);
    }
}

fn golden(set: &JourneySet) {
    let none = Filter::default();
    let range = Filter { from: Some(EPOCH + 5 * DAY), to: Some(EPOCH + 30 * DAY), ..Default::default() };
    let by_channel = Filter { channels: vec!["web".into(), "email".into()], ..Default::default() };
    for (kind, query) in queries() {
        for f in [&none, &range, &by_channel] {
            check(set, kind, query.clone(), f, None, 10);
            check(set, kind, query.clone(), f, Some(Breakdown::FirstTouchChannel), 2);
            check(set, kind, query.clone(), f, Some(Breakdown::Trait("country".into())), 10);
            // 90 labels: each group in a pass of its own.
            check(set, kind, query.clone(), f, Some(Breakdown::Trait("city".into())), 5);
        }
    }
    let (d, traits) = (dict(), traits());
    let sel = Selection::new(set, &d, &none, &traits);
    let many = select::Labeller::new(&d, &Breakdown::Trait("city".into()), &traits, 5);
    assert!(sel.split(&many).is_none(), "more labels than one pass folds");
    // Many customers cut into many ranges, every breakdown kind, one pass against each group.
    for f in [&none, &range, &by_channel] {
        for b in [
            Breakdown::FirstTouchChannel,
            Breakdown::FirstTouchStage,
            Breakdown::FirstTouchKind,
            Breakdown::FirstTouchDepartment,
            Breakdown::Trait("country".into()),
        ] {
            one_pass_equals_per_group(set, f, &b, 2);
            one_pass_equals_per_group(set, f, &b, 10);
        }
    }
}
