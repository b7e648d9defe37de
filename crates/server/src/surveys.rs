//! The survey admin API (secret key): create, edit, publish, close and export surveys,
//! create invitations, post responses collected elsewhere, and import benchmark tables.
//! Also the one place that turns a completed response into a `Survey Answered` event in the
//! customer's journey ([`record_in_journey`]), used by the pages and the API alike.

use crate::auth::ApiCaller;
use crate::error::{ApiError, Code, Error};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use touchpoint_engine::surveys::*;
use touchpoint_store::listen::{SurveyRow, SurveyStatus};

/// A survey as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SurveyView {
    /// Stable key.
    pub key: String,
    /// `draft`, `live` or `closed`.
    #[schema(value_type = String)]
    pub status: SurveyStatus,
    /// Current version.
    pub version: i64,
    /// The open link anyone can answer (one response per browser).
    pub open_url: String,
    /// The current definition.
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// The base URL of links: the configured public URL, or the request's Host.
pub fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    if !s.config.public_url.is_empty() {
        return s.config.public_url.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&s.config.listen);
    format!("http://{host}")
}

fn view(s: &AppState, headers: &HeaderMap, r: SurveyRow) -> SurveyView {
    SurveyView {
        open_url: format!("{}/o/{}", base_url(s, headers), r.public_id),
        key: r.key,
        status: r.status,
        version: r.version,
        definition: r.definition,
    }
}

async fn find(s: &AppState, project: i64, key: &str) -> Result<SurveyRow, ApiError> {
    Ok(find_survey(&*s.store, project, key).await?)
}

/// `GET /api/surveys`
#[utoipa::path(get, path = "/api/surveys", tag = "surveys", responses((status = 200, body = [SurveyView])), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
) -> Result<Json<Vec<SurveyView>>, ApiError> {
    let rows = s.store.surveys(key.project_id).await?;
    Ok(Json(rows.into_iter().map(|r| view(&s, &headers, r)).collect()))
}

/// `POST /api/surveys`: create a draft.
#[utoipa::path(post, path = "/api/surveys", tag = "surveys", request_body = NewSurvey, responses((status = 200, body = SurveyView), (status = 400, description = "Invalid definition, with the field"), (status = 409, description = "Key taken")), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<NewSurvey>,
) -> Result<Json<SurveyView>, ApiError> {
    let row = create_survey(&*s.store, key.project_id, input).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `GET /api/surveys/{key}`
#[utoipa::path(get, path = "/api/surveys/{key}", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView), (status = 404, description = "No such survey")), security(("bearer" = [])))]
pub async fn get_one(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `PUT /api/surveys/{key}`: edit (a live survey gets a new version).
#[utoipa::path(put, path = "/api/surveys/{key}", tag = "surveys", params(("key" = String, Path)), request_body = Object, responses((status = 200, body = SurveyView), (status = 400, description = "Invalid or incompatible definition")), security(("bearer" = [])))]
pub async fn edit(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    ApiJson(definition): ApiJson<Value>,
) -> Result<Json<SurveyView>, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    let row = edit_survey(&*s.store, &row, definition).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `POST /api/surveys/{key}/publish`: start taking answers.
#[utoipa::path(post, path = "/api/surveys/{key}/publish", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView)), security(("bearer" = [])))]
pub async fn publish(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    set_status(s, key, headers, survey, SurveyStatus::Live).await
}

/// `POST /api/surveys/{key}/close`: stop taking answers.
#[utoipa::path(post, path = "/api/surveys/{key}/close", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView)), security(("bearer" = [])))]
pub async fn close(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    set_status(s, key, headers, survey, SurveyStatus::Closed).await
}

async fn set_status(
    s: AppState,
    key: crate::auth::Caller,
    headers: HeaderMap,
    survey: String,
    status: SurveyStatus,
) -> Result<Json<SurveyView>, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    let row = s.store.set_survey_status(row.id, status).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `POST /api/surveys/{key}/invitations` body: a JSON object, or CSV with a header
/// `customer[,touchpoint][,lang]` (Content-Type `text/csv`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Whom to invite.
    pub customers: Vec<InviteInput>,
    /// Days until the links expire (default 14).
    pub expires_days: Option<f64>,
}

/// `POST /api/surveys/{key}/invitations`: signed single-use links, from JSON or CSV.
#[utoipa::path(post, path = "/api/surveys/{key}/invitations", tag = "surveys", params(("key" = String, Path)), request_body = InviteRequest, responses((status = 200, body = [InviteLink]), (status = 400, description = "Bad list, with the line or field")), security(("bearer" = [])))]
pub async fn invitations(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Vec<InviteLink>>, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    let is_csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    let text =
        std::str::from_utf8(&body).map_err(|_| Error::invalid(Code::InvalidBody, None, "the body is not UTF-8"))?;
    let (customers, days) = if is_csv {
        (parse_invite_csv(text)?, 14.0)
    } else {
        let req: InviteRequest = serde_json::from_str(text)
            .map_err(|e| Error::invalid(Code::InvalidJson, None, format!("the body is not a valid request: {e}")))?;
        (req.customers, req.expires_days.unwrap_or(14.0))
    };
    Ok(Json(create_invitations(&*s.store, &row, &customers, days, &base_url(&s, &headers)).await?))
}

/// `POST /api/surveys/{key}/responses`: responses collected elsewhere.
#[utoipa::path(post, path = "/api/surveys/{key}/responses", tag = "surveys", params(("key" = String, Path)), request_body = [ResponseInput], responses((status = 200, body = ResponsesReceipt), (status = 400, description = "All rejected, with fields")), security(("bearer" = [])))]
pub async fn post_responses(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(survey): ApiPath<String>,
    ApiJson(inputs): ApiJson<Vec<ResponseInput>>,
) -> Result<Json<ResponsesReceipt>, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    let def = definition(&row)?;
    let n = inputs.len();
    let (ok, failed) = validate_responses(&row, &def, inputs, "api");
    if ok.is_empty() && !failed.is_empty() {
        let message = format!("all {n} responses were rejected");
        let field = Some("responses".into());
        // Answers that do not fit the survey's questions conflict with its definition (a
        // 409); a response that is wrong by itself (its weight, its time) is a bad request.
        let code = match failed.iter().any(|f| f.field.contains(".answers")) {
            true => Code::InvalidResponses,
            false => Code::InvalidResponse,
        };
        return Err(Error::invalid(code, field, message).with_failed(failed).into());
    }
    let receipt = store_responses(&s, &row, &def, ok).await?;
    Ok(Json(ResponsesReceipt { failed, ..receipt }))
}

/// `?format=csv|json`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `json`.
    pub format: Option<String>,
    /// Include partial (unfinished) responses.
    pub partial: Option<bool>,
}

/// `GET /api/surveys/{key}/responses`: export (CSV that spreadsheets open safely, or JSON).
#[utoipa::path(get, path = "/api/surveys/{key}/responses", tag = "surveys", params(("key" = String, Path), ExportQuery), responses((status = 200, description = "CSV or JSON")), security(("bearer" = [])))]
pub async fn export(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(survey): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let row = find(&s, key.project_id, &survey).await?;
    let partial = q.partial.unwrap_or(false);
    match q.format.as_deref().unwrap_or("csv") {
        "csv" => {
            let body = export_csv(&*s.store, &row, partial).await?;
            let mut resp = body.into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-responses.csv\"", row.key)) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(resp)
        }
        "json" => Ok(Json(all_responses(&*s.store, &row, !partial).await?).into_response()),
        other => Err(Error::invalid(
            Code::InvalidQuery,
            Some("format".into()),
            format!("format: {other:?} is not csv or json"),
        )
        .into()),
    }
}
