//! Touchpoint's HTTP server. This is the only crate that knows HTTP: the Segment-compatible
//! capture API ([`capture`]), the read and admin API ([`read`]), the live stream of
//! arriving events ([`live`]), health checks, Prometheus metrics and the OpenAPI document.
//!
//! A server is [`run`]`(listener, config, shutdown)`: tests bind port 0 and pass a future
//! that ends the server. [`Server`] splits that in two for callers that need the store
//! and the writer before serving (the demo loads its data through the same writer).
//! [`run_node`] is `run` for a node of a cluster, whose part may change while it serves:
//! it closes the node and opens it again on the same socket.

pub mod analytics;
pub mod auth;
pub mod capture;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod kb;
pub mod listening;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod portal;
pub mod portal_me;
pub mod ratelimit;
pub mod read;
pub mod requests;
pub mod surveys;
pub mod triggers;

pub use touchpoint_engine::{cluster, config, Config, Engine, Node};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler can reach: the engine (through `Deref`: `s.store`, `s.writer`, …)
/// and what only HTTP needs.
#[derive(Clone)]
pub struct AppState {
    /// The engine every use case runs on.
    pub engine: Engine,
    /// Found API keys.
    pub keys: Arc<auth::KeyCache>,
    /// Per-key rate limits.
    pub limiter: Arc<ratelimit::RateLimiter>,
    /// HTTP counters.
    pub metrics: Arc<metrics::HttpMetrics>,
    /// Survey form submissions per client address.
    pub page_limiter: Arc<ratelimit::RateLimiter>,
    /// Portal sign-in links e-mailed per address: three at once, then one every five
    /// minutes (nobody's inbox can be flooded through the portal).
    pub link_limiter: Arc<ratelimit::RateLimiter>,
    /// Failed dashboard sign-ins per address and per client.
    pub sign_in: Arc<touchpoint_engine::accounts::SignInLimiter>,
}

impl std::ops::Deref for AppState {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// A server: a running [`Node`] and the HTTP state around its engine, not yet serving.
pub struct Server {
    state: AppState,
    node: Node,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] touchpoint_store::StoreError),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl Server {
    /// Open the embedded store in the configured data directory and start the writer.
    pub async fn open(config: Config) -> Result<Server, ServerError> {
        Ok(Server::new(Node::open(config).await?))
    }

    /// Serve a node that is already running (the demo loads its data first).
    pub fn new(mut node: Node) -> Server {
        // The serving process is the one that acts on trigger rules.
        node.start_triggers();
        let engine = node.engine().clone();
        let config = &engine.config;
        let state = AppState {
            limiter: Arc::new(ratelimit::RateLimiter::new(config.rate_limit, config.rate_burst)),
            page_limiter: Arc::new(ratelimit::RateLimiter::new(
                config.survey_posts_per_minute / 60.0,
                config.survey_posts_per_minute,
            )),
            link_limiter: Arc::new(ratelimit::RateLimiter::new(1.0 / 300.0, 3.0)),
            keys: Arc::default(),
            metrics: Arc::default(),
            sign_in: Arc::default(),
            engine,
        };
        Server { state, node }
    }

    /// The state, for tests that look inside.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes, then finish queued writes and stop.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = router(self.state.clone());
        // Open live streams never end by themselves: they are ended when the server is
        // told to stop, or the graceful shutdown would wait for them.
        let live = self.state.live.clone();
        let shutdown = async move {
            shutdown.await;
            live.shut_down();
        };
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        let Server { state, node } = self;
        drop(state);
        Ok(node.close().await?)
    }
}

/// Open the store, start the writer and serve until `shutdown`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::open(config).await?.serve(listener, shutdown).await
}

/// How long a node whose part changed tries to open again (PostgreSQL restarting, say)
/// before it gives up.
const REOPEN_TRIES: u32 = 60;

/// [`run`] for a node that may be part of a cluster: serve until `shutdown`, and when the
/// node's part changes ([`cluster::Role::change`]: the writing node is gone, or this node
/// lost its writer lock) close it — queued writes finished, requests in flight answered —
/// and open it again on the same socket, in whatever part it can take then; connections
/// made meanwhile wait in the socket's queue. `opened` is told of each opening, with the
/// change that led to it after the first (the command line says which part the node has).
pub async fn run_node(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut opened: impl FnMut(&Server, Option<cluster::Change>),
) -> Result<(), ServerError> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let socket = listener.into_std()?;
    let mut change = None;
    loop {
        let server = match change {
            None => Server::open(config.clone()).await?,
            Some(_) => match reopen(&config, stop.clone()).await? {
                Some(server) => server,
                None => return Ok(()),
            },
        };
        opened(&server, change);
        let role = server.state.engine.cluster.clone();
        let changed = Arc::new(std::sync::Mutex::new(None));
        let (mut stopped, changed_in) = (stop.clone(), changed.clone());
        let until = async move {
            let part = async {
                match role {
                    Some(role) => role.change().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => {}
                c = part => *changed_in.lock().unwrap() = Some(c),
            }
        };
        server.serve(TcpListener::from_std(socket.try_clone()?)?, until).await?;
        change = changed.lock().unwrap().take();
        // Told to stop meanwhile (the change and the signal at once): no second opening.
        if change.is_none() || *stop.borrow() {
            return Ok(());
        }
    }
}

/// Open a node again after its part changed, trying for a while; `None` when told to stop
/// meanwhile.
async fn reopen(config: &Config, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<Option<Server>, ServerError> {
    let mut tries = 0;
    loop {
        match Server::open(config.clone()).await {
            Ok(server) => return Ok(Some(server)),
            Err(e) if tries + 1 < REOPEN_TRIES => {
                tries += 1;
                tracing::warn!(error = %e, "cannot open the node again; trying again");
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(None),
            _ = tokio::time::sleep(cluster::WATCH) => {}
        }
    }
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    // Segment's browser SDK (analytics-next) posts to the short forms (`/v1/t`, …, and
    // `/v1/b` when it batches); its server SDKs and RudderStack's use the long ones.
    let capture = Router::new()
        .route("/v1/track", post(capture::track))
        .route("/v1/t", post(capture::track))
        .route("/v1/page", post(capture::page))
        .route("/v1/p", post(capture::page))
        .route("/v1/screen", post(capture::screen))
        .route("/v1/s", post(capture::screen))
        .route("/v1/identify", post(capture::identify))
        .route("/v1/i", post(capture::identify))
        .route("/v1/group", post(capture::group))
        .route("/v1/g", post(capture::group))
        .route("/v1/alias", post(capture::alias))
        .route("/v1/a", post(capture::alias))
        .route("/v1/batch", post(capture::batch))
        .route("/v1/b", post(capture::batch))
        .route("/v1/projects/{write_key}/settings", get(capture::sdk_settings))
        .route("/v1/in-page", get(capture::in_page))
        .route("/sourceConfig", get(capture::source_config))
        .route("/sourceConfig/", get(capture::source_config))
        .layer(tower_http::cors::CorsLayer::very_permissive().max_age(std::time::Duration::from_secs(86_400)));
    let api = Router::new()
        .route("/api/project", get(read::project).put(read::put_project))
        .route("/api/project/identity-secret", get(read::identity_secret))
        .route("/api/keys", get(read::keys).post(read::add_key))
        .route("/api/keys/{id}", axum::routing::delete(read::revoke_key))
        .route("/api/touchpoints", get(read::touchpoints).post(read::post_touchpoint))
        .route("/api/touchpoints/{key}", put(read::put_touchpoint))
        .route("/api/rules", get(read::rules).post(read::add_rule))
        .route("/api/rules/test", post(read::test_rule))
        .route("/api/rules/{id}", put(read::put_rule).delete(read::delete_rule))
        .route("/api/customers", get(read::customers))
        .route("/api/customers/lookup", get(read::lookup))
        .route("/api/customers/search", get(read::search_customers))
        .route("/api/customers/{id}", get(read::customer).delete(read::erase_customer))
        .route("/api/customers/{id}/export", get(read::export_customer))
        .route("/api/customers/{id}/timeline", get(read::timeline))
        .route("/api/customers/{id}/preferences", get(triggers::preferences).put(triggers::put_preferences))
        .route("/api/failed-events", get(read::failed_events).delete(read::clear_failed_events))
        .route("/api/identity-conflicts", get(read::conflicts))
        .route("/api/volume", get(read::volume))
        .route("/api/live", get(live::live))
        .route("/api/analytics/{kind}", post(analytics::analyze))
        .route("/api/listening/{kind}", post(listening::analyze))
        .route("/api/benchmarks", post(listening::post_benchmarks))
        .route("/api/triggers", get(triggers::list).post(triggers::create))
        .route("/api/triggers/preview", post(triggers::preview_definition))
        .route("/api/triggers/{key}", get(triggers::get_one).put(triggers::edit))
        .route("/api/triggers/{key}/pause", post(triggers::pause))
        .route("/api/triggers/{key}/resume", post(triggers::resume))
        .route("/api/triggers/{key}/rotate-secret", post(triggers::rotate))
        .route("/api/triggers/{key}/preview", get(triggers::preview))
        .route("/api/triggers/{key}/report", get(triggers::report))
        .route("/api/triggers/{key}/firings", get(triggers::firings))
        .route("/api/triggers/{key}/replay", post(triggers::replay))
        .route("/api/kb/articles", get(kb::list).post(kb::create))
        .route("/api/kb/articles/{id}", get(kb::get_one).put(kb::edit))
        .route("/api/kb/articles/{id}/versions", get(kb::versions))
        .route("/api/kb/search", get(kb::search))
        .route("/api/self-service", get(kb::report))
        .route("/api/requests", get(requests::list))
        .route("/api/requests/mirror", axum::routing::post(requests::mirror))
        .route("/api/requests/{id}", get(requests::get_one).patch(requests::change))
        .route("/api/portal/links", axum::routing::post(requests::link))
        .route("/api/surveys", get(surveys::list).post(surveys::create))
        .route("/api/surveys/{key}", get(surveys::get_one).put(surveys::edit))
        .route("/api/surveys/{key}/publish", post(surveys::publish))
        .route("/api/surveys/{key}/close", post(surveys::close))
        .route("/api/surveys/{key}/invitations", post(surveys::invitations))
        .route("/api/surveys/{key}/responses", get(surveys::export).post(surveys::post_responses))
        // The key is checked before anything else of the request is read.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_secret_key));
    let pages = Router::new()
        .route("/s/{token}", get(pages::invitation_page).post(pages::invitation_submit))
        .route("/o/{public_id}", get(pages::open_page).post(pages::open_submit))
        .route("/u/{token}", get(triggers::unsubscribe_form).post(triggers::unsubscribe_post))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), pages::frame_ancestors));
    Router::new()
        .merge(capture)
        .merge(api)
        .merge(pages)
        .route("/widget.js", get(pages::widget_js))
        .route("/touchpoint.js", get(dashboard::snippet))
        .route("/portal/{project}", get(portal::home))
        .route("/portal/{project}/kb/{article}", get(portal::article))
        .route("/portal/{project}/kb/{article}/helpful", axum::routing::post(portal::rate))
        .route("/portal/{project}/signin", get(portal_me::signin_form).post(portal_me::signin_post))
        .route("/portal/{project}/signin/{token}", get(portal_me::link_page).post(portal_me::link_post))
        .route("/portal/{project}/signout", axum::routing::post(portal_me::signout))
        .route("/portal/{project}/requests", get(portal_me::requests).post(portal_me::open_request))
        .route("/portal/{project}/suggest", get(portal_me::suggestions))
        .route("/portal/{project}/requests/{id}", get(portal_me::request).post(portal_me::reply))
        .route("/portal/{project}/account", get(portal_me::account))
        .route("/portal/{project}/account/preferences", axum::routing::post(portal_me::preferences))
        .route("/portal/{project}/account/signout-everywhere", axum::routing::post(portal_me::signout_everywhere))
        .route("/portal/{project}/account/export", get(portal_me::export))
        .route("/portal/{project}/account/erase", axum::routing::post(portal_me::erase))
        .route("/", get(dashboard::dashboard))
        .route("/login", get(dashboard::login_form).post(dashboard::login))
        .route("/logout", axum::routing::post(dashboard::logout))
        .route("/set-password", get(dashboard::set_password_form).post(dashboard::set_password))
        .route("/account/password", axum::routing::post(dashboard::change_password))
        .route("/account/invitations", axum::routing::post(dashboard::invite))
        .route("/account/people", get(dashboard::people))
        .route("/assets/{name}", get(dashboard::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count_requests))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> error::ApiError {
    error::Error::not_found(format!("no route {}; see /openapi.json", uri.path())).into()
}

/// `GET /healthz`: the process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the store answers and the writer runs.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match s.store.projects().await {
        Ok(p) => {
            let mut ready = serde_json::json!({"status": "ready", "projects": p.len()});
            // In a cluster, which part this node has (the test of a failover watches it).
            if let Some(role) = s.cluster.as_deref() {
                ready["role"] = serde_json::json!(if role.writes() { "writes" } else { "relays" });
            }
            (StatusCode::OK, Json(ready))
        }
        Err(e) => {
            tracing::error!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable"})))
        }
    }
}
