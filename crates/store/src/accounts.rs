//! People who sign in to the dashboard: accounts, roles per project, sessions and one-time
//! set-password links. The store keeps what it is given — lower-cased e-mail addresses,
//! argon2id hashes, SHA-256 hashes of tokens — and decides nothing; the engine's
//! `accounts` use cases hash, check and expire.

use crate::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use touchpoint_core::access::Role;
use touchpoint_core::ProjectId;

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: i64,
    /// E-mail address, lower-cased (unique).
    pub email: String,
    /// The password as an argon2id PHC string; `None` until the person sets one.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A role a person has: on one project, or on every project (`project: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    /// The project (`None`: every project).
    pub project: Option<ProjectId>,
    /// The role.
    pub role: Role,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Whose.
    pub user_id: i64,
    /// When it began, ms since the epoch.
    pub created_ms: i64,
    /// When it ends, ms since the epoch.
    pub expires_ms: i64,
}

/// Accounts, roles, sessions and set-password links.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Create an account; `Exists` when the address has one.
    async fn create_user(&self, email: &str, password_hash: Option<&str>) -> Result<User>;
    /// An account by id.
    async fn user(&self, id: i64) -> Result<Option<User>>;
    /// An account by (lower-cased) e-mail address.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Every account, by id.
    async fn users(&self) -> Result<Vec<User>>;
    /// Replace an account's password hash; `NotFound` without the account.
    async fn set_password(&self, user: i64, password_hash: &str) -> Result<()>;
    /// Give a role on a project (`None`: every project), replacing the one held there;
    /// `role: None` takes it away.
    async fn set_role(&self, user: i64, project: Option<ProjectId>, role: Option<Role>) -> Result<()>;
    /// The roles an account holds, every-project first, then by project.
    async fn grants(&self, user: i64) -> Result<Vec<Grant>>;
    /// Keep a new session (by the hash of its token).
    async fn create_session(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()>;
    /// The session of a token hash, unless it has expired by `now_ms`.
    async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Session>>;
    /// End one session.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// End every session of an account (a password change); returns how many.
    async fn delete_sessions(&self, user: i64) -> Result<u64>;
    /// Keep a one-time set-password link (by the hash of its token).
    async fn create_password_link(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()>;
    /// Use a link: its account, unless it expired by `now_ms`; the link is gone either way
    /// (a second use finds nothing, also when two race).
    async fn take_password_link(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>>;
}
