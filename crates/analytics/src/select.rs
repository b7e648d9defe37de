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
    let n_tp = dict.touchpoints.len();
    let keep_tp: Vec<bool> = (0..n_tp).map(|i| f.keeps_tp(dict, i as Tp)).collect();
    let lo = f.from.map(|t| t.saturating_sub(set.epoch_s).clamp(0, u32::MAX as i64) as u32).unwrap_or(0);
    let hi = f.to.map(|t| t.saturating_sub(set.epoch_s).clamp(0, u32::MAX as i64) as u32).unwrap_or(u32::MAX);
    let unbounded_to = f.to.is_none();
    let first_channels: HashSet<&str> = f.first_touch_channels.iter().map(String::as_str).collect();
    let mut out = JourneySet { epoch_s: set.epoch_s, offsets: vec![0], ..Default::default() };
    for j in set.iter() {
        if !f.traits.iter().all(|(k, v)| traits.get(k).and_then(|m| m.get(&j.customer)) == Some(v)) {
            continue;
        }
        let start = out.times.len();
        for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
            if t >= lo && (unbounded_to || t < hi) && keep_tp.get(tp as usize).copied().unwrap_or(false) {
                out.times.push(t);
                out.touchpoints.push(tp);
            }
        }
        if out.times.len() == start {
            continue;
        }
        if !first_channels.is_empty() && !first_channels.contains(dict.get(out.touchpoints[start]).channel.as_str()) {
            out.times.truncate(start);
            out.touchpoints.truncate(start);
            continue;
        }
        out.customers.push(j.customer);
        out.offsets.push(out.times.len() as u32);
    }
    if out.customers.is_empty() {
        out.offsets.clear();
    }
    out
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
