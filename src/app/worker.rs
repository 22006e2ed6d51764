//! `pulse-etl worker --stage extract|transform|load|embed … --tier T…`: consumes the tiers'
//! queues of one or more stages on RabbitMQ. Transform workers transform each message's raw
//! rows, save the result as a load batch and hand it to the load queue; load workers upsert
//! saved batches; embed workers embed the records a message names and record their vectors.
//! Each acknowledges only after its commit; a failed message is delivered
//! again later, and out of attempts (or not worth retrying) it is dead-lettered with its
//! raw rows marked failed, so the run waiting for them ends FAILED instead of waiting
//! forever. Extract workers run the sync jobs a `scheduler --dispatch` hands them. Workers
//! reconnect when the broker goes away; SIGTERM lets the message in hand finish (within
//! `shutdown.grace_secs`; past it the message goes back to its queue), then stops.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tracing::Instrument;

use super::broker;
use super::ops::{Ops, OpsSetup};
use crate::cli::WorkerArgs;
use crate::config::Config;
use crate::domain::Tier;
use crate::pipeline::embed_stage::{EmbedStage, Embedding};
use crate::pipeline::source::Reach;
use crate::pipeline::transform_stage::{TransformError, TransformStage};
use crate::queue::rabbitmq::{Broker, Rejected};
use crate::queue::topology::QueueStage;
use crate::queue::{Consumer, Delivery, Publisher, StageMessage, Work};
use crate::sources::CATALOG;
use crate::store::{dead_letters, jobs, raw, tenants};
use crate::telemetry::{metrics, trace_export};

/// Pause before connecting again after the broker went away.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(pool: &PgPool, config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    let tiers = broker::tiers(&args.tier);
    let mut stages: Vec<QueueStage> = Vec::new();
    for stage in args.stage.into_iter().map(broker::queue_stage) {
        if !stages.contains(&stage) {
            stages.push(stage);
        }
    }
    // Embed workers write vectors: readiness checks the store they write to.
    let embedding = match stages.contains(&QueueStage::Embedding) {
        true => {
            let cipher = super::vectors::optional_cipher(config);
            Some(super::vectors::embedding(config, cipher)?)
        }
        false => None,
    };
    let setup = OpsSetup {
        role: "worker",
        addr: args.metrics_addr.or(config.metrics.addr),
        uses_broker: true,
        vectors: embedding.as_ref().map(|embedding| embedding.store.clone()),
    };
    let ops = Ops::start(pool, config, setup).await?;
    let roles = stages.into_iter().map(|stage| {
        let (tiers, embedding) = (&tiers, embedding.as_ref());
        async move {
            let stop = super::signals::shutdown();
            match (stage, embedding) {
                (QueueStage::Extraction, _) => extract_worker(pool, config, tiers, stop).await,
                (QueueStage::Transform, _) => transform_worker(pool, config, tiers, stop).await,
                (QueueStage::Load, _) => load_worker(pool, config, tiers, stop).await,
                (QueueStage::Embedding, Some(embedding)) => {
                    embed_worker(pool, (config, embedding), tiers, stop).await
                }
                (QueueStage::Embedding, None) => Ok(()),
            }
        }
    });
    let outcome = futures_util::future::try_join_all(roles).await;
    ops.stop().await;
    outcome.map(|_| ())
}

/// Consumes the transform queues of `tiers` until `stop` resolves.
pub(super) async fn transform_worker(
    pool: &PgPool,
    config: &Config,
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stage = TransformStage::new(pool, CATALOG);
    let queues = Queues::of(QueueStage::Transform, tiers, config);
    consume(config, queues, stop, async |broker, delivery| {
        transform(pool, &stage, broker, delivery).await
    })
    .await
}

/// Consumes the load queues of `tiers` until `stop` resolves.
pub(super) async fn load_worker(
    pool: &PgPool,
    config: &Config,
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stage = TransformStage::new(pool, CATALOG);
    let queues = Queues::of(QueueStage::Load, tiers, config);
    consume(config, queues, stop, async |_, delivery| {
        load(pool, &stage, delivery).await
    })
    .await
}

/// Messages an embed worker holds at once: each is a batch of records for the model, so a
/// few keep it busy without hoarding work other workers could take.
const EMBED_PREFETCH: u16 = 4;

/// Consumes the embedding queues of `tiers` until `stop` resolves.
pub(super) async fn embed_worker(
    pool: &PgPool,
    (config, embedding): (&Config, &Embedding),
    tiers: &[Tier],
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stage = EmbedStage::new(pool, CATALOG, embedding);
    let queues = Queues {
        stage: QueueStage::Embedding,
        tiers,
        prefetch: EMBED_PREFETCH,
    };
    consume(config, queues, stop, async |_, delivery| {
        embed(&stage, delivery).await
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
    let reach = super::reach(config, &config.secret_key()?);
    let embedding = super::vectors::embedding(config, Some(reach.cipher.clone()))?;
    let timing = super::scheduler::Timing::from_config(config, None);
    let queues = Queues {
        stage: QueueStage::Extraction,
        tiers,
        prefetch: 1,
    };
    consume(config, queues, stop, async |broker, delivery| {
        run_job(pool, (&reach, &embedding), broker, delivery, timing).await
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

impl<'a> Queues<'a> {
    /// A stage's queues with the configured prefetch.
    fn of(stage: QueueStage, tiers: &'a [Tier], config: &Config) -> Self {
        Queues {
            stage,
            tiers,
            prefetch: config.queue.prefetch,
        }
    }
}

/// Consumes `queues` until `stop` resolves, `work` settling each delivery; reconnects when
/// the broker goes away or a delivery cannot be settled. A stop that comes while a
/// delivery is in hand gives it `shutdown.grace_secs` to settle; what is unsettled then
/// goes back to its queue with the connection.
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
        // Extraction hands its work on to transform (and, once loaded, to embedding),
        // transform to load.
        let next: &[QueueStage] = match queues.stage {
            QueueStage::Extraction => &[QueueStage::Transform, QueueStage::Embedding],
            QueueStage::Transform => &[QueueStage::Load],
            _ => &[],
        };
        for &next in next {
            broker.declare(next, queues.tiers).await?;
        }
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
            let stage = queues.stage.as_str();
            let (_in_flight, clock) = (metrics::in_flight(stage), Instant::now());
            let settled = {
                let span = trace_export::message_span(stage, delivery.traceparent.as_deref());
                let handled = work(&broker, delivery).instrument(span);
                tokio::pin!(handled);
                tokio::select! {
                    settled = &mut handled => Some(settled),
                    () = &mut stop => {
                        finish_in_grace(handled, config).await;
                        None
                    }
                }
            };
            let Some(settled) = settled else {
                broker.close().await.ok();
                return Ok(());
            };
            metrics::stage_duration(stage, clock.elapsed());
            if let Err(error) = settled {
                tracing::warn!(error = %format!("{error:#}"), "could not settle a message; reconnecting");
                break;
            }
        }
        // Whatever was not acknowledged goes back to its queue with the connection.
        broker.close().await.ok();
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// Lets a stopping worker's message in hand settle within `shutdown.grace_secs`; what is
/// unsettled then goes back to its queue when the connection closes.
async fn finish_in_grace(handled: impl Future<Output = anyhow::Result<()>>, config: &Config) {
    let grace = Duration::from_secs(config.shutdown.grace_secs);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "worker stopping: finishing the message in hand"
    );
    match tokio::time::timeout(grace, handled).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(error = %format!("{error:#}"), "could not settle the last message; it goes back to its queue")
        }
        Err(_) => tracing::warn!("grace period over: the message in hand goes back to its queue"),
    }
}

/// Transforms one message and settles it: its load work saved and handed to the load
/// queue, then ack; or retry later, or dead-letter.
// The span is at error level so that its tenant and job stay on every event, whatever
// level the log filter lets through.
#[tracing::instrument(name = "transform_message", level = "error", skip_all, fields(tenant_id = delivery.message.tenant_id.get(), job_id = delivery.message.job_id.map(|id| id.get()), provider = %delivery.message.provider))]
async fn transform(
    pool: &PgPool,
    stage: &TransformStage<'_>,
    broker: &Broker,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let message = &delivery.message;
    let saved = async {
        let (rows, report) = stage.transform(message, Vec::new()).await?;
        let Some(&source) = message.raw_data_ids().first() else {
            return Ok(None);
        };
        let ids = message.scope().integration();
        let batch = rows.save(pool, ids, message.job_id, source).await?;
        Ok::<_, TransformError>(Some((batch, report)))
    };
    match saved.await {
        Ok(Some((batch, report))) => {
            let tier = tenants::tier(pool, message.tenant_id).await?;
            let load = StageMessage {
                work: Work::Load {
                    load_batch_id: batch,
                    raw_data_ids: message.raw_data_ids().to_vec(),
                },
                ..message.clone()
            };
            broker
                .publisher(QueueStage::Load, tier)
                .publish(load)
                .await?;
            delivery.ack().await?;
            tracing::debug!(
                batch = batch.get(),
                rows = report.loaded,
                "message transformed"
            );
        }
        // Nothing to transform (a step's end marker).
        Ok(None) => delivery.ack().await?,
        Err(error) => {
            let retry = error.is_transient();
            fail(
                pool,
                delivery,
                anyhow::Error::new(error),
                retry,
                "transform",
            )
            .await?;
        }
    }
    Ok(())
}

/// Loads the batch a message names and settles it: ack (also when the batch is gone: it
/// was loaded by an earlier delivery), or retry later, or dead-letter.
#[tracing::instrument(name = "load_message", level = "error", skip_all, fields(tenant_id = delivery.message.tenant_id.get(), job_id = delivery.message.job_id.map(|id| id.get()), provider = %delivery.message.provider))]
async fn load(pool: &PgPool, stage: &TransformStage<'_>, delivery: Delivery) -> anyhow::Result<()> {
    let message = &delivery.message;
    let Work::Load {
        load_batch_id: batch,
        ..
    } = message.work
    else {
        let error = anyhow::anyhow!("not load work: the message names no load batch");
        return fail(pool, delivery, error, false, "load").await;
    };
    match stage.load_saved(message.scope().integration(), batch).await {
        Ok(loaded) => {
            let provider = message.provider;
            delivery.ack().await?;
            let rows = loaded.unwrap_or_default();
            tracing::debug!(batch = batch.get(), rows, "batch loaded");
            if let Err(error) = stage.loaded(provider, rows).await {
                tracing::warn!(%error, "planner statistics not refreshed");
            }
        }
        Err(error) => fail(pool, delivery, anyhow::Error::new(error), true, "load").await?,
    }
    Ok(())
}

/// Embeds the records one message names and settles it: ack once their vectors are written
/// and recorded; a failure is retried later, and out of attempts (or not worth retrying)
/// the records are recorded as failed — so the run waiting for them ends FAILED with the
/// count — and the message is dead-lettered.
#[tracing::instrument(name = "embed_message", level = "error", skip_all, fields(tenant_id = delivery.message.tenant_id.get(), job_id = delivery.message.job_id.map(|id| id.get()), provider = %delivery.message.provider))]
async fn embed(stage: &EmbedStage<'_>, delivery: Delivery) -> anyhow::Result<()> {
    match stage.handle(&delivery.message).await {
        Ok(report) => {
            delivery.ack().await?;
            tracing::debug!(
                embedded = report.embedded,
                unchanged = report.unchanged,
                deleted = report.deleted,
                "records embedded"
            );
        }
        Err(error) => {
            let retry = error.is_transient() && !delivery.out_of_attempts();
            let text = error.to_string();
            if !retry {
                stage.record_failure(&delivery.message, &text).await?;
            }
            let attempt = delivery.attempt;
            let message = delivery.message.clone();
            let outcome = delivery.reject(&text, retry).await?;
            let dead = (outcome, "embed", text.as_str());
            record_dead_letter(stage.pool(), &message, dead).await?;
            tracing::warn!(attempt, ?outcome, error = %text, "embedding failed");
        }
    }
    Ok(())
}

/// Settles a message whose work failed with `error`: delivered again later when `retry`
/// and attempts are left, else its raw rows are marked failed (before the message leaves:
/// a crash in between redelivers it, never loses it) and it is dead-lettered.
async fn fail(
    pool: &PgPool,
    delivery: Delivery,
    error: anyhow::Error,
    retry: bool,
    stage: &str,
) -> anyhow::Result<()> {
    let message = &delivery.message;
    let (tenant_id, attempt) = (message.tenant_id, delivery.attempt);
    let retry = retry && !delivery.out_of_attempts();
    // With its causes: "database error" alone tells an operator nothing.
    let text = format!("{error:#}");
    if !retry {
        raw::mark_pending_failed(pool, tenant_id, message.raw_data_ids(), &text).await?;
    }
    let message = message.clone();
    let outcome = delivery.reject(&text, retry).await?;
    record_dead_letter(pool, &message, (outcome, stage, &text)).await?;
    tracing::warn!(attempt, ?outcome, error = %text, "{stage} failed");
    Ok(())
}

/// Records a message that was dead-lettered as its tenant's (after it left: a crash in
/// between leaves the count one short, never a message lost).
async fn record_dead_letter(
    pool: &PgPool,
    message: &StageMessage,
    (outcome, stage, error): (Rejected, &str, &str),
) -> anyhow::Result<()> {
    if outcome == Rejected::DeadLettered {
        dead_letters::record(pool, message.tenant_id, &message.digest(), stage, error).await?;
    }
    Ok(())
}

/// Runs the sync job a message names. The job's ownership lives in PostgreSQL (RUNNING,
/// last progress), so the message is acknowledged at once: a long run is never delivered
/// twice, and a worker that dies leaves a RUNNING job that a scheduler takes over once it
/// stops making progress. The message carries its claim's time: only the first delivery
/// of a claim runs the job (a publish repeated after a lost confirm does not run it twice).
#[tracing::instrument(name = "dispatched_job", level = "error", skip_all, fields(tenant_id = delivery.message.tenant_id.get(), job_id = delivery.message.job_id.map(|id| id.get()), provider = %delivery.message.provider))]
async fn run_job(
    pool: &PgPool,
    (reach, embedding): (&Reach, &Embedding),
    broker: &Broker,
    delivery: Delivery,
    timing: super::scheduler::Timing,
) -> anyhow::Result<()> {
    let message = delivery.message.clone();
    let (job, claimed_at) = match (&message.work, message.job_id) {
        (Work::SyncJob { claimed_at }, Some(job_id)) => {
            let jobs = jobs::for_run(
                pool,
                message.tenant_id,
                message.provider,
                Some(message.integration_id),
            )
            .await?;
            (jobs.into_iter().find(|job| job.id == job_id), *claimed_at)
        }
        _ => (None, None),
    };
    let Some(job) = job else {
        delivery
            .reject("not a sync job of this database", false)
            .await?;
        return Ok(());
    };
    let (tenant_id, job_id) = (message.tenant_id, job.id);
    if let Some(claimed_at) = claimed_at {
        if !jobs::take_dispatched(pool, tenant_id, job_id, claimed_at).await? {
            tracing::info!(
                "dispatched run already taken (a repeated delivery, or taken over); skipped"
            );
            delivery.ack().await?;
            return Ok(());
        }
    }
    delivery.ack().await?;
    super::scheduler::run_claimed(
        pool,
        (reach, embedding, Some(broker)),
        (message.tenant_id, &job),
        timing,
    )
    .await
}
