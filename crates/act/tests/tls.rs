//! Messages over TLS, to servers whose certificate a company's own authority signed (a
//! mail relay or a webhook receiver inside the company): a throwaway CA and certificate
//! made with `openssl`, a real SMTP server (`aiosmtpd`) requiring STARTTLS or speaking TLS
//! from the first byte, and a real HTTPS webhook receiver. Trusting the CA (the
//! configuration's `tls_ca_file`), each message arrives; without it, none does and the
//! error says why; a plain connection to a server that requires STARTTLS sends nothing.

mod common;

use common::receivers::{available, Receiver, TestCa};
use serde_json::json;
use touchpoint_act::email::send::{Mailer, Outcome};
use touchpoint_act::email::{template, SmtpConfig};
use touchpoint_act::rule::Endpoint;
use touchpoint_act::webhook::send::{self, post};
use touchpoint_act::webhook::sign::new_secret;

fn ready(test: &str) -> Option<TestCa> {
    if !available(test) {
        return None;
    }
    TestCa::new(test)
}

fn mailer(url: String, ca_pem: Option<&str>) -> Mailer {
    Mailer::new(&SmtpConfig { url, from: "Obchod <obchod@zahrada.example>".into(), ca_pem: ca_pem.map(Into::into) })
        .unwrap()
}

fn message() -> template::Rendered {
    template::Rendered {
        subject: "Zásilka je na cestě".into(),
        text: "Dobrý den".into(),
        html: "<p>Dobrý den</p>".into(),
    }
}

#[tokio::test]
async fn mail_goes_over_starttls_and_smtps_to_a_relay_of_the_companys_own_ca() {
    let Some(ca) = ready("mail_goes_over_starttls_and_smtps_to_a_relay_of_the_companys_own_ca") else { return };
    for (mode, url) in [("starttls", "smtp://127.0.0.1:{port}?tls=required"), ("implicit", "smtps://127.0.0.1:{port}")]
    {
        let r = Receiver::smtp_tls(mode, &ca);
        let url = url.replace("{port}", &r.port.to_string());
        // Trusting the public authorities only: refused, and the error says it is the
        // certificate.
        let refused = mailer(url.clone(), None).send("jana@example.cz", "msg_untrusted", &message(), None).await;
        match &refused {
            Outcome::Retry(e) | Outcome::Failed(e) => {
                assert!(e.to_lowercase().contains("certificate"), "{mode}: {e}")
            }
            Outcome::Delivered => panic!("{mode}: delivered to a server whose certificate is not trusted"),
        }
        assert!(r.messages().is_empty(), "{mode}");
        // Trusting the company's CA: delivered, intact.
        let sent = mailer(url.clone(), Some(&ca.ca_pem)).send("jana@example.cz", "msg_tls", &message(), None).await;
        assert_eq!(sent, Outcome::Delivered, "{mode}: {url}");
        let got = r.messages();
        assert_eq!(got.len(), 1, "{mode}");
        assert_eq!(got[0]["subject"], "Zásilka je na cestě");
        assert_eq!(got[0]["envelope"]["to"], json!(["jana@example.cz"]));
        if mode == "starttls" {
            // Plain SMTP to a server that requires STARTTLS: nothing is sent.
            let plain = format!("smtp://127.0.0.1:{}", r.port);
            let out = mailer(plain, None).send("jana@example.cz", "msg_plain", &message(), None).await;
            assert!(!matches!(out, Outcome::Delivered), "{out:?}");
            assert_eq!(r.messages().len(), 1);
        }
    }
}

#[tokio::test]
async fn webhooks_go_to_an_https_receiver_of_the_companys_own_ca() {
    let Some(ca) = ready("webhooks_go_to_an_https_receiver_of_the_companys_own_ca") else { return };
    let secret = new_secret();
    let r = Receiver::webhook_tls(&secret, &json!({}), &ca);
    let ep = Endpoint {
        url: format!("https://127.0.0.1:{}/hook", r.port),
        secret: Some(secret.clone()),
        previous_secret: None,
        previous_until_ms: None,
        disabled: None,
    };
    let body = serde_json::to_vec(&json!({"type": "trigger.fired", "data": {"text": "Przesyłka w drodze"}})).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    match post(&send::client(), &ep, "msg_untrusted", &body, now).await {
        Outcome2::Retry { error, .. } => assert!(error.to_lowercase().contains("certificate"), "{error}"),
        other => panic!("sent to a receiver whose certificate is not trusted: {other:?}"),
    }
    assert!(r.requests().is_empty());
    let trusting = send::client_trusting(&ca.ca_pem).unwrap();
    assert_eq!(post(&trusting, &ep, "msg_tls", &body, now).await, Outcome2::Delivered);
    let log = r.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["id"].as_str(), log[0]["valid"].as_bool()), (Some("msg_tls"), Some(true)));
    assert_eq!(log[0]["body"]["data"]["text"], "Przesyłka w drodze");
    assert!(send::client_trusting("not a certificate").is_err());
}

use touchpoint_act::webhook::send::Outcome as Outcome2;
