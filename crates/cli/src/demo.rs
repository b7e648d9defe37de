//! `touchpoint demo` and `touchpoint gen`: the demo brand from the one seeded generator.
//! `demo` makes a fresh data directory, loads the brand through the same writer as the
//! API, and serves it; `gen` writes the same events as NDJSON for benchmarks and peers.

use crate::anyhow_lite::{msg, Result};
use crate::{Common, ServeFlags};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use touchpoint_core::access::Role;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, Limits};
use touchpoint_gen::{brand_catalog, GenConfig, Generator};
use touchpoint_store::now_ms;
use touchpoint_store::writer::{Submission, Writer};

/// `touchpoint demo`
#[derive(Args)]
pub struct DemoArgs {
    /// About how many events to generate (from a few thousand to 100 M).
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Seed of the generator: the same seed gives the same brand and customers.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Load the data and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Print the address and keys as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub flags: ServeFlags,
}

/// `touchpoint gen`
#[derive(Args)]
pub struct GenArgs {
    /// About how many events.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output file (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

const MARKER: &str = ".touchpoint-demo";

/// Make `dir` a fresh, empty demo directory: an earlier demo directory is wiped; anything
/// else that is not empty is left alone and refused, and so is a demo directory that a
/// running process holds (a demo or a server still serving it: its lock file says so).
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(msg(format!(
                "{} exists and is not an earlier demo directory; give the demo another --data-dir",
                dir.display()
            )));
        }
        // Hold the directory's lock while wiping it, so no process can be using it.
        let lock_path = dir.join(touchpoint_store_sqlite::LOCK_FILE);
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
        if lock.try_lock().is_err() {
            return Err(msg(format!(
                "{} is in use by a running touchpoint (a demo or a server): stop it first, or give this demo another --data-dir",
                dir.display()
            )));
        }
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path == lock_path {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "made by `touchpoint demo`; the next demo run wipes this directory\n")?;
    Ok(())
}

/// Generate the brand's events and submit them through a writer, with a progress bar.
pub async fn load(writer: &Writer, project: i64, cfg: GenConfig, quiet: bool) -> Result<crate::import::Summary> {
    let started = std::time::Instant::now();
    let customers = cfg.customers;
    let bar = crate::progress_bar(
        customers as u64,
        "{spinner} generating customers [{bar:40}] {pos}/{len} ({eta} left) {msg}",
        quiet,
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Submission>(8);
    let bar2 = bar.clone();
    let producer = std::thread::spawn(move || -> Result<u64> {
        let generator = Generator::new(cfg);
        // The demo's customers come from the brand's own systems: their addresses are
        // believed (e-mail rules may send to them), as a server key's would be.
        let cx = ParseContext { received_at: now_ms(), vouched: true, ..Default::default() };
        let limits = Limits::default();
        let mut sub = Submission { project, ..Default::default() };
        let mut records = 0u64;
        for i in 0..customers {
            for v in generator.customer(i) {
                records += 1;
                match Event::parse(v, &cx, &limits) {
                    Ok(e) => sub.events.push(e),
                    Err(e) => return Err(msg(format!("the generator made an invalid event: {e}"))),
                }
            }
            if sub.events.len() >= 5_000 {
                let full = std::mem::replace(&mut sub, Submission { project, ..Default::default() });
                tx.blocking_send(full).map_err(|_| msg("loading stopped"))?;
            }
            bar2.inc(1);
        }
        if !sub.events.is_empty() {
            tx.blocking_send(sub).map_err(|_| msg("loading stopped"))?;
        }
        Ok(records)
    });
    let mut summary =
        crate::import::drain(writer, &mut rx, |s| bar.set_message(format!("{} events stored", s.stored))).await?;
    summary.records = producer.join().map_err(|_| msg("the generator thread panicked"))??;
    summary.seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(summary)
}

/// The demo's dashboard account.
pub const DEMO_EMAIL: &str = "demo@touchpoint.example";

pub async fn run(a: DemoArgs) -> Result<()> {
    let mut common = a.common.clone();
    let dir = common.data_dir.clone().unwrap_or_else(|| PathBuf::from("touchpoint-demo"));
    common.data_dir = Some(dir.clone());
    fresh_dir(&dir)?;
    let config = crate::load_config(&common, &a.flags)?;
    let listener = if a.no_serve {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(&config.listen)
                .await
                .map_err(|e| msg(format!("cannot listen on {}: {e}", config.listen)))?,
        )
    };
    let node = touchpoint_engine::Node::open(config).await?;
    let state = node.engine().clone();
    let name = format!("{} (demo)", touchpoint_gen::BRAND_NAME);
    let (project, write, secret) = crate::admin::create_project(&*state.store, &name, &brand_catalog()).await?;
    // The key the brand's own servers send with: the addresses it gives get rule e-mails.
    let (server, _) = touchpoint_store::issue_key(&*state.store, project.id, touchpoint_core::KeyKind::Server).await?;
    // The brand on its survey pages, which open in Czech unless the respondent asks otherwise.
    let brand = touchpoint_engine::read::ProjectSettings {
        brand_name: Some(touchpoint_gen::BRAND_NAME.into()),
        brand_color: Some("#2e7d32".into()),
        default_lang: Some("cs".into()),
        ..Default::default()
    };
    let project = touchpoint_engine::read::update_project(&*state.store, &project, brand).await?;
    // The brand's history ends now: "now" in every analysis is the wall clock.
    let cfg = GenConfig { end_ms: now_ms(), ..GenConfig::for_events(a.events, a.seed) };
    if !a.json {
        eprintln!(
            "Generating {name}: about {} events of {} customers (seed {}) into {}",
            a.events,
            cfg.customers,
            a.seed,
            dir.display()
        );
    }
    let s = load(&state.writer, project.id, cfg, a.json).await?;
    let listening = crate::demo_listen::load(&*state.store, project.id, a.seed).await?;
    crate::demo_act::load(&*state.store, project.id).await?;
    let articles = crate::kb::load_demo(&*state.store, project.id).await?;
    let service = crate::demo_service::load(&state, &project, a.seed).await?;
    // A person to sign in to the dashboard as: an owner of every project, with a fresh
    // random password (written beside the keys, and printed).
    let demo_password: String = {
        use rand::{distributions::Alphanumeric, Rng};
        rand::thread_rng().sample_iter(&Alphanumeric).take(16).map(char::from).collect()
    };
    touchpoint_engine::accounts::create_user(&*state.store, DEMO_EMAIL, Some(&demo_password), Role::Owner, None)
        .await
        .map_err(|e| msg(e.message))?;
    let keys = serde_json::json!({"project": name, "project_id": project.id, "write_key": write, "secret_key": secret,
        "server_key": server, "login": {"email": DEMO_EMAIL, "password": demo_password}});
    std::fs::write(dir.join("demo-keys.json"), serde_json::to_string_pretty(&keys)?)?;
    let addr = listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let state_smtp = state.config.smtp_url.clone();
    if a.json {
        let mut v = keys.clone();
        v["events"] = s.stored.into();
        v["address"] = addr.map(|a| format!("http://{a}")).into();
        println!("{v}");
    } else {
        println!(
            "Loaded {} events in {:.1} s ({:.0} events/s).",
            s.stored,
            s.seconds,
            s.stored as f64 / s.seconds.max(1e-9)
        );
        println!(
            "Surveys: {} answers to the NPS and CSAT surveys, {} ratings in the benchmark study.",
            listening.responses, listening.benchmark
        );
        println!("Project:    {name}");
        println!("Write key:  {write}");
        println!("Secret key: {secret}");
        println!("Server key: {server} (for your own servers and CRM: rule e-mails go only to addresses it gives)");
        println!("(also saved in {})", dir.join("demo-keys.json").display());
        if let Some(addr) = addr {
            println!();
            println!("Touchpoint is running at http://{addr}");
            println!("Dashboard:  open http://{addr}/ and sign in as {DEMO_EMAIL} with the password {demo_password}");
            println!("Try:");
            println!("  curl -s -H 'Authorization: Bearer {secret}' http://{addr}/api/touchpoints?lang=cs");
            // The last month of the history, which ends now.
            let day = touchpoint_core::event::format_date;
            let (from, to) = (day(now_ms() - 30 * 86_400_000), day(now_ms()));
            println!("  curl -s -H 'Authorization: Bearer {secret}' 'http://{addr}/api/volume?from={from}&to={to}'");
            println!("  curl -s -u '{write}:' -d '{{\"userId\":\"jana\",\"event\":\"Order Completed\"}}' http://{addr}/v1/track");
            println!("  curl -s -u '{server}:' -d '{{\"userId\":\"jana\",\"traits\":{{\"email\":\"jana@example.cz\"}}}}' http://{addr}/v1/identify");
            println!("  curl -s -H 'Authorization: Bearer {secret}' -d '{{\"survey\":\"nps-after-delivery\",\"by\":\"touchpoint\"}}' http://{addr}/api/listening/nps");
            println!("  curl -s -H 'Authorization: Bearer {secret}' -d '{{}}' http://{addr}/api/analytics/journey-map");
            println!(
                "The NPS survey in Czech, as a customer sees it: http://{addr}/o/{}?lang=cs",
                listening.nps_public_id
            );
            println!(
                "On a web page, Segment's browser SDK: AnalyticsBrowser.load({{ writeKey: \"{write}\", cdnURL: \"http://{addr}\" }})"
            );
            println!(
                "  or Touchpoint's snippet (page views, identify, consent, in-page surveys): <script src=\"http://{addr}/touchpoint.js\" data-key=\"{write}\" async></script>"
            );
            println!(
                "The customer portal's help centre ({articles} articles in cs/pl/en), in Czech: http://{addr}/portal/{}?lang=cs",
                project.id
            );
            if let Some((who, email, id)) = &service.czech {
                let base = format!("http://{addr}");
                let day = touchpoint_engine::portal::MAX_LINK_TTL_S;
                let link =
                    touchpoint_engine::portal::link_url(&*state.store, &project, Some(*id), None, day, None, &base)
                        .await?;
                println!("Sign in to the portal as {who} ({email}), a Czech customer with a request (the link works once, for 24 hours):");
                println!("  {link}?lang=cs");
                println!(
                    "  another link: touchpoint portal link --data-dir {} --project {} --customer {id} --email {email} --base-url {base}",
                    crate::admin::shell_word(&dir),
                    project.id
                );
            }
            println!(
                "The service team's {} requests: the dashboard's Requests view, or curl -s -H 'Authorization: Bearer {secret}' http://{addr}/api/requests",
                service.requests
            );
            println!("Does it help? The self-service report, its failed searches first:");
            println!("  curl -s -H 'Authorization: Bearer {secret}' 'http://{addr}/api/self-service?days=365'");
            let rule = crate::demo_act::KEY;
            println!("A trigger rule, a draft: what it would have done over the last 30 days, then switch it on:");
            println!("  curl -s -H 'Authorization: Bearer {secret}' http://{addr}/api/triggers/{rule}/preview");
            println!("  curl -s -X POST -H 'Authorization: Bearer {secret}' http://{addr}/api/triggers/{rule}/resume");
            if state_smtp.is_empty() {
                println!(
                    "  (its e-mails need an SMTP server: start the demo with TOUCHPOINT_SMTP_URL=smtp://HOST:PORT)"
                );
            }
            println!("Press Ctrl-C to stop.");
        }
    }
    // The server's own state must be the last handle on its writer, or stopping would wait
    // for this one forever.
    drop(state);
    match listener {
        Some(l) => {
            if a.json {
                // Scripts read the JSON line; stdout must be flushed before serving.
                std::io::stdout().flush()?;
            }
            touchpoint_server::Server::new(node).serve(l, crate::shutdown_signal()).await?;
        }
        None => node.close().await?,
    }
    Ok(())
}

pub fn gen(a: GenArgs) -> Result<()> {
    // The brand's history ends now: "now" in every analysis is the wall clock.
    let cfg = GenConfig { end_ms: now_ms(), ..GenConfig::for_events(a.events, a.seed) };
    let generator = Generator::new(cfg);
    let bar =
        crate::progress_bar(a.events as u64, "{spinner} generating [{bar:40}] {pos}/~{len} events ({eta} left)", false);
    let out: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| msg(format!("cannot write {}: {e}", p.display())))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let n = generator.write_ndjson(std::io::BufWriter::with_capacity(1 << 20, out), |n| bar.set_position(n))?;
    bar.finish_and_clear();
    eprintln!("Wrote {n} events.");
    Ok(())
}
