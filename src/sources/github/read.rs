//! Reading GitHub tables for people: pull request pages and details (reviews, commits,
//! comments, flow metrics) and review-time distributions. Every query filters by tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::domain::pr_flow::FlowMetrics;
use crate::domain::{IntegrationId, TenantId};
use crate::sources::people::teams;
use crate::store::stats::{percentile_columns, week_of};
use crate::store::StoreError;

/// A pull request in a list, with its flow metrics (seconds).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct PrRow {
    pub id: i64,
    pub integration_id: IntegrationId,
    pub repository: String,
    pub number: i32,
    pub title: Option<String>,
    /// `open` or `closed` (merged ones are closed with `merged_at`).
    pub state: String,
    pub is_draft: bool,
    pub author_login: Option<String>,
    pub pr_created_at: Option<DateTime<Utc>>,
    pub pr_updated_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub flow: FlowMetrics,
}

const PR_COLUMNS: &str = "pr.id, pr.integration_id, r.full_name AS repository, pr.number, pr.title,
    pr.state, pr.is_draft, pr.author_login, pr.pr_created_at, pr.pr_updated_at, pr.closed_at,
    pr.merged_at, pr.first_commit_at, pr.first_review_at, pr.coding_time_seconds,
    pr.pickup_time_seconds, pr.review_time_seconds, pr.cycle_time_seconds";

/// Which pull requests a list shows.
#[derive(Debug, Clone, Default)]
pub struct PrFilter {
    pub integration_id: Option<IntegrationId>,
    /// `owner/name`.
    pub repository: Option<String>,
    pub state: Option<String>,
    pub author: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
}

/// Up to `fetch` pull requests before id `before` (newest first), as filtered.
pub async fn prs(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &PrFilter,
    before: Option<i64>,
    fetch: i64,
) -> Result<Vec<PrRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {PR_COLUMNS} FROM prs pr JOIN repositories r ON r.id = pr.repository_id WHERE pr.tenant_id = "
    ));
    query.push_bind(tenant_id);
    if let Some(before) = before {
        query.push(" AND pr.id < ").push_bind(before);
    }
    if let Some(integration) = filter.integration_id {
        query
            .push(" AND pr.integration_id = ")
            .push_bind(integration);
    }
    if let Some(repository) = &filter.repository {
        query
            .push(" AND r.full_name = ")
            .push_bind(repository.clone());
    }
    if let Some(state) = &filter.state {
        query.push(" AND pr.state = ").push_bind(state.clone());
    }
    if let Some(author) = &filter.author {
        query
            .push(" AND pr.author_login = ")
            .push_bind(author.clone());
    }
    if let Some(since) = filter.updated_since {
        query.push(" AND pr.pr_updated_at >= ").push_bind(since);
    }
    query.push(" ORDER BY pr.id DESC LIMIT ").push_bind(fetch);
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// A pull request with its reviews, commits and comments.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct PrDetail {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub pr: PrRow,
    pub body: Option<String>,
    pub base_branch: Option<String>,
    pub head_branch: Option<String>,
    pub additions: Option<i32>,
    pub deletions: Option<i32>,
    pub changed_files: Option<i32>,
    #[sqlx(skip)]
    pub reviews: Vec<Review>,
    #[sqlx(skip)]
    pub commits: Vec<Commit>,
    #[sqlx(skip)]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Review {
    pub author_login: Option<String>,
    pub state: String,
    pub body: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Commit {
    pub sha: String,
    pub message: Option<String>,
    pub author_name: Option<String>,
    pub author_login: Option<String>,
    pub authored_date: Option<DateTime<Utc>>,
    pub committed_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Comment {
    /// `issue` (conversation) or `review` (on a line of the diff).
    pub comment_type: String,
    pub author_login: Option<String>,
    pub body: Option<String>,
    pub path: Option<String>,
    pub line: Option<i32>,
    pub comment_created_at: Option<DateTime<Utc>>,
}

/// One of the tenant's pull requests with everything loaded about it.
pub async fn pr(
    pool: &PgPool,
    tenant_id: TenantId,
    id: i64,
) -> Result<Option<PrDetail>, StoreError> {
    let found: Option<PrDetail> = sqlx::query_as(&format!(
        "SELECT {PR_COLUMNS}, pr.body, pr.base_branch, pr.head_branch, pr.additions, pr.deletions,
                pr.changed_files
         FROM prs pr JOIN repositories r ON r.id = pr.repository_id
         WHERE pr.tenant_id = $1 AND pr.id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(mut detail) = found else {
        return Ok(None);
    };
    let of_pr = |table: &str, columns: &str, order: &str| {
        format!("SELECT {columns} FROM {table} WHERE tenant_id = $1 AND pr_id = $2 ORDER BY {order}, id")
    };
    detail.reviews = rows_of(
        pool,
        &of_pr(
            "pr_reviews",
            "author_login, state, body, submitted_at",
            "submitted_at",
        ),
        tenant_id,
        id,
    )
    .await?;
    detail.commits = rows_of(
        pool,
        &of_pr(
            "pr_commits",
            "sha, message, author_name, author_login, authored_date, committed_date",
            "committed_date",
        ),
        tenant_id,
        id,
    )
    .await?;
    detail.comments = rows_of(
        pool,
        &of_pr(
            "pr_comments",
            "comment_type, author_login, body, path, line, comment_created_at",
            "comment_created_at",
        ),
        tenant_id,
        id,
    )
    .await?;
    Ok(Some(detail))
}

/// The rows `sql` selects for ($1 tenant, $2 pull request).
async fn rows_of<T>(
    pool: &PgPool,
    sql: &str,
    tenant_id: TenantId,
    id: i64,
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    Ok(sqlx::query_as(sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_all(pool)
        .await?)
}

/// How a pull request report groups merged pull requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrGrouping {
    #[default]
    Repository,
    Week,
    /// The teams of each pull request's author (those of authors in no team drop out).
    Team,
}

/// Which merged pull requests a report counts.
#[derive(Debug, Clone, Default)]
pub struct PrReportFilter {
    pub group_by: PrGrouping,
    pub repository: Option<String>,
    /// Merged at or after.
    pub since: Option<DateTime<Utc>>,
    /// Merged before.
    pub until: Option<DateTime<Utc>>,
}

/// Pull request flow of one group (seconds).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct PrFlowGroup {
    /// Repository `owner/name`, the Monday of the week (`YYYY-MM-DD`) or a team's name.
    pub group: String,
    pub merged: i64,
    pub cycle_time_p50: Option<f64>,
    pub cycle_time_p85: Option<f64>,
    pub cycle_time_p95: Option<f64>,
    pub pickup_time_p50: Option<f64>,
    pub pickup_time_p85: Option<f64>,
    pub pickup_time_p95: Option<f64>,
    pub review_time_p50: Option<f64>,
    pub review_time_p85: Option<f64>,
    pub review_time_p95: Option<f64>,
}

/// Cycle, pickup and review time distributions of merged pull requests per group.
pub async fn pr_flow(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &PrReportFilter,
) -> Result<Vec<PrFlowGroup>, StoreError> {
    let (group, team_join) = match filter.group_by {
        PrGrouping::Repository => ("r.full_name".to_owned(), String::new()),
        PrGrouping::Week => (week_of("pr.merged_at"), String::new()),
        PrGrouping::Team => (
            "team.name".to_owned(),
            teams::team_of(
                "team",
                "pr.tenant_id",
                "pr.integration_id",
                "pr.author_login",
            ),
        ),
    };
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {group} AS \"group\", count(*) AS merged, {}, {}, {}
         FROM prs pr JOIN repositories r ON r.id = pr.repository_id {team_join}
         WHERE pr.merged_at IS NOT NULL AND pr.tenant_id = ",
        percentile_columns("pr.cycle_time_seconds", "cycle_time"),
        percentile_columns("pr.pickup_time_seconds", "pickup_time"),
        percentile_columns("pr.review_time_seconds", "review_time"),
    ));
    query.push_bind(tenant_id);
    if let Some(repository) = &filter.repository {
        query
            .push(" AND r.full_name = ")
            .push_bind(repository.clone());
    }
    if let Some(since) = filter.since {
        query.push(" AND pr.merged_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND pr.merged_at < ").push_bind(until);
    }
    query.push(" GROUP BY 1 ORDER BY 1");
    Ok(query.build_query_as().fetch_all(pool).await?)
}
