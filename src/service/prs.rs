//! Pull requests as people read them: filtered pages and one in full.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::TenantId;
use crate::search::query::is_key;
use crate::sources::github::read::{self, PrDetail, PrFilter, PrRow};
use crate::sources::github::EMBED_PRS;
use crate::store::vectors;

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

/// The pull request named `owner/repo#number` (any case), in full.
pub async fn get_by_key(pool: &PgPool, tenant_id: TenantId, key: &str) -> ServiceResult<PrDetail> {
    let missing = || ServiceError::NotFoundNamed {
        entity: "pull request",
        name: key.to_owned(),
    };
    if !key.contains('#') || !is_key(key) {
        return Err(ServiceError::Invalid {
            field: "key",
            message: "must be owner/repo#number, e.g. acme/api#45".into(),
        });
    }
    let id = *vectors::find_key(pool, &EMBED_PRS, tenant_id, key)
        .await?
        .first()
        .ok_or_else(missing)?;
    get(pool, tenant_id, id).await
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
