//! Flow reports: work item cycle and lead time distributions, throughput and rework; pull
//! request cycle, pickup and review time distributions; the four DORA keys.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, TenantId};
use crate::sources::delivery::dora::{self, DoraGrouping, DoraReport};
use crate::sources::github::read::{self as github, PrFlowGroup, PrReportFilter};
use crate::sources::jira::read::{self as jira, FlowFilter, FlowGroup};
use crate::store::integrations;

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

/// The four DORA keys over `[since, until)`, under each integration's delivery rules.
pub async fn dora(
    pool: &PgPool,
    tenant_id: TenantId,
    group_by: DoraGrouping,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> ServiceResult<DoraReport> {
    check_window(since, until)?;
    let rules: Vec<_> = integrations::list(pool, tenant_id)
        .await?
        .into_iter()
        .map(|integration| (integration.id, integration.settings.delivery))
        .collect();
    Ok(dora::report(pool, tenant_id, group_by, since, until, &rules).await?)
}
