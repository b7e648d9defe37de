//! The SQL executor against the journey index and against a slow, obviously correct
//! reference, on random journeys stored in real ClickHouse servers (one shard, then two):
//! ties in the same millisecond and the same second, times before the index's epoch
//! (clamped, then in arrival order), events without a touchpoint or with one the dictionary
//! does not have, re-classified events (twice, and back to none), rows a retried write left
//! twice, and identity merges — within a shard and across shards. Every report must be
//! equal, field by field.

use std::collections::{BTreeMap, HashMap};
use touchpoint_analytics::churn::{self, ChurnQuery};
use touchpoint_analytics::journeys::{Dictionary, JourneySet, Tp};
use touchpoint_analytics::paths::{self, SankeyQuery, TransitionsQuery};
use touchpoint_analytics::retention::{self, CohortBy, Period, RetentionQuery};
use touchpoint_core::catalog::Touchpoint;
use touchpoint_core::{Channel, CustomerId, EventType};
use touchpoint_store::{EventStore, StoredEvent};
use touchpoint_store_clickhouse::sql::JourneySource;
use touchpoint_store_clickhouse::{shard_of, testing, ClickHouseEvents, Role};

/// The index's epoch in the cases (the engine's is earlier; any will do).
const EPOCH_S: i64 = 1_700_000_000;
const PROJECT: i64 = 7;

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One random case: the events as stored, the re-classifications after, the ids written
/// twice, and the merges.
struct Case {
    events: Vec<StoredEvent>,
    reclassify: Vec<Vec<(i64, Option<i64>)>>,
    twice: Vec<i64>,
    merged: HashMap<CustomerId, CustomerId>,
}

/// Store touchpoint ids: four in the dictionary, one not (99).
const STORE_IDS: [i64; 4] = [11, 12, 13, 14];

fn dictionary() -> (Dictionary, HashMap<i64, Tp>) {
    // Keys out of id order, so that ranking by key is tested.
    let keys = ["delivery", "browse", "checkout", "cart"];
    let touchpoints = keys.iter().map(|k| Touchpoint::discovered(k, k, Channel::Web)).collect();
    let dict = Dictionary { touchpoints, ..Default::default() };
    (dict, STORE_IDS.iter().enumerate().map(|(i, &id)| (id, i as Tp)).collect())
}

fn case(seed: u64) -> Case {
    let mut r = Rng(seed);
    let customers: Vec<CustomerId> = (0..1 + r.below(30)).map(|_| 1 + r.below(400) as i64).collect();
    // Merges into customers that are not merged themselves (the metadata store keeps the
    // end of each chain).
    let mut merged = HashMap::new();
    for _ in 0..r.below(customers.len() as u64 / 2 + 1) {
        let (from, into) = (r.pick(&customers), r.pick(&customers));
        if from != into && !merged.contains_key(&into) && !merged.values().any(|&v| v == from) {
            merged.insert(from, into);
        }
    }
    // Ties, times before the epoch, the next hour and day, and weeks and months later.
    let seconds = [
        EPOCH_S - 50,
        EPOCH_S,
        EPOCH_S + 1,
        EPOCH_S + 2,
        EPOCH_S + 3_600,
        EPOCH_S + 86_400,
        EPOCH_S + 86_400 * 8 + 1_800,
        EPOCH_S + 86_400 * 40,
        EPOCH_S + 86_400 * 75 + 3_599,
    ];
    let mut events = Vec::new();
    let mut id = 0;
    for _ in 0..r.below(250) {
        id += 1 + r.below(3) as i64;
        let ms = r.pick(&seconds) * 1000 + r.pick(&[0, 0, 1, 500, 999]);
        let touchpoint = r.pick(&[None, Some(11), Some(12), Some(13), Some(14), Some(14), Some(99)]);
        let customer = r.pick(&customers);
        events.push(StoredEvent {
            id,
            project_id: PROJECT,
            message_id: format!("m-{seed}-{id}"),
            kind: EventType::Track,
            name: Some("Viewed".into()),
            user_id: Some(format!("u{customer}")),
            anonymous_id: None,
            customer_id: customer,
            touchpoint_id: touchpoint,
            timestamp: ms,
            received_at: ms,
            flags: 0,
            body: "{}".into(),
        });
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let mut reclassify = Vec::new();
    let mut twice = Vec::new();
    if !ids.is_empty() {
        for _ in 0..r.below(3) {
            let round =
                (0..r.below(20)).map(|_| (r.pick(&ids), r.pick(&[None, Some(11), Some(13), Some(99)]))).collect();
            reclassify.push(round);
        }
        twice = (0..r.below(5)).map(|_| r.pick(&ids)).collect();
    }
    Case { events, reclassify, twice, merged }
}

/// The reference: each customer's events (after merges) sorted by clamped time, then id;
/// the pairs of consecutive touchpoints counted.
fn reference(c: &Case, ids: &HashMap<i64, Tp>, collapse: bool) -> BTreeMap<(Tp, Tp), u64> {
    let mut now: HashMap<i64, Option<i64>> = c.events.iter().map(|e| (e.id, e.touchpoint_id)).collect();
    for round in &c.reclassify {
        for &(id, tp) in round {
            now.insert(id, tp);
        }
    }
    let mut journeys: BTreeMap<CustomerId, Vec<(i64, i64, Tp)>> = BTreeMap::new();
    for e in &c.events {
        let Some(&tp) = now[&e.id].and_then(|t| ids.get(&t)) else { continue };
        let customer = c.merged.get(&e.customer_id).copied().unwrap_or(e.customer_id);
        let t = (e.timestamp - EPOCH_S * 1000).clamp(0, u32::MAX as i64 * 1000 + 999);
        journeys.entry(customer).or_default().push((t, e.id, tp));
    }
    let mut counts = BTreeMap::new();
    for j in journeys.values_mut() {
        j.sort();
        for w in j.windows(2) {
            if !(collapse && w[0].2 == w[1].2) {
                *counts.entry((w[0].2, w[1].2)).or_default() += 1;
            }
        }
    }
    counts
}

/// The journey index's set for the case, built the way the engine loads it: the events
/// with a touchpoint of the dictionary, in id order, under their merged customer.
fn journey_set(c: &Case, ids: &HashMap<i64, Tp>) -> JourneySet {
    let mut now: HashMap<i64, Option<i64>> = c.events.iter().map(|e| (e.id, e.touchpoint_id)).collect();
    for round in &c.reclassify {
        for &(id, tp) in round {
            now.insert(id, tp);
        }
    }
    JourneySet::from_events_ms(
        EPOCH_S,
        c.events.iter().filter_map(|e| {
            let tp = *now[&e.id].and_then(|t| ids.get(&t))?;
            Some((c.merged.get(&e.customer_id).copied().unwrap_or(e.customer_id), e.timestamp, tp))
        }),
    )
}

/// What the executor is given for a case: the dictionary, the store ids and the merges.
fn source(c: &Case, dict: &Dictionary, ids: &HashMap<i64, Tp>) -> JourneySource {
    JourneySource { project: PROJECT, dict: dict.clone(), ids: ids.clone(), merged: c.merged.clone(), epoch_s: EPOCH_S }
}

async fn store(c: &Case, url: &str) -> ClickHouseEvents {
    let events = ClickHouseEvents::open(url, Role::Writer).await.expect("open");
    events.copy_in(&c.events).await.expect("copy in");
    for round in &c.reclassify {
        events.set_touchpoints(round).await.expect("re-classify");
    }
    // A retried write's rows, before ClickHouse merges them away.
    for &id in &c.twice {
        for shard in events.shards() {
            shard.exec(&format!("INSERT INTO events SELECT * FROM events WHERE id = {id}")).await.expect("again");
        }
    }
    events
}

async fn parity(url: impl Fn() -> Option<String>, shards: usize, seeds: std::ops::Range<u64>) {
    let (dict, ids) = dictionary();
    let mut split_cases = 0;
    // What the churn cases reached: customers churned by a signal, by silence, stayers,
    // touchpoints tested, ids cut to the first few.
    let mut churn_seen = [0usize; 6];
    for seed in seeds {
        let Some(url) = url() else { return };
        let c = case(seed);
        let events = store(&c, &url).await;
        let source = source(&c, &dict, &ids);
        let mut parts: HashMap<CustomerId, Vec<usize>> = HashMap::new();
        for (&from, &into) in &c.merged {
            parts.entry(into).or_insert_with(|| vec![shard_of(into, shards)]).push(shard_of(from, shards));
        }
        split_cases += usize::from(parts.values().any(|s| s.iter().any(|&x| x != s[0])));
        let set = journey_set(&c, &ids);
        for collapse in [false, true] {
            for top in [3, 100] {
                let q = TransitionsQuery { top, collapse_repeats: collapse };
                let sql = events.sql_transitions(&source, &q).await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                let memory = paths::transitions(&set, &dict, &q).unwrap();
                assert_eq!(sql, memory, "seed {seed}, {q:?}: the SQL executor and the journey index differ");
                if top == 100 {
                    let want = reference(&c, &ids, collapse);
                    let got: BTreeMap<(Tp, Tp), u64> = sql
                        .transitions
                        .iter()
                        .map(|t| ((dict.find(&t.from).unwrap(), dict.find(&t.to).unwrap()), t.count))
                        .collect();
                    assert_eq!(got, want, "seed {seed}, {q:?}: not the reference's pairs");
                    assert_eq!(sql.total, want.values().sum::<u64>());
                }
            }
        }
        for q in retention_queries(seed) {
            let sql = events.sql_retention(&source, &q).await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let memory = retention::run(&set, &dict, &q).unwrap();
            assert_eq!(sql, memory, "seed {seed}, {q:?}: the SQL executor and the journey index differ");
        }
        for q in sankey_queries(seed) {
            let sql = events.sql_sankey(&source, &q).await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let memory = paths::sankey(&set, &dict, &q).unwrap();
            assert_eq!(sql, memory, "seed {seed}, {q:?}: the SQL executor and the journey index differ");
        }
        for (signal, q) in churn_queries(seed) {
            let source = with_signal(&source, signal);
            let sql = events.sql_churn(&source, &q).await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let memory = churn::churn(&set, &source.dict, &q);
            assert_eq!(sql, memory, "seed {seed}, {signal:?}, {q:?}: the SQL executor and the journey index differ");
            let cut = sql.churned > sql.churned_customers.len();
            for (seen, reached) in churn_seen.iter_mut().zip([sql.by_signal, sql.by_silence, sql.stayed, sql.tested]) {
                *seen += usize::from(reached > 0);
            }
            churn_seen[4] += usize::from(cut);
            if q.left_from_s.is_some() {
                let ever = churn::churn(&set, &source.dict, &ChurnQuery { left_from_s: None, ..q.clone() });
                churn_seen[5] += usize::from(ever.customers > sql.customers);
            }
        }
    }
    if shards > 1 {
        assert!(split_cases > 0, "no case merged customers across shards");
    }
    assert!(
        churn_seen.iter().all(|&n| n > 0),
        "churn cases by signal, silence, stayed, tested, cut, gone before the period: {churn_seen:?}"
    );
}

/// Churn queries of a case, each with the touchpoint that is a churn signal (none, or
/// one of the dictionary's): "now" before every event, between them, on an event's second,
/// with the last event exactly one horizon before it (not yet silence), and after them all;
/// last k of 1 to 4, every touchpoint tested or only common ones, few ids listed or all;
/// everyone who ever left, or only who left from a period's start on.
fn churn_queries(seed: u64) -> Vec<(Option<usize>, ChurnQuery)> {
    let mut r = Rng(seed ^ 0xc4);
    let nows = [
        EPOCH_S - 100,
        EPOCH_S + 86_400 * 8 + 1_800,
        EPOCH_S + 86_400 * 40 - 1,
        EPOCH_S + 86_400 * 70,
        EPOCH_S + 86_400 * 200,
    ];
    let mut out = vec![];
    for now_s in nows {
        out.push((
            r.pick(&[None, Some(0), Some(2), Some(3)]),
            ChurnQuery {
                now_s,
                churn_horizon_s: r.pick(&[86_400 * 5, 86_400 * 30, churn::DEFAULT_CHURN_HORIZON_S]),
                last_k: 1 + r.below(4) as usize,
                alpha: r.pick(&[0.05, 0.5]),
                min_customers: r.pick(&[0, 1, 3]),
                max_customer_ids: r.pick(&[2, 1_000]),
                left_from_s: r.pick(&[None, Some(now_s - 86_400 * 20), Some(EPOCH_S + 86_400 * 10)]),
            },
        ));
    }
    out
}

/// `source` with the dictionary's touchpoint `signal` a churn signal.
fn with_signal(source: &JourneySource, signal: Option<usize>) -> JourneySource {
    let mut source = source.clone();
    if let Some(i) = signal {
        source.dict.touchpoints[i].churn = true;
    }
    source
}

/// Sankey queries of a case: forward and backward, from each of two anchors, with and
/// without collapsed repeats, a short and a long path, every node or only the common ones.
fn sankey_queries(seed: u64) -> Vec<SankeyQuery> {
    let mut r = Rng(seed ^ 0x5a);
    let mut out = vec![];
    for anchor in ["cart", "browse"] {
        for forward in [true, false] {
            let base = if forward { SankeyQuery::from_start(anchor) } else { SankeyQuery::from_end(anchor) };
            out.push(SankeyQuery {
                steps: 1 + r.below(4) as usize,
                collapse_repeats: r.below(2) == 0,
                min_share: r.pick(&[0.0, 0.0, 0.2]),
                ..base
            });
        }
    }
    out
}

/// Retention queries of a case: each period length, cohorts by the first event or the first
/// `cart`, coming back with anything or with `browse`, in UTC, a fixed zone, or a zone whose
/// clocks change (also back across midnight), with and without an entry range.
fn retention_queries(seed: u64) -> Vec<RetentionQuery> {
    let mut r = Rng(seed ^ 0xa5);
    let mut out = vec![];
    for period in [Period::Day, Period::Week, Period::Month] {
        let (tz_offset_s, tz_transitions) = match r.below(3) {
            0 => (0, vec![]),
            1 => (r.pick(&[3_600, -18_000, 19_800]), vec![]),
            _ => (
                3_600,
                vec![(EPOCH_S + 1_800, 7_200), (EPOCH_S + 86_400 * 8 + 600, -3_600), (EPOCH_S + 86_400 * 40, 3_600)],
            ),
        };
        out.push(RetentionQuery {
            cohort: if r.below(2) == 0 { CohortBy::FirstSeen } else { CohortBy::FirstTouchpoint("cart".into()) },
            returning: (r.below(2) == 0).then(|| "browse".to_string()),
            period,
            periods: 1 + r.below(5) as usize,
            tz_offset_s,
            tz_transitions,
            from: (r.below(3) == 0).then_some(EPOCH_S),
            to: (r.below(3) == 0).then_some(EPOCH_S + 86_400 * 41),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyses_on_one_shard_equal_the_journey_index() {
    parity(testing::fresh_url, 1, 0..12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyses_on_two_shards_equal_the_journey_index() {
    parity(testing::fresh_sharded_url, 2, 100..112).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_cannot_run_is_refused_as_the_journey_index_refuses_it() {
    let Some(url) = testing::fresh_url() else { return };
    let (dict, ids) = dictionary();
    let events = ClickHouseEvents::open(&url, Role::Writer).await.expect("open");
    let source = JourneySource { project: PROJECT, dict: dict.clone(), ids, merged: HashMap::new(), epoch_s: EPOCH_S };
    let q = TransitionsQuery { top: 0, collapse_repeats: false };
    let sql = events.sql_transitions(&source, &q).await.unwrap_err().to_string();
    let memory = paths::transitions(&JourneySet::from_events(EPOCH_S, []), &dict, &q).unwrap_err().message;
    assert_eq!(sql, memory);
    // No events at all: nothing counted, the same empty report.
    let q = TransitionsQuery::default();
    let empty = events.sql_transitions(&source, &q).await.unwrap();
    assert_eq!(empty, paths::transitions(&JourneySet::from_events(EPOCH_S, []), &dict, &q).unwrap());
    assert_eq!(empty.total, 0);
}

/// Runs SQL in chdb (ClickHouse in-process, a current release, from PyPI): the tables'
/// statements, their rows as JSON lines, then one query; its rows as JSON lines.
const CHDB: &str = r#"
import json, sys
from chdb import session
job = json.load(sys.stdin)
s = session.Session()
s.query("CREATE DATABASE IF NOT EXISTS parity")
s.query("USE parity")
for ddl in job["ddl"]:
    s.query(ddl)
for table, rows in job["rows"].items():
    if rows:
        s.query(f"INSERT INTO {table} FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in rows))
print(s.query(job["sql"], "JSONEachRow"))
print("version", s.query("SELECT version()", "CSV"), file=sys.stderr)
"#;

/// Rows as sorted lists of numbers, arrays written out in place (a current ClickHouse
/// quotes 64-bit numbers; 18.16 does not).
fn numbers(rows: Vec<serde_json::Value>) -> Vec<Vec<i64>> {
    fn flat(v: &serde_json::Value, out: &mut Vec<i64>) {
        match v {
            serde_json::Value::Array(items) => {
                out.push(items.len() as i64);
                items.iter().for_each(|x| flat(x, out));
            }
            v => out.push(v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap()),
        }
    }
    let mut out: Vec<Vec<i64>> = rows
        .iter()
        .map(|r| {
            let mut row: Vec<(&String, &serde_json::Value)> = r.as_object().unwrap().iter().collect();
            row.sort_by_key(|(k, _)| *k);
            let mut numbers = vec![];
            row.into_iter().for_each(|(_, v)| flat(v, &mut numbers));
            numbers
        })
        .collect();
    out.sort();
    out
}

/// Python with chdb: `TOUCHPOINT_PYTHON` (CI's virtual environment) or `python3`; `None`
/// when it lacks chdb.
fn chdb_python() -> Option<String> {
    let python = std::env::var("TOUCHPOINT_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python).args(["-c", "import chdb"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statements_mean_the_same_on_a_current_clickhouse() {
    let Some(url) = testing::fresh_url() else { return };
    let Some(python) = chdb_python() else {
        let why = "chdb (pip install chdb) is not installed: the SQL is not checked on a current ClickHouse";
        if std::env::var_os("TOUCHPOINT_REQUIRE_SERVERS").is_some() {
            panic!("{why}");
        }
        return eprintln!("SKIPPED: {why}");
    };
    let (dict, ids) = dictionary();
    let mut url = Some(url);
    for seed in 200..206 {
        let url = url.take().or_else(testing::fresh_url).expect("a ClickHouse database");
        let c = case(seed);
        let events = store(&c, &url).await;
        let source = source(&c, &dict, &ids);
        let shard = &events.shards()[0];
        let mut rows = serde_json::Map::new();
        for table in ["events", "reclassified"] {
            let r: Vec<serde_json::Value> = shard.rows(&format!("SELECT * FROM {table}")).await.unwrap();
            rows.insert(table.into(), r.into());
        }
        let mut statements = vec![];
        for collapse in [false, true] {
            let q = TransitionsQuery { top: 10, collapse_repeats: collapse };
            statements.push(events.transitions_statement(&source, &q).await.unwrap());
        }
        for q in sankey_queries(seed) {
            statements.push(events.sankey_statement(&source, &q).await.unwrap());
        }
        for q in retention_queries(seed) {
            statements.push(events.retention_statement(&source, &q).await.unwrap());
        }
        for (signal, q) in churn_queries(seed) {
            statements.push(events.churn_statement(&with_signal(&source, signal), &q).await.unwrap());
        }
        for sql in statements {
            let here: Vec<serde_json::Value> = shard.rows(&sql).await.unwrap();
            let job = serde_json::json!({
                "ddl": touchpoint_store_clickhouse::schema::create_tables(), "rows": rows, "sql": sql,
            });
            let mut child = std::process::Command::new(&python)
                .args(["-c", CHDB])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            serde_json::to_writer(child.stdin.take().unwrap(), &job).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "chdb: {}", String::from_utf8_lossy(&out.stderr));
            let there: Vec<serde_json::Value> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert!(!here.is_empty() || c.events.is_empty(), "seed {seed}: nothing counted by {sql}");
            assert_eq!(numbers(here), numbers(there), "seed {seed}: ClickHouse 18.16 and chdb differ on {sql}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_set_back_across_midnight_keeps_earlier_events_out_of_later_periods() {
    let Some(url) = testing::fresh_url() else { return };
    let (dict, ids) = dictionary();
    // Local time is UTC+1 until 00:30 local, when the clocks go back two hours (to 22:30 of
    // the day before): an event at 00:20 local, then one at 23:00 local of the previous day.
    let midnight = (EPOCH_S / 86_400 + 2) * 86_400;
    let change = midnight - 1_800;
    let event = |id: i64, customer: i64, at_s: i64, touchpoint: i64| StoredEvent {
        id,
        project_id: PROJECT,
        message_id: format!("dst-{id}"),
        kind: EventType::Track,
        name: None,
        user_id: None,
        anonymous_id: None,
        customer_id: customer,
        touchpoint_id: Some(touchpoint),
        timestamp: at_s * 1000,
        received_at: at_s * 1000,
        flags: 0,
        body: "{}".into(),
    };
    let c = Case {
        events: vec![
            event(1, 5, change - 600, 12),          // browse, 00:20 local
            event(2, 5, change + 1_800, 14),        // cart, 23:00 local the day before
            event(3, 6, midnight + 86_400 * 2, 11), // someone else, later: the next days can be observed
        ],
        reclassify: vec![],
        twice: vec![],
        merged: HashMap::new(),
    };
    let events = store(&c, &url).await;
    let source = source(&c, &dict, &ids);
    let q = RetentionQuery {
        cohort: CohortBy::FirstTouchpoint("cart".into()),
        period: Period::Day,
        periods: 2,
        tz_offset_s: 3_600,
        tz_transitions: vec![(change, -3_600)],
        ..RetentionQuery::default()
    };
    let memory = retention::run(&journey_set(&c, &ids), &dict, &q).unwrap();
    assert_eq!(memory.cohorts.len(), 1);
    assert_eq!(
        memory.cohorts[0].retained,
        vec![Some(1), Some(0), Some(0)],
        "the browse before the cart is not a return"
    );
    assert_eq!(events.sql_retention(&source, &q).await.unwrap(), memory);
}
