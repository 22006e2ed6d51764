//! The MCP tools: read-only views of the caller's tenant (search, work items, pull requests,
//! flow and pull request metrics, jobs), answered as compact JSON text sized for a model's
//! context — lists are paged, long texts and histories are cut with a count of what was
//! left out. A refusal (bad input, not found) is a tool error the model reads; an internal
//! failure is logged and answered without its cause.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use super::params::{
    limit, FlowMetricsParams, ListPullRequestsParams, ListWorkItemsParams, PrMetricsParams,
    PullRequestRef, SearchParams, WorkItemKey,
};
use crate::domain::TenantId;
use crate::pipeline::embed_stage::Embedding;
use crate::search::fusion::Fusion;
use crate::service::search::{self, SearchQuery};
use crate::service::{flow, jobs, prs, work_items, ServiceError, ServiceResult};
use crate::sources::github::read::{PrFilter, PrReportFilter};
use crate::sources::jira::read::{FlowFilter, WorkItemFilter};
use crate::sources::CATALOG;

/// Longest text (a description, a body) an answer carries.
const LONGEST_TEXT: usize = 4_000;
/// Most entries of a history (status timeline, commits, comments) an answer carries.
const LONGEST_HISTORY: usize = 30;

/// Who the tools answer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantOf {
    /// One tenant for the whole connection (stdio, checked at start).
    Fixed(TenantId),
    /// The tenant of each HTTP request's caller, set by the authentication in front.
    Request,
}

/// The tenant an HTTP request was authenticated for, put in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McpCaller(pub TenantId);

/// The tools of one connection.
#[derive(Clone)]
pub struct PulseTools {
    pool: PgPool,
    embedding: Arc<Embedding>,
    tenant_of: TenantOf,
    tool_router: ToolRouter<Self>,
}

impl PulseTools {
    pub fn new(pool: PgPool, embedding: Arc<Embedding>, tenant_of: TenantOf) -> Self {
        PulseTools {
            pool,
            embedding,
            tenant_of,
            tool_router: Self::tool_router(),
        }
    }

    fn tenant(&self, context: &RequestContext<RoleServer>) -> Result<TenantId, ErrorData> {
        match self.tenant_of {
            TenantOf::Fixed(tenant) => Ok(tenant),
            TenantOf::Request => context
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<McpCaller>())
                .map(|caller| caller.0)
                .ok_or_else(|| ErrorData::invalid_request("not signed in", None)),
        }
    }
}

/// A service answer as a tool result: JSON text, or a tool error saying what was wrong.
fn answer<T: Serialize>(result: ServiceResult<T>) -> Result<CallToolResult, ErrorData> {
    match result {
        Ok(value) => {
            let text = serde_json::to_string(&value)
                .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
            Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
        }
        Err(ServiceError::Internal(error)) => {
            tracing::error!(error = format!("{error:#}"), "an MCP tool failed");
            Ok(CallToolResult::error(vec![ContentBlock::text(
                "internal error: the failure is logged on the server",
            )]))
        }
        Err(refused) => Ok(CallToolResult::error(vec![ContentBlock::text(
            refused.to_string(),
        )])),
    }
}

/// `text` cut to [`LONGEST_TEXT`] characters, saying so.
fn cut(text: &mut Value) {
    if let Some(long) = text.as_str().filter(|t| t.chars().count() > LONGEST_TEXT) {
        let kept: String = long.chars().take(LONGEST_TEXT).collect();
        *text = Value::from(format!("{kept}… (cut at {LONGEST_TEXT} characters)"));
    }
}

/// Keeps the last [`LONGEST_HISTORY`] entries of `object[field]`, recording the full count
/// as `{field}_total`.
fn keep_latest(object: &mut Value, field: &str) {
    let Some(list) = object.get_mut(field).and_then(Value::as_array_mut) else {
        return;
    };
    let total = list.len();
    if total > LONGEST_HISTORY {
        list.drain(..total - LONGEST_HISTORY);
    }
    object[format!("{field}_total")] = total.into();
}

/// A page of rows and where the next one starts (None: this was the last).
#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<i64>,
}

fn page<T>(mut rows: Vec<T>, wanted: usize, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = rows.len() > wanted;
    rows.truncate(wanted);
    let next_cursor = if more { rows.last().map(id) } else { None };
    Page {
        items: rows,
        next_cursor,
    }
}

#[tool_router]
impl PulseTools {
    #[tool(
        description = "Search the work items (Jira) and pull requests (GitHub) by words and meaning, in any language. Returns up to `limit` matches, best first, each with its key, title, status, project, link and why it matched (key, lexical, semantic or both).",
        annotations(read_only_hint = true)
    )]
    async fn search(
        &self,
        Parameters(params): Parameters<SearchParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let query = SearchQuery {
            text: params.query,
            mode: params.mode.unwrap_or_default(),
            source: params.source,
            project: params.project,
            kind: params.kind,
            status: params.status,
            status_category: params.status_category,
            assignee: params.assignee,
            updated_from: params.updated_from,
            updated_to: params.updated_to,
            limit: limit(params.limit),
            fusion: Fusion::default(),
        };
        answer(search::search(&self.pool, CATALOG, &self.embedding, tenant, &query).await)
    }

    #[tool(
        description = "One work item by key (e.g. CORE-12): summary, type, status, assignee, dates, description, labels, custom fields, its status timeline (latest entries), the 15 flow metrics and the pull requests linked to it.",
        annotations(read_only_hint = true)
    )]
    async fn get_work_item(
        &self,
        Parameters(WorkItemKey { key }): Parameters<WorkItemKey>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let result = async {
            let detail = work_items::get(&self.pool, tenant, &key).await?;
            let url =
                search::record_url(&self.pool, CATALOG, tenant, ("work_items", detail.item.id))
                    .await?;
            let mut value = serde_json::to_value(&detail)
                .map_err(|error| ServiceError::internal(error, "showing a work item"))?;
            cut(&mut value["description"]);
            keep_latest(&mut value, "timeline");
            value["url"] = url.into();
            Ok(value)
        }
        .await;
        answer(result)
    }

    #[tool(
        description = "Work items, newest first, filtered by project, status, type, assignee, last change or words; paged: pass next_cursor back as cursor for the next page.",
        annotations(read_only_hint = true)
    )]
    async fn list_work_items(
        &self,
        Parameters(params): Parameters<ListWorkItemsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let filter = WorkItemFilter {
            integration_id: None,
            project: params.project,
            status: params.status,
            work_item_type: params.kind,
            assignee: params.assignee,
            updated_since: params.updated_since,
            text: params.text.filter(|t| !t.trim().is_empty()),
        };
        let wanted = limit(params.limit);
        let rows = work_items::list(
            &self.pool,
            tenant,
            &filter,
            params.cursor,
            wanted as i64 + 1,
        )
        .await;
        answer(rows.map(|rows| page(rows, wanted, |row| row.id)))
    }

    #[tool(
        description = "One pull request by key (owner/repo#number): title, state, author, dates, branches, size, body, its flow metrics (cycle, pickup, review time), reviews, and its latest commits and comments.",
        annotations(read_only_hint = true)
    )]
    async fn get_pull_request(
        &self,
        Parameters(PullRequestRef { key }): Parameters<PullRequestRef>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let result = async {
            let detail = prs::get_by_key(&self.pool, tenant, &key).await?;
            let url =
                search::record_url(&self.pool, CATALOG, tenant, ("prs", detail.pr.id)).await?;
            let mut value = serde_json::to_value(&detail)
                .map_err(|error| ServiceError::internal(error, "showing a pull request"))?;
            cut(&mut value["body"]);
            for history in ["reviews", "commits", "comments"] {
                keep_latest(&mut value, history);
            }
            value["url"] = url.into();
            Ok(value)
        }
        .await;
        answer(result)
    }

    #[tool(
        description = "Pull requests, newest first, filtered by repository, state (open or closed), author or last change; paged: pass next_cursor back as cursor for the next page.",
        annotations(read_only_hint = true)
    )]
    async fn list_pull_requests(
        &self,
        Parameters(params): Parameters<ListPullRequestsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let filter = PrFilter {
            integration_id: None,
            repository: params.repository,
            state: params.state,
            author: params.author,
            updated_since: params.updated_since,
        };
        let wanted = limit(params.limit);
        let rows = prs::list(
            &self.pool,
            tenant,
            &filter,
            params.cursor,
            wanted as i64 + 1,
        )
        .await;
        answer(rows.map(|rows| page(rows, wanted, |row| row.id)))
    }

    #[tool(
        description = "Flow of completed work items per project, type or week: throughput, cycle and lead time percentiles (seconds) and rework.",
        annotations(read_only_hint = true)
    )]
    async fn flow_metrics(
        &self,
        Parameters(params): Parameters<FlowMetricsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let filter = FlowFilter {
            group_by: params.group_by.unwrap_or_default(),
            project: params.project,
            since: params.since,
            until: params.until,
        };
        answer(flow::work_items(&self.pool, tenant, &filter).await)
    }

    #[tool(
        description = "Flow of merged pull requests per repository or week: count merged, cycle, pickup and review time percentiles (seconds).",
        annotations(read_only_hint = true)
    )]
    async fn pr_metrics(
        &self,
        Parameters(params): Parameters<PrMetricsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        let filter = PrReportFilter {
            group_by: params.group_by.unwrap_or_default(),
            repository: params.repository,
            since: params.since,
            until: params.until,
        };
        answer(flow::prs(&self.pool, tenant, &filter).await)
    }

    #[tool(
        description = "The sync jobs: for each, its source, state, schedule, last and next run, and last error.",
        annotations(read_only_hint = true)
    )]
    async fn job_status(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context)?;
        answer(jobs::list(&self.pool, tenant).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PulseTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("pulse-etl", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Read-only access to one tenant's Jira work items and GitHub pull requests as pulse-etl keeps them: search first, then get_work_item or get_pull_request for details; the metrics tools summarise flow.",
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn histories_keep_the_latest_entries_and_their_total() {
        let mut value = json!({"timeline": (0..40).collect::<Vec<_>>()});
        keep_latest(&mut value, "timeline");
        assert_eq!(value["timeline_total"], 40);
        assert_eq!(value["timeline"].as_array().unwrap().len(), LONGEST_HISTORY);
        assert_eq!(value["timeline"][0], 10);
        let mut short = json!({"commits": [1]});
        keep_latest(&mut short, "commits");
        assert_eq!(short["commits_total"], 1);
    }

    #[test]
    fn long_texts_are_cut_and_say_so() {
        let mut text = Value::from("é".repeat(LONGEST_TEXT + 5));
        cut(&mut text);
        assert!(text.as_str().unwrap().ends_with("(cut at 4000 characters)"));
        let mut short = Value::from("short");
        cut(&mut short);
        assert_eq!(short, "short");
    }

    #[test]
    fn pages_say_where_the_next_one_starts() {
        let full = page(vec![9, 8, 7], 2, |v| *v);
        assert_eq!(full.items, vec![9, 8]);
        assert_eq!(full.next_cursor, Some(8));
        let last = page(vec![9, 8], 2, |v| *v);
        assert_eq!(last.next_cursor, None);
    }
}
