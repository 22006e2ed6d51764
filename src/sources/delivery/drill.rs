//! What stands behind each DORA key over a window: the production deployments (with whether
//! and why each failed and how many changes it shipped), the changes shipped (with their
//! lead times) and the incidents (with their repositories and the deployments they were laid
//! at). Newest first, at most `limit` rows; optionally one repository's.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::dora::{incident_rules, IntegrationRules, PRELUDE};
use crate::domain::TenantId;
use crate::store::StoreError;

/// The window and filter a drill-down reads.
#[derive(Debug, Clone)]
pub struct Drill {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only this repository (`owner/name`).
    pub repository: Option<String>,
    pub limit: i64,
}

/// A successful production deployment finished in the window.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct DeploymentDrill {
    pub id: i64,
    pub repository: String,
    pub environment: Option<String>,
    pub description: Option<String>,
    pub commit_sha: Option<String>,
    pub finished_at: DateTime<Utc>,
    /// Pull requests it brought to production first.
    pub changes: i64,
    /// Rolled back: the next production deployment went back to an older commit.
    pub rolled_back: bool,
    /// Keys of the incidents laid at it.
    pub incidents: Vec<String>,
}

/// A pull request shipped in the window.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ChangeDrill {
    pub pr_id: i64,
    pub repository: String,
    pub number: i32,
    pub title: Option<String>,
    pub first_commit_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub deployed_at: DateTime<Utc>,
    pub deployment_id: i64,
    pub lead_time_seconds: Option<f64>,
}

/// An incident resolved in the window.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct IncidentDrill {
    pub key: String,
    pub summary: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: DateTime<Utc>,
    pub restore_seconds: f64,
    pub repositories: Vec<String>,
    /// Ids of the deployments it was laid at.
    pub deployments: Vec<i64>,
}

fn bound<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    tenant_id: TenantId,
    drill: &'q Drill,
    integrations: &IntegrationRules,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(tenant_id)
        .bind(drill.since)
        .bind(drill.until)
        .bind(incident_rules(integrations))
        .bind(drill.repository.as_deref())
        .bind(drill.limit)
}

/// The production deployments finished in the window (`$5` repository or NULL, `$6` limit).
pub async fn deployments(
    pool: &PgPool,
    tenant_id: TenantId,
    drill: &Drill,
    integrations: &IntegrationRules,
) -> Result<Vec<DeploymentDrill>, StoreError> {
    let statement = format!(
        "{PRELUDE}
         SELECT d.id, rp.full_name AS repository, dd.environment, dd.description, dd.commit_sha,
                d.finished_at,
                (SELECT count(*) FROM pr_deployments pd WHERE pd.deployment_id = d.id) AS changes,
                coalesce(d.next_committed_at < d.commit_committed_at, FALSE) AS rolled_back,
                array(SELECT i.key FROM blamed b JOIN incidents i ON i.id = b.incident_id
                      WHERE b.id = d.id ORDER BY i.key) AS incidents
         FROM production d
         JOIN deployments dd ON dd.id = d.id
         JOIN repositories rp ON rp.id = d.repository_id
         WHERE d.finished_at >= $2 AND d.finished_at < $3
           AND ($5::text IS NULL OR rp.full_name = $5)
         ORDER BY d.finished_at DESC, d.id DESC
         LIMIT $6"
    );
    Ok(
        bound(sqlx::query_as(&statement), tenant_id, drill, integrations)
            .fetch_all(pool)
            .await?,
    )
}

/// The pull requests shipped in the window.
pub async fn changes(
    pool: &PgPool,
    tenant_id: TenantId,
    drill: &Drill,
    integrations: &IntegrationRules,
) -> Result<Vec<ChangeDrill>, StoreError> {
    let statement = format!(
        "{PRELUDE}
         SELECT p.id AS pr_id, rp.full_name AS repository, p.number, p.title, p.first_commit_at,
                p.merged_at, pd.deployed_at, pd.deployment_id,
                extract(epoch FROM pd.deployed_at - p.first_commit_at)::float8 AS lead_time_seconds
         FROM pr_deployments pd
         JOIN prs p ON p.id = pd.pr_id
         JOIN repositories rp ON rp.id = p.repository_id
         WHERE pd.tenant_id = $1 AND pd.deployed_at >= $2 AND pd.deployed_at < $3
           AND ($5::text IS NULL OR rp.full_name = $5)
         ORDER BY pd.deployed_at DESC, p.id DESC
         LIMIT $6"
    );
    Ok(
        bound(sqlx::query_as(&statement), tenant_id, drill, integrations)
            .fetch_all(pool)
            .await?,
    )
}

/// The incidents resolved in the window.
pub async fn incidents(
    pool: &PgPool,
    tenant_id: TenantId,
    drill: &Drill,
    integrations: &IntegrationRules,
) -> Result<Vec<IncidentDrill>, StoreError> {
    let statement = format!(
        "{PRELUDE}
         SELECT i.key, i.summary, i.opened_at, i.resolved_at,
                extract(epoch FROM i.resolved_at - i.opened_at)::float8 AS restore_seconds,
                array(SELECT rp.full_name FROM incident_repositories ir
                      JOIN repositories rp ON rp.id = ir.repository_id
                      WHERE ir.incident_id = i.id ORDER BY rp.full_name) AS repositories,
                array(SELECT b.id FROM blamed b WHERE b.incident_id = i.id ORDER BY b.id)
                    AS deployments
         FROM incidents i
         WHERE i.resolved_at >= $2 AND i.resolved_at < $3
           AND ($5::text IS NULL OR EXISTS (
                   SELECT 1 FROM incident_repositories ir
                   JOIN repositories rp ON rp.id = ir.repository_id
                   WHERE ir.incident_id = i.id AND rp.full_name = $5))
         ORDER BY i.resolved_at DESC, i.id DESC
         LIMIT $6"
    );
    Ok(
        bound(sqlx::query_as(&statement), tenant_id, drill, integrations)
            .fetch_all(pool)
            .await?,
    )
}
