//! `touchpoint kb …`: the knowledge base from the terminal — add an article from a text
//! file, change one (each change a new version), list them, show one with its versions,
//! and search them as customers do, with the matched words marked. Beside a running
//! server: its searches see a change at once.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::Subcommand;
use std::path::PathBuf;
use touchpoint_engine::kb::{self, ArticleInput, Indexes, SearchInput};
use touchpoint_engine::selfservice::{self, ReportInput, SelfServiceReport};
use touchpoint_selfserve::report::Rate;

/// `touchpoint kb …`
#[derive(Subcommand)]
pub enum KbCmd {
    /// Add an article: its text from a file (paragraphs separated by a blank line, `- `
    /// list items), published unless --draft.
    Add {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// cs, pl or en.
        #[arg(long)]
        lang: String,
        /// The title.
        #[arg(long)]
        title: String,
        /// The text (a UTF-8 file; `-` reads standard input).
        #[arg(long)]
        file: PathBuf,
        /// Keep it hidden from customers for now.
        #[arg(long)]
        draft: bool,
    },
    /// Change an article (a new version; what is not given stays as it is).
    Edit {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The article's id (`touchpoint kb list`).
        #[arg(long)]
        id: i64,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new text (a file; `-` reads standard input).
        #[arg(long)]
        file: Option<PathBuf>,
        /// A new language.
        #[arg(long)]
        lang: Option<String>,
        /// Show it to customers.
        #[arg(long, conflicts_with = "unpublish")]
        publish: bool,
        /// Hide it from customers.
        #[arg(long)]
        unpublish: bool,
    },
    /// List the articles (newest version of each, drafts too).
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an article and its versions.
    Show {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The article's id.
        #[arg(long)]
        id: i64,
        /// Print JSON (every version).
        #[arg(long)]
        json: bool,
    },
    /// Does the help centre help? Self-service score, deflection, search success, the top
    /// failed searches, article helpfulness and the cost saved, each rate with n and a 95 %
    /// interval. Reads the journeys: needs the data directory to itself (else ask the
    /// server: GET /api/self-service).
    Report {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The last N days.
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// An episode is deflected when no call or chat follows within this many days.
        #[arg(long, default_value_t = 7)]
        within_days: i64,
        /// What an assisted contact costs.
        #[arg(long, default_value_t = 8.0)]
        cost_assisted: f64,
        /// What a self-service episode costs.
        #[arg(long, default_value_t = 0.10)]
        cost_self: f64,
        /// How many failed searches to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the published articles as customers do (matched words in [brackets]).
    Search {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The words.
        query: String,
        /// Search this language's articles (cs, pl, en); all without it.
        #[arg(long)]
        lang: Option<String>,
        /// How many results (1–50).
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A text file's content, or standard input's for `-`.
fn read_text(path: &PathBuf) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| msg(format!("--file {}: {e}", path.display())))
}

/// Segments as text, the matched ones in brackets.
fn marked(segs: &[touchpoint_selfserve::search::Segment]) -> String {
    segs.iter().map(|s| if s.hit { format!("[{}]", s.text) } else { s.text.clone() }).collect()
}

/// Run a `touchpoint kb` command.
pub async fn run(cmd: KbCmd) -> Result<()> {
    match cmd {
        KbCmd::Add { project, lang, title, file, draft } => {
            let (store, p) = project.open().await?;
            let input =
                ArticleInput { lang, title, body: read_text(&file)?, published: Some(!draft), base_version: None };
            let a = kb::create(&*store, None, p.id, &input, Some("cli".into())).await?;
            let state = if a.published { "published" } else { "a draft" };
            println!("Added article {} ({}, {state}): {}", a.id, a.lang, a.title);
            println!("Customers find it at /portal/{}/kb/{}-{}?lang={}", p.id, a.id, a.slug, a.lang);
        }
        KbCmd::Edit { project, id, title, file, lang, publish, unpublish } => {
            let (store, p) = project.open().await?;
            let now = kb::get(&*store, p.id, id, false).await?;
            let input = ArticleInput {
                lang: lang.unwrap_or(now.lang),
                title: title.unwrap_or(now.title),
                body: match &file {
                    Some(f) => read_text(f)?,
                    None => now.body,
                },
                published: Some(if publish {
                    true
                } else if unpublish {
                    false
                } else {
                    now.published
                }),
                base_version: Some(now.version),
            };
            let a = kb::update(&*store, None, p.id, id, &input, Some("cli".into())).await?;
            println!(
                "Article {} is now version {} ({}).",
                a.id,
                a.version,
                if a.published { "published" } else { "a draft" }
            );
        }
        KbCmd::List { project, json } => {
            let (store, p) = project.open().await?;
            let all = kb::list(&*store, p.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!(
                    "No articles yet. Add one: touchpoint kb add --project {} --lang cs --title TITLE --file text.md",
                    project.project
                );
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|a| {
                        let state = if a.published { "published" } else { "draft" };
                        vec![a.id.to_string(), a.lang.clone(), a.title.clone(), a.version.to_string(), state.into()]
                    })
                    .collect();
                crate::tables::table(&["id", "lang", "title", "version", "state"], &rows);
            }
        }
        KbCmd::Show { project, id, json } => {
            let (store, p) = project.open().await?;
            let versions = kb::versions(&*store, p.id, id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
            } else {
                let a = &versions[0];
                println!(
                    "{} ({}, version {}, {})\n",
                    a.title,
                    a.lang,
                    a.version,
                    if a.published { "published" } else { "draft" }
                );
                println!("{}\n", a.body);
                let rows: Vec<Vec<String>> = versions
                    .iter()
                    .map(|v| {
                        vec![
                            v.version.to_string(),
                            touchpoint_core::event::format_time(v.updated_ms),
                            v.author.clone().unwrap_or_default(),
                            v.title.clone(),
                        ]
                    })
                    .collect();
                crate::tables::table(&["version", "written", "by", "title"], &rows);
            }
        }
        KbCmd::Report { project, days, within_days, cost_assisted, cost_self, top, json } => {
            let input = ReportInput {
                days: Some(days),
                within_days: Some(within_days),
                cost_assisted: Some(cost_assisted),
                cost_self: Some(cost_self),
                top: Some(top),
            };
            let node = crate::catalog::writer_for(&project, "ask it: GET /api/self-service").await?;
            let engine = node.engine().clone();
            let p = project.find(&*engine.store).await?;
            let out = selfservice::self_service(&engine, p.id, &input).await;
            drop(engine);
            node.close().await?;
            let out = out?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_report(&out, days, within_days);
            }
        }
        KbCmd::Search { project, query, lang, limit, json } => {
            let (store, p) = project.open().await?;
            let input = SearchInput { q: query, lang, limit: Some(limit), prefix: false };
            let found = kb::search(&*store, &Indexes::default(), p.id, &input).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else if found.hits.is_empty() {
                println!("No article matches {:?}.", found.q);
            } else {
                println!("{} of {} articles for {:?}:\n", found.hits.len(), found.total, found.q);
                for h in &found.hits {
                    println!("{:>5}  {}  {}", h.id, h.hit.lang.code(), marked(&h.hit.title));
                    let dots = |b: bool| if b { "… " } else { "" };
                    println!(
                        "       {}{}{}\n",
                        dots(h.hit.snippet_cut_before),
                        marked(&h.hit.snippet),
                        if h.hit.snippet_cut_after { " …" } else { "" }
                    );
                }
            }
        }
    }
    Ok(())
}

/// A rate as `41.2 % (35.0–47.6 %, n 120)`.
fn rate(r: &Rate) -> String {
    match (r.rate, r.low, r.high) {
        (Some(p), Some(l), Some(h)) => format!("{:.1} % ({:.1}–{:.1} %, n {})", 100.0 * p, 100.0 * l, 100.0 * h, r.n),
        _ => "– (n 0)".to_string(),
    }
}

/// The report as text and tables.
fn print_report(out: &SelfServiceReport, days: i64, within: i64) {
    let r = &out.report;
    println!("Self-service over the last {days} days");
    let score = &r.self_service_score;
    match (score.ratio, score.low, score.high) {
        (Some(x), Some(l), Some(h)) => println!(
            "  self-service score   {x:.2} ({l:.2}–{h:.2}): {} customers helped themselves, {} needed a call or chat",
            score.a, score.b
        ),
        _ => println!(
            "  self-service score   – ({} customers helped themselves, {} needed a call or chat)",
            score.a, score.b
        ),
    }
    println!(
        "  deflection           {}: help-centre visits with no call or chat within {within} days",
        rate(&r.deflection)
    );
    println!("  … and resolved       {}: the same, and an article helped", rate(&r.deflection_resolved));
    println!("  search success       {}: searches followed by an article read", rate(&r.search_success));
    println!("  no results           {}", rate(&r.no_results));
    println!(
        "  cost saved           {:.2} ({} visits deflected × {:.2})",
        r.cost_saved,
        r.deflection.k,
        r.options.cost_assisted - r.options.cost_self
    );
    if !r.failed_searches.is_empty() {
        println!("\nSearches that failed (nothing found, or nothing read), most first:");
        let rows: Vec<Vec<String>> = r
            .failed_searches
            .iter()
            .map(|f| {
                vec![
                    f.query.clone(),
                    f.searches.to_string(),
                    f.no_results.to_string(),
                    f.customers.to_string(),
                    rate(&f.then_assisted),
                ]
            })
            .collect();
        crate::tables::table(&["query", "lang", "failed", "no results", "customers", "then called or chatted"], &rows);
    }
    if !r.articles.is_empty() {
        println!("\nArticles, most read first:");
        let rows: Vec<Vec<String>> = r
            .articles
            .iter()
            .map(|a| {
                let title = out.titles.get(&a.id).cloned().unwrap_or_else(|| format!("article {}", a.id));
                vec![a.id.to_string(), title, a.views.to_string(), rate(&a.helpful)]
            })
            .collect();
        crate::tables::table(&["id", "title", "reads", "helped"], &rows);
    }
}

/// Put the demo brand's knowledge base into a project (`touchpoint_gen::kb`: 30 articles,
/// none about a late delivery); returns how many.
pub async fn load_demo(store: &dyn touchpoint_store::Store, project: i64) -> Result<usize> {
    let all = touchpoint_gen::kb::articles();
    for a in &all {
        let input = ArticleInput {
            lang: a.lang.into(),
            title: a.title.clone(),
            body: a.body.clone(),
            published: Some(true),
            base_version: None,
        };
        kb::create(store, None, project, &input, Some("demo".into())).await?;
    }
    Ok(all.len())
}
