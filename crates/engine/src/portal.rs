//! The customer portal's use cases: what a customer does there, each step put into their
//! journey as a touchpoint of the self-service channel (`portal-visit`, `kb-search` with
//! the query and the number of results, `kb-article`, `kb-helpful`/`kb-not-helpful`), so
//! that self-service shows on the journey map, in funnels, churn drivers and attribution
//! like every other touchpoint. The portal's pages (the server) only translate.
//!
//! A visitor is known by the anonymous id of their browser (the pages' session cookie),
//! as Segment's SDKs know one. Signing in ties the browser to a customer:
//!
//! - **Magic links.** A sign-in link carries its claims — project, and a customer or an
//!   e-mail address, a random nonce, the expiry and the request to open — signed with the
//!   project's secret (HMAC-SHA256), so a changed byte
//!   is refused before the store is asked. It is single use: using it inserts its nonce
//!   into the store, whose primary key refuses a second use, also by two browsers at
//!   once. A link is e-mailed to an address typed into the portal ([`email_link`], 30
//!   minutes), made for the brand's own site or app to hand over ([`link_url`], through
//!   the API with a secret key), or put into the team's reply e-mail (3 days).
//! - **Sessions.** A signed-in browser holds a signed cookie naming the customer and its
//!   expiry ([`session_value`], 12 hours); it is checked against the store on every page
//!   (an erased customer is signed out, and so is every session signed before the
//!   customer's "sign out everywhere": [`sign_out_everywhere`]).
//! - **Who signs in.** A link for a customer (from the brand's site, which knows its
//!   customers, or in a reply) signs in as that customer, and sends an `identify` of the
//!   browser's anonymous id with their user id, so the visits before signing in join their
//!   journey. A link for an address (typed into the portal) signs in to that address's
//!   own portal account — a customer of its own, made on first use, whose anonymous id is
//!   a MAC of the address — never to a customer found by an `email` trait: anyone holding
//!   the public write key can give any customer any trait. Once a link naming a known
//!   customer *and* an address is used (the brand's site vouched for the address with its
//!   secret key, or it is the address a reply went to), the address's account is joined
//!   to the customer (an `identify` of its anonymous id with their user id, which the
//!   identity graph merges as any other): from then on, typing the address signs in as
//!   that customer, with their requests and history. Signed in, every step carries the
//!   customer's ids.

use crate::error::{Code, Error};
use crate::kb::{self, ArticleView, SearchAnswer, SearchInput};
use crate::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use touchpoint_core::catalog::{
    KB_ARTICLE_EVENT, KB_HELPFUL_EVENT, KB_NOT_HELPFUL_EVENT, KB_SEARCH_EVENT, PORTAL_VISIT_EVENT,
};
use touchpoint_core::event::{format_time, ParseContext};
use touchpoint_core::{CustomerId, Event, IdentityKind, Lang, Limits, ProjectId};
use touchpoint_listen::invite;
use touchpoint_selfserve::stem::fold;
use touchpoint_store::{now_ms, Project, Store};

/// The most results a portal search shows.
pub const PORTAL_RESULTS: usize = 20;

/// Who is on the portal.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// Their browser's anonymous id (signed in: the customer's, when they have no user id).
    pub anonymous_id: String,
    /// The language the portal shows.
    pub lang: Lang,
    /// Signed in: the customer.
    pub customer: Option<CustomerId>,
    /// Signed in: the customer's user id, if they have one.
    pub user_id: Option<String>,
    /// Signed in: the customer's proven e-mail address (see [`signed_visitor`]), if any.
    pub email: Option<String>,
}

/// Put a portal step into the visitor's journey (through the writer; a full queue waits,
/// the step is not lost).
pub(crate) async fn record(s: &Engine, project: ProjectId, v: &Visitor, event: &str, props: Map<String, Value>) {
    let mut body = json!({
        "type": "track",
        "event": event,
        "messageId": format!("portal-{:032x}", rand::random::<u128>()),
        "timestamp": format_time(now_ms()),
        "properties": props,
        "context": {"locale": v.lang.code(), "channel": "self-service"},
    });
    if !v.anonymous_id.is_empty() {
        body["anonymousId"] = json!(v.anonymous_id);
    }
    if let Some(u) = &v.user_id {
        body["userId"] = json!(u);
    }
    match Event::parse(body, &ParseContext { received_at: now_ms(), ..Default::default() }, &Limits::default()) {
        Ok(e) => crate::surveys::submit_events(s, project, vec![e]).await,
        Err(e) => tracing::error!(error = %e, "a portal event did not parse"),
    }
}

/// A visit began (the first page of a browser session).
pub async fn visit(s: &Engine, project: ProjectId, v: &Visitor) {
    record(s, project, v, PORTAL_VISIT_EVENT, Map::new()).await;
}

/// Search the published articles in the visitor's language, and record the search with
/// its query and how many articles it found (an empty query records nothing).
pub async fn search(s: &Engine, project: ProjectId, v: &Visitor, q: &str) -> Result<SearchAnswer, Error> {
    let input =
        SearchInput { q: q.into(), lang: Some(v.lang.code().into()), limit: Some(PORTAL_RESULTS), prefix: false };
    let answer = kb::search(&*s.store, &s.kb, project, &input).await?;
    if !answer.q.is_empty() {
        let mut props = Map::new();
        props.insert("query".into(), json!(answer.q));
        props.insert("results".into(), json!(answer.total));
        props.insert("lang".into(), json!(v.lang.code()));
        record(s, project, v, KB_SEARCH_EVENT, props).await;
    }
    Ok(answer)
}

/// The published articles in the visitor's language, by title (without diacritics, so
/// `Záruka` sorts among the `Z`s).
pub async fn articles(s: &Engine, project: ProjectId, v: &Visitor) -> Result<Vec<ArticleView>, Error> {
    let mut all: Vec<ArticleView> =
        kb::list(&*s.store, project).await?.into_iter().filter(|a| a.published && a.lang == v.lang.code()).collect();
    all.sort_by_cached_key(|a| (fold(&a.title), a.id));
    Ok(all)
}

/// Read a published article, and record it when `count` (not when the same visitor is
/// shown it again after answering "did this help?").
pub async fn read(s: &Engine, project: ProjectId, v: &Visitor, id: i64, count: bool) -> Result<ArticleView, Error> {
    let a = kb::get(&*s.store, project, id, true).await?;
    if !count {
        return Ok(a);
    }
    let mut props = Map::new();
    props.insert("article_id".into(), json!(a.id));
    props.insert("title".into(), json!(a.title));
    props.insert("lang".into(), json!(a.lang));
    record(s, project, v, KB_ARTICLE_EVENT, props).await;
    Ok(a)
}

/// The visitor said whether a published article helped.
pub async fn rate(s: &Engine, project: ProjectId, v: &Visitor, id: i64, helpful: bool) -> Result<ArticleView, Error> {
    let a = kb::get(&*s.store, project, id, true).await?;
    let mut props = Map::new();
    props.insert("article_id".into(), json!(a.id));
    props.insert("helpful".into(), json!(helpful));
    let event = if helpful { KB_HELPFUL_EVENT } else { KB_NOT_HELPFUL_EVENT };
    record(s, project, v, event, props).await;
    Ok(a)
}

/// How long an e-mailed sign-in link works, seconds.
pub const EMAIL_LINK_TTL_S: i64 = 30 * 60;
/// How long the sign-in link in a reply e-mail works, seconds.
pub const REPLY_LINK_TTL_S: i64 = 3 * 86_400;
/// The longest a link for the brand's site may work, seconds.
pub const MAX_LINK_TTL_S: i64 = 86_400;
/// How long a portal session lasts, seconds.
pub const SESSION_TTL_S: i64 = 12 * 3600;

/// What a sign-in link says, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The project.
    #[serde(rename = "p")]
    pub project: ProjectId,
    /// The customer, when the link is for one.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerId>,
    /// The e-mail address: alone, the address's own portal account; with a customer,
    /// their address as the brand's site vouched for it (replies are e-mailed there).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A random nonce: the link's identity for single use.
    #[serde(rename = "n")]
    pub nonce: String,
    /// Expiry, unix seconds.
    #[serde(rename = "x")]
    pub expires_s: i64,
    /// The request to open after signing in.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub request: Option<i64>,
}

/// The prefix of a link token's signed value (a cookie's value never starts with it).
const LINK_PREFIX: &str = "ml1.";
/// The prefix of a session cookie's signed value (`ps1.` cookies, whose expiry was in
/// seconds, are no longer read: their holders sign in again).
const SESSION_PREFIX: &str = "ps2.";

/// Sign claims into a link token: `ml1.` base64url(JSON) `.` MAC.
pub fn link_token(secret: &[u8], claims: &LinkClaims) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    invite::sign_value(secret, &format!("{LINK_PREFIX}{body}"))
}

/// Why a sign-in link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    /// Not a link we made, or changed since.
    #[error("the link is damaged or has been altered")]
    Tampered,
    /// Past its expiry.
    #[error("the link has expired")]
    Expired,
    /// Used already.
    #[error("the link has been used already")]
    Used,
    /// Its customer is no longer there (erased).
    #[error("the link's customer is no longer there")]
    Gone,
}

/// Check a link token's signature and expiry (not its single use).
pub fn read_link(secret: &[u8], project: ProjectId, token: &str, now_s: i64) -> Result<LinkClaims, LinkRefused> {
    use base64::Engine as _;
    let value = invite::unsign_value(secret, token).ok_or(LinkRefused::Tampered)?;
    let body = value.strip_prefix(LINK_PREFIX).ok_or(LinkRefused::Tampered)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| LinkRefused::Tampered)?;
    let claims: LinkClaims = serde_json::from_slice(&bytes).map_err(|_| LinkRefused::Tampered)?;
    if claims.project != project {
        return Err(LinkRefused::Tampered);
    }
    if now_s >= claims.expires_s {
        return Err(LinkRefused::Expired);
    }
    Ok(claims)
}

/// Check a link as its page opens: signature, expiry, and not used yet.
pub async fn check_link(
    store: &dyn Store,
    project: ProjectId,
    token: &str,
) -> Result<Result<LinkClaims, LinkRefused>, Error> {
    let secret = store.project_secret(project).await?;
    let c = match read_link(&secret, project, token, now_ms() / 1000) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if store.portal_link_used(project, &c.nonce).await? {
        return Ok(Err(LinkRefused::Used));
    }
    Ok(Ok(c))
}

/// A new link's claims.
fn claims(
    project: ProjectId,
    customer: Option<CustomerId>,
    email: Option<String>,
    ttl_s: i64,
    request: Option<i64>,
) -> LinkClaims {
    LinkClaims {
        project,
        customer,
        email,
        nonce: format!("{:032x}", rand::random::<u128>()),
        expires_s: now_ms() / 1000 + ttl_s,
        request,
    }
}

/// A sign-in link's address (`base_url/portal/{project}/signin/{token}`).
pub async fn link_url(
    store: &dyn Store,
    project: &Project,
    customer: Option<CustomerId>,
    email: Option<String>,
    ttl_s: i64,
    request: Option<i64>,
    base_url: &str,
) -> Result<String, Error> {
    let secret = store.project_secret(project.id).await?;
    let token = link_token(&secret, &claims(project.id, customer, email, ttl_s, request));
    Ok(format!("{}/portal/{}/signin/{token}", base_url.trim_end_matches('/'), project.id))
}

/// An e-mail address as typed, checked: trimmed, lowercase, one `@` with text on both
/// sides, a dot in the domain, at most 254 characters, no spaces or control characters.
pub fn email_address(field: &str, raw: &str) -> Result<String, Error> {
    let e = raw.trim().to_lowercase();
    let ok = e.chars().count() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@')
        });
    if ok {
        Ok(e)
    } else {
        Err(Error::invalid(
            Code::InvalidField,
            Some(field.into()),
            format!("{:?} is not an e-mail address", raw.trim()),
        ))
    }
}

/// The anonymous id of an e-mail address's portal account, generation `generation`: a
/// MAC of the address with the project's secret, so nobody without the secret can send
/// events as it. An erased account's id is suppressed; signing in again with the address
/// makes the next generation.
fn email_account_id(secret: &[u8], email: &str, generation: u32) -> String {
    let signed = invite::sign_value(secret, &format!("pe.{email}.{generation}"));
    let tag = signed.rsplit_once('.').map_or("", |(_, t)| t);
    format!("portal-{tag}")
}

/// The customer of an e-mail address's portal account, made (an `identify` of its
/// anonymous id with the address as the `email` trait) the first time — or, with `user`,
/// joined to that known customer (an `identify` of the anonymous id with their user id:
/// the account, if it was one of its own, is merged into theirs; one already joined to
/// another known customer stays so, a conflict as the identity graph records one). Only a
/// used sign-in link leads here: the address is proven (or vouched for by the brand's
/// secret key, with `user`), and no `email` trait anyone could send with the public write
/// key decides whose data it opens.
async fn email_account(s: &Engine, project: ProjectId, email: &str, user: Option<&str>) -> Result<CustomerId, Error> {
    let secret = s.store.project_secret(project).await?;
    for generation in 0..20 {
        let id = email_account_id(&secret, email, generation);
        if user.is_none() {
            if let Some(c) = s.store.find_identity(project, IdentityKind::Anonymous, &id).await? {
                return crate::read::canonical(&*s.store, project, c).await;
            }
        }
        identify(s, project, user, &id, user.is_none().then_some(email)).await;
        if let Some(c) = s.store.find_identity(project, IdentityKind::Anonymous, &id).await? {
            return crate::read::canonical(&*s.store, project, c).await;
        }
        // Refused: this generation was erased.
    }
    Err(Error::internal("no portal account could be made for the address"))
}

/// Where a sign-in link was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSent {
    /// E-mailed.
    Sent,
    /// No SMTP server is configured: nothing was sent.
    NoSmtp,
}

/// E-mail a sign-in link to an address typed into the portal, in the portal's language.
/// It opens the address's own portal account (see [`email_account`]), never a customer
/// found by an `email` trait. Nothing is told about who has the address.
pub async fn email_link(
    s: &Engine,
    project: &Project,
    email: &str,
    lang: Lang,
    base_url: &str,
) -> Result<LinkSent, Error> {
    let email = email_address("email", email)?;
    if !crate::mail::configured(&s.config) {
        return Ok(LinkSent::NoSmtp);
    }
    let link = link_url(&*s.store, project, None, Some(email.clone()), EMAIL_LINK_TTL_S, None, base_url).await?;
    let link = format!("{link}?lang={}", lang.code());
    let texts = match lang {
        Lang::Cs => (
            "Přihlášení do centra nápovědy {{ brand }}",
            "Dobrý den,\n\npřihlásíte se tímto odkazem (platí jednou, 30 minut):\n\n{{ link }}\n\nPokud jste o přihlášení nežádali, e-mail ignorujte.",
        ),
        Lang::Pl => (
            "Logowanie do centrum pomocy {{ brand }}",
            "Dzień dobry,\n\nzalogujesz się tym linkiem (działa raz, przez 30 minut):\n\n{{ link }}\n\nJeśli nie prosiłeś o logowanie, zignoruj tę wiadomość.",
        ),
        Lang::En => (
            "Sign in to the {{ brand }} help centre",
            "Hello,\n\nsign in with this link (it works once, for 30 minutes):\n\n{{ link }}\n\nIf you did not ask to sign in, you can ignore this e-mail.",
        ),
    };
    let brand = project.brand.brand_name.clone().unwrap_or_else(|| project.name.clone());
    let id = format!("signin_{:016x}", rand::random::<u64>());
    match crate::mail::send(s, &email, &id, lang, texts, &json!({"brand": brand, "link": link})).await {
        Ok(true) => Ok(LinkSent::Sent),
        Ok(false) => Ok(LinkSent::NoSmtp),
        Err(e) => {
            tracing::warn!(error = %e, "a sign-in link could not be e-mailed");
            Err(Error::overloaded(60, "the e-mail could not be sent; try again in a minute"))
        }
    }
}

/// A customer signed in: who, and where to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The customer (canonical).
    pub customer: CustomerId,
    /// The request the link was for.
    pub request: Option<i64>,
    /// Their proven address: the one the link was e-mailed to, or the one the brand's
    /// site vouched for with its secret key.
    pub email: Option<String>,
}

/// Sign in with a link token from the browser holding `browser` (its anonymous id):
/// check the signature and expiry, use the link once, find or make the customer and tie
/// the browser to them (see the module documentation).
pub async fn sign_in(
    s: &Engine,
    project: ProjectId,
    token: &str,
    browser: &str,
) -> Result<Result<SignedIn, LinkRefused>, Error> {
    let secret = s.store.project_secret(project).await?;
    let c = match read_link(&secret, project, token, now_ms() / 1000) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if !s.store.use_portal_link(project, &c.nonce, c.expires_s * 1000, now_ms()).await? {
        return Ok(Err(LinkRefused::Used));
    }
    let customer = match (c.customer, &c.email) {
        (Some(id), _) => match s.store.customer(id).await? {
            Some(row) if row.project_id == project => row.merged_into.unwrap_or(row.id),
            _ => return Ok(Err(LinkRefused::Gone)),
        },
        (None, Some(email)) => email_account(s, project, email, None).await?,
        (None, None) => return Ok(Err(LinkRefused::Tampered)),
    };
    if let Some(user) = s.store.customer(customer).await?.and_then(|r| r.user_id) {
        identify(s, project, Some(&user), browser, None).await;
        // A known customer with an address the brand vouched for (or a reply went to):
        // typing that address signs in as them from now on.
        if let (Some(_), Some(email)) = (c.customer, &c.email) {
            email_account(s, project, email, Some(&user)).await?;
        }
    }
    Ok(Ok(SignedIn { customer, request: c.request, email: c.email }))
}

/// Send an `identify` of an anonymous id (a browser's, with a user id; an e-mail
/// account's, with its address) and wait for it to be stored.
async fn identify(s: &Engine, project: ProjectId, user: Option<&str>, anonymous: &str, email: Option<&str>) {
    let mut body = json!({
        "type": "identify",
        "anonymousId": anonymous,
        "messageId": format!("portal-{:032x}", rand::random::<u128>()),
        "timestamp": format_time(now_ms()),
        "context": {"channel": "self-service"},
    });
    if let Some(u) = user {
        body["userId"] = json!(u);
    }
    if let Some(e) = email {
        body["traits"] = json!({"email": e});
    }
    // An address here is one the customer signed in with a link sent to it: believed.
    let cx = ParseContext { received_at: now_ms(), vouched: true, ..Default::default() };
    match Event::parse(body, &cx, &Limits::default()) {
        Ok(e) => crate::surveys::submit_events(s, project, vec![e]).await,
        Err(e) => tracing::error!(error = %e, "a portal identify did not parse"),
    }
}

/// A session cookie's value for a signed-in customer.
pub fn session_value(secret: &[u8], customer: CustomerId, email: Option<&str>) -> String {
    use base64::Engine as _;
    let exp_ms = now_ms() + SESSION_TTL_S * 1000;
    let email = email.map(|e| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(e)).unwrap_or_default();
    invite::sign_value(secret, &format!("{SESSION_PREFIX}{customer}.{exp_ms}.{email}"))
}

/// A portal session as its cookie says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// The customer signed in.
    pub customer: CustomerId,
    /// Their proven address (see [`signed_visitor`]).
    pub email: Option<String>,
    /// When it was signed, ms (its expiry less [`SESSION_TTL_S`]).
    pub signed_ms: i64,
}

/// The session a cookie holds, if its signature holds and it has not expired (whether
/// the customer has signed out everywhere since is [`signed_visitor`]'s to ask).
pub fn read_session(secret: &[u8], value: &str) -> Option<PortalSession> {
    use base64::Engine as _;
    let v = invite::unsign_value(secret, value)?.strip_prefix(SESSION_PREFIX)?;
    let mut parts = v.splitn(3, '.');
    let (c, exp, email) = (parts.next()?, parts.next()?, parts.next()?);
    let exp_ms: i64 = exp.parse().ok()?;
    (now_ms() < exp_ms).then_some(())?;
    let email = match email {
        "" => None,
        e => Some(String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(e).ok()?).ok()?),
    };
    Some(PortalSession { customer: c.parse().ok()?, email, signed_ms: exp_ms - SESSION_TTL_S * 1000 })
}

/// "Sign out everywhere": every session of the customer (the person they are now)
/// signed until now is refused from now on, this browser's included.
pub async fn sign_out_everywhere(s: &Engine, project: ProjectId, customer: CustomerId) -> Result<(), Error> {
    s.store.sign_out_portal(project, customer, now_ms()).await?;
    Ok(())
}

/// The visitor a signed-in customer is on the portal: their ids for the steps, and the
/// proven address their session carries (never an `email` trait, which the public write
/// key can set: replies are e-mailed to it, with a sign-in link); `None` when the
/// customer is no longer there (erased) or another project's, or has signed out
/// everywhere since the session was signed (or that cannot be read: refused).
pub async fn signed_visitor(
    s: &Engine,
    project: ProjectId,
    session: PortalSession,
    browser: &str,
    lang: Lang,
) -> Option<Visitor> {
    let row = s.store.customer(session.customer).await.ok()??;
    if row.project_id != project {
        return None;
    }
    let id = row.merged_into.unwrap_or(row.id);
    if let Some(cut_ms) = s.store.portal_signed_out(project, id).await.ok()? {
        if session.signed_ms <= cut_ms {
            return None;
        }
    }
    let mut v = customer_visitor(&*s.store, id, lang).await?;
    v.email = session.email;
    if v.user_id.is_some() {
        v.anonymous_id = browser.to_string();
    }
    Some(v)
}

/// The ids a customer's steps are recorded with (their user id, else one of their
/// anonymous ids), without an address; `None` without the customer.
pub async fn customer_visitor(store: &dyn Store, customer: CustomerId, lang: Lang) -> Option<Visitor> {
    let row = store.customer(customer).await.ok()??;
    let id = row.merged_into.unwrap_or(row.id);
    let row = if id == row.id { row } else { store.customer(id).await.ok()?? };
    let anonymous =
        store.identities(id).await.ok()?.into_iter().find(|i| i.kind == IdentityKind::Anonymous).map(|i| i.value);
    if row.user_id.is_none() && anonymous.is_none() {
        return None;
    }
    Some(Visitor {
        anonymous_id: anonymous.unwrap_or_default(),
        lang,
        customer: Some(id),
        user_id: row.user_id,
        email: None,
    })
}
