//! Re-runs transform and load for an Azure DevOps integration from its stored raw data,
//! with no API call: the newest stored copy of every answer, work item and pull request
//! goes through the loader a sync uses, then pull requests get their flow metrics and
//! links again.

use sqlx::PgPool;

use super::kinds;
use super::load::AzureLoader;
use super::pull_load::keys_of;
use super::steps;
use crate::domain::{IntegrationRef, Scope};
use crate::pipeline::{BackgroundLoad, StepReport};
use crate::store::raw::LatestBatches;
use crate::store::StoreError;

/// Reprocesses everything stored for the integration; returns a report per step.
pub async fn reprocess(
    pool: &PgPool,
    ids: IntegrationRef,
) -> Result<Vec<(&'static str, StepReport)>, StoreError> {
    let loader = AzureLoader {
        pool,
        scope: Scope::of(ids),
    };
    let mut projects = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::PROJECTS);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            projects.loaded += loader.projects(row.id, &row.raw_data).await?;
        }
    }
    let mut types = Vec::new();
    let mut batches = LatestBatches::new(pool, ids, kinds::WORK_ITEM_TYPES);
    while let Some(rows) = batches.next().await? {
        types.extend(
            rows.into_iter()
                .map(|row| (row.id, row.external_id.unwrap_or_default(), row.raw_data)),
        );
    }
    projects += loader.work_item_types(&types).await?;
    let mut batches = LatestBatches::new(pool, ids, kinds::FIELDS);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            loader.fields(row.id, &row.raw_data).await?;
        }
    }

    // The next batch is read while this one is transformed and the one before is loaded.
    let lookups = loader.lookups().await?;
    let mut loads = BackgroundLoad::new(pool, ids);
    let mut batches = LatestBatches::new(pool, ids, kinds::WORK_ITEM);
    while let Some(rows) = batches.next().await? {
        let (rows, report) = loader.transform_work_items(&rows, &lookups).await?;
        loads.load(rows, report).await?;
    }
    let work_items = loads.finish().await?;

    let mut pulls = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::REPOSITORIES);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            loader.repositories(row.id, &row.raw_data).await?;
        }
    }
    let mut keys = Vec::new();
    let mut loads = BackgroundLoad::new(pool, ids);
    let mut batches = LatestBatches::new(pool, ids, kinds::PULL_REQUEST);
    while let Some(rows) = batches.next().await? {
        keys.extend(rows.iter().filter_map(keys_of));
        let (rows, report) = loader.transform_pulls(&rows).await?;
        loads.load(rows, report).await?;
    }
    pulls += loads.finish().await?;
    loader.finish_pulls(&keys).await?;
    Ok(vec![
        (steps::PROJECTS, projects),
        (steps::WORK_ITEMS, work_items),
        (steps::PULL_REQUESTS, pulls),
    ])
}
