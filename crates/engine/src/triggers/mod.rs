//! Acting at key moments: the trigger rule use cases (create, change, pause, resume, rotate
//! a webhook secret, list firings, replay the dead-letter list, unsubscribe) and the two
//! tasks that act — the [`decider`], which follows the commit bus and records each
//! decision in the store's outbox, and the [`deliver`] loop, which sends what is due. The
//! [`measure`] module previews a rule on the last days' journeys and reports its uplift.
//!
//! The use cases take the store, so the CLI runs them beside a server; the server tells
//! its trigger tasks after each change (`Engine::triggers_changed`, `triggers_wake`), and
//! the decider reads the rules again every two seconds anyway.
//!
//! A rule's definition is `touchpoint_act::RuleDef`, checked against the project's
//! touchpoints, stages and surveys; the store keeps it as JSON. Secrets never leave
//! through a view: [`TriggerView`] shows a webhook secret's last four characters only.

pub mod decider;
pub mod deliver;
pub mod health;
pub mod in_page;
pub mod measure;

use crate::error::{Code, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use touchpoint_act::rule::{NameKind, Names};
use touchpoint_act::RuleDef;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::triggers::{
    FiringFilter, FiringRow, FiringState, FiringUpdate, Preference, TriggerRuleRow, TriggerStatus,
};
use touchpoint_store::{now_ms, Store};

/// The project's names a rule may use.
pub struct ProjectNames {
    touchpoints: HashSet<String>,
    stages: HashSet<String>,
    surveys: HashSet<String>,
}

impl Names for ProjectNames {
    fn touchpoint(&self, key: &str) -> bool {
        self.touchpoints.contains(key)
    }
    fn stage(&self, key: &str) -> bool {
        self.stages.contains(key)
    }
    fn survey(&self, key: &str) -> bool {
        self.surveys.contains(key)
    }
    fn keys(&self, kind: NameKind) -> Vec<String> {
        let set = match kind {
            NameKind::Touchpoint => &self.touchpoints,
            NameKind::Stage => &self.stages,
            NameKind::Survey => &self.surveys,
        };
        let mut all: Vec<String> = set.iter().cloned().collect();
        all.sort();
        all
    }
}

/// Read the project's touchpoints, stages and surveys.
pub async fn names(store: &dyn Store, project: ProjectId) -> Result<ProjectNames> {
    let p = store.project(project).await?.ok_or_else(|| Error::not_found(format!("no project {project}")))?;
    Ok(ProjectNames {
        touchpoints: store.touchpoints(project).await?.into_iter().map(|t| t.touchpoint.key).collect(),
        stages: p.stages.into_iter().map(|s| s.key).collect(),
        surveys: store.surveys(project).await?.into_iter().map(|s| s.key).collect(),
    })
}

/// Parse and check a definition; an error names the field (`definition.when.within`).
pub async fn parse(store: &dyn Store, project: ProjectId, definition: &Value) -> Result<RuleDef> {
    let names = names(store, project).await?;
    RuleDef::parse(definition, &names).map_err(|e| {
        let field = if e.field.is_empty() { "definition".to_string() } else { format!("definition.{}", e.field) };
        Error::invalid(Code::InvalidTrigger, Some(field.clone()), format!("{field}: {}", e.message))
    })
}

/// A rule as the API and the CLI show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TriggerView {
    /// Its key.
    pub key: String,
    /// `draft`, `live` or `paused`.
    pub status: String,
    /// The definition, with webhook secrets shortened to `whsec_…` and their last four
    /// characters.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Firings in each state (`delivered`, `held_out`, `waiting`, `pending`, `suppressed`,
    /// `cancelled`, `dead`, `ready`).
    pub firings: BTreeMap<String, i64>,
    /// Why its suppressed firings were suppressed (`consent`, `cap`, `channel_cap`,
    /// `too_late`, `no_email_address`, `unverified_email` …): each reason with its count,
    /// the commonest first; every suppressed firing is counted.
    pub suppressed_reasons: Vec<ReasonCount>,
    /// Created (RFC 3339).
    pub created: String,
    /// Last changed (RFC 3339).
    pub updated: String,
}

/// How many firings were suppressed for one reason.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonCount {
    /// The reason.
    pub reason: String,
    /// Firings suppressed for it.
    pub count: i64,
}

/// A webhook secret as a view shows it.
fn mask(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("whsec_…{tail}")
}

fn masked(def: &Value) -> Value {
    let mut def = def.clone();
    if let Some(ep) = def.get_mut("then").and_then(|t| t.get_mut("endpoint")) {
        if let Some(o) = ep.as_object_mut() {
            for k in ["secret", "previous_secret"] {
                if let Some(Value::String(s)) = o.get(k) {
                    let m = mask(s);
                    o.insert(k.into(), Value::String(m));
                }
            }
        }
    }
    def
}

/// The view of a stored rule.
pub async fn view(store: &dyn Store, row: &TriggerRuleRow) -> Result<TriggerView> {
    let counts = store.firing_counts(row.project_id, row.id).await?;
    let suppressed = counts.iter().any(|(s, n)| *s == FiringState::Suppressed && *n > 0);
    let reasons = match suppressed {
        true => store.suppressed_reasons(row.project_id, row.id).await?,
        false => vec![],
    };
    Ok(TriggerView {
        key: row.key.clone(),
        status: row.status.as_str().into(),
        definition: masked(&row.definition),
        firings: counts.into_iter().map(|(s, n)| (s.as_str().to_string(), n)).collect(),
        suppressed_reasons: reasons.into_iter().map(|(reason, count)| ReasonCount { reason, count }).collect(),
        created: touchpoint_core::event::format_time(row.created_ms),
        updated: touchpoint_core::event::format_time(row.updated_ms),
    })
}

/// Check a rule key: 1 to 64 of a–z, 0–9 and `-`.
pub fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !key.starts_with('-')
        && key != "preview";
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            Code::InvalidTrigger,
            Some("key".into()),
            format!("key: {key:?} is not a rule key (1 to 64 of a-z, 0-9 and -, like late-delivery-apology)"),
        ))
    }
}

/// Give every webhook endpoint without a secret a new one.
fn with_secrets(mut def: RuleDef) -> RuleDef {
    if let Some(ep) = def.then.endpoint_mut() {
        if ep.secret.is_none() {
            ep.secret = Some(touchpoint_act::webhook::sign::new_secret());
        }
    }
    def
}

/// What creating a rule answers: the view, and a webhook's secret in full, once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Created {
    /// The rule.
    #[serde(flatten)]
    pub rule: TriggerView,
    /// The webhook's signing secret (`whsec_…`), shown this once; `null` without a webhook.
    pub secret: Option<String>,
}

/// Create a rule (a draft unless `live`).
pub async fn create(
    store: &dyn Store,
    project: ProjectId,
    key: &str,
    definition: &Value,
    live: bool,
) -> Result<Created> {
    check_key(key)?;
    let def = with_secrets(parse(store, project, definition).await?);
    let secret = def.then.endpoint().and_then(|e| e.secret.clone());
    let status = if live { TriggerStatus::Live } else { TriggerStatus::Draft };
    let value = serde_json::to_value(&def).map_err(|e| Error::internal(e.to_string()))?;
    let row = store.create_trigger_rule(project, key, status, &value).await.map_err(|e| match e {
        touchpoint_store::StoreError::Exists(_) => {
            Error::conflict(format!("a trigger rule {key:?} exists already: change it with PUT, or pick another key"))
                .at("key")
        }
        other => other.into(),
    })?;
    Ok(Created { rule: view(store, &row).await?, secret })
}

/// Find a rule by key, or say which keys there are.
pub async fn find(store: &dyn Store, project: ProjectId, key: &str) -> Result<TriggerRuleRow> {
    if let Some(r) = store.trigger_rule(project, key).await? {
        return Ok(r);
    }
    let keys: Vec<String> = store.trigger_rules(Some(project)).await?.into_iter().map(|r| r.key).collect();
    let hint = touchpoint_core::suggest::hint(key, keys.iter().map(String::as_str));
    Err(Error::missing("key", format!("no trigger rule {key:?}{hint}")))
}

/// A stored definition, read back.
pub fn definition(row: &TriggerRuleRow) -> Result<RuleDef> {
    serde_json::from_value(row.definition.clone())
        .map_err(|e| Error::internal(format!("trigger rule {} has an unreadable definition: {e}", row.id)))
}

/// Change a rule's definition (its status stays). Webhook secrets not given are kept.
pub async fn update(store: &dyn Store, project: ProjectId, key: &str, definition: &Value) -> Result<TriggerView> {
    let row = find(store, project, key).await?;
    let mut def = parse(store, project, definition).await?;
    let old = crate::triggers::definition(&row)?;
    if let (Some(ep), Some(old_ep)) = (def.then.endpoint_mut(), old.then.endpoint()) {
        if ep.secret.is_none() || ep.secret.as_deref().is_some_and(|s| s.contains('…')) {
            ep.secret = old_ep.secret.clone();
            ep.previous_secret = old_ep.previous_secret.clone();
            ep.previous_until_ms = old_ep.previous_until_ms;
        }
    }
    let def = with_secrets(def);
    let value = serde_json::to_value(&def).map_err(|e| Error::internal(e.to_string()))?;
    let row = store.update_trigger_rule(project, key, row.status, &value).await?;
    view(store, &row).await
}

/// Switch a rule on (`live`) or off (`paused`).
pub async fn set_status(
    store: &dyn Store,
    project: ProjectId,
    key: &str,
    status: TriggerStatus,
) -> Result<TriggerView> {
    let row = find(store, project, key).await?;
    let mut value = row.definition.clone();
    if status == TriggerStatus::Live {
        // Switching on again re-enables an endpoint that answered 410.
        // (`get_mut`, not `[..]`: indexing a JSON value mutably adds the key it looks for.)
        if let Some(ep) = value.get_mut("then").and_then(|t| t.get_mut("endpoint")).and_then(Value::as_object_mut) {
            ep.remove("disabled");
        }
    }
    let row = store.update_trigger_rule(project, key, status, &value).await?;
    view(store, &row).await
}

/// Rotate a webhook's secret: the new one signs from now on, the old one as well for
/// `overlap_ms` (both signatures in the header), so receivers can switch without a gap.
pub async fn rotate_secret(store: &dyn Store, project: ProjectId, key: &str, overlap_ms: i64) -> Result<String> {
    let row = find(store, project, key).await?;
    let mut def = definition(&row)?;
    let Some(ep) = def.then.endpoint_mut() else {
        return Err(Error::invalid(Code::InvalidTrigger, Some("key".into()), format!("{key:?} sends no webhook")));
    };
    let new = touchpoint_act::webhook::sign::new_secret();
    ep.previous_secret = ep.secret.replace(new.clone());
    ep.previous_until_ms = Some(now_ms() + overlap_ms.clamp(0, 7 * 86_400_000));
    let value = serde_json::to_value(&def).map_err(|e| Error::internal(e.to_string()))?;
    store.update_trigger_rule(project, key, row.status, &value).await?;
    Ok(new)
}

/// A firing as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FiringView {
    /// Its id (the webhook's `webhook-id`).
    pub id: String,
    /// Its place in the outbox (for paging with `before`).
    pub seq: i64,
    /// The customer.
    pub customer_id: CustomerId,
    /// The triggering event.
    pub event_id: i64,
    /// When the triggering event happened (RFC 3339).
    pub event_time: String,
    /// Its state.
    pub state: String,
    /// In the hold-out group.
    pub held_out: bool,
    /// Why it is held or suppressed.
    pub reason: Option<String>,
    /// Delivery attempts.
    pub attempts: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it is looked at next (RFC 3339), while open.
    pub next: Option<String>,
    /// When it was finished (RFC 3339).
    pub done: Option<String>,
}

impl From<&FiringRow> for FiringView {
    fn from(r: &FiringRow) -> Self {
        let f = &r.firing;
        FiringView {
            id: f.id.clone(),
            seq: r.seq,
            customer_id: f.customer_id,
            event_id: f.event_id,
            event_time: touchpoint_core::event::format_time(f.event_ms),
            state: f.state.as_str().into(),
            held_out: f.held_out,
            reason: f.reason.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            next: f.state.is_open().then(|| touchpoint_core::event::format_time(f.next_ms)),
            done: r.done_ms.map(touchpoint_core::event::format_time),
        }
    }
}

/// A rule's firings, newest first; `state` narrows (`dead` is the dead-letter list).
pub async fn firings(
    store: &dyn Store,
    project: ProjectId,
    key: &str,
    state: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<FiringView>> {
    let row = find(store, project, key).await?;
    let state = match state {
        None => None,
        Some(s) => Some(FiringState::parse(s).ok_or_else(|| {
            Error::invalid(
                Code::InvalidQuery,
                Some("state".into()),
                format!("state: {s:?} is not one of {}", FiringState::ALL.map(FiringState::as_str).join(", ")),
            )
        })?),
    };
    let filter = FiringFilter { rule_id: Some(row.id), state, before_seq: before, ..Default::default() };
    Ok(store.firings(project, &filter, limit.clamp(1, 1000)).await?.iter().map(FiringView::from).collect())
}

/// Send a dead firing again (or every dead firing of the rule when `id` is `None`), with
/// its id kept; answers how many were queued.
pub async fn replay(store: &dyn Store, project: ProjectId, key: &str, id: Option<&str>) -> Result<usize> {
    let row = find(store, project, key).await?;
    let dead: Vec<FiringRow> = match id {
        Some(id) => {
            let f = store
                .firing(id)
                .await?
                .filter(|f| f.firing.rule_id == row.id)
                .ok_or_else(|| Error::missing("id", format!("no firing {id:?} of {key:?}")))?;
            if f.firing.state != FiringState::Dead {
                return Err(Error::conflict(format!(
                    "firing {id} is {}, not dead: only dead firings are replayed",
                    f.firing.state.as_str()
                )));
            }
            vec![f]
        }
        None => {
            let filter = FiringFilter { rule_id: Some(row.id), state: Some(FiringState::Dead), ..Default::default() };
            store.firings(project, &filter, 10_000).await?
        }
    };
    let now = now_ms();
    for f in &dead {
        // attempts 1: the guards were passed before; the retry schedule starts again.
        let up = FiringUpdate {
            state: FiringState::Pending,
            next_ms: now,
            attempts: 1,
            last_error: f.last_error.clone(),
            reason: Some("replayed".into()),
            done_ms: None,
            payload: None,
        };
        store.update_firing(&f.firing.id, &up).await?;
    }
    Ok(dead.len())
}

/// The signed value in an unsubscribe link: project, customer and category.
pub fn unsubscribe_token(secret: &[u8], project: ProjectId, customer: CustomerId, category: &str) -> String {
    touchpoint_listen::invite::sign_value(secret, &format!("u.{project}.{customer}.{category}"))
}

/// What an unsubscribe link names, if its signature holds.
pub async fn read_unsubscribe(store: &dyn Store, token: &str) -> Result<(ProjectId, CustomerId, String)> {
    let bad = || {
        Error::new(
            Code::InvalidLink,
            "this unsubscribe link is not valid (it may have been cut in two by your e-mail program)",
        )
    };
    let value = token.rsplit_once('.').map(|(v, _)| v).ok_or_else(bad)?;
    let mut parts = value.splitn(4, '.');
    let (Some("u"), Some(p), Some(c), Some(cat)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (project, customer): (ProjectId, CustomerId) = (p.parse().map_err(|_| bad())?, c.parse().map_err(|_| bad())?);
    let secret = store.project_secret(project).await.map_err(|_| bad())?;
    if touchpoint_listen::invite::unsign_value(&secret, token).is_none() {
        return Err(bad());
    }
    Ok((project, customer, cat.to_string()))
}

pub use touchpoint_act::rule::{covers, CUSTOMER_CHANNELS};

/// Record a customer's choice for a category on a channel (`all`: every one).
pub async fn set_preference(
    store: &dyn Store,
    project: ProjectId,
    customer: CustomerId,
    (category, channel): (&str, &str),
    allowed: bool,
    source: &str,
) -> Result<()> {
    let pref = Preference {
        category: category.into(),
        channel: channel.into(),
        allowed,
        updated_ms: now_ms(),
        source: source.into(),
    };
    store.set_preference(project, customer, &pref).await?;
    Ok(())
}

/// One change of a customer's message preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChange {
    /// The category a rule's message belongs to (`marketing`, `service`, `surveys` …, as
    /// its `then.category` says), or `all`: 1 to 40 characters, not only spaces.
    #[schema(min_length = 1, max_length = 40)]
    pub category: String,
    /// The channel: `email`, `webhook` (the brand's own systems: text messages, app
    /// notifications), `in_page` (a survey on the brand's site), or `all` (the default):
    /// a message is sent only when neither its category's nor `all`'s choice, on its
    /// channel or on `all`, is a no.
    #[serde(default = "every_channel")]
    #[schema(default = "all", pattern = "^(all|email|webhook|in_page)$")]
    pub channel: String,
    /// Whether the customer accepts these messages.
    pub allowed: bool,
}

fn every_channel() -> String {
    "all".into()
}

/// A customer's choice about one category of messages, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PreferenceView {
    /// The category, or `all`.
    pub category: String,
    /// The channel (`email`, `webhook`, `in_page`), or `all`.
    pub channel: String,
    /// Whether they accept it.
    pub allowed: bool,
    /// When they said so (RFC 3339, UTC).
    pub updated: String,
    /// Where they said so: `unsubscribe_link`, `api`, `portal`.
    pub source: String,
}

fn preference_views(prefs: Vec<Preference>) -> Vec<PreferenceView> {
    prefs
        .into_iter()
        .map(|p| PreferenceView {
            category: p.category,
            channel: p.channel,
            allowed: p.allowed,
            updated: touchpoint_core::event::format_time(p.updated_ms),
            source: p.source,
        })
        .collect()
}

/// A person's preferences: those stored for each of their customer ids (the customer they
/// are now, and those merged into it — an unsubscribe link names the customer the message
/// went to), the latest choice per category and channel. What the delivery loop obeys and
/// the API shows.
pub async fn person_preferences(
    store: &dyn Store,
    project: ProjectId,
    ids: &[CustomerId],
) -> touchpoint_store::Result<Vec<Preference>> {
    let mut latest: BTreeMap<(String, String), Preference> = BTreeMap::new();
    for &id in ids {
        for p in store.preferences(project, id).await? {
            let key = (p.category.clone(), p.channel.clone());
            if latest.get(&key).is_none_or(|q| q.updated_ms < p.updated_ms) {
                latest.insert(key, p);
            }
        }
    }
    Ok(latest.into_values().collect())
}

/// A person's customer ids: the customer `customer` is now (after merges) first, then
/// every customer merged into it, `customer` among them.
pub async fn person_ids(store: &dyn Store, customer: CustomerId) -> touchpoint_store::Result<Vec<CustomerId>> {
    let now = store.customer(customer).await?.and_then(|c| c.merged_into).unwrap_or(customer);
    let mut ids = vec![now];
    ids.extend(store.merged_ids(now).await?.into_iter().filter(|&c| c != now));
    if !ids.contains(&customer) {
        ids.push(customer);
    }
    Ok(ids)
}

/// A project's customer, as the person they are ([`person_ids`]); not found in another
/// project.
async fn person(store: &dyn Store, project: ProjectId, customer: CustomerId) -> Result<Vec<CustomerId>> {
    crate::read::canonical(store, project, customer).await?;
    Ok(person_ids(store, customer).await?)
}

/// A customer's message preferences (the consent every rule's messages obey, before the
/// event's own `context.consent`), as [`person_preferences`] reads them.
pub async fn customer_preferences(
    store: &dyn Store,
    project: ProjectId,
    customer: CustomerId,
) -> Result<Vec<PreferenceView>> {
    let ids = person(store, project, customer).await?;
    Ok(preference_views(person_preferences(store, project, &ids).await?))
}

/// Record changes of a customer's preferences (all or none: each is checked first), as
/// said at `source` (`api`, `portal` …); answers with the preferences as they are now.
pub async fn set_customer_preferences(
    store: &dyn Store,
    project: ProjectId,
    customer: CustomerId,
    changes: &[PreferenceChange],
    source: &str,
) -> Result<Vec<PreferenceView>> {
    let ids = person(store, project, customer).await?;
    for (i, c) in changes.iter().enumerate() {
        if !touchpoint_act::rule::category_ok(&c.category) {
            return Err(Error::invalid(
                Code::InvalidField,
                Some(format!("preferences[{i}].category")),
                format!("{:?} is not a category: {}", c.category, touchpoint_act::rule::CATEGORY_RULE),
            ));
        }
        if !touchpoint_act::rule::channel_ok(&c.channel) {
            return Err(Error::invalid(
                Code::InvalidField,
                Some(format!("preferences[{i}].channel")),
                format!("{:?} is not a channel: {}", c.channel, touchpoint_act::rule::CHANNEL_RULE),
            ));
        }
    }
    for c in changes {
        set_preference(store, project, ids[0], (&c.category, &c.channel), c.allowed, source).await?;
    }
    Ok(preference_views(person_preferences(store, project, &ids).await?))
}
