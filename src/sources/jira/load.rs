//! Transform and load of stored raw Jira entities, shared by a sync (right after
//! extraction) and by `reprocess` (from stored raw data, with no API call).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;
use sqlx::PgPool;

use super::kinds;
use super::transform::issue::{issue_accounts, transform_issue, IssueContext};
use super::transform::meta as jira_meta;
use crate::domain::workflow::StatusClass;
use crate::domain::{RawId, Scope};
use crate::pipeline::StepReport;
use crate::sources::work_items::rows::FieldMapping;
use crate::sources::work_items::tables as jira;
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

/// Whether the issue's embedded changelog holds fewer histories than it has (the rest was
/// read and stored apart).
pub fn changelog_is_partial(issue: &Value) -> bool {
    let embedded = issue["changelog"]["histories"]
        .as_array()
        .map_or(0, Vec::len) as u64;
    let total = issue["changelog"]["total"].as_u64().unwrap_or(embedded);
    total > embedded
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
        let mut accounts = Vec::new();
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
                    accounts.extend(issue_accounts(&entry.issue));
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
        load.add(&accounts)?;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// Stored raw issues, each with its stored changelog pages when its embedded changelog
    /// was partial (the newest copy of each page); the pages of the whole batch are read
    /// in one query.
    pub async fn with_stored_pages(
        &self,
        rows: Vec<RawRecord>,
    ) -> Result<Vec<RawIssue>, StoreError> {
        let partial: Vec<String> = rows
            .iter()
            .filter(|row| changelog_is_partial(&row.raw_data))
            .filter_map(|row| row.external_id.clone())
            .collect();
        let mut pages: HashMap<String, (Vec<Value>, Vec<RawId>)> = HashMap::new();
        if !partial.is_empty() {
            let ids = self.scope.integration();
            for mut page in
                raw::latest_pages_of(self.pool, ids, kinds::CHANGELOG_PAGE, &partial).await?
            {
                let Some(issue_id) = page.external_id.take() else {
                    continue;
                };
                let (histories, page_ids) = pages.entry(issue_id).or_default();
                page_ids.push(page.id);
                // Pages of `/issue/{id}/changelog` hold `values`; bulk fetch entries hold
                // `changeHistories`.
                let body = &mut page.raw_data;
                if let Value::Array(found) = match body.get("values") {
                    Some(_) => body["values"].take(),
                    None => body["changeHistories"].take(),
                } {
                    histories.extend(found);
                }
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let pages = match row.external_id.as_deref() {
                    Some(issue_id) if changelog_is_partial(&row.raw_data) => {
                        Some(pages.get(issue_id).cloned().unwrap_or_default())
                    }
                    _ => None,
                };
                RawIssue {
                    raw_id: row.id,
                    issue: row.raw_data,
                    pages,
                }
            })
            .collect())
    }

    /// Stored raw issues by id (a message's `raw_data_ids`; `in_hand`: those of them this
    /// process holds as stored) transformed into load work.
    pub async fn transform_issues_by_raw_ids(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
        lookups: &IssueLookups,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let rows = raw::fetch_missing(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            ids,
            in_hand,
        )
        .await?;
        let batch = self.with_stored_pages(rows).await?;
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
