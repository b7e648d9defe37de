//! What the store keeps for acting at key moments ([`TriggerStore`]): trigger rules, the
//! durable outbox of their firings, the trigger worker's cursor, and each customer's
//! message preferences.
//!
//! Rule definitions are JSON the store does not interpret (`touchpoint-act` does). The
//! outbox is the one place a decision is made durable, so the store enforces the two
//! rules everything else leans on: a firing is decided **at most once per (rule,
//! customer, triggering event)** — a unique key, and [`TriggerStore::decide_firings`]
//! inserts only what is not there — and the worker's cursor moves in the same transaction
//! as the firings decided from the events before it, so a restart neither repeats nor
//! skips a decision. Delivery is at least once: a firing keeps its id through every
//! attempt, and the receiver drops repeats by it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use touchpoint_core::{CustomerId, ProjectId};

use crate::erasure::Subject;
use crate::Result;

/// Whether a rule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStatus {
    /// Written, never switched on: previews only.
    Draft,
    /// Deciding and sending.
    Live,
    /// Switched off: decides nothing; what was already decided is still delivered.
    Paused,
}

impl TriggerStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerStatus::Draft => "draft",
            TriggerStatus::Live => "live",
            TriggerStatus::Paused => "paused",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<TriggerStatus> {
        match s {
            "draft" => Some(TriggerStatus::Draft),
            "live" => Some(TriggerStatus::Live),
            "paused" => Some(TriggerStatus::Paused),
            _ => None,
        }
    }
}

/// A stored trigger rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRuleRow {
    /// Id.
    pub id: i64,
    /// Project.
    pub project_id: ProjectId,
    /// Stable key, unique in the project (`late-delivery-apology`).
    pub key: String,
    /// Draft, live or paused.
    pub status: TriggerStatus,
    /// The definition (JSON as `touchpoint-act` writes it).
    pub definition: Value,
    /// Created, ms.
    pub created_ms: i64,
    /// Last changed, ms.
    pub updated_ms: i64,
}

/// Where a firing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiringState {
    /// A "not followed within" timer: decided at `next_ms` unless the follow-up came.
    Waiting,
    /// To deliver at `next_ms` (now, after quiet hours, or at the next retry).
    Pending,
    /// Delivered (the receiver answered 2xx, or the SMTP server accepted it).
    Delivered,
    /// In the hold-out group: recorded as "would have fired", never sent.
    HeldOut,
    /// Decided against by a guard (cap, consent, re-entry): `reason` says which.
    Suppressed,
    /// A "not followed" timer whose follow-up came in time.
    Cancelled,
    /// Every attempt failed, or the endpoint is gone: in the dead-letter list, to replay.
    Dead,
    /// An in-page action past its guards, waiting for the customer's page to take it
    /// ([`TriggerStore::take_ready_firings`]); delivered when one does.
    Ready,
}

impl FiringState {
    /// Every state.
    pub const ALL: [FiringState; 8] = [
        FiringState::Waiting,
        FiringState::Pending,
        FiringState::Delivered,
        FiringState::HeldOut,
        FiringState::Suppressed,
        FiringState::Cancelled,
        FiringState::Dead,
        FiringState::Ready,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            FiringState::Waiting => "waiting",
            FiringState::Pending => "pending",
            FiringState::Delivered => "delivered",
            FiringState::HeldOut => "held_out",
            FiringState::Suppressed => "suppressed",
            FiringState::Cancelled => "cancelled",
            FiringState::Dead => "dead",
            FiringState::Ready => "ready",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<FiringState> {
        FiringState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still to act on (the delivery loop picks it up when due).
    pub fn is_open(self) -> bool {
        matches!(self, FiringState::Waiting | FiringState::Pending)
    }
}

/// A firing's payload, JSON text as the decider wrote it: stored and read back as text, so
/// the decider — which writes one for every decision, at ingest's pace — serializes it once
/// from borrowed parts, and only a reader that needs its fields parses it ([`Payload::value`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Payload(Box<serde_json::value::RawValue>);

impl Payload {
    /// The payload of this JSON text (an error if it is not JSON).
    pub fn from_json(text: String) -> Result<Payload, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(Payload)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The payload parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Payload {
        Payload(serde_json::value::to_raw_value(&v).expect("a JSON value serializes"))
    }
}

/// Equal when the JSON is (spacing and the text's own spelling aside).
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.get() == other.get() || self.value() == other.value()
    }
}

/// A decision to record in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFiring {
    /// Its id, kept through every delivery attempt (`msg_…`): the webhook's `webhook-id`,
    /// the e-mail's `Message-ID`.
    pub id: String,
    /// Project.
    pub project_id: ProjectId,
    /// The rule.
    pub rule_id: i64,
    /// The customer.
    pub customer_id: CustomerId,
    /// The triggering event's id; with rule and customer, the firing's unique key.
    pub event_id: i64,
    /// When the triggering event happened, ms.
    pub event_ms: i64,
    /// Waiting, pending, held out or suppressed.
    pub state: FiringState,
    /// In the hold-out group (stable per rule and customer).
    pub held_out: bool,
    /// When the delivery loop looks at it next, ms.
    pub next_ms: i64,
    /// Why it is suppressed or held (`cap`, `quiet_hours`, `consent` …), if it is.
    pub reason: Option<String>,
    /// What to deliver (the event's facts, the customer's, the rendered message) as JSON.
    pub payload: Payload,
    /// When decided, ms.
    pub decided_ms: i64,
}

/// A firing in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringRow {
    /// Its place in the outbox (grows with each decision; for paging).
    pub seq: i64,
    /// What was decided.
    #[serde(flatten)]
    pub firing: NewFiring,
    /// Delivery attempts made.
    pub attempts: i64,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// When it was delivered, held out, suppressed, cancelled or given up, ms.
    pub done_ms: Option<i64>,
}

/// What the guard rails and re-entry read of a customer's earlier firing: no payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringBrief {
    /// Its id.
    pub id: String,
    /// Its rule.
    pub rule_id: i64,
    /// Its state.
    pub state: FiringState,
    /// When its triggering event happened, ms.
    pub event_ms: i64,
    /// When it was finished, if it was, ms.
    pub done_ms: Option<i64>,
}

/// A change of a firing's delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringUpdate {
    /// The new state.
    pub state: FiringState,
    /// When to look at it next, ms.
    pub next_ms: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// Why it is held or suppressed, if it is.
    pub reason: Option<String>,
    /// When it was finished, ms.
    pub done_ms: Option<i64>,
    /// A new payload (the survey link made for it, kept for every retry); `None` keeps it.
    pub payload: Option<Value>,
}

/// Which firings [`TriggerStore::firings`] lists (every field narrows; newest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FiringFilter {
    /// Only this rule's.
    pub rule_id: Option<i64>,
    /// Only in this state.
    pub state: Option<FiringState>,
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Only those triggered at or after this time, ms.
    pub since_ms: Option<i64>,
    /// Only those before this place in the outbox (paging).
    pub before_seq: Option<i64>,
}

/// A customer's choice about one kind of message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    /// The category (`marketing`, `service`, `surveys` …), or `all`.
    pub category: String,
    /// The channel (`email`, `webhook`, `in_page`: a rule's `then` sends on one), or `all`.
    pub channel: String,
    /// Whether they accept it.
    pub allowed: bool,
    /// When they said so, ms.
    pub updated_ms: i64,
    /// Where they said so (`unsubscribe_link`, `api`, `portal`, `event`).
    pub source: String,
}

/// Trigger rules, the outbox and preferences.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// A new rule; `Exists` when its key is taken in the project.
    async fn create_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow>;
    /// A project's rules (every project's with `None`), by id.
    async fn trigger_rules(&self, project: Option<ProjectId>) -> Result<Vec<TriggerRuleRow>>;
    /// One rule by key.
    async fn trigger_rule(&self, project: ProjectId, key: &str) -> Result<Option<TriggerRuleRow>>;
    /// Change a rule's definition and status; `NotFound` when there is none.
    async fn update_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow>;
    /// Record decisions, each only if no firing has its (rule, customer, event) yet, and,
    /// in the same transaction, move the worker's cursor to `cursor` (never back). Returns
    /// for each firing whether it was recorded now.
    async fn decide_firings(&self, firings: &[NewFiring], cursor: Option<i64>) -> Result<Vec<bool>>;
    /// The last event id the worker decided on, if any.
    async fn trigger_cursor(&self) -> Result<Option<i64>>;
    /// Open firings (waiting or pending) due at `now_ms`, the earliest first.
    async fn due_firings(&self, now_ms: i64, limit: usize) -> Result<Vec<FiringRow>>;
    /// Take the first `limit` open firings due at `now_ms` for acting on: in one write, each
    /// one's next look moves to `until_ms` (a lease: whoever crashes mid-send, the firing
    /// is due again then). Returned as they are after the lease, in decision order; a
    /// firing is taken by one caller only, whichever node calls.
    async fn lease_due_firings(&self, now_ms: i64, limit: usize, until_ms: i64) -> Result<Vec<FiringRow>>;
    /// When the next open firing is due, if any.
    async fn next_due_ms(&self) -> Result<Option<i64>>;
    /// Change a firing's state; `NotFound` when there is none.
    async fn update_firing(&self, id: &str, update: &FiringUpdate) -> Result<()>;
    /// One firing.
    async fn firing(&self, id: &str) -> Result<Option<FiringRow>>;
    /// A project's firings, the newest decision first.
    async fn firings(&self, project: ProjectId, filter: &FiringFilter, limit: usize) -> Result<Vec<FiringRow>>;
    /// The firings of `customers` (a person: a customer and those merged into it) triggered
    /// at or after `since_ms`, every rule's, newest decision first, up to `limit`, without
    /// their payloads.
    async fn firing_history(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringBrief>>;
    /// Take the first `limit` ready firings (in-page actions) of `customers` (a person) in
    /// `project` triggered at or after `since_ms`: in one write each becomes delivered at
    /// `now_ms`, so two pages asking at once never both get one. Returned in decision order.
    async fn take_ready_firings(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringRow>>;
    /// How many of a rule's firings are in each state.
    async fn firing_counts(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(FiringState, i64)>>;
    /// How many of a rule's suppressed firings were suppressed for each reason, the
    /// commonest first (ties by reason).
    async fn suppressed_reasons(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(String, i64)>>;
    /// Record a customer's choice for a category (replacing an earlier one).
    async fn set_preference(&self, project: ProjectId, customer: CustomerId, pref: &Preference) -> Result<()>;
    /// A customer's choices.
    async fn preferences(&self, project: ProjectId, customer: CustomerId) -> Result<Vec<Preference>>;
    /// The firings of a subject's customers (export, erasure's re-read).
    async fn subject_firings(&self, subject: &Subject) -> Result<Vec<FiringRow>>;
    /// The preferences of a subject's customers.
    async fn subject_preferences(&self, subject: &Subject) -> Result<Vec<Preference>>;
    /// Remove a subject's firings (their payloads name the customer) and preferences;
    /// answers how many of each.
    async fn erase_subject_triggers(&self, subject: &Subject) -> Result<(u64, u64)>;
}
