//! The demo's trigger rule, as a draft to preview and switch on: the issue's own example —
//! a late delivery not followed by a call, chat or complaint within two days gets a
//! Czech or Polish apology by e-mail with a CSAT invitation, one customer in ten held out,
//! measured on the next order within 30 days, quiet at night.

use crate::anyhow_lite::Result;
use serde_json::json;
use touchpoint_store::listen::SurveyStatus;
use touchpoint_store::Store;

/// The rule's key.
pub const KEY: &str = "late-delivery-apology";

/// Create the CSAT survey the apology invites to, and the rule as a draft.
pub async fn load(store: &dyn Store, project: i64) -> Result<()> {
    let survey = store.create_survey(project, "csat-late-delivery", &crate::demo_listen::csat_after_support()).await?;
    store.set_survey_status(survey.id, SurveyStatus::Live).await?;
    let brand = touchpoint_gen::BRAND_NAME;
    let sign = |text: &str| text.replace("{brand}", brand);
    let rule = json!({
        "name": "Late delivery apology",
        "when": {"kind": "not_followed", "touchpoint": "delivery-late",
                 "followed_by": ["support-call", "support-call-long-wait", "chat", "complaint"], "within": "2d"},
        "who": {"traits": [{"field": "country", "op": "in", "value": ["CZ", "PL"]}]},
        "then": {"kind": "email", "category": "service", "survey": "csat-late-delivery", "templates": {
            "cs": {"subject": "Omlouváme se za zpožděnou zásilku",
                   "text": sign("Dobrý den, {{ firstName }},\n\nvaše zásilka dorazila později, než jsme slíbili. Omlouváme se. Řekněte nám prosím jednou kliknutím, jak jsme to zvládli: {{ survey_url }}\n\nS pozdravem\n{brand}")},
            "pl": {"subject": "Przepraszamy za opóźnioną przesyłkę",
                   "text": sign("Dzień dobry, {{ firstName }},\n\nTwoja przesyłka dotarła później, niż obiecaliśmy. Przepraszamy. Powiedz nam jednym kliknięciem, jak nam poszło: {{ survey_url }}\n\nPozdrawiamy\n{brand}")},
            "en": {"subject": "Sorry your parcel was late",
                   "text": sign("Hello {{ firstName }},\n\nyour parcel arrived later than we promised. We are sorry. Tell us in one click how we did: {{ survey_url }}\n\nBest regards,\n{brand}")}
        }},
        "holdout": 0.1,
        "goal": {"touchpoint": "order-completed", "within": "30d"},
        "guard": {"quiet_hours": {"from": "21:00", "to": "08:00"}, "reentry": {"once_per": "30d"}}
    });
    touchpoint_engine::triggers::create(store, project, KEY, &rule, false).await?;
    Ok(())
}
