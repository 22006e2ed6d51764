//! Re-runs transform and load for a Jira integration from its stored raw data, with no API
//! call: the newest stored copy of every entity goes through the same loader a sync uses
//! (for example after a custom-field mapping changed).

use sqlx::PgPool;

use super::load::JiraLoader;
use super::{kinds, steps};
use crate::domain::{IntegrationRef, Scope};
use crate::pipeline::{BackgroundLoad, StepReport};
use crate::store::raw::LatestBatches;
use crate::store::StoreError;

/// Reprocesses everything stored for the integration; returns a report per step.
pub async fn reprocess(
    pool: &PgPool,
    ids: IntegrationRef,
) -> Result<Vec<(&'static str, StepReport)>, StoreError> {
    let loader = JiraLoader {
        pool,
        scope: Scope::of(ids),
    };

    let mut projects = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::PROJECT_PAGE);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            projects += loader.project_page(row.id, &row.raw_data).await?;
        }
    }
    let mut batches = LatestBatches::new(pool, ids, kinds::ISSUE_TYPES);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            loader.issue_types(row.id, &row.raw_data).await?;
        }
    }
    let mut statuses = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::STATUSES);
    while let Some(rows) = batches.next().await? {
        for row in rows {
            statuses += loader.statuses(row.id, &row.raw_data).await?;
        }
    }

    // Three stages side by side: the next batch is read while this one is transformed and
    // the one before is loaded.
    let lookups = loader.issue_lookups().await?;
    let mut loads = BackgroundLoad::new(pool, ids);
    let mut batches = LatestBatches::new(pool, ids, kinds::ISSUE);
    while let Some(rows) = batches.next().await? {
        let batch = loader.with_stored_pages(rows).await?;
        let (rows, report) = loader.transform_issues(&batch, &lookups).await?;
        loads.load(rows, report).await?;
    }
    let issues = loads.finish().await?;

    let mut dev_status = StepReport::default();
    let mut batches = LatestBatches::new(pool, ids, kinds::DEV_STATUS);
    while let Some(rows) = batches.next().await? {
        let batch: Vec<_> = rows
            .into_iter()
            .map(|r| (r.id, r.external_id.unwrap_or_default(), r.raw_data))
            .collect();
        dev_status += loader.dev_status(&batch).await?;
    }
    // Links by the keys pull requests carry (integrations not set to use dev-status).
    dev_status.loaded += crate::sources::links::link_work_items(pool, ids, None).await?;
    Ok(vec![
        (steps::PROJECTS, projects),
        (steps::STATUSES, statuses),
        (steps::ISSUES, issues),
        (steps::DEV_STATUS, dev_status),
    ])
}
