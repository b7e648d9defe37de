//! [`AccountStore`] on the embedded store: people who sign in to the dashboard.

use crate::error::Db;
use crate::sqlite::SqliteStore;
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use touchpoint_core::access::Role;
use touchpoint_core::ProjectId;
use touchpoint_store::accounts::{AccountStore, Grant, Session, User};
use touchpoint_store::{now_ms, Result, StoreError};

fn user_row(r: &SqliteRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id").db()?,
        email: r.try_get("email").db()?,
        password_hash: r.try_get("password_hash").db()?,
        created_ms: r.try_get("created_ms").db()?,
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, email: &str, password_hash: Option<&str>) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (email, password_hash, created_ms) VALUES (?, ?, ?)
             ON CONFLICT (email) DO NOTHING RETURNING id, email, password_hash, created_ms",
        )
        .bind(email)
        .bind(password_hash)
        .bind(now_ms())
        // Not fetch_optional: a write statement left unfinished keeps the write lock.
        .fetch_all(self.pool())
        .await
        .db()?
        .pop();
        match row {
            Some(r) => user_row(&r),
            None => Err(StoreError::Exists(format!("an account for {email:?}"))),
        }
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, password_hash, created_ms FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, password_hash, created_ms FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.as_ref().map(user_row).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT id, email, password_hash, created_ms FROM users ORDER BY id")
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.iter().map(user_row).collect()
    }

    async fn set_password(&self, user: i64, password_hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user)
            .execute(self.pool())
            .await
            .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {user}")));
        }
        Ok(())
    }

    async fn set_role(&self, user: i64, project: Option<ProjectId>, role: Option<Role>) -> Result<()> {
        if self.user(user).await?.is_none() {
            return Err(StoreError::NotFound(format!("account {user}")));
        }
        let project = project.unwrap_or(0);
        match role {
            Some(role) => sqlx::query(
                "INSERT INTO user_roles (user_id, project_id, role) VALUES (?, ?, ?)
                 ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role",
            )
            .bind(user)
            .bind(project)
            .bind(role.as_str())
            .execute(self.pool())
            .await
            .db()?,
            None => sqlx::query("DELETE FROM user_roles WHERE user_id = ? AND project_id = ?")
                .bind(user)
                .bind(project)
                .execute(self.pool())
                .await
                .db()?,
        };
        Ok(())
    }

    async fn grants(&self, user: i64) -> Result<Vec<Grant>> {
        let rows = sqlx::query("SELECT project_id, role FROM user_roles WHERE user_id = ? ORDER BY project_id")
            .bind(user)
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.iter()
            .map(|r| {
                let (project, role): (i64, String) = (r.try_get(0).db()?, r.try_get(1).db()?);
                let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?;
                Ok(Grant { project: (project != 0).then_some(project), role })
            })
            .collect()
    }

    async fn create_session(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user)
            .bind(now_ms())
            .bind(expires_ms)
            .execute(self.pool())
            .await
            .db()?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Session>> {
        let row =
            sqlx::query("SELECT user_id, created_ms, expires_ms FROM sessions WHERE token_hash = ? AND expires_ms > ?")
                .bind(token_hash)
                .bind(now_ms)
                .fetch_optional(self.pool())
                .await
                .db()?;
        row.map(|r| {
            Ok(Session { user_id: r.try_get(0).db()?, created_ms: r.try_get(1).db()?, expires_ms: r.try_get(2).db()? })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).execute(self.pool()).await.db()?;
        Ok(())
    }

    async fn delete_sessions(&self, user: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(user).execute(self.pool()).await.db()?;
        Ok(done.rows_affected())
    }

    async fn create_password_link(&self, token_hash: &str, user: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO password_links (token_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user)
            .bind(now_ms())
            .bind(expires_ms)
            .execute(self.pool())
            .await
            .db()?;
        Ok(())
    }

    async fn take_password_link(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>> {
        let row = sqlx::query("DELETE FROM password_links WHERE token_hash = ? RETURNING user_id, expires_ms")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await
            .db()?;
        let Some(r) = row else { return Ok(None) };
        let (user, expires): (i64, i64) = (r.try_get(0).db()?, r.try_get(1).db()?);
        Ok((expires > now_ms).then_some(user))
    }
}
