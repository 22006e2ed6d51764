//! What a tenant configures about its Jira workflow: projects, issue types, statuses mapped
//! to workflow steps, and the steps (category and commitment point), which the workflow
//! metrics are computed from. Changes take effect on the next sync or a reprocess.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, IntegrationId, TenantId};
use crate::sources::jira::read::{
    self, ProjectRow, StatusMapping, StepChange, WitRow, WorkflowStep,
};

/// The categories a step can count as.
pub const STEP_CATEGORIES: &[&str] = &["to do", "in progress", "done"];

pub async fn projects(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<ProjectRow>> {
    Ok(read::projects(pool, tenant_id).await?)
}

pub async fn wits(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<WitRow>> {
    Ok(read::wits(pool, tenant_id).await?)
}

pub async fn status_mappings(
    pool: &PgPool,
    tenant_id: TenantId,
) -> ServiceResult<Vec<StatusMapping>> {
    Ok(read::status_mappings(pool, tenant_id).await?)
}

/// Maps a status to a step of its integration (the tenant's choice from now on).
pub async fn map_status(
    pool: &PgPool,
    tenant_id: TenantId,
    status_id: i64,
    workflow_id: i64,
) -> ServiceResult<()> {
    read::map_status(pool, tenant_id, status_id, workflow_id).await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        status_id,
        workflow_id,
        "status mapped"
    );
    Ok(())
}

pub async fn steps(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<WorkflowStep>> {
    Ok(read::workflows(pool, tenant_id).await?)
}

fn check_step(step: &StepChange) -> ServiceResult<StepChange> {
    let mut step = step.clone();
    if let Some(category) = &step.step_category {
        if !STEP_CATEGORIES.contains(&category.as_str()) {
            return Err(input::invalid(
                "step_category",
                format!("must be one of: {}", STEP_CATEGORIES.join(", ")),
            )
            .into());
        }
    }
    if let Some(name) = &step.step_name {
        step.step_name = Some(input::name("step_name", name)?);
    }
    if step.step_number.is_some_and(|n| n < 1) {
        return Err(input::invalid("step_number", "must be at least 1").into());
    }
    Ok(step)
}

/// Adds a step to one of the tenant's Jira integrations.
pub async fn create_step(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    step: &StepChange,
) -> ServiceResult<WorkflowStep> {
    if step.step_name.is_none() {
        return Err(input::invalid("step_name", "is required").into());
    }
    if step.step_category.is_none() {
        return Err(input::invalid("step_category", "is required").into());
    }
    let step = check_step(step)?;
    // Another tenant's integration is not found, like a missing one.
    crate::store::integrations::get(pool, tenant_id, integration_id).await?;
    let created = read::create_step(pool, tenant_id, integration_id, &step).await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        step_id = created.id,
        "workflow step created"
    );
    Ok(created)
}

/// Edits one of the tenant's steps.
pub async fn update_step(
    pool: &PgPool,
    tenant_id: TenantId,
    step_id: i64,
    change: &StepChange,
) -> ServiceResult<WorkflowStep> {
    let change = check_step(change)?;
    let updated = read::update_step(pool, tenant_id, step_id, &change).await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        step_id,
        "workflow step updated"
    );
    Ok(updated)
}
