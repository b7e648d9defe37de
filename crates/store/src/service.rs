//! What the store keeps for the service team: customers' requests (opened in the portal,
//! answered by the team) with the timeline of each — messages, status changes,
//! assignments, each an entry that is added and never changed — and the magic links of
//! portal sign-in that have been used (a link is single use: using it is an insert that
//! a second use cannot repeat). The engine checks what may change (`touchpoint_engine::
//! service`); the store keeps it and answers.

use crate::{Result, Subject};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use touchpoint_core::{CustomerId, ProjectId};

/// A new request, with the customer's first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    /// The customer who opened it.
    pub customer_id: CustomerId,
    /// Its subject line.
    pub subject: String,
    /// The customer's first message.
    pub body: String,
    /// The customer's language (`cs`, `pl`, `en`): replies are e-mailed in it.
    pub lang: String,
    /// Where replies are e-mailed, if the customer gave an address.
    pub email: Option<String>,
}

/// How many requests a person may open in a window ([`ServiceStore::create_request_within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCap {
    /// The person's customer ids (the customer and those merged into it).
    pub customers: Vec<CustomerId>,
    /// The window's start, ms: requests opened after it count.
    pub since_ms: i64,
    /// The most they may have opened in it.
    pub max: usize,
}

/// A stored request, as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project_id: ProjectId,
    /// The customer who opened it.
    pub customer_id: CustomerId,
    /// Its subject line.
    pub subject: String,
    /// `new`, `open`, `waiting`, `resolved` or `closed`.
    pub status: String,
    /// The customer's language.
    pub lang: String,
    /// Where replies are e-mailed.
    pub email: Option<String>,
    /// Who on the team has it (an account's e-mail address or a name), if anyone.
    pub assignee: Option<String>,
    /// When it was opened, ms since the epoch.
    pub created_ms: i64,
    /// When it last changed, ms.
    pub updated_ms: i64,
    /// When it was last resolved, ms (kept when it is closed; cleared when it reopens).
    pub resolved_ms: Option<i64>,
}

/// One entry of a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEntry {
    /// Its id (ascending in the order entries were added).
    pub id: i64,
    /// Its request.
    pub request_id: i64,
    /// `message` (a text), `status` (the new status in `body`) or `assign` (the new
    /// assignee in `body`, empty when unassigned).
    pub kind: String,
    /// `customer` or `team`.
    pub author: String,
    /// The team member's name or address, for the team's entries.
    pub author_name: Option<String>,
    /// The text.
    pub body: String,
    /// When it was added, ms.
    pub created_ms: i64,
}

/// An entry to add, and what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// `message`, `status` or `assign` ([`RequestEntry::kind`]).
    pub kind: String,
    /// `customer` or `team`.
    pub author: String,
    /// The team member, for the team's entries.
    pub author_name: Option<String>,
    /// The text.
    pub body: String,
    /// The request's new status, if it changes.
    pub status: Option<String>,
    /// The request's new assignee, if it changes (`Some(None)`: unassigned).
    pub assignee: Option<Option<String>>,
}

/// Which requests [`ServiceStore::requests`] lists, newest first (every field narrows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFilter {
    /// Only these customers' (a person's ids after merges).
    pub customers: Option<Vec<CustomerId>>,
    /// Only in this status.
    pub status: Option<String>,
    /// Only this assignee's (empty: only the unassigned).
    pub assignee: Option<String>,
    /// Only those with an id below this (paging).
    pub before_id: Option<i64>,
}

/// A subject's requests, as an export shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestWithEntries {
    /// The request.
    #[serde(flatten)]
    pub request: Request,
    /// Its timeline, oldest first.
    pub entries: Vec<RequestEntry>,
}

/// Requests, their timelines, and used sign-in links.
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Open a request (status `new`) with its first message.
    async fn create_request(&self, project: ProjectId, new: &NewRequest, now_ms: i64) -> Result<Request>;
    /// Open a request as [`Self::create_request`] does, unless the person has opened
    /// `cap.max` since `cap.since_ms` (then `None`): counted and added in one transaction
    /// with the project's row locked, so requests opened at the same moment take turns.
    async fn create_request_within(
        &self,
        project: ProjectId,
        new: &NewRequest,
        now_ms: i64,
        cap: &OpenCap,
    ) -> Result<Option<Request>>;
    /// One request; `None` when it is not the project's.
    async fn request(&self, project: ProjectId, id: i64) -> Result<Option<Request>>;
    /// A project's requests, newest first, at most `limit`.
    async fn requests(&self, project: ProjectId, filter: &RequestFilter, limit: usize) -> Result<Vec<Request>>;
    /// A request's timeline, oldest first (empty when it is not the project's).
    async fn request_entries(&self, project: ProjectId, id: i64) -> Result<Vec<RequestEntry>>;
    /// Add an entry to a request and make its change (status, assignee) in one
    /// transaction: a status of `resolved` sets `resolved_ms`, any other but `closed`
    /// clears it. `NotFound` without the request in the project.
    async fn add_request_entry(&self, project: ProjectId, id: i64, entry: &NewEntry, now_ms: i64) -> Result<Request>;
    /// Use a sign-in link once: `true` the first time its `nonce` is used, `false` ever
    /// after (until `expires_ms`, after which the link is refused by its signature's expiry
    /// and the record may go).
    async fn use_portal_link(&self, project: ProjectId, nonce: &str, expires_ms: i64, now_ms: i64) -> Result<bool>;
    /// Whether a sign-in link's nonce has been used.
    async fn portal_link_used(&self, project: ProjectId, nonce: &str) -> Result<bool>;
    /// End every portal session of a customer signed before `at_ms` ("sign out
    /// everywhere"); a later cut-off replaces an earlier one, never the other way.
    async fn sign_out_portal(&self, project: ProjectId, customer: CustomerId, at_ms: i64) -> Result<()>;
    /// The customer's cut-off: sessions signed before it are refused.
    async fn portal_signed_out(&self, project: ProjectId, customer: CustomerId) -> Result<Option<i64>>;
    /// A subject's requests with their timelines.
    async fn subject_requests(&self, subject: &Subject) -> Result<Vec<RequestWithEntries>>;
    /// Remove a subject's requests and timelines (and their portal cut-offs): (requests,
    /// entries) removed.
    async fn erase_subject_requests(&self, subject: &Subject) -> Result<(u64, u64)>;
}
