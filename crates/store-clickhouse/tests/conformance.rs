//! The ClickHouse event store, joined to the PostgreSQL metadata store (`SplitStore`),
//! against the conformance suite — one test per check, each on a fresh database of a
//! throwaway ClickHouse server and a fresh database of a throwaway PostgreSQL server — and
//! what ClickHouse adds: hostile messageIds kept inside their literals, a write cut short
//! and reconciled, re-classification mapped at query time, erasure, and two shards — the
//! suite again on two servers, a customer's events on one shard, and a shard killed and
//! restarted under traffic.

use std::sync::Arc;
use touchpoint_store::Store;
use touchpoint_store_clickhouse::{testing, ClickHouseEvents, Role};
use touchpoint_store_postgres::{PgMetaStore, PgOptions, SplitStore};

/// A split store on fresh databases: events in ClickHouse, the rest in PostgreSQL.
async fn split() -> Option<SplitStore<ClickHouseEvents>> {
    split_on(testing::fresh_url()?).await
}

/// The same with the events on two shards (two ClickHouse servers).
async fn split_sharded() -> Option<SplitStore<ClickHouseEvents>> {
    split_on(testing::fresh_sharded_url()?).await
}

async fn split_on(ch: String) -> Option<SplitStore<ClickHouseEvents>> {
    let pg = touchpoint_store_postgres::testing::fresh_database().await?;
    let meta = PgMetaStore::connect(&pg, &PgOptions::default()).await.expect("connect to PostgreSQL");
    let events = ClickHouseEvents::open(&ch, Role::Writer).await.expect("open the ClickHouse event store");
    Some(SplitStore::open(meta, Arc::new(events)).await.expect("join the stores"))
}

async fn fresh_store() -> Option<(Arc<dyn Store>, ())> {
    Some((Arc::new(split().await?) as Arc<dyn Store>, ()))
}

async fn fresh_sharded_store() -> Option<(Arc<dyn Store>, ())> {
    Some((Arc::new(split_sharded().await?) as Arc<dyn Store>, ()))
}

mod checks {
    touchpoint_store_conformance::conformance_tests!(super::fresh_store);
}

/// The same checks with the events on two shards.
mod sharded {
    touchpoint_store_conformance::conformance_tests!(super::fresh_sharded_store);
}

use serde_json::json;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, Limits};
use touchpoint_store::{EventStore, NewEvent};

fn event(mid: &str, user: &str, ts: &str) -> Event {
    let v = json!({"type":"track","messageId":mid,"userId":user,"event":"Viewed","timestamp":ts});
    Event::parse(v, &ParseContext { received_at: 1_790_000_000_000, ..Default::default() }, &Limits::default())
        .expect("a valid event")
}

fn new(project: i64, customer: i64, touchpoint: Option<i64>, e: Event) -> NewEvent {
    NewEvent { project, event: e, customer, touchpoint }
}

/// A ClickHouse event store alone, on a fresh database.
async fn events_alone() -> Option<(ClickHouseEvents, String)> {
    let url = testing::fresh_url()?;
    Some((ClickHouseEvents::open(&url, Role::Writer).await.expect("open"), url))
}

async fn count(s: &ClickHouseEvents, sql: &str) -> i64 {
    s.http().number(sql).await.unwrap()
}

/// MessageIds are quoted into statements (18.16 has no query parameters): quotes,
/// backslashes, control characters and SQL in a messageId are stored as sent, found again
/// by dedup, and run nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_message_ids_stay_inside_their_literals() {
    let Some((s, _)) = events_alone().await else { return };
    let hostile = [
        "it's",
        r"back\slash\",
        r"x\' OR 1=1 --",
        "'); DROP TABLE events; --",
        "line\nbreak\ttab\r",
        "žluťoučký kůň",
        "\u{7f}\u{1}",
    ];
    let batch: Vec<NewEvent> = hostile
        .iter()
        .enumerate()
        .map(|(i, m)| new(1, 10 + i as i64, Some(3), event(m, "u", "2026-11-02T10:00:00Z")))
        .collect();
    let first = s.append_events(&batch, &[]).await.unwrap();
    assert!(first.iter().all(Option::is_some), "{first:?}");
    let again = s.append_events(&batch, &[]).await.unwrap();
    assert!(again.iter().all(Option::is_none), "every repeat is found: {again:?}");
    let stored = s.scan_events(Some(1), 0, 100).await.unwrap();
    let mut got: Vec<&str> = stored.iter().map(|e| e.message_id.as_str()).collect();
    let mut want = hostile.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "stored as sent");
    assert_eq!(count(&s, "SELECT toInt64(count()) AS n FROM events").await, hostile.len() as i64, "no table dropped");
}

/// A write cut short between the events' insert and their messageIds' (a crash): the next
/// writer reconciles, so the client's retry of the unacknowledged batch stores nothing
/// twice and every event keeps one id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_short_is_reconciled_by_the_next_writer() {
    let Some((s, url)) = events_alone().await else { return };
    let a: Vec<NewEvent> =
        (0..3).map(|i| new(1, 1, Some(3), event(&format!("a{i}"), "u", "2026-11-02T10:00:00Z"))).collect();
    let b: Vec<NewEvent> =
        (0..4).map(|i| new(1, 2, Some(3), event(&format!("b{i}"), "v", "2026-11-03T10:00:00Z"))).collect();
    s.append_events(&a, &[]).await.unwrap();
    s.append_events(&b[..2], &[]).await.unwrap();
    // The crash: b0 and b1 are stored, their messageIds are not.
    s.http().exec("ALTER TABLE message_ids DELETE WHERE message_id IN ('b0', 'b1')").await.unwrap();
    while count(&s, "SELECT toInt64(count()) AS n FROM system.mutations WHERE is_done = 0").await > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(s);
    let s = ClickHouseEvents::open(&url, Role::Writer).await.unwrap();
    let ids = s.append_events(&b, &[]).await.unwrap();
    assert_eq!(ids[..2], [None, None], "the stored half of the retried batch is found");
    assert!(ids[2].is_some() && ids[3].is_some(), "{ids:?}");
    assert_eq!(s.count_events(1).await.unwrap(), 7);
    let all = s.scan_events(Some(1), 0, 100).await.unwrap();
    let mut seen: Vec<i64> = all.iter().map(|e| e.id).collect();
    seen.dedup();
    assert_eq!(seen.len(), 7, "ids are unique and in order: {seen:?}");
    assert_eq!(count(&s, "SELECT toInt64(uniqExact(message_id)) AS n FROM message_ids").await, 7);
}

/// A writer frozen in the middle of an insert (SIGSTOP, a paused VM) while another node
/// takes over, and running again: its insert reaches the server after the new writer
/// raised the fence, and the server stores none of it (the event, its messageId); its
/// next write is refused after the fact, so it acknowledges nothing; the new writer's ids
/// never meet the old one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_frozen_mid_insert_stores_nothing_once_another_took_over() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((old, url)) = events_alone().await else { return };
    let a: Vec<NewEvent> =
        (0..3).map(|i| new(1, 1, Some(3), event(&format!("a{i}"), "u", "2026-11-02T10:00:00Z"))).collect();
    assert!(old.append_events(&a, &[]).await.unwrap().iter().all(Option::is_some));
    // The old writer's insert of event 4 and its messageId, as its client sends them, cut
    // after the first half of the body: the process froze there.
    let rows = [
        (
            "events_in",
            r#"{"project":1,"id":4,"message_id":"late","kind":"track","name":"Viewed","user_id":"u","anonymous_id":null,"customer":1,"touchpoint":3,"ts":1793613600000,"received_at":1793613600000,"flags":0,"body":"{}","writer":1}"#,
        ),
        ("message_ids_in", r#"{"project":1,"message_id":"late","id":4,"writer":1}"#),
    ];
    let ch = old.url().clone();
    let mut frozen = vec![];
    for (table, row) in rows {
        let addr = ch.base.trim_start_matches("http://").to_string();
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let body = format!("{row}\n");
        let head = format!(
            "POST /?database={}&query=INSERT%20INTO%20{table}%20FORMAT%20JSONEachRow HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
            ch.database,
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        tcp.write_all(format!("{head}{first}").as_bytes()).await.unwrap();
        frozen.push((tcp, rest.to_string()));
    }
    // Another node takes over, and the frozen one runs again and finishes its inserts.
    let new_writer = ClickHouseEvents::open(&url, Role::Writer).await.unwrap();
    for (mut tcp, rest) in frozen {
        tcp.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = vec![0; 1024];
        let n = tcp.read(&mut answer).await.unwrap();
        let status = String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_string();
        assert!(status.contains("200"), "the server takes the insert and drops its rows: {status}");
    }
    let late = |table: &str| format!("SELECT toInt64(count()) AS n FROM {table} WHERE message_id = 'late'");
    assert_eq!(count(&new_writer, &late("events")).await, 0, "the frozen writer's event");
    assert_eq!(count(&new_writer, &late("message_ids")).await, 0, "its messageId");
    // The old writer's next write is refused; the new writer stores it, past the old ids.
    let b: Vec<NewEvent> =
        (0..2).map(|i| new(1, 2, Some(3), event(&format!("b{i}"), "v", "2026-11-03T10:00:00Z"))).collect();
    let refused = old.append_events(&b, &[]).await.unwrap_err().to_string();
    assert!(refused.contains("another node took over"), "{refused}");
    assert_eq!(count(&new_writer, "SELECT toInt64(count()) AS n FROM events WHERE message_id LIKE 'b%'").await, 0);
    let ids = new_writer.append_events(&b, &[]).await.unwrap();
    assert_eq!(ids, [Some(4), Some(5)], "the new writer's ids follow what is stored");
    assert_eq!(new_writer.count_events(1).await.unwrap(), 5);
}

/// A writer that was frozen while another took over and re-classified, running again with
/// its older rules: its re-classification is refused and stores nothing (its versions,
/// from its clock, would otherwise be the newest and win); the new writer's stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_lost_the_fence_cannot_reclassify() {
    let Some((old, url)) = events_alone().await else { return };
    let batch: Vec<NewEvent> =
        (0..2).map(|i| new(1, 1, Some(5), event(&format!("m{i}"), "u", "2026-11-02T10:00:00Z"))).collect();
    let ids: Vec<i64> = old.append_events(&batch, &[]).await.unwrap().into_iter().flatten().collect();
    let new_writer = ClickHouseEvents::open(&url, Role::Writer).await.unwrap();
    new_writer.set_touchpoints(&[(ids[0], Some(9))]).await.unwrap();
    let refused = old.set_touchpoints(&[(ids[0], Some(7)), (ids[1], Some(7))]).await.unwrap_err().to_string();
    assert!(refused.contains("another node took over"), "{refused}");
    let points = new_writer.scan_points(1, 0, None, 10).await.unwrap();
    assert_eq!(points.iter().map(|p| (p.0, p.3)).collect::<Vec<_>>(), [(ids[0], 9), (ids[1], 5)]);
}

/// Re-classification is an overlay mapped at query time: the readers see the newest
/// touchpoint (or none), volumes follow, and the stored rows keep the one they had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclassification_is_mapped_at_query_time_not_rewritten() {
    let Some((s, _)) = events_alone().await else { return };
    let batch: Vec<NewEvent> =
        (0..3).map(|i| new(1, 1, Some(5), event(&format!("m{i}"), "u", "2026-11-02T10:00:00Z"))).collect();
    let ids: Vec<i64> = s.append_events(&batch, &[]).await.unwrap().into_iter().flatten().collect();
    s.set_touchpoints(&[(ids[0], Some(9)), (ids[1], None)]).await.unwrap();
    s.set_touchpoints(&[(ids[0], Some(11))]).await.unwrap();
    let points = s.scan_points(1, 0, None, 10).await.unwrap();
    assert_eq!(points.iter().map(|p| (p.0, p.3)).collect::<Vec<_>>(), [(ids[0], 11), (ids[2], 5)]);
    let day = s.scan_events(Some(1), 0, 1).await.unwrap()[0].timestamp.div_euclid(86_400_000);
    let volume: Vec<(i64, i64)> =
        s.daily_volume(1, day, day).await.unwrap().iter().map(|v| (v.touchpoint_id, v.events)).collect();
    assert_eq!(volume, [(0, 1), (5, 1), (11, 1)]);
    let stored = count(&s, "SELECT toInt64(countIf(touchpoint = 5)) AS n FROM events").await;
    assert_eq!(stored, 3, "history is not rewritten");
}

/// An erasure on ClickHouse: after it no row of alice is left in any table, the data parts
/// the mutations replaced have left the disk (the receipt's purge), and new events for
/// her ids are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_leaves_no_row_in_any_table() {
    let Some(s) = split().await else { return };
    let sc = touchpoint_store_conformance::erasure_scenario(&s).await;
    let receipt = s.erase_customer(sc.alice).await.unwrap();
    assert!(receipt.verified && receipt.purge.purged, "{receipt:?}");
    assert!(receipt.purge.steps.iter().any(|st| st.contains("replaced data parts removed")), "{:?}", receipt.purge);
    let ch = s.events.http();
    let customers = format!("{}, {}", sc.alice, sc.alice_merged);
    let marker = quote_sql(&sc.marker);
    let hex_marker = quote_sql(&hex::encode_upper(sc.marker.as_bytes()));
    for (what, sql) in [
        ("alice's events", format!("SELECT toInt64(count()) AS n FROM events WHERE customer IN ({customers})")),
        (
            "her user id",
            format!(
                "SELECT toInt64(count()) AS n FROM events WHERE project = {} AND user_id = {}",
                sc.project,
                quote_sql(&sc.alice_user)
            ),
        ),
        (
            "the marker in an event",
            format!("SELECT toInt64(count()) AS n FROM events WHERE position(body, {marker}) > 0"),
        ),
        (
            "the marker in a failed event",
            format!("SELECT toInt64(count()) AS n FROM failed_events WHERE position(upper(raw_hex), {hex_marker}) > 0"),
        ),
        (
            "her messageIds",
            "SELECT toInt64(count()) AS n FROM message_ids WHERE id NOT IN (SELECT id FROM events)".to_string(),
        ),
    ] {
        assert_eq!(ch.number(&sql).await.unwrap(), 0, "{what} left after the erasure");
    }
    assert!(
        ch.number(&format!("SELECT toInt64(count()) AS n FROM events WHERE project = {}", sc.project)).await.unwrap()
            > 0
    );
    // A new event with her user id is refused, not stored.
    let e = event("after-erasure", &sc.alice_user, "2026-11-05T10:00:00Z");
    let ids = s.events.append_events(&[new(sc.project, sc.alice, Some(3), e)], &[]).await.unwrap();
    assert_eq!(ids, [None]);
}

fn quote_sql(s: &str) -> String {
    touchpoint_store_clickhouse::http::quote(s)
}

/// Two shards: the suite's many-events data lands on both, each customer's events on the
/// one its id hashes to, and the merged reads see them all in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_events_lie_on_one_shard() {
    let Some(url) = testing::fresh_sharded_url() else { return };
    let s = ClickHouseEvents::open(&url, Role::Writer).await.unwrap();
    let batch: Vec<NewEvent> = (0..200)
        .map(|i| new(1, 1 + i % 20, Some(3), event(&format!("m{i}"), &format!("u{}", i % 20), "2026-11-02T10:00:00Z")))
        .collect();
    s.append_events(&batch, &[]).await.unwrap();
    #[derive(serde::Deserialize)]
    struct Row {
        customer: i64,
    }
    let mut on = vec![];
    for (i, shard) in s.shards().iter().enumerate() {
        let rows: Vec<Row> = shard.rows("SELECT customer FROM events").await.unwrap();
        assert!(rows.len() > 20, "shard {i} holds {} events", rows.len());
        assert!(rows.iter().all(|r| touchpoint_store_clickhouse::shard_of(r.customer, 2) == i), "shard {i}");
        on.push(rows.len());
    }
    assert_eq!(on.iter().sum::<usize>(), 200);
    let all = s.scan_events(Some(1), 0, 1000).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>(), "merged in id order");
    let page = s.scan_events(Some(1), 50, 10).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), (51..=60).collect::<Vec<_>>());
    assert_eq!(s.count_events(1).await.unwrap(), 200);
    assert_eq!(s.event_id_range(1).await.unwrap(), Some((1, 200)));
}

/// A shard killed with SIGKILL under traffic and restarted: the writes that reach it fail
/// (not acknowledged), the client retries, and every event is stored exactly once, on its
/// customer's shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_killed_under_traffic_loses_and_doubles_nothing() {
    use touchpoint_store::writer::{Submission, Writer, WriterConfig};
    use touchpoint_store::MetaStore;
    let Some(first) = testing::shared() else { return };
    let Some(pg) = touchpoint_store_postgres::testing::fresh_database().await else { return };
    let mut second = testing::ChServer::start().expect("a second ClickHouse server");
    let url = format!("{},{}", first.fresh_url(), second.fresh_url());
    let meta = PgMetaStore::connect(&pg, &PgOptions::default()).await.unwrap();
    let events = ClickHouseEvents::open(&url, Role::Writer).await.unwrap();
    let store = Arc::new(SplitStore::open(meta, Arc::new(events)).await.unwrap());
    let p = store.create_project("p", &touchpoint_core::catalog::default_catalog()).await.unwrap().id;
    let (writer, _task) = Writer::start(store.clone(), WriterConfig::default(), None).await.unwrap();
    let (mut failures, mut crashed, mut sent) = (0, false, 0);
    for b in 0..30 {
        let batch: Vec<Event> = (0..25)
            .map(|i| event(&format!("b{b}-{i}"), &format!("u{}", (b * 7 + i) % 60), "2026-11-02T10:00:00Z"))
            .collect();
        if b == 10 {
            second.crash();
            crashed = true;
        }
        loop {
            match writer.submit_wait(Submission { project: p, events: batch.clone(), failed: vec![] }).await {
                Ok(_) => break,
                Err(_) => {
                    failures += 1;
                    if crashed && failures >= 3 {
                        second.restart();
                        crashed = false;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        sent += batch.len();
    }
    assert!(failures >= 3, "the crash failed writes: {failures}");
    assert_eq!(store.count_events(p).await.unwrap(), sent as i64, "every event once");
    let all = store.scan_events(Some(p), 0, 10_000).await.unwrap();
    let ids: std::collections::HashSet<&str> = all.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids.len(), sent, "no messageId twice");
    for (i, shard) in store.events.shards().iter().enumerate() {
        let n = shard.number("SELECT toInt64(count()) AS n FROM events").await.unwrap();
        assert!(n > 0, "shard {i} holds events");
    }
}
