//! Transform and load of stored raw Azure Repos answers, shared by a sync and by
//! `reprocess`: repositories, pull requests with everything read with them, and afterwards
//! their flow metrics and links to the work items they name.

use std::time::Instant;

use serde_json::Value;

use super::load::AzureLoader;
use super::pull_transform::{self, work_item_keys};
use crate::domain::RawId;
use crate::pipeline::StepReport;
use crate::sources::links;
use crate::sources::pull_requests::rows::PullBatch;
use crate::sources::pull_requests::tables as pull_tables;
use crate::store::load_batches::LoadRows;
use crate::store::raw::RawRecord;
use crate::store::{raw, StoreError};

impl AzureLoader<'_> {
    /// A project's repositories (`git/repositories`, stored raw as `raw_id`).
    pub async fn repositories(&self, raw_id: RawId, answer: &Value) -> Result<u64, StoreError> {
        let rows: Vec<_> = answer["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(pull_transform::repository)
            .collect();
        let mut load = LoadRows::default();
        load.add(&rows)?;
        load.processed([raw_id]);
        load.load(self.pool, self.scope.integration()).await?;
        Ok(rows.len() as u64)
    }

    /// Stored pull requests (each `{pullRequest, threads}`) transformed into the rows to
    /// load; a malformed one is marked failed on its raw row.
    pub async fn transform_pulls(
        &self,
        rows: &[RawRecord],
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let clock = Instant::now();
        let mut report = StepReport::default();
        let mut load = LoadRows::default();
        let mut batch = PullBatch::default();
        for row in rows {
            match pull_transform::pull_rows(&row.raw_data) {
                Ok(parts) => {
                    batch.push(parts);
                    load.processed([row.id]);
                }
                Err(error) => {
                    self.fail(row.id, &error).await?;
                    report.failed += 1;
                }
            }
        }
        let pulls = batch.add_to(&mut load)?;
        report.extracted = rows.len() as u64;
        report.transformed = pulls;
        report.loaded = pulls;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// Stored pull requests by raw id (`in_hand`: those this process holds as stored)
    /// transformed into load work.
    pub async fn transform_pulls_by_raw_ids(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        let rows = raw::fetch_missing(self.pool, tenant, integration, ids, in_hand).await?;
        self.transform_pulls(&rows).await
    }

    /// After loaded pull requests: their flow metrics, and their links to the work items
    /// they name (`keys`: external id and work item ids, from [`work_item_keys`]). Returns
    /// the links written, refreshed or dropped.
    pub async fn finish_pulls(&self, keys: &[(String, Vec<String>)]) -> Result<u64, StoreError> {
        let integration = self.scope.integration();
        let pulls: Vec<String> = keys.iter().map(|(id, _)| id.clone()).collect();
        pull_tables::refresh_flow_metrics(self.pool, integration, &pulls).await?;
        links::link_pulls_by_keys(self.pool, integration, keys).await
    }
}

/// A stored pull request's external id and the work items it names.
pub fn keys_of(row: &RawRecord) -> Option<(String, Vec<String>)> {
    Some((row.external_id.clone()?, work_item_keys(&row.raw_data)))
}
