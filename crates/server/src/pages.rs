//! Survey pages for customers, served by the same binary: plain HTML forms that work
//! without JavaScript, one page per step of the survey's branching, in the respondent's
//! language (invitation, `?lang=`, `Accept-Language`, the survey's default).
//!
//! Two ways in: a signed invitation link `/s/{token}` (single use, bound to a customer, a
//! survey and a touchpoint) and an open link `/o/{public_id}` (one response per browser,
//! rate-limited per client address). Answers are saved after every page, so a respondent
//! who leaves comes back to where they were. Every form carries a CSRF token bound to the
//! browser's session cookie. Texts from survey authors and answers are HTML-escaped by the
//! template engine; pages send a CSP that allows no script at all.
//!
//! `/widget.js` is the small embeddable widget: a button that opens the open link in a
//! frame on the customer's website.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use touchpoint_core::Lang;
use touchpoint_listen::invite::{self, LinkError};
use touchpoint_listen::survey::{text_for, Answers, QuestionKind, SurveyDef};
use touchpoint_store::listen::{NewResponse, ResponseKey, SaveOutcome, SurveyRow, SurveyStatus};

use crate::surveys::{definition, journey_event, submit_events, verify_link};
use crate::AppState;

/// The session cookie that keeps one response per browser and binds CSRF tokens.
pub const SESSION_COOKIE: &str = "tp_session";

/// The client's address, when the server was started with connection info.
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../templates/base.html")),
            ("survey.html", include_str!("../templates/survey.html")),
            ("message.html", include_str!("../templates/message.html")),
        ] {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(error = %e, name, "survey template does not parse");
            }
        }
        env
    })
}

/// Texts of the page itself (not of the survey), in three languages.
fn ui(lang: Lang, key: &str) -> &'static str {
    let t: [&str; 3] = match key {
        "next" => ["Next", "Další", "Dalej"],
        "submit" => ["Send", "Odeslat", "Wyślij"],
        "progress" => ["Progress", "Průběh", "Postęp"],
        "required" => ["required", "povinné", "wymagane"],
        "fix" => ["Please check these questions:", "Zkontrolujte prosím tyto otázky:", "Sprawdź proszę te pytania:"],
        "thanks_h" => ["Thank you!", "Děkujeme!", "Dziękujemy!"],
        "thanks" => {
            ["Your answers have been saved.", "Vaše odpovědi jsme uložili.", "Twoje odpowiedzi zostały zapisane."]
        }
        "done_h" => ["Already answered", "Už vyplněno", "Już wypełniono"],
        "done" => [
            "This survey has already been answered. Thank you!",
            "Tento dotazník už byl vyplněn. Děkujeme!",
            "Ta ankieta została już wypełniona. Dziękujemy!",
        ],
        "expired_h" => ["This link has expired", "Platnost odkazu vypršela", "Link wygasł"],
        "expired" => [
            "The invitation is no longer valid. Thank you for your interest.",
            "Pozvánka už neplatí. Děkujeme za váš zájem.",
            "Zaproszenie jest już nieważne. Dziękujemy za zainteresowanie.",
        ],
        "invalid_h" => ["This link is not valid", "Odkaz není platný", "Link jest nieprawidłowy"],
        "invalid" => [
            "The link is incomplete or has been changed. Please open it again from the original message.",
            "Odkaz je neúplný nebo byl změněn. Otevřete ho prosím znovu z původní zprávy.",
            "Link jest niepełny lub został zmieniony. Otwórz go ponownie z oryginalnej wiadomości.",
        ],
        "closed_h" => ["This survey is closed", "Dotazník je uzavřený", "Ankieta jest zamknięta"],
        "closed" => [
            "It no longer takes answers. Thank you for your interest.",
            "Už nepřijímá odpovědi. Děkujeme za váš zájem.",
            "Nie przyjmuje już odpowiedzi. Dziękujemy za zainteresowanie.",
        ],
        "missing_h" => ["Survey not found", "Dotazník nenalezen", "Nie znaleziono ankiety"],
        "missing" => [
            "There is no survey at this address.",
            "Na této adrese žádný dotazník není.",
            "Pod tym adresem nie ma ankiety.",
        ],
        "csrf_h" => ["Please try again", "Zkuste to prosím znovu", "Spróbuj ponownie"],
        "csrf" => [
            "The form had expired or cookies are blocked. Reload the page and send it again.",
            "Formulář vypršel nebo jsou zablokované cookies. Načtěte stránku znovu a odešlete ji.",
            "Formularz wygasł lub ciasteczka są zablokowane. Odśwież stronę i wyślij ponownie.",
        ],
        "slow_h" => ["Too many attempts", "Příliš mnoho pokusů", "Zbyt wiele prób"],
        "slow" => [
            "Please wait a minute and try again.",
            "Počkejte prosím minutu a zkuste to znovu.",
            "Odczekaj minutę i spróbuj ponownie.",
        ],
        "error_h" => ["Something went wrong", "Něco se pokazilo", "Coś poszło nie tak"],
        "error" => [
            "Your answers could not be saved right now. Please try again in a moment.",
            "Odpovědi teď nešlo uložit. Zkuste to prosím za chvíli.",
            "Nie udało się teraz zapisać odpowiedzi. Spróbuj ponownie za chwilę.",
        ],
        _ => ["", "", ""],
    };
    t[match lang {
        Lang::En => 0,
        Lang::Cs => 1,
        Lang::Pl => 2,
    }]
}

fn html(status: StatusCode, body: String, set_cookie: Option<String>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

fn message(status: StatusCode, lang: Lang, key: &str, embed: bool) -> Response {
    message_text(status, lang, ui(lang, &format!("{key}_h")), ui(lang, key), embed)
}

fn message_text(status: StatusCode, lang: Lang, heading: &str, text: &str, embed: bool) -> Response {
    let body = templates()
        .get_template("message.html")
        .and_then(|t| t.render(context! { lang => lang_code(lang), title => heading, heading, message => text, embed }))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "message page did not render");
            heading.to_string()
        });
    html(status, body, None)
}

fn lang_code(l: Lang) -> &'static str {
    match l {
        Lang::En => "en",
        Lang::Cs => "cs",
        Lang::Pl => "pl",
    }
}

/// `?lang=&embed=&aid=&done=` and hidden dimensions `d.<name>=`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Language asked for.
    pub lang: Option<String>,
    /// Compact layout inside the widget's frame.
    pub embed: Option<String>,
    /// The website's anonymous id (the widget passes it), to put the answer in the journey.
    pub aid: Option<String>,
    /// Show the thank-you page.
    pub done: Option<String>,
    /// The browser's session when it keeps no cookie (a survey framed on another site).
    pub sid: Option<String>,
    /// Everything else (hidden dimensions as `d.brand=…`).
    #[serde(flatten)]
    pub rest: BTreeMap<String, String>,
}

/// Choose the locale: invitation, `?lang=`, `Accept-Language`, then the survey's default;
/// a locale counts when the survey has its title in it.
fn pick_locale(def: &SurveyDef, invited: Option<&str>, query: Option<&str>, headers: &HeaderMap) -> String {
    let has = |l: &str| {
        let primary = l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase();
        if def.title.contains_key(l) {
            Some(l.to_string())
        } else {
            def.title.contains_key(&primary).then_some(primary)
        }
    };
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').filter_map(|p| p.split(';').next()).map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .unwrap_or_default();
    invited
        .into_iter()
        .chain(query)
        .chain(accept.iter().map(String::as_str))
        .find_map(has)
        .unwrap_or_else(|| def.default_locale.clone())
}

fn valid_session(s: &str) -> bool {
    (16..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && valid_session(v))
        .map(|(_, v)| v.to_string())
}

fn new_session() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

fn session_cookie(s: &AppState, session: &str) -> String {
    let secure = s.config.public_url.starts_with("https://");
    format!(
        "{SESSION_COOKIE}={session}; Path=/; Max-Age=31536000; HttpOnly; {}",
        if secure { "SameSite=None; Secure" } else { "SameSite=Lax" }
    )
}

/// Everything a page needs about who is answering what.
struct Ctx {
    survey: SurveyRow,
    def: SurveyDef,
    key: ResponseKey,
    customer: Option<String>,
    anonymous_id: Option<String>,
    touchpoint: Option<String>,
    locale: String,
    lang: Lang,
    action: String,
    embed: bool,
    dimensions: Map<String, Value>,
    session: String,
    /// The request came with the session cookie.
    has_cookie: bool,
    /// The session was made up for this request (no cookie, no `sid`, no form field).
    fresh: bool,
    /// CSRF scope: the page's path.
    scope: String,
    /// The project's secret (signs the CSRF token), read before a page is shown.
    secret: Vec<u8>,
}

enum Entry {
    Ready(Box<Ctx>),
    Stop(Response),
}

async fn invitation_ctx(s: &AppState, token: &str, q: &PageQuery, headers: &HeaderMap) -> Entry {
    let query_lang = q.lang.as_deref().and_then(Lang::parse);
    let embed = q.embed.is_some();
    let claims = match verify_link(&*s.store, token).await {
        Ok(c) => c,
        Err(e) => {
            // The claims may be readable even when refused: their language, if any.
            let lang = query_lang.or_else(|| read_lang(token)).unwrap_or(Lang::En);
            return Entry::Stop(match e {
                LinkError::Expired => message(StatusCode::GONE, lang, "expired", embed),
                LinkError::Malformed | LinkError::Tampered => message(StatusCode::FORBIDDEN, lang, "invalid", embed),
            });
        }
    };
    let survey = match s.store.survey(claims.survey).await {
        Ok(Some(r)) if r.project_id == claims.project => r,
        Ok(_) => return Entry::Stop(message(StatusCode::NOT_FOUND, Lang::En, "missing", embed)),
        Err(e) => {
            tracing::error!(error = %e, "survey lookup failed");
            return Entry::Stop(message(StatusCode::SERVICE_UNAVAILABLE, Lang::En, "error", embed));
        }
    };
    build_ctx(
        survey,
        ResponseKey::Invitation(claims.invitation),
        Some(claims.customer),
        None,
        claims.touchpoint,
        claims.lang.as_deref(),
        q,
        headers,
        format!("/s/{token}"),
    )
}

fn read_lang(token: &str) -> Option<Lang> {
    let body = token.split_once('.')?.0;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body).ok()?;
    let c: invite::Claims = serde_json::from_slice(&bytes).ok()?;
    Lang::parse(c.lang.as_deref()?)
}

async fn open_ctx(s: &AppState, public_id: &str, q: &PageQuery, headers: &HeaderMap) -> Entry {
    let embed = q.embed.is_some();
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(Lang::En);
    let survey = match s.store.survey_by_public_id(public_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Entry::Stop(message(StatusCode::NOT_FOUND, lang, "missing", embed)),
        Err(e) => {
            tracing::error!(error = %e, "survey lookup failed");
            return Entry::Stop(message(StatusCode::SERVICE_UNAVAILABLE, lang, "error", embed));
        }
    };
    let aid = q.aid.clone().filter(|a| !a.is_empty() && a.len() <= 200);
    build_ctx(
        survey,
        // The session is settled in `build_ctx` (cookie, `sid` or a new one).
        ResponseKey::Session(String::new()),
        None,
        aid,
        q.rest.get("touchpoint").cloned(),
        None,
        q,
        headers,
        format!("/o/{public_id}"),
    )
}

#[allow(clippy::too_many_arguments)]
fn build_ctx(
    survey: SurveyRow,
    key: ResponseKey,
    customer: Option<String>,
    anonymous_id: Option<String>,
    touchpoint: Option<String>,
    invited_lang: Option<&str>,
    q: &PageQuery,
    headers: &HeaderMap,
    path: String,
) -> Entry {
    let embed = q.embed.is_some();
    let def = match definition(&survey) {
        Ok(d) => d,
        Err(_) => return Entry::Stop(message(StatusCode::INTERNAL_SERVER_ERROR, Lang::En, "error", embed)),
    };
    let locale = pick_locale(&def, invited_lang, q.lang.as_deref(), headers);
    let lang = Lang::parse(&locale).unwrap_or(Lang::En);
    match survey.status {
        SurveyStatus::Live => {}
        SurveyStatus::Closed => return Entry::Stop(message(StatusCode::GONE, lang, "closed", embed)),
        SurveyStatus::Draft => return Entry::Stop(message(StatusCode::NOT_FOUND, lang, "missing", embed)),
    }
    // A browser that keeps no cookie for us (third-party frames) carries its session in
    // the page's links and forms instead.
    let (session, has_cookie, fresh) = match (session_of(headers), q.sid.as_deref().filter(|s| valid_session(s))) {
        (Some(sess), _) => (sess, true, false),
        (None, Some(sid)) => (sid.to_string(), false, false),
        (None, None) => (new_session(), false, true),
    };
    let key = match key {
        ResponseKey::Session(_) => ResponseKey::Session(session.clone()),
        k => k,
    };
    let dimensions: Map<String, Value> = def
        .dimensions
        .iter()
        .filter_map(|d| {
            q.rest.get(&format!("d.{d}")).map(|v| (d.clone(), Value::String(v.chars().take(200).collect())))
        })
        .collect();
    // The form posts back to the same page with what the link carried.
    let mut carried = form_urlencoded::Serializer::new(String::new());
    if embed {
        carried.append_pair("embed", "1");
    }
    if let Some(a) = &anonymous_id {
        carried.append_pair("aid", a);
    }
    if let Some(t) = q.rest.get("touchpoint").filter(|_| matches!(key, ResponseKey::Session(_))) {
        carried.append_pair("touchpoint", t);
    }
    for (k, v) in &dimensions {
        carried.append_pair(&format!("d.{k}"), v.as_str().unwrap_or_default());
    }
    carried.append_pair("lang", &locale);
    let action = format!("{path}?{}", carried.finish());
    Entry::Ready(Box::new(Ctx {
        survey,
        def,
        key,
        customer,
        anonymous_id,
        touchpoint,
        lang,
        locale,
        action,
        embed,
        dimensions,
        session,
        has_cookie,
        fresh,
        scope: path,
        secret: vec![],
    }))
}

#[derive(Serialize)]
struct ScaleOption {
    v: i64,
    checked: bool,
}

fn scale(lo: i64, hi: i64, chosen: Option<i64>) -> Vec<ScaleOption> {
    (lo..=hi).map(|v| ScaleOption { v, checked: chosen == Some(v) }).collect()
}

/// Render a page of the survey with the answers so far (and errors, by question id).
fn render_page(
    s: &AppState,
    ctx: &Ctx,
    page_index: usize,
    answers: &Answers,
    raw: &Map<String, Value>,
    errors: &BTreeMap<String, String>,
) -> Response {
    let def = &ctx.def;
    let pages = def.pages();
    let range = pages.get(page_index).cloned().unwrap_or(0..0);
    let loc = ctx.locale.as_str();
    let dl = def.default_locale.as_str();
    let mut questions = vec![];
    for q in &def.questions[range.clone()] {
        if !def.visible(q, answers) {
            continue;
        }
        let value = raw.get(&q.id);
        let int = |v: Option<&Value>| v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
        let mut item = serde_json::json!({
            "id": q.id,
            "kind": q.kind.name(),
            "text": text_for(&q.text, loc, dl),
            "help": text_for(&q.help, loc, dl),
            "required": q.required,
            "error": errors.get(&q.id),
        });
        match &q.kind {
            k @ (QuestionKind::Nps | QuestionKind::Csat | QuestionKind::Ces | QuestionKind::Rating { .. }) => {
                let (lo, hi) = k.scale().unwrap_or((0, 10));
                item["scale"] = serde_json::to_value(scale(lo, hi, int(value))).unwrap_or_default();
            }
            QuestionKind::Single { options } | QuestionKind::Multiple { options } => {
                let chosen: Vec<&str> = match value {
                    Some(Value::String(s)) => vec![s.as_str()],
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                item["options"] = options
                    .iter()
                    .map(|o| {
                        serde_json::json!({"key": o.key, "label": text_for(&o.label, loc, dl), "checked": chosen.contains(&o.key.as_str())})
                    })
                    .collect();
            }
            QuestionKind::Text { multiline } => {
                item["multiline"] = Value::Bool(*multiline);
                item["value"] = Value::from(value.and_then(Value::as_str).unwrap_or(""));
            }
            QuestionKind::Matrix { areas } => {
                item["areas"] = areas
                    .iter()
                    .map(|a| {
                        let v = int(value.and_then(|v| v.get(&a.key)));
                        serde_json::json!({"key": a.key, "label": text_for(&a.label, loc, dl), "scale": scale(0, 10, v)})
                    })
                    .collect();
            }
            QuestionKind::Pair { expectation, experience } => {
                let default = |en: &str, cs: &str, pl: &str| match ctx.lang {
                    Lang::En => en.to_string(),
                    Lang::Cs => cs.to_string(),
                    Lang::Pl => pl.to_string(),
                };
                let label = |t: &touchpoint_listen::survey::Texts, d: String| {
                    let s = text_for(t, loc, dl);
                    if s.is_empty() {
                        d
                    } else {
                        s.to_string()
                    }
                };
                item["expectation_label"] = Value::from(label(
                    expectation,
                    default("What you expected (0–10)", "Co jste očekávali (0–10)", "Czego oczekiwałeś (0–10)"),
                ));
                item["experience_label"] = Value::from(label(
                    experience,
                    default("What you got (0–10)", "Co jste dostali (0–10)", "Co otrzymałeś (0–10)"),
                ));
                item["expectation"] = serde_json::to_value(scale(0, 10, int(value.and_then(|v| v.get("expectation")))))
                    .unwrap_or_default();
                item["experience"] = serde_json::to_value(scale(0, 10, int(value.and_then(|v| v.get("experience")))))
                    .unwrap_or_default();
            }
        }
        questions.push(item);
    }
    let last = next_page(def, page_index, answers).is_none();
    let title = text_for(&def.title, loc, dl);
    let progress = format!("{} {} / {}", ui(ctx.lang, "progress"), page_index + 1, pages.len());
    let csrf = invite::csrf_token(&ctx.secret, &ctx.session, &ctx.scope);
    let body = templates().get_template("survey.html").and_then(|t| {
        t.render(context! {
            lang => ctx.locale,
            title,
            intro => if page_index == 0 { text_for(&def.intro, loc, dl) } else { "" },
            pages => pages.len(),
            page_number => page_index + 1,
            page_index,
            questions,
            errors => !errors.is_empty(),
            csrf,
            session => ctx.session,
            action => ctx.action,
            embed => ctx.embed,
            last,
            ui => context! {
                next => ui(ctx.lang, "next"),
                submit => ui(ctx.lang, "submit"),
                progress,
                required => ui(ctx.lang, "required"),
                fix => ui(ctx.lang, "fix"),
            },
        })
    });
    match body {
        Ok(b) => html(
            if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY },
            b,
            (!ctx.has_cookie).then(|| session_cookie(s, &ctx.session)),
        ),
        Err(e) => {
            tracing::error!(error = %e, "survey page did not render");
            message(StatusCode::INTERNAL_SERVER_ERROR, ctx.lang, "error", ctx.embed)
        }
    }
}

/// The next page after `current` with a question to show, if any.
fn next_page(def: &SurveyDef, current: usize, answers: &Answers) -> Option<usize> {
    def.pages()
        .iter()
        .enumerate()
        .skip(current + 1)
        .find(|(_, r)| def.questions[(*r).clone()].iter().any(|q| def.visible(q, answers)))
        .map(|(i, _)| i)
}

async fn show(s: &AppState, mut ctx: Ctx, done: bool) -> Response {
    match page_secret(s, &ctx).await {
        Ok(secret) => ctx.secret = secret,
        Err(r) => return r,
    }
    let existing = match s.store.response_by_key(ctx.survey.id, &ctx.key).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "response lookup failed");
            return message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.embed);
        }
    };
    // An open link without a session cookie has no response yet, whatever the key says.
    let existing = if ctx.fresh && matches!(ctx.key, ResponseKey::Session(_)) { None } else { existing };
    match existing {
        Some(r) if r.complete => {
            if done {
                let text = text_for(&ctx.def.thank_you, &ctx.locale, &ctx.def.default_locale).to_string();
                let text = if text.is_empty() { ui(ctx.lang, "thanks").to_string() } else { text };
                message_text(StatusCode::OK, ctx.lang, ui(ctx.lang, "thanks_h"), &text, ctx.embed)
            } else {
                message(StatusCode::GONE, ctx.lang, "done", ctx.embed)
            }
        }
        Some(r) => {
            let raw = r.response.answers.clone();
            let answers: Answers = serde_json::from_value(raw).unwrap_or_default();
            let page = (r.page.max(0) as usize).min(ctx.def.pages().len().saturating_sub(1));
            render_page(s, &ctx, page, &answers, &answers.to_raw(), &BTreeMap::new())
        }
        None => render_page(s, &ctx, 0, &Answers::default(), &Map::new(), &BTreeMap::new()),
    }
}

/// The project's secret (it signs the CSRF token).
async fn page_secret(s: &AppState, ctx: &Ctx) -> Result<Vec<u8>, Response> {
    match s.store.project_secret(ctx.survey.project_id).await {
        Ok(secret) => Ok(secret),
        Err(e) => {
            tracing::error!(error = %e, "project secret unavailable");
            Err(message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.embed))
        }
    }
}

/// Turn posted form fields into raw answers for the questions of one page: `q.<id>` for a
/// value (repeated for multiple choice), `q.<id>.<area>` for matrix rows and pair halves.
fn form_answers(def: &SurveyDef, range: std::ops::Range<usize>, fields: &[(String, String)]) -> Map<String, Value> {
    let mut raw = Map::new();
    for q in &def.questions[range] {
        let name = format!("q.{}", q.id);
        let prefix = format!("{name}.");
        match &q.kind {
            QuestionKind::Multiple { .. } => {
                let vals: Vec<Value> =
                    fields.iter().filter(|(k, _)| *k == name).map(|(_, v)| Value::String(v.clone())).collect();
                if !vals.is_empty() {
                    raw.insert(q.id.clone(), Value::Array(vals));
                }
            }
            QuestionKind::Matrix { .. } | QuestionKind::Pair { .. } => {
                let obj: Map<String, Value> = fields
                    .iter()
                    .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|sub| (sub.to_string(), Value::String(v.clone()))))
                    .collect();
                if !obj.is_empty() {
                    raw.insert(q.id.clone(), Value::Object(obj));
                }
            }
            _ => {
                if let Some((_, v)) = fields.iter().find(|(k, _)| *k == name) {
                    raw.insert(q.id.clone(), Value::String(v.clone()));
                }
            }
        }
    }
    raw
}

async fn submit(s: &AppState, mut ctx: Ctx, client: ClientAddr, body: Bytes) -> Response {
    match page_secret(s, &ctx).await {
        Ok(secret) => ctx.secret = secret,
        Err(r) => return r,
    }
    if let Some(addr) = client.0 {
        let key = ip_key(addr.ip());
        if s.page_limiter.take(key, 1).is_err() {
            let mut r = message(StatusCode::TOO_MANY_REQUESTS, ctx.lang, "slow", ctx.embed);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return r;
        }
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !ctx.has_cookie {
        if let Some(sess) = field("_session").filter(|s| valid_session(s)) {
            ctx.session = sess.to_string();
            ctx.fresh = false;
            if let ResponseKey::Session(_) = ctx.key {
                ctx.key = ResponseKey::Session(ctx.session.clone());
            }
        }
    }
    if ctx.fresh || !invite::check_csrf(&ctx.secret, &ctx.session, &ctx.scope, field("_csrf").unwrap_or("")) {
        return message(StatusCode::FORBIDDEN, ctx.lang, "csrf", ctx.embed);
    }
    let pages = ctx.def.pages();
    let page_index: usize = field("_page").and_then(|p| p.parse().ok()).filter(|p| *p < pages.len()).unwrap_or(0);
    let existing = match s.store.response_by_key(ctx.survey.id, &ctx.key).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "response lookup failed");
            return message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.embed);
        }
    };
    if existing.as_ref().is_some_and(|r| r.complete) {
        return message(StatusCode::CONFLICT, ctx.lang, "done", ctx.embed);
    }
    let saved: Answers =
        existing.map(|r| serde_json::from_value(r.response.answers).unwrap_or_default()).unwrap_or_default();
    let range = pages[page_index].clone();
    let posted = form_answers(&ctx.def, range.clone(), &fields);
    let mut raw = saved.to_raw();
    for q in &ctx.def.questions[range.clone()] {
        raw.remove(&q.id);
    }
    // Answers on later pages may no longer apply after this page changes; they are
    // re-checked below and dropped when their question is hidden.
    raw.extend(posted.clone());
    let mut errors = BTreeMap::new();
    let answers = match ctx.def.parse_answers(&raw, false, ctx.lang) {
        Ok(a) => a,
        Err(e) => {
            errors.insert(e.field.clone(), e.message);
            // Show the page again with what was posted.
            let partial = ctx.def.parse_answers(&saved.to_raw(), false, ctx.lang).unwrap_or_default();
            return render_page(s, &ctx, page_index, &partial, &raw, &errors);
        }
    };
    for q in &ctx.def.questions[range] {
        if q.required && ctx.def.visible(q, &answers) && !answers.0.contains_key(&q.id) {
            errors.insert(q.id.clone(), touchpoint_listen::survey::required_message(ctx.lang));
        }
    }
    if !errors.is_empty() {
        return render_page(s, &ctx, page_index, &answers, &raw, &errors);
    }
    let next = next_page(&ctx.def, page_index, &answers);
    let response = NewResponse {
        project_id: ctx.survey.project_id,
        survey_id: ctx.survey.id,
        version: ctx.survey.version,
        customer: ctx.customer.clone(),
        touchpoint: ctx.touchpoint.clone(),
        lang: Some(ctx.locale.clone()),
        answers: serde_json::to_value(&answers).unwrap_or_default(),
        dimensions: Value::Object(ctx.dimensions.clone()),
        weight: 1.0,
        source: if ctx.embed { "widget".into() } else { "page".into() },
        external_id: None,
        at_ms: None,
    };
    let outcome = s.store.save_answers(&ctx.key, &response, next.unwrap_or(page_index) as i64, next.is_none()).await;
    let back = |done: bool| {
        let sep = if ctx.action.contains('?') { '&' } else { '?' };
        let mut to = if done { format!("{}{sep}done=1", ctx.action) } else { ctx.action.clone() };
        if !ctx.has_cookie {
            let sep = if to.contains('?') { '&' } else { '?' };
            to = format!("{to}{sep}sid={}", ctx.session);
        }
        Redirect::to(&to).into_response()
    };
    match outcome {
        Ok(SaveOutcome::Saved(_)) => back(false),
        Ok(SaveOutcome::Completed(id)) => {
            if let Some(e) = journey_event(&ctx.survey, &ctx.def, id, &response, &answers, ctx.anonymous_id.as_deref())
            {
                submit_events(s, ctx.survey.project_id, vec![e]).await;
            }
            back(true)
        }
        Ok(SaveOutcome::AlreadyComplete(_)) => message(StatusCode::CONFLICT, ctx.lang, "done", ctx.embed),
        Err(e) => {
            tracing::error!(error = %e, "answers could not be saved");
            message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.embed)
        }
    }
}

fn ip_key(ip: std::net::IpAddr) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ip.hash(&mut h);
    h.finish() as i64
}

/// `GET /s/{token}`: an invitation's survey page.
pub async fn invitation_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    match invitation_ctx(&s, &token, &q, &headers).await {
        Entry::Ready(ctx) => show(&s, *ctx, q.done.is_some()).await,
        Entry::Stop(r) => r,
    }
}

/// `POST /s/{token}`: a page of answers through an invitation.
pub async fn invitation_submit(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match invitation_ctx(&s, &token, &q, &headers).await {
        Entry::Ready(ctx) => submit(&s, *ctx, client, body).await,
        Entry::Stop(r) => r,
    }
}

/// `GET /o/{public_id}`: an open link's survey page.
pub async fn open_page(
    State(s): State<AppState>,
    Path(public_id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    match open_ctx(&s, &public_id, &q, &headers).await {
        Entry::Ready(ctx) => show(&s, *ctx, q.done.is_some()).await,
        Entry::Stop(r) => r,
    }
}

/// `POST /o/{public_id}`: a page of answers through an open link.
pub async fn open_submit(
    State(s): State<AppState>,
    Path(public_id): Path<String>,
    Query(q): Query<PageQuery>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match open_ctx(&s, &public_id, &q, &headers).await {
        Entry::Ready(ctx) => submit(&s, *ctx, client, body).await,
        Entry::Stop(r) => r,
    }
}

/// `GET /widget.js`: the embeddable widget. Add to a page:
/// `<script src="https://…/widget.js" data-survey="PUBLIC_ID" data-lang="cs" async></script>`;
/// optional `data-anonymous-id` puts the answer in that visitor's journey.
pub async fn widget_js(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let base = crate::surveys::base_url(&s, &headers);
    let js = WIDGET_JS.replace("__BASE__", &base.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut r = js.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

const WIDGET_JS: &str = r#"(function () {
  var me = document.currentScript; if (!me) return;
  var id = me.getAttribute('data-survey'); if (!id) return;
  var lang = me.getAttribute('data-lang') || (navigator.language || 'en');
  var aid = me.getAttribute('data-anonymous-id') || '';
  var label = { cs: 'Zpětná vazba', pl: 'Opinia' }[lang.slice(0, 2)] || 'Feedback';
  var close = { cs: 'Zavřít', pl: 'Zamknij' }[lang.slice(0, 2)] || 'Close';
  var url = '__BASE__/o/' + encodeURIComponent(id) + '?embed=1&lang=' + encodeURIComponent(lang) +
    (aid ? '&aid=' + encodeURIComponent(aid) : '');
  var b = document.createElement('button');
  b.type = 'button'; b.textContent = label;
  b.style.cssText = 'position:fixed;right:1rem;bottom:1rem;z-index:2147483000;padding:.7rem 1.1rem;border:0;border-radius:.4rem;background:#0b5cad;color:#fff;font:600 1rem system-ui,sans-serif;cursor:pointer';
  var box = null;
  b.addEventListener('click', function () {
    if (box) { box.remove(); box = null; b.textContent = label; return; }
    box = document.createElement('iframe');
    box.src = url; box.title = label;
    box.style.cssText = 'position:fixed;right:1rem;bottom:4.5rem;z-index:2147483000;width:min(26rem,calc(100vw - 2rem));height:min(34rem,calc(100vh - 6rem));border:1px solid #8a8a8a;border-radius:.5rem;background:#fff';
    document.body.appendChild(box); b.textContent = close;
  });
  document.body.appendChild(b);
})();
"#;

/// Middleware of the survey pages: they may be shown in a frame only by this server and
/// the origins in `survey_frame_origins` (the brand's own site, for the widget).
pub async fn frame_ancestors(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let csp = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("default-src 'none'");
    let with = format!("{csp}; frame-ancestors {}", s.config.frame_ancestors());
    if let Ok(v) = HeaderValue::from_str(&with) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}
