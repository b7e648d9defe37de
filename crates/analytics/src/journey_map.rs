//! The journey map: stages × touchpoints, with reach, conversion, churn, exit rate and time
//! to the next stage for every touchpoint and stage, and the pain points ranked by the
//! customers they cost.
//!
//! # Definitions
//!
//! Observation, churn, the churn point and the horizon are those of [`crate::churn`]: only
//! events at or before `now_s` count; a customer churned when their journey has a
//! churn-signal touchpoint or their last event is more than `churn_horizon_s` before
//! `now_s`. A *journey* is a customer with at least one observed event. The *goal* is the
//! query's touchpoint, by default the dictionary's first conversion touchpoint; a journey
//! *converts* when it reaches the goal.
//!
//! For every touchpoint (placed in the column of its stage; touchpoints without a stage,
//! or with a stage the dictionary does not list, go to a last column keyed
//! [`UNCLASSIFIED`]) and, the same way, for every stage column:
//!
//! * **reach**: distinct customers who touched it; **share** = reach / journeys.
//! * **conversion**: among the customers who touched it *before their first goal event*
//!   (or never converted) — the journeys that passed through it on the way — the share
//!   that went on to reach the goal. Touchpoints reached only after converting (delivery,
//!   service) mostly have no such customers and no conversion rate: they are judged by
//!   churn. The goal itself has none. **Lift** = conversion / baseline conversion.
//! * **churn**: among the customers who touched it *before their churn point* (before the
//!   first churn signal; any time for silence), the share who churned. **Lift** = churn /
//!   baseline churn.
//! * **exit rate**: the share of its reach for whom it was the last touchpoint before
//!   churn — the event right before the first churn signal, or the last event of a
//!   customer who went silent. Descriptive: where journeys end, which is often an
//!   automatic event (a delivery notice, a survey) rather than the experience that drove
//!   the customer away, so pain points are tested on churn, not on exits.
//! * **time to the next stage**: from the customer's first event of it (the touchpoint,
//!   or the stage column) to the next event whose stage is later in the stage order, in
//!   seconds; the median over the customers who have such an event, with linear
//!   interpolation ([`crate::stats::percentile_in_place`]). None when unclassified.
//!
//! The **baseline** is the same numbers over all journeys: conversion = converted /
//! journeys, churn = churned / journeys.
//!
//! # Pain points
//!
//! Each touchpoint that is not a churn signal (an outcome, not a touchpoint to judge) gets
//! up to two tests, both pooled two-proportion z-tests between the customers who touched it
//! and its *peers*, the customers who did not touch it but reached the same stage column
//! ([`Comparison::Stage`], the default) or any column ([`Comparison::All`]):
//!
//! * **churn**: churned after touching it vs churned among peers (peers reached the column
//!   before their churn point);
//! * **conversion**: converted after touching it before the goal vs converted among peers
//!   who reached the column before the goal.
//!
//! Comparing within the column is what makes the test fair: a customer at checkout
//! converts far more often than a visitor on the home page whatever happens at checkout,
//! so against all customers a failed payment would look like a conversion *booster*. A
//! test runs only when both groups have at least `min_customers` customers. All tests of
//! the map form one Benjamini–Hochberg family. A touchpoint is a pain point when a test is
//! significant (q ≤ `alpha`) in the adverse direction (more churn, less conversion). The
//! customers it costs are `customers × (rate − peer rate)` (excess leavers) or
//! `customers × (peer rate − rate)` (lost conversions), in whole customers; when both tests
//! are adverse and significant the larger counts (they overlap: a customer who leaves does
//! not buy again). Pain points are ranked by evidence, not by the estimate alone: by the
//! cost's lower bound, `customers × (gap − 1.96 · SE)` with the unpooled standard error of
//! the difference of the two rates (at least 0, whole customers), so a large gap on a few
//! customers does not outrank a sure one on many; ties go to the larger estimate.
//!
//! Satisfaction per touchpoint and stage and the emotion curve are placeholders (`None`)
//! that the surveys analyses fill in.
//!
//! # Cost
//!
//! One parallel pass over the journeys ([`JourneySet::fold`]) with per-chunk counters and
//! scratch, no allocation per event or per customer. Per event: the touchpoint's column and
//! flags, a first-occurrence check, and one comparison with the lowest stage that has a
//! touchpoint waiting for a later stage. The only per-customer output is the seconds to
//! the next stage of each touchpoint and column that reached one, kept per key; the
//! medians are then found by selection, keys in parallel. About 50 ms of CPU for 10 M
//! events of demo-shaped journeys (`tests/journey_map_bench.rs`).

pub use crate::churn::DEFAULT_MIN_CUSTOMERS;
use crate::churn::{
    churn_reason, default_alpha, default_horizon, default_min_customers, observed_len, ChurnReason, DEFAULT_ALPHA,
    DEFAULT_CHURN_HORIZON_S,
};
use crate::journeys::{Dictionary, Journey, Journeys, Tp};
use crate::stats::{benjamini_hochberg, percentile_in_place, two_proportion_z};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The key of the last column, for touchpoints without a (known) stage.
pub const UNCLASSIFIED: &str = "unclassified";

/// Whom a touchpoint's customers are compared with in the pain-point tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Customers who reached the same stage column without touching it (unclassified
    /// touchpoints: all customers who did not touch it).
    #[default]
    Stage,
    /// All customers who did not touch it.
    All,
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyMapQuery {
    /// The goal touchpoint's key; `None`: the dictionary's first conversion touchpoint.
    #[serde(default)]
    pub goal: Option<String>,
    /// End of observation (unix seconds): later events are ignored.
    pub now_s: i64,
    /// Silence longer than this (seconds) is churn. Default 90 days.
    #[serde(default = "default_horizon")]
    pub churn_horizon_s: i64,
    /// False-discovery rate for pain points. Default 0.05.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Tests with fewer customers on either side are not run. Default 30.
    #[serde(default = "default_min_customers")]
    pub min_customers: usize,
    /// Whom touchpoints are compared with. Default: the stage column.
    #[serde(default)]
    pub compare: Comparison,
}

impl JourneyMapQuery {
    /// A query as of `now_s` with every other setting at its default.
    pub fn new(now_s: i64) -> JourneyMapQuery {
        JourneyMapQuery {
            goal: None,
            now_s,
            churn_horizon_s: DEFAULT_CHURN_HORIZON_S,
            alpha: DEFAULT_ALPHA,
            min_customers: DEFAULT_MIN_CUSTOMERS,
            compare: Comparison::Stage,
        }
    }
}

/// Why a query cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JourneyMapError {
    /// The goal is not a touchpoint of the dictionary: the key, and the nearest keys.
    UnknownGoal(String, Vec<String>),
}

impl std::fmt::Display for JourneyMapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JourneyMapError::UnknownGoal(k, near) if near.is_empty() => write!(f, "goal: unknown touchpoint {k:?}"),
            JourneyMapError::UnknownGoal(k, near) => {
                write!(f, "goal: unknown touchpoint {k:?}; did you mean {}?", near.join(", "))
            }
        }
    }
}

impl std::error::Error for JourneyMapError {}

/// All journeys together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Customers with at least one observed event.
    pub journeys: usize,
    /// Journeys that reached the goal.
    pub converted: usize,
    /// `converted / journeys`; `None` without a goal or journeys.
    pub conversion_rate: Option<f64>,
    /// Journeys that churned (the exits of the whole map).
    pub churned: usize,
    /// `churned / journeys`; `None` without journeys.
    pub churn_rate: Option<f64>,
    /// Of the churned: by a churn signal.
    pub churned_by_signal: usize,
}

/// One pain-point test: a touchpoint's customers against their peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Customers who touched it (before the churn point, or before the goal).
    pub customers: usize,
    /// The share of them who churned (or converted).
    pub rate: f64,
    /// Peers: customers who did not touch it (see [`Comparison`]).
    pub peers: usize,
    /// The share of peers who churned (or converted).
    pub peer_rate: f64,
    /// Pooled two-proportion z (positive: the touchpoint's rate is higher).
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Benjamini–Hochberg q-value across all tests of the map.
    pub q: f64,
    /// `q ≤ alpha` and the difference is adverse (more churn, less conversion).
    pub adverse: bool,
    /// Customers it costs relative to the peers, rounded to whole customers: excess leavers
    /// `customers × (rate − peer_rate)` for churn, lost conversions `customers ×
    /// (peer_rate − rate)` for conversion. Negative when it does better than its peers.
    pub customers_lost: f64,
    /// The least it costs at 95 % confidence: `customers × (gap − 1.96 · SE)`, at least 0,
    /// rounded down to whole customers.
    pub customers_lost_low: f64,
}

/// One touchpoint on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchpointStats {
    /// The touchpoint's key.
    pub key: String,
    /// Distinct customers who touched it.
    pub reach: usize,
    /// `reach / journeys`.
    pub share: f64,
    /// Customers who touched it before their first goal event (or never converted).
    pub before_goal: usize,
    /// Of those, the ones who reached the goal afterwards.
    pub converted: usize,
    /// `converted / before_goal`; `None` when no one passed it before the goal.
    pub conversion_rate: Option<f64>,
    /// `conversion_rate / baseline conversion_rate`.
    pub conversion_lift: Option<f64>,
    /// Customers who touched it before their churn point.
    pub before_churn: usize,
    /// Of those, the ones who churned.
    pub churned: usize,
    /// `churned / before_churn`.
    pub churn_rate: Option<f64>,
    /// `churn_rate / baseline churn_rate`.
    pub churn_lift: Option<f64>,
    /// Churned customers for whom it was the last touchpoint before churn.
    pub exits: usize,
    /// `exits / reach`.
    pub exit_rate: f64,
    /// Customers with an event in a later stage after their first touch of it.
    pub to_next_stage: usize,
    /// Median seconds from the first touch to the next later-stage event.
    pub median_s_to_next_stage: Option<f64>,
    /// The churn test, when it ran.
    pub churn_test: Option<TestResult>,
    /// The conversion test, when it ran.
    pub conversion_test: Option<TestResult>,
    /// Mean satisfaction (0–10) of survey answers tied to it: filled by the surveys
    /// analyses, `None` until then.
    pub satisfaction: Option<f64>,
}

/// One column of the map: a stage (or [`UNCLASSIFIED`]) and its touchpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageColumn {
    /// The stage key, or [`UNCLASSIFIED`].
    pub key: String,
    /// Distinct customers with an event in it.
    pub customers: usize,
    /// `customers / journeys`.
    pub share: f64,
    /// Customers with an event in it before their first goal event (or never converted).
    pub before_goal: usize,
    /// Of those, the ones who reached the goal afterwards.
    pub converted: usize,
    /// `converted / before_goal`.
    pub conversion_rate: Option<f64>,
    /// Customers with an event in it before their churn point.
    pub before_churn: usize,
    /// Of those, the ones who churned.
    pub churned: usize,
    /// `churned / before_churn`.
    pub churn_rate: Option<f64>,
    /// Churned customers whose last touchpoint before churn is in this column.
    pub exits: usize,
    /// Customers with a later-stage event after entering it.
    pub to_next_stage: usize,
    /// Median seconds from entering the stage (first event in it) to the next event in a
    /// later stage; `None` for [`UNCLASSIFIED`] or when no one moved on.
    pub median_s_to_next_stage: Option<f64>,
    /// Mean satisfaction (0–10) in the stage: filled by the surveys analyses, `None` until
    /// then.
    pub satisfaction: Option<f64>,
    /// Its touchpoints with at least one customer, by reach (descending).
    pub touchpoints: Vec<TouchpointStats>,
}

/// Why a touchpoint is a pain point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PainReason {
    /// Customers who touched it churned significantly more often than their peers.
    Churn,
    /// Customers who passed it before the goal converted significantly less often.
    Conversion,
}

/// A touchpoint where the journey hurts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainPoint {
    /// The touchpoint's key.
    pub touchpoint: String,
    /// Its column key.
    pub stage: String,
    /// Its reach.
    pub reach: usize,
    /// The adverse, significant tests (one or both).
    pub reasons: Vec<PainReason>,
    /// Customers it costs: the larger `customers_lost` of its adverse significant tests.
    pub customers_lost: f64,
    /// The least it costs at 95 % confidence: the larger `customers_lost_low` of those
    /// tests. Pain points are ranked by it.
    pub customers_lost_low: f64,
    /// The churn test, when it ran.
    pub churn: Option<TestResult>,
    /// The conversion test, when it ran.
    pub conversion: Option<TestResult>,
}

/// The journey map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyMapReport {
    /// The goal touchpoint's key (`None`: the dictionary has no conversion touchpoint).
    pub goal: Option<String>,
    /// The query's end of observation.
    pub now_s: i64,
    /// The query's churn horizon.
    pub churn_horizon_s: i64,
    /// Whom touchpoints were compared with.
    pub compare: Comparison,
    /// All journeys together.
    pub baseline: Baseline,
    /// The project's stages in order, then [`UNCLASSIFIED`] when any touchpoint lacks a
    /// known stage.
    pub stages: Vec<StageColumn>,
    /// Pain points, most costly first.
    pub pain_points: Vec<PainPoint>,
    /// How many tests ran (the Benjamini–Hochberg family).
    pub tests: usize,
    /// Mean satisfaction per column, in column order: the emotion curve along the
    /// journey, filled by the surveys analyses; `None` until then.
    pub emotion_curve: Vec<Option<f64>>,
}

/// Counts for one touchpoint or column.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    reach: u64,
    before_goal: u64,
    converted: u64,
    before_churn: u64,
    churned: u64,
    exits: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.reach += o.reach;
        self.before_goal += o.before_goal;
        self.converted += o.converted;
        self.before_churn += o.before_churn;
        self.churned += o.churned;
        self.exits += o.exits;
    }
}

/// What the kernel needs of a touchpoint.
#[derive(Debug, Clone, Copy)]
struct Info {
    /// Column index (stages, then unclassified).
    col: u16,
    /// [`GOAL`] | [`SIGNAL`].
    flags: u8,
}

/// [`Info::flags`]: the goal touchpoint.
const GOAL: u8 = 1;
/// [`Info::flags`]: a churn signal.
const SIGNAL: u8 = 2;
/// Not seen in the current journey.
const UNSEEN: u32 = u32::MAX;

/// Per-chunk counts, durations and scratch. Keys: touchpoints `0..n`, columns `n..n + cols`.
struct Acc {
    counts: Vec<Counts>,
    journeys: u64,
    converted: u64,
    churned: u64,
    by_signal: u64,
    /// Journeys with an event before the churn point, and how many of them churned.
    some_before_churn: u64,
    some_before_churn_churned: u64,
    /// Journeys with an event before the goal, and how many of them converted.
    some_before_goal: u64,
    some_before_goal_converted: u64,
    /// Per key, seconds to the next stage: one buffer per chunk, moved (not copied) on merge.
    durations: Vec<Vec<Vec<u32>>>,
    // Scratch, reset after every journey.
    first_pos: Vec<u32>,
    first_t: Vec<u32>,
    touched: Vec<u32>,
    /// `(stage, key)` waiting for an event in a later stage.
    pending: Vec<(u32, u32)>,
}

impl Acc {
    fn new(keys: usize) -> Acc {
        Acc {
            counts: vec![Counts::default(); keys],
            journeys: 0,
            converted: 0,
            churned: 0,
            by_signal: 0,
            some_before_churn: 0,
            some_before_churn_churned: 0,
            some_before_goal: 0,
            some_before_goal_converted: 0,
            durations: (0..keys).map(|_| vec![Vec::new()]).collect(),
            first_pos: vec![UNSEEN; keys],
            first_t: vec![0; keys],
            touched: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn merge(mut self, mut o: Acc) -> Acc {
        self.counts.iter_mut().zip(&o.counts).for_each(|(a, b)| a.add(b));
        self.journeys += o.journeys;
        self.converted += o.converted;
        self.churned += o.churned;
        self.by_signal += o.by_signal;
        self.some_before_churn += o.some_before_churn;
        self.some_before_churn_churned += o.some_before_churn_churned;
        self.some_before_goal += o.some_before_goal;
        self.some_before_goal_converted += o.some_before_goal_converted;
        self.durations.iter_mut().zip(&mut o.durations).for_each(|(a, b)| a.append(b));
        self
    }

    fn add(&mut self, j: Journey<'_>, infos: &[Info], stages: usize, k: &Kernel) {
        let len = observed_len(j.times, k.now_rel);
        if len == 0 {
            return;
        }
        let n = infos.len();
        let (times, tps) = (&j.times[..len], &j.touchpoints[..len]);
        let (mut first_signal, mut first_goal) = (len, len);
        // Locals, so the hot loop keeps them in registers.
        let (first_pos, first_t, touched, pending) =
            (&mut self.first_pos[..], &mut self.first_t[..], &mut self.touched, &mut self.pending);
        let durations = &mut self.durations;
        // The smallest stage with a pending key (u32::MAX: none).
        let mut lowest = u32::MAX;
        for (i, (&tp, &t)) in tps.iter().zip(times).enumerate() {
            let Some(&info) = infos.get(tp as usize) else { continue };
            if info.flags != 0 {
                if info.flags & SIGNAL != 0 && first_signal == len {
                    first_signal = i;
                }
                if info.flags & GOAL != 0 && first_goal == len {
                    first_goal = i;
                }
            }
            let col = u32::from(info.col);
            let staged = (col as usize) < stages;
            if staged && col > lowest {
                // Everything waiting in an earlier stage moves on now.
                let mut rest = u32::MAX;
                pending.retain(|&(s, key)| {
                    if s < col {
                        durations[key as usize][0].push(t - first_t[key as usize]);
                        false
                    } else {
                        rest = rest.min(s);
                        true
                    }
                });
                lowest = rest;
            }
            let tp = tp as usize;
            if first_pos[tp] == UNSEEN {
                // A column is entered at the first occurrence of one of its touchpoints.
                for key in [tp, n + col as usize] {
                    if first_pos[key] == UNSEEN {
                        first_pos[key] = i as u32;
                        touched.push(key as u32);
                        if staged {
                            first_t[key] = t;
                            pending.push((col, key as u32));
                            lowest = lowest.min(col);
                        }
                    }
                }
            }
        }
        pending.clear();

        let reason = churn_reason(first_signal < len, times[len - 1], k.now_rel, k.horizon_s);
        let churned = reason.is_some();
        let converted = first_goal < len;
        self.journeys += 1;
        self.converted += u64::from(converted);
        self.churned += u64::from(churned);
        self.by_signal += u64::from(reason == Some(ChurnReason::Signal));
        if first_signal > 0 {
            self.some_before_churn += 1;
            self.some_before_churn_churned += u64::from(churned);
        }
        if first_goal > 0 {
            self.some_before_goal += 1;
            self.some_before_goal_converted += u64::from(converted);
        }
        // The last touchpoint before churn: before the first signal, or the last event.
        let exit = match reason {
            Some(ChurnReason::Signal) => first_signal.checked_sub(1),
            Some(ChurnReason::Silence) => Some(len - 1),
            None => None,
        };
        if let Some(e) = exit {
            let tp = tps[e] as usize;
            if let Some(info) = infos.get(tp) {
                self.counts[tp].exits += 1;
                self.counts[n + info.col as usize].exits += 1;
            }
        }
        for &key in touched.iter() {
            let key = key as usize;
            let pos = first_pos[key] as usize;
            first_pos[key] = UNSEEN;
            let c = &mut self.counts[key];
            c.reach += 1;
            if pos < first_goal {
                c.before_goal += 1;
                c.converted += u64::from(converted);
            }
            if pos < first_signal {
                c.before_churn += 1;
                c.churned += u64::from(churned);
            }
        }
        touched.clear();
    }
}

/// Query settings the kernel needs.
struct Kernel {
    now_rel: i64,
    horizon_s: i64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn lift(rate: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (rate, base) {
        (Some(r), Some(b)) if b > 0.0 => Some(r / b),
        _ => None,
    }
}

/// The journey map of `set` as of `query.now_s`. Touchpoint indexes outside the dictionary
/// count as events (for silence) but are not analysed. Fails only for an unknown goal.
pub fn journey_map(
    set: &impl Journeys,
    dict: &Dictionary,
    query: &JourneyMapQuery,
) -> Result<JourneyMapReport, JourneyMapError> {
    let goal = match &query.goal {
        Some(key) => Some(dict.find(key).ok_or_else(|| {
            let known = dict.touchpoints.iter().map(|t| t.key.as_str());
            let near = touchpoint_core::suggest::nearest(key, known).into_iter().map(String::from).collect();
            JourneyMapError::UnknownGoal(key.clone(), near)
        })?),
        None => dict.goals().first().copied(),
    };
    let n = dict.touchpoints.len();
    let stages = dict.stages.len();
    let infos: Vec<Info> = (0..n)
        .map(|i| Info {
            col: dict.stage_index(i as Tp).unwrap_or(stages) as u16,
            flags: if goal == Some(i as Tp) { GOAL } else { 0 } | if dict.touchpoints[i].churn { SIGNAL } else { 0 },
        })
        .collect();
    let cols = stages + 1;
    let kernel = Kernel { now_rel: query.now_s.saturating_sub(set.epoch_s()), horizon_s: query.churn_horizon_s };
    // Boxed: the accumulator moves through the fold once per journey.
    let acc = set.fold(
        || Box::new(Acc::new(n + cols)),
        |mut acc, j| {
            acc.add(j, &infos, stages, &kernel);
            acc
        },
        |a, b| Box::new(a.merge(*b)),
    );
    let medians: Vec<(usize, Option<f64>)> = acc.durations.into_par_iter().map(median).collect();

    let baseline = Baseline {
        journeys: acc.journeys as usize,
        converted: acc.converted as usize,
        conversion_rate: goal.and(ratio(acc.converted, acc.journeys)),
        churned: acc.churned as usize,
        churn_rate: ratio(acc.churned, acc.journeys),
        churned_by_signal: acc.by_signal as usize,
    };

    // The tests, in one Benjamini–Hochberg family.
    struct Pending {
        tp: usize,
        churn: bool,
        x1: u64,
        n1: u64,
        x2: u64,
        n2: u64,
    }
    let min = query.min_customers as u64;
    let mut tests: Vec<Pending> = vec![];
    for (tp, &info) in infos.iter().enumerate() {
        let c = &acc.counts[tp];
        if c.reach == 0 || info.flags & SIGNAL != 0 {
            continue;
        }
        let by_col = query.compare == Comparison::Stage && (info.col as usize) < stages;
        let col = &acc.counts[n + info.col as usize];
        let (churn_n, churn_x) = if by_col {
            (col.before_churn, col.churned)
        } else {
            (acc.some_before_churn, acc.some_before_churn_churned)
        };
        let (goal_n, goal_x) = if by_col {
            (col.before_goal, col.converted)
        } else {
            (acc.some_before_goal, acc.some_before_goal_converted)
        };
        let mut push = |churn: bool, x1: u64, n1: u64, x2: u64, n2: u64| {
            if n1 >= min.max(1) && n2 >= min.max(1) {
                tests.push(Pending { tp, churn, x1, n1, x2, n2 });
            }
        };
        push(true, c.churned, c.before_churn, churn_x - c.churned, churn_n - c.before_churn);
        if goal.is_some() && goal != Some(tp as Tp) {
            push(false, c.converted, c.before_goal, goal_x - c.converted, goal_n - c.before_goal);
        }
    }
    let tested: Vec<_> = tests.iter().map(|t| two_proportion_z(t.x1, t.n1, t.x2, t.n2)).collect();
    let qs = benjamini_hochberg(&tested.iter().map(|t| t.p).collect::<Vec<_>>());
    let mut churn_tests: Vec<Option<TestResult>> = vec![None; n];
    let mut conversion_tests: Vec<Option<TestResult>> = vec![None; n];
    for ((t, z), q) in tests.iter().zip(&tested).zip(qs) {
        let (rate, peer_rate) = (t.x1 as f64 / t.n1 as f64, t.x2 as f64 / t.n2 as f64);
        let gap = if t.churn { rate - peer_rate } else { peer_rate - rate };
        let se = (rate * (1.0 - rate) / t.n1 as f64 + peer_rate * (1.0 - peer_rate) / t.n2 as f64).sqrt();
        let result = TestResult {
            customers: t.n1 as usize,
            rate,
            peers: t.n2 as usize,
            peer_rate,
            z: z.z,
            p: z.p,
            q,
            adverse: q <= query.alpha && gap > 0.0,
            customers_lost: (t.n1 as f64 * gap).round(),
            customers_lost_low: (t.n1 as f64 * (gap - 1.96 * se)).max(0.0).floor(),
        };
        if t.churn {
            churn_tests[t.tp] = Some(result);
        } else {
            conversion_tests[t.tp] = Some(result);
        }
    }

    let journeys = acc.journeys;
    let col_key = |c: usize| if c < stages { dict.stages[c].clone() } else { UNCLASSIFIED.to_string() };
    let mut columns: Vec<StageColumn> = (0..cols)
        .map(|c| {
            let k = &acc.counts[n + c];
            let (to_next, median) = medians[n + c];
            StageColumn {
                key: col_key(c),
                customers: k.reach as usize,
                share: ratio(k.reach, journeys).unwrap_or(0.0),
                before_goal: k.before_goal as usize,
                converted: k.converted as usize,
                conversion_rate: goal.and(ratio(k.converted, k.before_goal)),
                before_churn: k.before_churn as usize,
                churned: k.churned as usize,
                churn_rate: ratio(k.churned, k.before_churn),
                exits: k.exits as usize,
                to_next_stage: to_next,
                median_s_to_next_stage: median,
                satisfaction: None,
                touchpoints: vec![],
            }
        })
        .collect();
    let mut pain_points = vec![];
    for tp in 0..n {
        let k = &acc.counts[tp];
        if k.reach == 0 {
            continue;
        }
        let (to_next, median) = medians[tp];
        let conversion_rate = goal.and(ratio(k.converted, k.before_goal));
        let churn_rate = ratio(k.churned, k.before_churn);
        let stats = TouchpointStats {
            key: dict.key(tp as Tp).to_string(),
            reach: k.reach as usize,
            share: ratio(k.reach, journeys).unwrap_or(0.0),
            before_goal: k.before_goal as usize,
            converted: k.converted as usize,
            conversion_rate,
            conversion_lift: lift(conversion_rate, baseline.conversion_rate),
            before_churn: k.before_churn as usize,
            churned: k.churned as usize,
            churn_rate,
            churn_lift: lift(churn_rate, baseline.churn_rate),
            exits: k.exits as usize,
            exit_rate: ratio(k.exits, k.reach).unwrap_or(0.0),
            to_next_stage: to_next,
            median_s_to_next_stage: median,
            churn_test: churn_tests[tp].clone(),
            conversion_test: conversion_tests[tp].clone(),
            satisfaction: None,
        };
        let adverse: Vec<(PainReason, f64, f64)> =
            [(PainReason::Churn, &stats.churn_test), (PainReason::Conversion, &stats.conversion_test)]
                .into_iter()
                .filter_map(|(reason, t)| {
                    t.as_ref().filter(|t| t.adverse).map(|t| (reason, t.customers_lost, t.customers_lost_low))
                })
                .collect();
        if !adverse.is_empty() {
            pain_points.push(PainPoint {
                touchpoint: stats.key.clone(),
                stage: col_key(infos[tp].col as usize),
                reach: stats.reach,
                reasons: adverse.iter().map(|a| a.0).collect(),
                customers_lost: adverse.iter().map(|a| a.1).fold(f64::NEG_INFINITY, f64::max),
                customers_lost_low: adverse.iter().map(|a| a.2).fold(f64::NEG_INFINITY, f64::max),
                churn: stats.churn_test.clone(),
                conversion: stats.conversion_test.clone(),
            });
        }
        columns[infos[tp].col as usize].touchpoints.push(stats);
    }
    for c in &mut columns {
        c.touchpoints.sort_by(|a, b| b.reach.cmp(&a.reach).then_with(|| a.key.cmp(&b.key)));
    }
    if columns[stages].customers == 0 && !infos.iter().any(|i| i.col as usize == stages) {
        columns.pop();
    }
    let min_q = |p: &PainPoint| {
        [&p.churn, &p.conversion].into_iter().flatten().filter(|t| t.adverse).map(|t| t.q).fold(1.0, f64::min)
    };
    pain_points.sort_by(|a, b| {
        b.customers_lost_low
            .total_cmp(&a.customers_lost_low)
            .then_with(|| b.customers_lost.total_cmp(&a.customers_lost))
            .then_with(|| min_q(a).total_cmp(&min_q(b)))
            .then_with(|| a.touchpoint.cmp(&b.touchpoint))
    });

    Ok(JourneyMapReport {
        goal: goal.map(|g| dict.key(g).to_string()),
        now_s: query.now_s,
        churn_horizon_s: query.churn_horizon_s,
        compare: query.compare,
        baseline,
        emotion_curve: vec![None; columns.len()],
        stages: columns,
        tests: tests.len(),
        pain_points,
    })
}

/// How many durations a key has, and their median.
fn median(mut chunks: Vec<Vec<u32>>) -> (usize, Option<f64>) {
    chunks.retain(|c| !c.is_empty());
    let mut all = if chunks.len() == 1 { chunks.pop().unwrap_or_default() } else { chunks.concat() };
    (all.len(), percentile_in_place(&mut all, 0.5))
}
