//! One Jira sync, step by step (projects and issue types, statuses, issues with their
//! changelogs, development status): each answer is stored raw first, then transformed and
//! loaded. A malformed entity fails alone, recorded on its raw row.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::client::{JiraClient, BULK_CHANGELOG_ISSUES};
use super::dev_status_due;
use super::load::{changelog_is_partial, development_summary, JiraLoader};
use super::{kinds, steps};
use crate::domain::{Provider, RawId, Scope, StageState};
use crate::pipeline::handoff::Handoff;
use crate::pipeline::handoff::StagePublisher;
use crate::pipeline::{stage_message, Outbox, PipelineError, StepReport};
use crate::sources::links;
use crate::sources::work_items::tables as jira;
use crate::store::raw::{self, RawEntity};
use crate::store::StoreError;

/// Issues the search returned.
#[derive(Debug, Default)]
struct IssuesFound {
    /// External ids of every issue the source has (for a full run's deletions).
    seen: HashSet<String>,
    /// Those whose development panel must be read (dev-status integrations: code linked
    /// and the development summary changed since it was last read).
    with_code: Vec<String>,
}

/// What the issues step did.
#[derive(Debug)]
pub struct IssuesSynced {
    pub report: StepReport,
    /// Issues whose development field says code is linked (for the dev-status step).
    pub with_code: Vec<String>,
}

/// What a Jira run works on.
pub struct JiraRun<'a> {
    pub pool: &'a PgPool,
    /// Where issue pages go to be transformed.
    pub handoff: Handoff<'a>,
    pub client: JiraClient,
    pub scope: Scope,
    /// Project keys to sync issues of (empty: all).
    pub projects: Vec<String>,
    /// Only issues updated since (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// The account's time zone: Jira reads JQL dates in it.
    pub timezone: Tz,
    /// Mark work items that no longer exist at the source as deleted.
    pub full: bool,
    /// Link pull requests through the development panel (one call per issue with code)
    /// instead of by the keys pull requests carry.
    pub dev_status: bool,
    /// The incident rule's JQL, when the integration sets one.
    pub incident_jql: Option<String>,
}

/// The JQL for the issues step; `since` is written in the account's time zone, since Jira
/// reads JQL dates in it (written in UTC, a cursor is off by the zone's offset and an
/// account west of UTC would miss changes).
pub fn issues_jql(projects: &[String], since: Option<DateTime<Utc>>, zone: Tz) -> String {
    let updated = since.map(|since| {
        format!(
            "updated >= \"{}\"",
            since.with_timezone(&zone).format("%Y/%m/%d %H:%M")
        )
    });
    ordered_jql([project_clause(projects), updated].into_iter().flatten())
}

/// The JQL clause keeping to `projects` (none: every project).
pub fn project_clause(projects: &[String]) -> Option<String> {
    if projects.is_empty() {
        return None;
    }
    let quoted: Vec<String> = projects
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "")))
        .collect();
    Some(format!("project in ({})", quoted.join(", ")))
}

/// `clauses` joined with AND, oldest update first.
pub fn ordered_jql(clauses: impl IntoIterator<Item = String>) -> String {
    let filter = clauses.into_iter().collect::<Vec<_>>().join(" AND ");
    format!(
        "{filter}{}ORDER BY updated ASC",
        if filter.is_empty() { "" } else { " " }
    )
}

fn page_is_last(page: &Value, key: &str) -> bool {
    page["isLast"] != false || page[key].as_array().is_none_or(Vec::is_empty)
}

/// Issues whose development details are fetched together.
const DEV_STATUS_BATCH: usize = 100;

/// Searches of one run read side by side (each one page at a time): latency-bound reads
/// overlap, within the client's concurrency and rate limit.
const PARTITIONS_AT_ONCE: usize = 4;

impl JiraRun<'_> {
    fn loader(&self) -> JiraLoader<'_> {
        JiraLoader {
            pool: self.pool,
            scope: self.scope,
        }
    }

    async fn stages(&self, step: &str, state: StageState) -> Result<(), StoreError> {
        crate::pipeline::set_step_state(self.pool, self.scope, step, state).await
    }

    /// Stores one answer raw; returns its raw id.
    async fn store(
        &self,
        kind: &str,
        external_id: Option<String>,
        body: &Value,
        metadata: Value,
    ) -> Result<RawId, StoreError> {
        raw::insert_one(self.pool, self.scope, kind, (external_id, body), &metadata).await
    }

    /// Projects (with their issue types) and the site's issue types.
    pub async fn projects_and_issue_types(&self) -> Result<StepReport, PipelineError> {
        self.stages(steps::PROJECTS, StageState::Running).await?;
        let mut report = StepReport::default();
        let mut start_at = 0;
        loop {
            let page = self.client.projects_page(start_at).await?.body;
            let raw_id = self
                .store(
                    kinds::PROJECT_PAGE,
                    None,
                    &page,
                    json!({"startAt": start_at}),
                )
                .await?;
            report += self.loader().project_page(raw_id, &page).await?;
            if page_is_last(&page, "values") {
                break;
            }
            start_at += page["values"].as_array().map_or(0, Vec::len);
        }
        let types = self.client.issue_types().await?.body;
        let raw_id = self
            .store(kinds::ISSUE_TYPES, None, &types, json!({}))
            .await?;
        self.loader().issue_types(raw_id, &types).await?;
        self.stages(steps::PROJECTS, StageState::Finished).await?;
        Ok(report)
    }

    /// Statuses, with default workflow steps and status mappings.
    pub async fn statuses(&self) -> Result<StepReport, PipelineError> {
        self.stages(steps::STATUSES, StageState::Running).await?;
        let statuses = self.client.statuses().await?.body;
        let raw_id = self
            .store(kinds::STATUSES, None, &statuses, json!({}))
            .await?;
        let report = self.loader().statuses(raw_id, &statuses).await?;
        self.stages(steps::STATUSES, StageState::Finished).await?;
        Ok(report)
    }

    /// Fetches the full changelogs of issues whose embedded changelog is partial with the
    /// bulk changelog call (up to a thousand issues per call, instead of paging each issue)
    /// and returns each issue's histories as one raw row to store with the issues,
    /// `{issueId, changeHistories}` as the answers gave them (an issue split across answers
    /// is joined); the transform reads them back with the issue.
    async fn full_changelogs(&self, issue_ids: &[String]) -> Result<Vec<RawEntity>, PipelineError> {
        let mut pages = Vec::new();
        for ids in issue_ids.chunks(BULK_CHANGELOG_ISSUES) {
            let mut histories: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            let mut next: Option<String> = None;
            loop {
                let mut answer = self.client.changelog_bulk(ids, next.as_deref()).await?.body;
                if let Value::Array(logs) = answer["issueChangeLogs"].take() {
                    for mut log in logs {
                        let Some(id) = log["issueId"].as_str().map(str::to_owned) else {
                            continue;
                        };
                        if let Value::Array(found) = log["changeHistories"].take() {
                            histories.entry(id).or_default().extend(found);
                        }
                    }
                }
                next = answer["nextPageToken"].as_str().map(str::to_owned);
                if next.is_none() {
                    break;
                }
            }
            for (id, found) in histories {
                let entry = json!({"issueId": id, "changeHistories": found});
                let metadata = json!({"startAt": 0, "last": true, "bulk": true});
                pages.push((Some(id), entry, metadata));
            }
        }
        Ok(pages)
    }

    /// Extract side of the issues step: each partition's search walked page by page (each
    /// page stored and published while the next is fetched), up to
    /// [`PARTITIONS_AT_ONCE`] partitions side by side. Returns the extract report and what
    /// the source has.
    async fn extract_issues(
        &self,
        partitions: &[String],
        publisher: StagePublisher,
    ) -> Result<(StepReport, IssuesFound), PipelineError> {
        let clock = Instant::now();
        let outbox = tokio::sync::Mutex::new(Outbox::new(publisher));
        // The futures are made first (a stream mapping a closure would not be `Send`).
        let reads: Vec<_> = partitions
            .iter()
            .map(|jql| self.extract_partition(jql, &outbox))
            .collect();
        let read: Vec<(u64, IssuesFound)> = futures_util::stream::iter(reads)
            .buffer_unordered(PARTITIONS_AT_ONCE)
            .try_collect()
            .await?;
        outbox.into_inner().finish().await?;
        let mut report = StepReport::default();
        let mut found = IssuesFound::default();
        for (extracted, part) in read {
            report.extracted += extracted;
            found.seen.extend(part.seen);
            found.with_code.extend(part.with_code);
        }
        report.extract_seconds = clock.elapsed().as_secs_f64();
        Ok((report, found))
    }

    /// One partition's search, page by page; returns how many issues it held and what they
    /// were.
    async fn extract_partition(
        &self,
        jql: &str,
        outbox: &tokio::sync::Mutex<Outbox>,
    ) -> Result<(u64, IssuesFound), PipelineError> {
        let mut extracted = 0;
        let mut found = IssuesFound::default();
        let mut page = self.client.search_page(jql, None).await?.body;
        loop {
            let next = match page["nextPageToken"].as_str() {
                Some(next) if page["isLast"] == false => Some(next.to_owned()),
                _ => None,
            };
            // Store this page while the source prepares the next one.
            let store = self.store_issue_page(jql, page, outbox, &mut found);
            let fetch = async {
                match &next {
                    Some(token) => Ok(Some(self.client.search_page(jql, Some(token)).await?.body)),
                    None => Ok(None),
                }
            };
            let (stored, fetched) = tokio::try_join!(store, fetch)?;
            extracted += stored;
            match fetched {
                Some(fetched) => page = fetched,
                None => break,
            }
        }
        Ok((extracted, found))
    }

    /// One search page's issues (and the full changelog of those whose embedded one is
    /// partial) stored raw, then their raw ids published as transform work; returns how
    /// many issues it held.
    async fn store_issue_page(
        &self,
        jql: &str,
        mut page: Value,
        outbox: &tokio::sync::Mutex<Outbox>,
        found: &mut IssuesFound,
    ) -> Result<u64, PipelineError> {
        let issues = match page["issues"].take() {
            Value::Array(issues) => issues,
            _ => Vec::new(),
        };
        if issues.is_empty() {
            return Ok(0);
        }
        let mut partial = Vec::new();
        let mut with_code = Vec::new();
        for issue in &issues {
            let Some(id) = issue["id"].as_str() else {
                continue;
            };
            found.seen.insert(id.to_owned());
            if let Some(summary) = development_summary(issue) {
                with_code.push((id.to_owned(), summary.to_owned()));
            }
            if changelog_is_partial(issue) {
                partial.push(id.to_owned());
            }
        }
        let changelogs = self.full_changelogs(&partial).await?;
        if self.dev_status {
            // Only issues whose development summary changed need their panel read again.
            let current =
                dev_status_due::current(self.pool, self.scope.integration(), &with_code).await?;
            found.with_code.extend(
                with_code
                    .into_iter()
                    .map(|(id, _)| id)
                    .filter(|id| !current.contains(id)),
            );
        }
        let count = issues.len() as u64;
        let entities = issues
            .into_iter()
            .map(|issue| (issue["id"].as_str().map(str::to_owned), issue))
            .collect();
        let entities = raw::with_metadata(entities, &json!({"jql": jql}));
        // One transaction: a changelog stored without its issue would stay pending, never
        // processed (the issue read again later reads its own newer changelog).
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        raw::insert_each(
            &mut *transaction,
            self.scope,
            kinds::CHANGELOG_PAGE,
            changelogs,
        )
        .await?;
        let stored =
            raw::insert_returning(&mut *transaction, self.scope, kinds::ISSUE, entities).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        let message = stage_message(
            self.scope,
            (Provider::Jira, kinds::ISSUE),
            self.since,
            raw::ids_of(&stored),
        );
        outbox.lock().await.push_stored(message, stored).await?;
        Ok(count)
    }

    /// The searches a run reads, disjoint and together covering what [`issues_jql`] finds:
    /// a run that reads everything (the first, or `--full`) reads each project apart, side
    /// by side (with one more search for issues of any project not listed, so nothing a
    /// single search would find is missed); an incremental run, which reads little, uses
    /// the one search.
    async fn partitions(&self) -> Result<Vec<String>, StoreError> {
        let single = || vec![issues_jql(&self.projects, self.since, self.timezone)];
        if self.since.is_some() {
            return Ok(single());
        }
        if !self.projects.is_empty() {
            return Ok(self
                .projects
                .iter()
                .map(|project| issues_jql(std::slice::from_ref(project), None, self.timezone))
                .collect());
        }
        let keys =
            jira::project_keys(self.pool, self.scope.tenant_id, self.scope.integration_id).await?;
        if keys.len() < 2 {
            return Ok(single());
        }
        let mut partitions: Vec<String> = keys
            .iter()
            .map(|key| issues_jql(std::slice::from_ref(key), None, self.timezone))
            .collect();
        let others = project_clause(&keys).map(|clause| clause.replacen(" in ", " not in ", 1));
        partitions.push(ordered_jql(others));
        Ok(partitions)
    }

    /// Issues with full changelogs: extraction hands each stored page to the transform
    /// stage (in this process or on workers) as it goes.
    pub async fn issues(
        &self,
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<IssuesSynced, PipelineError> {
        let partitions = self.partitions().await?;
        self.issues_matching(&partitions, progress).await
    }

    /// The issues step over the issues the searches of `partitions` find.
    pub async fn issues_matching(
        &self,
        partitions: &[String],
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<IssuesSynced, PipelineError> {
        let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
        self.stages(steps::ISSUES, StageState::Running).await?;
        let ((extracted, found), mut report) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kinds::ISSUE],
                async |publisher| {
                    let extracted = self.extract_issues(partitions, publisher).await?;
                    crate::pipeline::set_extracted(self.pool, self.scope, steps::ISSUES).await?;
                    Ok(extracted)
                },
                progress,
            )
            .await?;
        report.extracted = extracted.extracted;
        report.extract_seconds = extracted.extract_seconds;
        if self.full {
            let deleted =
                jira::mark_missing_deleted(self.pool, tenant, integration, &found.seen).await?;
            tracing::info!(deleted, "work items gone from the source marked deleted");
        }
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            StageState::Finished
        };
        self.stages(steps::ISSUES, state).await?;
        Ok(IssuesSynced {
            report,
            with_code: found.with_code,
        })
    }

    /// Development details of issues with linked code: fetched a batch at a time (the
    /// client bounds concurrency), stored raw, turned into pull-request links and loaded.
    ///
    /// Unless the integration is set to use the development panel, the step instead links
    /// the work items to loaded pull requests that name their keys: no call at all.
    pub async fn dev_status(&self, issue_ids: &[String]) -> Result<StepReport, PipelineError> {
        self.stages(steps::DEV_STATUS, StageState::Running).await?;
        if !self.dev_status {
            let clock = Instant::now();
            let linked =
                links::link_work_items(self.pool, self.scope.integration(), self.since).await?;
            let mut report = StepReport::passed_through(linked);
            report.load_seconds = clock.elapsed().as_secs_f64();
            self.stages(steps::DEV_STATUS, StageState::Finished).await?;
            return Ok(report);
        }
        let mut report = StepReport::default();
        for ids in issue_ids.chunks(DEV_STATUS_BATCH) {
            let clock = Instant::now();
            let fetched =
                futures_util::future::try_join_all(ids.iter().map(|id| self.client.dev_status(id)))
                    .await?;
            let entities: Vec<(Option<String>, Value)> = ids
                .iter()
                .zip(&fetched)
                .map(|(id, answer)| (Some(id.clone()), answer.body.clone()))
                .collect();
            let raw_ids = raw::insert(
                self.pool,
                self.scope,
                kinds::DEV_STATUS,
                entities,
                &json!({}),
            )
            .await?;
            let batch: Vec<(RawId, String, Value)> = raw_ids
                .into_iter()
                .zip(ids)
                .zip(fetched)
                .map(|((raw_id, id), answer)| (raw_id, id.clone(), answer.body))
                .collect();
            report.extract_seconds += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            report += self.loader().dev_status(&batch).await?;
            report.load_seconds += clock.elapsed().as_secs_f64();
        }
        self.stages(steps::DEV_STATUS, StageState::Finished).await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_for_full_and_incremental_runs() {
        assert_eq!(issues_jql(&[], None, Tz::UTC), "ORDER BY updated ASC");
        let since = DateTime::parse_from_rfc3339("2025-03-04T05:06:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            issues_jql(&["CORE".into(), "WEB".into()], Some(since), Tz::UTC),
            "project in (\"CORE\", \"WEB\") AND updated >= \"2025/03/04 05:06\" ORDER BY updated ASC"
        );
        assert_eq!(
            issues_jql(&[], Some(since), Tz::Asia__Shanghai),
            "updated >= \"2025/03/04 13:06\" ORDER BY updated ASC"
        );
    }
}
