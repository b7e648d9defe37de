//! Self-service: what a brand's customers use to help themselves, and the measure of
//! whether it works. Today the knowledge base's search: [`stem`] turns a Czech, Polish or
//! English word into the form the search matches ("reklamaci" and "Reklamace" alike,
//! with or without diacritics), and [`search`] is the index over a project's articles,
//! ranked, with highlighted snippets and suggestions while a customer types; [`report`]
//! measures whether the help centre helps (deflection, search success, failed searches,
//! article helpfulness).
//!
//! Pure like the rest of the domain: no I/O, no async, no clock. The store keeps the
//! articles; the engine builds an index from them and answers the portal, the API and the
//! CLI through it.

pub mod report;
pub mod search;
pub mod stem;
