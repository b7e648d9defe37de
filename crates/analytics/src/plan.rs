//! An analysis plan: which analysis, on which customers and events (filter), split how
//! (breakdown), with which parameters (the analysis' own query).
//!
//! A [`Plan`] is the plan as it arrives (JSON, from the HTTP API or `touchpoint report`).
//! [`AnalysisPlan::new`] types it: the [`Analysis`] with its typed query, checked at once
//! on no journeys, with everything an executor needs and nothing patched in later —
//! "now" (the wall clock unless the query names it), the project's calendar for the
//! analyses that count periods, the filter, the breakdown and the trait values they read.
//! An [`Executor`] runs a typed plan; the in-memory journey index ([`Snapshot`]) is the
//! first, and a SQL executor can be added and held to the same answers.

use crate::attribution::{AttributionError, AttributionQuery};
use crate::churn::ChurnQuery;
use crate::funnel::{FunnelQuery, QueryError};
use crate::index::Snapshot;
use crate::journey_map::{JourneyMapError, JourneyMapQuery};
use crate::journeys::{Dictionary, JourneySet, Journeys};
use crate::paths::{SankeyQuery, TransitionsQuery};
use crate::retention::RetentionQuery;
use crate::select::{self, Breakdown, Filter, Selection, Traits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use touchpoint_core::calendar::Clock;

/// A plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Which events and customers.
    #[serde(default, deserialize_with = "an_object")]
    pub filter: Filter,
    /// How to split the customers (none: one group, `all`).
    #[serde(default, deserialize_with = "written_or_typed")]
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

/// A breakdown as written (an object) or as the command line writes it (a string,
/// [`Breakdown::from_str`](std::str::FromStr)); `null` is none.
fn written_or_typed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Breakdown>, D::Error> {
    struct Either;
    impl<'de> serde::de::Visitor<'de> for Either {
        type Value = Option<Breakdown>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a breakdown: {}, or {{\"by\": \"trait\", \"name\": NAME}}", select::BREAKDOWN_FORMS)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            s.parse().map(Some).map_err(E::custom)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Breakdown::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Either)
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

/// What kind of mistake a plan error is: what a front end needs to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanErrorKind {
    /// The query itself is wrong (a field out of range, a bad shape).
    Invalid,
    /// The query names something the project does not have (an analysis, a touchpoint).
    Unknown,
    /// The query is fine but the project's data does not allow it (several conversion
    /// goals and none named, a Markov chain too large to solve).
    NotComputable,
}

/// Why a plan could not run, in words, and what kind of mistake it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// What kind.
    pub kind: PlanErrorKind,
    /// What is wrong, naming the field.
    pub message: String,
}

impl PlanError {
    fn invalid(message: impl Into<String>) -> PlanError {
        PlanError { kind: PlanErrorKind::Invalid, message: message.into() }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A kernel's error as a plan error.
trait KernelError: std::fmt::Display {
    fn kind(&self) -> PlanErrorKind;

    fn plan_error(&self) -> PlanError {
        PlanError { kind: self.kind(), message: self.to_string() }
    }
}

impl KernelError for QueryError {
    fn kind(&self) -> PlanErrorKind {
        self.kind
    }
}

impl KernelError for JourneyMapError {
    fn kind(&self) -> PlanErrorKind {
        match self {
            JourneyMapError::UnknownGoal(..) => PlanErrorKind::Unknown,
        }
    }
}

impl KernelError for AttributionError {
    fn kind(&self) -> PlanErrorKind {
        match self {
            AttributionError::UnknownGoal { .. } | AttributionError::NoGoalInDictionary => PlanErrorKind::Unknown,
            AttributionError::AmbiguousGoal { .. } | AttributionError::TooManyStates { .. } => {
                PlanErrorKind::NotComputable
            }
            AttributionError::InvalidQuery { .. }
            | AttributionError::UnknownTouchpoint { .. }
            | AttributionError::Numerical { .. } => PlanErrorKind::Invalid,
        }
    }
}

/// An analysis with its typed query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "query", rename_all = "kebab-case")]
pub enum Analysis {
    /// Stages, reach, exits, satisfaction and pain points per touchpoint.
    JourneyMap(JourneyMapQuery),
    /// Ordered steps within a window.
    Funnel(FunnelQuery),
    /// The most frequent consecutive pairs.
    Transitions(TransitionsQuery),
    /// Paths from or to a touchpoint.
    Sankey(SankeyQuery),
    /// Cohorts coming back, period by period.
    Retention(RetentionQuery),
    /// Who went silent as of "now", and what preceded it.
    Churn(ChurnQuery),
    /// Credit of touchpoints or channels for conversions.
    Attribution(AttributionQuery),
}

/// Where "now" came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NowFrom {
    /// The wall clock.
    WallClock,
    /// The query's `now_s`.
    Query,
    /// The end of the filter's period (`to`), when that is before the wall clock: a past
    /// period is counted as it stood then.
    PeriodEnd,
}

/// What a plan is typed with: "now" and the project's calendar.
pub struct Context<'a> {
    /// "Now" when the query does not name it: the wall clock, unix seconds.
    pub now_s: i64,
    /// The project's clock (its offset from UTC and every change) over the data, for the
    /// analyses that count calendar periods when the query names no offset; `None` is
    /// UTC. Called only when an analysis needs it.
    pub clock: &'a dyn Fn() -> Option<Clock>,
    /// The project's churn horizon (seconds of silence that are churn), for the analyses
    /// that count churn when the query names none.
    pub churn_horizon_s: i64,
}

impl Analysis {
    /// The analyses, by name.
    pub const NAMES: [&'static str; 7] =
        ["journey-map", "funnel", "transitions", "sankey", "retention", "churn", "attribution"];

    /// The analysis' name.
    pub fn name(&self) -> &'static str {
        match self {
            Analysis::JourneyMap(_) => "journey-map",
            Analysis::Funnel(_) => "funnel",
            Analysis::Transitions(_) => "transitions",
            Analysis::Sankey(_) => "sankey",
            Analysis::Retention(_) => "retention",
            Analysis::Churn(_) => "churn",
            Analysis::Attribution(_) => "attribution",
        }
    }

    /// Whether the analysis counts against "now" (silence up to it, exits before it).
    pub fn counts_against_now(kind: &str) -> bool {
        matches!(kind, "journey-map" | "churn")
    }

    /// Type `kind` with its JSON query in `ctx`: "now" goes into the analyses that count
    /// against it unless the query names `now_s` (any plan may name it; the others do not
    /// keep it) — the wall clock, or the last second of a period that ends before it
    /// (`period_end`, the filter's `to`) —, with the project's churn horizon unless the
    /// query names one, and the project's clock into retention unless the query names an
    /// offset. Returns "now" and where it came from, too.
    pub fn parse(
        kind: &str,
        query: &Value,
        period_end: Option<i64>,
        ctx: &Context<'_>,
    ) -> Result<(Analysis, i64, NowFrom), PlanError> {
        if !Analysis::NAMES.contains(&kind) {
            return Err(PlanError {
                kind: PlanErrorKind::Unknown,
                message: format!("unknown analysis {kind:?}; there are: {}", Analysis::NAMES.join(", ")),
            });
        }
        let mut q: Map<String, Value> = match query {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err(PlanError::invalid("query: must be an object")),
        };
        let named = match Analysis::counts_against_now(kind) {
            true => q.get("now_s").and_then(Value::as_i64),
            false => q.remove("now_s").and_then(|v| v.as_i64()),
        };
        let (now_s, now_from) = match (named, period_end) {
            (Some(n), _) => (n, NowFrom::Query),
            (None, Some(to)) if Analysis::counts_against_now(kind) && to.saturating_sub(1) < ctx.now_s => {
                (to.saturating_sub(1), NowFrom::PeriodEnd)
            }
            _ => (ctx.now_s, NowFrom::WallClock),
        };
        if Analysis::counts_against_now(kind) {
            q.entry("now_s").or_insert(now_s.into());
            q.entry("churn_horizon_s").or_insert(ctx.churn_horizon_s.into());
        }
        if kind == "retention" && !q.contains_key("tz_offset_s") && !q.contains_key("tz_transitions") {
            if let Some(c) = (ctx.clock)() {
                q.insert("tz_offset_s".into(), c.base_s.into());
                q.insert("tz_transitions".into(), serde_json::json!(c.changes));
            }
        }
        fn typed<Q: serde::de::DeserializeOwned>(q: Map<String, Value>) -> Result<Q, PlanError> {
            serde_json::from_value(Value::Object(q)).map_err(|e| PlanError::invalid(format!("query: {e}")))
        }
        let analysis = match kind {
            "journey-map" => Analysis::JourneyMap(typed(q)?),
            "funnel" => Analysis::Funnel(typed(q)?),
            "transitions" => Analysis::Transitions(typed(q)?),
            "sankey" => Analysis::Sankey(typed(q)?),
            "retention" => Analysis::Retention(typed(q)?),
            "churn" => Analysis::Churn(typed(q)?),
            _ => Analysis::Attribution(typed(q)?),
        };
        Ok((analysis, now_s, now_from))
    }

    /// Run the kernel on a set; the report as JSON.
    pub fn run(&self, set: &impl Journeys, dict: &Dictionary) -> Result<Value, PlanError> {
        fn json<R: Serialize, E: KernelError>(r: Result<R, E>) -> Result<Value, PlanError> {
            let r = r.map_err(|e| e.plan_error())?;
            serde_json::to_value(r).map_err(|e| PlanError::invalid(format!("report: {e}")))
        }
        match self {
            Analysis::JourneyMap(q) => {
                churn_terms(q.churn_horizon_s, q.alpha)?;
                json(crate::journey_map::journey_map(set, dict, q))
            }
            Analysis::Funnel(q) => json(crate::funnel::run(set, dict, q)),
            Analysis::Transitions(q) => json(crate::paths::transitions(set, dict, q)),
            Analysis::Sankey(q) => json(crate::paths::sankey(set, dict, q)),
            Analysis::Retention(q) => json(crate::retention::run(set, dict, q)),
            Analysis::Churn(q) => {
                churn_terms(q.churn_horizon_s, q.alpha)?;
                json(Ok::<_, QueryError>(crate::churn::churn(set, dict, q)))
            }
            Analysis::Attribution(q) => json(crate::attribution::run(set, dict, q)),
        }
    }

    /// Run the kernel on every group of a split selection in one pass
    /// ([`Journeys::fold_groups`]); the reports as JSON, in group order. `None` for the
    /// kernels that fold one group at a time: they run on each group's selection.
    pub fn run_groups(&self, set: &impl Journeys, dict: &Dictionary) -> Option<Result<Vec<Value>, PlanError>> {
        fn json<R: Serialize, E: KernelError>(r: Result<Vec<R>, E>) -> Result<Vec<Value>, PlanError> {
            let r = r.map_err(|e| e.plan_error())?;
            r.into_iter()
                .map(|r| serde_json::to_value(r).map_err(|e| PlanError::invalid(format!("report: {e}"))))
                .collect()
        }
        match self {
            Analysis::Funnel(q) => Some(json(crate::funnel::run_groups(set, dict, q))),
            Analysis::Retention(q) => Some(json(crate::retention::run_groups(set, dict, q))),
            _ => None,
        }
    }
}

/// A typed, complete plan: everything an executor needs.
#[derive(Debug, Clone)]
pub struct AnalysisPlan {
    /// The analysis and its typed query (with "now" and the calendar in it).
    pub analysis: Analysis,
    /// "Now", unix seconds.
    pub now_s: i64,
    /// Where "now" came from.
    pub now_from: NowFrom,
    /// Which events and customers.
    pub filter: Filter,
    /// How to split the customers.
    pub breakdown: Option<Breakdown>,
    /// Most groups of a breakdown.
    pub max_groups: usize,
    /// The trait values the filter and the breakdown read (see [`Plan::trait_keys`]).
    pub traits: Traits,
}

impl Plan {
    /// The trait keys the filter and the breakdown read.
    pub fn trait_keys(&self) -> Vec<String> {
        let mut keys = self.filter.trait_keys();
        if let Some(Breakdown::Trait(k)) = &self.breakdown {
            keys.push(k.clone());
        }
        keys
    }
}

impl AnalysisPlan {
    /// Type `plan` as analysis `kind` in `ctx`, and check the query at once, on no
    /// journeys: a bad query is an error before any work, whatever the data. `traits`
    /// are the values of [`Plan::trait_keys`].
    ///
    /// Churn over a period is who left *during* it: the customers who left from its start
    /// on (`left_from_s`, unless the query names it), judged on their events since one
    /// churn horizon before the start — silence is only seen with the history before it.
    pub fn new(
        kind: &str,
        plan: Plan,
        ctx: &Context<'_>,
        dict: &Dictionary,
        traits: Traits,
    ) -> Result<AnalysisPlan, PlanError> {
        let mut filter = plan.filter;
        let (mut analysis, now_s, now_from) = Analysis::parse(kind, &plan.query, filter.to, ctx)?;
        if let (Analysis::Churn(q), Some(from)) = (&mut analysis, filter.from) {
            if q.left_from_s.is_none() {
                q.left_from_s = Some(from);
                filter.from = Some(from.saturating_sub(q.churn_horizon_s.max(0)));
            }
        }
        analysis.run(&JourneySet { offsets: vec![0], ..Default::default() }, dict)?;
        Ok(AnalysisPlan {
            analysis,
            now_s,
            now_from,
            filter,
            breakdown: plan.breakdown,
            max_groups: plan.max_groups,
            traits,
        })
    }
}

/// The terms churn is counted in (the journey map's and churn's): a silence of at least a
/// second, a false-discovery rate above 0 and at most 1.
fn churn_terms(horizon_s: i64, alpha: f64) -> Result<(), PlanError> {
    if horizon_s < 1 {
        return Err(PlanError::invalid(format!(
            "churn_horizon_s: must be at least 1 (the seconds of silence that are churn), not {horizon_s}"
        )));
    }
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(PlanError::invalid(format!("alpha: must be above 0 and at most 1, not {alpha}")));
    }
    Ok(())
}

/// Runs typed plans where the data is.
pub trait Executor {
    /// One result per breakdown group.
    fn execute(&self, plan: &AnalysisPlan) -> Result<Vec<GroupResult>, PlanError>;
}

/// The in-memory journey index: a snapshot's set and dictionary.
impl Executor for Snapshot {
    fn execute(&self, plan: &AnalysisPlan) -> Result<Vec<GroupResult>, PlanError> {
        execute_on(&self.set, &self.dict, plan)
    }
}

/// Execute a typed plan over a journey set. The filter and the breakdown groups are
/// selections the kernel folds in place, on every core; no journey is copied unless a
/// touchpoint filter must drop events from it, and then one journey at a time. A
/// breakdown is one pass over the selection, each customer folded into its group's
/// accumulator, for the kernels that fold by group ([`Analysis::run_groups`]); the others
/// run once per group.
pub fn execute_on(set: &JourneySet, dict: &Dictionary, plan: &AnalysisPlan) -> Result<Vec<GroupResult>, PlanError> {
    let sel = Selection::new(set, dict, &plan.filter, &plan.traits);
    let Some(b) = &plan.breakdown else {
        // Nothing filtered: the set itself, read the way the kernels read it bare.
        let (report, customers, events) = if sel.is_everything() {
            (plan.analysis.run(set, dict)?, set.customer_count(), set.event_count())
        } else {
            let report = plan.analysis.run(&sel, dict)?;
            let (c, e) = sel.counts();
            (report, c, e)
        };
        return Ok(vec![GroupResult { group: "all".to_string(), customers, events, report }]);
    };
    // The kernels that fold by group: one pass, each customer labelled as it is read.
    let labeller = select::Labeller::new(dict, b, &plan.traits, plan.max_groups);
    if let Some(split) = sel.split(&labeller) {
        if let Some(reports) = plan.analysis.run_groups(&split, dict) {
            let reports = reports?;
            let groups = split.groups().unwrap_or_default();
            return Ok(groups
                .iter()
                .zip(reports)
                .map(|(g, report)| GroupResult {
                    group: g.label.clone(),
                    customers: g.customers,
                    events: g.events,
                    report,
                })
                .collect());
        }
    }
    // The others, and breakdowns of too many labels: a selection per group.
    let groups = select::breakdown(&sel, dict, b, &plan.traits, plan.max_groups);
    (0..groups.labels.len())
        .map(|g| {
            let part = sel.group(&groups, g as u32);
            let report = plan.analysis.run(&part, dict)?;
            let (customers, events) = part.counts();
            Ok(GroupResult { group: groups.labels[g].clone(), customers, events, report })
        })
        .collect()
}

/// Type and execute a plan in one call, as of `now_s` in UTC (benchmarks and tests).
pub fn execute(
    kind: &str,
    set: &JourneySet,
    dict: &Dictionary,
    plan: &Plan,
    now_s: i64,
    traits: &Traits,
) -> Result<Vec<GroupResult>, PlanError> {
    let ctx = Context { now_s, clock: &|| None, churn_horizon_s: crate::churn::DEFAULT_CHURN_HORIZON_S };
    execute_on(set, dict, &AnalysisPlan::new(kind, plan.clone(), &ctx, dict, traits.clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dict() -> Dictionary {
        Dictionary::from_catalog(&touchpoint_core::catalog::default_catalog())
    }

    /// Typing a plan: what "now" becomes and where it came from, the calendar retention
    /// gets, and the kind of each mistake — one case per line.
    #[test]
    fn plans_are_typed_with_their_context() {
        let warsaw = || Some(Clock { base_s: 3_600, changes: vec![(1_774_746_000, 7_200)] });
        let ctx = Context { now_s: 1_000, clock: &warsaw, churn_horizon_s: 60 };
        let in_period = |kind: &str, query: Value, from: Option<i64>, to: Option<i64>| {
            let filter = Filter { from, to, ..Default::default() };
            AnalysisPlan::new(kind, Plan { query, filter, ..Default::default() }, &ctx, &dict(), Traits::new())
                .map(|p| (serde_json::to_value(&p.analysis).unwrap()["query"].clone(), p.now_s, p.now_from, p.filter))
        };
        let check = |kind: &str, query: Value| in_period(kind, query, None, None).map(|(q, n, f, _)| (q, n, f));
        // "Now": the wall clock unless named; only churn and the journey map keep it.
        let (q, now, from) = check("churn", json!({})).unwrap();
        assert_eq!((q["now_s"].as_i64(), now, from), (Some(1_000), 1_000, NowFrom::WallClock));
        let (q, now, from) = check("journey-map", json!({"now_s": 7})).unwrap();
        assert_eq!((q["now_s"].as_i64(), now, from), (Some(7), 7, NowFrom::Query));
        let (q, now, from) = check("transitions", json!({"now_s": 7})).unwrap();
        assert_eq!((q.get("now_s"), now, from), (None, 7, NowFrom::Query));
        // A period that ends before the wall clock is counted as of its last second; one
        // that ends later, as of now.
        let (q, now, from, _) = in_period("journey-map", json!({}), None, Some(500)).unwrap();
        assert_eq!((q["now_s"].as_i64(), now, from), (Some(499), 499, NowFrom::PeriodEnd));
        let (_, now, from, _) = in_period("churn", json!({}), None, Some(5_000)).unwrap();
        assert_eq!((now, from), (1_000, NowFrom::WallClock));
        let (_, now, from, _) = in_period("churn", json!({"now_s": 800}), None, Some(500)).unwrap();
        assert_eq!((now, from), (800, NowFrom::Query));
        let (_, now, from, _) = in_period("transitions", json!({}), None, Some(500)).unwrap();
        assert_eq!((now, from), (1_000, NowFrom::WallClock), "transitions do not count against now");
        // The churn horizon: the project's unless named.
        let (q, _, _) = check("churn", json!({})).unwrap();
        assert_eq!(q["churn_horizon_s"].as_i64(), Some(60));
        let (q, _, _) = check("journey-map", json!({"churn_horizon_s": 9})).unwrap();
        assert_eq!(q["churn_horizon_s"].as_i64(), Some(9));
        // Churn over a period: who left from its start on, read from one horizon before it.
        let (q, _, _, f) = in_period("churn", json!({}), Some(300), Some(500)).unwrap();
        assert_eq!((q["left_from_s"].as_i64(), f.from, f.to), (Some(300), Some(240), Some(500)));
        let (q, _, _, f) =
            in_period("churn", json!({"left_from_s": 100, "churn_horizon_s": 7}), Some(300), None).unwrap();
        assert_eq!((q["left_from_s"].as_i64(), f.from), (Some(100), Some(300)), "named: the filter is the user's");
        let (q, _, _, f) = in_period("journey-map", json!({}), Some(300), Some(500)).unwrap();
        assert_eq!((q.get("left_from_s"), f.from), (None, Some(300)), "only churn reads before the period");
        // The calendar: the project's, unless the query names an offset.
        let (q, _, _) = check("retention", json!({})).unwrap();
        assert_eq!(
            (q["tz_offset_s"].clone(), q["tz_transitions"].clone()),
            (json!(3_600), json!([[1_774_746_000, 7_200]]))
        );
        let (q, _, _) = check("retention", json!({"tz_offset_s": 0})).unwrap();
        assert_eq!((q["tz_offset_s"].clone(), q.get("tz_transitions")), (json!(0), None));
        // Mistakes, by kind, before any work.
        let kind = |k: &str, q: Value| check(k, q).map(|_| ()).unwrap_err().kind;
        assert_eq!(kind("horoscope", json!({})), PlanErrorKind::Unknown);
        assert_eq!(kind("funnel", json!({"steps": ["nope"]})), PlanErrorKind::Unknown);
        assert_eq!(kind("funnel", json!({"steps": []})), PlanErrorKind::Invalid);
        assert_eq!(kind("funnel", json!([1])), PlanErrorKind::Invalid);
        assert_eq!(kind("transitions", json!({"top": 0})), PlanErrorKind::Invalid);
        assert_eq!(kind("sankey", json!({"colour": 1})), PlanErrorKind::Invalid);
        // Churn's terms: a silence of a second or more, a false-discovery rate in (0, 1].
        for (k, q, field) in [
            ("churn", json!({"churn_horizon_s": 0}), "churn_horizon_s"),
            ("journey-map", json!({"churn_horizon_s": i64::MIN}), "churn_horizon_s"),
            ("churn", json!({"alpha": 0.0}), "alpha"),
            ("journey-map", json!({"alpha": 1.5}), "alpha"),
        ] {
            let e = check(k, q.clone()).map(|_| ()).unwrap_err();
            assert_eq!(e.kind, PlanErrorKind::Invalid, "{k} {q}");
            assert!(e.message.starts_with(&format!("{field}: must be")), "{k} {q}: {}", e.message);
        }
        assert!(check("churn", json!({"churn_horizon_s": 1, "alpha": 1.0})).is_ok());
    }

    /// A plan's breakdown read as written (`{"by": …, "name": …}`) or as the command line
    /// writes it; anything else named, with the forms there are.
    #[test]
    fn breakdowns_are_read_in_either_form() {
        let read = |v: Value| {
            serde_json::from_value::<Plan>(json!({ "breakdown": v })).map(|p| p.breakdown).map_err(|e| e.to_string())
        };
        for (v, want) in [
            (json!({"by": "trait", "name": "country"}), Breakdown::Trait("country".into())),
            (json!("trait:country"), Breakdown::Trait("country".into())),
            (json!({"by": "first_touch_channel"}), Breakdown::FirstTouchChannel),
            (json!("first_touch_stage"), Breakdown::FirstTouchStage),
            (json!("kind"), Breakdown::FirstTouchKind),
            (json!("department"), Breakdown::FirstTouchDepartment),
        ] {
            assert_eq!(read(v.clone()), Ok(Some(want.clone())), "{v}");
            assert_eq!(read(serde_json::to_value(&want).unwrap()), Ok(Some(want)), "written and read again");
        }
        assert_eq!(read(Value::Null), Ok(None));
        for v in [json!("trait:"), json!("country"), json!({"by": "weather"}), json!(7)] {
            let e = read(v.clone()).unwrap_err();
            assert!(e.contains("first_touch_channel"), "{v}: {e}");
        }
    }

    /// The calendar is not computed for analyses that do not count periods.
    #[test]
    fn the_calendar_is_asked_for_only_by_retention() {
        let ctx = Context {
            now_s: 0,
            clock: &|| unreachable!("only retention counts calendar periods"),
            churn_horizon_s: crate::churn::DEFAULT_CHURN_HORIZON_S,
        };
        for kind in ["funnel", "transitions", "churn", "journey-map", "attribution"] {
            let query = match kind {
                "funnel" => json!({"steps": ["page:Home"]}),
                _ => json!({}),
            };
            let r = AnalysisPlan::new(kind, Plan { query, ..Default::default() }, &ctx, &dict(), Traits::new());
            assert!(r.is_ok() || r.unwrap_err().kind != PlanErrorKind::Invalid, "{kind}");
        }
    }
}
