//! Tenants: create and list.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, TenantId, Tier};
use crate::store::tenants::{self, Tenant};

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub tier: Tier,
}

/// Creates a tenant (names are unique regardless of case); returns its id.
pub async fn create(pool: &PgPool, new: NewTenant) -> ServiceResult<TenantId> {
    let name = input::name("name", &new.name)?;
    let id = tenants::create(pool, &name, new.tier).await?;
    tracing::info!(tenant_id = id.get(), tier = %new.tier, "tenant created");
    Ok(id)
}

/// Every tenant, oldest first.
pub async fn list(pool: &PgPool) -> ServiceResult<Vec<Tenant>> {
    Ok(tenants::list(pool).await?)
}
