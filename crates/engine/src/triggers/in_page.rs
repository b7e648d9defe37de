//! In-page actions: what a customer's page, through the capture snippet
//! (`/touchpoint.js`), is shown when one of their rules with `then: in_page` has fired.
//!
//! The delivery loop puts such a firing past its guards (consent, caps, hold-out) and
//! leaves it **ready**; the snippet asks after every event it sends and when a page opens,
//! naming its visitor by the anonymous id it keeps (once the page identifies them, that
//! id belongs to the known customer too). The ready firings of that person — every
//! customer merged into them — decided within
//! [`IN_PAGE_DAYS`](touchpoint_act::rule::IN_PAGE_DAYS) are taken one at a time, and each
//! becomes delivered in the same write, so two tabs asking at once never both show it.
//!
//! The survey opens on its open link in the snippet's frame, carrying the visitor's
//! anonymous id and the touchpoint the rule fired at, so the answer lands in this
//! journey, at that touchpoint, in the customer's language.
//!
//! Who may ask: anyone with the project's public write key and a visitor's anonymous id
//! (a random id kept in that visitor's browser). A user id is not taken: user ids are
//! often guessable (an e-mail address, an order number), and the write key is public.
//! What one learns is which survey to show.

use crate::error::{Code, Error, Result};
use serde::Serialize;
use touchpoint_act::rule::IN_PAGE_DAYS;
use touchpoint_core::{IdentityKind, ProjectId};
use touchpoint_store::{now_ms, Store};

/// Longest anonymous id a page may name (the survey page keeps up to 200).
const MAX_ID: usize = 200;

/// The visitor a page names.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// The browser's anonymous id (Segment's `ajs_anonymous_id`).
    pub anonymous_id: String,
    /// The page's language (`navigator.language`), when the customer's is not known.
    pub lang: Option<String>,
}

impl Visitor {
    /// Parse what a page sent: an anonymous id of 1 to 200 characters and an optional
    /// language; errors name the parameter.
    pub fn parse(anonymous_id: Option<&str>, lang: Option<&str>) -> Result<Visitor> {
        let bad = |field: &str, message: String| Error::invalid(Code::InvalidQuery, Some(field.into()), message);
        let anonymous_id = anonymous_id.unwrap_or("");
        if anonymous_id.is_empty() || anonymous_id.chars().count() > MAX_ID {
            return Err(bad(
                "anonymousId",
                format!("anonymousId: the visitor's anonymous id, 1 to {MAX_ID} characters"),
            ));
        }
        let lang = lang
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            .map(str::to_owned);
        Ok(Visitor { anonymous_id: anonymous_id.to_string(), lang })
    }
}

/// What a page is asked to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InPageAction {
    /// The firing's id (the same in the rule's firings list).
    pub id: String,
    /// The rule's key.
    pub rule: String,
    /// What to show: `survey`.
    pub kind: String,
    /// The survey's page, to open in a frame.
    pub url: String,
}

/// Take the next action for `visitor`'s page in `project`, if one is ready; links start
/// with `base`.
pub async fn take(store: &dyn Store, project: ProjectId, visitor: &Visitor, base: &str) -> Result<Vec<InPageAction>> {
    let found = store.find_identity(project, IdentityKind::Anonymous, &visitor.anonymous_id).await?;
    let Some(customer) = found else { return Ok(Vec::new()) };
    let ids = super::person_ids(store, customer).await?;
    let now = now_ms();
    let since = now - IN_PAGE_DAYS * 86_400_000;
    let taken = store.take_ready_firings(project, &ids, since, now, 1).await?;
    let mut out = Vec::new();
    for f in taken {
        let payload = f.firing.payload.value();
        let survey_key = payload["in_page"]["survey"].as_str().unwrap_or_default();
        let survey = match store.survey_by_key(project, survey_key).await? {
            Some(s) => s,
            None => {
                tracing::warn!(survey = survey_key, firing = %f.firing.id, "an in-page survey is gone");
                continue;
            }
        };
        let lang = payload["in_page"]["lang"].as_str().map(str::to_owned).or_else(|| visitor.lang.clone());
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("embed", "1");
        if let Some(l) = &lang {
            query.append_pair("lang", l);
        }
        query.append_pair("aid", &visitor.anonymous_id);
        if let Some(t) = payload["event"]["touchpoint"].as_str() {
            query.append_pair("touchpoint", t);
        }
        out.push(InPageAction {
            id: f.firing.id.clone(),
            rule: payload["rule"].as_str().unwrap_or_default().to_string(),
            kind: "survey".into(),
            url: format!("{base}/o/{}?{}", survey.public_id, query.finish()),
        });
    }
    Ok(out)
}
