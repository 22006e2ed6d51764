//! Re-runs transform and load for a GitHub integration from its stored raw data, with no
//! API call: the newest stored copy of every repository, pull request (REST: with its newest
//! review and commit pages; GraphQL: with the continuations of its extraction) and comment
//! goes through the loader a sync uses, then the flow metrics of every pull request are
//! computed again; the newest copy of every deployment and release is loaded under the
//! integration's current delivery rules, and every merged pull request is matched to the
//! deployment that shipped it again.

use sqlx::PgPool;

use super::deployments::load_deployments;
use super::load::GithubLoader;
use super::{kinds, steps};
use crate::domain::{IntegrationRef, RawId, Scope};
use crate::pipeline::StepReport;
use crate::sources::delivery::shipping;
use crate::store::integrations;
use crate::store::raw::{self, LatestBatches};
use crate::store::StoreError;

/// Pull requests (or comments) transformed and loaded together.
const BATCH: usize = 500;

/// Reprocesses everything stored for the integration; returns a report per step.
pub async fn reprocess(
    pool: &PgPool,
    ids: IntegrationRef,
) -> Result<Vec<(&'static str, StepReport)>, StoreError> {
    let loader = GithubLoader {
        pool,
        scope: Scope::of(ids),
    };
    let mut repositories = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::REPOSITORY);
    while let Some(rows) = batches.next().await? {
        let stored: Vec<_> = rows.into_iter().map(|r| (r.id, r.raw_data)).collect();
        repositories += loader.repositories(&stored).await?.0;
    }
    // The loader reads pull requests and comments itself: only their ids are listed here.
    let mut pulls = StepReport::default();
    let mut pull_ids = Vec::new();
    for kind in [kinds::PULL, kinds::GRAPHQL_PULL] {
        let newest = raw::latest_of_kind(pool, ids, kind).await?;
        for batch in newest.chunks(BATCH) {
            let raw_ids: Vec<RawId> = batch.iter().map(|(id, _)| *id).collect();
            pull_ids.extend(batch.iter().filter_map(|(_, external)| external.clone()));
            pulls += match kind {
                kinds::PULL => loader.pulls_by_raw_ids(&raw_ids).await?,
                _ => loader.graphql_pulls_by_raw_ids(&raw_ids).await?,
            };
        }
    }
    for kind in [kinds::REVIEW_COMMENT, kinds::ISSUE_COMMENT] {
        let newest = raw::latest_of_kind(pool, ids, kind).await?;
        for batch in newest.chunks(BATCH) {
            let raw_ids: Vec<RawId> = batch.iter().map(|(id, _)| *id).collect();
            let comments = loader.comments_by_raw_ids(&raw_ids).await?;
            pulls.failed += comments.failed;
        }
    }
    crate::sources::pull_requests::tables::refresh_flow_metrics(pool, ids, &pull_ids).await?;
    crate::sources::links::link_pulls(pool, ids, &pull_ids).await?;
    let rules = integrations::get(pool, ids.tenant, ids.integration)
        .await?
        .settings
        .delivery;
    let mut deployments = StepReport::default();
    let mut loaded = Vec::new();
    for kind in [kinds::DEPLOYMENT, kinds::RELEASE, kinds::WORKFLOW_RUN] {
        let mut batches = LatestBatches::new(pool, ids, kind);
        while let Some(rows) = batches.next().await? {
            let (report, external_ids) =
                load_deployments(pool, Scope::of(ids), rows, &rules).await?;
            deployments += report;
            loaded.extend(external_ids);
        }
    }
    shipping::ship(pool, ids, &loaded).await?;
    Ok(vec![
        (steps::REPOSITORIES, repositories),
        (steps::PULL_REQUESTS, pulls),
        (steps::DEPLOYMENTS, deployments),
    ])
}
