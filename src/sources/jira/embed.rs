//! What of Jira is embedded: each live work item, as key, issue type, summary, status,
//! labels and description; found again by its project key.

use super::steps;
use crate::store::vectors::EmbedTable;

pub static WORK_ITEMS: EmbedTable = EmbedTable {
    table: "work_items",
    step: steps::ISSUES,
    source_type: "JIRA",
    live: "r.deleted_at IS NULL",
    documents: "SELECT r.id AS record_id, r.updated_at AS row_updated_at, r.key, t.name AS kind,
                       r.summary AS title, r.description AS body, s.name AS status,
                       s.category AS status_category, r.assignee, p.key AS scope,
                       r.labels, rtrim(i.base_url, '/') || '/browse/' || r.key AS url, r.updated
                FROM work_items r
                JOIN integrations i ON i.id = r.integration_id AND i.tenant_id = r.tenant_id
                LEFT JOIN wits t ON t.id = r.wit_id
                LEFT JOIN statuses s ON s.id = r.status_id
                LEFT JOIN projects p ON p.id = r.project_id
                WHERE r.tenant_id = $1 AND r.id = ANY($2) AND r.deleted_at IS NULL",
    by_key: "SELECT r.id FROM work_items r
             WHERE r.tenant_id = $1 AND r.key = upper($2) AND r.deleted_at IS NULL",
};
