//! `POST /api/analytics/{kind}`: run an analysis plan (filter, breakdown, query) on the
//! live journey index's current snapshot. The kernels run on a blocking thread, in
//! parallel over customers; ingest goes on meanwhile.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;
use std::collections::HashMap;
use touchpoint_analytics::plan::{self, GroupResult, Plan};
use touchpoint_analytics::select::{Breakdown, Traits};
use touchpoint_store::Store;

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
    /// One result per breakdown group.
    #[schema(value_type = [Object])]
    pub groups: Vec<GroupResult>,
}

/// The trait values a plan's filter and breakdown need.
pub async fn traits_for(store: &dyn Store, project: i64, plan: &Plan) -> Result<Traits, touchpoint_store::StoreError> {
    let mut keys = plan.filter.trait_keys();
    if let Some(Breakdown::Trait(k)) = &plan.breakdown {
        keys.push(k.clone());
    }
    let mut traits = Traits::new();
    for k in keys {
        let values: HashMap<_, _> = store.trait_values(project, &k).await?.into_iter().collect();
        traits.insert(k, values);
    }
    Ok(traits)
}

/// `POST /api/analytics/{kind}`
#[utoipa::path(post, path = "/api/analytics/{kind}", tag = "analytics",
    params(("kind" = String, Path, description = "journey-map, funnel, transitions, sankey, retention, churn or attribution")),
    request_body(content = Object, description = "A plan: `{\"filter\": {…}, \"breakdown\": {\"by\": \"first_touch_channel\"}, \"query\": {…}}`"),
    responses((status = 200, body = AnalysisResponse), (status = 400, description = "Unknown analysis or invalid query, with the reason")),
    security(("bearer" = [])))]
pub async fn analyze(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(kind): Path<String>,
    ApiJson(plan): ApiJson<Plan>,
) -> Result<Json<AnalysisResponse>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let traits = traits_for(&*s.store, key.project_id, &plan).await?;
    let Some(snap) = s.journeys.index.snapshot(key.project_id) else {
        return Err(ApiError::NotFound("this project has no journey index yet".into()));
    };
    let age_ms = touchpoint_store::now_ms() - snap.made_ms;
    let kind2 = kind.clone();
    let started = std::time::Instant::now();
    let timezone = s.store.project(key.project_id).await?.map(|p| p.timezone).unwrap_or_else(|| "UTC".into());
    let mut plan = plan;
    let (groups, customers, events) = tokio::task::spawn_blocking(move || {
        crate::tz::localize(&kind2, &mut plan.query, &timezone, || crate::tz::span_of(&snap.set));
        let r = plan::execute(&kind2, &snap.set, &snap.dict, &plan, &traits);
        (r, snap.set.customer_count(), snap.set.event_count())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("analysis task: {e}")))?;
    let mut groups = groups.map_err(|e| ApiError::invalid("invalid_query", Some("query".into()), e.0))?;
    if kind == "journey-map" {
        let by_tp = crate::listening::satisfaction_by_touchpoint(&*s.store, key.project_id).await?;
        for g in &mut groups {
            crate::listening::fill_journey_map(&mut g.report, &by_tp);
        }
    }
    Ok(Json(AnalysisResponse {
        kind,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        snapshot: SnapshotInfo { customers, events, age_ms },
        groups,
    }))
}
