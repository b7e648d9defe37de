//! ClickHouse's HTTP interface, as this crate uses it: a statement in the body of a POST,
//! rows in and out as `JSONEachRow` (64-bit integers as JSON numbers), string values
//! quoted into the statement by [`quote`] (ClickHouse 18.16 has no query parameters), and
//! the server's error text turned into a [`StoreError::Backend`] that names ClickHouse.
//!
//! The URL of the store (`clickhouse://user:password@host:8123/database`, or the same with
//! `http://` or `https://`) is read by [`ChUrl::parse`].

use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Write as _;
use std::time::Duration;
use touchpoint_store::{Result, StoreError};

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "touchpoint";

/// Where the ClickHouse event store is, as its URL says.
#[derive(Clone, PartialEq, Eq)]
pub struct ChUrl {
    /// `http://host:port` or `https://host:port` (port 8123 when none is given).
    pub base: String,
    /// The database that holds the tables (created when missing).
    pub database: String,
    /// User (ClickHouse's `default` when none).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
}

impl std::fmt::Debug for ChUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChUrl")
            .field("base", &self.base)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl ChUrl {
    /// Read `clickhouse://[user[:password]@]host[:port][/database]` (`http://` and
    /// `https://` too; the port is ClickHouse's HTTP port, 8123 by default).
    pub fn parse(url: &str) -> Result<ChUrl> {
        let bad = |why: &str| {
            StoreError::Backend(format!(
                "event_store: {why}; expected clickhouse://[user[:password]@]host[:port][/database] \
                 (or http:// or https://, ClickHouse's HTTP port)"
            ))
        };
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&format!("not a URL ({e})")))?;
        let scheme = match parsed.scheme() {
            "clickhouse" | "http" => "http",
            "https" => "https",
            other => return Err(bad(&format!("unsupported scheme {other:?}"))),
        };
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        let port = parsed.port().unwrap_or(if scheme == "https" { 8443 } else { 8123 });
        let path = parsed.path().trim_matches('/');
        let database = if path.is_empty() { DEFAULT_DATABASE.to_string() } else { path.to_string() };
        if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || database.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(bad(&format!("the database name {database:?} may hold only letters, digits and _")));
        }
        let decode = |s: &str| -> String {
            let bytes: Vec<u8> = percent_decode(s);
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let user = Some(decode(parsed.username())).filter(|u| !u.is_empty());
        let password = parsed.password().map(decode);
        Ok(ChUrl { base: format!("{scheme}://{host}:{port}"), database, user, password })
    }
}

/// Read an `event_store` value: one URL, or a comma-separated list of URLs, one per shard
/// (each as [`ChUrl::parse`] reads it; none twice).
pub fn parse_shards(urls: &str) -> Result<Vec<ChUrl>> {
    let shards =
        urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(ChUrl::parse).collect::<Result<Vec<_>>>()?;
    if shards.is_empty() {
        return Err(StoreError::Backend("event_store: no ClickHouse URL".into()));
    }
    for (i, a) in shards.iter().enumerate() {
        if shards[..i].iter().any(|b| (&b.base, &b.database) == (&a.base, &a.database)) {
            return Err(StoreError::Backend(format!(
                "event_store: the shard {}/{} is listed twice",
                a.base, a.database
            )));
        }
    }
    Ok(shards)
}

/// `%XX` decoding of a URL's user or password.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A string as a ClickHouse string literal: quotes and backslashes escaped, control bytes
/// as `\xHH`, so no value a client sent can end the literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A list of string literals for `IN (…)`.
pub fn quote_list<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values.into_iter().map(quote).collect::<Vec<_>>().join(", ")
}

/// A list of numbers for `IN (…)`.
pub fn number_list(values: impl IntoIterator<Item = i64>) -> String {
    values.into_iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

/// A client of one ClickHouse server's HTTP interface.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// Where, and as whom.
    pub url: ChUrl,
}

impl Http {
    /// A client for `url` (nothing is sent yet).
    pub fn new(url: ChUrl) -> Result<Http> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| StoreError::Backend(format!("ClickHouse client: {e}")))?;
        Ok(Http { client, url })
    }

    /// Send `body` with a statement (in `query`, or the body itself when `query` is None);
    /// the answer's text.
    async fn send(&self, query: Option<&str>, body: Vec<u8>, in_database: bool) -> Result<String> {
        let mut params: Vec<(&str, &str)> = vec![("output_format_json_quote_64bit_integers", "0")];
        if in_database {
            params.push(("database", &self.url.database));
        }
        if let Some(q) = query {
            params.push(("query", q));
        }
        let mut req = self.client.post(&self.url.base).query(&params).body(body);
        if let Some(user) = &self.url.user {
            req = req.header("X-ClickHouse-User", user);
        }
        if let Some(password) = &self.url.password {
            req = req.header("X-ClickHouse-Key", password);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| StoreError::Backend(format!("ClickHouse at {} did not answer: {e}", self.url.base)))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| StoreError::Backend(format!("ClickHouse at {}: reading the answer: {e}", self.url.base)))?;
        if !status.is_success() {
            let first = text.lines().next().unwrap_or("").chars().take(400).collect::<String>();
            return Err(StoreError::Backend(format!("ClickHouse at {} answered {status}: {first}", self.url.base)));
        }
        Ok(text)
    }

    /// Run a statement that returns nothing (DDL, `ALTER`, `INSERT … SELECT`).
    pub async fn exec(&self, sql: &str) -> Result<()> {
        self.send(None, sql.as_bytes().to_vec(), true).await.map(|_| ())
    }

    /// Run a statement outside the store's database (`CREATE DATABASE`).
    pub async fn exec_server(&self, sql: &str) -> Result<()> {
        self.send(None, sql.as_bytes().to_vec(), false).await.map(|_| ())
    }

    /// Run a `SELECT` and read its rows.
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>> {
        let text = self.send(None, format!("{sql} FORMAT JSONEachRow").into_bytes(), true).await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| {
                    StoreError::Corrupt(format!("ClickHouse row {}: {e}", l.chars().take(200).collect::<String>()))
                })
            })
            .collect()
    }

    /// Run a `SELECT` of one number (`count()`, `max(id)`).
    pub async fn number(&self, sql: &str) -> Result<i64> {
        #[derive(serde::Deserialize)]
        struct One {
            n: i64,
        }
        let rows: Vec<One> = self.rows(sql).await?;
        rows.first().map(|r| r.n).ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
    }

    /// Insert rows into a table in one `INSERT` (one block: ClickHouse writes it as one
    /// part per partition).
    pub async fn insert<T: Serialize>(&self, table: &str, rows: &[T]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(rows.len() * 256);
        for r in rows {
            serde_json::to_writer(&mut body, r).map_err(|e| StoreError::Backend(format!("encode a row: {e}")))?;
            body.push(b'\n');
        }
        self.send(Some(&format!("INSERT INTO {table} FORMAT JSONEachRow")), body, true).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_bad_ones_named() {
        let u = ChUrl::parse("clickhouse://tp:s%40cret@ch.example:9123/events_eu").unwrap();
        assert_eq!(u.base, "http://ch.example:9123");
        assert_eq!(u.database, "events_eu");
        assert_eq!(u.user.as_deref(), Some("tp"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert!(!format!("{u:?}").contains("s@cret"), "the password is not in Debug");
        let u = ChUrl::parse("http://127.0.0.1").unwrap();
        assert_eq!((u.base.as_str(), u.database.as_str(), u.user), ("http://127.0.0.1:8123", DEFAULT_DATABASE, None));
        assert_eq!(ChUrl::parse("https://ch.example/x").unwrap().base, "https://ch.example:8443");
        let two = parse_shards("clickhouse://a/tp, clickhouse://b:9000/tp").unwrap();
        assert_eq!(two.iter().map(|u| u.base.as_str()).collect::<Vec<_>>(), ["http://a:8123", "http://b:9000"]);
        let e = parse_shards("clickhouse://a/tp,clickhouse://a:8123/tp").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        assert!(parse_shards(" , ").unwrap_err().to_string().contains("no ClickHouse URL"));
        for (bad, says) in [
            ("mysql://h/db", "unsupported scheme"),
            ("clickhouse://h/drop;table", "may hold only"),
            ("clickhouse:///db", "no host"),
            ("ch.example:8123", "unsupported scheme"),
            ("not a url", "not a URL"),
        ] {
            let e = ChUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("event_store"), "{bad}: {e}");
        }
    }

    #[test]
    fn quoting_keeps_every_value_inside_its_literal() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"a\'b"), r"'a\\\'b'");
        assert_eq!(quote("nul\0tab\tnl\n"), r"'nul\x00tab\x09nl\x0A'");
        assert_eq!(quote("žluťoučký kůň"), "'žluťoučký kůň'");
        assert_eq!(quote_list(["a", "b'"]), r"'a', 'b\''");
        assert_eq!(number_list([1, -2]), "1, -2");
    }
}
