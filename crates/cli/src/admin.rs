//! `touchpoint project …` and `touchpoint key …`: administration straight on the data
//! directory (beside a running server, too), with `--json` for scripts.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use crate::Common;
use clap::Subcommand;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use touchpoint_core::catalog::default_catalog;
use touchpoint_core::KeyKind;
use touchpoint_store::Store;
use touchpoint_store::{issue_key, MetaStore, Project};
use touchpoint_store_sqlite::SqliteStore;

/// `touchpoint project …`
#[derive(Subcommand)]
pub enum ProjectCmd {
    /// Create a project with the default catalog, a write key and a secret key.
    Create {
        /// Its name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Change a project's time zone (IANA, e.g. Europe/Prague), churn horizon, or the brand
    /// and language of its survey pages. An empty value ('') removes a brand setting.
    Set {
        /// Project name or id.
        name: String,
        /// IANA time zone for days, weeks and months.
        #[arg(long)]
        timezone: Option<String>,
        /// Days of silence after which a customer counts as churned.
        #[arg(long)]
        churn_horizon_days: Option<i64>,
        /// The brand's name in the survey pages' header.
        #[arg(long)]
        brand_name: Option<String>,
        /// The brand's colour for buttons and chosen answers, as #rrggbb (e.g. '#2e7d32').
        #[arg(long)]
        brand_color: Option<String>,
        /// The brand's logo in the survey pages' header: an https URL.
        #[arg(long)]
        logo_url: Option<String>,
        /// The brand's privacy page, linked in the survey pages' footer: an https URL.
        #[arg(long)]
        privacy_url: Option<String>,
        /// The language survey pages open in when the respondent asks for none the survey
        /// has: en, cs or pl.
        #[arg(long)]
        lang: Option<String>,
        /// The brand's websites, which may show its survey pages in a frame (the widget):
        /// origins separated by spaces, e.g. 'https://zahradka.cz https://www.zahradka.cz'.
        #[arg(long)]
        site_origins: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the project's identity secret: its web servers compute, with it, the HMAC of
    /// a signed-in customer's user id and e-mail address and put it in the page, so the
    /// address a page sends through the public write key is one rule e-mails may go to.
    IdentitySecret {
        /// Project name or id.
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// List projects.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// `touchpoint key …`
#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create a key; its token is shown once.
    Create {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// write (send events from pages and apps: public), server (send events from your own
        /// servers: the e-mail addresses they give are believed) or secret (read and
        /// administer).
        #[arg(long, default_value = "write")]
        kind: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a project's keys (their prefixes only).
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: every request with it is refused from then on (a running server
    /// within 10 seconds). Not the project's last secret key: make another first.
    Revoke {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The key's id (`touchpoint key list`).
        #[arg(long)]
        id: i64,
    },
}

/// Open an existing data directory for administration.
pub async fn open_shared(common: &Common) -> Result<Arc<dyn Store>> {
    let config = common.config()?;
    require_store(&config.data_dir)?;
    open_config(&config).await
}

/// The configured store beside a running writer: the data directory's, with the metadata
/// on PostgreSQL when `meta_store` (or `TOUCHPOINT_META_STORE`) names it.
async fn open_config(config: &touchpoint_engine::Config) -> Result<Arc<dyn Store>> {
    Ok(touchpoint_engine::backends::open_shared_store(config).await?)
}

/// Whether a process (a server or a demo) holds the data directory's writer lock now.
pub fn held_by_server(dir: &Path) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(touchpoint_store_sqlite::LOCK_FILE))
        .is_ok_and(|f| f.try_lock().is_err())
}

/// Refuse a data directory that holds no store: only `project create`, `demo` and `serve`
/// make one. The error names the directory looked in and any store directories nearby.
pub fn require_store(dir: &Path) -> Result<()> {
    if SqliteStore::exists(dir) {
        return Ok(());
    }
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let hint = match store_dirs_in(Path::new(".")).as_slice() {
        [] => "create one with `touchpoint project create NAME --data-dir DIR` (or run `touchpoint demo`)".to_string(),
        found => format!("data directories here: {} (pass one with --data-dir)", found.join(", ")),
    };
    Err(msg(format!("no Touchpoint data in {} (nothing was created there); {hint}", shown.display())))
}

/// A path as one shell word for a command a person copies: as it is when it needs no
/// quoting, else in single quotes (a `'` inside written `'\''`).
pub fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The directories in `parent` that hold a Touchpoint store, by name, sorted.
pub fn store_dirs_in(parent: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| SqliteStore::exists(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// Before `serve` makes a new embedded store: refuse a data directory that does not exist
/// when store directories are beside it (a mistyped `--data-dir` would otherwise start an
/// empty server in silence). Returns whether the store will be new, so that the server
/// can say so and what to do next.
pub fn check_new_store(dir: &Path) -> Result<bool> {
    if SqliteStore::exists(dir) {
        return Ok(false);
    }
    if !dir.exists() {
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let beside = store_dirs_in(parent);
        if !beside.is_empty() {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            return Err(msg(format!(
                "no Touchpoint data in {} (nothing was created there); data directories beside it: {} \
                 (pass one with --data-dir); to start a new, empty store there, make the directory first \
                 (mkdir {})",
                shown.display(),
                beside.join(", "),
                shell_word(dir)
            )));
        }
    }
    Ok(true)
}

/// Find a project by name or id.
pub async fn find_project(store: &dyn MetaStore, which: &str) -> Result<Project> {
    if let Some(p) = store.project_by_name(which).await? {
        return Ok(p);
    }
    if let Ok(id) = which.parse::<i64>() {
        if let Some(p) = store.project(id).await? {
            return Ok(p);
        }
    }
    let names: Vec<String> = store.projects().await?.into_iter().map(|p| p.name).collect();
    Err(msg(format!(
        "no project {which:?}; projects here: {}",
        if names.is_empty() {
            "none (create one with `touchpoint project create NAME`)".into()
        } else {
            names.join(", ")
        }
    )))
}

/// Create a project with a write and a secret key; returns (project, write, secret).
pub async fn create_project(
    store: &dyn MetaStore,
    name: &str,
    catalog: &touchpoint_core::Catalog,
) -> Result<(Project, String, String)> {
    let p = store.create_project(name, catalog).await?;
    let (write, _) = issue_key(store, p.id, KeyKind::Write).await?;
    let (secret, _) = issue_key(store, p.id, KeyKind::Secret).await?;
    Ok((p, write, secret))
}

pub async fn project(cmd: ProjectCmd) -> Result<()> {
    match cmd {
        ProjectCmd::Create { name, json, common } => {
            // The one admin command that may make a new store.
            let store = open_config(&common.config()?).await?;
            let (p, write, secret) = create_project(&*store, &name, &default_catalog()).await?;
            if json {
                println!("{}", json!({"id": p.id, "name": p.name, "write_key": write, "secret_key": secret}));
            } else {
                println!("Created project {:?} (id {}).", p.name, p.id);
                println!("  write key  (for SDKs and the browser): {write}");
                println!("  secret key (to read and administer):  {secret}");
                println!("The keys are shown only now; keep the secret key secret.");
            }
        }
        ProjectCmd::Set {
            name,
            timezone,
            churn_horizon_days,
            brand_name,
            brand_color,
            logo_url,
            privacy_url,
            lang,
            site_origins,
            common,
        } => {
            let store = open_shared(&common).await?;
            let p = find_project(&*store, &name).await?;
            let settings = touchpoint_engine::read::ProjectSettings {
                timezone,
                churn_horizon_days,
                brand_name,
                brand_color,
                brand_logo_url: logo_url,
                privacy_url,
                default_lang: lang,
                site_origins,
            };
            let p = touchpoint_engine::read::update_project(&*store, &p, settings).await?;
            println!(
                "Project {:?}: time zone {}, churn after {} days of silence.",
                p.name, p.timezone, p.churn_horizon_days
            );
            let b = &p.brand;
            let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
            println!(
                "Survey pages: brand {}, colour {}, logo {}, privacy page {}, language {} when the respondent asks for none.",
                or_none(&b.brand_name),
                or_none(&b.brand_color),
                or_none(&b.brand_logo_url),
                or_none(&b.privacy_url),
                b.default_lang.clone().unwrap_or_else(|| "the survey's own".into()),
            );
            if let Some(sites) = &b.site_origins {
                println!("They may be shown in a frame on: {sites}.");
            }
        }
        ProjectCmd::IdentitySecret { name, common } => {
            let store = open_shared(&common).await?;
            let p = find_project(&*store, &name).await?;
            let secret = touchpoint_engine::capture::identity_secret(&*store, p.id).await?;
            println!("{secret}");
            eprintln!(
                "Keep it on your servers only. For a signed-in customer, put hex(HMAC-SHA256(this secret, user id + \"\\n\" + e-mail address)) in the page and send it with the identify call as context.email_hmac."
            );
        }
        ProjectCmd::List { json, common } => {
            let store = open_shared(&common).await?;
            let list = store.projects().await?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("No projects yet: create one with `touchpoint project create NAME`.");
            } else {
                println!("{:>4}  {:<30} {:<10} stages", "id", "name", "timezone");
                for p in list {
                    let stages: Vec<_> = p.stages.iter().map(|s| s.key.as_str()).collect();
                    println!("{:>4}  {:<30} {:<10} {}", p.id, p.name, p.timezone, stages.join(" → "));
                }
            }
        }
    }
    Ok(())
}

pub async fn key(cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Create { project, kind, json } => {
            let kind =
                KeyKind::parse(&kind).ok_or_else(|| msg(format!("--kind {kind:?}: use write, server or secret")))?;
            let (store, p) = project.open().await?;
            let (token, info) = issue_key(&*store, p.id, kind).await?;
            if json {
                println!("{}", json!({"id": info.id, "project_id": p.id, "kind": kind, "key": token}));
            } else {
                println!("Created a {} key for {:?}: {token}", kind.as_str(), p.name);
                println!("It is shown only now.");
            }
        }
        KeyCmd::Revoke { project, id } => {
            let (store, p) = project.open().await?;
            let k = touchpoint_engine::read::revoke_key(&*store, p.id, id).await?;
            println!("Revoked the {} key {}… of {:?}.", k.kind.as_str(), k.prefix, p.name);
        }
        KeyCmd::List { project, json } => {
            let (store, p) = project.open().await?;
            let keys = store.keys(p.id).await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                for k in keys {
                    println!(
                        "{:>4}  {:<7} {}…  created {}",
                        k.id,
                        k.kind.as_str(),
                        k.prefix,
                        touchpoint_core::event::format_time(k.created_ms)
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shell_word;
    use std::path::Path;

    #[test]
    fn paths_are_quoted_only_when_a_shell_needs_it() {
        for (path, word) in [
            ("touchpoint-data", "touchpoint-data"),
            ("/srv/tp/data_1", "/srv/tp/data_1"),
            ("./my data", "'./my data'"),
            ("Zahrádka", "'Zahrádka'"),
            ("it's", "'it'\\''s'"),
            ("$HOME/x", "'$HOME/x'"),
        ] {
            assert_eq!(shell_word(Path::new(path)), word, "{path}");
        }
    }
}
