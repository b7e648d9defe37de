//! The trigger rule routes (`/api/triggers`: create, list, show, change, pause, resume,
//! rotate a webhook secret, preview, report, firings, replay the dead-letter list), a
//! customer's message preferences (`/api/customers/{id}/preferences`), and the
//! unsubscribe page an e-mail's link opens (`/u/{token}`, one-click by RFC 8058). Each
//! handler translates to `touchpoint_engine::triggers` and back.

use crate::auth::ApiCaller;
use crate::error::{ApiError, Code, Error};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use touchpoint_engine::triggers::{
    self as t, measure, Created, FiringView, PreferenceChange, PreferenceView, TriggerView,
};
use touchpoint_store::triggers::TriggerStatus;

/// A rule to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTrigger {
    /// Stable key (`late-delivery-apology`): 1 to 64 of a-z, 0-9 and `-`, not starting
    /// with `-`; `preview` is taken by the routes.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,63}$")]
    pub key: String,
    /// The rule: `name`, `when`, `who`, `then`, `holdout`, `goal`, `guard`.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Switch it on at once (default: a draft, to preview first).
    #[serde(default)]
    pub live: bool,
}

/// `GET /api/triggers`
#[utoipa::path(get, path = "/api/triggers", operation_id = "list_triggers", tag = "triggers", responses((status = 200, body = [TriggerView])), security(("bearer" = [])))]
pub async fn list(State(s): State<AppState>, ApiCaller(key): ApiCaller) -> Result<Json<Vec<TriggerView>>, ApiError> {
    let mut out = vec![];
    for row in s.store.trigger_rules(Some(key.project_id)).await? {
        out.push(t::view(&*s.store, &row).await?);
    }
    Ok(Json(out))
}

/// `POST /api/triggers`: create a rule (a draft unless `live`).
#[utoipa::path(post, path = "/api/triggers", operation_id = "create_trigger", tag = "triggers", request_body = NewTrigger, responses((status = 200, body = Created), (status = 400, description = "Invalid definition, with the field"), (status = 409, description = "Key taken")), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(input): ApiJson<NewTrigger>,
) -> Result<Json<Created>, ApiError> {
    let created = t::create(&*s.store, key.project_id, &input.key, &input.definition, input.live).await?;
    s.triggers_changed();
    Ok(Json(created))
}

/// `GET /api/triggers/{key}`
#[utoipa::path(get, path = "/api/triggers/{key}", operation_id = "get_trigger", tag = "triggers", params(("key" = String, Path)), responses((status = 200, body = TriggerView), (status = 404, description = "No such rule")), security(("bearer" = [])))]
pub async fn get_one(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
) -> Result<Json<TriggerView>, ApiError> {
    let row = t::find(&*s.store, key.project_id, &rule).await?;
    Ok(Json(t::view(&*s.store, &row).await?))
}

/// `PUT /api/triggers/{key}`: change the definition (the status stays).
#[utoipa::path(put, path = "/api/triggers/{key}", operation_id = "edit_trigger", tag = "triggers", params(("key" = String, Path)), request_body = Object, responses((status = 200, body = TriggerView), (status = 400, description = "Invalid definition")), security(("bearer" = [])))]
pub async fn edit(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
    ApiJson(definition): ApiJson<Value>,
) -> Result<Json<TriggerView>, ApiError> {
    let v = t::update(&*s.store, key.project_id, &rule, &definition).await?;
    s.triggers_changed();
    Ok(Json(v))
}

/// `POST /api/triggers/{key}/resume`: switch on.
#[utoipa::path(post, path = "/api/triggers/{key}/resume", operation_id = "resume_trigger", tag = "triggers", params(("key" = String, Path)), responses((status = 200, body = TriggerView)), security(("bearer" = [])))]
pub async fn resume(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
) -> Result<Json<TriggerView>, ApiError> {
    let v = t::set_status(&*s.store, key.project_id, &rule, TriggerStatus::Live).await?;
    s.triggers_changed();
    Ok(Json(v))
}

/// `POST /api/triggers/{key}/pause`: switch off (what was decided is still delivered).
#[utoipa::path(post, path = "/api/triggers/{key}/pause", operation_id = "pause_trigger", tag = "triggers", params(("key" = String, Path)), responses((status = 200, body = TriggerView)), security(("bearer" = [])))]
pub async fn pause(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
) -> Result<Json<TriggerView>, ApiError> {
    let v = t::set_status(&*s.store, key.project_id, &rule, TriggerStatus::Paused).await?;
    s.triggers_changed();
    Ok(Json(v))
}

/// How long both secrets sign after a rotation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Hours the old secret still signs (0 to 168, default 24).
    #[param(minimum = 0, maximum = 168)]
    pub overlap_hours: Option<i64>,
}

/// The new secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    /// The new `whsec_` secret, shown this once.
    pub secret: String,
}

/// `POST /api/triggers/{key}/rotate-secret`: a new webhook secret; the old one keeps
/// signing (a second signature) for the overlap.
#[utoipa::path(post, path = "/api/triggers/{key}/rotate-secret", operation_id = "rotate_trigger_secret", tag = "triggers", params(("key" = String, Path), Rotate), responses((status = 200, body = Rotated)), security(("bearer" = [])))]
pub async fn rotate(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
    ApiQuery(q): ApiQuery<Rotate>,
) -> Result<Json<Rotated>, ApiError> {
    let hours = q.overlap_hours.unwrap_or(24);
    if !(0..=168).contains(&hours) {
        return Err(Error::invalid(Code::InvalidQuery, Some("overlap_hours".into()), "overlap_hours: 0 to 168").into());
    }
    let secret = t::rotate_secret(&*s.store, key.project_id, &rule, hours * 3_600_000).await?;
    s.triggers_changed();
    Ok(Json(Rotated { secret }))
}

/// How far back a preview looks.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Days {
    /// Days (1 to 366, default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

fn days(d: Option<i64>) -> Result<i64, ApiError> {
    match d {
        None => Ok(30),
        Some(d) if (1..=366).contains(&d) => Ok(d),
        Some(_) => Err(Error::invalid(Code::InvalidQuery, Some("days".into()), "days: 1 to 366").into()),
    }
}

/// `GET /api/triggers/{key}/preview`: what the rule would have done over the last days.
#[utoipa::path(get, path = "/api/triggers/{key}/preview", operation_id = "preview_trigger", tag = "triggers", params(("key" = String, Path), Days), responses((status = 200, body = measure::Preview)), security(("bearer" = [])))]
pub async fn preview(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
    ApiQuery(q): ApiQuery<Days>,
) -> Result<Json<measure::Preview>, ApiError> {
    Ok(Json(measure::preview(&s, key.project_id, Some(&rule), None, days(q.days)?).await?))
}

/// A definition to preview before saving it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The rule.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Days to look back (1 to 366, default 30).
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

/// `POST /api/triggers/preview`: what an unsaved rule would have done.
#[utoipa::path(post, path = "/api/triggers/preview", operation_id = "preview_trigger_definition", tag = "triggers", request_body = PreviewBody, responses((status = 200, body = measure::Preview), (status = 400, description = "Invalid definition")), security(("bearer" = [])))]
pub async fn preview_definition(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<measure::Preview>, ApiError> {
    Ok(Json(measure::preview(&s, key.project_id, None, Some(&body.definition), days(body.days)?).await?))
}

/// `GET /api/triggers/{key}/report`: treated against held-out customers on the goal.
#[utoipa::path(get, path = "/api/triggers/{key}/report", operation_id = "trigger_report", tag = "triggers", params(("key" = String, Path)), responses((status = 200, body = measure::Report)), security(("bearer" = [])))]
pub async fn report(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
) -> Result<Json<measure::Report>, ApiError> {
    Ok(Json(measure::report(&s, key.project_id, &rule).await?))
}

/// Which firings to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FiringQuery {
    /// Only in this state (`dead` is the dead-letter list).
    pub state: Option<String>,
    /// Only before this `seq` (paging).
    pub before: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// `GET /api/triggers/{key}/firings`
#[utoipa::path(get, path = "/api/triggers/{key}/firings", operation_id = "trigger_firings", tag = "triggers", params(("key" = String, Path), FiringQuery), responses((status = 200, body = [FiringView])), security(("bearer" = [])))]
pub async fn firings(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
    ApiQuery(q): ApiQuery<FiringQuery>,
) -> Result<Json<Vec<FiringView>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid(Code::InvalidQuery, Some("limit".into()), "limit: 1 to 1000").into());
    }
    Ok(Json(t::firings(&*s.store, key.project_id, &rule, q.state.as_deref(), q.before, limit).await?))
}

/// Which dead firing to send again.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// One firing's id; every dead firing of the rule when absent.
    pub id: Option<String>,
}

/// How many were queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// Firings queued again.
    pub replayed: usize,
}

/// `POST /api/triggers/{key}/replay`: send dead firings again, with their ids.
#[utoipa::path(post, path = "/api/triggers/{key}/replay", operation_id = "replay_trigger_firings", tag = "triggers", params(("key" = String, Path)), request_body = Replay, responses((status = 200, body = Replayed)), security(("bearer" = [])))]
pub async fn replay(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(rule): ApiPath<String>,
    ApiJson(body): ApiJson<Replay>,
) -> Result<Json<Replayed>, ApiError> {
    let replayed = t::replay(&*s.store, key.project_id, &rule, body.id.as_deref()).await?;
    s.triggers_wake();
    Ok(Json(Replayed { replayed }))
}

/// `?lang=` of an unsubscribe link: the language of the message it came in.
#[derive(Debug, Default, Deserialize)]
pub struct UnsubscribeQuery {
    /// `cs`, `pl`, `en` …
    pub lang: Option<String>,
}

/// `GET /api/customers/{id}/preferences`: the customer's message preferences.
#[utoipa::path(get, path = "/api/customers/{id}/preferences", operation_id = "get_preferences", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = [PreferenceView]), (status = 404, description = "No such customer")), security(("bearer" = [])))]
pub async fn preferences(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<PreferenceView>>, ApiError> {
    Ok(Json(t::customer_preferences(&*s.store, key.project_id, id).await?))
}

/// Changes of a customer's preferences.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesBody {
    /// Each category's new choice; categories not named stay as they are.
    pub preferences: Vec<PreferenceChange>,
}

/// `PUT /api/customers/{id}/preferences`: record the customer's choices (a service agent
/// noting an opt-out on the phone, a CRM's subscription centre); answers with all of them.
#[utoipa::path(put, path = "/api/customers/{id}/preferences", operation_id = "put_preferences", tag = "customers", params(("id" = i64, Path)), request_body = PreferencesBody, responses((status = 200, body = [PreferenceView]), (status = 400, description = "A category that is not one, with where"), (status = 404, description = "No such customer")), security(("bearer" = [])))]
pub async fn put_preferences(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PreferencesBody>,
) -> Result<Json<Vec<PreferenceView>>, ApiError> {
    Ok(Json(t::set_customer_preferences(&*s.store, key.project_id, id, &body.preferences, "api").await?))
}

/// `GET /u/{token}`: the unsubscribe page (asks; mail scanners follow links).
pub async fn unsubscribe_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<UnsubscribeQuery>,
) -> Response {
    unsubscribe(s, headers, token, q, false).await
}

/// `POST /u/{token}`: unsubscribe (the page's button, or a mail client's one-click
/// `List-Unsubscribe=One-Click`).
pub async fn unsubscribe_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<UnsubscribeQuery>,
) -> Response {
    unsubscribe(s, headers, token, q, true).await
}

/// The page's language: the message's (`?lang=`), the browser's, the project's, English.
async fn unsubscribe(s: AppState, headers: HeaderMap, token: String, q: UnsubscribeQuery, post: bool) -> Response {
    use touchpoint_core::i18n::Lang;
    let asked = q.lang.as_deref().and_then(Lang::parse).or_else(|| crate::pages::accept_language(&headers));
    let Ok((project, customer, category)) = t::read_unsubscribe(&*s.store, &token).await else {
        return crate::pages::unsubscribe_invalid(asked.unwrap_or(Lang::En));
    };
    let p = s.store.project(project).await.ok().flatten();
    let lang = asked
        .or_else(|| p.as_ref().and_then(|p| p.brand.default_lang.as_deref()).and_then(Lang::parse))
        .unwrap_or(Lang::En);
    if post {
        if let Err(e) =
            t::set_preference(&*s.store, project, customer, (&category, "email"), false, "unsubscribe_link").await
        {
            tracing::error!(error = %e.message, "an unsubscribe could not be recorded");
            let text = "Unsubscribing did not work this time. Please try again in a minute.";
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, text).into_response();
        }
    }
    let action = match &q.lang {
        Some(l) if Lang::parse(l).is_some() => format!("/u/{token}?lang={}", lang.code()),
        _ => format!("/u/{token}"),
    };
    crate::pages::unsubscribe_page(lang, p.as_ref().map(|p| &p.brand), post, &action)
}
