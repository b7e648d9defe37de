//! The fast parsing path (`Event::parse_fast`) against the full one (`Event::parse`): on
//! every generated event and on hand-made edge cases, wherever the fast path answers, it
//! makes the same event the full path makes; and it answers for the common shapes.

mod common;

use serde_json::{json, Value};
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::Event;
use touchpoint_gen::{GenConfig, Generator};

/// What the fast path gave, and what the full path gives for the same text.
fn both(text: &str, cx: &ParseContext<'_>, limits: &Limits) -> (Option<Event>, Result<Event, String>) {
    let fast = Event::parse_fast(text, cx, limits);
    let full = serde_json::from_str::<Value>(text)
        .map_err(|e| e.to_string())
        .and_then(|v| Event::parse(v, cx, limits).map_err(|e| e.to_string()));
    (fast, full)
}

/// The two events are the same event: every field equal, and the bodies (and their
/// `properties`) the same JSON, whatever their spacing.
fn assert_same(text: &str, fast: &Event, full: &Event) {
    let parsed = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    assert_eq!(parsed(&fast.body_json), parsed(&full.body_json), "body of {text}");
    assert_eq!(fast.properties_json().map(parsed), full.properties_json().map(parsed), "properties of {text}");
    let strip = |e: &Event| Event { body_json: String::new(), ..e.clone() };
    assert_eq!(strip(fast), strip(full), "event from {text}");
}

/// `want_fast`: whether the fast path must answer (`Some(true)`), must not
/// (`Some(false)`), or may do either (`None`); where it answers it must agree.
fn check(text: &str, cx: &ParseContext<'_>, want_fast: Option<bool>) {
    let limits = Limits::default();
    let (fast, full) = both(text, cx, &limits);
    if let Ok(full) = &full {
        // Re-reading a stored body either defers or finds what the parser found.
        if let Some(facts) = Event::facts_of_text(&full.body_json) {
            assert_eq!(facts, full.facts, "re-read facts of {text}");
        }
    }
    if let Some(want) = want_fast {
        assert_eq!(fast.is_some(), want, "fast path answered {:?} for {text}", fast.is_some());
    }
    if let Some(fast) = fast {
        let full = full.unwrap_or_else(|e| panic!("fast path accepted what the full path rejects ({e}): {text}"));
        assert_same(text, &fast, &full);
    }
}

#[test]
fn every_generated_event_parses_the_same_both_ways_and_almost_all_take_the_fast_path() {
    let cfg = GenConfig::for_events(20_000, 11);
    let gen = Generator::new(cfg);
    let cx = common::context(&cfg);
    let import = ParseContext { derive_message_id: true, imported: true, vouched: true, ..common::context(&cfg) };
    let (mut total, mut fast_n) = (0usize, 0usize);
    for events in common::customers(&gen) {
        for v in events {
            let text = serde_json::to_string(&v).unwrap();
            for cx in [&cx, &import] {
                let (fast, full) = both(&text, cx, &Limits::default());
                let full = full.unwrap_or_else(|e| panic!("generated event rejected ({e}): {text}"));
                // A stored body gives back the same facts when re-read.
                let facts = Event::facts_of_text(&full.body_json).expect("facts of a stored body");
                assert_eq!(facts, full.facts, "facts of {text}");
                total += 1;
                if let Some(fast) = fast {
                    fast_n += 1;
                    assert_same(&text, &fast, &full);
                }
            }
        }
    }
    assert!(total > 30_000, "only {total} events generated");
    assert!(fast_n as f64 >= 0.99 * total as f64, "only {fast_n} of {total} took the fast path");
}

#[test]
fn edge_cases_agree_or_take_the_full_path() {
    let cx = ParseContext { received_at: 1_780_000_000_000, ..Default::default() };
    let base = json!({"type":"track","messageId":"m1","userId":"u1","event":"Order Completed",
        "timestamp":"2026-05-01T10:00:00Z","properties":{"total":12.5,"url":"https://shop.cz/k/a?utm_source=x&utm_medium=cpc"}});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b.to_string()
    };
    let without = |k: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(k);
        b.to_string()
    };
    // The common shapes take the fast path.
    check(&base.to_string(), &cx, Some(true));
    check("  {\"type\": \"page\", \"messageId\": \"p\", \"anonymousId\": \"a\", \"properties\": {\"path\": \"/Kategorie/X\", \"referrer\": \"https://www.Google.com/\"}} ", &cx, Some(true));
    check(
        &with(
            "context",
            json!({"page":{"url":"https://x.cz/a?b=1"},"campaign":{"source":"newsletter","medium":"email","name":"jaro"}}),
        ),
        &cx,
        Some(true),
    );
    check(&json!({"type":"identify","messageId":"i","userId":"u","anonymousId":"a","traits":{"email":"a@b.cz","name":"Řehoř"}}).to_string(), &cx, Some(true));
    check(&with("channel", json!("web")), &cx, Some(true)); // a fact: the discovered channel
    check(&with("channel", json!("pobočka")), &cx, Some(true));
    check(&with("channel", json!("server")), &cx, Some(true)); // names no channel of ours
    check(&json!({"type":"alias","messageId":"al","userId":"u","previousId":"a"}).to_string(), &cx, Some(true));
    check(&json!({"type":"group","messageId":"g","userId":"u","groupId":"firm"}).to_string(), &cx, Some(true));
    check(&with("originalTimestamp", json!("2026-05-01T10:00:00Z")), &cx, Some(true));
    check(&with("timestamp", json!("9999-01-01T00:00:00Z")), &cx, Some(true)); // clamped, flagged
    check(&with("timestamp", json!("1970-01-01T00:00:00Z")), &cx, Some(true));
    check(&with("event", json!("  Objednávka dokončena  ")), &cx, Some(true)); // NFC, trimmed
    check(&with("event", json!("Objedna\u{301}vka")), &cx, Some(true)); // NFD → NFC
    check(&with("userId", json!("   ")), &cx, None); // blank id: no id (then no anonymousId: rejected)
    check(&with("properties", Value::Null), &cx, Some(true));
    // Escaped slashes (as PHP writes them) in the fields facts are read from.
    check(
        r#"{"type":"page","messageId":"e","anonymousId":"a","properties":{"url":"https:\/\/Shop.cz\/k?utm_medium=email","path":"\/k","referrer":"https:\/\/WWW.Seznam.cz\/"}}"#,
        &cx,
        Some(true),
    );
    check(&with("select * from events; --", json!("x")), &cx, Some(true));
    // Skew correction: no timestamp, originalTimestamp and sentAt.
    let skewed = json!({"type":"track","messageId":"s","userId":"u","event":"E",
        "originalTimestamp":"2026-05-01T10:00:00Z","sentAt":"2026-05-01T10:05:00Z"});
    check(&skewed.to_string(), &cx, Some(true));
    let batch_sent = json!("2026-05-01T10:05:00Z");
    let in_batch = ParseContext { batch_sent_at: Some(&batch_sent), path: "batch[0]".into(), ..cx.clone() };
    check(
        &json!({"type":"track","messageId":"s","userId":"u","event":"E","originalTimestamp":"2026-05-01T10:00:00Z"})
            .to_string(),
        &in_batch,
        Some(true),
    );

    // Everything unusual goes the full way (which accepts or rejects it).
    check(&without("messageId"), &cx, Some(false)); // assigned by the full path
    check(&without("type"), &cx, Some(false));
    check(&with("type", json!("purchase")), &cx, Some(false));
    check(&with("userId", json!(42)), &cx, Some(false)); // numbers become strings there
    check(&with("writeKey", json!("tpw_x")), &cx, Some(false)); // a credential, taken out there
    check(&with("channel", json!(5)), &cx, Some(false));
    // An identify without traits of its own may have them in the context (RudderStack).
    check(&json!({"type":"identify","messageId":"i","userId":"u","traits":{}}).to_string(), &cx, Some(false));
    check(
        &json!({"type":"identify","messageId":"i","userId":"u","context":{"traits":{"email":"a@b.cz"}}}).to_string(),
        &cx,
        Some(false),
    );
    check(&with("event", json!("Quote \"here\"")), &cx, Some(false)); // escapes
    check(&with("event", json!("")), &cx, Some(false));
    check(&with("event", json!(7)), &cx, Some(false));
    check(&with("timestamp", json!(1_777_000_000_000i64)), &cx, Some(false));
    check(&with("timestamp", json!("yesterday")), &cx, Some(false));
    check(&with("properties", json!([1, 2])), &cx, Some(false));
    check(&with("context", json!("web")), &cx, Some(false));
    // Page and campaign fields in an array are no fields (the full path reads objects only).
    check(&with("context", json!({"page":["https://x.cz/?utm_medium=email","/a","https://google.com/"]})), &cx, None);
    check(&with("context", json!({"campaign":["email","newsletter","jaro"]})), &cx, None);
    check(&with("properties", json!({"url": 5})), &cx, Some(false));
    let odd =
        Event::parse(serde_json::from_str(&with("properties", json!({"url": 5}))).unwrap(), &cx, &Limits::default());
    assert_eq!(Event::facts_of_text(&odd.unwrap().body_json), None, "a numeric url defers to the full reading");
    check(&with("userId", json!("x".repeat(300))), &cx, Some(false));
    check(&without("userId"), &cx, Some(false));
    check(&json!({"type":"alias","messageId":"al","userId":"u"}).to_string(), &cx, Some(false));
    check(&json!({"type":"group","messageId":"g","userId":"u"}).to_string(), &cx, Some(false));
    check(r#"{"type":"track","type":"page","messageId":"d","userId":"u","event":"E"}"#, &cx, Some(false));
    check("[1,2,3]", &cx, Some(false));
    check("{\"type\":\"track\"", &cx, Some(false));
    let mut deep = json!("leaf");
    for _ in 0..30 {
        deep = json!({ "d": deep });
    }
    check(&with("properties", deep), &cx, Some(false));
    let big = with("properties", json!({"blob": "x".repeat(40_000)}));
    check(&big, &cx, Some(false));
    // The endpoint's type must be the body's.
    let track_ep = ParseContext { endpoint_type: Some(touchpoint_core::EventType::Track), ..cx.clone() };
    check(&base.to_string(), &track_ep, Some(true));
    check(&with("type", json!("page")), &track_ep, Some(false));
    // A batch-level context is merged the full way.
    let bc = serde_json::Map::from_iter([("locale".to_string(), json!("cs-CZ"))]);
    let with_context = ParseContext { batch_context: Some(&bc), ..cx.clone() };
    check(&base.to_string(), &with_context, Some(false));
    // An address is verified only by a believed sender, both ways; one sent as verified
    // is dropped, and an identify with nothing else left has no traits.
    let vouched = ParseContext { vouched: true, ..cx.clone() };
    let identify =
        |traits: Value| json!({"type": "identify", "userId": "u", "messageId": "m", "traits": traits}).to_string();
    for traits in [
        json!({"email": "a@b.cz", "$verified_email": "x@y.cz"}),
        json!({"$verified_email": "x@y.cz"}),
        json!({"email": null}),
        json!({"email": "  "}),
        json!({"email": 7}),
        json!({"email": " A@b.cz "}),
    ] {
        check(&identify(traits.clone()), &cx, Some(true));
        check(&identify(traits), &vouched, Some(true));
    }
}
