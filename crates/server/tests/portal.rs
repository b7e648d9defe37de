//! The knowledge base and the customer portal through a real server: articles written and
//! versioned over the API (two authors never overwrite each other), searched as the issue
//! asks (`reklamaci` finds "Reklamace zboží", `zwrotu` finds "Zwroty towaru"), bad input
//! named; the portal's pages without JavaScript, its "did this help?" form behind CSRF,
//! drafts and other projects' articles never shown, and every step in the visitor's
//! journey as a self-service touchpoint.

mod common;
#[path = "../../act/tests/common/receivers.rs"]
mod receivers;

use common::{spawn_app, spawn_app_with, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};
use touchpoint_core::KeyKind;

/// Write an article over the API; its id.
async fn article(app: &TestApp, lang: &str, title: &str, body: &str, published: bool) -> i64 {
    let (status, a) = app
        .send(
            Method::POST,
            "/api/kb/articles",
            Some(&json!({"lang": lang, "title": title, "body": body, "published": published})),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    a["id"].as_i64().unwrap()
}

/// Ids of a search's hits.
fn ids(v: &Value) -> Vec<i64> {
    v["hits"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect()
}

/// One bad request: its status and the field the error names.
async fn check(app: &TestApp, method: Method, path: &str, body: Option<Value>, status: u16, field: &str) {
    let (got, v) = app.send(method.clone(), path, body.as_ref()).await;
    assert_eq!((got, v["error"]["field"].as_str().unwrap_or("")), (status, field), "{method} {path}: {v}");
}

#[tokio::test]
async fn articles_are_versioned_searched_and_checked() {
    let app = spawn_app().await;
    let claim = article(&app, "cs", "Reklamace zboží", "Jak podat reklamaci: vyplňte formulář.", true).await;
    let returns = article(&app, "pl", "Zwroty towaru", "Zwrotu dokonasz w ciągu 14 dni.", true).await;
    let draft = article(&app, "cs", "Zpoždění zásilky", "Koncept.", false).await;

    // The issue's cases, and a draft is never found.
    let (_, v) = app.get("/api/kb/search?q=reklamaci&lang=cs").await;
    assert_eq!(ids(&v), [claim], "{v}");
    let marked: Vec<&str> = v["hits"][0]["title"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["hit"] == true)
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["Reklamace"]);
    assert_eq!((v["hits"][0]["slug"].as_str(), v["total"].as_u64()), (Some("reklamace-zbozi"), Some(1)));
    let (_, v) = app.get("/api/kb/search?q=zwrotu&lang=pl").await;
    assert_eq!(ids(&v), [returns]);
    let (_, v) = app.get("/api/kb/search?q=zpo%C5%BEd%C4%9Bn%C3%AD").await;
    assert_eq!(ids(&v), Vec::<i64>::new(), "a draft is not searched: {v}");
    let (_, v) = app.get("/api/kb/search?q=rekl&lang=cs&prefix=true").await;
    assert_eq!(ids(&v), [claim], "as the customer types");

    // Each edit is a version; an edit from an old version is refused, not lost.
    let edit = |base: i64, title: &str| json!({"lang": "cs", "title": title, "body": "Nový text o reklamaci.", "base_version": base});
    let (s, v) =
        app.send(Method::PUT, &format!("/api/kb/articles/{claim}"), Some(&edit(1, "Reklamace a záruka"))).await;
    assert_eq!((s, v["version"].as_i64()), (200, Some(2)), "{v}");
    check(&app, Method::PUT, &format!("/api/kb/articles/{claim}"), Some(edit(1, "Mine")), 409, "base_version").await;
    let (_, v) = app.get(&format!("/api/kb/articles/{claim}/versions")).await;
    let versions: Vec<(i64, &str)> =
        v.as_array().unwrap().iter().map(|a| (a["version"].as_i64().unwrap(), a["title"].as_str().unwrap())).collect();
    assert_eq!(versions, [(2, "Reklamace a záruka"), (1, "Reklamace zboží")]);
    assert!(v[0]["author"].as_str().unwrap().starts_with("key "), "{v}");
    let (_, v) = app.get("/api/kb/search?q=z%C3%A1ruky&lang=cs").await;
    assert_eq!(ids(&v), [claim], "the new version is searched at once");
    // Publishing the draft makes it found.
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/kb/articles/{draft}"),
            Some(&json!({"lang": "cs", "title": "Zpoždění zásilky", "body": "Hotovo.", "published": true})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = app.get("/api/kb/search?q=zpozdeni&lang=cs").await;
    assert_eq!(ids(&v), [draft], "without diacritics too: {v}");

    // Bad input is named.
    let post = |body: Value| (Method::POST, "/api/kb/articles", Some(body));
    for (body, field) in [
        (json!({"lang": "de", "title": "T", "body": ""}), "lang"),
        (json!({"lang": "cs", "title": "  ", "body": ""}), "title"),
        (json!({"lang": "cs", "title": "x".repeat(201), "body": ""}), "title"),
        (json!({"lang": "cs", "title": "T", "body": "x".repeat(100_001)}), "body"),
        (json!({"lang": "cs", "title": "T", "body": "", "base_version": 3}), "base_version"),
        (json!({"lang": "CS", "title": "T", "body": ""}), "lang"),
        (json!({"lang": "cs", "title": "a\u{0}b", "body": ""}), "title"),
    ] {
        let (m, p, b) = post(body);
        check(&app, m, p, b, 400, field).await;
    }
    let (s, v) = app
        .send(Method::POST, "/api/kb/articles", Some(&json!({"lang": "cs", "title": "T", "body": "", "colour": 1})))
        .await;
    assert_eq!(s, 400, "an unknown field: {v}");
    check(&app, Method::GET, "/api/kb/search?q=x&lang=xx", None, 400, "lang").await;
    check(&app, Method::GET, &format!("/api/kb/search?q={}", "a".repeat(201)), None, 400, "q").await;
    check(&app, Method::GET, "/api/kb/search?q=x&limit=500", None, 400, "limit").await;
    check(&app, Method::GET, "/api/kb/articles/999", None, 404, "id").await;
    check(&app, Method::PUT, "/api/kb/articles/999", Some(edit(1, "x")), 404, "id").await;
    check(&app, Method::PUT, &format!("/api/kb/articles/{claim}"), Some(edit(0, "x")), 400, "base_version").await;

    // Another project's key sees none of it.
    let (other, _) = touchpoint_store::issue_key(&*app.store, 2, KeyKind::Secret).await.unwrap();
    let get = |path: String| app.client.get(format!("{}{path}", app.base)).bearer_auth(&other).send();
    assert_eq!(get(format!("/api/kb/articles/{claim}")).await.unwrap().status(), 404);
    let v: Value = get("/api/kb/search?q=reklamaci".into()).await.unwrap().json().await.unwrap();
    assert_eq!(v["total"], 0, "{v}");
    // A write key may not write articles.
    let r = app.client.get(format!("{}/api/kb/articles", app.base)).bearer_auth(&app.write_key).send().await.unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}

/// The `name=value` of a response's cookie.
fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// The value of a page's hidden `_csrf` field.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn the_portal_works_without_script_and_every_step_is_a_touchpoint() {
    let app = spawn_app().await;
    let claim = article(&app, "cs", "Reklamace zboží", "Reklamaci podáte v sekci Moje objednávky.", true).await;
    let hidden = article(&app, "cs", "Interní postup", "Jen pro nás.", false).await;
    let (other_secret, _) = touchpoint_store::issue_key(&*app.store, 2, KeyKind::Secret).await.unwrap();
    let foreign: Value = app
        .client
        .post(format!("{}/api/kb/articles", app.base))
        .bearer_auth(&other_secret)
        .json(&json!({"lang": "cs", "title": "Cizí článek", "body": "Jiný projekt."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: String, jar: Option<&str>| {
        let mut r = c.get(format!("{}{path}", app.base));
        if let Some(j) = jar {
            r = r.header(COOKIE, j);
        }
        r.send()
    };

    // A search: a shareable address, the count in Czech, the matched word marked.
    let r = page("/portal/1?lang=cs&q=reklamaci".into(), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let session = cookie(&r, "tp_session").expect("a visitor id");
    let visit = cookie(&r, "tp_portal_visit").expect("a visit");
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(!csp.contains("script-src"), "no script: {csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("<mark>Reklamace</mark> zboží"), "{html}");
    assert!(html.contains("1 článek pro „reklamaci“"), "{html}");
    assert!(!html.contains("Interní postup"), "a draft is not listed");
    assert!(!html.contains("Cizí článek"), "another project's article is not listed");
    let jar = format!("{session}; {visit}");
    let html = page("/portal/1?lang=pl&q=opóźnienie".into(), Some(&jar)).await.unwrap().text().await.unwrap();
    assert!(html.contains("0 artykułów dla „opóźnienie”") && html.contains("Żaden artykuł"), "{html}");

    // The article, and "did this help?" behind its CSRF token.
    let r = page(format!("/portal/1/kb/{claim}-reklamace-zbozi?lang=cs"), Some(&jar)).await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Reklamace zboží</h1>") && html.contains("Pomohl vám tento článek?"), "{html}");
    let token = csrf(&html);
    let rate = |body: String, jar: Option<String>| {
        let mut r = c
            .post(format!("{}/portal/1/kb/{claim}-reklamace-zbozi/helpful?lang=cs", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(j) = jar {
            r = r.header(COOKIE, j);
        }
        r.send()
    };
    assert_eq!(rate(format!("_csrf={token}&helpful=yes"), None).await.unwrap().status(), 403, "no cookie");
    assert_eq!(rate("_csrf=forged&helpful=yes".into(), Some(jar.clone())).await.unwrap().status(), 403);
    assert_eq!(rate(format!("_csrf={token}&helpful=maybe"), Some(jar.clone())).await.unwrap().status(), 400);
    let r = rate(format!("_csrf={token}&helpful=no"), Some(jar.clone())).await.unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(to.ends_with("thanks=1"), "{to}");
    let html = page(to, Some(&jar)).await.unwrap().text().await.unwrap();
    assert!(html.contains("Děkujeme za zpětnou vazbu."), "{html}");

    // Nothing that is not this project's published article is shown.
    for path in [
        format!("/portal/1/kb/{hidden}-x"),
        format!("/portal/1/kb/{}-x", foreign["id"]),
        "/portal/1/kb/abc".to_string(),
        "/portal/999".to_string(),
        "/portal/abc".to_string(),
    ] {
        let r = page(path.clone(), Some(&jar)).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // Every step is in the visitor's journey, in order, as the portal's touchpoints.
    let anonymous = session.trim_start_matches("tp_session=");
    let mut steps = vec![];
    for _ in 0..100 {
        let (s, profile) = app.get(&format!("/api/customers/lookup?anonymous_id={anonymous}")).await;
        if s == 200 {
            let (_, t) = app.get(&format!("/api/customers/{}/timeline", profile["id"])).await;
            steps = t["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["touchpoint"].as_str().unwrap_or("").to_string(), e["properties"].clone()))
                .collect();
            if steps.len() >= 5 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    steps.reverse(); // the timeline is newest first
    let names: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["portal-visit", "kb-search", "kb-search", "kb-article", "kb-not-helpful"], "{steps:?}");
    assert_eq!((steps[1].1["query"].as_str(), steps[1].1["results"].as_u64()), (Some("reklamaci"), Some(1)));
    assert_eq!((steps[2].1["query"].as_str(), steps[2].1["results"].as_u64()), (Some("opóźnienie"), Some(0)));
    assert_eq!(steps[4].1["article_id"].as_i64(), Some(claim));

    // The self-service report counts them: two searches, one read after; the Polish one
    // found nothing and is the failed search; the article was not helpful.
    let mut report = Value::Null;
    for _ in 0..100 {
        report = app.get("/api/self-service?days=1").await.1;
        if report["search_success"]["n"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        (report["search_success"]["k"].as_u64(), report["search_success"]["n"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );
    assert_eq!(report["failed_searches"][0]["query"], "opóźnienie", "{report}");
    assert_eq!(
        (report["failed_searches"][0]["lang"].as_str(), report["failed_searches"][0]["no_results"].as_u64()),
        (Some("pl"), Some(1))
    );
    assert_eq!(
        (
            report["articles"][0]["id"].as_i64(),
            report["articles"][0]["helpful"]["k"].as_u64(),
            report["articles"][0]["helpful"]["n"].as_u64()
        ),
        (Some(claim), Some(0), Some(1))
    );
    assert_eq!(report["titles"][claim.to_string()], "Reklamace zboží");
    assert_eq!((report["customers_self_served"].as_u64(), report["deflection"]["n"].as_u64()), (Some(1), Some(1)));
    // Bad options are named.
    check(&app, Method::GET, "/api/self-service?days=0", None, 400, "days").await;
    check(&app, Method::GET, "/api/self-service?cost_assisted=-1", None, 400, "cost_assisted").await;
    app.stop().await;
}

/// A browser of the portal without script: its cookies kept by hand, redirects not followed.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    jar: Vec<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { app, client, jar: vec![] }
    }

    /// Keep the cookies a response sets (a `Max-Age=0` one removes).
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = v.split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.jar.retain(|c| !c.starts_with(&format!("{name}=")));
            if !v.contains("Max-Age=0") {
                self.jar.push(pair);
            }
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.app.base) };
        let r = self.client.get(url).header(COOKIE, self.jar.join("; ")).send().await.unwrap();
        self.keep(&r);
        let to = r.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), r.text().await.unwrap(), to)
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let r = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, self.jar.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let to = r.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), r.text().await.unwrap(), to)
    }

    /// Open a sign-in link (its page) and press its button: where it leads, and the page.
    async fn sign_in(&mut self, link: &str) -> (u16, String, Option<String>) {
        let path = link.split_once("/portal/").map(|(_, p)| format!("/portal/{p}")).unwrap();
        let (status, html, _) = self.get(&path).await;
        if status != 200 {
            return (status, html, None);
        }
        let token = csrf(&html);
        self.post(&path, &[("_csrf", &token)]).await
    }
}

/// The CSRF token of the form whose action starts with `action`.
fn form_csrf(html: &str, action: &str) -> String {
    let html = html.replace("&#x2f;", "/");
    let at = html.find(&format!("action=\"{action}")).unwrap_or_else(|| panic!("a form to {action}: {html}"));
    csrf(&html[at..])
}

/// The sign-in link in a message's text.
fn link_in(text: &str) -> String {
    let at = text.find("http").expect("a link");
    text[at..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn a_customer_signs_in_opens_a_request_and_sees_the_teams_reply_and_nothing_of_others() {
    if !receivers::available("a_customer_signs_in_opens_a_request_and_sees_the_teams_reply_and_nothing_of_others") {
        return;
    }
    let smtp = receivers::Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| {
        c.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.smtp_from = "Zahrádka <pomoc@zahradka.example>".into();
        // This test is one client making many steps; the caps below are the subject.
        c.survey_posts_per_minute = 1000.0;
    })
    .await;
    article(&app, "cs", "Zpoždění zásilky", "Když se zásilka zpozdí, zkontrolujte sledování zásilky.", true).await;
    for (user, email) in [("jana", "jana@example.cz"), ("petr", "petr@example.cz")] {
        let (s, v) = app.post("/v1/identify", &json!({"userId": user, "traits": {"email": email}})).await;
        assert_eq!(s, 200, "{v}");
    }
    while app.store.find_identity(1, touchpoint_core::IdentityKind::User, "petr").await.unwrap().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The brand's site hands Jana a link: it signs her in once.
    let (s, link) = app
        .send(
            Method::POST,
            "/api/portal/links",
            Some(&json!({"user_id": "jana", "email": "jana@example.cz", "ttl_minutes": 5})),
        )
        .await;
    assert_eq!(s, 200, "{link}");
    let url = link["url"].as_str().unwrap().to_string();
    let mut jana = Browser::new(&app);
    let (s, _, to) = jana.sign_in(&url).await;
    assert_eq!((s, to.as_deref()), (303, Some("/portal/1/requests?lang=en")));
    let mut thief = Browser::new(&app);
    let (s, html, _) = thief.sign_in(&url).await;
    assert_eq!(s, 403, "a used link: {html}");
    assert!(html.contains("This link has been used"), "{html}");
    let mut tampered = url.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (s, html, _) = thief.sign_in(&tampered).await;
    assert_eq!(s, 403);
    assert!(html.contains("This link is not valid"), "{html}");
    let (s, _, to) = thief.get("/portal/1/requests").await;
    assert_eq!((s, to.as_deref()), (303, Some("/portal/1/signin?lang=en")), "not signed in");

    // She writes a request in Czech: an article that matches is suggested first.
    let (s, html, _) = jana.get("/portal/1/requests?lang=cs").await;
    assert_eq!(s, 200);
    assert!(html.contains("Zatím nemáte žádné požadavky."), "{html}");
    let token = form_csrf(&html, "/portal/1/requests?");
    let draft =
        [("_csrf", token.as_str()), ("subject", "Zpožděná zásilka"), ("body", "Moje zásilka se zpozdila, kde je?")];
    let (s, html, _) = jana.post("/portal/1/requests?lang=cs", &draft).await;
    assert_eq!(s, 200);
    assert!(html.contains("Než požadavek odešlete") && html.contains("Zpoždění zásilky"), "{html}");
    assert!(html.contains("Moje zásilka se zpozdila, kde je?"), "the draft is kept");
    // The same while typing, for the page's script (a word still being typed: `zásil`).
    let (s, json_text, _) = jana.get("/portal/1/suggest?lang=cs&q=zpo%C5%BEd%C4%9Bn%C3%A1%20z%C3%A1sil").await;
    let hits: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!((s, hits["hits"][0]["title"].as_str()), (200, Some("Zpoždění zásilky")), "{hits}");
    assert_eq!(thief.get("/portal/1/suggest?q=zasilka").await.0, 401, "signed-in customers only");
    let (s, _, _) =
        jana.post("/portal/1/requests?lang=cs", &[("_csrf", "forged"), ("subject", "x"), ("body", "y")]).await;
    assert_eq!(s, 403, "a forged form");
    let mut sent = draft.to_vec();
    sent.push(("confirm", "1"));
    let (s, _, to) = jana.post("/portal/1/requests?lang=cs", &sent).await;
    assert_eq!(s, 303);
    let to = to.unwrap();
    let id: i64 = to.trim_start_matches("/portal/1/requests/").split('?').next().unwrap().parse().unwrap();

    // The team sees it, replies through the API; Jana gets the reply by e-mail in Czech.
    let (_, list) = app.get("/api/requests?status=new").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!((list[0]["id"].as_i64(), list[0]["lang"].as_str()), (Some(id), Some("cs")));
    assert_eq!(list[0]["email"], "jana@example.cz");
    let (s, v) = app
        .send(
            Method::PATCH,
            &format!("/api/requests/{id}"),
            Some(&json!({"body": "Zásilka je na cestě, dorazí zítra.", "assignee": "eva@zahradka.cz"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["email"].as_str(), v["request"]["status"].as_str()), (Some("sent"), Some("waiting")), "{v}");
    assert_eq!(v["request"]["assignee"], "eva@zahradka.cz");
    let mail = smtp.wait_for(10, |r| r.messages().into_iter().next()).await.expect("the reply arrives");
    assert_eq!(mail["envelope"]["to"], json!(["jana@example.cz"]));
    assert_eq!(mail["subject"], "Odpověď na váš požadavek: Zpožděná zásilka");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("Zásilka je na cestě, dorazí zítra."), "{text}");
    let (s, html, _) = jana.get(&to).await;
    assert_eq!(s, 200);
    assert!(html.contains("Zásilka je na cestě, dorazí zítra.") && html.contains("Čeká na vás"), "{html}");
    assert!(!html.contains("eva@zahradka.cz"), "the team's names and assignments stay inside");

    // Her answer opens it again; the reply e-mail's own link signs in on another device.
    let token = form_csrf(&html, &format!("/portal/1/requests/{id}?"));
    let (s, _, _) = jana.post(&to, &[("_csrf", &token), ("body", "Děkuji, počkám.")]).await;
    assert_eq!(s, 303);
    let (_, v) = app.get(&format!("/api/requests/{id}")).await;
    assert_eq!(v["status"], "open");
    let kinds: Vec<&str> = v["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "message", "assign", "message"], "{v}");
    let mut phone = Browser::new(&app);
    let (s, _, to_req) = phone.sign_in(&link_in(text)).await;
    assert_eq!((s, to_req.as_deref()), (303, Some(format!("/portal/1/requests/{id}?lang=cs").as_str())));

    // Petr signs in by e-mail; he never sees Jana's request.
    let mut petr = Browser::new(&app);
    let (_, html, _) = petr.get("/portal/1/signin?lang=pl").await;
    let token = form_csrf(&html, "/portal/1/signin?");
    let (s, html, _) = petr.post("/portal/1/signin?lang=pl", &[("_csrf", &token), ("email", "nie-adres")]).await;
    assert_eq!(s, 400);
    assert!(html.contains("To nie jest adres e-mail."), "{html}");
    let (s, html, _) =
        petr.post("/portal/1/signin?lang=pl", &[("_csrf", &token), ("email", " Petr@Example.cz ")]).await;
    assert_eq!(s, 200);
    assert!(html.contains("Wysłaliśmy link do logowania na petr@example.cz"), "{html}");
    let mail = smtp.wait_for(10, |r| r.messages().into_iter().nth(1)).await.expect("the link arrives");
    assert_eq!(
        (mail["envelope"]["to"].clone(), mail["subject"].clone()),
        (json!(["petr@example.cz"]), json!("Logowanie do centrum pomocy test"))
    );
    let (s, _, _) = petr.sign_in(&link_in(mail["text"].as_str().unwrap())).await;
    assert_eq!(s, 303);
    let (s, html, _) = petr.get(&format!("/portal/1/requests/{id}")).await;
    assert_eq!(s, 404, "{html}");
    let (_, html, _) = petr.get("/portal/1/requests").await;
    assert!(!html.contains("Zpožděná zásilka"), "{html}");
    let (s, _, _) = petr
        .post(
            &format!("/portal/1/requests/{id}"),
            &[("_csrf", &form_csrf(&html, "/portal/1/requests?")), ("body", "mine?")],
        )
        .await;
    assert_eq!(s, 403, "no form of her request was ever served to him: no token for it");

    // Hostile: with the public write key, Mallory gives Jana's customer her own address;
    // signing in with it opens Mallory's own account, not Jana's requests.
    let (s, _) = app.post("/v1/identify", &json!({"userId": "jana", "traits": {"email": "mallory@example.cz"}})).await;
    assert_eq!(s, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut mallory = Browser::new(&app);
    let (_, html, _) = mallory.get("/portal/1/signin").await;
    let token = form_csrf(&html, "/portal/1/signin?");
    let (s, _, _) = mallory.post("/portal/1/signin", &[("_csrf", &token), ("email", "mallory@example.cz")]).await;
    assert_eq!(s, 200);
    let mail = smtp
        .wait_for(10, |r| r.messages().into_iter().find(|m| m["envelope"]["to"] == json!(["mallory@example.cz"])))
        .await
        .expect("mallory's link arrives");
    let (s, _, _) = mallory.sign_in(&link_in(mail["text"].as_str().unwrap())).await;
    assert_eq!(s, 303);
    let (_, html, _) = mallory.get("/portal/1/requests").await;
    assert!(!html.contains("Zpožděná zásilka") && html.contains("You have no requests yet."), "{html}");
    assert_eq!(mallory.get(&format!("/portal/1/requests/{id}")).await.0, 404);

    // Resolved: the journey has every step, the report the resolution time.
    let (s, v) = app.send(Method::PATCH, &format!("/api/requests/{id}"), Some(&json!({"status": "resolved"}))).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["request"]["resolution_hours"].as_f64().unwrap() >= 0.0);
    let (s, v) = app.send(Method::PATCH, &format!("/api/requests/{id}"), Some(&json!({"status": "done"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("status")), "{v}");
    let (s, v) = app.send(Method::PATCH, &format!("/api/requests/{id}"), Some(&json!({}))).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = app.send(Method::PATCH, "/api/requests/99999", Some(&json!({"status": "open"}))).await;
    assert_eq!(s, 404);
    let jana_id = app.store.find_identity(1, touchpoint_core::IdentityKind::User, "jana").await.unwrap().unwrap();
    let mut names = vec![];
    for _ in 0..100 {
        let (_, t) = app.get(&format!("/api/customers/{jana_id}/timeline")).await;
        names = t["items"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .filter_map(|e| e["touchpoint"].as_str().map(str::to_string))
            .filter(|n| n.starts_with("request-"))
            .collect();
        if names.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(names, ["request-opened", "request-updated", "request-updated", "request-resolved"]);
    // Effort after resolution: a CES survey's answers given at request-resolved.
    let def = json!({"title": {"en": "Effort"}, "questions": [
        {"id": "effort", "type": "ces", "required": true, "text": {"en": "It was easy to get my request solved"}}]});
    let (s, v) = app.send(Method::POST, "/api/surveys", Some(&json!({"key": "ces-request", "definition": def}))).await;
    assert_eq!(s, 200, "{v}");
    let answers = json!([
        {"answers": {"effort": 6}, "customer": "jana", "touchpoint": "request-resolved"},
        {"answers": {"effort": 2}, "customer": "petr", "touchpoint": "request-resolved"},
        {"answers": {"effort": 1}, "customer": "petr", "touchpoint": "checkout"}
    ]);
    let (s, v) = app.send(Method::POST, "/api/surveys/ces-request/responses", Some(&answers)).await;
    assert_eq!((s, v["stored"].as_u64()), (200, Some(3)), "{v}");
    let (_, report) = app.get("/api/self-service?days=1").await;
    assert_eq!(
        (report["resolution"]["requests"].as_u64(), report["resolution"]["resolved"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!((report["effort"]["n"].as_u64(), report["effort"]["score"].as_f64()), (Some(2), Some(4.0)), "{report}");

    // Hostile: a signed-in script opening requests is stopped at ten a day; a script
    // asking for sign-in links to one address gets three, then waits.
    let (_, html, _) = petr.get("/portal/1/requests").await;
    let token = form_csrf(&html, "/portal/1/requests?");
    let mut statuses = vec![];
    for i in 0..11 {
        let subject = format!("Spam\n{i}");
        let (s, _, _) = petr
            .post("/portal/1/requests", &[("_csrf", &token), ("subject", &subject), ("body", "x"), ("confirm", "1")])
            .await;
        statuses.push(s);
    }
    assert_eq!(statuses, [vec![303; 10], vec![429]].concat());
    let (_, list) = app.get("/api/requests?limit=500").await;
    assert!(list.as_array().unwrap().iter().any(|r| r["subject"] == "Spam 3"), "a subject is one line: {list}");
    let mut bomber = Browser::new(&app);
    let (_, html, _) = bomber.get("/portal/1/signin").await;
    let token = form_csrf(&html, "/portal/1/signin?");
    let mut statuses = vec![];
    for _ in 0..4 {
        let (s, _, _) = bomber.post("/portal/1/signin", &[("_csrf", &token), ("email", "victim@example.cz")]).await;
        statuses.push(s);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    drop(smtp);
    app.stop().await;
}

/// A helpdesk's webhook receiver: a real HTTP server that keeps every request.
async fn helpdesk() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(reqwest::header::HeaderMap, Vec<u8>)>>>) {
    use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
    let got = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let keep = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let keep = keep.clone();
            async move {
                let mut h = reqwest::header::HeaderMap::new();
                for (k, v) in &headers {
                    if let (Ok(k), Ok(v)) = (
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()),
                        reqwest::header::HeaderValue::from_bytes(v.as_bytes()),
                    ) {
                        h.insert(k, v);
                    }
                }
                keep.lock().unwrap().push((h, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn every_change_of_a_request_is_mirrored_to_a_helpdesk_signed() {
    let app = spawn_app().await;
    let (url, got) = helpdesk().await;
    let (s, v) = app.send(Method::POST, "/api/requests/mirror", Some(&json!({"url": url}))).await;
    assert_eq!(s, 200, "{v}");
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{v}");
    let (s, v) = app.send(Method::POST, "/api/requests/mirror", Some(&json!({"url": url}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("conflict")), "mirrored once: {v}");
    let (s, v) = app.send(Method::POST, "/api/requests/mirror", Some(&json!({"url": "ftp://x.example"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("url")), "{v}");

    let (s, v) = app.post("/v1/identify", &json!({"userId": "olga", "traits": {"email": "olga@example.pl"}})).await;
    assert_eq!(s, 200, "{v}");
    while app.store.find_identity(1, touchpoint_core::IdentityKind::User, "olga").await.unwrap().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, link) = app.send(Method::POST, "/api/portal/links", Some(&json!({"user_id": "olga", "lang": "pl"}))).await;
    let mut olga = Browser::new(&app);
    let (s, _, to) = olga.sign_in(link["url"].as_str().unwrap()).await;
    assert_eq!((s, to.as_deref()), (303, Some("/portal/1/requests?lang=pl")));
    let (_, html, _) = olga.get("/portal/1/requests?lang=pl").await;
    let token = form_csrf(&html, "/portal/1/requests?");
    let form = [("_csrf", token.as_str()), ("subject", "Zwrot"), ("body", "Chcę zwrócić towar."), ("confirm", "1")];
    let (s, _, _) = olga.post("/portal/1/requests?lang=pl", &form).await;
    assert_eq!(s, 303);
    let (_, list) = app.get("/api/requests").await;
    let id = list[0]["id"].as_i64().unwrap();
    for change in [json!({"assignee": "eva"}), json!({"body": "Etykieta w załączniku."}), json!({"status": "resolved"})]
    {
        let (s, v) = app.send(Method::PATCH, &format!("/api/requests/{id}"), Some(&change)).await;
        assert_eq!(s, 200, "{v}");
    }

    // Four changes, four signed webhooks, in order, each naming the request.
    let mut seen = vec![];
    for _ in 0..200 {
        seen = got.lock().unwrap().clone();
        if seen.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut changes = vec![];
    for (h, body) in &seen {
        let header = |k: &str| h.get(k).unwrap().to_str().unwrap().to_string();
        let ts: i64 = header("webhook-timestamp").parse().unwrap();
        let ok = touchpoint_act::webhook::sign::verify(
            &secret,
            &header("webhook-id"),
            ts,
            body,
            &header("webhook-signature"),
        );
        assert!(ok, "signed with the mirror's secret");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["data"]["event"]["properties"]["request_id"].as_i64(), Some(id), "{v}");
        changes.push((
            v["data"]["event"]["touchpoint"].as_str().unwrap().to_string(),
            v["data"]["event"]["properties"]["change"].as_str().unwrap_or("").to_string(),
        ));
    }
    changes.sort();
    assert_eq!(
        changes,
        [
            ("request-opened".to_string(), String::new()),
            ("request-resolved".to_string(), String::new()),
            ("request-updated".to_string(), "assign".to_string()),
            ("request-updated".to_string(), "reply".to_string()),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn an_address_whose_account_was_erased_signs_in_again_to_a_new_one() {
    if !receivers::available("an_address_whose_account_was_erased_signs_in_again_to_a_new_one") {
        return;
    }
    let smtp = receivers::Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| c.smtp_url = format!("smtp://127.0.0.1:{port}")).await;
    let sign_in_by_mail = |n: usize| {
        let (app, smtp) = (&app, &smtp);
        async move {
            let mut b = Browser::new(app);
            let (_, html, _) = b.get("/portal/1/signin").await;
            let token = form_csrf(&html, "/portal/1/signin?");
            let (s, _, _) = b.post("/portal/1/signin", &[("_csrf", &token), ("email", "ida@example.cz")]).await;
            assert_eq!(s, 200);
            let mail = smtp.wait_for(10, |r| r.messages().into_iter().nth(n)).await.expect("a link arrives");
            let (s, _, _) = b.sign_in(&link_in(mail["text"].as_str().unwrap())).await;
            assert_eq!(s, 303);
            b
        }
    };
    let mut ida = sign_in_by_mail(0).await;
    let (_, html, _) = ida.get("/portal/1/requests").await;
    let token = form_csrf(&html, "/portal/1/requests?");
    let form = [("_csrf", token.as_str()), ("subject", "Faktura"), ("body", "Prosím o fakturu."), ("confirm", "1")];
    assert_eq!(ida.post("/portal/1/requests", &form).await.0, 303);
    let (_, list) = app.get("/api/requests").await;
    let first = list[0]["customer_id"].as_i64().unwrap();
    // Signing in again is the same account.
    let mut again = sign_in_by_mail(1).await;
    let (_, html, _) = again.get("/portal/1/requests").await;
    assert!(html.contains("Faktura"), "{html}");
    // Erased, then signed in once more: a new, empty account.
    let (_, html, _) = again.get("/portal/1/account").await;
    let token = form_csrf(&html, "/portal/1/account/erase?");
    let (s, html, _) = again.post("/portal/1/account/erase", &[("_csrf", &token), ("confirm", "yes")]).await;
    assert_eq!(s, 200, "{html}");
    assert!(app.store.customer(first).await.unwrap().is_none());
    let mut later = sign_in_by_mail(2).await;
    let (s, html, _) = later.get("/portal/1/requests").await;
    assert_eq!(s, 200);
    assert!(html.contains("You have no requests yet."), "{html}");
    assert_eq!(later.get(&format!("/portal/1/requests/{}", list[0]["id"])).await.0, 404);
    drop(smtp);
    app.stop().await;
}

/// "Sign out everywhere": a customer signed in on two browsers ends both sessions from
/// one; the copied cookie of the other is refused too; a new link signs in again.
#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_customer() {
    let app = spawn_app().await;
    let (s, v) = app.post("/v1/identify", &json!({"userId": "vit", "traits": {"email": "vit@example.cz"}})).await;
    assert_eq!(s, 200, "{v}");
    while app.store.find_identity(1, touchpoint_core::IdentityKind::User, "vit").await.unwrap().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let link = async || {
        let (s, v) = app.send(Method::POST, "/api/portal/links", Some(&json!({"user_id": "vit", "lang": "cs"}))).await;
        assert_eq!(s, 200, "{v}");
        v["url"].as_str().unwrap().to_string()
    };
    let (mut phone, mut laptop) = (Browser::new(&app), Browser::new(&app));
    assert_eq!(phone.sign_in(&link().await).await.0, 303);
    assert_eq!(laptop.sign_in(&link().await).await.0, 303);
    let stolen = laptop.jar.clone();
    for b in [&mut phone, &mut laptop] {
        assert_eq!(b.get("/portal/1/account?lang=cs").await.0, 200, "signed in");
    }
    let (_, html, _) = phone.get("/portal/1/account?lang=cs").await;
    assert!(html.contains("Odhlásit všude"), "{html}");
    let token = form_csrf(&html, "/portal/1/account/signout-everywhere?");
    let (s, _, to) = phone.post("/portal/1/account/signout-everywhere?lang=cs", &[("_csrf", &token)]).await;
    assert_eq!((s, to.as_deref()), (303, Some("/portal/1/signin?lang=cs&thanks=everywhere")));
    let (_, html, _) = phone.get("/portal/1/signin?lang=cs&thanks=everywhere").await;
    assert!(html.contains("Jste odhlášeni na všech zařízeních"), "{html}");
    let (s, _, to) = laptop.get("/portal/1/account?lang=cs").await;
    assert_eq!((s, to.as_deref()), (303, Some("/portal/1/signin?lang=cs")), "the other browser is signed out");
    laptop.jar = stolen;
    assert_eq!(laptop.get("/portal/1/account?lang=cs").await.0, 303, "and a copy of its old cookie is refused");
    // A form without its token changes nothing.
    let mut fresh = Browser::new(&app);
    assert_eq!(fresh.sign_in(&link().await).await.0, 303);
    assert_ne!(fresh.post("/portal/1/account/signout-everywhere?lang=cs", &[("_csrf", "x")]).await.0, 303);
    assert_eq!(fresh.get("/portal/1/account?lang=cs").await.0, 200, "a new sign-in holds");
    app.stop().await;
}

/// A known customer who types their address: before the brand vouched for it, the
/// address's own account; once a link of the brand's site naming both the customer and
/// the address is used, the two are one — the address account's request is theirs, and
/// typing the address signs in as them. Mallory's `email` trait, sent with the public
/// write key, changes nothing.
#[tokio::test]
async fn an_address_the_brand_vouched_for_signs_in_as_its_customer() {
    if !receivers::available("an_address_the_brand_vouched_for_signs_in_as_its_customer") {
        return;
    }
    let smtp = receivers::Receiver::smtp();
    let port = smtp.port;
    let app = spawn_app_with(|c| c.smtp_url = format!("smtp://127.0.0.1:{port}")).await;
    for (user, email) in [("kamil", "kamil@example.cz"), ("mallory", "kamil@example.cz")] {
        let (s, v) = app.post("/v1/identify", &json!({"userId": user, "traits": {"email": email}})).await;
        assert_eq!(s, 200, "{v}");
        while app.store.find_identity(1, touchpoint_core::IdentityKind::User, user).await.unwrap().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let (_, kamil) = app.get("/api/customers/lookup?user_id=kamil").await;
    let kamil = kamil["id"].as_i64().unwrap();
    let mut mails = 0;
    let mut typed = async || {
        let mut b = Browser::new(&app);
        let (_, html, _) = b.get("/portal/1/signin").await;
        let token = form_csrf(&html, "/portal/1/signin?");
        let (s, _, _) = b.post("/portal/1/signin", &[("_csrf", &token), ("email", "Kamil@Example.cz")]).await;
        assert_eq!(s, 200);
        let n = mails;
        mails += 1;
        let mail = smtp.wait_for(10, |r| r.messages().into_iter().nth(n)).await.expect("a link arrives");
        assert_eq!(b.sign_in(&link_in(mail["text"].as_str().unwrap())).await.0, 303);
        b
    };
    let open = async |b: &mut Browser<'_>, subject: &str| {
        let (_, html, _) = b.get("/portal/1/requests").await;
        let token = form_csrf(&html, "/portal/1/requests?");
        let form = [("_csrf", token.as_str()), ("subject", subject), ("body", "Dobrý den."), ("confirm", "1")];
        assert_eq!(b.post("/portal/1/requests", &form).await.0, 303);
        let (_, list) = app.get("/api/requests").await;
        list.as_array().unwrap().iter().find(|r| r["subject"] == subject).unwrap()["customer_id"].as_i64().unwrap()
    };
    // Typed before the brand vouched: the address's own account, not Kamil (nor Mallory).
    let mut before = typed().await;
    let own = open(&mut before, "Reklamace").await;
    assert_ne!(own, kamil);
    // The brand's site signs Kamil in, vouching for his address.
    let body = json!({"user_id": "kamil", "email": "kamil@example.cz", "lang": "cs"});
    let (s, link) = app.send(Method::POST, "/api/portal/links", Some(&body)).await;
    assert_eq!(s, 200, "{link}");
    let mut site = Browser::new(&app);
    assert_eq!(site.sign_in(link["url"].as_str().unwrap()).await.0, 303);
    let (_, html, _) = site.get("/portal/1/requests").await;
    assert!(html.contains("Reklamace"), "the address account's request is Kamil's now: {html}");
    // Typed again: Kamil himself.
    let mut after = typed().await;
    assert_eq!(open(&mut after, "Faktura").await, kamil);
    let (_, html, _) = after.get("/portal/1/requests").await;
    assert!(html.contains("Reklamace") && html.contains("Faktura"), "{html}");
    let (_, mallory) = app.get("/api/customers/lookup?user_id=mallory").await;
    let (_, list) = app.get("/api/requests").await;
    assert!(list.as_array().unwrap().iter().all(|r| r["customer_id"] != mallory["id"]), "{list}");
    drop(smtp);
    app.stop().await;
}
