//! PostgreSQL as Touchpoint's metadata store: [`PgMetaStore`] keeps projects, keys, the
//! touchpoint catalog, customers and identities (with conflicts and traits), the
//! suppression list of erased customers ([`touchpoint_store::MetaStore`]) and surveys,
//! invitations, responses and benchmarks ([`touchpoint_store::ListenStore`]), dashboard
//! accounts ([`touchpoint_store::AccountStore`]) and trigger rules, their outbox and
//! customers' preferences ([`touchpoint_store::TriggerStore`], with SQL shared with the
//! embedded store: `touchpoint_store_sqlite::sql_triggers`) in a PostgreSQL database,
//! with the same semantics as the embedded SQLite store — the same ids, orders,
//! `NotFound`/`Exists` answers and JSON text — so that both pass the same conformance
//! suite (`touchpoint-store-conformance`). [`SplitStore`] joins it to the
//! embedded event store into a whole [`touchpoint_store::Store`].
//!
//! The schema is the one the embedded store has (`touchpoint_store::migrate`, rendered for
//! [`touchpoint_store::migrate::Dialect::Postgres`]), applied under an advisory lock so
//! that processes starting together migrate once. Its event tables stay empty: events
//! live in the embedded store.
//!
//! Driver errors become [`StoreError::Backend`] in words ([`store_error`]), a unique
//! violation [`StoreError::Exists`]; no driver type leaves this crate.
//!
//! Text columns keep text as given, but PostgreSQL's `text` cannot hold the character
//! U+0000: a value with one is refused by the database (`Backend` error), where SQLite
//! stores it.

mod accounts;
pub mod cluster;
mod copy;
mod erasure;
mod identity;
mod kb;
mod listen;
mod meta;
mod service;
pub mod split;
#[cfg(feature = "testing")]
pub mod testing;
mod triggers;

pub use copy::CopyReport;
pub use split::SplitStore;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::migrate::{render, Dialect, MIGRATIONS};
use touchpoint_store::{Result, StoreError, SuppressionList};

/// How to connect to PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections the pool keeps open.
    pub max_connections: u32,
    /// How long a query waits for a connection before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { max_connections: 10, acquire_timeout: Duration::from_secs(30) }
    }
}

/// The metadata store on PostgreSQL (see the crate documentation). Cheap to clone: clones
/// share the pool and what the store remembers of erasures.
#[derive(Debug, Clone)]
pub struct PgMetaStore {
    pool: PgPool,
    /// What identity changes are checked against; held while a commit writes them, so
    /// this handle's commits of identity changes never overlap.
    admission: Arc<tokio::sync::Mutex<Admission>>,
    /// Erasures committed through this handle ([`touchpoint_store::Store::erasures`]).
    erasures: Arc<AtomicU64>,
    /// Trait keys whose expression index this handle has seen made (indexes are never
    /// dropped, so a key found once is not asked about again; one not found is asked at
    /// each search, as another node may make it).
    trait_indexes: Arc<std::sync::Mutex<HashSet<String>>>,
}

/// What [`touchpoint_store::erasure::admitted_identity`] needs: the customers this handle
/// erased and the projects' suppression lists, cached until `suppression_version` changes.
#[derive(Debug)]
struct Admission {
    /// Customers erased through this handle: identity changes naming them are dropped.
    erased: HashSet<CustomerId>,
    /// Suppression lists read at `version`.
    lists: HashMap<ProjectId, Arc<SuppressionList>>,
    /// The database's `suppression_version` the lists were read at (-1: none read).
    version: i64,
}

/// Turn a driver error into a [`StoreError`]: a unique violation is `Exists`, a missing
/// row `NotFound`, a value that cannot be read `Corrupt`, anything else `Backend` (in
/// words).
pub fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Exists(d.constraint().map_or_else(|| "a unique value".to_string(), str::to_string))
        }
        sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
        e @ (sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_)) => {
            StoreError::Corrupt(e.to_string())
        }
        e => StoreError::Backend(e.to_string()),
    }
}

/// `.db()`: a driver result as a store result ([`store_error`]).
pub(crate) trait Db<T> {
    /// The result with its error mapped.
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(store_error)
    }
}

/// A row limit as SQL takes it (`usize::MAX`: no limit).
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The advisory lock migrations run under (any fixed number; "touchpoi").
const MIGRATION_LOCK: i64 = 0x746f_7563_6870_6f69;
/// The first half of the two-part advisory locks [`PgMetaStore::try_hold_lock`] takes
/// ("tpnl"); the second is the hash of the lock's name.
const NAMED_LOCKS: i32 = 0x7470_6e6c;

/// An advisory lock held on a connection of its own ([`PgMetaStore::try_hold_lock`]);
/// dropping it closes the connection, which releases the lock. While it is held, its
/// session answers a statement every [`KEEP_TALKING`], so that a session silent for much
/// longer means its process does not run ([`PgMetaStore::end_silent_holder`]).
#[derive(Debug)]
pub struct HeldLock {
    conn: Arc<tokio::sync::Mutex<sqlx::PgConnection>>,
}

/// How often a held lock's session is asked something.
pub const KEEP_TALKING: Duration = Duration::from_secs(1);

impl HeldLock {
    /// Hold the lock taken on `conn`, and keep its session talking until it is dropped
    /// (or its session does not answer).
    fn new(conn: sqlx::PgConnection) -> HeldLock {
        let conn = Arc::new(tokio::sync::Mutex::new(conn));
        let probe = LockProbe(Arc::downgrade(&conn));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEP_TALKING).await;
                if !probe.held(FENCE_PATIENCE).await {
                    return;
                }
            }
        });
        HeldLock { conn }
    }

    /// A handle that tells whether the lock is still held, to keep after the lock itself
    /// has been handed to a store.
    pub fn probe(&self) -> LockProbe {
        LockProbe(Arc::downgrade(&self.conn))
    }
}

#[async_trait::async_trait]
impl touchpoint_store::Fence for HeldLock {
    async fn held(&self) -> bool {
        self.probe().held(FENCE_PATIENCE).await
    }
}

/// How long a writer waits for its lock's session to answer before it takes the lock as
/// lost.
pub const FENCE_PATIENCE: Duration = Duration::from_secs(2);

/// Tells whether a [`HeldLock`] is still held: the session that took it still answers
/// (PostgreSQL drops a session's advisory locks only when the session ends — the server
/// restarted, the connection was cut or terminated).
#[derive(Debug, Clone)]
pub struct LockProbe(std::sync::Weak<tokio::sync::Mutex<sqlx::PgConnection>>);

impl LockProbe {
    /// Whether the lock is held: its session answers within `patience`. `false` once the
    /// lock was dropped, and when the session is gone or does not answer — another node
    /// may take the lock then, so its holder must stop acting on it.
    pub async fn held(&self, patience: std::time::Duration) -> bool {
        let Some(conn) = self.0.upgrade() else { return false };
        let ask = async {
            let mut conn = conn.lock().await;
            sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok()
        };
        tokio::time::timeout(patience, ask).await.unwrap_or(false)
    }
}

impl PgMetaStore {
    /// Connect to a database (`postgres://user:password@host:port/database`) and bring its
    /// schema up to date.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<PgMetaStore> {
        let connect = PgConnectOptions::from_str(url).db()?.application_name("touchpoint");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .db()?;
        migrate(&pool).await?;
        Ok(PgMetaStore {
            pool,
            admission: Arc::new(tokio::sync::Mutex::new(Admission {
                erased: HashSet::new(),
                lists: HashMap::new(),
                version: -1,
            })),
            erasures: Default::default(),
            trait_indexes: Default::default(),
        })
    }

    /// The pool, for tests that look at the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many erasures this handle has committed ([`touchpoint_store::Store::erasures`]).
    pub fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::SeqCst)
    }

    /// Take the session-level advisory lock named `name` on a connection of its own,
    /// held until the returned [`HeldLock`] is dropped (or the process ends: the server
    /// drops a closed session's locks); `None` when another session holds it. What keeps a
    /// second node from writing to the same ClickHouse database.
    pub async fn try_hold_lock(&self, name: &str) -> Result<Option<HeldLock>> {
        let mut conn = self.pool.acquire().await.db()?.detach();
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(NAMED_LOCKS)
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .db()?;
        Ok(held.then(|| HeldLock::new(conn)))
    }

    /// Whether no session holds the lock named `name` now: a node's way to see that the
    /// node holding it is gone. Only reads `pg_locks`, so it never holds the lock itself,
    /// also when the question is abandoned half-way.
    pub async fn lock_is_free(&self, name: &str) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = $1::oid AND objid = hashtext($2)::oid AND objsubid = 2)",
        )
        .bind(NAMED_LOCKS)
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .db()
    }

    /// End the session holding the lock named `name` when it has been silent for
    /// `silent` or longer (no statement begun or ended on it), and say whether one was
    /// ended. A held lock's session answers a statement every [`KEEP_TALKING`]
    /// ([`HeldLock`]), so a session silent much longer belongs to a process that
    /// is alive but not running (stopped, frozen, its machine suspended): its TCP
    /// connection does not break, and without this its lock would never be let go. Once
    /// its session ends, that process refuses to write when it runs again (its fence asks
    /// the session) and steps down. The nodes must connect as one PostgreSQL role (or as
    /// roles allowed to signal each other, `pg_signal_backend`).
    pub async fn end_silent_holder(&self, name: &str, silent: Duration) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT coalesce(bool_or(pg_terminate_backend(a.pid)), false)
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid = $1::oid AND l.objid = hashtext($2)::oid AND l.objsubid = 2
                AND a.state IS DISTINCT FROM 'active'
                AND coalesce(a.state_change, a.backend_start) < clock_timestamp() - make_interval(secs => $3)",
        )
        .bind(NAMED_LOCKS)
        .bind(name)
        .bind(silent.as_secs_f64())
        .fetch_one(&self.pool)
        .await
        .db()
    }

    /// Close the pool (its connections end once they are returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Bring the database's schema up to date: every migration not applied yet, each in a
/// transaction of its own, under an advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await.db()?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await.db()?;
    let done = migrate_locked(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await;
    done?;
    unlocked.db()?;
    Ok(())
}

async fn migrate_locked(conn: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .db()?;
    let done: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await.db()?;
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await.db()?;
        sqlx::raw_sql(&render(sql, Dialect::Postgres)).execute(&mut *tx).await.db()?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(name)
            .bind(touchpoint_store::now_ms())
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        // A new database's schema is made, not upgraded: nothing to note for a person.
        if done.is_empty() {
            tracing::debug!(version, name, "applied migration (PostgreSQL)");
        } else {
            tracing::info!(version, name, "applied migration (PostgreSQL)");
        }
    }
    Ok(())
}
