//! A throwaway PostgreSQL server for tests (this crate's, and the server's through the
//! `testing` feature): Debian's `postgresql` package's `initdb` into a temporary
//! directory, `pg_ctl start` on a free port of 127.0.0.1 with the socket in that
//! directory (trust authentication, no fsync: nothing here outlives the test run), a fresh
//! database per test, and `pg_ctl stop` at the end.
//!
//! - **Where the programs are:** the directory in `TOUCHPOINT_PG_BIN`, else `initdb` and
//!   `pg_ctl` on `PATH`, else the newest `/usr/lib/postgresql/<version>/bin`.
//! - **Absent:** without them (or running as root without a `postgres` user) a test prints
//!   `SKIPPED: …` and passes — unless `TOUCHPOINT_REQUIRE_SERVERS` is set (CI), where it
//!   panics. A server that is there but does not start is always a failure.
//! - **As root:** `initdb` refuses to run as root, so the server runs as the `postgres`
//!   user (`runuser -u postgres --`, else `su`), in a directory under `/tmp` given to it.
//! - **Stopping:** [`PgServer`] stops its server when dropped. [`shared`] starts one server
//!   for every test of a process; a watchdog (`sh`, started with the server) stops it and
//!   removes its directory once the test process has ended, however it ended.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Set to a directory holding `initdb` and `pg_ctl` to use those.
pub const BIN_ENV: &str = "TOUCHPOINT_PG_BIN";
/// Set (CI) to make a missing server a failure instead of a skip.
pub const REQUIRE_ENV: &str = "TOUCHPOINT_REQUIRE_SERVERS";

/// A PostgreSQL server of a test run (see the module documentation).
#[derive(Debug)]
pub struct PgServer {
    /// The temporary directory: `data/` (the cluster), `socket/`, `server.log`.
    dir: Option<tempfile::TempDir>,
    /// Where `initdb` and `pg_ctl` are.
    bin: PathBuf,
    /// The port on 127.0.0.1.
    port: u16,
    /// Whether the server runs as the `postgres` user (this process is root).
    as_postgres: bool,
    /// Databases made so far (for their names).
    databases: AtomicUsize,
    /// Stops the server when this process ends without dropping it.
    watchdog: Option<Child>,
}

/// Why a server cannot be had here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// PostgreSQL is not installed (or cannot be run here): skip, unless required.
    Absent(String),
    /// It is installed but did not start: always a failure.
    Failed(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Absent(why) | Unavailable::Failed(why) => f.write_str(why),
        }
    }
}

/// The directory with `initdb` and `pg_ctl`, if PostgreSQL is installed.
pub fn find_bin() -> Option<PathBuf> {
    let both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os(BIN_ENV).map(PathBuf::from) {
        return both(&d).then_some(d);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if both(&d) {
                // Debian links them from /usr/lib/postgresql/<v>/bin; use that directory.
                let real = std::fs::canonicalize(d.join("initdb")).ok().and_then(|p| p.parent().map(Path::to_path_buf));
                return Some(real.filter(|r| both(r)).unwrap_or(d));
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            both(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The output of a command that must succeed, or what it said.
fn run(mut cmd: Command, what: &str) -> Result<String, Unavailable> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Unavailable::Failed(format!("{what}: could not run {:?}: {e}", cmd.get_program())))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(Unavailable::Failed(format!("{what} failed ({}): {text}", out.status)))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|s| s.trim() == "0")
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// Quote a word for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn has_runuser() -> bool {
    Command::new("runuser").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

impl PgServer {
    /// `initdb` and start a server (see the module documentation).
    pub fn start() -> Result<PgServer, Unavailable> {
        let bin = find_bin().ok_or_else(|| {
            Unavailable::Absent(format!(
                "PostgreSQL is not installed (no initdb and pg_ctl on PATH, in /usr/lib/postgresql/*/bin or in \
                 ${BIN_ENV}; Debian: apt-get install postgresql)"
            ))
        })?;
        let as_postgres = is_root();
        let ids = if as_postgres {
            Some(postgres_ids().ok_or_else(|| {
                Unavailable::Absent("running as root, and there is no postgres user to run PostgreSQL as".into())
            })?)
        } else {
            None
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix("touchpoint-pg-");
        // The postgres user must reach the directory: not under root's own temp directory.
        let dir = if as_postgres { builder.tempdir_in("/tmp") } else { builder.tempdir() }
            .map_err(|e| Unavailable::Failed(format!("cannot make a temporary directory: {e}")))?;
        std::fs::create_dir(dir.path().join("socket"))
            .map_err(|e| Unavailable::Failed(format!("cannot make the socket directory: {e}")))?;
        if let Some((uid, gid)) = ids {
            for p in [dir.path().to_path_buf(), dir.path().join("socket")] {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                    .map_err(|e| Unavailable::Failed(format!("cannot give {} to postgres: {e}", p.display())))?;
            }
        }
        let mut server =
            PgServer { dir: Some(dir), bin, port: 0, as_postgres, databases: AtomicUsize::new(0), watchdog: None };
        let data = server.data_dir();
        let args: Vec<String> = ["-D", &data.to_string_lossy(), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
            .into_iter()
            .chain(["--locale=C", "--no-sync"])
            .map(str::to_string)
            .collect();
        server.run_program("initdb", &args, "initdb")?;
        // A free port may be taken between the look and the start: try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port().map_err(|e| Unavailable::Failed(format!("no free port: {e}")))?;
            match server.pg_ctl_start() {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            let log = std::fs::read_to_string(server.path().join("server.log")).unwrap_or_default();
            return Err(Unavailable::Failed(format!("{e}\nserver log:\n{log}")));
        }
        server.watchdog = server.spawn_watchdog();
        Ok(server)
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().expect("the directory lives as long as the server").path()
    }

    fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// A command running one of the server's programs with arguments, as the postgres user
    /// when this process is root.
    fn command(&self, program: &str, args: &[String]) -> Command {
        let program = self.bin.join(program);
        if !self.as_postgres {
            let mut c = Command::new(program);
            c.args(args);
            return c;
        }
        if has_runuser() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program).args(args);
            return c;
        }
        let mut c = Command::new("su");
        c.args(["postgres", "-s", "/bin/sh", "-c"]).arg(self.shell_line(&program, args));
        c
    }

    /// A program and its arguments as one line for `sh`.
    fn shell_line(&self, program: &Path, args: &[String]) -> String {
        std::iter::once(program.to_string_lossy().into_owned())
            .chain(args.iter().cloned())
            .map(|w| sh_quote(&w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// [`PgServer::command`] as a line for `sh` (the watchdog's).
    fn shell_command(&self, program: &str, args: &[String]) -> String {
        let line = self.shell_line(&self.bin.join(program), args);
        if !self.as_postgres {
            line
        } else if has_runuser() {
            format!("runuser -u postgres -- {line}")
        } else {
            format!("su postgres -s /bin/sh -c {}", sh_quote(&line))
        }
    }

    /// Run a program with arguments; its output, or what went wrong.
    fn run_program(&self, program: &str, args: &[String], what: &str) -> Result<String, Unavailable> {
        run(self.command(program, args), what)
    }

    fn pg_ctl_start(&self) -> Result<(), Unavailable> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB",
            self.port,
            self.path().join("socket").display()
        );
        let args = [
            "-D".to_string(),
            self.data_dir().to_string_lossy().into_owned(),
            "-l".to_string(),
            self.path().join("server.log").to_string_lossy().into_owned(),
            "-w".to_string(),
            "-t".to_string(),
            "60".to_string(),
            "-o".to_string(),
            options,
            "start".to_string(),
        ];
        self.run_program("pg_ctl", &args, "pg_ctl start").map(|_| ())
    }

    fn stop_args(&self, mode: &str) -> Vec<String> {
        vec![
            "-D".into(),
            self.data_dir().to_string_lossy().into_owned(),
            "-m".into(),
            mode.into(),
            "-w".into(),
            "stop".into(),
        ]
    }

    /// A shell that waits for this process to end, then stops the server and removes its
    /// directory.
    fn spawn_watchdog(&self) -> Option<Child> {
        let stop = self.shell_command("pg_ctl", &self.stop_args("immediate"));
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = sh_quote(&self.path().to_string_lossy()),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database on this server (as the superuser `postgres`, no password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Create a fresh, empty database and return its URL.
    pub async fn create_database(&self) -> String {
        use sqlx::Connection;
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("touchpoint_test_{n}");
        let mut c = sqlx::PgConnection::connect(&self.url("postgres")).await.expect("connect to the test server");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create a test database");
        c.close().await.ok();
        self.url(&name)
    }

    /// Stop the server now (it is stopped when dropped too).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.dir.is_none() {
            return;
        }
        if let Err(e) = self.run_program("pg_ctl", &self.stop_args("fast"), "pg_ctl stop") {
            eprintln!("could not stop the test PostgreSQL server: {e}");
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.dir = None;
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
/// printing `SKIPPED: …`, or panicking when required) when PostgreSQL is not installed.
/// A server that is installed but does not start makes every caller panic.
pub fn shared() -> Option<&'static PgServer> {
    static SHARED: OnceLock<Result<PgServer, Unavailable>> = OnceLock::new();
    match SHARED.get_or_init(PgServer::start) {
        Ok(server) => Some(server),
        Err(Unavailable::Absent(why)) => {
            skip(why);
            None
        }
        Err(Unavailable::Failed(why)) => panic!("the test PostgreSQL server did not start: {why}"),
    }
}

/// A fresh database on the shared server ([`shared`]): its URL, or `None` after the skip.
pub async fn fresh_database() -> Option<String> {
    Some(shared()?.create_database().await)
}

/// A [`crate::SplitStore`] on a fresh database of the shared server, with its events in
/// `dir` (the embedded store, opened as the writer): what the conformance suite and the
/// server's tests run on. `None` after the skip.
pub async fn split_store(dir: &Path) -> Option<crate::SplitStore> {
    use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
    let url = fresh_database().await?;
    let meta = crate::PgMetaStore::connect(&url, &crate::PgOptions::default()).await.expect("connect to PostgreSQL");
    let events =
        SqliteStore::open(dir, OpenMode::Writer, &SqliteOptions::default()).await.expect("open the event store");
    Some(crate::SplitStore::open(meta, std::sync::Arc::new(events)).await.expect("join the stores"))
}

/// End every session of the database at `url` that holds a named lock
/// ([`crate::PgMetaStore::try_hold_lock`]), the way a PostgreSQL restart or a cut
/// connection would end the writing node's: how many were ended.
pub async fn end_lock_sessions(url: &str) -> i64 {
    let meta = crate::PgMetaStore::connect(url, &crate::PgOptions::default()).await.expect("connect to PostgreSQL");
    let ended = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
           AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(meta.pool())
    .await
    .expect("end the sessions");
    meta.close().await;
    ended
}

/// Run one statement on the database at `url`, as an operator at `psql` would (a test's
/// way to break or mend what a node relies on).
pub async fn execute(url: &str, sql: &str) {
    let meta = crate::PgMetaStore::connect(url, &crate::PgOptions::default()).await.expect("connect to PostgreSQL");
    sqlx::raw_sql(sql).execute(meta.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    meta.close().await;
}
