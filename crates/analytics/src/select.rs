//! Filters and breakdowns, as selections of a journey set that the kernels fold in place:
//! a kernel reads [`Journeys`] and never knows whether they were filtered, and a filter
//! never copies the set.
//!
//! Event-level filters (time range, touchpoint channel / stage / kind / department) keep
//! only matching events; customer-level filters (first-touch channel, trait values) keep
//! only matching customers. A breakdown labels every selected customer by a dimension;
//! the analysis then runs once over the selection split by the groups, each customer's
//! journey folded into its group's accumulator ([`Selection::split`]), or, for a kernel
//! that folds one group at a time, once per group, each group a selection of its own.

use crate::journeys::{Dictionary, Journey, JourneySet, Journeys, Tp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use touchpoint_core::CustomerId;

/// Which events and customers an analysis looks at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    /// Only events at or after this time (unix seconds).
    pub from: Option<i64>,
    /// Only events before this time (unix seconds).
    pub to: Option<i64>,
    /// Only events of touchpoints in these channels.
    pub channels: Vec<String>,
    /// Only events of touchpoints in these stages.
    pub stages: Vec<String>,
    /// Only events of touchpoints of this kind (direct / indirect).
    pub kind: Option<String>,
    /// Only events of touchpoints owned by these departments.
    pub departments: Vec<String>,
    /// Only customers whose first touchpoint (after the event filters) is in these channels.
    pub first_touch_channels: Vec<String>,
    /// Only customers whose traits have these values (`{"country": "CZ"}`).
    pub traits: BTreeMap<String, String>,
}

/// How to split the customers into groups: `{"by": "trait", "name": "country"}`,
/// `{"by": "first_touch_channel"}` …, or as the command line writes it
/// ([`Breakdown::from_str`]; a plan reads either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "name")]
pub enum Breakdown {
    /// By the channel of the customer's first touchpoint.
    FirstTouchChannel,
    /// By the stage of the customer's first touchpoint.
    FirstTouchStage,
    /// By the kind (direct / indirect) of the customer's first touchpoint.
    FirstTouchKind,
    /// By the department owning the customer's first touchpoint.
    FirstTouchDepartment,
    /// By the value of a trait (customers without it are in `(none)`).
    Trait(String),
}

/// The forms a breakdown is written in, for messages.
pub(crate) const BREAKDOWN_FORMS: &str =
    "first_touch_channel, first_touch_stage, first_touch_kind, first_touch_department or trait:NAME";

impl std::str::FromStr for Breakdown {
    type Err = String;

    /// `first_touch_channel` (or `channel`), `…_stage`, `…_kind`, `…_department`, or
    /// `trait:NAME`.
    fn from_str(s: &str) -> Result<Breakdown, String> {
        match s {
            "first_touch_channel" | "channel" => Ok(Breakdown::FirstTouchChannel),
            "first_touch_stage" | "stage" => Ok(Breakdown::FirstTouchStage),
            "first_touch_kind" | "kind" => Ok(Breakdown::FirstTouchKind),
            "first_touch_department" | "department" => Ok(Breakdown::FirstTouchDepartment),
            other => match other.strip_prefix("trait:") {
                Some(k) if !k.is_empty() => Ok(Breakdown::Trait(k.to_string())),
                _ => Err(format!("{other:?}: use {BREAKDOWN_FORMS}")),
            },
        }
    }
}

impl Filter {
    /// Whether the filter needs trait values, and of which keys.
    pub fn trait_keys(&self) -> Vec<String> {
        self.traits.keys().cloned().collect()
    }

    fn keeps_tp(&self, dict: &Dictionary, tp: Tp) -> bool {
        let t = dict.get(tp);
        (self.channels.is_empty() || self.channels.iter().any(|c| c == t.channel.as_str()))
            && (self.stages.is_empty() || t.stage.as_ref().is_some_and(|s| self.stages.contains(s)))
            && self.kind.as_ref().is_none_or(|k| k == t.kind.as_str())
            && (self.departments.is_empty() || t.department.as_ref().is_some_and(|d| self.departments.contains(d)))
    }
}

/// Trait values of customers, for trait filters and breakdowns: key → customer → value.
pub type Traits = HashMap<String, HashMap<CustomerId, String>>;

/// The journeys a filter (and a breakdown group) keeps, read in place: a [`Journeys`] the
/// kernels fold like a whole set. Each core filters the journeys of its customer range as
/// it folds them: a time range alone is a sub-slice of each journey (two binary searches);
/// touchpoint filters copy one journey at a time into a buffer of the core's own.
/// Customers left without events are not visited.
pub struct Selection<'a> {
    set: &'a JourneySet,
    keep: Keep<'a>,
    /// A breakdown group: the indexes of its customers, ascending.
    group: Option<&'a [u32]>,
    /// A breakdown: how to label each selected customer. Only [`Journeys::fold_groups`]
    /// reads it.
    split: Option<&'a Labeller>,
    /// The groups of the breakdown, once [`Journeys::fold_groups`] has counted them.
    groups: OnceLock<Vec<Group>>,
    /// The largest touchpoint the selection can hold.
    max_tp: Option<Tp>,
    /// Customers and events selected, once a fold has counted them.
    counted: OnceLock<(usize, usize)>,
}

/// A filter made ready to apply to one journey at a time.
#[derive(Clone)]
struct Keep<'a> {
    /// The customer-level trait conditions: the values of the key, and the value wanted
    /// (`None` when no customer has the key: the filter keeps nobody).
    traits: Vec<(Option<&'a HashMap<CustomerId, String>>, &'a str)>,
    /// Per touchpoint index: whether its events are kept (those the dictionary does not
    /// have: not). Every index has an entry, so reading one needs no bounds check.
    keep_tp: Box<[bool; 1 << 16]>,
    /// Every touchpoint of the set is kept: only the time range selects events.
    every_tp: bool,
    /// Kept times: `lo ≤ t` and, unless `unbounded_to`, `t < hi`.
    lo: u32,
    hi: u32,
    unbounded_to: bool,
    /// First-touch channels: per touchpoint, whether a journey may start with it.
    first_ok: Option<Vec<bool>>,
}

/// A core's buffers for the journeys a touchpoint filter copies.
#[derive(Default)]
struct Buffer {
    times: Vec<u32>,
    touchpoints: Vec<Tp>,
}

impl<'a> Keep<'a> {
    fn new(set: &JourneySet, max_tp: Option<Tp>, dict: &'a Dictionary, f: &'a Filter, traits: &'a Traits) -> Keep<'a> {
        let mut keep_tp = Box::new([false; 1 << 16]);
        for (i, keep) in keep_tp.iter_mut().enumerate().take(dict.touchpoints.len()) {
            *keep = f.keeps_tp(dict, i as Tp);
        }
        let every_tp = max_tp.is_none_or(|m| keep_tp[..=usize::from(m)].iter().all(|&x| x));
        let first_ok = (!f.first_touch_channels.is_empty()).then(|| {
            dict.touchpoints.iter().map(|t| f.first_touch_channels.iter().any(|c| c == t.channel.as_str())).collect()
        });
        let rel = |t: i64| t.saturating_sub(set.epoch_s).clamp(0, u32::MAX as i64) as u32;
        Keep {
            traits: f.traits.iter().map(|(k, v)| (traits.get(k), v.as_str())).collect(),
            keep_tp,
            every_tp,
            lo: f.from.map(rel).unwrap_or(0),
            hi: f.to.map(rel).unwrap_or(u32::MAX),
            unbounded_to: f.to.is_none(),
            first_ok,
        }
    }

    /// Whether the filter keeps every event of every customer.
    fn keeps_everything(&self) -> bool {
        self.every_tp && self.lo == 0 && self.unbounded_to && self.traits.is_empty() && self.first_ok.is_none()
    }

    /// What the filter keeps of `j` (borrowing `buf` when it must copy), or `None`.
    fn journey<'j>(&self, j: Journey<'j>, buf: &'j mut Buffer) -> Option<Journey<'j>> {
        if !self.traits.iter().all(|(values, want)| values.and_then(|m| m.get(&j.customer)).is_some_and(|v| v == want))
        {
            return None;
        }
        let kept = if self.every_tp {
            let a = if self.lo == 0 { 0 } else { j.times.partition_point(|&t| t < self.lo) };
            let b = if self.unbounded_to { j.len() } else { j.times.partition_point(|&t| t < self.hi) };
            let b = b.max(a);
            Journey { customer: j.customer, times: &j.times[a..b], touchpoints: &j.touchpoints[a..b] }
        } else {
            // Every event is written and the end moves on only past kept ones: no branch
            // per event (which events a filter keeps follows no pattern). Everything the
            // loop reads is in locals, so nothing is reloaded per event.
            if !self.unbounded_to && self.hi == 0 {
                return None;
            }
            let len = j.len();
            if buf.times.len() < len {
                buf.times.resize(len, 0);
                buf.touchpoints.resize(len, 0);
            }
            let (out_t, out_p) = (&mut buf.times[..len], &mut buf.touchpoints[..len]);
            let (lo, last, keep) = (self.lo, if self.unbounded_to { u32::MAX } else { self.hi - 1 }, &*self.keep_tp);
            let mut n = 0;
            for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
                out_t[n] = t;
                out_p[n] = tp;
                n += usize::from(keep[usize::from(tp)] & (t >= lo) & (t <= last));
            }
            Journey { customer: j.customer, times: &buf.times[..n], touchpoints: &buf.touchpoints[..n] }
        };
        let first = *kept.touchpoints.first()?;
        if let Some(ok) = &self.first_ok {
            if !ok.get(usize::from(first)).copied().unwrap_or(false) {
                return None;
            }
        }
        Some(kept)
    }
}

impl<'a> Selection<'a> {
    /// The journeys of `set` that `f` keeps (touchpoints `dict` does not have are dropped).
    pub fn new(set: &'a JourneySet, dict: &'a Dictionary, f: &'a Filter, traits: &'a Traits) -> Selection<'a> {
        let set_max = set.max_touchpoint();
        let keep = Keep::new(set, set_max, dict, f, traits);
        let max_tp = set_max.and_then(|m| (0..=m).rev().find(|&t| keep.keep_tp[usize::from(t)]));
        Selection { set, keep, group: None, split: None, groups: OnceLock::new(), max_tp, counted: OnceLock::new() }
    }

    /// Whether the selection is the whole set, journey for journey: then a kernel may as
    /// well read the set.
    pub fn is_everything(&self) -> bool {
        self.group.is_none() && self.keep.keeps_everything()
    }

    /// The part of this selection in group `g` of a breakdown.
    pub fn group(&self, groups: &'a Groups, g: u32) -> Selection<'a> {
        Selection {
            set: self.set,
            keep: self.keep.clone(),
            group: Some(&groups.members[g as usize]),
            split: None,
            groups: OnceLock::new(),
            max_tp: self.max_tp,
            counted: OnceLock::new(),
        }
    }

    /// This selection (not a group of one) split by a breakdown: folded with
    /// [`Journeys::fold_groups`], it is one pass over the selected customers, each folded
    /// into the accumulator of its label as it is read (rather than labelling every
    /// customer first, then a pass per group over its scattered members); the labels that
    /// become `(other)` are reduced into one accumulator after the pass. Folded as one, it
    /// is this selection (every selected customer is in a group).
    ///
    /// `None` when the breakdown has more than [`MAX_SPLIT_LABELS`] labels (a trait of
    /// many values): every core would hold an accumulator per label; run the groups one
    /// at a time instead ([`breakdown`], [`Selection::group`]).
    pub fn split(&self, by: &'a Labeller) -> Option<Selection<'a>> {
        debug_assert!(self.group.is_none(), "a breakdown splits a selection, not a group");
        (by.names.len() <= MAX_SPLIT_LABELS && self.group.is_none()).then(|| Selection {
            set: self.set,
            keep: self.keep.clone(),
            group: None,
            split: Some(by),
            groups: OnceLock::new(),
            max_tp: self.max_tp,
            counted: OnceLock::new(),
        })
    }

    /// A split selection's groups, largest first, with their customers and events, in the
    /// order of [`Journeys::fold_groups`]' accumulators (`None` unsplit).
    pub fn groups(&self) -> Option<&[Group]> {
        self.split?;
        if self.groups.get().is_none() {
            self.fold_groups(|| (), |(), _| (), |(), ()| ());
        }
        self.groups.get().map(Vec::as_slice)
    }

    /// Fold the selected journeys of the customers in `range` (customer indexes, or
    /// positions in the group's members), in order.
    fn fold_range<T>(
        &self,
        range: std::ops::Range<usize>,
        mut acc: T,
        buf: &mut Buffer,
        mut f: impl FnMut(T, Journey<'_>) -> T,
    ) -> T {
        let mut visit = |i: usize, acc: T| match self.keep.journey(self.set.journey(i), buf) {
            Some(j) => f(acc, j),
            None => acc,
        };
        let ahead = crate::journeys::AHEAD;
        match self.group {
            Some(members) => {
                for p in range.clone() {
                    if let Some(&next) = members[..range.end].get(p + ahead) {
                        self.set.prefetch(next as usize);
                    }
                    acc = visit(members[p] as usize, acc);
                }
            }
            None => {
                for i in range.clone() {
                    if i + ahead < range.end {
                        self.set.prefetch(i + ahead);
                    }
                    acc = visit(i, acc);
                }
            }
        }
        acc
    }

    /// Ranges to fold on every core, of about equal events: of customer indexes, or of
    /// positions in the group's members (a group's customers are spread over the whole
    /// set, so ranges of the set would leave one core with most of them).
    fn ranges(&self) -> Vec<std::ops::Range<usize>> {
        let n = rayon::current_num_threads() * 4;
        let Some(members) = self.group else { return self.set.chunks(n) };
        let len = |i: u32| (self.set.offsets[i as usize + 1] - self.set.offsets[i as usize]) as usize;
        let total: usize = members.iter().map(|&i| len(i)).sum();
        let per = (total / n).max(1);
        let (mut out, mut start, mut acc) = (vec![], 0, 0);
        for (p, &i) in members.iter().enumerate() {
            acc += len(i);
            if acc >= per {
                out.push(start..p + 1);
                (start, acc) = (p + 1, 0);
            }
        }
        if start < members.len() {
            out.push(start..members.len());
        }
        out
    }

    /// Fold on every core, counting the customers and events visited.
    fn fold_counting<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> (T, usize, usize)
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        self.ranges()
            .into_par_iter()
            .map(|r| {
                let mut buf = Buffer::default();
                self.fold_range(r, (identity(), 0, 0), &mut buf, |(acc, c, e), j| {
                    let n = j.len();
                    (fold(acc, j), c + 1, e + n)
                })
            })
            .reduce(|| (identity(), 0, 0), |a, b| (reduce(a.0, b.0), a.1 + b.1, a.2 + b.2))
    }

    /// Customers and events selected.
    pub fn counts(&self) -> (usize, usize) {
        if let Some(&c) = self.counted.get() {
            return c;
        }
        let ((), c, e) = self.fold_counting(|| (), |(), _| (), |(), ()| ());
        *self.counted.get_or_init(|| (c, e))
    }

    /// The selected journeys as a set of their own (for tests and callers that keep them).
    pub fn to_set(&self) -> JourneySet {
        let mut out = JourneySet { epoch_s: self.set.epoch_s, offsets: vec![0], ..Default::default() };
        let mut buf = Buffer::default();
        let all = self.group.map_or(self.set.customer_count(), <[u32]>::len);
        out = self.fold_range(0..all, out, &mut buf, |mut out, j| {
            out.customers.push(j.customer);
            out.times.extend_from_slice(j.times);
            out.touchpoints.extend_from_slice(j.touchpoints);
            out.offsets.push(out.times.len() as u32);
            out
        });
        if out.customers.is_empty() {
            out.offsets.clear();
        }
        out
    }
}

impl Journeys for Selection<'_> {
    fn epoch_s(&self) -> i64 {
        self.set.epoch_s
    }

    fn max_touchpoint(&self) -> Option<Tp> {
        self.max_tp
    }

    fn fold<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> T
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        let (acc, c, e) = self.fold_counting(identity, fold, reduce);
        let _ = self.counted.set((c, e));
        acc
    }

    fn fold_groups<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> Vec<T>
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        let Some(by) = self.split else {
            return vec![self.fold(identity, fold, reduce)];
        };
        // Nothing filtered: every journey is the set's, read as is.
        let whole = self.keep.keeps_everything();
        let n = by.names.len();
        // Per label: its accumulator (`None`: nobody yet), customers and events.
        type Part<T> = Vec<(Option<T>, usize, usize)>;
        let none = || -> Part<T> { (0..n).map(|_| (None, 0, 0)).collect() };
        let parts = self
            .set
            .chunks(rayon::current_num_threads() * 4)
            .into_par_iter()
            .map(|r| {
                let mut part = none();
                let mut buf = Buffer::default();
                let end = r.end;
                for i in r {
                    if i + crate::journeys::AHEAD < end {
                        self.set.prefetch(i + crate::journeys::AHEAD);
                    }
                    let j = self.set.journey(i);
                    let Some(j) = (if whole { Some(j) } else { self.keep.journey(j, &mut buf) }) else { continue };
                    if j.is_empty() {
                        continue;
                    }
                    let (acc, customers, events) = &mut part[by.label(&j) as usize];
                    *customers += 1;
                    *events += j.len();
                    *acc = Some(fold(acc.take().unwrap_or_else(&identity), j));
                }
                part
            })
            .reduce(none, |a, b| {
                a.into_iter()
                    .zip(b)
                    .map(|((x, c, e), (y, d, f))| {
                        let acc = match (x, y) {
                            (Some(x), Some(y)) => Some(reduce(x, y)),
                            (x, None) => x,
                            (None, y) => y,
                        };
                        (acc, c + d, e + f)
                    })
                    .collect()
            });
        let counts: Vec<(usize, usize)> = parts.iter().map(|&(_, c, e)| (c, e)).collect();
        let groups = by.rank(&counts);
        let mut accs: Vec<Option<T>> = parts.into_iter().map(|p| p.0).collect();
        let out = groups
            .iter()
            .map(|(_, labels)| {
                // The labels of `(other)` in ascending order.
                let acc = labels.iter().filter_map(|&g| accs[g as usize].take()).reduce(&reduce);
                acc.unwrap_or_else(&identity)
            })
            .collect();
        let _ = self.groups.set(groups.into_iter().map(|(g, _)| g).collect());
        out
    }
}

/// The groups of a breakdown: their labels, largest group first, and every customer's
/// group.
pub struct Groups {
    /// Group labels, largest group first (ties by label); `(other)` collects the groups
    /// beyond the most asked for.
    pub labels: Vec<String>,
    /// Each group's customers (indexes into the set, ascending), in the order of `labels`.
    members: Vec<Vec<u32>>,
}

/// A group of a breakdown, with the customers and events selected in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its label.
    pub label: String,
    /// Customers selected in it.
    pub customers: usize,
    /// Events selected in it.
    pub events: usize,
}

/// The most labels a breakdown may have to be folded in one pass ([`Selection::split`]).
pub const MAX_SPLIT_LABELS: usize = 64;

/// How a breakdown labels a selected customer: by a dimension of the first touchpoint of
/// its selected journey, or by a trait value. Labels are interned (one per touchpoint
/// value of the dimension, one per trait value); which of them become groups and which go
/// to `(other)` depends on their sizes (see [`Labeller::rank`]).
pub struct Labeller {
    /// Every label a customer can get.
    names: Vec<String>,
    /// First-touch dimensions: each touchpoint's label.
    by_tp: Vec<u32>,
    /// A trait: each customer's label, and the label of customers without the trait.
    by_customer: Option<(HashMap<CustomerId, u32>, u32)>,
    /// Most groups; the rest are `(other)`.
    max_groups: usize,
}

impl Labeller {
    /// The labeller of breakdown `b`, keeping at most `max_groups` groups.
    pub fn new(dict: &Dictionary, b: &Breakdown, traits: &Traits, max_groups: usize) -> Labeller {
        const NONE: &str = "(none)";
        let mut names: Vec<String> = vec![];
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut intern = |l: &str| -> u32 {
            if let Some(&g) = index.get(l) {
                return g;
            }
            names.push(l.to_string());
            index.insert(l.to_string(), names.len() as u32 - 1);
            names.len() as u32 - 1
        };
        let by_tp: Vec<u32> = dict
            .touchpoints
            .iter()
            .map(|t| match b {
                Breakdown::FirstTouchChannel => intern(t.channel.as_str()),
                Breakdown::FirstTouchStage => intern(t.stage.as_deref().unwrap_or(NONE)),
                Breakdown::FirstTouchKind => intern(t.kind.as_str()),
                Breakdown::FirstTouchDepartment => intern(t.department.as_deref().unwrap_or(NONE)),
                Breakdown::Trait(_) => 0,
            })
            .collect();
        let by_customer = match b {
            Breakdown::Trait(k) => {
                let none = intern(NONE);
                let values = traits.get(k).into_iter().flatten().map(|(&c, v)| (c, intern(v))).collect();
                Some((values, none))
            }
            _ => None,
        };
        Labeller { names, by_tp, by_customer, max_groups }
    }

    /// The label of a selected journey (it has events, of touchpoints the dictionary has).
    fn label(&self, j: &Journey<'_>) -> u32 {
        match &self.by_customer {
            Some((values, none)) => values.get(&j.customer).copied().unwrap_or(*none),
            None => self.by_tp[usize::from(j.touchpoints[0])],
        }
    }

    /// The groups, given the customers and events of each label: the largest labels keep
    /// theirs (at most `max_groups`), the others become `(other)`; largest first, ties by
    /// label. Each group with the labels it collects, ascending.
    fn rank(&self, counts: &[(usize, usize)]) -> Vec<(Group, Vec<u32>)> {
        let (names, size) = (&self.names, |g: u32| counts[g as usize].0);
        let mut order: Vec<u32> = (0..names.len() as u32).filter(|&g| size(g) > 0).collect();
        order.sort_by(|&a, &b| size(b).cmp(&size(a)).then(names[a as usize].cmp(&names[b as usize])));
        let kept = self.max_groups.max(1).min(order.len());
        let mut groups: Vec<(Group, Vec<u32>)> = order[..kept]
            .iter()
            .map(|&g| {
                let (customers, events) = counts[g as usize];
                (Group { label: names[g as usize].clone(), customers, events }, vec![g])
            })
            .collect();
        if kept < order.len() {
            let mut rest = order[kept..].to_vec();
            rest.sort_unstable();
            let sum = |f: fn(&(usize, usize)) -> usize| rest.iter().map(|&g| f(&counts[g as usize])).sum();
            let other = Group { label: "(other)".to_string(), customers: sum(|c| c.0), events: sum(|c| c.1) };
            groups.push((other, rest));
        }
        // Largest first, ties by label.
        groups.sort_by(|(x, _), (y, _)| y.customers.cmp(&x.customers).then(x.label.cmp(&y.label)));
        groups
    }
}

/// Split a selection's customers into groups by a dimension of their (selected) journey,
/// largest first (at most `max_groups`; the rest go to `(other)`).
pub fn breakdown(sel: &Selection<'_>, dict: &Dictionary, b: &Breakdown, traits: &Traits, max_groups: usize) -> Groups {
    use rayon::prelude::*;
    let labeller = Labeller::new(dict, b, traits, max_groups);
    // Each customer's label, on every core (a selection keeps known touchpoints only).
    let set = sel.set;
    let labelled: Vec<Vec<u32>> = set
        .chunks(rayon::current_num_threads() * 4)
        .into_par_iter()
        .map(|r| {
            let mut buf = Buffer::default();
            r.map(|i| sel.keep.journey(set.journey(i), &mut buf).map_or(u32::MAX, |j| labeller.label(&j))).collect()
        })
        .collect();
    let mut of_customer = Vec::with_capacity(set.customer_count());
    labelled.into_iter().for_each(|part| of_customer.extend(part));
    // Customers per label (the ranking needs no events: they are counted as the groups
    // are folded).
    let mut counts = vec![(0usize, 0usize); labeller.names.len()];
    for &g in of_customer.iter().filter(|&&g| g != u32::MAX) {
        counts[g as usize].0 += 1;
    }
    let groups = labeller.rank(&counts);
    let mut position = vec![0u32; labeller.names.len()];
    for (p, (_, labels)) in groups.iter().enumerate() {
        labels.iter().for_each(|&g| position[g as usize] = p as u32);
    }
    let mut members: Vec<Vec<u32>> = groups.iter().map(|(g, _)| Vec::with_capacity(g.customers)).collect();
    for (i, &g) in of_customer.iter().enumerate().filter(|(_, g)| **g != u32::MAX) {
        members[position[g as usize] as usize].push(i as u32);
    }
    Groups { labels: groups.into_iter().map(|(g, _)| g.label).collect(), members }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::{Channel, Touchpoint, TouchpointKind};

    fn dict() -> Dictionary {
        let tp = |key: &str, channel, stage: &str| Touchpoint {
            stage: Some(stage.into()),
            kind: TouchpointKind::Direct,
            ..Touchpoint::discovered(key, key, channel)
        };
        Dictionary {
            touchpoints: vec![
                tp("ad", Channel::Ads, "awareness"),
                tp("page", Channel::Web, "consideration"),
                tp("order", Channel::Web, "purchase"),
            ],
            stages: vec!["awareness".into(), "consideration".into(), "purchase".into()],
        }
    }

    fn set() -> JourneySet {
        JourneySet::from_events(0, [(1, 10, 0), (1, 20, 1), (1, 30, 2), (2, 15, 1), (2, 25, 2), (3, 40, 0)])
    }

    fn shape(s: &JourneySet) -> Vec<(CustomerId, Vec<Tp>)> {
        s.iter().map(|j| (j.customer, j.touchpoints.to_vec())).collect()
    }

    fn filter(set: &JourneySet, d: &Dictionary, f: &Filter, traits: &Traits) -> JourneySet {
        Selection::new(set, d, f, traits).to_set()
    }

    #[test]
    fn filters() {
        let d = dict();
        let none = Traits::new();
        let check = |f: Filter, want: Vec<(CustomerId, Vec<Tp>)>| {
            assert_eq!(shape(&filter(&set(), &d, &f, &none)), want, "{f:?}")
        };
        check(Filter::default(), vec![(1, vec![0, 1, 2]), (2, vec![1, 2]), (3, vec![0])]);
        check(Filter { from: Some(20), to: Some(30), ..Default::default() }, vec![(1, vec![1]), (2, vec![2])]);
        check(Filter { from: Some(26), ..Default::default() }, vec![(1, vec![2]), (3, vec![0])]);
        check(Filter { to: Some(15), ..Default::default() }, vec![(1, vec![0])]);
        check(Filter { from: Some(30), to: Some(20), ..Default::default() }, vec![]);
        check(Filter { channels: vec!["ads".into()], ..Default::default() }, vec![(1, vec![0]), (3, vec![0])]);
        check(Filter { stages: vec!["purchase".into()], ..Default::default() }, vec![(1, vec![2]), (2, vec![2])]);
        check(Filter { first_touch_channels: vec!["web".into()], ..Default::default() }, vec![(2, vec![1, 2])]);
        check(
            Filter { first_touch_channels: vec!["web".into()], from: Some(12), ..Default::default() },
            vec![(1, vec![1, 2]), (2, vec![1, 2])],
        );
        check(Filter { kind: Some("indirect".into()), ..Default::default() }, vec![]);
        let mut traits = Traits::new();
        traits.insert("country".into(), HashMap::from([(1, "CZ".to_string()), (2, "PL".to_string())]));
        let f = Filter { traits: BTreeMap::from([("country".to_string(), "PL".to_string())]), ..Default::default() };
        assert_eq!(shape(&filter(&set(), &d, &f, &traits)), vec![(2, vec![1, 2])]);
        let f = Filter { traits: BTreeMap::from([("plan".to_string(), "pro".to_string())]), ..Default::default() };
        assert_eq!(shape(&filter(&set(), &d, &f, &traits)), vec![], "a trait no customer has keeps nobody");
        // Touchpoints the dictionary does not have are dropped, also without a filter.
        let odd = JourneySet::from_events(0, [(1, 10, 0), (1, 20, 7), (2, 5, 9)]);
        let all = Filter::default();
        let sel = Selection::new(&odd, &d, &all, &none);
        assert!(!sel.is_everything());
        // Its largest touchpoint is a bound within the dictionary.
        assert_eq!((shape(&sel.to_set()), sel.max_touchpoint(), sel.counts()), (vec![(1, vec![0])], Some(2), (1, 1)));
        assert!(Selection::new(&set(), &d, &all, &none).is_everything());
    }

    /// Folding a selection on every core visits the same journeys as one pass in order,
    /// for sets large enough to be cut into many ranges, and counts them.
    #[test]
    fn the_parallel_fold_is_the_single_pass() {
        let d = dict();
        let big = JourneySet::from_events(0, (0..20_000i64).map(|i| ((i * 7919) % 1_500, i % 5_000, (i % 3) as Tp)));
        let mut traits = Traits::new();
        traits.insert(
            "country".into(),
            (0..1_500).map(|c| (c, if c % 4 == 0 { "PL" } else { "CZ" }.to_string())).collect(),
        );
        for f in [
            Filter::default(),
            Filter { from: Some(1_000), to: Some(3_000), ..Default::default() },
            Filter { channels: vec!["web".into()], ..Default::default() },
            Filter {
                first_touch_channels: vec!["ads".into()],
                stages: vec!["purchase".into(), "awareness".into()],
                ..Default::default()
            },
            Filter { traits: BTreeMap::from([("country".to_string(), "PL".to_string())]), ..Default::default() },
            Filter { kind: Some("indirect".into()), ..Default::default() },
        ] {
            let sel = Selection::new(&big, &d, &f, &traits);
            let one = sel.to_set();
            type Seen = Vec<(CustomerId, Vec<u32>, Vec<Tp>)>;
            let got: Seen = sel.fold(
                Vec::new,
                |mut v: Seen, j| {
                    v.push((j.customer, j.times.to_vec(), j.touchpoints.to_vec()));
                    v
                },
                |mut a, mut b| {
                    a.append(&mut b);
                    a
                },
            );
            let want: Seen = one.iter().map(|j| (j.customer, j.times.to_vec(), j.touchpoints.to_vec())).collect();
            assert_eq!(got, want, "{f:?}");
            assert_eq!(sel.counts(), (one.customer_count(), one.event_count()), "{f:?}");
            assert!(one.customers.is_empty() == one.offsets.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn breakdowns() {
        let d = dict();
        let none = Traits::new();
        let all = Filter::default();
        let split = |d: &Dictionary, f: &Filter, b: Breakdown, max: usize| -> Vec<(String, Vec<CustomerId>)> {
            let s = set();
            let sel = Selection::new(&s, d, f, &none);
            let groups = breakdown(&sel, d, &b, &none, max);
            (0..groups.labels.len())
                .map(|g| (groups.labels[g].clone(), sel.group(&groups, g as u32).to_set().customers))
                .collect()
        };
        let g = |pairs: &[(&str, &[CustomerId])]| -> Vec<(String, Vec<CustomerId>)> {
            pairs.iter().map(|(l, c)| (l.to_string(), c.to_vec())).collect()
        };
        assert_eq!(split(&d, &all, Breakdown::FirstTouchChannel, 10), g(&[("ads", &[1, 3]), ("web", &[2])]));
        assert_eq!(split(&d, &all, Breakdown::FirstTouchStage, 1), g(&[("awareness", &[1, 3]), ("(other)", &[2])]));
        assert_eq!(split(&d, &all, Breakdown::FirstTouchKind, 10), g(&[("direct", &[1, 2, 3])]));
        let mut d2 = d.clone();
        d2.touchpoints[0].department = Some("marketing".into());
        assert_eq!(
            split(&d2, &all, Breakdown::FirstTouchDepartment, 10),
            g(&[("marketing", &[1, 3]), ("(none)", &[2])])
        );
        // The first touch is the first one the filter keeps.
        let later = Filter { from: Some(12), ..Default::default() };
        assert_eq!(split(&d, &later, Breakdown::FirstTouchChannel, 10), g(&[("web", &[1, 2]), ("ads", &[3])]));
    }
}
