//! The customer portal's use cases: what a customer does there, each step put into their
//! journey as a touchpoint of the self-service channel (`portal-visit`, `kb-search` with
//! the query and the number of results, `kb-article`, `kb-helpful`/`kb-not-helpful`), so
//! that self-service shows on the journey map, in funnels, churn drivers and attribution
//! like every other touchpoint. The portal's pages (the server) only translate.
//!
//! A visitor is known by the anonymous id of their browser (the pages' session cookie),
//! as Segment's SDKs know one; signing in will tie it to the customer.

use crate::error::Error;
use crate::kb::{self, ArticleView, SearchAnswer, SearchInput};
use crate::Engine;
use serde_json::{json, Map, Value};
use touchpoint_core::catalog::{
    KB_ARTICLE_EVENT, KB_HELPFUL_EVENT, KB_NOT_HELPFUL_EVENT, KB_SEARCH_EVENT, PORTAL_VISIT_EVENT,
};
use touchpoint_core::event::{format_time, ParseContext};
use touchpoint_core::{Event, Lang, Limits, ProjectId};
use touchpoint_selfserve::stem::fold;
use touchpoint_store::now_ms;

/// The most results a portal search shows.
pub const PORTAL_RESULTS: usize = 20;

/// Who is on the portal.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Their browser's anonymous id.
    pub anonymous_id: String,
    /// The language the portal shows.
    pub lang: Lang,
}

/// Put a portal step into the visitor's journey (through the writer; a full queue waits,
/// the step is not lost).
async fn record(s: &Engine, project: ProjectId, v: &Visitor, event: &str, props: Map<String, Value>) {
    let body = json!({
        "type": "track",
        "event": event,
        "anonymousId": v.anonymous_id,
        "messageId": format!("portal-{:032x}", rand::random::<u128>()),
        "timestamp": format_time(now_ms()),
        "properties": props,
        "context": {"locale": v.lang.code(), "channel": "self-service"},
    });
    match Event::parse(body, &ParseContext { received_at: now_ms(), ..Default::default() }, &Limits::default()) {
        Ok(e) => crate::surveys::submit_events(s, project, vec![e]).await,
        Err(e) => tracing::error!(error = %e, "a portal event did not parse"),
    }
}

/// A visit began (the first page of a browser session).
pub async fn visit(s: &Engine, project: ProjectId, v: &Visitor) {
    record(s, project, v, PORTAL_VISIT_EVENT, Map::new()).await;
}

/// Search the published articles in the visitor's language, and record the search with
/// its query and how many articles it found (an empty query records nothing).
pub async fn search(s: &Engine, project: ProjectId, v: &Visitor, q: &str) -> Result<SearchAnswer, Error> {
    let input =
        SearchInput { q: q.into(), lang: Some(v.lang.code().into()), limit: Some(PORTAL_RESULTS), prefix: false };
    let answer = kb::search(&*s.store, &s.kb, project, &input).await?;
    if !answer.q.is_empty() {
        let mut props = Map::new();
        props.insert("query".into(), json!(answer.q));
        props.insert("results".into(), json!(answer.total));
        props.insert("lang".into(), json!(v.lang.code()));
        record(s, project, v, KB_SEARCH_EVENT, props).await;
    }
    Ok(answer)
}

/// The published articles in the visitor's language, by title (without diacritics, so
/// `Záruka` sorts among the `Z`s).
pub async fn articles(s: &Engine, project: ProjectId, v: &Visitor) -> Result<Vec<ArticleView>, Error> {
    let mut all: Vec<ArticleView> =
        kb::list(&*s.store, project).await?.into_iter().filter(|a| a.published && a.lang == v.lang.code()).collect();
    all.sort_by_cached_key(|a| (fold(&a.title), a.id));
    Ok(all)
}

/// Read a published article, and record it when `count` (not when the same visitor is
/// shown it again after answering "did this help?").
pub async fn read(s: &Engine, project: ProjectId, v: &Visitor, id: i64, count: bool) -> Result<ArticleView, Error> {
    let a = kb::get(&*s.store, project, id, true).await?;
    if !count {
        return Ok(a);
    }
    let mut props = Map::new();
    props.insert("article_id".into(), json!(a.id));
    props.insert("title".into(), json!(a.title));
    props.insert("lang".into(), json!(a.lang));
    record(s, project, v, KB_ARTICLE_EVENT, props).await;
    Ok(a)
}

/// The visitor said whether a published article helped.
pub async fn rate(s: &Engine, project: ProjectId, v: &Visitor, id: i64, helpful: bool) -> Result<ArticleView, Error> {
    let a = kb::get(&*s.store, project, id, true).await?;
    let mut props = Map::new();
    props.insert("article_id".into(), json!(a.id));
    props.insert("helpful".into(), json!(helpful));
    let event = if helpful { KB_HELPFUL_EVENT } else { KB_NOT_HELPFUL_EVENT };
    record(s, project, v, event, props).await;
    Ok(a)
}
