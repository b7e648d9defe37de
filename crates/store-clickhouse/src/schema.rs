//! The tables of the ClickHouse event store, made when missing (`CREATE … IF NOT EXISTS`,
//! so two nodes starting together both succeed). Written for ClickHouse 18.16 (Debian's)
//! and current releases alike: no `DateTime64`, no `LowCardinality`, no query parameters.
//!
//! - `events`: one row per stored event, `ReplacingMergeTree` ordered by
//!   `(project, customer, ts, message_id)` and partitioned by the month of the event, so a
//!   customer's events lie together and a row written twice with the same key (a batch
//!   retried after a failed insert) collapses at the next merge. `touchpoint` is the id the
//!   event had when it was stored (0: none); re-classification does not rewrite it.
//! - `message_ids`: `(project, message_id) → id`, what dedup looks up before a write,
//!   ordered by its key so a lookup reads a few granules.
//! - `reclassified`: `(id, touchpoint, version)`, the touchpoint an event has since a
//!   re-classification; readers take the newest version per id (`argMax`) and fall back
//!   to the stored one, so history is mapped at query time instead of rewritten.
//! - `failed_events`: rejected events with their raw bytes in hex (they need not be UTF-8).
//! - `refused`: how many events this store's writes refused per project (suppression).
//! - `copy_progress`: the checkpoints of a copy from an embedded store (`touchpoint
//!   migrate`): the highest id copied, and `i64::MAX` once the copy is verified.
//! - `writer_fence`: the epoch of each writer that took over, one row each. A writer
//!   writes `events`, `message_ids`, `reclassified`, `failed_events` and `refused`
//!   through `<table>_in` (a `Null` table, with the writer's epoch in a `writer` column)
//!   and a materialized view that passes a block on only while no newer epoch is in the
//!   fence, decided by the server as the block arrives: an `INSERT` of a writer that was
//!   frozen mid-write and runs again after another node took over stores nothing (and its
//!   writer learns so from the fence after the insert, so it acknowledges nothing).
//!
//! `old_parts_lifetime` is a few seconds instead of eight minutes, so that the data parts
//! an erasure's mutation replaced leave the disk soon after it ([`crate::ClickHouseEvents`]'s
//! purge waits for them). The cost: a power failure within those seconds of a merge may
//! lose the merged part's unsynced pages (a process crash does not).

/// Seconds ClickHouse keeps a replaced data part on disk.
pub const OLD_PARTS_LIFETIME_S: u32 = 5;

/// The statements that make the tables.
pub fn create_tables() -> Vec<String> {
    let settings = format!("SETTINGS index_granularity = 8192, old_parts_lifetime = {OLD_PARTS_LIFETIME_S}");
    let mut tables = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS events ({EVENTS_COLUMNS}) ENGINE = ReplacingMergeTree()
            PARTITION BY toYYYYMM(toDateTime(least(greatest(intDiv(ts, 1000), 0), 4294967295)))
            ORDER BY (project, customer, ts, message_id) {settings}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS message_ids ({MESSAGE_IDS_COLUMNS})
            ENGINE = ReplacingMergeTree() ORDER BY (project, message_id) {settings}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS reclassified ({RECLASSIFIED_COLUMNS})
            ENGINE = ReplacingMergeTree(version) ORDER BY id {settings}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS failed_events ({FAILED_COLUMNS}) ENGINE = MergeTree() ORDER BY (project, id) {settings}"
        ),
        format!("CREATE TABLE IF NOT EXISTS refused ({REFUSED_COLUMNS}) ENGINE = MergeTree() ORDER BY project {settings}"),
        format!("CREATE TABLE IF NOT EXISTS copy_progress (upto Int64) ENGINE = MergeTree() ORDER BY upto {settings}"),
        format!("CREATE TABLE IF NOT EXISTS writer_fence (epoch UInt64) ENGINE = MergeTree() ORDER BY epoch {settings}"),
    ];
    for (table, columns) in FENCED {
        let names: Vec<&str> = columns.split(',').filter_map(|c| c.split_whitespace().next()).collect();
        let names = names.join(", ");
        tables.push(format!("CREATE TABLE IF NOT EXISTS {table}_in ({columns}, writer UInt64) ENGINE = Null"));
        tables.push(format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_fenced TO {table} AS
             SELECT {names} FROM {table}_in WHERE writer >= (SELECT max(epoch) FROM writer_fence)"
        ));
    }
    tables
}

/// The tables a writer writes through the fence (see the module documentation), with
/// their columns.
const FENCED: [(&str, &str); 5] = [
    ("events", EVENTS_COLUMNS),
    ("message_ids", MESSAGE_IDS_COLUMNS),
    ("reclassified", RECLASSIFIED_COLUMNS),
    ("failed_events", FAILED_COLUMNS),
    ("refused", REFUSED_COLUMNS),
];

/// The columns of `events`.
const EVENTS_COLUMNS: &str = "project Int64, id Int64, message_id String, kind String, name Nullable(String), \
    user_id Nullable(String), anonymous_id Nullable(String), customer Int64, touchpoint Int64, ts Int64, \
    received_at Int64, flags UInt32, body String";
/// The columns of `message_ids`.
const MESSAGE_IDS_COLUMNS: &str = "project Int64, message_id String, id Int64";
/// The columns of `reclassified`.
const RECLASSIFIED_COLUMNS: &str = "id Int64, touchpoint Int64, version UInt64";
/// The columns of `failed_events`.
const FAILED_COLUMNS: &str =
    "project Int64, id Int64, received_at Int64, source String, field String, reason String, raw_hex String, raw_len UInt64";
/// The columns of `refused`.
const REFUSED_COLUMNS: &str = "project Int64, n UInt64";

/// The stored events with their current touchpoints, as a subquery: the columns of
/// `events` with `touchpoint` replaced by the newest re-classification of the event, if
/// any. `filter` is a condition on `events`' own columns, applied before the join.
pub fn events_view(filter: &str) -> String {
    overlaid(
        "project, id, message_id, kind, name, user_id, anonymous_id, customer",
        "ts, received_at, flags, body",
        filter,
    )
}

/// The same with only what a journey is made of: `id`, `customer`, the current
/// `touchpoint` and `ts`. Reading the bodies and the ids' strings would cost more than
/// the rest of a journey query.
pub fn points_view(filter: &str) -> String {
    overlaid("id, customer", "ts", filter)
}

/// [`points_view`], or `events` as they are when `overlay` is false (no event was
/// re-classified).
pub fn points(filter: &str, overlay: bool) -> String {
    if overlay {
        points_view(filter)
    } else {
        format!("(SELECT id, customer, touchpoint, ts FROM events WHERE {filter})")
    }
}

/// `before`, the current touchpoint, `after`, of the rows of `events` that pass `filter`.
/// The rows no re-classification names are read as they are, and only the others are
/// joined to the overlay: a join over every row took twice as long as the query without it
/// (5 M events on 18.16). The joined subqueries are named: current releases refuse them
/// otherwise.
fn overlaid(before: &str, after: &str, filter: &str) -> String {
    format!(
        "(SELECT {before}, touchpoint, {after} FROM events
          WHERE ({filter}) AND id NOT IN (SELECT id FROM reclassified)
          UNION ALL
          SELECT {before}, r_touchpoint AS touchpoint, {after}
          FROM (SELECT {before}, {after} FROM events WHERE ({filter}) AND id IN (SELECT id FROM reclassified)) AS stored
          ANY INNER JOIN (SELECT id, argMax(touchpoint, version) AS r_touchpoint FROM reclassified GROUP BY id) AS overlay
          USING id)"
    )
}
