//! `pulse-etl worker --stage transform --tier T…`: consumes the tiers' transform queues on
//! RabbitMQ and transforms and loads each message's raw rows, acknowledging only after the
//! commit. A failed message is delivered again later; out of attempts (or not worth
//! retrying) it is dead-lettered and its raw rows are marked failed, so the run waiting
//! for them ends FAILED instead of waiting forever. Reconnects when the broker goes away;
//! SIGTERM lets the message in hand finish, then stops.

use std::future::Future;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use super::broker;
use crate::cli::WorkerArgs;
use crate::config::Config;
use crate::domain::Tier;
use crate::pipeline::transform_stage::TransformStage;
use crate::queue::topology::QueueStage;
use crate::queue::{Consumer, Delivery};
use crate::store::raw;

/// Pause before connecting again after the broker went away.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(pool: &PgPool, config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    let stage = broker::queue_stage(args.stage);
    if stage != QueueStage::Transform {
        bail!(
            "`worker --stage {}` is not available in this version: only transform runs as its own \
             worker (extraction runs in run-job and all, load is part of transform, embedding is \
             not built yet)",
            stage.as_str()
        );
    }
    let tiers = broker::tiers(&args.tier);
    transform_worker(pool, config, &tiers, super::signals::shutdown()).await
}

/// Consumes the transform queues of `tiers` until `stop` resolves.
pub(super) async fn transform_worker(
    pool: &PgPool,
    config: &Config,
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stage = TransformStage::new(pool);
    tokio::pin!(stop);
    loop {
        let broker = tokio::select! {
            broker = broker::connect(config, broker::Patience::Role) => broker?,
            () = &mut stop => return Ok(()),
        };
        broker.declare(QueueStage::Transform, tiers).await?;
        let mut consumer = broker
            .consumer(QueueStage::Transform, tiers, config.queue.prefetch)
            .await?;
        let names: Vec<&str> = tiers.iter().map(|t| t.as_str()).collect();
        tracing::info!(tiers = ?names, "transform worker consuming");
        loop {
            let delivery = tokio::select! {
                delivery = consumer.next() => delivery,
                () = &mut stop => {
                    tracing::info!("transform worker stopping");
                    broker.close().await.ok();
                    return Ok(());
                }
            };
            let Some(delivery) = delivery else {
                tracing::warn!("RabbitMQ connection lost; reconnecting");
                break;
            };
            if let Err(error) = work_on(pool, &stage, delivery).await {
                tracing::warn!(error = %format!("{error:#}"), "could not settle a message; reconnecting");
                break;
            }
        }
        // Whatever was not acknowledged goes back to its queue with the connection.
        broker.close().await.ok();
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// Transforms one message and settles it: ack, retry later, or dead-letter.
async fn work_on(
    pool: &PgPool,
    stage: &TransformStage<'_>,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let message = &delivery.message;
    let (tenant_id, job_id, attempt) = (message.tenant_id, message.job_id, delivery.attempt);
    match stage.handle(message).await {
        Ok(report) => {
            delivery.ack().await?;
            tracing::debug!(
                tenant_id,
                job_id,
                loaded = report.loaded,
                "message transformed"
            );
        }
        Err(error) => {
            let text = error.to_string();
            let retry = error.is_transient() && !delivery.out_of_attempts();
            if !retry {
                // Before the message leaves: a crash in between redelivers it, never loses it.
                raw::mark_pending_failed(pool, tenant_id, &message.raw_data_ids, &text).await?;
            }
            let outcome = delivery.reject(&text, retry).await?;
            tracing::warn!(tenant_id, job_id, attempt, ?outcome, error = %text, "transform failed");
        }
    }
    Ok(())
}
