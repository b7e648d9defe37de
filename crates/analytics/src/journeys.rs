//! The journey set: every customer's touchpoints in time order, as columns.
//!
//! Per event it keeps a time (`u32` seconds since the set's `epoch_s`) and a touchpoint
//! (`u16` index into the project's [`Dictionary`]): 6 bytes, plus 12 bytes per customer
//! (id and offset). Events of one customer are contiguous and sorted by time; ties keep
//! arrival order. Non-contact events (identify, group, alias) are not in the set.

use serde::{Deserialize, Serialize};
use touchpoint_core::{CustomerId, Touchpoint};

/// A touchpoint's index in a project's dictionary.
pub type Tp = u16;

/// The touchpoints of a project, indexed by [`Tp`], with what analyses need of each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dictionary {
    /// Touchpoints by index.
    pub touchpoints: Vec<Touchpoint>,
    /// The project's ordered stage keys (journey map columns).
    pub stages: Vec<String>,
}

impl Dictionary {
    /// The dictionary of a catalog: its touchpoints in order and its stage keys.
    pub fn from_catalog(catalog: &touchpoint_core::Catalog) -> Dictionary {
        Dictionary {
            touchpoints: catalog.touchpoints.clone(),
            stages: catalog.stages.iter().map(|s| s.key.clone()).collect(),
        }
    }

    /// The index of a touchpoint key.
    pub fn find(&self, key: &str) -> Option<Tp> {
        self.touchpoints.iter().position(|t| t.key == key).map(|i| i as Tp)
    }

    /// The touchpoint at an index.
    pub fn get(&self, tp: Tp) -> &Touchpoint {
        &self.touchpoints[tp as usize]
    }

    /// The key of a touchpoint.
    pub fn key(&self, tp: Tp) -> &str {
        &self.touchpoints[tp as usize].key
    }

    /// Indexes of the conversion-goal touchpoints.
    pub fn goals(&self) -> Vec<Tp> {
        (0..self.touchpoints.len()).filter(|&i| self.touchpoints[i].conversion).map(|i| i as Tp).collect()
    }

    /// Indexes of the churn-signal touchpoints.
    pub fn churn_signals(&self) -> Vec<Tp> {
        (0..self.touchpoints.len()).filter(|&i| self.touchpoints[i].churn).map(|i| i as Tp).collect()
    }

    /// Position of a touchpoint's stage in the project's stages (None: no stage).
    pub fn stage_index(&self, tp: Tp) -> Option<usize> {
        let stage = self.get(tp).stage.as_deref()?;
        self.stages.iter().position(|s| s == stage)
    }
}

/// One customer's journey: parallel slices of times and touchpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Journey<'a> {
    /// The customer.
    pub customer: CustomerId,
    /// Seconds since the set's epoch, non-decreasing.
    pub times: &'a [u32],
    /// Touchpoints, parallel to `times`.
    pub touchpoints: &'a [Tp],
}

impl Journey<'_> {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the journey has no events.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Every customer's journey, as columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneySet {
    /// Unix time (seconds) that `times` count from.
    pub epoch_s: i64,
    /// Customer ids, ascending, unique.
    pub customers: Vec<CustomerId>,
    /// Customer `i`'s events are `offsets[i]..offsets[i + 1]` (len = customers + 1).
    pub offsets: Vec<u32>,
    /// Event times, seconds since `epoch_s`.
    pub times: Vec<u32>,
    /// Event touchpoints.
    pub touchpoints: Vec<Tp>,
}

impl JourneySet {
    /// Build from events in arrival order: `(customer, unix seconds, touchpoint)`. Events
    /// before `epoch_s` are clamped to it.
    pub fn from_events(epoch_s: i64, events: impl IntoIterator<Item = (CustomerId, i64, Tp)>) -> JourneySet {
        JourneySet::from_events_ms(epoch_s, events.into_iter().map(|(c, t, tp)| (c, t.saturating_mul(1000), tp)))
    }

    /// Build from events in arrival order with their times in unix milliseconds: events of
    /// one customer in the same second are put in millisecond order (then arrival order),
    /// so the order does not depend on which of two events arrived first. The set keeps
    /// whole seconds.
    pub fn from_events_ms(epoch_s: i64, events: impl IntoIterator<Item = (CustomerId, i64, Tp)>) -> JourneySet {
        let epoch_ms = epoch_s.saturating_mul(1000);
        let max_ms = (u32::MAX as i64) * 1000 + 999;
        let mut v: Vec<(CustomerId, i64, u32, Tp)> = events
            .into_iter()
            .enumerate()
            .map(|(arrival, (c, ms, tp))| (c, (ms - epoch_ms).clamp(0, max_ms), arrival as u32, tp))
            .collect();
        v.sort_unstable_by_key(|&(c, ms, a, _)| (c, ms, a));
        let mut set = JourneySet { epoch_s, offsets: vec![0], ..Default::default() };
        set.times.reserve(v.len());
        set.touchpoints.reserve(v.len());
        for (c, ms, _, tp) in v {
            let t = (ms / 1000) as u32;
            if set.customers.last() != Some(&c) {
                if !set.customers.is_empty() {
                    set.offsets.push(set.times.len() as u32);
                }
                set.customers.push(c);
            }
            set.times.push(t);
            set.touchpoints.push(tp);
        }
        if !set.customers.is_empty() {
            set.offsets.push(set.times.len() as u32);
        }
        set
    }

    /// Number of customers.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Number of events.
    pub fn event_count(&self) -> usize {
        self.times.len()
    }

    /// Customer `i`'s journey.
    pub fn journey(&self, i: usize) -> Journey<'_> {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        Journey { customer: self.customers[i], times: &self.times[a..b], touchpoints: &self.touchpoints[a..b] }
    }

    /// Every journey, in customer order.
    pub fn iter(&self) -> impl Iterator<Item = Journey<'_>> + '_ {
        (0..self.customers.len()).map(move |i| self.journey(i))
    }

    /// Customer index ranges of about equal event counts, for parallel kernels.
    pub fn chunks(&self, n: usize) -> Vec<std::ops::Range<usize>> {
        let n = n.max(1);
        let per = (self.event_count() / n).max(1);
        let mut out = vec![];
        let mut start = 0;
        for i in 0..self.customers.len() {
            if self.offsets[i + 1] as usize - self.offsets[start] as usize >= per {
                out.push(start..i + 1);
                start = i + 1;
            }
        }
        if start < self.customers.len() {
            out.push(start..self.customers.len());
        }
        out
    }

    /// Map every journey and reduce the results, in parallel over customer ranges.
    pub fn fold<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> T
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        let chunks = self.chunks(rayon::current_num_threads() * 4);
        chunks
            .into_par_iter()
            .map(|r| r.fold(identity(), |acc, i| fold(acc, self.journey(i))))
            .reduce(&identity, &reduce)
    }

    /// The set as bytes (little-endian columns behind a small header), to persist it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.resident_bytes());
        out.extend_from_slice(b"TPJS");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&self.epoch_s.to_le_bytes());
        out.extend_from_slice(&(self.customers.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.times.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.offsets.len() as u64).to_le_bytes());
        self.customers.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
        self.offsets.iter().for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
        self.times.iter().for_each(|t| out.extend_from_slice(&t.to_le_bytes()));
        self.touchpoints.iter().for_each(|t| out.extend_from_slice(&t.to_le_bytes()));
        out
    }

    /// Read a set written by [`JourneySet::to_bytes`], checking its shape.
    pub fn from_bytes(b: &[u8]) -> Result<JourneySet, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let s = b.get(at..at + n).ok_or("the journey file is cut short")?;
            at += n;
            Ok(s)
        };
        if take(4)? != b"TPJS" {
            return Err("not a journey file".into());
        }
        let version = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        if version != 1 {
            return Err(format!("journey file version {version} is not supported"));
        }
        let epoch_s = i64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let nc = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
        let ne = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
        let no = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
        if no != nc + 1 && !(nc == 0 && no == 0) {
            return Err("the journey file's offsets do not match its customers".into());
        }
        let customers = take(nc * 8)?.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8"))).collect();
        let offsets: Vec<u32> =
            take(no * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect();
        let times = take(ne * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect();
        let touchpoints = take(ne * 2)?.chunks_exact(2).map(|c| u16::from_le_bytes(c.try_into().expect("2"))).collect();
        if offsets.last().is_some_and(|&l| l as usize != ne) || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err("the journey file's offsets are inconsistent".into());
        }
        Ok(JourneySet { epoch_s, customers, offsets, times, touchpoints })
    }

    /// Bytes held by the columns.
    pub fn resident_bytes(&self) -> usize {
        self.customers.len() * 8 + self.offsets.len() * 4 + self.times.len() * 4 + self.touchpoints.len() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_grouped_by_customer_and_sorted_by_time_with_ties_in_arrival_order() {
        let set =
            JourneySet::from_events(100, [(2, 105, 1), (1, 110, 2), (2, 101, 3), (1, 110, 4), (2, 105, 5), (3, 50, 6)]);
        assert_eq!(set.customers, vec![1, 2, 3]);
        let j: Vec<(Vec<u32>, Vec<Tp>)> = set.iter().map(|j| (j.times.to_vec(), j.touchpoints.to_vec())).collect();
        assert_eq!(j[0], (vec![10, 10], vec![2, 4]));
        assert_eq!(j[1], (vec![1, 5, 5], vec![3, 1, 5]));
        assert_eq!(j[2], (vec![0], vec![6]), "times before the epoch are clamped");
        let total = set.fold(|| 0usize, |n, j| n + j.len(), |a, b| a + b);
        assert_eq!(total, 6);
        assert!(JourneySet::from_events(0, []).iter().next().is_none());
    }

    #[test]
    fn bytes_round_trip_and_damage_is_detected() {
        for set in [JourneySet::from_events(7, [(3, 9, 1), (1, 8, 2), (3, 10, 0)]), JourneySet::from_events(0, [])] {
            let b = set.to_bytes();
            assert_eq!(JourneySet::from_bytes(&b).unwrap(), set);
            assert!(JourneySet::from_bytes(&b[..b.len() - 1]).is_err() || set.event_count() == 0);
        }
        assert!(JourneySet::from_bytes(b"nope").is_err());
    }

    #[test]
    fn chunks_cover_every_customer_once() {
        let set = JourneySet::from_events(0, (0..1000).map(|i| (i % 37, i, 0)));
        for n in [1, 2, 3, 8, 100, 5000] {
            let ch = set.chunks(n);
            let covered: Vec<usize> = ch.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..37).collect::<Vec<_>>(), "n = {n}");
        }
    }
}
