//! The conformance suite every storage backend must pass. A backend's test calls
//! [`run_all`] with a function that makes a fresh, empty store, or generates one test per
//! check with [`conformance_tests!`](crate::conformance_tests) (each check on its own
//! store, so they run in parallel and fail one by one); the embedded SQLite store and
//! PostgreSQL metadata run exactly these checks. It is a crate of its own so that it is
//! only ever a dev-dependency of the backends' tests, never compiled into a binary.
//!
//! Erasure ([`touchpoint_store::erasure`]) is checked on [`erasure_scenario`], a store with many
//! customers whose events share storage, one of them (`alice`) spread over a merge, a
//! shared device, a failed event and survey answers, with a unique marker in an event and a
//! trait: a backend's own tests can build it too and look at its files afterwards.

use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use touchpoint_core::access::Role;
use touchpoint_core::catalog::{default_catalog, Catalog, Condition, Field, Op};
use touchpoint_core::event::ParseContext;
use touchpoint_core::{CustomerId, Event, IdentityGraph, IdentityKind, KeyKind, Limits, ProjectId, Rule, Touchpoint};
use touchpoint_store::erasure::ErasureReceipt;
use touchpoint_store::kb::ArticleDraft;
use touchpoint_store::listen::{NewInvitation, NewResponse, ResponseFilter, ResponseKey};
use touchpoint_store::service::{NewEntry, NewRequest, RequestFilter};
use touchpoint_store::writer::{Submission, Writer, WriterConfig};
use touchpoint_store::Grant;
use touchpoint_store::{
    Brand, CommitBatch, FailedUsage, NewEvent, NewFailedEvent, Revoked, Store, StoreError, StoredEvent,
};

/// Run every check, each on a fresh store from `make` (the same checks, in the same order,
/// as [`conformance_tests!`](crate::conformance_tests) makes tests of).
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    projects_and_keys(make().await).await;
    catalog(make().await).await;
    identity(make().await).await;
    events_and_dedup(make().await).await;
    failed_events(make().await).await;
    timelines(make().await).await;
    volumes_and_reclassification(make().await).await;
    many_events(make().await).await;
    surveys_and_versions(make().await).await;
    responses_once(make().await).await;
    export_and_erasure(make().await).await;
    erasure_through_the_writer(make().await).await;
    accounts(make().await).await;
    triggers(make().await).await;
    in_page_firings(make().await).await;
    knowledge_base(make().await).await;
    service_requests(make().await).await;
    trait_search(make().await).await;
}

/// One `#[tokio::test]` per conformance check (every check [`run_all`] runs, by the same
/// name), each on a fresh store from `$make`: an async function returning
/// `Option<(Arc<dyn Store>, G)>`, where `G` is whatever must live as long as the store
/// (a temporary directory, a database) and `None` means the backend is not available
/// here (the function says why; the test then passes without checking). Use it inside a
/// module of its own:
///
/// ```ignore
/// mod checks {
///     touchpoint_store_conformance::conformance_tests!(super::fresh_store);
/// }
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            projects_and_keys catalog identity events_and_dedup failed_events timelines
            volumes_and_reclassification many_events surveys_and_versions responses_once
            export_and_erasure erasure_through_the_writer accounts triggers in_page_firings
            knowledge_base service_requests trait_search);
    };
    (@each $make:path; $($check:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some((store, keep)) = $make().await else { return };
                $crate::$check(store).await;
                drop(keep);
            }
        )*
    };
}

fn event(v: serde_json::Value) -> Event {
    Event::parse(v, &ParseContext { received_at: 1_790_000_000_000, ..Default::default() }, &Limits::default())
        .expect("valid test event")
}

fn track(mid: &str, user: &str, name: &str, ts: &str) -> Event {
    event(json!({"type":"track","messageId":mid,"userId":user,"event":name,"timestamp":ts}))
}

/// Projects (unique names, settings, brand) and keys (found by the hash of their token).
pub async fn projects_and_keys(s: Arc<dyn Store>) {
    let p = s.create_project("Eshop Kočka", &default_catalog()).await.unwrap();
    assert_eq!(p.name, "Eshop Kočka");
    assert_eq!(p.stages.len(), 6, "default stages");
    assert!(matches!(s.create_project("Eshop Kočka", &default_catalog()).await, Err(StoreError::Exists(_))));
    assert_eq!(s.project_by_name("Eshop Kočka").await.unwrap().unwrap().id, p.id);
    assert_eq!(s.project(p.id).await.unwrap().unwrap(), p);
    assert!(s.project(p.id + 100).await.unwrap().is_none());
    assert_eq!(p.timezone, "UTC", "projects start in UTC");
    let moved = s.update_project(p.id, "Europe/Prague", 60).await.unwrap();
    assert_eq!((moved.timezone.as_str(), moved.churn_horizon_days), ("Europe/Prague", 60));
    assert_eq!(s.project(p.id).await.unwrap().unwrap(), moved);
    assert!(matches!(s.update_project(p.id + 100, "UTC", 90).await, Err(StoreError::NotFound(_))));
    // A brand: every field kept as given, the other settings untouched, and removable.
    assert_eq!(moved.brand, Brand::default(), "projects start without a brand");
    let brand = Brand {
        brand_name: Some("Zahrádka <s.r.o.>".into()),
        brand_color: Some("#2e7d32".into()),
        brand_logo_url: Some("https://cdn.example.com/logo.svg".into()),
        privacy_url: Some("https://zahradka.example/soukromi".into()),
        default_lang: Some("cs".into()),
        site_origins: Some("https://zahradka.example https://www.zahradka.example".into()),
    };
    let branded = s.set_project_brand(p.id, &brand).await.unwrap();
    assert_eq!(branded.brand, brand);
    assert_eq!((branded.timezone.as_str(), branded.churn_horizon_days), ("Europe/Prague", 60));
    assert_eq!(s.project(p.id).await.unwrap().unwrap(), branded);
    assert_eq!(s.project_by_name("Eshop Kočka").await.unwrap().unwrap().brand, brand);
    let retimed = s.update_project(p.id, "Europe/Prague", 61).await.unwrap();
    assert_eq!(retimed.brand, brand, "changing other settings keeps the brand");
    let plain = Brand { brand_logo_url: None, ..brand.clone() };
    assert_eq!(s.set_project_brand(p.id, &plain).await.unwrap().brand, plain);
    assert!(matches!(s.set_project_brand(p.id + 100, &brand).await, Err(StoreError::NotFound(_))));
    let moved = s.update_project(p.id, "Europe/Prague", 60).await.unwrap();
    let p = moved;
    let q = s.create_project("second", &Catalog { stages: vec![], touchpoints: vec![], rules: vec![] }).await.unwrap();
    assert_eq!(s.projects().await.unwrap().len(), 2);

    let (token, info) = touchpoint_store::issue_key(&*s, p.id, KeyKind::Write).await.unwrap();
    assert!(token.starts_with("tpw_"));
    let found = s.key_by_hash(&touchpoint_store::hash_token(&token)).await.unwrap().unwrap();
    assert_eq!(found, info);
    assert_eq!(found.kind, KeyKind::Write);
    assert!(s.key_by_hash(&touchpoint_store::hash_token("tpw_nonsense")).await.unwrap().is_none());
    let (secret, _) = touchpoint_store::issue_key(&*s, q.id, KeyKind::Secret).await.unwrap();
    assert_eq!(s.key_by_hash(&touchpoint_store::hash_token(&secret)).await.unwrap().unwrap().project_id, q.id);
    assert_eq!(s.keys(p.id).await.unwrap().len(), 1);
    assert!(matches!(s.create_key(999, KeyKind::Write, "h", "p").await, Err(StoreError::NotFound(_))));

    // Revoking: the key is found no more and not listed; once only; a project's own only.
    let (second, kept) = touchpoint_store::issue_key(&*s, p.id, KeyKind::Secret).await.unwrap();
    assert_eq!(s.keys(p.id).await.unwrap(), [info.clone(), kept.clone()]);
    assert_eq!(
        s.revoke_key(q.id, info.id, 1_800_000_000_000).await.unwrap(),
        Revoked::NoSuchKey,
        "another project's key"
    );
    assert_eq!(s.revoke_key(p.id, info.id, 1_800_000_000_000).await.unwrap(), Revoked::Done(info.clone()));
    assert!(s.key_by_hash(&touchpoint_store::hash_token(&token)).await.unwrap().is_none(), "revoked");
    assert_eq!(s.keys(p.id).await.unwrap(), std::slice::from_ref(&kept));
    assert_eq!(s.revoke_key(p.id, info.id, 1_800_000_000_001).await.unwrap(), Revoked::NoSuchKey, "revoked already");
    assert_eq!(s.revoke_key(p.id, 9_999, 1_800_000_000_001).await.unwrap(), Revoked::NoSuchKey);
    assert_eq!(s.revoke_key(999, 9_999, 1_800_000_000_001).await.unwrap(), Revoked::NoSuchKey, "no such project");
    assert_eq!(
        s.key_by_hash(&touchpoint_store::hash_token(&second)).await.unwrap(),
        Some(kept.clone()),
        "the others stay"
    );
    assert_eq!(s.key_by_hash(&touchpoint_store::hash_token(&secret)).await.unwrap().unwrap().project_id, q.id);
    // The last secret key stays; two revocations of the last two at once leave one.
    assert_eq!(s.revoke_key(p.id, kept.id, 1_800_000_000_002).await.unwrap(), Revoked::LastSecret);
    assert_eq!(s.keys(p.id).await.unwrap(), std::slice::from_ref(&kept));
    for round in 0..5 {
        touchpoint_store::issue_key(&*s, p.id, KeyKind::Secret).await.unwrap();
        let live: Vec<_> = s.keys(p.id).await.unwrap().into_iter().filter(|k| k.kind == KeyKind::Secret).collect();
        assert_eq!(live.len(), 2, "round {round}");
        let (x, y) = (live[0].id, live[1].id);
        let (s1, s2) = (s.clone(), s.clone());
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.revoke_key(p.id, x, 1_800_000_000_003).await.unwrap() }),
            tokio::spawn(async move { s2.revoke_key(p.id, y, 1_800_000_000_003).await.unwrap() })
        );
        let mut got = [r1.unwrap(), r2.unwrap()];
        got.sort_by_key(|r| matches!(r, Revoked::Done(_)));
        assert!(matches!(got, [Revoked::LastSecret, Revoked::Done(_)]), "round {round}: {got:?}");
        assert_eq!(s.keys(p.id).await.unwrap().len(), 1, "round {round}: one secret key left");
    }
}

/// Touchpoints (upsert, ensure) and rules (in priority order; add, edit, delete).
pub async fn catalog(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap();
    let tps = s.touchpoints(p.id).await.unwrap();
    assert_eq!(tps.len(), default_catalog().touchpoints.len());
    let cart = tps.iter().find(|t| t.touchpoint.key == "cart").unwrap();
    assert_eq!(cart.touchpoint.names.cs, "Košík");

    let mut changed = cart.touchpoint.clone();
    changed.stage = Some("consideration".into());
    changed.names.pl = "Koszyk zakupowy".into();
    assert_eq!(s.upsert_touchpoint(p.id, &changed).await.unwrap(), cart.id);
    let again = Touchpoint::discovered("cart", "cart", touchpoint_core::Channel::Other);
    assert_eq!(s.ensure_touchpoint(p.id, &again).await.unwrap(), cart.id);
    let now = s.touchpoints(p.id).await.unwrap();
    let cart2 = now.iter().find(|t| t.id == cart.id).unwrap();
    assert_eq!(cart2.touchpoint, changed, "ensure does not overwrite a classified touchpoint");

    let rules = s.rules(p.id).await.unwrap();
    assert_eq!(rules.len(), default_catalog().rules.len());
    assert!(rules.windows(2).all(|w| w[0].priority <= w[1].priority), "rules come in priority order");
    let rule = Rule {
        id: 0,
        priority: 1,
        touchpoint: "vip-page".into(),
        event_type: None,
        event_name: Some("Dárek; DROP TABLE events;--".into()),
        conditions: vec![Condition { field: Field::Property("tier".into()), op: Op::OneOf, value: "gold|vip".into() }],
    };
    let stored = s.add_rule(p.id, &rule).await.unwrap();
    assert!(stored.id > 0);
    assert_eq!(s.rules(p.id).await.unwrap()[0], stored);
    let mut edited = stored.clone();
    edited.priority = 2;
    s.update_rule(p.id, &edited).await.unwrap();
    assert_eq!(s.rules(p.id).await.unwrap()[0], edited);
    s.delete_rule(p.id, stored.id).await.unwrap();
    assert!(matches!(s.delete_rule(p.id, stored.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.update_rule(p.id, &edited).await, Err(StoreError::NotFound(_))));
}

/// Identity changes and traits: merges, conflicts, the graph read back, customers listed.
pub async fn identity(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut g = IdentityGraph::new();
    let mut ops = vec![];
    let anon = g.resolve(p, None, Some("cookie-1"), &mut ops);
    let alice = g.resolve(p, Some("alice"), None, &mut ops);
    let city = json!({"city":"Brno","plan":"free"}).as_object().unwrap().clone();
    s.apply_identity(&ops, &[(anon, city)]).await.unwrap();
    let mut ops = vec![];
    g.resolve(p, Some("alice"), Some("cookie-1"), &mut ops); // merges anon into alice
    let bob = g.resolve(p, Some("bob"), Some("cookie-1"), &mut ops); // conflict
    let plan = json!({"plan":"pro","name":"Alžběta"}).as_object().unwrap().clone();
    s.apply_identity(&ops, &[(alice, plan)]).await.unwrap();

    let loaded = s.load_identity_graph().await.unwrap();
    assert_eq!(loaded.lookup(p, IdentityKind::Anonymous, "cookie-1"), Some(alice));
    assert_eq!(loaded.lookup(p, IdentityKind::User, "bob"), Some(bob));
    assert_eq!(loaded.canonical(anon), alice);

    let a = s.customer(alice).await.unwrap().unwrap();
    assert_eq!(a.user_id.as_deref(), Some("alice"));
    assert_eq!(a.traits["plan"], "pro");
    assert_eq!(a.traits["city"], "Brno", "traits of the merged anonymous customer carry over");
    assert_eq!(s.customer(anon).await.unwrap().unwrap().merged_into, Some(alice));
    let listed: Vec<_> = s.customers(p, 0, 10).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(listed, vec![alice, bob], "merged customers are not listed");
    assert_eq!(s.merged_ids(alice).await.unwrap(), vec![anon, alice]);
    let ids = s.identities(alice).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(s.merged_customers(p).await.unwrap(), vec![(anon, alice)]);
    let cities = s.trait_values(p, "city").await.unwrap();
    assert_eq!(cities, vec![(alice, "Brno".to_string())], "merged customers' traits live on the survivor");
    assert!(s.trait_values(p, "x\"; DROP TABLE customers; --").await.unwrap().is_empty());
    assert_eq!(s.find_identity(p, IdentityKind::Anonymous, "cookie-1").await.unwrap(), Some(anon));
    assert_eq!(s.find_identity(p, IdentityKind::User, "bob").await.unwrap(), Some(bob));
    assert_eq!(s.find_identity(p, IdentityKind::User, "nobody").await.unwrap(), None);
    let conflicts = s.conflicts(p, 10).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!((conflicts[0].customer_id, conflicts[0].other_customer_id), (bob, alice));
}

/// A customer search by a trait's value: trimmed (of every Unicode space), ASCII case
/// ignored and no other, canonical customers of the project only, numbers as text; the
/// same through the index of an e-mail or phone as by reading every customer's traits.
pub async fn trait_search(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let q = s.create_project("q", &default_catalog()).await.unwrap().id;
    let mut g = IdentityGraph::new();
    let mut ops = vec![];
    let mut traits = vec![];
    let mut customer = |project: i64, user: &str, t: serde_json::Value| {
        let id = g.resolve(project, Some(user), None, &mut ops);
        traits.push((id, t.as_object().unwrap().clone()));
        id
    };
    let padded = customer(p, "padded", json!({"email": " Jana.Novakova@Seznam.CZ\t", "city": " brno ", "age": "42 "}));
    let plain = customer(
        p,
        "plain",
        json!({"email": "jana.novakova@seznam.cz", "city": "Brno", "first.name": " Jana ", "age": 42, "code": "50%_off", "vip": true, "score": 1e20}),
    );
    let nbsp = customer(p, "nbsp", json!({"email": "\u{a0}jana.novakova@seznam.cz\u{3000}", "crm": 123456}));
    let accents = customer(p, "accents", json!({"email": "JANA.NOVÁKOVÁ@seznam.cz", "crm": "123456 "}));
    let phone = customer(p, "phone", json!({"phone": 420_777_123_456_i64, "email": "petr@example.cz"}));
    let _elsewhere = customer(q, "elsewhere", json!({"email": "jana.novakova@seznam.cz", "phone": "420777123456"}));
    let anon = g.resolve(p, None, Some("cookie"), &mut ops);
    traits.push((anon, json!({"email": "jana.novakova@seznam.cz"}).as_object().unwrap().clone()));
    s.apply_identity(&ops, &traits).await.unwrap();
    let mut ops = vec![];
    g.resolve(p, Some("plain"), Some("cookie"), &mut ops); // merges the anonymous one away
    s.apply_identity(&ops, &[]).await.unwrap();

    let ids = |v: Vec<(i64, String)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    let cases: [(&str, &str, Vec<i64>); 12] = [
        ("email", "jana.novakova@seznam.cz", vec![padded, plain, nbsp]),
        ("email", "  JANA.novakova@seznam.cz ", vec![padded, plain, nbsp]),
        ("email", "jana.nováková@seznam.cz", vec![]),
        ("email", "JANA.NOVÁKOVÁ@SEZNAM.CZ", vec![accents]),
        ("phone", "420777123456", vec![phone]),
        ("phone", "nobody", vec![]),
        ("city", "BRNO", vec![padded, plain]),
        // Not indexed: a number and a string compared as text.
        ("age", " 42", vec![padded, plain]),
        ("age", "4", vec![]),
        ("code", " 50%_OFF", vec![plain]),
        ("crm", "123456", vec![nbsp, accents]),
        ("email\"; DROP TABLE customers; --", "x", vec![]),
    ];
    for (key, value, want) in cases {
        let found = s.customers_with_trait(p, key, value, usize::MAX).await.unwrap();
        assert_eq!(ids(found.clone()), want, "{key} = {value:?}");
        let reference = touchpoint_store::matching_trait_values(s.trait_values(p, key).await.unwrap(), value);
        assert_eq!(found, reference, "{key} = {value:?}: as reading every customer's");
    }
    assert_eq!(s.customers_with_trait(p, "phone", "420777123456", 50).await.unwrap()[0].1, "420777123456");
    // Values whose stored text is not the text compared (a boolean, a large number) and
    // look-alikes of a `LIKE` pattern: found exactly as by reading every customer's.
    for (key, value) in [("vip", "1"), ("vip", "true"), ("score", "1.0e+20"), ("score", "1e20"), ("code", "50x_off")] {
        let found = s.customers_with_trait(p, key, value, usize::MAX).await.unwrap();
        let reference = touchpoint_store::matching_trait_values(s.trait_values(p, key).await.unwrap(), value);
        assert_eq!(found, reference, "{key} = {value:?}: as reading every customer's");
    }
    assert!(s.customers_with_trait(p, "code", "50x_off", 50).await.unwrap().is_empty());
    // A limit keeps the smallest ids, through an index or not.
    for (key, value, limit, want) in
        [("email", "jana.novakova@seznam.cz", 2, vec![padded, plain]), ("city", "brno", 1, vec![padded])]
    {
        assert_eq!(ids(s.customers_with_trait(p, key, value, limit).await.unwrap()), want, "{key}, limit {limit}");
    }

    // More traits indexed on request (again: nothing to do): the same answers through
    // their indexes; a key that cannot be indexed is refused by name.
    let bad = s.index_traits(&["city".into(), "a'b".into()]).await.unwrap_err().to_string();
    assert!(bad.contains("\"a'b\"") && bad.contains("cannot be indexed"), "{bad}");
    for _ in 0..2 {
        s.index_traits(&["city".into(), "first.name".into()]).await.unwrap();
    }
    let cases: [(&str, &str, Vec<i64>); 4] = [
        ("city", "BRNO", vec![padded, plain]),
        ("city", "brno\t", vec![padded, plain]),
        ("first.name", "jana", vec![plain]),
        ("city", "Praha", vec![]),
    ];
    for (key, value, want) in cases {
        let found = s.customers_with_trait(p, key, value, usize::MAX).await.unwrap();
        assert_eq!(ids(found.clone()), want, "indexed {key} = {value:?}");
        let reference = touchpoint_store::matching_trait_values(s.trait_values(p, key).await.unwrap(), value);
        assert_eq!(found, reference, "indexed {key} = {value:?}: as reading every customer's");
    }
    assert!(s.customers_with_trait(q, "city", "brno", 50).await.unwrap().is_empty(), "another project's");
}

fn new_event(project: i64, e: Event, customer: i64, tp: Option<i64>) -> NewEvent {
    NewEvent { project, event: e, customer, touchpoint: tp }
}

/// Events stored once per project and messageId, read back whole; the combined commit.
pub async fn events_and_dedup(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let q = s.create_project("q", &default_catalog()).await.unwrap().id;
    let a = track("m1", "u", "Objednávka", "2026-01-01T10:00:00Z");
    let b = track("m2", "u", "Zamówienie ąęśćżźń", "2026-01-01T11:00:00Z");
    let weird = event(json!({"type":"track","messageId":"m3","userId":"u","event":"x'); DROP TABLE events;--",
        "properties":{"'; SELECT * FROM api_keys --":1, "select":"from"}}));
    let flags = s
        .append_events(
            &[
                new_event(p, a.clone(), 1, None),
                new_event(p, b.clone(), 1, None),
                new_event(p, a.clone(), 1, None),
                new_event(p, weird.clone(), 1, None),
            ],
            &[],
        )
        .await
        .unwrap();
    let flags: Vec<bool> = flags.iter().map(Option::is_some).collect();
    assert_eq!(flags, vec![true, true, false, true], "a repeat inside one call is a duplicate");
    let flags =
        s.append_events(&[new_event(p, a.clone(), 1, None), new_event(q, a.clone(), 2, None)], &[]).await.unwrap();
    let flags: Vec<bool> = flags.iter().map(Option::is_some).collect();
    assert_eq!(flags, vec![false, true], "repeat across calls is a duplicate; another project keeps it");
    assert_eq!(s.count_events(p).await.unwrap(), 3);
    assert_eq!(s.count_events(q).await.unwrap(), 1);

    let all = s.scan_events(Some(p), 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.message_id.as_str()).collect::<Vec<_>>(), ["m1", "m2", "m3"]);
    assert_eq!(all[1].name.as_deref(), Some("Zamówienie ąęśćżźń"));
    assert_eq!(all[2].name.as_deref(), Some("x'); DROP TABLE events;--"));
    let body: serde_json::Value = serde_json::from_str(&all[2].body).unwrap();
    assert_eq!(body["properties"]["'; SELECT * FROM api_keys --"], 1);
    let recent: Vec<String> = s.recent_events(p, 2).await.unwrap().into_iter().map(|e| e.message_id).collect();
    assert_eq!(recent, ["m3", "m2"], "the most recent first");
    assert_eq!(s.recent_events(p, 100).await.unwrap().len(), 3);
    assert!(s.recent_events(p + 1000, 10).await.unwrap().is_empty());
    let page = s.scan_events(None, all[0].id, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].id, all[1].id);

    // The combined commit stores identity and events together.
    let mut g = IdentityGraph::new();
    let mut batch = CommitBatch::default();
    let c = g.resolve(p, Some("zoe"), None, &mut batch.identity_ops);
    batch.events.push(new_event(p, track("m9", "zoe", "A", "2026-01-02T00:00:00Z"), c, None));
    batch.events.push(new_event(p, a, c, None));
    let ids = s.commit(&batch).await.unwrap();
    assert!(ids[0].is_some_and(|id| id > all[2].id) && ids[1].is_none(), "{ids:?}");
    assert!(s.customer(c).await.unwrap().is_some());
}

/// Failed events: raw bytes kept exactly, newest first, usage and clearing per project.
pub async fn failed_events(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let raw = vec![b'{', 0xff, 0xfe, b'}'];
    let f = |i: u8| NewFailedEvent {
        project: p,
        received_at: 5,
        source: "api".into(),
        field: format!("batch[{i}].userId"),
        reason: "must be a string".into(),
        raw: if i == 0 { raw.clone() } else { vec![i] },
    };
    s.append_events(&[], &[f(0), f(1), f(2)]).await.unwrap();
    let got = s.failed_events(p, None, 2).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].event, f(2), "newest first");
    let rest = s.failed_events(p, Some(got[1].id), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].event.raw, raw, "raw bytes kept exactly, even when not UTF-8");
    let other = s.create_project("q", &default_catalog()).await.unwrap().id;
    s.append_events(&[], &[NewFailedEvent { project: other, ..f(7) }]).await.unwrap();
    assert_eq!(s.failed_usage(p).await.unwrap(), FailedUsage { events: 3, bytes: 6 });
    assert_eq!(s.clear_failed_events(p).await.unwrap(), 3);
    assert_eq!(s.failed_usage(p).await.unwrap(), FailedUsage::default());
    assert!(s.failed_events(p, None, 10).await.unwrap().is_empty());
    assert_eq!(s.failed_usage(other).await.unwrap(), FailedUsage { events: 1, bytes: 1 }, "other projects keep theirs");
}

/// A customer's events newest first, paged by (time, id).
pub async fn timelines(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let mut evs = vec![];
    for i in 0..10 {
        let e = track(&format!("t{i}"), "u", "A", &format!("2026-01-01T00:00:0{i}Z"));
        evs.push(new_event(p, e, if i % 2 == 0 { 1 } else { 2 }, None));
    }
    // Two events at the same time: ties are ordered by arrival.
    evs.push(new_event(p, track("tie", "u", "A", "2026-01-01T00:00:09Z"), 2, None));
    s.append_events(&evs, &[]).await.unwrap();
    let first = s.customer_events(&[1, 2], None, 4).await.unwrap();
    assert_eq!(first.iter().map(|e| e.message_id.as_str()).collect::<Vec<_>>(), ["tie", "t9", "t8", "t7"]);
    let last = first.last().unwrap();
    let next = s.customer_events(&[1, 2], Some((last.timestamp, last.id)), 100).await.unwrap();
    assert_eq!(next.len(), 7);
    assert_eq!(next[0].message_id, "t6");
    assert_eq!(s.customer_events(&[1], None, 100).await.unwrap().len(), 5);
    let points = s.scan_points(p, 0, None, 100).await.unwrap();
    assert!(points.is_empty(), "events without a touchpoint are not journey points");
    assert!(s.customer_events(&[], None, 100).await.unwrap().is_empty());
}

/// Daily volumes, journey points and re-classification.
pub async fn volumes_and_reclassification(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let day = |d: i64| 20_454 + d; // 2026-01-01 is day 20454
    let mut evs = vec![];
    for (i, (date, tp)) in [
        ("2026-01-01T01:00:00Z", 1),
        ("2026-01-01T23:00:00Z", 1),
        ("2026-01-02T00:00:00Z", 2),
        ("2026-01-02T05:00:00Z", 0),
    ]
    .iter()
    .enumerate()
    {
        evs.push(new_event(p, track(&format!("v{i}"), "u", "A", date), 1, (*tp > 0).then_some(*tp)));
    }
    s.append_events(&evs, &[]).await.unwrap();
    s.append_events(&evs[..1], &[]).await.unwrap(); // a duplicate is not counted
    let vol = s.daily_volume(p, day(0), day(1)).await.unwrap();
    let as_tuples: Vec<_> = vol.iter().map(|v| (v.day, v.touchpoint_id, v.events)).collect();
    assert_eq!(as_tuples, vec![(day(0), 1, 2), (day(1), 0, 1), (day(1), 2, 1)]);

    let ids: Vec<i64> = s.scan_events(Some(p), 0, 10).await.unwrap().iter().map(|e| e.id).collect();
    let points = s.scan_points(p, 0, None, 10).await.unwrap();
    assert_eq!(
        points.iter().map(|x| x.3).collect::<Vec<_>>(),
        vec![1, 1, 2],
        "touchpoint events only, in arrival order"
    );
    assert_eq!(points[0].2, 1_767_229_200_000);
    assert_eq!(s.event_id_range(p).await.unwrap(), Some((ids[0], ids[3])));
    assert_eq!(s.event_id_range(p + 1000).await.unwrap(), None);
    let upto = s.scan_points(p, 0, Some(ids[1]), 10).await.unwrap();
    let rest = s.scan_points(p, ids[1], Some(ids[3]), 10).await.unwrap();
    assert_eq!((upto.len(), rest.len()), (2, 1), "ranges split the points");
    s.set_touchpoints(&[(ids[0], Some(7)), (ids[3], Some(7))]).await.unwrap();
    s.rebuild_volume(p).await.unwrap();
    let vol = s.daily_volume(p, day(0), day(1)).await.unwrap();
    let as_tuples: Vec<_> = vol.iter().map(|v| (v.day, v.touchpoint_id, v.events)).collect();
    assert_eq!(as_tuples, vec![(day(0), 1, 1), (day(0), 7, 1), (day(1), 2, 1), (day(1), 7, 1)]);
    assert!(s.daily_volume(p, day(5), day(6)).await.unwrap().is_empty());
}

/// Thousands of events of two projects, interleaved in one call and repeated in part in a
/// second: every read must agree with a plain reference built from the events sent.
pub async fn many_events(s: Arc<dyn Store>) {
    let p = s.create_project("p", &default_catalog()).await.unwrap().id;
    let q = s.create_project("q", &default_catalog()).await.unwrap().id;
    let make = |i: usize| {
        let project = if i.is_multiple_of(3) { q } else { p };
        // Times go back and forth so that arrival order and time order differ.
        let ts = format!("2026-02-{:02}T{:02}:00:00Z", 1 + (i * 7) % 27, i % 24);
        let e = track(&format!("e{i}"), "u", "A", &ts);
        let customer = (i % 7) as i64 + if project == p { 1 } else { 100 };
        new_event(project, e, customer, (!i.is_multiple_of(4)).then_some(1 + (i % 5) as i64))
    };
    let first: Vec<NewEvent> = (0..5000).map(make).collect();
    let ids = s.append_events(&first, &[]).await.unwrap();
    assert!(ids.iter().all(Option::is_some));
    // Half repeats, half new.
    let second: Vec<NewEvent> = (4500..5500).map(make).collect();
    let ids2 = s.append_events(&second, &[]).await.unwrap();
    assert_eq!(ids2.iter().filter(|i| i.is_some()).count(), 500, "the 500 repeats are duplicates");

    let sent: Vec<&NewEvent> = first.iter().chain(&second[500..]).collect();
    let of_p: Vec<&NewEvent> = sent.iter().copied().filter(|e| e.project == p).collect();
    assert_eq!(s.count_events(p).await.unwrap(), of_p.len() as i64);
    let all = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    let mids: Vec<&str> = all.iter().map(|e| e.message_id.as_str()).collect();
    let want: Vec<&str> = of_p.iter().map(|e| e.event.message_id.as_str()).collect();
    assert!(mids == want, "a project's events in arrival order");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(s.event_id_range(p).await.unwrap(), Some((all[0].id, all[all.len() - 1].id)));
    let mut paged = vec![];
    let mut after = 0;
    loop {
        let page = s.scan_events(Some(p), after, 333).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        assert!(page.len() <= 333);
        paged.extend(page);
    }
    assert!(paged == all, "pages of 333 add up to the whole");
    // The most recent events, newest first, across segments.
    let recent = s.recent_events(p, 1_234).await.unwrap();
    assert!(recent.iter().eq(all.iter().rev().take(1_234)), "the last 1234 events, newest first");
    assert_eq!(s.recent_events(p, usize::MAX).await.unwrap().len(), all.len());
    assert_eq!(s.scan_events(None, 0, usize::MAX).await.unwrap().len(), sent.len());

    // Timelines: newest first, paged with the cursor, across projects' segments.
    let mut want: Vec<(i64, i64)> = all.iter().filter(|e| e.customer_id == 3).map(|e| (e.timestamp, e.id)).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    let mut got = vec![];
    let mut cursor = None;
    loop {
        let page = s.customer_events(&[3], cursor, 50).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some((last.timestamp, last.id));
        got.extend(page.iter().map(|e| (e.timestamp, e.id)));
    }
    assert!(got == want, "customer 3's timeline: {} events, {} expected", got.len(), want.len());
    let first_page = s.customer_events(&[3], None, 5).await.unwrap();
    let by_id: std::collections::HashMap<i64, &touchpoint_store::StoredEvent> = all.iter().map(|e| (e.id, e)).collect();
    assert!(first_page.iter().all(|e| by_id[&e.id] == e), "timeline events read back whole");

    // Journey points, paged, and re-classification across segments.
    let points = |all: &[touchpoint_store::StoredEvent]| -> Vec<(i64, i64, i64, i64)> {
        all.iter().filter_map(|e| e.touchpoint_id.map(|t| (e.id, e.customer_id, e.timestamp, t))).collect()
    };
    let mut paged = vec![];
    let mut after = 0;
    loop {
        let page = s.scan_points(p, after, None, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.0;
        paged.extend(page);
    }
    assert!(paged == points(&all), "journey points paged by 100");
    let updates: Vec<(i64, Option<i64>)> =
        all.iter().step_by(3).map(|e| (e.id, if e.touchpoint_id.is_some() { None } else { Some(9) })).collect();
    s.set_touchpoints(&updates).await.unwrap();
    let after_update = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    for (before, now) in all.iter().zip(&after_update) {
        let want = updates.iter().find(|u| u.0 == before.id).map_or(before.touchpoint_id, |u| u.1);
        assert_eq!(now.touchpoint_id, want, "event {}", before.id);
    }
    assert!(s.scan_points(p, 0, None, usize::MAX).await.unwrap() == points(&after_update), "points after updates");
    s.rebuild_volume(p).await.unwrap();
    let vol = s.daily_volume(p, 0, 100_000).await.unwrap();
    assert_eq!(vol.iter().map(|v| v.events).sum::<i64>(), all.len() as i64);
    let nines = after_update.iter().filter(|e| e.touchpoint_id == Some(9)).count() as i64;
    assert_eq!(vol.iter().filter(|v| v.touchpoint_id == 9).map(|v| v.events).sum::<i64>(), nines);
}

/// Project secrets, surveys, versions and benchmarks.
pub async fn surveys_and_versions(s: Arc<dyn Store>) {
    use touchpoint_store::listen::SurveyStatus;
    let p = s.create_project("listening", &default_catalog()).await.unwrap();
    let secret = s.project_secret(p.id).await.unwrap();
    assert!(secret.len() >= 32, "a secret long enough to sign with");
    assert_eq!(s.project_secret(p.id).await.unwrap(), secret, "the secret stays the same");
    assert_ne!(s.project_secret(p.id + 1).await.unwrap(), secret, "each project has its own");

    let v1 = json!({"title": {"en": "One"}});
    let survey = s.create_survey(p.id, "nps", &v1).await.unwrap();
    assert_eq!((survey.version, survey.status, &survey.definition), (1, SurveyStatus::Draft, &v1));
    assert!(matches!(s.create_survey(p.id, "nps", &v1).await, Err(StoreError::Exists(_))));
    assert_eq!(s.survey_by_key(p.id, "nps").await.unwrap().unwrap().id, survey.id);
    assert_eq!(s.survey_by_public_id(&survey.public_id).await.unwrap().unwrap().id, survey.id);
    assert!(s.survey_by_public_id("nope").await.unwrap().is_none());

    // A draft is edited in place; a live survey gets a new version and keeps the old one.
    let v1b = json!({"title": {"en": "One, edited"}});
    assert_eq!(s.update_survey(survey.id, &v1b).await.unwrap().version, 1);
    s.set_survey_status(survey.id, SurveyStatus::Live).await.unwrap();
    let v2 = json!({"title": {"en": "Two"}});
    let live = s.update_survey(survey.id, &v2).await.unwrap();
    assert_eq!((live.version, live.status, &live.definition), (2, SurveyStatus::Live, &v2));
    assert_eq!(s.survey_versions(survey.id).await.unwrap(), vec![(1, v1b), (2, v2)]);
    assert_eq!(s.set_survey_status(survey.id, SurveyStatus::Closed).await.unwrap().status, SurveyStatus::Closed);
    assert!(matches!(s.set_survey_status(9999, SurveyStatus::Live).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.surveys(p.id).await.unwrap().len(), 1);

    let b = touchpoint_store::listen::BenchmarkRow {
        source: "CHI 2024".into(),
        metric: "nps".into(),
        segment: "pharmacies".into(),
        value: 41.0,
        n: Some(120.0),
        se: None,
    };
    assert_eq!(s.add_benchmarks(p.id, std::slice::from_ref(&b)).await.unwrap(), 1);
    assert_eq!(s.benchmarks(p.id).await.unwrap(), vec![b]);
}

/// Invitations and responses: saved page by page, completed exactly once, imports deduplicated.
pub async fn responses_once(s: Arc<dyn Store>) {
    use touchpoint_store::listen::{NewInvitation, NewResponse, ResponseFilter, ResponseKey, SaveOutcome};
    let p = s.create_project("answers", &default_catalog()).await.unwrap();
    let survey = s.create_survey(p.id, "csat", &json!({})).await.unwrap();
    let inv = NewInvitation {
        customer: "u1".into(),
        touchpoint: Some("delivery".into()),
        lang: Some("cs".into()),
        expires_ms: 5,
    };
    let ids = s.create_invitations(p.id, survey.id, &[inv.clone(), inv.clone()]).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(s.invitation(ids[0]).await.unwrap().unwrap().invitation, inv);
    let r = |answers: serde_json::Value| NewResponse {
        project_id: p.id,
        survey_id: survey.id,
        version: 1,
        customer: Some("u1".into()),
        touchpoint: Some("delivery".into()),
        lang: Some("cs".into()),
        answers,
        dimensions: json!({}),
        weight: 1.0,
        source: "page".into(),
        external_id: None,
        at_ms: None,
    };
    let key = ResponseKey::Invitation(ids[0]);
    // Page by page: partial answers are kept, then completed once.
    let SaveOutcome::Saved(id) = s.save_answers(&key, &r(json!({"csat": {"score": 2}})), 1, false).await.unwrap()
    else {
        panic!("a first page is saved")
    };
    let partial = s.response_by_key(survey.id, &key).await.unwrap().unwrap();
    assert_eq!((partial.id, partial.complete, partial.page), (id, false, 1));
    assert_eq!(partial.response.answers, json!({"csat": {"score": 2}}));
    let complete_of = ResponseFilter { survey: Some(survey.id), complete_only: true, ..Default::default() };
    assert!(s.responses(p.id, complete_of, 0, 10).await.unwrap().is_empty(), "partial is not complete");
    let done = r(json!({"csat": {"score": 2}, "why": {"text": "late"}}));
    assert_eq!(s.save_answers(&key, &done, 2, true).await.unwrap(), SaveOutcome::Completed(id));
    assert_eq!(s.save_answers(&key, &r(json!({})), 2, true).await.unwrap(), SaveOutcome::AlreadyComplete(id));
    let stored = s.response_by_key(survey.id, &key).await.unwrap().unwrap();
    assert!(stored.complete && stored.completed_ms.is_some());
    assert_eq!(stored.response.answers, done.answers, "a late second submit changes nothing");

    // Two simultaneous submissions of one link: exactly one completes, one row exists.
    let key2 = ResponseKey::Invitation(ids[1]);
    let (five, one) = (r(json!({"csat": {"score": 5}})), r(json!({"csat": {"score": 1}})));
    let (a, b) = tokio::join!(s.save_answers(&key2, &five, 1, true), s.save_answers(&key2, &one, 1, true));
    let outcomes = [a.unwrap(), b.unwrap()];
    let completed = outcomes.iter().filter(|o| matches!(o, SaveOutcome::Completed(_))).count();
    let already = outcomes.iter().filter(|o| matches!(o, SaveOutcome::AlreadyComplete(_))).count();
    assert_eq!((completed, already), (1, 1), "{outcomes:?}");

    // Open links: one response per browser session.
    let sess = ResponseKey::Session("browser-1".into());
    assert!(matches!(
        s.save_answers(&sess, &r(json!({"csat": {"score": 4}})), 1, true).await.unwrap(),
        SaveOutcome::Completed(_)
    ));
    assert!(matches!(s.save_answers(&sess, &r(json!({})), 1, true).await.unwrap(), SaveOutcome::AlreadyComplete(_)));
    assert!(s.response_by_key(survey.id, &ResponseKey::Session("other".into())).await.unwrap().is_none());

    // Imported responses are deduplicated by their external id.
    let mut imported = r(json!({"csat": {"score": 3}}));
    imported.external_id = Some("crm-7".into());
    imported.source = "import".into();
    imported.touchpoint = None;
    imported.at_ms = Some(1_700_000_000_000);
    let first = s.insert_responses(&[imported.clone(), imported.clone()]).await.unwrap();
    assert!(first[0].is_some() && first[1].is_none(), "{first:?}");
    assert_eq!(s.insert_responses(&[imported]).await.unwrap(), vec![None]);
    let complete = ResponseFilter { survey: Some(survey.id), complete_only: true, ..Default::default() };
    let all = s.responses(p.id, complete, 0, 100).await.unwrap();
    assert_eq!(all.len(), 4, "two invitations, one session, one import");
    assert_eq!(all.iter().filter(|r| r.response.source == "import").count(), 1);
    let imported = all.iter().find(|r| r.response.source == "import").unwrap();
    assert_eq!(imported.completed_ms, Some(1_700_000_000_000));
    assert_eq!(s.responses(p.id, complete, all[1].id, 100).await.unwrap().len(), 2, "cursor");
    // Only those given at a touchpoint: the import named none.
    let at_touchpoints = ResponseFilter { with_touchpoint: true, ..complete };
    let got = s.responses(p.id, at_touchpoints, 0, 100).await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|r| r.response.touchpoint.as_deref() == Some("delivery")));
}

/// A store set up for erasure checks by [`erasure_scenario`]: what was written and who.
#[derive(Debug, Clone)]
pub struct ErasureScenario {
    /// The project of the erased customer.
    pub project: ProjectId,
    /// Another project, where a customer has alice's user id too (suppression is per project).
    pub other_project: ProjectId,
    /// Alice, the customer to erase (canonical).
    pub alice: CustomerId,
    /// Alice's second anonymous visit, merged into `alice` (the highest customer id).
    pub alice_merged: CustomerId,
    /// Bob, whose one event was sent from alice's device (a refused merge).
    pub bob: CustomerId,
    /// Alice's user id (unique in the store's bytes but for the other project's customer).
    pub alice_user: String,
    /// The unique marker in one of alice's events, a trait, a failed event and an answer.
    pub marker: String,
    /// Alice's anonymous ids.
    pub alice_cookies: [String; 2],
    /// The survey.
    pub survey: i64,
    /// Alice's invitation.
    pub alice_invitation: i64,
}

impl ErasureScenario {
    /// Whether a stored event is alice's, worked out from what was sent (not from the
    /// store's own rules).
    pub fn is_alices(&self, e: &StoredEvent) -> bool {
        e.project_id == self.project
            && (e.customer_id == self.alice
                || e.customer_id == self.alice_merged
                || e.user_id.as_deref() == Some(&self.alice_user)
                || e.anonymous_id.as_ref().is_some_and(|a| self.alice_cookies.contains(a)))
    }
}

/// Events are written in commits of this many, so they spread over several storage units.
const SCENARIO_COMMIT: usize = 700;

/// Build the erasure scenario on a fresh store: 26 customers and 7 000+ events in the
/// project (alice's every 9th), merges, a refused merge from alice's device, failed
/// events, a survey with invitations and responses, and another project.
pub async fn erasure_scenario(s: &dyn Store) -> ErasureScenario {
    let p = s.create_project("erasure", &default_catalog()).await.unwrap().id;
    let q = s.create_project("erasure-other", &default_catalog()).await.unwrap().id;
    let marker = "zq-erase-marker-7f3a".to_string();
    let alice_user = "alice.9c1e@example.test".to_string();
    let cookies = ["ck-alice-6b1d".to_string(), "ck-alice-e20a".to_string()];
    let mut g = s.load_identity_graph().await.unwrap();
    let mut batch = CommitBatch::default();
    let mut n = 0usize;
    let mut add = |g: &mut IdentityGraph, batch: &mut CommitBatch, project: ProjectId, v: serde_json::Value| {
        let e = event(v);
        let c = g.resolve(project, e.user_id.as_deref(), e.anonymous_id.as_deref(), &mut batch.identity_ops);
        if let Some(t) = e.traits.clone() {
            batch.traits.push((g.canonical(c), t));
        }
        batch.events.push(new_event(project, e, c, Some(1 + (n % 3) as i64)));
        n += 1;
        c
    };
    let ts = |i: usize| format!("2026-03-{:02}T{:02}:{:02}:00Z", 1 + i % 20, i % 24, i % 60);
    // Alice's first anonymous visit, then she identifies from that device (with the marker
    // in a trait, then another trait patch: the first version is rewritten in place).
    let alice = add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"page","messageId":"a-0","anonymousId":cookies[0],"name":"Home","timestamp":ts(0)}),
    );
    add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"identify","messageId":"a-1","anonymousId":cookies[0],"userId":alice_user,
        "traits":{"note":marker,"email":alice_user},"timestamp":ts(1)}),
    );
    s.commit(&std::mem::take(&mut batch)).await.unwrap();
    add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"identify","messageId":"a-2","userId":alice_user,"traits":{"plan":"gold"},"timestamp":ts(2)}),
    );
    let bob = add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"track","messageId":"b-0","userId":"bob","event":"Start","timestamp":ts(3)}),
    );
    s.commit(&std::mem::take(&mut batch)).await.unwrap();
    // Many events of many customers, alice's among them.
    for i in 0..7000 {
        let v = if i % 9 == 4 {
            let mut props = json!({"sku": format!("s{i}")});
            if i == 2002 {
                props["note"] = json!(marker);
            }
            json!({"type":"track","messageId":format!("a-t{i}"),"userId":alice_user,"event":"Koupeno","properties":props,"timestamp":ts(i)})
        } else {
            json!({"type":"track","messageId":format!("o-{i}"),"userId":format!("user-{}", i % 23),"event":"Viewed",
                "properties":{"sku": format!("s{i}")},"timestamp":ts(i)})
        };
        add(&mut g, &mut batch, p, v);
        if batch.events.len() >= SCENARIO_COMMIT {
            s.commit(&std::mem::take(&mut batch)).await.unwrap();
        }
    }
    // Bob on alice's device: his event carries her cookie; the link is refused.
    add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"track","messageId":"b-1","userId":"bob","anonymousId":cookies[0],"event":"Shared","timestamp":ts(7)}),
    );
    // Someone with alice's user id in the other project.
    for i in 0..5 {
        add(
            &mut g,
            &mut batch,
            q,
            json!({"type":"track","messageId":format!("q-{i}"),"userId":alice_user,"event":"Elsewhere","timestamp":ts(i)}),
        );
    }
    s.commit(&std::mem::take(&mut batch)).await.unwrap();
    // Alice's second device, the newest customer, then merged into her.
    let alice_merged = add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"page","messageId":"a-m0","anonymousId":cookies[1],"name":"Promo","timestamp":ts(8)}),
    );
    add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"track","messageId":"a-m1","anonymousId":cookies[1],"userId":alice_user,"event":"Login","timestamp":ts(9)}),
    );
    add(
        &mut g,
        &mut batch,
        p,
        json!({"type":"track","messageId":"o-last","userId":"user-1","event":"Viewed","timestamp":ts(10)}),
    );
    s.commit(&std::mem::take(&mut batch)).await.unwrap();
    assert_eq!(g.canonical(alice_merged), alice, "the second device was merged into alice");
    // Failed events: one naming alice (and the marker), others not.
    let failed = |raw: String| NewFailedEvent {
        project: p,
        received_at: 1,
        source: "api".into(),
        field: "timestamp".into(),
        reason: "not a date".into(),
        raw: raw.into_bytes(),
    };
    s.append_events(
        &[],
        &[
            failed(format!(r#"{{"type":"track","userId":"{alice_user}","event":"{marker}","timestamp":"yesterday"}}"#)),
            failed(r#"{"type":"track","userId":"user-1","timestamp":"never"}"#.into()),
            failed(r#"{"type":"track","userId":"alice.9c1e@example","timestamp":"never"}"#.into()),
        ],
    )
    .await
    .unwrap();
    // A survey: invitations of alice and user-1, answered; an imported answer of alice.
    let survey = s.create_survey(p, "nps", &json!({})).await.unwrap().id;
    let inv = |c: &str| NewInvitation { customer: c.into(), touchpoint: None, lang: None, expires_ms: i64::MAX };
    let ids = s.create_invitations(p, survey, &[inv(&alice_user), inv("user-1")]).await.unwrap();
    let answer = |customer: &str, text: &str| NewResponse {
        project_id: p,
        survey_id: survey,
        version: 1,
        customer: Some(customer.into()),
        touchpoint: None,
        lang: None,
        answers: json!({"nps": {"score": 9}, "why": {"text": text}}),
        dimensions: json!({}),
        weight: 1.0,
        source: "page".into(),
        external_id: None,
        at_ms: None,
    };
    s.save_answers(&ResponseKey::Invitation(ids[0]), &answer(&alice_user, &marker), 1, true).await.unwrap();
    s.save_answers(&ResponseKey::Invitation(ids[1]), &answer("user-1", "fine"), 1, true).await.unwrap();
    s.insert_responses(&[NewResponse { external_id: Some("crm-1".into()), ..answer(&alice_user, "imported") }])
        .await
        .unwrap();
    // Service requests: alice's from her second device (with the marker, and the team's
    // reply quoting it), and bob's.
    let request = |customer_id: CustomerId, body: &str| NewRequest {
        customer_id,
        subject: "Zásilka".into(),
        body: body.into(),
        lang: "cs".into(),
        email: Some(format!("c{customer_id}@example.test")),
    };
    let r = s.create_request(p, &request(alice_merged, &marker), 10).await.unwrap();
    let reply = NewEntry {
        kind: "message".into(),
        author: "team".into(),
        author_name: Some("eva@brand.test".into()),
        body: format!("About {marker}: on its way."),
        status: Some("waiting".into()),
        assignee: None,
    };
    s.add_request_entry(p, r.id, &reply, 11).await.unwrap();
    s.create_request(p, &request(bob, "Where is my parcel?"), 12).await.unwrap();
    ErasureScenario {
        project: p,
        other_project: q,
        alice,
        alice_merged,
        bob,
        alice_user,
        marker,
        alice_cookies: cookies,
        survey,
        alice_invitation: ids[0],
    }
}

fn all(s: &ErasureScenario) -> ResponseFilter {
    ResponseFilter { survey: Some(s.survey), ..Default::default() }
}

/// Export returns everything of alice; erasure removes exactly that from every store,
/// keeps everything else as it was, suppresses her ids and says so in a verified receipt.
pub async fn export_and_erasure(s: Arc<dyn Store>) {
    let sc = erasure_scenario(&*s).await;
    let (p, q) = (sc.project, sc.other_project);
    let before = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    let before_q = s.scan_events(Some(q), 0, usize::MAX).await.unwrap();
    assert!(before.len() > 3 * 2048, "more events than fit in a few storage units");
    let alices: Vec<&StoredEvent> = before.iter().filter(|e| sc.is_alices(e)).collect();
    let kept: Vec<&StoredEvent> = before.iter().filter(|e| !sc.is_alices(e)).collect();
    assert!(alices.len() > 600 && alices.iter().any(|e| e.customer_id == sc.bob), "bob's event from her device");

    // Export (asked for by the merged id: the person is the canonical customer).
    let export = s.export_customer(sc.alice_merged).await.unwrap();
    assert_eq!((export.profile.id, export.requested_id, export.project_id), (sc.alice, sc.alice_merged, p));
    assert_eq!(export.profile.traits["note"], sc.marker.as_str(), "the trait");
    assert_eq!(export.profile.traits["plan"], "gold");
    assert_eq!(export.merged.iter().map(|c| c.id).collect::<Vec<_>>(), [sc.alice_merged]);
    let mut values: Vec<&str> = export.identities.iter().map(|i| i.value.as_str()).collect();
    values.sort_unstable();
    assert_eq!(values, [sc.alice_user.as_str(), &sc.alice_cookies[0], &sc.alice_cookies[1]]);
    assert!(export.events.iter().map(|e| e.id).eq(alices.iter().map(|e| e.id)), "every event of hers, in order");
    assert!(export.events.iter().zip(&alices).all(|(a, b)| a == *b), "whole events, bodies too");
    assert!(export.events.iter().any(|e| e.body.contains(&sc.marker)), "the marker-bearing event");
    assert_eq!(export.failed_events.len(), 1);
    assert!(export.failed_events[0].raw_text.as_deref().unwrap().contains(&sc.marker));
    assert_eq!(export.responses.len(), 2, "through her invitation and imported");
    assert!(export.responses.iter().any(|r| r.response.answers["why"]["text"] == sc.marker.as_str()));
    assert_eq!(export.invitations.iter().map(|i| i.id).collect::<Vec<_>>(), [sc.alice_invitation]);
    assert_eq!(export.conflicts.len(), 1, "the refused merge from her device");
    assert_eq!(export.requests.len(), 1, "her request, not bob's");
    assert_eq!(export.requests[0].entries.len(), 2);
    assert_eq!(export.requests[0].entries[0].body, sc.marker, "her message");
    let doc = serde_json::to_value(&export).unwrap();
    assert_eq!(doc["profile"]["traits"]["note"], sc.marker.as_str(), "one JSON document");
    assert!(doc["events"].as_array().unwrap().len() == alices.len());

    // Erase, asked for by the merged id too.
    let volume_before: i64 = s.daily_volume(p, 0, 100_000).await.unwrap().iter().map(|v| v.events).sum();
    let r: ErasureReceipt = s.erase_customer(sc.alice_merged).await.unwrap();
    assert!(r.verified, "{r:#?}");
    assert!(r.found.is_zero() && r.purge.purged, "{r:#?}");
    assert_eq!((r.customer_id, r.requested_id, r.project_id), (sc.alice, sc.alice_merged, p));
    assert_eq!(r.customer_ids, [sc.alice, sc.alice_merged]);
    assert_eq!(r.removed.events, alices.len() as u64);
    assert!(r.removed.segments_rewritten >= 1);
    assert_eq!((r.removed.customers, r.removed.identities, r.removed.conflicts), (2, 3, 1));
    assert_eq!(r.removed.traits, 3, "note, email, plan");
    assert_eq!((r.removed.failed_events, r.removed.responses, r.removed.invitations), (1, 2, 1));
    assert_eq!((r.removed.suppressed_ids, r.identity_values), (3, 3));
    assert_eq!((r.removed.requests, r.removed.request_entries), (1, 2));
    let text = serde_json::to_string(&r).unwrap();
    assert!(!text.contains(&sc.alice_user) && !text.contains(&sc.alice_cookies[0]), "the receipt names no id");

    // Everything else is as it was: same ids, same content.
    let after = s.scan_events(Some(p), 0, usize::MAX).await.unwrap();
    assert_eq!(after.len(), kept.len());
    assert!(after.iter().zip(&kept).all(|(a, b)| a == *b), "other events unchanged, ids kept");
    assert_eq!(s.count_events(p).await.unwrap(), (before.len() - alices.len()) as i64);
    assert!(s.scan_events(Some(q), 0, usize::MAX).await.unwrap() == before_q, "the other project untouched");
    let volume_after: i64 = s.daily_volume(p, 0, 100_000).await.unwrap().iter().map(|v| v.events).sum();
    assert_eq!(volume_after, volume_before - alices.len() as i64, "daily volumes drop by her events");
    let points = s.scan_points(p, 0, None, usize::MAX).await.unwrap();
    let want: Vec<_> =
        kept.iter().filter_map(|e| e.touchpoint_id.map(|t| (e.id, e.customer_id, e.timestamp, t))).collect();
    assert!(points == want, "journey points: the others' exactly");
    assert!(s.customer_events(&[sc.alice, sc.alice_merged], None, 100).await.unwrap().is_empty());
    let bobs = s.customer_events(&[sc.bob], None, 100).await.unwrap();
    assert_eq!(bobs.len(), 1, "bob keeps his own event, not the one sent from her device");
    let (lo, hi) = s.event_id_range(p).await.unwrap().unwrap();
    assert!(lo <= kept[0].id && hi >= kept[kept.len() - 1].id);

    // Nothing of her is left anywhere.
    assert!(s.customer(sc.alice).await.unwrap().is_none() && s.customer(sc.alice_merged).await.unwrap().is_none());
    assert!(s.identities(sc.alice).await.unwrap().is_empty());
    for v in [&sc.alice_user, &sc.alice_cookies[0], &sc.alice_cookies[1]] {
        for kind in [IdentityKind::User, IdentityKind::Anonymous] {
            assert_eq!(s.find_identity(p, kind, v).await.unwrap(), None);
        }
    }
    assert!(s.conflicts(p, 100).await.unwrap().is_empty());
    assert!(s.trait_values(p, "note").await.unwrap().is_empty());
    let failed = s.failed_events(p, None, 100).await.unwrap();
    assert_eq!(failed.len(), 2, "the others' failed events stay (a shorter id is another id)");
    let responses = s.responses(p, all(&sc), 0, 100).await.unwrap();
    assert_eq!(responses.iter().map(|r| r.response.customer.as_deref()).collect::<Vec<_>>(), [Some("user-1")]);
    assert!(s.invitation(sc.alice_invitation).await.unwrap().is_none());
    let left = s.requests(p, &RequestFilter::default(), 10).await.unwrap();
    assert_eq!(left.iter().map(|r| r.customer_id).collect::<Vec<_>>(), [sc.bob], "bob's request stays");
    assert!(s.find_identity(q, IdentityKind::User, &sc.alice_user).await.unwrap().is_some(), "the other project's");
    assert!(matches!(s.export_customer(sc.alice).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.erase_customer(sc.alice).await, Err(StoreError::NotFound(_))), "erased: unknown now");
    assert!(matches!(s.erase_customer(987_654_321).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.export_customer(987_654_321).await, Err(StoreError::NotFound(_))));

    // Suppressed from now on: a repeat of an erased event, a new event with her ids, a
    // failed event naming her; all refused and counted. Others are stored as before.
    let stats = s.suppression_stats(p).await.unwrap();
    assert_eq!((stats.ids, stats.refused_events), (3, 0));
    let repeat = new_event(p, stored_as_event(alices[5]), sc.alice, None);
    let fresh = event(json!({"type":"track","messageId":"a-new","userId":sc.alice_user,"event":"Back"}));
    let device = event(json!({"type":"page","messageId":"a-new2","anonymousId":sc.alice_cookies[1]}));
    let other = event(json!({"type":"track","messageId":"u-new","userId":"user-3","event":"Back"}));
    let naming = NewFailedEvent {
        project: p,
        received_at: 2,
        source: "api".into(),
        field: "event".into(),
        reason: "missing".into(),
        raw: format!(r#"{{"userId":"{}"}}"#, sc.alice_user).into_bytes(),
    };
    let usage = s.failed_usage(p).await.unwrap();
    let user3 = s.find_identity(p, IdentityKind::User, "user-3").await.unwrap().unwrap();
    let ids = s
        .append_events(
            // (Attributed to bob here: they are refused for the ids they name.)
            &[
                repeat,
                new_event(p, fresh, sc.bob, None),
                new_event(p, device, sc.bob, None),
                new_event(p, other, user3, None),
            ],
            &[naming],
        )
        .await
        .unwrap();
    assert_eq!(ids.iter().map(Option::is_some).collect::<Vec<_>>(), [false, false, false, true]);
    assert_eq!(s.failed_usage(p).await.unwrap(), usage, "not kept as a failed event either");
    assert_eq!(s.suppression_stats(p).await.unwrap().refused_events, 4);
    let list = s.suppression_list(p).await.unwrap();
    assert!(list.contains(&sc.alice_user) && list.contains(&sc.alice_cookies[0]) && !list.contains("user-3"));
    assert!(s.suppression_list(q).await.unwrap().is_empty(), "per project");
    let elsewhere = event(json!({"type":"track","messageId":"q-new","userId":sc.alice_user,"event":"Still"}));
    let hers_elsewhere = s.find_identity(q, IdentityKind::User, &sc.alice_user).await.unwrap().unwrap();
    assert!(s.append_events(&[new_event(q, elsewhere, hers_elsewhere, None)], &[]).await.unwrap()[0].is_some());

    // A writer that still knows her (its graph predates the erasure) cannot bring her back
    // through identity changes either, and erased customer ids are never given out again.
    let mut g = IdentityGraph::new();
    let mut batch = CommitBatch::default();
    let c = g.resolve(p, Some(&sc.alice_user), Some("ck-new-device"), &mut batch.identity_ops);
    batch.traits.push((c, json!({"note": sc.marker}).as_object().unwrap().clone()));
    batch.events.push(new_event(
        p,
        event(json!({"type":"identify","messageId":"a-new3","userId":sc.alice_user})),
        c,
        None,
    ));
    assert_eq!(s.commit(&batch).await.unwrap(), [None]);
    assert_eq!(s.find_identity(p, IdentityKind::User, &sc.alice_user).await.unwrap(), None);
    assert!(s.trait_values(p, "note").await.unwrap().is_empty());
    // One whose graph no longer knows her but who ignores suppression creates no customer
    // with her id, nor a trait from her event; erased customer ids are never given again.
    let mut g = s.load_identity_graph().await.unwrap();
    let mut batch = CommitBatch::default();
    let c = g.resolve(p, Some(&sc.alice_user), Some("ck-new-device-2"), &mut batch.identity_ops);
    assert!(c > sc.alice_merged, "{c} reuses an erased id");
    batch.traits.push((c, json!({"note": sc.marker}).as_object().unwrap().clone()));
    batch.events.push(new_event(
        p,
        event(json!({"type":"identify","messageId":"a-new4","userId":sc.alice_user})),
        c,
        None,
    ));
    assert_eq!(s.commit(&batch).await.unwrap(), [None]);
    assert!(s.customer(c).await.unwrap().is_none(), "no customer with her user id");
    assert_eq!(s.find_identity(p, IdentityKind::Anonymous, "ck-new-device-2").await.unwrap(), None);
    assert!(s.trait_values(p, "note").await.unwrap().is_empty());
    let mut g = s.load_identity_graph().await.unwrap();
    let newcomer = g.resolve(p, Some("newcomer"), None, &mut vec![]);
    assert!(newcomer > sc.alice_merged, "{newcomer} reuses an erased id");
}

/// The event a stored event was made from (for sending it again).
fn stored_as_event(e: &StoredEvent) -> Event {
    touchpoint_store::writer::stored_as_event(&mut e.clone()).unwrap()
}

/// Erasing through the writer: ingest waits for it, then refuses the erased ids, counts
/// them in the receipt, the writer's stats and the store; erasing the store directly while
/// the writer runs makes it reload before its next group.
pub async fn erasure_through_the_writer(s: Arc<dyn Store>) {
    let p = s.create_project("w", &default_catalog()).await.unwrap().id;
    let (writer, task) = Writer::start(s.clone(), WriterConfig::default(), None).await.unwrap();
    let sub = |events: Vec<Event>, failed: Vec<NewFailedEvent>| Submission { project: p, events, failed };
    let tr = |mid: &str, user: &str| event(json!({"type":"track","messageId":mid,"userId":user,"event":"A"}));
    let r = writer
        .submit(sub((0..50).map(|i| tr(&format!("c{i}"), if i % 2 == 0 { "carol" } else { "dave" })).collect(), vec![]))
        .await
        .unwrap();
    assert_eq!(r.stored, 50);
    let carol = s.find_identity(p, IdentityKind::User, "carol").await.unwrap().unwrap();
    let dave = s.find_identity(p, IdentityKind::User, "dave").await.unwrap().unwrap();

    let receipt = writer.erase_customer(carol).await.unwrap();
    assert!(receipt.verified && receipt.removed.events == 25, "{receipt:#?}");
    let naming = NewFailedEvent {
        project: p,
        received_at: 1,
        source: "api".into(),
        field: "timestamp".into(),
        reason: "bad".into(),
        raw: br#"{"userId":"carol","timestamp":"x"}"#.to_vec(),
    };
    let r = writer.submit(sub(vec![tr("c0", "carol"), tr("c-new", "carol"), tr("d-new", "dave")], vec![naming])).await;
    let r = r.unwrap();
    assert_eq!((r.stored, r.duplicates, r.suppressed, r.failed, r.failed_dropped), (1, 0, 3, 0, 0), "{r:?}");
    assert_eq!(writer.stats().suppressed.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(
        s.suppression_stats(p).await.unwrap().refused_events,
        3,
        "the writer's refusals are counted in the store"
    );
    assert_eq!(s.failed_usage(p).await.unwrap(), FailedUsage::default());

    // Erased on the store, beside the running writer.
    assert!(s.erase_customer(dave).await.unwrap().verified);
    let r = writer.submit(sub(vec![tr("d-again", "dave"), tr("e-0", "erin")], vec![])).await.unwrap();
    assert_eq!((r.stored, r.suppressed), (1, 1), "{r:?}");
    let erin = s.find_identity(p, IdentityKind::User, "erin").await.unwrap().unwrap();
    assert!(erin > dave && erin > carol, "erased ids are not given out again");
    assert!(s.customer(dave).await.unwrap().is_none());
    assert_eq!(s.count_events(p).await.unwrap(), 1, "only erin's");
    drop(writer);
    task.await.unwrap();
}

/// Accounts: unique addresses, passwords replaced, roles per project and on every
/// project, sessions that expire and end (one, or all of an account's), and set-password
/// links that work once, also when two use one at the same time.
pub async fn accounts(s: Arc<dyn Store>) {
    let ana = s.create_user("ana@example.cz", Some("$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA")).await.unwrap();
    let bo = s.create_user("bo@example.pl", None).await.unwrap();
    assert!(bo.id != ana.id && bo.password_hash.is_none() && ana.created_ms > 0);
    assert!(matches!(s.create_user("ana@example.cz", None).await, Err(StoreError::Exists(_))));
    assert_eq!(s.user_by_email("ana@example.cz").await.unwrap(), Some(ana.clone()));
    assert_eq!(s.user(bo.id).await.unwrap().map(|u| u.email), Some("bo@example.pl".into()));
    assert_eq!(s.user_by_email("nobody@example.cz").await.unwrap(), None);
    assert_eq!(s.users().await.unwrap().iter().map(|u| u.id).collect::<Vec<_>>(), [ana.id, bo.id]);
    s.set_password(bo.id, "hash-2").await.unwrap();
    assert_eq!(s.user(bo.id).await.unwrap().and_then(|u| u.password_hash), Some("hash-2".into()));
    assert!(matches!(s.set_password(9_999, "x").await, Err(StoreError::NotFound(_))));

    // Roles: one per project, replaced, taken away; every project is its own grant.
    s.set_role(ana.id, Some(7), Some(Role::Viewer)).await.unwrap();
    s.set_role(ana.id, Some(7), Some(Role::Analyst)).await.unwrap();
    s.set_role(ana.id, Some(3), Some(Role::Owner)).await.unwrap();
    s.set_role(ana.id, None, Some(Role::Viewer)).await.unwrap();
    let grants = s.grants(ana.id).await.unwrap();
    assert_eq!(
        grants,
        [
            Grant { project: None, role: Role::Viewer },
            Grant { project: Some(3), role: Role::Owner },
            Grant { project: Some(7), role: Role::Analyst }
        ]
    );
    s.set_role(ana.id, Some(3), None).await.unwrap();
    assert_eq!(s.grants(ana.id).await.unwrap().len(), 2);
    assert!(s.grants(bo.id).await.unwrap().is_empty());
    assert!(matches!(s.set_role(9_999, None, Some(Role::Owner)).await, Err(StoreError::NotFound(_))));

    // Sessions.
    s.create_session("s1", ana.id, 2_000).await.unwrap();
    s.create_session("s2", ana.id, 5_000).await.unwrap();
    s.create_session("s3", bo.id, 5_000).await.unwrap();
    assert_eq!(s.session("s1", 1_999).await.unwrap().map(|x| (x.user_id, x.expires_ms)), Some((ana.id, 2_000)));
    assert_eq!(s.session("s1", 2_000).await.unwrap(), None, "expired");
    assert_eq!(s.session("nope", 0).await.unwrap(), None);
    s.delete_session("s2").await.unwrap();
    assert_eq!(s.session("s2", 0).await.unwrap(), None);
    assert_eq!(s.delete_sessions(ana.id).await.unwrap(), 1);
    assert!(s.session("s3", 0).await.unwrap().is_some(), "another account's session stays");

    // Set-password links: once, and not after they expire.
    s.create_password_link("l1", bo.id, 10_000).await.unwrap();
    s.create_password_link("l2", bo.id, 10_000).await.unwrap();
    let (a, b) = tokio::join!(s.take_password_link("l1", 0), s.take_password_link("l1", 0));
    let used: Vec<Option<i64>> = vec![a.unwrap(), b.unwrap()];
    assert!(used.contains(&Some(bo.id)) && used.contains(&None), "one use wins: {used:?}");
    assert_eq!(s.take_password_link("l2", 10_000).await.unwrap(), None, "expired");
    assert_eq!(s.take_password_link("l2", 0).await.unwrap(), None, "an expired link is gone too");
}

/// Trigger rules (keys unique per project; listed per project and all; changed), the
/// outbox (a firing decided at most once per rule, customer and event, also by two
/// deciders at once; decisions and the cursor in one transaction; the cursor never moving
/// back; open firings due in order; state changes; listings by every filter, paged;
/// counts per state) and customers' preferences.
pub async fn triggers(s: Arc<dyn Store>) {
    use std::collections::BTreeMap;
    use touchpoint_store::triggers::{
        FiringBrief, FiringFilter, FiringRow, FiringState, FiringUpdate, NewFiring, Preference, TriggerStatus,
    };
    let p = s.create_project("acting", &default_catalog()).await.unwrap().id;
    let q = s.create_project("elsewhere", &default_catalog()).await.unwrap().id;

    // Rules: definitions come back as given (nested, non-ASCII), keys are unique per project.
    let def = json!({"when": {"event": "Objednávka doručena", "late_by_h": 24}, "then": [{"webhook": "https://hooks.example/a"}], "z": null, "a": 1.5});
    let late = s.create_trigger_rule(p, "late-delivery", TriggerStatus::Draft, &def).await.unwrap();
    assert_eq!(
        (late.project_id, late.key.as_str(), late.status, &late.definition),
        (p, "late-delivery", TriggerStatus::Draft, &def)
    );
    assert!(late.created_ms > 1_700_000_000_000 && late.updated_ms == late.created_ms, "{late:?}");
    assert_eq!(
        serde_json::to_string(&late.definition).unwrap(),
        serde_json::to_string(&def).unwrap(),
        "keys keep their order"
    );
    let welcome = s.create_trigger_rule(p, "welcome", TriggerStatus::Live, &json!({"n": 1})).await.unwrap();
    let other = s.create_trigger_rule(q, "late-delivery", TriggerStatus::Paused, &json!([1, "dva"])).await.unwrap();
    assert_eq!(
        (other.status, &other.definition),
        (TriggerStatus::Paused, &json!([1, "dva"])),
        "a key is unique per project only"
    );
    let taken = s.create_trigger_rule(p, "late-delivery", TriggerStatus::Live, &json!({})).await;
    assert!(matches!(taken, Err(StoreError::Exists(_))), "{taken:?}");
    assert_eq!(
        s.trigger_rule(p, "late-delivery").await.unwrap(),
        Some(late.clone()),
        "a refused create changes nothing"
    );
    assert_eq!(s.trigger_rule(q, "welcome").await.unwrap(), None);
    assert_eq!(s.trigger_rules(Some(p)).await.unwrap(), [late.clone(), welcome.clone()]);
    assert_eq!(s.trigger_rules(Some(q)).await.unwrap(), std::slice::from_ref(&other));
    assert_eq!(s.trigger_rules(None).await.unwrap(), [late.clone(), welcome.clone(), other.clone()]);
    assert!(s.trigger_rules(Some(q + 100)).await.unwrap().is_empty());

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let def2 = json!({"when": {"event": "Objednávka doručena", "late_by_h": 48}});
    let changed = s.update_trigger_rule(p, "late-delivery", TriggerStatus::Live, &def2).await.unwrap();
    assert_eq!(
        (changed.id, changed.status, &changed.definition, changed.created_ms),
        (late.id, TriggerStatus::Live, &def2, late.created_ms)
    );
    assert!(changed.updated_ms > late.updated_ms, "{changed:?}");
    assert_eq!(s.trigger_rule(p, "late-delivery").await.unwrap(), Some(changed.clone()));
    assert_eq!(s.trigger_rule(q, "late-delivery").await.unwrap(), Some(other.clone()), "another project's rule stays");
    let paused = s.update_trigger_rule(p, "late-delivery", TriggerStatus::Paused, &def2).await.unwrap();
    assert_eq!(paused.status, TriggerStatus::Paused);
    let missing = s.update_trigger_rule(p, "nope", TriggerStatus::Live, &def2).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    let elsewhere = s.update_trigger_rule(q + 100, "late-delivery", TriggerStatus::Live, &def2).await;
    assert!(matches!(elsewhere, Err(StoreError::NotFound(_))), "{elsewhere:?}");
    assert_eq!(s.trigger_rules(None).await.unwrap().len(), 3);

    // Deciding: at most once per (rule, customer, event), within one call and across calls.
    let (ra, rb) = (late.id, welcome.id);
    let f = |id: &str, rule: i64, customer: CustomerId, event: i64, state: FiringState, next_ms: i64| NewFiring {
        id: id.into(),
        project_id: p,
        rule_id: rule,
        customer_id: customer,
        event_id: event,
        event_ms: event * 1_000,
        state,
        held_out: state == FiringState::HeldOut,
        next_ms,
        reason: match state {
            FiringState::Suppressed => Some("cap".into()),
            FiringState::HeldOut => Some("holdout".into()),
            _ => None,
        },
        payload: json!({"event": event, "text": "Omlouváme se 🙏", "customer": {"id": customer}}).into(),
        decided_ms: 5_000 + event,
    };
    assert_eq!(s.trigger_cursor().await.unwrap(), None, "no cursor before the first decision");
    assert_eq!(s.next_due_ms().await.unwrap(), None);
    let first = [
        f("msg_k1", ra, 10, 100, FiringState::Pending, 3_000),
        f("msg_j2", ra, 11, 100, FiringState::Waiting, 2_000),
        f("msg_dup", ra, 10, 100, FiringState::Pending, 1), // msg_k1's key again
        f("msg_i3", rb, 10, 100, FiringState::Suppressed, 0), // the same customer and event, another rule
    ];
    assert_eq!(s.decide_firings(&first, Some(100)).await.unwrap(), [true, true, false, true]);
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(100));
    assert_eq!(s.firing("msg_dup").await.unwrap(), None, "a repeat is not recorded");
    let k1 = s.firing("msg_k1").await.unwrap().unwrap();
    assert_eq!(k1, FiringRow { seq: k1.seq, firing: first[0].clone(), attempts: 0, last_error: None, done_ms: None });
    let second = [
        f("msg_j2b", ra, 11, 100, FiringState::Pending, 0), // msg_j2's key, decided again
        f("msg_h4", ra, 10, 101, FiringState::Pending, 2_000),
        f("msg_g5", ra, 12, 102, FiringState::HeldOut, 0),
        f("msg_f6", ra, 13, 103, FiringState::Waiting, 2_000),
        f("msg_e8", ra, 14, 104, FiringState::Pending, 500),
    ];
    assert_eq!(s.decide_firings(&second, Some(90)).await.unwrap(), [false, true, true, true, true]);
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(100), "the cursor never moves back");
    assert_eq!(s.firing("msg_j2b").await.unwrap(), None);
    assert_eq!(s.firing("msg_j2").await.unwrap().unwrap().firing, first[1], "the first decision stays as it was");
    assert_eq!(s.decide_firings(&first[..1], Some(150)).await.unwrap(), [false], "only repeats");
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(150), "the cursor moves on all the same");
    assert!(s.decide_firings(&[], None).await.unwrap().is_empty());
    assert_eq!(s.decide_firings(&[], Some(149)).await.unwrap(), Vec::<bool>::new());
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(150));
    let theirs = NewFiring { project_id: q, ..f("msg_q1", other.id, 10, 105, FiringState::Pending, 9_000) };
    assert_eq!(s.decide_firings(std::slice::from_ref(&theirs), Some(151)).await.unwrap(), [true]);
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(151));

    // One transaction: a call that fails (a firing id already used) records none of its
    // firings and leaves the cursor where it was.
    let failing =
        [f("msg_new", ra, 30, 300, FiringState::Pending, 0), f("msg_k1", ra, 31, 301, FiringState::Pending, 0)];
    assert!(s.decide_firings(&failing, Some(400)).await.is_err(), "a firing id is unique");
    assert_eq!(s.firing("msg_new").await.unwrap(), None, "nothing of a failed call is recorded");
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(151), "nor is its cursor");
    assert_eq!(s.firing("msg_k1").await.unwrap(), Some(k1.clone()));

    let seq = |id: &str| {
        let s = s.clone();
        let id = id.to_string();
        async move { s.firing(&id).await.unwrap().unwrap().seq }
    };
    let order = ["msg_k1", "msg_j2", "msg_i3", "msg_h4", "msg_g5", "msg_f6", "msg_e8"];
    let mut seqs = vec![];
    for id in order {
        seqs.push(seq(id).await);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq grows with each decision: {seqs:?}");
    assert!(seq("msg_q1").await > seqs[6]);

    // Due: open (waiting, pending) and next_ms <= now; the earliest first, then in the
    // order decided.
    let ids = |rows: Vec<FiringRow>| rows.into_iter().map(|r| r.firing.id).collect::<Vec<_>>();
    assert_eq!(ids(s.due_firings(2_000, 10).await.unwrap()), ["msg_e8", "msg_j2", "msg_h4", "msg_f6"]);
    assert_eq!(ids(s.due_firings(2_000, 2).await.unwrap()), ["msg_e8", "msg_j2"]);
    assert_eq!(ids(s.due_firings(1_999, 10).await.unwrap()), ["msg_e8"]);
    assert_eq!(ids(s.due_firings(499, 10).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(s.due_firings(3_000, 10).await.unwrap()), ["msg_e8", "msg_j2", "msg_h4", "msg_f6", "msg_k1"]);
    assert_eq!(ids(s.due_firings(9_000, 10).await.unwrap()).len(), 6, "every project's");
    let due = s.due_firings(2_000, 1).await.unwrap();
    assert_eq!(due[0].firing, second[4], "due firings are whole");
    assert_eq!(s.next_due_ms().await.unwrap(), Some(500));

    // Changing state.
    let delivered = FiringUpdate {
        state: FiringState::Delivered,
        next_ms: 500,
        attempts: 1,
        last_error: None,
        reason: None,
        done_ms: Some(2_100),
        payload: None,
    };
    s.update_firing("msg_e8", &delivered).await.unwrap();
    let e8 = s.firing("msg_e8").await.unwrap().unwrap();
    assert_eq!(
        (e8.firing.state, e8.attempts, e8.done_ms, e8.last_error.clone()),
        (FiringState::Delivered, 1, Some(2_100), None)
    );
    assert_eq!(e8.firing, NewFiring { state: FiringState::Delivered, ..second[4].clone() }, "the decision stays");
    assert_eq!(ids(s.due_firings(2_000, 10).await.unwrap()), ["msg_j2", "msg_h4", "msg_f6"], "delivered is not due");
    assert_eq!(s.next_due_ms().await.unwrap(), Some(2_000));
    let retry = FiringUpdate {
        state: FiringState::Pending,
        next_ms: 8_000,
        attempts: 2,
        last_error: Some("HTTP 503 – zkuste později".into()),
        reason: Some("quiet_hours".into()),
        done_ms: None,
        payload: Some(serde_json::json!({"survey_url": "https://x.example/s/1", "kept": "for every retry"})),
    };
    s.update_firing("msg_j2", &retry).await.unwrap();
    let j2 = s.firing("msg_j2").await.unwrap().unwrap();
    let expected = NewFiring {
        state: FiringState::Pending,
        next_ms: 8_000,
        reason: Some("quiet_hours".into()),
        payload: retry.payload.clone().unwrap().into(),
        ..first[1].clone()
    };
    assert_eq!((j2.firing, j2.attempts, j2.last_error, j2.done_ms), (expected, 2, retry.last_error.clone(), None));
    assert_eq!(ids(s.due_firings(2_000, 10).await.unwrap()), ["msg_h4", "msg_f6"], "rescheduled");
    let cancelled = FiringUpdate {
        state: FiringState::Cancelled,
        next_ms: 2_000,
        attempts: 0,
        last_error: None,
        reason: None,
        done_ms: Some(1_500),
        payload: None,
    };
    s.update_firing("msg_f6", &cancelled).await.unwrap();
    assert_eq!(s.firing("msg_f6").await.unwrap().unwrap().done_ms, Some(1_500));
    let nope = s.update_firing("msg_nope", &delivered).await;
    assert!(matches!(nope, Err(StoreError::NotFound(_))), "{nope:?}");
    assert_eq!(s.firing("msg_nope").await.unwrap(), None);

    // Leasing: what is due, taken once, in due order, and due again when the lease ends.
    let h4 = s.firing("msg_h4").await.unwrap().unwrap();
    assert_eq!(ids(s.due_firings(9_000, 10).await.unwrap()), ["msg_h4", "msg_k1", "msg_j2", "msg_q1"]);
    let taken = s.lease_due_firings(9_000, 3, 60_000).await.unwrap();
    assert_eq!(ids(taken.clone()), ["msg_k1", "msg_j2", "msg_h4"], "the first due, in decision order");
    assert!(taken.iter().all(|f| f.firing.next_ms == 60_000), "returned as leased");
    assert_eq!(taken[2].firing, NewFiring { next_ms: 60_000, ..h4.firing.clone() }, "nothing but the next look moves");
    assert_eq!(ids(s.lease_due_firings(9_000, 10, 60_000).await.unwrap()), ["msg_q1"], "taken once");
    assert!(s.lease_due_firings(59_999, 10, 90_000).await.unwrap().is_empty());
    assert_eq!(s.lease_due_firings(60_000, 10, 90_000).await.unwrap().len(), 4, "due again when the lease ends");

    // A person's recent firings (a customer and those merged into it), every rule's,
    // newest decision first, without payloads; the project's only.
    let history = |customers: Vec<CustomerId>, since: i64, limit: usize| {
        let s = s.clone();
        async move { s.firing_history(p, &customers, since, limit).await.unwrap() }
    };
    let brief_ids = |b: Vec<FiringBrief>| b.into_iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(
        brief_ids(history(vec![10], 0, 10).await),
        ["msg_h4", "msg_i3", "msg_k1"],
        "not msg_q1: another project"
    );
    assert_eq!(brief_ids(history(vec![10, 11], 0, 10).await), ["msg_h4", "msg_i3", "msg_j2", "msg_k1"]);
    assert_eq!(brief_ids(history(vec![10, 11], 0, 2).await), ["msg_h4", "msg_i3"]);
    assert_eq!(brief_ids(history(vec![10], 101_000, 10).await), ["msg_h4"], "triggered since");
    assert!(history(vec![], 0, 10).await.is_empty());
    assert_eq!(
        history(vec![14], 0, 10).await,
        [FiringBrief {
            id: "msg_e8".into(),
            rule_id: ra,
            state: FiringState::Delivered,
            event_ms: 104_000,
            done_ms: Some(2_100)
        }]
    );

    // Listing: the project's, newest first; every filter narrows.
    let list = |filter: FiringFilter, limit: usize| {
        let s = s.clone();
        async move { ids(s.firings(p, &filter, limit).await.unwrap()) }
    };
    let all = list(FiringFilter::default(), 100).await;
    assert_eq!(all, ["msg_e8", "msg_f6", "msg_g5", "msg_h4", "msg_i3", "msg_j2", "msg_k1"]);
    assert_eq!(list(FiringFilter::default(), 3).await, ["msg_e8", "msg_f6", "msg_g5"]);
    assert_eq!(ids(s.firings(q, &FiringFilter::default(), 100).await.unwrap()), ["msg_q1"]);
    assert!(s.firings(q + 100, &FiringFilter::default(), 100).await.unwrap().is_empty());
    let by_rule = FiringFilter { rule_id: Some(rb), ..Default::default() };
    assert_eq!(list(by_rule, 100).await, ["msg_i3"]);
    let by_state = FiringFilter { state: Some(FiringState::Pending), ..Default::default() };
    assert_eq!(list(by_state, 100).await, ["msg_h4", "msg_j2", "msg_k1"]);
    let held = FiringFilter { state: Some(FiringState::HeldOut), ..Default::default() };
    let g5 = s.firings(p, &held, 100).await.unwrap();
    assert_eq!(g5.iter().map(|r| (r.firing.id.as_str(), r.firing.held_out)).collect::<Vec<_>>(), [("msg_g5", true)]);
    let by_customer = FiringFilter { customer_id: Some(10), ..Default::default() };
    assert_eq!(list(by_customer, 100).await, ["msg_h4", "msg_i3", "msg_k1"], "not another project's");
    let since = FiringFilter { since_ms: Some(102_000), ..Default::default() };
    assert_eq!(list(since, 100).await, ["msg_e8", "msg_f6", "msg_g5"], "triggered at or after");
    let before = FiringFilter { before_seq: Some(seqs[3]), ..Default::default() };
    assert_eq!(list(before, 100).await, ["msg_i3", "msg_j2", "msg_k1"], "strictly before");
    let narrow = FiringFilter { rule_id: Some(ra), customer_id: Some(10), ..Default::default() };
    assert_eq!(list(narrow, 100).await, ["msg_h4", "msg_k1"]);
    let every = FiringFilter {
        rule_id: Some(ra),
        state: Some(FiringState::Pending),
        customer_id: Some(10),
        since_ms: Some(101_000),
        before_seq: Some(seqs[4]),
    };
    assert_eq!(list(every.clone(), 100).await, ["msg_h4"]);
    assert!(list(FiringFilter { before_seq: Some(seqs[3]), ..every }, 100).await.is_empty());
    // Paging by before_seq goes through everything once.
    let mut paged = vec![];
    let mut cursor = None;
    loop {
        let page = s.firings(p, &FiringFilter { before_seq: cursor, ..Default::default() }, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        cursor = Some(last.seq);
        paged.extend(ids(page));
    }
    assert_eq!(paged, all);

    // Counts per state, of one rule in one project.
    let counts = |project: ProjectId, rule: i64| {
        let s = s.clone();
        async move {
            let mut m = BTreeMap::new();
            for (state, n) in s.firing_counts(project, rule).await.unwrap() {
                assert!(m.insert(state.as_str(), n).is_none(), "each state once");
            }
            m.retain(|_, n| *n != 0);
            m
        }
    };
    let expected = BTreeMap::from([("pending", 3), ("held_out", 1), ("cancelled", 1), ("delivered", 1)]);
    assert_eq!(counts(p, ra).await, expected);
    assert_eq!(counts(p, rb).await, BTreeMap::from([("suppressed", 1)]));
    assert_eq!(counts(q, other.id).await, BTreeMap::from([("pending", 1)]));
    assert!(counts(q, ra).await.is_empty(), "per project");
    // Suppressed firings by reason: every one counted, of one rule in one project.
    assert_eq!(s.suppressed_reasons(p, rb).await.unwrap(), [("cap".to_string(), 1)]);
    assert!(s.suppressed_reasons(p, ra).await.unwrap().is_empty(), "none suppressed");
    assert!(s.suppressed_reasons(q, rb).await.unwrap().is_empty(), "per project");

    // Two deciders at once: one records the firing, the other finds it there.
    let race = |id: &str| NewFiring { project_id: q, ..f(id, other.id, 20, 200, FiringState::Pending, 0) };
    let (r1, r2) = ([race("msg_r1")], [race("msg_r2")]);
    let (x, y) = tokio::join!(s.decide_firings(&r1, None), s.decide_firings(&r2, None));
    let mut won = [x.unwrap(), y.unwrap()].concat();
    won.sort();
    assert_eq!(won, [false, true]);
    let raced = FiringFilter { customer_id: Some(20), ..Default::default() };
    assert_eq!(s.firings(q, &raced, 10).await.unwrap().len(), 1);
    assert_eq!(s.trigger_cursor().await.unwrap(), Some(151), "no cursor given, none moved");

    // Preferences: one per category and channel, replaced, per customer and project.
    let pref = |category: &str, allowed: bool, updated_ms: i64, source: &str| Preference {
        category: category.into(),
        channel: "all".into(),
        allowed,
        updated_ms,
        source: source.into(),
    };
    let sorted = |mut v: Vec<Preference>| {
        v.sort_by(|a, b| a.category.cmp(&b.category));
        v
    };
    assert!(s.preferences(p, 10).await.unwrap().is_empty());
    s.set_preference(p, 10, &pref("marketing", false, 100, "unsubscribe_link")).await.unwrap();
    s.set_preference(p, 10, &pref("service", true, 101, "api")).await.unwrap();
    s.set_preference(p, 10, &pref("all", true, 102, "portal")).await.unwrap();
    s.set_preference(p, 11, &pref("marketing", true, 103, "event")).await.unwrap();
    s.set_preference(q, 10, &pref("surveys", false, 104, "api")).await.unwrap();
    assert_eq!(
        sorted(s.preferences(p, 10).await.unwrap()),
        [
            pref("all", true, 102, "portal"),
            pref("marketing", false, 100, "unsubscribe_link"),
            pref("service", true, 101, "api")
        ]
    );
    s.set_preference(p, 10, &pref("marketing", true, 200, "portal")).await.unwrap();
    s.set_preference(p, 10, &pref("all", false, 201, "unsubscribe_link")).await.unwrap();
    assert_eq!(
        sorted(s.preferences(p, 10).await.unwrap()),
        [
            pref("all", false, 201, "unsubscribe_link"),
            pref("marketing", true, 200, "portal"),
            pref("service", true, 101, "api")
        ],
        "replaced, not added"
    );
    assert_eq!(s.preferences(p, 11).await.unwrap(), [pref("marketing", true, 103, "event")]);
    assert_eq!(s.preferences(q, 10).await.unwrap(), [pref("surveys", false, 104, "api")]);
    assert!(s.preferences(q, 11).await.unwrap().is_empty());
    // Erasure: a subject's firings and preferences go; another customer's, and the same
    // customer id in another project, stay.
    let subject = touchpoint_store::erasure::Subject::new(p, 10, vec![10], Vec::<String>::new());
    let ids = |v: Vec<FiringRow>| v.into_iter().map(|f| f.firing.id).collect::<Vec<_>>();
    assert_eq!(ids(s.subject_firings(&subject).await.unwrap()), ["msg_k1", "msg_i3", "msg_h4"]);
    assert_eq!(s.subject_preferences(&subject).await.unwrap().len(), 3);
    let elsewhere = FiringFilter { customer_id: Some(10), ..Default::default() };
    let kept_elsewhere = s.firings(q, &elsewhere, 100).await.unwrap().len();
    assert!(kept_elsewhere > 0);
    assert_eq!(s.erase_subject_triggers(&subject).await.unwrap(), (3, 3));
    assert!(s.subject_firings(&subject).await.unwrap().is_empty());
    assert!(s.subject_preferences(&subject).await.unwrap().is_empty());
    assert_eq!(s.erase_subject_triggers(&subject).await.unwrap(), (0, 0), "nothing left to remove");
    assert_eq!(s.firings(q, &elsewhere, 100).await.unwrap().len(), kept_elsewhere);
    // A channel's choice is its own row beside the category's, listed after it.
    let on = |channel: &str, p: Preference| Preference { channel: channel.into(), ..p };
    s.set_preference(p, 11, &on("webhook", pref("marketing", false, 105, "portal"))).await.unwrap();
    s.set_preference(p, 11, &on("email", pref("marketing", true, 106, "portal"))).await.unwrap();
    s.set_preference(p, 11, &on("webhook", pref("marketing", true, 107, "portal"))).await.unwrap();
    assert_eq!(
        s.preferences(p, 11).await.unwrap(),
        [
            pref("marketing", true, 103, "event"),
            on("email", pref("marketing", true, 106, "portal")),
            on("webhook", pref("marketing", true, 107, "portal")),
        ],
        "by category, then channel; a channel's choice replaced"
    );
    let per_channel = touchpoint_store::erasure::Subject::new(p, 11, vec![11], Vec::<String>::new());
    assert_eq!(s.subject_preferences(&per_channel).await.unwrap().len(), 3);
    assert_eq!(s.preferences(q, 10).await.unwrap(), [pref("surveys", false, 104, "api")]);
    // Suppressed firings by reason, the commonest first, ties by reason.
    let why = |id: &str, customer: CustomerId, reason: &str| NewFiring {
        reason: Some(reason.into()),
        ..f(id, rb, customer, 300, FiringState::Suppressed, 0)
    };
    let more = [
        why("msg_s1", 13, "too_late"),
        why("msg_s2", 14, "consent"),
        why("msg_s3", 15, "cap"),
        why("msg_s4", 16, "consent"),
    ];
    assert_eq!(s.decide_firings(&more, None).await.unwrap(), [true; 4]);
    let reasons = s.suppressed_reasons(p, rb).await.unwrap();
    assert_eq!(reasons, [("consent".to_string(), 2), ("cap".to_string(), 1), ("too_late".to_string(), 1)]);
}

/// In-page actions: a person's ready firings are taken once (delivered in the same
/// write), the first decided first, `limit` at a time, since a time, in one project only;
/// nothing else is taken, and a taken firing counts in the history as delivered.
pub async fn in_page_firings(s: Arc<dyn Store>) {
    use touchpoint_store::triggers::{FiringState, FiringUpdate, NewFiring, TriggerStatus};
    let p = s.create_project("in-page", &default_catalog()).await.unwrap().id;
    let q = s.create_project("in-page-elsewhere", &default_catalog()).await.unwrap().id;
    let rule = s.create_trigger_rule(p, "ask", TriggerStatus::Live, &json!({})).await.unwrap().id;
    let theirs = s.create_trigger_rule(q, "ask", TriggerStatus::Live, &json!({})).await.unwrap().id;
    let f = |id: &str, project: ProjectId, rule: i64, customer: CustomerId, event: i64| NewFiring {
        id: id.into(),
        project_id: project,
        rule_id: rule,
        customer_id: customer,
        event_id: event,
        event_ms: event * 1_000,
        state: FiringState::Pending,
        held_out: false,
        next_ms: 0,
        reason: None,
        payload: json!({"in_page": {"survey": "csat", "lang": "cs"}}).into(),
        decided_ms: event * 1_000 + 5,
    };
    let all = [
        f("ip_old", p, rule, 20, 1),   // before `since`
        f("ip_a", p, rule, 20, 5),     // the person's first
        f("ip_b", p, rule, 21, 6),     // merged into the same person
        f("ip_c", p, rule, 20, 7),     // the person's third
        f("ip_other", p, rule, 22, 8), // someone else
        f("ip_q", q, theirs, 20, 9),   // another project
        f("ip_due", p, rule, 20, 10),  // still pending: not an in-page action yet
    ];
    assert!(s.decide_firings(&all, None).await.unwrap().iter().all(|&new| new));
    let ready = FiringUpdate {
        state: FiringState::Ready,
        next_ms: 0,
        attempts: 1,
        last_error: None,
        reason: None,
        done_ms: Some(3_000),
        payload: None,
    };
    for id in ["ip_old", "ip_a", "ip_b", "ip_c", "ip_other", "ip_q"] {
        s.update_firing(id, &ready).await.unwrap();
    }
    assert!(
        s.lease_due_firings(i64::MAX, 100, 0).await.unwrap().iter().all(|f| f.firing.id == "ip_due"),
        "ready is not due"
    );
    let take = |customers: Vec<CustomerId>, limit: usize| {
        let s = s.clone();
        async move {
            let rows = s.take_ready_firings(p, &customers, 2_000, 9_000, limit).await.unwrap();
            rows.into_iter().map(|r| (r.firing.id, r.firing.state, r.done_ms)).collect::<Vec<_>>()
        }
    };
    let delivered = |id: &str| (id.to_string(), FiringState::Delivered, Some(9_000));
    assert_eq!(take(vec![20, 21], 1).await, [delivered("ip_a")], "the first decided, one at a time");
    assert_eq!(take(vec![21, 20], 5).await, [delivered("ip_b"), delivered("ip_c")], "the rest, in decision order");
    assert!(take(vec![20, 21], 5).await.is_empty(), "each once");
    assert!(take(vec![], 5).await.is_empty());
    assert!(take(vec![22], 0).await.is_empty());
    let old = s.firing("ip_old").await.unwrap().unwrap();
    assert_eq!((old.firing.state, old.done_ms), (FiringState::Ready, Some(3_000)), "older than since: left");
    let q_row = s.firing("ip_q").await.unwrap().unwrap();
    assert_eq!(q_row.firing.state, FiringState::Ready, "another project's: left");
    let a = s.firing("ip_a").await.unwrap().unwrap();
    assert_eq!(a.firing, NewFiring { state: FiringState::Delivered, ..all[1].clone() }, "only the state moves");
    assert_eq!((a.attempts, a.done_ms), (1, Some(9_000)));
    let history = s.firing_history(p, &[20], 0, 10).await.unwrap();
    let states: Vec<_> = history.iter().map(|b| (b.id.as_str(), b.state)).collect();
    assert_eq!(
        states,
        [
            ("ip_due", FiringState::Pending),
            ("ip_c", FiringState::Delivered),
            ("ip_a", FiringState::Delivered),
            ("ip_old", FiringState::Ready)
        ]
    );
    assert_eq!(take(vec![22], 5).await, [delivered("ip_other")]);
}

/// The knowledge base: articles with every version, the newest one current, edits that
/// started from an old version refused (also when two race), and projects apart.
pub async fn knowledge_base(s: Arc<dyn Store>) {
    let p = s.create_project("kb", &default_catalog()).await.unwrap().id;
    let q = s.create_project("kb-other", &default_catalog()).await.unwrap().id;
    let draft = |lang: &str, title: &str, published: bool| ArticleDraft {
        lang: lang.into(),
        title: title.into(),
        body: format!("{title}: the text, with ř, ą and \"quotes\"."),
        published,
        author: Some("ana@example.com".into()),
    };
    assert_eq!(s.kb_stamp(p).await.unwrap(), (0, 0));
    assert!(s.articles(p).await.unwrap().is_empty());
    let a = s.create_article(p, &draft("cs", "Reklamace zboží", true), 1_000).await.unwrap();
    assert_eq!((a.project_id, a.version, a.created_ms, a.updated_ms), (p, 1, 1_000, 1_000));
    assert_eq!(a.draft, draft("cs", "Reklamace zboží", true), "kept as given");
    let b = s.create_article(p, &draft("pl", "Zwroty towaru", false), 2_000).await.unwrap();
    let other = s.create_article(q, &draft("en", "Returns", true), 2_500).await.unwrap();
    assert!(b.id != a.id && other.id != b.id);
    assert_eq!(s.kb_stamp(p).await.unwrap(), (2, 2_000));

    let a2 = s.update_article(p, a.id, &draft("cs", "Reklamace a vrácení", true), Some(1), 3_000).await.unwrap();
    assert_eq!((a2.id, a2.version, a2.created_ms, a2.updated_ms), (a.id, 2, 1_000, 3_000));
    let stale = s.update_article(p, a.id, &draft("cs", "Stale", true), Some(1), 3_500).await.unwrap_err();
    assert!(matches!(stale, StoreError::Exists(_)), "an edit from version 1 after version 2: {stale:?}");
    let a3 = s.update_article(p, a.id, &draft("cs", "Reklamace", false), None, 4_000).await.unwrap();
    assert_eq!(a3.version, 3, "no base: always the next version");
    assert_eq!(s.kb_stamp(p).await.unwrap(), (4, 4_000));

    let current = s.articles(p).await.unwrap();
    assert_eq!(
        current.iter().map(|a| (a.id, a.version, a.draft.title.as_str())).collect::<Vec<_>>(),
        [(a.id, 3, "Reklamace"), (b.id, 1, "Zwroty towaru")]
    );
    assert_eq!(s.article(p, a.id).await.unwrap().unwrap(), a3);
    let versions: Vec<i64> = s.article_versions(p, a.id).await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(s.article_versions(p, a.id).await.unwrap()[1], a2);

    // Another project's article is not found through this one, in any call.
    assert_eq!(s.article(p, other.id).await.unwrap(), None);
    assert!(s.article_versions(p, other.id).await.unwrap().is_empty());
    let e = s.update_article(p, other.id, &draft("en", "Taken", true), None, 5_000).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e:?}");
    assert_eq!(s.article(q, other.id).await.unwrap().unwrap().draft.title, "Returns", "untouched");
    assert_eq!(s.articles(q).await.unwrap().len(), 1);

    // Eight edits from the same base at once: exactly one is written.
    let racers = (0..8).map(|i| {
        let s = s.clone();
        let d = draft("pl", &format!("Zwroty {i}"), true);
        tokio::spawn(async move { s.update_article(p, b.id, &d, Some(1), 6_000 + i).await })
    });
    let mut results = Vec::new();
    for r in racers.collect::<Vec<_>>() {
        results.push(r.await);
    }
    let won = results.iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in results {
        if let Err(e) = r.unwrap() {
            assert!(matches!(e, StoreError::Exists(_)), "{e:?}");
        }
    }
    assert_eq!(s.article(p, b.id).await.unwrap().unwrap().version, 2);
}

/// Service requests: opened with a first message, a timeline of entries each with its
/// change (status, assignee) made at once, resolution time kept and cleared on reopening,
/// filters, projects apart; a sign-in link used once, also when eight browsers race.
pub async fn service_requests(s: Arc<dyn Store>) {
    let p = s.create_project("service", &default_catalog()).await.unwrap().id;
    let q = s.create_project("service-other", &default_catalog()).await.unwrap().id;
    let new = |customer_id: CustomerId, subject: &str| NewRequest {
        customer_id,
        subject: subject.into(),
        body: format!("{subject}: \"ř\", ą, and a quote's end"),
        lang: "pl".into(),
        email: None,
    };
    let a = s.create_request(p, &new(7, "Zwrot towaru"), 1_000).await.unwrap();
    assert_eq!((a.project_id, a.customer_id, a.status.as_str()), (p, 7, "new"));
    assert_eq!((a.created_ms, a.updated_ms, a.resolved_ms, a.assignee.clone()), (1_000, 1_000, None, None));
    let b = s.create_request(p, &new(8, "Reklamacja"), 2_000).await.unwrap();
    let other = s.create_request(q, &new(7, "Elsewhere"), 2_500).await.unwrap();
    let first = s.request_entries(p, a.id).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].kind.as_str(), first[0].author.as_str()), ("message", "customer"));
    assert_eq!(first[0].body, "Zwrot towaru: \"ř\", ą, and a quote's end");

    let entry = |kind: &str, body: &str, status: Option<&str>, assignee: Option<Option<&str>>| NewEntry {
        kind: kind.into(),
        author: "team".into(),
        author_name: Some("ana@brand.test".into()),
        body: body.into(),
        status: status.map(str::to_string),
        assignee: assignee.map(|a| a.map(str::to_string)),
    };
    let assign = entry("assign", "ana@brand.test", None, Some(Some("ana@brand.test")));
    let r = s.add_request_entry(p, a.id, &assign, 3_000).await.unwrap();
    assert_eq!((r.assignee.as_deref(), r.status.as_str(), r.updated_ms), (Some("ana@brand.test"), "new", 3_000));
    let r = s.add_request_entry(p, a.id, &entry("message", "Hotovo.", Some("resolved"), None), 4_000).await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.resolved_ms, r.assignee.as_deref()),
        ("resolved", Some(4_000), Some("ana@brand.test"))
    );
    let r = s.add_request_entry(p, a.id, &entry("status", "closed", Some("closed"), None), 5_000).await.unwrap();
    assert_eq!((r.status.as_str(), r.resolved_ms), ("closed", Some(4_000)), "closing keeps the resolution time");
    let r = s.add_request_entry(p, b.id, &entry("status", "resolved", Some("resolved"), None), 5_500).await.unwrap();
    assert_eq!(r.resolved_ms, Some(5_500));
    let reopen = entry("message", "Still broken", Some("open"), Some(None));
    let r = s.add_request_entry(p, b.id, &reopen, 6_000).await.unwrap();
    assert_eq!((r.status.as_str(), r.resolved_ms, r.assignee), ("open", None, None), "reopened");
    let kinds: Vec<(String, String)> =
        s.request_entries(p, a.id).await.unwrap().into_iter().map(|e| (e.kind, e.body)).collect();
    assert_eq!(
        kinds,
        [
            ("message".to_string(), first[0].body.clone()),
            ("assign".to_string(), "ana@brand.test".to_string()),
            ("message".to_string(), "Hotovo.".to_string()),
            ("status".to_string(), "closed".to_string())
        ]
    );

    // Lists, newest first, narrowed by each filter.
    let ids = |v: Vec<touchpoint_store::service::Request>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let list = |f: RequestFilter| {
        let s = s.clone();
        async move { ids(s.requests(p, &f, 10).await.unwrap()) }
    };
    assert_eq!(list(RequestFilter::default()).await, [b.id, a.id]);
    assert_eq!(list(RequestFilter { customers: Some(vec![7, 99]), ..Default::default() }).await, [a.id]);
    assert!(list(RequestFilter { customers: Some(vec![]), ..Default::default() }).await.is_empty());
    assert_eq!(list(RequestFilter { status: Some("open".into()), ..Default::default() }).await, [b.id]);
    assert_eq!(list(RequestFilter { assignee: Some("ana@brand.test".into()), ..Default::default() }).await, [a.id]);
    assert_eq!(list(RequestFilter { assignee: Some(String::new()), ..Default::default() }).await, [b.id]);
    assert_eq!(list(RequestFilter { before_id: Some(b.id), ..Default::default() }).await, [a.id]);
    assert_eq!(ids(s.requests(p, &RequestFilter::default(), 1).await.unwrap()), [b.id]);

    // Another project's request is not found through this one, in any call.
    assert_eq!(s.request(p, other.id).await.unwrap(), None);
    assert!(s.request_entries(p, other.id).await.unwrap().is_empty());
    let e = s.add_request_entry(p, other.id, &entry("message", "x", None, None), 7_000).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e:?}");
    assert_eq!(s.request_entries(q, other.id).await.unwrap().len(), 1, "untouched");

    // A sign-in link: once. Eight racing uses of a new one: exactly one.
    assert!(!s.portal_link_used(p, "n-1").await.unwrap());
    assert!(s.use_portal_link(p, "n-1", 10_000, 8_000).await.unwrap());
    assert!(s.portal_link_used(p, "n-1").await.unwrap() && !s.portal_link_used(q, "n-1").await.unwrap());
    assert!(!s.use_portal_link(p, "n-1", 10_000, 8_001).await.unwrap(), "a second use");
    assert!(s.use_portal_link(q, "n-1", 10_000, 8_002).await.unwrap(), "projects apart");
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.use_portal_link(p, "n-race", 20_000, 9_000 + i).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1);

    // "Sign out everywhere": a cut-off per customer that only moves forward, gone with
    // the customer's erasure.
    assert_eq!(s.portal_signed_out(p, 77).await.unwrap(), None);
    s.sign_out_portal(p, 77, 100).await.unwrap();
    s.sign_out_portal(p, 77, 50).await.unwrap();
    assert_eq!(s.portal_signed_out(p, 77).await.unwrap(), Some(100), "never moved back");
    s.sign_out_portal(p, 77, 200).await.unwrap();
    s.sign_out_portal(p, 78, 300).await.unwrap();
    assert_eq!(s.portal_signed_out(p, 77).await.unwrap(), Some(200));
    assert_eq!(s.portal_signed_out(q, 77).await.unwrap(), None, "projects apart");
    let subject = touchpoint_store::erasure::Subject::new(p, 77, vec![77], Vec::<String>::new());
    s.erase_subject_requests(&subject).await.unwrap();
    assert_eq!(s.portal_signed_out(p, 77).await.unwrap(), None);
    assert_eq!(s.portal_signed_out(p, 78).await.unwrap(), Some(300), "another customer's stays");

    // A cap on opening, for a person of two customer ids: one request before the window,
    // one in it; then twelve at once with room for ten: nine more open, three are refused.
    let cap = touchpoint_store::service::OpenCap { customers: vec![90, 91], since_ms: 5_000, max: 10 };
    s.create_request(p, &new(91, "Before the window"), 4_000).await.unwrap();
    s.create_request(p, &new(91, "In the window"), 6_000).await.unwrap();
    let racers: Vec<_> = (0..12)
        .map(|i| {
            let (s, cap, req) = (s.clone(), cap.clone(), new(90, &format!("Race {i}")));
            tokio::spawn(async move { s.create_request_within(p, &req, 7_000 + i, &cap).await.unwrap() })
        })
        .collect();
    let mut opened = 0;
    for r in racers {
        opened += usize::from(r.await.unwrap().is_some());
    }
    assert_eq!(opened, 9, "ten in the window, not one more");
    let filter = RequestFilter { customers: Some(vec![90]), ..Default::default() };
    assert_eq!(s.requests(p, &filter, 100).await.unwrap().len(), 9);
    let own = touchpoint_store::service::OpenCap { customers: vec![92], ..cap.clone() };
    assert!(s.create_request_within(p, &new(92, "Mine"), 8_000, &own).await.unwrap().is_some(), "another person's cap");
    let elsewhere = s.create_request_within(q, &new(90, "Elsewhere"), 8_000, &cap).await.unwrap();
    assert!(elsewhere.is_some(), "another project's requests do not count");
}
