//! [`AccountStore`] on PostgreSQL: people who sign in to the dashboard. The SQL is the
//! embedded store's ([`touchpoint_store_sqlite::sql_accounts`]), written once for both;
//! this is only the pool handed to it.

use crate::PgMetaStore;
use async_trait::async_trait;
use touchpoint_core::access::Role;
use touchpoint_core::ProjectId;
use touchpoint_store::accounts::{AccountStore, Grant, Session, User};
use touchpoint_store::Result;
use touchpoint_store_sqlite::sql_accounts::AccountSql;

impl PgMetaStore {
    /// The shared account and key SQL on this store's pool.
    pub(crate) fn accounts(&self) -> AccountSql<'_, sqlx::Postgres> {
        AccountSql(&self.pool)
    }
}

#[async_trait]
impl AccountStore for PgMetaStore {
    async fn create_user(&self, email: &str, password_hash: Option<&str>) -> Result<User> {
        self.accounts().create_user(email, password_hash).await
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        self.accounts().user(id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.accounts().user_by_email(email).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.accounts().users().await
    }

    async fn set_password(&self, user: i64, password_hash: &str) -> Result<()> {
        self.accounts().set_password(user, password_hash).await
    }

    async fn set_role(&self, user: i64, project: Option<ProjectId>, role: Option<Role>) -> Result<()> {
        self.accounts().set_role(user, project, role).await
    }

    async fn grants(&self, user: i64) -> Result<Vec<Grant>> {
        self.accounts().grants(user).await
    }

    async fn create_session(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        self.accounts().create_session(token_hash, user, expires_ms).await
    }

    async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Session>> {
        self.accounts().session(token_hash, now_ms).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.accounts().delete_session(token_hash).await
    }

    async fn delete_sessions(&self, user: i64) -> Result<u64> {
        self.accounts().delete_sessions(user).await
    }

    async fn create_password_link(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        self.accounts().create_password_link(token_hash, user, expires_ms).await
    }

    async fn take_password_link(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>> {
        self.accounts().take_password_link(token_hash, now_ms).await
    }
}
