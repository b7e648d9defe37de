//! Driver errors as store errors. The interface crate's [`StoreError`] has no driver
//! variants (it must not depend on sqlx or rusqlite), and the orphan rule forbids
//! `From<sqlx::Error> for StoreError` here, so every fallible driver call in this crate
//! goes through `.db()` ([`Db`]).

use touchpoint_store::{Result, StoreError};

/// `.db()`: a driver result as a store result. Every driver error is
/// [`StoreError::Backend`] with the driver's words; the backend itself says when something
/// exists, is missing or is locked.
pub(crate) trait Db<T> {
    /// The result with its error mapped.
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|e| StoreError::Backend(e.to_string()))
    }
}

impl<T> Db<T> for std::result::Result<T, rusqlite::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// Begin a transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), waiting
/// for it within the busy timeout. A deferred transaction that reads first and writes
/// later fails at once (`SQLITE_BUSY_SNAPSHOT`, no waiting) when another connection wrote
/// in between — the trigger tasks, the survey pages and the writer all write to the one
/// file, so every write transaction here starts immediate.
pub(crate) async fn begin(pool: &sqlx::SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.db()
}
