//! `tenants`: the organisations whose data pulse-etl keeps, each on a service tier.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::error::{has_sqlstate, sqlstate, StoreError};
use crate::domain::{TenantId, Tier};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub tier: Tier,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Creates a tenant; names are unique regardless of case.
pub async fn create(pool: &PgPool, name: &str, tier: Tier) -> Result<TenantId, StoreError> {
    sqlx::query_scalar("INSERT INTO tenants (name, tier) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(tier.as_str())
        .fetch_one(pool)
        .await
        .map_err(|error| {
            if has_sqlstate(&error, sqlstate::UNIQUE_VIOLATION) {
                StoreError::Conflict(format!("a tenant named '{name}' already exists"))
            } else {
                error.into()
            }
        })
}

/// Every tenant, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<Tenant>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, tier, active, created_at FROM tenants ORDER BY id")
            .fetch_all(pool)
            .await?,
    )
}

/// Fails with `NotFound` unless the tenant exists.
pub async fn ensure_exists(pool: &PgPool, tenant_id: TenantId) -> Result<(), StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)")
        .bind(tenant_id)
        .fetch_one(pool)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            entity: "tenant",
            id: tenant_id.get(),
        })
    }
}

/// The id of the tenant with this name (case-insensitive), if any.
pub async fn find_by_name(pool: &PgPool, name: &str) -> Result<Option<TenantId>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM tenants WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

/// The tenant's tier (it picks the queues the tenant's work runs on).
pub async fn tier(pool: &PgPool, tenant_id: TenantId) -> Result<Tier, StoreError> {
    let tier: Option<String> = sqlx::query_scalar("SELECT tier FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(pool)
        .await?;
    let tier = tier.ok_or(StoreError::NotFound {
        entity: "tenant",
        id: tenant_id.get(),
    })?;
    tier.parse()
        .map_err(|error: crate::domain::UnknownValue| StoreError::Conflict(error.to_string()))
}
