//! Access changes: a user disabled or given another role, an API token revoked. Each is
//! announced with PostgreSQL `NOTIFY` (naming the tenant) so that every API process forgets
//! the credentials it had checked for that tenant at once, not within its re-check time.
//! The payload is the tenant id (JSON); `notifications::follow` listens.

use sqlx::PgPool;

use super::error::StoreError;
use crate::domain::TenantId;

pub const CHANNEL: &str = "pulse_access_changed";

/// Tells every listening process that `tenant_id`'s access changed.
pub async fn announce(pool: &PgPool, tenant_id: TenantId) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(tenant_id.get().to_string())
        .execute(pool)
        .await?;
    Ok(())
}
