//! What of work items is embedded, for Jira and Azure DevOps alike: each live work item,
//! as key, type, title, status, labels and description; found again by its key. A Jira
//! issue is read at `{site}/browse/{key}`, an Azure work item at
//! `{organization}/{project}/_workitems/edit/{id}`.

use super::steps;
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

/// Work items, embedded after the job step that loads them.
const fn work_items(step: &'static str) -> EmbedTable {
    EmbedTable {
        table: "work_items",
        step,
        live: "r.deleted_at IS NULL",
        documents: DOCUMENTS,
        by_key: BY_KEY,
    }
}

/// Work items, embedded after a Jira job's issues step.
pub static WORK_ITEMS: EmbedTable = work_items(steps::ISSUES);

/// The same table, embedded after an Azure DevOps job's work items step.
pub static AZURE_WORK_ITEMS: EmbedTable =
    work_items(crate::sources::azure_devops::steps::WORK_ITEMS);
