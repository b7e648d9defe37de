//! The dashboard's doors: sign-in and sign-out pages, the session a person's browser
//! carries, and the page the dashboard's script runs in. The views themselves are
//! `web/app.js`, which reads the same `/api` routes as any client, with the session
//! instead of a key: the `/api` middleware ([`crate::auth::require_secret_key`]) asks
//! [`session_caller`] for the person's role on the project the request names, and what
//! the role allows ([`permission`]). The project is named by the `X-Touchpoint-Project`
//! header, or on `GET /api/live` only (an `EventSource` sends no headers) by `?project=`.
//!
//! **Cookies.** `tp_dash` holds the session token (HttpOnly, SameSite=Lax, Path=/,
//! `Secure` when the server is reached over HTTPS: `public_url` says so or a proxy sends
//! `X-Forwarded-Proto: https`). The store keeps only its SHA-256 hash.
//!
//! **CSRF.** Every `/api` request with a session that changes something must carry
//! `X-CSRF-Token`: a hash of the session token the page hands to its script, which
//! another site can neither read nor guess (and SameSite keeps the cookie off its
//! requests anyway). The sign-in form carries a token matching a cookie of its own; the
//! sign-out form, the session's.
//!
//! Pages need no inline script: the dashboard page hands its data to `app.js` as JSON in
//! a `<script type="application/json">`, under a Content-Security-Policy of `'self'`.

use crate::auth::{By, Caller};
use crate::error::{ApiError, Code, Error};
use crate::pages::ClientAddr;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Environment};
use serde::Deserialize;
use std::sync::OnceLock;
use touchpoint_core::access::{Permission, Role};
use touchpoint_core::i18n::Lang;
use touchpoint_engine::accounts;

/// The session cookie.
pub const COOKIE: &str = "tp_dash";
/// The sign-in form's own CSRF cookie.
const LOGIN_COOKIE: &str = "tp_login";
/// The language the person chose (set by the dashboard's script).
const LANG_COOKIE: &str = "tp_lang";

/// A cookie's value (not empty).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// The dashboard session token a request carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// The CSRF token of a session: a hash of its token.
pub fn csrf_of(token: &str) -> String {
    touchpoint_store::hash_token(&format!("csrf:{token}"))[..32].to_string()
}

/// What an `/api` request needs of a person's role: reading (also running an analysis),
/// editing (catalog, rules, surveys, benchmarks), or administering (the project's
/// settings, failed events, a customer's export and erasure).
pub fn permission(method: &Method, path: &str) -> Permission {
    let customer = path
        .strip_prefix("/api/customers/")
        .is_some_and(|rest| !matches!(rest.split('/').next(), Some("lookup" | "search")));
    if customer && (path.ends_with("/export") || method == Method::DELETE) {
        return Permission::Admin;
    }
    // Keys read and administer the project: seeing them too is the owners'.
    if path == "/api/keys" || path.starts_with("/api/keys/") {
        return Permission::Admin;
    }
    if method == Method::GET || method == Method::HEAD {
        return Permission::Read;
    }
    if path.starts_with("/api/analytics/")
        || path.starts_with("/api/listening/")
        || path == "/api/rules/test"
        || path == "/api/triggers/preview"
    {
        return Permission::Read;
    }
    // A sign-in link signs a customer in: an owner's.
    if path == "/api/project" || path == "/api/failed-events" || path == "/api/portal/links" {
        return Permission::Admin;
    }
    Permission::Edit
}

/// The route a session may also name its project for with `?project=ID`: a browser's
/// `EventSource` (the live view) cannot send the `X-Touchpoint-Project` header. Only for
/// reading it (`GET`), and the role check is the same.
pub const PROJECT_IN_QUERY: &str = "/api/live";

/// The project `?project=` names on [`PROJECT_IN_QUERY`]; `None` on any other request or
/// when it is not given (or empty).
fn project_in_query(method: &Method, path: &str, query: Option<&str>) -> Result<Option<i64>, ApiError> {
    if (method != Method::GET && method != Method::HEAD) || path != PROJECT_IN_QUERY {
        return Ok(None);
    }
    let given = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, v)| k == "project" && !v.is_empty())
        .last()
        .map(|(_, v)| v.into_owned());
    match given {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            Error::invalid(Code::InvalidQuery, Some("project".into()), format!("project: {v:?} is not a project id"))
                .into()
        }),
    }
}

/// The caller of an `/api` request made with a session: the person, their role on the
/// project named by `X-Touchpoint-Project` (or, on [`PROJECT_IN_QUERY`] only, by
/// `?project=`), checked against what the request needs.
pub async fn session_caller(
    s: &AppState,
    token: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let path = uri.path();
    let now = touchpoint_store::now_ms();
    let Some((user, grants)) = accounts::session_user(&*s.store, token, now).await? else {
        return Err(Error::new(Code::MissingKey, "your session has ended; sign in again at /login").into());
    };
    let in_header =
        headers.get("x-touchpoint-project").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let project = match in_header {
        Some(p) => p,
        None => project_in_query(method, path, uri.query())?.ok_or_else(|| {
            let how = match path {
                PROJECT_IN_QUERY => "?project=ID, or its id in the X-Touchpoint-Project header",
                _ => "its id in the X-Touchpoint-Project header",
            };
            Error::invalid(Code::InvalidQuery, Some("X-Touchpoint-Project".into()), format!("say which project: {how}"))
        })?,
    };
    let role = accounts::role_on(&grants, project)
        .ok_or_else(|| Error::forbidden(format!("{} has no role on project {project}", user.email)))?;
    let need = permission(method, path);
    if !role.allows(need) {
        let what = match need {
            Permission::Admin => "an owner",
            _ => "an analyst or an owner",
        };
        return Err(Error::forbidden(format!("only {what} may do this; {} is a {role} here", user.email)).into());
    }
    if method != Method::GET && method != Method::HEAD {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if sent != Some(csrf_of(token).as_str()) {
            return Err(Error::forbidden("the X-CSRF-Token header is missing or wrong; reload the page").into());
        }
    }
    Ok(Caller { project_id: project, by: By::Person { user_id: user.id, role } })
}

/// The language of a page: `?lang=`, then the person's choice, then the browser's.
fn page_lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).as_deref().and_then(Lang::parse))
        .or_else(|| crate::pages::accept_language(headers))
        .unwrap_or(Lang::En)
}

/// The sign-in page's texts.
fn text(lang: Lang, key: &str) -> &'static str {
    let t: [&'static str; 3] = match key {
        "title" => ["Sign in", "Přihlášení", "Logowanie"],
        "email" => ["E-mail", "E-mail", "E-mail"],
        "password" => ["Password", "Heslo", "Hasło"],
        "submit" => ["Sign in", "Přihlásit se", "Zaloguj się"],
        "wrong" => [
            "The e-mail address or the password is wrong.",
            "E-mail nebo heslo nejsou správné.",
            "Adres e-mail lub hasło są nieprawidłowe.",
        ],
        "wait" => [
            "Too many failed attempts. Try again in a few minutes.",
            "Příliš mnoho neúspěšných pokusů. Zkuste to znovu za několik minut.",
            "Zbyt wiele nieudanych prób. Spróbuj ponownie za kilka minut.",
        ],
        "expired" => [
            "The form expired. Please sign in again.",
            "Formulář vypršel. Přihlaste se prosím znovu.",
            "Formularz wygasł. Zaloguj się ponownie.",
        ],
        "signed_out" => ["You are signed out.", "Jste odhlášeni.", "Wylogowano."],
        "language" => ["Language", "Jazyk", "Język"],
        _ => [""; 3],
    };
    t[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            ("door.html", include_str!("../templates/door.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("dashboard.html", include_str!("../templates/dashboard.html")),
            ("set_password.html", include_str!("../templates/set_password.html")),
        ] {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(error = %e, name, "dashboard template does not parse");
            }
        }
        env
    })
}

/// An HTML page with the dashboard's headers: no framing, no inline script, no caching.
fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

fn render(name: &str, ctx: minijinja::Value) -> String {
    templates().get_template(name).and_then(|t| t.render(ctx)).unwrap_or_else(|e| {
        tracing::error!(error = %e, name, "rendering a dashboard page");
        "<!doctype html><title>Touchpoint</title><p>Something went wrong.</p>".to_string()
    })
}

/// Whether cookies must be `Secure`: the server is reached over HTTPS.
fn secure(s: &AppState, headers: &HeaderMap) -> bool {
    s.config.public_url.starts_with("https://")
        || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

fn set_cookie(name: &str, value: &str, path: &str, max_age_s: i64, secure: bool, same_site: &str) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite={same_site}{secure}")
}

/// A local path to go to after signing in (anything else goes to the dashboard).
fn local_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// `?lang=`, `?next=`, `?out=1` of the sign-in page.
#[derive(Deserialize, Default)]
pub struct LoginQuery {
    lang: Option<String>,
    next: Option<String>,
    out: Option<String>,
}

fn login_page(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf =
        touchpoint_store::hash_token(&format!("{}{}", touchpoint_store::now_ms(), rand_token()))[..32].to_string();
    let t = |k| text(lang, k);
    let body = render(
        "login.html",
        context! {
            lang => lang.code(), title => t("title"), email_label => t("email"), password_label => t("password"),
            submit => t("submit"), language => t("language"), next => next, email => email, error => error, csrf => csrf,
            langs => Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>(),
            lang_path => "/login", lang_param => "next", lang_value => query_escape(next),
        },
    );
    html(status, body, &[set_cookie(LOGIN_COOKIE, &csrf, "/login", 3_600, secure(s, headers), "Strict")])
}

/// A value for a URL's query string: every byte but `A–Z a–z 0–9 - _ . ~ /` as `%XX`.
fn query_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn rand_token() -> String {
    use rand::Rng;
    rand::thread_rng().gen::<u128>().to_string()
}

/// `GET /login`
pub async fn login_form(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let lang = page_lang(q.lang.as_deref(), &headers);
    let note = q.out.is_some().then(|| text(lang, "signed_out"));
    login_page(&s, &headers, lang, &local_next(q.next.as_deref()), "", note, StatusCode::OK)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /login`
pub async fn login(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = page_lang(f.lang.as_deref(), &headers);
    let next = local_next(f.next.as_deref());
    if f.csrf.is_empty() || cookie(&headers, LOGIN_COOKIE).as_deref() != Some(f.csrf.as_str()) {
        return login_page(&s, &headers, lang, &next, &f.email, Some(text(lang, "expired")), StatusCode::FORBIDDEN);
    }
    let client = addr.map(|a| a.ip().to_string()).unwrap_or_default();
    let now = touchpoint_store::now_ms();
    match accounts::sign_in(&*s.store, &s.sign_in, &f.email, &f.password, &client, now).await {
        Ok(signed) => {
            let max_age = (signed.expires_ms - now) / 1000;
            let mut r = Redirect::to(&next).into_response();
            let sec = secure(&s, &headers);
            for c in [
                set_cookie(COOKIE, &signed.token, "/", max_age, sec, "Lax"),
                set_cookie(LOGIN_COOKIE, "", "/login", 0, sec, "Strict"),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(e) if e.code == Code::RateLimited => {
            login_page(&s, &headers, lang, &next, &f.email, Some(text(lang, "wait")), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(e) if e.code == Code::BadCredentials => {
            login_page(&s, &headers, lang, &next, &f.email, Some(text(lang, "wrong")), StatusCode::UNAUTHORIZED)
        }
        Err(e) => {
            tracing::error!(error = %e.message, "signing in");
            login_page(&s, &headers, lang, &next, &f.email, Some(text(lang, "wait")), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`
pub async fn logout(State(s): State<AppState>, headers: HeaderMap, Form(f): Form<LogoutForm>) -> Response {
    let Some(token) = session_token(&headers) else { return Redirect::to("/login").into_response() };
    if f.csrf != csrf_of(&token) {
        return (StatusCode::FORBIDDEN, "the sign-out form expired; reload the page").into_response();
    }
    if let Err(e) = accounts::sign_out(&*s.store, &token).await {
        tracing::error!(error = %e.message, "signing out");
    }
    let mut r = Redirect::to("/login?out=1").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(COOKIE, "", "/", 0, secure(&s, &headers), "Lax")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /`: the dashboard, for a signed-in person; otherwise the sign-in page.
pub async fn dashboard(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let now = touchpoint_store::now_ms();
    let session = match session_token(&headers) {
        Some(t) => accounts::session_user(&*s.store, &t, now).await.ok().flatten().map(|u| (t, u)),
        None => None,
    };
    let Some((token, (user, grants))) = session else {
        let to = match q.lang.as_deref().and_then(Lang::parse) {
            Some(l) => format!("/login?lang={}", l.code()),
            None => "/login".to_string(),
        };
        return Redirect::to(&to).into_response();
    };
    let projects = match s.store.projects().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "listing projects for the dashboard");
            return (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer; try again").into_response();
        }
    };
    let visible: Vec<serde_json::Value> = projects
        .iter()
        .filter_map(|p| {
            let role: Role = accounts::role_on(&grants, p.id)?;
            Some(serde_json::json!({"id": p.id, "name": p.name, "role": role, "timezone": p.timezone}))
        })
        .collect();
    let lang = page_lang(q.lang.as_deref(), &headers);
    let boot = serde_json::json!({
        "user": {"email": user.email}, "projects": visible, "csrf": csrf_of(&token), "lang": lang.code(),
    });
    // JSON inside <script type="application/json">: `<` escaped so no text ends the element.
    let boot = boot.to_string().replace('<', "\\u003c");
    html(StatusCode::OK, render("dashboard.html", context! { lang => lang.code(), boot => boot }), &[])
}

// ---- Accounts: setting a password by link, changing it, inviting colleagues ------------

/// The set-password form's own CSRF cookie.
const LINK_COOKIE: &str = "tp_link";

/// The set-password page's texts.
fn link_text(lang: Lang, key: &str) -> &'static str {
    let t: [&'static str; 3] = match key {
        "title" => ["Choose your password", "Zvolte si heslo", "Ustal hasło"],
        "password" => [
            "New password (at least 10 characters)",
            "Nové heslo (alespoň 10 znaků)",
            "Nowe hasło (co najmniej 10 znaków)",
        ],
        "submit" => ["Save and sign in", "Uložit a přihlásit se", "Zapisz i zaloguj się"],
        "invalid" => [
            "This link is unknown, already used or expired. Ask the person who invited you for a new one.",
            "Tento odkaz neznáme, už byl použit nebo vypršel. Požádejte toho, kdo vás pozval, o nový.",
            "Ten link jest nieznany, już użyty lub wygasł. Poproś osobę, która cię zaprosiła, o nowy.",
        ],
        "short" => [
            "The password must have at least 10 characters.",
            "Heslo musí mít alespoň 10 znaků.",
            "Hasło musi mieć co najmniej 10 znaków.",
        ],
        "expired" => [
            "The form expired. Please try again.",
            "Formulář vypršel. Zkuste to prosím znovu.",
            "Formularz wygasł. Spróbuj ponownie.",
        ],
        "language" => ["Language", "Jazyk", "Język"],
        _ => [""; 3],
    };
    t[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

/// `?link=`, `?lang=` of the set-password page.
#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(default)]
    link: String,
    lang: Option<String>,
}

fn link_page(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    link: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf =
        touchpoint_store::hash_token(&format!("{}{}", touchpoint_store::now_ms(), rand_token()))[..32].to_string();
    let t = |k| link_text(lang, k);
    let body = render(
        "set_password.html",
        context! {
            lang => lang.code(), title => t("title"), password_label => t("password"), submit => t("submit"),
            language => t("language"), link => link, error => error, csrf => csrf,
            langs => Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>(),
            lang_path => "/set-password", lang_param => "link", lang_value => query_escape(link),
        },
    );
    html(status, body, &[set_cookie(LINK_COOKIE, &csrf, "/set-password", 3_600, secure(s, headers), "Strict")])
}

/// `GET /set-password?link=…`: the page a one-time link opens (from an invitation or
/// `touchpoint user create --link`).
pub async fn set_password_form(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<LinkQuery>) -> Response {
    let lang = page_lang(q.lang.as_deref(), &headers);
    link_page(&s, &headers, lang, &q.link, None, StatusCode::OK)
}

/// The set-password form.
#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    link: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /set-password`: the link is used up, the password set, the person signed in.
pub async fn set_password(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Response {
    let lang = page_lang(f.lang.as_deref(), &headers);
    if f.csrf.is_empty() || cookie(&headers, LINK_COOKIE).as_deref() != Some(f.csrf.as_str()) {
        return link_page(&s, &headers, lang, &f.link, Some(link_text(lang, "expired")), StatusCode::FORBIDDEN);
    }
    if accounts::check_password(&f.password).is_err() {
        return link_page(&s, &headers, lang, &f.link, Some(link_text(lang, "short")), StatusCode::BAD_REQUEST);
    }
    let now = touchpoint_store::now_ms();
    let user = match accounts::set_password_with_link(&*s.store, &f.link, &f.password, now).await {
        Ok(u) => u,
        Err(e) if e.code == Code::InvalidLink => {
            return link_page(&s, &headers, lang, &f.link, Some(link_text(lang, "invalid")), StatusCode::BAD_REQUEST)
        }
        Err(e) => {
            tracing::error!(error = %e.message, "setting a password by link");
            return (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer; try again").into_response();
        }
    };
    let client = addr.map(|a| a.ip().to_string()).unwrap_or_default();
    match accounts::sign_in(&*s.store, &s.sign_in, &user.email, &f.password, &client, now).await {
        Ok(signed) => {
            let mut r = Redirect::to("/").into_response();
            let sec = secure(&s, &headers);
            for c in [
                set_cookie(COOKIE, &signed.token, "/", (signed.expires_ms - now) / 1000, sec, "Lax"),
                set_cookie(LINK_COOKIE, "", "/set-password", 0, sec, "Strict"),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        // The password is set; signing in is the sign-in page's business.
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// The signed-in person of an `/account` request, with the CSRF header checked on
/// changes.
async fn account_caller(
    s: &AppState,
    headers: &HeaderMap,
    change: bool,
) -> Result<(touchpoint_store::User, Vec<touchpoint_store::Grant>), ApiError> {
    let token = session_token(headers).ok_or_else(|| Error::new(Code::MissingKey, "sign in first, at /login"))?;
    let Some(found) = accounts::session_user(&*s.store, &token, touchpoint_store::now_ms()).await? else {
        return Err(Error::new(Code::MissingKey, "your session has ended; sign in again at /login").into());
    };
    if change && headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) != Some(csrf_of(&token).as_str()) {
        return Err(Error::forbidden("the X-CSRF-Token header is missing or wrong; reload the page").into());
    }
    Ok(found)
}

/// A password change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    current: String,
    /// The new one.
    new: String,
}

/// `POST /account/password`: change one's password; every session ends (sign in again).
pub async fn change_password(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ApiJson(p): crate::extract::ApiJson<PasswordChange>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (user, _) = account_caller(&s, &headers, true).await?;
    accounts::change_password(&*s.store, &user, &p.current, &p.new).await?;
    Ok(axum::Json(serde_json::json!({"changed": true, "signed_out": true})))
}

/// An invitation to a project.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    /// The project.
    project: i64,
    /// The colleague's address.
    email: String,
    /// Their role there.
    role: Role,
    /// The language of the e-mail (`en`, `cs`, `pl`; the dashboard's), when one is sent.
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /account/invitations`: an owner invites a colleague; the answer has the
/// set-password link when the account has no password yet, and it is e-mailed to them
/// when an SMTP server is configured (`emailed`; `email_error` says why it was not, and
/// the link is then for the owner to send).
pub async fn invite(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ApiJson(i): crate::extract::ApiJson<Invitation>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (user, grants) = account_caller(&s, &headers, true).await?;
    let made = accounts::invite(&*s.store, &grants, &i.email, i.project, i.role).await?;
    let link = made.link.map(|t| format!("{}/set-password?link={t}", crate::surveys::base_url(&s, &headers)));
    let (mut emailed, mut email_error) = (false, None);
    if let Some(link) = &link {
        let project = s.store.project(i.project).await?.map(|p| p.name).unwrap_or_default();
        let lang = i.lang.as_deref().and_then(touchpoint_core::Lang::parse).unwrap_or(touchpoint_core::Lang::En);
        let mail = accounts::InvitationMail {
            to: &made.user.email,
            from_person: &user.email,
            project: &project,
            role: i.role,
            link,
            lang,
        };
        match accounts::email_invitation(&s, &mail).await {
            Ok(sent) => emailed = sent,
            Err(e) => {
                tracing::warn!(error = %e, "an invitation could not be e-mailed");
                email_error = Some(e);
            }
        }
    }
    Ok(axum::Json(serde_json::json!({"email": made.user.email, "role": i.role, "project": i.project, "link": link,
        "emailed": emailed, "email_error": email_error})))
}

/// `?project=` of the people list.
#[derive(Deserialize)]
pub struct PeopleQuery {
    project: i64,
}

/// `GET /account/people?project=`: who has a role on a project (its owners only).
pub async fn people(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PeopleQuery>,
) -> Result<axum::Json<Vec<serde_json::Value>>, ApiError> {
    let (_, grants) = account_caller(&s, &headers, false).await?;
    if !accounts::allows(&grants, q.project, Permission::Admin) {
        return Err(Error::forbidden("only an owner of the project may see who has a role on it").into());
    }
    let all = accounts::users(&*s.store).await?;
    Ok(axum::Json(
        all.into_iter()
            .filter_map(|(u, g)| {
                let role = accounts::role_on(&g, q.project)?;
                Some(serde_json::json!({"email": u.email, "role": role, "has_password": u.password_hash.is_some(),
                    "every_project": g.iter().any(|x| x.project.is_none())}))
            })
            .collect(),
    ))
}

/// The dashboard's files, embedded in the binary: name, text, type.
const ASSETS: [(&str, &str, &str); 4] = [
    ("app.js", include_str!("../web/app.js"), "text/javascript; charset=utf-8"),
    ("app.css", include_str!("../web/app.css"), "text/css; charset=utf-8"),
    ("touchpoint.js", include_str!("../web/touchpoint.js"), "text/javascript; charset=utf-8"),
    ("portal.js", include_str!("../web/portal.js"), "text/javascript; charset=utf-8"),
];

/// Each asset gzipped, once, on its first request.
fn gzipped(i: usize) -> &'static [u8] {
    static GZ: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    &GZ.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, text, _)| {
                use std::io::Write;
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                // Writing to memory cannot fail.
                z.write_all(text.as_bytes()).expect("gzip in memory");
                z.finish().expect("gzip in memory")
            })
            .collect()
    })[i]
}

/// `GET /assets/{name}`: the dashboard's script and style, gzipped for browsers that take
/// it (all of them: a quarter of the bytes).
pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>, headers: HeaderMap) -> Response {
    serve_asset(&name, &headers, "no-cache")
}

/// `GET /touchpoint.js`: the capture snippet (`web/touchpoint.js`: page views, identify,
/// track, consent, in-page surveys), for the brand's every page:
/// `<script src="https://…/touchpoint.js" data-key="WRITE_KEY" async></script>`. Cached
/// for five minutes, as it loads on every page view.
pub async fn snippet(headers: HeaderMap) -> Response {
    serve_asset("touchpoint.js", &headers, "public, max-age=300")
}

fn serve_asset(name: &str, headers: &HeaderMap, cache: &'static str) -> Response {
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("gzip"));
    let mut r = if gzip { gzipped(i).into_response() } else { ASSETS[i].1.into_response() };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ASSETS[i].2));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each `/api` request needs of a person's role, one case per line.
    #[test]
    fn requests_need_what_their_role_must_allow() {
        let check = |m: Method, path: &str, want: Permission| assert_eq!(permission(&m, path), want, "{m} {path}");
        check(Method::GET, "/api/touchpoints", Permission::Read);
        check(Method::POST, "/api/analytics/funnel", Permission::Read);
        check(Method::POST, "/api/listening/nps", Permission::Read);
        check(Method::POST, "/api/touchpoints", Permission::Edit);
        check(Method::PUT, "/api/rules/3", Permission::Edit);
        check(Method::POST, "/api/rules/test", Permission::Read);
        check(Method::GET, "/api/keys", Permission::Admin);
        check(Method::POST, "/api/keys", Permission::Admin);
        check(Method::DELETE, "/api/keys/7", Permission::Admin);
        check(Method::POST, "/api/surveys/nps/publish", Permission::Edit);
        check(Method::POST, "/api/benchmarks", Permission::Edit);
        check(Method::PUT, "/api/project", Permission::Admin);
        check(Method::POST, "/api/portal/links", Permission::Admin);
        check(Method::PATCH, "/api/requests/4", Permission::Edit);
        check(Method::GET, "/api/requests", Permission::Read);
        check(Method::DELETE, "/api/failed-events", Permission::Admin);
        check(Method::DELETE, "/api/customers/42", Permission::Admin);
        check(Method::GET, "/api/customers/42/export", Permission::Admin);
        check(Method::GET, "/api/customers/42", Permission::Read);
        check(Method::GET, "/api/customers/lookup", Permission::Read);
        check(Method::GET, "/api/customers/42/preferences", Permission::Read);
        check(Method::PUT, "/api/customers/42/preferences", Permission::Edit);
    }

    /// `?project=` names the project on the live stream only, and only for reading.
    #[test]
    fn only_the_live_stream_takes_its_project_from_the_query() {
        let get = |path: &str, q: &str| project_in_query(&Method::GET, path, Some(q)).map_err(|e| e.0.code);
        assert_eq!(get("/api/live", "project=3"), Ok(Some(3)));
        assert_eq!(get("/api/live", "lang=cs&project=%203"), Ok(Some(3)));
        assert_eq!(get("/api/live", "project="), Ok(None), "empty counts as not given");
        assert_eq!(get("/api/live", "project=x"), Err(Code::InvalidQuery));
        assert_eq!(get("/api/touchpoints", "project=3"), Ok(None));
        assert_eq!(get("/api/live/x", "project=3"), Ok(None));
        assert_eq!(project_in_query(&Method::POST, "/api/live", Some("project=3")).unwrap(), None);
        assert_eq!(project_in_query(&Method::GET, "/api/live", None).unwrap(), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(query_escape("/#view=journey&lang=cs"), "/%23view%3Djourney%26lang%3Dcs");
        assert_eq!(local_next(Some("/#view=journey")), "/#view=journey");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"] {
            assert_eq!(local_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_next(None), "/");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("tp_session=a; tp_dash=xyz; tp_lang=cs"));
        assert_eq!(session_token(&h).as_deref(), Some("xyz"));
        assert_eq!(page_lang(None, &h), Lang::Cs);
        assert_eq!(page_lang(Some("pl"), &h), Lang::Pl);
        assert_eq!(cookie(&h, "tp_das"), None);
    }
}
