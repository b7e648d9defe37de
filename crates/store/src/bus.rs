//! The commit bus: the writer publishes every successful group commit, in commit order, to
//! any number of subscribers — the live journey index today, trigger rules and live
//! dashboard updates next.
//!
//! Each subscriber has its own bounded queue, so a slow one can neither stall ingest (the
//! committer never waits for a subscriber: it only tries to enqueue) nor make the others
//! wait. When a subscriber's queue is full it does not silently lose its place: from the
//! first commit it could not take, the bus stops queueing for it and counts what it
//! missed; when it has drained its queue it receives [`Delivery::Lagged`] with the
//! sequence number of the first commit it missed and how many it missed, catches up from
//! the store (every event is there), and is sent commits again from the next one on. Commit sequence numbers start at 1 and have no gaps, so a subscriber can
//! also check its own order.

use crate::CommitBatch;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// One committed group, as subscribers see it.
#[derive(Debug)]
pub struct Commit {
    /// Its place in commit order: 1, 2, 3, … without gaps.
    pub seq: u64,
    /// What was committed.
    pub batch: CommitBatch,
    /// `inserted[i]` is the new id of `batch.events[i]`, or `None` for a duplicate.
    pub inserted: Vec<Option<i64>>,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next commit.
    Commit(Arc<Commit>),
    /// The subscriber's queue was full: the commits from `first_missed_seq` on (`missed`
    /// of them) were not queued. Catch up from the store; the commits after them follow.
    Lagged {
        /// The first commit not delivered.
        first_missed_seq: u64,
        /// How many were not delivered.
        missed: u64,
    },
}

/// A subscriber's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberStats {
    /// Its name.
    pub name: String,
    /// Commits waiting in its queue.
    pub queued: usize,
    /// Its queue's capacity.
    pub capacity: usize,
    /// Commits it was not sent because its queue was full (catch-ups included).
    pub missed: u64,
    /// Times it fell behind.
    pub lags: u64,
}

/// What the bus and one subscription share. One lock, so that a commit published while the
/// subscriber takes its lag notice is either in that notice or queued after it: never
/// lost, nor counted twice.
#[derive(Debug, Default)]
struct Lag {
    /// Behind: nothing is queued for it until it has taken the [`Delivery::Lagged`].
    behind: bool,
    /// The first commit it missed in the current lag.
    first_missed: u64,
    /// Missed in the current lag.
    missed_now: u64,
    /// Missed in all.
    missed_total: u64,
    /// Lags in all.
    lags: u64,
}

struct Sub {
    name: String,
    tx: mpsc::Sender<Arc<Commit>>,
    capacity: usize,
    lag: Arc<Mutex<Lag>>,
}

/// The bus. Cheap to share (`Arc`).
#[derive(Default)]
pub struct CommitBus {
    subs: Mutex<Vec<Sub>>,
    seq: AtomicU64,
}

/// One subscriber's end.
pub struct Subscription {
    rx: mpsc::Receiver<Arc<Commit>>,
    lag: Arc<Mutex<Lag>>,
}

impl CommitBus {
    /// A bus without subscribers.
    pub fn new() -> Arc<CommitBus> {
        Arc::new(CommitBus::default())
    }

    /// Subscribe with a queue of `capacity` commits; from the next commit on.
    pub fn subscribe(&self, name: &str, capacity: usize) -> Subscription {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let lag = Arc::new(Mutex::new(Lag::default()));
        self.subs.lock().expect("bus lock").push(Sub { name: name.into(), tx, capacity, lag: lag.clone() });
        Subscription { rx, lag }
    }

    /// Publish a commit to every subscriber; never waits. Returns the commit, so that the
    /// publisher decides where it is freed when no subscriber holds it.
    pub fn publish(&self, batch: CommitBatch, inserted: Vec<Option<i64>>) -> Arc<Commit> {
        let mut subs = self.subs.lock().expect("bus lock");
        let seq = self.seq.fetch_add(1, SeqCst) + 1;
        let commit = Arc::new(Commit { seq, batch, inserted });
        subs.retain(|s| {
            // The subscriber is gone (also one that was behind, which is sent nothing).
            if s.tx.is_closed() {
                return false;
            }
            let mut lag = s.lag.lock().expect("lag lock");
            if lag.behind {
                lag.missed_now += 1;
                lag.missed_total += 1;
                return true;
            }
            match s.tx.try_send(commit.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    *lag = Lag {
                        behind: true,
                        first_missed: seq,
                        missed_now: 1,
                        missed_total: lag.missed_total + 1,
                        lags: lag.lags + 1,
                    };
                    true
                }
                // The subscriber went away just now.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        commit
    }

    /// The newest commit's sequence number (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.seq.load(SeqCst)
    }

    /// Every subscriber's counters.
    pub fn stats(&self) -> Vec<SubscriberStats> {
        self.subs
            .lock()
            .expect("bus lock")
            .iter()
            .map(|s| {
                let lag = s.lag.lock().expect("lag lock");
                SubscriberStats {
                    name: s.name.clone(),
                    queued: s.capacity - s.tx.capacity(),
                    capacity: s.capacity,
                    missed: lag.missed_total,
                    lags: lag.lags,
                }
            })
            .collect()
    }
}

impl Subscription {
    /// The next delivery; `None` when the bus is gone and everything was taken.
    pub async fn recv(&mut self) -> Option<Delivery> {
        if let Ok(c) = self.rx.try_recv() {
            return Some(Delivery::Commit(c));
        }
        if let Some(d) = self.take_lag() {
            return Some(d);
        }
        let c = self.rx.recv().await?;
        Some(Delivery::Commit(c))
    }

    /// What is ready now, without waiting (for a subscriber that polls on its own clock).
    pub fn try_recv(&mut self) -> Option<Delivery> {
        match self.rx.try_recv() {
            Ok(c) => Some(Delivery::Commit(c)),
            Err(_) => self.take_lag(),
        }
    }

    /// The lag notice, once the queue is drained: the bus then queues again.
    fn take_lag(&mut self) -> Option<Delivery> {
        let mut lag = self.lag.lock().expect("lag lock");
        if !lag.behind {
            return None;
        }
        lag.behind = false;
        let missed = std::mem::take(&mut lag.missed_now);
        Some(Delivery::Lagged { first_missed_seq: lag.first_missed, missed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> CommitBatch {
        CommitBatch::default()
    }

    /// Every subscriber sees every commit in order; a slow one is told exactly which it
    /// missed, never blocks the publisher, and is sent commits again after it caught up.
    #[tokio::test]
    async fn a_slow_subscriber_neither_stalls_nor_loses_its_place() {
        let bus = CommitBus::new();
        let mut fast = bus.subscribe("fast", 100);
        let mut slow = bus.subscribe("slow", 2);
        for _ in 0..5 {
            bus.publish(batch(), vec![]);
        }
        let mut seen = vec![];
        while let Some(Delivery::Commit(c)) = fast.try_recv() {
            seen.push(c.seq);
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        let mut got = vec![];
        while let Some(d) = slow.try_recv() {
            got.push(match d {
                Delivery::Commit(c) => format!("{}", c.seq),
                Delivery::Lagged { first_missed_seq, missed } => format!("lag {first_missed_seq}+{missed}"),
            });
        }
        assert_eq!(got, vec!["1", "2", "lag 3+3"]);
        bus.publish(batch(), vec![]);
        assert!(matches!(slow.recv().await, Some(Delivery::Commit(c)) if c.seq == 6));
        let stats = bus.stats();
        assert_eq!((stats[1].missed, stats[1].lags, stats[0].missed), (3, 1, 0));
    }

    /// A subscriber that went away is dropped from the bus on the next publish, also one
    /// that went away while it was behind (and so was being sent nothing).
    #[test]
    fn a_closed_subscription_is_dropped() {
        let bus = CommitBus::new();
        let s = bus.subscribe("gone", 1);
        drop(s);
        bus.publish(batch(), vec![]);
        assert!(bus.stats().is_empty());
        let behind = bus.subscribe("behind", 1);
        let _stays = bus.subscribe("stays", 1);
        bus.publish(batch(), vec![]);
        bus.publish(batch(), vec![]);
        assert_eq!(bus.stats()[0].lags, 1, "behind now");
        drop(behind);
        bus.publish(batch(), vec![]);
        let names: Vec<String> = bus.stats().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["stays"]);
    }
}
