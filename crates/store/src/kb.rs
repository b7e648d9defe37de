//! The knowledge base's articles: each a language, a title and a text, kept with every
//! version an edit made (an edit adds a version and changes none). The store keeps and
//! returns them; the engine checks drafts and searches (`touchpoint_selfserve::search`).

use crate::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use touchpoint_core::ProjectId;

/// What an author writes: a new article or a new version of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleDraft {
    /// Its language tag (`cs`, `pl`, `en`).
    pub lang: String,
    /// Its title.
    pub title: String,
    /// Its text (Markdown-light: paragraphs, `-` lists).
    pub body: String,
    /// Whether customers see it (an unpublished version is a draft, and hides the article).
    pub published: bool,
    /// Who wrote this version (an account's e-mail address, `cli`, `demo`).
    pub author: Option<String>,
}

/// One version of an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// The article's id.
    pub id: i64,
    /// Its project.
    pub project_id: ProjectId,
    /// This version's number (1, 2, …).
    pub version: i64,
    /// The text of this version.
    #[serde(flatten)]
    pub draft: ArticleDraft,
    /// When the article was created, ms since the epoch.
    pub created_ms: i64,
    /// When this version was written, ms since the epoch.
    pub updated_ms: i64,
}

/// Articles and their versions.
#[async_trait]
pub trait KbStore: Send + Sync {
    /// A new article (version 1).
    async fn create_article(&self, project: ProjectId, draft: &ArticleDraft, now_ms: i64) -> Result<Article>;
    /// A new version of an article. With `base`, the version the edit started from: when
    /// another edit came after it, nothing is written and the answer is `Exists` (two
    /// authors never overwrite each other unseen). `NotFound` without the article in the
    /// project.
    async fn update_article(
        &self,
        project: ProjectId,
        id: i64,
        draft: &ArticleDraft,
        base: Option<i64>,
        now_ms: i64,
    ) -> Result<Article>;
    /// The newest version of every article of a project, by id.
    async fn articles(&self, project: ProjectId) -> Result<Vec<Article>>;
    /// The newest version of one article.
    async fn article(&self, project: ProjectId, id: i64) -> Result<Option<Article>>;
    /// Every version of an article, newest first (empty without the article).
    async fn article_versions(&self, project: ProjectId, id: i64) -> Result<Vec<Article>>;
    /// What changes whenever a project's articles do (the count of versions and the newest
    /// write), so that a node can tell that its search index is stale without reading them.
    async fn kb_stamp(&self, project: ProjectId) -> Result<(i64, i64)>;
}
