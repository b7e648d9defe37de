//! The knowledge base's search: the issue's cases, snippets and prefixes through one
//! `check()`, and the index against a slow reference that scores every article from
//! scratch.

use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use touchpoint_core::i18n::Lang;
use touchpoint_selfserve::search::{bm25_tf, idf, words, Doc, Found, Index, Query, TITLE_WEIGHT};
use touchpoint_selfserve::stem::term;

fn doc(id: i64, lang: Lang, title: &str, body: &str) -> Doc {
    Doc { id, lang, title: title.into(), body: body.into() }
}

fn kb() -> Vec<Doc> {
    vec![
        doc(
            1,
            Lang::Cs,
            "Reklamace zboží",
            "Jak podat reklamaci: vyplňte formulář a zboží pošlete zpět. Reklamaci vyřídíme do 30 dnů.",
        ),
        doc(
            2,
            Lang::Cs,
            "Platba kartou",
            "Platbu kartou lze provést online. Při zamítnuté platbě zkontrolujte limit karty.",
        ),
        doc(3, Lang::Cs, "Sledování zásilky", "Stav zásilky najdete v e-mailu s odkazem na dopravce."),
        doc(
            4,
            Lang::Pl,
            "Zwroty towaru",
            "Zwrotu towaru można dokonać w ciągu 14 dni. Formularz zwrotu znajdziesz w koncie.",
        ),
        doc(5, Lang::Pl, "Płatności", "Akceptujemy płatność kartą i BLIK."),
        doc(
            6,
            Lang::En,
            "Returns and refunds",
            "You can return an item within 30 days. Refunds reach your card in 5 days.",
        ),
        doc(
            7,
            Lang::En,
            "Paying by card",
            "We accept every major card. A declined payment is usually the card's limit.",
        ),
    ]
}

/// The ids found for `text` in `lang` are `ids`, in that order.
fn check(index: &Index, text: &str, lang: Option<Lang>, prefix: bool, ids: &[i64]) -> Found {
    let found = index.search(&Query { text: text.into(), lang, limit: 10, prefix });
    let got: Vec<i64> = found.hits.iter().map(|h| h.id).collect();
    assert_eq!(got, ids, "{text:?} in {lang:?} (prefix {prefix})");
    assert_eq!(found.total, ids.len());
    found
}

#[test]
fn the_issues_cases() {
    let index = Index::build(kb());
    // Searching `reklamaci` finds "Reklamace zboží"; `zwrotu` finds "Zwroty towaru".
    check(&index, "reklamaci", Some(Lang::Cs), false, &[1]);
    check(&index, "zwrotu", Some(Lang::Pl), false, &[4]);
    // Without diacritics, in capitals, inflected otherwise.
    check(&index, "REKLAMACI ZBOZI", Some(Lang::Cs), false, &[1]);
    check(&index, "platbě", Some(Lang::Cs), false, &[2]);
    check(&index, "platnosci", Some(Lang::Pl), false, &[5]);
    check(&index, "refund", Some(Lang::En), false, &[6]);
    // A late delivery has no article (the demo's planted failure).
    check(&index, "zpoždění", Some(Lang::Cs), false, &[]);
    check(&index, "opóźnienie", Some(Lang::Pl), false, &[]);
    // Stop words alone are searched rather than nothing; with other words they are left out.
    check(&index, "jak reklamace", Some(Lang::Cs), false, &[1]);
    check(&index, "", Some(Lang::Cs), false, &[]);
    check(&index, "?!", None, false, &[]);
    // A language's articles only, or every language.
    check(&index, "zwrotu", Some(Lang::Cs), false, &[]);
    check(&index, "card", None, false, &[7, 6]);
}

#[test]
fn titles_weigh_more_and_ties_go_by_id() {
    let index = Index::build(vec![
        doc(10, Lang::En, "Delivery", "Times."),
        doc(11, Lang::En, "Times", "Delivery."),
        doc(12, Lang::En, "Other", "Delivery."),
    ]);
    check(&index, "delivery", Some(Lang::En), false, &[10, 11, 12]);
}

#[test]
fn snippets_mark_the_matched_words_where_most_are() {
    let long = format!(
        "{} Refunds come back to the card you paid with. {}",
        "Filler words here. ".repeat(20),
        "More filler. ".repeat(20)
    );
    let index = Index::build(vec![doc(1, Lang::En, "Refunds to a card", &long)]);
    let found = check(&index, "refunds card", Some(Lang::En), false, &[1]);
    let hit = &found.hits[0];
    let marked: Vec<&str> = hit.snippet.iter().filter(|s| s.hit).map(|s| s.text.as_str()).collect();
    assert_eq!(marked, ["Refunds", "card"]);
    assert!(hit.snippet_cut_before && hit.snippet_cut_after);
    let title: Vec<(&str, bool)> = hit.title.iter().map(|s| (s.text.as_str(), s.hit)).collect();
    assert_eq!(title, [("Refunds", true), (" to a ", false), ("card", true)]);
    // The segments are the text's own words with single spaces.
    let text: String = hit.snippet.iter().map(|s| s.text.as_str()).collect();
    assert!(text.contains("Refunds come back to the card you paid with."), "{text}");
}

#[test]
fn an_unfinished_word_suggests_as_the_customer_types() {
    let index = Index::build(kb());
    check(&index, "rekl", Some(Lang::Cs), true, &[1]);
    check(&index, "zwr", Some(Lang::Pl), true, &[4]);
    // A finished word (a space after it) is a whole word.
    check(&index, "rekl ", Some(Lang::Cs), true, &[]);
    // Only the last word is a prefix.
    check(&index, "rekl zbo", Some(Lang::Cs), true, &[1]);
    let found = check(&index, "plat", Some(Lang::Cs), true, &[2]);
    assert!(found.hits[0].title.iter().any(|s| s.hit && s.text == "Platba"));
}

/// The reference: every article scored from scratch, by the module's formula.
fn reference(docs: &[Doc], text: &str, lang: Lang) -> Vec<(i64, f64)> {
    let mine: Vec<&Doc> = docs.iter().filter(|d| d.lang == lang).collect();
    let tfs: Vec<(HashMap<String, f64>, f64)> = mine
        .iter()
        .map(|d| {
            let mut tf = HashMap::new();
            let mut len = 0.0;
            for (t, w) in [(&d.title, TITLE_WEIGHT), (&d.body, 1.0)] {
                for word in words(t) {
                    *tf.entry(term(lang, &word.lower)).or_insert(0.0) += w;
                    len += w;
                }
            }
            (tf, len)
        })
        .collect();
    let avg = if tfs.is_empty() { 1.0 } else { tfs.iter().map(|t| t.1).sum::<f64>() / tfs.len() as f64 };
    let mut q: Vec<String> = Vec::new();
    for w in words(text) {
        let t = term(lang, &w.lower);
        if !q.contains(&t) {
            q.push(t);
        }
    }
    let mut out: Vec<(i64, f64)> = Vec::new();
    for (d, (tf, len)) in mine.iter().zip(&tfs) {
        let mut score = 0.0;
        let mut any = false;
        for t in &q {
            if let Some(&f) = tf.get(t) {
                let df = tfs.iter().filter(|x| x.0.contains_key(t)).count();
                score += idf(mine.len(), df) * bm25_tf(f, *len, avg);
                any = true;
            }
        }
        if any {
            out.push((d.id, score));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Words from a small vocabulary, so that articles share terms.
fn text(n: usize) -> impl Strategy<Value = String> {
    let vocab = [
        "zboží",
        "zbozi",
        "reklamace",
        "reklamaci",
        "platba",
        "platby",
        "zwrot",
        "zwrotu",
        "card",
        "cards",
        "kurýr",
        "the",
        "a",
        "Doručení",
        "doruceni",
    ];
    prop::collection::vec(prop::sample::select(vocab.to_vec()), 0..n).prop_map(|w| w.join(" "))
}

proptest! {
    #[test]
    fn the_index_scores_as_the_reference(
        docs in prop::collection::vec((prop::sample::select(Lang::ALL.to_vec()), text(4), text(30)), 0..25),
        q in prop::collection::vec(prop::sample::select(vec!["zboží", "reklamace", "platbě", "zwrotami", "card", "kuryr", "doručením", "nic"]), 1..4),
        lang in prop::sample::select(Lang::ALL.to_vec()),
    ) {
        let docs: Vec<Doc> = docs.into_iter().enumerate().map(|(i, (l, t, b))| doc(i as i64 + 1, l, &t, &b)).collect();
        let text = q.join(" ");
        let want = reference(&docs, &text, lang);
        let found = Index::build(docs.clone()).search(&Query { text: text.clone(), lang: Some(lang), limit: 1000, prefix: false });
        prop_assert_eq!(found.total, want.len());
        let got: Vec<i64> = found.hits.iter().map(|h| h.id).collect();
        let ids: Vec<i64> = want.iter().map(|w| w.0).collect();
        prop_assert_eq!(got, ids);
        for (h, (_, s)) in found.hits.iter().zip(&want) {
            prop_assert!((h.score - s).abs() < 1e-4, "{} vs {}", h.score, s);
        }
        // Every hit marks at least one word of its title or snippet, and only query words.
        let terms: HashSet<String> = words(&text).iter().map(|w| term(lang, &w.lower)).collect();
        for h in &found.hits {
            for s in h.title.iter().chain(&h.snippet).filter(|s| s.hit) {
                prop_assert!(terms.contains(&term(lang, &s.text)), "{} marked", s.text);
            }
        }
    }
}
