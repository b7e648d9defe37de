//! Which store a node opens, from the configuration: by default the embedded SQLite store
//! in the data directory (everything in one file); with `meta_store` set to a PostgreSQL
//! URL, the metadata on that server and the events still in the embedded store in the
//! data directory ([`touchpoint_store_postgres::SplitStore`], whose documentation gives
//! what a group commit guarantees across the two); with `event_store` set to a ClickHouse
//! URL as well, the events on ClickHouse (`touchpoint_store_clickhouse`). [`open_store`] opens the data
//! directory as the writer (its lock keeps a second writing process out);
//! [`open_shared_store`] opens the same store for administration beside it.

use crate::{cluster, Config};
use std::sync::Arc;
use touchpoint_store::{Store, StoreError};
use touchpoint_store_clickhouse::{ClickHouseEvents, Role};
use touchpoint_store_postgres::{PgMetaStore, PgOptions, SplitStore};
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

/// Where the metadata goes, as [`Config::meta_store`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaBackend {
    /// The embedded store in the data directory (no `meta_store`, or an empty one).
    Embedded,
    /// A PostgreSQL database at this URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

/// The URL schemes `meta_store` takes, for messages.
pub const SUPPORTED: &str = "postgres:// or postgresql:// (PostgreSQL); leave meta_store unset for the embedded store";

/// Read [`Config::meta_store`]. An unknown scheme is an error that names the supported
/// ones (and never repeats the URL, which may hold a password).
pub fn meta_backend(meta_store: Option<&str>) -> Result<MetaBackend, StoreError> {
    let Some(url) = meta_store.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(MetaBackend::Embedded) };
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(MetaBackend::Postgres(url.to_string())),
        Some(other) => {
            Err(StoreError::Backend(format!("meta_store: unsupported URL scheme {other:?}; supported: {SUPPORTED}")))
        }
        None => Err(StoreError::Backend(format!("meta_store is not a URL (scheme://…); supported: {SUPPORTED}"))),
    }
}

/// Where the events go, as [`Config::event_store`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBackend {
    /// The embedded store in the data directory (no `event_store`, or `embedded`).
    Embedded,
    /// A ClickHouse server at this URL (`clickhouse://`, or `http://` / `https://` to its
    /// HTTP port), with the metadata on PostgreSQL.
    ClickHouse(String),
}

/// The values `event_store` takes, for messages.
pub const SUPPORTED_EVENTS: &str =
    "leave event_store unset (or set it to `embedded`) for the embedded event store in the data directory, \
     or give a ClickHouse URL: clickhouse://[user[:password]@]host[:port][/database] (or http:// or https://)";

/// Read [`Config::event_store`]. Anything else is an error that names what is taken (and
/// never repeats the URL, which may hold a password).
pub fn event_backend(event_store: Option<&str>) -> Result<EventBackend, StoreError> {
    match event_store.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(EventBackend::Embedded),
        Some(v) if v.eq_ignore_ascii_case("embedded") => Ok(EventBackend::Embedded),
        Some(url) => {
            let what = match url.split_once("://") {
                Some((scheme, _)) => match scheme.to_ascii_lowercase().as_str() {
                    "clickhouse" | "http" | "https" => {
                        // Read it now, so that a bad database name is an error at start.
                        touchpoint_store_clickhouse::http::parse_shards(url)?;
                        return Ok(EventBackend::ClickHouse(url.to_string()));
                    }
                    other => format!("event_store: unsupported URL scheme {other:?}"),
                },
                None => "event_store: not `embedded` nor a URL".to_string(),
            };
            Err(StoreError::Backend(format!("{what}; {SUPPORTED_EVENTS}")))
        }
    }
}

/// The backends the configuration names, checked together: events on ClickHouse need the
/// metadata on PostgreSQL.
fn backends(config: &Config) -> Result<(MetaBackend, EventBackend), StoreError> {
    let meta = meta_backend(config.meta_store.as_deref())?;
    let events = event_backend(config.event_store.as_deref())?;
    if meta == MetaBackend::Embedded && matches!(events, EventBackend::ClickHouse(_)) {
        return Err(StoreError::Backend(
            "event_store on ClickHouse needs meta_store on PostgreSQL (postgres://…): customers, identities and \
             the catalog are shared by every node there"
                .into(),
        ));
    }
    Ok((meta, events))
}

/// Where a node keeps its data, for people: "data in DIR", or which servers hold what
/// (without user names or passwords).
pub fn describe(config: &Config) -> String {
    let dir = config.data_dir.display();
    let host = |url: &str| {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest.rsplit_once('@').map_or(rest, |(_, h)| h).split('?').next().unwrap_or("").to_string()
    };
    match backends(config) {
        Ok((MetaBackend::Embedded, _)) | Err(_) => format!("data in {dir}"),
        Ok((MetaBackend::Postgres(m), EventBackend::Embedded)) => {
            format!("metadata on PostgreSQL at {}, events in {dir}", host(&m))
        }
        Ok((MetaBackend::Postgres(m), EventBackend::ClickHouse(e))) => {
            let shards: Vec<String> = e.split(',').map(str::trim).filter(|u| !u.is_empty()).map(host).collect();
            match shards.len() {
                1 => format!("metadata on PostgreSQL at {}, events on ClickHouse at {}", host(&m), shards[0]),
                n => format!(
                    "metadata on PostgreSQL at {}, events on {n} ClickHouse shards: {}",
                    host(&m),
                    shards.join(", ")
                ),
            }
        }
    }
}

/// Open the store a serving node uses, and its part in a cluster: as [`open_store`], but
/// with the events on ClickHouse a node that finds another writing to the same database
/// joins it as a relaying node ([`crate::cluster`]) instead of stopping; the node holding
/// the writer lock is [`cluster::Role::Writer`].
pub async fn open_node_store(
    config: &Config,
    dedup_window: Option<usize>,
) -> Result<(Arc<dyn Store>, Option<cluster::Role>), StoreError> {
    let (MetaBackend::Postgres(meta_url), EventBackend::ClickHouse(url)) = backends(config)? else {
        return Ok((open_store(config, dedup_window).await?, None));
    };
    let (store, role) = open_clickhouse_node(&meta_url, &url).await?;
    Ok((store, Some(role)))
}

/// How long after the last published commit a node that takes the writer lock waits
/// before it writes: longer than the previous writer's last write may take to finish once
/// it lost its lock.
const TAKEOVER_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// A node on PostgreSQL + ClickHouse: the writer if it can take the lock, else relaying.
async fn open_clickhouse_node(meta_url: &str, url: &str) -> Result<(Arc<dyn Store>, cluster::Role), StoreError> {
    let meta = PgMetaStore::connect(meta_url, &PgOptions::default()).await?;
    // Opened to read first: the writer's handle reconciles what a write cut short left,
    // which only the node holding the lock may do.
    let shared = ClickHouseEvents::open(url, Role::Shared).await?;
    match meta.try_hold_lock(&shared.writer_lock_name()).await? {
        Some(lock) => {
            drop(shared);
            // A node that lost its lock a moment ago may be finishing a write it began
            // while it held it: the first write here waits until that one is done (a writer
            // asks its lock before each write, `FENCE_FRESH` at most before it begins).
            if let Some(newest) = meta.log_newest_ms().await? {
                let wait = newest + TAKEOVER_GRACE.as_millis() as i64 - touchpoint_store::now_ms();
                if wait > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                }
            }
            let probe = lock.probe();
            let events = ClickHouseEvents::open(url, Role::Writer).await?.hold(Box::new(lock));
            tracing::info!("metadata on PostgreSQL, events on ClickHouse at {}; this node writes", events.url().base);
            let store = SplitStore::open(meta.clone(), Arc::new(events)).await?;
            Ok((Arc::new(store), cluster::Role::Writer(meta, probe)))
        }
        None => {
            tracing::info!("another node writes events to {}; this node relays to it", shared.url().base);
            let lock = shared.writer_lock_name();
            let store = SplitStore::shared(meta.clone(), Arc::new(shared)).await?;
            Ok((Arc::new(store), cluster::Role::Relaying(meta, lock)))
        }
    }
}

/// Open the store the configuration names (see the module documentation), with dedup
/// remembering `dedup_window` events per project (`None`: every stored event).
pub async fn open_store(config: &Config, dedup_window: Option<usize>) -> Result<Arc<dyn Store>, StoreError> {
    let (meta, events) = backends(config)?;
    match (meta, events) {
        (meta, EventBackend::Embedded) => {
            let options = SqliteOptions { durable: config.durable, cache_mib: config.cache_mib, dedup_window };
            // The data directory first: its lock says whether another process writes here.
            let events = SqliteStore::open(&config.data_dir, OpenMode::Writer, &options).await?;
            match meta {
                MetaBackend::Embedded => Ok(Arc::new(events)),
                MetaBackend::Postgres(url) => {
                    let meta = PgMetaStore::connect(&url, &PgOptions::default()).await?;
                    tracing::info!("metadata on PostgreSQL, events in {}", config.data_dir.display());
                    Ok(Arc::new(SplitStore::open(meta, Arc::new(events)).await?))
                }
            }
        }
        (MetaBackend::Postgres(meta_url), EventBackend::ClickHouse(url)) => {
            // One node writes to a database: the others relay to it, which only a serving
            // node does (`open_node_store`); anything else waits for it to stop.
            match open_clickhouse_node(&meta_url, &url).await? {
                (store, cluster::Role::Writer(..)) => Ok(store),
                _ => {
                    let url = touchpoint_store_clickhouse::http::parse_shards(&url)?.remove(0);
                    Err(StoreError::Locked(format!(
                        "another Touchpoint node writes events to the ClickHouse database {} at {}; serve beside \
                         it (a second `touchpoint serve` relays its writes to that node), or stop it first",
                        url.database, url.base
                    )))
                }
            }
        }
        (MetaBackend::Embedded, EventBackend::ClickHouse(_)) => unreachable!("refused by backends()"),
    }
}

/// Open the configured store for administration and reading beside a running writer
/// (what the CLI's `project`, `key`, catalog and survey commands need): the embedded store
/// without the writer's lock, joined to PostgreSQL when `meta_store` names it, or
/// PostgreSQL and ClickHouse. Erasing through such a handle takes the data directory's
/// lock when the events are there (refused while a writer runs).
pub async fn open_shared_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let (meta, events) = backends(config)?;
    let pg_options = PgOptions { max_connections: 2, ..Default::default() };
    match (meta, events) {
        (meta, EventBackend::Embedded) => {
            let options = SqliteOptions { durable: true, cache_mib: 16, ..Default::default() };
            let events = SqliteStore::open(&config.data_dir, OpenMode::Shared, &options).await?;
            match meta {
                MetaBackend::Embedded => Ok(Arc::new(events)),
                MetaBackend::Postgres(url) => {
                    let meta = PgMetaStore::connect(&url, &pg_options).await?;
                    Ok(Arc::new(SplitStore::shared(meta, Arc::new(events)).await?))
                }
            }
        }
        (MetaBackend::Postgres(meta_url), EventBackend::ClickHouse(url)) => {
            let meta = PgMetaStore::connect(&meta_url, &pg_options).await?;
            let events = ClickHouseEvents::open(&url, Role::Shared).await?;
            Ok(Arc::new(SplitStore::shared(meta, Arc::new(events)).await?))
        }
        (MetaBackend::Embedded, EventBackend::ClickHouse(_)) => unreachable!("refused by backends()"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::catalog::default_catalog;

    #[test]
    fn meta_store_urls_are_read_and_unknown_schemes_named() {
        assert_eq!(meta_backend(None).unwrap(), MetaBackend::Embedded);
        assert_eq!(meta_backend(Some("  ")).unwrap(), MetaBackend::Embedded);
        assert_eq!(
            meta_backend(Some("postgres://u:p@db:5432/tp")).unwrap(),
            MetaBackend::Postgres("postgres://u:p@db:5432/tp".into())
        );
        assert!(matches!(meta_backend(Some("PostgreSQL://db/tp")).unwrap(), MetaBackend::Postgres(_)));
        let e = meta_backend(Some("mysql://root:secret@db/tp")).unwrap_err().to_string();
        assert!(e.contains("\"mysql\"") && e.contains("postgres://") && e.contains("postgresql://"), "{e}");
        assert!(!e.contains("secret"), "the URL's password is not repeated: {e}");
        let e = meta_backend(Some("db.example.com")).unwrap_err().to_string();
        assert!(e.contains("not a URL") && e.contains("postgres://"), "{e}");
    }

    #[test]
    fn event_store_values_are_read_and_unknown_ones_named() {
        for ok in [None, Some(""), Some("embedded"), Some(" Embedded ")] {
            assert_eq!(event_backend(ok).unwrap(), EventBackend::Embedded, "{ok:?}");
        }
        for url in [
            "clickhouse://u:secret@ch:8123/tp",
            "http://ch:8123",
            "HTTPS://ch/tp",
            "clickhouse://a/tp,clickhouse://b/tp",
        ] {
            assert_eq!(event_backend(Some(url)).unwrap(), EventBackend::ClickHouse(url.into()));
        }
        let e = event_backend(Some("kafka://u:secret@k:9092/tp")).unwrap_err().to_string();
        assert!(e.contains("\"kafka\"") && e.contains("embedded") && e.contains("clickhouse://"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = event_backend(Some("clickhouse://u:secret@ch/tp;drop")).unwrap_err().to_string();
        assert!(e.contains("may hold only") && !e.contains("secret"), "{e}");
        let e = event_backend(Some("embeded")).unwrap_err().to_string();
        assert!(e.contains("not `embedded`") && e.contains("event_store"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clickhouse_events_with_postgres_metadata() {
        use touchpoint_store::writer::{Submission, Writer, WriterConfig};
        let Some(ch) = touchpoint_store_clickhouse::testing::fresh_url() else { return };
        let Some(pg) = touchpoint_store_postgres::testing::fresh_database().await else { return };
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            meta_store: Some(pg),
            event_store: Some(ch.clone()),
            ..Config::default()
        };
        let store = open_store(&config, None).await.unwrap();
        let p = store.create_project("scale", &default_catalog()).await.unwrap().id;
        let (writer, _task) = Writer::start(store.clone(), WriterConfig::default(), None).await.unwrap();
        let event = touchpoint_core::Event::parse(
            serde_json::json!({"type":"track","messageId":"m-1","userId":"u1","event":"Order Completed"}),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        for _ in 0..2 {
            writer.submit(Submission { project: p, events: vec![event.clone()], failed: vec![] }).await.unwrap();
        }
        let said = describe(&Config {
            event_store: Some("clickhouse://tp:secret@ch.example:8123/ev".into()),
            ..config.clone()
        });
        assert!(
            said.starts_with("metadata on PostgreSQL at 127.0.0.1:")
                && said.ends_with("events on ClickHouse at ch.example:8123/ev"),
            "{said}"
        );
        let admin = open_shared_store(&config).await.unwrap();
        assert_eq!(admin.count_events(p).await.unwrap(), 1, "a repeat is stored once, seen beside the writer");
        let err = open_store(&config, None).await.err().expect("a second writing node is refused");
        assert!(err.to_string().contains("another Touchpoint node writes events"), "{err}");
        // Erasing through the administration handle waits for the writer to stop: the
        // writer would not learn of it and keep taking the erased ids' events.
        let customer = admin.customers(p, 0, 10).await.unwrap()[0].id;
        let err = admin.erase_customer(customer).await.unwrap_err();
        assert!(err.to_string().contains("erase through it"), "{err}");
        assert!(!SqliteStore::exists(dir.path()), "nothing in the data directory");
        let events = ClickHouseEvents::open(&ch, Role::Shared).await.unwrap();
        let n = events.http().number(&format!("SELECT toInt64(count()) AS n FROM events WHERE project = {p}")).await;
        assert_eq!(n.unwrap(), 1, "the event is in ClickHouse");
        drop(writer);
        drop(store);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let receipt = admin.erase_customer(customer).await.unwrap();
        assert!(receipt.verified, "{receipt:?}");
        assert!(open_store(&config, None).await.is_ok(), "the next node writes once the first is gone");
    }

    #[tokio::test]
    async fn the_embedded_store_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let store = open_store(&config, None).await.unwrap();
        store.create_project("p", &default_catalog()).await.unwrap();
        assert!(SqliteStore::exists(dir.path()));
        drop(store);
        let config = Config { meta_store: Some("mysql://db/tp".into()), ..config };
        assert!(open_store(&config, None).await.is_err());
        let config = Config { meta_store: None, event_store: Some("clickhouse://ch/tp".into()), ..config };
        assert!(open_store(&config, None).await.is_err());
        assert!(open_shared_store(&config).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_postgres_url_keeps_metadata_there_and_events_here() {
        let Some(url) = touchpoint_store_postgres::testing::fresh_database().await else { return };
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), meta_store: Some(url.clone()), ..Config::default() };
        let store = open_store(&config, Some(1000)).await.unwrap();
        let p = store.create_project("split", &default_catalog()).await.unwrap();
        let err = open_store(&config, None).await.err().expect("a second writer is refused");
        assert!(err.to_string().contains("in use"), "{err}");
        // Administration beside the writer sees and changes the same metadata.
        let admin = open_shared_store(&config).await.unwrap();
        assert_eq!(admin.project_by_name("split").await.unwrap().map(|q| q.id), Some(p.id));
        let q = admin.create_project("beside", &default_catalog()).await.unwrap();
        assert_eq!(store.project(q.id).await.unwrap().map(|q| q.name), Some("beside".into()));
        drop(admin);
        drop(store);
        // The project is in PostgreSQL, not in the embedded store.
        let meta = PgMetaStore::connect(&url, &PgOptions::default()).await.unwrap();
        use touchpoint_store::MetaStore;
        assert_eq!(meta.project_by_name("split").await.unwrap().map(|q| q.id), Some(p.id));
        let embedded = SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
        assert!(embedded.project_by_name("split").await.unwrap().is_none());
    }
}
