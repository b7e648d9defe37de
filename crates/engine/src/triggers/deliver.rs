//! The delivery loop: takes the outbox's due firings and acts on each.
//!
//! * A **waiting** firing ("not followed within") whose time has come reads the customer's
//!   events in the window: a follow-up cancels it, none makes it due to send.
//! * A firing due to send for the first time more than a day after its moment (the server
//!   was down) is suppressed as too late ([`decide::stale`]); else it meets the
//!   **guards** (consent, the rule's cap, the channel's cap across rules, quiet hours in
//!   the customer's zone, else the project's): suppressed, held until the quiet hours
//!   end, or sent — or, in the hold-out group, recorded as held out at the moment it
//!   would have been sent.
//! * Sending is **at least once with the same id**: each firing taken is leased first
//!   (its next look moved a minute on), so a crash mid-send sends it again after the
//!   lease, with the same `webhook-id` / `Message-ID`; failures retry on the Standard
//!   Webhooks schedule (a receiver's `Retry-After` honoured), then go to the dead-letter
//!   list; a 410 disables the endpoint and pauses the rule.
//!
//! A round takes up to `4 × IN_FLIGHT` due firings in one write (their lease) and acts on
//! them by customer: one task per customer, their firings in turn, and one turn per
//! customer at a time, across rounds too — so a cap counts every send before it, and the
//! customer's row, preferences and recent sends are read once a turn. Up to
//! [`IN_FLIGHT`] customers are served at once, so one slow receiver does not hold the
//! others.

use super::decider::RULES_TTL;
use super::definition;
use crate::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use touchpoint_act::decide::{self, ChannelCap, Consent, History, Verdict};
use touchpoint_act::email::template;
use touchpoint_act::rule::{Endpoint, Then, When};
use touchpoint_act::webhook::{send as hook, Schedule};
use touchpoint_act::RuleDef;
use touchpoint_core::event::VERIFIED_EMAIL;
use touchpoint_store::triggers::{
    FiringBrief, FiringRow, FiringState, FiringUpdate, Preference, TriggerRuleRow, TriggerStatus,
};
use touchpoint_store::{now_ms, Store, StoreError};

/// Customers served at once.
pub const IN_FLIGHT: usize = 16;
/// How long a firing taken for sending is not taken again (a crash mid-send).
const LEASE_MS: i64 = 60_000;
/// Longest sleep when nothing is due (rules or timers may change meanwhile).
const IDLE: Duration = Duration::from_secs(1);

/// What every delivery shares.
struct Shared {
    engine: Engine,
    http: reqwest::Client,
    schedule: Schedule,
}

/// Start the delivery loop; it ends when `stop` fires.
pub fn spawn(engine: Engine, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let c = &engine.config;
    let schedule = Schedule::default().scaled(c.retry_speedup.max(1.0));
    // The configuration was checked when it was read: a CA file gone since is logged, and
    // webhooks trust the public authorities only.
    let http = c.webhook_client().unwrap_or_else(|e| {
        tracing::error!(error = %e, "webhooks trust the public certificate authorities only");
        hook::client()
    });
    let shared = Arc::new(Shared { engine: engine.clone(), http, schedule });
    tokio::spawn(async move {
        let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut rules = None;
        let turns = Arc::new(Turns::default());
        loop {
            if *stop.borrow() {
                break;
            }
            let now = now_ms();
            // The lease: nobody takes them again for a minute, whatever happens to us.
            let due = match shared.engine.store.lease_due_firings(now, 4 * IN_FLIGHT, now + LEASE_MS).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "the outbox could not be read");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let next = shared.engine.store.next_due_ms().await.ok().flatten();
                let wait = next.map_or(IDLE, |t| Duration::from_millis((t - now).clamp(1, 1000) as u64));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shared.engine.triggers.wake.notified() => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            // What the round's firings share, read once: the rules, and their projects'
            // zones and touchpoints. (A failed read leaves the firings to their lease.)
            let round = match Round::read(&shared.engine, &mut rules, &due).await {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    tracing::error!(error = %e, "the trigger rules could not be read");
                    continue;
                }
            };
            // One task per customer acts on their firings in turn, and one customer's turn
            // at a time (across rounds too): each firing's caps see the sends before it.
            let mut groups: Vec<(i64, Vec<FiringRow>)> = Vec::new();
            for f in due {
                match groups.iter_mut().find(|(c, _)| *c == f.firing.customer_id) {
                    Some((_, g)) => g.push(f),
                    None => groups.push((f.firing.customer_id, vec![f])),
                }
            }
            for (customer, firings) in groups {
                let Ok(permit) = limit.clone().acquire_owned().await else { break };
                let (shared, round, turns) = (shared.clone(), round.clone(), turns.clone());
                tokio::spawn(async move {
                    let turn = turns.take(customer).await;
                    let mut about = Turn::default();
                    for f in firings {
                        if let Err(e) = act(&shared, &round, f, &mut about).await {
                            tracing::error!(error = %e, "a firing could not be acted on");
                        }
                    }
                    drop(turn);
                    turns.release(customer);
                    drop(permit);
                });
            }
        }
        // Let what is being sent finish (a firing cut short is sent again after its lease).
        let _ = tokio::time::timeout(Duration::from_secs(5), limit.acquire_many(IN_FLIGHT as u32)).await;
    })
}

/// The rules of a delivery round by id, each with its definition when it reads.
type Rules = HashMap<i64, (Option<RuleDef>, TriggerRuleRow)>;

/// Whose turn it is: a customer's firings are acted on by one task at a time.
#[derive(Default)]
struct Turns(std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>);

impl Turns {
    /// Wait for the customer's turn.
    async fn take(&self, customer: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(customer).or_default().clone();
        turn.lock_owned().await
    }

    /// Forget the customer once nobody holds or waits for their turn.
    fn release(&self, customer: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&customer).is_some_and(|t| Arc::strong_count(t) == 1) {
            map.remove(&customer);
        }
    }
}

/// What a customer's turn reads about them, once, when a firing first needs it. A firing
/// names the customer its event arrived as; that customer may since have been merged into
/// another (an anonymous visitor who signed in): the person is the one it now is, with
/// every customer merged into it.
#[derive(Default)]
struct Turn {
    /// The person's customer ids: the one they now are first, then every one merged into it.
    ids: Vec<i64>,
    /// Their traits (the row of the customer they now are; empty when there is none).
    traits: Option<Map<String, Value>>,
    /// Their stored preferences.
    preferences: Option<Vec<Preference>>,
    /// What they have been sent (and held out from) within the caps' reach, kept up to
    /// date as their firings are acted on: what the caps count.
    sent: Option<Vec<FiringBrief>>,
}

/// What a delivery round's firings share, read once for the round.
struct Round {
    /// Every rule.
    rules: Arc<Rules>,
    /// The time zone of each project with a firing in the round.
    zones: HashMap<i64, String>,
    /// The touchpoints (store id → key) of each project with a waiting firing.
    touchpoints: HashMap<i64, HashMap<i64, String>>,
    /// How far back a customer's firings matter to a cap: the longest cap's window (a day
    /// at least: the channel's cap), plus the longest "not followed" wait (a firing is
    /// sent that much after its event) and a night of quiet hours.
    cap_reach: i64,
}

impl Round {
    /// Read what `due` needs; the rules are `cache`'s while they are current (the rule
    /// version unchanged and read less than [`RULES_TTL`] ago).
    async fn read(
        engine: &Engine,
        cache: &mut Option<(u64, Instant, Arc<Rules>)>,
        due: &[FiringRow],
    ) -> Result<Round, StoreError> {
        let store = &*engine.store;
        let version = engine.triggers.version.load(std::sync::atomic::Ordering::SeqCst);
        let rules = match cache {
            Some((v, at, rules)) if *v == version && at.elapsed() < RULES_TTL => rules.clone(),
            _ => {
                let rules: Arc<Rules> = Arc::new(
                    store
                        .trigger_rules(None)
                        .await?
                        .into_iter()
                        .map(|row| (row.id, (definition(&row).ok(), row)))
                        .collect(),
                );
                *cache = Some((version, Instant::now(), rules.clone()));
                rules
            }
        };
        let longest_wait = rules
            .values()
            .filter_map(|(d, _)| match d.as_ref().map(|d| &d.when) {
                Some(When::NotFollowed { within, .. }) => Some(within.ms()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let longest_cap = rules
            .values()
            .filter_map(|(d, _)| d.as_ref().and_then(|d| d.guard.cap).map(|c| c.per.ms()))
            .fold(86_400_000, i64::max);
        let (mut zones, mut touchpoints) = (HashMap::new(), HashMap::new());
        for f in due {
            let p = f.firing.project_id;
            if let std::collections::hash_map::Entry::Vacant(e) = zones.entry(p) {
                e.insert(store.project(p).await?.map(|p| p.timezone).unwrap_or_else(|| "UTC".into()));
            }
            if f.firing.state == FiringState::Waiting && !touchpoints.contains_key(&p) {
                let all = store.touchpoints(p).await?;
                touchpoints.insert(p, all.into_iter().map(|t| (t.id, t.touchpoint.key)).collect());
            }
        }
        Ok(Round { rules, zones, touchpoints, cap_reach: longest_cap + longest_wait + 86_400_000 })
    }
}

/// A firing's state as it is, moved to `state` (finished now when `state` is not open).
fn update(f: &FiringRow, state: FiringState) -> FiringUpdate {
    FiringUpdate {
        state,
        next_ms: f.firing.next_ms,
        attempts: f.attempts,
        last_error: f.last_error.clone(),
        reason: f.firing.reason.clone(),
        done_ms: (!state.is_open()).then(now_ms),
        payload: None,
    }
}

/// Act on one due firing.
async fn act(sh: &Shared, round: &Round, mut f: FiringRow, about: &mut Turn) -> Result<(), StoreError> {
    let store = &*sh.engine.store;
    let Some((def, row)) = round.rules.get(&f.firing.rule_id) else { return Ok(()) };
    let Some(def) = def else {
        let mut up = update(&f, FiringState::Dead);
        up.last_error = Some("the rule's definition cannot be read".into());
        return store.update_firing(&f.firing.id, &up).await;
    };
    if about.traits.is_none() {
        about.ids = super::person_ids(store, f.firing.customer_id).await?;
        about.traits = Some(store.customer(about.ids[0]).await?.map(|c| c.traits).unwrap_or_default());
    }
    if f.firing.state == FiringState::Waiting {
        if followed(store, round, &f, def, &about.ids).await? {
            let mut up = update(&f, FiringState::Cancelled);
            up.reason = Some("followed".into());
            return store.update_firing(&f.firing.id, &up).await;
        }
        f.firing.state = FiringState::Pending;
    }
    let traits = about.traits.clone().unwrap_or_default();
    // Parsed once for the guards (consent) and the message.
    let payload = f.firing.payload.value();
    if f.attempts == 0 {
        let now = now_ms();
        // Decided in time but not sent in time (the server was down for days): too late.
        let start = match &def.when {
            When::NotFollowed { within, .. } => decide::Start::Wait(within.ms()),
            _ => decide::Start::Now,
        };
        if decide::stale(start, f.firing.event_ms, now) {
            let mut up = update(&f, FiringState::Suppressed);
            up.reason = Some("too_late".into());
            return store.update_firing(&f.firing.id, &up).await;
        }
        let verdict = guards(sh, round, &f, &payload, def, now, about).await?;
        match verdict {
            Verdict::Suppress(why) => {
                let mut up = update(&f, FiringState::Suppressed);
                up.reason = Some(why.into());
                return store.update_firing(&f.firing.id, &up).await;
            }
            Verdict::HoldUntil(t) => {
                let mut up = update(&f, FiringState::Pending);
                up.next_ms = t;
                up.reason = Some("quiet_hours".into());
                return store.update_firing(&f.firing.id, &up).await;
            }
            Verdict::Go if f.firing.held_out => {
                let up = update(&f, FiringState::HeldOut);
                store.update_firing(&f.firing.id, &up).await?;
                note(about, &f, &up);
                return Ok(());
            }
            Verdict::Go => {}
        }
    }
    if let Some(why) = def.then.endpoint().and_then(|e| e.disabled.clone()) {
        let mut up = update(&f, FiringState::Dead);
        up.last_error = Some(format!("the endpoint is disabled ({why}); fix it, switch the rule on and replay"));
        return store.update_firing(&f.firing.id, &up).await;
    }
    let (f, up) = send(sh, row, def, f, payload, traits).await?;
    note(about, &f, &up);
    Ok(())
}

/// Keep a firing's end in the customer's record, when the record is read and the firing
/// was sent or held out.
fn note(about: &mut Turn, f: &FiringRow, up: &FiringUpdate) {
    if let (Some(sent), FiringState::Delivered | FiringState::HeldOut | FiringState::Ready) =
        (about.sent.as_mut(), up.state)
    {
        sent.push(FiringBrief {
            id: f.firing.id.clone(),
            rule_id: f.firing.rule_id,
            state: up.state,
            event_ms: f.firing.event_ms,
            done_ms: up.done_ms,
        });
    }
}

/// Whether one of the rule's follow-ups came within its window.
async fn followed(
    store: &dyn Store,
    round: &Round,
    f: &FiringRow,
    def: &RuleDef,
    ids: &[i64],
) -> Result<bool, StoreError> {
    let When::NotFollowed { followed_by, within, .. } = &def.when else { return Ok(false) };
    let none = HashMap::new();
    let keys = round.touchpoints.get(&f.firing.project_id).unwrap_or(&none);
    let follow_up = |t: &i64| keys.get(t).is_some_and(|k| followed_by.contains(k));
    let (from, to) = (f.firing.event_ms, f.firing.event_ms.saturating_add(within.ms()));
    // Newest first from the window's end; stop at its start.
    let mut before = Some((to.saturating_add(1), i64::MIN));
    for _ in 0..40 {
        let page = store.customer_events(ids, before, 500).await?;
        for e in &page {
            if e.timestamp < from {
                return Ok(false);
            }
            if e.timestamp <= to && e.id != f.firing.event_id && e.touchpoint_id.as_ref().is_some_and(follow_up) {
                return Ok(true);
            }
        }
        match page.last() {
            Some(e) if page.len() == 500 => before = Some((e.timestamp, e.id)),
            _ => return Ok(false),
        }
    }
    Ok(false)
}

/// Consent for a category on a channel: a stored no (for the category or `all`, on the
/// channel or `all`) wins, then the triggering event's `context.consent.categoryPreferences`
/// (Segment's consent), else unknown.
async fn consent(
    store: &dyn Store,
    f: &FiringRow,
    payload: &Value,
    (category, channel): (&str, &str),
    about: &mut Turn,
) -> Result<Consent, StoreError> {
    if about.preferences.is_none() {
        about.preferences = Some(super::person_preferences(store, f.firing.project_id, &about.ids).await?);
    }
    for p in about.preferences.iter().flatten() {
        if !p.allowed && touchpoint_act::rule::covers(&p.category, &p.channel, category, channel) {
            return Ok(Consent::Refused);
        }
    }
    if let Some(prefs) = payload["consent"].as_object() {
        for (k, v) in prefs {
            if k.eq_ignore_ascii_case(category) {
                return Ok(match v.as_bool() {
                    Some(false) => Consent::Refused,
                    Some(true) => Consent::Given,
                    None => Consent::Unknown,
                });
            }
        }
    }
    Ok(Consent::Unknown)
}

async fn guards(
    sh: &Shared,
    round: &Round,
    f: &FiringRow,
    payload: &Value,
    def: &RuleDef,
    now: i64,
    about: &mut Turn,
) -> Result<Verdict, StoreError> {
    let store = &*sh.engine.store;
    if !def.then.to_customer() {
        return Ok(Verdict::Go);
    }
    let consent =
        consent(store, f, payload, (def.then.category().unwrap_or("service"), def.then.channel()), about).await?;
    // What was sent (or held out) to the customer within the caps' reach, by every rule:
    // read once in the customer's turn, then kept up to date by `note`.
    if about.sent.is_none() {
        let since = now - round.cap_reach;
        about.sent = Some(store.firing_history(f.firing.project_id, &about.ids, since, 1000).await?);
    }
    let earlier = about.sent.as_deref().unwrap_or_default();
    let channel = |rule: i64| round.rules.get(&rule).and_then(|(d, _)| d.as_ref()).map(|d| d.then.channel());
    let mut history = History::default();
    for e in earlier.iter().filter(|e| e.id != f.firing.id) {
        // A ready in-page survey counts from when it was made ready.
        if !matches!(e.state, FiringState::Delivered | FiringState::HeldOut | FiringState::Ready) {
            continue;
        }
        let Some(at) = e.done_ms else { continue };
        if e.rule_id == f.firing.rule_id {
            history.rule_sent_ms.push(at);
        }
        if channel(e.rule_id) == Some(def.then.channel()) {
            history.channel_sent_ms.push(at);
        }
    }
    let cap = sh.engine.config.messages_per_customer_per_day;
    let channel_cap = (cap > 0).then_some(ChannelCap { max: cap, per_ms: 86_400_000 });
    let traits = about.traits.as_ref();
    let zone = match traits
        .and_then(|t| t.get("timezone"))
        .and_then(Value::as_str)
        .filter(|z| crate::tz::parse_zone(z).is_ok())
    {
        Some(z) => z.to_string(),
        None => round.zones.get(&f.firing.project_id).cloned().unwrap_or_else(|| "UTC".into()),
    };
    let clock = crate::tz::clock(&zone, now / 1000 - 86_400, now / 1000 + 3 * 86_400);
    Ok(decide::guard(def, consent, &history, channel_cap, &clock, now))
}

/// The address links in messages start with.
fn base_url(engine: &Engine) -> String {
    let c = &engine.config;
    if c.public_url.is_empty() {
        format!("http://{}", c.listen)
    } else {
        c.public_url.trim_end_matches('/').to_string()
    }
}

/// The customer's language: their trait, else the triggering event's locale.
fn language(traits: &Map<String, Value>, payload: &Value) -> Option<String> {
    ["language", "locale", "lang"]
        .iter()
        .find_map(|k| traits.get(*k).and_then(Value::as_str))
        .or_else(|| payload["locale"].as_str())
        .map(str::to_owned)
}

async fn send(
    sh: &Shared,
    row: &TriggerRuleRow,
    def: &RuleDef,
    f: FiringRow,
    mut payload: Value,
    traits: Map<String, Value>,
) -> Result<(FiringRow, FiringUpdate), StoreError> {
    let store = &*sh.engine.store;
    let base = base_url(&sh.engine);
    let lang = language(&traits, &payload);
    // The survey invitation is made once and kept in the payload, so every retry sends the
    // same link.
    if let (Some(survey), None) = (def.then.survey(), payload.get("survey_url").filter(|v| !v.is_null())) {
        let url = invitation(sh, f.firing.project_id, survey, &payload, lang.as_deref(), &base).await;
        payload["survey_url"] = url.map_or(Value::Null, Value::String);
        let mut up = update(&f, FiringState::Pending);
        up.next_ms = now_ms() + LEASE_MS;
        up.payload = Some(payload.clone());
        store.update_firing(&f.firing.id, &up).await?;
    }
    let outcome = match &def.then {
        Then::Webhook { endpoint, .. } => webhook(sh, endpoint, row, &f, &payload, &traits).await,
        Then::TeamAlert { endpoint: Some(endpoint), .. } => webhook(sh, endpoint, row, &f, &payload, &traits).await,
        Then::Email { templates, fallback, category, .. } => {
            // Only an address a believed sender gave (a server key, an import, the portal);
            // one only a public write key set could be anyone's.
            let Some(to) = traits.get(VERIFIED_EMAIL).and_then(Value::as_str) else {
                let mut up = update(&f, FiringState::Suppressed);
                let unverified = traits.get("email").and_then(Value::as_str).is_some();
                up.reason = Some(if unverified { "unverified_email" } else { "no_email_address" }.into());
                store.update_firing(&f.firing.id, &up).await?;
                return Ok((f, up));
            };
            let Some(l) = RuleDef::pick_language(templates, fallback.as_deref(), lang.as_deref()) else {
                // No template at all: a rule's check refuses that; leave it to its lease.
                return Ok((f.clone(), update(&f, f.firing.state)));
            };
            let secret = store.project_secret(f.firing.project_id).await?;
            let token = super::unsubscribe_token(&secret, f.firing.project_id, f.firing.customer_id, category);
            // In the message's language, so the page a click opens speaks it too.
            let unsub = format!("{base}/u/{token}?lang={l}");
            email(sh, to, &f, &templates[l], l, &context(&traits, &payload, Some(&unsub)), Some(&unsub)).await
        }
        Then::TeamAlert { email: Some(to), templates, .. } => {
            let l = RuleDef::pick_language(templates, None, None).unwrap_or("en").to_string();
            let t = templates.get(&l).cloned().unwrap_or_else(|| match payload.get("alert") {
                Some(_) => health_template(&def.name, &base),
                None => team_template(&def.name, f.firing.customer_id, &base),
            });
            email(sh, to, &f, &t, &l, &context(&traits, &payload, None), None).await
        }
        Then::TeamAlert { .. } => Outcome::Failed("the team alert has no address".into()),
        // An in-page survey waits for the customer's page to ask (`super::in_page`).
        Then::InPage { survey, .. } => {
            payload["in_page"] = json!({"survey": survey, "lang": lang});
            let mut up = update(&f, FiringState::Ready);
            up.attempts = f.attempts + 1;
            up.payload = Some(payload);
            store.update_firing(&f.firing.id, &up).await?;
            return Ok((f, up));
        }
    };
    let up = finish(sh, row, &f, outcome, payload).await?;
    Ok((f, up))
}

/// What an attempt came to, for either integration.
enum Outcome {
    Delivered,
    Retry(String, Option<i64>),
    Gone,
    Failed(String),
}

/// A team alert's e-mail about a customer when the rule has no template of its own.
fn team_template(rule: &str, customer: i64, base: &str) -> touchpoint_act::rule::Template {
    touchpoint_act::rule::Template {
        subject: format!("{rule}: {{{{ customer.user_id or customer.id }}}}"),
        text: format!(
            "{rule}\n\nCustomer: {{{{ customer.user_id or customer.id }}}} {{{{ customer.email }}}}\n\
             What happened: {{{{ event_name }}}} at {{{{ event_time }}}}\n\
             Profile: {base}/#view=customers&customer={customer}"
        ),
        html: None,
    }
}

/// A health alert's e-mail when the rule has no template of its own.
fn health_template(rule: &str, base: &str) -> touchpoint_act::rule::Template {
    touchpoint_act::rule::Template {
        subject: format!(
            "{rule}: {{{{ alert.name }}}} {{% if alert.metric == 'volume' %}}volume{{% else %}}exit rate{{% endif %}} \
             {{% if alert.direction == 'up' %}}up{{% else %}}down{{% endif %}} on {{{{ alert.day }}}}"
        ),
        text: format!(
            "{{{{ alert.name }}}} ({{{{ alert.touchpoint }}}}) on {{{{ alert.day }}}} (UTC):\n\
             {{% if alert.metric == 'volume' %}}{{{{ alert.n }}}} events, against {{{{ alert.expected | round(1) }}}} a day \
             over the {{{{ alert.baseline_days }}}} days before.\
             {{% else %}}{{{{ (alert.observed * 100) | round(1) }}}} % of its {{{{ alert.n }}}} customers left there, \
             against {{{{ (alert.expected * 100) | round(1) }}}} % of {{{{ alert.baseline_n }}}} over the {{{{ alert.baseline_days }}}} days before.{{% endif %}}\n\
             p = {{{{ alert.p_text }}}}, corrected for every touchpoint tested: q = {{{{ alert.q_text }}}}.\n\n\
             The touchpoint's volume: {base}/#view=overview"
        ),
        html: None,
    }
}

fn context(traits: &Map<String, Value>, payload: &Value, unsubscribe: Option<&str>) -> Value {
    let mut ctx = traits.clone();
    let mut customer = traits.clone();
    customer.insert("id".into(), payload["customer"]["id"].clone());
    customer.insert("user_id".into(), payload["customer"]["user_id"].clone());
    ctx.insert("customer".into(), Value::Object(customer));
    ctx.insert("event".into(), payload["event"]["properties"].clone());
    ctx.insert("event_name".into(), payload["event"]["name"].clone());
    ctx.insert("event_time".into(), payload["event"]["time"].clone());
    ctx.insert("survey_url".into(), payload.get("survey_url").cloned().unwrap_or(Value::Null));
    ctx.insert("unsubscribe_url".into(), unsubscribe.map_or(Value::Null, |u| Value::String(u.into())));
    ctx.insert("alert".into(), payload.get("alert").cloned().unwrap_or(Value::Null));
    Value::Object(ctx)
}

async fn invitation(
    sh: &Shared,
    project: i64,
    survey: &str,
    payload: &Value,
    lang: Option<&str>,
    base: &str,
) -> Option<String> {
    let store = &*sh.engine.store;
    let user = payload["customer"]["user_id"].as_str()?;
    let row = crate::surveys::find_survey(store, project, survey).await.ok()?;
    let input = crate::surveys::InviteInput {
        customer: user.to_string(),
        touchpoint: payload["event"]["touchpoint"].as_str().map(str::to_owned),
        lang: lang.map(|l| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase()),
    };
    match crate::surveys::create_invitations(store, &row, &[input], 14.0, base).await {
        Ok(mut links) => links.pop().map(|l| l.url),
        Err(e) => {
            tracing::warn!(error = %e.message, "a trigger's survey invitation could not be made");
            None
        }
    }
}

async fn webhook(
    sh: &Shared,
    endpoint: &Endpoint,
    row: &TriggerRuleRow,
    f: &FiringRow,
    payload: &Value,
    traits: &Map<String, Value>,
) -> Outcome {
    let now = now_ms();
    let body = match payload.get("alert") {
        // A touchpoint's health: no customer.
        Some(alert) => json!({
            "type": "touchpoint.health_alert",
            "timestamp": touchpoint_core::event::format_time(now),
            "data": {"firing_id": f.firing.id, "rule": row.key, "alert": alert},
        }),
        None => {
            let mut customer = payload["customer"].clone();
            customer["traits"] = Value::Object(traits.clone());
            json!({
                "type": "trigger.fired",
                "timestamp": touchpoint_core::event::format_time(now),
                "data": {
                    "firing_id": f.firing.id,
                    "rule": row.key,
                    "customer": customer,
                    "event": payload["event"],
                    "survey_url": payload.get("survey_url").cloned().unwrap_or(Value::Null),
                }
            })
        }
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    match hook::post(&sh.http, endpoint, &f.firing.id, &body, now).await {
        hook::Outcome::Delivered => Outcome::Delivered,
        hook::Outcome::Retry { error, retry_after_ms } => Outcome::Retry(error, retry_after_ms),
        hook::Outcome::Gone => Outcome::Gone,
    }
}

async fn email(
    sh: &Shared,
    to: &str,
    f: &FiringRow,
    t: &touchpoint_act::rule::Template,
    lang: &str,
    ctx: &Value,
    unsubscribe: Option<&str>,
) -> Outcome {
    let mailer = match crate::mail::mailer(&sh.engine) {
        None => return Outcome::Failed("no SMTP server is configured (set smtp_url and smtp_from)".into()),
        Some(Err(e)) => return Outcome::Failed(e),
        Some(Ok(m)) => m,
    };
    let msg = match template::render(t, lang, ctx, unsubscribe) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("the message could not be written: {e}")),
    };
    match mailer.send(to, &f.firing.id, &msg, unsubscribe).await {
        touchpoint_act::email::send::Outcome::Delivered => Outcome::Delivered,
        touchpoint_act::email::send::Outcome::Retry(e) => Outcome::Retry(e, None),
        touchpoint_act::email::send::Outcome::Failed(e) => Outcome::Failed(e),
    }
}

async fn finish(
    sh: &Shared,
    row: &TriggerRuleRow,
    f: &FiringRow,
    outcome: Outcome,
    payload: Value,
) -> Result<FiringUpdate, StoreError> {
    let store = &*sh.engine.store;
    let attempts = f.attempts + 1;
    let now = now_ms();
    let mut up = FiringUpdate {
        state: FiringState::Delivered,
        next_ms: now,
        attempts,
        last_error: None,
        reason: f.firing.reason.clone(),
        done_ms: Some(now),
        payload: Some(payload),
    };
    match outcome {
        Outcome::Delivered => {}
        Outcome::Retry(error, retry_after) => match sh.schedule.next_delay(attempts, retry_after) {
            Some(delay) => {
                up.state = FiringState::Pending;
                up.next_ms = now + delay;
                up.done_ms = None;
                up.last_error = Some(error);
            }
            None => {
                up.state = FiringState::Dead;
                up.last_error = Some(format!("{error} (gave up after {attempts} attempts)"));
            }
        },
        Outcome::Failed(error) => {
            up.state = FiringState::Dead;
            up.last_error = Some(error);
        }
        Outcome::Gone => {
            up.state = FiringState::Dead;
            up.last_error =
                Some("the endpoint answered 410 Gone: it no longer receives, and the rule is paused".into());
            let mut value = row.definition.clone();
            if let Some(ep) = value.get_mut("then").and_then(|t| t.get_mut("endpoint")).and_then(Value::as_object_mut) {
                ep.insert(
                    "disabled".into(),
                    json!(format!("answered 410 Gone at {}", touchpoint_core::event::format_time(now))),
                );
            }
            store.update_trigger_rule(row.project_id, &row.key, TriggerStatus::Paused, &value).await?;
            sh.engine.triggers_changed();
        }
    }
    store.update_firing(&f.firing.id, &up).await?;
    Ok(up)
}
