//! Integrations: a tenant's connection to one source — created after the source checks what
//! it reads, listed without credentials, disabled.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::input::{self, SourceScope};
use crate::domain::{IntegrationId, Provider, TenantId};
use crate::security::CredentialCipher;
use crate::sources::CATALOG;
use crate::store::integrations::{
    self, Credentials, IntegrationSettings, IntegrationSummary, NewIntegration,
};

/// An integration to create.
#[derive(Debug, Clone)]
pub struct IntegrationInput {
    pub tenant_id: TenantId,
    pub provider: Provider,
    pub base_url: String,
    /// Tokens, sealed at rest; several rotate where the source limits each token.
    pub tokens: Vec<String>,
    pub scope: SourceScope,
    pub requests_per_second: Option<f64>,
    pub concurrency: Option<usize>,
}

/// Creates the integration and its sync job; returns the integration id.
pub async fn create(
    pool: &PgPool,
    cipher: &CredentialCipher,
    new: IntegrationInput,
) -> ServiceResult<IntegrationId> {
    let scope = CATALOG.source(new.provider).check_scope(new.scope)?;
    let tokens: Vec<String> = new.tokens.iter().map(|t| t.trim().to_owned()).collect();
    if tokens.is_empty() || tokens.iter().any(String::is_empty) {
        return Err(input::invalid("token", "must not be empty").into());
    }
    if new
        .requests_per_second
        .is_some_and(|rate| !rate.is_finite() || rate <= 0.0)
    {
        return Err(input::invalid("requests_per_second", "must be above 0").into());
    }
    if new.concurrency == Some(0) {
        return Err(input::invalid("concurrency", "must be at least 1").into());
    }
    let base_url = input::base_url(&new.base_url)?;
    let settings = IntegrationSettings {
        projects: scope.projects,
        repos: scope.repos,
        requests_per_second: new.requests_per_second,
        concurrency: new.concurrency,
    };
    let id = integrations::create(
        pool,
        cipher,
        NewIntegration {
            tenant_id: new.tenant_id,
            provider: new.provider,
            base_url: &base_url,
            username: scope.username.as_deref(),
            credentials: &Credentials { tokens },
            settings: &settings,
        },
    )
    .await?;
    tracing::info!(tenant_id = new.tenant_id.get(), integration_id = id.get(), provider = %new.provider, "integration created");
    Ok(id)
}

/// A tenant's integrations, oldest first, without credentials.
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<IntegrationSummary>> {
    Ok(integrations::list(pool, tenant_id).await?)
}

/// One of the tenant's integrations (another tenant's is not found).
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<IntegrationSummary> {
    Ok(integrations::get(pool, tenant_id, integration_id).await?)
}

/// Disables one of the tenant's integrations: its jobs are skipped from now on, with the
/// reason recorded. Idempotent.
pub async fn disable(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<()> {
    integrations::disable(pool, tenant_id, integration_id).await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        integration_id = integration_id.get(),
        "integration disabled"
    );
    Ok(())
}
