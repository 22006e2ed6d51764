//! What each MCP tool takes, with the JSON schemas and descriptions an agent reads.

use chrono::{DateTime, Utc};
use rmcp::schemars::JsonSchema;
use serde::Deserialize;

use crate::domain::Provider;
use crate::search::SearchMode;
use crate::sources::github::read::PrGrouping;
use crate::sources::jira::read::FlowGrouping;

/// Results a list or search returns when the agent does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// Most results one call returns: answers stay small enough for a model's context.
pub const MAX_LIMIT: usize = 50;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SearchParams {
    /// What to look for, in plain words, any language. A key such as CORE-12 or
    /// org/repo#45 puts that record first; "quoted phrases" rank their matches next.
    pub query: String,
    /// hybrid (words and meaning, the default), semantic (meaning only) or lexical (words
    /// only).
    #[schemars(with = "Option<String>")]
    pub mode: Option<SearchMode>,
    /// jira (work items only) or github (pull requests only).
    #[schemars(with = "Option<String>")]
    pub source: Option<Provider>,
    /// A Jira project key or GitHub repository (owner/name).
    pub project: Option<String>,
    /// An issue type such as Bug, or "Pull request".
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A status exactly as the source names it (In Progress, merged).
    pub status: Option<String>,
    /// new, indeterminate or done.
    pub status_category: Option<String>,
    /// A Jira account id or GitHub login.
    pub assignee: Option<String>,
    /// Changed at or after this time (RFC 3339).
    pub updated_from: Option<DateTime<Utc>>,
    /// Changed at or before this time (RFC 3339).
    pub updated_to: Option<DateTime<Utc>>,
    /// At most this many results (1 to 50, default 20).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct WorkItemKey {
    /// The work item's key, e.g. CORE-12.
    pub key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListWorkItemsParams {
    /// A Jira project key.
    pub project: Option<String>,
    /// A status name.
    pub status: Option<String>,
    /// An issue type name.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A Jira account id.
    pub assignee: Option<String>,
    /// Changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Words in the key, summary or description (web-search syntax: quotes, or, -word).
    pub text: Option<String>,
    /// At most this many items (1 to 50, default 20).
    pub limit: Option<usize>,
    /// The next_cursor of the previous page.
    pub cursor: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct PullRequestRef {
    /// The pull request as owner/repo#number, e.g. acme/api#45.
    pub key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListPullRequestsParams {
    /// A repository, owner/name.
    pub repository: Option<String>,
    /// open or closed (merged ones are closed).
    pub state: Option<String>,
    /// The author's GitHub login.
    pub author: Option<String>,
    /// Changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// At most this many pull requests (1 to 50, default 20).
    pub limit: Option<usize>,
    /// The next_cursor of the previous page.
    pub cursor: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct FlowMetricsParams {
    /// project (default), type or week.
    #[schemars(with = "Option<String>")]
    pub group_by: Option<FlowGrouping>,
    /// A Jira project key.
    pub project: Option<String>,
    /// Completed at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Completed before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct PrMetricsParams {
    /// repository (default) or week.
    #[schemars(with = "Option<String>")]
    pub group_by: Option<PrGrouping>,
    /// A repository, owner/name.
    pub repository: Option<String>,
    /// Merged at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Merged before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// The limit asked for, within 1 to [`MAX_LIMIT`].
pub fn limit(asked: Option<usize>) -> usize {
    asked.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}
