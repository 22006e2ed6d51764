//! Which production deployment first shipped each merged pull request: the first successful
//! production deployment of its repository that finished after the merge and deployed a
//! commit committed at or after it. The repository's history on the deployed branch is taken
//! as ordered by merge time (merge, squash and rebase merges all append to the tip), so the
//! deployed commit holds every pull request merged until it was committed; a rollback
//! deploys an older commit and ships nothing new.
//!
//! The work is incremental: only pull requests that wait for a deployment, that the changed
//! deployments shipped, or that a changed deployment of their repository could ship earlier
//! are looked at again.

use sqlx::PgPool;

use crate::domain::IntegrationRef;
use crate::store::StoreError;

/// Changed deployments from which the tables are analyzed before matching. Right after a
/// bulk load the planner may hold no statistics of the rows just written, and without them
/// it scans the deployments once per pull request: matching 100,000 pull requests to 10,000
/// deployments took 61 s so, 1.5 s with statistics. An integration's first match (its first
/// sync) and large ones (reprocess) refresh them first.
const ANALYZE_FROM: usize = 1_000;

/// Whether the integration has no pull request matched to a deployment yet.
async fn first_match(pool: &PgPool, ids: IntegrationRef) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM pr_deployments pd JOIN prs p ON p.id = pd.pr_id
                            WHERE pd.tenant_id = $1 AND p.integration_id = $2)",
    )
    .bind(ids.tenant)
    .bind(ids.integration)
    .fetch_one(pool)
    .await?)
}

/// Re-decides which deployment shipped the integration's merged pull requests that may have
/// changed: those not yet shipped, and those a deployment among `changed` (external ids,
/// just loaded) shipped or could have shipped earlier. Returns how many pull requests'
/// shipping deployments changed.
pub async fn ship(
    pool: &PgPool,
    ids: IntegrationRef,
    changed: &[String],
) -> Result<u64, StoreError> {
    if changed.len() >= ANALYZE_FROM || first_match(pool, ids).await? {
        sqlx::query("ANALYZE deployments, prs, pr_deployments")
            .execute(pool)
            .await?;
    }
    let result = sqlx::query(
        "WITH changed AS (
             SELECT id, repository_id, coalesce(finished_at, deployment_created_at) AS at
             FROM deployments
             WHERE tenant_id = $1 AND integration_id = $2 AND external_id = ANY($3)
         ), earliest AS (
             SELECT repository_id, min(at) AS since FROM changed GROUP BY repository_id
         ), candidates AS (
             SELECT p.id, p.repository_id, p.merged_at
             FROM prs p
             LEFT JOIN pr_deployments pd ON pd.tenant_id = $1 AND pd.pr_id = p.id
             LEFT JOIN earliest e ON e.repository_id = p.repository_id
             WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.merged_at IS NOT NULL
               AND (pd.pr_id IS NULL
                    OR pd.deployed_at >= e.since
                    OR pd.deployment_id IN (SELECT id FROM changed))
         ), shipped AS (
             SELECT c.id AS pr_id, d.id AS deployment_id, d.finished_at
             FROM candidates c
             LEFT JOIN LATERAL (
                 SELECT d.id, d.finished_at FROM deployments d
                 WHERE d.tenant_id = $1 AND d.repository_id = c.repository_id
                   AND d.is_production AND d.outcome = 'success'
                   AND d.finished_at >= c.merged_at AND d.commit_committed_at >= c.merged_at
                 ORDER BY d.finished_at, d.id
                 LIMIT 1
             ) d ON TRUE
         ), unshipped AS (
             DELETE FROM pr_deployments pd USING shipped s
             WHERE pd.tenant_id = $1 AND pd.pr_id = s.pr_id AND s.deployment_id IS NULL
             RETURNING pd.pr_id
         ), upserted AS (
             INSERT INTO pr_deployments (tenant_id, pr_id, deployment_id, deployed_at)
             SELECT $1, pr_id, deployment_id, finished_at FROM shipped
             WHERE deployment_id IS NOT NULL
             ON CONFLICT (tenant_id, pr_id) DO UPDATE
                 SET deployment_id = excluded.deployment_id, deployed_at = excluded.deployed_at
                 WHERE (pr_deployments.deployment_id, pr_deployments.deployed_at)
                       IS DISTINCT FROM (excluded.deployment_id, excluded.deployed_at)
             RETURNING pr_id
         )
         SELECT (SELECT count(*) FROM unshipped) + (SELECT count(*) FROM upserted)",
    )
    .bind(ids.tenant)
    .bind(ids.integration)
    .bind(changed)
    .fetch_one(pool)
    .await?;
    use sqlx::Row;
    Ok(result.try_get::<i64, _>(0)? as u64)
}
