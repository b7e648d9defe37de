//! The read and admin API under `/api`, for secret keys: the touchpoint catalog and its
//! rules (changing a rule re-classifies past events), customers with their identities and
//! timelines, failed events, identity conflicts and daily volume per touchpoint.

use crate::auth::ApiCaller;
use crate::error::{ApiError, Error};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use touchpoint_core::{IdentityKind, Lang, Rule};
use touchpoint_engine::catalog::{self, RuleChange};
use touchpoint_engine::privacy::{self, Erasure, Who};
use touchpoint_engine::read::*;
use touchpoint_store::{Conflict, CustomerExport, Project};

/// The language asked for by `?lang=` or `Accept-Language`, English by default.
fn lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    query.and_then(Lang::parse).or_else(|| crate::pages::accept_language(headers)).unwrap_or(Lang::En)
}

/// `GET /api/project`: the key's project.
#[utoipa::path(get, path = "/api/project", tag = "read", responses((status = 200, body = Object, description = "The project, its stages and settings")), security(("bearer" = [])))]
pub async fn project(State(s): State<AppState>, ApiCaller(key): ApiCaller) -> Result<Json<Project>, ApiError> {
    Ok(Json(s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?))
}

/// `PUT /api/project`: the project's time zone, churn horizon, and its survey pages' brand,
/// language and framing sites.
#[utoipa::path(put, path = "/api/project", tag = "read", request_body = ProjectSettings, responses((status = 200, body = Object, description = "The project"), (status = 400, description = "A setting is not valid; `field` says which")), security(("bearer" = [])))]
pub async fn put_project(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(set): ApiJson<ProjectSettings>,
) -> Result<Json<Project>, ApiError> {
    let project = s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?;
    Ok(Json(update_project(&*s.store, &project, set).await?))
}

/// The project's identity secret.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IdentitySecret {
    /// `tpiv_` and 64 hex digits: the key of the HMAC-SHA256 a brand's server computes of
    /// a signed-in customer's user id, a newline and their e-mail address, sent from the
    /// page as `context.email_hmac` with the identify call.
    pub identity_secret: String,
}

/// `GET /api/project/identity-secret`: the secret with which the brand's own servers vouch,
/// in a page, for a customer's e-mail address (identity verification): an identify sent
/// through the public write key whose `context.email_hmac` is the HMAC-SHA256 of its
/// `userId`, a newline and its `email` under this secret makes the address one rule
/// e-mails may go to.
#[utoipa::path(get, path = "/api/project/identity-secret", tag = "read", responses((status = 200, body = IdentitySecret)), security(("bearer" = [])))]
pub async fn identity_secret(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
) -> Result<Json<IdentitySecret>, ApiError> {
    let identity_secret = touchpoint_engine::capture::identity_secret(&*s.store, key.project_id).await?;
    Ok(Json(IdentitySecret { identity_secret }))
}

/// `?lang=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// en, cs or pl.
    pub lang: Option<String>,
}

/// `GET /api/touchpoints`
#[utoipa::path(get, path = "/api/touchpoints", tag = "catalog", params(LangQuery), responses((status = 200, body = [TouchpointView])), security(("bearer" = [])))]
pub async fn touchpoints(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Json<Vec<TouchpointView>>, ApiError> {
    let l = lang(q.lang.as_deref(), &headers);
    Ok(Json(s.store.touchpoints(key.project_id).await?.iter().map(|t| view(t, l)).collect()))
}

/// A new key's kind.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// `write` (sends events; public, in web pages and apps), `server` (sends events from
    /// the brand's own servers; the `email` an identify gives through it is an address
    /// e-mail rules send to) or `secret` (reads and administers).
    #[schema(value_type = String)]
    pub kind: touchpoint_core::KeyKind,
}

/// `GET /api/keys`: the project's keys, by their first characters (a key's token is shown
/// once, when it is made). Owners only.
#[utoipa::path(get, path = "/api/keys", tag = "read", responses((status = 200, body = [Object], description = "id, kind, prefix, created_ms of each key")), security(("bearer" = [])))]
pub async fn keys(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
) -> Result<Json<Vec<touchpoint_store::KeyInfo>>, ApiError> {
    Ok(Json(s.store.keys(key.project_id).await?))
}

/// `POST /api/keys`: a new key; its token is in this answer and nowhere else. Owners only.
#[utoipa::path(post, path = "/api/keys", tag = "read", request_body = NewKey, responses((status = 200, body = Object, description = "token (shown once) and key")), security(("bearer" = [])))]
pub async fn add_key(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(new): ApiJson<NewKey>,
) -> Result<Json<Value>, ApiError> {
    let (token, info) = touchpoint_store::issue_key(&*s.store, key.project_id, new.kind).await?;
    Ok(Json(serde_json::json!({"token": token, "key": info})))
}

/// `DELETE /api/keys/{id}`: revoke a key; every request with it is refused from then on.
/// Not the project's last secret key (409: make another first). Owners only.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "read", params(("id" = i64, Path, description = "The key's id (GET /api/keys)")),
    responses((status = 200, body = Object, description = "The key as it was: id, kind, prefix, created_ms"), (status = 404, description = "No such key in the project, or revoked already"), (status = 409, description = "The project's last secret key")),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<touchpoint_store::KeyInfo>, ApiError> {
    let revoked = touchpoint_engine::read::revoke_key(&*s.store, key.project_id, id).await?;
    s.keys.forget(revoked.id);
    Ok(Json(revoked))
}

/// `PUT /api/touchpoints/{key}`: classify a touchpoint; fields not sent stay as they are.
#[utoipa::path(put, path = "/api/touchpoints/{key}", tag = "catalog", params(("key" = String, Path, description = "Touchpoint key")), request_body = TouchpointInput,
    responses((status = 200, body = TouchpointView), (status = 400, description = "Unknown stage or invalid field"), (status = 404, description = "No such touchpoint; the message names the nearest keys")), security(("bearer" = [])))]
pub async fn put_touchpoint(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(tp_key): ApiPath<String>,
    ApiJson(input): ApiJson<TouchpointInput>,
) -> Result<Json<TouchpointView>, ApiError> {
    let project = s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?;
    let tp = update_touchpoint(&*s.store, &project, &tp_key, input).await?;
    touchpoint_engine::catalog::touchpoints_changed(&s, project.id).await?;
    Ok(Json(view(&tp, lang(None, &headers))))
}

/// `POST /api/touchpoints`: add a touchpoint (events reach it through a mapping rule).
#[utoipa::path(post, path = "/api/touchpoints", tag = "catalog", request_body = NewTouchpoint,
    responses((status = 200, body = TouchpointView), (status = 400, description = "Bad key, unknown stage or invalid field"), (status = 409, description = "The key is taken")), security(("bearer" = [])))]
pub async fn post_touchpoint(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<NewTouchpoint>,
) -> Result<Json<TouchpointView>, ApiError> {
    let project = s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?;
    let tp = create_touchpoint(&*s.store, &project, input).await?;
    touchpoint_engine::catalog::touchpoints_changed(&s, project.id).await?;
    Ok(Json(view(&tp, lang(None, &headers))))
}

/// `GET /api/rules`
#[utoipa::path(get, path = "/api/rules", tag = "catalog", responses((status = 200, body = [Object], description = "Mapping rules in the order they run")), security(("bearer" = [])))]
pub async fn rules(State(s): State<AppState>, ApiCaller(key): ApiCaller) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(s.store.rules(key.project_id).await?))
}

/// `POST /api/rules`: add a rule and re-classify past events.
#[utoipa::path(post, path = "/api/rules", tag = "catalog", request_body(content = Object, description = "A rule: priority, touchpoint, event_type, event_name, conditions"),
    responses((status = 200, body = RuleChange)), security(("bearer" = [])))]
pub async fn add_rule(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiJson(rule): ApiJson<Rule>,
) -> Result<Json<RuleChange>, ApiError> {
    Ok(Json(catalog::add_rule(&s, key.project_id, rule).await?))
}

/// `?last=` of a rule test.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RuleTestQuery {
    /// How many of the project's most recent events to look at (1 to 10 000, default 1 000).
    pub last: Option<usize>,
}

/// `POST /api/rules/test`: which of the project's most recent events a rule would take,
/// before it is added. Nothing changes.
#[utoipa::path(post, path = "/api/rules/test", tag = "catalog", params(RuleTestQuery), request_body(content = Object, description = "A rule: priority, touchpoint, event_type, event_name, conditions"),
    responses((status = 200, description = "What the rule would take: scanned, matched, from (touchpoint, events), examples"), (status = 400, description = "Invalid rule, with the field"), (status = 404, description = "No such touchpoint")), security(("bearer" = [])))]
pub async fn test_rule(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiQuery(q): ApiQuery<RuleTestQuery>,
    ApiJson(rule): ApiJson<Rule>,
) -> Result<Json<catalog::RuleTest>, ApiError> {
    let last = count_in("last", q.last, 1_000, 10_000)?;
    let project = s.store.project(key.project_id).await?.ok_or_else(|| Error::not_found("project not found"))?;
    Ok(Json(catalog::test_rule(&*s.store, &project, &rule, last).await?))
}

/// `PUT /api/rules/{id}`: change a rule and re-classify past events.
#[utoipa::path(put, path = "/api/rules/{id}", tag = "catalog", params(("id" = i64, Path)), request_body(content = Object), responses((status = 200, body = RuleChange), (status = 404)), security(("bearer" = [])))]
pub async fn put_rule(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(rule): ApiJson<Rule>,
) -> Result<Json<RuleChange>, ApiError> {
    Ok(Json(catalog::update_rule(&s, key.project_id, id, rule).await?))
}

/// `DELETE /api/rules/{id}`: remove a rule and re-classify past events.
#[utoipa::path(delete, path = "/api/rules/{id}", tag = "catalog", params(("id" = i64, Path)), responses((status = 200, body = RuleChange), (status = 404)), security(("bearer" = [])))]
pub async fn delete_rule(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RuleChange>, ApiError> {
    Ok(Json(catalog::delete_rule(&s, key.project_id, id).await?))
}

/// `GET /api/customers`
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(Page), responses((status = 200, body = Object, description = "A page of customers")), security(("bearer" = [])))]
pub async fn customers(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiQuery(p): ApiQuery<Page>,
) -> Result<Json<Paged<Value>>, ApiError> {
    Ok(Json(customers_page(&s, key.project_id, &p).await?))
}

/// `?trait=&value=&limit=` of a customer search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraitSearch {
    /// The trait's name (`email`, `phone`, `crm_id` …).
    #[serde(rename = "trait")]
    pub name: String,
    /// The value to find (as text, ignoring ASCII case).
    pub value: String,
    /// At most this many (1 to 1000, default 50).
    pub limit: Option<usize>,
}

/// `GET /api/customers/search?trait=email&value=…`: the customers with a trait's value.
#[utoipa::path(get, path = "/api/customers/search", tag = "customers", params(TraitSearch), responses((status = 200, body = Object, description = "items: the customers found"), (status = 400, description = "No trait or value, with the field")), security(("bearer" = [])))]
pub async fn search_customers(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiQuery(q): ApiQuery<TraitSearch>,
) -> Result<Json<Value>, ApiError> {
    let limit = count_in("limit", q.limit, 50, 1000)?;
    let items = customers_with_trait(&s, key.project_id, &q.name, &q.value, limit).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `?user_id=` or `?anonymous_id=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Lookup {
    /// A known user id.
    pub user_id: Option<String>,
    /// An anonymous id.
    pub anonymous_id: Option<String>,
}

/// `GET /api/customers/lookup`: find a customer by one of its ids.
#[utoipa::path(get, path = "/api/customers/lookup", tag = "customers", params(Lookup), responses((status = 200, body = Profile), (status = 404)), security(("bearer" = [])))]
pub async fn lookup(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiQuery(q): ApiQuery<Lookup>,
) -> Result<Json<Profile>, ApiError> {
    let (kind, value) = match (&q.user_id, &q.anonymous_id) {
        (Some(u), _) => (IdentityKind::User, u),
        (None, Some(a)) => (IdentityKind::Anonymous, a),
        // A lookup by no id finds no customer.
        (None, None) => return Err(Error::not_found("give user_id or anonymous_id: no id, no customer").into()),
    };
    let id = s
        .store
        .find_identity(key.project_id, kind, value)
        .await?
        .ok_or_else(|| Error::not_found(format!("no customer has the {} id {value:?}", kind.as_str())))?;
    Ok(Json(profile_of(&s, key.project_id, id).await?))
}

/// `GET /api/customers/{id}`: traits, identities, merges and conflicts.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Profile), (status = 404)), security(("bearer" = [])))]
pub async fn customer(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile_of(&s, key.project_id, id).await?))
}

/// `DELETE /api/customers/{id}`: erase the customer (and the customers merged into it)
/// from every store and from the journeys, suppress their ids, and answer with a receipt
/// whose `verified` says a re-read of every store found nothing (GDPR article 17).
#[utoipa::path(delete, path = "/api/customers/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Erasure, description = "The erasure's receipt"), (status = 404)), security(("bearer" = [])))]
pub async fn erase_customer(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Erasure>, ApiError> {
    Ok(Json(privacy::erase(&s, key.project_id, &Who::Customer(id)).await?))
}

/// `GET /api/customers/{id}/export`: everything stored about the customer, as one JSON
/// document (GDPR articles 15 and 20): profile, identities, traits, every event, failed
/// events that name them, survey invitations and responses, trigger firings and message
/// preferences.
#[utoipa::path(get, path = "/api/customers/{id}/export", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Object, description = "The export"), (status = 404)), security(("bearer" = [])))]
pub async fn export_customer(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CustomerExport>, ApiError> {
    Ok(Json(privacy::export(&*s.store, key.project_id, &Who::Customer(id)).await?))
}

/// `GET /api/customers/{id}/timeline`: the customer's touchpoints, newest first.
#[utoipa::path(get, path = "/api/customers/{id}/timeline", tag = "customers", params(("id" = i64, Path), Page), responses((status = 200, body = Object, description = "A page of timeline entries")), security(("bearer" = [])))]
pub async fn timeline(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<Page>,
) -> Result<Json<Paged<TimelineEntry>>, ApiError> {
    let l = lang(p.lang.as_deref(), &headers);
    Ok(Json(timeline_page(&s, key.project_id, id, &p, l).await?))
}

/// `GET /api/failed-events`: rejected events with their reasons, newest first.
#[utoipa::path(get, path = "/api/failed-events", tag = "read", params(Page), responses((status = 200, body = Object, description = "A page of failed events")), security(("bearer" = [])))]
pub async fn failed_events(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    ApiQuery(p): ApiQuery<Page>,
) -> Result<Json<Paged<Value>>, ApiError> {
    Ok(Json(failed_page(&s, key.project_id, &p).await?))
}

/// `DELETE /api/failed-events`: delete the project's failed events (after they were read
/// and mended), which makes room in its failed-event quota again.
#[utoipa::path(delete, path = "/api/failed-events", tag = "read", responses((status = 200, body = Cleared, description = "How many were deleted")), security(("bearer" = [])))]
pub async fn clear_failed_events(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
) -> Result<Json<Cleared>, ApiError> {
    let deleted = s.store.clear_failed_events(key.project_id).await?;
    // The writer counts the quota; it reads it again from the store.
    s.writer.reload(key.project_id).await;
    Ok(Json(Cleared { deleted }))
}

/// `GET /api/identity-conflicts`: refused merges of two known customers.
#[utoipa::path(get, path = "/api/identity-conflicts", tag = "customers", responses((status = 200, body = [Object])), security(("bearer" = [])))]
pub async fn conflicts(State(s): State<AppState>, ApiCaller(key): ApiCaller) -> Result<Json<Vec<Conflict>>, ApiError> {
    Ok(Json(s.store.conflicts(key.project_id, 1000).await?))
}

/// `GET /api/volume`: events per day and touchpoint.
#[utoipa::path(get, path = "/api/volume", tag = "read", params(Range), responses((status = 200, body = [VolumeView])), security(("bearer" = [])))]
pub async fn volume(
    State(s): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Vec<VolumeView>>, ApiError> {
    let l = lang(r.lang.as_deref(), &headers);
    Ok(Json(daily_volume(&s, key.project_id, &r, l).await?))
}
