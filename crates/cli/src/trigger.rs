//! `touchpoint trigger …`: create, list, show, change, pause and resume trigger rules beside
//! a running server (the store only; the server reads rule changes within two seconds),
//! list their firings and replay the dead-letter list; `preview` and `report` read the
//! journeys, so they open the data directory themselves and, when a server holds it, say
//! which API route answers the same.

use crate::anyhow_lite::Result;
use crate::args::ProjectArgs;
use crate::survey::read_json;
use clap::Subcommand;
use std::path::PathBuf;
use touchpoint_engine::triggers::{self as t, measure};
use touchpoint_store::triggers::TriggerStatus;

/// `touchpoint trigger …`
#[derive(Subcommand)]
pub enum TriggerCmd {
    /// Create a rule from a JSON definition (a draft: preview it, then `resume` it).
    Create {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key (`late-delivery-apology`).
        #[arg(long)]
        key: String,
        /// The definition (JSON file: name, when, who, then, holdout, goal, guard).
        #[arg(long)]
        file: PathBuf,
        /// Switch it on at once.
        #[arg(long)]
        live: bool,
    },
    /// Replace a rule's definition.
    Edit {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
        /// The new definition (JSON file).
        #[arg(long)]
        file: PathBuf,
    },
    /// List the rules with their firings.
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one rule (secrets shortened).
    Show {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
    },
    /// Switch a rule off (what was decided is still delivered).
    Pause {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
    },
    /// Switch a rule on.
    Resume {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
    },
    /// What a rule would have done over the last days (needs the data directory to itself).
    Preview {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
        /// Days to look back.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Treated against held-out customers on the rule's goal (needs the data directory
    /// to itself).
    Report {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A rule's firings, newest first (`--state dead`: the dead-letter list).
    Firings {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
        /// Only in this state: waiting, pending, delivered, held_out, suppressed, cancelled, dead, ready.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Send dead firings again, with their ids (one with --id, else all of the rule's).
    Replay {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule's key.
        #[arg(long)]
        key: String,
        /// One firing.
        #[arg(long)]
        id: Option<String>,
    },
}

fn counts(v: &t::TriggerView) -> String {
    let parts: Vec<String> = v.firings.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if parts.is_empty() {
        "no firings yet".into()
    } else {
        parts.join(", ")
    }
}

pub async fn run(cmd: TriggerCmd) -> Result<()> {
    match cmd {
        TriggerCmd::Create { project, key, file, live } => {
            let (store, p) = project.open().await?;
            let c = t::create(&*store, p.id, &key, &read_json(&file)?, live).await?;
            match live {
                true => println!("Created rule {key}; it is live."),
                false => println!(
                    "Created rule {key} as a draft. See what it would do: touchpoint trigger preview --project {} --key {key}; then switch it on: touchpoint trigger resume --project {} --key {key}",
                    project.project, project.project
                ),
            }
            if let Some(secret) = c.secret {
                println!("Its webhook signing secret (shown once): {secret}");
            }
        }
        TriggerCmd::Edit { project, key, file } => {
            let (store, p) = project.open().await?;
            let v = t::update(&*store, p.id, &key, &read_json(&file)?).await?;
            println!("Rule {} changed; it is {}.", v.key, v.status);
        }
        TriggerCmd::List { project, json } => {
            let (store, p) = project.open().await?;
            let mut views = vec![];
            for row in store.trigger_rules(Some(p.id)).await? {
                views.push(t::view(&*store, &row).await?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if views.is_empty() {
                println!("No trigger rules yet. Create one: touchpoint trigger create --project {} --key KEY --file rule.json", project.project);
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        let name = v.definition["name"].as_str().unwrap_or_default().to_string();
                        vec![v.key.clone(), v.status.clone(), name, counts(v)]
                    })
                    .collect();
                crate::tables::table(&["rule", "status", "name", "firings"], &rows);
            }
        }
        TriggerCmd::Show { project, key } => {
            let (store, p) = project.open().await?;
            let row = t::find(&*store, p.id, &key).await?;
            println!("{}", serde_json::to_string_pretty(&t::view(&*store, &row).await?)?);
        }
        TriggerCmd::Pause { project, key } => status(&project, &key, TriggerStatus::Paused).await?,
        TriggerCmd::Resume { project, key } => status(&project, &key, TriggerStatus::Live).await?,
        TriggerCmd::Preview { project, key, days, json } => {
            let through = format!("ask it: GET /api/triggers/{key}/preview?days={days}");
            let node = crate::catalog::writer_for(&project, &through).await?;
            let engine = node.engine().clone();
            let p = project.find(&*engine.store).await?;
            let out = measure::preview(&engine, p.id, Some(&key), None, days).await;
            drop(engine);
            node.close().await?;
            let out = out?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "Over the last {} days this rule would have fired {} times for {} customers ({} of them held out); {} held by quiet hours, {} stopped by caps, {} kept out by its re-entry policy, {} cancelled by the follow-up, {} still waiting.",
                    out.days, out.fired, out.customers, out.held_out, out.held_by_quiet_hours, out.suppressed_by_caps,
                    out.skipped_by_reentry, out.cancelled_by_follow_up, out.still_waiting
                );
                for n in &out.notes {
                    println!("Note: {n}.");
                }
            }
        }
        TriggerCmd::Report { project, key, json } => {
            let through = format!("ask it: GET /api/triggers/{key}/report");
            let node = crate::catalog::writer_for(&project, &through).await?;
            let engine = node.engine().clone();
            let p = project.find(&*engine.store).await?;
            let out = measure::report(&engine, p.id, &key).await;
            drop(engine);
            node.close().await?;
            let out = out?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{} ({}), {}", out.name, out.key, out.status);
                println!("{}", out.summary);
            }
        }
        TriggerCmd::Firings { project, key, state, limit } => {
            let (store, p) = project.open().await?;
            let list = t::firings(&*store, p.id, &key, state.as_deref(), None, limit).await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|f| {
                    vec![
                        f.id.clone(),
                        f.customer_id.to_string(),
                        f.state.clone(),
                        f.reason.clone().unwrap_or_default(),
                        f.attempts.to_string(),
                        f.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            crate::tables::table(&["firing", "customer", "state", "reason", "tries", "last error"], &rows);
        }
        TriggerCmd::Replay { project, key, id } => {
            let (store, p) = project.open().await?;
            let n = t::replay(&*store, p.id, &key, id.as_deref()).await?;
            println!("{n} firings queued again; the server sends them within a second.");
        }
    }
    Ok(())
}

async fn status(project: &ProjectArgs, key: &str, status: TriggerStatus) -> Result<()> {
    let (store, p) = project.open().await?;
    let v = t::set_status(&*store, p.id, key, status).await?;
    println!("Rule {} is {} ({}).", v.key, v.status, counts(&v));
    Ok(())
}
