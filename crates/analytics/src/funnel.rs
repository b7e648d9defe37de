//! Funnels: how many customers go through ordered steps (touchpoints) within a conversion
//! window, how long each step takes, and who drops off where.
//!
//! The default mode has the semantics of ClickHouse `windowFunnel(window)` that the
//! product definition fixes (see `docs/definitions.md`, "Funnel"), so that the ClickHouse backend
//! can run the same [`FunnelQuery`] in SQL and be held to the same answers. Precisely:
//!
//! * A *chain of level k* is a list of k **distinct** events `e1 … ek` of the customer
//!   where `ej` is an event of step j's touchpoint, the times are non-decreasing
//!   (`t1 ≤ t2 ≤ … ≤ tk`) and `tk − t1 ≤ window`. Events with equal times may serve the
//!   steps in any order (ClickHouse sorts ties by step), so "B then A in the same second"
//!   counts as A → B.
//! * A customer's *level* is the largest k for which a chain exists; the funnel's count for
//!   step k is the number of customers whose level is ≥ k.
//! * One event never serves two steps of one chain, also when a touchpoint repeats in the
//!   steps (`[A, A, B]` needs two A events). This is ClickHouse `windowFunnel(window,
//!   'strict_once')`; when no touchpoint repeats in the steps it is the same as plain
//!   `windowFunnel(window)` (which, with repeated steps, lets one event count twice).
//!
//! The kernel is ClickHouse's greedy scan, extended to groups of equal timestamps: events
//! are read in time order; for every level it keeps the chain with the latest possible
//! start `t1` (a later start only makes the window easier to meet later on). All events of
//! one timestamp are applied together: the steps `a..=s` that the group can fill with
//! distinct events extend the best chain of level `a − 1` (or start one at `t` when
//! `a = 0`). This is exact, single pass, and allocates nothing per event.
//!
//! When no touchpoint repeats in the steps (default mode), a customer whose step events of
//! one time come in step order takes a faster form of the same scan: each event serves one
//! step, so a pass over the touchpoints alone picks the events of steps 2.. (with the latest
//! step-1 event before each), only their times are read, the scan stops once the last step is
//! reached, and the step times are rebuilt backwards from the event that first reached the
//! level (see `Plan::eval_distinct`).
//!
//! **Step times.** For each customer the reported times between steps come from one chain:
//! the one that reached the customer's level *earliest* (smallest `tk` for the level k),
//! and among those the one whose every step happened as *late* as possible. (The kernel's
//! state is exactly this chain; it is the component-wise latest of all chains completing
//! at that time, so step-to-step times are the shortest the data allows.) Medians and
//! 90th percentiles are ClickHouse `quantileExact`: the element at index `⌊q·n⌋` of the
//! sorted values.
//!
//! **Strict mode** follows ClickHouse `windowFunnel(window, 'strict_order')` evaluated over
//! the customer's events of the funnel's touchpoints only (other touchpoints are ignored,
//! as if filtered out with `WHERE touchpoint IN steps`, the way PostHog runs it): another
//! *step's* event out of order stops the customer's funnel. Precisely, events are read in
//! time order, one timestamp group at a time, applied as in the default mode; from the
//! first group that contains a step-1 event on, after each group every touchpoint present
//! in the group must be able to serve *some* step at this point — step 1, or a step j ≥ 2
//! whose preceding level j − 1 has been reached (now, including this group). If one cannot,
//! scanning stops and the customer's level is the level reached so far (this group
//! included). A step event that is merely outside the window does not stop it. When no
//! touchpoint repeats in the steps this is exactly ClickHouse's `strict_order` (including
//! its quirks: the check never forgets a level once reached, so `A B A C` reaches 3; the
//! first out-of-order event ends the scan for good, so `A C … A B C` reaches 1). With a
//! repeated touchpoint, an event that can serve any of its steps is in order (ClickHouse
//! would stop `[A, B, A]` at the first A).

use crate::journeys::{Dictionary, Journeys, Tp};
use crate::plan::PlanErrorKind;
use serde::{Deserialize, Serialize};
use touchpoint_core::CustomerId;

/// Why a query cannot run, in words a person understands (shared by every kernel), and
/// what kind of mistake it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryError {
    /// What is wrong, naming the field.
    pub message: String,
    /// A mistake in the query itself, or a key the project does not have.
    pub kind: PlanErrorKind,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

impl QueryError {
    /// A mistake in the query, with a message.
    pub fn new(message: impl Into<String>) -> QueryError {
        QueryError { message: message.into(), kind: PlanErrorKind::Invalid }
    }

    /// The error for a touchpoint key the project's dictionary does not have.
    pub fn unknown_touchpoint(what: &str, key: &str) -> QueryError {
        QueryError { message: format!("{what}: unknown touchpoint {key:?}"), kind: PlanErrorKind::Unknown }
    }
}

/// Resolve a touchpoint key, or say which one is unknown and which known ones are near.
pub(crate) fn resolve(dict: &Dictionary, what: &str, key: &str) -> Result<Tp, QueryError> {
    dict.find(key).ok_or_else(|| {
        let hint = touchpoint_core::suggest::hint(key, dict.touchpoints.iter().map(|t| t.key.as_str()));
        QueryError { message: format!("{what}: unknown touchpoint {key:?}{hint}"), kind: PlanErrorKind::Unknown }
    })
}

/// The most steps a funnel may have (ClickHouse's `windowFunnel` limit).
pub const MAX_STEPS: usize = 32;
/// The default conversion window: 14 days.
pub const DEFAULT_WINDOW_S: i64 = 14 * 86_400;
/// The default length of the drop-off list.
pub const DEFAULT_DROPPED_LIMIT: usize = 100;

fn default_window() -> i64 {
    DEFAULT_WINDOW_S
}

fn default_dropped_limit() -> usize {
    DEFAULT_DROPPED_LIMIT
}

/// How strictly the steps must follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelMode {
    /// ClickHouse `windowFunnel(window)`: other events may happen between the steps.
    #[default]
    Default,
    /// ClickHouse `strict_order` over the step touchpoints: an out-of-order step event stops
    /// the funnel (see the module documentation for the exact rule).
    Strict,
}

/// A funnel: ordered steps and a conversion window. The backend-neutral plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    /// Touchpoint keys of the steps, in order (1 to [`MAX_STEPS`]; a key may repeat).
    pub steps: Vec<String>,
    /// Longest time from the first step to the last one reached, in seconds (≥ 1; default
    /// 14 days). `t_k − t_1 == window_s` still counts.
    #[serde(default = "default_window")]
    pub window_s: i64,
    /// Default or strict order.
    #[serde(default)]
    pub mode: FunnelMode,
    /// List customers who reached this step (1-based, the level `windowFunnel` returns) but
    /// not the next one; between 1 and the number of steps − 1.
    #[serde(default)]
    pub dropped_step: Option<usize>,
    /// At most this many customer ids in the drop-off list (default 100): the smallest ids.
    #[serde(default = "default_dropped_limit")]
    pub dropped_limit: usize,
}

impl FunnelQuery {
    /// A query for these steps with every other field at its default.
    pub fn new(steps: impl IntoIterator<Item = impl Into<String>>) -> FunnelQuery {
        FunnelQuery {
            steps: steps.into_iter().map(Into::into).collect(),
            window_s: DEFAULT_WINDOW_S,
            mode: FunnelMode::Default,
            dropped_step: None,
            dropped_limit: DEFAULT_DROPPED_LIMIT,
        }
    }
}

/// One step of a funnel report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// The step's number, 1-based.
    pub step: usize,
    /// The step's touchpoint key.
    pub key: String,
    /// Customers whose level is at least this step.
    pub customers: u64,
    /// `customers` of this step / of the previous step (step 1: 1, or 0 when nobody
    /// reached it; 0 whenever the denominator is 0).
    pub from_previous: f64,
    /// `customers` of this step / of step 1 (step 1: 1; 0 when step 1 has nobody).
    pub from_first: f64,
    /// Median seconds from the previous step to this one, over the customers who reached
    /// this step (`None` for step 1 and when nobody reached it).
    pub median_s: Option<u64>,
    /// 90th percentile of the same times.
    pub p90_s: Option<u64>,
}

/// Customers who reached a step but not the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelDropped {
    /// The step they reached (1-based); they did not reach `step + 1`.
    pub step: usize,
    /// How many customers dropped off there.
    pub total: u64,
    /// Their ids, ascending, at most `dropped_limit` of them.
    pub customers: Vec<CustomerId>,
}

/// The result of a funnel query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    /// Customers in the set (whether or not they reached step 1).
    pub total_customers: u64,
    /// One entry per step, in order.
    pub steps: Vec<FunnelStep>,
    /// The drop-off list, when `dropped_step` was asked for.
    pub dropped: Option<FunnelDropped>,
}

/// The query, checked and resolved against the dictionary.
struct Plan {
    /// Number of steps.
    k: usize,
    window: u64,
    strict: bool,
    /// For every possible [`Tp`]: 1 + the slot of its touchpoint among the distinct step
    /// touchpoints, or 0 when it is not a step.
    slot_of: Vec<u8>,
    /// The slot of each step.
    step_slot: [u8; MAX_STEPS],
    /// For each slot, the steps (bit j = step j + 1) its touchpoint serves.
    slot_steps: [u32; MAX_STEPS],
    /// Default mode and no touchpoint repeats in the steps: slot = step, and customers
    /// whose step events of one time come in step order take [`Plan::eval_distinct`].
    distinct: bool,
    /// `slot_of` as a fixed-size table (no bounds checks in the hot loop).
    step_of: Box<[u8; 1 << 16]>,
}

impl Plan {
    fn new(dict: &Dictionary, q: &FunnelQuery) -> Result<Plan, QueryError> {
        if q.steps.is_empty() {
            return Err(QueryError::new("steps: a funnel needs at least one step"));
        }
        if q.steps.len() > MAX_STEPS {
            return Err(QueryError::new(format!(
                "steps: a funnel has at most {MAX_STEPS} steps, this one has {}",
                q.steps.len()
            )));
        }
        if q.window_s <= 0 {
            return Err(QueryError::new(format!(
                "window_s: the conversion window must be at least 1 second, not {}",
                q.window_s
            )));
        }
        let k = q.steps.len();
        if let Some(d) = q.dropped_step {
            if d == 0 || d >= k {
                return Err(QueryError::new(if k == 1 {
                    format!("dropped_step: a one-step funnel has no drop-off (got {d})")
                } else {
                    format!("dropped_step: must be a step from 1 to {} (the last step has no next one), not {d}", k - 1)
                }));
            }
        }
        let mut slot_of = vec![0u8; usize::from(Tp::MAX) + 1];
        let mut step_slot = [0u8; MAX_STEPS];
        let mut slot_steps = [0u32; MAX_STEPS];
        let mut slots = 0u8;
        for (j, key) in q.steps.iter().enumerate() {
            let tp = resolve(dict, &format!("steps[{j}]"), key)?;
            if slot_of[usize::from(tp)] == 0 {
                slots += 1;
                slot_of[usize::from(tp)] = slots;
            }
            let slot = slot_of[usize::from(tp)] - 1;
            step_slot[j] = slot;
            slot_steps[usize::from(slot)] |= 1 << j;
        }
        let strict = q.mode == FunnelMode::Strict;
        let distinct = !strict && usize::from(slots) == k;
        let mut step_of = Box::new([0u8; 1 << 16]);
        step_of.copy_from_slice(&slot_of);
        Ok(Plan { k, window: q.window_s as u64, strict, slot_of, step_slot, slot_steps, distinct, step_of })
    }

    /// The customer's level, leaving the times of its chain in `s.best[..level]`.
    fn eval(&self, times: &[u32], tps: &[Tp], s: &mut Scratch) -> usize {
        if self.distinct {
            if let Some(level) = self.eval_distinct(times, tps, s) {
                return level;
            }
        }
        self.eval_groups(times, tps, s)
    }

    /// The fast path for [`Plan::distinct`]: `None` when two of the customer's step events
    /// with the same time come with the later step first (then the general kernel decides).
    ///
    /// Each event serves at most one step, and step events of one time come in step order,
    /// so reading the events in journey order is reading them as the timestamp groups do
    /// (each group's events by step), and the greedy scan needs only the latest chain start
    /// per level: `start[1]` is the time of the latest step-1 event, and `start[j]` (level
    /// j ≥ 2) becomes `start[j − 1]` when a step-j event is within the window of it. For each
    /// 64 events, a pass over the touchpoints alone (no branch per event) notes the events of
    /// steps 2.. with the latest step-1 event before each, then the scan reads only their
    /// times; it stops after the 64 in which the last step is reached (later events cannot
    /// change the answer; a tie across that point is still checked). The chain that reached
    /// the level L first, each step as late as possible, ends at the first event that reached
    /// L; it is rebuilt backwards: the latest step L − 1 event before it, then the latest step
    /// L − 2 event before that one, … (each step as late as the chain above allows; its start
    /// is then at least as late as that of any chain ending there, so it is within the
    /// window).
    fn eval_distinct(&self, times: &[u32], tps: &[Tp], s: &mut Scratch) -> Option<usize> {
        const NONE: u64 = 1 << 63;
        let n = times.len();
        if s.later.len() < n {
            s.later.resize(n, 0);
        }
        let later = &mut s.later[..n];
        let step_of: &[u8; 1 << 16] = &self.step_of;
        let start = &mut s.start;
        start[2..=self.k].fill(NONE);
        let w = self.window;
        let (mut m, mut done) = (0, 0);
        let mut last1 = u64::from(u32::MAX);
        let mut reached = 1usize;
        let mut top = 0usize;
        let mut out_of_order = false;
        // 64 events at a time, until the last step is reached.
        for (b, block) in tps.chunks(64).enumerate() {
            // Gather the events of steps 2.. (their index << 32) with the index of the
            // latest step-1 event before each (u32::MAX: none), reading only touchpoints.
            let mut i = (b * 64) as u64;
            if let (Ok(block), Some(out)) = (<&[Tp; 64]>::try_from(block), later.get_mut(m..m + 64)) {
                // A whole 64: at most 64 notes, written without bounds checks.
                let out: &mut [u64; 64] = out.try_into().expect("64 notes");
                let mut k = 0;
                for quad in block.chunks_exact(4) {
                    for &tp in quad {
                        let d = step_of[usize::from(tp)];
                        last1 = if d == 1 { i } else { last1 };
                        out[k & 63] = i << 32 | last1;
                        k += usize::from(d >= 2);
                        i += 1;
                    }
                }
                m += k;
            } else {
                for &tp in block {
                    let d = step_of[usize::from(tp)];
                    last1 = if d == 1 { i } else { last1 };
                    later[m] = i << 32 | last1;
                    m += usize::from(d >= 2);
                    i += 1;
                }
            }
            for (x, &e) in later[..m].iter().enumerate().skip(done) {
                let p = (e >> 32) as usize;
                let l1 = (e as u32) as usize;
                let t = u64::from(times[p]);
                let d = step_of[usize::from(tps[p])];
                // A step event of the same time after it with a lower step? (Every such
                // pair of step events has an event of steps 2.. first.)
                if p + 1 < n && u64::from(times[p + 1]) == t {
                    out_of_order |= self.lower_step_after(times, tps, p);
                }
                start[1] = if l1 < p { u64::from(times[l1]) } else { NONE };
                let from = start[usize::from(d - 1)];
                let ok = t.wrapping_sub(from) <= w;
                start[usize::from(if ok { d } else { u8::MAX })] = from;
                let nd = if ok { usize::from(d) } else { 0 };
                if nd > reached {
                    reached = nd;
                    top = x;
                }
            }
            done = m;
            if self.k > 1 && reached == self.k {
                break;
            }
        }
        if last1 == u64::from(u32::MAX) {
            return Some(0);
        }
        if out_of_order {
            return None;
        }
        if reached > 1 {
            let pos = |x: usize| (later[x] >> 32) as usize;
            let mut at = top;
            s.best[reached - 1] = times[pos(at)];
            let mut want = reached - 1;
            let mut x = top;
            while want > 1 {
                x -= 1;
                if usize::from(step_of[usize::from(tps[pos(x)])]) == want {
                    want -= 1;
                    s.best[want] = times[pos(x)];
                    at = x;
                }
            }
            s.best[0] = times[(later[at] as u32) as usize];
        }
        Some(reached)
    }

    /// Whether an event after `p` with the same time is of a lower step than `p`'s.
    fn lower_step_after(&self, times: &[u32], tps: &[Tp], p: usize) -> bool {
        let d = self.step_of[usize::from(tps[p])];
        let same = times[p + 1..].iter().take_while(|&&t| t == times[p]).count();
        tps[p + 1..p + 1 + same].iter().any(|&tp| (1..d).contains(&self.step_of[usize::from(tp)]))
    }

    /// The general kernel: timestamp groups, repeated step touchpoints, strict mode.
    fn eval_groups(&self, times: &[u32], tps: &[Tp], s: &mut Scratch) -> usize {
        s.reached = 0;
        s.best_level = 0;
        s.seen_first = false;
        // Gather the step events first, without a branch per event (most events are not
        // steps, in no predictable pattern).
        if s.steps.len() < times.len() {
            s.steps.resize(times.len(), (0, 0));
        }
        let mut m = 0;
        for (&t, &tp) in times.iter().zip(tps) {
            let slot = self.slot_of[usize::from(tp)];
            s.steps[m] = (t, slot);
            m += usize::from(slot != 0);
        }
        let mut i = 0;
        while i < m {
            let t = s.steps[i].0;
            while i < m && s.steps[i].0 == t {
                let slot = usize::from(s.steps[i].1 - 1);
                s.count[slot] = s.count[slot].saturating_add(1);
                s.present |= 1 << slot;
                i += 1;
            }
            if self.flush(t, s) {
                break;
            }
        }
        s.best_level
    }

    /// Apply the group of step events at time `t` (counted in `s.count`), clear it, and
    /// say whether scanning this customer can stop.
    fn flush(&self, t: u32, s: &mut Scratch) -> bool {
        let single = s.present & (s.present - 1) == 0 && s.count[s.present.trailing_zeros() as usize] == 1;
        let reached = if single { self.apply_one(t, s) } else { self.apply_group(t, s) };
        s.reached = reached;
        if reached > s.best_level {
            s.best_level = reached;
            s.best[..reached].copy_from_slice(&s.chain[reached - 1][..reached]);
        }
        let mut stop = reached == self.k;
        if self.strict {
            s.seen_first |= s.count[usize::from(self.step_slot[0])] > 0;
            if s.seen_first {
                // A touchpoint serving steps j (0-based) is in order if some j ≤ reached.
                let allowed = (1u64 << (reached + 1)) - 1;
                let mut p = s.present;
                while p != 0 {
                    let slot = p.trailing_zeros() as usize;
                    p &= p - 1;
                    if u64::from(self.slot_steps[slot]) & allowed == 0 {
                        stop = true;
                    }
                }
            }
        }
        let mut p = s.present;
        while p != 0 {
            s.count[p.trailing_zeros() as usize] = 0;
            p &= p - 1;
        }
        s.present = 0;
        stop
    }

    /// The common case, a group of one event: it can fill one step only, so each step it
    /// serves (highest first) extends the kept chain one level below. Returns the levels
    /// reached.
    fn apply_one(&self, t: u32, s: &mut Scratch) -> usize {
        let old = s.reached;
        let mut reached = old;
        let mut steps = self.slot_steps[s.present.trailing_zeros() as usize];
        while steps != 0 {
            let j = 31 - steps.leading_zeros() as usize;
            steps &= !(1 << j);
            if j > 0 {
                if j > old || u64::from(t - s.chain[j - 1][0]) > self.window {
                    continue;
                }
                let (below, above) = s.chain.split_at_mut(j);
                above[0][..j].copy_from_slice(&below[j - 1][..j]);
            }
            s.chain[j][j] = t;
            reached = reached.max(j + 1);
        }
        reached
    }

    /// A group of several events with one timestamp. Returns the levels reached.
    fn apply_group(&self, t: u32, s: &mut Scratch) -> usize {
        let k = self.k;
        // lo[j]: the lowest step a such that the group can fill steps a..=j with distinct
        // events (a > j when step j's touchpoint is not in the group). Non-decreasing in j.
        let mut need = [0u8; MAX_STEPS];
        let mut lo = [0u8; MAX_STEPS];
        let mut a = 0usize;
        for (j, lo_j) in lo.iter_mut().enumerate().take(k) {
            let slot = usize::from(self.step_slot[j]);
            if s.count[slot] == 0 {
                for x in a..j {
                    need[usize::from(self.step_slot[x])] -= 1;
                }
                a = j + 1;
            } else {
                need[slot] += 1;
                while need[slot] > s.count[slot] {
                    need[usize::from(self.step_slot[a])] -= 1;
                    a += 1;
                }
            }
            *lo_j = a as u8;
        }
        // Extend, highest step first so that each reads the state before this group.
        let old = s.reached;
        let mut reached = old;
        for j in (0..k).rev() {
            let a = usize::from(lo[j]);
            if a > j {
                continue;
            }
            if a > 0 {
                if a > old || u64::from(t - s.chain[a - 1][0]) > self.window {
                    continue;
                }
                let (below, above) = s.chain.split_at_mut(j);
                above[0][..a].copy_from_slice(&below[a - 1][..a]);
            }
            s.chain[j][a..=j].fill(t);
            reached = reached.max(j + 1);
        }
        reached
    }
}

/// Per-customer working state, reused across customers.
struct Scratch {
    /// Levels reached so far (levels form a prefix: level j is reached iff j ≤ reached).
    reached: usize,
    /// `chain[j][..=j]`: step times of the kept chain of level j + 1.
    chain: [[u32; MAX_STEPS]; MAX_STEPS],
    /// The highest level reached and the times of the chain that reached it first.
    best_level: usize,
    best: [u32; MAX_STEPS],
    /// Strict mode: a step-1 event has been seen.
    seen_first: bool,
    /// The current timestamp group: events per slot, and which slots have any.
    count: [u8; MAX_STEPS],
    present: u32,
    /// The customer's step events: time and 1 + slot (grows to the longest journey).
    steps: Vec<(u32, u8)>,
    /// [`Plan::eval_distinct`]: `start[j]`, the latest start of a chain of level j ≥ 1
    /// (1 << 63: none yet); `start[255]` takes the writes that change nothing.
    start: [u64; 256],
    /// [`Plan::eval_distinct`]: the customer's events of steps 2.., `index << 32 | index of
    /// the latest step-1 event before it` (`u32::MAX`: none), in journey order (grows to the
    /// longest journey).
    later: Vec<u64>,
}

impl Scratch {
    fn new() -> Box<Scratch> {
        Box::new(Scratch {
            reached: 0,
            chain: [[0; MAX_STEPS]; MAX_STEPS],
            best_level: 0,
            best: [0; MAX_STEPS],
            seen_first: false,
            count: [0; MAX_STEPS],
            present: 0,
            steps: Vec::new(),
            start: [0; 256],
            later: Vec::new(),
        })
    }
}

/// What one range of customers contributes.
struct Acc {
    /// Customers by level (0..=k).
    levels: Vec<u64>,
    /// `gaps[j]`: seconds from step j − 1 to step j of each customer who reached step j.
    gaps: Vec<Vec<u32>>,
    dropped_total: u64,
    dropped: Vec<CustomerId>,
    scratch: Box<Scratch>,
}

/// ClickHouse `quantileExact(q)`: the element at index `⌊q·n⌋` (clamped) of the sorted
/// values; `None` for no values.
fn quantile_exact(values: &mut [u32], q: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let i = ((q * values.len() as f64) as usize).min(values.len() - 1);
    Some(u64::from(*values.select_nth_unstable(i).1))
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Run a funnel over a journey set.
pub fn run(set: &impl Journeys, dict: &Dictionary, q: &FunnelQuery) -> Result<FunnelReport, QueryError> {
    Ok(run_groups(set, dict, q)?.swap_remove(0))
}

/// Run a funnel over each group of a journey set (one report per group, see
/// [`Journeys::fold_groups`]), in one pass.
pub fn run_groups(set: &impl Journeys, dict: &Dictionary, q: &FunnelQuery) -> Result<Vec<FunnelReport>, QueryError> {
    let plan = Plan::new(dict, q)?;
    let k = plan.k;
    let limit = q.dropped_limit;
    let accs = set.fold_groups(
        || Acc {
            levels: vec![0; k + 1],
            gaps: vec![Vec::new(); k],
            dropped_total: 0,
            dropped: Vec::new(),
            scratch: Scratch::new(),
        },
        |mut acc, j| {
            let level = plan.eval(j.times, j.touchpoints, &mut acc.scratch);
            acc.levels[level] += 1;
            for step in 1..level {
                acc.gaps[step].push(acc.scratch.best[step] - acc.scratch.best[step - 1]);
            }
            if q.dropped_step == Some(level) {
                acc.dropped_total += 1;
                if acc.dropped.len() < limit {
                    acc.dropped.push(j.customer);
                }
            }
            acc
        },
        |mut a, mut b| {
            for (x, y) in a.levels.iter_mut().zip(&b.levels) {
                *x += y;
            }
            for (x, y) in a.gaps.iter_mut().zip(&mut b.gaps) {
                if x.len() < y.len() {
                    std::mem::swap(x, y);
                }
                x.extend_from_slice(y);
            }
            a.dropped_total += b.dropped_total;
            a.dropped.append(&mut b.dropped);
            a.dropped.sort_unstable();
            a.dropped.truncate(limit);
            a
        },
    );
    Ok(accs.into_iter().map(|acc| report(q, acc)).collect())
}

/// A group's report from its accumulator.
fn report(q: &FunnelQuery, acc: Acc) -> FunnelReport {
    let k = q.steps.len();
    let mut at_least = vec![0u64; k + 1];
    for level in (0..=k).rev() {
        at_least[level] = acc.levels[level] + at_least.get(level + 1).copied().unwrap_or(0);
    }
    let mut gaps = acc.gaps;
    let steps = (0..k)
        .map(|j| {
            let customers = at_least[j + 1];
            let (from_previous, from_first) =
                if j == 0 { (1.0, 1.0) } else { (fraction(customers, at_least[j]), fraction(customers, at_least[1])) };
            let (from_previous, from_first) =
                if j == 0 && customers == 0 { (0.0, 0.0) } else { (from_previous, from_first) };
            let g = &mut gaps[j];
            FunnelStep {
                step: j + 1,
                key: q.steps[j].clone(),
                customers,
                from_previous,
                from_first,
                median_s: if j == 0 { None } else { quantile_exact(g, 0.5) },
                p90_s: if j == 0 { None } else { quantile_exact(g, 0.9) },
            }
        })
        .collect();
    let dropped = q.dropped_step.map(|step| FunnelDropped { step, total: acc.dropped_total, customers: acc.dropped });
    FunnelReport { total_customers: acc.levels.iter().sum(), steps, dropped }
}
