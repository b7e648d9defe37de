//! The survey admin API (secret key): create, edit, publish, close and export surveys,
//! create invitations, post responses collected elsewhere, and import benchmark tables.
//! Also the one place that turns a completed response into a `Survey Answered` event in the
//! customer's journey ([`record_in_journey`]), used by the pages and the API alike.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use touchpoint_core::catalog::SURVEY_EVENT;
use touchpoint_core::event::{format_time, parse_time_str, ParseContext};
use touchpoint_core::{Event, Lang, Limits};
use touchpoint_listen::invite::{self, Claims};
use touchpoint_listen::survey::{Answers, QuestionKind, SurveyDef};
use touchpoint_store::listen::{NewInvitation, NewResponse, SurveyRow, SurveyStatus};
use touchpoint_store::writer::Submission;
use touchpoint_store::{now_ms, Store};

use crate::error::{ApiError, ItemError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;

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

/// Parse a stored definition (written by us, so a failure is corruption).
pub fn definition(r: &SurveyRow) -> Result<SurveyDef, ApiError> {
    serde_json::from_value(r.definition.clone())
        .map_err(|e| ApiError::Internal(format!("survey {} has an unreadable definition: {e}", r.id)))
}

fn bad_definition(e: touchpoint_listen::survey::FieldError) -> ApiError {
    ApiError::invalid("invalid_survey", Some(format!("definition.{}", e.field)), format!("definition.{e}"))
}

async fn find(s: &AppState, project: i64, key: &str) -> Result<SurveyRow, ApiError> {
    find_survey(&*s.store, project, key).await
}

/// The project's survey `key`, or a 404 that names the nearest survey keys (shared with
/// the listening analyses and the CLI).
pub async fn find_survey(store: &dyn Store, project: i64, key: &str) -> Result<SurveyRow, ApiError> {
    if let Some(row) = store.survey_by_key(project, key).await? {
        return Ok(row);
    }
    let all = store.surveys(project).await?;
    let hint = touchpoint_core::suggest::hint(key, all.iter().map(|s| s.key.as_str()));
    Err(ApiError::missing("survey", format!("no survey {key:?}{hint}")))
}

/// `GET /api/surveys`
#[utoipa::path(get, path = "/api/surveys", tag = "surveys", responses((status = 200, body = [SurveyView])), security(("bearer" = [])))]
pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<SurveyView>>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let rows = s.store.surveys(key.project_id).await?;
    Ok(Json(rows.into_iter().map(|r| view(&s, &headers, r)).collect()))
}

/// What `POST /api/surveys` takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    /// Stable key (letters, digits, `-`, `_`).
    pub key: String,
    /// The definition; or leave it out and give `template`.
    #[schema(value_type = Object)]
    pub definition: Option<Value>,
    /// `nps`: a ready NPS survey in en/cs/pl with follow-ups.
    pub template: Option<String>,
    /// The touchpoint that triggers it (with `template`).
    pub trigger: Option<String>,
}

/// Create a draft survey from a definition or a template (shared with the CLI).
pub async fn create_survey(store: &dyn Store, project: i64, input: NewSurvey) -> Result<SurveyRow, ApiError> {
    if input.key.is_empty()
        || input.key.len() > 64
        || !input.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::invalid(
            "invalid_survey",
            Some("key".into()),
            "key: use letters, digits, - and _ (at most 64)",
        ));
    }
    let def = match (input.definition, input.template.as_deref()) {
        (Some(d), None) => SurveyDef::parse(d).map_err(bad_definition)?,
        (None, Some("nps")) => touchpoint_listen::survey::nps_template(input.trigger.as_deref()),
        (None, Some(other)) => {
            return Err(ApiError::invalid(
                "invalid_survey",
                Some("template".into()),
                format!("template: unknown template {other:?}; known: nps"),
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_survey",
                Some("definition".into()),
                "give either definition or template",
            ))
        }
    };
    let value = serde_json::to_value(&def).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(store.create_survey(project, &input.key, &value).await?)
}

/// `POST /api/surveys`: create a draft.
#[utoipa::path(post, path = "/api/surveys", tag = "surveys", request_body = NewSurvey, responses((status = 200, body = SurveyView), (status = 400, description = "Invalid definition, with the field"), (status = 409, description = "Key taken")), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<NewSurvey>,
) -> Result<Json<SurveyView>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = create_survey(&*s.store, key.project_id, input).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `GET /api/surveys/{key}`
#[utoipa::path(get, path = "/api/surveys/{key}", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView), (status = 404, description = "No such survey")), security(("bearer" = [])))]
pub async fn get_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = find(&s, key.project_id, &survey).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// Change a survey's definition: in place while a draft; a new version once live, refused
/// when it would change the meaning of answers given to any earlier version.
pub async fn edit_survey(store: &dyn Store, row: &SurveyRow, new: Value) -> Result<SurveyRow, ApiError> {
    let def = SurveyDef::parse(new).map_err(bad_definition)?;
    if row.status != SurveyStatus::Draft {
        for (version, old) in store.survey_versions(row.id).await? {
            let old: SurveyDef = serde_json::from_value(old)
                .map_err(|e| ApiError::Internal(format!("survey {} v{version}: {e}", row.id)))?;
            // Well formed, but it does not fit the answers already given: a conflict.
            old.check_edit(&def).map_err(|e| {
                ApiError::refused(
                    "incompatible_edit",
                    Some(format!("definition.{}", e.field)),
                    format!("version {version}: {}", e.message),
                )
            })?;
        }
    }
    let value = serde_json::to_value(&def).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(store.update_survey(row.id, &value).await?)
}

/// `PUT /api/surveys/{key}`: edit (a live survey gets a new version).
#[utoipa::path(put, path = "/api/surveys/{key}", tag = "surveys", params(("key" = String, Path)), request_body = Object, responses((status = 200, body = SurveyView), (status = 400, description = "Invalid or incompatible definition")), security(("bearer" = [])))]
pub async fn edit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    ApiJson(definition): ApiJson<Value>,
) -> Result<Json<SurveyView>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = find(&s, key.project_id, &survey).await?;
    let row = edit_survey(&*s.store, &row, definition).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// `POST /api/surveys/{key}/publish`: start taking answers.
#[utoipa::path(post, path = "/api/surveys/{key}/publish", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView)), security(("bearer" = [])))]
pub async fn publish(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    set_status(s, headers, survey, SurveyStatus::Live).await
}

/// `POST /api/surveys/{key}/close`: stop taking answers.
#[utoipa::path(post, path = "/api/surveys/{key}/close", tag = "surveys", params(("key" = String, Path)), responses((status = 200, body = SurveyView)), security(("bearer" = [])))]
pub async fn close(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
) -> Result<Json<SurveyView>, ApiError> {
    set_status(s, headers, survey, SurveyStatus::Closed).await
}

async fn set_status(
    s: AppState,
    headers: HeaderMap,
    survey: String,
    status: SurveyStatus,
) -> Result<Json<SurveyView>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = find(&s, key.project_id, &survey).await?;
    let row = s.store.set_survey_status(row.id, status).await?;
    Ok(Json(view(&s, &headers, row)))
}

/// One invitation to make.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    /// The customer's user id (as sent in `userId`).
    pub customer: String,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// Language: en, cs, pl or any locale the survey has.
    pub lang: Option<String>,
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

/// A created invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteLink {
    /// Invitation id.
    pub id: i64,
    /// The customer.
    pub customer: String,
    /// The signed, single-use link.
    pub url: String,
    /// Expiry (ISO 8601).
    pub expires: String,
}

/// Parse a CSV list of customers to invite (header `customer[,touchpoint][,lang]`).
pub fn parse_invite_csv(text: &str) -> Result<Vec<InviteInput>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::invalid("invalid_csv", Some("line 1".into()), format!("line 1: {e}")))?
        .clone();
    let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
    let Some(c) = col("customer").or_else(|| col("user_id")).or_else(|| col("userId")) else {
        return Err(ApiError::invalid(
            "invalid_csv",
            Some("line 1".into()),
            "line 1: the header needs a `customer` column",
        ));
    };
    let (t, l) = (col("touchpoint"), col("lang"));
    let mut out = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec
            .map_err(|e| ApiError::invalid("invalid_csv", Some(format!("line {line}")), format!("line {line}: {e}")))?;
        let get = |j: Option<usize>| j.and_then(|j| rec.get(j)).filter(|v| !v.is_empty()).map(str::to_string);
        let customer = get(Some(c)).ok_or_else(|| {
            ApiError::invalid(
                "invalid_csv",
                Some(format!("line {line}")),
                format!("line {line}: the customer cell is empty"),
            )
        })?;
        out.push(InviteInput { customer, touchpoint: get(t), lang: get(l) });
    }
    Ok(out)
}

/// Create signed invitations (shared with the CLI).
pub async fn create_invitations(
    store: &dyn Store,
    row: &SurveyRow,
    customers: &[InviteInput],
    expires_days: f64,
    base: &str,
) -> Result<Vec<InviteLink>, ApiError> {
    if !(expires_days > 0.0 && expires_days <= 366.0) {
        return Err(ApiError::invalid(
            "invalid_invitation",
            Some("expires_days".into()),
            "expires_days: between 0 and 366",
        ));
    }
    for (i, c) in customers.iter().enumerate() {
        if c.customer.trim().is_empty() || c.customer.chars().count() > 256 {
            return Err(ApiError::invalid(
                "invalid_invitation",
                Some(format!("customers[{i}].customer")),
                format!("customers[{i}].customer: 1 to 256 characters"),
            ));
        }
        if let Some(l) = &c.lang {
            if l.len() > 12 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(ApiError::invalid(
                    "invalid_invitation",
                    Some(format!("customers[{i}].lang")),
                    format!("customers[{i}].lang: not a locale"),
                ));
            }
        }
    }
    let expires_ms = now_ms() + (expires_days * 86_400_000.0) as i64;
    let items: Vec<NewInvitation> = customers
        .iter()
        .map(|c| NewInvitation {
            customer: c.customer.clone(),
            touchpoint: c.touchpoint.clone(),
            lang: c.lang.clone(),
            expires_ms,
        })
        .collect();
    let ids = store.create_invitations(row.project_id, row.id, &items).await?;
    let secret = store.project_secret(row.project_id).await?;
    Ok(ids
        .into_iter()
        .zip(items)
        .map(|(id, inv)| {
            let claims = Claims {
                invitation: id,
                project: row.project_id,
                survey: row.id,
                customer: inv.customer.clone(),
                touchpoint: inv.touchpoint,
                lang: inv.lang,
                expires_s: expires_ms / 1000,
            };
            InviteLink {
                id,
                customer: inv.customer,
                url: format!("{base}/s/{}", invite::sign(&claims, &secret)),
                expires: format_time(expires_ms),
            }
        })
        .collect())
}

/// `POST /api/surveys/{key}/invitations`: signed single-use links, from JSON or CSV.
#[utoipa::path(post, path = "/api/surveys/{key}/invitations", tag = "surveys", params(("key" = String, Path)), request_body = InviteRequest, responses((status = 200, body = [InviteLink]), (status = 400, description = "Bad list, with the line or field")), security(("bearer" = [])))]
pub async fn invitations(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Vec<InviteLink>>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = find(&s, key.project_id, &survey).await?;
    let is_csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::invalid("invalid_body", None, "the body is not UTF-8"))?;
    let (customers, days) = if is_csv {
        (parse_invite_csv(text)?, 14.0)
    } else {
        let req: InviteRequest = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid("invalid_json", None, format!("the body is not a valid request: {e}")))?;
        (req.customers, req.expires_days.unwrap_or(14.0))
    };
    Ok(Json(create_invitations(&*s.store, &row, &customers, days, &base_url(&s, &headers)).await?))
}

/// One response posted through the API or imported.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    /// Answers by question id (`{"nps": 9, "why": "…"}`).
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    /// The customer's user id.
    pub customer: Option<String>,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// The language it was answered in.
    pub lang: Option<String>,
    /// Hidden dimensions (brand, category …).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub dimensions: Map<String, Value>,
    /// Weight (default 1).
    pub weight: Option<f64>,
    /// The id it has where it came from: posting it again does not store it twice.
    pub external_id: Option<String>,
    /// When it was answered (ISO 8601); now if absent.
    pub answered_at: Option<String>,
}

/// What storing responses did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ResponsesReceipt {
    /// Stored now.
    pub stored: usize,
    /// Already stored (same external id).
    pub duplicates: usize,
    /// Rejected, with the field and why.
    pub failed: Vec<ItemError>,
}

/// Check posted responses against the survey and turn them into rows; invalid ones are
/// reported by index.
pub fn validate_responses(
    row: &SurveyRow,
    def: &SurveyDef,
    inputs: Vec<ResponseInput>,
    source: &str,
) -> (Vec<NewResponse>, Vec<ItemError>) {
    let mut ok = vec![];
    let mut failed = vec![];
    for (i, r) in inputs.into_iter().enumerate() {
        let at = |f: &str, m: String| ItemError { index: i, field: format!("responses[{i}].{f}"), message: m };
        let answers = match def.parse_answers(&r.answers, true, Lang::En) {
            Ok(a) => a,
            Err(e) => {
                failed.push(at(&format!("answers.{}", e.field), e.message));
                continue;
            }
        };
        let mut dims = Map::new();
        let mut dim_error = None;
        for (k, v) in r.dimensions {
            match v {
                Value::String(s) => {
                    dims.insert(k, Value::String(s));
                }
                Value::Number(n) => {
                    dims.insert(k, Value::String(n.to_string()));
                }
                _ => dim_error = Some(at(&format!("dimensions.{k}"), "must be a string or number".into())),
            }
        }
        if let Some(e) = dim_error {
            failed.push(e);
            continue;
        }
        let weight = r.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight > 0.0) {
            failed.push(at("weight", "must be a positive number".into()));
            continue;
        }
        let at_ms = match r.answered_at.as_deref().map(parse_time_str).transpose() {
            Ok(t) => t,
            Err(e) => {
                failed.push(at("answered_at", e));
                continue;
            }
        };
        ok.push(NewResponse {
            project_id: row.project_id,
            survey_id: row.id,
            version: row.version,
            customer: r.customer,
            touchpoint: r.touchpoint,
            lang: r.lang,
            answers: serde_json::to_value(&answers).unwrap_or_default(),
            dimensions: Value::Object(dims),
            weight,
            source: source.into(),
            external_id: r.external_id,
            at_ms,
        });
    }
    (ok, failed)
}

/// `POST /api/surveys/{key}/responses`: responses collected elsewhere.
#[utoipa::path(post, path = "/api/surveys/{key}/responses", tag = "surveys", params(("key" = String, Path)), request_body = [ResponseInput], responses((status = 200, body = ResponsesReceipt), (status = 400, description = "All rejected, with fields")), security(("bearer" = [])))]
pub async fn post_responses(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    ApiJson(inputs): ApiJson<Vec<ResponseInput>>,
) -> Result<Json<ResponsesReceipt>, ApiError> {
    let key = s.secret_key(&headers).await?;
    let row = find(&s, key.project_id, &survey).await?;
    let def = definition(&row)?;
    let n = inputs.len();
    let (ok, failed) = validate_responses(&row, &def, inputs, "api");
    if ok.is_empty() && !failed.is_empty() {
        let message = format!("all {n} responses were rejected");
        let field = Some("responses".into());
        // Answers that do not fit the survey's questions conflict with its definition (a
        // 409); a response that is wrong by itself (its weight, its time) is a bad request.
        return Err(if failed.iter().any(|f| f.field.contains(".answers")) {
            ApiError::Refused { code: "invalid_responses", message, field, failed }
        } else {
            ApiError::BadRequest { code: "invalid_responses", message, field, failed }
        });
    }
    let receipt = store_responses(&s, &row, &def, ok).await?;
    Ok(Json(ResponsesReceipt { failed, ..receipt }))
}

/// Store complete responses and record each new one in its customer's journey.
pub async fn store_responses(
    s: &AppState,
    row: &SurveyRow,
    def: &SurveyDef,
    rows: Vec<NewResponse>,
) -> Result<ResponsesReceipt, ApiError> {
    let ids = s.store.insert_responses(&rows).await?;
    let mut receipt = ResponsesReceipt::default();
    let mut events = vec![];
    for (id, r) in ids.iter().zip(&rows) {
        match id {
            None => receipt.duplicates += 1,
            Some(id) => {
                receipt.stored += 1;
                let answers: Answers = serde_json::from_value(r.answers.clone()).unwrap_or_default();
                if let Some(e) = journey_event(row, def, *id, r, &answers, None) {
                    events.push(e);
                }
            }
        }
    }
    submit_events(s, row.project_id, events).await;
    Ok(receipt)
}

/// The `Survey Answered` event that puts a completed response into its customer's journey
/// (`None` when the response has no customer or anonymous id to attach to).
pub fn journey_event(
    row: &SurveyRow,
    def: &SurveyDef,
    id: i64,
    r: &NewResponse,
    answers: &Answers,
    anonymous_id: Option<&str>,
) -> Option<Event> {
    if r.customer.is_none() && anonymous_id.is_none() {
        return None;
    }
    let mut props = Map::new();
    props.insert("survey_id".into(), json!(row.key));
    props.insert("response_id".into(), json!(id));
    props.insert("version".into(), json!(r.version));
    if let Some(q) = def.headline() {
        props.insert("question".into(), json!(q.kind.name()));
        if let Some(score) = answers.score(&q.id) {
            props.insert("score".into(), json!(score as i64));
        }
    }
    if let Some(t) = &r.touchpoint {
        props.insert("trigger".into(), json!(t));
    }
    let at = r.at_ms.unwrap_or_else(now_ms);
    let mut v = json!({
        "type": "track",
        "event": SURVEY_EVENT,
        "messageId": format!("survey-response-{}-{id}", row.project_id),
        "timestamp": format_time(at),
        "properties": props,
    });
    if let Some(c) = &r.customer {
        v["userId"] = json!(c);
    } else if let Some(a) = anonymous_id {
        v["anonymousId"] = json!(a);
    }
    if let Some(l) = &r.lang {
        v["context"] = json!({"locale": l});
    }
    Event::parse(v, &ParseContext { received_at: now_ms(), ..Default::default() }, &Limits::default()).ok()
}

/// Hand events to the writer; a full queue waits (a response is already stored, its event
/// must not be lost to a burst).
pub async fn submit_events(s: &AppState, project: i64, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = s.writer.submit_wait(Submission { project, events, failed: vec![] }).await {
        tracing::error!(error = %e, "survey answers could not be recorded in the journeys");
    }
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

/// Every response of a survey (complete ones only if asked), in id order, read page by page.
pub async fn all_responses(
    store: &dyn Store,
    row: &SurveyRow,
    complete_only: bool,
) -> Result<Vec<touchpoint_store::listen::ResponseRow>, ApiError> {
    let which = touchpoint_store::listen::ResponseFilter { survey: Some(row.id), complete_only, ..Default::default() };
    responses_where(store, row.project_id, which).await
}

/// Every response of a project that passes `which`, in id order, read page by page.
pub async fn responses_where(
    store: &dyn Store,
    project: i64,
    which: touchpoint_store::listen::ResponseFilter,
) -> Result<Vec<touchpoint_store::listen::ResponseRow>, ApiError> {
    let mut all = vec![];
    let mut after = 0;
    loop {
        let page = store.responses(project, which, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        all.extend(page);
    }
    Ok(all)
}

/// Responses of a survey as CSV rows: one column per question (matrix areas and pair
/// halves get their own), cells made safe for spreadsheets.
pub async fn export_csv(store: &dyn Store, row: &SurveyRow, partial: bool) -> Result<String, ApiError> {
    let def = definition(row)?;
    let mut cols: Vec<(String, String, Option<String>)> = vec![];
    for q in &def.questions {
        match &q.kind {
            QuestionKind::Matrix { areas } => {
                for a in areas {
                    cols.push((format!("{}.{}", q.id, a.key), q.id.clone(), Some(a.key.clone())));
                }
            }
            QuestionKind::Pair { .. } => {
                for half in ["expectation", "experience"] {
                    cols.push((format!("{}.{half}", q.id), q.id.clone(), Some(half.into())));
                }
            }
            _ => cols.push((q.id.clone(), q.id.clone(), None)),
        }
    }
    let all = all_responses(store, row, !partial).await?;
    let mut dims: Vec<String> = def.dimensions.clone();
    for r in &all {
        if let Some(o) = r.response.dimensions.as_object() {
            for k in o.keys() {
                if !dims.contains(k) {
                    dims.push(k.clone());
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> =
        ["response_id", "answered_at", "complete", "version", "customer", "touchpoint", "lang", "source", "weight"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    header.extend(dims.iter().map(|d| format!("dim.{d}")));
    header.extend(cols.iter().map(|c| c.0.clone()));
    w.write_record(&header).map_err(|e| ApiError::Internal(e.to_string()))?;
    for r in &all {
        let answers: Answers = serde_json::from_value(r.response.answers.clone()).unwrap_or_default();
        let mut rec = vec![
            r.id.to_string(),
            r.completed_ms.map(format_time).unwrap_or_default(),
            r.complete.to_string(),
            r.response.version.to_string(),
            r.response.customer.clone().unwrap_or_default(),
            r.response.touchpoint.clone().unwrap_or_default(),
            r.response.lang.clone().unwrap_or_default(),
            r.response.source.clone(),
            r.response.weight.to_string(),
        ];
        for d in &dims {
            rec.push(r.response.dimensions.get(d).and_then(Value::as_str).unwrap_or("").to_string());
        }
        for (_, q, part) in &cols {
            use touchpoint_listen::survey::Answer;
            let cell = match (answers.0.get(q), part.as_deref()) {
                (None, _) => String::new(),
                (Some(Answer::Score(s)), _) => s.to_string(),
                (Some(Answer::Choice(c)), _) | (Some(Answer::Text(c)), _) => c.clone(),
                (Some(Answer::Choices(cs)), _) => cs.join("; "),
                (Some(Answer::Matrix(m)), Some(area)) => m.get(area).map(|v| v.to_string()).unwrap_or_default(),
                (Some(Answer::Pair { expectation, .. }), Some("expectation")) => expectation.to_string(),
                (Some(Answer::Pair { experience, .. }), Some("experience")) => experience.to_string(),
                _ => String::new(),
            };
            rec.push(cell);
        }
        let rec: Vec<String> = rec.into_iter().map(|c| touchpoint_core::csvsafe::safe_cell(&c).into_owned()).collect();
        w.write_record(&rec).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `GET /api/surveys/{key}/responses`: export (CSV that spreadsheets open safely, or JSON).
#[utoipa::path(get, path = "/api/surveys/{key}/responses", tag = "surveys", params(("key" = String, Path), ExportQuery), responses((status = 200, description = "CSV or JSON")), security(("bearer" = [])))]
pub async fn export(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(survey): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let key = s.secret_key(&headers).await?;
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
        other => Err(ApiError::invalid(
            "invalid_query",
            Some("format".into()),
            format!("format: {other:?} is not csv or json"),
        )),
    }
}

/// Verify an invitation token for a project's secret (shared by the pages and tests).
pub async fn verify_link(store: &dyn Store, token: &str) -> Result<Claims, invite::LinkError> {
    // The project is inside the signed claims; read it unverified only to pick the secret,
    // then verify with that secret.
    let project = token
        .split_once('.')
        .and_then(|(b, _)| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b).ok())
        .and_then(|b| serde_json::from_slice::<Claims>(&b).ok())
        .map(|c| c.project)
        .ok_or(invite::LinkError::Malformed)?;
    if !matches!(store.project(project).await, Ok(Some(_))) {
        return Err(invite::LinkError::Tampered);
    }
    let secret = store.project_secret(project).await.map_err(|_| invite::LinkError::Malformed)?;
    invite::verify(token, &secret, now_ms() / 1000)
}
