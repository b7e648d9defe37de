//! [`ListenStore`] for the embedded SQLite store. Saving answers is two single statements
//! (an insert that does nothing when the key's row exists, then an update guarded by
//! `complete = 0`), so two simultaneous submissions of one link serialise in SQLite and
//! exactly one of them completes the response.

use crate::error::Db;
use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use touchpoint_core::ProjectId;

use crate::sqlite::SqliteStore;
use touchpoint_store::erasure::{ListenErasure, Subject};
use touchpoint_store::listen::*;
use touchpoint_store::{now_ms, Result, StoreError};

fn json(r: &SqliteRow, col: &str) -> Result<Value> {
    let text: String = r.try_get(col).db()?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn survey_row(r: &SqliteRow) -> Result<SurveyRow> {
    let status: String = r.try_get("status").db()?;
    Ok(SurveyRow {
        id: r.try_get("id").db()?,
        project_id: r.try_get("project_id").db()?,
        key: r.try_get("key").db()?,
        status: SurveyStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("survey status {status}")))?,
        version: r.try_get("version").db()?,
        public_id: r.try_get("public_id").db()?,
        definition: json(r, "definition")?,
        created_ms: r.try_get("created_ms").db()?,
        updated_ms: r.try_get("updated_ms").db()?,
    })
}

pub(crate) fn response_row(r: &SqliteRow) -> Result<ResponseRow> {
    Ok(ResponseRow {
        id: r.try_get("id").db()?,
        response: NewResponse {
            project_id: r.try_get("project_id").db()?,
            survey_id: r.try_get("survey_id").db()?,
            version: r.try_get("version").db()?,
            customer: r.try_get("customer").db()?,
            touchpoint: r.try_get("touchpoint").db()?,
            lang: r.try_get("lang").db()?,
            answers: json(r, "answers")?,
            dimensions: json(r, "dimensions")?,
            weight: r.try_get("weight").db()?,
            source: r.try_get("source").db()?,
            external_id: r.try_get("external_id").db()?,
            at_ms: r.try_get("completed_ms").db()?,
        },
        invitation_id: r.try_get("invitation_id").db()?,
        complete: r.try_get("complete").db()?,
        page: r.try_get("page").db()?,
        created_ms: r.try_get("created_ms").db()?,
        completed_ms: r.try_get("completed_ms").db()?,
    })
}

pub(crate) fn invitation_row(r: &SqliteRow) -> Result<InvitationRow> {
    Ok(InvitationRow {
        id: r.try_get("id").db()?,
        project_id: r.try_get("project_id").db()?,
        survey_id: r.try_get("survey_id").db()?,
        invitation: NewInvitation {
            customer: r.try_get("customer").db()?,
            touchpoint: r.try_get("touchpoint").db()?,
            lang: r.try_get("lang").db()?,
            expires_ms: r.try_get("expires_ms").db()?,
        },
        created_ms: r.try_get("created_ms").db()?,
    })
}

const SURVEY_SELECT: &str = "SELECT s.*, v.definition FROM surveys s
     JOIN survey_versions v ON v.survey_id = s.id AND v.version = s.version";

fn random_id(len: usize) -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

fn key_sql(key: &ResponseKey) -> (&'static str, Option<i64>, Option<&str>) {
    match key {
        ResponseKey::Invitation(id) => ("invitation_id = ?", Some(*id), None),
        ResponseKey::Session(s) => ("session = ?", None, Some(s.as_str())),
    }
}

#[async_trait]
impl ListenStore for SqliteStore {
    async fn project_secret(&self, project: ProjectId) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO project_secrets (project_id, secret, created_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(project)
        .bind(random_id(48))
        .bind(now_ms())
        .execute(self.pool())
        .await
        .db()?;
        let s: String = sqlx::query_scalar("SELECT secret FROM project_secrets WHERE project_id = ?")
            .bind(project)
            .fetch_one(self.pool())
            .await
            .db()?;
        Ok(s.into_bytes())
    }

    async fn create_survey(&self, project: ProjectId, key: &str, definition: &Value) -> Result<SurveyRow> {
        let mut tx = crate::error::begin(self.pool()).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM surveys WHERE project_id = ? AND key = ?")
            .bind(project)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
        if exists.is_some() {
            return Err(StoreError::Exists(format!("survey {key:?}")));
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO surveys (project_id, key, status, version, public_id, created_ms, updated_ms)
             VALUES (?, ?, 'draft', 1, ?, ?, ?) RETURNING id",
        )
        .bind(project)
        .bind(key)
        .bind(random_id(12))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        sqlx::query("INSERT INTO survey_versions (survey_id, version, definition, created_ms) VALUES (?, 1, ?, ?)")
            .bind(id)
            .bind(definition.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        self.survey(id).await?.ok_or_else(|| StoreError::NotFound(format!("survey {id}")))
    }

    async fn surveys(&self, project: ProjectId) -> Result<Vec<SurveyRow>> {
        let rows = sqlx::query(&format!("{SURVEY_SELECT} WHERE s.project_id = ? ORDER BY s.id"))
            .bind(project)
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.iter().map(survey_row).collect()
    }

    async fn survey(&self, id: i64) -> Result<Option<SurveyRow>> {
        let row =
            sqlx::query(&format!("{SURVEY_SELECT} WHERE s.id = ?")).bind(id).fetch_optional(self.pool()).await.db()?;
        row.as_ref().map(survey_row).transpose()
    }

    async fn survey_by_key(&self, project: ProjectId, key: &str) -> Result<Option<SurveyRow>> {
        let row = sqlx::query(&format!("{SURVEY_SELECT} WHERE s.project_id = ? AND s.key = ?"))
            .bind(project)
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.as_ref().map(survey_row).transpose()
    }

    async fn survey_by_public_id(&self, public_id: &str) -> Result<Option<SurveyRow>> {
        let row = sqlx::query(&format!("{SURVEY_SELECT} WHERE s.public_id = ?"))
            .bind(public_id)
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.as_ref().map(survey_row).transpose()
    }

    async fn survey_versions(&self, id: i64) -> Result<Vec<(i64, Value)>> {
        let rows = sqlx::query("SELECT version, definition FROM survey_versions WHERE survey_id = ? ORDER BY version")
            .bind(id)
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.iter().map(|r| Ok((r.try_get("version").db()?, json(r, "definition")?))).collect()
    }

    async fn update_survey(&self, id: i64, definition: &Value) -> Result<SurveyRow> {
        let current = self.survey(id).await?.ok_or_else(|| StoreError::NotFound(format!("survey {id}")))?;
        let now = now_ms();
        let mut tx = crate::error::begin(self.pool()).await?;
        if current.status == SurveyStatus::Draft {
            sqlx::query(
                "UPDATE survey_versions SET definition = ?, created_ms = ? WHERE survey_id = ? AND version = ?",
            )
            .bind(definition.to_string())
            .bind(now)
            .bind(id)
            .bind(current.version)
            .execute(&mut *tx)
            .await
            .db()?;
        } else {
            let version = current.version + 1;
            sqlx::query("INSERT INTO survey_versions (survey_id, version, definition, created_ms) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(version)
                .bind(definition.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await
                .db()?;
            sqlx::query("UPDATE surveys SET version = ? WHERE id = ?")
                .bind(version)
                .bind(id)
                .execute(&mut *tx)
                .await
                .db()?;
        }
        sqlx::query("UPDATE surveys SET updated_ms = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        self.survey(id).await?.ok_or_else(|| StoreError::NotFound(format!("survey {id}")))
    }

    async fn set_survey_status(&self, id: i64, status: SurveyStatus) -> Result<SurveyRow> {
        let done = sqlx::query("UPDATE surveys SET status = ?, updated_ms = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await
            .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("survey {id}")));
        }
        self.survey(id).await?.ok_or_else(|| StoreError::NotFound(format!("survey {id}")))
    }

    async fn create_invitations(&self, project: ProjectId, survey: i64, items: &[NewInvitation]) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = crate::error::begin(self.pool()).await?;
        let mut ids = Vec::with_capacity(items.len());
        for i in items {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO invitations (project_id, survey_id, customer, touchpoint, lang, expires_ms, created_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(project)
            .bind(survey)
            .bind(&i.customer)
            .bind(&i.touchpoint)
            .bind(&i.lang)
            .bind(i.expires_ms)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .db()?;
            ids.push(id);
        }
        tx.commit().await.db()?;
        Ok(ids)
    }

    async fn invitation(&self, id: i64) -> Result<Option<InvitationRow>> {
        let row =
            sqlx::query("SELECT * FROM invitations WHERE id = ?").bind(id).fetch_optional(self.pool()).await.db()?;
        row.as_ref().map(invitation_row).transpose()
    }

    async fn response_by_key(&self, survey: i64, key: &ResponseKey) -> Result<Option<ResponseRow>> {
        let (cond, inv, session) = key_sql(key);
        let sql = format!("SELECT id FROM responses WHERE survey_id = ? AND {cond}");
        let q = sqlx::query_scalar::<_, i64>(&sql).bind(survey);
        let id = match inv {
            Some(id) => q.bind(id).fetch_optional(self.pool()).await.db()?,
            None => q.bind(session.unwrap_or_default()).fetch_optional(self.pool()).await.db()?,
        };
        let Some(id) = id else { return Ok(None) };
        let row =
            sqlx::query("SELECT * FROM responses WHERE id = ?").bind(id).fetch_optional(self.pool()).await.db()?;
        row.as_ref().map(response_row).transpose()
    }

    async fn save_answers(&self, key: &ResponseKey, r: &NewResponse, page: i64, complete: bool) -> Result<SaveOutcome> {
        let now = now_ms();
        let (cond, inv, session) = key_sql(key);
        sqlx::query(
            "INSERT INTO responses (project_id, survey_id, version, invitation_id, session, customer, touchpoint, lang,
                 answers, dimensions, weight, source, complete, page, created_ms, updated_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, FALSE, 0, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(r.project_id)
        .bind(r.survey_id)
        .bind(r.version)
        .bind(inv)
        .bind(session)
        .bind(&r.customer)
        .bind(&r.touchpoint)
        .bind(&r.lang)
        .bind(r.dimensions.to_string())
        .bind(r.weight)
        .bind(&r.source)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await
        .db()?;
        let update = format!(
            "UPDATE responses SET answers = ?, page = ?, lang = ?, updated_ms = ?, complete = ?,
                 completed_ms = CASE WHEN ? THEN ? ELSE NULL END
             WHERE survey_id = ? AND {cond} AND complete = FALSE RETURNING id"
        );
        let q = sqlx::query_scalar::<_, i64>(&update)
            .bind(r.answers.to_string())
            .bind(page)
            .bind(&r.lang)
            .bind(now)
            .bind(complete)
            .bind(complete)
            .bind(r.at_ms.unwrap_or(now))
            .bind(r.survey_id);
        let updated = match (inv, session) {
            (Some(id), _) => q.bind(id).fetch_optional(self.pool()).await.db()?,
            (None, s) => q.bind(s.unwrap_or_default()).fetch_optional(self.pool()).await.db()?,
        };
        if let Some(id) = updated {
            return Ok(if complete { SaveOutcome::Completed(id) } else { SaveOutcome::Saved(id) });
        }
        let existing =
            self.response_by_key(r.survey_id, key).await?.ok_or_else(|| StoreError::NotFound("response".into()))?;
        Ok(SaveOutcome::AlreadyComplete(existing.id))
    }

    async fn insert_responses(&self, rs: &[NewResponse]) -> Result<Vec<Option<i64>>> {
        let now = now_ms();
        let mut tx = crate::error::begin(self.pool()).await?;
        let mut out = Vec::with_capacity(rs.len());
        for r in rs {
            let at = r.at_ms.unwrap_or(now);
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO responses (project_id, survey_id, version, external_id, customer, touchpoint, lang,
                     answers, dimensions, weight, source, complete, page, created_ms, updated_ms, completed_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, 0, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(r.project_id)
            .bind(r.survey_id)
            .bind(r.version)
            .bind(&r.external_id)
            .bind(&r.customer)
            .bind(&r.touchpoint)
            .bind(&r.lang)
            .bind(r.answers.to_string())
            .bind(r.dimensions.to_string())
            .bind(r.weight)
            .bind(&r.source)
            .bind(at)
            .bind(at)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            out.push(id);
        }
        tx.commit().await.db()?;
        Ok(out)
    }

    async fn responses(
        &self,
        project: ProjectId,
        which: ResponseFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ResponseRow>> {
        let rows = sqlx::query(
            "SELECT * FROM responses WHERE project_id = ? AND (? IS NULL OR survey_id = ?) AND (NOT ? OR complete)
             AND (NOT ? OR touchpoint IS NOT NULL) AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(project)
        .bind(which.survey)
        .bind(which.survey)
        .bind(which.complete_only)
        .bind(which.with_touchpoint)
        .bind(after_id)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.iter().map(response_row).collect()
    }

    async fn add_benchmarks(&self, project: ProjectId, rows: &[BenchmarkRow]) -> Result<usize> {
        let now = now_ms();
        let mut tx = crate::error::begin(self.pool()).await?;
        for b in rows {
            sqlx::query(
                "INSERT INTO benchmarks (project_id, source, metric, segment, value, n, se, created_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(project)
            .bind(&b.source)
            .bind(&b.metric)
            .bind(&b.segment)
            .bind(b.value)
            .bind(b.n)
            .bind(b.se)
            .bind(now)
            .execute(&mut *tx)
            .await
            .db()?;
        }
        tx.commit().await.db()?;
        Ok(rows.len())
    }

    async fn subject_invitations(&self, subject: &Subject) -> Result<Vec<InvitationRow>> {
        crate::sqlite_erasure::subject_invitations(self, subject).await
    }

    async fn subject_responses(&self, subject: &Subject) -> Result<Vec<ResponseRow>> {
        crate::sqlite_erasure::subject_responses(self, subject).await
    }

    async fn erase_subject_listen(&self, subject: &Subject) -> Result<ListenErasure> {
        crate::sqlite_erasure::erase_subject_listen(self, subject).await
    }

    async fn benchmarks(&self, project: ProjectId) -> Result<Vec<BenchmarkRow>> {
        let rows = sqlx::query("SELECT * FROM benchmarks WHERE project_id = ? ORDER BY id")
            .bind(project)
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.iter()
            .map(|r| {
                Ok(BenchmarkRow {
                    source: r.try_get("source").db()?,
                    metric: r.try_get("metric").db()?,
                    segment: r.try_get("segment").db()?,
                    value: r.try_get("value").db()?,
                    n: r.try_get("n").db()?,
                    se: r.try_get("se").db()?,
                })
            })
            .collect()
    }
}
