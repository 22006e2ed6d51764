//! A run's embedding, after its load: the records of the integration without an up-to-date
//! vector (and vectors whose record is gone) are found in PostgreSQL, sent as embed work —
//! handled here in process, or published to the tier's embedding queue for embed workers,
//! then waited for until the database says none is pending — and counted. When the
//! tenant's collection being built has nothing left pending, search switches to it.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::embed_stage::{EmbedReport, EmbedStage, EmbedStageError, Embedding};
use super::source::Catalog;
use super::{set_stage_state, PipelineError};
use crate::domain::{Provider, Scope, Stage, StageState, TenantId, Tier};
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use crate::queue::{EmbedOperation, Publisher, StageMessage, Work, MESSAGE_VERSION};
use crate::store::jobs;
use crate::store::vectors::{self, EmbedTable};
use crate::vectors::VectorStore;

/// Records per embed message: one provider batch, small enough to redo cheaply.
pub const RECORDS_PER_MESSAGE: usize = 64;

/// Tries per message in process before its records are recorded as failed.
const IN_PROCESS_ATTEMPTS: u32 = 3;

/// How often a run whose embedding happens elsewhere looks at its progress.
const POLL: Duration = Duration::from_millis(250);

/// How long a run waits on embed workers without progress before it says so.
const QUIET_WARNING: Duration = Duration::from_secs(30);

/// Where a run's embed work goes.
#[derive(Clone, Copy)]
pub enum EmbedHandoff<'a> {
    /// Handled by this run.
    InProcess(&'a Embedding),
    /// The tenant tier's embedding queue, for `worker --stage embed`.
    Broker { broker: &'a Broker, tier: Tier },
}

/// What a run's embedding did, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedCounts {
    pub report: EmbedReport,
    /// Records that failed to embed.
    pub failed: u64,
}

/// Embeds what the integration's records need in the tenant's target collection (nothing
/// when the tenant has no embedding settings), each table's `embedding` stage following
/// the work on the job; returns the counts per table.
pub async fn embed_integration(
    pool: &PgPool,
    sources: Catalog,
    (scope, provider): (Scope, Provider),
    tables: &[&'static EmbedTable],
    handoff: EmbedHandoff<'_>,
) -> Result<Vec<(&'static EmbedTable, EmbedCounts)>, PipelineError> {
    let Some(target) = vectors::target(pool, scope.tenant_id).await? else {
        return Ok(Vec::new());
    };
    let mut all = Vec::new();
    for &table in tables {
        set_stage_state(
            pool,
            scope,
            table.step,
            Stage::Embedding,
            StageState::Running,
        )
        .await?;
        let upserts = vectors::pending_upserts(
            pool,
            table,
            scope.tenant_id,
            &target.collection,
            Some(scope.integration_id),
        )
        .await?;
        let deletes =
            vectors::pending_deletes(pool, table, scope.tenant_id, &target.collection).await?;
        let upsert = (EmbedOperation::Upsert, RECORDS_PER_MESSAGE);
        let delete = (EmbedOperation::Delete, RECORDS_PER_MESSAGE);
        let messages = messages((scope, provider), table, &upserts, upsert).chain(messages(
            (scope, provider),
            table,
            &deletes,
            delete,
        ));
        let counts = match handoff {
            EmbedHandoff::InProcess(embedding) => {
                let stage = EmbedStage::new(pool, sources, embedding);
                embed_here(&stage, scope, messages).await?
            }
            EmbedHandoff::Broker { broker, tier } => {
                let publisher = broker.publisher(QueueStage::Embedding, tier);
                for message in messages {
                    publisher.publish(message).await?;
                }
                wait_for_embed(pool, scope, table, &target.collection).await?
            }
        };
        let state = match counts.failed {
            0 => StageState::Finished,
            _ => StageState::Failed,
        };
        set_stage_state(pool, scope, table.step, Stage::Embedding, state).await?;
        tracing::info!(
            table = table.table,
            embedded = counts.report.embedded,
            unchanged = counts.report.unchanged,
            deleted = counts.report.deleted,
            failed = counts.failed,
            "embedding done"
        );
        all.push((table, counts));
    }
    Ok(all)
}

/// The embed messages for `ids`, `per_message` records each.
pub(super) fn messages<'a>(
    (scope, provider): (Scope, Provider),
    table: &'static EmbedTable,
    ids: &'a [i64],
    (operation, per_message): (EmbedOperation, usize),
) -> impl Iterator<Item = StageMessage> + 'a {
    ids.chunks(per_message).map(move |chunk| StageMessage {
        version: MESSAGE_VERSION,
        tenant_id: scope.tenant_id,
        integration_id: scope.integration_id,
        job_id: scope.job_id,
        kind: table.table.to_owned(),
        provider,
        last_sync_date: None,
        first_item: false,
        last_item: false,
        last_job_item: false,
        work: Work::Embed {
            table_name: table.table.to_owned(),
            record_ids: chunk.to_vec(),
            operation,
        },
    })
}

/// Handles the messages here, one after another (the model already uses every core); a
/// message that keeps failing has its records recorded as failed and the run goes on.
pub async fn embed_here(
    stage: &EmbedStage<'_>,
    scope: Scope,
    messages: impl Iterator<Item = StageMessage>,
) -> Result<EmbedCounts, PipelineError> {
    let mut counts = EmbedCounts::default();
    let mut last_touch = Instant::now();
    for message in messages {
        match handle_with_retries(stage, &message).await {
            Ok(report) => counts.report += report,
            Err(error) => {
                let text = error.to_string();
                tracing::warn!(error = %text, "embedding failed; records recorded as failed");
                stage.record_failure(&message, &text).await?;
                if let Work::Embed { record_ids, .. } = &message.work {
                    counts.failed += record_ids.len() as u64;
                }
            }
        }
        if let (Some(job), true) = (scope.job_id, last_touch.elapsed() > Duration::from_secs(5)) {
            jobs::touch(stage.pool(), scope.tenant_id, job).await?;
            last_touch = Instant::now();
        }
    }
    Ok(counts)
}

async fn handle_with_retries(
    stage: &EmbedStage<'_>,
    message: &StageMessage,
) -> Result<EmbedReport, EmbedStageError> {
    let mut attempt = 1;
    loop {
        match stage.handle(message).await {
            Ok(report) => return Ok(report),
            Err(error) if error.is_transient() && attempt < IN_PROCESS_ATTEMPTS => {
                tracing::warn!(attempt, %error, "embedding failed; trying again");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Waits until nothing of `table` is pending for the integration in `collection`; counts
/// what the workers embedded (records with a current vector) and what failed.
async fn wait_for_embed(
    pool: &PgPool,
    scope: Scope,
    table: &EmbedTable,
    collection: &str,
) -> Result<EmbedCounts, PipelineError> {
    let start = vectors::counts(
        pool,
        table,
        scope.tenant_id,
        collection,
        Some(scope.integration_id),
    )
    .await?;
    let mut last = None;
    let mut unchanged_since = Instant::now();
    loop {
        let now = vectors::counts(
            pool,
            table,
            scope.tenant_id,
            collection,
            Some(scope.integration_id),
        )
        .await?;
        let deletes = vectors::pending_deletes(pool, table, scope.tenant_id, collection)
            .await?
            .len();
        if last.as_ref() != Some(&now) {
            if let Some(job) = scope.job_id {
                jobs::touch(pool, scope.tenant_id, job).await?;
            }
            last = Some(now.clone());
            unchanged_since = Instant::now();
        } else if unchanged_since.elapsed() >= QUIET_WARNING {
            tracing::warn!(
                pending = now.pending,
                "no embedding progress for a while: is `worker --stage embed` running for this tenant's tier?"
            );
            unchanged_since = Instant::now();
        }
        if now.pending == 0 && deletes == 0 {
            return Ok(EmbedCounts {
                report: EmbedReport {
                    embedded: now.embedded.saturating_sub(start.embedded).unsigned_abs(),
                    ..EmbedReport::default()
                },
                failed: now.failed.unsigned_abs(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Switches search to the tenant's collection being built once nothing of any table is
/// pending or failed there; drops the collection it replaced. Returns whether it switched.
pub async fn activate_when_complete(
    pool: &PgPool,
    sources: Catalog,
    store: &dyn VectorStore,
    tenant: TenantId,
) -> Result<bool, PipelineError> {
    let Some(target) = vectors::target(pool, tenant).await? else {
        return Ok(false);
    };
    if target.state != "building" {
        return Ok(false);
    }
    for table in sources.embed_tables() {
        let counts = vectors::counts(pool, table, tenant, &target.collection, None).await?;
        if counts.pending > 0 || counts.failed > 0 {
            return Ok(false);
        }
    }
    match vectors::activate(pool, tenant, &target.collection).await? {
        Some(replaced) => {
            if let Some(old) = replaced {
                if let Err(error) = store.drop_collection(&old).await {
                    tracing::warn!(collection = old, %error, "the replaced collection was not dropped");
                }
            }
            tracing::info!(
                tenant_id = tenant.get(),
                collection = target.collection,
                "search now reads the new collection"
            );
            Ok(true)
        }
        None => Ok(false),
    }
}
