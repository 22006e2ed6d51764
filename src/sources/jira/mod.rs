//! Jira Cloud as a source: its client, the sync's steps, the transform of issues and
//! metadata, its tables, custom-field discovery and reprocess.

pub mod client;
pub mod custom_fields;
mod dev_status_due;
mod hooks;
mod incidents;
pub mod load;
pub mod read;
pub mod reprocess;
pub mod sync;
pub mod transform;
mod webhook;

use anyhow::Context;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::PgPool;

use crate::connectors::http::{Auth, ClientPolicy, HttpClient};
use crate::domain::input::{self, InvalidInput, SourceScope};
use crate::domain::{IntegrationId, IntegrationRef, JobStep, Provider, TenantId};
use crate::pipeline::source::{KindTransform, Reach, ScopeField, Source, SourceForm};
use crate::pipeline::sync::{StepRecorder, SyncContext, Synced};
use crate::pipeline::transform_stage::TransformError;
use crate::pipeline::webhooks::{HookTarget, Installed, Refreshed};
use crate::pipeline::{PipelineError, StepReport};
use crate::queue::StageMessage;
use crate::sources::work_items::{self, tables};
use crate::store::bulk::Upsert;
use crate::store::integrations::IntegrationSummary;
use crate::store::load_batches::{LoadRows, LoadTable};
use crate::store::raw::RawRecord;
use crate::store::vectors::EmbedTable;
use crate::store::StoreError;
use client::JiraClient;
use load::JiraLoader;
use sync::JiraRun;

/// The tables whose records are embedded.
static EMBED_TABLES: [&EmbedTable; 1] = [&EMBED_WORK_ITEMS];

/// Work items, embedded after the issues step.
static EMBED_WORK_ITEMS: EmbedTable = work_items::embed::table(steps::ISSUES);

/// A Jira job's steps, in order.
pub mod steps {
    pub const PROJECTS: &str = "jira_projects_and_issue_types";
    pub const STATUSES: &str = "jira_statuses_and_relationships";
    pub const ISSUES: &str = "jira_issues_with_changelogs";
    pub const DEV_STATUS: &str = "jira_dev_status";
}

/// A Jira job's steps as its status lists them.
static STEPS: [JobStep; 4] = [
    JobStep {
        name: steps::PROJECTS,
        display_name: "Projects & Types",
    },
    JobStep {
        name: steps::STATUSES,
        display_name: "Statuses & Relations",
    },
    JobStep {
        name: steps::ISSUES,
        display_name: "Issues & Changelogs",
    },
    JobStep {
        name: steps::DEV_STATUS,
        display_name: "Development Status",
    },
];

/// Raw row kinds Jira answers are stored under.
pub mod kinds {
    pub const PROJECT_PAGE: &str = "jira_project_search";
    pub const ISSUE_TYPES: &str = "jira_issue_types";
    pub const STATUSES: &str = "jira_statuses";
    pub const ISSUE: &str = "jira_issue";
    pub const CHANGELOG_PAGE: &str = "jira_issue_changelog";
    pub const DEV_STATUS: &str = "jira_dev_status";
    pub const FIELDS: &str = "jira_fields";
    pub const CREATEMETA: &str = "jira_createmeta";
}

/// The tables Jira's load work fills.
static LOAD_TABLES: [&LoadTable; 3] = [
    &tables::WORK_ITEMS,
    &tables::CHANGELOGS,
    &crate::sources::people::accounts::ACCOUNTS,
];

/// Issues are the one kind Jira's transform messages carry.
static TRANSFORMS: [KindTransform; 1] = [KindTransform {
    kind: kinds::ISSUE,
    transform: transform_issues,
}];

fn transform_issues<'a>(
    pool: &'a PgPool,
    message: &'a StageMessage,
    in_hand: Vec<RawRecord>,
) -> BoxFuture<'a, Result<(LoadRows, StepReport), TransformError>> {
    async move {
        let loader = JiraLoader {
            pool,
            scope: message.scope(),
        };
        let lookups = loader.issue_lookups().await?;
        Ok(loader
            .transform_issues_by_raw_ids(message.raw_data_ids(), in_hand, &lookups)
            .await?)
    }
    .boxed()
}

/// Metadata upserted as it is read (Azure DevOps loads its statuses, projects and work item
/// types through the same functions).
static DIRECT_UPSERTS: [&Upsert; 5] = [
    &tables::STATUSES,
    &tables::PROJECTS,
    &tables::WITS,
    &work_items::custom_fields::CUSTOM_FIELDS,
    &tables::PR_LINKS,
];

/// The Jira source component.
pub struct Jira;

pub static JIRA: Jira = Jira;

impl Source for Jira {
    fn provider(&self) -> Provider {
        Provider::Jira
    }

    fn form(&self) -> &'static SourceForm {
        &SourceForm {
            label: "Jira",
            base_url_example: "https://acme.atlassian.net",
            username_label: Some("Account e-mail"),
            scopes: &[ScopeField {
                field: "projects",
                label: "Projects (comma-separated keys, empty: all)",
            }],
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

    fn direct_upserts(&self) -> &'static [&'static Upsert] {
        &DIRECT_UPSERTS
    }

    fn embed_tables(&self) -> &'static [&'static EmbedTable] {
        &EMBED_TABLES
    }

    /// Projects, never repositories; the account's e-mail signs in with the token.
    fn check_scope(&self, scope: SourceScope) -> Result<SourceScope, InvalidInput> {
        if !scope.repos.is_empty() {
            return Err(input::invalid(
                "repos",
                "only GitHub integrations have repositories (Jira integrations take projects)",
            ));
        }
        if scope.api.is_some() {
            return Err(input::invalid(
                "api",
                "only GitHub integrations choose an API (GitHub's GraphQL or REST)",
            ));
        }
        let username = scope
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                input::invalid("username", "Jira needs the account e-mail for Basic auth")
            })?;
        let projects = scope.projects.iter().map(|p| input::project_key(p));
        Ok(SourceScope {
            username: Some(username.to_owned()),
            projects: projects.collect::<Result<_, _>>()?,
            repos: Vec::new(),
            dev_status: scope.dev_status,
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
            let timezone = account_timezone(&client).await?;
            let run = JiraRun {
                pool: context.pool,
                handoff: context.handoff,
                client: client.clone(),
                scope,
                projects: integration.settings.projects.clone(),
                since: context.since,
                timezone,
                full: context.full,
                dev_status: integration.settings.dev_status,
                incident_jql: integration.settings.delivery.incident_jql.clone(),
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
            let (summary, client) = client(pool, reach, tenant, id).await?;
            let scope = crate::domain::Scope::of(integration);
            Ok(custom_fields::sync(pool, &client, scope, &summary.settings.projects).await?)
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
            let me = client.myself().await?.body;
            let name = me["displayName"]
                .as_str()
                .or(me["emailAddress"].as_str())
                .unwrap_or("an unnamed account");
            let projects = client.projects_page(0).await?.body;
            let total = projects["total"].as_u64().unwrap_or(0);
            Ok(format!("signed in as {name}; {total} project(s) visible"))
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

/// The steps of a Jira job, each recorded as it ends.
async fn run_steps(
    run: &JiraRun<'_>,
    recorder: &mut StepRecorder<'_>,
) -> Result<(), PipelineError> {
    let progress = recorder.start(steps::PROJECTS);
    let report = run.projects_and_issue_types().await?;
    recorder.record(steps::PROJECTS, progress, report);
    let progress = recorder.start(steps::STATUSES);
    let report = run.statuses().await?;
    recorder.record(steps::STATUSES, progress, report);
    let progress = recorder.start(steps::ISSUES);
    let issues = run
        .issues(&recorder.on_page(steps::ISSUES, &progress))
        .await?;
    recorder.record(steps::ISSUES, progress, issues.report);
    if let Some(rule) = &run.incident_jql {
        let incidents = run.incidents(rule).await?;
        tracing::info!(
            tenant_id = run.scope.tenant_id.get(),
            job_id = run.scope.job_id.map(|id| id.get()),
            incidents,
            "incident JQL read"
        );
    }
    let progress = recorder.start(steps::DEV_STATUS);
    let report = run.dev_status(&issues.with_code).await?;
    recorder.record(steps::DEV_STATUS, progress, report);
    Ok(())
}

/// The integration and a Jira client signed with its credentials and held to its limits.
pub async fn client(
    pool: &PgPool,
    reach: &Reach,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> anyhow::Result<(IntegrationSummary, JiraClient)> {
    let access =
        super::access::integration_access(pool, &reach.cipher, tenant_id, integration_id).await?;
    let token = access
        .tokens
        .into_iter()
        .next()
        .context("the integration has no token")?;
    let auth = Auth::Basic {
        username: access.integration.username.clone().unwrap_or_default(),
        token,
    };
    let policy = ClientPolicy {
        endpoint_classes: client::endpoint_classes,
        ..access.policy
    };
    let client = JiraClient::new(
        HttpClient::new(auth, policy, &reach.outbound)?,
        &access.integration.base_url,
    );
    Ok((access.integration, client))
}

/// The Jira account's time zone (`/myself`), which JQL dates are read in; UTC when the
/// site names one this build does not know.
async fn account_timezone(client: &JiraClient) -> anyhow::Result<Tz> {
    let me = client.myself().await?.body;
    let name = me["timeZone"].as_str().unwrap_or("UTC");
    Ok(name.parse().unwrap_or_else(|_| {
        tracing::warn!(
            time_zone = name,
            "unknown account time zone; writing JQL dates in UTC"
        );
        Tz::UTC
    }))
}
