//! Data-quality checks of a tenant's integrations.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::TenantId;
use crate::sources::quality::{self, IntegrationQuality};
use crate::store::integrations;

/// Every check of every integration of the tenant, in integration order.
pub async fn report(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<IntegrationQuality>> {
    let integrations: Vec<_> = integrations::list(pool, tenant_id)
        .await?
        .into_iter()
        .map(|integration| (integration.id, integration.provider.to_string()))
        .collect();
    Ok(quality::report(pool, tenant_id, &integrations).await?)
}
