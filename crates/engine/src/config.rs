//! Server configuration, layered: built-in defaults < a TOML file < `TOUCHPOINT_…`
//! environment variables < command-line flags. Unknown keys in a file are an error (a typo
//! should not silently do nothing); unknown environment variables are ignored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Everything the server can be told. Its `Debug` hides the passwords of `meta_store`,
/// `event_store` and `smtp_url`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// Where the metadata (projects, keys, catalog, customers, surveys …) is kept: a
    /// PostgreSQL URL (`postgres://user:password@host:5432/touchpoint`), with the events
    /// staying in the embedded store in `data_dir`; unset (or empty): everything in the
    /// embedded store. See [`crate::backends`].
    pub meta_store: Option<String>,
    /// Where the events are kept: unset, empty or `embedded`: the embedded event store in
    /// `data_dir`; a `clickhouse://` (or `http://`, `https://`) URL: a ClickHouse server's
    /// HTTP interface, with `meta_store` on PostgreSQL (anything else is refused, naming
    /// what is supported). See [`crate::backends`].
    pub event_store: Option<String>,
    /// Address to listen on.
    pub listen: String,
    /// fsync each group commit before acknowledging (off: survives a process crash, not a power cut).
    pub durable: bool,
    /// Largest event, in bytes, after decompression.
    pub max_event_bytes: usize,
    /// Largest request body, in bytes, after decompression.
    pub max_batch_bytes: usize,
    /// Deepest JSON nesting inside one event.
    pub max_depth: usize,
    /// Events per second each key may send (0: no limit).
    pub rate_limit: f64,
    /// Events a key may send in one burst above its rate.
    pub rate_burst: f64,
    /// Events that may wait for a commit at once; beyond this the API answers 503.
    pub queue_events: usize,
    /// Most events in one group commit.
    pub max_group_events: usize,
    /// SQLite page cache, in MiB.
    pub cache_mib: i64,
    /// The address customers reach this server at, for survey links
    /// (`https://feedback.example.com`); empty: the request's Host.
    pub public_url: String,
    /// Survey form submissions each client address may make per minute (0: no limit).
    pub survey_posts_per_minute: f64,
    /// Web origins that may show survey pages in a frame (the widget), separated by spaces
    /// (`https://shop.example https://www.shop.example`); this server's own origin always
    /// may. Empty: no other site may frame them.
    pub survey_frame_origins: String,
    /// How many of each project's most recent events the server's dedup remembers by
    /// messageId (0: all of them; memory grows with the store). `touchpoint import` always
    /// checks against every stored event.
    pub dedup_window: usize,
    /// Touchpoints a project may have before discovery stops making new ones from new
    /// event names (which anyone with the public write key can invent); past it such
    /// events are stored unclassified and counted. At most 65 536.
    pub max_touchpoints: usize,
    /// Raw bytes kept of one failed event (the rest is cut, and its reason says so).
    pub failed_max_raw_bytes: usize,
    /// Failed events one project keeps; past it new ones are counted and dropped.
    pub failed_max_events: u64,
    /// Raw bytes one project's failed events keep in all; past it new ones are dropped.
    pub failed_max_bytes: u64,
    /// Live streams of arriving events (`GET /api/live`, the dashboard's live view) this
    /// server serves at once; past it opening one answers 503 `too_many_streams`.
    pub live_streams: usize,
    /// The SMTP server trigger rules send e-mail through (`smtp://host:port`, or
    /// `smtp://user:password@host:port`; with TLS `smtps://host` or
    /// `smtp://host:587?tls=required`); empty: e-mails go to the dead-letter list with a
    /// message saying so.
    pub smtp_url: String,
    /// The sender of those e-mails (`Shop <hello@shop.example>`).
    pub smtp_from: String,
    /// Certificate authorities to trust besides the public ones for SMTP over TLS and
    /// https webhooks: a PEM file (a mail relay or a receiver with a certificate of the
    /// company's own CA); empty: the public ones only.
    pub tls_ca_file: String,
    /// Traits customers are searched by besides `email` and `phone`, which get an index
    /// each when the node opens (`country, plan`; comma- or space-separated): a search by
    /// any other trait reads every customer's traits.
    pub searchable_traits: String,
    /// Messages one customer may get per channel (e-mail, webhook) per day from all
    /// trigger rules together (0: no cap across rules).
    pub messages_per_customer_per_day: u32,
    /// Retry delays divided by this (1: Standard Webhooks' schedule over 27 hours; tests
    /// and demos speed it up).
    pub retry_speedup: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("touchpoint-data"),
            meta_store: None,
            event_store: None,
            listen: "127.0.0.1:8080".into(),
            durable: true,
            max_event_bytes: 32 * 1024,
            max_batch_bytes: 500 * 1024,
            max_depth: 24,
            rate_limit: 50_000.0,
            rate_burst: 100_000.0,
            queue_events: 200_000,
            max_group_events: 20_000,
            cache_mib: 256,
            public_url: String::new(),
            survey_posts_per_minute: 30.0,
            survey_frame_origins: String::new(),
            dedup_window: touchpoint_store_sqlite::DEFAULT_DEDUP_WINDOW,
            max_touchpoints: touchpoint_store::writer::DEFAULT_MAX_TOUCHPOINTS,
            failed_max_raw_bytes: 16 * 1024,
            failed_max_events: 50_000,
            failed_max_bytes: 64 * 1024 * 1024,
            live_streams: crate::live::DEFAULT_MAX_STREAMS,
            smtp_url: String::new(),
            smtp_from: "Touchpoint <touchpoint@localhost>".into(),
            tls_ca_file: String::new(),
            searchable_traits: String::new(),
            messages_per_customer_per_day: 3,
            retry_speedup: 1.0,
        }
    }
}

/// A configuration that could not be read.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        let smtp = Some(self.smtp_url.clone());
        for (key, url) in [("meta_store", &self.meta_store), ("event_store", &self.event_store), ("smtp_url", &smtp)] {
            if let Some(url) = url.as_deref() {
                v[key] = Value::String(without_password(url));
            }
        }
        write!(f, "Config {v}")
    }
}

/// A URL with its password (`user:password@`) replaced by `***`, for logs and messages.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@').map(|at| (at, rest[..at].split_once(':'))) {
        Some((at, Some((user, _)))) => format!("{scheme}://{user}:***@{}", &rest[at + 1..]),
        _ => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("the config file {path} is not valid TOML: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A value has the wrong type, or a key is unknown.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Build the configuration from its layers. `env` is the process environment (only
    /// `TOUCHPOINT_<FIELD>` variables count); `flags` are `(field, value)` pairs given on
    /// the command line.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let defaults = serde_json::to_value(Config::default()).expect("config serializes");
        let mut merged: Map<String, Value> = defaults.as_object().cloned().unwrap_or_default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| ConfigError::Toml { path: path.to_path_buf(), message: e.to_string() })?;
            let as_json = serde_json::to_value(table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            for (k, v) in as_json.as_object().cloned().unwrap_or_default() {
                let k = k.replace('-', "_");
                if !merged.contains_key(&k) {
                    return Err(ConfigError::Invalid(format!(
                        "unknown key {k:?} in {}; known keys: {}",
                        path.display(),
                        merged.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                merged.insert(k, v);
            }
        }
        let mut overlay = |k: &str, raw: &str, source: &str| -> Result<(), ConfigError> {
            let Some(default) = defaults.get(k) else { return Ok(()) };
            let v = typed(default, raw)
                .ok_or_else(|| ConfigError::Invalid(format!("{source}: {raw:?} is not a valid value for {k}")))?;
            merged.insert(k.to_string(), v);
            Ok(())
        };
        for (name, raw) in env {
            if let Some(k) = name.strip_prefix("TOUCHPOINT_") {
                overlay(&k.to_ascii_lowercase(), &raw, &name)?;
            }
        }
        for (k, raw) in flags {
            overlay(k, raw, &format!("--{}", k.replace('_', "-")))?;
        }
        let config: Config =
            serde_json::from_value(Value::Object(merged)).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.tls_roots().map_err(ConfigError::Invalid)?;
        touchpoint_store::check_trait_keys(&config.searchable_traits())
            .map_err(|e| ConfigError::Invalid(format!("searchable_traits: {e}")))?;
        Ok(config)
    }

    /// The keys of `searchable_traits`.
    pub fn searchable_traits(&self) -> Vec<String> {
        self.searchable_traits.split([',', ' ', '\t', '\n']).filter(|k| !k.is_empty()).map(String::from).collect()
    }

    /// The certificate authorities of `tls_ca_file` (PEM text), when one is set; an error
    /// names the file and what is wrong with it.
    pub fn tls_roots(&self) -> Result<Option<String>, String> {
        if self.tls_ca_file.is_empty() {
            return Ok(None);
        }
        let pem = std::fs::read_to_string(&self.tls_ca_file)
            .map_err(|e| format!("tls_ca_file: cannot read {}: {e}", self.tls_ca_file))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "tls_ca_file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                self.tls_ca_file
            ));
        }
        Ok(Some(pem))
    }

    /// The SMTP server to send through, trusting `tls_ca_file`'s authorities too.
    pub fn smtp(&self) -> Result<touchpoint_act::email::SmtpConfig, String> {
        Ok(touchpoint_act::email::SmtpConfig {
            url: self.smtp_url.clone(),
            from: self.smtp_from.clone(),
            ca_pem: self.tls_roots()?,
        })
    }

    /// The HTTP client webhooks are posted with, trusting `tls_ca_file`'s authorities too.
    pub fn webhook_client(&self) -> Result<reqwest::Client, String> {
        match self.tls_roots()? {
            Some(pem) => touchpoint_act::webhook::send::client_trusting(&pem),
            None => Ok(touchpoint_act::webhook::send::client()),
        }
    }

    /// The failed-event quota in the writer's terms.
    pub fn failed_quota(&self) -> touchpoint_store::writer::FailedQuota {
        touchpoint_store::writer::FailedQuota {
            max_raw_bytes: self.failed_max_raw_bytes,
            max_events: self.failed_max_events,
            max_bytes: self.failed_max_bytes,
        }
    }

    /// The `frame-ancestors` of survey pages: this server and the configured origins.
    /// Anything that is not a plain `scheme://host[:port]` origin is left out, so a
    /// configuration cannot inject other CSP directives.
    pub fn frame_ancestors(&self) -> String {
        let mut out = String::from("'self'");
        for o in self.survey_frame_origins.split_whitespace() {
            if is_origin(o) {
                out.push(' ');
                out.push_str(o);
            } else {
                tracing::warn!(origin = o, "survey_frame_origins: not an origin like https://shop.example; left out");
            }
        }
        out
    }

    /// The event limits in the core's terms.
    pub fn limits(&self) -> touchpoint_core::Limits {
        touchpoint_core::Limits {
            max_event_bytes: self.max_event_bytes,
            max_depth: self.max_depth,
            ..Default::default()
        }
    }
}

/// Whether `o` is a plain web origin (`https://shop.example[:port]`, a `*.` wildcard
/// allowed), which is all that may go into a CSP source list.
pub fn is_origin(o: &str) -> bool {
    (o.starts_with("https://") || o.starts_with("http://"))
        && o.split_once("://").is_some_and(|(_, host)| {
            !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
        })
}

/// Read a raw string as the same JSON type as the default value.
fn typed(default: &Value, raw: &str) -> Option<Value> {
    let raw = raw.trim();
    match default {
        Value::Bool(_) => match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(Value::Bool(true)),
            "0" | "false" | "no" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
        Value::Number(n) if n.is_f64() => {
            raw.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
        }
        Value::Number(_) => raw.parse::<u64>().ok().map(|u| Value::Number(u.into())),
        _ => Some(Value::String(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("touchpoint.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ndurable = false\nrate-limit = 10.0\nqueue_events = 7\n")
            .unwrap();
        let env = vec![
            ("TOUCHPOINT_LISTEN".to_string(), "127.0.0.1:7000".to_string()),
            ("TOUCHPOINT_QUEUE_EVENTS".to_string(), "9".to_string()),
            ("TOUCHPOINT_SOMETHING_ELSE".to_string(), "ignored".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let c = Config::load(Some(&file), env, &[("queue_events", "11".into())]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000", "env beats file");
        assert!(!c.durable, "file beats default");
        assert_eq!(c.rate_limit, 10.0);
        assert_eq!(c.queue_events, 11, "flag beats env");
        assert_eq!(c.max_event_bytes, 32 * 1024, "default stays");
    }

    #[test]
    fn a_password_never_shows_in_debug() {
        let c =
            Config { meta_store: Some("postgres://tp:s3cr3t@db.example:5432/touchpoint".into()), ..Config::default() };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t") && shown.contains("postgres://tp:***@db.example:5432/touchpoint"), "{shown}");
        assert_eq!(without_password("postgres://db/x"), "postgres://db/x");
        assert_eq!(without_password("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(without_password("postgres://u:p@ss@db/x?a=b@c"), "postgres://u:***@db/x?a=b@c");
        assert_eq!(without_password("not a url"), "not a url");
    }

    #[test]
    fn the_meta_store_comes_from_any_layer() {
        assert_eq!(Config::load(None, vec![], &[]).unwrap().meta_store, None, "the embedded store by default");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("touchpoint.toml");
        std::fs::write(&file, "meta-store = \"postgres://file/db\"\n").unwrap();
        let c = Config::load(Some(&file), vec![], &[]).unwrap();
        assert_eq!(c.meta_store.as_deref(), Some("postgres://file/db"));
        let env = vec![("TOUCHPOINT_META_STORE".to_string(), "postgres://env/db".to_string())];
        let c = Config::load(Some(&file), env.clone(), &[]).unwrap();
        assert_eq!(c.meta_store.as_deref(), Some("postgres://env/db"), "env beats file");
        let c = Config::load(Some(&file), env, &[("meta_store", "postgresql://flag/db".into())]).unwrap();
        assert_eq!(c.meta_store.as_deref(), Some("postgresql://flag/db"), "flag beats env");
    }

    #[test]
    fn mistakes_are_reported_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), vec![], &[]).unwrap_err().to_string();
        assert!(e.contains("unknown key \"lisen\""), "{e}");
        let e = Config::load(None, vec![("TOUCHPOINT_DURABLE".into(), "perhaps".into())], &[]).unwrap_err().to_string();
        assert!(e.contains("TOUCHPOINT_DURABLE") && e.contains("perhaps"), "{e}");
        std::fs::write(&file, "listen = [").unwrap();
        let e = Config::load(Some(&file), vec![], &[]).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }

    /// A CA file that is not there, or holds no certificate, stops the configuration from
    /// loading, naming the file; one that holds a certificate is what SMTP trusts.
    #[test]
    fn a_ca_file_is_checked_when_the_configuration_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let ca = |path: &std::path::Path| vec![("TOUCHPOINT_TLS_CA_FILE".to_string(), path.display().to_string())];
        let missing = dir.path().join("missing.pem");
        let e = Config::load(None, ca(&missing), &[]).unwrap_err().to_string();
        assert!(e.contains("tls_ca_file") && e.contains("missing.pem") && e.contains("cannot read"), "{e}");
        let key = dir.path().join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let e = Config::load(None, ca(&key), &[]).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate") && e.contains("key.pem"), "{e}");
        let good = dir.path().join("ca.pem");
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(&good, pem).unwrap();
        let c = Config::load(None, ca(&good), &[]).unwrap();
        assert_eq!(c.smtp().unwrap().ca_pem.as_deref(), Some(pem));
        assert_eq!(Config::default().smtp().unwrap().ca_pem, None);
    }

    #[test]
    fn searchable_traits_are_keys_that_can_be_indexed() {
        let env = |v: &str| vec![("TOUCHPOINT_SEARCHABLE_TRAITS".to_string(), v.to_string())];
        let c = Config::load(None, env("country, plan\tfirst.name"), &[]).unwrap();
        assert_eq!(c.searchable_traits(), ["country", "plan", "first.name"]);
        assert!(Config::default().searchable_traits().is_empty());
        let e = Config::load(None, env("country, plan'; DROP TABLE customers"), &[]).unwrap_err().to_string();
        assert!(e.contains("searchable_traits") && e.contains("\"plan';\"") && e.contains("cannot be indexed"), "{e}");
    }
}
