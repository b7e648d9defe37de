//! Journey analyses, once for every front end: [`run_plan`] runs an analysis plan
//! (filter, breakdown, query) on a journey snapshot with the project's time zone and a
//! clock, and says which clock and time range it used; `POST /api/analytics/{kind}` and
//! `touchpoint report` only translate. The kernels run on a blocking thread, in parallel
//! over customers; ingest goes on meanwhile.
//!
//! **The clock.** "Now" (what churn and exits are counted against) is the wall clock
//! unless the query names it (`now_s`). It is never taken from the data: one test event
//! dated in the future must not change every churn figure.

use crate::auth::ApiCaller;
use crate::error::{ApiError, Error};
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use touchpoint_analytics::plan::{GroupResult, Plan};
use touchpoint_engine::analyses::*;

/// What the snapshot an answer was computed on held.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotInfo {
    /// Customers.
    pub customers: usize,
    /// Touchpoint events.
    pub events: usize,
    /// How old it was, in milliseconds (at most about 250 ms plus the time to fold new events in).
    pub age_ms: i64,
}

/// An analysis' answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnalysisResponse {
    /// The analysis.
    pub kind: String,
    /// Milliseconds the analysis took.
    pub took_ms: f64,
    /// The data it saw.
    pub snapshot: SnapshotInfo,
    /// The clock and time range it used.
    pub clock: ClockInfo,
    /// One result per breakdown group.
    #[schema(value_type = [Object])]
    pub groups: Vec<GroupResult>,
}

/// `POST /api/analytics/{kind}`
#[utoipa::path(post, path = "/api/analytics/{kind}", tag = "analytics", operation_id = "analyze_journeys",
    params(("kind" = String, Path, description = "journey-map, funnel, transitions, sankey, retention, churn or attribution")),
    request_body(content = Object, description = "A plan: `{\"filter\": {…}, \"breakdown\": {\"by\": \"first_touch_channel\"}, \"query\": {…}}`"),
    responses((status = 200, body = AnalysisResponse), (status = 400, description = "Unknown analysis or invalid query, with the reason")),
    security(("bearer" = [])))]
pub async fn analyze(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(kind): ApiPath<String>,
    ApiJson(plan): ApiJson<Plan>,
) -> Result<Json<AnalysisResponse>, ApiError> {
    let project = s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?;
    let Some(snap) = s.journeys.index.snapshot(key.project_id) else {
        return Err(Error::not_found("this project has no journey index yet").into());
    };
    let now_ms = touchpoint_store::now_ms();
    let age_ms = now_ms - snap.made_ms;
    let started = std::time::Instant::now();
    let a = run_plan(&*s.store, &project, snap, &kind, plan, now_ms.div_euclid(1000)).await?;
    Ok(Json(AnalysisResponse {
        kind,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        snapshot: SnapshotInfo { customers: a.customers, events: a.events, age_ms },
        clock: a.clock,
        groups: a.groups,
    }))
}
