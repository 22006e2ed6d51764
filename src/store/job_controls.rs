//! Operators' view of and hands on `etl_jobs`: list a tenant's jobs; trigger, pause,
//! resume or reset one. Every statement is scoped to the tenant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::error::StoreError;
use crate::domain::{IntegrationId, JobId, TenantId};

/// A job as operators see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobSummary {
    pub id: JobId,
    pub integration_id: IntegrationId,
    pub job_type: String,
    pub state: String,
    pub active: bool,
    pub next_run: Option<DateTime<Utc>>,
    pub last_sync_date: Option<DateTime<Utc>>,
    pub last_run_started_at: Option<DateTime<Utc>>,
    pub last_run_finished_at: Option<DateTime<Utc>>,
    pub full_sync_requested: bool,
    pub skip_reason: Option<String>,
    pub error_message: Option<String>,
    /// Step × stage progress: `{"overall": STATE, "steps": {name: {order, display_name,
    /// extraction, transform, load, embedding}}}`.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub status: serde_json::Value,
}

const SUMMARY_COLUMNS: &str = "id, integration_id, job_type, state, active, next_run, last_sync_date,
    last_run_started_at, last_run_finished_at, full_sync_requested, skip_reason, error_message, status";

/// The tenant's jobs, oldest first.
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<JobSummary>, StoreError> {
    super::tenants::ensure_exists(pool, tenant_id).await?;
    Ok(sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM etl_jobs WHERE tenant_id = $1 ORDER BY id"
    ))
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// One of the tenant's jobs (another tenant's is not found).
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
) -> Result<JobSummary, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM etl_jobs WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(job_id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound {
        entity: "job",
        id: job_id.get(),
    })
}

/// What an operator does to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Due now.
    Trigger,
    /// Skipped by schedulers until resumed (the reason is recorded).
    Pause,
    /// Active again and due now.
    Resume,
    /// Forget the cursor: the next run (due now) re-reads everything as a full sync.
    Reset,
    /// Mark a finished or failed job READY and due now (the seeds' `status: READY`).
    Ready,
}

/// Records `traceparent` as the trace the job's next run joins.
pub async fn remember_trace(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    traceparent: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE etl_jobs SET traceparent = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(job_id)
        .bind(traceparent)
        .execute(pool)
        .await?;
    Ok(())
}

/// Applies `control` to one of the tenant's jobs. A paused job cannot be triggered and a
/// running one cannot be reset: both answer `Conflict` with the reason.
pub async fn apply(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    control: Control,
) -> Result<(), StoreError> {
    let (sql, refused) = match control {
        Control::Trigger => (
            "UPDATE etl_jobs SET next_run = now(), updated_at = now()
             WHERE tenant_id = $1 AND id = $2 AND active",
            "is paused (resume it first)",
        ),
        Control::Pause => (
            "UPDATE etl_jobs SET active = FALSE, skip_reason = 'paused by an operator', updated_at = now()
             WHERE tenant_id = $1 AND id = $2",
            "",
        ),
        Control::Resume => (
            "UPDATE etl_jobs SET active = TRUE, skip_reason = NULL, next_run = now(), updated_at = now()
             WHERE tenant_id = $1 AND id = $2",
            "",
        ),
        Control::Reset => (
            "UPDATE etl_jobs SET state = 'NOT_STARTED', status = jsonb_set(status, '{overall}', '\"NOT_STARTED\"'),
                    last_sync_date = NULL, full_sync_requested = TRUE, error_message = NULL,
                    next_run = now(), updated_at = now()
             WHERE tenant_id = $1 AND id = $2 AND state <> 'RUNNING'",
            "is running (reset it once the run ends)",
        ),
        Control::Ready => (
            "UPDATE etl_jobs SET state = 'READY', status = jsonb_set(status, '{overall}', '\"READY\"'),
                    next_run = now(), updated_at = now()
             WHERE tenant_id = $1 AND id = $2 AND state <> 'RUNNING'",
            "is running (it becomes due again when the run ends)",
        ),
    };
    let done = sqlx::query(sql)
        .bind(tenant_id)
        .bind(job_id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM etl_jobs WHERE tenant_id = $1 AND id = $2)",
    )
    .bind(tenant_id)
    .bind(job_id)
    .fetch_one(pool)
    .await?;
    if exists {
        Err(StoreError::Conflict(format!("job {job_id} {refused}")))
    } else {
        Err(StoreError::NotFound {
            entity: "job",
            id: job_id.get(),
        })
    }
}
