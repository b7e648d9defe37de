//! `GET /api/live`: the live stream of a project's arriving events as server-sent events,
//! for the dashboard's live view. The stream itself — subscribing to the commit bus,
//! counting each second, the bounds — is the engine's ([`touchpoint_engine::live`]); this
//! only translates its messages into SSE (`event: tick` / `event: lagged`, JSON `data:`)
//! and its refusals into the one error answer.
//!
//! Callers are those of every `/api` route: a secret key, or a signed-in person with any
//! role on the project (viewers may watch). A browser's `EventSource` cannot send headers,
//! so for this route a session may name its project with `?project=ID` instead of
//! `X-Touchpoint-Project` ([`crate::dashboard::session_caller`]); a `project` that is not
//! the caller's is refused.

use crate::auth::ApiCaller;
use crate::error::{ApiError, Error};
use crate::extract::ApiQuery;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use touchpoint_engine::live::{self, Message};

/// `?project=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The project to watch: for a dashboard session, which cannot send the
    /// `X-Touchpoint-Project` header from `EventSource`; with a key (or the header) it must
    /// be the same project, or be left out.
    pub project: Option<i64>,
}

/// One message as an SSE event: its name, and its JSON.
fn sse_event(m: &Message) -> Result<Event, axum::Error> {
    let e = Event::default().event(m.name());
    match m {
        Message::Tick(t) => e.json_data(t),
        Message::Lagged(l) => e.json_data(l),
    }
}

/// `GET /api/live`
#[utoipa::path(get, path = "/api/live", tag = "read", params(LiveQuery),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "Server-sent events, until the client goes away: `event: tick` about once a second when events arrived (and as a heartbeat after 15 s without one, and at once on opening), its `data:` a `LiveTick`; `event: lagged` when the stream missed commits, its `data:` a `LiveLagged`."),
        (status = 403, description = "`project` names another project than the key's or the session's, or the session's person has no role on it"),
        (status = 503, description = "`too_many_streams`: the server serves as many live streams as it may (`live_streams`); retry after `Retry-After`"),
    ),
    security(("bearer" = [])))]
pub async fn live(
    State(s): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<LiveQuery>,
) -> Result<Response, ApiError> {
    if let Some(p) = q.project.filter(|p| *p != caller.project_id) {
        return Err(Error::forbidden(format!(
            "this request is for project {}, and project={p} names another; a key watches its own project",
            caller.project_id
        ))
        .at("project")
        .into());
    }
    let stream = live::open(&s.engine, caller.project_id).await?;
    let events = futures::stream::unfold(stream, |mut stream| async move {
        let m = stream.next().await?;
        Some((sse_event(&m), stream))
    });
    let mut r = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // A buffering proxy (nginx) would hold the ticks back.
    r.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(r)
}
