//! Readable terminal tables for the analyses' JSON reports (`touchpoint report`).
//! Anything a table does not show is in `--json`.

use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn pct(v: &Value) -> String {
    v.as_f64().map(|f| format!("{:.1} %", f * 100.0)).unwrap_or_else(|| "–".into())
}

fn num(v: &Value) -> String {
    v.as_f64()
        .map(|f| if f.fract() == 0.0 { format!("{f:.0}") } else { format!("{f:.2}") })
        .unwrap_or_else(|| "–".into())
}

/// Seconds as a short human duration.
fn dur(v: &Value) -> String {
    let Some(x) = v.as_f64() else { return "–".into() };
    match x {
        x if x < 120.0 => format!("{x:.0} s"),
        x if x < 7200.0 => format!("{:.0} min", x / 60.0),
        x if x < 172_800.0 => format!("{:.1} h", x / 3600.0),
        x => format!("{:.1} d", x / 86_400.0),
    }
}

/// Survey satisfaction on 0–10 with its interval and n (`–` where nobody was asked).
fn satisfaction(v: &Value) -> String {
    match (v["mean"].as_f64(), v["interval"]["low"].as_f64(), v["interval"]["high"].as_f64()) {
        (Some(m), Some(l), Some(h)) => format!("{m:.1} [{l:.1}–{h:.1}] n={}", s(&v["n"])),
        (Some(m), _, _) => format!("{m:.1} n={}", s(&v["n"])),
        _ => "–".into(),
    }
}

/// The widest a table may print: it fits a 100-column terminal.
pub const MAX_WIDTH: usize = 100;

/// `text` cut to `max` characters, with `…` where it was cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Column widths for `header` and `rows` that fit [`MAX_WIDTH`]: the widest columns give
/// up characters first (none goes below 8 or its header).
fn widths(header: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let floor: Vec<usize> = header.iter().map(|h| h.chars().count().max(8)).collect();
    loop {
        let total: usize = w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        if total <= MAX_WIDTH {
            break;
        }
        let Some(i) = (0..w.len()).filter(|&i| w[i] > floor[i]).max_by_key(|&i| w[i]) else { break };
        w[i] -= 1;
    }
    w
}

/// Print rows as an aligned table with a header, at most [`MAX_WIDTH`] wide (long cells
/// are cut with `…`; `--json` has them whole).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let w = widths(header, rows);
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let c = &fit(c, w.get(i).copied().unwrap_or(usize::MAX));
            let pad = w[i].saturating_sub(c.chars().count());
            // First column left-aligned, numbers right-aligned.
            if i == 0 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
            out.push_str("  ");
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(w.iter().map(|n| "─".repeat(*n)).collect());
    for r in rows {
        line(r.clone());
    }
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// How sure a finding is, in words, from its false-discovery q-value.
fn sureness(q: f64) -> String {
    match q {
        q if q < 0.001 => "very sure".into(),
        q if q < 0.01 => "sure".into(),
        q if q < 0.05 => "fairly sure".into(),
        _ => "not sure".into(),
    }
}

/// What an attribution model does, for people.
fn model_in_words(model: &str) -> &'static str {
    match model {
        "first-touch" => "all the credit to the first contact",
        "last-touch" => "all the credit to the last contact before the conversion",
        "linear" => "equal credit to every contact",
        "time-decay" => "more credit to contacts close to the conversion",
        "position-based" => "40 % to the first contact, 40 % to the last, 20 % shared by the rest",
        "markov" | "markov-2" | "markov-3" => {
            "how many conversions would be lost without it (from the paths customers take)"
        }
        "shapley" => "its fair share of what each combination of channels converts",
        _ => "see --json",
    }
}

/// Print a report of a kind.
pub fn print(kind: &str, r: &Value) {
    match kind {
        "funnel" => {
            let rows: Vec<Vec<String>> = arr(&r["steps"])
                .iter()
                .map(|st| {
                    vec![
                        format!("{}. {}", s(&st["step"]), s(&st["key"])),
                        s(&st["customers"]),
                        pct(&st["from_previous"]),
                        pct(&st["from_first"]),
                        dur(&st["median_s"]),
                        dur(&st["p90_s"]),
                    ]
                })
                .collect();
            table(&["step", "customers", "from previous", "from first", "median time", "p90 time"], &rows);
            if let Some(d) = r.get("dropped").filter(|d| !d.is_null()) {
                println!("{} customers dropped after step {}; first ids: {}", s(&d["total"]), s(&d["step"]), {
                    let ids: Vec<String> = arr(&d["customers"]).iter().take(10).map(s).collect();
                    ids.join(", ")
                });
            }
        }
        "transitions" => {
            let rows: Vec<Vec<String>> = arr(&r["transitions"])
                .iter()
                .map(|t| vec![format!("{} → {}", s(&t["from"]), s(&t["to"])), s(&t["count"]), pct(&t["share"])])
                .collect();
            table(&["transition", "count", "share"], &rows);
        }
        "sankey" => {
            let nodes = arr(&r["nodes"]);
            let name = |id: &Value| {
                nodes
                    .iter()
                    .find(|n| n["id"] == *id)
                    .map(|n| format!("{}:{}", s(&n["step"]), s(&n["key"])))
                    .unwrap_or_else(|| s(id))
            };
            let rows: Vec<Vec<String>> = arr(&r["links"])
                .iter()
                .map(|l| vec![format!("{} → {}", name(&l["source"]), name(&l["target"])), s(&l["customers"])])
                .collect();
            table(&["flow (step:touchpoint)", "customers"], &rows);
        }
        "retention" => {
            let cohorts = arr(&r["cohorts"]);
            let periods = cohorts.first().map(|c| arr(&c["rates"]).len()).unwrap_or(0);
            let mut header = vec!["cohort".to_string(), "size".to_string()];
            header.extend((0..periods).map(|n| format!("{n}")));
            let mut rows: Vec<Vec<String>> = cohorts
                .iter()
                .map(|c| {
                    let mut row = vec![s(&c["start"]), s(&c["size"])];
                    row.extend(arr(&c["rates"]).iter().map(pct));
                    row
                })
                .collect();
            let o = &r["overall"];
            let mut row = vec!["all".to_string(), s(&o["size"])];
            row.extend(arr(&o["rates"]).iter().map(pct));
            rows.push(row);
            let h: Vec<&str> = header.iter().map(String::as_str).collect();
            table(&h, &rows);
        }
        "journey-map" => {
            let b = &r["baseline"];
            if b["journeys"].as_u64() == Some(0) {
                println!("No journeys yet: send events (see the README) or import a file with `touchpoint import`.");
                return;
            }
            println!(
                "{} journeys; {} churned (silent too long, or a churn signal).",
                s(&b["journeys"]),
                pct(&b["churn_rate"])
            );
            match r["goal"].as_str() {
                None => println!(
                    "No conversion goal: mark a touchpoint as one (`touchpoint touchpoint set KEY --project P --goal true`) \
                     or name it with --goal, to see conversion."
                ),
                Some(g) if b["converted"].as_u64() == Some(0) => {
                    println!("Goal {g}: no customer has reached it yet, so there is no conversion to show.")
                }
                Some(g) => println!("Goal {g}: {} of journeys reach it.", pct(&b["conversion_rate"])),
            }
            for st in arr(&r["stages"]) {
                println!();
                println!(
                    "Stage {} — {} customers, conversion {}, churn {}, satisfaction {}",
                    s(&st["key"]),
                    s(&st["customers"]),
                    pct(&st["conversion_rate"]),
                    pct(&st["churn_rate"]),
                    satisfaction(&st["satisfaction_detail"])
                );
                let rows: Vec<Vec<String>> = arr(&st["touchpoints"])
                    .iter()
                    .map(|t| {
                        vec![
                            s(&t["key"]),
                            s(&t["reach"]),
                            pct(&t["share"]),
                            pct(&t["conversion_rate"]),
                            t["conversion_lift"].as_f64().map(|l| format!("{l:.2}×")).unwrap_or_else(|| "–".into()),
                            pct(&t["exit_rate"]),
                            dur(&t["median_s_to_next_stage"]),
                            satisfaction(&t["satisfaction_detail"]),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "touchpoint",
                        "reach",
                        "share",
                        "conversion",
                        "lift",
                        "exit rate",
                        "to next stage",
                        "satisfaction",
                    ],
                    &rows,
                );
            }
            let curve: Vec<String> = arr(&r["stages"])
                .iter()
                .zip(arr(&r["emotion_curve"]))
                .map(|(st, v)| {
                    let bar =
                        v.as_f64().map(|m| "▁▂▃▄▅▆▇█".chars().nth(((m / 10.0) * 7.0).round().clamp(0.0, 7.0) as usize));
                    match (v.as_f64(), bar.flatten()) {
                        (Some(m), Some(b)) => format!("{} {b} {m:.1}", s(&st["key"])),
                        _ => format!("{} –", s(&st["key"])),
                    }
                })
                .collect();
            if !curve.is_empty() {
                println!();
                println!("Emotion curve (survey satisfaction 0–10 by stage): {}", curve.join("  →  "));
            }
            println!();
            let pains = arr(&r["pain_points"]);
            if pains.is_empty() {
                println!("No pain points: no touchpoint's customers leave or fail to convert clearly more often than others.");
            } else {
                println!("Pain points: where customers leave, or fail to convert, clearly more often than");
                println!("comparable customers who did not pass there. Most certain loss first.");
            }
            let rows: Vec<Vec<String>> = pains
                .iter()
                .map(|p| {
                    let why = |t: &Value, what: &str| {
                        (!t.is_null() && t["adverse"] == true).then(|| {
                            format!("{what} {} of {} vs {}", pct(&t["rate"]), s(&t["customers"]), pct(&t["peer_rate"]))
                        })
                    };
                    let reasons: Vec<String> =
                        [why(&p["churn"], "left"), why(&p["conversion"], "converted")].into_iter().flatten().collect();
                    vec![
                        s(&p["touchpoint"]),
                        s(&p["stage"]),
                        format!("{} (at least {})", num(&p["customers_lost"]), num(&p["customers_lost_low"])),
                        reasons.join("; "),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                table(&["touchpoint", "stage", "customers lost", "why (there vs elsewhere)"], &rows);
            }
        }
        "churn" => {
            let since = r["left_from_s"]
                .as_i64()
                .map(|t| format!(" from {} on", touchpoint_core::event::format_date(t.saturating_mul(1000))))
                .unwrap_or_default();
            let horizon = match r["churn_horizon_s"].as_i64().unwrap_or(0) {
                h if h % 86_400 == 0 => format!("{} days", h / 86_400),
                h => format!("{h} s"),
            };
            println!(
                "{} of {} customers left{since} ({}): {} by a churn signal, {} by silence (no event for over {horizon}).",
                s(&r["churned"]),
                s(&r["customers"]),
                pct(&r["churn_rate"]),
                s(&r["by_signal"]),
                s(&r["by_silence"]),
            );
            println!("Churn drivers: touchpoints seen more often just before customers left than among");
            println!("those who stayed (the test's q-values are in --json):");
            let rows: Vec<Vec<String>> = arr(&r["drivers"])
                .iter()
                .filter(|d| d["driver"].as_bool().unwrap_or(false))
                .map(|d| {
                    vec![
                        s(&d["touchpoint"]),
                        pct(&d["churned_share"]),
                        pct(&d["stayed_share"]),
                        d["lift"].as_f64().map(|l| format!("{l:.1}× as often")).unwrap_or_else(|| "–".into()),
                        sureness(d["q"].as_f64().unwrap_or(1.0)),
                    ]
                })
                .collect();
            table(&["touchpoint", "of those who left", "of those who stayed", "so", "how sure"], &rows);
        }
        "attribution" => {
            println!(
                "{} conversions of {} by {} journeys ({} converting); credit by {}:",
                s(&r["conversions"]),
                s(&r["goal"]),
                s(&r["journeys"]),
                s(&r["converting_journeys"]),
                s(&r["by"])
            );
            // Shares of the conversions, one column per model; the credits themselves and
            // the methods' technical names are in --json.
            let models: Vec<String> = arr(&r["models"]).iter().map(|m| s(&m["model"])).collect();
            let mut header = vec![s(&r["by"]), "in journeys".to_string()];
            header.extend(models.iter().cloned());
            let rows: Vec<Vec<String>> = arr(&r["rows"])
                .iter()
                .map(|row| {
                    let mut cells = vec![s(&row["key"]), s(&row["conversions_touched"])];
                    cells.extend(models.iter().map(|m| pct(&row["credits"][m]["share"])));
                    cells
                })
                .collect();
            let h: Vec<&str> = header.iter().map(String::as_str).collect();
            table(&h, &rows);
            println!("Shares of the conversions each model gives; \"in journeys\": conversions it was part of.");
            for m in &models {
                println!("  {m}: {}", model_in_words(m));
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(r).unwrap_or_default()),
    }
}
