//! Message templates (minijinja): the subject and the plain text as text, the HTML body
//! auto-escaped, so a trait or a property can never inject markup. A template reads the
//! customer's traits (`{{ first_name }}`, also as `{{ customer.first_name }}`), the
//! triggering event's properties (`{{ event.carrier }}`), `{{ survey_url }}` and
//! `{{ unsubscribe_url }}`. When a customer-facing template does not show the unsubscribe
//! link, a line with it is added in the message's language.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

/// The parts of a rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject, one line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|name| if name == "html" { AutoEscape::Html } else { AutoEscape::None });
    env
}

/// Whether a template compiles; the parser's message if not.
pub fn check(source: &str) -> Result<(), String> {
    env()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| format!("the template does not read: {}", e.detail().unwrap_or("syntax error")))
}

fn render_one(env: &Environment<'_>, name: &str, source: &str, ctx: &Value) -> Result<String, String> {
    let mut env = env.clone();
    env.add_template_owned(name.to_string(), source.to_string()).map_err(|e| e.to_string())?;
    env.get_template(name).and_then(|t| t.render(ctx)).map_err(|e| format!("{name}: {e}"))
}

/// "Unsubscribe" in the message's language.
fn unsubscribe_words(lang: &str) -> &'static str {
    match lang {
        "cs" => "Nechcete už tyto zprávy dostávat? Odhlaste se",
        "pl" => "Nie chcesz otrzymywać tych wiadomości? Wypisz się",
        _ => "Don't want these messages? Unsubscribe",
    }
}

/// Render a message. `ctx` is the template's context (traits, `customer`, `event`,
/// `survey_url`, `unsubscribe_url`); `unsubscribe_url` is added to the body when the
/// template does not show it and the message goes to a customer.
pub fn render(
    t: &crate::rule::Template,
    lang: &str,
    ctx: &Value,
    unsubscribe_url: Option<&str>,
) -> Result<Rendered, String> {
    let env = env();
    let subject = render_one(&env, "subject", &t.subject, ctx)?.replace(['\r', '\n'], " ").trim().to_string();
    let mut text = render_one(&env, "text", &t.text, ctx)?;
    let mut html = match &t.html {
        Some(h) => render_one(&env, "html", h, ctx)?,
        None => paragraphs(&text),
    };
    if let Some(u) = unsubscribe_url {
        let words = unsubscribe_words(lang);
        if !t.text.contains("unsubscribe_url") {
            text = format!("{}\n\n--\n{words}: {u}\n", text.trim_end());
        }
        if t.html.as_deref().is_none_or(|h| !h.contains("unsubscribe_url")) {
            html.push_str(&format!(
                "<p style=\"color:#666;font-size:12px\"><a href=\"{}\">{}</a></p>",
                escape(u),
                escape(words)
            ));
        }
    }
    Ok(Rendered { subject, text, html })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Plain text as HTML paragraphs, with bare links made clickable.
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let words: Vec<String> = p
                .split(' ')
                .map(|w| {
                    if w.starts_with("https://") || w.starts_with("http://") {
                        format!("<a href=\"{0}\">{0}</a>", escape(w))
                    } else {
                        escape(w)
                    }
                })
                .collect();
            format!("<p>{}</p>", words.join(" ").replace('\n', "<br>"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Template;
    use serde_json::json;

    #[test]
    fn renders_traits_event_and_links_and_escapes_html() {
        let t = Template {
            subject: "Omlouváme se, {{ first_name }}".into(),
            text: "Zásilka od {{ event.carrier }} je pozdě. Jak jsme to zvládli? {{ survey_url }}".into(),
            html: Some("<p>Dobrý den {{ customer.first_name }}</p><a href=\"{{ survey_url }}\">Ohodnotit</a>".into()),
        };
        let ctx = json!({"first_name": "Jana<script>", "customer": {"first_name": "Jana<script>"},
            "event": {"carrier": "PPL"}, "survey_url": "https://x/s/abc?a=1&b=2"});
        let r = render(&t, "cs", &ctx, Some("https://x/u/tok")).unwrap();
        assert_eq!(r.subject, "Omlouváme se, Jana<script>");
        assert!(r.text.contains("od PPL je pozdě"));
        assert!(r.text.ends_with("Odhlaste se: https://x/u/tok\n"), "{}", r.text);
        assert!(r.html.contains("Jana&lt;script&gt;"), "{}", r.html);
        assert!(r.html.contains("a=1&amp;b=2"));
        assert!(r.html.contains("href=\"https://x/u/tok\""));
    }

    #[test]
    fn plain_text_becomes_paragraphs_and_the_link_is_not_repeated() {
        let t = Template {
            subject: "Przepraszamy\n".into(),
            text: "Dzień dobry\n\nWypisz: {{ unsubscribe_url }}".into(),
            html: None,
        };
        let r = render(&t, "pl", &json!({"unsubscribe_url": "https://x/u/t"}), Some("https://x/u/t")).unwrap();
        assert_eq!(r.subject, "Przepraszamy");
        assert_eq!(r.text.matches("https://x/u/t").count(), 1);
        assert!(r.html.starts_with("<p>Dzień dobry</p><p>Wypisz: <a href=\"https://x/u/t\">"), "{}", r.html);
    }

    #[test]
    fn broken_templates_are_refused() {
        assert!(check("{{ name }").is_err());
        assert!(check("{% if %}").is_err());
        assert!(check("Hello {{ name }}").is_ok());
    }
}
