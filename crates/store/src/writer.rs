//! The single writer: every event, from the HTTP API, an import or the demo, goes through
//! here. Requests hand over their validated events; the writer classifies them, stitches
//! identities, drops duplicates and commits many requests in one transaction (group
//! commit), then answers each request only after that commit — so an acknowledged event
//! is on disk.
//!
//! Memory is bounded: a request must get one permit per event from a semaphore of
//! `queue_events` before it is queued, so a store that cannot keep up makes callers wait
//! ([`Writer::submit_wait`], the importer) or turns them away at once ([`Writer::submit`],
//! the API, which answers 503 with `Retry-After`).
//!
//! Disk for rejected input is bounded too ([`FailedQuota`]): a write key sits in every
//! web page, so anyone can send rejected events. Each failed event keeps at most
//! `max_raw_bytes` of its raw body, and a project keeps at most `max_events` failed events
//! and `max_bytes` of raw bodies. Past that, new failed events are counted
//! ([`WriterStats::failed_dropped`], [`Receipt::failed_dropped`]) and not kept, until a
//! person clears the project's failed events; nothing already kept is ever dropped. The
//! count is exact within one group commit.
//!
//! Erased customers stay erased ([`crate::erasure`]): events that name a suppressed
//! identity value, and failed events whose raw bytes do, are refused before they are
//! classified or stitched — not stored, not kept as failed events, counted in the receipt
//! ([`Receipt::suppressed`]), the writer's stats and the project's count in the store. An
//! erasure goes through the writer ([`Writer::erase_customer`]): it waits for the groups
//! before it, the groups after it wait for it, and the writer reloads its identity graph
//! and suppression lists before the next group. An erasure made on the store directly is
//! noticed too ([`Store::erasures`]) and causes the same reload before the next group.

use crate::bus::CommitBus;
use crate::erasure::{ErasureReceipt, SuppressionList};
use crate::relay::{Command, Relay};
use crate::{CommitBatch, FailedUsage, NewEvent, NewFailedEvent, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use touchpoint_core::catalog::{Classifier, Memo};
use touchpoint_core::event::merge_patch;
use touchpoint_core::{CustomerId, Event, EventType, IdentityGraph, ProjectId, Touchpoint};

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Events that may wait for a commit at once (the bound on queued memory).
    pub queue_events: usize,
    /// Most events in one group commit.
    pub max_group_events: usize,
    /// What a project may keep of rejected input.
    pub failed: FailedQuota,
    /// Touchpoints a project may have before discovery stops making new ones: event names
    /// come from a public write key, and each new one would be a touchpoint. Past it, events
    /// of new kinds are stored unclassified and counted ([`WriterStats::discovery_capped`]).
    pub max_touchpoints: usize,
}

/// The default [`WriterConfig::max_touchpoints`] (the journey index numbers touchpoints in
/// 16 bits, so never more than 65 536).
pub const DEFAULT_MAX_TOUCHPOINTS: usize = 5_000;

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_events: 200_000,
            max_group_events: 20_000,
            failed: FailedQuota::default(),
            max_touchpoints: DEFAULT_MAX_TOUCHPOINTS,
        }
    }
}

/// The bound on what failed events keep (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedQuota {
    /// Raw bytes kept of one failed event; the rest is cut and the reason says so.
    pub max_raw_bytes: usize,
    /// Failed events a project keeps.
    pub max_events: u64,
    /// Raw bytes a project's failed events keep in all.
    pub max_bytes: u64,
}

impl Default for FailedQuota {
    fn default() -> Self {
        FailedQuota { max_raw_bytes: 16 * 1024, max_events: 50_000, max_bytes: 64 * 1024 * 1024 }
    }
}

impl FailedQuota {
    /// Cut `f`'s raw body to the per-event limit and count it against `usage`; `None` when
    /// the project's quota is full and it must be dropped.
    pub fn admit(&self, usage: &mut FailedUsage, mut f: NewFailedEvent) -> Option<NewFailedEvent> {
        if f.raw.len() > self.max_raw_bytes {
            f.reason = format!("{} (raw body cut from {} to {} bytes)", f.reason, f.raw.len(), self.max_raw_bytes);
            f.raw.truncate(self.max_raw_bytes);
        }
        let bytes = f.raw.len() as u64;
        if usage.events >= self.max_events || usage.bytes + bytes > self.max_bytes {
            return None;
        }
        usage.events += 1;
        usage.bytes += bytes;
        Some(f)
    }
}

/// Events handed to the writer by one request.
#[derive(Debug, Default)]
pub struct Submission {
    /// Project.
    pub project: ProjectId,
    /// Valid events.
    pub events: Vec<Event>,
    /// Rejected events, to be kept.
    pub failed: Vec<NewFailedEvent>,
}

/// What became of a submission, once committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Events stored now.
    pub stored: usize,
    /// Events already stored before (same project and messageId), or twice in this batch.
    pub duplicates: usize,
    /// Failed events kept.
    pub failed: usize,
    /// Failed events not kept: the project's failed-event quota is full.
    pub failed_dropped: usize,
    /// Events and failed events refused because they name an erased customer's identity
    /// value (suppressed): neither stored nor kept.
    pub suppressed: usize,
    /// Events and failed events a relaying node kept durably for the writing node, which
    /// has not committed them yet ([`crate::relay`]): stored (or found to be repeats) when
    /// it does.
    #[serde(default)]
    pub queued: usize,
}

/// A queued submission ([`Writer::queue_wait`]): await its receipt.
pub struct Queued {
    rx: Option<oneshot::Receiver<Result<Receipt, String>>>,
    n: u64,
    stats: Arc<WriterStats>,
}

impl Queued {
    /// What became of the submission, once committed.
    pub async fn receipt(self) -> Result<Receipt, SubmitError> {
        let result = match self.rx {
            Some(rx) => rx.await.map_err(|_| SubmitError::Unavailable("the writer stopped".into())),
            None => Err(SubmitError::Unavailable("the writer stopped".into())),
        };
        self.stats.queued.fetch_sub(self.n, Relaxed);
        result?.map_err(SubmitError::Unavailable)
    }
}

/// Why a submission was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: try again shortly.
    #[error("the ingest queue is full")]
    Busy,
    /// The store failed or the writer stopped; nothing of this submission was acknowledged.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// Counters the server exposes as Prometheus metrics.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Events stored.
    pub stored: AtomicU64,
    /// Duplicate events acknowledged and not stored.
    pub duplicates: AtomicU64,
    /// Failed events kept.
    pub failed: AtomicU64,
    /// Failed events not kept because their project's quota was full.
    pub failed_dropped: AtomicU64,
    /// Events and failed events refused because they named a suppressed identity value.
    pub suppressed: AtomicU64,
    /// Events of a new kind stored unclassified because their project had all the
    /// touchpoints it may have.
    pub discovery_capped: AtomicU64,
    /// Group commits made.
    pub commits: AtomicU64,
    /// Group commits that failed.
    pub commit_errors: AtomicU64,
    /// Events waiting for a commit now.
    pub queued: AtomicU64,
    /// Commit latency histogram: counts per bucket of [`COMMIT_BUCKETS`] (seconds), plus +Inf.
    pub commit_hist: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    /// Sum of commit latencies, in microseconds.
    pub commit_us_sum: AtomicU64,
}

/// Upper bounds of the commit latency histogram buckets, in seconds.
pub const COMMIT_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

impl WriterStats {
    fn observe_commit(&self, secs: f64) {
        let i = COMMIT_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(COMMIT_BUCKETS.len());
        self.commit_hist[i].fetch_add(1, Relaxed);
        self.commit_us_sum.fetch_add((secs * 1e6) as u64, Relaxed);
        self.commits.fetch_add(1, Relaxed);
    }
}

struct Job {
    sub: Submission,
    /// Of `sub.failed`, how many the quota let in (the rest were dropped or refused).
    failed_kept: usize,
    /// Of `sub.failed`, how many were refused because they named a suppressed value.
    failed_refused: usize,
    /// Events and failed events refused because they named a suppressed value.
    suppressed: usize,
    reply: oneshot::Sender<Result<Receipt, String>>,
    _permit: OwnedSemaphorePermit,
}

impl Job {
    /// Answer the request, its permits given back first: a caller that submits again
    /// as soon as it is answered finds them free (not a spurious "busy").
    fn answer(self, answer: Result<Receipt, String>) {
        let Job { reply, _permit, .. } = self;
        drop(_permit);
        let _ = reply.send(answer);
    }
}

enum Msg {
    Write(Job),
    Reload(ProjectId, oneshot::Sender<()>),
    Erase(CustomerId, oneshot::Sender<Result<ErasureReceipt, StoreError>>),
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Msg>,
    permits: Arc<Semaphore>,
    capacity: usize,
    stats: Arc<WriterStats>,
    store: Arc<dyn Store>,
    max_touchpoints: usize,
    /// Set on a relaying node ([`Writer::relayed`]): where its commands go.
    relay: Option<Arc<dyn Relay>>,
}

impl Writer {
    /// Load the identity graph and start the writer task. It runs until every handle is
    /// dropped, finishing the jobs already queued.
    pub async fn start(
        store: Arc<dyn Store>,
        config: WriterConfig,
        bus: Option<Arc<CommitBus>>,
    ) -> Result<(Writer, tokio::task::JoinHandle<()>), StoreError> {
        let graph = store.load_identity_graph().await?;
        // An empty graph (a new store) is nothing to note for a person.
        if graph.customer_count() > 0 {
            tracing::info!(
                customers = graph.customer_count(),
                identities = graph.identity_count(),
                "identity graph loaded"
            );
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        let task = Task {
            store: store.clone(),
            graph,
            projects: HashMap::new(),
            stats: stats.clone(),
            max_group: config.max_group_events.max(1),
            failed_quota: config.failed,
            max_touchpoints: config.max_touchpoints.min(1 << 16),
            epoch: 1,
            failed: Arc::new(AtomicU64::new(0)),
            bus,
            erasures: store.erasures(),
        };
        let handle = tokio::spawn(task.run(rx));
        Ok((Writer::handle(tx, stats, store, &config, None), handle))
    }

    /// The handle on a writer task fed by `tx`.
    fn handle(
        tx: mpsc::UnboundedSender<Msg>,
        stats: Arc<WriterStats>,
        store: Arc<dyn Store>,
        config: &WriterConfig,
        relay: Option<Arc<dyn Relay>>,
    ) -> Writer {
        let capacity = config.queue_events.max(1);
        let permits = Arc::new(Semaphore::new(capacity));
        Writer { tx, permits, capacity, stats, store, max_touchpoints: config.max_touchpoints.min(1 << 16), relay }
    }

    /// A writer for a node that does not write events itself ([`crate::relay`]): every
    /// submission, reload, erasure and re-classification is handed to `relay`, in the
    /// order they come, and answered with the writing node's answer. The same bound on
    /// queued events holds (a submission keeps its permits until it is answered), and it
    /// bounds what waits unanswered in the relay too: past `queue_events` events queued
    /// while no node answers, submissions are refused until one does. The task runs until
    /// every handle is dropped.
    pub fn relayed(
        store: Arc<dyn Store>,
        config: WriterConfig,
        relay: Arc<dyn Relay>,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        let writer = Writer::handle(tx, stats.clone(), store, &config, Some(relay.clone()));
        let handle = tokio::spawn(relay_run(rx, relay, stats, writer.capacity as u64));
        (writer, handle)
    }

    /// Whether this node hands its writes to another ([`Writer::relayed`]).
    pub fn is_relayed(&self) -> bool {
        self.relay.is_some()
    }

    /// The writer's counters.
    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    fn weight(&self, sub: &Submission) -> u32 {
        (sub.events.len() + sub.failed.len()).clamp(1, self.capacity) as u32
    }

    /// Submit, or fail with [`SubmitError::Busy`] at once when the queue is full.
    pub async fn submit(&self, sub: Submission) -> Result<Receipt, SubmitError> {
        let permit = self.permits.clone().try_acquire_many_owned(self.weight(&sub)).map_err(|_| SubmitError::Busy)?;
        self.enqueue(sub, permit).receipt().await
    }

    /// Submit, waiting for room in the queue.
    pub async fn submit_wait(&self, sub: Submission) -> Result<Receipt, SubmitError> {
        self.queue_wait(sub).await?.receipt().await
    }

    /// Queue a submission, waiting for room, and return its receipt to await later. The
    /// writer takes submissions in the order they are queued, so a caller that queues one
    /// after another (an import) keeps its order while several are in flight.
    pub async fn queue_wait(&self, sub: Submission) -> Result<Queued, SubmitError> {
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(self.weight(&sub))
            .await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        Ok(self.enqueue(sub, permit))
    }

    fn enqueue(&self, sub: Submission, permit: OwnedSemaphorePermit) -> Queued {
        let (reply, rx) = oneshot::channel();
        let n = (sub.events.len() + sub.failed.len()) as u64;
        self.stats.queued.fetch_add(n, Relaxed);
        let job = Job { sub, failed_kept: 0, failed_refused: 0, suppressed: 0, reply, _permit: permit };
        let sent = self.tx.send(Msg::Write(job)).is_ok();
        Queued { rx: sent.then_some(rx), n, stats: self.stats.clone() }
    }

    /// Make the writer re-read a project's rules and touchpoints (after they changed).
    /// Returns once events after this call are classified by the new rules.
    pub async fn reload(&self, project: ProjectId) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Reload(project, tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Erase a customer ([`Store::erase_customer`]) in line with ingest: once the groups
    /// queued before it are committed, and before any queued after it, which are built on
    /// the identity graph and suppression lists as the erasure left them. Nothing queued
    /// can bring the customer back. Ingest waits meanwhile (the erasure rebuilds the
    /// store's files, which takes a while on a big store); reads go on.
    pub async fn erase_customer(&self, id: CustomerId) -> Result<ErasureReceipt, StoreError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Erase(id, tx)).is_ok() {
            if let Ok(done) = rx.await {
                return done;
            }
        }
        // The writer has stopped: nothing writes, the store can be erased as it is.
        self.store.erase_customer(id).await
    }

    /// Re-classify a project's stored events with its current rules: reload the writer,
    /// then rewrite every event whose touchpoint changed, then recount the daily volumes.
    pub async fn reclassify(&self, project: ProjectId) -> Result<ReclassifyReport, StoreError> {
        if let Some(relay) = &self.relay {
            let seq = relay.send(&Command::Reclassify { project }).await?;
            return crate::relay::reclassify_of(relay.reply(seq, crate::relay::LONG_WAIT).await?);
        }
        self.reload(project).await;
        let store = &self.store;
        let classifier = Classifier::new(store.rules(project).await?);
        let mut ids: HashMap<String, i64> =
            store.touchpoints(project).await?.into_iter().map(|t| (t.touchpoint.key, t.id)).collect();
        let mut report = ReclassifyReport::default();
        let mut after = 0;
        loop {
            let page = store.scan_events(Some(project), after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let mut updates = vec![];
            for mut e in page {
                report.scanned += 1;
                let event = stored_as_event(&mut e)?;
                let tp = match classifier.classify(&event) {
                    None => None,
                    Some(c) => match ids.get(&c.key) {
                        Some(&id) => Some(id),
                        // As in the writer: no new touchpoint past the project's cap.
                        None if ids.len() >= self.max_touchpoints => None,
                        None => {
                            let (name, channel) =
                                c.discovered.clone().unwrap_or((c.key.clone(), touchpoint_core::Channel::Other));
                            let id = store
                                .ensure_touchpoint(project, &Touchpoint::discovered(&c.key, &name, channel))
                                .await?;
                            ids.insert(c.key, id);
                            Some(id)
                        }
                    },
                };
                if tp != e.touchpoint_id {
                    updates.push((e.id, tp));
                }
            }
            report.changed += updates.len() as u64;
            store.set_touchpoints(&updates).await?;
        }
        store.rebuild_volume(project).await?;
        self.reload(project).await;
        Ok(report)
    }
}

/// A stored event as the classifier sees it (its facts read again from its body, which is
/// moved out of `e`).
pub fn stored_as_event(e: &mut crate::StoredEvent) -> Result<Event, StoreError> {
    let facts = match Event::facts_of_text(&e.body) {
        Some(facts) => facts,
        None => {
            let body: Map<String, Value> =
                serde_json::from_str(&e.body).map_err(|err| StoreError::Corrupt(format!("event {}: {err}", e.id)))?;
            touchpoint_core::catalog::Facts::of(&body)
        }
    };
    Ok(Event {
        message_id: e.message_id.clone(),
        kind: e.kind,
        name: e.name.clone(),
        user_id: e.user_id.clone(),
        anonymous_id: e.anonymous_id.clone(),
        previous_id: None,
        group_id: None,
        timestamp: e.timestamp,
        received_at: e.received_at,
        flags: touchpoint_core::EventFlags(e.flags),
        facts,
        traits: None,
        body_json: std::mem::take(&mut e.body),
    })
}

/// What a re-classification did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclassifyReport {
    /// Events looked at.
    pub scanned: u64,
    /// Events whose touchpoint changed.
    pub changed: u64,
}

/// A relaying node's writer task: each message handed on in the order it came (so an
/// import keeps its order), the answers awaited beside it.
/// `limit`: events this node may leave queued for a writing node that does not answer;
/// past it, submissions are refused (a public write key must not fill PostgreSQL while no
/// node writes).
async fn relay_run(mut rx: mpsc::UnboundedReceiver<Msg>, relay: Arc<dyn Relay>, stats: Arc<WriterStats>, limit: u64) {
    use crate::relay::{erasure_of, receipt_of, LONG_WAIT, RELOAD_WAIT, SUBMIT_WAIT};
    // Events queued unanswered since the writing node last answered, and the last such
    // command.
    let waiting = Arc::new(AtomicU64::new(0));
    let last_queued = Arc::new(std::sync::atomic::AtomicI64::new(0));
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Write(mut job) => {
                let (events, failed) = (job.sub.events.len(), job.sub.failed.len());
                let mut queued = waiting.load(Relaxed);
                // Answered since? Then a writing node is back.
                if queued >= limit
                    && matches!(relay.reply(last_queued.load(Relaxed), Duration::ZERO).await, Ok(Some(_)))
                {
                    waiting.store(0, Relaxed);
                    queued = 0;
                }
                if queued >= limit {
                    job.answer(Err(format!("no node writes events now and {queued} wait for one; nothing was stored")));
                    continue;
                }
                let command = Command::Submit {
                    project: job.sub.project,
                    events: std::mem::take(&mut job.sub.events),
                    failed: std::mem::take(&mut job.sub.failed),
                };
                let seq = match relay.send(&command).await {
                    Ok(seq) => seq,
                    Err(e) => {
                        stats.commit_errors.fetch_add(1, Relaxed);
                        job.answer(Err(e.to_string()));
                        continue;
                    }
                };
                drop(command);
                let (relay, stats, waiting, last_queued) =
                    (relay.clone(), stats.clone(), waiting.clone(), last_queued.clone());
                tokio::spawn(async move {
                    let answer = match relay.reply(seq, SUBMIT_WAIT).await {
                        Ok(Some(r)) => {
                            waiting.store(0, Relaxed);
                            receipt_of(Some(r), events, failed)
                        }
                        // The command is kept: the events are queued, not lost.
                        Ok(None) | Err(_) => {
                            waiting.fetch_add((events + failed) as u64, Relaxed);
                            last_queued.fetch_max(seq, Relaxed);
                            tracing::warn!(seq, "no answer from the writing node; the events are queued");
                            receipt_of(None, events, failed)
                        }
                    };
                    if let Ok(r) = &answer {
                        stats.stored.fetch_add(r.stored as u64, Relaxed);
                        stats.duplicates.fetch_add(r.duplicates as u64, Relaxed);
                        stats.failed.fetch_add(r.failed as u64, Relaxed);
                    }
                    job.answer(answer);
                });
            }
            Msg::Reload(project, done) => match relay.send(&Command::Reload { project }).await {
                Ok(seq) => {
                    let relay = relay.clone();
                    tokio::spawn(async move {
                        let _ = relay.reply(seq, RELOAD_WAIT).await;
                        let _ = done.send(());
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, project, "could not ask the writing node to reload");
                    let _ = done.send(());
                }
            },
            Msg::Erase(customer, done) => {
                let answer = match relay.send(&Command::Erase { customer }).await {
                    Ok(seq) => relay.reply(seq, LONG_WAIT).await.and_then(erasure_of),
                    Err(e) => Err(e),
                };
                let _ = done.send(answer);
            }
        }
    }
}

struct ProjectState {
    classifier: Classifier,
    touchpoints: HashMap<String, i64>,
    /// The touchpoint each (type, name, facts) was given, with `classifier` and `touchpoints`
    /// as they are: rebuilt with them.
    memo: Memo<Option<i64>>,
    /// What the project's failed events take up, kept current as groups are built.
    failed: FailedUsage,
    /// The project's suppressed identity values: events naming one are refused.
    suppression: Arc<SuppressionList>,
}

struct Task {
    store: Arc<dyn Store>,
    graph: IdentityGraph,
    projects: HashMap<ProjectId, ProjectState>,
    stats: Arc<WriterStats>,
    max_group: usize,
    failed_quota: FailedQuota,
    max_touchpoints: usize,
    /// Generation of the in-memory state; a failed commit ends its generation.
    epoch: u64,
    /// The highest generation whose commit failed (0: none).
    failed: Arc<AtomicU64>,
    /// Told about each commit.
    bus: Option<Arc<CommitBus>>,
    /// The store's erasure count the graph and project states were loaded at.
    erasures: u64,
}

/// What the builder hands the committer.
enum Built {
    /// A group ready to commit once the store has prepared it ([`Store::prepare`], on a
    /// blocking thread beside the commit before), built on state of generation `epoch`.
    /// `slots[j]` are the indexes in `batch.events` of job `j`'s events.
    Group {
        epoch: u64,
        batch: tokio::task::JoinHandle<CommitBatch>,
        jobs: Vec<Job>,
        slots: Vec<std::ops::Range<usize>>,
    },
    /// A group that could not be built.
    Failed { jobs: Vec<Job>, error: String },
    /// Fires once everything before it is committed.
    Barrier(oneshot::Sender<()>),
}

impl Task {
    /// The builder: classifies and stitches group N+1 while the committer commits group N.
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let (to_commit, from_builder) = mpsc::channel::<Built>(1);
        let committer = tokio::spawn(commit_loop(
            self.store.clone(),
            self.stats.clone(),
            self.failed.clone(),
            self.bus.clone(),
            from_builder,
        ));
        let mut pending: Option<Msg> = None;
        loop {
            let first = match pending.take() {
                Some(m) => m,
                None => match rx.recv().await {
                    Some(m) => m,
                    None => break,
                },
            };
            let mut jobs = match first {
                Msg::Reload(p, done) => {
                    self.projects.remove(&p);
                    // Answer once the groups classified by the old rules are committed.
                    let _ = to_commit.send(Built::Barrier(done)).await;
                    continue;
                }
                Msg::Erase(id, reply) => {
                    // Every group before it committed, none after it built yet.
                    let (tx, rx) = oneshot::channel();
                    if to_commit.send(Built::Barrier(tx)).await.is_ok() {
                        let _ = rx.await;
                    }
                    let done = self.store.erase_customer(id).await;
                    self.resync(&to_commit).await;
                    let _ = reply.send(done);
                    continue;
                }
                Msg::Write(j) => vec![j],
            };
            let mut n = jobs[0].sub.events.len();
            while n < self.max_group {
                match rx.try_recv() {
                    Ok(Msg::Write(j)) => {
                        n += j.sub.events.len();
                        jobs.push(j);
                    }
                    Ok(other) => {
                        pending = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
            if self.failed.load(Relaxed) >= self.epoch || self.store.erasures() != self.erasures {
                self.resync(&to_commit).await;
            }
            let built = match self.build(&mut jobs).await {
                Ok((mut batch, slots)) => {
                    let store = self.store.clone();
                    let batch = tokio::task::spawn_blocking(move || {
                        batch.prepared = store.prepare(&batch);
                        batch
                    });
                    Built::Group { epoch: self.epoch, batch, jobs, slots }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not prepare a group commit");
                    self.stats.commit_errors.fetch_add(1, Relaxed);
                    let failed = Built::Failed { jobs, error: e.to_string() };
                    let _ = to_commit.send(failed).await;
                    // The graph may hold changes of the group that was dropped.
                    self.resync(&to_commit).await;
                    continue;
                }
            };
            if to_commit.send(built).await.is_err() {
                break;
            }
            if let Some(gather) = self.store.gather() {
                // A store whose commits are slow and cost the same small or large
                // (ClickHouse: a data part per insert): build the next group only once this
                // one is in, and after the clients it answered had a moment to send again,
                // so one group carries what many small ones would.
                let (tx, rx) = oneshot::channel();
                if to_commit.send(Built::Barrier(tx)).await.is_ok() {
                    let _ = rx.await;
                }
                tokio::time::sleep(gather).await;
            }
        }
        drop(to_commit);
        let _ = committer.await;
    }

    /// Wait for every group in flight, then reload the identity graph, the catalogs and
    /// the suppression lists from the store and start a new generation.
    async fn resync(&mut self, to_commit: &mpsc::Sender<Built>) {
        let (tx, rx) = oneshot::channel();
        if to_commit.send(Built::Barrier(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.erasures = self.store.erasures();
        match self.store.load_identity_graph().await {
            Ok(g) => self.graph = g,
            Err(e) => tracing::error!(error = %e, "could not reload the identity graph"),
        }
        self.projects.clear();
        self.epoch = self.epoch.max(self.failed.load(Relaxed)) + 1;
    }

    async fn project(&mut self, p: ProjectId) -> Result<&mut ProjectState, StoreError> {
        if !self.projects.contains_key(&p) {
            let classifier = Classifier::new(self.store.rules(p).await?);
            let touchpoints = self.store.touchpoints(p).await?.into_iter().map(|t| (t.touchpoint.key, t.id)).collect();
            let memo = Memo::new(&classifier);
            let failed = self.store.failed_usage(p).await?;
            let suppression = Arc::new(self.store.suppression_list(p).await?);
            self.projects.insert(p, ProjectState { classifier, touchpoints, memo, failed, suppression });
        }
        Ok(self.projects.get_mut(&p).expect("just inserted"))
    }

    async fn touchpoint_of(&mut self, p: ProjectId, event: &Event) -> Result<Option<i64>, StoreError> {
        let max = self.max_touchpoints;
        let state = self.project(p).await?;
        if let Some(known) = state.memo.get(event) {
            return Ok(known);
        }
        let found = match state.classifier.classify(event) {
            None => None,
            Some(c) => match state.touchpoints.get(&c.key) {
                Some(&id) => Some(id),
                None if state.touchpoints.len() >= max => {
                    // Counted per kind of event, once: the memo remembers the answer.
                    self.stats.discovery_capped.fetch_add(1, Relaxed);
                    None
                }
                None => {
                    let (name, channel) =
                        c.discovered.clone().unwrap_or((c.key.clone(), touchpoint_core::Channel::Other));
                    let id = self.store.ensure_touchpoint(p, &Touchpoint::discovered(&c.key, &name, channel)).await?;
                    tracing::info!(project = p, key = %c.key, "new touchpoint discovered");
                    self.project(p).await?.touchpoints.insert(c.key, id);
                    Some(id)
                }
            },
        };
        self.project(p).await?.memo.insert(event, found);
        Ok(found)
    }

    async fn build(&mut self, jobs: &mut [Job]) -> Result<(CommitBatch, Vec<std::ops::Range<usize>>), StoreError> {
        let n: usize = jobs.iter().map(|j| j.sub.events.len()).sum();
        let mut batch = CommitBatch { events: Vec::with_capacity(n), ..Default::default() };
        let mut slots = Vec::with_capacity(jobs.len());
        let mut refused: Vec<(ProjectId, u64)> = vec![];
        for job in jobs.iter_mut() {
            let p = job.sub.project;
            let start = batch.events.len();
            let suppression = self.project(p).await?.suppression.clone();
            // A repeated messageId (within this group too) is left to the store, which
            // stores the first and answers `None` for the others.
            for mut event in std::mem::take(&mut job.sub.events) {
                // An erased customer's ids: refused before anything is worked out from it.
                if suppression.refuses_event(&event) {
                    job.suppressed += 1;
                    continue;
                }
                let touchpoint = self.touchpoint_of(p, &event).await?;
                let customer = match (event.kind, &event.previous_id, &event.user_id) {
                    (EventType::Alias, Some(prev), Some(user)) => {
                        self.graph.alias(p, prev, user, &mut batch.identity_ops)
                    }
                    _ => self.graph.resolve(
                        p,
                        event.user_id.as_deref(),
                        event.anonymous_id.as_deref(),
                        &mut batch.identity_ops,
                    ),
                };
                if let Some(t) = event.traits.take() {
                    batch.traits.push((customer, t));
                }
                batch.events.push(NewEvent { project: p, event, customer, touchpoint });
            }
            if !job.sub.failed.is_empty() {
                let quota = self.failed_quota;
                let usage = &mut self.project(p).await?.failed;
                let before = batch.failed.len();
                for f in &job.sub.failed {
                    // What would be kept of it (the quota cuts raw bodies) must not name one.
                    if suppression.refuses_raw(&f.raw[..f.raw.len().min(quota.max_raw_bytes)]) {
                        job.failed_refused += 1;
                    } else if let Some(f) = quota.admit(usage, f.clone()) {
                        batch.failed.push(f);
                    }
                }
                job.failed_kept = batch.failed.len() - before;
                job.suppressed += job.failed_refused;
            }
            if job.suppressed > 0 {
                match refused.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, n)) => *n += job.suppressed as u64,
                    None => refused.push((p, job.suppressed as u64)),
                }
            }
            slots.push(start..batch.events.len());
        }
        batch.refused = refused;
        // One patch per customer, addressed to the customer it is now (a merge later in
        // this batch moves an anonymous customer's traits to the known one).
        let mut traits: Vec<(CustomerId, Map<String, Value>)> = vec![];
        let mut at: HashMap<CustomerId, usize> = HashMap::new();
        for (c, patch) in std::mem::take(&mut batch.traits) {
            let c = self.graph.canonical(c);
            match at.get(&c) {
                Some(&i) => merge_patch(&mut traits[i].1, &patch),
                None => {
                    at.insert(c, traits.len());
                    traits.push((c, patch));
                }
            }
        }
        batch.traits = traits;
        Ok((batch, slots))
    }
}

/// The committer: commits built groups in order and answers their requests.
async fn commit_loop(
    store: Arc<dyn Store>,
    stats: Arc<WriterStats>,
    failed: Arc<AtomicU64>,
    bus: Option<Arc<CommitBus>>,
    mut rx: mpsc::Receiver<Built>,
) {
    while let Some(built) = rx.recv().await {
        match built {
            Built::Barrier(done) => {
                let _ = done.send(());
            }
            Built::Failed { jobs, error } => {
                for job in jobs {
                    job.answer(Err(error.clone()));
                }
            }
            Built::Group { epoch, batch, jobs, slots } => {
                let batch = match batch.await {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::error!(error = %e, "could not prepare a group commit");
                        fail_group(&stats, &failed, epoch, jobs, "the group commit could not be prepared");
                        continue;
                    }
                };
                if failed.load(Relaxed) >= epoch {
                    // Built on the state of a group whose commit failed.
                    for job in jobs {
                        job.answer(Err("an earlier group commit failed; nothing of this request was stored".into()));
                    }
                    continue;
                }
                let started = Instant::now();
                match store.commit(&batch).await {
                    Ok(flags) => {
                        stats.observe_commit(started.elapsed().as_secs_f64());
                        // Every subscriber gets the commit before anyone is answered (none
                        // waits: an acknowledged event is on the bus); freeing tens of
                        // thousands of events takes a while: not on the committer, which the
                        // next group is waiting for.
                        let done: Box<dyn std::any::Any + Send> = match &bus {
                            Some(bus) => Box::new(bus.publish(batch, flags.clone())),
                            None => Box::new(batch),
                        };
                        tokio::task::spawn_blocking(move || drop(done));
                        for (job, job_slots) in jobs.into_iter().zip(slots) {
                            let stored = flags[job_slots.clone()].iter().filter(|f| f.is_some()).count();
                            let receipt = Receipt {
                                stored,
                                duplicates: job_slots.len() - stored,
                                failed: job.failed_kept,
                                failed_dropped: job.sub.failed.len() - job.failed_kept - job.failed_refused,
                                suppressed: job.suppressed,
                                queued: 0,
                            };
                            stats.stored.fetch_add(receipt.stored as u64, Relaxed);
                            stats.duplicates.fetch_add(receipt.duplicates as u64, Relaxed);
                            stats.failed.fetch_add(receipt.failed as u64, Relaxed);
                            stats.failed_dropped.fetch_add(receipt.failed_dropped as u64, Relaxed);
                            stats.suppressed.fetch_add(receipt.suppressed as u64, Relaxed);
                            job.answer(Ok(receipt));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "group commit failed");
                        fail_group(&stats, &failed, epoch, jobs, &e.to_string());
                    }
                }
            }
        }
    }
}

/// A group of generation `epoch` did not commit: answer its requests with `error` and end
/// the generation, so the builder reloads its state from the store before the next group.
fn fail_group(stats: &WriterStats, failed: &AtomicU64, epoch: u64, jobs: Vec<Job>, error: &str) {
    stats.commit_errors.fetch_add(1, Relaxed);
    failed.fetch_max(epoch, Relaxed);
    for job in jobs {
        job.answer(Err(error.to_string()));
    }
}
