//! The listening analyses over stored responses, for `POST /api/listening/{kind}` and
//! `touchpoint report nps | csat | ces | rating | drivers | text | gaps | benchmark |
//! touchpoints`: load a survey's complete responses (every version; answers keep the
//! meaning of the version they were given to), filter them, and hand plain numbers to the
//! pure functions of `touchpoint-listen`.

use crate::auth::ApiCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use touchpoint_engine::listening::*;

/// The answer of `POST /api/listening/{kind}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListenResponse {
    /// The analysis.
    pub kind: String,
    /// Its result.
    #[schema(value_type = Object)]
    pub result: Value,
}

/// `POST /api/listening/{kind}`: NPS, CSAT, CES, rating means (with intervals, segments
/// tested against the rest, trends), key drivers, expectation gaps, open-text terms,
/// benchmarks, satisfaction per touchpoint.
#[utoipa::path(post, path = "/api/listening/{kind}", tag = "listening", operation_id = "analyze_listening", params(("kind" = String, Path, description = "nps, csat, ces, rating, drivers, gaps, text, benchmark or touchpoints")), request_body = ListenQuery, responses((status = 200, body = ListenResponse), (status = 400, description = "Bad query, with the field")), security(("bearer" = [])))]
pub async fn analyze(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(kind): ApiPath<String>,
    ApiJson(q): ApiJson<ListenQuery>,
) -> Result<Json<ListenResponse>, ApiError> {
    let result = run(&*s.store, key.project_id, ListenAnalysis::parse(&kind)?, &q).await?;
    Ok(Json(ListenResponse { kind, result }))
}

/// `POST /api/benchmarks` body: CSV `metric,segment,value,n[,se]`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkImport {
    /// Where the figures come from.
    pub source: String,
    /// The table, as CSV with a header.
    pub csv: String,
}

/// `POST /api/benchmarks`: import an external benchmark table.
#[utoipa::path(post, path = "/api/benchmarks", tag = "listening", request_body = BenchmarkImport, responses((status = 200, description = "Rows stored"), (status = 400, description = "Bad table, with line and column")), security(("bearer" = [])))]
pub async fn post_benchmarks(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(b): ApiJson<BenchmarkImport>,
) -> Result<Json<Value>, ApiError> {
    let n = import_benchmarks(&*s.store, key.project_id, &b.source, &b.csv).await?;
    Ok(Json(json!({"stored": n})))
}
