//! What of pull requests is embedded, for GitHub and Azure DevOps alike: each pull request,
//! as repository, number, title, state and body; found again by its repository's full name
//! and number. A GitHub pull request is read at `github.com/{owner}/{repo}/pull/{n}`, an
//! Azure one at `{organization}/{project}/_git/{repository}/pullrequest/{id}`.

use crate::store::vectors::EmbedTable;

/// The pull-request table, embedded after `step`: the job step of the source registering
/// it that loads pull requests.
pub const fn table(step: &'static str) -> EmbedTable {
    EmbedTable {
        table: "prs",
        step,
    live: "true",
    documents: "SELECT r.id AS record_id, upper(i.provider) AS source_type,
                       r.updated_at AS row_updated_at,
                       repo.full_name || '#' || r.number AS key, 'Pull request' AS kind,
                       r.title, r.body,
                       CASE WHEN r.merged_at IS NOT NULL THEN 'merged' ELSE r.state END AS status,
                       CASE WHEN r.state = 'open' THEN 'indeterminate' ELSE 'done' END
                         AS status_category,
                       r.assignee_login AS assignee,
                       repo.full_name AS scope, '{}'::text[] AS labels,
                       CASE WHEN i.provider = 'azure_devops'
                            THEN rtrim(i.base_url, '/') || '/' || replace(repo.owner, ' ', '%20')
                                 || '/_git/' || replace(repo.name, ' ', '%20')
                                 || '/pullrequest/' || r.number
                            WHEN i.base_url LIKE '%//api.github.com%'
                            THEN 'https://github.com/' || repo.full_name || '/pull/' || r.number
                            ELSE rtrim(i.base_url, '/') || '/' || repo.full_name || '/pull/' || r.number
                       END AS url,
                       r.pr_updated_at AS updated
                FROM prs r
                JOIN repositories repo ON repo.id = r.repository_id
                JOIN integrations i ON i.id = r.integration_id AND i.tenant_id = r.tenant_id
                WHERE r.tenant_id = $1 AND r.id = ANY($2)",
    by_key: "SELECT r.id FROM prs r
             JOIN repositories repo ON repo.id = r.repository_id
             WHERE r.tenant_id = $1
               AND lower(repo.full_name) = lower(split_part($2, '#', 1))
               AND r.number::text = split_part($2, '#', 2)",
}
}
