//! Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian), after
//! Howard Hinnant's `days_from_civil` / `civil_from_days`. Hot loops (retention buckets,
//! rendering millions of generated timestamps) use these instead of building dates.

/// Days since 1970-01-01 of a date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds in a day.
const DAY_S: i64 = 86_400;

/// The local time of a place as data: its UTC offset and the instants that offset changes
/// (daylight saving time), filled by the server from an IANA zone so pure kernels can
/// bucket by the project's own days without knowing about zones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clock {
    /// Seconds east of UTC before the first change.
    pub base_s: i64,
    /// `(unix second from which, offset)`, in time order.
    pub changes: Vec<(i64, i64)>,
}

impl Clock {
    /// A clock that never changes its offset.
    pub fn fixed(offset_s: i64) -> Clock {
        Clock { base_s: offset_s, changes: Vec::new() }
    }

    /// The offset in force at a unix second.
    pub fn offset_at(&self, t: i64) -> i64 {
        match self.changes.partition_point(|&(at, _)| at <= t) {
            0 => self.base_s,
            i => self.changes[i - 1].1,
        }
    }

    /// The local day number (days since 1970-01-01) of a unix second.
    pub fn day_of(&self, t: i64) -> i64 {
        t.saturating_add(self.offset_at(t)).div_euclid(DAY_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn agrees_with_chrono_both_ways() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for day in (-800_000..800_000).step_by(997).chain(-3..3) {
            let date = epoch + chrono::Duration::days(day);
            assert_eq!(civil_from_days(day), (i64::from(date.year()), date.month(), date.day()), "day {day}");
            assert_eq!(days_from_civil(i64::from(date.year()), date.month(), date.day()), day);
        }
    }

    #[test]
    fn a_clock_counts_local_days_across_its_changes() {
        // Prague, spring 2026: +1 h until 01:00 UTC on 29 March, +2 h after.
        let prague = Clock { base_s: 3_600, changes: vec![(1_774_746_000, 7_200)] };
        let day = |y, m, d| days_from_civil(y, m, d);
        // 22:30 UTC on the 28th is 23:30 local, still the 28th; a day later it is 00:30 on the 30th.
        assert_eq!(prague.day_of(1_774_737_000), day(2026, 3, 28));
        assert_eq!(prague.day_of(1_774_737_000 + DAY_S), day(2026, 3, 30));
        assert_eq!(prague.offset_at(1_774_745_999), 3_600);
        assert_eq!(prague.offset_at(1_774_746_000), 7_200);
        assert_eq!(Clock::fixed(-3_600).day_of(1_800), -1);
        assert_eq!(Clock::default().day_of(i64::MAX), i64::MAX.div_euclid(DAY_S));
    }
}
