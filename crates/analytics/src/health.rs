//! Touchpoint health: is one day of a touchpoint off its own baseline? What a health-alert
//! trigger rule asks every few minutes, so the service team hears of a broken checkout or
//! a delivery notice that stopped going out the morning after, not at the month's report.
//!
//! # Definitions
//!
//! Days are the project's own days: day numbers (days since 1970-01-01) of its local
//! time, by a [`Clock`] (its offset and every change, daylight saving time included, so a
//! day may have 23 or 25 hours); UTC days with the UTC clock. The **baseline** of a day is
//! the `baseline_days` days before it.
//!
//! * **Volume**: the touchpoint's events on the day, `x`, against the baseline days'
//!   counts, mean `m` and sample variance `s²`. Daily counts vary more than a Poisson
//!   count (weekdays, campaigns), so the test is quasi-Poisson: dispersion
//!   `φ = max(1, s² / m)`, `z = (x − m) / √(φ · m · (1 + 1/k))` over `k` baseline days (the
//!   last factor: the baseline's mean is itself estimated). Tested only when
//!   `m ≥ min_expected`.
//! * **Exit rate**: of the customers who touched it on the day (its *reach*), the share
//!   whose last occurrence of it that day was followed by no event of theirs within
//!   `exit_within_s` — they left there. Against the baseline days pooled, a pooled
//!   two-proportion z-test. Tested only when the day's reach is at least `min_reach` and
//!   the baseline's at least `5 × min_reach`. A day's exits are known only once
//!   `exit_within_s` has passed after it: the caller asks about a day old enough.
//!
//! Both are two-sided (`p = 2 · Φ(−|z|)`); the caller corrects for testing every
//! touchpoint and both metrics at once (Benjamini–Hochberg, one family per project).

use crate::journeys::{JourneySet, Tp};
use crate::stats::normal_sf;
use serde::Serialize;
use touchpoint_core::calendar::Clock;

/// Seconds in a day.
const DAY_S: i64 = 86_400;
/// The baseline a day is tested against by default: the days before it.
pub const BASELINE_DAYS: i64 = 28;

/// What is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Events per day.
    Volume,
    /// The share of the day's customers who left there.
    ExitRate,
}

impl Metric {
    /// As the API says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Volume => "volume",
            Metric::ExitRate => "exit_rate",
        }
    }
}

/// The test's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthQuery {
    /// The day tested, days since 1970-01-01 (local, by the clock counted with).
    pub day: i64,
    /// Days before it that make the baseline.
    pub baseline_days: i64,
    /// A customer left at a touchpoint when no event of theirs followed within this.
    pub exit_within_s: i64,
    /// Least baseline mean of daily events for a volume test.
    pub min_expected: f64,
    /// Least reach on the day for an exit-rate test.
    pub min_reach: u64,
}

impl Default for HealthQuery {
    fn default() -> Self {
        HealthQuery { day: 0, baseline_days: BASELINE_DAYS, exit_within_s: DAY_S, min_expected: 5.0, min_reach: 20 }
    }
}

/// One test of one touchpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Test {
    /// The touchpoint.
    pub tp: Tp,
    /// What was tested.
    pub metric: Metric,
    /// The day's value: events, or the exit rate.
    pub observed: f64,
    /// The baseline's: mean daily events, or the pooled exit rate.
    pub expected: f64,
    /// The day's events, or its reach.
    pub n: u64,
    /// The baseline's days (volume) or reach (exit rate).
    pub baseline_n: u64,
    /// The test statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Per touchpoint and day of the window (`baseline_days` before the tested day, then it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counts {
    /// Events, `[tp][day index]`.
    pub events: Vec<Vec<u64>>,
    /// Customers who touched it that day.
    pub reach: Vec<Vec<u64>>,
    /// Of them, those who left there.
    pub exits: Vec<Vec<u64>>,
}

/// Count each touchpoint's events, reach and exits per day of the window `[day −
/// baseline_days, day]` (`n_tps` touchpoints), days by `clock`.
pub fn count(set: &JourneySet, n_tps: usize, q: &HealthQuery, clock: &Clock) -> Counts {
    let width = (q.baseline_days.max(0) + 1) as usize;
    let first = q.day - q.baseline_days.max(0);
    let mut c = Counts {
        events: vec![vec![0; width]; n_tps],
        reach: vec![vec![0; width]; n_tps],
        exits: vec![vec![0; width]; n_tps],
    };
    // (tp, day index) → the customer's last event index of it that day.
    let mut last: Vec<(Tp, usize, usize)> = Vec::new();
    for j in set.iter() {
        last.clear();
        for (i, (&t, &tp)) in j.times.iter().zip(j.touchpoints).enumerate() {
            let day = clock.day_of(set.epoch_s + t as i64);
            if day < first || day > q.day || tp as usize >= n_tps {
                continue;
            }
            let d = (day - first) as usize;
            c.events[tp as usize][d] += 1;
            last.push((tp, d, i));
        }
        // Sorted by (tp, day, index): the last of each (tp, day) run is its last occurrence.
        last.sort_unstable();
        for (k, &(tp, d, i)) in last.iter().enumerate() {
            if last.get(k + 1).is_some_and(|&(tp2, d2, _)| (tp2, d2) == (tp, d)) {
                continue;
            }
            c.reach[tp as usize][d] += 1;
            let left = match j.times.get(i + 1) {
                None => true,
                Some(&next) => (next as i64 - j.times[i] as i64) > q.exit_within_s,
            };
            c.exits[tp as usize][d] += u64::from(left);
        }
    }
    c
}

/// Every test the counts allow, touchpoint by touchpoint, volume before exit rate.
pub fn tests(c: &Counts, q: &HealthQuery) -> Vec<Test> {
    let mut out = Vec::new();
    for tp in 0..c.events.len() {
        let (base, today) = c.events[tp].split_at(c.events[tp].len() - 1);
        let k = base.len() as f64;
        if k >= 2.0 {
            let m = base.iter().sum::<u64>() as f64 / k;
            if m >= q.min_expected {
                let var = base.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / (k - 1.0);
                let phi = (var / m).max(1.0);
                let x = today[0] as f64;
                let z = (x - m) / (phi * m * (1.0 + 1.0 / k)).sqrt();
                out.push(Test {
                    tp: tp as Tp,
                    metric: Metric::Volume,
                    observed: x,
                    expected: m,
                    n: today[0],
                    baseline_n: base.len() as u64,
                    z,
                    p: 2.0 * normal_sf(z.abs()),
                });
            }
        }
        let (rb, rt) = c.reach[tp].split_at(c.reach[tp].len() - 1);
        let (eb, et) = c.exits[tp].split_at(c.exits[tp].len() - 1);
        let (r, e) = (rt[0], et[0]);
        let (rr, ee) = (rb.iter().sum::<u64>(), eb.iter().sum::<u64>());
        if r >= q.min_reach && rr >= 5 * q.min_reach {
            let pooled = (e + ee) as f64 / (r + rr) as f64;
            let se = (pooled * (1.0 - pooled) * (1.0 / r as f64 + 1.0 / rr as f64)).sqrt();
            if se > 0.0 {
                let (a, b) = (e as f64 / r as f64, ee as f64 / rr as f64);
                let z = (a - b) / se;
                out.push(Test {
                    tp: tp as Tp,
                    metric: Metric::ExitRate,
                    observed: a,
                    expected: b,
                    n: r,
                    baseline_n: rr,
                    z,
                    p: 2.0 * normal_sf(z.abs()),
                });
            }
        }
    }
    out
}

/// The columns `end + 1 − width ..= end` of every touchpoint's counts.
fn columns(c: &Counts, end: usize, width: usize) -> Counts {
    let cut = |rows: &Vec<Vec<u64>>| rows.iter().map(|r| r[end + 1 - width..=end].to_vec()).collect();
    Counts { events: cut(&c.events), reach: cut(&c.reach), exits: cut(&c.exits) }
}

/// One project's family of tests for each day of `days`, as the check the morning after
/// sees it — volume that day, exit rate the day before (its exits are known by then) —
/// each test with its Benjamini–Hochberg q-value over the day's family. The journeys are
/// counted once for every day; days by `clock`.
pub fn families(
    set: &JourneySet,
    n_tps: usize,
    days: std::ops::Range<i64>,
    clock: &Clock,
) -> Vec<(i64, Vec<(Test, f64)>)> {
    families_with(set, n_tps, days, &HealthQuery::default(), clock)
}

/// [`families`] with `q`'s baseline, exit window and minimums (its `day` is ignored).
fn families_with(
    set: &JourneySet,
    n_tps: usize,
    days: std::ops::Range<i64>,
    q: &HealthQuery,
    clock: &Clock,
) -> Vec<(i64, Vec<(Test, f64)>)> {
    if days.is_empty() {
        return Vec::new();
    }
    let q = *q;
    let first = days.start - 1 - q.baseline_days;
    let all = count(set, n_tps, &HealthQuery { day: days.end - 1, baseline_days: days.end - 1 - first, ..q }, clock);
    let width = (q.baseline_days + 1) as usize;
    days.map(|day| {
        let end = (day - first) as usize;
        let mut family: Vec<Test> =
            tests(&columns(&all, end, width), &q).into_iter().filter(|t| t.metric == Metric::Volume).collect();
        family.extend(tests(&columns(&all, end - 1, width), &q).into_iter().filter(|t| t.metric == Metric::ExitRate));
        let qs = crate::stats::benjamini_hochberg(&family.iter().map(|t| t.p).collect::<Vec<_>>());
        (day, family.into_iter().zip(qs).collect())
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D0: i64 = 20_000; // 2024-10-04

    /// A customer's events: `(day, seconds into it, tp)`.
    type Events = Vec<(i64, i64, Tp)>;

    /// Customers `(id, events)`.
    fn set(customers: &[(i64, Events)]) -> JourneySet {
        let events = customers.iter().flat_map(|(c, evs)| evs.iter().map(move |&(d, s, tp)| (*c, d * DAY_S + s, tp)));
        JourneySet::from_events(0, events)
    }

    /// The obviously correct count: every (customer, tp, day) looked up among all events.
    fn reference(set: &JourneySet, n_tps: usize, q: &HealthQuery, clock: &Clock) -> Counts {
        let width = (q.baseline_days + 1) as usize;
        let first = q.day - q.baseline_days;
        let mut c = Counts {
            events: vec![vec![0; width]; n_tps],
            reach: vec![vec![0; width]; n_tps],
            exits: vec![vec![0; width]; n_tps],
        };
        for j in set.iter() {
            let at: Vec<(i64, Tp)> = j.times.iter().map(|&t| t as i64).zip(j.touchpoints.iter().copied()).collect();
            for tp in 0..n_tps as Tp {
                for d in 0..width {
                    let day = first + d as i64;
                    let idx: Vec<usize> =
                        (0..at.len()).filter(|&i| at[i].1 == tp && clock.day_of(at[i].0) == day).collect();
                    c.events[tp as usize][d] += idx.len() as u64;
                    if let Some(&i) = idx.last() {
                        c.reach[tp as usize][d] += 1;
                        let followed = i + 1 < at.len() && at[i + 1].0 - at[i].0 <= q.exit_within_s;
                        c.exits[tp as usize][d] += u64::from(!followed);
                    }
                }
            }
        }
        c
    }

    proptest! {
        #[test]
        fn counts_match_the_reference(
            journeys in proptest::collection::vec(
                proptest::collection::vec((0i64..6, 0i64..DAY_S, 0u16..4), 0..12), 0..30),
            within in prop_oneof![Just(60i64), Just(3_600), Just(DAY_S)],
            clock in prop_oneof![
                Just(Clock::default()),
                Just(Clock::fixed(3_600)),
                Just(Clock::fixed(-5 * 3_600)),
                // Summer time for two of the days, in the middle of a day.
                Just(Clock { base_s: 3_600, changes: vec![((D0 + 1) * DAY_S + 3_600, 7_200), ((D0 + 3) * DAY_S + 3_600, 3_600)] }),
            ],
        ) {
            let customers: Vec<(i64, Events)> = journeys
                .into_iter()
                .enumerate()
                .map(|(c, evs)| (c as i64 + 1, evs.into_iter().map(|(d, s, tp)| (D0 + d, s, tp)).collect()))
                .collect();
            let s = set(&customers);
            let q = HealthQuery { day: D0 + 4, baseline_days: 3, exit_within_s: within, ..Default::default() };
            prop_assert_eq!(count(&s, 4, &q, &clock), reference(&s, 4, &q, &clock));
        }
    }

    proptest! {
        /// Counting once for a run of days gives each day what counting that day alone does.
        #[test]
        fn families_count_once_what_each_day_counts_alone(
            journeys in proptest::collection::vec(
                proptest::collection::vec((0i64..40, 0i64..DAY_S, 0u16..3), 0..30), 0..40),
            offset_h in -12i64..14,
        ) {
            let clock = Clock::fixed(offset_h * 3_600);
            let customers: Vec<(i64, Events)> = journeys
                .into_iter()
                .enumerate()
                .map(|(c, evs)| (c as i64 + 1, evs.into_iter().map(|(d, s, tp)| (D0 + d, s, tp)).collect()))
                .collect();
            let s = set(&customers);
            let q = HealthQuery { min_expected: 0.5, min_reach: 1, ..Default::default() };
            let alone = |day: i64| {
                let (v, e) = (HealthQuery { day, ..q }, HealthQuery { day: day - 1, ..q });
                let mut t: Vec<Test> = tests(&count(&s, 3, &v, &clock), &v).into_iter().filter(|t| t.metric == Metric::Volume).collect();
                t.extend(tests(&count(&s, 3, &e, &clock), &e).into_iter().filter(|t| t.metric == Metric::ExitRate));
                t
            };
            for (day, family) in families_with(&s, 3, D0 + 30..D0 + 40, &q, &clock) {
                let tests: Vec<Test> = family.into_iter().map(|(t, _)| t).collect();
                prop_assert_eq!(tests, alone(day));
            }
        }
    }

    /// An event at 23:30 UTC is on the next day in Prague (UTC+1) and on the same day in
    /// New York (UTC−5); with summer time from noon, 22:30 UTC is the next day (UTC+2).
    #[test]
    fn days_are_the_projects_own() {
        let s = set(&[(1, vec![(D0, 23 * 3_600 + 1_800, 0)]), (2, vec![(D0, 22 * 3_600 + 1_800, 0)])]);
        let on = |clock: &Clock, day: i64| {
            let q = HealthQuery { day, baseline_days: 0, ..Default::default() };
            count(&s, 1, &q, clock).events[0][0]
        };
        let prague = Clock::fixed(3_600);
        assert_eq!((on(&prague, D0), on(&prague, D0 + 1)), (1, 1));
        assert_eq!((on(&Clock::default(), D0), on(&Clock::default(), D0 + 1)), (2, 0));
        assert_eq!((on(&Clock::fixed(-5 * 3_600), D0), on(&Clock::fixed(-5 * 3_600), D0 + 1)), (2, 0));
        let summer = Clock { base_s: 3_600, changes: vec![(D0 * DAY_S + 12 * 3_600, 7_200)] };
        assert_eq!((on(&summer, D0), on(&summer, D0 + 1)), (0, 2));
    }

    /// A steady touchpoint, then one day: (baseline per day, that day, what the test says).
    #[test]
    fn a_day_off_its_baseline_is_found_and_a_normal_one_is_not() {
        fn check(per_day: u64, today: u64, expect_significant: bool, expect_sign: f64) {
            let mut customers = Vec::new();
            let mut id = 0;
            for d in 0..29 {
                let n = if d == 28 { today } else { per_day + (d % 3) as u64 };
                for k in 0..n {
                    id += 1;
                    customers.push((id, vec![(D0 + d, 3_600 + k as i64, 0)]));
                }
            }
            let q = HealthQuery { day: D0 + 28, ..Default::default() };
            let c = count(&set(&customers), 1, &q, &Clock::default());
            let t = tests(&c, &q);
            let v = t.iter().find(|t| t.metric == Metric::Volume).unwrap();
            assert_eq!(v.observed, today as f64);
            assert!((v.p < 0.001) == expect_significant, "{per_day} then {today}: {v:?}");
            assert_eq!(v.z.signum(), expect_sign, "{v:?}");
        }
        check(100, 101, false, 1.0);
        check(100, 40, true, -1.0);
        check(100, 250, true, 1.0);
        check(20, 15, false, -1.0);
    }

    #[test]
    fn customers_who_stop_coming_back_raise_the_exit_rate() {
        // 28 days where 10 % leave after the touchpoint, then a day where 60 % do.
        let mut customers = Vec::new();
        let mut id = 0;
        for d in 0..29 {
            let leave = if d == 28 { 30 } else { 5 };
            for k in 0..50 {
                id += 1;
                let mut evs = vec![(D0 + d, 7_200, 1)];
                if k >= leave {
                    evs.push((D0 + d, 7_300, 0));
                }
                customers.push((id, evs));
            }
        }
        let q = HealthQuery { day: D0 + 28, ..Default::default() };
        let t = tests(&count(&set(&customers), 2, &q, &Clock::default()), &q);
        let exit = t.iter().find(|t| t.metric == Metric::ExitRate && t.tp == 1).unwrap();
        assert_eq!((exit.n, exit.baseline_n, exit.observed), (50, 1_400, 0.6));
        assert!((exit.expected - 0.1).abs() < 1e-12);
        assert!(exit.z > 5.0 && exit.p < 1e-6, "{exit:?}");
        // The touchpoint after it is where everyone leaves, every day: nothing to test.
        assert!(!t.iter().any(|t| t.metric == Metric::ExitRate && t.tp == 0), "{t:?}");
    }
}
