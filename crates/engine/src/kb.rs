//! The knowledge base's use cases: write articles (each edit a new version), list and read
//! them, and search them — for the API, the CLI, the dashboard and the portal alike. The
//! search runs on an index of each project's published articles
//! ([`touchpoint_selfserve::search`]), kept here ([`Indexes`]): rebuilt at once after a
//! write through the same `Indexes`, and within [`STAMP_RECHECK`] after one through
//! another node or the CLI.

use crate::error::{Code, Error};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use touchpoint_core::{Lang, ProjectId};
use touchpoint_selfserve::search::{Doc, Found, Index, Query};
use touchpoint_selfserve::stem::slug;
use touchpoint_store::kb::{Article, ArticleDraft};
use touchpoint_store::{now_ms, Store};

/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// The longest text, in characters.
pub const MAX_BODY: usize = 100_000;
/// The longest query, in characters.
pub const MAX_QUERY: usize = 200;
/// The most results a search returns.
pub const MAX_RESULTS: usize = 50;
/// How long an index is used before the store is asked whether the articles changed
/// elsewhere (a write through the same [`Indexes`] rebuilds it at once).
pub const STAMP_RECHECK: Duration = Duration::from_secs(1);

/// What an author sends: a new article or its next version.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// `cs`, `pl` or `en`.
    pub lang: String,
    /// The title (1–200 characters).
    pub title: String,
    /// The text: paragraphs separated by a blank line, `- ` list items (up to 100 000
    /// characters).
    pub body: String,
    /// Whether customers see it (default true; false keeps it a draft).
    pub published: Option<bool>,
    /// For an edit: the version it started from. When someone saved a newer one in the
    /// meantime, the edit is refused (409) rather than overwriting theirs.
    pub base_version: Option<i64>,
}

/// An article as the front ends show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ArticleView {
    /// Id.
    pub id: i64,
    /// Version (1, 2, …).
    pub version: i64,
    /// `cs`, `pl` or `en`.
    pub lang: String,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Whether customers see it.
    pub published: bool,
    /// Who wrote this version.
    pub author: Option<String>,
    /// The title as a URL path part.
    pub slug: String,
    /// When the article was created, ms since the epoch.
    pub created_ms: i64,
    /// When this version was written, ms since the epoch.
    pub updated_ms: i64,
}

impl From<Article> for ArticleView {
    fn from(a: Article) -> ArticleView {
        ArticleView {
            id: a.id,
            version: a.version,
            slug: slug(&a.draft.title),
            lang: a.draft.lang,
            title: a.draft.title,
            body: a.draft.body,
            published: a.draft.published,
            author: a.draft.author,
            created_ms: a.created_ms,
            updated_ms: a.updated_ms,
        }
    }
}

/// A language tag written exactly as the product writes it (`cs`, `pl`, `en`).
fn exact_lang(tag: &str) -> Option<Lang> {
    Lang::ALL.into_iter().find(|l| l.code() == tag)
}

/// Check an author's input (see [`ArticleInput`]) into a draft.
pub fn draft(input: &ArticleInput, author: Option<String>) -> Result<ArticleDraft, Error> {
    let bad = |field: &str, msg: String| Error::invalid(Code::InvalidBody, Some(field.into()), msg);
    let lang = exact_lang(&input.lang)
        .ok_or_else(|| bad("lang", format!("lang {:?} is not one of cs, pl, en", input.lang)))?;
    let title = input.title.trim();
    if title.is_empty() {
        return Err(bad("title", "title is empty".into()));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(bad("title", format!("title is longer than {MAX_TITLE} characters")));
    }
    if input.body.chars().count() > MAX_BODY {
        return Err(bad("body", format!("body is longer than {MAX_BODY} characters")));
    }
    if input.base_version.is_some_and(|b| b < 1) {
        return Err(bad("base_version", "base_version is a version number: 1 or more".into()));
    }
    if title.contains('\0') || input.body.contains('\0') {
        return Err(bad(if title.contains('\0') { "title" } else { "body" }, "a NUL character is not text".into()));
    }
    Ok(ArticleDraft {
        lang: lang.code().into(),
        title: title.into(),
        body: input.body.trim_end().into(),
        published: input.published.unwrap_or(true),
        author,
    })
}

/// Create an article; `indexes` (the node's) searches it at once.
pub async fn create(
    store: &dyn Store,
    indexes: Option<&Indexes>,
    project: ProjectId,
    input: &ArticleInput,
    author: Option<String>,
) -> Result<ArticleView, Error> {
    if input.base_version.is_some() {
        return Err(Error::invalid(
            Code::InvalidBody,
            Some("base_version".into()),
            "a new article has no base_version",
        ));
    }
    let d = draft(input, author)?;
    let a = store.create_article(project, &d, now_ms()).await?;
    if let Some(i) = indexes {
        i.forget(project);
    }
    Ok(a.into())
}

/// Write the next version of an article; `indexes` (the node's) searches it at once.
pub async fn update(
    store: &dyn Store,
    indexes: Option<&Indexes>,
    project: ProjectId,
    id: i64,
    input: &ArticleInput,
    author: Option<String>,
) -> Result<ArticleView, Error> {
    let d = draft(input, author)?;
    let a = store.update_article(project, id, &d, input.base_version, now_ms()).await.map_err(|e| match e {
        touchpoint_store::StoreError::NotFound(_) => Error::missing("id", format!("no article {id}")),
        touchpoint_store::StoreError::Exists(_) => Error::conflict(match input.base_version {
            Some(b) => format!("article {id} was changed after version {b} by someone else; reload it and edit again"),
            None => format!("article {id} was changed by someone else at the same moment; send the edit again"),
        })
        .at("base_version"),
        other => other.into(),
    })?;
    if let Some(i) = indexes {
        i.forget(project);
    }
    Ok(a.into())
}

/// Every article (the newest version of each), drafts too.
pub async fn list(store: &dyn Store, project: ProjectId) -> Result<Vec<ArticleView>, Error> {
    Ok(store.articles(project).await?.into_iter().map(ArticleView::from).collect())
}

/// One article; with `published_only`, a draft is not found either (what customers see).
pub async fn get(store: &dyn Store, project: ProjectId, id: i64, published_only: bool) -> Result<ArticleView, Error> {
    match store.article(project, id).await? {
        Some(a) if a.draft.published || !published_only => Ok(a.into()),
        _ => Err(Error::missing("id", format!("no article {id}"))),
    }
}

/// Every version of an article, newest first.
pub async fn versions(store: &dyn Store, project: ProjectId, id: i64) -> Result<Vec<ArticleView>, Error> {
    let all = store.article_versions(project, id).await?;
    if all.is_empty() {
        return Err(Error::missing("id", format!("no article {id}")));
    }
    Ok(all.into_iter().map(ArticleView::from).collect())
}

/// What a search asks (the API's query string, the portal's form, the CLI's arguments).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchInput {
    /// The words (up to 200 characters; none finds nothing).
    #[serde(default)]
    pub q: String,
    /// `cs`, `pl` or `en`: that language's articles and stemmer; none: every language.
    pub lang: Option<String>,
    /// How many results (1–50, default 10).
    pub limit: Option<usize>,
    /// The last word is still being typed: suggestions for a request being written.
    #[serde(default)]
    pub prefix: bool,
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchAnswer {
    /// The words searched.
    pub q: String,
    /// The language searched, when one was.
    pub lang: Option<String>,
    /// How many articles matched (also beyond the limit).
    pub total: usize,
    /// The best of them, best first.
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<HitView>,
}

/// One article found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitView {
    /// The article's id.
    pub id: i64,
    /// Its title, as written.
    pub title: String,
    /// Its title as a URL path part.
    pub slug: String,
    /// The hit: score, title and snippet with the matched words marked.
    #[serde(flatten)]
    pub hit: touchpoint_selfserve::search::Hit,
}

/// Search a project's published articles (through a node's indexes, or a fresh
/// `Indexes::default()` for a one-off search).
pub async fn search(
    store: &dyn Store,
    indexes: &Indexes,
    project: ProjectId,
    input: &SearchInput,
) -> Result<SearchAnswer, Error> {
    let q = input.q.trim();
    if q.chars().count() > MAX_QUERY {
        return Err(Error::invalid(
            Code::InvalidQuery,
            Some("q".into()),
            format!("q is longer than {MAX_QUERY} characters"),
        ));
    }
    let lang = match input.lang.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(exact_lang(l).ok_or_else(|| {
            Error::invalid(Code::InvalidQuery, Some("lang".into()), format!("lang {l:?} is not one of cs, pl, en"))
        })?),
    };
    let limit = crate::read::count_in("limit", input.limit, 10, MAX_RESULTS)?;
    let index = indexes.index(store, project).await?;
    let found: Found = index.search(&Query { text: q.into(), lang, limit, prefix: input.prefix });
    let hits = found
        .hits
        .into_iter()
        .map(|hit| {
            let title: String = hit.title.iter().map(|t| t.text.as_str()).collect();
            HitView { id: hit.id, slug: slug(&title), title, hit }
        })
        .collect();
    Ok(SearchAnswer { q: q.into(), lang: lang.map(|l| l.code().to_string()), total: found.total, hits })
}

/// A project's index, with what it was built from.
struct Cached {
    /// The index of the published articles.
    index: Arc<Index>,
    /// The store's [`KbStore::kb_stamp`](touchpoint_store::KbStore::kb_stamp) it was built at.
    stamp: (i64, i64),
    /// When the stamp was last compared with the store's.
    checked: Instant,
}

/// Each project's search index, built on first use and rebuilt when its articles change:
/// at once after a write through these indexes, within [`STAMP_RECHECK`] after one
/// elsewhere (the store's stamp, one small query, is compared at most that often).
#[derive(Default)]
pub struct Indexes {
    /// By project.
    cache: Mutex<HashMap<ProjectId, Cached>>,
}

impl Indexes {
    /// Forget a project's index (its articles changed).
    pub fn forget(&self, project: ProjectId) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(&project);
    }

    /// A project's current index.
    pub async fn index(&self, store: &dyn Store, project: ProjectId) -> Result<Arc<Index>, Error> {
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.get(&project).map(|c| (c.index.clone(), c.stamp, c.checked))
        };
        if let Some((index, _, checked)) = &cached {
            if checked.elapsed() < STAMP_RECHECK {
                return Ok(index.clone());
            }
        }
        let stamp = store.kb_stamp(project).await?;
        let index = match cached {
            Some((index, was, _)) if was == stamp => index,
            _ => {
                let docs: Vec<Doc> = store
                    .articles(project)
                    .await?
                    .into_iter()
                    .filter(|a| a.draft.published)
                    .map(|a| Doc {
                        id: a.id,
                        lang: Lang::parse(&a.draft.lang).unwrap_or(Lang::En),
                        title: a.draft.title,
                        body: a.draft.body,
                    })
                    .collect();
                let built = tokio::task::spawn_blocking(move || Index::build(docs));
                Arc::new(built.await.map_err(|e| Error::internal(e.to_string()))?)
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(project, Cached { index: index.clone(), stamp, checked: Instant::now() });
        Ok(index)
    }
}
