//! The health check: every few minutes, each project with a live `health_alert` rule has
//! its touchpoints tested against their own baseline (`touchpoint_analytics::health`) on
//! the journey index — volume on the last complete day, exit rate on the day before it
//! (a customer's exit is known a day later), days in the project's time zone — all tests
//! of the project in one Benjamini–Hochberg family. Each finding a rule asks for becomes a firing in the outbox,
//! delivered by the delivery loop like any team alert.
//!
//! Nothing is decided twice: the firing's key is (rule, customer 0 — no customer —,
//! `alert_id(day, touchpoint, metric)`), so checking again the same day, on a restart or
//! on another node, records nothing new.

use super::decider::new_id;
use crate::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use touchpoint_act::rule::{Direction, HealthMetric, When};
use touchpoint_act::RuleDef;
use touchpoint_analytics::health::{self, Metric, Test};
use touchpoint_core::calendar::Clock;
use touchpoint_store::triggers::{FiringState, NewFiring, TriggerStatus};
use touchpoint_store::{now_ms, StoreError};

/// How often the projects are checked.
const EVERY: Duration = Duration::from_secs(600);
/// Milliseconds in a day of 24 hours.
const DAY_MS: i64 = 86_400_000;

/// The clock of a project in `timezone` over the days a check at `now` (unix ms) counts —
/// `days` days back from yesterday, each with its baseline — and today's day number by it
/// (days since 1970-01-01 of the local date).
pub fn days_clock(timezone: &str, now: i64, days: i64) -> (Clock, i64) {
    let now_s = now.div_euclid(1000);
    let from_s = now_s - (days + health::BASELINE_DAYS + 3) * 86_400;
    let clock = crate::tz::clock(timezone, from_s, now_s + 86_400);
    let today = clock.day_of(now_s);
    (clock, today)
}

/// The outbox's "triggering event" of an alert: one per day, touchpoint and metric (never
/// a real event's id for customer 0, who has no events).
pub fn alert_id(day: i64, touchpoint_id: i64, metric: Metric) -> i64 {
    day * 10_000_000 + touchpoint_id * 2 + i64::from(metric == Metric::ExitRate)
}

/// Whether a health rule's `when` asks for test `t` of touchpoint `key` with q-value `q`.
pub fn wanted(when: &When, t: &Test, q: f64, key: &str) -> bool {
    let When::HealthAlert { touchpoint, metric, direction, alpha } = when else { return false };
    let metric_ok = match metric {
        None => true,
        Some(HealthMetric::Volume) => t.metric == Metric::Volume,
        Some(HealthMetric::ExitRate) => t.metric == Metric::ExitRate,
    };
    let direction_ok = match direction {
        None => true,
        Some(Direction::Up) => t.z > 0.0,
        Some(Direction::Down) => t.z < 0.0,
    };
    q <= *alpha && metric_ok && direction_ok && touchpoint.as_deref().is_none_or(|k| k == key)
}

/// Start the health check; it ends when `stop` fires. It runs every [`EVERY`], and
/// within [`RULES_TTL`](super::decider::RULES_TTL) of a rule changing (a health rule
/// switched on is checked at once).
pub fn spawn(engine: Engine, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    tokio::spawn(async move {
        let mut checked: Option<(std::time::Instant, u64)> = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(super::decider::RULES_TTL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            let version = engine.triggers.version.load(Ordering::SeqCst);
            if checked.is_some_and(|(at, v)| at.elapsed() < EVERY && v == version) {
                continue;
            }
            match check(&engine, now_ms()).await {
                Ok(c) => {
                    if c.recorded > 0 {
                        engine.triggers_wake();
                    }
                    // A project whose journeys are still loading is checked again soon.
                    if c.unloaded == 0 {
                        checked = Some((std::time::Instant::now(), version));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the touchpoint health check failed");
                    checked = Some((std::time::Instant::now(), version));
                }
            }
        }
    })
}

/// What a check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// Firings recorded (new alerts).
    pub recorded: usize,
    /// Projects with a live health rule not checked: their journeys are not loaded yet.
    pub unloaded: usize,
}

/// Check every project with a live health rule at `now`.
pub async fn check(engine: &Engine, now: i64) -> Result<Checked, StoreError> {
    let store = &*engine.store;
    let mut by_project: HashMap<i64, Vec<(i64, String, RuleDef)>> = HashMap::new();
    for row in store.trigger_rules(None).await? {
        if row.status != TriggerStatus::Live {
            continue;
        }
        let Ok(def) = super::definition(&row) else { continue };
        if matches!(def.when, When::HealthAlert { .. }) {
            by_project.entry(row.project_id).or_default().push((row.id, row.key, def));
        }
    }
    let mut out = Checked::default();
    for (project, rules) in by_project {
        let Some(snap) = engine.journeys.index.snapshot(project) else {
            out.unloaded += 1;
            continue;
        };
        let ids: HashMap<String, i64> =
            store.touchpoints(project).await?.into_iter().map(|t| (t.touchpoint.key, t.id)).collect();
        let Some(p) = store.project(project).await? else { continue };
        let (clock, today) = days_clock(&p.timezone, now, 1);
        let day = today - 1;
        let n = snap.dict.touchpoints.len();
        let (set, dict) = (snap.set.clone(), snap.dict.clone());
        let family = tokio::task::spawn_blocking(move || health::families(&set, n, day..day + 1, &clock))
            .await
            .map_err(|e| StoreError::Backend(format!("the health check stopped: {e}")))?
            .pop()
            .map(|(_, f)| f)
            .unwrap_or_default();
        let mut firings = Vec::new();
        for (rule_id, key, def) in &rules {
            for (t, q) in &family {
                let q = *q;
                let tp = &dict.touchpoints[t.tp as usize];
                let up = t.z > 0.0;
                if !wanted(&def.when, t, q, &tp.key) {
                    continue;
                }
                let Some(&tp_id) = ids.get(&tp.key) else { continue };
                let tested_day = if t.metric == Metric::Volume { day } else { day - 1 };
                let date = touchpoint_core::event::format_date(tested_day * DAY_MS);
                firings.push(NewFiring {
                    id: new_id(),
                    project_id: project,
                    rule_id: *rule_id,
                    customer_id: 0,
                    event_id: alert_id(tested_day, tp_id, t.metric),
                    event_ms: now,
                    state: FiringState::Pending,
                    held_out: false,
                    next_ms: now,
                    reason: None,
                    payload: json!({
                        "rule": key,
                        "alert": {
                            "touchpoint": tp.key,
                            "name": tp.names.en,
                            "names": tp.names,
                            "metric": t.metric.as_str(),
                            "direction": if up { "up" } else { "down" },
                            "day": date,
                            "observed": t.observed,
                            "expected": t.expected,
                            "n": t.n,
                            "baseline_n": t.baseline_n,
                            "baseline_days": health::BASELINE_DAYS,
                            "z": t.z,
                            "p": t.p,
                            "q": q,
                            "p_text": format!("{:.2e}", t.p),
                            "q_text": format!("{:.2e}", q),
                        },
                        "event": {
                            "name": "Touchpoint health alert",
                            "touchpoint": tp.key,
                            "time": touchpoint_core::event::format_time(now),
                            "properties": {},
                        },
                        "customer": {"id": null, "user_id": null},
                    })
                    .into(),
                    decided_ms: now,
                });
            }
        }
        if !firings.is_empty() {
            let new = store.decide_firings(&firings, None).await?;
            out.recorded += new.iter().filter(|&&b| b).count();
        }
    }
    Ok(out)
}
