//! The open-text analysis: tokenisation in three languages, the weighted log-odds against
//! arithmetic done by hand, its symmetry, and the ranking and examples it reports.

use touchpoint_core::i18n::Lang;
use touchpoint_listen::text::{
    distinguishing_terms, log_odds, phrases, stop_words, term_counts, tokenize, StopWords, TextError, TextOptions,
};
use unicode_normalization::UnicodeNormalization;

/// Tokenise `input` with the stop words of `langs` and compare with `expected` words.
fn check(input: &str, langs: &[Lang], expected: &[&str]) {
    let got = tokenize(input, &StopWords::new(langs));
    assert_eq!(got, expected, "tokenize({input:?}) with stop words of {langs:?}");
}

#[test]
fn tokenizer_cases() {
    let all = &Lang::ALL[..];
    let cases: &[(&str, &[Lang], &[&str])] = &[
        // Czech diacritics survive lowercasing; "o" is one letter.
        ("Zásilka přišla o týden později", all, &["zásilka", "přišla", "týden", "později"]),
        ("ŘEŽE ÚČET", &[], &["řeže", "účet"]),
        // Polish: ł, ą, ż, ś, ń stay.
        ("Paczka przyszła tydzień później", all, &["paczka", "przyszła", "tydzień", "później"]),
        ("Żółć, źdźbło i Łódź!", all, &["żółć", "źdźbło", "łódź"]),
        // Stop words of the chosen languages only.
        ("The delivery was very late", &[Lang::En], &["delivery", "late"]),
        ("The delivery was very late", &[], &["the", "delivery", "was", "very", "late"]),
        ("Doprava byla velmi pomalá a drahá", &[Lang::Cs], &["doprava", "pomalá", "drahá"]),
        ("Dostawa była bardzo szybka, ale drogo", &[Lang::Pl], &["dostawa", "szybka", "drogo"]),
        // Punctuation, emoji and numbers separate words; pure numbers and single
        // characters go, mixed letters and digits stay.
        ("Great!!! 👍👍 5/5, would buy again...", all, &["great", "buy"]),
        ("Waited 14 days (2024) for a 4k TV", all, &["waited", "days", "4k", "tv"]),
        ("e-shop: x y z", all, &["shop"]),
        // Apostrophes inside English words; around words they go.
        ("I don't like it's 'packaging'", &[], &["don't", "like", "it's", "packaging"]),
        ("Don’t like the courier’s attitude", all, &["like", "courier's", "attitude"]),
        ("", all, &[]),
        ("  ... 123 !! ", all, &[]),
    ];
    for &(input, langs, expected) in cases {
        check(input, langs, expected);
    }
}

#[test]
fn decomposed_input_gives_the_composed_words() {
    for text in ["Zásilka přišla o týden později", "Paczka przyszła tydzień później", "Žluťoučký kůň úpěl"]
    {
        let nfd: String = text.nfd().collect();
        assert_ne!(nfd, text, "the test text has something to decompose");
        let stop = StopWords::all();
        assert_eq!(tokenize(&nfd, &stop), tokenize(text, &stop));
        for w in tokenize(&nfd, &stop) {
            assert_eq!(w.nfc().collect::<String>(), w, "{w:?} is NFC");
        }
    }
}

#[test]
fn stop_word_lists_are_lowercase_nfc_and_unique() {
    for lang in Lang::ALL {
        let list = stop_words(lang);
        assert!(list.len() >= 100, "{lang:?} has {} stop words", list.len());
        let mut seen = std::collections::HashSet::new();
        for &w in list {
            assert_eq!(w, w.to_lowercase().nfc().collect::<String>(), "{w:?} in {lang:?}");
            assert!(seen.insert(w), "{w:?} twice in {lang:?}");
        }
    }
}

#[test]
fn phrases_join_neighbours_only_across_white_space() {
    let stop = StopWords::all();
    assert_eq!(
        phrases("The delivery was late, delivery driver rude", &stop),
        ["delivery driver", "driver rude"],
        "no phrase across a stop word or a comma"
    );
    assert_eq!(phrases("Pomalé  doručení\tzásilky", &stop), ["pomalé doručení", "doručení zásilky"]);
    assert!(phrases("late", &stop).is_empty());
    assert!(phrases("", &stop).is_empty());
}

/// Group a: "slow delivery", "slow delivery again", "friendly staff" → slow 2, delivery 2,
/// friendly 1, staff 1 ("again" is a stop word), n^a = 6. Group b: "fast delivery",
/// "friendly staff" twice → fast 1, delivery 1, friendly 2, staff 2, n^b = 6. n = 12, so
/// with the default prior α0 = 12 and α_w = y_w.
///
/// slow: δ = ln((2 + 2) / (6 + 12 − 2 − 2)) − ln((0 + 2) / (6 + 12 − 0 − 2))
///         = ln(4/14) − ln(2/16) = ln(16/7) = 0.826678573…
///       σ² = 1/4 + 1/2 = 0.75, σ = 0.866025404…, z = 0.954566194…
/// delivery: α = 3, δ = ln(5/13) − ln(4/14) = ln(70/52) = 0.297251523…,
///       σ² = 1/5 + 1/4 = 0.45, z = 0.443116409…
/// fast: α = 1, δ = ln(1/17) − ln(2/16) = ln(16/34) = −0.753771802…,
///       σ² = 1 + 1/2 = 1.5, z = −0.615452099…
/// friendly, staff: α = 3, the mirror of delivery: z = −0.443116409…
fn hand_example() -> (Vec<&'static str>, Vec<&'static str>) {
    (
        vec!["slow delivery", "slow delivery again", "friendly staff"],
        vec!["fast delivery", "friendly staff", "friendly staff"],
    )
}

fn words_only() -> TextOptions {
    TextOptions { phrases: false, min_count: 1, ..TextOptions::default() }
}

#[test]
fn log_odds_match_the_hand_computation() {
    let (a, b) = hand_example();
    let r = distinguishing_terms(&a, &b, &words_only()).unwrap();
    assert_eq!((r.answers_a, r.answers_b, r.total_a, r.total_b, r.vocabulary), (3, 3, 6, 6, 5));
    assert_eq!(r.alpha0, 12.0);
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    let a_terms: Vec<_> = r.group_a.iter().map(|t| (t.term.as_str(), t.count_a, t.count_b)).collect();
    assert_eq!(a_terms, [("slow", 2, 0), ("delivery", 2, 1)]);
    let slow = &r.group_a[0];
    assert!(close(slow.alpha, 2.0));
    assert!(close(slow.delta, (16.0f64 / 7.0).ln()) && close(slow.delta, 0.826_678_573_184_467_7));
    assert!(close(slow.se, 0.75f64.sqrt()));
    assert!(close(slow.z, 0.954_566_193_522_696_3));
    assert!(close(r.group_a[1].z, 0.443_116_408_593_112_9));
    // b: fast first, then friendly and staff (equal z and counts: alphabetical).
    let b_terms: Vec<_> = r.group_b.iter().map(|t| t.term.as_str()).collect();
    assert_eq!(b_terms, ["fast", "friendly", "staff"]);
    assert!(close(r.group_b[0].delta, (16.0f64 / 34.0).ln()));
    assert!(close(r.group_b[0].z, -0.615_452_099_440_044_3));
    assert!(close(r.group_b[1].z, -0.443_116_408_593_112_9));
    assert_eq!((r.group_b[1].answers_a, r.group_b[1].answers_b), (1, 2));

    // The same arithmetic through the public formula, and with α0 = 6 (α_w = 6 · 2/12 = 1):
    // δ = ln((2 + 1) / (6 + 6 − 2 − 1)) − ln((0 + 1) / (6 + 6 − 0 − 1)) = ln(3/9) − ln(1/11)
    //   = ln(11/3) = 1.299282984…, σ² = 1/3 + 1, z = 1.125212070…
    let lo = log_odds(2.0, 0.0, 6.0, 6.0, 2.0, 12.0).unwrap();
    assert!(close(lo.z, slow.z));
    let r6 = distinguishing_terms(&a, &b, &TextOptions { alpha0: Some(6.0), ..words_only() }).unwrap();
    assert_eq!(r6.alpha0, 6.0);
    assert!(close(r6.group_a[0].delta, (11.0f64 / 3.0).ln()));
    assert!(close(r6.group_a[0].z, 1.125_212_070_961_659_5));
}

#[test]
fn swapping_the_groups_negates_the_scores() {
    let a = ["Delivery was late again", "late courier, damaged box", "box damaged, refund slow", "great prices"];
    let b = ["fast delivery, great prices", "great prices and friendly staff", "friendly courier", "fast"];
    let opts = TextOptions { min_count: 1, ..TextOptions::default() };
    let ab = distinguishing_terms(&a, &b, &opts).unwrap();
    let ba = distinguishing_terms(&b, &a, &opts).unwrap();
    assert!(!ab.group_a.is_empty() && !ab.group_b.is_empty());
    assert_eq!(ab.group_a.len(), ba.group_b.len());
    assert_eq!(ab.group_b.len(), ba.group_a.len());
    for (x, y) in ab.group_a.iter().zip(&ba.group_b).chain(ab.group_b.iter().zip(&ba.group_a)) {
        assert_eq!(x.term, y.term);
        assert_eq!((x.count_a, x.count_b), (y.count_b, y.count_a));
        assert!((x.delta + y.delta).abs() < 1e-12 && (x.z + y.z).abs() < 1e-12);
        assert_eq!(x.examples, y.examples);
    }
}

#[test]
fn a_word_only_in_one_group_ranks_first_with_examples() {
    let a = [
        "Zásilka přišla o týden později, kurýr nezavolal.",
        "Opět zpoždění zásilky",
        "Zpoždění!",
        "Zboží v pořádku, ale zpoždění dva dny a nikdo neinformoval",
        "Zpoždění!",
        "Cena dobrá",
    ];
    let b = ["Cena dobrá, rychlé doručení", "Rychlé doručení", "Cena dobrá", "Vše v pořádku, rychlé doručení"];
    let r = distinguishing_terms(&a, &b, &TextOptions::default()).unwrap();
    let top = &r.group_a[0];
    assert_eq!(top.term, "zpoždění");
    assert_eq!((top.count_a, top.count_b, top.answers_a), (4, 0, 4));
    assert!(top.z > 0.0);
    // Shortest first, the repeated answer once, at most three.
    assert_eq!(
        top.examples,
        ["Zpoždění!", "Opět zpoždění zásilky", "Zboží v pořádku, ale zpoždění dva dny a nikdo neinformoval"]
    );
    for t in r.group_a.iter().chain(&r.group_b) {
        assert!(!t.examples.is_empty() && t.examples.len() <= 3);
        for e in &t.examples {
            let terms = term_counts(&[e.as_str()], &TextOptions::default());
            assert!(terms.contains_key(&t.term), "{e:?} contains {:?}", t.term);
        }
    }
    // Group b's phrase "rychlé doručení" (3 times, never in a) leads b.
    assert!(r.group_b.iter().take(3).any(|t| t.term == "rychlé doručení" && t.phrase));
    // Sorted by strength.
    assert!(r.group_a.windows(2).all(|w| w[0].z >= w[1].z));
    assert!(r.group_b.windows(2).all(|w| w[0].z <= w[1].z));
}

#[test]
fn once_per_answer_counts_answers() {
    let a = ["bad bad bad bad", "ok"];
    let b = ["ok fine", "fine"];
    let every = distinguishing_terms(&a, &b, &words_only()).unwrap();
    let once = distinguishing_terms(&a, &b, &TextOptions { once_per_answer: true, ..words_only() }).unwrap();
    assert_eq!(every.group_a[0].count_a, 4);
    assert_eq!(every.total_a, 5);
    let bad = once.group_a.iter().find(|t| t.term == "bad");
    assert!(bad.is_none_or(|t| t.count_a == 1));
    assert_eq!(once.total_a, 2);
}

#[test]
fn background_prior_and_invalid_options() {
    let (a, b) = hand_example();
    // A background in which "delivery" is common: α_w = α0 (b_w + y_w) / (B + n).
    let background = term_counts(&["delivery delivery delivery delivery parcel"], &words_only());
    assert_eq!(background.get("delivery"), Some(&4.0));
    let r = distinguishing_terms(&a, &b, &TextOptions { background: Some(background), ..words_only() }).unwrap();
    let delivery = r.group_a.iter().find(|t| t.term == "delivery").unwrap();
    // α0 = 12, B = 5, n = 12: α = 12 · (4 + 3) / 17.
    assert!((delivery.alpha - 12.0 * 7.0 / 17.0).abs() < 1e-12);
    let lo = log_odds(2.0, 1.0, 6.0, 6.0, delivery.alpha, 12.0).unwrap();
    assert!((lo.z - delivery.z).abs() < 1e-12);

    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = distinguishing_terms(&a, &b, &TextOptions { alpha0: Some(bad), ..words_only() });
        assert!(matches!(e, Err(TextError::InvalidAlpha0(_))), "{bad}");
    }
    let bg = [("x".to_string(), -1.0)].into_iter().collect();
    let e = distinguishing_terms(&a, &b, &TextOptions { background: Some(bg), ..words_only() }).unwrap_err();
    assert!(e.to_string().contains("\"x\""), "{e}");
}

#[test]
fn degenerate_input_gives_empty_lists() {
    let none: [&str; 0] = [];
    let opts = TextOptions::default();
    for (a, b) in [(&none[..], &none[..]), (&["late"][..], &none[..]), (&["the", "!!!"][..], &["123"][..])] {
        let r = distinguishing_terms(a, b, &opts).unwrap();
        assert!(r.group_a.is_empty() && r.group_b.is_empty(), "{a:?} vs {b:?}");
    }
    // One word, the whole vocabulary on both sides: nothing to compare it with.
    let r = distinguishing_terms(&["late", "late"], &["late"], &words_only()).unwrap();
    assert!(r.group_a.is_empty() && r.group_b.is_empty());
    // One word against another: both reported, finite.
    let r = distinguishing_terms(&["late"], &["fast"], &words_only()).unwrap();
    assert_eq!((r.group_a.len(), r.group_b.len()), (1, 1));
    assert!(r.group_a[0].z.is_finite() && r.group_a[0].z > 0.0);
    assert!(log_odds(0.0, 0.0, 0.0, 0.0, 0.0, 0.0).is_none());
    assert!(log_odds(f64::NAN, 1.0, 2.0, 2.0, 1.0, 4.0).is_none());
}

#[test]
fn report_serializes() {
    let (a, b) = hand_example();
    let r = distinguishing_terms(&a, &b, &words_only()).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["group_a"][0]["term"], "slow");
    let opts: TextOptions = serde_json::from_str(r#"{"languages": ["cs"], "top": 5}"#).unwrap();
    assert_eq!(opts.languages, [Lang::Cs]);
    assert!(opts.phrases && opts.top == 5 && opts.min_count == 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any text: no panic, finite scores, kept words at least two characters, and swapping
    /// the groups negates every z.
    #[test]
    fn any_text_is_safe(a in proptest::collection::vec("[a-zA-Zéřął0-9 ,.'!\u{301}]{0,40}", 0..6),
                        b in proptest::collection::vec("[a-zA-Zéřął0-9 ,.'!\u{301}]{0,40}", 0..6)) {
        let opts = TextOptions { min_count: 1, ..TextOptions::default() };
        let ab = distinguishing_terms(&a, &b, &opts).unwrap();
        let ba = distinguishing_terms(&b, &a, &opts).unwrap();
        for t in ab.group_a.iter().chain(&ab.group_b) {
            proptest::prop_assert!(t.z.is_finite() && t.delta.is_finite() && t.se > 0.0);
            proptest::prop_assert!(t.term.split(' ').all(|w| w.chars().count() >= 2));
        }
        let za: Vec<(String, f64)> = ab.group_a.iter().map(|t| (t.term.clone(), t.z)).collect();
        let zb: Vec<(String, f64)> = ba.group_b.iter().map(|t| (t.term.clone(), -t.z)).collect();
        proptest::prop_assert_eq!(za.len(), zb.len());
        for ((ta, x), (tb, y)) in za.iter().zip(&zb) {
            proptest::prop_assert_eq!(ta, tb);
            proptest::prop_assert!((x - y).abs() < 1e-9);
        }
    }
}
