//! Load work: rows a transform produced, per table, ready for the bulk upserts — loaded at
//! once in process, or saved to `load_batches` for a load worker, which upserts the saved
//! records server-side, marks their raw rows processed and deletes the batch.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::PgPool;

use super::bulk::{records, Upsert};
use super::error::StoreError;
use super::raw;
use crate::domain::{IntegrationRef, JobId, LoadBatchId, RawId, TenantId};

/// A table load work fills: its upsert, and where it comes in the load order (a changelog
/// needs its work item, a review its pull request, a pull request its repository: lower
/// loads first).
pub struct LoadTable {
    pub upsert: Upsert,
    pub order: u8,
    /// Work for the tenant once a load wrote rows here (before its raw rows are marked
    /// processed, so an interrupted load runs it again when it is delivered again).
    pub after_load: Option<AfterLoad>,
}

/// What follows a load into a table, given the tenant loaded for.
pub type AfterLoad = for<'a> fn(&'a PgPool, TenantId) -> BoxFuture<'a, Result<(), StoreError>>;

/// Runs the after-load work of `tables` (each table once).
async fn after_load(
    pool: &PgPool,
    tenant_id: TenantId,
    tables: &[&'static LoadTable],
) -> Result<(), StoreError> {
    let hooks: Vec<AfterLoad> = tables.iter().filter_map(|table| table.after_load).collect();
    for after in hooks {
        after(pool, tenant_id).await?;
    }
    Ok(())
}

impl LoadTable {
    /// The table's name, also the batch part its records are saved under.
    pub fn name(&self) -> &'static str {
        self.upsert.table
    }
}

/// Every load table, as the sources register them: how a saved batch finds each part's
/// upsert.
pub type LoadTables<'a> = &'a [&'static LoadTable];

/// A typed row of a load table.
pub trait LoadRow: Serialize {
    const TABLE: &'static LoadTable;

    /// The key rows of one batch are deduplicated on.
    fn dedup_key(&self) -> &str;

    /// Whether this row wins over an `earlier` row of the batch with the same key (by
    /// default the later row wins).
    fn supersedes(&self, _earlier: &Self) -> bool {
        true
    }
}

/// Rows transformed from one message, per table, and the raw rows they came from.
#[derive(Default)]
pub struct LoadRows {
    parts: Vec<(&'static LoadTable, Box<RawValue>)>,
    raw_ids: Vec<RawId>,
}

impl LoadRows {
    /// Adds rows for their table (no rows: nothing to load there); once per table.
    pub fn add<R: LoadRow>(&mut self, rows: &[R]) -> Result<(), StoreError> {
        if !rows.is_empty() {
            self.parts
                .push((R::TABLE, records(rows, R::dedup_key, R::supersedes)?));
        }
        Ok(())
    }

    /// Raw rows to mark processed once the rows are loaded.
    pub fn processed(&mut self, ids: impl IntoIterator<Item = RawId>) {
        self.raw_ids.extend(ids);
    }

    fn in_load_order(&self) -> Vec<&(&'static LoadTable, Box<RawValue>)> {
        let mut parts: Vec<_> = self.parts.iter().collect();
        parts.sort_by_key(|(table, _)| table.order);
        parts
    }

    /// Loads here: each table's upsert in load order, then the raw rows marked processed.
    pub async fn load(&self, pool: &PgPool, ids: IntegrationRef) -> Result<(), StoreError> {
        for (table, records) in self.in_load_order() {
            table.upsert.run_records(pool, ids, records).await?;
        }
        let tables: Vec<&'static LoadTable> = self.parts.iter().map(|(table, _)| *table).collect();
        after_load(pool, ids.tenant, &tables).await?;
        raw::mark_processed(pool, ids.tenant, &self.raw_ids).await
    }

    /// Saves the rows for a load worker as the batch of `source_raw_id` (the first raw row
    /// of the transform message: delivered again, the message rewrites its batch instead of
    /// adding one); returns the batch id.
    pub async fn save(
        &self,
        pool: &PgPool,
        IntegrationRef {
            tenant: tenant_id,
            integration: integration_id,
        }: IntegrationRef,
        job_id: Option<JobId>,
        source_raw_id: RawId,
    ) -> Result<LoadBatchId, StoreError> {
        // `{"work_items": [...], ...}`, written around the records already serialized.
        let mut object = String::from("{");
        for (table, records) in &self.parts {
            if object.len() > 1 {
                object.push(',');
            }
            object.push_str(&serde_json::to_string(table.name())?);
            object.push(':');
            object.push_str(records.get());
        }
        object.push('}');
        let parts = RawValue::from_string(object)?;
        Ok(sqlx::query_scalar(
            "INSERT INTO load_batches (tenant_id, integration_id, job_id, source_raw_id, parts, raw_ids)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, source_raw_id) DO UPDATE
             SET job_id = excluded.job_id, parts = excluded.parts, raw_ids = excluded.raw_ids
             RETURNING id",
        )
        .bind(tenant_id)
        .bind(integration_id)
        .bind(job_id)
        .bind(source_raw_id)
        .bind(sqlx::types::Json(parts))
        .bind(&self.raw_ids)
        .fetch_one(pool)
        .await?)
    }
}

/// Loads saved batch `batch_id`: each part's upsert (found among `tables`) in load order,
/// reading the records on the server; then its raw rows marked processed and the batch
/// deleted. Returns how many records the batch held, or None when there is no such batch
/// (already loaded: a message delivered twice). A part no registered table claims is an
/// error, never skipped: skipping it would mark its raw rows processed unloaded.
pub async fn load_saved(
    pool: &PgPool,
    ids @ IntegrationRef {
        tenant: tenant_id,
        integration: integration_id,
    }: IntegrationRef,
    batch_id: LoadBatchId,
    tables: LoadTables<'_>,
) -> Result<Option<u64>, StoreError> {
    let saved: Option<(Vec<String>, i64, Vec<RawId>)> = sqlx::query_as(
        "SELECT coalesce(array_agg(part.key), '{}'),
                coalesce(sum(jsonb_array_length(part.value)), 0)::bigint,
                b.raw_ids
         FROM load_batches b LEFT JOIN LATERAL jsonb_each(b.parts) part ON true
         WHERE b.id = $3 AND b.tenant_id = $1 AND b.integration_id = $2
         GROUP BY b.id",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(batch_id)
    .fetch_optional(pool)
    .await?;
    let Some((parts, records, raw_ids)) = saved else {
        return Ok(None);
    };
    let mut saved_tables = Vec::with_capacity(parts.len());
    for part in &parts {
        match tables.iter().find(|table| table.name() == part) {
            Some(table) => saved_tables.push(*table),
            None => return Err(StoreError::UnknownLoadTable(part.clone())),
        }
    }
    saved_tables.sort_by_key(|table| table.order);
    for table in &saved_tables {
        table
            .upsert
            .run_saved(pool, ids, batch_id, table.name())
            .await?;
    }
    after_load(pool, tenant_id, &saved_tables).await?;
    raw::mark_processed(pool, tenant_id, &raw_ids).await?;
    delete(pool, tenant_id, batch_id).await?;
    Ok(Some(records.unsigned_abs()))
}

/// Deletes a saved batch (loaded, or given up on).
pub async fn delete(
    pool: &PgPool,
    tenant_id: TenantId,
    batch_id: LoadBatchId,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM load_batches WHERE id = $1 AND tenant_id = $2")
        .bind(batch_id)
        .bind(tenant_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Checks for each source's tests: what a row type writes is what its table's upsert reads.
#[cfg(test)]
pub(crate) mod checks {
    use std::collections::BTreeSet;

    use super::{LoadRow, Upsert};

    /// The fields `R` serializes are exactly the record fields its table's upsert declares
    /// (a field the upsert does not read would be dropped without a word).
    pub fn record_matches_row<R: LoadRow + Default>() {
        record_matches::<R>(&R::TABLE.upsert);
    }

    /// Asserts that row type `R` serialises exactly the fields `upsert`'s record reads.
    pub fn record_matches<R: serde::Serialize + Default>(upsert: &Upsert) {
        let row = serde_json::to_value(R::default()).unwrap_or_default();
        let fields: BTreeSet<&str> = row
            .as_object()
            .map(|fields| fields.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let record: BTreeSet<&str> = upsert.record.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            fields, record,
            "{}: row fields vs upsert record",
            upsert.table
        );
    }
}
