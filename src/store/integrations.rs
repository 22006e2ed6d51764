//! `integrations`: a tenant's connection to one source, with credentials sealed at rest.
//!
//! Reads for display return [`IntegrationSummary`], which has no credential field at all;
//! only [`credentials`] opens the sealed blob, for the connectors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;

use super::error::StoreError;
use super::{jobs, tenants};
use crate::domain::delivery::DeliveryRules;
use crate::domain::{IntegrationId, IntegrationRef, JobStep, Provider, TenantId};
use crate::security::CredentialCipher;

/// What a connector needs to authenticate. Never serialized to the API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// API tokens; several rotate when the source limits each token.
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} token(s), redacted)", self.tokens.len())
    }
}

/// Provider settings kept in the `settings` JSONB column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntegrationSettings {
    /// Jira project keys to sync (empty: every project the account sees).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// GitHub repositories as `owner/name` (empty: every repository the token sees).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
    /// Client-side limit on requests per second to this source (None: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Jira: link pull requests through the development panel (`dev-status`, one call per
    /// issue with code) instead of by the issue keys pull requests carry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev_status: bool,
    /// GitHub: which API the sync reads (None: GraphQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<crate::domain::SourceApi>,
    /// Requests in flight at once to this source (None: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// What counts as a production deployment and as an incident (always shown, so a
    /// client sees the defaults in force).
    #[serde(default)]
    pub delivery: DeliveryRules,
}

impl IntegrationSettings {
    /// What the integration reads: its projects or repositories (a source takes one kind).
    pub fn scope(&self) -> Vec<String> {
        self.projects.iter().chain(&self.repos).cloned().collect()
    }
}

pub struct NewIntegration<'a> {
    pub tenant_id: TenantId,
    pub provider: Provider,
    /// The steps of its source's job, in run order.
    pub steps: &'a [JobStep],
    pub base_url: &'a str,
    pub username: Option<&'a str>,
    pub credentials: &'a Credentials,
    pub settings: &'a IntegrationSettings,
}

/// An integration as shown to people and the API: no credentials.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IntegrationSummary {
    pub id: IntegrationId,
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub provider: Provider,
    pub base_url: String,
    pub username: Option<String>,
    #[sqlx(json)]
    pub settings: IntegrationSettings,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Associated data binding a sealed blob to its tenant.
fn associated_data(tenant_id: TenantId) -> Vec<u8> {
    format!("pulse-etl/integration-credentials/tenant/{tenant_id}").into_bytes()
}

/// Creates the integration and its sync job in one transaction; returns the integration id.
pub async fn create(
    pool: &PgPool,
    cipher: &CredentialCipher,
    new: NewIntegration<'_>,
) -> Result<IntegrationId, StoreError> {
    tenants::ensure_exists(pool, new.tenant_id).await?;
    let plaintext = serde_json::to_vec(new.credentials)
        .map_err(|error| StoreError::CorruptCredentials(error.to_string()))?;
    let sealed = cipher.seal(&plaintext, &associated_data(new.tenant_id))?;
    let mut transaction = pool.begin().await?;
    let id: IntegrationId = sqlx::query_scalar(
        "INSERT INTO integrations (tenant_id, provider, base_url, username, credentials_encrypted, settings)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.tenant_id)
    .bind(new.provider.as_str())
    .bind(new.base_url)
    .bind(new.username)
    .bind(sealed)
    .bind(Json(new.settings))
    .fetch_one(&mut *transaction)
    .await?;
    jobs::create_for_integration(&mut transaction, new.tenant_id, id, new.provider, new.steps)
        .await?;
    transaction.commit().await?;
    Ok(id)
}

/// A tenant's integrations, oldest first.
pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Vec<IntegrationSummary>, StoreError> {
    tenants::ensure_exists(pool, tenant_id).await?;
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, provider, base_url, username, settings, active, created_at
         FROM integrations WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// Marks an integration inactive: its jobs are skipped from now on, with the reason
/// recorded on them. Idempotent.
pub async fn disable(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<(), StoreError> {
    let mut transaction = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE integrations SET active = FALSE, updated_at = now() WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .execute(&mut *transaction)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: "integration",
            id: integration_id.get(),
        });
    }
    sqlx::query(
        "UPDATE etl_jobs SET skip_reason = 'integration disabled', updated_at = now()
         WHERE tenant_id = $1 AND integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// Opens the sealed credentials of one of the tenant's integrations.
pub async fn credentials(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Credentials, StoreError> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT credentials_encrypted FROM integrations WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_optional(pool)
    .await?;
    let sealed = sealed.ok_or(StoreError::NotFound {
        entity: "integration",
        id: integration_id.get(),
    })?;
    let plaintext = cipher.open(&sealed, &associated_data(tenant_id))?;
    serde_json::from_slice(&plaintext)
        .map_err(|error| StoreError::CorruptCredentials(error.to_string()))
}

/// One of the tenant's integrations, without credentials.
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<IntegrationSummary, StoreError> {
    sqlx::query_as(
        "SELECT id, tenant_id, provider, base_url, username, settings, active, created_at
         FROM integrations WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound {
        entity: "integration",
        id: integration_id.get(),
    })
}

/// The tenant an integration belongs to (operator commands name only the integration).
pub async fn tenant_of(
    pool: &PgPool,
    integration_id: IntegrationId,
) -> Result<TenantId, StoreError> {
    sqlx::query_scalar("SELECT tenant_id FROM integrations WHERE id = $1")
        .bind(integration_id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound {
            entity: "integration",
            id: integration_id.get(),
        })
}

/// Points an integration at another base URL with new credentials (the demo simulator's
/// port changes per start, and its key may differ from the one that sealed the old ones).
pub async fn reconnect(
    pool: &PgPool,
    cipher: &CredentialCipher,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    base_url: &str,
    credentials: &Credentials,
) -> Result<(), StoreError> {
    let plaintext = serde_json::to_vec(credentials)
        .map_err(|error| StoreError::CorruptCredentials(error.to_string()))?;
    let sealed = cipher.seal(&plaintext, &associated_data(tenant_id))?;
    sqlx::query(
        "UPDATE integrations SET base_url = $3, credentials_encrypted = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(base_url)
    .bind(sealed)
    .execute(pool)
    .await?;
    Ok(())
}

/// What an edit of an integration changes (unchanged where `None`).
pub struct IntegrationChange<'a> {
    pub base_url: Option<&'a str>,
    pub username: Option<&'a str>,
    pub credentials: Option<&'a Credentials>,
    pub settings: Option<&'a IntegrationSettings>,
    pub active: Option<bool>,
}

/// Edits one of the tenant's integrations; re-enabling it clears the skip reason of its
/// jobs and disabling records one. Returns the integration after.
pub async fn update(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    change: IntegrationChange<'_>,
) -> Result<IntegrationSummary, StoreError> {
    let sealed = match change.credentials {
        Some(credentials) => {
            let plaintext = serde_json::to_vec(credentials)
                .map_err(|error| StoreError::CorruptCredentials(error.to_string()))?;
            Some(cipher.seal(&plaintext, &associated_data(tenant_id))?)
        }
        None => None,
    };
    let mut transaction = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE integrations SET base_url = coalesce($3, base_url), username = coalesce($4, username),
                credentials_encrypted = coalesce($5, credentials_encrypted),
                settings = coalesce($6, settings), active = coalesce($7, active), updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(change.base_url)
    .bind(change.username)
    .bind(sealed)
    .bind(change.settings.map(Json))
    .bind(change.active)
    .execute(&mut *transaction)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: "integration",
            id: integration_id.get(),
        });
    }
    if let Some(active) = change.active {
        sqlx::query(
            "UPDATE etl_jobs SET skip_reason = CASE WHEN $3 THEN NULL ELSE 'integration disabled' END,
                    updated_at = now()
             WHERE tenant_id = $1 AND integration_id = $2",
        )
        .bind(tenant_id)
        .bind(integration_id)
        .bind(active)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    get(pool, tenant_id, integration_id).await
}

/// Deletes one of the tenant's integrations with its jobs and every row it loaded.
pub async fn delete(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<(), StoreError> {
    let deleted = sqlx::query("DELETE FROM integrations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(integration_id)
        .execute(pool)
        .await?;
    match deleted.rows_affected() {
        0 => Err(StoreError::NotFound {
            entity: "integration",
            id: integration_id.get(),
        }),
        _ => Ok(()),
    }
}
