//! Several nodes on one PostgreSQL + ClickHouse deployment ([`touchpoint_store::relay`]
//! says how they share the work): the node holding the writer lock writes every event,
//! answers what the other nodes relay to it ([`serve_relay`]) and publishes a notice
//! after each commit and each change that invalidates what others hold
//! ([`publish_commits`], [`Engine::announce`]); every other node relays its writes and
//! keeps its journey index current from those notices ([`follow`]), so it answers
//! analyses like the writing node a moment later.
//!
//! Which node writes is decided when nodes open: the first to take the lock. A node that
//! starts while another writes relays. When the writing node stops or dies (its session
//! ends and PostgreSQL lets its lock go), a relaying node sees the lock free
//! ([`Role::change`]) and opens again: the first to take the lock writes, the others
//! relay to it. A writing node that is alive but does not run (stopped, frozen) keeps its
//! connection and so its lock: when its lock's session has been silent for
//! [`SILENT_WRITER`], a relaying node ends that session and the same follows. A writing
//! node whose session ends under it (PostgreSQL restarted, the
//! connection cut) stops writing and opens again the same way, so two nodes do not write
//! at once for longer than one check ([`WATCH`]) takes. Until a node writes again, the
//! others acknowledge captures as queued, kept in PostgreSQL for the next writing node.

use crate::Engine;
use std::time::Duration;
use touchpoint_core::IdentityOp;
use touchpoint_store::bus::{Delivery, Subscription};
use touchpoint_store::relay::{Command, Notice, Reply};
use touchpoint_store::writer::{stored_as_event, Queued, Submission};
use touchpoint_store::{now_ms, CommitBatch, NewEvent, StoreError};
use touchpoint_store_postgres::cluster::Wakeups;
use touchpoint_store_postgres::cluster::{LOG_CHANNEL, POLL, RELAY_CHANNEL};
use touchpoint_store_postgres::{LockProbe, PgMetaStore};

/// Relayed commands taken at a time.
const TAKE: usize = 256;
/// Answers and notices are kept this long (a node away longer reads everything again).
const KEEP_MS: i64 = 15 * 60 * 1000;

/// How often a node checks that its part still holds: the writing node that its lock's
/// session answers, a relaying node that some node holds the lock.
pub const WATCH: Duration = Duration::from_secs(1);

/// A writing node whose lock's session has been silent this long is taken for hung (alive
/// but not running: stopped, frozen) and its session is ended, so that another node can
/// write. A running node's held lock has its session answer a statement every second
/// (`touchpoint_store_postgres::KEEP_TALKING`).
pub const SILENT_WRITER: Duration = Duration::from_secs(10);

/// A node's part in a cluster.
#[derive(Clone)]
pub enum Role {
    /// It holds the writer lock: it writes events, answers relayed commands, publishes
    /// notices. The probe tells whether it still holds the lock.
    Writer(PgMetaStore, LockProbe),
    /// Another node writes: this one relays its writes and follows the notices. The name
    /// is the writer lock's, to see when no node holds it.
    Relaying(PgMetaStore, String),
}

/// Why a node opens again in another part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// No node holds the writer lock: the writing node stopped or died.
    WriterGone,
    /// The writing node did not answer for [`SILENT_WRITER`]: its session was ended.
    WriterSilent,
    /// This node wrote and lost its lock (its PostgreSQL session ended).
    LockLost,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::WriterGone => "the writing node is gone",
            Change::WriterSilent => "the writing node stopped answering and its session was ended",
            Change::LockLost => "this node lost its writer lock (its PostgreSQL session ended)",
        })
    }
}

impl Role {
    /// Whether this node writes.
    pub fn writes(&self) -> bool {
        matches!(self, Role::Writer(..))
    }

    /// Wait until this node's part no longer holds ([`WATCH`] by [`WATCH`]): for the
    /// writing node, until its lock's session does not answer; for a relaying node, until
    /// no node holds the lock — or the node holding it has been silent for
    /// [`SILENT_WRITER`], and this node ended its session. A relaying node that cannot ask
    /// PostgreSQL keeps waiting (it cannot relay either, and changes nothing by opening
    /// again).
    pub async fn change(&self) -> Change {
        loop {
            tokio::time::sleep(WATCH).await;
            match self {
                Role::Writer(_, probe) => {
                    if !probe.held(touchpoint_store_postgres::FENCE_PATIENCE).await {
                        return Change::LockLost;
                    }
                }
                Role::Relaying(meta, lock) => match meta.lock_is_free(lock).await {
                    Ok(true) => return Change::WriterGone,
                    Ok(false) => match meta.end_silent_holder(lock, SILENT_WRITER).await {
                        Ok(true) => {
                            // Its lock goes with its session: open again once it is seen
                            // free (or after a few seconds; the lock decides then).
                            for _ in 0..50 {
                                if matches!(meta.lock_is_free(lock).await, Ok(true)) {
                                    break;
                                }
                                tokio::time::sleep(WATCH / 10).await;
                            }
                            return Change::WriterSilent;
                        }
                        Ok(false) => {}
                        Err(e) => tracing::debug!(error = %e, "cannot see whether the writing node answers"),
                    },
                    Err(e) => tracing::debug!(error = %e, "cannot see who writes"),
                },
            }
        }
    }
}

impl Engine {
    /// Tell every other node of a change to what it holds (re-classified events, an
    /// erased customer, changed touchpoints); nothing unless this node writes in a
    /// cluster. A notice that cannot be published is logged: the other nodes hold stale
    /// journeys until the next reload.
    pub async fn announce(&self, notice: Notice) {
        if let Some(Role::Writer(meta, _)) = self.cluster.as_deref() {
            if let Err(e) = meta.log_publish(&notice).await {
                tracing::error!(error = %e, ?notice, "could not tell the other nodes of a change");
            }
        }
    }
}

/// The writing node: publish a notice for each commit the bus carries (the ids committed,
/// the merges), in commit order, until the bus closes. A commit missed (the queue was
/// full) or a notice not published is followed by a notice to read everything again.
pub fn publish_commits(meta: PgMetaStore, mut sub: Subscription) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lost = false;
        while let Some(d) = sub.recv().await {
            let mut notice = match d {
                Delivery::Commit(c) => Notice {
                    upto: c.inserted.iter().flatten().max().copied(),
                    merges: c
                        .batch
                        .identity_ops
                        .iter()
                        .filter_map(|op| match op {
                            IdentityOp::Merge { from, into } => Some((*from, *into)),
                            _ => None,
                        })
                        .collect(),
                    ..Default::default()
                },
                Delivery::Lagged { .. } => Notice { reload_all: true, ..Default::default() },
            };
            if notice.upto.is_none() && notice.merges.is_empty() && !notice.reload_all && !lost {
                continue;
            }
            notice.reload_all |= lost;
            lost = false;
            let mut tries = 0;
            while let Err(e) = meta.log_publish(&notice).await {
                tries += 1;
                if tries == 5 {
                    tracing::error!(error = %e, "could not publish a commit to the other nodes; they will reload");
                    lost = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100 * tries)).await;
            }
        }
    })
}

/// The writing node: carry out what the other nodes relay, in order, and answer, until
/// `stop`; drop old answers and notices now and then.
pub fn serve_relay(
    engine: Engine,
    meta: PgMetaStore,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut waiting = Waiting::new(&meta, RELAY_CHANNEL, stop).await;
        let mut pruned = 0;
        while !waiting.stopped() {
            if now_ms() - pruned > 60_000 {
                pruned = now_ms();
                if let Err(e) = meta.cluster_prune(pruned - KEEP_MS).await {
                    tracing::warn!(error = %e, "could not prune the relay");
                }
            }
            let taken = match meta.relay_take(TAKE).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read relayed commands");
                    Vec::new()
                }
            };
            if !taken.is_empty() {
                let answers = carry_out(&engine, taken).await;
                // Answer until the answer is kept, without taking the commands again:
                // carried out twice, a submission's events would be found to be repeats,
                // but its failed events (which have no messageId to be found by) would be
                // kept twice. Only a node that stops (or dies) here leaves its commands to
                // be carried out again by the next writing node.
                let mut logged = false;
                while let Err(e) = meta.relay_answer(&answers).await {
                    if !logged {
                        tracing::error!(error = %e, "could not answer relayed commands; trying again");
                        logged = true;
                    }
                    if !waiting.pause(POLL).await {
                        break;
                    }
                }
                continue;
            }
            if !waiting.next().await {
                break;
            }
        }
    })
}

/// A task's wait between rounds: for a notification on its channel, for [`POLL`], or for
/// the node to stop.
struct Waiting {
    /// `None` when LISTEN failed: the task polls.
    listener: Option<Wakeups>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Waiting {
    async fn new(meta: &PgMetaStore, channel: &str, stop: tokio::sync::watch::Receiver<bool>) -> Waiting {
        let listener = meta.listen(channel).await.map_err(|e| tracing::warn!(error = %e, channel, "no LISTEN")).ok();
        Waiting { listener, stop }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Wait `d`; false when the node stops (or is gone) meanwhile.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.stopped(),
            changed = self.stop.changed() => changed.is_ok() && !self.stopped(),
        }
    }

    /// Wait; false when the node is gone without saying stop.
    async fn next(&mut self) -> bool {
        let listener = &mut self.listener;
        let woken = async {
            match listener.as_mut() {
                Some(l) => {
                    // A lost connection is tried again at the next wait, not at once.
                    if l.next().await.is_err() {
                        tokio::time::sleep(POLL).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = woken => true,
            _ = tokio::time::sleep(POLL) => true,
            changed = self.stop.changed() => changed.is_ok(),
        }
    }
}

/// Carry out relayed commands in order: consecutive submissions are queued together (the
/// writer commits them in the order they were queued), anything else waits for them.
async fn carry_out(engine: &Engine, taken: Vec<(i64, Result<Command, String>)>) -> Vec<(i64, Reply)> {
    let mut answers = Vec::with_capacity(taken.len());
    let mut pending: Vec<(i64, Queued)> = Vec::new();
    async fn settle(pending: &mut Vec<(i64, Queued)>, answers: &mut Vec<(i64, Reply)>) {
        for (seq, q) in pending.drain(..) {
            answers.push((seq, Reply::of(q.receipt().await)));
        }
    }
    for (seq, command) in taken {
        match command {
            Ok(Command::Submit { project, events, failed }) => {
                match engine.writer.queue_wait(Submission { project, events, failed }).await {
                    Ok(q) => pending.push((seq, q)),
                    Err(e) => answers.push((seq, Reply::Error(e.to_string()))),
                }
            }
            Ok(other) => {
                settle(&mut pending, &mut answers).await;
                answers.push((seq, command_reply(engine, other).await));
            }
            Err(e) => answers.push((seq, Reply::Error(e))),
        }
    }
    settle(&mut pending, &mut answers).await;
    answers
}

/// Carry out one command other than a submission, on this (the writing) node.
async fn command_reply(engine: &Engine, command: Command) -> Reply {
    match command {
        Command::Submit { .. } => Reply::Error("a submission is queued, not carried out alone".into()),
        Command::Reload { project } => Reply::of(crate::catalog::touchpoints_changed(engine, project).await),
        Command::Reclassify { project } => Reply::of(crate::catalog::reclassify(engine, project).await),
        Command::Erase { customer } => {
            let project = match engine.store.customer(customer).await {
                Ok(Some(c)) => c.project_id,
                Ok(None) => return Reply::Error(format!("customer {customer} not found")),
                Err(e) => return Reply::Error(e.to_string()),
            };
            let who = crate::privacy::Who::Customer(customer);
            Reply::of(crate::privacy::erase(engine, project, &who).await.map(|e| e.stores))
        }
    }
}

/// A relaying node: fold the writing node's commits into the journey index as its notices
/// come, from notice `after` on (read before the index was loaded), until `stop`.
pub fn follow(
    engine: Engine,
    meta: PgMetaStore,
    after: i64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut waiting = Waiting::new(&meta, LOG_CHANNEL, stop).await;
        let mut position = after;
        while !waiting.stopped() {
            match catch_up(&engine, &meta, position).await {
                Ok(p) => position = p,
                Err(e) => tracing::warn!(error = %e, "could not follow the writing node"),
            }
            if !waiting.next().await {
                break;
            }
        }
    })
}

/// Events read at a time for a relaying node's live streams.
const ARRIVALS_PAGE: usize = 5_000;

/// A relaying node with live streams open: put the events committed in `(after, upto]` on
/// its own bus, which nothing else publishes to, so its streams show what arrives through
/// any node. The journey index's follower on that bus skips them (it took them from the
/// store already: ids at or below the last taken are skipped).
async fn show_arrivals(engine: &Engine, after: i64, upto: i64) -> Result<(), StoreError> {
    for p in engine.store.projects().await? {
        let mut from = after;
        loop {
            let page = engine.store.scan_events(Some(p.id), from, ARRIVALS_PAGE).await?;
            // More to read: a full page, all of it in the range.
            let more = page.len() == ARRIVALS_PAGE && page.last().is_some_and(|e| e.id < upto);
            let mut batch = CommitBatch::default();
            let mut inserted = Vec::new();
            for mut e in page.into_iter().take_while(|e| e.id <= upto) {
                from = e.id;
                let (project, customer, touchpoint) = (e.project_id, e.customer_id, e.touchpoint_id);
                if let Ok(event) = stored_as_event(&mut e) {
                    batch.events.push(NewEvent { project, event, customer, touchpoint });
                    inserted.push(Some(from));
                }
            }
            if !batch.events.is_empty() {
                engine.bus.publish(batch, inserted);
            }
            if !more {
                break;
            }
        }
    }
    Ok(())
}

/// Read the notices after `position` and take what they say; the new position. The index
/// holds every event up to its [`crate::journeys::Journeys::complete`] (it was loaded no
/// further, and takes the rest from here).
async fn catch_up(engine: &Engine, meta: &PgMetaStore, position: i64) -> Result<i64, StoreError> {
    let notices = meta.log_since(position, 10_000).await?;
    let Some(&(first, _)) = notices.first() else { return Ok(position) };
    let last = notices.last().map_or(first, |n| n.0);
    // Notices this node never read were dropped (or a sequence number was skipped): read
    // everything again.
    let mut reload_all = position > 0 && first > position + 1 && meta.log_bounds().await?.1 > position + 1;
    let j = &engine.journeys;
    let scanned = j.complete().unwrap_or(0);
    let mut upto = scanned;
    let mut merges = Vec::new();
    let mut reload = Vec::new();
    let mut refresh = Vec::new();
    let mut forget = Vec::new();
    for (_, n) in notices {
        upto = upto.max(n.upto.unwrap_or(0));
        merges.extend(n.merges);
        reload.extend(n.reload);
        refresh.extend(n.refresh);
        forget.extend(n.forget);
        reload_all |= n.reload_all;
    }
    if upto > scanned {
        j.take_stored(scanned, upto).await?;
        if engine.live.open_now() > 0 {
            show_arrivals(engine, scanned, upto).await?;
        }
    }
    j.take_points(Vec::new(), &merges, upto);
    if !forget.is_empty() {
        j.forget(&forget);
    }
    if reload_all {
        reload = engine.store.projects().await?.into_iter().map(|p| p.id).collect();
    }
    reload.sort_unstable();
    reload.dedup();
    refresh.sort_unstable();
    refresh.dedup();
    for p in refresh {
        if !reload.contains(&p) {
            j.refresh_dictionary(p).await?;
        }
    }
    for p in reload {
        j.reload(p).await?;
    }
    Ok(last)
}
