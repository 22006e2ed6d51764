//! Custom-field discovery for a Jira integration: `/field` plus createmeta for every
//! project and issue type, stored raw, merged into `custom_fields`.

use serde_json::{json, Value};
use sqlx::PgPool;

use super::client::JiraClient;
use super::kinds;
use super::transform::meta as jira_meta;
use crate::domain::Scope;
use crate::pipeline::PipelineError;
use crate::sources::work_items::custom_fields;
use crate::sources::work_items::tables as jira;
use crate::store::raw;

/// Discovers the integration's custom fields; `projects` limits createmeta to those keys
/// (empty: every project loaded for the integration). Returns how many fields it knows.
pub async fn sync(
    pool: &PgPool,
    client: &JiraClient,
    scope: Scope,
    projects: &[String],
) -> Result<usize, PipelineError> {
    let (tenant, integration) = (scope.tenant_id, scope.integration_id);
    let fields = client.fields().await?.body;
    let mut raw_ids = raw::insert(
        pool,
        scope,
        kinds::FIELDS,
        vec![(None, fields.clone())],
        &json!({}),
    )
    .await?;
    let projects = if projects.is_empty() {
        jira::project_keys(pool, tenant, integration).await?
    } else {
        projects.to_vec()
    };
    let mut pages: Vec<Value> = Vec::new();
    for project in &projects {
        let types = client.createmeta_issue_types(project).await?.body;
        for issue_type in types["issueTypes"].as_array().into_iter().flatten() {
            let Some(type_id) = issue_type["id"].as_str() else {
                continue;
            };
            let page = client.createmeta_fields(project, type_id).await?.body;
            let metadata = json!({"project": project, "issueType": type_id});
            raw_ids.extend(
                raw::insert(
                    pool,
                    scope,
                    kinds::CREATEMETA,
                    vec![(Some(format!("{project}/{type_id}")), page.clone())],
                    &metadata,
                )
                .await?,
            );
            pages.push(page);
        }
    }
    let rows = jira_meta::custom_fields(&fields, &pages);
    custom_fields::upsert(pool, tenant, integration, &rows).await?;
    raw::mark_processed(pool, tenant, &raw_ids).await?;
    Ok(rows.len())
}
