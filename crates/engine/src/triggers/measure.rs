//! A rule measured on the journeys: the **preview** ("over the last 30 days this rule
//! would have fired N times for M customers; K held by quiet hours, L by caps") and the
//! **report** (treated against held-out customers on the rule's goal, with the uplift's
//! interval).
//!
//! The preview replays the journey index: the rule's touchpoint (or stage, or survey
//! answers) in the window, property conditions read from the stored events of those
//! customers only, then the same `touchpoint_act::decide` functions the live worker calls
//! — re-entry, the follow-up window, caps, quiet hours in the project's zone — in time
//! order per customer. What it cannot know is said in `notes`: consent given later, and
//! other rules' messages counting against the channel cap.

use super::{definition, find};
use crate::error::{Error, Result};
use crate::Engine;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use touchpoint_act::decide::{self, ChannelCap, Consent, CustomerFacts, History, Occurrence, Verdict};
use touchpoint_act::rule::When;
use touchpoint_act::uplift::{uplift, Uplift};
use touchpoint_analytics::journeys::Tp;
use touchpoint_core::catalog::SURVEY_TOUCHPOINT;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::now_ms;
use touchpoint_store::triggers::{FiringFilter, FiringState};

/// Customers whose stored events a preview reads for property conditions, at most.
const MAX_READ: usize = 20_000;

/// What a rule would have done.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// Days looked back.
    pub days: i64,
    /// The window (RFC 3339).
    pub from: String,
    /// The window's end (RFC 3339).
    pub to: String,
    /// Times it would have fired (sent or, in the hold-out, recorded).
    pub fired: u64,
    /// Customers it would have fired for.
    pub customers: u64,
    /// Of the firings, those in the hold-out group.
    pub held_out: u64,
    /// Firings held by quiet hours (sent when they end; counted in `fired`).
    pub held_by_quiet_hours: u64,
    /// Firings stopped by the rule's cap or the channel's daily cap.
    pub suppressed_by_caps: u64,
    /// Times the rule's event happened again for a customer the re-entry policy kept out.
    pub skipped_by_reentry: u64,
    /// "Not followed" timers the follow-up cancelled.
    pub cancelled_by_follow_up: u64,
    /// Timers still running at the window's end.
    pub still_waiting: u64,
    /// Times the event happened for a customer the rule is not for (`who`).
    pub not_for_them: u64,
    /// What the preview could not count.
    pub notes: Vec<String>,
}

/// A health rule's preview: the health check run on each day of the window as it would
/// have run the morning after (volume that day, exits the day before), the alerts it asks
/// for counted. No customers, no hold-out, no caps: it is about touchpoints.
async fn preview_health(
    snap: &touchpoint_analytics::index::Snapshot,
    def: &touchpoint_act::RuleDef,
    mut out: Preview,
    now: i64,
    timezone: &str,
) -> Preview {
    let (set, dict, when) = (snap.set.clone(), snap.dict.clone(), def.when.clone());
    let days = out.days;
    let (clock, today) = super::health::days_clock(timezone, now, days);
    let counted = tokio::task::spawn_blocking(move || {
        let mut alerts = Vec::new();
        let n = dict.touchpoints.len();
        for (day, family) in touchpoint_analytics::health::families(&set, n, today - days..today, &clock) {
            for (t, q) in family {
                let key = &dict.touchpoints[t.tp as usize].key;
                if super::health::wanted(&when, &t, q, key) {
                    alerts.push((day, key.clone(), t.metric.as_str()));
                }
            }
        }
        alerts
    })
    .await
    .unwrap_or_default();
    out.fired = counted.len() as u64;
    let examples: Vec<String> = counted
        .iter()
        .rev()
        .take(5)
        .map(|(day, key, metric)| format!("{} {key} {metric}", touchpoint_core::event::format_date(day * 86_400_000)))
        .collect();
    out.notes.push(format!(
        "a health alert is about touchpoints, not customers: {} alerts to the team over {days} days, each day tested the morning after against its {} days before{}",
        counted.len(),
        touchpoint_analytics::health::BASELINE_DAYS,
        if examples.is_empty() { String::new() } else { format!(" (the latest: {})", examples.join("; ")) }
    ));
    out
}

/// The occurrences of a rule's event in a journey set: (customer, unix s, properties?).
struct Found {
    customer: CustomerId,
    t: i64,
}

/// Preview a stored rule (`key`) or a definition not saved yet.
pub async fn preview(
    s: &Engine,
    project: ProjectId,
    key: Option<&str>,
    def: Option<&Value>,
    days: i64,
) -> Result<Preview> {
    let (rule_id, def) = match (key, def) {
        (_, Some(v)) => (0, super::parse(&*s.store, project, v).await?),
        (Some(k), None) => {
            let row = find(&*s.store, project, k).await?;
            (row.id, definition(&row)?)
        }
        (None, None) => return Err(Error::missing("key", "name a rule, or send a definition to preview")),
    };
    let days = days.clamp(1, 366);
    let store = &*s.store;
    let p = store.project(project).await?.ok_or_else(|| Error::not_found(format!("no project {project}")))?;
    let now = now_ms();
    let (from_s, to_s) = (now / 1000 - days * 86_400, now / 1000);
    let mut out = Preview {
        days,
        from: touchpoint_core::event::format_time(from_s * 1000),
        to: touchpoint_core::event::format_time(to_s * 1000),
        ..Preview::default()
    };
    let Some(snap) = s.journeys.index.snapshot(project) else { return Ok(out) };
    if matches!(def.when, When::HealthAlert { .. }) {
        return Ok(preview_health(&snap, &def, out, now, &p.timezone).await);
    }
    let (set, dict) = (&snap.set, &snap.dict);
    let find_tp = |k: &str| dict.find(k);
    let starts: HashSet<Tp> = match &def.when {
        When::Happens { touchpoint, .. } | When::NotFollowed { touchpoint, .. } => {
            find_tp(touchpoint).into_iter().collect()
        }
        When::SurveyScore { .. } => find_tp(SURVEY_TOUCHPOINT).into_iter().collect(),
        When::StageEntered { stage } => (0..dict.touchpoints.len())
            .filter(|&i| dict.touchpoints[i].stage.as_deref() == Some(stage))
            .map(|i| i as Tp)
            .collect(),
        When::HealthAlert { .. } => HashSet::new(),
    };
    let follow: HashSet<Tp> = match &def.when {
        When::NotFollowed { followed_by, .. } => followed_by.iter().filter_map(|k| find_tp(k)).collect(),
        _ => HashSet::new(),
    };
    let within_s = match &def.when {
        When::NotFollowed { within, .. } => within.ms() / 1000,
        _ => 0,
    };
    // 1. The rule's event in the window, from the journeys.
    let mut found: Vec<Found> = Vec::new();
    let mut first_channel: HashMap<CustomerId, String> = HashMap::new();
    for j in set.iter() {
        let mut seen_stage = false;
        for (&t, &tp) in j.times.iter().zip(j.touchpoints) {
            let t = set.epoch_s + i64::from(t);
            let hit = starts.contains(&tp);
            if matches!(def.when, When::StageEntered { .. }) {
                if !hit || seen_stage {
                    continue;
                }
                seen_stage = true;
            } else if !hit {
                continue;
            }
            if t >= from_s && t <= to_s {
                found.push(Found { customer: j.customer, t });
                first_channel
                    .entry(j.customer)
                    .or_insert_with(|| dict.get(j.touchpoints[0]).channel.as_str().to_string());
            }
        }
    }
    // 2. Property conditions and survey scores, from the stored events of those customers.
    let needs_properties = match &def.when {
        When::Happens { conditions, .. } | When::NotFollowed { conditions, .. } => !conditions.is_empty(),
        When::SurveyScore { .. } => true,
        When::StageEntered { .. } | When::HealthAlert { .. } => false,
    };
    if needs_properties {
        let mut customers: Vec<CustomerId> = found.iter().map(|f| f.customer).collect();
        customers.dedup();
        if customers.len() > MAX_READ {
            out.notes.push(format!(
                "property conditions were read for the first {MAX_READ} of {} customers",
                customers.len()
            ));
            customers.truncate(MAX_READ);
        }
        let keys: HashMap<i64, String> =
            store.touchpoints(project).await?.into_iter().map(|t| (t.id, t.touchpoint.key)).collect();
        let mut kept = Vec::new();
        for c in customers {
            let mut before = None;
            'pages: for _ in 0..20 {
                let page = store.customer_events(&[c], before, 500).await?;
                for e in &page {
                    let t = e.timestamp.div_euclid(1000);
                    if t < from_s {
                        break 'pages;
                    }
                    if t > to_s {
                        continue;
                    }
                    let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                    let empty = serde_json::Map::new();
                    let props = body.get("properties").and_then(Value::as_object).unwrap_or(&empty);
                    let occ = Occurrence {
                        name: e.name.as_deref(),
                        touchpoint: e.touchpoint_id.and_then(|t| keys.get(&t)).map(String::as_str),
                        stage_entered: None,
                        properties: props,
                    };
                    if decide::starts(&def, &occ).is_some() {
                        kept.push(Found { customer: c, t });
                    }
                }
                match page.last() {
                    Some(e) if page.len() == 500 => before = Some((e.timestamp, e.id)),
                    _ => break,
                }
            }
        }
        found = kept;
    }
    found.sort_by_key(|f| (f.customer, f.t));
    // 3. Who, then the decision in time order per customer.
    let mut traits: HashMap<CustomerId, serde_json::Map<String, Value>> = HashMap::new();
    if !def.who.traits.is_empty() {
        let mut customers: Vec<CustomerId> = found.iter().map(|f| f.customer).collect();
        customers.dedup();
        for c in customers {
            if let Some(cu) = store.customer(c).await? {
                traits.insert(c, cu.traits);
            }
        }
    }
    let clock = crate::tz::clock(&p.timezone, from_s - 86_400, to_s + 86_400);
    let cap = s.config.messages_per_customer_per_day;
    let channel_cap = (cap > 0).then_some(ChannelCap { max: cap, per_ms: 86_400_000 });
    let empty = serde_json::Map::new();
    let mut fired_for: HashSet<CustomerId> = HashSet::new();
    let mut i = 0;
    while i < found.len() {
        let c = found[i].customer;
        let mut history = History::default();
        let journey = set.customers.binary_search(&c).ok().map(|k| set.journey(k));
        while i < found.len() && found[i].customer == c {
            let t_ms = found[i].t * 1000;
            i += 1;
            // Their stage then, when the rule asks: that of their latest touchpoint with
            // one, up to the event.
            let stage = journey.filter(|_| !def.who.stage.is_empty()).and_then(|j| {
                j.times
                    .iter()
                    .zip(j.touchpoints)
                    .take_while(|(&x, _)| set.epoch_s + i64::from(x) <= t_ms / 1000)
                    .filter_map(|(_, &tp)| dict.get(tp).stage.as_deref())
                    .last()
            });
            let facts = CustomerFacts {
                traits: traits.get(&c).unwrap_or(&empty),
                first_channel: first_channel.get(&c).map(String::as_str),
                stage,
            };
            if !decide::is_for(&def, &facts) {
                out.not_for_them += 1;
                continue;
            }
            if !decide::may_enter(&def, &history, t_ms) {
                out.skipped_by_reentry += 1;
                continue;
            }
            history.rule_ms.push(t_ms);
            let mut at = t_ms;
            if matches!(def.when, When::NotFollowed { .. }) {
                let end = t_ms / 1000 + within_s;
                let came = journey.is_some_and(|j| {
                    j.times.iter().zip(j.touchpoints).any(|(&x, tp)| {
                        let x = set.epoch_s + i64::from(x);
                        x > t_ms / 1000 && x <= end && follow.contains(tp)
                    })
                });
                if came {
                    out.cancelled_by_follow_up += 1;
                    continue;
                }
                if end > to_s {
                    out.still_waiting += 1;
                    continue;
                }
                at = end * 1000;
            }
            history.channel_sent_ms.clone_from(&history.rule_sent_ms);
            match decide::guard(&def, Consent::Unknown, &history, channel_cap, &clock, at) {
                Verdict::Suppress(_) => {
                    out.suppressed_by_caps += 1;
                    continue;
                }
                Verdict::HoldUntil(until) => {
                    out.held_by_quiet_hours += 1;
                    at = until;
                }
                Verdict::Go => {}
            }
            history.rule_sent_ms.push(at);
            out.fired += 1;
            fired_for.insert(c);
            if decide::held_out(rule_id, c, def.holdout) {
                out.held_out += 1;
            }
        }
    }
    out.customers = fired_for.len() as u64;
    if def.then.to_customer() {
        out.notes.push(
            "consent given or withdrawn after the fact, and other rules' messages on the same channel, are not counted"
                .into(),
        );
    }
    Ok(out)
}

/// A rule's report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The rule.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: String,
    /// Firings in each state.
    pub firings: std::collections::BTreeMap<String, i64>,
    /// The goal touchpoint and horizon, if the rule has a goal.
    pub goal: Option<String>,
    /// Customers sent the message whose horizon has passed.
    pub treated: u64,
    /// Held-out customers whose horizon has passed.
    pub held_out: u64,
    /// Customers (either group) whose horizon has not passed yet: counted later.
    pub maturing: u64,
    /// The comparison, when both groups have customers and the rule has a goal.
    #[schema(value_type = Option<Object>)]
    pub uplift: Option<Uplift>,
    /// In words, for people.
    pub summary: String,
}

/// Compare the treated and the held-out customers on the rule's goal.
pub async fn report(s: &Engine, project: ProjectId, key: &str) -> Result<Report> {
    let store = &*s.store;
    let row = find(store, project, key).await?;
    let def = definition(&row)?;
    let view = super::view(store, &row).await?;
    let merged: HashMap<CustomerId, CustomerId> = store.merged_customers(project).await?.into_iter().collect();
    let canonical = |mut c: CustomerId| {
        for _ in 0..16 {
            match merged.get(&c) {
                Some(&n) => c = n,
                None => break,
            }
        }
        c
    };
    // Each customer's first firing that was sent or held out: (at, held out). An in-page
    // survey waiting for the customer's page counts as sent (as meant to be shown: the
    // held-out side is everyone who would have been, whether they came back or not).
    let mut first: HashMap<CustomerId, (i64, bool)> = HashMap::new();
    let mut before = None;
    loop {
        let filter = FiringFilter { rule_id: Some(row.id), before_seq: before, ..Default::default() };
        let page = store.firings(project, &filter, 1000).await?;
        for f in &page {
            if !matches!(f.firing.state, FiringState::Delivered | FiringState::HeldOut | FiringState::Ready) {
                continue;
            }
            let at = f.done_ms.unwrap_or(f.firing.decided_ms);
            let e = first.entry(canonical(f.firing.customer_id)).or_insert((at, f.firing.held_out));
            if at < e.0 {
                *e = (at, f.firing.held_out);
            }
        }
        match page.last() {
            Some(f) if page.len() == 1000 => before = Some(f.seq),
            _ => break,
        }
    }
    let now = now_ms();
    let (mut n, mut x, mut maturing) = ([0u64; 2], [0u64; 2], 0u64);
    let goal = def.goal.as_ref();
    let snap = s.journeys.index.snapshot(project);
    if let Some(goal) = goal {
        let tp = snap.as_ref().and_then(|sn| sn.dict.find(&goal.touchpoint));
        for (&c, &(at, held)) in &first {
            if at + goal.within.ms() > now {
                maturing += 1;
                continue;
            }
            let g = usize::from(held);
            n[g] += 1;
            let (Some(sn), Some(tp)) = (&snap, tp) else { continue };
            let set = &sn.set;
            let Ok(k) = set.customers.binary_search(&c) else { continue };
            let j = set.journey(k);
            let (from, to) = (at / 1000, (at + goal.within.ms()) / 1000);
            if j.times.iter().zip(j.touchpoints).any(|(&t, &x)| {
                let t = set.epoch_s + i64::from(t);
                x == tp && t > from && t <= to
            }) {
                x[g] += 1;
            }
        }
    }
    let up = goal.and_then(|_| uplift(x[0], n[0], x[1], n[1]));
    let summary = match (goal, &up) {
        (None, _) => "This rule has no goal: give it one (a touchpoint and a horizon) to measure what it changes.".into(),
        (Some(_), None) => format!(
            "Not enough yet: {} treated and {} held-out customers have passed the horizon ({} still maturing).",
            n[0], n[1], maturing
        ),
        (Some(g), Some(u)) => format!(
            "{:.1} % of treated customers reached {} within {}, against {:.1} % of held-out ones: {:+.1} points (95 % interval {:+.1} to {:+.1}, p = {:.3}), about {:.0} customers moved.",
            100.0 * u.treated.rate,
            g.touchpoint,
            g.within,
            100.0 * u.held_out.rate,
            100.0 * u.difference,
            100.0 * u.interval.low,
            100.0 * u.interval.high,
            u.p_value,
            u.moved
        ),
    };
    Ok(Report {
        key: row.key.clone(),
        name: def.name.clone(),
        status: view.status,
        firings: view.firings,
        goal: goal.map(|g| format!("{} within {}", g.touchpoint, g.within)),
        treated: n[0],
        held_out: n[1],
        maturing,
        uplift: up,
        summary,
    })
}
