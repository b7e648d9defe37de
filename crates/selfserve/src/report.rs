//! The self-service report: does the help centre help? From each customer's steps — a
//! search (its query and how many articles it found), an article read, "did this help?",
//! and an assisted contact (a call, a chat) — it measures:
//!
//! - the **self-service score**: customers who used the help centre ÷ customers who needed
//!   assistance, with a 95 % interval for a ratio of two counts (Katz's log interval,
//!   `exp(ln(a/b) ± 1.96·sqrt(1/a + 1/b))`);
//! - **deflection**: a self-service *episode* (help-centre steps of one customer with less
//!   than [`Options::session_ms`] between them) not followed by an assisted contact within
//!   [`Options::within_ms`] of its last step, as a share of episodes; and the **strict**
//!   form that counts only episodes where the customer said an article helped;
//! - **search success**: searches that found something and were followed by an article
//!   read within [`Options::session_ms`], before the next search that found something (a
//!   read belongs to that search; one that found nothing led to no article);
//! - the **top failed searches**: searches that found nothing, or whose customer read no
//!   article after them, grouped by the query's terms as the search matches them (folded
//!   and stemmed in the language searched: `Zpoždění`, `zpozdeni` and `zpožděním` are one),
//!   each with how many were followed by an assisted contact within the window;
//! - **article helpfulness**: each article's yes ÷ (yes + no);
//! - the **cost saved**: deflected episodes × (cost of an assisted contact − cost of a
//!   self-service one).
//!
//! Every share is a [`Rate`]: its count, its n and its Wilson 95 % interval. Pure and
//! deterministic: steps are ordered by (customer, time, kind) before anything is counted,
//! and every list is sorted with its ties broken by its key.

use crate::search::words;
use crate::stem::{fold, term};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use touchpoint_analytics::stats::wilson;
use touchpoint_core::i18n::Lang;

/// One step of a customer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Step {
    /// The customer.
    pub customer: i64,
    /// When, ms since the epoch.
    pub t_ms: i64,
    /// What.
    pub kind: StepKind,
}

/// What a step was.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// A help-centre search.
    Search {
        /// The words, as typed.
        query: String,
        /// How many articles it found.
        results: u64,
        /// The language searched (its stemmer groups the query's forms).
        lang: Option<Lang>,
    },
    /// An article read.
    Article {
        /// The article.
        id: i64,
    },
    /// "Did this help?" answered.
    Rated {
        /// The article.
        id: i64,
        /// Yes or no.
        helpful: bool,
    },
    /// A contact with the service team (a call, a chat).
    Assisted,
}

impl StepKind {
    /// Whether the step is the customer helping themselves.
    fn is_self_service(&self) -> bool {
        !matches!(self, StepKind::Assisted)
    }
}

/// How the report counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// An episode is deflected when no assisted contact follows within this (default 7 days).
    pub within_ms: i64,
    /// Help-centre steps closer than this are one episode, and a search is a success when an
    /// article is read within it (default 30 minutes).
    pub session_ms: i64,
    /// What an assisted contact costs (default 8.0).
    pub cost_assisted: f64,
    /// What a self-service episode costs (default 0.10).
    pub cost_self: f64,
    /// How many failed searches to list (default 10).
    pub top: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { within_ms: 7 * 86_400_000, session_ms: 30 * 60_000, cost_assisted: 8.0, cost_self: 0.10, top: 10 }
    }
}

/// A share with its n and 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// How many of the n.
    pub k: u64,
    /// Of how many.
    pub n: u64,
    /// k / n (`None` when n is 0).
    pub rate: Option<f64>,
    /// The Wilson 95 % interval's lower bound (`None` when n is 0).
    pub low: Option<f64>,
    /// Its upper bound.
    pub high: Option<f64>,
}

impl Rate {
    /// `k` of `n`.
    pub fn of(k: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate { k, n, rate: None, low: None, high: None };
        }
        let i = wilson(k, n, 0.95);
        Rate { k, n, rate: Some(k as f64 / n as f64), low: Some(i.low), high: Some(i.high) }
    }
}

/// A ratio of two counts with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The numerator.
    pub a: u64,
    /// The denominator.
    pub b: u64,
    /// a / b (`None` when b is 0).
    pub ratio: Option<f64>,
    /// Katz's log interval, lower bound (`None` when a or b is 0).
    pub low: Option<f64>,
    /// Its upper bound.
    pub high: Option<f64>,
}

impl Ratio {
    /// `a` ÷ `b`.
    pub fn of(a: u64, b: u64) -> Ratio {
        let ratio = (b > 0).then(|| a as f64 / b as f64);
        let (low, high) = if a > 0 && b > 0 {
            let r = a as f64 / b as f64;
            let se = (1.0 / a as f64 + 1.0 / b as f64).sqrt();
            (Some((r.ln() - 1.96 * se).exp()), Some((r.ln() + 1.96 * se).exp()))
        } else {
            (None, None)
        };
        Ratio { a, b, ratio, low, high }
    }
}

/// A query that failed customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedSearch {
    /// The query as customers typed it most often.
    pub query: String,
    /// The language it was searched in.
    pub lang: Option<Lang>,
    /// Searches with it that failed (no results, or no article read after).
    pub searches: u64,
    /// Of them, the ones that found nothing at all.
    pub no_results: u64,
    /// Customers who searched it.
    pub customers: u64,
    /// Failed searches followed by an assisted contact within the window.
    pub then_assisted: Rate,
}

/// An article's "did this help?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleHelp {
    /// The article.
    pub id: i64,
    /// Reads.
    pub views: u64,
    /// Yes ÷ (yes + no).
    pub helpful: Rate,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Customers with a help-centre step.
    pub customers_self_served: u64,
    /// Customers with an assisted contact.
    pub customers_assisted: u64,
    /// The first ÷ the second.
    pub self_service_score: Ratio,
    /// Help-centre episodes.
    pub episodes: u64,
    /// Episodes not followed by an assisted contact within the window.
    pub deflection: Rate,
    /// Episodes with an article that helped and no assisted contact within the window.
    pub deflection_resolved: Rate,
    /// Searches followed by an article read.
    pub search_success: Rate,
    /// Searches that found nothing.
    pub no_results: Rate,
    /// The queries that failed most often, most first.
    pub failed_searches: Vec<FailedSearch>,
    /// Each rated or read article, most read first.
    pub articles: Vec<ArticleHelp>,
    /// Deflected episodes × (cost of an assisted contact − cost of a self-service one).
    pub cost_saved: f64,
    /// The options it was counted with.
    pub options: Options,
}

/// What a query is grouped by: its words' terms in the language searched (folded only
/// when it is not known), in order.
fn query_key(query: &str, lang: Option<Lang>) -> String {
    words(query)
        .iter()
        .map(|w| match lang {
            Some(l) => term(l, &w.lower),
            None => fold(&w.lower),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report of these steps (any order).
pub fn report(steps: &[Step], o: &Options) -> Report {
    let mut steps = steps.to_vec();
    steps.sort();
    let mut by_customer: BTreeMap<i64, Vec<&Step>> = BTreeMap::new();
    for s in &steps {
        by_customer.entry(s.customer).or_default().push(s);
    }
    let (mut self_served, mut assisted) = (0u64, 0u64);
    let (mut episodes, mut deflected, mut resolved) = (0u64, 0u64, 0u64);
    let (mut searches, mut successes, mut empty) = (0u64, 0u64, 0u64);
    // Folded query → (forms typed with their counts, failed, no results, customers, then assisted).
    #[allow(clippy::type_complexity)]
    let mut failed: HashMap<(Option<Lang>, String), (BTreeMap<String, u64>, u64, u64, BTreeSet<i64>, u64)> =
        HashMap::new();
    let mut help: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
    for (&customer, mine) in &by_customer {
        let contacts: Vec<i64> = mine.iter().filter(|s| s.kind == StepKind::Assisted).map(|s| s.t_ms).collect();
        assisted += u64::from(!contacts.is_empty());
        self_served += u64::from(mine.iter().any(|s| s.kind.is_self_service()));
        // An assisted contact after `t` and within the window.
        let contact_after = |t: i64| contacts.iter().any(|&c| c > t && c - t <= o.within_ms);
        let own: Vec<&Step> = mine.iter().copied().filter(|s| s.kind.is_self_service()).collect();
        // Episodes.
        let mut i = 0;
        while i < own.len() {
            let mut j = i;
            while j + 1 < own.len() && own[j + 1].t_ms - own[j].t_ms < o.session_ms {
                j += 1;
            }
            episodes += 1;
            if !contact_after(own[j].t_ms) {
                deflected += 1;
                let helped = own[i..=j].iter().any(|s| matches!(s.kind, StepKind::Rated { helpful: true, .. }));
                resolved += u64::from(helped);
            }
            i = j + 1;
        }
        for (k, s) in own.iter().enumerate() {
            match &s.kind {
                StepKind::Search { query, results, lang } => {
                    searches += 1;
                    empty += u64::from(*results == 0);
                    // A read belongs to the last search before it that found something: a
                    // search that found nothing led to no article.
                    let found = |n: &Step| matches!(n.kind, StepKind::Search { results, .. } if results > 0);
                    let read = *results > 0
                        && own[k + 1..]
                            .iter()
                            .take_while(|n| n.t_ms - s.t_ms < o.session_ms && !found(n))
                            .any(|n| matches!(n.kind, StepKind::Article { .. }));
                    if read {
                        successes += 1;
                    } else {
                        let key = (*lang, query_key(query, *lang));
                        let e = failed.entry(key).or_default();
                        *e.0.entry(query.trim().to_string()).or_default() += 1;
                        e.1 += 1;
                        e.2 += u64::from(*results == 0);
                        e.3.insert(customer);
                        e.4 += u64::from(contact_after(s.t_ms));
                    }
                }
                StepKind::Article { id } => help.entry(*id).or_default().0 += 1,
                StepKind::Rated { id, helpful: true } => help.entry(*id).or_default().1 += 1,
                StepKind::Rated { id, helpful: false } => help.entry(*id).or_default().2 += 1,
                StepKind::Assisted => {}
            }
        }
    }
    let mut failed_searches: Vec<FailedSearch> = failed
        .into_iter()
        .map(|((lang, key), (forms, n, none, customers, then))| {
            // The commonest form; equal counts: the first in order.
            let query = forms.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|f| f.0.clone()).unwrap_or(key);
            FailedSearch {
                query,
                lang,
                searches: n,
                no_results: none,
                customers: customers.len() as u64,
                then_assisted: Rate::of(then, n),
            }
        })
        .collect();
    failed_searches.sort_by(|a, b| b.searches.cmp(&a.searches).then(a.query.cmp(&b.query)).then(a.lang.cmp(&b.lang)));
    failed_searches.truncate(o.top);
    let mut articles: Vec<ArticleHelp> = help
        .into_iter()
        .map(|(id, (views, yes, no))| ArticleHelp { id, views, helpful: Rate::of(yes, yes + no) })
        .collect();
    articles.sort_by(|a, b| b.views.cmp(&a.views).then(a.id.cmp(&b.id)));
    Report {
        customers_self_served: self_served,
        customers_assisted: assisted,
        self_service_score: Ratio::of(self_served, assisted),
        episodes,
        deflection: Rate::of(deflected, episodes),
        deflection_resolved: Rate::of(resolved, episodes),
        search_success: Rate::of(successes, searches),
        no_results: Rate::of(empty, searches),
        failed_searches,
        articles,
        cost_saved: deflected as f64 * (o.cost_assisted - o.cost_self),
        options: o.clone(),
    }
}
