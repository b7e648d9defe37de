//! The `touchpoint` binary: one command for everything — `serve`, `demo`, `import`,
//! `export`, `project`, `key`, `touchpoint`, `rule`, `report`, `survey`, `benchmark`, `gen`
//! and `bench`. Parsing arguments and talking to people
//! (progress bars, tables, `--json`) happens here; the work is done by the library crates.

mod admin;
mod args;
mod bench;
mod bench_analytics;
mod bench_dashboard;
mod bench_kb;
mod bench_sql;
mod bench_triggers;
mod catalog;
mod customer;
mod demo;
mod demo_act;
mod demo_listen;
mod demo_service;
mod export;
mod import;
mod kb;
mod listen_tables;
mod migrate;
mod report;
mod request;
mod survey;
mod tables;
mod trigger;
mod user;

use clap::{Args, Parser, Subcommand};

/// mimalloc: the ingest path allocates many small, short-lived values; glibc's allocator
/// spent a quarter of the import's time on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use touchpoint_engine::Config;

/// Touchpoint: every customer contact, recorded, mapped and measured.
#[derive(Parser)]
#[command(name = "touchpoint", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print what happens inside (-v: progress notes, -vv: details). `RUST_LOG` or
    /// `TOUCHPOINT_LOG` (e.g. `touchpoint=debug`) choose exactly.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

/// Settings shared by every command that opens the data directory. Each one can also be
/// set in the config file or as a `TOUCHPOINT_…` environment variable.
#[derive(Args, Clone, Default)]
pub struct Common {
    /// A TOML config file (defaults < file < TOUCHPOINT_* environment < flags).
    #[arg(long, env = "TOUCHPOINT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory of the embedded store.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

impl Common {
    /// The configuration from defaults, the file, the environment and these flags (no
    /// server flags).
    pub fn config(&self) -> anyhow_lite::Result<Config> {
        load_config(self, &ServeFlags::default())
    }
}

/// Flags of the server.
#[derive(Args, Clone, Default)]
pub struct ServeFlags {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// fsync each group commit before acknowledging it (true/false).
    #[arg(long)]
    durable: Option<bool>,
    /// Events per second each key may send (0 = no limit).
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Keep the metadata (projects, keys, catalog, customers, surveys) in PostgreSQL,
    /// e.g. postgres://user:password@host:5432/touchpoint; events stay in the data
    /// directory unless --event-store says otherwise. Unset: everything in the data
    /// directory.
    #[arg(long, value_name = "URL")]
    meta_store: Option<String>,
    /// Where the events are kept: `embedded` (the default, in the data directory) or
    /// ClickHouse, e.g. clickhouse://user:password@host:8123/touchpoint (its HTTP port;
    /// needs --meta-store on PostgreSQL).
    #[arg(long, value_name = "URL")]
    event_store: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        flags: ServeFlags,
    },
    /// Make a fresh demo data directory, load a generated e-shop into it and serve it.
    Demo(demo::DemoArgs),
    /// Import events from an NDJSON (Segment-shaped) or CSV file.
    Import(import::ImportArgs),
    /// Export a project's events as NDJSON or CSV.
    Export(export::ExportArgs),
    /// Move an embedded data directory to PostgreSQL and ClickHouse (resumable, verified).
    Migrate(migrate::MigrateArgs),
    /// Create, list and set up projects (time zone, churn horizon, survey brand).
    Project {
        #[command(subcommand)]
        cmd: admin::ProjectCmd,
    },
    /// People who sign in to the dashboard: create accounts, list them, give roles.
    User {
        #[command(subcommand)]
        cmd: user::UserCmd,
    },
    /// Create, list and revoke API keys.
    Key {
        #[command(subcommand)]
        cmd: admin::KeyCmd,
    },
    /// The touchpoint catalog: list, show, add and classify touchpoints.
    Touchpoint {
        #[command(subcommand)]
        cmd: catalog::TouchpointCmd,
    },
    /// Mapping rules from events to touchpoints: list, add, remove, and test one on recent events.
    Rule {
        #[command(subcommand)]
        cmd: catalog::RuleCmd,
    },
    /// A customer's data: export it as one document, or erase it everywhere (GDPR).
    Customer {
        #[command(subcommand)]
        cmd: customer::CustomerCmd,
    },
    /// Journey analytics in the terminal: journey-map, funnel, transitions, sankey,
    /// retention, churn, attribution.
    Report(Box<report::ReportArgs>),
    /// Surveys: create, edit, publish, close, list, export, invite, import responses.
    Survey {
        #[command(subcommand)]
        cmd: survey::SurveyCmd,
    },
    /// Trigger rules: act at key moments (webhooks, e-mails, survey invitations, team
    /// alerts) with a hold-out, and measure the uplift.
    Trigger {
        #[command(subcommand)]
        cmd: trigger::TriggerCmd,
    },
    /// The knowledge base of the customer portal: articles in cs/pl/en and their search.
    Kb {
        #[command(subcommand)]
        cmd: kb::KbCmd,
    },
    /// The service team's requests from the customer portal: list, read, reply, move,
    /// assign, mirror to a helpdesk.
    Request {
        #[command(subcommand)]
        cmd: request::RequestCmd,
    },
    /// The customer portal: sign-in links.
    Portal {
        #[command(subcommand)]
        cmd: request::PortalCmd,
    },
    /// External benchmark tables.
    Benchmark {
        #[command(subcommand)]
        cmd: BenchmarkCmd,
    },
    /// Write the demo brand's generated events as NDJSON (for benchmarks and other tools).
    Gen(demo::GenArgs),
    /// Benchmarks: HTTP ingest, import against DuckDB, analytics against chdb, a restart on a large store.
    Bench {
        #[command(subcommand)]
        cmd: bench::BenchCmd,
    },
}

/// `touchpoint benchmark …`
#[derive(Subcommand)]
enum BenchmarkCmd {
    /// Import a benchmark table: CSV `metric,segment,value,n[,se]`.
    Import {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: args::ProjectArgs,
        /// Where the figures come from (a study's name).
        #[arg(long)]
        source: String,
        /// The CSV file.
        file: PathBuf,
    },
}

/// Build the configuration from defaults, the file, the environment and these flags.
pub fn load_config(common: &Common, flags: &ServeFlags) -> anyhow_lite::Result<Config> {
    let mut over: Vec<(&str, String)> = vec![];
    if let Some(d) = &common.data_dir {
        over.push(("data_dir", d.display().to_string()));
    }
    if let Some(l) = &flags.listen {
        over.push(("listen", l.clone()));
    }
    if let Some(d) = flags.durable {
        over.push(("durable", d.to_string()));
    }
    if let Some(r) = flags.rate_limit {
        over.push(("rate_limit", r.to_string()));
    }
    if let Some(m) = &flags.meta_store {
        over.push(("meta_store", m.clone()));
    }
    if let Some(e) = &flags.event_store {
        over.push(("event_store", e.clone()));
    }
    Ok(Config::load(common.config.as_deref(), std::env::vars(), &over)?)
}

/// A tiny error type for the binary: any error, shown as its message.
pub mod anyhow_lite {
    /// Any error.
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    /// Result with any error.
    pub type Result<T> = std::result::Result<T, Error>;
    /// An error from a message.
    pub fn msg(m: impl Into<String>) -> Error {
        m.into().into()
    }
}

fn main() {
    // Output piped into `head` ends quietly when the reader goes, as other tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // No transparent huge pages for this process. mimalloc asks for them for its arenas,
    // and then a small page touched in a fresh 2 MiB region has the kernel zero the whole
    // 2 MiB, again after each purge: a fifth to a third of HTTP ingest's samples were in
    // `clear_page_erms` (17 % of an import's, which turned them off for itself before).
    // Without them HTTP ingest takes ~1.3× the events per second at a quarter of the p99
    // latency, and the kernels over the journey index are unchanged (docs/performance.md,
    // "Huge pages round"; tests/cli.rs checks the flag).
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag of the calling process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose, matches!(cli.command, Command::Serve { .. }));
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve { common, flags } => serve(common, flags).await,
            Command::Demo(a) => demo::run(a).await,
            Command::Import(a) => import::run(a).await,
            Command::Export(a) => export::run(a).await,
            Command::Migrate(a) => migrate::run(a).await,
            Command::Project { cmd } => admin::project(cmd).await,
            Command::User { cmd } => user::run(cmd).await,
            Command::Key { cmd } => admin::key(cmd).await,
            Command::Touchpoint { cmd } => catalog::touchpoint(cmd).await,
            Command::Rule { cmd } => catalog::rule(cmd).await,
            Command::Customer { cmd } => customer::run(cmd).await,
            Command::Gen(a) => demo::gen(a),
            Command::Report(a) => report::run(*a).await,
            Command::Survey { cmd } => survey::run(cmd).await,
            Command::Trigger { cmd } => trigger::run(cmd).await,
            Command::Kb { cmd } => kb::run(cmd).await,
            Command::Request { cmd } => request::run(cmd).await,
            Command::Portal { cmd } => request::run_portal(cmd).await,
            Command::Benchmark { cmd: BenchmarkCmd::Import { project, source, file } } => {
                survey::import_benchmark(&project, &source, &file).await
            }
            Command::Bench { cmd } => bench::run(cmd).await,
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Log lines go to standard error. A command that talks to a person prints only warnings
/// unless asked (`-v`, `RUST_LOG`, `TOUCHPOINT_LOG`); the server also notes what it does.
/// Colour only on a terminal, and never with `NO_COLOR`.
fn init_logging(verbose: u8, serving: bool) {
    use std::io::IsTerminal;
    // sqlx warns of every statement slower than a second: under load that is a lock wait,
    // nothing a person can act on, so it is shown only when asked.
    let default = match (verbose, serving) {
        (0, false) => "warn,sqlx::query=error",
        (0, true) | (1, _) => "warn,touchpoint=info,sqlx::query=error",
        _ => "info,touchpoint=debug",
    };
    let filter = ["TOUCHPOINT_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .and_then(|s| tracing_subscriber::EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| default.into());
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

/// A progress bar on standard error (hidden when `quiet`) with the project's look.
pub fn progress_bar(len: u64, template: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template).expect("valid progress template").progress_chars("=> "),
    );
    bar
}

/// The template of byte-counting import bars.
pub const IMPORT_BAR: &str = "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({eta} left) {msg}";

/// Wait for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    eprintln!("shutting down: finishing queued writes");
}

async fn serve(common: Common, flags: ServeFlags) -> anyhow_lite::Result<()> {
    let config = load_config(&common, &flags)?;
    let embedded_meta = config.meta_store.as_deref().is_none_or(|m| m.trim().is_empty());
    let new_store = embedded_meta && admin::check_new_store(&config.data_dir)?;
    let data_dir = admin::shell_word(&config.data_dir);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow_lite::msg(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let backends = touchpoint_engine::backends::describe(&config);
    let opened = |server: &touchpoint_server::Server, change: Option<touchpoint_engine::cluster::Change>| {
        let role = match server.state().engine.cluster.as_deref() {
            Some(role) if role.writes() => "this node writes",
            Some(_) => "another node writes, this node relays to it",
            None => "",
        };
        match change {
            None => {
                let role = if role.is_empty() { String::new() } else { format!("; {role}") };
                eprintln!("touchpoint listening on http://{addr} ({backends}{role})");
                if new_store {
                    let dir = &data_dir;
                    eprintln!(
                        "This is a new, empty store. Make a project and its first owner (the server may keep running):\n  \
                         touchpoint project create NAME --data-dir {dir}\n  \
                         touchpoint user create --email YOU@EXAMPLE.COM --role owner --project NAME --data-dir {dir}"
                    );
                }
                // A line on stdout that scripts and tests can wait for (a person at a
                // terminal has just read the line above).
                if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                    println!("listening on http://{addr}");
                }
            }
            Some(change) => eprintln!("{change}: opened again; {role}"),
        }
    };
    touchpoint_server::run_node(listener, config, shutdown_signal(), opened).await?;
    Ok(())
}
