//! The decider: follows the commit bus and decides, for every stored event and every live
//! rule of its project, whether the rule starts for the event's customer — then records
//! the decision in the store's outbox (`decide_firings`), together with its cursor, the
//! last event id it has decided on.
//!
//! Nothing is decided twice: a firing's key is (rule, customer, triggering event), and the
//! store records a decision only if its key is new, so events seen again — after a lag,
//! a restart or a `kill -9` between the decision and the cursor — decide nothing new.
//! Nothing is lost: the decider subscribes to the bus before it reads the cursor, catches
//! up from the store (every event after the cursor, in id order), and does the same after
//! a lag notice. On a store it has never seen it starts at the newest event: switching
//! triggers on does not fire for the past.
//!
//! Rules act on the present: a start whose moment to act is more than a day gone
//! ([`decide::stale`]) — an import of history, a phone's old offline queue — is not
//! recorded.
//!
//! The cursor moves with each decision; when a commit decides nothing it is written at
//! most once a second, so a busy ingest does not pay a write per group commit.

use crate::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use touchpoint_act::decide::{self, CustomerFacts, History, Occurrence, Start};
use touchpoint_act::RuleDef;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::bus::Delivery;
use touchpoint_store::triggers::{FiringFilter, FiringState, NewFiring, TriggerStatus};
use touchpoint_store::{now_ms, Store, StoreError, StoredTouchpoint};

/// How often the rules are read again without being told they changed (a rule changed by
/// the CLI beside a running server); the delivery loop's too.
pub(super) const RULES_TTL: Duration = Duration::from_secs(2);
/// Events read per step when catching up from the store.
const CATCH_UP_PAGE: usize = 2_000;
/// Longest the cursor may lag behind what was decided when nothing fired.
const CURSOR_EVERY: Duration = Duration::from_secs(1);

/// An event as the decider reads it (from a commit or from the store).
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Its id.
    pub id: i64,
    /// Project.
    pub project: ProjectId,
    /// Customer at arrival.
    pub customer: CustomerId,
    /// Its touchpoint's store id.
    pub touchpoint_id: Option<i64>,
    /// Track name.
    pub name: Option<&'a str>,
    /// When it happened, ms.
    pub time_ms: i64,
    /// The stored body (JSON text).
    pub body: &'a str,
}

/// A live rule, parsed.
struct Live {
    id: i64,
    key: String,
    def: RuleDef,
}

/// What the decider keeps between commits.
pub struct Decider {
    engine: Engine,
    rules: HashMap<ProjectId, Vec<Live>>,
    touchpoints: HashMap<ProjectId, HashMap<i64, StoredTouchpoint>>,
    loaded: Option<Instant>,
    /// The rule version (`TriggerSignals::version`) the loaded rules are.
    version: u64,
    cursor: i64,
    written_cursor: i64,
    written_at: Instant,
}

/// Start the decider; it ends when `stop` fires or the bus closes.
pub fn spawn(engine: Engine, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    // Subscribe first: a commit made while catching up is then either in the store read
    // or on the subscription (events at or below the cursor are skipped).
    let sub = engine.bus.subscribe("triggers", 1024);
    tokio::spawn(async move {
        let mut d = Decider {
            engine,
            rules: HashMap::new(),
            touchpoints: HashMap::new(),
            loaded: None,
            version: 0,
            cursor: 0,
            written_cursor: 0,
            written_at: Instant::now(),
        };
        if let Err(e) = d.run(sub, stop).await {
            tracing::error!(error = %e, "the trigger decider stopped");
        }
    })
}

impl Decider {
    async fn run(
        &mut self,
        mut sub: touchpoint_store::bus::Subscription,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        self.cursor = match self.engine.store.trigger_cursor().await? {
            Some(c) => c,
            None => {
                let mut newest = 0;
                for p in self.engine.store.projects().await? {
                    if let Some((_, hi)) = self.engine.store.event_id_range(p.id).await? {
                        newest = newest.max(hi);
                    }
                }
                self.engine.store.decide_firings(&[], Some(newest)).await?;
                newest
            }
        };
        self.written_cursor = self.cursor;
        self.catch_up().await?;
        loop {
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = stop.changed() => {}
                d = sub.recv() => match d {
                    None => break,
                    Some(Delivery::Lagged { .. }) => self.catch_up().await?,
                    Some(Delivery::Commit(c)) => {
                        let seen: Vec<Seen<'_>> = c
                            .batch
                            .events
                            .iter()
                            .zip(&c.inserted)
                            .filter_map(|(e, id)| {
                                let id = (*id)?;
                                (id > self.cursor).then_some(Seen {
                                    id,
                                    project: e.project,
                                    customer: e.customer,
                                    touchpoint_id: e.touchpoint,
                                    name: e.event.name.as_deref(),
                                    time_ms: e.event.timestamp,
                                    body: &e.event.body_json,
                                })
                            })
                            .collect();
                        if let Some(last) = seen.iter().map(|s| s.id).max() {
                            self.step(&seen, last).await?;
                        }
                    }
                },
            }
        }
        self.write_cursor(true).await
    }

    /// Read every event after the cursor from the store and decide on it.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let page = self.engine.store.scan_events(None, self.cursor, CATCH_UP_PAGE).await?;
            let Some(last) = page.last().map(|e| e.id) else { break };
            let seen: Vec<Seen<'_>> = page
                .iter()
                .map(|e| Seen {
                    id: e.id,
                    project: e.project_id,
                    customer: e.customer_id,
                    touchpoint_id: e.touchpoint_id,
                    name: e.name.as_deref(),
                    time_ms: e.timestamp,
                    body: &e.body,
                })
                .collect();
            self.step(&seen, last).await?;
        }
        self.write_cursor(true).await
    }

    async fn write_cursor(&mut self, force: bool) -> Result<(), StoreError> {
        if self.cursor > self.written_cursor && (force || self.written_at.elapsed() >= CURSOR_EVERY) {
            self.engine.store.decide_firings(&[], Some(self.cursor)).await?;
            self.written_cursor = self.cursor;
            self.written_at = Instant::now();
        }
        Ok(())
    }

    async fn reload(&mut self) -> Result<(), StoreError> {
        let version = self.engine.triggers.version.load(std::sync::atomic::Ordering::SeqCst);
        if self.loaded.is_some_and(|t| t.elapsed() < RULES_TTL) && version == self.version {
            return Ok(());
        }
        self.version = version;
        let mut rules: HashMap<ProjectId, Vec<Live>> = HashMap::new();
        for row in self.engine.store.trigger_rules(None).await? {
            if row.status != TriggerStatus::Live || row.definition["then"]["endpoint"].get("disabled").is_some() {
                continue;
            }
            match serde_json::from_value::<RuleDef>(row.definition.clone()) {
                Ok(def) => rules.entry(row.project_id).or_default().push(Live { id: row.id, key: row.key, def }),
                Err(e) => tracing::error!(rule = row.id, error = %e, "a trigger rule's definition is unreadable"),
            }
        }
        self.rules = rules;
        self.touchpoints.clear();
        self.loaded = Some(Instant::now());
        Ok(())
    }

    /// The project's touchpoints by store id, read again when `id` is not among them (a
    /// touchpoint discovered since).
    async fn touchpoints(&mut self, project: ProjectId, id: Option<i64>) -> Result<(), StoreError> {
        let known = self.touchpoints.get(&project).is_some_and(|m| id.is_none_or(|id| m.contains_key(&id)));
        if !known {
            let all = self.engine.store.touchpoints(project).await?;
            self.touchpoints.insert(project, all.into_iter().map(|t| (t.id, t)).collect());
        }
        Ok(())
    }

    /// Decide on a run of events (ids ascending) and move the cursor to `last`.
    pub async fn step(&mut self, events: &[Seen<'_>], last: i64) -> Result<(), StoreError> {
        self.reload().await?;
        let mut decided: Vec<NewFiring> = Vec::new();
        if !self.rules.is_empty() {
            for e in events {
                if self.rules.contains_key(&e.project) {
                    self.decide(e, &mut decided).await?;
                }
            }
        }
        self.cursor = self.cursor.max(last);
        if decided.is_empty() {
            return self.write_cursor(false).await;
        }
        self.engine.store.decide_firings(&decided, Some(self.cursor)).await?;
        self.written_cursor = self.cursor;
        self.written_at = Instant::now();
        self.engine.triggers_wake();
        Ok(())
    }

    async fn decide(&mut self, e: &Seen<'_>, out: &mut Vec<NewFiring>) -> Result<(), StoreError> {
        self.touchpoints(e.project, e.touchpoint_id).await?;
        let tps = &self.touchpoints[&e.project];
        let tp = e.touchpoint_id.and_then(|id| tps.get(&id));
        let store = self.engine.store.clone();
        let Some(rules) = self.rules.get(&e.project) else { return Ok(()) };
        // Cheap first: which rules could this event start, by touchpoint, stage or name?
        let candidates: Vec<&Live> = rules
            .iter()
            .filter(|r| match &r.def.when {
                touchpoint_act::rule::When::StageEntered { stage } => {
                    tp.as_ref().is_some_and(|t| t.touchpoint.stage.as_deref() == Some(stage))
                }
                touchpoint_act::rule::When::SurveyScore { .. } => e.name == Some(decide::SURVEY_EVENT),
                w => w.touchpoint().is_some() && tp.as_ref().map(|t| t.touchpoint.key.as_str()) == w.touchpoint(),
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let body: Value = serde_json::from_str(e.body).unwrap_or(Value::Null);
        let empty = Map::new();
        let properties = body.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let mut stage_entered = None;
        if let Some(stage) = tp.as_ref().and_then(|t| t.touchpoint.stage.clone()) {
            if candidates.iter().any(|r| matches!(&r.def.when, touchpoint_act::rule::When::StageEntered { .. })) {
                stage_entered = first_of_stage(&*store, tps, e, &stage).await?.then_some(stage);
            }
        }
        let occ = Occurrence {
            name: e.name,
            touchpoint: tp.as_ref().map(|t| t.touchpoint.key.as_str()),
            stage_entered: stage_entered.as_deref(),
            properties,
        };
        let (mut customer, mut first, mut stage) = (None, None, None);
        for r in candidates {
            let Some(start) = decide::starts(&r.def, &occ) else { continue };
            // History arriving late (an import, an old offline queue) starts nothing.
            if decide::stale(start, e.time_ms, now_ms()) {
                continue;
            }
            // The customer's row only when the rule reads traits; the user id is the event's.
            if customer.is_none() && !r.def.who.traits.is_empty() {
                customer = Some(store.customer(e.customer).await?);
            }
            let c = customer.as_ref().and_then(|c| c.as_ref());
            let empty_traits = Map::new();
            let traits = c.map(|c| &c.traits).unwrap_or(&empty_traits);
            if first.is_none() && !r.def.who.first_channel.is_empty() {
                first = Some(first_channel(&*store, tps, e.customer).await?);
            }
            let first_channel = first.as_ref().and_then(|f| f.as_deref());
            if stage.is_none() && !r.def.who.stage.is_empty() {
                stage = Some(match tp.and_then(|t| t.touchpoint.stage.clone()) {
                    Some(s) => Some(s),
                    None => stage_before(&*store, tps, e).await?,
                });
            }
            let stage = stage.as_ref().and_then(|s| s.as_deref());
            if !decide::is_for(&r.def, &CustomerFacts { traits, first_channel, stage }) {
                continue;
            }
            // Re-entry reads the rule's earlier decisions for the customer, stored and in this step.
            let mut history = History::default();
            if !matches!(r.def.guard.reentry, touchpoint_act::rule::Reentry::EveryTime) {
                let filter = FiringFilter { rule_id: Some(r.id), customer_id: Some(e.customer), ..Default::default() };
                history.rule_ms = store
                    .firings(e.project, &filter, 500)
                    .await?
                    .iter()
                    .filter(|f| counts_as_entry(f.firing.state))
                    .map(|f| f.firing.event_ms)
                    .collect();
                history.rule_ms.extend(
                    out.iter().filter(|f| f.rule_id == r.id && f.customer_id == e.customer).map(|f| f.event_ms),
                );
            }
            if !decide::may_enter(&r.def, &history, e.time_ms) {
                continue;
            }
            let now = now_ms();
            let (state, next_ms) = match start {
                Start::Now => (FiringState::Pending, now),
                Start::Wait(ms) => (FiringState::Waiting, e.time_ms.saturating_add(ms)),
            };
            let context = body.get("context");
            out.push(NewFiring {
                id: new_id(),
                project_id: e.project,
                rule_id: r.id,
                customer_id: e.customer,
                event_id: e.id,
                event_ms: e.time_ms,
                state,
                held_out: decide::held_out(r.id, e.customer, r.def.holdout),
                next_ms,
                reason: None,
                payload: json!({
                    "rule": r.key,
                    "event": {
                        "id": e.id,
                        "name": e.name,
                        "touchpoint": occ.touchpoint,
                        "time": touchpoint_core::event::format_time(e.time_ms),
                        "properties": properties,
                    },
                    "customer": {
                        "id": e.customer,
                        "user_id": body.get("userId").and_then(Value::as_str).map(str::to_owned).or_else(|| c.and_then(|c| c.user_id.clone())),
                    },
                    "consent": context.and_then(|c| c.get("consent")).and_then(|c| c.get("categoryPreferences")),
                    "locale": context.and_then(|c| c.get("locale")),
                }),
                decided_ms: now,
            });
        }
        Ok(())
    }
}

/// Whether an earlier firing counts as the customer having gone through the rule.
pub fn counts_as_entry(s: FiringState) -> bool {
    !matches!(s, FiringState::Cancelled | FiringState::Suppressed)
}

/// A firing id: `msg_` and 26 random base-32 characters (128 bits).
pub fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut rng = rand::thread_rng();
    let s: String = (0..26).map(|_| ALPHABET[rng.gen_range(0..32)] as char).collect();
    format!("msg_{s}")
}

/// Whether `e` is its customer's first event of `stage`.
async fn first_of_stage(
    store: &dyn Store,
    tps: &HashMap<i64, StoredTouchpoint>,
    e: &Seen<'_>,
    stage: &str,
) -> Result<bool, StoreError> {
    let mut before = Some((e.time_ms, e.id));
    for _ in 0..20 {
        let page = store.customer_events(&[e.customer], before, 500).await?;
        let of_stage = |t: &i64| tps.get(t).is_some_and(|t| t.touchpoint.stage.as_deref() == Some(stage));
        if page.iter().any(|x| x.touchpoint_id.as_ref().is_some_and(of_stage)) {
            return Ok(false);
        }
        match page.last() {
            Some(x) if page.len() == 500 => before = Some((x.timestamp, x.id)),
            _ => return Ok(true),
        }
    }
    Ok(true)
}

/// The stage of the customer's latest touchpoint before `e` that has one.
async fn stage_before(
    store: &dyn Store,
    tps: &HashMap<i64, StoredTouchpoint>,
    e: &Seen<'_>,
) -> Result<Option<String>, StoreError> {
    let mut before = Some((e.time_ms, e.id));
    for _ in 0..20 {
        let page = store.customer_events(&[e.customer], before, 500).await?;
        let staged = page.iter().find_map(|x| x.touchpoint_id.and_then(|t| tps.get(&t)?.touchpoint.stage.clone()));
        if staged.is_some() {
            return Ok(staged);
        }
        match page.last() {
            Some(x) if page.len() == 500 => before = Some((x.timestamp, x.id)),
            _ => break,
        }
    }
    Ok(None)
}

/// The channel of a customer's first touchpoint.
async fn first_channel(
    store: &dyn Store,
    tps: &HashMap<i64, StoredTouchpoint>,
    customer: CustomerId,
) -> Result<Option<&'static str>, StoreError> {
    let mut before = None;
    let mut first = None;
    for _ in 0..20 {
        let page = store.customer_events(&[customer], before, 500).await?;
        if let Some(t) = page.iter().rev().find_map(|x| x.touchpoint_id.and_then(|t| tps.get(&t))) {
            first = Some(t.touchpoint.channel.as_str());
        }
        match page.last() {
            Some(x) if page.len() == 500 => before = Some((x.timestamp, x.id)),
            _ => break,
        }
    }
    Ok(first)
}
