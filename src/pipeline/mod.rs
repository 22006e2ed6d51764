//! Provider-free stage machinery: the sync runner, hand-off from extraction to transform,
//! the transform and load stages, start-up recovery, step reports. What differs per source
//! comes in through [`source::Source`].

pub mod embed_follow;
pub mod embed_run;
pub mod embed_stage;
pub mod handoff;
pub mod progress;
pub mod raw_retention;
pub mod recovery;
pub mod source;
pub mod sync;
pub mod transform_stage;
pub mod webhooks;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::connectors::http::ConnectorError;
use crate::domain::{IntegrationRef, Provider, RawId, Scope, Stage, StageState};
use crate::queue::{Publisher, QueueError, StageMessage, Work, MESSAGE_VERSION};
use crate::store::load_batches::LoadRows;
use crate::store::raw::RawRecord;
use crate::store::{jobs, StoreError};
use handoff::StagePublisher;

/// How far before the last sync an incremental run starts again, so that changes made
/// while the previous run was reading are not missed (JQL has minute precision; clocks
/// of sources and workers differ).
pub const INCREMENTAL_OVERLAP: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Why a sync step stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transform(#[from] transform_stage::TransformError),
    #[error("the stage on the other side of the queue stopped: {0}")]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Embed(#[from] embed_stage::EmbedStageError),
}

/// Counts and time spent per stage for one step of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StepReport {
    pub extracted: u64,
    pub transformed: u64,
    pub loaded: u64,
    pub failed: u64,
    /// Records embedded (their text new or changed) for search.
    pub embedded: u64,
    /// Waiting for the source and storing its answers raw.
    pub extract_seconds: f64,
    pub transform_seconds: f64,
    pub load_seconds: f64,
}

impl StepReport {
    /// `count` items extracted, transformed and loaded alike (no failures, no timings).
    pub fn passed_through(count: u64) -> Self {
        StepReport {
            extracted: count,
            transformed: count,
            loaded: count,
            ..StepReport::default()
        }
    }
}

impl std::ops::AddAssign for StepReport {
    fn add_assign(&mut self, other: StepReport) {
        self.extracted += other.extracted;
        self.transformed += other.transformed;
        self.loaded += other.loaded;
        self.failed += other.failed;
        self.embedded += other.embedded;
        self.extract_seconds += other.extract_seconds;
        self.transform_seconds += other.transform_seconds;
        self.load_seconds += other.load_seconds;
    }
}

/// True when a load crossed 1,000 rows or a doubling after that: the moments the tables'
/// planner statistics go stale enough to matter (upserts and raw reads join on them by
/// external id; with statistics from when a table was empty the planner scans it whole
/// for every batch, so a first large sync slows down as it goes).
pub(crate) fn statistics_are_due(before: u64, after: u64) -> bool {
    const FIRST: u64 = 1_000;
    after >= FIRST && (before < FIRST || (before / FIRST).ilog2() != (after / FIRST).ilog2())
}

/// Marks a step's extract, transform and load stages `state` on the run's job (runs without
/// a job, such as reprocessing, record nothing).
pub(crate) async fn set_step_state(
    pool: &PgPool,
    scope: Scope,
    step: &str,
    state: StageState,
) -> Result<(), StoreError> {
    for stage in [Stage::Extraction, Stage::Transform, Stage::Load] {
        set_stage_state(pool, scope, step, stage, state).await?;
    }
    Ok(())
}

/// Marks one stage of a step `state` on the run's job.
pub(crate) async fn set_stage_state(
    pool: &PgPool,
    scope: Scope,
    step: &str,
    stage: Stage,
    state: StageState,
) -> Result<(), StoreError> {
    match scope.job_id {
        Some(job) => jobs::set_stage(pool, scope.tenant_id, job, step, stage, state).await,
        None => Ok(()),
    }
}

/// Marks a step's extraction finished on the run's job, while its transform and load may
/// still run.
pub(crate) async fn set_extracted(
    pool: &PgPool,
    scope: Scope,
    step: &str,
) -> Result<(), StoreError> {
    set_stage_state(pool, scope, step, Stage::Extraction, StageState::Finished).await
}

/// Loads transformed rows here, timing it into the report.
pub(crate) async fn load_here(
    pool: &PgPool,
    ids: IntegrationRef,
    rows: LoadRows,
    mut report: StepReport,
) -> Result<StepReport, StoreError> {
    let clock = std::time::Instant::now();
    rows.load(pool, ids).await?;
    report.load_seconds = clock.elapsed().as_secs_f64();
    Ok(report)
}

/// Loads in a task of their own, one at a time, so the caller transforms the next batch
/// while the database loads the one before.
pub(crate) struct BackgroundLoad {
    pool: PgPool,
    ids: IntegrationRef,
    running: Option<tokio::task::JoinHandle<Result<StepReport, StoreError>>>,
    done: StepReport,
}

impl BackgroundLoad {
    pub fn new(pool: &PgPool, ids: IntegrationRef) -> Self {
        BackgroundLoad {
            pool: pool.clone(),
            ids,
            running: None,
            done: StepReport::default(),
        }
    }

    /// Starts loading `rows` once the load before has ended (its error, if any, is
    /// returned instead).
    pub async fn load(&mut self, rows: LoadRows, report: StepReport) -> Result<(), StoreError> {
        self.wait().await?;
        let (pool, ids) = (self.pool.clone(), self.ids);
        self.running = Some(tokio::spawn(async move {
            load_here(&pool, ids, rows, report).await
        }));
        Ok(())
    }

    /// Waits for the last load; returns the reports of every load summed.
    pub async fn finish(mut self) -> Result<StepReport, StoreError> {
        self.wait().await?;
        Ok(self.done)
    }

    async fn wait(&mut self) -> Result<(), StoreError> {
        if let Some(running) = self.running.take() {
            // A load that panicked panics here; nothing else ends the task early.
            let report = running
                .await
                .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))?;
            self.done += report;
        }
        Ok(())
    }
}

/// A transform message for raw rows just stored (`first_item`/`last_item` are set by
/// whoever publishes it).
pub(crate) fn stage_message(
    scope: Scope,
    (provider, kind): (Provider, &str),
    since: Option<DateTime<Utc>>,
    raw_data_ids: Vec<RawId>,
) -> StageMessage {
    StageMessage {
        version: MESSAGE_VERSION,
        tenant_id: scope.tenant_id,
        integration_id: scope.integration_id,
        job_id: scope.job_id,
        kind: kind.to_owned(),
        provider,
        last_sync_date: since,
        first_item: false,
        last_item: false,
        last_job_item: false,
        work: Work::Transform { raw_data_ids },
    }
}

/// Publishes a step's transform messages as they come, the first marked `first_item`; an
/// extractor that learns it is done only after its last page ends with an empty
/// `last_item` marker.
pub(crate) struct Outbox {
    publisher: StagePublisher,
    template: Option<StageMessage>,
}

impl Outbox {
    pub fn new(publisher: StagePublisher) -> Self {
        Outbox {
            publisher,
            template: None,
        }
    }

    pub async fn push(&mut self, message: StageMessage) -> Result<(), QueueError> {
        self.push_stored(message, Vec::new()).await
    }

    /// Pushes a message about the raw rows `stored` (as stored), which a transform in this
    /// process gets in hand.
    pub async fn push_stored(
        &mut self,
        mut message: StageMessage,
        stored: Vec<RawRecord>,
    ) -> Result<(), QueueError> {
        message.first_item = self.template.is_none();
        self.template = Some(StageMessage {
            work: Work::Transform {
                raw_data_ids: Vec::new(),
            },
            ..message.clone()
        });
        self.publisher.publish_stored(message, stored).await
    }

    /// The end marker (nothing to send when nothing was).
    pub async fn finish(self) -> Result<(), QueueError> {
        match self.template {
            Some(mut marker) => {
                marker.first_item = false;
                marker.last_item = true;
                self.publisher.publish(marker).await
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_refresh_at_a_thousand_and_each_doubling() {
        assert!(!statistics_are_due(0, 999));
        assert!(statistics_are_due(900, 1_000));
        assert!(!statistics_are_due(1_000, 1_900));
        assert!(statistics_are_due(1_900, 2_000));
        assert!(!statistics_are_due(2_000, 3_900));
        assert!(statistics_are_due(3_900, 4_000));
        assert!(statistics_are_due(7_950, 8_050));
    }
}
