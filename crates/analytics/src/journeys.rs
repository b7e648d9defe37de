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

/// How many customers ahead of the one folded a fold prefetches ([`JourneySet::prefetch`]):
/// 1 to 16 all gave the same at 10 M events; 0 (none) cost the funnel a third.
pub(crate) const AHEAD: usize = 2;
/// The most events of one journey a prefetch asks for.
const PREFETCH_EVENTS: usize = 256;

/// Prefetch the cache lines of a slice.
#[inline(always)]
fn prefetch_lines<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr().cast::<i8>();
        let mut at = 0;
        while at < bytes {
            // SAFETY: a prefetch is a hint to the cache; it reads nothing into the program
            // and never faults, and `p + at` is inside the slice.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(at)) };
            at += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
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
            .map(|r| {
                let end = r.end;
                r.fold(identity(), |acc, i| {
                    if i + AHEAD < end {
                        self.prefetch(i + AHEAD);
                    }
                    fold(acc, self.journey(i))
                })
            })
            .reduce(&identity, &reduce)
    }

    /// Ask the processor to bring customer `i`'s times into the cache (a hint: nothing is
    /// read, nothing can fault), [`AHEAD`] customers before a fold reaches them. Kernels
    /// that read only some of a journey's times (the funnel reads its step events') would
    /// otherwise wait for memory at each customer: the hardware's own prefetcher follows
    /// sequential reads only, such as every kernel's pass over the touchpoints.
    #[inline(always)]
    pub(crate) fn prefetch(&self, i: usize) {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        prefetch_lines(&self.times[a..b.min(a + PREFETCH_EVENTS)]);
    }

    /// The set as bytes (little-endian columns behind a small header), to persist it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.resident_bytes());
        self.write_to(&mut out).expect("writing to memory cannot fail");
        out
    }

    /// Write the set as [`JourneySet::to_bytes`] lays it out, a piece at a time: saving a
    /// large set costs no second copy of it in memory.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        w.write_all(b"TPJS")?;
        w.write_all(&1u32.to_le_bytes())?;
        w.write_all(&self.epoch_s.to_le_bytes())?;
        for n in [self.customers.len(), self.times.len(), self.offsets.len()] {
            w.write_all(&(n as u64).to_le_bytes())?;
        }
        let mut buf = Vec::with_capacity(1 << 16);
        macro_rules! column {
            ($col:expr) => {
                for chunk in $col.chunks(4096) {
                    buf.clear();
                    chunk.iter().for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
                    w.write_all(&buf)?;
                }
            };
        }
        column!(self.customers);
        column!(self.offsets);
        column!(self.times);
        column!(self.touchpoints);
        Ok(())
    }

    /// Read a set written by [`JourneySet::to_bytes`], checking its shape.
    pub fn from_bytes(b: &[u8]) -> Result<JourneySet, String> {
        JourneySet::read_from(&mut &b[..], b.len() as u64)
    }

    /// Read a set from `r`, which holds `len` bytes, a column at a time: loading a large
    /// set needs no copy of the file in memory. The header's counts are checked against
    /// `len` before anything is allocated.
    pub fn read_from(r: &mut impl std::io::Read, len: u64) -> Result<JourneySet, String> {
        let short = |_| "the journey file is cut short".to_string();
        let mut head = [0u8; 40];
        r.read_exact(&mut head).map_err(short)?;
        if &head[..4] != b"TPJS" {
            return Err("not a journey file".into());
        }
        let word = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
        let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        if version != 1 {
            return Err(format!("journey file version {version} is not supported"));
        }
        let epoch_s = word(8) as i64;
        let (nc, ne, no) = (word(16), word(24), word(32));
        if no != nc + 1 && !(nc == 0 && no == 0) {
            return Err("the journey file's offsets do not match its customers".into());
        }
        let want = nc.checked_mul(8).zip(no.checked_mul(4)).zip(ne.checked_mul(6)).map(|((a, b), c)| 40 + a + b + c);
        if want.is_none_or(|w| w > len) {
            return Err("the journey file is cut short".into());
        }
        fn column<T, const N: usize>(
            r: &mut impl std::io::Read,
            n: usize,
            from: fn([u8; N]) -> T,
        ) -> Result<Vec<T>, String> {
            let mut out = Vec::with_capacity(n);
            let mut buf = vec![0u8; 4096 * N];
            while out.len() < n {
                let k = (n - out.len()).min(4096);
                r.read_exact(&mut buf[..k * N]).map_err(|_| "the journey file is cut short".to_string())?;
                out.extend(buf[..k * N].chunks_exact(N).map(|c| from(c.try_into().expect("N bytes"))));
            }
            Ok(out)
        }
        let customers = column(r, nc as usize, i64::from_le_bytes)?;
        let offsets: Vec<u32> = column(r, no as usize, u32::from_le_bytes)?;
        let times = column(r, ne as usize, u32::from_le_bytes)?;
        let touchpoints = column(r, ne as usize, u16::from_le_bytes)?;
        if offsets.last().is_some_and(|&l| l as u64 != ne) || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err("the journey file's offsets are inconsistent".into());
        }
        Ok(JourneySet { epoch_s, customers, offsets, times, touchpoints })
    }

    /// Bytes held by the columns.
    pub fn resident_bytes(&self) -> usize {
        self.customers.len() * 8 + self.offsets.len() * 4 + self.times.len() * 4 + self.touchpoints.len() * 2
    }
}

/// What a kernel reads: customers' journeys, folded in parallel. The whole [`JourneySet`]
/// is one; a [`Selection`](crate::select::Selection) of it (a filter, a breakdown group)
/// is another, read in place: a kernel never knows whether its journeys were filtered,
/// and a filter never copies the set.
pub trait Journeys: Sync {
    /// Unix time (seconds) that the journeys' times count from.
    fn epoch_s(&self) -> i64;

    /// At least the largest touchpoint index the journeys hold (`None`: no events). Exact
    /// for a whole set; a selection may answer a bound.
    fn max_touchpoint(&self) -> Option<Tp>;

    /// Map every journey (each with at least one event) and reduce the results, in
    /// parallel over customer ranges, customers in ascending order within a range.
    fn fold<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> T
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send;

    /// [`Journeys::fold`] with one accumulator per group, in one pass over the journeys:
    /// each journey is folded into its group's accumulator. A whole set or an unsplit
    /// selection is one group; a selection split by a breakdown
    /// ([`Selection::split`](crate::select::Selection::split)) has one per group, in the
    /// order of its [`groups`](crate::select::Selection::groups). Accumulators are reduced
    /// in a fixed order, but a group that collects several labels (`(other)`) reduces
    /// theirs label by label, not in customer order: `reduce` must not depend on which
    /// customers came first (counts, sorted lists, multisets do not).
    fn fold_groups<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> Vec<T>
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        vec![self.fold(identity, fold, reduce)]
    }
}

impl Journeys for JourneySet {
    fn epoch_s(&self) -> i64 {
        self.epoch_s
    }

    fn max_touchpoint(&self) -> Option<Tp> {
        // A maximum over the column on every core (it vectorizes; a short-circuiting scan
        // did not, and cost a third of a 10 M-event retention).
        use rayon::prelude::*;
        self.touchpoints.par_chunks(1 << 16).filter_map(|c| c.iter().copied().max()).max()
    }

    fn fold<T, F, R>(&self, identity: impl Fn() -> T + Sync + Send, fold: F, reduce: R) -> T
    where
        T: Send,
        F: Fn(T, Journey<'_>) -> T + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        JourneySet::fold(self, identity, fold, reduce)
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
        // A header that claims more than the file holds is refused before any allocation.
        let mut huge = JourneySet::from_events(0, [(1, 1, 1)]).to_bytes();
        huge[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes());
        huge[32..40].copy_from_slice(&((1u64 << 60) + 1).to_le_bytes());
        assert_eq!(JourneySet::from_bytes(&huge).unwrap_err(), "the journey file is cut short");
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
