//! [`ServiceStore`] on the embedded store: requests, their timelines, used sign-in links.
//! The SQL is shared with PostgreSQL ([`crate::sql_service`]); this is only the store's
//! pool handed to it.

use crate::sql_service::ServiceSql;
use crate::sqlite::SqliteStore;
use async_trait::async_trait;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::Subject;
use touchpoint_store::service::{
    NewEntry, NewRequest, Request, RequestEntry, RequestFilter, RequestWithEntries, ServiceStore,
};
use touchpoint_store::Result;

impl SqliteStore {
    /// The shared service SQL on this store's pool.
    fn service(&self) -> ServiceSql<'_, sqlx::Sqlite> {
        ServiceSql(self.pool())
    }
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn create_request(&self, project: ProjectId, new: &NewRequest, now_ms: i64) -> Result<Request> {
        self.service().create_request(project, new, now_ms).await
    }

    async fn create_request_within(
        &self,
        project: ProjectId,
        new: &NewRequest,
        now_ms: i64,
        cap: &touchpoint_store::service::OpenCap,
    ) -> Result<Option<Request>> {
        self.service().create_request_within(project, new, now_ms, cap).await
    }

    async fn request(&self, project: ProjectId, id: i64) -> Result<Option<Request>> {
        self.service().request(project, id).await
    }

    async fn requests(&self, project: ProjectId, filter: &RequestFilter, limit: usize) -> Result<Vec<Request>> {
        self.service().requests(project, filter, limit).await
    }

    async fn request_entries(&self, project: ProjectId, id: i64) -> Result<Vec<RequestEntry>> {
        self.service().request_entries(project, id).await
    }

    async fn add_request_entry(&self, project: ProjectId, id: i64, entry: &NewEntry, now_ms: i64) -> Result<Request> {
        self.service().add_request_entry(project, id, entry, now_ms).await
    }

    async fn use_portal_link(&self, project: ProjectId, nonce: &str, expires_ms: i64, now_ms: i64) -> Result<bool> {
        self.service().use_portal_link(project, nonce, expires_ms, now_ms).await
    }

    async fn portal_link_used(&self, project: ProjectId, nonce: &str) -> Result<bool> {
        self.service().portal_link_used(project, nonce).await
    }

    async fn sign_out_portal(&self, project: ProjectId, customer: CustomerId, at_ms: i64) -> Result<()> {
        self.service().sign_out_portal(project, customer, at_ms).await
    }

    async fn portal_signed_out(&self, project: ProjectId, customer: CustomerId) -> Result<Option<i64>> {
        self.service().portal_signed_out(project, customer).await
    }

    async fn subject_requests(&self, subject: &Subject) -> Result<Vec<RequestWithEntries>> {
        self.service().subject_requests(subject).await
    }

    async fn erase_subject_requests(&self, subject: &Subject) -> Result<(u64, u64)> {
        self.service().erase_subject_requests(subject).await
    }
}
