//! The knowledge base's routes (`/api/kb`): write articles (each edit a new version, with
//! its author), list and read them with their versions, and search them as customers do;
//! and the self-service report (`/api/self-service`).
//! Each handler translates to `touchpoint_engine::kb` and back.

use crate::auth::{ApiCaller, By};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use touchpoint_engine::kb::{self, ArticleInput, ArticleView, SearchAnswer, SearchInput};
use touchpoint_engine::selfservice::{self, ReportInput, SelfServiceReport};

/// Who wrote a version: the person's e-mail address, or the key.
pub(crate) async fn author(s: &AppState, by: By) -> Result<Option<String>, ApiError> {
    Ok(Some(match by {
        By::Key(id) => format!("key {id}"),
        By::Person { user_id, .. } => match s.store.user(user_id).await? {
            Some(u) => u.email,
            None => format!("user {user_id}"),
        },
    }))
}

/// `GET /api/kb/articles`: every article (its newest version), drafts too.
#[utoipa::path(get, path = "/api/kb/articles", operation_id = "list_articles", tag = "knowledge base", responses((status = 200, body = [ArticleView])), security(("bearer" = [])))]
pub async fn list(State(s): State<AppState>, ApiCaller(c): ApiCaller) -> Result<Json<Vec<ArticleView>>, ApiError> {
    Ok(Json(kb::list(&*s.store, c.project_id).await?))
}

/// `POST /api/kb/articles`: a new article.
#[utoipa::path(post, path = "/api/kb/articles", operation_id = "create_article", tag = "knowledge base", request_body = ArticleInput, responses((status = 200, body = ArticleView)), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiJson(input): ApiJson<ArticleInput>,
) -> Result<Json<ArticleView>, ApiError> {
    let by = author(&s, c.by).await?;
    Ok(Json(kb::create(&*s.store, Some(&s.kb), c.project_id, &input, by).await?))
}

/// `GET /api/kb/articles/{id}`: an article's newest version.
#[utoipa::path(get, path = "/api/kb/articles/{id}", operation_id = "get_article", tag = "knowledge base", params(("id" = i64, Path)), responses((status = 200, body = ArticleView)), security(("bearer" = [])))]
pub async fn get_one(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ArticleView>, ApiError> {
    Ok(Json(kb::get(&*s.store, c.project_id, id, false).await?))
}

/// `PUT /api/kb/articles/{id}`: the article's next version (with `base_version`, refused
/// with 409 when someone saved a newer one meanwhile).
#[utoipa::path(put, path = "/api/kb/articles/{id}", operation_id = "edit_article", tag = "knowledge base", params(("id" = i64, Path)), request_body = ArticleInput, responses((status = 200, body = ArticleView), (status = 409, description = "A newer version than base_version exists")), security(("bearer" = [])))]
pub async fn edit(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ArticleInput>,
) -> Result<Json<ArticleView>, ApiError> {
    let by = author(&s, c.by).await?;
    Ok(Json(kb::update(&*s.store, Some(&s.kb), c.project_id, id, &input, by).await?))
}

/// `GET /api/kb/articles/{id}/versions`: every version, newest first.
#[utoipa::path(get, path = "/api/kb/articles/{id}/versions", operation_id = "article_versions", tag = "knowledge base", params(("id" = i64, Path)), responses((status = 200, body = [ArticleView])), security(("bearer" = [])))]
pub async fn versions(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ArticleView>>, ApiError> {
    Ok(Json(kb::versions(&*s.store, c.project_id, id).await?))
}

/// `GET /api/kb/search?q=&lang=&limit=&prefix=`: the published articles as customers
/// find them, with the matched words marked in each title and snippet.
#[utoipa::path(get, path = "/api/kb/search", operation_id = "search_articles", tag = "knowledge base", params(SearchInput), responses((status = 200, body = SearchAnswer)), security(("bearer" = [])))]
pub async fn search(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiQuery(q): ApiQuery<SearchInput>,
) -> Result<Json<SearchAnswer>, ApiError> {
    Ok(Json(kb::search(&*s.store, &s.kb, c.project_id, &q).await?))
}

/// `GET /api/self-service?days=&within_days=&cost_assisted=&cost_self=&top=`: does the help
/// centre help? The self-service score, deflection (and its strict form), search success,
/// the top failed searches, article helpfulness and the cost saved, each rate with its n
/// and 95 % interval.
#[utoipa::path(get, path = "/api/self-service", operation_id = "self_service_report", tag = "knowledge base", params(ReportInput), responses((status = 200, body = SelfServiceReport)), security(("bearer" = [])))]
pub async fn report(
    State(s): State<AppState>,
    ApiCaller(c): ApiCaller,
    ApiQuery(q): ApiQuery<ReportInput>,
) -> Result<Json<SelfServiceReport>, ApiError> {
    Ok(Json(selfservice::self_service(&s, c.project_id, &q).await?))
}
