//! `touchpoint report KIND`: run an analysis on a project's journeys straight from the data
//! directory (beside a running server, too) and print a readable table, or `--json`.
//! The same plans as `POST /api/analytics/{kind}`.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::Args;
use serde_json::{json, Map, Value};
use touchpoint_analytics::plan::{GroupResult, Plan};
use touchpoint_analytics::select::Breakdown;

/// `touchpoint report`
#[derive(Args)]
pub struct ReportArgs {
    /// journey-map, funnel, transitions, sankey, retention, churn or attribution.
    pub kind: String,
    /// The project, and where its data directory is.
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Funnel steps, comma-separated touchpoint keys.
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<String>,
    /// Funnel conversion window: 7d, 24h, 30m or seconds.
    #[arg(long)]
    pub window: Option<String>,
    /// Conversion goal touchpoint (journey map, attribution).
    #[arg(long)]
    pub goal: Option<String>,
    /// Sankey start touchpoint.
    #[arg(long)]
    pub start: Option<String>,
    /// Sankey end touchpoint.
    #[arg(long)]
    pub end: Option<String>,
    /// Retention period: day, week or month.
    #[arg(long)]
    pub period: Option<String>,
    /// Attribution by touchpoint or channel; listening: segment by touchpoint, lang or a dimension.
    #[arg(long)]
    pub by: Option<String>,
    /// Analysis parameters as JSON (merged over the flags above).
    #[arg(long)]
    pub query: Option<String>,
    /// A filter as JSON, e.g. '{"channels":["web"],"from":1767225600}'.
    #[arg(long)]
    pub filter: Option<String>,
    /// Breakdown: first_touch_channel, first_touch_stage, first_touch_kind, first_touch_department or trait:NAME.
    #[arg(long)]
    pub breakdown: Option<String>,
    /// Listening: the survey's key (nps, csat, ces, rating, drivers, gaps, text, benchmark, touchpoints).
    #[arg(long)]
    pub survey: Option<String>,
    /// Listening: the question id.
    #[arg(long)]
    pub question: Option<String>,
    /// Listening: trend per day, week or month.
    #[arg(long)]
    pub bucket: Option<String>,
    /// Listening, text: the two values of --by to compare.
    #[arg(long)]
    pub a: Option<String>,
    /// Listening, text: see --a.
    #[arg(long)]
    pub b: Option<String>,
    /// "Now" for churn and exits (2026-11-01 or 2026-11-01T12:00:00Z); default: the wall clock, or the end of the --filter period when earlier.
    #[arg(long)]
    pub now: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Parse `7d`, `24h`, `30m`, `45s` or plain seconds.
pub fn duration_s(s: &str) -> Result<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('d') => (&s[..s.len() - 1], 86_400),
        Some('h') => (&s[..s.len() - 1], 3_600),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('s') => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    num.trim()
        .parse::<i64>()
        .map(|n| n * mult)
        .map_err(|_| msg(format!("{s:?} is not a duration; write 7d, 24h, 30m or 3600")))
}

fn query_of(a: &ReportArgs) -> Result<Value> {
    let mut q = Map::new();
    if !a.steps.is_empty() {
        q.insert("steps".into(), json!(a.steps));
    }
    if let Some(w) = &a.window {
        q.insert("window_s".into(), json!(duration_s(w)?));
    }
    if let Some(g) = &a.goal {
        q.insert("goal".into(), json!(g));
    }
    if let Some(s) = &a.start {
        q.insert("start".into(), json!(s));
    }
    if let Some(e) = &a.end {
        q.insert("end".into(), json!(e));
    }
    if let Some(p) = &a.period {
        q.insert("period".into(), json!(p));
    }
    if let Some(b) = &a.by {
        q.insert("by".into(), json!(b));
    }
    if let Some(now) = &a.now {
        let ms = touchpoint_core::event::parse_time_str(now)
            .map_err(|e| msg(format!("--now {now:?}: {e}; write 2026-11-01 or 2026-11-01T12:00:00Z")))?;
        q.insert("now_s".into(), json!(ms.div_euclid(1000)));
    }
    if let Some(text) = &a.query {
        let extra: Value = serde_json::from_str(text).map_err(|e| msg(format!("--query is not valid JSON: {e}")))?;
        let Value::Object(extra) = extra else { return Err(msg("--query must be a JSON object")) };
        q.extend(extra);
    }
    Ok(Value::Object(q))
}

fn breakdown_of(s: &str) -> Result<Breakdown> {
    s.parse().map_err(|e| msg(format!("--breakdown {e}")))
}

async fn listening(a: &ReportArgs, store: &dyn touchpoint_store::Store, project: i64) -> Result<()> {
    let survey = a.survey.clone().ok_or_else(|| msg(format!("report {} needs --survey KEY", a.kind)))?;
    let bucket = match a.bucket.as_deref() {
        None => None,
        Some(b) => {
            Some(serde_json::from_value(json!(b)).map_err(|_| msg(format!("--bucket {b:?}: use day, week or month")))?)
        }
    };
    let mut q = touchpoint_engine::listening::ListenQuery {
        survey,
        question: a.question.clone(),
        by: a.by.clone(),
        bucket,
        a: a.a.clone(),
        b: a.b.clone(),
        ..Default::default()
    };
    if let Some(text) = &a.query {
        let extra: Value = serde_json::from_str(text).map_err(|e| msg(format!("--query is not valid JSON: {e}")))?;
        if let Some(f) = extra.get("filter") {
            q.filter = serde_json::from_value(f.clone()).map_err(|e| msg(format!("--query filter: {e}")))?;
        }
    }
    let analysis = touchpoint_engine::listening::ListenAnalysis::parse(&a.kind)?;
    let v = touchpoint_engine::listening::run(store, project, analysis, &q).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::listen_tables::print(&a.kind, &v);
    }
    Ok(())
}

pub async fn run(a: ReportArgs) -> Result<()> {
    let (store, project) = a.project.open().await?;
    if touchpoint_engine::listening::ListenAnalysis::parse(&a.kind).is_ok() {
        return listening(&a, &*store, project.id).await;
    }
    let started = std::time::Instant::now();
    let config = a.project.config()?;
    let journeys =
        touchpoint_engine::journeys::Journeys::open(store.clone(), Some(config.data_dir.join("journeys"))).await?;
    let snap = journeys.index.snapshot(project.id).ok_or_else(|| msg("this project has no journeys yet"))?;
    let loaded = started.elapsed();
    let filter = match &a.filter {
        Some(f) => serde_json::from_str(f).map_err(|e| msg(format!("--filter: {e}")))?,
        None => Default::default(),
    };
    let plan = Plan {
        filter,
        breakdown: a.breakdown.as_deref().map(breakdown_of).transpose()?,
        max_groups: 10,
        query: query_of(&a)?,
    };
    let t = std::time::Instant::now();
    let wall_now_s = touchpoint_store::now_ms().div_euclid(1000);
    let r = touchpoint_engine::analyses::run_plan(&*store, &project, snap, &a.kind, plan, wall_now_s).await?;
    let took = t.elapsed();
    if a.json {
        let out = json!({"kind": a.kind, "clock": r.clock, "groups": r.groups});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        eprintln!(
            "{}: {} customers, {} events (loaded in {:.2} s, analysed in {:.1} ms)",
            project.name,
            r.customers,
            r.events,
            loaded.as_secs_f64(),
            took.as_secs_f64() * 1000.0
        );
        println!("{}", clock_line(&r.clock));
        for g in &r.groups {
            print_group(&a.kind, g);
        }
    }
    Ok(())
}

/// The clock and time range of a report, in words.
fn clock_line(c: &touchpoint_engine::analyses::ClockInfo) -> String {
    let day = |iso: &Option<String>| iso.as_deref().map(|s| s.get(..10).unwrap_or(s).to_string());
    let now = c.now.get(..16).unwrap_or(&c.now).replace('T', " ");
    let from = match c.now_from.as_str() {
        "query" => "as asked",
        "period_end" => "the end of the period",
        _ => "the current time",
    };
    use touchpoint_engine::analyses::SilenceSeen;
    let silence = match c.silence_seen {
        Some(SilenceSeen::None) => {
            "\nThe period began less than one churn horizon ago: nobody in it can have been silent that long \
             yet, so its churn is only the churn touchpoints."
        }
        Some(SilenceSeen::Partly) => {
            "\nThe data begin less than one churn horizon before the period: customers silent since before \
             they began are not seen, so churn by silence is too low."
        }
        Some(SilenceSeen::All) | None => "",
    };
    match (day(&c.events_from), day(&c.events_to)) {
        (Some(a), Some(b)) => {
            format!("As of {now} UTC ({from}); events from {a} to {b}; days counted in {}.{silence}", c.timezone)
        }
        _ => format!("As of {now} UTC ({from}); no events yet; days counted in {}.{silence}", c.timezone),
    }
}

fn print_group(kind: &str, g: &GroupResult) {
    println!();
    println!("== {} — {} customers, {} events", g.group, g.customers, g.events);
    crate::tables::print(kind, &g.report);
}
