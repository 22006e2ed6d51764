//! The transform stage, one message at a time, whoever delivered it (a run's in-process
//! queue, or RabbitMQ to a worker): the message's source transforms its raw rows into load
//! work — loaded right here in process, or saved for a load worker — and planner statistics
//! are refreshed as tables grow.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;

use super::source::Catalog;
use super::{statistics_are_due, StepReport};
use crate::domain::{IntegrationRef, LoadBatchId, Provider};
use crate::queue::StageMessage;
use crate::store::load_batches::{self, LoadRows, LoadTable};
use crate::store::raw::RawRecord;
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("no transform for {provider} messages of type '{kind}'")]
    UnknownKind { provider: Provider, kind: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransformError {
    /// The message's kind is not one its source transforms.
    pub fn unknown(message: &StageMessage) -> Self {
        TransformError::UnknownKind {
            provider: message.provider,
            kind: message.kind.clone(),
        }
    }

    /// Whether delivering the message again may help (a database hiccup may pass; a kind
    /// nobody handles will not).
    pub fn is_transient(&self) -> bool {
        matches!(self, TransformError::Store(_))
    }
}

/// Transforms messages for any tenant, loads saved batches; counts rows loaded to refresh
/// statistics in time.
pub struct TransformStage<'a> {
    pool: &'a PgPool,
    sources: Catalog,
    /// Every registered load table, gathered once: how a saved batch finds its upserts.
    load_tables: Vec<&'static LoadTable>,
    loaded: AtomicU64,
}

impl<'a> TransformStage<'a> {
    pub fn new(pool: &'a PgPool, sources: Catalog) -> Self {
        TransformStage {
            pool,
            sources,
            load_tables: sources.load_tables(),
            loaded: AtomicU64::new(0),
        }
    }

    /// Transforms and loads a message's raw rows here (`in_hand`: those of them this process
    /// holds as stored; the rest are read).
    pub async fn handle(
        &self,
        message: &StageMessage,
        in_hand: Vec<RawRecord>,
    ) -> Result<StepReport, TransformError> {
        let (rows, report) = self.transform(message, in_hand).await?;
        let ids = message.scope().integration();
        let report = super::load_here(self.pool, ids, rows, report).await?;
        self.loaded(message.provider, report.loaded).await?;
        Ok(report)
    }

    /// Transforms a message's raw rows into load work (malformed ones are marked failed);
    /// `in_hand`: those of the rows this process holds as stored, the rest are read.
    pub async fn transform(
        &self,
        message: &StageMessage,
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), TransformError> {
        if message.raw_data_ids().is_empty() {
            return Ok((LoadRows::default(), StepReport::default()));
        }
        let kinds = self.sources.source(message.provider).transforms();
        let Some(kind) = kinds.iter().find(|k| k.kind == message.kind) else {
            return Err(TransformError::unknown(message));
        };
        (kind.transform)(self.pool, message, in_hand).await
    }

    /// Loads saved batch `batch` of the integration (see [`load_batches::load_saved`]);
    /// None when it was loaded already.
    pub async fn load_saved(
        &self,
        ids: IntegrationRef,
        batch: LoadBatchId,
    ) -> Result<Option<u64>, StoreError> {
        load_batches::load_saved(self.pool, ids, batch, &self.load_tables).await
    }

    /// Counts `rows` loaded for `provider`, refreshing planner statistics when tables have
    /// grown enough.
    pub async fn loaded(&self, provider: Provider, rows: u64) -> Result<(), StoreError> {
        let before = self.loaded.fetch_add(rows, Ordering::Relaxed);
        if statistics_are_due(before, before + rows) {
            let tables: Vec<&str> = (self.sources.source(provider).load_tables().iter())
                .map(|table| table.name())
                .collect();
            store::analyze_indexed(self.pool, &tables).await?;
        }
        Ok(())
    }
}
