//! The e-mail integration against a real SMTP server (`aiosmtpd`), read back with
//! Python's own e-mail parser: Czech and Polish messages arrive intact (subject, plain
//! text, HTML), with the firing's id as `Message-ID` and a one-click unsubscribe.

mod common;

use common::receivers::{available, Receiver};
use serde_json::json;
use touchpoint_act::email::send::{Mailer, Outcome};
use touchpoint_act::email::{template, SmtpConfig};
use touchpoint_act::rule::Template;

#[tokio::test]
async fn czech_and_polish_messages_arrive_intact() {
    if !available("czech_and_polish_messages_arrive_intact") {
        return;
    }
    let r = Receiver::smtp();
    let mailer = Mailer::new(&SmtpConfig {
        url: format!("smtp://127.0.0.1:{}", r.port),
        from: "Zahrada & dům <obchod@zahrada.example>".into(),
        ca_pem: None,
    })
    .unwrap();
    let cases = [
        ("cs", "jana@example.cz", "Omlouváme se za zpoždění, {{ first_name }}", "Dobrý den, {{ first_name }}, zásilka od {{ event.carrier }} nedorazila včas. Jak jsme to zvládli? {{ survey_url }}"),
        ("pl", "łukasz@example.pl", "Przepraszamy za opóźnienie, {{ first_name }}", "Dzień dobry, {{ first_name }}, przesyłka od {{ event.carrier }} się spóźniła. Jak nam poszło? {{ survey_url }}"),
    ];
    for (i, (lang, to, subject, text)) in cases.iter().enumerate() {
        let t = Template { subject: (*subject).into(), text: (*text).into(), html: None };
        let name = if *lang == "cs" { "Jana" } else { "Łukasz" };
        let ctx =
            json!({"first_name": name, "event": {"carrier": "PPL"}, "survey_url": format!("https://x.example/s/{i}")});
        let unsub = format!("https://x.example/u/tok{i}");
        let msg = template::render(&t, lang, &ctx, Some(&unsub)).unwrap();
        let id = format!("msg_{lang}");
        assert_eq!(mailer.send(to, &id, &msg, Some(&unsub)).await, Outcome::Delivered, "{lang}");
    }
    let got = r.messages();
    assert_eq!(got.len(), 2);
    let cs = &got[0];
    assert_eq!(cs["subject"], "Omlouváme se za zpoždění, Jana");
    assert!(cs["text"].as_str().unwrap().contains("zásilka od PPL nedorazila včas"), "{cs}");
    assert!(cs["text"].as_str().unwrap().contains("Odhlaste se: https://x.example/u/tok0"));
    assert!(cs["html"].as_str().unwrap().contains("<a href=\"https://x.example/s/0\">"));
    assert_eq!(cs["message_id"], "<msg_cs@touchpoint>");
    assert_eq!(cs["list_unsubscribe"], "<https://x.example/u/tok0>");
    assert_eq!(cs["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    assert_eq!(cs["envelope"]["to"], json!(["jana@example.cz"]));
    assert!(cs["from"].as_str().unwrap().contains("Zahrada & dům"), "{cs}");
    let pl = &got[1];
    assert_eq!(pl["subject"], "Przepraszamy za opóźnienie, Łukasz");
    assert!(pl["text"].as_str().unwrap().contains("Wypisz się: https://x.example/u/tok1"));
    assert!(pl["to"].as_str().unwrap().contains("łukasz@example.pl"), "{pl}");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_retry() {
    let mailer =
        Mailer::new(&SmtpConfig { url: "smtp://127.0.0.1:9".into(), from: "a@b.example".into(), ca_pem: None })
            .unwrap();
    let msg = template::Rendered { subject: "s".into(), text: "t".into(), html: "<p>t</p>".into() };
    assert!(matches!(mailer.send("x@y.example", "msg_z", &msg, None).await, Outcome::Retry(_)));
    assert!(matches!(mailer.send("not an address", "msg_z", &msg, None).await, Outcome::Failed(_)));
}
