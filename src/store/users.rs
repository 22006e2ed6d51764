//! `users`: people who sign in to the API, each belonging to one tenant.

use sqlx::PgPool;

use super::error::{has_sqlstate, sqlstate, StoreError};
use super::tenants;
use crate::domain::{TenantId, UserRole};

/// Creates a user with an already-hashed password; e-mail addresses are unique
/// regardless of case across the whole service.
pub async fn create(
    pool: &PgPool,
    tenant_id: TenantId,
    email: &str,
    password_hash: &str,
    role: UserRole,
) -> Result<i64, StoreError> {
    tenants::ensure_exists(pool, tenant_id).await?;
    sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(tenant_id)
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(pool)
    .await
    .map_err(|error| {
        if has_sqlstate(&error, sqlstate::UNIQUE_VIOLATION) {
            StoreError::Conflict(format!("a user with e-mail '{email}' already exists"))
        } else {
            error.into()
        }
    })
}
