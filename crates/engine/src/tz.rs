//! Projects' time zones: IANA names checked with chrono-tz, and the offsets and their
//! transitions (daylight saving time) over a span of time, handed to the pure retention
//! kernel and the listening analyses as data so that days, weeks and months are the
//! project's own.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use touchpoint_core::calendar::Clock;

/// Parse an IANA time zone name (`Europe/Prague`), with a message that says what is wrong.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| format!("{name:?} is not an IANA time zone (such as Europe/Prague or UTC)"))
}

/// A wall-clock time of a zone as unix milliseconds. An hour that happens twice (autumn)
/// is its first; one that does not happen (spring) is read an hour later, as clocks do.
pub fn local_to_ms(tz: Tz, local: chrono::NaiveDateTime) -> i64 {
    use chrono::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
        LocalResult::None => match tz.from_local_datetime(&(local + chrono::Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            LocalResult::None => local.and_utc().timestamp_millis(),
        },
    }
}

fn offset_at(tz: Tz, unix_s: i64) -> i64 {
    match chrono::DateTime::from_timestamp(unix_s, 0) {
        Some(t) => i64::from(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()),
        None => 0,
    }
}

/// The offset in force at `from_s` and every change of it up to `to_s`: `(unix second from
/// which, offset)`. Zones change their clocks at most a few times a year and never twice
/// within an hour, so hourly samples find every change and a bisection finds its second.
pub fn transitions(tz: Tz, from_s: i64, to_s: i64) -> (i64, Vec<(i64, i64)>) {
    const STEP: i64 = 3_600;
    let base = offset_at(tz, from_s);
    let mut out = vec![];
    let (mut t, mut off) = (from_s, base);
    while t < to_s {
        let next = (t + STEP).min(to_s);
        let o = offset_at(tz, next);
        if o != off {
            // The first second with the new offset is in (t, next].
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, o));
            off = o;
        }
        t = next;
    }
    (base, out)
}

/// The first and last second of a journey set, plus a day (`None` when empty).
pub fn span_of(set: &touchpoint_analytics::JourneySet) -> Option<(i64, i64)> {
    let (lo, hi) = (set.times.iter().min()?, set.times.iter().max()?);
    Some((set.epoch_s + i64::from(*lo), set.epoch_s + i64::from(*hi) + 86_400))
}

/// The clock of a project's zone over `[from_s, to_s]`: its offset and every change. UTC,
/// and a zone that no longer parses (logged), give the UTC clock.
pub fn clock(timezone: &str, from_s: i64, to_s: i64) -> Clock {
    if timezone == "UTC" {
        return Clock::default();
    }
    match parse_zone(timezone) {
        Ok(tz) => {
            let (base_s, changes) = transitions(tz, from_s, to_s);
            Clock { base_s, changes }
        }
        Err(e) => {
            tracing::warn!(error = %e, "project time zone ignored");
            Clock::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prague_changes_its_clocks_twice_a_year_at_the_exact_second() {
        let tz = parse_zone("Europe/Prague").unwrap();
        // 2026-01-01 to 2027-01-01.
        let (base, changes) = transitions(tz, 1_767_225_600, 1_798_761_600);
        assert_eq!(base, 3_600);
        // 29 March 01:00 UTC to summer time, 25 October 01:00 UTC back.
        assert_eq!(changes, vec![(1_774_746_000, 7_200), (1_792_890_000, 3_600)]);
        assert_eq!(transitions(parse_zone("UTC").unwrap(), 0, 1_000_000_000), (0, vec![]));
        assert!(parse_zone("Europe/Praha").unwrap_err().contains("not an IANA time zone"));
    }

    #[test]
    fn local_times_become_instants_the_way_clocks_go() {
        let prague = parse_zone("Europe/Prague").unwrap();
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let cases = [
            ("2026-01-15 12:00", "2026-01-15T11:00:00.000Z"),
            ("2026-07-15 12:00", "2026-07-15T10:00:00.000Z"),
            // 29 March 02:30 does not exist: read as 03:30 summer time.
            ("2026-03-29 02:30", "2026-03-29T01:30:00.000Z"),
            // 25 October 02:30 happens twice: the first.
            ("2026-10-25 02:30", "2026-10-25T00:30:00.000Z"),
        ];
        for (local, utc) in cases {
            assert_eq!(touchpoint_core::event::format_time(local_to_ms(prague, at(local))), utc, "{local}");
        }
    }
}
