//! The service team's requests: a customer opens one in the portal, the team lists,
//! assigns, replies to and moves it through new → open → waiting → resolved → closed, the
//! customer reads and answers the replies. Each use case lives here once; the API, the
//! CLI, the dashboard and the portal only translate.
//!
//! What each change does besides being kept in the request's timeline:
//! - it goes into the customer's journey as a touchpoint of the self-service channel —
//!   `request-opened`, `request-resolved` (with the hours it took), and `request-updated`
//!   for every other change (`change`: `reply`, `customer_reply`, `status`, `assign`) — so
//!   requests show on the journey map, in funnels and churn drivers, and a trigger rule
//!   on them mirrors every change to an existing helpdesk by webhook (see [`mirror`]);
//! - a reply of the team is e-mailed to the customer in the request's language, with a
//!   sign-in link that opens the request in the portal.
//!
//! Who may see what: the team (API keys, dashboard accounts) every request of its
//! project; a customer only the requests of the person they are (their customer id and
//! the ids merged into it) — another's is "not found", as an unknown one is.

use crate::error::{Code, Error};
use crate::portal::{self, Visitor};
use crate::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use touchpoint_core::catalog::{REQUEST_OPENED_EVENT, REQUEST_RESOLVED_EVENT, REQUEST_UPDATED_EVENT};
use touchpoint_core::event::format_time;
use touchpoint_core::{CustomerId, Lang, ProjectId};
use touchpoint_store::service::{NewEntry, NewRequest, OpenCap, Request, RequestEntry, RequestFilter};
use touchpoint_store::{now_ms, Store};

/// The statuses, in the order a request moves through them.
pub const STATUSES: [&str; 5] = ["new", "open", "waiting", "resolved", "closed"];
/// The longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;
/// The longest message, in characters.
pub const MAX_BODY: usize = 10_000;
/// The longest assignee name or address.
pub const MAX_ASSIGNEE: usize = 254;
/// The most requests a list answers.
pub const MAX_LIST: usize = 500;
/// The most requests one customer may open in 24 hours (a signed-in script cannot fill
/// the team's queue or the store).
pub const MAX_OPENED_PER_DAY: usize = 10;

/// A request as the API, the CLI, the dashboard and the portal show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestView {
    /// Its id.
    pub id: i64,
    /// The customer who opened it.
    pub customer_id: CustomerId,
    /// Its subject line.
    pub subject: String,
    /// `new`, `open`, `waiting`, `resolved` or `closed`.
    pub status: String,
    /// The customer's language (`cs`, `pl`, `en`): replies are e-mailed in it.
    pub lang: String,
    /// Where replies are e-mailed, if the customer gave an address.
    pub email: Option<String>,
    /// Who on the team has it.
    pub assignee: Option<String>,
    /// When it was opened (RFC 3339, UTC).
    pub created: String,
    /// When it last changed.
    pub updated: String,
    /// When it was last resolved, if it is resolved or closed after being resolved.
    pub resolved: Option<String>,
    /// Hours from opening to that resolution.
    pub resolution_hours: Option<f64>,
    /// Its timeline, oldest first (in a request's own view; absent in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<EntryView>>,
}

/// One entry of a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    /// `message`, `status` (the new status in `body`) or `assign` (the new assignee in
    /// `body`, empty when unassigned).
    pub kind: String,
    /// `customer` or `team`.
    pub author: String,
    /// The team member, for the team's entries.
    pub author_name: Option<String>,
    /// The text.
    pub body: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

fn hours(r: &Request) -> Option<f64> {
    r.resolved_ms.map(|t| ((t - r.created_ms).max(0) as f64 / 3_600_000.0 * 100.0).round() / 100.0)
}

/// A stored request as shown.
pub fn view(r: Request, entries: Option<Vec<RequestEntry>>) -> RequestView {
    RequestView {
        id: r.id,
        customer_id: r.customer_id,
        resolution_hours: hours(&r),
        subject: r.subject,
        status: r.status,
        lang: r.lang,
        email: r.email,
        assignee: r.assignee,
        created: format_time(r.created_ms),
        updated: format_time(r.updated_ms),
        resolved: r.resolved_ms.map(format_time),
        entries: entries.map(|es| {
            es.into_iter()
                .map(|e| EntryView {
                    kind: e.kind,
                    author: e.author,
                    author_name: e.author_name,
                    body: e.body,
                    at: format_time(e.created_ms),
                })
                .collect()
        }),
    }
}

/// Which requests to list (the API's query string, the CLI's flags).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Only in this status.
    pub status: Option<String>,
    /// Only this assignee's; `none`: only the unassigned.
    pub assignee: Option<String>,
    /// Only this customer's (and the customers merged into it).
    pub customer: Option<CustomerId>,
    /// Only requests with an id below this (the next page).
    pub before: Option<i64>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<usize>,
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(Code::InvalidRequest, Some(field.into()), message)
}

/// A status as given, checked (exactly as spelled in [`STATUSES`]).
fn status(field: &str, s: &str) -> Result<String, Error> {
    if STATUSES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(invalid(field, format!("{s:?} is not a status; one of: {}", STATUSES.join(", "))))
    }
}

/// A text as given, trimmed and checked: not empty, at most `max` characters, no control
/// characters but line breaks and tabs.
fn text(field: &str, s: &str, max: usize) -> Result<String, Error> {
    let t = s.replace("\r\n", "\n").trim().to_string();
    if t.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let n = t.chars().count();
    if n > max {
        return Err(invalid(field, format!("is {n} characters long; at most {max}")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(t)
}

/// The project's requests, newest first.
pub async fn list(store: &dyn Store, project: ProjectId, input: &ListInput) -> Result<Vec<RequestView>, Error> {
    let customers = match input.customer {
        Some(c) => {
            let c = crate::read::canonical(store, project, c).await?;
            Some(store.merged_ids(c).await?)
        }
        None => None,
    };
    let filter = RequestFilter {
        customers,
        status: input.status.as_deref().map(|s| status("status", s)).transpose()?,
        assignee: input.assignee.as_deref().map(|a| if a == "none" { String::new() } else { a.trim().to_string() }),
        before_id: input.before,
    };
    let limit = input.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIST {
        return Err(Error::invalid(Code::InvalidQuery, Some("limit".into()), format!("must be 1 to {MAX_LIST}")));
    }
    Ok(store.requests(project, &filter, limit).await?.into_iter().map(|r| view(r, None)).collect())
}

/// One request with its timeline, as the team sees it.
pub async fn get(store: &dyn Store, project: ProjectId, id: i64) -> Result<RequestView, Error> {
    let r = store.request(project, id).await?.ok_or_else(|| Error::not_found(format!("request {id} not found")))?;
    let entries = store.request_entries(project, id).await?;
    Ok(view(r, Some(entries)))
}

/// The ids of the person a customer is (the canonical customer and those merged into it).
async fn person(store: &dyn Store, customer: CustomerId) -> Result<Vec<CustomerId>, Error> {
    Ok(crate::triggers::person_ids(store, customer).await?)
}

/// A customer's own requests, newest first.
pub async fn mine(store: &dyn Store, project: ProjectId, customer: CustomerId) -> Result<Vec<RequestView>, Error> {
    let filter = RequestFilter { customers: Some(person(store, customer).await?), ..Default::default() };
    Ok(store.requests(project, &filter, MAX_LIST).await?.into_iter().map(|r| view(r, None)).collect())
}

/// One of a customer's own requests with its timeline; another's is not found.
pub async fn my_request(
    store: &dyn Store,
    project: ProjectId,
    customer: CustomerId,
    id: i64,
) -> Result<RequestView, Error> {
    let ids = person(store, customer).await?;
    match store.request(project, id).await? {
        Some(r) if ids.contains(&r.customer_id) => {
            let entries = store.request_entries(project, id).await?;
            Ok(view(r, Some(entries)))
        }
        _ => Err(Error::not_found(format!("request {id} not found"))),
    }
}

/// What a customer writes to open a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenInput {
    /// The subject line.
    pub subject: String,
    /// The message.
    pub body: String,
}

/// A signed-in customer opens a request (in the portal's language; replies are e-mailed
/// to their proven address when their session has one, see
/// [`portal::signed_visitor`]). At most [`MAX_OPENED_PER_DAY`] a day, counted by the
/// store in the same transaction as the new one (requests opened at once take turns).
pub async fn open(s: &Engine, project: ProjectId, v: &Visitor, input: &OpenInput) -> Result<RequestView, Error> {
    let customer = v.customer.ok_or_else(|| Error::forbidden("sign in to open a request"))?;
    // A subject is one line: line breaks and tabs become spaces.
    let subject = input.subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let new = NewRequest {
        customer_id: customer,
        subject: text("subject", &subject, MAX_SUBJECT)?,
        body: text("body", &input.body, MAX_BODY)?,
        lang: v.lang.code().into(),
        email: v.email.clone(),
    };
    let now = now_ms();
    let cap =
        OpenCap { customers: person(&*s.store, customer).await?, since_ms: now - 86_400_000, max: MAX_OPENED_PER_DAY };
    let Some(r) = s.store.create_request_within(project, &new, now, &cap).await? else {
        return Err(Error::rate_limited(3600));
    };
    let mut props = Map::new();
    props.insert("request_id".into(), json!(r.id));
    props.insert("subject".into(), json!(r.subject));
    props.insert("lang".into(), json!(r.lang));
    portal::record(s, project, v, REQUEST_OPENED_EVENT, props).await;
    get(&*s.store, project, r.id).await
}

/// A signed-in customer answers one of their requests: a waiting or resolved request
/// opens again; a closed one is refused (the customer opens a new one).
pub async fn customer_reply(
    s: &Engine,
    project: ProjectId,
    v: &Visitor,
    id: i64,
    body: &str,
) -> Result<RequestView, Error> {
    let customer = v.customer.ok_or_else(|| Error::forbidden("sign in to answer a request"))?;
    let current = my_request(&*s.store, project, customer, id).await?;
    let body = text("body", body, MAX_BODY)?;
    if current.status == "closed" {
        return Err(Error::conflict(format!("request {id} is closed; open a new one")));
    }
    let reopen = matches!(current.status.as_str(), "waiting" | "resolved");
    let entry = NewEntry {
        kind: "message".into(),
        author: "customer".into(),
        author_name: None,
        body,
        status: reopen.then(|| "open".to_string()),
        assignee: None,
    };
    let r = s.store.add_request_entry(project, id, &entry, now_ms()).await?;
    let mut props = Map::new();
    props.insert("request_id".into(), json!(r.id));
    props.insert("change".into(), json!("customer_reply"));
    props.insert("status".into(), json!(r.status));
    portal::record(s, project, v, REQUEST_UPDATED_EVENT, props).await;
    my_request(&*s.store, project, customer, id).await
}

/// What the team changes on a request: a reply, a status, an assignee (at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamChange {
    /// A reply to the customer (e-mailed to them in the request's language).
    #[serde(default)]
    pub body: Option<String>,
    /// The new status: `new`, `open`, `waiting`, `resolved`, `closed`. A reply without
    /// one moves a `new` or `open` request to `waiting` (on the customer).
    #[serde(default)]
    pub status: Option<String>,
    /// The new assignee; an empty text unassigns.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// What a team change did besides the request itself: whether the reply was e-mailed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChangeAnswer {
    /// The request as it is now, with its timeline.
    pub request: RequestView,
    /// The reply's e-mail: `sent`, `no_address` (no proven address), `no_smtp` (no
    /// SMTP server configured), `failed: …` (the server's refusal), or absent without a
    /// reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The team changes a request (`by`: the account's address, the key's name, `cli`):
/// a reply, then a status, then an assignee, each an entry of the timeline and a step in
/// the customer's journey; a reply is e-mailed to the customer with a link into the
/// portal (`base_url`: where customers reach this server).
pub async fn team_change(
    s: &Engine,
    project: ProjectId,
    id: i64,
    by: &str,
    change: &TeamChange,
    base_url: &str,
) -> Result<ChangeAnswer, Error> {
    let body = change.body.as_deref().map(|b| text("body", b, MAX_BODY)).transpose()?;
    let mut new_status = change.status.as_deref().map(|st| status("status", st)).transpose()?;
    let assignee = match change.assignee.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(a) if a.chars().count() > MAX_ASSIGNEE || a.chars().any(char::is_control) => {
            return Err(invalid("assignee", format!("at most {MAX_ASSIGNEE} characters, no control characters")));
        }
        Some(a) => Some(Some(a.to_string())),
    };
    if body.is_none() && new_status.is_none() && assignee.is_none() {
        return Err(invalid("body", "give a reply (body), a status or an assignee"));
    }
    let current =
        s.store.request(project, id).await?.ok_or_else(|| Error::not_found(format!("request {id} not found")))?;
    if body.is_some() && new_status.is_none() && matches!(current.status.as_str(), "new" | "open") {
        new_status = Some("waiting".into());
    }
    let new_status = new_status.filter(|st| *st != current.status);
    let team = |kind: &str, body: String, status: Option<String>, assignee: Option<Option<String>>| NewEntry {
        kind: kind.into(),
        author: "team".into(),
        author_name: Some(by.to_string()),
        body,
        status,
        assignee,
    };
    let mut entries = vec![];
    match body.clone() {
        Some(b) => entries.push(team("message", b, new_status.clone(), None)),
        None => {
            if let Some(st) = &new_status {
                entries.push(team("status", st.clone(), Some(st.clone()), None));
            }
        }
    }
    if let Some(a) = assignee.clone().filter(|a| *a != current.assignee) {
        entries.push(team("assign", a.clone().unwrap_or_default(), None, Some(a)));
    }
    let mut r = current.clone();
    for e in &entries {
        r = s.store.add_request_entry(project, id, e, now_ms()).await?;
    }
    // The customer's journey: one step for the change.
    if !entries.is_empty() {
        let who = portal::customer_visitor(&*s.store, r.customer_id, Lang::parse(&r.lang).unwrap_or_default()).await;
        if let Some(v) = who {
            let mut props = Map::new();
            props.insert("request_id".into(), json!(r.id));
            props.insert("status".into(), json!(r.status));
            let event = if new_status.as_deref() == Some("resolved") {
                props.insert("resolution_hours".into(), json!(hours(&r)));
                REQUEST_RESOLVED_EVENT
            } else {
                let what = if body.is_some() {
                    "reply"
                } else if new_status.is_some() {
                    "status"
                } else {
                    "assign"
                };
                props.insert("change".into(), json!(what));
                REQUEST_UPDATED_EVENT
            };
            portal::record(s, project, &v, event, props).await;
        }
    }
    let email = match &body {
        None => None,
        Some(b) => Some(email_reply(s, &r, b, base_url).await),
    };
    Ok(ChangeAnswer { request: get(&*s.store, project, id).await?, email })
}

/// E-mail the team's reply to the customer, in the request's language, with a sign-in
/// link to the request (single use, [`portal::REPLY_LINK_TTL_S`]).
async fn email_reply(s: &Engine, r: &Request, body: &str, base_url: &str) -> String {
    let Some(to) = r.email.as_deref() else { return "no_address".into() };
    if !crate::mail::configured(&s.config) {
        return "no_smtp".into();
    }
    let project = match s.store.project(r.project_id).await {
        Ok(Some(p)) => p,
        _ => return "failed: the project is unavailable".into(),
    };
    // Whoever uses the link reads this mailbox: the address is proven for the session.
    let link = match portal::link_url(
        &*s.store,
        &project,
        Some(r.customer_id),
        Some(to.to_string()),
        portal::REPLY_LINK_TTL_S,
        Some(r.id),
        base_url,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return format!("failed: {e}"),
    };
    let lang = Lang::parse(&r.lang).unwrap_or_default();
    let link = format!("{link}?lang={}", lang.code());
    let texts = match lang {
        Lang::Cs => (
            "Odpověď na váš požadavek: {{ subject }}",
            "Dobrý den,\n\n{{ brand }} odpovídá na váš požadavek „{{ subject }}“:\n\n{{ body }}\n\n\
             Požadavek si přečtete a odpovíte na něj zde (odkaz platí jednou, 3 dny):\n{{ link }}",
        ),
        Lang::Pl => (
            "Odpowiedź na Twoje zgłoszenie: {{ subject }}",
            "Dzień dobry,\n\n{{ brand }} odpowiada na Twoje zgłoszenie „{{ subject }}”:\n\n{{ body }}\n\n\
             Zgłoszenie przeczytasz i odpowiesz na nie tutaj (link działa raz, przez 3 dni):\n{{ link }}",
        ),
        Lang::En => (
            "A reply to your request: {{ subject }}",
            "Hello,\n\n{{ brand }} replied to your request “{{ subject }}”:\n\n{{ body }}\n\n\
             Read and answer it here (the link works once, for 3 days):\n{{ link }}",
        ),
    };
    let brand = project.brand.brand_name.clone().unwrap_or_else(|| project.name.clone());
    let ctx = json!({"brand": brand, "subject": r.subject, "body": body, "link": link});
    let id = format!("request_{}_{}", r.id, r.updated_ms);
    match crate::mail::send(s, to, &id, lang, texts, &ctx).await {
        Ok(true) => "sent".into(),
        Ok(false) => "no_smtp".into(),
        Err(e) => {
            tracing::warn!(request = r.id, error = %e, "a reply could not be e-mailed");
            format!("failed: {e}")
        }
    }
}

/// Mirror every change of the project's requests to a helpdesk: three live trigger rules
/// (on `request-opened`, `request-updated`, `request-resolved`) that send a Standard
/// Webhooks request to `url`, signed with one `whsec_` secret, for every change: a team
/// alert (not a message to the customer: no hold-out, no consent or caps, no quiet
/// hours), with the outbox's retries and dead-letter list. Answers the rules' keys and
/// the secret (shown once). A second call for the same project is a conflict.
pub async fn mirror(s: &Engine, project: ProjectId, url: &str) -> Result<(Vec<String>, String), Error> {
    use touchpoint_core::catalog::{REQUEST_OPENED_TP, REQUEST_RESOLVED_TP, REQUEST_UPDATED_TP};
    let secret = touchpoint_act::webhook::sign::new_secret();
    let mut keys = vec![];
    for tp in [REQUEST_OPENED_TP, REQUEST_UPDATED_TP, REQUEST_RESOLVED_TP] {
        let key = format!("mirror-{tp}");
        let def = json!({
            "name": format!("Helpdesk mirror: {tp}"),
            "when": {"kind": "happens", "touchpoint": tp},
            "then": {"kind": "team_alert", "endpoint": {"url": url, "secret": secret}},
            "holdout": 0.0,
            "guard": {"reentry": "every_time"},
        });
        crate::triggers::create(&*s.store, project, &key, &def, true).await?;
        keys.push(key);
    }
    s.triggers_changed();
    Ok((keys, secret))
}
