//! The retention kernel against a slow, obviously-correct reference written here with
//! chrono's calendar (dates, weekdays, month arithmetic) per customer, on random journey
//! sets spanning months, with events near midnight, time-zone offsets of both signs and
//! entry ranges; plus golden cases through one data-driven `check()`.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use touchpoint_analytics::retention::{
    self, CohortBy, Period, RetentionCohort, RetentionOverall, RetentionQuery, RetentionReport,
};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{Channel, CustomerId, Touchpoint};

const KEYS: [&str; 4] = ["a", "b", "c", "d"];
/// 2025-11-15T00:00:00Z, a Saturday: random data crosses a year's end.
const EPOCH: i64 = 1_763_164_800;

fn dict() -> Dictionary {
    Dictionary {
        touchpoints: KEYS.iter().map(|k| Touchpoint::discovered(k, k, Channel::Other)).collect(),
        stages: vec![],
    }
}

fn tp(key: &str) -> Tp {
    KEYS.iter().position(|k| *k == key).unwrap_or_else(|| panic!("no key {key}")) as Tp
}

// ---------------------------------------------------------------------------------------
// The reference.

/// Local time at a unix second: the offset of the last transition at or before it, or the
/// base offset before every transition (a linear scan).
fn local(unix: i64, q: &RetentionQuery) -> NaiveDateTime {
    let mut off = q.tz_offset_s;
    for &(at, o) in &q.tz_transitions {
        if at <= unix {
            off = o;
        }
    }
    DateTime::from_timestamp(unix + off, 0).unwrap().naive_utc()
}

/// The first day of the period containing a date.
fn period_start(d: NaiveDate, p: Period) -> NaiveDate {
    match p {
        Period::Day => d,
        Period::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        Period::Month => d.with_day(1).unwrap(),
    }
}

/// How many periods from one period start to another.
fn periods_between(a: NaiveDate, b: NaiveDate, p: Period) -> i64 {
    match p {
        Period::Day => (b - a).num_days(),
        Period::Week => (b - a).num_days() / 7,
        Period::Month => i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month()),
    }
}

/// The first day of the n-th period after the one starting at `a`.
fn nth_start(a: NaiveDate, n: usize, p: Period) -> NaiveDate {
    match p {
        Period::Day => a + Duration::days(n as i64),
        Period::Week => a + Duration::days(7 * n as i64),
        Period::Month => a.checked_add_months(Months::new(n as u32)).unwrap(),
    }
}

fn ref_report(set: &JourneySet, q: &RetentionQuery) -> RetentionReport {
    let last = set.times.iter().max().map(|&t| local(set.epoch_s + i64::from(t), q));
    let mut cohorts: std::collections::BTreeMap<NaiveDate, Vec<u64>> = Default::default();
    for j in set.iter() {
        let events: Vec<(i64, &str)> = j
            .times
            .iter()
            .zip(j.touchpoints)
            .map(|(&t, &p)| (set.epoch_s + i64::from(t), KEYS[usize::from(p)]))
            .collect();
        let entry = match &q.cohort {
            CohortBy::FirstSeen => events.first(),
            CohortBy::FirstTouchpoint(a) => events.iter().find(|e| e.1 == a),
        };
        let Some(&(entered, _)) = entry else { continue };
        if q.from.is_some_and(|f| entered < f) || q.to.is_some_and(|t| entered >= t) {
            continue;
        }
        let start = period_start(local(entered, q).date(), q.period);
        let row = cohorts.entry(start).or_insert_with(|| vec![0; q.periods + 1]);
        row[0] += 1;
        for (n, cell) in row.iter_mut().enumerate().skip(1) {
            // Any event from the entry on (at the same second too) in the n-th period.
            let back = events.iter().any(|&(t, key)| {
                t >= entered
                    && q.returning.as_deref().is_none_or(|b| b == key)
                    && periods_between(start, period_start(local(t, q).date(), q.period), q.period) == n as i64
            });
            *cell += u64::from(back);
        }
    }
    let seen = |start: NaiveDate, n: usize| {
        last.is_some_and(|l| nth_start(start, n, q.period).and_hms_opt(0, 0, 0).unwrap() <= l)
    };
    let cohorts: Vec<RetentionCohort> = cohorts
        .into_iter()
        .map(|(start, row)| {
            let retained: Vec<Option<u64>> = (0..=q.periods).map(|n| seen(start, n).then_some(row[n])).collect();
            RetentionCohort {
                start: start.to_string(),
                size: row[0],
                rates: retained.iter().map(|r| r.map(|c| c as f64 / row[0] as f64)).collect(),
                retained,
            }
        })
        .collect();
    let mut overall = RetentionOverall { size: cohorts.iter().map(|c| c.size).sum(), retained: vec![], rates: vec![] };
    for n in 0..=q.periods {
        let seen: Vec<&RetentionCohort> = cohorts.iter().filter(|c| c.retained[n].is_some()).collect();
        let count: u64 = seen.iter().map(|c| c.retained[n].unwrap()).sum();
        let size: u64 = seen.iter().map(|c| c.size).sum();
        overall.retained.push((!seen.is_empty()).then_some(count));
        overall.rates.push((!seen.is_empty()).then(|| count as f64 / size as f64));
    }
    RetentionReport { period: q.period, cohorts, overall }
}

// ---------------------------------------------------------------------------------------
// Properties.

fn arb_time() -> impl Strategy<Value = i64> {
    // A day within ~5 months, at a time of day that is often right at a boundary.
    let second = prop_oneof![
        prop::sample::select(vec![0i64, 1, 3_599, 3_600, 7_199, 43_200, 79_200, 82_800, 86_399]),
        0..86_400i64,
    ];
    (0..150i64, second).prop_map(|(day, s)| day * 86_400 + s)
}

fn arb_set() -> impl Strategy<Value = JourneySet> {
    prop::collection::vec((0..10i64, arb_time(), 0..4u16), 0..60)
        .prop_map(|evs| JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, t, tp)| (c, EPOCH + t, tp))))
}

fn arb_query() -> impl Strategy<Value = RetentionQuery> {
    (
        prop::option::of(0..4usize),
        prop::option::of(0..4usize),
        prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
        1..10usize,
        prop::sample::select(vec![0i64, 3_600, 7_200, -18_000, 49_500, -39_600, 86_399, -86_399]),
        prop::option::of(0..150i64),
        prop::option::of(1..60i64),
        // Clock changes anywhere in the data, by up to ±3 h at a time (DST and odder zones).
        prop::collection::btree_map(0..150 * 86_400i64, -3..=3i64, 0..4),
    )
        .prop_map(|(cohort, returning, period, periods, tz_offset_s, from_day, len_days, changes)| {
            RetentionQuery {
                cohort: cohort.map_or(CohortBy::FirstSeen, |i| CohortBy::FirstTouchpoint(KEYS[i].into())),
                returning: returning.map(|i| KEYS[i].into()),
                period,
                periods,
                tz_offset_s,
                tz_transitions: {
                    let mut off = tz_offset_s;
                    changes
                        .into_iter()
                        .map(|(at, step)| {
                            off = (off + step * 3_600).clamp(-86_399, 86_399);
                            (EPOCH + at, off)
                        })
                        .collect()
                },
                from: from_day.map(|d| EPOCH + d * 86_400),
                to: from_day.zip(len_days).map(|(d, l)| EPOCH + (d + l) * 86_400),
            }
        })
}

/// Few customers with bursts of events on a few days (dozens in one period, then periods
/// without any), any event counting as a return, a fixed offset: the kernel's skip over a
/// period's events.
fn arb_dense_set() -> impl Strategy<Value = JourneySet> {
    let day = prop::sample::select(vec![0i64, 1, 2, 3, 12, 13, 30, 31, 32, 75, 76, 140]);
    prop::collection::vec((0..3i64, day, 0..86_400i64, 0..4u16), 20..400).prop_map(|evs| {
        JourneySet::from_events(EPOCH, evs.into_iter().map(|(c, day, s, tp)| (c, EPOCH + day * 86_400 + s, tp)))
    })
}

fn arb_fixed_query() -> impl Strategy<Value = RetentionQuery> {
    arb_query().prop_map(|q| RetentionQuery { returning: None, tz_transitions: vec![], ..q })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn dense_journeys_match_reference(set in arb_dense_set(), q in arb_fixed_query()) {
        prop_assert_eq!(retention::run(&set, &dict(), &q).unwrap(), ref_report(&set, &q));
    }

    #[test]
    fn kernel_matches_reference(set in arb_set(), q in arb_query()) {
        prop_assert_eq!(retention::run(&set, &dict(), &q).unwrap(), ref_report(&set, &q));
    }

    #[test]
    fn rates_are_fractions_and_period_zero_is_everyone(set in arb_set(), q in arb_query()) {
        let r = retention::run(&set, &dict(), &q).unwrap();
        for c in &r.cohorts {
            prop_assert_eq!(c.retained[0], Some(c.size));
            prop_assert_eq!(c.retained.len(), q.periods + 1);
            prop_assert!(c.rates.iter().flatten().all(|&x| (0.0..=1.0).contains(&x)));
            // Once a period is unobservable, so are all later ones.
            let first_none = c.retained.iter().position(Option::is_none).unwrap_or(c.retained.len());
            prop_assert!(c.retained[first_none..].iter().all(Option::is_none));
        }
        prop_assert_eq!(r.overall.size, r.cohorts.iter().map(|c| c.size).sum::<u64>());
    }
}

// ---------------------------------------------------------------------------------------
// Golden cases.

/// Customers as `"a@2026-01-05T10:00 b@2026-01-12T00:00 | …"` (`|` separates customers).
fn parse_set(text: &str) -> JourneySet {
    let mut events = vec![];
    for (c, customer) in text.split('|').enumerate() {
        for ev in customer.split_whitespace() {
            let (key, at) = ev.split_once('@').unwrap();
            let t = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M").unwrap().and_utc().timestamp();
            events.push((c as CustomerId, t, tp(key)));
        }
    }
    JourneySet::from_events(EPOCH, events)
}

/// A row as `"start size: r0 r1 … "` with `-` for an unobservable period.
fn row(start: &str, size: u64, retained: &[Option<u64>]) -> String {
    let cells: Vec<String> = retained.iter().map(|r| r.map_or("-".into(), |c| c.to_string())).collect();
    format!("{start} {size}: {}", cells.join(" "))
}

/// Run `q` over `data`; compare the cohorts' rows and the overall row (`overall` first).
fn check(name: &str, data: &str, q: RetentionQuery, want: &[&str]) {
    let set = parse_set(data);
    let r = retention::run(&set, &dict(), &q).unwrap();
    let mut got = vec![row("overall", r.overall.size, &r.overall.retained)];
    got.extend(r.cohorts.iter().map(|c| row(&c.start, c.size, &c.retained)));
    assert_eq!(got, want, "{name}");
    assert_eq!(r, ref_report(&set, &q), "{name}: the reference agrees");
}

#[test]
fn golden_cases() {
    let q = |period, periods| RetentionQuery { period, periods, ..RetentionQuery::default() };
    check(
        "weekly, Monday to Sunday; the last week not yet started is unknown",
        "a@2026-01-05T10:00 b@2026-01-13T09:00 a@2026-01-27T12:00 | a@2026-01-11T23:59 a@2026-01-12T00:00 | c@2026-01-12T08:00",
        q(Period::Week, 4),
        &["overall 3: 3 2 0 1 -", "2026-01-05 2: 2 2 0 1 -", "2026-01-12 1: 1 0 0 - -"],
    );
    check(
        "a time-zone offset moves an event across midnight",
        "a@2026-01-04T23:30 a@2026-01-12T10:00",
        RetentionQuery { tz_offset_s: 3_600, ..q(Period::Week, 1) },
        &["overall 1: 1 1", "2026-01-05 1: 1 1"],
    );
    check(
        "the same without the offset",
        "a@2026-01-04T23:30 a@2026-01-12T10:00",
        q(Period::Week, 2),
        &["overall 1: 1 0 1", "2025-12-29 1: 1 0 1"],
    );
    // Prague: +1 h until 2026-03-29 01:00 UTC, +2 h after. 22:30 UTC on Sunday 29 March is
    // 00:30 on Monday in summer time: the next ISO week (a fixed +1 h would say Sunday).
    let prague = vec![(1_774_746_000, 7_200)];
    check(
        "daylight saving time moves an event into the next week",
        "a@2026-03-23T10:00 a@2026-03-29T22:30",
        RetentionQuery { tz_offset_s: 3_600, tz_transitions: prague.clone(), ..q(Period::Week, 1) },
        &["overall 1: 1 1", "2026-03-23 1: 1 1"],
    );
    check(
        "the same with a fixed offset: still Sunday, and the next week has not begun",
        "a@2026-03-23T10:00 a@2026-03-29T22:30",
        RetentionQuery { tz_offset_s: 3_600, ..q(Period::Week, 1) },
        &["overall 1: 1 -", "2026-03-23 1: 1 -"],
    );
    check(
        "calendar months: 31 January to 1 February is the next month",
        "a@2026-01-31T20:00 a@2026-02-01T08:00 a@2026-04-30T00:00",
        q(Period::Month, 4),
        &["overall 1: 1 1 0 1 -", "2026-01-01 1: 1 1 0 1 -"],
    );
    check(
        "days, and a partly observed last day",
        "a@2026-01-01T00:00 a@2026-01-02T23:59 | a@2026-01-02T00:00 a@2026-01-03T00:00",
        q(Period::Day, 3),
        &["overall 2: 2 2 0 -", "2026-01-01 1: 1 1 0 -", "2026-01-02 1: 1 1 - -"],
    );
    check(
        "cohort by first checkout, returning by order",
        "a@2026-01-05T10:00 b@2026-01-06T10:00 c@2026-01-13T10:00 b@2026-01-20T10:00 | b@2026-01-05T10:00 c@2026-01-06T10:00",
        RetentionQuery {
            cohort: CohortBy::FirstTouchpoint("b".into()),
            returning: Some("c".into()),
            ..q(Period::Week, 2)
        },
        &["overall 2: 2 1 0", "2026-01-05 2: 2 1 0"],
    );
    check(
        "an entry range",
        "a@2026-01-05T10:00 a@2026-01-12T10:00 | a@2026-01-12T10:00 a@2026-01-19T10:00 | a@2026-01-19T10:00",
        RetentionQuery {
            from: Some(
                NaiveDate::from_ymd_opt(2026, 1, 12).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(),
            ),
            to: Some(NaiveDate::from_ymd_opt(2026, 1, 19).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()),
            ..q(Period::Week, 2)
        },
        &["overall 1: 1 1 -", "2026-01-12 1: 1 1 -"],
    );
}

#[test]
fn rates_and_json() {
    let set = parse_set("a@2026-01-05T10:00 a@2026-01-12T10:00 | a@2026-01-06T10:00 | a@2026-01-07T10:00");
    let r = retention::run(&set, &dict(), &RetentionQuery { periods: 1, ..RetentionQuery::default() }).unwrap();
    assert_eq!(r.cohorts[0].rates, [Some(1.0), Some(1.0 / 3.0)]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["period"], "week");
    assert_eq!(json["cohorts"][0]["start"], "2026-01-05");
    assert_eq!(serde_json::from_value::<RetentionReport>(json).unwrap(), r);

    let q: RetentionQuery = serde_json::from_str("{}").unwrap();
    assert_eq!(q, RetentionQuery::default());
    assert_eq!((q.period, q.periods, q.tz_offset_s), (Period::Week, 8, 0));
    let q: RetentionQuery = serde_json::from_str(
        r#"{"cohort":{"first_touchpoint":"b"},"returning":"c","period":"month","periods":3,"tz_offset_s":3600}"#,
    )
    .unwrap();
    assert_eq!(q.cohort, CohortBy::FirstTouchpoint("b".into()));
    assert_eq!(serde_json::to_value(CohortBy::FirstSeen).unwrap(), "first_seen");
    assert!(serde_json::from_str::<RetentionQuery>(r#"{"period":"week","perods":3}"#).is_err());
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let set = parse_set("a@2026-01-05T10:00");
    let err = |q: RetentionQuery| retention::run(&set, &dict(), &q).unwrap_err().to_string();
    let q = RetentionQuery::default;
    assert_eq!(
        err(RetentionQuery { cohort: CohortBy::FirstTouchpoint("zz".into()), ..q() }),
        "cohort.first_touchpoint: unknown touchpoint \"zz\""
    );
    assert_eq!(err(RetentionQuery { returning: Some("zz".into()), ..q() }), "returning: unknown touchpoint \"zz\"");
    assert!(err(RetentionQuery { periods: 0, ..q() }).starts_with("periods:"));
    assert!(err(RetentionQuery { periods: 1001, ..q() }).starts_with("periods:"));
    assert!(err(RetentionQuery { tz_offset_s: 86_400, ..q() }).starts_with("tz_offset_s:"));
    assert!(err(RetentionQuery { tz_offset_s: i64::MIN, ..q() }).starts_with("tz_offset_s:"));
    assert!(err(RetentionQuery { from: Some(10), to: Some(10), ..q() }).starts_with("from, to:"));
}

#[test]
fn empty_set() {
    let r = retention::run(&JourneySet::default(), &dict(), &RetentionQuery::default()).unwrap();
    assert!(r.cohorts.is_empty());
    assert_eq!(r.overall.size, 0);
    assert!(r.overall.retained.iter().all(Option::is_none));
}
