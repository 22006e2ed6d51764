//! What every source client is built from: the stored integration, its decrypted tokens and
//! the request limits its settings ask for.

use sqlx::PgPool;

use crate::connectors::http::ClientPolicy;
use crate::domain::{IntegrationId, TenantId};
use crate::security::CredentialCipher;
use crate::store::integrations::{self, IntegrationSummary};

/// An integration with its decrypted tokens (at least one) and client policy.
pub(super) struct Access {
    pub integration: IntegrationSummary,
    pub tokens: Vec<String>,
    pub policy: ClientPolicy,
}

/// Reads the integration and decrypts its tokens; an integration without one is an error.
pub(super) async fn integration_access(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> anyhow::Result<Access> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let credentials = integrations::credentials(pool, cipher, tenant_id, integration_id).await?;
    if credentials.tokens.is_empty() {
        anyhow::bail!("integration {integration_id} has no token");
    }
    let defaults = ClientPolicy::default();
    let policy = ClientPolicy {
        provider: integration.provider.as_str(),
        integration_id: integration_id.get(),
        requests_per_second: integration
            .settings
            .requests_per_second
            .unwrap_or(defaults.requests_per_second),
        concurrency: integration
            .settings
            .concurrency
            .unwrap_or(defaults.concurrency),
        ..defaults
    };
    Ok(Access {
        integration,
        tokens: credentials.tokens,
        policy,
    })
}
