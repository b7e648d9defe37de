//! The demo's trigger rules, as drafts to preview and switch on: the issue's own example —
//! a late delivery not followed by a call, chat or complaint within two days gets a
//! Czech or Polish apology by e-mail with a CSAT invitation, one customer in ten held out,
//! measured on the next order within 30 days, quiet at night —; a failed payment that
//! opens the CSAT survey in the customer's page (the capture snippet shows it); and the
//! checkout's health (its volume or exit rate off its baseline) as an alert to the team;
//! and a CES survey e-mailed when a service request is resolved (the self-service
//! report's customer effort).

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
/// The key of the rule that asks for the effort after a resolved request.
pub const CES_KEY: &str = "ces-after-request";

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
    // Customer effort after a resolved request (the self-service report's CES).
    let t = |en: &str, cs: &str, pl: &str| json!({"en": en, "cs": cs, "pl": pl});
    let ces = json!({
        "title": t("How easy was it?", "Jak snadné to bylo?", "Jak łatwo było?"),
        "trigger": "request-resolved",
        "questions": [{"id": "effort", "type": "ces", "required": true,
            "text": t("It was easy to get my request resolved.", "Vyřešit můj požadavek bylo snadné.", "Załatwienie mojego zgłoszenia było łatwe.")}]
    });
    let survey = store.create_survey(project, "ces-after-request", &ces).await?;
    store.set_survey_status(survey.id, SurveyStatus::Live).await?;
    let ask = json!({
        "name": "Effort after a resolved request",
        "when": {"kind": "happens", "touchpoint": "request-resolved"},
        "then": {"kind": "email", "category": "surveys", "survey": "ces-after-request", "templates": {
            "cs": {"subject": "Jak snadné bylo vyřešit váš požadavek?", "text": sign("Dobrý den, {{ firstName }},\n\nváš požadavek je vyřešený. Bylo to snadné? Odpovězte jedním kliknutím: {{ survey_url }}\n\n{brand}")},
            "pl": {"subject": "Jak łatwo było załatwić Twoje zgłoszenie?", "text": sign("Dzień dobry, {{ firstName }},\n\nTwoje zgłoszenie zostało rozwiązane. Czy było łatwo? Odpowiedz jednym kliknięciem: {{ survey_url }}\n\n{brand}")},
            "en": {"subject": "How easy was it to resolve your request?", "text": sign("Hello {{ firstName }},\n\nyour request is resolved. Was it easy? Answer in one click: {{ survey_url }}\n\n{brand}")}
        }},
        "holdout": 0.1,
        "guard": {"reentry": {"once_per": "30d"}}
    });
    touchpoint_engine::triggers::create(store, project, CES_KEY, &ask, false).await?;
    Ok(())
}
