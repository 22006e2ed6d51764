//! GitHub as a source: its client, the sync's steps (repositories, then pull requests with
//! reviews, commits and comments, then flow metrics, then deployments and releases), the
//! transform, its tables and reprocess.

pub mod client;
pub mod deployments;
pub mod graphql;
mod hooks;
pub mod load;
pub mod read;
pub mod reprocess;
pub mod sync;
mod sync_graphql;
pub mod transform;
pub mod transform_deployments;
pub mod transform_graphql;
mod webhook;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::PgPool;

use crate::connectors::http::{Auth, ClientPolicy, HttpClient};
use crate::domain::delivery::DeliveryRules;
use crate::domain::input::{self, InvalidInput, SourceScope};
use crate::domain::{IntegrationId, IntegrationRef, JobStep, Provider, SourceApi, TenantId};
use crate::pipeline::source::{KindTransform, Reach, ScopeField, Source, SourceForm};
use crate::pipeline::sync::{StepRecorder, SyncContext, Synced};
use crate::pipeline::transform_stage::TransformError;
use crate::pipeline::webhooks::{HookTarget, Installed, Refreshed};
use crate::pipeline::{PipelineError, StepReport};
use crate::queue::StageMessage;
use crate::sources::pull_requests::{self, tables};
use crate::store::integrations::IntegrationSummary;
use crate::store::load_batches::{LoadRows, LoadTable};
use crate::store::raw::RawRecord;
use crate::store::vectors::EmbedTable;
use crate::store::StoreError;
use client::GithubClient;
use load::GithubLoader;
use sync::GithubRun;

/// The tables whose records are embedded.
static EMBED_TABLES: [&EmbedTable; 1] = [&EMBED_PRS];

/// Pull requests, embedded after the pull requests step.
pub static EMBED_PRS: EmbedTable = pull_requests::embed::table(steps::PULL_REQUESTS);

/// A GitHub job's steps, in order.
pub mod steps {
    pub const REPOSITORIES: &str = "github_repositories";
    pub const PULL_REQUESTS: &str = "github_pull_requests";
    pub const DEPLOYMENTS: &str = "github_deployments";
}

/// A GitHub job's steps as its status lists them.
static STEPS: [JobStep; 3] = [
    JobStep {
        name: steps::REPOSITORIES,
        display_name: "Repositories",
    },
    JobStep {
        name: steps::PULL_REQUESTS,
        display_name: "Pull Requests",
    },
    JobStep {
        name: steps::DEPLOYMENTS,
        display_name: "Deployments",
    },
];

/// Raw row kinds GitHub answers are stored under.
pub mod kinds {
    pub const REPOSITORY: &str = "github_repository";
    pub const PULL: &str = "github_pull";
    /// One page of a pull request's reviews (external id: the pull request's id).
    pub const PULL_REVIEWS: &str = "github_pull_reviews";
    /// One page of a pull request's commits (external id: the pull request's id).
    pub const PULL_COMMITS: &str = "github_pull_commits";
    pub const REVIEW_COMMENT: &str = "github_review_comment";
    pub const ISSUE_COMMENT: &str = "github_issue_comment";
    /// A pull request node of a GraphQL page, with everything nested in it (external id:
    /// its database id).
    pub const GRAPHQL_PULL: &str = "github_graphql_pull";
    /// A further page of a nested list of a GraphQL pull request (external id: the pull
    /// request's database id; metadata: the extraction it belongs to).
    pub const GRAPHQL_CONTINUATION: &str = "github_graphql_continuation";
    /// A deployment node with its statuses (external id: its database id; metadata: its
    /// repository).
    pub const DEPLOYMENT: &str = "github_deployment";
    /// A release node (external id: its database id; metadata: its repository).
    pub const RELEASE: &str = "github_release";
    /// A completed workflow run, read when workflows are the production rule (external id:
    /// its id; metadata: its repository).
    pub const WORKFLOW_RUN: &str = "github_workflow_run";
}

/// The tables GitHub's load work fills.
static LOAD_TABLES: [&LoadTable; 7] = [
    &tables::REPOSITORIES,
    &crate::sources::people::accounts::ACCOUNTS,
    &crate::sources::delivery::rows::DEPLOYMENTS,
    &tables::PULLS,
    &tables::REVIEWS,
    &tables::COMMITS,
    &tables::COMMENTS,
];

/// The kinds GitHub's transform messages carry: pull requests (REST or GraphQL) before the
/// comments that need them loaded.
static TRANSFORMS: [KindTransform; 4] = [
    KindTransform {
        kind: kinds::PULL,
        transform: |pool, message, in_hand| {
            async move {
                Ok(loader(pool, message)
                    .transform_pulls(message.raw_data_ids(), in_hand)
                    .await?)
            }
            .boxed()
        },
    },
    KindTransform {
        kind: kinds::GRAPHQL_PULL,
        transform: |pool, message, in_hand| {
            async move {
                Ok(loader(pool, message)
                    .transform_graphql_pulls(message.raw_data_ids(), in_hand)
                    .await?)
            }
            .boxed()
        },
    },
    KindTransform {
        kind: kinds::REVIEW_COMMENT,
        transform: transform_comments,
    },
    KindTransform {
        kind: kinds::ISSUE_COMMENT,
        transform: transform_comments,
    },
];

fn loader<'a>(pool: &'a PgPool, message: &StageMessage) -> GithubLoader<'a> {
    GithubLoader {
        pool,
        scope: message.scope(),
    }
}

fn transform_comments<'a>(
    pool: &'a PgPool,
    message: &'a StageMessage,
    in_hand: Vec<RawRecord>,
) -> BoxFuture<'a, Result<(LoadRows, StepReport), TransformError>> {
    async move {
        Ok(loader(pool, message)
            .transform_comments(message.raw_data_ids(), in_hand)
            .await?)
    }
    .boxed()
}

/// The GitHub source component.
pub struct Github;

pub static GITHUB: Github = Github;

impl Source for Github {
    fn provider(&self) -> Provider {
        Provider::Github
    }

    fn form(&self) -> &'static SourceForm {
        &SourceForm {
            label: "GitHub",
            base_url_example: "https://api.github.com",
            username_label: None,
            scopes: &[ScopeField {
                field: "repos",
                label: "Repositories owner/name (comma-separated, empty: all)",
            }],
            custom_fields: false,
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

    /// Repositories, never projects; tokens alone sign in.
    fn check_scope(&self, scope: SourceScope) -> Result<SourceScope, InvalidInput> {
        if !scope.projects.is_empty() {
            return Err(input::invalid(
                "projects",
                "only Jira integrations have projects (GitHub integrations take repos)",
            ));
        }
        if scope.dev_status {
            return Err(input::invalid(
                "dev_status",
                "only Jira integrations link through the development panel",
            ));
        }
        let repos = scope.repos.iter().map(|r| input::repository(r));
        Ok(SourceScope {
            username: scope
                .username
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            projects: Vec::new(),
            repos: repos.collect::<Result<_, _>>()?,
            dev_status: false,
            api: scope.api,
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
            let run = GithubRun {
                pool: context.pool,
                handoff: context.handoff,
                client: client.clone(),
                scope,
                repositories: integration.settings.repos.clone(),
                api: integration.settings.api.unwrap_or(SourceApi::Graphql),
                since: context.since,
                full: context.full,
            };
            let outcome = run_steps(&run, &integration.settings.delivery, recorder).await;
            Ok(Synced {
                requests: client.http().stats.snapshot(),
                outcome,
            })
        }
        .boxed()
    }

    fn discover_fields<'a>(
        &'a self,
        _pool: &'a PgPool,
        _reach: &'a Reach,
        _integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        async { anyhow::bail!("GitHub has no custom fields") }.boxed()
    }

    fn test_connection<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        async move {
            let (summary, client) =
                client(pool, reach, integration.tenant, integration.integration).await?;
            let repos = &summary.settings.repos;
            if repos.is_empty() {
                let page = client.first_page("/user/repos", &[], None).await?;
                let seen = page.map_or(0, |page| page.items.len());
                return Ok(format!("signed in; {seen} repositories on the first page"));
            }
            for repo in repos {
                client.repository(repo).await?;
            }
            Ok(format!(
                "signed in; all {} configured repositories readable",
                repos.len()
            ))
        }
        .boxed()
    }

    fn refresh<'a>(
        &'a self,
        context: &'a SyncContext<'a>,
        deliveries: &'a [RawRecord],
    ) -> BoxFuture<'a, anyhow::Result<Refreshed>> {
        webhook::refresh(context, deliveries).boxed()
    }

    fn install_webhooks<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
        hook: &'a HookTarget,
    ) -> BoxFuture<'a, anyhow::Result<Installed>> {
        hooks::install(pool, reach, integration, hook).boxed()
    }

    fn uninstall_webhooks<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        hooks::uninstall(pool, reach, integration).boxed()
    }

    fn reprocess<'a>(
        &'a self,
        pool: &'a PgPool,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, StepReport)>, StoreError>> {
        reprocess::reprocess(pool, integration).boxed()
    }
}

/// The steps of a GitHub job, each recorded as it ends.
async fn run_steps(
    run: &GithubRun<'_>,
    delivery: &DeliveryRules,
    recorder: &mut StepRecorder<'_>,
) -> Result<(), PipelineError> {
    let progress = recorder.start(steps::REPOSITORIES);
    let (report, repositories) = run.repositories().await?;
    recorder.record(steps::REPOSITORIES, progress, report);
    let progress = recorder.start(steps::PULL_REQUESTS);
    let pulls = run
        .pull_requests(
            &repositories,
            &recorder.on_page(steps::PULL_REQUESTS, &progress),
        )
        .await?;
    tracing::info!(
        comments = pulls.comments,
        metrics_changed = pulls.metrics_changed,
        "pull request comments and flow metrics loaded"
    );
    recorder.record(steps::PULL_REQUESTS, progress, pulls.report);
    let progress = recorder.start(steps::DEPLOYMENTS);
    let report = run.deployments(&repositories, delivery).await?;
    recorder.record(steps::DEPLOYMENTS, progress, report);
    Ok(())
}

/// The integration and a GitHub client rotating its tokens, held to its limits.
pub async fn client(
    pool: &PgPool,
    reach: &Reach,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> anyhow::Result<(IntegrationSummary, GithubClient)> {
    let access =
        super::access::integration_access(pool, &reach.cipher, tenant_id, integration_id).await?;
    let client = GithubClient::new(
        HttpClient::new(
            Auth::Bearer {
                tokens: access.tokens,
            },
            ClientPolicy {
                endpoint_classes: client::endpoint_classes,
                ..access.policy
            },
            &reach.outbound,
        )?,
        &access.integration.base_url,
    );
    Ok((access.integration, client))
}
