//! The OpenAPI 3 document of every route, served at `/openapi.json`.

use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

mod schemas;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        c.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The answers every route can give that its own annotation need not repeat, added in one
/// place so the document cannot forget them: 401 and 403 on every route that takes a key
/// (the key is checked first), 400 on every route with parameters or a body (each is parsed
/// into a type at the edge), 404 on every route with a path parameter, and the one error
/// body (`Error`) on every error answer.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{path::ParameterIn, ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
                .build()
        };
        for item in api.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
                let parsed = !params.is_empty() || op.request_body.is_some();
                let answers = &mut op.responses.responses;
                let mut add = |code: &str, what: &str| {
                    answers.entry(code.to_string()).or_insert_with(|| error(what).into());
                };
                if keyed {
                    add("401", "No key, or an unknown one");
                    add("403", "A key of the wrong kind for this route");
                }
                if parsed {
                    add("400", "A parameter or the body is not valid; `field` says which");
                }
                if in_path {
                    add("404", "Nothing by that name or id");
                }
                for (code, answer) in answers.iter_mut() {
                    if let utoipa::openapi::RefOr::T(r) = answer {
                        if code.starts_with(['4', '5']) && r.content.is_empty() {
                            r.content.insert(
                                "application/json".into(),
                                ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build(),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Touchpoint API", description = "Capture (Segment-compatible), catalog, customers, journey analytics, surveys and listening, operations."),
    paths(
        crate::capture::track, crate::capture::page, crate::capture::screen, crate::capture::identify,
        crate::capture::group, crate::capture::alias, crate::capture::batch, crate::capture::sdk_settings, crate::capture::source_config, crate::capture::in_page,
        crate::read::project, crate::read::put_project, crate::read::identity_secret, crate::read::touchpoints, crate::read::put_touchpoint, crate::read::post_touchpoint,
        crate::read::rules, crate::read::add_rule, crate::read::test_rule, crate::read::keys, crate::read::add_key, crate::read::revoke_key, crate::read::put_rule, crate::read::delete_rule,
        crate::read::customers, crate::read::lookup, crate::read::search_customers, crate::read::customer, crate::read::erase_customer,
        crate::read::export_customer, crate::read::timeline,
        crate::read::failed_events, crate::read::clear_failed_events, crate::read::conflicts, crate::read::volume, crate::live::live, crate::analytics::analyze,
        crate::surveys::list, crate::surveys::create, crate::surveys::get_one, crate::surveys::edit,
        crate::surveys::publish, crate::surveys::close, crate::surveys::invitations, crate::surveys::post_responses,
        crate::surveys::export, crate::listening::analyze, crate::listening::post_benchmarks,
        crate::triggers::list, crate::triggers::create, crate::triggers::get_one, crate::triggers::edit,
        crate::triggers::pause, crate::triggers::resume, crate::triggers::rotate, crate::triggers::preview,
        crate::triggers::preview_definition, crate::triggers::report, crate::triggers::firings, crate::triggers::replay,
        crate::triggers::preferences, crate::triggers::put_preferences,
        crate::kb::list, crate::kb::create, crate::kb::get_one, crate::kb::edit, crate::kb::versions, crate::kb::search, crate::kb::report,
        crate::requests::list, crate::requests::get_one, crate::requests::change, crate::requests::mirror, crate::requests::link,
        crate::healthz, crate::readyz, crate::metrics::metrics, openapi_json,
    ),
    components(schemas(
        crate::error::Body, crate::error::ErrorBody, crate::error::ItemError,
        touchpoint_engine::live::Tick, touchpoint_engine::live::Sample, touchpoint_engine::live::SampleCustomer,
        touchpoint_engine::live::Lagged,
    )),
    modifiers(&Security, &CommonAnswers)
)]
pub struct ApiDoc;

/// The document as served: the derived one, refined where deriving cannot say enough
/// (event bodies, one operation per analysis, enums and patterns of what the parsers
/// check; see [`schemas`]). Made once.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        schemas::refine(&mut doc);
        doc
    })
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> Json<&'static serde_json::Value> {
    Json(document())
}
