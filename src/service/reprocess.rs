//! Reprocessing: transform and load again from stored raw data with no API call — after a
//! status mapping, workflow step or custom-field mapping changed.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{IntegrationId, IntegrationRef, TenantId};
use crate::pipeline::StepReport;
use crate::sources::CATALOG;
use crate::store::integrations;

/// One step of one integration, reprocessed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Reprocessed {
    pub integration_id: IntegrationId,
    pub step: &'static str,
    #[schema(value_type = Object)]
    pub report: StepReport,
}

/// Reprocesses one of the tenant's integrations, or all of them; a report per step.
pub async fn run(
    pool: &PgPool,
    tenant_id: TenantId,
    only: Option<IntegrationId>,
) -> ServiceResult<Vec<Reprocessed>> {
    let targets = match only {
        Some(id) => vec![integrations::get(pool, tenant_id, id).await?],
        None => integrations::list(pool, tenant_id).await?,
    };
    let mut done = Vec::new();
    for integration in targets {
        let reports = CATALOG
            .source(integration.provider)
            .reprocess(pool, IntegrationRef::new(tenant_id, integration.id))
            .await
            .map_err(|error| ServiceError::internal(error, "reprocessing from raw data"))?;
        tracing::info!(
            tenant_id = tenant_id.get(),
            integration_id = integration.id.get(),
            "reprocessed from raw data"
        );
        done.extend(reports.into_iter().map(|(step, report)| Reprocessed {
            integration_id: integration.id,
            step,
            report,
        }));
    }
    Ok(done)
}
