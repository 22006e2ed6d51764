//! Dead letters (`etl.failed`): listed; requeued, which also makes the jobs of the requeued
//! work due again; purged, which also drops the saved load batches no message will load.

use std::collections::BTreeSet;

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{JobId, TenantId};
use crate::queue::rabbitmq::{Broker, FailedMessage};
use crate::queue::topology::QueueStage;
use crate::queue::Work;
use crate::store::job_controls::{self, Control};
use crate::store::{dead_letters, load_batches};

/// Forgets the records of messages that left the failed queue.
async fn forget_records(pool: &PgPool, gone: &[FailedMessage]) -> ServiceResult<()> {
    for message in gone.iter().filter_map(FailedMessage::message) {
        dead_letters::forget(pool, message.tenant_id, &message.digest()).await?;
    }
    Ok(())
}

fn broker_error(error: impl Into<anyhow::Error>) -> ServiceError {
    ServiceError::internal(error, "reading the dead letters")
}

/// Up to `limit` dead letters, of one stage's queues or all.
pub async fn list(
    broker: &Broker,
    stage: Option<QueueStage>,
    limit: usize,
) -> ServiceResult<Vec<FailedMessage>> {
    let messages = broker.failed_messages(limit).await.map_err(broker_error)?;
    Ok(messages
        .into_iter()
        .filter(|m| stage.is_none_or(|s| m.stage() == Some(s)))
        .collect())
}

/// Returns dead letters to their queues, then makes their jobs due now: the failed run left
/// the cursor where it was, so the next run re-reads what that run had and ends FINISHED
/// once the requeued work is loaded. A paused job stays paused. Returns what was requeued.
pub async fn requeue(
    pool: &PgPool,
    broker: &Broker,
    stage: Option<QueueStage>,
) -> ServiceResult<Vec<FailedMessage>> {
    let requeued = broker.requeue_failed(stage).await.map_err(broker_error)?;
    forget_records(pool, &requeued).await?;
    let jobs: BTreeSet<(TenantId, JobId)> = requeued
        .iter()
        .filter_map(FailedMessage::message)
        .filter_map(|m| Some((m.tenant_id, m.job_id?)))
        .collect();
    for (tenant_id, job_id) in jobs {
        match job_controls::apply(pool, tenant_id, job_id, Control::Trigger).await {
            Ok(()) => tracing::info!(
                tenant_id = tenant_id.get(),
                job_id = job_id.get(),
                "job due again after requeue"
            ),
            Err(error) => {
                tracing::warn!(tenant_id = tenant_id.get(), job_id = job_id.get(), %error, "job not triggered")
            }
        }
    }
    Ok(requeued)
}

/// Drops dead letters, and the saved load batches the purged load messages named. Returns
/// what was purged.
pub async fn purge(
    pool: &PgPool,
    broker: &Broker,
    stage: Option<QueueStage>,
) -> ServiceResult<Vec<FailedMessage>> {
    let purged = broker.purge_failed(stage).await.map_err(broker_error)?;
    forget_records(pool, &purged).await?;
    for message in purged.iter().filter_map(FailedMessage::message) {
        if let Work::Load { load_batch_id, .. } = message.work {
            load_batches::delete(pool, message.tenant_id, load_batch_id).await?;
        }
    }
    Ok(purged)
}
