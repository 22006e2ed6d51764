//! Which issues' development panel (`dev-status`) must be read again: those whose
//! development field summary differs from the one stored with the issue last time, or
//! whose panel was not read since that copy was stored (a run that failed half-way). The
//! rest keep the links their last reading gave, at no call.

use std::collections::HashSet;

use sqlx::PgPool;

use super::kinds;
use crate::domain::IntegrationRef;
use crate::store::StoreError;

/// Of `summaries` (issue id, development summary now), the issues whose stored panel is
/// current. Call before the new copies of the issues are stored.
pub async fn current(
    pool: &PgPool,
    integration: IntegrationRef,
    summaries: &[(String, String)],
) -> Result<HashSet<String>, StoreError> {
    if summaries.is_empty() {
        return Ok(HashSet::new());
    }
    let (ids, texts): (Vec<String>, Vec<String>) = summaries.iter().cloned().unzip();
    let current: Vec<String> = sqlx::query_scalar(
        "SELECT stored.external_id
         FROM (SELECT DISTINCT ON (external_id) id, external_id,
                      (SELECT f.value FROM jsonb_each_text(raw_data->'fields') f
                       WHERE f.key LIKE 'customfield%' AND f.value LIKE '%pullrequest=%' LIMIT 1) AS summary
               FROM raw_extraction_data
               WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 AND external_id = ANY($4)
               ORDER BY external_id, id DESC) stored
         JOIN unnest($4::text[], $5::text[]) AS now(external_id, summary)
           ON now.external_id = stored.external_id AND now.summary = stored.summary
         WHERE EXISTS (SELECT 1 FROM raw_extraction_data d
                       WHERE d.tenant_id = $1 AND d.integration_id = $2 AND d.type = $6
                         AND d.external_id = stored.external_id AND d.id > stored.id)",
    )
    .bind(integration.tenant)
    .bind(integration.integration)
    .bind(kinds::ISSUE)
    .bind(&ids)
    .bind(&texts)
    .bind(kinds::DEV_STATUS)
    .fetch_all(pool)
    .await?;
    Ok(current.into_iter().collect())
}
