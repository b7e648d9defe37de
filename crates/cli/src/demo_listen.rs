//! The demo's listening data: the brand's transactional surveys (an NPS after delivery with
//! an expectation/experience pair on delivery speed, a CSAT after support contacts), filled
//! from the generator's `Survey Answered` events so that the planted pain points show up as
//! low scores, and a Customer-Happiness-Index-shaped benchmark study (16 categories, 160
//! brands, 9 areas, 2,000 respondents) from the seeded study generator.

use crate::anyhow_lite::{msg, Result};
use serde_json::{json, Map, Value};
use touchpoint_core::catalog::SURVEY_EVENT;
use touchpoint_gen::chi;
use touchpoint_store::listen::{NewResponse, SurveyStatus};
use touchpoint_store::Store;

fn t(en: &str, cs: &str, pl: &str) -> Value {
    json!({"en": en, "cs": cs, "pl": pl})
}

fn nps_after_delivery() -> Value {
    json!({
        "title": t("Your order from Zahrádka", "Vaše objednávka ze Zahrádky", "Państwa zamówienie z Zahrádki"),
        "trigger": "order-delivered",
        "questions": [
            {"id": "nps", "type": "nps", "required": true,
             "text": t("How likely are you to recommend Zahrádka to a friend?", "Jak pravděpodobně byste Zahrádku doporučili známým?", "Jak prawdopodobne jest, że polecą Państwo Zahrádkę znajomym?")},
            {"id": "delivery", "type": "pair", "area": "delivery-speed",
             "text": t("Delivery speed", "Rychlost doručení", "Szybkość dostawy")},
            {"id": "comment", "type": "text",
             "text": t("What should we keep or change?", "Co máme zachovat nebo změnit?", "Co powinniśmy zachować lub zmienić?")}
        ]
    })
}

pub fn csat_after_support() -> Value {
    json!({
        "title": t("How did we help?", "Jak jsme vám pomohli?", "Jak Państwu pomogliśmy?"),
        "trigger": "support-call",
        "questions": [
            {"id": "csat", "type": "csat", "required": true,
             "text": t("How satisfied are you with our help?", "Jak jste spokojeni s naší pomocí?", "Jak oceniają Państwo naszą pomoc?")},
            {"id": "comment", "type": "text", "text": t("Anything to add?", "Chcete něco dodat?", "Czy chcieliby Państwo coś dodać?")}
        ]
    })
}

fn chi_survey(study: &chi::ChiStudy) -> Value {
    let areas: Vec<Value> = study
        .areas
        .iter()
        .map(|a| json!({"key": a.key, "label": {"en": a.name.en, "cs": a.name.cs, "pl": a.name.pl}}))
        .collect();
    json!({
        "title": t("Customer Happiness Index", "Index spokojenosti zákazníků", "Indeks Szczęścia Klientów"),
        "dimensions": ["category", "brand"],
        "questions": [
            {"id": "areas", "type": "matrix", "areas": areas,
             "text": t("How satisfied are you with the brand in each area? (0–10)", "Jak jste se značkou spokojeni v jednotlivých oblastech? (0–10)", "Jak oceniają Państwo markę w poszczególnych obszarach? (0–10)")},
            {"id": "recommend", "type": "nps", "required": true,
             "text": t("How likely are you to recommend the brand?", "Jak pravděpodobně byste značku doporučili?", "Jak prawdopodobne jest, że polecą Państwo tę markę?")}
        ]
    })
}

/// A number in `0..n` fixed by a text (the demo's pair answers follow the event ids).
fn pick(id: &str, salt: u64, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 29)) % n
}

/// What the demo's surveys hold.
pub struct ListenSummary {
    /// Transactional responses.
    pub responses: usize,
    /// Benchmark ratings.
    pub benchmark: usize,
    /// The public id of the NPS survey's open link (`/o/{id}`).
    pub nps_public_id: String,
}

/// Create the demo's surveys and fill them.
pub async fn load(store: &dyn Store, project: i64, seed: u64) -> Result<ListenSummary> {
    let nps = store.create_survey(project, "nps-after-delivery", &nps_after_delivery()).await?;
    let csat = store.create_survey(project, "csat-after-support", &csat_after_support()).await?;
    for s in [&nps, &csat] {
        store.set_survey_status(s.id, SurveyStatus::Live).await?;
    }
    let mut rows = vec![];
    let mut after = 0;
    loop {
        let page = store.scan_events(Some(project), after, 20_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in page.iter().filter(|e| e.name.as_deref() == Some(SURVEY_EVENT)) {
            let body: Value = serde_json::from_str(&e.body).map_err(|e| msg(format!("demo event: {e}")))?;
            let p = &body["properties"];
            let (Some(score), Some(which)) = (p["score"].as_i64(), p["survey_id"].as_str()) else { continue };
            let trigger = p["trigger"].as_str().map(str::to_string);
            let mut answers = Map::new();
            let survey = if which == "nps-after-delivery" {
                answers.insert("nps".into(), json!({"score": score}));
                // Delivery speed: people expect next-day delivery; a late one falls short.
                let expectation = 7 + pick(&e.message_id, 1, 3) as i64;
                let experience = if trigger.as_deref() == Some("delivery-late") {
                    2 + pick(&e.message_id, 2, 4) as i64
                } else {
                    6 + pick(&e.message_id, 2, 5) as i64
                };
                answers
                    .insert("delivery".into(), json!({"pair": {"expectation": expectation, "experience": experience}}));
                &nps
            } else {
                answers.insert("csat".into(), json!({"score": score}));
                &csat
            };
            if let Some(c) = p["comment"].as_str() {
                answers.insert("comment".into(), json!({"text": c}));
            }
            rows.push(NewResponse {
                project_id: project,
                survey_id: survey.id,
                version: 1,
                customer: e.user_id.clone(),
                touchpoint: trigger,
                lang: body["context"]["locale"].as_str().and_then(|l| l.split('-').next()).map(str::to_string),
                answers: Value::Object(answers),
                dimensions: json!({}),
                weight: 1.0,
                source: "event".into(),
                external_id: Some(e.message_id.clone()),
                at_ms: Some(e.timestamp),
            });
        }
    }
    let responses = rows.len();
    for chunk in rows.chunks(5_000) {
        store.insert_responses(chunk).await?;
    }

    let study = chi::generate(seed);
    let bench = store.create_survey(project, "chi-benchmark", &chi_survey(&study)).await?;
    store.set_survey_status(bench.id, SurveyStatus::Closed).await?;
    let rows: Vec<NewResponse> = study
        .ratings
        .iter()
        .map(|r| {
            let areas: Map<String, Value> =
                study.areas.iter().zip(r.areas).filter_map(|(a, v)| Some((a.key.to_string(), json!(v?)))).collect();
            NewResponse {
                project_id: project,
                survey_id: bench.id,
                version: 1,
                customer: None,
                touchpoint: None,
                lang: None,
                answers: json!({"areas": {"matrix": areas}, "recommend": {"score": r.recommend}}),
                dimensions: json!({
                    "category": study.categories[r.category].key,
                    "brand": study.brands[r.brand].name,
                }),
                weight: 1.0,
                source: "import".into(),
                external_id: Some(format!("chi-{}-{}", r.respondent, r.brand)),
                at_ms: None,
            }
        })
        .collect();
    let benchmark = rows.len();
    for chunk in rows.chunks(5_000) {
        store.insert_responses(chunk).await?;
    }
    Ok(ListenSummary { responses, benchmark, nps_public_id: nps.public_id })
}
