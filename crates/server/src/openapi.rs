//! The OpenAPI 3 document of every route, served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        c.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Touchpoint API", description = "Capture (Segment-compatible), catalog, customers, journey analytics, surveys and listening, operations."),
    paths(
        crate::capture::track, crate::capture::page, crate::capture::screen, crate::capture::identify,
        crate::capture::group, crate::capture::alias, crate::capture::batch, crate::capture::sdk_settings, crate::capture::source_config,
        crate::read::project, crate::read::put_project, crate::read::touchpoints, crate::read::put_touchpoint,
        crate::read::rules, crate::read::add_rule, crate::read::put_rule, crate::read::delete_rule,
        crate::read::customers, crate::read::lookup, crate::read::customer, crate::read::timeline,
        crate::read::failed_events, crate::read::clear_failed_events, crate::read::conflicts, crate::read::volume, crate::analytics::analyze,
        crate::surveys::list, crate::surveys::create, crate::surveys::get_one, crate::surveys::edit,
        crate::surveys::publish, crate::surveys::close, crate::surveys::invitations, crate::surveys::post_responses,
        crate::surveys::export, crate::listening::analyze, crate::listening::post_benchmarks,
        crate::healthz, crate::readyz, crate::metrics::metrics, openapi_json,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
