//! Several nodes on one database ([`touchpoint_store::relay`]): the relay through which
//! nodes that do not write hand their commands to the one that does ([`PgRelay`], and
//! [`PgMetaStore::relay_take`] / [`PgMetaStore::relay_answer`] on the writing node's
//! side), and the commit log through which the writing node tells every node what it
//! committed ([`PgMetaStore::log_publish`], [`PgMetaStore::log_since`]).
//!
//! Rows are JSON text in `relay_inbox`, `relay_replies` and `commit_log` (migration
//! `0015_cluster`). Waiting is woken by `LISTEN`/`NOTIFY` — `touchpoint_relay` when a
//! command arrives, `touchpoint_replies` (the answered sequence numbers) when answers are
//! committed, `touchpoint_log` when a notice is — and falls back to reading the tables
//! every [`POLL`], so a notification lost with a dropped connection only delays.
//!
//! Relayed commands are read in sequence order and removed once answered, in the same
//! transaction as their answers: a command whose sender's insert commits late (two
//! relaying nodes insert at once) is still taken the next time, never skipped. The
//! commit log has one writer (the writing node's log task, one insert at a time), so its
//! sequence order is its commit order.

use crate::{Db, PgMetaStore};
use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use touchpoint_store::relay::{Command, Notice, Relay, Reply};
use touchpoint_store::{now_ms, Result, StoreError};

/// How often a waiter reads the tables when no notification woke it.
pub const POLL: Duration = Duration::from_millis(250);
/// The channel a command's arrival is notified on.
pub const RELAY_CHANNEL: &str = "touchpoint_relay";
/// The channel answered sequence numbers are notified on (comma-separated).
pub const REPLIES_CHANNEL: &str = "touchpoint_replies";
/// The channel a new notice is notified on.
pub const LOG_CHANNEL: &str = "touchpoint_log";

/// A relaying node's end of the relay: commands in, answers out.
pub struct PgRelay {
    pool: PgPool,
    /// Who waits for which answer.
    waiters: Arc<Mutex<HashMap<i64, Arc<Notify>>>>,
    /// Listens on [`REPLIES_CHANNEL`] and wakes the waiters; stops with the relay.
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgRelay {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgRelay {
    /// The relay on `meta`'s database.
    pub async fn new(meta: &PgMetaStore) -> Result<PgRelay> {
        let pool = meta.pool().clone();
        let waiters: Arc<Mutex<HashMap<i64, Arc<Notify>>>> = Default::default();
        let mut listener = PgListener::connect_with(&pool).await.db()?;
        listener.listen(REPLIES_CHANNEL).await.db()?;
        let woken = waiters.clone();
        let listener = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        let waiters = woken.lock().expect("waiters");
                        for seq in n.payload().split(',').filter_map(|s| s.parse::<i64>().ok()) {
                            if let Some(w) = waiters.get(&seq) {
                                w.notify_one();
                            }
                        }
                    }
                    // Reconnects on the next call; meanwhile the waiters poll.
                    Err(_) => tokio::time::sleep(POLL).await,
                }
            }
        });
        Ok(PgRelay { pool, waiters, listener })
    }

    async fn answer(&self, seq: i64) -> Result<Option<Reply>> {
        let text: Option<String> = sqlx::query_scalar("SELECT reply FROM relay_replies WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("relay reply {seq}: {e}"))))
            .transpose()
    }
}

#[async_trait]
impl Relay for PgRelay {
    async fn send(&self, command: &Command) -> Result<i64> {
        let text = serde_json::to_string(command).map_err(|e| StoreError::Backend(e.to_string()))?;
        let (seq, _): (i64, String) = sqlx::query_as(
            "WITH i AS (INSERT INTO relay_inbox (command, created_ms) VALUES ($1, $2) RETURNING seq) \
             SELECT seq, pg_notify($3, '')::text FROM i",
        )
        .bind(text)
        .bind(now_ms())
        .bind(RELAY_CHANNEL)
        .fetch_one(&self.pool)
        .await
        .db()?;
        Ok(seq)
    }

    async fn reply(&self, seq: i64, wait: Duration) -> Result<Option<Reply>> {
        let notify = Arc::new(Notify::new());
        self.waiters.lock().expect("waiters").insert(seq, notify.clone());
        let deadline = tokio::time::Instant::now() + wait;
        let found = loop {
            match self.answer(seq).await {
                Ok(Some(r)) => break Ok(Some(r)),
                Ok(None) if tokio::time::Instant::now() >= deadline => break Ok(None),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let _ = tokio::time::timeout(left.min(POLL), notify.notified()).await;
        };
        self.waiters.lock().expect("waiters").remove(&seq);
        found
    }
}

/// The writing node's side.
impl PgMetaStore {
    /// The oldest `limit` relayed commands not answered yet, in sequence order; a command
    /// that cannot be read comes as its error (to be answered with it).
    pub async fn relay_take(&self, limit: usize) -> Result<Vec<(i64, std::result::Result<Command, String>)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, command FROM relay_inbox ORDER BY seq LIMIT $1")
            .bind(crate::limit(limit))
            .fetch_all(self.pool())
            .await
            .db()?;
        Ok(rows
            .into_iter()
            .map(|(seq, text)| (seq, serde_json::from_str(&text).map_err(|e| format!("unreadable command: {e}"))))
            .collect())
    }

    /// Answer relayed commands: keep the answers, remove the commands and wake their
    /// senders, in one transaction.
    pub async fn relay_answer(&self, answers: &[(i64, Reply)]) -> Result<()> {
        if answers.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let seqs: Vec<i64> = answers.iter().map(|(s, _)| *s).collect();
        let texts = answers
            .iter()
            .map(|(_, r)| serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string())))
            .collect::<Result<Vec<String>>>()?;
        let mut tx = self.pool().begin().await.db()?;
        // One statement for them all: a round trip per answer would pace every relaying node.
        sqlx::query(
            "INSERT INTO relay_replies (seq, reply, created_ms) SELECT s, r, $3 FROM UNNEST($1::bigint[], $2::text[]) \
             AS a(s, r) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(&seqs)
        .bind(&texts)
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query("DELETE FROM relay_inbox WHERE seq = ANY($1)").bind(&seqs).execute(&mut *tx).await.db()?;
        // A notification's payload holds under 8000 bytes: 400 numbers a piece.
        for chunk in seqs.chunks(400) {
            let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            sqlx::query("SELECT pg_notify($1, $2)").bind(REPLIES_CHANNEL).bind(list).execute(&mut *tx).await.db()?;
        }
        tx.commit().await.db()
    }

    /// Publish a notice to every node.
    pub async fn log_publish(&self, notice: &Notice) -> Result<i64> {
        let text = serde_json::to_string(notice).map_err(|e| StoreError::Backend(e.to_string()))?;
        let (seq, _): (i64, String) = sqlx::query_as(
            "WITH i AS (INSERT INTO commit_log (notice, created_ms, upto) VALUES ($1, $2, $4) RETURNING seq) \
             SELECT seq, pg_notify($3, '')::text FROM i",
        )
        .bind(text)
        .bind(now_ms())
        .bind(LOG_CHANNEL)
        .bind(notice.upto)
        .fetch_one(self.pool())
        .await
        .db()?;
        Ok(seq)
    }

    /// The notices after `after`, oldest first, at most `limit`.
    pub async fn log_since(&self, after: i64, limit: usize) -> Result<Vec<(i64, Notice)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, notice FROM commit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(crate::limit(limit))
                .fetch_all(self.pool())
                .await
                .db()?;
        rows.into_iter()
            .map(|(seq, t)| {
                serde_json::from_str(&t)
                    .map(|n| (seq, n))
                    .map_err(|e| StoreError::Corrupt(format!("notice {seq}: {e}")))
            })
            .collect()
    }

    /// The last notice's sequence number (0: none), and the oldest kept (0: none).
    pub async fn log_bounds(&self) -> Result<(i64, i64)> {
        let (last, first): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT max(seq), min(seq) FROM commit_log").fetch_one(self.pool()).await.db()?;
        Ok((last.unwrap_or(0), first.unwrap_or(0)))
    }

    /// When the newest notice was published (unix ms; `None`: none kept): whether a node
    /// wrote a moment ago.
    pub async fn log_newest_ms(&self) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT max(created_ms) FROM commit_log").fetch_one(self.pool()).await.db()
    }

    /// Where a node that starts following stands: the last notice's sequence number (0:
    /// none) and the highest event id any notice says is committed in full (`None`: none
    /// says).
    pub async fn log_position(&self) -> Result<(i64, Option<i64>)> {
        let (last, upto): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT max(seq), max(upto) FROM commit_log").fetch_one(self.pool()).await.db()?;
        Ok((last.unwrap_or(0), upto))
    }

    /// Drop answers and notices older than `before_ms` (a node that was away longer reads
    /// everything again), except the notice that says the most is committed.
    pub async fn cluster_prune(&self, before_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM relay_replies WHERE created_ms < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await
            .db()?;
        sqlx::query(
            "DELETE FROM commit_log WHERE created_ms < $1 AND seq <> \
             (SELECT coalesce(max(seq), 0) FROM commit_log WHERE upto = (SELECT max(upto) FROM commit_log))",
        )
        .bind(before_ms)
        .execute(self.pool())
        .await
        .db()?;
        Ok(())
    }

    /// The notifications on `channel` (one of this module's), for a waiting loop.
    pub async fn listen(&self, channel: &str) -> Result<Wakeups> {
        let mut l = PgListener::connect_with(self.pool()).await.db()?;
        l.listen(channel).await.db()?;
        Ok(Wakeups(l))
    }
}

/// Notifications on one channel ([`PgMetaStore::listen`]).
pub struct Wakeups(PgListener);

impl Wakeups {
    /// The next notification; an error when the connection was lost (the next call
    /// connects again; notifications sent meanwhile are lost).
    pub async fn next(&mut self) -> Result<()> {
        self.0.recv().await.map(|_| ()).db()
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::{testing, PgOptions};

    /// The writer lock as other nodes see it: taken, seen held, and seen free again once
    /// its holder is dropped or its session is terminated — which the holder's probe also
    /// sees, so it stops writing before another node starts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_is_seen_free_once_its_session_ends() {
        let Some(url) = testing::fresh_database().await else { return };
        let a = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let b = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let patience = Duration::from_secs(2);
        assert!(b.lock_is_free("events@x").await.unwrap());
        let held = a.try_hold_lock("events@x").await.unwrap().expect("free");
        let probe = held.probe();
        assert!(probe.held(patience).await);
        assert!(!b.lock_is_free("events@x").await.unwrap());
        assert!(b.lock_is_free("events@y").await.unwrap(), "another name is another lock");
        assert!(b.try_hold_lock("events@x").await.unwrap().is_none());
        drop(held);
        assert!(!probe.held(patience).await, "dropped");
        let t = std::time::Instant::now();
        while !b.lock_is_free("events@x").await.unwrap() {
            assert!(t.elapsed() < Duration::from_secs(5), "the closed session's lock stays");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The session ends under the holder (PostgreSQL restarted, the connection cut).
        let held = b.try_hold_lock("events@x").await.unwrap().expect("free again");
        let probe = held.probe();
        assert!(!a.lock_is_free("events@x").await.unwrap());
        assert_eq!(testing::end_lock_sessions(&url).await, 1);
        let t = std::time::Instant::now();
        while !a.lock_is_free("events@x").await.unwrap() {
            assert!(t.elapsed() < Duration::from_secs(5), "the terminated session's lock stays");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!probe.held(patience).await, "the holder sees its session is gone");
        drop(held);
    }

    /// A relaying node's command reaches the writing node, whose answer reaches the
    /// sender; a command not answered in time is still there to be taken; notices come in
    /// order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commands_answers_and_notices() {
        let Some(url) = testing::fresh_database().await else { return };
        let writer = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let node = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let relay = PgRelay::new(&node).await.unwrap();
        let a = relay.send(&Command::Reload { project: 1 }).await.unwrap();
        let b = relay.send(&Command::Erase { customer: 5 }).await.unwrap();
        assert!(b > a);
        assert_eq!(relay.reply(a, Duration::from_millis(50)).await.unwrap(), None, "not answered yet");
        let taken = writer.relay_take(10).await.unwrap();
        assert_eq!(taken, vec![(a, Ok(Command::Reload { project: 1 })), (b, Ok(Command::Erase { customer: 5 }))]);
        // The answer wakes a waiter at once (well before its poll).
        let waiting = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = relay.reply(b, Duration::from_secs(5)).await.unwrap();
            (r, started.elapsed(), relay)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer.relay_answer(&[(b, Reply::Error("no such customer".into()))]).await.unwrap();
        let (r, took, relay) = waiting.await.unwrap();
        assert_eq!(r, Some(Reply::Error("no such customer".into())));
        assert!(took < Duration::from_secs(5), "{took:?}");
        // The unanswered one is still queued, and is answered later.
        assert_eq!(writer.relay_take(10).await.unwrap(), vec![(a, Ok(Command::Reload { project: 1 }))]);
        writer.relay_answer(&[(a, Reply::Ok(serde_json::Value::Null))]).await.unwrap();
        assert_eq!(relay.reply(a, Duration::ZERO).await.unwrap(), Some(Reply::Ok(serde_json::Value::Null)));
        assert!(writer.relay_take(10).await.unwrap().is_empty());
        // Notices, in order, after a position.
        assert_eq!(writer.log_bounds().await.unwrap(), (0, 0));
        let n1 = Notice { upto: Some(10), ..Default::default() };
        let n2 = Notice { merges: vec![(3, 4)], ..Default::default() };
        let s1 = writer.log_publish(&n1).await.unwrap();
        let s2 = writer.log_publish(&n2).await.unwrap();
        assert_eq!(node.log_since(0, 10).await.unwrap(), vec![(s1, n1), (s2, n2.clone())]);
        assert_eq!(node.log_since(s1, 10).await.unwrap(), vec![(s2, n2)]);
        assert_eq!(node.log_bounds().await.unwrap(), (s2, s1));
        assert_eq!(node.log_position().await.unwrap(), (s2, Some(10)));
        // Pruning keeps the notice that says the most is committed.
        writer.cluster_prune(now_ms() + 1).await.unwrap();
        assert_eq!(node.log_bounds().await.unwrap(), (s1, s1));
        assert_eq!(node.log_position().await.unwrap(), (s1, Some(10)));
    }

    /// A holder silent longer than asked has its session ended (a stopped process keeps
    /// its TCP connection, so PostgreSQL alone would never let its lock go); a held lock
    /// keeps its session talking, so a live holder is never taken for silent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_holder_is_ended_and_a_live_one_kept() {
        let Some(url) = testing::fresh_database().await else { return };
        let a = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let b = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let free = |name: &'static str| {
            let b = b.clone();
            async move {
                let t = std::time::Instant::now();
                while !b.lock_is_free(name).await.unwrap() {
                    assert!(t.elapsed() < Duration::from_secs(5), "the lock of {name} stays");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        // Held and left alone by its holder: its session still talks.
        let held = a.try_hold_lock("events@x").await.unwrap().expect("free");
        let silent = Duration::from_secs(2) + crate::KEEP_TALKING;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            assert!(!b.end_silent_holder("events@x", silent).await.unwrap(), "a live holder was ended");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        drop(held);
        free("events@x").await;
        // A process that took the lock and stopped running: its session says nothing more.
        let mut stopped = a.pool().acquire().await.unwrap().detach();
        let took: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext('events@x'))")
            .bind(crate::NAMED_LOCKS)
            .fetch_one(&mut stopped)
            .await
            .unwrap();
        assert!(took);
        assert!(!b.lock_is_free("events@x").await.unwrap());
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let second = Duration::from_secs(1);
        assert!(!b.end_silent_holder("events@y", second).await.unwrap(), "another name is another lock");
        assert!(!b.end_silent_holder("events@x", Duration::from_secs(60)).await.unwrap(), "not silent that long");
        assert!(b.end_silent_holder("events@x", second).await.unwrap());
        free("events@x").await;
        assert!(sqlx::query("SELECT 1").execute(&mut stopped).await.is_err(), "its session is gone");
        assert!(!b.end_silent_holder("events@x", second).await.unwrap(), "nothing left to end");
    }

    /// While no node writes, a relaying node queues what it takes — up to its queue's
    /// size, then refuses (a write key must not fill PostgreSQL) — and takes submissions
    /// again once a writing node has answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_relaying_node_bounds_what_waits_for_a_writing_node() {
        use touchpoint_store::writer::{Receipt, Submission, Writer, WriterConfig};
        use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
        let Some(url) = testing::fresh_database().await else { return };
        let meta = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let events = SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
        let store = Arc::new(crate::SplitStore::shared(meta.clone(), Arc::new(events)).await.unwrap());
        let relay = Arc::new(PgRelay::new(&meta).await.unwrap());
        let config = WriterConfig { queue_events: 50, ..Default::default() };
        let (writer, _task) = Writer::relayed(store, config, relay);
        let sub = |n: usize, tag: &str| {
            Submission {
            project: 1,
            events: (0..n)
                .map(|i| {
                    let e = serde_json::json!({"type": "track", "userId": "u", "event": "E", "messageId": format!("{tag}-{i}")});
                    touchpoint_core::Event::parse(e, &Default::default(), &Default::default()).unwrap()
                })
                .collect(),
            failed: vec![],
        }
        };
        assert_eq!(writer.submit(sub(30, "a")).await.unwrap(), Receipt { queued: 30, ..Default::default() });
        assert_eq!(writer.submit(sub(30, "b")).await.unwrap().queued, 30);
        let refused = writer.submit(sub(1, "c")).await.unwrap_err().to_string();
        assert!(refused.contains("60 wait") && refused.contains("nothing was stored"), "{refused}");
        // A writing node answers what waits (as `serve_relay` does).
        let taken = meta.relay_take(10).await.unwrap();
        assert_eq!(taken.len(), 2, "the refused one was never sent");
        let receipt = Receipt { stored: 30, ..Default::default() };
        let answers: Vec<(i64, Reply)> =
            taken.iter().map(|(s, _)| (*s, Reply::of::<_, String>(Ok(&receipt)))).collect();
        meta.relay_answer(&answers).await.unwrap();
        assert_eq!(writer.submit(sub(1, "d")).await.unwrap().queued, 1, "taken again");
    }
}
