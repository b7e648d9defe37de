//! [`TriggerStore`] on the embedded store: trigger rules, the outbox of their firings, the
//! trigger worker's cursor and customers' preferences. The SQL is shared with PostgreSQL
//! ([`crate::sql_triggers`]); this is only the embedded store's pool handed to it, and the
//! one transaction of several statements run as the writer's writes are (synchronously,
//! under the writer's gate).

use crate::error::Db;
use crate::sql_triggers::{TriggerSql, INSERT_FIRINGS, INSERT_FIRINGS_KEEP, MOVE_CURSOR};
use crate::sqlite::{with_raw, SqliteStore};
use async_trait::async_trait;
use serde_json::Value;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::Subject;
use touchpoint_store::triggers::{
    FiringBrief, FiringFilter, FiringRow, FiringState, FiringUpdate, NewFiring, Preference, TriggerRuleRow,
    TriggerStatus, TriggerStore,
};
use touchpoint_store::Result;

/// [`TriggerStore::decide_firings`] on a raw connection, in one `BEGIN IMMEDIATE`
/// transaction, with the SQL PostgreSQL runs.
fn decide_raw(c: &rusqlite::Connection, firings: &[NewFiring], cursor: Option<i64>) -> rusqlite::Result<Vec<bool>> {
    let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
    let mut recorded = Vec::with_capacity(firings.len());
    {
        // One row a statement, told apart by the rows it changed: SQLite's `RETURNING`
        // buffers its rows in a table of its own, which costs more than the insert.
        let sql = format!("{INSERT_FIRINGS} ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) {INSERT_FIRINGS_KEEP}");
        let mut insert = tx.prepare_cached(&sql)?;
        for f in firings {
            let changed = insert.execute(rusqlite::params![
                f.id,
                f.project_id,
                f.rule_id,
                f.customer_id,
                f.event_id,
                f.event_ms,
                f.state.as_str(),
                f.held_out,
                f.next_ms,
                f.reason,
                f.payload.get(),
                f.decided_ms,
            ])?;
            recorded.push(changed == 1);
        }
        if let Some(event_id) = cursor {
            tx.prepare_cached(MOVE_CURSOR)?.execute([event_id])?;
        }
    }
    tx.commit()?;
    Ok(recorded)
}

impl SqliteStore {
    /// The shared trigger SQL on this store's outbox connections.
    fn triggers(&self) -> TriggerSql<'_, sqlx::Sqlite> {
        TriggerSql(&self.outbox)
    }
}

#[async_trait]
impl TriggerStore for SqliteStore {
    async fn create_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        self.triggers().create_trigger_rule(project, key, status, definition).await
    }

    async fn trigger_rules(&self, project: Option<ProjectId>) -> Result<Vec<TriggerRuleRow>> {
        self.triggers().trigger_rules(project).await
    }

    async fn trigger_rule(&self, project: ProjectId, key: &str) -> Result<Option<TriggerRuleRow>> {
        self.triggers().trigger_rule(project, key).await
    }

    async fn update_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        self.triggers().update_trigger_rule(project, key, status, definition).await
    }

    async fn decide_firings(&self, firings: &[NewFiring], cursor: Option<i64>) -> Result<Vec<bool>> {
        // The one transaction of several statements. Run as sqlx runs statements, it would
        // hold SQLite's write lock across awaits — a round trip to the connection's thread
        // per statement, milliseconds each on busy cores — while ingest's writer waits
        // for the lock. So it runs as the writer's own writes do: synchronously on the raw
        // connection, under the writer's gate, the lock held only while SQLite works.
        let mut conn = self.outbox.acquire().await.db()?;
        let _gate = self.appender.lock().await;
        with_raw(&mut conn, |c| decide_raw(c, firings, cursor).db()).await
    }

    async fn trigger_cursor(&self) -> Result<Option<i64>> {
        self.triggers().trigger_cursor().await
    }

    async fn due_firings(&self, now_ms: i64, limit: usize) -> Result<Vec<FiringRow>> {
        self.triggers().due_firings(now_ms, limit).await
    }

    async fn lease_due_firings(&self, now_ms: i64, limit: usize, until_ms: i64) -> Result<Vec<FiringRow>> {
        self.triggers().lease_due_firings(now_ms, limit, until_ms).await
    }

    async fn next_due_ms(&self) -> Result<Option<i64>> {
        self.triggers().next_due_ms().await
    }

    async fn update_firing(&self, id: &str, update: &FiringUpdate) -> Result<()> {
        self.triggers().update_firing(id, update).await
    }

    async fn firing(&self, id: &str) -> Result<Option<FiringRow>> {
        self.triggers().firing(id).await
    }

    async fn firings(&self, project: ProjectId, filter: &FiringFilter, limit: usize) -> Result<Vec<FiringRow>> {
        self.triggers().firings(project, filter, limit).await
    }

    async fn firing_history(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringBrief>> {
        self.triggers().firing_history(project, customers, since_ms, limit).await
    }

    async fn take_ready_firings(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringRow>> {
        self.triggers().take_ready_firings(project, customers, since_ms, now_ms, limit).await
    }

    async fn firing_counts(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(FiringState, i64)>> {
        self.triggers().firing_counts(project, rule_id).await
    }

    async fn suppressed_reasons(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(String, i64)>> {
        self.triggers().suppressed_reasons(project, rule_id).await
    }

    async fn set_preference(&self, project: ProjectId, customer: CustomerId, pref: &Preference) -> Result<()> {
        self.triggers().set_preference(project, customer, pref).await
    }

    async fn preferences(&self, project: ProjectId, customer: CustomerId) -> Result<Vec<Preference>> {
        self.triggers().preferences(project, customer).await
    }

    async fn subject_firings(&self, subject: &Subject) -> Result<Vec<FiringRow>> {
        self.triggers().subject_firings(subject).await
    }

    async fn subject_preferences(&self, subject: &Subject) -> Result<Vec<Preference>> {
        self.triggers().subject_preferences(subject).await
    }

    async fn erase_subject_triggers(&self, subject: &Subject) -> Result<(u64, u64)> {
        self.triggers().erase_subject_triggers(subject).await
    }
}
