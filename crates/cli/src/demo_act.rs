//! The demo's trigger rules, as drafts to preview and switch on: the issue's own example —
//! a late delivery not followed by a call, chat or complaint within two days gets a
//! Czech or Polish apology by e-mail with a CSAT invitation, one customer in ten held out,
//! measured on the next order within 30 days, quiet at night —; a failed payment that
//! opens the CSAT survey in the customer's page (the capture snippet shows it); and the
//! checkout's health (its volume or exit rate off its baseline) as an alert to the team.

use crate::anyhow_lite::Result;
use serde_json::json;
use touchpoint_store::listen::SurveyStatus;
use touchpoint_store::Store;

/// The main rule's key.
pub const KEY: &str = "late-delivery-apology";
/// The in-page rule's key.
pub const IN_PAGE_KEY: &str = "ask-after-failed-payment";
/// The health rule's key.
pub const HEALTH_KEY: &str = "checkout-health";

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
    let in_page = json!({
        "name": "Ask in the page after a failed payment",
        "when": {"kind": "happens", "touchpoint": "payment-failed"},
        "then": {"kind": "in_page", "survey": "csat-late-delivery"},
        "holdout": 0.1,
        "goal": {"touchpoint": "order-completed", "within": "7d"},
        "guard": {"reentry": {"once_per": "30d"}}
    });
    touchpoint_engine::triggers::create(store, project, IN_PAGE_KEY, &in_page, false).await?;
    let health = json!({
        "name": "Checkout health",
        "when": {"kind": "health_alert", "touchpoint": "checkout"},
        "then": {"kind": "team_alert", "email": "provoz@zahradka.example"}
    });
    touchpoint_engine::triggers::create(store, project, HEALTH_KEY, &health, false).await?;
    Ok(())
}
