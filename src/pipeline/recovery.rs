//! Start-up recovery: raw rows stored but never transformed (a process died between storing
//! a page and loading it) go through the transform stage, so a crash loses no work. When
//! workers share the work, rows of a job still making progress are theirs and left alone.

use std::time::Duration;

use sqlx::PgPool;

use super::source::Catalog;
use super::transform_stage::TransformStage;
use super::{stage_message, PipelineError, StepReport};
use crate::domain::{IntegrationRef, Scope};
use crate::store::raw;

/// Rows per message, as an extraction page would carry them.
const BATCH: i64 = 100;

/// Transforms and loads pending raw rows here — all of them, or with `live_within` those
/// of jobs not RUNNING with progress within that time (over RabbitMQ, a live job's pending
/// rows are queued for workers); returns what that did.
pub async fn transform_pending(
    pool: &PgPool,
    sources: Catalog,
    live_within: Option<Duration>,
) -> Result<StepReport, PipelineError> {
    let stage = TransformStage::new(pool, sources);
    let mut all = StepReport::default();
    // Each source's kinds in its own order: every kind any source's messages carry.
    let kinds = sources.all.iter().flat_map(|source| {
        let provider = source.provider();
        source
            .transforms()
            .iter()
            .map(move |transform| (provider, transform.kind))
    });
    for (provider, kind) in kinds {
        for (tenant_id, integration_id, ids) in
            raw::pending_batches(pool, kind, BATCH, live_within).await?
        {
            let scope = Scope::of(IntegrationRef::new(tenant_id, integration_id));
            let message = stage_message(scope, (provider, kind), None, ids);
            all += stage.handle(&message, Vec::new()).await?;
        }
    }
    Ok(all)
}
