//! Erasure on the embedded store's real files: after a customer is erased, no file in the
//! data directory (the database, its write-ahead log and shared-memory index, the lock)
//! holds their marker or ids as bytes, while every other event reads back as it was; a
//! repeat of an erased event is refused even after the dedup window forgot it and after a
//! restart; an erasure cut short is finished when the store opens; a second process cannot
//! erase under a running writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, IdentityKind, Limits};
use touchpoint_store::{EventStore, ListenStore, MetaStore, NewEvent, Store, StoreError};
use touchpoint_store_conformance::erasure_scenario;
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` whose bytes contain `needle`.
fn files_with(dir: &Path, needle: &str) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|f| std::fs::read(f).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn open_options() -> SqliteOptions {
    // A small page cache: pages go to the files early, as on a big store.
    SqliteOptions { cache_mib: 1, ..Default::default() }
}

#[tokio::test]
async fn no_file_in_the_data_directory_keeps_an_erased_customer() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let s = Arc::new(SqliteStore::open(&dir, OpenMode::Writer, &open_options()).await.unwrap());
    let sc = erasure_scenario(&*s).await;
    let (p, q) = (sc.project, sc.other_project);
    let unique = [sc.marker.as_str(), sc.alice_cookies[0].as_str(), sc.alice_cookies[1].as_str()];
    // Else the checks below would prove nothing: before, the files hold them (the WAL
    // included: it has not been checkpointed yet).
    for needle in unique.iter().chain([&sc.alice_user.as_str()]) {
        assert!(!files_with(&dir, needle).is_empty(), "{needle} is in no file before the erasure");
    }
    assert!(files(&dir).iter().any(|f| f.to_string_lossy().ends_with("-wal")), "a write-ahead log exists");
    let before = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    let kept: Vec<_> = before.iter().filter(|e| !sc.is_alices(e)).cloned().collect();
    let alices = before.len() - kept.len();
    assert!(before.len() > 3 * 2048 && alices > 500);

    let receipt = s.erase_customer(sc.alice).await.unwrap();
    assert!(receipt.verified, "{receipt:#?}");
    assert_eq!(receipt.removed.events, alices as u64);
    for needle in unique {
        assert_eq!(files_with(&dir, needle), Vec::<String>::new(), "{needle} is still in a file");
    }
    // Her user id is also a customer's of the other project: erase that one too, then it
    // is in no file either.
    let theirs = s.find_identity(q, IdentityKind::User, &sc.alice_user).await.unwrap().unwrap();
    assert!(s.erase_customer(theirs).await.unwrap().verified);
    assert_eq!(files_with(&dir, &sc.alice_user), Vec::<String>::new(), "her user id is still in a file");

    // Everyone else's events are all there, whole, with their ids.
    let after = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    assert!(after == kept, "other events changed");
    assert_eq!(s.count_events(p).await.unwrap(), (before.len() - alices) as i64);
    assert_eq!(s.count_events(q).await.unwrap(), 0);
    for e in kept.iter().step_by(97) {
        let timeline = s.customer_events(&[e.customer_id], None, usize::MAX).await.unwrap();
        assert!(timeline.iter().any(|t| t == e), "event {} is not on its customer's timeline", e.id);
    }

    // And so after a restart: the files are consistent, nothing comes back.
    drop(s);
    for needle in unique.iter().chain([&sc.alice_user.as_str()]) {
        assert_eq!(files_with(&dir, needle), Vec::<String>::new(), "{needle} is in a file after closing");
    }
    let s = SqliteStore::open(&dir, OpenMode::Writer, &open_options()).await.unwrap();
    assert!(s.scan_events(Some(p), 0, usize::MAX).await.unwrap() == kept);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(s.pool()).await.unwrap();
    assert_eq!(integrity, "ok");
    let responses = s.responses(p, Default::default(), 0, 100).await.unwrap();
    assert!(responses.iter().all(|r| r.response.customer.as_deref() == Some("user-1")));
}

fn ev(project: i64, mid: &str, user: &str, customer: i64) -> NewEvent {
    let v = serde_json::json!({"type":"track","messageId":mid,"userId":user,"event":"A","timestamp":"2026-03-01T10:00:00Z"});
    let cx = ParseContext { received_at: 1_790_000_000_000, ..Default::default() };
    NewEvent { project, event: Event::parse(v, &cx, &Limits::default()).unwrap(), customer, touchpoint: Some(1) }
}

/// The dedup window is bounded: an erased event it no longer remembers would be stored
/// again if it were sent again. Suppression refuses it, before and after a restart.
#[tokio::test]
async fn a_repeat_of_an_erased_event_is_refused_whatever_the_dedup_window() {
    let dir = tempfile::tempdir().unwrap();
    let small = SqliteOptions { dedup_window: Some(500), ..Default::default() };
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &small).await.unwrap();
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = s.load_identity_graph().await.unwrap();
    let mut ops = vec![];
    let zoe = g.resolve(p, Some("zoe-4411"), None, &mut ops);
    let yan = g.resolve(p, Some("yan"), None, &mut ops);
    s.apply_identity(&ops, &[]).await.unwrap();
    let early: Vec<NewEvent> = (0..300).map(|i| ev(p, &format!("z{i}"), "zoe-4411", zoe)).collect();
    s.append_events(&early, &[]).await.unwrap();
    for k in 0..6 {
        let batch: Vec<NewEvent> = (0..500).map(|i| ev(p, &format!("y{k}-{i}"), "yan", yan)).collect();
        s.append_events(&batch, &[]).await.unwrap();
    }
    let remembered = s.remembered(p).await;
    assert!(remembered < 3300, "zoe's events fell out of the window: {remembered}");

    assert!(s.erase_customer(zoe).await.unwrap().verified);
    assert_eq!(s.count_events(p).await.unwrap(), 3000);
    assert_eq!(s.append_events(&early[..10], &[]).await.unwrap(), vec![None; 10], "refused, not stored again");
    drop(s);
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &small).await.unwrap();
    assert_eq!(s.append_events(&early[10..20], &[]).await.unwrap(), vec![None; 10], "after a restart too");
    assert_eq!(s.count_events(p).await.unwrap(), 3000);
    assert_eq!(s.suppression_stats(p).await.unwrap().refused_events, 20);
    assert!(s.append_events(&[ev(p, "y-new", "yan", yan)], &[]).await.unwrap()[0].is_some());
}

/// A crash between an erasure's removal and its purge leaves `purge_pending` set: the next
/// writer to open the store purges first.
#[tokio::test]
async fn an_unfinished_purge_is_finished_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = s.load_identity_graph().await.unwrap();
    let mut ops = vec![];
    let c = g.resolve(p, Some("quinn-8e2f"), None, &mut ops);
    s.apply_identity(&ops, &[]).await.unwrap();
    s.append_events(&[ev(p, "m1", "quinn-8e2f", c)], &[]).await.unwrap();
    // The removal steps of an erasure, without the purge (as if the process died there).
    let subject = s.subject(c).await.unwrap().unwrap();
    s.suppress(p, &subject.values).await.unwrap();
    assert_eq!(s.erase_subject_events(&subject).await.unwrap().events, 1);
    s.erase_subject_meta(&subject).await.unwrap();
    let pending = |s: &SqliteStore| {
        let pool = s.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT value FROM erasure_state WHERE name = 'purge_pending'")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(pending(&s).await, 1);
    drop(s);
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    assert_eq!(pending(&s).await, 0, "purged at open");
    assert_eq!(files_with(dir.path(), "quinn-8e2f"), Vec::<String>::new());
}

/// A shared handle (the CLI beside a server) may not erase while a writer runs: the
/// writer's identity graph would still hold the customer.
#[tokio::test]
async fn a_shared_handle_cannot_erase_under_a_running_writer() {
    let dir = tempfile::tempdir().unwrap();
    let w = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let p = w.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = w.load_identity_graph().await.unwrap();
    let mut ops = vec![];
    let c = g.resolve(p, Some("rita"), None, &mut ops);
    w.apply_identity(&ops, &[]).await.unwrap();
    let shared = SqliteStore::open(dir.path(), OpenMode::Shared, &SqliteOptions::default()).await.unwrap();
    let err = shared.erase_customer(c).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(w.customer(c).await.unwrap().is_some(), "nothing was erased");
    drop(w);
    assert!(shared.erase_customer(c).await.unwrap().verified, "with the writer gone it may");
}

/// Files written before `secure_delete` was on (or pages SQLite rebuilt, which can keep
/// stale copies of moved rows) hold old versions of rows in free space: the erasure's
/// rebuild of the file removes those too.
#[tokio::test]
async fn old_versions_of_rows_left_in_free_space_are_purged_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = s.load_identity_graph().await.unwrap();
    let mut ops = vec![];
    let c = g.resolve(p, Some("olga"), None, &mut ops);
    s.apply_identity(&ops, &[]).await.unwrap();
    // As an older version of the store would have: the marker in a trait, then the trait
    // rewritten (the row moves), with secure_delete off.
    let marker = "zq-old-trait-5d0c";
    let mut conn = s.pool().acquire().await.unwrap();
    sqlx::query("PRAGMA secure_delete = OFF").execute(&mut *conn).await.unwrap();
    sqlx::query("UPDATE customers SET traits = json_object('note', ?) WHERE id = ?")
        .bind(marker)
        .bind(c)
        .execute(&mut *conn)
        .await
        .unwrap();
    // Another customer's row after hers, so that her old row is not the page's last.
    let mut ops = vec![];
    g.resolve(p, Some("pete"), None, &mut ops);
    s.apply_identity(&ops, &[]).await.unwrap();
    sqlx::query(
        "UPDATE customers SET traits = json_object('note', 'changed', 'bio', printf('%.500c', 'x')) WHERE id = ?",
    )
    .bind(c)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await.unwrap();
    sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await.unwrap();
    drop(conn);
    assert_eq!(files_with(dir.path(), marker), ["touchpoint.db"], "the old version is in free space");
    assert!(s.customer(c).await.unwrap().unwrap().traits.get("bio").is_some());

    assert!(s.erase_customer(c).await.unwrap().verified);
    assert_eq!(files_with(dir.path(), marker), Vec::<String>::new());
}
