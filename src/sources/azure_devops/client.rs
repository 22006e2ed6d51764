//! Azure DevOps Services REST calls (api-version 7.1) for Boards (projects, work item types
//! with their states, fields, WIQL, the work items batch and the reporting revisions stream)
//! and Repos (repositories, pull requests, a pull request with its commits and work item
//! references, its threads).
//! Answers are returned as the API sent them: storing and interpreting them is the
//! pipeline's job.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::connectors::http::{ConnectorError, Fetched, HttpClient};

const API_VERSION: &str = "7.1";
/// The reporting stream is still a preview API in 7.1.
const REPORTING_API_VERSION: &str = "7.1-preview.2";
/// The most ids one work items batch may name.
pub const BATCH_IDS: usize = 200;
/// The most work items one WIQL query answers (larger results are refused): id ranges are
/// read one such slice at a time.
pub const WIQL_LIMIT: usize = 20_000;
/// Revisions asked for per reporting stream answer.
const REVISIONS_PAGE: usize = 1_000;
/// Pull requests asked for per listing answer.
pub const PULLS_PAGE: usize = 1_000;
/// Commits asked for with a pull request (Azure sends 100 unless asked for more).
const PULL_COMMITS: usize = 1_000;

/// The work item fields read: everything the transform uses, custom fields included.
pub const WORK_ITEM_FIELDS: &[&str] = &[
    "System.Id",
    "System.Rev",
    "System.TeamProject",
    "System.WorkItemType",
    "System.State",
    "System.BoardColumn",
    "System.Title",
    "System.Description",
    "System.AssignedTo",
    "System.CreatedBy",
    "System.CreatedDate",
    "System.ChangedDate",
    "System.Tags",
    "System.Parent",
    "Microsoft.VSTS.Common.Priority",
    "Microsoft.VSTS.Common.ClosedDate",
    "Microsoft.VSTS.Scheduling.StoryPoints",
];

/// The revision fields the status history needs.
pub const REVISION_FIELDS: &[&str] = &[
    "System.Id",
    "System.Rev",
    "System.State",
    "System.BoardColumn",
    "System.ChangedDate",
    "System.ChangedBy",
];

/// The class of an Azure DevOps request path (the metrics' `endpoint` label).
pub fn endpoint_classes(segments: &[&str]) -> &'static str {
    match segments.last().copied().unwrap_or_default() {
        "projects" => "projects",
        "workitemtypes" => "work_item_types",
        "fields" => "fields",
        "wiql" => "wiql",
        "workitemsbatch" => "work_items",
        "workitemrevisions" => "revisions_stream",
        "revisions" => "revisions",
        "repositories" => "repositories",
        "pullrequests" => "pull_requests",
        "threads" => "pull_request_threads",
        id if id.parse::<u64>().is_ok() && segments.contains(&"pullrequests") => "pull_request",
        _ => "other",
    }
}

#[derive(Clone)]
pub struct AzureClient {
    http: HttpClient,
    /// `https://dev.azure.com/{organization}`.
    organization_url: String,
}

/// Where a call is scoped: the whole organization, or one project.
#[derive(Debug, Clone, Copy)]
pub enum Within<'a> {
    Organization,
    Project(&'a str),
}

impl AzureClient {
    pub fn new(http: HttpClient, organization_url: &str) -> Self {
        AzureClient {
            http,
            organization_url: organization_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `{organization}[/{project}]/_apis/{path}`, the project name escaped as a path
    /// segment.
    fn url(&self, within: Within<'_>, path: &str) -> String {
        let project = match within {
            Within::Organization => None,
            Within::Project(project) => Some(project),
        };
        let mut url = match url::Url::parse(&self.organization_url) {
            Ok(url) => url,
            // Checked when the integration was made; the request then fails on its own.
            Err(_) => return format!("{}/_apis/{path}", self.organization_url),
        };
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(project);
            segments.push("_apis");
            segments.extend(path.split('/'));
        }
        url.into()
    }

    fn version() -> [(&'static str, String); 1] {
        [("api-version", API_VERSION.to_owned())]
    }

    /// Every project of the organization the token may read (one page: organizations hold
    /// far fewer than the hundred thousand `$top` allows).
    pub async fn projects(&self) -> Result<Fetched, ConnectorError> {
        let query = [
            ("api-version", API_VERSION.to_owned()),
            ("$top", "100000".to_owned()),
        ];
        self.http
            .get(&self.url(Within::Organization, "projects"), &query)
            .await
    }

    /// A project's work item types, each with its states and their categories.
    pub async fn work_item_types(&self, project: &str) -> Result<Fetched, ConnectorError> {
        let url = self.url(Within::Project(project), "wit/workitemtypes");
        self.http.get(&url, &Self::version()).await
    }

    /// Every field of the organization, system and custom.
    pub async fn fields(&self) -> Result<Fetched, ConnectorError> {
        let url = self.url(Within::Organization, "wit/fields");
        self.http.get(&url, &Self::version()).await
    }

    /// Ids of up to [`WIQL_LIMIT`] work items of `projects` (empty: all) above `after_id`,
    /// in id order.
    pub async fn ids_above(
        &self,
        projects: &[String],
        after_id: u64,
    ) -> Result<Fetched, ConnectorError> {
        let body = json!({"query": wiql(projects, after_id)});
        let query = [
            ("api-version", API_VERSION.to_owned()),
            ("$top", WIQL_LIMIT.to_string()),
        ];
        let url = self.url(Within::Organization, "wit/wiql");
        self.http.post_with_query(&url, &query, &body).await
    }

    /// Up to [`BATCH_IDS`] work items by id with [`WORK_ITEM_FIELDS`] and `custom_fields`;
    /// ids deleted since are left out rather than failing the batch.
    pub async fn work_items(
        &self,
        ids: &[u64],
        custom_fields: &[String],
    ) -> Result<Fetched, ConnectorError> {
        let fields: Vec<&str> = WORK_ITEM_FIELDS
            .iter()
            .copied()
            .chain(custom_fields.iter().map(String::as_str))
            .collect();
        let body = json!({"ids": ids, "fields": fields, "errorPolicy": "omit"});
        let url = self.url(Within::Organization, "wit/workitemsbatch");
        self.http
            .post_with_query(&url, &Self::version(), &body)
            .await
    }

    /// One answer of the reporting revisions stream (every revision of every work item,
    /// oldest change first): from the start, from `since`, or from a continuation token.
    pub async fn revisions(
        &self,
        within: Within<'_>,
        since: Option<DateTime<Utc>>,
        continuation: Option<&str>,
    ) -> Result<Fetched, ConnectorError> {
        let mut query = vec![
            ("api-version", REPORTING_API_VERSION.to_owned()),
            ("fields", REVISION_FIELDS.join(",")),
            ("$maxPageSize", REVISIONS_PAGE.to_string()),
        ];
        match (continuation, since) {
            (Some(token), _) => query.push(("continuationToken", token.to_owned())),
            (None, Some(since)) => query.push((
                "startDateTime",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            )),
            (None, None) => {}
        }
        let url = self.url(within, "wit/reporting/workitemrevisions");
        self.http.get(&url, &query).await
    }

    /// Every revision of one work item (for one whose history the stream left incomplete).
    pub async fn item_revisions(&self, id: u64) -> Result<Fetched, ConnectorError> {
        let url = self.url(
            Within::Organization,
            &format!("wit/workItems/{id}/revisions"),
        );
        self.http.get(&url, &Self::version()).await
    }
}

/// Repos calls, each within one project.
impl AzureClient {
    /// A project's Git repositories.
    pub async fn repositories(&self, project: &str) -> Result<Fetched, ConnectorError> {
        let url = self.url(Within::Project(project), "git/repositories");
        self.http.get(&url, &Self::version()).await
    }

    /// Up to [`PULLS_PAGE`] of a project's pull requests of every status after the first
    /// `skip`, newest first (descriptions cut short, no commits).
    pub async fn pull_requests(
        &self,
        project: &str,
        skip: usize,
    ) -> Result<Fetched, ConnectorError> {
        let query = [
            ("api-version", API_VERSION.to_owned()),
            ("searchCriteria.status", "all".to_owned()),
            ("$top", PULLS_PAGE.to_string()),
            ("$skip", skip.to_string()),
        ];
        let url = self.url(Within::Project(project), "git/pullrequests");
        self.http.get(&url, &query).await
    }

    /// One pull request whole: its description, its first [`PULL_COMMITS`] commits and its
    /// work item references.
    pub async fn pull_request(
        &self,
        project: &str,
        repository_id: &str,
        id: u64,
    ) -> Result<Fetched, ConnectorError> {
        let query = [
            ("api-version", API_VERSION.to_owned()),
            ("includeCommits", "true".to_owned()),
            ("includeWorkItemRefs", "true".to_owned()),
            ("$top", PULL_COMMITS.to_string()),
        ];
        let path = format!("git/repositories/{repository_id}/pullrequests/{id}");
        self.http
            .get(&self.url(Within::Project(project), &path), &query)
            .await
    }

    /// A pull request's threads: comment threads, and the system's vote and status threads.
    pub async fn threads(
        &self,
        project: &str,
        repository_id: &str,
        id: u64,
    ) -> Result<Fetched, ConnectorError> {
        let path = format!("git/repositories/{repository_id}/pullrequests/{id}/threads");
        let url = self.url(Within::Project(project), &path);
        self.http.get(&url, &Self::version()).await
    }
}

/// The WIQL of [`AzureClient::ids_above`]: project names quoted WIQL's way (a quote
/// doubled).
pub fn wiql(projects: &[String], after_id: u64) -> String {
    let mut clauses = vec![format!("[System.Id] > {after_id}")];
    if !projects.is_empty() {
        let names: Vec<String> = projects
            .iter()
            .map(|p| format!("'{}'", p.replace('\'', "''")))
            .collect();
        clauses.push(format!("[System.TeamProject] IN ({})", names.join(", ")));
    }
    format!(
        "SELECT [System.Id] FROM WorkItems WHERE {} ORDER BY [System.Id] ASC",
        clauses.join(" AND ")
    )
}

/// The ids a WIQL answer lists, in its order.
pub fn listed_ids(answer: &Value) -> Vec<u64> {
    answer["workItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["id"].as_u64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_the_client_calls_has_a_class_of_its_own() {
        let org = "https://dev.azure.com/acme";
        let cases = [
            ("/_apis/projects?api-version=7.1", "projects"),
            (
                "/Fabrikam%20Fiber/_apis/wit/workitemtypes",
                "work_item_types",
            ),
            ("/_apis/wit/fields", "fields"),
            ("/_apis/wit/wiql?timePrecision=true", "wiql"),
            ("/_apis/wit/workitemsbatch", "work_items"),
            ("/_apis/wit/reporting/workitemrevisions", "revisions_stream"),
            ("/_apis/wit/workItems/7/revisions", "revisions"),
            ("/_apis/connectionData", "other"),
        ];
        for (path, expected) in cases {
            let url = format!("{org}{path}");
            assert_eq!(
                crate::connectors::endpoint::class(&url, endpoint_classes),
                expected,
                "{url}"
            );
        }
    }

    #[test]
    fn wiql_pages_by_id_and_quotes_project_names() {
        assert_eq!(
            wiql(&[], 0),
            "SELECT [System.Id] FROM WorkItems WHERE [System.Id] > 0 ORDER BY [System.Id] ASC"
        );
        assert_eq!(
            wiql(&["Fabrikam".into(), "O'Neil".into()], 20_000),
            "SELECT [System.Id] FROM WorkItems WHERE [System.Id] > 20000 AND \
             [System.TeamProject] IN ('Fabrikam', 'O''Neil') ORDER BY [System.Id] ASC"
        );
    }
}
