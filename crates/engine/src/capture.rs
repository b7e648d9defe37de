//! Capture, once for every front end: a Segment-spec body turned into a submission for the
//! single writer — one event for the single-event routes, a batch whose items are parsed
//! one by one (a rejected item is kept as a failed event with its reason and exactly the
//! bytes it was sent as, the others go on) — and handing a submission to the writer. The
//! HTTP capture routes read the body (size limits, decompression), find the write key,
//! count the key's rate limit and keep whole rejected bodies; the rest is here.

use crate::error::{Code, Error, ItemError};
use crate::Engine;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use touchpoint_core::event::{json_kind, ParseContext, VERIFIED_EMAIL};
use touchpoint_core::{Event, EventType, Limits, ProjectId};
use touchpoint_listen::invite;
use touchpoint_store::writer::{Receipt, Submission, SubmitError};
use touchpoint_store::NewFailedEvent;

/// A batch body with its members still raw.
pub type BatchBody<'a> = HashMap<String, &'a RawValue>;

/// A rejected item or body, kept as a failed event.
pub fn failed(project: ProjectId, at: i64, field: &str, reason: &str, raw: Vec<u8>) -> NewFailedEvent {
    NewFailedEvent { project, received_at: at, source: "api".into(), field: field.into(), reason: reason.into(), raw }
}

/// One event of a single-event route (`/v1/track` …), received at `at`; `vouched` when
/// the sender is believed ([`ParseContext::vouched`]: a server key).
pub fn parse_one(value: Value, endpoint: EventType, at: i64, limits: &Limits, vouched: bool) -> Result<Event, Error> {
    let cx = ParseContext { endpoint_type: Some(endpoint), received_at: at, vouched, ..Default::default() };
    Event::parse(value, &cx, limits)
        .map_err(|e| Error::invalid(Code::InvalidEvent, Some(e.field.clone()), e.to_string()))
}

/// A batch body (`{"batch": [...], "sentAt", "context"}`) of `project`, received at `at`:
/// the submission (the items that parse, and the failed ones with their raw bytes) and the
/// rejected items. An error is about the body as a whole (no `batch` array, a bad
/// `sentAt`): nothing of it is stored. `vouched` as for [`parse_one`].
pub fn parse_batch(
    body: &BatchBody<'_>,
    project: ProjectId,
    at: i64,
    limits: &Limits,
    vouched: bool,
) -> Result<(Submission, Vec<ItemError>), Error> {
    let items: Vec<&RawValue> = match body.get("batch").map(|b| serde_json::from_str::<Vec<&RawValue>>(b.get())) {
        Some(Ok(items)) => items,
        other => {
            let what = match other {
                None => "missing",
                Some(_) => body
                    .get("batch")
                    .and_then(|b| serde_json::from_str::<Value>(b.get()).ok())
                    .as_ref()
                    .map(json_kind)
                    .unwrap_or("invalid"),
            };
            return Err(Error::invalid(
                Code::InvalidBatch,
                Some("batch".into()),
                format!("batch: must be an array of events, not {what}"),
            ));
        }
    };
    let sent_at: Option<Value> = body.get("sentAt").and_then(|v| serde_json::from_str(v.get()).ok());
    // The batch's own time is checked once, whether or not an event falls back on it.
    if let Some(Err(m)) = sent_at.as_ref().map(touchpoint_core::event::parse_time) {
        return Err(Error::invalid(Code::InvalidBatch, Some("sentAt".into()), format!("sentAt: {m}")));
    }
    let context: Option<Map<String, Value>> = body.get("context").and_then(|v| serde_json::from_str(v.get()).ok());
    let mut sub = Submission { project, ..Default::default() };
    let mut item_errors = vec![];
    for (i, item) in items.into_iter().enumerate() {
        let cx = ParseContext {
            path: format!("batch[{i}]"),
            received_at: at,
            batch_sent_at: sent_at.as_ref(),
            batch_context: context.as_ref(),
            vouched,
            ..Default::default()
        };
        let parsed = match Event::parse_fast(item.get(), &cx, limits) {
            Some(e) => Ok(e),
            None => serde_json::from_str::<Value>(item.get())
                .map_err(|e| touchpoint_core::EventError::new(cx.path.clone(), format!("not valid JSON: {e}")))
                .and_then(|v| Event::parse(v, &cx, limits)),
        };
        match parsed {
            Ok(e) => sub.events.push(e),
            Err(e) => {
                sub.failed.push(failed(project, at, &e.field, &e.message, item.get().as_bytes().to_vec()));
                item_errors.push(ItemError { index: i, field: e.field.clone(), message: e.to_string() });
            }
        }
    }
    Ok((sub, item_errors))
}

/// A project's identity secret, for its admins to put in their servers' configuration
/// (`GET /api/project/identity-secret`, `touchpoint project identity-secret`): see
/// [`vouch_page_addresses`].
pub async fn identity_secret(store: &dyn touchpoint_store::Store, project: ProjectId) -> Result<String, Error> {
    Ok(invite::identity_secret(&store.project_secret(project).await?))
}

/// The identify calls of a submission whose `email` the brand's own server vouched for in
/// the page (identity verification): `context.email_hmac` is the HMAC-SHA256 of the user
/// id and the address under the project's identity secret ([`invite::check_email_hmac`];
/// only the brand's servers hold the secret), so the address becomes one rule e-mails may go to
/// ([`VERIFIED_EMAIL`]), as if a server key had sent it. Anything else is left as sent: a
/// missing or wrong HMAC only means the address is not vouched for, never a rejected event.
pub async fn vouch_page_addresses(engine: &Engine, sub: &mut Submission) -> Result<(), Error> {
    let mut secret: Option<String> = None;
    for e in &mut sub.events {
        // Cheap tests first: most events are no identify with an address and an HMAC.
        if e.kind != EventType::Identify || !e.body_json.contains("email_hmac") {
            continue;
        }
        let (Some(user), Some(traits)) = (e.user_id.as_deref(), e.traits.as_mut()) else { continue };
        if traits.contains_key(VERIFIED_EMAIL) {
            continue;
        }
        let Some(email) = traits.get("email").and_then(Value::as_str).map(str::trim).filter(|a| a.contains('@')) else {
            continue;
        };
        let body: Value = serde_json::from_str(&e.body_json).unwrap_or_default();
        let Some(sent) = body.pointer("/context/email_hmac").and_then(Value::as_str) else { continue };
        if secret.is_none() {
            secret = Some(identity_secret(&*engine.store, sub.project).await?);
        }
        if secret.as_deref().is_some_and(|k| invite::check_email_hmac(k, user, email, sent)) {
            let email = email.to_string();
            traits.insert(VERIFIED_EMAIL.into(), Value::String(email));
        }
    }
    Ok(())
}

/// Hand a submission to the writer and wait for the group commit that holds it; a writer
/// that cannot keep up (or a store that is down) is `overloaded`: nothing was stored.
pub async fn submit(engine: &Engine, mut sub: Submission) -> Result<Receipt, Error> {
    vouch_page_addresses(engine, &mut sub).await?;
    engine.writer.submit(sub).await.map_err(|e| match e {
        SubmitError::Busy => Error::overloaded(
            1,
            "Touchpoint is receiving more events than it can store right now; nothing was stored, retry shortly",
        ),
        SubmitError::Unavailable(cause) => {
            tracing::error!(%cause, "store unavailable");
            Error::overloaded(5, "the event store is unavailable; nothing was stored, retry shortly")
        }
    })
}
