//! The customer portal's pages (`/portal/{project}`): the brand's help centre in its look
//! and in en/cs/pl — a search box whose results are a shareable address (`?q=…&lang=…`),
//! with the matched words highlighted; every published article of the language; an
//! article's page with "did this help?". Plain HTML forms, no script: it works with
//! JavaScript off, as the survey pages do. Every page that writes a step takes from the
//! visitor address's page budget (the survey pages' `survey_posts_per_minute`); past it,
//! a 429 page. Each step goes into the visitor's journey
//! through `touchpoint_engine::portal`; this module only translates.

use crate::dashboard::cookie;
use crate::pages::{
    branded_message, branded_page, fallback_lang, ip_key, new_session, session_cookie, session_of, ClientAddr,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use touchpoint_core::event::format_date;
use touchpoint_core::Lang;
use touchpoint_engine::error::Class;
use touchpoint_engine::kb::ArticleView;
use touchpoint_engine::portal::{self, Visitor};
use touchpoint_listen::invite;
use touchpoint_store::Project;

/// A session cookie (no `Max-Age`): present, the browser's visit is under way.
const VISIT_COOKIE: &str = "tp_portal_visit";

/// The help centre's name in a language.
fn heading(lang: Lang) -> &'static str {
    ["Help centre", "Centrum nápovědy", "Centrum pomocy"][lang as usize]
}

/// The portal's texts in a language.
fn t(lang: Lang) -> minijinja::Value {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    context! {
        heading => heading(lang),
        language => pick(["Language", "Jazyk", "Język"]),
        search_label => pick(["Search the help centre", "Hledat v nápovědě", "Szukaj w centrum pomocy"]),
        placeholder => pick(["What do you need help with?", "S čím potřebujete pomoct?", "W czym możemy pomóc?"]),
        search => pick(["Search", "Hledat", "Szukaj"]),
        none => pick([
            "No article matches these words. Try other words, or contact us.",
            "Těmto slovům žádný článek neodpovídá. Zkuste jiná slova, nebo nás kontaktujte.",
            "Żaden artykuł nie pasuje do tych słów. Spróbuj innych słów lub skontaktuj się z nami.",
        ]),
        all => pick(["All articles", "Všechny články", "Wszystkie artykuły"]),
        back => heading(lang),
        helped => pick(["Did this article help you?", "Pomohl vám tento článek?", "Czy ten artykuł Ci pomógł?"]),
        yes => pick(["Yes", "Ano", "Tak"]),
        no => pick(["No", "Ne", "Nie"]),
        thanks => pick(["Thank you for telling us.", "Děkujeme za zpětnou vazbu.", "Dziękujemy za opinię."]),
        menu => pick(["Help centre menu", "Nabídka centra nápovědy", "Menu centrum pomocy"]),
    }
}

/// "3 articles for “reklamaci”" in a language, with its plural forms.
fn count_text(lang: Lang, n: usize, q: &str) -> String {
    match lang {
        Lang::En => format!("{n} {} for “{q}”", if n == 1 { "article" } else { "articles" }),
        Lang::Cs => format!(
            "{n} {} pro „{q}“",
            match n {
                1 => "článek",
                2..=4 => "články",
                _ => "článků",
            }
        ),
        Lang::Pl => {
            let few = (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100));
            format!(
                "{n} {} dla „{q}”",
                if n == 1 {
                    "artykuł"
                } else if few {
                    "artykuły"
                } else {
                    "artykułów"
                }
            )
        }
    }
}

/// "Updated 5 December 2026" in a language.
fn updated_text(lang: Lang, ms: i64) -> String {
    let day = format_date(ms);
    match lang {
        Lang::En => format!("Updated {day}"),
        Lang::Cs => format!("Aktualizováno {day}"),
        Lang::Pl => format!("Zaktualizowano {day}"),
    }
}

/// What the portal's pages take in their query string.
#[derive(Debug, Default, Deserialize)]
pub struct PortalQuery {
    /// The search words.
    pub q: Option<String>,
    /// The language (`cs`, `pl`, `en`).
    pub lang: Option<String>,
    /// Set after a "did this help?" answer.
    pub thanks: Option<String>,
}

/// The page's project, language and visitor, and the cookies to set.
pub(crate) struct Ctx {
    /// The project.
    pub project: Project,
    /// Who is on the page (signed in: the customer's ids).
    pub visitor: Visitor,
    /// The browser's own anonymous id (the pages' session cookie).
    pub browser: String,
    /// The project's secret (signs CSRF tokens, links and the sign-in cookie).
    pub secret: Vec<u8>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// The visit began with this page.
    pub new_visit: bool,
    /// The browser brought no session cookie (this page gives it one).
    pub fresh: bool,
}

/// The cookie of a signed-in customer (`touchpoint_engine::portal::session_value`),
/// valid on one project's portal.
pub(crate) const AUTH_COOKIE: &str = "tp_portal_auth";

impl Ctx {
    /// The signed-in customer, if any.
    pub fn customer(&self) -> Option<touchpoint_core::CustomerId> {
        self.visitor.customer
    }

    /// A CSRF token for a form of this page (bound to the browser's session cookie).
    pub fn csrf(&self, scope: &str) -> String {
        invite::csrf_token(&self.secret, &self.browser, scope)
    }

    /// Whether a posted form's CSRF token holds (a fresh browser cannot hold one).
    pub fn csrf_ok(&self, scope: &str, token: Option<&str>) -> bool {
        !self.fresh && invite::check_csrf(&self.secret, &self.browser, scope, token.unwrap_or(""))
    }

    /// An address of this portal, in the page's language (`path` after the project,
    /// starting with `/`, or empty).
    pub fn url(&self, path: &str) -> String {
        format!("/portal/{}{path}?lang={}", self.project.id, self.visitor.lang.code())
    }

    /// The portal's root address, in the page's language.
    pub fn home(&self) -> String {
        format!("/portal/{}?lang={}", self.project.id, self.visitor.lang.code())
    }

    /// An article's address, in the page's language.
    fn article_url(&self, id: i64, slug: &str) -> String {
        format!("/portal/{}/kb/{id}-{slug}?lang={}", self.project.id, self.visitor.lang.code())
    }

    /// A response with the cookies this page sets.
    pub fn respond(&self, mut r: Response) -> Response {
        for c in &self.cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }
}

/// Every portal page begins so: its [`context`] from the path's `{project}`, the
/// `?lang=` and the headers; a page of its own (an unknown project …) when there is none.
impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &AppState) -> Result<Self, Response> {
        let Path(params) =
            Path::<Vec<(String, String)>>::from_request_parts(parts, s).await.map_err(IntoResponse::into_response)?;
        let project = params.into_iter().find(|(k, _)| k == "project").map(|(_, v)| v).unwrap_or_default();
        let Query(pq) =
            Query::<PortalQuery>::from_request_parts(parts, s).await.map_err(IntoResponse::into_response)?;
        context(s, &project, pq.lang.as_deref(), &parts.headers).await
    }
}

/// The project of a portal address, its language and the visitor (signed in when the
/// browser holds a valid sign-in cookie for this project); or the page to answer.
pub(crate) async fn context(
    s: &AppState,
    project: &str,
    lang: Option<&str>,
    headers: &HeaderMap,
) -> Result<Ctx, Response> {
    let guess = fallback_lang(lang, headers, None);
    let missing = || {
        let pick = |x: [&'static str; 3]| x[guess as usize];
        branded_message(
            StatusCode::NOT_FOUND,
            guess,
            pick(["Help centre not found", "Centrum nápovědy nenalezeno", "Nie znaleziono centrum pomocy"]),
            pick([
                "There is no help centre at this address. Check the link.",
                "Na této adrese žádné centrum nápovědy není. Zkontrolujte odkaz.",
                "Pod tym adresem nie ma centrum pomocy. Sprawdź link.",
            ]),
            None,
        )
    };
    let Ok(id) = project.parse::<i64>() else { return Err(missing()) };
    let project = match s.store.project(id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(missing()),
        Err(e) => {
            tracing::error!(error = %e, "portal project unavailable");
            return Err(error_page(guess, None));
        }
    };
    let lang = fallback_lang(lang, headers, Some(&project));
    let mut cookies = vec![];
    let (anonymous_id, fresh) = match session_of(headers) {
        Some(id) => (id, false),
        None => {
            let id = new_session();
            cookies.push(session_cookie(s, &id));
            (id, true)
        }
    };
    let new_visit = cookie(headers, VISIT_COOKIE).is_none();
    if new_visit {
        cookies.push(format!("{VISIT_COOKIE}=1; Path=/portal/; HttpOnly; SameSite=Lax"));
    }
    let secret = match s.store.project_secret(project.id).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::error!(error = %e, "project secret unavailable");
            return Err(error_page(lang, Some(&project)));
        }
    };
    let signed = match cookie(headers, AUTH_COOKIE).and_then(|v| portal::read_session(&secret, &v)) {
        Some(session) => portal::signed_visitor(s, project.id, session, &anonymous_id, lang).await,
        None => None,
    };
    let visitor = signed.unwrap_or(Visitor { anonymous_id: anonymous_id.clone(), lang, ..Default::default() });
    Ok(Ctx { project, visitor, browser: anonymous_id, secret, cookies, new_visit, fresh })
}

/// The page of a failure inside.
pub(crate) fn error_page(lang: Lang, p: Option<&Project>) -> Response {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    branded_message(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        pick(["Something went wrong", "Něco se pokazilo", "Coś poszło nie tak"]),
        pick([
            "The help centre cannot answer right now. Please try again in a moment.",
            "Centrum nápovědy teď nemůže odpovědět. Zkuste to prosím za chvíli.",
            "Centrum pomocy nie może teraz odpowiedzieć. Spróbuj ponownie za chwilę.",
        ]),
        p.map(|p| &p.brand),
    )
}

/// The page of too many requests from one address.
pub(crate) fn slow_page(c: &Ctx) -> Response {
    let lang = c.visitor.lang;
    let pick = |x: [&'static str; 3]| x[lang as usize];
    let mut r = branded_message(
        StatusCode::TOO_MANY_REQUESTS,
        lang,
        pick(["Too many requests", "Příliš mnoho požadavků", "Zbyt wiele żądań"]),
        pick([
            "Please wait a minute and try again.",
            "Počkejte prosím minutu a zkuste to znovu.",
            "Odczekaj minutę i spróbuj ponownie.",
        ]),
        Some(&c.project.brand),
    );
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    r
}

/// The 429 page when the visitor's address has used up its page budget (the survey pages'
/// limiter: every portal page that writes a step takes from it, so a script cannot fill
/// the store through the portal); `None` while it has some left.
pub(crate) fn over_budget(s: &AppState, client: &ClientAddr, c: &Ctx) -> Option<Response> {
    let addr = client.0?;
    s.page_limiter.take(ip_key(addr.ip()), 1).is_err().then(|| c.respond(slow_page(c)))
}

/// A language link of the page.
#[derive(Serialize)]
struct LangLink {
    code: &'static str,
    label: &'static str,
    url: String,
    current: bool,
}

/// A search result as the template shows it.
#[derive(Serialize)]
struct HitLink {
    url: String,
    title: Vec<touchpoint_selfserve::search::Segment>,
    snippet: Vec<touchpoint_selfserve::search::Segment>,
    before: bool,
    after: bool,
}

/// A listed article.
#[derive(Serialize)]
struct ArticleLink {
    url: String,
    title: String,
}

/// `GET /portal/{project}?q=&lang=`: the help centre, and a search's results.
pub(crate) async fn home(
    State(s): State<AppState>,
    c: Ctx,
    Query(pq): Query<PortalQuery>,
    client: ClientAddr,
) -> Response {
    let (lang, pid) = (c.visitor.lang, c.project.id);
    let q: String = pq.q.unwrap_or_default().trim().chars().take(touchpoint_engine::kb::MAX_QUERY).collect();
    if c.new_visit || !q.is_empty() {
        if let Some(r) = over_budget(&s, &client, &c) {
            return r;
        }
    }
    if c.new_visit {
        portal::visit(&s, pid, &c.visitor).await;
    }
    let (hits, total) = if q.is_empty() {
        (vec![], 0)
    } else {
        match portal::search(&s, pid, &c.visitor, &q).await {
            Ok(a) => (
                a.hits
                    .into_iter()
                    .map(|h| HitLink {
                        url: c.article_url(h.id, &h.slug),
                        title: h.hit.title,
                        snippet: h.hit.snippet,
                        before: h.hit.snippet_cut_before,
                        after: h.hit.snippet_cut_after,
                    })
                    .collect(),
                a.total,
            ),
            Err(e) => {
                tracing::error!(error = %e, "portal search failed");
                return c.respond(error_page(lang, Some(&c.project)));
            }
        }
    };
    let articles: Vec<ArticleLink> = match portal::articles(&s, pid, &c.visitor).await {
        Ok(all) => all.into_iter().map(|a| ArticleLink { url: c.article_url(a.id, &a.slug), title: a.title }).collect(),
        Err(e) => {
            tracing::error!(error = %e, "portal articles unavailable");
            return c.respond(error_page(lang, Some(&c.project)));
        }
    };
    let query = |l: Lang| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            ser.append_pair("q", &q);
        }
        ser.append_pair("lang", l.code());
        format!("/portal/{pid}?{}", ser.finish())
    };
    let langs: Vec<LangLink> = [(Lang::Cs, "Čeština"), (Lang::Pl, "Polski"), (Lang::En, "English")]
        .into_iter()
        .map(|(l, label)| LangLink { code: l.code(), label, url: query(l), current: l == lang })
        .collect();
    let texts = t(lang);
    let heading = heading(lang).to_string();
    let title = if q.is_empty() { heading.clone() } else { format!("{q} – {heading}") };
    let ctx = context! {
        t => texts, heading, q, action => format!("/portal/{pid}"), langs, hits,
        count_text => count_text(lang, total, &q), articles, nav => nav(&c, "help"),
    };
    c.respond(branded_page(StatusCode::OK, "portal.html", lang, &title, Some(&c.project.brand), ctx))
}

/// The article id at the start of `12-reklamace-zbozi`.
fn article_id(path: &str) -> Option<i64> {
    let digits: String = path.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A paragraph or a list of an article's text.
#[derive(Serialize)]
struct Block {
    text: String,
    items: Vec<String>,
}

/// An article's text as blocks: paragraphs separated by blank lines; lines starting with
/// `- ` or `* ` are list items.
fn blocks(body: &str) -> Vec<Block> {
    let mut out = vec![];
    for para in body.replace("\r\n", "\n").split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<&str> = para.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let item = |l: &str| l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")).map(str::to_string);
        if lines.iter().all(|l| item(l).is_some()) {
            out.push(Block { text: String::new(), items: lines.iter().filter_map(|l| item(l)).collect() });
        } else {
            out.push(Block { text: lines.join(" "), items: vec![] });
        }
    }
    out
}

/// The CSRF scope of an article's "did this help?" form.
fn rate_scope(id: i64) -> String {
    format!("portal-rate-{id}")
}

/// `GET /portal/{project}/kb/{id}-{slug}`: an article.
pub(crate) async fn article(
    State(s): State<AppState>,
    c: Ctx,
    Path((_, path)): Path<(String, String)>,
    Query(pq): Query<PortalQuery>,
    client: ClientAddr,
) -> Response {
    let (lang, pid) = (c.visitor.lang, c.project.id);
    if pq.thanks.is_none() {
        if let Some(r) = over_budget(&s, &client, &c) {
            return r;
        }
    }
    if c.new_visit {
        portal::visit(&s, pid, &c.visitor).await;
    }
    let found = match article_id(&path) {
        Some(id) => portal::read(&s, pid, &c.visitor, id, pq.thanks.is_none()).await,
        None => Err(touchpoint_engine::Error::not_found("no article")),
    };
    let a: ArticleView = match found {
        Ok(a) => a,
        Err(e) if e.class() == Class::NotFound => return c.respond(article_missing(&c)),
        Err(e) => {
            tracing::error!(error = %e, "portal article unavailable");
            return c.respond(error_page(lang, Some(&c.project)));
        }
    };
    let ctx = context! {
        t => t(lang), heading => a.title.clone(), blocks => blocks(&a.body), back => c.home(),
        updated => updated_text(lang, a.updated_ms), thanks => pq.thanks.is_some(),
        rate_action => format!("/portal/{pid}/kb/{}-{}/helpful?lang={}", a.id, a.slug, lang.code()),
        csrf => c.csrf(&rate_scope(a.id)), nav => nav(&c, ""),
    };
    c.respond(branded_page(StatusCode::OK, "portal_article.html", lang, &a.title, Some(&c.project.brand), ctx))
}

/// The page of an article that is not there (or not published).
fn article_missing(c: &Ctx) -> Response {
    let lang = c.visitor.lang;
    let pick = |x: [&'static str; 3]| x[lang as usize];
    branded_message(
        StatusCode::NOT_FOUND,
        lang,
        pick(["Article not found", "Článek nenalezen", "Nie znaleziono artykułu"]),
        pick([
            "This article does not exist or is no longer published. Search the help centre for another.",
            "Tento článek neexistuje nebo už není zveřejněný. Zkuste jiný v centru nápovědy.",
            "Ten artykuł nie istnieje lub nie jest już opublikowany. Poszukaj innego w centrum pomocy.",
        ]),
        Some(&c.project.brand),
    )
}

/// `POST /portal/{project}/kb/{id}-{slug}/helpful`: "did this help?" answered
/// (`helpful=yes|no`, with the page's CSRF token); then back to the article, thanked.
pub(crate) async fn rate(
    State(s): State<AppState>,
    c: Ctx,
    Path((_, path)): Path<(String, String)>,
    client: ClientAddr,
    body: Bytes,
) -> Response {
    let (lang, pid) = (c.visitor.lang, c.project.id);
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let Some(id) = article_id(&path) else { return c.respond(article_missing(&c)) };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // A fresh visitor (no cookie came) cannot hold this page's token.
    if !c.csrf_ok(&rate_scope(id), field("_csrf")) {
        let pick = |x: [&'static str; 3]| x[lang as usize];
        return c.respond(branded_message(
            StatusCode::FORBIDDEN,
            lang,
            pick(["Please try again", "Zkuste to prosím znovu", "Prosimy spróbować ponownie"]),
            pick([
                "The form had expired or cookies are blocked. Reload the article and answer again.",
                "Formulář vypršel nebo jsou zablokované cookies. Načtěte článek znovu a odpovězte znovu.",
                "Formularz wygasł lub pliki cookie są zablokowane. Odśwież artykuł i odpowiedz ponownie.",
            ]),
            Some(&c.project.brand),
        ));
    }
    let helpful = match field("helpful") {
        Some("yes") => true,
        Some("no") => false,
        _ => {
            let pick = |x: [&'static str; 3]| x[lang as usize];
            return c.respond(branded_message(
                StatusCode::BAD_REQUEST,
                lang,
                pick(["Please choose an answer", "Vyberte prosím odpověď", "Wybierz odpowiedź"]),
                pick([
                    "Answer with Yes or No under the article.",
                    "Odpovězte pod článkem Ano, nebo Ne.",
                    "Odpowiedz pod artykułem Tak lub Nie.",
                ]),
                Some(&c.project.brand),
            ));
        }
    };
    match portal::rate(&s, pid, &c.visitor, id, helpful).await {
        Ok(a) => {
            let to = format!("/portal/{pid}/kb/{}-{}?lang={}&thanks=1", a.id, a.slug, lang.code());
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            c.respond(r)
        }
        Err(e) if e.class() == Class::NotFound => c.respond(article_missing(&c)),
        Err(e) => {
            tracing::error!(error = %e, "portal rating failed");
            c.respond(error_page(lang, Some(&c.project)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_forms() {
        let check = |lang, n, want: &str| assert_eq!(count_text(lang, n, "x"), want);
        check(Lang::En, 1, "1 article for “x”");
        check(Lang::En, 0, "0 articles for “x”");
        check(Lang::Cs, 1, "1 článek pro „x“");
        check(Lang::Cs, 3, "3 články pro „x“");
        check(Lang::Cs, 5, "5 článků pro „x“");
        check(Lang::Pl, 1, "1 artykuł dla „x”");
        check(Lang::Pl, 22, "22 artykuły dla „x”");
        check(Lang::Pl, 12, "12 artykułów dla „x”");
        check(Lang::Pl, 0, "0 artykułów dla „x”");
    }

    #[test]
    fn article_text_is_paragraphs_and_lists() {
        let b = blocks("First line\nsame paragraph.\n\n- one\n- two\n\n\nLast.");
        let shape: Vec<(String, Vec<String>)> = b.into_iter().map(|b| (b.text, b.items)).collect();
        assert_eq!(
            shape,
            [
                ("First line same paragraph.".to_string(), vec![]),
                (String::new(), vec!["one".to_string(), "two".to_string()]),
                ("Last.".to_string(), vec![])
            ]
        );
        assert_eq!(article_id("12-reklamace"), Some(12));
        assert_eq!(article_id("x12"), None);
    }
}

/// A link of the portal's navigation.
#[derive(Serialize)]
pub(crate) struct NavLink {
    label: &'static str,
    url: String,
    current: bool,
}

/// The portal's navigation: the help centre, and signed in, my requests and my data (or
/// signing in).
pub(crate) fn nav(c: &Ctx, current: &str) -> Vec<NavLink> {
    let pick = |x: [&'static str; 3]| x[c.visitor.lang as usize];
    let mut links = vec![NavLink { label: heading(c.visitor.lang), url: c.home(), current: current == "help" }];
    if c.customer().is_some() {
        links.push(NavLink {
            label: pick(["My requests", "Moje požadavky", "Moje zgłoszenia"]),
            url: c.url("/requests"),
            current: current == "requests",
        });
        links.push(NavLink {
            label: pick(["My data and messages", "Moje údaje a zprávy", "Moje dane i wiadomości"]),
            url: c.url("/account"),
            current: current == "account",
        });
    } else {
        links.push(NavLink {
            label: pick(["Sign in", "Přihlásit se", "Zaloguj się"]),
            url: c.url("/signin"),
            current: current == "signin",
        });
    }
    links
}
