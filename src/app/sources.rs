//! Builds source clients from stored integrations: settings, decrypted credentials, limits.

use anyhow::Context;
use sqlx::PgPool;

use crate::connectors::github::GithubClient;
use crate::connectors::http::{Auth, ClientPolicy, HttpClient};
use crate::connectors::jira::JiraClient;
use crate::security::CredentialCipher;
use crate::store::integrations::{self, IntegrationSummary};

/// The integration, its decrypted tokens, and the client policy its settings ask for.
async fn integration_access(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    integration_id: i64,
) -> anyhow::Result<(IntegrationSummary, Vec<String>, ClientPolicy)> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let credentials = integrations::credentials(pool, cipher, tenant_id, integration_id).await?;
    if credentials.tokens.is_empty() {
        anyhow::bail!("integration {integration_id} has no token");
    }
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
    Ok((integration, credentials.tokens, policy))
}

/// The integration and a Jira client signed with its credentials and held to its limits.
pub async fn jira_client(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    integration_id: i64,
) -> anyhow::Result<(IntegrationSummary, JiraClient)> {
    let (integration, tokens, policy) =
        integration_access(pool, cipher, tenant_id, integration_id).await?;
    let token = tokens
        .into_iter()
        .next()
        .context("the integration has no token")?;
    let auth = Auth::Basic {
        username: integration.username.clone().unwrap_or_default(),
        token,
    };
    let client = JiraClient::new(HttpClient::new(auth, policy)?, &integration.base_url);
    Ok((integration, client))
}

/// The integration and a GitHub client rotating its tokens, held to its limits.
pub async fn github_client(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    integration_id: i64,
) -> anyhow::Result<(IntegrationSummary, GithubClient)> {
    let (integration, tokens, policy) =
        integration_access(pool, cipher, tenant_id, integration_id).await?;
    let client = GithubClient::new(
        HttpClient::new(Auth::Bearer { tokens }, policy)?,
        &integration.base_url,
    );
    Ok((integration, client))
}
