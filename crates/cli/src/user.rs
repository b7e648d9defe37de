//! `touchpoint user …`: the people who sign in to the dashboard — make an account (its
//! password read from standard input, never from a flag, where the shell's history and
//! `ps` would keep it), list them with their roles, and give or take away a role. API keys
//! (`touchpoint key`) stay for machines.

use crate::anyhow_lite::{msg, Result};
use crate::Common;
use clap::Subcommand;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Read};
use touchpoint_core::access::Role;
use touchpoint_engine::accounts;

/// `touchpoint user …`
#[derive(Subcommand)]
pub enum UserCmd {
    /// Make an account with a role on one project (--project) or on every project. The
    /// password comes from standard input (typed, unseen, at a terminal; or piped), or,
    /// with --link, the person sets it through a one-time link this prints.
    Create {
        /// The person's e-mail address (their sign-in name).
        #[arg(long)]
        email: String,
        /// owner (everything, keys and people too), analyst (reads everything; edits the
        /// catalog, surveys and rules) or viewer (reads).
        #[arg(long)]
        role: String,
        /// Project name or id; without it, the role holds on every project.
        #[arg(long)]
        project: Option<String>,
        /// Print a one-time link (valid 7 days) with which the person sets their own
        /// password, instead of reading one from standard input.
        #[arg(long)]
        link: bool,
        /// The config file and the data directory.
        #[command(flatten)]
        common: Common,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the accounts and their roles.
    List {
        /// The config file and the data directory.
        #[command(flatten)]
        common: Common,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give someone a role on a project (or on every project), or take it away (--remove).
    Role {
        /// The person's e-mail address.
        #[arg(long)]
        email: String,
        /// owner, analyst or viewer.
        #[arg(long, required_unless_present = "remove")]
        role: Option<String>,
        /// Project name or id; without it, every project.
        #[arg(long)]
        project: Option<String>,
        /// Take the role there away instead.
        #[arg(long, conflicts_with = "role")]
        remove: bool,
        /// The config file and the data directory.
        #[command(flatten)]
        common: Common,
    },
}

fn role(name: &str) -> Result<Role> {
    Role::parse(name).ok_or_else(|| msg(format!("--role {name:?}: use owner, analyst or viewer")))
}

/// The password from standard input: typed without echo at a terminal, or the first line
/// of what is piped in.
fn read_password(email: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for {email} (at least {} characters, not shown): ", accounts::MIN_PASSWORD_CHARS);
        let quiet = |on: bool| {
            let _ = std::process::Command::new("stty").arg(if on { "-echo" } else { "echo" }).status();
        };
        quiet(true);
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        quiet(false);
        eprintln!();
        read?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let mut all = String::new();
    stdin.lock().take(accounts::MAX_PASSWORD_BYTES as u64 + 2).read_to_string(&mut all)?;
    let line = all.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(msg("no password on standard input: type it at a terminal, or pipe it in (printf '%s' \"$PW\" | touchpoint user create …)"));
    }
    Ok(line)
}

pub async fn run(cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create { email, role: r, project, link, common, json } => {
            let r = role(&r)?;
            let address = accounts::email(&email).map_err(|e| msg(e.message))?;
            let store = crate::admin::open_shared(&common).await?;
            let project = match project {
                Some(p) => Some(crate::admin::find_project(&*store, &p).await?),
                None => None,
            };
            if store.user_by_email(&address).await?.is_some() {
                return Err(msg(format!(
                    "{address} already has an account (touchpoint user role gives it another role)"
                )));
            }
            let password = if link { None } else { Some(read_password(&address)?) };
            if let Some(p) = &password {
                accounts::check_password(p).map_err(|e| msg(e.message))?;
            }
            let made = accounts::create_user(&*store, &address, password.as_deref(), r, project.as_ref().map(|p| p.id))
                .await
                .map_err(|e| msg(e.message))?;
            // Where the server is reached: its public address, or where it listens.
            let config = common.config()?;
            let base = match config.public_url.trim_end_matches('/') {
                "" => format!("http://{}", config.listen),
                url => url.to_string(),
            };
            let url = made.link.map(|t| format!("{base}/set-password?link={t}"));
            let on = project.as_ref().map_or("every project".to_string(), |p| format!("project {:?}", p.name));
            if json {
                println!(
                    "{}",
                    json!({"id": made.user.id, "email": made.user.email, "role": r, "project_id": project.map(|p| p.id), "link": url})
                );
            } else {
                println!("Created the account {} ({} on {on}).", made.user.email, r);
                if let Some(url) = url {
                    println!("Send them this one-time link to set their password (valid 7 days):\n  {url}");
                }
            }
        }
        UserCmd::List { common, json } => {
            let store = crate::admin::open_shared(&common).await?;
            let users = accounts::users(&*store).await.map_err(|e| msg(e.message))?;
            let names: std::collections::HashMap<i64, String> =
                store.projects().await?.into_iter().map(|p| (p.id, p.name)).collect();
            if json {
                let v: Vec<_> = users
                    .iter()
                    .map(|(u, g)| json!({"id": u.id, "email": u.email, "has_password": u.password_hash.is_some(), "roles": g}))
                    .collect();
                println!("{}", serde_json::to_string(&v)?);
                return Ok(());
            }
            if users.is_empty() {
                println!("No accounts yet: touchpoint user create --email … --role owner");
            }
            for (u, grants) in users {
                let roles: Vec<String> = grants
                    .iter()
                    .map(|g| match g.project {
                        None => format!("{} on every project", g.role),
                        Some(p) => format!("{} on {:?}", g.role, names.get(&p).cloned().unwrap_or(p.to_string())),
                    })
                    .collect();
                let roles = if roles.is_empty() { "no role".to_string() } else { roles.join(", ") };
                println!("{:>4}  {}  {roles}", u.id, u.email);
            }
        }
        UserCmd::Role { email, role: r, project, remove, common } => {
            let r = if remove { None } else { r.as_deref().map(role).transpose()? };
            let store = crate::admin::open_shared(&common).await?;
            let project = match project {
                Some(p) => Some(crate::admin::find_project(&*store, &p).await?),
                None => None,
            };
            let user = accounts::set_role(&*store, &email, project.as_ref().map(|p| p.id), r)
                .await
                .map_err(|e| msg(e.message))?;
            let on = project.as_ref().map_or("every project".to_string(), |p| format!("project {:?}", p.name));
            match r {
                Some(r) => println!("{} is now {r} on {on}.", user.email),
                None => println!("{} no longer has a role of its own on {on}.", user.email),
            }
        }
    }
    Ok(())
}
