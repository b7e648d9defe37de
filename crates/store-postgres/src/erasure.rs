//! PostgreSQL's part of erasure ([`touchpoint_store::erasure`]): finding and removing a
//! subject's customers, identities, conflicts, invitations and responses, the suppression
//! list (keyed hashes, the same tables and numbers as the embedded store:
//! `suppression_version`, `customer_id_floor`, `purge_pending` in `erasure_state`), and
//! the purge.
//!
//! **The purge.** A deleted row stays in its table's pages until they are rewritten, and a
//! plain `VACUUM` only marks its space free. The purge rewrites every table an erasure
//! removes rows from (`VACUUM FULL`: a new file from the rows kept; the old one is
//! deleted) and asks for a checkpoint. `purge_pending` stays 1 until the rewrites
//! succeeded; [`crate::SplitStore::open`] finishes a pending purge.
//!
//! **Not covered** (besides what [`touchpoint_store::erasure`] lists): PostgreSQL's
//! write-ahead log, which holds the removed rows until the server recycles its segments
//! (a checkpoint lets it, and needs the `pg_checkpoint` role or a superuser: the purge
//! reports whether it ran), WAL archives, replicas' copies and point-in-time backups.
//! `VACUUM FULL` locks each table while it rewrites it: reads of customers wait meanwhile.

use crate::meta::{conflict_row, customer_row, identity_row, IDENTITY_ORDER};
use crate::{Db, PgMetaStore};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};
use std::sync::atomic::Ordering;
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::{
    suppression_hash, ListenErasure, MetaErasure, PurgeReport, Subject, SuppressionList, SuppressionStats,
};
use touchpoint_store::listen::{InvitationRow, ResponseRow};
use touchpoint_store::{now_ms, Conflict, Customer, Identity, Result, StoreError};

/// `erasure_state` names (the embedded store's).
pub(crate) const SUPPRESSION_VERSION: &str = "suppression_version";
pub(crate) const CUSTOMER_ID_FLOOR: &str = "customer_id_floor";
pub(crate) const PURGE_PENDING: &str = "purge_pending";

/// The tables an erasure removes rows from: what the purge rewrites.
const ERASED_TABLES: [&str; 7] =
    ["customers", "identities", "identity_conflicts", "invitations", "responses", "firings", "preferences"];

/// A number kept in `erasure_state` (0 when unset).
pub(crate) async fn state_in(c: &mut PgConnection, name: &str) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT value FROM erasure_state WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *c)
        .await
        .db()?;
    Ok(v.unwrap_or(0))
}

async fn set_state_in(c: &mut PgConnection, name: &str, value: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO erasure_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(name)
    .bind(value)
    .execute(&mut *c)
    .await
    .db()?;
    Ok(())
}

/// `id_col = ANY($1) OR (project_id = $2 AND value_col = ANY($3))`.
fn ids_or_values(id_col: &str, value_col: &str) -> String {
    format!("{id_col} = ANY($1) OR (project_id = $2 AND {value_col} = ANY($3))")
}

/// `project_id = $1 AND (customer_id = ANY($2) OR other_customer_id = ANY($2) OR identity = ANY($3))`.
const CONFLICTS_WHERE: &str =
    "project_id = $1 AND (customer_id = ANY($2) OR other_customer_id = ANY($2) OR identity = ANY($3))";

/// `sql` (with an [`ids_or_values`] clause) bound to the subject's customers, project and values.
fn by_ids_or_values<'q>(sql: &'q str, subject: &'q Subject) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql).bind(&subject.customers).bind(subject.project).bind(&subject.values)
}

/// `sql` (with [`CONFLICTS_WHERE`]) bound to the subject's project, customers and identities.
fn by_conflicts<'q>(sql: &'q str, subject: &'q Subject) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql).bind(subject.project).bind(&subject.customers).bind(subject.conflict_identities())
}

/// `sql` (with `$1` the project and `$2` the values) bound to the subject.
fn by_values<'q>(sql: &'q str, subject: &'q Subject) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql).bind(subject.project).bind(&subject.values)
}

/// `project_id = $1 AND (customer = ANY($2) OR invitation_id IN (those invitations))`.
const RESPONSES_WHERE: &str = "project_id = $1 AND (customer = ANY($2) OR invitation_id IN
     (SELECT id FROM invitations WHERE project_id = $1 AND customer = ANY($2)))";

pub(crate) async fn subject_customers(store: &PgMetaStore, subject: &Subject) -> Result<Vec<Customer>> {
    let sql = format!("SELECT * FROM customers WHERE {} ORDER BY id", ids_or_values("id", "user_id"));
    let rows = by_ids_or_values(&sql, subject).fetch_all(&store.pool).await.db()?;
    rows.iter().map(customer_row).collect()
}

pub(crate) async fn subject_identities(store: &PgMetaStore, subject: &Subject) -> Result<Vec<Identity>> {
    let sql = format!(
        "SELECT kind, value, customer_id FROM identities WHERE {} {IDENTITY_ORDER}",
        ids_or_values("customer_id", "value")
    );
    let rows = by_ids_or_values(&sql, subject).fetch_all(&store.pool).await.db()?;
    rows.iter().map(identity_row).collect()
}

pub(crate) async fn subject_conflicts(store: &PgMetaStore, subject: &Subject) -> Result<Vec<Conflict>> {
    let sql = format!(
        "SELECT id, customer_id, other_customer_id, identity, detail, created_ms FROM identity_conflicts
         WHERE {CONFLICTS_WHERE} ORDER BY id"
    );
    let rows = by_conflicts(&sql, subject).fetch_all(&store.pool).await.db()?;
    rows.iter().map(conflict_row).collect()
}

pub(crate) async fn erase_subject_meta(store: &PgMetaStore, subject: &Subject) -> Result<MetaErasure> {
    let rows = subject_customers(store, subject).await?;
    // Commits from now on drop identity changes of these customers.
    store.note_erased(subject.customers.iter().copied().chain(rows.iter().map(|r| r.id))).await;
    let mut tx = store.pool.begin().await.db()?;
    // Customers as they are inside the transaction.
    let cond = ids_or_values("id", "user_id");
    let found: Vec<(CustomerId, String)> =
        sqlx::query_as(&format!("SELECT id, traits FROM customers WHERE {cond} FOR UPDATE"))
            .bind(&subject.customers)
            .bind(subject.project)
            .bind(&subject.values)
            .fetch_all(&mut *tx)
            .await
            .db()?;
    let traits: u64 = found
        .iter()
        .map(|(_, t)| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t).map_or(0, |t| t.len()) as u64
        })
        .sum();
    let customers = by_ids_or_values(&format!("DELETE FROM customers WHERE {cond}"), subject)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
    let identities =
        by_ids_or_values(&format!("DELETE FROM identities WHERE {}", ids_or_values("customer_id", "value")), subject)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
    let conflicts = by_conflicts(&format!("DELETE FROM identity_conflicts WHERE {CONFLICTS_WHERE}"), subject)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
    let highest = found.iter().map(|f| f.0).chain(subject.customers.iter().copied()).max().unwrap_or(0);
    let floor = state_in(&mut tx, CUSTOMER_ID_FLOOR).await?.max(highest);
    set_state_in(&mut tx, CUSTOMER_ID_FLOOR, floor).await?;
    set_state_in(&mut tx, PURGE_PENDING, 1).await?;
    tx.commit().await.db()?;
    store.erasures.fetch_add(1, Ordering::SeqCst);
    Ok(MetaErasure { customers, identities, traits, conflicts })
}

pub(crate) async fn subject_invitations(store: &PgMetaStore, subject: &Subject) -> Result<Vec<InvitationRow>> {
    let rows = by_values("SELECT * FROM invitations WHERE project_id = $1 AND customer = ANY($2) ORDER BY id", subject)
        .fetch_all(&store.pool)
        .await
        .db()?;
    rows.iter().map(crate::listen::invitation_row).collect()
}

pub(crate) async fn subject_responses(store: &PgMetaStore, subject: &Subject) -> Result<Vec<ResponseRow>> {
    let rows = by_values(&format!("SELECT * FROM responses WHERE {RESPONSES_WHERE} ORDER BY id"), subject)
        .fetch_all(&store.pool)
        .await
        .db()?;
    rows.iter().map(crate::listen::response_row).collect()
}

pub(crate) async fn erase_subject_listen(store: &PgMetaStore, subject: &Subject) -> Result<ListenErasure> {
    let mut tx = store.pool.begin().await.db()?;
    let responses = by_values(&format!("DELETE FROM responses WHERE {RESPONSES_WHERE}"), subject)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
    let invitations = by_values("DELETE FROM invitations WHERE project_id = $1 AND customer = ANY($2)", subject)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
    set_state_in(&mut tx, PURGE_PENDING, 1).await?;
    tx.commit().await.db()?;
    Ok(ListenErasure { responses, invitations })
}

// ---------------------------------------------------------------------------------------
// Suppression

/// A project's suppression key and hashes, read inside whatever transaction `c` has open.
async fn suppression_entries_in(c: &mut PgConnection, project: ProjectId) -> Result<Option<(Vec<u8>, Vec<[u8; 32]>)>> {
    let key: Option<Vec<u8>> = sqlx::query_scalar("SELECT secret FROM suppression_keys WHERE project_id = $1")
        .bind(project)
        .fetch_optional(&mut *c)
        .await
        .db()?;
    let Some(key) = key else { return Ok(None) };
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM suppressed_ids WHERE project_id = $1")
        .bind(project)
        .fetch_all(&mut *c)
        .await
        .db()?;
    let hashes = rows
        .into_iter()
        .map(|h| <[u8; 32]>::try_from(h).map_err(|_| StoreError::Corrupt("suppressed id hash size".into())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((key, hashes)))
}

/// A project's suppression list, read inside whatever transaction `c` has open.
pub(crate) async fn suppression_list_in(c: &mut PgConnection, project: ProjectId) -> Result<SuppressionList> {
    Ok(match suppression_entries_in(c, project).await? {
        Some((key, hashes)) => SuppressionList::new(&key, hashes),
        None => SuppressionList::default(),
    })
}

/// Add `n` to a project's count of refused events, inside whatever transaction `c` has open.
pub(crate) async fn count_refused_in(c: &mut PgConnection, project: ProjectId, n: u64) -> Result<()> {
    if n > 0 {
        sqlx::query(
            "INSERT INTO suppression_counts (project_id, refused) VALUES ($1, $2)
             ON CONFLICT (project_id) DO UPDATE SET refused = suppression_counts.refused + excluded.refused",
        )
        .bind(project)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .execute(&mut *c)
        .await
        .db()?;
    }
    Ok(())
}

pub(crate) async fn suppress(store: &PgMetaStore, project: ProjectId, values: &[String]) -> Result<u64> {
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let now = now_ms();
    let mut tx = store.pool.begin().await.db()?;
    sqlx::query(
        "INSERT INTO suppression_keys (project_id, secret, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(project)
    .bind(&fresh[..])
    .bind(now)
    .execute(&mut *tx)
    .await
    .db()?;
    let key: Vec<u8> = sqlx::query_scalar("SELECT secret FROM suppression_keys WHERE project_id = $1")
        .bind(project)
        .fetch_one(&mut *tx)
        .await
        .db()?;
    let mut added = 0;
    for v in values.iter().filter(|v| !v.is_empty()) {
        let h = suppression_hash(&key, v);
        added += sqlx::query(
            "INSERT INTO suppressed_ids (project_id, hash, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(project)
        .bind(&h[..])
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
    }
    let version = state_in(&mut tx, SUPPRESSION_VERSION).await?;
    set_state_in(&mut tx, SUPPRESSION_VERSION, version + 1).await?;
    tx.commit().await.db()?;
    Ok(added)
}

pub(crate) async fn suppression_stats(store: &PgMetaStore, project: ProjectId) -> Result<SuppressionStats> {
    let row: PgRow = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM suppressed_ids WHERE project_id = $1),
                COALESCE((SELECT refused FROM suppression_counts WHERE project_id = $1), 0)",
    )
    .bind(project)
    .fetch_one(&store.pool)
    .await
    .db()?;
    let (ids, refused): (i64, i64) = (row.try_get(0).db()?, row.try_get(1).db()?);
    Ok(SuppressionStats { ids: ids as u64, refused_events: refused as u64 })
}

impl PgMetaStore {
    /// Remember customers as erased through this handle: identity changes naming them are
    /// dropped from now on (a writer that has not reloaded its graph yet). A store that
    /// keeps this one's metadata calls it when it removes a subject's events, as the
    /// embedded store does.
    pub async fn note_erased(&self, customers: impl IntoIterator<Item = CustomerId>) {
        self.admission.lock().await.erased.extend(customers);
    }

    /// A project's suppression list as stored: its key and the keyed hashes of the
    /// suppressed values (`None` before its first erasure). For copying the list into the
    /// event store ([`crate::SplitStore`]).
    pub async fn suppression_entries(&self, project: ProjectId) -> Result<Option<(Vec<u8>, Vec<[u8; 32]>)>> {
        let mut c = self.pool.acquire().await.db()?;
        suppression_entries_in(&mut c, project).await
    }

    /// The projects that have a suppression list.
    pub async fn suppressing_projects(&self) -> Result<Vec<ProjectId>> {
        sqlx::query_scalar("SELECT project_id FROM suppression_keys ORDER BY project_id")
            .fetch_all(&self.pool)
            .await
            .db()
    }

    /// Whether a purge was left unfinished (a crash or a failure during an erasure).
    pub async fn purge_pending(&self) -> Result<bool> {
        let mut c = self.pool.acquire().await.db()?;
        Ok(state_in(&mut c, PURGE_PENDING).await? != 0)
    }

    /// Rewrite the tables erasures remove rows from, so that their files no longer hold
    /// the removed rows, and ask for a checkpoint (see the module documentation for what
    /// this covers). `purged` when every rewrite succeeded.
    pub async fn purge_erased(&self) -> Result<PurgeReport> {
        let mut steps = vec![];
        let mut rewritten = true;
        for table in ERASED_TABLES {
            match sqlx::raw_sql(&format!("VACUUM (FULL) {table}")).execute(&self.pool).await {
                Ok(_) => steps.push(format!("PostgreSQL: VACUUM FULL {table}: rewritten from the rows kept")),
                Err(e) => {
                    rewritten = false;
                    steps.push(format!("PostgreSQL: VACUUM FULL {table} failed: {e}"));
                }
            }
        }
        match sqlx::raw_sql("CHECKPOINT").execute(&self.pool).await {
            Ok(_) => steps.push("PostgreSQL: CHECKPOINT: the write-ahead log may be recycled".into()),
            Err(e) => steps.push(format!(
                "PostgreSQL: CHECKPOINT not run ({e}); the write-ahead log keeps the removed rows until the server \
                 recycles it"
            )),
        }
        if rewritten {
            let mut c = self.pool.acquire().await.db()?;
            set_state_in(&mut c, PURGE_PENDING, 0).await?;
        }
        Ok(PurgeReport { purged: rewritten, steps })
    }
}
