//! The dashboard's doors over HTTP, as a browser and as a hostile client would try them:
//! signing in (the form's CSRF token, wrong passwords, the failure limit), the session
//! cookie's attributes, what each role may do through `/api` with the cookie, the CSRF
//! header on changes, and signing out. A real server on a fresh data directory.

mod common;
#[path = "../../act/tests/common/receivers.rs"]
mod receivers;

use common::spawn_app;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use touchpoint_core::access::Role;

/// An account with the tests' password and a role on project 1.
async fn account(app: &common::TestApp, email: &str, role: Role) {
    touchpoint_engine::accounts::create_user(&*app.store, email, Some("a long enough password"), role, Some(1))
        .await
        .unwrap();
}

/// A client that does not follow redirects (to see them) and keeps no cookies (the test
/// sends them).
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The value of a cookie set by a response.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| (val.to_string(), attrs.to_string()))
    })
}

/// Sign in through the form as a browser does: the form's token, then the post. Returns the
/// response of the post.
async fn sign_in(base: &str, email: &str, password: &str) -> reqwest::Response {
    let c = client();
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let (token, _) = set_cookie(&page, "tp_login").expect("the form sets its token");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{token}\"")), "the form carries the same token");
    c.post(format!("{base}/login"))
        .header(COOKIE, format!("tp_login={token}"))
        .form(&[("email", email), ("password", password), ("csrf", &token), ("next", "/#view=journey")])
        .send()
        .await
        .unwrap()
}

/// The session cookie and the CSRF token the dashboard page hands to its script.
async fn session(base: &str, email: &str, password: &str) -> (String, String) {
    let r = sign_in(base, email, password).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(r.headers()[LOCATION], "/#view=journey");
    let (token, attrs) = set_cookie(&r, "tp_dash").expect("a session cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax") && attrs.contains("Path=/"), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain HTTP on 127.0.0.1: not Secure ({attrs})");
    let page = client().get(format!("{base}/")).header(COOKIE, format!("tp_dash={token}")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    let boot = html.split("id=\"boot\">").nth(1).and_then(|s| s.split("</script>").next()).unwrap();
    let boot: Value = serde_json::from_str(boot).unwrap();
    (token, boot["csrf"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn people_sign_in_and_their_role_decides_what_the_api_lets_them_do() {
    let app = spawn_app().await;
    let base = app.base.clone();
    let make = |email: &'static str, role: Role, project: Option<i64>| {
        let store = app.store.clone();
        async move {
            touchpoint_engine::accounts::create_user(&*store, email, Some("a long enough password"), role, project)
                .await
                .unwrap()
        }
    };
    make("owner@eshop.cz", Role::Owner, Some(1)).await;
    make("viewer@eshop.cz", Role::Viewer, Some(1)).await;
    make("analyst@eshop.cz", Role::Analyst, None).await;

    // Without a session, the dashboard's address sends to the sign-in page.
    let r = client().get(format!("{base}/?lang=cs")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()[LOCATION].to_str().unwrap()), (303, "/login?lang=cs"));
    let cs = client().get(format!("{base}/login?lang=cs")).send().await.unwrap().text().await.unwrap();
    assert!(cs.contains("Přihlásit se") && cs.contains("lang=\"cs\""), "{cs}");

    // The form without its token, or with another one, is refused and signs nobody in.
    let r = client()
        .post(format!("{base}/login"))
        .form(&[("email", "owner@eshop.cz"), ("password", "a long enough password"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert!(r.status() == 403 && set_cookie(&r, "tp_dash").is_none());

    let (owner, owner_csrf) = session(&base, "OWNER@eshop.cz ", "a long enough password").await;
    let (viewer, viewer_csrf) = session(&base, "viewer@eshop.cz", "a long enough password").await;
    let (analyst, analyst_csrf) = session(&base, "analyst@eshop.cz", "a long enough password").await;

    let call = |method: reqwest::Method,
                path: &str,
                cookie: &str,
                csrf: Option<&str>,
                project: Option<&str>,
                body: Option<Value>| {
        let mut req = client().request(method, format!("{base}{path}")).header(COOKIE, format!("tp_dash={cookie}"));
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        if let Some(p) = project {
            req = req.header("x-touchpoint-project", p);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method;
    let tp = json!({"key": "hotline", "names": {"en": "Hotline", "cs": "Linka", "pl": "Infolinia"}, "channel": "phone", "kind": "direct"});
    // Reading: every role; the project must be named, and be one the person has a role on.
    assert_eq!(call(Method::GET, "/api/touchpoints", &viewer, None, Some("1"), None).await.0, 200);
    let (s, e) = call(Method::GET, "/api/touchpoints", &viewer, None, None, None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("invalid_query")), "{e}");
    let (s, e) = call(Method::GET, "/api/touchpoints", &viewer, None, Some("2"), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("forbidden")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("no role on project 2"), "{e}");
    assert_eq!(call(Method::GET, "/api/touchpoints", &analyst, None, Some("2"), None).await.0, 200, "every project");
    let (s, _) =
        call(Method::POST, "/api/analytics/journey-map", &viewer, Some(&viewer_csrf), Some("1"), Some(json!({}))).await;
    assert_eq!(s, 200, "running an analysis is reading");
    // Editing: analysts and owners, with the CSRF header.
    let (s, e) = call(Method::POST, "/api/touchpoints", &viewer, Some(&viewer_csrf), Some("1"), Some(tp.clone())).await;
    assert_eq!(s, 403, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("viewer"), "{e}");
    let (s, e) = call(Method::POST, "/api/touchpoints", &analyst, None, Some("1"), Some(tp.clone())).await;
    assert_eq!((s, e["error"]["message"].as_str().map(|m| m.contains("X-CSRF-Token"))), (403, Some(true)), "{e}");
    let (s, e) = call(Method::POST, "/api/touchpoints", &analyst, Some(&owner_csrf), Some("1"), Some(tp.clone())).await;
    assert_eq!(s, 403, "another session's token is wrong: {e}");
    let (s, e) =
        call(Method::POST, "/api/touchpoints", &analyst, Some(&analyst_csrf), Some("1"), Some(tp.clone())).await;
    assert!(s == 200 || s == 201, "{s} {e}");
    // Administering: owners only.
    let settings = json!({"timezone": "Europe/Prague", "churn_horizon_days": 60});
    let (s, _) =
        call(Method::PUT, "/api/project", &analyst, Some(&analyst_csrf), Some("1"), Some(settings.clone())).await;
    assert_eq!(s, 403);
    let (s, e) = call(Method::PUT, "/api/project", &owner, Some(&owner_csrf), Some("1"), Some(settings)).await;
    assert_eq!(s, 200, "{e}");
    // The analyses count silence against the project's horizon from then on.
    let (s, r) =
        call(Method::POST, "/api/analytics/churn", &viewer, Some(&viewer_csrf), Some("1"), Some(json!({}))).await;
    assert_eq!((s, r["groups"][0]["report"]["churn_horizon_s"].as_i64()), (200, Some(60 * 86_400)), "{r}");
    // Keys keep working for machines, whatever cookie comes along.
    let r = client()
        .get(format!("{base}/api/touchpoints"))
        .bearer_auth(&app.secret_key)
        .header(COOKIE, format!("tp_dash={viewer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Signing out ends the session: its cookie no longer reads anything.
    let r = client()
        .post(format!("{base}/logout"))
        .header(COOKIE, format!("tp_dash={viewer}"))
        .form(&[("csrf", viewer_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (s, e) = call(Method::GET, "/api/touchpoints", &viewer, None, Some("1"), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (401, Some("missing_key")), "{e}");
    let r = client().get(format!("{base}/")).header(COOKIE, format!("tp_dash={viewer}")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn guessing_passwords_is_refused_alike_then_stopped() {
    let app = spawn_app().await;
    touchpoint_engine::accounts::create_user(
        &*app.store,
        "ana@eshop.cz",
        Some("the right password"),
        Role::Owner,
        None,
    )
    .await
    .unwrap();
    // A wrong password and an unknown address get the same page and status.
    let wrong = sign_in(&app.base, "ana@eshop.cz", "guess number one").await;
    let unknown = sign_in(&app.base, "bo@eshop.cz", "guess number one").await;
    assert_eq!(
        (wrong.status(), unknown.status()),
        (reqwest::StatusCode::UNAUTHORIZED, reqwest::StatusCode::UNAUTHORIZED)
    );
    let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert!(a.contains("is wrong") && b.contains("is wrong"));
    for _ in 0..3 {
        assert_eq!(sign_in(&app.base, "ana@eshop.cz", "more guessing").await.status(), 401);
    }
    // This client has failed five times: even the right password waits now.
    let r = sign_in(&app.base, "ana@eshop.cz", "the right password").await;
    assert_eq!(r.status(), 429);
    assert!(set_cookie(&r, "tp_dash").is_none());
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
    // Odd bodies are answered, not crashed on.
    let r = client().post(format!("{}/login", app.base)).body("%%%").send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = client().post(format!("{}/logout", app.base)).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 303, "signing out without a session just goes to the sign-in page");
}

/// The first view's budget: the page, its script and its style, as a browser downloads
/// them (gzip), are at most 400 KB in all; the gzipped files are the files.
#[tokio::test]
async fn the_first_view_downloads_in_well_under_400_kb() {
    use std::io::Read;
    let app = spawn_app().await;
    account(&app, "ana@eshop.cz", Role::Owner).await;
    let (token, _) = session(&app.base, "ana@eshop.cz", "a long enough password").await;
    let mut total = 0;
    for path in ["/", "/assets/app.js", "/assets/app.css"] {
        let get = |gzip: bool| {
            let mut r = client().get(format!("{}{path}", app.base)).header(COOKIE, format!("tp_dash={token}"));
            if gzip {
                r = r.header("accept-encoding", "gzip, deflate, br");
            }
            r.send()
        };
        let zipped = get(true).await.unwrap();
        assert_eq!(zipped.status(), 200, "{path}");
        let encoded = zipped.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
        let body = zipped.bytes().await.unwrap();
        total += body.len();
        let plain = get(false).await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none(), "{path}: plain to a client that takes no gzip");
        let plain = plain.bytes().await.unwrap();
        if path.starts_with("/assets/") {
            assert_eq!(encoded.as_deref(), Some("gzip"), "{path}");
            let mut unzipped = vec![];
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut unzipped).unwrap();
            assert_eq!(unzipped, plain.to_vec(), "{path}: the gzipped file is the file");
            assert!(body.len() * 2 < plain.len(), "{path}: {} gzipped of {}", body.len(), plain.len());
        }
    }
    assert!(total <= 400 * 1024, "the first view is {total} bytes");
    eprintln!("the first view: {total} bytes gzipped");
}

/// An owner invites a colleague from the dashboard; the colleague opens the one-time link,
/// chooses a password, is signed in with the role given; the link works once. A viewer
/// cannot invite; an invitation without the CSRF header is refused.
#[tokio::test]
async fn a_colleague_is_invited_by_link_and_sets_their_password() {
    let app = spawn_app().await;
    let base = app.base.clone();
    for (email, role) in [("owner@eshop.cz", Role::Owner), ("viewer@eshop.cz", Role::Viewer)] {
        account(&app, email, role).await;
    }
    let (owner, csrf) = session(&base, "owner@eshop.cz", "a long enough password").await;
    let invite = |token: String, csrf: Option<String>, body: Value| {
        let mut r =
            client().post(format!("{base}/account/invitations")).header(COOKIE, format!("tp_dash={token}")).json(&body);
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    let body = json!({"project": 1, "email": "Bo@Eshop.cz", "role": "analyst"});
    let r = invite(owner.clone(), None, body.clone()).await.unwrap();
    assert_eq!(r.status(), 403, "no CSRF header");
    let (viewer, viewer_csrf) = session(&base, "viewer@eshop.cz", "a long enough password").await;
    let r = invite(viewer, Some(viewer_csrf), body.clone()).await.unwrap();
    assert_eq!(r.status(), 403, "a viewer may not invite");
    let r =
        invite(owner.clone(), Some(csrf.clone()), json!({"project": 1, "email": "not an address", "role": "analyst"}))
            .await
            .unwrap();
    assert_eq!(r.status(), 400);
    let r = invite(owner.clone(), Some(csrf.clone()), body).await.unwrap();
    assert_eq!(r.status(), 200);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["email"], "bo@eshop.cz");
    let link = made["link"].as_str().expect("a link for an account without a password").to_string();
    assert!(link.starts_with(&format!("{base}/set-password?link=")), "{link}");

    // The people on the project, as its owner sees them.
    let people: Value = client()
        .get(format!("{base}/account/people?project=1"))
        .header(COOKIE, format!("tp_dash={owner}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bo = people.as_array().unwrap().iter().find(|p| p["email"] == "bo@eshop.cz").unwrap();
    assert_eq!((&bo["role"], &bo["has_password"]), (&json!("analyst"), &json!(false)));

    // The link's page, in Czech; a short password is refused; then the password is set.
    let page = client().get(format!("{link}&lang=cs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (form_token, _) = set_cookie(&page, "tp_link").expect("the form sets its token");
    assert!(page.text().await.unwrap().contains("Zvolte si heslo"));
    let token = link.split("link=").nth(1).unwrap().to_string();
    let post = |password: &'static str, token: String, form_token: String| {
        client()
            .post(format!("{base}/set-password"))
            .header(COOKIE, format!("tp_link={form_token}"))
            .form(&[("link", token.as_str()), ("password", password), ("csrf", form_token.as_str()), ("lang", "en")])
            .send()
    };
    let r = post("short", token.clone(), form_token.clone()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least 10 characters"));
    let r = post("bo's own long password", token.clone(), form_token.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    let (bo_session, _) = set_cookie(&r, "tp_dash").expect("signed in");
    let r = client()
        .get(format!("{base}/api/touchpoints"))
        .header(COOKIE, format!("tp_dash={bo_session}"))
        .header("x-touchpoint-project", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "bo reads the project as an analyst");
    let again = post("another long password", token, form_token).await.unwrap();
    assert_eq!(again.status(), 400, "the link works once");
    assert!(again.text().await.unwrap().contains("already used"));
}

/// Changing one's password needs the current one and ends every session.
#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_the_sessions() {
    let app = spawn_app().await;
    let base = app.base.clone();
    account(&app, "ana@eshop.cz", Role::Owner).await;
    let (token, csrf) = session(&base, "ana@eshop.cz", "a long enough password").await;
    let change = |current: &str, new: &str| {
        client()
            .post(format!("{base}/account/password"))
            .header(COOKIE, format!("tp_dash={token}"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"current": current, "new": new}))
            .send()
    };
    let r = change("a wrong password", "a new long password").await.unwrap();
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "current", "{e}");
    let r = change("a long enough password", "short").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = change("a long enough password", "a new long password").await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(format!("{base}/api/touchpoints"))
        .header(COOKIE, format!("tp_dash={token}"))
        .header("x-touchpoint-project", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the session ended");
    let r = sign_in(&base, "ana@eshop.cz", "a long enough password").await;
    assert_eq!(r.status(), 401, "the old password no longer opens");
    session(&base, "ana@eshop.cz", "a new long password").await;
}

/// Keys are the owners': an analyst may neither list nor make them; an owner makes a write
/// key in the page and it sends an event.
#[tokio::test]
async fn owners_make_keys_in_the_page_and_only_they_see_them() {
    let app = spawn_app().await;
    let base = app.base.clone();
    for (email, role) in [("owner@eshop.cz", Role::Owner), ("analyst@eshop.cz", Role::Analyst)] {
        account(&app, email, role).await;
    }
    let call = |token: &str, csrf: &str, method: reqwest::Method, body: Option<Value>| {
        let mut r = client()
            .request(method, format!("{base}/api/keys"))
            .header(COOKIE, format!("tp_dash={token}"))
            .header("x-touchpoint-project", "1")
            .header("x-csrf-token", csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let (analyst, a_csrf) = session(&base, "analyst@eshop.cz", "a long enough password").await;
    assert_eq!(call(&analyst, &a_csrf, reqwest::Method::GET, None).await.unwrap().status(), 403);
    let r = call(&analyst, &a_csrf, reqwest::Method::POST, Some(json!({"kind": "secret"}))).await.unwrap();
    assert_eq!(r.status(), 403);
    let (owner, o_csrf) = session(&base, "owner@eshop.cz", "a long enough password").await;
    let r = call(&owner, &o_csrf, reqwest::Method::POST, Some(json!({"kind": "root"}))).await.unwrap();
    assert_eq!(r.status(), 400, "an unknown kind");
    let r = call(&owner, &o_csrf, reqwest::Method::POST, Some(json!({"kind": "write"}))).await.unwrap();
    assert_eq!(r.status(), 200);
    let made: Value = r.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tpw_"), "{made}");
    let listed: Value = call(&owner, &o_csrf, reqwest::Method::GET, None).await.unwrap().json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().any(|k| k["prefix"] == token[..8]), "{listed}");
    assert!(!listed.to_string().contains(&token), "a key's token is never listed");
    let sent = client()
        .post(format!("{base}/v1/track"))
        .basic_auth(&token, Some(""))
        .json(&json!({"userId": "u1", "event": "Signed Up"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200, "the new write key sends events");
}

/// With an SMTP server configured, an invitation is e-mailed to the colleague in the
/// inviter's language (a real `aiosmtpd` receives it; Python's parser reads it): the link
/// in the mail is the one the answer gives, and it works. Without a reachable server, the
/// answer says why and still gives the link to send by hand.
#[tokio::test]
async fn an_invitation_is_e_mailed_in_the_inviters_language() {
    if !receivers::available("an_invitation_is_e_mailed_in_the_inviters_language") {
        return;
    }
    let smtp = receivers::Receiver::smtp();
    let port = smtp.port;
    let app = common::spawn_app_with(|c| {
        c.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.smtp_from = "Touchpoint <touchpoint@zahrada.example>".into();
    })
    .await;
    let base = app.base.clone();
    account(&app, "ana@eshop.cz", Role::Owner).await;
    let (owner, csrf) = session(&base, "ana@eshop.cz", "a long enough password").await;
    let invite = |body: Value| {
        client()
            .post(format!("{base}/account/invitations"))
            .header(COOKIE, format!("tp_dash={owner}"))
            .header("x-csrf-token", csrf.clone())
            .json(&body)
            .send()
    };
    let r = invite(json!({"project": 1, "email": "bo@eshop.cz", "role": "analyst", "lang": "cs"})).await.unwrap();
    assert_eq!(r.status(), 200);
    let made: Value = r.json().await.unwrap();
    assert_eq!((made["emailed"].as_bool(), made["email_error"].as_str()), (Some(true), None), "{made}");
    let link = made["link"].as_str().unwrap().to_string();
    let mail = smtp.wait_for(10, |r| r.messages().into_iter().next()).await.expect("the invitation arrives");
    assert_eq!(mail["envelope"]["to"], json!(["bo@eshop.cz"]), "{mail}");
    assert_eq!(mail["subject"], "ana@eshop.cz vás zve do Touchpointu: test");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("jako analytik") && text.contains(&link), "{text}");
    assert!(mail["html"].as_str().unwrap().contains(&format!("<a href=\"{}\"", link.replace('&', "&amp;"))), "{mail}");
    let r = client().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200, "the link in the mail opens the set-password page");
    // The SMTP server gone: the owner is told, and has the link all the same.
    drop(smtp);
    let r = invite(json!({"project": 1, "email": "cy@eshop.cz", "role": "viewer", "lang": "pl"})).await.unwrap();
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["emailed"], false, "{made}");
    assert!(made["email_error"].is_string() && made["link"].is_string(), "{made}");
    let r = invite(json!({"project": 1, "email": "dy@eshop.cz", "role": "viewer", "lang": "xx", "surprise": 1}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an unknown field is named");
}
