//! How a step's extraction hands its raw rows to the transform stage: over an in-process
//! queue to a consumer in this run, or over RabbitMQ to workers anywhere — then waiting
//! until the database says every row the step stored is transformed (or failed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;

use super::source::Catalog;
use super::transform_stage::TransformStage;
use super::{PipelineError, StepReport};
use crate::domain::{RawId, Scope, Tier};
use crate::queue::memory::{self, MemoryPublisher};
use crate::queue::rabbitmq::{Broker, RabbitPublisher};
use crate::queue::topology::QueueStage;
use crate::queue::{Consumer, Publisher, QueueError, StageMessage};
use crate::store::jobs;
use crate::store::raw::{self, RawRecord};

/// Pages of transform work stored but not yet loaded before an in-process extraction waits.
const PAGES_IN_FLIGHT: usize = 4;

/// How long a run waits on workers without any progress before it says so.
const QUIET_WARNING: Duration = Duration::from_secs(30);

/// In-process consumers working side by side.
const IN_PROCESS_CONSUMERS: usize = 3;

/// Tries per message in process before the run fails.
const IN_PROCESS_ATTEMPTS: u32 = 3;

/// How often a run whose transform happens elsewhere looks at its progress.
const POLL: Duration = Duration::from_millis(250);

/// Where transform work goes.
#[derive(Clone, Copy)]
pub enum Handoff<'a> {
    /// Consumers in this run, over a bounded in-process queue; `sources` transform.
    InProcess { sources: Catalog },
    /// The tenant tier's transform queue on RabbitMQ, for workers.
    Broker { broker: &'a Broker, tier: Tier },
}

/// A publisher of either backend, counting the entities its messages carry: what the
/// extraction has stored so far, for the step's progress.
#[derive(Clone)]
pub struct StagePublisher {
    backend: Backend,
    extracted: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Backend {
    Memory(MemoryPublisher, Arc<InHand>),
    Rabbit(RabbitPublisher),
}

/// Raw rows an in-process extraction stored, held for this run's transform (which then
/// need not read them back from the database) until the message naming them is handled.
/// At most the queue's messages and those being handled are held.
#[derive(Default)]
struct InHand(Mutex<HashMap<RawId, RawRecord>>);

impl InHand {
    fn hold(&self, rows: Vec<RawRecord>) {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.extend(rows.into_iter().map(|row| (row.id, row)));
    }

    /// The held rows among `ids`, no longer held.
    fn take(&self, ids: &[RawId]) -> Vec<RawRecord> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ids.iter().filter_map(|id| held.remove(id)).collect()
    }
}

impl StagePublisher {
    /// Publishes `message` about the raw rows `stored` (as [`raw::insert_returning`] gave
    /// them): a transform in this process gets them in hand; workers elsewhere read them.
    pub async fn publish_stored(
        &self,
        message: StageMessage,
        stored: Vec<RawRecord>,
    ) -> Result<(), QueueError> {
        if let Backend::Memory(_, in_hand) = &self.backend {
            in_hand.hold(stored);
        }
        self.publish(message).await
    }
}

impl Publisher for StagePublisher {
    async fn publish(&self, message: StageMessage) -> Result<(), QueueError> {
        let entities = message.raw_data_ids().len() as u64;
        match &self.backend {
            Backend::Memory(publisher, _) => publisher.publish(message).await?,
            Backend::Rabbit(publisher) => publisher.publish(message).await?,
        }
        self.extracted.fetch_add(entities, Ordering::Relaxed);
        Ok(())
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
        // Progress shows what extraction stored so far beside what was loaded.
        let extracted = Arc::new(AtomicU64::new(0));
        let progress = |report: &StepReport| {
            progress(&StepReport {
                extracted: extracted.load(Ordering::Relaxed),
                ..*report
            })
        };
        let publisher = |backend| StagePublisher {
            backend,
            extracted: Arc::clone(&extracted),
        };
        match self {
            Handoff::InProcess { sources } => {
                let (memory, consumer) = memory::queue(PAGES_IN_FLIGHT);
                let in_hand = Arc::new(InHand::default());
                tokio::try_join!(
                    extract(publisher(Backend::Memory(memory, Arc::clone(&in_hand)))),
                    transform_here(pool, sources, consumer, &in_hand, &progress)
                )
            }
            Handoff::Broker { broker, tier } => {
                let watermark = raw::newest_id(pool).await?;
                let rabbit = broker.publisher(QueueStage::Transform, tier);
                let done = extract(publisher(Backend::Rabbit(rabbit))).await?;
                let report = wait_for_transform(pool, scope, watermark, kinds, &progress).await?;
                Ok((done, report))
            }
        }
    }
}

/// The in-process consumers: a few take messages off the queue side by side (one alone
/// leaves the database waiting on the client between statements), each message
/// transformed (from the rows the extraction left in hand) and loaded, then acknowledged.
async fn transform_here(
    pool: &PgPool,
    sources: Catalog,
    consumer: impl Consumer + Send,
    in_hand: &InHand,
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Result<StepReport, PipelineError> {
    let stage = TransformStage::new(pool, sources);
    let consumer = tokio::sync::Mutex::new(consumer);
    let all = std::sync::Mutex::new(StepReport::default());
    let consume = async || -> Result<(), PipelineError> {
        loop {
            let delivery = consumer.lock().await.next().await;
            let Some(delivery) = delivery else {
                return Ok(());
            };
            let held = in_hand.take(delivery.message.raw_data_ids());
            let done = handle_with_retries(&stage, &delivery.message, held).await?;
            let snapshot = {
                let mut all = all.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                *all += StepReport {
                    extracted: 0,
                    ..done
                };
                *all
            };
            delivery.ack().await?;
            progress(&snapshot);
        }
    };
    let consumers = (0..IN_PROCESS_CONSUMERS).map(|_| consume());
    futures_util::future::try_join_all(consumers).await?;
    Ok(all
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// Transforms a message, trying again after a pause when the database failed in a way
/// that may pass (side-by-side consumers can, rarely, deadlock on rows two pages share);
/// `in_hand` serves the first try, later ones read the rows from the database.
async fn handle_with_retries(
    stage: &TransformStage<'_>,
    message: &StageMessage,
    mut in_hand: Vec<RawRecord>,
) -> Result<StepReport, PipelineError> {
    let mut attempt = 1;
    loop {
        match stage.handle(message, std::mem::take(&mut in_hand)).await {
            Ok(done) => return Ok(done),
            Err(error) if error.is_transient() && attempt < IN_PROCESS_ATTEMPTS => {
                tracing::warn!(attempt, %error, "transform failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Waits until no raw row of `kinds` stored by this step (ids above `watermark`) is still
/// pending; the report counts what the workers processed and what failed.
async fn wait_for_transform(
    pool: &PgPool,
    scope: Scope,
    watermark: RawId,
    kinds: &[&str],
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Result<StepReport, PipelineError> {
    let mut last = None;
    let mut unchanged_since = std::time::Instant::now();
    loop {
        let counts = raw::status_counts(pool, scope.integration(), watermark, kinds).await?;
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
            unchanged_since = std::time::Instant::now();
        } else if unchanged_since.elapsed() >= QUIET_WARNING {
            tracing::warn!(
                pending = counts.pending,
                "no transform progress for a while: are `worker --stage transform` and `--stage load` running for this tenant's tier?"
            );
            unchanged_since = std::time::Instant::now();
        }
        if counts.pending == 0 {
            return Ok(report);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(id: i64) -> RawRecord {
        RawRecord {
            id: RawId(id),
            kind: "jira_issue".into(),
            external_id: Some(id.to_string()),
            raw_data: json!({"id": id}),
            extraction_metadata: json!({}),
        }
    }

    #[test]
    fn held_rows_are_handed_out_once_and_only_to_the_message_naming_them() {
        let in_hand = InHand::default();
        in_hand.hold(vec![row(1), row(2), row(3)]);
        let taken = in_hand.take(&[RawId(3), RawId(1), RawId(7)]);
        assert_eq!(
            taken.iter().map(|r| r.id).collect::<Vec<_>>(),
            [RawId(3), RawId(1)]
        );
        assert!(
            in_hand.take(&[RawId(1), RawId(3)]).is_empty(),
            "handed out twice"
        );
        assert_eq!(in_hand.take(&[RawId(2)]), vec![row(2)]);
    }
}
