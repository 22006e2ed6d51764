//! Pull requests as people read them: filtered pages and one in full.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::TenantId;
use crate::sources::github::read::{self, PrDetail, PrFilter, PrRow};

/// Up to `fetch` pull requests before id `before`, newest first.
pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &PrFilter,
    before: Option<i64>,
    fetch: i64,
) -> ServiceResult<Vec<PrRow>> {
    Ok(read::prs(pool, tenant_id, filter, before, fetch).await?)
}

/// One pull request with its reviews, commits, comments and flow metrics.
pub async fn get(pool: &PgPool, tenant_id: TenantId, id: i64) -> ServiceResult<PrDetail> {
    read::pr(pool, tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound {
            entity: "pull request",
            id,
        })
}
