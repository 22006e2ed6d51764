//! Work items as people read them: filtered pages and one item in full.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{input, TenantId};
use crate::sources::jira::read::{self, WorkItemDetail, WorkItemFilter, WorkItemRow};

/// Longest full-text query accepted.
const MAX_QUERY_LEN: usize = 200;

/// Up to `fetch` work items before id `before`, newest first.
pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &WorkItemFilter,
    before: Option<i64>,
    fetch: i64,
) -> ServiceResult<Vec<WorkItemRow>> {
    if filter
        .text
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_QUERY_LEN)
    {
        return Err(
            input::invalid("q", format!("must be at most {MAX_QUERY_LEN} characters")).into(),
        );
    }
    Ok(read::work_items(pool, tenant_id, filter, before, fetch).await?)
}

/// The work item with `key`, with its timeline, metrics, custom fields and linked PRs.
pub async fn get(pool: &PgPool, tenant_id: TenantId, key: &str) -> ServiceResult<WorkItemDetail> {
    read::work_item(pool, tenant_id, key)
        .await?
        .ok_or_else(|| ServiceError::NotFoundNamed {
            entity: "work item",
            name: key.to_owned(),
        })
}
