//! Long-lived API tokens: created (the token is returned once, only its digest is kept),
//! listed, revoked.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{input, TenantId, UserRole};
use crate::security::new_api_token;
use crate::store::access_changes;
use crate::store::api_tokens::{self, ApiTokenSummary, TokenCreator};

/// A token just created: the only time `token` is ever seen.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: i64,
    pub token: String,
}

/// Creates a token for the tenant with `role`, named for the people who revoke it later,
/// recording who made it (disabling that user revokes it).
pub async fn create(
    pool: &PgPool,
    tenant_id: TenantId,
    (name, role): (&str, UserRole),
    creator: TokenCreator,
) -> ServiceResult<CreatedToken> {
    let name = input::name("name", name)?;
    let (token, digest) = new_api_token();
    let id = api_tokens::create(pool, tenant_id, &name, role, &digest, creator).await?;
    tracing::info!(tenant_id = tenant_id.get(), token_id = id, %role, "API token created");
    Ok(CreatedToken { id, token })
}

/// The tenant's tokens (never their values).
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<ApiTokenSummary>> {
    Ok(api_tokens::list(pool, tenant_id).await?)
}

/// Revokes a token: requests carrying it are refused from now on. A request made with a
/// token cannot revoke that token (`acting_token`): it would lock its caller out mid-way.
pub async fn revoke(
    pool: &PgPool,
    tenant_id: TenantId,
    acting_token: Option<i64>,
    token_id: i64,
) -> ServiceResult<()> {
    if acting_token == Some(token_id) {
        return Err(ServiceError::Conflict(
            "a token cannot revoke itself; revoke it with another token or the CLI".into(),
        ));
    }
    api_tokens::revoke(pool, tenant_id, token_id).await?;
    access_changes::announce(pool, tenant_id).await?;
    tracing::info!(tenant_id = tenant_id.get(), token_id, "API token revoked");
    Ok(())
}
