//! GitHub tables: repositories, pull requests, their commits, reviews and comments, the
//! pull-request flow metrics, and the ETags incremental syncs send back.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::rows::{CommentRow, CommitRow, PullRow, RepositoryRow, ReviewRow};
use crate::domain::pr_flow::{flow_metrics, FlowMetrics, PullActivity, Response};
use crate::domain::IntegrationRef;
use crate::store::bulk::{Column, Upsert};
use crate::store::load_batches::{LoadRow, LoadTable};
use crate::store::StoreError;

pub static REPOSITORIES: LoadTable = LoadTable {
    after_load: None,
    order: 0,
    upsert: Upsert {
        table: "repositories",
        record: &[
            ("external_id", "text"),
            ("owner", "text"),
            ("name", "text"),
            ("full_name", "text"),
            ("description", "text"),
            ("default_branch", "text"),
            ("language", "text"),
            ("private", "boolean"),
            ("archived", "boolean"),
            ("repo_created_at", "timestamptz"),
            ("repo_updated_at", "timestamptz"),
            ("pushed_at", "timestamptz"),
        ],
        copied: &[
            "external_id",
            "owner",
            "name",
            "full_name",
            "description",
            "default_branch",
            "language",
            "private",
            "archived",
            "repo_created_at",
            "repo_updated_at",
            "pushed_at",
        ],
        computed: &[],
        joins: "",
        conflict_key: &["external_id"],
        guard: Some("excluded.repo_updated_at IS NULL OR repositories.repo_updated_at IS NULL OR excluded.repo_updated_at >= repositories.repo_updated_at"),
    },
};

pub static PULLS: LoadTable = LoadTable {
    after_load: None,
    order: 1,
    upsert: Upsert {
        table: "prs",
        record: &[
            ("external_id", "text"),
            ("repository_full_name", "text"),
            ("number", "integer"),
            ("title", "text"),
            ("body", "text"),
            ("state", "text"),
            ("is_draft", "boolean"),
            ("author_login", "text"),
            ("author_id", "bigint"),
            ("assignee_login", "text"),
            ("assignee_id", "bigint"),
            ("base_branch", "text"),
            ("head_branch", "text"),
            ("base_sha", "text"),
            ("head_sha", "text"),
            ("additions", "integer"),
            ("deletions", "integer"),
            ("changed_files", "integer"),
            ("commits_count", "integer"),
            ("comments_count", "integer"),
            ("review_comments_count", "integer"),
            ("pr_created_at", "timestamptz"),
            ("pr_updated_at", "timestamptz"),
            ("closed_at", "timestamptz"),
            ("merged_at", "timestamptz"),
        ],
        copied: &[
            "external_id",
            "number",
            "title",
            "body",
            "state",
            "is_draft",
            "author_login",
            "author_id",
            "assignee_login",
            "assignee_id",
            "base_branch",
            "head_branch",
            "base_sha",
            "head_sha",
            "additions",
            "deletions",
            "changed_files",
            "commits_count",
            "comments_count",
            "review_comments_count",
            "pr_created_at",
            "pr_updated_at",
            "closed_at",
            "merged_at",
        ],
        computed: &[Column {
            name: "repository_id",
            value: "rp.id",
        }],
        joins: "JOIN repositories rp ON rp.tenant_id = $1 AND rp.integration_id = $2 AND rp.full_name = r.repository_full_name",
        conflict_key: &["external_id"],
        // An older copy never overwrites a newer one (messages may arrive late).
        guard: Some("excluded.pr_updated_at IS NULL OR prs.pr_updated_at IS NULL OR excluded.pr_updated_at >= prs.pr_updated_at"),
    },
};

/// Resolves a child row's pull request by its external id.
const PULL_BY_ID: &str =
    "JOIN prs p ON p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = r.pr_external_id";

pub static COMMITS: LoadTable = LoadTable {
    after_load: None,
    order: 3,
    upsert: Upsert {
        table: "pr_commits",
        record: &[
            ("external_id", "text"),
            ("pr_external_id", "text"),
            ("sha", "text"),
            ("message", "text"),
            ("author_name", "text"),
            ("author_email", "text"),
            ("author_login", "text"),
            ("committer_name", "text"),
            ("committer_login", "text"),
            ("authored_date", "timestamptz"),
            ("committed_date", "timestamptz"),
        ],
        copied: &[
            "external_id",
            "sha",
            "message",
            "author_name",
            "author_email",
            "author_login",
            "committer_name",
            "committer_login",
            "authored_date",
            "committed_date",
        ],
        computed: &[Column {
            name: "pr_id",
            value: "p.id",
        }],
        joins: PULL_BY_ID,
        conflict_key: &["external_id"],
        guard: None,
    },
};

pub static REVIEWS: LoadTable = LoadTable {
    after_load: None,
    order: 2,
    upsert: Upsert {
        table: "pr_reviews",
        record: &[
            ("external_id", "text"),
            ("pr_external_id", "text"),
            ("author_login", "text"),
            ("author_type", "text"),
            ("state", "text"),
            ("body", "text"),
            ("commit_id", "text"),
            ("submitted_at", "timestamptz"),
        ],
        copied: &[
            "external_id",
            "author_login",
            "author_type",
            "state",
            "body",
            "commit_id",
            "submitted_at",
        ],
        computed: &[Column {
            name: "pr_id",
            value: "p.id",
        }],
        joins: PULL_BY_ID,
        conflict_key: &["external_id"],
        guard: None,
    },
};

pub static COMMENTS: LoadTable = LoadTable {
    after_load: None,
    order: 4,
    upsert: Upsert {
        table: "pr_comments",
        record: &[
            ("external_id", "text"),
            ("comment_type", "text"),
            ("repository_full_name", "text"),
            ("pr_number", "integer"),
            ("author_login", "text"),
            ("author_type", "text"),
            ("body", "text"),
            ("path", "text"),
            ("line", "integer"),
            ("in_reply_to_id", "text"),
            ("comment_created_at", "timestamptz"),
            ("comment_updated_at", "timestamptz"),
        ],
        copied: &[
            "external_id",
            "comment_type",
            "author_login",
            "author_type",
            "body",
            "path",
            "line",
            "in_reply_to_id",
            "comment_created_at",
            "comment_updated_at",
        ],
        computed: &[Column {
            name: "pr_id",
            value: "p.id",
        }],
        joins: "JOIN repositories rp ON rp.tenant_id = $1 AND rp.integration_id = $2 AND rp.full_name = r.repository_full_name
                JOIN prs p ON p.tenant_id = $1 AND p.repository_id = rp.id AND p.number = r.pr_number",
        conflict_key: &["comment_type", "external_id"],
        guard: Some("excluded.comment_updated_at IS NULL OR pr_comments.comment_updated_at IS NULL OR excluded.comment_updated_at >= pr_comments.comment_updated_at"),
    },
};

impl LoadRow for RepositoryRow {
    const TABLE: &'static LoadTable = &REPOSITORIES;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// Pull requests; their repositories load first.
impl LoadRow for PullRow {
    const TABLE: &'static LoadTable = &PULLS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// Reviews of loaded pull requests.
impl LoadRow for ReviewRow {
    const TABLE: &'static LoadTable = &REVIEWS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// Commits of loaded pull requests.
impl LoadRow for CommitRow {
    const TABLE: &'static LoadTable = &COMMITS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// Comments; those whose pull request is not loaded (comments on plain issues) are left
/// out.
impl LoadRow for CommentRow {
    const TABLE: &'static LoadTable = &COMMENTS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// External ids of the loaded pull requests with these (repository, number) keys.
pub async fn pulls_of_comments(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    keys: &[(String, i64)],
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT p.external_id
         FROM jsonb_to_recordset($3) AS k(repository text, number integer)
         JOIN repositories rp ON rp.tenant_id = $1 AND rp.integration_id = $2 AND rp.full_name = k.repository
         JOIN prs p ON p.tenant_id = $1 AND p.repository_id = rp.id AND p.number = k.number",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(sqlx::types::Json(
        keys.iter()
            .map(|(repository, number)| serde_json::json!({"repository": repository, "number": number}))
            .collect::<Vec<_>>(),
    ))
    .fetch_all(pool)
    .await?)
}

#[derive(Deserialize)]
struct StoredResponse {
    login: Option<String>,
    user_type: Option<String>,
    at: DateTime<Utc>,
}

impl From<StoredResponse> for Response {
    fn from(stored: StoredResponse) -> Self {
        Response {
            login: stored.login,
            user_type: stored.user_type,
            at: stored.at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: i64,
    author_login: Option<String>,
    pr_created_at: Option<DateTime<Utc>>,
    merged_at: Option<DateTime<Utc>>,
    commits: Vec<DateTime<Utc>>,
    reviews: sqlx::types::Json<Vec<StoredResponse>>,
    comments: sqlx::types::Json<Vec<StoredResponse>>,
}

/// What the flow metrics of the given pull requests are computed from, by row id.
pub async fn pull_activity(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    external_ids: &[String],
) -> Result<Vec<(i64, PullActivity)>, StoreError> {
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT p.id, p.author_login, p.pr_created_at, p.merged_at,
                coalesce((SELECT array_agg(c.authored_date) FROM pr_commits c
                          WHERE c.pr_id = p.id AND c.authored_date IS NOT NULL), '{}') AS commits,
                coalesce((SELECT jsonb_agg(jsonb_build_object('login', v.author_login, 'user_type', v.author_type, 'at', v.submitted_at))
                          FROM pr_reviews v WHERE v.pr_id = p.id AND v.submitted_at IS NOT NULL), '[]') AS reviews,
                coalesce((SELECT jsonb_agg(jsonb_build_object('login', m.author_login, 'user_type', m.author_type, 'at', m.comment_created_at))
                          FROM pr_comments m WHERE m.pr_id = p.id AND m.comment_created_at IS NOT NULL), '[]') AS comments
         FROM prs p
         WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = ANY($3)",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(external_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let activity = PullActivity {
                author: row.author_login,
                created_at: row.pr_created_at,
                merged_at: row.merged_at,
                commits: row.commits,
                reviews: row.reviews.0.into_iter().map(Response::from).collect(),
                comments: row.comments.0.into_iter().map(Response::from).collect(),
            };
            (row.id, activity)
        })
        .collect())
}

#[derive(Serialize)]
struct MetricsRecord {
    id: i64,
    #[serde(flatten)]
    metrics: FlowMetrics,
}

/// Writes flow metrics by pull-request row id; rows whose metrics are unchanged are not
/// rewritten.
pub async fn set_flow_metrics(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    metrics: &[(i64, FlowMetrics)],
) -> Result<u64, StoreError> {
    if metrics.is_empty() {
        return Ok(0);
    }
    let records: Vec<MetricsRecord> = metrics
        .iter()
        .map(|(id, metrics)| MetricsRecord {
            id: *id,
            metrics: *metrics,
        })
        .collect();
    let done = sqlx::query(
        "UPDATE prs p SET first_commit_at = m.first_commit_at, first_review_at = m.first_review_at,
                coding_time_seconds = m.coding_time_seconds, pickup_time_seconds = m.pickup_time_seconds,
                review_time_seconds = m.review_time_seconds, cycle_time_seconds = m.cycle_time_seconds,
                updated_at = now()
         FROM jsonb_to_recordset($3) AS m(id bigint, first_commit_at timestamptz, first_review_at timestamptz,
              coding_time_seconds double precision, pickup_time_seconds double precision,
              review_time_seconds double precision, cycle_time_seconds double precision)
         WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.id = m.id
           AND (p.first_commit_at, p.first_review_at, p.coding_time_seconds, p.pickup_time_seconds,
                p.review_time_seconds, p.cycle_time_seconds)
               IS DISTINCT FROM
               (m.first_commit_at, m.first_review_at, m.coding_time_seconds, m.pickup_time_seconds,
                m.review_time_seconds, m.cycle_time_seconds)",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(sqlx::types::Json(records))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Pull requests whose metrics are recomputed per statement.
const METRICS_BATCH: usize = 500;

/// Recomputes the flow metrics of the given pull requests (external ids) from their loaded
/// commits, reviews and comments; returns how many changed.
pub async fn refresh_flow_metrics(
    pool: &PgPool,
    integration: IntegrationRef,
    pulls: &[String],
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for batch in pulls.chunks(METRICS_BATCH) {
        let activity = pull_activity(pool, integration, batch).await?;
        let metrics: Vec<_> = activity
            .iter()
            .map(|(id, activity)| (*id, flow_metrics(activity)))
            .collect();
        changed += set_flow_metrics(pool, integration, &metrics).await?;
    }
    Ok(changed)
}

/// The stored ETags of the integration's listings, by resource.
pub async fn etags(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT resource, etag FROM source_etags WHERE tenant_id = $1 AND integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Remembers listings' ETags for the next run.
/// Full names of the integration's loaded repositories.
pub async fn repository_names(
    pool: &PgPool,
    integration: IntegrationRef,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT full_name FROM repositories WHERE tenant_id = $1 AND integration_id = $2 ORDER BY full_name",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .fetch_all(pool)
    .await?)
}

/// Gives the integration's pull requests their repository's current full name (after a
/// rename); returns how many changed.
pub async fn carry_repository_names(
    pool: &PgPool,
    integration: IntegrationRef,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE prs p SET repository_full_name = r.full_name, updated_at = now()
         FROM repositories r
         WHERE r.id = p.repository_id AND p.tenant_id = $1 AND p.integration_id = $2
           AND p.repository_full_name IS DISTINCT FROM r.full_name",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Numbers of the integration's open pull requests of `repository` whose head is `branch`
/// (a push to it adds commits to them).
pub async fn open_pulls_on_branch(
    pool: &PgPool,
    integration: IntegrationRef,
    (repository, branch): (&str, &str),
) -> Result<Vec<i32>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT p.number FROM prs p JOIN repositories r ON r.id = p.repository_id
         WHERE p.tenant_id = $1 AND p.integration_id = $2 AND lower(r.full_name) = lower($3)
           AND p.head_branch = $4 AND p.state = 'open'",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(repository)
    .bind(branch)
    .fetch_all(pool)
    .await?)
}

pub async fn save_etags(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    etags: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let (resources, values): (Vec<&str>, Vec<&str>) = etags
        .iter()
        .map(|(resource, etag)| (resource.as_str(), etag.as_str()))
        .unzip();
    sqlx::query(
        "INSERT INTO source_etags (tenant_id, integration_id, resource, etag)
         SELECT $1, $2, resource, etag FROM unnest($3::text[], $4::text[]) AS e(resource, etag)
         ON CONFLICT (tenant_id, integration_id, resource)
         DO UPDATE SET etag = excluded.etag, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(resources)
    .bind(values)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::load_batches::checks::record_matches_row;

    #[test]
    fn each_row_type_writes_what_its_upsert_reads() {
        record_matches_row::<RepositoryRow>();
        record_matches_row::<PullRow>();
        record_matches_row::<ReviewRow>();
        record_matches_row::<CommitRow>();
        record_matches_row::<CommentRow>();
    }
}
