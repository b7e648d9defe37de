//! The decision, pure: whether an occurrence starts a rule for a customer ([`starts`]),
//! and, when the firing is due, what the guard rails say ([`guard`]): send, hold until
//! quiet hours end, or suppress (consent, caps, re-entry). The live worker and the preview
//! call the same two functions with the same facts, so a preview counts what the rule
//! would really do.
//!
//! The hold-out ([`held_out`]) is a stable hash of (rule, customer): a customer is in the
//! same group every time, on every node, after every restart. Guards apply to both groups
//! alike — a held-out customer is recorded at the moment they would have been sent — so
//! the two groups differ only in the message.

use crate::rule::{QuietHours, Reentry, RuleDef, When};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use touchpoint_core::calendar::Clock;

/// What happened, as a rule's "when" reads it.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// The event's name (`Survey Answered`), for survey scores.
    pub name: Option<&'a str>,
    /// Its touchpoint's key, if it is a contact.
    pub touchpoint: Option<&'a str>,
    /// The stage it enters for the first time, if it does.
    pub stage_entered: Option<&'a str>,
    /// Its properties.
    pub properties: &'a Map<String, Value>,
}

/// The name of the event a completed survey response becomes.
pub const SURVEY_EVENT: &str = "Survey Answered";

/// How a rule starts for an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Fire now.
    Now,
    /// Wait this long for a follow-up (`not_followed`).
    Wait(i64),
}

/// Whether an occurrence starts `rule`, ignoring who the customer is.
pub fn starts(rule: &RuleDef, occ: &Occurrence<'_>) -> Option<Start> {
    match &rule.when {
        When::Happens { touchpoint, conditions } => (occ.touchpoint == Some(touchpoint.as_str())
            && conditions.iter().all(|c| c.holds(occ.properties)))
        .then_some(Start::Now),
        When::NotFollowed { touchpoint, conditions, within, .. } => (occ.touchpoint == Some(touchpoint.as_str())
            && conditions.iter().all(|c| c.holds(occ.properties)))
        .then_some(Start::Wait(within.ms())),
        When::StageEntered { stage } => (occ.stage_entered == Some(stage.as_str())).then_some(Start::Now),
        When::SurveyScore { survey, min, max } => {
            if occ.name != Some(SURVEY_EVENT) || occ.properties.get("survey_id").and_then(Value::as_str) != Some(survey)
            {
                return None;
            }
            let score = occ.properties.get("score").and_then(Value::as_f64)?;
            (min.is_none_or(|m| score >= m) && max.is_none_or(|m| score <= m)).then_some(Start::Now)
        }
        // Started by the health check, never by one customer's event.
        When::HealthAlert { .. } => None,
    }
}

/// How late a message may be and still be sent: a start whose moment to act (the event's
/// time, plus the wait of a `not_followed` rule) is more than this before the decision is
/// not acted on. An import of last year's history, or a phone's week-old offline queue,
/// must not send "your parcel is late" today.
pub const STALE_AFTER_MS: i64 = 86_400_000;

/// Whether a start from an event at `event_ms`, decided at `now_ms`, is too late to act on.
pub fn stale(start: Start, event_ms: i64, now_ms: i64) -> bool {
    let act_at = match start {
        Start::Now => event_ms,
        Start::Wait(ms) => event_ms.saturating_add(ms),
    };
    act_at < now_ms.saturating_sub(STALE_AFTER_MS)
}

/// What a rule's "who" reads of a customer.
#[derive(Debug, Clone, Copy)]
pub struct CustomerFacts<'a> {
    /// Their traits.
    pub traits: &'a Map<String, Value>,
    /// The channel of their first touchpoint, if known.
    pub first_channel: Option<&'a str>,
    /// Their stage when the event happened, if they have one.
    pub stage: Option<&'a str>,
}

/// Whether the rule is for this customer.
pub fn is_for(rule: &RuleDef, c: &CustomerFacts<'_>) -> bool {
    rule.who.traits.iter().all(|t| t.holds(c.traits))
        && (rule.who.first_channel.is_empty()
            || c.first_channel.is_some_and(|ch| rule.who.first_channel.iter().any(|x| x == ch)))
        && (rule.who.stage.is_empty() || c.stage.is_some_and(|s| rule.who.stage.iter().any(|x| x == s)))
}

/// Whether a customer is in the rule's hold-out: the first 8 bytes of
/// SHA-256(`holdout:{rule}:{customer}`) as a fraction of 2⁶⁴, below `share`.
pub fn held_out(rule_id: i64, customer: i64, share: f64) -> bool {
    let h = Sha256::digest(format!("holdout:{rule_id}:{customer}").as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().unwrap_or([0; 8]));
    (x as f64) / 18_446_744_073_709_551_616.0 < share
}

/// What the guards know of the customer's past.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// When this rule was decided for them before (sent, held out or waiting), ms.
    pub rule_ms: Vec<i64>,
    /// When this rule sent (or would have sent, held out) to them, ms.
    pub rule_sent_ms: Vec<i64>,
    /// When any rule sent (or would have) to them on the same channel, ms.
    pub channel_sent_ms: Vec<i64>,
}

/// Consent as the customer gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Nothing said: allowed (consent is opt-out; there is no per-project opt-in mode).
    Unknown,
    /// Yes.
    Given,
    /// No (an unsubscribe, a preference, Segment's `categoryPreferences` false).
    Refused,
}

/// A channel's cap across every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCap {
    /// Messages allowed.
    pub max: u32,
    /// In this window, ms.
    pub per_ms: i64,
}

/// The guards' verdict at the moment a firing is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send now (or record as held out).
    Go,
    /// Hold until this time (quiet hours), ms.
    HoldUntil(i64),
    /// Do not send; the reason (`reentry`, `consent`, `cap`, `channel_cap`).
    Suppress(&'static str),
}

/// Whether a rule may start for a customer who went through it at `history.rule_ms`
/// (decided at `now_ms`): the re-entry policy.
pub fn may_enter(rule: &RuleDef, history: &History, now_ms: i64) -> bool {
    match rule.guard.reentry {
        Reentry::EveryTime => true,
        Reentry::Once => history.rule_ms.is_empty(),
        Reentry::OncePer(span) => history.rule_ms.iter().all(|&t| t <= now_ms - span.ms() || t > now_ms),
    }
}

/// The guards, when a firing is due at `now_ms`: consent, then caps, then quiet hours in
/// `clock`'s local time.
pub fn guard(
    rule: &RuleDef,
    consent: Consent,
    history: &History,
    channel_cap: Option<ChannelCap>,
    clock: &Clock,
    now_ms: i64,
) -> Verdict {
    if !rule.then.to_customer() {
        return Verdict::Go;
    }
    if consent == Consent::Refused {
        return Verdict::Suppress("consent");
    }
    let within = |times: &[i64], per: i64| times.iter().filter(|&&t| t > now_ms - per && t <= now_ms).count();
    if let Some(cap) = rule.guard.cap {
        if within(&history.rule_sent_ms, cap.per.ms()) >= cap.max as usize {
            return Verdict::Suppress("cap");
        }
    }
    if let Some(cap) = channel_cap {
        if within(&history.channel_sent_ms, cap.per_ms) >= cap.max as usize {
            return Verdict::Suppress("channel_cap");
        }
    }
    if let Some(q) = rule.guard.quiet_hours {
        if let Some(until) = quiet_until(q, clock, now_ms) {
            return Verdict::HoldUntil(until);
        }
    }
    Verdict::Go
}

/// When the quiet hours around `now_ms` end (local time of `clock`), or `None` outside them.
pub fn quiet_until(q: QuietHours, clock: &Clock, now_ms: i64) -> Option<i64> {
    let now_s = now_ms.div_euclid(1000);
    let local = now_s + clock.offset_at(now_s);
    let minute = local.rem_euclid(86_400) / 60;
    let minute = minute as u32;
    let quiet = if q.from < q.to { minute >= q.from && minute < q.to } else { minute >= q.from || minute < q.to };
    if !quiet {
        return None;
    }
    let day_start = local - local.rem_euclid(86_400);
    let mut end_local = day_start + i64::from(q.to) * 60;
    if end_local <= local {
        end_local += 86_400;
    }
    // Back to UTC with the offset in force at the end (a daylight-saving change in the
    // night moves the end by the change, as a wall clock would).
    let guess = end_local - clock.offset_at(now_s);
    let end_s = end_local - clock.offset_at(guess);
    Some(end_s.max(now_s + 1) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Names, Span};
    use serde_json::json;

    struct Any;
    impl Names for Any {
        fn touchpoint(&self, _: &str) -> bool {
            true
        }
        fn stage(&self, _: &str) -> bool {
            true
        }
        fn survey(&self, _: &str) -> bool {
            true
        }
    }

    fn rule(extra: Value) -> RuleDef {
        let mut v = json!({
            "name": "r",
            "when": {"kind": "happens", "touchpoint": "cart-add", "where": [{"field": "value", "op": "gte", "value": 100}]},
            "then": {"kind": "email", "templates": {"en": {"subject": "s", "text": "t"}}}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        RuleDef::parse(&v, &Any).unwrap()
    }

    #[test]
    fn a_start_is_stale_when_its_moment_to_act_is_over_a_day_gone() {
        let (day, hour, now) = (86_400_000, 3_600_000, 1_800_000_000_000);
        let check = |start: Start, age: i64, want: bool| {
            assert_eq!(stale(start, now - age, now), want, "{start:?}, {age} ms old");
        };
        check(Start::Now, 0, false);
        check(Start::Now, day, false);
        check(Start::Now, day + 1, true);
        // A two-day wait from an event three days old acts a day late: still on time.
        check(Start::Wait(2 * day), 3 * day, false);
        check(Start::Wait(2 * day), 3 * day + 1, true);
        check(Start::Wait(hour), 30 * day, true);
        // The future is never stale.
        check(Start::Now, -hour, false);
    }

    #[test]
    fn starts_on_the_touchpoint_and_its_conditions() {
        let r = rule(json!({}));
        let props = json!({"value": 150});
        let occ = |tp, props: &Value| {
            starts(
                &r,
                &Occurrence { name: None, touchpoint: tp, stage_entered: None, properties: props.as_object().unwrap() },
            )
        };
        assert_eq!(occ(Some("cart-add"), &props), Some(Start::Now));
        assert_eq!(occ(Some("cart-add"), &json!({"value": 50})), None);
        assert_eq!(occ(Some("checkout"), &props), None);
        assert_eq!(occ(None, &props), None);
    }

    #[test]
    fn survey_scores_fire_within_their_bounds() {
        let r = rule(json!({"when": {"kind": "survey_score", "survey": "nps", "max": 6}}));
        for (score, survey, fires) in [(0, "nps", true), (6, "nps", true), (7, "nps", false), (3, "csat", false)] {
            let p = json!({"survey_id": survey, "score": score});
            let o = Occurrence {
                name: Some(SURVEY_EVENT),
                touchpoint: None,
                stage_entered: None,
                properties: p.as_object().unwrap(),
            };
            assert_eq!(starts(&r, &o).is_some(), fires, "{score} {survey}");
        }
    }

    #[test]
    fn who_reads_traits_and_first_channel() {
        let r = rule(
            json!({"who": {"traits": [{"field": "country", "op": "eq", "value": "CZ"}], "first_channel": ["email"]}}),
        );
        let t = json!({"country": "CZ"});
        let t = t.as_object().unwrap();
        let facts = |first_channel, stage| CustomerFacts { traits: t, first_channel, stage };
        assert!(is_for(&r, &facts(Some("email"), None)));
        assert!(!is_for(&r, &facts(Some("paid"), None)));
        assert!(!is_for(&r, &facts(None, None)));
        let pl = json!({"country": "PL"});
        assert!(!is_for(
            &r,
            &CustomerFacts { traits: pl.as_object().unwrap(), first_channel: Some("email"), stage: None }
        ));
        let r = rule(json!({"who": {"stage": ["purchase", "service"]}}));
        assert!(is_for(&r, &facts(None, Some("service"))));
        assert!(!is_for(&r, &facts(Some("email"), Some("awareness"))));
        assert!(!is_for(&r, &facts(None, None)), "no stage yet is in no stage");
    }

    /// The hold-out share on 10 000 customers is within binomial bounds (±4 σ), and a
    /// customer's group never changes.
    #[test]
    fn hold_out_is_stable_and_within_binomial_bounds() {
        for (rule_id, share) in [(1, 0.1), (2, 0.1), (7, 0.25), (9, 0.5)] {
            let n = 10_000.0;
            let held = (0..10_000).filter(|&c| held_out(rule_id, c, share)).count() as f64;
            let sd = (n * share * (1.0 - share)).sqrt();
            assert!((held - n * share).abs() < 4.0 * sd, "rule {rule_id}: {held} of {n} held at {share}");
            for c in 0..100 {
                assert_eq!(held_out(rule_id, c, share), held_out(rule_id, c, share));
            }
        }
        assert_eq!((0..1000).filter(|&c| held_out(1, c, 0.0)).count(), 0);
        // Different rules hold out different customers.
        let a: Vec<bool> = (0..1000).map(|c| held_out(1, c, 0.1)).collect();
        let b: Vec<bool> = (0..1000).map(|c| held_out(2, c, 0.1)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn reentry() {
        let day = 86_400_000;
        let h = History { rule_ms: vec![10 * day], ..Default::default() };
        let mut r = rule(json!({}));
        assert!(may_enter(&r, &h, 10 * day + 1));
        r.guard.reentry = Reentry::Once;
        assert!(!may_enter(&r, &h, 50 * day));
        assert!(may_enter(&r, &History::default(), 50 * day));
        r.guard.reentry = Reentry::OncePer(Span(30 * day));
        assert!(!may_enter(&r, &h, 39 * day));
        assert!(may_enter(&r, &h, 40 * day));
    }

    /// Caps and quiet hours with a controlled clock: Prague in winter (UTC+1).
    #[test]
    fn caps_then_quiet_hours() {
        let prague = Clock::fixed(3600);
        let day = 86_400_000;
        let hour = 3_600_000;
        let mut r =
            rule(json!({"guard": {"cap": {"max": 2, "per": "1d"}, "quiet_hours": {"from": "21:00", "to": "08:00"}}}));
        let noon = 20_000 * day + 11 * hour; // 12:00 in Prague
        let two_today = History { rule_sent_ms: vec![noon - 3 * hour, noon - 2 * hour], ..Default::default() };
        assert_eq!(guard(&r, Consent::Unknown, &two_today, None, &prague, noon), Verdict::Suppress("cap"));
        let one_yesterday = History { rule_sent_ms: vec![noon - day, noon - 2 * hour], ..Default::default() };
        assert_eq!(guard(&r, Consent::Unknown, &one_yesterday, None, &prague, noon), Verdict::Go);
        assert_eq!(guard(&r, Consent::Refused, &History::default(), None, &prague, noon), Verdict::Suppress("consent"));
        let channel = History { channel_sent_ms: vec![noon - hour], ..Default::default() };
        let cap = Some(ChannelCap { max: 1, per_ms: day });
        assert_eq!(guard(&r, Consent::Unknown, &channel, cap, &prague, noon), Verdict::Suppress("channel_cap"));
        // 22:30 Prague: held until 08:00 the next morning, Prague time (07:00 UTC).
        let late = 20_000 * day + 21 * hour + 30 * 60_000;
        assert_eq!(
            guard(&r, Consent::Unknown, &History::default(), None, &prague, late),
            Verdict::HoldUntil(20_001 * day + 7 * hour)
        );
        // 03:00 Prague the next night: until 08:00 that same morning.
        let night = 20_001 * day + 2 * hour;
        assert_eq!(quiet_until(r.guard.quiet_hours.unwrap(), &prague, night), Some(20_001 * day + 7 * hour));
        // A team alert ignores the customer's guards.
        r.then = crate::rule::Then::TeamAlert {
            email: Some("team@x.cz".into()),
            endpoint: None,
            templates: Default::default(),
        };
        assert_eq!(guard(&r, Consent::Refused, &two_today, None, &prague, late), Verdict::Go);
    }

    /// Every instant of two days against a slow reference: a minute is quiet when its local
    /// clock time is in the window, and the release is the first non-quiet minute after.
    #[test]
    fn quiet_hours_match_a_minute_by_minute_reference() {
        let q = QuietHours { from: 21 * 60 + 30, to: 7 * 60 + 15 };
        let clock = Clock::fixed(2 * 3600);
        let base = 19_000 * 86_400_000_i64;
        let is_quiet = |ms: i64| {
            let local_min = ((ms / 1000 + 7200).rem_euclid(86_400) / 60) as u32;
            local_min >= q.from || local_min < q.to
        };
        for m in (0..2 * 1440).step_by(7) {
            let t = base + m * 60_000 + 13_000;
            let got = quiet_until(q, &clock, t);
            if !is_quiet(t) {
                assert_eq!(got, None, "minute {m}");
                continue;
            }
            let mut r = t - t.rem_euclid(60_000);
            while is_quiet(r) {
                r += 60_000;
            }
            assert_eq!(got, Some(r), "minute {m}");
        }
    }
}
