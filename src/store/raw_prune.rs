//! Raw retention: which raw rows are history and deleting them in bounded batches.
//!
//! A raw row stays while it is pending or failed (processing needs it), and the newest row
//! of each entity stays for good (reprocessing reads it). "Entity" is what reprocessing
//! reads as one: the kind, the external id and, for paged answers, the page (`startAt`). Older
//! versions are history, kept for the retention window (by when they were stored) and then
//! deleted. A GraphQL continuation belongs to the pull request version its extraction read,
//! so it goes with that version. A webhook delivery is only a prompt to read the entities
//! again: it goes once processed and older than the window.
//!
//! Each batch is one statement: it scans the next processed rows of one integration in id
//! order and deletes the history among them, so a pruner killed mid-batch has deleted all or
//! nothing of that batch, and a pass over an integration reads each row once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::error::StoreError;
use crate::domain::{IntegrationId, IntegrationRef, RawId, TenantId};

/// Kinds whose rows are webhook deliveries.
const DELIVERY_KINDS: &[&str] = &["github_webhook", "jira_webhook"];
/// The GraphQL pull request kind and the kind of the continuations its extraction read.
const GRAPHQL_PULL: &str = "github_graphql_pull";
const GRAPHQL_CONTINUATION: &str = "github_graphql_continuation";

/// One batch's outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedBatch {
    /// Processed rows looked at.
    pub scanned: u64,
    /// Rows deleted (or, in a dry run, that would be).
    pub pruned: u64,
    /// Bytes of raw JSON those rows held (as stored, compressed).
    pub bytes: u64,
    /// The last row looked at: the next batch starts after it. `None` when nothing was left.
    pub last_scanned: Option<RawId>,
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    scanned: i64,
    pruned: i64,
    bytes: i64,
    last_scanned: Option<RawId>,
}

/// The rows of a batch that are history: `$1` tenant, `$2` integration, `$3` scan after
/// this id, `$4` scan at most this many rows, `$5` stored before this time, `$6` delivery
/// kinds, `$7` the GraphQL pull kind, `$8` the continuation kind.
const DOOMED: &str = "
    scanned AS (
        SELECT id, type, external_id, extraction_metadata, created_at
        FROM raw_extraction_data
        WHERE tenant_id = $1 AND integration_id = $2 AND status = 'processed' AND id > $3
        ORDER BY id
        LIMIT $4
    ),
    superseded AS (
        SELECT s.id, s.type, s.external_id, s.extraction_metadata
        FROM scanned s
        WHERE s.created_at < $5
          AND (s.type = ANY($6)
               OR (s.type <> $8 AND EXISTS (
                     SELECT 1 FROM raw_extraction_data n
                     WHERE n.tenant_id = $1 AND n.integration_id = $2 AND n.type = s.type
                       AND (n.external_id = s.external_id
                            OR (n.external_id IS NULL AND s.external_id IS NULL))
                       AND (n.extraction_metadata->>'startAt')
                           IS NOT DISTINCT FROM (s.extraction_metadata->>'startAt')
                       AND n.id > s.id))
               OR (s.type = $8 AND NOT EXISTS (
                     SELECT 1 FROM raw_extraction_data p
                     WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.type = $7
                       AND p.external_id = s.external_id
                       AND p.extraction_metadata->>'extraction'
                           = s.extraction_metadata->>'extraction')))
    ),
    doomed AS (
        SELECT id FROM superseded
        UNION
        SELECT c.id
        FROM superseded p
        JOIN raw_extraction_data c
          ON c.tenant_id = $1 AND c.integration_id = $2 AND c.type = $8
         AND c.external_id = p.external_id
         AND c.extraction_metadata->>'extraction' = p.extraction_metadata->>'extraction'
        WHERE p.type = $7 AND c.status = 'processed'
    )";

/// Deletes (or with `dry_run` counts) the history among the next processed rows of the
/// integration after `after`, at most `batch` of them scanned.
pub async fn prune_batch(
    pool: &PgPool,
    ids: IntegrationRef,
    after: RawId,
    stored_before: DateTime<Utc>,
    batch: i64,
    dry_run: bool,
) -> Result<PrunedBatch, StoreError> {
    let outcome = if dry_run {
        "SELECT r.id, pg_column_size(r.raw_data) AS size
         FROM raw_extraction_data r JOIN doomed d ON d.id = r.id"
    } else {
        "DELETE FROM raw_extraction_data r USING doomed d WHERE r.id = d.id
         RETURNING r.id, pg_column_size(r.raw_data) AS size"
    };
    let statement = format!(
        "WITH {DOOMED}, gone AS ({outcome})
         SELECT (SELECT count(*) FROM scanned) AS scanned,
                (SELECT count(*) FROM gone) AS pruned,
                (SELECT coalesce(sum(size), 0)::bigint FROM gone) AS bytes,
                (SELECT max(id) FROM scanned) AS last_scanned"
    );
    let row: BatchRow = sqlx::query_as(&statement)
        .bind(ids.tenant)
        .bind(ids.integration)
        .bind(after)
        .bind(batch)
        .bind(stored_before)
        .bind(DELIVERY_KINDS)
        .bind(GRAPHQL_PULL)
        .bind(GRAPHQL_CONTINUATION)
        .fetch_one(pool)
        .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(PrunedBatch {
        scanned: count(row.scanned),
        pruned: count(row.pruned),
        bytes: count(row.bytes),
        last_scanned: row.last_scanned,
    })
}

/// Every integration (of one tenant, or of all), tenant by tenant: what a pruning pass walks.
pub async fn integrations(
    pool: &PgPool,
    tenant: Option<TenantId>,
) -> Result<Vec<IntegrationRef>, StoreError> {
    let rows: Vec<(TenantId, IntegrationId)> = sqlx::query_as(
        "SELECT tenant_id, id FROM integrations
         WHERE $1::bigint IS NULL OR tenant_id = $1
         ORDER BY tenant_id, id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, integration)| IntegrationRef::new(tenant, integration))
        .collect())
}

/// Vacuums the raw table, so the space of deleted rows is reused by the rows stored next
/// even where autovacuum is off or behind (the visibility map keeps it to the pages that
/// changed).
pub async fn vacuum(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("VACUUM raw_extraction_data")
        .execute(pool)
        .await?;
    Ok(())
}
