//! [`TriggerStore`](touchpoint_store::TriggerStore)'s SQL, written once for every sqlx
//! database: [`TriggerSql`] runs it on a pool of any [`Database`] that can execute it, and
//! the backends' `TriggerStore` impls (this crate's on SQLite, `touchpoint-store-postgres`'s
//! on PostgreSQL) are thin calls into it, so the two cannot drift apart.
//!
//! One text serves both because sqlx-sqlite binds `$1`, `$2` … by number exactly as
//! PostgreSQL does, and the statements keep to what both dialects share: `ON CONFLICT …
//! DO NOTHING / DO UPDATE` with `excluded`, `RETURNING`, `CASE`, `LIMIT`. Two things the
//! generic code cannot have shape the statements:
//!
//! - sqlx has no generic "rows affected" (a database's `QueryResult` is its own type), so
//!   every write that must say whether it did something ends in `RETURNING` and is read
//!   with `fetch_all`: no row back means the insert met its unique key or the update
//!   found nothing. Never `fetch_optional`: on SQLite it leaves the statement unfinished,
//!   and an unfinished write statement keeps the file's write lock until the connection
//!   is used again — the writer then waits out its busy timeout and fails a group commit.
//! - Text is never sorted by the database (PostgreSQL sorts by its collation, SQLite
//!   byte-wise); where an order of text matters it is made here.
//!
//! Driver errors map as PostgreSQL's do (`touchpoint_store_postgres::store_error`): a
//! unique violation is `Exists`, a value that cannot be read `Corrupt`, anything else
//! `Backend` in words.

use serde_json::Value;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::Subject;
use touchpoint_store::triggers::{
    FiringBrief, FiringFilter, FiringRow, FiringState, FiringUpdate, NewFiring, Payload, Preference, TriggerRuleRow,
    TriggerStatus,
};
use touchpoint_store::{now_ms, Result, StoreError};

/// The trigger tables' SQL on one pool (see the module documentation). Cheap: a borrow
/// of the backend's pool, made for each call.
#[derive(Debug)]
pub struct TriggerSql<'a, DB: Database>(
    /// The backend's pool.
    pub &'a Pool<DB>,
);

/// A driver error as a store error (see the module documentation).
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Exists(d.constraint().map_or_else(|| "a unique value".to_string(), str::to_string))
        }
        e @ (sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_)) => {
            StoreError::Corrupt(e.to_string())
        }
        e => StoreError::Backend(e.to_string()),
    }
}

/// `.sql()`: a driver result as a store result ([`store_error`]).
pub(crate) trait Sql<T> {
    /// The result with its error mapped.
    fn sql(self) -> Result<T>;
}

impl<T> Sql<T> for std::result::Result<T, sqlx::Error> {
    fn sql(self) -> Result<T> {
        self.map_err(store_error)
    }
}

/// A row limit as SQL takes it (`usize::MAX`: no limit).
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A value bound to a statement whose parameters are only known at run time.
enum Arg {
    /// A number.
    Int(i64),
    /// A text.
    Text(String),
}

/// A rule's columns, as [`TriggerSql::rule_row`] reads them.
const RULE_COLUMNS: &str = "id, project_id, key, status, definition, created_ms, updated_ms";

/// A firing's columns, as [`TriggerSql::firing_row`] reads them.
const FIRING_COLUMNS: &str =
    "seq, id, project_id, rule_id, customer_id, event_id, event_ms, state, held_out, next_ms, \
     reason, payload, decided_ms, attempts, last_error, done_ms";

/// Recording decisions: this, the rows' `VALUES` (twelve parameters each, in this order),
/// then [`INSERT_FIRINGS_KEEP`].
pub(crate) const INSERT_FIRINGS: &str = "INSERT INTO firings (id, project_id, rule_id, customer_id, event_id, \
     event_ms, state, held_out, next_ms, reason, payload, decided_ms) VALUES";
/// A decision whose key is recorded already is not recorded again.
pub(crate) const INSERT_FIRINGS_KEEP: &str = "ON CONFLICT (rule_id, customer_id, event_id) DO NOTHING";
/// Move the decider's cursor to `$1`, never back.
pub(crate) const MOVE_CURSOR: &str = "INSERT INTO trigger_cursor (id, event_id) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET event_id = CASE \
     WHEN excluded.event_id > trigger_cursor.event_id THEN excluded.event_id ELSE trigger_cursor.event_id END";

/// Firings inserted a statement by `decide_firings` (12 parameters each, far below
/// SQLite's 32 766 and PostgreSQL's 65 535).
const DECIDE_CHUNK: usize = 200;

/// What the delivery loop acts on: open firings. The partial index `firings_open` has the
/// same predicate, word for word, so a planner can match it (SQLite's does).
const OPEN: &str = "state IN ('waiting', 'pending')";

impl<DB> TriggerSql<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    // `Decode` and `Type` of an `Option` come with its value's; sqlx implements `Encode`
    // of one per database, so it is asked for here.
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'s> &'s str: ColumnIndex<DB::Row>,
{
    /// One column of a row.
    fn get<T>(r: &DB::Row, col: &str) -> Result<T>
    where
        for<'r> T: Decode<'r, DB> + Type<DB>,
    {
        r.try_get(col).sql()
    }

    /// A JSON column (stored as text).
    fn json(r: &DB::Row, col: &str) -> Result<Value> {
        let text: String = Self::get(r, col)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }

    /// A rule from its [`RULE_COLUMNS`].
    fn rule_row(r: &DB::Row) -> Result<TriggerRuleRow> {
        let status: String = Self::get(r, "status")?;
        Ok(TriggerRuleRow {
            id: Self::get(r, "id")?,
            project_id: Self::get(r, "project_id")?,
            key: Self::get(r, "key")?,
            status: TriggerStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("trigger rule status {status:?}")))?,
            definition: Self::json(r, "definition")?,
            created_ms: Self::get(r, "created_ms")?,
            updated_ms: Self::get(r, "updated_ms")?,
        })
    }

    /// A row's firing state (column `state`).
    fn state(r: &DB::Row) -> Result<FiringState> {
        let state: String = Self::get(r, "state")?;
        FiringState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("firing state {state:?}")))
    }

    /// A firing from its [`FIRING_COLUMNS`].
    fn firing_row(r: &DB::Row) -> Result<FiringRow> {
        Ok(FiringRow {
            seq: Self::get(r, "seq")?,
            firing: NewFiring {
                id: Self::get(r, "id")?,
                project_id: Self::get(r, "project_id")?,
                rule_id: Self::get(r, "rule_id")?,
                customer_id: Self::get(r, "customer_id")?,
                event_id: Self::get(r, "event_id")?,
                event_ms: Self::get(r, "event_ms")?,
                state: Self::state(r)?,
                held_out: Self::get(r, "held_out")?,
                next_ms: Self::get(r, "next_ms")?,
                reason: Self::get(r, "reason")?,
                payload: Payload::from_json(Self::get(r, "payload")?)
                    .map_err(|e| StoreError::Corrupt(format!("payload: {e}")))?,
                decided_ms: Self::get(r, "decided_ms")?,
            },
            attempts: Self::get(r, "attempts")?,
            last_error: Self::get(r, "last_error")?,
            done_ms: Self::get(r, "done_ms")?,
        })
    }

    /// A new rule; `Exists` when its key is taken in the project.
    pub async fn create_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO trigger_rules (project_id, key, status, definition, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (project_id, key) DO NOTHING RETURNING {RULE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(project)
            .bind(key.to_string())
            .bind(status.as_str().to_string())
            .bind(definition.to_string())
            .bind(now)
            .fetch_all(self.0)
            .await
            .sql()?
            .pop();
        match row {
            Some(r) => Self::rule_row(&r),
            None => Err(StoreError::Exists(format!("trigger rule {key:?}"))),
        }
    }

    /// A project's rules (every project's with `None`), by id.
    pub async fn trigger_rules(&self, project: Option<ProjectId>) -> Result<Vec<TriggerRuleRow>> {
        let rows = match project {
            Some(p) => {
                let sql = format!("SELECT {RULE_COLUMNS} FROM trigger_rules WHERE project_id = $1 ORDER BY id");
                sqlx::query(&sql).bind(p).fetch_all(self.0).await
            }
            None => {
                let sql = format!("SELECT {RULE_COLUMNS} FROM trigger_rules ORDER BY id");
                sqlx::query(&sql).fetch_all(self.0).await
            }
        }
        .sql()?;
        rows.iter().map(Self::rule_row).collect()
    }

    /// One rule by key.
    pub async fn trigger_rule(&self, project: ProjectId, key: &str) -> Result<Option<TriggerRuleRow>> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM trigger_rules WHERE project_id = $1 AND key = $2");
        let row = sqlx::query(&sql).bind(project).bind(key.to_string()).fetch_all(self.0).await.sql()?.pop();
        row.as_ref().map(Self::rule_row).transpose()
    }

    /// Change a rule's definition and status; `NotFound` when there is none.
    pub async fn update_trigger_rule(
        &self,
        project: ProjectId,
        key: &str,
        status: TriggerStatus,
        definition: &Value,
    ) -> Result<TriggerRuleRow> {
        let sql = format!(
            "UPDATE trigger_rules SET status = $1, definition = $2, updated_ms = $3
             WHERE project_id = $4 AND key = $5 RETURNING {RULE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(status.as_str().to_string())
            .bind(definition.to_string())
            .bind(now_ms())
            .bind(project)
            .bind(key.to_string())
            .fetch_all(self.0)
            .await
            .sql()?
            .pop();
        match row {
            Some(r) => Self::rule_row(&r),
            None => Err(StoreError::NotFound(format!("trigger rule {key:?}"))),
        }
    }

    /// Record decisions, each only if no firing has its (rule, customer, event) yet, and
    /// move the cursor to `cursor` (never back), in one transaction. Returns for each
    /// firing whether it was recorded now.
    pub async fn decide_firings(&self, firings: &[NewFiring], cursor: Option<i64>) -> Result<Vec<bool>> {
        let mut tx = self.0.begin().await.sql()?;
        // Many rows a statement: a statement is a round trip to the database's thread, and
        // a busy ingest decides a hundred firings a commit.
        let mut new_ids = std::collections::HashSet::new();
        for chunk in firings.chunks(DECIDE_CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let n = i * 12;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6,
                        n + 7,
                        n + 8,
                        n + 9,
                        n + 10,
                        n + 11,
                        n + 12
                    )
                })
                .collect();
            // The new ones are listed.
            let sql = format!("{INSERT_FIRINGS} {} {INSERT_FIRINGS_KEEP} RETURNING id", rows.join(", "));
            let mut q = sqlx::query(&sql);
            for f in chunk {
                q = q
                    .bind(f.id.clone())
                    .bind(f.project_id)
                    .bind(f.rule_id)
                    .bind(f.customer_id)
                    .bind(f.event_id)
                    .bind(f.event_ms)
                    .bind(f.state.as_str().to_string())
                    .bind(f.held_out)
                    .bind(f.next_ms)
                    .bind(f.reason.clone())
                    .bind(f.payload.get().to_owned())
                    .bind(f.decided_ms);
            }
            for r in q.fetch_all(&mut *tx).await.sql()? {
                new_ids.insert(Self::get::<String>(&r, "id")?);
            }
        }
        let recorded = firings.iter().map(|f| new_ids.contains(&f.id)).collect();
        if let Some(event_id) = cursor {
            sqlx::query(MOVE_CURSOR).bind(event_id).execute(&mut *tx).await.sql()?;
        }
        tx.commit().await.sql()?;
        Ok(recorded)
    }

    /// The last event id the worker decided on, if any.
    pub async fn trigger_cursor(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT event_id FROM trigger_cursor WHERE id = 1").fetch_all(self.0).await.sql()?.pop();
        row.as_ref().map(|r| Self::get(r, "event_id")).transpose()
    }

    /// Open firings due at `now_ms`, the earliest first (ties in decision order).
    pub async fn due_firings(&self, now_ms: i64, limit: usize) -> Result<Vec<FiringRow>> {
        let sql = format!(
            "SELECT {FIRING_COLUMNS} FROM firings WHERE {OPEN} AND next_ms <= $1 ORDER BY next_ms, seq LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(now_ms).bind(self::limit(limit)).fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::firing_row).collect()
    }

    /// Take the first open firings due at `now_ms` (as [`Self::due_firings`] orders them): move
    /// each one's next look to `until_ms` in one statement and return them as they are
    /// now, in decision order. The outer `next_ms <= $1` is checked again on a row another node changed
    /// meanwhile (PostgreSQL re-reads a row a concurrent update moved), so a firing is
    /// taken by one taker only.
    pub async fn lease_due_firings(&self, now_ms: i64, limit: usize, until_ms: i64) -> Result<Vec<FiringRow>> {
        let sql = format!(
            "UPDATE firings SET next_ms = $3 WHERE {OPEN} AND next_ms <= $1 AND seq IN \
             (SELECT seq FROM firings WHERE {OPEN} AND next_ms <= $1 ORDER BY next_ms, seq LIMIT $2) \
             RETURNING {FIRING_COLUMNS}"
        );
        let rows =
            sqlx::query(&sql).bind(now_ms).bind(self::limit(limit)).bind(until_ms).fetch_all(self.0).await.sql()?;
        let mut taken: Vec<FiringRow> = rows.iter().map(Self::firing_row).collect::<Result<_>>()?;
        // RETURNING has no order of its own.
        taken.sort_by_key(|f| f.seq);
        Ok(taken)
    }

    /// When the next open firing is due, if any.
    pub async fn next_due_ms(&self) -> Result<Option<i64>> {
        let sql = format!("SELECT next_ms FROM firings WHERE {OPEN} ORDER BY next_ms LIMIT 1");
        let row = sqlx::query(&sql).fetch_all(self.0).await.sql()?.pop();
        row.as_ref().map(|r| Self::get(r, "next_ms")).transpose()
    }

    /// Change a firing's state; `NotFound` when there is none.
    pub async fn update_firing(&self, id: &str, update: &FiringUpdate) -> Result<()> {
        let row = sqlx::query(
            "UPDATE firings SET state = $1, next_ms = $2, attempts = $3, last_error = $4, reason = $5, done_ms = $6,
             payload = COALESCE($8, payload)
             WHERE id = $7 RETURNING seq",
        )
        .bind(update.state.as_str().to_string())
        .bind(update.next_ms)
        .bind(update.attempts)
        .bind(update.last_error.clone())
        .bind(update.reason.clone())
        .bind(update.done_ms)
        .bind(id.to_string())
        .bind(update.payload.as_ref().map(|p| p.to_string()))
        .fetch_all(self.0)
        .await
        .sql()?
        .pop();
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("firing {id:?}"))),
        }
    }

    /// One firing.
    pub async fn firing(&self, id: &str) -> Result<Option<FiringRow>> {
        let sql = format!("SELECT {FIRING_COLUMNS} FROM firings WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_all(self.0).await.sql()?.pop();
        row.as_ref().map(Self::firing_row).transpose()
    }

    /// A project's firings narrowed by every field of `filter`, the newest decision first.
    pub async fn firings(&self, project: ProjectId, filter: &FiringFilter, limit: usize) -> Result<Vec<FiringRow>> {
        let mut args = vec![Arg::Int(project)];
        let mut sql = format!("SELECT {FIRING_COLUMNS} FROM firings WHERE project_id = $1");
        let mut narrow = |column: &str, op: &str, value: Arg| {
            args.push(value);
            sql.push_str(&format!(" AND {column} {op} ${}", args.len()));
        };
        if let Some(rule) = filter.rule_id {
            narrow("rule_id", "=", Arg::Int(rule));
        }
        if let Some(state) = filter.state {
            narrow("state", "=", Arg::Text(state.as_str().to_string()));
        }
        if let Some(customer) = filter.customer_id {
            narrow("customer_id", "=", Arg::Int(customer));
        }
        if let Some(since) = filter.since_ms {
            narrow("event_ms", ">=", Arg::Int(since));
        }
        if let Some(before) = filter.before_seq {
            narrow("seq", "<", Arg::Int(before));
        }
        args.push(Arg::Int(self::limit(limit)));
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", args.len()));
        let mut q = sqlx::query(&sql);
        for a in args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        let rows = q.fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::firing_row).collect()
    }

    /// Customers' firings since `since_ms`, newest first, without payloads.
    pub async fn firing_history(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringBrief>> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..customers.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT id, rule_id, state, event_ms, done_ms FROM firings
             WHERE project_id = $1 AND event_ms >= $2 AND customer_id IN ({}) ORDER BY seq DESC LIMIT $3",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(project).bind(since_ms).bind(self::limit(limit));
        for &c in customers {
            q = q.bind(c);
        }
        let rows = q.fetch_all(self.0).await.sql()?;
        rows.iter()
            .map(|r| {
                Ok(FiringBrief {
                    id: Self::get(r, "id")?,
                    rule_id: Self::get(r, "rule_id")?,
                    state: Self::state(r)?,
                    event_ms: Self::get(r, "event_ms")?,
                    done_ms: Self::get(r, "done_ms")?,
                })
            })
            .collect()
    }

    /// Take a person's ready firings: delivered now, in one write.
    pub async fn take_ready_firings(
        &self,
        project: ProjectId,
        customers: &[CustomerId],
        since_ms: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<FiringRow>> {
        if customers.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..customers.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "UPDATE firings SET state = 'delivered', done_ms = $3 WHERE state = 'ready' AND seq IN \
             (SELECT seq FROM firings WHERE project_id = $1 AND state = 'ready' AND event_ms >= $2 \
              AND customer_id IN ({}) ORDER BY seq LIMIT $4) \
             RETURNING {FIRING_COLUMNS}",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(project).bind(since_ms).bind(now_ms).bind(self::limit(limit));
        for &c in customers {
            q = q.bind(c);
        }
        let rows = q.fetch_all(self.0).await.sql()?;
        let mut taken: Vec<FiringRow> = rows.iter().map(Self::firing_row).collect::<Result<_>>()?;
        // RETURNING has no order of its own.
        taken.sort_by_key(|f| f.seq);
        Ok(taken)
    }

    /// How many of a rule's firings are in each state: the states it has firings in, in
    /// the order of [`FiringState::ALL`].
    pub async fn firing_counts(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(FiringState, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM firings WHERE project_id = $1 AND rule_id = $2 GROUP BY state",
        )
        .bind(project)
        .bind(rule_id)
        .fetch_all(self.0)
        .await
        .sql()?;
        let mut counts =
            rows.iter().map(|r| Ok((Self::state(r)?, Self::get::<i64>(r, "n")?))).collect::<Result<Vec<_>>>()?;
        counts.sort_by_key(|(state, _)| FiringState::ALL.iter().position(|s| s == state));
        Ok(counts)
    }

    /// How many of a rule's suppressed firings were suppressed for each reason, the
    /// commonest first.
    pub async fn suppressed_reasons(&self, project: ProjectId, rule_id: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT COALESCE(reason, '') AS reason, COUNT(*) AS n FROM firings \
             WHERE project_id = $1 AND rule_id = $2 AND state = 'suppressed' \
             GROUP BY COALESCE(reason, '') ORDER BY n DESC, reason",
        )
        .bind(project)
        .bind(rule_id)
        .fetch_all(self.0)
        .await
        .sql()?;
        rows.iter().map(|r| Ok((Self::get::<String>(r, "reason")?, Self::get::<i64>(r, "n")?))).collect()
    }

    /// Record a customer's choice for a category on a channel, replacing an earlier one.
    pub async fn set_preference(&self, project: ProjectId, customer: CustomerId, pref: &Preference) -> Result<()> {
        sqlx::query(
            "INSERT INTO preferences (project_id, customer_id, category, channel, allowed, updated_ms, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (project_id, customer_id, category, channel) DO UPDATE SET
                 allowed = excluded.allowed, updated_ms = excluded.updated_ms, source = excluded.source",
        )
        .bind(project)
        .bind(customer)
        .bind(pref.category.clone())
        .bind(pref.channel.clone())
        .bind(pref.allowed)
        .bind(pref.updated_ms)
        .bind(pref.source.clone())
        .execute(self.0)
        .await
        .sql()?;
        Ok(())
    }

    /// A customer's choices, by category and channel (sorted here, byte-wise: the databases
    /// would sort text each its own way).
    pub async fn preferences(&self, project: ProjectId, customer: CustomerId) -> Result<Vec<Preference>> {
        let rows = sqlx::query(
            "SELECT category, channel, allowed, updated_ms, source FROM preferences WHERE project_id = $1 AND customer_id = $2",
        )
        .bind(project)
        .bind(customer)
        .fetch_all(self.0)
        .await
        .sql()?;
        let mut prefs = rows
            .iter()
            .map(|r| {
                Ok(Preference {
                    category: Self::get(r, "category")?,
                    channel: Self::get(r, "channel")?,
                    allowed: Self::get(r, "allowed")?,
                    updated_ms: Self::get(r, "updated_ms")?,
                    source: Self::get(r, "source")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        prefs.sort_by(|a, b| (&a.category, &a.channel).cmp(&(&b.category, &b.channel)));
        Ok(prefs)
    }

    /// The firings of a subject's customers, in outbox order.
    pub async fn subject_firings(&self, subject: &Subject) -> Result<Vec<FiringRow>> {
        let sql =
            format!("SELECT {FIRING_COLUMNS} FROM firings WHERE project_id = $1 AND customer_id = $2 ORDER BY seq");
        let mut out = vec![];
        for &c in &subject.customers {
            let rows = sqlx::query(&sql).bind(subject.project).bind(c).fetch_all(self.0).await.sql()?;
            for r in &rows {
                out.push(Self::firing_row(r)?);
            }
        }
        out.sort_by_key(|f| f.seq);
        Ok(out)
    }

    /// The preferences of a subject's customers.
    pub async fn subject_preferences(&self, subject: &Subject) -> Result<Vec<Preference>> {
        let mut out = vec![];
        for &c in &subject.customers {
            out.extend(self.preferences(subject.project, c).await?);
        }
        Ok(out)
    }

    /// Remove a subject's firings and preferences: (firings, preferences) removed.
    pub async fn erase_subject_triggers(&self, subject: &Subject) -> Result<(u64, u64)> {
        let (mut firings, mut prefs) = (0, 0);
        for &c in &subject.customers {
            firings += sqlx::query("DELETE FROM firings WHERE project_id = $1 AND customer_id = $2 RETURNING seq")
                .bind(subject.project)
                .bind(c)
                .fetch_all(self.0)
                .await
                .sql()?
                .len() as u64;
            prefs +=
                sqlx::query("DELETE FROM preferences WHERE project_id = $1 AND customer_id = $2 RETURNING category")
                    .bind(subject.project)
                    .bind(c)
                    .fetch_all(self.0)
                    .await
                    .sql()?
                    .len() as u64;
        }
        Ok((firings, prefs))
    }
}
