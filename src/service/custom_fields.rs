//! Custom fields of an integration (Jira, Azure DevOps): discovered from the source, listed, mapped to the
//! special fields and the twenty slots.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{IntegrationId, IntegrationRef, TenantId};
use crate::pipeline::source::Reach;
use crate::sources::work_items::custom_fields::{
    self as custom_fields, FieldListing, Target, TargetMapping,
};
use crate::sources::CATALOG;
use crate::store::integrations;

/// The tenant an integration belongs to (operator commands name only the integration).
pub async fn owner(pool: &PgPool, integration_id: IntegrationId) -> ServiceResult<TenantId> {
    Ok(integrations::tenant_of(pool, integration_id).await?)
}

/// Fails unless the integration is one of the tenant's and its source has custom fields.
async fn ensure_custom_fields(
    pool: &PgPool,
    tenant: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<()> {
    let integration = integrations::get(pool, tenant, integration_id).await?;
    let form = CATALOG.source(integration.provider).form();
    if !form.custom_fields {
        return Err(ServiceError::Conflict(format!(
            "integration {integration_id} is {}, which has no custom fields",
            form.label
        )));
    }
    Ok(())
}

/// Asks the source for the integration's fields and stores them; returns the listing.
pub async fn sync(
    pool: &PgPool,
    reach: &Reach,
    tenant: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<Vec<FieldListing>> {
    ensure_custom_fields(pool, tenant, integration_id).await?;
    let integration = integrations::get(pool, tenant, integration_id).await?;
    let found = CATALOG
        .source(integration.provider)
        .discover_fields(pool, reach, IntegrationRef::new(tenant, integration_id))
        .await
        .map_err(|error| ServiceError::Source(format!("{error:#}")))?;
    tracing::info!(
        tenant_id = tenant.get(),
        integration_id = integration_id.get(),
        fields = found,
        "custom fields discovered"
    );
    Ok(custom_fields::list(pool, tenant, integration_id).await?)
}

/// The integration's known fields with what each is mapped to.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<Vec<FieldListing>> {
    ensure_custom_fields(pool, tenant, integration_id).await?;
    Ok(custom_fields::list(pool, tenant, integration_id).await?)
}

/// Every mapping column of the integration with the field it holds.
pub async fn mapping(
    pool: &PgPool,
    tenant: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<Vec<TargetMapping>> {
    ensure_custom_fields(pool, tenant, integration_id).await?;
    Ok(custom_fields::mapping(pool, tenant, integration_id).await?)
}

/// Maps each `(target, field)`; returns the listing after.
pub async fn map(
    pool: &PgPool,
    tenant: TenantId,
    integration_id: IntegrationId,
    targets: &[(Target, String)],
) -> ServiceResult<Vec<FieldListing>> {
    ensure_custom_fields(pool, tenant, integration_id).await?;
    for (target, field) in targets {
        custom_fields::map(pool, tenant, integration_id, *target, field).await?;
        tracing::info!(tenant_id = tenant.get(), integration_id = integration_id.get(), target = %target.label(), field, "mapped");
    }
    Ok(custom_fields::list(pool, tenant, integration_id).await?)
}
