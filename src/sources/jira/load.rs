//! Transform and load of stored raw Jira entities, shared by a sync (right after
//! extraction) and by `reprocess` (from stored raw data, with no API call).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;
use sqlx::PgPool;

use super::kinds;
use super::tables as jira;
use super::transform::issue::{transform_issue, FieldMapping, IssueContext};
use super::transform::meta as jira_meta;
use crate::domain::workflow::StatusClass;
use crate::domain::{RawId, Scope};
use crate::pipeline::StepReport;
use crate::store::load_batches::LoadRows;
use crate::store::raw::RawRecord;
use crate::store::{raw, StoreError};

/// An issue as stored raw, with its separately paged changelog when it had one.
pub struct RawIssue {
    pub raw_id: RawId,
    pub issue: Value,
    /// Full history list and the raw ids of its pages.
    pub pages: Option<(Vec<Value>, Vec<RawId>)>,
}

/// Transforms and loads for one tenant's integration.
pub struct JiraLoader<'a> {
    pub pool: &'a PgPool,
    /// Whose rows, and the job they are loaded for (none when reprocessing).
    pub scope: Scope,
}

/// What issue transforms read from the database, loaded once per step.
pub struct IssueLookups {
    statuses: HashMap<String, StatusClass>,
    mapping: FieldMapping,
}

/// The summary text of an issue's development field when it says code is linked (so dev
/// status is worth asking); it changes whenever the linked pull requests do.
pub fn development_summary(issue: &Value) -> Option<&str> {
    issue["fields"].as_object()?.iter().find_map(|(id, value)| {
        let text = value.as_str()?;
        (id.starts_with("customfield_") && text.contains("pullrequest=")).then_some(text)
    })
}

impl JiraLoader<'_> {
    /// One `/project/search` page: projects, their issue types and the links between them.
    pub async fn project_page(
        &self,
        raw_id: RawId,
        page: &Value,
    ) -> Result<StepReport, StoreError> {
        let (projects, wits, links) = jira_meta::projects(page);
        jira::upsert_projects(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &projects,
        )
        .await?;
        jira::upsert_wits(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &wits,
        )
        .await?;
        jira::link_projects_wits(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &links,
        )
        .await?;
        raw::mark_processed(self.pool, self.scope.tenant_id, &[raw_id]).await?;
        Ok(StepReport::passed_through(projects.len() as u64))
    }

    /// The site's `/issuetype` list.
    pub async fn issue_types(&self, raw_id: RawId, types: &Value) -> Result<u64, StoreError> {
        let rows = jira_meta::issue_types(types);
        jira::upsert_wits(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &rows,
        )
        .await?;
        raw::mark_processed(self.pool, self.scope.tenant_id, &[raw_id]).await?;
        Ok(rows.len() as u64)
    }

    /// The `/status` list, with default workflow steps and mappings.
    pub async fn statuses(
        &self,
        raw_id: RawId,
        statuses: &Value,
    ) -> Result<StepReport, StoreError> {
        let rows = jira_meta::statuses(statuses);
        jira::upsert_statuses(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &rows,
        )
        .await?;
        raw::mark_processed(self.pool, self.scope.tenant_id, &[raw_id]).await?;
        Ok(StepReport::passed_through(rows.len() as u64))
    }

    /// Status classes and the custom-field mapping, as the issue transform needs them.
    pub async fn issue_lookups(&self) -> Result<IssueLookups, StoreError> {
        Ok(IssueLookups {
            statuses: jira::status_classes(
                self.pool,
                self.scope.tenant_id,
                self.scope.integration_id,
            )
            .await?,
            mapping: jira::field_mapping(
                self.pool,
                self.scope.tenant_id,
                self.scope.integration_id,
            )
            .await?,
        })
    }

    /// A batch of issues: transformed, then work items and changelogs loaded; a malformed
    /// issue is marked failed on its raw row and the rest of the batch goes on.
    pub async fn issues(
        &self,
        batch: &[RawIssue],
        lookups: &IssueLookups,
    ) -> Result<StepReport, StoreError> {
        let (rows, report) = self.transform_issues(batch, lookups).await?;
        let ids = self.scope.integration();
        crate::pipeline::load_here(self.pool, ids, rows, report).await
    }

    /// A batch of issues transformed into the work items and changelogs to load (the report
    /// counts them as loaded); a malformed issue is marked failed on its raw row.
    pub async fn transform_issues(
        &self,
        batch: &[RawIssue],
        lookups: &IssueLookups,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let context = IssueContext {
            statuses: &lookups.statuses,
            mapping: &lookups.mapping,
        };
        let mut report = StepReport::default();
        let clock = Instant::now();
        let mut items = Vec::with_capacity(batch.len());
        let mut changelogs = Vec::new();
        let mut load = LoadRows::default();
        for entry in batch {
            let histories = entry
                .pages
                .as_ref()
                .map(|(histories, _)| histories.as_slice());
            match transform_issue(&entry.issue, histories, &context) {
                Ok((item, rows)) => {
                    items.push(item);
                    changelogs.extend(rows);
                    load.processed([entry.raw_id]);
                    load.processed(entry.pages.iter().flat_map(|(_, ids)| ids.iter().copied()));
                }
                Err(error) => {
                    tracing::warn!(tenant_id = self.scope.tenant_id.get(), job_id = self.scope.job_id.map(|id| id.get()), raw_id = entry.raw_id.get(), %error, "issue failed to transform");
                    raw::mark_failed(
                        self.pool,
                        self.scope.tenant_id,
                        entry.raw_id,
                        &error.to_string(),
                    )
                    .await?;
                    report.failed += 1;
                }
            }
        }
        report.extracted = batch.len() as u64;
        report.transformed = items.len() as u64;
        report.loaded = items.len() as u64;
        load.add(&items)?;
        load.add(&changelogs)?;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// A stored raw issue, with its stored changelog pages when the embedded changelog was
    /// partial (newest copy of each page).
    pub async fn with_stored_pages(&self, row: RawRecord) -> Result<RawIssue, StoreError> {
        let embedded = row.raw_data["changelog"]["histories"]
            .as_array()
            .map_or(0, Vec::len) as u64;
        let total = row.raw_data["changelog"]["total"]
            .as_u64()
            .unwrap_or(embedded);
        let pages = match (total > embedded, row.external_id.as_deref()) {
            (true, Some(issue_id)) => {
                let ids = self.scope.integration();
                let stored =
                    raw::latest_pages(self.pool, ids, kinds::CHANGELOG_PAGE, issue_id).await?;
                let page_ids = stored.iter().map(|p| p.id).collect();
                // Pages of `/issue/{id}/changelog` hold `values`; bulk fetch entries hold
                // `changeHistories`.
                let histories = stored
                    .into_iter()
                    .flat_map(|p| {
                        let page = &p.raw_data;
                        page["values"]
                            .as_array()
                            .or(page["changeHistories"].as_array())
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect();
                Some((histories, page_ids))
            }
            _ => None,
        };
        Ok(RawIssue {
            raw_id: row.id,
            issue: row.raw_data,
            pages,
        })
    }

    /// Stored raw issues by id (a message's `raw_data_ids`) transformed into load work.
    pub async fn transform_issues_by_raw_ids(
        &self,
        ids: &[RawId],
        lookups: &IssueLookups,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let mut batch = Vec::with_capacity(ids.len());
        for row in raw::fetch(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            ids,
        )
        .await?
        {
            batch.push(self.with_stored_pages(row).await?);
        }
        self.transform_issues(&batch, lookups).await
    }

    /// Development details `(raw id, issue id, detail)` to pull-request links.
    pub async fn dev_status(
        &self,
        batch: &[(RawId, String, Value)],
    ) -> Result<StepReport, StoreError> {
        let links: Vec<_> = batch
            .iter()
            .flat_map(|(_, issue, detail)| jira_meta::pr_links(issue, detail))
            .collect();
        jira::upsert_pr_links(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            &links,
        )
        .await?;
        let ids: Vec<RawId> = batch.iter().map(|(id, _, _)| *id).collect();
        raw::mark_processed(self.pool, self.scope.tenant_id, &ids).await?;
        Ok(StepReport {
            extracted: batch.len() as u64,
            ..StepReport::passed_through(links.len() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn linked_code_is_read_from_the_development_field() {
        let linked = "{pullrequest={dataType=pullrequest, state=OPEN}}";
        assert_eq!(
            development_summary(&json!({"fields": {"customfield_10000": linked}})),
            Some(linked)
        );
        assert!(development_summary(&json!({"fields": {"customfield_10000": "{}"}})).is_none());
        assert!(development_summary(&json!({"fields": {"summary": "pullrequest="}})).is_none());
    }
}
