//! [`KbStore`] on PostgreSQL: the knowledge base's articles and versions. The SQL
//! is the embedded store's, written once for both databases (`touchpoint_store_sqlite::sql_kb`); this is only the store's pool handed to it.

use crate::PgMetaStore;
use async_trait::async_trait;
use touchpoint_core::ProjectId;
use touchpoint_store::kb::{Article, ArticleDraft, KbStore};
use touchpoint_store::Result;
use touchpoint_store_sqlite::sql_kb::KbSql;

impl PgMetaStore {
    /// The shared knowledge-base SQL on this store's pool.
    fn kb(&self) -> KbSql<'_, sqlx::Postgres> {
        KbSql(&self.pool)
    }
}

#[async_trait]
impl KbStore for PgMetaStore {
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
