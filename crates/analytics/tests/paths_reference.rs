//! The transitions and Sankey kernels against slow, obviously-correct references written
//! here from the definitions (a naive double loop over each journey; paths built as lists
//! of labels), on random journey sets with ties and repeats; plus golden cases through a
//! data-driven `check()` per kernel.

use proptest::prelude::*;
use std::collections::BTreeMap;
use touchpoint_analytics::paths::{
    self, SankeyNodeKind, SankeyQuery, SankeyReport, Transition, TransitionsQuery, TransitionsReport,
};
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

/// Each customer's touchpoint keys in the set's order.
fn journeys(set: &JourneySet) -> Vec<Vec<&'static str>> {
    set.iter().map(|j| j.touchpoints.iter().map(|&t| KEYS[usize::from(t)]).collect()).collect()
}

// ---------------------------------------------------------------------------------------
// Transitions reference.

fn ref_transitions(set: &JourneySet, q: &TransitionsQuery) -> TransitionsReport {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for j in journeys(set) {
        for i in 0..j.len() {
            for k in 0..j.len() {
                if k == i + 1 && !(q.collapse_repeats && j[i] == j[k]) {
                    *counts.entry((j[i], j[k])).or_default() += 1;
                }
            }
        }
    }
    let total: u64 = counts.values().sum();
    let mut all: Vec<((&str, &str), u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    TransitionsReport {
        total,
        transitions: all
            .into_iter()
            .take(q.top)
            .map(|((from, to), count)| Transition {
                from: from.into(),
                to: to.into(),
                count,
                share: count as f64 / total as f64,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Sankey reference.

type Node = (usize, String);

/// Nodes `(step, label) → customers` and links `(from node, to node) → customers`.
#[derive(Debug, PartialEq)]
struct Drawn {
    customers: u64,
    nodes: BTreeMap<Node, u64>,
    links: BTreeMap<(Node, Node), u64>,
}

fn ref_sankey(set: &JourneySet, q: &SankeyQuery) -> Drawn {
    let n = q.steps;
    let mut paths: Vec<(usize, Vec<String>)> = vec![];
    for j in journeys(set) {
        let dedup = |mut v: Vec<&str>| {
            if q.collapse_repeats {
                v.dedup();
            }
            v.into_iter().map(String::from).collect::<Vec<String>>()
        };
        if let Some(start) = &q.start {
            let Some(i) = j.iter().position(|k| k == start) else { continue };
            let mut p = dedup(j[i..].to_vec());
            p.truncate(n + 1);
            if p.len() < n + 1 {
                p.push("(end)".into());
            }
            paths.push((0, p));
        } else {
            let end = q.end.as_ref().unwrap();
            let Some(i) = j.iter().rposition(|k| k == end) else { continue };
            let mut p = dedup(j[..=i].to_vec());
            if p.len() > n + 1 {
                p.drain(..p.len() - (n + 1));
            }
            if p.len() < n + 1 {
                p.insert(0, "(start)".into());
            }
            paths.push((n + 1 - p.len(), p));
        }
    }
    let anchor_step = if q.start.is_some() { 0 } else { n };
    let mut nodes: BTreeMap<Node, u64> = BTreeMap::new();
    for (first, p) in &paths {
        for (s, label) in p.iter().enumerate() {
            *nodes.entry((first + s, label.clone())).or_default() += 1;
        }
    }
    let mut at_step = vec![0u64; n + 1];
    for ((s, _), c) in &nodes {
        at_step[*s] += c;
    }
    let group = |s: usize, label: &String| -> String {
        let rare = (nodes[&(s, label.clone())] as f64) < q.min_share * at_step[s] as f64;
        if s != anchor_step && !label.starts_with('(') && rare {
            "(other)".into()
        } else {
            label.clone()
        }
    };
    let mut drawn = Drawn { customers: paths.len() as u64, nodes: BTreeMap::new(), links: BTreeMap::new() };
    for (first, p) in &paths {
        let labels: Vec<Node> = p.iter().enumerate().map(|(s, l)| (first + s, group(first + s, l))).collect();
        for node in &labels {
            *drawn.nodes.entry(node.clone()).or_default() += 1;
        }
        for w in labels.windows(2) {
            *drawn.links.entry((w[0].clone(), w[1].clone())).or_default() += 1;
        }
    }
    drawn
}

/// The kernel's report in the reference's terms, checking its ids and order on the way.
fn drawn(r: &SankeyReport) -> Drawn {
    for (i, node) in r.nodes.iter().enumerate() {
        assert_eq!(node.id, i, "ids are positions");
        let want = match node.key.as_str() {
            "(other)" => SankeyNodeKind::Other,
            "(end)" => SankeyNodeKind::End,
            "(start)" => SankeyNodeKind::Start,
            _ => SankeyNodeKind::Touchpoint,
        };
        assert_eq!(node.kind, want, "{node:?}");
    }
    let order = |n: &paths::SankeyNode| (n.step, std::cmp::Reverse(n.customers), n.kind, n.key.clone());
    assert!(r.nodes.windows(2).all(|w| order(&w[0]) < order(&w[1])), "nodes in order: {:?}", r.nodes);
    assert!(r.links.windows(2).all(|w| (w[0].source, w[0].target) < (w[1].source, w[1].target)));
    let node = |id: usize| (r.nodes[id].step, r.nodes[id].key.clone());
    for l in &r.links {
        assert_eq!(r.nodes[l.source].step + 1, r.nodes[l.target].step, "links join consecutive steps");
    }
    Drawn {
        customers: r.customers,
        nodes: r.nodes.iter().map(|n| ((n.step, n.key.clone()), n.customers)).collect(),
        links: r.links.iter().map(|l| ((node(l.source), node(l.target)), l.customers)).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Properties.

fn arb_set() -> impl Strategy<Value = JourneySet> {
    prop::collection::vec((0..8i64, 0..20i64, 0..6u16), 0..60)
        .prop_map(|evs| JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, t, tp)| (c, EPOCH + t, tp))))
}

fn arb_sankey() -> impl Strategy<Value = SankeyQuery> {
    (0..4usize, prop::bool::ANY, 1..6usize, prop::bool::ANY, prop::sample::select(vec![0.0, 0.1, 0.2, 0.34, 0.5, 1.0]))
        .prop_map(|(key, forward, steps, collapse_repeats, min_share)| {
            let mut q = if forward { SankeyQuery::from_start(KEYS[key]) } else { SankeyQuery::from_end(KEYS[key]) };
            q.steps = steps;
            q.collapse_repeats = collapse_repeats;
            q.min_share = min_share;
            q
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn transitions_match_reference(set in arb_set(), top in 1..40usize, collapse_repeats in prop::bool::ANY) {
        let q = TransitionsQuery { top, collapse_repeats };
        prop_assert_eq!(paths::transitions(&set, &dict(), &q).unwrap(), ref_transitions(&set, &q));
    }

    #[test]
    fn sankey_matches_reference(set in arb_set(), q in arb_sankey()) {
        let r = paths::sankey(&set, &dict(), &q).unwrap();
        prop_assert_eq!(r.steps, q.steps);
        prop_assert_eq!(drawn(&r), ref_sankey(&set, &q));
    }

    /// Every path passes through one node per step from its first step on, so the customers
    /// entering a non-anchor node equal the customers through it (forward), and the links
    /// out of a step add up to the paths present there that have a next step.
    #[test]
    fn sankey_flows_are_conserved(set in arb_set(), q in arb_sankey()) {
        let r = paths::sankey(&set, &dict(), &q).unwrap();
        for node in &r.nodes {
            let into: u64 = r.links.iter().filter(|l| l.target == node.id).map(|l| l.customers).sum();
            let out: u64 = r.links.iter().filter(|l| l.source == node.id).map(|l| l.customers).sum();
            if q.start.is_some() {
                let anchor = node.step == 0;
                prop_assert_eq!(into, if anchor { 0 } else { node.customers }, "{:?}", node);
                if node.kind == SankeyNodeKind::End || node.step == q.steps {
                    prop_assert_eq!(out, 0);
                } else {
                    prop_assert_eq!(out, node.customers);
                }
            } else {
                prop_assert_eq!(out, if node.step == q.steps { 0 } else { node.customers }, "{:?}", node);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Golden cases.

/// Customers written as `"a b c | a x"` (`|` separates customers, one second apart each).
fn parse_set(text: &str) -> JourneySet {
    let mut events = vec![];
    for (c, customer) in text.split('|').enumerate() {
        for (t, key) in customer.split_whitespace().enumerate() {
            events.push((c as CustomerId, EPOCH + t as i64, tp(key)));
        }
    }
    JourneySet::from_events(EPOCH, events)
}

/// Top transitions as `"from>to=count"` words.
fn check_transitions(name: &str, data: &str, q: TransitionsQuery, want: &str) {
    let set = parse_set(data);
    let r = paths::transitions(&set, &dict(), &q).unwrap();
    let got: Vec<String> = r.transitions.iter().map(|t| format!("{}>{}={}", t.from, t.to, t.count)).collect();
    assert_eq!(got.join(" "), want, "{name}");
    assert_eq!(r, ref_transitions(&set, &q), "{name}: the reference agrees");
}

/// Sankey links as `"step:from>to=customers"` words, in the report's order.
fn check_sankey(name: &str, data: &str, q: SankeyQuery, want: &str) {
    let set = parse_set(data);
    let r = paths::sankey(&set, &dict(), &q).unwrap();
    let got: Vec<String> = r
        .links
        .iter()
        .map(|l| {
            let (a, b) = (&r.nodes[l.source], &r.nodes[l.target]);
            format!("{}:{}>{}={}", a.step, a.key, b.key, l.customers)
        })
        .collect();
    assert_eq!(got.join(" "), want, "{name}");
    assert_eq!(drawn(&r), ref_sankey(&set, &q), "{name}: the reference agrees");
}

#[test]
fn golden_transitions() {
    let q = |top, collapse_repeats| TransitionsQuery { top, collapse_repeats };
    check_transitions("counts and order", "a b c | a b | b a", q(20, false), "a>b=2 b>a=1 b>c=1");
    check_transitions("top cuts after the order", "a b c | a b | b a", q(2, false), "a>b=2 b>a=1");
    check_transitions("repeats", "a a b b", q(20, false), "a>a=1 a>b=1 b>b=1");
    check_transitions("collapsed", "a a b b", q(20, true), "a>b=1");
    check_transitions("one-event customers", "a | b", q(20, false), "");
    // Ties keep arrival order.
    let set = JourneySet::from_events(0, [(1, 5, tp("c")), (1, 5, tp("a")), (1, 4, tp("b"))]);
    let r = paths::transitions(&set, &dict(), &q(20, false)).unwrap();
    let got: Vec<(&str, &str)> = r.transitions.iter().map(|t| (t.from.as_str(), t.to.as_str())).collect();
    assert_eq!(got, [("b", "c"), ("c", "a")]);
    assert_eq!((r.total, r.transitions[0].share), (2, 0.5));
}

#[test]
fn golden_sankey() {
    let fwd = |key: &str, steps, collapse_repeats, min_share| SankeyQuery {
        steps,
        collapse_repeats,
        min_share,
        ..SankeyQuery::from_start(key)
    };
    let back = |key: &str, steps, collapse_repeats, min_share| SankeyQuery {
        steps,
        collapse_repeats,
        min_share,
        ..SankeyQuery::from_end(key)
    };
    check_sankey(
        "forward from the first occurrence",
        "x a b a c | a a c | b",
        fwd("a", 2, true, 0.0),
        "0:a>b=1 0:a>c=1 1:b>a=1 1:c>(end)=1",
    );
    check_sankey("no collapse", "a a c", fwd("a", 2, false, 0.0), "0:a>a=1 1:a>c=1");
    check_sankey(
        "backward from the last occurrence",
        "b a c a | c c a a",
        back("a", 2, true, 0.0),
        "0:a>c=1 0:(start)>c=1 1:c>a=2",
    );
    check_sankey(
        "rare nodes grouped per step",
        "a b | a b | a b | a c | a d",
        fwd("a", 1, true, 0.25),
        "0:a>b=3 0:a>(other)=2",
    );
    check_sankey("the anchor alone", "x a", fwd("a", 3, true, 0.5), "0:a>(end)=1");
}

#[test]
fn sankey_report_shape() {
    let set = parse_set("a b c | a b | a c");
    let r = paths::sankey(&set, &dict(), &SankeyQuery::from_start("a")).unwrap();
    assert_eq!((r.customers, r.steps), (3, 4));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["nodes"][0], serde_json::json!({"id":0,"step":0,"key":"a","kind":"touchpoint","customers":3}));
    assert_eq!(json["links"][0], serde_json::json!({"source":0,"target":1,"customers":2}));
    assert_eq!(serde_json::from_value::<SankeyReport>(json).unwrap(), r);
}

#[test]
fn queries_json_defaults_and_errors() {
    let q: TransitionsQuery = serde_json::from_str("{}").unwrap();
    assert_eq!(q, TransitionsQuery { top: 20, collapse_repeats: false });
    let q: SankeyQuery = serde_json::from_str(r#"{"start":"a"}"#).unwrap();
    assert_eq!(q, SankeyQuery::from_start("a"));
    assert_eq!((q.steps, q.collapse_repeats, q.min_share), (4, true, 0.01));
    assert!(serde_json::from_str::<SankeyQuery>(r#"{"start":"a","step":3}"#).is_err());
    assert!(serde_json::from_str::<TransitionsQuery>(r#"{"tops":3}"#).is_err());

    let set = parse_set("a b");
    let err = |q: SankeyQuery| paths::sankey(&set, &dict(), &q).unwrap_err().to_string();
    assert_eq!(
        err(SankeyQuery { start: None, ..SankeyQuery::from_start("a") }),
        "start, end: give exactly one of them"
    );
    assert_eq!(
        err(SankeyQuery { end: Some("b".into()), ..SankeyQuery::from_start("a") }),
        "start, end: give exactly one of them"
    );
    assert_eq!(err(SankeyQuery::from_end("zz")), "end: unknown touchpoint \"zz\"");
    assert!(err(SankeyQuery { steps: 11, ..SankeyQuery::from_start("a") }).starts_with("steps:"));
    assert!(err(SankeyQuery { steps: 0, ..SankeyQuery::from_start("a") }).starts_with("steps:"));
    assert!(err(SankeyQuery { min_share: f64::NAN, ..SankeyQuery::from_start("a") }).starts_with("min_share:"));
    let terr = paths::transitions(&set, &dict(), &TransitionsQuery { top: 0, collapse_repeats: false }).unwrap_err();
    assert!(terr.to_string().starts_with("top:"));
}

#[test]
fn large_dictionaries_count_sparsely() {
    // More touchpoints than a dense matrix allows: the same answers through the hash map.
    let mut d = dict();
    for i in 0..1500 {
        d.touchpoints.push(Touchpoint::discovered(&format!("z{i:04}"), "z", Channel::Other));
    }
    let set = JourneySet::from_events(0, [(1, 0, 1400), (1, 1, 0), (1, 2, 1400), (1, 3, 0), (2, 0, 1400), (2, 1, 0)]);
    let r = paths::transitions(&set, &d, &TransitionsQuery::default()).unwrap();
    let got: Vec<String> = r.transitions.iter().map(|t| format!("{}>{}={}", t.from, t.to, t.count)).collect();
    assert_eq!(got, ["z1394>a=3", "a>z1394=1"]);
}
