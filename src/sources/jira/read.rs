//! Reading Jira tables for people: work item pages and details (status timeline, the
//! fifteen workflow metrics, mapped custom fields, linked pull requests), flow-metric
//! distributions, and the projects, issue types, statuses, workflow steps and status
//! mappings a tenant configures. Every query filters by tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::domain::workflow::WorkflowMetrics;
use crate::domain::{IntegrationId, TenantId};
use crate::sources::people::teams;
use crate::sources::work_items::rows::CUSTOM_FIELD_SLOTS;
use crate::store::stats::{percentile_columns, week_of};
use crate::store::StoreError;

/// A work item in a list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct WorkItemRow {
    pub id: i64,
    pub integration_id: IntegrationId,
    pub key: String,
    pub summary: Option<String>,
    pub project_key: Option<String>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub work_item_type: Option<String>,
    pub status: Option<String>,
    /// Jira's status category: `new`, `indeterminate`, `done`.
    pub status_category: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub story_points: Option<f64>,
    pub total_cycle_time_seconds: f64,
    pub total_lead_time_seconds: f64,
}

/// Which work items a list shows.
#[derive(Debug, Clone, Default)]
pub struct WorkItemFilter {
    pub integration_id: Option<IntegrationId>,
    pub project: Option<String>,
    pub status: Option<String>,
    pub work_item_type: Option<String>,
    pub assignee: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Words matched against key, summary and description (web-search syntax).
    pub text: Option<String>,
}

const WORK_ITEM_COLUMNS: &str = "w.id, w.integration_id, w.key, w.summary, p.key AS project_key,
    t.name AS type, s.name AS status, s.category AS status_category, w.priority, w.assignee,
    w.created, w.updated, w.resolved, w.story_points, w.total_cycle_time_seconds,
    w.total_lead_time_seconds";

const WORK_ITEM_JOINS: &str = "FROM work_items w
    LEFT JOIN projects p ON p.id = w.project_id
    LEFT JOIN wits t ON t.id = w.wit_id
    LEFT JOIN statuses s ON s.id = w.status_id";

/// The full-text document of a work item (an index covers exactly this expression).
const WORK_ITEM_TEXT: &str = "to_tsvector('simple', coalesce(w.key, '') || ' ' || coalesce(w.summary, '') || ' ' || coalesce(w.description, ''))";

/// Up to `fetch` work items before id `before` (newest first), as filtered. Names (project
/// key, status, type) are turned into ids first, so the page is read from the
/// (tenant, project, status, id) index in order; only the filters given become SQL, so each
/// combination gets its own plan.
pub async fn work_items(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &WorkItemFilter,
    before: Option<i64>,
    fetch: i64,
) -> Result<Vec<WorkItemRow>, StoreError> {
    let mut named = Vec::new();
    for (column, table, name_column, name) in [
        ("w.project_id", "projects", "key", &filter.project),
        ("w.status_id", "statuses", "name", &filter.status),
        ("w.wit_id", "wits", "name", &filter.work_item_type),
    ] {
        if let Some(name) = name {
            let ids = ids_named(pool, tenant_id, table, name_column, name).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            named.push((column, ids));
        }
    }
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {WORK_ITEM_COLUMNS} {WORK_ITEM_JOINS} WHERE w.tenant_id = "
    ));
    query.push_bind(tenant_id).push(" AND w.deleted_at IS NULL");
    for (column, ids) in named {
        match ids.as_slice() {
            [id] => query.push(format!(" AND {column} = ")).push_bind(*id),
            _ => query
                .push(format!(" AND {column} = ANY("))
                .push_bind(ids)
                .push(")"),
        };
    }
    if let Some(before) = before {
        query.push(" AND w.id < ").push_bind(before);
    }
    if let Some(integration) = filter.integration_id {
        query
            .push(" AND w.integration_id = ")
            .push_bind(integration);
    }
    if let Some(assignee) = &filter.assignee {
        query.push(" AND w.assignee = ").push_bind(assignee.clone());
    }
    if let Some(since) = filter.updated_since {
        query.push(" AND w.updated >= ").push_bind(since);
    }
    if let Some(text) = &filter.text {
        query
            .push(format!(
                " AND {WORK_ITEM_TEXT} @@ websearch_to_tsquery('simple', "
            ))
            .push_bind(text.clone())
            .push(")");
    }
    query.push(" ORDER BY w.id DESC LIMIT ").push_bind(fetch);
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// The ids of the tenant's rows of `table` whose `column` is `name` (several integrations
/// may share a project key or status name).
async fn ids_named(
    pool: &PgPool,
    tenant_id: TenantId,
    table: &'static str,
    column: &'static str,
    name: &str,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE tenant_id = $1 AND {column} = $2"
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// A work item with everything known about it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct WorkItemDetail {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub item: WorkItemRow,
    pub external_id: String,
    pub description: Option<String>,
    pub parent_external_id: Option<String>,
    pub reporter: Option<String>,
    pub labels: Vec<String>,
    pub team: Option<String>,
    pub code_changed: Option<bool>,
    #[sqlx(flatten)]
    pub metrics: WorkflowMetrics,
    /// Custom fields outside the twenty slots, by field id.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub custom_fields_overflow: serde_json::Value,
    #[sqlx(skip)]
    pub custom_fields: Vec<CustomFieldValue>,
    #[sqlx(skip)]
    pub timeline: Vec<Transition>,
    #[sqlx(skip)]
    pub linked_prs: Vec<LinkedPr>,
}

/// A mapped slot's value.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct CustomFieldValue {
    /// `custom_field_01` .. `custom_field_20`.
    pub slot: String,
    pub field: String,
    pub name: String,
    pub value: String,
}

/// One status change, oldest first.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Transition {
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    /// When the previous status was entered.
    pub transition_start_date: DateTime<Utc>,
    pub transition_change_date: DateTime<Utc>,
    pub time_in_status_seconds: f64,
    pub author: Option<String>,
}

/// A pull request the work item's development panel names (loaded or not).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct LinkedPr {
    pub pr_url: String,
    pub pr_status: Option<String>,
    pub repository: Option<String>,
    pub number: Option<i32>,
    /// The loaded pull request, when its repository is synced.
    pub pr_id: Option<i64>,
    pub title: Option<String>,
}

/// The tenant's work item with `key` (the oldest, should two integrations share a key).
pub async fn work_item(
    pool: &PgPool,
    tenant_id: TenantId,
    key: &str,
) -> Result<Option<WorkItemDetail>, StoreError> {
    let found: Option<WorkItemDetail> = sqlx::query_as(&format!(
        "SELECT {WORK_ITEM_COLUMNS}, w.external_id, w.description, w.parent_external_id, w.reporter,
                w.labels, w.team, w.code_changed, w.custom_fields_overflow,
                w.work_first_committed_at, w.work_first_started_at, w.work_last_started_at,
                w.work_first_completed_at, w.work_last_completed_at, w.total_work_starts,
                w.total_completions, w.total_backlog_returns, w.total_work_time_seconds,
                w.total_review_time_seconds, w.workflow_complexity_score, w.rework_indicator,
                w.direct_completion
         {WORK_ITEM_JOINS}
         WHERE w.tenant_id = $1 AND w.key = $2 AND w.deleted_at IS NULL ORDER BY w.id LIMIT 1"
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some(mut detail) = found else {
        return Ok(None);
    };
    let id = detail.item.id;
    detail.custom_fields = sqlx::query_as(&slot_values_sql())
        .bind(tenant_id)
        .bind(id)
        .fetch_all(pool)
        .await?;
    detail.timeline = sqlx::query_as(
        "SELECT fs.name AS from_status, ts.name AS to_status, c.transition_start_date,
                c.transition_change_date, c.time_in_status_seconds, c.author
         FROM changelogs c
         LEFT JOIN statuses fs ON fs.id = c.from_status_id
         LEFT JOIN statuses ts ON ts.id = c.to_status_id
         WHERE c.tenant_id = $1 AND c.work_item_id = $2
         ORDER BY c.transition_change_date, c.id",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_all(pool)
    .await?;
    detail.linked_prs = sqlx::query_as(
        "SELECT l.pr_url, l.pr_status, l.repository_full_name AS repository, l.pr_number AS number,
                pr.id AS pr_id, pr.title
         FROM work_item_pr_links l
         LEFT JOIN repositories r ON r.tenant_id = l.tenant_id AND r.full_name = l.repository_full_name
         LEFT JOIN prs pr ON pr.tenant_id = l.tenant_id AND pr.repository_id = r.id AND pr.number = l.pr_number
         WHERE l.tenant_id = $1 AND l.work_item_id = $2
         ORDER BY l.pr_url",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some(detail))
}

/// The mapped slots of one work item ($1 tenant, $2 work item) that hold a value.
fn slot_values_sql() -> String {
    let slots: Vec<String> = (1..=CUSTOM_FIELD_SLOTS)
        .map(|n| {
            format!("('custom_field_{n:02}', m.custom_field_{n:02}_id, w.custom_field_{n:02})")
        })
        .collect();
    format!(
        "SELECT v.slot, f.external_id AS field, f.name, v.value
         FROM work_items w
         JOIN custom_fields_mapping m ON m.tenant_id = w.tenant_id AND m.integration_id = w.integration_id
         CROSS JOIN LATERAL (VALUES {}) AS v(slot, field_id, value)
         JOIN custom_fields f ON f.id = v.field_id AND f.tenant_id = w.tenant_id
         WHERE w.tenant_id = $1 AND w.id = $2 AND v.value IS NOT NULL
         ORDER BY v.slot",
        slots.join(", ")
    )
}

/// How a flow report groups completed work items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowGrouping {
    #[default]
    Project,
    Type,
    Week,
    /// The teams of each work item's assignee (items of assignees in no team drop out).
    Team,
}

/// Which completed work items a flow report counts.
#[derive(Debug, Clone, Default)]
pub struct FlowFilter {
    pub group_by: FlowGrouping,
    pub project: Option<String>,
    /// Completed at or after.
    pub since: Option<DateTime<Utc>>,
    /// Completed before.
    pub until: Option<DateTime<Utc>>,
}

/// Flow of one group: work items completed (last completion in the window).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct FlowGroup {
    /// Project key, work item type, the Monday of the week (`YYYY-MM-DD`) or a team's name.
    pub group: String,
    /// Work items completed: the group's throughput.
    pub throughput: i64,
    pub cycle_time_p50: Option<f64>,
    pub cycle_time_p85: Option<f64>,
    pub cycle_time_p95: Option<f64>,
    pub lead_time_p50: Option<f64>,
    pub lead_time_p85: Option<f64>,
    pub lead_time_p95: Option<f64>,
    /// Share of the completed items started more than once.
    pub rework_rate: f64,
}

/// Cycle and lead time distributions (seconds), throughput and rework rate per group.
pub async fn flow(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &FlowFilter,
) -> Result<Vec<FlowGroup>, StoreError> {
    let (group, team_join) = match filter.group_by {
        FlowGrouping::Project => ("coalesce(p.key, '(none)')".to_owned(), String::new()),
        FlowGrouping::Type => ("coalesce(t.name, '(none)')".to_owned(), String::new()),
        FlowGrouping::Week => (week_of("w.work_last_completed_at"), String::new()),
        FlowGrouping::Team => (
            "team.name".to_owned(),
            teams::team_of(
                "team",
                "w.tenant_id",
                "w.integration_id",
                "w.assignee_account",
            ),
        ),
    };
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {group} AS \"group\", count(*) AS throughput, {}, {},
                coalesce(avg(w.rework_indicator::int)::float8, 0) AS rework_rate
         {WORK_ITEM_JOINS} {team_join}
         WHERE w.work_last_completed_at IS NOT NULL AND w.deleted_at IS NULL AND w.tenant_id = ",
        percentile_columns("w.total_cycle_time_seconds", "cycle_time"),
        percentile_columns("w.total_lead_time_seconds", "lead_time"),
    ));
    query.push_bind(tenant_id);
    if let Some(project) = &filter.project {
        query.push(" AND p.key = ").push_bind(project.clone());
    }
    if let Some(since) = filter.since {
        query
            .push(" AND w.work_last_completed_at >= ")
            .push_bind(since);
    }
    if let Some(until) = filter.until {
        query
            .push(" AND w.work_last_completed_at < ")
            .push_bind(until);
    }
    query.push(" GROUP BY 1 ORDER BY 1");
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// A Jira project.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ProjectRow {
    pub id: i64,
    pub integration_id: IntegrationId,
    pub key: String,
    pub name: String,
    pub project_type: Option<String>,
    pub active: bool,
}

pub async fn projects(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<ProjectRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, integration_id, key, name, project_type, active FROM projects
         WHERE tenant_id = $1 ORDER BY key, id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// A work item type.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct WitRow {
    pub id: i64,
    pub integration_id: IntegrationId,
    pub name: String,
    pub description: Option<String>,
    pub hierarchy_level: Option<i32>,
    pub subtask: bool,
}

pub async fn wits(pool: &PgPool, tenant_id: TenantId) -> Result<Vec<WitRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, integration_id, name, description, hierarchy_level, subtask FROM wits
         WHERE tenant_id = $1 ORDER BY name, id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// A status with the workflow step it is mapped to.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct StatusMapping {
    pub status_id: i64,
    pub integration_id: IntegrationId,
    pub status: String,
    /// Jira's category: `new`, `indeterminate`, `done`.
    pub category: String,
    pub workflow_id: Option<i64>,
    pub step_name: Option<String>,
    /// `to do`, `in progress` or `done`: how the status counts in workflow metrics.
    pub step_category: Option<String>,
    pub is_commitment_point: Option<bool>,
    /// True once the tenant chose the step (syncs then never change it).
    pub tenant_override: Option<bool>,
}

pub async fn status_mappings(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Vec<StatusMapping>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT s.id AS status_id, s.integration_id, s.name AS status, s.category, w.id AS workflow_id,
                w.step_name, w.step_category, w.is_commitment_point, m.tenant_override
         FROM statuses s
         LEFT JOIN status_mappings m ON m.tenant_id = s.tenant_id AND m.status_id = s.id
         LEFT JOIN workflows w ON w.id = m.workflow_id
         WHERE s.tenant_id = $1 ORDER BY s.integration_id, s.name, s.id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// Maps one of the tenant's statuses to a workflow step of the same integration, as the
/// tenant's choice. Unknown (or another tenant's) status or step: not found.
pub async fn map_status(
    pool: &PgPool,
    tenant_id: TenantId,
    status_id: i64,
    workflow_id: i64,
) -> Result<(), StoreError> {
    let integration: Option<IntegrationId> =
        sqlx::query_scalar("SELECT integration_id FROM statuses WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(status_id)
            .fetch_optional(pool)
            .await?;
    let integration = integration.ok_or(StoreError::NotFound {
        entity: "status",
        id: status_id,
    })?;
    let done = sqlx::query(
        "INSERT INTO status_mappings (tenant_id, integration_id, status_id, workflow_id, tenant_override)
         SELECT $1, $2, $3, w.id, TRUE FROM workflows w
         WHERE w.tenant_id = $1 AND w.integration_id = $2 AND w.id = $4
         ON CONFLICT (tenant_id, status_id) DO UPDATE
         SET workflow_id = excluded.workflow_id, tenant_override = TRUE, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(integration)
    .bind(status_id)
    .bind(workflow_id)
    .execute(pool)
    .await?;
    match done.rows_affected() {
        0 => Err(StoreError::NotFound {
            entity: "workflow step of that status's integration",
            id: workflow_id,
        }),
        _ => Ok(()),
    }
}

/// A workflow step.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct WorkflowStep {
    pub id: i64,
    pub integration_id: IntegrationId,
    pub step_name: String,
    pub step_number: i32,
    /// `to do`, `in progress` or `done`.
    pub step_category: String,
    pub is_commitment_point: bool,
}

const STEP_COLUMNS: &str =
    "id, integration_id, step_name, step_number, step_category, is_commitment_point";

pub async fn workflows(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Vec<WorkflowStep>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS} FROM workflows WHERE tenant_id = $1 ORDER BY integration_id, step_number, id"
    ))
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// A new step, or an edit of one (`None` keeps a value).
#[derive(Debug, Clone, Default)]
pub struct StepChange {
    pub step_name: Option<String>,
    pub step_number: Option<i32>,
    pub step_category: Option<String>,
    pub is_commitment_point: Option<bool>,
}

/// Adds a step to one of the tenant's Jira integrations.
pub async fn create_step(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    step: &StepChange,
) -> Result<WorkflowStep, StoreError> {
    sqlx::query_as(&format!(
        "INSERT INTO workflows (tenant_id, integration_id, step_name, step_number, step_category, is_commitment_point)
         SELECT i.tenant_id, i.id, $3, coalesce($4, (SELECT coalesce(max(step_number), 0) + 1 FROM workflows
                                                     WHERE tenant_id = $1 AND integration_id = $2)),
                $5, coalesce($6, FALSE)
         FROM integrations i WHERE i.tenant_id = $1 AND i.id = $2 AND i.provider = 'jira'
         ON CONFLICT (tenant_id, integration_id, step_name) DO NOTHING
         RETURNING {STEP_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(integration_id)
    .bind(&step.step_name)
    .bind(step.step_number)
    .bind(&step.step_category)
    .bind(step.is_commitment_point)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| {
        StoreError::Conflict(format!(
            "integration {integration_id} is not a Jira integration of this tenant, or already has a step with that name"
        ))
    })
}

/// Edits one of the tenant's steps.
pub async fn update_step(
    pool: &PgPool,
    tenant_id: TenantId,
    step_id: i64,
    change: &StepChange,
) -> Result<WorkflowStep, StoreError> {
    sqlx::query_as(&format!(
        "UPDATE workflows SET step_name = coalesce($3, step_name), step_number = coalesce($4, step_number),
                step_category = coalesce($5, step_category),
                is_commitment_point = coalesce($6, is_commitment_point), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING {STEP_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(step_id)
    .bind(&change.step_name)
    .bind(change.step_number)
    .bind(&change.step_category)
    .bind(change.is_commitment_point)
    .fetch_optional(pool)
    .await
    .map_err(|error| match crate::store::is_unique_violation(&error) {
        true => StoreError::Conflict("another step already has that name".into()),
        false => error.into(),
    })?
    .ok_or(StoreError::NotFound {
        entity: "workflow step",
        id: step_id,
    })
}
