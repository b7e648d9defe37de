//! [`AccountStore`](touchpoint_store::accounts::AccountStore)'s SQL — dashboard people,
//! their roles, sessions and set-password links — and the API keys of
//! [`MetaStore`](touchpoint_store::MetaStore), written once for every sqlx database
//! as [`crate::sql_triggers`] is (read its documentation for the rules the statements
//! keep: writes that must say whether they did something end in `RETURNING` and are read
//! with `fetch_all`): [`AccountSql`] runs it on a pool, and the embedded store's and
//! PostgreSQL's `AccountStore` are thin calls into it.

use crate::sql_triggers::Sql;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use touchpoint_core::access::Role;
use touchpoint_core::keys::KeyKind;
use touchpoint_core::ProjectId;
use touchpoint_store::accounts::{Grant, Session, User};
use touchpoint_store::{now_ms, KeyInfo, Result, Revoked, StoreError};

/// The account tables' SQL on one pool. Cheap: a borrow of the backend's pool.
#[derive(Debug)]
pub struct AccountSql<'a, DB: Database>(
    /// The backend's pool.
    pub &'a Pool<DB>,
);

/// A user's columns.
const USER: &str = "id, email, password_hash, created_ms";

/// A key's columns (never its hash).
const KEY: &str = "id, project_id, kind, prefix, created_ms";

impl<DB> AccountSql<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB>,
    for<'s> &'s str: ColumnIndex<DB::Row>,
{
    /// One column of a row.
    fn get<T>(r: &DB::Row, col: &str) -> Result<T>
    where
        for<'r> T: Decode<'r, DB> + Type<DB>,
    {
        r.try_get(col).sql()
    }

    /// A user from its [`USER`] columns.
    fn user_row(r: &DB::Row) -> Result<User> {
        Ok(User {
            id: Self::get(r, "id")?,
            email: Self::get(r, "email")?,
            password_hash: r.try_get::<Option<String>, _>("password_hash").sql()?,
            created_ms: Self::get(r, "created_ms")?,
        })
    }

    /// A new account; `Exists` when the address has one.
    pub async fn create_user(&self, email: &str, password_hash: Option<&str>) -> Result<User> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (email, password_hash, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING RETURNING {USER}"
        ))
        .bind(email.to_string())
        .bind(password_hash.map(str::to_string))
        .bind(now_ms())
        .fetch_all(self.0)
        .await
        .sql()?
        .pop();
        match row {
            Some(r) => Self::user_row(&r),
            None => Err(StoreError::Exists(format!("an account for {email:?}"))),
        }
    }

    /// One account by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.0)
            .await
            .sql()?;
        row.as_ref().map(Self::user_row).transpose()
    }

    /// One account by its address.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER} FROM users WHERE email = $1"))
            .bind(email.to_string())
            .fetch_optional(self.0)
            .await
            .sql()?;
        row.as_ref().map(Self::user_row).transpose()
    }

    /// Every account, by id.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER} FROM users ORDER BY id")).fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::user_row).collect()
    }

    /// A new password; `NotFound` without the account.
    pub async fn set_password(&self, user: i64, password_hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING id")
            .bind(password_hash.to_string())
            .bind(user)
            .fetch_all(self.0)
            .await
            .sql()?;
        if done.is_empty() {
            return Err(StoreError::NotFound(format!("account {user}")));
        }
        Ok(())
    }

    /// Give (or with `None` take) a role on a project, or on every project (`None`, kept
    /// as project 0); `NotFound` without the account.
    pub async fn set_role(&self, user: i64, project: Option<ProjectId>, role: Option<Role>) -> Result<()> {
        if self.user(user).await?.is_none() {
            return Err(StoreError::NotFound(format!("account {user}")));
        }
        let project = project.unwrap_or(0);
        match role {
            Some(role) => sqlx::query(
                "INSERT INTO user_roles (user_id, project_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role",
            )
            .bind(user)
            .bind(project)
            .bind(role.as_str().to_string())
            .execute(self.0)
            .await
            .sql()?,
            None => sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND project_id = $2")
                .bind(user)
                .bind(project)
                .execute(self.0)
                .await
                .sql()?,
        };
        Ok(())
    }

    /// An account's roles, by project (every project's first).
    pub async fn grants(&self, user: i64) -> Result<Vec<Grant>> {
        let rows = sqlx::query("SELECT project_id, role FROM user_roles WHERE user_id = $1 ORDER BY project_id")
            .bind(user)
            .fetch_all(self.0)
            .await
            .sql()?;
        rows.iter()
            .map(|r| {
                let (project, role): (i64, String) = (Self::get(r, "project_id")?, Self::get(r, "role")?);
                let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?;
                Ok(Grant { project: (project != 0).then_some(project), role })
            })
            .collect()
    }

    /// A new session, by the hash of its token.
    pub async fn create_session(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash.to_string())
            .bind(user)
            .bind(now_ms())
            .bind(expires_ms)
            .execute(self.0)
            .await
            .sql()?;
        Ok(())
    }

    /// A session that has not expired by `now_ms`.
    pub async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT user_id, created_ms, expires_ms FROM sessions WHERE token_hash = $1 AND expires_ms > $2",
        )
        .bind(token_hash.to_string())
        .bind(now_ms)
        .fetch_optional(self.0)
        .await
        .sql()?;
        row.map(|r| {
            Ok(Session {
                user_id: Self::get(&r, "user_id")?,
                created_ms: Self::get(&r, "created_ms")?,
                expires_ms: Self::get(&r, "expires_ms")?,
            })
        })
        .transpose()
    }

    /// End a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .execute(self.0)
            .await
            .sql()?;
        Ok(())
    }

    /// End every session of an account; how many there were.
    pub async fn delete_sessions(&self, user: i64) -> Result<u64> {
        let gone = sqlx::query("DELETE FROM sessions WHERE user_id = $1 RETURNING user_id")
            .bind(user)
            .fetch_all(self.0)
            .await
            .sql()?;
        Ok(gone.len() as u64)
    }

    /// A new set-password link, by the hash of its token.
    pub async fn create_password_link(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO password_links (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash.to_string())
            .bind(user)
            .bind(now_ms())
            .bind(expires_ms)
            .execute(self.0)
            .await
            .sql()?;
        Ok(())
    }

    /// Use a set-password link: it is gone either way; the account when it had not
    /// expired by `now_ms`.
    pub async fn take_password_link(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>> {
        let rows = sqlx::query("DELETE FROM password_links WHERE token_hash = $1 RETURNING user_id, expires_ms")
            .bind(token_hash.to_string())
            .fetch_all(self.0)
            .await
            .sql()?;
        let Some(r) = rows.first() else { return Ok(None) };
        let (user, expires): (i64, i64) = (Self::get(r, "user_id")?, Self::get(r, "expires_ms")?);
        Ok((expires > now_ms).then_some(user))
    }

    /// A key from its [`KEY`] columns.
    fn key_row(r: &DB::Row) -> Result<KeyInfo> {
        let kind: String = Self::get(r, "kind")?;
        Ok(KeyInfo {
            id: Self::get(r, "id")?,
            project_id: Self::get(r, "project_id")?,
            kind: KeyKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("key kind {kind}")))?,
            prefix: Self::get(r, "prefix")?,
            created_ms: Self::get(r, "created_ms")?,
        })
    }

    /// A new API key of a project, by the hash of its token; `NotFound` without the project.
    pub async fn create_key(
        &self,
        project: ProjectId,
        kind: KeyKind,
        token_hash: &str,
        prefix: &str,
    ) -> Result<KeyInfo> {
        let row = sqlx::query(&format!(
            "INSERT INTO api_keys (project_id, kind, token_hash, prefix, created_ms)
             SELECT id, $2, $3, $4, $5 FROM projects WHERE id = $1
             RETURNING {KEY}"
        ))
        .bind(project)
        .bind(kind.as_str().to_string())
        .bind(token_hash.to_string())
        .bind(prefix.to_string())
        .bind(now_ms())
        .fetch_all(self.0)
        .await
        .sql()?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("project {project}")))?;
        Self::key_row(&row)
    }

    /// A key that is not revoked, by the hash of its token.
    pub async fn key_by_hash(&self, token_hash: &str) -> Result<Option<KeyInfo>> {
        let row = sqlx::query(&format!("SELECT {KEY} FROM api_keys WHERE token_hash = $1 AND revoked_ms IS NULL"))
            .bind(token_hash.to_string())
            .fetch_optional(self.0)
            .await
            .sql()?;
        row.as_ref().map(Self::key_row).transpose()
    }

    /// A project's keys that are not revoked, by id.
    pub async fn keys(&self, project: ProjectId) -> Result<Vec<KeyInfo>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY} FROM api_keys WHERE project_id = $1 AND revoked_ms IS NULL ORDER BY id"
        ))
        .bind(project)
        .fetch_all(self.0)
        .await
        .sql()?;
        rows.iter().map(Self::key_row).collect()
    }

    /// [`MetaStore::revoke_key`](touchpoint_store::MetaStore::revoke_key): the project's
    /// row is updated first (to itself), which locks it — PostgreSQL's row lock, SQLite's
    /// write lock — so revocations of one project's keys take turns; then the key, the
    /// count of live secret keys and the revocation are read and written in that turn.
    pub async fn revoke_key(&self, project: ProjectId, id: i64, at_ms: i64) -> Result<Revoked> {
        let mut tx = self.0.begin().await.sql()?;
        let found = sqlx::query("UPDATE projects SET id = id WHERE id = $1 RETURNING id")
            .bind(project)
            .fetch_all(&mut *tx)
            .await
            .sql()?;
        if found.is_empty() {
            return Ok(Revoked::NoSuchKey);
        }
        let live = sqlx::query(&format!("SELECT {KEY} FROM api_keys WHERE project_id = $1 AND revoked_ms IS NULL"))
            .bind(project)
            .fetch_all(&mut *tx)
            .await
            .sql()?
            .iter()
            .map(Self::key_row)
            .collect::<Result<Vec<_>>>()?;
        let Some(key) = live.iter().find(|k| k.id == id) else { return Ok(Revoked::NoSuchKey) };
        if key.kind == KeyKind::Secret && live.iter().filter(|k| k.kind == KeyKind::Secret).count() == 1 {
            return Ok(Revoked::LastSecret);
        }
        sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND project_id = $3 RETURNING id")
            .bind(at_ms)
            .bind(id)
            .bind(project)
            .fetch_all(&mut *tx)
            .await
            .sql()?;
        tx.commit().await.sql()?;
        Ok(Revoked::Done(key.clone()))
    }
}
