//! [`SplitStore`]: metadata on PostgreSQL ([`PgMetaStore`]), events in an [`EventHalf`] —
//! the embedded store in the data directory ([`SqliteStore`], the default type) or
//! ClickHouse (`touchpoint-store-clickhouse`) — one [`Store`] for the writer and the
//! server. What follows says "SQLite" for the event half; ClickHouse's writes are not one
//! transaction, and its crate says how a write cut short is made whole.
//! Reads and administration go to the half that keeps the data; a group commit and an
//! erasure use both.
//!
//! **Group commits, and what a crash between the halves leaves.** [`Store::commit`] writes
//! the batch's metadata first — identity changes, trait patches and the counts of refused
//! events, in one PostgreSQL transaction ([`PgMetaStore::commit_identity`]) — and then its
//! events and failed events, in one SQLite transaction
//! ([`SqliteStore::commit_events`], with what [`Store::prepare`] encoded beforehand). The
//! writer acknowledges a request only after both committed. So:
//! - an acknowledged event is in the event store: nothing acknowledged is lost by a crash
//!   at any point (the event store is as durable as the embedded store's settings make it);
//! - every stored event's customer exists in PostgreSQL (its identity changes committed
//!   first), unless it was erased since;
//! - a crash (or a failure) after the PostgreSQL commit and before the SQLite one leaves
//!   the batch's customers, identities and traits without its events. Its requests were
//!   not acknowledged; the writer reloads its identity graph from PostgreSQL (after a
//!   failure, or at the next start) and the clients' retries attach the same events to
//!   the customers already there. Identity changes are idempotent when applied again
//!   (see [`crate::identity`]), trait patches set the same values again; a refused merge
//!   and the refusal counts may be recorded twice, as when a client sends an event twice.
//!
//! The two halves are never in one transaction: a reader may see a batch's customers a
//! moment before its events.
//!
//! **Erasure** ([`touchpoint_store::erasure`]) runs its usual order across both halves:
//! the suppression list is kept in PostgreSQL and copied into the event store
//! ([`SqliteStore::adopt_suppression`]), whose writes refuse the same events the embedded
//! store would; events and failed events are removed from the event store, listening data,
//! customers and identities from PostgreSQL; the purge covers both
//! ([`PgMetaStore::purge_erased`] says what PostgreSQL's covers). Events a write refuses
//! are counted by the half that refused them: [`MetaStore::suppression_stats`] adds both
//! counts. [`SplitStore::open`] and [`SplitStore::shared`] copy every suppression list
//! again (an erasure cut short between the copies is completed); the writer's
//! [`SplitStore::open`] also finishes a purge left pending in PostgreSQL.

use crate::PgMetaStore;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::sync::Arc;
use touchpoint_core::access::Role;
use touchpoint_core::catalog::Catalog;
use touchpoint_core::{CustomerId, IdentityGraph, IdentityKind, IdentityOp, KeyKind, ProjectId, Rule, Touchpoint};
use touchpoint_store::accounts::{AccountStore, Grant, Session, User};
use touchpoint_store::erasure::{
    ErasureReceipt, EventErasure, ListenErasure, MetaErasure, PurgeReport, Subject, SuppressionList, SuppressionStats,
};
use touchpoint_store::kb::{Article, ArticleDraft, KbStore};
use touchpoint_store::listen::{
    BenchmarkRow, InvitationRow, NewInvitation, NewResponse, ResponseFilter, ResponseKey, ResponseRow, SaveOutcome,
    SurveyRow, SurveyStatus,
};
use touchpoint_store::service::{
    NewEntry, NewRequest, Request, RequestEntry, RequestFilter, RequestWithEntries, ServiceStore,
};
use touchpoint_store::triggers::{
    FiringBrief, FiringFilter, FiringRow, FiringState, FiringUpdate, NewFiring, Preference, TriggerRuleRow,
    TriggerStatus, TriggerStore,
};
use touchpoint_store::{
    Brand, CommitBatch, Conflict, Customer, EventHalf, EventStore, FailedEvent, FailedUsage, Identity, KeyInfo,
    ListenStore, MetaStore, NewEvent, NewFailedEvent, Prepared, Project, Result, Store, StoreError, StoredEvent,
    StoredTouchpoint, VolumeRow,
};
use touchpoint_store_sqlite::SqliteStore;

/// Metadata on PostgreSQL, events in the embedded store (see the module documentation).
#[derive(Debug, Clone)]
pub struct SplitStore<E: EventHalf = SqliteStore> {
    /// The metadata half.
    pub meta: PgMetaStore,
    /// The event half: the embedded store in the data directory (of which only the events,
    /// failed events, volumes and a copy of the suppression lists are used), or ClickHouse
    /// (`touchpoint-store-clickhouse`).
    pub events: Arc<E>,
}

impl<E: EventHalf> SplitStore<E> {
    /// Join the halves for the process that writes (the event store opened as the
    /// writer): [`SplitStore::shared`], then finish a purge PostgreSQL has pending (left
    /// by an erasure cut short), as the embedded store does when a writer opens it.
    pub async fn open(meta: PgMetaStore, events: Arc<E>) -> Result<SplitStore<E>> {
        let store = SplitStore::shared(meta, events).await?;
        if store.meta.purge_pending().await? {
            let report = store.meta.purge_erased().await?;
            tracing::warn!(purged = report.purged, steps = ?report.steps, "finished the purge of an erasure");
        }
        Ok(store)
    }

    /// Join the halves (for administration beside a running writer, too): copy
    /// PostgreSQL's suppression lists into the event store, so that its writes refuse
    /// what they name even if an erasure was cut short between the copies.
    pub async fn shared(meta: PgMetaStore, events: Arc<E>) -> Result<SplitStore<E>> {
        let store = SplitStore { meta, events };
        for project in store.meta.suppressing_projects().await? {
            store.copy_suppression(project).await?;
        }
        Ok(store)
    }

    /// Copy a project's suppression list from PostgreSQL into the event store.
    async fn copy_suppression(&self, project: ProjectId) -> Result<()> {
        if let Some((key, hashes)) = self.meta.suppression_entries(project).await? {
            self.events.adopt_suppression(project, &key, &hashes).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<E: EventHalf> EventStore for SplitStore<E> {
    async fn append_events(&self, events: &[NewEvent], failed: &[NewFailedEvent]) -> Result<Vec<Option<i64>>> {
        self.events.append_events(events, failed).await
    }

    async fn scan_events(&self, project: Option<ProjectId>, after_id: i64, limit: usize) -> Result<Vec<StoredEvent>> {
        self.events.scan_events(project, after_id, limit).await
    }

    async fn recent_events(&self, project: ProjectId, limit: usize) -> Result<Vec<StoredEvent>> {
        self.events.recent_events(project, limit).await
    }

    async fn customer_events(
        &self,
        customers: &[CustomerId],
        before: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        self.events.customer_events(customers, before, limit).await
    }

    async fn scan_points(
        &self,
        project: ProjectId,
        after_id: i64,
        upto_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, CustomerId, i64, i64)>> {
        self.events.scan_points(project, after_id, upto_id, limit).await
    }

    async fn event_id_range(&self, project: ProjectId) -> Result<Option<(i64, i64)>> {
        self.events.event_id_range(project).await
    }

    async fn count_events(&self, project: ProjectId) -> Result<i64> {
        self.events.count_events(project).await
    }

    async fn failed_events(
        &self,
        project: ProjectId,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FailedEvent>> {
        self.events.failed_events(project, before_id, limit).await
    }

    async fn failed_usage(&self, project: ProjectId) -> Result<FailedUsage> {
        self.events.failed_usage(project).await
    }

    async fn clear_failed_events(&self, project: ProjectId) -> Result<u64> {
        self.events.clear_failed_events(project).await
    }

    async fn set_touchpoints(&self, updates: &[(i64, Option<i64>)]) -> Result<()> {
        self.events.set_touchpoints(updates).await
    }

    async fn rebuild_volume(&self, project: ProjectId) -> Result<()> {
        self.events.rebuild_volume(project).await
    }

    async fn daily_volume(&self, project: ProjectId, from_day: i64, to_day: i64) -> Result<Vec<VolumeRow>> {
        self.events.daily_volume(project, from_day, to_day).await
    }

    async fn subject_events(&self, subject: &Subject) -> Result<Vec<StoredEvent>> {
        self.events.subject_events(subject).await
    }

    async fn subject_failed_events(&self, subject: &Subject) -> Result<Vec<FailedEvent>> {
        self.events.subject_failed_events(subject).await
    }

    async fn erase_subject_events(&self, subject: &Subject) -> Result<EventErasure> {
        // As in the embedded store, where both halves share one list of erased customers:
        // identity changes naming them are dropped from now on too.
        self.meta.note_erased(subject.customers.iter().copied()).await;
        self.events.erase_subject_events(subject).await
    }
}

#[async_trait]
impl<E: EventHalf> MetaStore for SplitStore<E> {
    async fn create_project(&self, name: &str, catalog: &Catalog) -> Result<Project> {
        self.meta.create_project(name, catalog).await
    }

    async fn projects(&self) -> Result<Vec<Project>> {
        self.meta.projects().await
    }

    async fn project(&self, id: ProjectId) -> Result<Option<Project>> {
        self.meta.project(id).await
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        self.meta.project_by_name(name).await
    }

    async fn update_project(&self, id: ProjectId, timezone: &str, churn_horizon_days: i64) -> Result<Project> {
        self.meta.update_project(id, timezone, churn_horizon_days).await
    }

    async fn set_project_brand(&self, id: ProjectId, brand: &Brand) -> Result<Project> {
        self.meta.set_project_brand(id, brand).await
    }

    async fn create_key(&self, project: ProjectId, kind: KeyKind, token_hash: &str, prefix: &str) -> Result<KeyInfo> {
        self.meta.create_key(project, kind, token_hash, prefix).await
    }

    async fn key_by_hash(&self, token_hash: &str) -> Result<Option<KeyInfo>> {
        self.meta.key_by_hash(token_hash).await
    }

    async fn keys(&self, project: ProjectId) -> Result<Vec<KeyInfo>> {
        self.meta.keys(project).await
    }

    async fn revoke_key(&self, project: ProjectId, id: i64, at_ms: i64) -> Result<touchpoint_store::Revoked> {
        self.meta.revoke_key(project, id, at_ms).await
    }

    async fn touchpoints(&self, project: ProjectId) -> Result<Vec<StoredTouchpoint>> {
        self.meta.touchpoints(project).await
    }

    async fn upsert_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        self.meta.upsert_touchpoint(project, tp).await
    }

    async fn ensure_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        self.meta.ensure_touchpoint(project, tp).await
    }

    async fn rules(&self, project: ProjectId) -> Result<Vec<Rule>> {
        self.meta.rules(project).await
    }

    async fn add_rule(&self, project: ProjectId, rule: &Rule) -> Result<Rule> {
        self.meta.add_rule(project, rule).await
    }

    async fn update_rule(&self, project: ProjectId, rule: &Rule) -> Result<()> {
        self.meta.update_rule(project, rule).await
    }

    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()> {
        self.meta.delete_rule(project, id).await
    }

    async fn apply_identity(&self, ops: &[IdentityOp], traits: &[(CustomerId, Map<String, Value>)]) -> Result<()> {
        self.meta.apply_identity(ops, traits).await
    }

    async fn load_identity_graph(&self) -> Result<IdentityGraph> {
        self.meta.load_identity_graph().await
    }

    async fn find_identity(&self, project: ProjectId, kind: IdentityKind, value: &str) -> Result<Option<CustomerId>> {
        self.meta.find_identity(project, kind, value).await
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>> {
        self.meta.customer(id).await
    }

    async fn customers(&self, project: ProjectId, after_id: i64, limit: usize) -> Result<Vec<Customer>> {
        self.meta.customers(project, after_id, limit).await
    }

    async fn merged_customers(&self, project: ProjectId) -> Result<Vec<(CustomerId, CustomerId)>> {
        self.meta.merged_customers(project).await
    }

    async fn trait_values(&self, project: ProjectId, key: &str) -> Result<Vec<(CustomerId, String)>> {
        self.meta.trait_values(project, key).await
    }

    async fn index_traits(&self, keys: &[String]) -> Result<()> {
        self.meta.index_traits(keys).await
    }

    async fn customers_with_trait(
        &self,
        project: ProjectId,
        key: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<(CustomerId, String)>> {
        self.meta.customers_with_trait(project, key, value, limit).await
    }

    async fn merged_ids(&self, id: CustomerId) -> Result<Vec<CustomerId>> {
        self.meta.merged_ids(id).await
    }

    async fn identities(&self, id: CustomerId) -> Result<Vec<Identity>> {
        self.meta.identities(id).await
    }

    async fn conflicts(&self, project: ProjectId, limit: usize) -> Result<Vec<Conflict>> {
        self.meta.conflicts(project, limit).await
    }

    async fn subject(&self, id: CustomerId) -> Result<Option<Subject>> {
        self.meta.subject(id).await
    }

    async fn subject_customers(&self, subject: &Subject) -> Result<Vec<Customer>> {
        self.meta.subject_customers(subject).await
    }

    async fn subject_identities(&self, subject: &Subject) -> Result<Vec<Identity>> {
        self.meta.subject_identities(subject).await
    }

    async fn subject_conflicts(&self, subject: &Subject) -> Result<Vec<Conflict>> {
        self.meta.subject_conflicts(subject).await
    }

    async fn erase_subject_meta(&self, subject: &Subject) -> Result<MetaErasure> {
        self.meta.erase_subject_meta(subject).await
    }

    async fn suppress(&self, project: ProjectId, values: &[String]) -> Result<u64> {
        let added = self.meta.suppress(project, values).await?;
        self.copy_suppression(project).await?;
        Ok(added)
    }

    async fn suppression_list(&self, project: ProjectId) -> Result<SuppressionList> {
        self.meta.suppression_list(project).await
    }

    async fn suppression_stats(&self, project: ProjectId) -> Result<SuppressionStats> {
        let meta = self.meta.suppression_stats(project).await?;
        // Events the event store's writes refused were counted there.
        let events = self.events.refused_events(project).await?;
        Ok(SuppressionStats { ids: meta.ids, refused_events: meta.refused_events + events })
    }

    async fn count_refused(&self, project: ProjectId, n: u64) -> Result<()> {
        self.meta.count_refused(project, n).await
    }
}

#[async_trait]
impl<E: EventHalf> AccountStore for SplitStore<E> {
    async fn create_user(&self, email: &str, password_hash: Option<&str>) -> Result<User> {
        self.meta.create_user(email, password_hash).await
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        self.meta.user(id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.meta.user_by_email(email).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.meta.users().await
    }

    async fn set_password(&self, user: i64, password_hash: &str) -> Result<()> {
        self.meta.set_password(user, password_hash).await
    }

    async fn set_role(&self, user: i64, project: Option<ProjectId>, role: Option<Role>) -> Result<()> {
        self.meta.set_role(user, project, role).await
    }

    async fn grants(&self, user: i64) -> Result<Vec<Grant>> {
        self.meta.grants(user).await
    }

    async fn create_session(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        self.meta.create_session(token_hash, user, expires_ms).await
    }

    async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Session>> {
        self.meta.session(token_hash, now_ms).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.meta.delete_session(token_hash).await
    }

    async fn delete_sessions(&self, user: i64) -> Result<u64> {
        self.meta.delete_sessions(user).await
    }

    async fn create_password_link(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        self.meta.create_password_link(token_hash, user, expires_ms).await
    }

    async fn take_password_link(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>> {
        self.meta.take_password_link(token_hash, now_ms).await
    }
}

#[async_trait]
impl<E: EventHalf> ListenStore for SplitStore<E> {
    async fn project_secret(&self, project: ProjectId) -> Result<Vec<u8>> {
        self.meta.project_secret(project).await
    }

    async fn create_survey(&self, project: ProjectId, key: &str, definition: &Value) -> Result<SurveyRow> {
        self.meta.create_survey(project, key, definition).await
    }

    async fn surveys(&self, project: ProjectId) -> Result<Vec<SurveyRow>> {
        self.meta.surveys(project).await
    }

    async fn survey(&self, id: i64) -> Result<Option<SurveyRow>> {
        self.meta.survey(id).await
    }

    async fn survey_by_key(&self, project: ProjectId, key: &str) -> Result<Option<SurveyRow>> {
        self.meta.survey_by_key(project, key).await
    }

    async fn survey_by_public_id(&self, public_id: &str) -> Result<Option<SurveyRow>> {
        self.meta.survey_by_public_id(public_id).await
    }

    async fn survey_versions(&self, id: i64) -> Result<Vec<(i64, Value)>> {
        self.meta.survey_versions(id).await
    }

    async fn update_survey(&self, id: i64, definition: &Value) -> Result<SurveyRow> {
        self.meta.update_survey(id, definition).await
    }

    async fn set_survey_status(&self, id: i64, status: SurveyStatus) -> Result<SurveyRow> {
        self.meta.set_survey_status(id, status).await
    }

    async fn create_invitations(&self, project: ProjectId, survey: i64, items: &[NewInvitation]) -> Result<Vec<i64>> {
        self.meta.create_invitations(project, survey, items).await
    }

    async fn invitation(&self, id: i64) -> Result<Option<InvitationRow>> {
        self.meta.invitation(id).await
    }

    async fn response_by_key(&self, survey: i64, key: &ResponseKey) -> Result<Option<ResponseRow>> {
        self.meta.response_by_key(survey, key).await
    }

    async fn save_answers(&self, key: &ResponseKey, r: &NewResponse, page: i64, complete: bool) -> Result<SaveOutcome> {
        self.meta.save_answers(key, r, page, complete).await
    }

    async fn insert_responses(&self, rs: &[NewResponse]) -> Result<Vec<Option<i64>>> {
        self.meta.insert_responses(rs).await
    }

    async fn responses(
        &self,
        project: ProjectId,
        which: ResponseFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ResponseRow>> {
        self.meta.responses(project, which, after_id, limit).await
    }

    async fn add_benchmarks(&self, project: ProjectId, rows: &[BenchmarkRow]) -> Result<usize> {
        self.meta.add_benchmarks(project, rows).await
    }

    async fn benchmarks(&self, project: ProjectId) -> Result<Vec<BenchmarkRow>> {
        self.meta.benchmarks(project).await
    }

    async fn subject_invitations(&self, subject: &Subject) -> Result<Vec<InvitationRow>> {
        self.meta.subject_invitations(subject).await
    }

    async fn subject_responses(&self, subject: &Subject) -> Result<Vec<ResponseRow>> {
        self.meta.subject_responses(subject).await
    }

    async fn erase_subject_listen(&self, subject: &Subject) -> Result<ListenErasure> {
        self.meta.erase_subject_listen(subject).await
    }
}

#[async_trait]
impl<E: EventHalf> KbStore for SplitStore<E> {
    async fn create_article(&self, project: ProjectId, draft: &ArticleDraft, now_ms: i64) -> Result<Article> {
        self.meta.create_article(project, draft, now_ms).await
    }

    async fn update_article(
        &self,
        project: ProjectId,
        id: i64,
        draft: &ArticleDraft,
        base: Option<i64>,
        now_ms: i64,
    ) -> Result<Article> {
        self.meta.update_article(project, id, draft, base, now_ms).await
    }

    async fn articles(&self, project: ProjectId) -> Result<Vec<Article>> {
        self.meta.articles(project).await
    }

    async fn article(&self, project: ProjectId, id: i64) -> Result<Option<Article>> {
        self.meta.article(project, id).await
    }

    async fn article_versions(&self, project: ProjectId, id: i64) -> Result<Vec<Article>> {
        self.meta.article_versions(project, id).await
    }

    async fn kb_stamp(&self, project: ProjectId) -> Result<(i64, i64)> {
        self.meta.kb_stamp(project).await
    }
}

#[async_trait]
impl<E: EventHalf> ServiceStore for SplitStore<E> {
    async fn create_request(&self, project: ProjectId, new: &NewRequest, now_ms: i64) -> Result<Request> {
        self.meta.create_request(project, new, now_ms).await
    }

    async fn create_request_within(
        &self,
        project: ProjectId,
        new: &NewRequest,
        now_ms: i64,
        cap: &touchpoint_store::service::OpenCap,
    ) -> Result<Option<Request>> {
        self.meta.create_request_within(project, new, now_ms, cap).await
    }

    async fn request(&self, project: ProjectId, id: i64) -> Result<Option<Request>> {
        self.meta.request(project, id).await
    }

    async fn requests(&self, project: ProjectId, filter: &RequestFilter, limit: usize) -> Result<Vec<Request>> {
        self.meta.requests(project, filter, limit).await
    }

    async fn request_entries(&self, project: ProjectId, id: i64) -> Result<Vec<RequestEntry>> {
        self.meta.request_entries(project, id).await
    }

    async fn add_request_entry(&self, project: ProjectId, id: i64, entry: &NewEntry, now_ms: i64) -> Result<Request> {
        self.meta.add_request_entry(project, id, entry, now_ms).await
    }

    async fn use_portal_link(&self, project: ProjectId, nonce: &str, expires_ms: i64, now_ms: i64) -> Result<bool> {
        self.meta.use_portal_link(project, nonce, expires_ms, now_ms).await
    }

    async fn portal_link_used(&self, project: ProjectId, nonce: &str) -> Result<bool> {
        self.meta.portal_link_used(project, nonce).await
    }

    async fn sign_out_portal(&self, project: ProjectId, customer: CustomerId, at_ms: i64) -> Result<()> {
        self.meta.sign_out_portal(project, customer, at_ms).await
    }

    async fn portal_signed_out(&self, project: ProjectId, customer: CustomerId) -> Result<Option<i64>> {
        self.meta.portal_signed_out(project, customer).await
    }

    async fn subject_requests(&self, subject: &Subject) -> Result<Vec<RequestWithEntries>> {
        self.meta.subject_requests(subject).await
    }

    async fn erase_subject_requests(&self, subject: &Subject) -> Result<(u64, u64)> {
        self.meta.erase_subject_requests(subject).await
    }
}

#[async_trait]
impl<E: EventHalf> TriggerStore for SplitStore<E> {
    async fn create_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        self.meta.create_trigger_rule(project, key, status, definition).await
    }

    async fn trigger_rules(&self, project: Option<ProjectId>) -> Result<Vec<TriggerRuleRow>> {
        self.meta.trigger_rules(project).await
    }

    async fn trigger_rule(&self, project: ProjectId, key: &str) -> Result<Option<TriggerRuleRow>> {
        self.meta.trigger_rule(project, key).await
    }

    async fn update_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        self.meta.update_trigger_rule(project, key, status, definition).await
    }

    async fn decide_firings(&self, firings: &[NewFiring], cursor: Option<i64>) -> Result<Vec<bool>> {
        self.meta.decide_firings(firings, cursor).await
    }

    async fn trigger_cursor(&self) -> Result<Option<i64>> {
        self.meta.trigger_cursor().await
    }

    async fn due_firings(&self, now_ms: i64, limit: usize) -> Result<Vec<FiringRow>> {
        self.meta.due_firings(now_ms, limit).await
    }

    async fn lease_due_firings(&self, now_ms: i64, limit: usize, until_ms: i64) -> Result<Vec<FiringRow>> {
        self.meta.lease_due_firings(now_ms, limit, until_ms).await
    }

    async fn next_due_ms(&self) -> Result<Option<i64>> {
        self.meta.next_due_ms().await
    }

    async fn update_firing(&self, id: &str, update: &FiringUpdate) -> Result<()> {
        self.meta.update_firing(id, update).await
    }

    async fn firing(&self, id: &str) -> Result<Option<FiringRow>> {
        self.meta.firing(id).await
    }

    async fn firings(&self, project: ProjectId, filter: &FiringFilter, limit: usize) -> Result<Vec<FiringRow>> {
        self.meta.firings(project, filter, limit).await
    }

    async fn firing_history(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringBrief>> {
        self.meta.firing_history(project, customers, since_ms, limit).await
    }

    async fn take_ready_firings(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringRow>> {
        self.meta.take_ready_firings(project, customers, since_ms, now_ms, limit).await
    }

    async fn firing_counts(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(FiringState, i64)>> {
        self.meta.firing_counts(project, rule_id).await
    }

    async fn suppressed_reasons(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(String, i64)>> {
        self.meta.suppressed_reasons(project, rule_id).await
    }

    async fn set_preference(&self, project: ProjectId, customer: CustomerId, pref: &Preference) -> Result<()> {
        self.meta.set_preference(project, customer, pref).await
    }

    async fn preferences(&self, project: ProjectId, customer: CustomerId) -> Result<Vec<Preference>> {
        self.meta.preferences(project, customer).await
    }

    async fn subject_firings(&self, subject: &Subject) -> Result<Vec<FiringRow>> {
        self.meta.subject_firings(subject).await
    }

    async fn subject_preferences(&self, subject: &Subject) -> Result<Vec<Preference>> {
        self.meta.subject_preferences(subject).await
    }

    async fn erase_subject_triggers(&self, subject: &Subject) -> Result<(u64, u64)> {
        self.meta.erase_subject_triggers(subject).await
    }
}

#[async_trait]
impl<E: EventHalf> Store for SplitStore<E> {
    async fn commit(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        // Metadata first: see the module documentation for why this order.
        self.meta.commit_identity(&batch.identity_ops, &batch.traits, &batch.refused).await?;
        self.events.commit_events(batch).await
    }

    fn prepare(&self, batch: &CommitBatch) -> Option<Prepared> {
        self.events.prepare(batch)
    }

    async fn erase_customer(&self, id: CustomerId) -> Result<ErasureReceipt> {
        // No writer may run meanwhile (a shared handle's erasure): the data directory's
        // lock, or the lock the event half's writer holds in PostgreSQL.
        let _lock = self.events.erasure_guard()?;
        let _held = match self.events.writer_lock() {
            Some(name) => Some(self.meta.try_hold_lock(&name).await?.ok_or_else(|| {
                StoreError::Locked(
                    "a Touchpoint node is writing to these stores; erase through it (DELETE /api/customers/{id} or \
                     the dashboard), or stop it first"
                        .into(),
                )
            })?),
            None => None,
        };
        touchpoint_store::erasure::erase_customer(self, id).await
    }

    async fn purge_erased(&self) -> Result<PurgeReport> {
        let events = self.events.purge_erased().await?;
        let meta = self.meta.purge_erased().await?;
        let mut steps = events.steps;
        steps.extend(meta.steps);
        Ok(PurgeReport { purged: events.purged && meta.purged, steps })
    }

    fn erasures(&self) -> u64 {
        self.meta.erasures() + self.events.erasures()
    }

    fn gather(&self) -> Option<std::time::Duration> {
        self.events.gather()
    }
}
