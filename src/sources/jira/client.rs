//! Jira Cloud REST v3 calls. Answers are returned as the API sent them: storing and
//! interpreting them is the pipeline's job.

use serde_json::{json, Value};

use crate::connectors::http::{ConnectorError, Fetched, HttpClient};

/// The largest page `/search/jql` serves.
pub const PAGE_SIZE: usize = 100;
/// Issues one bulk changelog fetch may name.
pub const BULK_CHANGELOG_ISSUES: usize = 1_000;
/// Histories asked for per bulk changelog answer.
const BULK_CHANGELOG_HISTORIES: usize = 1_000;

/// The class of a Jira request path (the metrics' `endpoint` label).
pub fn endpoint_classes(segments: &[&str]) -> &'static str {
    let ends = |tail: &[&str]| segments.ends_with(tail);
    let has = |segment: &str| segments.contains(&segment);
    match segments.last().copied().unwrap_or_default() {
        _ if has("webhooks") => "webhooks",
        _ if has("dev-status") => "dev_status",
        _ if has("createmeta") => "createmeta",
        _ if ends(&["search", "jql"]) => "search",
        _ if ends(&["project", "search"]) => "projects",
        _ if ends(&["changelog", "bulkfetch"]) => "changelog_bulk",
        "changelog" => "changelog",
        "status" => "statuses",
        "issuetype" => "issue_types",
        "field" => "fields",
        "myself" => "myself",
        _ => "other",
    }
}

#[derive(Clone)]
pub struct JiraClient {
    http: HttpClient,
    base_url: String,
}

impl JiraClient {
    pub fn new(http: HttpClient, base_url: &str) -> Self {
        JiraClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Registers an admin webhook delivering `events` for the issues `jql` finds to `url`,
    /// signed with `secret`; returns the webhook's id (the last segment of its `self`).
    pub async fn create_webhook(
        &self,
        name: &str,
        (url, secret): (&str, &str),
        (events, jql): (&[&str], &str),
    ) -> Result<String, ConnectorError> {
        let body = serde_json::json!({
            "name": name,
            "url": url,
            "events": events,
            "filters": {"issue-related-events-section": jql},
            "excludeBody": false,
            "secret": secret,
        });
        let created = self
            .http
            .post(&self.url("/rest/webhooks/1.0/webhook"), &body)
            .await?;
        let link = created.body["self"].as_str().unwrap_or_default();
        Ok(link.rsplit('/').next().unwrap_or_default().to_owned())
    }

    /// Removes admin webhook `id`.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), ConnectorError> {
        let url = self.url(&format!("/rest/webhooks/1.0/webhook/{id}"));
        self.http.delete(&url).await.map(|_| ())
    }

    /// One page of `/project/search` with issue types, from `start_at`.
    pub async fn projects_page(&self, start_at: usize) -> Result<Fetched, ConnectorError> {
        let query = [
            ("startAt", start_at.to_string()),
            ("maxResults", "50".into()),
            ("expand", "issueTypes".into()),
        ];
        self.http
            .get(&self.url("/rest/api/3/project/search"), &query)
            .await
    }

    /// The signed-in account (its `timeZone` is the one JQL dates are read in).
    pub async fn myself(&self) -> Result<Fetched, ConnectorError> {
        self.http.get(&self.url("/rest/api/3/myself"), &[]).await
    }

    pub async fn statuses(&self) -> Result<Fetched, ConnectorError> {
        self.http.get(&self.url("/rest/api/3/status"), &[]).await
    }

    pub async fn issue_types(&self) -> Result<Fetched, ConnectorError> {
        self.http.get(&self.url("/rest/api/3/issuetype"), &[]).await
    }

    /// One page of `/search/jql` with every field and the embedded changelog.
    pub async fn search_page(
        &self,
        jql: &str,
        next_page_token: Option<&str>,
    ) -> Result<Fetched, ConnectorError> {
        let body =
            json!({"jql": jql, "maxResults": PAGE_SIZE, "fields": ["*all"], "expand": "changelog"});
        self.search(body, next_page_token).await
    }

    /// One page of `/search/jql` with the issue ids only.
    pub async fn search_ids(
        &self,
        jql: &str,
        next_page_token: Option<&str>,
    ) -> Result<Fetched, ConnectorError> {
        let body = json!({"jql": jql, "maxResults": PAGE_SIZE, "fields": ["id"]});
        self.search(body, next_page_token).await
    }

    /// `/search/jql` with `body`, from `next_page_token` when given.
    async fn search(
        &self,
        mut body: Value,
        next_page_token: Option<&str>,
    ) -> Result<Fetched, ConnectorError> {
        if let Some(token) = next_page_token {
            body["nextPageToken"] = Value::from(token);
        }
        self.http
            .post(&self.url("/rest/api/3/search/jql"), &body)
            .await
    }

    /// One answer of the bulk changelog fetch for up to [`BULK_CHANGELOG_ISSUES`] issues:
    /// `issueChangeLogs` (each `{issueId, changeHistories}`) and, when more follow,
    /// `nextPageToken`.
    pub async fn changelog_bulk(
        &self,
        issue_ids: &[String],
        next_page_token: Option<&str>,
    ) -> Result<Fetched, ConnectorError> {
        let mut body = json!({"issueIdsOrKeys": issue_ids, "maxResults": BULK_CHANGELOG_HISTORIES});
        if let Some(token) = next_page_token {
            body["nextPageToken"] = Value::from(token);
        }
        self.http
            .post(&self.url("/rest/api/3/changelog/bulkfetch"), &body)
            .await
    }

    /// Every field of the site, system and custom.
    pub async fn fields(&self) -> Result<Fetched, ConnectorError> {
        self.http.get(&self.url("/rest/api/3/field"), &[]).await
    }

    /// The issue types a project can create.
    pub async fn createmeta_issue_types(&self, project: &str) -> Result<Fetched, ConnectorError> {
        self.http
            .get(
                &self.url(&format!(
                    "/rest/api/3/issue/createmeta/{project}/issuetypes"
                )),
                &[],
            )
            .await
    }

    /// The fields (with operations) of one project's issue type.
    pub async fn createmeta_fields(
        &self,
        project: &str,
        issue_type: &str,
    ) -> Result<Fetched, ConnectorError> {
        let query = [("maxResults", "200".to_owned())];
        self.http
            .get(
                &self.url(&format!(
                    "/rest/api/3/issue/createmeta/{project}/issuetypes/{issue_type}"
                )),
                &query,
            )
            .await
    }

    /// Pull requests linked to an issue through the development panel.
    pub async fn dev_status(&self, issue_id: &str) -> Result<Fetched, ConnectorError> {
        let query = [
            ("issueId", issue_id.to_owned()),
            ("applicationType", "GitHub".into()),
            ("dataType", "pullrequest".into()),
        ];
        self.http
            .get(&self.url("/rest/dev-status/latest/issue/detail"), &query)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_classes;
    use crate::connectors::endpoint::class;

    #[test]
    fn every_endpoint_the_client_calls_has_a_class_of_its_own() {
        let cases = [
            ("https://x.atlassian.net/rest/api/3/search/jql", "search"),
            (
                "https://x.atlassian.net/rest/api/3/project/search?startAt=50",
                "projects",
            ),
            (
                "https://x.atlassian.net/rest/api/3/changelog/bulkfetch",
                "changelog_bulk",
            ),
            (
                "https://x.atlassian.net/rest/api/3/issue/CORE-12/changelog?startAt=100",
                "changelog",
            ),
            ("https://x.atlassian.net/rest/api/3/status", "statuses"),
            (
                "https://x.atlassian.net/rest/api/3/issuetype",
                "issue_types",
            ),
            ("https://x.atlassian.net/rest/api/3/field", "fields"),
            ("https://x.atlassian.net/rest/api/3/myself", "myself"),
            (
                "https://x.atlassian.net/rest/api/3/issue/createmeta/CORE/issuetypes/10001",
                "createmeta",
            ),
            (
                "https://x.atlassian.net/rest/dev-status/latest/issue/detail?issueId=1",
                "dev_status",
            ),
            (
                "https://x.atlassian.net/rest/webhooks/1.0/webhook/3",
                "webhooks",
            ),
            ("https://x.atlassian.net/rest/api/3/serverInfo", "other"),
        ];
        for (url, expected) in cases {
            assert_eq!(class(url, endpoint_classes), expected, "{url}");
        }
    }
}
