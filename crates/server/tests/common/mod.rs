//! `spawn_app()`: a real Touchpoint server on port 0 over a real SQLite file in a temporary
//! directory, with one project and its keys, for the API tests. With
//! `TOUCHPOINT_TEST_META_STORE=postgres` the metadata goes to a real, throwaway PostgreSQL
//! instead (the events stay in the SQLite file): the same tests, the second backend; with
//! `TOUCHPOINT_TEST_EVENT_STORE=clickhouse` as well, the events go to a real, throwaway
//! ClickHouse server (the scale-out configuration).

#![allow(dead_code)]

use serde_json::Value;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::KeyKind;
use touchpoint_server::{Config, Node, Server};
use touchpoint_store::{issue_key, Store};
use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Write key of the test project.
    pub write_key: String,
    /// Secret key of the test project.
    pub secret_key: String,
    /// Server key of the test project (sends events whose e-mail addresses are believed).
    pub server_key: String,
    /// Write key of a second project.
    pub other_write_key: String,
    /// The store, for looking behind the API.
    pub store: Arc<dyn Store>,
    /// Keeps the data directory alive.
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database of a cluster's nodes ([`spawn_cluster`]).
    pub meta_url: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The store of a test server: SQLite, or PostgreSQL metadata with SQLite events when
/// `TOUCHPOINT_TEST_META_STORE=postgres`, or with ClickHouse events when
/// `TOUCHPOINT_TEST_EVENT_STORE=clickhouse` too (and the servers are here; else the harness
/// says SKIPPED, or fails when servers are required).
async fn open_store(dir: &std::path::Path, config: &Config) -> Arc<dyn Store> {
    let postgres = std::env::var("TOUCHPOINT_TEST_META_STORE").as_deref() == Ok("postgres");
    if postgres && std::env::var("TOUCHPOINT_TEST_EVENT_STORE").as_deref() == Ok("clickhouse") {
        use touchpoint_store_clickhouse::{testing, ClickHouseEvents, Role};
        if let (Some(ch), Some(pg)) = (testing::fresh_url(), touchpoint_store_postgres::testing::fresh_database().await)
        {
            let meta = touchpoint_store_postgres::PgMetaStore::connect(&pg, &Default::default()).await.unwrap();
            let events = ClickHouseEvents::open(&ch, Role::Writer).await.unwrap();
            return Arc::new(touchpoint_store_postgres::SplitStore::open(meta, Arc::new(events)).await.unwrap());
        }
    }
    if postgres {
        if let Some(split) = touchpoint_store_postgres::testing::split_store(dir).await {
            return Arc::new(split);
        }
    }
    Arc::new(
        SqliteStore::open(
            dir,
            OpenMode::Writer,
            &SqliteOptions { durable: config.durable, cache_mib: 16, ..Default::default() },
        )
        .await
        .unwrap(),
    )
}

/// Start a server with the default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start a server after `tweak` adjusts its configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    tweak(&mut config);
    let store = open_store(dir.path(), &config).await;
    start(config, store, dir).await
}

/// Start a server on the embedded store, whatever the environment asks for.
pub async fn spawn_embedded_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let options = SqliteOptions { durable: config.durable, cache_mib: 16, ..Default::default() };
    let store = Arc::new(SqliteStore::open(dir.path(), OpenMode::Writer, &options).await.unwrap());
    start(config, store, dir).await
}

/// Start a server on PostgreSQL metadata and ClickHouse events (the scale-out
/// configuration) on one shard or two, whatever the environment asks for; `None` after
/// the skip when either server is not installed.
pub async fn spawn_scaled_out_app(shards: usize) -> Option<TestApp> {
    use touchpoint_store_clickhouse::{testing, ClickHouseEvents, Role};
    let ch = if shards > 1 { testing::fresh_sharded_url()? } else { testing::fresh_url()? };
    let pg = touchpoint_store_postgres::testing::fresh_database().await?;
    let meta = touchpoint_store_postgres::PgMetaStore::connect(&pg, &Default::default()).await.unwrap();
    let events = ClickHouseEvents::open(&ch, Role::Writer).await.unwrap();
    let store = Arc::new(touchpoint_store_postgres::SplitStore::open(meta, Arc::new(events)).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    Some(start(config, store, dir).await)
}

/// Two nodes on one PostgreSQL and ClickHouse (two shards when `shards` is 2), as
/// `touchpoint serve` opens them: the first writes, the second relays to it
/// ([`touchpoint_engine::cluster`]); `None` after the skip when a server is not installed.
pub async fn spawn_cluster(shards: usize) -> Option<(TestApp, TestApp)> {
    use touchpoint_store_clickhouse::testing;
    let ch = if shards > 1 { testing::fresh_sharded_url()? } else { testing::fresh_url()? };
    let pg = touchpoint_store_postgres::testing::fresh_database().await?;
    let open = |dir: &tempfile::TempDir| {
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            meta_store: Some(pg.clone()),
            event_store: Some(ch.clone()),
            ..Config::default()
        };
        async move {
            let (store, role) = touchpoint_engine::backends::open_node_store(&config, None).await.unwrap();
            let node = Node::in_cluster(config, store.clone(), role.expect("a cluster role")).await.unwrap();
            (store, node)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, node) = open(&dir).await;
    assert!(node.engine().cluster.as_deref().is_some_and(|r| r.writes()), "the first node writes");
    let keys = make_projects(&*store).await;
    let mut first = serve(node, store, dir, keys.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, node) = open(&dir).await;
    assert!(node.engine().writer.is_relayed(), "the second node relays");
    let mut second = serve(node, store, dir, keys).await;
    (first.meta_url, second.meta_url) = (Some(pg.clone()), Some(pg));
    Some((first, second))
}

/// The test projects' keys: write, secret, server, and the other project's write key.
type Keys = (String, String, String, String);

async fn make_projects(store: &dyn Store) -> Keys {
    let p = store.create_project("test", &default_catalog()).await.unwrap();
    let q = store.create_project("other", &default_catalog()).await.unwrap();
    let (write_key, _) = issue_key(store, p.id, KeyKind::Write).await.unwrap();
    let (secret_key, _) = issue_key(store, p.id, KeyKind::Secret).await.unwrap();
    let (server_key, _) = issue_key(store, p.id, KeyKind::Server).await.unwrap();
    let (other_write_key, _) = issue_key(store, q.id, KeyKind::Write).await.unwrap();
    (write_key, secret_key, server_key, other_write_key)
}

/// Make the test projects and keys on `store` and serve it.
async fn start(config: Config, store: Arc<dyn Store>, dir: tempfile::TempDir) -> TestApp {
    let keys = make_projects(&*store).await;
    let node = Node::with_store(config, store.clone()).await.unwrap();
    serve(node, store, dir, keys).await
}

/// Serve `node` on a free port.
async fn serve(node: Node, store: Arc<dyn Store>, dir: tempfile::TempDir, keys: Keys) -> TestApp {
    let (write_key, secret_key, server_key, other_write_key) = keys;
    let server = Server::new(node);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    TestApp {
        base,
        client: reqwest::Client::new(),
        write_key,
        secret_key,
        server_key,
        other_write_key,
        store,
        dir,
        meta_url: None,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// POST raw bytes to a capture route with the write key as Basic user.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.post_as(&self.write_key, path, body, headers).await
    }

    /// POST raw bytes to a capture route with `key` as Basic user.
    async fn post_as(
        &self,
        key: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.client.post(format!("{}{path}", self.base)).basic_auth(key, Some("")).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }

    /// POST JSON to a capture route with the server key.
    pub async fn post_from_server(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, v, _) = self
            .post_as(&self.server_key, path, serde_json::to_vec(body).unwrap(), &[("content-type", "application/json")])
            .await;
        (s, v)
    }

    /// POST JSON to a capture route with the write key.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, v, _) =
            self.post_raw(path, serde_json::to_vec(body).unwrap(), &[("content-type", "application/json")]).await;
        (s, v)
    }

    /// GET a read route with the secret key.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.secret_key).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Send a request with a method and JSON body to a read/admin route with the secret key.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.secret_key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Number of stored events of the test project.
    pub async fn stored(&self) -> i64 {
        self.store.count_events(1).await.unwrap()
    }

    /// Number of failed events of the test project.
    pub async fn failed(&self) -> usize {
        self.store.failed_events(1, None, 100_000).await.unwrap().len()
    }

    /// Stop the server and wait for it to finish its writes.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

/// The HMAC-SHA256 of `message` under `key`, hex, computed by Python's `hmac` module (an
/// implementation independent of the server's), as a brand's server would.
pub fn python_hmac(key: &str, message: &str) -> String {
    let py = std::env::var("TOUCHPOINT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(py)
        .args(["-c", "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())", key, message])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
