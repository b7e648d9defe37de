//! Retention cohorts: of the customers who arrived (or first reached a touchpoint) in a
//! day, week or month, how many came back in each following one.
//!
//! A customer *enters* at their first event in the set (or their first event of touchpoint
//! A) and belongs to the cohort of the calendar period that contains that moment. They are
//! *retained in period n* (n ≥ 1) when they have an event (any, or of touchpoint B) in the
//! n-th calendar period after the entry period. Periods are calendar days, ISO weeks
//! (Monday to Sunday) or calendar months of the project's local time, which is UTC shifted
//! by `tz_offset_s` until the first of `tz_transitions` and by each transition's offset
//! from its instant on: the server fills the transitions from the project's IANA zone, so
//! daylight saving time is exact; with no transitions the offset is fixed.
//!
//! Period 0 is the cohort itself (100 %). A period that starts after the last event time
//! in the set cannot be observed yet: its count and rate are `None`, not 0. A period that
//! has started is counted even if it has not ended (the partly observed current period).
//!
//! `first_seen` needs each customer's whole history: give the kernel the unrestricted set
//! and restrict the cohorts with `from` / `to` (the entry time range) instead of cutting
//! the set by time.
//!
//! The kernel is one pass over each customer's events (period boundaries are computed once
//! per period change, not per event), in parallel over customers. When any event counts as
//! coming back and the offset is fixed, it skips from each period counted to the first event
//! at or after the start of the next one (8 times at a time), and places it by the period
//! starts that follow.

use crate::funnel::{resolve, QueryError};
use crate::journeys::{Dictionary, Journeys, Tp};
use crate::paths::IntMap;
use serde::{Deserialize, Serialize};
use touchpoint_core::calendar::{civil_from_days, days_from_civil, Clock};

/// The default number of periods after the entry period.
pub const DEFAULT_PERIODS: usize = 8;
/// The most periods a query may ask for.
pub const MAX_PERIODS: usize = 1000;
/// The largest time-zone offset, in seconds (just under a day).
pub const MAX_TZ_OFFSET_S: i64 = 86_399;

const DAY: i64 = 86_400;

fn default_periods() -> usize {
    DEFAULT_PERIODS
}

/// What puts a customer into a cohort.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CohortBy {
    /// Their first event (JSON `"first_seen"`).
    #[default]
    FirstSeen,
    /// Their first event of this touchpoint key (JSON `{"first_touchpoint": "checkout"}`).
    FirstTouchpoint(String),
}

/// The length of a retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    #[default]
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// The period that contains a local time (seconds since 1970-01-01T00:00 local), as a
    /// number that grows by one from each period to the next.
    pub fn index(self, local_s: i64) -> i64 {
        let day = local_s.div_euclid(DAY);
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday; 1969-12-29, day −3, the Monday of week 0.
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                y * 12 + i64::from(m) - 1
            }
        }
    }

    /// The first day (days since 1970-01-01) of a period.
    fn first_day(self, index: i64) -> i64 {
        match self {
            Period::Day => index,
            Period::Week => index * 7 - 3,
            Period::Month => days_from_civil(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1),
        }
    }
}

/// `YYYY-MM-DD` of a day number.
fn iso_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A retention query: the backend-neutral plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionQuery {
    /// What starts a customer's cohort (default: the first event).
    #[serde(default)]
    pub cohort: CohortBy,
    /// The touchpoint key that counts as coming back; `None` (default): any event.
    #[serde(default)]
    pub returning: Option<String>,
    /// Day, week (default) or month.
    #[serde(default)]
    pub period: Period,
    /// How many periods after the entry period to report (1 to 1000, default 8).
    #[serde(default = "default_periods")]
    pub periods: usize,
    /// The offset from UTC in seconds before the first transition (default 0).
    #[serde(default)]
    pub tz_offset_s: i64,
    /// Changes of the offset (daylight saving time): `(unix second from which, offset)`,
    /// in time order. Empty (default): `tz_offset_s` all the time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tz_transitions: Vec<(i64, i64)>,
    /// Only customers who enter at or after this time (unix seconds).
    #[serde(default)]
    pub from: Option<i64>,
    /// Only customers who enter before this time (unix seconds).
    #[serde(default)]
    pub to: Option<i64>,
}

impl Default for RetentionQuery {
    fn default() -> Self {
        RetentionQuery {
            cohort: CohortBy::FirstSeen,
            returning: None,
            period: Period::Week,
            periods: DEFAULT_PERIODS,
            tz_offset_s: 0,
            tz_transitions: Vec::new(),
            from: None,
            to: None,
        }
    }
}

/// One cohort: the customers who entered in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionCohort {
    /// The first day of the entry period, local time (`2026-05-04`).
    pub start: String,
    /// Customers in the cohort.
    pub size: u64,
    /// Customers retained in period n = 0..=periods (period 0 = `size`); `None` for
    /// periods that start after the last event in the set.
    pub retained: Vec<Option<u64>>,
    /// `retained[n] / size`.
    pub rates: Vec<Option<f64>>,
}

/// Every cohort together, weighted by size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionOverall {
    /// Customers in all cohorts.
    pub size: u64,
    /// For each n: customers retained in period n, summed over the cohorts in which period
    /// n can be observed (`None` when it can be in none).
    pub retained: Vec<Option<u64>>,
    /// For each n: `retained[n]` / the total size of those same cohorts.
    pub rates: Vec<Option<f64>>,
}

/// The result of a retention query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// The period length used.
    pub period: Period,
    /// Cohorts that have customers, oldest first.
    pub cohorts: Vec<RetentionCohort>,
    /// The size-weighted average of the cohorts.
    pub overall: RetentionOverall,
}

/// Per range of customers: counts per entry period, and the last event time seen.
struct Acc {
    /// Entry period → its row in `rows`.
    index: IntMap<usize>,
    /// The entry period of each row.
    keys: Vec<i64>,
    /// Rows of `periods + 1` counts, one after the other.
    rows: Vec<u64>,
    last: Option<u32>,
    /// Periods a journey came back in (exact time zones only; reused between journeys).
    scratch: Vec<i64>,
}

/// Count the periods 1..=`periods` after the entry period `p0` that hold one of `times`
/// (set times, sorted; local time = `shift` + time) in `row`: from each period counted, skip
/// to the first event after it (8 times at a time, no branch per time), and place that event
/// by comparing it with the next period starts (no division).
fn count_periods(times: &[u32], shift: i64, period: Period, p0: i64, periods: i64, row: &mut [u64]) {
    // Where period p0 + n starts, in set time.
    let start = |n: i64| period.first_day(p0 + n) * DAY - shift;
    let mut rest = times;
    let mut n = 1;
    let mut lo = start(1);
    loop {
        let Ok(bound) = u32::try_from(lo.max(0)) else { return };
        // None left (the last time is at hand: no scan through the last period's events).
        if rest.last().is_none_or(|&t| t < bound) {
            return;
        }
        // The first time at or after `bound` (one exists): 8 times at a time (sorted, so
        // the count below `bound` is the position), without a branch per time.
        let mut at = 0;
        for eight in rest.chunks_exact(8) {
            let below = eight.iter().map(|&t| usize::from(t < bound)).sum::<usize>();
            at += below;
            if below < 8 {
                break;
            }
        }
        if at == rest.len() - rest.len() % 8 {
            at += rest[at..].iter().take_while(|&&t| t < bound).count();
        }
        rest = &rest[at..];
        let t = i64::from(rest[0]);
        let mut hi = start(n + 1);
        while t >= hi {
            n += 1;
            if n > periods {
                return;
            }
            hi = start(n + 1);
        }
        row[n as usize] += 1;
        n += 1;
        if n > periods {
            return;
        }
        lo = hi;
    }
}

/// Compute retention cohorts.
pub fn run(set: &impl Journeys, dict: &Dictionary, q: &RetentionQuery) -> Result<RetentionReport, QueryError> {
    Ok(run_groups(set, dict, q)?.swap_remove(0))
}

/// Compute retention cohorts of each group of a journey set (one report per group, see
/// [`Journeys::fold_groups`]), in one pass.
pub fn run_groups(
    set: &impl Journeys,
    dict: &Dictionary,
    q: &RetentionQuery,
) -> Result<Vec<RetentionReport>, QueryError> {
    let plan = q.check(dict)?;
    let accs = fold(set, q, &plan);
    Ok(accs.into_iter().map(|acc| report(q, &plan, set.epoch_s(), acc.into_counts())).collect())
}

/// A retention query checked against a dictionary: what the kernel (and a SQL executor)
/// works with.
#[derive(Debug, Clone)]
pub struct RetentionPlan {
    /// The touchpoint that starts a cohort (`None`: the first event).
    pub entry: Option<Tp>,
    /// The touchpoint that counts as coming back (`None`: any).
    pub returning: Option<Tp>,
    /// The project's local time.
    pub clock: Clock,
}

/// Retention counted, before the report: per cohort (its period's index, see
/// [`Period::index`]), the customers retained in periods 0..=`periods` (0: the cohort's
/// size); and the set's last event time (seconds since its epoch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionCounts {
    /// `(entry period, counts)`, in no order, each entry period once.
    pub rows: Vec<(i64, Vec<u64>)>,
    /// The latest event time of the set.
    pub last: Option<u32>,
}

impl RetentionQuery {
    /// The query checked against `dict`, or why it cannot run.
    pub fn check(&self, dict: &Dictionary) -> Result<RetentionPlan, QueryError> {
        let q = self;
        let entry_tp = match &q.cohort {
            CohortBy::FirstSeen => None,
            CohortBy::FirstTouchpoint(key) => Some(resolve(dict, "cohort.first_touchpoint", key)?),
        };
        let returning = q.returning.as_deref().map(|key| resolve(dict, "returning", key)).transpose()?;
        if q.periods == 0 || q.periods > MAX_PERIODS {
            return Err(QueryError::new(format!("periods: must be from 1 to {MAX_PERIODS}, not {}", q.periods)));
        }
        if !(-MAX_TZ_OFFSET_S..=MAX_TZ_OFFSET_S).contains(&q.tz_offset_s) {
            return Err(QueryError::new(format!(
                "tz_offset_s: a time-zone offset is less than a day (±{MAX_TZ_OFFSET_S} s), not {}",
                q.tz_offset_s
            )));
        }
        for (i, &(at, off)) in q.tz_transitions.iter().enumerate() {
            if !(-MAX_TZ_OFFSET_S..=MAX_TZ_OFFSET_S).contains(&off) {
                return Err(QueryError::new(format!("tz_transitions[{i}]: an offset is less than a day, not {off}")));
            }
            if i > 0 && q.tz_transitions[i - 1].0 >= at {
                return Err(QueryError::new(format!("tz_transitions[{i}]: transitions must be in time order")));
            }
        }
        let clock = Clock { base_s: q.tz_offset_s, changes: q.tz_transitions.clone() };
        if let (Some(from), Some(to)) = (q.from, q.to) {
            if from >= to {
                return Err(QueryError::new(format!("from, to: the range is empty ({from} is not before {to})")));
            }
        }
        Ok(RetentionPlan { entry: entry_tp, returning, clock })
    }
}

/// The counts of a journey set (one group), for a SQL executor's customers it runs here.
pub fn counts(set: &impl Journeys, q: &RetentionQuery, plan: &RetentionPlan) -> RetentionCounts {
    fold(set, q, plan).swap_remove(0).into_counts()
}

impl Acc {
    fn into_counts(self) -> RetentionCounts {
        let stride = self.rows.len() / self.keys.len().max(1);
        RetentionCounts {
            rows: self.keys.iter().copied().zip(self.rows.chunks_exact(stride.max(1)).map(<[u64]>::to_vec)).collect(),
            last: self.last,
        }
    }
}

/// One pass over the set's customers: an accumulator per group.
fn fold(set: &impl Journeys, q: &RetentionQuery, plan: &RetentionPlan) -> Vec<Acc> {
    let (entry_tp, returning, clock) = (plan.entry, plan.returning, &plan.clock);
    let exact = !clock.changes.is_empty();
    let periods = q.periods as i64;
    let period = q.period;
    // Local time of an event = its set time + shift.
    let shift = set.epoch_s() + q.tz_offset_s;
    let stride = q.periods + 1;
    let accs = set.fold_groups(
        || Acc { index: IntMap::default(), keys: Vec::new(), rows: Vec::new(), last: None, scratch: Vec::new() },
        |mut acc, j| {
            let Some(&last) = j.times.last() else { return acc };
            acc.last = acc.last.max(Some(last));
            let entry = match entry_tp {
                None => 0,
                Some(a) => match j.touchpoints.iter().position(|&t| t == a) {
                    Some(i) => i,
                    None => return acc,
                },
            };
            let entered = set.epoch_s() + i64::from(j.times[entry]);
            if q.from.is_some_and(|f| entered < f) || q.to.is_some_and(|t| entered >= t) {
                return acc;
            }
            let p0 = period.index(entered + clock.offset_at(entered));
            let at = *acc.index.entry(p0 as u64).or_insert_with(|| {
                acc.keys.push(p0);
                acc.rows.resize(acc.rows.len() + stride, 0);
                acc.rows.len() - stride
            });
            let row = &mut acc.rows[at..at + stride];
            row[0] += 1;
            let later = j.times[entry + 1..].iter().zip(&j.touchpoints[entry + 1..]);
            let later = later.filter(|(_, &tp)| returning.is_none_or(|b| b == tp));
            if exact {
                // Local time steps back when the clocks do: collect the periods, then count
                // each once.
                acc.scratch.clear();
                for (&t, _) in later {
                    let abs = set.epoch_s() + i64::from(t);
                    let n = period.index(abs + clock.offset_at(abs)) - p0;
                    if (1..=periods).contains(&n) {
                        acc.scratch.push(n);
                    }
                }
                acc.scratch.sort_unstable();
                acc.scratch.dedup();
                for &n in &acc.scratch {
                    row[n as usize] += 1;
                }
                return acc;
            }
            if returning.is_none() {
                count_periods(&j.times[entry + 1..], shift, period, p0, periods, row);
                return acc;
            }
            // The current period's n and where the next period starts (local seconds).
            let mut n = 0i64;
            let mut next = period.first_day(p0 + 1) * DAY;
            let mut counted = 0i64;
            for (&t, _) in later {
                let local = shift + i64::from(t);
                if local >= next {
                    let p = period.index(local);
                    n = p - p0;
                    if n > periods {
                        break;
                    }
                    next = period.first_day(p + 1) * DAY;
                }
                if n != counted {
                    row[n as usize] += 1;
                    counted = n;
                }
            }
            acc
        },
        |mut a, b| {
            for (p0, row) in b.keys.iter().zip(b.rows.chunks_exact(stride)) {
                let at = *a.index.entry(*p0 as u64).or_insert_with(|| {
                    a.keys.push(*p0);
                    a.rows.resize(a.rows.len() + stride, 0);
                    a.rows.len() - stride
                });
                a.rows[at..at + stride].iter_mut().zip(row).for_each(|(x, y)| *x += y);
            }
            a.last = a.last.max(b.last);
            a
        },
    );
    accs
}

/// The report of counted cohorts (each entry period once, wherever it was counted).
pub fn report(q: &RetentionQuery, plan: &RetentionPlan, epoch_s: i64, counts: RetentionCounts) -> RetentionReport {
    let (period, clock) = (q.period, &plan.clock);
    let last_local = counts.last.map_or(i64::MIN, |t| {
        let abs = epoch_s + i64::from(t);
        abs + clock.offset_at(abs)
    });
    let observable = |p0: i64, n: usize| period.first_day(p0 + n as i64) * DAY <= last_local;
    let mut overall_size = 0u64;
    let mut sums = vec![(0u64, 0u64, false); q.periods + 1];
    let mut order: Vec<(i64, &[u64])> = counts.rows.iter().map(|(p0, row)| (*p0, row.as_slice())).collect();
    order.sort_unstable_by_key(|x| x.0);
    let cohorts = order
        .into_iter()
        .map(|(p0, row)| {
            let size = row[0];
            overall_size += size;
            let retained: Vec<Option<u64>> =
                row.iter().enumerate().map(|(n, &c)| observable(p0, n).then_some(c)).collect();
            for (sum, r) in sums.iter_mut().zip(&retained) {
                if let Some(c) = r {
                    *sum = (sum.0 + c, sum.1 + size, true);
                }
            }
            RetentionCohort {
                start: iso_date(period.first_day(p0)),
                size,
                rates: retained.iter().map(|r| r.map(|c| c as f64 / size as f64)).collect(),
                retained,
            }
        })
        .collect();
    let overall = RetentionOverall {
        size: overall_size,
        retained: sums.iter().map(|&(c, _, seen)| seen.then_some(c)).collect(),
        rates: sums.iter().map(|&(c, size, seen)| seen.then(|| c as f64 / size as f64)).collect(),
    };
    RetentionReport { period, cohorts, overall }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_arithmetic_round_trips() {
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(Period::Week.first_day(0)), "1969-12-29");
        assert_eq!(iso_date(days_from_civil(2024, 2, 29)), "2024-02-29");
        assert_eq!(Period::Month.index(days_from_civil(2026, 11, 1) * DAY), 2026 * 12 + 10);
    }
}
