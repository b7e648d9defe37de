//! The live journey index: per project, an immutable [`JourneySet`] snapshot plus a small
//! delta of events that arrived since. The writer adds committed events and identity
//! merges; [`LiveIndex::compact`] (run by the server at least every half second) folds the
//! delta into a new snapshot with one linear merge, and swaps it in. Queries take the
//! current snapshot (`Arc`) and never wait for ingest, nor ingest for them.
//!
//! Memory: 6 bytes per event in the snapshot (time + touchpoint) and 12 per customer;
//! the delta is bounded by what arrives between compactions.

use crate::journeys::{Dictionary, JourneySet, Tp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use touchpoint_core::{CustomerId, ProjectId};

/// An event as the index needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Canonical customer at arrival.
    pub customer: CustomerId,
    /// Unix seconds.
    pub time_s: i64,
    /// Touchpoint index.
    pub tp: Tp,
}

/// A consistent view of one project for a query.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The journeys.
    pub set: Arc<JourneySet>,
    /// The touchpoints the set's `Tp`s index.
    pub dict: Arc<Dictionary>,
    /// When it was made, unix milliseconds (given by the caller; the index has no clock).
    pub made_ms: i64,
}

#[derive(Debug, Default)]
struct Delta {
    points: Vec<Point>,
    /// Customers merged away since the last compaction: from → into.
    merges: Vec<(CustomerId, CustomerId)>,
}

#[derive(Debug)]
struct Project {
    snapshot: RwLock<Snapshot>,
    delta: Mutex<Delta>,
    /// Store touchpoint id → index in the dictionary.
    tp_ids: RwLock<HashMap<i64, Tp>>,
}

/// The index of every project.
#[derive(Debug, Default)]
pub struct LiveIndex {
    projects: RwLock<HashMap<ProjectId, Arc<Project>>>,
}

/// Seconds every project's journey times count from (2000-01-01T00:00:00Z): `u32` seconds
/// reach to 2136.
pub const EPOCH_S: i64 = 946_684_800;

impl LiveIndex {
    /// An empty index.
    pub fn new() -> LiveIndex {
        LiveIndex::default()
    }

    /// Install a project's journeys (from a load at start-up or after re-classification),
    /// replacing what was there. `tp_ids` maps store touchpoint ids to dictionary indexes.
    pub fn install(
        &self,
        project: ProjectId,
        set: JourneySet,
        dict: Dictionary,
        tp_ids: HashMap<i64, Tp>,
        now_ms: i64,
    ) {
        let p = Arc::new(Project {
            snapshot: RwLock::new(Snapshot { set: Arc::new(set), dict: Arc::new(dict), made_ms: now_ms }),
            delta: Mutex::new(Delta::default()),
            tp_ids: RwLock::new(tp_ids),
        });
        self.projects.write().expect("index lock").insert(project, p);
    }

    /// Whether a project is indexed.
    pub fn has(&self, project: ProjectId) -> bool {
        self.projects.read().expect("index lock").contains_key(&project)
    }

    /// Replace a project's dictionary (touchpoints renamed, re-staged or added). Existing
    /// indexes must keep their meaning: new touchpoints are appended.
    pub fn set_dictionary(&self, project: ProjectId, dict: Dictionary, tp_ids: HashMap<i64, Tp>) {
        if let Some(p) = self.get(project) {
            *p.tp_ids.write().expect("index lock") = tp_ids;
            let mut s = p.snapshot.write().expect("index lock");
            s.dict = Arc::new(dict);
        }
    }

    fn get(&self, project: ProjectId) -> Option<Arc<Project>> {
        self.projects.read().expect("index lock").get(&project).cloned()
    }

    /// The dictionary index of a store touchpoint id, if known.
    pub fn tp_of(&self, project: ProjectId, touchpoint_id: i64) -> Option<Tp> {
        self.get(project)?.tp_ids.read().expect("index lock").get(&touchpoint_id).copied()
    }

    /// Add committed events of a project (in commit order). Returns false when the project
    /// is not indexed (the caller then loads it).
    pub fn add(&self, project: ProjectId, points: &[Point], merges: &[(CustomerId, CustomerId)]) -> bool {
        let Some(p) = self.get(project) else { return false };
        let mut d = p.delta.lock().expect("index lock");
        d.merges.extend_from_slice(merges);
        d.points.extend_from_slice(points);
        true
    }

    /// A consistent snapshot of a project.
    pub fn snapshot(&self, project: ProjectId) -> Option<Snapshot> {
        Some(self.get(project)?.snapshot.read().expect("index lock").clone())
    }

    /// Fold every project's delta into a new snapshot. Returns the events folded in.
    pub fn compact(&self, now_ms: i64) -> usize {
        let projects: Vec<Arc<Project>> = self.projects.read().expect("index lock").values().cloned().collect();
        let mut n = 0;
        for p in projects {
            let delta = std::mem::take(&mut *p.delta.lock().expect("index lock"));
            if delta.points.is_empty() && delta.merges.is_empty() {
                continue;
            }
            n += delta.points.len();
            let current = p.snapshot.read().expect("index lock").clone();
            let set = merge(&current.set, delta);
            let mut s = p.snapshot.write().expect("index lock");
            *s = Snapshot { set: Arc::new(set), dict: s.dict.clone(), made_ms: now_ms };
        }
        n
    }

    /// Resident bytes of every snapshot.
    pub fn resident_bytes(&self) -> usize {
        let projects: Vec<Arc<Project>> = self.projects.read().expect("index lock").values().cloned().collect();
        projects.iter().map(|p| p.snapshot.read().expect("index lock").set.resident_bytes()).sum()
    }
}

/// A new set: `base` with merged-away customers re-keyed and the delta's points added,
/// still sorted by (customer, time). Ties keep arrival order, with one exception: when an
/// anonymous customer is merged into a known one, the known customer's earlier events come
/// before the merged ones at the same second (keeping exact arrival order across a merge
/// would cost a sequence number per event).
fn merge(base: &JourneySet, delta: Delta) -> JourneySet {
    // Resolve merge chains (a → b, b → c) to their ends.
    let mut into: HashMap<CustomerId, CustomerId> = HashMap::new();
    for (from, to) in &delta.merges {
        into.insert(*from, *to);
    }
    let resolve = |mut c: CustomerId| {
        let mut hops = 0;
        while let Some(&n) = into.get(&c) {
            c = n;
            hops += 1;
            if hops > 64 {
                break;
            }
        }
        c
    };
    // Events that move: the journeys of merged-away customers, then the delta, in order.
    let mut moving: Vec<(CustomerId, u32, u32, Tp)> = vec![];
    let mut seq = 0u32;
    for (i, &c) in base.customers.iter().enumerate() {
        if into.contains_key(&c) {
            let j = base.journey(i);
            for (t, tp) in j.times.iter().zip(j.touchpoints) {
                moving.push((resolve(c), *t, seq, *tp));
                seq += 1;
            }
        }
    }
    for p in &delta.points {
        let t = (p.time_s - base.epoch_s).clamp(0, u32::MAX as i64) as u32;
        moving.push((resolve(p.customer), t, seq, p.tp));
        seq += 1;
    }
    moving.sort_unstable_by_key(|&(c, t, s, _)| (c, t, s));

    let mut out = JourneySet { epoch_s: base.epoch_s, offsets: vec![0], ..Default::default() };
    out.times.reserve(base.event_count() + delta.points.len());
    out.touchpoints.reserve(base.event_count() + delta.points.len());
    let mut m = 0;
    let mut b = 0;
    let nb = base.customers.len();
    loop {
        // Skip merged-away customers of the base.
        while b < nb && into.contains_key(&base.customers[b]) {
            b += 1;
        }
        let bc = (b < nb).then(|| base.customers[b]);
        let mc = moving.get(m).map(|x| x.0);
        let c = match (bc, mc) {
            (None, None) => break,
            (Some(x), None) => x,
            (None, Some(y)) => y,
            (Some(x), Some(y)) => x.min(y),
        };
        // This customer's events: base ones and moving ones, merged by time (base first on ties).
        let (bt, btp): (&[u32], &[Tp]) = if bc == Some(c) {
            let j = base.journey(b);
            b += 1;
            (j.times, j.touchpoints)
        } else {
            (&[], &[])
        };
        let m_end = moving[m..].iter().position(|x| x.0 != c).map(|k| m + k).unwrap_or(moving.len());
        let mv = &moving[m..m_end];
        m = m_end;
        let (mut i, mut k) = (0, 0);
        while i < bt.len() || k < mv.len() {
            if k == mv.len() || (i < bt.len() && bt[i] <= mv[k].1) {
                out.times.push(bt[i]);
                out.touchpoints.push(btp[i]);
                i += 1;
            } else {
                out.times.push(mv[k].1);
                out.touchpoints.push(mv[k].3);
                k += 1;
            }
        }
        out.customers.push(c);
        out.offsets.push(out.times.len() as u32);
    }
    if out.customers.is_empty() {
        out.offsets.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flat(set: &JourneySet) -> Vec<(CustomerId, Vec<(u32, Tp)>)> {
        set.iter().map(|j| (j.customer, j.times.iter().copied().zip(j.touchpoints.iter().copied()).collect())).collect()
    }

    /// Like `flat`, with ties at the same second put in touchpoint order (merges may
    /// reorder ties; see `merge`).
    fn flat_sorted(set: &JourneySet) -> Vec<(CustomerId, Vec<(u32, Tp)>)> {
        let mut f = flat(set);
        for (_, j) in &mut f {
            j.sort();
        }
        f
    }

    proptest! {
        /// Adding events in any number of rounds, with merges, gives the same set as
        /// building it at once from every event with merged customers re-keyed.
        #[test]
        fn incremental_equals_rebuild(
            rounds in proptest::collection::vec(
                (proptest::collection::vec((0i64..12, 0i64..50, 0u16..5), 0..30),
                 proptest::collection::vec((0i64..12, 0i64..12), 0..2)),
                1..6)
        ) {
            let idx = LiveIndex::new();
            idx.install(1, JourneySet::from_events(0, []), Dictionary::default(), HashMap::new(), 0);
            let mut all: Vec<(CustomerId, i64, Tp)> = vec![];
            let mut into: HashMap<CustomerId, CustomerId> = HashMap::new();
            for (events, merges) in &rounds {
                // Merges only ever send a customer to one that is not itself merged away.
                let merges: Vec<(CustomerId, CustomerId)> = merges.iter().copied()
                    .filter(|(a, b)| a != b && !into.contains_key(b) && !into.contains_key(a)
                        && !into.values().any(|v| v == a))
                    .collect();
                let mut ok = vec![];
                for (a, b) in merges {
                    if into.contains_key(&a) || into.contains_key(&b) { continue; }
                    into.insert(a, b);
                    ok.push((a, b));
                }
                let points: Vec<Point> = events.iter().map(|&(c, t, tp)| {
                    let c = *into.get(&c).unwrap_or(&c);
                    Point { customer: c, time_s: t, tp }
                }).collect();
                idx.add(1, &points, &ok);
                idx.compact(0);
                all.extend(points.iter().map(|p| (p.customer, p.time_s, p.tp)));
            }
            let resolve = |c: CustomerId| *into.get(&c).unwrap_or(&c);
            let want = JourneySet::from_events(0, all.iter().map(|&(c, t, tp)| (resolve(c), t, tp)));
            let got = idx.snapshot(1).unwrap();
            if into.is_empty() {
                prop_assert_eq!(flat(&got.set), flat(&want), "without merges, ties keep arrival order");
            } else {
                prop_assert_eq!(flat_sorted(&got.set), flat_sorted(&want));
            }
            prop_assert!(got.set.iter().all(|j| j.times.windows(2).all(|w| w[0] <= w[1])));
            // No journey is ever empty, so an empty filter keeps the set as it is: what lets
            // a plan without a filter run on the set itself instead of a copy.
            let catalog = touchpoint_core::catalog::default_catalog();
            let dict = Dictionary {
                touchpoints: catalog.touchpoints.into_iter().take(5).collect(),
                stages: catalog.stages.iter().map(|s| s.key.clone()).collect(),
            };
            let (no_filter, no_traits) = Default::default();
            let kept = crate::select::Selection::new(&got.set, &dict, &no_filter, &no_traits).to_set();
            prop_assert_eq!(flat(&kept), flat(&got.set));
            prop_assert_eq!((kept.customer_count(), kept.event_count()), (got.set.customer_count(), got.set.event_count()));
        }
    }

    #[test]
    fn unknown_projects_are_reported() {
        let idx = LiveIndex::new();
        assert!(!idx.add(9, &[Point { customer: 1, time_s: 1, tp: 0 }], &[]));
        assert!(idx.snapshot(9).is_none());
    }
}
