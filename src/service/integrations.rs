//! Integrations: a tenant's connection to one source — created after the source checks what
//! it reads and the outbound rule checks where it points, listed without credentials,
//! disabled. Pointing an integration elsewhere takes its credentials anew, so stored ones
//! never go to a new host.

use sqlx::PgPool;

use super::ServiceResult;
use crate::connectors::outbound::Outbound;
use crate::domain::delivery::DeliveryRules;
use crate::domain::input::{self, InvalidInput, SourceScope};
use crate::domain::{IntegrationId, IntegrationRef, Provider, TenantId};
use crate::pipeline::source::Reach;
use crate::sources::people::directory;
use crate::sources::CATALOG;
use crate::store::integrations::{
    self, Credentials, IntegrationChange, IntegrationSettings, IntegrationSummary, NewIntegration,
};

/// Most requests an integration may keep in flight at once.
pub const MAX_CONCURRENCY: usize = 256;

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
    reach: &Reach,
    new: IntegrationInput,
) -> ServiceResult<IntegrationId> {
    let scope = CATALOG.source(new.provider).check_scope(new.scope)?;
    let tokens = clean_tokens(&new.tokens)?;
    check_limits(new.requests_per_second, new.concurrency)?;
    let base_url = reachable_base_url(&reach.outbound, &new.base_url)?;
    let settings = IntegrationSettings {
        projects: scope.projects,
        repos: scope.repos,
        dev_status: scope.dev_status,
        api: scope.api,
        requests_per_second: new.requests_per_second,
        concurrency: new.concurrency,
        delivery: DeliveryRules::default(),
    };
    let id = integrations::create(
        pool,
        &reach.cipher,
        NewIntegration {
            tenant_id: new.tenant_id,
            provider: new.provider,
            steps: CATALOG.steps(new.provider),
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

/// A base URL as stored, whose host, when written as an address, the outbound rule
/// permits (names are checked each time they resolve).
pub fn reachable_base_url(outbound: &Outbound, text: &str) -> Result<String, InvalidInput> {
    let base_url = input::base_url(text)?;
    outbound
        .check_url(&base_url)
        .map_err(|refused| input::invalid("base_url", refused.to_string()))?;
    Ok(base_url)
}

/// Tokens as stored: trimmed, at least one, none empty.
fn clean_tokens(tokens: &[String]) -> Result<Vec<String>, InvalidInput> {
    let tokens: Vec<String> = tokens.iter().map(|t| t.trim().to_owned()).collect();
    if tokens.is_empty() || tokens.iter().any(String::is_empty) {
        return Err(input::invalid("token", "must not be empty"));
    }
    Ok(tokens)
}

fn check_limits(rate: Option<f64>, concurrency: Option<usize>) -> Result<(), InvalidInput> {
    if rate.is_some_and(|rate| !rate.is_finite() || rate <= 0.0) {
        return Err(input::invalid("requests_per_second", "must be above 0"));
    }
    if concurrency.is_some_and(|n| n == 0 || n > MAX_CONCURRENCY) {
        return Err(input::invalid(
            "concurrency",
            format!("must be between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    Ok(())
}

/// Longest incident window: a year.
const MAX_INCIDENT_WINDOW_HOURS: u32 = 366 * 24;
/// Longest incident JQL query accepted.
const MAX_INCIDENT_JQL: usize = 2_000;

/// Delivery rules as stored: a pattern that compiles, a window of an hour to a year, names
/// that are not blank, an incident JQL condition of bounded length (Jira refuses bad JQL
/// itself; the sync then says so).
fn check_delivery(rules: &DeliveryRules) -> Result<(), InvalidInput> {
    if let Err(field) = rules.check() {
        return Err(input::invalid(
            field,
            "is not a regular expression (or one too large)",
        ));
    }
    if !(1..=MAX_INCIDENT_WINDOW_HOURS).contains(&rules.incident_window_hours) {
        return Err(input::invalid(
            "delivery.incident_window_hours",
            format!("must be between 1 and {MAX_INCIDENT_WINDOW_HOURS}"),
        ));
    }
    for (field, names) in [
        ("delivery.incident_types", &rules.incident_types),
        ("delivery.incident_labels", &rules.incident_labels),
    ] {
        if names.iter().any(|name| name.trim().is_empty()) {
            return Err(input::invalid(field, "must not hold a blank name"));
        }
    }
    if let Some(jql) = &rules.incident_jql {
        let usable = !jql.trim().is_empty()
            && jql.chars().count() <= MAX_INCIDENT_JQL
            && !jql.chars().any(char::is_control)
            && !jql.to_ascii_lowercase().contains("order by");
        if !usable {
            return Err(input::invalid(
                "delivery.incident_jql",
                format!("must be a JQL condition of 1 to {MAX_INCIDENT_JQL} characters, without ORDER BY"),
            ));
        }
    }
    Ok(())
}

/// What an edit changes; an absent field leaves a setting as it is. Credentials are
/// written, never read back.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationUpdate {
    pub base_url: Option<String>,
    /// Replaces every stored token.
    pub tokens: Option<Vec<String>>,
    pub username: Option<String>,
    /// Replaces the Jira projects read.
    pub projects: Option<Vec<String>>,
    /// Replaces the GitHub repositories read (`owner/name`).
    pub repos: Option<Vec<String>>,
    /// Jira: link pull requests through the development panel instead of by keys.
    pub dev_status: Option<bool>,
    /// GitHub: read its GraphQL (default) or its REST API.
    pub api: Option<crate::domain::SourceApi>,
    pub requests_per_second: Option<f64>,
    pub concurrency: Option<usize>,
    /// False disables the integration: its jobs are skipped with the reason recorded.
    pub active: Option<bool>,
    /// Replaces the delivery rules: what counts as a production deployment and as an
    /// incident. Loaded deployments follow a new production rule after a reprocess.
    pub delivery: Option<DeliveryRules>,
}

/// Edits one of the tenant's integrations after the same checks as creation; returns it. A
/// new base URL needs the tokens with it: stored credentials never follow an integration to
/// another host.
pub async fn update(
    pool: &PgPool,
    reach: &Reach,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    change: IntegrationUpdate,
) -> ServiceResult<IntegrationSummary> {
    let current = integrations::get(pool, tenant_id, integration_id).await?;
    let scope = CATALOG.source(current.provider).check_scope(SourceScope {
        username: change.username.clone().or(current.username.clone()),
        projects: change.projects.unwrap_or(current.settings.projects.clone()),
        repos: change.repos.unwrap_or(current.settings.repos.clone()),
        dev_status: change.dev_status.unwrap_or(current.settings.dev_status),
        api: change.api.or(current.settings.api),
    })?;
    check_limits(change.requests_per_second, change.concurrency)?;
    if let Some(rules) = &change.delivery {
        check_delivery(rules)?;
    }
    let tokens = change.tokens.as_deref().map(clean_tokens).transpose()?;
    let base_url = change
        .base_url
        .as_deref()
        .map(|text| reachable_base_url(&reach.outbound, text))
        .transpose()?;
    let moved = base_url
        .as_deref()
        .is_some_and(|base_url| base_url != current.base_url);
    if moved && tokens.is_none() {
        return Err(input::invalid(
            "tokens",
            "a new base_url needs the credentials again: send tokens (and username) with it",
        )
        .into());
    }
    let settings = IntegrationSettings {
        projects: scope.projects,
        repos: scope.repos,
        dev_status: scope.dev_status,
        api: scope.api,
        requests_per_second: change
            .requests_per_second
            .or(current.settings.requests_per_second),
        concurrency: change.concurrency.or(current.settings.concurrency),
        delivery: change.delivery.unwrap_or(current.settings.delivery),
    };
    let credentials = tokens.map(|tokens| Credentials { tokens });
    let updated = integrations::update(
        pool,
        &reach.cipher,
        tenant_id,
        integration_id,
        IntegrationChange {
            base_url: base_url.as_deref(),
            username: scope.username.as_deref(),
            credentials: credentials.as_ref(),
            settings: Some(&settings),
            active: change.active,
        },
    )
    .await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        integration_id = integration_id.get(),
        "integration updated"
    );
    Ok(updated)
}

/// Deletes one of the tenant's integrations and everything loaded from it, the people
/// known only through it included.
pub async fn delete(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<()> {
    integrations::delete(pool, tenant_id, integration_id).await?;
    let people = directory::delete_without_accounts(pool, tenant_id).await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        integration_id = integration_id.get(),
        people,
        "integration deleted"
    );
    Ok(())
}

/// Tries the source with the stored credentials: what was reached, or what failed (a
/// failure is the answer, not an error of ours).
pub async fn test_connection(
    pool: &PgPool,
    reach: &Reach,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<Result<String, String>> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let outcome = CATALOG
        .source(integration.provider)
        .test_connection(pool, reach, IntegrationRef::new(tenant_id, integration_id))
        .await
        .map_err(|error| format!("{error:#}"));
    tracing::info!(
        tenant_id = tenant_id.get(),
        integration_id = integration_id.get(),
        ok = outcome.is_ok(),
        "connection tested"
    );
    Ok(outcome)
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
