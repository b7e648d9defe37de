//! An analysis plan: which analysis, on which customers and events (filter), split how
//! (breakdown), with which parameters (the analysis' own query). Plans are plain data
//! (JSON): the HTTP API and `touchpoint report` take them, and a SQL backend can later
//! execute the same plans and be held to the same answers.

use crate::journeys::{Dictionary, JourneySet};
use crate::select::{self, Breakdown, Filter, Traits};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Which events and customers.
    #[serde(default, deserialize_with = "an_object")]
    pub filter: Filter,
    /// How to split the customers (none: one group, `all`).
    #[serde(default)]
    pub breakdown: Option<Breakdown>,
    /// Most groups of a breakdown; the rest are `(other)`.
    #[serde(default = "default_groups")]
    pub max_groups: usize,
    /// The analysis' own parameters.
    #[serde(default)]
    pub query: Value,
}

fn default_groups() -> usize {
    10
}

/// A struct from a JSON object only: serde would also take an array of its fields in order,
/// which no one writes on purpose and no document describes.
fn an_object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct Object<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Object(std::marker::PhantomData))
}

/// The result of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// Group label (`all` without a breakdown).
    pub group: String,
    /// Customers in the group.
    pub customers: usize,
    /// Events in the group.
    pub events: usize,
    /// The analysis' report.
    pub report: Value,
}

/// Why a plan could not run: always the caller's mistake, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Kernel = fn(&JourneySet, &Dictionary, &Value) -> Result<Value, PlanError>;

/// Run one analysis kind on a set with a JSON query.
fn kernel<Q, R, E>(
    f: fn(&JourneySet, &Dictionary, &Q) -> Result<R, E>,
) -> impl Fn(&JourneySet, &Dictionary, &Value) -> Result<Value, PlanError>
where
    Q: serde::de::DeserializeOwned,
    R: Serialize,
    E: std::fmt::Display,
{
    move |set, dict, q| {
        if !(q.is_null() || q.is_object()) {
            return Err(PlanError("query: must be an object".into()));
        }
        let q: Q = serde_json::from_value(if q.is_null() { Value::Object(Default::default()) } else { q.clone() })
            .map_err(|e| PlanError(format!("query: {e}")))?;
        let r = f(set, dict, &q).map_err(|e| PlanError(e.to_string()))?;
        serde_json::to_value(r).map_err(|e| PlanError(format!("report: {e}")))
    }
}

/// The analyses, by name.
pub fn kinds() -> Vec<(&'static str, Kernel)> {
    macro_rules! k {
        ($f:path) => {
            |s: &JourneySet, d: &Dictionary, q: &Value| kernel($f)(s, d, q)
        };
    }
    vec![
        ("journey-map", k!(crate::journey_map::journey_map)),
        ("funnel", k!(crate::funnel::run)),
        ("transitions", k!(crate::paths::transitions)),
        ("sankey", k!(crate::paths::sankey)),
        ("retention", k!(crate::retention::run)),
        ("churn", k!(churn)),
        ("attribution", k!(crate::attribution::run)),
    ]
}

/// Churn, which cannot fail, in the shape the others have.
fn churn(
    set: &JourneySet,
    dict: &Dictionary,
    q: &crate::churn::ChurnQuery,
) -> Result<crate::churn::ChurnReport, std::convert::Infallible> {
    Ok(crate::churn::churn(set, dict, q))
}

/// Execute a plan of a kind over a snapshot.
pub fn execute(
    kind: &str,
    set: &JourneySet,
    dict: &Dictionary,
    plan: &Plan,
    traits: &Traits,
) -> Result<Vec<GroupResult>, PlanError> {
    let kinds = kinds();
    let Some((_, run)) = kinds.iter().find(|(k, _)| *k == kind) else {
        let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        return Err(PlanError(format!("unknown analysis {kind:?}; there are: {}", names.join(", "))));
    };
    // The query is checked first, on no journeys: a bad query is an error at once, whatever
    // the data, before any work on the journeys.
    let none = JourneySet { epoch_s: set.epoch_s, offsets: vec![0], ..Default::default() };
    run(&none, dict, &plan.query)?;
    // No filter: the set itself, not a copy (a copy of 10 M events cost more than most
    // analyses) — unless it holds touchpoints the dictionary does not, which a filter drops.
    let n_tp = dict.touchpoints.len();
    let filtered: std::borrow::Cow<'_, JourneySet> =
        if plan.filter == select::Filter::default() && set.touchpoints.iter().all(|&t| (t as usize) < n_tp) {
            std::borrow::Cow::Borrowed(set)
        } else {
            std::borrow::Cow::Owned(select::filter(set, dict, &plan.filter, traits))
        };
    let groups: Vec<(String, std::borrow::Cow<'_, JourneySet>)> = match &plan.breakdown {
        None => vec![("all".to_string(), filtered)],
        Some(b) => select::breakdown(&filtered, dict, b, traits, plan.max_groups)
            .into_iter()
            .map(|(g, s)| (g, std::borrow::Cow::Owned(s)))
            .collect(),
    };
    groups
        .into_iter()
        .map(|(group, s)| {
            let report = run(&s, dict, &plan.query)?;
            Ok(GroupResult { group, customers: s.customer_count(), events: s.event_count(), report })
        })
        .collect()
}
