//! The deployments step: per repository one GraphQL query reads its deployments (with their
//! statuses) and its releases, newest first, down to the cursor. An incremental run's first
//! query asks for twenty of each and is, when nothing changed, the only one; deployments
//! created up to a day before the cursor are read again, since a deployment's statuses keep
//! changing after it was created. Each node is stored raw, transformed and loaded here, then
//! the merged pull requests the new deployments may have shipped are matched to them. When
//! the production rule is a workflow, each repository's completed workflow runs on its
//! default branch are read too (REST, pages of a hundred, from a day before the cursor; the
//! first time every one GitHub lists).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::graphql::points;
use super::load::GithubLoader;
use super::sync::GithubRun;
use super::transform_deployments;
use super::{kinds, steps};
use crate::domain::delivery::{DeliveryRules, ProductionSignal};
use crate::domain::StageState;
use crate::pipeline::{PipelineError, StepReport};
use crate::sources::delivery::rows::DeploymentRow;
use crate::sources::delivery::shipping;
use crate::store::load_batches::LoadRows;
use crate::store::raw::{self, RawRecord};
use crate::store::StoreError;

/// Deployments (and releases) per page of a full read.
const PER_PAGE: u64 = 100;
/// Per page of an incremental run's first query, where few changed.
const PER_FIRST_INCREMENTAL_PAGE: u64 = 20;
/// Statuses read per deployment (GitHub keeps a handful: queued, in progress, the outcome,
/// inactive).
const STATUSES: u64 = 10;
/// How long before the cursor an incremental run reads deployments again.
fn lookback() -> Duration {
    Duration::days(1)
}

/// One of the two lists read together: where the next page starts, if one is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Deployments,
    Releases,
}

impl List {
    fn field(self) -> &'static str {
        match self {
            List::Deployments => "deployments",
            List::Releases => "releases",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            List::Deployments => kinds::DEPLOYMENT,
            List::Releases => kinds::RELEASE,
        }
    }

    fn selection(self) -> String {
        match self {
            List::Deployments => format!(
                "databaseId environment description createdAt commitOid \
                 commit {{ committedDate }} statuses(first: {STATUSES}) {{ nodes {{ state createdAt }} }}"
            ),
            List::Releases => "databaseId tagName name isDraft isPrerelease createdAt \
                 publishedAt tagCommit { oid committedDate }"
                .to_owned(),
        }
    }
}

/// The query reading a page of `size` of each list in `lists` (each after its own cursor,
/// `$after_deployments` / `$after_releases`), newest first.
fn deployments_query(lists: &[List], size: u64) -> String {
    let connections: Vec<String> = lists
        .iter()
        .map(|list| {
            let field = list.field();
            format!(
                "{field}(first: {size}, after: $after_{field}, orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {} }}
    }}",
                list.selection()
            )
        })
        .collect();
    let variables: Vec<String> = lists
        .iter()
        .map(|list| format!("$after_{}: String", list.field()))
        .collect();
    format!(
        "query Deployments($owner: String!, $name: String!, {}) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    {}
  }}
}}",
        variables.join(", "),
        connections.join("\n    ")
    )
}

/// Every query the step may send (for schema checks).
pub fn all_deployment_queries() -> Vec<String> {
    let both = [List::Deployments, List::Releases];
    [&both[..], &both[..1], &both[1..]]
        .iter()
        .flat_map(|lists| {
            [PER_PAGE, PER_FIRST_INCREMENTAL_PAGE].map(|size| deployments_query(lists, size))
        })
        .collect()
}

/// Points a page costs: each list once, each deployment's statuses once.
fn query_points(lists: &[List], size: u64) -> u64 {
    let statuses = if lists.contains(&List::Deployments) {
        size
    } else {
        0
    };
    points(lists.len() as u64 + statuses)
}

/// Whether a node was created at or after `cutoff` (unreadable dates count as new).
fn created_since(node: &Value, cutoff: Option<DateTime<Utc>>) -> bool {
    super::sync::updated_since(node, "createdAt", cutoff)
}

impl GithubRun<'_> {
    /// Reads, stores and loads the repositories' deployments and releases, then matches
    /// pull requests to the deployments that shipped them.
    pub async fn deployments(
        &self,
        repositories: &[String],
        rules: &DeliveryRules,
    ) -> Result<StepReport, PipelineError> {
        self.stages(steps::DEPLOYMENTS, StageState::Running).await?;
        let report = self
            .read_deployments(repositories, rules, self.since)
            .await?;
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            StageState::Finished
        };
        self.stages(steps::DEPLOYMENTS, state).await?;
        Ok(report)
    }

    /// Reads, stores and loads the repositories' deployments and releases created since
    /// `since` (less the lookback; None: all), then matches pull requests to them.
    pub(super) async fn read_deployments(
        &self,
        repositories: &[String],
        rules: &DeliveryRules,
        since: Option<DateTime<Utc>>,
    ) -> Result<StepReport, PipelineError> {
        let mut report = StepReport::default();
        let mut loaded = Vec::new();
        // Workflow runs are read only when they are the rule; the first time from the start.
        let runs_since = match rules.production {
            ProductionSignal::Workflow if self.has_runs().await? => Some(since),
            ProductionSignal::Workflow => Some(None),
            _ => None,
        };
        for repository in repositories {
            let clock = Instant::now();
            let mut stored = self.extract_deployments(repository, since).await?;
            if let Some(runs_since) = runs_since {
                stored.extend(self.extract_workflow_runs(repository, runs_since).await?);
            }
            report.extract_seconds += clock.elapsed().as_secs_f64();
            let (part, external_ids) =
                load_deployments(self.pool, self.scope, stored, rules).await?;
            report += part;
            loaded.extend(external_ids);
        }
        let clock = Instant::now();
        let shipped = shipping::ship(self.pool, self.scope.integration(), &loaded).await?;
        report.load_seconds += clock.elapsed().as_secs_f64();
        tracing::info!(
            tenant_id = self.scope.tenant_id.get(),
            job_id = self.scope.job_id.map(|id| id.get()),
            deployments = loaded.len(),
            shipped,
            "deployments loaded and matched to pull requests"
        );
        Ok(report)
    }

    /// Whether any workflow run of the integration is stored.
    async fn has_runs(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM raw_extraction_data
                            WHERE tenant_id = $1 AND integration_id = $2 AND type = $3)",
        )
        .bind(self.scope.tenant_id)
        .bind(self.scope.integration_id)
        .bind(kinds::WORKFLOW_RUN)
        .fetch_one(self.pool)
        .await?)
    }

    /// One repository's completed workflow runs on its default branch created since the
    /// day before `since` (None: every one GitHub lists, at most 1,000), stored raw.
    async fn extract_workflow_runs(
        &self,
        repository: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<RawRecord>, PipelineError> {
        let branch: Option<String> = sqlx::query_scalar(
            "SELECT default_branch FROM repositories
             WHERE tenant_id = $1 AND integration_id = $2 AND full_name = $3",
        )
        .bind(self.scope.tenant_id)
        .bind(self.scope.integration_id)
        .bind(repository)
        .fetch_optional(self.pool)
        .await
        .map_err(StoreError::from)?
        .flatten();
        let mut query = vec![("status", "completed".to_owned())];
        if let Some(branch) = branch {
            query.push(("branch", branch));
        }
        if let Some(since) = since {
            let from = (since - lookback()).format("%Y-%m-%d");
            query.push(("created", format!(">={from}")));
        }
        let pages = self
            .client
            .all_pages(&format!("/repos/{repository}/actions/runs"), &query)
            .await?;
        let runs: Vec<(Option<String>, Value)> = pages
            .into_iter()
            .flat_map(|page| page.items)
            .map(|run| (super::sync::id_text(&run), run))
            .collect();
        let entities = raw::with_metadata(runs, &json!({"repository": repository}));
        Ok(raw::insert_returning(self.pool, self.scope, kinds::WORKFLOW_RUN, entities).await?)
    }

    /// One repository's deployments and releases down to the cursor, stored raw.
    async fn extract_deployments(
        &self,
        repository: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<RawRecord>, PipelineError> {
        let (owner, name) = repository.split_once('/').unwrap_or((repository, ""));
        let deployments_cutoff = since.map(|since| since - lookback());
        let mut wanted: Vec<(List, Option<String>, Option<DateTime<Utc>>)> = vec![
            (List::Deployments, None, deployments_cutoff),
            (List::Releases, None, since),
        ];
        let mut size = match since {
            Some(_) => PER_FIRST_INCREMENTAL_PAGE,
            None => PER_PAGE,
        };
        let mut stored = Vec::new();
        while !wanted.is_empty() {
            let lists: Vec<List> = wanted.iter().map(|(list, ..)| *list).collect();
            let mut variables = json!({"owner": owner, "name": name});
            for (list, after, _) in &wanted {
                variables[format!("after_{}", list.field())] = json!(after);
            }
            let query = deployments_query(&lists, size);
            let data = self
                .client
                .graphql(&query, variables, query_points(&lists, size))
                .await?;
            let mut next = Vec::new();
            for (list, _, cutoff) in wanted {
                let page = &data["repository"][list.field()];
                let nodes = page["nodes"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let fresh: Vec<(Option<String>, Value)> = nodes
                    .iter()
                    .take_while(|node| created_since(node, cutoff))
                    .map(|node| {
                        (
                            node["databaseId"].as_i64().map(|id| id.to_string()),
                            node.clone(),
                        )
                    })
                    .collect();
                let reached_cursor = fresh.len() < nodes.len();
                // Stored as the raw store keeps them (cleaned), which is what the load reads.
                let entities = raw::with_metadata(fresh, &json!({"repository": repository}));
                stored.extend(
                    raw::insert_returning(self.pool, self.scope, list.kind(), entities).await?,
                );
                let more = page["pageInfo"]["hasNextPage"].as_bool() == Some(true);
                match page["pageInfo"]["endCursor"].as_str() {
                    Some(cursor) if more && !reached_cursor => {
                        next.push((list, Some(cursor.to_owned()), cutoff))
                    }
                    _ => {}
                }
            }
            wanted = next;
            size = PER_PAGE;
        }
        Ok(stored)
    }
}

/// Transforms and loads stored deployments, releases and workflow runs under `rules`; returns the
/// report and the external ids of the rows loaded.
pub async fn load_deployments(
    pool: &PgPool,
    scope: crate::domain::Scope,
    stored: Vec<RawRecord>,
    rules: &DeliveryRules,
) -> Result<(StepReport, Vec<String>), StoreError> {
    let patterns = rules.check().ok();
    let loader = GithubLoader { pool, scope };
    let extracted = stored.len() as u64;
    let mut report = StepReport::default();
    let mut rows: Vec<DeploymentRow> = Vec::with_capacity(stored.len());
    let mut done = Vec::with_capacity(stored.len());
    for record in stored {
        let repository = record.extraction_metadata["repository"]
            .as_str()
            .unwrap_or_default();
        let row = match record.kind.as_str() {
            kinds::RELEASE => transform_deployments::release(repository, &record.raw_data, rules),
            kinds::WORKFLOW_RUN => transform_deployments::workflow_run(
                repository,
                &record.raw_data,
                rules,
                patterns.as_ref(),
            ),
            _ => transform_deployments::deployment(
                repository,
                &record.raw_data,
                rules,
                patterns.as_ref(),
            ),
        };
        match row {
            Ok(row) => {
                rows.push(row);
                done.push(record.id);
            }
            Err(error) => {
                loader.fail(record.id, &error).await?;
                report.failed += 1;
            }
        }
    }
    let clock = Instant::now();
    let external_ids = rows.iter().map(|row| row.external_id.clone()).collect();
    let mut load = LoadRows::default();
    load.add(&rows)?;
    load.processed(done);
    load.load(pool, scope.integration()).await?;
    report += StepReport::passed_through(rows.len() as u64);
    report.extracted = extracted;
    report.load_seconds = clock.elapsed().as_secs_f64();
    Ok((report, external_ids))
}
