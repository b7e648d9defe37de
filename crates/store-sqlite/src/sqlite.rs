//! The embedded backend: every table in one SQLite file (`touchpoint.db`) in the data
//! directory, in WAL mode. With `durable` on, each commit is fsynced before it returns, so
//! an acknowledged event survives a power cut; with it off, it survives a crash of the
//! process (`kill -9`) but maybe not of the machine.
//!
//! A process that writes events holds an exclusive lock on `touchpoint.lock` in the data
//! directory: the single writer keeps the identity graph in memory, so two of them on one
//! file would stitch customers inconsistently. Administration (projects, keys) and reading
//! need no lock and work beside a running server — except erasing a customer, which
//! changes what the running writer holds in memory: a shared handle takes the lock for it,
//! and is refused while a writer runs.
//!
//! Every connection runs with `secure_delete = ON`: removed rows and freed pages are
//! overwritten with zeros (erasure, [`touchpoint_store::erasure`], also rebuilds the file).

use crate::error::Db;
use crate::sqlite_erasure::{self, count_refused_raw, state, CUSTOMER_ID_FLOOR};
use crate::sqlite_events::{append_raw, convert_row_events, prepare_segments, Appender, PreparedSegments};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use touchpoint_core::catalog::{Catalog, Condition};
use touchpoint_core::{
    Channel, CustomerId, EventType, IdentityGraph, IdentityKind, IdentityOp, KeyKind, Localized, ProjectId, Rule,
    Touchpoint, TouchpointKind,
};
use touchpoint_store::erasure::{
    ErasureReceipt, MetaErasure, PurgeReport, Subject, SuppressionList, SuppressionStats, TraitPatches,
};
use touchpoint_store::{
    now_ms, Brand, CommitBatch, Conflict, Customer, EventHalf, Identity, KeyInfo, MetaStore, Prepared, Project, Result,
    Store, StoreError, StoredTouchpoint,
};

/// The database file in a data directory.
pub const DB_FILE: &str = "touchpoint.db";
/// The lock file a writing process holds in a data directory.
pub const LOCK_FILE: &str = "touchpoint.lock";

/// How to open the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// This process will write events: take the directory's exclusive lock.
    Writer,
    /// Read and administer only, beside a running writer.
    Shared,
}

/// Options of the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// fsync every commit (`synchronous = FULL`); off means `NORMAL`.
    pub durable: bool,
    /// SQLite page cache, in MiB.
    pub cache_mib: i64,
    /// How many of each project's most recent events dedup remembers (`None`: every
    /// stored event). See the guarantee in `sqlite_events`.
    pub dedup_window: Option<usize>,
}

/// The server's dedup window: the last 2 M events of each project (≤ 4 M hashes,
/// about 70–140 MB).
pub const DEFAULT_DEDUP_WINDOW: usize = 2_000_000;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { durable: true, cache_mib: 256, dedup_window: Some(DEFAULT_DEDUP_WINDOW) }
    }
}

/// The embedded store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The outbox's connections (`TriggerStore`): the same file with `synchronous=NORMAL`.
    /// In WAL mode a commit there is safe from a process crash but waits for no fsync;
    /// after a power cut the last decisions are made again (their cursor went back with
    /// them) and the last deliveries sent again under their ids — at least once still
    /// holds, and the outbox's writes do not each hold the file's write lock for an fsync
    /// while ingest waits for it.
    pub(crate) outbox: SqlitePool,
    path: PathBuf,
    /// Held for the life of the store in writer mode.
    _lock: Option<std::sync::Arc<std::fs::File>>,
    /// What appending events needs to know (the dedup set); held while events are written,
    /// so writes of one process to the event segments never overlap.
    pub(crate) appender: std::sync::Arc<tokio::sync::Mutex<Appender>>,
    /// Erasures committed through this handle ([`Store::erasures`]).
    pub(crate) erasures: std::sync::Arc<AtomicU64>,
}

impl SqliteStore {
    /// Whether `dir` holds an embedded store (commands that only read or add to a store
    /// ask first, so a mistyped directory is not silently made into an empty store).
    pub fn exists(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    /// Open (creating if needed) the store in a data directory and bring its schema up to date.
    pub async fn open(dir: &Path, mode: OpenMode, opts: &SqliteOptions) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        let lock = if mode == OpenMode::Writer {
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
            f.try_lock().map_err(|_| {
                StoreError::Locked(format!(
                    "the data directory {} is in use by another touchpoint process (serve, demo or import); stop it first",
                    dir.display()
                ))
            })?;
            Some(std::sync::Arc::new(f))
        } else {
            None
        };
        let path = dir.join(DB_FILE);
        let connect = SqliteConnectOptions::from_str("sqlite:")
            .db()?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if opts.durable { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .busy_timeout(std::time::Duration::from_secs(30))
            .pragma("cache_size", format!("-{}", opts.cache_mib * 1024))
            // New files only (a page size cannot change in WAL mode). Event rows are a few
            // hundred bytes; with 16 KiB pages the import ran about 15 % faster than with 4 KiB.
            .page_size(16_384)
            .pragma("temp_store", "memory")
            // Removed rows and freed pages are overwritten with zeros (see touchpoint_store::erasure).
            .pragma("secure_delete", "ON")
            .foreign_keys(false);
        // An in-process database does not go away under us: no ping before each use.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await
            .db()?;
        let outbox = SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .test_before_acquire(false)
            .connect_lazy_with(connect.synchronous(SqliteSynchronous::Normal));
        crate::migrate::run_sqlite(&pool).await?;
        convert_row_events(&pool).await?;
        let appender = Appender::new(opts.dedup_window);
        let store = SqliteStore {
            pool,
            outbox,
            path,
            _lock: lock,
            appender: std::sync::Arc::new(appender.into()),
            erasures: Default::default(),
        };
        if mode == OpenMode::Writer {
            // An erasure cut short (a crash) may have left removed data in the files.
            if sqlite_erasure::purge_pending(&store).await? {
                let report = sqlite_erasure::purge_erased(&store).await?;
                tracing::warn!(purged = report.purged, steps = ?report.steps, "finished the purge of an erasure");
            }
            // Remember the newest events now, so the first write after a restart does not
            // wait for them.
            let mut appender = store.appender.lock().await;
            let mut conn = store.pool.acquire().await.db()?;
            with_raw(&mut conn, |c| appender.catch_up(c)).await?;
        }
        Ok(store)
    }

    /// How many messageId hashes dedup remembers for a project now (for tests and
    /// benchmarks of the dedup window).
    pub async fn remembered(&self, project: ProjectId) -> usize {
        self.appender.lock().await.seen.get(&project).map_or(0, |r| r.len())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pool, for tests that look at the file directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// For an erasure by a shared handle: the data directory's lock, so that no writer
    /// runs (its identity graph would still hold the erased customer) or starts meanwhile;
    /// `None` for a writer's handle, which holds it already. A store that keeps its events
    /// here and its metadata elsewhere takes it for its erasures too.
    pub fn erasure_lock(&self) -> Result<Option<std::fs::File>> {
        if self._lock.is_some() {
            return Ok(None);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
        f.try_lock().map_err(|_| {
            StoreError::Locked(format!(
                "the data directory {} is in use by another touchpoint process; erase through it, or stop it first",
                dir.display()
            ))
        })?;
        Ok(Some(f))
    }
}

/// [`touchpoint_store::erasure::admitted_identity`] on the lists of this file and the customers this
/// handle erased.
fn admitted_identity<'a>(
    appender: &mut Appender,
    c: &rusqlite::Connection,
    ops: &'a [IdentityOp],
    traits: &'a TraitPatches,
) -> Result<(Cow<'a, [IdentityOp]>, Cow<'a, TraitPatches>)> {
    appender.refresh_suppression(c)?;
    let mut lists = std::collections::HashMap::new();
    for project in touchpoint_store::erasure::identity_projects(ops) {
        lists.insert(project, appender.cached_suppression(c, project)?);
    }
    let suppressed = |project: ProjectId, value: &str| lists.get(&project).is_some_and(|l| l.contains(value));
    Ok(touchpoint_store::erasure::admitted_identity(ops, traits, suppressed, &appender.erased))
}

fn project_row(r: &SqliteRow) -> Result<Project> {
    let stages: String = r.try_get("stages").db()?;
    Ok(Project {
        id: r.try_get("id").db()?,
        name: r.try_get("name").db()?,
        timezone: r.try_get("timezone").db()?,
        churn_horizon_days: r.try_get("churn_horizon_days").db()?,
        stages: serde_json::from_str(&stages).map_err(|e| StoreError::Corrupt(format!("stages: {e}")))?,
        created_ms: r.try_get("created_ms").db()?,
        brand: Brand {
            brand_name: r.try_get("brand_name").db()?,
            brand_color: r.try_get("brand_color").db()?,
            brand_logo_url: r.try_get("brand_logo_url").db()?,
            privacy_url: r.try_get("privacy_url").db()?,
            default_lang: r.try_get("default_lang").db()?,
            site_origins: r.try_get("site_origins").db()?,
        },
    })
}

/// A conflict from `id, customer_id, other_customer_id, identity, detail, created_ms`.
pub(crate) fn conflict_row(r: &SqliteRow) -> Result<Conflict> {
    Ok(Conflict {
        id: r.try_get(0).db()?,
        customer_id: r.try_get(1).db()?,
        other_customer_id: r.try_get(2).db()?,
        identity: r.try_get(3).db()?,
        detail: r.try_get(4).db()?,
        created_ms: r.try_get(5).db()?,
    })
}

fn touchpoint_row(r: &SqliteRow) -> Result<StoredTouchpoint> {
    let channel: String = r.try_get("channel").db()?;
    let kind: String = r.try_get("kind").db()?;
    Ok(StoredTouchpoint {
        id: r.try_get("id").db()?,
        touchpoint: Touchpoint {
            key: r.try_get("key").db()?,
            names: Localized {
                en: r.try_get("name_en").db()?,
                cs: r.try_get("name_cs").db()?,
                pl: r.try_get("name_pl").db()?,
            },
            channel: Channel::parse(&channel).unwrap_or(Channel::Other),
            kind: TouchpointKind::parse(&kind).unwrap_or(TouchpointKind::Direct),
            stage: r.try_get("stage").db()?,
            department: r.try_get("department").db()?,
            conversion: r.try_get("conversion").db()?,
            churn: r.try_get("churn").db()?,
            discovered: r.try_get("discovered").db()?,
        },
    })
}

fn rule_row(r: &SqliteRow) -> Result<Rule> {
    let conditions: String = r.try_get("conditions").db()?;
    let event_type: Option<String> = r.try_get("event_type").db()?;
    Ok(Rule {
        id: r.try_get("id").db()?,
        priority: r.try_get::<i64, _>("priority").db()? as i32,
        touchpoint: r.try_get("touchpoint_key").db()?,
        event_type: event_type.as_deref().and_then(EventType::parse),
        event_name: r.try_get("event_name").db()?,
        conditions: serde_json::from_str::<Vec<Condition>>(&conditions)
            .map_err(|e| StoreError::Corrupt(format!("rule conditions: {e}")))?,
    })
}

pub(crate) fn customer_row(r: &SqliteRow) -> Result<Customer> {
    let traits: String = r.try_get("traits").db()?;
    Ok(Customer {
        id: r.try_get("id").db()?,
        project_id: r.try_get("project_id").db()?,
        user_id: r.try_get("user_id").db()?,
        merged_into: r.try_get("merged_into").db()?,
        traits: serde_json::from_str(&traits).unwrap_or_default(),
        created_ms: r.try_get("created_ms").db()?,
    })
}

async fn insert_touchpoint(c: &mut SqliteConnection, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO touchpoints (project_id, key, name_en, name_cs, name_pl, channel, kind, stage, department,
             conversion, churn, discovered, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project_id, key) DO UPDATE SET name_en = excluded.name_en, name_cs = excluded.name_cs,
             name_pl = excluded.name_pl, channel = excluded.channel, kind = excluded.kind, stage = excluded.stage,
             department = excluded.department, conversion = excluded.conversion, churn = excluded.churn,
             discovered = excluded.discovered
         RETURNING id",
    )
    .bind(project)
    .bind(&tp.key)
    .bind(&tp.names.en)
    .bind(&tp.names.cs)
    .bind(&tp.names.pl)
    .bind(tp.channel.as_str())
    .bind(tp.kind.as_str())
    .bind(&tp.stage)
    .bind(&tp.department)
    .bind(tp.conversion)
    .bind(tp.churn)
    .bind(tp.discovered)
    .bind(now_ms())
    .fetch_one(&mut *c)
    .await
    .db()?;
    Ok(id)
}

async fn insert_rule(c: &mut SqliteConnection, project: ProjectId, rule: &Rule) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO rules (project_id, priority, touchpoint_key, event_type, event_name, conditions, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(project)
    .bind(rule.priority)
    .bind(&rule.touchpoint)
    .bind(rule.event_type.map(|t| t.as_str()))
    .bind(&rule.event_name)
    .bind(serde_json::to_string(&rule.conditions).expect("conditions serialize"))
    .bind(now_ms())
    .fetch_one(&mut *c)
    .await
    .db()?;
    Ok(id)
}

/// Run `f` on the connection's own SQLite handle through rusqlite, inside whatever
/// transaction the sqlx connection has open. The write path goes this way: one prepared
/// single-row statement per table, bound straight from borrowed values, instead of sqlx's
/// owned argument buffers and its hand-off to a worker thread.
pub(crate) async fn with_raw<T>(
    c: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
) -> Result<T> {
    let mut handle = c.lock_handle().await.db()?;
    // SAFETY: the handle stays locked (no other use of the connection) until `handle` is
    // dropped at the end of this function. `from_handle` does not take ownership: dropping
    // `conn` finalizes its cached statements and leaves the database handle open.
    let conn = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }.db()?;
    let r = f(&conn);
    drop(conn);
    r
}

fn apply_identity_raw(
    c: &rusqlite::Connection,
    ops: &[IdentityOp],
    traits: &[(CustomerId, Map<String, Value>)],
) -> rusqlite::Result<()> {
    let now = now_ms();
    // New customers and identities go first: the updates below refer to them.
    let mut customer = c.prepare_cached(
        "INSERT INTO customers (id, project_id, user_id, merged_into, traits, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, NULL, '{}', ?4, ?4)",
    )?;
    let mut identity = c.prepare_cached(
        "INSERT INTO identities (project_id, kind, value, customer_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (project_id, kind, value) DO UPDATE SET customer_id = excluded.customer_id",
    )?;
    for op in ops {
        if let IdentityOp::NewCustomer { id, project, user_id } = op {
            customer.execute(rusqlite::params![id, project, user_id, now])?;
        }
    }
    for op in ops {
        if let IdentityOp::AddIdentity { project, kind, value, customer } = op {
            identity.execute(rusqlite::params![project, kind.as_str(), value, customer, now])?;
        }
    }
    for op in ops {
        match op {
            IdentityOp::NewCustomer { .. } | IdentityOp::AddIdentity { .. } => {}
            IdentityOp::SetUserId { customer, user_id } => {
                c.prepare_cached("UPDATE customers SET user_id = ?1, updated_ms = ?2 WHERE id = ?3")?
                    .execute(rusqlite::params![user_id, now, customer])?;
            }
            IdentityOp::Merge { from, into } => {
                c.prepare_cached(
                    "UPDATE customers SET merged_into = ?1, updated_ms = ?2 WHERE id = ?3 OR merged_into = ?3",
                )?
                .execute(rusqlite::params![into, now, from])?;
                // Traits of the anonymous customer carry over where the known one has none.
                c.prepare_cached(
                    "UPDATE customers SET traits = json_patch((SELECT traits FROM customers WHERE id = ?1), traits)
                     WHERE id = ?2",
                )?
                .execute(rusqlite::params![from, into])?;
            }
            IdentityOp::Conflict { project, customer, other, identity, detail } => {
                c.prepare_cached(
                    "INSERT INTO identity_conflicts (project_id, customer_id, other_customer_id, identity, detail, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(rusqlite::params![project, customer, other, identity, detail, now])?;
            }
        }
    }
    let mut patch_traits =
        c.prepare_cached("UPDATE customers SET traits = json_patch(traits, ?1), updated_ms = ?2 WHERE id = ?3")?;
    for (customer, patch) in traits {
        let patch = serde_json::to_string(patch).unwrap_or_else(|_| "{}".into());
        patch_traits.execute(rusqlite::params![patch, now, customer])?;
    }
    Ok(())
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn create_project(&self, name: &str, catalog: &Catalog) -> Result<Project> {
        let mut tx = crate::error::begin(&self.pool).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM projects WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
        if exists.is_some() {
            return Err(StoreError::Exists(format!("project {name:?}")));
        }
        let now = now_ms();
        let id: i64 =
            sqlx::query_scalar("INSERT INTO projects (name, stages, created_ms) VALUES (?, ?, ?) RETURNING id")
                .bind(name)
                .bind(serde_json::to_string(&catalog.stages).expect("stages serialize"))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .db()?;
        for tp in &catalog.touchpoints {
            insert_touchpoint(&mut tx, id, tp).await?;
        }
        for r in &catalog.rules {
            insert_rule(&mut tx, id, r).await?;
        }
        tx.commit().await.db()?;
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query("SELECT * FROM projects ORDER BY id").fetch_all(&self.pool).await.db()?;
        rows.iter().map(project_row).collect()
    }

    async fn project(&self, id: ProjectId) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = ?").bind(id).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(project_row).transpose()
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        let row =
            sqlx::query("SELECT * FROM projects WHERE name = ?").bind(name).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(project_row).transpose()
    }

    async fn update_project(&self, id: ProjectId, timezone: &str, churn_horizon_days: i64) -> Result<Project> {
        let done = sqlx::query("UPDATE projects SET timezone = ?, churn_horizon_days = ? WHERE id = ?")
            .bind(timezone)
            .bind(churn_horizon_days)
            .bind(id)
            .execute(&self.pool)
            .await
            .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project {id}")));
        }
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn set_project_brand(&self, id: ProjectId, brand: &Brand) -> Result<Project> {
        let done = sqlx::query(
            "UPDATE projects SET brand_name = ?, brand_color = ?, brand_logo_url = ?, privacy_url = ?, default_lang = ?, \
             site_origins = ? WHERE id = ?",
        )
        .bind(&brand.brand_name)
        .bind(&brand.brand_color)
        .bind(&brand.brand_logo_url)
        .bind(&brand.privacy_url)
        .bind(&brand.default_lang)
        .bind(&brand.site_origins)
        .bind(id)
        .execute(&self.pool)
        .await.db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project {id}")));
        }
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn create_key(&self, project: ProjectId, kind: KeyKind, token_hash: &str, prefix: &str) -> Result<KeyInfo> {
        self.accounts().create_key(project, kind, token_hash, prefix).await
    }

    async fn key_by_hash(&self, token_hash: &str) -> Result<Option<KeyInfo>> {
        self.accounts().key_by_hash(token_hash).await
    }

    async fn keys(&self, project: ProjectId) -> Result<Vec<KeyInfo>> {
        self.accounts().keys(project).await
    }

    async fn revoke_key(&self, project: ProjectId, id: i64, at_ms: i64) -> Result<touchpoint_store::Revoked> {
        self.accounts().revoke_key(project, id, at_ms).await
    }

    async fn touchpoints(&self, project: ProjectId) -> Result<Vec<StoredTouchpoint>> {
        let rows = sqlx::query("SELECT * FROM touchpoints WHERE project_id = ? ORDER BY id")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(touchpoint_row).collect()
    }

    async fn upsert_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        let mut c = self.pool.acquire().await.db()?;
        insert_touchpoint(&mut c, project, tp).await
    }

    async fn ensure_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM touchpoints WHERE project_id = ? AND key = ?")
            .bind(project)
            .bind(&tp.key)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        match existing {
            Some(id) => Ok(id),
            None => self.upsert_touchpoint(project, tp).await,
        }
    }

    async fn rules(&self, project: ProjectId) -> Result<Vec<Rule>> {
        let rows = sqlx::query("SELECT * FROM rules WHERE project_id = ? ORDER BY priority, id")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(rule_row).collect()
    }

    async fn add_rule(&self, project: ProjectId, rule: &Rule) -> Result<Rule> {
        let mut c = self.pool.acquire().await.db()?;
        let id = insert_rule(&mut c, project, rule).await?;
        Ok(Rule { id, ..rule.clone() })
    }

    async fn update_rule(&self, project: ProjectId, rule: &Rule) -> Result<()> {
        let n = sqlx::query(
            "UPDATE rules SET priority = ?, touchpoint_key = ?, event_type = ?, event_name = ?, conditions = ?
             WHERE id = ? AND project_id = ?",
        )
        .bind(rule.priority)
        .bind(&rule.touchpoint)
        .bind(rule.event_type.map(|t| t.as_str()))
        .bind(&rule.event_name)
        .bind(serde_json::to_string(&rule.conditions).expect("conditions serialize"))
        .bind(rule.id)
        .bind(project)
        .execute(&self.pool)
        .await
        .db()?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("rule {}", rule.id)));
        }
        Ok(())
    }

    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM rules WHERE id = ? AND project_id = ?")
            .bind(id)
            .bind(project)
            .execute(&self.pool)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("rule {id}")));
        }
        Ok(())
    }

    async fn apply_identity(&self, ops: &[IdentityOp], traits: &[(CustomerId, Map<String, Value>)]) -> Result<()> {
        let mut appender = self.appender.lock().await;
        let mut tx = crate::error::begin(&self.pool).await?;
        with_raw(&mut tx, |c| {
            let (ops, traits) = admitted_identity(&mut appender, c, ops, traits)?;
            apply_identity_raw(c, &ops, &traits).db()
        })
        .await?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn load_identity_graph(&self) -> Result<IdentityGraph> {
        // Millions of rows at start-up: read on SQLite's own handle, without sqlx's
        // per-row hand-over (3.1 M identities took ~9 s through sqlx).
        let mut conn = self.pool.acquire().await.db()?;
        with_raw(&mut conn, |c| {
            let mut g = IdentityGraph::new();
            let mut st = c.prepare("SELECT id, user_id, merged_into FROM customers").db()?;
            let mut rows = st.query([]).db()?;
            let mut highest = 0;
            while let Some(r) = rows.next().db()? {
                let id: CustomerId = r.get(0).db()?;
                highest = highest.max(id);
                g.load_customer(id, r.get(1).db()?, r.get(2).db()?);
            }
            drop(rows);
            // Erased ids are never given out again: a customer without identities, events
            // or row holds the highest one, so the graph numbers new customers above it.
            let floor = state(c, CUSTOMER_ID_FLOOR)?;
            if floor > highest {
                g.load_customer(floor, None, None);
            }
            let mut st = c.prepare("SELECT project_id, kind, value, customer_id FROM identities").db()?;
            let mut rows = st.query([]).db()?;
            while let Some(r) = rows.next().db()? {
                let kind =
                    r.get_ref(1).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("identity kind: {e}")))?;
                let kind =
                    IdentityKind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?;
                g.load_identity(r.get(0).db()?, kind, r.get(2).db()?, r.get(3).db()?);
            }
            Ok(g)
        })
        .await
    }

    async fn find_identity(&self, project: ProjectId, kind: IdentityKind, value: &str) -> Result<Option<CustomerId>> {
        Ok(sqlx::query_scalar("SELECT customer_id FROM identities WHERE project_id = ? AND kind = ? AND value = ?")
            .bind(project)
            .bind(kind.as_str())
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>> {
        let row = sqlx::query("SELECT * FROM customers WHERE id = ?").bind(id).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(customer_row).transpose()
    }

    async fn customers(&self, project: ProjectId, after_id: i64, limit: usize) -> Result<Vec<Customer>> {
        let rows = sqlx::query(
            "SELECT * FROM customers WHERE project_id = ? AND merged_into IS NULL AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(project)
        .bind(after_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(customer_row).collect()
    }

    async fn merged_customers(&self, project: ProjectId) -> Result<Vec<(CustomerId, CustomerId)>> {
        Ok(sqlx::query_as("SELECT id, merged_into FROM customers WHERE project_id = ? AND merged_into IS NOT NULL")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .db()?)
    }

    async fn trait_values(&self, project: ProjectId, key: &str) -> Result<Vec<(CustomerId, String)>> {
        // SQLite's JSON paths end at a NUL: a trait whose name has one cannot be read, so
        // no customer has a value for it.
        if key.contains('\0') {
            return Ok(vec![]);
        }
        let path = format!("$.\"{}\"", key.replace('"', "\\\""));
        Ok(sqlx::query_as(
            "SELECT id, CAST(json_extract(traits, ?) AS TEXT) FROM customers
             WHERE project_id = ? AND merged_into IS NULL AND json_extract(traits, ?) IS NOT NULL",
        )
        .bind(&path)
        .bind(project)
        .bind(&path)
        .fetch_all(&self.pool)
        .await
        .db()?)
    }

    async fn customers_with_trait(
        &self,
        project: ProjectId,
        key: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<(CustomerId, String)>> {
        // A key that can have an index is compared in SQL by the index's expression,
        // through the index when there is one, else by reading the project's customers
        // inside SQLite (only the matches come out); any other key, in Rust.
        if !touchpoint_store::migrate::indexable_trait(key) {
            let mut found = touchpoint_store::matching_trait_values(self.trait_values(project, key).await?, value);
            found.truncate(limit);
            return Ok(found);
        }
        let sql = crate::migrate::trait_search_sql(key);
        Ok(sqlx::query_as(&sql)
            .bind(project)
            .bind(crate::migrate::trait_prefilter(value))
            .bind(value.trim())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .db()?)
    }

    async fn index_traits(&self, keys: &[String]) -> Result<()> {
        touchpoint_store::check_trait_keys(keys)?;
        for key in keys {
            let sql = touchpoint_store::migrate::trait_index_sql(touchpoint_store::migrate::Dialect::Sqlite, key);
            sqlx::query(&sql).execute(&self.pool).await.db()?;
        }
        Ok(())
    }

    async fn merged_ids(&self, id: CustomerId) -> Result<Vec<CustomerId>> {
        Ok(sqlx::query_scalar("SELECT id FROM customers WHERE id = ? OR merged_into = ? ORDER BY id")
            .bind(id)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .db()?)
    }

    async fn identities(&self, id: CustomerId) -> Result<Vec<Identity>> {
        let rows = sqlx::query(
            "SELECT kind, value, customer_id FROM identities WHERE customer_id IN
                 (SELECT id FROM customers WHERE id = ? OR merged_into = ?) ORDER BY kind DESC, created_ms, value",
        )
        .bind(id)
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0).db()?;
                Ok(Identity {
                    kind: IdentityKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?,
                    value: r.try_get(1).db()?,
                    customer_id: r.try_get(2).db()?,
                })
            })
            .collect()
    }

    async fn subject_customers(&self, subject: &Subject) -> Result<Vec<Customer>> {
        sqlite_erasure::subject_customers(self, subject).await
    }

    async fn subject_identities(&self, subject: &Subject) -> Result<Vec<Identity>> {
        sqlite_erasure::subject_identities(self, subject).await
    }

    async fn subject_conflicts(&self, subject: &Subject) -> Result<Vec<Conflict>> {
        sqlite_erasure::subject_conflicts(self, subject).await
    }

    async fn erase_subject_meta(&self, subject: &Subject) -> Result<MetaErasure> {
        sqlite_erasure::erase_subject_meta(self, subject).await
    }

    async fn suppress(&self, project: ProjectId, values: &[String]) -> Result<u64> {
        sqlite_erasure::suppress(self, project, values).await
    }

    async fn suppression_list(&self, project: ProjectId) -> Result<SuppressionList> {
        sqlite_erasure::suppression_list(self, project).await
    }

    async fn suppression_stats(&self, project: ProjectId) -> Result<SuppressionStats> {
        sqlite_erasure::suppression_stats(self, project).await
    }

    async fn count_refused(&self, project: ProjectId, n: u64) -> Result<()> {
        sqlite_erasure::count_refused(self, project, n).await
    }

    async fn conflicts(&self, project: ProjectId, limit: usize) -> Result<Vec<Conflict>> {
        let rows = sqlx::query(
            "SELECT id, customer_id, other_customer_id, identity, detail, created_ms FROM identity_conflicts
             WHERE project_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(project)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(conflict_row).collect()
    }
}

impl SqliteStore {
    /// Only the event half of a group commit: its events and failed events (with what
    /// [`Store::prepare`] worked out for it), in one transaction, exactly as
    /// [`Store::commit`] writes them — without its identity changes, trait patches and
    /// refusal counts, for a store that keeps those in another database and commits them
    /// there first.
    pub async fn commit_events(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        self.commit_parts(batch, false).await
    }

    /// A group commit in one transaction, with its metadata half (`with_meta`) or without.
    async fn commit_parts(&self, batch: &CommitBatch, with_meta: bool) -> Result<Vec<Option<i64>>> {
        let mut appender = self.appender.lock().await;
        let mut conn = self.pool.acquire().await.db()?;
        appender
            .write(&mut conn, |c, a, pending| {
                if with_meta {
                    let (ops, traits) = admitted_identity(a, c, &batch.identity_ops, &batch.traits)?;
                    apply_identity_raw(c, &ops, &traits).db()?;
                    for &(project, n) in &batch.refused {
                        count_refused_raw(c, project, n)?;
                    }
                }
                let prepared = batch.prepared.as_ref().and_then(|p| p.0.downcast_ref::<PreparedSegments>());
                append_raw(c, a, pending, &batch.events, &batch.failed, prepared)
            })
            .await
    }

    /// Make a project's suppression list in this file a copy of one kept elsewhere: the
    /// same key and (at least) these hashes ([`touchpoint_store::erasure::SuppressionList`]). A
    /// store that keeps its metadata in another database keeps its list there and copies
    /// it here, so that this file's writes refuse the same events. A list here under
    /// another key is replaced.
    pub async fn adopt_suppression(&self, project: ProjectId, key: &[u8], hashes: &[[u8; 32]]) -> Result<()> {
        sqlite_erasure::adopt_suppression(self, project, key, hashes).await
    }
}

/// The embedded store as the event half of a store whose metadata is elsewhere.
#[async_trait]
impl EventHalf for SqliteStore {
    async fn commit_events(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        SqliteStore::commit_events(self, batch).await
    }

    fn prepare(&self, batch: &CommitBatch) -> Option<Prepared> {
        Store::prepare(self, batch)
    }

    async fn adopt_suppression(&self, project: ProjectId, key: &[u8], hashes: &[[u8; 32]]) -> Result<()> {
        SqliteStore::adopt_suppression(self, project, key, hashes).await
    }

    async fn refused_events(&self, project: ProjectId) -> Result<u64> {
        Ok(MetaStore::suppression_stats(self, project).await?.refused_events)
    }

    fn erasure_guard(&self) -> Result<Option<Box<dyn std::any::Any + Send>>> {
        Ok(self.erasure_lock()?.map(|f| Box::new(f) as Box<dyn std::any::Any + Send>))
    }

    async fn purge_erased(&self) -> Result<PurgeReport> {
        Store::purge_erased(self).await
    }

    fn erasures(&self) -> u64 {
        Store::erasures(self)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batch: &CommitBatch) -> Result<Vec<Option<i64>>> {
        self.commit_parts(batch, true).await
    }

    fn prepare(&self, batch: &CommitBatch) -> Option<Prepared> {
        Some(Prepared(Box::new(prepare_segments(&batch.events))))
    }

    async fn erase_customer(&self, id: CustomerId) -> Result<ErasureReceipt> {
        let _lock = self.erasure_lock()?;
        touchpoint_store::erasure::erase_customer(self, id).await
    }

    async fn purge_erased(&self) -> Result<PurgeReport> {
        sqlite_erasure::purge_erased(self).await
    }

    fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::SeqCst)
    }
}
