//! `touchpoint bench sql`: the SQL executor on ClickHouse against hand-written ClickHouse
//! queries for the same analyses on the same servers and tables, and against the in-memory
//! journey index, side by side in one run on the same generated journeys; the answers are
//! checked to agree, and each median and the ratios are printed.
//!
//! The journeys come from the seeded generator (`bench analytics`' journeys), stored once
//! into the given ClickHouse database (one shard, or several: a comma-separated list) with
//! a progress bar, and kept there: a later run on the same database and size reuses them.
//!
//! The hand-written queries are what an analyst would write over the `events` table for
//! the same answers (transitions, Sankey paths from a touchpoint, weekly retention, churn
//! and its drivers): each customer's
//! touchpoints in time order (ties by id), then the analysis' own array work, on every
//! shard at once. The executor does more for the same answer: it reads
//! re-classified touchpoints through the overlay, reads a row a retried write left twice
//! once, and maps merged customers — the difference is what the ratio measures.

use crate::anyhow_lite::{msg, Result};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;
use touchpoint_analytics::churn::{self, ChurnQuery};
use touchpoint_analytics::paths::{self, SankeyQuery, TransitionsQuery};
use touchpoint_analytics::retention::{self, Period, RetentionQuery};
use touchpoint_analytics::Tp;
use touchpoint_core::EventType;
use touchpoint_store::{EventStore, StoredEvent};
use touchpoint_store_clickhouse::sql::JourneySource;
use touchpoint_store_clickhouse::{ClickHouseEvents, CopyState, Role};

/// The project the journeys are stored under.
const PROJECT: i64 = 1;
/// Events written to ClickHouse at a time.
const PAGE: usize = 200_000;

/// Median seconds of `runs` runs after one warm-up, and the last result.
async fn time<T, F: std::future::Future<Output = T>>(runs: usize, mut f: impl FnMut() -> F) -> (f64, T) {
    let mut r = f().await;
    let mut times = vec![];
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        r = f().await;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], r)
}

pub async fn run(events: usize, event_store: &str, runs: usize, json_out: bool) -> Result<()> {
    let (set, dict) = crate::bench_analytics::journeys(events, 42);
    let ch = ClickHouseEvents::open(event_store, Role::Writer).await?;
    let shards = ch.shards().len();
    store(&ch, &set).await?;
    let source = JourneySource {
        project: PROJECT,
        dict: dict.clone(),
        ids: (0..dict.touchpoints.len()).map(|i| (i as i64 + 1, i as Tp)).collect(),
        merged: HashMap::new(),
        epoch_s: set.epoch_s,
    };
    let q = TransitionsQuery { top: 20, collapse_repeats: false };
    let (ours_s, ours) = time(runs, || async { ch.sql_transitions(&source, &q).await }).await;
    let ours = ours.map_err(|e| msg(format!("the SQL executor: {e}")))?;
    let by_hand = transitions_by_hand();
    let (hand_s, hand) = time(runs, || hand_written(&ch, &by_hand)).await;
    let hand = hand?;
    let (memory_s, memory) = time(runs, || async { paths::transitions(&set, &dict, &q) }).await;
    if Ok(&ours) != memory.as_ref() {
        return Err(msg("transitions: the SQL executor and the journey index disagree"));
    }
    // The hand-written query's pairs: the same counts and total.
    let total: u64 = hand.values().sum();
    let agree = total == ours.total
        && ours.transitions.iter().all(|t| {
            let (a, b) = (dict.find(&t.from).map(|x| x as i64 + 1), dict.find(&t.to).map(|x| x as i64 + 1));
            a.zip(b).and_then(|(a, b)| hand.get(&vec![a, b])) == Some(&t.count)
        });
    if !agree {
        return Err(msg("transitions: the hand-written query and the SQL executor disagree"));
    }
    let mut rows = vec![("transitions", ours_s, hand_s, memory_s)];

    let anchor = "cart";
    let q = SankeyQuery { steps: 4, ..SankeyQuery::from_start(anchor) };
    let (ours_s, ours) = time(runs, || async { ch.sql_sankey(&source, &q).await }).await;
    let ours = ours.map_err(|e| msg(format!("the SQL executor: {e}")))?;
    let a = dict.find(anchor).ok_or_else(|| msg(format!("no touchpoint {anchor}")))? as i64 + 1;
    let by_hand = sankey_by_hand(a, q.steps);
    let (hand_s, hand) = time(runs, || hand_written(&ch, &by_hand)).await;
    let hand = hand?;
    let (memory_s, memory) = time(runs, || async { paths::sankey(&set, &dict, &q) }).await;
    if Ok(&ours) != memory.as_ref() {
        return Err(msg("sankey: the SQL executor and the journey index disagree"));
    }
    let first_step: u64 = hand.iter().filter(|(k, _)| k[0] == 0).map(|(_, n)| n).sum();
    if first_step != ours.customers {
        return Err(msg("sankey: the hand-written query and the SQL executor disagree"));
    }
    rows.push(("sankey", ours_s, hand_s, memory_s));

    let q = RetentionQuery { period: Period::Week, periods: 8, ..RetentionQuery::default() };
    let (ours_s, ours) = time(runs, || async { ch.sql_retention(&source, &q).await }).await;
    let ours = ours.map_err(|e| msg(format!("the SQL executor: {e}")))?;
    let by_hand = retention_by_hand(q.periods);
    let (hand_s, hand) = time(runs, || hand_written(&ch, &by_hand)).await;
    let hand = hand?;
    let (memory_s, memory) = time(runs, || async { retention::run(&set, &dict, &q) }).await;
    if Ok(&ours) != memory.as_ref() {
        return Err(msg("retention: the SQL executor and the journey index disagree"));
    }
    // The hand-written cohorts, oldest first, against ours wherever ours can be observed.
    let mut cohorts: Vec<i64> = hand.keys().map(|k| k[0]).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    let agree = cohorts.len() == ours.cohorts.len()
        && cohorts.iter().zip(&ours.cohorts).all(|(w0, c)| {
            c.retained
                .iter()
                .enumerate()
                .all(|(n, r)| r.is_none_or(|r| hand.get(&vec![*w0, n as i64]).copied().unwrap_or(0) == r))
        });
    if !agree {
        return Err(msg("retention: the hand-written query and the SQL executor disagree"));
    }
    rows.push(("retention", ours_s, hand_s, memory_s));

    // Churn as of a second after the last event (every event observed).
    let last = set.times.iter().max().map_or(0, |&t| i64::from(t));
    let q = ChurnQuery::new(set.epoch_s + last + 1);
    let (ours_s, ours) = time(runs, || async { ch.sql_churn(&source, &q).await }).await;
    let ours = ours.map_err(|e| msg(format!("the SQL executor: {e}")))?;
    let signals: Vec<i64> =
        (0..dict.touchpoints.len()).filter(|&i| dict.touchpoints[i].churn).map(|i| i as i64 + 1).collect();
    let by_hand = churn_by_hand(&q, &signals);
    let (hand_s, hand) = time(runs, || hand_written(&ch, &by_hand)).await;
    let hand = hand?;
    let (memory_s, memory) = time(runs, || async { churn::churn(&set, &dict, &q) }).await;
    // The events are stored under customer + 1.
    let mut shifted = ours.clone();
    shifted.churned_customers.iter_mut().for_each(|c| *c -= 1);
    if shifted != memory {
        return Err(msg("churn: the SQL executor and the journey index disagree"));
    }
    // The hand-written counts of each tested touchpoint: `[reason, touchpoint]`.
    let agree = !ours.drivers.is_empty()
        && ours.drivers.iter().all(|d| {
            let tp = dict.find(&d.touchpoint).map_or(0, |x| x as i64 + 1);
            let n = |reason: i64| hand.get(&vec![reason, tp]).copied().unwrap_or(0) as usize;
            n(1) + n(2) == d.churned_with && n(0) == d.stayed_with
        });
    if !agree {
        return Err(msg("churn: the hand-written query and the SQL executor disagree"));
    }
    rows.push(("churn", ours_s, hand_s, memory_s));

    println!(
        "{} events, {} customers, ClickHouse {} ({shards} shard{}), median of {runs} runs, seconds:",
        set.event_count(),
        set.customer_count(),
        version(&ch).await,
        if shards == 1 { "" } else { "s" }
    );
    println!("  analysis      SQL executor  hand-written  executor/hand  journey index");
    for (name, ours, hand, memory) in &rows {
        println!("  {name:<12} {ours:>13.3} {hand:>13.3} {:>14.2} {memory:>14.4}", ours / hand);
    }
    if json_out {
        let v = json!({
            "events": set.event_count(), "customers": set.customer_count(), "shards": shards,
            "analyses": rows.iter().map(|(name, ours, hand, memory)| json!({
                "analysis": name, "sql_executor_s": ours, "hand_written_s": hand, "journey_index_s": memory,
                "executor_over_hand_written": ours / hand,
            })).collect::<Vec<_>>(),
        });
        println!("{v}");
    }
    Ok(())
}

/// Store the journeys as events (once: a database that holds them already is reused, one
/// whose copy was cut short is taken up where it stopped).
async fn store(ch: &ClickHouseEvents, set: &touchpoint_analytics::JourneySet) -> Result<()> {
    let n = set.event_count() as i64;
    let other = || {
        msg(format!(
            "the ClickHouse database holds other events than these {n}; give an empty one (or the one an earlier run \
             with the same --events filled)"
        ))
    };
    match ch.copy_state().await? {
        CopyState::Done if ch.max_event_id().await? == n => return Ok(()),
        CopyState::Done => return Err(other()),
        CopyState::None if ch.max_event_id().await? > 0 => return Err(other()),
        _ => {}
    }
    let from = ch.copy_resume().await?;
    let bar = crate::progress_bar(n as u64, "{spinner} storing [{bar:40}] {pos}/{len} events ({eta} left)", false);
    bar.set_position(from as u64);
    let mut page = Vec::with_capacity(PAGE);
    let mut id = 0;
    for j in set.iter() {
        for (t, tp) in j.times.iter().zip(j.touchpoints) {
            id += 1;
            if id <= from {
                continue;
            }
            let ms = (set.epoch_s + i64::from(*t)) * 1000;
            page.push(StoredEvent {
                id,
                project_id: PROJECT,
                message_id: format!("b{id}"),
                kind: EventType::Track,
                name: None,
                user_id: None,
                anonymous_id: None,
                customer_id: j.customer + 1,
                touchpoint_id: Some(i64::from(*tp) + 1),
                timestamp: ms,
                received_at: ms,
                flags: 0,
                body: "{}".into(),
            });
            if page.len() == PAGE {
                ch.copy_in(&page).await?;
                bar.inc(page.len() as u64);
                page.clear();
            }
        }
    }
    if !page.is_empty() {
        ch.copy_in(&page).await?;
        bar.inc(page.len() as u64);
    }
    ch.copy_finish().await?;
    bar.finish_and_clear();
    if ch.count_events(PROJECT).await? != n {
        return Err(msg("the events stored are not the events generated"));
    }
    Ok(())
}

/// The first shard's ClickHouse version.
async fn version(ch: &ClickHouseEvents) -> String {
    #[derive(Deserialize)]
    struct V {
        v: String,
    }
    let v = ch.http().rows::<V>("SELECT version() AS v").await;
    v.ok().and_then(|v| v.into_iter().next()).map_or_else(|| "?".into(), |v| v.v)
}

/// Each customer's touchpoints in time order (ties by id), as an analyst would write it
/// over `events`.
const JOURNEYS_BY_HAND: &str =
    "SELECT arrayMap(x -> x.2, arraySort(x -> (x.1, x.3), groupArray((ts, touchpoint, id)))) \
     AS s FROM events WHERE project = 1 AND touchpoint != 0 GROUP BY customer";

/// Transitions by hand: `k` is `[from, to]`.
fn transitions_by_hand() -> String {
    format!(
        "SELECT [a, b] AS k, toUInt64(count()) AS n FROM ({JOURNEYS_BY_HAND})
         ARRAY JOIN arrayPopBack(s) AS a, arrayPopFront(s) AS b GROUP BY a, b"
    )
}

/// Sankey paths from the first `anchor`, repeats collapsed, by hand: `k` is `[step, from,
/// to]` (`-1`: the end).
fn sankey_by_hand(anchor: i64, steps: usize) -> String {
    format!(
        "SELECT [i - 1, p[i], p[i + 1]] AS k, toUInt64(count()) AS n FROM (
           SELECT if(length(c) <= {steps}, arrayPushBack(c, toInt64(-1)), c) AS p FROM (
             SELECT arraySlice(arrayFilter((x, y) -> x != y, f, arrayPushFront(arrayPopBack(f), toInt64(-9))), 1, {})
               AS c FROM (SELECT arraySlice(s, indexOf(s, {anchor})) AS f FROM ({JOURNEYS_BY_HAND}) WHERE has(s, {anchor}))))
         ARRAY JOIN arrayEnumerate(arrayPopBack(p)) AS i GROUP BY k",
        steps + 1
    )
}

/// Weekly retention in UTC, cohorts by the first event, by hand: `k` is `[entry week, weeks
/// after it]`.
fn retention_by_hand(periods: usize) -> String {
    format!(
        "SELECT [w0, off] AS k, toUInt64(count()) AS n FROM (
           SELECT w0, arrayJoin(arrayFilter(x -> x <= {periods}, arrayMap(w -> w - w0, ws))) AS off FROM (
             SELECT min(w) AS w0, groupUniqArray(w) AS ws
             FROM (SELECT customer, intDiv(intDiv(intDiv(ts, 1000), 86400) + 3, 7) AS w
                   FROM events WHERE project = 1 AND touchpoint != 0)
             GROUP BY customer))
         GROUP BY k"
    )
}

/// Churn by hand, as of `q.now_s` (every event at or before it): each customer's journey,
/// its first churn signal, why it churned (1 a signal, 2 silence, 0 stayed) and the
/// touchpoints among its last k before the churn point: `k` is `[reason, touchpoint]`.
fn churn_by_hand(q: &ChurnQuery, signals: &[i64]) -> String {
    let first = if signals.is_empty() {
        "toUInt32(0)".to_string()
    } else {
        let list: Vec<String> = signals.iter().map(|s| s.to_string()).collect();
        format!("arrayFirstIndex(x -> has(CAST([{}] AS Array(Int64)), x), s)", list.join(", "))
    };
    format!(
        "SELECT [r, x] AS k, toUInt64(count()) AS n FROM (
           SELECT r, arrayJoin(arrayDistinct(arraySlice(s, greatest(e - {k}, 0) + 1, e - greatest(e - {k}, 0)))) AS x
           FROM (SELECT s, if(f > 0, toInt64(f) - 1, toInt64(length(s))) AS e,
                        multiIf(f > 0, 1, {now} - intDiv(last, 1000) > {horizon}, 2, 0) AS r
                 FROM (SELECT s, last, {first} AS f FROM (
                         SELECT arrayMap(x -> x.2, arraySort(x -> (x.1, x.3), groupArray((ts, touchpoint, id)))) AS s,
                                max(ts) AS last
                         FROM events WHERE project = 1 AND touchpoint != 0 AND ts < {until_ms} GROUP BY customer))))
         GROUP BY k",
        k = q.last_k,
        now = q.now_s,
        horizon = q.churn_horizon_s,
        until_ms = (q.now_s + 1) * 1000,
    )
}

/// A hand-written query on every shard at once, its counts added up by key.
async fn hand_written(ch: &ClickHouseEvents, sql: &str) -> Result<HashMap<Vec<i64>, u64>> {
    #[derive(Deserialize)]
    struct Row {
        k: Vec<i64>,
        n: u64,
    }
    let parts = futures::future::try_join_all(ch.shards().iter().map(|h| h.rows::<Row>(sql))).await?;
    let mut counts = HashMap::new();
    for r in parts.into_iter().flatten() {
        *counts.entry(r.k).or_default() += r.n;
    }
    Ok(counts)
}
