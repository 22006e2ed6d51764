//! Stored source answers, for admins checking what a source really sent.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, RawId, TenantId};
use crate::store::raw_browse::{self, RawDetail, RawFilter, RawSummary};

/// The states a raw row can be in.
const STATUSES: &[&str] = &["pending", "processed", "failed"];

pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &RawFilter,
    before: Option<i64>,
    fetch: i64,
) -> ServiceResult<Vec<RawSummary>> {
    if filter
        .status
        .as_deref()
        .is_some_and(|s| !STATUSES.contains(&s))
    {
        return Err(
            input::invalid("status", format!("must be one of: {}", STATUSES.join(", "))).into(),
        );
    }
    Ok(raw_browse::list(pool, tenant_id, filter, before, fetch).await?)
}

pub async fn get(pool: &PgPool, tenant_id: TenantId, id: RawId) -> ServiceResult<RawDetail> {
    Ok(raw_browse::get(pool, tenant_id, id).await?)
}
