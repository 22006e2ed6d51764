//! Builds source clients from stored integrations: settings, decrypted credentials, limits.

use anyhow::Context;
use sqlx::PgPool;

use crate::connectors::http::{Auth, ClientPolicy, HttpClient};
use crate::connectors::jira::JiraClient;
use crate::security::CredentialCipher;
use crate::store::integrations::{self, IntegrationSummary};

/// The integration and a Jira client signed with its credentials and held to its limits.
pub async fn jira_client(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    integration_id: i64,
) -> anyhow::Result<(IntegrationSummary, JiraClient)> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let credentials = integrations::credentials(pool, cipher, tenant_id, integration_id).await?;
    let token = credentials
        .tokens
        .first()
        .cloned()
        .context("the integration has no token")?;
    let auth = Auth::Basic {
        username: integration.username.clone().unwrap_or_default(),
        token,
    };
    let defaults = ClientPolicy::default();
    let policy = ClientPolicy {
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
    let client = JiraClient::new(HttpClient::new(auth, policy)?, &integration.base_url);
    Ok((integration, client))
}
