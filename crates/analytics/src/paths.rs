//! Paths: which touchpoint follows which (top transitions), and where customers go after
//! a touchpoint or come from before one (a Sankey diagram of the next or previous steps).
//!
//! **Transitions** follow the product definition (`docs/definitions.md`, "Transitions"): the
//! consecutive touchpoints of one customer in time order, ties in arrival order (the
//! [`JourneySet`]'s order), counted as `(from, to)` pairs; with `collapse_repeats` a pair
//! of the same touchpoint (`A A`) is not counted, which is the same as collapsing runs
//! (`A A B` → `A B`) first. The kernel is one pass over the columns into a dense
//! from × to count matrix per customer range (a hash map when the dictionary is too large
//! for a dense matrix).
//!
//! **Sankey** paths start at the *first* occurrence of `start` and take the next `steps`
//! touchpoints, or end at the *last* occurrence of `end` and take the `steps` touchpoints
//! before it. Nodes are (step, touchpoint); a path shorter than `steps` ends in an `(end)`
//! node (forward) or begins with a `(start)` node (backward). See [`SankeyQuery`] and
//! [`SankeyReport`] for the exact layout and the grouping of rare nodes into `(other)`.

use crate::funnel::{resolve, QueryError};
use crate::journeys::{Dictionary, Journeys, Tp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The default number of transitions reported.
pub const DEFAULT_TOP: usize = 20;
/// The default number of Sankey steps.
pub const DEFAULT_SANKEY_STEPS: usize = 4;
/// The most Sankey steps.
pub const MAX_SANKEY_STEPS: usize = 10;
/// The default share below which a Sankey node is grouped into `(other)`.
pub const DEFAULT_MIN_SHARE: f64 = 0.01;
/// Dictionaries up to this size count transitions in a dense matrix.
const DENSE_UP_TO: usize = 1024;

fn default_top() -> usize {
    DEFAULT_TOP
}

fn default_sankey_steps() -> usize {
    DEFAULT_SANKEY_STEPS
}

fn default_true() -> bool {
    true
}

fn default_min_share() -> f64 {
    DEFAULT_MIN_SHARE
}

/// A multiplicative hasher for small integer keys (the standard SipHash is several times
/// slower and its protection against flooding is not needed for counting our own codes).
#[derive(Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        // The product's high bits depend on every bit of the key; the table's bucket index
        // is taken from the low bits, so bring them down.
        self.0.rotate_left(26)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A hash map from small integer codes, with [`IntHasher`].
pub(crate) type IntMap<V> = HashMap<u64, V, BuildHasherDefault<IntHasher>>;

// ---------------------------------------------------------------------------------------
// Transitions.

/// Top transitions: which touchpoint directly follows which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionsQuery {
    /// How many transitions to report (≥ 1, default 20).
    #[serde(default = "default_top")]
    pub top: usize,
    /// Do not count a touchpoint followed by itself (default false).
    #[serde(default)]
    pub collapse_repeats: bool,
}

impl Default for TransitionsQuery {
    fn default() -> Self {
        TransitionsQuery { top: DEFAULT_TOP, collapse_repeats: false }
    }
}

/// One `(from, to)` pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The earlier touchpoint's key.
    pub from: String,
    /// The touchpoint that directly followed it.
    pub to: String,
    /// How many times it happened (over all customers, repeats included).
    pub count: u64,
    /// `count` / all transitions counted.
    pub share: f64,
}

/// The result of a transitions query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionsReport {
    /// All transitions counted (the denominator of `share`).
    pub total: u64,
    /// The top transitions: count descending, then `from` key, then `to` key ascending.
    pub transitions: Vec<Transition>,
}

/// Per-range transition counts: dense `from * n + to`, or sparse `from << 32 | to`.
enum Counts {
    Dense(Vec<u32>),
    Sparse(IntMap<u64>),
}

/// Count the top transitions.
pub fn transitions(
    set: &impl Journeys,
    dict: &Dictionary,
    q: &TransitionsQuery,
) -> Result<TransitionsReport, QueryError> {
    q.check()?;
    let pairs = transition_counts(set, dict, q.collapse_repeats);
    Ok(transitions_report(dict, pairs, q))
}

impl TransitionsQuery {
    /// Whether the query can run at all.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.top == 0 {
            return Err(QueryError::new("top: ask for at least 1 transition"));
        }
        Ok(())
    }
}

/// Every `(from, to, count)` of the journeys, in no order (no pair of the same touchpoint
/// with `collapse`).
pub fn transition_counts(set: &impl Journeys, dict: &Dictionary, collapse: bool) -> Vec<(Tp, Tp, u64)> {
    let n = dict.touchpoints.len();
    // Touchpoints the dictionary does not have are counted, under their index.
    let n = n.max(set.max_touchpoint().map_or(0, |m| usize::from(m) + 1));
    let dense = n <= DENSE_UP_TO;
    let counts = set.fold(
        || if dense { Counts::Dense(Vec::new()) } else { Counts::Sparse(IntMap::default()) },
        |mut acc, j| {
            let tps = j.touchpoints;
            match &mut acc {
                Counts::Dense(m) => {
                    if m.is_empty() {
                        m.resize(n * n, 0);
                    }
                    for w in tps.windows(2) {
                        let (a, b) = (usize::from(w[0]), usize::from(w[1]));
                        if !(collapse && a == b) {
                            m[a * n + b] += 1;
                        }
                    }
                }
                Counts::Sparse(m) => {
                    for w in tps.windows(2) {
                        if !(collapse && w[0] == w[1]) {
                            *m.entry(u64::from(w[0]) << 32 | u64::from(w[1])).or_default() += 1;
                        }
                    }
                }
            }
            acc
        },
        |a, b| match (a, b) {
            (Counts::Dense(mut x), Counts::Dense(y)) => {
                if x.is_empty() {
                    return Counts::Dense(y);
                }
                for (x, y) in x.iter_mut().zip(&y) {
                    *x += y;
                }
                Counts::Dense(x)
            }
            (Counts::Sparse(mut x), Counts::Sparse(y)) => {
                for (k, v) in y {
                    *x.entry(k).or_default() += v;
                }
                Counts::Sparse(x)
            }
            _ => unreachable!("one representation per query"),
        },
    );
    let pairs: Vec<(Tp, Tp, u64)> = match counts {
        Counts::Dense(m) => m
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| ((i / n) as Tp, (i % n) as Tp, u64::from(c)))
            .collect(),
        Counts::Sparse(m) => m.into_iter().map(|(k, c)| ((k >> 32) as Tp, k as u32 as Tp, c)).collect(),
    };
    pairs
}

/// The report of counted pairs (each pair once, wherever it was counted): the total and
/// the top `q.top`, count descending, then `from` key, then `to` key.
pub fn transitions_report(dict: &Dictionary, pairs: Vec<(Tp, Tp, u64)>, q: &TransitionsQuery) -> TransitionsReport {
    let total: u64 = pairs.iter().map(|p| p.2).sum();
    let n = pairs.iter().map(|p| usize::from(p.0.max(p.1)) + 1).max().unwrap_or(0).max(dict.touchpoints.len());
    let names = Names::new(dict, n);
    let mut pairs = pairs;
    let order =
        |x: &(Tp, Tp, u64)| (std::cmp::Reverse(x.2), names.rank[usize::from(x.0)], names.rank[usize::from(x.1)]);
    if pairs.len() > q.top {
        pairs.select_nth_unstable_by_key(q.top - 1, order);
        pairs.truncate(q.top);
    }
    pairs.sort_unstable_by_key(order);
    let transitions = pairs
        .into_iter()
        .map(|(a, b, count)| Transition {
            from: names.key(a).to_string(),
            to: names.key(b).to_string(),
            count,
            share: count as f64 / total as f64,
        })
        .collect();
    TransitionsReport { total, transitions }
}

/// Touchpoint keys, including a made-up `#index` key for indexes the dictionary lacks, and
/// each index's rank in key order.
struct Names {
    keys: Vec<String>,
    rank: Vec<u32>,
}

impl Names {
    fn new(dict: &Dictionary, n: usize) -> Names {
        let keys: Vec<String> =
            (0..n).map(|i| dict.touchpoints.get(i).map_or_else(|| format!("#{i}"), |t| t.key.clone())).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
        let mut rank = vec![0u32; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as u32;
        }
        Names { keys, rank }
    }

    fn key(&self, tp: Tp) -> &str {
        &self.keys[usize::from(tp)]
    }
}

// ---------------------------------------------------------------------------------------
// Sankey.

/// Where customers go after a touchpoint, or come from before one, step by step.
///
/// Forward (`start`): each customer who has `start` contributes one path — the first
/// occurrence of `start` at step 0, then the touchpoints that follow it at steps
/// 1..=`steps`. Backward (`end`): the last occurrence of `end` at step `steps`, and the
/// touchpoints before it at steps `steps − 1` down to 0. With `collapse_repeats`, runs of
/// one touchpoint count once (`A A B` → `A B`, and a run of the anchor itself is part of
/// the anchor). A forward path that runs out before `steps` ends in an `(end)` node at the
/// next step; a backward one begins with a `(start)` node at the step before its first
/// touchpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SankeyQuery {
    /// Touchpoint key to start from (exactly one of `start` and `end`).
    #[serde(default)]
    pub start: Option<String>,
    /// Touchpoint key to end at (exactly one of `start` and `end`).
    #[serde(default)]
    pub end: Option<String>,
    /// How many touchpoints after `start` / before `end` (1 to 10, default 4).
    #[serde(default = "default_sankey_steps")]
    pub steps: usize,
    /// Count runs of one touchpoint once (default true).
    #[serde(default = "default_true")]
    pub collapse_repeats: bool,
    /// A touchpoint node with fewer than this share of the customers at its step is grouped
    /// into that step's `(other)` node (0 to 1, default 0.01).
    #[serde(default = "default_min_share")]
    pub min_share: f64,
}

impl SankeyQuery {
    /// Paths forward from the first occurrence of `key`, other fields at their defaults.
    pub fn from_start(key: impl Into<String>) -> SankeyQuery {
        SankeyQuery {
            start: Some(key.into()),
            end: None,
            steps: DEFAULT_SANKEY_STEPS,
            collapse_repeats: true,
            min_share: DEFAULT_MIN_SHARE,
        }
    }

    /// Paths backward from the last occurrence of `key`, other fields at their defaults.
    pub fn from_end(key: impl Into<String>) -> SankeyQuery {
        SankeyQuery { start: None, end: Some(key.into()), ..SankeyQuery::from_start("") }
    }
}

/// What a Sankey node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SankeyNodeKind {
    /// A touchpoint (`key` is its key).
    Touchpoint,
    /// The touchpoints of this step too rare to show, together (`key` is `(other)`).
    Other,
    /// Forward paths that ended before this step (`key` is `(end)`).
    End,
    /// Backward paths that began after this step (`key` is `(start)`).
    Start,
}

/// One node: a touchpoint (or `(other)`, `(end)`, `(start)`) at a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SankeyNode {
    /// The node's index in [`SankeyReport::nodes`], used by links.
    pub id: usize,
    /// The step: 0..=steps, the anchor at 0 (forward) or at `steps` (backward).
    pub step: usize,
    /// The touchpoint key, or `(other)`, `(end)`, `(start)`.
    pub key: String,
    /// What the node stands for.
    pub kind: SankeyNodeKind,
    /// Customers whose path passes through it.
    pub customers: u64,
}

/// Customers going from one node to a node of the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SankeyLink {
    /// Id of the node at step s.
    pub source: usize,
    /// Id of the node at step s + 1.
    pub target: usize,
    /// How many customers.
    pub customers: u64,
}

/// The result of a Sankey query: nodes and links a chart can draw directly.
///
/// Nodes are ordered by step, then customers descending, then kind (touchpoints, other,
/// end, start), then key; links by source, then target. A node's `customers` is the number
/// of paths through it; at every step but the anchor's, touchpoint nodes below `min_share`
/// of the paths present at that step (all nodes of the step, `(end)`/`(start)` included)
/// are merged into one `(other)` node, and their links with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SankeyReport {
    /// Customers with a path (those who have the anchor touchpoint).
    pub customers: u64,
    /// Steps after (or before) the anchor.
    pub steps: usize,
    /// The nodes.
    pub nodes: Vec<SankeyNode>,
    /// The links.
    pub links: Vec<SankeyLink>,
}

/// Node codes beyond every [`Tp`].
const END: u32 = 1 << 16;
const START: u32 = END + 1;
const OTHER: u32 = END + 2;

fn link_key(step: usize, from: u32, to: u32) -> u64 {
    (step as u64) << 40 | u64::from(from) << 20 | u64::from(to)
}

/// Draw the paths after (or before) a touchpoint.
pub fn sankey(set: &impl Journeys, dict: &Dictionary, q: &SankeyQuery) -> Result<SankeyReport, QueryError> {
    let (anchor, forward) = q.check(dict)?;
    let (customers, links) = sankey_counts(set, anchor, forward, q.steps, q.collapse_repeats);
    Ok(sankey_report(dict, q, anchor, forward, customers, links))
}

impl SankeyQuery {
    /// The anchor touchpoint, and whether paths go forward from it; or why the query
    /// cannot run.
    pub fn check(&self, dict: &Dictionary) -> Result<(Tp, bool), QueryError> {
        let anchor = match (&self.start, &self.end) {
            (Some(k), None) => (resolve(dict, "start", k)?, true),
            (None, Some(k)) => (resolve(dict, "end", k)?, false),
            _ => return Err(QueryError::new("start, end: give exactly one of them")),
        };
        if self.steps == 0 || self.steps > MAX_SANKEY_STEPS {
            return Err(QueryError::new(format!("steps: must be from 1 to {MAX_SANKEY_STEPS}, not {}", self.steps)));
        }
        if !(0.0..=1.0).contains(&self.min_share) {
            return Err(QueryError::new(format!("min_share: must be between 0 and 1, not {}", self.min_share)));
        }
        Ok(anchor)
    }
}

/// A Sankey link before grouping: step, from node, to node, customers. Nodes are touchpoint
/// indexes, or [`SANKEY_END`] and [`SANKEY_START`].
pub type SankeyLinkCount = (usize, u32, u32, u64);

/// The node after the last touchpoint of a forward path that ended early.
pub const SANKEY_END: u32 = END;
/// The node before the first touchpoint of a backward path that began late.
pub const SANKEY_START: u32 = START;

/// The customers with `anchor`, and their paths' links counted (`n` steps after the
/// anchor's first occurrence, or before its last).
pub fn sankey_counts(
    set: &impl Journeys,
    anchor: Tp,
    forward: bool,
    n: usize,
    collapse: bool,
) -> (u64, Vec<SankeyLinkCount>) {
    // Per range: customers with the anchor, and link counts by (step, from, to).
    let (customers, links) = set.fold(
        || (0u64, IntMap::<u64>::default()),
        |(customers, mut links), j| {
            let tps = j.touchpoints;
            let mut path = [0u32; MAX_SANKEY_STEPS + 2];
            let len;
            if forward {
                let Some(i) = tps.iter().position(|&t| t == anchor) else {
                    return (customers, links);
                };
                path[0] = u32::from(anchor);
                let mut k = 1;
                for &t in &tps[i + 1..] {
                    if k > n {
                        break;
                    }
                    if collapse && u32::from(t) == path[k - 1] {
                        continue;
                    }
                    path[k] = u32::from(t);
                    k += 1;
                }
                if k <= n {
                    path[k] = END;
                    k += 1;
                }
                len = k;
            } else {
                let Some(i) = tps.iter().rposition(|&t| t == anchor) else {
                    return (customers, links);
                };
                // Collected backwards: rev[0] is the anchor.
                let mut rev = [0u32; MAX_SANKEY_STEPS + 2];
                rev[0] = u32::from(anchor);
                let mut k = 1;
                for &t in tps[..i].iter().rev() {
                    if k > n {
                        break;
                    }
                    if collapse && u32::from(t) == rev[k - 1] {
                        continue;
                    }
                    rev[k] = u32::from(t);
                    k += 1;
                }
                if k <= n {
                    rev[k] = START;
                    k += 1;
                }
                path[..k].copy_from_slice(&rev[..k]);
                path[..k].reverse();
                len = k;
            }
            // Forward paths start at step 0; backward ones end at step n.
            let first = if forward { 0 } else { n + 1 - len };
            for s in 0..len - 1 {
                *links.entry(link_key(first + s, path[s], path[s + 1])).or_default() += 1;
            }
            (customers + 1, links)
        },
        |(c1, mut l1), (c2, l2)| {
            let (mut big, small) = if l1.len() >= l2.len() { (std::mem::take(&mut l1), l2) } else { (l2, l1) };
            for (k, v) in small {
                *big.entry(k).or_default() += v;
            }
            (c1 + c2, big)
        },
    );
    let links = links
        .into_iter()
        .map(|(k, c)| ((k >> 40) as usize, (k >> 20 & 0xF_FFFF) as u32, (k & 0xF_FFFF) as u32, c))
        .collect();
    (customers, links)
}

/// The report of counted paths (each link once, wherever it was counted): nodes grouped
/// by `q.min_share`, ordered, and linked.
pub fn sankey_report(
    dict: &Dictionary,
    q: &SankeyQuery,
    anchor: Tp,
    forward: bool,
    customers: u64,
    links: Vec<SankeyLinkCount>,
) -> SankeyReport {
    let n = q.steps;

    // Customers per node: paths into it (forward) or out of it (backward); the anchor has all.
    let mut nodes: HashMap<(usize, u32), u64> = HashMap::new();
    let anchor_step = if forward { 0 } else { n };
    if customers > 0 {
        nodes.insert((anchor_step, u32::from(anchor)), customers);
    }
    for &(s, a, b, c) in &links {
        let node = if forward { (s + 1, b) } else { (s, a) };
        *nodes.entry(node).or_default() += c;
    }
    let mut at_step = vec![0u64; n + 1];
    for (&(s, _), &c) in &nodes {
        at_step[s] += c;
    }
    let grouped = |s: usize, code: u32| -> u32 {
        if s == anchor_step || code >= END {
            return code;
        }
        let c = nodes[&(s, code)];
        if (c as f64) < q.min_share * at_step[s] as f64 {
            OTHER
        } else {
            code
        }
    };
    let mut merged_nodes: HashMap<(usize, u32), u64> = HashMap::new();
    for (&(s, code), &c) in &nodes {
        *merged_nodes.entry((s, grouped(s, code))).or_default() += c;
    }
    let mut merged_links: HashMap<(usize, u32, u32), u64> = HashMap::new();
    for &(s, a, b, c) in &links {
        *merged_links.entry((s, grouped(s, a), grouped(s + 1, b))).or_default() += c;
    }

    let names = Names::new(dict, dict.touchpoints.len().max(usize::from(anchor) + 1));
    let describe = |code: u32| -> (SankeyNodeKind, String) {
        match code {
            END => (SankeyNodeKind::End, "(end)".into()),
            START => (SankeyNodeKind::Start, "(start)".into()),
            OTHER => (SankeyNodeKind::Other, "(other)".into()),
            tp if (tp as usize) < names.keys.len() => (SankeyNodeKind::Touchpoint, names.keys[tp as usize].clone()),
            tp => (SankeyNodeKind::Touchpoint, format!("#{tp}")),
        }
    };
    let mut list: Vec<(usize, u32, u64, SankeyNodeKind, String)> = merged_nodes
        .into_iter()
        .map(|((s, code), c)| {
            let (kind, key) = describe(code);
            (s, code, c, kind, key)
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.3.cmp(&b.3)).then_with(|| a.4.cmp(&b.4)));
    let id: HashMap<(usize, u32), usize> = list.iter().enumerate().map(|(i, x)| ((x.0, x.1), i)).collect();
    let nodes: Vec<SankeyNode> = list
        .into_iter()
        .enumerate()
        .map(|(i, (step, _, customers, kind, key))| SankeyNode { id: i, step, key, kind, customers })
        .collect();
    let mut links: Vec<SankeyLink> = merged_links
        .into_iter()
        .map(|((s, a, b), customers)| SankeyLink { source: id[&(s, a)], target: id[&(s + 1, b)], customers })
        .collect();
    links.sort_by_key(|l| (l.source, l.target));
    SankeyReport { customers, steps: n, nodes, links }
}
