//! [`KbStore`](touchpoint_store::KbStore)'s SQL, written once for every sqlx database as
//! [`crate::sql_triggers`] is (read its documentation for the rules the statements keep):
//! [`KbSql`] runs it on a pool, and the embedded store's and PostgreSQL's `KbStore` are
//! thin calls into it.
//!
//! A new version is one statement: it inserts `MAX(version) + 1` of the article, and only
//! when the article is the project's and (with a base) its newest version is the base.
//! Two edits racing from the same base both compute the same number; the primary key
//! `(article_id, version)` refuses the second, which is `Exists`, as a stale base is.

use crate::sql_triggers::Sql;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use touchpoint_core::ProjectId;
use touchpoint_store::kb::{Article, ArticleDraft};
use touchpoint_store::{Result, StoreError};

/// The knowledge base's SQL on one pool. Cheap: a borrow of the backend's pool.
#[derive(Debug)]
pub struct KbSql<'a, DB: Database>(
    /// The backend's pool.
    pub &'a Pool<DB>,
);

/// A version's columns with its article's, as [`KbSql::row`] reads them.
const COLUMNS: &str = "a.id, a.project_id, a.created_ms, v.version, v.lang, v.title, v.body, v.published, \
     v.author, v.created_ms AS updated_ms";

/// The newest version of each article.
const NEWEST: &str = "v.version = (SELECT MAX(w.version) FROM kb_versions w WHERE w.article_id = a.id)";

impl<DB> KbSql<'_, DB>
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

    /// An article from its [`COLUMNS`].
    fn row(r: &DB::Row) -> Result<Article> {
        Ok(Article {
            id: Self::get(r, "id")?,
            project_id: Self::get(r, "project_id")?,
            version: Self::get(r, "version")?,
            draft: ArticleDraft {
                lang: Self::get(r, "lang")?,
                title: Self::get(r, "title")?,
                body: Self::get(r, "body")?,
                published: Self::get(r, "published")?,
                author: Self::get(r, "author")?,
            },
            created_ms: Self::get(r, "created_ms")?,
            updated_ms: Self::get(r, "updated_ms")?,
        })
    }

    /// [`KbStore::create_article`](touchpoint_store::KbStore::create_article).
    pub async fn create_article(&self, project: ProjectId, draft: &ArticleDraft, now_ms: i64) -> Result<Article> {
        let rows = sqlx::query("INSERT INTO kb_articles (project_id, created_ms) VALUES ($1, $2) RETURNING id")
            .bind(project)
            .bind(now_ms)
            .fetch_all(self.0)
            .await
            .sql()?;
        let id: i64 = rows
            .first()
            .map(|r| Self::get(r, "id"))
            .transpose()?
            .ok_or_else(|| StoreError::Backend("no article id".into()))?;
        self.insert_version(project, id, draft, None, now_ms).await
    }

    /// [`KbStore::update_article`](touchpoint_store::KbStore::update_article).
    pub async fn update_article(
        &self,
        project: ProjectId,
        id: i64,
        draft: &ArticleDraft,
        base: Option<i64>,
        now_ms: i64,
    ) -> Result<Article> {
        if self.article(project, id).await?.is_none() {
            return Err(StoreError::NotFound(format!("article {id}")));
        }
        match self.insert_version(project, id, draft, base, now_ms).await {
            Err(StoreError::Exists(_)) => Err(StoreError::Exists(format!("a newer version of article {id}"))),
            other => other,
        }
    }

    /// Add the next version of an article (see the module documentation).
    async fn insert_version(
        &self,
        project: ProjectId,
        id: i64,
        draft: &ArticleDraft,
        base: Option<i64>,
        now_ms: i64,
    ) -> Result<Article> {
        let rows = sqlx::query(
            "INSERT INTO kb_versions (article_id, version, lang, title, body, published, author, created_ms)
             SELECT a.id, COALESCE((SELECT MAX(w.version) FROM kb_versions w WHERE w.article_id = a.id), 0) + 1,
                    $3, $4, $5, $6, $7, $8
             FROM kb_articles a
             WHERE a.id = $1 AND a.project_id = $2
               AND ($9 < 0 OR COALESCE((SELECT MAX(w.version) FROM kb_versions w WHERE w.article_id = a.id), 0) = $9)
             RETURNING version",
        )
        .bind(id)
        .bind(project)
        .bind(draft.lang.clone())
        .bind(draft.title.clone())
        .bind(draft.body.clone())
        .bind(draft.published)
        .bind(draft.author.clone())
        .bind(now_ms)
        .bind(base.unwrap_or(-1))
        .fetch_all(self.0)
        .await
        .sql()?;
        if rows.is_empty() {
            return Err(StoreError::Exists(format!("a newer version of article {id}")));
        }
        self.article(project, id).await?.ok_or_else(|| StoreError::NotFound(format!("article {id}")))
    }

    /// [`KbStore::articles`](touchpoint_store::KbStore::articles).
    pub async fn articles(&self, project: ProjectId) -> Result<Vec<Article>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kb_articles a JOIN kb_versions v ON v.article_id = a.id \
             WHERE a.project_id = $1 AND {NEWEST} ORDER BY a.id"
        );
        let rows = sqlx::query(&sql).bind(project).fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::row).collect()
    }

    /// [`KbStore::article`](touchpoint_store::KbStore::article).
    pub async fn article(&self, project: ProjectId, id: i64) -> Result<Option<Article>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kb_articles a JOIN kb_versions v ON v.article_id = a.id \
             WHERE a.project_id = $1 AND a.id = $2 AND {NEWEST}"
        );
        let rows = sqlx::query(&sql).bind(project).bind(id).fetch_all(self.0).await.sql()?;
        rows.first().map(Self::row).transpose()
    }

    /// [`KbStore::article_versions`](touchpoint_store::KbStore::article_versions).
    pub async fn article_versions(&self, project: ProjectId, id: i64) -> Result<Vec<Article>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kb_articles a JOIN kb_versions v ON v.article_id = a.id \
             WHERE a.project_id = $1 AND a.id = $2 ORDER BY v.version DESC"
        );
        let rows = sqlx::query(&sql).bind(project).bind(id).fetch_all(self.0).await.sql()?;
        rows.iter().map(Self::row).collect()
    }

    /// [`KbStore::kb_stamp`](touchpoint_store::KbStore::kb_stamp).
    pub async fn kb_stamp(&self, project: ProjectId) -> Result<(i64, i64)> {
        let rows = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(v.created_ms), 0) AS at FROM kb_versions v \
             JOIN kb_articles a ON a.id = v.article_id WHERE a.project_id = $1",
        )
        .bind(project)
        .fetch_all(self.0)
        .await
        .sql()?;
        match rows.first() {
            Some(r) => Ok((Self::get(r, "n")?, Self::get(r, "at")?)),
            None => Ok((0, 0)),
        }
    }
}
