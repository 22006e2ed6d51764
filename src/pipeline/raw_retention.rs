//! Raw retention passes: every integration, one tenant at a time, has the raw rows that are
//! history deleted in bounded batches (which rows those are is `store::raw_prune`'s rule),
//! with counts in the log and `/metrics`, and the table vacuumed after a pass that deleted
//! rows (so their space is reused at once). `pulse-etl raw prune` runs one pass; the
//! scheduler's pruner runs one at start and then on an interval, pausing between batches so
//! it never holds the database for long.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::{RawId, TenantId};
use crate::store::{raw_prune, tenants, StoreError};
use crate::telemetry::metrics;

/// What a pass keeps and how it walks.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// How long older versions of an entity are kept after they were stored; zero keeps
    /// only the newest.
    pub keep: Duration,
    /// Rows looked at per statement.
    pub batch: i64,
    /// The pause after each batch (zero: none).
    pub pause: Duration,
}

impl Retention {
    /// Rows looked at per statement by default: a statement takes well under a second.
    pub const BATCH: i64 = 5_000;

    /// Rows stored before this are past the window (a window reaching back beyond 1970,
    /// before any row was stored, keeps everything).
    pub fn stored_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.keep)
            .ok()
            .and_then(|keep| now.checked_sub_signed(keep))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Keeps `days` of history, walking `BATCH` rows at a time.
    pub fn days(days: u32, pause: Duration) -> Self {
        Retention {
            keep: Duration::from_secs(u64::from(days) * 86_400),
            batch: Self::BATCH,
            pause,
        }
    }
}

/// What a pass did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneTotals {
    pub integrations: u64,
    /// Processed rows looked at.
    pub scanned: u64,
    /// Rows deleted (dry run: that would be).
    pub pruned: u64,
    /// Bytes of raw JSON in those rows, as stored.
    pub bytes: u64,
}

/// One pass over the integrations of `tenant` (all tenants when `None`; a tenant that does
/// not exist is `NotFound`).
pub async fn prune(
    pool: &PgPool,
    tenant: Option<TenantId>,
    retention: Retention,
    dry_run: bool,
) -> Result<PruneTotals, StoreError> {
    let stored_before = retention.stored_before(chrono::Utc::now());
    if let Some(tenant) = tenant {
        tenants::ensure_exists(pool, tenant).await?;
    }
    let mut totals = PruneTotals::default();
    for ids in raw_prune::integrations(pool, tenant).await? {
        totals.integrations += 1;
        let mut after = RawId(0);
        let mut mine = PruneTotals::default();
        loop {
            let batch =
                raw_prune::prune_batch(pool, ids, after, stored_before, retention.batch, dry_run)
                    .await?;
            mine.scanned += batch.scanned;
            mine.pruned += batch.pruned;
            mine.bytes += batch.bytes;
            if !dry_run {
                metrics::raw_pruned(batch.pruned, batch.bytes);
            }
            match batch.last_scanned {
                Some(last) if batch.scanned >= retention.batch as u64 => after = last,
                _ => break,
            }
            if !retention.pause.is_zero() {
                tokio::time::sleep(retention.pause).await;
            }
        }
        if mine.pruned > 0 {
            tracing::info!(
                tenant_id = ids.tenant.get(),
                integration_id = ids.integration.get(),
                scanned = mine.scanned,
                pruned = mine.pruned,
                bytes = mine.bytes,
                dry_run,
                "raw history pruned"
            );
        }
        totals.scanned += mine.scanned;
        totals.pruned += mine.pruned;
        totals.bytes += mine.bytes;
    }
    if totals.pruned > 0 && !dry_run {
        raw_prune::vacuum(pool).await?;
    }
    Ok(totals)
}

/// The scheduler's pruner: a pass now and then every `every`, for as long as it is polled.
/// A failed pass is logged and tried again at the next.
pub async fn run(pool: &PgPool, retention: Retention, every: Duration) {
    loop {
        if let Err(error) = prune(pool, None, retention, false).await {
            let error = anyhow::Error::new(error);
            tracing::warn!(error = %format!("{error:#}"), "raw pruning failed; trying again at the next pass");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_its_days_before_now_and_never_overflows() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cutoff = |days| Retention::days(days, Duration::ZERO).stored_before(now);
        assert_eq!(cutoff(0), now);
        assert_eq!(cutoff(14), now - chrono::Duration::days(14));
        assert_eq!(cutoff(u32::MAX), DateTime::<Utc>::UNIX_EPOCH);
    }
}
