//! `api_tokens`: long-lived tokens for scripts and BI tools. Only the SHA-256 digest of a
//! token is stored; the token itself is shown once, when it is created.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::error::{has_sqlstate, sqlstate, StoreError};
use super::tenants;
use crate::domain::{TenantId, UserRole};

/// A token as listed: never the token or its digest.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiTokenSummary {
    pub id: i64,
    pub tenant_id: TenantId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The user who made it (none from the CLI, or when made with another token).
    pub created_by_user: Option<i64>,
    /// The token it was made with, if any.
    pub created_by_token: Option<i64>,
}

/// Who makes a token: a signed-in user, a token, or neither (the CLI).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenCreator {
    pub user: Option<i64>,
    pub token: Option<i64>,
}

/// Stores a new token's digest; returns its id. Names are unique per tenant among tokens
/// not revoked. The creator must still be an active user (or a live token) when the row is
/// written; its row is share-locked meanwhile, so a user disabled at the same moment either
/// refuses this token or is disabled after it, and then revokes it.
pub async fn create(
    pool: &PgPool,
    tenant_id: TenantId,
    name: &str,
    role: UserRole,
    digest: &[u8],
    creator: TokenCreator,
) -> Result<i64, StoreError> {
    tenants::ensure_exists(pool, tenant_id).await?;
    let created: Option<i64> = sqlx::query_scalar(
        "INSERT INTO api_tokens (tenant_id, name, role, token_sha256, created_by_user, created_by_token)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE ($5::bigint IS NULL OR EXISTS (
                   SELECT 1 FROM users WHERE tenant_id = $1 AND id = $5 AND active FOR SHARE))
           AND ($6::bigint IS NULL OR EXISTS (
                   SELECT 1 FROM api_tokens
                   WHERE tenant_id = $1 AND id = $6 AND revoked_at IS NULL FOR SHARE))
         RETURNING id",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(role.as_str())
    .bind(digest)
    .bind(creator.user)
    .bind(creator.token)
    .fetch_optional(pool)
    .await
    .map_err(|error| {
        if has_sqlstate(&error, sqlstate::UNIQUE_VIOLATION) {
            StoreError::Conflict(format!("a token named '{name}' already exists"))
        } else {
            error.into()
        }
    })?;
    created.ok_or_else(|| {
        StoreError::Conflict("the user or token making this token was disabled or revoked".into())
    })
}

/// The tenant's tokens, oldest first, revoked ones included.
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<ApiTokenSummary>, StoreError> {
    tenants::ensure_exists(pool, tenant_id).await?;
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, name, role, created_at, last_used_at, revoked_at,
                created_by_user, created_by_token
         FROM api_tokens WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// Revokes one of the tenant's tokens (idempotent; another tenant's is not found).
pub async fn revoke(pool: &PgPool, tenant_id: TenantId, token_id: i64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(token_id)
    .execute(pool)
    .await?;
    match done.rows_affected() {
        0 => Err(StoreError::NotFound {
            entity: "token",
            id: token_id,
        }),
        _ => Ok(()),
    }
}

/// Revokes every live token `user_id` made, and those made with them in turn; returns how
/// many.
pub async fn revoke_made_by(
    pool: &PgPool,
    tenant_id: TenantId,
    user_id: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "WITH RECURSIVE made AS (
             SELECT id FROM api_tokens WHERE tenant_id = $1 AND created_by_user = $2
             UNION
             SELECT t.id FROM api_tokens t JOIN made ON t.created_by_token = made.id
             WHERE t.tenant_id = $1
         )
         UPDATE api_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND revoked_at IS NULL AND id IN (SELECT id FROM made)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The tenant and role of the live token with this digest (its tenant active), noting its
/// use.
pub async fn authenticate(
    pool: &PgPool,
    digest: &[u8],
) -> Result<Option<(i64, TenantId, UserRole)>, StoreError> {
    let row: Option<(i64, TenantId, String)> = sqlx::query_as(
        "UPDATE api_tokens k SET last_used_at = now() FROM tenants t
         WHERE k.token_sha256 = $1 AND k.revoked_at IS NULL AND t.id = k.tenant_id AND t.active
         RETURNING k.id, k.tenant_id, k.role",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(id, tenant, role)| Some((id, tenant, role.parse().ok()?))))
}
