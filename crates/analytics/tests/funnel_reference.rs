//! The funnel kernel against a slow, obviously-correct reference written here from the
//! definitions alone (brute force over every chain of distinct events), on random journey
//! sets with ties, one-event customers, repeated step touchpoints and windows that end
//! exactly on an event; plus small golden cases through one data-driven `check()`.

use proptest::prelude::*;
use touchpoint_analytics::funnel::{self, FunnelDropped, FunnelMode, FunnelQuery, FunnelReport, FunnelStep};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{Channel, CustomerId, Touchpoint};

const KEYS: [&str; 6] = ["a", "b", "c", "d", "x", "y"];
const EPOCH: i64 = 1_700_000_000;

fn dict() -> Dictionary {
    Dictionary {
        touchpoints: KEYS.iter().map(|k| Touchpoint::discovered(k, k, Channel::Other)).collect(),
        stages: vec![],
    }
}

fn tp(key: &str) -> Tp {
    KEYS.iter().position(|k| *k == key).unwrap_or_else(|| panic!("no key {key}")) as Tp
}

// ---------------------------------------------------------------------------------------
// The reference.

/// Every valid chain of one customer: distinct events, steps in order, non-decreasing
/// times, last − first ≤ window. Returns the time vectors of all chains (any length ≥ 1).
fn all_chains(ev: &[(u32, Tp)], steps: &[Tp], window: u64) -> Vec<Vec<u32>> {
    fn go(ev: &[(u32, Tp)], steps: &[Tp], window: u64, used: &mut Vec<usize>, out: &mut Vec<Vec<u32>>) {
        if !used.is_empty() {
            out.push(used.iter().map(|&i| ev[i].0).collect());
        }
        if used.len() == steps.len() {
            return;
        }
        for e in 0..ev.len() {
            if used.contains(&e) || ev[e].1 != steps[used.len()] {
                continue;
            }
            if let (Some(&first), Some(&last)) = (used.first(), used.last()) {
                if ev[e].0 < ev[last].0 || u64::from(ev[e].0 - ev[first].0) > window {
                    continue;
                }
            }
            used.push(e);
            go(ev, steps, window, used, out);
            used.pop();
        }
    }
    let mut out = vec![];
    go(ev, steps, window, &mut vec![], &mut out);
    out
}

/// Default mode: the level, and the times of the chain that reached it earliest, each step
/// as late as possible (component-wise maximum of the chains completing earliest).
fn ref_default(ev: &[(u32, Tp)], steps: &[Tp], window: u64) -> (usize, Vec<u32>) {
    let chains = all_chains(ev, steps, window);
    let level = chains.iter().map(Vec::len).max().unwrap_or(0);
    if level == 0 {
        return (0, vec![]);
    }
    let full: Vec<&Vec<u32>> = chains.iter().filter(|c| c.len() == level).collect();
    let earliest = full.iter().map(|c| c[level - 1]).min().unwrap();
    let mut times = vec![0u32; level];
    for c in full.iter().filter(|c| c[level - 1] == earliest) {
        for (m, &t) in times.iter_mut().zip(c.iter()) {
            *m = (*m).max(t);
        }
    }
    (level, times)
}

/// Strict mode, from its definition: only step events count; from the first timestamp
/// with a step-1 event on, the first timestamp t holding an event that can serve no step
/// (step 1, or a step j ≥ 2 whose level j − 1 is reached with the events up to t) ends the
/// scan: the result is the default mode over the events up to t.
fn ref_strict(ev: &[(u32, Tp)], steps: &[Tp], window: u64) -> (usize, Vec<u32>) {
    let ev: Vec<(u32, Tp)> = ev.iter().copied().filter(|e| steps.contains(&e.1)).collect();
    let Some(first) = ev.iter().filter(|e| e.1 == steps[0]).map(|e| e.0).min() else {
        return ref_default(&ev, steps, window);
    };
    let mut times: Vec<u32> = ev.iter().map(|e| e.0).filter(|&t| t >= first).collect();
    times.dedup();
    for t in times {
        let upto: Vec<(u32, Tp)> = ev.iter().copied().filter(|e| e.0 <= t).collect();
        let (level, _) = ref_default(&upto, steps, window);
        let breaks = ev
            .iter()
            .filter(|e| e.0 == t)
            .any(|e| !steps.iter().enumerate().any(|(j, &s)| s == e.1 && (j == 0 || level >= j)));
        if breaks {
            return ref_default(&upto, steps, window);
        }
    }
    ref_default(&ev, steps, window)
}

fn ref_customer(ev: &[(u32, Tp)], steps: &[Tp], window: u64, mode: FunnelMode) -> (usize, Vec<u32>) {
    match mode {
        FunnelMode::Default => ref_default(ev, steps, window),
        FunnelMode::Strict => ref_strict(ev, steps, window),
    }
}

fn quantile(mut v: Vec<u32>, q: f64) -> Option<u64> {
    v.sort_unstable();
    let n = v.len();
    (n > 0).then(|| u64::from(v[((q * n as f64) as usize).min(n - 1)]))
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The whole report, the slow way.
fn ref_report(set: &JourneySet, q: &FunnelQuery) -> FunnelReport {
    let steps: Vec<Tp> = q.steps.iter().map(|k| tp(k)).collect();
    let k = steps.len();
    let mut reached = vec![0u64; k];
    let mut gaps: Vec<Vec<u32>> = vec![vec![]; k];
    let mut dropped: Vec<CustomerId> = vec![];
    for j in set.iter() {
        let ev: Vec<(u32, Tp)> = j.times.iter().copied().zip(j.touchpoints.iter().copied()).collect();
        let (level, times) = ref_customer(&ev, &steps, q.window_s as u64, q.mode);
        for s in 0..level {
            reached[s] += 1;
            if s > 0 {
                gaps[s].push(times[s] - times[s - 1]);
            }
        }
        if q.dropped_step == Some(level) {
            dropped.push(j.customer);
        }
    }
    let steps = (0..k)
        .map(|s| FunnelStep {
            step: s + 1,
            key: q.steps[s].clone(),
            customers: reached[s],
            from_previous: if s == 0 { ratio(reached[0], reached[0]) } else { ratio(reached[s], reached[s - 1]) },
            from_first: ratio(reached[s], reached[0]),
            median_s: if s == 0 { None } else { quantile(gaps[s].clone(), 0.5) },
            p90_s: if s == 0 { None } else { quantile(gaps[s].clone(), 0.9) },
        })
        .collect();
    let total = dropped.len() as u64;
    dropped.sort_unstable();
    dropped.truncate(q.dropped_limit);
    FunnelReport {
        total_customers: set.customer_count() as u64,
        steps,
        dropped: q.dropped_step.map(|step| FunnelDropped { step, total, customers: dropped }),
    }
}

// ---------------------------------------------------------------------------------------
// Properties.

fn arb_set() -> impl Strategy<Value = JourneySet> {
    // Few customers, few touchpoints, a narrow time range: many ties and repeats.
    prop::collection::vec((0..7i64, 0..25i64, 0..6u16), 1..45)
        .prop_map(|evs| JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, t, tp)| (c * 7 + 3, EPOCH + t, tp))))
}

fn arb_query() -> impl Strategy<Value = FunnelQuery> {
    (prop::collection::vec(0..4usize, 1..5), 1..14i64, prop::bool::ANY, prop::option::of(1..4usize), 0..4usize)
        .prop_map(|(steps, window_s, strict, dropped, limit)| {
            let k = steps.len();
            FunnelQuery {
                steps: steps.into_iter().map(|i| KEYS[i].to_string()).collect(),
                window_s,
                mode: if strict { FunnelMode::Strict } else { FunnelMode::Default },
                dropped_step: dropped.filter(|&d| d < k),
                dropped_limit: limit,
            }
        })
}

/// A wide time range: most customers have no two events in the same second (the kernel's
/// fast path for distinct steps), some still do.
fn arb_sparse_set() -> impl Strategy<Value = JourneySet> {
    prop::collection::vec((0..7i64, 0..400i64, 0..6u16), 1..80)
        .prop_map(|evs| JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, t, tp)| (c * 7 + 3, EPOCH + t, tp))))
}

/// Few customers with long journeys (the fast path reads 64 events at a time and stops
/// once the last step is reached).
fn arb_long_set() -> impl Strategy<Value = JourneySet> {
    prop::collection::vec((0..3i64, 0..4000i64, 0..6u16), 100..400)
        .prop_map(|evs| JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, t, tp)| (c * 7 + 3, EPOCH + t, tp))))
}

/// Default mode, no touchpoint repeated in the steps.
fn arb_distinct_query() -> impl Strategy<Value = FunnelQuery> {
    (prop::sample::subsequence(vec![0usize, 1, 2, 3, 4], 1..=5).prop_shuffle(), 1..300i64, prop::option::of(1..5usize))
        .prop_map(|(steps, window_s, dropped)| {
            let k = steps.len();
            FunnelQuery {
                steps: steps.into_iter().map(|i| KEYS[i].to_string()).collect(),
                window_s,
                mode: FunnelMode::Default,
                dropped_step: dropped.filter(|&d| d < k),
                dropped_limit: 3,
            }
        })
}

/// Every customer's level and step times against the reference, one customer at a time.
fn check_each_customer(set: &JourneySet, q: &FunnelQuery) -> Result<(), TestCaseError> {
    let steps: Vec<Tp> = q.steps.iter().map(|k| tp(k)).collect();
    for j in set.iter() {
        let one = JourneySet::from_events(
            EPOCH,
            j.times.iter().zip(j.touchpoints).map(|(&t, &p)| (j.customer, EPOCH + i64::from(t), p)),
        );
        let got = funnel::run(&one, &dict(), q).unwrap();
        let ev: Vec<(u32, Tp)> = j.times.iter().copied().zip(j.touchpoints.iter().copied()).collect();
        let (level, times) = ref_customer(&ev, &steps, q.window_s as u64, q.mode);
        let got_level = got.steps.iter().filter(|s| s.customers == 1).count();
        prop_assert_eq!(got_level, level, "customer {:?}", ev);
        for s in 1..level {
            prop_assert_eq!(got.steps[s].median_s, Some(u64::from(times[s] - times[s - 1])), "{:?}", ev);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Distinct steps on mostly tie-free customers: the fast path, and the general kernel
    /// for the customers with tied step events.
    #[test]
    fn distinct_steps_match_reference(set in arb_sparse_set(), q in arb_distinct_query()) {
        let got = funnel::run(&set, &dict(), &q).unwrap();
        prop_assert_eq!(got, ref_report(&set, &q));
        check_each_customer(&set, &q)?;
    }

    #[test]
    fn kernel_matches_reference(set in arb_set(), q in arb_query()) {
        let got = funnel::run(&set, &dict(), &q).unwrap();
        prop_assert_eq!(got, ref_report(&set, &q));
    }

    /// Long journeys with short windows (so that the reference stays fast).
    #[test]
    fn long_journeys_match_reference(set in arb_long_set(), mut q in arb_distinct_query(), w in 1..150i64) {
        q.window_s = w;
        let got = funnel::run(&set, &dict(), &q).unwrap();
        prop_assert_eq!(got, ref_report(&set, &q));
        check_each_customer(&set, &q)?;
    }

    /// One customer at a time, so every step time of every customer's chain is checked.
    #[test]
    fn each_customers_chain_matches_reference(set in arb_set(), q in arb_query()) {
        check_each_customer(&set, &q)?;
    }

    /// Windows exactly at an event's distance and one second shorter.
    #[test]
    fn window_edges(gap in 0..20u32, extra in 0..3u32) {
        let set = JourneySet::from_events(
            EPOCH,
            [(1, EPOCH, tp("a")), (1, EPOCH + i64::from(gap), tp("b")), (1, EPOCH + i64::from(gap + extra), tp("c"))],
        );
        for w in [gap + extra, gap + extra + 1, gap, (gap + extra).saturating_sub(1)].map(|w| w.max(1)) {
            let mut q = FunnelQuery::new(["a", "b", "c"]);
            q.window_s = i64::from(w);
            prop_assert_eq!(funnel::run(&set, &dict(), &q).unwrap(), ref_report(&set, &q));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Golden cases.

/// Parse customers written as `"a@0 b@5 | a@3"`: `|` separates customers (ids 1, 2, …),
/// each event is `key@seconds`, in arrival order.
fn parse_set(text: &str) -> JourneySet {
    let mut events = vec![];
    for (c, customer) in text.split('|').enumerate() {
        for ev in customer.split_whitespace() {
            let (key, t) = ev.split_once('@').unwrap();
            events.push((c as CustomerId + 1, EPOCH + t.parse::<i64>().unwrap(), tp(key)));
        }
    }
    JourneySet::from_events(EPOCH, events)
}

/// Run `steps` with `window` and `mode` over `data`; compare the customers per step and the
/// median seconds per step (`None` for step 1).
fn check(
    name: &str,
    data: &str,
    steps: &str,
    window: i64,
    mode: FunnelMode,
    customers: &[u64],
    medians: &[Option<u64>],
) {
    let set = parse_set(data);
    let mut q = FunnelQuery::new(steps.split_whitespace());
    q.window_s = window;
    q.mode = mode;
    let r = funnel::run(&set, &dict(), &q).unwrap();
    let got: Vec<u64> = r.steps.iter().map(|s| s.customers).collect();
    assert_eq!(got, customers, "{name}: customers per step");
    let got: Vec<Option<u64>> = r.steps.iter().map(|s| s.median_s).collect();
    assert_eq!(got, medians, "{name}: median seconds per step");
    assert_eq!(r, ref_report(&set, &q), "{name}: the reference agrees");
}

#[test]
fn golden_default_mode() {
    use FunnelMode::Default as D;
    check("in order", "a@0 b@5 c@10", "a b c", 100, D, &[1, 1, 1], &[None, Some(5), Some(5)]);
    check("window edge: equal counts", "a@0 b@5 c@10", "a b c", 10, D, &[1, 1, 1], &[None, Some(5), Some(5)]);
    check("window edge: one short", "a@0 b@5 c@10", "a b c", 9, D, &[1, 1, 0], &[None, Some(5), None]);
    check("other events between", "a@0 x@1 b@2 y@3 c@4", "a b c", 10, D, &[1, 1, 1], &[None, Some(2), Some(2)]);
    check("wrong order", "b@0 a@1", "a b", 10, D, &[1, 0], &[None, None]);
    check("tie in any order", "b@5 a@5", "a b", 10, D, &[1, 1], &[None, Some(0)]);
    check("later start meets the window", "a@0 a@8 b@12", "a b", 5, D, &[1, 1], &[None, Some(4)]);
    check("latest intermediate step", "a@0 b@1 b@3 c@4", "a b c", 10, D, &[1, 1, 1], &[None, Some(3), Some(1)]);
    check("earliest completion", "a@0 b@2 a@5 b@6", "a b", 10, D, &[1, 1], &[None, Some(2)]);
    check("repeated step needs two events", "a@0 b@1", "a a b", 10, D, &[1, 0, 0], &[None, None, None]);
    check("repeated step with two events", "a@0 a@1 b@2", "a a b", 10, D, &[1, 1, 1], &[None, Some(1), Some(1)]);
    check("repeated step, tie", "a@4 a@4 b@4", "a a b", 1, D, &[1, 1, 1], &[None, Some(0), Some(0)]);
    check("one-event customers", "a@0 | b@0 | x@0", "a b", 10, D, &[1, 0], &[None, None]);
    check(
        "ClickHouse docs example",
        "a@0 b@1 x@2 c@3 | a@0 b@100 c@101 | b@0 c@1",
        "a b c",
        10,
        D,
        &[2, 1, 1],
        &[None, Some(1), Some(2)],
    );
}

#[test]
fn golden_strict_mode() {
    use FunnelMode::Strict as S;
    check("other touchpoints are ignored", "a@0 x@1 b@2", "a b c", 10, S, &[1, 1, 0], &[None, Some(2), None]);
    check("a step out of order stops", "a@0 c@1 b@2 c@3", "a b c", 10, S, &[1, 0, 0], &[None, None, None]);
    check("the stop is for good", "a@0 c@1 a@5 b@6 c@7", "a b c", 10, S, &[1, 0, 0], &[None, None, None]);
    check("out-of-window step does not stop", "a@0 b@20 a@21 b@22", "a b", 10, S, &[1, 1], &[None, Some(1)]);
    check("before step 1 nothing stops", "c@0 b@1 a@2 b@3 c@4", "a b c", 10, S, &[1, 1, 1], &[None, Some(1), Some(1)]);
    check(
        "a reached level is never forgotten",
        "a@0 b@1 a@2 c@3",
        "a b c",
        10,
        S,
        &[1, 1, 1],
        &[None, Some(1), Some(2)],
    );
    check("a tie fills steps in order", "b@0 a@0 c@1", "a b c", 10, S, &[1, 1, 1], &[None, Some(0), Some(1)]);
    check("a tie that skips a step stops", "c@0 a@0 b@1", "a b c", 10, S, &[1, 0, 0], &[None, None, None]);
    check("a repeated step serves either", "a@0 b@1 a@2", "a b a", 10, S, &[1, 1, 1], &[None, Some(1), Some(1)]);
    check(
        "default mode for comparison",
        "a@0 c@1 b@2 c@3",
        "a b c",
        10,
        FunnelMode::Default,
        &[1, 1, 1],
        &[None, Some(2), Some(1)],
    );
}

#[test]
fn report_fields_and_drop_off_list() {
    let set = parse_set("a@0 b@10 | a@0 | a@0 b@30 | x@0 | a@0 | a@0 b@2");
    let mut q = FunnelQuery::new(["a", "b"]);
    q.dropped_step = Some(1);
    q.dropped_limit = 1;
    let r = funnel::run(&set, &dict(), &q).unwrap();
    assert_eq!(r.total_customers, 6);
    assert_eq!((r.steps[0].customers, r.steps[1].customers), (5, 3));
    assert_eq!((r.steps[1].from_previous, r.steps[1].from_first), (0.6, 0.6));
    assert_eq!((r.steps[0].from_previous, r.steps[0].from_first), (1.0, 1.0));
    assert_eq!((r.steps[1].median_s, r.steps[1].p90_s), (Some(10), Some(30)));
    assert_eq!(r.dropped, Some(FunnelDropped { step: 1, total: 2, customers: vec![2] }));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["steps"][1]["key"], "b");
    assert_eq!(serde_json::from_value::<FunnelReport>(json).unwrap(), r);
}

#[test]
fn query_json_has_defaults_and_rejects_unknown_fields() {
    let q: FunnelQuery = serde_json::from_str(r#"{"steps":["a","b"]}"#).unwrap();
    assert_eq!(q, FunnelQuery::new(["a", "b"]));
    assert_eq!((q.window_s, q.mode, q.dropped_step, q.dropped_limit), (14 * 86_400, FunnelMode::Default, None, 100));
    let q: FunnelQuery = serde_json::from_str(r#"{"steps":["a"],"mode":"strict","window_s":60}"#).unwrap();
    assert_eq!((q.mode, q.window_s), (FunnelMode::Strict, 60));
    let err = serde_json::from_str::<FunnelQuery>(r#"{"steps":["a"],"windw_s":60}"#).unwrap_err();
    assert!(err.to_string().contains("windw_s"), "{err}");
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let set = parse_set("a@0");
    let err = |q: FunnelQuery| funnel::run(&set, &dict(), &q).unwrap_err().to_string();
    assert_eq!(err(FunnelQuery::new(Vec::<String>::new())), "steps: a funnel needs at least one step");
    assert_eq!(err(FunnelQuery::new(["a", "nope"])), "steps[1]: unknown touchpoint \"nope\"");
    assert!(err(FunnelQuery::new(vec!["a"; 33])).contains("at most 32 steps"));
    let mut q = FunnelQuery::new(["a", "b"]);
    q.window_s = 0;
    assert!(err(q.clone()).starts_with("window_s:"), "{}", err(q));
    let mut q = FunnelQuery::new(["a", "b"]);
    q.dropped_step = Some(2);
    assert!(err(q.clone()).contains("from 1 to 1"), "{}", err(q));
    let mut q = FunnelQuery::new(["a"]);
    q.dropped_step = Some(1);
    assert!(err(q).contains("one-step funnel"));
}

#[test]
fn empty_set() {
    let r = funnel::run(&JourneySet::default(), &dict(), &FunnelQuery::new(["a", "b"])).unwrap();
    assert_eq!(r.total_customers, 0);
    assert!(r.steps.iter().all(|s| s.customers == 0 && s.from_first == 0.0 && s.median_s.is_none()));
}
