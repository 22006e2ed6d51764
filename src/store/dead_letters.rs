//! `dead_letters`: which of a tenant's messages are in the failed queue, recorded as they
//! are dead-lettered and forgotten as they are requeued or purged, so that a tenant's count
//! is one indexed query (the failed queue itself is shared by every tenant).

use sqlx::PgPool;

use super::error::StoreError;
use crate::domain::TenantId;

/// Records a message of `tenant_id` (by its digest) as dead-lettered by `stage`; a
/// message dead-lettered again keeps one record, with the newest error.
pub async fn record(
    pool: &PgPool,
    tenant_id: TenantId,
    digest: &[u8; 32],
    stage: &str,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dead_letters (tenant_id, message_sha256, stage, error) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, message_sha256)
         DO UPDATE SET stage = excluded.stage, error = excluded.error, dead_lettered_at = now()",
    )
    .bind(tenant_id)
    .bind(&digest[..])
    .bind(stage)
    .bind(error.chars().take(2_000).collect::<String>())
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a message that left the failed queue (requeued or purged).
pub async fn forget(
    pool: &PgPool,
    tenant_id: TenantId,
    digest: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM dead_letters WHERE tenant_id = $1 AND message_sha256 = $2")
        .bind(tenant_id)
        .bind(&digest[..])
        .execute(pool)
        .await?;
    Ok(())
}

/// How many of the tenant's messages are dead-lettered.
pub async fn count(pool: &PgPool, tenant_id: TenantId) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(pool)
        .await?;
    Ok(count.max(0) as u64)
}
