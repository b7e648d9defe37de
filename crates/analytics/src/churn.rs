//! Churn analysis: who left, and what the customers who leave go through just before.
//!
//! Definitions (shared with the journey map, which uses [`observed_len`] and
//! [`churn_reason`]):
//!
//! * **Observation.** Only events at or before `now_s` exist for a query; a customer with
//!   none is not counted at all.
//! * **Churned.** A customer has churned when their journey contains a churn-signal
//!   touchpoint ([`touchpoint_core::Touchpoint::churn`]) — reason [`ChurnReason::Signal`] —
//!   or, failing that, when their last event is *more than* `churn_horizon_s` before
//!   `now_s` — reason [`ChurnReason::Silence`]. A last event exactly `churn_horizon_s`
//!   before `now_s` is not yet silence. Everyone else *stayed*.
//! * **Churn point.** For a signal, the customer's first churn-signal event; for silence,
//!   the end of the journey. Events from a first churn signal on are after the churn point.
//! * **Left when.** A signal churner left at their first churn signal; a silent one when
//!   the silence reached the horizon (last event + `churn_horizon_s`). With `left_from_s`
//!   (a period's start), a customer who had left before it is not counted at all — they
//!   were gone before the period began —, so the report is "who left during the period"
//!   among the customers still there at its start or arriving in it. The plan of a period
//!   reads the horizon before it too ([`crate::plan::AnalysisPlan::new`]): silence needs
//!   the history that shows it.
//! * **Last k.** The last `last_k` events before the churn point (for a stayer: the last
//!   `last_k` events of the journey); the churn signal itself is never among them. A
//!   touchpoint is *in* a customer's last k when at least one of those events is it.
//! * **Drivers.** For every touchpoint that is not a churn signal and is in the last k of
//!   at least `min_customers` customers: the share of churned customers with it in their
//!   last k against the share of stayers, the lift (ratio of the two), a pooled
//!   two-proportion z-test and its Benjamini–Hochberg q-value across all tested
//!   touchpoints. A touchpoint is a driver when it is over-represented (lift > 1) with
//!   q ≤ `alpha`. Drivers come first, strongest lift first (ties: smaller q); the other
//!   tested touchpoints follow by p-value.
//!
//! One parallel pass over the journeys ([`JourneySet::fold`]); per-chunk scratch only, no
//! allocation per event or per customer.

use crate::journeys::{Dictionary, Journey, Journeys, Tp};
use crate::stats::{benjamini_hochberg, two_proportion_z};
use serde::{Deserialize, Serialize};
use touchpoint_core::CustomerId;

/// Seconds in a day.
pub const DAY_S: i64 = 86_400;
/// The default churn horizon: 90 days of silence.
pub const DEFAULT_CHURN_HORIZON_S: i64 = 90 * DAY_S;
/// The default significance level (false-discovery rate).
pub const DEFAULT_ALPHA: f64 = 0.05;
/// The default smallest number of customers a touchpoint needs to be tested.
pub const DEFAULT_MIN_CUSTOMERS: usize = 30;
/// The default number of events before churn that are examined.
pub const DEFAULT_LAST_K: usize = 3;
/// The default number of churned customer ids listed.
pub const DEFAULT_MAX_CUSTOMER_IDS: usize = 1000;

pub(crate) fn default_horizon() -> i64 {
    DEFAULT_CHURN_HORIZON_S
}
pub(crate) fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}
pub(crate) fn default_min_customers() -> usize {
    DEFAULT_MIN_CUSTOMERS
}
fn default_last_k() -> usize {
    DEFAULT_LAST_K
}
fn default_max_ids() -> usize {
    DEFAULT_MAX_CUSTOMER_IDS
}

/// What to compute: churn as of `now_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnQuery {
    /// End of observation (unix seconds): later events are ignored.
    pub now_s: i64,
    /// Silence longer than this (seconds) is churn. Default 90 days.
    #[serde(default = "default_horizon")]
    pub churn_horizon_s: i64,
    /// How many events before the churn point are examined. Default 3.
    #[serde(default = "default_last_k")]
    pub last_k: usize,
    /// False-discovery rate for drivers. Default 0.05.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Touchpoints in fewer customers' last k are not tested. Default 30.
    #[serde(default = "default_min_customers")]
    pub min_customers: usize,
    /// At most this many churned customer ids are listed (the smallest ids). Default 1000.
    #[serde(default = "default_max_ids")]
    pub max_customer_ids: usize,
    /// Only customers who left at or after this (unix seconds) count as churned; those who
    /// had left before it are not counted at all. `None`: everyone who left, ever.
    #[serde(default)]
    pub left_from_s: Option<i64>,
}

impl ChurnQuery {
    /// A query as of `now_s` with every other setting at its default.
    pub fn new(now_s: i64) -> ChurnQuery {
        ChurnQuery {
            now_s,
            churn_horizon_s: DEFAULT_CHURN_HORIZON_S,
            last_k: DEFAULT_LAST_K,
            alpha: DEFAULT_ALPHA,
            min_customers: DEFAULT_MIN_CUSTOMERS,
            max_customer_ids: DEFAULT_MAX_CUSTOMER_IDS,
            left_from_s: None,
        }
    }
}

/// Why a customer counts as churned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnReason {
    /// The journey contains a churn-signal touchpoint.
    Signal,
    /// No event for longer than the churn horizon.
    Silence,
}

/// How many of a journey's events (times relative to the set's epoch) are at or before
/// `now_rel` (`now_s − epoch_s`).
pub(crate) fn observed_len(times: &[u32], now_rel: i64) -> usize {
    match times.last() {
        None => 0,
        Some(&last) if i64::from(last) <= now_rel => times.len(),
        Some(_) => times.partition_point(|&t| i64::from(t) <= now_rel),
    }
}

/// Whether and why a customer churned: `has_signal` when a churn signal was observed,
/// `last` the time of the last observed event (relative to the epoch, as `now_rel`).
pub(crate) fn churn_reason(has_signal: bool, last: u32, now_rel: i64, horizon_s: i64) -> Option<ChurnReason> {
    if has_signal {
        Some(ChurnReason::Signal)
    } else if now_rel.saturating_sub(i64::from(last)) > horizon_s {
        Some(ChurnReason::Silence)
    } else {
        None
    }
}

/// When a churned customer left (relative to the epoch, as `last`): at the first churn
/// signal (`signal_at`) or when the silence after `last` reached the horizon.
pub(crate) fn left_at(reason: ChurnReason, signal_at: u32, last: u32, horizon_s: i64) -> i64 {
    match reason {
        ChurnReason::Signal => i64::from(signal_at),
        ChurnReason::Silence => i64::from(last).saturating_add(horizon_s),
    }
}

/// One churn-signal touchpoint and how many churned customers showed it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalCount {
    /// The churn-signal touchpoint's key.
    pub touchpoint: String,
    /// Customers whose first churn signal it was.
    pub customers: usize,
}

/// One touchpoint compared between the last k of churned customers and of stayers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnDriver {
    /// The touchpoint's key.
    pub touchpoint: String,
    /// Its stage key, if it has one.
    pub stage: Option<String>,
    /// Churned customers with it in their last k.
    pub churned_with: usize,
    /// `churned_with` / churned customers.
    pub churned_share: f64,
    /// Stayers with it in their last k.
    pub stayed_with: usize,
    /// `stayed_with` / stayers.
    pub stayed_share: f64,
    /// `churned_share / stayed_share`; `None` when no stayer has it (unbounded).
    pub lift: Option<f64>,
    /// Pooled two-proportion z (positive: more common before churn).
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Benjamini–Hochberg q-value across all tested touchpoints.
    pub q: f64,
    /// Over-represented before churn (lift > 1) with `q ≤ alpha`.
    pub driver: bool,
}

/// Who churned as of `now_s`, and which touchpoints precede churn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnReport {
    /// Customers with at least one event at or before `now_s`, but for those who had left
    /// before `left_from_s`.
    pub customers: usize,
    /// Customers who churned.
    pub churned: usize,
    /// `churned / customers` (0 when there are none).
    pub churn_rate: f64,
    /// Churned by a churn signal.
    pub by_signal: usize,
    /// Churned by silence (no signal).
    pub by_silence: usize,
    /// Customers who stayed.
    pub stayed: usize,
    /// Signal churn by the first churn-signal touchpoint, most common first.
    pub signals: Vec<SignalCount>,
    /// Ids of churned customers, ascending, at most `max_customer_ids` of them.
    pub churned_customers: Vec<CustomerId>,
    /// Every tested touchpoint: drivers first (strongest lift first), then the rest by p.
    pub drivers: Vec<ChurnDriver>,
    /// How many touchpoints were tested (the Benjamini–Hochberg family).
    pub tested: usize,
    /// The silence (seconds) that counted as churn.
    pub churn_horizon_s: i64,
    /// Only who left at or after this (unix seconds) counted, if set.
    pub left_from_s: Option<i64>,
}

/// Per-chunk counts and scratch.
struct Acc {
    c: ChurnCounts,
    /// Scratch: the journey number that last counted each touchpoint.
    stamp: Vec<u32>,
    journey: u32,
}

impl Acc {
    fn new(n: usize) -> Acc {
        Acc { c: ChurnCounts::new(n), stamp: vec![0; n], journey: 0 }
    }

    fn merge(mut self, other: Acc, max_ids: usize) -> Acc {
        self.c.merge(other.c, max_ids);
        self
    }

    fn add(&mut self, j: Journey<'_>, signal: &[bool], q: &ChurnQuery, now_rel: i64, left_from_rel: Option<i64>) {
        let len = observed_len(j.times, now_rel);
        if len == 0 {
            return;
        }
        let tps = &j.touchpoints[..len];
        let first = tps.iter().position(|&tp| signal.get(tp as usize).copied().unwrap_or(false));
        let reason = churn_reason(first.is_some(), j.times[len - 1], now_rel, q.churn_horizon_s);
        let end = first.unwrap_or(len);
        if let (Some(from), Some(r)) = (left_from_rel, reason) {
            let signal_at = j.times[end.min(len - 1)];
            if left_at(r, signal_at, j.times[len - 1], q.churn_horizon_s) < from {
                return;
            }
        }
        self.c.customers += 1;
        match reason {
            Some(ChurnReason::Signal) => {
                self.c.by_signal += 1;
                self.c.first_signal[tps[end] as usize] += 1;
            }
            Some(ChurnReason::Silence) => self.c.by_silence += 1,
            None => {}
        }
        if reason.is_some() && self.c.ids.len() < q.max_customer_ids {
            self.c.ids.push(j.customer);
        }
        if self.journey == u32::MAX {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.journey = 0;
        }
        self.journey += 1;
        let counts = if reason.is_some() { &mut self.c.churned_with } else { &mut self.c.stayed_with };
        for &tp in &tps[end.saturating_sub(q.last_k)..end] {
            if let Some(s) = self.stamp.get_mut(tp as usize) {
                if *s != self.journey {
                    *s = self.journey;
                    counts[tp as usize] += 1;
                }
            }
        }
    }
}

/// What a churn report is counted from: per customer, whether and why they churned, and
/// per touchpoint (dictionary index) the customers with it in their last k. Counts of two
/// disjoint sets of customers add up ([`ChurnCounts::merge`]); the SQL executor counts
/// on the shards and merges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChurnCounts {
    /// Customers with an event at or before "now" (but for those who had left before
    /// `left_from_s`).
    pub customers: u64,
    /// Churned by a churn signal.
    pub by_signal: u64,
    /// Churned by silence.
    pub by_silence: u64,
    /// Per touchpoint: churned customers with it in their last k.
    pub churned_with: Vec<u64>,
    /// Per touchpoint: stayers with it in their last k.
    pub stayed_with: Vec<u64>,
    /// Per touchpoint: customers whose first churn signal it was.
    pub first_signal: Vec<u64>,
    /// The smallest churned customer ids, ascending, at most `max_customer_ids`.
    pub ids: Vec<CustomerId>,
}

impl ChurnCounts {
    /// Nothing counted, for `n` touchpoints.
    pub fn new(n: usize) -> ChurnCounts {
        ChurnCounts {
            churned_with: vec![0; n],
            stayed_with: vec![0; n],
            first_signal: vec![0; n],
            ..Default::default()
        }
    }

    /// Add the counts of other customers; the ids stay the smallest `max_ids`.
    pub fn merge(&mut self, other: ChurnCounts, max_ids: usize) {
        self.customers += other.customers;
        self.by_signal += other.by_signal;
        self.by_silence += other.by_silence;
        for (a, b) in [
            (&mut self.churned_with, &other.churned_with),
            (&mut self.stayed_with, &other.stayed_with),
            (&mut self.first_signal, &other.first_signal),
        ] {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        self.ids.extend(other.ids);
        self.ids.sort_unstable();
        self.ids.truncate(max_ids);
    }
}

/// Count a journey set for [`report`]: one parallel pass.
pub fn counts(set: &impl Journeys, dict: &Dictionary, query: &ChurnQuery) -> ChurnCounts {
    let n = dict.touchpoints.len();
    let signal: Vec<bool> = dict.touchpoints.iter().map(|t| t.churn).collect();
    let now_rel = query.now_s.saturating_sub(set.epoch_s());
    let left_from_rel = query.left_from_s.map(|s| s.saturating_sub(set.epoch_s()));
    // Boxed: the accumulator moves through the fold once per journey.
    let acc = set.fold(
        || Box::new(Acc::new(n)),
        |mut acc, j| {
            acc.add(j, &signal, query, now_rel, left_from_rel);
            acc
        },
        |a, b| Box::new(a.merge(*b, query.max_customer_ids)),
    );
    acc.c
}

/// Who churned as of `query.now_s`, and the churn drivers. Touchpoint indexes outside the
/// dictionary count as events (for silence) but are not analysed.
pub fn churn(set: &impl Journeys, dict: &Dictionary, query: &ChurnQuery) -> ChurnReport {
    report(dict, query, counts(set, dict, query))
}

/// The churn report of counted customers: the signals, the drivers tested and ranked.
pub fn report(dict: &Dictionary, query: &ChurnQuery, acc: ChurnCounts) -> ChurnReport {
    let n = dict.touchpoints.len();
    let signal: Vec<bool> = dict.touchpoints.iter().map(|t| t.churn).collect();
    let churned = acc.by_signal + acc.by_silence;
    let stayed = acc.customers - churned;
    let share = |x: u64, of: u64| if of == 0 { 0.0 } else { x as f64 / of as f64 };
    let mut signals: Vec<SignalCount> = (0..n)
        .filter(|&i| acc.first_signal[i] > 0)
        .map(|i| SignalCount { touchpoint: dict.key(i as Tp).to_string(), customers: acc.first_signal[i] as usize })
        .collect();
    signals.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.touchpoint.cmp(&b.touchpoint)));

    let mut drivers: Vec<ChurnDriver> = (0..n)
        .filter(|&i| !signal[i] && (acc.churned_with[i] + acc.stayed_with[i]) as usize >= query.min_customers)
        .filter(|&i| acc.churned_with[i] + acc.stayed_with[i] > 0)
        .map(|i| {
            let (cw, sw) = (acc.churned_with[i], acc.stayed_with[i]);
            let test = two_proportion_z(cw, churned, sw, stayed);
            let (cs, ss) = (share(cw, churned), share(sw, stayed));
            ChurnDriver {
                touchpoint: dict.key(i as Tp).to_string(),
                stage: dict.get(i as Tp).stage.clone(),
                churned_with: cw as usize,
                churned_share: cs,
                stayed_with: sw as usize,
                stayed_share: ss,
                lift: (ss > 0.0).then(|| cs / ss),
                z: test.z,
                p: test.p,
                q: 1.0,
                driver: false,
            }
        })
        .collect();
    let q = benjamini_hochberg(&drivers.iter().map(|d| d.p).collect::<Vec<_>>());
    for (d, q) in drivers.iter_mut().zip(q) {
        d.q = q;
        d.driver = q <= query.alpha && d.churned_share > d.stayed_share;
    }
    drivers.sort_by(|a, b| {
        let lift = |d: &ChurnDriver| d.lift.unwrap_or(f64::INFINITY);
        b.driver
            .cmp(&a.driver)
            .then_with(|| if a.driver { lift(b).total_cmp(&lift(a)) } else { std::cmp::Ordering::Equal })
            .then_with(|| if a.driver { a.q.total_cmp(&b.q) } else { a.p.total_cmp(&b.p) })
            .then_with(|| a.touchpoint.cmp(&b.touchpoint))
    });

    ChurnReport {
        customers: acc.customers as usize,
        churned: churned as usize,
        churn_rate: share(churned, acc.customers),
        by_signal: acc.by_signal as usize,
        by_silence: acc.by_silence as usize,
        stayed: stayed as usize,
        signals,
        churned_customers: acc.ids,
        tested: drivers.len(),
        drivers,
        churn_horizon_s: query.churn_horizon_s,
        left_from_s: query.left_from_s,
    }
}
