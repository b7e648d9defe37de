//! What tells two groups' open-text answers apart: the words and two-word phrases that
//! detractors use and promoters do not (or any other two groups), each with a score, its
//! counts and a few of the answers that contain it.
//!
//! # Tokens
//!
//! [`tokenize`] turns an answer into words: the text is lowercased (Unicode) and
//! NFC-normalised, so a decomposed `Zásilka` equals a precomposed one and Czech and Polish
//! letters (ř, ě, ů, ą, ł, ż, ś …) stay intact. A word is a run of letters and digits
//! (combining marks stay with their letter); everything else separates words. An
//! apostrophe (`'`, `’` or `ʼ`, written as `'`) between a letter or digit and a letter is
//! kept inside the word, so English `don't` is one word (a stop word); apostrophes
//! around a word are dropped. Words of one character, pure numbers (`2024`) and stop words
//! ([`STOP_WORDS_EN`], [`STOP_WORDS_CS`], [`STOP_WORDS_PL`], chosen by [`Lang`]; a
//! multilingual project uses all three at once) are dropped.
//!
//! A *phrase* ([`phrases`]) is two kept words that follow each other in the text with
//! nothing but white space between them: `late delivery` is a phrase of "the delivery was
//! late, delivery driver rude" only once (`delivery driver` and `driver rude` too), never
//! across a dropped word (`was`) or punctuation (`late, delivery`).
//!
//! # Score
//!
//! Words and phrases are the *terms*; they share one vocabulary. With `y_w^i` the count of
//! term `w` in group `i` and `n^i = Σ_w y_w^i`, the weighted log-odds ratio with an
//! informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16 and
//! 18) is
//!
//! ```text
//! δ_w  = ln((y_w^a + α_w) / (n^a + α0 − y_w^a − α_w)) − ln((y_w^b + α_w) / (n^b + α0 − y_w^b − α_w))
//! σ²_w ≈ 1 / (y_w^a + α_w) + 1 / (y_w^b + α_w)
//! z_w  = δ_w / σ_w
//! ```
//!
//! with prior counts `α_w = α0 · π_w`. By default `π_w = y_w / n` (the term's share of the
//! two groups together, `y_w = y_w^a + y_w^b`, `n = n^a + n^b`) and `α0 = n`, so `α_w = y_w`:
//! the prior is as strong as the data, the choice of Jurafsky et al. (2014) and of the
//! implementations in common use. It shrinks rare terms towards "no difference", so a
//! term needs both a clear lean and enough mentions to score high. A caller may set `α0`
//! ([`TextOptions::alpha0`]) and give background counts from a larger corpus
//! ([`TextOptions::background`], counted with [`term_counts`]); then
//! `π_w = (b_w + y_w) / (B + n)` with `b_w` the background count and `B = Σ b_w`: the two
//! groups are added to the background so that every term seen has a positive prior.
//!
//! `z > 0` leans to group a, `z < 0` to group b; swapping the groups negates `δ` and `z`.
//! `|z| ≥ 1.96` is the usual reading of "clearly different" (a nominal 5 % level, not
//! corrected for the many terms looked at). By default every occurrence counts (the
//! multinomial model of the method); [`TextOptions::once_per_answer`] counts a term at most
//! once per answer, so one answer that repeats a word cannot carry it.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use touchpoint_core::i18n::Lang;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// English stop words: articles, pronouns, auxiliary and modal verbs, prepositions,
/// conjunctions and the commonest adverbs, lowercase, contractions with `'`.
pub const STOP_WORDS_EN: &[&str] = &[
    "a",
    "about",
    "above",
    "across",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "anything",
    "are",
    "aren't",
    "around",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "can't",
    "cannot",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "either",
    "else",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "got",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he",
    "he's",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "if",
    "in",
    "into",
    "is",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "let's",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "neither",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "others",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "per",
    "quite",
    "rather",
    "really",
    "same",
    "shall",
    "she",
    "she's",
    "should",
    "shouldn't",
    "since",
    "so",
    "some",
    "something",
    "still",
    "such",
    "than",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they're",
    "they've",
    "this",
    "those",
    "though",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "wasn't",
    "we",
    "we're",
    "we've",
    "were",
    "weren't",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "won't",
    "would",
    "wouldn't",
    "yet",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Czech stop words: pronouns in their common cases, forms of *být* and *mít*,
/// prepositions, conjunctions, particles and the commonest adverbs, lowercase with
/// diacritics.
pub const STOP_WORDS_CS: &[&str] = &[
    "a",
    "aby",
    "ačkoli",
    "ale",
    "ani",
    "aniž",
    "ano",
    "asi",
    "až",
    "bez",
    "bude",
    "budeme",
    "budete",
    "budou",
    "budu",
    "by",
    "byl",
    "byla",
    "byli",
    "bylo",
    "byly",
    "bych",
    "bychom",
    "byste",
    "být",
    "co",
    "což",
    "či",
    "další",
    "do",
    "dost",
    "hodně",
    "ho",
    "i",
    "já",
    "jak",
    "jaké",
    "jaký",
    "jako",
    "je",
    "jeho",
    "jej",
    "její",
    "jejich",
    "jemu",
    "jen",
    "jenom",
    "jenž",
    "ještě",
    "jestli",
    "jestliže",
    "ji",
    "jí",
    "jim",
    "jimi",
    "jinak",
    "jiné",
    "již",
    "jsem",
    "jsi",
    "jsme",
    "jsou",
    "jste",
    "k",
    "kam",
    "kde",
    "kdo",
    "kdy",
    "když",
    "ke",
    "kolik",
    "kromě",
    "která",
    "které",
    "kteří",
    "který",
    "kterou",
    "kvůli",
    "má",
    "mají",
    "mám",
    "máme",
    "máte",
    "mé",
    "mě",
    "mezi",
    "mi",
    "mít",
    "mně",
    "mnou",
    "moc",
    "moje",
    "mu",
    "můj",
    "může",
    "my",
    "na",
    "nad",
    "nám",
    "námi",
    "nás",
    "náš",
    "naše",
    "ne",
    "nebo",
    "nebyl",
    "nebylo",
    "něco",
    "nějak",
    "nějaký",
    "někdy",
    "není",
    "než",
    "nic",
    "nich",
    "ním",
    "nimi",
    "no",
    "o",
    "od",
    "ode",
    "on",
    "ona",
    "oni",
    "ono",
    "pak",
    "po",
    "pod",
    "podle",
    "pokud",
    "pouze",
    "právě",
    "pro",
    "proč",
    "proto",
    "protože",
    "před",
    "přes",
    "při",
    "s",
    "se",
    "si",
    "sice",
    "snad",
    "své",
    "svůj",
    "svých",
    "ta",
    "tady",
    "tak",
    "také",
    "takže",
    "tam",
    "tato",
    "tě",
    "tedy",
    "teď",
    "ten",
    "tento",
    "těch",
    "těm",
    "ti",
    "tím",
    "to",
    "toho",
    "tohle",
    "tom",
    "tomu",
    "toto",
    "tu",
    "tuto",
    "ty",
    "tyto",
    "u",
    "už",
    "v",
    "vám",
    "vás",
    "váš",
    "vaše",
    "ve",
    "velmi",
    "více",
    "však",
    "všechno",
    "všechny",
    "vy",
    "z",
    "za",
    "ze",
    "že",
];

/// Polish stop words: pronouns in their common cases, forms of *być* and *mieć*,
/// prepositions, conjunctions, particles and the commonest adverbs, lowercase with
/// diacritics.
pub const STOP_WORDS_PL: &[&str] = &[
    "a",
    "aby",
    "ale",
    "albo",
    "ani",
    "aż",
    "bardzo",
    "bez",
    "bo",
    "by",
    "być",
    "był",
    "była",
    "byłam",
    "byłem",
    "były",
    "było",
    "bym",
    "będzie",
    "będą",
    "chociaż",
    "ci",
    "cię",
    "ciebie",
    "co",
    "coś",
    "czy",
    "czyli",
    "dla",
    "dlaczego",
    "dlatego",
    "do",
    "dość",
    "gdy",
    "gdyż",
    "gdzie",
    "go",
    "i",
    "ich",
    "im",
    "inne",
    "iż",
    "ja",
    "ją",
    "jak",
    "jakaś",
    "jaki",
    "jakie",
    "jakiś",
    "jako",
    "je",
    "jednak",
    "jego",
    "jej",
    "jemu",
    "jest",
    "jestem",
    "jesteś",
    "jesteśmy",
    "jeszcze",
    "jeśli",
    "jeżeli",
    "już",
    "każdy",
    "kiedy",
    "kto",
    "która",
    "które",
    "którego",
    "której",
    "który",
    "których",
    "którym",
    "ku",
    "lub",
    "ma",
    "mają",
    "mam",
    "mamy",
    "mi",
    "mię",
    "mnie",
    "mną",
    "mój",
    "moja",
    "moje",
    "może",
    "mu",
    "my",
    "na",
    "nad",
    "nam",
    "nami",
    "nas",
    "nasz",
    "nasza",
    "nasze",
    "naszych",
    "nawet",
    "nic",
    "nich",
    "nie",
    "niech",
    "niej",
    "niemu",
    "nim",
    "nią",
    "niż",
    "no",
    "o",
    "od",
    "on",
    "ona",
    "one",
    "oni",
    "ono",
    "oraz",
    "po",
    "pod",
    "ponieważ",
    "przed",
    "przez",
    "przy",
    "sam",
    "się",
    "sobie",
    "sobą",
    "swój",
    "swoja",
    "swoje",
    "swoim",
    "swojej",
    "są",
    "ta",
    "tak",
    "taki",
    "takie",
    "także",
    "tam",
    "tą",
    "te",
    "tę",
    "tego",
    "tej",
    "temu",
    "ten",
    "teraz",
    "też",
    "to",
    "tobie",
    "tu",
    "tutaj",
    "twój",
    "ty",
    "tych",
    "tylko",
    "tym",
    "u",
    "w",
    "wam",
    "was",
    "wasz",
    "we",
    "więc",
    "właśnie",
    "wszystkie",
    "wszystko",
    "z",
    "za",
    "ze",
    "że",
    "żeby",
];

/// The stop words of one language.
pub fn stop_words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => STOP_WORDS_EN,
        Lang::Cs => STOP_WORDS_CS,
        Lang::Pl => STOP_WORDS_PL,
    }
}

/// A set of stop words: the union of the lists of some languages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopWords {
    words: HashSet<&'static str>,
}

impl StopWords {
    /// The stop words of the given languages (none for an empty slice).
    pub fn new(langs: &[Lang]) -> StopWords {
        StopWords { words: langs.iter().flat_map(|&l| stop_words(l).iter().copied()).collect() }
    }

    /// The stop words of English, Czech and Polish together.
    pub fn all() -> StopWords {
        StopWords::new(&Lang::ALL)
    }

    /// No stop words: every word is kept.
    pub fn none() -> StopWords {
        StopWords::default()
    }

    /// Whether `word` (lowercase, NFC) is a stop word.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }
}

/// A word of the text before filtering, and whether only white space separates it from
/// the word before.
struct RawWord {
    word: String,
    glued: bool,
}

/// Whether `c` is one of the apostrophes kept inside words.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Every word of `text` (lowercase, NFC), with the kind of gap before it.
fn raw_words(text: &str) -> Vec<RawWord> {
    let norm: Vec<char> = text.to_lowercase().nfc().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut clean_gap = true;
    for (i, &c) in norm.iter().enumerate() {
        if c.is_alphanumeric() || (!word.is_empty() && is_combining_mark(c)) {
            word.push(c);
        } else if !word.is_empty() && is_apostrophe(c) && norm.get(i + 1).is_some_and(|n| n.is_alphabetic()) {
            word.push('\'');
        } else {
            if !word.is_empty() {
                out.push(RawWord { word: std::mem::take(&mut word), glued: clean_gap });
                clean_gap = true;
            }
            if !c.is_whitespace() {
                clean_gap = false;
            }
        }
    }
    if !word.is_empty() {
        out.push(RawWord { word, glued: clean_gap });
    }
    out
}

/// Whether a word is kept: two characters or more, not only digits, not a stop word.
fn keep(word: &str, stop: &StopWords) -> bool {
    word.chars().nth(1).is_some() && !word.chars().all(char::is_numeric) && !stop.contains(word)
}

/// The kept words of `text`, in order (see the module docs for the rules).
pub fn tokenize(text: &str, stop: &StopWords) -> Vec<String> {
    raw_words(text).into_iter().filter(|w| keep(&w.word, stop)).map(|w| w.word).collect()
}

/// The two-word phrases of `text`, in order, each written as the two words joined by one
/// space: consecutive kept words with only white space between them.
pub fn phrases(text: &str, stop: &StopWords) -> Vec<String> {
    let raw = raw_words(text);
    raw.windows(2)
        .filter(|p| p[1].glued && keep(&p[0].word, stop) && keep(&p[1].word, stop))
        .map(|p| format!("{} {}", p[0].word, p[1].word))
        .collect()
}

/// The terms of one answer: its words, then its phrases when asked for.
fn terms_of(text: &str, stop: &StopWords, with_phrases: bool) -> Vec<String> {
    let raw = raw_words(text);
    let kept: Vec<bool> = raw.iter().map(|w| keep(&w.word, stop)).collect();
    let mut out: Vec<String> = raw.iter().zip(&kept).filter(|(_, &k)| k).map(|(w, _)| w.word.clone()).collect();
    if with_phrases {
        for i in 1..raw.len() {
            if kept[i - 1] && kept[i] && raw[i].glued {
                out.push(format!("{} {}", raw[i - 1].word, raw[i].word));
            }
        }
    }
    out
}

/// How [`distinguishing_terms`] tokenises, weighs and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextOptions {
    /// Stop words of these languages are dropped (default: all three; empty keeps every
    /// word).
    pub languages: Vec<Lang>,
    /// Count two-word phrases as terms besides words (default `true`).
    pub phrases: bool,
    /// Count a term at most once per answer (default `false`: every occurrence counts).
    pub once_per_answer: bool,
    /// Terms with fewer occurrences than this in the two groups together are not reported
    /// (they still count in `n^a`, `n^b`); default 2.
    pub min_count: u64,
    /// The most terms reported for each group (default 15).
    pub top: usize,
    /// The most example answers per term (default 3).
    pub examples: usize,
    /// The prior's strength `α0`; `None` (default) uses `n = n^a + n^b`. Must be positive.
    pub alpha0: Option<f64>,
    /// Background counts per term (from a larger corpus, see [`term_counts`]) that set the
    /// prior's shares `π_w = (b_w + y_w) / (B + n)`; `None` (default) uses the two groups
    /// alone, `π_w = y_w / n`. Counts must be finite and non-negative.
    pub background: Option<BTreeMap<String, f64>>,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            languages: Lang::ALL.to_vec(),
            phrases: true,
            once_per_answer: false,
            min_count: 2,
            top: 15,
            examples: 3,
            alpha0: None,
            background: None,
        }
    }
}

/// Why [`distinguishing_terms`] refused its options.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// `alpha0` is not a positive finite number.
    #[error("the prior strength alpha0 must be a positive number, got {0}")]
    InvalidAlpha0(f64),
    /// A background count is negative or not finite.
    #[error("the background count of {term:?} must be a non-negative number, got {count}")]
    InvalidBackground {
        /// The term.
        term: String,
        /// Its count.
        count: f64,
    },
}

/// The weighted log-odds ratio of one term and its z-score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogOdds {
    /// `δ_w`, positive when the term leans to group a.
    pub delta: f64,
    /// `σ_w = sqrt(1 / (y_w^a + α_w) + 1 / (y_w^b + α_w))`.
    pub se: f64,
    /// `z_w = δ_w / σ_w`.
    pub z: f64,
}

/// The weighted log-odds ratio (module docs) of a term counted `y_a` and `y_b` times in
/// groups of `n_a` and `n_b` terms, with prior count `alpha_w` and prior strength
/// `alpha0`. `None` when a count or logarithm argument is not positive and finite — in
/// particular for a term that is the whole vocabulary (`y_w = n`, nothing to compare it
/// with).
pub fn log_odds(y_a: f64, y_b: f64, n_a: f64, n_b: f64, alpha_w: f64, alpha0: f64) -> Option<LogOdds> {
    let num_a = y_a + alpha_w;
    let num_b = y_b + alpha_w;
    let den_a = n_a + alpha0 - y_a - alpha_w;
    let den_b = n_b + alpha0 - y_b - alpha_w;
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if ![num_a, num_b, den_a, den_b].into_iter().all(positive) {
        return None;
    }
    let delta = (num_a / den_a).ln() - (num_b / den_b).ln();
    let se = (1.0 / num_a + 1.0 / num_b).sqrt();
    Some(LogOdds { delta, se, z: delta / se })
}

/// One term that distinguishes a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermScore {
    /// The word, or the two words of a phrase joined by a space (lowercase, NFC).
    pub term: String,
    /// Whether the term is a two-word phrase.
    pub phrase: bool,
    /// `y_w^a`: its count in group a.
    pub count_a: u64,
    /// `y_w^b`: its count in group b.
    pub count_b: u64,
    /// How many answers of group a contain it.
    pub answers_a: usize,
    /// How many answers of group b contain it.
    pub answers_b: usize,
    /// The prior count `α_w`.
    pub alpha: f64,
    /// `δ_w`, the weighted log-odds ratio (positive: leans to group a).
    pub delta: f64,
    /// `σ_w`, its approximate standard error.
    pub se: f64,
    /// `z_w = δ_w / σ_w`.
    pub z: f64,
    /// Up to [`TextOptions::examples`] answers of the group the term leans to that contain
    /// it, trimmed, shortest first (ties in input order), no text twice.
    pub examples: Vec<String>,
}

/// The terms that tell group a from group b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextReport {
    /// Answers in group a.
    pub answers_a: usize,
    /// Answers in group b.
    pub answers_b: usize,
    /// `n^a`: term occurrences counted in group a.
    pub total_a: u64,
    /// `n^b`: term occurrences counted in group b.
    pub total_b: u64,
    /// Distinct terms in the two groups together.
    pub vocabulary: usize,
    /// The prior strength `α0` used.
    pub alpha0: f64,
    /// The terms leaning to group a (`z > 0`), highest `z` first (ties: more occurrences,
    /// then the term), at most [`TextOptions::top`].
    pub group_a: Vec<TermScore>,
    /// The terms leaning to group b (`z < 0`), lowest `z` first, at most
    /// [`TextOptions::top`].
    pub group_b: Vec<TermScore>,
}

/// Count the terms of some answers with the tokenisation of `opts` (stop-word languages,
/// phrases, once per answer): a background for [`TextOptions::background`].
pub fn term_counts<S: AsRef<str>>(texts: &[S], opts: &TextOptions) -> BTreeMap<String, f64> {
    let stop = StopWords::new(&opts.languages);
    let mut out = BTreeMap::new();
    for text in texts {
        for term in answer_terms(text.as_ref(), &stop, opts) {
            *out.entry(term).or_insert(0.0) += 1.0;
        }
    }
    out
}

/// The counted terms of one answer (deduplicated when counting once per answer).
fn answer_terms(text: &str, stop: &StopWords, opts: &TextOptions) -> Vec<String> {
    let mut terms = terms_of(text, stop, opts.phrases);
    if opts.once_per_answer {
        let mut seen = HashSet::new();
        terms.retain(|t| seen.insert(t.clone()));
    }
    terms
}

/// One group's terms: counts, answers containing each term, and each answer's term set.
struct Side {
    counts: HashMap<String, u64>,
    answers: HashMap<String, usize>,
    per_answer: Vec<HashSet<String>>,
    total: u64,
}

fn side<S: AsRef<str>>(texts: &[S], stop: &StopWords, opts: &TextOptions) -> Side {
    let mut s = Side { counts: HashMap::new(), answers: HashMap::new(), per_answer: Vec::new(), total: 0 };
    for text in texts {
        let terms = answer_terms(text.as_ref(), stop, opts);
        s.total += terms.len() as u64;
        let set: HashSet<String> = terms.iter().cloned().collect();
        for t in terms {
            *s.counts.entry(t).or_insert(0) += 1;
        }
        for t in &set {
            *s.answers.entry(t.clone()).or_insert(0) += 1;
        }
        s.per_answer.push(set);
    }
    s
}

/// Up to `k` answers of `texts` containing `term`: trimmed, shortest first, no repeats.
fn examples<S: AsRef<str>>(texts: &[S], side: &Side, term: &str, k: usize) -> Vec<String> {
    let mut hits: Vec<(usize, usize, &str)> = texts
        .iter()
        .zip(&side.per_answer)
        .enumerate()
        .filter(|(_, (_, set))| set.contains(term))
        .map(|(i, (t, _))| {
            let t = t.as_ref().trim();
            (t.chars().count(), i, t)
        })
        .collect();
    hits.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    for (_, _, t) in hits {
        if out.len() == k {
            break;
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// The words and phrases that distinguish the answers `a` from the answers `b` (module
/// docs), with their counts, scores and example answers. Empty groups or answers without
/// words give empty lists.
pub fn distinguishing_terms<S: AsRef<str>>(a: &[S], b: &[S], opts: &TextOptions) -> Result<TextReport, TextError> {
    if let Some(a0) = opts.alpha0 {
        if !(a0.is_finite() && a0 > 0.0) {
            return Err(TextError::InvalidAlpha0(a0));
        }
    }
    if let Some(bg) = &opts.background {
        if let Some((term, &count)) = bg.iter().find(|(_, c)| !(c.is_finite() && **c >= 0.0)) {
            return Err(TextError::InvalidBackground { term: term.clone(), count });
        }
    }
    let stop = StopWords::new(&opts.languages);
    let sa = side(a, &stop, opts);
    let sb = side(b, &stop, opts);
    let (n_a, n_b) = (sa.total as f64, sb.total as f64);
    let n = n_a + n_b;
    let alpha0 = opts.alpha0.unwrap_or(n);
    let background_total: f64 = opts.background.as_ref().map_or(0.0, |bg| bg.values().sum());

    let mut vocab: Vec<&String> =
        sa.counts.keys().chain(sb.counts.keys().filter(|t| !sa.counts.contains_key(*t))).collect();
    vocab.sort_unstable();
    let mut scored: Vec<TermScore> = Vec::new();
    for term in &vocab {
        let y_a = sa.counts.get(*term).copied().unwrap_or(0);
        let y_b = sb.counts.get(*term).copied().unwrap_or(0);
        let y = (y_a + y_b) as f64;
        let share = match &opts.background {
            Some(bg) => (bg.get(*term).copied().unwrap_or(0.0) + y) / (background_total + n),
            None => y / n,
        };
        let alpha = alpha0 * share;
        if y_a + y_b < opts.min_count {
            continue;
        }
        let Some(lo) = log_odds(y_a as f64, y_b as f64, n_a, n_b, alpha, alpha0) else { continue };
        if !lo.z.is_finite() || lo.z == 0.0 {
            continue;
        }
        scored.push(TermScore {
            term: (*term).clone(),
            phrase: term.contains(' '),
            count_a: y_a,
            count_b: y_b,
            answers_a: sa.answers.get(*term).copied().unwrap_or(0),
            answers_b: sb.answers.get(*term).copied().unwrap_or(0),
            alpha,
            delta: lo.delta,
            se: lo.se,
            z: lo.z,
            examples: Vec::new(),
        });
    }
    let by_strength = |x: &TermScore, y: &TermScore| {
        y.z.abs()
            .total_cmp(&x.z.abs())
            .then((y.count_a + y.count_b).cmp(&(x.count_a + x.count_b)))
            .then(x.term.cmp(&y.term))
    };
    let (mut group_a, mut group_b): (Vec<TermScore>, Vec<TermScore>) = scored.into_iter().partition(|t| t.z > 0.0);
    group_a.sort_by(by_strength);
    group_b.sort_by(by_strength);
    group_a.truncate(opts.top);
    group_b.truncate(opts.top);
    for t in &mut group_a {
        t.examples = examples(a, &sa, &t.term, opts.examples);
    }
    for t in &mut group_b {
        t.examples = examples(b, &sb, &t.term, opts.examples);
    }
    Ok(TextReport {
        answers_a: a.len(),
        answers_b: b.len(),
        total_a: sa.total,
        total_b: sb.total,
        vocabulary: vocab.len(),
        alpha0,
        group_a,
        group_b,
    })
}
