//! `touchpoint import FILE`: the arguments, a progress bar and the summary around the
//! engine's import (`touchpoint_engine::import`: NDJSON and CSV with column mapping,
//! through the single writer, in file order).

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use crate::ServeFlags;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use touchpoint_core::{EventType, Limits, ProjectId};
pub use touchpoint_engine::import::{drain, guess_format, import_file, Format, ImportOptions, Progress, Summary};
use touchpoint_store::writer::Writer;

/// File formats, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON event per line (Segment spec).
    Ndjson,
    /// Comma-, semicolon- or tab-separated values with a header row.
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Csv => Format::Csv,
        }
    }
}

/// A progress bar counts the bytes read and says how many events are stored.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn read(&self, bytes: u64) {
        self.0.inc(bytes);
    }

    fn stored(&self, s: &Summary) {
        self.0.set_message(format!("{} stored", s.stored));
    }
}

/// `touchpoint import`
#[derive(Args)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// The project, and where its data directory is.
    #[command(flatten)]
    pub project: ProjectArgs,
    /// File format (default: by extension: .csv/.tsv are CSV, anything else NDJSON).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// CSV: map a field to a column, e.g. `--column user_id="Customer ID"`. Fields: user_id,
    /// anonymous_id, timestamp, event, type, message_id, channel, property.NAME, ignore.
    /// Unmapped columns become properties named after their header.
    #[arg(long = "column", value_name = "FIELD=HEADER")]
    pub columns: Vec<String>,
    /// CSV: the event type of each row.
    #[arg(long, default_value = "track")]
    pub event_type: String,
    /// CSV: the delimiter (default: guessed from the header row among , ; and tab).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// CSV: the time zone of times written without an offset (`Europe/Prague`); default:
    /// the project's (`touchpoint project set P --timezone …`).
    #[arg(long)]
    pub timezone: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Server settings that apply to the import's writer too (`--durable`, …).
    #[command(flatten)]
    pub flags: ServeFlags,
}

pub async fn run(a: ImportArgs) -> Result<()> {
    let config = crate::load_config(&a.project.common, &a.flags)?;
    let format = a.format.map(Format::from).unwrap_or_else(|| guess_format(&a.file));
    let event_type = EventType::parse(&a.event_type).ok_or_else(|| {
        msg(format!("--event-type {:?}: use track, page, screen, identify, group or alias", a.event_type))
    })?;
    let delimiter = match a.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => return Err(msg(format!("--delimiter {c:?} must be a single ASCII character"))),
        None => None,
    };
    let zone = a
        .timezone
        .as_deref()
        .map(|z| touchpoint_engine::tz::parse_zone(z).map_err(|e| msg(format!("--timezone: {e}"))))
        .transpose()?;
    let mut opts =
        ImportOptions { format, columns: a.columns.clone(), event_type, delimiter, limits: config.limits(), zone };
    crate::admin::require_store(&config.data_dir)?;
    let node = touchpoint_engine::Node::open_bulk(config).await?;
    let state = node.engine();
    let project = a.project.find(&*state.store).await?;
    // CSV times without an offset are the project's local times unless --timezone says.
    if opts.zone.is_none() {
        opts.zone = touchpoint_engine::tz::parse_zone(&project.timezone).ok();
    }
    let size = std::fs::metadata(&a.file).map_err(|e| msg(format!("cannot read {}: {e}", a.file.display())))?.len();
    let bar = crate::progress_bar(size, crate::IMPORT_BAR, a.quiet || a.json);
    let started = Instant::now();
    let mut summary = import_file(&state.writer, project.id, &a.file, &opts, Arc::new(Bar(bar.clone()))).await?;
    bar.finish_and_clear();
    // Closing builds the journey index: part of the import, and of its time.
    node.close().await?;
    summary.seconds = started.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary, &project.name);
    }
    Ok(())
}

fn print_summary(s: &Summary, project: &str) {
    println!(
        "Imported into {project:?} in {:.1} s ({:.0} records/s):",
        s.seconds,
        s.records as f64 / s.seconds.max(1e-9)
    );
    println!("  {:>10} records read", s.records);
    println!("  {:>10} events stored", s.stored);
    println!("  {:>10} duplicates (already stored, skipped)", s.duplicates);
    println!("  {:>10} rejected (kept as failed events; see GET /api/failed-events)", s.failed);
    if s.suppressed > 0 {
        println!("  {:>10} refused: they name an erased customer", s.suppressed);
    }
    for e in &s.first_errors {
        println!("             {e}");
    }
}

/// Import into an already running writer (for the demo and the benchmark).
pub async fn import_with(writer: &Writer, project: ProjectId, path: &Path, quiet: bool) -> Result<Summary> {
    let opts = ImportOptions {
        format: guess_format(path),
        columns: vec![],
        event_type: EventType::Track,
        delimiter: None,
        limits: Limits::default(),
        zone: None,
    };
    let size = std::fs::metadata(path)?.len();
    let bar = crate::progress_bar(size, crate::IMPORT_BAR, quiet);
    let s = import_file(writer, project, path, &opts, Arc::new(Bar(bar.clone()))).await;
    bar.finish_and_clear();
    Ok(s?)
}
