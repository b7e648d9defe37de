//! [`ServiceStore`](touchpoint_store::ServiceStore)'s SQL, written once for every sqlx
//! database as [`crate::sql_triggers`] is (read its documentation for the rules the
//! statements keep): [`ServiceSql`] runs it on a pool, and the embedded store's and
//! PostgreSQL's `ServiceStore` are thin calls into it.
//!
//! An entry and the change it makes are one transaction: the request's row is updated
//! first (which also finds out whether it is the project's), then the entry is added. A
//! sign-in link is used by inserting its nonce; the primary key refuses a second use, so
//! two browsers racing with one link: one signs in.

use crate::sql_triggers::Sql;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::erasure::Subject;
use touchpoint_store::service::{
    NewEntry, NewRequest, OpenCap, Request, RequestEntry, RequestFilter, RequestWithEntries,
};
use touchpoint_store::{Result, StoreError};

/// The service tables' SQL on one pool. Cheap: a borrow of the backend's pool.
#[derive(Debug)]
pub struct ServiceSql<'a, DB: Database>(
    /// The backend's pool.
    pub &'a Pool<DB>,
);

/// A request's columns.
const REQUEST: &str =
    "id, project_id, customer_id, subject, status, lang, email, assignee, created_ms, updated_ms, resolved_ms";

/// An entry's columns.
const ENTRY: &str = "id, request_id, kind, author, author_name, body, created_ms";

impl<DB> ServiceSql<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
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

    /// A request from its [`REQUEST`] columns.
    fn request_row(r: &DB::Row) -> Result<Request> {
        Ok(Request {
            id: Self::get(r, "id")?,
            project_id: Self::get(r, "project_id")?,
            customer_id: Self::get(r, "customer_id")?,
            subject: Self::get(r, "subject")?,
            status: Self::get(r, "status")?,
            lang: Self::get(r, "lang")?,
            email: Self::get(r, "email")?,
            assignee: Self::get(r, "assignee")?,
            created_ms: Self::get(r, "created_ms")?,
            updated_ms: Self::get(r, "updated_ms")?,
            resolved_ms: Self::get(r, "resolved_ms")?,
        })
    }

    /// An entry from its [`ENTRY`] columns.
    fn entry_row(r: &DB::Row) -> Result<RequestEntry> {
        Ok(RequestEntry {
            id: Self::get(r, "id")?,
            request_id: Self::get(r, "request_id")?,
            kind: Self::get(r, "kind")?,
            author: Self::get(r, "author")?,
            author_name: Self::get(r, "author_name")?,
            body: Self::get(r, "body")?,
            created_ms: Self::get(r, "created_ms")?,
        })
    }

    /// [`ServiceStore::create_request`](touchpoint_store::ServiceStore::create_request).
    pub async fn create_request(&self, project: ProjectId, new: &NewRequest, now_ms: i64) -> Result<Request> {
        let mut tx = self.0.begin().await.sql()?;
        let request = Self::insert_request(&mut tx, project, new, now_ms).await?;
        tx.commit().await.sql()?;
        Ok(request)
    }

    /// [`ServiceStore::create_request_within`](touchpoint_store::ServiceStore::create_request_within):
    /// the project's row is updated (to itself) first, which locks it — PostgreSQL's row
    /// lock, SQLite's write lock, taken before anything is read —, then the count and the
    /// insert.
    pub async fn create_request_within(
        &self,
        project: ProjectId,
        new: &NewRequest,
        now_ms: i64,
        cap: &OpenCap,
    ) -> Result<Option<Request>> {
        let mut tx = self.0.begin().await.sql()?;
        sqlx::query("UPDATE projects SET id = id WHERE id = $1 RETURNING id")
            .bind(project)
            .fetch_all(&mut *tx)
            .await
            .sql()?;
        let mut opened = 0;
        for &c in &cap.customers {
            opened +=
                sqlx::query("SELECT id FROM requests WHERE project_id = $1 AND customer_id = $2 AND created_ms > $3")
                    .bind(project)
                    .bind(c)
                    .bind(cap.since_ms)
                    .fetch_all(&mut *tx)
                    .await
                    .sql()?
                    .len();
        }
        if opened >= cap.max {
            return Ok(None);
        }
        let request = Self::insert_request(&mut tx, project, new, now_ms).await?;
        tx.commit().await.sql()?;
        Ok(Some(request))
    }

    /// A request and its first entry, in a transaction.
    async fn insert_request(
        tx: &mut sqlx::Transaction<'_, DB>,
        project: ProjectId,
        new: &NewRequest,
        now_ms: i64,
    ) -> Result<Request> {
        let rows = sqlx::query(&format!(
            "INSERT INTO requests (project_id, customer_id, subject, status, lang, email, assignee, created_ms, \
             updated_ms, resolved_ms) VALUES ($1, $2, $3, 'new', $4, $5, NULL, $6, $6, NULL) RETURNING {REQUEST}"
        ))
        .bind(project)
        .bind(new.customer_id)
        .bind(new.subject.clone())
        .bind(new.lang.clone())
        .bind(new.email.clone())
        .bind(now_ms)
        .fetch_all(&mut **tx)
        .await
        .sql()?;
        let request = rows
            .first()
            .map(Self::request_row)
            .transpose()?
            .ok_or_else(|| StoreError::Backend("no request id".into()))?;
        sqlx::query(
            "INSERT INTO request_entries (request_id, kind, author, author_name, body, created_ms) \
             VALUES ($1, 'message', 'customer', NULL, $2, $3)",
        )
        .bind(request.id)
        .bind(new.body.clone())
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .sql()?;
        Ok(request)
    }

    /// [`ServiceStore::request`](touchpoint_store::ServiceStore::request).
    pub async fn request(&self, project: ProjectId, id: i64) -> Result<Option<Request>> {
        let rows = sqlx::query(&format!("SELECT {REQUEST} FROM requests WHERE project_id = $1 AND id = $2"))
            .bind(project)
            .bind(id)
            .fetch_all(self.0)
            .await
            .sql()?;
        rows.first().map(Self::request_row).transpose()
    }

    /// [`ServiceStore::requests`](touchpoint_store::ServiceStore::requests).
    pub async fn requests(&self, project: ProjectId, filter: &RequestFilter, limit: usize) -> Result<Vec<Request>> {
        let mut sql = format!("SELECT {REQUEST} FROM requests WHERE project_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        let customers = filter.customers.clone().unwrap_or_default();
        if filter.customers.is_some() {
            if customers.is_empty() {
                return Ok(vec![]);
            }
            let marks: Vec<String> = customers.iter().map(|_| format!("${}", next())).collect();
            sql.push_str(&format!(" AND customer_id IN ({})", marks.join(", ")));
        }
        if filter.status.is_some() {
            sql.push_str(&format!(" AND status = ${}", next()));
        }
        match filter.assignee.as_deref() {
            Some("") => sql.push_str(" AND assignee IS NULL"),
            Some(_) => sql.push_str(&format!(" AND assignee = ${}", next())),
            None => {}
        }
        if filter.before_id.is_some() {
            sql.push_str(&format!(" AND id < ${}", next()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", next()));
        let mut q = sqlx::query(&sql).bind(project);
        for c in customers {
            q = q.bind(c);
        }
        if let Some(s) = &filter.status {
            q = q.bind(s.clone());
        }
        if let Some(a) = filter.assignee.as_deref().filter(|a| !a.is_empty()) {
            q = q.bind(a.to_string());
        }
        if let Some(b) = filter.before_id {
            q = q.bind(b);
        }
        let rows = q.bind(limit.min(i64::MAX as usize) as i64).fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::request_row).collect()
    }

    /// [`ServiceStore::request_entries`](touchpoint_store::ServiceStore::request_entries).
    pub async fn request_entries(&self, project: ProjectId, id: i64) -> Result<Vec<RequestEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY} FROM request_entries WHERE request_id = $1 \
             AND EXISTS (SELECT 1 FROM requests r WHERE r.id = $1 AND r.project_id = $2) ORDER BY id"
        ))
        .bind(id)
        .bind(project)
        .fetch_all(self.0)
        .await
        .sql()?;
        rows.iter().map(Self::entry_row).collect()
    }

    /// [`ServiceStore::add_request_entry`](touchpoint_store::ServiceStore::add_request_entry).
    pub async fn add_request_entry(&self, project: ProjectId, id: i64, e: &NewEntry, now_ms: i64) -> Result<Request> {
        let mut tx = self.0.begin().await.sql()?;
        let rows = sqlx::query(&format!(
            "UPDATE requests SET updated_ms = $3,
                status = COALESCE($4, status),
                resolved_ms = CASE WHEN $4 IS NULL THEN resolved_ms WHEN $4 = 'resolved' THEN $3
                                   WHEN $4 = 'closed' THEN resolved_ms ELSE NULL END,
                assignee = CASE WHEN $5 THEN $6 ELSE assignee END
             WHERE project_id = $1 AND id = $2 RETURNING {REQUEST}"
        ))
        .bind(project)
        .bind(id)
        .bind(now_ms)
        .bind(e.status.clone())
        .bind(e.assignee.is_some())
        .bind(e.assignee.clone().flatten())
        .fetch_all(&mut *tx)
        .await
        .sql()?;
        let Some(request) = rows.first().map(Self::request_row).transpose()? else {
            return Err(StoreError::NotFound(format!("request {id}")));
        };
        sqlx::query(
            "INSERT INTO request_entries (request_id, kind, author, author_name, body, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(e.kind.clone())
        .bind(e.author.clone())
        .bind(e.author_name.clone())
        .bind(e.body.clone())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .sql()?;
        tx.commit().await.sql()?;
        Ok(request)
    }

    /// [`ServiceStore::use_portal_link`](touchpoint_store::ServiceStore::use_portal_link).
    pub async fn use_portal_link(&self, project: ProjectId, nonce: &str, expires_ms: i64, now_ms: i64) -> Result<bool> {
        // Records of links past their expiry are of no use (the signature refuses them).
        sqlx::query("DELETE FROM portal_links WHERE expires_ms < $1").bind(now_ms).execute(self.0).await.sql()?;
        let rows = sqlx::query(
            "INSERT INTO portal_links (project_id, nonce, expires_ms, used_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING nonce",
        )
        .bind(project)
        .bind(nonce.to_string())
        .bind(expires_ms)
        .bind(now_ms)
        .fetch_all(self.0)
        .await
        .sql()?;
        Ok(!rows.is_empty())
    }

    /// [`ServiceStore::portal_link_used`](touchpoint_store::ServiceStore::portal_link_used).
    pub async fn portal_link_used(&self, project: ProjectId, nonce: &str) -> Result<bool> {
        let rows = sqlx::query("SELECT nonce FROM portal_links WHERE project_id = $1 AND nonce = $2")
            .bind(project)
            .bind(nonce.to_string())
            .fetch_all(self.0)
            .await
            .sql()?;
        Ok(!rows.is_empty())
    }

    /// [`ServiceStore::sign_out_portal`](touchpoint_store::ServiceStore::sign_out_portal).
    pub async fn sign_out_portal(&self, project: ProjectId, customer: CustomerId, at_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO portal_signouts (project_id, customer_id, before_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, customer_id) DO UPDATE SET before_ms = excluded.before_ms \
             WHERE excluded.before_ms > portal_signouts.before_ms",
        )
        .bind(project)
        .bind(customer)
        .bind(at_ms)
        .execute(self.0)
        .await
        .sql()?;
        Ok(())
    }

    /// [`ServiceStore::portal_signed_out`](touchpoint_store::ServiceStore::portal_signed_out).
    pub async fn portal_signed_out(&self, project: ProjectId, customer: CustomerId) -> Result<Option<i64>> {
        let rows = sqlx::query("SELECT before_ms FROM portal_signouts WHERE project_id = $1 AND customer_id = $2")
            .bind(project)
            .bind(customer)
            .fetch_all(self.0)
            .await
            .sql()?;
        rows.first().map(|r| Self::get(r, "before_ms")).transpose()
    }

    /// [`ServiceStore::subject_requests`](touchpoint_store::ServiceStore::subject_requests).
    pub async fn subject_requests(&self, subject: &Subject) -> Result<Vec<RequestWithEntries>> {
        let filter = RequestFilter { customers: Some(subject.customers.clone()), ..Default::default() };
        let mut out = vec![];
        for request in self.requests(subject.project, &filter, usize::MAX).await?.into_iter().rev() {
            let entries = self.request_entries(subject.project, request.id).await?;
            out.push(RequestWithEntries { request, entries });
        }
        Ok(out)
    }

    /// [`ServiceStore::erase_subject_requests`](touchpoint_store::ServiceStore::erase_subject_requests).
    pub async fn erase_subject_requests(&self, subject: &Subject) -> Result<(u64, u64)> {
        let (mut requests, mut entries) = (0, 0);
        let mut tx = self.0.begin().await.sql()?;
        for &c in &subject.customers {
            entries += sqlx::query(
                "DELETE FROM request_entries WHERE request_id IN \
                 (SELECT id FROM requests WHERE project_id = $1 AND customer_id = $2) RETURNING id",
            )
            .bind(subject.project)
            .bind(c)
            .fetch_all(&mut *tx)
            .await
            .sql()?
            .len() as u64;
            requests += sqlx::query("DELETE FROM requests WHERE project_id = $1 AND customer_id = $2 RETURNING id")
                .bind(subject.project)
                .bind(c)
                .fetch_all(&mut *tx)
                .await
                .sql()?
                .len() as u64;
            sqlx::query("DELETE FROM portal_signouts WHERE project_id = $1 AND customer_id = $2")
                .bind(subject.project)
                .bind(c)
                .execute(&mut *tx)
                .await
                .sql()?;
        }
        tx.commit().await.sql()?;
        Ok((requests, entries))
    }
}
