//! Jira tables: statuses, projects, issue types and their links, default workflows and
//! status mappings, work items and changelogs; plus the reads the transform needs.

use std::collections::HashMap;

use sqlx::PgPool;

use super::custom_fields::{mapping_targets_sql, Target};
use super::rows::{
    ChangelogRow, FieldMapping, PrLinkRow, ProjectRow, ProjectWit, StatusRow, WitRow, WorkItemRow,
};
use crate::domain::workflow::{StatusClass, StepCategory};
use crate::domain::{IntegrationId, IntegrationRef, TenantId};
use crate::store::bulk::{Column, Upsert};
use crate::store::load_batches::{LoadRow, LoadTable};
use crate::store::StoreError;

pub const STATUSES: Upsert = Upsert {
    table: "statuses",
    record: &[
        ("external_id", "text"),
        ("name", "text"),
        ("description", "text"),
        ("category", "text"),
        ("category_name", "text"),
    ],
    copied: &[
        "external_id",
        "name",
        "description",
        "category",
        "category_name",
    ],
    computed: &[],
    joins: "",
    conflict_key: &["external_id"],
    guard: None,
};

pub const PROJECTS: Upsert = Upsert {
    table: "projects",
    record: &[
        ("external_id", "text"),
        ("key", "text"),
        ("name", "text"),
        ("project_type", "text"),
    ],
    copied: &["external_id", "key", "name", "project_type"],
    computed: &[],
    joins: "",
    conflict_key: &["external_id"],
    guard: None,
};

pub const WITS: Upsert = Upsert {
    table: "wits",
    record: &[
        ("external_id", "text"),
        ("name", "text"),
        ("description", "text"),
        ("hierarchy_level", "integer"),
        ("subtask", "boolean"),
    ],
    copied: &["external_id", "name", "description", "hierarchy_level"],
    computed: &[Column {
        name: "subtask",
        value: "coalesce(r.subtask, false)",
    }],
    joins: "",
    conflict_key: &["external_id"],
    guard: None,
};

const WORK_ITEM_RECORD: &[(&str, &str)] = &[
    ("external_id", "text"),
    ("key", "text"),
    ("project_external_id", "text"),
    ("wit_external_id", "text"),
    ("status_external_id", "text"),
    ("summary", "text"),
    ("description", "text"),
    ("priority", "text"),
    ("parent_external_id", "text"),
    ("assignee", "text"),
    ("assignee_account", "text"),
    ("reporter", "text"),
    ("labels", "text[]"),
    ("created", "timestamptz"),
    ("updated", "timestamptz"),
    ("resolved", "timestamptz"),
    ("story_points", "float8"),
    ("team", "text"),
    ("code_changed", "boolean"),
    ("custom_field_01", "text"),
    ("custom_field_02", "text"),
    ("custom_field_03", "text"),
    ("custom_field_04", "text"),
    ("custom_field_05", "text"),
    ("custom_field_06", "text"),
    ("custom_field_07", "text"),
    ("custom_field_08", "text"),
    ("custom_field_09", "text"),
    ("custom_field_10", "text"),
    ("custom_field_11", "text"),
    ("custom_field_12", "text"),
    ("custom_field_13", "text"),
    ("custom_field_14", "text"),
    ("custom_field_15", "text"),
    ("custom_field_16", "text"),
    ("custom_field_17", "text"),
    ("custom_field_18", "text"),
    ("custom_field_19", "text"),
    ("custom_field_20", "text"),
    ("custom_fields_overflow", "jsonb"),
    ("work_first_committed_at", "timestamptz"),
    ("work_first_started_at", "timestamptz"),
    ("work_last_started_at", "timestamptz"),
    ("work_first_completed_at", "timestamptz"),
    ("work_last_completed_at", "timestamptz"),
    ("total_work_starts", "integer"),
    ("total_completions", "integer"),
    ("total_backlog_returns", "integer"),
    ("total_work_time_seconds", "float8"),
    ("total_review_time_seconds", "float8"),
    ("total_cycle_time_seconds", "float8"),
    ("total_lead_time_seconds", "float8"),
    ("workflow_complexity_score", "integer"),
    ("rework_indicator", "boolean"),
    ("direct_completion", "boolean"),
];

/// Work-item record fields stored under the same column name.
const WORK_ITEM_COPIED: &[&str] = &[
    "external_id",
    "key",
    "summary",
    "description",
    "priority",
    "parent_external_id",
    "assignee",
    "assignee_account",
    "reporter",
    "created",
    "updated",
    "resolved",
    "story_points",
    "team",
    "code_changed",
    "custom_field_01",
    "custom_field_02",
    "custom_field_03",
    "custom_field_04",
    "custom_field_05",
    "custom_field_06",
    "custom_field_07",
    "custom_field_08",
    "custom_field_09",
    "custom_field_10",
    "custom_field_11",
    "custom_field_12",
    "custom_field_13",
    "custom_field_14",
    "custom_field_15",
    "custom_field_16",
    "custom_field_17",
    "custom_field_18",
    "custom_field_19",
    "custom_field_20",
    "work_first_committed_at",
    "work_first_started_at",
    "work_last_started_at",
    "work_first_completed_at",
    "work_last_completed_at",
    "total_work_starts",
    "total_completions",
    "total_backlog_returns",
    "total_work_time_seconds",
    "total_review_time_seconds",
    "total_cycle_time_seconds",
    "total_lead_time_seconds",
    "workflow_complexity_score",
    "rework_indicator",
    "direct_completion",
];

/// Work-item columns filled by an expression: resolved ids, defaults, undeletion.
const WORK_ITEM_COMPUTED: &[Column] = &[
    Column {
        name: "project_id",
        value: "p.id",
    },
    Column {
        name: "wit_id",
        value: "w.id",
    },
    Column {
        name: "status_id",
        value: "s.id",
    },
    Column {
        name: "labels",
        value: "coalesce(r.labels, '{}')",
    },
    Column {
        name: "custom_fields_overflow",
        value: "coalesce(r.custom_fields_overflow, '{}')",
    },
    Column {
        name: "deleted_at",
        value: "NULL::timestamptz",
    },
];

pub static WORK_ITEMS: LoadTable = LoadTable {
    after_load: None,
    order: 10,
    upsert: Upsert {
        table: "work_items",
        record: WORK_ITEM_RECORD,
        copied: WORK_ITEM_COPIED,
        computed: WORK_ITEM_COMPUTED,
        joins: "LEFT JOIN projects p ON p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = r.project_external_id \
                LEFT JOIN wits w ON w.tenant_id = $1 AND w.integration_id = $2 AND w.external_id = r.wit_external_id \
                LEFT JOIN statuses s ON s.tenant_id = $1 AND s.integration_id = $2 AND s.external_id = r.status_external_id",
        conflict_key: &["external_id"],
        // An older copy of an issue never overwrites a newer one (messages may arrive late).
        guard: Some("excluded.updated IS NULL OR work_items.updated IS NULL OR excluded.updated >= work_items.updated"),
    },
};

pub static CHANGELOGS: LoadTable = LoadTable {
    after_load: None,
    order: 11,
    upsert: Upsert {
        table: "changelogs",
        record: &[
            ("external_id", "text"),
            ("work_item_external_id", "text"),
            ("from_status_external_id", "text"),
            ("to_status_external_id", "text"),
            ("transition_start_date", "timestamptz"),
            ("transition_change_date", "timestamptz"),
            ("time_in_status_seconds", "float8"),
            ("author", "text"),
        ],
        copied: &["external_id", "transition_start_date", "transition_change_date", "time_in_status_seconds", "author"],
        computed: &[
            Column { name: "work_item_id", value: "wi.id" },
            Column { name: "from_status_id", value: "fs.id" },
            Column { name: "to_status_id", value: "ts.id" },
        ],
        joins: "JOIN work_items wi ON wi.tenant_id = $1 AND wi.integration_id = $2 AND wi.external_id = r.work_item_external_id \
                LEFT JOIN statuses fs ON fs.tenant_id = $1 AND fs.integration_id = $2 AND fs.external_id = r.from_status_external_id \
                LEFT JOIN statuses ts ON ts.tenant_id = $1 AND ts.integration_id = $2 AND ts.external_id = r.to_status_external_id",
        conflict_key: &["external_id"],
        guard: None,
    },
};

pub async fn upsert_statuses(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    rows: &[StatusRow],
) -> Result<u64, StoreError> {
    let changed = STATUSES
        .run(
            pool,
            IntegrationRef::new(tenant_id, integration_id),
            rows,
            |r| &r.external_id,
        )
        .await?;
    ensure_default_workflows(pool, tenant_id, integration_id).await?;
    Ok(changed)
}

pub async fn upsert_projects(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    rows: &[ProjectRow],
) -> Result<u64, StoreError> {
    PROJECTS
        .run(
            pool,
            IntegrationRef::new(tenant_id, integration_id),
            rows,
            |r| &r.external_id,
        )
        .await
}

pub async fn upsert_wits(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    rows: &[WitRow],
) -> Result<u64, StoreError> {
    WITS.run(
        pool,
        IntegrationRef::new(tenant_id, integration_id),
        rows,
        |r| &r.external_id,
    )
    .await
}

/// Links projects to the issue types they use (both must be loaded already).
pub async fn link_projects_wits(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    links: &[ProjectWit],
) -> Result<u64, StoreError> {
    if links.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO projects_wits (tenant_id, project_id, wit_id)
         SELECT $1, p.id, w.id FROM jsonb_to_recordset($3) AS r(project_external_id text, wit_external_id text)
         JOIN projects p ON p.tenant_id = $1 AND p.integration_id = $2 AND p.external_id = r.project_external_id
         JOIN wits w ON w.tenant_id = $1 AND w.integration_id = $2 AND w.external_id = r.wit_external_id
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(sqlx::types::Json(links))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// One workflow step per status name (category from Jira's, "To Do" the commitment point)
/// and a mapping for every status not mapped yet; steps and mappings the tenant edited stay.
async fn ensure_default_workflows(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<(), StoreError> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO workflows (tenant_id, integration_id, step_name, step_number, step_category, is_commitment_point)
         SELECT $1, $2, s.name,
                row_number() OVER (ORDER BY CASE s.category WHEN 'indeterminate' THEN 2 WHEN 'done' THEN 3 ELSE 1 END, s.name),
                CASE s.category WHEN 'indeterminate' THEN 'in progress' WHEN 'done' THEN 'done' ELSE 'to do' END,
                lower(s.name) = 'to do'
         FROM (SELECT DISTINCT ON (name) name, category FROM statuses
               WHERE tenant_id = $1 AND integration_id = $2 ORDER BY name, external_id) s
         ON CONFLICT (tenant_id, integration_id, step_name) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .execute(&mut *transaction)
    .await?;
    sqlx::query(
        "INSERT INTO status_mappings (tenant_id, integration_id, status_id, workflow_id)
         SELECT $1, $2, s.id, w.id FROM statuses s
         JOIN workflows w ON w.tenant_id = $1 AND w.integration_id = $2 AND w.step_name = s.name
         WHERE s.tenant_id = $1 AND s.integration_id = $2
         ON CONFLICT (tenant_id, status_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// How each status of the integration counts in workflow metrics, by status external id.
pub async fn status_classes(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<HashMap<String, StatusClass>, StoreError> {
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT s.external_id, w.step_category, w.is_commitment_point
         FROM statuses s
         JOIN status_mappings m ON m.status_id = s.id AND m.tenant_id = s.tenant_id
         JOIN workflows w ON w.id = m.workflow_id
         WHERE s.tenant_id = $1 AND s.integration_id = $2",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, category, commitment)| {
            let category = match category.as_str() {
                "in progress" => StepCategory::InProgress,
                "done" => StepCategory::Done,
                _ => StepCategory::ToDo,
            };
            (
                id,
                StatusClass {
                    category,
                    commitment,
                },
            )
        })
        .collect())
}

/// The integration's custom-field mapping (empty when none was configured).
pub async fn field_mapping(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<FieldMapping, StoreError> {
    let sql = format!(
        "SELECT v.target, f.external_id FROM custom_fields_mapping m
         CROSS JOIN LATERAL {} AS v(target, field_id)
         JOIN custom_fields f ON f.id = v.field_id AND f.tenant_id = m.tenant_id
         WHERE m.tenant_id = $1 AND m.integration_id = $2 AND m.active",
        mapping_targets_sql()
    );
    let rows: Vec<(String, String)> = sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(integration_id)
        .fetch_all(pool)
        .await?;
    let mut mapping = FieldMapping::default();
    for (label, field) in rows {
        match Target::from_label(&label) {
            Some(Target::Team) => mapping.team = Some(field),
            Some(Target::StoryPoints) => mapping.story_points = Some(field),
            Some(Target::CodeChanged) => mapping.code_changed = Some(field),
            Some(Target::Slot(n)) => {
                if let Some(slot) = mapping.slots.get_mut(n.wrapping_sub(1)) {
                    *slot = Some(field);
                }
            }
            None => {}
        }
    }
    Ok(mapping)
}

/// A batch holding one issue twice keeps the most recently updated copy.
impl LoadRow for WorkItemRow {
    const TABLE: &'static LoadTable = &WORK_ITEMS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }

    fn supersedes(&self, earlier: &Self) -> bool {
        self.updated >= earlier.updated
    }
}

/// Status transitions; their work items load first.
impl LoadRow for ChangelogRow {
    const TABLE: &'static LoadTable = &CHANGELOGS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}

/// Marks the integration's live work items whose external id is not in `seen` as deleted
/// (after a full run); returns how many.
pub async fn mark_missing_deleted(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    seen: &std::collections::HashSet<String>,
) -> Result<u64, StoreError> {
    let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
    let done = sqlx::query(
        "UPDATE work_items SET deleted_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND integration_id = $2 AND deleted_at IS NULL AND NOT (external_id = ANY($3))",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(&seen)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Marks the integration's live work items with these external ids as deleted (the
/// source said so); returns how many.
pub async fn mark_deleted(
    pool: &PgPool,
    integration: crate::domain::IntegrationRef,
    external_ids: &[String],
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE work_items SET deleted_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND integration_id = $2 AND deleted_at IS NULL AND external_id = ANY($3)",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(external_ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub const PR_LINKS: Upsert = Upsert {
    table: "work_item_pr_links",
    record: &[
        ("external_id", "text"),
        ("work_item_external_id", "text"),
        ("repository_full_name", "text"),
        ("pr_number", "integer"),
        ("pr_url", "text"),
        ("pr_status", "text"),
        ("last_update", "timestamptz"),
    ],
    copied: &["external_id", "repository_full_name", "pr_number", "pr_url", "pr_status", "last_update"],
    computed: &[
        Column { name: "work_item_id", value: "wi.id" },
    ],
    joins: "JOIN work_items wi ON wi.tenant_id = $1 AND wi.integration_id = $2 AND wi.external_id = r.work_item_external_id",
    conflict_key: &["external_id"],
    guard: None,
};

/// Upserts pull-request links; their work items must be loaded already.
pub async fn upsert_pr_links(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    rows: &[PrLinkRow],
) -> Result<u64, StoreError> {
    PR_LINKS
        .run(
            pool,
            IntegrationRef::new(tenant_id, integration_id),
            rows,
            |r| &r.external_id,
        )
        .await
}

/// Keys of the integration's loaded projects.
pub async fn project_keys(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT key FROM projects WHERE tenant_id = $1 AND integration_id = $2 AND active ORDER BY key")
        .bind(tenant_id)
        .bind(integration_id)
        .fetch_all(pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::work_items::custom_fields::CUSTOM_FIELDS;
    use crate::sources::work_items::rows::CustomFieldRow;
    use crate::store::load_batches::checks::{record_matches, record_matches_row};

    #[test]
    fn each_row_type_writes_what_its_upsert_reads() {
        record_matches_row::<WorkItemRow>();
        record_matches_row::<ChangelogRow>();
        record_matches::<StatusRow>(&STATUSES);
        record_matches::<ProjectRow>(&PROJECTS);
        record_matches::<WitRow>(&WITS);
        record_matches::<CustomFieldRow>(&CUSTOM_FIELDS);
        record_matches::<PrLinkRow>(&PR_LINKS);
    }
}
