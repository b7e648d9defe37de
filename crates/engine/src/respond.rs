//! A respondent answering a survey page by page, once for every front end: the HTML survey
//! pages today (`/s/{token}`, `/o/{id}`), the customer portal and a JSON answering API
//! next. The front end finds the respondent (an invitation, a browser session) and reads
//! what was posted; this module merges it with what was saved, checks it (answers, the
//! required questions of the page that are shown), finds the next page the branching
//! shows, saves, and on completion puts the `Survey Answered` event in the journey.

use crate::error::Error;
use crate::surveys::{journey_event, submit_events};
use crate::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use touchpoint_core::Lang;
use touchpoint_listen::survey::{Answers, SurveyDef};
use touchpoint_store::listen::{NewResponse, ResponseKey, ResponseRow, SaveOutcome, SurveyRow};

/// Who answers, and what their response carries besides the answers.
pub struct Respondent<'a> {
    /// The survey (its current version).
    pub survey: &'a SurveyRow,
    /// Its definition.
    pub def: &'a SurveyDef,
    /// What makes the response one: an invitation, a browser session.
    pub key: ResponseKey,
    /// The customer's user id, when known (an invitation).
    pub customer: Option<String>,
    /// The touchpoint that invited them.
    pub touchpoint: Option<String>,
    /// The locale the survey is shown in.
    pub locale: String,
    /// The language messages are in.
    pub lang: Lang,
    /// Hidden dimensions passed with the link.
    pub dimensions: Map<String, Value>,
    /// Where the answers come from (`page`, `widget`).
    pub source: &'a str,
    /// The browser's anonymous id, to tie the journey event to the visitor.
    pub anonymous_id: Option<String>,
}

/// What answering a page did.
#[derive(Debug)]
pub enum Step {
    /// Saved; the respondent goes on to page `next`.
    Saved {
        /// The next page shown.
        next: usize,
    },
    /// That was the last page shown: the response is complete (and in the journey).
    Completed,
    /// The response was already complete (a second tab, a replay): nothing changed.
    AlreadyComplete,
    /// Something on the page is wrong: show it again with the errors, by question id.
    Invalid {
        /// The answers that parse, to fill the page in again.
        answers: Answers,
        /// What was posted, merged with what was saved.
        raw: Map<String, Value>,
        /// What is wrong, by question id.
        errors: BTreeMap<String, String>,
    },
}

/// The response saved so far for this respondent, if any.
pub async fn saved(engine: &Engine, survey: &SurveyRow, key: &ResponseKey) -> Result<Option<ResponseRow>, Error> {
    Ok(engine.store.response_by_key(survey.id, key).await?)
}

/// Answer page `page` (an index into the definition's pages) with `posted` answers.
pub async fn answer_page(
    engine: &Engine,
    r: &Respondent<'_>,
    page: usize,
    posted: Map<String, Value>,
) -> Result<Step, Error> {
    let pages = r.def.pages();
    let page = page.min(pages.len().saturating_sub(1));
    let existing = saved(engine, r.survey, &r.key).await?;
    if existing.as_ref().is_some_and(|x| x.complete) {
        return Ok(Step::AlreadyComplete);
    }
    let before: Answers =
        existing.map(|x| serde_json::from_value(x.response.answers).unwrap_or_default()).unwrap_or_default();
    let range = pages[page].clone();
    let mut raw = before.to_raw();
    for q in &r.def.questions[range.clone()] {
        raw.remove(&q.id);
    }
    // Answers on later pages may no longer apply after this page changes; they are
    // re-checked below and dropped when their question is hidden.
    raw.extend(posted);
    let mut errors = BTreeMap::new();
    let answers = match r.def.parse_answers(&raw, false, r.lang) {
        Ok(a) => a,
        Err(e) => {
            errors.insert(e.field.clone(), e.message);
            let answers = r.def.parse_answers(&before.to_raw(), false, r.lang).unwrap_or_default();
            return Ok(Step::Invalid { answers, raw, errors });
        }
    };
    for q in &r.def.questions[range] {
        if q.required && r.def.visible(q, &answers) && !answers.0.contains_key(&q.id) {
            errors.insert(q.id.clone(), touchpoint_listen::survey::required_message(r.lang));
        }
    }
    if !errors.is_empty() {
        return Ok(Step::Invalid { answers, raw, errors });
    }
    let next = next_page(r.def, page, &answers);
    let response = NewResponse {
        project_id: r.survey.project_id,
        survey_id: r.survey.id,
        version: r.survey.version,
        customer: r.customer.clone(),
        touchpoint: r.touchpoint.clone(),
        lang: Some(r.locale.clone()),
        answers: serde_json::to_value(&answers).unwrap_or_default(),
        dimensions: Value::Object(r.dimensions.clone()),
        weight: 1.0,
        source: r.source.into(),
        external_id: None,
        at_ms: None,
    };
    match engine.store.save_answers(&r.key, &response, next.unwrap_or(page) as i64, next.is_none()).await? {
        SaveOutcome::Saved(_) => Ok(Step::Saved { next: next.unwrap_or(page) }),
        SaveOutcome::Completed(id) => {
            if let Some(e) = journey_event(r.survey, r.def, id, &response, &answers, r.anonymous_id.as_deref()) {
                submit_events(engine, r.survey.project_id, vec![e]).await;
            }
            Ok(Step::Completed)
        }
        SaveOutcome::AlreadyComplete(_) => Ok(Step::AlreadyComplete),
    }
}

/// The next page after `current` that shows a question, given the answers so far.
pub fn next_page(def: &SurveyDef, current: usize, answers: &Answers) -> Option<usize> {
    def.pages()
        .iter()
        .enumerate()
        .skip(current + 1)
        .find(|(_, r)| def.questions[(*r).clone()].iter().any(|q| def.visible(q, answers)))
        .map(|(i, _)| i)
}

/// Progress on page `page_index`: (pages answered, pages in all as far as the answers so
/// far tell). A page counts ahead when it shows a question, or when whether it does
/// depends on an answer not given yet.
pub fn progress(def: &SurveyDef, page_index: usize, answers: &Answers) -> (usize, usize) {
    let pages = def.pages();
    let start = pages.get(page_index).map_or(0, |r| r.start);
    let shown = |r: &std::ops::Range<usize>| def.questions[r.clone()].iter().any(|q| def.visible(q, answers));
    let pending = |r: &std::ops::Range<usize>| {
        def.questions[r.clone()].iter().any(|q| {
            q.show_if.as_ref().is_some_and(|c| {
                !answers.0.contains_key(&c.question)
                    && def.questions.iter().position(|o| o.id == c.question).is_some_and(|i| i >= start)
            })
        })
    };
    let answered = pages.iter().take(page_index).filter(|r| shown(r)).count();
    let later = pages.iter().skip(page_index + 1).filter(|r| shown(r) || pending(r)).count();
    (answered, answered + 1 + later)
}
