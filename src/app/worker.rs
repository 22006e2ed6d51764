//! `pulse-etl worker --stage extract|transform --tier T…`: consumes the tiers' queues of a
//! stage on RabbitMQ. Transform workers transform and load each message's raw rows,
//! acknowledging only after the commit; a failed message is delivered again later, and out
//! of attempts (or not worth retrying) it is dead-lettered with its raw rows marked failed,
//! so the run waiting for them ends FAILED instead of waiting forever. Extract workers run
//! the sync jobs a `scheduler --dispatch` hands them. Workers reconnect when the broker
//! goes away; SIGTERM lets the message in hand finish, then stops.

use std::future::Future;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use super::broker;
use crate::cli::WorkerArgs;
use crate::config::Config;
use crate::domain::Tier;
use crate::pipeline::transform_stage::TransformStage;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use crate::queue::{Consumer, Delivery, SYNC_JOB};
use crate::security::CredentialCipher;
use crate::store::{jobs, raw};

/// Pause before connecting again after the broker went away.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(pool: &PgPool, config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    let tiers = broker::tiers(&args.tier);
    let stop = super::signals::shutdown();
    match broker::queue_stage(args.stage) {
        QueueStage::Transform => transform_worker(pool, config, &tiers, stop).await,
        QueueStage::Extraction => extract_worker(pool, config, &tiers, stop).await,
        other => bail!(
            "`worker --stage {}` is not available in this version: only extract and transform run \
             as their own workers (load is part of transform, embedding is not built yet)",
            other.as_str()
        ),
    }
}

/// Consumes the transform queues of `tiers` until `stop` resolves.
pub(super) async fn transform_worker(
    pool: &PgPool,
    config: &Config,
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stage = TransformStage::new(pool);
    let queues = Queues {
        stage: QueueStage::Transform,
        tiers,
        prefetch: config.queue.prefetch,
    };
    consume(config, queues, stop, async |_, delivery| {
        transform(pool, &stage, delivery).await
    })
    .await
}

/// Consumes the extraction queues of `tiers` (one job at a time) until `stop` resolves.
async fn extract_worker(
    pool: &PgPool,
    config: &Config,
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let cipher = CredentialCipher::new(&config.secret_key()?);
    let interval = Duration::from_secs(config.scheduler.interval_secs);
    let queues = Queues {
        stage: QueueStage::Extraction,
        tiers,
        prefetch: 1,
    };
    consume(config, queues, stop, async |broker, delivery| {
        run_job(pool, &cipher, broker, delivery, interval).await
    })
    .await
}

/// The queues a worker consumes.
#[derive(Clone, Copy)]
struct Queues<'a> {
    stage: QueueStage,
    tiers: &'a [Tier],
    prefetch: u16,
}

/// Consumes `queues` until `stop` resolves, `work` settling each delivery; reconnects when
/// the broker goes away or a delivery cannot be settled.
async fn consume(
    config: &Config,
    queues: Queues<'_>,
    stop: impl Future<Output = ()>,
    work: impl AsyncFn(&Broker, Delivery) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    tokio::pin!(stop);
    loop {
        let broker = tokio::select! {
            broker = broker::connect(config, broker::Patience::Role) => broker?,
            () = &mut stop => return Ok(()),
        };
        broker.declare(queues.stage, queues.tiers).await?;
        // Extraction hands its transform work on.
        broker.declare(QueueStage::Transform, queues.tiers).await?;
        let mut consumer = broker
            .consumer(queues.stage, queues.tiers, queues.prefetch)
            .await?;
        let names: Vec<&str> = queues.tiers.iter().map(|t| t.as_str()).collect();
        tracing::info!(stage = queues.stage.as_str(), tiers = ?names, "worker consuming");
        loop {
            let delivery = tokio::select! {
                delivery = consumer.next() => delivery,
                () = &mut stop => {
                    tracing::info!("worker stopping");
                    broker.close().await.ok();
                    return Ok(());
                }
            };
            let Some(delivery) = delivery else {
                tracing::warn!("RabbitMQ connection lost; reconnecting");
                break;
            };
            if let Err(error) = work(&broker, delivery).await {
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
async fn transform(
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
            let retry = error.is_transient() && !delivery.out_of_attempts();
            // With its causes: "database error" alone tells an operator nothing.
            let text = format!("{:#}", anyhow::Error::new(error));
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

/// Runs the sync job a message names. The job's ownership lives in PostgreSQL (RUNNING,
/// last progress), so the message is acknowledged at once: a long run is never delivered
/// twice, and a worker that dies leaves a RUNNING job that a scheduler takes over once it
/// stops making progress.
async fn run_job(
    pool: &PgPool,
    cipher: &CredentialCipher,
    broker: &Broker,
    delivery: Delivery,
    interval: Duration,
) -> anyhow::Result<()> {
    let message = delivery.message.clone();
    let job = match (message.kind == SYNC_JOB, message.job_id) {
        (true, Some(job_id)) => {
            let jobs = jobs::for_run(
                pool,
                message.tenant_id,
                message.provider,
                Some(message.integration_id),
            )
            .await?;
            jobs.into_iter().find(|job| job.id == job_id)
        }
        _ => None,
    };
    let Some(job) = job else {
        delivery
            .reject("not a sync job of this database", false)
            .await?;
        return Ok(());
    };
    delivery.ack().await?;
    super::scheduler::run_claimed(
        pool,
        cipher,
        Some(broker),
        (message.tenant_id, &job),
        interval,
    )
    .await
}
