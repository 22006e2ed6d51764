//! `etl_jobs`: one row per (tenant, integration, job type) with state, cursor and status JSON.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::error::StoreError;
use super::job_events::announcing;
use crate::domain::{
    IntegrationId, JobId, JobState, JobStatus, JobStep, Provider, Stage, StageState, TenantId,
};

/// Creates the job that syncs a new integration: `NOT_STARTED`, active, every step idle.
pub async fn create_for_integration(
    connection: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    provider: Provider,
    steps: &[JobStep],
) -> Result<JobId, StoreError> {
    let status = JobStatus::initial(steps, JobState::NotStarted);
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

/// A job as a run needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRun {
    pub id: JobId,
    pub integration_id: IntegrationId,
    #[sqlx(try_from = "String", rename = "job_type")]
    pub provider: Provider,
    pub active: bool,
    pub last_sync_date: Option<DateTime<Utc>>,
    /// An operator reset it: the next run is a full sync.
    pub full_sync_requested: bool,
    /// When its current run was claimed or started: the token an extract worker takes a
    /// dispatched run with.
    pub last_run_started_at: Option<DateTime<Utc>>,
    /// The trace of the request that made it due (an API trigger), which its run joins.
    #[sqlx(default)]
    pub traceparent: Option<String>,
}

/// The tenant's jobs of `provider`, for one integration or all of them, with the
/// integration active.
pub async fn for_run(
    pool: &PgPool,
    tenant_id: TenantId,
    provider: Provider,
    integration_id: Option<IntegrationId>,
) -> Result<Vec<JobRun>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT j.id, j.integration_id, j.job_type, j.active AND i.active AS active, j.last_sync_date, j.full_sync_requested,
                j.last_run_started_at
         FROM etl_jobs j JOIN integrations i ON i.id = j.integration_id AND i.tenant_id = j.tenant_id
         WHERE j.tenant_id = $1 AND j.job_type = $2 AND ($3::bigint IS NULL OR j.integration_id = $3)
         ORDER BY j.id",
    )
    .bind(tenant_id)
    .bind(provider.as_str())
    .bind(integration_id)
    .fetch_all(pool)
    .await?)
}

/// Marks the job RUNNING with every stage of every one of `steps` (its source's) idle.
pub async fn start_run(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    steps: &[JobStep],
) -> Result<(), StoreError> {
    sqlx::query(&announcing(
        "UPDATE etl_jobs SET state = 'RUNNING', status = $3, last_run_started_at = now(),
                last_progress_at = now(), error_message = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING tenant_id, id",
        "NULL",
        "NULL",
        "'RUNNING'",
    ))
    .bind(tenant_id)
    .bind(job_id)
    .bind(Json(JobStatus::initial(steps, JobState::Running)))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records one stage of one step changing state (and that the job made progress).
pub async fn set_stage(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    step: &str,
    stage: Stage,
    state: StageState,
) -> Result<(), StoreError> {
    sqlx::query(&announcing(
        "UPDATE etl_jobs SET status = jsonb_set(status, ARRAY['steps', $3, $4], to_jsonb($5::text)),
                last_progress_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND status->'steps' ? $3 RETURNING tenant_id, id",
        "$3::text",
        "$4::text",
        "$5::text",
    ))
    .bind(tenant_id)
    .bind(job_id)
    .bind(step)
    .bind(stage.as_str())
    .bind(serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
    .execute(pool)
    .await?;
    Ok(())
}

/// Items a step extracted, loaded and failed in this run, by step name.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StepCounts {
    pub extracted: u64,
    pub loaded: u64,
    pub failed: u64,
    pub embedded: u64,
}

/// Adds each step's item counts to the status JSON (`steps.<step>.counts`); steps not
/// named keep theirs. Call before the run's end is recorded, which announces the change.
pub async fn set_step_counts(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    counts: &std::collections::BTreeMap<&str, StepCounts>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE etl_jobs SET status = jsonb_set(status, '{steps}', (
             SELECT coalesce(jsonb_object_agg(s.key, CASE WHEN c.counts IS NULL THEN s.value
                                                      ELSE s.value || jsonb_build_object('counts', c.counts) END),
                             '{}'::jsonb)
             FROM jsonb_each(status->'steps') s LEFT JOIN jsonb_each($3) c(step, counts) ON c.step = s.key))
         WHERE tenant_id = $1 AND id = $2 AND jsonb_typeof(status->'steps') = 'object'",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(Json(counts))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that the job made progress (so no scheduler takes it for stuck).
pub async fn touch(pool: &PgPool, tenant_id: TenantId, job_id: JobId) -> Result<(), StoreError> {
    sqlx::query("UPDATE etl_jobs SET last_progress_at = now() WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(job_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends the run: FINISHED with the new incremental cursor (and, when it read everything,
/// `last_full_sync_at`), or FAILED with the error.
pub async fn finish_run(
    pool: &PgPool,
    (tenant_id, job_id): (TenantId, JobId),
    read_everything: bool,
    outcome: Result<DateTime<Utc>, &str>,
) -> Result<(), StoreError> {
    let (state, cursor, error) = match outcome {
        Ok(cursor) => (JobState::Finished, Some(cursor), None),
        Err(error) => (JobState::Failed, None, Some(error)),
    };
    sqlx::query(&announcing(
        "UPDATE etl_jobs SET state = $3, status = jsonb_set(status, '{overall}', to_jsonb($3::text)),
                last_sync_date = coalesce($4, last_sync_date), error_message = $5,
                full_sync_requested = full_sync_requested AND $4 IS NULL,
                last_full_sync_at = CASE WHEN $6 AND $4 IS NOT NULL THEN $4 ELSE last_full_sync_at END,
                last_run_finished_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING tenant_id, id",
        "NULL",
        "NULL",
        "$3::text",
    ))
    .bind(tenant_id)
    .bind(job_id)
    .bind(state.as_str())
    .bind(cursor)
    .bind(error)
    .bind(read_everything)
    .execute(pool)
    .await?;
    Ok(())
}

/// Makes the job's next run a full one when its last full run is older than `every` (or
/// there was none); true when it did.
pub async fn request_full_when_older(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    every: std::time::Duration,
) -> Result<bool, StoreError> {
    let requested: Option<JobId> = sqlx::query_scalar(
        "UPDATE etl_jobs SET full_sync_requested = TRUE, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND NOT full_sync_requested
           AND (last_full_sync_at IS NULL OR last_full_sync_at < now() - make_interval(secs => $3))
         RETURNING id",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(every.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(requested.is_some())
}

/// Claims up to `limit` due jobs (active, integration active, `next_run` passed, and
/// not running — or running without progress for `stuck_after`, i.e. its runner died) and
/// marks them RUNNING. `FOR UPDATE SKIP LOCKED`: two schedulers never claim the same job.
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    stuck_after: std::time::Duration,
) -> Result<Vec<(TenantId, JobRun)>, StoreError> {
    let rows: Vec<Claimed> = sqlx::query_as(
        "UPDATE etl_jobs j SET state = 'RUNNING', last_run_started_at = now(), last_progress_at = now(), updated_at = now(),
                traceparent = NULL
         FROM (SELECT j2.id, j2.traceparent FROM etl_jobs j2
               JOIN integrations i ON i.id = j2.integration_id AND i.tenant_id = j2.tenant_id
               WHERE j2.active AND i.active
                 AND (j2.state <> 'RUNNING' OR j2.last_progress_at < now() - make_interval(secs => $2))
                 AND (j2.next_run IS NULL OR j2.next_run <= now())
               ORDER BY j2.next_run NULLS FIRST, j2.id
               LIMIT $1
               FOR UPDATE OF j2 SKIP LOCKED) due
         WHERE j.id = due.id
         RETURNING j.tenant_id, j.id, j.integration_id, j.job_type, j.active, j.last_sync_date, j.full_sync_requested,
                   j.last_run_started_at, due.traceparent",
    )
    .bind(limit)
    .bind(stuck_after.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|claimed| (claimed.tenant_id, claimed.job))
        .collect())
}

/// Seconds the longest-waiting due job (as [`claim_due`] would take it) has waited past
/// its `next_run` (a job never run: past its creation); 0 when none is due. Every tenant's
/// jobs: it measures the schedulers, not a tenant.
pub async fn oldest_due_wait(
    pool: &PgPool,
    stuck_after: std::time::Duration,
) -> Result<f64, StoreError> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(coalesce(j.next_run, j.created_at)))::float8
         FROM etl_jobs j JOIN integrations i ON i.id = j.integration_id AND i.tenant_id = j.tenant_id
         WHERE j.active AND i.active
           AND (j.state <> 'RUNNING' OR j.last_progress_at < now() - make_interval(secs => $1))
           AND (j.next_run IS NULL OR j.next_run <= now())",
    )
    .bind(stuck_after.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok(seconds.unwrap_or(0.0).max(0.0))
}

/// Takes a dispatched run: true only for the first taker of the claim made at
/// `claimed_at` (the job still RUNNING under that claim), which restarts the claim's clock;
/// a repeated delivery of the dispatch message, or one for a claim a scheduler has since
/// taken over, gets false.
pub async fn take_dispatched(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    claimed_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let taken = sqlx::query(
        "UPDATE etl_jobs SET last_run_started_at = clock_timestamp(), last_progress_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND state = 'RUNNING' AND last_run_started_at = $3",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(claimed_at)
    .execute(pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct Claimed {
    tenant_id: TenantId,
    #[sqlx(flatten)]
    job: JobRun,
}

/// Sets when the job is due next.
pub async fn schedule_next(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    after: std::time::Duration,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE etl_jobs SET next_run = now() + make_interval(secs => $3), updated_at = now() WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(job_id)
        .bind(after.as_secs_f64())
        .execute(pool)
        .await?;
    Ok(())
}

/// Gives back a job whose run was interrupted by a shutdown: READY and due at once, so the
/// next scheduler picks it up without waiting for the stuck-run timeout.
pub async fn release(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(&announcing(
        "UPDATE etl_jobs SET state = 'READY', status = jsonb_set(status, '{overall}', '\"READY\"'),
                next_run = now(), error_message = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND state = 'RUNNING' RETURNING tenant_id, id",
        "NULL",
        "NULL",
        "'READY'",
    ))
    .bind(tenant_id)
    .bind(job_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}
