//! The demo's service requests: some of the brand's Czech and Polish customers asked the
//! service team in the portal over the last two months (a late parcel, a return, an
//! invoice), the team answered, most were resolved — so the dashboard's Requests view,
//! the portal's "my requests" and the self-service report's time to resolution have
//! something to show, and each request is in its customer's journey (`request-opened`,
//! `request-updated`, `request-resolved`) as a live one would be. Which customers ask, and
//! when, follows from the demo's seed.

use crate::anyhow_lite::{msg, Result};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use touchpoint_core::catalog::{REQUEST_OPENED_EVENT, REQUEST_RESOLVED_EVENT, REQUEST_UPDATED_EVENT};
use touchpoint_core::event::{format_time, ParseContext};
use touchpoint_core::{Event, Limits};
use touchpoint_engine::Engine;
use touchpoint_store::service::{NewEntry, NewRequest};
use touchpoint_store::{now_ms, Customer, Project};

/// One in this many of the customers read asks the team something.
const ONE_IN: u64 = 25;
/// The most requests the demo makes.
const MAX: usize = 120;
/// The customers read to choose from.
const READ: usize = 6000;

/// (subject, message, the team's answer) in Czech, then Polish.
const ASKED: [[(&str, &str, &str); 3]; 2] = [
    [
        (
            "Zpožděná zásilka",
            "Dobrý den, objednávka měla dorazit před třemi dny a sledování se nehýbe. Kde je?",
            "Dobrý den, zásilka uvízla v třídicím centru dopravce. Dnes odešla a zítra ji máte doma. Omlouváme se.",
        ),
        (
            "Vrácení zboží",
            "Chci vrátit rukavice, jsou malé. Jak to mám udělat?",
            "Dobrý den, v sekci Moje objednávky zvolte Vrátit zboží a vytiskněte štítek. Peníze vrátíme do 5 dnů.",
        ),
        (
            "Faktura na firmu",
            "Potřebuji fakturu na firmu s IČO. Šlo by ji vystavit znovu?",
            "Dobrý den, novou fakturu jsme vám poslali e-mailem. Příště stačí IČO zadat v pokladně.",
        ),
    ],
    [
        (
            "Opóźniona przesyłka",
            "Dzień dobry, zamówienie miało dotrzeć trzy dni temu, a śledzenie stoi w miejscu. Gdzie jest paczka?",
            "Dzień dobry, paczka utknęła w sortowni przewoźnika. Dziś wyjechała, jutro będzie u Pana. Przepraszamy.",
        ),
        (
            "Zwrot towaru",
            "Chcę zwrócić rękawice, są za małe. Jak to zrobić?",
            "Dzień dobry, w zakładce Moje zamówienia wybierz Zwróć towar i wydrukuj etykietę. Zwrot pieniędzy w 5 dni.",
        ),
        (
            "Faktura na firmę",
            "Potrzebuję faktury na firmę z NIP. Czy można ją wystawić ponownie?",
            "Dzień dobry, nową fakturę wysłaliśmy e-mailem. Następnym razem wystarczy podać NIP w kasie.",
        ),
    ],
];

/// What the demo loaded, and whom to sign in as.
pub struct Loaded {
    /// Requests made.
    pub requests: usize,
    /// A Czech customer with a request: their name, address and id.
    pub czech: Option<(String, String, i64)>,
}

/// A customer's text trait.
fn text<'a>(c: &'a Customer, key: &str) -> Option<&'a str> {
    c.traits.get(key).and_then(Value::as_str)
}

/// Make the demo's requests and put each into its customer's journey.
pub async fn load(engine: &Engine, project: &Project, seed: u64) -> Result<Loaded> {
    let store = &*engine.store;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5e7c_1ce5);
    let mut chosen: Vec<Customer> = vec![];
    let mut after = 0;
    let mut read = 0;
    while read < READ && chosen.len() < MAX {
        let page = store.customers(project.id, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        read += page.len();
        chosen.extend(page.into_iter().filter(|c| {
            c.merged_into.is_none()
                && c.user_id.is_some()
                && text(c, "email").is_some()
                && matches!(text(c, "language"), Some("cs" | "pl"))
                && rng.gen_range(0..ONE_IN) == 0
        }));
    }
    chosen.truncate(MAX);
    let now = now_ms();
    let (hour, day) = (3_600_000i64, 86_400_000i64);
    let mut events = vec![];
    let mut czech = None;
    let cx = ParseContext { received_at: now, ..Default::default() };
    // Opened in the order of time, as live requests are numbered.
    let mut asked: Vec<(i64, usize, &Customer)> =
        chosen.iter().map(|c| (now - rng.gen_range(2 * hour..60 * day), rng.gen_range(0..3), c)).collect();
    asked.sort_by_key(|a| (a.0, a.2.id));
    for (opened, which, c) in asked {
        let lang = text(c, "language").unwrap_or("cs");
        let (subject, body, answer) = ASKED[usize::from(lang == "pl")][which];
        let new = NewRequest {
            customer_id: c.id,
            subject: subject.into(),
            body: body.into(),
            lang: lang.into(),
            email: text(c, "email").map(str::to_string),
        };
        let r = store.create_request(project.id, &new, opened).await?;
        let user = c.user_id.clone().unwrap_or_default();
        let event = |at: i64, name: &str, props: Value| {
            let v = json!({"type": "track", "userId": user, "event": name, "properties": props,
                "timestamp": format_time(at), "messageId": format!("demo-request-{}-{name}", r.id),
                "context": {"channel": "self-service"}});
            Event::parse(v, &cx, &Limits::default()).map_err(|e| msg(format!("a demo request's event: {e}")))
        };
        events.push(event(
            opened,
            REQUEST_OPENED_EVENT,
            json!({"request_id": r.id, "subject": subject, "lang": lang}),
        )?);
        if czech.is_none() && lang == "cs" {
            czech = Some((text(c, "name").unwrap_or("").to_string(), text(c, "email").unwrap_or("").to_string(), c.id));
        }
        let replied = opened + rng.gen_range(hour..30 * hour);
        if replied >= now {
            continue;
        }
        let team = |kind: &str, body: &str, status: &str| NewEntry {
            kind: kind.into(),
            author: "team".into(),
            author_name: Some(format!("{}@{}", ["eva", "tomas", "marta"][r.id as usize % 3], "zahradka.example")),
            body: body.into(),
            status: Some(status.into()),
            assignee: None,
        };
        store.add_request_entry(project.id, r.id, &team("message", answer, "waiting"), replied).await?;
        events.push(event(
            replied,
            REQUEST_UPDATED_EVENT,
            json!({"request_id": r.id, "change": "reply", "status": "waiting"}),
        )?);
        let resolved = replied + rng.gen_range(hour..72 * hour);
        if resolved >= now || rng.gen_bool(0.2) {
            continue;
        }
        store.add_request_entry(project.id, r.id, &team("status", "resolved", "resolved"), resolved).await?;
        let hours = ((resolved - opened) as f64 / hour as f64 * 100.0).round() / 100.0;
        events.push(event(resolved, REQUEST_RESOLVED_EVENT, json!({"request_id": r.id, "resolution_hours": hours}))?);
        if resolved + 7 * day < now {
            store.add_request_entry(project.id, r.id, &team("status", "closed", "closed"), resolved + 7 * day).await?;
        }
    }
    let requests = chosen.len();
    touchpoint_engine::surveys::submit_events(engine, project.id, events).await;
    Ok(Loaded { requests, czech })
}
