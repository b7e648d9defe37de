//! Sending one rendered message over SMTP.

use super::template::Rendered;
use super::SmtpConfig;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it.
    Delivered,
    /// A transient failure (a 4xx reply, no connection): try again later.
    Retry(String),
    /// A permanent one (a 5xx reply, a bad address): give up.
    Failed(String),
}

/// An SMTP sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The TLS of an `smtps://` or `?tls=` URL that also trusts the certificate authorities in
/// `pem`: implicit for `smtps://`, STARTTLS when the server offers it for
/// `tls=opportunistic`, else STARTTLS required (as lettre reads the URL).
fn tls_trusting(url: &str, pem: &str) -> Result<Tls, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    // An IPv6 address comes in brackets.
    let host = parsed.host_str().ok_or("no host")?.trim_start_matches('[').trim_end_matches(']').to_string();
    let roots = Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("the CA certificates: {e}"))?;
    let params = TlsParameters::builder(host.clone())
        .add_root_certificate(roots)
        .build()
        .map_err(|e| format!("TLS for {host}: {e}"))?;
    let mode = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    Ok(match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(params),
        (_, Some("opportunistic")) => Tls::Opportunistic(params),
        _ => Tls::Required(params),
    })
}

impl Mailer {
    /// A sender for a configuration; an error names what is wrong with it.
    pub fn new(config: &SmtpConfig) -> Result<Mailer, String> {
        let from: Mailbox =
            config.from.parse().map_err(|e| format!("smtp.from: {:?} is not an address ({e})", config.from))?;
        let bad = || {
            format!(
                "smtp.url: {:?} is not an SMTP address (write smtp://host:port, smtps://host, or smtp://host:587?tls=required)",
                config.url
            )
        };
        // TLS (implicit, or STARTTLS when asked) as lettre reads it from the URL.
        if config.url.starts_with("smtps://") || config.url.contains("?tls=") {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
                .map_err(|e| format!("{} ({e})", bad()))?
                .timeout(Some(std::time::Duration::from_secs(30)));
            if let Some(pem) = &config.ca_pem {
                builder = builder.tls(tls_trusting(&config.url, pem).map_err(|e| format!("{} ({e})", bad()))?);
            }
            return Ok(Mailer { transport: builder.build(), from });
        }
        let rest = config.url.strip_prefix("smtp://").ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (hostport, 25),
        };
        if host.is_empty() || host.contains(['/', '?', ' ']) {
            return Err(bad());
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(30)));
        if let Some(u) = user {
            let (name, pass) = u.split_once(':').unwrap_or((u, ""));
            builder = builder.credentials(Credentials::new(decode(name), decode(pass)));
        }
        let transport = builder.build();
        Ok(Mailer { transport, from })
    }

    /// Send `msg` to `to` as message `id`, with a one-click unsubscribe when given.
    pub async fn send(&self, to: &str, id: &str, msg: &Rendered, unsubscribe_url: Option<&str>) -> Outcome {
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("{to:?} is not an e-mail address ({e})")),
        };
        let built = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.clone())
            .message_id(Some(format!("<{id}@touchpoint>")))
            .multipart(MultiPart::alternative_plain_html(msg.text.clone(), msg.html.clone()));
        let mut email = match built {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("the message could not be built: {e}")),
        };
        if let Some(u) = unsubscribe_url {
            let h = email.headers_mut();
            h.insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{u}>")));
            h.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
        }
        match self.transport.send(email).await {
            Ok(_) => Outcome::Delivered,
            Err(e) if e.is_permanent() => Outcome::Failed(format!("the mail server refused it: {e}")),
            Err(e) => Outcome::Retry(format!("the mail server could not take it: {e}")),
        }
    }
}

/// Percent-decoding of a URL's user part.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations() {
        let ok = |url: &str| {
            Mailer::new(&SmtpConfig { url: url.into(), from: "Shop <shop@example.cz>".into(), ca_pem: None }).is_ok()
        };
        assert!(ok("smtp://localhost:2525"));
        assert!(ok("smtp://user:p%40ss@mail.example.cz:587"));
        assert!(ok("smtp://mail.example.cz"));
        assert!(ok("smtps://user:secret@mail.example.cz"));
        assert!(ok("smtp://mail.example.cz:587?tls=required"));
        assert!(!ok("http://x"));
        assert!(!ok("smtp://host:port"));
        assert!(!ok("smtp://"));
        assert!(Mailer::new(&SmtpConfig { url: "smtp://h".into(), from: "nobody".into(), ca_pem: None })
            .err()
            .unwrap()
            .starts_with("smtp.from"));
        assert_eq!(decode("p%40ss%"), "p@ss%");
    }
}
