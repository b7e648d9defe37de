//! Words as the knowledge base's search matches them: [`fold`] drops case and diacritics,
//! [`stem`] then takes the inflection off in the article's language, so that every form
//! a customer types finds every form an article is written in.
//!
//! No full-text engine we know ships Czech or Polish stemming (Snowball has neither), so
//! these are *light* stemmers — they remove endings, they do not look words up:
//!
//! - **Czech**: the light stemmer of Dolamic & Savoy ("Indexing and stemming approaches
//!   for the Czech language", Information Processing & Management 45, 2009), the one
//!   Lucene's `CzechStemmer` implements: case endings by length, then possessive `-ov`,
//!   `-in`, `-ův`, then the palatalisation of the last consonant (`c`→`k`, `z`→`h`), the
//!   movable `e` (`-ek`/`-ku`) and `ů`→`o` (`dům`/`domu`). It runs on the folded word, so
//!   the endings with and without diacritics are the same ending (`-ách` is `-ach`).
//! - **Polish**: the longest of the common noun and adjective endings (`-ami`, `-ach`,
//!   `-iem`, `-ie`, `-ów`, `-ego`, `-ej`, a vowel …) that leaves a stem of at least three
//!   letters: every case of *zwrot*, *dostawa*, *opóźnienie* or *reklamacja* gives one
//!   stem. Verbs are left as they are.
//! - **English**: Harman's S-stemmer ("How effective is suffixing?", JASIS 42, 1991):
//!   plurals only (`deliveries`→`delivery`, `returns`→`return`).
//!
//! A light stemmer conflates less than a dictionary would and sometimes joins two words
//! (folded Czech `kus`/`kos`): the index and the query go through the same function, so
//! a form it knows always finds itself and its other cases.

use touchpoint_core::i18n::Lang;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// A word lowercased and without diacritics: decomposed (NFD), combining marks dropped, and
/// the letters that do not decompose (`ł`, `đ`, `ø`) written as their base letter.
/// `Zpoždění` is `zpozdeni`, `Opóźnienie` is `opoznienie`, `Łódź` is `lodz`.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        for l in c.to_lowercase() {
            out.push(match l {
                'ł' => 'l',
                'đ' => 'd',
                'ø' => 'o',
                other => other,
            });
        }
    }
    out
}

/// The stem of a folded word ([`fold`]) in a language (see the module documentation).
pub fn stem(lang: Lang, folded: &str) -> String {
    match lang {
        Lang::Cs => czech(folded),
        Lang::Pl => polish(folded),
        Lang::En => english(folded),
    }
}

/// The term a word of an article or a query is indexed and matched as: folded, then
/// stemmed in `lang`.
pub fn term(lang: Lang, word: &str) -> String {
    stem(lang, &fold(word))
}

/// The length of a word in characters.
fn len(w: &str) -> usize {
    w.chars().count()
}

/// `w` without the first of `endings` it ends with, when it is longer than `longer_than`
/// characters.
fn strip<'a>(w: &'a str, longer_than: usize, endings: &[&str]) -> Option<&'a str> {
    if len(w) <= longer_than {
        return None;
    }
    endings.iter().find_map(|e| w.strip_suffix(e))
}

/// Czech case endings by the length a word must exceed to lose them (Dolamic & Savoy's
/// `removeCase`, folded), longest first; the first that applies is removed.
const CS_CASE: &[(usize, &[&str])] = &[
    (7, &["atech"]),
    (6, &["etem", "atum"]),
    (
        5,
        &[
            "ech", "ich", "eho", "emi", "emu", "ete", "eti", "iho", "imi", "imu", "ach", "ata", "aty", "ych", "ama",
            "ami", "ove", "ovi", "ymi",
        ],
    ),
    (4, &["em", "es", "im", "um", "at", "am", "os", "us", "ym", "mi", "ou"]),
    (3, &["a", "e", "i", "o", "u", "y"]),
];

/// Czech possessive endings (`-ov`, `-in`, `-ův` folded), on words longer than five.
const CS_POSSESSIVE: &[&str] = &["ov", "in", "uv"];

/// The Czech light stemmer (see the module documentation).
fn czech(w: &str) -> String {
    let w = CS_CASE.iter().find_map(|(n, ends)| strip(w, *n, ends)).unwrap_or(w);
    let w = strip(w, 5, CS_POSSESSIVE).unwrap_or(w);
    let mut s: Vec<char> = w.chars().collect();
    let n = s.len();
    match s.last() {
        Some('c') => s[n - 1] = 'k',
        Some('z') => s[n - 1] = 'h',
        _ if n > 1 && s[n - 2] == 'e' => {
            s.remove(n - 2);
        }
        _ if n > 2 && s[n - 2] == 'u' => s[n - 2] = 'o',
        _ => {}
    }
    s.into_iter().collect()
}

/// Polish noun and adjective endings, folded; the longest that leaves a stem of
/// [`PL_MIN_STEM`] letters is removed.
const PL_ENDINGS: &[&str] = &[
    "owymi", "owych", "owego", "iami", "iach", "iego", "iemu", "owej", "owym", "ami", "ach", "iem", "iom", "ego",
    "emu", "ych", "ymi", "imi", "ich", "iej", "owi", "owy", "owa", "owe", "ow", "om", "em", "ie", "ia", "iu", "io",
    "ej", "ym", "im", "a", "e", "i", "o", "u", "y",
];

/// The shortest Polish stem left.
const PL_MIN_STEM: usize = 3;

/// The Polish light stemmer (see the module documentation).
fn polish(w: &str) -> String {
    let n = len(w);
    let best = PL_ENDINGS.iter().filter(|e| n >= e.len() + PL_MIN_STEM && w.ends_with(*e)).max_by_key(|e| e.len());
    match best {
        Some(e) => w[..w.len() - e.len()].to_string(),
        None => w.to_string(),
    }
}

/// Harman's S-stemmer.
fn english(w: &str) -> String {
    let n = len(w);
    if n > 3 && w.ends_with("ies") && !w.ends_with("eies") && !w.ends_with("aies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if n > 3 && w.ends_with("es") && !w.ends_with("aes") && !w.ends_with("ees") && !w.ends_with("oes") {
        return w[..w.len() - 1].to_string();
    }
    if n > 2 && w.ends_with('s') && !w.ends_with("us") && !w.ends_with("ss") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// A title as a URL path part: folded, letters and digits, words joined by `-`, at most
/// 60 characters (`Reklamace zboží` is `reklamace-zbozi`); `article` when nothing is left.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for w in fold(title).split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if out.len() + w.len() + 1 > 60 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        "article".into()
    } else {
        out
    }
}
