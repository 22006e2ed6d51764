//! A tenant's sync jobs: listed, and controlled (trigger, pause, resume, reset).

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{JobId, TenantId};
use crate::store::job_controls::{self, Control, JobSummary};
use crate::store::tenants;
use crate::telemetry::trace_export;

/// The tenant's jobs (an unknown tenant is not found).
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<JobSummary>> {
    Ok(job_controls::list(pool, tenant_id).await?)
}

/// Applies `control` to one of the tenant's jobs: a paused job cannot be triggered and a
/// running one cannot be reset (both a conflict with the reason); another tenant's job is
/// not found.
pub async fn control(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    control: Control,
) -> ServiceResult<()> {
    job_controls::apply(pool, tenant_id, job_id, control).await?;
    // The run this makes due joins the caller's trace (when traces are exported).
    let makes_due = !matches!(control, Control::Pause);
    if let (true, Some(traceparent)) = (makes_due, trace_export::traceparent()) {
        job_controls::remember_trace(pool, tenant_id, job_id, &traceparent).await?;
    }
    tracing::info!(
        tenant_id = tenant_id.get(),
        job_id = job_id.get(),
        ?control,
        "job updated"
    );
    Ok(())
}

/// Fails unless the tenant exists (before watching its events, say).
pub async fn ensure_tenant(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<()> {
    Ok(tenants::ensure_exists(pool, tenant_id).await?)
}

/// One of the tenant's jobs with its status JSON.
pub async fn get(pool: &PgPool, tenant_id: TenantId, job_id: JobId) -> ServiceResult<JobSummary> {
    Ok(job_controls::get(pool, tenant_id, job_id).await?)
}
