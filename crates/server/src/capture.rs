//! The capture API, compatible with Segment's HTTP Tracking API: `/v1/track`, `/v1/page`,
//! `/v1/screen`, `/v1/identify`, `/v1/group`, `/v1/alias` and `/v1/batch`.
//!
//! A request is read with a size limit (checked again after gzip decompression, so a gzip
//! bomb is refused), parsed, authenticated, validated event by event, rate limited and
//! handed to the single writer; the answer comes only after the group commit that stored
//! it. Whatever is rejected for its content is kept as a failed event with its reason.

use crate::auth::header_token;
use crate::error::{ApiError, Code, Error, ItemError};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use futures::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use std::io::Read;
use touchpoint_core::event::json_kind;
use touchpoint_core::EventType;
use touchpoint_engine::capture::{self, failed, BatchBody};
use touchpoint_store::writer::Submission;
use touchpoint_store::{now_ms, KeyInfo};

/// The answer to a capture request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaptureResponse {
    /// Always true on a 200.
    pub success: bool,
    /// Events stored by this request.
    pub stored: usize,
    /// Events already stored before (same messageId): acknowledged, not stored twice.
    pub duplicates: usize,
    /// Events a node that does not write itself kept for the writing node, which did not
    /// answer in time (it is restarting): acknowledged, stored once it takes them (only in
    /// a scale-out cluster; absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub queued: usize,
    /// Batch items that were rejected and kept as failed events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<ItemError>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

macro_rules! endpoint {
    ($name:ident, $ty:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "capture",
            request_body(content = Object, description = "One Segment-spec event", content_type = "application/json"),
            responses(
                (status = 200, description = "Stored (durably committed)", body = CaptureResponse),
                (status = 400, description = "Invalid JSON or event; kept as a failed event"),
                (status = 401, description = "Missing or unknown write key"),
                (status = 413, description = "Body or event too large"),
                (status = 429, description = "Rate limit; see Retry-After"),
                (status = 503, description = "The store cannot keep up; see Retry-After"),
            ),
            security(("basic" = []))
        )]
        pub async fn $name(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<CaptureResponse>, ApiError> {
            capture(s, headers, body, Some($ty)).await
        }
    };
}

endpoint!(track, EventType::Track, "/v1/track", "Record an action the customer took.");
endpoint!(page, EventType::Page, "/v1/page", "Record a web page view.");
endpoint!(screen, EventType::Screen, "/v1/screen", "Record an app screen view.");
endpoint!(identify, EventType::Identify, "/v1/identify", "Say who the customer is, with traits.");
endpoint!(group, EventType::Group, "/v1/group", "Tie the customer to a group (company, account).");
endpoint!(alias, EventType::Alias, "/v1/alias", "Say that two ids are one customer.");

/// Record many events of any type: `{"batch": [...], "sentAt": ..., "context": ...}`.
#[utoipa::path(post, path = "/v1/batch", tag = "capture",
    request_body(content = Object, description = "`{\"batch\": [event, …]}`", content_type = "application/json"),
    responses(
        (status = 200, description = "Valid events stored; rejected items listed in `failed`", body = CaptureResponse),
        (status = 400, description = "Not a batch, or every item rejected"),
        (status = 401, description = "Missing or unknown write key"),
        (status = 413, description = "Body too large"),
        (status = 429, description = "Rate limit; see Retry-After"),
        (status = 503, description = "The store cannot keep up; see Retry-After"),
    ),
    security(("basic" = []))
)]
pub async fn batch(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CaptureResponse>, ApiError> {
    capture(s, headers, body, None).await
}

enum ReadError {
    TooLarge(Vec<u8>),
    Io(String),
}

/// Read a body up to `limit` bytes; past it, keep what was read.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ReadError> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Io(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            buf.extend_from_slice(&chunk[..limit - buf.len()]);
            return Err(ReadError::TooLarge(buf));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.into())
}

/// Undo a Content-Encoding, refusing output over `limit` bytes.
fn decode(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, (Error, Vec<u8>)> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let read = match encoding.as_str() {
        "" | "identity" => return Ok(raw),
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&raw[..]).take(limit as u64 + 1).read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&raw[..]).take(limit as u64 + 1).read_to_end(&mut out),
        other => {
            return Err((
                Error::new(
                    Code::UnsupportedEncoding,
                    format!("Content-Encoding {other:?} is not supported; use gzip, deflate or none"),
                ),
                raw.to_vec(),
            ))
        }
    };
    match read {
        Err(e) => Err((
            Error::invalid(Code::InvalidBody, None, format!("the body is not valid {encoding}: {e}")),
            raw.to_vec(),
        )),
        Ok(_) if out.len() > limit => {
            out.truncate(limit);
            Err((
                Error::new(
                    Code::PayloadTooLarge,
                    format!("the body is larger than {limit} bytes after {encoding} decompression"),
                ),
                out,
            ))
        }
        Ok(_) => Ok(out.into()),
    }
}

impl AppState {
    /// Keep a whole rejected request as one failed event (when we know its project), then
    /// return the error. A rejection costs one event of the key's rate limit: past it the
    /// request gets 429 and nothing is kept, so a public write key cannot fill the disk
    /// faster than its rate (and the project's failed-event quota bounds the total).
    async fn reject(&self, key: Option<&KeyInfo>, at: i64, err: Error, raw: Vec<u8>) -> ApiError {
        self.metrics.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(k) = key {
            if let Err(retry_after) = self.limiter.take(k.id, 1) {
                return Error::rate_limited(retry_after).into();
            }
            let field = err.field.clone().unwrap_or_default();
            let sub = Submission {
                project: k.project_id,
                events: vec![],
                failed: vec![failed(k.project_id, at, &field, &err.message, raw)],
            };
            if let Err(e) = self.writer.submit_wait(sub).await {
                tracing::warn!(error = %e, "could not keep a failed request");
            }
        }
        err.into()
    }

    /// The write or server key a capture request names: a secret key is refused, since a
    /// key sent from a web page or an app is public.
    async fn write_key(&self, token: Option<&str>) -> Result<KeyInfo, ApiError> {
        let key = self.key(token).await?;
        if !key.kind.can_send() {
            return Err(Error::forbidden(
                "this is a secret key (tps_…): it must never be sent from a web page or an app; send events with the project's write key (tpw_…), or from your own servers with a server key (tpsrv_…)",
            )
            .into());
        }
        Ok(key)
    }
}

async fn capture(
    s: AppState,
    headers: HeaderMap,
    body: Body,
    endpoint: Option<EventType>,
) -> Result<Json<CaptureResponse>, ApiError> {
    let at = now_ms();
    let header_key = match header_token(&headers)? {
        Some(t) => Some(s.write_key(Some(&t)).await?),
        None => None,
    };
    let limit = s.config.max_batch_bytes;
    let raw = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(ReadError::TooLarge(partial)) => {
            let err = Error::new(
                Code::PayloadTooLarge,
                format!("the body is larger than {limit} bytes; send smaller batches"),
            );
            return Err(s.reject(header_key.as_ref(), at, err, partial).await);
        }
        Err(ReadError::Io(e)) => {
            return Err(Error::invalid(Code::InvalidBody, None, format!("could not read the body: {e}")).into())
        }
    };
    let bytes = match decode(&headers, raw, limit) {
        Ok(b) => b,
        Err((err, raw)) => return Err(s.reject(header_key.as_ref(), at, err, raw).await),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("the body is not valid JSON: it is not UTF-8 ({e})");
            let err = Error::invalid(Code::InvalidJson, None, message);
            return Err(s.reject(header_key.as_ref(), at, err, bytes.to_vec()).await);
        }
    };
    let json_error = |e: serde_json::Error| {
        let message = if e.to_string().contains("recursion limit") {
            "the body is not valid JSON: it is nested more than 128 levels deep".to_string()
        } else {
            format!("the body is not valid JSON: {e}")
        };
        Error::invalid(Code::InvalidJson, None, message)
    };
    let limits = s.config.limits();
    let mut item_errors = vec![];
    let (key, sub) = match endpoint {
        Some(ty) => {
            let value: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => return Err(s.reject(header_key.as_ref(), at, json_error(e), bytes.to_vec()).await),
            };
            let key = match header_key {
                Some(k) => k,
                None => s.write_key(value.get("writeKey").and_then(Value::as_str)).await?,
            };
            match capture::parse_one(value, ty, at, &limits, key.kind.vouches()) {
                Ok(e) => (key.clone(), Submission { project: key.project_id, events: vec![e], failed: vec![] }),
                Err(err) => return Err(s.reject(Some(&key), at, err, bytes.to_vec()).await),
            }
        }
        None => {
            // Items stay raw until each is parsed on its own, so a rejected one is kept
            // exactly as it was sent.
            let parsed: Result<BatchBody<'_>, _> = match serde_json::from_str::<&RawValue>(text) {
                Err(e) => return Err(s.reject(header_key.as_ref(), at, json_error(e), bytes.to_vec()).await),
                Ok(raw) if !raw.get().trim_start().starts_with('{') => {
                    let kind =
                        serde_json::from_str::<Value>(raw.get()).map(|v| json_kind(&v)).unwrap_or("not an object");
                    let err = Error::invalid(
                        Code::InvalidBatch,
                        None,
                        format!("the body must be an object like {{\"batch\": [...]}}, not {kind}"),
                    );
                    return Err(s.reject(header_key.as_ref(), at, err, bytes.to_vec()).await);
                }
                Ok(raw) => serde_json::from_str(raw.get()),
            };
            let body = match parsed {
                Ok(b) => b,
                Err(e) => return Err(s.reject(header_key.as_ref(), at, json_error(e), bytes.to_vec()).await),
            };
            let key = match header_key {
                Some(k) => k,
                None => {
                    s.write_key(body.get("writeKey").and_then(|v| serde_json::from_str::<&str>(v.get()).ok())).await?
                }
            };
            match capture::parse_batch(&body, key.project_id, at, &limits, key.kind.vouches()) {
                Ok((sub, errors)) => {
                    item_errors = errors;
                    (key, sub)
                }
                Err(err) => return Err(s.reject(Some(&key), at, err, bytes.to_vec()).await),
            }
        }
    };
    if let Err(retry_after) = s.limiter.take(key.id, sub.events.len().max(1)) {
        return Err(Error::rate_limited(retry_after).into());
    }
    let all_failed = sub.events.is_empty() && !item_errors.is_empty();
    let receipt = capture::submit(&s, sub).await?;
    if all_failed {
        let n = item_errors.len();
        let message = format!("all {n} events of the batch were rejected (kept as failed events)");
        return Err(Error::invalid(Code::InvalidBatch, Some("batch".into()), message).with_failed(item_errors).into());
    }
    Ok(Json(CaptureResponse {
        success: true,
        stored: receipt.stored,
        duplicates: receipt.duplicates,
        queued: receipt.queued,
        failed: item_errors,
    }))
}

/// `GET /v1/in-page`'s query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InPageQuery {
    /// The project's write key (or in an `Authorization: Basic` header, as Segment sends it).
    #[serde(rename = "writeKey")]
    #[param(rename = "writeKey")]
    pub write_key: Option<String>,
    /// The visitor's anonymous id: 1 to 200 characters.
    #[serde(rename = "anonymousId", default)]
    #[param(rename = "anonymousId", required = true, min_length = 1, max_length = 200)]
    pub anonymous_id: String,
    /// The page's language, used when the customer's is not known.
    pub lang: Option<String>,
}

/// What a page is asked to show.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InPageResponse {
    /// At most one action: the next in-page survey a rule decided for this visitor.
    pub actions: Vec<touchpoint_engine::triggers::in_page::InPageAction>,
}

/// `GET /v1/in-page`: what the capture snippet (`/touchpoint.js`) asks after it sends
/// events and when a page opens — the next in-page survey a trigger rule
/// (`then: {kind: in_page}`) decided for this visitor, taken so that no other page shows
/// it again. Authenticated by the write key, like capture, and rate limited with it.
#[utoipa::path(get, path = "/v1/in-page", tag = "capture",
    params(InPageQuery),
    responses(
        (status = 200, description = "The actions to take (empty when none)", body = InPageResponse),
        (status = 429, description = "Rate limit; see Retry-After"),
    ),
    security(("basic" = []))
)]
pub async fn in_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<InPageQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use touchpoint_engine::triggers::in_page;
    let key = match header_token(&headers)? {
        Some(t) => s.write_key(Some(&t)).await?,
        None => s.write_key(q.write_key.as_deref()).await?,
    };
    let visitor = in_page::Visitor::parse(Some(&q.anonymous_id), q.lang.as_deref())?;
    if let Err(retry_after) = s.limiter.take(key.id, 1) {
        return Err(Error::rate_limited(retry_after).into());
    }
    let base = crate::surveys::base_url(&s, &headers);
    let actions = in_page::take(&*s.store, key.project_id, &visitor, &base).await?;
    let mut r = Json(InPageResponse { actions }).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /v1/projects/{writeKey}/settings`: the settings document Segment's browser SDK
/// (analytics.js 2.0, `@segment/analytics-next`) loads from its CDN before sending
/// anything. Served here, a page needs only
/// `AnalyticsBrowser.load({ writeKey, cdnURL: "https://touchpoint.example" })`: the
/// Segment.io integration's `apiHost` points back at this server's `/v1`, and nothing
/// else is turned on (no device-mode destinations, no middleware, no metrics to Segment).
#[utoipa::path(get, path = "/v1/projects/{write_key}/settings", tag = "capture",
    params(("write_key" = String, Path, description = "The project's write key")),
    responses(
        (status = 200, description = "The settings document for analytics-next", body = Object),
        (status = 401, description = "Unknown write key"),
        (status = 403, description = "A secret key: never put one in a web page"),
    ))]
pub async fn sdk_settings(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ApiPath(write_key): crate::extract::ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    s.write_key(Some(&write_key)).await?;
    let base = crate::surveys::base_url(&s, &headers);
    let (protocol, host) = base.split_once("://").unwrap_or(("http", base.as_str()));
    Ok(Json(serde_json::json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": format!("{host}/v1"),
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": false,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {
            "track": {"__default": {"enabled": true, "integrations": {}}},
            "identify": {"__default": {"enabled": true}},
            "group": {"__default": {"enabled": true}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0.0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": [],
    })))
}

/// The query of `GET /sourceConfig`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SourceConfigQuery {
    /// The write key (RudderStack's SDK also sends it as the Basic auth user name).
    #[serde(rename = "writeKey")]
    pub write_key: Option<String>,
}

/// `GET /sourceConfig`: the source configuration RudderStack's JavaScript SDK (v3) loads
/// from its `configUrl` before sending anything: enabled, with no device-mode destinations,
/// so a page needs only `rudderanalytics.load(writeKey, "https://touchpoint.example",
/// { configUrl: "https://touchpoint.example" })`.
#[utoipa::path(get, path = "/sourceConfig", tag = "capture", params(SourceConfigQuery),
    responses(
        (status = 200, description = "The source configuration for RudderStack's SDK", body = Object),
        (status = 401, description = "Missing or unknown write key"),
        (status = 403, description = "A secret key: never put one in a web page"),
    ))]
pub async fn source_config(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<SourceConfigQuery>,
) -> Result<Json<Value>, ApiError> {
    let token = match header_token(&headers)? {
        Some(t) => Some(t),
        None => q.write_key,
    };
    let key = s.write_key(token.as_deref()).await?;
    let name = s.store.project(key.project_id).await?.map(|p| p.name).unwrap_or_default();
    Ok(Json(serde_json::json!({
        "isHosted": false,
        "source": {
            "id": format!("touchpoint-{}", key.project_id),
            "name": name,
            "writeKey": token,
            "enabled": true,
            "workspaceId": format!("touchpoint-{}", key.project_id),
            "config": {},
            "destinations": [],
        },
    })))
}
