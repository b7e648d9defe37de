//! Survey definitions and the answers to them, parsed into types at the edge.
//!
//! A [`SurveyDef`] is what an author writes (JSON through the admin API or the CLI): its
//! questions of every supported kind, their texts in any number of locales, which
//! questions show only after some answers (branching), which hidden dimensions a response
//! carries, and the touchpoint that triggers it. [`SurveyDef::parse`] checks a definition
//! and names the first thing wrong with a path (`questions[2].options`); editing a live
//! survey makes a new version, and [`SurveyDef::check_edit`] refuses an edit that would
//! change what an old answer means (a question id reused for another kind or scale).
//!
//! [`SurveyDef::parse_answers`] turns raw answers (`{"nps": 9, "why": "…"}`) into
//! [`Answers`], checking every value against its question and every required, visible
//! question; errors carry a question id and a message in the respondent's language, so the
//! same check serves the API (400) and the survey page (the form shown again).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use touchpoint_core::{Lang, Localized};

/// Longest open-text answer kept, in characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// Most questions in one survey.
pub const MAX_QUESTIONS: usize = 100;

/// A text in any number of locales (`{"en": "…", "cs": "…"}`); `en` is the fallback.
pub type Texts = BTreeMap<String, String>;

/// The text for a locale: the locale itself, then its primary language (`cs` for
/// `cs-CZ`), then the survey's default language, then English, then any.
pub fn text_for<'a>(texts: &'a Texts, locale: &str, default: &str) -> &'a str {
    let primary = locale.split(['-', '_']).next().unwrap_or(locale);
    [locale, primary, default, "en"]
        .iter()
        .find_map(|l| texts.get(*l).filter(|s| !s.is_empty()))
        .or_else(|| texts.values().next())
        .map(String::as_str)
        .unwrap_or("")
}

/// Kinds of question and their scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Likelihood to recommend, 0–10.
    Nps,
    /// Satisfaction, 1–5; 4 and 5 count as satisfied.
    Csat,
    /// Customer effort: "it was easy", 1–7, higher is easier.
    Ces,
    /// A rating on an integer scale (0–10 unless given).
    Rating {
        /// Lowest value.
        #[serde(default)]
        min: i64,
        /// Highest value.
        #[serde(default = "ten")]
        max: i64,
    },
    /// One of several options.
    Single {
        /// The options.
        options: Vec<Choice>,
    },
    /// Any of several options.
    Multiple {
        /// The options.
        options: Vec<Choice>,
    },
    /// Free text.
    Text {
        /// A multi-line box rather than a line.
        #[serde(default = "yes")]
        multiline: bool,
    },
    /// Several areas, each rated 0–10.
    Matrix {
        /// The areas (their keys are what drivers and benchmarks group by).
        areas: Vec<Choice>,
    },
    /// What the customer expected and what they experienced, both 0–10.
    Pair {
        /// The label of the expectation scale.
        #[serde(default)]
        expectation: Texts,
        /// The label of the experience scale.
        #[serde(default)]
        experience: Texts,
    },
}

fn ten() -> i64 {
    10
}
fn yes() -> bool {
    true
}

impl QuestionKind {
    /// The integer scale of a scored question (`None` for choice, text, matrix and pair).
    pub fn scale(&self) -> Option<(i64, i64)> {
        match self {
            QuestionKind::Nps => Some((0, 10)),
            QuestionKind::Csat => Some((1, 5)),
            QuestionKind::Ces => Some((1, 7)),
            QuestionKind::Rating { min, max } => Some((*min, *max)),
            _ => None,
        }
    }

    /// The kind's name as written in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            QuestionKind::Nps => "nps",
            QuestionKind::Csat => "csat",
            QuestionKind::Ces => "ces",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::Single { .. } => "single",
            QuestionKind::Multiple { .. } => "multiple",
            QuestionKind::Text { .. } => "text",
            QuestionKind::Matrix { .. } => "matrix",
            QuestionKind::Pair { .. } => "pair",
        }
    }

    /// Whether an old answer to `self` still means the same under `new`: same kind and
    /// scale, and every option or area key that existed still exists.
    fn compatible(&self, new: &QuestionKind) -> bool {
        let keys = |c: &[Choice]| c.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
        match (self, new) {
            (QuestionKind::Single { options: a }, QuestionKind::Single { options: b })
            | (QuestionKind::Multiple { options: a }, QuestionKind::Multiple { options: b })
            | (QuestionKind::Matrix { areas: a }, QuestionKind::Matrix { areas: b }) => {
                let new = keys(b);
                keys(a).iter().all(|k| new.contains(k))
            }
            (QuestionKind::Text { .. }, QuestionKind::Text { .. })
            | (QuestionKind::Pair { .. }, QuestionKind::Pair { .. }) => true,
            _ => self.name() == new.name() && self.scale() == new.scale(),
        }
    }
}

/// An option of a choice question, or an area of a matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Stable key, stored in answers.
    pub key: String,
    /// What the respondent reads.
    pub label: Texts,
}

/// When a question is shown: only if an earlier question's answer matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowIf {
    /// The earlier question.
    pub question: String,
    /// Shown when its score is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Shown when its score is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// Shown when the chosen option (or one of them) is among these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Stable id, unique in the survey: answers are keyed by it across versions.
    pub id: String,
    /// Kind and scale.
    #[serde(flatten)]
    pub kind: QuestionKind,
    /// The question, per locale.
    pub text: Texts,
    /// A hint under the question.
    #[serde(default, skip_serializing_if = "Texts::is_empty")]
    pub help: Texts,
    /// Must be answered when shown.
    #[serde(default)]
    pub required: bool,
    /// The area it measures (drivers, gaps, benchmarks), when it measures one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Branching: shown only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
}

/// A survey as its author defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyDef {
    /// Title, per locale.
    pub title: Texts,
    /// Text above the first question.
    #[serde(default, skip_serializing_if = "Texts::is_empty")]
    pub intro: Texts,
    /// Text of the thank-you page.
    #[serde(default, skip_serializing_if = "Texts::is_empty")]
    pub thank_you: Texts,
    /// The language used when the respondent's is not available.
    #[serde(default = "english")]
    pub default_locale: String,
    /// Questions in order.
    pub questions: Vec<Question>,
    /// The touchpoint whose occurrence invites to this survey (a CSAT after delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Hidden dimensions a response may carry (brand, category, store …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
}

fn english() -> String {
    "en".into()
}

/// What is wrong with a definition or an answer, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where: a JSON path in a definition, a question id in answers.
    pub field: String,
    /// What, in the requested language.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn valid_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_locale(s: &str) -> bool {
    (2..=12).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl SurveyDef {
    /// Parse and check a definition.
    pub fn parse(value: Value) -> Result<SurveyDef, FieldError> {
        // A kind is named: serde would also take a variant's number (`"type": 0`).
        let questions = value.get("questions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if let Some(i) = questions.iter().position(|q| q.get("type").is_some_and(|t| !t.is_string())) {
            return Err(FieldError::new(
                format!("questions[{i}].type"),
                "must be nps, csat, ces, rating, single, multiple, text, matrix or pair",
            ));
        }
        let def: SurveyDef = serde_json::from_value(value).map_err(|e| FieldError::new("survey", e.to_string()))?;
        def.check()?;
        Ok(def)
    }

    /// Check a definition's consistency.
    pub fn check(&self) -> Result<(), FieldError> {
        let texts = |path: &str, t: &Texts, required: bool| -> Result<(), FieldError> {
            if required && t.values().all(|s| s.trim().is_empty()) {
                return Err(FieldError::new(path, "needs a text in at least one locale"));
            }
            match t.keys().find(|l| !valid_locale(l)) {
                Some(l) => Err(FieldError::new(path, format!("`{l}` is not a locale (use en, cs, pl, de-AT …)"))),
                None => Ok(()),
            }
        };
        texts("title", &self.title, true)?;
        texts("intro", &self.intro, false)?;
        texts("thank_you", &self.thank_you, false)?;
        if !valid_locale(&self.default_locale) {
            return Err(FieldError::new("default_locale", "is not a locale"));
        }
        if self.questions.is_empty() {
            return Err(FieldError::new("questions", "a survey needs at least one question"));
        }
        if self.questions.len() > MAX_QUESTIONS {
            return Err(FieldError::new("questions", format!("at most {MAX_QUESTIONS} questions")));
        }
        for (i, d) in self.dimensions.iter().enumerate() {
            if !valid_key(d) {
                return Err(FieldError::new(format!("dimensions[{i}]"), "use letters, digits, - and _ (at most 64)"));
            }
        }
        let mut seen: Vec<&str> = vec![];
        for (i, q) in self.questions.iter().enumerate() {
            let at = |f: &str| format!("questions[{i}].{f}");
            if !valid_key(&q.id) {
                return Err(FieldError::new(at("id"), "use letters, digits, - and _ (at most 64)"));
            }
            if seen.contains(&q.id.as_str()) {
                return Err(FieldError::new(at("id"), format!("`{}` is used twice", q.id)));
            }
            texts(&at("text"), &q.text, true)?;
            texts(&at("help"), &q.help, false)?;
            match &q.kind {
                QuestionKind::Rating { min, max } if min >= max || *min < -100 || *max > 100 => {
                    return Err(FieldError::new(at("max"), "the scale needs min < max within −100…100"));
                }
                QuestionKind::Single { options } | QuestionKind::Multiple { options } => {
                    check_choices(&at("options"), options)?
                }
                QuestionKind::Matrix { areas } => check_choices(&at("areas"), areas)?,
                _ => {}
            }
            if let Some(cond) = &q.show_if {
                let Some(earlier) = self.questions[..i].iter().find(|e| e.id == cond.question) else {
                    return Err(FieldError::new(
                        at("show_if.question"),
                        format!("`{}` is not an earlier question", cond.question),
                    ));
                };
                let scored = earlier.kind.scale().is_some();
                let choice = matches!(earlier.kind, QuestionKind::Single { .. } | QuestionKind::Multiple { .. });
                if (cond.min.is_some() || cond.max.is_some()) && !scored {
                    return Err(FieldError::new(
                        at("show_if"),
                        "min/max need a scored question (nps, csat, ces, rating)",
                    ));
                }
                if !cond.any_of.is_empty() && !choice {
                    return Err(FieldError::new(at("show_if"), "any_of needs a choice question"));
                }
            }
            seen.push(&q.id);
        }
        Ok(())
    }

    /// Whether an edit keeps the meaning of answers given to this version: every question
    /// id that stays must keep its kind, scale and options (new options may be added).
    pub fn check_edit(&self, new: &SurveyDef) -> Result<(), FieldError> {
        for (i, q) in new.questions.iter().enumerate() {
            if let Some(old) = self.questions.iter().find(|o| o.id == q.id) {
                if !old.kind.compatible(&q.kind) {
                    return Err(FieldError::new(
                        format!("questions[{i}]"),
                        format!(
                            "`{}` was a {} question with other options or scale; answers already given would change \
                             meaning: give the changed question a new id",
                            q.id,
                            old.kind.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A question by id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Whether a question is shown given the answers so far.
    pub fn visible(&self, q: &Question, answers: &Answers) -> bool {
        let Some(cond) = &q.show_if else { return true };
        match answers.0.get(&cond.question) {
            None => false,
            Some(a) => {
                let score_ok = match a.score() {
                    Some(s) => cond.min.is_none_or(|m| s >= m as f64) && cond.max.is_none_or(|m| s <= m as f64),
                    None => cond.min.is_none() && cond.max.is_none(),
                };
                let choice_ok = cond.any_of.is_empty()
                    || match a {
                        Answer::Choice(c) => cond.any_of.contains(c),
                        Answer::Choices(cs) => cs.iter().any(|c| cond.any_of.contains(c)),
                        _ => false,
                    };
                score_ok && choice_ok
            }
        }
    }

    /// The first scored question of a kind (the survey's headline metric).
    pub fn headline(&self) -> Option<&Question> {
        self.questions.iter().find(|q| matches!(q.kind, QuestionKind::Nps | QuestionKind::Csat | QuestionKind::Ces))
    }

    /// Split the questions into pages for a form without JavaScript: a page ends before a
    /// question whose visibility depends on an answer on that page. Returns question index
    /// ranges.
    pub fn pages(&self) -> Vec<std::ops::Range<usize>> {
        let mut pages = vec![];
        let mut start = 0;
        for (i, q) in self.questions.iter().enumerate() {
            if let Some(cond) = &q.show_if {
                if self.questions[start..i].iter().any(|e| e.id == cond.question) {
                    pages.push(start..i);
                    start = i;
                }
            }
        }
        pages.push(start..self.questions.len());
        pages
    }

    /// Parse raw answers (question id → JSON value) against this definition. With
    /// `complete`, every required question that is visible must be answered. Unknown
    /// question ids are an error (a typo must not lose an answer silently). Messages are
    /// in `lang`.
    pub fn parse_answers(&self, raw: &Map<String, Value>, complete: bool, lang: Lang) -> Result<Answers, FieldError> {
        let mut answers = Answers::default();
        for key in raw.keys() {
            if self.question(key).is_none() {
                return Err(FieldError::new(key.clone(), msg(Msg::UnknownQuestion, lang)));
            }
        }
        for q in &self.questions {
            if !self.visible(q, &answers) {
                continue;
            }
            match raw.get(&q.id) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.trim().is_empty() => {}
                Some(v) => {
                    let a = parse_answer(q, v, lang).map_err(|m| FieldError::new(q.id.clone(), m))?;
                    if !a.is_empty() {
                        answers.0.insert(q.id.clone(), a);
                    }
                }
            }
        }
        if complete {
            self.check_required(&answers, lang)?;
        }
        Ok(answers)
    }

    /// The first required, visible question without an answer.
    pub fn check_required(&self, answers: &Answers, lang: Lang) -> Result<(), FieldError> {
        match self.questions.iter().find(|q| q.required && self.visible(q, answers) && !answers.0.contains_key(&q.id)) {
            Some(q) => Err(FieldError::new(q.id.clone(), msg(Msg::Required, lang))),
            None => Ok(()),
        }
    }
}

/// "Please answer this question", in a language.
pub fn required_message(lang: Lang) -> String {
    msg(Msg::Required, lang)
}

fn check_choices(path: &str, options: &[Choice]) -> Result<(), FieldError> {
    if options.is_empty() {
        return Err(FieldError::new(path, "needs at least one option"));
    }
    for (j, o) in options.iter().enumerate() {
        if !valid_key(&o.key) {
            return Err(FieldError::new(format!("{path}[{j}].key"), "use letters, digits, - and _ (at most 64)"));
        }
        if options[..j].iter().any(|p| p.key == o.key) {
            return Err(FieldError::new(format!("{path}[{j}].key"), format!("`{}` is used twice", o.key)));
        }
        if o.label.values().all(|s| s.trim().is_empty()) {
            return Err(FieldError::new(format!("{path}[{j}].label"), "needs a text in at least one locale"));
        }
    }
    Ok(())
}

/// One answer, typed by its question; stored as `{"score": 9}`, `{"text": "…"}` ….
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A score on the question's scale.
    Score(i64),
    /// The chosen option.
    Choice(String),
    /// The chosen options.
    Choices(Vec<String>),
    /// Free text.
    Text(String),
    /// Expectation and experience, both 0–10.
    Pair {
        /// What was expected.
        expectation: i64,
        /// What was experienced.
        experience: i64,
    },
    /// Area key → 0–10.
    Matrix(BTreeMap<String, i64>),
}

impl Answer {
    /// The score, for scored questions.
    pub fn score(&self) -> Option<f64> {
        match self {
            Answer::Score(s) => Some(*s as f64),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Answer::Choices(c) => c.is_empty(),
            Answer::Matrix(m) => m.is_empty(),
            Answer::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// A response's answers, by question id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Answers(pub BTreeMap<String, Answer>);

impl Answers {
    /// The score given to a question.
    pub fn score(&self, question: &str) -> Option<f64> {
        self.0.get(question).and_then(Answer::score)
    }

    /// The answers as raw values, the way a form or the API sends them (what
    /// [`SurveyDef::parse_answers`] reads back).
    pub fn to_raw(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, a)| {
                let v = match a {
                    Answer::Score(s) => Value::from(*s),
                    Answer::Choice(c) | Answer::Text(c) => Value::from(c.clone()),
                    Answer::Choices(cs) => Value::from(cs.clone()),
                    Answer::Pair { expectation, experience } => {
                        serde_json::json!({"expectation": expectation, "experience": experience})
                    }
                    Answer::Matrix(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect()),
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// The text given to a question.
    pub fn text(&self, question: &str) -> Option<&str> {
        match self.0.get(question) {
            Some(Answer::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// Messages a respondent may read, in three languages.
#[derive(Debug, Clone, Copy)]
enum Msg {
    UnknownQuestion,
    Required,
    NotANumber,
    OutOfRange,
    UnknownOption,
    OneOption,
    TooLong,
    NotText,
    BadPair,
    BadMatrix,
}

fn msg(m: Msg, lang: Lang) -> String {
    let l = match m {
        Msg::UnknownQuestion => Localized::new(
            "no such question in this survey",
            "takovou otázku dotazník nemá",
            "ankieta nie ma takiego pytania",
        ),
        Msg::Required => Localized::new(
            "please answer this question",
            "odpovězte prosím na tuto otázku",
            "prosimy odpowiedzieć na to pytanie",
        ),
        Msg::NotANumber => Localized::new("choose a number", "vyberte číslo", "prosimy wybrać liczbę"),
        Msg::OutOfRange => {
            Localized::new("the number is outside the scale", "číslo je mimo stupnici", "liczba jest poza skalą")
        }
        Msg::UnknownOption => {
            Localized::new("this option is not offered", "tato možnost v nabídce není", "tej opcji nie ma do wyboru")
        }
        Msg::OneOption => Localized::new("choose one option", "vyberte jednu možnost", "prosimy wybrać jedną opcję"),
        Msg::TooLong => Localized::new(
            "the text is too long (at most 5000 characters)",
            "text je příliš dlouhý (nejvýše 5000 znaků)",
            "tekst jest za długi (najwyżej 5000 znaków)",
        ),
        Msg::NotText => Localized::new("write a text", "napište text", "prosimy wpisać tekst"),
        Msg::BadPair => Localized::new(
            "give both what you expected and what you got (0–10)",
            "vyplňte, co jste čekali i co jste dostali (0–10)",
            "prosimy podać, czego Państwo oczekiwali i co Państwo otrzymali (0–10)",
        ),
        Msg::BadMatrix => Localized::new(
            "rate each area with a number 0–10",
            "ohodnoťte každou oblast číslem 0–10",
            "prosimy ocenić każdy obszar liczbą 0–10",
        ),
    };
    l.get(lang).to_string()
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_answer(q: &Question, v: &Value, lang: Lang) -> Result<Answer, String> {
    let scored = |lo: i64, hi: i64, v: &Value| -> Result<i64, String> {
        let n = int(v).ok_or_else(|| msg(Msg::NotANumber, lang))?;
        if (lo..=hi).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{} ({lo}–{hi})", msg(Msg::OutOfRange, lang)))
        }
    };
    let choose = |options: &[Choice], v: &Value| -> Result<String, String> {
        let s = v.as_str().ok_or_else(|| msg(Msg::OneOption, lang))?;
        if options.iter().any(|o| o.key == s) {
            Ok(s.to_string())
        } else {
            Err(msg(Msg::UnknownOption, lang))
        }
    };
    match &q.kind {
        k @ (QuestionKind::Nps | QuestionKind::Csat | QuestionKind::Ces | QuestionKind::Rating { .. }) => {
            let (lo, hi) = k.scale().unwrap_or((0, 10));
            scored(lo, hi, v).map(Answer::Score)
        }
        QuestionKind::Single { options } => choose(options, v).map(Answer::Choice),
        QuestionKind::Multiple { options } => {
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let mut out = vec![];
            for item in items {
                let c = choose(options, item)?;
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            Ok(Answer::Choices(out))
        }
        QuestionKind::Text { .. } => {
            let s = v.as_str().ok_or_else(|| msg(Msg::NotText, lang))?;
            if s.chars().count() > MAX_TEXT_CHARS {
                return Err(msg(Msg::TooLong, lang));
            }
            Ok(Answer::Text(s.trim().to_string()))
        }
        QuestionKind::Pair { .. } => {
            let o = v.as_object().ok_or_else(|| msg(Msg::BadPair, lang))?;
            let get = |k: &str| o.get(k).and_then(int).filter(|n| (0..=10).contains(n));
            match (get("expectation"), get("experience")) {
                (Some(expectation), Some(experience)) => Ok(Answer::Pair { expectation, experience }),
                _ => Err(msg(Msg::BadPair, lang)),
            }
        }
        QuestionKind::Matrix { areas } => {
            let o = v.as_object().ok_or_else(|| msg(Msg::BadMatrix, lang))?;
            let mut out = BTreeMap::new();
            for (k, v) in o {
                if !areas.iter().any(|a| &a.key == k) {
                    return Err(format!("{k}: {}", msg(Msg::UnknownOption, lang)));
                }
                if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
                    continue;
                }
                out.insert(k.clone(), scored(0, 10, v).map_err(|_| format!("{k}: {}", msg(Msg::BadMatrix, lang)))?);
            }
            Ok(Answer::Matrix(out))
        }
    }
}

/// A ready-made NPS survey with a follow-up for detractors and one for everyone, in en,
/// cs and pl: what `touchpoint survey create --template nps` starts from.
pub fn nps_template(trigger: Option<&str>) -> SurveyDef {
    let t = |en: &str, cs: &str, pl: &str| -> Texts {
        [("en", en), ("cs", cs), ("pl", pl)].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    SurveyDef {
        title: t("How are we doing?", "Jak se nám daří?", "Jak nam idzie?"),
        intro: t(
            "Two quick questions, one minute at most.",
            "Dvě rychlé otázky, nejvýš minuta.",
            "Dwa szybkie pytania, najwyżej minuta.",
        ),
        thank_you: t(
            // Under the page's own "Thank you!" heading.
            "Your answer helps us do better.",
            "Vaše odpověď nám pomůže zlepšit se.",
            "Państwa odpowiedź pomoże nam działać lepiej.",
        ),
        default_locale: "en".into(),
        questions: vec![
            Question {
                id: "nps".into(),
                kind: QuestionKind::Nps,
                text: t(
                    "How likely are you to recommend us to a friend or colleague?",
                    "Jak pravděpodobně byste nás doporučili příteli nebo kolegovi?",
                    "Jak prawdopodobne jest, że polecą nas Państwo znajomemu lub współpracownikowi?",
                ),
                // The page labels the scale's ends itself.
                help: Texts::new(),
                required: true,
                area: None,
                show_if: None,
            },
            Question {
                id: "wrong".into(),
                kind: QuestionKind::Text { multiline: true },
                text: t("What went wrong?", "Co se nepovedlo?", "Co poszło nie tak?"),
                help: Texts::new(),
                required: false,
                area: None,
                show_if: Some(ShowIf { question: "nps".into(), min: None, max: Some(6), any_of: vec![] }),
            },
            Question {
                id: "best".into(),
                kind: QuestionKind::Text { multiline: true },
                text: t("What did you like most?", "Co se vám líbilo nejvíc?", "Co najbardziej się Państwu podobało?"),
                help: Texts::new(),
                required: false,
                area: None,
                show_if: Some(ShowIf { question: "nps".into(), min: Some(7), max: None, any_of: vec![] }),
            },
        ],
        trigger: trigger.map(str::to_string),
        dimensions: vec![],
    }
}
