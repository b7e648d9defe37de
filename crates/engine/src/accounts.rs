//! People and access: accounts with argon2id passwords, sessions, roles per project and
//! one-time set-password links (a new account, an invitation, a reset). The use cases the
//! dashboard's sign-in and the CLI's `touchpoint user` commands share; API keys stay for
//! machines.
//!
//! Tokens (sessions, links) are 32 random bytes, URL-safe base64, stored only as SHA-256
//! hashes. A failed sign-in takes as long with an unknown address as with a wrong
//! password (a hash is verified either way), and says the same. [`SignInLimiter`] counts
//! failures per address and per client and refuses further tries for a while.

use crate::error::{Code, Error, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashMap;
use std::sync::Mutex;
use touchpoint_core::access::{Permission, Role};
use touchpoint_core::ProjectId;
use touchpoint_store::{hash_token, Grant, Store, User};

/// How long a session lasts: 14 days.
pub const SESSION_MS: i64 = 14 * 86_400_000;
/// How long a set-password link works: 7 days.
pub const LINK_MS: i64 = 7 * 86_400_000;
/// The shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password, in bytes (hashing a megabyte on every attempt is a denial of
/// service).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Failed sign-ins of one address (or from one client) before it must wait.
pub const MAX_FAILURES: u32 = 5;
/// How long the failures are remembered, and the wait after too many: 15 minutes.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60_000;

/// An e-mail address, trimmed and lower-cased, if it looks like one.
pub fn email(raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    let bad = |why: &str| Error::invalid(Code::InvalidAccount, Some("email".into()), format!("{raw:?} {why}"));
    let Some((local, domain)) = e.split_once('@') else { return Err(bad("is not an e-mail address (no @)")) };
    if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
        return Err(bad("is not an e-mail address (name@domain.tld)"));
    }
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("is not an e-mail address (too long, or spaces in it)"));
    }
    Ok(e)
}

/// Check a new password's length.
pub fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            Code::InvalidAccount,
            Some("password".into()),
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters, this one has {n}"),
        ));
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(
            Code::InvalidAccount,
            Some("password".into()),
            format!("a password has at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The argon2id PHC string of a password (a fresh random salt each time).
pub fn hash_password(p: &str) -> Result<String> {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hashing a password: {e}")))
}

/// Whether `p` matches a PHC string (false for a string that is not one).
fn verify(hash: &str, p: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(p.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the address has no account, so that both take as long.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not anybody's password").unwrap_or_default())
}

/// A new random token (sessions, links).
fn token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The role an account has on a project: the higher of its role there and its role on
/// every project.
pub fn role_on(grants: &[Grant], project: ProjectId) -> Option<Role> {
    grants.iter().filter(|g| g.project.is_none_or(|p| p == project)).map(|g| g.role).max()
}

/// Whether grants allow `permission` on `project`.
pub fn allows(grants: &[Grant], project: ProjectId, permission: Permission) -> bool {
    role_on(grants, project).is_some_and(|r| r.allows(permission))
}

/// An account just made: the account, and the one-time set-password link's token when it
/// has no password yet.
#[derive(Debug)]
pub struct NewAccount {
    /// The account.
    pub user: User,
    /// A set-password link token (for `/set-password?link=<token>`), when no password was given.
    pub link: Option<String>,
}

/// Make an account with a role on a project (or every project), with a password or, when
/// none is given, a one-time set-password link.
pub async fn create_user(
    store: &dyn Store,
    raw_email: &str,
    password: Option<&str>,
    role: Role,
    project: Option<ProjectId>,
) -> Result<NewAccount> {
    let address = email(raw_email)?;
    if let Some(p) = password {
        check_password(p)?;
    }
    if let Some(id) = project {
        if store.project(id).await?.is_none() {
            return Err(Error::missing("project", format!("no project {id}")));
        }
    }
    let hash = password.map(hash_password).transpose()?;
    let user = store.create_user(&address, hash.as_deref()).await.map_err(|e| match e {
        touchpoint_store::StoreError::Exists(_) => Error::conflict(format!("{address} already has an account")),
        other => other.into(),
    })?;
    store.set_role(user.id, project, Some(role)).await?;
    let link = match password {
        Some(_) => None,
        None => Some(new_link(store, user.id).await?),
    };
    Ok(NewAccount { user, link })
}

/// A new one-time set-password link for an account; returns its token.
pub async fn new_link(store: &dyn Store, user: i64) -> Result<String> {
    let t = token();
    store.create_password_link(&hash_token(&t), user, touchpoint_store::now_ms() + LINK_MS).await?;
    Ok(t)
}

/// Invite a colleague to a project: an account (made without a password when the address
/// has none) with the role there, and a set-password link when it has no password yet.
/// Only an owner of the project may invite.
pub async fn invite(
    store: &dyn Store,
    by: &[Grant],
    raw_email: &str,
    project: ProjectId,
    role: Role,
) -> Result<NewAccount> {
    if !allows(by, project, Permission::Admin) {
        return Err(Error::forbidden("only an owner of the project may invite people to it"));
    }
    let address = email(raw_email)?;
    match store.user_by_email(&address).await? {
        None => create_user(store, &address, None, role, Some(project)).await,
        Some(user) => {
            store.set_role(user.id, Some(project), Some(role)).await?;
            let link = match user.password_hash {
                Some(_) => None,
                None => Some(new_link(store, user.id).await?),
            };
            Ok(NewAccount { user, link })
        }
    }
}

/// Counts failed sign-ins per address and per client, in memory.
#[derive(Default)]
pub struct SignInLimiter {
    /// Key (`email:…`, `client:…`) → (failures, when the first of them was).
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl SignInLimiter {
    /// Seconds to wait before `keys` may try again (0: now).
    fn wait_s(&self, keys: &[String], now_ms: i64) -> u64 {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.retain(|_, (_, since)| now_ms - *since < FAILURE_WINDOW_MS);
        keys.iter()
            .filter_map(|k| f.get(k))
            .filter(|(n, _)| *n >= MAX_FAILURES)
            .map(|(_, since)| ((since + FAILURE_WINDOW_MS - now_ms).max(1_000) / 1_000) as u64)
            .max()
            .unwrap_or(0)
    }

    fn fail(&self, keys: &[String], now_ms: i64) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            f.entry(k.clone()).or_insert((0, now_ms)).0 += 1;
        }
    }

    fn succeed(&self, address: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&format!("email:{address}"));
    }
}

/// A signed-in session: its token (for the cookie) and when it ends.
#[derive(Debug)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The session token (the cookie's value; the store keeps its hash only).
    pub token: String,
    /// When the session ends, ms since the epoch.
    pub expires_ms: i64,
}

/// Sign in with an e-mail address and a password, from `client` (its address, for the
/// limiter).
pub async fn sign_in(
    store: &dyn Store,
    limiter: &SignInLimiter,
    raw_email: &str,
    password: &str,
    client: &str,
    now_ms: i64,
) -> Result<SignedIn> {
    let address = raw_email.trim().to_lowercase();
    let keys = [format!("email:{address}"), format!("client:{client}")];
    let wait = limiter.wait_s(&keys, now_ms);
    if wait > 0 {
        return Err(Error {
            retry_after: Some(wait),
            ..Error::new(Code::RateLimited, format!("too many failed sign-ins; try again in {} min", wait.div_ceil(60)))
        });
    }
    let user = store.user_by_email(&address).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify(hash.as_deref().unwrap_or(decoy()), &pw) && hash.is_some())
        .await
        .map_err(|e| Error::internal(format!("verifying a password: {e}")))?;
    let Some(user) = user.filter(|_| ok && password.len() <= MAX_PASSWORD_BYTES) else {
        limiter.fail(&keys, now_ms);
        return Err(Error::new(Code::BadCredentials, "the e-mail address or the password is wrong"));
    };
    limiter.succeed(&address);
    let token = token();
    let expires_ms = now_ms + SESSION_MS;
    store.create_session(&hash_token(&token), user.id, expires_ms).await?;
    Ok(SignedIn { user, token, expires_ms })
}

/// The account and grants of a session token, unless it is unknown or expired.
pub async fn session_user(store: &dyn Store, token: &str, now_ms: i64) -> Result<Option<(User, Vec<Grant>)>> {
    let Some(s) = store.session(&hash_token(token), now_ms).await? else { return Ok(None) };
    let Some(user) = store.user(s.user_id).await? else { return Ok(None) };
    let grants = store.grants(user.id).await?;
    Ok(Some((user, grants)))
}

/// End a session.
pub async fn sign_out(store: &dyn Store, token: &str) -> Result<()> {
    Ok(store.delete_session(&hash_token(token)).await?)
}

/// Change a signed-in account's password: the current one must be right; every session
/// of the account ends (the caller signs in again).
pub async fn change_password(store: &dyn Store, user: &User, current: &str, new: &str) -> Result<()> {
    check_password(new)?;
    let (hash, pw) = (user.password_hash.clone(), current.to_string());
    let ok = tokio::task::spawn_blocking(move || hash.is_some_and(|h| verify(&h, &pw)))
        .await
        .map_err(|e| Error::internal(format!("verifying a password: {e}")))?;
    if !ok {
        return Err(Error::new(Code::BadCredentials, "the current password is wrong").at("current"));
    }
    store.set_password(user.id, &hash_password(new)?).await?;
    store.delete_sessions(user.id).await?;
    Ok(())
}

/// Set a password through a one-time link; every session of the account ends. Returns
/// the account.
pub async fn set_password_with_link(store: &dyn Store, link: &str, new: &str, now_ms: i64) -> Result<User> {
    check_password(new)?;
    let Some(id) = store.take_password_link(&hash_token(link), now_ms).await? else {
        return Err(Error::new(Code::InvalidLink, "this link is unknown, already used or expired; ask for a new one"));
    };
    store.set_password(id, &hash_password(new)?).await?;
    store.delete_sessions(id).await?;
    store.user(id).await?.ok_or_else(|| Error::not_found(format!("account {id}")))
}

/// Give or take away a role (by e-mail address).
pub async fn set_role(
    store: &dyn Store,
    raw_email: &str,
    project: Option<ProjectId>,
    role: Option<Role>,
) -> Result<User> {
    let address = email(raw_email)?;
    let user = store
        .user_by_email(&address)
        .await?
        .ok_or_else(|| Error::missing("email", format!("{address} has no account")))?;
    store.set_role(user.id, project, role).await?;
    Ok(user)
}

/// Every account with its grants.
pub async fn users(store: &dyn Store) -> Result<Vec<(User, Vec<Grant>)>> {
    let mut out = vec![];
    for u in store.users().await? {
        let g = store.grants(u.id).await?;
        out.push((u, g));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use touchpoint_core::catalog::default_catalog;
    use touchpoint_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

    async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path(), OpenMode::Writer, &SqliteOptions::default()).await.unwrap();
        (Arc::new(s), dir)
    }

    /// Addresses and passwords: what is taken and what is refused, one case per line.
    #[test]
    fn addresses_and_passwords() {
        let check = |raw: &str, want: Option<&str>| assert_eq!(email(raw).ok().as_deref(), want, "{raw:?}");
        check("  Ana.Novak@Example.CZ ", Some("ana.novak@example.cz"));
        check("zofia@sklep.pl", Some("zofia@sklep.pl"));
        check("ana", None);
        check("@example.cz", None);
        check("ana@localhost", None);
        check("a b@example.cz", None);
        check("a@b@example.cz", None);
        assert!(check_password("short").is_err());
        assert!(check_password("příliš žluťoučký").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "correct horse battery") && !verify(&h, "correct horse batterY") && !verify("junk", "x"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "a fresh salt each time");
    }

    #[tokio::test]
    async fn sign_in_sessions_roles_and_links() {
        let (s, _dir) = store().await;
        let p = s.create_project("eshop", &default_catalog()).await.unwrap();
        let owner =
            create_user(&*s, "Owner@Eshop.cz", Some("owner password 1"), Role::Owner, Some(p.id)).await.unwrap();
        assert!(owner.link.is_none());
        let again = create_user(&*s, "owner@eshop.cz", Some("another password"), Role::Viewer, None).await.unwrap_err();
        assert_eq!(again.code, Code::Conflict);
        let nowhere = create_user(&*s, "x@eshop.cz", None, Role::Viewer, Some(999)).await.unwrap_err();
        assert_eq!((nowhere.code, nowhere.field.as_deref()), (Code::NotFound, Some("project")));

        // Signing in: right, wrong, unknown; the same answer for both failures.
        let limiter = SignInLimiter::default();
        let t0 = 1_000_000;
        let ok = sign_in(&*s, &limiter, " OWNER@eshop.cz", "owner password 1", "10.0.0.1", t0).await.unwrap();
        assert_eq!(ok.expires_ms, t0 + SESSION_MS);
        let (who, grants) = session_user(&*s, &ok.token, t0 + 1).await.unwrap().unwrap();
        assert_eq!(
            (who.id, role_on(&grants, p.id), role_on(&grants, p.id + 1)),
            (owner.user.id, Some(Role::Owner), None)
        );
        assert!(session_user(&*s, &ok.token, t0 + SESSION_MS).await.unwrap().is_none(), "expired");
        let wrong = sign_in(&*s, &limiter, "owner@eshop.cz", "owner password 2", "10.0.0.1", t0).await.unwrap_err();
        let unknown = sign_in(&*s, &limiter, "nobody@eshop.cz", "owner password 1", "10.0.0.2", t0).await.unwrap_err();
        assert_eq!((wrong.code, &wrong.message), (unknown.code, &unknown.message));
        assert_eq!(wrong.code, Code::BadCredentials);

        // Invitations: only an owner; the invitee sets a password through the link, once.
        let inv = invite(&*s, &grants, "Analyst@Eshop.cz", p.id, Role::Analyst).await.unwrap();
        let link = inv.link.expect("a new account gets a link");
        let viewer_grants = [Grant { project: Some(p.id), role: Role::Viewer }];
        assert_eq!(
            invite(&*s, &viewer_grants, "z@eshop.cz", p.id, Role::Owner).await.unwrap_err().code,
            Code::Forbidden
        );
        let now = touchpoint_store::now_ms();
        assert_eq!(set_password_with_link(&*s, &link, "short", now).await.unwrap_err().code, Code::InvalidAccount);
        let analyst = set_password_with_link(&*s, &link, "analyst password", now).await.unwrap();
        assert_eq!(analyst.email, "analyst@eshop.cz");
        let used = set_password_with_link(&*s, &link, "analyst password", now).await.unwrap_err();
        assert_eq!(used.code, Code::InvalidLink);
        let a = sign_in(&*s, &limiter, "analyst@eshop.cz", "analyst password", "10.0.0.3", t0).await.unwrap();
        let (_, g) = session_user(&*s, &a.token, t0).await.unwrap().unwrap();
        assert!(allows(&g, p.id, Permission::Edit) && !allows(&g, p.id, Permission::Admin));

        // Changing the password ends every session; signing out ends one.
        let analyst = s.user(analyst.id).await.unwrap().unwrap();
        let e = change_password(&*s, &analyst, "not it at all", "a new password!").await.unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (Code::BadCredentials, Some("current")));
        change_password(&*s, &analyst, "analyst password", "a new password!").await.unwrap();
        assert!(session_user(&*s, &a.token, t0).await.unwrap().is_none());
        let b = sign_in(&*s, &limiter, "analyst@eshop.cz", "a new password!", "10.0.0.3", t0).await.unwrap();
        sign_out(&*s, &b.token).await.unwrap();
        assert!(session_user(&*s, &b.token, t0).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn too_many_failures_wait() {
        let (s, _dir) = store().await;
        create_user(&*s, "ana@eshop.cz", Some("the right password"), Role::Viewer, None).await.unwrap();
        let limiter = SignInLimiter::default();
        let t0 = 5_000_000;
        for _ in 0..MAX_FAILURES {
            let e = sign_in(&*s, &limiter, "ana@eshop.cz", "wrong password", "10.0.0.9", t0).await.unwrap_err();
            assert_eq!(e.code, Code::BadCredentials);
        }
        // Even the right password waits now, from any client; the window ends it.
        let e = sign_in(&*s, &limiter, "ana@eshop.cz", "the right password", "10.0.0.8", t0 + 1).await.unwrap_err();
        assert_eq!((e.code, e.retry_after), (Code::RateLimited, Some(899)));
        // The client that failed waits for any address, too.
        let e = sign_in(&*s, &limiter, "bo@eshop.cz", "whatever it is", "10.0.0.9", t0 + 1).await.unwrap_err();
        assert_eq!(e.code, Code::RateLimited);
        assert!(sign_in(&*s, &limiter, "ana@eshop.cz", "the right password", "10.0.0.8", t0 + FAILURE_WINDOW_MS)
            .await
            .is_ok());
    }
}

/// An invitation e-mailed to a colleague.
#[derive(Debug, Clone)]
pub struct InvitationMail<'a> {
    /// Their address.
    pub to: &'a str,
    /// Who invites them.
    pub from_person: &'a str,
    /// The project's name.
    pub project: &'a str,
    /// The role they get.
    pub role: Role,
    /// The set-password link.
    pub link: &'a str,
    /// The language to write in (the inviter's dashboard language).
    pub lang: touchpoint_core::Lang,
}

/// E-mail an invitation over the configured SMTP server (`smtp_url`, `smtp_from`): in
/// the inviter's language, plain text and HTML. `Ok(false)` when no SMTP server is
/// configured (the link is then for the inviter to send); the server's refusal in words.
pub async fn email_invitation(engine: &crate::Engine, m: &InvitationMail<'_>) -> std::result::Result<bool, String> {
    use touchpoint_core::Lang;
    let role = |r: Role| -> &'static str {
        match (m.lang, r) {
            (Lang::Cs, Role::Owner) => "vlastník",
            (Lang::Cs, Role::Analyst) => "analytik",
            (Lang::Cs, Role::Viewer) => "čtenář",
            (Lang::Pl, Role::Owner) => "właściciel",
            (Lang::Pl, Role::Analyst) => "analityk",
            (Lang::Pl, Role::Viewer) => "czytelnik",
            (Lang::En, Role::Owner) => "owner",
            (Lang::En, Role::Analyst) => "analyst",
            (Lang::En, Role::Viewer) => "viewer",
        }
    };
    let texts = match m.lang {
        Lang::Cs => (
            "{{ who }} vás zve do Touchpointu: {{ project }}",
            "Dobrý den,\n\n{{ who }} vás zve k projektu {{ project }} v Touchpointu jako {{ role }}. \
             Heslo si nastavíte tímto odkazem (platí jednou, 7 dní):\n\n{{ link }}\n\n\
             Pokud jste pozvánku nečekali, e-mail můžete ignorovat.",
        ),
        Lang::Pl => (
            "{{ who }} zaprasza Cię do Touchpointu: {{ project }}",
            "Dzień dobry,\n\n{{ who }} zaprasza Cię do projektu {{ project }} w Touchpoincie jako {{ role }}. \
             Hasło ustawisz tym linkiem (działa raz, przez 7 dni):\n\n{{ link }}\n\n\
             Jeśli nie spodziewałeś się zaproszenia, zignoruj tę wiadomość.",
        ),
        Lang::En => (
            "{{ who }} invites you to Touchpoint: {{ project }}",
            "Hello,\n\n{{ who }} invites you to the project {{ project }} in Touchpoint as {{ role }}. \
             Choose your password with this link (it works once, for 7 days):\n\n{{ link }}\n\n\
             If you did not expect this invitation, you can ignore this e-mail.",
        ),
    };
    let ctx = serde_json::json!({"who": m.from_person, "project": m.project, "role": role(m.role), "link": m.link});
    let id = format!("invite_{}", hash_token(m.link).get(..24).unwrap_or_default());
    crate::mail::send(engine, m.to, &id, m.lang, texts, &ctx).await
}
