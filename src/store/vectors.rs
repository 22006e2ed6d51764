//! The vectors bridge in PostgreSQL: each tenant's embedding settings and collections
//! (`embedding_settings`), which record has which vector made from which row version
//! (`qdrant_vectors`), records that failed to embed (`embedding_failures`), and from those
//! what is pending — records without an up-to-date vector, vectors whose record is gone.
//! What is pending is computed from the tables, so a crash or a lost message loses nothing:
//! the next look finds the same work.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{IntegrationId, JobId, TenantId};
use crate::embedding::text::Document;

/// A table whose records are embedded, as its source declares it.
pub struct EmbedTable {
    pub table: &'static str,
    /// The sync step whose load fills the table (its `embedding` stage follows the work).
    pub step: &'static str,
    /// Condition on the table's rows (alias `r`) that keeps only live records.
    pub live: &'static str,
    /// Reads [`Document`]s: `$1` tenant id, `$2` record ids (only live records come back).
    pub documents: &'static str,
    /// The ids of live records whose key is `$2` as typed (any case): `$1` tenant id.
    pub by_key: &'static str,
}

/// Which model fills a collection, and whether search reads it yet.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CollectionSettings {
    pub tenant_id: TenantId,
    pub collection: String,
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    pub api_key_encrypted: Option<Vec<u8>>,
    /// `active` (searched) or `building` (being filled for a model change).
    pub state: String,
}

const SETTINGS_COLUMNS: &str =
    "tenant_id, collection, provider, model, base_url, api_key_encrypted, state";

/// The tenant's collections: the active one and the one being built, if any.
pub async fn collections(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Vec<CollectionSettings>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SETTINGS_COLUMNS} FROM embedding_settings WHERE tenant_id = $1 ORDER BY state"
    ))
    .bind(tenant_id)
    .fetch_all(pool)
    .await?)
}

/// Where new vectors go: the collection being built, else the active one (None: the tenant
/// has no embedding settings).
pub async fn target(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Option<CollectionSettings>, StoreError> {
    let all = collections(pool, tenant_id).await?;
    let building = all.iter().find(|c| c.state == "building").cloned();
    Ok(building.or_else(|| all.into_iter().find(|c| c.state == "active")))
}

/// What search reads (None: no collection is complete yet).
pub async fn active(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<Option<CollectionSettings>, StoreError> {
    let all = collections(pool, tenant_id).await?;
    Ok(all.into_iter().find(|c| c.state == "active"))
}

/// Sets the tenant's embedding model. The same collection as the active one is updated in
/// place (a new endpoint or key); another becomes the collection being built (replacing
/// an earlier one being built), switched to once complete. The first one is built too.
pub async fn set(pool: &PgPool, settings: &CollectionSettings) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let active: Option<String> = sqlx::query_scalar(
        "SELECT collection FROM embedding_settings WHERE tenant_id = $1 AND state = 'active' FOR UPDATE",
    )
    .bind(settings.tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let state = if active.as_deref() == Some(settings.collection.as_str()) {
        "active"
    } else {
        "building"
    };
    if state == "building" {
        sqlx::query("DELETE FROM embedding_settings WHERE tenant_id = $1 AND state = 'building'")
            .bind(settings.tenant_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO embedding_settings (tenant_id, collection, provider, model, base_url, api_key_encrypted, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, collection) DO UPDATE
         SET provider = excluded.provider, model = excluded.model, base_url = excluded.base_url,
             api_key_encrypted = excluded.api_key_encrypted",
    )
    .bind(settings.tenant_id)
    .bind(&settings.collection)
    .bind(&settings.provider)
    .bind(&settings.model)
    .bind(&settings.base_url)
    .bind(&settings.api_key_encrypted)
    .bind(state)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the collection being built the active one, forgetting the bridge rows and
/// failures of the collection it replaced; returns that collection (whose points the
/// caller drops), or None when nothing was switched.
pub async fn activate(
    pool: &PgPool,
    tenant_id: TenantId,
    collection: &str,
) -> Result<Option<Option<String>>, StoreError> {
    let mut tx = pool.begin().await?;
    let replaced: Option<String> = sqlx::query_scalar(
        "DELETE FROM embedding_settings WHERE tenant_id = $1 AND state = 'active' AND collection <> $2
         RETURNING collection",
    )
    .bind(tenant_id)
    .bind(collection)
    .fetch_optional(&mut *tx)
    .await?;
    let switched = sqlx::query(
        "UPDATE embedding_settings SET state = 'active', activated_at = now()
         WHERE tenant_id = $1 AND collection = $2 AND state = 'building'",
    )
    .bind(tenant_id)
    .bind(collection)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if switched == 0 {
        return Ok(None);
    }
    if let Some(old) = &replaced {
        forget_collection(&mut tx, tenant_id, old).await?;
    }
    tx.commit().await?;
    Ok(Some(replaced))
}

async fn forget_collection(
    tx: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    collection: &str,
) -> Result<(), StoreError> {
    for table in ["qdrant_vectors", "embedding_failures"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND collection = $2"
        ))
        .bind(tenant_id)
        .bind(collection)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Makes every record of the collection pending again (`vectors rebuild --all`): its
/// bridge rows and failures are forgotten; points are overwritten as records are embedded.
pub async fn reset_collection(
    pool: &PgPool,
    tenant_id: TenantId,
    collection: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    forget_collection(&mut tx, tenant_id, collection).await?;
    tx.commit().await?;
    Ok(())
}

/// Records of `table` pending in `collection`: live ones without a vector made from their
/// current row (failures of the same row version excluded), limited to one integration
/// when given. In id order.
pub async fn pending_upserts(
    pool: &PgPool,
    table: &EmbedTable,
    tenant_id: TenantId,
    collection: &str,
    integration: Option<IntegrationId>,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT r.id FROM {t} r
         LEFT JOIN qdrant_vectors v ON v.tenant_id = r.tenant_id AND v.table_name = '{t}'
              AND v.record_id = r.id AND v.collection = $2
         LEFT JOIN embedding_failures f ON f.tenant_id = r.tenant_id AND f.table_name = '{t}'
              AND f.record_id = r.id AND f.collection = $2 AND f.row_updated_at = r.updated_at
         WHERE r.tenant_id = $1 AND ($3::bigint IS NULL OR r.integration_id = $3) AND {live}
           AND (v.id IS NULL OR v.row_updated_at IS DISTINCT FROM r.updated_at)
           AND f.record_id IS NULL
         ORDER BY r.id",
        t = table.table,
        live = table.live,
    ))
    .bind(tenant_id)
    .bind(collection)
    .bind(integration)
    .fetch_all(pool)
    .await?)
}

/// Vectors of `table` in `collection` whose record is gone or no longer live.
pub async fn pending_deletes(
    pool: &PgPool,
    table: &EmbedTable,
    tenant_id: TenantId,
    collection: &str,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT v.record_id FROM qdrant_vectors v
         LEFT JOIN {t} r ON r.id = v.record_id AND r.tenant_id = v.tenant_id AND {live}
         WHERE v.tenant_id = $1 AND v.table_name = '{t}' AND v.collection = $2 AND r.id IS NULL
         ORDER BY v.record_id",
        t = table.table,
        live = table.live,
    ))
    .bind(tenant_id)
    .bind(collection)
    .fetch_all(pool)
    .await?)
}

/// The live records among `ids`, read for embedding or for showing in search results.
pub async fn documents(
    pool: &PgPool,
    table: &EmbedTable,
    tenant_id: TenantId,
    ids: &[i64],
) -> Result<Vec<Document>, StoreError> {
    Ok(sqlx::query_as(table.documents)
        .bind(tenant_id)
        .bind(ids)
        .fetch_all(pool)
        .await?)
}

/// The live records of `table` whose key is `key` (any case).
pub async fn find_key(
    pool: &PgPool,
    table: &EmbedTable,
    tenant_id: TenantId,
    key: &str,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(table.by_key)
        .bind(tenant_id)
        .bind(key)
        .fetch_all(pool)
        .await?)
}

/// The text hashes the bridge holds for `ids` in `collection`.
pub async fn known_hashes(
    pool: &PgPool,
    tenant_id: TenantId,
    table: &str,
    collection: &str,
    ids: &[i64],
) -> Result<Vec<(i64, Option<String>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT record_id, text_hash FROM qdrant_vectors
         WHERE tenant_id = $1 AND table_name = $2 AND collection = $3 AND record_id = ANY($4)",
    )
    .bind(tenant_id)
    .bind(table)
    .bind(collection)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// A vector written for a record (or found unchanged).
pub struct Embedded {
    pub record_id: i64,
    pub point_id: Uuid,
    pub text_hash: String,
    pub row_updated_at: DateTime<Utc>,
}

/// Records vectors in the bridge (their failures forgotten), in one transaction.
pub async fn record(
    pool: &PgPool,
    tenant_id: TenantId,
    (table, collection, model): (&str, &str, &str),
    embedded: &[Embedded],
) -> Result<(), StoreError> {
    if embedded.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = embedded.iter().map(|e| e.record_id).collect();
    let points: Vec<Uuid> = embedded.iter().map(|e| e.point_id).collect();
    let hashes: Vec<&str> = embedded.iter().map(|e| e.text_hash.as_str()).collect();
    let versions: Vec<DateTime<Utc>> = embedded.iter().map(|e| e.row_updated_at).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO qdrant_vectors (tenant_id, table_name, record_id, collection, point_id, model, text_hash, row_updated_at)
         SELECT $1, $2, r.id, $3, r.point, $4, r.hash, r.version
         FROM unnest($5::bigint[], $6::uuid[], $7::text[], $8::timestamptz[]) AS r(id, point, hash, version)
         ON CONFLICT (tenant_id, table_name, record_id, collection) DO UPDATE
         SET point_id = excluded.point_id, model = excluded.model, text_hash = excluded.text_hash,
             row_updated_at = excluded.row_updated_at, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(table)
    .bind(collection)
    .bind(model)
    .bind(&ids)
    .bind(&points)
    .bind(&hashes)
    .bind(&versions)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM embedding_failures
         WHERE tenant_id = $1 AND table_name = $2 AND collection = $3 AND record_id = ANY($4)",
    )
    .bind(tenant_id)
    .bind(table)
    .bind(collection)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets the bridge rows of removed vectors.
pub async fn forget(
    pool: &PgPool,
    tenant_id: TenantId,
    (table, collection): (&str, &str),
    ids: &[i64],
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM qdrant_vectors
         WHERE tenant_id = $1 AND table_name = $2 AND collection = $3 AND record_id = ANY($4)",
    )
    .bind(tenant_id)
    .bind(table)
    .bind(collection)
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that the live records among `ids` failed to embed, as of their current row.
pub async fn record_failures(
    pool: &PgPool,
    tenant_id: TenantId,
    (table, collection): (&str, &str),
    job_id: Option<JobId>,
    ids: &[i64],
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO embedding_failures (tenant_id, table_name, record_id, collection, row_updated_at, job_id, error)
         SELECT $1, '{table}', r.id, $2, r.updated_at, $3, $4 FROM {table} r
         WHERE r.tenant_id = $1 AND r.id = ANY($5)
         ON CONFLICT (tenant_id, table_name, record_id, collection) DO UPDATE
         SET row_updated_at = excluded.row_updated_at, job_id = excluded.job_id,
             error = excluded.error, failed_at = now()"
    ))
    .bind(tenant_id)
    .bind(collection)
    .bind(job_id)
    .bind(error)
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(())
}

/// How far a table's embedding is, for `vectors status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TableCounts {
    /// Live records.
    pub records: i64,
    /// Records with a vector made from their current row.
    pub embedded: i64,
    /// Live records still to embed, and vectors still to remove.
    pub pending: i64,
    /// Records whose current row failed to embed.
    pub failed: i64,
}

/// A table's counts in `collection` (optionally for one integration).
pub async fn counts(
    pool: &PgPool,
    table: &EmbedTable,
    tenant_id: TenantId,
    collection: &str,
    integration: Option<IntegrationId>,
) -> Result<TableCounts, StoreError> {
    let (records, embedded, failed): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*),
                count(*) FILTER (WHERE v.row_updated_at = r.updated_at),
                count(*) FILTER (WHERE f.row_updated_at = r.updated_at
                                   AND v.row_updated_at IS DISTINCT FROM r.updated_at)
         FROM {t} r
         LEFT JOIN qdrant_vectors v ON v.tenant_id = r.tenant_id AND v.table_name = '{t}'
              AND v.record_id = r.id AND v.collection = $2
         LEFT JOIN embedding_failures f ON f.tenant_id = r.tenant_id AND f.table_name = '{t}'
              AND f.record_id = r.id AND f.collection = $2
         WHERE r.tenant_id = $1 AND ($3::bigint IS NULL OR r.integration_id = $3) AND {live}",
        t = table.table,
        live = table.live,
    ))
    .bind(tenant_id)
    .bind(collection)
    .bind(integration)
    .fetch_one(pool)
    .await?;
    let deletes = if integration.is_none() {
        pending_deletes(pool, table, tenant_id, collection)
            .await?
            .len() as i64
    } else {
        0
    };
    Ok(TableCounts {
        records,
        embedded,
        pending: records - embedded - failed + deletes,
        failed,
    })
}

/// The first errors recorded for a job's failed records.
pub async fn first_failures(
    pool: &PgPool,
    tenant_id: TenantId,
    job_id: JobId,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT error FROM embedding_failures WHERE tenant_id = $1 AND job_id = $2
         ORDER BY failed_at LIMIT $3",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
