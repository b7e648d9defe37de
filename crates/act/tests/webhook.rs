//! The webhook integration against a real receiver that verifies with the Standard
//! Webhooks reference implementation (`standardwebhooks` on PyPI): signatures, a secret's
//! rotation (either secret verifies during the overlap), what each answer means
//! (2xx, 410, 429 and 503 with `Retry-After`), and no redirects followed.

mod common;

use common::receivers::{available, Receiver};
use serde_json::json;
use touchpoint_act::rule::Endpoint;
use touchpoint_act::webhook::send::{client, post, Outcome};
use touchpoint_act::webhook::sign::new_secret;

fn endpoint(url: String, secret: &str) -> Endpoint {
    Endpoint { url, secret: Some(secret.into()), previous_secret: None, previous_until_ms: None, disabled: None }
}

#[tokio::test]
async fn the_reference_implementation_verifies_our_signatures() {
    if !available("the_reference_implementation_verifies_our_signatures") {
        return;
    }
    let secret = new_secret();
    let r = Receiver::webhook(&secret, &json!({}));
    let http = client();
    let body =
        serde_json::to_vec(&json!({"type": "trigger.fired", "data": {"text": "Zásilka mešká – přepraszamy"}})).unwrap();
    // The receiver checks the timestamp against its clock: sign with now.
    let now = touchpoint_store_now();
    assert_eq!(post(&http, &endpoint(r.url(), &secret), "msg_one", &body, now).await, Outcome::Delivered);
    // Signed with another secret: the reference refuses it (400), which is a retry for us.
    let other = endpoint(r.url(), &new_secret());
    assert!(matches!(post(&http, &other, "msg_two", &body, now).await, Outcome::Retry { .. }));
    let log = r.requests();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0]["id"].as_str(), log[0]["valid"].as_bool()), (Some("msg_one"), Some(true)));
    assert_eq!(log[0]["body"]["data"]["text"], "Zásilka mešká – přepraszamy");
    assert_eq!(log[1]["valid"], false);
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify() {
    if !available("during_a_rotation_both_secrets_verify") {
        return;
    }
    let (old, new) = (new_secret(), new_secret());
    let now = touchpoint_store_now();
    let mut ep = endpoint(String::new(), &new);
    ep.previous_secret = Some(old.clone());
    ep.previous_until_ms = Some(now + 60_000);
    for (secret, id) in [(&old, "msg_old"), (&new, "msg_new")] {
        let r = Receiver::webhook(secret, &json!({}));
        ep.url = r.url();
        assert_eq!(post(&client(), &ep, id, b"{}", now).await, Outcome::Delivered, "a receiver holding one secret");
        assert_eq!(r.requests()[0]["signatures"], 2);
    }
    // After the overlap only the new secret signs: a receiver still on the old one refuses.
    let r = Receiver::webhook(&old, &json!({}));
    ep.url = r.url();
    assert!(matches!(post(&client(), &ep, "msg_late", b"{}", now + 61_000).await, Outcome::Retry { .. }));
}

#[tokio::test]
async fn answers_become_outcomes() {
    if !available("answers_become_outcomes") {
        return;
    }
    let secret = new_secret();
    let now = touchpoint_store_now();
    let check = |plan: serde_json::Value, want: Outcome| {
        let secret = secret.clone();
        async move {
            let r = Receiver::webhook(&secret, &plan);
            let got = post(&client(), &endpoint(r.url(), &secret), "msg_x", b"{}", now).await;
            assert_eq!(got, want, "{plan}");
        }
    };
    check(json!({"status": 204}), Outcome::Delivered).await;
    check(json!({"status": 410}), Outcome::Gone).await;
    check(
        json!({"fail_first": 1, "fail_status": 429, "retry_after": 120}),
        Outcome::Retry { error: "the endpoint answered 429".into(), retry_after_ms: Some(120_000) },
    )
    .await;
    // Retry-After counts only on 429, 502 and 504.
    check(
        json!({"fail_first": 1, "fail_status": 503, "retry_after": 120}),
        Outcome::Retry { error: "the endpoint answered 503".into(), retry_after_ms: None },
    )
    .await;
    // A redirect is not followed: it is a failure.
    check(json!({"status": 307}), Outcome::Retry { error: "the endpoint answered 307".into(), retry_after_ms: None })
        .await;
    // Nobody listening.
    let gone = endpoint("http://127.0.0.1:9/hook".into(), &secret);
    assert!(matches!(post(&client(), &gone, "msg_y", b"{}", now).await, Outcome::Retry { retry_after_ms: None, .. }));
}

fn touchpoint_store_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
