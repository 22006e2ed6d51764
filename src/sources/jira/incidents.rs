//! The issues an integration's incident JQL finds: read at each sync within the
//! integration's projects (ids only), and stored whole in `jql_incidents`, replacing the
//! set the last sync found.

use serde_json::Value;
use sqlx::PgPool;

use super::sync::{ordered_jql, project_clause, JiraRun};
use crate::domain::IntegrationRef;
use crate::pipeline::PipelineError;
use crate::store::StoreError;

/// Most pages one read follows (a hostile or broken answer could page forever): at Jira's
/// page size, far more incidents than any site files.
const MAX_PAGES: usize = 1_000;

/// The JQL: the rule in parentheses within the integration's projects.
pub fn incident_jql(rule: &str, projects: &[String]) -> String {
    ordered_jql(
        project_clause(projects)
            .into_iter()
            .chain([format!("({rule})")]),
    )
}

/// The issue ids of one search page.
fn page_ids(page: &Value) -> impl Iterator<Item = String> + '_ {
    page["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|issue| issue["id"].as_str().map(str::to_owned))
}

impl JiraRun<'_> {
    /// Reads the issues `rule` finds and stores them as the integration's incidents;
    /// returns how many there are.
    pub async fn incidents(&self, rule: &str) -> Result<u64, PipelineError> {
        let jql = incident_jql(rule, &self.projects);
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.client.search_ids(&jql, token.as_deref()).await?.body;
            ids.extend(page_ids(&page));
            token = match page["nextPageToken"].as_str() {
                Some(next) if page["isLast"] == false => Some(next.to_owned()),
                _ => break,
            };
        }
        Ok(replace(self.pool, self.scope.integration(), &ids).await?)
    }
}

/// Replaces the integration's incident set with `ids`; returns its size.
pub async fn replace(
    pool: &PgPool,
    ids: IntegrationRef,
    found: &[String],
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "DELETE FROM jql_incidents
         WHERE tenant_id = $1 AND integration_id = $2 AND NOT (external_id = ANY($3))",
    )
    .bind(ids.tenant)
    .bind(ids.integration)
    .bind(found)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO jql_incidents (tenant_id, integration_id, external_id)
         SELECT $1, $2, id FROM unnest($3::text[]) id ON CONFLICT DO NOTHING",
    )
    .bind(ids.tenant)
    .bind(ids.integration)
    .bind(found)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(found.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_is_grouped_within_the_projects() {
        assert_eq!(
            incident_jql("labels = outage OR priority = Highest", &["OPS".to_owned()]),
            "project in (\"OPS\") AND (labels = outage OR priority = Highest) ORDER BY updated ASC"
        );
        assert_eq!(
            incident_jql("issuetype = Incident", &[]),
            "(issuetype = Incident) ORDER BY updated ASC"
        );
    }
}
