//! The touchpoint catalog's use cases that change how events are classified, once for every
//! front end (`/api/rules`, `touchpoint rule …`): adding, changing and removing a mapping
//! rule re-classifies the project's past events and rebuilds its journeys; testing a rule
//! shows which recent events it would take, and from which touchpoints, without changing
//! anything.

use crate::error::Error;
use crate::Engine;
use serde::Serialize;
use std::collections::BTreeMap;
use touchpoint_core::{Classifier, Rule};
use touchpoint_store::relay::Notice;
use touchpoint_store::writer::ReclassifyReport;
use touchpoint_store::{Project, Store};

/// A rule change and the re-classification it caused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleChange {
    /// The rule (null after a delete).
    #[schema(value_type = Option<Object>)]
    pub rule: Option<Rule>,
    /// Events looked at and changed.
    #[schema(value_type = Object)]
    pub reclassified: ReclassifyReport,
}

/// A rule must map to a touchpoint that exists: say which keys are near when it does not.
pub async fn check_rule(store: &dyn Store, project: i64, rule: &Rule) -> Result<(), Error> {
    let tps = store.touchpoints(project).await?;
    if !tps.iter().any(|t| t.touchpoint.key == rule.touchpoint) {
        let hint = touchpoint_core::suggest::hint(&rule.touchpoint, tps.iter().map(|t| t.touchpoint.key.as_str()));
        return Err(Error::missing(
            "touchpoint",
            format!(
                "touchpoint {:?} does not exist{hint}; create it first (POST /api/touchpoints or `touchpoint touchpoint add`)",
                rule.touchpoint
            ),
        ));
    }
    Ok(())
}

/// Re-classify a project's events with its current rules and rebuild its journeys (on
/// every node of a cluster).
pub async fn reclassify(s: &Engine, project: i64) -> Result<ReclassifyReport, Error> {
    let report = s.writer.reclassify(project).await?;
    s.journeys.reload(project).await?;
    s.announce(Notice { reload: vec![project], ..Default::default() }).await;
    Ok(report)
}

/// A project's touchpoints changed (added, renamed, moved to another stage): the writer
/// classifies with them from now on and the journey index names them so, on every node.
pub async fn touchpoints_changed(s: &Engine, project: i64) -> Result<(), Error> {
    s.writer.reload(project).await;
    s.journeys.refresh_dictionary(project).await?;
    s.announce(Notice { refresh: vec![project], ..Default::default() }).await;
    Ok(())
}

/// Add a rule; past events are re-classified.
pub async fn add_rule(s: &Engine, project: i64, rule: Rule) -> Result<RuleChange, Error> {
    check_rule(&*s.store, project, &rule).await?;
    let rule = s.store.add_rule(project, &rule).await?;
    Ok(RuleChange { rule: Some(rule), reclassified: reclassify(s, project).await? })
}

/// Change rule `id`; past events are re-classified.
pub async fn update_rule(s: &Engine, project: i64, id: i64, rule: Rule) -> Result<RuleChange, Error> {
    check_rule(&*s.store, project, &rule).await?;
    let rule = Rule { id, ..rule };
    s.store.update_rule(project, &rule).await?;
    Ok(RuleChange { rule: Some(rule), reclassified: reclassify(s, project).await? })
}

/// Remove rule `id`; past events are re-classified.
pub async fn delete_rule(s: &Engine, project: i64, id: i64) -> Result<RuleChange, Error> {
    s.store.delete_rule(project, id).await?;
    Ok(RuleChange { rule: None, reclassified: reclassify(s, project).await? })
}

/// One event a tested rule would take.
#[derive(Debug, Serialize)]
pub struct Example {
    /// When (ISO 8601).
    pub timestamp: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Track event, page or screen name.
    pub name: Option<String>,
    /// Page path, when there is one.
    pub path: Option<String>,
    /// The touchpoint it has now.
    pub now: Option<String>,
}

/// What a rule would do to the project's most recent events.
#[derive(Debug, Serialize)]
pub struct RuleTest {
    /// Recent events looked at.
    pub scanned: usize,
    /// Of them, the ones the rule would take (it runs before the project's own rules).
    pub matched: usize,
    /// The touchpoints those events have now, with how many of them each.
    pub from: Vec<(String, usize)>,
    /// A few of them, the most recently stored first.
    pub examples: Vec<Example>,
}

/// Which of the project's last `last` events `rule` would take. Nothing is changed.
pub async fn test_rule(store: &dyn Store, project: &Project, rule: &Rule, last: usize) -> Result<RuleTest, Error> {
    check_rule(store, project.id, rule).await?;
    let keys: BTreeMap<i64, String> =
        store.touchpoints(project.id).await?.into_iter().map(|t| (t.id, t.touchpoint.key)).collect();
    let alone = Classifier::new(vec![rule.clone()]);
    let events = store.recent_events(project.id, last).await?;
    let (scanned, mut matched) = (events.len(), 0);
    let mut from: BTreeMap<String, usize> = BTreeMap::new();
    let mut examples = vec![];
    for mut e in events {
        let now = e.touchpoint_id.and_then(|id| keys.get(&id)).cloned();
        let event = touchpoint_store::writer::stored_as_event(&mut e)?;
        if alone.classify(&event).is_some_and(|c| c.key == rule.touchpoint && c.discovered.is_none()) {
            matched += 1;
            *from.entry(now.clone().unwrap_or_else(|| "(none)".into())).or_default() += 1;
            if examples.len() < 5 {
                examples.push(Example {
                    timestamp: touchpoint_core::event::format_time(event.timestamp),
                    kind: event.kind.as_str().into(),
                    name: event.name.clone(),
                    path: event.facts.path.clone(),
                    now,
                });
            }
        }
    }
    let mut from: Vec<(String, usize)> = from.into_iter().collect();
    from.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(RuleTest { scanned, matched, from, examples })
}
