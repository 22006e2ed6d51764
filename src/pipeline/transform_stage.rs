//! The transform stage, one message at a time, whoever delivered it (a run's in-process
//! queue, or RabbitMQ to a worker): reads the message's raw rows and transforms them through
//! the provider's loader into load work — loaded right here in process, or saved for a load
//! worker — and refreshes planner statistics as tables grow.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;

use super::github_load::GithubLoader;
use super::jira_load::JiraLoader;
use super::{github, jira, statistics_are_due, StepReport};
use crate::domain::Provider;
use crate::queue::StageMessage;
use crate::store::load_batches::LoadRows;
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("no transform for {provider} messages of type '{kind}'")]
    UnknownKind { provider: Provider, kind: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransformError {
    /// Whether delivering the message again may help (a database hiccup may pass; a kind
    /// nobody handles will not).
    pub fn is_transient(&self) -> bool {
        matches!(self, TransformError::Store(_))
    }
}

/// Transforms messages for any tenant; counts rows loaded to refresh statistics in time.
pub struct TransformStage<'a> {
    pool: &'a PgPool,
    loaded: AtomicU64,
}

impl<'a> TransformStage<'a> {
    pub fn new(pool: &'a PgPool) -> Self {
        TransformStage {
            pool,
            loaded: AtomicU64::new(0),
        }
    }

    /// Transforms and loads a message's raw rows here.
    pub async fn handle(&self, message: &StageMessage) -> Result<StepReport, TransformError> {
        let (rows, report) = self.transform(message).await?;
        let ids = (message.tenant_id, message.integration_id);
        let report = super::load_here(self.pool, ids, rows, report).await?;
        self.loaded(message.provider, report.loaded).await?;
        Ok(report)
    }

    /// Transforms a message's raw rows into load work (malformed ones are marked failed).
    pub async fn transform(
        &self,
        message: &StageMessage,
    ) -> Result<(LoadRows, StepReport), TransformError> {
        let ids = &message.raw_data_ids;
        if ids.is_empty() {
            return Ok((LoadRows::default(), StepReport::default()));
        }
        let (pool, tenant_id, integration_id, job_id) = (
            self.pool,
            message.tenant_id,
            message.integration_id,
            message.job_id,
        );
        Ok(match (message.provider, message.kind.as_str()) {
            (Provider::Jira, jira::kinds::ISSUE) => {
                let loader = JiraLoader {
                    pool,
                    tenant_id,
                    integration_id,
                    job_id,
                };
                let lookups = loader.issue_lookups().await?;
                loader.transform_issues_by_raw_ids(ids, &lookups).await?
            }
            (Provider::Github, kind) => {
                let loader = GithubLoader {
                    pool,
                    tenant_id,
                    integration_id,
                    job_id,
                };
                match kind {
                    github::kinds::PULL => loader.transform_pulls(ids).await?,
                    github::kinds::REVIEW_COMMENT | github::kinds::ISSUE_COMMENT => {
                        loader.transform_comments(ids).await?
                    }
                    _ => return Err(self.unknown(message)),
                }
            }
            _ => return Err(self.unknown(message)),
        })
    }

    /// Counts `rows` loaded for `provider`, refreshing planner statistics when tables have
    /// grown enough.
    pub async fn loaded(&self, provider: Provider, rows: u64) -> Result<(), StoreError> {
        let before = self.loaded.fetch_add(rows, Ordering::Relaxed);
        if statistics_are_due(before, before + rows) {
            match provider {
                Provider::Jira => store::jira::analyze_growing_tables(self.pool).await?,
                Provider::Github => store::github::analyze_growing_tables(self.pool).await?,
            }
        }
        Ok(())
    }

    fn unknown(&self, message: &StageMessage) -> TransformError {
        TransformError::UnknownKind {
            provider: message.provider,
            kind: message.kind.clone(),
        }
    }
}
