//! Azure DevOps Services as a source: Boards work items with their full revision history,
//! into the same work-item tables Jira fills, and Repos pull requests with their votes,
//! comments and commits, into the tables GitHub fills; so workflows, flow metrics, custom
//! fields, links, the API, the UI and search work unchanged. Signs in with a personal
//! access token (Basic, empty user name).

pub mod client;
mod load;
mod pull_load;
pub mod pull_transform;
mod repos;
mod reprocess;
mod sync;
pub mod transform;

use anyhow::Context;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::PgPool;

use crate::connectors::http::{Auth, ClientPolicy, HttpClient};
use crate::domain::input::{self, InvalidInput, SourceScope};
use crate::domain::{IntegrationId, IntegrationRef, JobStep, Provider, TenantId};
use crate::pipeline::source::{KindTransform, Reach, ScopeField, Source, SourceForm};
use crate::pipeline::sync::{StepRecorder, SyncContext, Synced};
use crate::pipeline::webhooks::{HookTarget, Installed, Refreshed};
use crate::pipeline::{PipelineError, StepReport};
use crate::queue::StageMessage;
use crate::sources::{pull_requests, work_items};
use crate::store::integrations::IntegrationSummary;
use crate::store::load_batches::LoadTable;
use crate::store::raw::RawRecord;
use crate::store::vectors::EmbedTable;
use crate::store::StoreError;
use client::AzureClient;
use load::AzureLoader;
use sync::AzureRun;

/// An Azure DevOps job's steps, in order.
pub mod steps {
    pub const PROJECTS: &str = "azure_projects_and_types";
    pub const WORK_ITEMS: &str = "azure_work_items_with_history";
    pub const PULL_REQUESTS: &str = "azure_repositories_and_pull_requests";
}

/// An Azure DevOps job's steps as its status lists them.
static STEPS: [JobStep; 3] = [
    JobStep {
        name: steps::PROJECTS,
        display_name: "Projects, Types & States",
    },
    JobStep {
        name: steps::WORK_ITEMS,
        display_name: "Work Items & History",
    },
    JobStep {
        name: steps::PULL_REQUESTS,
        display_name: "Repositories & Pull Requests",
    },
];

/// Raw row kinds Azure DevOps answers are stored under.
pub mod kinds {
    pub const PROJECTS: &str = "azure_projects";
    /// One project's work item types with their states (external id: the project's name).
    pub const WORK_ITEM_TYPES: &str = "azure_work_item_types";
    pub const FIELDS: &str = "azure_fields";
    /// `{workItem, revisions}`: a work item as the batch read gave it, with every revision
    /// of it read so far (external id: its id).
    pub const WORK_ITEM: &str = "azure_work_item";
    /// One project's Git repositories (external id: the project's name).
    pub const REPOSITORIES: &str = "azure_repositories";
    /// `{pullRequest, threads}`: a pull request's own answer (with its commits and work
    /// item references) and its threads (external id: its id).
    pub const PULL_REQUEST: &str = "azure_pull_request";
}

/// Work items land in the tables Jira's issues do, pull requests in those GitHub's do: the
/// same tables, registered by both.
static LOAD_TABLES: [&LoadTable; 8] = [
    &crate::sources::people::accounts::ACCOUNTS,
    &work_items::tables::WORK_ITEMS,
    &work_items::tables::CHANGELOGS,
    &pull_requests::tables::REPOSITORIES,
    &pull_requests::tables::PULLS,
    &pull_requests::tables::REVIEWS,
    &pull_requests::tables::COMMITS,
    &pull_requests::tables::COMMENTS,
];

/// The kinds Azure DevOps' transform messages carry: work items and pull requests.
static TRANSFORMS: [KindTransform; 2] = [
    KindTransform {
        kind: kinds::WORK_ITEM,
        transform: |pool, message, in_hand| {
            async move {
                Ok(loader(pool, message)
                    .transform_by_raw_ids(message.raw_data_ids(), in_hand)
                    .await?)
            }
            .boxed()
        },
    },
    KindTransform {
        kind: kinds::PULL_REQUEST,
        transform: |pool, message, in_hand| {
            async move {
                Ok(loader(pool, message)
                    .transform_pulls_by_raw_ids(message.raw_data_ids(), in_hand)
                    .await?)
            }
            .boxed()
        },
    },
];

fn loader<'a>(pool: &'a PgPool, message: &StageMessage) -> AzureLoader<'a> {
    AzureLoader {
        pool,
        scope: message.scope(),
    }
}

/// Work items and pull requests are embedded like Jira's and GitHub's, after this source's
/// steps.
static EMBED_TABLES: [&EmbedTable; 2] = [&EMBED_WORK_ITEMS, &EMBED_PRS];

/// Pull requests, embedded after the repositories and pull requests step.
static EMBED_PRS: EmbedTable = pull_requests::embed::table(steps::PULL_REQUESTS);

/// Work items, embedded after the work items step.
static EMBED_WORK_ITEMS: EmbedTable = work_items::embed::table(steps::WORK_ITEMS);

/// The Azure DevOps source component.
pub struct AzureDevops;

pub static AZURE_DEVOPS: AzureDevops = AzureDevops;

impl Source for AzureDevops {
    fn provider(&self) -> Provider {
        Provider::AzureDevops
    }

    fn form(&self) -> &'static SourceForm {
        &SourceForm {
            label: "Azure DevOps",
            base_url_example: "https://dev.azure.com/{organization}",
            username_label: None,
            scopes: &[
                ScopeField {
                    field: "projects",
                    label: "Projects (comma-separated names, empty: all)",
                },
                ScopeField {
                    field: "repos",
                    label:
                        "Repositories project/name (comma-separated, empty: all of the projects')",
                },
            ],
            custom_fields: true,
        }
    }

    fn steps(&self) -> &'static [JobStep] {
        &STEPS
    }

    fn transforms(&self) -> &'static [KindTransform] {
        &TRANSFORMS
    }

    fn load_tables(&self) -> &'static [&'static LoadTable] {
        &LOAD_TABLES
    }

    fn embed_tables(&self) -> &'static [&'static EmbedTable] {
        &EMBED_TABLES
    }

    /// Project names (empty: all) and repositories as `project/name` (empty: all of those
    /// projects'); the token alone signs in.
    fn check_scope(&self, scope: SourceScope) -> Result<SourceScope, InvalidInput> {
        if scope.dev_status {
            return Err(input::invalid(
                "dev_status",
                "only Jira integrations link through the development panel",
            ));
        }
        if scope.api.is_some() {
            return Err(input::invalid(
                "api",
                "only GitHub integrations choose an API (GitHub's GraphQL or REST)",
            ));
        }
        let projects = scope.projects.iter().map(|p| project_name(p));
        let repos = scope.repos.iter().map(|r| repository_name(r));
        Ok(SourceScope {
            username: None,
            projects: projects.collect::<Result<_, _>>()?,
            repos: repos.collect::<Result<_, _>>()?,
            dev_status: false,
            api: None,
        })
    }

    fn sync<'a>(
        &'a self,
        context: &'a SyncContext<'a>,
        recorder: &'a mut StepRecorder<'_>,
    ) -> BoxFuture<'a, anyhow::Result<Synced>> {
        async move {
            let scope = context.scope;
            let (integration, client) = client(
                context.pool,
                context.reach,
                scope.tenant_id,
                scope.integration_id,
            )
            .await?;
            let run = AzureRun {
                pool: context.pool,
                handoff: context.handoff,
                client: client.clone(),
                scope,
                projects: integration.settings.projects.clone(),
                repos: integration.settings.repos.clone(),
                since: context.since,
                full: context.full,
            };
            let outcome = run_steps(&run, recorder).await;
            Ok(Synced {
                requests: client.http().stats.snapshot(),
                outcome,
            })
        }
        .boxed()
    }

    fn discover_fields<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        async move {
            let (tenant, id) = (integration.tenant, integration.integration);
            let (_, client) = client(pool, reach, tenant, id).await?;
            let loader = AzureLoader {
                pool,
                scope: crate::domain::Scope::of(integration),
            };
            Ok(loader.read_fields(&client).await?.len())
        }
        .boxed()
    }

    fn test_connection<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        async move {
            let (_, client) =
                client(pool, reach, integration.tenant, integration.integration).await?;
            let projects = client.projects().await?.body;
            let count = projects["value"].as_array().map_or(0, Vec::len);
            Ok(format!("signed in; {count} project(s) visible"))
        }
        .boxed()
    }

    fn refresh<'a>(
        &'a self,
        _context: &'a SyncContext<'a>,
        _deliveries: &'a [RawRecord],
    ) -> BoxFuture<'a, anyhow::Result<Refreshed>> {
        async { anyhow::bail!("Azure DevOps integrations take no webhook deliveries yet") }.boxed()
    }

    fn install_webhooks<'a>(
        &'a self,
        _pool: &'a PgPool,
        _reach: &'a Reach,
        _integration: IntegrationRef,
        _hook: &'a HookTarget,
    ) -> BoxFuture<'a, anyhow::Result<Installed>> {
        async {
            anyhow::bail!("Azure DevOps webhooks are not supported yet: scheduled syncs keep the data current")
        }
        .boxed()
    }

    fn uninstall_webhooks<'a>(
        &'a self,
        _pool: &'a PgPool,
        _reach: &'a Reach,
        _integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        async { Ok(Vec::new()) }.boxed()
    }

    fn reprocess<'a>(
        &'a self,
        pool: &'a PgPool,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, StepReport)>, StoreError>> {
        reprocess::reprocess(pool, integration).boxed()
    }
}

/// An Azure DevOps project name as typed: trimmed, not empty, without the characters
/// Azure DevOps forbids in one.
fn project_name(text: &str) -> Result<String, InvalidInput> {
    let name = text.trim();
    let forbidden = |c: char| "\\/:*?\"<>;#$%{}|+=[]&".contains(c) || c.is_control();
    if name.is_empty() || name.len() > 64 || name.chars().any(forbidden) {
        return Err(input::invalid(
            "projects",
            format!("'{text}' is not an Azure DevOps project name"),
        ));
    }
    Ok(name.to_owned())
}

/// A repository as typed: `project/name`, the project a project name, the name not empty
/// and without a slash.
fn repository_name(text: &str) -> Result<String, InvalidInput> {
    let invalid = || {
        input::invalid(
            "repos",
            format!("'{text}' is not a repository written as project/name"),
        )
    };
    let (project, name) = text.trim().split_once('/').ok_or_else(invalid)?;
    let project = project_name(project).map_err(|_| invalid())?;
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    Ok(format!("{project}/{name}"))
}

/// The steps of an Azure DevOps job, each recorded as it ends.
async fn run_steps(
    run: &AzureRun<'_>,
    recorder: &mut StepRecorder<'_>,
) -> Result<(), PipelineError> {
    let progress = recorder.start(steps::PROJECTS);
    let (report, custom_fields) = run.projects_and_types().await?;
    recorder.record(steps::PROJECTS, progress, report);
    let progress = recorder.start(steps::WORK_ITEMS);
    let report = run
        .work_items(
            &custom_fields,
            &recorder.on_page(steps::WORK_ITEMS, &progress),
        )
        .await?;
    recorder.record(steps::WORK_ITEMS, progress, report);
    let progress = recorder.start(steps::PULL_REQUESTS);
    let report = run
        .pull_requests(&recorder.on_page(steps::PULL_REQUESTS, &progress))
        .await?;
    recorder.record(steps::PULL_REQUESTS, progress, report);
    Ok(())
}

/// The integration and a client signed with its personal access token and held to its
/// limits.
async fn client(
    pool: &PgPool,
    reach: &Reach,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> anyhow::Result<(IntegrationSummary, AzureClient)> {
    let access =
        super::access::integration_access(pool, &reach.cipher, tenant_id, integration_id).await?;
    let token = access
        .tokens
        .into_iter()
        .next()
        .context("the integration has no token")?;
    let auth = Auth::Basic {
        username: String::new(),
        token,
    };
    let policy = ClientPolicy {
        endpoint_classes: client::endpoint_classes,
        ..access.policy
    };
    let client = AzureClient::new(
        HttpClient::new(auth, policy, &reach.outbound)?,
        &access.integration.base_url,
    );
    Ok((access.integration, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_and_repository_names_are_checked() {
        assert_eq!(project_name(" Fabrikam Fiber ").unwrap(), "Fabrikam Fiber");
        assert!(project_name("a/b").is_err());
        assert!(project_name("  ").is_err());
        assert_eq!(
            repository_name(" Fabrikam Fiber / web ").unwrap(),
            "Fabrikam Fiber/web"
        );
        for bad in ["web", "/web", "p/", "p/a/b", "a:b/web"] {
            assert!(repository_name(bad).is_err(), "{bad}");
        }
        let scope = SourceScope {
            username: None,
            projects: Vec::new(),
            repos: vec!["p".into()],
            dev_status: false,
            api: None,
        };
        assert_eq!(AZURE_DEVOPS.check_scope(scope).unwrap_err().field, "repos");
    }
}
