//! [`KbStore`] on the embedded store: the knowledge base's articles and versions. The SQL
//! is shared with PostgreSQL ([`crate::sql_kb`]); this is only the store's pool handed to it.

use crate::sql_kb::KbSql;
use crate::sqlite::SqliteStore;
use async_trait::async_trait;
use touchpoint_core::ProjectId;
use touchpoint_store::kb::{Article, ArticleDraft, KbStore};
use touchpoint_store::Result;

impl SqliteStore {
    /// The shared knowledge-base SQL on this store's pool.
    fn kb(&self) -> KbSql<'_, sqlx::Sqlite> {
        KbSql(self.pool())
    }
}

#[async_trait]
impl KbStore for SqliteStore {
    async fn create_article(&self, project: ProjectId, draft: &ArticleDraft, now_ms: i64) -> Result<Article> {
        self.kb().create_article(project, draft, now_ms).await
    }

    async fn update_article(
        &self,
        project: ProjectId,
        id: i64,
        draft: &ArticleDraft,
        base: Option<i64>,
        now_ms: i64,
    ) -> Result<Article> {
        self.kb().update_article(project, id, draft, base, now_ms).await
    }

    async fn articles(&self, project: ProjectId) -> Result<Vec<Article>> {
        self.kb().articles(project).await
    }

    async fn article(&self, project: ProjectId, id: i64) -> Result<Option<Article>> {
        self.kb().article(project, id).await
    }

    async fn article_versions(&self, project: ProjectId, id: i64) -> Result<Vec<Article>> {
        self.kb().article_versions(project, id).await
    }

    async fn kb_stamp(&self, project: ProjectId) -> Result<(i64, i64)> {
        self.kb().kb_stamp(project).await
    }
}
