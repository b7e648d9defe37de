//! The attribution kernel against slow, obviously correct references written separately:
//! Markov conversion probabilities by value iteration (no linear solve), the touch-based
//! models by a direct per-conversion loop, Shapley values by enumerating all n! orders and
//! by Zhao et al.'s closed form; plus the properties every model must keep.

use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use touchpoint_analytics::attribution::shapley::ConversionGame;
use touchpoint_analytics::attribution::{run, AttributionQuery, AttributionReport, ConversionCount, Grouping, Model};
use touchpoint_analytics::{Dictionary, JourneySet};
use touchpoint_core::{Channel, Touchpoint};

const DAY: u32 = 86_400;
const GOAL: &str = "buy";

/// Touchpoint 0 is the goal; the others spread over three channels.
fn dictionary() -> Dictionary {
    let tps = [
        ("buy", Channel::Web),
        ("a", Channel::Web),
        ("b", Channel::Email),
        ("c", Channel::Ads),
        ("d", Channel::Web),
        ("e", Channel::Email),
    ];
    let touchpoints = tps
        .iter()
        .map(|&(k, c)| {
            let mut t = Touchpoint::discovered(k, k, c);
            t.conversion = k == GOAL;
            t
        })
        .collect();
    Dictionary { touchpoints, stages: vec![] }
}

/// Journeys as `(seconds after the previous event, touchpoint)`.
type Raw = Vec<Vec<(u32, u16)>>;

fn journey_set(raw: &Raw) -> JourneySet {
    let mut events = vec![];
    for (c, j) in raw.iter().enumerate() {
        let mut t = 0i64;
        for &(dt, tp) in j {
            t += i64::from(dt);
            events.push((c as i64, t, tp));
        }
    }
    JourneySet::from_events(0, events)
}

/// Each journey as `(time, player key)` with the goal as [`GOAL`], straight from the raw
/// data (already in time order: times only grow).
fn keyed(raw: &Raw, dict: &Dictionary, by: Grouping) -> Vec<Vec<(u32, String)>> {
    raw.iter()
        .map(|j| {
            let mut t = 0;
            j.iter()
                .map(|&(dt, tp)| {
                    t += dt;
                    let tp = dict.get(tp);
                    let key = match by {
                        _ if tp.key == GOAL => GOAL.to_string(),
                        Grouping::Touchpoint => tp.key.clone(),
                        Grouping::Channel => tp.channel.as_str().to_string(),
                    };
                    (t, key)
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Markov reference: value iteration.

/// Removal effects and credits of an order-`k` chain, by value iteration to convergence.
struct MarkovRef {
    p_conversion: f64,
    effects: BTreeMap<String, f64>,
}

fn markov_reference(journeys: &[Vec<(u32, String)>], order: usize) -> MarkovRef {
    // A state is the list of the last `order` players; "" is start.
    let mut counts: HashMap<String, HashMap<String, f64>> = HashMap::new();
    let mut last_of: HashMap<String, String> = HashMap::new();
    for j in journeys {
        let end = j.iter().position(|(_, k)| k == GOAL).unwrap_or(j.len());
        let mut history: Vec<&str> = vec![];
        let mut state = String::new();
        for (_, k) in &j[..end] {
            history.push(k);
            let from = history.len().saturating_sub(order);
            let next = history[from..].join(">");
            last_of.insert(next.clone(), k.clone());
            *counts.entry(state).or_default().entry(next.clone()).or_default() += 1.0;
            state = next;
        }
        let exit = if end < j.len() { "(conversion)" } else { "(null)" };
        *counts.entry(state).or_default().entry(exit.to_string()).or_default() += 1.0;
    }
    let players: std::collections::BTreeSet<String> = last_of.values().cloned().collect();
    let solve = |removed: Option<&str>| -> f64 {
        let mut p: HashMap<&str, f64> = counts.keys().map(|s| (s.as_str(), 0.0)).collect();
        for _ in 0..1_000_000 {
            let mut change: f64 = 0.0;
            for (s, next) in &counts {
                let total: f64 = next.values().sum();
                let v: f64 = next
                    .iter()
                    .map(|(t, c)| {
                        let value = match t.as_str() {
                            "(conversion)" => 1.0,
                            "(null)" => 0.0,
                            t if removed.is_some_and(|x| last_of[t] == x) => 0.0,
                            t => p[t],
                        };
                        c / total * value
                    })
                    .sum();
                change = change.max((v - p[s.as_str()]).abs());
                p.insert(s.as_str(), v);
            }
            if change < 1e-15 {
                break;
            }
        }
        p.get("").copied().unwrap_or(0.0)
    };
    let p_conversion = solve(None);
    let effects = players
        .iter()
        .map(|x| {
            let e = if p_conversion > 0.0 { 1.0 - solve(Some(x)) / p_conversion } else { 0.0 };
            (x.clone(), e)
        })
        .collect();
    MarkovRef { p_conversion, effects }
}

// ---------------------------------------------------------------------------------------
// Touch-based reference: a direct loop over conversions.

struct TouchRef {
    conversions: u64,
    unattributed: f64,
    credits: HashMap<(Model, String), f64>,
}

fn touch_reference(journeys: &[Vec<(u32, String)>], q: &AttributionQuery) -> TouchRef {
    let mut out = TouchRef { conversions: 0, unattributed: 0.0, credits: HashMap::new() };
    let mut sets: HashMap<Vec<String>, f64> = HashMap::new();
    for j in journeys {
        let mut previous: Option<usize> = None;
        for i in 0..j.len() {
            if j[i].1 != GOAL {
                continue;
            }
            out.conversions += 1;
            let start = previous.map_or(0, |p| p + 1);
            let touches: Vec<&(u32, String)> =
                j[start..i].iter().filter(|(t, _)| i64::from(j[i].0 - t) <= q.lookback_s).collect();
            previous = Some(i);
            let k = touches.len();
            if k == 0 {
                out.unattributed += 1.0;
            } else {
                let mut give = |m: Model, key: &str, c: f64| {
                    *out.credits.entry((m, key.to_string())).or_default() += c;
                };
                give(Model::FirstTouch, &touches[0].1, 1.0);
                give(Model::LastTouch, &touches[k - 1].1, 1.0);
                let w: Vec<f64> =
                    touches.iter().map(|(t, _)| 0.5f64.powf(f64::from(j[i].0 - t) / q.half_life_s as f64)).collect();
                let total: f64 = w.iter().sum();
                for (n, (_, key)) in touches.iter().enumerate() {
                    give(Model::Linear, key, 1.0 / k as f64);
                    give(Model::TimeDecay, key, w[n] / total);
                    let pos = match (k, n) {
                        (1, _) => 1.0,
                        (2, _) => 0.5,
                        (_, 0) => 0.4,
                        (_, n) if n == k - 1 => 0.4,
                        _ => 0.2 / (k - 2) as f64,
                    };
                    give(Model::PositionBased, key, pos);
                }
                let mut set: Vec<String> = touches.iter().map(|(_, k)| k.clone()).collect();
                set.sort();
                set.dedup();
                *sets.entry(set).or_default() += 1.0;
            }
            if q.conversions == ConversionCount::First {
                break;
            }
        }
    }
    // Shapley by Zhao et al.'s closed form: each touch set's conversions split evenly.
    for (set, r) in sets {
        for key in &set {
            *out.credits.entry((Model::Shapley, key.clone())).or_default() += r / set.len() as f64;
        }
    }
    out
}

fn credit(report: &AttributionReport, m: Model, key: &str) -> f64 {
    report.rows.iter().find(|r| r.key == key).map_or(0.0, |r| r.credits[&m].credit)
}

fn arb_raw() -> impl Strategy<Value = Raw> {
    let event = (prop_oneof![Just(0u32), 0..4 * DAY], 0u16..6);
    prop::collection::vec(prop::collection::vec(event, 1..9), 1..30)
}

fn arb_query() -> impl Strategy<Value = AttributionQuery> {
    (
        prop_oneof![Just(ConversionCount::First), Just(ConversionCount::Every)],
        prop_oneof![Just(Grouping::Touchpoint), Just(Grouping::Channel)],
        prop_oneof![Just(0i64), Just(i64::from(DAY)), Just(5 * i64::from(DAY)), Just(30 * i64::from(DAY))],
        prop_oneof![Just(3600i64), Just(i64::from(DAY)), Just(7 * i64::from(DAY))],
    )
        .prop_map(|(conversions, by, lookback_s, half_life_s)| AttributionQuery {
            goal: GOAL.into(),
            conversions,
            by,
            lookback_s,
            half_life_s,
            models: Model::ALL.to_vec(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Markov (orders 1–3) against value iteration; the touch-based models and Shapley
    /// against the direct loop; and the invariants of every report.
    #[test]
    fn kernel_matches_the_references(raw in arb_raw(), q in arb_query()) {
        let dict = dictionary();
        let report = run(&journey_set(&raw), &dict, &q).unwrap();
        let journeys = keyed(&raw, &dict, q.by);

        let touch = touch_reference(&journeys, &q);
        prop_assert_eq!(report.conversions, touch.conversions);
        prop_assert_eq!(report.journeys, raw.len() as u64);
        let converting = journeys.iter().filter(|j| j.iter().any(|(_, k)| k == GOAL)).count() as u64;
        prop_assert_eq!(report.converting_journeys, converting);
        let keys: Vec<String> = report.rows.iter().map(|r| r.key.clone()).collect();
        for m in [Model::FirstTouch, Model::LastTouch, Model::Linear, Model::TimeDecay, Model::PositionBased, Model::Shapley] {
            for (mm, key) in touch.credits.keys() {
                if *mm == m {
                    prop_assert!(keys.contains(key), "{:?} credits {} but there is no row", m, key);
                }
            }
            for key in &keys {
                let want = touch.credits.get(&(m, key.clone())).copied().unwrap_or(0.0);
                let got = credit(&report, m, key);
                prop_assert!((got - want).abs() < 1e-6, "{:?} {}: {} vs {}", m, key, got, want);
            }
            let s = report.models.iter().find(|s| s.model == m).unwrap();
            prop_assert!((s.unattributed - touch.unattributed).abs() < 1e-12);
        }

        for (details, order) in report.markov.iter().zip(1..) {
            prop_assert_eq!(details.order, order);
            let reference = markov_reference(&journeys, order);
            prop_assert!((details.p_conversion - reference.p_conversion).abs() < 1e-9);
            // A first-order chain fitted to whole paths reproduces the observed rate.
            let observed = details.converting_paths as f64 / details.paths as f64;
            prop_assert!((details.p_conversion - observed).abs() < 1e-9, "{} vs {}", details.p_conversion, observed);
            prop_assert_eq!(details.removal_effects.len(), reference.effects.len());
            let total: f64 = reference.effects.values().sum();
            for (key, want) in &reference.effects {
                let got = details.removal_effects[key];
                prop_assert!((got - want).abs() < 1e-8, "order {} {}: {} vs {}", order, key, got, want);
                let m = [Model::Markov, Model::Markov2, Model::Markov3][order - 1];
                let want_credit = if total > 0.0 { report.conversions as f64 * want / total } else { 0.0 };
                prop_assert!((credit(&report, m, key) - want_credit).abs() < 1e-7);
            }
        }

        for s in &report.models {
            prop_assert!((s.attributed + s.unattributed - report.conversions as f64).abs() < 1e-9, "{:?}", s);
            for r in &report.rows {
                prop_assert!(r.credits[&s.model].credit >= -1e-12, "{:?} {}", s.model, r.key);
            }
        }
    }

    /// Journeys of one touch each: every model gives each conversion to that touch.
    #[test]
    fn single_touch_journeys_get_full_credit_everywhere(touches in prop::collection::vec(1u16..6, 1..40), lost in prop::collection::vec(1u16..6, 0..5)) {
        let dict = dictionary();
        let mut raw: Raw = touches.iter().map(|&t| vec![(0, t), (60, 0)]).collect();
        // Customers who never convert do not change anything here: removing a touchpoint
        // removes exactly its own conversions.
        raw.extend(lost.iter().map(|&t| vec![(0, t)]));
        let q = AttributionQuery { goal: GOAL.into(), models: Model::ALL.to_vec(), ..Default::default() };
        let report = run(&journey_set(&raw), &dict, &q).unwrap();
        prop_assert_eq!(report.conversions, touches.len() as u64);
        for r in &report.rows {
            let tp = dict.find(&r.key).unwrap();
            let want = touches.iter().filter(|&&t| t == tp).count() as f64;
            for (m, c) in &r.credits {
                prop_assert!((c.credit - want).abs() < 1e-9, "{:?} {}: {} vs {}", m, r.key, c.credit, want);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shapley: the game itself.

/// Every order of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = vec![];
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

/// Shapley values by averaging marginal contributions over all n! orders, with worths
/// straight from the definition.
fn brute_force(game: &ConversionGame) -> Vec<f64> {
    let n = game.players;
    let orders = permutations(n);
    let mut phi = vec![0.0; n];
    for order in &orders {
        let mut members = vec![false; n];
        for &j in order {
            let before = game.value(&members);
            members[j] = true;
            phi[j] += game.value(&members) - before;
        }
    }
    phi.iter().map(|x| x / orders.len() as f64).collect()
}

/// A game from `(mask, conversions)` pairs (empty masks dropped, repeats merged).
fn game(n: usize, sets: &[(u32, u64)]) -> ConversionGame {
    let mut by_mask: BTreeMap<u32, u64> = BTreeMap::new();
    for &(mask, r) in sets {
        let mask = mask & ((1 << n) - 1);
        if mask != 0 {
            *by_mask.entry(mask).or_default() += r;
        }
    }
    let coalitions =
        by_mask.into_iter().map(|(mask, r)| ((0..n as u32).filter(|&p| mask & 1 << p != 0).collect(), r)).collect();
    ConversionGame { players: n, coalitions }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn shapley_matches_all_orders(n in 1usize..=6, sets in prop::collection::vec((0u32..64, 1u64..50), 0..20)) {
        let g = game(n, &sets);
        let kernel = g.closed_form();
        let brute = brute_force(&g);
        for j in 0..n {
            prop_assert!((kernel[j] - brute[j]).abs() < 1e-9, "player {}: {} vs {}", j, kernel[j], brute[j]);
            prop_assert!(kernel[j] >= 0.0);
        }
        // Efficiency: Σφ = v(N) − v(∅) (v(∅) = 0: empty touch sets are not in the game).
        let all = g.value(&vec![true; n]);
        prop_assert_eq!(g.value(&vec![false; n]), 0.0);
        prop_assert!((kernel.iter().sum::<f64>() - all).abs() < 1e-9);
    }

    #[test]
    fn interchangeable_players_get_equal_credit(n in 2usize..=8, sets in prop::collection::vec((0u32..256, 1u64..50), 0..20)) {
        // Add every set's image under swapping players 0 and 1: the game is symmetric in them.
        let swap = |m: u32| (m & !3) | ((m & 1) << 1) | ((m >> 1) & 1);
        let mut both = sets.clone();
        both.extend(sets.iter().map(|&(m, r)| (swap(m), r)));
        let g = game(n, &both);
        let phi = g.closed_form();
        prop_assert!((phi[0] - phi[1]).abs() < 1e-9, "{:?}", phi);
    }
}

#[test]
fn large_games_are_exact_by_the_closed_form() {
    // 20 touchpoints, each journey a different pair of them: 20 Shapley players.
    let keys: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let mut touchpoints = vec![{
        let mut t = Touchpoint::discovered(GOAL, GOAL, Channel::Web);
        t.conversion = true;
        t
    }];
    touchpoints.extend(keys.iter().map(|k| Touchpoint::discovered(k, k, Channel::Web)));
    let dict = Dictionary { touchpoints, stages: vec![] };
    let mut events = vec![];
    for c in 0..60i64 {
        let (a, b) = ((c % 20) as u16 + 1, ((c * 7 + 3) % 20) as u16 + 1);
        events.extend([(c, 0, a), (c, 10, b), (c, 20, 0)]);
    }
    let set = JourneySet::from_events(0, events);
    let q = AttributionQuery { goal: GOAL.into(), models: vec![Model::Shapley], ..Default::default() };
    let r = run(&set, &dict, &q).unwrap();
    let s = r.shapley.as_ref().unwrap();
    assert_eq!(s.players, 20);
    assert!(r.models[0].method.starts_with("exact"), "{}", r.models[0].method);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["shapley"]["players"], 20);
    assert!((r.models[0].attributed - 60.0).abs() < 1e-9);
    // Each conversion's credit is split equally over its touch set.
    let mut want: HashMap<String, f64> = HashMap::new();
    for c in 0..60i64 {
        let (a, b) = (c % 20, (c * 7 + 3) % 20);
        for p in if a == b { vec![a] } else { vec![a, b] } {
            *want.entry(format!("t{p}")).or_default() += if a == b { 1.0 } else { 0.5 };
        }
    }
    for row in &r.rows {
        let got = row.credits[&Model::Shapley].credit;
        assert!((got - want[&row.key]).abs() <= 1e-9, "{}: {got} vs {}", row.key, want[&row.key]);
    }
}

#[test]
fn reports_do_not_depend_on_the_number_of_threads() {
    let mut raw: Raw = vec![];
    let mut x = 99u64;
    for _ in 0..3000 {
        let mut j = vec![];
        for _ in 0..(x % 12 + 1) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            j.push(((x >> 40) as u32 % (2 * DAY), ((x >> 20) % 6) as u16));
        }
        raw.push(j);
    }
    let set = journey_set(&raw);
    let dict = dictionary();
    for by in [Grouping::Touchpoint, Grouping::Channel] {
        let q = AttributionQuery { goal: GOAL.into(), by, models: Model::ALL.to_vec(), ..Default::default() };
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| run(&set, &dict, &q).unwrap())
        };
        let one = on(1);
        assert_eq!(one, on(3));
        assert_eq!(one, on(8));
    }
}
