//! [`TriggerStore`] on PostgreSQL: trigger rules, the outbox of their firings, the trigger
//! worker's cursor and customers' preferences. The SQL is the embedded store's, written
//! once for both databases (`touchpoint_store_sqlite::sql_triggers`); this is only the
//! PostgreSQL pool handed to it.

use crate::PgMetaStore;
use async_trait::async_trait;
use serde_json::Value;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::Subject;
use touchpoint_store::triggers::{
    FiringBrief, FiringFilter, FiringRow, FiringState, FiringUpdate, NewFiring, Preference, TriggerRuleRow,
    TriggerStatus, TriggerStore,
};
use touchpoint_store::Result;
use touchpoint_store_sqlite::sql_triggers::TriggerSql;

impl PgMetaStore {
    /// The shared trigger SQL on this store's pool.
    fn triggers(&self) -> TriggerSql<'_, sqlx::Postgres> {
        TriggerSql(&self.pool)
    }
}

#[async_trait]
impl TriggerStore for PgMetaStore {
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
        self.triggers().decide_firings(firings, cursor).await
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
