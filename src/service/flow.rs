//! Flow reports: work item cycle and lead time distributions, throughput and rework; pull
//! request cycle, pickup and review time distributions.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, TenantId};
use crate::sources::github::read::{self as github, PrFlowGroup, PrReportFilter};
use crate::sources::jira::read::{self as jira, FlowFilter, FlowGroup};

fn check_window(
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> ServiceResult<()> {
    match (since, until) {
        (Some(since), Some(until)) if since >= until => {
            Err(input::invalid("until", "must be after `since`").into())
        }
        _ => Ok(()),
    }
}

pub async fn work_items(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &FlowFilter,
) -> ServiceResult<Vec<FlowGroup>> {
    check_window(filter.since, filter.until)?;
    Ok(jira::flow(pool, tenant_id, filter).await?)
}

pub async fn prs(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &PrReportFilter,
) -> ServiceResult<Vec<PrFlowGroup>> {
    check_window(filter.since, filter.until)?;
    Ok(github::pr_flow(pool, tenant_id, filter).await?)
}
