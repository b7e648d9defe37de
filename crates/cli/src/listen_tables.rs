//! Readable terminal tables for the listening reports (`touchpoint report nps|csat|ces|
//! rating|drivers|gaps|text|benchmark|touchpoints`). Every score is shown with its 95 %
//! interval and n; anything a table leaves out is in `--json`.

use crate::tables::table;
use serde_json::Value;

fn f(v: &Value, digits: usize) -> String {
    v.as_f64().map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".into())
}

fn interval(v: &Value, digits: usize) -> String {
    match (v["low"].as_f64(), v["high"].as_f64()) {
        (Some(l), Some(h)) => format!("{l:.digits$} – {h:.digits$}"),
        _ => "–".into(),
    }
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

/// One metric result as cells: score, interval, n, effective n, warning.
fn metric_cells(r: &Value) -> Vec<String> {
    vec![
        f(&r["score"], 1),
        interval(&r["interval"], 1),
        s(&r["n"]),
        f(&r["n_eff"], 0),
        r["warning"]["code"].as_str().map(|w| w.replace('_', " ")).unwrap_or_default(),
    ]
}

fn significance(c: &Value) -> String {
    match (c["comparison"]["diff"].as_f64(), c["q"].as_f64()) {
        (Some(d), Some(q)) => {
            format!("{d:+.1} (q {q:.3}){}", if c["significant"].as_bool() == Some(true) { " *" } else { "" })
        }
        _ => "–".into(),
    }
}

/// Print a listening report.
pub fn print(kind: &str, v: &Value) {
    println!(
        "{} — survey {} (version {}), {} responses",
        kind.to_uppercase(),
        s(&v["survey"]),
        s(&v["version"]),
        s(&v["responses"])
    );
    let p = &v["period"];
    let day = |x: &Value| x.as_str().map(|t| t.get(..10).unwrap_or(t).to_string());
    if let (Some(from), Some(to)) = (day(&p["from"]), day(&p["to"])) {
        println!("Answers from {from} to {to}; periods counted in {}.", s(&p["timezone"]));
    }
    match kind {
        "nps" | "csat" | "ces" | "rating" => {
            let mut rows = vec![];
            let mut overall = vec!["all".to_string()];
            overall.extend(metric_cells(&v["result"]));
            overall.push(String::new());
            rows.push(overall);
            for seg in arr(&v["segments"]) {
                let mut r = vec![s(&seg["segment"])];
                r.extend(metric_cells(&seg["result"]));
                r.push(significance(&seg["vs_rest"]));
                rows.push(r);
            }
            println!();
            table(&["segment", "score", "95 % interval", "n", "n eff", "warning", "vs rest"], &rows);
            if !arr(&v["distribution"]).is_empty() {
                println!();
                let rows: Vec<Vec<String>> = arr(&v["distribution"])
                    .iter()
                    .map(|p| {
                        let pct = p["pct"].as_f64().unwrap_or(0.0);
                        vec![
                            s(&p["value"]),
                            s(&p["count"]),
                            format!("{pct:.1} %"),
                            "█".repeat((pct / 2.0).round() as usize),
                        ]
                    })
                    .collect();
                table(&["answer", "count", "share", ""], &rows);
            }
            if !arr(&v["trend"]).is_empty() {
                println!();
                let rows: Vec<Vec<String>> = arr(&v["trend"])
                    .iter()
                    .map(|p| {
                        let mut r = vec![s(&p["start"])];
                        r.extend(metric_cells(&p["result"]));
                        r
                    })
                    .collect();
                table(&["from", "score", "95 % interval", "n", "n eff", "warning"], &rows);
            }
            println!("\n* significantly different from the rest (Benjamini–Hochberg q < 0.05)");
        }
        "touchpoints" => {
            let rows: Vec<Vec<String>> = arr(&v["touchpoints"])
                .iter()
                .map(|t| {
                    let mut r = vec![s(&t["touchpoint"])];
                    r.extend(metric_cells(&t["result"]));
                    r.push(significance(&t["vs_rest"]));
                    r
                })
                .collect();
            println!("\nSatisfaction ({}) where it was measured:", s(&v["metric"]));
            table(&["touchpoint", "score", "95 % interval", "n", "n eff", "warning", "vs rest"], &rows);
        }
        "drivers" => {
            println!(
                "Outcome {}: R² = {} over {} answers (Johnson's relative weights)",
                s(&v["outcome"]),
                f(&v["r2"], 3),
                s(&v["n"])
            );
            let quadrant = |name: &str| {
                arr(&v["quadrants"]["points"])
                    .iter()
                    .find(|p| p["name"] == name)
                    .map(|p| s(&p["label"]["en"]))
                    .unwrap_or_default()
            };
            let mut areas: Vec<&Value> = arr(&v["areas"]).iter().collect();
            areas.sort_by_key(|a| a["rank"].as_u64().unwrap_or(u64::MAX));
            let rows: Vec<Vec<String>> = areas
                .iter()
                .map(|a| {
                    let name = s(&a["name"]);
                    vec![
                        s(&a["rank"]),
                        name.clone(),
                        format!("{} %", f(&a["share_pct"], 1)),
                        f(&a["r"], 2),
                        f(&a["performance"], 2),
                        quadrant(&name),
                    ]
                })
                .collect();
            println!();
            table(&["rank", "area", "importance", "r", "performance", "quadrant"], &rows);
        }
        "gaps" => {
            let cells = |g: &Value| {
                vec![
                    f(&g["expectation"], 2),
                    f(&g["experience"], 2),
                    f(&g["gap"], 2),
                    interval(&g["interval"], 2),
                    f(&g["p"], 4),
                    s(&g["n"]),
                ]
            };
            let mut rows = vec![];
            for a in arr(&v["areas"]) {
                let mut r = vec![s(&a["area"]), "(all)".into()];
                r.extend(cells(&a["gap"]));
                rows.push(r);
            }
            for c in arr(&v["by_touchpoint"]) {
                let mut r = vec![s(&c["area"]), s(&c["touchpoint"])];
                r.extend(cells(&c["gap"]));
                rows.push(r);
            }
            println!();
            table(&["area", "touchpoint", "expected", "experienced", "gap", "95 % interval", "p", "n"], &rows);
        }
        "text" => {
            for (side, label, count) in [("group_a", &v["a"], &v["answers_a"]), ("group_b", &v["b"], &v["answers_b"])] {
                println!("\nWhat {} say more ({} answers):", s(label), s(count));
                let rows: Vec<Vec<String>> = arr(&v["report"][side])
                    .iter()
                    .map(|t| {
                        let example = arr(&t["examples"]).first().map(s).unwrap_or_default();
                        let example: String = example.chars().take(60).collect::<String>().replace('\n', " ");
                        let z = t["z"].as_f64().map(|z| format!("{:.2}", z.abs())).unwrap_or_default();
                        vec![s(&t["term"]), z, s(&t["count_a"]), s(&t["count_b"]), example]
                    })
                    .collect();
                table(
                    &["term", "z", &format!("in {}", s(&v["a"])), &format!("in {}", s(&v["b"])), "for example"],
                    &rows,
                );
            }
        }
        "benchmark" => {
            let r = &v["report"];
            let o = &r["overall"];
            println!(
                "Overall index {} (95 % {}), NPS {} (95 % {}), {} ratings",
                f(&o["index"]["value"], 2),
                interval(&o["index"]["interval"], 2),
                f(&o["nps"]["nps"], 1),
                interval(&o["nps"]["interval"], 1),
                s(&o["rows"])
            );
            let rows: Vec<Vec<String>> = arr(&r["categories"])
                .iter()
                .map(|c| {
                    vec![
                        s(&c["rank"]),
                        s(&c["category"]),
                        f(&c["scores"]["index"]["value"], 2),
                        interval(&c["scores"]["index"]["interval"], 2),
                        f(&c["scores"]["nps"]["nps"], 1),
                        s(&c["brands"]),
                        s(&c["scores"]["rows"]),
                    ]
                })
                .collect();
            println!();
            table(&["rank", "category", "index", "95 % interval", "NPS", "brands", "ratings"], &rows);
            let mut brands: Vec<&Value> = arr(&r["brands"]).iter().collect();
            brands.sort_by_key(|b| b["rank"].as_u64().unwrap_or(u64::MAX));
            let show = |b: &&Value| {
                vec![
                    s(&b["rank"]),
                    s(&b["brand"]),
                    s(&b["category"]),
                    f(&b["scores"]["index"]["value"], 2),
                    interval(&b["scores"]["index"]["interval"], 2),
                    f(&b["scores"]["nps"]["nps"], 1),
                    b["vs_category"]["verdict"].as_str().unwrap_or("–").to_string(),
                ]
            };
            let mut rows: Vec<Vec<String>> = brands.iter().take(10).map(show).collect();
            if brands.len() > 15 {
                rows.push(vec!["…".into()]);
                rows.extend(brands.iter().skip(brands.len() - 5).map(show));
            }
            println!();
            table(&["rank", "brand", "category", "index", "95 % interval", "NPS", "vs category"], &rows);
            if !arr(&v["external"]).is_empty() {
                let rows: Vec<Vec<String>> = arr(&v["external"])
                    .iter()
                    .map(|e| {
                        vec![
                            s(&e["benchmark"]["metric"]),
                            s(&e["benchmark"]["segment"]),
                            f(&e["benchmark"]["value"], 2),
                            f(&e["own"]["value"], 2),
                            f(&e["comparison"]["diff"], 2),
                            f(&e["comparison"]["p"], 4),
                        ]
                    })
                    .collect();
                println!("\nAgainst imported benchmarks:");
                table(&["metric", "segment", "benchmark", "ours", "difference", "p"], &rows);
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
    }
}
