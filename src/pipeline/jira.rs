//! One Jira sync, step by step (DESIGN §5): each answer is stored raw first, then
//! transformed and loaded. A malformed entity fails alone, recorded on its raw row.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::transform::jira_issue::{transform_issue, IssueContext};
use super::transform::jira_meta;
use super::StepReport;
use crate::connectors::http::ConnectorError;
use crate::connectors::jira::JiraClient;
use crate::domain::{Stage, StageState};
use crate::store::raw::{self, Scope};
use crate::store::{jira, jobs, StoreError};

/// How far before the last sync an incremental run starts again, so that changes made
/// while the previous run was reading are not missed (JQL has minute precision).
pub const INCREMENTAL_OVERLAP: Duration = Duration::from_secs(5 * 60);

pub mod steps {
    pub const PROJECTS: &str = "jira_projects_and_issue_types";
    pub const STATUSES: &str = "jira_statuses_and_relationships";
    pub const ISSUES: &str = "jira_issues_with_changelogs";
    pub const DEV_STATUS: &str = "jira_dev_status";
}

/// Raw row kinds this pipeline stores.
pub mod kinds {
    pub const PROJECT_PAGE: &str = "jira_project_search";
    pub const ISSUE_TYPES: &str = "jira_issue_types";
    pub const STATUSES: &str = "jira_statuses";
    pub const ISSUE: &str = "jira_issue";
    pub const CHANGELOG_PAGE: &str = "jira_issue_changelog";
    pub const DEV_STATUS: &str = "jira_dev_status";
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a Jira run works on.
pub struct JiraRun<'a> {
    pub pool: &'a PgPool,
    pub client: JiraClient,
    pub scope: Scope,
    /// Project keys to sync issues of (empty: all).
    pub projects: Vec<String>,
    /// Only issues updated since (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// Mark work items that no longer exist at the source as deleted.
    pub full: bool,
}

/// The JQL for the issues step.
pub fn issues_jql(projects: &[String], since: Option<DateTime<Utc>>) -> String {
    let mut clauses = Vec::new();
    if !projects.is_empty() {
        let quoted: Vec<String> = projects
            .iter()
            .map(|p| format!("\"{}\"", p.replace('"', "")))
            .collect();
        clauses.push(format!("project in ({})", quoted.join(", ")));
    }
    if let Some(since) = since {
        clauses.push(format!("updated >= \"{}\"", since.format("%Y/%m/%d %H:%M")));
    }
    let filter = clauses.join(" AND ");
    format!(
        "{filter}{}ORDER BY updated ASC",
        if filter.is_empty() { "" } else { " " }
    )
}

fn values_empty(page: &Value) -> bool {
    page["values"].as_array().is_none_or(Vec::is_empty)
}

/// Whether an issue's development field says code is linked (so dev status is worth asking).
fn has_linked_code(issue: &Value) -> bool {
    issue["fields"].as_object().is_some_and(|fields| {
        fields.iter().any(|(id, value)| {
            id.starts_with("customfield_")
                && value
                    .as_str()
                    .is_some_and(|text| text.contains("pullrequest="))
        })
    })
}

impl JiraRun<'_> {
    fn ids(&self) -> (i64, i64) {
        (self.scope.tenant_id, self.scope.integration_id)
    }

    async fn stage(&self, step: &str, stage: Stage, state: StageState) -> Result<(), StoreError> {
        match self.scope.job_id {
            Some(job) => {
                jobs::set_stage(self.pool, self.scope.tenant_id, job, step, stage, state).await
            }
            None => Ok(()),
        }
    }

    async fn stages(&self, step: &str, state: StageState) -> Result<(), StoreError> {
        for stage in [Stage::Extraction, Stage::Transform, Stage::Load] {
            self.stage(step, stage, state).await?;
        }
        Ok(())
    }

    /// Projects (with their issue types) and the site's issue types.
    pub async fn projects_and_issue_types(&self) -> Result<StepReport, PipelineError> {
        let (tenant, integration) = self.ids();
        self.stages(steps::PROJECTS, StageState::Running).await?;
        let mut report = StepReport::default();
        let mut start_at = 0;
        loop {
            let page = self.client.projects_page(start_at).await?.body;
            let ids = raw::insert(
                self.pool,
                self.scope,
                kinds::PROJECT_PAGE,
                vec![(None, page.clone())],
                &json!({"startAt": start_at}),
            )
            .await?;
            let (projects, wits, links) = jira_meta::projects(&page);
            report.extracted += projects.len() as u64;
            report.transformed += projects.len() as u64;
            jira::upsert_projects(self.pool, tenant, integration, &projects).await?;
            jira::upsert_wits(self.pool, tenant, integration, &wits).await?;
            jira::link_projects_wits(self.pool, tenant, integration, &links).await?;
            raw::mark_processed(self.pool, tenant, &ids).await?;
            report.loaded += projects.len() as u64;
            let served = page["values"].as_array().map_or(0, Vec::len);
            if page["isLast"] != false || served == 0 {
                break;
            }
            start_at += served;
        }
        let types = self.client.issue_types().await?.body;
        let ids = raw::insert(
            self.pool,
            self.scope,
            kinds::ISSUE_TYPES,
            vec![(None, types.clone())],
            &json!({}),
        )
        .await?;
        jira::upsert_wits(
            self.pool,
            tenant,
            integration,
            &jira_meta::issue_types(&types),
        )
        .await?;
        raw::mark_processed(self.pool, tenant, &ids).await?;
        self.stages(steps::PROJECTS, StageState::Finished).await?;
        Ok(report)
    }

    /// Statuses, with default workflow steps and status mappings.
    pub async fn statuses(&self) -> Result<StepReport, PipelineError> {
        let (tenant, integration) = self.ids();
        self.stages(steps::STATUSES, StageState::Running).await?;
        let statuses = self.client.statuses().await?.body;
        let ids = raw::insert(
            self.pool,
            self.scope,
            kinds::STATUSES,
            vec![(None, statuses.clone())],
            &json!({}),
        )
        .await?;
        let rows = jira_meta::statuses(&statuses);
        jira::upsert_statuses(self.pool, tenant, integration, &rows).await?;
        raw::mark_processed(self.pool, tenant, &ids).await?;
        self.stages(steps::STATUSES, StageState::Finished).await?;
        Ok(StepReport {
            extracted: rows.len() as u64,
            transformed: rows.len() as u64,
            loaded: rows.len() as u64,
            failed: 0,
        })
    }

    /// Every changelog page of an issue whose embedded changelog is partial, stored raw;
    /// returns the full history list, oldest first, and the raw ids of the pages.
    async fn full_changelog(
        &self,
        issue_id: &str,
    ) -> Result<(Vec<Value>, Vec<i64>), PipelineError> {
        let mut histories = Vec::new();
        let mut raw_ids = Vec::new();
        let mut start_at = 0;
        loop {
            let page = self.client.changelog_page(issue_id, start_at).await?.body;
            let entity = vec![(Some(issue_id.to_owned()), page.clone())];
            raw_ids.extend(
                raw::insert(
                    self.pool,
                    self.scope,
                    kinds::CHANGELOG_PAGE,
                    entity,
                    &json!({"startAt": start_at}),
                )
                .await?,
            );
            let values = page["values"].as_array().cloned().unwrap_or_default();
            start_at += values.len();
            histories.extend(values);
            if page["isLast"] != false || values_empty(&page) {
                return Ok((histories, raw_ids));
            }
        }
    }

    /// Issues with full changelogs, transformed and loaded page by page. Returns the report,
    /// the ids of the issues seen, and those with linked code.
    pub async fn issues(
        &self,
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<(StepReport, HashSet<String>, Vec<String>), PipelineError> {
        let (tenant, integration) = self.ids();
        self.stages(steps::ISSUES, StageState::Running).await?;
        let statuses = jira::status_classes(self.pool, tenant, integration).await?;
        let mapping = jira::field_mapping(self.pool, tenant, integration).await?;
        let context = IssueContext {
            statuses: &statuses,
            mapping: &mapping,
        };
        let jql = issues_jql(&self.projects, self.since);
        let mut report = StepReport::default();
        let mut seen = HashSet::new();
        let mut with_code = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.client.search_page(&jql, token.as_deref()).await?.body;
            let issues: Vec<Value> = page["issues"].as_array().cloned().unwrap_or_default();
            let entities = issues
                .iter()
                .map(|i| (i["id"].as_str().map(str::to_owned), i.clone()))
                .collect();
            let raw_ids = raw::insert(
                self.pool,
                self.scope,
                kinds::ISSUE,
                entities,
                &json!({"jql": jql}),
            )
            .await?;
            report.extracted += issues.len() as u64;
            let mut paged: HashMap<String, (Vec<Value>, Vec<i64>)> = HashMap::new();
            for issue in &issues {
                let embedded = issue["changelog"]["histories"]
                    .as_array()
                    .map_or(0, Vec::len) as u64;
                let total = issue["changelog"]["total"].as_u64().unwrap_or(embedded);
                if let (true, Some(id)) = (total > embedded, issue["id"].as_str()) {
                    paged.insert(id.to_owned(), self.full_changelog(id).await?);
                }
            }
            let mut items = Vec::with_capacity(issues.len());
            let mut changelogs = Vec::new();
            let mut done = Vec::with_capacity(issues.len());
            for (raw_id, issue) in raw_ids.iter().zip(&issues) {
                let id = issue["id"].as_str().unwrap_or_default();
                let pages = paged.get(id);
                match transform_issue(
                    issue,
                    pages.map(|(histories, _)| histories.as_slice()),
                    &context,
                ) {
                    Ok((item, rows)) => {
                        seen.insert(item.external_id.clone());
                        if has_linked_code(issue) {
                            with_code.push(item.external_id.clone());
                        }
                        items.push(item);
                        changelogs.extend(rows);
                        done.push(*raw_id);
                        done.extend(
                            pages
                                .iter()
                                .flat_map(|(_, page_ids)| page_ids.iter().copied()),
                        );
                    }
                    Err(error) => {
                        tracing::warn!(tenant_id = tenant, job_id = ?self.scope.job_id, raw_id, %error, "issue failed to transform");
                        raw::mark_failed(self.pool, tenant, *raw_id, &error.to_string()).await?;
                        report.failed += 1;
                    }
                }
            }
            report.transformed += items.len() as u64;
            jira::upsert_work_items(self.pool, tenant, integration, &items).await?;
            jira::upsert_changelogs(self.pool, tenant, integration, &changelogs).await?;
            raw::mark_processed(self.pool, tenant, &done).await?;
            report.loaded += items.len() as u64;
            progress(&report);
            match page["nextPageToken"].as_str() {
                Some(next) if page["isLast"] == false => token = Some(next.to_owned()),
                _ => break,
            }
        }
        if self.full {
            let deleted = jira::mark_missing_deleted(self.pool, tenant, integration, &seen).await?;
            tracing::info!(tenant_id = tenant, job_id = ?self.scope.job_id, deleted, "work items gone from the source marked deleted");
        }
        self.stages(
            steps::ISSUES,
            if report.failed > 0 {
                StageState::Failed
            } else {
                StageState::Finished
            },
        )
        .await?;
        Ok((report, seen, with_code))
    }

    /// Development details of issues with linked code: fetched a batch at a time (the
    /// client bounds concurrency), stored raw, turned into pull-request links and loaded.
    pub async fn dev_status(&self, issue_ids: &[String]) -> Result<StepReport, PipelineError> {
        let (tenant, integration) = self.ids();
        self.stages(steps::DEV_STATUS, StageState::Running).await?;
        let mut report = StepReport::default();
        for batch in issue_ids.chunks(DEV_STATUS_BATCH) {
            let fetched = futures_util::future::try_join_all(
                batch.iter().map(|id| self.client.dev_status(id)),
            )
            .await?;
            let entities: Vec<(Option<String>, Value)> = batch
                .iter()
                .zip(fetched)
                .map(|(id, answer)| (Some(id.clone()), answer.body))
                .collect();
            let links: Vec<_> = entities
                .iter()
                .flat_map(|(id, detail)| {
                    jira_meta::pr_links(id.as_deref().unwrap_or_default(), detail)
                })
                .collect();
            let raw_ids = raw::insert(
                self.pool,
                self.scope,
                kinds::DEV_STATUS,
                entities,
                &json!({}),
            )
            .await?;
            report.extracted += batch.len() as u64;
            report.transformed += links.len() as u64;
            jira::upsert_pr_links(self.pool, tenant, integration, &links).await?;
            raw::mark_processed(self.pool, tenant, &raw_ids).await?;
            report.loaded += links.len() as u64;
        }
        self.stages(steps::DEV_STATUS, StageState::Finished).await?;
        Ok(report)
    }
}

/// Issues whose development details are fetched together.
const DEV_STATUS_BATCH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_for_full_and_incremental_runs() {
        assert_eq!(issues_jql(&[], None), "ORDER BY updated ASC");
        let since = DateTime::parse_from_rfc3339("2025-03-04T05:06:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            issues_jql(&["CORE".into(), "WEB".into()], Some(since)),
            "project in (\"CORE\", \"WEB\") AND updated >= \"2025/03/04 05:06\" ORDER BY updated ASC"
        );
    }

    #[test]
    fn linked_code_is_read_from_the_development_field() {
        assert!(has_linked_code(
            &json!({"fields": {"customfield_10000": "{pullrequest={dataType=pullrequest, state=OPEN}}"}})
        ));
        assert!(!has_linked_code(
            &json!({"fields": {"customfield_10000": "{}"}})
        ));
        assert!(!has_linked_code(
            &json!({"fields": {"summary": "pullrequest="}})
        ));
    }
}
