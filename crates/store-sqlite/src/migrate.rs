//! Applying the shared schema migrations (`touchpoint_store::migrate`, rendered for
//! [`Dialect::Sqlite`]) to the embedded store's file. Applied versions are recorded in
//! `schema_migrations`.

use crate::error::Db;
use touchpoint_store::migrate::{render, Dialect, MIGRATIONS};

/// Bring a SQLite database up to date.
pub async fn run_sqlite(pool: &sqlx::SqlitePool) -> touchpoint_store::Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
        .execute(pool)
        .await
        .db()?;
    let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(pool).await.db()?;
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let mut tx = crate::error::begin(pool).await?;
        sqlx::raw_sql(&render(sql, Dialect::Sqlite)).execute(&mut *tx).await.db()?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
            .bind(version)
            .bind(name)
            .bind(touchpoint_store::now_ms())
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}
