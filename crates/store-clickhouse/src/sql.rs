//! The SQL executor: analyses computed on the ClickHouse shards, so that only small results
//! (counts per touchpoint pair, per path link, per cohort period) come back to the node,
//! held to the same answers as the in-memory journey index (`tests/sql_parity.rs` runs
//! random journeys through both, and the statements on a current ClickHouse too).
//!
//! **The journeys, in SQL.** An analysis sees what the journey index holds: a project's
//! events that have a touchpoint of its dictionary (after re-classification, which
//! [`schema::points_view`] maps at query time; the events as they are while nothing was
//! re-classified), each under its customer *after identity
//! merges* (`transform` over the merges the metadata store keeps), in the index's order:
//! by time in milliseconds since the index's epoch, clamped to what the index can hold,
//! then by id (arrival order). A row a retried write left twice is read once (dropped
//! next to itself in the sorted journey).
//!
//! **Customers across shards.** A customer's events lie on the shard its id hashes to, so
//! each shard computes its customers' journeys alone — except for a customer merged from
//! customers on different shards. Those few ("split" customers) are left out of the shard
//! queries; their events are read back (a few rows) and run through the Rust kernel, and
//! the two parts are added up.
//!
//! **What is here.** Transitions, Sankey paths, retention cohorts (retention needs no
//! sorted journeys: per customer its entry and the periods it came back in, the periods
//! written out in SQL for the project's local time, its clock changes included) and churn
//! with its drivers (each shard sends one row: its counts, its smallest churned ids, and a
//! `sumMap` of keys that say touchpoint and what it counts; the tests in Rust). The
//! journey map, funnels and attribution run on the journey index only; they would follow
//! the same pattern (the per-customer arrays, the kernel's own counting in SQL, its
//! `*_report` function in Rust). Plans with a filter or a breakdown are not taken here
//! yet, and the API answers from the journey index: this executor is held to it by the
//! parity tests and measured by `touchpoint bench sql`. So many merges or split customers
//! that the statement would pass ClickHouse's query size are refused with
//! [`SqlError::TooLarge`] (the caller would run the journey index instead).

use crate::http::number_list;
use crate::{schema, shard_of, ClickHouseEvents};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use touchpoint_analytics::churn::{self, ChurnCounts, ChurnQuery, ChurnReport};
use touchpoint_analytics::journeys::{Dictionary, JourneySet, Tp};
use touchpoint_analytics::paths::{self, SankeyQuery, SankeyReport, TransitionsQuery, TransitionsReport};
use touchpoint_analytics::retention::{self, Period, RetentionCounts, RetentionPlan, RetentionQuery, RetentionReport};
use touchpoint_core::{CustomerId, ProjectId};
use touchpoint_store::StoreError;

/// The `(end)` node in the shards' Sankey links.
const END: i64 = -1;
/// The `(start)` node in the shards' Sankey links.
const START: i64 = -2;

/// At most this many merges or split customers go into one statement (each is a number
/// or two of the statement's text; ClickHouse takes 256 KiB of it).
pub const MAX_LISTED: usize = 5_000;

/// What a project's journeys are made of, as the journey index loads them.
#[derive(Debug, Clone)]
pub struct JourneySource {
    /// The project.
    pub project: ProjectId,
    /// Its touchpoints, by index.
    pub dict: Dictionary,
    /// Store touchpoint id → index in `dict`; events of other touchpoints are not in the
    /// journeys.
    pub ids: HashMap<i64, Tp>,
    /// Merged customer → the customer it was merged into (the end of the chain).
    pub merged: HashMap<CustomerId, CustomerId>,
    /// Unix seconds the index's times count from.
    pub epoch_s: i64,
}

impl JourneySource {
    /// The store id of a touchpoint of the dictionary, which the query's field `what`
    /// names.
    fn store_id(&self, tp: Tp, what: &str) -> Result<i64, SqlError> {
        self.ids
            .iter()
            .find(|(_, &t)| t == tp)
            .map(|(&id, _)| id)
            .ok_or_else(|| SqlError::Query(format!("{what}: touchpoint {} has no store id", self.dict.key(tp))))
    }
}

/// Why the SQL executor did not answer.
#[derive(Debug)]
pub enum SqlError {
    /// Too many merges or split customers for one statement; run the journey index.
    TooLarge(String),
    /// The query is wrong (the same message the journey index gives).
    Query(String),
    /// ClickHouse did not answer.
    Store(StoreError),
}

impl From<StoreError> for SqlError {
    fn from(e: StoreError) -> SqlError {
        SqlError::Store(e)
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::TooLarge(m) | SqlError::Query(m) => f.write_str(m),
            SqlError::Store(e) => write!(f, "{e}"),
        }
    }
}

/// A project's journeys as SQL on one shard: the customers (after merges), each with the
/// array of its touchpoints (store ids) in the index's order.
struct Journeys {
    /// `SELECT c, s, t` with `s` the touchpoints in order and `t` their times (ms since the
    /// index's epoch, clamped as it clamps them), one row per customer.
    sql: String,
    /// `SELECT id, c, t, tp`: the same events one per row, in no order (a row a retried
    /// write left twice may be read twice).
    events: String,
    /// Customers left to the Rust kernel, with the customers merged into each.
    split: Vec<(CustomerId, Vec<CustomerId>)>,
}

impl ClickHouseEvents {
    /// The top transitions of a project, computed on the shards.
    pub async fn sql_transitions(
        &self,
        source: &JourneySource,
        q: &TransitionsQuery,
    ) -> Result<TransitionsReport, SqlError> {
        let (sql, journeys) = self.transitions_sql(source, q, self.overlay().await?)?;
        #[derive(Deserialize)]
        struct Pair {
            a: i64,
            b: i64,
            n: u64,
        }
        let rows: Vec<Pair> = self.rows_all(&sql).await?;
        let mut pairs: HashMap<(Tp, Tp), u64> = HashMap::new();
        for p in rows {
            if let (Some(&a), Some(&b)) = (source.ids.get(&p.a), source.ids.get(&p.b)) {
                *pairs.entry((a, b)).or_default() += p.n;
            }
        }
        let split = self.split_journeys(source, &journeys.split).await?;
        for (a, b, n) in paths::transition_counts(&split, &source.dict, q.collapse_repeats) {
            *pairs.entry((a, b)).or_default() += n;
        }
        let pairs = pairs.into_iter().map(|((a, b), n)| (a, b, n)).collect();
        Ok(paths::transitions_report(&source.dict, pairs, q))
    }

    /// The paths after (or before) a touchpoint, computed on the shards.
    pub async fn sql_sankey(&self, source: &JourneySource, q: &SankeyQuery) -> Result<SankeyReport, SqlError> {
        let (sql, journeys, (anchor, forward)) = self.sankey_sql(source, q, self.overlay().await?)?;
        #[derive(Deserialize)]
        struct Link {
            step: i64,
            a: i64,
            b: i64,
            n: u64,
        }
        let code = |id: i64| match id {
            END => Some(paths::SANKEY_END),
            START => Some(paths::SANKEY_START),
            id => source.ids.get(&id).map(|&tp| u32::from(tp)),
        };
        let mut links: HashMap<(usize, u32, u32), u64> = HashMap::new();
        for l in self.rows_all::<Link>(&sql).await? {
            if let (Some(a), Some(b), Ok(step)) = (code(l.a), code(l.b), usize::try_from(l.step)) {
                *links.entry((step, a, b)).or_default() += l.n;
            }
        }
        // Every path has a link at the anchor (to `(end)` or from `(start)` at least): the
        // shards' customers are those links.
        let (edge, anchor_code) = (if forward { 0 } else { q.steps - 1 }, u32::from(anchor));
        let shards_customers: u64 = links
            .iter()
            .filter(|((step, a, b), _)| *step == edge && anchor_code == if forward { *a } else { *b })
            .map(|(_, n)| n)
            .sum();
        let split = self.split_journeys(source, &journeys.split).await?;
        let (split_customers, split_links) = paths::sankey_counts(&split, anchor, forward, q.steps, q.collapse_repeats);
        for (step, a, b, n) in split_links {
            *links.entry((step, a, b)).or_default() += n;
        }
        let links = links.into_iter().map(|((step, a, b), n)| (step, a, b, n)).collect();
        Ok(paths::sankey_report(&source.dict, q, anchor, forward, shards_customers + split_customers, links))
    }

    /// The statement each shard runs for [`ClickHouseEvents::sql_sankey`] (`step`, `a`,
    /// `b`, `n`: store touchpoint ids, [`END`] or [`START`]), the journeys it leaves out,
    /// the anchor and the direction.
    fn sankey_sql(
        &self,
        source: &JourneySource,
        q: &SankeyQuery,
        overlay: bool,
    ) -> Result<(String, Journeys, (Tp, bool)), SqlError> {
        let (anchor, forward) = q.check(&source.dict).map_err(|e| SqlError::Query(e.message))?;
        let a = source.store_id(anchor, if forward { "start" } else { "end" })?;
        let journeys = self.journeys(source, overlay, None)?;
        let n = q.steps;
        // From the anchor's first occurrence on (forward), or from its last back (backward).
        let from_anchor = if forward {
            format!("arraySlice(s, indexOf(s, {a}))")
        } else {
            format!("arraySlice(arrayReverse(s), indexOf(arrayReverse(s), {a}))")
        };
        let collapsed = if q.collapse_repeats {
            "arrayFilter((x, y) -> x != y, f, arrayPushFront(arrayPopBack(f), toInt64(-9)))"
        } else {
            "f"
        };
        let (marker, path, first) = if forward {
            (END, "t", "0".to_string())
        } else {
            (START, "arrayReverse(t)", format!("{} - length(p)", n + 1))
        };
        let sql = format!(
            "SELECT {first} + i - 1 AS step, p[i] AS a, p[i + 1] AS b, toUInt64(count()) AS n
             FROM (SELECT {path} AS p
                   FROM (SELECT if(length(c) <= {n}, arrayPushBack(c, toInt64({marker})), c) AS t
                         FROM (SELECT arraySlice({collapsed}, 1, {n1}) AS c
                               FROM (SELECT {from_anchor} AS f FROM ({}) WHERE has(s, {a})))))
             ARRAY JOIN arrayEnumerate(arrayPopBack(p)) AS i
             GROUP BY step, a, b",
            journeys.sql,
            n1 = n + 1,
        );
        Ok((sql, journeys, (anchor, forward)))
    }

    /// The statement each shard runs for the Sankey paths, for tests that run it elsewhere.
    pub async fn sankey_statement(&self, source: &JourneySource, q: &SankeyQuery) -> Result<String, SqlError> {
        Ok(self.sankey_sql(source, q, self.overlay().await?)?.0)
    }

    /// Retention cohorts, computed on the shards.
    pub async fn sql_retention(&self, source: &JourneySource, q: &RetentionQuery) -> Result<RetentionReport, SqlError> {
        let plan = q.check(&source.dict).map_err(|e| SqlError::Query(e.message))?;
        let (sql, journeys) = self.retention_sql(source, q, &plan, self.overlay().await?)?;
        #[derive(Deserialize)]
        struct Count {
            p0: i64,
            n: i64,
            k: u64,
            last: i64,
        }
        let stride = q.periods + 1;
        let mut rows: HashMap<i64, Vec<u64>> = HashMap::new();
        let mut last: Option<u32> = None;
        for r in self.rows_all::<Count>(&sql).await? {
            last = last.max(u32::try_from(r.last / 1000).ok());
            // `n = -1`: customers outside the cohorts, read for their latest time only.
            if let Some(n) = usize::try_from(r.n).ok().filter(|&n| n < stride) {
                rows.entry(r.p0).or_insert_with(|| vec![0; stride])[n] += r.k;
            }
        }
        let split = self.split_journeys(source, &journeys.split).await?;
        let here = retention::counts(&split, q, &plan);
        for (p0, row) in here.rows {
            let sum = rows.entry(p0).or_insert_with(|| vec![0; stride]);
            sum.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        let counts = RetentionCounts { rows: rows.into_iter().collect(), last: last.max(here.last) };
        Ok(retention::report(q, &plan, source.epoch_s, counts))
    }

    /// The statement each shard runs for [`ClickHouseEvents::sql_retention`] (`p0`, `n`,
    /// `k`, `last`: an entry period, a period after it — 0 for the cohort, −1 for the
    /// customers outside the cohorts —, its customers and their latest time), and the
    /// journeys it leaves out.
    fn retention_sql(
        &self,
        source: &JourneySource,
        q: &RetentionQuery,
        plan: &RetentionPlan,
        overlay: bool,
    ) -> Result<(String, Journeys), SqlError> {
        let journeys = self.journeys(source, overlay, None)?;
        // The period of a unix second (numbered as `Period::index` numbers them), written
        // out for the column `x` names: local seconds are `x` plus the offset of the last
        // change at or before it.
        let period_of = |x: &str| {
            let offset = if plan.clock.changes.is_empty() {
                plan.clock.base_s.to_string()
            } else {
                let mut m = String::from("multiIf(");
                for (at, off) in plan.clock.changes.iter().rev() {
                    m.push_str(&format!("{x} >= {at}, {off}, "));
                }
                m + &format!("{})", plan.clock.base_s)
            };
            let day = format!("intDiv({x} + {offset}, 86400)");
            match q.period {
                Period::Day => day,
                Period::Week => format!("intDiv({day} + 3, 7)"),
                Period::Month => {
                    format!("(toYear(toDate(toUInt16({day}))) * 12 + toMonth(toDate(toUInt16({day}))) - 1)")
                }
            }
        };
        // An event counts from the journey's entry on: in the journey's order, an event
        // before the entry has no later time (and one of the same second lies in the entry's
        // period), so "at or after the entry's second" is the same — no sorting needed.
        // The entry: the first second of any event, or of the cohort's touchpoint (`0`
        // names none: no event has it).
        let (first, has, entry_tp) = match plan.entry {
            None => ("min(first_any)", "1", 0),
            Some(a) => {
                ("minIf(first_a, entries > 0)", "max(entries > 0)", source.store_id(a, "cohort.first_touchpoint")?)
            }
        };
        let returns = match plan.returning {
            None => "1".to_string(),
            Some(b) => format!("tp = {}", source.store_id(b, "returning")?),
        };
        let mut range = String::new();
        if let Some(from) = q.from {
            range.push_str(&format!(" AND entered >= {from}"));
        }
        if let Some(to) = q.to {
            range.push_str(&format!(" AND entered < {to}"));
        }
        let (n, epoch_s) = (q.periods, source.epoch_s);
        // The periods after the entry with a return: `ns` per customer, 0 for the cohort; a
        // customer outside the cohorts gives one row `n = -1` instead, so that the latest
        // time of every customer (`latest`: what can be observed yet) comes back from the
        // same pass. (The lambdas read `entered` and `p0` in the query that has them: 18.16
        // drops a column from a subquery when only a lambda of the query around it reads
        // it.)
        let counted = |entered_and_periods: String| {
            format!(
                "SELECT p0, n, toUInt64(count()) AS k, max(latest) AS last
                 FROM (SELECT if(kept, p0, 0) AS p0, latest, arrayJoin(if(kept, ns, [-1])) AS n
                       FROM (SELECT {entered_period} AS p0, latest, has = 1{range} AS kept,
                                    arrayConcat([0], arrayFilter(x -> x >= 1 AND x <= {n}, arrayMap(p -> p - p0, back))) AS ns
                             FROM ({entered_and_periods})))
                 GROUP BY p0, n",
                entered_period = period_of("entered"),
            )
        };
        let events = format!(
            "SELECT c, tp, t, {epoch_s} + intDiv(t, 1000) AS u, {event_period} AS p FROM ({})",
            journeys.events,
            event_period = period_of("u"),
        );
        let sql = if plan.clock.changes.is_empty() {
            // Local time never steps back: every event of a later period is after the entry.
            let first = if entry_tp == 0 { "min(u)".to_string() } else { format!("minIf(u, tp = {entry_tp})") };
            let has = if entry_tp == 0 { "1".to_string() } else { format!("max(tp = {entry_tp})") };
            counted(format!(
                "SELECT c, {first} AS entered, {has} AS has, groupUniqArrayIf(p, {returns}) AS back, max(t) AS latest
                 FROM ({events}) GROUP BY c"
            ))
        } else {
            // Per customer and period: its first second (of the entry touchpoint), its last
            // second of a return; then the periods with a return at or after the entry.
            counted(format!(
                "SELECT c, {first} AS entered, {has} AS has,
                        arrayMap(r -> r.1, arrayFilter(r -> r.2 >= entered, groupArrayIf((p, last_back), backs > 0))) AS back,
                        max(latest_here) AS latest
                 FROM (SELECT c, p, min(u) AS first_any, minIf(u, tp = {entry_tp}) AS first_a,
                              countIf(tp = {entry_tp}) AS entries, maxIf(u, {returns}) AS last_back,
                              countIf({returns}) AS backs, max(t) AS latest_here
                       FROM ({events}) GROUP BY c, p)
                 GROUP BY c"
            ))
        };
        Ok((sql, journeys))
    }

    /// The statement each shard runs for retention, for tests that run it elsewhere.
    pub async fn retention_statement(&self, source: &JourneySource, q: &RetentionQuery) -> Result<String, SqlError> {
        let plan = q.check(&source.dict).map_err(|e| SqlError::Query(e.message))?;
        Ok(self.retention_sql(source, q, &plan, self.overlay().await?)?.0)
    }

    /// The statement each shard runs for [`ClickHouseEvents::sql_transitions`] (`a`, `b`,
    /// `n`: store touchpoint ids and a count), and the journeys it leaves out.
    fn transitions_sql(
        &self,
        source: &JourneySource,
        q: &TransitionsQuery,
        overlay: bool,
    ) -> Result<(String, Journeys), SqlError> {
        q.check().map_err(|e| SqlError::Query(e.message))?;
        let journeys = self.journeys(source, overlay, None)?;
        let same = if q.collapse_repeats { "WHERE a != b" } else { "" };
        let sql = format!(
            "SELECT a, b, toUInt64(count()) AS n FROM ({})
             ARRAY JOIN arrayPopBack(s) AS a, arrayPopFront(s) AS b {same} GROUP BY a, b",
            journeys.sql
        );
        Ok((sql, journeys))
    }

    /// The statement each shard runs for the transitions, for tests that run it elsewhere
    /// (on a current ClickHouse, to see that it means the same there).
    pub async fn transitions_statement(
        &self,
        source: &JourneySource,
        q: &TransitionsQuery,
    ) -> Result<String, SqlError> {
        Ok(self.transitions_sql(source, q, self.overlay().await?)?.0)
    }

    /// Who churned and what preceded it, counted on the shards: per shard the customers,
    /// churned by signal and by silence, the smallest churned ids, and per touchpoint the
    /// customers with it in their last k (churned, stayed) and whose first churn signal it
    /// was; the test of each touchpoint in Rust ([`churn::report`]).
    pub async fn sql_churn(&self, source: &JourneySource, q: &ChurnQuery) -> Result<ChurnReport, SqlError> {
        let (sql, journeys) = self.churn_sql(source, q, self.overlay().await?)?;
        #[derive(Deserialize)]
        struct Shard {
            customers: u64,
            by_signal: u64,
            by_silence: u64,
            ids: Vec<i64>,
            keys: Vec<i64>,
            counts: Vec<u64>,
        }
        let n = source.dict.touchpoints.len();
        let mut counts = ChurnCounts::new(n);
        for r in self.rows_all::<Shard>(&sql).await? {
            let mut part = ChurnCounts::new(n);
            (part.customers, part.by_signal, part.by_silence, part.ids) =
                (r.customers, r.by_signal, r.by_silence, r.ids);
            for (key, count) in r.keys.into_iter().zip(r.counts) {
                let Some(&tp) = source.ids.get(&key.div_euclid(4)) else { continue };
                let column = match key.rem_euclid(4) {
                    0 => &mut part.churned_with,
                    1 => &mut part.stayed_with,
                    _ => &mut part.first_signal,
                };
                column[usize::from(tp)] += count;
            }
            counts.merge(part, q.max_customer_ids);
        }
        let split = self.split_journeys(source, &journeys.split).await?;
        counts.merge(churn::counts(&split, &source.dict, q), q.max_customer_ids);
        Ok(churn::report(&source.dict, q, counts))
    }

    /// The statement each shard runs for [`ClickHouseEvents::sql_churn`]: one row. Each
    /// customer's journey up to "now" (`s`, the times `t`), its first churn signal `f`
    /// (1-based, 0: none), the events before the churn point `e`, why it churned `r` (1
    /// signal, 2 silence, 0 stayed); then its keys — `store id × 4 + 0` for a touchpoint
    /// in a churned customer's last k, `+ 1` in a stayer's, `+ 2` for the first signal —
    /// summed over the customers. With a period's start, the customers who had left before
    /// it (`l`, when they left) are left out first.
    fn churn_sql(&self, source: &JourneySource, q: &ChurnQuery, overlay: bool) -> Result<(String, Journeys), SqlError> {
        let now_rel = q.now_s.saturating_sub(source.epoch_s);
        let journeys = self.journeys(source, overlay, Some(now_rel))?;
        let mut signals: Vec<i64> = source
            .ids
            .iter()
            .filter(|(_, &tp)| source.dict.touchpoints.get(usize::from(tp)).is_some_and(|t| t.churn))
            .map(|(&id, _)| id)
            .collect();
        signals.sort_unstable();
        let first = if signals.is_empty() {
            "toUInt32(0)".to_string()
        } else {
            format!("arrayFirstIndex(x -> has({}, x), s)", typed(&signals))
        };
        let (k, horizon, max_ids) = (q.last_k, q.churn_horizon_s, q.max_customer_ids);
        // Who had left before the period (`left_from_s`) is not counted at all.
        let gone = match q.left_from_s {
            Some(from) => format!("WHERE r = 0 OR l >= {}", from.saturating_sub(source.epoch_s)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT customers, by_signal, by_silence, ids, tupleElement(m, 1) AS keys, tupleElement(m, 2) AS counts
             FROM (SELECT toUInt64(count()) AS customers, toUInt64(countIf(r = 1)) AS by_signal,
                          toUInt64(countIf(r = 2)) AS by_silence,
                          arraySlice(arraySort(groupArrayIf(c, r > 0)), 1, {max_ids}) AS ids,
                          sumMap(k, arrayMap(x -> toUInt64(1), k)) AS m
             FROM (SELECT c, r, arrayConcat(
                          arrayMap(x -> x * 4 + if(r > 0, 0, 1), arrayDistinct(arraySlice(s, b + 1, e - b))),
                          if(r = 1, [s[greatest(f, 1)] * 4 + 2], emptyArrayInt64())) AS k
             FROM (SELECT c, s, f, e, greatest(e - {k}, 0) AS b,
                          multiIf(f > 0, 1, {now_rel} - intDiv(t[length(t)], 1000) > {horizon}, 2, 0) AS r,
                          if(f > 0, intDiv(t[greatest(f, 1)], 1000), intDiv(t[length(t)], 1000) + {horizon}) AS l
             FROM (SELECT c, s, t, f, if(f > 0, toInt64(f) - 1, toInt64(length(s))) AS e
             FROM (SELECT c, s, t, {first} AS f FROM ({}))))
             {gone}))",
            journeys.sql
        );
        Ok((sql, journeys))
    }

    /// The statement each shard runs for churn, for tests that run it elsewhere.
    pub async fn churn_statement(&self, source: &JourneySource, q: &ChurnQuery) -> Result<String, SqlError> {
        Ok(self.churn_sql(source, q, self.overlay().await?)?.0)
    }

    /// Whether any event was re-classified (the overlay has rows; every shard holds them
    /// all): a query reads the events as they are when none was.
    async fn overlay(&self) -> Result<bool, SqlError> {
        Ok(self.shards[0].number("SELECT toInt64(count()) AS n FROM reclassified").await? > 0)
    }

    /// The per-customer journeys of `source` as SQL, the same on every shard; with `until`,
    /// only their events at or before that second since the epoch.
    fn journeys(&self, source: &JourneySource, overlay: bool, until: Option<i64>) -> Result<Journeys, SqlError> {
        if source.merged.len() > MAX_LISTED {
            return Err(SqlError::TooLarge(format!(
                "{} merged customers: more than one statement holds ({MAX_LISTED})",
                source.merged.len()
            )));
        }
        // The customers whose merged parts lie on more than one shard.
        let mut parts: HashMap<CustomerId, Vec<CustomerId>> = HashMap::new();
        for (&from, &into) in &source.merged {
            parts.entry(into).or_insert_with(|| vec![into]).push(from);
        }
        let shards = self.shards.len();
        let mut split: Vec<(CustomerId, Vec<CustomerId>)> = parts
            .into_iter()
            .filter(|(_, members)| members.iter().map(|&c| shard_of(c, shards)).collect::<HashSet<_>>().len() > 1)
            .collect();
        split.sort_unstable();
        if split.len() > MAX_LISTED {
            return Err(SqlError::TooLarge(format!(
                "{} customers merged across shards: more than one statement holds ({MAX_LISTED})",
                split.len()
            )));
        }
        let mut ids: Vec<i64> = source.ids.keys().copied().collect();
        ids.sort_unstable();
        let customer = if source.merged.is_empty() {
            "customer".to_string()
        } else {
            let mut m: Vec<(CustomerId, CustomerId)> = source.merged.iter().map(|(&a, &b)| (a, b)).collect();
            m.sort_unstable();
            let from: Vec<i64> = m.iter().map(|p| p.0).collect();
            let into: Vec<i64> = m.iter().map(|p| p.1).collect();
            format!("transform(customer, {}, {}, customer)", typed(&from), typed(&into))
        };
        let epoch_ms = source.epoch_s.saturating_mul(1000);
        let max_ms = i64::from(u32::MAX) * 1000 + 999;
        let mut keep = vec![];
        if !split.is_empty() {
            let c: Vec<i64> = split.iter().map(|s| s.0).collect();
            keep.push(format!("c NOT IN ({})", number_list(c)));
        }
        if let Some(until) = until {
            // `t` is at least 0: nothing is kept before the epoch.
            keep.push(format!("t < {}", until.saturating_add(1).saturating_mul(1000)));
        }
        let leave_out = if keep.is_empty() { String::new() } else { format!("WHERE {}", keep.join(" AND ")) };
        let touchpoints = if ids.is_empty() { "0".to_string() } else { number_list(ids) };
        let events = format!(
            "SELECT id, c, t, tp
             FROM (SELECT id, {customer} AS c, greatest(least(ts - {epoch_ms}, {max_ms}), 0) AS t, touchpoint AS tp
                   FROM {} WHERE touchpoint IN ({touchpoints}))
             {leave_out}",
            schema::points(&format!("project = {}", source.project), overlay)
        );
        // Sorted by time, then id; a row read twice (a retried write's, before ClickHouse
        // merged it away) is next to itself then, and dropped.
        let sql = format!(
            "SELECT c, arrayMap(x -> x.2, d) AS s, arrayMap(x -> x.1, d) AS t
             FROM (SELECT c, arrayFilter((x, previous) -> x.3 != previous, o,
                                         arrayPushFront(arrayPopBack(arrayMap(x -> x.3, o)), toInt64(-1))) AS d
             FROM (SELECT c, arraySort(x -> (x.1, x.3), groupArray((t, tp, id))) AS o FROM ({events}) GROUP BY c))"
        );
        Ok(Journeys { sql, events, split })
    }

    /// The journeys of the split customers, read back from every shard and put together
    /// the way the journey index does.
    async fn split_journeys(
        &self,
        source: &JourneySource,
        split: &[(CustomerId, Vec<CustomerId>)],
    ) -> Result<JourneySet, SqlError> {
        if split.is_empty() {
            return Ok(JourneySet::from_events(source.epoch_s, []));
        }
        let members: Vec<i64> = split.iter().flat_map(|s| s.1.iter().copied()).collect();
        #[derive(Deserialize)]
        struct Point {
            id: i64,
            c: i64,
            t: i64,
            tp: i64,
        }
        let filter = format!("project = {} AND customer IN ({})", source.project, number_list(members));
        let mut rows: Vec<Point> = self
            .rows_all(&format!(
                "SELECT id, customer AS c, ts AS t, touchpoint AS tp FROM {} WHERE touchpoint != 0",
                schema::points_view(&filter)
            ))
            .await?;
        rows.sort_unstable_by_key(|p| p.id);
        rows.dedup_by_key(|p| p.id);
        let events = rows.into_iter().filter_map(|p| {
            let tp = *source.ids.get(&p.tp)?;
            Some((source.merged.get(&p.c).copied().unwrap_or(p.c), p.t, tp))
        });
        Ok(JourneySet::from_events_ms(source.epoch_s, events))
    }
}

/// An `Array(Int64)` of `values` (a bare list of small numbers would be read as
/// `Array(UInt8)`, which `transform` does not match with an `Int64` column).
fn typed(values: &[i64]) -> String {
    format!("CAST([{}] AS Array(Int64))", number_list(values.iter().copied()))
}
