//! A throwaway ClickHouse server for tests (this crate's, and the server's through the
//! `testing` feature): Debian's `clickhouse-server` with a minimal configuration in a
//! temporary directory, its HTTP interface on a free port of 127.0.0.1, a fresh database
//! per test ([`fresh_url`]), stopped when the test process ends.
//!
//! - **Where the program is:** `TOUCHPOINT_CLICKHOUSE_BIN` (a `clickhouse-server`, or the
//!   single `clickhouse` binary of current releases), else `clickhouse-server` on `PATH` or
//!   in `/usr/sbin`, else `clickhouse` on `PATH`.
//! - **Absent:** without it a test prints `SKIPPED: …` and passes — unless
//!   `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where it panics. A server that is there but
//!   does not start is always a failure.
//! - **Stopping:** [`ChServer`] kills its server when dropped; [`shared`] starts one for
//!   every test of a process, and a watchdog (`sh`) kills it and removes its directory once
//!   the test process has ended, however it ended.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Set to the ClickHouse server program to use that one.
pub const BIN_ENV: &str = "TOUCHPOINT_CLICKHOUSE_BIN";
/// Set (CI) to make a missing server a failure instead of a skip.
pub const REQUIRE_ENV: &str = "TOUCHPOINT_REQUIRE_SERVERS";

/// A ClickHouse server of a test run (see the module documentation).
#[derive(Debug)]
pub struct ChServer {
    /// `config.xml`, `users.xml`, `data/`, the logs.
    dir: Option<tempfile::TempDir>,
    /// The server program, and whether it is the single `clickhouse` binary.
    bin: (PathBuf, bool),
    /// The HTTP port on 127.0.0.1.
    port: u16,
    /// The server process.
    child: Option<Child>,
    /// Databases made so far (for their names).
    databases: AtomicUsize,
    /// Kills the server when this process ends without dropping it.
    watchdog: Option<Child>,
}

/// The server program and whether it is the single `clickhouse` binary (`clickhouse server`).
pub fn find_bin() -> Option<(PathBuf, bool)> {
    let single = |p: &Path| p.file_name().is_some_and(|n| n == "clickhouse");
    if let Some(p) = std::env::var_os(BIN_ENV).map(PathBuf::from) {
        return p.is_file().then(|| (p.clone(), single(&p)));
    }
    let path: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for name in ["clickhouse-server", "clickhouse"] {
        for d in path.iter().map(PathBuf::as_path).chain([Path::new("/usr/sbin"), Path::new("/usr/bin")]) {
            let p = d.join(name);
            if p.is_file() {
                return Some((p.clone(), single(&p)));
            }
        }
    }
    None
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl ChServer {
    /// Start a server; `Err((absent, why))`.
    pub fn start() -> Result<ChServer, (bool, String)> {
        let bin = find_bin().ok_or_else(|| {
            (
                true,
                format!(
                    "ClickHouse is not installed (no clickhouse-server on PATH or in /usr/sbin, nor ${BIN_ENV}; \
                     Debian: apt-get install clickhouse-server)"
                ),
            )
        })?;
        let failed = |why: String| (false, why);
        let dir = tempfile::Builder::new()
            .prefix("touchpoint-ch-")
            .tempdir_in("/tmp")
            .map_err(|e| failed(format!("cannot make a temporary directory: {e}")))?;
        let mut last = String::new();
        let mut dir = Some(dir);
        // A free port may be taken between the look and the start: try a few.
        for _ in 0..5 {
            let port = free_port().map_err(|e| failed(format!("no free port: {e}")))?;
            let tcp = free_port().map_err(|e| failed(format!("no free port: {e}")))?;
            let path = dir.as_ref().expect("kept between tries").path();
            write_config(path, port, tcp).map_err(|e| failed(format!("cannot write the configuration: {e}")))?;
            let mut server = ChServer {
                dir: dir.take(),
                bin: bin.clone(),
                port,
                child: None,
                databases: AtomicUsize::new(0),
                watchdog: None,
            };
            match server.spawn() {
                Ok(()) => {
                    server.watchdog = server.spawn_watchdog();
                    return Ok(server);
                }
                Err(e) => {
                    last = e;
                    server.kill();
                    dir = server.dir.take();
                }
            }
        }
        Err(failed(format!("the ClickHouse server did not start: {last}")))
    }

    /// Run the server program on this server's directory and wait until it answers.
    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.path().to_path_buf();
        let mut cmd = Command::new(&self.bin.0);
        if self.bin.1 {
            cmd.arg("server");
        }
        let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = cmd
            .arg(format!("--config-file={}", dir.join("config.xml").display()))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("could not run {}: {e}", self.bin.0.display()))?;
        self.child = Some(child);
        self.wait_ready().map_err(|e| {
            let log = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            format!("{e}\nstderr:\n{}\nerror log:\n{}", log("stderr.log"), log("err.log"))
        })
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().expect("the directory lives as long as the server").path()
    }

    /// Kill the server with SIGKILL (a crash), and start it again on the same directory
    /// and port once it is gone.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("the ClickHouse server starts again");
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.watchdog = self.spawn_watchdog();
    }

    /// Kill the server with SIGKILL and wait for it to end (start it with
    /// [`ChServer::restart`]).
    pub fn crash(&mut self) {
        self.kill();
    }

    /// Wait until `/ping` answers.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("the server exited ({status})"));
            }
            if ping(self.port) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("no answer on /ping within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn_watchdog(&self) -> Option<Child> {
        let pid = self.child.as_ref()?.id();
        let dir = self.dir.as_ref()?.path().to_string_lossy().replace('\'', r"'\''");
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -9 {pid} 2>/dev/null; sleep 1; rm -rf '{dir}'",
            me = std::process::id()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The HTTP port (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.port)
    }

    /// The URL of a database no test has used yet (made by the store when it opens).
    pub fn fresh_url(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        self.url(&format!("tp_test_{}_{n}", std::process::id()))
    }
}

impl Drop for ChServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Whether a ClickHouse server answers `GET /ping` on a port of 127.0.0.1.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.") && out.contains(" 200 ") && out.ends_with("Ok.\n")
}

fn write_config(dir: &Path, http_port: u16, tcp_port: u16) -> std::io::Result<()> {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("data"))?;
    std::fs::create_dir_all(dir.join("tmp"))?;
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
</yandex>
"#
        ),
    )?;
    std::fs::write(
        dir.join("users.xml"),
        r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#,
    )
}

/// Say that a test is skipped because `why` — or panic, when `TOUCHPOINT_REQUIRE_SERVERS`
/// is set.
pub fn skip(why: &str) {
    if std::env::var_os(REQUIRE_ENV).is_some() {
        panic!("{REQUIRE_ENV} is set but {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// The server every test of this process shares, started on first use; `None` (after
/// printing `SKIPPED: …`, or panicking when required) when ClickHouse is not installed.
pub fn shared() -> Option<&'static ChServer> {
    static SHARED: OnceLock<Result<ChServer, (bool, String)>> = OnceLock::new();
    match SHARED.get_or_init(ChServer::start) {
        Ok(server) => Some(server),
        Err((true, why)) => {
            skip(why);
            None
        }
        Err((false, why)) => panic!("the test ClickHouse server did not start: {why}"),
    }
}

/// The URL of a fresh database on the shared server, or `None` after the skip.
pub fn fresh_url() -> Option<String> {
    Some(shared()?.fresh_url())
}

/// A second server every test of this process shares (the second shard).
pub fn shared_second() -> Option<&'static ChServer> {
    shared()?;
    static SECOND: OnceLock<Result<ChServer, (bool, String)>> = OnceLock::new();
    match SECOND.get_or_init(ChServer::start) {
        Ok(server) => Some(server),
        Err((_, why)) => panic!("the second test ClickHouse server did not start: {why}"),
    }
}

/// The `event_store` value of a fresh database on two shards (the two shared servers),
/// or `None` after the skip.
pub fn fresh_sharded_url() -> Option<String> {
    let (a, b) = (shared()?, shared_second()?);
    Some(format!("{},{}", a.fresh_url(), b.fresh_url()))
}
