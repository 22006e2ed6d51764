//! Flow reports: work item cycle and lead time distributions, throughput and rework; pull
//! request cycle, pickup and review time distributions; the four DORA keys.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, TenantId};
use crate::sources::delivery::dora::{self, DoraGrouping, DoraReport, IntegrationRules};
use crate::sources::delivery::drill;
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

/// Each integration's delivery rules.
async fn delivery_rules(
    pool: &PgPool,
    tenant_id: TenantId,
) -> ServiceResult<Box<IntegrationRules>> {
    Ok(integrations::list(pool, tenant_id)
        .await?
        .into_iter()
        .map(|integration| (integration.id, integration.settings.delivery))
        .collect())
}

/// Which rows behind a DORA key to read.
#[derive(Debug, Clone)]
pub struct DrillRequest {
    /// Window start (default: the first production deployment).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Window end, excluded (default: now).
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this repository (`owner/name`).
    pub repository: Option<String>,
    /// 1 to 2,000 rows (default 500).
    pub limit: Option<i64>,
}

/// The rows behind one DORA key over `[since, until)` (defaults as for the keys), newest
/// first, at most `limit` (1 to 2,000).
pub async fn dora_drill<T>(
    pool: &PgPool,
    tenant_id: TenantId,
    request: DrillRequest,
    read: impl AsyncFnOnce(
        &PgPool,
        TenantId,
        &drill::Drill,
        &IntegrationRules,
    ) -> Result<Vec<T>, crate::store::StoreError>,
) -> ServiceResult<Vec<T>> {
    check_window(request.since, request.until)?;
    let limit = request.limit.unwrap_or(DRILL_LIMIT);
    if !(1..=MAX_DRILL_LIMIT).contains(&limit) {
        return Err(
            input::invalid("limit", format!("must be between 1 and {MAX_DRILL_LIMIT}")).into(),
        );
    }
    let window = dora::window(pool, tenant_id, request.since, request.until).await?;
    let Some(since) = window.start() else {
        return Ok(Vec::new());
    };
    let rules = delivery_rules(pool, tenant_id).await?;
    let drill = drill::Drill {
        since,
        until: window.until,
        repository: request.repository,
        limit,
    };
    Ok(read(pool, tenant_id, &drill, &rules).await?)
}

/// Rows a drill-down answers unless asked for fewer or more.
const DRILL_LIMIT: i64 = 500;
/// Most rows a drill-down answers.
const MAX_DRILL_LIMIT: i64 = 2_000;

/// The four DORA keys over `[since, until)`, under each integration's delivery rules.
pub async fn dora(
    pool: &PgPool,
    tenant_id: TenantId,
    group_by: DoraGrouping,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> ServiceResult<DoraReport> {
    check_window(since, until)?;
    let rules = delivery_rules(pool, tenant_id).await?;
    Ok(dora::report(pool, tenant_id, group_by, since, until, &rules).await?)
}
