//! A customer's rights over their data, once for every front end (`DELETE
//! /api/customers/{id}`, `GET /api/customers/{id}/export`, `touchpoint customer erase |
//! export`): find the customer by an id they are known by, export everything stored about
//! them (GDPR articles 15 and 20), and erase every trace (article 17).
//!
//! Erasure goes through the single writer when one runs (it waits for the groups queued
//! before it, and the groups after it wait for it), so no event of the customer is in
//! flight while their data is removed. The stores remove, suppress, purge and re-read (see
//! `touchpoint_store::erasure`); then the project's live journey index is rebuilt from the
//! store and its journey file rewritten, so no analysis counts the customer and no file in
//! the data directory holds their ids. The receipt says what each part did; it is
//! `verified` only when every store's re-read found nothing and the journeys no longer
//! hold the customer.

use crate::error::{Code, Error};
use crate::Engine;
use serde::Serialize;
use touchpoint_core::{CustomerId, IdentityKind, ProjectId};
use touchpoint_store::relay::Notice;
use touchpoint_store::{CustomerExport, ErasureReceipt, Store};

/// How a request names a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Touchpoint's customer id.
    Customer(CustomerId),
    /// A user id the customer was sent with (`userId`).
    UserId(String),
    /// An anonymous id the customer was sent with (`anonymousId`).
    AnonymousId(String),
}

/// What an erasure did to the live journey index and its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JourneysErasure {
    /// The project's journeys were rebuilt from the store.
    pub rebuilt: bool,
    /// Its journey file was rewritten (false when the index keeps none, as in tests).
    pub file_rewritten: bool,
    /// Customers in the project's journeys before and after.
    pub customers_before: usize,
    /// After.
    pub customers_after: usize,
    /// Whether any erased customer id is still in the journeys (must be false).
    pub still_present: bool,
}

/// An erasure's receipt: the stores', then the journeys'.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    /// What every store removed, purged and found on a re-read.
    #[schema(value_type = Object)]
    pub stores: ErasureReceipt,
    /// What the live journey index did.
    pub journeys: JourneysErasure,
    /// True only when the stores' re-read found nothing, their files were purged, and the
    /// journeys no longer hold the customer.
    pub verified: bool,
}

/// The customer a request names, in `project`: their canonical id (a merged-away id names
/// the customer it was merged into). Needs only the store, so it reads beside a running
/// writer too (`touchpoint customer export`).
pub async fn find(store: &dyn Store, project: ProjectId, who: &Who) -> Result<CustomerId, Error> {
    let id = match who {
        Who::Customer(id) => *id,
        Who::UserId(v) | Who::AnonymousId(v) => {
            let kind = match who {
                Who::UserId(_) => IdentityKind::User,
                _ => IdentityKind::Anonymous,
            };
            store.find_identity(project, kind, v).await?.ok_or_else(|| {
                Error::not_found(format!("no customer of this project has the {} id {v:?}", kind.as_str()))
            })?
        }
    };
    crate::read::canonical(store, project, id).await
}

/// Everything stored about a customer of `project`, as one document. Needs only the
/// store, like [`find`].
pub async fn export(store: &dyn Store, project: ProjectId, who: &Who) -> Result<CustomerExport, Error> {
    let id = find(store, project, who).await?;
    Ok(store.export_customer(id).await?)
}

/// Erase a customer of `project` from every store and from the live journey index.
pub async fn erase(engine: &Engine, project: ProjectId, who: &Who) -> Result<Erasure, Error> {
    let id = find(&*engine.store, project, who).await?;
    let customers_before = customers_in(engine, project);
    let stores = engine.writer.erase_customer(id).await?;
    // The writer committed every event queued before the erase; once the index has taken
    // every commit so far off the bus, every point of theirs is in its queue: drop those
    // not folded in yet, then rebuild.
    engine.journeys.caught_up(engine.bus.last_seq()).await;
    engine.journeys.forget(&stores.customer_ids);
    engine.journeys.reload(project).await?;
    engine.journeys.save(project)?;
    let notice = Notice { reload: vec![project], forget: stores.customer_ids.clone(), ..Default::default() };
    engine.announce(notice).await;
    let file_rewritten = engine.journeys.keeps_files();
    let still_present = engine
        .journeys
        .index
        .snapshot(project)
        .is_some_and(|s| s.set.customers.iter().any(|c| stores.customer_ids.contains(c)));
    let journeys = JourneysErasure {
        rebuilt: true,
        file_rewritten,
        customers_before,
        customers_after: customers_in(engine, project),
        still_present,
    };
    if !stores.verified {
        tracing::error!(customer = id, "an erasure's re-read found data, or its purge failed");
    }
    let verified = stores.verified && !still_present;
    Ok(Erasure { stores, journeys, verified })
}

/// Customers in a project's journeys now.
fn customers_in(engine: &Engine, project: ProjectId) -> usize {
    engine.journeys.index.snapshot(project).map_or(0, |s| s.set.customer_count())
}

/// Parse how a command line or a query names a customer: exactly one of the three.
pub fn who(customer: Option<CustomerId>, user_id: Option<String>, anonymous_id: Option<String>) -> Result<Who, Error> {
    match (customer, user_id, anonymous_id) {
        (Some(c), None, None) => Ok(Who::Customer(c)),
        (None, Some(u), None) => Ok(Who::UserId(u)),
        (None, None, Some(a)) => Ok(Who::AnonymousId(a)),
        _ => Err(Error::invalid(
            Code::InvalidQuery,
            Some("customer".into()),
            "name the customer one way: a customer id, a user id or an anonymous id",
        )),
    }
}
