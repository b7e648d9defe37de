//! Bulk import of Segment-shaped NDJSON, or of CSV with column mapping (a CRM export with
//! columns like customer, date, channel, touchpoint imports without code), once for every
//! front end (`touchpoint import`, the demo's loader, the benchmarks). Events take the same
//! path as the HTTP API — validation, classification, identity, dedup by messageId, failed
//! events — through the same single writer.
//!
//! A reader thread parses lines into batches on every core while the writer commits
//! earlier ones; events without a messageId get one derived from their content, so
//! importing a file twice stores nothing twice. Submissions are queued in file order, so
//! one file gives the same ids, customers and journeys every time.

use crate::error::{Code, Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, EventType, Limits, ProjectId};
use touchpoint_store::writer::{Submission, Writer};
use touchpoint_store::{now_ms, NewFailedEvent};

/// A message about the file or its mapping.
fn msg(m: impl Into<String>) -> Error {
    Error::invalid(Code::InvalidBody, None, m)
}

/// The file could not be read.
fn read_error(e: std::io::Error) -> Error {
    msg(format!("cannot read the file: {e}"))
}

/// What an import reports as it goes (a progress bar; nothing).
pub trait Progress: Send + Sync {
    /// `bytes` more of the file were read.
    fn read(&self, bytes: u64);
    /// Where the import stands.
    fn stored(&self, summary: &Summary);
}

/// No report.
impl Progress for () {
    fn read(&self, _: u64) {}
    fn stored(&self, _: &Summary) {}
}

/// File formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON event per line (Segment spec).
    Ndjson,
    /// Comma-, semicolon- or tab-separated values with a header row.
    Csv,
}

/// What an import did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Records read (lines or rows, blank lines not counted).
    pub records: u64,
    /// Events stored.
    pub stored: u64,
    /// Events already there (same messageId).
    pub duplicates: u64,
    /// Records rejected, kept as failed events.
    pub failed: u64,
    /// Events refused because they name an erased customer's id (not stored, not kept).
    pub suppressed: u64,
    /// The first few reasons for rejection.
    pub first_errors: Vec<String>,
    /// Seconds taken.
    pub seconds: f64,
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Format.
    pub format: Format,
    /// Column mapping (CSV).
    pub columns: Vec<String>,
    /// Event type of CSV rows.
    pub event_type: EventType,
    /// CSV delimiter.
    pub delimiter: Option<u8>,
    /// Limits of each event.
    pub limits: Limits,
    /// The zone of CSV times written without an offset (`None`: UTC).
    pub zone: Option<chrono_tz::Tz>,
}

/// Events per submission to the writer. Larger groups cost fewer commits: 10 000 made the
/// import of 1 M events about 10 % faster than 5 000 (paired runs) for ~90 MB more peak
/// memory; 20 000 gained 3 % more for another ~180 MB, so it stopped here.
const BATCH: usize = 10_000;

/// Submissions waiting for the writer at once: two groups, one being built while the
/// other commits.
const IN_FLIGHT: usize = 4;

/// Parsed submissions waiting to be handed to the writer. One is enough to keep the writer
/// fed; every one more costs a submission's worth of memory (about 10 MB): a queue of 8
/// made the import's peak memory ~90 MB larger and it no faster (paired runs).
const QUEUED: usize = 1;

/// The format a file name suggests.
pub fn guess_format(p: &Path) -> Format {
    match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv" | "tsv") => Format::Csv,
        _ => Format::Ndjson,
    }
}

/// Import a file through a writer, reporting to `progress` (bytes read, events stored).
pub async fn import_file(
    writer: &Writer,
    project: ProjectId,
    path: &Path,
    opts: &ImportOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary> {
    let started = Instant::now();
    let file = std::fs::File::open(path).map_err(|e| msg(format!("cannot open {}: {e}", path.display())))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Submission>(QUEUED);
    let opts2 = opts.clone();
    let counting = progress.clone();
    let reader = std::thread::spawn(move || -> Result<(u64, Vec<String>)> {
        let counted = CountingReader { inner: file, progress: counting };
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("import-parse-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .map_err(|e| msg(format!("cannot start the parsing threads: {e}")))?;
        pool.install(|| match opts2.format {
            Format::Ndjson => read_ndjson(counted, project, &opts2, &tx),
            Format::Csv => read_csv(counted, project, &opts2, &tx),
        })
    });
    let mut summary = drain(writer, &mut rx, |s| progress.stored(s)).await?;
    let (records, first_errors) = reader.join().map_err(|_| msg("the reader thread panicked"))??;
    summary.records = records;
    summary.first_errors = first_errors;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Parsing runs ahead of the single writer and waits when the queue is full, while the
/// writer's two stages (building, committing) run one group at a time. So the parsing
/// threads yield to them: at nice 5 the import ran about 5 % faster (paired runs).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's own id; no memory is touched.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 5);
    }
}

/// Submit everything that arrives on `rx`, a few submissions in flight at once so the
/// writer can group them, and add up the receipts. Submissions are queued one after
/// another, so the writer stores the events in the order of the file: the same file gives
/// the same ids, customers and journeys every time.
pub async fn drain(
    writer: &Writer,
    rx: &mut tokio::sync::mpsc::Receiver<Submission>,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut pending = std::collections::VecDeque::new();
    while let Some(sub) = rx.recv().await {
        while pending.len() >= IN_FLIGHT {
            add(&mut summary, pending.pop_front()).await?;
            progress(&summary);
        }
        let queued = writer.queue_wait(sub).await.map_err(|e| msg(e.to_string()))?;
        pending.push_back(tokio::spawn(queued.receipt()));
    }
    while let Some(r) = pending.pop_front() {
        add(&mut summary, Some(r)).await?;
    }
    progress(&summary);
    Ok(summary)
}

type Joined = Option<
    tokio::task::JoinHandle<
        std::result::Result<touchpoint_store::writer::Receipt, touchpoint_store::writer::SubmitError>,
    >,
>;

async fn add(s: &mut Summary, r: Joined) -> Result<()> {
    if let Some(r) = r {
        let receipt = r.await.map_err(|e| msg(e.to_string()))?.map_err(|e| msg(e.to_string()))?;
        s.stored += receipt.stored as u64;
        s.duplicates += receipt.duplicates as u64;
        s.failed += receipt.failed as u64;
        s.suppressed += receipt.suppressed as u64;
    }
    Ok(())
}

struct CountingReader<R> {
    inner: R,
    progress: Arc<dyn Progress>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.read(n as u64);
        Ok(n)
    }
}

/// Collects a reader's events into submissions.
struct Batcher<'a> {
    project: ProjectId,
    tx: &'a tokio::sync::mpsc::Sender<Submission>,
    sub: Submission,
    first_errors: Vec<String>,
    received_at: i64,
    limits: Limits,
}

impl Batcher<'_> {
    fn event(&mut self, value: Value, line: u64, raw: &[u8]) -> Result<()> {
        let cx = ParseContext {
            received_at: self.received_at,
            derive_message_id: true,
            imported: true,
            // The operator's own file: believed, as a server key is.
            vouched: true,
            ..Default::default()
        };
        match Event::parse(value, &cx, &self.limits) {
            Ok(e) => self.sub.events.push(e),
            Err(e) => self.fail(line, &e.field, &e.to_string(), raw),
        }
        self.maybe_flush()
    }

    fn fail(&mut self, line: u64, field: &str, reason: &str, raw: &[u8]) {
        let reason = format!("line {line}: {reason}");
        if self.first_errors.len() < 5 {
            self.first_errors.push(reason.clone());
        }
        self.sub.failed.push(NewFailedEvent {
            project: self.project,
            received_at: self.received_at,
            source: "import".into(),
            field: field.into(),
            reason,
            raw: raw.to_vec(),
        });
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.sub.events.len() + self.sub.failed.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.sub.events.is_empty() && self.sub.failed.is_empty() {
            return Ok(());
        }
        let next = Submission { project: self.project, events: Vec::with_capacity(BATCH), failed: vec![] };
        let sub = std::mem::replace(&mut self.sub, next);
        self.tx.blocking_send(sub).map_err(|_| msg("the import stopped"))
    }
}

fn batcher<'a>(project: ProjectId, opts: &ImportOptions, tx: &'a tokio::sync::mpsc::Sender<Submission>) -> Batcher<'a> {
    Batcher {
        project,
        tx,
        sub: Submission { project, ..Default::default() },
        first_errors: vec![],
        received_at: now_ms(),
        limits: opts.limits,
    }
}

/// One NDJSON line, parsed.
#[allow(clippy::large_enum_variant)] // lines move once, from the parser to the batch
enum Line {
    /// Nothing but white space.
    Blank,
    /// A valid event.
    Event(Event),
    /// A rejected record: the field at fault, why, and the bytes to keep.
    Failed { field: String, reason: String, raw: Vec<u8> },
}

/// Parse one line (without its line break). Pure, so lines parse on every core at once.
fn parse_line(text: &[u8], limits: &Limits, received_at: i64) -> Line {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    let failed =
        |field: &str, reason: String, raw: &[u8]| Line::Failed { field: field.into(), reason, raw: raw.to_vec() };
    if text.len() > limits.max_event_bytes * 2 {
        return failed(
            "",
            format!("the line is {} bytes; at most {} are allowed per event", text.len(), limits.max_event_bytes),
            &text[..limits.max_event_bytes],
        );
    }
    let cx = ParseContext { received_at, derive_message_id: true, imported: true, vouched: true, ..Default::default() };
    if let Some(e) = std::str::from_utf8(text).ok().and_then(|t| Event::parse_fast(t, &cx, limits)) {
        return Line::Event(e);
    }
    let value = match serde_json::from_slice::<Value>(text) {
        Ok(v) => v,
        Err(e) => return failed("", format!("not valid JSON: {e}"), text),
    };
    match Event::parse(value, &cx, limits) {
        Ok(e) => Line::Event(e),
        Err(e) => failed(&e.field, e.to_string(), text),
    }
}

/// Lines read and parsed at a time: one submission's worth, enough to keep both cores
/// busy (about 4 MB of text at a few hundred bytes per event).
const BLOCK_LINES: usize = BATCH;

fn read_ndjson(
    r: impl Read,
    project: ProjectId,
    opts: &ImportOptions,
    tx: &tokio::sync::mpsc::Sender<Submission>,
) -> Result<(u64, Vec<String>)> {
    use rayon::prelude::*;
    let mut reader = BufReader::with_capacity(1 << 20, r);
    let mut b = batcher(project, opts, tx);
    // The block's text, one buffer, and where each line ends in it.
    let mut text: Vec<u8> = Vec::with_capacity(4 << 20);
    let mut ends: Vec<usize> = Vec::with_capacity(BLOCK_LINES);
    let (mut n, mut records) = (0u64, 0u64);
    loop {
        text.clear();
        ends.clear();
        while ends.len() < BLOCK_LINES {
            if reader.read_until(b'\n', &mut text).map_err(read_error)? == 0 {
                break;
            }
            if text.last() == Some(&b'\n') {
                text.pop();
            }
            ends.push(text.len());
        }
        if ends.is_empty() {
            break;
        }
        let (limits, at) = (opts.limits, b.received_at);
        let parsed: Vec<Line> = (0..ends.len())
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                parse_line(&text[start..ends[i]], &limits, at)
            })
            .collect();
        for line in parsed {
            n += 1;
            match line {
                Line::Blank => continue,
                Line::Event(e) => b.sub.events.push(e),
                Line::Failed { field, reason, raw } => b.fail(n, &field, &reason, &raw),
            }
            records += 1;
            b.maybe_flush()?;
        }
    }
    b.flush()?;
    Ok((records, b.first_errors))
}

/// Where each field of an event comes from in a CSV row.
#[derive(Debug, Default, PartialEq)]
pub struct CsvMapping {
    user_id: Option<usize>,
    anonymous_id: Option<usize>,
    timestamp: Option<usize>,
    event: Option<usize>,
    event_type: Option<usize>,
    message_id: Option<usize>,
    /// The touchpoint's channel (web, phone, store, e-mail …).
    channel: Option<usize>,
    /// (column, property name)
    properties: Vec<(usize, String)>,
}

fn fold(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'ą' => 'a',
            'č' | 'ć' => 'c',
            'ď' => 'd',
            'é' | 'ě' | 'ę' => 'e',
            'í' => 'i',
            'ł' => 'l',
            'ň' | 'ń' => 'n',
            'ó' => 'o',
            'ř' => 'r',
            'š' | 'ś' => 's',
            'ť' => 't',
            'ú' | 'ů' => 'u',
            'ý' => 'y',
            'ž' | 'ź' | 'ż' => 'z',
            ' ' | '-' | '.' => '_',
            c => c,
        })
        .collect()
}

/// Work out the mapping from the header row and `--column` options.
pub fn csv_mapping(headers: &[String], columns: &[String]) -> Result<CsvMapping> {
    let find =
        |h: &str| headers.iter().position(|x| x == h).or_else(|| headers.iter().position(|x| fold(x) == fold(h)));
    let mut m = CsvMapping::default();
    let mut taken = vec![false; headers.len()];
    for spec in columns {
        let (field, header) = spec
            .split_once('=')
            .ok_or_else(|| msg(format!("--column {spec:?}: write FIELD=HEADER, e.g. user_id=\"Customer ID\"")))?;
        let i = find(header).ok_or_else(|| {
            msg(format!("--column {spec:?}: there is no column {header:?}; the columns are: {}", headers.join(", ")))
        })?;
        taken[i] = true;
        match field.trim() {
            "user_id" => m.user_id = Some(i),
            "anonymous_id" => m.anonymous_id = Some(i),
            "timestamp" => m.timestamp = Some(i),
            "channel" => m.channel = Some(i),
            "event" => m.event = Some(i),
            "type" => m.event_type = Some(i),
            "message_id" => m.message_id = Some(i),
            "ignore" => {}
            f => match f.strip_prefix("property.") {
                Some(name) if !name.is_empty() => m.properties.push((i, name.to_string())),
                _ => return Err(msg(format!("--column {spec:?}: unknown field {f:?}; use user_id, anonymous_id, timestamp, event, type, message_id, channel, property.NAME or ignore"))),
            },
        }
    }
    type Slot = fn(&mut CsvMapping) -> &mut Option<usize>;
    let guesses: [(&[&str], Slot); 7] = [
        (
            &[
                "user_id",
                "userid",
                "customer_id",
                "customer",
                "client_id",
                "client",
                "zakaznik",
                "id_zakaznika",
                "klient",
                "email",
                "e_mail",
            ],
            |m| &mut m.user_id,
        ),
        (&["anonymous_id", "anonymousid", "device_id", "cookie_id"], |m| &mut m.anonymous_id),
        (&["timestamp", "datetime", "date", "time", "occurred_at", "datum", "cas", "data"], |m| &mut m.timestamp),
        (
            &[
                "event",
                "touchpoint",
                "event_name",
                "activity",
                "action",
                "interaction",
                "udalost",
                "aktivita",
                "akce",
                "zdarzenie",
            ],
            |m| &mut m.event,
        ),
        (&["type", "event_type"], |m| &mut m.event_type),
        (&["message_id", "messageid"], |m| &mut m.message_id),
        (&["channel", "kanal", "source_channel"], |m| &mut m.channel),
    ];
    for (names, slot) in guesses {
        if slot(&mut m).is_some() {
            continue;
        }
        if let Some(i) =
            names.iter().find_map(|n| headers.iter().enumerate().position(|(j, h)| !taken[j] && fold(h) == *n))
        {
            taken[i] = true;
            *slot(&mut m) = Some(i);
        }
    }
    for (i, h) in headers.iter().enumerate() {
        if !taken[i] {
            m.properties.push((i, h.trim().to_string()));
        }
    }
    if m.user_id.is_none() && m.anonymous_id.is_none() {
        return Err(msg(format!(
            "cannot tell which column holds the customer; add --column user_id=<column>. The columns are: {}",
            headers.join(", ")
        )));
    }
    if m.event.is_none() {
        return Err(msg(format!(
            "cannot tell which column holds the touchpoint or event name; add --column event=<column>. The columns are: {}",
            headers.join(", ")
        )));
    }
    Ok(m)
}

fn cell_value(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        if !(s.starts_with('0') && s.len() > 1) {
            return Value::from(i);
        }
    }
    Value::String(s.to_string())
}

fn read_csv(
    r: impl Read,
    project: ProjectId,
    opts: &ImportOptions,
    tx: &tokio::sync::mpsc::Sender<Submission>,
) -> Result<(u64, Vec<String>)> {
    let mut buf = BufReader::with_capacity(1 << 20, r);
    let head = buf.fill_buf().map_err(read_error)?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF".as_slice()).map(|h| h.to_vec()).unwrap_or_else(|| head.to_vec());
    let bom = head.len() != buf.buffer().len();
    if bom {
        buf.consume(3);
    }
    let first_line = head.split(|&c| c == b'\n').next().unwrap_or(&[]);
    let delimiter = opts.delimiter.unwrap_or_else(|| {
        [b',', b';', b'\t'].into_iter().max_by_key(|d| first_line.iter().filter(|c| *c == d).count()).unwrap_or(b',')
    });
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(buf);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| msg(format!("cannot read the CSV header row: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let m = csv_mapping(&headers, &opts.columns)?;
    let mut b = batcher(project, opts, tx);
    let mut records = 0u64;
    let mut row = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                records += 1;
                b.fail(line, "", &format!("not valid CSV: {e}"), &[]);
                b.maybe_flush()?;
                continue;
            }
        }
        records += 1;
        let raw: Vec<u8> = row.iter().collect::<Vec<_>>().join(&delimiter);
        let rec = match csv::StringRecord::from_byte_record(row.clone()) {
            Ok(r) => r,
            Err(e) => {
                b.fail(line, "", &format!("not valid UTF-8: {e}"), &raw);
                b.maybe_flush()?;
                continue;
            }
        };
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty());
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(get(m.event_type).unwrap_or(opts.event_type.as_str()).to_string()));
        for (k, i) in [
            ("userId", m.user_id),
            ("anonymousId", m.anonymous_id),
            ("timestamp", m.timestamp),
            ("messageId", m.message_id),
            ("channel", m.channel),
        ] {
            if let Some(v) = get(i) {
                obj.insert(k.into(), Value::String(v.to_string()));
            }
        }
        // A time without an offset is a local time of the import's zone.
        if let (Some(zone), Some(Value::String(t))) = (opts.zone, obj.get("timestamp")) {
            if let Ok(touchpoint_core::event::TimeText::Local(local)) = touchpoint_core::event::parse_time_parts(t) {
                let ms = crate::tz::local_to_ms(zone, local);
                obj.insert("timestamp".into(), Value::String(touchpoint_core::event::format_time(ms)));
            }
        }
        let ty = obj["type"].as_str().and_then(EventType::parse);
        let name_key = if matches!(ty, Some(EventType::Page | EventType::Screen)) { "name" } else { "event" };
        if let Some(v) = get(m.event) {
            obj.insert(name_key.into(), Value::String(v.to_string()));
        }
        let mut props = Map::new();
        for (i, name) in &m.properties {
            if let Some(v) = get(Some(*i)) {
                props.insert(name.clone(), cell_value(v));
            }
        }
        obj.insert("properties".into(), Value::Object(props));
        b.event(Value::Object(obj), line, &raw)?;
    }
    b.flush()?;
    Ok((records, b.first_errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn crm_headers_are_recognised() {
        let m = csv_mapping(&h(&["Zákazník", "Datum", "Kanál", "Touchpoint", "Poznámka"]), &[]).unwrap();
        assert_eq!((m.user_id, m.timestamp, m.channel, m.event), (Some(0), Some(1), Some(2), Some(3)));
        assert_eq!(m.properties, vec![(4, "Poznámka".to_string())]);
        let m =
            csv_mapping(&h(&["Customer ID", "When", "What"]), &["timestamp=When".into(), "event=what".into()]).unwrap();
        assert_eq!((m.user_id, m.timestamp, m.event), (Some(0), Some(1), Some(2)));
        assert!(m.properties.is_empty());
    }

    #[test]
    fn missing_columns_are_explained() {
        let e = csv_mapping(&h(&["a", "b"]), &[]).unwrap_err().to_string();
        assert!(e.contains("--column user_id=") && e.contains("a, b"), "{e}");
        let e = csv_mapping(&h(&["customer", "b"]), &[]).unwrap_err().to_string();
        assert!(e.contains("--column event="), "{e}");
        let e = csv_mapping(&h(&["customer"]), &["event=nope".into()]).unwrap_err().to_string();
        assert!(e.contains("there is no column \"nope\""), "{e}");
        let e = csv_mapping(&h(&["customer"]), &["colour=customer".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }
}
