//! `touchpoint request …` and `touchpoint portal link`: the service team's requests from
//! the terminal — list and read them, reply (e-mailed to the customer), move and assign
//! them, mirror every change to a helpdesk — and a sign-in link to the portal for one
//! customer. Reading works beside a running server; a change goes through the writer, so
//! with a server running it is made through the server's API (the command says how).

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::Subcommand;
use std::path::PathBuf;
use touchpoint_core::IdentityKind;
use touchpoint_engine::portal;
use touchpoint_engine::service::{self, ListInput, RequestView, TeamChange};

/// How a change is made while a server runs.
const THROUGH_SERVER: &str = "change the request through it (PATCH /api/requests/ID with the secret key)";

/// `touchpoint request …`
#[derive(Subcommand)]
pub enum RequestCmd {
    /// List the project's requests, newest first.
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Only in this status (new, open, waiting, resolved, closed).
        #[arg(long)]
        status: Option<String>,
        /// Only this assignee's; `none` for the unassigned.
        #[arg(long)]
        assignee: Option<String>,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a request with its timeline.
    Show {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The request's id (`touchpoint request list`).
        #[arg(long)]
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reply to a request: the text is e-mailed to the customer in their language.
    Reply {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The request's id.
        #[arg(long)]
        id: i64,
        /// The reply (a UTF-8 file; `-` reads standard input).
        #[arg(long, conflicts_with = "text")]
        file: Option<PathBuf>,
        /// The reply, given here.
        #[arg(long)]
        text: Option<String>,
        /// Also move it to this status (default: waiting, on the customer).
        #[arg(long)]
        status: Option<String>,
        /// Who replies (shown to the team, not to the customer).
        #[arg(long, default_value = "cli")]
        by: String,
        /// Where customers reach the server, for the link in the e-mail.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Move a request (new → open → waiting → resolved → closed) or assign it.
    Set {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The request's id.
        #[arg(long)]
        id: i64,
        /// The new status.
        #[arg(long)]
        status: Option<String>,
        /// The new assignee (an empty text unassigns).
        #[arg(long)]
        assignee: Option<String>,
        /// Who changes it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Send every change of every request to a helpdesk's webhook (Standard Webhooks,
    /// signed; prints the secret once).
    Mirror {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The helpdesk's webhook receiver.
        #[arg(long)]
        url: String,
    },
}

/// `touchpoint portal …`
#[derive(Subcommand)]
pub enum PortalCmd {
    /// Print a signed single-use sign-in link to the portal for one customer (what the
    /// brand's site hands over through POST /api/portal/links).
    Link {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The customer's user id.
        #[arg(long, group = "who")]
        user_id: Option<String>,
        /// The customer's Touchpoint id.
        #[arg(long, group = "who")]
        customer: Option<i64>,
        /// With --user-id or --customer: their address (replies are e-mailed there).
        /// Alone: the address's own portal account (made on first use).
        #[arg(long)]
        email: Option<String>,
        /// Minutes the link works (1–1440).
        #[arg(long, default_value_t = 10)]
        ttl_minutes: i64,
        /// Where customers reach the server.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
}

/// A request's line in a list.
fn row(r: &RequestView) -> Vec<String> {
    vec![
        r.id.to_string(),
        r.status.clone(),
        r.subject.clone(),
        r.customer_id.to_string(),
        r.assignee.clone().unwrap_or_default(),
        r.updated.get(..16).unwrap_or_default().replace('T', " "),
    ]
}

/// Print a request and its timeline.
fn print_request(r: &RequestView) {
    println!("#{} {} [{}]", r.id, r.subject, r.status);
    println!(
        "customer {} · {} · opened {}{}",
        r.customer_id,
        r.lang,
        r.created,
        r.assignee.as_ref().map(|a| format!(" · assigned to {a}")).unwrap_or_default()
    );
    if let Some(h) = r.resolution_hours {
        println!("resolved in {h} h");
    }
    for e in r.entries.iter().flatten() {
        let who = match (e.author.as_str(), &e.author_name) {
            ("customer", _) => "customer".to_string(),
            (_, Some(n)) => format!("team ({n})"),
            _ => "team".to_string(),
        };
        match e.kind.as_str() {
            "status" => println!("\n{} {who}: status → {}", e.at, e.body),
            "assign" if e.body.is_empty() => println!("\n{} {who}: unassigned", e.at),
            "assign" => println!("\n{} {who}: assigned to {}", e.at, e.body),
            _ => println!("\n{} {who}:\n{}", e.at, e.body),
        }
    }
}

/// Run a `touchpoint request` command.
pub async fn run(cmd: RequestCmd) -> Result<()> {
    match cmd {
        RequestCmd::List { project, status, assignee, limit, json } => {
            let (store, p) = project.open().await?;
            let status = status.map(|s| s.trim().to_lowercase());
            let input = ListInput { status, assignee, customer: None, before: None, limit: Some(limit) };
            let all = service::list(&*store, p.id, &input).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("No requests. Customers open them in the portal: /portal/{}/requests", p.id);
            } else {
                let rows: Vec<Vec<String>> = all.iter().map(row).collect();
                crate::tables::table(&["id", "status", "subject", "customer", "assignee", "updated (UTC)"], &rows);
            }
        }
        RequestCmd::Show { project, id, json } => {
            let (store, p) = project.open().await?;
            let r = service::get(&*store, p.id, id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_request(&r);
            }
        }
        RequestCmd::Reply { project, id, file, text, status, by, base_url } => {
            let body = match (file, text) {
                (Some(f), _) if f.as_os_str() == "-" => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                    s
                }
                (Some(f), _) => std::fs::read_to_string(&f).map_err(|e| msg(format!("--file {}: {e}", f.display())))?,
                (None, Some(t)) => t,
                (None, None) => return Err(msg("give the reply: --text TEXT or --file FILE")),
            };
            let status = status.map(|s| s.trim().to_lowercase());
            let change = TeamChange { body: Some(body), status, assignee: None };
            let out = change_request(&project, id, &by, &change, &base_url).await?;
            let mail = match out.email.as_deref() {
                Some("sent") => "e-mailed to the customer".to_string(),
                Some("no_address") => "not e-mailed: the customer gave no address".to_string(),
                Some("no_smtp") => "not e-mailed: no SMTP server is configured (smtp_url)".to_string(),
                Some(other) => format!("not e-mailed: {other}"),
                None => String::new(),
            };
            println!("Replied to request {id} ({mail}); it is now {}.", out.request.status);
        }
        RequestCmd::Set { project, id, status, assignee, by } => {
            let status = status.map(|s| s.trim().to_lowercase());
            let change = TeamChange { body: None, status, assignee };
            let out = change_request(&project, id, &by, &change, "").await?;
            let r = out.request;
            let who = r.assignee.map(|a| format!(", assigned to {a}")).unwrap_or_default();
            println!("Request {id} is now {}{who}.", r.status);
        }
        RequestCmd::Mirror { project, url } => {
            let node = crate::catalog::writer_for(&project, "ask it: POST /api/requests/mirror").await?;
            let engine = node.engine().clone();
            let p = project.find(&*engine.store).await?;
            let out = service::mirror(&engine, p.id, &url).await;
            drop(engine);
            node.close().await?;
            let (rules, secret) = out?;
            println!("Every change of a request now goes to {url} (trigger rules {}).", rules.join(", "));
            println!("Its signing secret (shown once; verify the webhook-signature header with it):\n{secret}");
        }
    }
    Ok(())
}

/// Make a team change through the writer.
async fn change_request(
    project: &ProjectArgs,
    id: i64,
    by: &str,
    change: &TeamChange,
    base_url: &str,
) -> Result<service::ChangeAnswer> {
    let node = crate::catalog::writer_for(project, THROUGH_SERVER).await?;
    let engine = node.engine().clone();
    let out = match project.find(&*engine.store).await {
        Ok(p) => service::team_change(&engine, p.id, id, by, change, base_url).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    drop(engine);
    node.close().await?;
    out
}

/// Run a `touchpoint portal` command.
pub async fn run_portal(cmd: PortalCmd) -> Result<()> {
    match cmd {
        PortalCmd::Link { project, user_id, customer, email, ttl_minutes, base_url } => {
            if !(1..=portal::MAX_LINK_TTL_S / 60).contains(&ttl_minutes) {
                return Err(msg("--ttl-minutes is 1 to 1440"));
            }
            let (store, p) = project.open().await?;
            let email = email.map(|e| portal::email_address("--email", &e)).transpose()?;
            let who = match (user_id, customer) {
                (Some(u), None) => match store.find_identity(p.id, IdentityKind::User, &u).await? {
                    Some(c) => Some(c),
                    None => return Err(msg(format!("no customer of {} has the user id {u:?}", p.name))),
                },
                (None, Some(c)) => Some(touchpoint_engine::read::canonical(&*store, p.id, c).await?),
                (None, None) if email.is_some() => None,
                _ => return Err(msg("name the customer: --user-id or --customer (with --email or not), or --email")),
            };
            let url = portal::link_url(&*store, &p, who, email, ttl_minutes * 60, None, &base_url).await?;
            println!("{url}");
            eprintln!("(works once, for {ttl_minutes} minutes)");
        }
    }
    Ok(())
}
