//! Which store a node opens, from the configuration: by default the embedded SQLite store
//! in the data directory (everything in one file); with `meta_store` set to a PostgreSQL
//! URL, the metadata on that server and the events still in the embedded store in the
//! data directory ([`touchpoint_store_postgres::SplitStore`], whose documentation gives
//! what a group commit guarantees across the two). [`open_store`] opens the data
//! directory as the writer (its lock keeps a second writing process out);
//! [`open_shared_store`] opens the same store for administration beside it.

use crate::Config;
use std::sync::Arc;
use touchpoint_store::{Store, StoreError};
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

/// The values `event_store` takes, for messages.
pub const SUPPORTED_EVENTS: &str =
    "leave event_store unset (or set it to `embedded`) for the embedded event store in the data directory; \
     it is the only event store so far";

/// Read [`Config::event_store`]: the embedded event store is the only one so far, so any
/// other value is an error that says so (and never repeats the URL).
pub fn event_backend(event_store: Option<&str>) -> Result<(), StoreError> {
    match event_store.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("embedded") => Ok(()),
        Some(url) => {
            let what = match url.split_once("://") {
                Some((scheme, _)) => format!("event_store: unsupported URL scheme {:?}", scheme.to_ascii_lowercase()),
                None => "event_store: not `embedded` nor a URL".to_string(),
            };
            Err(StoreError::Backend(format!("{what}; {SUPPORTED_EVENTS}")))
        }
    }
}

/// Open the store the configuration names (see the module documentation), with dedup
/// remembering `dedup_window` events per project (`None`: every stored event).
pub async fn open_store(config: &Config, dedup_window: Option<usize>) -> Result<Arc<dyn Store>, StoreError> {
    let backend = meta_backend(config.meta_store.as_deref())?;
    event_backend(config.event_store.as_deref())?;
    let options = SqliteOptions { durable: config.durable, cache_mib: config.cache_mib, dedup_window };
    // The data directory first: its lock says whether another process writes here.
    let events = SqliteStore::open(&config.data_dir, OpenMode::Writer, &options).await?;
    match backend {
        MetaBackend::Embedded => Ok(Arc::new(events)),
        MetaBackend::Postgres(url) => {
            let meta = PgMetaStore::connect(&url, &PgOptions::default()).await?;
            tracing::info!("metadata on PostgreSQL, events in {}", config.data_dir.display());
            Ok(Arc::new(SplitStore::open(meta, Arc::new(events)).await?))
        }
    }
}

/// Open the configured store for administration and reading beside a running writer
/// (what the CLI's `project`, `key`, catalog and survey commands need): the embedded store
/// without the writer's lock, joined to PostgreSQL when `meta_store` names it. Erasing
/// through such a handle takes the data directory's lock (refused while a writer runs).
pub async fn open_shared_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let backend = meta_backend(config.meta_store.as_deref())?;
    event_backend(config.event_store.as_deref())?;
    let options = SqliteOptions { durable: true, cache_mib: 16, ..Default::default() };
    let events = SqliteStore::open(&config.data_dir, OpenMode::Shared, &options).await?;
    match backend {
        MetaBackend::Embedded => Ok(Arc::new(events)),
        MetaBackend::Postgres(url) => {
            let meta = PgMetaStore::connect(&url, &PgOptions { max_connections: 2, ..Default::default() }).await?;
            Ok(Arc::new(SplitStore::shared(meta, Arc::new(events)).await?))
        }
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
    fn the_embedded_event_store_is_the_only_one_so_far() {
        for ok in [None, Some(""), Some("embedded"), Some(" Embedded ")] {
            assert!(event_backend(ok).is_ok(), "{ok:?}");
        }
        let e = event_backend(Some("clickhouse://u:secret@ch:8123/tp")).unwrap_err().to_string();
        assert!(e.contains("\"clickhouse\"") && e.contains("embedded") && !e.contains("secret"), "{e}");
        let e = event_backend(Some("embeded")).unwrap_err().to_string();
        assert!(e.contains("not `embedded`") && e.contains("event_store"), "{e}");
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
