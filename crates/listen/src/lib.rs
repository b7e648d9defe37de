//! Listening: what customers say. Survey definitions and their versions, answers parsed
//! and validated against them, signed invitations, and every analysis of the answers —
//! NPS, CSAT, CES and rating means with confidence intervals, weighted metrics with Kish's
//! effective n, trends and significance tests, key drivers (Johnson's relative weights)
//! with the importance–performance quadrant, expectation gaps, benchmarking of the Customer
//! Happiness Index shape and the words that tell two groups apart.
//!
//! Pure like the rest of the domain: no I/O, no async, no clock (times come in as
//! arguments). The store keeps surveys and responses; the server renders pages and runs
//! these functions over what the store returns.

pub mod benchmark;
pub mod drivers;
pub mod gaps;
pub mod invite;
pub mod metrics;
pub mod survey;
pub mod text;
