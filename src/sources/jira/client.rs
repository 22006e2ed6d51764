//! Jira Cloud REST v3 calls. Answers are returned as the API sent them: storing and
//! interpreting them is the pipeline's job.

use serde_json::{json, Value};

use crate::connectors::http::{ConnectorError, Fetched, HttpClient};

/// The largest page `/search/jql` and `/changelog` serve.
pub const PAGE_SIZE: usize = 100;

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
        let mut body =
            json!({"jql": jql, "maxResults": PAGE_SIZE, "fields": ["*all"], "expand": "changelog"});
        if let Some(token) = next_page_token {
            body["nextPageToken"] = Value::from(token);
        }
        self.http
            .post(&self.url("/rest/api/3/search/jql"), &body)
            .await
    }

    /// One page of an issue's full changelog, oldest first.
    pub async fn changelog_page(
        &self,
        issue_id: &str,
        start_at: usize,
    ) -> Result<Fetched, ConnectorError> {
        let query = [
            ("startAt", start_at.to_string()),
            ("maxResults", PAGE_SIZE.to_string()),
        ];
        self.http
            .get(
                &self.url(&format!("/rest/api/3/issue/{issue_id}/changelog")),
                &query,
            )
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
