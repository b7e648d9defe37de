//! The listening analyses over stored responses, for `POST /api/listening/{kind}` and
//! `touchpoint report nps | csat | ces | rating | drivers | text | gaps | benchmark |
//! touchpoints`: load a survey's complete responses (every version; answers keep the
//! meaning of the version they were given to), filter them, and hand plain numbers to the
//! pure functions of `touchpoint-listen`.

use crate::error::{Code, Error};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use touchpoint_core::calendar::Clock;
use touchpoint_core::event::parse_time_str;
use touchpoint_listen::metrics::{self, Bucket, Metric, Obs};
use touchpoint_listen::survey::{Answer, Answers, QuestionKind, SurveyDef};
use touchpoint_listen::{benchmark, drivers, gaps, text};
use touchpoint_store::listen::SurveyRow;
use touchpoint_store::Store;

/// What every listening analysis takes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ListenQuery {
    /// The survey's key.
    pub survey: String,
    /// The question (default: the survey's first question of the analysis' kind).
    pub question: Option<String>,
    /// Answered at or after (ISO 8601).
    pub from: Option<String>,
    /// Answered before (ISO 8601).
    pub to: Option<String>,
    /// Keep responses whose `touchpoint`, `lang`, `source` or dimension equals the value.
    pub filter: BTreeMap<String, String>,
    /// Segment by `touchpoint`, `lang`, `source`, a dimension, or a period (`day`, `week`,
    /// `month`, in the project's time zone); each segment is tested against the rest.
    pub by: Option<String>,
    /// Trend per `day`, `week` or `month`.
    #[schema(value_type = Option<String>)]
    pub bucket: Option<Bucket>,
    /// A fixed offset for periods and trend buckets, seconds east of UTC, instead of the
    /// project's time zone (whose daylight-saving changes are followed exactly).
    pub tz_offset_s: Option<i32>,
    /// Ignore response weights.
    pub unweighted: bool,
    /// Drivers: the outcome question (default: the first NPS question).
    pub outcome: Option<String>,
    /// Text: the two groups' values of `by` (default with no `by`: detractors vs promoters).
    pub a: Option<String>,
    /// Text: see `a`.
    pub b: Option<String>,
    /// Text: terms reported per group.
    pub top: Option<usize>,
}

/// A complete response, ready for analysis.
struct Resp {
    answers: Answers,
    weight: f64,
    at_s: i64,
    /// Local day number of `at_s` in the analysis' clock.
    day: i64,
    touchpoint: Option<String>,
    lang: Option<String>,
    source: String,
    dims: BTreeMap<String, String>,
}

impl Resp {
    fn attr(&self, key: &str) -> Option<String> {
        use touchpoint_core::calendar::{civil_from_days, days_from_civil};
        let day = self.day;
        match key {
            // Periods (local days), to compare one month, week or day with the others.
            "day" => {
                let (y, m, d) = civil_from_days(day);
                Some(format!("{y:04}-{m:02}-{d:02}"))
            }
            "week" => {
                // ISO weeks start on Monday; 1970-01-01 was a Thursday.
                let monday = day - (day + 3).rem_euclid(7);
                let (y, m, d) = civil_from_days(monday);
                Some(format!("week of {y:04}-{m:02}-{d:02}"))
            }
            "month" => {
                let (y, m, _) = civil_from_days(day);
                debug_assert!(days_from_civil(y, m, 1) <= day);
                Some(format!("{y:04}-{m:02}"))
            }
            "touchpoint" => self.touchpoint.clone(),
            "lang" => self.lang.clone(),
            "source" => Some(self.source.clone()),
            d => self.dims.get(d).cloned(),
        }
    }
}

/// The clock of an analysis: a fixed offset when the query names one, else the project's
/// zone with its changes over `span` (first and last second of the answers).
async fn clock_for(store: &dyn Store, project: i64, q: &ListenQuery, span: Option<(i64, i64)>) -> Result<Clock, Error> {
    if let Some(o) = q.tz_offset_s {
        if o.unsigned_abs() >= 86_400 {
            return Err(Error::invalid(
                Code::InvalidQuery,
                Some("tz_offset_s".into()),
                format!("tz_offset_s: a time-zone offset is less than a day (±86399 s), not {o}"),
            ));
        }
        return Ok(Clock::fixed(i64::from(o)));
    }
    let Some((from_s, to_s)) = span else { return Ok(Clock::default()) };
    let zone = store.project(project).await?.map_or_else(|| "UTC".to_string(), |p| p.timezone);
    Ok(crate::tz::clock(&zone, from_s, to_s + 86_400))
}

async fn load(
    store: &dyn Store,
    project: i64,
    q: &ListenQuery,
) -> Result<(SurveyRow, SurveyDef, Vec<Resp>, Clock), Error> {
    let row = crate::surveys::find_survey(store, project, &q.survey).await?;
    let def = crate::surveys::definition(&row)?;
    let from = q
        .from
        .as_deref()
        .map(parse_time_str)
        .transpose()
        .map_err(|e| Error::invalid(Code::InvalidQuery, Some("from".into()), format!("from: {e}")))?;
    let to =
        q.to.as_deref()
            .map(parse_time_str)
            .transpose()
            .map_err(|e| Error::invalid(Code::InvalidQuery, Some("to".into()), format!("to: {e}")))?;
    let mut out = vec![];
    for r in crate::surveys::all_responses(store, &row, true).await? {
        let at = r.completed_ms.unwrap_or(r.created_ms);
        if from.is_some_and(|f| at < f) || to.is_some_and(|t| at >= t) {
            continue;
        }
        let dims: BTreeMap<String, String> = r
            .response
            .dimensions
            .as_object()
            .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        out.push(Resp {
            answers: serde_json::from_value(r.response.answers).unwrap_or_default(),
            weight: if q.unweighted { 1.0 } else { r.response.weight },
            at_s: at.div_euclid(1000),
            day: 0,
            touchpoint: r.response.touchpoint,
            lang: r.response.lang,
            source: r.response.source,
            dims,
        });
    }
    let span = out.iter().map(|r| r.at_s).min().zip(out.iter().map(|r| r.at_s).max());
    let clock = clock_for(store, project, q, span).await?;
    for r in &mut out {
        r.day = clock.day_of(r.at_s);
    }
    out.retain(|r| q.filter.iter().all(|(k, v)| r.attr(k).as_deref() == Some(v.as_str())));
    Ok((row, def, out, clock))
}

fn pick_question<'a>(
    def: &'a SurveyDef,
    asked: Option<&str>,
    ok: impl Fn(&QuestionKind) -> bool,
    what: &str,
) -> Result<&'a touchpoint_listen::survey::Question, Error> {
    match asked {
        Some(id) => match def.question(id) {
            Some(q) if ok(&q.kind) => Ok(q),
            Some(q) => {
                Err(Error::missing("question", format!("question: {id:?} is a {} question, not {what}", q.kind.name())))
            }
            None => Err(Error::missing("question", format!("question: the survey has no question {id:?}"))),
        },
        None => def
            .questions
            .iter()
            .find(|q| ok(&q.kind))
            .ok_or_else(|| Error::missing("question", format!("question: the survey has no {what} question"))),
    }
}

/// Which question kinds an analysis accepts.
type KindTest = fn(&QuestionKind) -> bool;

/// A listening analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAnalysis {
    /// Net Promoter Score.
    Nps,
    /// Customer satisfaction (share of 4–5).
    Csat,
    /// Customer effort (mean of 1–7).
    Ces,
    /// The mean of a rating question.
    Rating,
    /// Key drivers of an outcome (relative weights, importance–performance).
    Drivers,
    /// Expectation gaps of pair questions.
    Gaps,
    /// Open-text terms, group against group.
    Text,
    /// A study against the benchmark tables.
    Benchmark,
    /// Satisfaction per touchpoint.
    Touchpoints,
}

impl ListenAnalysis {
    /// Every analysis, in the order they are documented.
    pub const ALL: [ListenAnalysis; 9] = [
        ListenAnalysis::Nps,
        ListenAnalysis::Csat,
        ListenAnalysis::Ces,
        ListenAnalysis::Rating,
        ListenAnalysis::Drivers,
        ListenAnalysis::Gaps,
        ListenAnalysis::Text,
        ListenAnalysis::Benchmark,
        ListenAnalysis::Touchpoints,
    ];

    /// Its name in routes and commands.
    pub fn name(self) -> &'static str {
        match self {
            ListenAnalysis::Nps => "nps",
            ListenAnalysis::Csat => "csat",
            ListenAnalysis::Ces => "ces",
            ListenAnalysis::Rating => "rating",
            ListenAnalysis::Drivers => "drivers",
            ListenAnalysis::Gaps => "gaps",
            ListenAnalysis::Text => "text",
            ListenAnalysis::Benchmark => "benchmark",
            ListenAnalysis::Touchpoints => "touchpoints",
        }
    }

    /// The analysis a name names, or which there are.
    pub fn parse(kind: &str) -> Result<ListenAnalysis, Error> {
        ListenAnalysis::ALL.into_iter().find(|a| a.name() == kind).ok_or_else(|| {
            let names: Vec<&str> = ListenAnalysis::ALL.iter().map(|a| a.name()).collect();
            Error::not_found(format!("no listening analysis {kind:?}; known: {}", names.join(", ")))
        })
    }

    /// The metric it computes and the question kinds it accepts, for the score analyses.
    fn metric(self) -> Option<(Metric, KindTest)> {
        Some(match self {
            ListenAnalysis::Nps => (Metric::Nps, |k| matches!(k, QuestionKind::Nps)),
            ListenAnalysis::Csat => (Metric::Csat, |k| matches!(k, QuestionKind::Csat)),
            ListenAnalysis::Ces => (Metric::Mean, |k| matches!(k, QuestionKind::Ces)),
            ListenAnalysis::Rating => (Metric::Mean, |k| {
                matches!(k, QuestionKind::Rating { .. } | QuestionKind::Nps | QuestionKind::Csat | QuestionKind::Ces)
            }),
            _ => return None,
        })
    }
}

/// Run one analysis (shared by the API and the CLI).
pub async fn run(store: &dyn Store, project: i64, analysis: ListenAnalysis, q: &ListenQuery) -> Result<Value, Error> {
    let (row, def, resps, clock) = load(store, project, q).await?;
    // The period the answers come from: the query's range, else the answers' own.
    let iso = |s: i64| touchpoint_core::event::format_time(s.saturating_mul(1000));
    let first = q.from.clone().or_else(|| resps.iter().map(|r| r.at_s).min().map(iso));
    let last = q.to.clone().or_else(|| resps.iter().map(|r| r.at_s).max().map(iso));
    let zone = store.project(project).await?.map_or_else(|| "UTC".to_string(), |p| p.timezone);
    let period = json!({"from": first, "to": last, "timezone": zone});
    let base = json!({"survey": row.key, "version": row.version, "responses": resps.len(), "period": period});
    let mut out = match analysis {
        a if a.metric().is_some() => {
            let (metric, ok) = a.metric().unwrap_or((Metric::Mean, |_| false));
            let question = pick_question(&def, q.question.as_deref(), ok, a.name())?;
            let obs_of = |rs: &[&Resp]| -> Vec<Obs> {
                rs.iter().filter_map(|r| Some(Obs::weighted(r.answers.score(&question.id)?, r.weight))).collect()
            };
            let all: Vec<&Resp> = resps.iter().collect();
            let obs = obs_of(&all);
            let scale = match (&question.kind, metric) {
                (QuestionKind::Rating { min, max }, _) => metrics::Scale::Rating { min: *min as i32, max: *max as i32 },
                (QuestionKind::Nps, _) => metrics::Scale::Nps,
                (QuestionKind::Csat, _) => metrics::Scale::Csat,
                _ => metrics::Scale::Ces,
            };
            let mut v = json!({
                "question": question.id,
                "metric": metric,
                "result": metrics::compute(metric, &obs),
                "distribution": metrics::distribution(&obs, scale),
            });
            if let Some(by) = &q.by {
                let mut groups: BTreeMap<String, Vec<&Resp>> = BTreeMap::new();
                for r in &resps {
                    groups.entry(r.attr(by).unwrap_or_else(|| "(none)".into())).or_default().push(r);
                }
                let named: Vec<(String, Vec<Obs>)> = groups.iter().map(|(k, rs)| (k.clone(), obs_of(rs))).collect();
                let segments: Vec<Value> = named
                    .iter()
                    .zip(metrics::compare_many(metric, &named))
                    .map(|((name, o), cmp)| json!({"segment": name, "result": metrics::compute(metric, o), "vs_rest": cmp}))
                    .collect();
                v["by"] = json!(by);
                v["segments"] = json!(segments);
            }
            if let Some(bucket) = q.bucket {
                let timed: Vec<(i64, Obs)> = resps
                    .iter()
                    .filter_map(|r| Some((r.at_s, Obs::weighted(r.answers.score(&question.id)?, r.weight))))
                    .collect();
                v["trend"] = json!(metrics::trend(metric, &timed, bucket, &clock));
            }
            v
        }
        ListenAnalysis::Drivers => {
            let outcome =
                pick_question(&def, q.outcome.as_deref().or(q.question.as_deref()), |k| k.scale().is_some(), "scored")?;
            let matrix = def.questions.iter().find(|q| matches!(q.kind, QuestionKind::Matrix { .. }));
            let (area_keys, area_names): (Vec<String>, Vec<String>) = match matrix.map(|m| &m.kind) {
                Some(QuestionKind::Matrix { areas }) => areas
                    .iter()
                    .map(|a| {
                        (
                            a.key.clone(),
                            touchpoint_listen::survey::text_for(&a.label, "en", &def.default_locale).to_string(),
                        )
                    })
                    .unzip(),
                _ => {
                    // Rating questions that name an area.
                    def.questions
                        .iter()
                        .filter(|q| q.area.is_some() && q.kind.scale().is_some() && q.id != outcome.id)
                        .map(|q| (q.id.clone(), q.area.clone().unwrap_or_default()))
                        .unzip()
                }
            };
            if area_keys.len() < 2 {
                return Err(Error::missing(
                    "survey",
                    "survey: drivers need a matrix question or at least two rating questions with an area",
                ));
            }
            let area_value = |r: &Resp, k: &str| -> f64 {
                match matrix.and_then(|m| r.answers.0.get(&m.id)) {
                    Some(Answer::Matrix(m)) => m.get(k).map(|v| *v as f64).unwrap_or(f64::NAN),
                    _ => r.answers.score(k).unwrap_or(f64::NAN),
                }
            };
            let mut x = vec![];
            let mut y = vec![];
            let mut w = vec![];
            for r in &resps {
                let Some(o) = r.answers.score(&outcome.id) else { continue };
                x.push(area_keys.iter().map(|k| area_value(r, k)).collect::<Vec<f64>>());
                y.push(o);
                w.push(r.weight);
            }
            let rw = drivers::relative_weights(&x, &y, Some(&w))
                .map_err(|e| Error::refused(Code::NotEnoughData, Some("survey".into()), e.to_string()))?;
            let perf: Vec<drivers::AreaScore> = area_keys
                .iter()
                .enumerate()
                .map(|(j, _)| {
                    let obs: Vec<Obs> = x
                        .iter()
                        .zip(&w)
                        .filter(|(row, _)| row[j].is_finite())
                        .map(|(row, w)| Obs::weighted(row[j], *w))
                        .collect();
                    let importance = rw.areas.iter().find(|a| a.index == j).map(|a| a.share_pct).unwrap_or(0.0);
                    drivers::AreaScore {
                        name: area_names[j].clone(),
                        importance,
                        performance: metrics::mean(&obs).map(|m| m.mean).unwrap_or(f64::NAN),
                    }
                })
                .collect();
            let areas: Vec<Value> = rw
                .areas
                .iter()
                .map(|a| json!({"area": area_keys[a.index], "name": area_names[a.index], "r": a.r, "raw": a.raw, "share_pct": a.share_pct, "rank": a.rank, "performance": perf[a.index].performance}))
                .collect();
            json!({
                "outcome": outcome.id,
                "method": "johnson_relative_weights",
                "n": rw.n, "n_eff": rw.n_eff, "dropped": rw.dropped, "r2": rw.r2,
                "areas": areas,
                "quadrants": drivers::importance_performance_matrix(&perf),
            })
        }
        ListenAnalysis::Gaps => {
            let mut rows: Vec<((String, String), f64, f64, f64)> = vec![];
            for qn in def.questions.iter().filter(|q| matches!(q.kind, QuestionKind::Pair { .. })) {
                let area = qn.area.clone().unwrap_or_else(|| qn.id.clone());
                for r in &resps {
                    if let Some(Answer::Pair { expectation, experience }) = r.answers.0.get(&qn.id) {
                        let tp = r.touchpoint.clone().unwrap_or_else(|| "(all)".into());
                        rows.push(((area.clone(), tp), *expectation as f64, *experience as f64, r.weight));
                    }
                }
            }
            let by_area: Vec<(String, f64, f64, f64)> =
                rows.iter().map(|((a, _), e, x, w)| (a.clone(), *e, *x, *w)).collect();
            let area_results: Vec<Value> =
                gaps::gaps_by(&by_area).into_iter().map(|(a, g)| json!({"area": a, "gap": g})).collect();
            let cells: Vec<Value> = gaps::gaps_by(&rows)
                .into_iter()
                .map(|((a, t), g)| json!({"area": a, "touchpoint": t, "gap": g}))
                .collect();
            json!({"areas": area_results, "by_touchpoint": cells})
        }
        ListenAnalysis::Text => {
            let questions: Vec<&str> = match q.question.as_deref() {
                Some(id) => {
                    vec![pick_question(&def, Some(id), |k| matches!(k, QuestionKind::Text { .. }), "text")?.id.as_str()]
                }
                None => def
                    .questions
                    .iter()
                    .filter(|q| matches!(q.kind, QuestionKind::Text { .. }))
                    .map(|q| q.id.as_str())
                    .collect(),
            };
            let texts = |r: &Resp| -> Vec<String> {
                questions.iter().filter_map(|id| r.answers.text(id)).map(str::to_string).collect()
            };
            let (label_a, label_b, a, b): (String, String, Vec<String>, Vec<String>) = match &q.by {
                Some(by) => {
                    let (va, vb) = match (&q.a, &q.b) {
                        (Some(a), Some(b)) => (a.clone(), b.clone()),
                        _ => {
                            return Err(Error::invalid(
                                Code::InvalidQuery,
                                Some("a".into()),
                                "a, b: name the two values of `by` to compare",
                            ))
                        }
                    };
                    let pick =
                        |v: &str| resps.iter().filter(|r| r.attr(by).as_deref() == Some(v)).flat_map(texts).collect();
                    (va.clone(), vb.clone(), pick(&va), pick(&vb))
                }
                None => {
                    let nps = pick_question(&def, None, |k| matches!(k, QuestionKind::Nps), "NPS")?;
                    let pick = |lo: f64, hi: f64| {
                        resps
                            .iter()
                            .filter(|r| r.answers.score(&nps.id).is_some_and(|s| s >= lo && s <= hi))
                            .flat_map(texts)
                            .collect()
                    };
                    ("detractors".into(), "promoters".into(), pick(0.0, 6.0), pick(9.0, 10.0))
                }
            };
            let opts = text::TextOptions { top: q.top.unwrap_or(15), ..Default::default() };
            let report = text::distinguishing_terms(&a, &b, &opts)
                .map_err(|e| Error::invalid(Code::InvalidQuery, None, e.to_string()))?;
            json!({"a": label_a, "b": label_b, "answers_a": a.len(), "answers_b": b.len(), "report": report})
        }
        ListenAnalysis::Benchmark => {
            let matrix = def.questions.iter().find(|q| matches!(q.kind, QuestionKind::Matrix { .. }));
            let Some(matrix) = matrix else {
                return Err(Error::missing("survey", "survey: a benchmark needs a matrix question of areas"));
            };
            let nps = def.questions.iter().find(|q| matches!(q.kind, QuestionKind::Nps));
            let rows: Vec<benchmark::BenchRow> = resps
                .iter()
                .filter_map(|r| {
                    let Some(Answer::Matrix(m)) = r.answers.0.get(&matrix.id) else { return None };
                    Some(benchmark::BenchRow {
                        category: r.dims.get("category").cloned().unwrap_or_else(|| "(all)".into()),
                        brand: r.dims.get("brand").cloned().unwrap_or_else(|| "(own)".into()),
                        areas: m.iter().map(|(k, v)| (k.clone(), *v as f64)).collect(),
                        recommend: nps.and_then(|n| r.answers.score(&n.id)),
                        weight: r.weight,
                    })
                })
                .collect();
            let report = benchmark::analyze(&rows)
                .map_err(|e| Error::refused(Code::NotEnoughData, Some("survey".into()), e.to_string()))?;
            let external: Vec<benchmark::ExternalBenchmark> = store
                .benchmarks(project)
                .await?
                .into_iter()
                .map(|b| benchmark::ExternalBenchmark {
                    metric: b.metric,
                    segment: b.segment,
                    value: b.value,
                    n: b.n,
                    se: b.se,
                })
                .collect();
            let vs = benchmark::compare_report(&report, &external);
            json!({"report": report, "external": vs})
        }
        ListenAnalysis::Touchpoints => {
            // Satisfaction where it was measured: per triggering touchpoint, the survey's
            // headline question.
            let head =
                def.headline().ok_or_else(|| Error::missing("survey", "survey: no NPS, CSAT or CES question"))?;
            let metric = match head.kind {
                QuestionKind::Nps => Metric::Nps,
                QuestionKind::Csat => Metric::Csat,
                _ => Metric::Mean,
            };
            let mut groups: BTreeMap<String, Vec<Obs>> = BTreeMap::new();
            for r in &resps {
                if let (Some(t), Some(s)) = (&r.touchpoint, r.answers.score(&head.id)) {
                    groups.entry(t.clone()).or_default().push(Obs::weighted(s, r.weight));
                }
            }
            let named: Vec<(String, Vec<Obs>)> = groups.into_iter().collect();
            let rows: Vec<Value> = named
                .iter()
                .zip(metrics::compare_many(metric, &named))
                .map(|((t, o), cmp)| json!({"touchpoint": t, "result": metrics::compute(metric, o), "vs_rest": cmp}))
                .collect();
            json!({"question": head.id, "metric": metric, "touchpoints": rows})
        }
        ListenAnalysis::Nps | ListenAnalysis::Csat | ListenAnalysis::Ces | ListenAnalysis::Rating => {
            unreachable!("the score analyses are matched above")
        }
    };
    if let (Some(o), Some(b)) = (out.as_object_mut(), base.as_object()) {
        for (k, v) in b {
            o.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

/// Parse and store an external benchmark table (shared with the CLI).
pub async fn import_benchmarks(store: &dyn Store, project: i64, source: &str, csv: &str) -> Result<usize, Error> {
    let rows = benchmark::parse_external_csv(csv)
        .map_err(|e| Error::invalid(Code::InvalidCsv, Some("csv".into()), e.to_string()))?;
    let rows: Vec<touchpoint_store::listen::BenchmarkRow> = rows
        .into_iter()
        .map(|b| touchpoint_store::listen::BenchmarkRow {
            source: source.into(),
            metric: b.metric,
            segment: b.segment,
            value: b.value,
            n: b.n,
            se: b.se,
        })
        .collect();
    Ok(store.add_benchmarks(project, &rows).await?)
}

/// Satisfaction measured at one touchpoint (or stage), on 0–10.
#[derive(Debug, Clone, Serialize)]
pub struct Satisfaction {
    /// Mean of the surveys' headline answers rescaled to 0–10 (NPS as is, CSAT
    /// `(x − 1)·2.5`, CES `(x − 1)·10/6`).
    pub mean: f64,
    /// Its 95 % t interval.
    pub interval: Option<touchpoint_analytics::stats::Interval>,
    /// Answers.
    pub n: usize,
    /// NPS of the NPS answers among them, with its interval.
    pub nps: Option<metrics::NpsResult>,
}

/// Every complete response's headline answer on 0–10, by the touchpoint that triggered it.
pub async fn satisfaction_by_touchpoint(
    store: &dyn Store,
    project: i64,
) -> Result<BTreeMap<String, (Vec<Obs>, Vec<Obs>)>, Error> {
    let mut out: BTreeMap<String, (Vec<Obs>, Vec<Obs>)> = BTreeMap::new();
    for survey in store.surveys(project).await? {
        let def = crate::surveys::definition(&survey)?;
        let Some(head) = def.headline() else { continue };
        let scale = |x: f64| match head.kind {
            QuestionKind::Csat => (x - 1.0) * 2.5,
            QuestionKind::Ces => (x - 1.0) * 10.0 / 6.0,
            _ => x,
        };
        // Only answers given at a touchpoint: a benchmark study's thousands have none.
        let which = touchpoint_store::listen::ResponseFilter {
            survey: Some(survey.id),
            complete_only: true,
            with_touchpoint: true,
        };
        for r in crate::surveys::responses_where(store, project, which).await? {
            let Some(tp) = r.response.touchpoint.clone() else { continue };
            let answers: Answers = serde_json::from_value(r.response.answers).unwrap_or_default();
            let Some(x) = answers.score(&head.id) else { continue };
            let entry = out.entry(tp).or_default();
            entry.0.push(Obs::weighted(scale(x), r.response.weight));
            if matches!(head.kind, QuestionKind::Nps) {
                entry.1.push(Obs::weighted(x, r.response.weight));
            }
        }
    }
    Ok(out)
}

fn satisfaction_of(all: &[Obs], nps: &[Obs]) -> Option<Satisfaction> {
    let m = metrics::mean(all)?;
    Some(Satisfaction { mean: m.mean, interval: m.interval, n: m.n, nps: metrics::nps(nps) })
}

/// Fill a journey map report's satisfaction slots and its emotion curve (the mean
/// satisfaction of each stage, in column order) from the survey answers.
pub fn fill_journey_map(report: &mut Value, by_tp: &BTreeMap<String, (Vec<Obs>, Vec<Obs>)>) {
    let Some(stages) = report.get_mut("stages").and_then(Value::as_array_mut) else { return };
    let mut curve = vec![];
    for stage in stages.iter_mut() {
        let (mut all, mut nps) = (vec![], vec![]);
        if let Some(tps) = stage.get_mut("touchpoints").and_then(Value::as_array_mut) {
            for tp in tps {
                let key = tp["key"].as_str().unwrap_or_default().to_string();
                if let Some((a, n)) = by_tp.get(&key) {
                    let sat = satisfaction_of(a, n);
                    tp["satisfaction"] = json!(sat.as_ref().map(|s| s.mean));
                    tp["satisfaction_detail"] = json!(sat);
                    all.extend_from_slice(a);
                    nps.extend_from_slice(n);
                }
            }
        }
        let sat = satisfaction_of(&all, &nps);
        stage["satisfaction"] = json!(sat.as_ref().map(|s| s.mean));
        stage["satisfaction_detail"] = json!(sat);
        curve.push(sat.map(|s| s.mean));
    }
    report["emotion_curve"] = json!(curve);
}
