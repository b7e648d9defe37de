//! The survey admin API (secret key): create, edit, publish, close and export surveys,
//! create invitations, post responses collected elsewhere, and import benchmark tables.
//! Also the one place that turns a completed response into a `Survey Answered` event in the
//! customer's journey ([`record_in_journey`]), used by the pages and the API alike.

use crate::error::{Code, Error, ItemError};
use crate::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use touchpoint_core::catalog::SURVEY_EVENT;
use touchpoint_core::event::{format_time, parse_time_str, ParseContext};
use touchpoint_core::{Event, Lang, Limits};
use touchpoint_listen::invite::{self, Claims};
use touchpoint_listen::survey::{Answers, QuestionKind, SurveyDef};
use touchpoint_store::listen::{NewInvitation, NewResponse, SurveyRow, SurveyStatus};
use touchpoint_store::writer::Submission;
use touchpoint_store::{now_ms, Store};

/// Parse a stored definition (written by us, so a failure is corruption).
pub fn definition(r: &SurveyRow) -> Result<SurveyDef, Error> {
    serde_json::from_value(r.definition.clone())
        .map_err(|e| Error::internal(format!("survey {} has an unreadable definition: {e}", r.id)))
}

fn bad_definition(e: touchpoint_listen::survey::FieldError) -> Error {
    Error::invalid(Code::InvalidSurvey, Some(format!("definition.{}", e.field)), format!("definition.{e}"))
}

/// The project's survey `key`, or a 404 that names the nearest survey keys (shared with
/// the listening analyses and the CLI).
pub async fn find_survey(store: &dyn Store, project: i64, key: &str) -> Result<SurveyRow, Error> {
    if let Some(row) = store.survey_by_key(project, key).await? {
        return Ok(row);
    }
    let all = store.surveys(project).await?;
    let hint = touchpoint_core::suggest::hint(key, all.iter().map(|s| s.key.as_str()));
    Err(Error::missing("survey", format!("no survey {key:?}{hint}")))
}

/// What `POST /api/surveys` takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    /// Stable key (letters, digits, `-`, `_`).
    pub key: String,
    /// The definition; or leave it out and give `template`.
    #[schema(value_type = Object)]
    pub definition: Option<Value>,
    /// `nps`: a ready NPS survey in en/cs/pl with follow-ups.
    pub template: Option<String>,
    /// The touchpoint that triggers it (with `template`).
    pub trigger: Option<String>,
}

/// Create a draft survey from a definition or a template (shared with the CLI).
pub async fn create_survey(store: &dyn Store, project: i64, input: NewSurvey) -> Result<SurveyRow, Error> {
    if input.key.is_empty()
        || input.key.len() > 64
        || !input.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            Code::InvalidSurvey,
            Some("key".into()),
            "key: use letters, digits, - and _ (at most 64)",
        ));
    }
    let def = match (input.definition, input.template.as_deref()) {
        (Some(d), None) => SurveyDef::parse(d).map_err(bad_definition)?,
        (None, Some("nps")) => touchpoint_listen::survey::nps_template(input.trigger.as_deref()),
        (None, Some(other)) => {
            return Err(Error::invalid(
                Code::InvalidSurvey,
                Some("template".into()),
                format!("template: unknown template {other:?}; known: nps"),
            ))
        }
        _ => {
            return Err(Error::invalid(
                Code::InvalidSurvey,
                Some("definition".into()),
                "give either definition or template",
            ))
        }
    };
    let value = serde_json::to_value(&def).map_err(|e| Error::internal(e.to_string()))?;
    Ok(store.create_survey(project, &input.key, &value).await?)
}

/// Change a survey's definition: in place while a draft; a new version once live, refused
/// when it would change the meaning of answers given to any earlier version.
pub async fn edit_survey(store: &dyn Store, row: &SurveyRow, new: Value) -> Result<SurveyRow, Error> {
    let def = SurveyDef::parse(new).map_err(bad_definition)?;
    if row.status != SurveyStatus::Draft {
        for (version, old) in store.survey_versions(row.id).await? {
            let old: SurveyDef = serde_json::from_value(old)
                .map_err(|e| Error::internal(format!("survey {} v{version}: {e}", row.id)))?;
            // Well formed, but it does not fit the answers already given: a conflict.
            old.check_edit(&def).map_err(|e| {
                Error::refused(
                    Code::IncompatibleEdit,
                    Some(format!("definition.{}", e.field)),
                    format!("version {version}: {}", e.message),
                )
            })?;
        }
    }
    let value = serde_json::to_value(&def).map_err(|e| Error::internal(e.to_string()))?;
    Ok(store.update_survey(row.id, &value).await?)
}

/// One invitation to make.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    /// The customer's user id (as sent in `userId`).
    pub customer: String,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// Language: en, cs, pl or any locale the survey has.
    pub lang: Option<String>,
}

/// A created invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteLink {
    /// Invitation id.
    pub id: i64,
    /// The customer.
    pub customer: String,
    /// The signed, single-use link.
    pub url: String,
    /// Expiry (ISO 8601).
    pub expires: String,
}

/// Parse a CSV list of customers to invite (header `customer[,touchpoint][,lang]`).
pub fn parse_invite_csv(text: &str) -> Result<Vec<InviteInput>, Error> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| Error::invalid(Code::InvalidCsv, Some("line 1".into()), format!("line 1: {e}")))?
        .clone();
    let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
    let Some(c) = col("customer").or_else(|| col("user_id")).or_else(|| col("userId")) else {
        return Err(Error::invalid(
            Code::InvalidCsv,
            Some("line 1".into()),
            "line 1: the header needs a `customer` column",
        ));
    };
    let (t, l) = (col("touchpoint"), col("lang"));
    let mut out = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec
            .map_err(|e| Error::invalid(Code::InvalidCsv, Some(format!("line {line}")), format!("line {line}: {e}")))?;
        let get = |j: Option<usize>| j.and_then(|j| rec.get(j)).filter(|v| !v.is_empty()).map(str::to_string);
        let customer = get(Some(c)).ok_or_else(|| {
            Error::invalid(
                Code::InvalidCsv,
                Some(format!("line {line}")),
                format!("line {line}: the customer cell is empty"),
            )
        })?;
        out.push(InviteInput { customer, touchpoint: get(t), lang: get(l) });
    }
    Ok(out)
}

/// Create signed invitations (shared with the CLI).
pub async fn create_invitations(
    store: &dyn Store,
    row: &SurveyRow,
    customers: &[InviteInput],
    expires_days: f64,
    base: &str,
) -> Result<Vec<InviteLink>, Error> {
    if !(expires_days > 0.0 && expires_days <= 366.0) {
        return Err(Error::invalid(
            Code::InvalidInvitation,
            Some("expires_days".into()),
            "expires_days: between 0 and 366",
        ));
    }
    for (i, c) in customers.iter().enumerate() {
        if c.customer.trim().is_empty() || c.customer.chars().count() > 256 {
            return Err(Error::invalid(
                Code::InvalidInvitation,
                Some(format!("customers[{i}].customer")),
                format!("customers[{i}].customer: 1 to 256 characters"),
            ));
        }
        if let Some(l) = &c.lang {
            if l.len() > 12 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(Error::invalid(
                    Code::InvalidInvitation,
                    Some(format!("customers[{i}].lang")),
                    format!("customers[{i}].lang: not a locale"),
                ));
            }
        }
    }
    let expires_ms = now_ms() + (expires_days * 86_400_000.0) as i64;
    let items: Vec<NewInvitation> = customers
        .iter()
        .map(|c| NewInvitation {
            customer: c.customer.clone(),
            touchpoint: c.touchpoint.clone(),
            lang: c.lang.clone(),
            expires_ms,
        })
        .collect();
    let ids = store.create_invitations(row.project_id, row.id, &items).await?;
    let secret = store.project_secret(row.project_id).await?;
    Ok(ids
        .into_iter()
        .zip(items)
        .map(|(id, inv)| {
            let claims = Claims {
                invitation: id,
                project: row.project_id,
                survey: row.id,
                customer: inv.customer.clone(),
                touchpoint: inv.touchpoint,
                lang: inv.lang,
                expires_s: expires_ms / 1000,
            };
            InviteLink {
                id,
                customer: inv.customer,
                url: format!("{base}/s/{}", invite::sign(&claims, &secret)),
                expires: format_time(expires_ms),
            }
        })
        .collect())
}

/// One response posted through the API or imported.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    /// Answers by question id (`{"nps": 9, "why": "…"}`).
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    /// The customer's user id.
    pub customer: Option<String>,
    /// The touchpoint that triggered it.
    pub touchpoint: Option<String>,
    /// The language it was answered in.
    pub lang: Option<String>,
    /// Hidden dimensions (brand, category …).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub dimensions: Map<String, Value>,
    /// Weight (default 1).
    pub weight: Option<f64>,
    /// The id it has where it came from: posting it again does not store it twice.
    pub external_id: Option<String>,
    /// When it was answered (ISO 8601); now if absent.
    pub answered_at: Option<String>,
}

/// What storing responses did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ResponsesReceipt {
    /// Stored now.
    pub stored: usize,
    /// Already stored (same external id).
    pub duplicates: usize,
    /// Rejected, with the field and why.
    pub failed: Vec<ItemError>,
}

/// Check posted responses against the survey and turn them into rows; invalid ones are
/// reported by index.
pub fn validate_responses(
    row: &SurveyRow,
    def: &SurveyDef,
    inputs: Vec<ResponseInput>,
    source: &str,
) -> (Vec<NewResponse>, Vec<ItemError>) {
    let mut ok = vec![];
    let mut failed = vec![];
    for (i, r) in inputs.into_iter().enumerate() {
        let at = |f: &str, m: String| ItemError { index: i, field: format!("responses[{i}].{f}"), message: m };
        let answers = match def.parse_answers(&r.answers, true, Lang::En) {
            Ok(a) => a,
            Err(e) => {
                failed.push(at(&format!("answers.{}", e.field), e.message));
                continue;
            }
        };
        let mut dims = Map::new();
        let mut dim_error = None;
        for (k, v) in r.dimensions {
            match v {
                Value::String(s) => {
                    dims.insert(k, Value::String(s));
                }
                Value::Number(n) => {
                    dims.insert(k, Value::String(n.to_string()));
                }
                _ => dim_error = Some(at(&format!("dimensions.{k}"), "must be a string or number".into())),
            }
        }
        if let Some(e) = dim_error {
            failed.push(e);
            continue;
        }
        let weight = r.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight > 0.0) {
            failed.push(at("weight", "must be a positive number".into()));
            continue;
        }
        let at_ms = match r.answered_at.as_deref().map(parse_time_str).transpose() {
            Ok(t) => t,
            Err(e) => {
                failed.push(at("answered_at", e));
                continue;
            }
        };
        ok.push(NewResponse {
            project_id: row.project_id,
            survey_id: row.id,
            version: row.version,
            customer: r.customer,
            touchpoint: r.touchpoint,
            lang: r.lang,
            answers: serde_json::to_value(&answers).unwrap_or_default(),
            dimensions: Value::Object(dims),
            weight,
            source: source.into(),
            external_id: r.external_id,
            at_ms,
        });
    }
    (ok, failed)
}

/// Store complete responses and record each new one in its customer's journey.
pub async fn store_responses(
    s: &Engine,
    row: &SurveyRow,
    def: &SurveyDef,
    rows: Vec<NewResponse>,
) -> Result<ResponsesReceipt, Error> {
    let ids = s.store.insert_responses(&rows).await?;
    let mut receipt = ResponsesReceipt::default();
    let mut events = vec![];
    for (id, r) in ids.iter().zip(&rows) {
        match id {
            None => receipt.duplicates += 1,
            Some(id) => {
                receipt.stored += 1;
                let answers: Answers = serde_json::from_value(r.answers.clone()).unwrap_or_default();
                if let Some(e) = journey_event(row, def, *id, r, &answers, None) {
                    events.push(e);
                }
            }
        }
    }
    submit_events(s, row.project_id, events).await;
    Ok(receipt)
}

/// The `Survey Answered` event that puts a completed response into its customer's journey
/// (`None` when the response has no customer or anonymous id to attach to).
pub fn journey_event(
    row: &SurveyRow,
    def: &SurveyDef,
    id: i64,
    r: &NewResponse,
    answers: &Answers,
    anonymous_id: Option<&str>,
) -> Option<Event> {
    if r.customer.is_none() && anonymous_id.is_none() {
        return None;
    }
    let mut props = Map::new();
    props.insert("survey_id".into(), json!(row.key));
    props.insert("response_id".into(), json!(id));
    props.insert("version".into(), json!(r.version));
    if let Some(q) = def.headline() {
        props.insert("question".into(), json!(q.kind.name()));
        if let Some(score) = answers.score(&q.id) {
            props.insert("score".into(), json!(score as i64));
        }
    }
    if let Some(t) = &r.touchpoint {
        props.insert("trigger".into(), json!(t));
    }
    let at = r.at_ms.unwrap_or_else(now_ms);
    let mut v = json!({
        "type": "track",
        "event": SURVEY_EVENT,
        "messageId": format!("survey-response-{}-{id}", row.project_id),
        "timestamp": format_time(at),
        "properties": props,
    });
    if let Some(c) = &r.customer {
        v["userId"] = json!(c);
    } else if let Some(a) = anonymous_id {
        v["anonymousId"] = json!(a);
    }
    if let Some(l) = &r.lang {
        v["context"] = json!({"locale": l});
    }
    Event::parse(v, &ParseContext { received_at: now_ms(), ..Default::default() }, &Limits::default()).ok()
}

/// Hand events to the writer; a full queue waits (a response is already stored, its event
/// must not be lost to a burst).
pub async fn submit_events(s: &Engine, project: i64, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = s.writer.submit_wait(Submission { project, events, failed: vec![] }).await {
        tracing::error!(error = %e, "survey answers could not be recorded in the journeys");
    }
}

/// Every response of a survey (complete ones only if asked), in id order, read page by page.
pub async fn all_responses(
    store: &dyn Store,
    row: &SurveyRow,
    complete_only: bool,
) -> Result<Vec<touchpoint_store::listen::ResponseRow>, Error> {
    let which = touchpoint_store::listen::ResponseFilter { survey: Some(row.id), complete_only, ..Default::default() };
    responses_where(store, row.project_id, which).await
}

/// Every response of a project that passes `which`, in id order, read page by page.
pub async fn responses_where(
    store: &dyn Store,
    project: i64,
    which: touchpoint_store::listen::ResponseFilter,
) -> Result<Vec<touchpoint_store::listen::ResponseRow>, Error> {
    let mut all = vec![];
    let mut after = 0;
    loop {
        let page = store.responses(project, which, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        all.extend(page);
    }
    Ok(all)
}

/// Responses of a survey as CSV rows: one column per question (matrix areas and pair
/// halves get their own), cells made safe for spreadsheets.
pub async fn export_csv(store: &dyn Store, row: &SurveyRow, partial: bool) -> Result<String, Error> {
    let def = definition(row)?;
    let mut cols: Vec<(String, String, Option<String>)> = vec![];
    for q in &def.questions {
        match &q.kind {
            QuestionKind::Matrix { areas } => {
                for a in areas {
                    cols.push((format!("{}.{}", q.id, a.key), q.id.clone(), Some(a.key.clone())));
                }
            }
            QuestionKind::Pair { .. } => {
                for half in ["expectation", "experience"] {
                    cols.push((format!("{}.{half}", q.id), q.id.clone(), Some(half.into())));
                }
            }
            _ => cols.push((q.id.clone(), q.id.clone(), None)),
        }
    }
    let all = all_responses(store, row, !partial).await?;
    let mut dims: Vec<String> = def.dimensions.clone();
    for r in &all {
        if let Some(o) = r.response.dimensions.as_object() {
            for k in o.keys() {
                if !dims.contains(k) {
                    dims.push(k.clone());
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> =
        ["response_id", "answered_at", "complete", "version", "customer", "touchpoint", "lang", "source", "weight"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    header.extend(dims.iter().map(|d| format!("dim.{d}")));
    header.extend(cols.iter().map(|c| c.0.clone()));
    w.write_record(&header).map_err(|e| Error::internal(e.to_string()))?;
    for r in &all {
        let answers: Answers = serde_json::from_value(r.response.answers.clone()).unwrap_or_default();
        let mut rec = vec![
            r.id.to_string(),
            r.completed_ms.map(format_time).unwrap_or_default(),
            r.complete.to_string(),
            r.response.version.to_string(),
            r.response.customer.clone().unwrap_or_default(),
            r.response.touchpoint.clone().unwrap_or_default(),
            r.response.lang.clone().unwrap_or_default(),
            r.response.source.clone(),
            r.response.weight.to_string(),
        ];
        for d in &dims {
            rec.push(r.response.dimensions.get(d).and_then(Value::as_str).unwrap_or("").to_string());
        }
        for (_, q, part) in &cols {
            use touchpoint_listen::survey::Answer;
            let cell = match (answers.0.get(q), part.as_deref()) {
                (None, _) => String::new(),
                (Some(Answer::Score(s)), _) => s.to_string(),
                (Some(Answer::Choice(c)), _) | (Some(Answer::Text(c)), _) => c.clone(),
                (Some(Answer::Choices(cs)), _) => cs.join("; "),
                (Some(Answer::Matrix(m)), Some(area)) => m.get(area).map(|v| v.to_string()).unwrap_or_default(),
                (Some(Answer::Pair { expectation, .. }), Some("expectation")) => expectation.to_string(),
                (Some(Answer::Pair { experience, .. }), Some("experience")) => experience.to_string(),
                _ => String::new(),
            };
            rec.push(cell);
        }
        let rec: Vec<String> = rec.into_iter().map(|c| touchpoint_core::csvsafe::safe_cell(&c).into_owned()).collect();
        w.write_record(&rec).map_err(|e| Error::internal(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Verify an invitation token for a project's secret (shared by the pages and tests).
pub async fn verify_link(store: &dyn Store, token: &str) -> Result<Claims, invite::LinkError> {
    // The project is inside the signed claims; read it unverified only to pick the secret,
    // then verify with that secret.
    let project = token
        .split_once('.')
        .and_then(|(b, _)| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b).ok())
        .and_then(|b| serde_json::from_slice::<Claims>(&b).ok())
        .map(|c| c.project)
        .ok_or(invite::LinkError::Malformed)?;
    if !matches!(store.project(project).await, Ok(Some(_))) {
        return Err(invite::LinkError::Tampered);
    }
    let secret = store.project_secret(project).await.map_err(|_| invite::LinkError::Malformed)?;
    invite::verify(token, &secret, now_ms() / 1000)
}
