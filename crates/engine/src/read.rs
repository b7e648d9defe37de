//! The read and admin API under `/api`, for secret keys: the touchpoint catalog and its
//! rules (changing a rule re-classifies past events), customers with their identities and
//! timelines, failed events, identity conflicts and daily volume per touchpoint.

use crate::error::{Code, Error};
use crate::Engine;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use touchpoint_core::event::format_time;
use touchpoint_core::{Channel, Lang, Localized, Touchpoint, TouchpointKind};
use touchpoint_store::{Conflict, Identity, Project, Store, StoredEvent, StoredTouchpoint};

/// What `PUT /api/project` may change. A field not given is kept; for the brand's
/// fields, an empty text removes the setting.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// IANA time zone for days, weeks and months (`Europe/Prague`).
    pub timezone: Option<String>,
    /// Days of silence after which a customer counts as churned (1 to 3650).
    pub churn_horizon_days: Option<i64>,
    /// The brand's name in the survey pages' header (at most 100 characters).
    pub brand_name: Option<String>,
    /// The brand's colour for buttons, progress and chosen answers, as `#rrggbb`.
    pub brand_color: Option<String>,
    /// The brand's logo in the survey pages' header: an https URL.
    pub brand_logo_url: Option<String>,
    /// The brand's privacy page, linked in the survey pages' footer: an https URL.
    pub privacy_url: Option<String>,
    /// The language survey pages open in when the respondent asks for none the survey
    /// has: `en`, `cs` or `pl`.
    pub default_lang: Option<String>,
    /// The brand's websites, which may show its survey pages in a frame (the widget):
    /// origins separated by spaces, e.g. `https://zahradka.cz https://www.zahradka.cz`.
    pub site_origins: Option<String>,
}

/// Revoke a project's key (shared with the CLI): from then on it is refused everywhere
/// (servers re-check a key they know at least every [`KEY_RECHECK_S`] seconds). Not the
/// project's last secret key: make another first, or nothing could administer the
/// project with a key.
pub async fn revoke_key(store: &dyn Store, project: i64, id: i64) -> Result<touchpoint_store::KeyInfo, Error> {
    // The store decides, in one turn per project: two revocations of the last two secret
    // keys at once (two nodes) leave one.
    match store.revoke_key(project, id, touchpoint_store::now_ms()).await? {
        touchpoint_store::Revoked::Done(k) => Ok(k),
        touchpoint_store::Revoked::LastSecret => Err(Error::new(
            Code::Conflict,
            "this is the project's last secret key: make another first (POST /api/keys, or touchpoint key create --kind secret), then revoke this one",
        )),
        touchpoint_store::Revoked::NoSuchKey => {
            let keys = store.keys(project).await?;
            let ids: Vec<String> = keys.iter().map(|k| format!("{} ({}…)", k.id, k.prefix)).collect();
            Err(Error::missing(
                "id",
                format!("no key {id} in this project (or it was revoked already); its keys: {}", ids.join(", ")),
            ))
        }
    }
}

/// How long a server trusts a key it has seen before asking the store again: a key
/// revoked elsewhere (the CLI, another node) is refused within this.
pub const KEY_RECHECK_S: u64 = 10;

/// Check and apply project settings (shared with the CLI).
pub async fn update_project(store: &dyn Store, project: &Project, set: ProjectSettings) -> Result<Project, Error> {
    let timezone = match &set.timezone {
        Some(tz) => {
            crate::tz::parse_zone(tz)
                .map_err(|e| Error::invalid(Code::InvalidProject, Some("timezone".into()), format!("timezone: {e}")))?;
            tz.clone()
        }
        None => project.timezone.clone(),
    };
    let horizon = set.churn_horizon_days.unwrap_or(project.churn_horizon_days);
    if !(1..=3650).contains(&horizon) {
        return Err(Error::invalid(
            Code::InvalidProject,
            Some("churn_horizon_days".into()),
            "churn_horizon_days: from 1 to 3650",
        ));
    }
    let brand = set
        .brand_after(&project.brand)
        .map_err(|(field, message)| Error::invalid(Code::InvalidProject, Some(field.into()), message))?;
    // Everything is checked before anything is written.
    let mut updated = store.update_project(project.id, &timezone, horizon).await?;
    if brand != updated.brand {
        updated = store.set_project_brand(project.id, &brand).await?;
    }
    Ok(updated)
}

/// A touchpoint as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TouchpointView {
    /// Store id.
    pub id: i64,
    /// Key.
    pub key: String,
    /// Name in the asked language.
    pub name: String,
    /// Names in every language.
    #[schema(value_type = Object)]
    pub names: Localized,
    /// Channel.
    #[schema(value_type = String)]
    pub channel: Channel,
    /// direct / indirect.
    #[schema(value_type = String)]
    pub kind: TouchpointKind,
    /// Stage key.
    pub stage: Option<String>,
    /// Owning department.
    pub department: Option<String>,
    /// Conversion goal.
    pub conversion: bool,
    /// Churn signal.
    pub churn: bool,
    /// Found automatically, not classified yet.
    pub discovered: bool,
}

pub fn view(t: &StoredTouchpoint, lang: Lang) -> TouchpointView {
    let tp = &t.touchpoint;
    TouchpointView {
        id: t.id,
        key: tp.key.clone(),
        name: tp.names.get(lang).to_string(),
        names: tp.names.clone(),
        channel: tp.channel,
        kind: tp.kind,
        stage: tp.stage.clone(),
        department: tp.department.clone(),
        conversion: tp.conversion,
        churn: tp.churn,
        discovered: tp.discovered,
    }
}

/// A change to a touchpoint, as sent to `PUT /api/touchpoints/{key}`: every field is
/// optional and what is not sent stays as it is (`null` clears the stage or department).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TouchpointInput {
    /// Names in en/cs/pl.
    #[schema(value_type = Object)]
    pub names: Option<Localized>,
    /// Channel (web, app, email, ads, search, social, review, forum, blog, phone, store, chat, self-service, survey, other).
    #[schema(value_type = Option<String>)]
    pub channel: Option<Channel>,
    /// direct or indirect.
    #[schema(value_type = Option<String>)]
    pub kind: Option<TouchpointKind>,
    /// One of the project's stage keys; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub stage: Option<Option<String>>,
    /// Owning department; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    /// A conversion goal.
    pub conversion: Option<bool>,
    /// A churn signal.
    pub churn: Option<bool>,
}

/// A field that was sent, `null` included (`Some(None)`); absent stays `None`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A new touchpoint, as sent to `POST /api/touchpoints`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTouchpoint {
    /// Its stable key (`order-returned`): letters, digits, `-`, `_`, `:` and `.`.
    pub key: String,
    /// The rest, as for a change.
    #[serde(flatten)]
    pub fields: TouchpointInput,
}

/// Check a stage key against the project's stages.
fn check_stage(project: &Project, stage: &Option<String>) -> Result<(), Error> {
    match stage {
        Some(st) if !project.stages.iter().any(|s| &s.key == st) => {
            // The request names a stage the project does not have: not found, as a survey.
            let known: Vec<_> = project.stages.iter().map(|s| s.key.as_str()).collect();
            Err(Error::missing(
                "stage",
                format!("stage {st:?} is not one of this project's stages: {}", known.join(", ")),
            ))
        }
        _ => Ok(()),
    }
}

impl TouchpointInput {
    /// Apply the change to `tp` (a person classified it: it is no longer just discovered).
    fn apply(self, project: &Project, tp: &mut Touchpoint) -> Result<(), Error> {
        if let Some(stage) = &self.stage {
            check_stage(project, stage)?;
        }
        let TouchpointInput { names, channel, kind, stage, department, conversion, churn } = self;
        if let Some(n) = names {
            tp.names = n;
        }
        tp.channel = channel.unwrap_or(tp.channel);
        tp.kind = kind.unwrap_or(tp.kind);
        tp.stage = stage.unwrap_or(tp.stage.take());
        tp.department = department.unwrap_or(tp.department.take());
        tp.conversion = conversion.unwrap_or(tp.conversion);
        tp.churn = churn.unwrap_or(tp.churn);
        tp.discovered = false;
        Ok(())
    }
}

/// Change a touchpoint of `project` (shared with the CLI): an unknown key is a 404 that
/// names the nearest keys, never a new touchpoint.
pub async fn update_touchpoint(
    store: &dyn Store,
    project: &Project,
    tp_key: &str,
    change: TouchpointInput,
) -> Result<StoredTouchpoint, Error> {
    let all = store.touchpoints(project.id).await?;
    let Some(mut found) = all.iter().find(|t| t.touchpoint.key == tp_key).cloned() else {
        let hint = touchpoint_core::suggest::hint(tp_key, all.iter().map(|t| t.touchpoint.key.as_str()));
        return Err(Error::not_found(format!(
            "no touchpoint {tp_key:?}{hint} (to make a new one: POST /api/touchpoints or `touchpoint touchpoint add`)"
        )));
    };
    change.apply(project, &mut found.touchpoint)?;
    found.id = store.upsert_touchpoint(project.id, &found.touchpoint).await?;
    Ok(found)
}

/// Add a touchpoint to `project` (shared with the CLI); a taken key is a 409.
pub async fn create_touchpoint(
    store: &dyn Store,
    project: &Project,
    new: NewTouchpoint,
) -> Result<StoredTouchpoint, Error> {
    let key = new.key.trim().to_string();
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.');
    if key.is_empty() || key.chars().count() > 200 || !key.chars().all(ok) {
        return Err(Error::invalid(
            Code::InvalidField,
            Some("key".into()),
            "key: 1 to 200 letters, digits, -, _, : or . (like order-returned)",
        ));
    }
    if store.touchpoints(project.id).await?.iter().any(|t| t.touchpoint.key == key) {
        return Err(Error::conflict(format!("touchpoint {key:?} exists; change it with PUT /api/touchpoints/{key}")));
    }
    let mut tp = Touchpoint::discovered(&key, &key, Channel::Other);
    new.fields.apply(project, &mut tp)?;
    let id = store.upsert_touchpoint(project.id, &tp).await?;
    Ok(StoredTouchpoint { id, touchpoint: tp })
}

/// Paging of lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page (1–1000, default 100).
    pub limit: Option<usize>,
    /// Cursor from the previous page's `next`.
    pub cursor: Option<String>,
    /// en, cs or pl.
    pub lang: Option<String>,
}

impl Page {
    pub fn limit(&self) -> Result<usize, Error> {
        count_in("limit", self.limit, 100, 1000)
    }
    pub fn cursor_i64(&self) -> Result<Option<i64>, Error> {
        self.cursor.as_deref().map(|c| canonical_i64(c).ok_or_else(|| bad_cursor(c))).transpose()
    }
}

/// A count a query names (`limit`, `last`): `default` when absent, else from 1 to `max`.
pub fn count_in(field: &str, given: Option<usize>, default: usize, max: usize) -> Result<usize, Error> {
    match given.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        n => Err(Error::invalid(Code::InvalidQuery, Some(field.into()), format!("{field}: from 1 to {max}, not {n}"))),
    }
}

/// A number as this API writes it in a cursor (no sign, no leading zeros): what it gave out.
fn canonical_i64(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|n| n.to_string() == text)
}

fn bad_cursor(c: &str) -> Error {
    Error::invalid(Code::InvalidQuery, Some("cursor".into()), format!("cursor {c:?} is not one this API gave out"))
}

/// A page of items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// A customer's profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    /// Id.
    pub id: i64,
    /// Known user id.
    pub user_id: Option<String>,
    /// Traits from identify calls.
    #[schema(value_type = Object)]
    pub traits: serde_json::Map<String, Value>,
    /// First seen.
    pub created_at: String,
    /// Every id of this customer, including those of merged anonymous customers.
    #[schema(value_type = [Object])]
    pub identities: Vec<Identity>,
    /// Customers merged into this one.
    pub merged: Vec<i64>,
    /// Links to other known customers that were refused.
    #[schema(value_type = [Object])]
    pub conflicts: Vec<Conflict>,
}

/// A customer of `project` by id, as their canonical id (a merged-away id names the
/// customer it was merged into).
pub async fn canonical(store: &dyn Store, project: i64, id: i64) -> Result<i64, Error> {
    let c = store
        .customer(id)
        .await?
        .filter(|c| c.project_id == project)
        .ok_or_else(|| Error::not_found(format!("customer {id} not found")))?;
    Ok(c.merged_into.unwrap_or(c.id))
}

pub async fn profile_of(s: &Engine, project: i64, id: i64) -> Result<Profile, Error> {
    let id = canonical(&*s.store, project, id).await?;
    let c = s.store.customer(id).await?.ok_or_else(|| Error::not_found(format!("customer {id} not found")))?;
    let merged_ids = s.store.merged_ids(id).await?;
    let conflicts = s
        .store
        .conflicts(project, 1000)
        .await?
        .into_iter()
        .filter(|x| x.customer_id == id || x.other_customer_id == id)
        .collect();
    Ok(Profile {
        id,
        user_id: c.user_id,
        traits: c.traits,
        created_at: format_time(c.created_ms),
        identities: s.store.identities(id).await?,
        merged: merged_ids.into_iter().filter(|&m| m != id).collect(),
        conflicts,
    })
}

/// One entry of a timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Event id.
    pub id: i64,
    /// messageId.
    pub message_id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Track event, page or screen name.
    pub name: Option<String>,
    /// Touchpoint key.
    pub touchpoint: Option<String>,
    /// Touchpoint name in the asked language.
    pub touchpoint_name: Option<String>,
    /// Channel.
    pub channel: Option<String>,
    /// Stage.
    pub stage: Option<String>,
    /// When it happened.
    pub timestamp: String,
    /// What the client sent as the time, when it was more than a day in the future and
    /// `timestamp` is its arrival instead (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_timestamp: Option<String>,
    /// Properties.
    #[schema(value_type = Object)]
    pub properties: Value,
}

fn entry(e: StoredEvent, tps: &HashMap<i64, StoredTouchpoint>, l: Lang) -> TimelineEntry {
    let tp = e.touchpoint_id.and_then(|id| tps.get(&id)).map(|t| &t.touchpoint);
    let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
    TimelineEntry {
        id: e.id,
        message_id: e.message_id,
        kind: e.kind.as_str().into(),
        name: e.name,
        touchpoint: tp.map(|t| t.key.clone()),
        touchpoint_name: tp.map(|t| t.names.get(l).to_string()),
        channel: tp.map(|t| t.channel.as_str().to_string()),
        stage: tp.and_then(|t| t.stage.clone()),
        timestamp: format_time(e.timestamp),
        sent_timestamp: touchpoint_core::event::sent_time(e.flags, &body),
        properties: body.get("properties").cloned().unwrap_or(Value::Null),
    }
}

/// What clearing the failed events did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Failed events deleted.
    pub deleted: u64,
}

/// `?from=&to=` dates.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day, YYYY-MM-DD (default: 30 days before `to`).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    pub to: Option<String>,
    /// en, cs or pl.
    pub lang: Option<String>,
}

/// Events of one touchpoint on one day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolumeView {
    /// Day (UTC).
    pub day: String,
    /// Touchpoint key (null: events that are not touchpoints, such as identify).
    pub touchpoint: Option<String>,
    /// Touchpoint name.
    pub name: Option<String>,
    /// Events.
    pub events: i64,
}

fn day_of(field: &str, s: &str) -> Result<i64, Error> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == s)
        .ok_or_else(|| {
            Error::invalid(
                Code::InvalidQuery,
                Some(field.into()),
                format!("{field}: {s:?} is not a date like 2026-11-22"),
            )
        })?;
    Ok(d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days())
}

/// A page of a project's customers, by id.
pub async fn customers_page(s: &Engine, project: i64, p: &Page) -> Result<Paged<Value>, Error> {
    let limit = p.limit()?;
    let list = s.store.customers(project, p.cursor_i64()?.unwrap_or(0), limit).await?;
    let next = (list.len() == limit).then(|| list.last().map(|c| c.id.to_string())).flatten();
    let items = list
        .into_iter()
        .map(|c| serde_json::json!({"id": c.id, "user_id": c.user_id, "traits": c.traits, "created_at": format_time(c.created_ms)}))
        .collect();
    Ok(Paged { items, next })
}

/// Customers whose trait `key` is `value` (as text, ignoring ASCII case), at most `limit`,
/// in id order: searching by e-mail address, phone or a CRM id kept as a trait.
pub async fn customers_with_trait(
    s: &Engine,
    project: i64,
    key: &str,
    value: &str,
    limit: usize,
) -> Result<Vec<Value>, Error> {
    if key.is_empty() || key.chars().count() > 200 || value.is_empty() || value.chars().count() > 1000 {
        return Err(Error::invalid(
            crate::error::Code::InvalidQuery,
            Some("trait".into()),
            "trait and value: a trait's name (up to 200 characters) and the value to find (up to 1000)",
        ));
    }
    let ids: Vec<i64> =
        s.store.customers_with_trait(project, key, value, limit).await?.into_iter().map(|(id, _)| id).collect();
    let mut out = vec![];
    for id in ids {
        if let Some(c) = s.store.customer(id).await?.filter(|c| c.project_id == project) {
            out.push(serde_json::json!({"id": c.id, "user_id": c.user_id, "traits": c.traits, "created_at": format_time(c.created_ms)}));
        }
    }
    Ok(out)
}

/// A page of a customer's touchpoints (with those of the customers merged into them),
/// newest first; the cursor is `time:id` of the last entry of the page before.
pub async fn timeline_page(
    s: &Engine,
    project: i64,
    id: i64,
    p: &Page,
    l: Lang,
) -> Result<Paged<TimelineEntry>, Error> {
    let id = canonical(&*s.store, project, id).await?;
    let before = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once(':')
                .and_then(|(t, i)| Some((canonical_i64(t)?, canonical_i64(i)?)))
                .ok_or_else(|| bad_cursor(c))?,
        ),
    };
    let limit = p.limit()?;
    let ids = s.store.merged_ids(id).await?;
    let events = s.store.customer_events(&ids, before, limit).await?;
    let tps: HashMap<i64, StoredTouchpoint> =
        s.store.touchpoints(project).await?.into_iter().map(|t| (t.id, t)).collect();
    let next = (events.len() == limit).then(|| events.last().map(|e| format!("{}:{}", e.timestamp, e.id))).flatten();
    let items = events.into_iter().map(|e| entry(e, &tps, l)).collect();
    Ok(Paged { items, next })
}

/// A page of a project's failed events, newest first, with their raw bytes as text.
pub async fn failed_page(s: &Engine, project: i64, p: &Page) -> Result<Paged<Value>, Error> {
    let limit = p.limit()?;
    let list = s.store.failed_events(project, p.cursor_i64()?, limit).await?;
    let next = (list.len() == limit).then(|| list.last().map(|f| f.id.to_string())).flatten();
    let items = list
        .into_iter()
        .map(|f| {
            let raw = String::from_utf8_lossy(&f.event.raw).into_owned();
            serde_json::json!({"id": f.id, "received_at": format_time(f.event.received_at), "source": f.event.source,
                "field": f.event.field, "reason": f.event.reason, "raw": raw,
                "raw_is_utf8": std::str::from_utf8(&f.event.raw).is_ok()})
        })
        .collect();
    Ok(Paged { items, next })
}

/// Events per day and touchpoint from `from` to `to` (both included; default: the 30 days
/// before today, UTC).
pub async fn daily_volume(s: &Engine, project: i64, r: &Range, l: Lang) -> Result<Vec<VolumeView>, Error> {
    let to = match &r.to {
        Some(t) => day_of("to", t)?,
        None => touchpoint_store::now_ms().div_euclid(86_400_000),
    };
    let from = match &r.from {
        Some(f) => day_of("from", f)?,
        None => to - 30,
    };
    if from > to {
        return Err(Error::invalid(Code::InvalidQuery, Some("from".into()), "from is after to"));
    }
    let tps: HashMap<i64, StoredTouchpoint> =
        s.store.touchpoints(project).await?.into_iter().map(|t| (t.id, t)).collect();
    let rows = s.store.daily_volume(project, from, to).await?;
    Ok(rows
        .into_iter()
        .map(|v| {
            let tp = tps.get(&v.touchpoint_id);
            VolumeView {
                day: format_time(v.day * 86_400_000)[..10].to_string(),
                touchpoint: tp.map(|t| t.touchpoint.key.clone()),
                name: tp.map(|t| t.touchpoint.names.get(l).to_string()),
                events: v.events,
            }
        })
        .collect())
}
