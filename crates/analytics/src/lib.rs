//! Journey analytics: the journey map, funnels, paths, retention, churn and attribution,
//! computed over a [`JourneySet`] — every customer's touchpoints as compact columns sorted
//! by (customer, time). Pure: no I/O, no async, no clock. The server keeps the live index
//! and hands kernels a consistent snapshot; kernels run in parallel over customer ranges
//! with rayon.
//!
//! Each analysis takes a query type and returns a report type, both serde-serializable:
//! the query *is* the backend-neutral plan, so a ClickHouse backend can later execute the
//! same plans in SQL and be held to the same answers.

pub mod attribution;
pub mod churn;
pub mod funnel;
pub mod health;
pub mod index;
pub mod journey_map;
pub mod journeys;
pub mod paths;
pub mod plan;
pub mod retention;
pub mod select;
pub mod stats;

pub use journeys::{Dictionary, Journey, JourneySet, Journeys, Tp};
