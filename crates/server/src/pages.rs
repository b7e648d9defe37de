//! Survey pages for customers, served by the same binary: plain HTML forms that work
//! without JavaScript, one page per step of the survey's branching, in the respondent's
//! language (invitation, `?lang=`, the project's default language, `Accept-Language`, the
//! survey's default: a Czech brand's page opens in Czech in a browser set to English), under the project's brand (name, logo, colour, privacy link).
//!
//! Two ways in: a signed invitation link `/s/{token}` (single use, bound to a customer, a
//! survey and a touchpoint) and an open link `/o/{public_id}` (one response per browser,
//! rate-limited per client address). Answers are saved after every page, so a respondent
//! who leaves comes back to where they were. Every form carries a CSRF token bound to the
//! browser's session cookie. Texts from survey authors and answers are HTML-escaped by the
//! template engine; pages send a CSP that allows no script at all, and images only from
//! the origin of the brand's logo.
//!
//! Scales stay one row on a 360 px phone, with their ends labelled; the progress bar counts
//! the steps answered, so it is empty before the first answer. The brand's settings are
//! checked here too (`ProjectSettings::brand_after`), for `PUT /api/project` and the CLI.
//!
//! `/widget.js` is the small embeddable widget: a button that opens the open link in a
//! frame on the customer's website. `/touchpoint.js` is the capture snippet, which opens
//! the same frame when a trigger rule decides to show a survey in the page.

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use touchpoint_core::Lang;
use touchpoint_engine::brand::{https_origin, parse_color};
use touchpoint_engine::respond::{self, progress, Respondent, Step};
use touchpoint_engine::surveys::{definition, verify_link};
use touchpoint_listen::invite::{self, LinkError};
use touchpoint_listen::survey::{text_for, Answers, QuestionKind, SurveyDef};
use touchpoint_store::listen::{ResponseKey, SurveyRow, SurveyStatus};
use touchpoint_store::{Brand, Project};

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
            ("portal.html", include_str!("../templates/portal.html")),
            ("portal_article.html", include_str!("../templates/portal_article.html")),
            ("portal_nav.html", include_str!("../templates/portal_nav.html")),
            ("portal_me.html", include_str!("../templates/portal_me.html")),
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
        "required" => ["required", "povinné", "wymagane"],
        "fix" => ["Please check these questions:", "Zkontrolujte prosím tyto otázky:", "Prosimy sprawdzić te pytania:"],
        "privacy" => ["Privacy policy", "Zásady ochrany osobních údajů", "Polityka prywatności"],
        "logo" => ["Logo", "Logo", "Logo"],
        "thanks_h" => ["Thank you!", "Děkujeme!", "Dziękujemy!"],
        "thanks" => ["Your answers have been saved.", "Vaše odpovědi jsme uložili.", "Odpowiedzi zostały zapisane."],
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
            "Link jest niepełny lub został zmieniony. Prosimy otworzyć go ponownie z oryginalnej wiadomości.",
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
        "csrf_h" => ["Please try again", "Zkuste to prosím znovu", "Prosimy spróbować ponownie"],
        "csrf" => [
            "The form had expired or cookies are blocked. Reload the page and send it again.",
            "Formulář vypršel nebo jsou zablokované cookies. Načtěte stránku znovu a odešlete ji.",
            "Formularz wygasł lub pliki cookie są zablokowane. Prosimy odświeżyć stronę i wysłać go ponownie.",
        ],
        "slow_h" => ["Too many attempts", "Příliš mnoho pokusů", "Zbyt wiele prób"],
        "slow" => [
            "Please wait a minute and try again.",
            "Počkejte prosím minutu a zkuste to znovu.",
            "Prosimy odczekać minutę i spróbować ponownie.",
        ],
        "error_h" => ["Something went wrong", "Něco se pokazilo", "Coś poszło nie tak"],
        "error" => [
            "Your answers could not be saved right now. Please try again in a moment.",
            "Odpovědi teď nešlo uložit. Zkuste to prosím za chvíli.",
            "Nie udało się teraz zapisać odpowiedzi. Prosimy spróbować ponownie za chwilę.",
        ],
        _ => ["", "", ""],
    };
    t[match lang {
        Lang::En => 0,
        Lang::Cs => 1,
        Lang::Pl => 2,
    }]
}

/// How a page looks: compact inside the widget's frame, under the project's brand when
/// the project is known.
#[derive(Clone, Copy, Default)]
struct Look<'a> {
    embed: bool,
    brand: Option<&'a Brand>,
    /// The page loads the portal's script (`/assets/portal.js`) and it may ask this server.
    script: bool,
}

/// A page's HTML response. Its CSP allows inline styles and, when the brand has a logo,
/// images from the logo's origin: nothing else, no script.
fn html(status: StatusCode, body: String, set_cookie: Option<String>, look: Look) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let img = look.brand.and_then(|b| b.brand_logo_url.as_deref()).and_then(https_origin);
    let mut csp = match img {
        Some(origin) => format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src {origin}; form-action 'self'; base-uri 'none'"
        ),
        None => "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'".to_string(),
    };
    if look.script {
        csp.push_str("; script-src 'self'; connect-src 'self'");
    }
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The brand's sites may frame the page ([`frame_ancestors`] adds them to the CSP).
    if let Some(sites) = look.brand.and_then(|b| b.site_origins.clone()) {
        r.extensions_mut().insert(SiteOrigins(sites));
    }
    let h = r.headers_mut();
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

fn message(status: StatusCode, lang: Lang, key: &str, look: Look) -> Response {
    message_text(status, lang, ui(lang, &format!("{key}_h")), ui(lang, key), look)
}

fn message_text(status: StatusCode, lang: Lang, heading: &str, text: &str, look: Look) -> Response {
    message_form(status, lang, heading, text, None, look)
}

/// A message page, with a button that posts to `form`'s address when given (`(action,
/// button text)`).
fn message_form(
    status: StatusCode,
    lang: Lang,
    heading: &str,
    text: &str,
    form: Option<(&str, &str)>,
    look: Look,
) -> Response {
    let brand = page_brand(look, lang);
    let title = title_with_brand(heading, look);
    let (action, button) = form.unzip();
    let body = templates()
        .get_template("message.html")
        .and_then(|t| {
            t.render(context! { lang => lang.code(), title, heading, message => text, embed => look.embed, brand, action, button })
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "message page did not render");
            heading.to_string()
        });
    html(status, body, None, look)
}

/// A page's `<title>`: its own, then the brand's name.
fn title_with_brand(title: &str, look: Look) -> String {
    match look.brand.and_then(|b| b.brand_name.as_deref()) {
        Some(name) if !title.is_empty() => format!("{title} – {name}"),
        Some(name) => name.to_string(),
        None => title.to_string(),
    }
}

/// The brand as the templates show it: the header (name, logo), the colours and the
/// privacy link, with its text in the page's language.
#[derive(Serialize)]
struct PageBrand {
    name: Option<String>,
    logo: Option<String>,
    logo_alt: &'static str,
    /// The brand colour (`--accent`) and the text colour on it (`--on-accent`).
    color: Option<String>,
    on_color: &'static str,
    privacy: Option<String>,
    privacy_text: &'static str,
}

fn page_brand(look: Look, lang: Lang) -> Option<PageBrand> {
    let b = look.brand?;
    let color = b.brand_color.as_deref().filter(|c| parse_color(c).is_some());
    Some(PageBrand {
        name: b.brand_name.clone(),
        logo: b.brand_logo_url.clone().filter(|u| https_origin(u).is_some()),
        // Next to the name the logo says nothing more.
        logo_alt: if b.brand_name.is_some() { "" } else { ui(lang, "logo") },
        color: color.map(str::to_string),
        on_color: color.map(text_on).unwrap_or("#ffffff"),
        privacy: b.privacy_url.clone().filter(|u| https_origin(u).is_some()),
        privacy_text: ui(lang, "privacy"),
    })
}

/// WCAG relative luminance of a colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// The text colour on a brand colour: white when it has the contrast WCAG asks of text
/// (4.5:1), else the page's dark ink.
fn text_on(color: &str) -> &'static str {
    let Some(rgb) = parse_color(color) else { return "#ffffff" };
    if 1.05 / (luminance(rgb) + 0.05) >= 4.5 {
        "#ffffff"
    } else {
        "#1a1a1a"
    }
}

/// The project's default language, when it has one.
fn project_lang(p: Option<&Project>) -> Option<Lang> {
    p.and_then(|p| p.brand.default_lang.as_deref()).and_then(Lang::parse)
}

/// The language of a page shown before a survey's texts are known: `?lang=`, the
/// project's default, `Accept-Language`, English.
pub(crate) fn fallback_lang(query: Option<&str>, headers: &HeaderMap, project: Option<&Project>) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| project_lang(project))
        .or_else(|| accept_language(headers))
        .unwrap_or(Lang::En)
}

/// The first language of `Accept-Language` Touchpoint speaks, if any (every page and
/// route that falls back to the browser's language asks this).
pub(crate) fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    accept_languages(headers).iter().find_map(|l| Lang::parse(l))
}

fn accept_languages(headers: &HeaderMap) -> Vec<String> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').filter_map(|p| p.split(';').next()).map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .unwrap_or_default()
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

/// Choose the locale: invitation, `?lang=`, the project's default language (a brand that
/// set one wants its pages in it, whatever language a browser was installed in),
/// `Accept-Language`, then the survey's default; a locale counts when the survey has its
/// title in it.
fn pick_locale(
    def: &SurveyDef,
    invited: Option<&str>,
    query: Option<&str>,
    headers: &HeaderMap,
    project: Option<&str>,
) -> String {
    let has = |l: &str| {
        let primary = l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase();
        if def.title.contains_key(l) {
            Some(l.to_string())
        } else {
            def.title.contains_key(&primary).then_some(primary)
        }
    };
    let accept = accept_languages(headers);
    invited
        .into_iter()
        .chain(query)
        .chain(project)
        .chain(accept.iter().map(String::as_str))
        .find_map(has)
        .unwrap_or_else(|| def.default_locale.clone())
}

fn valid_session(s: &str) -> bool {
    (16..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && valid_session(v))
        .map(|(_, v)| v.to_string())
}

pub(crate) fn new_session() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

pub(crate) fn session_cookie(s: &AppState, session: &str) -> String {
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
    /// The project's brand.
    brand: Brand,
}

impl Ctx {
    fn look(&self) -> Look<'_> {
        Look { embed: self.embed, brand: Some(&self.brand), script: false }
    }
}

enum Entry {
    Ready(Box<Ctx>),
    Stop(Response),
}

/// The project a survey page belongs to (its brand and language), if it can be read.
async fn load_project(s: &AppState, id: i64) -> Option<Project> {
    match s.store.project(id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "project lookup failed");
            None
        }
    }
}

async fn invitation_ctx(s: &AppState, token: &str, q: &PageQuery, headers: &HeaderMap) -> Entry {
    let embed = q.embed.is_some();
    let claims = match verify_link(&*s.store, token).await {
        Ok(c) => c,
        Err(e) => {
            // The claims may be readable even when refused: their language, if any, and
            // (when only the date is wrong, so they are the project's own) their project.
            let read = read_claims(token);
            let project = match (&e, &read) {
                (LinkError::Expired, Some(c)) => load_project(s, c.project).await,
                _ => None,
            };
            let invited = read.as_ref().and_then(|c| c.lang.as_deref()).and_then(Lang::parse);
            let lang = match q.lang.as_deref().and_then(Lang::parse).or(invited) {
                Some(l) => l,
                None => fallback_lang(None, headers, project.as_ref()),
            };
            let look = Look { embed, brand: project.as_ref().map(|p| &p.brand), script: false };
            return Entry::Stop(match e {
                LinkError::Expired => message(StatusCode::GONE, lang, "expired", look),
                LinkError::Malformed | LinkError::Tampered => message(StatusCode::FORBIDDEN, lang, "invalid", look),
            });
        }
    };
    let project = load_project(s, claims.project).await;
    let stop = |status, key| {
        let invited = claims.lang.as_deref().and_then(Lang::parse);
        let lang = q.lang.as_deref().and_then(Lang::parse).or(invited);
        let lang = lang.unwrap_or_else(|| fallback_lang(None, headers, project.as_ref()));
        Entry::Stop(message(
            status,
            lang,
            key,
            Look { embed, brand: project.as_ref().map(|p| &p.brand), script: false },
        ))
    };
    let survey = match s.store.survey(claims.survey).await {
        Ok(Some(r)) if r.project_id == claims.project => r,
        Ok(_) => return stop(StatusCode::NOT_FOUND, "missing"),
        Err(e) => {
            tracing::error!(error = %e, "survey lookup failed");
            return stop(StatusCode::SERVICE_UNAVAILABLE, "error");
        }
    };
    build_ctx(
        survey,
        project,
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

/// A link's claims, unverified.
fn read_claims(token: &str) -> Option<invite::Claims> {
    let body = token.split_once('.')?.0;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn open_ctx(s: &AppState, public_id: &str, q: &PageQuery, headers: &HeaderMap) -> Entry {
    let embed = q.embed.is_some();
    let lang = fallback_lang(q.lang.as_deref(), headers, None);
    let survey = match s.store.survey_by_public_id(public_id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Entry::Stop(message(
                StatusCode::NOT_FOUND,
                lang,
                "missing",
                Look { embed, brand: None, script: false },
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "survey lookup failed");
            let look = Look { embed, brand: None, script: false };
            return Entry::Stop(message(StatusCode::SERVICE_UNAVAILABLE, lang, "error", look));
        }
    };
    let project = load_project(s, survey.project_id).await;
    let aid = q.aid.clone().filter(|a| !a.is_empty() && a.len() <= 200);
    build_ctx(
        survey,
        project,
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
    project: Option<Project>,
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
    let brand = project.as_ref().map(|p| p.brand.clone()).unwrap_or_default();
    let look = Look { embed, brand: Some(&brand), script: false };
    let def = match definition(&survey) {
        Ok(d) => d,
        Err(_) => {
            let lang = invited_lang.and_then(Lang::parse);
            let lang = lang.unwrap_or_else(|| fallback_lang(q.lang.as_deref(), headers, project.as_ref()));
            return Entry::Stop(message(StatusCode::INTERNAL_SERVER_ERROR, lang, "error", look));
        }
    };
    let locale = pick_locale(&def, invited_lang, q.lang.as_deref(), headers, brand.default_lang.as_deref());
    // The page's own texts: the survey's language when they exist in it, else the
    // project's, else English.
    let lang = Lang::parse(&locale).or_else(|| project_lang(project.as_ref())).unwrap_or(Lang::En);
    match survey.status {
        SurveyStatus::Live => {}
        SurveyStatus::Closed => return Entry::Stop(message(StatusCode::GONE, lang, "closed", look)),
        SurveyStatus::Draft => return Entry::Stop(message(StatusCode::NOT_FOUND, lang, "missing", look)),
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
        brand,
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

/// What the two ends of a standard scale mean, shown under them.
fn scale_ends(kind: &QuestionKind, lang: Lang) -> Option<[&'static str; 2]> {
    let t: [[&str; 2]; 3] = match kind {
        QuestionKind::Nps => [
            ["Not at all likely", "Extremely likely"],
            ["Vůbec ne", "Určitě ano"],
            ["Zdecydowanie nie", "Zdecydowanie tak"],
        ],
        QuestionKind::Csat => [
            ["Very dissatisfied", "Very satisfied"],
            ["Velmi nespokojeni", "Velmi spokojeni"],
            ["Bardzo źle", "Bardzo dobrze"],
        ],
        QuestionKind::Ces => {
            [["Very difficult", "Very easy"], ["Velmi obtížné", "Velmi snadné"], ["Bardzo trudno", "Bardzo łatwo"]]
        }
        _ => return None,
    };
    Some(
        t[match lang {
            Lang::En => 0,
            Lang::Cs => 1,
            Lang::Pl => 2,
        }],
    )
}

/// "Step 2 of 3".
fn step_text(lang: Lang, step: usize, steps: usize) -> String {
    match lang {
        Lang::En => format!("Step {step} of {steps}"),
        Lang::Cs => format!("Krok {step} z {steps}"),
        Lang::Pl => format!("Krok {step} z {steps}"),
    }
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
                item["ends"] = serde_json::to_value(scale_ends(k, ctx.lang)).unwrap_or_default();
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
                    default("What you expected (0–10)", "Co jste očekávali (0–10)", "Czego Państwo oczekiwali (0–10)"),
                ));
                item["experience_label"] = Value::from(label(
                    experience,
                    default("What you got (0–10)", "Co jste dostali (0–10)", "Co Państwo otrzymali (0–10)"),
                ));
                item["expectation"] = serde_json::to_value(scale(0, 10, int(value.and_then(|v| v.get("expectation")))))
                    .unwrap_or_default();
                item["experience"] = serde_json::to_value(scale(0, 10, int(value.and_then(|v| v.get("experience")))))
                    .unwrap_or_default();
            }
        }
        questions.push(item);
    }
    let title = text_for(&def.title, loc, dl);
    let (answered, steps) = progress(def, page_index, answers);
    // "Send" only when no later step is shown or may still be (one waiting on an answer
    // on this page is announced by the progress, so the button says "Next").
    let last = answered + 1 == steps;
    let csrf = invite::csrf_token(&ctx.secret, &ctx.session, &ctx.scope);
    let body = templates().get_template("survey.html").and_then(|t| {
        t.render(context! {
            lang => ctx.locale,
            title => title_with_brand(title, ctx.look()),
            heading => title,
            brand => page_brand(ctx.look(), ctx.lang),
            intro => if page_index == 0 { text_for(&def.intro, loc, dl) } else { "" },
            answered,
            steps,
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
                step => step_text(ctx.lang, answered + 1, steps),
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
            ctx.look(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "survey page did not render");
            message(StatusCode::INTERNAL_SERVER_ERROR, ctx.lang, "error", ctx.look())
        }
    }
}

async fn show(s: &AppState, mut ctx: Ctx, done: bool) -> Response {
    match page_secret(s, &ctx).await {
        Ok(secret) => ctx.secret = secret,
        Err(r) => return r,
    }
    let existing = match respond::saved(s, &ctx.survey, &ctx.key).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "response lookup failed");
            return message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.look());
        }
    };
    // An open link without a session cookie has no response yet, whatever the key says.
    let existing = if ctx.fresh && matches!(ctx.key, ResponseKey::Session(_)) { None } else { existing };
    match existing {
        Some(r) if r.complete => {
            if done {
                let text = text_for(&ctx.def.thank_you, &ctx.locale, &ctx.def.default_locale).to_string();
                let text = if text.is_empty() { ui(ctx.lang, "thanks").to_string() } else { text };
                message_text(StatusCode::OK, ctx.lang, ui(ctx.lang, "thanks_h"), &text, ctx.look())
            } else {
                message(StatusCode::GONE, ctx.lang, "done", ctx.look())
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
            Err(message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.look()))
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
            let mut r = message(StatusCode::TOO_MANY_REQUESTS, ctx.lang, "slow", ctx.look());
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
        return message(StatusCode::FORBIDDEN, ctx.lang, "csrf", ctx.look());
    }
    let pages = ctx.def.pages();
    let page_index: usize = field("_page").and_then(|p| p.parse().ok()).filter(|p| *p < pages.len()).unwrap_or(0);
    let posted = form_answers(&ctx.def, pages[page_index].clone(), &fields);
    let respondent = Respondent {
        survey: &ctx.survey,
        def: &ctx.def,
        key: ctx.key.clone(),
        customer: ctx.customer.clone(),
        touchpoint: ctx.touchpoint.clone(),
        locale: ctx.locale.clone(),
        lang: ctx.lang,
        dimensions: ctx.dimensions.clone(),
        source: if ctx.embed { "widget" } else { "page" },
        anonymous_id: ctx.anonymous_id.clone(),
    };
    let back = |done: bool| {
        let sep = if ctx.action.contains('?') { '&' } else { '?' };
        let mut to = if done { format!("{}{sep}done=1", ctx.action) } else { ctx.action.clone() };
        if !ctx.has_cookie {
            let sep = if to.contains('?') { '&' } else { '?' };
            to = format!("{to}{sep}sid={}", ctx.session);
        }
        Redirect::to(&to).into_response()
    };
    match respond::answer_page(s, &respondent, page_index, posted).await {
        Ok(Step::Saved { .. }) => back(false),
        Ok(Step::Completed) => back(true),
        Ok(Step::AlreadyComplete) => message(StatusCode::CONFLICT, ctx.lang, "done", ctx.look()),
        Ok(Step::Invalid { answers, raw, errors }) => render_page(s, &ctx, page_index, &answers, &raw, &errors),
        Err(e) => {
            tracing::error!(error = %e, "answers could not be saved");
            message(StatusCode::SERVICE_UNAVAILABLE, ctx.lang, "error", ctx.look())
        }
    }
}

pub(crate) fn ip_key(ip: std::net::IpAddr) -> i64 {
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

/// The project's own sites, handed from a page to [`frame_ancestors`].
#[derive(Clone)]
struct SiteOrigins(String);

/// Middleware of the survey pages: they may be shown in a frame only by this server, the
/// origins in `survey_frame_origins`, and the project's own sites (`site_origins`, for the
/// widget on the brand's website).
pub async fn frame_ancestors(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut r = next.run(req).await;
    let mut ancestors = s.config.frame_ancestors();
    if let Some(SiteOrigins(sites)) = r.extensions_mut().remove::<SiteOrigins>() {
        for o in sites.split_whitespace().filter(|o| crate::config::is_origin(o)) {
            ancestors.push(' ');
            ancestors.push_str(o);
        }
    }
    let h = r.headers_mut();
    let csp = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("default-src 'none'");
    let with = format!("{csp}; frame-ancestors {ancestors}");
    if let Ok(v) = HeaderValue::from_str(&with) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// A page of another part of the binary (the portal) in the survey pages' look: the
/// template `name` (extending `base.html`) rendered with `ctx` and the brand, served with
/// the pages' headers (no script, the brand's logo origin only).
pub(crate) fn branded_page(
    status: StatusCode,
    name: &str,
    lang: Lang,
    title: &str,
    brand: Option<&Brand>,
    ctx: minijinja::Value,
) -> Response {
    branded_page_with(status, name, lang, title, brand, ctx, false)
}

/// [`branded_page`], and with `script` the page may load the portal's own script from
/// this server (its CSP then allows `script-src 'self'` and `connect-src 'self'`, nothing
/// inline).
pub(crate) fn branded_page_with(
    status: StatusCode,
    name: &str,
    lang: Lang,
    title: &str,
    brand: Option<&Brand>,
    ctx: minijinja::Value,
    script: bool,
) -> Response {
    let look = Look { embed: false, brand, script };
    let page = context! { lang => lang.code(), title => title_with_brand(title, look), embed => false, brand => page_brand(look, lang), ..ctx };
    match templates().get_template(name).and_then(|t| t.render(page)) {
        Ok(body) => html(status, body, None, look),
        Err(e) => {
            tracing::error!(error = %e, name, "page did not render");
            message(StatusCode::INTERNAL_SERVER_ERROR, lang, "error", look)
        }
    }
}

/// A message page in the survey pages' look (heading and text), for the portal.
pub(crate) fn branded_message(
    status: StatusCode,
    lang: Lang,
    heading: &str,
    text: &str,
    brand: Option<&Brand>,
) -> Response {
    message_form(status, lang, heading, text, None, Look { embed: false, brand, script: false })
}

/// The page an e-mail's unsubscribe link opens: `done` false asks (a button that posts
/// back, since mail scanners follow links), true confirms.
pub(crate) fn unsubscribe_page(lang: Lang, brand: Option<&Brand>, done: bool, action: &str) -> Response {
    let look = Look { embed: false, brand, script: false };
    let pick = |t: [&'static str; 3]| t[lang as usize];
    if done {
        let h = pick(["You are unsubscribed", "Odhlášení proběhlo", "Wypisano Cię"]);
        let m = pick([
            "You will not get these e-mails any more.",
            "Tyto e-maily už vám nebudeme posílat.",
            "Nie będziemy już wysyłać Ci tych e-maili.",
        ]);
        return message_form(StatusCode::OK, lang, h, m, None, look);
    }
    let h = pick(["Unsubscribe", "Odhlásit odběr", "Wypisz się"]);
    let m = pick([
        "Do you want to stop getting these e-mails?",
        "Opravdu už nechcete tyto e-maily dostávat?",
        "Czy na pewno nie chcesz już otrzymywać tych e-maili?",
    ]);
    let b = pick(["Unsubscribe", "Odhlásit", "Wypisz mnie"]);
    message_form(StatusCode::OK, lang, h, m, Some((action, b)), look)
}

/// The page of an unsubscribe link that does not hold.
pub(crate) fn unsubscribe_invalid(lang: Lang) -> Response {
    let pick = |t: [&'static str; 3]| t[lang as usize];
    message_form(
        StatusCode::NOT_FOUND,
        lang,
        pick(["This link does not work", "Tento odkaz nefunguje", "Ten link nie działa"]),
        pick([
            "It may have been cut in two by your e-mail program. Open the whole link from the e-mail.",
            "Možná ho váš e-mailový program rozdělil. Otevřete celý odkaz z e-mailu.",
            "Być może program pocztowy go podzielił. Otwórz cały link z wiadomości.",
        ]),
        None,
        Look { embed: false, brand: None, script: false },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_https_urls_have_an_origin() {
        for (url, origin) in [
            ("https://cdn.example.com/logo.svg", Some("https://cdn.example.com")),
            ("HTTPS://CDN.Example.com", Some("https://cdn.example.com")),
            ("https://cdn.example.com:443/a?b=1#c", Some("https://cdn.example.com")),
            ("https://cdn.example.com:8443/a", Some("https://cdn.example.com:8443")),
            ("https://xn--zahrdka-kwa.cz/logo.png", Some("https://xn--zahrdka-kwa.cz")),
            ("http://cdn.example.com/logo.svg", None),
            ("https://", None),
            ("https:///logo.svg", None),
            ("https://user:pw@cdn.example.com/", None),
            ("https://cdn.example.com:0x1/", None),
            ("https://cdn.example.com:70000/", None),
            ("https://cdn..example.com/", None),
            ("https://-cdn.example.com/", None),
            ("https://zahrádka.cz/", None),
            ("https://[::1]/", None),
            ("https://a.example/x y", None),
            ("https://a.example/\"onerror=", None),
            ("https://a.example;script-src *", None),
            ("javascript:alert(1)", None),
            ("data:image/svg+xml,<svg/>", None),
        ] {
            assert_eq!(https_origin(url).as_deref(), origin, "{url}");
        }
    }

    #[test]
    fn text_on_the_brand_colour_is_white_only_with_enough_contrast() {
        for (color, text) in [
            ("#2e7d32", "#ffffff"), // 5.1:1
            ("#0b5cad", "#ffffff"),
            ("#000000", "#ffffff"),
            ("#4caf50", "#1a1a1a"), // white would be 2.8:1
            ("#ffeb3b", "#1a1a1a"),
            ("#ffffff", "#1a1a1a"),
            ("#777777", "#1a1a1a"), // 4.48:1, just short
            ("#767676", "#ffffff"), // 4.54:1
        ] {
            assert_eq!(text_on(color), text, "{color}");
        }
    }

    #[test]
    fn a_brand_change_keeps_what_is_not_given_and_removes_what_is_empty() {
        let now = Brand { brand_name: Some("Zahrádka".into()), default_lang: Some("cs".into()), ..Default::default() };
        let change = touchpoint_engine::read::ProjectSettings {
            brand_color: Some(" #2E7D32 ".into()),
            default_lang: Some("".into()),
            ..Default::default()
        };
        let after = change.brand_after(&now).unwrap();
        assert_eq!(after.brand_name.as_deref(), Some("Zahrádka"));
        assert_eq!(after.brand_color.as_deref(), Some("#2e7d32"));
        assert_eq!(after.default_lang, None);
        let wrong = touchpoint_engine::read::ProjectSettings { default_lang: Some("de".into()), ..Default::default() }
            .brand_after(&now);
        assert_eq!(wrong.unwrap_err().0, "default_lang");
    }
}
