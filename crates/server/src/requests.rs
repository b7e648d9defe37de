//! The service team's routes (`/api/requests`): list, read, reply to, assign and move
//! customers' requests, mirror every change to a helpdesk by webhook; and
//! `/api/portal/links`, the signed sign-in links the brand's own site or app hands to a
//! customer. Each handler translates to `touchpoint_engine::service` or
//! `touchpoint_engine::portal` and back.

use crate::auth::ApiCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use touchpoint_core::{CustomerId, IdentityKind};
use touchpoint_engine::error::{Code, Error};
use touchpoint_engine::portal;
use touchpoint_engine::service::{self, ChangeAnswer, ListInput, RequestView, TeamChange};

/// `GET /api/requests?status=&assignee=&customer=&before=&limit=`: the project's requests,
/// newest first.
#[utoipa::path(get, path = "/api/requests", operation_id = "list_requests", tag = "service", params(ListInput), responses((status = 200, body = [RequestView])), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiQuery(q): ApiQuery<ListInput>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    Ok(Json(service::list(&*s.store, c.project_id, &q).await?))
}

/// `GET /api/requests/{id}`: a request with its timeline.
#[utoipa::path(get, path = "/api/requests/{id}", operation_id = "get_request", tag = "service", params(("id" = i64, Path)), responses((status = 200, body = RequestView)), security(("bearer" = [])))]
pub async fn get_one(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(service::get(&*s.store, c.project_id, id).await?))
}

/// `PATCH /api/requests/{id}`: reply (`body`, e-mailed to the customer in their
/// language), move (`status`), assign (`assignee`; empty unassigns) — any of them at once.
#[utoipa::path(patch, path = "/api/requests/{id}", operation_id = "change_request", tag = "service", params(("id" = i64, Path)), request_body = TeamChange, responses((status = 200, body = ChangeAnswer)), security(("bearer" = [])))]
pub async fn change(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<TeamChange>,
) -> Result<Json<ChangeAnswer>, ApiError> {
    let by = crate::kb::author(&s, c.by).await?.unwrap_or_default();
    let base = crate::surveys::base_url(&s, &headers);
    Ok(Json(service::team_change(&s, c.project_id, id, &by, &input, &base).await?))
}

/// What mirroring takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorInput {
    /// The helpdesk's webhook receiver (http or https).
    pub url: String,
}

/// What mirroring answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MirrorAnswer {
    /// The trigger rules made (see `/api/triggers`).
    pub rules: Vec<String>,
    /// The webhooks' signing secret (`whsec_…`), shown this once.
    pub secret: String,
}

/// `POST /api/requests/mirror`: send every change of every request to a helpdesk's
/// webhook (Standard Webhooks, signed, retried, dead-lettered) — three live trigger rules.
#[utoipa::path(post, path = "/api/requests/mirror", operation_id = "mirror_requests", tag = "service", request_body = MirrorInput, responses((status = 200, body = MirrorAnswer), (status = 409, description = "Mirrored already")), security(("bearer" = [])))]
pub async fn mirror(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiJson(input): ApiJson<MirrorInput>,
) -> Result<Json<MirrorAnswer>, ApiError> {
    let url = &input.url;
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && (9..=2000).contains(&url.chars().count())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        let msg = "url: an http(s) address of 9 to 2000 characters, without spaces";
        return Err(Error::invalid(Code::InvalidField, Some("url".into()), msg).into());
    }
    let (rules, secret) = service::mirror(&s, c.project_id, url).await?;
    Ok(Json(MirrorAnswer { rules, secret }))
}

/// Whom a sign-in link is for, and for how long: a customer (`user_id` or `customer_id`),
/// with the address replies are e-mailed to if the site vouches for one (`email`); or an
/// address alone (its own portal account).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// The customer's user id (as your site sends it in `identify`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The customer's Touchpoint id.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// With a customer: their address, as the site knows it (replies are e-mailed there).
    /// Alone: the address's own portal account (made on first use; never a customer found
    /// by an `email` trait).
    #[serde(default)]
    pub email: Option<String>,
    /// Minutes the link works (default 10, at most 1440).
    #[serde(default)]
    pub ttl_minutes: Option<i64>,
    /// A request of the customer's to open after signing in.
    #[serde(default)]
    pub request_id: Option<i64>,
    /// The language the portal opens in (`cs`, `pl`, `en`; default: the visitor's browser's).
    #[serde(default)]
    pub lang: Option<String>,
}

/// A sign-in link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkAnswer {
    /// The link: it works once, until `expires`.
    pub url: String,
    /// When it stops working (RFC 3339, UTC).
    pub expires: String,
}

/// `POST /api/portal/links`: a signed single-use sign-in link to the portal for one
/// customer, for the brand's own site or app to hand over (owners' keys only: it signs
/// a customer in).
#[utoipa::path(post, path = "/api/portal/links", operation_id = "portal_link", tag = "service", request_body = LinkInput, responses((status = 200, body = LinkAnswer)), security(("bearer" = [])))]
pub async fn link(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LinkInput>,
) -> Result<Json<LinkAnswer>, ApiError> {
    let p = c.project_id;
    let bad = |field: &str, msg: &str| Error::invalid(Code::InvalidField, Some(field.into()), msg.to_string());
    let ttl = input.ttl_minutes.unwrap_or(10);
    if !(1..=portal::MAX_LINK_TTL_S / 60).contains(&ttl) {
        return Err(bad("ttl_minutes", "ttl_minutes is 1 to 1440").into());
    }
    let email = input.email.as_deref().map(|e| portal::email_address("email", e)).transpose()?;
    let customer = match (&input.user_id, input.customer_id) {
        (Some(u), None) => match s.store.find_identity(p, IdentityKind::User, u).await? {
            Some(c) => Some(c),
            None => return Err(Error::not_found(format!("no customer has the user id {u:?}")).at("user_id").into()),
        },
        (None, Some(id)) => Some(touchpoint_engine::read::canonical(&*s.store, p, id).await?),
        (None, None) if email.is_some() => None,
        _ => {
            return Err(bad("user_id", "give one of user_id or customer_id (with an email or not), or an email").into())
        }
    };
    if let (Some(r), Some(c)) = (input.request_id, customer) {
        service::my_request(&*s.store, p, c, r).await.map_err(|e| e.at("request_id"))?;
    }
    let project = s.store.project(p).await?.ok_or_else(|| Error::not_found("no such project"))?;
    let base = crate::surveys::base_url(&s, &headers);
    let mut url = portal::link_url(&*s.store, &project, customer, email, ttl * 60, input.request_id, &base).await?;
    if let Some(l) = &input.lang {
        if !matches!(l.as_str(), "cs" | "pl" | "en") {
            return Err(bad("lang", "lang is cs, pl or en").into());
        }
        url = format!("{url}?lang={l}");
    }
    let expires = touchpoint_core::event::format_time(touchpoint_store::now_ms() + ttl * 60_000);
    Ok(Json(LinkAnswer { url, expires }))
}
