//! [`MetaStore`] for PostgreSQL: projects, keys, the touchpoint catalog and rules, and the
//! reads of customers, identities and conflicts — each query the embedded store's, in
//! PostgreSQL's dialect, with the same orders (text sorted byte-wise, `COLLATE "C"`, as
//! SQLite does) and the same answers for what is missing or taken. Identity changes are
//! in [`crate::identity`], erasure and suppression in [`crate::erasure`].

use crate::{identity, limit, Db, PgMetaStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use touchpoint_core::catalog::{Catalog, Condition};
use touchpoint_core::{
    Channel, CustomerId, EventType, IdentityGraph, IdentityKind, IdentityOp, KeyKind, Localized, ProjectId, Rule,
    Touchpoint, TouchpointKind,
};
use touchpoint_store::erasure::{MetaErasure, Subject, SuppressionList, SuppressionStats};
use touchpoint_store::{
    now_ms, Brand, Conflict, Customer, Identity, KeyInfo, MetaStore, Project, Result, StoreError, StoredTouchpoint,
};

fn project_row(r: &PgRow) -> Result<Project> {
    let stages: String = r.try_get("stages").db()?;
    Ok(Project {
        id: r.try_get("id").db()?,
        name: r.try_get("name").db()?,
        timezone: r.try_get("timezone").db()?,
        churn_horizon_days: r.try_get::<i32, _>("churn_horizon_days").db()?.into(),
        stages: serde_json::from_str(&stages).map_err(|e| StoreError::Corrupt(format!("stages: {e}")))?,
        created_ms: r.try_get("created_ms").db()?,
        brand: Brand {
            brand_name: r.try_get("brand_name").db()?,
            brand_color: r.try_get("brand_color").db()?,
            brand_logo_url: r.try_get("brand_logo_url").db()?,
            privacy_url: r.try_get("privacy_url").db()?,
            default_lang: r.try_get("default_lang").db()?,
            site_origins: r.try_get("site_origins").db()?,
        },
    })
}

fn touchpoint_row(r: &PgRow) -> Result<StoredTouchpoint> {
    let channel: String = r.try_get("channel").db()?;
    let kind: String = r.try_get("kind").db()?;
    Ok(StoredTouchpoint {
        id: r.try_get("id").db()?,
        touchpoint: Touchpoint {
            key: r.try_get("key").db()?,
            names: Localized {
                en: r.try_get("name_en").db()?,
                cs: r.try_get("name_cs").db()?,
                pl: r.try_get("name_pl").db()?,
            },
            channel: Channel::parse(&channel).unwrap_or(Channel::Other),
            kind: TouchpointKind::parse(&kind).unwrap_or(TouchpointKind::Direct),
            stage: r.try_get("stage").db()?,
            department: r.try_get("department").db()?,
            conversion: r.try_get("conversion").db()?,
            churn: r.try_get("churn").db()?,
            discovered: r.try_get("discovered").db()?,
        },
    })
}

fn rule_row(r: &PgRow) -> Result<Rule> {
    let conditions: String = r.try_get("conditions").db()?;
    let event_type: Option<String> = r.try_get("event_type").db()?;
    Ok(Rule {
        id: r.try_get("id").db()?,
        priority: r.try_get("priority").db()?,
        touchpoint: r.try_get("touchpoint_key").db()?,
        event_type: event_type.as_deref().and_then(EventType::parse),
        event_name: r.try_get("event_name").db()?,
        conditions: serde_json::from_str::<Vec<Condition>>(&conditions)
            .map_err(|e| StoreError::Corrupt(format!("rule conditions: {e}")))?,
    })
}

/// A customer row (`SELECT *` or at least its columns).
pub(crate) fn customer_row(r: &PgRow) -> Result<Customer> {
    let traits: String = r.try_get("traits").db()?;
    Ok(Customer {
        id: r.try_get("id").db()?,
        project_id: r.try_get("project_id").db()?,
        user_id: r.try_get("user_id").db()?,
        merged_into: r.try_get("merged_into").db()?,
        traits: serde_json::from_str(&traits).unwrap_or_default(),
        created_ms: r.try_get("created_ms").db()?,
    })
}

/// An identity row: `kind, value, customer_id`.
pub(crate) fn identity_row(r: &PgRow) -> Result<Identity> {
    let kind: String = r.try_get(0).db()?;
    Ok(Identity {
        kind: IdentityKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?,
        value: r.try_get(1).db()?,
        customer_id: r.try_get(2).db()?,
    })
}

/// A conflict row: `id, customer_id, other_customer_id, identity, detail, created_ms`.
pub(crate) fn conflict_row(r: &PgRow) -> Result<Conflict> {
    Ok(Conflict {
        id: r.try_get(0).db()?,
        customer_id: r.try_get(1).db()?,
        other_customer_id: r.try_get(2).db()?,
        identity: r.try_get(3).db()?,
        detail: r.try_get(4).db()?,
        created_ms: r.try_get(5).db()?,
    })
}

/// How identities are listed: user ids first, then by age and value (as SQLite sorts).
pub(crate) const IDENTITY_ORDER: &str = r#"ORDER BY kind COLLATE "C" DESC, created_ms, value COLLATE "C""#;

async fn insert_touchpoint(c: &mut PgConnection, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO touchpoints (project_id, key, name_en, name_cs, name_pl, channel, kind, stage, department,
             conversion, churn, discovered, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (project_id, key) DO UPDATE SET name_en = excluded.name_en, name_cs = excluded.name_cs,
             name_pl = excluded.name_pl, channel = excluded.channel, kind = excluded.kind, stage = excluded.stage,
             department = excluded.department, conversion = excluded.conversion, churn = excluded.churn,
             discovered = excluded.discovered
         RETURNING id",
    )
    .bind(project)
    .bind(&tp.key)
    .bind(&tp.names.en)
    .bind(&tp.names.cs)
    .bind(&tp.names.pl)
    .bind(tp.channel.as_str())
    .bind(tp.kind.as_str())
    .bind(&tp.stage)
    .bind(&tp.department)
    .bind(tp.conversion)
    .bind(tp.churn)
    .bind(tp.discovered)
    .bind(now_ms())
    .fetch_one(&mut *c)
    .await
    .db()
}

async fn insert_rule(c: &mut PgConnection, project: ProjectId, rule: &Rule) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO rules (project_id, priority, touchpoint_key, event_type, event_name, conditions, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(project)
    .bind(rule.priority)
    .bind(&rule.touchpoint)
    .bind(rule.event_type.map(|t| t.as_str()))
    .bind(&rule.event_name)
    .bind(serde_json::to_string(&rule.conditions).expect("conditions serialize"))
    .bind(now_ms())
    .fetch_one(&mut *c)
    .await
    .db()
}

/// A trait's value as text, as SQLite's `CAST(json_extract(traits, path) AS TEXT)` gives
/// it: strings as they are, `true`/`false` as `1`/`0`, whole numbers in digits, other
/// numbers as SQLite prints a REAL, arrays and objects as JSON; `None` for `null`.
pub(crate) fn sqlite_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => real_text(n.as_f64().unwrap_or(f64::NAN)),
        }),
        other => Some(other.to_string()),
    }
}

/// A REAL as SQLite writes it as text (`printf("%!.15g")`): 15 significant digits, a
/// decimal point always, an exponent (`1.0e+20`) below 1e-4 and from 1e15.
pub(crate) fn real_text(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            String::new()
        } else if f > 0.0 {
            "Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return "0.0".into();
    }
    // Rounded to 15 significant digits: "d.dddddddddddddde<exp>".
    let sci = format!("{:.14e}", f);
    let (mantissa, exp) = sci.split_once('e').expect("scientific notation");
    let exp: i32 = exp.parse().expect("an exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if negative { "-" } else { "" };
    if !(-4..15).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}.{rest}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = exp as usize + 1;
    if digits.len() <= point {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[async_trait]
impl MetaStore for PgMetaStore {
    async fn create_project(&self, name: &str, catalog: &Catalog) -> Result<Project> {
        let mut tx = self.pool.begin().await.db()?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
        if exists.is_some() {
            return Err(StoreError::Exists(format!("project {name:?}")));
        }
        let id: i64 =
            sqlx::query_scalar("INSERT INTO projects (name, stages, created_ms) VALUES ($1, $2, $3) RETURNING id")
                .bind(name)
                .bind(serde_json::to_string(&catalog.stages).expect("stages serialize"))
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match crate::store_error(e) {
                    // Created beside us since the check above.
                    StoreError::Exists(_) => StoreError::Exists(format!("project {name:?}")),
                    other => other,
                })?;
        for tp in &catalog.touchpoints {
            insert_touchpoint(&mut tx, id, tp).await?;
        }
        for r in &catalog.rules {
            insert_rule(&mut tx, id, r).await?;
        }
        tx.commit().await.db()?;
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query("SELECT * FROM projects ORDER BY id").fetch_all(&self.pool).await.db()?;
        rows.iter().map(project_row).collect()
    }

    async fn project(&self, id: ProjectId) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1").bind(id).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(project_row).transpose()
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        let row =
            sqlx::query("SELECT * FROM projects WHERE name = $1").bind(name).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(project_row).transpose()
    }

    async fn update_project(&self, id: ProjectId, timezone: &str, churn_horizon_days: i64) -> Result<Project> {
        let done = sqlx::query("UPDATE projects SET timezone = $1, churn_horizon_days = $2 WHERE id = $3")
            .bind(timezone)
            .bind(churn_horizon_days)
            .bind(id)
            .execute(&self.pool)
            .await
            .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project {id}")));
        }
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn set_project_brand(&self, id: ProjectId, brand: &Brand) -> Result<Project> {
        let done = sqlx::query(
            "UPDATE projects SET brand_name = $1, brand_color = $2, brand_logo_url = $3, privacy_url = $4,
                 default_lang = $5, site_origins = $6 WHERE id = $7",
        )
        .bind(&brand.brand_name)
        .bind(&brand.brand_color)
        .bind(&brand.brand_logo_url)
        .bind(&brand.privacy_url)
        .bind(&brand.default_lang)
        .bind(&brand.site_origins)
        .bind(id)
        .execute(&self.pool)
        .await
        .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project {id}")));
        }
        self.project(id).await?.ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn create_key(&self, project: ProjectId, kind: KeyKind, token_hash: &str, prefix: &str) -> Result<KeyInfo> {
        self.accounts().create_key(project, kind, token_hash, prefix).await
    }

    async fn key_by_hash(&self, token_hash: &str) -> Result<Option<KeyInfo>> {
        self.accounts().key_by_hash(token_hash).await
    }

    async fn keys(&self, project: ProjectId) -> Result<Vec<KeyInfo>> {
        self.accounts().keys(project).await
    }

    async fn revoke_key(&self, project: ProjectId, id: i64, at_ms: i64) -> Result<touchpoint_store::Revoked> {
        self.accounts().revoke_key(project, id, at_ms).await
    }

    async fn touchpoints(&self, project: ProjectId) -> Result<Vec<StoredTouchpoint>> {
        let rows = sqlx::query("SELECT * FROM touchpoints WHERE project_id = $1 ORDER BY id")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(touchpoint_row).collect()
    }

    async fn upsert_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        let mut c = self.pool.acquire().await.db()?;
        insert_touchpoint(&mut c, project, tp).await
    }

    async fn ensure_touchpoint(&self, project: ProjectId, tp: &Touchpoint) -> Result<i64> {
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM touchpoints WHERE project_id = $1 AND key = $2")
            .bind(project)
            .bind(&tp.key)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        match existing {
            Some(id) => Ok(id),
            None => self.upsert_touchpoint(project, tp).await,
        }
    }

    async fn rules(&self, project: ProjectId) -> Result<Vec<Rule>> {
        let rows = sqlx::query("SELECT * FROM rules WHERE project_id = $1 ORDER BY priority, id")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(rule_row).collect()
    }

    async fn add_rule(&self, project: ProjectId, rule: &Rule) -> Result<Rule> {
        let mut c = self.pool.acquire().await.db()?;
        let id = insert_rule(&mut c, project, rule).await?;
        Ok(Rule { id, ..rule.clone() })
    }

    async fn update_rule(&self, project: ProjectId, rule: &Rule) -> Result<()> {
        let n = sqlx::query(
            "UPDATE rules SET priority = $1, touchpoint_key = $2, event_type = $3, event_name = $4, conditions = $5
             WHERE id = $6 AND project_id = $7",
        )
        .bind(rule.priority)
        .bind(&rule.touchpoint)
        .bind(rule.event_type.map(|t| t.as_str()))
        .bind(&rule.event_name)
        .bind(serde_json::to_string(&rule.conditions).expect("conditions serialize"))
        .bind(rule.id)
        .bind(project)
        .execute(&self.pool)
        .await
        .db()?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("rule {}", rule.id)));
        }
        Ok(())
    }

    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM rules WHERE id = $1 AND project_id = $2")
            .bind(id)
            .bind(project)
            .execute(&self.pool)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("rule {id}")));
        }
        Ok(())
    }

    async fn apply_identity(&self, ops: &[IdentityOp], traits: &[(CustomerId, Map<String, Value>)]) -> Result<()> {
        self.commit_identity(ops, traits, &[]).await
    }

    async fn load_identity_graph(&self) -> Result<IdentityGraph> {
        identity::load_graph(self).await
    }

    async fn find_identity(&self, project: ProjectId, kind: IdentityKind, value: &str) -> Result<Option<CustomerId>> {
        sqlx::query_scalar("SELECT customer_id FROM identities WHERE project_id = $1 AND kind = $2 AND value = $3")
            .bind(project)
            .bind(kind.as_str())
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .db()
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>> {
        let row =
            sqlx::query("SELECT * FROM customers WHERE id = $1").bind(id).fetch_optional(&self.pool).await.db()?;
        row.as_ref().map(customer_row).transpose()
    }

    async fn customers(&self, project: ProjectId, after_id: i64, limit_n: usize) -> Result<Vec<Customer>> {
        let rows = sqlx::query(
            "SELECT * FROM customers WHERE project_id = $1 AND merged_into IS NULL AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(project)
        .bind(after_id)
        .bind(limit(limit_n))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(customer_row).collect()
    }

    async fn merged_customers(&self, project: ProjectId) -> Result<Vec<(CustomerId, CustomerId)>> {
        sqlx::query_as(
            "SELECT id, merged_into FROM customers WHERE project_id = $1 AND merged_into IS NOT NULL ORDER BY id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn trait_values(&self, project: ProjectId, key: &str) -> Result<Vec<(CustomerId, String)>> {
        // As in SQLite, whose JSON paths end at a NUL: no customer has a value for it.
        if key.contains('\0') {
            return Ok(vec![]);
        }
        // Traits are kept as compact JSON written by serde_json, so a customer with the
        // trait has the key, as JSON, in its text; the text narrows, the parse decides.
        let needle = serde_json::to_string(key).expect("a string serializes");
        let rows: Vec<(CustomerId, String)> = sqlx::query_as(
            "SELECT id, traits FROM customers WHERE project_id = $1 AND merged_into IS NULL AND strpos(traits, $2) > 0
             ORDER BY id",
        )
        .bind(project)
        .bind(&needle)
        .fetch_all(&self.pool)
        .await
        .db()?;
        let mut out = vec![];
        for (id, text) in rows {
            let Ok(traits) = serde_json::from_str::<Map<String, Value>>(&text) else { continue };
            if let Some(v) = traits.get(key).and_then(sqlite_text) {
                out.push((id, v));
            }
        }
        Ok(out)
    }

    async fn customers_with_trait(
        &self,
        project: ProjectId,
        key: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<(CustomerId, String)>> {
        use touchpoint_store::migrate::{indexable_trait, trait_expr, Dialect};
        if !(indexable_trait(key) && self.has_trait_index(key).await?) {
            let mut found = touchpoint_store::matching_trait_values(self.trait_values(project, key).await?, value);
            found.truncate(limit);
            return Ok(found);
        }
        // The index's expression, written as it is so that PostgreSQL uses the index; its
        // lower() knows every letter, so the rows are narrowed once more as SQLite would.
        let sql = format!(
            "SELECT id, traits FROM customers WHERE project_id = $1 AND {} = lower($2) AND merged_into IS NULL
             ORDER BY id",
            trait_expr(Dialect::Postgres, key)
        );
        let rows: Vec<(CustomerId, String)> =
            sqlx::query_as(&sql).bind(project).bind(value.trim()).fetch_all(&self.pool).await.db()?;
        let values = rows
            .into_iter()
            .filter_map(|(id, text)| {
                let traits = serde_json::from_str::<Map<String, Value>>(&text).ok()?;
                Some((id, traits.get(key).and_then(sqlite_text)?))
            })
            .collect();
        // Narrowed after the query, so the limit too.
        let mut found = touchpoint_store::matching_trait_values(values, value);
        found.truncate(limit);
        Ok(found)
    }

    async fn index_traits(&self, keys: &[String]) -> Result<()> {
        touchpoint_store::check_trait_keys(keys)?;
        for key in keys {
            let sql = touchpoint_store::migrate::trait_index_sql(touchpoint_store::migrate::Dialect::Postgres, key);
            // Nodes opening at once may make the same index: the one that loses finds it
            // there (or made by the other) the next time.
            if let Err(e) = sqlx::query(&sql).execute(&self.pool).await {
                if !self.has_trait_index(key).await? {
                    return Err(crate::store_error(e));
                }
            }
        }
        Ok(())
    }

    async fn merged_ids(&self, id: CustomerId) -> Result<Vec<CustomerId>> {
        sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 OR merged_into = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn identities(&self, id: CustomerId) -> Result<Vec<Identity>> {
        let rows = sqlx::query(&format!(
            "SELECT kind, value, customer_id FROM identities WHERE customer_id IN
                 (SELECT id FROM customers WHERE id = $1 OR merged_into = $1) {IDENTITY_ORDER}"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(identity_row).collect()
    }

    async fn conflicts(&self, project: ProjectId, limit_n: usize) -> Result<Vec<Conflict>> {
        let rows = sqlx::query(
            "SELECT id, customer_id, other_customer_id, identity, detail, created_ms FROM identity_conflicts
             WHERE project_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(project)
        .bind(limit(limit_n))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(conflict_row).collect()
    }

    async fn subject_customers(&self, subject: &Subject) -> Result<Vec<Customer>> {
        crate::erasure::subject_customers(self, subject).await
    }

    async fn subject_identities(&self, subject: &Subject) -> Result<Vec<Identity>> {
        crate::erasure::subject_identities(self, subject).await
    }

    async fn subject_conflicts(&self, subject: &Subject) -> Result<Vec<Conflict>> {
        crate::erasure::subject_conflicts(self, subject).await
    }

    async fn erase_subject_meta(&self, subject: &Subject) -> Result<MetaErasure> {
        crate::erasure::erase_subject_meta(self, subject).await
    }

    async fn suppress(&self, project: ProjectId, values: &[String]) -> Result<u64> {
        crate::erasure::suppress(self, project, values).await
    }

    async fn suppression_list(&self, project: ProjectId) -> Result<SuppressionList> {
        let mut c = self.pool.acquire().await.db()?;
        crate::erasure::suppression_list_in(&mut c, project).await
    }

    async fn suppression_stats(&self, project: ProjectId) -> Result<SuppressionStats> {
        crate::erasure::suppression_stats(self, project).await
    }

    async fn count_refused(&self, project: ProjectId, n: u64) -> Result<()> {
        let mut c = self.pool.acquire().await.db()?;
        crate::erasure::count_refused_in(&mut c, project, n).await
    }
}

impl PgMetaStore {
    /// Whether the index of trait `key` ([`touchpoint_store::migrate::trait_index_name`])
    /// exists in this schema.
    async fn has_trait_index(&self, key: &str) -> Result<bool> {
        if self.trait_indexes.lock().expect("trait indexes").contains(key) {
            return Ok(true);
        }
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
        )
        .bind(touchpoint_store::migrate::trait_index_name(key))
        .fetch_one(&self.pool)
        .await
        .db()?;
        if n > 0 {
            self.trait_indexes.lock().expect("trait indexes").insert(key.to_string());
        }
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_are_written_as_sqlite_writes_them() {
        // What SQLite's CAST(json_extract(..) AS TEXT) gives for these numbers.
        for (f, want) in [
            (1.5, "1.5"),
            (2.0, "2.0"),
            (1e20, "1.0e+20"),
            (0.1 + 0.2, "0.3"),
            (100.0, "100.0"),
            (1.234_567_890_123_456_7e20, "1.23456789012346e+20"),
            (-0.0, "0.0"),
            (1.0e-5, "1.0e-05"),
            (-2.5, "-2.5"),
            (0.001, "0.001"),
            (123_456_789.125, "123456789.125"),
        ] {
            assert_eq!(real_text(f), want, "{f}");
        }
        assert_eq!(sqlite_text(&serde_json::json!(true)).as_deref(), Some("1"));
        assert_eq!(sqlite_text(&serde_json::json!({"b":1,"a":[1,2]})).as_deref(), Some(r#"{"b":1,"a":[1,2]}"#));
        assert_eq!(sqlite_text(&serde_json::json!(null)), None);
    }
}
