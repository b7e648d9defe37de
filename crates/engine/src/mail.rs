//! The engine's own e-mails (a colleague's invitation, a portal sign-in link, the service
//! team's reply to a request) sent over the configured SMTP server (`smtp_url`,
//! `smtp_from`) with the trigger rules' integration (`touchpoint_act::email`): a subject
//! and a text in the reader's language rendered with minijinja (names and addresses are
//! the context, never the template: a project called `{{ x }}` stays that text), plain
//! text and HTML (the text as paragraphs, links clickable).

use crate::config::Config;
use touchpoint_act::email::send::{Mailer, Outcome};
use touchpoint_core::Lang;

/// Whether e-mail can be sent at all (an SMTP server is configured).
pub fn configured(config: &Config) -> bool {
    !config.smtp_url.is_empty()
}

/// Send one e-mail: `subject` and `text` are templates over `ctx`; `id` makes its
/// `Message-ID` (a repeat is recognisable). `Ok(false)` when no SMTP server is
/// configured; the server's refusal in words.
pub async fn send(
    config: &Config,
    to: &str,
    id: &str,
    lang: Lang,
    (subject, text): (&str, &str),
    ctx: &serde_json::Value,
) -> Result<bool, String> {
    if !configured(config) {
        return Ok(false);
    }
    let mailer = Mailer::new(&config.smtp()?)?;
    let template = touchpoint_act::rule::Template { subject: subject.into(), text: text.into(), html: None };
    let rendered = touchpoint_act::email::template::render(&template, lang.code(), ctx, None)?;
    match mailer.send(to, id, &rendered, None).await {
        Outcome::Delivered => Ok(true),
        Outcome::Retry(e) | Outcome::Failed(e) => Err(e),
    }
}
