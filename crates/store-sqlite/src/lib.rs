//! The embedded storage backend of Touchpoint: every store ([`touchpoint_store::EventStore`],
//! [`touchpoint_store::MetaStore`], [`touchpoint_store::ListenStore`],
//! [`touchpoint_store::AccountStore`], [`touchpoint_store::TriggerStore`]) in one SQLite
//! file in the data directory ([`SqliteStore`]). It lives apart from the storage traits so that
//! the interface crate (`touchpoint-store`) knows no SQL and no database driver: only the
//! backend crates do.
//!
//! Events are kept in segments ([`segment`], this backend's layout); the schema is the
//! shared one (`touchpoint_store::migrate`), applied by [`migrate::run_sqlite`]. Driver
//! errors become [`touchpoint_store::StoreError::Backend`] (in words, no driver types).
//! The trigger tables' SQL is written once for SQLite and PostgreSQL, generic over the
//! sqlx database ([`sql_triggers`]); `touchpoint-store-postgres` runs the same text.
//! The backend passes the conformance suite (`touchpoint-store-conformance`, in this
//! crate's tests).

mod error;
pub mod migrate;
pub mod segment;
pub mod sql_accounts;
pub mod sql_kb;
pub mod sql_service;
pub mod sql_triggers;
mod sqlite;
mod sqlite_accounts;
mod sqlite_erasure;
mod sqlite_events;
mod sqlite_kb;
mod sqlite_listen;
mod sqlite_service;
mod sqlite_triggers;

pub use sqlite::{OpenMode, SqliteOptions, SqliteStore, DB_FILE, DEFAULT_DEDUP_WINDOW, LOCK_FILE};
