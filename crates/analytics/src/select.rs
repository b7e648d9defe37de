//! Filters and breakdowns, applied to a snapshot before any analysis runs, so that every
//! kernel sees a plain [`JourneySet`] and none has to know about filters.
//!
//! Event-level filters (time range, touchpoint channel / stage / kind / department) keep
//! only matching events; customer-level filters (first-touch channel, trait values) keep
//! only matching customers. A breakdown splits the customers into groups by a dimension
//! and the analysis runs once per group.

use crate::journeys::{Dictionary, JourneySet, Tp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// How to split the customers into groups.
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

/// Apply a filter. Customers left without events are dropped.
pub fn filter(set: &JourneySet, dict: &Dictionary, f: &Filter, traits: &Traits) -> JourneySet {
    use rayon::prelude::*;
    let keep = Keep::new(set, dict, f, traits);
    // Customer ranges of about equal events, each filtered on its own core into columns of
    // its own, then joined in order: the same set a single pass makes (a test says so).
    let parts: Vec<Part> = set
        .chunks(rayon::current_num_threads() * 4)
        .into_par_iter()
        .map(|r| {
            let mut part = Part::default();
            for i in r {
                keep.journey(set.journey(i), &mut part);
            }
            part
        })
        .collect();
    let events: usize = parts.iter().map(|p| p.times.len()).sum();
    let customers: usize = parts.iter().map(|p| p.customers.len()).sum();
    let mut out = JourneySet {
        epoch_s: set.epoch_s,
        customers: Vec::with_capacity(customers),
        offsets: Vec::with_capacity(customers + 1),
        times: Vec::with_capacity(events),
        touchpoints: Vec::with_capacity(events),
    };
    if customers == 0 {
        return out;
    }
    out.offsets.push(0);
    for p in parts {
        let base = out.times.len() as u32;
        out.customers.extend_from_slice(&p.customers);
        out.offsets.extend(p.ends.iter().map(|e| base + e));
        out.times.extend_from_slice(&p.times);
        out.touchpoints.extend_from_slice(&p.touchpoints);
    }
    out
}

/// The journeys one core kept: their customers, where each ends in the part's columns,
/// and the columns.
#[derive(Default)]
struct Part {
    customers: Vec<CustomerId>,
    ends: Vec<u32>,
    times: Vec<u32>,
    touchpoints: Vec<Tp>,
}

/// A filter made ready to apply to one journey at a time.
struct Keep<'a> {
    f: &'a Filter,
    dict: &'a Dictionary,
    traits: &'a Traits,
    keep_tp: Vec<bool>,
    lo: u32,
    hi: u32,
    unbounded_to: bool,
    first_channels: HashSet<&'a str>,
}

impl<'a> Keep<'a> {
    fn new(set: &JourneySet, dict: &'a Dictionary, f: &'a Filter, traits: &'a Traits) -> Keep<'a> {
        let n_tp = dict.touchpoints.len();
        Keep {
            f,
            dict,
            traits,
            keep_tp: (0..n_tp).map(|i| f.keeps_tp(dict, i as Tp)).collect(),
            lo: f.from.map(|t| t.saturating_sub(set.epoch_s).clamp(0, u32::MAX as i64) as u32).unwrap_or(0),
            hi: f.to.map(|t| t.saturating_sub(set.epoch_s).clamp(0, u32::MAX as i64) as u32).unwrap_or(u32::MAX),
            unbounded_to: f.to.is_none(),
            first_channels: f.first_touch_channels.iter().map(String::as_str).collect(),
        }
    }

    /// Append what the filter keeps of `j` to `out`.
    fn journey(&self, j: crate::Journey<'_>, out: &mut Part) {
        if !self.f.traits.iter().all(|(k, v)| self.traits.get(k).and_then(|m| m.get(&j.customer)) == Some(v)) {
            return;
        }
        let start = out.times.len();
        for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
            if t >= self.lo
                && (self.unbounded_to || t < self.hi)
                && self.keep_tp.get(tp as usize).copied().unwrap_or(false)
            {
                out.times.push(t);
                out.touchpoints.push(tp);
            }
        }
        if out.times.len() == start {
            return;
        }
        if !self.first_channels.is_empty()
            && !self.first_channels.contains(self.dict.get(out.touchpoints[start]).channel.as_str())
        {
            out.times.truncate(start);
            out.touchpoints.truncate(start);
            return;
        }
        out.customers.push(j.customer);
        out.ends.push(out.times.len() as u32);
    }
}

/// Split a set into groups, largest first (at most `max_groups`; the rest go to `(other)`).
pub fn breakdown(
    set: &JourneySet,
    dict: &Dictionary,
    b: &Breakdown,
    traits: &Traits,
    max_groups: usize,
) -> Vec<(String, JourneySet)> {
    let label = |j: &crate::Journey<'_>| -> String {
        match b {
            Breakdown::FirstTouchChannel => dict.get(j.touchpoints[0]).channel.as_str().to_string(),
            Breakdown::FirstTouchStage => dict.get(j.touchpoints[0]).stage.clone().unwrap_or_else(|| "(none)".into()),
            Breakdown::FirstTouchKind => dict.get(j.touchpoints[0]).kind.as_str().to_string(),
            Breakdown::FirstTouchDepartment => {
                dict.get(j.touchpoints[0]).department.clone().unwrap_or_else(|| "(none)".into())
            }
            Breakdown::Trait(k) => {
                traits.get(k).and_then(|m| m.get(&j.customer)).cloned().unwrap_or_else(|| "(none)".into())
            }
        }
    };
    let labels: Vec<String> = set.iter().map(|j| label(&j)).collect();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for l in &labels {
        *sizes.entry(l).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> = sizes.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept: HashSet<&str> = order.iter().take(max_groups.max(1)).map(|x| x.0).collect();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        let g = if kept.contains(l.as_str()) { l.clone() } else { "(other)".to_string() };
        groups.entry(g).or_default().push(i);
    }
    let mut out: Vec<(String, JourneySet)> = groups
        .into_iter()
        .map(|(g, idx)| {
            let mut s = JourneySet { epoch_s: set.epoch_s, offsets: vec![0], ..Default::default() };
            for i in idx {
                let j = set.journey(i);
                s.customers.push(j.customer);
                s.times.extend_from_slice(j.times);
                s.touchpoints.extend_from_slice(j.touchpoints);
                s.offsets.push(s.times.len() as u32);
            }
            (g, s)
        })
        .collect();
    out.sort_by(|a, b| b.1.customer_count().cmp(&a.1.customer_count()).then(a.0.cmp(&b.0)));
    out
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

    #[test]
    fn filters() {
        let d = dict();
        let none = Traits::new();
        let check = |f: Filter, want: Vec<(CustomerId, Vec<Tp>)>| {
            assert_eq!(shape(&filter(&set(), &d, &f, &none)), want, "{f:?}")
        };
        check(Filter::default(), vec![(1, vec![0, 1, 2]), (2, vec![1, 2]), (3, vec![0])]);
        check(Filter { from: Some(20), to: Some(30), ..Default::default() }, vec![(1, vec![1]), (2, vec![2])]);
        check(Filter { channels: vec!["ads".into()], ..Default::default() }, vec![(1, vec![0]), (3, vec![0])]);
        check(Filter { stages: vec!["purchase".into()], ..Default::default() }, vec![(1, vec![2]), (2, vec![2])]);
        check(Filter { first_touch_channels: vec!["web".into()], ..Default::default() }, vec![(2, vec![1, 2])]);
        check(Filter { kind: Some("indirect".into()), ..Default::default() }, vec![]);
        let mut traits = Traits::new();
        traits.insert("country".into(), HashMap::from([(1, "CZ".to_string()), (2, "PL".to_string())]));
        let f = Filter { traits: BTreeMap::from([("country".to_string(), "PL".to_string())]), ..Default::default() };
        assert_eq!(shape(&filter(&set(), &d, &f, &traits)), vec![(2, vec![1, 2])]);
    }

    /// The filter on every core makes the same set as one pass over the journeys in order,
    /// for sets large enough to be cut into many ranges.
    #[test]
    fn the_parallel_filter_is_the_single_pass() {
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
            let mut one = Part::default();
            let keep = Keep::new(&big, &d, &f, &traits);
            for j in big.iter() {
                keep.journey(j, &mut one);
            }
            let got = filter(&big, &d, &f, &traits);
            assert_eq!(got.customers, one.customers, "{f:?}");
            assert_eq!(got.times, one.times, "{f:?}");
            assert_eq!(got.touchpoints, one.touchpoints, "{f:?}");
            let ends: Vec<u32> = got.offsets.iter().skip(1).copied().collect();
            assert_eq!(ends, one.ends, "{f:?}");
            assert!(got.customers.is_empty() == got.offsets.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn breakdowns() {
        let d = dict();
        let g = breakdown(&set(), &d, &Breakdown::FirstTouchChannel, &Traits::new(), 10);
        let got: Vec<(String, Vec<CustomerId>)> = g.iter().map(|(l, s)| (l.clone(), s.customers.clone())).collect();
        assert_eq!(got, vec![("ads".to_string(), vec![1, 3]), ("web".to_string(), vec![2])]);
        let g = breakdown(&set(), &d, &Breakdown::FirstTouchStage, &Traits::new(), 1);
        assert_eq!(g.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(), ["awareness", "(other)"]);
        let g = breakdown(&set(), &d, &Breakdown::FirstTouchKind, &Traits::new(), 10);
        assert_eq!(g.iter().map(|(l, s)| (l.as_str(), s.customer_count())).collect::<Vec<_>>(), [("direct", 3)]);
        let mut d2 = d.clone();
        d2.touchpoints[0].department = Some("marketing".into());
        let g = breakdown(&set(), &d2, &Breakdown::FirstTouchDepartment, &Traits::new(), 10);
        let got: Vec<(String, Vec<CustomerId>)> = g.iter().map(|(l, s)| (l.clone(), s.customers.clone())).collect();
        assert_eq!(got, vec![("marketing".to_string(), vec![1, 3]), ("(none)".to_string(), vec![2])]);
    }
}
