//! Access changes: a user disabled or given another role, an API token revoked. Each is
//! announced with PostgreSQL `NOTIFY` (naming the tenant) so that every API process forgets
//! the credentials it had checked for that tenant at once, not within its re-check time.
//! [`AccessChanges`] is the listening side.

use sqlx::postgres::PgListener;
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

/// The tenants whose access changed, as they are announced.
pub struct AccessChanges {
    listener: PgListener,
}

impl AccessChanges {
    pub async fn listen(pool: &PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(AccessChanges { listener })
    }

    /// The next tenant whose access changed (unreadable payloads are skipped).
    pub async fn next(&mut self) -> Result<TenantId, StoreError> {
        loop {
            let notification = self.listener.recv().await?;
            match notification.payload().parse::<i64>() {
                Ok(id) => return Ok(TenantId(id)),
                Err(error) => tracing::warn!(%error, "unreadable access change skipped"),
            }
        }
    }
}
