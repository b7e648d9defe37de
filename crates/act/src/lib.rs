//! Acting at key moments. A trigger rule ([`rule`]) says *when* (a touchpoint happens, is
//! not followed within a time, a stage is entered, a survey score arrives), *who* (traits,
//! first channel), *then* what (a webhook, an e-mail, a survey invitation by either, a
//! team alert), the hold-out share and the goal its report measures, and the guard rails
//! (caps, quiet hours, re-entry). [`decide`] is the decision, pure, shared by the live
//! worker and the preview; [`uplift`] compares the treated customers with the held-out
//! ones. The outside integrations each have a folder: [`webhook`] (Standard Webhooks) and
//! [`email`] (SMTP). What is durable — the outbox, timers, retries — is the engine's and
//! the store's; this crate keeps no state.

pub mod decide;
pub mod email;
pub mod rule;
pub mod uplift;
pub mod webhook;

pub use rule::{RuleDef, RuleError};
