//! Webhook secrets (sealed, one per integration, the replaced one valid for a while after a
//! rotation), the hooks registered at the sources, and deliveries: stored raw under the
//! source's delivery id in one statement that also wakes the processor, read back per
//! integration while pending, and counted for the integration's webhook status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::error::StoreError;
use super::raw::RawRecord;
use crate::domain::text::clean_json;
use crate::domain::{IntegrationId, IntegrationRef, Provider, TenantId};
use crate::security::CredentialCipher;

/// The channel a stored delivery is announced on (payload: `{"integration_id": N}`).
pub const DELIVERIES_CHANNEL: &str = "pulse_webhook_deliveries";

/// The raw row kind of a source's webhook deliveries: `<provider>_webhook` (the raw table's
/// partial indexes list them).
pub fn delivery_kind(provider: Provider) -> String {
    format!("{provider}_webhook")
}

/// Binds a sealed secret to its tenant and integration.
fn associated_data(integration: IntegrationRef) -> Vec<u8> {
    format!(
        "pulse-etl/webhook-secret/tenant/{}/integration/{}",
        integration.tenant, integration.integration
    )
    .into_bytes()
}

/// Stores `secret` as the integration's webhook secret; the one it replaces stays valid for
/// `keep_previous`. Returns until when (None when there was none).
pub async fn rotate_secret(
    pool: &PgPool,
    cipher: &CredentialCipher,
    integration: IntegrationRef,
    secret: &str,
    keep_previous: std::time::Duration,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let sealed = cipher.seal(secret.as_bytes(), &associated_data(integration))?;
    let previous_valid_until = sqlx::query_scalar(
        "INSERT INTO webhook_secrets (tenant_id, integration_id, secret_encrypted)
         SELECT tenant_id, id, $3 FROM integrations WHERE tenant_id = $1 AND id = $2
         ON CONFLICT (integration_id) DO UPDATE SET
             previous_encrypted = webhook_secrets.secret_encrypted,
             previous_valid_until = now() + make_interval(secs => $4),
             secret_encrypted = EXCLUDED.secret_encrypted,
             rotated_at = now()
         RETURNING previous_valid_until",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(sealed)
    .bind(keep_previous.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(previous_valid_until.flatten())
}

/// Whether the integration has a webhook secret.
pub async fn has_secret(pool: &PgPool, integration: IntegrationRef) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM webhook_secrets WHERE tenant_id = $1 AND integration_id = $2)",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .fetch_one(pool)
    .await?)
}

/// Who a delivery to an integration belongs to, and the secrets valid for it now.
pub struct Receiver {
    pub tenant_id: TenantId,
    pub secrets: Vec<Vec<u8>>,
}

/// The receiver of deliveries for `integration_id` from `provider`: None unless the
/// integration exists, is of that provider, is active and has a secret.
pub async fn receiver(
    pool: &PgPool,
    cipher: &CredentialCipher,
    provider: Provider,
    integration_id: IntegrationId,
) -> Result<Option<Receiver>, StoreError> {
    let row: Option<(TenantId, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT s.tenant_id, s.secret_encrypted,
                CASE WHEN s.previous_valid_until > now() THEN s.previous_encrypted END
         FROM webhook_secrets s
         JOIN integrations i ON i.tenant_id = s.tenant_id AND i.id = s.integration_id
         WHERE s.integration_id = $1 AND i.provider = $2 AND i.active",
    )
    .bind(integration_id)
    .bind(provider.as_str())
    .fetch_optional(pool)
    .await?;
    let Some((tenant_id, current, previous)) = row else {
        return Ok(None);
    };
    let data = associated_data(IntegrationRef::new(tenant_id, integration_id));
    let mut secrets = vec![cipher.open(&current, &data)?];
    if let Some(previous) = previous {
        secrets.push(cipher.open(&previous, &data)?);
    }
    Ok(Some(Receiver { tenant_id, secrets }))
}

/// Stores a delivery raw under its delivery id and announces it, in one statement; false
/// when that delivery id was stored before (a redelivery: nothing changes).
pub async fn store_delivery(
    pool: &PgPool,
    integration: IntegrationRef,
    (provider, delivery_id): (Provider, &str),
    mut body: Value,
    metadata: &Value,
) -> Result<bool, StoreError> {
    let sanitized = clean_json(&mut body);
    let stored: Option<i64> = sqlx::query_scalar(
        "WITH stored AS (
             INSERT INTO raw_extraction_data (tenant_id, integration_id, type, external_id, raw_data, extraction_metadata)
             VALUES ($1, $2, $3, $4, $5,
                     CASE WHEN $7 THEN $6 || '{\"nul_removed\": true}'::jsonb ELSE $6 END)
             ON CONFLICT (integration_id, type, external_id)
                 WHERE type IN ('github_webhook', 'jira_webhook') DO NOTHING
             RETURNING id)
         SELECT id FROM stored, pg_notify($8, json_build_object('integration_id', $2::bigint)::text)",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(delivery_kind(provider))
    .bind(delivery_id)
    .bind(Json(&body))
    .bind(Json(metadata))
    .bind(sanitized)
    .bind(DELIVERIES_CHANNEL)
    .fetch_optional(pool)
    .await?;
    Ok(stored.is_some())
}

/// A webhook pulse-etl registered at the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Registration {
    /// What it covers: a repository (`owner/name`), or `site` for a Jira site.
    pub target: String,
    /// The source's id of the hook.
    pub hook_id: String,
    /// Where it delivers.
    pub url: String,
    pub installed_at: DateTime<Utc>,
}

/// Records (or replaces) the hook registered for `target`.
pub async fn record_registration(
    pool: &PgPool,
    integration: IntegrationRef,
    (target, hook_id, url): (&str, &str, &str),
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_registrations (tenant_id, integration_id, target, hook_id, url)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (integration_id, target) DO UPDATE
             SET hook_id = EXCLUDED.hook_id, url = EXCLUDED.url, installed_at = now()",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(target)
    .bind(hook_id)
    .bind(url)
    .execute(pool)
    .await?;
    Ok(())
}

/// The hooks registered for the integration.
pub async fn registrations(
    pool: &PgPool,
    integration: IntegrationRef,
) -> Result<Vec<Registration>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT target, hook_id, url, installed_at FROM webhook_registrations
         WHERE tenant_id = $1 AND integration_id = $2 ORDER BY target",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .fetch_all(pool)
    .await?)
}

/// Forgets the hook registered for `target`.
pub async fn forget_registration(
    pool: &PgPool,
    integration: IntegrationRef,
    target: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM webhook_registrations WHERE tenant_id = $1 AND integration_id = $2 AND target = $3",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(target)
    .execute(pool)
    .await?;
    Ok(())
}

/// Active integrations with deliveries still pending, oldest delivery first.
pub async fn with_pending(
    pool: &PgPool,
) -> Result<Vec<(TenantId, IntegrationId, Provider)>, StoreError> {
    let rows: Vec<(TenantId, IntegrationId, String)> = sqlx::query_as(
        "SELECT r.tenant_id, r.integration_id, i.provider
         FROM raw_extraction_data r
         JOIN integrations i ON i.tenant_id = r.tenant_id AND i.id = r.integration_id
         WHERE r.type IN ('github_webhook', 'jira_webhook') AND r.status = 'pending' AND i.active
         GROUP BY r.tenant_id, r.integration_id, i.provider
         ORDER BY min(r.id)",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(tenant, integration, provider)| {
            Some((tenant, integration, provider.parse().ok()?))
        })
        .collect())
}

/// Up to `limit` pending deliveries of one integration, oldest first.
pub async fn pending(
    pool: &PgPool,
    integration: IntegrationRef,
    limit: i64,
) -> Result<Vec<RawRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, type, external_id, raw_data, extraction_metadata FROM raw_extraction_data
         WHERE tenant_id = $1 AND integration_id = $2 AND status = 'pending'
           AND type IN ('github_webhook', 'jira_webhook')
         ORDER BY id LIMIT $3",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Whether the integration's webhooks are live: a delivery stored within `within`.
pub async fn is_live(
    pool: &PgPool,
    integration: IntegrationRef,
    within: std::time::Duration,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM raw_extraction_data
                        WHERE tenant_id = $1 AND integration_id = $2
                          AND type IN ('github_webhook', 'jira_webhook')
                          AND created_at >= now() - make_interval(secs => $3))",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(within.as_secs_f64())
    .fetch_one(pool)
    .await?)
}

/// Records of the integration's `tables` (names from code) inserted or changed since
/// `since`: the upserts stamp `updated_at` only when a row really changes.
pub async fn records_changed_since(
    pool: &PgPool,
    integration: IntegrationRef,
    tables: &[&str],
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut changed = 0;
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = $1 AND integration_id = $2 AND updated_at >= $3"
        ))
        .bind(integration.tenant)
        .bind(integration.integration)
        .bind(since)
        .fetch_one(pool)
        .await?;
        changed += count;
    }
    Ok(changed)
}

/// Records that a reconcile run found `records` changes no delivery had brought.
pub async fn record_gap(
    pool: &PgPool,
    integration: IntegrationRef,
    records: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_secrets SET last_gap_at = now(), last_gap_records = $3
         WHERE tenant_id = $1 AND integration_id = $2",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(records)
    .execute(pool)
    .await?;
    Ok(())
}

/// An integration's deliveries as its webhook status shows them.
#[derive(Debug, Clone, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeliveryCounts {
    /// Whether a webhook secret has been made for the integration.
    pub secret_set: bool,
    /// When the last delivery was stored.
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// Deliveries stored in the last hour.
    pub deliveries_last_hour: i64,
    /// Deliveries of the last hour whose processing failed.
    pub failures_last_hour: i64,
    /// Deliveries stored and not yet processed.
    pub pending: i64,
    /// Whether the webhooks are live (a delivery within the scheduler's interval): polling
    /// then runs at the reconcile interval.
    pub live: bool,
    /// When a reconcile run last found changes no delivery had brought (a gap).
    pub last_gap_at: Option<DateTime<Utc>>,
    /// How many records that run changed.
    pub last_gap_records: Option<i64>,
}

/// The integration's delivery counts (within the tenant); live when a delivery came within
/// `live_within`.
pub async fn delivery_counts(
    pool: &PgPool,
    integration: IntegrationRef,
    live_within: std::time::Duration,
) -> Result<DeliveryCounts, StoreError> {
    Ok(sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM webhook_secrets WHERE tenant_id = $1 AND integration_id = $2) AS secret_set,
                max(created_at) AS last_delivery_at,
                count(*) FILTER (WHERE created_at >= now() - interval '1 hour') AS deliveries_last_hour,
                count(*) FILTER (WHERE created_at >= now() - interval '1 hour' AND status = 'failed') AS failures_last_hour,
                count(*) FILTER (WHERE status = 'pending') AS pending,
                coalesce(max(created_at) >= now() - make_interval(secs => $3), FALSE) AS live,
                (SELECT last_gap_at FROM webhook_secrets WHERE tenant_id = $1 AND integration_id = $2) AS last_gap_at,
                (SELECT last_gap_records FROM webhook_secrets WHERE tenant_id = $1 AND integration_id = $2) AS last_gap_records
         FROM raw_extraction_data
         WHERE tenant_id = $1 AND integration_id = $2 AND type IN ('github_webhook', 'jira_webhook')",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(live_within.as_secs_f64())
    .fetch_one(pool)
    .await?)
}
