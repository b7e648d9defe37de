//! `touchpoint survey …` and `touchpoint benchmark import`: create, edit, publish, close,
//! list and export surveys, make invitation links from a CSV of customers, import
//! responses collected elsewhere (recorded in the customers' journeys through the writer),
//! and load external benchmark tables — the same functions as the admin API.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use touchpoint_engine::surveys::{self, InviteInput, NewSurvey, ResponseInput};
use touchpoint_store::listen::SurveyStatus;

/// `touchpoint survey …`
#[derive(Subcommand)]
pub enum SurveyCmd {
    /// Create a draft survey from a JSON definition or the NPS template.
    Create {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
        /// The definition (JSON file).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Or a template: nps.
        #[arg(long)]
        template: Option<String>,
        /// The touchpoint that triggers it (with --template).
        #[arg(long)]
        trigger: Option<String>,
    },
    /// Replace the definition (a live survey gets a new version).
    Edit {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
        /// The new definition (JSON file).
        #[arg(long)]
        file: PathBuf,
    },
    /// Start taking answers.
    Publish {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
    },
    /// Stop taking answers.
    Close {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
    },
    /// List surveys.
    List {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export responses as CSV (safe for spreadsheets) or JSON.
    Export {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Make signed, single-use invitation links for the customers in a CSV file
    /// (`customer[,touchpoint][,lang]`); prints `customer,url` CSV.
    Invite {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
        /// The customers.
        #[arg(long)]
        csv: PathBuf,
        /// Days until the links expire.
        #[arg(long, default_value_t = 14.0)]
        days: f64,
        /// Where customers reach the server (`https://feedback.example.com`).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Import responses collected elsewhere: a CSV with a column per question id, and
    /// optionally customer, touchpoint, lang, weight, external_id, answered_at and
    /// `dim.NAME` columns (matrix rows as `QUESTION.AREA`, pairs as
    /// `QUESTION.expectation` / `QUESTION.experience`).
    Import {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// The survey's key.
        #[arg(long)]
        key: String,
        /// The CSV file.
        file: PathBuf,
    },
}

async fn survey_of(
    store: &dyn touchpoint_store::Store,
    project: i64,
    key: &str,
) -> Result<touchpoint_store::listen::SurveyRow> {
    Ok(touchpoint_engine::surveys::find_survey(store, project, key).await?)
}

/// A JSON file, or a message naming it and what is wrong.
pub fn read_json(path: &PathBuf) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| msg(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| msg(format!("{} is not valid JSON: {e}", path.display())))
}

pub async fn run(cmd: SurveyCmd) -> Result<()> {
    match cmd {
        SurveyCmd::Create { project, key, file, template, trigger } => {
            let (store, p) = project.open().await?;
            let definition = file.as_ref().map(read_json).transpose()?;
            let row = surveys::create_survey(&*store, p.id, NewSurvey { key, definition, template, trigger }).await?;
            println!("Created draft survey {} (open link /o/{}); publish it to take answers.", row.key, row.public_id);
        }
        SurveyCmd::Edit { project, key, file } => {
            let (store, p) = project.open().await?;
            let row = survey_of(&*store, p.id, &key).await?;
            let row = surveys::edit_survey(&*store, &row, read_json(&file)?).await?;
            println!("Survey {} is now at version {}.", row.key, row.version);
        }
        SurveyCmd::Publish { project, key } => set_status(&project, &key, SurveyStatus::Live).await?,
        SurveyCmd::Close { project, key } => set_status(&project, &key, SurveyStatus::Closed).await?,
        SurveyCmd::List { project, json } => {
            let (store, p) = project.open().await?;
            let rows = store.surveys(p.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.key.clone(),
                            r.status.as_str().into(),
                            r.version.to_string(),
                            format!("/o/{}", r.public_id),
                        ]
                    })
                    .collect();
                crate::tables::table(&["survey", "status", "version", "open link"], &table);
            }
        }
        SurveyCmd::Export { project, key, out } => {
            let (store, p) = project.open().await?;
            let row = survey_of(&*store, p.id, &key).await?;
            let csv = surveys::export_csv(&*store, &row, false).await?;
            match out {
                Some(path) => std::fs::write(&path, csv)?,
                None => print!("{csv}"),
            }
        }
        SurveyCmd::Invite { project, key, csv, days, base_url } => {
            let (store, p) = project.open().await?;
            let row = survey_of(&*store, p.id, &key).await?;
            let text = std::fs::read_to_string(&csv).map_err(|e| msg(format!("cannot read {}: {e}", csv.display())))?;
            let customers: Vec<InviteInput> = surveys::parse_invite_csv(&text)?;
            let links =
                surveys::create_invitations(&*store, &row, &customers, days, base_url.trim_end_matches('/')).await?;
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["customer", "url", "expires"])?;
            for l in &links {
                w.write_record([touchpoint_core::csvsafe::safe_cell(&l.customer).as_ref(), &l.url, &l.expires])?;
            }
            w.flush()?;
            eprintln!("{} invitations created.", links.len());
        }
        SurveyCmd::Import { project, key, file } => import(&project, &key, &file).await?,
    }
    Ok(())
}

/// Publish or close.
async fn set_status(project: &ProjectArgs, key: &str, status: SurveyStatus) -> Result<()> {
    let (store, p) = project.open().await?;
    let row = survey_of(&*store, p.id, key).await?;
    let row = store.set_survey_status(row.id, status).await?;
    println!("Survey {} is {}.", row.key, row.status.as_str());
    Ok(())
}

/// Turn one CSV record into a response input.
fn response_of(headers: &csv::StringRecord, rec: &csv::StringRecord) -> ResponseInput {
    let mut answers = Map::new();
    let mut dimensions = Map::new();
    let mut input = ResponseInput {
        answers: Map::new(),
        customer: None,
        touchpoint: None,
        lang: None,
        dimensions: Map::new(),
        weight: None,
        external_id: None,
        answered_at: None,
    };
    for (h, v) in headers.iter().zip(rec.iter()) {
        if v.is_empty() {
            continue;
        }
        match h {
            "customer" => input.customer = Some(v.into()),
            "touchpoint" => input.touchpoint = Some(v.into()),
            "lang" => input.lang = Some(v.into()),
            "weight" => input.weight = v.parse().ok().or(Some(f64::NAN)),
            "external_id" => input.external_id = Some(v.into()),
            "answered_at" => input.answered_at = Some(v.into()),
            _ => {
                if let Some(d) = h.strip_prefix("dim.") {
                    dimensions.insert(d.into(), json!(v));
                } else if let Some((q, part)) = h.split_once('.') {
                    let entry = answers.entry(q.to_string()).or_insert_with(|| json!({}));
                    entry[part] = json!(v);
                } else {
                    answers.insert(h.into(), json!(v));
                }
            }
        }
    }
    input.answers = answers;
    input.dimensions = dimensions;
    input
}

async fn import(project: &ProjectArgs, key: &str, file: &Path) -> Result<()> {
    let config = project.config()?;
    crate::admin::require_store(&config.data_dir)?;
    let node = touchpoint_engine::Node::open(config).await?;
    let state = node.engine().clone();
    let p = project.find(&*state.store).await?;
    let row = touchpoint_engine::surveys::find_survey(&*state.store, p.id, key).await?;
    let def = surveys::definition(&row)?;
    let mut rdr = csv::Reader::from_path(file).map_err(|e| msg(format!("cannot read {}: {e}", file.display())))?;
    let headers = rdr.headers()?.clone();
    let mut inputs = vec![];
    for rec in rdr.records() {
        inputs.push(response_of(&headers, &rec?));
    }
    let n = inputs.len();
    let (ok, failed) = surveys::validate_responses(&row, &def, inputs, "import");
    let receipt = surveys::store_responses(&state, &row, &def, ok).await?;
    drop(state);
    node.close().await?;
    println!(
        "{n} rows: {} responses stored, {} already there, {} rejected.",
        receipt.stored,
        receipt.duplicates,
        failed.len()
    );
    for f in failed.iter().take(20) {
        // Line numbers: the header is line 1.
        println!("  line {}: {} — {}", f.index + 2, f.field, f.message);
    }
    Ok(())
}

/// `touchpoint benchmark import FILE`: an external benchmark table
/// (`metric,segment,value,n[,se]`).
pub async fn import_benchmark(project: &ProjectArgs, source: &str, file: &Path) -> Result<()> {
    let (store, p) = project.open().await?;
    let text = std::fs::read_to_string(file).map_err(|e| msg(format!("cannot read {}: {e}", file.display())))?;
    let n = touchpoint_engine::listening::import_benchmarks(&*store, p.id, source, &text).await?;
    println!("{n} benchmark rows from {source} stored.");
    Ok(())
}
