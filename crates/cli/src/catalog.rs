//! `touchpoint touchpoint list|show|add|set` and `touchpoint rule list|add|remove|test`:
//! the touchpoint catalog from the command line. The work is the server crate's catalog use
//! cases (the same as `/api/touchpoints` and `/api/rules`); here are the flags and tables.
//!
//! Listing, showing and testing read the store beside a running server. Changing a
//! touchpoint writes it too (a running server sees it after a restart or a rule change);
//! adding or removing a rule re-classifies past events, which needs the data directory's
//! writer: with a server running, the command says to use the API instead.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use crate::tables::{fit, table};
use clap::Subcommand;
use serde_json::json;
use touchpoint_core::{Channel, Lang, Localized, Rule, TouchpointKind};
use touchpoint_engine::read::{NewTouchpoint, TouchpointInput};
use touchpoint_store::StoredTouchpoint;

/// The fields of a touchpoint that `add` and `set` take.
#[derive(clap::Args, Clone, Default)]
pub struct TouchpointFlags {
    /// Channel: web, app, email, ads, search, social, review, forum, blog, phone, store, chat, self-service, survey or other.
    #[arg(long)]
    channel: Option<String>,
    /// direct or indirect.
    #[arg(long)]
    kind: Option<String>,
    /// One of the project's stage keys ('' clears it).
    #[arg(long)]
    stage: Option<String>,
    /// The department that owns it ('' clears it).
    #[arg(long)]
    department: Option<String>,
    /// Reaching it is a conversion goal (true/false).
    #[arg(long)]
    goal: Option<bool>,
    /// Reaching it is a sign the customer is leaving (true/false).
    #[arg(long)]
    churn: Option<bool>,
    /// Names as `en=Cart,cs=Košík,pl=Koszyk` (the missing ones stay).
    #[arg(long)]
    names: Option<String>,
}

/// `touchpoint touchpoint …`
#[derive(Subcommand)]
pub enum TouchpointCmd {
    /// The project's touchpoints: channel, stage, goal and churn flags, what is unclassified.
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Names in en, cs or pl.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One touchpoint and the rules that map events to it.
    Show {
        /// Its key.
        key: String,
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a touchpoint (events reach it through a rule: `touchpoint rule add`).
    Add {
        /// Its key, e.g. order-returned.
        key: String,
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// What it is: channel, kind, stage, department, flags, names.
        #[command(flatten)]
        fields: TouchpointFlags,
    },
    /// Classify a touchpoint; what is not given stays as it is.
    Set {
        /// Its key.
        key: String,
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// What it is: channel, kind, stage, department, flags, names.
        #[command(flatten)]
        fields: TouchpointFlags,
    },
}

/// `touchpoint rule …`
#[derive(Subcommand)]
pub enum RuleCmd {
    /// The project's mapping rules in the order they run.
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a rule and re-classify past events (stop a running server first, or use POST /api/rules).
    Add {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule.
        #[command(flatten)]
        rule: RuleFlags,
    },
    /// Remove a rule and re-classify past events.
    Remove {
        /// The rule's id (`touchpoint rule list`).
        id: i64,
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Which of the most recent events a rule would map, and from which touchpoints; changes nothing.
    Test {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The rule.
        #[command(flatten)]
        rule: RuleFlags,
        /// How many of the newest events to look at.
        #[arg(long, default_value_t = 10_000)]
        last: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A rule from flags, or whole as JSON.
#[derive(clap::Args, Clone)]
pub struct RuleFlags {
    /// The touchpoint key events map to.
    #[arg(long, required_unless_present = "json_rule")]
    touchpoint: Option<String>,
    /// Only events of this type (track, page, screen).
    #[arg(long)]
    event_type: Option<String>,
    /// Only events with this name (a track event's, or a page's or screen's).
    #[arg(long)]
    event_name: Option<String>,
    /// Conditions as JSON, e.g. '[{"field":"path","op":"prefix","value":"/kosik"}]'.
    #[arg(long)]
    conditions: Option<String>,
    /// Lower runs first.
    #[arg(long, default_value_t = 10)]
    priority: i32,
    /// The whole rule as JSON (as `POST /api/rules` takes it) instead of the flags above.
    #[arg(long = "rule", id = "json_rule")]
    json_rule: Option<String>,
}

impl RuleFlags {
    fn rule(&self) -> Result<Rule> {
        if let Some(text) = &self.json_rule {
            return serde_json::from_str(text).map_err(|e| msg(format!("--rule is not a rule: {e}")));
        }
        let event_type = self
            .event_type
            .as_deref()
            .map(|t| {
                touchpoint_core::EventType::parse(t).ok_or_else(|| {
                    msg(format!("--event-type {t:?}: use track, page, screen, identify, group or alias"))
                })
            })
            .transpose()?;
        let conditions = match &self.conditions {
            Some(c) => serde_json::from_str(c).map_err(|e| msg(format!("--conditions: {e}")))?,
            None => vec![],
        };
        Ok(Rule {
            id: 0,
            priority: self.priority,
            touchpoint: self.touchpoint.clone().unwrap_or_default(),
            event_type,
            event_name: self.event_name.clone(),
            conditions,
        })
    }
}

fn cleared(v: &Option<String>) -> Option<Option<String>> {
    v.as_ref().map(|s| (!s.trim().is_empty()).then(|| s.trim().to_string()))
}

impl TouchpointFlags {
    fn input(&self, old: Option<&Localized>) -> Result<TouchpointInput> {
        let channel = self
            .channel
            .as_deref()
            .map(|c| {
                Channel::parse(c).ok_or_else(|| {
                    let all: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
                    let hint = match touchpoint_core::suggest::hint(c, all.clone()) {
                        h if h.is_empty() => ".".to_string(),
                        h => h,
                    };
                    msg(format!("--channel {c:?} is not a channel{hint} Channels: {}.", all.join(", ")))
                })
            })
            .transpose()?;
        let kind = self
            .kind
            .as_deref()
            .map(|k| TouchpointKind::parse(k).ok_or_else(|| msg(format!("--kind {k:?}: use direct or indirect"))))
            .transpose()?;
        let names = match &self.names {
            None => None,
            Some(spec) => {
                let mut n = old.cloned().unwrap_or_default();
                for part in spec.split(',') {
                    let (lang, text) = part
                        .split_once('=')
                        .ok_or_else(|| msg(format!("--names {spec:?}: write en=Cart,cs=Košík,pl=Koszyk")))?;
                    match Lang::parse(lang.trim()) {
                        Some(Lang::En) => n.en = text.trim().into(),
                        Some(Lang::Cs) => n.cs = text.trim().into(),
                        Some(Lang::Pl) => n.pl = text.trim().into(),
                        None => return Err(msg(format!("--names: {lang:?} is not en, cs or pl"))),
                    }
                }
                Some(n)
            }
        };
        Ok(TouchpointInput {
            names,
            channel,
            kind,
            stage: cleared(&self.stage),
            department: cleared(&self.department),
            conversion: self.goal,
            churn: self.churn,
        })
    }
}

fn flags(t: &touchpoint_core::Touchpoint) -> String {
    let mut f = vec![];
    if t.conversion {
        f.push("goal");
    }
    if t.churn {
        f.push("churn signal");
    }
    if t.discovered {
        f.push("unclassified");
    }
    f.join(", ")
}

fn print_touchpoints(list: &[StoredTouchpoint], lang: Lang) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let tp = &s.touchpoint;
            vec![
                tp.key.clone(),
                tp.names.get(lang).to_string(),
                tp.channel.as_str().into(),
                tp.stage.clone().unwrap_or_else(|| "—".into()),
                flags(tp),
            ]
        })
        .collect();
    table(&["key", "name", "channel", "stage", "flags"], &rows);
    let open = list.iter().filter(|s| s.touchpoint.discovered).count();
    if open > 0 {
        println!(
            "{open} touchpoints are unclassified: `touchpoint touchpoint set KEY --project P --stage … --channel …`"
        );
    }
}

pub async fn touchpoint(cmd: TouchpointCmd) -> Result<()> {
    match cmd {
        TouchpointCmd::List { project, lang, json } => {
            let (store, p) = project.open().await?;
            let lang = Lang::parse(&lang).ok_or_else(|| msg(format!("--lang {lang:?}: use en, cs or pl")))?;
            let list = store.touchpoints(p.id).await?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                print_touchpoints(&list, lang);
            }
        }
        TouchpointCmd::Show { key, project, json } => {
            let (store, p) = project.open().await?;
            let all = store.touchpoints(p.id).await?;
            let Some(t) = all.iter().find(|t| t.touchpoint.key == key) else {
                let hint = touchpoint_core::suggest::hint(&key, all.iter().map(|t| t.touchpoint.key.as_str()));
                return Err(msg(format!("no touchpoint {key:?} in {:?}{hint}", p.name)));
            };
            let rules: Vec<Rule> = store.rules(p.id).await?.into_iter().filter(|r| r.touchpoint == key).collect();
            if json {
                println!("{}", json!({"touchpoint": t, "rules": rules}));
            } else {
                let tp = &t.touchpoint;
                println!("{}  ({} / {} / {})", tp.key, tp.names.en, tp.names.cs, tp.names.pl);
                println!(
                    "  channel {}, {}, stage {}",
                    tp.channel.as_str(),
                    tp.kind.as_str(),
                    tp.stage.as_deref().unwrap_or("—")
                );
                println!("  department {}", tp.department.as_deref().unwrap_or("—"));
                let f = flags(tp);
                if !f.is_empty() {
                    println!("  {f}");
                }
                match rules.len() {
                    0 => println!("  no rule maps to it (events reach it by its own name, if at all)"),
                    _ => {
                        for r in &rules {
                            println!("  rule {}: {}", r.id, describe(r));
                        }
                    }
                }
            }
        }
        TouchpointCmd::Add { key, project, fields } => {
            let (store, p) = project.open().await?;
            let new = NewTouchpoint { key, fields: fields.input(None)? };
            let t = touchpoint_engine::read::create_touchpoint(&*store, &p, new).await?;
            println!("Added touchpoint {:?} to {:?}. Map events to it: `touchpoint rule add --project {:?} --touchpoint {} …`", t.touchpoint.key, p.name, p.name, t.touchpoint.key);
        }
        TouchpointCmd::Set { key, project, fields } => {
            let (store, p) = project.open().await?;
            let old = store.touchpoints(p.id).await?.into_iter().find(|t| t.touchpoint.key == key);
            let input = fields.input(old.as_ref().map(|o| &o.touchpoint.names))?;
            let t = touchpoint_engine::read::update_touchpoint(&*store, &p, &key, input).await?;
            println!(
                "{}: channel {}, stage {}{}",
                t.touchpoint.key,
                t.touchpoint.channel.as_str(),
                t.touchpoint.stage.as_deref().unwrap_or("—"),
                match flags(&t.touchpoint) {
                    f if f.is_empty() => String::new(),
                    f => format!(", {f}"),
                }
            );
            if crate::admin::held_by_server(&project.config()?.data_dir) {
                println!(
                    "Another touchpoint process is using this data directory: a server there shows the change after a restart (or use PUT /api/touchpoints/{key})."
                );
            }
        }
    }
    Ok(())
}

/// A rule in words.
fn describe(r: &Rule) -> String {
    let mut parts = vec![];
    if let Some(t) = r.event_type {
        parts.push(format!("{} events", t.as_str()));
    }
    if let Some(n) = &r.event_name {
        parts.push(format!("named {n:?}"));
    }
    for c in &r.conditions {
        parts.push(serde_json::to_string(c).unwrap_or_default());
    }
    if parts.is_empty() {
        parts.push("every event".into());
    }
    format!("{} → {} (priority {})", parts.join(", "), r.touchpoint, r.priority)
}

/// Open the data directory's writer for a change, or say why not; `through_server` says
/// how to make the change through a server that holds the directory.
pub async fn writer_for(project: &ProjectArgs, through_server: &str) -> Result<touchpoint_engine::Node> {
    let config = project.config()?;
    crate::admin::require_store(&config.data_dir)?;
    touchpoint_engine::Node::open(config).await.map_err(|e| match e {
        touchpoint_store::StoreError::Locked(_) => msg(format!(
            "another touchpoint process (a server, a demo or an import) is using this data directory: \
             when it is a server, {through_server}; otherwise wait for it to finish"
        )),
        other => other.into(),
    })
}

/// How a rule changes through a running server.
const RULES_THROUGH_SERVER: &str = "change rules through it (POST or DELETE /api/rules with the secret key)";

pub async fn rule(cmd: RuleCmd) -> Result<()> {
    match cmd {
        RuleCmd::List { project, json } => {
            let (store, p) = project.open().await?;
            let rules = store.rules(p.id).await?;
            if json {
                println!("{}", serde_json::to_string(&rules)?);
            } else if rules.is_empty() {
                println!("No rules: events map to touchpoints named after them.");
            } else {
                for r in &rules {
                    println!("{:>4}  {}", r.id, describe(r));
                }
            }
        }
        RuleCmd::Add { project, rule } => {
            let r = rule.rule()?;
            let node = writer_for(&project, RULES_THROUGH_SERVER).await?;
            let state = node.engine().clone();
            let p = project.find(&*state.store).await?;
            let change = touchpoint_engine::catalog::add_rule(&state, p.id, r).await;
            drop(state);
            node.close().await?;
            let change = change?;
            let id = change.rule.as_ref().map_or(0, |r| r.id);
            println!(
                "Added rule {id}. Re-classified {} events: {} changed touchpoint.",
                change.reclassified.scanned, change.reclassified.changed
            );
        }
        RuleCmd::Remove { id, project } => {
            let node = writer_for(&project, RULES_THROUGH_SERVER).await?;
            let state = node.engine().clone();
            let p = project.find(&*state.store).await?;
            let change = touchpoint_engine::catalog::delete_rule(&state, p.id, id).await;
            drop(state);
            node.close().await?;
            let change = change?;
            println!(
                "Removed rule {id}. Re-classified {} events: {} changed touchpoint.",
                change.reclassified.scanned, change.reclassified.changed
            );
        }
        RuleCmd::Test { project, rule, last, json } => {
            let r = rule.rule()?;
            let (store, p) = project.open().await?;
            let t = touchpoint_engine::catalog::test_rule(&*store, &p, &r, last).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
                return Ok(());
            }
            println!("{}", describe(&r));
            println!(
                "Of the {} most recently stored events, it would map {} to {}.",
                t.scanned, t.matched, r.touchpoint
            );
            if !t.from.is_empty() {
                let from: Vec<String> = t.from.iter().map(|(k, n)| format!("{k} ({n})")).collect();
                println!("They are now: {}", from.join(", "));
            }
            let rows: Vec<Vec<String>> = t
                .examples
                .iter()
                .map(|e| {
                    vec![
                        e.timestamp.get(..16).unwrap_or(&e.timestamp).replace('T', " "),
                        e.kind.clone(),
                        fit(e.name.as_deref().unwrap_or(""), 30),
                        fit(e.path.as_deref().unwrap_or(""), 30),
                        e.now.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                table(&["time", "type", "name", "path", "now"], &rows);
            }
        }
    }
    Ok(())
}
