//! Moving up: an embedded store's metadata copied into a PostgreSQL database
//! ([`PgMetaStore::copy_from_embedded`]), for `touchpoint migrate`. Both databases have the
//! same tables (the same migrations, rendered per dialect), so the copy is generic: every
//! table but the events' and the migrations' own, column by column as PostgreSQL types
//! them, with the same ids; then each identity column's sequence is moved past the
//! highest id copied, so new rows never reuse one.
//!
//! **All or nothing, and never over someone's data.** The copy is one PostgreSQL
//! transaction: an interruption leaves the database as it was, and the next run copies
//! again. A database that already holds projects, customers or people is refused, unless
//! it is this directory's copy (every table has as many rows as the source), which a
//! resumed migration recognises and leaves alone. The embedded store's own bookkeeping of
//! a purge in progress is not copied (the embedded store finishes its purge when opened).

use crate::PgMetaStore;
use futures::TryStreamExt;
use sqlx::Row as _;
use touchpoint_store::{Result, StoreError};
use touchpoint_store_sqlite::SqliteStore;

/// Tables not copied: the events' (they go to the event store), and the migrations' own.
const NOT_COPIED: &[&str] =
    &["schema_migrations", "events", "failed_events", "daily_volume", "event_segments", "event_timeline"];

/// Tables whose rows say a database is in use.
const IN_USE: &[&str] = &["projects", "customers", "users"];

/// Rows per `INSERT` (PostgreSQL takes at most 65 535 parameters a statement).
const ROWS_PER_INSERT: usize = 500;

/// What [`PgMetaStore::copy_from_embedded`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Whether the database was already this directory's copy (nothing was written).
    pub already_copied: bool,
    /// Rows per table, as counted in both databases afterwards (equal, or an error).
    pub tables: Vec<(String, i64)>,
}

/// A value read from SQLite, as the PostgreSQL column takes it.
enum Cell {
    Int(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// How a PostgreSQL column's values are read from SQLite.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Int4,
    Bool,
    Float,
    Text,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "bigint" => Kind::Int,
            "integer" | "smallint" => Kind::Int4,
            "boolean" => Kind::Bool,
            "double precision" | "real" | "numeric" => Kind::Float,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }

    fn read(self, row: &sqlx::sqlite::SqliteRow, i: usize) -> std::result::Result<Cell, sqlx::Error> {
        Ok(match self {
            Kind::Int => Cell::Int(row.try_get_unchecked(i)?),
            Kind::Int4 => Cell::Int4(row.try_get_unchecked::<Option<i64>, _>(i)?.map(|v| v as i32)),
            Kind::Bool => Cell::Bool(row.try_get_unchecked::<Option<i64>, _>(i)?.map(|v| v != 0)),
            Kind::Float => Cell::Float(row.try_get_unchecked(i)?),
            Kind::Text => Cell::Text(row.try_get_unchecked(i)?),
            Kind::Bytes => Cell::Bytes(row.try_get_unchecked(i)?),
        })
    }
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl PgMetaStore {
    /// The tables a copy covers, with their columns and how to read them, from
    /// PostgreSQL's catalog.
    async fn copied_tables(&self) -> Result<Vec<(String, Vec<(String, Kind)>)>> {
        let rows = sqlx::query(
            "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d FROM information_schema.columns
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        let mut tables: Vec<(String, Vec<(String, Kind)>)> = vec![];
        for r in rows {
            let (t, c, d): (String, String, String) = (r.get("t"), r.get("c"), r.get("d"));
            if NOT_COPIED.contains(&t.as_str()) {
                continue;
            }
            let kind = Kind::of(&d)
                .ok_or_else(|| StoreError::Corrupt(format!("{t}.{c}: a column type the copy does not know ({d})")))?;
            match tables.last_mut() {
                Some((name, cols)) if *name == t => cols.push((c, kind)),
                _ => tables.push((t, vec![(c, kind)])),
            }
        }
        Ok(tables)
    }

    /// Rows per table, in both databases.
    async fn counts(&self, source: &SqliteStore, tables: &[String]) -> Result<Vec<(String, i64, i64)>> {
        let mut out = vec![];
        for t in tables {
            let here: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(self.pool()).await.map_err(db)?;
            let there: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(source.pool()).await.map_err(db)?;
            out.push((t.clone(), there, here));
        }
        Ok(out)
    }

    /// Copy an embedded store's metadata into this database (see the module
    /// documentation); `progress` hears each table as it is copied, with its rows.
    pub async fn copy_from_embedded(
        &self,
        source: &SqliteStore,
        mut progress: impl FnMut(&str, i64),
    ) -> Result<CopyReport> {
        let tables = self.copied_tables().await?;
        let names: Vec<String> = tables.iter().map(|(t, _)| t.clone()).collect();
        let before = self.counts(source, &names).await?;
        // The store's own numbers (erasure_state) may differ between the two; the rest not.
        let compared = |c: &&(String, i64, i64)| c.0 != "erasure_state";
        if before.iter().filter(compared).all(|(_, there, here)| there == here)
            && before.iter().any(|(_, there, _)| *there > 0)
        {
            return Ok(CopyReport {
                already_copied: true,
                tables: before.into_iter().map(|(t, n, _)| (t, n)).collect(),
            });
        }
        if let Some((t, _, n)) = before.iter().find(|(t, _, here)| IN_USE.contains(&t.as_str()) && *here > 0) {
            return Err(StoreError::Exists(format!(
                "PostgreSQL data (its table {t} has {n} rows, and they are not a copy of this data directory); \
                 migrate into an empty database"
            )));
        }
        let mut tx = self.pool().begin().await.map_err(db)?;
        for (table, columns) in &tables {
            let names = columns.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ");
            let mut filter = String::new();
            if table == "erasure_state" {
                filter = " WHERE name <> 'purge_pending'".into();
            }
            let select = format!("SELECT {names} FROM {table}{filter}");
            let mut rows = sqlx::query(&select).fetch(source.pool());
            let mut batch: Vec<Vec<Cell>> = vec![];
            let mut copied = 0i64;
            loop {
                let row = rows.try_next().await.map_err(db)?;
                if let Some(r) = &row {
                    let cells = columns.iter().enumerate().map(|(i, (_, k))| k.read(r, i)).collect::<Result<_, _>>();
                    batch.push(cells.map_err(db)?);
                }
                if batch.len() >= ROWS_PER_INSERT || (row.is_none() && !batch.is_empty()) {
                    insert(&mut tx, table, &names, columns.len(), &batch).await?;
                    copied += batch.len() as i64;
                    batch.clear();
                }
                if row.is_none() {
                    break;
                }
            }
            progress(table, copied);
        }
        // Identity columns go on from the highest id copied.
        let identities = sqlx::query(
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in identities {
            let (t, c): (String, String) = (r.get("t"), r.get("c"));
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), GREATEST((SELECT MAX({c}) FROM {t}), 1))"
            ))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let after = self.counts(source, &names).await?;
        let wrong: Vec<String> = after
            .iter()
            .filter(compared)
            .filter(|(_, there, here)| there != here)
            .map(|(t, there, here)| format!("{t}: {there} in the data directory, {here} in PostgreSQL"))
            .collect();
        if !wrong.is_empty() {
            return Err(StoreError::Corrupt(format!("the copy does not add up: {}", wrong.join("; "))));
        }
        Ok(CopyReport { already_copied: false, tables: after.into_iter().map(|(t, n, _)| (t, n)).collect() })
    }
}

/// One multi-row `INSERT` of `rows` into `table` (rows a unique key already has are
/// skipped: the counts afterwards tell).
async fn insert(tx: &mut sqlx::PgConnection, table: &str, names: &str, width: usize, rows: &[Vec<Cell>]) -> Result<()> {
    let mut sql = format!("INSERT INTO {table} ({names}) VALUES ");
    for r in 0..rows.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    let mut q = sqlx::query(&sql);
    for row in rows {
        for cell in row {
            q = match cell {
                Cell::Int(v) => q.bind(*v),
                Cell::Int4(v) => q.bind(*v),
                Cell::Bool(v) => q.bind(*v),
                Cell::Float(v) => q.bind(*v),
                Cell::Text(v) => q.bind(v.clone()),
                Cell::Bytes(v) => q.bind(v.clone()),
            };
        }
    }
    q.execute(&mut *tx).await.map_err(db)?;
    Ok(())
}
