//! Surveys end to end over HTTP on a real server: the admin API, invitation links (signed,
//! expiring, single use, tamper-proof), the no-JavaScript survey pages with branching and
//! partial answers, CSRF, open links with one response per browser, escaping of everything
//! authors and respondents write, responses posted through the API, the CSV export and the
//! response's place in the customer's journey; the project's brand (name, colour, logo,
//! privacy link, checked settings) and default language on its pages, progress that counts
//! answered steps, and polite Polish.

mod common;

use common::{spawn_app, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

/// A browser without JavaScript: keeps its one cookie, does not follow redirects.
struct Browser {
    client: reqwest::Client,
    cookie: Option<String>,
    lang: &'static str,
    base: String,
    /// Refuse cookies, like a survey framed on another site.
    no_cookies: bool,
}

impl Browser {
    fn new(app: &TestApp, lang: &'static str) -> Self {
        let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Browser { client, cookie: None, lang, base: app.base.clone(), no_cookies: false }
    }

    fn url(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    fn keep_cookie(&mut self, r: &reqwest::Response) {
        if self.no_cookies {
            return;
        }
        if let Some(c) = r.headers().get(SET_COOKIE) {
            self.cookie = Some(c.to_str().unwrap().split(';').next().unwrap().to_string());
        }
    }

    async fn get(&mut self, url: &str) -> (u16, String) {
        let mut req = self.client.get(self.url(url)).header("Accept-Language", self.lang);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let r = req.send().await.unwrap();
        self.keep_cookie(&r);
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Submit a form; returns the status and the redirect target or the page.
    async fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut req = self
            .client
            .post(self.url(url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept-Language", self.lang)
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let r = req.send().await.unwrap();
        self.keep_cookie(&r);
        let status = r.status().as_u16();
        match r.headers().get(LOCATION) {
            Some(l) => (status, l.to_str().unwrap().to_string()),
            None => (status, r.text().await.unwrap()),
        }
    }
}

/// The value of a hidden field in a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The form's action.
fn action(page: &str) -> String {
    let at = page.find("action=\"").unwrap();
    let rest = &page[at + 8..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&").replace("&#x2f;", "/")
}

async fn admin(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.send(method, path, body.as_ref()).await
}

/// An NPS survey whose title and follow-up carry markup, published.
async fn nps_survey(app: &TestApp) -> Value {
    let (st, created) = admin(
        app,
        reqwest::Method::POST,
        "/api/surveys",
        Some(json!({"key": "nps", "template": "nps", "trigger": "delivery"})),
    )
    .await;
    assert_eq!(st, 200, "{created}");
    let mut def = created["definition"].clone();
    def["title"]["cs"] = json!("Jak se nám daří? <script>alert(1)</script>");
    let (st, edited) = admin(app, reqwest::Method::PUT, "/api/surveys/nps", Some(def)).await;
    assert_eq!(st, 200, "{edited}");
    assert_eq!(edited["version"], 1, "a draft is edited in place");
    let (st, live) = admin(app, reqwest::Method::POST, "/api/surveys/nps/publish", None).await;
    assert_eq!((st, live["status"].as_str()), (200, Some("live")));
    live
}

async fn invite(app: &TestApp, customers: Value) -> Vec<Value> {
    let (st, links) =
        admin(app, reqwest::Method::POST, "/api/surveys/nps/invitations", Some(json!({ "customers": customers })))
            .await;
    assert_eq!(st, 200, "{links}");
    links.as_array().unwrap().clone()
}

#[tokio::test]
async fn an_invitation_in_czech_with_a_follow_up_ends_in_the_metrics_and_the_journey() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    let links = invite(&app, json!([{"customer": "jana", "touchpoint": "delivery", "lang": "cs"}])).await;
    let url = links[0]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/s/", app.base)), "{url}");

    let mut b = Browser::new(&app, "en-US");
    let (st, page) = b.get(&url).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("<html lang=\"cs\">"), "the invitation's language wins over Accept-Language");
    assert!(page.contains("Jak pravděpodobně byste nás doporučili"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;"), "author markup is escaped: {page}");
    assert!(!page.contains("<script>"), "no script on survey pages");
    assert!(page.contains("type=\"radio\" name=\"q.nps\" value=\"10\""), "an 11-point scale of radios");

    // Without the CSRF token the form is refused.
    let (st, _) = b.post(&url, &[("_page", "0"), ("q.nps", "3")]).await;
    assert_eq!(st, 403);
    // Nothing chosen: the page comes back with the error in Czech.
    let (st, again) = b.post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0")]).await;
    assert_eq!(st, 422);
    assert!(again.contains("odpovězte prosím na tuto otázku"), "{again}");

    // A detractor is asked what went wrong.
    let (st, next) =
        b.post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0"), ("q.nps", "3")]).await;
    assert_eq!(st, 303, "{next}");
    let (st, page2) = b.get(&format!("{}{}", app.base, next)).await;
    assert_eq!(st, 200);
    assert!(page2.contains("Co se nepovedlo?"), "{page2}");
    assert!(!page2.contains("Co se vám líbilo nejvíc?"), "the promoters' follow-up is not shown");

    // Partial answers are kept: a fresh browser on the same link resumes on page 2.
    let mut other = Browser::new(&app, "cs");
    let (_, resumed) = other.get(&url).await;
    assert!(resumed.contains("Co se nepovedlo?"), "partial answers resume where they stopped");

    let comment = "Kurýr nepřišel <b>vůbec</b> & =SUM(A1)";
    let (st, done) =
        b.post(&action(&page2), &[("_csrf", &hidden(&page2, "_csrf")), ("_page", "1"), ("q.wrong", comment)]).await;
    assert_eq!(st, 303, "{done}");
    assert!(done.contains("done=1"));
    let (st, thanks) = b.get(&format!("{}{}", app.base, done)).await;
    assert_eq!(st, 200);
    assert!(thanks.contains("Děkujeme"), "{thanks}");

    // Used: the link now says so, in Czech, and a replayed submit changes nothing.
    let (st, used) = b.get(&url).await;
    assert_eq!(st, 410);
    assert!(used.contains("už byl vyplněn"), "{used}");
    let (st, _) =
        b.post(&action(&page2), &[("_csrf", &hidden(&page2, "_csrf")), ("_page", "0"), ("q.nps", "10")]).await;
    assert_eq!(st, 409);

    // The stored response, and its export: the answer exactly, the cell made safe.
    let (st, exported) = admin(&app, reqwest::Method::GET, "/api/surveys/nps/responses?format=json", None).await;
    assert_eq!(st, 200);
    let rows = exported.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{exported}");
    assert_eq!(rows[0]["answers"], json!({"nps": {"score": 3}, "wrong": {"text": comment}}));
    assert_eq!((rows[0]["customer"].as_str(), rows[0]["touchpoint"].as_str()), (Some("jana"), Some("delivery")));
    let csv = app
        .client
        .get(format!("{}/api/surveys/nps/responses", app.base))
        .bearer_auth(&app.secret_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.lines().next().unwrap().contains("nps,wrong,best"), "{csv}");
    assert!(csv.contains("Kurýr nepřišel <b>vůbec</b> & =SUM(A1)"), "text kept as written inside the cell: {csv}");

    // The answer is a touchpoint in Jana's journey.
    let mut found = false;
    for _ in 0..50 {
        let r = app
            .client
            .get(format!("{}/api/customers/lookup?user_id=jana", app.base))
            .bearer_auth(&app.secret_key)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let profile: Value = r.json().await.unwrap();
            let id = profile["id"].as_i64().unwrap();
            let tl: Value = app
                .client
                .get(format!("{}/api/customers/{id}/timeline", app.base))
                .bearer_auth(&app.secret_key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let text = tl.to_string();
            if text.contains("survey-answered") {
                assert!(text.contains("\"score\":3") && text.contains("\"trigger\":\"delivery\""), "{text}");
                found = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the response is in the customer's timeline");
}

#[tokio::test]
async fn tampered_expired_foreign_and_closed_links_get_a_clear_page() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    let links = invite(&app, json!([{"customer": "a", "lang": "pl"}, {"customer": "b"}])).await;
    let url = links[0]["url"].as_str().unwrap();
    let mut b = Browser::new(&app, "pl");

    // Change one character of the signed part.
    let (head, sig) = url.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { sig.replacen('A', "B", 1) } else { format!("A{}", &sig[1..]) };
    let (st, page) = b.get(&format!("{head}.{flipped}")).await;
    assert_eq!(st, 403);
    assert!(page.contains("Link jest nieprawidłowy"), "{page}");
    // Change the claims (another customer) but keep the signature.
    let body_at = url.find("/s/").unwrap() + 3;
    let (claims, sig) = url[body_at..].split_once('.').unwrap();
    let mut decoded: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    decoded["c"] = json!("mallory");
    let forged = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, decoded.to_string());
    let (st, _) = b.get(&format!("{}/s/{forged}.{sig}", app.base)).await;
    assert_eq!(st, 403);
    let (st, _) = b.get(&format!("{}/s/garbage", app.base)).await;
    assert_eq!(st, 403);

    // An expired link: signed by the server itself, with an expiry in the past.
    let secret =
        touchpoint_store::ListenStore::project_secret(&*app.store, decoded["p"].as_i64().unwrap()).await.unwrap();
    let mut claims: touchpoint_listen::invite::Claims = serde_json::from_value(decoded.clone()).unwrap();
    claims.customer = "a".into();
    claims.expires_s = 1_000;
    let expired = touchpoint_listen::invite::sign(&claims, &secret);
    let (st, page) = b.get(&format!("{}/s/{expired}", app.base)).await;
    assert_eq!(st, 410);
    assert!(page.contains("Link wygasł"), "{page}");

    // A closed survey takes no more answers.
    let (st, _) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/close", None).await;
    assert_eq!(st, 200);
    let (st, page) = b.get(links[1]["url"].as_str().unwrap()).await;
    assert_eq!(st, 410);
    assert!(page.contains("closed") || page.contains("zamknięta"), "{page}");
}

#[tokio::test]
async fn two_simultaneous_submissions_of_one_link_store_one_response() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    let links = invite(&app, json!([{"customer": "twice"}])).await;
    let url = links[0]["url"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app, "en");
    let (_, page) = b.get(&url).await;
    let (csrf, act) = (hidden(&page, "_csrf"), action(&page));
    // Promoters see one more page; answer 10 and then send the last page twice at once.
    let (st, _) = b.post(&act, &[("_csrf", &csrf), ("_page", "0"), ("q.nps", "10")]).await;
    assert_eq!(st, 303);
    let mut tasks = vec![];
    for text in ["first", "second", "third", "fourth"] {
        let client = b.client.clone();
        let cookie = b.cookie.clone().unwrap();
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("_csrf", csrf.as_str()), ("_page", "1"), ("q.best", text)])
            .finish();
        let act = b.url(&act);
        tasks.push(tokio::spawn(async move {
            client
                .post(&act)
                .header(COOKIE, cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![303, 409, 409, 409], "exactly one submission completes");
    let (_, exported) =
        admin(&app, reqwest::Method::GET, "/api/surveys/nps/responses?format=json&partial=true", None).await;
    assert_eq!(exported.as_array().unwrap().len(), 1, "{exported}");
}

#[tokio::test]
async fn open_links_take_one_response_per_browser_and_hidden_dimensions() {
    let app = spawn_app().await;
    let def = json!({
        "title": {"en": "Quick question", "pl": "Szybkie pytanie"},
        "dimensions": ["store"],
        "questions": [
            {"id": "csat", "type": "csat", "text": {"en": "How satisfied are you?", "pl": "Jak bardzo jesteś zadowolony?"}, "required": true},
            {"id": "areas", "type": "matrix", "text": {"en": "Rate"}, "areas": [
                {"key": "staff", "label": {"en": "Staff"}}, {"key": "prices", "label": {"en": "Prices"}}]},
            {"id": "topics", "type": "multiple", "text": {"en": "About what?"}, "options": [
                {"key": "delivery", "label": {"en": "Delivery"}}, {"key": "returns", "label": {"en": "Returns"}}]}
        ]
    });
    let (st, created) =
        admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "csat", "definition": def}))).await;
    assert_eq!(st, 200, "{created}");
    let open = created["open_url"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app, "pl-PL,pl;q=0.9");
    let (st, _) = b.get(&open).await;
    assert_eq!(st, 404, "a draft is not open yet");
    admin(&app, reqwest::Method::POST, "/api/surveys/csat/publish", None).await;
    let (st, page) = b.get(&format!("{open}?d.store=Brno&aid=visitor-1")).await;
    assert_eq!(st, 200);
    assert!(page.contains("Jak bardzo jesteś zadowolony?"), "Accept-Language picks Polish");
    assert!(page.contains("Staff"), "a locale without a translation falls back to English");
    let (st, out) = b
        .post(
            &action(&page),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("_page", "0"),
                ("q.csat", "4"),
                ("q.areas.staff", "9"),
                ("q.areas.prices", "5"),
                ("q.topics", "delivery"),
                ("q.topics", "returns"),
            ],
        )
        .await;
    assert_eq!(st, 303, "{out}");
    let (st, _) = b.get(&open).await;
    assert_eq!(st, 410, "one response per browser");
    let mut fresh = Browser::new(&app, "en");
    let (st, _) = fresh.get(&open).await;
    assert_eq!(st, 200, "another browser may answer");

    let (_, exported) = admin(&app, reqwest::Method::GET, "/api/surveys/csat/responses?format=json", None).await;
    let r = &exported[0];
    assert_eq!(
        r["answers"],
        json!({"csat": {"score": 4}, "areas": {"matrix": {"staff": 9, "prices": 5}}, "topics": {"choices": ["delivery", "returns"]}})
    );
    assert_eq!(r["dimensions"], json!({"store": "Brno"}));
    assert_eq!(r["lang"], "pl");
}

#[tokio::test]
async fn the_admin_api_checks_definitions_versions_and_posted_responses() {
    let app = spawn_app().await;
    let bad = json!({"key": "x", "definition": {"title": {"en": "T"}, "questions": [
        {"id": "a", "type": "nps", "text": {"en": "Q"}},
        {"id": "b", "type": "text", "text": {"en": "Why"}, "show_if": {"question": "zzz", "max": 6}}]}});
    let (st, err) = admin(&app, reqwest::Method::POST, "/api/surveys", Some(bad)).await;
    assert_eq!(st, 400);
    assert_eq!(err["error"]["field"], "definition.questions[1].show_if.question", "{err}");

    let live = nps_survey(&app).await;
    // A live survey edited gets a new version; changing a question's kind is refused.
    let mut def = live["definition"].clone();
    def["questions"][0]["text"]["en"] = json!("Would you recommend us?");
    let (st, v2) = admin(&app, reqwest::Method::PUT, "/api/surveys/nps", Some(def.clone())).await;
    assert_eq!((st, v2["version"].as_i64()), (200, Some(2)), "{v2}");
    def["questions"][0]["type"] = json!("csat");
    let (st, err) = admin(&app, reqwest::Method::PUT, "/api/surveys/nps", Some(def)).await;
    assert_eq!(st, 409, "it conflicts with the answers given: {err}");
    assert_eq!(err["error"]["code"], "incompatible_edit", "{err}");

    // Responses collected elsewhere: valid ones stored once, invalid ones named.
    let posted = json!([
        {"answers": {"nps": 10, "best": "Rychlost"}, "customer": "petr", "external_id": "crm-1", "answered_at": "2026-11-01T10:00:00Z"},
        {"answers": {"nps": 11}, "customer": "eva"},
        {"answers": {"wrong": "no score"}, "customer": "olga"},
        {"answers": {"nps": 5}, "weight": -1}
    ]);
    let (st, receipt) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/responses", Some(posted.clone())).await;
    assert_eq!(st, 200, "{receipt}");
    assert_eq!(receipt["stored"], 1);
    let failed: Vec<(u64, String)> = receipt["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["field"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        failed,
        vec![
            (1, "responses[1].answers.nps".to_string()),
            (2, "responses[2].answers.nps".to_string()),
            (3, "responses[3].weight".to_string())
        ]
    );
    let (_, again) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/responses", Some(json!([posted[0]]))).await;
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)));

    let r = app
        .client
        .post(format!("{}/api/surveys/nps/invitations", app.base))
        .bearer_auth(&app.secret_key)
        .header("Content-Type", "text/csv")
        .body("customer,lang\nu1,cs\n,pl\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["field"], "line 3", "{err}");
    let r = app
        .client
        .post(format!("{}/api/surveys/nps/invitations", app.base))
        .bearer_auth(&app.secret_key)
        .header("Content-Type", "text/csv")
        .body("customer,touchpoint,lang\nu1,delivery,cs\nu2,,pl\n")
        .send()
        .await
        .unwrap();
    let links: Value = r.json().await.unwrap();
    assert_eq!(links.as_array().unwrap().len(), 2, "{links}");

    // Without the secret key nothing is shown.
    let r = app.client.get(format!("{}/api/surveys", app.base)).bearer_auth(&app.write_key).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn the_listening_api_computes_nps_with_its_interval_segments_and_errors() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    // 10 answers: promoters 10, 10, 9, 9, 10 (5), passives 8, 7 (2), detractors 6, 5, 0 (3).
    let scores = [10, 10, 9, 8, 7, 6, 5, 0, 9, 10];
    let posted: Vec<Value> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"answers": {"nps": s}, "customer": format!("c{i}"),
                   "touchpoint": if i < 5 { "delivery" } else { "support" }})
        })
        .collect();
    let (st, receipt) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/responses", Some(json!(posted))).await;
    assert_eq!((st, receipt["stored"].as_u64()), (200, Some(10)), "{receipt}");
    let (st, v) =
        admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(json!({"survey": "nps", "by": "touchpoint"})))
            .await;
    assert_eq!(st, 200, "{v}");
    let r = &v["result"]["result"];
    // NPS = 50 − 30 = 20; SE = 100·sqrt((.5·.5 + .3·.7 + 2·.5·.3)/10) = 100·sqrt(0.076) = 27.568…
    assert_eq!(r["n"], 10);
    assert!((r["score"].as_f64().unwrap() - 20.0).abs() < 1e-9, "{r}");
    assert!((r["se"].as_f64().unwrap() - 27.568_097_504).abs() < 1e-6, "{r}");
    assert!((r["interval"]["low"].as_f64().unwrap() - (20.0 - 1.959_964 * 27.568_097_504)).abs() < 1e-3, "{r}");
    assert_eq!(r["warning"]["code"], "small_sample", "10 answers: below 30");
    let segments = v["result"]["segments"].as_array().unwrap();
    let delivery = segments.iter().find(|s| s["segment"] == "delivery").unwrap();
    // delivery: 10, 10, 9, 8, 7 → 60 − 0 = 60.
    assert!((delivery["result"]["score"].as_f64().unwrap() - 60.0).abs() < 1e-9, "{delivery}");

    let (st, err) = admin(&app, reqwest::Method::POST, "/api/listening/csat", Some(json!({"survey": "nps"}))).await;
    assert_eq!(st, 404, "the survey has no CSAT question");
    assert_eq!(err["error"]["field"], "question", "{err}");
    let (st, _) = admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(json!({"survey": "nope"}))).await;
    assert_eq!(st, 404);
    let (st, _) = admin(&app, reqwest::Method::POST, "/api/listening/horoscope", Some(json!({"survey": "nps"}))).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn listening_periods_and_trends_follow_the_projects_time_zone_across_daylight_saving() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    let (st, v) = admin(&app, reqwest::Method::PUT, "/api/project", Some(json!({"timezone": "Europe/Prague"}))).await;
    assert_eq!(st, 200, "{v}");
    // Prague moves to summer time at 01:00 UTC on 29 March 2026. 22:30 UTC on the 28th is
    // 23:30 on the 28th there; 22:30 UTC on the 29th is already 00:30 on the 30th.
    let posted = json!([
        {"answers": {"nps": 10}, "customer": "a", "answered_at": "2026-03-28T22:30:00Z"},
        {"answers": {"nps": 0}, "customer": "b", "answered_at": "2026-03-29T22:30:00Z"},
        {"answers": {"nps": 0}, "customer": "c", "answered_at": "2026-03-30T10:00:00Z"}
    ]);
    let (st, receipt) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/responses", Some(posted)).await;
    assert_eq!((st, receipt["stored"].as_u64()), (200, Some(3)), "{receipt}");
    let trend = |v: &Value| -> Vec<(String, Option<u64>)> {
        v["result"]["trend"]
            .as_array()
            .unwrap_or_else(|| panic!("no trend in {v}"))
            .iter()
            .map(|p| (p["start"].as_str().unwrap().to_string(), p["result"]["n"].as_u64()))
            .collect()
    };
    let day = |s: &str, n: Option<u64>| (s.to_string(), n);
    let (st, v) =
        admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(json!({"survey": "nps", "bucket": "day"}))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(trend(&v), [day("2026-03-28", Some(1)), day("2026-03-29", None), day("2026-03-30", Some(2))]);
    // A fixed offset named in the query wins: at +1 h all year the second answer is on the 29th.
    let q = json!({"survey": "nps", "bucket": "day", "tz_offset_s": 3600});
    let (_, v) = admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(q)).await;
    assert_eq!(trend(&v), [day("2026-03-28", Some(1)), day("2026-03-29", Some(1)), day("2026-03-30", Some(1))]);
    // Periods as segments and filters are local days too.
    let q = json!({"survey": "nps", "by": "day"});
    let (_, v) = admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(q)).await;
    let segments: Vec<(&str, u64)> = v["result"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["segment"].as_str().unwrap(), s["result"]["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(segments, [("2026-03-28", 1), ("2026-03-30", 2)], "{v}");
    let q = json!({"survey": "nps", "filter": {"day": "2026-03-30"}});
    let (_, v) = admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(q)).await;
    assert_eq!(v["result"]["responses"], 2, "{v}");
    let q = json!({"survey": "nps", "bucket": "day", "tz_offset_s": 90000});
    let (st, err) = admin(&app, reqwest::Method::POST, "/api/listening/nps", Some(q)).await;
    assert_eq!((st, err["error"]["field"].as_str()), (400, Some("tz_offset_s")), "{err}");
}

#[tokio::test]
async fn the_journey_map_shows_satisfaction_where_it_was_measured_and_the_emotion_curve() {
    let app = spawn_app().await;
    nps_survey(&app).await;
    // Four customers go through checkout; their answers are tied to it.
    let batch: Vec<Value> = (0..4)
        .map(|i| {
            json!({"type": "page", "userId": format!("u{i}"), "properties": {"path": "/checkout"},
                   "timestamp": "2026-10-01T10:00:00Z", "messageId": format!("p{i}")})
        })
        .collect();
    let (st, _) = app.post("/v1/batch", &json!({ "batch": batch })).await;
    assert_eq!(st, 200);
    let posted: Vec<Value> = [10, 9, 6, 3]
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"answers": {"nps": s}, "customer": format!("u{i}"), "touchpoint": "checkout"}))
        .collect();
    let (st, _) = admin(&app, reqwest::Method::POST, "/api/surveys/nps/responses", Some(json!(posted))).await;
    assert_eq!(st, 200);
    let mut map = Value::Null;
    for _ in 0..50 {
        let (st, v) = admin(
            &app,
            reqwest::Method::POST,
            "/api/analytics/journey-map",
            Some(json!({"query": {"now_s": 1_800_000_000}})),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        if v.to_string().contains("\"checkout\"") {
            map = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let report = &map["groups"][0]["report"];
    let stages = report["stages"].as_array().unwrap_or_else(|| panic!("{map}"));
    let (i, purchase) = stages.iter().enumerate().find(|(_, s)| s["key"] == "purchase").unwrap();
    let checkout = purchase["touchpoints"].as_array().unwrap().iter().find(|t| t["key"] == "checkout").unwrap();
    // Mean of 10, 9, 6, 3 = 7; NPS = 50 − 50 = 0.
    assert_eq!(checkout["satisfaction"], 7.0, "{checkout}");
    assert_eq!(checkout["satisfaction_detail"]["n"], 4);
    assert_eq!(checkout["satisfaction_detail"]["nps"]["score"], 0.0);
    assert_eq!(purchase["satisfaction"], 7.0);
    assert_eq!(report["emotion_curve"][i], 7.0);
    assert!(report["emotion_curve"][0].is_null(), "no answers in awareness");
}

#[tokio::test]
async fn answers_shown_again_on_a_page_are_escaped() {
    let app = spawn_app().await;
    let def = json!({"title": {"en": "T"}, "questions": [
        {"id": "why", "type": "text", "text": {"en": "Why?"}},
        {"id": "ces", "type": "ces", "required": true, "text": {"en": "It was easy"}}]});
    admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "ces", "definition": def}))).await;
    let (_, live) = admin(&app, reqwest::Method::POST, "/api/surveys/ces/publish", None).await;
    let mut b = Browser::new(&app, "en");
    let (_, page) = b.get(live["open_url"].as_str().unwrap()).await;
    let evil = "</textarea><script>alert('x')</script>";
    let (st, again) =
        b.post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0"), ("q.why", evil)]).await;
    assert_eq!(st, 422, "the required CES question is missing");
    assert!(again.contains("please answer this question"), "{again}");
    assert!(!again.contains("<script>") && again.contains("&lt;script&gt;"), "the answer is escaped: {again}");
    let (st, _) = b
        .post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0"), ("q.why", evil), ("q.ces", "9")])
        .await;
    assert_eq!(st, 422, "9 is outside the CES scale 1–7");
}

#[tokio::test]
async fn a_browser_without_cookies_answers_a_multi_page_survey() {
    let app = spawn_app().await;
    let (_, created) =
        admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "nps", "template": "nps"}))).await;
    admin(&app, reqwest::Method::POST, "/api/surveys/nps/publish", None).await;
    let mut b = Browser::new(&app, "en");
    b.no_cookies = true;
    let (_, page) = b.get(created["open_url"].as_str().unwrap()).await;
    let (st, next) = b
        .post(
            &action(&page),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("_session", &hidden(&page, "_session")),
                ("_page", "0"),
                ("q.nps", "9"),
            ],
        )
        .await;
    assert_eq!(st, 303);
    assert!(next.contains("sid="), "the session travels in the link: {next}");
    let (_, page2) = b.get(&next).await;
    assert!(page2.contains("What did you like most?"), "the answer so far was kept: {page2}");
    let (st, done) = b
        .post(
            &action(&page2),
            &[
                ("_csrf", &hidden(&page2, "_csrf")),
                ("_session", &hidden(&page2, "_session")),
                ("_page", "1"),
                ("q.best", "Fast"),
            ],
        )
        .await;
    assert_eq!(st, 303);
    let (st, thanks) = b.get(&done).await;
    assert_eq!(st, 200);
    assert!(thanks.contains("Thank you"), "{thanks}");
    // A forged token for that session is refused.
    let (st, _) = b
        .post(
            &action(&page2),
            &[("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAA"), ("_session", &hidden(&page2, "_session")), ("_page", "1")],
        )
        .await;
    assert_eq!(st, 403);
    let (_, rows) = admin(&app, reqwest::Method::GET, "/api/surveys/nps/responses?format=json", None).await;
    assert_eq!(rows[0]["answers"], json!({"nps": {"score": 9}, "best": {"text": "Fast"}}));
}

/// The brand of the test project: a Czech garden shop, its name with markup.
fn czech_brand() -> Value {
    json!({
        "brand_name": "Zahrádka <b>&</b>",
        "brand_color": "#2E7D32",
        "brand_logo_url": "https://cdn.example.com/zahradka/logo.svg",
        "privacy_url": "https://zahradka.example/soukromi?a=1&b=2",
        "default_lang": "cs"
    })
}

/// A page and its CSP, fetched without a cookie.
async fn page_with_csp(app: &TestApp, url: &str, accept_language: &str) -> (u16, String, String) {
    let r = app.client.get(url).header("Accept-Language", accept_language).send().await.unwrap();
    let csp = r.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), csp, r.text().await.unwrap())
}

#[tokio::test]
async fn a_brands_survey_pages_open_in_its_language_with_its_name_colour_logo_and_privacy_link() {
    let app = spawn_app().await;
    let (st, p) = admin(&app, reqwest::Method::PUT, "/api/project", Some(czech_brand())).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!((p["brand_color"].as_str(), p["default_lang"].as_str()), (Some("#2e7d32"), Some("cs")), "{p}");
    // A partial update keeps the brand.
    let (st, p) = admin(&app, reqwest::Method::PUT, "/api/project", Some(json!({"timezone": "Europe/Prague"}))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!((p["timezone"].as_str(), p["brand_name"].as_str()), (Some("Europe/Prague"), Some("Zahrádka <b>&</b>")));
    let (_, shown) = app.get("/api/project").await;
    assert_eq!(shown["privacy_url"], "https://zahradka.example/soukromi?a=1&b=2", "{shown}");

    let (_, created) =
        admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "nps", "template": "nps"}))).await;
    admin(&app, reqwest::Method::POST, "/api/surveys/nps/publish", None).await;
    let open = created["open_url"].as_str().unwrap().to_string();
    let links = invite(&app, json!([{"customer": "jana"}, {"customer": "piotr", "lang": "pl"}])).await;
    let (plain_invite, polish_invite) = (links[0]["url"].as_str().unwrap(), links[1]["url"].as_str().unwrap());

    // (what the browser asks for, the address, the page's language, texts it must show)
    let cases: Vec<(&str, String, &str, Vec<&str>)> = vec![
        // Nothing the survey has: the project's language, not English.
        (
            "de-DE,de;q=0.9",
            open.clone(),
            "cs",
            vec![
                "Jak pravděpodobně byste nás doporučili",
                "Vůbec ne",
                "Určitě ano",
                "Krok 1 z 2",
                "Zásady ochrany osobních údajů",
            ],
        ),
        ("", open.clone(), "cs", vec!["Vůbec ne", "Zásady ochrany osobních údajů"]),
        ("de", plain_invite.to_string(), "cs", vec!["Vůbec ne", "Určitě ano"]),
        // The project's language comes before the browser's: a Czech brand's page opens
        // in Czech in a browser installed in English.
        ("en-US,en;q=0.9", open.clone(), "cs", vec!["Jak pravděpodobně byste nás doporučili", "Vůbec ne"]),
        // `?lang=` and the invitation's language come before both.
        (
            "en",
            format!("{open}?lang=en"),
            "en",
            vec![
                "How likely are you to recommend us",
                "Not at all likely",
                "Extremely likely",
                "Step 1 of 2",
                "Privacy policy",
            ],
        ),
        (
            "en",
            format!("{open}?lang=pl"),
            "pl",
            vec!["polecą nas Państwo", "Zdecydowanie nie", "Zdecydowanie tak", "Krok 1 z 2", "Polityka prywatności"],
        ),
        ("cs", polish_invite.to_string(), "pl", vec!["Zdecydowanie nie", "Polityka prywatności"]),
    ];
    for (accept, url, lang, texts) in cases {
        let (st, csp, page) = page_with_csp(&app, &url, accept).await;
        assert_eq!(st, 200, "{url}: {page}");
        assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{accept:?} {url} opens in {lang}: {page}");
        for t in texts {
            assert!(page.contains(t), "{accept:?} {url}: no {t:?} in {page}");
        }
        // The brand: its name escaped, its colour with white text (5.1:1), logo, privacy link.
        assert!(page.contains("<span>Zahrádka &lt;b&gt;&amp;&lt;&#x2f;b&gt;</span>"), "{page}");
        assert!(!page.contains("<b>"), "the brand's markup is escaped");
        assert!(page.contains("--accent: #2e7d32; --on-accent: #ffffff;"), "{page}");
        assert!(page.contains("<img src=\"https:&#x2f;&#x2f;cdn.example.com&#x2f;zahradka&#x2f;logo.svg\" alt=\"\">"));
        assert!(page.contains("href=\"https:&#x2f;&#x2f;zahradka.example&#x2f;soukromi?a=1&amp;b=2\""), "{page}");
        // Progress counts answered steps: none yet.
        assert!(page.contains("max=\"2\" value=\"0\""), "an empty progress bar before any answer: {page}");
        assert!(!page.contains("<script"), "no script");
        // The CSP lets in the logo's origin, nothing else.
        assert!(csp.contains("default-src 'none'") && csp.contains("img-src https://cdn.example.com;"), "{csp}");
        assert!(!csp.contains("script-src") && !csp.contains("img-src *"), "{csp}");
    }

    // Answering the first step fills half the bar; the thank-you page keeps the brand.
    let mut b = Browser::new(&app, "de");
    let (_, page) = b.get(&open).await;
    let (st, next) =
        b.post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0"), ("q.nps", "9")]).await;
    assert_eq!(st, 303);
    let (_, page2) = b.get(&next).await;
    assert!(page2.contains("Krok 2 z 2") && page2.contains("max=\"2\" value=\"1\""), "{page2}");
    let (st, done) =
        b.post(&action(&page2), &[("_csrf", &hidden(&page2, "_csrf")), ("_page", "1"), ("q.best", "Rychlost")]).await;
    assert_eq!(st, 303);
    let (_, thanks) = b.get(&done).await;
    assert!(thanks.contains("Děkujeme") && thanks.contains("<span>Zahrádka &lt;b&gt;"), "{thanks}");

    // A light colour gets dark text; a removed logo leaves no image and no img-src.
    let (st, _) = admin(
        &app,
        reqwest::Method::PUT,
        "/api/project",
        Some(json!({"brand_color": "#ffeb3b", "brand_logo_url": ""})),
    )
    .await;
    assert_eq!(st, 200);
    let (_, csp, page) = page_with_csp(&app, &open, "de").await;
    assert!(page.contains("--accent: #ffeb3b; --on-accent: #1a1a1a;"), "{page}");
    assert!(!page.contains("<img") && !csp.contains("img-src"), "{csp}");

    // Pages about the survey, not of it, speak the project's language too.
    admin(&app, reqwest::Method::POST, "/api/surveys/nps/close", None).await;
    let (st, _, closed) = page_with_csp(&app, &open, "de").await;
    assert_eq!(st, 410);
    assert!(closed.contains("Dotazník je uzavřený") && closed.contains("Zahrádka"), "{closed}");
    let (st, _, missing) = page_with_csp(&app, &format!("{}/o/nothing-here", app.base), "pl").await;
    assert_eq!(st, 404);
    assert!(missing.contains("Nie znaleziono ankiety"), "{missing}");
}

#[tokio::test]
async fn polish_pages_speak_politely_and_single_step_surveys_show_no_progress() {
    let app = spawn_app().await;
    let (_, created) =
        admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "nps", "template": "nps"}))).await;
    admin(&app, reqwest::Method::POST, "/api/surveys/nps/publish", None).await;
    let mut b = Browser::new(&app, "pl-PL");
    let (_, page) = b.get(created["open_url"].as_str().unwrap()).await;
    let (st, again) = b.post(&action(&page), &[("_csrf", &hidden(&page, "_csrf")), ("_page", "0")]).await;
    assert_eq!(st, 422);
    for polite in ["Prosimy sprawdzić te pytania", "prosimy odpowiedzieć na to pytanie", "polecą nas Państwo"] {
        assert!(again.contains(polite), "{polite:?} in {again}");
    }
    for informal in ["Sprawdź", "Spróbuj", "spróbuj", "Twoj", "polecisz", "jesteś", " Ci "] {
        assert!(!again.contains(informal), "{informal:?} in {again}");
    }
    let (st, csrf) = b.post(&action(&page), &[("_csrf", "AAAA"), ("_page", "0"), ("q.nps", "9")]).await;
    assert_eq!(st, 403);
    assert!(csrf.contains("Prosimy spróbować ponownie") && csrf.contains("Prosimy odświeżyć"), "{csrf}");

    // One step: no progress bar at all (it could only be empty or full).
    let def = json!({"title": {"en": "T"}, "questions": [{"id": "ces", "type": "ces", "text": {"en": "It was easy"}}]});
    admin(&app, reqwest::Method::POST, "/api/surveys", Some(json!({"key": "ces", "definition": def}))).await;
    let (_, live) = admin(&app, reqwest::Method::POST, "/api/surveys/ces/publish", None).await;
    let (_, page) = Browser::new(&app, "en").get(live["open_url"].as_str().unwrap()).await;
    assert!(!page.contains("<progress"), "{page}");
    assert!(page.contains("Very difficult") && page.contains("Very easy"), "CES has its ends labelled: {page}");
}

#[tokio::test]
async fn brand_settings_are_checked_and_a_wrong_one_names_its_field() {
    let app = spawn_app().await;
    let long_name = "x".repeat(101);
    let cases: Vec<(&str, &str)> = vec![
        ("brand_color", "green"),
        ("brand_color", "#12345"),
        ("brand_color", "#2e7d3g"),
        ("brand_color", "2e7d32"),
        ("brand_color", "#2e7d32; --on-accent: red"),
        ("brand_logo_url", "http://cdn.example.com/logo.png"),
        ("brand_logo_url", "javascript:alert(1)"),
        ("brand_logo_url", "https://"),
        ("brand_logo_url", "https://cdn.example.com/a b.png"),
        ("brand_logo_url", "https://cdn.example.com\"><script>"),
        ("brand_logo_url", "https://x.example; script-src *"),
        ("brand_logo_url", "https://user@cdn.example.com/logo.png"),
        ("brand_logo_url", "data:image/svg+xml,<svg/>"),
        ("privacy_url", "ftp://zahradka.example/privacy"),
        ("privacy_url", "//zahradka.example/privacy"),
        ("privacy_url", "https://zahradka.example:99999/"),
        ("default_lang", "de"),
        ("default_lang", "klingon"),
        ("brand_name", long_name.as_str()),
        ("brand_name", "two\nlines"),
    ];
    for (field, value) in cases {
        // Given with a valid setting: nothing at all is applied.
        let mut body = json!({ field: value, "timezone": "Europe/Warsaw" });
        if field != "brand_name" {
            body["brand_name"] = json!("Ogród");
        }
        let (st, v) = admin(&app, reqwest::Method::PUT, "/api/project", Some(body)).await;
        assert_eq!(st, 400, "{field}={value:?}: {v}");
        assert_eq!(v["error"]["code"], "invalid_project", "{v}");
        assert_eq!(v["error"]["field"], field, "{field}={value:?}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().starts_with(field), "{v}");
    }
    let (_, p) = app.get("/api/project").await;
    assert_eq!((p["timezone"].as_str(), p["brand_name"].as_str()), (Some("UTC"), None), "nothing applied: {p}");
    // Accepted: normalized, and an empty text removes a setting.
    let ok = json!({"brand_color": "#ABCDEF", "default_lang": "pl-PL", "privacy_url": "https://x.example:8443/p"});
    let (st, p) = admin(&app, reqwest::Method::PUT, "/api/project", Some(ok)).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!((p["brand_color"].as_str(), p["default_lang"].as_str()), (Some("#abcdef"), Some("pl")));
    let (_, p) = admin(&app, reqwest::Method::PUT, "/api/project", Some(json!({"brand_color": ""}))).await;
    assert_eq!((p["brand_color"].as_str(), p["privacy_url"].as_str()), (None, Some("https://x.example:8443/p")));
}
