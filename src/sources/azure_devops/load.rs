//! Transform and load of stored raw Azure Boards answers, shared by a sync (right after
//! extraction) and by `reprocess` (from stored raw data, with no API call).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Value};
use sqlx::PgPool;

use super::client::AzureClient;
use super::kinds;
use super::transform::{self, StoredWorkItem};
use crate::domain::workflow::StatusClass;
use crate::domain::{RawId, Scope};
use crate::pipeline::{PipelineError, StepReport};
use crate::sources::work_items::custom_fields;
use crate::sources::work_items::rows::FieldMapping;
use crate::sources::work_items::tables as work_items;
use crate::store::load_batches::LoadRows;
use crate::store::raw::RawRecord;
use crate::store::{raw, StoreError};

/// Transforms and loads for one tenant's integration.
pub struct AzureLoader<'a> {
    pub pool: &'a PgPool,
    /// Whose rows, and the job they are loaded for (none when reprocessing).
    pub scope: Scope,
}

/// What work item transforms read from the database, loaded once per message or step.
pub struct WorkItemLookups {
    statuses: HashMap<String, StatusClass>,
    mapping: FieldMapping,
}

impl AzureLoader<'_> {
    /// Marks a stored entity that failed to transform, saying why in the log.
    pub(super) async fn fail(
        &self,
        raw_id: RawId,
        error: &(dyn std::fmt::Display + Sync),
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        tracing::warn!(tenant_id = self.scope.tenant_id.get(), job_id = self.scope.job_id.map(|id| id.get()), raw_id = raw_id.get(), %error, "Azure DevOps entity failed to transform");
        raw::mark_failed(self.pool, self.scope.tenant_id, raw_id, &error).await
    }

    /// The organization's projects.
    pub async fn projects(&self, raw_id: RawId, answer: &Value) -> Result<u64, StoreError> {
        let rows = transform::projects(answer);
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        work_items::upsert_projects(self.pool, tenant, integration, &rows).await?;
        raw::mark_processed(self.pool, tenant, &[raw_id]).await?;
        Ok(rows.len() as u64)
    }

    /// The work item types of projects (`(project, answer)`): types, their use by each
    /// project, and their states as statuses with default workflow steps and mappings.
    pub async fn work_item_types(
        &self,
        answers: &[(RawId, String, Value)],
    ) -> Result<StepReport, StoreError> {
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        let by_project = answers
            .iter()
            .map(|(_, project, answer)| (project.as_str(), answer));
        let (wits, links, statuses) = transform::work_item_types(by_project);
        work_items::upsert_wits(self.pool, tenant, integration, &wits).await?;
        work_items::link_projects_wits(self.pool, tenant, integration, &links).await?;
        work_items::upsert_statuses(self.pool, tenant, integration, &statuses).await?;
        let ids: Vec<RawId> = answers.iter().map(|(id, _, _)| *id).collect();
        raw::mark_processed(self.pool, tenant, &ids).await?;
        Ok(StepReport::passed_through(
            (wits.len() + statuses.len()) as u64,
        ))
    }

    /// Reads the organization's fields from the source, stores them raw and loads them (see
    /// [`Self::fields`]); returns the custom fields' reference names.
    pub async fn read_fields(&self, client: &AzureClient) -> Result<Vec<String>, PipelineError> {
        let fields = client.fields().await?.body;
        let raw_id = raw::insert_one(
            self.pool,
            self.scope,
            kinds::FIELDS,
            (None, &fields),
            &json!({}),
        )
        .await?;
        Ok(self.fields(raw_id, &fields).await?)
    }

    /// The organization's fields: its custom ones become mappable custom fields. Returns
    /// their reference names.
    pub async fn fields(&self, raw_id: RawId, answer: &Value) -> Result<Vec<String>, StoreError> {
        let rows = transform::custom_fields(answer);
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        custom_fields::upsert(self.pool, tenant, integration, &rows).await?;
        raw::mark_processed(self.pool, tenant, &[raw_id]).await?;
        Ok(rows.into_iter().map(|row| row.external_id).collect())
    }

    /// Status classes and the custom-field mapping, as the work item transform needs them.
    pub async fn lookups(&self) -> Result<WorkItemLookups, StoreError> {
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        Ok(WorkItemLookups {
            statuses: work_items::status_classes(self.pool, tenant, integration).await?,
            mapping: work_items::field_mapping(self.pool, tenant, integration).await?,
        })
    }

    /// Stored work items (each `{workItem, revisions}`) transformed into the work items and
    /// changelogs to load; a malformed one is marked failed on its raw row.
    pub async fn transform_work_items(
        &self,
        rows: &[RawRecord],
        lookups: &WorkItemLookups,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let clock = Instant::now();
        let mut report = StepReport::default();
        let mut items = Vec::with_capacity(rows.len());
        let mut changelogs = Vec::new();
        let mut accounts = Vec::new();
        let mut load = LoadRows::default();
        for row in rows {
            let revisions = row.raw_data["revisions"].as_array();
            let stored = StoredWorkItem {
                work_item: &row.raw_data["workItem"],
                revisions: revisions.map_or(&[], Vec::as_slice),
            };
            match transform::transform_work_item(&stored, &lookups.statuses, &lookups.mapping) {
                Ok((item, transitions)) => {
                    items.push(item);
                    changelogs.extend(transitions);
                    accounts.extend(transform::work_item_accounts(stored.work_item));
                    load.processed([row.id]);
                }
                Err(error) => {
                    self.fail(row.id, &error).await?;
                    report.failed += 1;
                }
            }
        }
        report.extracted = rows.len() as u64;
        report.transformed = items.len() as u64;
        report.loaded = items.len() as u64;
        load.add(&items)?;
        load.add(&changelogs)?;
        load.add(&accounts)?;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// Stored work items by raw id (a message's `raw_data_ids`; `in_hand`: those of them
    /// this process holds as stored) transformed into load work.
    pub async fn transform_by_raw_ids(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        let rows = raw::fetch_missing(self.pool, tenant, integration, ids, in_hand).await?;
        let lookups = self.lookups().await?;
        self.transform_work_items(&rows, &lookups).await
    }
}
