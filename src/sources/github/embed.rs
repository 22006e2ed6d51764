//! What of GitHub is embedded: each pull request, as repository, number, title, state and
//! body; found again by its repository's full name.

use super::steps;
use crate::store::vectors::EmbedTable;

pub static PRS: EmbedTable = EmbedTable {
    table: "prs",
    step: steps::PULL_REQUESTS,
    source_type: "GITHUB",
    live: "true",
    documents: "SELECT r.id AS record_id, r.updated_at AS row_updated_at,
                       repo.full_name || '#' || r.number AS key, 'Pull request' AS kind,
                       r.title, r.body,
                       CASE WHEN r.merged_at IS NOT NULL THEN 'merged' ELSE r.state END AS status,
                       CASE WHEN r.state = 'open' THEN 'indeterminate' ELSE 'done' END
                         AS status_category,
                       r.assignee_login AS assignee,
                       repo.full_name AS scope, '{}'::text[] AS labels,
                       CASE WHEN i.base_url LIKE '%//api.github.com%' THEN 'https://github.com/'
                            ELSE rtrim(i.base_url, '/') || '/' END
                         || repo.full_name || '/pull/' || r.number AS url,
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
};
