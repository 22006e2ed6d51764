//! What of work items is embedded, for Jira and Azure DevOps alike: each live work item,
//! as key, type, title, status, labels and description; found again by its key. A Jira
//! issue is read at `{site}/browse/{key}`, an Azure work item at
//! `{organization}/{project}/_workitems/edit/{id}`.

use crate::store::vectors::EmbedTable;

/// Reads work-item documents: `$1` tenant id, `$2` record ids.
const DOCUMENTS: &str = "SELECT r.id AS record_id, upper(i.provider) AS source_type,
                       r.updated_at AS row_updated_at, r.key, t.name AS kind,
                       r.summary AS title, r.description AS body, s.name AS status,
                       s.category AS status_category, r.assignee, p.key AS scope, r.labels,
                       CASE WHEN i.provider = 'azure_devops'
                            THEN rtrim(i.base_url, '/') || '/' || replace(p.key, ' ', '%20')
                                 || '/_workitems/edit/' || r.key
                            ELSE rtrim(i.base_url, '/') || '/browse/' || r.key END AS url,
                       r.updated
                FROM work_items r
                JOIN integrations i ON i.id = r.integration_id AND i.tenant_id = r.tenant_id
                LEFT JOIN wits t ON t.id = r.wit_id
                LEFT JOIN statuses s ON s.id = r.status_id
                LEFT JOIN projects p ON p.id = r.project_id
                WHERE r.tenant_id = $1 AND r.id = ANY($2) AND r.deleted_at IS NULL";

/// Live work items by key (`$2`, any case): `$1` tenant id.
const BY_KEY: &str = "SELECT r.id FROM work_items r
             WHERE r.tenant_id = $1 AND r.key = upper($2) AND r.deleted_at IS NULL";

/// The work-item table, embedded after `step`: the job step of the source registering it
/// that loads work items.
pub const fn table(step: &'static str) -> EmbedTable {
    EmbedTable {
        table: "work_items",
        step,
        live: "r.deleted_at IS NULL",
        documents: DOCUMENTS,
        by_key: BY_KEY,
    }
}
