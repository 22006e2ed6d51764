//! `raw_extraction_data`: every API entity exactly as the source sent it (NUL characters
//! aside, which PostgreSQL cannot hold; such rows say so in their metadata), with its
//! processing state.

use std::collections::HashSet;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use super::error::StoreError;
use crate::domain::text::clean_json;
use crate::domain::{IntegrationId, IntegrationRef, JobId, RawId, Scope, TenantId};

/// One entity to store: its external id, the answer, and its extraction metadata.
pub type RawEntity = (Option<String>, Value, Value);

/// A stored raw row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RawRecord {
    pub id: RawId,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub external_id: Option<String>,
    pub raw_data: Value,
    pub extraction_metadata: Value,
}

/// Stores a batch of entities of one kind, all with the same metadata, in one round trip;
/// returns their ids in order.
pub async fn insert(
    pool: &PgPool,
    scope: Scope,
    kind: &str,
    entities: Vec<(Option<String>, Value)>,
    metadata: &Value,
) -> Result<Vec<RawId>, StoreError> {
    insert_each(pool, scope, kind, with_metadata(entities, metadata)).await
}

/// Stores one answer; returns its id.
pub async fn insert_one(
    pool: &PgPool,
    scope: Scope,
    kind: &str,
    (external_id, body): (Option<String>, &Value),
    metadata: &Value,
) -> Result<RawId, StoreError> {
    let entity = vec![(external_id, body.clone(), metadata.clone())];
    let ids = insert_each(pool, scope, kind, entity).await?;
    ids.into_iter()
        .next()
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// Entities `(external id, answer)` each given `metadata`.
pub fn with_metadata(entities: Vec<(Option<String>, Value)>, metadata: &Value) -> Vec<RawEntity> {
    entities
        .into_iter()
        .map(|(external_id, raw)| (external_id, raw, metadata.clone()))
        .collect()
}

/// Stores a batch of entities of one kind, each with its own metadata, in one round trip;
/// returns their ids in order.
pub async fn insert_each(
    executor: impl PgExecutor<'_>,
    scope: Scope,
    kind: &str,
    entities: Vec<RawEntity>,
) -> Result<Vec<RawId>, StoreError> {
    let stored = insert_returning(executor, scope, kind, entities).await?;
    Ok(ids_of(&stored))
}

/// Stores a batch of entities of one kind, each with its own metadata (a JSON object), in
/// one round trip; returns the rows as stored, in order: what reading them back by id would
/// give, so a transform in this process need not read them back. (jsonb keeps each
/// number's digits and a parsed document's keys the same way serde_json does; only a number
/// written with an exponent, which no source sends, would read back in another form.)
pub async fn insert_returning(
    executor: impl PgExecutor<'_>,
    scope: Scope,
    kind: &str,
    entities: Vec<RawEntity>,
) -> Result<Vec<RawRecord>, StoreError> {
    if entities.is_empty() {
        return Ok(Vec::new());
    }
    let mut cleaned = entities;
    for (_, raw, metadata) in &mut cleaned {
        if clean_json(raw) {
            if let Value::Object(metadata) = metadata {
                metadata.insert("nul_removed".into(), Value::Bool(true));
            }
        }
    }
    // Parallel arrays: each document travels as its own jsonb value (no big array for the
    // server to parse and take apart).
    let external_ids: Vec<Option<&str>> = cleaned.iter().map(|(id, _, _)| id.as_deref()).collect();
    let raws: Vec<Json<&Value>> = cleaned.iter().map(|(_, raw, _)| Json(raw)).collect();
    let metadata: Vec<Json<&Value>> = cleaned.iter().map(|(_, _, meta)| Json(meta)).collect();
    let ids: Vec<RawId> = sqlx::query_scalar(
        "INSERT INTO raw_extraction_data (tenant_id, integration_id, job_id, type, external_id, raw_data, extraction_metadata)
         SELECT $1, $2, $3, $4, e.external_id, e.raw, e.metadata
         FROM unnest($5::text[], $6::jsonb[], $7::jsonb[]) WITH ORDINALITY AS e(external_id, raw, metadata, ord)
         ORDER BY e.ord
         RETURNING id",
    )
    .bind(scope.tenant_id)
    .bind(scope.integration_id)
    .bind(scope.job_id)
    .bind(kind)
    .bind(external_ids)
    .bind(raws)
    .bind(metadata)
    .fetch_all(executor)
    .await?;
    Ok(ids
        .into_iter()
        .zip(cleaned)
        .map(
            |(id, (external_id, raw_data, extraction_metadata))| RawRecord {
                id,
                kind: kind.to_owned(),
                external_id,
                raw_data,
                extraction_metadata,
            },
        )
        .collect())
}

/// The ids of stored rows, in their order.
pub fn ids_of(rows: &[RawRecord]) -> Vec<RawId> {
    rows.iter().map(|row| row.id).collect()
}

/// Raw rows by id, within the tenant's integration.
pub async fn fetch(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    ids: &[RawId],
) -> Result<Vec<RawRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, type, external_id, raw_data, extraction_metadata FROM raw_extraction_data
         WHERE tenant_id = $1 AND integration_id = $2 AND id = ANY($3) ORDER BY id",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// Raw rows by id, in id order, within the tenant's integration: those in `in_hand` (the
/// rows as this process stored them) as they are, the rest read from the database.
pub async fn fetch_missing(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    ids: &[RawId],
    in_hand: Vec<RawRecord>,
) -> Result<Vec<RawRecord>, StoreError> {
    let wanted: HashSet<RawId> = ids.iter().copied().collect();
    let mut rows: Vec<RawRecord> = in_hand
        .into_iter()
        .filter(|row| wanted.contains(&row.id))
        .collect();
    let held: HashSet<RawId> = rows.iter().map(|row| row.id).collect();
    let missing: Vec<RawId> = wanted.difference(&held).copied().collect();
    if !missing.is_empty() {
        rows.extend(fetch(pool, tenant_id, integration_id, &missing).await?);
    }
    rows.sort_by_key(|row| row.id);
    rows.dedup_by_key(|row| row.id);
    Ok(rows)
}

/// Rows of `kind` stored for the given entities by the given extractions (metadata
/// `extraction`), in the order they were stored: what those extractions read on top of the
/// rows that name them.
pub async fn of_extractions(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    kind: &str,
    external_ids: &[String],
    extractions: &[String],
) -> Result<Vec<RawRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, type, external_id, raw_data, extraction_metadata FROM raw_extraction_data
         WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 AND external_id = ANY($4)
           AND extraction_metadata->>'extraction' = ANY($5)
         ORDER BY id",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(kind)
    .bind(external_ids)
    .bind(extractions)
    .fetch_all(pool)
    .await?)
}

/// The newest stored pages of one kind for one entity, in page order (`startAt`).
pub async fn latest_pages(
    pool: &PgPool,
    ids: IntegrationRef,
    kind: &str,
    external_id: &str,
) -> Result<Vec<RawRecord>, StoreError> {
    latest_pages_of(pool, ids, kind, &[external_id.to_owned()]).await
}

/// The newest stored copy of each page of one kind for several entities, ordered by
/// entity and page (`startAt`). Where the newest copy of a page says `"last": true`, pages
/// after it (left from an older, longer listing) are not returned.
pub async fn latest_pages_of(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    kind: &str,
    external_ids: &[String],
) -> Result<Vec<RawRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, type, external_id, raw_data, extraction_metadata FROM (
             SELECT *, bool_or(coalesce((extraction_metadata->>'last')::boolean, false))
                       OVER (PARTITION BY external_id ORDER BY start_at
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS after_last
             FROM (SELECT DISTINCT ON (external_id, (extraction_metadata->>'startAt')::bigint)
                          *, (extraction_metadata->>'startAt')::bigint AS start_at
                   FROM raw_extraction_data
                   WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 AND external_id = ANY($4)
                   ORDER BY external_id, (extraction_metadata->>'startAt')::bigint, id DESC) newest
         ) pages
         WHERE NOT coalesce(after_last, false)
         ORDER BY external_id, start_at",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(kind)
    .bind(external_ids)
    .fetch_all(pool)
    .await?)
}

/// The newest stored row of one kind per external id and page (`startAt`): its id and
/// external id, in key order. What reprocessing reads; only ids are sorted, never the
/// documents.
pub async fn latest_of_kind(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    kind: &str,
) -> Result<Vec<(RawId, Option<String>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, external_id FROM (
             SELECT DISTINCT ON (external_id, extraction_metadata->>'startAt') id,
                    external_id, extraction_metadata->>'startAt' AS start_at
             FROM raw_extraction_data
             WHERE tenant_id = $1 AND integration_id = $2 AND type = $3
             ORDER BY external_id, extraction_metadata->>'startAt', id DESC) newest
         ORDER BY external_id, start_at",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(kind)
    .fetch_all(pool)
    .await?)
}

/// The newest raw rows of one kind for an integration (see [`latest_of_kind`]), a batch
/// at a time: a task of its own lists them and reads the batches a little ahead, so the
/// reading overlaps the caller's work on the batch before.
pub struct LatestBatches {
    batches: tokio::sync::mpsc::Receiver<Result<Vec<RawRecord>, StoreError>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LatestBatches {
    /// Rows read per batch.
    const BATCH: usize = 500;
    /// Batches read ahead of the caller (each holds its documents in memory).
    const AHEAD: usize = 1;

    pub fn new(pool: &PgPool, ids: IntegrationRef, kind: &'static str) -> Self {
        let (sender, batches) = tokio::sync::mpsc::channel(Self::AHEAD);
        let pool = pool.clone();
        let reader = tokio::spawn(async move {
            let newest = match latest_of_kind(&pool, ids, kind).await {
                Ok(newest) => newest,
                Err(error) => {
                    sender.send(Err(error)).await.ok();
                    return;
                }
            };
            let raw_ids: Vec<RawId> = newest.into_iter().map(|(id, _)| id).collect();
            for batch in raw_ids.chunks(Self::BATCH) {
                let rows = fetch(&pool, ids.tenant, ids.integration, batch).await;
                let failed = rows.is_err();
                if sender.send(rows).await.is_err() || failed {
                    return;
                }
            }
        });
        LatestBatches { batches, reader }
    }

    pub async fn next(&mut self) -> Result<Option<Vec<RawRecord>>, StoreError> {
        self.batches.recv().await.transpose()
    }
}

impl Drop for LatestBatches {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub async fn mark_processed(
    pool: &PgPool,
    tenant_id: TenantId,
    ids: &[RawId],
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE raw_extraction_data SET status = 'processed', error = NULL, processed_at = now()
         WHERE tenant_id = $1 AND id = ANY($2)",
    )
    .bind(tenant_id)
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_failed(
    pool: &PgPool,
    tenant_id: TenantId,
    id: RawId,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE raw_extraction_data SET status = 'failed', error = $3, processed_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// The newest raw row id (0 when there is none): rows stored later have larger ids.
pub async fn newest_id(pool: &PgPool) -> Result<RawId, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM raw_extraction_data")
            .fetch_one(pool)
            .await?,
    )
}

/// How many raw rows are in each processing state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub pending: u64,
    pub processed: u64,
    pub failed: u64,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    pending: i64,
    processed: i64,
    failed: i64,
}

/// Processing states of the integration's rows of `kinds` stored after `after_id`.
pub async fn status_counts(
    pool: &PgPool,
    IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    after_id: RawId,
    kinds: &[&str],
) -> Result<StatusCounts, StoreError> {
    let row: StatusRow = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'processed') AS processed,
                count(*) FILTER (WHERE status = 'failed') AS failed
         FROM raw_extraction_data
         WHERE tenant_id = $1 AND integration_id = $2 AND id > $3 AND type = ANY($4)",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(after_id)
    .bind(kinds)
    .fetch_one(pool)
    .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(StatusCounts {
        pending: count(row.pending),
        processed: count(row.processed),
        failed: count(row.failed),
    })
}

/// Marks the rows of a message given up on as failed with `error` (rows already processed
/// stay so).
pub async fn mark_pending_failed(
    pool: &PgPool,
    tenant_id: TenantId,
    ids: &[RawId],
    error: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE raw_extraction_data SET status = 'failed', error = $3, processed_at = now()
         WHERE tenant_id = $1 AND id = ANY($2) AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(ids)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Ids of rows still pending, of one kind, grouped by integration: `(tenant_id,
/// integration_id, ids)`, at most `batch` ids per group, oldest first. With `live_within`,
/// rows of a job RUNNING with progress within that time are left out (someone is on them).
pub async fn pending_batches(
    pool: &PgPool,
    kind: &str,
    batch: i64,
    live_within: Option<std::time::Duration>,
) -> Result<Vec<(TenantId, IntegrationId, Vec<RawId>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, integration_id, array_agg(id ORDER BY id) AS ids
         FROM (SELECT r.tenant_id, r.integration_id, r.id,
                      (row_number() OVER (PARTITION BY r.tenant_id, r.integration_id ORDER BY r.id) - 1) / $2 AS chunk
               FROM raw_extraction_data r
               WHERE r.type = $1 AND r.status = 'pending'
                 AND ($3::float8 IS NULL OR NOT EXISTS (
                       SELECT 1 FROM etl_jobs j
                       WHERE j.tenant_id = r.tenant_id AND j.id = r.job_id AND j.state = 'RUNNING'
                         AND j.last_progress_at >= now() - make_interval(secs => $3)))) pending
         GROUP BY tenant_id, integration_id, chunk
         ORDER BY min(id)",
    )
    .bind(kind)
    .bind(batch)
    .bind(live_within.map(|d| d.as_secs_f64()))
    .fetch_all(pool)
    .await?)
}

/// The first `limit` errors of the job's raw rows that failed since `since`.
pub async fn first_errors(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    since: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(error, 'no error recorded') FROM raw_extraction_data
         WHERE tenant_id = $1 AND job_id = $2 AND status = 'failed' AND processed_at >= $3
         ORDER BY id LIMIT $4",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
