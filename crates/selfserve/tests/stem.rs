//! The stemmers on the forms customers type: every case of a word gives one stem, with or
//! without diacritics, and different words stay apart.

use touchpoint_core::i18n::Lang;
use touchpoint_selfserve::stem::{fold, term};

/// Every form in `forms` has the same term in `lang`.
fn check(lang: Lang, forms: &[&str]) {
    let first = term(lang, forms[0]);
    for f in forms {
        assert_eq!(term(lang, f), first, "{lang:?}: {f:?} gives {:?}, {:?} gives {first:?}", term(lang, f), forms[0]);
    }
}

/// The words have different terms.
fn apart(lang: Lang, words: &[&str]) {
    let terms: Vec<String> = words.iter().map(|w| term(lang, w)).collect();
    for i in 0..words.len() {
        for j in i + 1..words.len() {
            assert_ne!(terms[i], terms[j], "{lang:?}: {:?} and {:?} both give {:?}", words[i], words[j], terms[i]);
        }
    }
}

#[test]
fn folding() {
    for (word, folded) in [
        ("Zpoždění", "zpozdeni"),
        ("Opóźnienie", "opoznienie"),
        ("ŁÓDŹ", "lodz"),
        ("Žluťoučký kůň", "zlutoucky kun"),
        ("zásilka", "zasilka"),
        // Decomposed input (a combining caron) folds like the precomposed letter.
        ("Z\u{30c}bozi\u{301}", "zbozi"),
    ] {
        assert_eq!(fold(word), folded, "{word}");
    }
}

#[test]
fn czech_cases_meet() {
    for forms in [
        &["Reklamace", "reklamaci", "reklamací", "reklamacemi", "reklamacích", "REKLAMACE", "reklamaci"][..],
        &["zboží", "zbozi", "Zboží"],
        &["doručení", "doručením", "doruceni", "doručení"],
        &["platba", "platby", "platbou", "platbě", "platbu"],
        &["zásilka", "zásilky", "zásilku", "zásilkou", "zasilka"],
        &["objednávka", "objednávky", "objednávku", "objednávkou", "objednavka"],
        &["zpoždění", "zpožděním", "zpozdeni"],
        &["vrácení", "vrácením", "vraceni"],
        &["kurýr", "kurýra", "kurýrovi", "kurýrem", "kuryr"],
        &["dům", "domu", "domem"],
        &["heslo", "hesla", "heslem", "hesle"],
    ] {
        check(Lang::Cs, forms);
    }
    apart(Lang::Cs, &["reklamace", "zboží", "platba", "zásilka", "objednávka", "heslo", "faktura", "účet"]);
}

#[test]
fn polish_cases_meet() {
    for forms in [
        &["zwrot", "zwrotu", "zwroty", "zwrotów", "zwrotem", "zwrotach", "zwrotami", "zwrotom", "Zwroty"][..],
        &["towar", "towaru", "towary", "towarów", "towarem"],
        &["opóźnienie", "opóźnienia", "opóźnieniu", "opóźnieniem", "opóźnień", "opoznienie", "opóźnieniach"],
        &["reklamacja", "reklamacji", "reklamację", "reklamacją", "reklamacje", "reklamacjami"],
        &["dostawa", "dostawy", "dostawie", "dostawę", "dostawą", "dostaw", "dostawami"],
        &["płatność", "płatności", "płatnością", "platnosc"],
        &["zamówienie", "zamówienia", "zamówieniu", "zamówień", "zamowienie"],
        &["szybki", "szybkiego", "szybkiej", "szybkie", "szybka"],
        &["hasło", "hasła", "hasłem", "haslo"],
    ] {
        check(Lang::Pl, forms);
    }
    apart(Lang::Pl, &["zwrot", "towar", "dostawa", "płatność", "zamówienie", "hasło", "faktura", "konto"]);
}

#[test]
fn english_plurals_meet() {
    for forms in [
        &["return", "returns", "Returns"][..],
        &["delivery", "deliveries"],
        &["refund", "refunds"],
        &["address", "address"],
    ] {
        check(Lang::En, forms);
    }
    apart(Lang::En, &["return", "refund", "delivery", "invoice", "status", "bus"]);
}

#[test]
fn stems_are_never_empty_and_never_grow_much() {
    for lang in Lang::ALL {
        for w in ["a", "ab", "abc", "ó", "ů", "123", "x1", "ies", "es", "s"] {
            let t = term(lang, w);
            assert!(!t.is_empty(), "{lang:?} {w:?} gives an empty term");
            assert!(t.chars().count() <= fold(w).chars().count() + 1, "{lang:?} {w:?} -> {t:?}");
        }
    }
}
