//! How a step's extraction hands its raw rows to the transform stage: over an in-process
//! queue to a consumer in this run, or over RabbitMQ to workers anywhere — then waiting
//! until the database says every row the step stored is transformed (or failed).

use std::time::Duration;

use sqlx::PgPool;

use super::transform_stage::TransformStage;
use super::{PipelineError, StepReport};
use crate::domain::Tier;
use crate::queue::memory::{self, MemoryPublisher};
use crate::queue::rabbitmq::{Broker, RabbitPublisher};
use crate::queue::topology::QueueStage;
use crate::queue::{Consumer, Publisher, QueueError, StageMessage};
use crate::store::jobs;
use crate::store::raw::{self, Scope};

/// Pages of transform work stored but not yet loaded before an in-process extraction waits.
const PAGES_IN_FLIGHT: usize = 4;

/// How often a run whose transform happens elsewhere looks at its progress.
const POLL: Duration = Duration::from_millis(250);

/// Where transform work goes.
#[derive(Clone, Copy)]
pub enum Handoff<'a> {
    /// A consumer in this run, over a bounded in-process queue.
    InProcess,
    /// The tenant tier's transform queue on RabbitMQ, for workers.
    Broker { broker: &'a Broker, tier: Tier },
}

/// A publisher of either backend.
#[derive(Clone)]
pub enum StagePublisher {
    Memory(MemoryPublisher),
    Rabbit(RabbitPublisher),
}

impl Publisher for StagePublisher {
    async fn publish(&self, message: StageMessage) -> Result<(), QueueError> {
        match self {
            StagePublisher::Memory(publisher) => publisher.publish(message).await,
            StagePublisher::Rabbit(publisher) => publisher.publish(message).await,
        }
    }
}

impl Handoff<'_> {
    /// Runs `extract` with a publisher to the transform stage, and the transform of all it
    /// publishes; returns extract's result and the transform report (`kinds`: the raw row
    /// kinds the messages carry).
    pub async fn run<T>(
        self,
        pool: &PgPool,
        scope: Scope,
        kinds: &[&str],
        extract: impl AsyncFnOnce(StagePublisher) -> Result<T, PipelineError>,
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<(T, StepReport), PipelineError> {
        match self {
            Handoff::InProcess => {
                let (publisher, consumer) = memory::queue(PAGES_IN_FLIGHT);
                tokio::try_join!(
                    extract(StagePublisher::Memory(publisher)),
                    transform_here(pool, consumer, progress)
                )
            }
            Handoff::Broker { broker, tier } => {
                let watermark = raw::newest_id(pool).await?;
                let publisher = broker.publisher(QueueStage::Transform, tier);
                let extracted = extract(StagePublisher::Rabbit(publisher)).await?;
                let report = wait_for_transform(pool, scope, watermark, kinds, progress).await?;
                Ok((extracted, report))
            }
        }
    }
}

/// The in-process consumer: each message transformed and loaded, then acknowledged.
async fn transform_here(
    pool: &PgPool,
    mut consumer: impl Consumer,
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Result<StepReport, PipelineError> {
    let stage = TransformStage::new(pool);
    let mut all = StepReport::default();
    while let Some(delivery) = consumer.next().await {
        let done = stage.handle(&delivery.message).await?;
        all += StepReport {
            extracted: 0,
            ..done
        };
        delivery.ack().await?;
        progress(&all);
    }
    Ok(all)
}

/// Waits until no raw row of `kinds` stored by this step (ids above `watermark`) is still
/// pending; the report counts what the workers processed and what failed.
async fn wait_for_transform(
    pool: &PgPool,
    scope: Scope,
    watermark: i64,
    kinds: &[&str],
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Result<StepReport, PipelineError> {
    let mut last = None;
    loop {
        let counts = raw::status_counts(
            pool,
            (scope.tenant_id, scope.integration_id),
            watermark,
            kinds,
        )
        .await?;
        let report = StepReport {
            transformed: counts.processed,
            loaded: counts.processed,
            failed: counts.failed,
            ..StepReport::default()
        };
        if last != Some(counts) {
            progress(&report);
            if let Some(job) = scope.job_id {
                jobs::touch(pool, scope.tenant_id, job).await?;
            }
            last = Some(counts);
        }
        if counts.pending == 0 {
            return Ok(report);
        }
        tokio::time::sleep(POLL).await;
    }
}
