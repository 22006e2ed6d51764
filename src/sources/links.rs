//! Work items linked to pull requests by the keys a pull request carries, so that no call
//! per issue to Jira's development panel is needed. GitHub pull requests carry Jira issue
//! keys in their title, branch or commit messages (as DevLake links them); Azure Repos pull
//! requests carry work item ids, by reference or `AB#123` mention, found when they are
//! read, and link only to their own organization's work items (ids are per organization).
//! Links are written from whichever side loads second, so the order of the syncs does not
//! matter. Jira integrations set to `dev_status` keep the links their development panel
//! gives and get none from here.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::IntegrationRef;
use crate::store::StoreError;

/// What a Jira issue key looks like: a project key, a dash, a number.
const KEY_PATTERN: &str = "([A-Z][A-Z0-9_]+-[1-9][0-9]*)";

/// Links of the pull requests and work items the `filter` selects (`p` the pull request,
/// `w` the work item; `$1` the tenant, `$2` the integration, `$3` more). Existing links are
/// refreshed where the pull request's state changed.
fn link_sql(filter: &str) -> String {
    format!(
        "INSERT INTO work_item_pr_links (tenant_id, integration_id, external_id, work_item_id,
                                         repository_full_name, pr_number, pr_url, pr_status, last_update)
         SELECT w.tenant_id, w.integration_id, w.external_id || ':' || u.url, w.id, r.full_name,
                p.number, u.url,
                CASE WHEN p.merged_at IS NOT NULL THEN 'MERGED' WHEN p.state = 'open' THEN 'OPEN'
                     ELSE 'DECLINED' END,
                p.pr_updated_at
         FROM prs p
         JOIN repositories r ON r.id = p.repository_id
         JOIN integrations gi ON gi.tenant_id = p.tenant_id AND gi.id = p.integration_id
         CROSS JOIN LATERAL unnest(p.issue_keys) AS k(key)
         JOIN work_items w ON w.tenant_id = p.tenant_id AND w.key = k.key AND w.deleted_at IS NULL
         JOIN integrations ji ON ji.tenant_id = w.tenant_id AND ji.id = w.integration_id
                             AND NOT coalesce((ji.settings->>'dev_status')::boolean, false)
                             -- Azure work item ids are the organization's own.
                             AND (gi.provider <> 'azure_devops' OR ji.id = gi.id)
         CROSS JOIN LATERAL (
             SELECT CASE WHEN gi.provider = 'azure_devops'
                         THEN rtrim(gi.base_url, '/') || '/' || replace(r.owner, ' ', '%20') || '/_git/'
                              || replace(r.name, ' ', '%20') || '/pullrequest/' || p.number
                         ELSE CASE WHEN gi.base_url LIKE '%//api.github.com%' THEN 'https://github.com'
                                   ELSE substring(gi.base_url FROM '^(https?://[^/]+)') END
                              || '/' || r.full_name || '/pull/' || p.number
                    END AS url) u
         WHERE {filter}
         ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE
         SET pr_status = excluded.pr_status, last_update = excluded.last_update, updated_at = now()
         WHERE (work_item_pr_links.pr_status, work_item_pr_links.last_update)
               IS DISTINCT FROM (excluded.pr_status, excluded.last_update)"
    )
}

/// Finds the issue keys of the given pull requests (external ids) of a GitHub integration
/// from their loaded title, branch and commits, then links them to the tenant's work items
/// with those keys and drops the key links they no longer carry. Returns the links
/// written, refreshed or dropped.
pub async fn link_pulls(
    pool: &PgPool,
    integration: IntegrationRef,
    pulls: &[String],
) -> Result<u64, StoreError> {
    if pulls.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "UPDATE prs p SET issue_keys = k.keys
         FROM (SELECT p2.id,
                      coalesce((SELECT array_agg(DISTINCT found.m[1] ORDER BY found.m[1])
                                FROM regexp_matches(
                                    concat_ws(' ', p2.title, p2.head_branch,
                                              (SELECT string_agg(c.message, ' ') FROM pr_commits c
                                               WHERE c.pr_id = p2.id)),
                                    $4, 'g') AS found(m)), '{}') AS keys
               FROM prs p2
               WHERE p2.tenant_id = $1 AND p2.integration_id = $2 AND p2.external_id = ANY($3)) k
         WHERE p.id = k.id AND p.issue_keys IS DISTINCT FROM k.keys",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(pulls)
    .bind(KEY_PATTERN)
    .execute(pool)
    .await?;
    link_keyed_pulls(pool, integration, pulls).await
}

/// Gives pull requests (external id, keys) the work item keys found when they were read,
/// then links them as [`link_pulls`] does. Returns the links written, refreshed or dropped.
pub async fn link_pulls_by_keys(
    pool: &PgPool,
    integration: IntegrationRef,
    keys: &[(String, Vec<String>)],
) -> Result<u64, StoreError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|(id, keys)| serde_json::json!({"id": id, "keys": keys}))
        .collect();
    sqlx::query(
        "UPDATE prs p SET issue_keys = k.keys
         FROM jsonb_to_recordset($3) AS k(id text, keys text[])
         WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = k.id
           AND p.issue_keys IS DISTINCT FROM k.keys",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(sqlx::types::Json(records))
    .execute(pool)
    .await?;
    let pulls: Vec<String> = keys.iter().map(|(id, _)| id.clone()).collect();
    link_keyed_pulls(pool, integration, &pulls).await
}

/// Links the given pull requests to the tenant's work items with the keys they carry, and
/// drops the key links they no longer carry.
async fn link_keyed_pulls(
    pool: &PgPool,
    integration: IntegrationRef,
    pulls: &[String],
) -> Result<u64, StoreError> {
    let linked = sqlx::query(&link_sql(
        "p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = ANY($3)",
    ))
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(pulls)
    .execute(pool)
    .await?;
    // A pull request that no longer names a key (title or branch renamed) loses the link.
    let unlinked = sqlx::query(
        "DELETE FROM work_item_pr_links l
         USING prs p, repositories r, work_items w, integrations ji
         WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = ANY($3)
           AND r.id = p.repository_id
           AND l.tenant_id = p.tenant_id AND l.repository_full_name = r.full_name AND l.pr_number = p.number
           AND w.id = l.work_item_id AND NOT p.issue_keys @> ARRAY[w.key]
           AND ji.tenant_id = l.tenant_id AND ji.id = l.integration_id
           AND NOT coalesce((ji.settings->>'dev_status')::boolean, false)",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(pulls)
    .execute(pool)
    .await?;
    Ok(linked.rows_affected() + unlinked.rows_affected())
}

/// Links the work items of a Jira or Azure DevOps integration changed since `since` (all when None) to
/// the tenant's loaded pull requests that name their keys; older work items were linked
/// when they or those pull requests loaded. Returns the links written or refreshed.
pub async fn link_work_items(
    pool: &PgPool,
    integration: IntegrationRef,
    since: Option<DateTime<Utc>>,
) -> Result<u64, StoreError> {
    let linked = sqlx::query(&link_sql(
        "w.tenant_id = $1 AND w.integration_id = $2 AND ($3::timestamptz IS NULL OR w.updated >= $3)",
    ))
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(linked.rows_affected())
}
