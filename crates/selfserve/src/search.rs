//! The knowledge base's search: an inverted index over a project's articles, one per
//! language, ranked by BM25 with the title weighing more than the body, with highlighted
//! snippets and suggestions while a customer types.
//!
//! # Words and terms
//!
//! A word is a run of letters and digits (combining marks stay with their letter), as in
//! [`words`]. Each word of an article is indexed as its term ([`stem::term`]: lowercased,
//! without diacritics, stemmed in the article's language). A query's words go the same
//! way, in the language searched; its stop words (`jak`, `jaki`, `the` …, listening's
//! lists) are left out unless it has nothing else.
//!
//! # Ranking
//!
//! For a query of terms `q₁ … qₙ` an article `d` scores
//!
//! ```text
//! score(d) = Σᵢ idf(qᵢ) · tf(qᵢ, d) · (k₁ + 1) / (tf(qᵢ, d) + k₁ · (1 − b + b · |d| / avg|d|))
//! idf(t)   = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//! ```
//!
//! (Okapi BM25 with Lucene's non-negative idf, `k₁` = 1.2, `b` = 0.75), where the term
//! frequency and the length count a title word [`TITLE_WEIGHT`] times (BM25F with one
//! length), `N` is the number of articles in the language and `df(t)` how many contain `t`.
//! A term repeated in the query counts once. Articles with no query term are not results;
//! equal scores are ordered by article id, so the same query always gives the same list.
//!
//! As the customer types (`prefix`), the last word is unfinished: it stands for every word
//! of the articles that begins with it (folded), and an article counts the best of them.

use crate::stem::{fold, term};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use touchpoint_core::i18n::Lang;
use touchpoint_listen::text::StopWords;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// How much more a title word counts than a body word.
pub const TITLE_WEIGHT: f64 = 3.0;
/// BM25's term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25's length normalisation.
pub const B: f64 = 0.75;
/// Words in a snippet.
pub const SNIPPET_WORDS: usize = 28;
/// Words of the articles an unfinished last word may stand for, the commonest first.
pub const PREFIX_EXPANSIONS: usize = 64;

/// An article as the index takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    /// The article's id.
    pub id: i64,
    /// Its language: the stemmer its words go through.
    pub lang: Lang,
    /// Its title.
    pub title: String,
    /// Its text (plain or Markdown; searched as words).
    pub body: String,
}

/// A word of a text: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Its first byte in the text.
    pub start: usize,
    /// The byte after it.
    pub end: usize,
    /// The word lowercased and NFC-normalised (how stop words are written).
    pub lower: String,
}

/// The words of a text, in order (see the module documentation).
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let inside = c.is_alphanumeric() || (start.is_some() && is_combining_mark(c));
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(word(text, s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(word(text, s, text.len()));
    }
    out
}

/// One word of [`words`].
fn word(text: &str, start: usize, end: usize) -> Word {
    Word { start, end, lower: text[start..end].to_lowercase().nfc().collect() }
}

/// A piece of a title or snippet: the text, and whether a query term matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The text, as written in the article.
    pub text: String,
    /// Whether it is a matched word (shown highlighted).
    pub hit: bool,
}

/// One article found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The article's id.
    pub id: i64,
    /// Its language.
    pub lang: Lang,
    /// Its BM25 score (see the module documentation).
    pub score: f64,
    /// Its title, with the matched words marked.
    pub title: Vec<Segment>,
    /// The part of its text with the most matched words, marked.
    pub snippet: Vec<Segment>,
    /// Whether the text goes on before the snippet.
    pub snippet_cut_before: bool,
    /// Whether the text goes on after the snippet.
    pub snippet_cut_after: bool,
}

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The customer's words.
    pub text: String,
    /// The language searched (its articles, its stemmer); `None` searches each language's
    /// articles with its own stemmer and merges by score.
    pub lang: Option<Lang>,
    /// The most results returned.
    pub limit: usize,
    /// The last word is still being typed (see the module documentation).
    pub prefix: bool,
}

/// The answer to a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    /// How many articles matched (also beyond `limit`).
    pub total: usize,
    /// The best `limit` of them, best first.
    pub hits: Vec<Hit>,
}

/// One article's count of a term.
#[derive(Debug, Clone, Copy)]
struct Posting {
    /// The article (index into [`LangIndex::docs`]).
    doc: u32,
    /// Its weighted term frequency.
    tf: f32,
}

/// The index of one language's articles.
#[derive(Debug, Default)]
struct LangIndex {
    /// The articles (indexes into [`Index::docs`]).
    docs: Vec<usize>,
    /// Each article's weighted length.
    lens: Vec<f32>,
    /// The mean weighted length.
    avg_len: f64,
    /// Term ids.
    terms: HashMap<String, u32>,
    /// Each term's postings, by article.
    postings: Vec<Vec<Posting>>,
    /// Every folded word of the articles with its term, for prefixes.
    surface: BTreeMap<String, u32>,
}

/// The search index over a project's articles. Built once from them ([`Index::build`]);
/// rebuilt when they change.
#[derive(Debug, Default)]
pub struct Index {
    /// The articles.
    docs: Vec<Doc>,
    /// Per language, in [`Lang::ALL`]'s order.
    langs: [LangIndex; 3],
}

/// The position of a language in [`Lang::ALL`].
fn slot(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::Cs => 1,
        Lang::Pl => 2,
    }
}

impl Index {
    /// The index of these articles.
    pub fn build(docs: Vec<Doc>) -> Index {
        let mut langs: [LangIndex; 3] = Default::default();
        // Each distinct word of a language is folded and stemmed once.
        let mut seen: [HashMap<String, u32>; 3] = Default::default();
        let mut tf: HashMap<u32, f64> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            let li = &mut langs[slot(d.lang)];
            let cache = &mut seen[slot(d.lang)];
            let local = li.docs.len() as u32;
            li.docs.push(i);
            tf.clear();
            let mut length = 0.0;
            for (text, weight) in [(&d.title, TITLE_WEIGHT), (&d.body, 1.0)] {
                for w in words(text) {
                    let id = match cache.get(&w.lower) {
                        Some(&id) => id,
                        None => {
                            let next = li.terms.len() as u32;
                            let id = *li.terms.entry(term(d.lang, &w.lower)).or_insert(next);
                            if id == next {
                                li.postings.push(Vec::new());
                            }
                            li.surface.entry(fold(&w.lower)).or_insert(id);
                            cache.insert(w.lower, id);
                            id
                        }
                    };
                    *tf.entry(id).or_default() += weight;
                    length += weight;
                }
            }
            let mut counts: Vec<(u32, f64)> = tf.iter().map(|(&id, &f)| (id, f)).collect();
            counts.sort_unstable_by_key(|&(id, _)| id);
            for (id, f) in counts {
                li.postings[id as usize].push(Posting { doc: local, tf: f as f32 });
            }
            li.lens.push(length as f32);
        }
        for li in &mut langs {
            li.avg_len = if li.lens.is_empty() {
                1.0
            } else {
                li.lens.iter().map(|&l| l as f64).sum::<f64>() / li.lens.len() as f64
            };
        }
        Index { docs, langs }
    }

    /// How many articles are indexed.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether no article is indexed.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Search (see the module documentation).
    pub fn search(&self, q: &Query) -> Found {
        let langs: Vec<Lang> = match q.lang {
            Some(l) => vec![l],
            None => Lang::ALL.to_vec(),
        };
        // (score, article, the language's position in `marked`).
        let mut scored: Vec<(f64, usize, usize)> = Vec::new();
        let mut marked: Vec<(Lang, HashSet<String>)> = Vec::new();
        for lang in langs {
            let li = &self.langs[slot(lang)];
            let (slots, matched) = li.query_terms(lang, q);
            if slots.is_empty() {
                continue;
            }
            let n = li.docs.len();
            let mut scores = vec![0.0f64; n];
            let mut hit = vec![false; n];
            // The best of a slot's terms per article, and which articles it touched.
            let mut best = vec![0.0f64; n];
            let mut touched: Vec<u32> = Vec::new();
            for terms in &slots {
                for &t in terms {
                    let postings = &li.postings[t as usize];
                    let idf = idf(n, postings.len());
                    for p in postings {
                        let d = p.doc as usize;
                        let s = idf * bm25_tf(p.tf as f64, li.lens[d] as f64, li.avg_len);
                        // Every score is positive: 0 is "not touched by this slot yet".
                        if best[d] == 0.0 {
                            touched.push(p.doc);
                        }
                        if s > best[d] {
                            best[d] = s;
                        }
                    }
                }
                for &d in &touched {
                    let d = d as usize;
                    scores[d] += best[d];
                    hit[d] = true;
                    best[d] = 0.0;
                }
                touched.clear();
            }
            let at = marked.len();
            for (d, s) in scores.into_iter().enumerate() {
                if hit[d] {
                    scored.push((s, li.docs[d], at));
                }
            }
            marked.push((lang, matched));
        }
        let total = scored.len();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(self.docs[a.1].id.cmp(&self.docs[b.1].id)));
        scored.truncate(q.limit);
        let hits = scored
            .into_iter()
            .map(|(score, i, at)| {
                let (lang, matched) = (marked[at].0, &marked[at].1);
                let d = &self.docs[i];
                let marks = |text: &str| -> Vec<(usize, usize, bool)> {
                    words(text)
                        .into_iter()
                        .map(|w| {
                            let m = matched.contains(&term(lang, &w.lower))
                                || matched.contains(&format!("\0{}", fold(&w.lower)));
                            (w.start, w.end, m)
                        })
                        .collect()
                };
                let title_words = marks(&d.title);
                let title = segments(&d.title, &title_words, 0, d.title.len());
                let (snippet, before, after) = snippet(&d.body, &marks(&d.body));
                Hit { id: d.id, lang, score, title, snippet, snippet_cut_before: before, snippet_cut_after: after }
            })
            .collect();
        Found { total, hits }
    }
}

impl LangIndex {
    /// The query's slots (each the terms one query word stands for) and the terms to mark
    /// in titles and snippets (a surface word as `\0word` when the prefix matched it).
    fn query_terms(&self, lang: Lang, q: &Query) -> (Vec<Vec<u32>>, HashSet<String>) {
        let all = words(&q.text);
        let stop = stop_words(lang);
        let open_end = q.prefix && all.last().is_some_and(|w| w.end == q.text.len());
        let content: Vec<usize> = (0..all.len()).filter(|&i| !stop.contains(&all[i].lower)).collect();
        let keep: Vec<usize> = if content.is_empty() { (0..all.len()).collect() } else { content };
        let mut slots: Vec<Vec<u32>> = Vec::new();
        let mut seen: HashSet<u32> = HashSet::new();
        let mut matched = HashSet::new();
        for &i in &keep {
            let w = &all[i];
            if open_end && i + 1 == all.len() {
                let folded = fold(&w.lower);
                let mut ids: Vec<(usize, u32, &String)> = self
                    .surface
                    .range(folded.clone()..)
                    .take_while(|(s, _)| s.starts_with(&folded))
                    .map(|(s, &id)| (self.postings[id as usize].len(), id, s))
                    .collect();
                ids.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(b.2)));
                ids.truncate(PREFIX_EXPANSIONS);
                let mut slot: Vec<u32> = Vec::new();
                for (_, id, s) in ids {
                    matched.insert(format!("\0{s}"));
                    if !slot.contains(&id) {
                        slot.push(id);
                    }
                }
                if !slot.is_empty() {
                    slots.push(slot);
                }
                continue;
            }
            let t = term(lang, &w.lower);
            if let Some(&id) = self.terms.get(&t) {
                if seen.insert(id) {
                    slots.push(vec![id]);
                }
            }
            matched.insert(t);
        }
        (slots, matched)
    }
}

/// A language's stop words, made once.
fn stop_words(lang: Lang) -> &'static StopWords {
    static STOP: OnceLock<[StopWords; 3]> = OnceLock::new();
    &STOP.get_or_init(|| Lang::ALL.map(|l| StopWords::new(&[l])))[slot(lang)]
}

/// BM25's idf (non-negative).
pub fn idf(n: usize, df: usize) -> f64 {
    (1.0 + (n as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln()
}

/// BM25's term-frequency part for one article.
pub fn bm25_tf(tf: f64, len: f64, avg_len: f64) -> f64 {
    tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len))
}

/// A range of a text cut into segments at the marked words.
fn segments(text: &str, marks: &[(usize, usize, bool)], from: usize, to: usize) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut at = from;
    let push = |out: &mut Vec<Segment>, s: &str, hit: bool| {
        if s.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.hit == hit && !hit => last.text.push_str(s),
            _ => out.push(Segment { text: s.to_string(), hit }),
        }
    };
    for &(s, e, hit) in marks.iter().filter(|m| m.0 >= from && m.1 <= to) {
        if hit {
            push(&mut out, &text[at..s], false);
            push(&mut out, &text[s..e], true);
            at = e;
        }
    }
    push(&mut out, &text[at..to], false);
    out
}

/// The window of [`SNIPPET_WORDS`] words of a text with the most marked words (the first
/// such, moved so that they are in its middle), as segments, and whether the text goes on before and after it.
fn snippet(text: &str, marks: &[(usize, usize, bool)]) -> (Vec<Segment>, bool, bool) {
    if marks.is_empty() {
        return (Vec::new(), false, false);
    }
    let n = SNIPPET_WORDS.min(marks.len());
    let mut count: usize = marks[..n].iter().filter(|m| m.2).count();
    let (mut best, mut best_at) = (count, 0);
    for start in 1..=marks.len() - n {
        count = count + usize::from(marks[start + n - 1].2) - usize::from(marks[start - 1].2);
        if count > best {
            (best, best_at) = (count, start);
        }
    }
    // Centre the marked words of the window in it (it still holds them all).
    if best > 0 {
        let inside = best_at..best_at + n;
        let first = inside.clone().find(|&i| marks[i].2).unwrap_or(best_at);
        let last = inside.rev().find(|&i| marks[i].2).unwrap_or(first);
        best_at = ((first + last) / 2).saturating_sub(n / 2).min(marks.len() - n);
    }
    let from = if best_at == 0 { 0 } else { marks[best_at].0 };
    let last = best_at + n - 1;
    let to = if last + 1 == marks.len() { text.len() } else { marks[last].1 };
    let segs = segments(text, marks, from, to);
    let mut segs: Vec<Segment> = segs.into_iter().map(|s| Segment { text: squash(&s.text), ..s }).collect();
    if let Some(first) = segs.first_mut() {
        first.text = first.text.trim_start().to_string();
    }
    if let Some(last) = segs.last_mut() {
        last.text = last.text.trim_end().to_string();
    }
    segs.retain(|s| !s.text.is_empty());
    (segs, from > 0, to < text.len())
}

/// A text with each run of white space (line breaks included) as one space.
fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}
