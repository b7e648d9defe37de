//! Applying the shared schema migrations (`touchpoint_store::migrate`, rendered for
//! [`Dialect::Sqlite`]) to the embedded store's file. Applied versions are recorded in
//! `schema_migrations`.

use crate::error::Db;
use touchpoint_store::migrate::{render, Dialect, MIGRATIONS};

/// Bring a SQLite database up to date.
pub async fn run_sqlite(pool: &sqlx::SqlitePool) -> touchpoint_store::Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
        .execute(pool)
        .await
        .db()?;
    let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(pool).await.db()?;
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let mut tx = crate::error::begin(pool).await?;
        sqlx::raw_sql(&render(sql, Dialect::Sqlite)).execute(&mut *tx).await.db()?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
            .bind(version)
            .bind(name)
            .bind(touchpoint_store::now_ms())
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        // A new store's schema is made, not upgraded: nothing to note for a person.
        if done.is_empty() {
            tracing::debug!(version, name, "applied migration");
        } else {
            tracing::info!(version, name, "applied migration");
        }
    }
    Ok(())
}

/// The customer search by a trait that can have an index (`indexable_trait`): the index's
/// expression, written as it is so that SQLite uses the index when the trait has one (and
/// otherwise compares inside SQLite, row by row); binds the project, a `LIKE` pattern the
/// row's whole traits text must match first ([`trait_prefilter`]: most rows are then
/// dropped without reading their JSON), the value, trimmed, and the most rows to return
/// (the first in id order: a scan stops there).
pub(crate) fn trait_search_sql(key: &str) -> String {
    format!(
        "SELECT id, CAST(json_extract(traits, '$.\"{key}\"') AS TEXT) FROM customers
         WHERE project_id = ? AND traits LIKE ? ESCAPE '\\' AND {} = lower(?) AND merged_into IS NULL ORDER BY id LIMIT ?",
        touchpoint_store::migrate::trait_expr(Dialect::Sqlite, key)
    )
}

/// The `LIKE` pattern a customer's traits text must match for a trait to equal `value`
/// (trimmed, ASCII case ignored), or `%` (every row) when that cannot be told from the
/// text. A matching value is a JSON string whose text holds the value as it is — the
/// traits are written by serde_json and `json_patch`, which escape only `"`, `\` and
/// control characters — or a number or boolean, whose text is not the one compared
/// (`true` compares as `1`, `1e20` as `1.0e+20`): a value with any of those escaped
/// characters, or made only of characters a number's text can have, gets `%` — except a
/// whole number other than `0` and `1` (an integer's text is its digits, and a real's
/// always has a point or an exponent), so that a numeric CRM id is found quickly. `LIKE`
/// ignores ASCII case only, as the comparison does.
pub(crate) fn trait_prefilter(value: &str) -> String {
    let value = value.trim();
    let numeric = value.chars().all(|c| c.is_ascii_digit() || ".+-eEInf".contains(c));
    let digits = value.strip_prefix('-').unwrap_or(value);
    let whole = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !matches!(value, "0" | "1");
    if (numeric && !whole) || value.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return "%".into();
    }
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search by an e-mail address or a phone goes through its index, not every row.
    #[tokio::test]
    async fn a_search_by_an_indexed_trait_uses_its_index() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        run_sqlite(&pool).await.unwrap();
        // And a trait indexed on request, whose index is named in hexadecimal.
        let asked = touchpoint_store::migrate::trait_index_sql(Dialect::Sqlite, "City");
        sqlx::query(&asked).execute(&pool).await.unwrap();
        for key in touchpoint_store::migrate::INDEXED_TRAITS.into_iter().chain(["City"]) {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", trait_search_sql(key)))
                    .bind(1)
                    .bind("%x%")
                    .bind("x")
                    .bind(50)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let plan = plan.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ");
            let index = touchpoint_store::migrate::trait_index_name(key);
            assert!(plan.contains(&format!("USING INDEX {index}")), "{key}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "in id order as the index keeps it: {plan}");
        }
    }

    #[test]
    fn the_prefilter_keeps_every_row_it_cannot_judge() {
        for (value, pattern) in [
            ("  Brno ", "%Brno%"),
            ("50%_off", "%50\\%\\_off%"),
            ("Plzeň", "%Plzeň%"),
            ("42", "%42%"),
            ("-7", "%-7%"),
            ("0", "%"),
            ("1", "%"),
            ("-", "%"),
            ("4.2", "%"),
            ("1.0e+20", "%"),
            ("Inf", "%"),
            ("a\"b", "%"),
            ("a\\b", "%"),
            ("a\tb", "%"),
            ("", "%"),
        ] {
            assert_eq!(trait_prefilter(value), pattern, "{value:?}");
        }
    }

    /// A database made before a migration keeps its rows through it: the preferences of
    /// a store from before channels (version 11) are every channel's after version 12.
    #[tokio::test]
    async fn preferences_from_before_channels_become_every_channels() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        for (_, _, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v <= 11) {
            sqlx::raw_sql(&render(sql, Dialect::Sqlite)).execute(&pool).await.unwrap();
        }
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL);
             INSERT INTO schema_migrations (version, name, applied_ms)
                 VALUES (1,'',0),(2,'',0),(3,'',0),(4,'',0),(5,'',0),(6,'',0),(7,'',0),(8,'',0),(9,'',0),(10,'',0),(11,'',0);
             INSERT INTO preferences (project_id, customer_id, category, allowed, updated_ms, source)
                 VALUES (1, 7, 'marketing', 0, 100, 'unsubscribe_link'), (1, 7, 'all', 1, 101, 'portal');",
        )
        .execute(&pool)
        .await
        .unwrap();
        run_sqlite(&pool).await.unwrap();
        let rows: Vec<(String, String, bool, i64, String)> =
            sqlx::query_as("SELECT category, channel, allowed, updated_ms, source FROM preferences ORDER BY category")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                ("all".into(), "all".into(), true, 101, "portal".into()),
                ("marketing".into(), "all".into(), false, 100, "unsubscribe_link".into())
            ]
        );
    }
}
