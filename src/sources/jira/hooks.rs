//! The Jira Cloud admin webhook (`POST /rest/webhooks/1.0/webhook`, removed with `DELETE
//! …/webhook/{id}`): the issue events the processor reads, for the integration's projects
//! (a JQL filter), signed with the integration's secret. Registering needs a Jira admin;
//! without one, the settings to enter by hand.

use sqlx::PgPool;

use super::sync::project_clause;
use crate::domain::IntegrationRef;
use crate::pipeline::source::Reach;
use crate::pipeline::webhooks::{install_each, uninstall_each, HookTarget, Installed};

/// The events the webhook delivers.
pub const EVENTS: [&str; 5] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "issuelink_created",
    "issuelink_deleted",
];

/// What a site's one webhook is recorded under.
const TARGET: &str = "site";

/// The webhook's JQL filter: the integration's projects (empty: every issue).
fn filter(projects: &[String]) -> String {
    project_clause(projects).unwrap_or_default()
}

/// Registers the site's webhook.
pub async fn install(
    pool: &PgPool,
    reach: &Reach,
    integration: IntegrationRef,
    hook: &HookTarget,
) -> anyhow::Result<Installed> {
    let (summary, client) =
        super::client(pool, reach, integration.tenant, integration.integration).await?;
    let jql = filter(&summary.settings.projects);
    let name = format!("pulse-etl integration {}", integration.integration);
    let (client, jql, name) = (&client, &jql, &name);
    install_each(
        pool,
        integration,
        (vec![TARGET.to_owned()], hook),
        |_| async move {
            client
                .create_webhook(name, (&hook.url, &hook.secret), (&EVENTS, jql))
                .await
        },
        |_, id| async move { client.delete_webhook(&id).await },
        |_| {
            format!(
                "Jira: Settings → System → WebHooks → Create a WebHook: URL {}, secret {}, JQL {}, events: {}",
                hook.url,
                hook.secret,
                if jql.is_empty() { "(all issues)" } else { jql },
                EVENTS.join(", ")
            )
        },
    )
    .await
}

/// Removes the site's webhook.
pub async fn uninstall(
    pool: &PgPool,
    reach: &Reach,
    integration: IntegrationRef,
) -> anyhow::Result<Vec<String>> {
    let (_, client) =
        super::client(pool, reach, integration.tenant, integration.integration).await?;
    let client = &client;
    uninstall_each(pool, integration, |_, id| async move {
        client.delete_webhook(&id).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_the_integrations_projects() {
        assert_eq!(filter(&[]), "");
        assert_eq!(
            filter(&["CORE".into(), "WEB".into()]),
            "project in (\"CORE\", \"WEB\")"
        );
    }
}
