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
//!
//! From each commit it keeps only the events a live rule could start (by touchpoint, stage
//! or name) and lets the commit go, so a busy ingest does not pay for memory the decider
//! holds; commits that come less than 20 ms apart are gathered for up to 100 ms and
//! decided in one outbox transaction (after a pause a commit is decided at once).

use crate::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use touchpoint_act::decide::{self, CustomerFacts, History, Occurrence, Start};
use touchpoint_act::RuleDef;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::bus::{Commit, Delivery, Subscription};
use touchpoint_store::triggers::{FiringFilter, FiringState, NewFiring, TriggerStatus};
use touchpoint_store::{now_ms, Store, StoreError, StoredTouchpoint};

/// How often the rules are read again without being told they changed (a rule changed by
/// the CLI beside a running server); the delivery loop's too.
pub(super) const RULES_TTL: Duration = Duration::from_secs(2);
/// Events read per step when catching up from the store.
const CATCH_UP_PAGE: usize = 2_000;
/// At most this many events a rule could start are decided in one step (one outbox
/// transaction) when commits queued up for the decider.
const GATHER: usize = 5_000;
/// How long the decider gathers commits for one step when the stream is busy: fewer,
/// larger outbox transactions (each holds the writer's gate) at a small delay, well within
/// the second a firing may take.
const GATHER_FOR: Duration = Duration::from_millis(100);
/// A commit that arrives sooner than this after the last step means the stream is busy.
const BUSY_GAP: Duration = Duration::from_millis(20);
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

/// What the decider took from the commits queued for it, to decide in one step: the
/// commits that hold an event a rule could start (kept for the step only), and where.
#[derive(Debug, Default)]
struct Taken {
    /// Those commits.
    commits: Vec<Arc<Commit>>,
    /// (commit, event in it, event id) of each such event, ids ascending.
    events: Vec<(usize, usize, i64)>,
    /// The last new event id among all the commits taken (the cursor's next place).
    last: Option<i64>,
}

impl Taken {
    /// The events taken, as the decider reads them.
    fn seen(&self) -> Vec<Seen<'_>> {
        self.events
            .iter()
            .map(|&(c, i, id)| {
                let e = &self.commits[c].batch.events[i];
                Seen {
                    id,
                    project: e.project,
                    customer: e.customer,
                    touchpoint_id: e.touchpoint,
                    name: e.event.name.as_deref(),
                    time_ms: e.event.timestamp,
                    body: &e.event.body_json,
                }
            })
            .collect()
    }
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
    /// When the last step from the bus ended.
    stepped: Option<Instant>,
    /// Whether any live rule could start for an event of (project, touchpoint, named as a
    /// survey answer), as [`may_start`] answers; forgotten with the rules and touchpoints.
    could: HashMap<(ProjectId, Option<i64>, bool), bool>,
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
            stepped: None,
            could: HashMap::new(),
        };
        if let Err(e) = d.run(sub, stop).await {
            tracing::error!(error = %e, "the trigger decider stopped");
        }
    })
}

impl Decider {
    async fn run(
        &mut self,
        mut sub: Subscription,
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
                        let (taken, lagged) = self.gather(c, &mut sub).await?;
                        if let Some(last) = taken.last {
                            self.step(&taken.seen(), last).await?;
                        }
                        self.stepped = Some(Instant::now());
                        if lagged {
                            self.catch_up().await?;
                        }
                    }
                },
            }
        }
        self.write_cursor(true).await
    }

    /// What to decide in one step, starting from commit `first`: what the rules could start
    /// in it, then in the commits queued after it — for up to [`GATHER_FOR`] when the stream
    /// is busy (a commit soon after the last step), else only what is queued already — so
    /// that one outbox transaction takes all of it. Whole commits are not kept: only those
    /// holding an event a rule could start, until the step. Also whether a lag notice came
    /// (to catch up after the step).
    async fn gather(&mut self, first: Arc<Commit>, sub: &mut Subscription) -> Result<(Taken, bool), StoreError> {
        let mut taken = Taken::default();
        self.take(&first, &mut taken).await?;
        drop(first);
        let busy = self.stepped.is_some_and(|t| t.elapsed() < BUSY_GAP);
        let until = tokio::time::Instant::now() + if busy { GATHER_FOR } else { Duration::ZERO };
        while taken.events.len() < GATHER {
            let next = match busy {
                true => tokio::time::timeout_at(until, sub.recv()).await,
                false => Ok(sub.try_recv()),
            };
            match next {
                Ok(Some(Delivery::Commit(c))) => self.take(&c, &mut taken).await?,
                Ok(Some(Delivery::Lagged { .. })) => return Ok((taken, true)),
                Ok(None) | Err(_) => break,
            }
        }
        Ok((taken, false))
    }

    /// Add the events of `c` after the cursor that a live rule could start (by touchpoint,
    /// stage or name) to `taken`, and move `taken.last` past all of them.
    /// The rules are those live when the commit is taken (read again if they changed).
    async fn take(&mut self, c: &Arc<Commit>, taken: &mut Taken) -> Result<(), StoreError> {
        self.reload().await?;
        let before = taken.events.len();
        for (i, (e, id)) in c.batch.events.iter().zip(&c.inserted).enumerate() {
            let Some(id) = *id else { continue };
            if id <= self.cursor.max(taken.last.unwrap_or(0)) {
                continue;
            }
            taken.last = Some(id);
            if !self.rules.contains_key(&e.project) {
                continue;
            }
            let survey = e.event.name.as_deref() == Some(decide::SURVEY_EVENT);
            let key = (e.project, e.touchpoint, survey);
            let could = match self.could.get(&key) {
                Some(&could) => could,
                None => {
                    self.touchpoints(e.project, e.touchpoint).await?;
                    let tp = e.touchpoint.and_then(|t| self.touchpoints[&e.project].get(&t));
                    let name = e.event.name.as_deref();
                    let could = self.rules[&e.project].iter().any(|r| may_start(r, tp, name));
                    self.could.insert(key, could);
                    could
                }
            };
            if could {
                taken.events.push((taken.commits.len(), i, id));
            }
        }
        if taken.events.len() > before {
            taken.commits.push(c.clone());
        }
        Ok(())
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
        self.could.clear();
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
            self.could.retain(|k, _| k.0 != project);
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
        let candidates: Vec<&Live> = rules.iter().filter(|r| may_start(r, tp, e.name)).collect();
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
                payload: payload(&Payload {
                    rule: &r.key,
                    event: PayloadEvent {
                        id: e.id,
                        name: e.name,
                        touchpoint: occ.touchpoint,
                        time: touchpoint_core::event::format_time(e.time_ms),
                        properties,
                    },
                    customer: PayloadCustomer {
                        id: e.customer,
                        user_id: body
                            .get("userId")
                            .and_then(Value::as_str)
                            .or_else(|| c.and_then(|c| c.user_id.as_deref())),
                    },
                    consent: context.and_then(|c| c.get("consent")).and_then(|c| c.get("categoryPreferences")),
                    locale: context.and_then(|c| c.get("locale")),
                }),
                decided_ms: now,
            });
        }
        Ok(())
    }
}

/// Whether `r` could start for an event of touchpoint `tp` named `name` — the cheap test
/// by touchpoint, stage or name, before conditions, the customer and the guards.
fn may_start(r: &Live, tp: Option<&StoredTouchpoint>, name: Option<&str>) -> bool {
    match &r.def.when {
        touchpoint_act::rule::When::StageEntered { stage } => {
            tp.is_some_and(|t| t.touchpoint.stage.as_deref() == Some(stage))
        }
        touchpoint_act::rule::When::SurveyScore { .. } => name == Some(decide::SURVEY_EVENT),
        w => w.touchpoint().is_some() && tp.map(|t| t.touchpoint.key.as_str()) == w.touchpoint(),
    }
}

/// A firing's payload as the decider writes it, borrowed from the event: serialized once,
/// straight to the text the outbox stores (building it as a `Value` — a copy of the
/// event's properties, then its text, then freeing it — was half the decider's time at a
/// high firing rate).
#[derive(serde::Serialize)]
struct Payload<'a> {
    rule: &'a str,
    event: PayloadEvent<'a>,
    customer: PayloadCustomer<'a>,
    consent: Option<&'a Value>,
    locale: Option<&'a Value>,
}

/// The triggering event in a [`Payload`].
#[derive(serde::Serialize)]
struct PayloadEvent<'a> {
    id: i64,
    name: Option<&'a str>,
    touchpoint: Option<&'a str>,
    time: String,
    properties: &'a Map<String, Value>,
}

/// The customer in a [`Payload`].
#[derive(serde::Serialize)]
struct PayloadCustomer<'a> {
    id: CustomerId,
    user_id: Option<&'a str>,
}

/// The payload's text, as the store keeps it.
fn payload(p: &Payload<'_>) -> touchpoint_store::triggers::Payload {
    let text = serde_json::to_string(p).expect("a payload serializes");
    touchpoint_store::triggers::Payload::from_json(text).expect("serde_json writes JSON")
}

/// Whether an earlier firing counts as the customer having gone through the rule.
pub fn counts_as_entry(s: FiringState) -> bool {
    !matches!(s, FiringState::Cancelled | FiringState::Suppressed)
}

/// A firing id: `msg_` and 26 base-32 characters, a ULID — 48 bits of the time in ms, then
/// 80 random bits — so ids are hard to guess and each new one lands at the end of the
/// outbox's index of ids instead of at a random place in it.
pub fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let value = ((now_ms().max(0) as u128 & 0xffff_ffff_ffff) << 80) | (rand::thread_rng().gen::<u128>() >> 48);
    let mut id = String::with_capacity(30);
    id.push_str("msg_");
    for i in (0..26).rev() {
        id.push(ALPHABET[((value >> (5 * i)) & 31) as usize] as char);
    }
    id
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_ids_are_ulids_that_sort_by_time_and_differ() {
        const ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";
        let first = new_id();
        std::thread::sleep(Duration::from_millis(2));
        let ids: Vec<String> = (0..1_000).map(|_| new_id()).collect();
        for id in std::iter::once(&first).chain(&ids) {
            let tail = id.strip_prefix("msg_").expect("msg_ prefix");
            assert_eq!(tail.len(), 26, "{id}");
            assert!(tail.chars().all(|c| ALPHABET.contains(c)), "{id}");
            // The first character carries the top 3 of 130 bits: 0–7.
            assert!(tail.as_bytes()[0] <= b'7', "{id}");
        }
        assert!(ids.iter().all(|id| *id > first), "a later millisecond sorts later");
        // The time is the first 10 characters (48 bits); now, give or take the test's run.
        let ms = first[4..14].chars().fold(0i64, |v, c| v * 32 + ALPHABET.find(c).unwrap() as i64);
        assert!((ms - now_ms()).abs() < 60_000, "{ms}");
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "80 random bits each");
    }
}
