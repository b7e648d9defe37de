//! The embedded SQLite backend against the conformance suite, on real files.

use std::sync::Arc;
use touchpoint_store::sqlite::{OpenMode, SqliteOptions, SqliteStore};
use touchpoint_store::Store;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let root = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    touchpoint_store::conformance::run_all(|| {
        let dir = root.path().join(counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst).to_string());
        async move {
            let s = SqliteStore::open(&dir, OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
            Arc::new(s) as Arc<dyn Store>
        }
    })
    .await;
}

#[tokio::test]
async fn a_second_writer_is_refused_and_readers_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let _w = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let err = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("in use by another touchpoint process"), "{err}");
    SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
        use touchpoint_store::MetaStore;
        s.create_project("keep", &touchpoint_core::catalog::default_catalog()).await.unwrap();
    }
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    use touchpoint_store::MetaStore;
    assert!(s.project_by_name("keep").await.unwrap().is_some());
}
