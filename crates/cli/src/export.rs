//! `touchpoint export`: a project's events as NDJSON (Segment-shaped, with the corrected
//! `timestamp`, `receivedAt`, the customer and the touchpoint, re-importable) or as CSV
//! that spreadsheets open safely (cells that start with `=`, `+`, `-`, `@` are defused).
//! A time sent more than a day in the future was stored as the arrival time: the export
//! says what was sent (`sentTimestamp`, the `sent_timestamp` column).

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use touchpoint_core::csvsafe::safe_cell;
use touchpoint_core::event::format_time;
use touchpoint_store::StoredTouchpoint;

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON event per line.
    Ndjson,
    /// CSV with one column per field and the properties as JSON.
    Csv,
}

/// `touchpoint export`
#[derive(Args)]
pub struct ExportArgs {
    /// The project, and where its data directory is.
    #[command(flatten)]
    project: ProjectArgs,
    /// Format.
    #[arg(long, value_enum, default_value = "ndjson")]
    format: ExportFormat,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

enum Sink<W: Write> {
    Ndjson(W),
    Csv(Box<csv::Writer<W>>),
}

const CSV_HEADER: [&str; 13] = [
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "customer_id",
    "touchpoint",
    "channel",
    "stage",
    "timestamp",
    "received_at",
    "properties",
    "sent_timestamp",
];

pub async fn run(a: ExportArgs) -> Result<()> {
    let (store, project) = a.project.open().await?;
    let tps: HashMap<i64, StoredTouchpoint> =
        store.touchpoints(project.id).await?.into_iter().map(|t| (t.id, t)).collect();
    let out: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| msg(format!("cannot write {}: {e}", p.display())))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::io::BufWriter::new(out);
    let mut sink = match a.format {
        ExportFormat::Ndjson => Sink::Ndjson(out),
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_HEADER)?;
            Sink::Csv(Box::new(w))
        }
    };
    let mut after = 0;
    let mut n = 0u64;
    loop {
        let page = store.scan_events(Some(project.id), after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in page {
            n += 1;
            let tp = e.touchpoint_id.and_then(|id| tps.get(&id)).map(|t| &t.touchpoint);
            let mut body: Value =
                serde_json::from_str(&e.body).map_err(|err| msg(format!("event {} is corrupt: {err}", e.id)))?;
            // A time more than a day in the future was clamped to the arrival: say what was sent.
            let sent = touchpoint_core::event::sent_time(e.flags, &body);
            match &mut sink {
                Sink::Ndjson(out) => {
                    if let Value::Object(o) = &mut body {
                        o.insert("messageId".into(), Value::String(e.message_id.clone()));
                        o.insert("timestamp".into(), Value::String(format_time(e.timestamp)));
                        o.insert("receivedAt".into(), Value::String(format_time(e.received_at)));
                        o.insert("customerId".into(), Value::from(e.customer_id));
                        if let Some(sent) = &sent {
                            o.insert("sentTimestamp".into(), Value::String(sent.clone()));
                        }
                        if let Some(t) = tp {
                            o.insert("touchpoint".into(), Value::String(t.key.clone()));
                        }
                    }
                    serde_json::to_writer(&mut *out, &body)?;
                    out.write_all(b"\n")?;
                }
                Sink::Csv(w) => {
                    let props = body.get("properties").map(Value::to_string).unwrap_or_default();
                    let customer = e.customer_id.to_string();
                    let cells = [
                        e.message_id.as_str(),
                        e.kind.as_str(),
                        e.name.as_deref().unwrap_or(""),
                        e.user_id.as_deref().unwrap_or(""),
                        e.anonymous_id.as_deref().unwrap_or(""),
                        &customer,
                        tp.map(|t| t.key.as_str()).unwrap_or(""),
                        tp.map(|t| t.channel.as_str()).unwrap_or(""),
                        tp.and_then(|t| t.stage.as_deref()).unwrap_or(""),
                        &format_time(e.timestamp),
                        &format_time(e.received_at),
                        &props,
                        sent.as_deref().unwrap_or(""),
                    ];
                    w.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))?;
                }
            }
        }
    }
    match sink {
        Sink::Ndjson(mut out) => out.flush()?,
        Sink::Csv(mut w) => w.flush()?,
    }
    if let Some(p) = &a.out {
        eprintln!("Exported {n} events of {:?} to {}.", project.name, p.display());
    }
    Ok(())
}
