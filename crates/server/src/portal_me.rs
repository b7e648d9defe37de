//! The signed-in part of the customer portal (`/portal/{project}/…`): signing in by a
//! magic link (typed address → e-mailed link; a link from the brand's site; the link in a
//! reply e-mail), the customer's requests (list, open one — with matching articles
//! suggested while it is written and before it is sent —, read the replies and answer),
//! and "my data and messages": message preferences per category (the consent trigger rules
//! obey), the export of everything stored about them and the verified erase, after a
//! confirmation.
//!
//! Plain HTML forms, as the help centre's pages (the one script, `web/portal.js` on the
//! requests page, only adds the suggestions while typing): a link opens a page with a
//! button (mail scanners follow links; only a person presses the button), every form
//! carries a CSRF token bound to the browser, every write takes from the address's page
//! budget, and a customer is only ever shown their own requests and data (another's
//! request is "not found"). This module translates to `touchpoint_engine::portal`,
//! `touchpoint_engine::service`, `touchpoint_engine::triggers` and
//! `touchpoint_engine::privacy`; one template (`portal_me.html`) draws every view.

use crate::pages::{branded_message, branded_page_with, ClientAddr, SESSION_COOKIE};
use crate::portal::{error_page, nav, over_budget, Ctx, PortalQuery, AUTH_COOKIE};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use touchpoint_core::Lang;
use touchpoint_engine::error::Class;
use touchpoint_engine::kb::SearchInput;
use touchpoint_engine::portal::{self, LinkRefused, LinkSent};
use touchpoint_engine::service::{self, OpenInput, RequestView};
use touchpoint_engine::triggers::{self, PreferenceChange, CUSTOMER_CHANNELS};

/// The preference categories the portal offers (a rule's `then.category`).
const CATEGORIES: [&str; 3] = ["service", "surveys", "marketing"];

/// The signed-in pages' texts in a language.
fn t(lang: Lang) -> minijinja::Value {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    context! {
        menu => pick(["Help centre menu", "Nabídka centra nápovědy", "Menu centrum pomocy"]),
        signin => pick(["Sign in", "Přihlášení", "Logowanie"]),
        signin_intro => pick([
            "Type your e-mail address and we will send you a link to sign in. No password needed.",
            "Zadejte svůj e-mail a pošleme vám odkaz pro přihlášení. Heslo nepotřebujete.",
            "Wpisz swój adres e-mail, a wyślemy Ci link do logowania. Hasło nie jest potrzebne.",
        ]),
        email => pick(["E-mail address", "E-mailová adresa", "Adres e-mail"]),
        send_link => pick(["Send me a link", "Poslat odkaz", "Wyślij link"]),
        no_smtp => pick([
            "This help centre cannot send e-mail. Sign in from the brand's website or app, which gives you a link.",
            "Toto centrum nápovědy neumí posílat e-maily. Přihlaste se z webu nebo aplikace značky, které vám dají odkaz.",
            "To centrum pomocy nie może wysyłać e-maili. Zaloguj się ze strony lub aplikacji marki, które dadzą Ci link.",
        ]),
        sent => pick(["Check your e-mail", "Zkontrolujte e-mail", "Sprawdź skrzynkę e-mail"]),
        continue_label => pick(["Sign in", "Přihlásit se", "Zaloguj się"]),
        continue_intro => pick([
            "Press the button to sign in to the help centre.",
            "Stisknutím tlačítka se přihlásíte do centra nápovědy.",
            "Naciśnij przycisk, aby zalogować się do centrum pomocy.",
        ]),
        signout => pick(["Sign out", "Odhlásit se", "Wyloguj się"]),
        requests => pick(["My requests", "Moje požadavky", "Moje zgłoszenia"]),
        no_requests => pick([
            "You have no requests yet.",
            "Zatím nemáte žádné požadavky.",
            "Nie masz jeszcze żadnych zgłoszeń.",
        ]),
        new_request => pick(["New request", "Nový požadavek", "Nowe zgłoszenie"]),
        subject => pick(["Subject", "Předmět", "Temat"]),
        message => pick(["Your message", "Vaše zpráva", "Twoja wiadomość"]),
        next => pick(["Continue", "Pokračovat", "Dalej"]),
        suggest_heading => pick([
            "Before you send it: these articles may answer your question",
            "Než požadavek odešlete: tyto články možná odpoví na vaši otázku",
            "Zanim wyślesz: te artykuły mogą odpowiedzieć na Twoje pytanie",
        ]),
        send_anyway => pick(["Send my request", "Odeslat požadavek", "Wyślij zgłoszenie"]),
        opened => pick(["Opened", "Otevřeno", "Otwarte"]),
        updated => pick(["Last change", "Poslední změna", "Ostatnia zmiana"]),
        you => pick(["You", "Vy", "Ty"]),
        team => pick(["Service team", "Zákaznický servis", "Obsługa klienta"]),
        reply => pick(["Reply", "Odpovědět", "Odpowiedz"]),
        your_reply => pick(["Your reply", "Vaše odpověď", "Twoja odpowiedź"]),
        closed_note => pick([
            "This request is closed. If you need more help, open a new request.",
            "Tento požadavek je uzavřený. Pokud potřebujete další pomoc, otevřete nový.",
            "To zgłoszenie jest zamknięte. Jeśli potrzebujesz pomocy, otwórz nowe.",
        ]),
        back => pick(["All my requests", "Všechny moje požadavky", "Wszystkie moje zgłoszenia"]),
        status_changed => pick(["Status changed to", "Stav změněn na", "Status zmieniony na"]),
        account => pick(["My data and messages", "Moje údaje a zprávy", "Moje dane i wiadomości"]),
        prefs => pick(["Messages you want from us", "Zprávy, které od nás chcete", "Wiadomości, które chcesz od nas dostawać"]),
        prefs_intro => pick([
            "Tick what you want to get, and how.",
            "Zaškrtněte, co chcete dostávat a jak.",
            "Zaznacz, co chcesz otrzymywać i jak.",
        ]),
        topic => pick(["Topic", "Téma", "Temat"]),
        save => pick(["Save", "Uložit", "Zapisz"]),
        saved => pick(["Your choices are saved.", "Vaše volby jsou uložené.", "Twoje wybory zostały zapisane."]),
        export_heading => pick(["Download my data", "Stáhnout moje údaje", "Pobierz moje dane"]),
        export_intro => pick([
            "Everything we keep about you, as one JSON file.",
            "Vše, co o vás uchováváme, v jednom souboru JSON.",
            "Wszystko, co o Tobie przechowujemy, w jednym pliku JSON.",
        ]),
        export_link => pick(["Download (JSON)", "Stáhnout (JSON)", "Pobierz (JSON)"]),
        erase_heading => pick(["Erase my data", "Smazat moje údaje", "Usuń moje dane"]),
        everywhere_heading => pick(["Signed in elsewhere?", "Přihlášeni jinde?", "Zalogowano gdzie indziej?"]),
        everywhere_intro => pick([
            "If you signed in on a computer that is not yours, or lost a phone, sign out on every device at once.",
            "Pokud jste se přihlásili na cizím počítači nebo ztratili telefon, odhlaste se na všech zařízeních najednou.",
            "Jeśli logowałeś się na cudzym komputerze lub zgubiłeś telefon, wyloguj się na wszystkich urządzeniach naraz.",
        ]),
        everywhere_button => pick(["Sign out everywhere", "Odhlásit všude", "Wyloguj wszędzie"]),
        signed_out_everywhere => pick([
            "You are signed out on every device. To come back, ask for a new link.",
            "Jste odhlášeni na všech zařízeních. Pro návrat si nechte poslat nový odkaz.",
            "Wylogowano Cię na wszystkich urządzeniach. Aby wrócić, poproś o nowy link.",
        ]),
        erase_intro => pick([
            "This erases everything we keep about you — your requests, answers and history — and cannot be undone.",
            "Tím smažete vše, co o vás uchováváme – požadavky, odpovědi i historii. Nelze to vrátit zpět.",
            "To usunie wszystko, co o Tobie przechowujemy — zgłoszenia, odpowiedzi i historię. Nie da się tego cofnąć.",
        ]),
        erase_confirm => pick([
            "I understand: erase all my data",
            "Rozumím: smazat všechny moje údaje",
            "Rozumiem: usuń wszystkie moje dane",
        ]),
        erase_button => pick(["Erase my data", "Smazat moje údaje", "Usuń moje dane"]),
        required => pick(["Fill this in.", "Vyplňte prosím.", "Uzupełnij to pole."]),
    }
}

/// A status's name in a language.
fn status_name(lang: Lang, status: &str) -> &'static str {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    match status {
        "new" => pick(["Received", "Přijato", "Przyjęte"]),
        "open" => pick(["In progress", "Řešíme", "W toku"]),
        "waiting" => pick(["Waiting for you", "Čeká na vás", "Czeka na Ciebie"]),
        "resolved" => pick(["Resolved", "Vyřešeno", "Rozwiązane"]),
        _ => pick(["Closed", "Uzavřeno", "Zamknięte"]),
    }
}

/// A preference category's label in a language.
fn category_name(lang: Lang, category: &str) -> &'static str {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    match category {
        "service" => pick([
            "About my orders and requests",
            "K mým objednávkám a požadavkům",
            "O moich zamówieniach i zgłoszeniach",
        ]),
        "surveys" => pick([
            "Questions about my experience (surveys)",
            "Otázky na moji zkušenost (průzkumy)",
            "Pytania o moje doświadczenia (ankiety)",
        ]),
        _ => pick(["Offers and news", "Nabídky a novinky", "Oferty i nowości"]),
    }
}

/// A channel's label in a language ([`CUSTOMER_CHANNELS`]).
fn channel_name(lang: Lang, channel: &str) -> &'static str {
    let pick = |x: [&'static str; 3]| x[lang as usize];
    match channel {
        "email" => pick(["E-mail", "E-mail", "E-mail"]),
        "webhook" => pick(["Text & app", "SMS a aplikace", "SMS i aplikacja"]),
        _ => pick(["On our website", "Na našem webu", "Na naszej stronie"]),
    }
}

/// A date and time as the portal shows it (UTC, minutes).
fn when(rfc3339: &str) -> String {
    rfc3339.get(..16).map(|s| format!("{} UTC", s.replace('T', " "))).unwrap_or_default()
}

/// Where e-mailed links point: the configured public address, else the address the
/// server listens on — never the request's `Host`, which a client chooses (a link to
/// someone else's address would carry a valid sign-in token there).
fn mail_base(s: &AppState) -> String {
    if !s.config.public_url.is_empty() {
        return s.config.public_url.trim_end_matches('/').to_string();
    }
    let listen = &s.config.listen;
    let listen = match listen.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]", port)) => format!("127.0.0.1:{port}"),
        _ => listen.clone(),
    };
    format!("http://{listen}")
}

/// The form fields of a body.
fn fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// One field's value.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A 303 to `to`.
fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A `Set-Cookie` value of the sign-in cookie (`None`: remove it).
fn auth_cookie(s: &AppState, project: i64, value: Option<&str>) -> String {
    let secure = if s.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    match value {
        Some(v) => format!(
            "{AUTH_COOKIE}={v}; Path=/portal/{project}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            portal::SESSION_TTL_S
        ),
        None => format!("{AUTH_COOKIE}=; Path=/portal/{project}; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    }
}

/// The page of a form that expired (CSRF token missing or wrong).
fn expired_form(c: &Ctx) -> Response {
    let pick = |x: [&'static str; 3]| x[c.visitor.lang as usize];
    c.respond(branded_message(
        StatusCode::FORBIDDEN,
        c.visitor.lang,
        pick(["Please try again", "Zkuste to prosím znovu", "Prosimy spróbować ponownie"]),
        pick([
            "The form had expired or cookies are blocked. Go back, reload the page and send it again.",
            "Formulář vypršel nebo jsou zablokované cookies. Vraťte se, načtěte stránku znovu a odešlete ji.",
            "Formularz wygasł lub pliki cookie są zablokowane. Wróć, odśwież stronę i wyślij ponownie.",
        ]),
        Some(&c.project.brand),
    ))
}

/// Render the template's `view` with the page's common parts (the requests view with the
/// portal's script, which suggests articles while a request is written).
fn page(c: &Ctx, status: StatusCode, view: &str, current: &str, title: &str, ctx: minijinja::Value) -> Response {
    let lang = c.visitor.lang;
    let common = context! {
        view, t => t(lang), nav => nav(c, current), heading => title,
        signout_action => c.url("/signout"), signout_csrf => c.csrf("portal-signout"),
        signed_in => c.customer().is_some(),
    };
    let merged = context! { ..ctx, ..common };
    let script = view == "requests";
    c.respond(branded_page_with(status, "portal_me.html", lang, title, Some(&c.project.brand), merged, script))
}

/// The page for a visitor who must sign in first: to the sign-in page.
fn must_sign_in(c: &Ctx) -> Response {
    c.respond(see_other(&c.url("/signin")))
}

/// `GET /portal/{project}/signin`: the sign-in form.
pub(crate) async fn signin_form(State(s): State<AppState>, c: Ctx, Query(pq): Query<PortalQuery>) -> Response {
    if c.customer().is_some() {
        return c.respond(see_other(&c.url("/requests")));
    }
    signin_page(&s, &c, StatusCode::OK, "", None, pq.thanks.as_deref() == Some("everywhere"))
}

/// The sign-in form with what was typed and what is wrong with it (and, after "sign out
/// everywhere", a note saying it is done).
fn signin_page(
    s: &AppState,
    c: &Ctx,
    status: StatusCode,
    email: &str,
    error: Option<String>,
    signed_out: bool,
) -> Response {
    let title = t(c.visitor.lang).get_attr("signin").map(|v| v.to_string()).unwrap_or_default();
    let ctx = context! {
        action => c.url("/signin"), csrf => c.csrf("portal-signin"), email, error, signed_out,
        can_mail => touchpoint_engine::mail::configured(&s.config),
    };
    page(c, status, "signin", "signin", &title, ctx)
}

/// `POST /portal/{project}/signin`: e-mail a sign-in link to the typed address (the page
/// says the same whether a customer has the address or not).
pub(crate) async fn signin_post(State(s): State<AppState>, c: Ctx, client: ClientAddr, body: Bytes) -> Response {
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let f = fields(&body);
    if !c.csrf_ok("portal-signin", field(&f, "_csrf")) {
        return expired_form(&c);
    }
    let typed = field(&f, "email").unwrap_or("").to_string();
    let email = match portal::email_address("email", &typed) {
        Ok(e) => e,
        Err(_) => return signin_page(&s, &c, StatusCode::BAD_REQUEST, &typed, Some(bad_email(c.visitor.lang)), false),
    };
    // Each address a few links: a script cannot flood someone's inbox.
    let key = limiter_key(&format!("signin:{}:{email}", c.project.id));
    if s.link_limiter.take(key, 1).is_err() {
        return c.respond(crate::portal::slow_page(&c));
    }
    match portal::email_link(&s, &c.project, &email, c.visitor.lang, &mail_base(&s)).await {
        Ok(LinkSent::Sent) => {
            let pick = |x: [&'static str; 3]| x[c.visitor.lang as usize];
            let text = match c.visitor.lang {
                Lang::En => format!("We sent a sign-in link to {email}. It works once, for 30 minutes."),
                Lang::Cs => format!("Poslali jsme odkaz pro přihlášení na {email}. Platí jednou, 30 minut."),
                Lang::Pl => format!("Wysłaliśmy link do logowania na {email}. Działa raz, przez 30 minut."),
            };
            let title = pick(["Check your e-mail", "Zkontrolujte e-mail", "Sprawdź skrzynkę e-mail"]);
            page(&c, StatusCode::OK, "sent", "signin", title, context! { text })
        }
        Ok(LinkSent::NoSmtp) => signin_page(&s, &c, StatusCode::SERVICE_UNAVAILABLE, &typed, None, false),
        Err(e) if e.class() == Class::Invalid => {
            signin_page(&s, &c, StatusCode::BAD_REQUEST, &typed, Some(bad_email(c.visitor.lang)), false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "a sign-in link was not sent");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// A limiter key of a text: the start of its SHA-256 (it names no address).
fn limiter_key(text: &str) -> i64 {
    i64::from_str_radix(&touchpoint_store::hash_token(text)[..15], 16).unwrap_or(0)
}

/// "This is not an e-mail address" in a language.
fn bad_email(lang: Lang) -> String {
    ["This is not an e-mail address.", "Toto není e-mailová adresa.", "To nie jest adres e-mail."][lang as usize]
        .to_string()
}

/// The page of a link that cannot sign in, with a way to ask for a new one.
fn refused_page(c: &Ctx, why: LinkRefused) -> Response {
    let pick = |x: [&'static str; 3]| x[c.visitor.lang as usize];
    let (heading, text) = match why {
        LinkRefused::Used => (
            pick(["This link has been used", "Tento odkaz už byl použit", "Ten link został już użyty"]),
            pick([
                "A sign-in link works only once. Ask for a new one below.",
                "Odkaz pro přihlášení platí jen jednou. Požádejte níže o nový.",
                "Link do logowania działa tylko raz. Poproś poniżej o nowy.",
            ]),
        ),
        LinkRefused::Expired => (
            pick(["This link has expired", "Platnost odkazu vypršela", "Link wygasł"]),
            pick([
                "Sign-in links work for a limited time. Ask for a new one below.",
                "Odkazy pro přihlášení platí jen omezenou dobu. Požádejte níže o nový.",
                "Linki do logowania działają przez ograniczony czas. Poproś poniżej o nowy.",
            ]),
        ),
        LinkRefused::Tampered | LinkRefused::Gone => (
            pick(["This link is not valid", "Tento odkaz není platný", "Ten link jest nieprawidłowy"]),
            pick([
                "The link is damaged or was changed. Copy the whole link from the e-mail, or ask for a new one below.",
                "Odkaz je poškozený nebo byl změněn. Zkopírujte z e-mailu celý odkaz, nebo požádejte níže o nový.",
                "Link jest uszkodzony lub został zmieniony. Skopiuj cały link z e-maila albo poproś poniżej o nowy.",
            ]),
        ),
    };
    let ctx = context! { text, again => c.url("/signin"), mine => c.url("/requests") };
    page(c, StatusCode::FORBIDDEN, "refused", "signin", heading, ctx)
}

/// `GET /portal/{project}/signin/{token}`: the link's page — a button that signs in (a
/// mail scanner that follows the link uses nothing up). A link that cannot work says so
/// here already.
pub(crate) async fn link_page(State(s): State<AppState>, c: Ctx, Path((_, token)): Path<(String, String)>) -> Response {
    match portal::check_link(&*s.store, c.project.id, &token).await {
        Ok(Ok(_)) => {}
        Ok(Err(why)) => return refused_page(&c, why),
        Err(e) => {
            tracing::error!(error = %e, "a sign-in link could not be checked");
            return c.respond(error_page(c.visitor.lang, Some(&c.project)));
        }
    }
    let title = t(c.visitor.lang).get_attr("continue_label").map(|v| v.to_string()).unwrap_or_default();
    let action = format!("/portal/{}/signin/{token}?lang={}", c.project.id, c.visitor.lang.code());
    page(&c, StatusCode::OK, "confirm", "signin", &title, context! { action, csrf => c.csrf("portal-link") })
}

/// `POST /portal/{project}/signin/{token}`: sign in with the link (once), then to the
/// customer's requests (or the request the link was for).
pub(crate) async fn link_post(
    State(s): State<AppState>,
    c: Ctx,
    Path((_, token)): Path<(String, String)>,
    client: ClientAddr,
    body: Bytes,
) -> Response {
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    if !c.csrf_ok("portal-link", field(&fields(&body), "_csrf")) {
        return expired_form(&c);
    }
    match portal::sign_in(&s, c.project.id, &token, &c.browser).await {
        Ok(Ok(signed)) => {
            let to = match signed.request {
                Some(r) => c.url(&format!("/requests/{r}")),
                None => c.url("/requests"),
            };
            let value = portal::session_value(&c.secret, signed.customer, signed.email.as_deref());
            let mut r = c.respond(see_other(&to));
            if let Ok(v) = HeaderValue::from_str(&auth_cookie(&s, c.project.id, Some(&value))) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(why)) => refused_page(&c, why),
        Err(e) => {
            tracing::error!(error = %e, "portal sign-in failed");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// A redirect to `to` that removes the sign-in cookie.
fn signed_out(s: &AppState, c: &Ctx, to: &str) -> Response {
    let mut r = c.respond(see_other(to));
    if let Ok(v) = HeaderValue::from_str(&auth_cookie(s, c.project.id, None)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `POST /portal/{project}/signout`: forget the sign-in cookie.
pub(crate) async fn signout(State(s): State<AppState>, c: Ctx, body: Bytes) -> Response {
    if !c.csrf_ok("portal-signout", field(&fields(&body), "_csrf")) {
        return expired_form(&c);
    }
    signed_out(&s, &c, &c.home())
}

/// `POST /portal/{project}/account/signout-everywhere`: end every session of the customer
/// (this one too), then the sign-in page says so.
pub(crate) async fn signout_everywhere(State(s): State<AppState>, c: Ctx, client: ClientAddr, body: Bytes) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    if !c.csrf_ok("portal-everywhere", field(&fields(&body), "_csrf")) {
        return expired_form(&c);
    }
    if let Err(e) = portal::sign_out_everywhere(&s, c.project.id, customer).await {
        tracing::error!(error = %e, "a portal sign-out everywhere was not saved");
        return c.respond(error_page(c.visitor.lang, Some(&c.project)));
    }
    signed_out(&s, &c, &format!("{}&thanks=everywhere", c.url("/signin")))
}

/// A request as a row of the list.
#[derive(Serialize)]
struct RequestRow {
    url: String,
    subject: String,
    status: String,
    status_name: &'static str,
    opened: String,
    updated: String,
}

/// An entry of a request's timeline as shown.
#[derive(Serialize)]
struct EntryRow {
    mine: bool,
    who: String,
    at: String,
    body: String,
    status_change: Option<&'static str>,
}

/// A matching article suggested before a request is sent.
#[derive(Serialize)]
struct Suggestion {
    url: String,
    title: String,
}

/// The requests page: the list and the form for a new one.
async fn requests_page(
    s: &AppState,
    c: &Ctx,
    status: StatusCode,
    draft: (&str, &str),
    suggestions: Vec<Suggestion>,
    error: Option<&str>,
) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(c) };
    let lang = c.visitor.lang;
    let mine = match service::mine(&*s.store, c.project.id, customer).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "portal requests unavailable");
            return c.respond(error_page(lang, Some(&c.project)));
        }
    };
    let rows: Vec<RequestRow> = mine
        .into_iter()
        .map(|r| RequestRow {
            url: c.url(&format!("/requests/{}", r.id)),
            status_name: status_name(lang, &r.status),
            subject: r.subject,
            status: r.status,
            opened: when(&r.created),
            updated: when(&r.updated),
        })
        .collect();
    let title = t(lang).get_attr("requests").map(|v| v.to_string()).unwrap_or_default();
    let ctx = context! {
        rows, action => c.url("/requests"), csrf => c.csrf("portal-request"),
        subject => draft.0, body => draft.1, suggestions, error, suggest_url => c.url("/suggest"),
    };
    page(c, status, "requests", "requests", &title, ctx)
}

/// `GET /portal/{project}/requests`: the signed-in customer's requests.
pub(crate) async fn requests(State(s): State<AppState>, c: Ctx) -> Response {
    requests_page(&s, &c, StatusCode::OK, ("", ""), vec![], None).await
}

/// `POST /portal/{project}/requests`: open a request. Without `confirm`, the articles
/// that match it are shown first (with the draft kept), and the customer sends it or not.
pub(crate) async fn open_request(State(s): State<AppState>, c: Ctx, client: ClientAddr, body: Bytes) -> Response {
    if c.customer().is_none() {
        return must_sign_in(&c);
    }
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let f = fields(&body);
    if !c.csrf_ok("portal-request", field(&f, "_csrf")) {
        return expired_form(&c);
    }
    let input = OpenInput {
        subject: field(&f, "subject").unwrap_or("").to_string(),
        body: field(&f, "body").unwrap_or("").to_string(),
    };
    let required = t(c.visitor.lang).get_attr("required").map(|v| v.to_string()).unwrap_or_default();
    if input.subject.trim().is_empty() || input.body.trim().is_empty() {
        return requests_page(&s, &c, StatusCode::BAD_REQUEST, (&input.subject, &input.body), vec![], Some(&required))
            .await;
    }
    if field(&f, "confirm").is_none() {
        let q: String =
            format!("{} {}", input.subject, input.body).chars().take(touchpoint_engine::kb::MAX_QUERY).collect();
        let search = SearchInput { q, lang: Some(c.visitor.lang.code().into()), limit: Some(3), prefix: false };
        let hits = touchpoint_engine::kb::search(&*s.store, &s.kb, c.project.id, &search).await;
        let suggestions: Vec<Suggestion> = hits
            .map(|a| {
                a.hits
                    .into_iter()
                    .map(|h| Suggestion {
                        url: c.url(&format!("/kb/{}-{}", h.id, h.slug)),
                        title: h.hit.title.into_iter().map(|s| s.text).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !suggestions.is_empty() {
            return requests_page(&s, &c, StatusCode::OK, (&input.subject, &input.body), suggestions, None).await;
        }
    }
    match service::open(&s, c.project.id, &c.visitor, &input).await {
        Ok(r) => c.respond(see_other(&c.url(&format!("/requests/{}", r.id)))),
        Err(e) if e.class() == Class::RateLimited => c.respond(crate::portal::slow_page(&c)),
        Err(e) if e.class() == Class::Invalid => {
            let msg = e.message.clone();
            requests_page(&s, &c, StatusCode::BAD_REQUEST, (&input.subject, &input.body), vec![], Some(&msg)).await
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal request was not opened");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// The articles (at most three, in the page's language) that match what a customer is
/// writing; `prefix`: its last word is still being typed.
async fn suggest(s: &AppState, c: &Ctx, text: &str, prefix: bool) -> Vec<Suggestion> {
    let q: String = text.chars().take(touchpoint_engine::kb::MAX_QUERY).collect();
    let search = SearchInput { q, lang: Some(c.visitor.lang.code().into()), limit: Some(3), prefix };
    match touchpoint_engine::kb::search(&*s.store, &s.kb, c.project.id, &search).await {
        Ok(a) => a
            .hits
            .into_iter()
            .map(|h| Suggestion {
                url: c.url(&format!("/kb/{}-{}", h.id, h.slug)),
                title: h.hit.title.into_iter().map(|s| s.text).collect(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "no suggestions");
            vec![]
        }
    }
}

/// What the suggestions answer.
#[derive(Serialize)]
struct Suggestions {
    hits: Vec<Suggestion>,
}

/// `GET /portal/{project}/suggest?q=&lang=`: the articles that match a request being
/// written (for the portal's script; signed-in customers only, JSON).
pub(crate) async fn suggestions(State(s): State<AppState>, c: Ctx, Query(pq): Query<PortalQuery>) -> Response {
    if c.customer().is_none() {
        return (StatusCode::UNAUTHORIZED, axum::Json(Suggestions { hits: vec![] })).into_response();
    }
    let hits = suggest(&s, &c, pq.q.as_deref().unwrap_or(""), true).await;
    let mut r = axum::Json(Suggestions { hits }).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The page of a request that is not the customer's (or not there).
fn request_missing(c: &Ctx) -> Response {
    let pick = |x: [&'static str; 3]| x[c.visitor.lang as usize];
    c.respond(branded_message(
        StatusCode::NOT_FOUND,
        c.visitor.lang,
        pick(["Request not found", "Požadavek nenalezen", "Nie znaleziono zgłoszenia"]),
        pick([
            "There is no request of yours at this address.",
            "Na této adrese žádný váš požadavek není.",
            "Pod tym adresem nie ma Twojego zgłoszenia.",
        ]),
        Some(&c.project.brand),
    ))
}

/// A request's page: its timeline and the reply form.
fn request_page(c: &Ctx, status: StatusCode, r: RequestView, error: Option<&str>) -> Response {
    let lang = c.visitor.lang;
    let tt = t(lang);
    let label = |k: &str| tt.get_attr(k).map(|v| v.to_string()).unwrap_or_default();
    let entries: Vec<EntryRow> = r
        .entries
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.kind != "assign")
        .map(|e| EntryRow {
            mine: e.author == "customer",
            who: if e.author == "customer" { label("you") } else { label("team") },
            at: when(&e.at),
            status_change: (e.kind == "status").then(|| status_name(lang, &e.body)),
            body: if e.kind == "status" { String::new() } else { e.body },
        })
        .collect();
    let ctx = context! {
        entries, status => r.status.clone(), status_name => status_name(lang, &r.status),
        opened => when(&r.created), closed => r.status == "closed",
        action => c.url(&format!("/requests/{}", r.id)), csrf => c.csrf(&format!("portal-reply-{}", r.id)),
        back => c.url("/requests"), error,
    };
    page(c, status, "request", "requests", &r.subject, ctx)
}

/// `GET /portal/{project}/requests/{id}`: one of the customer's requests.
pub(crate) async fn request(State(s): State<AppState>, c: Ctx, Path((_, id)): Path<(String, String)>) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    let Ok(id) = id.parse::<i64>() else { return request_missing(&c) };
    match service::my_request(&*s.store, c.project.id, customer, id).await {
        Ok(r) => request_page(&c, StatusCode::OK, r, None),
        Err(e) if e.class() == Class::NotFound => request_missing(&c),
        Err(e) => {
            tracing::error!(error = %e, "a portal request is unavailable");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// `POST /portal/{project}/requests/{id}`: the customer answers their request.
pub(crate) async fn reply(
    State(s): State<AppState>,
    c: Ctx,
    Path((_, id)): Path<(String, String)>,
    client: ClientAddr,
    body: Bytes,
) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else { return request_missing(&c) };
    let f = fields(&body);
    if !c.csrf_ok(&format!("portal-reply-{id}"), field(&f, "_csrf")) {
        return expired_form(&c);
    }
    match service::customer_reply(&s, c.project.id, &c.visitor, id, field(&f, "body").unwrap_or("")).await {
        Ok(_) => c.respond(see_other(&c.url(&format!("/requests/{id}")))),
        Err(e) if e.class() == Class::NotFound => request_missing(&c),
        Err(e) if matches!(e.class(), Class::Invalid | Class::Conflict) => {
            let msg = if e.class() == Class::Invalid {
                t(c.visitor.lang).get_attr("required").map(|v| v.to_string()).unwrap_or_default()
            } else {
                t(c.visitor.lang).get_attr("closed_note").map(|v| v.to_string()).unwrap_or_default()
            };
            match service::my_request(&*s.store, c.project.id, customer, id).await {
                Ok(r) => request_page(&c, StatusCode::BAD_REQUEST, r, Some(&msg)),
                Err(_) => request_missing(&c),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal reply was not saved");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// A category's row of the preferences form: one checkbox per channel.
#[derive(Serialize)]
struct PrefRow {
    /// The category's label.
    label: &'static str,
    /// Its channels, in [`CUSTOMER_CHANNELS`] order.
    cells: Vec<PrefCell>,
}

/// One checkbox: a category on a channel.
#[derive(Serialize)]
struct PrefCell {
    /// The form value, `category/channel`.
    value: String,
    /// The channel's label.
    channel: &'static str,
    /// Whether messages of the category go on the channel: no stored no for it (the
    /// category's or `all`'s, on the channel or on `all`), as the delivery obeys.
    allowed: bool,
}

/// `GET /portal/{project}/account?saved=`: preferences, export, erase.
pub(crate) async fn account(State(s): State<AppState>, c: Ctx, Query(pq): Query<PortalQuery>) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    let lang = c.visitor.lang;
    let prefs = match triggers::customer_preferences(&*s.store, c.project.id, customer).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "portal preferences unavailable");
            return c.respond(error_page(lang, Some(&c.project)));
        }
    };
    let refused =
        |cat: &str, ch: &str| prefs.iter().any(|p| !p.allowed && triggers::covers(&p.category, &p.channel, cat, ch));
    let rows: Vec<PrefRow> = CATEGORIES
        .iter()
        .map(|&cat| PrefRow {
            label: category_name(lang, cat),
            cells: CUSTOMER_CHANNELS
                .iter()
                .map(|&ch| PrefCell {
                    value: format!("{cat}/{ch}"),
                    channel: channel_name(lang, ch),
                    allowed: !refused(cat, ch),
                })
                .collect(),
        })
        .collect();
    let channels: Vec<&str> = CUSTOMER_CHANNELS.iter().map(|&ch| channel_name(lang, ch)).collect();
    let title = t(lang).get_attr("account").map(|v| v.to_string()).unwrap_or_default();
    let ctx = context! {
        prefs => rows, channels, saved => pq.thanks.is_some(), email => c.visitor.email.clone(),
        prefs_action => c.url("/account/preferences"), prefs_csrf => c.csrf("portal-prefs"),
        export_url => c.url("/account/export"),
        erase_action => c.url("/account/erase"), erase_csrf => c.csrf("portal-erase"),
        everywhere_action => c.url("/account/signout-everywhere"), everywhere_csrf => c.csrf("portal-everywhere"),
    };
    page(&c, StatusCode::OK, "account", "account", &title, ctx)
}

/// `POST /portal/{project}/account/preferences`: the checked categories on the checked
/// channels are allowed, the others refused (as said in the portal); the broader choices
/// (a category on every channel, every category) are set to yes so that the boxes decide.
pub(crate) async fn preferences(State(s): State<AppState>, c: Ctx, client: ClientAddr, body: Bytes) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let f = fields(&body);
    if !c.csrf_ok("portal-prefs", field(&f, "_csrf")) {
        return expired_form(&c);
    }
    let change = |category: &str, channel: &str, allowed: bool| PreferenceChange {
        category: category.into(),
        channel: channel.into(),
        allowed,
    };
    let mut changes = vec![];
    for cat in CATEGORIES {
        for ch in CUSTOMER_CHANNELS {
            let checked = f.iter().any(|(k, v)| k == "allow" && *v == format!("{cat}/{ch}"));
            changes.push(change(cat, ch, checked));
        }
        changes.push(change(cat, "all", true));
    }
    // An earlier "nothing at all" (an unsubscribe from everything) gives way to the choices.
    for ch in CUSTOMER_CHANNELS {
        changes.push(change("all", ch, true));
    }
    changes.push(change("all", "all", true));
    match triggers::set_customer_preferences(&*s.store, c.project.id, customer, &changes, "portal").await {
        Ok(_) => c.respond(see_other(&format!("{}&thanks=1", c.url("/account")))),
        Err(e) => {
            tracing::error!(error = %e, "portal preferences not saved");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// `GET /portal/{project}/account/export`: everything stored about the customer, as a
/// JSON file to download.
pub(crate) async fn export(State(s): State<AppState>, c: Ctx, client: ClientAddr) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let who = touchpoint_engine::privacy::Who::Customer(customer);
    match touchpoint_engine::privacy::export(&*s.store, c.project.id, &who).await {
        Ok(doc) => {
            let body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            let mut r = (StatusCode::OK, body).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"my-data-{}.json\"", c.project.id)) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            c.respond(r)
        }
        Err(e) => {
            tracing::error!(error = %e, "portal export failed");
            c.respond(error_page(c.visitor.lang, Some(&c.project)))
        }
    }
}

/// `POST /portal/{project}/account/erase`: erase the customer (with `confirm=yes`), sign
/// them out and forget the browser's id; the page says whether the erasure was verified.
pub(crate) async fn erase(State(s): State<AppState>, c: Ctx, client: ClientAddr, body: Bytes) -> Response {
    let Some(customer) = c.customer() else { return must_sign_in(&c) };
    if let Some(r) = over_budget(&s, &client, &c) {
        return r;
    }
    let f = fields(&body);
    if !c.csrf_ok("portal-erase", field(&f, "_csrf")) {
        return expired_form(&c);
    }
    let lang = c.visitor.lang;
    let pick = |x: [&'static str; 3]| x[lang as usize];
    if field(&f, "confirm") != Some("yes") {
        return c.respond(branded_message(
            StatusCode::BAD_REQUEST,
            lang,
            pick(["Nothing was erased", "Nic nebylo smazáno", "Nic nie zostało usunięte"]),
            pick([
                "Tick the box to confirm, then press the button again.",
                "Zaškrtněte potvrzení a stiskněte tlačítko znovu.",
                "Zaznacz potwierdzenie i naciśnij przycisk ponownie.",
            ]),
            Some(&c.project.brand),
        ));
    }
    let who = touchpoint_engine::privacy::Who::Customer(customer);
    let done = touchpoint_engine::privacy::erase(&s, c.project.id, &who).await;
    let mut r = match done {
        Ok(e) if e.verified => branded_message(
            StatusCode::OK,
            lang,
            pick(["Your data has been erased", "Vaše údaje byly smazány", "Twoje dane zostały usunięte"]),
            pick([
                "We no longer keep anything about you, and we checked it. Thank you for having been our customer.",
                "Už o vás nic neuchováváme a ověřili jsme to. Děkujeme, že jste byli naším zákazníkem.",
                "Nie przechowujemy już żadnych danych o Tobie i sprawdziliśmy to. Dziękujemy, że byłeś naszym klientem.",
            ]),
            Some(&c.project.brand),
        ),
        Ok(e) => {
            tracing::error!(receipt = ?e.stores, "a portal erasure was not verified");
            error_page(lang, Some(&c.project))
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal erasure failed");
            error_page(lang, Some(&c.project))
        }
    };
    // Signed out, and the browser's id (erased and suppressed) forgotten.
    for v in
        [auth_cookie(&s, c.project.id, None), format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")]
    {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}
