//! `users`: people who sign in to the API, each belonging to one tenant.

use sqlx::PgPool;

use super::error::{has_sqlstate, sqlstate, StoreError};
use super::tenants;
use crate::domain::{TenantId, UserRole};

/// Creates a user with an already-hashed password; e-mail addresses are unique regardless
/// of case within a tenant.
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
            StoreError::Conflict(format!(
                "a user with e-mail '{email}' already exists in this tenant"
            ))
        } else {
            error.into()
        }
    })
}

/// A user as the API lists them: no password hash.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: i64,
    pub tenant_id: TenantId,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: UserRole,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What sign-in needs to know about an address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginRecord {
    pub id: i64,
    pub tenant_id: TenantId,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub role: UserRole,
    pub active: bool,
}

/// Most accounts one sign-in tries (the same address in that many tenants).
pub const MAX_LOGIN_CANDIDATES: i64 = 8;

/// The accounts with `email` (any case), in `tenant` when one is named, oldest first.
pub async fn for_login(
    pool: &PgPool,
    email: &str,
    tenant: Option<TenantId>,
) -> Result<Vec<LoginRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.tenant_id, u.password_hash, u.role, u.active AND t.active AS active
         FROM users u JOIN tenants t ON t.id = u.tenant_id
         WHERE lower(u.email) = lower($1) AND ($2::bigint IS NULL OR u.tenant_id = $2)
         ORDER BY u.id LIMIT $3",
    )
    .bind(email)
    .bind(tenant)
    .bind(MAX_LOGIN_CANDIDATES)
    .fetch_all(pool)
    .await?)
}

/// The role of an active user of an active tenant, or none (disabled, deleted or moved).
pub async fn active_role(
    pool: &PgPool,
    tenant_id: TenantId,
    user_id: i64,
) -> Result<Option<UserRole>, StoreError> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT u.role FROM users u JOIN tenants t ON t.id = u.tenant_id
         WHERE u.id = $1 AND u.tenant_id = $2 AND u.active AND t.active",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_optional(pool)
    .await?;
    Ok(role.and_then(|role| role.parse().ok()))
}

/// The tenant's users, oldest first.
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<UserSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, email, role, active, created_at FROM users
         WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// One of the tenant's users (another tenant's is not found).
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    user_id: i64,
) -> Result<UserSummary, StoreError> {
    sqlx::query_as(
        "SELECT id, tenant_id, email, role, active, created_at FROM users
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound {
        entity: "user",
        id: user_id,
    })
}

/// Changes a user's role and/or active flag (unchanged where `None`); returns the user after.
pub async fn update(
    pool: &PgPool,
    tenant_id: TenantId,
    user_id: i64,
    role: Option<UserRole>,
    active: Option<bool>,
) -> Result<UserSummary, StoreError> {
    sqlx::query_as(
        "UPDATE users SET role = coalesce($3, role), active = coalesce($4, active), updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, tenant_id, email, role, active, created_at",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(role.map(UserRole::as_str))
    .bind(active)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound {
        entity: "user",
        id: user_id,
    })
}
