//! The three languages Touchpoint speaks from day one (English, Czech, Polish) and texts
//! that carry all three.

use serde::{Deserialize, Serialize};

/// A language the product is translated into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English, the fallback.
    #[default]
    En,
    /// Czech.
    Cs,
    /// Polish.
    Pl,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Cs, Lang::Pl];

    /// Parse a language tag such as `cs`, `cs-CZ` or `pl_PL`; unknown tags give `None`.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "cs" | "cz" => Some(Lang::Cs),
            "pl" => Some(Lang::Pl),
            _ => None,
        }
    }

    /// The language's tag (`en`, `cs`, `pl`), as it is written everywhere.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Cs => "cs",
            Lang::Pl => "pl",
        }
    }
}

/// A text in every supported language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Localized {
    /// English.
    pub en: String,
    /// Czech.
    pub cs: String,
    /// Polish.
    pub pl: String,
}

impl Localized {
    /// A text given in all three languages.
    pub fn new(en: &str, cs: &str, pl: &str) -> Self {
        Localized { en: en.into(), cs: cs.into(), pl: pl.into() }
    }

    /// The same text in every language (a name nobody has translated yet).
    pub fn same(text: &str) -> Self {
        Localized::new(text, text, text)
    }

    /// The text in one language, falling back to English when that one is empty.
    pub fn get(&self, lang: Lang) -> &str {
        let s = match lang {
            Lang::En => &self.en,
            Lang::Cs => &self.cs,
            Lang::Pl => &self.pl,
        };
        if s.is_empty() {
            &self.en
        } else {
            s
        }
    }
}
