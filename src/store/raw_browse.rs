//! Stored source answers as admins browse them: a tenant's raw rows listed newest first
//! (without their bodies), and one row in full.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::error::StoreError;
use crate::domain::{IntegrationId, JobId, RawId, TenantId};

/// A raw row in a list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RawSummary {
    pub id: RawId,
    pub integration_id: IntegrationId,
    pub job_id: Option<JobId>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub external_id: Option<String>,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// A raw row with the answer exactly as the source gave it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RawDetail {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub summary: RawSummary,
    /// An object or an array, as the source answered.
    pub raw_data: serde_json::Value,
    #[schema(value_type = Object)]
    pub extraction_metadata: serde_json::Value,
}

/// Which raw rows a list shows.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    pub integration_id: Option<IntegrationId>,
    pub kind: Option<String>,
    pub status: Option<String>,
}

const SUMMARY_COLUMNS: &str =
    "id, integration_id, job_id, type, external_id, status, error, created_at, processed_at";

/// Up to `fetch` raw rows before id `before`, newest first.
pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: &RawFilter,
    before: Option<i64>,
    fetch: i64,
) -> Result<Vec<RawSummary>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {SUMMARY_COLUMNS} FROM raw_extraction_data WHERE tenant_id = "
    ));
    query.push_bind(tenant_id);
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    if let Some(integration) = filter.integration_id {
        query.push(" AND integration_id = ").push_bind(integration);
    }
    if let Some(kind) = &filter.kind {
        query.push(" AND type = ").push_bind(kind.clone());
    }
    if let Some(status) = &filter.status {
        query.push(" AND status = ").push_bind(status.clone());
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(fetch);
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// One of the tenant's raw rows in full.
pub async fn get(pool: &PgPool, tenant_id: TenantId, id: RawId) -> Result<RawDetail, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS}, raw_data, extraction_metadata FROM raw_extraction_data
         WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound {
        entity: "raw record",
        id: id.get(),
    })
}

/// What a tenant's data waits on: raw rows not yet transformed or failed, and transformed
/// batches saved for a load worker.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Backlog {
    pub pending_raw: i64,
    pub failed_raw: i64,
    pub saved_load_batches: i64,
}

pub async fn backlog(pool: &PgPool, tenant_id: TenantId) -> Result<Backlog, StoreError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM raw_extraction_data WHERE tenant_id = $1 AND status = 'pending') AS pending_raw,
                (SELECT count(*) FROM raw_extraction_data WHERE tenant_id = $1 AND status = 'failed') AS failed_raw,
                (SELECT count(*) FROM load_batches WHERE tenant_id = $1) AS saved_load_batches",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await?)
}
