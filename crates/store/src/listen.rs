//! What the store keeps for listening: surveys and their versions, invitations, responses
//! and imported benchmark tables, behind [`ListenStore`]. Definitions and answers are kept
//! as JSON text: the store does not interpret them (the `touchpoint-listen` crate does),
//! so a later backend only has to keep bytes and enforce the few rules written here —
//! one response per invitation, per browser session and per external id, and a response
//! completed exactly once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use touchpoint_core::ProjectId;

use crate::erasure::{ListenErasure, Subject};
use crate::Result;

/// Where a survey is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyStatus {
    /// Being written: edits change it in place, nobody can answer.
    Draft,
    /// Published: answers are taken; edits make a new version.
    Live,
    /// No more answers.
    Closed,
}

impl SurveyStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyStatus::Draft => "draft",
            SurveyStatus::Live => "live",
            SurveyStatus::Closed => "closed",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<SurveyStatus> {
        match s {
            "draft" => Some(SurveyStatus::Draft),
            "live" => Some(SurveyStatus::Live),
            "closed" => Some(SurveyStatus::Closed),
            _ => None,
        }
    }
}

/// A survey with its current definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyRow {
    /// Id.
    pub id: i64,
    /// Project.
    pub project_id: ProjectId,
    /// Stable key, unique in the project (`nps-after-delivery`).
    pub key: String,
    /// Draft, live or closed.
    pub status: SurveyStatus,
    /// Current version (1 for a new survey).
    pub version: i64,
    /// The random id in open links (`/o/{public_id}`).
    pub public_id: String,
    /// The current version's definition.
    pub definition: Value,
    /// Created, ms.
    pub created_ms: i64,
    /// Last changed, ms.
    pub updated_ms: i64,
}

/// An invitation to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewInvitation {
    /// The customer's user id.
    pub customer: String,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// The language to ask in.
    pub lang: Option<String>,
    /// Expiry, ms.
    pub expires_ms: i64,
}

/// A stored invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationRow {
    /// Id.
    pub id: i64,
    /// Project.
    pub project_id: ProjectId,
    /// Survey.
    pub survey_id: i64,
    /// What it was created with.
    #[serde(flatten)]
    pub invitation: NewInvitation,
    /// Created, ms.
    pub created_ms: i64,
}

/// Who a response belongs to, for saving page by page: one row per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKey {
    /// An invitation link (single use).
    Invitation(i64),
    /// A browser on an open link (its session cookie).
    Session(String),
}

/// A response as the survey page or the API writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewResponse {
    /// Project.
    pub project_id: ProjectId,
    /// Survey.
    pub survey_id: i64,
    /// The survey version it answers.
    pub version: i64,
    /// The customer's user id, when known.
    pub customer: Option<String>,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// The language it was answered in.
    pub lang: Option<String>,
    /// Answers by question id (JSON object, as `touchpoint-listen` writes it).
    pub answers: Value,
    /// Hidden dimensions (brand, category …): a JSON object of strings.
    pub dimensions: Value,
    /// Weight (1 unless weighted).
    pub weight: f64,
    /// `page`, `widget`, `api`, `import`, `event`.
    pub source: String,
    /// Id from the system it came from (dedup on import), if any.
    pub external_id: Option<String>,
    /// When answered (ms); the store's clock when `None`.
    pub at_ms: Option<i64>,
}

/// Which responses [`ListenStore::responses`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseFilter {
    /// Of this survey only.
    pub survey: Option<i64>,
    /// Complete ones only.
    pub complete_only: bool,
    /// Only those given at a touchpoint (what satisfaction per touchpoint reads: a
    /// benchmark study's thousands of answers have none).
    pub with_touchpoint: bool,
}

/// A stored response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    /// Id.
    pub id: i64,
    /// What was written.
    #[serde(flatten)]
    pub response: NewResponse,
    /// Its invitation, if it came through one.
    pub invitation_id: Option<i64>,
    /// All required questions answered and submitted.
    pub complete: bool,
    /// The page the respondent is on (partial answers).
    pub page: i64,
    /// Created, ms.
    pub created_ms: i64,
    /// Completed, ms.
    pub completed_ms: Option<i64>,
}

/// What saving a page of answers did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveOutcome {
    /// Saved (partial, or completed by this call); the response id.
    Saved(i64),
    /// This call completed the response; the response id.
    Completed(i64),
    /// The response was already complete: nothing changed.
    AlreadyComplete(i64),
}

/// A row of an imported benchmark table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRow {
    /// Where the figures come from (a study name).
    pub source: String,
    /// `nps`, `csat`, `ces`, `index`, `mean:<area>` ….
    pub metric: String,
    /// The segment (category, industry, country …).
    pub segment: String,
    /// The value.
    pub value: f64,
    /// Its sample size, if published.
    pub n: Option<f64>,
    /// Its standard error, if published.
    pub se: Option<f64>,
}

/// Surveys, invitations, responses and benchmarks.
#[async_trait]
pub trait ListenStore: Send + Sync {
    /// The project's secret for signing links and forms (made on first use, then fixed).
    async fn project_secret(&self, project: ProjectId) -> Result<Vec<u8>>;
    /// Create a draft survey (version 1).
    async fn create_survey(&self, project: ProjectId, key: &str, definition: &Value) -> Result<SurveyRow>;
    /// Surveys of a project.
    async fn surveys(&self, project: ProjectId) -> Result<Vec<SurveyRow>>;
    /// One survey.
    async fn survey(&self, id: i64) -> Result<Option<SurveyRow>>;
    /// One survey by its key.
    async fn survey_by_key(&self, project: ProjectId, key: &str) -> Result<Option<SurveyRow>>;
    /// One survey by the public id of its open link.
    async fn survey_by_public_id(&self, public_id: &str) -> Result<Option<SurveyRow>>;
    /// Every version's definition of a survey, oldest first: `(version, definition)`.
    async fn survey_versions(&self, id: i64) -> Result<Vec<(i64, Value)>>;
    /// Change the definition: in place for a draft, as a new version otherwise.
    async fn update_survey(&self, id: i64, definition: &Value) -> Result<SurveyRow>;
    /// Publish or close.
    async fn set_survey_status(&self, id: i64, status: SurveyStatus) -> Result<SurveyRow>;
    /// Create invitations; returns their ids in order.
    async fn create_invitations(&self, project: ProjectId, survey: i64, items: &[NewInvitation]) -> Result<Vec<i64>>;
    /// One invitation.
    async fn invitation(&self, id: i64) -> Result<Option<InvitationRow>>;
    /// The response of an invitation or a browser session, if one was started.
    async fn response_by_key(&self, survey: i64, key: &ResponseKey) -> Result<Option<ResponseRow>>;
    /// Save a page of answers (the whole answer object so far) for an invitation or a
    /// session, completing the response when `complete`. Exactly one response per key is
    /// ever stored, and it completes once: a second completion, even at the same instant,
    /// gets [`SaveOutcome::AlreadyComplete`].
    async fn save_answers(&self, key: &ResponseKey, r: &NewResponse, page: i64, complete: bool) -> Result<SaveOutcome>;
    /// Store complete responses (API, import); one whose `external_id` is already stored
    /// in the project is skipped (`None`).
    async fn insert_responses(&self, rs: &[NewResponse]) -> Result<Vec<Option<i64>>>;
    /// Responses of a project that pass `which`, by id after a cursor.
    async fn responses(
        &self,
        project: ProjectId,
        which: ResponseFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ResponseRow>>;
    /// Add rows of an external benchmark table.
    async fn add_benchmarks(&self, project: ProjectId, rows: &[BenchmarkRow]) -> Result<usize>;
    /// The project's external benchmark rows.
    async fn benchmarks(&self, project: ProjectId) -> Result<Vec<BenchmarkRow>>;

    /// Invitations of the subject's project addressed to one of its identity values, by id.
    async fn subject_invitations(&self, subject: &Subject) -> Result<Vec<InvitationRow>>;
    /// Responses of the subject's project given by one of its identity values or through
    /// one of its invitations, by id.
    async fn subject_responses(&self, subject: &Subject) -> Result<Vec<ResponseRow>>;
    /// Remove a subject's invitations and responses ([`ListenStore::subject_invitations`],
    /// [`ListenStore::subject_responses`]).
    async fn erase_subject_listen(&self, subject: &Subject) -> Result<ListenErasure>;
}
