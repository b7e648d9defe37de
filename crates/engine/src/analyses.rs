//! Journey analyses, once for every front end: [`run_plan`] runs an analysis plan
//! (filter, breakdown, query) on a journey snapshot with the project's time zone and a
//! clock, and says which clock and time range it used; `POST /api/analytics/{kind}` and
//! `touchpoint report` only translate. The kernels run on a blocking thread, in parallel
//! over customers; ingest goes on meanwhile.
//!
//! **The clock.** "Now" (what churn and exits are counted against) is the wall clock
//! unless the query names it (`now_s`) or the filter's period ends before it (then its
//! last second). It is never taken from the data: one test event dated in the future must
//! not change every churn figure. Churn is silence longer than the project's horizon
//! (`churn_horizon_days`) unless the query names its own.

use crate::error::{Code, Error};
use serde::Serialize;
use std::collections::HashMap;
use touchpoint_analytics::index::Snapshot;
use touchpoint_analytics::plan::{
    AnalysisPlan, Context, Executor, GroupResult, NowFrom, Plan, PlanError, PlanErrorKind,
};
use touchpoint_analytics::select::Traits;
use touchpoint_core::event::format_time;
use touchpoint_store::Store;

/// The clock and the time range an answer used.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClockInfo {
    /// "Now" (ISO 8601, UTC): only events at or before it count; churn is silence up to it.
    pub now: String,
    /// Where "now" came from: `wall_clock`, `query` (the query's `now_s`) or `period_end`
    /// (the last second of a filter's period that ends before the wall clock).
    pub now_from: String,
    /// The project's time zone, in which days, weeks and months are counted.
    pub timezone: String,
    /// The first event the data holds (ISO 8601, UTC); none without events.
    pub events_from: Option<String>,
    /// The last event the data holds (ISO 8601, UTC); none without events.
    pub events_to: Option<String>,
    /// How much of churn by silence this answer can see (churn and the journey map only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence_seen: Option<SilenceSeen>,
}

/// How much of churn by silence (no touchpoint for the churn horizon) an answer can see:
/// what a reader must be told before comparing its churn with another period's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SilenceSeen {
    /// Everyone who went silent for the horizon can be seen.
    All,
    /// Churn over a period whose data begin less than one horizon before it: customers
    /// silent since before the data began are not seen, so churn by silence is too low.
    Partly,
    /// A journey map over a period that began less than one horizon before "now": nobody
    /// in it can have been silent that long yet, so its churn is only the churn
    /// touchpoints.
    None,
}

/// [`SilenceSeen`] for a typed plan on data that begin at `data_from_s`; `None` for the
/// analyses that do not count churn.
pub fn silence_seen(plan: &AnalysisPlan, data_from_s: Option<i64>) -> Option<SilenceSeen> {
    use touchpoint_analytics::plan::Analysis;
    match &plan.analysis {
        Analysis::JourneyMap(q) => Some(match plan.filter.from {
            Some(from) if from > q.now_s.saturating_sub(q.churn_horizon_s) => SilenceSeen::None,
            _ => SilenceSeen::All,
        }),
        Analysis::Churn(q) => Some(match (q.left_from_s, data_from_s) {
            (Some(from), Some(data)) if data > from.saturating_sub(q.churn_horizon_s) => SilenceSeen::Partly,
            _ => SilenceSeen::All,
        }),
        _ => None,
    }
}

/// An analysis run: its groups, the data it saw and the clock it used.
pub struct Analysis {
    /// One result per breakdown group.
    pub groups: Vec<GroupResult>,
    /// Customers in the snapshot.
    pub customers: usize,
    /// Touchpoint events in the snapshot.
    pub events: usize,
    /// The clock and time range.
    pub clock: ClockInfo,
}

/// Run `kind` with `plan` on a snapshot of `project`'s journeys, as of `wall_now_s` unless
/// the query names its own `now_s`. The plan is typed and checked first (before any work),
/// with "now" and the project's calendar; then the trait values its filter and breakdown
/// read are loaded, the snapshot executes it on a blocking thread, and the journey map
/// gets survey satisfaction per touchpoint.
pub async fn run_plan(
    store: &dyn Store,
    project: &touchpoint_store::Project,
    snap: Snapshot,
    kind: &str,
    plan: Plan,
    wall_now_s: i64,
) -> Result<Analysis, Error> {
    let span = crate::tz::span_of(&snap.set);
    let keys = plan.trait_keys();
    // The context lives only while the plan is typed (it is not Send; nothing awaits here).
    let mut typed = {
        let zone = project.timezone.as_str();
        let calendar = || match span {
            Some((from_s, to_s)) if zone != "UTC" => Some(crate::tz::clock(zone, from_s, to_s)),
            _ => None,
        };
        let ctx = Context {
            now_s: wall_now_s,
            clock: &calendar,
            churn_horizon_s: project.churn_horizon_days.saturating_mul(86_400),
        };
        AnalysisPlan::new(kind, plan, &ctx, &snap.dict, Traits::new()).map_err(plan_error)?
    };
    typed.traits = traits_for(store, project.id, &keys).await?;
    let clock = ClockInfo {
        now: format_time(typed.now_s.saturating_mul(1000)),
        now_from: match typed.now_from {
            NowFrom::WallClock => "wall_clock",
            NowFrom::Query => "query",
            NowFrom::PeriodEnd => "period_end",
        }
        .into(),
        timezone: project.timezone.clone(),
        events_from: span.map(|(from, _)| format_time(from * 1000)),
        events_to: snap.set.times.iter().max().map(|&t| format_time((snap.set.epoch_s + i64::from(t)) * 1000)),
        silence_seen: silence_seen(&typed, span.map(|(from, _)| from)),
    };
    let journey_map = matches!(typed.analysis, touchpoint_analytics::plan::Analysis::JourneyMap(_));
    let (groups, customers, events) = tokio::task::spawn_blocking(move || {
        let r = snap.execute(&typed);
        (r, snap.set.customer_count(), snap.set.event_count())
    })
    .await
    .map_err(|e| Error::internal(format!("analysis task: {e}")))?;
    let mut groups = groups.map_err(plan_error)?;
    if journey_map {
        let by_tp = crate::listening::satisfaction_by_touchpoint(store, project.id).await?;
        for g in &mut groups {
            crate::listening::fill_journey_map(&mut g.report, &by_tp);
        }
    }
    Ok(Analysis { groups, customers, events, clock })
}

/// A plan that cannot run, as an error: an analysis there is not, or a touchpoint the
/// project does not have (a step, a goal, a start), is not found — the request names
/// something that does not exist, as with an unknown survey; what the project's data does
/// not allow is not computable; anything else is the query's own mistake.
fn plan_error(e: PlanError) -> Error {
    match e.kind {
        PlanErrorKind::Unknown => Error::missing("query", e.message),
        PlanErrorKind::NotComputable => Error::refused(Code::NotComputable, Some("query".into()), e.message),
        PlanErrorKind::Invalid => Error::invalid(Code::InvalidQuery, Some("query".into()), e.message),
    }
}

/// The values of trait `keys` in a project.
pub async fn traits_for(
    store: &dyn Store,
    project: i64,
    keys: &[String],
) -> Result<Traits, touchpoint_store::StoreError> {
    let mut traits = Traits::new();
    for k in keys {
        let values: HashMap<_, _> = store.trait_values(project, k).await?.into_iter().collect();
        traits.insert(k.clone(), values);
    }
    Ok(traits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Class;
    use serde_json::json;
    use touchpoint_analytics::journeys::{Dictionary, JourneySet};

    /// What an answer says of churn by silence, from the period's start, the data's first
    /// event, "now" and the horizon (a day here): the journey map sees none of it over a
    /// period that began less than a horizon ago; churn sees part of it when the data
    /// begin less than a horizon before the period; the other analyses say nothing.
    #[test]
    fn silence_seen_says_what_a_period_can_show() {
        use touchpoint_analytics::plan::{AnalysisPlan, Context};
        const DAY: i64 = 86_400;
        let dict = Dictionary::from_catalog(&touchpoint_core::catalog::default_catalog());
        let now = 100 * DAY;
        let check = |kind: &str, from: Option<i64>, data_from: Option<i64>| {
            let mut plan = Plan::default();
            plan.filter.from = from;
            let ctx = Context { now_s: now, clock: &|| None, churn_horizon_s: DAY };
            let typed = AnalysisPlan::new(kind, plan, &ctx, &dict, Traits::new()).unwrap();
            silence_seen(&typed, data_from)
        };
        use SilenceSeen::{All, None as Nothing, Partly};
        for (kind, from, data_from, want) in [
            ("journey-map", None, Some(0), Some(All)),
            ("journey-map", Some(now - 2 * DAY), Some(0), Some(All)),
            ("journey-map", Some(now - DAY), Some(0), Some(All)),
            ("journey-map", Some(now - DAY + 1), Some(0), Some(Nothing)),
            ("churn", None, Some(90 * DAY), Some(All)),
            ("churn", Some(50 * DAY), Some(49 * DAY), Some(All)),
            ("churn", Some(50 * DAY), Some(49 * DAY + 1), Some(Partly)),
            ("churn", Some(50 * DAY), None, Some(All)),
            ("transitions", Some(50 * DAY), Some(49 * DAY + 1), None),
            ("retention", Some(now - 1), Some(0), None),
        ] {
            assert_eq!(check(kind, from, data_from), want, "{kind} from {from:?}, data from {data_from:?}");
        }
    }

    /// The kernels' own messages, classified: a key the project lacks is not found, what its
    /// data does not allow a conflict, the rest invalid.
    #[test]
    fn plan_errors_say_what_is_missing() {
        let catalog = touchpoint_core::catalog::default_catalog();
        let dict = Dictionary::from_catalog(&catalog);
        let no_goals = Dictionary {
            touchpoints: dict.touchpoints.iter().filter(|t| !t.conversion).cloned().collect(),
            stages: dict.stages.clone(),
        };
        let set = JourneySet { offsets: vec![0], ..Default::default() };
        let status = |kind: &str, dict: &Dictionary, query: serde_json::Value| {
            let plan = Plan { query, ..Default::default() };
            let e = touchpoint_analytics::plan::execute(kind, &set, dict, &plan, 0, &Default::default())
                .expect_err("an error");
            (plan_error(e).class(), kind.to_string())
        };
        for (kind, d, query, want) in [
            ("funnel", &dict, json!({"steps": ["nope"]}), Class::NotFound),
            ("sankey", &dict, json!({"start": "nope"}), Class::NotFound),
            ("retention", &dict, json!({"returning": "nope"}), Class::NotFound),
            ("retention", &dict, json!({"cohort": {"first_touchpoint": "nope"}}), Class::NotFound),
            ("journey-map", &dict, json!({"goal": "nope", "now_s": 0}), Class::NotFound),
            ("attribution", &dict, json!({"goal": "nope"}), Class::NotFound),
            ("attribution", &no_goals, json!({}), Class::NotFound),
            ("funnel", &dict, json!({"steps": []}), Class::Invalid),
            ("sankey", &dict, json!({}), Class::Invalid),
            ("transitions", &dict, json!({"top": 0}), Class::Invalid),
            ("horoscope", &dict, json!({}), Class::NotFound),
        ] {
            assert_eq!(status(kind, d, query.clone()), (want, kind.to_string()), "{query}");
        }
    }
}
