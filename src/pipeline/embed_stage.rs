//! The embed stage, one message at a time, whoever delivered it (a run in this process, or
//! RabbitMQ to an embed worker): reads the named records from PostgreSQL, builds their
//! text, skips embedding what is already embedded or whose text hash is unchanged (only its
//! payload is rewritten, for the fields search filters on), embeds the rest in one batch,
//! writes the points (dense and lexical vectors), then records them in the bridge. Point ids are
//! deterministic, so a message handled twice overwrites what it wrote the first time.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgPool;

use super::source::Catalog;
use crate::domain::TenantId;
use crate::embedding::settings::Embedders;
use crate::embedding::text::{text_hash, Document};
use crate::embedding::EmbedError;
use crate::queue::{EmbedOperation, StageMessage, Work};
use crate::store::vectors::{self, CollectionSettings, EmbedTable, Embedded};
use crate::store::StoreError;
use crate::vectors::{point_id, Payload, Point, VectorError, VectorStore};

/// Where vectors are made and kept: built once per process from the configuration.
pub struct Embedding {
    pub store: Arc<dyn VectorStore>,
    pub embedders: Embedders,
}

/// Why an embed message could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum EmbedStageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vectors(#[from] VectorError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("no source embeds table '{0}'")]
    UnknownTable(String),
    #[error("not embed work")]
    NotEmbedWork,
}

impl EmbedStageError {
    /// Whether handling the message again may help: the database, the vector store or the
    /// provider may come back; a local model that cannot load, or a table nobody embeds,
    /// will not.
    pub fn is_transient(&self) -> bool {
        match self {
            EmbedStageError::Store(_) | EmbedStageError::Vectors(_) => true,
            EmbedStageError::Embed(error) => matches!(
                error,
                EmbedError::Provider { .. } | EmbedError::Unreachable { .. }
            ),
            EmbedStageError::UnknownTable(_) | EmbedStageError::NotEmbedWork => false,
        }
    }
}

/// What one message did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedReport {
    /// Records embedded and written.
    pub embedded: u64,
    /// Records whose text was unchanged (only the bridge moved on) or already up to date.
    pub unchanged: u64,
    /// Vectors removed.
    pub deleted: u64,
}

impl std::ops::AddAssign for EmbedReport {
    fn add_assign(&mut self, other: EmbedReport) {
        self.embedded += other.embedded;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
    }
}

/// Handles embed messages for any tenant.
pub struct EmbedStage<'a> {
    pool: &'a PgPool,
    sources: Catalog,
    embedding: &'a Embedding,
}

impl<'a> EmbedStage<'a> {
    pub fn new(pool: &'a PgPool, sources: Catalog, embedding: &'a Embedding) -> Self {
        EmbedStage {
            pool,
            sources,
            embedding,
        }
    }

    pub fn pool(&self) -> &'a PgPool {
        self.pool
    }

    /// The table and ids a message names.
    fn work<'m>(
        &self,
        message: &'m StageMessage,
    ) -> Result<(&'static EmbedTable, &'m [i64], EmbedOperation), EmbedStageError> {
        let Work::Embed {
            table_name,
            record_ids,
            operation,
        } = &message.work
        else {
            return Err(EmbedStageError::NotEmbedWork);
        };
        let table = self
            .sources
            .embed_table(table_name)
            .ok_or_else(|| EmbedStageError::UnknownTable(table_name.clone()))?;
        Ok((table, record_ids, *operation))
    }

    /// Embeds or removes the message's records in the tenant's target collection (a tenant
    /// without embedding settings: nothing to do).
    pub async fn handle(&self, message: &StageMessage) -> Result<EmbedReport, EmbedStageError> {
        let (table, ids, operation) = self.work(message)?;
        let Some(target) = vectors::target(self.pool, message.tenant_id).await? else {
            return Ok(EmbedReport::default());
        };
        match operation {
            EmbedOperation::Upsert => self.upsert(message.tenant_id, table, &target, ids).await,
            EmbedOperation::Delete => self.delete(message.tenant_id, table, &target, ids).await,
        }
    }

    /// Records that the message's records failed to embed with `error` (they stay failed
    /// until they change again or are rebuilt).
    pub async fn record_failure(
        &self,
        message: &StageMessage,
        error: &str,
    ) -> Result<(), StoreError> {
        let Ok((table, ids, EmbedOperation::Upsert)) = self.work(message) else {
            return Ok(());
        };
        let Some(target) = vectors::target(self.pool, message.tenant_id).await? else {
            return Ok(());
        };
        vectors::record_failures(
            self.pool,
            message.tenant_id,
            (table.table, &target.collection),
            message.job_id,
            ids,
            error,
        )
        .await
    }

    async fn upsert(
        &self,
        tenant: TenantId,
        table: &'static EmbedTable,
        target: &CollectionSettings,
        ids: &[i64],
    ) -> Result<EmbedReport, EmbedStageError> {
        let collection = target.collection.as_str();
        let documents = vectors::documents(self.pool, table, tenant, ids).await?;
        let known: HashMap<i64, Option<String>> =
            vectors::known_hashes(self.pool, tenant, table.table, collection, ids)
                .await?
                .into_iter()
                .collect();
        let mut unchanged = Vec::new();
        let mut changed = Vec::new();
        let mut payloads = Vec::new();
        for document in documents {
            let text = document.text();
            let hash = text_hash(&text);
            let record = Embedded {
                record_id: document.record_id,
                point_id: point_id(tenant, table.table, document.record_id),
                text_hash: hash,
                row_updated_at: document.row_updated_at,
            };
            match known.get(&document.record_id) {
                Some(Some(old)) if *old == record.text_hash => {
                    payloads.push((record.point_id, payload_of(tenant, table, &document)));
                    unchanged.push(record);
                }
                _ => changed.push((record, text, document)),
            }
        }
        self.embedding
            .store
            .set_payloads(collection, payloads)
            .await?;
        let mut report = EmbedReport {
            unchanged: unchanged.len() as u64,
            ..EmbedReport::default()
        };
        let model = target.model.as_str();
        if !changed.is_empty() {
            let embedder = self.embedding.embedders.for_collection(target).await?;
            let texts: Vec<String> = changed.iter().map(|(_, text, _)| text.clone()).collect();
            let clock = std::time::Instant::now();
            let vectors = embedder.embed(&texts).await?;
            crate::telemetry::metrics::embed_batch(texts.len(), clock.elapsed());
            if vectors.len() != texts.len() {
                return Err(EmbedError::Count {
                    sent: texts.len(),
                    got: vectors.len(),
                }
                .into());
            }
            let dimensions = vectors.first().map(Vec::len).unwrap_or_default();
            self.embedding
                .store
                .ensure_collection(collection, dimensions)
                .await?;
            let points = changed
                .iter()
                .zip(vectors)
                .map(|((record, _, document), vector)| Point {
                    id: record.point_id,
                    vector,
                    terms: document.terms(),
                    payload: payload_of(tenant, table, document),
                })
                .collect();
            self.embedding.store.upsert(collection, points).await?;
            report.embedded = changed.len() as u64;
        }
        let records: Vec<Embedded> = changed
            .into_iter()
            .map(|(record, _, _)| record)
            .chain(unchanged)
            .collect();
        vectors::record(
            self.pool,
            tenant,
            (table.table, collection, model),
            &records,
        )
        .await?;
        Ok(report)
    }

    async fn delete(
        &self,
        tenant: TenantId,
        table: &'static EmbedTable,
        target: &CollectionSettings,
        ids: &[i64],
    ) -> Result<EmbedReport, EmbedStageError> {
        // Only records that are really gone: one restored meanwhile keeps its vector.
        let live: Vec<i64> = vectors::documents(self.pool, table, tenant, ids)
            .await?
            .iter()
            .map(|d| d.record_id)
            .collect();
        let gone: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !live.contains(id))
            .collect();
        if gone.is_empty() {
            return Ok(EmbedReport::default());
        }
        let points = gone
            .iter()
            .map(|&id| point_id(tenant, table.table, id))
            .collect();
        self.embedding
            .store
            .delete(&target.collection, points)
            .await?;
        vectors::forget(self.pool, tenant, (table.table, &target.collection), &gone).await?;
        Ok(EmbedReport {
            deleted: gone.len() as u64,
            ..EmbedReport::default()
        })
    }
}

/// What a record's point carries besides its vectors.
fn payload_of(tenant: TenantId, table: &'static EmbedTable, document: &Document) -> Payload {
    Payload {
        tenant_id: tenant.get(),
        source_type: document.source_type.clone(),
        table_name: table.table,
        record_id: document.record_id,
        scope: document.scope.clone(),
        kind: document.kind.clone(),
        status: document.status.clone(),
        status_category: document.status_category.clone(),
        assignee: document.assignee.clone(),
        updated: document.updated,
    }
}
