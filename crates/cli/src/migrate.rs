//! `touchpoint migrate --to CONFIG`: move an embedded data directory to PostgreSQL and
//! ClickHouse (the engine's `migrate` does the work), with a progress bar; run it again
//! after an interruption and it goes on where it stopped.

use crate::anyhow_lite::{msg, Result};
use crate::Common;
use clap::Args;
use std::path::PathBuf;
use touchpoint_engine::migrate::{migrate, MigrateProgress};
use touchpoint_engine::Config;

/// Arguments of `touchpoint migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// The configuration file (TOML) of the stores to move to: `meta_store =
    /// "postgres://…"` and `event_store = "clickhouse://…"` (one URL, or one per shard
    /// separated by commas). The data directory is the one to move (`--data-dir`).
    #[arg(long, value_name = "CONFIG")]
    to: PathBuf,
    #[command(flatten)]
    common: Common,
}

/// The progress bar of the events and a line per metadata table (with `-v`).
struct Bar(indicatif::ProgressBar);

impl MigrateProgress for Bar {
    fn table(&self, name: &str, rows: i64) {
        tracing::info!(table = name, rows, "copied to PostgreSQL");
    }

    fn events(&self, copied: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(copied);
    }
}

pub async fn run(a: MigrateArgs) -> Result<()> {
    let source = a.common.config()?;
    crate::admin::require_store(&source.data_dir)?;
    if crate::admin::held_by_server(&source.data_dir) {
        return Err(msg(format!(
            "{} is in use by a running Touchpoint (a server or a demo); stop it, then migrate",
            source.data_dir.display()
        )));
    }
    if !a.to.is_file() {
        return Err(msg(format!(
            "no configuration file {} — write one with meta_store = \"postgres://…\" and event_store = \
             \"clickhouse://…\"",
            a.to.display()
        )));
    }
    let target = Config::load(Some(&a.to), std::iter::empty(), &[])?;
    touchpoint_engine::migrate::target_stores(&target).map_err(|e| msg(format!("{}: {e}", a.to.display())))?;
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = Bar(crate::progress_bar(0, "{spinner} copying events [{bar:40}] {pos}/{len} ({eta} left)", quiet));
    eprintln!(
        "Moving {} to {}…",
        source.data_dir.display(),
        touchpoint_engine::backends::describe(&Config { data_dir: source.data_dir.clone(), ..target.clone() })
    );
    let report = migrate(&source.data_dir, &target, &bar).await?;
    bar.0.finish_and_clear();
    if report.already_done {
        println!("Already moved (an earlier run finished); the counts still agree:");
    } else if report.resumed {
        println!("Moved (went on from where an earlier run stopped); counted in both stores:");
    } else {
        println!("Moved; counted in both stores:");
    }
    for (name, events, failed) in &report.projects {
        println!("  project {name:<24} {events:>12} events {failed:>8} failed events");
    }
    let meta_rows: i64 = report.tables.iter().map(|(_, n)| n).sum();
    if !report.tables.is_empty() {
        println!("  metadata: {meta_rows} rows in {} tables", report.tables.len());
    }
    println!(
        "The data directory {} is unchanged. Run the server on the new stores with:\n  touchpoint serve --config {}",
        source.data_dir.display(),
        a.to.display()
    );
    Ok(())
}
