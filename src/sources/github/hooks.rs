//! GitHub webhooks registered per repository (`POST /repos/{owner}/{repo}/hooks`, removed
//! with `DELETE …/hooks/{id}`): JSON deliveries of the events the processor reads, signed
//! with the integration's secret. A repository the token may not administer gets the
//! settings to enter by hand.

use sqlx::PgPool;

use crate::domain::IntegrationRef;
use crate::pipeline::source::Reach;
use crate::pipeline::webhooks::{install_each, uninstall_each, HookTarget, Installed};

/// The events a hook delivers.
pub const EVENTS: [&str; 7] = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "issue_comment",
    "push",
    "repository",
];

/// Registers a hook on each configured repository (none configured: each one loaded).
pub async fn install(
    pool: &PgPool,
    reach: &Reach,
    integration: IntegrationRef,
    hook: &HookTarget,
) -> anyhow::Result<Installed> {
    let (summary, client) =
        super::client(pool, reach, integration.tenant, integration.integration).await?;
    let targets = match summary.settings.repos.is_empty() {
        false => summary.settings.repos.clone(),
        true => crate::sources::pull_requests::tables::repository_names(pool, integration).await?,
    };
    if targets.is_empty() {
        anyhow::bail!("no repositories known yet: run a sync first, or configure --repos");
    }
    let client = &client;
    install_each(
        pool,
        integration,
        (targets, hook),
        |repository| async move {
            client
                .create_hook(&repository, (&hook.url, &hook.secret), &EVENTS)
                .await
        },
        |repository, id| async move { client.delete_hook(&repository, &id).await },
        |repository| {
            format!(
                "GitHub {repository}: Settings → Webhooks → Add webhook: Payload URL {}, content type application/json, secret {}, events: {}",
                hook.url,
                hook.secret,
                EVENTS.join(", ")
            )
        },
    )
    .await
}

/// Removes the registered hooks.
pub async fn uninstall(
    pool: &PgPool,
    reach: &Reach,
    integration: IntegrationRef,
) -> anyhow::Result<Vec<String>> {
    let (_, client) =
        super::client(pool, reach, integration.tenant, integration.integration).await?;
    let client = &client;
    uninstall_each(pool, integration, |repository, id| async move {
        client.delete_hook(&repository, &id).await
    })
    .await
}
