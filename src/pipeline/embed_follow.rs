//! Embedding that follows a run's loads while its sync goes on: records are embedded (in
//! process) as their batches are committed, so a first sync ends close to the longer of
//! syncing and embedding instead of their sum, and records become searchable while the sync
//! still runs. What is pending is read from the tables each time, so the run's closing
//! embed pass finds whatever this left (the last loads, deletions, failures) and the
//! outcome is the same as without it.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use super::embed_run::{embed_here, messages, EmbedCounts, RECORDS_PER_MESSAGE};
use super::embed_stage::{EmbedStage, Embedding};
use super::source::Catalog;
use super::PipelineError;
use crate::domain::{Provider, Scope};
use crate::queue::EmbedOperation;
use crate::store::vectors::{self, EmbedTable};

/// How long the follower waits for more loads when nothing is pending.
const IDLE: Duration = Duration::from_millis(250);

/// Messages embedded per look at what is pending (loads keep coming meanwhile). Messages
/// are the closing pass's size: a remote provider gets as few requests as without this.
const MESSAGES_PER_LOOK: usize = 4;

/// Embeds the integration's pending records of `tables` until `sync_done` turns true;
/// returns what it embedded and what failed per table (nothing when the tenant has no
/// embedding settings).
pub async fn follow_loads(
    pool: &PgPool,
    (sources, embedding): (Catalog, &Embedding),
    (scope, provider): (Scope, Provider),
    tables: &[&'static EmbedTable],
    mut sync_done: watch::Receiver<bool>,
) -> Result<Vec<(&'static EmbedTable, EmbedCounts)>, PipelineError> {
    let mut counts: Vec<(&'static EmbedTable, EmbedCounts)> = tables
        .iter()
        .map(|&table| (table, EmbedCounts::default()))
        .collect();
    let Some(target) = vectors::target(pool, scope.tenant_id).await? else {
        return Ok(Vec::new());
    };
    let stage = EmbedStage::new(pool, sources, embedding);
    // Once the sync is over the run's closing pass embeds the rest.
    while !*sync_done.borrow_and_update() {
        let mut embedded_any = false;
        for (table, table_counts) in &mut counts {
            let pending = vectors::pending_upserts(
                pool,
                table,
                scope.tenant_id,
                &target.collection,
                Some(scope.integration_id),
            )
            .await?;
            let batch = &pending[..pending.len().min(RECORDS_PER_MESSAGE * MESSAGES_PER_LOOK)];
            if batch.is_empty() {
                continue;
            }
            embedded_any = true;
            let upsert = (EmbedOperation::Upsert, RECORDS_PER_MESSAGE);
            let work = messages((scope, provider), table, batch, upsert);
            let these = embed_here(&stage, scope, work).await?;
            table_counts.report += these.report;
            table_counts.failed += these.failed;
            if these.failed > 0 {
                // A provider failing now would fail at every look: leave it to the
                // closing pass.
                return Ok(counts);
            }
        }
        if !embedded_any {
            let _ = tokio::time::timeout(IDLE, sync_done.changed()).await;
        }
    }
    Ok(counts)
}
