//! The self-service report's use case: the project's help-centre steps and assisted
//! contacts put through `touchpoint_selfserve::report` (self-service score, deflection,
//! search success, the top failed searches, article helpfulness, the cost saved).
//!
//! Where the steps come from: the live journey index says which customers used the help
//! centre (`kb-search`, `kb-article`, `kb-helpful`, `kb-not-helpful`) and when every
//! customer had an assisted contact (a touchpoint of the phone or chat channel, or a
//! request opened in the portal); the
//! events of the customers who used the help centre (theirs and those merged into them)
//! give each step's query, result count and article. The requests opened in the period
//! give the time to resolution (median and 90th percentile), and the answers to a CES
//! survey asked when a request was resolved the customer effort.

use crate::error::{Code, Error};
use crate::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use touchpoint_core::catalog::{
    Channel, KB_ARTICLE_TP, KB_HELPFUL_TP, KB_NOT_HELPFUL_TP, KB_SEARCH_TP, REQUEST_OPENED_TP, REQUEST_RESOLVED_TP,
};
use touchpoint_core::ProjectId;
use touchpoint_selfserve::report::{report, Options, Report, Step, StepKind};
use touchpoint_store::now_ms;
use touchpoint_store::service::RequestFilter;

/// The longest period a report covers, in days.
pub const MAX_DAYS: i64 = 3660;
/// The help centre's touchpoints the report reads.
const PORTAL_KEYS: [&str; 4] = [KB_SEARCH_TP, KB_ARTICLE_TP, KB_HELPFUL_TP, KB_NOT_HELPFUL_TP];
/// Customers whose events are read at once.
const BATCH: usize = 256;

/// What the report takes (the API's query string, the CLI's flags).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportInput {
    /// The last N days (default 90).
    pub days: Option<i64>,
    /// An episode is deflected when no assisted contact follows within this many days
    /// (default 7).
    pub within_days: Option<i64>,
    /// What an assisted contact costs (default 8.0).
    pub cost_assisted: Option<f64>,
    /// What a self-service episode costs (default 0.10).
    pub cost_self: Option<f64>,
    /// How many failed searches to list (default 10, at most 100).
    pub top: Option<usize>,
}

/// The report with the titles of its articles.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SelfServiceReport {
    /// The report (see `touchpoint_selfserve::report`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub report: Report,
    /// The article titles by id, for the articles listed.
    pub titles: HashMap<i64, String>,
    /// The service requests opened in the period and how long they took to resolve.
    pub resolution: Resolution,
    /// Customer effort after a resolved request: the CES (1–7, lower is easier) of the
    /// answers to every survey with a CES question asked at `request-resolved` (a trigger
    /// rule on that touchpoint sends it) in the period, with its n and 95 % interval;
    /// `null` without an answer.
    #[schema(value_type = Option<Object>)]
    pub effort: Option<touchpoint_listen::metrics::MetricResult>,
    /// The period's first moment, ms since the epoch.
    pub from_ms: i64,
    /// Its end (now).
    pub to_ms: i64,
}

/// Time to resolution of the requests opened in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    /// Requests opened.
    pub requests: u64,
    /// Of them, resolved (or closed after being resolved).
    pub resolved: u64,
    /// Of them, not resolved yet.
    pub unresolved: u64,
    /// The median hours from opening to resolution (nearest rank), with at least one.
    pub median_hours: Option<f64>,
    /// The 90th percentile (nearest rank).
    pub p90_hours: Option<f64>,
}

/// The `q`-quantile of sorted values by nearest rank (the smallest value with at least
/// `q` of the values at or below it).
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Time to resolution of requests (each its opening and resolution, ms).
pub fn resolution(requests: &[(i64, Option<i64>)]) -> Resolution {
    let mut hours: Vec<f64> =
        requests.iter().filter_map(|&(o, r)| r.map(|r| (r - o).max(0) as f64 / 3_600_000.0)).collect();
    hours.sort_by(f64::total_cmp);
    let round = |h: f64| (h * 100.0).round() / 100.0;
    Resolution {
        requests: requests.len() as u64,
        resolved: hours.len() as u64,
        unresolved: (requests.len() - hours.len()) as u64,
        median_hours: nearest_rank(&hours, 0.5).map(round),
        p90_hours: nearest_rank(&hours, 0.9).map(round),
    }
}

/// Check the input into options and the period's start.
fn options(input: &ReportInput, now: i64) -> Result<(Options, i64), Error> {
    let bad = |field: &str, msg: &str| Error::invalid(Code::InvalidQuery, Some(field.into()), msg.to_string());
    let days = input.days.unwrap_or(90);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(bad("days", "days is 1 to 3660"));
    }
    let within = input.within_days.unwrap_or(7);
    if !(1..=365).contains(&within) {
        return Err(bad("within_days", "within_days is 1 to 365"));
    }
    let cost = |field: &str, v: Option<f64>, default: f64| match v {
        None => Ok(default),
        Some(c) if c.is_finite() && (0.0..=1e9).contains(&c) => Ok(c),
        Some(_) => Err(bad(field, "a cost is a number from 0 to 1 000 000 000")),
    };
    let top = input.top.unwrap_or(10);
    if !(1..=100).contains(&top) {
        return Err(bad("top", "top is 1 to 100"));
    }
    let o = Options {
        within_ms: within * 86_400_000,
        cost_assisted: cost("cost_assisted", input.cost_assisted, 8.0)?,
        cost_self: cost("cost_self", input.cost_self, 0.10)?,
        top,
        ..Options::default()
    };
    Ok((o, now - days * 86_400_000))
}

/// The self-service report of a project.
pub async fn self_service(s: &Engine, project: ProjectId, input: &ReportInput) -> Result<SelfServiceReport, Error> {
    let now = now_ms();
    let (o, from_ms) = options(input, now)?;
    let mut steps: Vec<Step> = vec![];
    let mut portal_customers: Vec<i64> = vec![];
    if let Some(snap) = s.journeys.index.snapshot(project) {
        let dict = &snap.dict;
        let portal: HashSet<_> = PORTAL_KEYS.iter().filter_map(|k| dict.find(k)).collect();
        let assisted: HashSet<_> = (0..dict.touchpoints.len())
            .map(|i| i as touchpoint_analytics::Tp)
            .filter(|&t| {
                matches!(dict.get(t).channel, Channel::Phone | Channel::Chat) || dict.get(t).key == REQUEST_OPENED_TP
            })
            .collect();
        for j in snap.set.iter() {
            let mut used = false;
            for (&t, tp) in j.times.iter().zip(j.touchpoints) {
                let ms = (snap.set.epoch_s + i64::from(t)) * 1000;
                if ms < from_ms {
                    continue;
                }
                if assisted.contains(tp) {
                    steps.push(Step { customer: j.customer, t_ms: ms, kind: StepKind::Assisted });
                }
                used |= portal.contains(tp);
            }
            if used {
                portal_customers.push(j.customer);
            }
        }
    }
    // The help-centre steps, with what they were about, from the events.
    let kinds: HashMap<i64, &str> = s
        .store
        .touchpoints(project)
        .await?
        .into_iter()
        .filter_map(|t| PORTAL_KEYS.into_iter().find(|k| *k == t.touchpoint.key).map(|k| (t.id, k)))
        .collect();
    for batch in portal_customers.chunks(BATCH) {
        let mut owner: HashMap<i64, i64> = HashMap::new();
        for &c in batch {
            for id in s.store.merged_ids(c).await? {
                owner.insert(id, c);
            }
        }
        let ids: Vec<i64> = owner.keys().copied().collect();
        for e in s.store.customer_events(&ids, None, usize::MAX).await? {
            let Some(kind) = e.touchpoint_id.and_then(|t| kinds.get(&t)) else { continue };
            if e.timestamp < from_ms {
                continue;
            }
            let props: Value =
                serde_json::from_str::<Value>(&e.body).ok().map(|b| b["properties"].clone()).unwrap_or_default();
            let article = props["article_id"].as_i64().unwrap_or(0);
            let kind = match *kind {
                KB_SEARCH_TP => StepKind::Search {
                    query: props["query"].as_str().unwrap_or_default().to_string(),
                    results: props["results"].as_u64().unwrap_or(0),
                    lang: props["lang"].as_str().and_then(touchpoint_core::Lang::parse),
                },
                KB_ARTICLE_TP => StepKind::Article { id: article },
                KB_HELPFUL_TP => StepKind::Rated { id: article, helpful: true },
                _ => StepKind::Rated { id: article, helpful: false },
            };
            let customer = owner.get(&e.customer_id).copied().unwrap_or(e.customer_id);
            steps.push(Step { customer, t_ms: e.timestamp, kind });
        }
    }
    let r =
        tokio::task::spawn_blocking(move || report(&steps, &o)).await.map_err(|e| Error::internal(e.to_string()))?;
    let titles = s
        .store
        .articles(project)
        .await?
        .into_iter()
        .filter(|a| r.articles.iter().any(|x| x.id == a.id))
        .map(|a| (a.id, a.draft.title))
        .collect();
    let mut requests = vec![];
    let mut before = None;
    loop {
        let filter = RequestFilter { before_id: before, ..Default::default() };
        let page = s.store.requests(project, &filter, 1000).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        let done = page.len() < 1000 || last.created_ms < from_ms;
        requests.extend(page.iter().filter(|r| r.created_ms >= from_ms).map(|r| (r.created_ms, r.resolved_ms)));
        if done {
            break;
        }
    }
    let effort = effort_after_resolution(s, project, from_ms).await?;
    Ok(SelfServiceReport { report: r, titles, resolution: resolution(&requests), effort, from_ms, to_ms: now })
}

/// The CES of the answers given at `request-resolved` since `from_ms` (see
/// [`SelfServiceReport::effort`]).
async fn effort_after_resolution(
    s: &Engine,
    project: ProjectId,
    from_ms: i64,
) -> Result<Option<touchpoint_listen::metrics::MetricResult>, Error> {
    use touchpoint_listen::metrics::{compute, Metric, Obs};
    use touchpoint_listen::survey::{QuestionKind, SurveyDef};
    let mut obs = vec![];
    for row in s.store.surveys(project).await? {
        let Ok(def) = SurveyDef::parse(row.definition.clone()) else { continue };
        let Some(q) = def.questions.iter().find(|q| matches!(q.kind, QuestionKind::Ces)) else { continue };
        for r in crate::surveys::all_responses(&*s.store, &row, true).await? {
            let at = r.response.at_ms.unwrap_or(r.created_ms);
            if at < from_ms || r.response.touchpoint.as_deref() != Some(REQUEST_RESOLVED_TP) {
                continue;
            }
            if let Some(v) = r.response.answers[&q.id]["score"].as_f64() {
                obs.push(Obs { value: v, weight: r.response.weight });
            }
        }
    }
    Ok(compute(Metric::Ces, &obs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_times_by_nearest_rank() {
        let h = 3_600_000;
        let check = |reqs: &[(i64, Option<i64>)], want: (u64, u64, Option<f64>, Option<f64>)| {
            let r = resolution(reqs);
            assert_eq!((r.requests, r.resolved, r.median_hours, r.p90_hours), want, "{reqs:?}");
            assert_eq!(r.unresolved, r.requests - r.resolved);
        };
        check(&[], (0, 0, None, None));
        check(&[(0, None)], (1, 0, None, None));
        check(&[(0, Some(2 * h))], (1, 1, Some(2.0), Some(2.0)));
        let ten: Vec<(i64, Option<i64>)> = (1..=10).map(|i| (0, Some(i * h))).collect();
        check(&ten, (10, 10, Some(5.0), Some(9.0)));
        check(&[(0, Some(h)), (0, Some(3 * h)), (5, None)], (3, 2, Some(1.0), Some(3.0)));
        check(&[(h, Some(0))], (1, 1, Some(0.0), Some(0.0)));
    }
}
