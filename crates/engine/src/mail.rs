//! The engine's own e-mails (a colleague's invitation, a portal sign-in link, the service
//! team's reply to a request) sent over the configured SMTP server (`smtp_url`,
//! `smtp_from`) with the trigger rules' integration (`touchpoint_act::email`): a subject
//! and a text in the reader's language rendered with minijinja (names and addresses are
//! the context, never the template: a project called `{{ x }}` stays that text), plain
//! text and HTML (the text as paragraphs, links clickable).

use crate::config::Config;
use crate::Engine;
use touchpoint_act::email::send::{Mailer, Outcome};
use touchpoint_core::Lang;

/// Whether e-mail can be sent at all (an SMTP server is configured).
pub fn configured(config: &Config) -> bool {
    !config.smtp_url.is_empty()
}

/// The engine's SMTP sender, made at the first e-mail from `smtp_url`, `smtp_from` and
/// `tls_ca_file` and kept (a configuration that cannot make one says why at each use);
/// `None` when no SMTP server is configured.
pub fn mailer(engine: &Engine) -> Option<Result<&Mailer, String>> {
    if !configured(&engine.config) {
        return None;
    }
    let made = engine.mailer.get_or_init(|| engine.config.smtp().and_then(|smtp| Mailer::new(&smtp)));
    Some(made.as_ref().map_err(Clone::clone))
}

/// Send one e-mail: `subject` and `text` are templates over `ctx`; `id` makes its
/// `Message-ID` (a repeat is recognisable). `Ok(false)` when no SMTP server is
/// configured; the server's refusal in words.
pub async fn send(
    engine: &Engine,
    to: &str,
    id: &str,
    lang: Lang,
    (subject, text): (&str, &str),
    ctx: &serde_json::Value,
) -> Result<bool, String> {
    let Some(mailer) = mailer(engine) else { return Ok(false) };
    let mailer = mailer?;
    let template = touchpoint_act::rule::Template { subject: subject.into(), text: text.into(), html: None };
    let rendered = touchpoint_act::email::template::render(&template, lang.code(), ctx, None)?;
    match mailer.send(to, id, &rendered, None).await {
        Outcome::Delivered => Ok(true),
        Outcome::Retry(e) | Outcome::Failed(e) => Err(e),
    }
}
