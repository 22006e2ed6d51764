//! `etl_jobs`: one row per (tenant, integration, job type) with state, cursor and status JSON.

use sqlx::types::Json;
use sqlx::PgConnection;

use super::error::StoreError;
use crate::domain::{JobState, JobStatus, Provider};

/// Creates the job that syncs a new integration: `NOT_STARTED`, active, every step idle.
pub async fn create_for_integration(
    connection: &mut PgConnection,
    tenant_id: i64,
    integration_id: i64,
    provider: Provider,
) -> Result<i64, StoreError> {
    let status = JobStatus::initial(provider, JobState::NotStarted);
    Ok(sqlx::query_scalar(
        "INSERT INTO etl_jobs (tenant_id, integration_id, job_type, state, status, next_run)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (tenant_id, integration_id, job_type) DO UPDATE SET updated_at = now()
         RETURNING id",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(provider.as_str())
    .bind(JobState::NotStarted.as_str())
    .bind(Json(status))
    .fetch_one(connection)
    .await?)
}
